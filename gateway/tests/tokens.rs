//! Token-based provider authentication against `pushca-gateway` on
//! loopback: a home with `pushca key create` keys (team-scoped development,
//! topic-specific, production, a revoked one, a second team's), its trust
//! store, connections without a client certificate sending
//! `authorization: bearer <JWT>`. Real clients (`@parse/node-apn`'s
//! `token`, aioapns' `key`/`key_id`/`team_id`, curl with a PyJWT token),
//! every token reason, the per-connection rules (one team, one change in
//! 20 minutes), a revocation picked up by a reload, hostile tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const TEAM: &str = "ABCDE12345";
const TEAM2: &str = "ZYXWV98765";
/// An App ID of the home with push and a development profile, outside the
/// topic-specific key.
const OTHER: &str = "com.example.other";
/// An App ID with push and a development profile for U1, whose push
/// capability a test removes.
const LATER: &str = "com.example.later";

/// The keys of the token fixture: Key IDs, their .p8 under `keys/<name>/`.
struct Keys {
    /// Team-scoped, development.
    team: String,
    /// Development, for `OTHER` only.
    topic: String,
    /// Team-scoped, production.
    prod: String,
    /// Development, revoked.
    revoked: String,
    /// Development, revoked by a test (in its own copy of the home).
    later: String,
    /// The second team's, development.
    team2: String,
}

fn key_id(dir: &Path, name: &str) -> String {
    let d = dir.join("keys").join(name);
    let f = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("AuthKey_") && n.ends_with(".p8"))
        .unwrap_or_else(|| panic!("no AuthKey_*.p8 in {}", d.display()));
    f["AuthKey_".len()..f.len() - 3].to_string()
}

fn p8(dir: &Path, name: &str, kid: &str) -> String {
    path(dir, &format!("keys/{name}/AuthKey_{kid}.p8"))
}

/// The gateway fixture plus two App IDs, the keys, and the trust store
/// `tsk` with them.
fn build_token_fixture(dir: &Path) -> Keys {
    build_fixture(dir);
    let p = |args: &[&str]| {
        pushca(dir, args);
    };
    for app in [OTHER, LATER] {
        p(&["app", "create", app, "--push"]);
        // A profile needs a push certificate to authorise.
        p(&[
            "cert",
            "create",
            "--app",
            app,
            "--env",
            "development",
            "--out-dir",
            &format!("certs-{app}"),
            "--noenc",
            "--key-type",
            "ec-p256",
        ]);
        p(&[
            "profile",
            "create",
            "--app",
            app,
            "--env",
            "development",
            "--device",
            U1,
            "--out",
            &format!("{app}.mobileprovision"),
        ]);
    }
    p(&["team", "create", "Other Team", "--team-id", TEAM2]);
    let key = |name: &str, extra: &[&str]| {
        let out = format!("keys/{name}");
        let mut a = vec!["key", "create", "--out-dir", &out];
        a.extend_from_slice(extra);
        p(&a);
        key_id(dir, name)
    };
    // Revoked before `later` is made: at most two active team-scoped keys
    // per team and environment.
    let revoked = key("revoked", &["--env", "development"]);
    pushca(dir, &["key", "revoke", &revoked]);
    let keys = Keys {
        team: key("team", &["--env", "development"]),
        topic: key("topic", &["--env", "development", "--app", OTHER]),
        prod: key("prod", &["--env", "production"]),
        revoked,
        later: key("later", &["--env", "development"]),
        team2: key("team2", &["--env", "development", "--team", TEAM2]),
    };
    p(&["gateway", "trust-store", "--out", "tsk"]);
    keys
}

fn token_fixture() -> (&'static Path, &'static Keys) {
    static FX: OnceLock<(tempfile::TempDir, Keys)> = OnceLock::new();
    let (d, k) = FX.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let k = build_token_fixture(d.path());
        (d, k)
    });
    (d.path(), k)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Tokens made by `tests/clients/jwt_tokens.py` (PyJWT, and by hand) from
