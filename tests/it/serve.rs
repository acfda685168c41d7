//! `pushca serve`: the CA as an HTTPS service with scoped tokens and an
//! audit log, driven with curl and a small rustls client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command as StdCommand;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::serve::{serve_cmd, spawn_cmd, start, token, Server};
use crate::common::{stderr, stdout_json, Env, CA_PASS};

fn tls_client(chain: &Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(chain).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(s: &Server) -> Tls {
    let conn = rustls::ClientConnection::new(
        tls_client(&s.chain),
        rustls_pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

fn head(method: &str, path: &str, token: Option<&str>, len: usize) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

/// The status and JSON body of a response read to its end.
fn response(mut tls: Tls) -> (u16, Value) {
    let mut raw = Vec::new();
    // The server closes after its answer (`Connection: close`); rustls
    // reports the peer's close without close_notify as an error, after the data.
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{text}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, json)
}

/// One call over HTTPS with the rustls client.
fn call(s: &Server, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
    let mut tls = connect(s);
    tls.write_all(head(method, path, token, body.len()).as_bytes())
        .unwrap();
    tls.write_all(body).unwrap();
    tls.flush().unwrap();
    response(tls)
}

fn issue_body(env: &Env, bundle: &str, names: &[&str]) -> Vec<u8> {
    let csrs: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(env.openssl_csr(n, "ec:P-256", &[])).unwrap())
        .collect();
    serde_json::to_vec(&json!({ "bundle_id": bundle, "environment": "production", "csrs": csrs }))
        .unwrap()
}

fn audit(env: &Env) -> Vec<Value> {
    let o = env.cmd().args(["--json", "audit"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout_json(&o)["entries"].as_array().unwrap().clone()
}

/// Issue for an App ID with curl (`--cacert` the chain): the certificate
/// verifies with openssl against the CA, the local `cert list` lists it,
/// the audit log has the call with its serial; `/healthz` needs no token.
#[test]
fn serve_issues_over_https_and_the_audit_log_has_the_serial() {
    let (env, s) = start();
    let url = |p: &str| format!("https://localhost:{}{p}", s.port);
    let curl = |args: &[&str]| {
        let o = StdCommand::new("curl")
            .args(["-sS", "--cacert", s.chain.to_str().unwrap()])
            .args(["--resolve", &format!("localhost:{}:127.0.0.1", s.port)])
            .args(["-w", "\n%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (
            code.to_string(),
            serde_json::from_str::<Value>(body).unwrap(),
        )
    };
    let (code, doc) = curl(&[&url("/healthz")]);
    assert_eq!((code.as_str(), doc["status"].as_str()), ("200", Some("ok")));
    let tok = token(&env, &["issue:com.example.app"]);
    std::fs::write(
        env.path("issue.json"),
        issue_body(&env, "com.example.app", &["a"]),
    )
    .unwrap();
    let (code, doc) = curl(&[
        "-H",
        &format!("Authorization: Bearer {tok}"),
        "--data-binary",
        &format!("@{}", env.path("issue.json").display()),
        &url("/v1/certs/issue"),
    ]);
    assert_eq!(code, "200", "{doc}");
    let cert = &doc["certificates"][0];
    let serial = cert["serial"].as_str().unwrap().to_string();
    assert_eq!(cert["bundle_id"], "com.example.app");
    std::fs::write(env.path("a.pem"), cert["pem"].as_str().unwrap()).unwrap();
    let o = env.openssl(&[
        "verify",
        "-CAfile",
        env.ca_pem("root").to_str().unwrap(),
        "-untrusted",
        env.ca_pem("issuing").to_str().unwrap(),
        "a.pem",
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("a.pem: OK"));
    let o = env.cmd().args(["--json", "cert", "list"]).output().unwrap();
    let listed: Vec<String> = stdout_json(&o)["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "push")
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, std::slice::from_ref(&serial));
    let entries = audit(&env);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["operation"], "issue");
    assert_eq!(entries[0]["scope"], "issue:com.example.app");
    assert_eq!(entries[0]["result"], "ok");
    assert_eq!(entries[0]["serials"], json!([serial]));
    // The token is not in the audit log, its id is.
    assert!(tok.contains(entries[0]["token_id"].as_str().unwrap()));
    assert!(!serde_json::to_string(&entries)
        .unwrap()
        .contains(&tok[24..]));
}

/// Every scope rule: another bundle, revoke without `revoke`, admin reads
/// nothing else (403 naming the scope); revoked, expired, malformed, wrong
/// and missing tokens (401). Each call is in the audit log; the store holds
/// no token secret.
#[test]
fn serve_checks_every_token_and_scope_and_audits_each_call() {
    let (env, s) = start();
    let ci = token(&env, &["issue:com.example.app", "read"]);
    let admin = token(&env, &["admin"]);
    let (code, doc) = call(
        &s,
        "POST",
        "/v1/certs/issue",
        Some(&ci),
        &issue_body(&env, "com.example.app", &["a", "b"]),
    );
    assert_eq!(code, 200, "{doc}");
    let serials: Vec<String> = doc["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    let forbidden = |tok: &str, method: &str, path: &str, body: &[u8], scope: &str| {
        let (code, doc) = call(&s, method, path, Some(tok), body);
        assert_eq!(code, 403, "{path}: {doc}");
        assert_eq!(doc["error"]["kind"], "forbidden");
        assert_eq!(doc["error"]["scope"], scope, "{doc}");
        assert!(doc["error"]["message"].as_str().unwrap().contains(scope));
    };
    let other = issue_body(&env, "com.example.other", &["c"]);
    forbidden(
        &ci,
        "POST",
        "/v1/certs/issue",
        &other,
        "issue:com.example.other",
    );
    let revoke_path = format!("/v1/certs/{}/revoke", serials[0]);
    forbidden(&ci, "POST", &revoke_path, b"{}", "revoke");
    forbidden(&admin, "GET", "/v1/certs", b"", "read");
    forbidden(&ci, "GET", "/v1/audit", b"", "admin");
    // read: list and show.
    let (code, doc) = call(
        &s,
        "GET",
        &format!("/v1/certs/{}", serials[1]),
        Some(&ci),
        b"",
    );
    assert_eq!(
        (code, doc["serial"].as_str()),
        (200, Some(serials[1].as_str()))
    );
    // The admin token reads the audit log over the API too.
    let (code, _) = call(&s, "GET", "/v1/audit?since=1h", Some(&admin), b"");
    assert_eq!(code, 200);

    let unauthorized = |tok: Option<&str>, what: &str| {
        let (code, doc) = call(&s, "GET", "/v1/certs", tok, b"");
        assert_eq!(code, 401, "{what}: {doc}");
        assert_eq!(doc["error"]["kind"], "unauthorized", "{what}");
        doc["error"]["message"].as_str().unwrap().to_string()
    };
    let ci_id = ci[7..23].to_string();
    // Wrong: the right id, another secret.
    let wrong = format!("{}{}", &ci[..24], "0".repeat(64));
    assert_eq!(
        unauthorized(Some(&wrong), "wrong"),
        "the token is not valid"
    );
    assert!(unauthorized(Some("pushca_xyz"), "malformed").contains("malformed"));
    assert!(unauthorized(None, "missing").contains("no bearer token"));
    // Revoked.
    let revoked = token(&env, &["read"]);
    env.cmd()
        .args(["token", "revoke", &revoked[7..23]])
        .assert()
        .success();
    assert!(unauthorized(Some(&revoked), "revoked").contains("was revoked"));
    // Expired: its expiry moved into the past in the store.
    let expired = token(&env, &["read"]);
    let db = rusqlite::Connection::open(env.home().join("pushca.db")).unwrap();
    db.execute(
        "UPDATE service_tokens SET expires_at = 1000 WHERE token_id = ?1",
        [&expired[7..23]],
    )
    .unwrap();
    drop(db);
    assert!(unauthorized(Some(&expired), "expired").contains("expired"));

    let entries = audit(&env);
    let summary: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_string(),
                e["scope"].as_str().unwrap_or("-").to_string(),
                e["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s3 = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        summary,
        [
            s3("issue", "issue:com.example.app", "ok"),
            s3("issue", "issue:com.example.other", "forbidden"),
            s3("revoke", "revoke", "forbidden"),
            s3("list", "read", "forbidden"),
            s3("audit", "admin", "forbidden"),
            s3("show", "read", "ok"),
            s3("audit", "admin", "ok"),
            s3("GET /v1/certs", "-", "unauthorized"),
            s3("GET /v1/certs", "-", "unauthorized"),
            s3("GET /v1/certs", "-", "unauthorized"),
            s3("GET /v1/certs", "-", "unauthorized"),
            s3("GET /v1/certs", "-", "unauthorized"),
        ]
    );
    assert_eq!(entries[0]["serials"], json!(serials));
    assert_eq!(entries[0]["token_id"], ci_id.as_str());
    assert_eq!(entries[5]["serials"], json!([serials[1]]));
    // No secret in the store: not in pushca.db (nor its WAL), not in `strings`.
    let secret_of = |t: &str| t[24..].to_string();
    for f in std::fs::read_dir(env.home()).unwrap() {
        let p = f.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            for t in [&ci, &admin, &revoked, &expired] {
                let secret = secret_of(t);
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds a token secret",
                    p.display()
                );
            }
        }
    }
    let strings = StdCommand::new("strings")
        .arg(env.home().join("pushca.db"))
        .output()
        .unwrap();
    let strings = String::from_utf8_lossy(&strings.stdout);
    assert!(!strings.contains(&secret_of(&ci)) && !strings.contains(&secret_of(&admin)));
}

/// A wrong CA passphrase at start: exit 1 with a clear message, fast.
#[test]
fn serve_refuses_a_wrong_passphrase_at_start() {
    let env = Env::new();
    env.init();
    env.cmd()
        .args([
            "server-cert",
            "--dns",
            "localhost",
            "--out-dir",
            "tls",
            "--noenc",
        ])
        .args([
            "--key-type",
            "ec-p256",
            "--ca-passin",
            &format!("pass:{CA_PASS}"),
        ])
        .assert()
        .success();
    let t = Instant::now();
    let o = serve_cmd(&env, "not the passphrase").output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(15));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("passphrase"), "{err}");
    assert!(!err.contains("listening"), "{err}");
}

