//! `pushca-gateway` driven as a process, with real clients: curl --http2
//! for the providers (a push certificate and its key) and for the devices
//! (their `pushca device identity`), on a CA, trust store and certificates
//! made by the `pushca` binary. Every gateway listens on 127.0.0.1:0 and the
//! tests read the bound ports from its "listening" log lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const PASS: &str = "gateway-test-ca-pass";
const U1: &str = "00008030-001A0C3E0E68802E";
const U2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const APP: &str = "com.example.app";

fn gateway_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pushca-gateway"))
}

/// The `pushca` binary beside the gateway's (built when missing).
fn pushca_bin() -> PathBuf {
    let p = gateway_bin().with_file_name("pushca");
    if !p.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "pushca", "--bin", "pushca"])
            .status()
            .unwrap()
            .success();
        assert!(ok && p.exists(), "cannot build the pushca binary");
    }
    p
}

fn pushca(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(pushca_bin())
        .current_dir(dir)
        .env("PUSHCA_HOME", dir.join("home"))
        .env("PUSHCA_CA_PASSPHRASE", PASS)
        .arg("-q")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pushca {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A CA home with com.example.app (push), devices U1 and U2 with their
/// identities, a server certificate for localhost/127.0.0.1, a development
/// and a universal push certificate, a development profile listing U1 and
/// a production profile for all devices; `ts-old` is the trust store before
/// the production profile (version 1), `ts` the current one (version 2).
fn build_fixture(dir: &Path) {
    let p = |args: &[&str]| {
        pushca(dir, args);
    };
    p(&[
        "init",
        "--team-name",
        "Example Corp",
        "--team-id",
        "ABCDE12345",
        "--country",
        "DE",
        "--key-type",
        "ec-p256",
    ]);
    p(&["app", "create", APP, "--push"]);
    p(&["device", "add", U1, "--name", "Phone"]);
    p(&["device", "add", U2, "--name", "Other"]);
    for u in [U1, U2] {
        p(&[
            "device",
            "identity",
            u,
            "--out-dir",
            "ids",
            "--noenc",
            "--key-type",
            "ec-p256",
        ]);
    }
    p(&[
        "server-cert",
        "--dns",
        "localhost",
        "--ip",
        "127.0.0.1",
        "--out-dir",
        "srv",
        "--noenc",
        "--key-type",
        "ec-p256",
    ]);
    for (env, out) in [("development", "dev"), ("universal", "uni")] {
        p(&[
            "cert",
            "create",
            "--app",
            APP,
            "--env",
            env,
            "--out-dir",
            out,
            "--noenc",
            "--key-type",
            "ec-p256",
        ]);
    }
    p(&[
        "profile",
        "create",
        "--app",
        APP,
        "--env",
        "development",
        "--device",
        U1,
        "--out",
        "dev.mobileprovision",
    ]);
    p(&["gateway", "trust-store", "--out", "ts-old"]);
    p(&[
        "profile",
        "create",
        "--app",
        APP,
        "--env",
        "production",
        "--all-devices",
        "--out",
        "prod.mobileprovision",
    ]);
    p(&["gateway", "trust-store", "--out", "ts"]);
}

fn fixture() -> &'static Path {
    static FX: OnceLock<tempfile::TempDir> = OnceLock::new();
    FX.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        build_fixture(d.path());
        d
    })
    .path()
}

/// A copy of the fixture that a test may change.
fn own_fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixture().display()))
        .arg(d.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    d
}

struct Gateway {
    child: Child,
    dev: String,
    prod: String,
    devices: String,
    log: Arc<Mutex<String>>,
}

fn gateway_cmd(dir: &Path, ts: &str, state: &Path) -> Command {
    gateway_cmd_with(
        dir,
        ts,
        state,
        "home/ca/root.pem",
        Path::new("srv/server-localhost.key"),
    )
}

