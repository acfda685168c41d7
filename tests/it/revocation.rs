//! Revocation and CRLs on the built binary; `openssl crl`/`openssl verify`
//! and pkilint (PyPI) as oracles.

use crate::common;

use std::process::Command as StdCommand;

use common::{stderr, stdout_json, Env, CA_PASS};

fn pass() -> String {
    format!("pass:{CA_PASS}")
}

fn issue(env: &Env, name: &str) -> String {
    let csr = env.openssl_csr(name, "ec:P-256", &[]);
    let o = env
        .issue_cmd("production", &csr, &format!("{name}.pem"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout_json(&o)["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

fn crl(env: &Env, out: &str) -> serde_json::Value {
    let o = env
        .cmd()
        .args([
            "--json",
            "crl",
            "--out",
            out,
            "--force",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout_json(&o)
}

fn openssl_text(env: &Env, args: &[&str]) -> String {
    String::from_utf8_lossy(&env.openssl(args).stdout).into_owned()
}

fn set_not_after_past(env: &Env, serial: &str) {
    let o = StdCommand::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); \
             c.execute('UPDATE certificates SET not_after=? WHERE serial=?', (int(time.time())-60, sys.argv[2])); c.commit()",
        ])
        .arg(env.home().join("pushca.db"))
        .arg(serial)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// pkilint must be installed (`.ci/run` installs it from PyPI).
fn pkilint(env: &Env, file: &str, profile: &str) {
    let o = StdCommand::new("lint_crl")
        .args(["lint", "-t", "CRL", "-p", profile, "-s", "WARNING", file])
        .current_dir(env.dir.path())
        .output()
        .expect("pkilint is installed (pip install pkilint)");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.trim().is_empty(),
        "pkilint {profile} {file}: {out}{}",
        stderr(&o)
    );
}

#[test]
fn revoke_is_idempotent_and_refuses_unknown_and_expired_certificates() {
    let env = Env::new();
    env.init_with_app();
    let a = issue(&env, "a");
    let o = env
        .cmd()
        .args(["--json", "cert", "revoke", &a, "--reason", "key-compromise"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(
        (j["changed"].as_bool(), j["reason"].as_str()),
        (Some(true), Some("keyCompromise"))
    );
    // Again, with another reason: exit 0, unchanged, the first reason kept.
    let o = env
        .cmd()
        .args(["--json", "cert", "revoke", &a, "--reason", "superseded"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let j = stdout_json(&o);
    assert_eq!(
        (j["changed"].as_bool(), j["reason"].as_str()),
        (Some(false), Some("keyCompromise"))
    );
    // cert show and cert list say revoked.
    let o = env
        .cmd()
        .args(["--json", "cert", "show", &a])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&o)["revoked"], true);
    // Unknown serial, unknown reason, expired certificate.
    let o = env
        .cmd()
        .args(["--json", "cert", "revoke", "deadbeefdeadbeef"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["error"]["kind"], "not_found");
    let b = issue(&env, "b");
    let o = env
        .cmd()
        .args(["cert", "revoke", &b, "--reason", "removeFromCRL"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("keyCompromise"),
        "the hint lists the reasons"
    );
    set_not_after_past(&env, &b);
    let o = env
        .cmd()
        .args(["--json", "cert", "revoke", &b])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("expired"),
        "{e}"
    );
    let o = env
        .cmd()
        .args(["--json", "cert", "show", &b])
        .output()
        .unwrap();
    assert_ne!(stdout_json(&o)["revoked"], true, "nothing recorded");
}

#[test]
fn crls_are_numbered_signed_by_the_issuing_ca_and_keep_unexpired_revocations() {
    let env = Env::new();
    env.init_with_app();
    let (a, b, c) = (issue(&env, "a"), issue(&env, "b"), issue(&env, "c"));
    // An empty CRL first.
    let j = crl(&env, "crl1.pem");
    assert_eq!(
        (j["number"].as_i64(), j["revoked"].as_i64()),
        (Some(1), Some(0))
    );
    pkilint(&env, "crl1.pem", "PKIX");
    env.cmd()
        .args(["cert", "revoke", &a, "--reason", "keyCompromise"])
        .assert()
        .success();
    env.cmd().args(["cert", "revoke", &b]).assert().success();
    let j = crl(&env, "crl2.pem");
    assert_eq!(
        (j["number"].as_i64(), j["revoked"].as_i64()),
        (Some(2), Some(2))
    );
    let this = time::OffsetDateTime::parse(
        j["this_update"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let next = time::OffsetDateTime::parse(
        j["next_update"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        (next - this).whole_days(),
        7,
        "nextUpdate from the crl template"
    );
    for profile in ["PKIX", "BR"] {
        pkilint(&env, "crl2.pem", profile);
    }
    let issuing = env.ca_pem("issuing");
    let issuing = issuing.to_str().unwrap();
    // openssl verifies the CRL's signature with the issuing CA, reads its
    // number, AKI (= the issuing CA's SKI), entries and reason codes.
    let text = openssl_text(
        &env,
        &[
            "crl", "-in", "crl2.pem", "-noout", "-text", "-CAfile", issuing,
        ],
    );
    assert!(text.contains("Version 2"), "{text}");
    assert!(
        text.contains("X509v3 CRL Number: \n                2"),
        "{text}"
    );
    let ski = openssl_text(
        &env,
        &[
            "x509",
            "-in",
            issuing,
            "-noout",
            "-ext",
            "subjectKeyIdentifier",
        ],
    );
    let ski = ski.lines().nth(1).unwrap().trim().to_string();
    assert!(text.contains(&ski), "AKI {ski} in {text}");
    assert!(text.contains(&a.to_uppercase()) && text.contains(&b.to_uppercase()));
    assert!(!text.contains(&c.to_uppercase()));
    assert!(text.contains("Key Compromise"), "{text}");
    let o = env.openssl_raw(&["crl", "-in", "crl2.pem", "-noout", "-CAfile", issuing]);
    assert!(stderr(&o).contains("verify OK"), "{}", stderr(&o));
    // openssl verify -crl_check: revoked ones fail, the other one passes.
    let chain = env.ca_pem("chain");
    let chain = chain.to_str().unwrap();
    for (cert, ok) in [("a.pem", false), ("b.pem", false), ("c.pem", true)] {
        let o = env.openssl_raw(&[
            "verify",
            "-crl_check",
            "-CRLfile",
            "crl2.pem",
            "-CAfile",
            chain,
            cert,
        ]);
        assert_eq!(
            o.status.success(),
            ok,
            "{cert}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
        if !ok {
            let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
            assert!(all.contains("certificate revoked"), "{all}");
        }
    }
    // A revoked certificate stays on every CRL until it expires, then drops off.
    let j = crl(&env, "crl3.pem");
    assert_eq!(
        (j["number"].as_i64(), j["revoked"].as_i64()),
        (Some(3), Some(2))
    );
    set_not_after_past(&env, &b);
    let j = crl(&env, "crl4.pem");
    assert_eq!(
        (j["number"].as_i64(), j["revoked"].as_i64()),
        (Some(4), Some(1))
    );
    let text = openssl_text(&env, &["crl", "-in", "crl4.pem", "-noout", "-text"]);
    assert!(text.contains(&a.to_uppercase()) && !text.contains(&b.to_uppercase()));
    // Without --out: the PEM on stdout; a wrong passphrase writes and records nothing.
    let o = env
        .cmd()
        .args(["crl", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("-----BEGIN X509 CRL-----"));
    let o = env
        .cmd()
        .args([
            "--json",
            "crl",
            "--out",
            "crl6.pem",
            "--ca-passin",
            "pass:not the passphrase",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!env.path("crl6.pem").exists());
    let j = crl(&env, "crl7.pem");
    assert_eq!(
        j["number"].as_i64(),
        Some(6),
        "the failed run took no number"
    );
}

#[test]
fn a_revoked_certificate_is_not_authorised_by_new_profiles() {
    let env = Env::new();
    env.init_with_app();
    let (a, b) = (issue(&env, "a"), issue(&env, "b"));
    env.cmd().args(["cert", "revoke", &a]).assert().success();
    let o = env
        .cmd()
        .args([
            "--json",
            "profile",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--all-devices",
        ])
        .args(["--out", "p.mobileprovision", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout_json(&o)["profile"]["certificates"],
        serde_json::json!([b])
    );
    // Naming it explicitly is refused.
    let o = env
        .cmd()
        .args([
            "profile",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--all-devices",
        ])
        .args([
            "--cert",
            &a,
            "--out",
            "q.mobileprovision",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("revoked"), "{}", stderr(&o));
}
