//! Operations: `--metrics` scraped with curl after pushes, refusals,
//! registrations and a reload (the text checked against Prometheus'
//! exposition format by a small parser), the `--events` log (JSON lines,
//! one per decision, never a payload), and the log filter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A parsed exposition: `name{labels}` (labels sorted) → value.
type Samples = BTreeMap<String, f64>;

fn is_name(s: &str, colon: bool) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || (colon && f == ':'))
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || (colon && x == ':'))
}

/// Parses Prometheus' text format 0.0.4 strictly: HELP and TYPE lines (one
/// TYPE per family, before its samples), samples `name{l="v",...} value`
/// with valid names, escaped label values, a float value, no series twice.
fn parse_exposition(text: &str) -> Result<Samples, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Samples::new();
    if !text.ends_with('\n') {
        return Err("no final line feed".into());
    }
    for (n, line) in text.lines().enumerate() {
        let err = |m: &str| format!("line {}: {m}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| err("TYPE"))?;
            if !is_name(name, true) {
                return Err(err("metric name"));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(err("type"));
            }
            if types.insert(name.into(), kind.into()).is_some() {
                return Err(err("a second TYPE"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if !is_name(name, true) {
                return Err(err("metric name"));
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| err("no value"))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(err("metric name"));
        }
        if !types.contains_key(name) {
            return Err(err("a sample before its TYPE"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                if let Some(after) = r.strip_prefix('}') {
                    r = after;
                    break;
                }
                let (lname, after) = r.split_once("=\"").ok_or_else(|| err("label"))?;
                if !is_name(lname, false) {
                    return Err(err("label name"));
                }
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => return Err(err("label escape")),
                        },
                        Some((i, '"')) => break i,
                        Some((_, c)) => value.push(c),
                        None => return Err(err("unterminated label value")),
                    }
                };
                labels.push(format!("{lname}={value:?}"));
                r = &after[end + 1..];
                r = r.strip_prefix(',').unwrap_or(r);
            }
            rest = r;
        }
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| err("space"))?
            .split(' ');
        let value: f64 = match fields.next() {
            Some("+Inf") => f64::INFINITY,
            Some("-Inf") => f64::NEG_INFINITY,
            Some(v) => v.parse().map_err(|_| err("value"))?,
            None => return Err(err("value")),
        };
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| err("timestamp"))?;
        }
        if fields.next().is_some() {
            return Err(err("trailing fields"));
        }
        labels.sort();
        let key = format!("{name}{{{}}}", labels.join(","));
        if out.insert(key, value).is_some() {
            return Err(err("a series twice"));
        }
    }
    Ok(out)
}

/// The parser itself: what it must accept and refuse.
fn check_the_parser() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\",y=\"2\"} 3\n";
    assert_eq!(
        parse_exposition(ok).unwrap()["a_total{x=\"q\\\"\",y=\"2\"}"],
        3.0
    );
    for bad in [
        "a 1\n",
        "# TYPE a counter\na{x=\"1} 1\n",
        "# TYPE a counter\na{1x=\"1\"} 1\n",
        "# TYPE a counter\na one\n",
        "# TYPE a counter\na 1\na 2\n",
        "# TYPE a counter\n# TYPE a gauge\n",
        "# TYPE a counter\na 1",
    ] {
        assert!(parse_exposition(bad).is_err(), "{bad:?}");
    }
}

/// A scrape with curl: the samples, and the response's content type.
fn scrape(gw: &Gateway) -> (Samples, String) {
    let hdr = tempfile::NamedTempFile::new().unwrap();
    let o = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "10", "-D"])
        .arg(hdr.path())
        .arg(format!("{}/metrics", gw.metrics))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let samples = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let headers = std::fs::read_to_string(hdr.path()).unwrap();
    let ct = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (samples, ct)
}

