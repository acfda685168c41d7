//! The client mode: `pushca --server URL --server-ca FILE --token-file FILE`
//! runs `cert`, `crl`, `status` and `gateway trust-store` on `pushca serve`
//! from a directory with no home and no CA passphrase, with the outputs, JSON
//! documents, text and exit codes of the local commands.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::serve::{start, token, Server};
use crate::common::{stderr, Env, CA_PASS};

/// A CI runner: an empty directory (also its `$HOME`), no pushca home.
struct Runner {
    dir: tempfile::TempDir,
    url: String,
    chain: PathBuf,
}

impl Runner {
    fn new(s: &Server) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        let chain = dir.path().join("service-ca.pem");
        std::fs::copy(&s.chain, &chain).unwrap();
        Runner {
            dir,
            url: format!("https://localhost:{}", s.port),
            chain,
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// `pushca` with only `$HOME` (this directory) and nothing of pushca's
    /// in the environment; stdin closed.
    fn bare(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("pushca").unwrap();
        c.env_clear()
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path())
            .write_stdin("");
        c
    }
    /// `pushca --server URL --server-ca FILE --token-file token`.
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.bare();
        c.args(["--server", &self.url])
            .args(["--server-ca", "service-ca.pem"])
            .args(["--token-file", "token"]);
        c
    }
    fn with_token(self, t: &str) -> Runner {
        std::fs::write(self.path("token"), format!("{t}\n")).unwrap();
        self
    }
}

fn run(mut c: assert_cmd::Command, args: &[&str]) -> Output {
    c.args(args).output().unwrap()
}

/// Both runs succeed (or exit alike) and say the same, modulo serials,
/// hashes and times.
fn same(local: &Output, remote: &Output) {
    assert_eq!(
        local.status.code(),
        remote.status.code(),
        "local: {}\nremote: {}",
        stderr(local),
        stderr(remote)
    );
    assert_eq!(
        mask(&String::from_utf8_lossy(&local.stdout)),
        mask(&String::from_utf8_lossy(&remote.stdout)),
        "stdout differs"
    );
    assert_eq!(
        mask(&stderr(local)),
        mask(&stderr(remote)),
        "stderr differs"
    );
}

/// Text with every word holding a digit (serials, hashes, times, numbers) as `#`.
fn mask(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.split(' ')
                .map(|w| {
                    if w.chars().any(|c| c.is_ascii_digit()) {
                        "#"
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// The same document modulo the values of serials, hashes, times and numbers.
fn same_json(local: &Output, remote: &Output) {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), norm(v)))
                    .collect::<serde_json::Map<_, _>>(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
            Value::String(s) if s.chars().any(|c| c.is_ascii_digit()) => "#".into(),
            Value::Number(_) => "#".into(),
            other => other.clone(),
        }
    }
    assert_eq!(
        local.status.code(),
        remote.status.code(),
        "{}",
        stderr(remote)
    );
    assert_eq!(norm(&json(local)), norm(&json(remote)));
}

/// A CSR of the same name in the home's test directory and the runner's.
fn csr_both(env: &Env, r: &Runner, name: &str) {
    let csr = env.openssl_csr(name, "ec:P-256", &[]);
    std::fs::copy(&csr, r.path(&format!("{name}.csr"))).unwrap();
}

/// `pushca --home HOME` with the CA passphrase in its environment.
fn local_cmd(env: &Env) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.env("PUSHCA_CA_PASSPHRASE", CA_PASS);
    c
}

fn serial_of(o: &Output) -> String {
    let v = json(o);
    v["certificates"][0]["serial"]
        .as_str()
        .or(v["serial"].as_str())
        .unwrap()
        .to_string()
}

