//! `pushca-load` against a gateway on loopback: a one-second smoke run (the
//! benchmark itself is benches/gateway-load.sh), the idle mode, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

fn load(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pushca-load"))
        .current_dir(dir)
        .args(["--ca", ROOT])
        .args(args)
        .output()
        .unwrap()
}

fn addr(url: &str) -> &str {
    url.trim_start_matches("https://")
}

const ROOT: &str = "home/ca/root.pem";
const CK: &str = "dev/com.example.app-development-ck.pem";

#[test]
fn a_one_second_run_pushes_and_reports_rate_and_percentiles() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    // Accepted pushes are logged at debug.
    let gw = Gateway::start_with(
        dir,
        "ts",
        state.path(),
        &[],
        &[("PUSHCA_GATEWAY_LOG", "debug")],
    );
    let tok = token(dir, &gw, U1, "development");
    let path = format!("/3/device/{tok}");
    let o = load(
        dir,
        &[
            "--addr",
            addr(&gw.dev),
            "--cert",
            CK,
            "--connections",
            "2",
            "--streams",
            "4",
            "--duration",
            "1",
            "--path",
            &path,
            "--header",
            &format!("apns-topic: {APP}"),
            "--header",
            "apns-expiration: 0",
            "--data",
            r#"{"aps":{"alert":"load"}}"#,
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let n = j["requests"].as_u64().unwrap();
    assert!(n > 0, "{j}");
    assert_eq!(
        j["statuses"]["200"].as_u64(),
        Some(n),
        "every push 200: {j}"
    );
    assert_eq!(j["errors"], 0);
    assert_eq!(
        (j["connections"].as_u64(), j["streams"].as_u64()),
        (Some(2), Some(4))
    );
    assert!(j["requests_per_sec"].as_f64().unwrap() > 0.0);
    let p50 = j["latency_ms"]["p50"].as_f64().unwrap();
    let p99 = j["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= p99, "{j}");
    assert!(gw
        .log()
        .contains("push development 200 topic=com.example.app"));

    // A fixed rate, a count: the same answers.
    let o = load(
        dir,
        &[
            "--addr",
            addr(&gw.dev),
            "--cert",
            CK,
            "--requests",
            "50",
            "--rate",
            "500",
            "--path",
            &path,
            "--header",
            &format!("apns-topic: {APP}"),
            "--data",
            "{}",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["statuses"]["200"].as_u64(), Some(50), "{j}");
    assert!(
        j["seconds"].as_f64().unwrap() >= 0.09,
        "paced at 500/s: {j}"
    );
}

#[test]
fn idle_connections_are_opened_and_held() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let o = load(
        dir,
        &[
            "--addr",
            addr(&gw.dev),
            "--cert",
            CK,
            "--connections",
            "3",
            "--idle",
            "--duration",
            "0.3",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["idle_connections"], 3);
    assert_eq!(
        gw.log()
            .matches("provider com.example.app connected")
            .count(),
        3
    );
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let dir = fixture();
    for (args, needle) in [
        (
            vec!["--addr", "127.0.0.1:9", "--ca", "nope.pem"],
            "nope.pem",
        ),
        (
            vec![
                "--addr",
                "127.0.0.1:9",
                "--ca",
                ROOT,
                "--header",
                "no-colon",
            ],
            "no-colon",
        ),
        (
            vec!["--addr", "127.0.0.1:9", "--ca", ROOT, "--path", "x"],
            "does not start with /",
        ),
        (
            vec!["--addr", "127.0.0.1:9", "--ca", ROOT],
            "connect 127.0.0.1:9",
        ),
        (
            vec!["--addr", "127.0.0.1:9", "--ca", ROOT, "--rate", "0"],
            "rate 0",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_pushca-load"))
            .current_dir(dir)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

/// A log line per accepted push costs throughput: at the default level
/// (info) accepted pushes are not logged, refusals are; at debug both are.
#[test]
fn accepted_pushes_are_logged_at_debug_refusals_at_info() {
    let dir = fixture();
    for (level, accepted_logged) in [(None, false), (Some("debug"), true)] {
        let state = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = level
            .map(|l| ("PUSHCA_GATEWAY_LOG", l))
            .into_iter()
            .collect();
        let gw = Gateway::start_with(dir, "ts", state.path(), &[], &env);
        let tok = token(dir, &gw, U1, "development");
        let cert = provider(dir, "dev");
        let r = push(dir, &gw.dev, &cert, &tok, "{}", &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        let bad = "ab".repeat(32);
        let r = push(dir, &gw.dev, &cert, &bad, "{}", &[]);
        assert_eq!(r.status, 400, "{}", r.body);
        // The refusal comes after the accepted push on stderr.
        gw.wait_log("push development 400 BadDeviceToken");
        assert_eq!(
            gw.log()
                .contains("push development 200 topic=com.example.app"),
            accepted_logged,
            "{level:?}: {}",
            gw.log()
        );
    }
}