fn gateway_cmd_with(dir: &Path, ts: &str, state: &Path, anchor: &str, key: &Path) -> Command {
    let mut c = Command::new(gateway_bin());
    c.current_dir(dir)
        .args(["--trust-store", ts, "--anchor", anchor])
        .arg("--state")
        .arg(state)
        .args([
            "--tls-cert",
            "srv/server-localhost-fullchain.pem",
            "--tls-key",
        ])
        .arg(key)
        .args([
            "--development",
            "127.0.0.1:0",
            "--production",
            "127.0.0.1:0",
            "--devices",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null());
    c
}

impl Gateway {
    fn start(dir: &Path, ts: &str, state: &Path) -> Gateway {
        let mut child = gateway_cmd(dir, ts, state)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split(" listening ").nth(1) {
                    let _ = tx.send(rest.to_string());
                }
                l.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let mut g = Gateway {
            child,
            dev: String::new(),
            prod: String::new(),
            devices: String::new(),
            log,
        };
        for _ in 0..3 {
            let Ok(rest) = rx.recv_timeout(Duration::from_secs(20)) else {
                panic!("the gateway did not start: {}", g.log());
            };
            let (name, addr) = rest.split_once(' ').unwrap();
            let url = format!("https://{addr}");
            match name {
                "development" => g.dev = url,
                "production" => g.prod = url,
                _ => g.devices = url,
            }
        }
        g
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// SIGTERM; the exit code.
    fn stop(mut self) -> Option<i32> {
        self.signal("-TERM");
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_log(&self, needle: &str) {
        let t = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no {needle:?} in: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client's certificate arguments for curl.
fn provider(dir: &Path, which: &str) -> Vec<String> {
    let ck = format!(
        "{which}/{APP}-{}-ck.pem",
        if which == "dev" {
            "development"
        } else {
            "universal"
        }
    );
    vec!["--cert".into(), dir.join(ck).display().to_string()]
}

fn device(dir: &Path, udid: &str) -> Vec<String> {
    vec![
        "--cert".into(),
        dir.join(format!("ids/device-{udid}-fullchain.pem"))
            .display()
            .to_string(),
        "--key".into(),
        dir.join(format!("ids/device-{udid}.key"))
            .display()
            .to_string(),
    ]
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// `curl --http2` trusting the fixture's root: the reply.
fn curl(dir: &Path, args: &[String]) -> Reply {
    let hdr = tempfile::NamedTempFile::new().unwrap();
    let o = Command::new("curl")
        .args(["-sS", "--http2", "--max-time", "10", "--cacert"])
        .arg(dir.join("home/ca/root.pem"))
        .arg("-D")
        .arg(hdr.path())
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    Reply {
        status: code.trim().parse().unwrap_or(0),
        headers: std::fs::read_to_string(hdr.path()).unwrap_or_default(),
        body: body.to_string(),
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn register(dir: &Path, gw: &Gateway, udid: &str, env: &str) -> Reply {
    let mut a = device(dir, udid);
    a.extend(s(&[
        "-X",
        "POST",
        "-d",
        &format!(r#"{{"bundle_id":"{APP}","environment":"{env}"}}"#),
        &format!("{}/1/registrations", gw.devices),
    ]));
    curl(dir, &a)
}

fn token(dir: &Path, gw: &Gateway, udid: &str, env: &str) -> String {
    let r = register(dir, gw, udid, env);
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    assert_eq!(
        (j["bundle_id"].as_str(), j["environment"].as_str()),
        (Some(APP), Some(env))
    );
    j["token"].as_str().unwrap().to_string()
}

fn push(
    dir: &Path,
    url: &str,
    cert: &[String],
    token: &str,
    payload: &str,
    extra: &[&str],
) -> Reply {
    let mut a = cert.to_vec();
    a.extend(s(&["-H", &format!("apns-topic: {APP}")]));
    for h in extra {
        a.extend(s(&["-H", h]));
    }
    a.extend(s(&[
        "--data-binary",
        payload,
        &format!("{url}/3/device/{token}"),
    ]));
    curl(dir, &a)
}

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
