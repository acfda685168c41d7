//! `pushca-gateway` driven as a process, with real clients: curl --http2
//! for the providers (a push certificate and its key) and for the devices
//! (their `pushca device identity`), on a CA, trust store and certificates
//! made by the `pushca` binary. Every gateway listens on 127.0.0.1:0 and the
//! tests read the bound ports from its "listening" log lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A device's open notification stream (curl -N): its lines.
struct Stream {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Stream {
    fn open(dir: &Path, gw: &Gateway, udid: &str) -> Stream {
        let mut child = Command::new("curl")
            .args(["-sS", "-N", "--http2", "--cacert"])
            .arg(dir.join("home/ca/root.pem"))
            .args(device(dir, udid))
            .arg(format!("{}/1/notifications", gw.devices))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        gw.wait_log(&format!("device {udid}: notification stream opened"));
        Stream { child, lines }
    }

    fn next(&self) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(3)).ok()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_push_reaches_the_device_stream_byte_for_byte() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    assert_eq!(tok.len(), 64);
    assert_eq!(
        token(dir, &gw, U1, "development"),
        tok,
        "the same token again"
    );
    let stream = Stream::open(dir, &gw, U1);
    let payload = r#"{"aps" : {"alert":"Grüße, \"du\"", "badge":3},  "k":[1, 2.50]}"#;
    let r = push(
        dir,
        &gw.dev,
        &provider(dir, "dev"),
        &tok,
        payload,
        &["apns-collapse-id: c1"],
    );
    assert_eq!(r.status, 200, "{} {}", r.body, gw.log());
    let apns_id = r.header("apns-id").expect("apns-id");
    let line = stream.next().expect("a notification line");
    let j: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(j["token"], tok.as_str());
    assert_eq!(j["topic"], APP);
    assert_eq!(j["apns_id"], apns_id.as_str());
    assert_eq!(j["push_type"], "alert");
    assert_eq!(j["collapse_id"], "c1");
    assert!(
        line.contains(&format!(r#""payload":{payload}}}"#)),
        "payload not byte for byte: {line}"
    );
    // Upper case is the same token.
    let r = push(
        dir,
        &gw.dev,
        &provider(dir, "dev"),
        &tok.to_uppercase(),
        "{}",
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(stream.next().is_some());
    assert_eq!(gw.stop(), Some(0), "SIGTERM exits 0");
}

#[test]
fn an_unregistered_token_is_410_with_a_recent_timestamp() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let mut a = device(dir, U1);
    a.extend(s(&[
        "-X",
        "DELETE",
        &format!("{}/1/registrations/{tok}", gw.devices),
    ]));
    // Another device cannot unregister it.
    let mut other = device(dir, U2);
    other.extend_from_slice(&a[4..]);
    assert_eq!(curl(dir, &other).status, 404);
    assert_eq!(curl(dir, &a).status, 204);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let r = push(dir, &gw.dev, &provider(dir, "dev"), &tok, "{}", &[]);
    assert_eq!(r.status, 410, "{}", r.body);
    assert!(r.header("apns-id").is_some());
    let j = r.json();
    assert_eq!(j["reason"], "Unregistered");
    let ts = j["timestamp"].as_u64().unwrap();
    assert!(
        ts <= now_ms + 1000 && ts + 60_000 > now_ms,
        "{ts} vs {now_ms}"
    );
    // A new registration gets a new token.
    assert_ne!(token(dir, &gw, U1, "development"), tok);
}

#[test]
fn the_environments_are_apart() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let dev_tok = token(dir, &gw, U1, "development");
    let prod_tok = token(dir, &gw, U1, "production");
    assert_ne!(dev_tok, prod_tok);
    let uni = provider(dir, "uni");
    // A development token on the production listener, and the reverse.
    let r = push(dir, &gw.prod, &uni, &dev_tok, "{}", &[]);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (400, "BadDeviceToken".into())
    );
    let r = push(dir, &gw.dev, &uni, &prod_tok, "{}", &[]);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (400, "BadDeviceToken".into())
    );
    // A token nobody registered.
    let r = push(dir, &gw.dev, &uni, &"ab".repeat(32), "{}", &[]);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (400, "BadDeviceToken".into())
    );
    // A development-only certificate on the production listener.
    let r = push(dir, &gw.prod, &provider(dir, "dev"), &prod_tok, "{}", &[]);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, "BadCertificateEnvironment".into())
    );
    // The universal certificate on each listener, with its own token.
    assert_eq!(push(dir, &gw.prod, &uni, &prod_tok, "{}", &[]).status, 200);
    assert_eq!(push(dir, &gw.dev, &uni, &dev_tok, "{}", &[]).status, 200);
}

#[test]
fn a_connection_without_a_certificate_is_missing_provider_token() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let r = push(dir, &gw.dev, &[], &tok, "{}", &[]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({"reason": "MissingProviderToken"})
    );
    assert!(r.header("apns-id").is_some(), "{}", r.headers);
    // The device listener requires a certificate at the handshake.
    let r = curl(dir, &s(&[&format!("{}/1/notifications", gw.devices)]));
    assert_eq!(r.status, 0, "no TLS without a device identity");
}

