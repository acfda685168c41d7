//! Mutual-TLS integration-test harness (Linux only).
//!
//! Checks that a TLS server configured from a "gateway trust store" (`ca.pem` =
//! root + issuing CA certificates, `crl.pem` = CRL(s)) accepts or refuses a
//! client presenting a `ck.pem` (client certificate PEM followed by its
//! unencrypted PKCS#8 key PEM), in three ways:
//!
//! * [`rustls_handshake`]: in-process rustls server and client (ring provider);
//! * [`openssl_s_server_handshake`]: `openssl s_server` with `curl` as client;
//! * [`start_nginx`] + [`curl_nginx`]: a real nginx with `curl` as client.
//!
//! CRL requirements found with OpenSSL 3.0.x, nginx 1.22 and rustls 0.23
//! (see `tests/tls_selftest.rs`, which proves each statement):
//!
//! * rustls: `WebPkiClientVerifier` checks every certificate of the built
//!   chain except the trust anchor by default, and denies unknown status.
//!   Because `ca.pem` makes the *issuing* CA a trust anchor too (webpki tries
//!   anchors first), the chain is just leaf -> issuing anchor, so the issuing
//!   CA's CRL alone is enough even with the default depth. If the issuing CA
//!   were not an anchor (root-only roots, client sends leaf + issuing), the
//!   default depth fails with `UnknownRevocationStatus` unless a root CRL is
//!   added. [`rustls_handshake`] configures `only_check_end_entity_revocation()`
//!   so the result does not depend on that; [`rustls_handshake_with`] lets a
//!   test choose [`RevocationDepth::Chain`].
//! * `openssl s_server -crl_check` checks only the leaf: the issuing CA's CRL
//!   is enough. (`-crl_check_all` would need a CRL for the root as well.)
//!   `-CRL` reads only the FIRST CRL of its file, so the issuing CA's CRL
//!   must come first in `crl.pem` (pushca writes it so).
//! * nginx: `ssl_crl` turns on `X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL`,
//!   so every certificate of the chain leaf -> issuing -> root is checked,
//!   not only the leaf. With only the issuing CA's CRL every client, valid or
//!   not, gets `400 The SSL certificate error` and the error log says
//!   `client SSL certificate verify error: (3:unable to get certificate CRL)`.
//!   `crl.pem` for nginx must hold the issuing CA's CRL AND a CRL issued by
//!   the root CA, concatenated in one PEM file (either order works).
//!
//! Every server is bound to 127.0.0.1, bounded in time, started in its own
//! process group with `PR_SET_PDEATHSIG` = SIGTERM and stopped by a Drop
//! guard. PDEATHSIG fires when the *thread* that spawned the server exits
//! (even if the test process is SIGKILLed), so start a server in the test
//! thread that uses it, not in a helper thread or a shared static.
#![allow(dead_code)] // each test binary uses only part of this module

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};

/// Path of the nginx binary (Debian packages `nginx` / `nginx-light`).
pub const NGINX_BIN: &str = "/usr/sbin/nginx";

const OPENSSL_TIMEOUT: Duration = Duration::from_secs(30);
const START_TIMEOUT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const CURL_MAX_TIME_SECS: u64 = 10;
const BIND_ATTEMPTS: usize = 5;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// A throwaway TLS *server* identity for localhost: a server CA and a leaf for
/// "localhost" / 127.0.0.1 (serverAuth), made with the openssl CLI in `dir`.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// Outcome of a client handshake + one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsOutcome {
    Accepted,
    Refused(String),
}

impl TlsOutcome {
    pub fn is_accepted(&self) -> bool {
        *self == TlsOutcome::Accepted
    }
}

/// Which certificates of the client chain rustls checks against the CRLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationDepth {
    /// `only_check_end_entity_revocation()`: only the client leaf.
    EndEntity,
    /// webpki default: every certificate of the built chain except the anchor.
    Chain,
}