/// Pushes of `env`, `result` and `reason`, certificate and token alike.
fn pushes(m: &Samples, env: &str, result: &str, reason: &str) -> f64 {
    ["certificate", "token"]
        .iter()
        .map(|auth| {
            let key = format!(
                "pushca_gateway_pushes_total{{auth={auth:?},env={env:?},reason={reason:?},result={result:?}}}"
            );
            *m.get(&key).unwrap_or_else(|| panic!("no {key}"))
        })
        .sum()
}

fn get(m: &Samples, key: &str) -> f64 {
    *m.get(key).unwrap_or_else(|| panic!("no {key} in {m:?}"))
}

#[test]
fn metrics_count_pushes_refusals_registrations_and_reloads() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(
        dir,
        "ts",
        state.path(),
        &["--metrics", "127.0.0.1:0"],
        &[("PUSHCA_GATEWAY_LOG", "debug")],
    );
    check_the_parser();
    let (m, ct) = scrape(&gw);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    assert_eq!(get(&m, "pushca_gateway_trust_store_version{}"), 2.0);
    assert_eq!(pushes(&m, "development", "accepted", "stored"), 0.0);
    assert_eq!(
        get(&m, "pushca_gateway_connections{listener=\"devices\"}"),
        0.0
    );
    gw.wait_log("DEBUG metrics: scraped by 127.0.0.1:");

    // Registrations: U1 in development twice, U2 refused (not in the profile).
    let tok = token(dir, &gw, U1, "development");
    token(dir, &gw, U1, "development");
    assert_eq!(register(dir, &gw, U2, "development").status, 403);
    let dev = provider(dir, "dev");
    // Accepted: stored (offline), then delivered (a stream open).
    assert_eq!(push(dir, &gw.dev, &dev, &tok, "{}", &[]).status, 200);
    let stream = Stream::open(dir, &gw, U1);
    assert!(stream.next().is_some(), "the stored one");
    assert_eq!(push(dir, &gw.dev, &dev, &tok, "{}", &[]).status, 200);
    assert!(stream.next().is_some());
    // Refused: an unknown token twice, no certificate, the other
    // environment's listener.
    let zeros = "0".repeat(64);
    for _ in 0..2 {
        assert_eq!(push(dir, &gw.dev, &dev, &zeros, "{}", &[]).status, 400);
    }
    assert_eq!(push(dir, &gw.dev, &[], &tok, "{}", &[]).status, 403);
    assert_eq!(push(dir, &gw.prod, &dev, &tok, "{}", &[]).status, 400);
    // A reload with nothing changed.
    gw.signal("-HUP");
    gw.wait_log("unchanged");

    let (m, _) = scrape(&gw);
    assert_eq!(pushes(&m, "development", "accepted", "stored"), 1.0);
    assert_eq!(pushes(&m, "development", "accepted", "delivered"), 1.0);
    assert_eq!(pushes(&m, "development", "rejected", "BadDeviceToken"), 2.0);
    assert_eq!(
        pushes(&m, "development", "rejected", "MissingProviderToken"),
        1.0
    );
    assert_eq!(pushes(&m, "production", "rejected", "BadDeviceToken"), 1.0);
    assert_eq!(pushes(&m, "production", "accepted", "delivered"), 0.0);
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("pushca_gateway_pushes_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 6.0, "every push counted once");
    assert_eq!(
        get(
            &m,
            "pushca_gateway_registrations_total{env=\"development\",result=\"accepted\"}"
        ),
        2.0
    );
    assert_eq!(
        get(
            &m,
            "pushca_gateway_registrations_total{env=\"development\",result=\"refused\"}"
        ),
        1.0
    );
    assert_eq!(
        get(&m, "pushca_gateway_registered_tokens{env=\"development\"}"),
        1.0
    );
    assert_eq!(get(&m, "pushca_gateway_notification_streams{}"), 1.0);
    assert_eq!(get(&m, "pushca_gateway_stored_notifications{}"), 0.0);
    assert_eq!(
        get(&m, "pushca_gateway_connections{listener=\"devices\"}"),
        1.0,
        "the stream's connection"
    );
    assert_eq!(
        get(&m, "pushca_gateway_reloads_total{result=\"unchanged\"}"),
        1.0
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = get(&m, "pushca_gateway_last_reload_timestamp_seconds{}");
    assert!(last <= now && last > now - 60.0, "{last} vs {now}");

    // After unregistration, a push is stored nowhere and the gauges follow.
    drop(stream);
    let mut a = device(dir, U1);
    a.extend(s(&[
        "-X",
        "DELETE",
        &format!("{}/1/registrations/{tok}", gw.devices),
    ]));
    assert_eq!(curl(dir, &a).status, 204);
    let t = Instant::now();
    let m = loop {
        let (m, _) = scrape(&gw);
        if get(&m, "pushca_gateway_connections{listener=\"devices\"}") == 0.0
            || t.elapsed() > Duration::from_secs(5)
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(get(&m, "pushca_gateway_unregistrations_total{}"), 1.0);
    assert_eq!(
        get(&m, "pushca_gateway_registered_tokens{env=\"development\"}"),
        0.0
    );
    assert_eq!(get(&m, "pushca_gateway_notification_streams{}"), 0.0);
    assert_eq!(
        get(&m, "pushca_gateway_connections{listener=\"devices\"}"),
        0.0,
        "closed connections are not counted"
    );
    // Only GET /metrics.
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{}/other", gw.metrics))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "404");
    assert_eq!(gw.stop(), Some(0));
}

#[test]
fn the_events_log_has_one_json_line_per_decision_and_never_a_payload() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let events = state.path().join("events.jsonl");
    std::fs::write(&events, "{\"before\":1}\n").unwrap();
    let ev = events.display().to_string();
    let gw = Gateway::start_with(dir, "ts", state.path(), &["--events", &ev], &[]);
    let tok = token(dir, &gw, U1, "development");
    let dev = provider(dir, "dev");
    const MARK: &str = "PAYLOAD-MARKER-5e1f";
    let payload = format!(r#"{{"aps":{{"alert":"{MARK}"}},"secret":"{MARK}"}}"#);
    // Accepted, and refused at each stage: after parsing (a token nobody
    // registered), before (a bad apns-id), without a certificate.
    let ok = push(dir, &gw.dev, &dev, &tok, &payload, &[]);
    assert_eq!(ok.status, 200);
    let unknown = format!("abcdef{}", "0".repeat(58));
    let r = push(dir, &gw.dev, &dev, &unknown, &payload, &[]);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = push(dir, &gw.dev, &dev, &tok, &payload, &["apns-id: nope"]);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = push(dir, &gw.dev, &[], &tok, &payload, &[]);
    assert_eq!(r.status, 403);

    let text = std::fs::read_to_string(&events).unwrap();
    assert!(!text.contains(MARK), "a payload in the events: {text}");
    assert!(!text.contains(&tok), "a whole token in the events: {text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 5, "appended, one line per decision: {text}");
    assert_eq!(lines[0]["before"], 1);
    let a = &lines[1];
    assert_eq!(a["result"], "accepted");
    assert_eq!(a["status"], 200);
    assert_eq!(a["reason"], serde_json::Value::Null);
    assert_eq!(a["delivery"], "stored");
    assert_eq!(a["env"], "development");
    assert_eq!(a["topic"], APP);
    assert_eq!(a["token"], &tok[..8]);
    assert_eq!(a["apns_id"], ok.header("apns-id").unwrap().as_str());
    assert_eq!(a["cert"].as_str().map(str::len), Some(16));
    assert_eq!(a["bundle_id"], APP);
    assert!(a["time"].as_str().unwrap().ends_with('Z'));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let t = a["time_ms"].as_u64().unwrap();
    assert!(t <= now_ms && t + 60_000 > now_ms);
    let reasons: Vec<_> = lines[2..]
        .iter()
        .map(|l| {
            assert_eq!(l["result"], "rejected");
            assert_eq!(l["delivery"], serde_json::Value::Null);
            (
                l["status"].as_u64().unwrap(),
                l["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (400, "BadDeviceToken".to_string()),
            (400, "BadMessageId".into()),
            (403, "MissingProviderToken".into())
        ],
        "{text}"
    );
    assert_eq!(lines[2]["token"], "abcdef00");
    assert_eq!(lines[3]["token"], &tok[..8]);
    assert_eq!(lines[4]["token"], &tok[..8]);
    assert_eq!(lines[4]["topic"], APP);
    assert_eq!(lines[2]["cert"], a["cert"]);
    assert_eq!(lines[4]["cert"], serde_json::Value::Null);
    drop(gw);

    // `--events -`: stdout, and an events file that cannot be opened is
    // a startup error.
    let bad = state.path().join("no/such/dir/events.jsonl");
    let o = gateway_cmd(dir, "ts", &state.path().join("st2"))
        .arg("--events")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("events log") && err.contains("events.jsonl"),
        "{err}"
    );
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_log_filter_warn_hides_info_and_a_bad_level_is_refused() {
    let fx = own_fixture();
    let dir = fx.path();
    let state = tempfile::tempdir().unwrap();
    let errlog = state.path().join("stderr");
    let port = free_port();
    let cmd = |level: &str| {
        let mut c = Command::new(gateway_bin());
        c.current_dir(dir)
            .args(["--trust-store", "ts", "--anchor", "home/ca/root.pem"])
            .arg("--state")
            .arg(state.path().join("st"))
            .args([
                "--tls-cert",
                "srv/server-localhost-fullchain.pem",
                "--tls-key",
                "srv/server-localhost.key",
                "--development",
                &format!("127.0.0.1:{port}"),
            ])
            .env_remove("RUST_LOG")
            .env("PUSHCA_GATEWAY_LOG", level)
            .stdin(Stdio::null());
        c
    };
    // A level that is not one is refused, naming the variable.
    let mut bad = cmd("loud")
        .stderr(std::fs::File::create(&errlog).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let code = loop {
        if let Some(st) = bad.try_wait().unwrap() {
            break st.code();
        }
        if t.elapsed() > Duration::from_secs(10) {
            let _ = bad.kill();
            let _ = bad.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&errlog).unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("PUSHCA_GATEWAY_LOG"), "{err}");

    let mut child = cmd("warn")
        .stderr(std::fs::File::create(&errlog).unwrap())
        .spawn()
        .unwrap();
    // Serving once a push is answered (403: no certificate).
    let url = format!("https://localhost:{port}");
    let t = Instant::now();
    while push(dir, &url, &[], &"0".repeat(64), "{}", &[]).status != 403 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the gateway did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A tampered store: a warning.
    let policy = dir.join("ts/policy.json");
    let good = std::fs::read(&policy).unwrap();
    std::fs::write(&policy, [&good[..], b" "].concat()).unwrap();
    let kill = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success())
    };
    kill("-HUP");
    let read = || std::fs::read_to_string(&errlog).unwrap();
    let t = Instant::now();
    while !read().contains("refused, still serving") {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", read());
        std::thread::sleep(Duration::from_millis(50));
    }
    kill("-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let text = read();
    assert!(!text.is_empty());
    for line in text.lines() {
        let mut f = line.splitn(3, ' ');
        let (time, level) = (f.next().unwrap(), f.next().unwrap());
        assert!(time.ends_with('Z') && time.len() == 20, "{line}");
        assert_eq!(level, "WARN", "only warnings at warn: {text}");
    }
    assert!(!text.contains("listening"), "{text}");
    std::fs::write(&policy, &good).unwrap();
    // The default (info) shows the startup lines, with their level.
    let dir2 = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", dir2.path());
    assert!(
        gw.log()
            .lines()
            .any(|l| l.contains(" INFO listening development ")),
        "{}",
        gw.log()
    );
}
