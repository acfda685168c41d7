//! The gateway side: the trust store files ([`build`]), the policy
//! ([`policy`]) and the enforcement a gateway runs on every provider
//! connection, push and device registration ([`TrustStore`], [`Gateway`]).
//!
//! Two steps, so that path validation is paid once per connection and a push
//! costs only hash lookups:
//!
//! ```no_run
//! use pushca::gateway::{Decision, Gateway};
//! use pushca::x509ext::Environment;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gw = Gateway::load("/etc/pushgw/trust-store".as_ref())?; // verifies everything
//! # let chain: Vec<Vec<u8>> = Vec::new();
//! // Per connection: the client certificate chain the TLS layer saw (DER).
//! let provider = match gw.identify(&chain) {
//!     Ok(id) => id,
//!     Err(deny) => return Err(deny.to_string().into()), // BadCertificate
//! };
//! // Per push: hash lookups only.
//! match gw.authorize(&provider, "com.example.app", Environment::Production, Some("00008030-001A0C3E0E68802E")) {
//!     Decision::Allow => { /* deliver */ }
//!     Decision::Deny(reason) => eprintln!("refused: {reason}"),
//! }
//! // When a new trust store is published: verified first, swapped without
//! // blocking readers; on failure the old one stays.
//! gw.reload("/etc/pushgw/trust-store".as_ref())?;
//! # Ok(()) }
//! ```

pub mod build;
pub mod policy;
mod trust;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use trust::{Identity, LoadOptions, TrustStore};

/// Files of a trust store directory.
pub const CA_PEM: &str = "ca.pem";
pub const CRL_PEM: &str = "crl.pem";
pub const TRUSTSTORE_P12: &str = "truststore.p12";
pub const POLICY_JSON: &str = "policy.json";
pub const POLICY_P7S: &str = "policy.json.p7s";
pub const PROFILES_DIR: &str = "profiles";

use crate::x509ext::Environment;

/// Why a push or a registration is refused: APNs' reason names where one
/// fits (PRODUCT.md, "The gateway's enforcement").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The chain does not verify to the trust store's CA now (EKU clientAuth
    /// required), or the leaf is revoked.
    BadCertificate,
    /// The topic is not one of the certificate's topics.
    TopicDisallowed,
    /// The certificate does not carry the environment.
    BadCertificateEnvironment,
    /// No unexpired profile for the App ID and environment authorises the certificate.
    Forbidden,
    /// The profile does not provision the device.
    DeviceNotProvisioned,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::BadCertificate => "BadCertificate",
            Reason::TopicDisallowed => "TopicDisallowed",
            Reason::BadCertificateEnvironment => "BadCertificateEnvironment",
            Reason::Forbidden => "Forbidden",
            Reason::DeviceNotProvisioned => "DeviceNotProvisioned",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Reason),
}

/// A connection refused at `identify`: always [`Reason::BadCertificate`],
/// with what was wrong (for logs, never for the provider).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Denied {
    pub reason: Reason,
    pub detail: String,
}

/// Why a trust store cannot be loaded. Every variant is an error: a trust
/// store that does not verify never leads to an allow.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: crate::fsutil::FsError,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("policy.json.p7s does not verify policy.json: {0}")]
    PolicySignature(String),
    #[error("{file}: SHA-256 {found} differs from policy.json's {expected} (altered file)")]
    HashMismatch {
        file: String,
        expected: String,
        found: String,
    },
    #[error("{0}: not listed in policy.json (unexpected file)")]
    UnlistedFile(String),
    #[error("profile {file}: {source}")]
    Profile {
        file: String,
        #[source]
        source: crate::portal::profile::ProfileError,
    },
    #[error("profile {file} does not match policy.json: {reason}")]
    ProfileMismatch { file: String, reason: String },
}

/// The trust store a gateway runs on, swapped whole on reload without
/// blocking the threads that read it. Each identity remembers the snapshot it
/// was made with; after a reload, [`Gateway::authorize`] identifies the
/// chain again against the new snapshot (its cache starts empty), so a
/// certificate revoked in the new trust store is denied at its next push.
pub struct Gateway {
    current: arc_swap::ArcSwap<TrustStore>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gateway")
            .field(&*self.current.load())
            .finish()
    }
}

impl Gateway {
    pub fn new(store: TrustStore) -> Gateway {
        Gateway {
            current: arc_swap::ArcSwap::from_pointee(store),
        }
    }

    /// Loads and verifies a trust store directory.
    pub fn load(dir: &Path) -> Result<Gateway, GatewayError> {
        Ok(Gateway::new(TrustStore::load(dir)?))
    }

    /// Loads and verifies `dir`, then swaps it in. On error the current
    /// snapshot stays.
    pub fn reload(&self, dir: &Path) -> Result<(), GatewayError> {
        let new = TrustStore::load_after(dir, Some(&self.current.load()))?;
        self.current.store(Arc::new(new));
        Ok(())
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<TrustStore> {
        self.current.load_full()
    }

    /// Rules 1-2 for a client chain (DER, leaf first), cached by the leaf's
    /// fingerprint in the current snapshot.
    pub fn identify<C: AsRef<[u8]>>(&self, chain: &[C]) -> Result<Identity, Denied> {
        TrustStore::identify(&self.current.load_full(), chain)
    }

    /// Rules 3-6 for one push (hash lookups; re-identifies once after a reload).
    pub fn authorize(
        &self,
        id: &Identity,
        topic: &str,
        env: Environment,
        device: Option<&str>,
    ) -> Decision {
        let current = self.current.load();
        if id.is_from(&current) {
            return current.authorize(id, topic, env, device);
        }
        match TrustStore::identify_shared(&current, id.shared_chain()) {
            Ok(fresh) => current.authorize(&fresh, topic, env, device),
            Err(d) => Decision::Deny(d.reason),
        }
    }

    /// A device registering for pushes of `bundle_id` in `env`.
    pub fn authorize_registration(
        &self,
        bundle_id: &str,
        env: Environment,
        udid: &str,
    ) -> Decision {
        self.current
            .load()
            .authorize_registration(bundle_id, env, udid)
    }
}
