//! Shared helpers for the integration tests: a pushca home per test, the binary
//! with a clean environment, and the `openssl` CLI as an oracle.
#![allow(dead_code)]

pub mod convert;
pub mod fixture;
pub mod serve;
pub mod tls;
pub mod tty;

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use assert_cmd::Command;

pub const CA_PASS: &str = "test-ca-passphrase";

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// `pushca --home <home>` with no inherited pushca variables and no stdin.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("pushca").expect("binary");
        c.env_remove("PUSHCA_HOME")
            .env_remove("PUSHCA_CA_PASSPHRASE")
            .current_dir(self.dir.path())
            .arg("--home")
            .arg(self.home())
            .write_stdin("");
        c
    }

    /// Initialises the home with `pushca init` itself (a new CA whose keys
    /// have `init`'s 600,000 PBKDF2 iterations): for tests of `init` and of
    /// the CA key types. Other tests use [`Env::init`].
    pub fn init_with(&self, key_type: &str) {
        self.cmd()
            .args([
                "init",
                "--team-name",
                "Example Corp",
                "--team-id",
                "ABCDE12345",
                "--country",
                "DE",
            ])
            .args([
                "--key-type",
                key_type,
                "--ca-passin",
                &format!("pass:{CA_PASS}"),
            ])
            .assert()
            .success();
    }

    /// The home as `init_with("ec-p256")` makes it, copied from the fixture
    /// (CA keys with few PBKDF2 iterations, see [`fixture`]).
    pub fn init(&self) {
        fixture::copy_home(&fixture::home(fixture::Fixture::Main), &self.home());
    }

    /// Like [`Env::init`], with another CA: a foreign home for tests that
    /// need one beside their own.
    pub fn init_other(&self) {
        fixture::copy_home(&fixture::home(fixture::Fixture::Other), &self.home());
    }

    /// Initialises and registers `com.example.app` with push.
    pub fn init_with_app(&self) {
        self.init();
        self.create_app();
    }

    /// [`Env::init_other`] and `com.example.app` with push.
    pub fn init_other_with_app(&self) {
        self.init_other();
        self.create_app();
    }

    fn create_app(&self) {
        self.cmd()
            .args(["app", "create", "com.example.app", "--push"])
            .assert()
            .success();
    }

    pub fn ca_pem(&self, name: &str) -> PathBuf {
        self.home().join("ca").join(format!("{name}.pem"))
    }

    /// Runs `openssl` in the test directory; panics with its stderr on failure.
    pub fn openssl(&self, args: &[&str]) -> Output {
        let out = self.openssl_raw(args);
        assert!(
            out.status.success(),
            "openssl {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn openssl_raw(&self, args: &[&str]) -> Output {
        StdCommand::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl CLI is installed")
    }

    /// A CSR made by `openssl req` with a fresh key: `spec` is `rsa:2048`,
    /// `ec:P-256` or `ec:P-384`. Returns the CSR path.
    pub fn openssl_csr(&self, name: &str, spec: &str, extra: &[&str]) -> PathBuf {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let mut args: Vec<String> = vec!["req".into(), "-new".into(), "-nodes".into()];
        if let Some(curve) = spec.strip_prefix("ec:") {
            self.openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
                "-out",
                &key,
            ]);
            args.extend(["-key".into(), key.clone()]);
        } else {
            args.extend(["-newkey".into(), spec.into(), "-keyout".into(), key.clone()]);
        }
        args.extend([
            "-subj".into(),
            "/CN=Requester/emailAddress=dev@example.com".into(),
            "-out".into(),
            csr.clone(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.openssl(&refs);
        self.path(&csr)
    }

    /// `cert issue --app com.example.app --env ENV --csr ...` with the CA
    /// passphrase, not yet run: callers add `--out`/`--out-dir` and other flags.
    pub fn cert_issue(&self, env: &str, csrs: &[&Path]) -> Command {
        let mut c = self.cmd();
        c.args(["cert", "issue", "--app", "com.example.app", "--env", env]);
        for csr in csrs {
            c.arg("--csr").arg(csr);
        }
        c.args(["--ca-passin", &format!("pass:{CA_PASS}")]);
        c
    }

    /// `cert issue` of one CSR to `out`, not yet run.
    pub fn issue_cmd(&self, env: &str, csr: &Path, out: &str) -> Command {
        let mut c = self.cert_issue(env, &[csr]);
        c.args(["--out", out]);
        c
    }

    pub fn issue(&self, env: &str, csr: &Path, out: &str) -> assert_cmd::assert::Assert {
        self.issue_cmd(env, csr, out).assert()
    }

    /// Files in the test directory other than the home.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "home")
            .collect();
        v.sort();
        v
    }
}

pub fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// DER of the first certificate in a PEM (or DER) file.
pub fn cert_der(path: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let bytes = std::fs::read(path).expect("read cert");
    if bytes.first() == Some(&0x30) {
        return bytes;
    }
    rustls_pki_types::CertificateDer::from_pem_slice(&bytes)
        .expect("PEM certificate")
        .to_vec()
}

/// Writes `policy` as `dir`'s policy.json and signs it (detached) with the
/// home's own profile signer: a validly signed policy, whatever it says.
pub fn resign_policy(env: &Env, dir: &Path, policy: &serde_json::Value) {
    use pushca::ca::authority::{CaFiles, ISSUING, PROFILE_SIGNER};
    let mut json = serde_json::to_vec(policy).unwrap();
    json.push(b'\n');
    let files = CaFiles::new(env.home().join("ca"));
    let signer = pushca::ca::Issuer::unlock(
        &files,
        PROFILE_SIGNER,
        &pushca::secret::Secret::new(CA_PASS),
    )
    .unwrap();
    let issuing = pushca::ca::authority::read_ca_cert(&files, ISSUING).unwrap();
    let p7s = pushca::cms::sign(
        &json,
        false,
        signer.cert_der(),
        &[issuing.as_slice()],
        signer.signer(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    std::fs::write(dir.join("policy.json"), &json).unwrap();
    std::fs::write(dir.join("policy.json.p7s"), &p7s).unwrap();
}