#[test]
fn identities_stay_on_their_own_listener() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    // A device identity is no provider.
    let r = push(dir, &gw.dev, &device(dir, U1), &tok, "{}", &[]);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, "BadCertificate".into())
    );
    // A push certificate is no device.
    let mut a = provider(dir, "dev");
    a.extend(s(&[
        "-X",
        "POST",
        "-d",
        &format!(r#"{{"bundle_id":"{APP}","environment":"development"}}"#),
        &format!("{}/1/registrations", gw.devices),
    ]));
    let r = curl(dir, &a);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, "BadCertificate".into())
    );
    // A device outside the development profile cannot register there.
    let r = register(dir, &gw, U2, "development");
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, "DeviceNotProvisioned".into())
    );
    // It can in production (a profile for all devices).
    assert_eq!(register(dir, &gw, U2, "production").status, 201);
}

#[test]
fn an_offline_device_gets_the_newest_stored_notification_on_connect() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let later = format!(
        "apns-expiration: {}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600
    );
    let dev = provider(dir, "dev");
    for n in 1..=2 {
        let r = push(
            dir,
            &gw.dev,
            &dev,
            &tok,
            &format!(r#"{{"n":{n}}}"#),
            &[&later],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = push(
        dir,
        &gw.dev,
        &dev,
        &tok,
        r#"{"n":3}"#,
        &["apns-expiration: 0"],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let stream = Stream::open(dir, &gw, U1);
    let line = stream.next().expect("the stored notification");
    assert!(line.ends_with(r#""payload":{"n":2}}"#), "{line}");
    assert_eq!(
        stream.next(),
        None,
        "only the newest, and nothing expiring at 0"
    );
}

#[test]
fn a_restart_keeps_registrations_and_the_version_floor() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    assert_eq!(gw.stop(), Some(0));
    // The older trust store (version 1) is refused at start.
    let o = gateway_cmd(dir, "ts-old", state.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("version 1 is older than version 2"), "{err}");
    // The current one serves the same registration.
    let gw = Gateway::start(dir, "ts", state.path());
    assert_eq!(token(dir, &gw, U1, "development"), tok);
    assert_eq!(
        push(dir, &gw.dev, &provider(dir, "dev"), &tok, "{}", &[]).status,
        200
    );
    // A kill -9 loses nothing acknowledged either.
    let tok2 = token(dir, &gw, U1, "production");
    drop(gw);
    let gw = Gateway::start(dir, "ts", state.path());
    assert_eq!(token(dir, &gw, U1, "production"), tok2);
}

#[test]
fn startup_errors_are_one_line_and_exit_1() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let run = |cmd: &mut Command| {
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    let mut c = Command::new(gateway_bin());
    c.current_dir(dir).args([
        "--trust-store",
        "ts",
        "--anchor",
        "home/ca/root.pem",
        "--state",
        "st",
        "--tls-cert",
        "srv/server-localhost-fullchain.pem",
        "--tls-key",
        "srv/server-localhost.key",
    ]);
    assert!(run(&mut c).contains("no provider listener"));
    // An encrypted key is refused, naming the file.
    let enc = state.path().join("enc.key");
    let ok = Command::new("openssl")
        .current_dir(dir)
        .args([
            "pkey",
            "-in",
            "srv/server-localhost.key",
            "-aes256",
            "-passout",
            "pass:x",
            "-out",
        ])
        .arg(&enc)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let st = state.path().join("st");
    let err = run(&mut gateway_cmd_with(
        dir,
        "ts",
        &st,
        "home/ca/root.pem",
        &enc,
    ));
    assert!(
        err.contains("enc.key") && err.contains("encrypted"),
        "{err}"
    );
    // A foreign anchor.
    let key = Path::new("srv/server-localhost.key");
    let other = "srv/server-localhost.pem";
    assert!(run(&mut gateway_cmd_with(dir, "ts", &st, other, key)).contains("anchor"));
    // A missing flag (clap's message on one line).
    assert!(run(Command::new(gateway_bin()).args(["--trust-store", "ts"])).contains("--anchor"));
}

#[test]
fn a_revoked_certificate_is_refused_after_sighup_and_a_tampered_store_is_not_loaded() {
    let fx = own_fixture();
    let dir = fx.path();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let dev = provider(dir, "dev");
    let uni = provider(dir, "uni");
    assert_eq!(push(dir, &gw.dev, &dev, &tok, "{}", &[]).status, 200);
    // A tampered store: refused, the old one keeps serving.
    let policy = dir.join("ts/policy.json");
    let good = std::fs::read(&policy).unwrap();
    std::fs::write(&policy, [&good[..], b" "].concat()).unwrap();
    gw.signal("-HUP");
    gw.wait_log("refused, still serving version 2");
    assert_eq!(push(dir, &gw.dev, &dev, &tok, "{}", &[]).status, 200);
    std::fs::write(&policy, &good).unwrap();
    // Revoke the development certificate, publish, SIGHUP.
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(format!("dev/{APP}-development.pem"))
        .output()
        .unwrap();
    let serial = String::from_utf8_lossy(&o.stdout)
        .trim()
        .trim_start_matches("serial=")
        .to_string();
    pushca(dir, &["cert", "revoke", &serial]);
    pushca(dir, &["gateway", "trust-store", "--out", "ts"]);
    gw.signal("-HUP");
    gw.wait_log("trust store version 3 serving");
    // New handshakes with the revoked certificate fail; others go on.
    let r = push(dir, &gw.dev, &dev, &tok, "{}", &[]);
    assert_ne!(r.status, 200, "{} {}", r.body, gw.log());
    assert_eq!(push(dir, &gw.dev, &uni, &tok, "{}", &[]).status, 200);
    drop(gw);
    // The version served is kept: version 2 is refused now.
    let o = gateway_cmd(dir, "ts-old", state.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
}
