//! The gateway trust store and the enforcement: the allow/deny matrix of
//! PRODUCT.md through `gateway check` and the library, tampering, reloads,
//! and real mutual-TLS handshakes with a rustls server, `openssl s_server`
//! and nginx configured from the trust store; keytool reads truststore.p12.

mod common;
#[path = "common/tls.rs"]
mod tls;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use common::{stderr, stdout_json, Env, CA_PASS};
use pushca::gateway::{Decision, Gateway, Reason};
use pushca::x509ext::Environment;

const D1: &str = "00008030-001A0C3E0E68802E";
const D2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const UNKNOWN: &str = "00008030-FFFFFFFFFFFFFFFF";

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

fn trust_store(env: &Env, out: &str) -> serde_json::Value {
    let o = env
        .cmd()
        .args([
            "--json",
            "gateway",
            "trust-store",
            "--out",
            out,
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
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
    other_home.init_with_app();
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
    let gw = Gateway::load(&env.path("ts")).unwrap();
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
    gw.reload(&env.path("ts")).unwrap();
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
    assert_eq!(policy["format"], "pushca-policy/1");
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
    Gateway::load(&ts).unwrap();
    // Never inside the home; never over a directory that is not a trust store.
    let inside = env.home().join("ts");
    let o = env
        .cmd()
        .args([
            "gateway",
            "trust-store",
            "--out",
            inside.to_str().unwrap(),
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    std::fs::create_dir(env.path("mine")).unwrap();
    std::fs::write(env.path("mine/notes.txt"), b"keep").unwrap();
    let o = env
        .cmd()
        .args([
            "gateway",
            "trust-store",
            "--out",
            "mine",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a trust store"), "{}", stderr(&o));
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
    Gateway::load(&good).unwrap();
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
    other.init_with_app();
    let o = other
        .cmd()
        .args([
            "gateway",
            "trust-store",
            "--out",
            "ots",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
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
        Gateway::load(&dir)
            .unwrap_or_else(|e| panic!("{what}: the copy must load before tampering: {e}"));
        let gw = Gateway::load(&dir).unwrap();
        tamper(&dir);
        let e = Gateway::load(&dir).expect_err(what);
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
    other.init_with_app();
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
    use pushca::ca::authority::{CaFiles, ISSUING, PROFILE_SIGNER};
    use pushca::gateway::{LoadOptions, TrustStore};
    let w = world();
    let env = &w.env;
    trust_store(env, "ts");
    let good = env.path("ts");
    let strict = LoadOptions {
        verify_profile_signatures: true,
    };
    TrustStore::load_with(&good, strict, None).expect("a good store verifies in full");
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
    let o = env
        .cmd()
        .args([
            "gateway",
            "trust-store",
            "--out",
            "ts2",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
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
    policy["files"][&rel] = serde_json::json!(pushca::ca::sha256_hex(&der));
    let mut json = serde_json::to_vec(&policy).unwrap();
    json.push(b'\n');
    let files = CaFiles::new(env.home().join("ca"));
    let signer = pushca::ca::Issuer::unlock(
        &files,
        PROFILE_SIGNER,
        &pushca::secret::Secret::new(CA_PASS),
    )
    .unwrap();
    let issuing = pushca::ca::authority::read_ca_cert(&files, ISSUING).unwrap();
    let p7s = pushca::cms::sign(
        &json,
        false,
        signer.cert_der(),
        &[issuing.as_slice()],
        signer.signer(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    std::fs::write(dir.join("policy.json"), &json).unwrap();
    std::fs::write(dir.join("policy.json.p7s"), &p7s).unwrap();
    TrustStore::load(&dir).expect("the signed policy covers the file");
    let e = TrustStore::load_with(&dir, strict, None).expect_err("its own signature is broken");
    assert!(e.to_string().contains(&uuid), "{e}");
    // A reload asked to verify signatures does not reuse the unverified one.
    let lax = TrustStore::load(&dir).unwrap();
    assert!(TrustStore::load_with(&dir, strict, Some(&lax)).is_err());
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
    let gw = Gateway::load(&env.path("ts")).unwrap();
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
    use pushca::ca::authority::{CaFiles, ISSUING, PROFILE_SIGNER};
    use pushca::gateway::TrustStore;
    let w = world();
    let env = &w.env;
    let app = "com.example.app";
    trust_store(env, "ts");
    let resign = |dir: &Path, edit: &dyn Fn(&mut serde_json::Value)| {
        copy_dir(&env.path("ts"), dir);
        let mut policy: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("policy.json")).unwrap()).unwrap();
        edit(&mut policy);
        let mut json = serde_json::to_vec(&policy).unwrap();
        json.push(b'\n');
        let files = CaFiles::new(env.home().join("ca"));
        let signer = pushca::ca::Issuer::unlock(
            &files,
            PROFILE_SIGNER,
            &pushca::secret::Secret::new(CA_PASS),
        )
        .unwrap();
        let issuing = pushca::ca::authority::read_ca_cert(&files, ISSUING).unwrap();
        let p7s = pushca::cms::sign(
            &json,
            false,
            signer.cert_der(),
            &[issuing.as_slice()],
            signer.signer(),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        std::fs::write(dir.join("policy.json"), &json).unwrap();
        std::fs::write(dir.join("policy.json.p7s"), &p7s).unwrap();
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
    let gw = Gateway::new(TrustStore::load(&named).unwrap());
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
        let e = TrustStore::load(&dir).expect_err(bad).to_string();
        assert!(e.contains("not a UDID") && e.contains(&team), "{bad}: {e}");
    }
}
