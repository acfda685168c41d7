//! Every command on a PostgreSQL store (`--store URL`): `init --store`, the
//! CA material in the database, `store migrate` from a SQLite home,
//! concurrent processes on one database, what `pg_dump` holds, bad input.
//! Each test has its own database in a throwaway cluster (initdb in a
//! temporary directory, a free port, stopped when the test binary ends).

use std::collections::BTreeSet;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{stderr, stdout_json, Env, CA_PASS};

fn pass() -> String {
    format!("pass:{CA_PASS}")
}

/// A test directory and a new, empty database.
struct Pg {
    env: Env,
    url: String,
}

impl Pg {
    fn new() -> Pg {
        Pg {
            env: Env::new(),
            url: pushca::store::testdb::fresh_url(),
        }
    }

    /// `pushca --store URL ARGS` (the home given too: it must stay unused).
    fn run(&self, args: &[&str]) -> Output {
        self.env
            .cmd()
            .args(["--store", &self.url])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        stdout_json(&self.ok(&a))
    }

    /// A store with a CA (`init --store`) and `com.example.app` with push.
    fn init_with_app(&self) {
        self.ok(&[
            "init",
            "--team-name",
            "Example Corp",
            "--team-id",
            "ABCDE12345",
            "--ca-passin",
            &pass(),
        ]);
        self.ok(&["app", "create", "com.example.app", "--push"]);
    }

