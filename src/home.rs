//! The pushca home directory: where the store, the CA keys and certificates, and
//! template overrides live — and the checks that keep it private.
//!
//! ```text
//! <home>/pushca.db            SQLite store (teams, App IDs, certificates, ...)  0600
//! <home>/ca/root.pem          root CA certificate                              0644
//! <home>/ca/root.key          root CA key, encrypted PKCS#8                    0600
//! <home>/ca/issuing.pem       issuing CA certificate
//! <home>/ca/issuing.key       issuing CA key, encrypted
//! <home>/ca/profile-signer.pem / .key
//! <home>/ca/chain.pem         issuing + root, for handing out
//! <home>/templates/*.toml     optional overrides of the built-in templates
//! ```
//!
//! pushca refuses a home, CA directory or key/store file that is writable by
//! group or others or owned by another user (key and store files also must not
//! be readable by them), and says which `chmod`/`chown` fixes it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A pushca home directory (see the module docs for its layout). Holds only
/// the path: nothing is read or checked until a method asks.
///
/// A home may name a database instead ([`Home::with_store_url`]): then the
/// store, the CA material and the templates are that database's, and the
/// directory is not used for them.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    store: Option<std::sync::Arc<StoreSite>>,
}

/// A store named by URL, with what has been read from it once (the CA
/// material and templates, cached for this process).
pub(crate) struct StoreSite {
    pub(crate) url: String,
    pub(crate) cache: std::sync::Mutex<Option<std::sync::Arc<crate::ca::authority::StoredCa>>>,
}

impl std::fmt::Debug for StoreSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreSite({})", crate::store::redact_url(&self.url))
    }
}

/// What is wrong with a path of the home.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Owned by another user.
    ForeignOwner {
        /// The owner's uid.
        uid: u32,
    },
    /// Group or others may write it.
    Writable {
        /// The permission bits (`st_mode & 0o7777`).
        mode: u32,
    },
    /// Group or others may read a secret file.
    Readable {
        /// The permission bits (`st_mode & 0o7777`).
        mode: u32,
    },
}

/// Why a home cannot be found or used.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// No home was given and `$HOME` is unset or empty.
    #[error("no home directory given")]
    Unknown,
    /// A path of the home others may change (or read, for secrets); the
    /// message names the `chmod`/`chown` that fixes it.
    #[error("{} is not private: {}; fix: {}", path.display(), describe(.problem), fix(path, .problem))]
    NotPrivate {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong with it.
        problem: Exposure,
    },
    /// The home path exists and is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A path of the home could not be inspected or created.
    #[error("cannot inspect {}: {source}", path.display())]
    Inspect {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl HomeError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            HomeError::Unknown => ErrorKind::Usage,
            HomeError::NotPrivate { .. } => ErrorKind::Policy,
            HomeError::NotADirectory(_) => ErrorKind::Input,
            HomeError::Inspect { .. } => ErrorKind::Io,
        }
    }
}

fn describe(p: &Exposure) -> String {
    match p {
        Exposure::ForeignOwner { uid } => format!("it is owned by uid {uid}, not by you"),
        Exposure::Writable { mode } => format!("group or others may write it (mode {mode:03o})"),
        Exposure::Readable { mode } => format!("group or others may read it (mode {mode:03o})"),
    }
}

fn fix(path: &Path, p: &Exposure) -> String {
    let q = shell_quote(path);
    match p {
        Exposure::ForeignOwner { .. } => format!(
            "chown {} {q} (or use a home of your own)",
            rustix::process::geteuid().as_raw()
        ),
        Exposure::Writable { .. } | Exposure::Readable { .. } => {
            if path.is_dir() {
                format!("chmod 700 {q}")
            } else {
                format!("chmod 600 {q}")
            }
        }
    }
}

fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Checks one path: owned by us; never group/other-writable; for secrets,
/// not group/other-readable either. A missing path is fine.
fn check(path: &Path, secret: bool) -> Result<(), HomeError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(HomeError::Inspect {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let bad = |problem| HomeError::NotPrivate {
        path: path.to_path_buf(),
        problem,
    };
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(bad(Exposure::ForeignOwner { uid: meta.uid() }));
    }
    let mode = meta.mode() & 0o7777;
    // A symlink's own mode means nothing; its target is checked by the caller's use.
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if mode & 0o022 != 0 {
        return Err(bad(Exposure::Writable { mode }));
    }
    if secret && mode & 0o044 != 0 {
        return Err(bad(Exposure::Readable { mode }));
    }
    Ok(())
}

