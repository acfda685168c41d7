//! CSRs as real tools write them: SHA-1 signatures (Keychain Access before
//! macOS Ventura, fastlane before late 2023) accepted with a warning, the
//! older `NEW CERTIFICATE REQUEST` PEM label, and attribute sets that are
//! empty or absent.

use crate::common;

use std::path::{Path, PathBuf};

use common::{stderr, stdout_json, Env};

/// One DER TLV of `d` at `i`: (tag, content range, end).
fn tlv(d: &[u8], i: usize) -> (u8, std::ops::Range<usize>, usize) {
    let tag = d[i];
    let mut j = i + 2;
    let mut len = d[i + 1] as usize;
    if len & 0x80 != 0 {
        let n = len & 0x7f;
        len = d[j..j + n].iter().fold(0, |a, b| (a << 8) | *b as usize);
        j += n;
    }
    (tag, j..j + len, j + len)
}

fn enc(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if body.len() < 0x80 {
        out.push(body.len() as u8);
    } else {
        let b = body.len().to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        out.push(0x80 | (b.len() - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// Rebuilds an openssl DER CSR with its attributes field removed (`omit`) or
/// kept, re-signed with `key` using `digest` (`-sha256`, `-md5`, ...).
fn resign(
    env: &Env,
    csr_der: &Path,
    key: &str,
    omit_attributes: bool,
    digest: &str,
    out: &str,
) -> PathBuf {
    let d = std::fs::read(csr_der).unwrap();
    let (_, outer, _) = tlv(&d, 0);
    let (_, cri_body, cri_end) = tlv(&d, outer.start);
    let alg_start = cri_end;
    let (_, _, alg_end) = tlv(&d, alg_start);
    let mut parts = Vec::new();
    let mut i = cri_body.start;
    while i < cri_body.end {
        let (tag, _, end) = tlv(&d, i);
        if !(omit_attributes && tag == 0xa0) {
            parts.extend_from_slice(&d[i..end]);
        }
        i = end;
    }
    let cri = enc(0x30, &parts);
    std::fs::write(env.path("cri.der"), &cri).unwrap();
    let sig = env
        .openssl(&["dgst", digest, "-sign", key, "cri.der"])
        .stdout;
    let mut bits = vec![0u8];
    bits.extend(sig);
    let mut alg = d[alg_start..alg_end].to_vec();
    if digest == "-md5" {
        // sha256WithRSAEncryption (…1.11) -> md5WithRSAEncryption (…1.4)
        let pos = alg
            .windows(9)
            .position(|w| w == [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b])
            .unwrap();
        alg[pos + 8] = 0x04;
    }
    let body = [cri, alg, enc(0x03, &bits)].concat();
    let p = env.path(out);
    std::fs::write(&p, enc(0x30, &body)).unwrap();
    p
}

fn pubkey_of_csr(env: &Env, csr: &Path, der: bool) -> String {
    let mut args = vec!["req", "-in", csr.to_str().unwrap(), "-pubkey", "-noout"];
    if der {
        args.extend(["-inform", "DER"]);
    }
    String::from_utf8(env.openssl(&args).stdout).unwrap()
}

fn pubkey_of_cert(env: &Env, cert: &str) -> String {
    String::from_utf8(
        env.openssl(&["x509", "-in", cert, "-pubkey", "-noout"])
            .stdout,
    )
    .unwrap()
}

fn verify(env: &Env, cert: &str) {
    let root = env.ca_pem("root");
    let issuing = env.ca_pem("issuing");
    env.openssl(&[
        "verify",
        "-purpose",
        "sslclient",
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        issuing.to_str().unwrap(),
        cert,
    ]);
}

#[test]
fn sha1_signed_csrs_are_accepted_with_one_warning() {
    let env = Env::new();
    env.init_with_app();
    for (name, spec, sigalg) in [
        ("rsa", "rsa:2048", "sha256WithRSAEncryption"),
        ("p256", "ec:P-256", "ecdsa-with-SHA256"),
        ("p384", "ec:P-384", "ecdsa-with-SHA256"),
    ] {
        let csr = env.openssl_csr(&format!("sha1-{name}"), spec, &["-sha1"]);
        let out_name = format!("{name}.pem");
        let out = env
            .issue_cmd("development", &csr, &out_name)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        let warnings: Vec<_> = err.lines().filter(|l| l.starts_with("warning:")).collect();
        assert_eq!(warnings.len(), 1, "{err}");
        assert!(warnings[0].contains("SHA-1"), "{err}");
        verify(&env, &out_name);
        let text = String::from_utf8(
            env.openssl(&["x509", "-in", &out_name, "-noout", "-text"])
                .stdout,
        )
        .unwrap();
        let _ = sigalg;
        assert!(
            text.contains("Signature Algorithm: ecdsa-with-SHA256"),
            "the certificate is signed with SHA-256 by the EC CA: {text}"
        );
        assert_eq!(
            pubkey_of_cert(&env, &out_name),
            pubkey_of_csr(&env, &csr, false)
        );
        // JSON carries the warning.
        let out = env
            .issue_cmd("development", &csr, &format!("{name}-2.pem"))
            .arg("--json")
            .output()
            .unwrap();
        let doc = stdout_json(&out);
        let w = doc["warnings"].as_array().unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].as_str().unwrap().contains("SHA-1"));
    }
    // A SHA-1 CSR whose signature was tampered with is still refused.
    let csr = env.openssl_csr("sha1-bad", "rsa:2048", &["-sha1", "-outform", "DER"]);
    let mut der = std::fs::read(&csr).unwrap();
    let last = der.len() - 1;
    der[last] ^= 1;
    std::fs::write(env.path("sha1-bad.der"), &der).unwrap();
    let out = env
        .issue_cmd("development", &env.path("sha1-bad.der"), "bad.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("signature does not verify"),
        "{}",
        stderr(&out)
    );
    assert!(!env.path("bad.pem").exists());
}

#[test]
fn md5_signatures_are_refused() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("m", "rsa:2048", &["-outform", "DER"]);
    let md5 = resign(&env, &csr, "m.key", false, "-md5", "md5.der");
    let out = env
        .issue_cmd("development", &md5, "m.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("md5WithRSAEncryption"),
        "{}",
        stderr(&out)
    );
    assert!(!env.path("m.pem").exists());
}

#[test]
fn the_old_pem_label_and_absent_or_empty_attributes_are_read() {
    let env = Env::new();
    env.init_with_app();
    // NEW CERTIFICATE REQUEST (Netscape, old Java tools).
    let csr = env.openssl_csr("label", "ec:P-256", &[]);
    let text = std::fs::read_to_string(&csr)
        .unwrap()
        .replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    std::fs::write(env.path("label-new.csr"), text).unwrap();
    env.issue("development", &env.path("label-new.csr"), "label.pem")
        .success();
    assert_eq!(
        pubkey_of_cert(&env, "label.pem"),
        pubkey_of_csr(&env, &csr, false)
    );

    for (spec, key) in [("rsa:2048", "ra"), ("ec:P-256", "ea")] {
        let der = env.openssl_csr(key, spec, &["-outform", "DER"]);
        // openssl writes `[0]` with an empty SET: read as is.
        assert!(std::fs::read(&der)
            .unwrap()
            .windows(2)
            .any(|w| w == [0xa0, 0x00]));
        env.issue("development", &der, &format!("{key}-empty.pem"))
            .success();
        // Attributes left out entirely (openssl accepts it too).
        let omitted = resign(
            &env,
            &der,
            &format!("{key}.key"),
            true,
            "-sha256",
            &format!("{key}-omit.der"),
        );
        env.openssl(&[
            "req",
            "-inform",
            "DER",
            "-in",
            omitted.to_str().unwrap(),
            "-verify",
            "-noout",
        ]);
        let out_name = format!("{key}-omit.pem");
        env.issue("development", &omitted, &out_name).success();
        verify(&env, &out_name);
        assert_eq!(
            pubkey_of_cert(&env, &out_name),
            pubkey_of_csr(&env, &omitted, true)
        );
    }
}