/// Creates (in `dir`, which is created if needed) `server-ca.pem`,
/// `server-cert.pem` and `server-key.pem`: an EC P-256 server CA and a leaf
/// with SAN `DNS:localhost, IP:127.0.0.1`, EKU serverAuth, valid for 2 days.
pub fn server_identity(dir: &Path) -> ServerIdentity {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let cnf = dir.join("server-openssl.cnf");
    write_file(
        &cnf,
        "[ req ]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [ dn ]\n\
         CN = unused\n\
         [ server_ca_ext ]\n\
         basicConstraints = critical, CA:TRUE, pathlen:0\n\
         keyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [ server_leaf_ext ]\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost, IP:127.0.0.1\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid:always\n",
    );
    let id = ServerIdentity {
        ca_pem: dir.join("server-ca.pem"),
        cert_pem: dir.join("server-cert.pem"),
        key_pem: dir.join("server-key.pem"),
    };
    let ca_key = dir.join("server-ca-key.pem");
    let csr = dir.join("server.csr");
    let (cnf_s, ca_key_s, csr_s) = (p(&cnf), p(&ca_key), p(&csr));
    let (ca_s, cert_s, key_s) = (p(&id.ca_pem), p(&id.cert_pem), p(&id.key_pem));
    let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    openssl(dir, &[&["genpkey"][..], &ec, &["-out", &ca_key_s]].concat());
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-config",
            &cnf_s,
            "-extensions",
            "server_ca_ext",
            "-key",
            &ca_key_s,
            "-subj",
            "/CN=tls-harness test server CA",
            "-days",
            "2",
            "-sha256",
            "-out",
            &ca_s,
        ],
    );
    openssl(dir, &[&["genpkey"][..], &ec, &["-out", &key_s]].concat());
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-config",
            &cnf_s,
            "-key",
            &key_s,
            "-subj",
            "/CN=localhost",
            "-out",
            &csr_s,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr_s,
            "-CA",
            &ca_s,
            "-CAkey",
            &ca_key_s,
            "-set_serial",
            "0x5e4e",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            &cnf_s,
            "-extensions",
            "server_leaf_ext",
            "-out",
            &cert_s,
        ],
    );
    id
}

/// In-process rustls server on 127.0.0.1:0 (one connection, client auth
/// mandatory, `WebPkiClientVerifier` with every certificate of `ca_pem` as a
/// root and every CRL of `crl_pem`, `only_check_end_entity_revocation()`,
/// unknown status denied) and an in-process rustls client presenting
/// `ck_pem`. Accepted iff the handshake completes and one application-data
/// round trip (`ping` -> `pong`) works on both sides.
///
/// Panics (instead of returning `Refused`) if a file cannot be read or
/// parsed, or rustls rejects the CRLs / configuration: those are test bugs.
pub fn rustls_handshake(
    server: &ServerIdentity,
    ca_pem: &Path,
    crl_pem: &Path,
    ck_pem: &Path,
) -> TlsOutcome {
    rustls_handshake_with(server, ca_pem, crl_pem, ck_pem, RevocationDepth::EndEntity)
}

