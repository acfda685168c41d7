//! APNs auth keys (token-based provider authentication), portal side:
//! `key create|list|show|revoke` through the binary, the `.p8` read by
//! openssl and Python's `cryptography`, the limits, the output rules, and
//! the keys in the signed policy of the next trust store.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use crate::common;
use common::{stderr, stdout_json, Env, CA_PASS};

const TEAM: &str = "ABCDE12345";
const APP: &str = "com.example.app";

fn run(env: &Env, args: &[&str]) -> Output {
    env.cmd().args(args).output().unwrap()
}

fn ok(env: &Env, args: &[&str]) -> Output {
    let o = run(env, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    stdout_json(&ok(env, &a))
}

/// A refused command with `--json`: exit 1, one error document on stderr;
/// its `kind` and `message`.
fn refused(env: &Env, args: &[&str]) -> (String, String) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = run(env, &a);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    assert!(o.stdout.is_empty(), "{args:?}");
    let e: serde_json::Value =
        serde_json::from_slice(&o.stderr).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let s = |k: &str| e["error"][k].as_str().unwrap_or_default().to_string();
    let message = s("message");
    assert!(!message.contains('\n'), "one line: {message}");
    (s("kind"), message)
}

/// `key create --env E --out-dir keys` and `extra`: the KEY document.
fn create(env: &Env, e: &str, extra: &[&str]) -> serde_json::Value {
    let mut a = vec!["key", "create", "--env", e, "--out-dir", "keys"];
    a.extend_from_slice(extra);
    json(env, &a)["key"].clone()
}

fn key_count(env: &Env) -> usize {
    json(env, &["key", "list"])["keys"]
        .as_array()
        .unwrap()
        .len()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn publish(env: &Env) -> serde_json::Value {
    json(
        env,
        &[
            "gateway",
            "trust-store",
            "--out",
            "ts",
            "--ca-passin",
            &format!("pass:{CA_PASS}"),
        ],
    )
}

fn policy(env: &Env) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(env.path("ts/policy.json")).unwrap()).unwrap()
}

