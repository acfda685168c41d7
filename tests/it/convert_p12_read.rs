//! pushca reads the PKCS#12 files openssl (and Java keytool) write, and gets
//! the same certificates and key as `openssl pkcs12 -nodes`.

use crate::common::convert as common;

use common::*;
use std::path::Path;

/// Converts `p12` with pushca (`p12 to-pem --noenc`) and compares with openssl's own reading.
fn assert_same_as_openssl(dir: &Path, p12: &Path, pass: &str, openssl_extra: &[&str]) {
    let out = dir.join("pushca-out.pem");
    let _ = std::fs::remove_file(&out);
    let mut c = pushca();
    c.args([
        "p12",
        "to-pem",
        "--in",
        s(p12),
        "--passin",
        &format!("pass:{pass}"),
        "--noenc",
        "--out",
        s(&out),
    ]);
    run_ok(c);
    let (want_certs, want_key) = openssl_p12_contents(dir, p12, pass, openssl_extra);
    assert_eq!(
        sorted(certs_in(&out)),
        sorted(want_certs),
        "certificates differ for {}",
        p12.display()
    );
    let text = std::fs::read_to_string(&out).unwrap();
    match want_key {
        Some(k) => {
            assert!(text.contains("-----BEGIN PRIVATE KEY-----"));
            assert_eq!(
                key_der(dir, &out, None),
                k,
                "keys differ for {}",
                p12.display()
            );
            assert_eq!(mode(&out), 0o600);
        }
        None => assert!(!text.contains("PRIVATE KEY")),
    }
}

fn export(
    dir: &Path,
    cert: &Path,
    key: &Path,
    out: &str,
    pass: &str,
    extra: &[&str],
) -> std::path::PathBuf {
    let passout = format!("pass:{pass}");
    let mut args = vec![
        "pkcs12",
        "-export",
        "-in",
        s(cert),
        "-inkey",
        s(key),
        "-out",
        out,
        "-passout",
        &passout,
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
    dir.join(out)
}

#[test]
fn every_openssl_variant_reads_like_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = self_signed(d, "rsa", "rsa:2048");
    let (ecert, ekey) = self_signed(d, "ec", "ec");
    let variants: &[(&str, &[&str], &[&str])] = &[
        ("default.p12", &[], &[]),
        ("legacy.p12", &["-legacy"], &["-legacy"]),
        ("descert.p12", &["-descert"], &[]),
        ("aes-sha1mac.p12", &["-macalg", "sha1"], &[]),
        (
            "3des-all.p12",
            &["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES"],
            &[],
        ),
        (
            "aes128.p12",
            &[
                "-keypbe",
                "AES-128-CBC",
                "-certpbe",
                "AES-128-CBC",
                "-iter",
                "5000",
            ],
            &[],
        ),
        (
            "none-mac.p12",
            &["-keypbe", "NONE", "-certpbe", "NONE"],
            &[],
        ),
        (
            "none-nomac.p12",
            &["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"],
            &[],
        ),
        ("noiter.p12", &["-noiter", "-nomaciter"], &[]),
    ];
    for (name, mk, rd) in variants {
        let p = export(d, &cert, &key, name, "s3cret", mk);
        assert_same_as_openssl(d, &p, "s3cret", rd);
        let p = export(d, &ecert, &ekey, &format!("ec-{name}"), "s3cret", mk);
        assert_same_as_openssl(d, &p, "s3cret", rd);
    }
}

#[test]
fn empty_and_non_ascii_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = self_signed(d, "pw", "rsa:2048");
    for (name, extra) in [("e.p12", &[][..]), ("e-legacy.p12", &["-legacy"][..])] {
        let p = export(d, &cert, &key, name, "", extra);
        assert_same_as_openssl(d, &p, "", extra);
        // Without --passin the empty password is tried.
        let out = d.join(format!("nopass-{name}.pem"));
        let mut c = pushca();
        c.args(["pem", "ck", "--in", s(&p), "--out", s(&out)]);
        run_ok(c);
        assert_eq!(key_der(d, &out, None), key_der(d, &key, None));
    }
    for (name, extra) in [("u.p12", &[][..]), ("u-legacy.p12", &["-legacy"][..])] {
        let p = export(d, &cert, &key, name, "pässwörd✓", extra);
        assert_same_as_openssl(d, &p, "pässwörd✓", extra);
    }
}