/// [`rustls_handshake`] with an explicit revocation-check depth.
pub fn rustls_handshake_with(
    server: &ServerIdentity,
    ca_pem: &Path,
    crl_pem: &Path,
    ck_pem: &Path,
    depth: RevocationDepth,
) -> TlsOutcome {
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    // --- server config
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca_pem) {
        roots.add(cert).unwrap_or_else(|e| {
            panic!(
                "rustls rejects a CA certificate of {}: {e}",
                ca_pem.display()
            )
        });
    }
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(load_crls(crl_pem));
    if depth == RevocationDepth::EndEntity {
        verifier = verifier.only_check_end_entity_revocation();
    }
    let verifier = verifier.build().unwrap_or_else(|e| {
        panic!(
            "rustls client verifier ({} / {}): {e}",
            ca_pem.display(),
            crl_pem.display()
        )
    });
    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(&server.cert_pem), load_key(&server.key_pem))
        .unwrap_or_else(|e| panic!("rustls server identity: {e}"));

    // --- client config
    let mut server_roots = RootCertStore::empty();
    for cert in load_certs(&server.ca_pem) {
        server_roots.add(cert).expect("server CA certificate");
    }
    let client_config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(server_roots)
        .with_client_auth_cert(load_certs(ck_pem), load_key(ck_pem));
    let client_config = match client_config {
        Ok(c) => c,
        Err(e) => {
            return TlsOutcome::Refused(format!("client cannot use {}: {e}", ck_pem.display()));
        }
    };

    // --- run
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    listener.set_nonblocking(true).expect("set_nonblocking");
    let stop = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let stop = stop.clone();
        let config = Arc::new(server_config);
        thread::spawn(move || rustls_serve_one(listener, config, &stop))
    };
    let client_result = rustls_client_ping(addr, Arc::new(client_config));
    stop.store(true, Ordering::SeqCst);
    // Bounded: the server thread has an accept deadline and socket timeouts.
    let server_result = server_thread
        .join()
        .unwrap_or_else(|_| Err("server thread panicked".into()));

    match (client_result, server_result) {
        (Ok(()), Ok(())) => TlsOutcome::Accepted,
        (c, s) => TlsOutcome::Refused(format!(
            "client: {}; server: {}",
            c.err().unwrap_or_else(|| "ok".into()),
            s.err().unwrap_or_else(|| "ok".into())
        )),
    }
}

/// `openssl s_server -www -naccept 1 -Verify 3 -verify_return_error -CAfile
/// <ca_pem> -CRL <crl_pem> -crl_check` on 127.0.0.1:<free port>, and
/// `curl --cert ck_pem` as the client. Accepted iff curl gets `200` with the
/// `-www` page listing "Client certificate" and the server printed no
/// `verify error`. The server is killed afterwards (Drop guard).
pub fn openssl_s_server_handshake(
    server: &ServerIdentity,
    ca_pem: &Path,
    crl_pem: &Path,
    ck_pem: &Path,
) -> TlsOutcome {
    let work = tempfile::tempdir().expect("tempdir");
    // Exactly README's command line. `-CRL` loads only the FIRST CRL of its
    // file: pushca's crl.pem puts the issuing CA's CRL first for that reason,
    // and `-crl_check` checks only the leaf, which that CRL covers.
    'attempts: for attempt in 1..=BIND_ATTEMPTS {
        let port = free_port();
        let out_path = work.path().join(format!("s_server-{attempt}.out"));
        let err_path = work.path().join(format!("s_server-{attempt}.err"));
        let mut cmd = Command::new("openssl");
        cmd.arg("s_server")
            .args([
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-naccept",
                "1",
                "-www",
            ])
            .args(["-cert", &p(&server.cert_pem), "-key", &p(&server.key_pem)])
            .args(["-Verify", "3", "-verify_return_error"])
            .args(["-CAfile", &p(ca_pem), "-CRL", &p(crl_pem), "-crl_check"])
            .stdout(create_file(&out_path))
            .stderr(create_file(&err_path));
        let mut proc = Proc::spawn(
            &mut cmd,
            "openssl s_server",
            SIGTERM,
            Duration::from_secs(2),
        );

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if read_file_lossy(&out_path).contains("ACCEPT") {
                break;
            }
            if let Some(status) = proc.try_wait() {
                let log = format!(
                    "{}{}",
                    read_file_lossy(&out_path),
                    read_file_lossy(&err_path)
                );
                if is_addr_in_use(&log) && attempt < BIND_ATTEMPTS {
                    continue 'attempts; // lost a bind race, try another port
                }
                panic!(
                    "openssl s_server exited ({status}) before listening on 127.0.0.1:{port}:\n{log}"
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "openssl s_server did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}:\n{}{}",
                    read_file_lossy(&out_path),
                    read_file_lossy(&err_path)
                );
            }
            thread::sleep(Duration::from_millis(10));
        }

        let client = curl_get(port, &server.ca_pem, ck_pem);
        proc.wait_exit(Duration::from_secs(3)); // -naccept 1: exits after the connection
        drop(proc);
        let server_log = format!(
            "{}{}",
            read_file_lossy(&out_path),
            read_file_lossy(&err_path)
        );
        let server_errors = lines_matching(&server_log, &["verify error", "error:"]);
        return match client {
            Ok((200, body))
                if body.contains("Client certificate") && !server_log.contains("verify error") =>
            {
                TlsOutcome::Accepted
            }
            Ok((status, body)) => TlsOutcome::Refused(format!(
                "HTTP {status} {}; server: {server_errors}",
                body.lines().next().unwrap_or("")
            )),
            Err(e) => TlsOutcome::Refused(format!("client: {e}; server: {server_errors}")),
        };
    }
    unreachable!("the last bind attempt panics")
}