#[test]
fn key_create_list_show_and_revoke_in_text_and_json() {
    let env = Env::new();
    env.init_with_app();
    // Text: the Key ID, the file, and the private key said to be shown once.
    let o = ok(
        &env,
        &["key", "create", "--env", "development", "--out-dir", "keys"],
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let team_key = text
        .lines()
        .find_map(|l| l.strip_prefix("Key ID:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no Key ID in {text}"));
    assert!(
        team_key.len() == 10
            && team_key
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{team_key}"
    );
    let team_file = env.path(&format!("keys/AuthKey_{team_key}.p8"));
    assert!(
        text.contains(&format!("AuthKey_{team_key}.p8")) && text.contains("team"),
        "{text}"
    );
    assert_eq!(mode(&team_file), 0o600);
    // JSON: a topic-specific production key with a name.
    let k = create(&env, "production", &["--app", APP, "--name", "Push server"]);
    let topic_key = k["key_id"].as_str().unwrap().to_string();
    assert_ne!(topic_key, team_key);
    assert_eq!(
        (
            k["name"].as_str(),
            k["team_id"].as_str(),
            k["environment"].as_str(),
            k["scope"].as_str(),
            k["apps"].clone(),
            k["revoked_at"].clone(),
        ),
        (
            Some("Push server"),
            Some(TEAM),
            Some("production"),
            Some("topics"),
            serde_json::json!([APP]),
            serde_json::Value::Null
        )
    );
    assert_eq!(
        k["file"].as_str(),
        Some(format!("keys/AuthKey_{topic_key}.p8").as_str())
    );
    assert_eq!(k["public_key_sha256"].as_str().unwrap().len(), 64);
    // List: both, in text and JSON.
    let listed = String::from_utf8_lossy(&ok(&env, &["key", "list"]).stdout).into_owned();
    assert!(
        listed.contains(&team_key) && listed.contains(&topic_key) && listed.contains("active"),
        "{listed}"
    );
    let list = json(&env, &["key", "list", "--team", TEAM]);
    let mut ids: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap())
        .collect();
    // Listed by team, creation time (seconds), then Key ID: the order of
    // two keys made within a second is not creation order.
    ids.sort();
    let mut expected = [team_key.as_str(), topic_key.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    let (kind, _) = refused(&env, &["key", "list", "--team", "NOSUCHTEAM"]);
    assert_eq!(kind, "not_found");
    // Show, any letter case.
    let shown = json(&env, &["key", "show", &topic_key.to_ascii_lowercase()]);
    let mut created = k.clone();
    created.as_object_mut().unwrap().remove("file");
    assert_eq!(shown["key"], created);
    let text = String::from_utf8_lossy(&ok(&env, &["key", "show", &team_key]).stdout).into_owned();
    assert!(
        text.contains(&team_key)
            && text.contains("development")
            && text.contains("Revoked:     no"),
        "{text}"
    );
    let (kind, message) = refused(&env, &["key", "show", "NOSUCHKEY0"]);
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("not_found", "no auth key NOSUCHKEY0 in the store")
    );
    // Revoke: once, then idempotent (exit 0, `revoked: false`, the first time kept).
    let r = json(&env, &["key", "revoke", &topic_key]);
    assert_eq!(r["revoked"], true);
    let at = r["key"]["revoked_at"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = json(&env, &["key", "revoke", &topic_key]);
    assert_eq!(
        (again["revoked"].clone(), again["key"]["revoked_at"].clone()),
        (false.into(), at.clone().into())
    );
    let text =
        String::from_utf8_lossy(&ok(&env, &["key", "revoke", &topic_key]).stdout).into_owned();
    assert!(text.contains("already revoked"), "{text}");
    let listed = String::from_utf8_lossy(&ok(&env, &["key", "list"]).stdout).into_owned();
    assert!(listed.contains("revoked"), "{listed}");
    assert_eq!(
        json(&env, &["key", "show", &topic_key])["key"]["revoked_at"],
        at.as_str()
    );
    let (kind, _) = refused(&env, &["key", "revoke", "NOSUCHKEY0"]);
    assert_eq!(kind, "not_found");
}

/// The public key of a `.p8` as Python's `cryptography` reads it: curve
/// name, DER SPKI (base64) and the private scalar (hex).
fn python_read_p8(p8: &Path) -> (String, String, String) {
    let script = r#"
import sys, base64
from cryptography.hazmat.primitives.serialization import load_pem_private_key, Encoding, PublicFormat
from cryptography.hazmat.primitives.asymmetric import ec
k = load_pem_private_key(open(sys.argv[1], 'rb').read(), password=None)
assert isinstance(k, ec.EllipticCurvePrivateKey)
spki = k.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
print(k.curve.name, base64.b64encode(spki).decode(), k.private_numbers().private_value.to_bytes(32, 'big').hex())
"#;
    let o = StdCommand::new("python3")
        .args(["-c", script])
        .arg(p8)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f.len(), 3, "{out}");
    (f[0].into(), f[1].into(), f[2].into())
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn sha256_hex(data: &[u8]) -> String {
    pushca::x509::sha256_hex(data)
}

#[test]
fn the_p8_is_a_p256_pkcs8_key_that_openssl_and_python_read_and_its_public_key_is_the_stores() {
    let env = Env::new();
    env.init_with_app();
    let k = create(&env, "development", &["--app", APP]);
    let id = k["key_id"].as_str().unwrap();
    let p8: PathBuf = env.path(k["file"].as_str().unwrap());
    assert_eq!(mode(&p8), 0o600);
    let pem = std::fs::read_to_string(&p8).unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\n")
            && pem.trim_end().ends_with("-----END PRIVATE KEY-----"),
        "{pem}"
    );
    // openssl: an unencrypted P-256 key; its public key (DER SPKI) is the store's.
    let text = env.openssl(&["pkey", "-in", p8.to_str().unwrap(), "-noout", "-text"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "{text}"
    );
    let spki = env
        .openssl(&[
            "pkey",
            "-in",
            p8.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
        ])
        .stdout;
    let shown = json(&env, &["key", "show", id])["key"].clone();
    assert_eq!(shown["public_key"].as_str(), Some(b64(&spki).as_str()));
    assert_eq!(
        shown["public_key_sha256"].as_str(),
        Some(sha256_hex(&spki).as_str())
    );
    // Python's cryptography: the same key.
    let (curve, py_spki, _) = python_read_p8(&p8);
    assert_eq!(curve, "secp256r1");
    assert_eq!(py_spki, b64(&spki));
    // The trust store's signed policy carries the same public key.
    publish(&env);
    let p = policy(&env);
    assert_eq!(
        p["keys"][id]["public_key"].as_str(),
        Some(b64(&spki).as_str())
    );
}

#[test]
fn every_key_limit_is_enforced_with_one_clear_line_and_nothing_recorded() {
    let env = Env::new();
    env.init_with_app();
    let dev = ["key", "create", "--env", "development", "--out-dir", "keys"];
    fn with<'a>(dev: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [dev, extra].concat()
    }
    // Two team-scoped keys per team and environment; a third is refused.
    let first = create(&env, "development", &[]);
    create(&env, "development", &[]);
    let (kind, message) = refused(&env, &dev);
    assert_eq!(kind, "policy");
    assert_eq!(
        message,
        format!(
            "team {TEAM} already has 2 active team-scoped development keys, the limit per team and environment"
        )
    );
    assert_eq!((key_count(&env), files_in(&env.path("keys")).len()), (2, 2));
    // The other environment and topic-specific keys have their own limits.
    create(&env, "production", &[]);
    create(&env, "development", &["--app", APP]);
    // A revoked key does not count.
    ok(&env, &["key", "revoke", first["key_id"].as_str().unwrap()]);
    create(&env, "development", &[]);
    assert_eq!(key_count(&env), 5);
    // At most 400 App IDs per key (counted before any is looked up: 400
    // unknown ones get as far as the first lookup).
    let many: Vec<String> = (0..401).map(|i| format!("com.example.a{i}")).collect();
    let mut args: Vec<&str> = dev.to_vec();
    for a in &many {
        args.extend(["--app", a.as_str()]);
    }
    let (kind, message) = refused(&env, &args);
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("policy", "a key covers at most 400 App IDs, 401 given")
    );
    let (kind, message) = refused(&env, &args[..args.len() - 2]);
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("not_found", "no App ID com.example.a0")
    );
    // Each App ID explicit, registered, of the key's team, enabled, with push.
    ok(&env, &["app", "create", "com.example.*"]);
    ok(&env, &["app", "create", "com.example.nopush"]);
    ok(&env, &["app", "create", "com.example.off", "--push"]);
    ok(&env, &["app", "disable", "com.example.off"]);
    ok(
        &env,
        &["team", "create", "Other", "--team-id", "OTHER00001"],
    );
    ok(
        &env,
        &[
            "app",
            "create",
            "com.other.app",
            "--push",
            "--team",
            "OTHER00001",
        ],
    );
    let cases: [(&str, &str, &str); 5] = [
        (
            "com.example.*",
            "policy",
            "App ID com.example.* is a wildcard; an auth key covers explicit App IDs only",
        ),
        (
            "com.example.nopush",
            "policy",
            "App ID com.example.nopush does not have the push capability; an auth key covers App IDs with push only",
        ),
        (
            "com.example.off",
            "policy",
            "App ID com.example.off is disabled; an auth key covers enabled App IDs only",
        ),
        (
            "com.other.app",
            "policy",
            "App ID com.other.app belongs to team OTHER00001, not to the key's team ABCDE12345",
        ),
        (
            "com.example.unknown",
            "not_found",
            "no App ID com.example.unknown",
        ),
    ];
    for (app, want_kind, want) in cases {
        let (kind, message) = refused(&env, &with(&dev, &["--app", APP, "--app", app]));
        assert_eq!(
            (kind.as_str(), message.as_str()),
            (want_kind, want),
            "{app}"
        );
    }
    // The other team's App ID is fine for a key of that team.
    create(
        &env,
        "development",
        &["--team", "OTHER00001", "--app", "com.other.app"],
    );
    assert_eq!((key_count(&env), files_in(&env.path("keys")).len()), (6, 6));
}

