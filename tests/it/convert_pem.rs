//! `pem ck` and `pem merge`: the `cat cert.pem key.pem > ck.pem` step, checked.

use crate::common::convert as common;

use common::*;
use std::path::Path;

/// The classic four-step openssl workflow; returns ck.pem.
fn openssl_pipeline(d: &Path, p12: &Path, pass: &str) -> std::path::PathBuf {
    let passin = format!("pass:{pass}");
    openssl(
        d,
        &[
            "pkcs12",
            "-clcerts",
            "-nokeys",
            "-out",
            "cert.pem",
            "-in",
            s(p12),
            "-passin",
            &passin,
        ],
    );
    openssl(
        d,
        &[
            "pkcs12",
            "-nocerts",
            "-out",
            "key.pem",
            "-in",
            s(p12),
            "-passin",
            &passin,
            "-passout",
            "pass:tmp1234",
        ],
    );
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "key.pem",
            "-out",
            "key.unencrypted.pem",
            "-passin",
            "pass:tmp1234",
        ],
    );
    let ck = [
        std::fs::read(d.join("cert.pem")).unwrap(),
        std::fs::read(d.join("key.unencrypted.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("openssl-ck.pem"), ck).unwrap();
    d.join("openssl-ck.pem")
}

#[test]
fn pem_ck_equals_the_openssl_pipeline_and_pem_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (leaf, key, ca) = issued(d, "ck");
    let p12 = d.join("push.p12");
    openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-in",
            s(&leaf),
            "-inkey",
            s(&key),
            "-certfile",
            s(&ca),
            "-out",
            s(&p12),
            "-passout",
            "pass:pw",
        ],
    );
    let theirs = openssl_pipeline(d, &p12, "pw");
    let ours = d.join("ck.pem");
    let o = run_ok({
        let mut c = pushca();
        c.args([
            "--json",
            "pem",
            "ck",
            "--in",
            s(&p12),
            "--passin",
            "pass:pw",
            "--out",
            s(&ours),
        ]);
        c
    });
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["certificates"], 1);
    assert_eq!(doc["key"], true);
    assert_eq!(doc["encrypted"], false);
    assert_eq!(doc["out"], s(&ours));
    assert!(doc["subject"].as_str().unwrap().contains("com.example.ck"));
    assert_eq!(doc["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(mode(&ours), 0o600);
    // Same certificate, same key; certificate first.
    assert_eq!(certs_in(&ours), certs_in(&theirs));
    assert_eq!(certs_in(&ours), vec![cert_der(d, &leaf)]);
    assert_eq!(key_der(d, &ours, None), key_der(d, &theirs, None));
    let text = std::fs::read_to_string(&ours).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(text.contains("-----BEGIN PRIVATE KEY-----") && !text.contains("ENCRYPTED"));
    // The file works as a TLS identity for openssl.
    openssl(d, &["x509", "-in", s(&ours), "-noout"]);

    // pem merge of the openssl-extracted pieces gives the same bytes.
    let merged = d.join("merged.pem");
    run_ok({
        let mut c = pushca();
        c.args([
            "pem",
            "merge",
            s(&d.join("cert.pem")),
            s(&d.join("key.pem")),
            "--passin",
            "pass:tmp1234",
            "--out",
            s(&merged),
        ]);
        c
    });
    assert_eq!(
        std::fs::read(&merged).unwrap(),
        std::fs::read(&ours).unwrap()
    );
    assert_eq!(mode(&merged), 0o600);
}

#[test]
fn pem_merge_refuses_a_mismatched_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, _) = self_signed(d, "a", "ec");
    let (_, other) = self_signed(d, "b", "ec");
    let out = d.join("ck.pem");
    let o = pushca()
        .args(["pem", "merge", s(&cert), s(&other), "--out", s(&out)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("does not match") && err.contains("a.crt.pem") && err.contains("b.key.pem"),
        "{err}"
    );
    assert!(!out.exists());
    // JSON errors go to stderr as a document.
    let o = pushca()
        .args([
            "--json",
            "pem",
            "merge",
            s(&cert),
            s(&other),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(doc["error"]["kind"], "input");
}

#[test]
fn pem_merge_warns_about_an_expired_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kp = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["old.example".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&kp).unwrap();
    std::fs::write(d.join("old.pem"), cert.pem()).unwrap();
    std::fs::write(d.join("old.key"), kp.serialize_pem()).unwrap();
    let out = d.join("ck.pem");
    let o = run_ok({
        let mut c = pushca();
        c.args([
            "pem",
            "merge",
            s(&d.join("old.pem")),
            s(&d.join("old.key")),
            "--out",
            s(&out),
        ]);
        c
    });
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning:") && err.contains("expired"), "{err}");
    assert!(out.exists());
    let o = run_ok({
        let mut c = pushca();
        c.args([
            "--json",
            "pem",
            "merge",
            s(&d.join("old.pem")),
            s(&d.join("old.key")),
            "--out",
            s(&out),
            "--force",
        ]);
        c
    });
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc["warnings"][0].as_str().unwrap().contains("expired"));
}

#[test]
fn pem_merge_takes_der_certificates_and_encrypted_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = self_signed(d, "der", "rsa:2048");
    openssl(
        d,
        &[
            "x509",
            "-in",
            s(&cert),
            "-outform",
            "DER",
            "-out",
            "cert.cer",
        ],
    );
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            s(&key),
            "-passout",
            "pass:kp",
            "-out",
            "enc.key",
        ],
    );
    let out = d.join("ck.pem");
    let o = pushca()
        .args(["pem", "merge", "cert.cer", "enc.key", "--out", "ck.pem"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "no --passin and no terminal");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--passin"));
    assert!(!out.exists());
    run_ok({
        let mut c = pushca();
        c.args([
            "pem", "merge", "cert.cer", "enc.key", "--passin", "pass:kp", "--out", "ck.pem",
        ])
        .current_dir(d);
        c
    });
    assert_eq!(certs_in(&out), vec![cert_der(d, &cert)]);
    assert_eq!(key_der(d, &out, None), key_der(d, &key, None));
}