/// Whether nginx can be run here (the binary exists).
pub fn nginx_available() -> bool {
    Path::new(NGINX_BIN).is_file()
}

/// Panics with install instructions when nginx is missing (never skip silently).
pub fn require_nginx() {
    if !nginx_available() {
        panic!(
            "{NGINX_BIN} not found: this test needs a real nginx. Install it with \
             `apt-get update && apt-get install -y nginx` (on Debian 12 `nginx-light` is only a \
             transitional package that pulls in `nginx` plus the echo module; either works)."
        );
    }
}

/// A running nginx (master + 1 worker, not daemonized) on 127.0.0.1:`port`.
/// Dropping it stops nginx: SIGQUIT, then SIGKILL to its process group after 5 s.
pub struct Nginx {
    pub port: u16,
    pub prefix: PathBuf,
    proc: Proc,
}

/// Starts nginx with prefix `dir/nginx` (config, pid, logs and temp dirs all
/// inside it; nothing under /etc/nginx, /var/log/nginx or /var/lib/nginx is
/// used). Waits until it listens (pid file written, worker running, TCP
/// connect succeeds); panics with nginx's stderr and error log otherwise.
/// No `user` directive: as root the workers run as `nobody`, which is fine
/// because certificates, key and CRL are read by the master.
pub fn start_nginx(dir: &Path, server: &ServerIdentity, ca_pem: &Path, crl_pem: &Path) -> Nginx {
    require_nginx();
    let prefix = dir.join("nginx");
    fs::create_dir_all(&prefix).unwrap_or_else(|e| panic!("create {}: {e}", prefix.display()));
    let conf = prefix.join("nginx.conf");
    let pid_file = prefix.join("nginx.pid");
    let error_log = prefix.join("error.log");
    let stderr_path = prefix.join("stderr.log");

    'attempts: for attempt in 1..=BIND_ATTEMPTS {
        let port = free_port();
        write_file(&conf, &nginx_conf(&prefix, port, server, ca_pem, crl_pem));
        let _ = fs::remove_file(&pid_file);
        let log_start = file_len(&error_log);
        let globals = format!(
            "daemon off; pid {}; error_log {} info;",
            p(&pid_file),
            p(&error_log)
        );
        let mut cmd = Command::new(NGINX_BIN);
        cmd.arg("-p")
            .arg(format!("{}/", p(&prefix)))
            .arg("-c")
            .arg(&conf)
            .arg("-g")
            .arg(&globals)
            .stdout(create_file(&stderr_path))
            .stderr(create_file(&stderr_path));
        let mut proc = Proc::spawn(&mut cmd, "nginx", SIGQUIT, Duration::from_secs(5));
        let master = proc.pid();

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let pid_ok = read_file_lossy(&pid_file).trim() == master.to_string();
            if pid_ok
                && !worker_pids(master).is_empty()
                && TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), IO_TIMEOUT)
                    .is_ok()
            {
                return Nginx { port, prefix, proc };
            }
            if let Some(status) = proc.try_wait() {
                let log = format!(
                    "{}{}",
                    read_file_lossy(&stderr_path),
                    read_from(&error_log, log_start)
                );
                if is_addr_in_use(&log) && attempt < BIND_ATTEMPTS {
                    continue 'attempts; // lost a bind race, try another port
                }
                panic!("nginx exited ({status}) before listening on 127.0.0.1:{port}:\n{log}");
            }
            if Instant::now() > deadline {
                panic!(
                    "nginx did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}:\n{}{}",
                    read_file_lossy(&stderr_path),
                    read_from(&error_log, log_start)
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    unreachable!("the last bind attempt panics")
}

impl Nginx {
    /// Sends SIGHUP (re-reads config, certificates and CRL files) and waits
    /// until the new configuration is live: the master logged
    /// "reconfiguring", every old worker is gone and a new worker runs.
    /// Panics with the error log if the reload fails (e.g. a broken CRL).
    pub fn reload(&self) {
        let master = self.proc.pid();
        let log_start = file_len(&self.error_log_path());
        let old = worker_pids(master);
        assert!(!old.is_empty(), "nginx has no worker before reload");
        if let Err(e) = pid_of(master).map_or(Err(rustix::io::Errno::SRCH), |p| {
            rustix::process::kill_process(p, Signal::HUP)
        }) {
            panic!("kill -HUP {master}: {e}");
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = read_from(&self.error_log_path(), log_start);
            if log.contains("[emerg]") || log.contains("[alert]") {
                panic!("nginx reload failed:\n{log}");
            }
            let now = worker_pids(master);
            if log.contains("reconfiguring")
                && !now.is_empty()
                && old.iter().all(|w| !now.contains(w))
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "nginx reload not live within {START_TIMEOUT:?} (old workers {old:?}, now {now:?}):\n{log}"
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The whole error log (level `info`: includes client verify errors).
    pub fn error_log(&self) -> String {
        read_file_lossy(&self.error_log_path())
    }

    fn error_log_path(&self) -> PathBuf {
        self.prefix.join("error.log")
    }
}

/// `curl -sS --cacert server.ca_pem --cert ck_pem https://127.0.0.1:PORT/`
/// (10 s max time): `Ok((status, body))` or `Err(curl's error text)`.
pub fn curl_nginx_raw(
    nginx: &Nginx,
    server: &ServerIdentity,
    ck_pem: &Path,
) -> Result<(u16, String), String> {
    curl_get(nginx.port, &server.ca_pem, ck_pem)
}

/// [`curl_nginx_raw`] mapped: 200 -> Accepted, anything else (nginx answers a
/// failed client verification with `400 The SSL certificate error`) ->
/// Refused(status, title and nginx's last "verify error" log line).
pub fn curl_nginx(nginx: &Nginx, server: &ServerIdentity, ck_pem: &Path) -> TlsOutcome {
    match curl_nginx_raw(nginx, server, ck_pem) {
        Ok((200, _)) => TlsOutcome::Accepted,
        Ok((status, body)) => {
            let title = body
                .split_once("<title>")
                .and_then(|(_, t)| t.split_once("</title>"))
                .map_or(body.trim(), |(t, _)| t);
            let log = nginx.error_log();
            let last = log
                .lines()
                .rev()
                .find(|l| l.contains("verify error"))
                .unwrap_or("");
            TlsOutcome::Refused(format!("HTTP {status} {title}; nginx: {last}"))
        }
        Err(e) => TlsOutcome::Refused(format!("curl: {e}")),
    }
}

/// Runs the openssl CLI in `dir` (30 s limit); panics with its stderr on
/// failure, returns stdout. Handy for fixtures.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(args).current_dir(dir);
    let ran = run_bounded(&mut cmd, OPENSSL_TIMEOUT, "openssl");
    match ran.status {
        Some(s) if s.success() => ran.stdout,
        Some(s) => panic!(
            "openssl {} failed ({s}):\n{}{}",
            args.join(" "),
            ran.stdout,
            ran.stderr
        ),
        None => panic!(
            "openssl {} timed out after {OPENSSL_TIMEOUT:?}",
            args.join(" ")
        ),
    }
}

/// A port that was free on 127.0.0.1 a moment ago (bind :0, read, drop).
/// Callers retry on a bind race.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

// ---------------------------------------------------------------------------
// rustls internals
// ---------------------------------------------------------------------------

fn load_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("read certificates from {}: {e}", path.display()));
    assert!(!certs.is_empty(), "no certificate in {}", path.display());
    certs
}