impl Home {
    /// The home at `root` (nothing is checked yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Home {
            root: root.into(),
            store: None,
        }
    }

    /// The same home on the database `url` (a PostgreSQL URL): every command
    /// uses that store, and the CA material and templates in it.
    pub fn with_store_url(mut self, url: impl Into<String>) -> Self {
        self.store = Some(std::sync::Arc::new(StoreSite {
            url: url.into(),
            cache: Default::default(),
        }));
        self
    }

    /// The database URL this home uses, if it names one.
    pub fn store_url(&self) -> Option<&str> {
        self.store.as_deref().map(|s| s.url.as_str())
    }

    /// Where the store lives, for people: the home directory, or the
    /// database URL without its password.
    pub fn store_display(&self) -> String {
        match self.store_url() {
            Some(url) => crate::store::redact_url(url),
            None => self.root.display().to_string(),
        }
    }

    /// The CA's certificates and keys: the files of `<home>/ca`, or the
    /// store's when the home names a database.
    pub fn ca_files(&self) -> crate::ca::authority::CaFiles {
        match &self.store {
            Some(site) => crate::ca::authority::CaFiles::in_store(site.clone()),
            None => crate::ca::authority::CaFiles::new(self.ca_dir()),
        }
    }

    /// Where template overrides come from: `<home>/templates`, or the
    /// store's when the home names a database.
    pub(crate) fn templates(&self) -> crate::ca::templates::Templates {
        match &self.store {
            Some(site) => crate::ca::templates::Templates::Store(site.clone()),
            None => crate::ca::templates::Templates::Dir(self.templates_dir()),
        }
    }

    /// `explicit` (from `--home` or `$PUSHCA_HOME`), else `~/.pushca`.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Home, HomeError> {
        if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
            return Ok(Home::new(p));
        }
        match std::env::var_os("HOME") {
            Some(h) if !h.is_empty() => Ok(Home::new(PathBuf::from(h).join(".pushca"))),
            _ => Err(HomeError::Unknown),
        }
    }

    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The SQLite store, `<home>/pushca.db`.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("pushca.db")
    }
    /// The CA's certificates and keys, `<home>/ca`.
    pub fn ca_dir(&self) -> PathBuf {
        self.root.join("ca")
    }
    pub(crate) fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }
    /// Whether `init` has run here (the store file exists). A home on a
    /// database counts as initialised (whether the database holds a CA is
    /// found when it is read).
    pub fn is_initialized(&self) -> bool {
        self.store.is_some() || self.db_path().is_file()
    }

    /// The home's privacy check (see the module docs). Run before the home is
    /// used: opening the store, unlocking a key, reading templates.
    pub(crate) fn check_private(&self) -> Result<(), HomeError> {
        if self.store.is_some() {
            // Nothing of the directory is used.
            return Ok(());
        }
        check(&self.root, false)?;
        let ca = self.ca_dir();
        check(&ca, false)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.db_path().into_os_string();
            p.push(suffix);
            check(Path::new(&p), true)?;
        }
        if let Ok(entries) = std::fs::read_dir(&ca) {
            for e in entries.flatten() {
                let p = e.path();
                let secret = p.extension().is_some_and(|x| x == "key");
                check(&p, secret)?;
            }
        }
        let templates = self.templates_dir();
        check(&templates, false)?;
        if let Ok(entries) = std::fs::read_dir(&templates) {
            for e in entries.flatten() {
                check(&e.path(), false)?;
            }
        }
        Ok(())
    }

    /// Creates the home (mode 0700) if missing. An existing directory must
    /// already be private: it is never silently re-permissioned.
    pub(crate) fn create_private(&self) -> Result<(), HomeError> {
        if self.root.exists() {
            if !self.root.is_dir() {
                return Err(HomeError::NotADirectory(self.root.clone()));
            }
            return check(&self.root, false);
        }
        crate::fsutil::create_private_dir(&self.root).map_err(|e| HomeError::Inspect {
            path: self.root.clone(),
            source: std::io::Error::other(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn private_home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        home.create_private().unwrap();
        std::fs::create_dir(home.ca_dir()).unwrap();
        chmod(&home.ca_dir(), 0o700);
        std::fs::write(home.ca_dir().join("root.key"), b"k").unwrap();
        chmod(&home.ca_dir().join("root.key"), 0o600);
        std::fs::write(home.ca_dir().join("root.pem"), b"c").unwrap();
        chmod(&home.ca_dir().join("root.pem"), 0o644);
        std::fs::write(home.db_path(), b"db").unwrap();
        chmod(&home.db_path(), 0o600);
        (dir, home)
    }

    #[test]
    fn a_private_home_passes() {
        let (_d, home) = private_home();
        home.check_private().unwrap();
        let mode = std::fs::metadata(home.root()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn exposed_paths_are_refused_with_the_fix() {
        type Which = dyn Fn(&Home) -> PathBuf;
        let cases: [(&Which, u32, &str); 5] = [
            (&|h| h.root().to_path_buf(), 0o777, "chmod 700"),
            (&|h| h.ca_dir(), 0o770, "chmod 700"),
            (&|h| h.ca_dir().join("root.key"), 0o640, "chmod 600"),
            (&|h| h.ca_dir().join("root.key"), 0o602, "chmod 600"),
            (&|h| h.db_path(), 0o644, "chmod 600"),
        ];
        for (which, mode, want) in cases {
            let (_d, home) = private_home();
            let p = which(&home);
            chmod(&p, mode);
            let e = home.check_private().unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, HomeError::NotPrivate { .. }), "{msg}");
            assert!(
                msg.contains(want) && msg.contains(&p.display().to_string()),
                "{msg}"
            );
        }
        // A public certificate may be world-readable, not world-writable.
        let (_d, home) = private_home();
        chmod(&home.ca_dir().join("root.pem"), 0o666);
        assert!(home.check_private().is_err());
    }

    #[test]
    fn foreign_owners_are_refused() {
        if rustix::process::geteuid().as_raw() != 0 {
            return; // only root can give a file away
        }
        let (_d, home) = private_home();
        let key = home.ca_dir().join("root.key");
        std::os::unix::fs::chown(&key, Some(65534), None).unwrap();
        let e = home.check_private().unwrap_err();
        assert!(
            matches!(
                e,
                HomeError::NotPrivate {
                    problem: Exposure::ForeignOwner { uid: 65534 },
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("chown"), "{e}");
    }

    #[test]
    fn an_existing_open_directory_is_not_silently_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("open");
        std::fs::create_dir(&root).unwrap();
        chmod(&root, 0o777);
        let home = Home::new(&root);
        assert!(home.create_private().is_err());
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o777);
    }
}
