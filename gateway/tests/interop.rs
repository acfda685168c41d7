//! Real provider libraries against `pushca-gateway` on loopback, each with a
//! push certificate: `@parse/node-apn` (npm), `aioapns` and `httpx[http2]`
//! (PyPI); their small scripts are in `tests/clients/`, installed by
//! `scripts/test`. A push reaches a device connected to its notification
//! stream byte for byte, and a refusal reaches the library as Apple's reason.
//! A missing install is a failure that names the install command, never a
//! skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs a client script; its one JSON line of output.
fn run_client(program: &str, args: &[String]) -> serde_json::Value {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run ({e}): run scripts/test --install-only"));
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{program} {args:?} failed: {err}\n{out}"
    );
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {out:?} {err}"))
}

fn node_apn(args: &[String]) -> serde_json::Value {
    let dir = clients().join("node");
    assert!(
        dir.join("node_modules/@parse/node-apn").is_dir(),
        "@parse/node-apn is not installed in {}: run scripts/test --install-only \
         (npm install --prefix gateway/tests/clients/node)",
        dir.display()
    );
    let mut a = vec![dir.join("push.js").display().to_string()];
    a.extend_from_slice(args);
    run_client("node", &a)
}

fn python(script: &str, args: &[String]) -> serde_json::Value {
    let mut a = vec![clients().join(script).display().to_string()];
    a.extend_from_slice(args);
    run_client("python3", &a)
}

/// The port of a listener's URL (`https://127.0.0.1:PORT`).
fn port(url: &str) -> String {
    url.rsplit(':').next().unwrap().to_string()
}

fn path(dir: &Path, rel: &str) -> String {
    dir.join(rel).display().to_string()
}

/// The notification line carries `payload` exactly as sent.
fn assert_byte_for_byte(line: &str, payload: &str) {
    assert!(
        line.ends_with(&format!(r#""payload":{payload}}}"#)),
        "payload not byte for byte:\n sent {payload}\n line {line}"
    );
}

#[test]
fn node_apn_pushes_to_a_connected_device_byte_for_byte() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let stream = Stream::open(dir, &gw, U1);
    // What JSON.stringify gives back for it: node-apn's body.
    let payload = r#"{"aps":{"alert":"Grüße, \"du\" ✓","badge":3},"k":[1,2.5,null]}"#;
    let base = |token: &str| {
        s(&[
            "localhost",
            &port(&gw.dev),
            &path(dir, "home/ca/root.pem"),
            &path(dir, &format!("dev/{APP}-development.pem")),
            &path(dir, &format!("dev/{APP}-development.key")),
            token,
            APP,
            payload,
        ])
    };
    let r = node_apn(&base(&tok));
    assert_eq!(r["failed"], serde_json::json!([]), "{r} {}", gw.log());
    assert_eq!(r["sent"][0]["device"], tok.as_str(), "{r}");
    let line = stream.next().expect("the notification");
    let j: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (j["token"].as_str(), j["topic"].as_str()),
        (Some(&*tok), Some(APP))
    );
    assert_byte_for_byte(&line, payload);
    // A refusal arrives as node-apn's failed entry with Apple's reason.
    let r = node_apn(&base(&"ab".repeat(32)));
    assert_eq!(r["failed"][0]["status"], 400, "{r}");
    assert_eq!(
        r["failed"][0]["response"]["reason"], "BadDeviceToken",
        "{r}"
    );
}

#[test]
fn aioapns_pushes_to_a_connected_device_byte_for_byte() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let stream = Stream::open(dir, &gw, U1);
    // What json.dumps(..., ensure_ascii=False) gives back: aioapns' body.
    let payload = r#"{"aps": {"alert": "Grüße, \"du\" ✓", "badge": 3}, "k": [1, 2.5, null]}"#;
    let base = |token: &str| {
        s(&[
            "localhost",
            &port(&gw.dev),
            &path(dir, "home/ca/root.pem"),
            &path(dir, &format!("dev/{APP}-development-ck.pem")),
            token,
            APP,
            payload,
        ])
    };
    let r = python("aioapns_push.py", &base(&tok));
    assert_eq!(r["status"], "200", "{r} {}", gw.log());
    assert_eq!(r["apns_id"], r["sent_id"], "apns-id echoed: {r}");
    let line = stream.next().expect("the notification");
    let j: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(j["token"], tok.as_str());
    assert_eq!(j["apns_id"], r["sent_id"]);
    assert_eq!(j["collapse_id"], "aio");
    assert_byte_for_byte(&line, payload);
    let r = python("aioapns_push.py", &base(&"ab".repeat(32)));
    assert_eq!(
        (r["status"].as_str(), r["description"].as_str()),
        (Some("400"), Some("BadDeviceToken")),
        "{r}"
    );
}

#[test]
fn httpx_pushes_over_http2_to_a_connected_device_byte_for_byte() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "production");
    let stream = Stream::open(dir, &gw, U1);
    // Sent as bytes: odd whitespace and escapes survive.
    let payload = r#"{ "aps" : {"alert":"\u00e9 \\ \/"} ,"n":1e3, "deep":[[{}]] }"#;
    let r = python(
        "httpx_push.py",
        &s(&[
            &format!("https://localhost:{}/3/device/{tok}", port(&gw.prod)),
            &path(dir, "home/ca/root.pem"),
            &path(dir, &format!("uni/{APP}-universal.pem")),
            &path(dir, &format!("uni/{APP}-universal.key")),
            APP,
            payload,
        ]),
    );
    assert_eq!(r["http_version"], "HTTP/2", "{r}");
    assert_eq!(r["status"], 200, "{r} {}", gw.log());
    assert_eq!(r["body"], "", "{r}");
    let line = stream.next().expect("the notification");
    let j: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(j["apns_id"], r["apns_id"]);
    assert_eq!(j["priority"], "5");
    assert_byte_for_byte(&line, payload);
}