fn load_key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path)
        .unwrap_or_else(|e| panic!("read private key from {}: {e}", path.display()))
}

fn load_crls(path: &Path) -> Vec<CertificateRevocationListDer<'static>> {
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("read CRLs from {}: {e}", path.display()));
    assert!(!crls.is_empty(), "no CRL in {}", path.display());
    crls
}

fn rustls_serve_one(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                    return Err("no client connected".into());
                }
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    set_timeouts(&stream)?;
    let conn = ServerConnection::new(config).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, stream);
    let mut buf = [0u8; 5];
    tls.read_exact(&mut buf).map_err(|e| format!("read: {e}"))?;
    if &buf != b"ping\n" {
        return Err(format!("unexpected request {buf:?}"));
    }
    tls.write_all(b"pong\n")
        .map_err(|e| format!("write: {e}"))?;
    tls.conn.send_close_notify();
    tls.flush().map_err(|e| format!("flush: {e}"))?;
    Ok(())
}

fn rustls_client_ping(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<(), String> {
    let stream =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    set_timeouts(&stream)?;
    let name = ServerName::try_from("localhost").expect("valid DNS name");
    let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, stream);
    tls.write_all(b"ping\n")
        .map_err(|e| format!("write: {e}"))?;
    tls.flush().map_err(|e| format!("flush: {e}"))?;
    let mut buf = [0u8; 5];
    tls.read_exact(&mut buf).map_err(|e| format!("read: {e}"))?;
    if &buf != b"pong\n" {
        return Err(format!("unexpected response {buf:?}"));
    }
    Ok(())
}

