//! `pushca wizard` driven through a real pseudo-terminal (tmux): the
//! all-defaults path to a complete setup whose outputs pass openssl's checks
//! and whose ck.pem connects to a TLS server using the trust store, a
//! re-asked invalid bundle ID and UDID, Ctrl-C in the middle (no partial
//! file, how to resume), the re-run on an existing home, and the refusal
//! without a terminal.

use crate::common;
use crate::common::tls;
use crate::common::tty::{tmux, Tty};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{stderr, Env};

const CA_PASS: &str = "wizard CA passphrase";
const KEY_PASS: &str = "wizard-key-pass";

/// `pushca wizard` on the home of `env`, writing into `out_dir`.
fn start_wizard(env: &Env, out_dir: &Path) -> Tty {
    Tty::run(
        out_dir,
        &format!(
            "env -u PUSHCA_HOME -u PUSHCA_CA_PASSPHRASE NO_COLOR=1 '{}' --home '{}' wizard",
            assert_cmd::cargo::cargo_bin("pushca").display(),
            env.home().display()
        ),
    )
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn require_tmux() {
    assert!(
        tmux_available(),
        "tmux is required for the wizard tests (apt install tmux)"
    );
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Answers the first step of a new home: Enter for the team name, country
/// and key type, then the CA passphrase twice.
fn new_ca(t: &mut Tty) {
    t.expect("Step 1/10: certificate authority");
    t.expect("Team (organisation) name [My Team]");
    t.enter();
    t.expect("Country (2 letters) [US]");
    t.enter();
    t.expect("CA key type");
    t.enter();
    t.expect("CA passphrase:");
    t.type_line(CA_PASS);
    t.expect("Repeat CA passphrase:");
    t.type_line(CA_PASS);
    t.expect("created the CA in");
}

#[test]
fn all_defaults_make_a_complete_setup_that_openssl_and_tls_accept() {
    require_tmux();
    let env = Env::new();
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    let mut t = start_wizard(&env, &out);
    new_ca(&mut t);
    t.expect("Step 2/10: App ID");
    t.expect("Bundle ID [com.example.app]");
    // An invalid bundle ID is refused at the prompt, with the reason.
    t.type_line("bad_id!");
    t.expect("'_' is not allowed");
    t.keys(&["BSpace"; 7]);
    t.enter();
    t.expect("created App ID");
    t.expect("Step 3/10");
    t.expect("Credential:");
    t.enter();
    t.expect("Key:");
    t.enter();
    t.expect("Key type:");
    t.enter();
    t.expect("Step 4/10: push certificate");
    t.expect("Environment:");
    t.enter();
    t.expect("Step 5/10");
    t.expect("Key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("Repeat Key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("issued universal certificate");
    t.expect("Step 6/10: devices");
    t.expect("Device UDID to register");
    // A bad UDID is re-asked with the reason; Enter on an empty line ends.
    t.type_line("00008030-XYZ");
    t.expect("error:");
    t.keys(&["BSpace"; 12]);
    t.enter();
    t.expect("Step 7/10");
    t.expect("no development profile");
    t.expect("signed production profile");
    t.expect("Step 8/10: gateway trust store");
    t.expect("Write the gateway trust store");
    t.enter();
    t.expect("  1 profile for 1 App ID");
    // The TLS identities are offered, default no; no device, no identity.
    t.expect("Step 9/10: TLS server certificate");
    t.expect("Issue a TLS server certificate for the gateway?");
    t.enter();
    t.expect("Step 10/10: device identity");
    t.expect("no enabled device in the team");
    t.expect("Done. Written:");
    t.expect("The same without the wizard");
    t.expect("cert create --app com.example.app --env universal");
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());
    // Every suggested command works as printed: no device, so no
    // development profile, and the check suggested is a production one.
    let shown = t.transcript();
    assert_no_escaped_styling(&shown, "");
    let next = run_suggested_commands(&shown, &out);
    assert!(
        next.iter()
            .any(|c| c.contains(" gateway check ") && c.ends_with("--env production")),
        "{next:?}"
    );
    assert!(
        !next.iter().any(|c| c.contains("--env development")),
        "{next:?}"
    );
    assert!(
        shown.contains("a development check needs a registered device and a development profile"),
        "{shown}"
    );

    let base = "com.example.app-universal";
    let names = files_in(&out);
    for f in [
        format!("{base}.key"),
        format!("{base}.csr"),
        format!("{base}.pem"),
        format!("{base}.p12"),
        format!("{base}-ck.pem"),
        "com.example.app-production.mobileprovision".into(),
        "trust-store".into(),
    ] {
        assert!(names.contains(&f), "{f} missing from {names:?}");
    }
    // openssl reads every output: the chain, the .p12 (OpenSSL 3, no legacy
    // provider), the encrypted key, the profile's signature.
    let ts = out.join("trust-store");
    let ca = ts.join("ca.pem");
    let v = openssl(
        &out,
        &[
            "verify",
            "-CAfile",
            ca.to_str().unwrap(),
            "-purpose",
            "sslclient",
            &format!("{base}.pem"),
        ],
    );
    assert!(v.contains(": OK"), "{v}");
    let p12 = openssl(
        &out,
        &[
            "pkcs12",
            "-in",
            &format!("{base}.p12"),
            "-passin",
            &format!("pass:{KEY_PASS}"),
            "-nokeys",
        ],
    );
    assert!(p12.contains("BEGIN CERTIFICATE"));
    openssl(
        &out,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "com.example.app-production.mobileprovision",
            "-CAfile",
            ca.to_str().unwrap(),
            "-out",
            "/dev/null",
        ],
    );
    // The ck.pem, its key decrypted by openssl, connects to a TLS server
    // configured from the trust store.
    let key = openssl(
        &out,
        &[
            "pkey",
            "-in",
            &format!("{base}-ck.pem"),
            "-passin",
            &format!("pass:{KEY_PASS}"),
        ],
    );
    let cert = std::fs::read_to_string(out.join(format!("{base}.pem"))).unwrap();
    let plain_ck = env.path("plain-ck.pem");
    std::fs::write(&plain_ck, format!("{cert}{key}")).unwrap();
    let server = tls::server_identity(env.dir.path());
    let outcome = tls::rustls_handshake(&server, &ca, &ts.join("crl.pem"), &plain_ck);
    assert!(matches!(outcome, tls::TlsOutcome::Accepted), "{outcome:?}");
    // The gateway's own check allows it.
    let o = env
        .cmd()
        .args([
            "gateway",
            "check",
            "--trust-store",
            ts.to_str().unwrap(),
            "--cert",
            out.join(format!("{base}-ck.pem")).to_str().unwrap(),
            "--topic",
            "com.example.app",
            "--env",
            "production",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn ctrl_c_leaves_no_partial_file_and_a_rerun_reuses_the_home() {
    require_tmux();
    let env = Env::new();
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    {
        let mut t = start_wizard(&env, &out);
        new_ca(&mut t);
        t.expect("Bundle ID [com.example.app]");
        t.type_line("com.example.first");
        t.expect("Step 3/10");
        t.expect("Credential:");
        t.enter();
        t.expect("Key:");
        t.keys(&["C-c"]);
        t.expect("wizard interrupted at step 3/10; nothing was written");
        t.expect("run `pushca wizard`");
        assert_eq!(t.exit_code(), 1);
    }
    assert_eq!(files_in(&out), Vec::<String>::new(), "no file written");
    // Ctrl-C at a (raw-mode) passphrase prompt stops cleanly too.
    {
        let mut t = start_wizard(&env, &out);
        t.expect("already has a CA; reusing it");
        t.expect("CA passphrase:");
        t.type_line("not the passphrase");
        t.expect("does not unlock the CA; try again");
        t.expect("CA passphrase:");
        t.keys(&["C-c"]);
        t.expect("wizard interrupted at step 1/10");
        assert_eq!(t.exit_code(), 1);
    }
    assert_eq!(files_in(&out), Vec::<String>::new());
    // The re-run reuses the CA (no new passphrase, no confirmation), the
    // team and the App ID, and registers a device for a development profile.
    let mut t = start_wizard(&env, &out);
    t.expect("already has a CA; reusing it");
    t.expect("CA passphrase:");
    t.type_line(CA_PASS);
    t.expect("team My Team");
    t.expect("Bundle ID [com.example.first]");
    t.enter();
    t.expect("reusing App ID");
    t.expect("Credential:");
    t.enter();
    t.expect("Key:");
    // An existing CSR file instead of a new key (Keychain Access's).
    t.keys(&["Down"]);
    t.enter();
    t.expect("CSR file");
    t.type_line("missing.csr");
    t.expect("cannot read missing.csr");
    t.keys(&["BSpace"; 11]);
    let csr = env.openssl_csr("keychain", "rsa:2048", &[]);
    t.type_line(csr.to_str().unwrap());
    t.expect("Environment:");
    t.keys(&["Down"]); // development
    t.enter();
    t.expect("issued development certificate");
    t.expect("Device UDID to register");
    t.type_line("00008030-001A0C3E0E68802E");
    t.expect("Device name [Device 00008030]");
    t.enter();
    t.expect("registered device 00008030-001A0C3E0E68802E");
    t.expect("Device UDID to register");
    t.enter();
    t.expect("signed development profile");
    t.expect("Write the gateway trust store");
    t.enter();
    // Both TLS identities this time: a bad DNS name is asked again.
    t.expect("Issue a TLS server certificate for the gateway?");
    t.keys(&["y"]);
    t.expect("DNS name(s) of the gateway, comma-separated [localhost]");
    t.type_line("bad_name");
    t.expect("character '_' is not allowed");
    t.keys(&["BSpace"; 8]);
    t.type_line("gw.example.test, localhost");
    t.expect("Server key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("Repeat Server key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("issued server certificate");
    t.expect("Step 10/10: device identity");
    t.expect("Issue a device identity?");
    t.keys(&["y"]);
    t.expect("Device:");
    t.enter();
    t.expect("Device key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("Repeat Device key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("issued the identity of device 00008030-001A0C3E0E68802E");
    t.expect("Done. Written:");
    t.expect("server-cert --dns gw.example.test --dns localhost");
    t.expect("device identity 00008030-001A0C3E0E68802E");
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());
    // With a device and a development profile, the suggested development
    // check works as printed (the certificate comes from a CSR: no ck.pem).
    let shown = t.transcript();
    assert_no_escaped_styling(&shown, "");
    let next = run_suggested_commands(&shown, &out);
    assert!(
        next.iter()
            .any(|c| c.contains(" gateway check ") && c.ends_with("--env development")),
        "{next:?}"
    );
    // openssl: a server certificate and a client identity under the
    // trust store's CA certificates.
    let ca = out.join("trust-store").join("ca.pem");
    for (file, purpose) in [
        ("server-gw.example.test.pem", "sslserver"),
        ("device-00008030-001A0C3E0E68802E.pem", "sslclient"),
    ] {
        let v = openssl(
            &out,
            &[
                "verify",
                "-CAfile",
                ca.to_str().unwrap(),
                "-purpose",
                purpose,
                file,
            ],
        );
        assert!(v.contains(": OK"), "{file}: {v}");
    }
    let p12 = openssl(
        &out,
        &[
            "pkcs12",
            "-in",
            "server-gw.example.test.p12",
            "-passin",
            &format!("pass:{KEY_PASS}"),
            "-nokeys",
        ],
    );
    assert!(p12.contains("BEGIN CERTIFICATE"), "{p12}");
    let names = files_in(&out);
    assert!(
        names.contains(&"com.example.first-development.pem".to_string())
            && names.contains(&"com.example.first-development.mobileprovision".to_string())
            && names.contains(&"trust-store".to_string()),
        "{names:?}"
    );
    // No key material from a CSR (the .p12 files are the TLS identities').
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("com.example.first") && n.ends_with(".p12")),
        "{names:?}"
    );
    let teams = env.cmd().args(["--json", "team", "list"]).output().unwrap();
    let j = common::stdout_json(&teams);
    assert_eq!(j["teams"].as_array().map(Vec::len), Some(1), "{j}");
}

#[test]
fn without_a_terminal_it_says_to_use_the_commands() {
    let env = Env::new();
    let o = env.cmd().arg("wizard").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("needs a terminal"), "{e}");
    assert!(e.contains("pushca init"), "{e}");
    assert!(!env.home().exists(), "nothing created");
}

/// `error:` is coloured on a terminal, never with `NO_COLOR` or into a pipe.
#[test]
fn colours_only_on_a_terminal_and_never_with_no_color() {
    require_tmux();
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin("pushca");
    let run = |no_color: bool| -> String {
        let mut t = Tty::run(
            env.dir.path(),
            &format!(
                "{} '{}' --home '{}' cert show missing.pem",
                if no_color {
                    "NO_COLOR=1"
                } else {
                    "env -u NO_COLOR"
                },
                bin.display(),
                env.home().display()
            ),
        );
        t.expect("EXIT:");
        t.screen_with_escapes()
    };
    let coloured = run(false);
    assert!(
        coloured.contains("error:") && coloured.contains('\u{1b}'),
        "{coloured:?}"
    );
    let plain = run(true);
    assert!(
        plain.contains("error:") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
    let o = env
        .cmd()
        .args(["cert", "show", "missing.pem"])
        .output()
        .unwrap();
    assert!(!o.stderr.contains(&0x1b), "{}", stderr(&o));
}

/// Without `--passout` or `--noenc`, an output password is asked for on the
/// terminal, hidden and twice; two different entries are refused and
/// nothing is written.
#[test]
fn output_passwords_are_prompted_hidden_and_confirmed_on_a_terminal() {
    require_tmux();
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin("pushca");
    let session = |tag: &str, first: &str, second: &str| -> String {
        let mut t = Tty::run(
            env.dir.path(),
            &format!(
                "NO_COLOR=1 '{}' --home '{}' csr new --key-out {tag}.key --out {tag}.csr",
                bin.display(),
                env.home().display()
            ),
        );
        t.expect("passphrase for the new key:");
        t.type_line(first);
        t.expect("Repeat passphrase for the new key:");
        t.type_line(second);
        t.expect("EXIT:");
        t.transcript()
    };
    let shown = session("ok", "typed-secret", "typed-secret");
    assert!(shown.contains("EXIT:0"), "{shown}");
    assert!(!shown.contains("typed-secret"), "never echoed: {shown}");
    let key = env.path("ok.key");
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .contains("ENCRYPTED PRIVATE KEY"));
    let o = Command::new("openssl")
        .args([
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-passin",
            "pass:typed-secret",
            "-noout",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "openssl reads it with the typed password"
    );
    let shown = session("differ", "one", "two");
    assert!(
        shown.contains("the two entries differ") && shown.contains("EXIT:1"),
        "{shown}"
    );
    assert!(!env.path("differ.key").exists() && !env.path("differ.csr").exists());
}

/// A damaged CA key is reported at once, not taken for a wrong passphrase.
#[test]
fn a_damaged_ca_key_is_an_error_not_a_retry() {
    require_tmux();
    let env = Env::new();
    env.init();
    std::fs::write(
        env.home().join("ca").join("issuing.key"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    let mut t = start_wizard(&env, &out);
    t.expect("already has a CA; reusing it");
    t.expect("CA passphrase:");
    t.type_line(common::CA_PASS);
    assert_eq!(t.exit_code(), 1);
    let shown = t.transcript();
    assert!(!shown.contains("try again"), "{shown}");
    assert!(shown.contains("error:"), "{shown}");
}

/// A CSR path typed at the wizard's prompt is read like every input file
/// (regular files only, size-capped): a FIFO without a writer (which hung
/// the wizard) and `/dev/zero` (read until memory ran out) are refused with
/// the reason and asked again, at once. The wizard runs under a 2 GiB
/// address-space limit, so an unbounded read fails the test instead of
/// exhausting the machine.
#[test]
fn a_csr_path_that_is_not_a_regular_file_is_refused_and_asked_again() {
    require_tmux();
    let env = Env::new();
    env.init_with_app();
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    let fifo = env.path("req.fifo");
    let o = Command::new("mkfifo").arg(&fifo).output().unwrap();
    assert!(o.status.success(), "mkfifo: {}", stderr(&o));
    let mut t = Tty::run(
        &out,
        &format!(
            "ulimit -v 2097152; env -u PUSHCA_HOME -u PUSHCA_CA_PASSPHRASE NO_COLOR=1 '{}' --home '{}' wizard",
            assert_cmd::cargo::cargo_bin("pushca").display(),
            env.home().display()
        ),
    );
    t.expect("already has a CA; reusing it");
    t.expect("CA passphrase:");
    t.type_line(common::CA_PASS);
    t.expect("Bundle ID [com.example.app]");
    t.enter();
    t.expect("reusing App ID");
    t.expect("Credential:");
    t.enter();
    t.expect("Key:");
    t.keys(&["Down"]);
    t.enter();
    t.expect("CSR file");
    let typed = fifo.to_str().unwrap();
    t.type_line(typed);
    t.expect("not a regular file (a FIFO); pushca reads only regular files");
    t.keys(&vec!["BSpace"; typed.chars().count()]);
    t.type_line("/dev/zero");
    t.expect("/dev/zero: not a regular file (a character device)");
    t.keys(&["BSpace"; 9]);
    let csr = env.openssl_csr("keychain", "ec:P-256", &[]);
    t.type_line(csr.to_str().unwrap());
    t.expect("Environment:");
    t.keys(&["C-c"]);
    t.expect("wizard interrupted at step 4/10");
    assert_eq!(t.exit_code(), 1, "{}", t.transcript());
    assert_eq!(files_in(&out), Vec::<String>::new(), "no file written");
}

/// The hidden prompt shows nothing of what is typed, even one key at a time
/// with pauses between the keys (the screen is checked after every key).
#[test]
fn a_hidden_prompt_shows_no_typed_character_even_typed_slowly() {
    require_tmux();
    let env = Env::new();
    let mut t = Tty::run(
        env.dir.path(),
        &format!(
            "NO_COLOR=1 '{}' --home '{}' csr new --key-type ec-p256 --key-out k.key --out k.csr",
            assert_cmd::cargo::cargo_bin("pushca").display(),
            env.home().display()
        ),
    );
    t.expect("passphrase for the new key:");
    let prompt_line = |t: &Tty| -> String {
        let s = t.transcript();
        let line = s
            .lines()
            .rfind(|l| l.contains("passphrase for the new key:"))
            .unwrap_or_default();
        line.trim_end().to_string()
    };
    for (i, c) in "QZXJQZXJ".chars().enumerate() {
        tmux(&t.name, &["send-keys", "-t", &t.name, "-l", &c.to_string()]);
        std::thread::sleep(Duration::from_millis(250));
        let line = prompt_line(&t);
        assert!(
            line.ends_with("passphrase for the new key:") && !t.transcript().contains(c),
            "key {i} ({c}) shown: {line:?}\n{}",
            t.transcript()
        );
    }
    t.enter();
    t.expect("Repeat passphrase for the new key:");
    for c in "QZXJQZXJ".chars() {
        tmux(&t.name, &["send-keys", "-t", &t.name, "-l", &c.to_string()]);
        std::thread::sleep(Duration::from_millis(150));
    }
    t.enter();
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());
    let shown = t.transcript();
    assert!(!shown.contains('Q') && !shown.contains('Z'), "{shown}");
    assert!(env.path("k.key").exists() && env.path("k.csr").exists());
}

/// Ctrl-C at a hidden prompt outside the wizard ends pushca as Ctrl-C does
/// (SIGINT, status 130) and leaves the terminal as it was: what is typed
/// next is echoed again.
#[test]
fn ctrl_c_at_a_hidden_prompt_restores_the_terminal() {
    require_tmux();
    let env = Env::new();
    let mut t = Tty::run(
        env.dir.path(),
        &format!(
            "NO_COLOR=1 '{}' --home '{}' csr new --key-type ec-p256 --key-out k.key --out k.csr",
            assert_cmd::cargo::cargo_bin("pushca").display(),
            env.home().display()
        ),
    );
    t.expect("passphrase for the new key:");
    tmux(&t.name, &["send-keys", "-t", &t.name, "-l", "QZX"]);
    std::thread::sleep(Duration::from_millis(100));
    t.keys(&["C-c"]);
    assert_eq!(t.exit_code(), 130, "{}", t.transcript());
    // The shell now sleeps: the terminal echoes what is typed.
    tmux(&t.name, &["send-keys", "-t", &t.name, "-l", "echo-is-back"]);
    t.expect("echo-is-back");
    assert!(!t.transcript().contains("QZX"), "{}", t.transcript());
    assert!(!env.path("k.key").exists());
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

/// The hidden prompt keeps the terminal in raw mode for the whole line, not
/// key by key: keys arriving in a burst (a paste, a fast typist, a password
/// manager typing) are never echoed. Each byte is written on its own to the
/// terminal, as a keyboard does; a prompt that restored the terminal's echo
/// between two keys showed those that arrived in between.
#[test]
fn a_hidden_prompt_echoes_nothing_of_a_burst_of_keys() {
    // Four runs, with pauses after every key, every 3rd, every 7th or none:
    // together 8,000 keys.
    for (run, every) in [1usize, 3, 7, 0].into_iter().enumerate() {
        let (echoed, screen) = burst_at_hidden_prompts(every);
        assert_eq!(
            echoed, 0,
            "run {run}: {echoed} of 2,000 keys echoed: {screen:?}"
        );
    }
}

/// `csr new` on a fresh pseudo-terminal; its two hidden prompts each get
/// 1,000 keys, one write each, with a 20 µs pause after every `every`-th
/// (none when 0). Returns how many keys were shown, and the screen.
fn burst_at_hidden_prompts(every: usize) -> (usize, String) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    let env = Env::new();
    let (master, slave) = openpty();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pushca"))
        .args(["--home", env.home().to_str().unwrap()])
        .args(["csr", "new", "--key-type", "ec-p256", "--key-out", "k.key"])
        .args(["--out", "k.csr"])
        .current_dir(env.dir.path())
        .env_remove("PUSHCA_HOME")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut reader = master.try_clone().unwrap();
    let sink = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    let wait_for = |text: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !shown().contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} in {:?}", shown());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut keyboard = master;
    let burst = |keyboard: &mut std::fs::File| {
        for i in 0..1000 {
            keyboard.write_all(b"Z").unwrap();
            if every > 0 && i % every == 0 {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
        keyboard.write_all(b"\r").unwrap();
    };
    wait_for("passphrase for the new key:");
    burst(&mut keyboard);
    wait_for("Repeat passphrase for the new key:");
    burst(&mut keyboard);
    let status = child.wait().unwrap();
    let screen = shown();
    assert!(status.success(), "{screen}");
    assert!(env.path("k.key").exists());
    (screen.matches('Z').count(), screen)
}

/// Fails when pushca's styling is shown as text (`\u{1b}[1m`, `\x1b[0m`)
/// instead of reaching the terminal as styling: `shown` (a transcript, as
/// text) may hold a written-out escape only inside `hostile`, the escaped
/// form of untrusted text the test planted.
fn assert_no_escaped_styling(shown: &str, hostile: &str) {
    let rest = if hostile.is_empty() {
        shown.to_string()
    } else {
        shown.replace(hostile, "")
    };
    for text in ["\\u{1b}", "\\x1b", "\\e[", "\\033"] {
        assert!(
            !rest.contains(text),
            "styling shown as text ({text}):\n{shown}"
        );
    }
}

/// The command lines the wizard printed under `Next:`, as printed.
fn suggested_commands(transcript: &str) -> Vec<String> {
    let lines: Vec<&str> = transcript.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.trim_end() == "Next:")
        .unwrap_or_else(|| panic!("no Next: in\n{transcript}"));
    lines[start + 1..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim())
        .filter(|l| l.starts_with("pushca ") || l.starts_with("python3 "))
        .map(str::to_string)
        .collect()
}

/// Runs each command the wizard suggested under `Next:` exactly as printed
/// (`pushca` being the binary under test), in the directory the wizard ran
/// in, on what it set up: each must succeed. Returns them.
fn run_suggested_commands(transcript: &str, dir: &Path) -> Vec<String> {
    let commands = suggested_commands(transcript);
    assert!(
        commands.iter().any(|c| c.contains(" gateway check ")),
        "no gateway check suggested:\n{transcript}"
    );
    let bin = assert_cmd::cargo::cargo_bin("pushca");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for c in &commands {
        let o = Command::new("bash")
            .args(["-c", c])
            .current_dir(dir)
            .env("PATH", &path)
            .env_remove("PUSHCA_HOME")
            .env_remove("PUSHCA_CA_PASSPHRASE")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "suggested `{c}` failed: {}{}\nwizard:\n{transcript}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
    }
    commands
}

/// `line` without its escape sequences (tmux writes SGR ones: `ESC [ ... m`).
fn without_escapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The line of `shown` (with escape sequences) whose text holds `text`.
fn line_with<'a>(shown: &'a str, text: &str) -> &'a str {
    shown
        .lines()
        .find(|l| without_escapes(l).contains(text))
        .unwrap_or_else(|| panic!("no {text:?} in {shown:?}"))
}

/// A self-signed certificate that expired in 2001, its subject holding
/// escape sequences, and its key: `evil.pem`, `evil.key` in `dir`.
fn expired_hostile_certificate(dir: &Path) {
    let kp = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "evil\u{1b}[7mX");
    p.not_before = rcgen::date_time_ymd(2000, 1, 1);
    p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let cert = p.self_signed(&kp).unwrap();
    std::fs::write(dir.join("evil.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("evil.key"), kp.serialize_pem()).unwrap();
}

/// Every command that styles its output, on a real terminal
/// (`TERM=xterm-256color`), with `NO_COLOR` unset and set: the wizard's step
/// headings and the `error:` / `hint:` / `warning:` labels reach the
/// terminal as styling (bold, colours; none at all with `NO_COLOR`), never
/// as escaped text such as `\u{1b}[1m`, while untrusted text in the same
/// output (a home whose name holds an ESC byte, a certificate subject with
/// escape sequences) is still shown escaped, not acted on.
#[test]
fn styling_reaches_the_terminal_and_only_untrusted_text_is_escaped() {
    require_tmux();
    let bin = assert_cmd::cargo::cargo_bin("pushca");
    // As the terminal shows the planted ESC [7m (reverse video) X.
    let hostile = "\\u{1b}[7mX";
    for colour in [true, false] {
        let env = Env::new();
        let vars = format!(
            "env -u PUSHCA_HOME -u PUSHCA_CA_PASSPHRASE {} TERM=xterm-256color",
            if colour { "-u NO_COLOR" } else { "NO_COLOR=1" }
        );
        let home = format!("$'{}/home\\e[7mX'", env.dir.path().display());
        let check = |t: &Tty, styled: &[&str]| {
            let plain = t.transcript();
            let with_escapes = t.transcript_with_escapes();
            assert!(plain.contains(hostile), "{plain}");
            assert_no_escaped_styling(&plain, hostile);
            // The planted ESC never reached the terminal: no reverse video.
            assert!(!with_escapes.contains("\u{1b}[7m"), "{with_escapes:?}");
            for text in styled {
                let line = line_with(&with_escapes, text);
                assert_eq!(
                    line.contains('\u{1b}'),
                    colour,
                    "colour {colour}: {text:?} in {line:?}"
                );
            }
            if !colour {
                assert!(!with_escapes.contains('\u{1b}'), "{with_escapes:?}");
            }
        };

        // The wizard: headings, prompts, then Ctrl-C (error: and hint:).
        let mut t = Tty::run(
            env.dir.path(),
            &format!("{vars} '{}' --home {home} wizard", bin.display()),
        );
        t.expect("Step 1/10: certificate authority");
        t.expect("Team (organisation) name");
        t.enter();
        t.expect("Country (2 letters)");
        t.enter();
        t.expect("CA key type");
        t.enter();
        t.expect("CA passphrase:");
        t.type_line(CA_PASS);
        t.expect("Repeat CA passphrase:");
        t.type_line(CA_PASS);
        t.expect("created the CA in");
        t.expect("Step 2/10: App ID");
        t.expect("Bundle ID");
        t.enter();
        t.expect("Step 3/10");
        t.expect("push certificate (TLS client certificate");
        t.keys(&["C-c"]);
        t.expect("wizard interrupted at step 3/10");
        assert_eq!(t.exit_code(), 1, "{}", t.transcript());
        check(
            &t,
            &[
                "Step 1/10: certificate authority",
                "Step 2/10: App ID",
                "error: wizard interrupted",
                "hint: no file is half-written",
            ],
        );

        // error: and hint: of any command, about a hostile home.
        let mut t = Tty::run(
            env.dir.path(),
            &format!(
                "{vars} '{}' --home $'{}/none\\e[7mX' status",
                bin.display(),
                env.dir.path().display()
            ),
        );
        assert_eq!(t.exit_code(), 1, "{}", t.transcript());
        check(&t, &["error: ", "hint: "]);

        // warning: about a certificate whose subject carries escapes.
        expired_hostile_certificate(env.dir.path());
        let mut t = Tty::run(
            env.dir.path(),
            &format!(
                "{vars} '{}' --home none p12 export --cert evil.pem --key evil.key --noenc --out evil.p12",
                bin.display()
            ),
        );
        assert_eq!(t.exit_code(), 0, "{}", t.transcript());
        check(&t, &["warning: the certificate in evil.pem expired"]);
    }
}

fn pyjwt_available() -> bool {
    Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The auth-key branch: "auth key" at the credential step makes a key
/// (`key create`), prints the provider settings, signs profiles without a
/// push certificate, and every suggested command works as printed, the
/// token check (a JWT made by PyJWT from the `.p8`) included: a
/// team-scoped development key with a device, then, on the same home, a
/// topic-specific production key.
#[test]
fn the_auth_key_branch_makes_a_key_profiles_and_a_working_token_check() {
    require_tmux();
    if !pyjwt_available() {
        eprintln!("SKIPPED: python3 with PyJWT (and cryptography) is not installed");
        return;
    }
    let env = Env::new();
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    let mut t = start_wizard(&env, &out);
    new_ca(&mut t);
    t.expect("Bundle ID [com.example.app]");
    t.enter();
    t.expect("Step 3/10: provider credential");
    t.expect("Credential:");
    t.keys(&["Down"]);
    t.enter();
    t.expect("Step 4/10: auth key");
    t.expect("Environment (a key signs for one):");
    t.enter();
    t.expect("Scope:");
    t.enter();
    t.expect("created development auth key");
    t.expect("Step 5/10: provider settings");
    t.expect("Private key:");
    t.expect("Step 6/10: devices");
    t.expect("Device UDID to register");
    t.type_line("00008030-001A0C3E0E68802E");
    t.expect("Device name [Device 00008030]");
    t.enter();
    t.expect("Device UDID to register");
    t.enter();
    t.expect("Step 7/10");
    t.expect("signed development profile");
    t.expect("Write the gateway trust store");
    t.enter();
    t.expect("  1 profile for 1 App ID");
    t.expect("Issue a TLS server certificate for the gateway?");
    t.enter();
    t.expect("Issue a device identity?");
    t.enter();
    t.expect("Done. Written:");
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());
    let shown = t.transcript();
    let keys: serde_json::Value = serde_json::from_slice(
        &env.cmd()
            .args(["--json", "key", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let k = &keys["keys"][0];
    let kid = k["key_id"].as_str().unwrap();
    assert_eq!(
        (k["environment"].as_str(), k["scope"].as_str()),
        (Some("development"), Some("team")),
        "{keys}"
    );
    // The provider settings: Key ID, Team ID, the .p8.
    let p8 = format!("AuthKey_{kid}.p8");
    for s in [
        format!("Key ID:      {kid}"),
        "Team ID:".to_string(),
        format!("Private key: ./{p8} (shown once"),
    ] {
        assert!(shown.contains(&s), "{s} not in\n{shown}");
    }
    assert!(out.join(&p8).is_file());
    assert!(
        shown.contains("key create --env development --out-dir"),
        "{shown}"
    );
    // No certificate was issued; every suggestion works, the token check too.
    assert!(!files_in(&out).iter().any(|f| f.ends_with(".pem")));
    let next = run_suggested_commands(&shown, &out);
    assert!(
        next.iter().any(|c| c.starts_with("python3 ")
            && c.contains("gateway check")
            && c.contains("--token -")
            && c.ends_with("--env development")),
        "{next:?}"
    );

    // Again on the same home: a topic-specific production key; the
    // production profile (all devices) needs no certificate either.
    let mut t = start_wizard(&env, &out);
    t.expect("CA passphrase:");
    t.type_line(CA_PASS);
    t.expect("Bundle ID [com.example.app]");
    t.enter();
    t.expect("Credential:");
    t.keys(&["Down"]);
    t.enter();
    t.expect("Environment (a key signs for one):");
    t.keys(&["Down"]);
    t.enter();
    t.expect("Scope:");
    t.keys(&["Down"]);
    t.enter();
    t.expect("created production auth key");
    t.expect("Device UDID to register");
    t.enter();
    t.expect("signed production profile");
    t.expect("Write the gateway trust store");
    t.enter();
    t.expect("Issue a TLS server certificate for the gateway?");
    t.enter();
    t.expect("Issue a device identity?");
    t.enter();
    t.expect("Done. Written:");
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());
    let shown = t.transcript();
    let shown = &shown[shown.rfind("Step 4/10").unwrap()..];
    assert!(
        shown.contains("key create --env production --app com.example.app --out-dir"),
        "{shown}"
    );
    let next = run_suggested_commands(shown, &out);
    assert!(
        next.iter()
            .any(|c| c.starts_with("python3 ") && c.ends_with("--env production")),
        "{next:?}"
    );
}

/// The credential step counts the files of an earlier run (`1 file`, `2
/// files`; never `exist(s)`).
#[test]
fn files_of_an_earlier_run_are_counted() {
    require_tmux();
    let env = Env::new();
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    for f in [
        "com.example.app-universal.pem",
        "com.example.app-universal-ck.pem",
    ] {
        std::fs::write(out.join(f), "earlier").unwrap();
    }
    let mut t = start_wizard(&env, &out);
    new_ca(&mut t);
    t.expect("Bundle ID [com.example.app]");
    t.enter();
    t.expect("Credential:");
    t.enter();
    t.expect("Key:");
    t.enter();
    t.expect("Key type:");
    t.enter();
    t.expect("Environment:");
    t.enter();
    t.expect("2 files from an earlier run: ");
    t.expect("Issue a new certificate and replace them?");
    t.keys(&["C-c"]);
    t.expect("wizard interrupted");
    assert!(!t.transcript().contains("exist(s)"));
}
