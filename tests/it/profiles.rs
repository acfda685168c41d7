//! Devices and provisioning profiles, on the built binary, with `openssl cms`,
//! Python's `plistlib` and Python `cryptography` as oracles.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use common::{stderr, stdout_json, Env, CA_PASS};

const UDID_NEW: &str = "00008030-001A0C3E0E68802E";
const UDID_OLD: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const UDID_3: &str = "00008101-000A1B2C3D4E5F60";

fn pass() -> String {
    format!("pass:{CA_PASS}")
}

/// A home with com.example.app (push), two devices and one development and
/// one production certificate; returns the serials (development, production).
fn setup(env: &Env) -> (String, String) {
    env.init_with_app();
    for (u, n) in [(UDID_NEW, "Ana's iPhone"), (UDID_OLD, "Old iPad")] {
        env.cmd()
            .args(["device", "add", u, "--name", n])
            .assert()
            .success();
    }
    let csr = env.openssl_csr("dev", "ec:P-256", &[]);
    let dev = issue_serial(env, "development", &csr, "dev.pem");
    let csr = env.openssl_csr("prod", "ec:P-256", &[]);
    let prod = issue_serial(env, "production", &csr, "prod.pem");
    (dev, prod)
}

fn issue_serial(env: &Env, e: &str, csr: &Path, out: &str) -> String {
    let o = env.issue_cmd(e, csr, out).arg("--json").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout_json(&o)["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

fn create(env: &Env, args: &[&str]) -> std::process::Output {
    env.cmd()
        .args(["--json", "profile", "create", "--app", "com.example.app"])
        .args(args)
        .args(["--ca-passin", &pass()])
        .output()
        .unwrap()
}

fn create_ok(env: &Env, args: &[&str]) -> serde_json::Value {
    let o = create(env, args);
    assert!(
        o.status.success(),
        "profile create {args:?}: {}",
        stderr(&o)
    );
    stdout_json(&o)["profile"].clone()
}

fn show(env: &Env, file: &Path, extra: &[&str]) -> std::process::Output {
    env.cmd()
        .args(["--json", "profile", "show"])
        .arg(file)
        .args(extra)
        .output()
        .unwrap()
}

fn plistlib(xml: &Path) -> serde_json::Value {
    let script = r#"
import json, plistlib, sys, datetime, base64
with open(sys.argv[1], 'rb') as f:
    p = plistlib.load(f)
def conv(v):
    if isinstance(v, datetime.datetime): return v.strftime('%Y-%m-%dT%H:%M:%SZ')
    if isinstance(v, bytes): return base64.b64encode(v).decode()
    if isinstance(v, dict): return {k: conv(x) for k, x in v.items()}
    if isinstance(v, list): return [conv(x) for x in v]
    return v
print(json.dumps(conv(p)))
"#;
    let o = StdCommand::new("python3")
        .arg("-c")
        .arg(script)
        .arg(xml)
        .output()
        .expect("python3");
    assert!(o.status.success(), "plistlib: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Exit 1, nothing on stdout, and the one-line error names `needle`.
fn refused(o: &std::process::Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(o.stdout.is_empty(), "nothing on stdout");
    assert!(
        stderr(o).contains(needle),
        "expected '{needle}' in {}",
        stderr(o)
    );
}

fn sha256_hex(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

#[test]
fn devices_are_normalised_idempotent_and_validated() {
    let env = Env::new();
    env.init();
    let o = env
        .cmd()
        .args([
            "--json",
            "device",
            "add",
            &UDID_NEW.to_lowercase(),
            "--name",
            "Ana's iPhone",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(
        j["device"]["udid"], UDID_NEW,
        "new form normalised to uppercase"
    );
    assert_eq!(j["created"], true);
    // Identical re-run: created false, exit 0.
    let o = env
        .cmd()
        .args([
            "--json",
            "device",
            "add",
            UDID_NEW,
            "--name",
            "Ana's iPhone",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(stdout_json(&o)["created"], false);
    // Conflicting re-run: exit 1, names the difference.
    let o = env
        .cmd()
        .args(["device", "add", UDID_NEW, "--name", "Bob's iPhone"])
        .output()
        .unwrap();
    refused(&o, "Ana's iPhone");
    // The classic form, uppercase in: lowercase out.
    env.cmd()
        .args(["device", "add", &UDID_OLD.to_uppercase(), "--name", "iPad"])
        .assert()
        .success();
    // Invalid forms: refused with the reason, nothing recorded.
    for (bad, why) in [
        ("1234", "got 4 digits"),
        ("00008030-001A0C3E0E68802", "8 hex digits, a dash and 16"),
        (
            "z1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "'z' at position 1",
        ),
    ] {
        let o = env
            .cmd()
            .args(["--json", "device", "add", bad, "--name", "x"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad}");
        let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
        assert_eq!(e["error"]["kind"], "input");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(why),
            "{bad}: {e}"
        );
    }
    let o = env
        .cmd()
        .args(["--json", "device", "list"])
        .output()
        .unwrap();
    let list = stdout_json(&o);
    let udids: Vec<&str> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["udid"].as_str().unwrap())
        .collect();
    assert_eq!(udids, [UDID_NEW, UDID_OLD]);
    // Disable: the flag changes once; unknown devices are not found.
    let o = env
        .cmd()
        .args(["--json", "device", "disable", UDID_OLD])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&o)["changed"], true);
    let o = env
        .cmd()
        .args(["--json", "device", "disable", UDID_OLD])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&o)["changed"], false);
    let o = env
        .cmd()
        .args(["--json", "device", "disable", UDID_3])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["error"]["kind"], "not_found");
}

#[test]
fn profiles_verify_with_openssl_and_read_with_plistlib() {
    let env = Env::new();
    let (dev, prod) = setup(&env);
    let p = create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--device",
            UDID_OLD,
            "--out",
            "dev.mobileprovision",
        ],
    );
    assert_eq!(p["environment"], "development");
    assert_eq!(p["certificates"], serde_json::json!([dev]));
    let uuid = p["uuid"].as_str().unwrap().to_string();
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid, uuid.to_uppercase());
    // openssl cms -verify accepts it, default purpose (S/MIME signing) and any.
    let chain = env.ca_pem("chain");
    let chain = chain.to_str().unwrap();
    for purpose in [None, Some("any")] {
        let mut args = vec![
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "dev.mobileprovision",
            "-CAfile",
            chain,
            "-out",
            "dev.plist",
        ];
        if let Some(pu) = purpose {
            args.extend(["-purpose", pu]);
        }
        let o = env.openssl(&args);
        assert!(
            stderr(&o).contains("Verification successful"),
            "{}",
            stderr(&o)
        );
    }
    let pl = plistlib(&env.path("dev.plist"));
    let dev_sha = sha256_hex(&common::cert_der(&env.path("dev.pem")));
    assert_eq!(pl["AppIDName"], "com.example.app");
    assert_eq!(
        pl["ApplicationIdentifierPrefix"],
        serde_json::json!(["ABCDE12345"])
    );
    assert_eq!(pl["TeamIdentifier"], serde_json::json!(["ABCDE12345"]));
    assert_eq!(pl["TeamName"], "Example Corp");
    assert_eq!(pl["UUID"], uuid.as_str());
    assert_eq!(pl["Version"], 1);
    assert_eq!(pl["IsXcodeManaged"], false);
    assert_eq!(pl["Platform"], serde_json::json!(["iOS"]));
    assert_eq!(
        pl["TimeToLive"].as_i64().map(|d| (364..=366).contains(&d)),
        Some(true)
    );
    let ent = &pl["Entitlements"];
    assert_eq!(ent["application-identifier"], "ABCDE12345.com.example.app");
    assert_eq!(ent["aps-environment"], "development");
    assert_eq!(ent["com.apple.developer.team-identifier"], "ABCDE12345");
    assert_eq!(ent["get-task-allow"], true);
    let mut devices: Vec<String> = pl["ProvisionedDevices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    devices.sort();
    assert_eq!(devices, [UDID_NEW, UDID_OLD]);
    assert!(pl.get("ProvisionsAllDevices").is_none());
    assert_eq!(pl["PushCertificates"], serde_json::json!([dev_sha]));
    assert!(pl["ExpirationDate"].as_str().unwrap() > pl["CreationDate"].as_str().unwrap());

    // Production, all devices: the production certificate only, get-task-allow false.
    let p = create_ok(
        &env,
        &[
            "--env",
            "production",
            "--all-devices",
            "--out",
            "prod.mobileprovision",
        ],
    );
    assert_eq!(p["certificates"], serde_json::json!([prod]));
    env.openssl(&[
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "prod.mobileprovision",
        "-CAfile",
        chain,
        "-out",
        "prod.plist",
    ]);
    let pl = plistlib(&env.path("prod.plist"));
    assert_eq!(pl["ProvisionsAllDevices"], true);
    assert!(pl.get("ProvisionedDevices").is_none());
    assert_eq!(pl["Entitlements"]["aps-environment"], "production");
    assert_eq!(pl["Entitlements"]["get-task-allow"], false);

    // profile show: verified, the fields, and the serials the home knows.
    let o = show(&env, &env.path("dev.mobileprovision"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout_json(&o);
    assert_eq!(s["verified"], true);
    assert_eq!(s["expired"], false);
    assert_eq!(s["uuid"], uuid.as_str());
    assert_eq!(s["environment"], "development");
    assert_eq!(s["app_id"], "ABCDE12345.com.example.app");
    assert_eq!(s["certificates"][0]["serial"], dev.as_str());
    assert_eq!(s["certificates"][0]["sha256"], dev_sha.as_str());
    assert_eq!(s["plist"]["Entitlements"]["get-task-allow"], true);
    assert!(s["plist"]["CreationDate"].as_str().unwrap().ends_with('Z'));
    assert!(s["signer"]["subject"]
        .as_str()
        .unwrap()
        .contains("Provisioning Profile Signing"));
    // --plist prints what `security cms -D` would: the XML that openssl extracted.
    let o = env
        .cmd()
        .args(["profile", "show", "dev.mobileprovision", "--plist"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, std::fs::read(env.path("dev.plist")).unwrap());
    // Text output names the summary.
    let o = env
        .cmd()
        .args(["profile", "show", "dev.mobileprovision"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Environment:  development") && text.contains(&dev),
        "{text}"
    );

    // profile list: both, JSON; --expiring-within exits 4 only in the window.
    let o = env
        .cmd()
        .args(["--json", "profile", "list"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&o)["profiles"].as_array().unwrap().len(), 2);
    let o = env
        .cmd()
        .args(["profile", "list", "--expiring-within", "30"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let o = env
        .cmd()
        .args(["--json", "profile", "list", "--expiring-within", "400"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(stdout_json(&o)["profiles"].as_array().unwrap().len(), 2);
}

/// Offsets of the first occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in profile")
}

#[test]
fn one_altered_byte_anywhere_is_refused() {
    let env = Env::new();
    setup(&env);
    create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "p.mobileprovision",
        ],
    );
    let good = std::fs::read(env.path("p.mobileprovision")).unwrap();
    let content_at = find(&good, b"<key>aps-environment</key>");
    // The signature is the last OCTET STRING: its last byte is the file's last.
    let sig_at = good.len() - 1;
    // The embedded certificates: the signer's subject, and both places the
    // issuing CA's name appears (its own certificate and the signer's issuer).
    let signer_at = find(&good, b"Provisioning Profile Signing") + 3;
    let issuing_first = find(&good, b"Developer Relations") + 3;
    let issuing_last = good
        .windows(19)
        .rposition(|w| w == b"Developer Relations")
        .unwrap()
        + 3;
    assert_ne!(issuing_first, issuing_last);
    for (what, at) in [
        ("content", content_at + 6),
        ("signature", sig_at),
        ("signer-certificate", signer_at),
        ("certificate-1", issuing_first),
        ("certificate-2", issuing_last),
    ] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let f = env.path(&format!("bad-{what}.mobileprovision"));
        std::fs::write(&f, &bad).unwrap();
        let o = show(&env, &f, &[]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{what}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(o.stdout.is_empty(), "{what}: nothing on stdout");
        let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains("bad-"), "{what}: names the file: {msg}");
        assert_eq!(msg.lines().count(), 1);
    }
    // A truncated file and an unrelated file are errors too, never a panic.
    std::fs::write(env.path("trunc.mobileprovision"), &good[..good.len() / 2]).unwrap();
    assert_eq!(
        show(&env, &env.path("trunc.mobileprovision"), &[])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(show(&env, &env.path("dev.pem"), &[]).status.code(), Some(1));
    // Another home's CA does not trust it.
    let other = Env::new();
    other.init_other();
    let o = show(
        &env,
        &env.path("p.mobileprovision"),
        &["--ca", other.ca_pem("root").to_str().unwrap()],
    );
    refused(&o, "not trusted");
}

#[test]
fn refusals_write_and_record_nothing() {
    let env = Env::new();
    let (dev, prod) = setup(&env);
    env.cmd()
        .args(["app", "create", "com.example.nopush"])
        .assert()
        .success();
    env.cmd()
        .args(["app", "create", "com.example.*"])
        .assert()
        .success();
    env.cmd()
        .args(["app", "create", "com.example.off", "--push"])
        .assert()
        .success();
    env.cmd()
        .args(["app", "disable", "com.example.off"])
        .assert()
        .success();
    env.cmd()
        .args(["device", "add", UDID_3, "--name", "Off"])
        .assert()
        .success();
    env.cmd()
        .args(["device", "disable", UDID_3])
        .assert()
        .success();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--app".into(),
                "com.example.nopush".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                UDID_NEW.into(),
            ],
            "push capability",
        ),
        (
            vec![
                "--app".into(),
                "com.example.*".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                UDID_NEW.into(),
            ],
            "wildcard",
        ),
        (
            vec![
                "--app".into(),
                "com.example.off".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                UDID_NEW.into(),
            ],
            "disabled",
        ),
        (
            vec![
                "--app".into(),
                "com.example.unknown".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                UDID_NEW.into(),
            ],
            "no App ID",
        ),
        (
            vec![
                "--app".into(),
                "com.example.app".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                "00008030-FFFFFFFFFFFFFFFF".into(),
            ],
            "not registered",
        ),
        (
            vec![
                "--app".into(),
                "com.example.app".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                UDID_3.into(),
            ],
            "disabled",
        ),
        (
            vec![
                "--app".into(),
                "com.example.app".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                "nonsense".into(),
            ],
            "invalid UDID",
        ),
        (
            vec![
                "--app".into(),
                "com.example.app".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                UDID_NEW.into(),
                "--cert".into(),
                prod.clone(),
            ],
            "production certificate",
        ),
        (
            vec![
                "--app".into(),
                "com.example.app".into(),
                "--env".into(),
                "production".into(),
                "--all-devices".into(),
                "--cert".into(),
                dev.clone(),
            ],
            "development certificate",
        ),
        (
            vec![
                "--app".into(),
                "com.example.app".into(),
                "--env".into(),
                "production".into(),
                "--all-devices".into(),
                "--cert".into(),
                "deadbeefdeadbeef".into(),
            ],
            "no certificate",
        ),
        (
            vec![
                "--app".into(),
                "com.example.app".into(),
                "--env".into(),
                "development".into(),
                "--device".into(),
                UDID_NEW.into(),
                "--days".into(),
                "0".into(),
            ],
            "--days",
        ),
    ];
    for (args, needle) in &cases {
        let o = env
            .cmd()
            .args(["--json", "profile", "create"])
            .args(args)
            .args(["--out", "p.mobileprovision", "--ca-passin", &pass()])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{args:?}: {msg}");
        assert!(
            !env.path("p.mobileprovision").exists(),
            "{args:?}: nothing written"
        );
    }
    // --env universal is not a profile environment (usage error).
    let o = create(
        &env,
        &[
            "--env",
            "universal",
            "--device",
            UDID_NEW,
            "--out",
            "p.mobileprovision",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    // Devices are required: one of --device, --team-devices, --all-devices.
    let o = create(
        &env,
        &["--env", "development", "--out", "p.mobileprovision"],
    );
    assert_eq!(o.status.code(), Some(2));
    // A team without enabled devices: --team-devices would provision nothing.
    env.cmd()
        .args(["device", "disable", UDID_NEW])
        .assert()
        .success();
    env.cmd()
        .args(["device", "disable", UDID_OLD])
        .assert()
        .success();
    let o = create(
        &env,
        &[
            "--env",
            "development",
            "--team-devices",
            "--out",
            "p.mobileprovision",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(
        e["error"]["hint"].as_str().unwrap().contains("enterprise"),
        "{e}"
    );
    // An App ID without a certificate for the environment: say which to issue.
    env.cmd()
        .args(["app", "create", "com.example.fresh", "--push"])
        .assert()
        .success();
    let o = env
        .cmd()
        .args([
            "--json",
            "profile",
            "create",
            "--app",
            "com.example.fresh",
            "--env",
            "production",
            "--all-devices",
        ])
        .args(["--out", "p.mobileprovision", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(
        e["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("cert issue --app com.example.fresh --env production"),
        "{e}"
    );
    // Wrong CA passphrase: nothing written, nothing recorded.
    env.cmd()
        .args(["device", "enable", UDID_NEW])
        .assert()
        .success();
    let o = env
        .cmd()
        .args([
            "profile",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "development",
            "--device",
            UDID_NEW,
        ])
        .args([
            "--out",
            "p.mobileprovision",
            "--ca-passin",
            "pass:wrong passphrase",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!env.path("p.mobileprovision").exists());
    // An existing output is refused without --force, and never inside the home.
    std::fs::write(env.path("exists.mobileprovision"), b"keep").unwrap();
    let o = create(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "exists.mobileprovision",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read(env.path("exists.mobileprovision")).unwrap(),
        b"keep"
    );
    let inside = env.home().join("p.mobileprovision");
    let o = create(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            inside.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = env
        .cmd()
        .args(["--json", "profile", "list", "--all"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_json(&o)["profiles"].as_array().unwrap().len(),
        0,
        "nothing recorded"
    );
}

/// Sets a certificate's expiry in the store to the past (the certificate
/// itself is still valid: this tests the store's view, which decides).
fn expire_in_store(env: &Env, serial: &str) {
    let db = env.home().join("pushca.db");
    let o = StdCommand::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); \
             c.execute('UPDATE certificates SET not_after=? WHERE serial=?', (int(time.time())-60, sys.argv[2])); c.commit()",
        ])
        .arg(&db)
        .arg(serial)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn regenerate_picks_up_new_devices_and_certificates_and_drops_expired_ones() {
    let env = Env::new();
    let (dev, _) = setup(&env);
    let p = create_ok(
        &env,
        &[
            "--env",
            "development",
            "--team-devices",
            "--out",
            "p.mobileprovision",
        ],
    );
    let old_uuid = p["uuid"].as_str().unwrap().to_string();
    assert_eq!(p["devices"].as_array().unwrap().len(), 2);
    // A certificate issued after the profile changes nothing until regeneration.
    let csr = env.openssl_csr("dev2", "ec:P-256", &[]);
    let dev2 = issue_serial(&env, "development", &csr, "dev2.pem");
    let csr = env.openssl_csr("uni", "ec:P-256", &[]);
    let uni = issue_serial(&env, "universal", &csr, "uni.pem");
    env.cmd()
        .args(["device", "add", UDID_3, "--name", "New iPhone"])
        .assert()
        .success();
    env.cmd()
        .args(["device", "disable", UDID_OLD])
        .assert()
        .success();
    expire_in_store(&env, &dev);
    let o = show(&env, &env.path("p.mobileprovision"), &[]);
    assert_eq!(stdout_json(&o)["certificates"].as_array().unwrap().len(), 1);

    let o = env
        .cmd()
        .args([
            "--json",
            "profile",
            "regenerate",
            &old_uuid,
            "--out-dir",
            "regen",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = stdout_json(&o)["profiles"][0].clone();
    let new_uuid = r["uuid"].as_str().unwrap().to_string();
    assert_ne!(new_uuid, old_uuid);
    assert_eq!(r["supersedes"], old_uuid.as_str());
    let file = env
        .path("regen")
        .join(format!("{new_uuid}.mobileprovision"));
    let s = stdout_json(&show(&env, &file, &[]));
    let mut devices: Vec<&str> = s["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    devices.sort();
    assert_eq!(
        devices,
        [UDID_NEW, UDID_3],
        "new device in, disabled device out"
    );
    let mut serials: Vec<&str> = s["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap())
        .collect();
    serials.sort();
    let mut want = vec![dev2.as_str(), uni.as_str()];
    want.sort();
    assert_eq!(
        serials, want,
        "new and universal certificates in, expired one out"
    );
    // The old profile is superseded: listed only with --all, and not regenerated again.
    let o = env
        .cmd()
        .args(["--json", "profile", "list"])
        .output()
        .unwrap();
    let current: Vec<String> = stdout_json(&o)["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uuid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(current, std::slice::from_ref(&new_uuid));
    let o = env
        .cmd()
        .args(["--json", "profile", "list", "--all"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&o)["profiles"].as_array().unwrap().len(), 2);
    let o = env
        .cmd()
        .args([
            "profile",
            "regenerate",
            &old_uuid,
            "--out-dir",
            "regen2",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    refused(&o, "superseded");
    // --all regenerates every current profile; export recovers any from the store.
    let o = env
        .cmd()
        .args([
            "--json",
            "profile",
            "regenerate",
            "--all",
            "--out-dir",
            "regen3",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["profiles"].as_array().unwrap().len(), 1);
    env.cmd()
        .args([
            "profile",
            "export",
            &old_uuid,
            "--out",
            "old.mobileprovision",
        ])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(env.path("old.mobileprovision")).unwrap(),
        std::fs::read(env.path("p.mobileprovision")).unwrap()
    );
    // The default selection of a new profile leaves the expired certificate out too.
    let p = create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "q.mobileprovision",
        ],
    );
    assert!(!p["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == dev.as_str()));
    // Naming the expired certificate explicitly is refused.
    let o = create(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--cert",
            &dev,
            "--out",
            "r.mobileprovision",
        ],
    );
    refused(&o, "expired");
}

/// A CA and profile signer of "Apple" made with openssl, and an Apple-style
/// profile signed by it with `openssl cms -sign`.
struct AppleStyle {
    ca: PathBuf,
    profile: PathBuf,
}

fn apple_style(env: &Env, expiration: &str, name: &str) -> AppleStyle {
    let d = |n: &str| format!("{name}-{n}");
    env.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &d("root.key"),
        "-out",
        &d("root.pem"),
        "-days",
        "3650",
        "-subj",
        "/CN=Apple Root CA/O=Apple Inc./C=US",
        "-sha1",
    ]);
    std::fs::write(env.path(&d("ext.cnf")), "[s]\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=1.2.840.113635.100.4.13\nbasicConstraints=critical,CA:FALSE\n").unwrap();
    env.openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &d("signer.key"),
        "-out",
        &d("signer.csr"),
        "-subj",
        "/CN=Apple iPhone OS Provisioning Profile Signing/O=Apple Inc./C=US",
    ]);
    env.openssl(&[
        "x509",
        "-req",
        "-in",
        &d("signer.csr"),
        "-CA",
        &d("root.pem"),
        "-CAkey",
        &d("root.key"),
        "-CAcreateserial",
        "-days",
        "365",
        "-out",
        &d("signer.pem"),
        "-extfile",
        &d("ext.cnf"),
        "-extensions",
        "s",
        "-sha1",
    ]);
    // A developer certificate for DeveloperCertificates.
    env.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &d("devcert.key"),
        "-out",
        &d("devcert.pem"),
        "-days",
        "30",
        "-subj",
        "/CN=Apple Development: Ana (XYZ)",
    ]);
    let devcert = common::cert_der(&env.path(&d("devcert.pem")));
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&devcert);
    let plist = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>AppIDName</key>
	<string>XC com example apple</string>
	<key>ApplicationIdentifierPrefix</key>
	<array>
	<string>QWERTY1234</string>
	</array>
	<key>CreationDate</key>
	<date>2024-01-02T03:04:05Z</date>
	<key>Platform</key>
	<array>
		<string>iOS</string>
		<string>xrOS</string>
		<string>visionOS</string>
	</array>
	<key>IsXcodeManaged</key>
	<true/>
	<key>DeveloperCertificates</key>
	<array>
		<data>{b64}</data>
	</array>
	<key>DER-Encoded-Profile</key>
	<data>MIIOAAYJKoZIhvcNAQcCoIIN8TCCDe0CAQExDzANBglghkgBZQMEAgEFADCCA7Q=</data>
	<key>Entitlements</key>
	<dict>
		<key>application-identifier</key>
		<string>QWERTY1234.com.example.apple</string>
		<key>keychain-access-groups</key>
		<array>
				<string>QWERTY1234.*</string>
				<string>com.apple.token</string>
		</array>
		<key>get-task-allow</key>
		<true/>
		<key>com.apple.developer.team-identifier</key>
		<string>QWERTY1234</string>
		<key>aps-environment</key>
		<string>development</string>
		<key>com.apple.developer.associated-domains</key>
		<string>*</string>
		<key>com.apple.developer.icloud-container-identifiers</key>
		<array/>
	</dict>
	<key>ExpirationDate</key>
	<date>{expiration}</date>
	<key>Name</key>
	<string>iOS Team Provisioning Profile: com.example.apple</string>
	<key>ProvisionedDevices</key>
	<array>
		<string>00008030-001A0C3E0E68802E</string>
	</array>
	<key>LocalProvision</key>
	<false/>
	<key>TeamIdentifier</key>
	<array>
		<string>QWERTY1234</string>
	</array>
	<key>TeamName</key>
	<string>Apple Style Team</string>
	<key>TimeToLive</key>
	<integer>365</integer>
	<key>UUID</key>
	<string>0D5E0A7B-1C2D-4E3F-8A9B-0C1D2E3F4A5B</string>
	<key>Version</key>
	<integer>1</integer>
</dict>
</plist>
"#
    );
    std::fs::write(env.path(&d("apple.plist")), plist).unwrap();
    env.openssl(&[
        "cms",
        "-sign",
        "-nodetach",
        "-binary",
        "-outform",
        "DER",
        "-in",
        &d("apple.plist"),
        "-signer",
        &d("signer.pem"),
        "-inkey",
        &d("signer.key"),
        "-md",
        "sha256",
        "-out",
        &d("apple.mobileprovision"),
    ]);
    AppleStyle {
        ca: env.path(&d("root.pem")),
        profile: env.path(&d("apple.mobileprovision")),
    }
}

#[test]
fn apple_style_profiles_are_read_with_their_ca_and_refused_without() {
    let env = Env::new();
    env.init();
    let a = apple_style(&env, "2099-01-01T00:00:00Z", "ok");
    let o = show(&env, &a.profile, &["--ca", a.ca.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout_json(&o);
    assert_eq!(s["verified"], true);
    assert_eq!(s["expired"], false);
    assert_eq!(s["bundle_id"], "com.example.apple");
    assert_eq!(s["team_id"], "QWERTY1234");
    assert_eq!(s["environment"], "development");
    assert_eq!(s["devices"], serde_json::json!([UDID_NEW]));
    assert_eq!(s["developer_certificates"].as_array().unwrap().len(), 1);
    assert_eq!(
        s["plist"]["Entitlements"]["com.apple.developer.associated-domains"],
        "*"
    );
    assert_eq!(s["plist"]["IsXcodeManaged"], true);
    assert_eq!(
        s["platform"],
        serde_json::json!(["iOS", "xrOS", "visionOS"])
    );
    assert!(s["signer"]["subject"]
        .as_str()
        .unwrap()
        .contains("Apple iPhone OS Provisioning Profile Signing"));
    // The home's CA does not trust Apple's signer.
    let o = show(&env, &a.profile, &[]);
    refused(&o, "not trusted");
    // No home and no --ca: a clear usage error.
    let o = StdCommand::new(assert_cmd::cargo::cargo_bin("pushca"))
        .args(["profile", "show"])
        .arg(&a.profile)
        .env("PUSHCA_HOME", env.path("nohome"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ca"), "{}", stderr(&o));

    // An expired profile is reported as expired (exit 0), not as unreadable.
    let e = apple_style(&env, "2020-01-01T00:00:00Z", "old");
    let o = show(&env, &e.profile, &["--ca", e.ca.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout_json(&o);
    assert_eq!(s["expired"], true);
    assert!(s["days_left"].as_i64().unwrap() < 0);
    let o = env
        .cmd()
        .args(["profile", "show"])
        .arg(&e.profile)
        .args(["--ca", e.ca.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("EXPIRED"));
    assert!(stderr(&o).contains("expired"));
}

/// An expired signer (made with Python `cryptography`, which can backdate):
/// the profile is still read, and reported as signed by an expired signer.
#[test]
fn a_profile_whose_signer_has_expired_is_reported_not_refused() {
    let env = Env::new();
    env.init();
    let script = r#"
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
ca_key = ec.generate_private_key(ec.SECP256R1())
ca = (x509.CertificateBuilder().subject_name(name("Old Root")).issuer_name(name("Old Root"))
      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(days=3650)).not_valid_after(now + datetime.timedelta(days=3650))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
      .sign(ca_key, hashes.SHA256()))
key = ec.generate_private_key(ec.SECP256R1())
signed_at = now - datetime.timedelta(days=400)
signer = (x509.CertificateBuilder().subject_name(name("Old Signer")).issuer_name(ca.subject)
      .public_key(key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(days=800)).not_valid_after(now - datetime.timedelta(days=10))
      .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
      .sign(ca_key, hashes.SHA256()))
plist = b'''<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>UUID</key><string>11111111-2222-4333-8444-555555555555</string>
<key>ExpirationDate</key><date>2099-01-01T00:00:00Z</date>
<key>Entitlements</key><dict><key>aps-environment</key><string>production</string>
<key>application-identifier</key><string>TEAM123456.com.example.old</string></dict>
<key>ProvisionsAllDevices</key><true/></dict></plist>
'''
b = pkcs7.PKCS7SignatureBuilder().set_data(plist).add_signer(signer, key, hashes.SHA256())
# signingTime = now (after the signer expired): signed by an expired certificate.
open(out + "/late.mobileprovision", "wb").write(b.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))
# No signed attributes, no signingTime: the signer was valid once, now expired.
open(out + "/old.mobileprovision", "wb").write(b.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoAttributes]))
open(out + "/old-ca.pem", "wb").write(ca.public_bytes(serialization.Encoding.PEM))
"#;
    let o = StdCommand::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env.dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "python: {}", stderr(&o));
    let ca = env.path("old-ca.pem");
    let ca = ca.to_str().unwrap();
    let o = show(&env, &env.path("old.mobileprovision"), &["--ca", ca]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout_json(&o);
    assert_eq!(s["verified"], true);
    assert_eq!(s["signer"]["expired"], true);
    assert_eq!(s["expired"], false);
    assert_eq!(s["provisions_all_devices"], true);
    assert_eq!(s["environment"], "production");
    // signingTime = now, after the signer expired: refused.
    let o = show(&env, &env.path("late.mobileprovision"), &["--ca", ca]);
    refused(&o, "not valid when the profile was signed");
}

#[test]
fn a_profile_signed_with_a_push_certificate_key_is_refused() {
    // A provider holds its push certificate's key, which chains to the CA:
    // it must not be able to sign profiles (EKU clientAuth only).
    let env = Env::new();
    setup(&env);
    std::fs::write(env.path("fake.plist"), b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>UUID</key><string>X</string><key>ExpirationDate</key><date>2099-01-01T00:00:00Z</date></dict></plist>").unwrap();
    let issuing = env.ca_pem("issuing");
    env.openssl(&[
        "cms",
        "-sign",
        "-nodetach",
        "-binary",
        "-outform",
        "DER",
        "-in",
        "fake.plist",
        "-signer",
        "dev.pem",
        "-inkey",
        "dev.key",
        "-certfile",
        issuing.to_str().unwrap(),
        "-out",
        "fake.mobileprovision",
    ]);
    let o = show(&env, &env.path("fake.mobileprovision"), &[]);
    refused(&o, "may not be used for signing provisioning profiles");
}

#[test]
fn a_profile_never_outlives_its_signer_and_days_override_the_template() {
    let env = Env::new();
    setup(&env);
    let p = create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--days",
            "30",
            "--out",
            "a.mobileprovision",
        ],
    );
    let created = time::OffsetDateTime::parse(
        p["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires = time::OffsetDateTime::parse(
        p["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((expires - created).whole_days(), 30);
    // A home template asking for ten years: clamped to the signer's five.
    let dir = env.home().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("profile.toml"),
        "kind = \"profile\"\nvalidity_days = 3650\nplatform = [\"iOS\"]\n",
    )
    .unwrap();
    let o = create(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "b.mobileprovision",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    let signer_not_after = {
        let out = env.openssl(&[
            "x509",
            "-in",
            env.ca_pem("profile-signer").to_str().unwrap(),
            "-noout",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches("notAfter=")
            .replace(' ', "T")
    };
    assert_eq!(
        j["profile"]["expires_at"].as_str().unwrap(),
        signer_not_after
    );
    assert!(
        j["warnings"][0].as_str().unwrap().contains("shortened"),
        "{j}"
    );
    // A broken template is an error naming the file, and nothing is written.
    std::fs::write(
        dir.join("profile.toml"),
        "kind = \"profile\"\nvalidity_days = 0\n",
    )
    .unwrap();
    let o = create(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "c.mobileprovision",
        ],
    );
    refused(&o, "profile.toml");
    assert!(!env.path("c.mobileprovision").exists());
}

fn regenerate(env: &Env, which: &[&str], out_dir: &str) -> std::process::Output {
    env.cmd()
        .args(["--json", "profile", "regenerate"])
        .args(which)
        .args(["--out-dir", out_dir, "--ca-passin", &pass()])
        .output()
        .unwrap()
}

fn current_uuids(env: &Env) -> Vec<String> {
    let o = env
        .cmd()
        .args(["--json", "profile", "list"])
        .output()
        .unwrap();
    stdout_json(&o)["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uuid"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn regenerate_all_skips_what_cannot_be_signed_and_says_why() {
    let env = Env::new();
    setup(&env);
    let uuid = |j: serde_json::Value| j["uuid"].as_str().unwrap().to_string();
    let listed = uuid(create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "a.mobileprovision",
        ],
    ));
    let orphan = uuid(create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_OLD,
            "--out",
            "b.mobileprovision",
        ],
    ));
    let all = uuid(create_ok(
        &env,
        &[
            "--env",
            "production",
            "--all-devices",
            "--out",
            "c.mobileprovision",
        ],
    ));
    // The only device of one profile is disabled: that profile cannot be re-signed.
    env.cmd()
        .args(["device", "disable", UDID_OLD])
        .assert()
        .success();
    let o = regenerate(&env, &["--all"], "regen");
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    let supersedes: Vec<&str> = j["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["supersedes"].as_str().unwrap())
        .collect();
    assert_eq!(supersedes.len(), 2, "{j}");
    assert!(supersedes.contains(&listed.as_str()) && supersedes.contains(&all.as_str()));
    assert_eq!(j["skipped"][0]["uuid"], orphan.as_str(), "{j}");
    assert!(
        j["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no device"),
        "{j}"
    );
    assert_eq!(j["skipped"].as_array().unwrap().len(), 1);
    let w = j["warnings"].to_string();
    assert!(w.contains(&orphan) && w.contains("profile withdraw"), "{w}");
    // The skipped profile stays current; the others were superseded.
    let current = current_uuids(&env);
    assert_eq!(current.len(), 3);
    assert!(current.contains(&orphan));
    // Alone, it is refused with the reason and the way out.
    let o = regenerate(&env, &[&orphan], "regen2");
    refused(&o, "no device");
    assert!(
        stderr(&o).contains(&format!("pushca profile withdraw {orphan}")),
        "{}",
        stderr(&o)
    );
    assert!(!env
        .path("regen2")
        .join(format!("{orphan}.mobileprovision"))
        .exists());
    // An App ID without push: every profile of it is skipped, nothing is signed.
    env.cmd()
        .args(["app", "set", "com.example.app", "--no-push"])
        .assert()
        .success();
    let before = current_uuids(&env);
    let o = regenerate(&env, &["--app", "com.example.app"], "regen3");
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["profiles"], serde_json::json!([]), "{j}");
    assert_eq!(j["skipped"].as_array().unwrap().len(), 3, "{j}");
    assert!(
        j["skipped"][0]["reason"].as_str().unwrap().contains("push"),
        "{j}"
    );
    assert_eq!(current_uuids(&env), before);
    let o = regenerate(&env, &[&orphan], "regen4");
    refused(&o, "does not have the push capability");
    assert!(stderr(&o).contains("profile withdraw"), "{}", stderr(&o));
}

#[test]
fn withdraw_takes_a_profile_out_once_and_list_shows_it() {
    let env = Env::new();
    setup(&env);
    let p = create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "a.mobileprovision",
        ],
    );
    let uuid = p["uuid"].as_str().unwrap().to_string();
    assert_eq!(p["withdrawn"], false, "{p}");
    let withdraw = |u: &str| {
        env.cmd()
            .args(["--json", "profile", "withdraw", u])
            .output()
            .unwrap()
    };
    // Any case, like every UUID argument.
    let o = withdraw(&uuid.to_lowercase());
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["withdrawn"], true, "{j}");
    assert_eq!(j["profile"]["uuid"], uuid.as_str());
    assert_eq!(j["profile"]["withdrawn"], true);
    assert!(j["profile"]["withdrawn_at"].is_string(), "{j}");
    // Again: nothing to do, exit 0.
    let o = withdraw(&uuid);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["withdrawn"], false);
    let o = env
        .cmd()
        .args(["profile", "withdraw", &uuid])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("already withdrawn"));
    // Unknown: a clear error.
    let o = env
        .cmd()
        .args([
            "profile",
            "withdraw",
            "00000000-0000-0000-0000-000000000000",
        ])
        .output()
        .unwrap();
    refused(&o, "no profile 00000000-0000-0000-0000-000000000000");
    // Not current any more: not listed, not regenerated; --all shows it as withdrawn.
    assert!(current_uuids(&env).is_empty());
    let o = env
        .cmd()
        .args(["--json", "profile", "list", "--all"])
        .output()
        .unwrap();
    let j = stdout_json(&o);
    assert_eq!(j["profiles"][0]["uuid"], uuid.as_str());
    assert_eq!(j["profiles"][0]["withdrawn"], true);
    let o = env
        .cmd()
        .args(["profile", "list", "--all"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        text.contains(&uuid) && text.contains("(withdrawn)"),
        "{text}"
    );
    refused(&regenerate(&env, &[&uuid], "regen"), "withdrawn");
    refused(
        &regenerate(&env, &["--all"], "regen"),
        "no current profiles",
    );
    // A superseded profile is not the one to withdraw: the error names its successor.
    let q = create_ok(
        &env,
        &[
            "--env",
            "development",
            "--device",
            UDID_NEW,
            "--out",
            "q.mobileprovision",
        ],
    );
    let old = q["uuid"].as_str().unwrap().to_string();
    let o = regenerate(&env, &[&old], "regen");
    assert!(o.status.success(), "{}", stderr(&o));
    let new = stdout_json(&o)["profiles"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    refused(&withdraw(&old), &new);
    // Export still recovers a withdrawn profile from the store.
    env.cmd()
        .args(["profile", "export", &uuid, "--out", "back.mobileprovision"])
        .assert()
        .success();
}

/// The counts in the text say `1 device`, `2 devices`, never `1 device(s)`
/// or `1 (every enabled device of team X) device(s)`: `profile create` in
/// each device mode, and `gateway trust-store`.
#[test]
fn counts_read_singular_for_one_and_plural_otherwise() {
    let env = Env::new();
    env.init_with_app();
    let run = |args: &[&str]| -> String {
        let o = env
            .cmd()
            .args(args)
            .args(["--ca-passin", &pass()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(!text.contains("(s)"), "{args:?}: {text}");
        text
    };
    let profile = |env_name: &str, devices: &[&str], out: &str| -> String {
        let mut args = vec!["profile", "create", "--app", "com.example.app"];
        args.extend(["--env", env_name]);
        args.extend(devices);
        args.extend(["--out", out]);
        run(&args)
    };
    env.cmd()
        .args(["device", "add", UDID_NEW, "--name", "One"])
        .assert()
        .success();
    let csr = env.openssl_csr("dev", "ec:P-256", &[]);
    issue_serial(&env, "development", &csr, "dev.pem");
    let one = profile("development", &["--team-devices"], "one.mobileprovision");
    assert!(
        one.contains("(1 device (every enabled device of team ABCDE12345), 1 certificate, until"),
        "{one}"
    );
    let ts = run(&["gateway", "trust-store", "--out", "ts"]);
    assert!(ts.contains("(1 profile for 1 App ID, 0 revoked;"), "{ts}");

    env.cmd()
        .args(["device", "add", UDID_3, "--name", "Two"])
        .assert()
        .success();
    let csr = env.openssl_csr("uni", "ec:P-256", &[]);
    issue_serial(&env, "universal", &csr, "uni.pem");
    let two = profile("development", &["--team-devices"], "two.mobileprovision");
    assert!(
        two.contains("(2 devices (every enabled device of team ABCDE12345), 2 certificates, until"),
        "{two}"
    );
    let listed = profile(
        "development",
        &["--device", UDID_3],
        "listed.mobileprovision",
    );
    assert!(
        listed.contains("(1 device, 2 certificates, until"),
        "{listed}"
    );
    let all = profile("production", &["--all-devices"], "all.mobileprovision");
    assert!(
        all.contains("(all devices (ProvisionsAllDevices), 1 certificate, until"),
        "{all}"
    );
    // A second App ID with its own profile.
    env.cmd()
        .args(["app", "create", "com.example.two", "--push"])
        .assert()
        .success();
    let csr = env.openssl_csr("two", "ec:P-256", &[]);
    let o = env
        .cmd()
        .args([
            "cert",
            "issue",
            "--app",
            "com.example.two",
            "--env",
            "production",
        ])
        .arg("--csr")
        .arg(&csr)
        .args(["--out", "two.pem", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    run(&[
        "profile",
        "create",
        "--app",
        "com.example.two",
        "--env",
        "production",
        "--all-devices",
        "--out",
        "two-prod.mobileprovision",
    ]);
    let ts = run(&["gateway", "trust-store", "--out", "ts"]);
    assert!(ts.contains(" profiles for 2 App IDs, 0 revoked;"), "{ts}");
}