fn set_timeouts(stream: &TcpStream) -> Result<(), String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// curl / nginx internals
// ---------------------------------------------------------------------------

fn curl_get(port: u16, server_ca: &Path, ck_pem: &Path) -> Result<(u16, String), String> {
    let mut cmd = Command::new("curl");
    // -q: ignore ~/.curlrc; --noproxy: never send loopback traffic to a proxy.
    cmd.args([
        "-q",
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        &CURL_MAX_TIME_SECS.to_string(),
    ])
    .arg("--cacert")
    .arg(server_ca)
    .arg("--cert")
    .arg(ck_pem)
    .args(["-w", "\n%{http_code}"])
    .arg(format!("https://127.0.0.1:{port}/"));
    let ran = run_bounded(
        &mut cmd,
        Duration::from_secs(CURL_MAX_TIME_SECS + 5),
        "curl",
    );
    match ran.status {
        Some(s) if s.success() => {
            let (body, code) = ran.stdout.rsplit_once('\n').unwrap_or(("", &ran.stdout));
            let code = code
                .trim()
                .parse()
                .map_err(|_| format!("curl printed no status: {:?}", ran.stdout))?;
            Ok((code, body.to_string()))
        }
        Some(s) => Err(format!("{} ({s})", ran.stderr.trim())),
        None => Err("curl did not finish in time".into()),
    }
}

