//! PKCS#12 (.p12 / .pfx) reading and writing, implemented on the `pkcs12`,
//! `cms`, `pkcs5` and `der` crates.
//!
//! Reads what users meet: OpenSSL 3 defaults (PBES2/AES-256, HMAC-SHA256 MAC),
//! PBES2 with hmacWithSHA1, OpenSSL `-legacy` and Keychain exports (RC2-40 /
//! 3DES, SHA-1 MAC), unencrypted bags with or without a MAC, empty passwords
//! (both the empty-BMPString and the absent-password conventions), non-ASCII
//! passwords, several certificates and friendly names, certificate-only stores.
//!
//! Writes three profiles ([`Profile`]) and certificate-only trust stores that Java
//! `KeyStore` loads ([`write_truststore`]).

use crate::keys::{KeyError, PrivateKey};

mod ber;
pub mod mac;
mod read;
pub(crate) mod write;

pub(crate) use write::local_key_id;
pub use write::{write_pkcs12, write_pkcs12_with_iterations, write_truststore, Profile};

/// A certificate found in (or to be put in) a PKCS#12 file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertEntry {
    /// DER of the X.509 certificate.
    pub der: Vec<u8>,
    /// `friendlyName` bag attribute (the "alias").
    pub friendly_name: Option<String>,
    /// `localKeyId` bag attribute linking the certificate to its key.
    pub local_key_id: Option<Vec<u8>>,
}

impl CertEntry {
    /// A certificate without attributes (a trust store's alias then defaults
    /// to the certificate's CN).
    pub(crate) fn new(der: impl Into<Vec<u8>>) -> CertEntry {
        CertEntry {
            der: der.into(),
            friendly_name: None,
            local_key_id: None,
        }
    }
}

/// A private key found in (or to be put in) a PKCS#12 file.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// The key.
    pub key: PrivateKey,
    /// `friendlyName` attribute, if any.
    pub friendly_name: Option<String>,
    /// `localKeyId` attribute, if any: pairs the key with its certificate.
    pub local_key_id: Option<Vec<u8>>,
}

/// Everything pushca takes from a PKCS#12 file.
#[derive(Debug, Clone, Default)]
pub struct Pkcs12Contents {
    /// The certificates, in file order.
    pub certs: Vec<CertEntry>,
    /// The private keys, in file order.
    pub keys: Vec<KeyEntry>,
}