/// SIGTERM with a call in flight (its body half sent): no new connection
/// is accepted, the call completes, the service exits 0.
#[test]
fn serve_finishes_the_call_in_flight_on_sigterm_and_exits_0() {
    let (env, mut s) = start();
    let tok = token(&env, &["issue:*"]);
    let body = issue_body(&env, "com.example.app", &["a"]);
    let mut tls = connect(&s);
    tls.write_all(head("POST", "/v1/certs/issue", Some(&tok), body.len()).as_bytes())
        .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    tls.write_all(first).unwrap();
    tls.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let kill = StdCommand::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "it waits for the call"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", s.port)).is_err(),
        "no new connection after SIGTERM"
    );
    tls.write_all(rest).unwrap();
    tls.flush().unwrap();
    let (code, doc) = response(tls);
    assert_eq!(code, 200, "{doc}");
    let t = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "still running");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    // The certificate it issued is in the store.
    let o = env
        .cmd()
        .args(["--json", "cert", "list", "--app", "com.example.app"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_json(&o)["certificates"][0]["serial"],
        doc["certificates"][0]["serial"]
    );
}

/// Request limits: a body over 1 MiB is 413, more than 100 CSRs 400, both
/// with a JSON error; nothing is issued.
#[test]
fn serve_limits_the_body_and_the_csrs_per_call() {
    let (env, s) = start();
    let tok = token(&env, &["issue:*", "read"]);
    let big = vec![b' '; 1024 * 1024 + 1];
    let (code, doc) = call(&s, "POST", "/v1/certs/issue", Some(&tok), &big);
    assert_eq!(
        (code, doc["error"]["kind"].as_str()),
        (413, Some("too_large")),
        "{doc}"
    );
    let csr = std::fs::read_to_string(env.openssl_csr("a", "ec:P-256", &[])).unwrap();
    let body = serde_json::to_vec(&json!({
        "bundle_id": "com.example.app",
        "environment": "production",
        "csrs": vec![csr; 101],
    }))
    .unwrap();
    let (code, doc) = call(&s, "POST", "/v1/certs/issue", Some(&tok), &body);
    assert_eq!(
        (code, doc["error"]["kind"].as_str()),
        (400, Some("input")),
        "{doc}"
    );
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 100"));
    let (code, doc) = call(&s, "GET", "/v1/certs?app=com.example.app", Some(&tok), b"");
    assert_eq!(code, 200);
    assert_eq!(doc["certificates"], json!([]));
}