#[test]
fn a_refused_output_leaves_no_record_and_no_file() {
    let env = Env::new();
    env.init_with_app();
    // Inside the home: refused.
    let inside = env.home().join("keys");
    let (kind, message) = refused(
        &env,
        &[
            "key",
            "create",
            "--env",
            "development",
            "--out-dir",
            inside.to_str().unwrap(),
        ],
    );
    assert_eq!(kind, "policy", "{message}");
    // A regular file where the directory should be: refused.
    std::fs::write(env.path("plain"), "x").unwrap();
    let (kind, message) = refused(
        &env,
        &[
            "key",
            "create",
            "--env",
            "development",
            "--out-dir",
            "plain/sub",
        ],
    );
    assert!(kind == "io" || kind == "policy", "{kind}: {message}");
    // Standard output is no directory.
    let (kind, _) = refused(
        &env,
        &["key", "create", "--env", "development", "--out-dir", "-"],
    );
    assert_eq!(kind, "io");
    assert_eq!(key_count(&env), 0);
    assert!(!inside.exists());
    // (An existing AuthKey_<KEYID>.p8 without --force: ops::keys's unit
    // test, which fixes the Key ID.)
}

#[test]
fn keys_reach_the_signed_policy_and_a_create_or_revoke_makes_a_new_version() {
    let env = Env::new();
    env.init_with_app();
    let v1 = publish(&env);
    assert_eq!(v1["version"], 1);
    // A profile-less App ID with push is in the policy (for tokens), with
    // no environments; its team is in `teams`.
    let p = policy(&env);
    assert_eq!(p["apps"][APP]["environments"], serde_json::json!({}));
    assert_eq!(p["apps"][APP]["team_id"], TEAM);
    assert!(p["teams"][TEAM].is_object(), "{p}");
    assert_eq!(p["keys"], serde_json::json!({}));
    // A key of a team without any App ID: its team is in `teams` too.
    ok(
        &env,
        &["team", "create", "Keys only", "--team-id", "KEYTEAM001"],
    );
    let k = create(&env, "production", &["--team", "KEYTEAM001"]);
    let id = k["key_id"].as_str().unwrap();
    let t = create(&env, "development", &["--app", APP]);
    let tid = t["key_id"].as_str().unwrap();
    let v2 = publish(&env);
    assert_eq!(
        (v2["changed"].clone(), v2["version"].clone()),
        (true.into(), 2.into())
    );
    let p = policy(&env);
    assert_eq!(
        p["keys"][id],
        serde_json::json!({
            "team_id": "KEYTEAM001",
            "environment": "production",
            "scope": "team",
            "apps": [],
            "public_key": k["public_key"],
            "revoked_at": null,
        })
    );
    assert_eq!(p["keys"][tid]["apps"], serde_json::json!([APP]));
    assert_eq!(p["keys"][tid]["scope"], "topics");
    assert!(p["teams"]["KEYTEAM001"].is_object(), "{p}");
    // Unchanged keys: nothing new.
    let same = publish(&env);
    assert_eq!(
        (same["changed"].clone(), same["version"].clone()),
        (false.into(), serde_json::Value::Null)
    );
    // A revocation: a new version, the key kept and marked.
    let r = json(&env, &["key", "revoke", id]);
    let v3 = publish(&env);
    assert_eq!(
        (v3["changed"].clone(), v3["version"].clone()),
        (true.into(), 3.into())
    );
    let p = policy(&env);
    assert_eq!(p["keys"][id]["revoked_at"], r["key"]["revoked_at"]);
    assert!(p["keys"][id]["revoked_at"].is_string());
    assert_eq!(p["keys"][tid]["revoked_at"], serde_json::Value::Null);
    // The store still loads (the library verifies what it enforces).
    let anchor = pushca::gateway::Anchor::from_file(env.home().join("ca/root.pem")).unwrap();
    pushca::gateway::Gateway::load(env.path("ts"), anchor).unwrap();
    // Revoking again changes nothing: no new version.
    ok(&env, &["key", "revoke", id]);
    assert_eq!(publish(&env)["changed"], false);
}