    fn serials(&self) -> Vec<String> {
        let mut v: Vec<String> = self.json(&["cert", "list"])["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["serial"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    }
}

/// `cert list --json` of `env`'s home or store: the serials, sorted.
fn listed(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", stderr(o));
    let mut v: Vec<String> = stdout_json(o)["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// `pg_dump` of the database, as text.
fn pg_dump(url: &str) -> String {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("bin/pg_dump"))
        .find(|p| p.is_file())
        .expect("pg_dump is installed");
    let o = std::process::Command::new(bin)
        .args(["--no-owner", "--data-only", "--inserts", "-d", url])
        .output()
        .unwrap();
    assert!(o.status.success(), "pg_dump: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// `init --store`, then every kind of command on the database: the CA
/// material is in it (nothing is written in the home), openssl verifies
/// the certificate against the trust store's CA certificates, a revoked
/// certificate is on the CRL, a profile and a trust store are made and
/// `gateway check` allows the push; a second `init` is refused.
#[test]
fn pg_every_command_runs_on_a_postgres_store() {
    let pg = Pg::new();
    pg.init_with_app();
    assert!(!pg.env.home().exists(), "nothing of the CA in the home");
    let again = pg.run(&["init", "--team-name", "X", "--ca-passin", &pass()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already"), "{}", stderr(&again));

    for name in ["a", "b"] {
        let csr = pg.env.openssl_csr(name, "ec:P-256", &[]);
        pg.ok(&[
            "cert",
            "issue",
            "--app",
            "com.example.app",
            "--env",
            "development",
            "--csr",
            csr.to_str().unwrap(),
            "--out",
            &format!("{name}.pem"),
            "--ca-passin",
            &pass(),
        ]);
    }
    let serials = pg.serials();
    assert_eq!(serials.len(), 2);
    let a = pg.json(&["cert", "show", "a.pem"]);
    let a_serial = a["serial"].as_str().unwrap().to_string();
    pg.ok(&["cert", "revoke", &a_serial, "--reason", "keyCompromise"]);
    let crl = pg.json(&["crl", "--out", "crl.pem", "--ca-passin", &pass()]);
    assert_eq!(crl["number"], 1);
    assert_eq!(crl["revoked"], 1);
    pg.ok(&["device", "add", "00008030-001A2B3C4D5E6F70", "--name", "D"]);
    pg.ok(&[
        "profile",
        "create",
        "--app",
        "com.example.app",
        "--env",
        "development",
        "--device",
        "00008030-001A2B3C4D5E6F70",
        "--out",
        "dev.mobileprovision",
        "--ca-passin",
        &pass(),
    ]);
    pg.ok(&[
        "gateway",
        "trust-store",
        "--out",
        "ts",
        "--ca-passin",
        &pass(),
    ]);
    pg.env.openssl(&["verify", "-CAfile", "ts/ca.pem", "b.pem"]);
    let crl_text = pg
        .env
        .openssl(&["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(String::from_utf8_lossy(&crl_text.stdout)
        .to_uppercase()
        .contains(&a_serial.to_uppercase()));
    for (cert, code) in [("b.pem", 0), ("a.pem", 3)] {
        let o = pg.run(&[
            "gateway",
            "check",
            "--trust-store",
            "ts",
            "--cert",
            cert,
            "--topic",
            "com.example.app",
            "--env",
            "development",
            "--device",
            "00008030-001A2B3C4D5E6F70",
        ]);
        assert_eq!(o.status.code(), Some(code), "{cert}: {}", stderr(&o));
    }
    assert!(!pg.env.home().exists(), "nothing written in the home");
}

/// A SQLite home (the fixture: certificates, a revocation, a CRL, a token)
/// copied into an empty database: the same listings, the CRL number goes
/// on from the home's, the CA unlocks from the database; a second copy
/// into the now non-empty database is refused.
#[test]
fn pg_store_migrate_copies_a_home_and_the_listings_match() {
    let pg = Pg::new();
    let env = &pg.env;
    env.init_with_app();
    for name in ["a", "b", "c"] {
        let csr = env.openssl_csr(name, "ec:P-256", &[]);
        env.issue("production", &csr, &format!("{name}.pem"))
            .success();
    }
    let home_list = || env.cmd().args(["--json", "cert", "list"]).output().unwrap();
    let serials = listed(&home_list());
    env.cmd()
        .args(["cert", "revoke", &serials[0]])
        .assert()
        .success();
    env.cmd()
        .args(["crl", "--out", "crl.pem", "--ca-passin", &pass()])
        .assert()
        .success();
    env.cmd()
        .args(["token", "create", "--scope", "read", "--expires-in", "5"])
        .assert()
        .success();

    let o = env
        .cmd()
        .args(["--json", "store", "migrate", "--to", &pg.url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["certificates"], 3);
    assert_eq!(j["crl_number"], 1);
    let rows = |t: &str| {
        j["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["table"] == t)
            .unwrap()["rows"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(
        (
            rows("certificates"),
            rows("service_tokens"),
            rows("ca_material")
        ),
        (3, 1, 3)
    );

    assert_eq!(pg.serials(), serials);
    let home_show = stdout_json(
        &env.cmd()
            .args(["--json", "cert", "show", &serials[0]])
            .output()
            .unwrap(),
    );
    assert_eq!(pg.json(&["cert", "show", &serials[0]]), home_show);
    assert_eq!(
        pg.json(&["token", "list"])["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let crl = pg.json(&["crl", "--ca-passin", &pass()]);
    assert_eq!(crl["number"], 2, "CRL numbers go on from the home's");

    let again = env
        .cmd()
        .args(["store", "migrate", "--to", &pg.url])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
}

/// 8 `cert issue` processes × 5 CSRs at once on one database: 40 distinct
/// serials, every one listed.
#[test]
fn pg_concurrent_issue_processes_give_distinct_serials() {
    let pg = Pg::new();
    pg.env.init_with_app();
    pg.env
        .cmd()
        .args(["store", "migrate", "--to", &pg.url])
        .assert()
        .success();
    let csrs: Vec<String> = (0..5)
        .map(|i| {
            pg.env
                .openssl_csr(&format!("k{i}"), "ec:P-256", &[])
                .display()
                .to_string()
        })
        .collect();
    let children: Vec<_> = (0..8)
        .map(|p| {
            let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"));
            c.env_remove("PUSHCA_HOME")
                .env_remove("PUSHCA_CA_PASSPHRASE")
                .current_dir(pg.env.dir.path())
                .args(["--json", "--store", &pg.url])
                .args(["cert", "issue", "--app", "com.example.app"])
                .args(["--env", "development", "--out-dir", &format!("out{p}")])
                .args(["--ca-passin", &pass()]);
            for csr in &csrs {
                c.args(["--csr", csr]);
            }
            c.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut received = BTreeSet::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let j = stdout_json(&o);
        for cert in j["certificates"].as_array().unwrap() {
            assert!(received.insert(cert["serial"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(received.len(), 40);
    let listed: BTreeSet<String> = pg.serials().into_iter().collect();
    assert_eq!(listed, received);
}

/// `crl` processes at once on one database: every CRL number given once,
/// 1 to N, and the newest recorded is N.
#[test]
fn pg_concurrent_crl_processes_give_increasing_numbers() {
    let pg = Pg::new();
    pg.env.init();
    pg.env
        .cmd()
        .args(["store", "migrate", "--to", &pg.url])
        .assert()
        .success();
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("pushca"))
                .env_remove("PUSHCA_HOME")
                .env_remove("PUSHCA_CA_PASSPHRASE")
                .current_dir(pg.env.dir.path())
                .args(["--json", "--store", &pg.url, "crl", "--ca-passin", &pass()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(numbers.insert(stdout_json(&o)["number"].as_i64().unwrap()));
    }
    assert_eq!(numbers, (1..=8).collect());
    assert_eq!(pg.json(&["status"])["crl"]["number"], 8);
}

/// `pg_dump` of a store with a CA and a token: no token secret, no
/// unencrypted key (a `PRIVATE KEY` only as `ENCRYPTED PRIVATE KEY`).
#[test]
fn pg_dump_holds_no_token_secret_and_no_plain_key() {
    let pg = Pg::new();
    pg.init_with_app();
    let t = pg.json(&["token", "create", "--scope", "read", "--expires-in", "3"]);
    let token = t["token"].as_str().unwrap().to_string();
    let secret = token.rsplit('_').next().unwrap().to_string();
    let dump = pg_dump(&pg.url);
    assert!(
        dump.contains("ENCRYPTED PRIVATE KEY"),
        "the CA keys are in it"
    );
    assert!(!dump.contains(&token) && !dump.contains(&secret));
    assert_eq!(
        dump.matches("PRIVATE KEY").count(),
        dump.matches("ENCRYPTED PRIVATE KEY").count()
    );
}

/// A malformed URL, a closed port, a wrong CA passphrase: exit 1, one
/// line, well within 15 s; the password of a URL never shown.
#[test]
fn pg_bad_input_is_one_line_and_exit_1() {
    let pg = Pg::new();
    pg.init_with_app();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("postgres://u:hunter2secret@127.0.0.1:{port}/d?sslmode=disable");
    let csr = pg.env.openssl_csr("a", "ec:P-256", &[]);
    let issue = [
        "cert",
        "issue",
        "--app",
        "com.example.app",
        "--env",
        "development",
        "--csr",
        csr.to_str().unwrap(),
        "--out",
        "a.pem",
    ];
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            "postgres://u:hunter2secret@h:notaport/d".into(),
            vec!["cert".into(), "list".into()],
        ),
        (
            "mysql://u:hunter2secret@h/d".into(),
            vec!["cert".into(), "list".into()],
        ),
        (closed, vec!["cert".into(), "list".into()]),
        (
            pg.url.clone(),
            issue
                .iter()
                .map(|s| s.to_string())
                .chain(["--ca-passin".into(), "pass:not the passphrase".into()])
                .collect(),
        ),
    ];
    for (url, args) in cases {
        let t = Instant::now();
        let o = pg
            .env
            .cmd()
            .args(["--store", &url])
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{url}: {err}");
        assert!(t.elapsed() < Duration::from_secs(15), "{url}");
        assert_eq!(
            err.lines().filter(|l| !l.starts_with("hint:")).count(),
            1,
            "{err}"
        );
        assert!(!err.contains("hunter2secret"), "{err}");
    }
    assert!(!pg.env.path("a.pem").exists());
}
