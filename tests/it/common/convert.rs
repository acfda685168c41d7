//! Helpers shared by the conversion tests: run openssl / pushca, make keys
//! and certificates on the fly, extract DER to compare.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::prelude::*;

pub fn pushca() -> Command {
    let mut c = Command::cargo_bin("pushca").unwrap();
    c.env_remove("PUSHCA_HOME");
    c
}

pub fn run_ok(mut c: Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        c,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("openssl");
    c.args(args).current_dir(dir);
    run_ok(c)
}

/// `openssl ARGS` (must succeed), its stdout as text.
pub fn openssl_text(dir: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&openssl(dir, args).stdout).into_owned()
}

pub fn openssl_status(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A self-signed certificate and its unencrypted key: (cert.pem, key.pem).
pub fn self_signed(dir: &Path, name: &str, newkey: &str) -> (PathBuf, PathBuf) {
    let cert = format!("{name}.crt.pem");
    let key = format!("{name}.key.pem");
    let mut args = vec!["req", "-x509", "-newkey", newkey];
    let curve;
    if newkey == "ec" {
        curve = "ec_paramgen_curve:P-256".to_string();
        args.extend(["-pkeyopt", &curve]);
    }
    let subj =
        format!("/CN=Apple Push Services: com.example.{name}/UID=com.example.{name}/O=Test/C=US");
    args.extend([
        "-nodes", "-keyout", &key, "-out", &cert, "-days", "30", "-subj", &subj,
    ]);
    openssl(dir, &args);
    (dir.join(cert), dir.join(key))
}

/// A CA certificate + key and a leaf issued by it: (leaf cert, leaf key, ca cert).
pub fn issued(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, ca_key) = self_signed(dir, &format!("{name}-ca"), "rsa:2048");
    let key = format!("{name}.key.pem");
    let csr = format!("{name}.csr");
    let cert = format!("{name}.crt.pem");
    let subj = format!("/CN=Apple Push Services: com.example.{name}/UID=com.example.{name}");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca.to_str().unwrap(),
            "-CAkey",
            ca_key.to_str().unwrap(),
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "30",
        ],
    );
    (dir.join(cert), dir.join(key), ca)
}

/// Every certificate (DER) in a PEM file, in order.
pub fn certs_in(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    pushca::pem::blocks(&bytes)
        .unwrap()
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.der.to_vec())
        .collect()
}

/// DER of the certificate in a PEM or DER file, as openssl sees it.
pub fn cert_der(dir: &Path, path: &Path) -> Vec<u8> {
    openssl(
        dir,
        &["x509", "-in", path.to_str().unwrap(), "-outform", "DER"],
    )
    .stdout
}

/// PKCS#8 DER of the (first) key in a file, as openssl sees it
/// (`openssl pkcs8 -topk8 -nocrypt -outform DER`).
pub fn key_der(dir: &Path, path: &Path, pass: Option<&str>) -> Vec<u8> {
    let passin = pass.map(|p| format!("pass:{p}"));
    let mut args = vec![
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        path.to_str().unwrap(),
        "-outform",
        "DER",
    ];
    if let Some(p) = &passin {
        args.extend(["-passin", p.as_str()]);
    }
    let out = openssl(dir, &args).stdout;
    assert!(!out.is_empty());
    out
}

/// What openssl itself extracts from a .p12: (certificates, key DER if any).
pub fn openssl_p12_contents(
    dir: &Path,
    p12: &Path,
    pass: &str,
    extra: &[&str],
) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    let out = dir.join("openssl-oracle.pem");
    let passin = format!("pass:{pass}");
    let mut args = vec![
        "pkcs12",
        "-in",
        p12.to_str().unwrap(),
        "-nodes",
        "-passin",
        &passin,
        "-out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
    let certs = certs_in(&out);
    let text = std::fs::read_to_string(&out).unwrap();
    let key = text
        .contains("PRIVATE KEY")
        .then(|| key_der(dir, &out, None));
    (certs, key)
}

pub fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
