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
pub(crate) mod issue;
pub(crate) mod issuer;
pub(crate) mod serial;
pub mod templates;
pub mod tls;

use std::fmt;

use crate::x509ext::Environment;

pub use csr::{check_csr, CheckedCsr, CsrError};
pub use issue::{IssuedCertificate, PushSubject};
pub use issuer::Issuer;
pub(crate) use issuer::IssuingCa;

/// Why the CA could not read its templates or files, unlock a key, check a CSR or
/// build a certificate.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A template that cannot be used: `reason` says why in one line;
    /// `source` is the lower error (reading the file, TOML's) when there is one.
    #[error("template {name}: {reason}")]
    Template {
        /// The template's name, or the file it came from.
        name: String,
        /// What is wrong, in one line.
        reason: String,
        /// The lower error, when there is one.
        #[source]
        source: Option<crate::error::BoxError>,
    },
    /// The CSR was refused.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// A key could not be generated, read or encoded.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    /// A CA certificate of the home that pushca cannot use: not a
    /// certificate, or lacking a part it needs.
    #[error("{}: {reason}", path.display())]
    CaFile {
        /// The file, or which certificate when no file is at hand.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A CA key file does not hold a readable key.
    #[error("{}: {source}", path.display())]
    CaKey {
        /// The key file.
        path: std::path::PathBuf,
        /// Why the key could not be read.
        #[source]
        source: crate::keys::KeyError,
    },
    /// The passphrase does not decrypt this CA key file.
    #[error("CA passphrase is wrong (cannot decrypt {})", .0.display())]
    WrongPassphrase(std::path::PathBuf),
    /// A CA key does not match its certificate.
    #[error("the CA key does not belong to the certificate {what} (the CA files were mixed up)")]
    KeyMismatch {
        /// The certificate: its subject, or its file and the key file.
        what: String,
    },
    /// rcgen could not build or sign the certificate or CRL.
    #[error("certificate building failed: {0}")]
    Build(#[from] rcgen::Error),
    /// The CSR's key does not re-encode to the bytes in the CSR: not issued.
    #[error("the CSR's public key has a non-canonical encoding")]
    NonCanonicalKey,
    /// A push extension (topics, environment) could not be encoded.
    #[error(transparent)]
    Extension(#[from] crate::x509ext::ExtError),
    /// A country code that is not two ASCII letters.
    #[error("invalid country code '{0}': expected two letters, like US")]
    InvalidCountry(String),
    /// A certificate that cannot be read or used as an issuer: the parser's
    /// own error (x509-parser's, rcgen's or [`crate::x509::NotCertificate`]).
    #[error("not a certificate: {0}")]
    NotCertificate(#[source] crate::error::BoxError),
    /// The store holds no CA (no `init` has created one there).
    #[error("the store holds no CA")]
    NoCaInStore,
    /// Reading the CA material from the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A revoked certificate's record that cannot go on a CRL: its serial,
    /// what is wrong, and the lower error (hex's, time's).
    #[error("revoked certificate {serial}: {reason} ({source})")]
    CrlEntry {
        /// The serial as recorded.
        serial: String,
        /// What is wrong with the record.
        reason: &'static str,
        /// The lower error.
        #[source]
        source: crate::error::BoxError,
    },
}

impl CaError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CaError::WrongPassphrase(_) => ErrorKind::Password,
            CaError::NoCaInStore => ErrorKind::NotInitialized,
            CaError::Store(s) => s.kind(),
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
            // The store's revocation records are written checked: one that
            // does not fit a CRL is a corrupt store.
            CaError::CrlEntry { .. } => ErrorKind::Internal,
        }
    }
}

/// Push environments a certificate can be issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushEnvironment {
    /// The sandbox (development) APNs environment only.
    Development,
    /// The production APNs environment only.
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

    /// Every environment, in the order they are listed to users.
    pub const ALL: [PushEnvironment; 3] = [
        PushEnvironment::Development,
        PushEnvironment::Production,
        PushEnvironment::Universal,
    ];

    /// The lowercase name `FromStr` accepts: `development`, `production` or `universal`.
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

impl From<crate::x509::NotCertificate> for CaError {
    fn from(e: crate::x509::NotCertificate) -> Self {
        CaError::NotCertificate(Box::new(e))
    }
}
