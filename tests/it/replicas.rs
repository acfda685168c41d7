//! Several `pushca serve` replicas on one store, many CI runners in client
//! mode calling them at once: distinct serials, every certificate recorded
//! and listed, CRL numbers that never repeat or go backwards, and a replica
//! killed with SIGKILL in the middle of a batch losing nothing.
//!
//! Each test runs twice: the replicas on one PostgreSQL database (a new
//! database of the throwaway cluster, the fixture home copied into it) and
//! on the fixture home's SQLite store. [`shared_store_args`] is the one
//! place that points them (and the local commands of these tests) at it.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::serve::{service_home, spawn_with, Server};
use crate::common::{cert_der, stderr, stdout_json, Env};

const APP: &str = "com.example.app";

/// The store the replicas share.
#[derive(Clone, Copy, Debug)]
enum Shared {
    /// The fixture home's SQLite store (SQLite's locking serializes the
    /// replicas' write transactions).
    Home,
    /// A new database of the throwaway PostgreSQL cluster, into which the
    /// home is first copied (`store migrate --to URL`: records and CA
    /// material): what PRODUCT.md's replicas run on.
    Postgres,
}

/// The arguments that put a command on the replicas' shared store, appended
/// to every `serve` and to every local command here: none for the home's
/// SQLite store; `--store URL` for PostgreSQL.
fn shared_store_args(env: &Env, shared: Shared) -> Vec<String> {
    match shared {
        Shared::Home => Vec::new(),
        Shared::Postgres => {
            let url = pushca::store::testdb::fresh_url();
            env.cmd()
                .args(["store", "migrate", "--to", &url])
                .assert()
                .success();
            vec!["--store".into(), url]
        }
    }
}

/// The fixture home, its service certificate, `n` replicas on one store,
/// and the store arguments for local commands.
struct Replicas {
    env: Env,
    store: Vec<String>,
    servers: Vec<Server>,
}

impl Replicas {
    fn start(n: usize, shared: Shared) -> Replicas {
        let env = service_home();
        let store = shared_store_args(&env, shared);
        let servers = (0..n).map(|_| spawn_with(&env, &store)).collect();
        Replicas {
            env,
            store,
            servers,
        }
    }

    /// `pushca --home HOME [store] ARGS` on the CA host.
    fn local(&self, args: &[&str]) -> Output {
        let o = self
            .env
            .cmd()
            .args(&self.store)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o
    }

