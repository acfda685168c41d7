//! Push certificate issuance checked against the `openssl` CLI: CSRs made by
//! openssl and by `pushca csr new`, chains verified by `openssl verify`, and the
//! certificate contents checked byte by byte.

use crate::common;

use std::collections::HashSet;
use std::path::Path;

use common::{cert_der, stderr, stdout_json, Env, CA_PASS};
use x509_parser::prelude::*;

const OID_UID: &str = "0.9.2342.19200300.100.1.1";

/// The test's own reading of the topics extension (independent of pushca's):
/// returns (topic, type) pairs.
fn decode_topics(v: &[u8]) -> Vec<(String, String)> {
    fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = b[0];
        let (len, hdr) = if b[1] < 0x80 {
            (b[1] as usize, 2)
        } else {
            let n = (b[1] & 0x7f) as usize;
            (
                b[2..2 + n].iter().fold(0usize, |a, x| a << 8 | *x as usize),
                2 + n,
            )
        };
        (tag, &b[hdr..hdr + len], &b[hdr + len..])
    }
    let (tag, mut body, rest) = tlv(v);
    assert_eq!(tag, 0x30, "topics is a SEQUENCE");
    assert!(rest.is_empty());
    let mut out = Vec::new();
    while !body.is_empty() {
        let (t1, topic, r1) = tlv(body);
        assert_eq!(t1, 0x0c, "topic is a UTF8String");
        let (t2, types, r2) = tlv(r1);
        assert_eq!(t2, 0x30, "topic type list is a SEQUENCE");
        let (t3, ty, r3) = tlv(types);
        assert_eq!(t3, 0x0c, "topic type is a UTF8String");
        assert!(r3.is_empty(), "one type per topic");
        out.push((
            String::from_utf8(topic.to_vec()).unwrap(),
            String::from_utf8(ty.to_vec()).unwrap(),
        ));
        body = r2;
    }
    out
}

