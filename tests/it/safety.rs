//! Safety rules of PRODUCT.md that cut across commands: crash safety of
//! issuance (kill -9 at many points), CA material checks, concurrent `init`,
//! inert terminal output.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{stderr, stdout_json, Env, CA_PASS};

/// `n` P-256 CSRs made in-process (fast), as files `csr-<i>.csr` in `dir`.
fn csr_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let key = pushca::keys::PrivateKey::generate(pushca::keys::KeyType::EcP256).unwrap();
            let der = pushca::ca::csr::make_csr(&key, "crash", None).unwrap();
            let p = dir.join(format!("csr-{i:04}.csr"));
            std::fs::write(&p, pushca::pem::encode("CERTIFICATE REQUEST", &der)).unwrap();
            p
        })
        .collect()
}

/// Serial (lowercase hex) and DER of every certificate found in any file of
/// `dir`, temporary files included; partial files yield what parses.
fn certs_on_disk(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        let Ok(blocks) = pushca::pem::blocks(&bytes) else {
            continue;
        };
        for b in blocks {
            if let Ok((_, c)) = x509_parser::parse_x509_certificate(&b.der) {
                out.push((hex::encode(c.raw_serial()), b.der.to_vec()));
            }
        }
    }
    out
}

fn store_serials(env: &Env) -> std::collections::HashMap<String, String> {
    let out = env.cmd().args(["--json", "cert", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout_json(&out)["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["serial"].as_str().unwrap().to_string(),
                c["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What a watcher sees in an output directory: pushca temporary files
/// (staged, not yet renamed) and final files.
fn out_dir_progress(dir: &Path) -> (usize, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    let mut temp = 0;
    let mut done = 0;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".pushca-tmp-") {
            temp += 1;
        } else {
            done += 1;
        }
    }
    (temp, done)
}

/// Where a round of the kill -9 test kills `cert issue`, by what the output
/// directory shows (no wall-clock delay: the points hold at any load).
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// As soon as the process runs (before the CA is unlocked).
    AtStart,
    /// When `n` temporary files are staged (the store has committed).
    Staged(usize),
    /// When `n` files have been renamed into place.
    Renamed(usize),
}

fn issue_150_cmd(env: &Env, csrs: &[PathBuf], out_dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"));
    cmd.env_remove("PUSHCA_HOME")
        .env("PUSHCA_CA_PASSPHRASE", CA_PASS)
        .args(["--home"])
        .arg(env.home())
        .args([
            "cert",
            "issue",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--force",
        ])
        .arg("--out-dir")
        .arg(out_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for c in csrs {
        cmd.arg("--csr").arg(c);
    }
    cmd
}

/// Every certificate in `dir` (temporary files included) is in the store.
fn assert_on_disk_known(env: &Env, dir: &Path, what: &str) -> usize {
    let known = store_serials(env);
    let on_disk = certs_on_disk(dir);
    for (serial, der) in &on_disk {
        let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, der));
        assert_eq!(
            known.get(serial),
            Some(&sha),
            "{what}: certificate {serial} on disk is not in the store"
        );
    }
    on_disk.len()
}

#[test]
fn kill_9_during_issuance_never_leaves_an_unknown_certificate_on_disk() {
    use std::os::unix::process::ExitStatusExt;

    let env = Env::new();
    env.init_with_app();
    let csrs = csr_files(&env.path("csrs"), 150);
    let planned = [
        KillPoint::AtStart,
        KillPoint::Staged(1),
        KillPoint::Staged(2),
        KillPoint::Staged(20),
        KillPoint::Staged(75),
        KillPoint::Staged(140),
        KillPoint::Renamed(1),
        KillPoint::Renamed(50),
        KillPoint::Renamed(120),
    ];
    // Rounds that killed the process with files of its batch on disk
    // (staged or renamed, not all renamed yet).
    let mut killed_during_writes = 0;
    let mut stale_temp_dir = None;
    // The planned points, then (should the writes have outrun every watch)
    // more "first staged file" rounds until one kill lands in the writes.
    let extra = std::iter::repeat_n(KillPoint::Staged(1), 20);
    for (round, point) in planned.into_iter().chain(extra).enumerate() {
        if round >= planned.len() && killed_during_writes > 0 {
            break;
        }
        let out_dir = env.path(&format!("out-{round}"));
        let mut child = issue_150_cmd(&env, &csrs, &out_dir).spawn().unwrap();
        let seen = loop {
            let (temp, done) = out_dir_progress(&out_dir);
            let reached = match point {
                KillPoint::AtStart => true,
                KillPoint::Staged(n) => temp >= n || done > 0,
                KillPoint::Renamed(n) => done >= n,
            };
            if reached || child.try_wait().unwrap().is_some() {
                break (temp, done);
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let _ = child.kill(); // SIGKILL (no effect if it has already exited)
        let status = child.wait().unwrap();
        let killed = status.signal() == Some(libc::SIGKILL);
        if !killed {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            assert!(status.success(), "round {round} ({point:?}): {err}");
        }
        let (temp, done) = out_dir_progress(&out_dir);
        if killed && seen.0 + seen.1 > 0 && done < csrs.len() {
            killed_during_writes += 1;
        }
        if killed && temp > 0 {
            stale_temp_dir = Some(out_dir.clone());
        }
        eprintln!(
            "round {round} ({point:?}): {} at {seen:?} (temporary, final files)",
            if killed { "killed" } else { "finished" }
        );
        assert_on_disk_known(&env, &out_dir, &format!("round {round} ({point:?})"));
    }
    assert!(
        killed_during_writes > 0,
        "no round killed pushca while it was writing its files"
    );
    // Recovery: a full batch into a directory a killed run left temporary
    // files in; it completes, removes them, and every file is in the store.
    let dir = stale_temp_dir.unwrap_or_else(|| env.path("out-recovery"));
    let out = issue_150_cmd(&env, &csrs, &dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out_dir_progress(&dir), (0, csrs.len()), "{}", dir.display());
    assert_eq!(
        assert_on_disk_known(&env, &dir, "recovery round"),
        csrs.len()
    );
    // Any issued certificate can be recovered from the store.
    let known = store_serials(&env);
    let (serial, sha) = known.iter().next().unwrap();
    let out = env
        .cmd()
        .args(["--json", "cert", "export", serial, "--out", "recovered.pem"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let der = common::cert_der(&env.path("recovered.pem"));
    assert_eq!(
        &hex::encode(ring::digest::digest(&ring::digest::SHA256, &der)),
        sha
    );
    eprintln!("kill rounds during the file writes: {killed_during_writes}");
}

#[test]
fn a_ca_key_that_does_not_belong_to_its_certificate_is_refused() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    // Swap the issuing CA key for the profile signer's (same passphrase, same type).
    let ca = env.home().join("ca");
    std::fs::copy(ca.join("profile-signer.key"), ca.join("issuing.key")).unwrap();
    let out = env
        .issue_cmd("development", &csr, "k.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("does not belong to"), "{err}");
    assert!(!env.path("k.pem").exists());
    assert!(store_serials(&env).is_empty());
}

#[test]
fn concurrent_inits_on_one_directory_make_exactly_one_home() {
    let env = Env::new();
    let children: Vec<_> = (0..4)
        .map(|i| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"))
                .env_remove("PUSHCA_HOME")
                .arg("--home")
                .arg(env.home())
                .args(["--json", "init", "--team-name", &format!("Team {i}")])
                .args(["--ca-passin", &format!("pass:{CA_PASS}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ok: Vec<_> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(ok.len(), 1, "exactly one init succeeds");
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(o.status.code(), Some(1));
        let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
        assert_eq!(e["error"]["kind"], "conflict", "{e}");
    }
    // The home that exists is the winner's, whole: its root verifies its chain.
    let team = stdout_json(ok[0])["team"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.cmd().args(["--json", "team", "list"]).output().unwrap();
    assert_eq!(stdout_json(&out)["teams"][0]["name"], team.as_str());
    env.openssl(&[
        "verify",
        "-CAfile",
        env.ca_pem("root").to_str().unwrap(),
        env.ca_pem("issuing").to_str().unwrap(),
    ]);
}

#[test]
fn init_refuses_a_directory_with_ca_material_even_without_a_store() {
    let env = Env::new();
    env.init();
    std::fs::remove_file(env.home().join("pushca.db")).unwrap();
    let before = std::fs::read(env.home().join("ca/root.key")).unwrap();
    let out = env
        .cmd()
        .args(["init", "--team-name", "Again"])
        .args(["--ca-passin", &format!("pass:{CA_PASS}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("already a pushca home"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(env.home().join("ca/root.key")).unwrap(),
        before,
        "the root key must not be replaced"
    );
}

#[test]
fn terminal_output_is_inert() {
    let env = Env::new();
    // A certificate whose subject carries an escape sequence and a bell.
    let kp = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(
        rcgen::DnType::CommonName,
        "evil\u{1b}]0;pwned\u{7}\u{1b}[31mred",
    );
    let cert = p.self_signed(&kp).unwrap();
    std::fs::write(env.path("evil.pem"), cert.pem()).unwrap();
    let out = env
        .cmd()
        .args(["cert", "show", "evil.pem"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.contains("\\u{1b}"), "{text}");
    // JSON keeps the exact value (JSON escapes it).
    let out = env
        .cmd()
        .args(["--json", "cert", "show", "evil.pem"])
        .output()
        .unwrap();
    assert!(!out.stdout.contains(&0x1b));
    assert!(stdout_json(&out)["subject"]
        .as_str()
        .unwrap()
        .contains('\u{1b}'));
}

#[test]
fn outputs_never_destroy_anything_by_surprise() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("o", "ec:P-256", &[]);
    // An existing output is refused without --force, and left alone.
    std::fs::write(env.path("taken.pem"), b"precious").unwrap();
    let out = env
        .issue_cmd("development", &csr, "taken.pem")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(e["error"]["kind"], "conflict");
    // The library says what is wrong; the flag is the CLI's hint.
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.ends_with("taken.pem already exists"), "{message}");
    assert_eq!(e["error"]["hint"], "pass --force to replace it");
    assert_eq!(std::fs::read(env.path("taken.pem")).unwrap(), b"precious");
    assert!(store_serials(&env).is_empty(), "refused before signing");
    env.issue_cmd("development", &csr, "taken.pem")
        .arg("--force")
        .assert()
        .success();
    assert!(std::fs::read_to_string(env.path("taken.pem"))
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));

    // Inside the home: refused even with --force (a push certificate over the
    // issuing CA, a key over the root key), through `..` and symlinks too.
    let issuing = std::fs::read(env.ca_pem("issuing")).unwrap();
    let root_key = std::fs::read(env.home().join("ca/root.key")).unwrap();
    let sneaky = env.home().join("ca/../ca/issuing.pem");
    let out = env
        .issue_cmd("development", &csr, sneaky.to_str().unwrap())
        .arg("--force")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("inside the pushca home"),
        "{}",
        stderr(&out)
    );
    std::os::unix::fs::symlink(env.home().join("ca/root.key"), env.path("k.link")).unwrap();
    let out = env
        .cmd()
        .args([
            "csr",
            "new",
            "--noenc",
            "--force",
            "--key-out",
            "k.link",
            "--out",
            "n.csr",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read(env.ca_pem("issuing")).unwrap(), issuing);
    assert_eq!(
        std::fs::read(env.home().join("ca/root.key")).unwrap(),
        root_key
    );
    assert!(!env.path("n.csr").exists());

    // A symlinked output is written through: the target changes, the link stays.
    std::fs::write(env.path("real.pem"), b"old").unwrap();
    std::os::unix::fs::symlink("real.pem", env.path("link.pem")).unwrap();
    let serial = store_serials(&env).into_keys().next().unwrap();
    env.cmd()
        .args(["cert", "export", &serial, "--out", "link.pem", "--force"])
        .assert()
        .success();
    assert!(std::fs::symlink_metadata(env.path("link.pem"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(env.path("real.pem"))
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));

    // /dev/stdout is written to, not replaced.
    let out = env
        .cmd()
        .args(["-q", "cert", "export", &serial, "--out", "/dev/stdout"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-----BEGIN CERTIFICATE-----"));

    // --out-dir is created when missing.
    env.cert_issue("production", &[&csr])
        .args(["--out-dir", "new/dir"])
        .assert()
        .success();
    assert!(env.path("new/dir/o.pem").exists());
}

#[test]
fn inputs_must_be_regular_files() {
    let env = Env::new();
    env.init_with_app();
    let fifo = env.path("csr.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for input in [
        fifo.to_str().unwrap(),
        "/dev/zero",
        env.path("").to_str().unwrap(),
    ] {
        // A FIFO that never opens or an endless /dev/zero would hit the
        // timeout (no wall-clock bound of its own: that flakes under load).
        let out = env
            .cert_issue("development", &[Path::new(input)])
            .args(["--out", "x.pem"])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{input}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{input}: {}",
            stderr(&out)
        );
    }
    assert!(!env.path("x.pem").exists());
}

#[test]
fn the_home_is_private_and_an_exposed_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let env = Env::new();
    env.init_with_app();
    let home = env.home();
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("ca")), 0o700);
    for f in ["pushca.db", "pushca.db-wal", "pushca.db-shm"] {
        let p = home.join(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
    let csr = env.openssl_csr("p", "ec:P-256", &[]);
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for (path, bad, fix) in [
        (home.join("ca/issuing.key"), 0o644, "chmod 600"),
        (home.clone(), 0o777, "chmod 700"),
        (home.join("pushca.db"), 0o666, "chmod 600"),
    ] {
        let good = mode(&path);
        set(&path, bad);
        let out = env
            .issue_cmd("development", &csr, "p.pem")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        let err = stderr(&out);
        assert!(err.contains("is not private") && err.contains(fix), "{err}");
        assert!(!env.path("p.pem").exists());
        set(&path, good);
    }
    env.issue("development", &csr, "p.pem").success();
}
