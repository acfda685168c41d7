//! `gateway check --token`: tokens signed by PyJWT (an outside library)
//! with keys made by `pushca key create`, decided through the binary on a
//! trust store written by `pushca gateway trust-store`; every denial reason
//! with crafted tokens; hostile token files; the input rules (a file or
//! standard input, whitespace and a `bearer ` prefix, usage errors).

use crate::common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{stderr, stdout_json, Env, CA_PASS};

const TEAM: &str = "ABCDE12345";
const APP: &str = "com.example.app";
/// Push, a development profile, covered by the topic-specific key.
const OTHER: &str = "com.example.other";
/// An App ID without push.
const NOPUSH: &str = "com.example.nopush";
/// In the development profile of APP and OTHER.
const D1: &str = "00008030-001A0C3E0E68802E";
/// Registered, in no profile.
const D2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

fn pass() -> String {
    format!("pass:{CA_PASS}")
}

fn ok(env: &Env, args: &[&str]) -> Output {
    let o = env.cmd().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

fn pyjwt_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A JWT made by PyJWT: `jwt.encode({"iss": iss, "iat": iat}, key,
/// algorithm=alg, headers={"kid": kid})`; `key` is a file's contents
/// (a `.p8`) for ES256, the text itself for HS256, unused for none.
fn pyjwt(key: &str, alg: &str, kid: &str, iss: &str, iat: i64) -> String {
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            "import jwt, sys\n\
             key, alg, kid, iss, iat = sys.argv[1:6]\n\
             if alg == 'ES256': key = open(key).read()\n\
             if alg == 'none': key = None\n\
             sys.stdout.write(jwt.encode({'iss': iss, 'iat': int(iat)}, key, algorithm=alg, headers={'kid': kid}))",
            key,
            alg,
            kid,
            iss,
            &iat.to_string(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `key create --env E --out-dir keys [extra]`: the Key ID and its `.p8`.
fn key_create(env: &Env, e: &str, extra: &[&str]) -> (String, String) {
    let mut a = vec!["--json", "key", "create", "--env", e, "--out-dir", "keys"];
    a.extend_from_slice(extra);
    let k = stdout_json(&ok(env, &a))["key"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let p8 = env.path(&format!("keys/AuthKey_{k}.p8"));
    assert!(p8.is_file(), "{}", p8.display());
    (k, p8.to_string_lossy().into_owned())
}

fn issue(env: &Env, app: &str, e: &str, name: &str) {
    let csr = env.openssl_csr(name, "ec:P-256", &[]);
    let o = env
        .cmd()
        .args(["cert", "issue", "--app", app, "--env", e, "--csr"])
        .arg(&csr)
        .args(["--out", &format!("{name}.pem"), "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

struct World {
    env: Env,
    /// Team-scoped, development.
    dev: (String, String),
    /// Team-scoped, production.
    prod: (String, String),
    /// Topic-specific (OTHER), development.
    topic: (String, String),
    /// Team-scoped, development, revoked.
    revoked: (String, String),
}

/// APP and OTHER with push and a development profile listing D1 (no
/// production profile); NOPUSH without push; four keys; a trust store `ts`.
fn world() -> World {
    let env = Env::new();
    env.init_with_app();
    ok(&env, &["device", "add", D1, "--name", "Listed"]);
    ok(&env, &["device", "add", D2, "--name", "Unlisted"]);
    ok(&env, &["app", "create", OTHER, "--push"]);
    ok(&env, &["app", "create", NOPUSH]);
    issue(&env, APP, "development", "app");
    issue(&env, OTHER, "development", "other");
    for (app, out) in [
        (APP, "app.mobileprovision"),
        (OTHER, "other.mobileprovision"),
    ] {
        ok(
            &env,
            &[
                "profile",
                "create",
                "--app",
                app,
                "--env",
                "development",
                "--device",
                D1,
                "--out",
                out,
                "--ca-passin",
                &pass(),
            ],
        );
    }
    let dev = key_create(&env, "development", &[]);
    let prod = key_create(&env, "production", &[]);
    let topic = key_create(&env, "development", &["--app", OTHER]);
    let revoked = key_create(&env, "development", &[]);
    ok(&env, &["key", "revoke", &revoked.0]);
    ok(
        &env,
        &[
            "gateway",
            "trust-store",
            "--out",
            "ts",
            "--ca-passin",
            &pass(),
        ],
    );
    World {
        env,
        dev,
        prod,
        topic,
        revoked,
    }
}

/// `gateway check --json --trust-store ts --token FILE --topic T --env E
/// [--device U]`: the exit code and the document (or stderr).
fn check(env: &Env, token: &Path, topic: &str, e: &str, device: Option<&str>) -> (i32, Output) {
    let mut c = env.cmd();
    c.args([
        "--json",
        "gateway",
        "check",
        "--trust-store",
        "ts",
        "--token",
    ])
    .arg(token)
    .args(["--topic", topic, "--env", e]);
    if let Some(d) = device {
        c.args(["--device", d]);
    }
    let o = c.output().unwrap();
    (o.status.code().unwrap_or(-1), o)
}

/// The decision for the token `jwt` (written to a file): exit code and
/// reason (None for allow), with the JSON document's invariants checked.
fn decide(
    w: &World,
    jwt: &str,
    topic: &str,
    e: &str,
    device: Option<&str>,
) -> (i32, Option<String>) {
    let f = w.env.path("token.jwt");
    std::fs::write(&f, jwt).unwrap();
    let (code, o) = check(&w.env, &f, topic, e, device);
    assert!(code == 0 || code == 3, "{code}: {}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(
        j["decision"],
        if code == 0 { "allow" } else { "deny" },
        "{j}"
    );
    assert_eq!(
        (j["topic"].as_str(), j["environment"].as_str()),
        (Some(topic), Some(e))
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(jwt.trim()),
        "never the token"
    );
    (code, j["reason"].as_str().map(str::to_string))
}

/// (what, token, topic, environment, device, (exit code, reason))
type Case<'a> = (
    &'a str,
    String,
    &'a str,
    &'a str,
    Option<&'a str>,
    (i32, Option<String>),
);

#[test]
fn gateway_check_token_allows_pyjwt_tokens_and_denies_every_reason() {
    if !pyjwt_available() {
        eprintln!("SKIPPED: python3 with PyJWT (and cryptography) is not installed");
        return;
    }
    let w = world();
    let t = now();
    let (dev, dev_p8) = (&w.dev.0, w.dev.1.as_str());
    let es = |p8: &str, kid: &str, iss: &str, iat: i64| pyjwt(p8, "ES256", kid, iss, iat);
    let good = es(dev_p8, dev, TEAM, t);

    // Allowed: a team-scoped key and a topic-specific key, with and without a device.
    assert_eq!(decide(&w, &good, APP, "development", Some(D1)), (0, None));
    assert_eq!(decide(&w, &good, APP, "development", None), (0, None));
    assert_eq!(decide(&w, &good, OTHER, "development", Some(D1)), (0, None));
    let topic_tok = es(&w.topic.1, &w.topic.0, TEAM, t);
    assert_eq!(
        decide(&w, &topic_tok, OTHER, "development", Some(D1)),
        (0, None)
    );
    // The document names the verified key (never the token).
    let f = w.env.path("good.jwt");
    std::fs::write(&f, &good).unwrap();
    let (code, o) = check(&w.env, &f, APP, "development", Some(D1));
    assert_eq!(code, 0);
    let j = stdout_json(&o);
    assert_eq!(
        (
            j["reason"].clone(),
            j["device"].as_str(),
            j["token"]["key_id"].as_str(),
            j["token"]["team_id"].as_str(),
            j["token"]["environment"].as_str(),
            j["token"]["issued_at"].as_i64(),
        ),
        (
            serde_json::Value::Null,
            Some(D1),
            Some(dev.as_str()),
            Some(TEAM),
            Some("development"),
            Some(t)
        ),
        "{j}"
    );
    // Text: one line, exit 0.
    let o = w
        .env
        .cmd()
        .args(["gateway", "check", "--trust-store", "ts", "--token"])
        .arg(&f)
        .args(["--topic", APP, "--env", "development"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("allow: push to {APP} (development)\n")
    );

    let deny = |r: &str| (3, Some(r.to_string()));
    let invalid = deny("InvalidProviderToken");
    // A stranger key (made by PyJWT's cryptography) signing as the dev key: bad signature.
    let stranger = w.env.path("stranger.p8");
    let o = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&stranger)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stranger = stranger.to_string_lossy().into_owned();
    let cases: Vec<Case> = vec![
        (
            "bad signature",
            es(&stranger, dev, TEAM, t),
            APP,
            "development",
            None,
            invalid.clone(),
        ),
        (
            "unknown Key ID",
            es(&stranger, "UNKNOWN123", TEAM, t),
            APP,
            "development",
            None,
            invalid.clone(),
        ),
        (
            "unknown Key ID, known key",
            es(dev_p8, "UNKNOWN123", TEAM, t),
            APP,
            "development",
            None,
            invalid.clone(),
        ),
        (
            "revoked Key ID",
            es(&w.revoked.1, &w.revoked.0, TEAM, t),
            APP,
            "development",
            None,
            invalid.clone(),
        ),
        (
            "wrong iss",
            es(dev_p8, dev, "ZZZZZ99999", t),
            APP,
            "development",
            None,
            invalid.clone(),
        ),
        (
            "alg HS256",
            pyjwt("a-shared-secret-of-32-bytes-long!", "HS256", dev, TEAM, t),
            APP,
            "development",
            None,
            invalid.clone(),
        ),
        (
            "alg none",
            pyjwt("", "none", dev, TEAM, t),
            APP,
            "development",
            None,
            invalid.clone(),
        ),
        (
            "iat 3601 s old",
            es(dev_p8, dev, TEAM, t - 3601),
            APP,
            "development",
            None,
            deny("ExpiredProviderToken"),
        ),
        (
            "other environment",
            good.clone(),
            APP,
            "production",
            None,
            deny("BadEnvironmentKeyInToken"),
        ),
        (
            "topic outside a topic-specific key",
            topic_tok.clone(),
            APP,
            "development",
            None,
            deny("TopicDisallowed"),
        ),
        (
            "App ID without push",
            good.clone(),
            NOPUSH,
            "development",
            None,
            deny("TopicDisallowed"),
        ),
        (
            "no such App ID",
            good.clone(),
            "com.example.none",
            "development",
            None,
            deny("TopicDisallowed"),
        ),
        (
            "no profile for the environment",
            es(&w.prod.1, &w.prod.0, TEAM, t),
            APP,
            "production",
            None,
            deny("Forbidden"),
        ),
        (
            "device not provisioned",
            good.clone(),
            APP,
            "development",
            Some(D2),
            deny("DeviceNotProvisioned"),
        ),
    ];
    for (what, jwt, topic, e, device, want) in cases {
        assert_eq!(decide(&w, &jwt, topic, e, device), want, "{what}");
    }
    // `iat` 61 s ahead when the check runs: made 62 s ahead of the clock
    // (the check runs up to a second later; the library's tests pin the
    // exact bound with a fixed clock).
    let jwt = es(dev_p8, dev, TEAM, now() + 62);
    assert_eq!(
        decide(&w, &jwt, APP, "development", None),
        invalid,
        "iat 61 s ahead"
    );
    // Near the bounds (3590 s old, 55 s ahead): still allowed.
    assert_eq!(
        decide(
            &w,
            &es(dev_p8, dev, TEAM, t - 3590),
            APP,
            "development",
            None
        )
        .0,
        0
    );
    assert_eq!(
        decide(&w, &es(dev_p8, dev, TEAM, t + 55), APP, "development", None).0,
        0
    );

    // Text of a denial: one line with the reason and what was wrong; exit 3.
    std::fs::write(&f, es(dev_p8, dev, "ZZZZZ99999", t)).unwrap();
    let o = w
        .env
        .cmd()
        .args(["gateway", "check", "--trust-store", "ts", "--token"])
        .arg(&f)
        .args(["--topic", APP, "--env", "development"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with(&format!(
            "deny: push to {APP} (development): InvalidProviderToken ("
        )) && text.ends_with(")\n")
            && text.lines().count() == 1,
        "{text}"
    );
}

#[test]
fn gateway_check_token_reads_a_file_or_stdin_with_whitespace_and_bearer() {
    if !pyjwt_available() {
        eprintln!("SKIPPED: python3 with PyJWT (and cryptography) is not installed");
        return;
    }
    let w = world();
    let jwt = pyjwt(&w.dev.1, "ES256", &w.dev.0, TEAM, now());
    let env = &w.env;
    let f = env.path("t.jwt");
    for body in [
        format!("{jwt}\n"),
        format!("  \r\n{jwt} \n\n"),
        format!("bearer {jwt}\n"),
        format!("Bearer  {jwt}"),
    ] {
        std::fs::write(&f, &body).unwrap();
        let (code, o) = check(env, &f, APP, "development", Some(D1));
        assert_eq!(code, 0, "{body:?}: {}", String::from_utf8_lossy(&o.stdout));
        // Standard input.
        let o = env
            .cmd()
            .args(["gateway", "check", "--trust-store", "ts", "--token", "-"])
            .args(["--topic", APP, "--env", "development"])
            .write_stdin(body.clone())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{body:?}: {}", stderr(&o));
    }
    // Bad input: exit 1, one line, nothing on stdout.
    std::fs::write(&f, " \n\t\n").unwrap();
    let empty = env.path("empty.jwt");
    std::fs::write(&empty, "").unwrap();
    for (what, path) in [
        ("whitespace only", f.as_path()),
        ("empty", empty.as_path()),
        ("missing", Path::new("missing.jwt")),
        ("a directory", Path::new("ts")),
    ] {
        let (code, o) = check(env, path, APP, "development", None);
        assert_eq!(code, 1, "{what}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{what}");
        let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
        let m = e["error"]["message"].as_str().unwrap();
        assert!(!m.contains('\n') && !m.is_empty(), "{what}: {m}");
    }
    // Usage errors (exit 2): --register with --token, --cert with --token,
    // the anchor and the token both on standard input.
    let root = env.home().join("ca/root.pem");
    let root = root.to_str().unwrap();
    let t = f.to_str().unwrap();
    for args in [
        vec!["--token", t, "--register", APP, "--device", D1],
        vec!["--token", t, "--cert", "app.pem", "--topic", APP],
        vec!["--token", "-", "--anchor", "-", "--topic", APP],
    ] {
        let o = env
            .cmd()
            .args([
                "gateway",
                "check",
                "--trust-store",
                "ts",
                "--env",
                "development",
            ])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    // A token against another home's root: the trust store does not verify (exit 1).
    let _ = root;
    let other = Env::new();
    other.init_other();
    let other_root = other.home().join("ca/root.pem");
    let o = env
        .cmd()
        .args(["gateway", "check", "--trust-store", "ts", "--anchor"])
        .arg(&other_root)
        .args(["--token"])
        .arg(&f)
        .args(["--topic", APP, "--env", "development"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn gateway_check_token_refuses_hostile_token_files_fast() {
    let w = world();
    let env = &w.env;
    let t = now();
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let claims = b64(&format!(r#"{{"iss":"{TEAM}","iat":{t}}}"#));
    let sig = "A".repeat(86);
    let deep = |n: usize| {
        b64(&format!(
            r#"{{"alg":"ES256","kid":"{}","x":{}{}}}"#,
            w.dev.0,
            "[".repeat(n),
            "]".repeat(n)
        ))
    };
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("1 MB", vec![b'A'; 1 << 20]),
        ("1 MB header", {
            let mut v = b64(&"{".repeat(786_432)).into_bytes();
            v.extend_from_slice(format!(".{claims}.{sig}").as_bytes());
            v
        }),
        ("10,000 dots", vec![b'.'; 10_000]),
        (
            "deep JSON",
            format!("{}.{claims}.{sig}", deep(1_400)).into_bytes(),
        ),
        (
            "deeper JSON",
            format!("{}.{claims}.{sig}", deep(100_000)).into_bytes(),
        ),
        ("huge base64", {
            let mut v = format!("{}.{claims}.", deep(1)).into_bytes();
            v.extend(std::iter::repeat_n(b'A', 10_000_000));
            v
        }),
        ("binary", (0..=255u8).cycle().take(100_000).collect()),
    ];
    let f = env.path("hostile.jwt");
    for (what, body) in hostile {
        std::fs::write(&f, &body).unwrap();
        let start = Instant::now();
        let o = env
            .cmd()
            .args(["gateway", "check", "--trust-store", "ts", "--token"])
            .arg(&f)
            .args(["--topic", APP, "--env", "development", "--device", D1])
            .output()
            .unwrap();
        let el = start.elapsed();
        let code = o.status.code().unwrap_or(-1);
        assert!(code == 3 || code == 1, "{what}: {code}: {}", stderr(&o));
        assert!(el < Duration::from_secs(5), "{what}: {el:?}");
        let out = String::from_utf8_lossy(if code == 3 { &o.stdout } else { &o.stderr });
        assert!(out.len() < 1000, "{what}: {} bytes", out.len());
        assert_eq!(out.trim_end().lines().count(), 1, "{what}: {out}");
        if code == 3 {
            assert!(out.contains(": InvalidProviderToken ("), "{what}: {out}");
        }
    }
}

/// `profile create` signs a profile without push certificates only when an
/// auth key of the team (not revoked) covers the App ID in that environment:
/// what token-based providers need (rule 5 asks only for a profile).
#[test]
fn a_profile_without_push_certificates_needs_an_auth_key_covering_the_app() {
    let env = Env::new();
    env.init_with_app();
    ok(&env, &["device", "add", D1, "--name", "Listed"]);
    ok(&env, &["app", "create", OTHER, "--push"]);
    let create = |env: &Env| {
        env.cmd()
            .args([
                "--json",
                "profile",
                "create",
                "--app",
                APP,
                "--env",
                "development",
            ])
            .args(["--team-devices", "--out", "p.mobileprovision", "--force"])
            .args(["--ca-passin", &pass()])
            .output()
            .unwrap()
    };
    let refused = |env: &Env, what: &str| {
        let o = create(env);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("would authorise no push certificate"),
            "{what}: {e}"
        );
        assert!(
            e.contains("pushca key create --env development"),
            "{what}: {e}"
        );
    };
    refused(&env, "no key");
    key_create(&env, "production", &[]);
    refused(&env, "a production key");
    key_create(&env, "development", &["--app", OTHER]);
    refused(&env, "a key of another App ID");
    let (team_key, _) = key_create(&env, "development", &[]);
    ok(&env, &["key", "revoke", &team_key]);
    refused(&env, "a revoked key");
    key_create(&env, "development", &["--app", APP]);
    let o = create(&env);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    let p = &j["profile"];
    assert_eq!(p["certificates"].as_array().map(Vec::len), Some(0), "{j}");
}