#[test]
fn no_private_material_in_listings_the_store_or_the_trust_store() {
    let env = Env::new();
    env.init_with_app();
    let k = create(&env, "development", &[]);
    let id = k["key_id"].as_str().unwrap();
    let p8 = env.path(k["file"].as_str().unwrap());
    let (_, _, scalar_hex) = python_read_p8(&p8);
    let scalar = hex::decode(&scalar_hex).unwrap();
    let pem = std::fs::read_to_string(&p8).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    publish(&env);
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let outputs = [
        ok(&env, &["--json", "key", "list"]).stdout,
        ok(&env, &["key", "list"]).stdout,
        ok(&env, &["--json", "key", "show", id]).stdout,
        ok(&env, &["key", "show", id]).stdout,
        ok(&env, &["--json", "key", "revoke", id]).stdout,
    ];
    for out in &outputs {
        let s = String::from_utf8_lossy(out);
        assert!(!s.contains("PRIVATE"), "{s}");
        assert!(!s.contains(&body[..40]), "{s}");
        assert!(!s.contains(&scalar_hex), "{s}");
    }
    // The store (and its WAL): no PEM private key, not the scalar.
    for f in files_in(&env.home()) {
        if !f.starts_with("pushca.db") {
            continue;
        }
        let data = std::fs::read(env.home().join(&f)).unwrap();
        assert!(!contains(&data, b"PRIVATE KEY"), "{f}");
        assert!(!contains(&data, &scalar), "{f}");
        assert!(!contains(&data, &body.as_bytes()[..40]), "{f}");
    }
    // The trust store: none either.
    for f in files_in(&env.path("ts")) {
        let path = env.path("ts").join(&f);
        if path.is_dir() {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        assert!(!contains(&data, b"PRIVATE KEY"), "{f}");
        assert!(!contains(&data, &scalar), "{f}");
        assert!(!contains(&data, &body.as_bytes()[..40]), "{f}");
    }
}
