//! A throwaway PostgreSQL cluster for the store's tests: `initdb` in a
//! temporary directory (as the `postgres` user when the tests run as root:
//! PostgreSQL refuses root), a free port, its socket in that directory. One
//! cluster per test binary, started by the first test that asks, one new
//! database per test. It is stopped and removed when the test process ends,
//! however it ends (a watchdog process waits for it), or when starting it
//! fails half-way (a drop guard). It also listens on 127.0.0.1 with TLS (a
//! test CA and a server certificate for `localhost`, made with the openssl CLI).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

#[cfg(test)]
use super::Store;

/// Runs every test named with a fresh store of each engine: the test is a
/// function `fn NAME(st: Store)`; this makes `NAME::sqlite` and
/// `NAME::postgres`.
#[cfg(test)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::store::Store::in_memory().unwrap())
            }
            #[test]
            fn postgres() {
                super::$name($crate::store::testdb::fresh_store())
            }
        }
    )*};
}
#[cfg(test)]
pub(crate) use on_both_stores;

struct Cluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    started: bool,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The server binaries: the newest /usr/lib/postgresql/N/bin with initdb.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    rustix::process::getuid().is_root()
}

/// A command run as the cluster's owner.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn owner_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| format!("id: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                "running as root, and there is no `postgres` user to own the test cluster"
                    .to_string()
            })
    };
    Ok((id("-u")?, id("-g")?))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Cluster {
    fn start() -> Result<Cluster, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): the store's \
             tests need its server binaries; install the `postgresql` package (scripts/test does)",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("pushca-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let mut cluster = Cluster {
            dir,
            port: free_port()?,
            bin,
            started: false,
        };
        if is_root() {
            let (uid, gid) = owner_ids()?;
            std::os::unix::fs::chown(&cluster.dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", cluster.dir.display()))?;
        }
        let data = cluster.dir.join("data");
        let mut initdb = as_owner(&cluster.bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        cluster.watch();
        // TLS on 127.0.0.1 (the TLS tests): a test CA and a server
        // certificate for `localhost`, made by the openssl CLI.
        let mut certs = as_owner(Path::new("sh"));
        certs.current_dir(&cluster.dir).args([
            "-c",
            "set -e
             openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
               -keyout ca.key -out ca.pem -days 2 -subj /CN=pushca-test-ca
             openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
               -keyout data/server.key -out server.csr -subj /CN=localhost
             printf 'subjectAltName=DNS:localhost\n' > san.ext
             openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
               -out data/server.crt -days 2 -extfile san.ext
             chmod 600 data/server.key",
        ]);
        run(
            certs,
            "making the test cluster's TLS certificates (openssl)",
        )?;
        let mut ctl = as_owner(&cluster.bin.join("pg_ctl"));
        ctl.arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.join("log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off -c max_connections=200",
                cluster.port,
                cluster.dir.display()
            ))
            .arg("start");
        cluster.started = true;
        run(ctl, "pg_ctl start")?;
        Ok(cluster)
    }

    fn stop_command(&self) -> Command {
        let mut c = as_owner(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"]);
        c
    }

    /// Stops and removes the cluster when this process ends, whatever way.
    fn watch(&self) {
        let stop = self.stop_command();
        let mut script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; '{}'",
            std::process::id(),
            stop.get_program().to_string_lossy()
        );
        for a in stop.get_args() {
            script.push_str(&format!(" '{}'", a.to_string_lossy()));
        }
        script.push_str(&format!(
            " >/dev/null 2>&1; rm -rf '{}'",
            self.dir.display()
        ));
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host={} port={} user=postgres dbname=postgres",
                self.dir.display(),
                self.port
            ),
            postgres::NoTls,
        )
        .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.started {
            let _ = self.stop_command().output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(Cluster::start) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn fresh_database(c: &Cluster) -> String {
    let name = format!("t_{:016x}", rand::random::<u64>());
    c.admin()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE: {e}"));
    name
}

/// The URL of a new, empty database in the test cluster (its unix socket).
pub fn fresh_url() -> String {
    let c = cluster();
    let name = fresh_database(c);
    let host = c.dir.display().to_string().replace('/', "%2F");
    format!("postgres://postgres@{host}:{}/{name}", c.port)
}

/// A new, empty database over TCP: `postgres://postgres@HOST:PORT/DB`
/// with the given host, and the test CA's certificate (PEM file) that
/// signed the server's certificate (for `localhost`).
#[cfg(test)]
pub(crate) fn fresh_tcp_url(host: &str) -> (String, PathBuf) {
    let c = cluster();
    let name = fresh_database(c);
    (
        format!("postgres://postgres@{host}:{}/{name}", c.port),
        c.dir.join("ca.pem"),
    )
}

/// A store on a new database of the test cluster.
#[cfg(test)]
pub(crate) fn fresh_store() -> Store {
    Store::open_url(&fresh_url()).unwrap_or_else(|e| panic!("opening the test database: {e}"))
}
