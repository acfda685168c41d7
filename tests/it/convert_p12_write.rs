//! PKCS#12 files written by pushca are read by openssl (3.x, with and without
//! `-legacy`), by Python `cryptography`, and trust stores by Java `keytool`.

use crate::common::convert as common;

use common::*;
use std::path::Path;
use std::process::Command;

fn python_reads(p12: &Path, pass: Option<&str>) -> String {
    let script = r#"
import sys
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PrivateFormat, NoEncryption
data = open(sys.argv[1], 'rb').read()
pw = None if sys.argv[2] == '-' else sys.argv[2].encode()
key, cert, cas = pkcs12.load_key_and_certificates(data, pw)
print(cert.public_bytes(Encoding.DER).hex() if cert else '-')
print(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()).hex() if key else '-')
print(len(cas))
"#;
    let out = Command::new("python3")
        .args(["-c", script, s(p12), pass.unwrap_or("-")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn export(args: &[&str]) -> std::process::Output {
    let mut c = pushca();
    c.args(["p12", "export"]).args(args);
    run_ok(c)
}

/// (name, pushca flags, openssl read flags, password, expected `-info` text)
type Case<'a> = (
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
    Option<&'a str>,
    &'a str,
);

#[test]
fn modern_legacy_and_unencrypted_are_read_by_openssl_and_python() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for newkey in ["rsa:2048", "ec"] {
        let tag = newkey.replace(':', "");
        let (cert, key) = self_signed(d, &format!("w{tag}"), newkey);
        let want_cert = cert_der(d, &cert);
        let want_key = key_der(d, &key, None);
        let cases: &[Case] = &[
            (
                "modern",
                &["--passout", "pass:pässwörd✓"],
                &[],
                Some("pässwörd✓"),
                "PBES2, PBKDF2, AES-256-CBC",
            ),
            (
                "legacy",
                &["--passout", "pass:old", "--legacy"],
                &["-legacy"],
                Some("old"),
                "pbeWithSHA1And3-KeyTripleDES-CBC",
            ),
            ("noenc", &["--noenc"], &[], None, "Key bag"),
        ];
        for (name, flags, rd, pass, info_needle) in cases {
            let p12 = d.join(format!("{tag}-{name}.p12"));
            let mut args = vec!["--cert", s(&cert), "--key", s(&key), "--out", s(&p12)];
            args.extend_from_slice(flags);
            export(&args);
            assert_eq!(mode(&p12), 0o600);
            // openssl 3 reads it (modern: without -legacy).
            let (certs, k) = openssl_p12_contents(d, &p12, pass.unwrap_or(""), rd);
            assert_eq!(certs, vec![want_cert.clone()], "{name}");
            assert_eq!(k, Some(want_key.clone()), "{name}");
            let passin = format!("pass:{}", pass.unwrap_or(""));
            let mut info_args = vec![
                "pkcs12",
                "-in",
                s(&p12),
                "-info",
                "-noout",
                "-passin",
                &passin,
            ];
            info_args.extend_from_slice(rd);
            let info = openssl(d, &info_args);
            let info = String::from_utf8_lossy(&info.stderr).to_string();
            assert!(info.contains(info_needle), "{name}: {info}");
            if *name == "modern" {
                assert!(
                    info.contains("MAC: sha256") && info.contains("hmacWithSHA256"),
                    "{info}"
                );
            }
            if *name == "legacy" {
                assert!(
                    info.contains("MAC: sha1") && info.contains("pbeWithSHA1And40BitRC2-CBC"),
                    "{info}"
                );
            }
            // Python cryptography is the second reader.
            let py = python_reads(&p12, *pass);
            let lines: Vec<&str> = py.lines().collect();
            assert_eq!(lines[0], hex::encode(&want_cert), "{name}");
            assert_eq!(lines[1], hex::encode(&want_key), "{name}");
            // And pushca reads its own files.
            let back = d.join(format!(
                "back-{}.pem",
                p12.file_name().unwrap().to_string_lossy()
            ));
            let mut c = pushca();
            c.args([
                "pem",
                "ck",
                "--in",
                s(&p12),
                "--passin",
                &passin,
                "--out",
                s(&back),
            ]);
            run_ok(c);
            assert_eq!(key_der(d, &back, None), want_key);
        }
    }
}

