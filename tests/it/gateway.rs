//! The gateway trust store and the enforcement: the allow/deny matrix of
//! PRODUCT.md through `gateway check` and the library, tampering, reloads,
//! and real mutual-TLS handshakes with a rustls server, `openssl s_server`
//! and nginx configured from the trust store; keytool reads truststore.p12.

use crate::common;
use crate::common::resign_policy;
use crate::common::tls;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use common::{stderr, stdout_json, Env, CA_PASS};
use pushca::gateway::{Anchor, Decision, Gateway, Reason};
use pushca::x509ext::Environment;

const D1: &str = "00008030-001A0C3E0E68802E";
const D2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const UNKNOWN: &str = "00008030-FFFFFFFFFFFFFFFF";

/// The home's root: the anchor its trust stores are verified against.
fn anchor(env: &Env) -> Anchor {
    Anchor::from_file(env.home().join("ca/root.pem")).unwrap()
}

fn pass() -> String {
    format!("pass:{CA_PASS}")
}

/// Issues a certificate for `app` and writes `<name>.pem`, `<name>.key` and
/// `<name>-ck.pem`; returns the serial.
fn issue(env: &Env, app: &str, e: &str, name: &str) -> String {
    let csr = env.openssl_csr(name, "ec:P-256", &[]);
    let o = env
        .cmd()
        .args(["--json", "cert", "issue", "--app", app, "--env", e])
        .arg("--csr")
        .arg(&csr)
        .args(["--out", &format!("{name}.pem"), "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cert = std::fs::read(env.path(&format!("{name}.pem"))).unwrap();
    let key = std::fs::read(env.path(&format!("{name}.key"))).unwrap();
    std::fs::write(env.path(&format!("{name}-ck.pem")), [cert, key].concat()).unwrap();
    stdout_json(&o)["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ok(env: &Env, args: &[&str]) {
    let o = env.cmd().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

/// `gateway trust-store --out OUT` with the CA passphrase and `extra`
/// flags, as it ends (success or not).
fn publish(env: &Env, out: &str, extra: &[&str]) -> std::process::Output {
    env.cmd()
        .args([
            "gateway",
            "trust-store",
            "--out",
            out,
            "--ca-passin",
            &pass(),
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// A successful `gateway trust-store --out OUT`: its JSON document.
fn trust_store(env: &Env, out: &str) -> serde_json::Value {
    let o = publish(env, out, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout_json(&o)
}

/// The world of the matrix: com.example.app (development profile listing D1,
/// production profile for all devices), com.example.ent (a development
/// profile with ProvisionsAllDevices), com.example.other (push, no profile).
struct World {
    env: Env,
    dev: String,
    late: String,
}

fn world() -> World {
    let env = Env::new();
    env.init_with_app();
    for (u, n) in [(D1, "Listed"), (D2, "Other")] {
        ok(&env, &["device", "add", u, "--name", n]);
    }
    ok(&env, &["app", "create", "com.example.ent", "--push"]);
    ok(&env, &["app", "create", "com.example.other", "--push"]);
    let dev = issue(&env, "com.example.app", "development", "dev");
    issue(&env, "com.example.app", "production", "prod");
    issue(&env, "com.example.app", "universal", "uni");
    issue(&env, "com.example.ent", "development", "ent");
    issue(&env, "com.example.other", "universal", "other");
    let pw = pass();
    let pc = |args: &[&str]| {
        let mut a = vec!["profile", "create"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--ca-passin", &pw]);
        let o = env.cmd().args(&a).output().unwrap();
        assert!(o.status.success(), "{a:?}: {}", stderr(&o));
    };
    pc(&[
        "--app",
        "com.example.app",
        "--env",
        "development",
        "--device",
        D1,
        "--out",
        "dev.mobileprovision",
    ]);
    pc(&[
        "--app",
        "com.example.app",
        "--env",
        "production",
        "--all-devices",
        "--out",
        "prod.mobileprovision",
    ]);
    pc(&[
        "--app",
        "com.example.ent",
        "--env",
        "development",
        "--all-devices",
        "--out",
        "ent.mobileprovision",
    ]);
    // Issued after the profiles: in no profile until they are regenerated.
    let late = issue(&env, "com.example.app", "development", "late");
    World { env, dev, late }
}

fn check(
    env: &Env,
    ts: &str,
    ck: &str,
    topic: &str,
    e: &str,
    device: Option<&str>,
) -> (Option<i32>, serde_json::Value) {
    let mut c = env.cmd();
    c.args([
        "--json",
        "gateway",
        "check",
        "--trust-store",
        ts,
        "--cert",
        ck,
        "--topic",
        topic,
        "--env",
        e,
    ]);
    if let Some(d) = device {
        c.args(["--device", d]);
    }
    let o = c.output().unwrap();
    let j = if o.stdout.is_empty() {
        serde_json::json!({ "stderr": stderr(&o) })
    } else {
        stdout_json(&o)
    };
    (o.status.code(), j)
}

/// (ck.pem, topic, environment, device, expected deny reason or None for allow)
type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
/// (what, how)
type Tamper = (&'static str, Box<dyn Fn(&Path)>);

#[test]
fn the_whole_allow_deny_matrix_through_gateway_check_and_the_library() {
    let w = world();
    let env = &w.env;
    let j = trust_store(env, "ts");
    assert_eq!(
        (
            j["changed"].as_bool(),
            j["profiles"].as_i64(),
            j["apps"].as_i64()
        ),
        (Some(true), Some(3), Some(2))
    );
    for f in ["ca.pem", "crl.pem", "truststore.p12"] {
        assert!(j["files"][f].is_string(), "{f} hashed in {j}");
    }
    let other_home = Env::new();
    other_home.init_other_with_app();
    let foreign_csr = other_home.openssl_csr("foreign", "ec:P-256", &[]);
    other_home
        .issue("development", &foreign_csr, "foreign.pem")
        .success();
    let foreign = env.path("foreign-ck.pem");
    std::fs::write(
        &foreign,
        [
            std::fs::read(other_home.path("foreign.pem")).unwrap(),
            std::fs::read(other_home.path("foreign.key")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let foreign = foreign.to_str().unwrap().to_string();
    let (dv, pr, un, en, ot, la) = (
        "dev-ck.pem",
        "prod-ck.pem",
        "uni-ck.pem",
        "ent-ck.pem",
        "other-ck.pem",
        "late-ck.pem",
    );
    let app = "com.example.app";
    let d1_lower = D1.to_lowercase();
    #[rustfmt::skip]
    let rows: Vec<Row<'_>> = vec![
        // rule 1-2: chain to this CA
        (&foreign, app, "development", Some(D1), Some("BadCertificate")),
        // rule 3: topics (the certificate's, voip and complication included)
        (dv, app, "development", Some(D1), None),
        (dv, "com.example.app.voip", "development", Some(D1), None),
        (dv, "com.example.app.complication", "development", None, None),
        (dv, "com.example.other", "development", Some(D1), Some("TopicDisallowed")),
        (dv, "com.example.app.widget", "development", None, Some("TopicDisallowed")),
        // rule 4: environments; universal certificates carry both
        (dv, app, "production", None, Some("BadCertificateEnvironment")),
        (pr, app, "development", None, Some("BadCertificateEnvironment")),
        (un, app, "development", Some(D1), None),
        (un, app, "production", Some(UNKNOWN), None),
        (un, "com.example.app.voip", "production", None, None),
        // rule 5: a profile for the App ID and environment listing the certificate
        (ot, "com.example.other", "production", None, Some("Forbidden")),
        (ot, "com.example.other", "development", Some(D1), Some("Forbidden")),
        (la, app, "development", Some(D1), Some("Forbidden")),
        // rule 6: devices; development must be listed, ProvisionsAllDevices counts for production only
        (dv, app, "development", Some(UNKNOWN), Some("DeviceNotProvisioned")),
        (dv, app, "development", Some(D2), Some("DeviceNotProvisioned")),
        (dv, app, "development", Some(&d1_lower), None),
        (pr, app, "production", Some(D2), None),
        (pr, app, "production", Some(UNKNOWN), None),
        (en, "com.example.ent", "development", Some(D1), Some("DeviceNotProvisioned")),
        (en, "com.example.ent", "development", None, None),
    ];
    for (ck, topic, e, device, want) in &rows {
        let (code, j) = check(env, "ts", ck, topic, e, *device);
        let case = format!("{ck} {topic} {e} {device:?}: {j}");
        match want {
            None => {
                assert_eq!(code, Some(0), "{case}");
                assert_eq!(j["decision"], "allow", "{case}");
                assert!(j["reason"].is_null(), "{case}");
            }
            Some(r) => {
                assert_eq!(code, Some(3), "{case}");
                assert_eq!(
                    (j["decision"].as_str(), j["reason"].as_str()),
                    (Some("deny"), Some(*r)),
                    "{case}"
                );
            }
        }
        assert_eq!(j["topic"], *topic);
    }
    // Text output and the exit code of a deny.
    let o = env
        .cmd()
        .args([
            "gateway",
            "check",
            "--trust-store",
            "ts",
            "--cert",
            dv,
            "--topic",
            app,
            "--env",
            "production",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("deny")
            && String::from_utf8_lossy(&o.stdout).contains("BadCertificateEnvironment")
    );

    // Registrations: explicit App ID with push, a profile with the
    // environment, the device provisioned.
    for (bundle, e, udid, want) in [
        (app, "development", D1, None),
        (app, "development", UNKNOWN, Some("DeviceNotProvisioned")),
        (app, "production", UNKNOWN, None),
        ("com.example.other", "production", D1, Some("Forbidden")),
        ("com.example.*", "production", D1, Some("Forbidden")),
        ("com.example.unknown", "development", D1, Some("Forbidden")),
        (
            "com.example.ent",
            "development",
            D1,
            Some("DeviceNotProvisioned"),
        ),
    ] {
        let o = env
            .cmd()
            .args([
                "--json",
                "gateway",
                "check",
                "--trust-store",
                "ts",
                "--register",
                bundle,
                "--env",
                e,
                "--device",
                udid,
            ])
            .output()
            .unwrap();
        let j = stdout_json(&o);
        assert_eq!(j["reason"].as_str(), want, "{bundle} {e} {udid}: {j}");
        assert_eq!(o.status.code(), Some(if want.is_none() { 0 } else { 3 }));
    }

    // The same through the library: identify once, authorize per push.
    let gw = Gateway::load(env.path("ts"), anchor(env)).unwrap();
    let chain = |name: &str| common::cert_der(&env.path(name));
    let dev = gw.identify(&[chain("dev.pem")]).unwrap();
    assert_eq!(dev.bundle_id(), app);
    assert_eq!(
        gw.authorize(&dev, app, Environment::Development, Some(D1)),
        Decision::Allow
    );
    assert_eq!(
        gw.authorize(&dev, app, Environment::Production, None),
        Decision::Deny(Reason::BadCertificateEnvironment)
    );
    assert_eq!(
        gw.authorize(&dev, app, Environment::Development, Some(UNKNOWN)),
        Decision::Deny(Reason::DeviceNotProvisioned)
    );
    let late = gw.identify(&[chain("late.pem")]).unwrap();
    assert_eq!(
        gw.authorize(&late, app, Environment::Development, None),
        Decision::Deny(Reason::Forbidden)
    );
    let foreign_der = common::cert_der(&other_home.path("foreign.pem"));
    assert_eq!(
        gw.identify(&[foreign_der]).unwrap_err().reason,
        Reason::BadCertificate
    );
    assert_eq!(
        gw.identify::<Vec<u8>>(&[]).unwrap_err().reason,
        Reason::BadCertificate
    );
    assert_eq!(
        gw.authorize_registration(app, Environment::Development, D1),
        Decision::Allow
    );

    // Revoke the development certificate; regenerate the profiles so the late
    // certificate is authorised; publish; the gateway reloads.
    ok(
        env,
        &["cert", "revoke", &w.dev, "--reason", "keyCompromise"],
    );
    let o = env
        .cmd()
        .args([
            "profile",
            "regenerate",
            "--app",
            app,
            "--out-dir",
            "regen",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = trust_store(env, "ts");
    assert_eq!(j["changed"], true);
    assert_eq!(j["revoked"], 1);
    // Before the reload the gateway still runs on the old snapshot.
    assert_eq!(
        gw.authorize(&dev, app, Environment::Development, Some(D1)),
        Decision::Allow
    );
    gw.reload(env.path("ts")).unwrap();
    // The identity made before the reload is checked again: revoked now.
    assert_eq!(
        gw.authorize(&dev, app, Environment::Development, Some(D1)),
        Decision::Deny(Reason::BadCertificate)
    );
    assert_eq!(
        gw.authorize(&late, app, Environment::Development, Some(D1)),
        Decision::Allow
    );
    assert_eq!(
        gw.identify(&[chain("dev.pem")]).unwrap_err().reason,
        Reason::BadCertificate
    );
    let (code, j) = check(env, "ts", dv, app, "development", Some(D1));
    assert_eq!(
        (code, j["reason"].as_str()),
        (Some(3), Some("BadCertificate")),
        "{j}"
    );
    assert!(j["detail"].as_str().unwrap().contains("revoked"), "{j}");
    let (code, _) = check(env, "ts", la, app, "development", Some(D1));
    assert_eq!(code, Some(0));
    let _ = &w.late;
}

#[test]
fn trust_store_files_are_what_each_consumer_loads_and_reruns_are_cheap() {
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let ts = env.path("ts");
    // ca.pem: root + issuing; crl.pem: the issuing CA's CRL first (what
    // `openssl -CRL` reads), then the root's (nginx checks every level).
    let ca = std::fs::read_to_string(ts.join("ca.pem")).unwrap();
    assert_eq!(ca.matches("BEGIN CERTIFICATE").count(), 2);
    let crl = std::fs::read_to_string(ts.join("crl.pem")).unwrap();
    assert_eq!(crl.matches("BEGIN X509 CRL").count(), 2);
    let issuing = env.ca_pem("issuing");
    let o = env.openssl_raw(&[
        "crl",
        "-in",
        ts.join("crl.pem").to_str().unwrap(),
        "-noout",
        "-CAfile",
        issuing.to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("verify OK"), "{}", stderr(&o));
    // openssl verify with the trust store, CRLs checked at every level.
    let o = env.openssl_raw(&[
        "verify",
        "-crl_check_all",
        "-CRLfile",
        ts.join("crl.pem").to_str().unwrap(),
        "-CAfile",
        ts.join("ca.pem").to_str().unwrap(),
        "dev.pem",
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    // policy.json: verified by its detached signature with openssl.
    let o = env.openssl_raw(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        ts.join("policy.json.p7s").to_str().unwrap(),
        "-content",
        ts.join("policy.json").to_str().unwrap(),
        "-CAfile",
        ts.join("ca.pem").to_str().unwrap(),
        "-out",
        "/dev/null",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ts.join("policy.json")).unwrap()).unwrap();
    assert_eq!(policy["format"], "pushca-policy/3");
    assert_eq!(
        policy["topics"]["com.example.app.voip"]["bundle_id"],
        "com.example.app"
    );
    let app = &policy["apps"]["com.example.app"];
    assert_eq!(app["app_id"], "ABCDE12345.com.example.app");
    assert_eq!(
        app["environments"]["development"][0]["devices"],
        serde_json::json!([D1])
    );
    assert_eq!(
        app["environments"]["production"][0]["provisions_all_devices"],
        true
    );
    let files = policy["files"].as_object().unwrap();
    assert_eq!(files.len(), 3 + 3, "ca, crl, p12 and 3 profiles: {files:?}");
    for (f, h) in files {
        let bytes = std::fs::read(ts.join(f)).unwrap();
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            h.as_str().unwrap(),
            "{f}"
        );
    }
    // Profiles verify with openssl against ca.pem.
    for f in files.keys().filter(|f| f.starts_with("profiles/")) {
        let o = env.openssl_raw(&[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            ts.join(f).to_str().unwrap(),
            "-CAfile",
            ts.join("ca.pem").to_str().unwrap(),
            "-out",
            "/dev/null",
        ]);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
    }
    // truststore.p12: a JVM KeyStore with the two CA certificates as trusted entries.
    let o = StdCommand::new("keytool")
        .args([
            "-list",
            "-keystore",
            ts.join("truststore.p12").to_str().unwrap(),
            "-storetype",
            "PKCS12",
            "-storepass",
            "changeit",
        ])
        .output()
        .expect("keytool");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", stderr(&o));
    assert_eq!(text.matches("trustedCertEntry").count(), 2, "{text}");

    // Nothing changed: cheap, says so, needs no passphrase, writes nothing.
    let before = std::fs::read(ts.join("policy.json")).unwrap();
    let o = env
        .cmd()
        .args(["--json", "gateway", "trust-store", "--out", "ts"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["changed"], false);
    assert_eq!(std::fs::read(ts.join("policy.json")).unwrap(), before);
    let o = env
        .cmd()
        .args(["gateway", "trust-store", "--out", "ts"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("up to date"));
    // A change (a new profile) rebuilds; a tampered store is rebuilt, not trusted.
    std::fs::write(ts.join("ca.pem"), b"junk").unwrap();
    let j = trust_store(env, "ts");
    assert_eq!(
        j["changed"], true,
        "a store that does not verify is rebuilt"
    );
    Gateway::load(&ts, anchor(env)).unwrap();
    // Never inside the home; never over a directory that is not a trust store.
    let inside = env.home().join("ts");
    let o = publish(env, inside.to_str().unwrap(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    std::fs::create_dir(env.path("mine")).unwrap();
    std::fs::write(env.path("mine/notes.txt"), b"keep").unwrap();
    let o = publish(env, "mine", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("'notes.txt', which is not a trust store's own file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(env.path("mine/notes.txt")).unwrap(), b"keep");
    // No temporary directories left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".pushca-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_tampered_trust_store_never_loads() {
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let good = env.path("ts");
    Gateway::load(&good, anchor(env)).unwrap();
    typed_sources_of_load_errors(env, &good);
    let profile = std::fs::read_dir(good.join("profiles"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let profile = format!("profiles/{}", profile.to_string_lossy());
    let flip = |rel: &'static str, at: fn(&[u8]) -> usize| {
        move |dir: &Path| {
            let p = dir.join(rel);
            let mut b = std::fs::read(&p).unwrap();
            let i = at(&b);
            b[i] ^= 0x01;
            std::fs::write(&p, b).unwrap();
        }
    };
    let other = Env::new();
    other.init_other_with_app();
    let o = publish(&other, "ots", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let other_ts = other.path("ots");
    let cases: Vec<Tamper> = vec![
        (
            "policy.json byte",
            Box::new(flip("policy.json", |b| b.len() / 2)),
        ),
        (
            "policy.json.p7s byte",
            Box::new(flip("policy.json.p7s", |b| b.len() - 1)),
        ),
        ("crl.pem byte", Box::new(flip("crl.pem", |b| b.len() / 2))),
        ("ca.pem byte", Box::new(flip("ca.pem", |b| b.len() / 2))),
        (
            "truststore.p12 byte",
            Box::new(flip("truststore.p12", |b| b.len() / 2)),
        ),
        (
            "profile byte",
            Box::new({
                let rel = profile.clone();
                move |dir: &Path| {
                    let p = dir.join(&rel);
                    let mut b = std::fs::read(&p).unwrap();
                    let i = b.len() / 2;
                    b[i] ^= 0x01;
                    std::fs::write(&p, b).unwrap();
                }
            }),
        ),
        (
            "profile removed",
            Box::new({
                let rel = profile.clone();
                move |dir: &Path| std::fs::remove_file(dir.join(&rel)).unwrap()
            }),
        ),
        (
            "extra profile",
            Box::new(|dir: &Path| {
                std::fs::copy(
                    dir.join("crl.pem"),
                    dir.join("profiles/00000000-0000-4000-8000-000000000000.mobileprovision"),
                )
                .unwrap();
            }),
        ),
        (
            "another home's signed policy",
            Box::new(move |dir: &Path| {
                for f in ["policy.json", "policy.json.p7s"] {
                    std::fs::copy(other_ts.join(f), dir.join(f)).unwrap();
                }
            }),
        ),
        (
            "policy.json.p7s missing",
            Box::new(|dir: &Path| std::fs::remove_file(dir.join("policy.json.p7s")).unwrap()),
        ),
    ];
    for (i, (what, tamper)) in cases.iter().enumerate() {
        let dir = env.path(&format!("t{i}"));
        copy_dir(&good, &dir);
        Gateway::load(&dir, anchor(env))
            .unwrap_or_else(|e| panic!("{what}: the copy must load before tampering: {e}"));
        let gw = Gateway::load(&dir, anchor(env)).unwrap();
        tamper(&dir);
        let e = Gateway::load(&dir, anchor(env)).expect_err(what);
        eprintln!("{what}: {e}");
        // A reload (which reuses verified profiles by SHA-256) refuses it
        // too, and the gateway keeps running on the snapshot it had.
        assert!(gw.reload(&dir).is_err(), "{what}: reload");
        let id = gw
            .identify(&[common::cert_der(&env.path("prod.pem"))])
            .unwrap();
        assert_eq!(
            gw.authorize(&id, "com.example.app", Environment::Production, None),
            Decision::Allow,
            "{what}"
        );
        // gateway check: an error (exit 1), never an allow or a deny.
        let (code, j) = check(
            env,
            dir.to_str().unwrap(),
            "prod-ck.pem",
            "com.example.app",
            "production",
            None,
        );
        assert_eq!(code, Some(1), "{what}: {j}");
    }
}

/// The lower error of a refused trust store is its typed `source()`, not
/// text: the CMS error of a bad signature, the parser's of a bad file.
fn typed_sources_of_load_errors(env: &Env, good: &Path) {
    use pushca::gateway::{GatewayError, PolicySignatureError};
    use std::error::Error as _;
    let copy = env.path("typed");
    copy_dir(good, &copy);
    let p7s = copy.join("policy.json.p7s");
    let mut der = std::fs::read(&p7s).unwrap();
    let n = der.len();
    der[n - 1] ^= 1;
    std::fs::write(&p7s, &der).unwrap();
    let e = Gateway::load(&copy, anchor(env)).expect_err("a flipped signature byte");
    assert!(
        matches!(
            e,
            GatewayError::PolicySignature(PolicySignatureError::Cms(_))
        ),
        "{e}"
    );
    let cms = e.source().and_then(|s| s.source());
    assert!(
        cms.is_some_and(|c| c.downcast_ref::<pushca::cms::CmsError>().is_some()),
        "{e}"
    );
    std::fs::remove_dir_all(&copy).unwrap();
    copy_dir(good, &copy);
    std::fs::write(
        copy.join("crl.pem"),
        "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
    )
    .unwrap();
    let e = Gateway::load(&copy, anchor(env)).expect_err("a CRL that does not parse");
    assert!(matches!(e, GatewayError::Malformed { .. }), "{e}");
    type X509Err = x509_parser::nom::Err<x509_parser::error::X509Error>;
    assert!(
        e.source()
            .is_some_and(|s| s.downcast_ref::<X509Err>().is_some()),
        "{e}"
    );
    std::fs::remove_dir_all(&copy).unwrap();
}

fn ck(env: &Env, name: &str) -> PathBuf {
    env.path(&format!("{name}-ck.pem"))
}

#[test]
fn mutual_tls_with_rustls_openssl_and_nginx_from_the_trust_store() {
    tls::require_nginx();
    let env = Env::new();
    env.init_with_app();
    let valid = issue(&env, "com.example.app", "production", "valid");
    let _ = valid;
    let revoked = issue(&env, "com.example.app", "production", "revoked");
    let later = issue(&env, "com.example.app", "production", "later");
    ok(&env, &["cert", "revoke", &revoked]);
    trust_store(&env, "ts");
    let other = Env::new();
    other.init_other_with_app();
    let csr = other.openssl_csr("foreign", "ec:P-256", &[]);
    other.issue("production", &csr, "foreign.pem").success();
    std::fs::write(
        ck(&env, "foreign"),
        [
            std::fs::read(other.path("foreign.pem")).unwrap(),
            std::fs::read(other.path("foreign.key")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let server = tls::server_identity(&env.path("server"));
    let ca = env.path("ts/ca.pem");
    let crl = env.path("ts/crl.pem");
    use tls::TlsOutcome::Accepted;
    for (name, want) in [
        ("valid", true),
        ("later", true),
        ("revoked", false),
        ("foreign", false),
    ] {
        let r = tls::rustls_handshake(&server, &ca, &crl, &ck(&env, name));
        assert_eq!(r == Accepted, want, "rustls {name}: {r:?}");
        let r = tls::openssl_s_server_handshake(&server, &ca, &crl, &ck(&env, name));
        assert_eq!(r == Accepted, want, "openssl s_server {name}: {r:?}");
    }
    // rustls checking the whole chain works too (the root's CRL is there).
    let r = tls::rustls_handshake_with(
        &server,
        &ca,
        &crl,
        &ck(&env, "valid"),
        tls::RevocationDepth::Chain,
    );
    assert_eq!(r, Accepted);
    let nginx = tls::start_nginx(&env.path("nginx"), &server, &ca, &crl);
    for (name, want) in [
        ("valid", true),
        ("later", true),
        ("revoked", false),
        ("foreign", false),
    ] {
        let r = tls::curl_nginx(&nginx, &server, &ck(&env, name));
        assert_eq!(
            r == Accepted,
            want,
            "nginx {name}: {r:?}\n{}",
            nginx.error_log()
        );
    }
    // Revoke another certificate, publish the trust store (swapped in whole
    // under nginx's paths), reload nginx: refused from then on.
    ok(&env, &["cert", "revoke", &later]);
    trust_store(&env, "ts");
    assert_eq!(
        tls::curl_nginx(&nginx, &server, &ck(&env, "later")),
        Accepted,
        "the old CRL until reload"
    );
    nginx.reload();
    assert_ne!(
        tls::curl_nginx(&nginx, &server, &ck(&env, "later")),
        Accepted
    );
    assert_eq!(
        tls::curl_nginx(&nginx, &server, &ck(&env, "valid")),
        Accepted
    );
}

/// A profile whose own CMS signature is broken: `gateway trust-store`
/// refuses to list it, and a policy re-signed over it anyway (only the
/// profile signer's key can do that) loads by default (the signed policy
/// vouches for the file's SHA-256) but not with `verify_profile_signatures`
/// nor `gateway check --verify-signatures`.
#[test]
fn a_profile_with_a_broken_own_signature() {
    use pushca::gateway::LoadOptions;
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let good = env.path("ts");
    let strict = LoadOptions {
        verify_profile_signatures: true,
        ..Default::default()
    };
    let a = anchor(env);
    Gateway::load_with(&good, a.clone(), strict).expect("a good store verifies in full");
    // The builder verifies what it lists.
    let db = rusqlite::Connection::open(env.home().join("pushca.db")).unwrap();
    let (uuid, mut der): (String, Vec<u8>) = db
        .query_row(
            "SELECT uuid, der FROM profiles WHERE superseded_by IS NULL LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let original = der.clone();
    let last = der.len() - 1; // the last byte of the ECDSA signature's s
    der[last] ^= 0x01;
    db.execute(
        "UPDATE profiles SET der = ?1 WHERE uuid = ?2",
        rusqlite::params![der, uuid],
    )
    .unwrap();
    let o = publish(env, "ts2", &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains(&uuid) && e.contains("does not verify"), "{e}");
    assert!(!env.path("ts2").exists(), "nothing written");
    db.execute(
        "UPDATE profiles SET der = ?1 WHERE uuid = ?2",
        rusqlite::params![original, uuid],
    )
    .unwrap();
    // A policy re-signed over the broken file.
    let dir = env.path("resigned");
    copy_dir(&good, &dir);
    let rel = format!("profiles/{uuid}.mobileprovision");
    std::fs::write(dir.join(&rel), &der).unwrap();
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("policy.json")).unwrap()).unwrap();
    policy["files"][&rel] = serde_json::json!(pushca::x509::sha256_hex(&der));
    resign_policy(env, &dir, &policy);
    Gateway::load(&dir, a.clone()).expect("the signed policy covers the file");
    let e = Gateway::load_with(&dir, a.clone(), strict).expect_err("its own signature is broken");
    assert!(e.to_string().contains(&uuid), "{e}");
    // A gateway that verifies signatures verifies the new file's at reload.
    let gw = Gateway::load_with(&good, a.clone(), strict).unwrap();
    let e = gw.reload(&dir).expect_err("its own signature is broken");
    assert!(e.to_string().contains(&uuid), "{e}");
    let o = env
        .cmd()
        .args([
            "gateway",
            "check",
            "--trust-store",
            dir.to_str().unwrap(),
            "--cert",
            "prod-ck.pem",
            "--topic",
            "com.example.app",
            "--env",
            "production",
            "--verify-signatures",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

/// Copies `dir`'s files to `to`, replacing `to`.
fn fresh_copy(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    copy_dir(from, to);
}

fn check_cli(env: &Env, args: &[&str]) -> (Option<i32>, String, String) {
    let o = env
        .cmd()
        .args(["gateway", "check"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr(&o),
    )
}

/// The review's critical finding: any genuine provisioning profile copied
/// over `policy.json.p7s` "verified" a forged `policy.json` (the SignedData's
/// own content was checked instead of the file). Detached means detached.
#[test]
fn a_profile_in_place_of_the_policy_signature_never_verifies_a_forged_policy() {
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let good = env.path("ts");
    let forged = env.path("forged");
    fresh_copy(&good, &forged);
    // A forged policy: valid for a century, version far ahead.
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(forged.join("policy.json")).unwrap()).unwrap();
    policy["expires_at"] = serde_json::json!("2099-01-01T00:00:00Z");
    policy["version"] = serde_json::json!(1_000_000);
    policy["crl"]["revoked"] = serde_json::json!([]);
    std::fs::write(
        forged.join("policy.json"),
        serde_json::to_vec(&policy).unwrap(),
    )
    .unwrap();
    // ... "signed" by a genuine profile of this very CA.
    let profile = std::fs::read_dir(forged.join("profiles"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&profile, forged.join("policy.json.p7s")).unwrap();
    let e = Gateway::load(&forged, anchor(env)).expect_err("forged policy");
    assert!(e.to_string().contains("not a detached signature"), "{e}");
    let strict = pushca::gateway::LoadOptions {
        verify_profile_signatures: true,
        ..Default::default()
    };
    assert!(Gateway::load_with(&forged, anchor(env), strict).is_err());
    let gw = Gateway::load(&good, anchor(env)).unwrap();
    assert!(gw.reload(&forged).is_err());
    for extra in [&[][..], &["--verify-signatures"][..]] {
        let mut args = vec![
            "--trust-store",
            "forged",
            "--cert",
            "prod-ck.pem",
            "--topic",
            "com.example.app",
            "--env",
            "production",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = check_cli(env, &args);
        assert_eq!(code, Some(1), "{extra:?}: {out} {err}");
        assert!(err.contains("not a detached signature"), "{err}");
    }
    // A publisher does not trust the forged directory: it rebuilds it.
    let j = trust_store(env, "forged");
    assert_eq!(j["changed"], true, "{j}");
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(forged.join("policy.json")).unwrap()).unwrap();
    assert_ne!(p["version"], 1_000_000);
    Gateway::load(&forged, anchor(env)).unwrap();
}

/// The root comes from outside the directory; a reload never accepts another
/// home's store or an older version of this one (rollback), and a restarted
/// gateway that remembers its version refuses it too.
#[test]
fn a_gateway_never_goes_back_nor_to_another_root() {
    use pushca::gateway::{GatewayError, LoadOptions};
    let w = world();
    let env = &w.env;
    let j1 = trust_store(env, "ts");
    assert_eq!(j1["version"], 1, "{j1}");
    let old = env.path("old");
    fresh_copy(&env.path("ts"), &old);
    ok(
        env,
        &["cert", "revoke", &w.dev, "--reason", "keyCompromise"],
    );
    let j2 = trust_store(env, "ts");
    assert_eq!(j2["version"], 2, "{j2}");
    let gw = Gateway::load(env.path("ts"), anchor(env)).unwrap();
    assert_eq!(gw.version(), 2);
    let dev = common::cert_der(&env.path("dev.pem"));
    assert_eq!(
        gw.identify(&[&dev]).unwrap_err().reason,
        Reason::BadCertificate
    );
    // The older genuine store (the revocation not in it).
    let e = gw.reload(&old).unwrap_err();
    assert!(
        matches!(
            e,
            GatewayError::Rollback {
                found: 1,
                current: 2
            }
        ),
        "{e}"
    );
    assert_eq!(
        gw.identify(&[&dev]).unwrap_err().reason,
        Reason::BadCertificate,
        "still revoked"
    );
    let remembered = LoadOptions {
        min_version: gw.version(),
        ..Default::default()
    };
    assert!(matches!(
        Gateway::load_with(&old, anchor(env), remembered),
        Err(GatewayError::Rollback { .. })
    ));
    // The same version again: nothing to do.
    assert!(!gw.reload(env.path("ts")).unwrap());
    // Another home's genuine store.
    let other = Env::new();
    other.init_other_with_app();
    let o = publish(&other, "ots", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = gw.reload(other.path("ots")).unwrap_err();
    assert!(matches!(e, GatewayError::ForeignRoot { .. }), "{e}");
    assert!(Gateway::load(other.path("ots"), anchor(env)).is_err());
    let ots = other.path("ots");
    let ots = ots.to_str().unwrap();
    let (code, _, err) = check_cli(
        env,
        &[
            "--trust-store",
            ots,
            "--register",
            "com.example.app",
            "--env",
            "production",
            "--device",
            D1,
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not the pinned anchor"), "{err}");
    // With its own root pinned, the other store is judged on its own terms.
    let other_root = other.home().join("ca/root.pem");
    let (code, out, err) = check_cli(
        env,
        &[
            "--trust-store",
            ots,
            "--anchor",
            other_root.to_str().unwrap(),
            "--register",
            "com.example.app",
            "--env",
            "production",
            "--device",
            D1,
        ],
    );
    assert_eq!(code, Some(3), "{out} {err}");
    // No home and no --anchor: an error, not a guess from the directory.
    let o = assert_cmd::Command::cargo_bin("pushca")
        .unwrap()
        .env_remove("PUSHCA_HOME")
        .current_dir(env.dir.path())
        .args(["--home", "/nonexistent-pushca-home"])
        .args([
            "gateway",
            "check",
            "--trust-store",
            "ts",
            "--register",
            "com.example.app",
        ])
        .args(["--env", "production", "--device", D1])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--anchor"), "{}", stderr(&o));
}

/// A store past its expires_at (the earliest CRL nextUpdate) refuses
/// pushes and registrations alike: at load, and in a gateway that loaded it
/// while it was fresh.
#[test]
fn an_expired_trust_store_refuses_everything() {
    use pushca::gateway::{GatewayError, LoadOptions};
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let ts = env.path("ts");
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ts.join("policy.json")).unwrap()).unwrap();
    assert_eq!(
        policy["expires_at"], policy["crl"]["next_update"],
        "expires with the issuing CRL"
    );
    let gw = Gateway::load(&ts, anchor(env)).unwrap();
    let expiry = gw.expires_at();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(expiry > now + 86_400, "{expiry}");
    let later = LoadOptions {
        at: Some(expiry),
        ..Default::default()
    };
    let e = Gateway::load_with(&ts, anchor(env), later).unwrap_err();
    assert!(matches!(e, GatewayError::Expired { .. }), "{e}");
    let dev = common::cert_der(&env.path("prod.pem"));
    let id = gw.identify(&[&dev]).unwrap();
    let app = "com.example.app";
    assert_eq!(
        gw.authorize_at(&id, app, Environment::Production, Some(D1), expiry - 1),
        Decision::Allow
    );
    assert_eq!(
        gw.authorize_registration_at(app, Environment::Production, D1, expiry - 1),
        Decision::Allow
    );
    for t in [expiry, expiry + 330 * 86_400] {
        assert_eq!(
            gw.authorize_at(&id, app, Environment::Production, Some(D1), t),
            Decision::Deny(Reason::ServiceUnavailable)
        );
        assert_eq!(
            gw.authorize_registration_at(app, Environment::Production, D1, t),
            Decision::Deny(Reason::ServiceUnavailable)
        );
        assert_eq!(
            gw.identify_at(&[&dev], t).unwrap_err().reason,
            Reason::ServiceUnavailable
        );
    }
}

/// Rule 1 requires EKU clientAuth of the leaf: a certificate signed by the
/// issuing CA without any EKU extension is refused at identify.
#[test]
fn a_ca_issued_leaf_without_eku_is_a_bad_certificate() {
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    std::fs::write(
        env.path("noeku.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         1.2.840.113635.100.6.3.1=DER:0500\n1.2.840.113635.100.6.3.2=DER:0500\n",
    )
    .unwrap();
    let csr = env.openssl_csr("noeku", "ec:P-256", &[]);
    env.openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        env.ca_pem("issuing").to_str().unwrap(),
        "-CAkey",
        env.home().join("ca/issuing.key").to_str().unwrap(),
        "-passin",
        &pass(),
        "-set_serial",
        "4242",
        "-days",
        "30",
        "-subj",
        "/UID=com.example.app/CN=Apple Push Services: com.example.app/OU=ABCDE12345",
        "-extfile",
        "noeku.ext",
        "-out",
        "noeku.pem",
    ]);
    let (code, j) = check(
        env,
        "ts",
        "noeku.pem",
        "com.example.app",
        "production",
        None,
    );
    assert_eq!(code, Some(3), "{j}");
    assert_eq!(j["reason"], "BadCertificate", "{j}");
    assert!(
        j["detail"].as_str().unwrap().contains("EKU clientAuth"),
        "{j}"
    );
}

/// `--out` is never the home's parent, never a directory with foreign
/// files (with or without --force; nothing of theirs removed), and a
/// symlinked `--out` is swapped to a new version beside the link.
#[test]
fn trust_store_output_rules() {
    let w = world();
    let env = &w.env;
    let run = |out: &str, force: bool| publish(env, out, if force { &["--force"] } else { &[] });
    // The directory that holds the home.
    for force in [false, true] {
        let o = run(env.dir.path().to_str().unwrap(), force);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("contains the pushca home"),
            "{}",
            stderr(&o)
        );
    }
    assert!(env.home().join("pushca.db").is_file());
    assert!(env.home().join("ca/root.key").is_file());
    // Foreign files, at the top or among the profiles.
    trust_store(env, "ts");
    std::fs::write(env.path("ts/README"), b"mine").unwrap();
    for force in [false, true] {
        let o = run("ts", force);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("'README'"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(env.path("ts/README")).unwrap(), b"mine");
    std::fs::remove_file(env.path("ts/README")).unwrap();
    std::fs::write(env.path("ts/profiles/keep.txt"), b"mine").unwrap();
    let o = run("ts", true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("profiles/keep.txt"), "{}", stderr(&o));
    std::fs::remove_file(env.path("ts/profiles/keep.txt")).unwrap();
    // A symlink: current -> v1.
    trust_store(env, "v1");
    std::os::unix::fs::symlink("v1", env.path("current")).unwrap();
    ok(env, &["cert", "revoke", &w.late]);
    let j = trust_store(env, "current");
    let v = j["version"].as_u64().unwrap();
    let link = std::fs::read_link(env.path("current")).unwrap();
    assert_eq!(link, PathBuf::from(format!("current-v{v}")));
    assert!(
        env.path("v1/policy.json").is_file(),
        "v1 is not pushca's to remove"
    );
    Gateway::load(env.path("current"), anchor(env)).unwrap();
    ok(env, &["cert", "revoke", &w.dev]);
    let j = trust_store(env, "current");
    let v2 = j["version"].as_u64().unwrap();
    assert_eq!(
        std::fs::read_link(env.path("current")).unwrap(),
        PathBuf::from(format!("current-v{v2}"))
    );
    assert!(
        !env.path(&format!("current-v{v}")).exists(),
        "the previous version made here is removed"
    );
    let gw = Gateway::load(env.path("current"), anchor(env)).unwrap();
    assert_eq!(gw.version(), v2);
}

/// Publishing is serialised from CRL signing to the swap: a run that
/// prepared before a revocation but publishes after it (here: held at the
/// lock) signs and lists that revocation; and a restored (older) store never
/// replaces a newer trust store or CRL file.
#[test]
fn concurrent_publishers_publish_in_order_and_never_go_back() {
    use fs4::fs_std::FileExt;
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let db = rusqlite::Connection::open(env.home().join("pushca.db")).unwrap();
    let crls = || -> i64 {
        db.query_row("SELECT COUNT(*) FROM crls", [], |r| r.get(0))
            .unwrap()
    };
    let lock = std::fs::File::open(env.home().join("publish.lock")).unwrap();
    lock.lock_exclusive().unwrap();
    let before = crls();
    std::fs::remove_dir_all(env.path("ts")).unwrap();
    let mut a = std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"))
        .current_dir(env.dir.path())
        .env_remove("PUSHCA_CA_PASSPHRASE")
        .args(["--home", env.home().to_str().unwrap(), "--json"])
        .args([
            "gateway",
            "trust-store",
            "--out",
            "ts",
            "--ca-passin",
            &pass(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A revocation while the publisher waits: never blocked by it.
    let t0 = std::time::Instant::now();
    ok(
        env,
        &["cert", "revoke", &w.dev, "--reason", "keyCompromise"],
    );
    std::thread::sleep(std::time::Duration::from_millis(1500).saturating_sub(t0.elapsed()));
    assert!(
        a.try_wait().unwrap().is_none(),
        "the publisher waits for the lock"
    );
    assert_eq!(crls(), before, "no CRL signed outside the lock");
    FileExt::unlock(&lock).unwrap();
    let o = a.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("ts/policy.json")).unwrap()).unwrap();
    let revoked: Vec<&str> = policy["crl"]["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["serial"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, [w.dev.as_str()], "{policy}");
    let (code, j) = check(
        env,
        "ts",
        "dev-ck.pem",
        "com.example.app",
        "development",
        Some(D1),
    );
    assert_eq!(
        (code, j["reason"].as_str()),
        (Some(3), Some("BadCertificate")),
        "{j}"
    );
    // A home restored from an older backup: its next publish is older than
    // what is already out there, and is refused.
    drop(db);
    let backup = env.path("backup.db");
    std::fs::copy(env.home().join("pushca.db"), &backup).unwrap();
    let o = env
        .cmd()
        .args(["crl", "--out", "crl.pem", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    ok(env, &["cert", "revoke", &w.late]);
    assert_eq!(trust_store(env, "ts")["changed"], true);
    let published = std::fs::read(env.path("ts/policy.json")).unwrap();
    let crl_file = std::fs::read(env.path("crl.pem")).unwrap();
    for f in ["pushca.db-wal", "pushca.db-shm"] {
        let _ = std::fs::remove_file(env.home().join(f));
    }
    std::fs::copy(&backup, env.home().join("pushca.db")).unwrap();
    let o = publish(env, "ts", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("newer than this publish"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(env.path("ts/policy.json")).unwrap(),
        published
    );
    let o = env
        .cmd()
        .args(["crl", "--out", "crl.pem", "--force", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("newer than the one signed now"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(env.path("crl.pem")).unwrap(), crl_file);
}

/// The profile signer can be revoked (`cert revoke` takes its serial): the
/// issuing CA's CRL lists it, a trust store whose CRL revokes its signer
/// never loads (even validly signed), and nothing is signed with it again.
#[test]
fn a_revoked_profile_signer_is_trusted_nowhere() {
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let o = env.openssl(&[
        "x509",
        "-in",
        env.ca_pem("profile-signer").to_str().unwrap(),
        "-noout",
        "-serial",
    ]);
    let serial = String::from_utf8_lossy(&o.stdout)
        .trim()
        .trim_start_matches("serial=")
        .to_string();
    let revoke = || {
        let o = env
            .cmd()
            .args([
                "--json",
                "cert",
                "revoke",
                &serial,
                "--reason",
                "keyCompromise",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout_json(&o)
    };
    assert_eq!(revoke()["changed"], true);
    assert_eq!(revoke()["changed"], false, "idempotent");
    let o = env
        .cmd()
        .args(["crl", "--out", "new-crl.pem", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.openssl(&["crl", "-in", "new-crl.pem", "-noout", "-text"]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .to_uppercase()
            .contains(&serial.to_uppercase()),
        "the CRL lists the signer"
    );
    // A store with that CRL and a policy validly signed by the signer.
    let dir = env.path("with-crl");
    fresh_copy(&env.path("ts"), &dir);
    let root_crl: String = std::fs::read_to_string(dir.join("crl.pem"))
        .unwrap()
        .split_inclusive("-----END X509 CRL-----\n")
        .nth(1)
        .unwrap()
        .to_string();
    let crl_pem = format!(
        "{}{root_crl}",
        std::fs::read_to_string(env.path("new-crl.pem")).unwrap()
    );
    std::fs::write(dir.join("crl.pem"), &crl_pem).unwrap();
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("policy.json")).unwrap()).unwrap();
    policy["files"]["crl.pem"] = serde_json::json!(pushca::x509::sha256_hex(crl_pem.as_bytes()));
    resign_policy(env, &dir, &policy);
    let e = Gateway::load(&dir, anchor(env)).unwrap_err().to_string();
    assert!(e.contains("revoked"), "{e}");
    // Nothing is signed with it any more; its profiles do not verify.
    let o = publish(env, "ts2", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("profile signer"), "{}", stderr(&o));
    let o = env
        .cmd()
        .args(["profile", "show", "prod.mobileprovision"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("revoked"), "{}", stderr(&o));
}

/// `gateway check` of one push: `None` when allowed, else the deny reason.
fn push_reason(
    env: &Env,
    ts: &str,
    ck: &str,
    topic: &str,
    e: &str,
    d: Option<&str>,
) -> Option<String> {
    let (code, j) = check(env, ts, ck, topic, e, d);
    let r = j["reason"].as_str().map(str::to_string);
    assert_eq!(code, Some(if r.is_none() { 0 } else { 3 }), "{j}");
    r
}

/// `gateway check --register`: `None` when allowed, else the deny reason.
fn register_reason(env: &Env, ts: &str, bundle: &str, e: &str, udid: &str) -> Option<String> {
    let o = env
        .cmd()
        .args(["--json", "gateway", "check", "--trust-store", ts])
        .args(["--register", bundle, "--env", e, "--device", udid])
        .output()
        .unwrap();
    let j = stdout_json(&o);
    let r = j["reason"].as_str().map(str::to_string);
    assert_eq!(
        o.status.code(),
        Some(if r.is_none() { 0 } else { 3 }),
        "{j}"
    );
    r
}

/// Publishes again: the store must have changed.
fn republished(env: &Env) -> serde_json::Value {
    let j = trust_store(env, "ts");
    assert_eq!(j["changed"], true, "a new trust store: {j}");
    j
}

fn deny(r: &str) -> Option<String> {
    Some(r.to_string())
}

#[test]
fn a_disabled_device_is_refused_by_the_next_trust_store_even_under_all_devices() {
    let w = world();
    let env = &w.env;
    let app = "com.example.app";
    trust_store(env, "ts");
    assert_eq!(
        push_reason(env, "ts", "dev-ck.pem", app, "development", Some(D1)),
        None
    );
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", Some(D2)),
        None
    );
    assert_eq!(register_reason(env, "ts", app, "production", D2), None);
    assert_eq!(register_reason(env, "ts", app, "development", D1), None);

    // D2 is provisioned only through ProvisionsAllDevices.
    ok(env, &["device", "disable", D2]);
    republished(env);
    let d2_upper = D2.to_uppercase();
    for d in [D2, d2_upper.as_str()] {
        assert_eq!(
            push_reason(env, "ts", "prod-ck.pem", app, "production", Some(d)),
            deny("DeviceNotProvisioned")
        );
        assert_eq!(
            register_reason(env, "ts", app, "production", d),
            deny("DeviceNotProvisioned")
        );
    }
    // Rule 5 still comes first; other devices are untouched.
    assert_eq!(
        push_reason(env, "ts", "late-ck.pem", app, "development", Some(D2)),
        deny("Forbidden")
    );
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", Some(D1)),
        None
    );
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", Some(UNKNOWN)),
        None
    );
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", None),
        None
    );
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("ts/policy.json")).unwrap()).unwrap();
    let team = policy["apps"][app]["team_id"].as_str().unwrap().to_string();
    assert_eq!(
        policy["teams"][&team]["disabled_devices"],
        serde_json::json!([D2]),
        "{policy}"
    );

    // D1 is listed in the development profile (a signed file that still lists it).
    ok(env, &["device", "disable", D1]);
    republished(env);
    let d1_lower = D1.to_lowercase();
    for d in [D1, d1_lower.as_str()] {
        assert_eq!(
            push_reason(env, "ts", "dev-ck.pem", app, "development", Some(d)),
            deny("DeviceNotProvisioned")
        );
        assert_eq!(
            register_reason(env, "ts", app, "development", d),
            deny("DeviceNotProvisioned")
        );
    }
    // The library says the same.
    let gw = Gateway::load(env.path("ts"), anchor(env)).unwrap();
    let dev = gw
        .identify(&[common::cert_der(&env.path("dev.pem"))])
        .unwrap();
    assert_eq!(
        gw.authorize(&dev, app, Environment::Development, Some(D1)),
        Decision::Deny(Reason::DeviceNotProvisioned)
    );
    assert_eq!(
        gw.authorize(&dev, app, Environment::Development, None),
        Decision::Allow
    );
    assert_eq!(
        gw.authorize_registration(app, Environment::Production, D2),
        Decision::Deny(Reason::DeviceNotProvisioned)
    );

    // Enabled again: allowed again by the next store.
    ok(env, &["device", "enable", D2]);
    republished(env);
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", Some(D2)),
        None
    );
    assert_eq!(register_reason(env, "ts", app, "production", D2), None);
    // An unchanged home publishes nothing new.
    assert_eq!(trust_store(env, "ts")["changed"], false);
}

#[test]
fn an_app_id_without_push_leaves_the_next_trust_store() {
    let w = world();
    let env = &w.env;
    let ent = "com.example.ent";
    trust_store(env, "ts");
    assert_eq!(
        push_reason(env, "ts", "ent-ck.pem", ent, "development", None),
        None
    );
    ok(env, &["app", "set", ent, "--no-push"]);
    let j = republished(env);
    assert_eq!(
        (j["profiles"].as_i64(), j["apps"].as_i64()),
        (Some(2), Some(1)),
        "{j}"
    );
    assert_eq!(
        push_reason(env, "ts", "ent-ck.pem", ent, "development", None),
        deny("Forbidden")
    );
    assert_eq!(
        register_reason(env, "ts", ent, "development", D1),
        deny("Forbidden")
    );
    // The other App ID is untouched; push back on: its profile is back.
    assert_eq!(
        push_reason(
            env,
            "ts",
            "prod-ck.pem",
            "com.example.app",
            "production",
            None
        ),
        None
    );
    ok(env, &["app", "set", ent, "--push"]);
    republished(env);
    assert_eq!(
        push_reason(env, "ts", "ent-ck.pem", ent, "development", None),
        None
    );
}

#[test]
fn a_disabled_app_id_leaves_the_next_trust_store() {
    let w = world();
    let env = &w.env;
    let app = "com.example.app";
    trust_store(env, "ts");
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", Some(D1)),
        None
    );
    assert_eq!(register_reason(env, "ts", app, "development", D1), None);
    ok(env, &["app", "disable", app]);
    let j = republished(env);
    assert_eq!(
        (j["profiles"].as_i64(), j["apps"].as_i64()),
        (Some(1), Some(1)),
        "{j}"
    );
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", Some(D1)),
        deny("Forbidden")
    );
    assert_eq!(
        push_reason(env, "ts", "dev-ck.pem", app, "development", None),
        deny("Forbidden")
    );
    for e in ["development", "production"] {
        assert_eq!(register_reason(env, "ts", app, e, D1), deny("Forbidden"));
    }
    assert_eq!(
        push_reason(
            env,
            "ts",
            "ent-ck.pem",
            "com.example.ent",
            "development",
            None
        ),
        None
    );
    ok(env, &["app", "enable", app]);
    republished(env);
    assert_eq!(
        push_reason(env, "ts", "prod-ck.pem", app, "production", Some(D1)),
        None
    );
}

#[test]
fn a_withdrawn_profile_leaves_the_next_trust_store_without_a_replacement() {
    let w = world();
    let env = &w.env;
    let app = "com.example.app";
    trust_store(env, "ts");
    assert_eq!(
        push_reason(env, "ts", "dev-ck.pem", app, "development", Some(D1)),
        None
    );
    assert_eq!(register_reason(env, "ts", app, "development", D1), None);
    let o = env
        .cmd()
        .args(["--json", "profile", "list", "--app", app])
        .output()
        .unwrap();
    let uuid = stdout_json(&o)["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["environment"] == "development")
        .unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    ok(env, &["profile", "withdraw", &uuid]);
    let j = republished(env);
    assert_eq!(j["profiles"], 2, "{j}");
    assert!(!env
        .path("ts/profiles")
        .join(format!("{uuid}.mobileprovision"))
        .exists());
    assert_eq!(
        push_reason(env, "ts", "dev-ck.pem", app, "development", Some(D1)),
        deny("Forbidden")
    );
    assert_eq!(
        push_reason(env, "ts", "uni-ck.pem", app, "development", None),
        deny("Forbidden")
    );
    assert_eq!(
        register_reason(env, "ts", app, "development", D1),
        deny("Forbidden")
    );
    // The production profile is still there; regenerating the App ID's
    // profiles does not bring the withdrawn one back.
    assert_eq!(
        push_reason(env, "ts", "uni-ck.pem", app, "production", Some(D2)),
        None
    );
    ok(
        env,
        &[
            "profile",
            "regenerate",
            "--app",
            app,
            "--out-dir",
            "regen",
            "--ca-passin",
            &pass(),
        ],
    );
    republished(env);
    assert_eq!(
        register_reason(env, "ts", app, "development", D1),
        deny("Forbidden")
    );
    assert_eq!(
        push_reason(env, "ts", "uni-ck.pem", app, "production", Some(D2)),
        None
    );
}

/// The policy's disabled devices are checked like everything else in it:
/// a re-signed policy naming a device disables it; one naming something that
/// is not a UDID does not load.
#[test]
fn the_policy_names_each_teams_disabled_devices_and_load_checks_them() {
    let w = world();
    let env = &w.env;
    let app = "com.example.app";
    trust_store(env, "ts");
    let resign = |dir: &Path, edit: &dyn Fn(&mut serde_json::Value)| {
        copy_dir(&env.path("ts"), dir);
        let mut policy: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("policy.json")).unwrap()).unwrap();
        edit(&mut policy);
        resign_policy(env, dir, &policy);
    };
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("ts/policy.json")).unwrap()).unwrap();
    let team = policy["apps"][app]["team_id"].as_str().unwrap().to_string();
    assert_eq!(
        policy["teams"][&team]["disabled_devices"],
        serde_json::json!([]),
        "{policy}"
    );
    let named = env.path("named");
    resign(&named, &|p| {
        p["teams"][&team]["disabled_devices"] = serde_json::json!([D1.to_lowercase()]);
    });
    let gw = Gateway::load(&named, anchor(env)).unwrap();
    assert_eq!(
        gw.authorize_registration(app, Environment::Development, D1),
        Decision::Deny(Reason::DeviceNotProvisioned)
    );
    assert_eq!(
        gw.authorize_registration(app, Environment::Production, D2),
        Decision::Allow
    );
    for bad in ["not-a-udid", "00008030-001A0C3E0E68802G", ""] {
        let dir = env.path(&format!("bad-{}", bad.len()));
        resign(&dir, &|p| {
            p["teams"][&team]["disabled_devices"] = serde_json::json!([D2, bad]);
        });
        let e = Gateway::load(&dir, anchor(env)).expect_err(bad).to_string();
        assert!(e.contains("not a UDID") && e.contains(&team), "{bad}: {e}");
    }
}

/// `--anchor` must name one self-signed root: a missing file, a leaf, or
/// two roots are clear errors (exit 1), never a guess.
#[test]
fn a_bad_anchor_is_a_clear_error() {
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let other = Env::new();
    other.init_other();
    let two_roots = env.path("two-roots.pem");
    std::fs::write(
        &two_roots,
        [
            std::fs::read(env.home().join("ca/root.pem")).unwrap(),
            std::fs::read(other.home().join("ca/root.pem")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    std::fs::write(env.path("junk.pem"), b"not a certificate\n").unwrap();
    for (anchor, needle) in [
        ("missing.pem", "missing.pem"),
        ("junk.pem", "junk.pem"),
        ("dev.pem", "holds no self-signed root"),
        ("two-roots.pem", "holds 2 self-signed root certificates"),
    ] {
        let (code, out, err) = check_cli(
            env,
            &[
                "--trust-store",
                "ts",
                "--anchor",
                anchor,
                "--register",
                "com.example.app",
                "--env",
                "production",
                "--device",
                D1,
            ],
        );
        assert_eq!(code, Some(1), "{anchor}: {out} {err}");
        assert!(err.contains(needle), "{anchor}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
    }
    // The right root, given explicitly, is the home's default.
    let (code, _, err) = check_cli(
        env,
        &[
            "--trust-store",
            "ts",
            "--anchor",
            env.home().join("ca/root.pem").to_str().unwrap(),
            "--register",
            "com.example.app",
            "--env",
            "production",
            "--device",
            D1,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
}