/// `token create` prints the secret once; `token list` never shows it;
/// `token revoke` is idempotent.
#[test]
fn token_secrets_are_shown_once_and_revoke_is_idempotent() {
    let env = Env::new();
    env.init();
    let tok = token(&env, &["read", "issue:com.example.app"]);
    assert!(
        tok.starts_with("pushca_") && tok.len() == 7 + 16 + 1 + 64,
        "{tok}"
    );
    let o = env
        .cmd()
        .args(["--json", "token", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!list.contains(&tok[24..]), "{list}");
    let doc = stdout_json(&o);
    assert_eq!(doc["tokens"][0]["id"], &tok[7..23]);
    assert_eq!(
        doc["tokens"][0]["scopes"],
        json!(["read", "issue:com.example.app"])
    );
    assert_eq!(doc["tokens"][0]["state"], "active");
    for changed in [true, false] {
        let o = env
            .cmd()
            .args(["--json", "token", "revoke", &tok[7..23]])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout_json(&o)["changed"], changed);
    }
    let o = env
        .cmd()
        .args([
            "token",
            "create",
            "--scope",
            "issue:com.x.*",
            "--expires-in",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a scope"), "{}", stderr(&o));
    let o = env
        .cmd()
        .args(["token", "create", "--scope", "read", "--expires-in", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

/// Two replicas of `serve --store URL` on one PostgreSQL database, with no
/// home of their own: each issues, the database lists every certificate
/// either one issued, CRLs signed through either one are numbered one
/// after the other, and the audit log has every call.
#[test]
fn serve_replicas_on_one_postgres_store_share_it() {
    let env = Env::new();
    env.init_with_app();
    env.cmd()
        .args(["server-cert", "--dns", "localhost", "--ip", "127.0.0.1"])
        .args(["--out-dir", "tls", "--noenc", "--key-type", "ec-p256"])
        .args(["--ca-passin", &format!("pass:{CA_PASS}")])
        .assert()
        .success();
    let url = pushca::store::testdb::fresh_url();
    env.cmd()
        .args(["store", "migrate", "--to", &url])
        .assert()
        .success();
    let on_store = |args: &[&str]| {
        let o = env
            .cmd()
            .args(["--json", "--store", &url])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout_json(&o)
    };
    let tok = on_store(&[
        "token",
        "create",
        "--expires-in",
        "1",
        "--scope",
        "issue:*",
        "--scope",
        "revoke",
        "--scope",
        "read",
    ])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let replicas: Vec<Server> = (0..2)
        .map(|i| {
            let mut c = serve_cmd(&env, CA_PASS);
            // No home: the store is the database.
            c.arg("--home")
                .arg(env.path(&format!("no-home-{i}")))
                .args(["--store", &url]);
            spawn_cmd(&env, c)
        })
        .collect();
    let mut issued = Vec::new();
    for (i, s) in replicas.iter().enumerate() {
        let body = issue_body(
            &env,
            "com.example.app",
            &[&format!("r{i}a"), &format!("r{i}b")],
        );
        let (code, doc) = call(s, "POST", "/v1/certs/issue", Some(&tok), &body);
        assert_eq!(code, 200, "{doc}");
        for c in doc["certificates"].as_array().unwrap() {
            issued.push(c["serial"].as_str().unwrap().to_string());
        }
    }
    let mut numbers = Vec::new();
    for s in replicas.iter().chain(replicas.iter()) {
        let (code, doc) = call(s, "POST", "/v1/crl", Some(&tok), b"{}");
        assert_eq!(code, 200, "{doc}");
        numbers.push(doc["number"].as_i64().unwrap());
    }
    assert_eq!(numbers, [1, 2, 3, 4]);
    let mut listed: Vec<String> = on_store(&["cert", "list", "--app", "com.example.app"])
        ["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    issued.sort();
    assert_eq!(listed, issued);
    assert_eq!(issued.len(), 4);
    for i in 0..2 {
        assert!(!env.path(&format!("no-home-{i}")).exists());
    }
    let audit = on_store(&["audit"]);
    assert!(audit["entries"].as_array().unwrap().len() >= 6, "{audit}");
}
