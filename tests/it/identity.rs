//! `pushca server-cert` and `pushca device identity`, checked by real
//! verifiers: `openssl verify` with the purposes, `openssl x509 -text`,
//! `openssl pkcs12` (OpenSSL 3, no `-legacy`), a rustls server loading the
//! server key and chain and a rustls client trusting only the root
//! (handshake to the DNS name, refused for another), rustls'
//! `WebPkiClientVerifier` built from the root accepting the device
//! identity, the CRL after `cert revoke`, and the refusals (one line, the
//! right exit code and kind, nothing written).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::common;
use common::{stderr, stdout_json, Env, CA_PASS};

const KEY_PASS: &str = "identity-key-pass";
const UDID: &str = "00008030-001A0C3E0E68802E";
/// Apple's push extensions (environment, topics) live under this arc.
const APPLE_PUSH_ARC: &str = "1.2.840.113635.100.6.3";

fn ca_pass() -> String {
    format!("pass:{CA_PASS}")
}

/// `pushca --json ARGS` with the CA passphrase ($PUSHCA_CA_PASSPHRASE);
/// asserts success.
fn run_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let o = env
        .cmd()
        .arg("--json")
        .args(args)
        .env("PUSHCA_CA_PASSPHRASE", CA_PASS)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    stdout_json(&o)
}

/// `openssl ARGS` in the test directory: (success, stdout + stderr).
fn openssl(env: &Env, args: &[&str]) -> (bool, String) {
    let o = env.openssl_raw(args);
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// `openssl verify -CAfile root -untrusted issuing -purpose PURPOSE CERT`.
fn verify(env: &Env, purpose: &str, cert: &Path) -> (bool, String) {
    let (root, issuing) = (env.ca_pem("root"), env.ca_pem("issuing"));
    openssl(
        env,
        &[
            "verify",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            issuing.to_str().unwrap(),
            "-purpose",
            purpose,
            cert.to_str().unwrap(),
        ],
    )
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// The key of `key_file`, decrypted by openssl (what rustls loads is PKCS#8).
fn plain_key(env: &Env, key_file: &Path, pass: Option<&str>) -> PrivateKeyDer<'static> {
    let mut args = vec!["pkey", "-in", key_file.to_str().unwrap()];
    let passin = pass.map(|p| format!("pass:{p}"));
    if let Some(p) = &passin {
        args.extend(["-passin", p]);
    }
    let o = env.openssl(&args);
    PrivateKeyDer::from_pem_slice(&o.stdout).unwrap()
}

fn root_store(env: &Env) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for c in certs(&env.ca_pem("root")) {
        roots.add(c).unwrap();
    }
    Arc::new(roots)
}

