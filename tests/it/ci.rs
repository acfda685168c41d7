//! What CI pipelines run: `cert renew` (only when due, once under
//! concurrency), `status --expiring-within`, `app set --push`.

use crate::common;

use common::{stderr, stdout_json, Env, CA_PASS};

fn pass() -> String {
    format!("pass:{CA_PASS}")
}

fn renew(env: &Env, csr: &std::path::Path, within: &str) -> std::process::Output {
    renew_to(env, csr, within, "push.pem")
}

fn renew_to(env: &Env, csr: &std::path::Path, within: &str, out: &str) -> std::process::Output {
    env.cmd()
        .args([
            "--json",
            "cert",
            "renew",
            "--app",
            "com.example.app",
            "--env",
            "production",
        ])
        .arg("--csr")
        .arg(csr)
        .args(["--out", out, "--within", within, "--ca-passin", &pass()])
        .output()
        .unwrap()
}

fn count(env: &Env) -> usize {
    let o = env.cmd().args(["--json", "cert", "list"]).output().unwrap();
    stdout_json(&o)["certificates"].as_array().unwrap().len()
}

#[test]
fn renew_issues_only_when_due_and_replaces_its_output() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    // No certificate yet: due.
    let o = renew(&env, &csr, "30");
    assert!(o.status.success(), "{}", stderr(&o));
    let first = stdout_json(&o);
    assert_eq!(first["renewed"], true);
    assert_eq!(count(&env), 1);
    let before = std::fs::read(env.path("push.pem")).unwrap();
    // 13 months left: not due within 30 days. No passphrase needed, nothing written.
    let o = env
        .cmd()
        .args([
            "--json",
            "cert",
            "renew",
            "--app",
            "com.example.app",
            "--env",
            "production",
        ])
        .arg("--csr")
        .arg(&csr)
        .args(["--out", "push.pem", "--within", "30"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["renewed"], false);
    assert_eq!(j["serial"], first["serial"]);
    assert!(j["days_left"].as_i64().unwrap() > 360);
    assert_eq!(count(&env), 1);
    assert_eq!(std::fs::read(env.path("push.pem")).unwrap(), before);
    // Within 400 days: due; --out replaced without --force (by design).
    let o = renew(&env, &csr, "400");
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["renewed"], true);
    assert_ne!(j["serial"], first["serial"]);
    assert_eq!(count(&env), 2);
    assert_ne!(std::fs::read(env.path("push.pem")).unwrap(), before);
    // A revoked newest certificate does not count as valid.
    let serial = j["serial"].as_str().unwrap().to_string();
    env.cmd()
        .args(["cert", "revoke", &serial])
        .assert()
        .success();
    env.cmd()
        .args(["cert", "revoke", first["serial"].as_str().unwrap()])
        .assert()
        .success();
    let o = renew(&env, &csr, "1");
    assert_eq!(stdout_json(&o)["renewed"], true);
}

#[test]
fn concurrent_due_renewals_issue_exactly_one_certificate() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    let dir = env.home().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    let tpl = dir.join("push-production.toml");
    let text = pushca::ca::templates::builtin_text("push-production").unwrap();
    std::fs::write(
        &tpl,
        text.replace("validity_months = 13", "validity_days = 10"),
    )
    .unwrap();
    env.issue("production", &csr, "old.pem").success();
    std::fs::remove_file(&tpl).unwrap();
    let outs: Vec<std::process::Output> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (env, csr) = (&env, &csr);
                sc.spawn(move || renew_to(env, csr, "30", &format!("par{i}.pem")))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut renewed = 0;
    for o in outs {
        assert!(o.status.success(), "{}", stderr(&o));
        if stdout_json(&o)["renewed"] == true {
            renewed += 1;
        }
    }
    // All four saw the old certificate due before unlocking the CA; the
    // check inside the issuing transaction lets only the first one issue.
    assert_eq!(renewed, 1, "four jobs at once, one renewal");
    assert_eq!(count(&env), 2);
}

