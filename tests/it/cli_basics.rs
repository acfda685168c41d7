//! The command contract outside issuance: init, secret sources, teams, App IDs,
//! templates, cert list/show, JSON output and exit codes.

use crate::common;

use std::io::Write;

use common::{stderr, stdout_json, Env, CA_PASS};

#[test]
fn init_creates_the_hierarchy_with_private_keys_and_refuses_to_overwrite() {
    let env = Env::new();
    let out = env
        .cmd()
        .args([
            "--json",
            "init",
            "--team-name",
            "Example Corp",
            "--ca-passin",
            &format!("pass:{CA_PASS}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    let team_id = doc["team"]["team_id"].as_str().unwrap().to_string();
    assert_eq!(team_id.len(), 10);
    assert!(team_id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    assert_eq!(doc["key_type"], "ec-p256");
    for name in ["root", "issuing", "profile-signer"] {
        let key = env.home().join(format!("ca/{name}.key"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{name}.key");
        assert!(std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    }
    // The chain verifies with openssl: issuing and profile signer under root.
    let root = env.ca_pem("root");
    for name in ["issuing", "profile-signer"] {
        let mut args = vec!["verify", "-x509_strict", "-CAfile", root.to_str().unwrap()];
        let issuing = env.ca_pem("issuing");
        if name == "profile-signer" {
            args.extend(["-untrusted", issuing.to_str().unwrap()]);
        }
        let p = env.ca_pem(name);
        args.push(p.to_str().unwrap());
        env.openssl(&args);
    }
    // Team listed as default.
    let out = env.cmd().args(["--json", "team", "list"]).output().unwrap();
    let teams = stdout_json(&out);
    assert_eq!(teams["teams"][0]["team_id"], team_id.as_str());
    assert_eq!(teams["teams"][0]["is_default"], true);

    // A second init refuses, and changes nothing.
    let before = std::fs::read(env.ca_pem("root")).unwrap();
    let out = env
        .cmd()
        .args([
            "init",
            "--team-name",
            "Other",
            "--ca-passin",
            &format!("pass:{CA_PASS}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already a pushca home"));
    assert_eq!(std::fs::read(env.ca_pem("root")).unwrap(), before);
}

#[test]
fn init_validates_its_input_and_writes_nothing_on_error() {
    for (args, needle) in [
        (vec!["--team-id", "abc"], "invalid Team ID"),
        (vec!["--country", "USA"], "country"),
        (
            vec!["--key-type", "rsa-1024"],
            "possible values: ec-p256, ec-p384, rsa-2048",
        ),
    ] {
        let env = Env::new();
        let out = env
            .cmd()
            .args(["init", "--team-name", "X"])
            .args(&args)
            .args(["--ca-passin", &format!("pass:{CA_PASS}")])
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0));
        assert!(stderr(&out).contains(needle), "{needle}: {}", stderr(&out));
        assert!(!env.home().join("pushca.db").exists());
    }
    // Too short a passphrase.
    let env = Env::new();
    let out = env
        .cmd()
        .args(["init", "--team-name", "X", "--ca-passin", "pass:short"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("too short"));
}

#[test]
fn ca_passphrase_sources_and_no_tty_error() {
    let env = Env::new();
    // No source, no env var, no TTY: a clear error, never a hang.
    let out = env
        .cmd()
        .args(["init", "--team-name", "X"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no terminal"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--ca-passin"));

    // PUSHCA_CA_PASSPHRASE.
    env.cmd()
        .env("PUSHCA_CA_PASSPHRASE", CA_PASS)
        .args(["init", "--team-name", "X"])
        .assert()
        .success();
    env.cmd()
        .args(["app", "create", "com.example.app", "--push"])
        .assert()
        .success();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    let issue = |src: &str, out: &str| {
        let mut c = env.cmd();
        c.args([
            "cert",
            "issue",
            "--app",
            "com.example.app",
            "--env",
            "development",
            "--csr",
        ])
        .arg(&csr);
        c.args(["--out", out, "--ca-passin", src]);
        c
    };
    // file:
    std::fs::write(env.path("pass.txt"), format!("{CA_PASS}\nsecond line\n")).unwrap();
    issue("file:pass.txt", "f.pem").assert().success();
    // env:
    issue("env:MY_CA_PASS", "e.pem")
        .env("MY_CA_PASS", CA_PASS)
        .assert()
        .success();
    // stdin:
    issue("stdin", "s.pem")
        .write_stdin(format!("{CA_PASS}\n"))
        .assert()
        .success();
    // fd: (an inherited descriptor)
    let mut f = tempfile::tempfile().unwrap();
    writeln!(f, "{CA_PASS}").unwrap();
    use std::io::Seek;
    f.rewind().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    // Let the child inherit it (std opens files close-on-exec).
    rustix::io::fcntl_setfd(&f, rustix::io::FdFlags::empty()).unwrap();
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"))
        .current_dir(env.dir.path())
        .args([
            "--home",
            env.home().to_str().unwrap(),
            "cert",
            "issue",
            "--app",
            "com.example.app",
            "--env",
            "development",
            "--csr",
        ])
        .arg(&csr)
        .args(["--out", "d.pem", "--ca-passin", &format!("fd:{fd}")])
        .status()
        .unwrap();
    assert!(status.success());
    for p in ["f.pem", "e.pem", "s.pem", "d.pem"] {
        assert!(env.path(p).exists(), "{p}");
    }
    // Bad sources.
    let out = issue("env:NOT_SET_ANYWHERE", "x.pem").output().unwrap();
    assert!(stderr(&out).contains("NOT_SET_ANYWHERE is not set"));
    let out = issue("bogus", "x.pem").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad source syntax is a usage error"
    );
    // A malformed source may be the secret itself: it is never echoed.
    let out = issue("hunter2-secret", "x.pem")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--ca-passin"), "{}", stderr(&out));
    let out = issue("file:/nonexistent/pass", "x.pem").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!env.path("x.pem").exists());
}

#[test]
fn teams_and_app_ids_follow_the_portal_rules() {
    let env = Env::new();
    env.init();
    let out = env
        .cmd()
        .args([
            "--json",
            "team",
            "create",
            "Second Team",
            "--team-id",
            "ZZZZZ99999",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&out)["team"]["team_id"], "ZZZZZ99999");
    env.cmd()
        .args(["team", "create", "Dup", "--team-id", "ZZZZZ99999"])
        .assert()
        .code(1);
    env.cmd()
        .args(["team", "create", "Bad", "--team-id", "zz"])
        .assert()
        .code(1);
    // The same name again (any case): a conflict, nothing created.
    let out = env
        .cmd()
        .args(["--json", "team", "create", "second team"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(e["error"]["kind"], "conflict");
    let out = env.cmd().args(["--json", "team", "list"]).output().unwrap();
    assert_eq!(stdout_json(&out)["teams"].as_array().unwrap().len(), 2);

    env.cmd()
        .args([
            "app",
            "create",
            "com.example.one",
            "--push",
            "--team",
            "ZZZZZ99999",
            "--name",
            "One",
        ])
        .assert()
        .success();
    env.cmd()
        .args(["app", "create", "com.example.*"])
        .assert()
        .success();
    for (id, args, needle) in [
        ("com.example.one", vec![], "already registered"),
        ("com.example.one", vec!["--push"], "already registered"),
        ("COM.EXAMPLE.ONE", vec![], "already registered"),
        ("com.example.two.*", vec!["--push"], "wildcard"),
        ("*", vec!["--push"], "wildcard"),
        ("../../etc/passwd", vec![], "invalid bundle ID"),
        ("com/example", vec![], "path separator"),
        ("com..example", vec![], "empty label"),
        ("com.exa_mple", vec![], "not allowed"),
        ("com.example.x", vec!["--team", "NOSUCHTEAM"], "no team"),
    ] {
        let out = env
            .cmd()
            .args(["app", "create", id])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{id}");
        assert!(stderr(&out).contains(needle), "{id}: {}", stderr(&out));
    }
    let long = format!("com.{}", "a".repeat(152));
    env.cmd().args(["app", "create", &long]).assert().code(1);

    let out = env.cmd().args(["--json", "app", "list"]).output().unwrap();
    let apps = stdout_json(&out);
    let ids: Vec<_> = apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["bundle_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["com.example.*", "com.example.one"]);
    let out = env
        .cmd()
        .args(["--json", "app", "show", "com.example.one"])
        .output()
        .unwrap();
    let doc = stdout_json(&out);
    assert_eq!(doc["app_id"], "ZZZZZ99999.com.example.one");
    assert_eq!(doc["app"]["push"], true);
    assert_eq!(doc["app"]["name"], "One");
    env.cmd()
        .args(["app", "disable", "com.example.one"])
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["--json", "app", "show", "com.example.one"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&out)["app"]["enabled"], false);
    let out = env
        .cmd()
        .args(["--json", "app", "show", "com.example.none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "not_found");
}

#[test]
fn commands_on_an_uninitialised_home_say_so() {
    let env = Env::new();
    let out = env.cmd().args(["app", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pushca init"), "{}", stderr(&out));
    let out = env.cmd().args(["--json", "team", "list"]).output().unwrap();
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "not_initialized");
    // Usage errors exit 2, also with --json.
    env.cmd().args(["app", "frobnicate"]).assert().code(2);
    let out = env
        .cmd()
        .args(["--json", "cert", "issue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "usage");
}

/// The library's message says what is wrong; which flag or command to use is
/// the CLI's hint (`--json`: `{"error": {"kind", "message", "hint"}}`).
#[test]
fn error_messages_say_what_is_wrong_and_hints_say_what_to_pass() {
    let env = Env::new();
    let json_error = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(&out.stderr).unwrap()["error"].clone()
    };
    // No store: the message names the home, the hint the command.
    let out = env.cmd().args(["--json", "team", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = json_error(&out);
    assert_eq!(e["kind"], "not_initialized");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.ends_with("is not a pushca home (no pushca.db)"),
        "{message}"
    );
    assert!(e["hint"].as_str().unwrap().contains("pushca init"), "{e}");
    // No home at all: a usage error (exit 2) whose hint names --home.
    let out = assert_cmd::Command::cargo_bin("pushca")
        .unwrap()
        .env_remove("PUSHCA_HOME")
        .env_remove("HOME")
        .current_dir(env.dir.path())
        .args(["--json", "team", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = json_error(&out);
    assert_eq!(e["kind"], "usage");
    assert_eq!(e["message"], "no home directory given");
    assert_eq!(e["hint"], "pass --home DIR or set PUSHCA_HOME");
    // Without --json: one error line and one hint line.
    let out = env.cmd().args(["team", "list"]).output().unwrap();
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("error: ") && !lines[0].contains("pushca init"));
    assert!(lines[1].starts_with("hint: run `pushca init"), "{text}");
}

#[test]
fn templates_in_the_home_override_the_builtins_and_bad_ones_are_reported() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    let tdir = env.home().join("templates");
    std::fs::create_dir(&tdir).unwrap();
    std::fs::write(
        tdir.join("push-production.toml"),
        "kind = \"push\"\ncommon_name_prefix = \"Custom Push: \"\nvalidity_days = 30\nenvironments = [\"production\"]\ntopics = [\"app\"]\n",
    )
    .unwrap();
    env.issue("production", &csr, "c.pem").success();
    let text = String::from_utf8(
        env.openssl(&["x509", "-in", "c.pem", "-noout", "-subject", "-dates"])
            .stdout,
    )
    .unwrap();
    assert!(text.contains("CN = Custom Push: com.example.app"), "{text}");
    let out = env
        .cmd()
        .args(["--json", "cert", "show", "c.pem"])
        .output()
        .unwrap();
    let doc = stdout_json(&out);
    assert_eq!(doc["topics"], serde_json::json!(["com.example.app"]));
    assert!(doc["days_left"].as_i64().unwrap() <= 30);

    std::fs::write(
        tdir.join("push-production.toml"),
        "kind = \"push\"\nvalidity_years = 3\n",
    )
    .unwrap();
    let out = env
        .issue_cmd("production", &csr, "bad.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("push-production.toml"),
        "{}",
        stderr(&out)
    );
    assert!(!env.path("bad.pem").exists());
}

#[test]
fn cert_list_and_show_report_expiry_and_exit_4_in_the_window() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    let out = env
        .issue_cmd("production", &csr, "c.pem")
        .arg("--json")
        .output()
        .unwrap();
    let serial = stdout_json(&out)["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    // 13 months: not within 30 days, within 400.
    env.cmd()
        .args(["cert", "list", "--expiring-within", "30"])
        .assert()
        .code(0);
    let out = env
        .cmd()
        .args(["--json", "cert", "list", "--expiring-within", "400"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stdout_json(&out)["certificates"][0]["serial"],
        serial.as_str()
    );
    // Show by serial, by prefix, by file: the same certificate.
    let by_serial = stdout_json(
        &env.cmd()
            .args(["--json", "cert", "show", &serial])
            .output()
            .unwrap(),
    );
    let by_prefix = stdout_json(
        &env.cmd()
            .args(["--json", "cert", "show", &serial[..10]])
            .output()
            .unwrap(),
    );
    let by_file = stdout_json(
        &env.cmd()
            .args(["--json", "cert", "show", "c.pem"])
            .output()
            .unwrap(),
    );
    assert_eq!(by_serial["sha256"], by_file["sha256"]);
    assert_eq!(by_prefix["sha256"], by_file["sha256"]);
    assert_eq!(by_file["environments"], serde_json::json!(["production"]));
    let fp = env
        .openssl(&["x509", "-in", "c.pem", "-noout", "-fingerprint", "-sha256"])
        .stdout;
    let fp = String::from_utf8(fp)
        .unwrap()
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(by_file["sha256"], fp.as_str());
    let text = String::from_utf8(
        env.cmd()
            .args(["cert", "show", "c.pem"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("days left") && text.contains("com.example.app.voip"),
        "{text}"
    );
    // Unknown serial, junk file.
    env.cmd()
        .args(["cert", "show", "deadbeefdeadbeef"])
        .assert()
        .code(1);
    std::fs::write(env.path("junk.pem"), "junk").unwrap();
    let out = env
        .cmd()
        .args(["cert", "show", "junk.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("junk.pem"));
}

#[test]
fn completions_load_in_bash_and_man_pages_render() {
    let env = common::Env::new();
    let bin = assert_cmd::cargo::cargo_bin("pushca");
    // bash: the script loads and registers the completion function.
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{}' completions bash) && complete -p pushca",
            bin.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("_pushca"));
    for shell in ["zsh", "fish", "powershell"] {
        let o = env.cmd().args(["completions", shell]).output().unwrap();
        assert!(o.status.success() && o.stdout.len() > 1000, "{shell}");
    }
    // -q never hides the data asked for.
    let o = env
        .cmd()
        .args(["-q", "completions", "bash"])
        .output()
        .unwrap();
    assert!(o.stdout.len() > 1000);
    // man: pages for pushca and each command; `man -l` renders them.
    env.cmd()
        .args(["man", "--out-dir", "man"])
        .assert()
        .success();
    let dir = env.path("man");
    for page in [
        "pushca.1",
        "pushca-gateway.1",
        "pushca-profile.1",
        "pushca-cert.1",
    ] {
        let p = dir.join(page);
        assert!(p.is_file(), "{page}");
        let o = std::process::Command::new("man")
            .arg("-l")
            .arg(&p)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man is installed");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{page}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.contains("pushca"), "{page}: {text}");
    }
    let o = env.cmd().args(["man"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH pushca 1"));
}

/// `app show` lists the App ID's certificates as README's CERT records (the
/// same fields as `cert list`), not a hand-picked subset.
#[test]
fn app_show_lists_its_certificates_as_cert_records() {
    let env = Env::new();
    env.init_with_app();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    env.issue("production", &csr, "c.pem").success();
    let out = env
        .cmd()
        .args(["--json", "app", "show", "com.example.app"])
        .output()
        .unwrap();
    let shown = stdout_json(&out)["certificates"].clone();
    let out = env
        .cmd()
        .args(["--json", "cert", "list", "--app", "com.example.app"])
        .output()
        .unwrap();
    let listed = stdout_json(&out)["certificates"].clone();
    assert_eq!(shown.as_array().map(Vec::len), Some(1), "{shown}");
    assert_eq!(shown, listed);
    assert_eq!(shown[0]["key_type"], "ec-p256");
}
