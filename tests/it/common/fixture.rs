//! Fixture homes. Most tests need an initialised home but do not test `init`;
//! each CA key unlock at `init`'s 600,000 PBKDF2 iterations costs them about
//! 80 ms (every `cert issue`, `profile`, `crl` and `gateway` run unlocks one).
//! So `pushca init` runs once per test-binary run (per fixture), the fixture's
//! CA keys are re-encrypted through the library
//! ([`pushca::ca::authority::reencrypt_keys`]) with [`FIXTURE_ITERATIONS`],
//! and each test copies the fixture into its own directory. The binary has no
//! flag or variable that weakens key protection: the fixture keys are ordinary
//! PBES2 files that happen to carry a smaller iteration count.
//!
//! Under `cargo test` the fixtures live in the test process (a `OnceLock`'d
//! temporary directory, removed at exit). Under nextest, which runs each test
//! in its own process, they are made once per run (`NEXTEST_RUN_ID`) in the
//! target directory's temporary space under a file lock; other runs' fixtures
//! older than an hour are removed there.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pushca::ca::authority::{reencrypt_keys, CaFiles};
use pushca::secret::Secret;

use super::{Env, CA_PASS};

/// PBKDF2 iterations of the fixture homes' CA keys (`init` writes 600,000).
pub const FIXTURE_ITERATIONS: u32 = 1_000;

/// Which fixture: two homes with distinct CAs, for the tests that need a
/// foreign home beside their own. Both are EC P-256, team "Example Corp"
/// (`ABCDE12345`, `DE`), CA passphrase [`CA_PASS`], as `Env::init_with`
/// makes them.
#[derive(Clone, Copy)]
pub enum Fixture {
    Main,
    Other,
}

static MAIN: OnceLock<Env> = OnceLock::new();
static OTHER: OnceLock<Env> = OnceLock::new();

/// The fixture's home, made on first use (`pushca init`, then the keys
/// re-encrypted).
pub fn home(which: Fixture) -> PathBuf {
    match std::env::var("NEXTEST_RUN_ID") {
        Ok(run)
            if !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            shared(which, &run)
        }
        _ => in_process(which),
    }
}

/// `pushca init`, then the CA keys re-encrypted with [`FIXTURE_ITERATIONS`].
fn build(env: &Env) {
    env.init_with("ec-p256");
    reencrypt_keys(
        &CaFiles::new(env.home().join("ca")),
        &Secret::new(CA_PASS),
        FIXTURE_ITERATIONS,
    )
    .expect("re-encrypt the fixture's CA keys");
}

/// A fixture shared by the processes of one nextest run.
fn shared(which: Fixture, run: &str) -> PathBuf {
    let name = match which {
        Fixture::Main => "main",
        Fixture::Other => "other",
    };
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pushca-fixtures");
    std::fs::create_dir_all(&root).expect("fixture directory");
    let lock = std::fs::File::create(root.join(format!("{run}.lock"))).expect("fixture lock");
    fs4::fs_std::FileExt::lock_exclusive(&lock).expect("lock the fixtures");
    let dir = root.join(format!("{run}-{name}"));
    if !dir.exists() {
        prune(&root, run);
        let env = Env {
            dir: tempfile::Builder::new()
                .prefix(".build-")
                .tempdir_in(&root)
                .expect("tempdir"),
        };
        build(&env);
        std::fs::rename(env.dir.keep(), &dir).expect("publish the fixture");
    }
    dir.join("home")
}

/// Removes other runs' fixtures and locks that are over an hour old.
fn prune(root: &Path, run: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if old && !e.file_name().to_string_lossy().starts_with(run) {
            let p = e.path();
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
    }
}

/// A fixture in this process, removed when the test binary exits.
fn in_process(which: Fixture) -> PathBuf {
    let cell = match which {
        Fixture::Main => &MAIN,
        Fixture::Other => &OTHER,
    };
    static CLEANUP: OnceLock<()> = OnceLock::new();
    CLEANUP.get_or_init(|| {
        // SAFETY: registers a plain `extern "C"` function with no arguments.
        let rc = unsafe { libc::atexit(remove_fixtures) };
        assert_eq!(rc, 0, "atexit");
    });
    let env = cell.get_or_init(|| {
        let env = Env::new();
        build(&env);
        env
    });
    env.home()
}

/// Statics are never dropped: the temporary directories go at exit.
extern "C" fn remove_fixtures() {
    for cell in [&MAIN, &OTHER] {
        if let Some(env) = cell.get() {
            let _ = std::fs::remove_dir_all(env.dir.path());
        }
    }
}

/// Copies the home `from` to `to` (which must not exist) like `cp -a` does
/// for a home: directories and regular files with their permission bits
/// (0700 directories, 0600 keys and database, 0644 certificates).
pub fn copy_home(from: &Path, to: &Path) {
    let meta = std::fs::symlink_metadata(from).expect("fixture entry");
    if meta.is_dir() {
        std::fs::create_dir(to).expect("create directory");
        for entry in std::fs::read_dir(from).expect("read fixture directory") {
            let entry = entry.expect("fixture entry");
            copy_home(&entry.path(), &to.join(entry.file_name()));
        }
        std::fs::set_permissions(to, meta.permissions()).expect("directory mode");
    } else {
        assert!(meta.is_file(), "{}: not a file", from.display());
        // `fs::copy` copies the permission bits as well.
        std::fs::copy(from, to).expect("copy fixture file");
    }
}
