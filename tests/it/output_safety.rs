//! Outputs and secrets on a real terminal and in a shared `/tmp`: a private
//! key is never written to a terminal (through `script`, a pseudo-terminal),
//! while a pipe still gets it; a symlink planted by another user in a sticky
//! world-writable directory does not redirect a `--force` write; a passphrase
//! over 1,024 bytes is refused at the hidden prompt (through tmux) and on
//! stdin, never cut.

use crate::common::convert as common;
use crate::common::tty::Tty;

use std::path::Path;
use std::process::Command;

use common::*;

fn bin() -> String {
    assert_cmd::cargo::cargo_bin("pushca").display().to_string()
}

/// Single-quoted for `sh`.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs the shell command line `line` in `dir` on a pseudo-terminal
/// (`script`): its exit status and what the terminal showed.
fn on_terminal(dir: &Path, line: &str) -> (i32, String) {
    let out = Command::new("script")
        .args(["-qec", line, "/dev/null"])
        .current_dir(dir)
        .env_remove("PUSHCA_HOME")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script is installed (util-linux)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `pushca ARGS` on a pseudo-terminal.
fn pushca_on_terminal(dir: &Path, args: &[&str]) -> (i32, String) {
    let line = std::iter::once(bin())
        .chain(args.iter().map(|a| q(a)))
        .collect::<Vec<_>>()
        .join(" ");
    on_terminal(dir, &line)
}

/// A certificate, its key (plain and encrypted with `pw`) and a `.p12` of both.
fn material(d: &Path) {
    let (cert, key) = self_signed(d, "t", "ec");
    std::fs::rename(cert, d.join("c.pem")).unwrap();
    std::fs::rename(key, d.join("k.pem")).unwrap();
    openssl(
        d,
        &[
            "pkcs8", "-topk8", "-in", "k.pem", "-passout", "pass:pw", "-out", "enc.pem",
        ],
    );
    openssl(
        d,
        &[
            "pkcs12", "-export", "-in", "c.pem", "-inkey", "k.pem", "-passout", "pass:pw", "-out",
            "t.p12",
        ],
    );
}

#[test]
fn private_keys_are_never_written_to_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    material(d);
    let refused: &[&[&str]] = &[
        &[
            "key", "decrypt", "--in", "enc.pem", "--passin", "pass:pw", "--out", "-",
        ],
        &[
            "key", "decrypt", "--in", "enc.pem", "--passin", "pass:pw", "--out", "/dev/tty",
        ],
        &["key", "decrypt", "--in", "k.pem", "--out", "/dev/stdout"],
        &[
            "pem", "merge", "c.pem", "enc.pem", "--passin", "pass:pw", "--out", "-",
        ],
        &[
            "pem", "ck", "--in", "t.p12", "--passin", "pass:pw", "--out", "-",
        ],
        &[
            "p12", "to-pem", "--in", "t.p12", "--passin", "pass:pw", "--noenc", "--out", "-",
        ],
        // An encrypted key is a private key too.
        &[
            "p12",
            "to-pem",
            "--in",
            "t.p12",
            "--passin",
            "pass:pw",
            "--passout",
            "pass:x",
            "--out",
            "-",
        ],
        &[
            "p12",
            "export",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--passout",
            "pass:x",
            "--out",
            "-",
        ],
        &[
            "csr",
            "new",
            "--noenc",
            "--key-out",
            "-",
            "--out",
            "new.csr",
        ],
    ];
    for args in refused {
        let (code, screen) = pushca_on_terminal(d, args);
        assert_eq!(code, 1, "{args:?}: {screen}");
        assert!(
            !screen.contains("PRIVATE KEY") && !screen.contains("-----BEGIN"),
            "{args:?} wrote to the terminal: {screen}"
        );
        assert!(screen.contains("is a terminal"), "{args:?}: {screen}");
        assert_eq!(screen.trim().lines().count(), 1, "{args:?}: {screen}");
    }
    assert!(!d.join("new.csr").exists(), "nothing written");

    // Piped or redirected, the key is written as before.
    for args in refused.iter().filter(|a| !a.contains(&"/dev/tty")) {
        let (code, screen) = on_terminal(
            d,
            &format!(
                "{} {} | cat",
                bin(),
                args.iter().map(|a| q(a)).collect::<Vec<_>>().join(" ")
            ),
        );
        assert_eq!(code, 0, "{args:?}: {screen}");
        assert!(
            screen.contains("PRIVATE KEY-----") || args.contains(&"export"),
            "{args:?}: {screen}"
        );
        let _ = std::fs::remove_file(d.join("new.csr"));
    }
    let (code, _) = on_terminal(
        d,
        &format!(
            "{} key decrypt --in enc.pem --passin pass:pw --out - > plain.pem",
            bin()
        ),
    );
    assert_eq!(code, 0);
    assert!(std::fs::read_to_string(d.join("plain.pem"))
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));

    // Certificates alone still go to the terminal.
    let (code, screen) = pushca_on_terminal(
        d,
        &[
            "p12", "to-pem", "--in", "t.p12", "--passin", "pass:pw", "--nokeys", "--out", "-",
        ],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("-----BEGIN CERTIFICATE-----"), "{screen}");
}