fn verify_chain(env: &Env, cert: &str) {
    let root = env.ca_pem("root");
    let issuing = env.ca_pem("issuing");
    let out = env.openssl_raw(&[
        "verify",
        "-purpose",
        "sslclient",
        "-x509_strict",
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        issuing.to_str().unwrap(),
        cert,
    ]);
    assert!(
        out.status.success(),
        "openssl verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

/// Checks everything PRODUCT.md says about a push certificate.
fn assert_push_certificate(env: &Env, path: &Path, envs: &[&str], csr: &Path) {
    let der = cert_der(path);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();

    // Subject, in this DER order.
    let attrs: Vec<(String, String)> = cert
        .subject()
        .iter_rdn()
        .map(|rdn| {
            assert_eq!(rdn.iter().count(), 1, "one attribute per RDN");
            let a = rdn.iter().next().unwrap();
            (
                a.attr_type().to_id_string(),
                a.as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        (OID_UID, "com.example.app"),
        ("2.5.4.3", "Apple Push Services: com.example.app"),
        ("2.5.4.11", "ABCDE12345"),
        ("2.5.4.10", "Example Corp"),
        ("2.5.4.6", "DE"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(attrs, expected);

    // Serial: positive, >= 64 bits, <= 20 octets.
    let serial = cert.raw_serial();
    assert!(
        serial.len() <= 20 && serial.len() * 8 >= 64,
        "serial length {}",
        serial.len()
    );
    assert!(serial[0] & 0x80 == 0, "serial is positive");

    // Validity: 13 months from now.
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    let now = ::time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((nb - now).abs() < 120, "not_before is now");
    let days = (na - nb) / 86_400;
    assert!((393..=397).contains(&days), "13 months, got {days} days");

    // Exactly these extensions, with these criticalities and values.
    let mut seen = HashSet::new();
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        seen.insert(oid.clone());
        match oid.as_str() {
            "2.5.29.15" => {
                assert!(ext.critical, "key usage is critical");
                let ParsedExtension::KeyUsage(ku) = ext.parsed_extension() else {
                    panic!()
                };
                assert!(ku.digital_signature());
                assert_eq!(ku.flags, 1, "digitalSignature only");
            }
            "2.5.29.37" => {
                assert!(!ext.critical);
                let ParsedExtension::ExtendedKeyUsage(eku) = ext.parsed_extension() else {
                    panic!()
                };
                assert!(eku.client_auth && !eku.server_auth && !eku.any && eku.other.is_empty());
                assert!(
                    !eku.code_signing
                        && !eku.email_protection
                        && !eku.ocsp_signing
                        && !eku.time_stamping
                );
            }
            "2.5.29.19" => {
                assert!(ext.critical);
                let ParsedExtension::BasicConstraints(bc) = ext.parsed_extension() else {
                    panic!()
                };
                assert!(!bc.ca);
            }
            "2.5.29.14" | "2.5.29.35" => assert!(!ext.critical),
            "1.2.840.113635.100.6.3.1" | "1.2.840.113635.100.6.3.2" => {
                assert!(!ext.critical);
                assert_eq!(ext.value, [0x05, 0x00], "DER NULL");
            }
            "1.2.840.113635.100.6.3.6" => {
                assert!(!ext.critical);
                let topics = decode_topics(ext.value);
                let want: Vec<(String, String)> = [
                    ("com.example.app", "app"),
                    ("com.example.app.voip", "voip"),
                    ("com.example.app.complication", "complication"),
                ]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
                assert_eq!(topics, want);
            }
            other => panic!("unexpected extension {other}"),
        }
    }
    let mut want: HashSet<String> = [
        "2.5.29.15",
        "2.5.29.37",
        "2.5.29.19",
        "2.5.29.14",
        "2.5.29.35",
        "1.2.840.113635.100.6.3.6",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for e in envs {
        want.insert(match *e {
            "development" => "1.2.840.113635.100.6.3.1".into(),
            _ => "1.2.840.113635.100.6.3.2".into(),
        });
    }
    assert_eq!(seen, want);

    // AKI = the issuing CA's SKI.
    let issuing = cert_der(&env.ca_pem("issuing"));
    let (_, ica) = X509Certificate::from_der(&issuing).unwrap();
    let ski = ica
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .unwrap();
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(aki, ski);
    assert_eq!(cert.issuer().as_raw(), ica.subject().as_raw());

    // The public key is exactly the CSR's.
    let csr_der = env
        .openssl(&["req", "-in", csr.to_str().unwrap(), "-outform", "DER"])
        .stdout;
    let (_, req) = X509CertificationRequest::from_der(&csr_der).unwrap();
    assert_eq!(
        cert.public_key().raw,
        req.certification_request_info.subject_pki.raw
    );
}

#[test]
fn openssl_csrs_rsa_p256_p384_issue_verifiable_push_certificates() {
    let env = Env::new();
    env.init_with_app();
    for (name, spec, cert_env, envs) in [
        ("rsa", "rsa:2048", "development", vec!["development"]),
        ("p256", "ec:P-256", "production", vec!["production"]),
        (
            "p384",
            "ec:P-384",
            "universal",
            vec!["development", "production"],
        ),
    ] {
        // openssl signs EC CSRs with SHA-256 by default, P-384 included.
        let csr = env.openssl_csr(name, spec, &["-sha256"]);
        let out = format!("{name}.pem");
        env.issue(cert_env, &csr, &out).success();
        verify_chain(&env, &out);
        assert_push_certificate(&env, &env.path(&out), &envs, &csr);
        // The certificate and the requester's key belong together.
        let cert_pub = env
            .openssl(&["x509", "-in", &out, "-noout", "-pubkey"])
            .stdout;
        let key_pub = env
            .openssl(&["pkey", "-in", &format!("{name}.key"), "-pubout"])
            .stdout;
        assert_eq!(cert_pub, key_pub);
    }
}

#[test]
fn pushca_csr_new_requests_issue_and_verify() {
    let env = Env::new();
    env.init_with_app();
    for kt in ["rsa-2048", "ec-p256", "ec-p384"] {
        let key = format!("{kt}.key");
        let csr = format!("{kt}.csr");
        env.cmd()
            .args([
                "csr",
                "new",
                "--key-type",
                kt,
                "--key-out",
                &key,
                "--out",
                &csr,
            ])
            .args(["--passout", "pass:key-pass", "--email", "dev@example.com"])
            .assert()
            .success();
        let mode = std::fs::metadata(env.path(&key)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        assert!(std::fs::read_to_string(env.path(&key))
            .unwrap()
            .contains("ENCRYPTED PRIVATE KEY"));
        env.openssl(&["req", "-in", &csr, "-noout", "-verify"]);
        let out = format!("{kt}.pem");
        env.issue("production", &env.path(&csr), &out).success();
        verify_chain(&env, &out);
        assert_push_certificate(&env, &env.path(&out), &["production"], &env.path(&csr));
        let cert_pub = env
            .openssl(&["x509", "-in", &out, "-noout", "-pubkey"])
            .stdout;
        let key_pub = env
            .openssl(&["pkey", "-in", &key, "-passin", "pass:key-pass", "-pubout"])
            .stdout;
        assert_eq!(cert_pub, key_pub);
    }
    // --noenc writes a plain PKCS#8 key.
    env.cmd()
        .args([
            "csr",
            "new",
            "--key-type",
            "ec-p256",
            "--key-out",
            "plain.key",
            "--out",
            "plain.csr",
            "--noenc",
        ])
        .assert()
        .success();
    env.openssl(&["pkey", "-in", "plain.key", "-noout"]);
    // Neither --passout nor --noenc and no terminal to ask on: a clear error
    // naming both flags, nothing written.
    let out = env
        .cmd()
        .args(["csr", "new", "--key-out", "x.key", "--out", "x.csr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--passout") && err.contains("--noenc"),
        "{err}"
    );
    assert!(!env.path("x.key").exists());
    // An empty --passout would leave the key unprotected: refused, pointing to --noenc.
    let out = env
        .cmd()
        .args([
            "--json",
            "csr",
            "new",
            "--key-out",
            "x.key",
            "--out",
            "x.csr",
        ])
        .args(["--passout", "pass:"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "password");
    assert!(
        err["error"]["hint"].as_str().unwrap().contains("--noenc"),
        "{err}"
    );
    assert!(!env.path("x.key").exists() && !env.path("x.csr").exists());
}

#[test]
fn ca_key_types_rsa_and_p384_sign_verifiable_chains() {
    for kt in ["rsa-2048", "ec-p384"] {
        let env = Env::new();
        env.init_with(kt);
        env.cmd()
            .args(["app", "create", "com.example.app", "--push"])
            .assert()
            .success();
        let csr = env.openssl_csr("k", "ec:P-256", &[]);
        env.issue("development", &csr, "c.pem").success();
        verify_chain(&env, "c.pem");
        let text = String::from_utf8(
            env.openssl(&["x509", "-in", "c.pem", "-noout", "-text"])
                .stdout,
        )
        .unwrap();
        let want = if kt == "rsa-2048" {
            "sha256WithRSAEncryption"
        } else {
            "ecdsa-with-SHA384"
        };
        assert!(text.contains(want), "{kt}: {text}");
        let key = std::fs::read_to_string(env.home().join("ca/issuing.key")).unwrap();
        assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        // openssl decrypts the CA key with the CA passphrase (PBES2).
        env.openssl(&[
            "pkey",
            "-in",
            env.home().join("ca/issuing.key").to_str().unwrap(),
            "-passin",
            &format!("pass:{CA_PASS}"),
            "-noout",
        ]);
    }
}

#[test]
fn csr_asking_for_ca_powers_still_yields_a_plain_push_certificate() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr(
        "evil",
        "ec:P-256",
        &[
            "-subj",
            "/CN=Evil Root CA/O=Apple Inc./C=US",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-addext",
            "extendedKeyUsage=serverAuth,codeSigning",
            "-addext",
            "subjectAltName=DNS:evil.example,DNS:*.apple.com",
            "-addext",
            "1.2.840.113635.100.6.3.6=DER:3000",
        ],
    );
    env.issue("development", &csr, "c.pem").success();
    assert_push_certificate(&env, &env.path("c.pem"), &["development"], &csr);
    let text = String::from_utf8(
        env.openssl(&["x509", "-in", "c.pem", "-noout", "-text"])
            .stdout,
    )
    .unwrap();
    assert!(!text.contains("evil") && !text.contains("Evil") && !text.contains("CA:TRUE"));
}

fn assert_refused(env: &Env, csr: &Path, needle: &str) {
    let out = env
        .issue_cmd("production", csr, "refused.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    assert!(!env.path("refused.pem").exists(), "nothing written");
}

fn store_count(env: &Env) -> usize {
    let out = env.cmd().args(["cert", "list", "--json"]).output().unwrap();
    stdout_json(&out)["certificates"].as_array().unwrap().len()
}

#[test]
fn tampered_and_weak_csrs_are_refused_with_nothing_written() {
    let env = Env::new();
    env.init_with_app();

    // Tampered: flip a bit in the signature, and separately in the subject.
    let good = env.openssl_csr("good", "ec:P-256", &["-outform", "DER"]);
    let der = std::fs::read(&good).unwrap();
    let mut sig = der.clone();
    let last = sig.len() - 1;
    sig[last] ^= 0x01;
    std::fs::write(env.path("sig.der"), &sig).unwrap();
    assert_refused(&env, &env.path("sig.der"), "signature does not verify");
    let mut subj = der.clone();
    let pos = subj.windows(9).position(|w| w == b"Requester").unwrap();
    subj[pos] = b'X';
    std::fs::write(env.path("subj.der"), &subj).unwrap();
    assert_refused(&env, &env.path("subj.der"), "signature does not verify");

    // Weak or unsupported keys and hashes.
    let rsa1024 = env.openssl_csr("rsa1024", "rsa:1024", &[]);
    assert_refused(&env, &rsa1024, "RSA-1024");
    env.openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-pkeyopt",
        "rsa_keygen_pubexp:3",
        "-out",
        "e3.key",
    ]);
    env.openssl(&[
        "req", "-new", "-key", "e3.key", "-subj", "/CN=e3", "-out", "e3.csr",
    ]);
    assert_refused(&env, &env.path("e3.csr"), "exponent");
    let md5 = env.openssl_csr("md5", "rsa:2048", &["-md5"]);
    assert_refused(&env, &md5, "md5WithRSAEncryption");
    let p521 = env.openssl_csr("p521", "ec:P-521", &[]);
    assert_refused(&env, &p521, "curve");
    let k1 = env.openssl_csr("k1", "ec:secp256k1", &[]);
    assert_refused(&env, &k1, "curve");
    env.openssl(&["genpkey", "-algorithm", "ed25519", "-out", "ed.key"]);
    env.openssl(&[
        "req", "-new", "-key", "ed.key", "-subj", "/CN=ed", "-out", "ed.csr",
    ]);
    assert_refused(&env, &env.path("ed.csr"), "not accepted");

    // Not a CSR at all.
    std::fs::write(env.path("junk.csr"), b"hello world").unwrap();
    assert_refused(&env, &env.path("junk.csr"), "junk.csr");
    env.openssl(&[
        "req", "-x509", "-new", "-key", "good.key", "-subj", "/CN=x", "-out", "cert.pem",
    ]);
    assert_refused(&env, &env.path("cert.pem"), "not a CERTIFICATE REQUEST");
    assert_refused(&env, &env.path("missing.csr"), "no such file");

    assert_eq!(store_count(&env), 0, "nothing recorded");
}

#[test]
fn a_batch_with_one_bad_csr_issues_nothing() {
    let env = Env::new();
    env.init_with_app();
    let a = env.openssl_csr("a", "ec:P-256", &[]);
    let b = env.openssl_csr("b", "ec:P-256", &[]);
    let bad = env.openssl_csr("bad", "rsa:1024", &[]);
    std::fs::create_dir(env.path("out")).unwrap();
    let out = env
        .cert_issue("production", &[&a, &b, &bad])
        .args(["--out-dir", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.csr"));
    assert_eq!(std::fs::read_dir(env.path("out")).unwrap().count(), 0);
    assert_eq!(store_count(&env), 0);

    // The good ones as a batch, DER output.
    let out = env
        .cert_issue("production", &[&a, &b])
        .args(["--json", "--format", "der", "--out-dir", "out"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["certificates"].as_array().unwrap().len(), 2);
    for name in ["a.cer", "b.cer"] {
        env.openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            &format!("out/{name}"),
            "-noout",
        ]);
    }
    assert_eq!(store_count(&env), 2);
}

#[test]
fn wrong_passphrase_and_unusable_apps_are_refused() {
    let env = Env::new();
    env.init_with_app();
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
    let csr = env.openssl_csr("k", "ec:P-256", &[]);

    let run = |app: &str, pass: &str| {
        env.cmd()
            .args([
                "cert",
                "issue",
                "--app",
                app,
                "--env",
                "production",
                "--csr",
            ])
            .arg(&csr)
            .args(["--out", "c.pem", "--ca-passin", pass])
            .output()
            .unwrap()
    };
    let out = run("com.example.app", "pass:not-the-passphrase");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("CA passphrase is wrong"),
        "{}",
        stderr(&out)
    );
    for (app, needle) in [
        ("com.example.nopush", "push capability"),
        ("com.example.*", "wildcard"),
        ("com.example.off", "disabled"),
        ("com.example.unknown", "no App ID"),
    ] {
        let out = run(app, &format!("pass:{CA_PASS}"));
        assert_eq!(out.status.code(), Some(1), "{app}");
        assert!(stderr(&out).contains(needle), "{app}: {}", stderr(&out));
    }
    assert!(!env.path("c.pem").exists());
    assert_eq!(store_count(&env), 0);
}

#[test]
fn concurrent_issuance_gives_distinct_serials_and_a_consistent_store() {
    let env = Env::new();
    env.init_with_app();
    let n_proc = 4;
    let per = 15;
    // One key, many CSRs (distinct subjects): fast to make.
    env.openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "k.pem",
    ]);
    let mut children = Vec::new();
    for p in 0..n_proc {
        let dir = format!("out{p}");
        std::fs::create_dir(env.path(&dir)).unwrap();
        let mut args = vec![
            "--home".to_string(),
            env.home().to_string_lossy().into_owned(),
            "cert".into(),
            "issue".into(),
            "--app".into(),
            "com.example.app".into(),
            "--env".into(),
            "production".into(),
            "--out-dir".into(),
            dir.clone(),
            "--ca-passin".into(),
            format!("pass:{CA_PASS}"),
        ];
        for i in 0..per {
            let csr = format!("c{p}-{i}.csr");
            env.openssl(&[
                "req",
                "-new",
                "-key",
                "k.pem",
                "-subj",
                &format!("/CN={p}-{i}"),
                "-out",
                &csr,
            ]);
            args.extend(["--csr".to_string(), csr]);
        }
        children.push(
            std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"))
                .args(&args)
                .current_dir(env.dir.path())
                .env_remove("PUSHCA_CA_PASSPHRASE")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = env.cmd().args(["cert", "list", "--json"]).output().unwrap();
    let doc = stdout_json(&out);
    let certs = doc["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), n_proc * per);
    let serials: HashSet<_> = certs
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(serials.len(), n_proc * per, "distinct serials in the store");
    let mut file_serials = HashSet::new();
    for p in 0..n_proc {
        for e in std::fs::read_dir(env.path(&format!("out{p}"))).unwrap() {
            let der = cert_der(&e.unwrap().path());
            let (_, c) = X509Certificate::from_der(&der).unwrap();
            file_serials.insert(hex::encode(c.raw_serial()));
        }
    }
    assert_eq!(
        file_serials, serials,
        "every written certificate is in the store"
    );
}
