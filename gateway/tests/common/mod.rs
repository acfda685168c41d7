//! Helpers shared by the gateway's integration tests: a fixture made with
//! the `pushca` binary (a CA, a trust store, certificates), the gateway
//! started as a process on 127.0.0.1:0 (ports read from its "listening"
//! log lines), and curl --http2 as the provider and device client.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const PASS: &str = "gateway-test-ca-pass";
pub const U1: &str = "00008030-001A0C3E0E68802E";
pub const U2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
pub const APP: &str = "com.example.app";

pub fn gateway_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pushca-gateway"))
}

/// The `pushca` binary beside the gateway's (built when missing).
pub fn pushca_bin() -> PathBuf {
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

pub fn pushca(dir: &Path, args: &[&str]) -> Output {
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
pub fn build_fixture(dir: &Path) {
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

pub fn fixture() -> &'static Path {
    static FX: OnceLock<tempfile::TempDir> = OnceLock::new();
    FX.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        build_fixture(d.path());
        d
    })
    .path()
}

/// A copy of the fixture that a test may change.
pub fn own_fixture() -> tempfile::TempDir {
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

pub struct Gateway {
    pub child: Child,
    pub dev: String,
    pub prod: String,
    pub devices: String,
    /// `http://ADDR:PORT` of `--metrics` (empty without it).
    pub metrics: String,
    pub log: Arc<Mutex<String>>,
}

pub fn gateway_cmd(dir: &Path, ts: &str, state: &Path) -> Command {
    gateway_cmd_with(
        dir,
        ts,
        state,
        "home/ca/root.pem",
        Path::new("srv/server-localhost.key"),
    )
}

pub fn gateway_cmd_with(dir: &Path, ts: &str, state: &Path, anchor: &str, key: &Path) -> Command {
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
    pub fn start(dir: &Path, ts: &str, state: &Path) -> Gateway {
        Gateway::start_with(dir, ts, state, &[], &[])
    }

    /// Started with `extra` flags and environment variables `env`; with
    /// `--metrics` in `extra`, waits for that listener too.
    pub fn start_with(
        dir: &Path,
        ts: &str,
        state: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Gateway {
        let mut cmd = gateway_cmd(dir, ts, state);
        cmd.args(extra)
            .env_remove("RUST_LOG")
            .env_remove("PUSHCA_GATEWAY_LOG")
            .envs(env.iter().copied());
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
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
            metrics: String::new(),
            log,
        };
        let listeners = if extra.contains(&"--metrics") { 4 } else { 3 };
        for _ in 0..listeners {
            let Ok(rest) = rx.recv_timeout(Duration::from_secs(20)) else {
                panic!("the gateway did not start: {}", g.log());
            };
            let (name, addr) = rest.split_once(' ').unwrap();
            let url = format!("https://{addr}");
            match name {
                "metrics" => g.metrics = format!("http://{addr}"),
                "development" => g.dev = url,
                "production" => g.prod = url,
                _ => g.devices = url,
            }
        }
        g
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// SIGTERM; the exit code.
    pub fn stop(mut self) -> Option<i32> {
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

    pub fn wait_log(&self, needle: &str) {
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
pub fn provider(dir: &Path, which: &str) -> Vec<String> {
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

pub fn device(dir: &Path, udid: &str) -> Vec<String> {
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

pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// `curl --http2` trusting the fixture's root: the reply.
pub fn curl(dir: &Path, args: &[String]) -> Reply {
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

pub fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

pub fn register(dir: &Path, gw: &Gateway, udid: &str, env: &str) -> Reply {
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

pub fn token(dir: &Path, gw: &Gateway, udid: &str, env: &str) -> String {
    let r = register(dir, gw, udid, env);
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    assert_eq!(
        (j["bundle_id"].as_str(), j["environment"].as_str()),
        (Some(APP), Some(env))
    );
    j["token"].as_str().unwrap().to_string()
}

pub fn push(
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
pub struct Stream {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Stream {
    pub fn open(dir: &Path, gw: &Gateway, udid: &str) -> Stream {
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

    pub fn next(&self) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(3)).ok()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider client scripts (`tests/clients/`, installed by `scripts/test`).
pub fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs a client script; its one JSON line of output.
pub fn run_client(program: &str, args: &[String]) -> serde_json::Value {
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

/// The port of a listener's URL (`https://127.0.0.1:PORT`).
pub fn port(url: &str) -> String {
    url.rsplit(':').next().unwrap().to_string()
}

/// `rel` under `dir`, as text.
pub fn path(dir: &Path, rel: &str) -> String {
    dir.join(rel).display().to_string()
}

/// The notification line carries `payload` exactly as sent.
pub fn assert_byte_for_byte(line: &str, payload: &str) {
    assert!(
        line.ends_with(&format!(r#""payload":{payload}}}"#)),
        "payload not byte for byte:\n sent {payload}\n line {line}"
    );
}

/// Runs `tests/clients/node/<script>` (@parse/node-apn); its JSON line.
pub fn node(script: &str, args: &[String]) -> serde_json::Value {
    let dir = clients().join("node");
    assert!(
        dir.join("node_modules/@parse/node-apn").is_dir(),
        "@parse/node-apn is not installed in {}: run scripts/test --install-only \
         (npm install --prefix gateway/tests/clients/node)",
        dir.display()
    );
    let mut a = vec![dir.join(script).display().to_string()];
    a.extend_from_slice(args);
    run_client("node", &a)
}

/// Runs `tests/clients/<script>` with python3; its JSON line.
pub fn python(script: &str, args: &[String]) -> serde_json::Value {
    let mut a = vec![clients().join(script).display().to_string()];
    a.extend_from_slice(args);
    run_client("python3", &a)
}
