//! The gateway's lifecycle with clients attached: a reload while a provider's
//! HTTP/2 connection stays open (python h2, `tests/clients/h2_hold.py`), and
//! `kill -9` under load followed by a restart on the same `--state`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

/// A provider connection held open by `h2_hold.py`.
struct Held {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Held {
    fn open(dir: &Path, url: &str, cert: &str, key: &str, token: &str) -> Held {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/h2_hold.py");
        let port = url.rsplit(':').next().unwrap();
        let mut child = Command::new("python3")
            .arg(script)
            .args(["localhost", port])
            .arg(dir.join("home/ca/root.pem"))
            .arg(dir.join(cert))
            .arg(dir.join(key))
            .args([token, APP])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (scripts/test --install-only installs h2)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Held {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, cmd: &str) -> serde_json::Value {
        writeln!(self.stdin, "{cmd}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "h2_hold.py answered {line:?} ({e}); is h2 installed? scripts/test --install-only"
            )
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serial(dir: &Path, pem: &str) -> String {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-noout", "-serial", "-in", pem])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .trim_start_matches("serial=")
        .to_string()
}

#[test]
fn a_reload_closes_the_open_connection_of_a_revoked_certificate_and_keeps_the_others() {
    let fx = own_fixture();
    let dir = fx.path();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let dev_pem = format!("dev/{APP}-development.pem");
    let mut revoked = Held::open(
        dir,
        &gw.dev,
        &dev_pem,
        &format!("dev/{APP}-development.key"),
        &tok,
    );
    let mut kept = Held::open(
        dir,
        &gw.dev,
        &format!("uni/{APP}-universal.pem"),
        &format!("uni/{APP}-universal.key"),
        &tok,
    );
    let ok = serde_json::json!({"status": 200, "body": "", "goaway": false});
    assert_eq!(revoked.ask("push"), ok, "{}", gw.log());
    assert_eq!(kept.ask("push"), ok);

    // A tampered store: refused, the old one keeps serving, on the open
    // connections and on new ones.
    let policy = dir.join("ts/policy.json");
    let good = std::fs::read(&policy).unwrap();
    std::fs::write(&policy, [&good[..], b" "].concat()).unwrap();
    gw.signal("-HUP");
    gw.wait_log("refused, still serving version 2");
    assert_eq!(revoked.ask("push"), ok, "{}", gw.log());
    assert_eq!(
        push(dir, &gw.dev, &provider(dir, "dev"), &tok, "{}", &[]).status,
        200
    );
    std::fs::write(&policy, &good).unwrap();

    // Revoke the development certificate, publish the store, SIGHUP.
    pushca(dir, &["cert", "revoke", &serial(dir, &dev_pem)]);
    pushca(dir, &["gateway", "trust-store", "--out", "ts"]);
    gw.signal("-HUP");
    gw.wait_log("trust store version 3 serving");
    // The open connection of the revoked certificate gets GOAWAY and takes
    // no more pushes.
    let w = revoked.ask("wait 5");
    assert_eq!(
        w["goaway"],
        true,
        "no GOAWAY after the reload: {w} {}",
        gw.log()
    );
    let r = revoked.ask("push");
    assert!(
        r.get("refused").is_some() || r["status"] == 403,
        "a push on the revoked connection: {r}"
    );
    assert!(
        gw.log().contains("refused after the reload"),
        "{}",
        gw.log()
    );
    // A new handshake with it fails.
    let r = push(dir, &gw.dev, &provider(dir, "dev"), &tok, "{}", &[]);
    assert_eq!(r.status, 0, "a revoked certificate's handshake: {}", r.body);
    // The universal certificate's open connection goes on.
    assert_eq!(kept.ask("wait 1")["goaway"], false);
    assert_eq!(kept.ask("push"), ok);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A token whose registration was acknowledged; `unregistered`: the time
/// its unregistration was acknowledged.
#[derive(Clone, Debug)]
struct Acked {
    udid: &'static str,
    env: &'static str,
    token: String,
    unregistered: Option<u64>,
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_registration_or_unregistration() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let gw = Arc::new(gw);
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    // The pushes' token (U2 production) stays registered throughout.
    let push_tok = token(dir, &gw, U2, "production");
    let mut threads = Vec::new();
    // Registration and unregistration cycles, one thread per device/app/env.
    for (udid, env) in [(U1, "development"), (U1, "production")] {
        let (gw, acked, stop) = (gw.clone(), acked.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let r = register(dir, &gw, udid, env);
                if r.status != 201 {
                    break;
                }
                let token = r.json()["token"].as_str().unwrap().to_string();
                let i = {
                    let mut a = acked.lock().unwrap();
                    a.push(Acked {
                        udid,
                        env,
                        token: token.clone(),
                        unregistered: None,
                    });
                    a.len() - 1
                };
                let mut d = device(dir, udid);
                d.extend(s(&[
                    "-X",
                    "DELETE",
                    &format!("{}/1/registrations/{token}", gw.devices),
                ]));
                if curl(dir, &d).status != 204 {
                    break;
                }
                acked.lock().unwrap()[i].unregistered = Some(now_ms());
            }
        }));
    }
    // Pushes (stored for the offline device, or refused) at the same time.
    for _ in 0..2 {
        let (gw, stop, tok) = (gw.clone(), stop.clone(), push_tok.clone());
        threads.push(std::thread::spawn(move || {
            let uni = provider(dir, "uni");
            while !stop.load(Ordering::Relaxed) {
                if push(dir, &gw.prod, &uni, &tok, r#"{"n":1}"#, &[]).status == 0 {
                    break;
                }
            }
        }));
    }
    let t = Instant::now();
    while acked.lock().unwrap().len() < 30 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    gw.signal("-KILL");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    drop(Arc::try_unwrap(gw).ok().expect("the threads are done"));
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 10, "too little load: {acked:?}");

    let gw = Gateway::start(dir, "ts", state.path());
    let mut checked_unreg = 0;
    for a in &acked {
        let (url, cert) = if a.env == "development" {
            (&gw.dev, provider(dir, "dev"))
        } else {
            (&gw.prod, provider(dir, "uni"))
        };
        let r = push(dir, url, &cert, &a.token, "{}", &[]);
        match a.unregistered {
            Some(at) => {
                checked_unreg += 1;
                assert_eq!(r.status, 410, "{a:?}: {}", r.body);
                let ts = r.json()["timestamp"].as_u64().unwrap();
                assert!(ts <= at && ts + 60_000 > at, "{a:?}: {ts}");
            }
            // Registered, its unregistration not acknowledged: either.
            None => {
                assert!(
                    r.status == 200 || r.status == 410,
                    "{a:?}: an acknowledged registration is lost: {} {}",
                    r.status,
                    r.body
                );
                let again = token(dir, &gw, a.udid, a.env);
                assert_eq!(
                    again == a.token,
                    r.status == 200,
                    "{a:?}: registration and push disagree"
                );
            }
        }
    }
    assert!(checked_unreg >= 10, "{acked:?}");
    // The pushes' token survived too.
    assert_eq!(token(dir, &gw, U2, "production"), push_tok);
}
