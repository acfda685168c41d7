//! The certificate authority: templates, the CA hierarchy, CSR checks, serial
//! numbers and push certificate issuance.
//!
//! ```text
//! root CA ── issuing CA ("Developer Relations") ─┬─ push certificates (from CSRs)
//!                                                 ├─ profile-signing certificate
//!                                                 └─ CRLs
//! ```

pub mod authority;
pub mod crl;
pub mod csr;
pub mod issue;
pub mod issuer;
pub mod serial;
pub mod templates;
pub mod tls;

use std::fmt;

use crate::x509ext::Environment;

pub use crate::x509::CertSummary;
pub use authority::{create_hierarchy, CaFiles, Hierarchy, InitParams};
pub use csr::{check_csr, CheckedCsr, CsrError};
pub use issue::{IssuedCertificate, PushSubject};
pub use issuer::{Issuer, IssuingCa};

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A template that cannot be used: `reason` says why in one line;
    /// `source` is the lower error (reading the file, TOML's) when there is one.
    #[error("template {name}: {reason}")]
    Template {
        name: String,
        reason: String,
        #[source]
        source: Option<crate::error::BoxError>,
    },
    #[error(transparent)]
    Csr(#[from] CsrError),
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    #[error("{}: {reason}", path.display())]
    CaFile {
        path: std::path::PathBuf,
        reason: &'static str,
    },
    #[error("{}: {source}", path.display())]
    CaKey {
        path: std::path::PathBuf,
        #[source]
        source: crate::keys::KeyError,
    },
    #[error("CA passphrase is wrong (cannot decrypt {})", .0.display())]
    WrongPassphrase(std::path::PathBuf),
    #[error("the CA key does not belong to the certificate {what} (the CA files were mixed up)")]
    KeyMismatch { what: String },
    #[error("certificate building failed: {0}")]
    Build(#[from] rcgen::Error),
    #[error("the CSR's public key has a non-canonical encoding")]
    NonCanonicalKey,
    #[error(transparent)]
    Extension(#[from] crate::x509ext::ExtError),
    #[error("invalid country code '{0}': expected two letters, like US")]
    InvalidCountry(String),
    /// A certificate (or a CRL's part) that cannot be read: what is wrong,
    /// or the parser's own error.
    #[error("not a certificate: {0}")]
    NotCertificate(#[source] crate::error::BoxError),
}

impl CaError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CaError::WrongPassphrase(_) => ErrorKind::Password,
            CaError::Key(k) | CaError::CaKey { source: k, .. } => k.kind(),
            CaError::Csr(c) => c.kind(),
            CaError::Fs(f) => f.kind(),
            // The home's CA files were altered or mixed up.
            CaError::CaFile { .. } | CaError::KeyMismatch { .. } => ErrorKind::Input,
            // Building the certificate from checked parts failed.
            CaError::Build(_) | CaError::NonCanonicalKey | CaError::Extension(_) => {
                ErrorKind::Crypto
            }
            CaError::Template { .. } | CaError::InvalidCountry(_) | CaError::NotCertificate(_) => {
                ErrorKind::Input
            }
        }
    }
}

/// Push environments a certificate can be issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushEnvironment {
    Development,
    Production,
    /// "Sandbox & Production": carries both environment extensions.
    Universal,
}

impl PushEnvironment {
    /// The environments a certificate of this kind carries.
    pub fn environments(self) -> &'static [Environment] {
        match self {
            PushEnvironment::Development => &[Environment::Development],
            PushEnvironment::Production => &[Environment::Production],
            PushEnvironment::Universal => &[Environment::Development, Environment::Production],
        }
    }

    pub const ALL: [PushEnvironment; 3] = [
        PushEnvironment::Development,
        PushEnvironment::Production,
        PushEnvironment::Universal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PushEnvironment::Development => "development",
            PushEnvironment::Production => "production",
            PushEnvironment::Universal => "universal",
        }
    }
}

impl fmt::Display for PushEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for PushEnvironment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "development" | "sandbox" => Ok(PushEnvironment::Development),
            "production" => Ok(PushEnvironment::Production),
            "universal" => Ok(PushEnvironment::Universal),
            _ => Err(format!(
                "unknown environment '{s}' (development, production or universal)"
            )),
        }
    }
}

/// Checks a two-letter country code and returns it uppercased.
pub fn normalize_country(cc: &str) -> Result<String, CaError> {
    if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(cc.to_ascii_uppercase())
    } else {
        Err(CaError::InvalidCountry(cc.to_string()))
    }
}

pub use crate::x509::sha256_hex;

impl From<crate::x509::NotCertificate> for CaError {
    fn from(e: crate::x509::NotCertificate) -> Self {
        CaError::NotCertificate(Box::new(e))
    }
}