/// its JSON specs.
fn jwts(specs: &[serde_json::Value]) -> Vec<String> {
    let mut child = std::process::Command::new("python3")
        .arg(clients().join("jwt_tokens.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(serde_json::to_string(specs).unwrap().as_bytes())
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "jwt_tokens.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A spec: an ES256 token of key `name` (Key ID `kid`) for `iss` at `iat`.
fn spec(dir: &Path, name: &str, kid: &str, iss: &str, iat: i64) -> serde_json::Value {
    serde_json::json!({"key": p8(dir, name, kid), "kid": kid, "iss": iss, "iat": iat})
}

/// A push by curl without a client certificate, with `headers`.
fn curl_push(dir: &Path, url: &str, device: &str, headers: &[String]) -> Reply {
    let mut a = Vec::new();
    for h in headers {
        a.extend(s(&["-H", h]));
    }
    a.extend(s(&[
        "--data-binary",
        r#"{"aps":{"alert":"t"}}"#,
        &format!("{url}/3/device/{device}"),
    ]));
    curl(dir, &a)
}

fn bearer(jwt: &str) -> String {
    format!("authorization: bearer {jwt}")
}

fn topic(t: &str) -> String {
    format!("apns-topic: {t}")
}

/// Registers `udid` for `app` in development: its device token.
fn register_for(dir: &Path, gw: &Gateway, udid: &str, app: &str) -> String {
    let mut a = device(dir, udid);
    a.extend(s(&[
        "-X",
        "POST",
        "-d",
        &format!(r#"{{"bundle_id":"{app}","environment":"development"}}"#),
        &format!("{}/1/registrations", gw.devices),
    ]));
    let r = curl(dir, &a);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

fn reason(r: &Reply) -> (u16, String) {
    let reason = if r.body.is_empty() {
        String::new()
    } else {
        r.json()["reason"].as_str().unwrap_or("").to_string()
    };
    (r.status, reason)
}

#[test]
fn token_clients_push_to_a_connected_device_byte_for_byte() {
    let (dir, k) = token_fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "tsk", state.path());
    let tok = token(dir, &gw, U1, "development");
    let stream = Stream::open(dir, &gw, U1);
    let next = |what: &str| {
        let line = stream
            .next()
            .unwrap_or_else(|| panic!("no notification from {what}: {}", gw.log()));
        let j: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (j["token"].as_str(), j["topic"].as_str()),
            (Some(&*tok), Some(APP)),
            "{what}"
        );
        line
    };

    // @parse/node-apn: `token: {key, keyId, teamId}`.
    let payload = r#"{"aps":{"alert":"Grüße, \"node\" ✓","badge":3},"k":[1,2.5,null]}"#;
    let r = node(
        "push.js",
        &s(&[
            "localhost",
            &port(&gw.dev),
            &path(dir, "home/ca/root.pem"),
            "token",
            &p8(dir, "team", &k.team),
            &k.team,
            TEAM,
            &tok,
            APP,
            payload,
        ]),
    );
    assert_eq!(r["failed"], serde_json::json!([]), "{r} {}", gw.log());
    assert_byte_for_byte(&next("node-apn"), payload);

    // aioapns: `key`, `key_id`, `team_id`.
    let payload = r#"{"aps": {"alert": "Grüße, \"aio\" ✓"}, "k": [1, 2.5, null]}"#;
    let r = python(
        "aioapns_token_push.py",
        &s(&[
            "localhost",
            &port(&gw.dev),
            &path(dir, "home/ca/root.pem"),
            &p8(dir, "team", &k.team),
            &k.team,
            TEAM,
            &tok,
            APP,
            payload,
        ]),
    );
    assert_eq!(r["status"], "200", "{r} {}", gw.log());
    assert_byte_for_byte(&next("aioapns"), payload);

    // curl --http2 with a PyJWT token, the scheme in another case.
    let jwt = &jwts(&[spec(dir, "team", &k.team, TEAM, now())])[0];
    let payload = r#"{ "aps" : {"alert":"\u00e9 curl"} }"#;
    let mut a = s(&[
        "-H",
        &format!("authorization: Bearer {jwt}"),
        "-H",
        &topic(APP),
        "--data-binary",
        payload,
    ]);
    a.push(format!("{}/3/device/{tok}", gw.dev));
    let r = curl(dir, &a);
    assert_eq!(r.status, 200, "{} {}", r.body, gw.log());
    assert_byte_for_byte(&next("curl"), payload);
}

/// What a push is, its headers, its device token, and the answer expected.
type Case<'a> = (&'a str, Vec<String>, &'a str, (u16, &'a str));

#[test]
fn every_token_reason_through_curl_with_metrics_and_events() {
    let (dir, k) = token_fixture();
    let state = tempfile::tempdir().unwrap();
    let events = state.path().join("events.jsonl");
    let gw = Gateway::start_with(
        dir,
        "tsk",
        state.path(),
        &[
            "--metrics",
            "127.0.0.1:0",
            "--events",
            events.to_str().unwrap(),
        ],
        &[],
    );
    let tok = token(dir, &gw, U1, "development");
    let other = register_for(dir, &gw, U1, OTHER);
    let t = now();
    let team = |iat: i64| spec(dir, "team", &k.team, TEAM, iat);
    let mut specs = vec![
        team(t),
        // Bad signature.
        {
            let mut x = team(t);
            x["tamper"] = true.into();
            x
        },
        // Unknown Key ID (a key's signature, another kid).
        serde_json::json!({"key": p8(dir, "team", &k.team), "kid": "ZZZZZZZZZZ", "iss": TEAM, "iat": t}),
        spec(dir, "revoked", &k.revoked, TEAM, t),
        // Wrong iss.
        spec(dir, "team", &k.team, TEAM2, t),
        serde_json::json!({"alg": "HS256", "kid": k.team, "iss": TEAM, "iat": t}),
        serde_json::json!({"alg": "none", "kid": k.team, "iss": TEAM, "iat": t}),
        team(t - 3601),
        // More than 60 s ahead (by the time it is pushed: a margin).
        team(t + 65),
        spec(dir, "prod", &k.prod, TEAM, t),
        spec(dir, "topic", &k.topic, TEAM, t),
        spec(dir, "team2", &k.team2, TEAM2, t),
    ];
    let j = jwts(&specs);
    specs.clear();
    let h = |jwt: &str, t: &str| vec![bearer(jwt), topic(t)];
    let cases: Vec<Case> = vec![
        ("valid", h(&j[0], APP), &tok, (200, "")),
        (
            "bad signature",
            h(&j[1], APP),
            &tok,
            (403, "InvalidProviderToken"),
        ),
        (
            "unknown Key ID",
            h(&j[2], APP),
            &tok,
            (403, "InvalidProviderToken"),
        ),
        (
            "revoked key",
            h(&j[3], APP),
            &tok,
            (403, "InvalidProviderToken"),
        ),
        (
            "wrong iss",
            h(&j[4], APP),
            &tok,
            (403, "InvalidProviderToken"),
        ),
        ("HS256", h(&j[5], APP), &tok, (403, "InvalidProviderToken")),
        (
            "alg none",
            h(&j[6], APP),
            &tok,
            (403, "InvalidProviderToken"),
        ),
        (
            "iat 3601 s old",
            h(&j[7], APP),
            &tok,
            (403, "ExpiredProviderToken"),
        ),
        (
            "iat 65 s ahead",
            h(&j[8], APP),
            &tok,
            (403, "InvalidProviderToken"),
        ),
        (
            "production key",
            h(&j[9], APP),
            &tok,
            (403, "BadEnvironmentKeyInToken"),
        ),
        (
            "topic outside the key",
            h(&j[10], APP),
            &tok,
            (400, "TopicDisallowed"),
        ),
        ("topic of the key", h(&j[10], OTHER), &other, (200, "")),
        (
            "App ID of another team",
            h(&j[11], APP),
            &tok,
            (400, "TopicDisallowed"),
        ),
        (
            "device token of another App ID",
            h(&j[0], OTHER),
            &tok,
            (400, "DeviceTokenNotForTopic"),
        ),
        (
            "no apns-topic",
            vec![bearer(&j[0])],
            &tok,
            (400, "MissingTopic"),
        ),
        (
            "no authorization",
            vec![topic(APP)],
            &tok,
            (403, "MissingProviderToken"),
        ),
        (
            "another scheme",
            vec![format!("authorization: basic {}", j[0]), topic(APP)],
            &tok,
            (403, "MissingProviderToken"),
        ),
        (
            "a bare token",
            vec![format!("authorization: {}", j[0]), topic(APP)],
            &tok,
            (403, "MissingProviderToken"),
        ),
    ];
    for (what, headers, device, (status, why)) in &cases {
        let r = curl_push(dir, &gw.dev, device, headers);
        assert_eq!(
            reason(&r),
            (*status, why.to_string()),
            "{what}: {} {}",
            r.body,
            gw.log()
        );
    }
    // The production key on the production listener: past the token
    // checks (no production registration: BadDeviceToken).
    let r = curl_push(dir, &gw.prod, &tok, &h(&j[9], APP));
    assert_eq!(reason(&r), (400, "BadDeviceToken".into()), "{}", r.body);

    // /metrics: by auth.
    let m = curl(dir, &s(&[&format!("{}/metrics", gw.metrics)])).body;
    for (series, n) in [
        (
            r#"env="development",auth="token",result="accepted",reason="stored""#,
            2,
        ),
        (
            r#"env="development",auth="token",result="rejected",reason="InvalidProviderToken""#,
            7,
        ),
        (
            r#"env="development",auth="token",result="rejected",reason="MissingProviderToken""#,
            3,
        ),
        (
            r#"env="development",auth="token",result="rejected",reason="TopicDisallowed""#,
            2,
        ),
        (
            r#"env="development",auth="certificate",result="rejected",reason="InvalidProviderToken""#,
            0,
        ),
    ] {
        let line = format!("pushca_gateway_pushes_total{{{series}}} {n}\n");
        assert!(m.contains(&line), "no {line} in\n{m}");
    }
    // --events: auth, key_id and team_id; never a token.
    let text = std::fs::read_to_string(&events).unwrap();
    for jwt in &j {
        let sig = jwt.rsplit('.').next().unwrap();
        assert!(
            sig.is_empty() || !text.contains(sig),
            "a token in the events"
        );
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), cases.len() + 1, "{text}");
    let ok = &lines[0];
    assert_eq!(ok["auth"], "token", "{ok}");
    assert_eq!(ok["key_id"], k.team.as_str());
    assert_eq!(ok["team_id"], TEAM);
    assert_eq!(ok["result"], "accepted");
    assert!(ok.get("cert").is_none(), "{ok}");
    let bad = &lines[1];
    assert_eq!(
        (bad["auth"].as_str(), bad["reason"].as_str()),
        (Some("token"), Some("InvalidProviderToken"))
    );
    assert_eq!(bad["key_id"], serde_json::Value::Null);
    let scoped = &lines[10];
    assert_eq!(
        (scoped["reason"].as_str(), scoped["key_id"].as_str()),
        (Some("TopicDisallowed"), Some(k.topic.as_str())),
        "{scoped}"
    );
    // A certificate push says so.
    let dev = provider(dir, "dev");
    assert_eq!(push(dir, &gw.dev, &dev, &tok, "{}", &[]).status, 200);
    let text = std::fs::read_to_string(&events).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["auth"].as_str(), last["bundle_id"].as_str()),
        (Some("certificate"), Some(APP)),
        "{last}"
    );
    assert!(last.get("key_id").is_none(), "{last}");
}