/// Every command run locally on the home and remotely from an empty
/// directory: the same text, JSON, files and exit codes; a remote
/// certificate verifies with openssl; the remote trust store loads with
/// `gateway check`; nothing of a home appears on the runner.
#[test]
fn client_mode_runs_every_command_like_the_local_one() {
    let (env, s) = start();
    let t = token(&env, &["issue:*", "revoke", "read", "trust-store"]);
    let r = Runner::new(&s).with_token(&t);
    for n in ["a", "b", "c", "d"] {
        csr_both(&env, &r, n);
    }
    let issue = |csr: &str, json: bool| {
        let mut a = vec![];
        if json {
            a.push("--json");
        }
        a.extend([
            "cert",
            "issue",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--csr",
            csr,
            "--out-dir",
            "out",
        ]);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    // cert issue: text, then JSON (a batch of two, and a bundle).
    let a: Vec<String> = issue("a.csr", false);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let lc = local_cmd(&env);
    let l = run(lc, &a);
    let rm = run(r.cmd(), &a);
    same(&l, &rm);
    assert!(rm.status.success(), "{}", stderr(&rm));
    let batch = [
        "--json",
        "cert",
        "issue",
        "--app",
        "com.example.app",
        "--env",
        "production",
        "--csr",
        "b.csr",
        "--csr",
        "c.csr",
        "--out-dir",
        "batch",
        "--out-bundle",
        "bundle.pem",
    ];
    let lc = local_cmd(&env);
    let l = run(lc, &batch);
    let rm = run(r.cmd(), &batch);
    same_json(&l, &rm);
    let remote_serial = serial_of(&rm);
    for f in ["out/a.pem", "batch/b.pem", "batch/c.pem", "bundle.pem"] {
        assert!(r.path(f).is_file(), "{f}");
    }
    // The remote certificate verifies against the CA.
    let chain = env.path("ca-chain.pem");
    std::fs::write(
        &chain,
        [
            std::fs::read(env.ca_pem("issuing")).unwrap(),
            std::fs::read(env.ca_pem("root")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let o = env.openssl_raw(&[
        "verify",
        "-purpose",
        "sslclient",
        "-CAfile",
        chain.to_str().unwrap(),
        r.path("out/a.pem").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // list, show, status: the same documents and text.
    for args in [
        vec!["cert", "list"],
        vec!["--json", "cert", "list"],
        vec!["cert", "list", "--expiring-within", "400"],
        vec!["cert", "show", &remote_serial],
        vec!["--json", "cert", "show", &remote_serial, "--pem"],
        vec!["status"],
        vec!["--json", "status", "--expiring-within", "10"],
    ] {
        let l = run(local_cmd(&env), &args);
        let rm = run(r.cmd(), &args);
        assert_eq!(l.stdout, rm.stdout, "{args:?}: {}", stderr(&rm));
        assert_eq!(l.status.code(), rm.status.code(), "{args:?}");
    }
    // export: the same bytes, PEM and DER.
    for (out, fmt) in [("e.pem", "pem"), ("e.cer", "der")] {
        let args = [
            "cert",
            "export",
            &remote_serial,
            "--out",
            out,
            "--format",
            fmt,
        ];
        same(&run(local_cmd(&env), &args), &run(r.cmd(), &args));
        assert_eq!(
            std::fs::read(env.path(out)).unwrap(),
            std::fs::read(r.path(out)).unwrap()
        );
    }
    // An existing output is refused before the service is called, as locally.
    let args = ["cert", "export", &remote_serial, "--out", "e.pem"];
    same(&run(local_cmd(&env), &args), &run(r.cmd(), &args));
    // renew: not due, then due (a new certificate replaces the output).
    for within in ["30", "400"] {
        let args = [
            "--json",
            "cert",
            "renew",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--csr",
            "d.csr",
            "--out",
            "renewed.pem",
            "--within",
            within,
        ];
        let lc = local_cmd(&env);
        same_json(&run(lc, &args), &run(r.cmd(), &args));
    }
    assert!(r.path("renewed.pem").is_file());
    // create: the same files with the same modes (keys 0600); the key is
    // made on the runner.
    let args = [
        "--json",
        "cert",
        "create",
        "--app",
        "com.example.app",
        "--env",
        "development",
        "--out-dir",
        "made",
        "--noenc",
    ];
    let lc = local_cmd(&env);
    let l = run(lc, &args);
    let rm = run(r.cmd(), &args);
    same_json(&l, &rm);
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(env.path("made")).unwrap() {
        let name = e.unwrap().file_name();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&env.path("made").join(&name)),
            mode(&r.path("made").join(&name)),
            "{name:?}"
        );
    }
    let key = r.path("made/com.example.app-development.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let p12 = env.openssl(&[
        "pkcs12",
        "-in",
        r.path("made/com.example.app-development.p12")
            .to_str()
            .unwrap(),
        "-passin",
        "pass:",
        "-nokeys",
    ]);
    let certs = String::from_utf8_lossy(&p12.stdout)
        .matches("BEGIN CERTIFICATE")
        .count();
    assert_eq!(certs, 3, "the .p12 carries the chain");
    // revoke, crl: the same documents; the CRL file is one.
    let l_serial = serial_of(&run(
        local_cmd(&env),
        &[
            "--json",
            "cert",
            "issue",
            "--app",
            "com.example.app",
            "--env",
            "production",
            "--csr",
            "a.csr",
            "--out",
            "x.pem",
        ],
    ));
    same(
        &run(
            local_cmd(&env),
            &["cert", "revoke", &l_serial, "--reason", "superseded"],
        ),
        &run(
            r.cmd(),
            &["cert", "revoke", &remote_serial, "--reason", "superseded"],
        ),
    );
    let lc = local_cmd(&env);
    same_json(
        &run(lc, &["--json", "crl", "--out", "crl.pem"]),
        &run(r.cmd(), &["--json", "crl", "--out", "crl.pem"]),
    );
    env.openssl(&["crl", "-in", r.path("crl.pem").to_str().unwrap(), "-noout"]);
    // gateway trust-store through the service loads with gateway check.
    let lc = local_cmd(&env);
    let l = run(lc, &["gateway", "trust-store", "--out", "ts"]);
    let rm = run(r.cmd(), &["gateway", "trust-store", "--out", "ts"]);
    same(&l, &rm);
    let check = |dir: &Path, ts: &Path| {
        let o = std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"))
            .current_dir(dir)
            .env("HOME", dir)
            .env_remove("PUSHCA_HOME")
            .args(["--json", "gateway", "check", "--trust-store"])
            .arg(ts)
            .arg("--anchor")
            .arg(env.ca_pem("root"))
            .args([
                "--cert",
                "out/a.pem",
                "--topic",
                "com.example.app",
                "--env",
                "production",
            ])
            .output()
            .unwrap();
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
        json(&o)["decision"].clone()
    };
    assert_eq!(
        check(env.dir.path(), &env.path("ts")),
        check(r.dir.path(), &r.path("ts"))
    );
    // Again: up to date, nothing written, as locally.
    let rm = run(r.cmd(), &["gateway", "trust-store", "--out", "ts"]);
    assert!(
        String::from_utf8_lossy(&rm.stdout).contains("up to date"),
        "{}",
        String::from_utf8_lossy(&rm.stdout)
    );
    // No home on the runner, and the token never shown.
    assert!(!r.path(".pushca").exists());
}

/// A token without the scope: exit 1, the missing scope named, JSON kind
/// `policy`, nothing written.
#[test]
fn client_mode_denial_names_the_missing_scope() {
    let (env, s) = start();
    let t = token(&env, &["read", "issue:com.example.other"]);
    let r = Runner::new(&s).with_token(&t);
    csr_both(&env, &r, "a");
    let args = [
        "cert",
        "issue",
        "--app",
        "com.example.app",
        "--env",
        "production",
        "--csr",
        "a.csr",
        "--out",
        "a.pem",
    ];
    let o = run(r.cmd(), &args);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("issue:com.example.app"),
        "{}",
        stderr(&o)
    );
    assert!(!r.path("a.pem").exists());
    let o = run(r.cmd(), &["--json", "cert", "revoke", "01020304"]);
    assert_eq!(o.status.code(), Some(1));
    let e: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(e["error"]["kind"], "policy");
    assert!(
        e["error"]["hint"].as_str().unwrap().contains("revoke"),
        "{e}"
    );
    // read is enough for list.
    assert!(run(r.cmd(), &["cert", "list"]).status.success());
}

/// A service that does not chain to `--server-ca` (another home's CA), a
/// closed port and a URL that is not https: exit 1, one clear line, well
/// within 15 s.
#[test]
fn client_mode_refuses_a_wrong_ca_a_closed_port_and_plain_http_fast() {
    let (env, s) = start();
    let t = token(&env, &["read"]);
    let r = Runner::new(&s).with_token(&t);
    let other = Env::new();
    other.init_other();
    std::fs::copy(other.ca_pem("root"), r.path("service-ca.pem")).unwrap();
    let timed = |c: assert_cmd::Command, args: &[&str]| {
        let t0 = Instant::now();
        let o = run(c, args);
        assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
        let err = stderr(&o);
        assert!(err.starts_with("error: "), "{err}");
        err
    };
    let err = timed(r.cmd(), &["cert", "list"]);
    assert!(err.contains("TLS"), "{err}");
    let port = crate::common::tls::free_port();
    let mut c = r.bare();
    c.args(["--server", &format!("https://127.0.0.1:{port}")])
        .args(["--server-ca", "service-ca.pem", "--token-file", "token"]);
    let err = timed(c, &["status"]);
    assert!(err.contains("cannot connect"), "{err}");
    let mut c = r.bare();
    c.args(["--server", &format!("http://localhost:{}", s.port)])
        .args(["--server-ca", "service-ca.pem", "--token-file", "token"]);
    let err = timed(c, &["status"]);
    assert!(err.contains("HTTPS only"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1);
}

/// `PUSHCA_SERVER`, `PUSHCA_SERVER_CA` and `PUSHCA_TOKEN` (the token
/// itself) work; the token appears in no output or error, a wrong one
/// included.
#[test]
fn client_mode_reads_the_environment_and_never_shows_the_token() {
    let (env, s) = start();
    let t = token(&env, &["read"]);
    let r = Runner::new(&s);
    let env_cmd = |tok: &str| {
        let mut c = r.bare();
        c.env("PUSHCA_SERVER", &r.url)
            .env("PUSHCA_SERVER_CA", &r.chain)
            .env("PUSHCA_TOKEN", tok);
        c
    };
    let o = run(env_cmd(&t), &["--json", "status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let secret = t.rsplit('_').next().unwrap();
    let mut outputs = vec![o];
    // A revoked token, a wrong one, a malformed one, a scope denied, -v.
    let mut wrong = t.clone();
    wrong.pop();
    wrong.push(if t.ends_with('0') { '1' } else { '0' });
    outputs.push(run(env_cmd(&wrong), &["status"]));
    outputs.push(run(env_cmd(&format!("{t}x")), &["-v", "cert", "list"]));
    outputs.push(run(env_cmd(&t), &["--json", "crl"]));
    outputs.push(run(env_cmd(&t), &["-v", "init", "--team-name", "x"]));
    for o in &outputs[1..] {
        assert!(o.status.code().unwrap_or(0) > 0);
    }
    for o in &outputs {
        for text in [
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        ] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    assert!(
        stderr(&outputs[1]).contains("not valid"),
        "{}",
        stderr(&outputs[1])
    );
}
