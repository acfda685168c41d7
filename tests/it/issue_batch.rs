//! Big `cert issue` batches: CSRs checked and certificates signed on all
//! cores, in `--csr` order, one store transaction; `--out-bundle`.

use crate::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use common::{cert_der, stderr, stdout_json, Env};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::FromDer;

/// `n` CSRs, each with its own P-256 key, as DER files `c<i>.csr`; returns
/// the paths and each CSR's SubjectPublicKeyInfo.
fn csrs(env: &Env, n: usize) -> (Vec<PathBuf>, Vec<Vec<u8>>) {
    let mut paths = Vec::new();
    let mut spkis = Vec::new();
    for i in 0..n {
        let p = env.openssl_csr(&format!("c{i}"), "ec:P-256", &["-outform", "DER"]);
        let der = std::fs::read(&p).unwrap();
        let (_, req) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        spkis.push(req.certification_request_info.subject_pki.raw.to_vec());
        paths.push(p);
    }
    (paths, spkis)
}

fn refs(paths: &[PathBuf]) -> Vec<&Path> {
    paths.iter().map(PathBuf::as_path).collect()
}

/// Serial (lowercase hex, as pushca prints it) and SPKI of a certificate.
fn serial_and_key(der: &[u8]) -> (String, Vec<u8>) {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    let raw = c.raw_serial();
    let first = raw.iter().position(|b| *b != 0).unwrap_or(0);
    (hex::encode(&raw[first..]), c.public_key().raw.to_vec())
}

fn bundle_certs(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.unwrap().to_vec())
        .collect();
    // Nothing but CERTIFICATE blocks.
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.matches("-----BEGIN ").count(), certs.len());
    assert_eq!(
        text.matches("-----BEGIN CERTIFICATE-----").count(),
        certs.len()
    );
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));
    certs
}