#[test]
fn several_certificates_friendly_names_and_selection() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (leaf, key, ca) = issued(d, "multi");
    let (other, _) = self_signed(d, "other", "ec");
    let bundle = d.join("cas.pem");
    std::fs::write(
        &bundle,
        [std::fs::read(&ca).unwrap(), std::fs::read(&other).unwrap()].concat(),
    )
    .unwrap();
    let p = export(
        d,
        &leaf,
        &key,
        "multi.p12",
        "pw",
        &["-certfile", s(&bundle), "-name", "My Push Cert"],
    );
    assert_same_as_openssl(d, &p, "pw", &[]);

    let lib = pushca::p12::Pkcs12::parse(
        &std::fs::read(&p).unwrap(),
        &pushca::secret::Secret::new("pw"),
    )
    .unwrap();
    assert_eq!(lib.certs.len(), 3);
    assert_eq!(
        lib.leaf().unwrap().friendly_name.as_deref(),
        Some("My Push Cert")
    );
    assert_eq!(lib.keys[0].friendly_name.as_deref(), Some("My Push Cert"));
    assert_eq!(lib.leaf().unwrap().der, cert_der(d, &leaf));

    for (flag, extra) in [("--clcerts", "-clcerts"), ("--cacerts", "-cacerts")] {
        let out = d.join(format!("sel{flag}.pem"));
        let mut c = pushca();
        c.args([
            "p12",
            "to-pem",
            "--in",
            s(&p),
            "--passin",
            "pass:pw",
            flag,
            "--nokeys",
            "--out",
            s(&out),
        ]);
        run_ok(c);
        let (want, _) = openssl_p12_contents(d, &p, "pw", &[extra, "-nokeys"]);
        assert_eq!(sorted(certs_in(&out)), sorted(want), "{flag}");
        assert_eq!(mode(&out), 0o644);
        // A key block's label (base64 of a certificate may hold "KEY" by chance).
        assert!(!std::fs::read_to_string(&out).unwrap().contains("KEY-----"));
    }
    // --nocerts: only the key, encrypted unless --noenc.
    let out = d.join("keyonly.pem");
    let mut c = pushca();
    c.args([
        "p12",
        "to-pem",
        "--in",
        s(&p),
        "--passin",
        "pass:pw",
        "--nocerts",
        "--passout",
        "pass:kp",
        "--out",
        s(&out),
    ]);
    run_ok(c);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{text}"
    );
    assert!(certs_in(&out).is_empty());
    assert_eq!(key_der(d, &out, Some("kp")), key_der(d, &key, None));
}

#[test]
fn certificate_only_trust_stores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, _) = self_signed(d, "ta", "rsa:2048");
    let (b, _) = self_signed(d, "tb", "ec");
    let both = d.join("both.pem");
    std::fs::write(
        &both,
        [std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap()].concat(),
    )
    .unwrap();
    for (name, extra) in [
        ("ts.p12", &[][..]),
        ("ts-nomac.p12", &["-certpbe", "NONE", "-nomac"][..]),
    ] {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            s(&both),
            "-out",
            name,
            "-passout",
            "pass:tpw",
        ];
        args.extend_from_slice(extra);
        openssl(d, &args);
        let p = d.join(name);
        assert_same_as_openssl(d, &p, "tpw", &[]);
    }
}

#[test]
fn java_keytool_pbes2_hmac_sha1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ks = d.join("java.p12");
    let mut c = std::process::Command::new("keytool");
    c.args([
        "-J-Dkeystore.pkcs12.keyProtectionAlgorithm=PBEWithHmacSHA1AndAES_256",
        "-J-Dkeystore.pkcs12.certProtectionAlgorithm=PBEWithHmacSHA1AndAES_256",
        "-J-Dkeystore.pkcs12.macAlgorithm=HmacPBESHA1",
        "-genkeypair",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-alias",
        "push",
        "-dname",
        "CN=Apple Push Services: com.example.java",
        "-storetype",
        "PKCS12",
        "-keystore",
        s(&ks),
        "-storepass",
        "javapw",
        "-validity",
        "30",
    ]);
    run_ok(c);
    let info = openssl(
        d,
        &[
            "pkcs12",
            "-in",
            s(&ks),
            "-info",
            "-noout",
            "-passin",
            "pass:javapw",
        ],
    );
    let info = String::from_utf8_lossy(&info.stderr);
    assert!(info.contains("hmacWithSHA1"), "{info}");
    assert_same_as_openssl(d, &ks, "javapw", &[]);
}

#[test]
fn wrong_password_is_reported_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = self_signed(d, "wp", "rsa:2048");
    for (name, extra) in [("w.p12", &[][..]), ("w-nomac.p12", &["-nomac"][..])] {
        let p = export(d, &cert, &key, name, "right", extra);
        for cmd in [&["pem", "ck"][..], &["p12", "to-pem", "--noenc"][..]] {
            let out = d.join("never.pem");
            let mut c = pushca();
            c.args(cmd)
                .args(["--in", s(&p), "--passin", "pass:wrong", "--out", s(&out)]);
            let o = c.output().unwrap();
            assert_eq!(o.status.code(), Some(1));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("wrong password for") && err.contains(name),
                "{err}"
            );
            if extra.is_empty() {
                assert!(err.contains("MAC verification failed"), "{err}");
            }
            assert!(!out.exists());
        }
    }
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = self_signed(d, "bad", "rsa:2048");
    let good = export(d, &cert, &key, "good.p12", "pw", &[]);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(d.join("truncated.p12"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(d.join("text.p12"), "hello, this is not a p12\n").unwrap();
    std::fs::write(d.join("empty.p12"), "").unwrap();
    std::fs::create_dir(d.join("dir.p12")).unwrap();
    std::fs::copy(&cert, d.join("pem.p12")).unwrap();
    for (name, needle) in [
        ("truncated.p12", "truncated"),
        ("text.p12", "not a PKCS#12"),
        ("empty.p12", "empty"),
        ("dir.p12", "directory"),
        ("pem.p12", "PEM"),
        ("missing.p12", "no such file"),
    ] {
        let out = d.join("out.pem");
        let mut c = pushca();
        c.args([
            "pem",
            "ck",
            "--in",
            s(&d.join(name)),
            "--passin",
            "pass:pw",
            "--out",
            s(&out),
        ]);
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.starts_with("error: ") && first.contains(name) && first.contains(needle),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"));
        assert!(!out.exists(), "{name}");
    }
}