#[test]
fn friendly_name_local_key_id_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (leaf, key, ca) = issued(d, "chain");
    let p12 = d.join("named.p12");
    export(&[
        "--cert",
        s(&leaf),
        "--key",
        s(&key),
        "--passout",
        "pass:pw",
        "--name",
        "Push Cert ✓",
        "--out",
        s(&p12),
    ]);
    // openssl prints BMPString names byte-wise; Python decodes them properly.
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys; from cryptography.hazmat.primitives.serialization import pkcs12; \
             p = pkcs12.load_pkcs12(open(sys.argv[1], 'rb').read(), b'pw'); \
             print(p.cert.friendly_name.decode())",
            s(&p12),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "Push Cert ✓");
    let p12 = d.join("named-ascii.p12");
    export(&[
        "--cert",
        s(&leaf),
        "--key",
        s(&key),
        "--passout",
        "pass:pw",
        "--name",
        "My Push Cert",
        "--out",
        s(&p12),
    ]);
    let info = openssl_text(
        d,
        &["pkcs12", "-in", s(&p12), "-nodes", "-passin", "pass:pw"],
    );
    assert!(info.contains("friendlyName: My Push Cert"), "{info}");
    // localKeyID is the SHA-1 of the certificate, as openssl sets it.
    let fp = openssl_text(
        d,
        &["x509", "-in", s(&leaf), "-noout", "-fingerprint", "-sha1"],
    )
    .trim()
    .rsplit('=')
    .next()
    .unwrap()
    .replace(':', " ");
    assert!(
        info.contains(&format!("localKeyID: {fp}")),
        "{fp} in {info}"
    );

    // Default friendly name: the certificate's CN.
    let p12 = d.join("default-name.p12");
    export(&[
        "--cert",
        s(&leaf),
        "--key",
        s(&key),
        "--passout",
        "pass:pw",
        "--out",
        s(&p12),
    ]);
    let info = openssl_text(
        d,
        &["pkcs12", "-in", s(&p12), "-nodes", "-passin", "pass:pw"],
    );
    assert!(
        info.contains("friendlyName: Apple Push Services: com.example.chain"),
        "{info}"
    );

    // --chain without a home chain and with a single certificate: clear error, no file.
    let home = d.join("home");
    std::fs::create_dir_all(home.join("ca")).unwrap();
    let out = d.join("nochain.p12");
    let o = pushca()
        .args([
            "--home",
            s(&home),
            "p12",
            "export",
            "--cert",
            s(&leaf),
            "--key",
            s(&key),
            "--noenc",
            "--chain",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--chain"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());

    // --chain falls back to the extra certificates of the --cert file.
    let bundle = d.join("leaf+ca.pem");
    std::fs::write(
        &bundle,
        [std::fs::read(&leaf).unwrap(), std::fs::read(&ca).unwrap()].concat(),
    )
    .unwrap();
    let out = d.join("fallback.p12");
    let mut c = pushca();
    c.args([
        "--home",
        s(&home),
        "p12",
        "export",
        "--cert",
        s(&bundle),
        "--key",
        s(&key),
        "--passout",
        "pass:pw",
        "--chain",
        "--out",
        s(&out),
    ]);
    run_ok(c);
    let (certs, _) = openssl_p12_contents(d, &out, "pw", &["-cacerts"]);
    assert_eq!(certs, vec![cert_der(d, &ca)]);

    // --chain refuses CA certificates that did not issue the leaf (an unrelated
    // home chain), and writes nothing.
    let (other_ca, _) = self_signed(d, "homeca", "ec");
    std::fs::copy(&other_ca, home.join("ca/chain.pem")).unwrap();
    let out = d.join("homechain.p12");
    let o = pushca()
        .args([
            "--home",
            s(&home),
            "p12",
            "export",
            "--cert",
            s(&leaf),
            "--key",
            s(&key),
            "--passout",
            "pass:pw",
            "--chain",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("was not issued by"), "{err}");
    assert!(!out.exists());

    // The home's chain with the issuing CA (plus an unrelated certificate):
    // only the leaf's issuer path goes in.
    std::fs::write(
        home.join("ca/chain.pem"),
        [
            std::fs::read(&other_ca).unwrap(),
            std::fs::read(&ca).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let mut c = pushca();
    c.args([
        "--home",
        s(&home),
        "--json",
        "p12",
        "export",
        "--cert",
        s(&leaf),
        "--key",
        s(&key),
        "--passout",
        "pass:pw",
        "--chain",
        "--out",
        s(&out),
    ]);
    let o = run_ok(c);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["certificates"], 2);
    assert_eq!(doc["key"], true);
    assert_eq!(doc["encrypted"], true);
    let (certs, _) = openssl_p12_contents(d, &out, "pw", &["-cacerts"]);
    assert_eq!(certs, vec![cert_der(d, &ca)]);
    let (certs, _) = openssl_p12_contents(d, &out, "pw", &["-clcerts"]);
    assert_eq!(certs, vec![cert_der(d, &leaf)]);

    // Without --chain, CA certificates in the --cert file go in, as with openssl.
    let out = d.join("bundle-nochain.p12");
    let mut c = pushca();
    c.args([
        "p12",
        "export",
        "--cert",
        s(&bundle),
        "--key",
        s(&key),
        "--passout",
        "pass:pw",
        "--out",
        s(&out),
    ]);
    run_ok(c);
    let (certs, _) = openssl_p12_contents(d, &out, "pw", &["-cacerts"]);
    assert_eq!(certs, vec![cert_der(d, &ca)]);
}

#[test]
fn export_refuses_a_key_that_does_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, _) = self_signed(d, "m1", "rsa:2048");
    let (_, key2) = self_signed(d, "m2", "rsa:2048");
    let out = d.join("x.p12");
    let o = pushca()
        .args([
            "p12",
            "export",
            "--cert",
            s(&cert),
            "--key",
            s(&key2),
            "--noenc",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("does not match") && err.contains("m1.crt.pem") && err.contains("m2.key.pem"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn export_takes_encrypted_and_traditional_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = self_signed(d, "enc", "rsa:2048");
    openssl(
        d,
        &[
            "rsa",
            "-in",
            s(&key),
            "-aes256",
            "-traditional",
            "-passout",
            "pass:kp",
            "-out",
            "legacy-enc.pem",
        ],
    );
    let out = d.join("e.p12");
    export(&[
        "--cert",
        s(&cert),
        "--key",
        s(&d.join("legacy-enc.pem")),
        "--passin",
        "pass:kp",
        "--passout",
        "pass:pw",
        "--out",
        s(&out),
    ]);
    let (_, k) = openssl_p12_contents(d, &out, "pw", &[]);
    assert_eq!(k, Some(key_der(d, &key, None)));
    // Encrypted key and no --passin, no terminal: clear error.
    let o = pushca()
        .args([
            "p12",
            "export",
            "--cert",
            s(&cert),
            "--key",
            s(&d.join("legacy-enc.pem")),
            "--noenc",
            "--out",
            s(&d.join("n.p12")),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--passin"));
}

#[test]
fn truststore_is_read_by_keytool_and_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, _) = self_signed(d, "root", "rsa:2048");
    let (b, _) = self_signed(d, "issuing", "ec");
    let entries: Vec<pushca::p12::CertEntry> = [&a, &b]
        .iter()
        .map(|p| pushca::p12::CertEntry {
            der: cert_der(d, p),
            friendly_name: None,
            local_key_id: None,
        })
        .collect();
    for (name, pass) in [("trust.p12", Some("changeit")), ("trust-nopass.p12", None)] {
        let secret = pass.map(pushca::secret::Secret::new);
        let bytes = pushca::p12::write_truststore(&entries, secret.as_ref()).unwrap();
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = Command::new("keytool")
            .args([
                "-list",
                "-keystore",
                s(&p),
                "-storetype",
                "PKCS12",
                "-storepass",
                pass.unwrap_or("changeit"),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "keytool: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("2 entries"), "{text}");
        assert_eq!(text.matches("trustedCertEntry").count(), 2, "{text}");
        assert!(
            text.contains("apple push services: com.example.root"),
            "{text}"
        );
        let (certs, key) = openssl_p12_contents(d, &p, pass.unwrap_or(""), &[]);
        assert_eq!(
            sorted(certs),
            sorted(entries.iter().map(|e| e.der.clone()).collect())
        );
        assert!(key.is_none());
    }
}