#[test]
fn one_connection_one_team_and_one_token_change_in_20_minutes() {
    let (dir, k) = token_fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "tsk", state.path());
    let tok = token(dir, &gw, U1, "development");
    let t = now();
    let j = jwts(&[
        spec(dir, "team", &k.team, TEAM, t),
        spec(dir, "team", &k.team, TEAM, t - 1),
        spec(dir, "team", &k.team, TEAM, t - 2),
        spec(dir, "team2", &k.team2, TEAM2, t),
    ]);
    let on_one_connection = |tokens: &[&str]| -> Vec<(u16, String)> {
        let mut a = s(&[
            "localhost",
            &port(&gw.dev),
            &path(dir, "home/ca/root.pem"),
            &tok,
            APP,
        ]);
        a.extend(tokens.iter().map(|t| t.to_string()));
        let r = python("h2_tokens.py", &a);
        r.as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let body = x["body"].as_str().unwrap();
                let reason = if body.is_empty() {
                    String::new()
                } else {
                    serde_json::from_str::<serde_json::Value>(body).unwrap()["reason"]
                        .as_str()
                        .unwrap()
                        .to_string()
                };
                (x["status"].as_u64().unwrap() as u16, reason)
            })
            .collect()
    };
    let ok = (200, String::new());
    let too_many = (429, "TooManyProviderTokenUpdates".to_string());
    // A, A again (the same bytes), B (one change), C (a second change
    // within 20 minutes: refused, B stays current), B.
    assert_eq!(
        on_one_connection(&[&j[0], &j[0], &j[1], &j[2], &j[1]]),
        [ok.clone(), ok.clone(), ok.clone(), too_many, ok.clone()],
        "{}",
        gw.log()
    );
    // One team per connection: a valid token of the second team.
    assert_eq!(
        on_one_connection(&[&j[0], &j[3]]),
        [ok.clone(), (403, "InvalidProviderToken".into())]
    );
    // On a connection of its own, the second team's token is past the
    // token checks (its team has no App ID com.example.app).
    assert_eq!(
        on_one_connection(&[&j[3]]),
        [(400, "TopicDisallowed".into())]
    );
}