fn store_serials(env: &Env) -> Vec<String> {
    let out = env.cmd().args(["cert", "list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout_json(&out)["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect()
}

/// `openssl verify` of every file against the home's CA.
fn verify_all(env: &Env, files: &[PathBuf]) {
    let root = env.ca_pem("root");
    let issuing = env.ca_pem("issuing");
    let mut args = vec![
        "verify".to_string(),
        "-purpose".into(),
        "sslclient".into(),
        "-x509_strict".into(),
        "-CAfile".into(),
        root.to_string_lossy().into_owned(),
        "-untrusted".into(),
        issuing.to_string_lossy().into_owned(),
    ];
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.openssl(&refs);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches(": OK").count(), files.len(), "{text}");
}

#[test]
fn a_batch_of_40_keeps_csr_order_with_distinct_serials_in_files_bundle_and_store() {
    let env = Env::new();
    env.init_with_app();
    let n = 40;
    let (paths, spkis) = csrs(&env, n);
    let out = env
        .cert_issue("production", &refs(&paths))
        .args(["--json", "--out-dir", "out", "--out-bundle", "bundle.pem"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["bundle"], "bundle.pem");
    let items = doc["certificates"].as_array().unwrap();
    assert_eq!(items.len(), n);
    let bundle = bundle_certs(&env.path("bundle.pem"));
    assert_eq!(bundle.len(), n, "one certificate per CSR in the bundle");
    let mut serials = Vec::new();
    for (i, item) in items.iter().enumerate() {
        // JSON, files and bundle in --csr order: certificate i carries CSR i's key.
        assert_eq!(item["out"], format!("out/c{i}.pem"));
        let file = cert_der(&env.path(&format!("out/c{i}.pem")));
        assert_eq!(file, bundle[i], "bundle entry {i} is out/c{i}.pem");
        let (serial, key) = serial_and_key(&bundle[i]);
        assert_eq!(key, spkis[i], "certificate {i} holds the key of c{i}.csr");
        assert_eq!(item["serial"], serial.as_str(), "JSON serial of entry {i}");
        assert_eq!(item["sha256"], hex::encode(ring_sha256(&bundle[i])));
        serials.push(serial);
    }
    let distinct: HashSet<&String> = serials.iter().collect();
    assert_eq!(distinct.len(), n, "distinct serials");
    let mut stored = store_serials(&env);
    stored.sort();
    serials.sort();
    assert_eq!(stored, serials, "every certificate is in the store, once");

    // Every certificate of the bundle verifies against the CA.
    std::fs::create_dir(env.path("split")).unwrap();
    let split: Vec<PathBuf> = bundle
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let p = env.path(&format!("split/{i}.pem"));
            std::fs::write(&p, pushca::pem::encode("CERTIFICATE", der)).unwrap();
            p
        })
        .collect();
    verify_all(&env, &split);

    // A second batch without a bundle: "bundle": null, and the serials of
    // both batches are all distinct.
    let out = env
        .cert_issue("production", &refs(&paths))
        .args(["--json", "--out-dir", "out2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert!(doc["bundle"].is_null());
    let all: HashSet<String> = store_serials(&env).into_iter().collect();
    assert_eq!(all.len(), 2 * n);
}

fn ring_sha256(der: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .to_vec()
}

#[test]
fn a_bad_csr_in_a_batch_fails_it_whole_and_the_first_one_is_named() {
    let env = Env::new();
    env.init_with_app();
    let n = 40;
    let (mut paths, _) = csrs(&env, n);
    // Not a CSR, at position 7; a weak key later, at position 31 (another
    // thread's chunk on a machine with two or more cores).
    std::fs::write(env.path("junk.csr"), b"this is not a CSR\n").unwrap();
    paths[7] = env.path("junk.csr");
    paths[31] = env.openssl_csr("weak", "rsa:1024", &[]);
    let run = |paths: &[PathBuf]| {
        env.cert_issue("production", &refs(paths))
            .args(["--out-dir", "out", "--out-bundle", "bundle.pem"])
            .output()
            .unwrap()
    };
    let out = run(&paths);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("junk.csr"), "the bad file is named: {err}");
    assert!(!err.contains("weak.csr"), "only the first bad file: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    // Exactly the error the bad CSR gets on its own.
    let alone = env
        .cert_issue("production", &[&env.path("junk.csr")])
        .args(["--out", "alone.pem"])
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(1));
    assert_eq!(stderr(&alone), err);
    // Nothing written, nothing recorded.
    let written: Vec<_> = std::fs::read_dir(env.path("out"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(written.is_empty(), "no certificate file: {written:?}");
    assert!(!env.path("bundle.pem").exists(), "no bundle");
    assert!(!env.path("alone.pem").exists());
    assert!(store_serials(&env).is_empty(), "no store record");

    // With the junk replaced, the weak key is the first failure.
    paths[7] = env.openssl_csr("c7b", "ec:P-256", &[]);
    let out = run(&paths);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("weak.csr"), "{}", stderr(&out));
    assert!(stderr(&out).contains("RSA-1024"), "{}", stderr(&out));
    assert!(!env.path("bundle.pem").exists());
    assert!(store_serials(&env).is_empty());

    // JSON error document names the file too.
    paths[31] = env.path("junk.csr");
    let out = env
        .cert_issue("production", &refs(&paths))
        .args(["--json", "--out-bundle", "bundle.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(doc["error"]["kind"], "input");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("junk.csr"));
    assert!(!env.path("bundle.pem").exists());
    assert!(store_serials(&env).is_empty());
}

#[test]
fn out_bundle_alone_follows_the_output_rules() {
    let env = Env::new();
    env.init_with_app();
    let (paths, spkis) = csrs(&env, 3);
    let out = env
        .cert_issue("development", &refs(&paths))
        .args(["--json", "--out-bundle", "b.pem"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["bundle"], "b.pem");
    let items = doc["certificates"].as_array().unwrap();
    assert!(items.iter().all(|i| i["out"].is_null()), "no file each");
    let first = std::fs::read(env.path("b.pem")).unwrap();
    let certs = bundle_certs(&env.path("b.pem"));
    assert_eq!(certs.len(), 3);
    for (i, der) in certs.iter().enumerate() {
        let (serial, key) = serial_and_key(der);
        assert_eq!(key, spkis[i]);
        assert_eq!(items[i]["serial"], serial.as_str());
    }
    assert_eq!(
        env.files().iter().filter(|f| f.ends_with(".pem")).count(),
        1
    );
    // Certificate-only PEM: 0644.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.path("b.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);

    // An existing bundle is refused without --force, before anything is signed.
    let out = env
        .cert_issue("development", &refs(&paths))
        .args(["--out-bundle", "b.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(env.path("b.pem")).unwrap(),
        first,
        "untouched"
    );
    assert_eq!(store_serials(&env).len(), 3, "nothing issued");
    // ... and replaced with it.
    env.cert_issue("development", &refs(&paths))
        .args(["--out-bundle", "b.pem", "--force"])
        .assert()
        .success();
    assert_ne!(std::fs::read(env.path("b.pem")).unwrap(), first);
    assert_eq!(bundle_certs(&env.path("b.pem")).len(), 3);
    assert_eq!(store_serials(&env).len(), 6);

    // Never inside the home.
    let inside = env.home().join("bundle.pem");
    let out = env
        .cert_issue("development", &refs(&paths))
        .arg("--out-bundle")
        .arg(&inside)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("inside the pushca home"),
        "{}",
        stderr(&out)
    );
    assert!(!inside.exists());

    // The bundle and a certificate file the same file: refused up front.
    std::fs::create_dir(env.path("d")).unwrap();
    let out = env
        .cert_issue("development", &[&paths[0]])
        .args(["--out", "d/x.pem", "--out-bundle", "d/../d/x.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("given twice"), "{}", stderr(&out));
    assert!(!env.path("d/x.pem").exists());

    // --out and --out-bundle together write both.
    let out = env
        .cert_issue("development", &[&paths[0]])
        .args([
            "--json",
            "--out",
            "one.pem",
            "--out-bundle",
            "one-bundle.pem",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        cert_der(&env.path("one.pem")),
        bundle_certs(&env.path("one-bundle.pem"))[0]
    );

    // A bundle is PEM: --format der only applies to --out/--out-dir files.
    let out = env
        .cert_issue("development", &refs(&paths))
        .args(["--format", "der", "--out-bundle", "der.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!env.path("der.pem").exists());
    let out = env
        .cert_issue("development", &refs(&paths))
        .args([
            "--format",
            "der",
            "--out-dir",
            "der",
            "--out-bundle",
            "der.pem",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(env.path("der/c0.cer")).unwrap(), {
        bundle_certs(&env.path("der.pem"))[0].clone()
    });
    assert_eq!(store_serials(&env).len(), 10);

    // No output at all is a usage error.
    let out = env
        .cert_issue("development", &refs(&paths))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The highest "signing certificates … K/N" count drawn so far on the
/// progress bar, if any.
fn signed_so_far(tty: &[u8], n: usize) -> Option<usize> {
    let text = String::from_utf8_lossy(tty);
    let from = text.find("signing certificates")?;
    let total = format!("/{n}");
    let mut best = None;
    let mut rest = &text[from..];
    while let Some(i) = rest.find(&total) {
        let before = &rest[..i];
        let start = before
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |j| j + 1);
        if let Ok(k) = before[start..].parse::<usize>() {
            best = best.max(Some(k));
        }
        rest = &rest[i + total.len()..];
    }
    best
}

/// A pseudo-terminal: (master, slave).
fn openpty() -> (std::fs::File, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty writes two new descriptors, owned from here on.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened and are not owned elsewhere.
    unsafe {
        (
            std::fs::File::from_raw_fd(m),
            std::os::fd::OwnedFd::from_raw_fd(s),
        )
    }
}

/// `cert issue` signs with no store lock held: a `cert revoke` started once
/// a big batch has begun signing (seen on its progress bar, drawn on a
/// pseudo-terminal) completes while the batch is still signing. The batch is
/// frozen (SIGSTOP) as soon as signing shows progress, so the order is no
/// race: a batch that held the write lock while signing would keep the
/// revoke waiting until it is let go.
#[test]
fn a_revoke_completes_while_a_big_batch_is_signing() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    const N: usize = 3000;
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("one", "ec:P-256", &[]);
    let o = env
        .issue_cmd("development", &csr, "one.pem")
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let serial = stdout_json(&o)["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let bin = assert_cmd::cargo::cargo_bin("pushca");
    let pushca = |args: &[&str]| {
        let mut c = StdCommand::new(&bin);
        c.arg("--home")
            .arg(env.home())
            .args(args)
            .current_dir(env.dir.path())
            .env_remove("PUSHCA_HOME")
            .env_remove("PUSHCA_CA_PASSPHRASE")
            .stdin(Stdio::null());
        c
    };
    let pass = format!("pass:{}", common::CA_PASS);
    let mut args = vec![
        "cert",
        "issue",
        "--app",
        "com.example.app",
        "--env",
        "development",
        "--out-bundle",
        "bundle.pem",
        "--ca-passin",
        &pass,
    ];
    for _ in 0..N {
        args.extend(["--csr", "one.csr"]);
    }
    // The progress bar is drawn on a terminal only: stderr is a pty.
    let (mut master, slave) = openpty();
    let mut batch = pushca(&args)
        .env("TERM", "xterm")
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 8192];
        let mut told = false;
        // EIO once the batch has closed the terminal.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if !told && signed_so_far(&seen, N).is_some_and(|k| k >= 1) {
                told = true;
                let _ = tx.send(());
            }
        }
        seen
    });
    let signal = |sig: i32| {
        // SAFETY: a signal to our own child, still unreaped.
        assert_eq!(unsafe { libc::kill(batch.id() as i32, sig) }, 0);
    };
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = batch.kill();
        let _ = batch.wait();
        panic!(
            "the batch never showed signing progress: {}",
            String::from_utf8_lossy(&reader.join().unwrap())
        );
    }
    signal(libc::SIGSTOP);
    let mut revoke = pushca(&["--json", "cert", "revoke", &serial])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let finished = loop {
        if revoke.try_wait().unwrap().is_some() {
            break true;
        }
        if t0.elapsed() > Duration::from_secs(8) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let waited = t0.elapsed();
    signal(libc::SIGCONT);
    if !finished {
        let _ = revoke.kill();
    }
    let revoke = revoke.wait_with_output().unwrap();
    let status = batch.wait().unwrap();
    let tty = String::from_utf8_lossy(&reader.join().unwrap()).to_string();
    assert!(
        finished,
        "cert revoke still waiting after {waited:?} for the signing batch"
    );
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    assert_eq!(stdout_json(&revoke)["changed"], true);
    assert!(status.success(), "the batch: {tty}");
    // The batch went on to record and write everything.
    assert_eq!(bundle_certs(&env.path("bundle.pem")).len(), N);
    assert_eq!(store_serials(&env).len(), N + 1);
}
