//! Real provider libraries against `pushca-gateway` on loopback, each with a
//! push certificate: `@parse/node-apn` (npm), `aioapns` and `httpx[http2]`
//! (PyPI); their small scripts are in `tests/clients/`, installed by
//! `scripts/test`. A push reaches a device connected to its notification
//! stream byte for byte, and a refusal reaches the library as Apple's reason.
//! A missing install is a failure that names the install command, never a
//! skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn node_apn(args: &[String]) -> serde_json::Value {
    node("push.js", args)
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
            "cert",
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
