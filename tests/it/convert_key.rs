//! `pushca key decrypt` reads every key format openssl writes and gives the
//! same key as openssl's own decryption.

use crate::common::convert as common;

use common::*;
use std::path::Path;

fn decrypt(
    d: &Path,
    input: &Path,
    pass: Option<&str>,
    traditional: bool,
    out: &str,
) -> std::path::PathBuf {
    let out = d.join(out);
    let mut c = pushca();
    c.args(["key", "decrypt", "--in", s(input), "--out", s(&out)]);
    let passin = pass.map(|p| format!("pass:{p}"));
    if let Some(p) = &passin {
        c.args(["--passin", p]);
    }
    if traditional {
        c.arg("--traditional");
    }
    run_ok(c);
    assert_eq!(mode(&out), 0o600);
    out
}

#[test]
fn legacy_encrypted_pem_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ],
    );
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "ec.pem",
        ],
    );
    let want_rsa = key_der(d, &d.join("rsa.pem"), None);
    let want_ec = key_der(d, &d.join("ec.pem"), None);
    for cipher in ["-des3", "-aes128", "-aes192", "-aes256"] {
        for (kind, want) in [("rsa", &want_rsa), ("ec", &want_ec)] {
            let enc = format!("{kind}{cipher}.pem");
            let input = format!("{kind}.pem");
            let mut args = vec![
                kind,
                "-in",
                &input,
                cipher,
                "-passout",
                "pass:päss",
                "-out",
                &enc,
            ];
            if kind == "rsa" {
                args.push("-traditional"); // `openssl ec` writes the traditional format anyway
            }
            openssl(d, &args);
            let text = std::fs::read_to_string(d.join(&enc)).unwrap();
            assert!(text.contains("Proc-Type: 4,ENCRYPTED"), "{text}");
            let out = decrypt(d, &d.join(&enc), Some("päss"), false, &format!("{enc}.out"));
            assert!(std::fs::read_to_string(&out)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----"));
            assert_eq!(&key_der(d, &out, None), want, "{enc}");
            assert_eq!(key_der(d, &d.join(&enc), Some("päss")), *want);
        }
    }
    // DES-CBC needs openssl's legacy provider to write; skip when unavailable.
    let o = openssl_status(
        d,
        &[
            "rsa",
            "-in",
            "rsa.pem",
            "-des",
            "-traditional",
            "-passout",
            "pass:x",
            "-out",
            "rsa-des.pem",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
    );
    if o.status.success() {
        let out = decrypt(d, &d.join("rsa-des.pem"), Some("x"), false, "rsa-des.out");
        assert_eq!(key_der(d, &out, None), want_rsa);
        // PKCS#5 v1 (PBES1) schemes, also legacy-provider only in OpenSSL 3.
        for v1 in ["PBE-MD5-DES", "PBE-SHA1-DES"] {
            let f = format!("{v1}.pem");
            openssl(
                d,
                &[
                    "pkcs8",
                    "-topk8",
                    "-in",
                    "rsa.pem",
                    "-v1",
                    v1,
                    "-passout",
                    "pass:x",
                    "-out",
                    &f,
                    "-provider",
                    "legacy",
                    "-provider",
                    "default",
                ],
            );
            let out = decrypt(d, &d.join(&f), Some("x"), false, &format!("{f}.out"));
            assert_eq!(key_der(d, &out, None), want_rsa, "{v1}");
        }
    }
}

#[test]
fn encrypted_pkcs8_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
    );
    let want = key_der(d, &d.join("k.pem"), None);
    let schemes: &[(&str, &[&str])] = &[
        ("pbes2-aes256", &["-v2", "aes-256-cbc"]),
        (
            "pbes2-sha1prf",
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
        ),
        ("pbes2-des3", &["-v2", "des3"]),
        ("scrypt", &["-scrypt", "-scrypt_N", "1024"]),
        ("pbe-sha1-3des", &["-v1", "PBE-SHA1-3DES"]),
    ];
    for (name, args) in schemes {
        for der in [false, true] {
            let out = format!("{name}-{der}.key");
            let mut a = vec![
                "pkcs8", "-topk8", "-in", "k.pem", "-passout", "pass:pw", "-out", &out,
            ];
            if der {
                a.extend(["-outform", "DER"]);
            }
            a.extend_from_slice(args);
            openssl(d, &a);
            let got = decrypt(d, &d.join(&out), Some("pw"), false, &format!("{out}.dec"));
            assert_eq!(key_der(d, &got, None), want, "{name} der={der}");
        }
    }
    // Wrong passphrase: exit 1, says so, writes nothing.
    let out = d.join("never.pem");
    let o = pushca()
        .args([
            "key",
            "decrypt",
            "--in",
            s(&d.join("scrypt-false.key")),
            "--passin",
            "pass:nope",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong passphrase for"));
    assert!(!out.exists());
    // Encrypted, no --passin, no terminal: a clear error naming the flag.
    let o = pushca()
        .args([
            "key",
            "decrypt",
            "--in",
            s(&d.join("scrypt-false.key")),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--passin"));
    assert!(!out.exists());
}

#[test]
fn traditional_and_der_inputs_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, &["genrsa", "-traditional", "-out", "rsa1.pem", "2048"]);
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-out",
            "ec1.pem",
        ],
    );
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "rsa1.pem",
            "-outform",
            "DER",
            "-traditional",
            "-out",
            "rsa1.der",
        ],
    );
    openssl(
        d,
        &["ec", "-in", "ec1.pem", "-outform", "DER", "-out", "ec1.der"],
    );
    openssl(
        d,
        &[
            "pkey",
            "-in",
            "ec1.pem",
            "-outform",
            "DER",
            "-out",
            "ec1.p8.der",
        ],
    );
    for (input, kind) in [
        ("rsa1.pem", "rsa"),
        ("ec1.pem", "ec"),
        ("rsa1.der", "rsa"),
        ("ec1.der", "ec"),
        ("ec1.p8.der", "ec"),
    ] {
        let inp = d.join(input);
        // Unencrypted input needs no --passin.
        let p8 = decrypt(d, &inp, None, false, &format!("{input}.p8.pem"));
        // Byte-identical to openssl's PKCS#8 of the same key.
        let ours = pushca::pem::blocks(&std::fs::read(&p8).unwrap())
            .unwrap()
            .remove(0)
            .der
            .to_vec();
        let theirs = openssl(
            d,
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", input, "-outform", "DER",
            ],
        )
        .stdout;
        assert_eq!(ours, theirs, "{input}");
        // --traditional equals openssl rsa|ec's traditional DER.
        let trad = decrypt(d, &inp, None, true, &format!("{input}.trad.pem"));
        let text = std::fs::read_to_string(&trad).unwrap();
        let label = if kind == "rsa" {
            "RSA PRIVATE KEY"
        } else {
            "EC PRIVATE KEY"
        };
        assert!(
            text.starts_with(&format!("-----BEGIN {label}-----")),
            "{text}"
        );
        let ours = pushca::pem::blocks(text.as_bytes())
            .unwrap()
            .remove(0)
            .der
            .to_vec();
        let mut args = vec![kind, "-in", input, "-outform", "DER"];
        if kind == "rsa" {
            args.push("-traditional");
        }
        let theirs = openssl(d, &args).stdout;
        assert_eq!(ours, theirs, "{input} traditional");
    }
    // --json output
    let o = run_ok({
        let mut c = pushca();
        c.args([
            "--json",
            "key",
            "decrypt",
            "--in",
            s(&d.join("ec1.pem")),
            "--out",
            s(&d.join("j.pem")),
        ]);
        c
    });
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["input_format"], "sec1");
    assert_eq!(doc["encrypted"], false);
    assert_eq!(doc["algorithm"], "ec-p256");
}

#[test]
fn not_a_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, _) = self_signed(d, "nk", "ec");
    std::fs::write(d.join("junk.key"), b"\x30\x82\xff\xff garbage").unwrap();
    for input in [cert.clone(), d.join("junk.key")] {
        let out = d.join("out.pem");
        let o = pushca()
            .args(["key", "decrypt", "--in", s(&input), "--out", s(&out)])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.lines()
                .next()
                .unwrap()
                .contains(input.file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
        assert!(!out.exists());
    }
}