#[test]
fn status_reports_what_expires_and_exits_4_in_the_window() {
    let env = Env::new();
    env.init_with_app();
    let o = env.cmd().args(["--json", "status"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["ca"].as_array().unwrap().len(), 3);
    assert!(j["crl"].is_null());
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    env.issue("production", &csr, "p.pem").success();
    env.cmd()
        .args(["crl", "--out", "crl.pem", "--ca-passin", &pass()])
        .assert()
        .success();
    let o = env
        .cmd()
        .args(["--json", "status", "--expiring-within", "1"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let j = stdout_json(&o);
    assert_eq!(j["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(j["crl"]["number"], 1);
    // The CRL's nextUpdate (7 days) and the certificate (13 months) fall in 400 days.
    let o = env
        .cmd()
        .args(["--json", "status", "--expiring-within", "10"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(stdout_json(&o)["expiring"], 1, "the CRL");
    let o = env
        .cmd()
        .args(["status", "--expiring-within", "400"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stdout).contains("expires within the window"));
}

#[test]
fn app_set_adds_and_removes_push() {
    let env = Env::new();
    env.init();
    env.cmd()
        .args(["app", "create", "com.example.app"])
        .assert()
        .success();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    assert_eq!(
        env.issue_cmd("production", &csr, "a.pem")
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    let o = env
        .cmd()
        .args([
            "--json",
            "app",
            "set",
            "com.example.app",
            "--push",
            "--name",
            "Example",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(
        (j["app"]["push"].as_bool(), j["changed"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(j["app"]["name"], "Example");
    env.issue("production", &csr, "a.pem").success();
    let o = env
        .cmd()
        .args(["--json", "app", "set", "com.example.app", "--push"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&o)["changed"], false);
    env.cmd()
        .args(["app", "set", "com.example.app", "--no-push"])
        .assert()
        .success();
    assert_eq!(
        env.issue_cmd("production", &csr, "b.pem")
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    env.cmd()
        .args(["app", "create", "com.example.*"])
        .assert()
        .success();
    let o = env
        .cmd()
        .args(["--json", "app", "set", "com.example.*", "--push"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let o = env
        .cmd()
        .args(["app", "set", "com.example.app"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = env
        .cmd()
        .args(["app", "set", "com.example.none", "--push"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn cert_create_writes_key_csr_certificate_p12_and_ck_pem_in_one_step() {
    let env = Env::new();
    env.init_with_app();
    let o = env
        .cmd()
        .args([
            "--json",
            "cert",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
        ])
        .args([
            "--out-dir",
            "out",
            "--passout",
            "pass:p12-password",
            "--key-type",
            "ec-p256",
        ])
        .args(["--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["renewed"], true);
    let base = env.path("out/com.example.app-production");
    let f = |ext: &str| format!("{}{ext}", base.display());
    // The certificate verifies to the CA; the key is encrypted and matches it;
    // openssl opens the .p12 with the password; ck.pem holds cert + plain key.
    let chain = env.ca_pem("chain");
    let o = env.openssl(&[
        "verify",
        "-purpose",
        "sslclient",
        "-CAfile",
        chain.to_str().unwrap(),
        &f(".pem"),
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("OK"));
    assert!(std::fs::read_to_string(f(".key"))
        .unwrap()
        .contains("ENCRYPTED PRIVATE KEY"));
    let cert_pub = env
        .openssl(&["x509", "-in", &f(".pem"), "-noout", "-pubkey"])
        .stdout;
    let key_pub = env
        .openssl(&[
            "pkey",
            "-in",
            &f(".key"),
            "-passin",
            "pass:p12-password",
            "-pubout",
        ])
        .stdout;
    assert_eq!(cert_pub, key_pub);
    let o = env.openssl(&[
        "pkcs12",
        "-in",
        &f(".p12"),
        "-passin",
        "pass:p12-password",
        "-nokeys",
        "-clcerts",
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("BEGIN CERTIFICATE"));
    let ck = std::fs::read_to_string(f("-ck.pem")).unwrap();
    assert!(ck.contains("BEGIN CERTIFICATE") && ck.contains("BEGIN PRIVATE KEY"));
    use std::os::unix::fs::PermissionsExt;
    for ext in [".key", ".p12", "-ck.pem"] {
        let mode = std::fs::metadata(f(ext)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{ext}");
    }
    env.openssl(&["req", "-in", &f(".csr"), "-noout", "-verify"]);
    // --renew-within: not due -> nothing issued or written, no passphrase needed.
    let o = env
        .cmd()
        .args([
            "--json",
            "cert",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
        ])
        .args(["--out-dir", "out2", "--noenc", "--renew-within", "30"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["renewed"], false);
    assert_eq!(std::fs::read_dir(env.path("out2")).unwrap().count(), 0);
    // Existing outputs are refused without --force, before anything is issued.
    let o = env
        .cmd()
        .args([
            "cert",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
        ])
        .args(["--out-dir", "out", "--noenc", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(count(&env), 1);
}

/// `-` is standard input for `--csr`/`--in` and a certificate to show, and
/// standard output for `--out` (the report then goes to stderr, so stdout
/// carries only the data); two outputs to `-`, or `--out-dir -`, are refused.
#[test]
fn dash_reads_stdin_and_writes_stdout() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("pipe", "ec:P-256", &[]);
    let o = env
        .cmd()
        .args([
            "cert",
            "issue",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--csr",
            "-",
            "--out",
            "-",
            "--ca-passin",
            &pass(),
        ])
        .write_stdin(std::fs::read(&csr).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let pem = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    assert_eq!(
        pem.matches("BEGIN").count(),
        1,
        "only the certificate: {pem}"
    );
    assert!(stderr(&o).contains("Issued"), "the report is on stderr");
    std::fs::write(env.path("piped.pem"), &pem).unwrap();
    let subject = env.openssl(&["x509", "-in", "piped.pem", "-noout", "-subject"]);
    assert!(String::from_utf8_lossy(&subject.stdout).contains("com.example.app"));
    // --json: the document moves to stderr too.
    let o = env
        .cmd()
        .args(["--json", "cert", "show", "-"])
        .write_stdin(pem.clone())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["bundle_id"], "com.example.app");
    // Nothing on stdin.
    let o = env
        .cmd()
        .args(["cert", "show", "-"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("standard input"), "{}", stderr(&o));
    // Key and CSR both to stdout: refused before anything is made.
    let o = env
        .cmd()
        .args(["csr", "new", "--key-out", "-", "--out", "-", "--noenc"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("must be different"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let o = env
        .cmd()
        .args([
            "cert",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--out-dir",
            "-",
            "--noenc",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!env.path("-").exists());
    // An encrypted key on stdin, decrypted to stdout: stdin is read once
    // (the encryption check and the decryption see the same bytes).
    let key = env
        .openssl_csr("enc", "ec:P-256", &[])
        .with_extension("key");
    let enc = env.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        key.to_str().unwrap(),
        "-passout",
        "pass:pw",
    ]);
    let o = env
        .cmd()
        .args([
            "key", "decrypt", "--in", "-", "--passin", "pass:pw", "--out", "-",
        ])
        .write_stdin(enc.stdout)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(stderr(&o).contains("wrote - ("), "{}", stderr(&o));
    // Too much on stdin: refused, named <stdin>.
    let o = env
        .cmd()
        .args(["cert", "show", "-"])
        .write_stdin(vec![b'x'; 16 * 1024 * 1024 + 1])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("<stdin>") && stderr(&o).contains("limit"),
        "{}",
        stderr(&o)
    );
}

/// `profile`, `crl` and `gateway check` take `-` as the other commands do:
/// resolved by the CLI (stdin read once, named `<stdin>`; the data on
/// stdout, the report on stderr), never a file named `-`.
#[test]
fn dash_for_profile_crl_and_gateway_check() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("prod", "ec:P-256", &[]);
    env.issue("production", &csr, "prod.pem").success();
    let mut ck = std::fs::read(env.path("prod.pem")).unwrap();
    ck.extend(std::fs::read(env.path("prod.key")).unwrap());
    // profile create --out -: the DER on stdout.
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
            "--out",
            "-",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout.first(), Some(&0x30), "a DER profile on stdout");
    assert!(
        stderr(&o).contains("Signed production profile"),
        "{}",
        stderr(&o)
    );
    let profile = o.stdout;
    // profile show -: read from stdin, the same profile.
    let o = env
        .cmd()
        .args(["--json", "profile", "show", "-"])
        .write_stdin(profile.clone())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let uuid = stdout_json(&o)["uuid"].as_str().unwrap().to_string();
    // Both inputs on stdin: refused as a usage error before any read.
    let o = env
        .cmd()
        .args(["profile", "show", "-", "--ca", "-"])
        .write_stdin(profile.clone())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("standard input"), "{}", stderr(&o));
    // The CA certificates on stdin, the profile a file.
    std::fs::write(env.path("p.mobileprovision"), &profile).unwrap();
    let o = env
        .cmd()
        .args([
            "--json",
            "profile",
            "show",
            "p.mobileprovision",
            "--ca",
            "-",
        ])
        .write_stdin(std::fs::read(env.ca_pem("root")).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["trust_anchors"], "<stdin>");
    // Nothing on stdin: one line naming it.
    let o = env.cmd().args(["profile", "show", "-"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("<stdin>"), "{}", stderr(&o));
    // profile export --out -: the recorded bytes.
    let o = env
        .cmd()
        .args(["--json", "profile", "export", &uuid, "--out", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, profile);
    let doc: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(doc["profile"]["out"], "-");
    // profile regenerate --out-dir -: a directory is needed.
    let o = env
        .cmd()
        .args(["profile", "regenerate", &uuid, "--out-dir", "-"])
        .args(["--ca-passin", &pass()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a directory is needed"),
        "{}",
        stderr(&o)
    );
    // crl --out -: the CRL on stdout, the report on stderr.
    let o = env
        .cmd()
        .args(["crl", "--out", "-", "--ca-passin", &pass()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let crl = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(crl.starts_with("-----BEGIN X509 CRL-----\n"), "{crl}");
    assert!(stderr(&o).contains("Signed CRL number"), "{}", stderr(&o));
    std::fs::write(env.path("piped.crl"), &crl).unwrap();
    env.openssl(&["crl", "-in", "piped.crl", "-noout"]);
    // gateway check --cert -: the ck.pem from stdin.
    let o = env
        .cmd()
        .args([
            "gateway",
            "trust-store",
            "--out",
            "ts",
            "--ca-passin",
            &pass(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let check = |anchor: Option<&str>, cert: &str, stdin: Vec<u8>| {
        let mut c = env.cmd();
        c.args(["gateway", "check", "--trust-store", "ts", "--cert", cert])
            .args(["--topic", "com.example.app", "--env", "production"]);
        if let Some(a) = anchor {
            c.args(["--anchor", a]);
        }
        c.write_stdin(stdin).output().unwrap()
    };
    let o = check(None, "-", ck.clone());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("allow:"));
    std::fs::write(env.path("ck.pem"), &ck).unwrap();
    let root = std::fs::read(env.ca_pem("root")).unwrap();
    let o = check(Some("-"), "ck.pem", root.clone());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = check(Some("-"), "-", root);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("standard input"), "{}", stderr(&o));
    assert!(!env.path("-").exists());
}

/// Every `.rs` file under `src/`, with its path relative to `src/`.
fn sources() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    assert!(files.len() > 50, "the walk found the sources");
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f.strip_prefix(&src).unwrap().to_path_buf(), text)
        })
        .collect()
}

/// One conversion between days and seconds (`timeutil::SECS_PER_DAY`, and
/// `timeutil::days_left` for every days-left figure): no second copy.
#[test]
fn days_are_converted_in_one_place() {
    let found: Vec<String> = sources()
        .iter()
        .filter(|(rel, _)| rel != std::path::Path::new("timeutil.rs"))
        .flat_map(|(rel, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("86_400") || l.contains("86400"))
                .map(|(n, l)| format!("{}:{}: {}", rel.display(), n + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(found.is_empty(), "days by hand:\n{}", found.join("\n"));
}

/// The library never touches standard input or output: only the CLI
/// (`src/cli`, `src/main.rs`) reads stdin, writes stdout or asks whether
/// either is a terminal.
#[test]
fn the_library_never_touches_stdin_or_stdout() {
    let files = sources();
    let mut found = Vec::new();
    for (rel, text) in &files {
        if rel.starts_with("cli") || rel == std::path::Path::new("main.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let hit = [
                "stdin()",
                "stdout()",
                "io::stdin",
                "io::stdout",
                "print!(",
                "println!(",
            ]
            .iter()
            .any(|needle| code.contains(needle));
            if hit {
                found.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(files.len() > 50, "the walk found the sources");
    assert!(
        found.is_empty(),
        "stdio in the library:\n{}",
        found.join("\n")
    );
}