#[test]
fn a_revoked_key_and_an_app_id_without_push_are_refused_after_a_reload() {
    let (fx, k) = token_fixture();
    let own = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fx.display()))
        .arg(own.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let dir = own.path();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "tsk", state.path());
    let tok = token(dir, &gw, U1, "development");
    let later = register_for(dir, &gw, U1, LATER);
    let j = jwts(&[
        spec(dir, "later", &k.later, TEAM, now()),
        spec(dir, "team", &k.team, TEAM, now()),
    ]);
    let push = |jwt: &str, app: &str, device: &str| {
        reason(&curl_push(dir, &gw.dev, device, &[bearer(jwt), topic(app)]))
    };
    assert_eq!(push(&j[0], APP, &tok), (200, String::new()));
    assert_eq!(push(&j[1], LATER, &later), (200, String::new()));
    // An HTTP/2 connection open across the reload, its token accepted
    // before.
    let mut held = std::process::Command::new("python3")
        .arg(clients().join("h2_tokens.py"))
        .args(s(&[
            "localhost",
            &port(&gw.dev),
            &path(dir, "home/ca/root.pem"),
            &tok,
            APP,
            &j[0],
            "wait",
            &j[0],
        ]))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(held.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), r#"{"waiting": 1}"#);
    pushca(dir, &["key", "revoke", &k.later]);
    pushca(dir, &["app", "set", LATER, "--no-push"]);
    pushca(dir, &["gateway", "trust-store", "--out", "tsk", "--force"]);
    gw.signal("-HUP");
    gw.wait_log("trust store version 4 serving");
    {
        use std::io::Write;
        held.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(held.wait().unwrap().success());
    let answers: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        answers,
        serde_json::json!([
            {"status": 200, "body": ""},
            {"status": 403, "body": r#"{"reason":"InvalidProviderToken"}"#}
        ]),
        "the same token on the open connection, after the reload"
    );
    assert_eq!(
        push(&j[0], APP, &tok),
        (403, "InvalidProviderToken".into()),
        "{}",
        gw.log()
    );
    assert_eq!(push(&j[1], LATER, &later), (400, "TopicDisallowed".into()));
    assert_eq!(push(&j[1], APP, &tok), (200, String::new()));
}