#[test]
fn a_foreign_symlink_in_a_sticky_directory_does_not_redirect_a_forced_write() {
    use std::os::unix::fs::{lchown, symlink, PermissionsExt};
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("skipped: only root can give a symlink to another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    material(d);
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = d.join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let planted = tmp.join("key.pem");
    symlink(&victim, &planted).unwrap();
    lchown(&planted, Some(65534), Some(65534)).unwrap();
    let decrypt = |out: &Path| {
        pushca()
            .current_dir(d)
            .args(["key", "decrypt", "--in", "k.pem", "--force", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let out = decrypt(&planted);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&planted.display().to_string()) && err.contains("uid 65534"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

    // The user's own link there is followed, as is a foreign one elsewhere.
    let own = tmp.join("own.pem");
    symlink(&victim, &own).unwrap();
    run_ok({
        let mut c = pushca();
        c.current_dir(d)
            .args(["key", "decrypt", "--in", "k.pem", "--force", "--out"])
            .arg(&own);
        c
    });
    assert!(std::fs::read_to_string(&victim)
        .unwrap()
        .contains("PRIVATE KEY"));
    std::fs::write(&victim, b"precious").unwrap();
    let shared = d.join("not-sticky");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let foreign = shared.join("key.pem");
    symlink(&victim, &foreign).unwrap();
    lchown(&foreign, Some(65534), None).unwrap();
    let out = decrypt(&foreign);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&victim)
        .unwrap()
        .contains("PRIVATE KEY"));
}

#[test]
fn a_passphrase_over_1024_bytes_is_refused_at_the_prompt_and_on_stdin_never_cut() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A key whose passphrase is the longest allowed: 1,024 bytes.
    let longest = "p".repeat(1024);
    std::fs::write(d.join("pass"), &longest).unwrap();
    run_ok({
        let mut c = pushca();
        c.current_dir(d).args([
            "csr",
            "new",
            "--key-type",
            "ec-p256",
            "--key-out",
            "k.pem",
            "--out",
            "k.csr",
            "--passout",
            "file:pass",
        ]);
        c
    });
    let decrypt = format!(
        "env -u PUSHCA_HOME {} key decrypt --in k.pem --out out.pem",
        bin()
    );

    // One byte more at the hidden prompt: refused, not cut to the key's
    // passphrase.
    let mut t = Tty::run(d, &decrypt);
    t.expect("passphrase for k.pem:");
    t.type_line(&format!("{longest}p"));
    assert_eq!(t.exit_code(), 1, "{}", t.transcript());
    let screen = t.transcript();
    assert!(screen.contains("longer than 1,024 bytes"), "{screen}");
    assert!(
        !screen.contains("pppppppp"),
        "the passphrase is not shown: {screen}"
    );
    assert!(!d.join("out.pem").exists());
    drop(t);

    // Exactly 1,024 bytes: accepted.
    let mut t = Tty::run(d, &decrypt);
    t.expect("passphrase for k.pem:");
    t.type_line(&longest);
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());
    assert!(d.join("out.pem").exists());
    drop(t);

    // The same on stdin.
    for (line, ok) in [
        (format!("{longest}p\n"), false),
        (format!("{longest}\n"), true),
    ] {
        let out = assert_cmd::Command::cargo_bin("pushca")
            .unwrap()
            .env_remove("PUSHCA_HOME")
            .current_dir(d)
            .args([
                "key",
                "decrypt",
                "--in",
                "k.pem",
                "--passin",
                "stdin",
                "--force",
                "--out",
                "stdin.pem",
            ])
            .write_stdin(line)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), ok, "{err}");
        if !ok {
            assert!(err.contains("longer than 1,024 bytes"), "{err}");
            assert!(!d.join("stdin.pem").exists());
        }
    }
}