/// Why a PKCS#12 file could not be read or written.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum P12Error {
    /// The input is PEM text, not a DER PKCS#12 file.
    #[error("this is a PEM file, not PKCS#12 (.p12/.pfx is binary DER)")]
    Pem,
    /// The outer structure does not decode as a PFX.
    #[error("not a PKCS#12 file ({0})")]
    NotPkcs12(#[source] der::Error),
    /// The file starts like a PFX but ends early.
    #[error("truncated PKCS#12 file ({0})")]
    Truncated(#[source] der::Error),
    /// The integrity MAC does not verify with the password.
    #[error("wrong password (MAC verification failed)")]
    WrongPasswordMac,
    /// An encrypted bag or key does not decrypt with the password.
    #[error("wrong password (decryption failed)")]
    WrongPasswordDecrypt,
    /// The file does not parse past its outer structure: `context` says what
    /// was being read or what is wrong; `source` is the lower crate's error
    /// (der, a PBE or MAC error) when one found the fault.
    #[error("corrupt PKCS#12 file: {context}{}", crate::error::Paren(.source))]
    Corrupt {
        /// What was being read, or what is wrong.
        context: std::borrow::Cow<'static, str>,
        /// The lower crate's error, when one found the fault.
        #[source]
        source: Option<crate::error::BoxError>,
    },
    /// A feature pushca does not read: an algorithm, public-key encrypted
    /// safes, an unknown bag. `context` names it; `source` is the lower
    /// crate's error when one refused it (a PBE error).
    #[error("unsupported PKCS#12 file: {context}{}", crate::error::Paren(.source))]
    Unsupported {
        /// What is not supported.
        context: std::borrow::Cow<'static, str>,
        /// The lower crate's error, when one refused it.
        #[source]
        source: Option<crate::error::BoxError>,
    },
    /// A key in the file (or to be written) is not usable.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// Encrypting or encoding the output failed.
    #[error("cannot write PKCS#12: {0}")]
    Write(#[source] crate::error::BoxError),
    /// A friendly name PKCS#12 cannot hold (it is a BMPString: characters
    /// outside the Basic Multilingual Plane, such as emoji, do not fit).
    #[error("cannot write PKCS#12: friendly name '{name}' cannot be encoded ({source})")]
    FriendlyName {
        /// The name.
        name: String,
        /// der's error.
        #[source]
        source: der::Error,
    },
    /// Reading would cost more key-derivation work than one file may
    /// ([`crate::pbe::WORK_LIMIT`]); refused before the work is done.
    #[error("the file asks for more key-derivation work than pushca's limit for one file ({needed} > {limit} units)")]
    WorkLimit {
        /// Units the file asks for, in total.
        needed: u64,
        /// Units allowed.
        limit: u64,
    },
    /// A DER structure built to exhaust a decoder (see [`crate::der_limits`]).
    #[error("PKCS#12 file has {0}: refused as hostile")]
    Hostile(#[from] crate::der_limits::Hostile),
}

impl P12Error {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            P12Error::WrongPasswordMac | P12Error::WrongPasswordDecrypt => ErrorKind::Password,
            P12Error::Key(k) => k.kind(),
            P12Error::Write(_) => ErrorKind::Crypto,
            P12Error::Pem
            | P12Error::NotPkcs12(_)
            | P12Error::Truncated(_)
            | P12Error::Corrupt { .. }
            | P12Error::Unsupported { .. }
            | P12Error::FriendlyName { .. }
            | P12Error::WorkLimit { .. }
            | P12Error::Hostile(_) => ErrorKind::Input,
        }
    }
}

impl P12Error {
    /// A feature pushca does not read, named (no lower error).
    pub(crate) fn unsupported(what: impl Into<std::borrow::Cow<'static, str>>) -> P12Error {
        P12Error::Unsupported {
            context: what.into(),
            source: None,
        }
    }

    /// Whether the error means the password was wrong.
    pub fn is_wrong_password(&self) -> bool {
        matches!(
            self,
            P12Error::WrongPasswordMac | P12Error::WrongPasswordDecrypt
        )
    }
}

/// Entry point for reading: `Pkcs12::parse(bytes, password)`.
pub struct Pkcs12;

impl Pkcs12 {
    /// Parses and decrypts a PKCS#12 file. An empty password is tried in both
    /// encodings (empty BMPString with terminator, and zero-length).
    pub fn parse(
        bytes: &[u8],
        password: &crate::secret::Secret,
    ) -> Result<Pkcs12Contents, P12Error> {
        read::parse(bytes, password, &mut crate::pbe::WorkBudget::new())
    }

    /// [`Pkcs12::parse`] charging key derivation to `budget`: pass the same
    /// budget to every attempt on one file (e.g. a retry with a prompted
    /// password), so the work is bounded per file, not per attempt.
    pub(crate) fn parse_with(
        bytes: &[u8],
        password: &crate::secret::Secret,
        budget: &mut crate::pbe::WorkBudget,
    ) -> Result<Pkcs12Contents, P12Error> {
        read::parse(bytes, password, budget)
    }
}

impl Pkcs12Contents {
    /// Index of the leaf ("client") certificate: the one whose `localKeyId`
    /// matches the key's, else whose public key matches the key, else the only
    /// certificate.
    pub(crate) fn leaf_index(&self) -> Option<usize> {
        if let Some(k) = self.keys.first() {
            if let Some(id) = &k.local_key_id {
                if let Some(i) = self
                    .certs
                    .iter()
                    .position(|c| c.local_key_id.as_ref() == Some(id))
                {
                    return Some(i);
                }
            }
            // The key's public key is derived once per file, not per certificate.
            if let Ok(key_spki) = crate::keys::decode::public_key_spki(&k.key) {
                if let Some(i) = self.certs.iter().position(|c| {
                    crate::certfile::certificate_spki(&c.der)
                        .is_ok_and(|spki| crate::certfile::same_public_key(&spki, &key_spki))
                }) {
                    return Some(i);
                }
            }
        } else if let Some(i) = self.certs.iter().position(|c| c.local_key_id.is_some()) {
            return Some(i);
        }
        if self.certs.len() == 1 && !self.keys.is_empty() {
            return Some(0);
        }
        None
    }

    /// The certificate the key belongs to: the one whose `localKeyId` matches
    /// the key's, else whose public key matches, else the only certificate of
    /// a file with a key. `None` when none can be told.
    pub fn leaf(&self) -> Option<&CertEntry> {
        self.leaf_index().and_then(|i| self.certs.get(i))
    }

    /// Every certificate but the leaf (openssl's `-cacerts`).
    pub fn ca_certs(&self) -> Vec<&CertEntry> {
        let leaf = self.leaf_index();
        self.certs
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != leaf)
            .map(|(_, c)| c)
            .collect()
    }

    /// The key of the leaf certificate (the first key when there is one).
    pub fn key(&self) -> Option<&KeyEntry> {
        self.keys.first()
    }
}

#[cfg(test)]
mod tests;
