//! The pushca home directory: where the store, the CA keys and certificates, and
//! template overrides live.
//!
//! ```text
//! <home>/pushca.db            SQLite store (teams, App IDs, certificates, ...)
//! <home>/ca/root.pem          root CA certificate            (0644)
//! <home>/ca/root.key          root CA key, encrypted PKCS#8  (0600)
//! <home>/ca/issuing.pem       issuing CA certificate
//! <home>/ca/issuing.key       issuing CA key, encrypted
//! <home>/ca/profile-signer.pem / .key
//! <home>/ca/chain.pem         issuing + root, for handing out
//! <home>/templates/*.toml     optional overrides of the built-in templates
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("no home directory: pass --home DIR or set PUSHCA_HOME")]
    Unknown,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Home { root: root.into() }
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

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("pushca.db")
    }
    pub fn ca_dir(&self) -> PathBuf {
        self.root.join("ca")
    }
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }
    pub fn is_initialized(&self) -> bool {
        self.db_path().is_file()
    }
}