/// A rustls server on 127.0.0.1 with `server` (chain, key), requiring a
/// client certificate that chains to the home's root when `client` is
/// given (and presented by the client); the client trusts only the root and
/// connects for `name`. Ok when both sides complete the handshake and one
/// round trip.
fn handshake(
    env: &Env,
    server: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    name: &str,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client.is_some() {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(root_store(env), provider.clone())
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let server_config = Arc::new(builder.with_single_cert(server.0, server.1).unwrap());
    let client_builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(root_store(env));
    let client_config = Arc::new(match client {
        Some((chain, key)) => client_builder.with_client_auth_cert(chain, key).unwrap(),
        None => client_builder.with_no_client_auth(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = std::thread::spawn(move || -> Result<(), String> {
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut conn = ServerConnection::new(server_config).map_err(|e| e.to_string())?;
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
        tls.write_all(b"pong").map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())
    });
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let client = (|| -> Result<(), String> {
        let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut conn =
            ClientConnection::new(client_config, server_name).map_err(|e| e.to_string())?;
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        tls.write_all(b"ping").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
        if &buf == b"pong" {
            Ok(())
        } else {
            Err("no pong".into())
        }
    })();
    let served = serve.join().unwrap_or_else(|_| Err("panicked".into()));
    match (client, served) {
        (Ok(()), Ok(())) => Ok(()),
        (c, s) => Err(format!("client: {c:?}; server: {s:?}")),
    }
}

fn server_cert(env: &Env, out: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "server-cert",
        "--dns",
        "GW.example.test",
        "--dns",
        "localhost",
        "--ip",
        "127.0.0.1",
        "--ip",
        "::1",
        "--out-dir",
        out,
        "--key-type",
        "ec-p256",
    ];
    args.extend(extra);
    run_json(env, &args)
}

#[test]
fn a_server_certificate_serves_tls_for_its_names_only() {
    let env = Env::new();
    env.init();
    let passout = format!("pass:{KEY_PASS}");
    let d = server_cert(&env, "srv", &["--passout", &passout]);
    assert_eq!(
        d["dns"],
        serde_json::json!(["gw.example.test", "localhost"])
    );
    assert_eq!(d["ip"], serde_json::json!(["127.0.0.1", "::1"]));
    assert_eq!(d["subject"], "CN=gw.example.test");
    assert_eq!(d["encrypted"], true);
    let base = env.path("srv/server-gw.example.test");
    let file = |suffix: &str| PathBuf::from(format!("{}{suffix}", base.display()));
    for (key, suffix) in [
        ("key", ".key"),
        ("certificate", ".pem"),
        ("chain", "-chain.pem"),
        ("fullchain", "-fullchain.pem"),
        ("p12", ".p12"),
    ] {
        assert_eq!(
            d[key].as_str().map(|p| env.path(p)),
            Some(file(suffix)),
            "{d}"
        );
        assert!(file(suffix).is_file(), "{suffix}");
    }
    let cert = file(".pem");
    // What openssl reads in it: SANs, EKU serverAuth only, the subject, no
    // UID and no push extension.
    let (ok, text) = openssl(
        &env,
        &["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"],
    );
    assert!(ok, "{text}");
    for want in [
        "Subject: CN = gw.example.test\n",
        "DNS:gw.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
        "X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n",
        "Digital Signature\n",
        "CA:FALSE",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    assert!(
        !text.contains("UID") && !text.contains(APPLE_PUSH_ARC),
        "{text}"
    );
    // The chain: issuing CA then root; the full chain: certificate then issuing.
    let ca = |n: &str| certs(&env.ca_pem(n)).remove(0);
    assert_eq!(certs(&file("-chain.pem")), [ca("issuing"), ca("root")]);
    assert_eq!(
        certs(&file("-fullchain.pem")),
        [certs(&cert).remove(0), ca("issuing")]
    );
    // openssl: a TLS server certificate, not a client one.
    let (ok, out) = verify(&env, "sslserver", &cert);
    assert!(ok && out.contains(": OK"), "{out}");
    let (ok, out) = verify(&env, "sslclient", &cert);
    assert!(!ok, "a server certificate verifies for sslclient: {out}");
    // The key is encrypted PKCS#8; the .p12 opens with OpenSSL 3's defaults.
    let key = std::fs::read_to_string(file(".key")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{key}"
    );
    let (ok, p12) = openssl(
        &env,
        &[
            "pkcs12",
            "-in",
            file(".p12").to_str().unwrap(),
            "-passin",
            &passout,
            "-nodes",
        ],
    );
    assert!(ok, "{p12}");
    assert_eq!(p12.matches("BEGIN CERTIFICATE").count(), 3, "{p12}");
    assert!(p12.contains("BEGIN PRIVATE KEY"), "{p12}");
    // rustls: the server loads its key and full chain; a client trusting
    // only the root completes a handshake for each name, not for another.
    let identity = || {
        (
            certs(&file("-fullchain.pem")),
            plain_key(&env, &file(".key"), Some(KEY_PASS)),
        )
    };
    for name in ["gw.example.test", "localhost", "127.0.0.1", "::1"] {
        handshake(&env, identity(), name, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let e = handshake(&env, identity(), "other.example.test", None).unwrap_err();
    assert!(e.contains("not valid for name"), "{e}");
    // In the store: kind server, no App ID.
    let list = run_json(&env, &["cert", "list"]);
    let rec = &list["certificates"][0];
    assert_eq!(
        (
            rec["kind"].as_str(),
            rec["bundle_id"].as_str(),
            rec["serial"].as_str()
        ),
        (Some("server"), Some(""), d["serial"].as_str()),
        "{list}"
    );
}

#[test]
fn a_device_identity_is_a_client_certificate_the_webpki_verifier_accepts() {
    let env = Env::new();
    env.init();
    env.cmd()
        .args([
            "device",
            "add",
            &UDID.to_lowercase(),
            "--name",
            "Ana's iPhone",
        ])
        .assert()
        .success();
    // The UDID typed in lower case is the registered device.
    let d = run_json(
        &env,
        &[
            "device",
            "identity",
            &UDID.to_lowercase(),
            "--out-dir",
            "dev",
            "--noenc",
            "--key-type",
            "ec-p384",
        ],
    );
    assert_eq!(
        (
            d["udid"].as_str(),
            d["team_id"].as_str(),
            d["encrypted"].as_bool()
        ),
        (Some(UDID), Some("ABCDE12345"), Some(false)),
        "{d}"
    );
    let file = |suffix: &str| env.path(&format!("dev/device-{UDID}{suffix}"));
    let cert = file(".pem");
    let (ok, text) = openssl(
        &env,
        &["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("Subject: CN = {UDID}, OU = ABCDE12345\n")),
        "{text}"
    );
    assert!(
        text.contains(
            "X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n"
        ),
        "{text}"
    );
    assert!(
        !text.contains("UID") && !text.contains(APPLE_PUSH_ARC) && !text.contains("Alternative"),
        "{text}"
    );
    let (ok, out) = verify(&env, "sslclient", &cert);
    assert!(ok && out.contains(": OK"), "{out}");
    let (ok, out) = verify(&env, "sslserver", &cert);
    assert!(!ok, "a device identity verifies for sslserver: {out}");
    let key = std::fs::read_to_string(file(".key")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "--noenc");
    let (ok, p12) = openssl(
        &env,
        &[
            "pkcs12",
            "-in",
            file(".p12").to_str().unwrap(),
            "-passin",
            "pass:",
            "-nodes",
        ],
    );
    assert!(ok && p12.contains("BEGIN PRIVATE KEY"), "{p12}");
    // Mutual TLS from one CA: the server certificate on the server, the
    // device identity as the client, WebPkiClientVerifier built from the root.
    server_cert(&env, "srv", &["--noenc"]);
    let server = || {
        (
            certs(&env.path("srv/server-gw.example.test-fullchain.pem")),
            plain_key(&env, &env.path("srv/server-gw.example.test.key"), None),
        )
    };
    let device = (
        certs(&file("-fullchain.pem")),
        plain_key(&env, &file(".key"), None),
    );
    handshake(&env, server(), "gw.example.test", Some(device)).unwrap();
    // The server certificate is no client certificate.
    let wrong = server();
    let e = handshake(&env, server(), "gw.example.test", Some(wrong)).unwrap_err();
    assert!(
        e.contains("does not allow extended key usage for client authentication"),
        "{e}"
    );
}

#[test]
fn cert_revoke_puts_them_on_the_next_crl() {
    let env = Env::new();
    env.init();
    env.cmd()
        .args(["device", "add", UDID, "--name", "D"])
        .assert()
        .success();
    let server = server_cert(&env, "srv", &["--noenc"])["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let device = run_json(
        &env,
        &["device", "identity", UDID, "--out-dir", "dev", "--noenc"],
    )["serial"]
        .as_str()
        .unwrap()
        .to_string();
    for (serial, kind) in [(&server, "server"), (&device, "device")] {
        let o = env
            .cmd()
            .args(["--json", "cert", "revoke", serial])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r = stdout_json(&o);
        assert_eq!(
            (r["kind"].as_str(), r["changed"].as_bool()),
            (Some(kind), Some(true)),
            "{r}"
        );
    }
    // No profile authorises them: they are not push certificates.
    env.cmd()
        .args(["app", "create", "com.example.app", "--push"])
        .assert()
        .success();
    let o = env
        .cmd()
        .args([
            "profile",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
        ])
        .args([
            "--all-devices",
            "--cert",
            &server,
            "--out",
            "p.mobileprovision",
        ])
        .args(["--ca-passin", &ca_pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("it is a server certificate, not a push certificate"),
        "{}",
        stderr(&o)
    );
    let o = env
        .cmd()
        .args(["crl", "--out", "now.crl", "--ca-passin", &ca_pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (ok, text) = openssl(&env, &["crl", "-in", "now.crl", "-noout", "-text"]);
    assert!(ok, "{text}");
    for serial in [&server, &device] {
        assert!(
            text.contains(&format!("Serial Number: {}", serial.to_uppercase())),
            "{serial} not in {text}"
        );
    }
    // openssl refuses them now, with the CRL.
    let (root, issuing) = (env.ca_pem("root"), env.ca_pem("issuing"));
    let (ok, out) = openssl(
        &env,
        &[
            "verify",
            "-crl_check",
            "-CRLfile",
            "now.crl",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            issuing.to_str().unwrap(),
            env.path("srv/server-gw.example.test.pem").to_str().unwrap(),
        ],
    );
    assert!(!ok && out.contains("revoked"), "{out}");
    // The store says so; status and show know them.
    let list = run_json(&env, &["cert", "list"]);
    let certs = list["certificates"].as_array().unwrap();
    assert!(certs.iter().all(|c| c["revoked"] == true), "{list}");
    let status = run_json(&env, &["status"]);
    assert_eq!(status["revoked"], 2, "{status}");
    let shown = run_json(&env, &["cert", "show", &device]);
    assert_eq!(shown["revoked"], true, "{shown}");
    assert_eq!(
        shown["extended_key_usage"],
        serde_json::json!(["clientAuth"])
    );
}

/// One failing run: exit code, its JSON kind, one `error:` line, and nothing
/// written (the output directory never appears; the store is unchanged).
fn refused(env: &Env, args: &[&str], code: i32, kind: &str, says: &str) {
    let o = env
        .cmd()
        .args(args)
        .args(["--ca-passin", &ca_pass()])
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {e}");
    let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{args:?}: {e}");
    assert!(e.contains(says), "{args:?}: {says:?} not in {e}");
    assert!(!e.contains("panicked"), "{e}");
    let o = env
        .cmd()
        .arg("--json")
        .args(args)
        .args(["--ca-passin", &ca_pass()])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(j["error"]["kind"], kind, "{args:?}: {j}");
    assert!(!env.path("out").exists(), "{args:?}: nothing written");
    let list = run_json(env, &["cert", "list"]);
    assert_eq!(list["certificates"], serde_json::json!([]), "{args:?}");
}

#[test]
fn refusals_say_why_in_one_line_and_write_nothing() {
    let env = Env::new();
    env.init();
    let server = |dns: &str| {
        vec![
            "server-cert".to_string(),
            "--dns".into(),
            dns.into(),
            "--out-dir".into(),
            "out".into(),
            "--noenc".into(),
        ]
    };
    let long = "a".repeat(300);
    for (dns, says) in [
        ("bad_name.example", "character '_' is not allowed"),
        ("*.example.test", "wildcard"),
        ("bücher.example", "xn--"),
        ("a..b", "empty label"),
        ("10.0.0.1", "IP address"),
        (long.as_str(), "longer than 253"),
        ("host\u{1b}[2J.example", "not allowed"),
    ] {
        let args = server(dns);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&env, &args, 1, "input", says);
    }
    let mut args = server("gw.example.test");
    args.extend(["--ip".into(), "300.1.1.1".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &env,
        &args,
        1,
        "input",
        "--ip: invalid IP address '300.1.1.1'",
    );
    // Neither --passout nor --noenc, and no terminal to ask on.
    refused(
        &env,
        &[
            "server-cert",
            "--dns",
            "gw.example.test",
            "--out-dir",
            "out",
        ],
        1,
        "password",
        "no terminal",
    );
    // Devices: unknown, disabled, a bad UDID.
    let identity = |udid: &'static str| -> Vec<&'static str> {
        vec!["device", "identity", udid, "--out-dir", "out", "--noenc"]
    };
    refused(&env, &identity(UDID), 1, "not_found", "no device");
    env.cmd()
        .args(["device", "add", UDID, "--name", "D"])
        .assert()
        .success();
    env.cmd()
        .args(["device", "disable", UDID])
        .assert()
        .success();
    refused(&env, &identity(UDID), 1, "policy", "is disabled");
    refused(&env, &identity("00008030-XYZ"), 1, "input", "invalid UDID");
    // Output exists: refused without --force, nothing replaced; with
    // --force, replaced.
    std::fs::create_dir(env.path("taken")).unwrap();
    let existing = env.path("taken/server-gw.example.test.pem");
    std::fs::write(&existing, "mine").unwrap();
    let o = env
        .cmd()
        .args(["--json", "server-cert", "--dns", "gw.example.test"])
        .args(["--out-dir", "taken", "--noenc", "--ca-passin", &ca_pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(j["error"]["kind"], "conflict", "{j}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "mine");
    assert_eq!(
        std::fs::read_dir(env.path("taken")).unwrap().count(),
        1,
        "nothing else written"
    );
    let list = run_json(&env, &["cert", "list"]);
    assert_eq!(list["certificates"], serde_json::json!([]));
    let o = env
        .cmd()
        .args([
            "server-cert",
            "--dns",
            "gw.example.test",
            "--out-dir",
            "taken",
        ])
        .args(["--noenc", "--force", "--ca-passin", &ca_pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&existing)
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
}