#[test]
fn hostile_tokens_are_refused_fast_and_the_gateway_keeps_serving() {
    let (dir, k) = token_fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "tsk", state.path());
    let tok = token(dir, &gw, U1, "development");
    let valid = &jwts(&[spec(dir, "team", &k.team, TEAM, now())])[0];
    let mut parts = valid.split('.');
    let (header, claims, sig) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    // base64url of 1350 `[` then 1350 `]` ("[[[" is W1tb, "]]]" XV1d):
    // within the 4096 bytes, far deeper than any JSON parser takes.
    let deep = format!("{}{}", "W1tb".repeat(450), "XV1d".repeat(450));
    let hostile: Vec<(&str, String)> = vec![
        ("1 MB", "A".repeat(1 << 20)),
        ("10,000 dots", ".".repeat(10_000)),
        ("deep JSON header", format!("{deep}.{claims}.{sig}")),
        ("deep JSON claims", format!("{header}.{deep}.{sig}")),
        (
            "huge base64",
            format!("{header}.{claims}.{}", "A".repeat(12_000)),
        ),
        (
            "not base64url",
            format!("{header}.{claims}.{}", "*".repeat(86)),
        ),
        ("four segments", format!("{header}.{claims}.{sig}.{sig}")),
    ];
    let started = Instant::now();
    for (what, jwt) in &hostile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            f.path(),
            format!("authorization: bearer {jwt}\napns-topic: {APP}\n"),
        )
        .unwrap();
        let t = Instant::now();
        let r = curl(
            dir,
            &s(&[
                "-H",
                &format!("@{}", f.path().display()),
                "--data-binary",
                "{}",
                &format!("{}/3/device/{tok}", gw.dev),
            ]),
        );
        // Refused by the token checks, or by the connection's header
        // list limit (a 431, or the stream/connection reset: curl's 0).
        assert!(
            (r.status == 403 && reason(&r).1 == "InvalidProviderToken")
                || r.status == 431
                || r.status == 0,
            "{what}: {} {}",
            r.status,
            r.body
        );
        assert!(t.elapsed() < Duration::from_secs(3), "{what}: slow");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Still serving, tokens and certificates alike.
    let r = curl_push(dir, &gw.dev, &tok, &[bearer(valid), topic(APP)]);
    assert_eq!(r.status, 200, "{}", r.body);
    let dev = provider(dir, "dev");
    assert_eq!(push(dir, &gw.dev, &dev, &tok, "{}", &[]).status, 200);
}
