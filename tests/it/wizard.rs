//! `pushca wizard` driven through a real pseudo-terminal (tmux): the
//! all-defaults path to a complete setup whose outputs pass openssl's checks
//! and whose ck.pem connects to a TLS server using the trust store, a
//! re-asked invalid bundle ID and UDID, Ctrl-C in the middle (no partial
//! file, how to resume), the re-run on an existing home, and the refusal
//! without a terminal.

use crate::common;
use crate::common::tls;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{stderr, Env};

const CA_PASS: &str = "wizard CA passphrase";
const KEY_PASS: &str = "wizard-key-pass";

/// One tmux session running `pushca wizard`, killed on drop.
struct Tty {
    name: String,
    /// How many times each expected text was already seen (prompts redraw
    /// their lines, so offsets into the transcript are not stable).
    seen: std::collections::HashMap<String, usize>,
}

/// tmux on its own server (socket `sock`): tests in parallel never race to
/// start one shared server.
fn tmux(sock: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(["-L", sock])
        .args(args)
        .output()
        .expect("tmux is installed (apt install tmux)")
}

impl Tty {
    /// Runs `command` (a shell command line) in `dir` on a new tmux server;
    /// its exit status is printed after it ends, then the shell waits, so the
    /// pane (and its transcript) stays readable.
    fn run(dir: &Path, command: &str) -> Tty {
        static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "pushca-tty-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let script = format!(
            "cd '{}' && {command}; echo \"EXIT:$?\"; sleep 600",
            dir.display()
        );
        let o = tmux(
            &name,
            &[
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "200",
                "-y",
                "60",
                "bash",
                "-c",
                &script,
            ],
        );
        assert!(o.status.success(), "tmux: {}", stderr(&o));
        tmux(
            &name,
            &["set-option", "-t", &name, "history-limit", "10000"],
        );
        Tty {
            name,
            seen: Default::default(),
        }
    }

    /// `pushca wizard` on the home of `env`, writing into `out_dir`.
    fn start(env: &Env, out_dir: &Path) -> Tty {
        Tty::run(
            out_dir,
            &format!(
                "env -u PUSHCA_HOME -u PUSHCA_CA_PASSPHRASE NO_COLOR=1 '{}' --home '{}' wizard",
                assert_cmd::cargo::cargo_bin("pushca").display(),
                env.home().display()
            ),
        )
    }

    /// The visible screen with its escape sequences (colours).
    fn screen_with_escapes(&self) -> String {
        let o = tmux(&self.name, &["capture-pane", "-p", "-e", "-t", &self.name]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn transcript(&self) -> String {
        let o = tmux(
            &self.name,
            &["capture-pane", "-p", "-J", "-S", "-10000", "-t", &self.name],
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Waits until `text` appears once more than earlier calls saw it.
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let want = self.seen.get(text).copied().unwrap_or(0) + 1;
        loop {
            let t = self.transcript();
            if t.matches(text).count() >= want {
                self.seen.insert(text.to_string(), want);
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {text:?}; transcript:\n{t}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            tmux(&self.name, &["send-keys", "-t", &self.name, k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn enter(&self) {
        self.keys(&["Enter"]);
    }

    fn type_line(&self, text: &str) {
        tmux(&self.name, &["send-keys", "-t", &self.name, "-l", text]);
        std::thread::sleep(Duration::from_millis(60));
        self.enter();
    }

    /// Runs to the end and returns the exit status the shell printed.
    fn exit_code(&mut self) -> i32 {
        self.expect("EXIT:");
        let t = self.transcript();
        t.rsplit("EXIT:")
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no exit status in {t}"))
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        tmux(&self.name, &["kill-server"]);
    }
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
    t.expect("Step 1/8: certificate authority");
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
    let mut t = Tty::start(&env, &out);
    new_ca(&mut t);
    t.expect("Step 2/8: App ID");
    t.expect("Bundle ID [com.example.app]");
    // An invalid bundle ID is refused at the prompt, with the reason.
    t.type_line("bad_id!");
    t.expect("'_' is not allowed");
    t.keys(&["BSpace"; 7]);
    t.enter();
    t.expect("created App ID");
    t.expect("Step 3/8");
    t.expect("Key:");
    t.enter();
    t.expect("Key type:");
    t.enter();
    t.expect("Step 4/8: push certificate");
    t.expect("Environment:");
    t.enter();
    t.expect("Step 5/8");
    t.expect("Key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("Repeat Key and .p12 password:");
    t.type_line(KEY_PASS);
    t.expect("issued universal certificate");
    t.expect("Step 6/8: devices");
    t.expect("Device UDID to register");
    // A bad UDID is re-asked with the reason; Enter on an empty line ends.
    t.type_line("00008030-XYZ");
    t.expect("error:");
    t.keys(&["BSpace"; 12]);
    t.enter();
    t.expect("Step 7/8");
    t.expect("no development profile");
    t.expect("signed production profile");
    t.expect("Step 8/8: gateway trust store");
    t.expect("Write the gateway trust store");
    t.enter();
    t.expect("Done. Written:");
    t.expect("The same without the wizard");
    t.expect("cert create --app com.example.app --env universal");
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());

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
        let mut t = Tty::start(&env, &out);
        new_ca(&mut t);
        t.expect("Bundle ID [com.example.app]");
        t.type_line("com.example.first");
        t.expect("Step 3/8");
        t.expect("Key:");
        t.keys(&["C-c"]);
        t.expect("wizard interrupted at step 3/8; nothing was written");
        t.expect("run `pushca wizard`");
        assert_eq!(t.exit_code(), 1);
    }
    assert_eq!(files_in(&out), Vec::<String>::new(), "no file written");
    // Ctrl-C at a (raw-mode) passphrase prompt stops cleanly too.
    {
        let mut t = Tty::start(&env, &out);
        t.expect("already has a CA; reusing it");
        t.expect("CA passphrase:");
        t.type_line("not the passphrase");
        t.expect("does not unlock the CA; try again");
        t.expect("CA passphrase:");
        t.keys(&["C-c"]);
        t.expect("wizard interrupted at step 1/8");
        assert_eq!(t.exit_code(), 1);
    }
    assert_eq!(files_in(&out), Vec::<String>::new());
    // The re-run reuses the CA (no new passphrase, no confirmation), the
    // team and the App ID, and registers a device for a development profile.
    let mut t = Tty::start(&env, &out);
    t.expect("already has a CA; reusing it");
    t.expect("CA passphrase:");
    t.type_line(CA_PASS);
    t.expect("team My Team");
    t.expect("Bundle ID [com.example.first]");
    t.enter();
    t.expect("reusing App ID");
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
    t.expect("Done. Written:");
    assert_eq!(t.exit_code(), 0, "{}", t.transcript());
    let names = files_in(&out);
    assert!(
        names.contains(&"com.example.first-development.pem".to_string())
            && names.contains(&"com.example.first-development.mobileprovision".to_string())
            && names.contains(&"trust-store".to_string()),
        "{names:?}"
    );
    // No key material from a CSR.
    assert!(!names.iter().any(|n| n.ends_with(".p12")), "{names:?}");
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
    let mut t = Tty::start(&env, &out);
    t.expect("already has a CA; reusing it");
    t.expect("CA passphrase:");
    t.type_line(common::CA_PASS);
    assert_eq!(t.exit_code(), 1);
    let shown = t.transcript();
    assert!(!shown.contains("try again"), "{shown}");
    assert!(shown.contains("error:"), "{shown}");
}