    fn token(&self, scopes: &[&str]) -> String {
        let mut a = vec!["--json", "token", "create", "--expires-in", "1"];
        for s in scopes {
            a.extend(["--scope", s]);
        }
        stdout_json(&self.local(&a))["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Serials of the store's certificates (`cert list`).
    fn listed(&self) -> BTreeSet<String> {
        stdout_json(&self.local(&["--json", "cert", "list"]))["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["serial"].as_str().unwrap().to_string())
            .collect()
    }

    fn url(&self, i: usize) -> String {
        format!("https://localhost:{}", self.servers[i].port)
    }
}

/// A CI runner: an empty directory (its `$HOME` too) with the service's CA
/// chain, a token and its CSRs; no home, no CA passphrase.
struct Runner {
    dir: tempfile::TempDir,
    csrs: Vec<PathBuf>,
}

impl Runner {
    fn new(r: &Replicas, token: &str, csrs: usize) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&r.servers[0].chain, dir.path().join("service-ca.pem")).unwrap();
        std::fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
        let csrs = (0..csrs)
            .map(|i| {
                let key =
                    pushca::keys::PrivateKey::generate(pushca::keys::KeyType::EcP256).unwrap();
                let der = pushca::ca::csr::make_csr(&key, &format!("runner {i}"), None).unwrap();
                let p = dir.path().join(format!("{i}.csr"));
                std::fs::write(&p, pushca::pem::encode("CERTIFICATE REQUEST", &der)).unwrap();
                p
            })
            .collect();
        Runner { dir, csrs }
    }

    /// `pushca --server URL ... ARGS` from the runner's directory.
    fn call(&self, url: &str, args: &[&str]) -> Output {
        StdCommand::new(assert_cmd::cargo::cargo_bin("pushca"))
            .env_clear()
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path())
            .args(["--server", url, "--server-ca", "service-ca.pem"])
            .args(["--token-file", "token"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `cert issue` of CSRs `from..to` through `url` into `out/`.
    fn issue(&self, url: &str, from: usize, to: usize) -> Output {
        let mut a = vec![
            "--json",
            "cert",
            "issue",
            "--app",
            APP,
            "--env",
            "production",
        ];
        for c in &self.csrs[from..to] {
            a.extend(["--csr", c.to_str().unwrap()]);
        }
        a.extend(["--out-dir", "out"]);
        self.call(url, &a)
    }

    /// The certificate files the runner received.
    fn received(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.dir.path().join("out")) {
            Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn serial_of(path: &Path) -> String {
    let der = cert_der(path);
    let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
    pushca::x509::serial_hex(c.raw_serial())
}

/// `openssl verify` of every file against the home's CA, in one call.
fn verify_all(env: &Env, files: &[PathBuf]) {
    let root = env.ca_pem("root");
    let issuing = env.ca_pem("issuing");
    let mut args = vec![
        "verify".to_string(),
        "-purpose".into(),
        "sslclient".into(),
        "-x509_strict".into(),
        "-CAfile".into(),
        root.to_string_lossy().into_owned(),
        "-untrusted".into(),
        issuing.to_string_lossy().into_owned(),
    ];
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.openssl(&refs);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches(": OK").count(), files.len(), "{text}");
}

/// A `crl` call: when it started and ended, and the number it got.
struct CrlCall {
    start: Instant,
    end: Instant,
    number: i64,
}

/// 3 replicas, 8 runners × 15 CSRs (calls of 5, each through the next
/// replica) while 6 clients ask for CRLs through the replicas: 120
/// certificates with distinct serials, each verifying with openssl and
/// listed by `cert list`; every CRL number different, and a CRL asked for
/// after another one was returned has a higher number.
#[test]
fn replicas_issue_distinct_listed_serials_and_crl_numbers_only_grow_on_postgres() {
    replicas_issue_distinct_listed_serials_and_crl_numbers_only_grow(Shared::Postgres);
}

#[test]
fn replicas_issue_distinct_listed_serials_and_crl_numbers_only_grow_on_a_home() {
    replicas_issue_distinct_listed_serials_and_crl_numbers_only_grow(Shared::Home);
}

fn replicas_issue_distinct_listed_serials_and_crl_numbers_only_grow(shared: Shared) {
    let r = Replicas::start(3, shared);
    let t = r.token(&["issue:com.example.app", "read", "revoke"]);
    let runners: Vec<Runner> = (0..8).map(|_| Runner::new(&r, &t, 15)).collect();
    let urls: Vec<String> = (0..3).map(|i| r.url(i)).collect();
    let crl_client = Runner::new(&r, &t, 0);
    let (issued, crls) = std::thread::scope(|s| {
        let issuers: Vec<_> = runners
            .iter()
            .enumerate()
            .map(|(i, runner)| {
                let urls = &urls;
                s.spawn(move || {
                    let mut serials = Vec::new();
                    for call in 0..3 {
                        let url = &urls[(i + call) % 3];
                        let o = runner.issue(url, call * 5, call * 5 + 5);
                        assert!(o.status.success(), "runner {i} via {url}: {}", stderr(&o));
                        for c in stdout_json(&o)["certificates"].as_array().unwrap() {
                            serials.push(c["serial"].as_str().unwrap().to_string());
                        }
                    }
                    serials
                })
            })
            .collect();
        let crlers: Vec<_> = (0..6)
            .map(|i| {
                let (urls, client) = (&urls, &crl_client);
                s.spawn(move || {
                    (0..3)
                        .map(|k| {
                            let url = &urls[(i + k) % 3];
                            let start = Instant::now();
                            let o = client.call(url, &["--json", "crl"]);
                            let end = Instant::now();
                            assert!(o.status.success(), "crl via {url}: {}", stderr(&o));
                            let number = stdout_json(&o)["number"].as_i64().unwrap();
                            CrlCall { start, end, number }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let issued: Vec<String> = issuers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let crls: Vec<CrlCall> = crlers.into_iter().flat_map(|h| h.join().unwrap()).collect();
        (issued, crls)
    });

    // 120 distinct serials, as in the files the runners wrote.
    let distinct: HashSet<&String> = issued.iter().collect();
    assert_eq!(issued.len(), 120);
    assert_eq!(distinct.len(), 120, "a serial was issued twice");
    let files: Vec<PathBuf> = runners.iter().flat_map(Runner::received).collect();
    assert_eq!(files.len(), 120);
    let in_files: HashSet<String> = files.iter().map(|f| serial_of(f)).collect();
    assert_eq!(in_files, issued.iter().cloned().collect::<HashSet<_>>());
    verify_all(&r.env, &files);
    // Every one listed by the store.
    let listed = r.listed();
    let missing: Vec<&String> = issued.iter().filter(|s| !listed.contains(*s)).collect();
    assert!(missing.is_empty(), "not in cert list: {missing:?}");

    // CRL numbers: all different; one asked for after another was returned
    // is higher.
    let numbers: BTreeSet<i64> = crls.iter().map(|c| c.number).collect();
    assert_eq!(numbers.len(), crls.len(), "a CRL number was signed twice");
    for a in &crls {
        for b in &crls {
            if a.end < b.start {
                assert!(
                    a.number < b.number,
                    "CRL {} returned before CRL {} was asked for",
                    a.number,
                    b.number
                );
            }
        }
    }
}

/// A replica killed with SIGKILL while runners are issuing batches through
/// it: every certificate a runner received is in the store, the runners of
/// the other replicas get all of theirs, and the survivors serve later
/// calls.
#[test]
fn replica_killed_mid_batch_loses_no_certificate_on_postgres() {
    replica_killed_mid_batch_loses_no_certificate(Shared::Postgres);
}

#[test]
fn replica_killed_mid_batch_loses_no_certificate_on_a_home() {
    replica_killed_mid_batch_loses_no_certificate(Shared::Home);
}

fn replica_killed_mid_batch_loses_no_certificate(shared: Shared) {
    let mut r = Replicas::start(3, shared);
    let t = r.token(&["issue:com.example.app", "read", "revoke"]);
    // Runners 0-2 call replica 0 (the victim) in batches of 5 until it
    // dies; runners 3-5 call replicas 1 and 2.
    let runners: Vec<Runner> = (0..6).map(|_| Runner::new(&r, &t, 40)).collect();
    let urls: Vec<String> = (0..3).map(|i| r.url(i)).collect();
    let received_one = Arc::new(AtomicBool::new(false));
    let (victim_results, survivor_results) = std::thread::scope(|s| {
        let handles: Vec<_> = runners
            .iter()
            .enumerate()
            .map(|(i, runner)| {
                let url = if i < 3 {
                    urls[0].clone()
                } else {
                    urls[1 + i % 2].clone()
                };
                let received_one = received_one.clone();
                s.spawn(move || {
                    // (ok calls, failed calls)
                    let (mut ok, mut failed) = (0, 0);
                    let calls = if i < 3 { 8 } else { 3 };
                    for call in 0..calls {
                        let o = runner.issue(&url, call * 5, call * 5 + 5);
                        if o.status.success() {
                            ok += 1;
                            if i < 3 {
                                received_one.store(true, Ordering::SeqCst);
                            }
                        } else {
                            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
                            failed += 1;
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        // Kill the victim once its runners are under way (a call returned,
        // the next ones are in flight).
        let t0 = Instant::now();
        while !received_one.load(Ordering::SeqCst) {
            assert!(t0.elapsed() < Duration::from_secs(30), "no call succeeded");
            std::thread::sleep(Duration::from_millis(5));
        }
        r.servers[0].child.kill().unwrap();
        r.servers[0].child.wait().unwrap();
        let results: Vec<(usize, usize)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        (results[..3].to_vec(), results[3..].to_vec())
    });
    // The victim died while its runners were still calling it.
    assert!(
        victim_results.iter().map(|(_, f)| f).sum::<usize>() > 0,
        "{victim_results:?}"
    );
    // The other replicas served every call.
    assert!(
        survivor_results.iter().all(|&(ok, f)| ok == 3 && f == 0),
        "{survivor_results:?}"
    );
    // Every certificate a runner received is in the store: nothing signed
    // and handed out is unknown.
    let listed = r.listed();
    let files: Vec<PathBuf> = runners.iter().flat_map(Runner::received).collect();
    assert!(files.len() >= 3 * 5 + 5, "{} files", files.len());
    for f in &files {
        assert!(
            listed.contains(&serial_of(f)),
            "{} not in the store",
            f.display()
        );
    }
    verify_all(&r.env, &files);
    // The survivors keep serving: a later batch and a CRL.
    let later = Runner::new(&r, &t, 5);
    for (i, args) in [(1, None), (2, Some(["--json", "crl"]))] {
        let o = match args {
            None => later.issue(&urls[i], 0, 5),
            Some(a) => later.call(&urls[i], &a),
        };
        assert!(o.status.success(), "via replica {i}: {}", stderr(&o));
    }
    let last: Vec<String> = later.received().iter().map(|f| serial_of(f)).collect();
    assert_eq!(last.len(), 5);
    let listed = r.listed();
    assert!(last.iter().all(|s| listed.contains(s)));
}
