//! A `pushca serve` for the tests (tests/it/serve.rs, tests/it/client.rs):
//! a fixture home with `com.example.app`, its service certificate, the
//! service on a free port, and tokens.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};

use super::{stderr, stdout_json, Env, CA_PASS};

/// A running `pushca serve` on a fixture home with `com.example.app`.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// The CA chain that signed the service's certificate (`--cacert`).
    pub chain: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_cmd(env: &Env, pass: &str) -> StdCommand {
    let mut c = StdCommand::new(assert_cmd::cargo::cargo_bin("pushca"));
    c.env_remove("PUSHCA_HOME")
        .env_remove("PUSHCA_CA_PASSPHRASE")
        .current_dir(env.dir.path())
        .arg("--home")
        .arg(env.home())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--tls-cert", "tls/server-localhost-fullchain.pem"])
        .args(["--tls-key", "tls/server-localhost.key"])
        .args(["--ca-passin", &format!("pass:{pass}")])
        .stdin(Stdio::null());
    c
}

/// The home, its service certificate (`pushca server-cert`), and the
/// service started on a free port.
pub fn start() -> (Env, Server) {
    let env = service_home();
    let server = spawn(&env);
    (env, server)
}

/// A fixture home with `com.example.app` and the service's certificate
/// (`tls/`), no service started.
pub fn service_home() -> Env {
    let env = Env::new();
    env.init_with_app();
    env.cmd()
        .args(["server-cert", "--dns", "localhost", "--ip", "127.0.0.1"])
        .args(["--out-dir", "tls", "--noenc", "--key-type", "ec-p256"])
        .args(["--ca-passin", &format!("pass:{CA_PASS}")])
        .assert()
        .success();
    env
}

pub fn spawn(env: &Env) -> Server {
    spawn_cmd(env, serve_cmd(env, CA_PASS))
}

/// [`spawn`] with more arguments after `serve`'s own (a replica's store).
pub fn spawn_with(env: &Env, extra: &[String]) -> Server {
    let mut cmd = serve_cmd(env, CA_PASS);
    cmd.args(extra);
    spawn_cmd(env, cmd)
}

/// A service started with `cmd` (a [`serve_cmd`] with more arguments).
pub fn spawn_cmd(env: &Env, mut cmd: StdCommand) -> Server {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no listening line: {line:?}"));
    // Keep draining stderr so that the service never blocks on it.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
    });
    Server {
        child,
        port,
        chain: env.path("tls/server-localhost-chain.pem"),
    }
}

pub fn token(env: &Env, scopes: &[&str]) -> String {
    let mut c = env.cmd();
    c.args(["--json", "token", "create", "--expires-in", "1"]);
    for s in scopes {
        c.args(["--scope", s]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout_json(&o)["token"].as_str().unwrap().to_string()
}