fn nginx_conf(
    prefix: &Path,
    port: u16,
    server: &ServerIdentity,
    ca_pem: &Path,
    crl_pem: &Path,
) -> String {
    let q = |path: &Path| {
        let s = p(path);
        assert!(
            !s.contains(['"', '\\', '$']),
            "unsupported character in path {s}"
        );
        format!("\"{s}\"")
    };
    let tmp = |name: &str| q(&prefix.join(name));
    format!(
        r#"# generated by tests/common/tls.rs
worker_processes 1;
lock_file {lock};
events {{
    worker_connections 64;
}}
http {{
    access_log {access};
    client_body_temp_path {body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};
    default_type text/plain;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_verify_client on;
        ssl_client_certificate {ca};
        ssl_crl {crl};
        ssl_verify_depth 3;
        location / {{
            return 200 "ok $ssl_client_s_dn\n";
        }}
    }}
}}
"#,
        lock = tmp("nginx.lock"),
        access = tmp("access.log"),
        body = tmp("client_body_temp"),
        proxy = tmp("proxy_temp"),
        fastcgi = tmp("fastcgi_temp"),
        uwsgi = tmp("uwsgi_temp"),
        scgi = tmp("scgi_temp"),
        cert = q(&server.cert_pem),
        key = q(&server.key_pem),
        ca = q(ca_pem),
        crl = q(crl_pem),
    )
}

/// Live (non-zombie) children of `parent`, from /proc.
fn worker_pids(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..." — comm may contain spaces/parens.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let ppid = fields.next().and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(parent) && state != "Z" && state != "X" {
            pids.push(pid);
        }
    }
    pids
}

fn is_addr_in_use(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("(98:")
}

fn lines_matching(text: &str, needles: &[&str]) -> String {
    text.lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .collect::<Vec<_>>()
        .join(" | ")
}

// ---------------------------------------------------------------------------
// processes
// ---------------------------------------------------------------------------

use rustix::process::{Pid, Signal};

const SIGQUIT: Signal = Signal::QUIT;
const SIGTERM: Signal = Signal::TERM;

fn pid_of(raw: u32) -> Option<Pid> {
    Pid::from_raw(raw as i32)
}

/// A child process in its own process group, tied to the spawning thread by
/// `PR_SET_PDEATHSIG`, stopped on drop: `stop_signal`, then after `grace`
/// SIGKILL to the whole group.
struct Proc {
    child: Option<Child>,
    stop_signal: Signal,
    grace: Duration,
}

impl Proc {
    fn spawn(cmd: &mut Command, what: &str, stop_signal: Signal, grace: Duration) -> Proc {
        let parent = pid_of(std::process::id());
        cmd.stdin(Stdio::null()).process_group(0);
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe system calls (prctl, getppid) without allocating.
        unsafe {
            cmd.pre_exec(move || {
                rustix::process::set_parent_process_death_signal(Some(SIGTERM))?;
                if rustix::process::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(
                        rustix::io::Errno::SRCH.raw_os_error(),
                    ));
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc {
            child: Some(child),
            stop_signal,
            grace,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("process not stopped yet")
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `timeout` for a voluntary exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // Our own, not yet reaped child: its pid and process group id cannot
        // have been reused.
        let pid = pid_of(child.id());
        if let Some(p) = pid {
            let _ = rustix::process::kill_process(p, self.stop_signal);
        }
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(_) => break,
            }
        }
        // As above; the child is still unreaped, so the group is ours.
        if let Some(p) = pid {
            let _ = rustix::process::kill_process_group(p, Signal::KILL);
        }
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Ran {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion, killing it after `timeout` (status None).
fn run_bounded(cmd: &mut Command, timeout: Duration, what: &str) -> Ran {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut proc = Proc::spawn(cmd, what, Signal::KILL, Duration::ZERO);
    let drain = |r: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(proc.child_mut().stdout.take().map(|r| Box::new(r) as _));
    let err = drain(proc.child_mut().stderr.take().map(|r| Box::new(r) as _));
    let status = proc.wait_exit(timeout);
    proc.stop();
    Ran {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------

fn p(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", path.display()))
        .to_string()
}

fn write_file(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn read_file(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_file_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn read_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = (offset as usize).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

fn create_file(path: &Path) -> File {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}
