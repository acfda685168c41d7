//! The gateway side: the trust store files (`build`, on the issuing side),
//! the policy (`policy`) and the enforcement a gateway runs on every provider
//! connection, push and device registration ([`Gateway`], the one entry
//! point: it loads and verifies a trust store, decides on the snapshot it
//! runs, and swaps in a newer one on reload).
//!
//! Two steps, so that path validation (or a token's signature) is paid once
//! per connection and a push costs only hash lookups:
//!
//! ```no_run
//! use pushca::gateway::{Anchor, Decision, Gateway};
//! use pushca::x509ext::Environment;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The root is pinned from outside the directory it verifies.
//! let anchor = Anchor::from_file("/etc/pushgw/root.pem")?;
//! let gw = Gateway::load("/etc/pushgw/trust-store", anchor)?; // verifies everything
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
//!
//! // A provider without a client certificate: its token (the bare JWS of
//! // `authorization: bearer`), verified once per connection (ES256, cached)...
//! # let jwt: &[u8] = b"";
//! let token = match gw.verify_token(jwt) {
//!     Ok(t) => t,
//!     Err(deny) => return Err(deny.to_string().into()), // InvalidProviderToken, ExpiredProviderToken
//! };
//! // ...then per push, hash lookups (or both steps at once: gw.authorize_token(jwt, ...)).
//! if gw.authorize_with_token(&token, "com.example.app", Environment::Production, None) != Decision::Allow {
//!     eprintln!("refused");
//! }
//! // When a new trust store is published: verified first, swapped without
//! // blocking readers; on failure the old one stays.
//! // A different root, an older version or an expired store is refused.
//! gw.reload("/etc/pushgw/trust-store")?;
//! # Ok(()) }
//! ```

#[cfg(feature = "ca")]
pub(crate) mod build;
mod dir;
mod jwt;
pub(crate) mod policy;
mod trust;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(feature = "ca")]
pub(crate) use trust::verified_policy;
pub(crate) use trust::TrustStore;
pub use trust::{Identity, LoadOptions, ProviderToken};

/// Files of a trust store directory.
/// `ca.pem`: the root, then the issuing CA.
pub(crate) const CA_PEM: &str = "ca.pem";
/// `crl.pem`: the issuing CA's CRL, then the root's.
pub(crate) const CRL_PEM: &str = "crl.pem";
/// `truststore.p12`: the CA certificates as a PKCS#12 trust store.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) const TRUSTSTORE_P12: &str = "truststore.p12";
/// `policy.json`: the enforcement table ([`policy::Policy`]).
pub(crate) const POLICY_JSON: &str = "policy.json";
/// `policy.json.p7s`: the detached CMS signature of `policy.json`.
pub(crate) const POLICY_P7S: &str = "policy.json.p7s";
/// `profiles/`: one `<UUID>.mobileprovision` per current profile.
pub(crate) const PROFILES_DIR: &str = "profiles";

pub use crate::x509ext::Environment;

/// Why a push or a registration is refused: APNs' reason names where one
/// fits (PRODUCT.md, "The gateway's enforcement"). Later versions may add
/// reasons: match with a wildcard arm.
#[non_exhaustive]
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
    /// The trust store is past its `expires_at` (or a CRL's nextUpdate):
    /// nothing is allowed until a newer one is loaded (APNs' 503).
    ServiceUnavailable,
    /// A connection without a client certificate sent no provider token
    /// (`authorization: bearer`). Decided by the gateway server, never by
    /// this library.
    MissingProviderToken,
    /// The provider token is malformed (size, segments, base64url, JSON),
    /// its `alg` is not `ES256`, its Key ID is unknown or revoked, its
    /// signature does not verify, its `iss` is not the key's team, or its
    /// `iat` is more than 60 s in the future (the gateway server also
    /// refuses tokens of two teams on one connection with it).
    InvalidProviderToken,
    /// The provider token was issued (`iat`) more than 3600 s ago.
    ExpiredProviderToken,
    /// The token's key signs for the other environment. Apple's spelling,
    /// which providers match on (PRODUCT.md's `BadEnvironmentKeyIdInToken`
    /// is not a name APNs sends).
    BadEnvironmentKeyInToken,
    /// A connection changed its token more than once in 20 minutes (APNs'
    /// 429). Decided by the gateway server, never by this library.
    TooManyProviderTokenUpdates,
}

impl Reason {
    /// The reason's name, as APNs spells it.
    pub fn name(self) -> &'static str {
        match self {
            Reason::BadCertificate => "BadCertificate",
            Reason::TopicDisallowed => "TopicDisallowed",
            Reason::BadCertificateEnvironment => "BadCertificateEnvironment",
            Reason::Forbidden => "Forbidden",
            Reason::DeviceNotProvisioned => "DeviceNotProvisioned",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::MissingProviderToken => "MissingProviderToken",
            Reason::InvalidProviderToken => "InvalidProviderToken",
            Reason::ExpiredProviderToken => "ExpiredProviderToken",
            Reason::BadEnvironmentKeyInToken => "BadEnvironmentKeyInToken",
            Reason::TooManyProviderTokenUpdates => "TooManyProviderTokenUpdates",
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
#[must_use = "a decision that is not looked at allows nothing"]
pub enum Decision {
    /// Deliver the push (or accept the registration).
    Allow,
    /// Refuse it, for the first rule that failed.
    Deny(Reason),
}

/// A connection refused at `identify` ([`Reason::BadCertificate`]) or a
/// token refused at `verify_token` ([`Reason::InvalidProviderToken`],
/// [`Reason::ExpiredProviderToken`]), or [`Reason::ServiceUnavailable`]
/// once the trust store has expired, with what was wrong (for logs, never
/// for the provider; never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Denied {
    /// [`Reason::BadCertificate`], [`Reason::InvalidProviderToken`],
    /// [`Reason::ExpiredProviderToken`] or [`Reason::ServiceUnavailable`].
    pub reason: Reason,
    /// What was wrong, for logs.
    pub detail: String,
}

/// Why a trust store cannot be loaded. Every variant is an error: a trust
/// store that does not verify never leads to an allow.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A file of the store cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::fsutil::FsError,
    },
    /// A file of the store is not what it should be.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file of the store does not parse: the lower error (PEM, X.509,
    /// CRL, JSON, …) says why.
    #[error("{}: {source}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: crate::error::BoxError,
    },
    /// The detached signature of `policy.json`, or its signer, does not verify.
    #[error("policy.json.p7s does not verify policy.json: {0}")]
    PolicySignature(#[source] PolicySignatureError),
    /// A file differs from the SHA-256 that `policy.json` lists.
    #[error("{file}: SHA-256 {found} differs from policy.json's {expected} (altered file)")]
    HashMismatch {
        /// The file, relative to the store.
        file: String,
        /// The SHA-256 `policy.json` lists (hex).
        expected: String,
        /// The file's SHA-256 (hex).
        found: String,
    },
    /// A file that `policy.json` does not list.
    #[error("{0}: not listed in policy.json (unexpected file)")]
    UnlistedFile(String),
    /// A profile does not verify.
    #[error("profile {file}: {source}")]
    Profile {
        /// The profile's file, relative to the store.
        file: String,
        /// Why.
        #[source]
        source: crate::profile::ProfileError,
    },
    /// A profile says something else than `policy.json`.
    #[error("profile {file} does not match policy.json: {reason}")]
    ProfileMismatch {
        /// The profile's file, relative to the store.
        file: String,
        /// What differs.
        reason: String,
    },
    #[error(
        "ca.pem's root ({found}) is not the pinned anchor ({pinned}): a trust store of another CA"
    )]
    /// `ca.pem`'s root is not the pinned anchor.
    ForeignRoot {
        /// `ca.pem`'s root: subject and SHA-256.
        found: String,
        /// The anchor: subject and SHA-256.
        pinned: String,
    },
    /// The store is past its expiry.
    #[error("the trust store expired at {expires_at} (its policy's expires_at or a CRL's nextUpdate); nothing is allowed until a newer one is published")]
    Expired {
        /// When it expired (RFC 3339).
        expires_at: String,
    },
    /// The store's version is lower than the one required (rollback).
    #[error("trust store version {found} is older than version {current}, already loaded (rollback refused)")]
    Rollback {
        /// The store's version.
        found: u64,
        /// The lowest version accepted.
        current: u64,
    },
    /// Another store under the version running.
    #[error("trust store version {version} differs from the version {version} already loaded (a version is never reused)")]
    VersionReused {
        /// The version.
        version: u64,
    },
}

impl GatewayError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            GatewayError::Read { source, .. } => source.kind(),
            GatewayError::Invalid { .. }
            | GatewayError::Malformed { .. }
            | GatewayError::PolicySignature(_)
            | GatewayError::HashMismatch { .. }
            | GatewayError::UnlistedFile(_)
            | GatewayError::Profile { .. }
            | GatewayError::ProfileMismatch { .. }
            | GatewayError::ForeignRoot { .. } => ErrorKind::Input,
            GatewayError::Expired { .. } => ErrorKind::Policy,
            GatewayError::Rollback { .. } | GatewayError::VersionReused { .. } => {
                ErrorKind::Conflict
            }
        }
    }
}

/// Why `policy.json.p7s` does not verify `policy.json`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PolicySignatureError {
    /// The CMS signature itself (structure, digest, signature).
    #[error("{0}")]
    Cms(#[source] crate::cms::CmsError),
    /// Its signer does not chain to the anchor as a profile signer.
    #[error("its signer: {0}")]
    Signer(#[source] crate::chain::ChainError),
}

/// Why a certificate cannot be a gateway's [`Anchor`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// Not DER of an X.509 certificate.
    #[error("not a certificate: {0}")]
    NotCertificate(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// Not self-signed (its subject).
    #[error("{0} is not a self-signed root")]
    NotSelfSigned(String),
    /// Self-signed but not a CA (its subject).
    #[error("{0} is not a CA certificate")]
    NotCa(String),
}

/// The root certificate a gateway trusts, pinned from outside the trust
/// store directory (PRODUCT.md, "Pinned anchor"): it anchors the policy
/// signature and every client chain, and a trust store whose `ca.pem` holds
/// another root is refused.
#[derive(Clone, PartialEq, Eq)]
pub struct Anchor {
    der: Vec<u8>,
    sha256: String,
    subject: String,
}

impl fmt::Debug for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Anchor({}, sha256 {})", self.subject, self.sha256)
    }
}

impl Anchor {
    /// A self-signed CA certificate (DER).
    pub fn from_der(der: &[u8]) -> Result<Anchor, AnchorError> {
        let (_, c) =
            x509_parser::parse_x509_certificate(der).map_err(AnchorError::NotCertificate)?;
        if c.subject() != c.issuer() || c.verify_signature(None).is_err() {
            return Err(AnchorError::NotSelfSigned(c.subject().to_string()));
        }
        if !c.is_ca() {
            return Err(AnchorError::NotCa(c.subject().to_string()));
        }
        Ok(Anchor {
            subject: c.subject().to_string(),
            sha256: crate::x509::sha256_hex(der),
            der: der.to_vec(),
        })
    }

    /// The root in a PEM or DER file: its one self-signed certificate
    /// (other certificates in the file, such as an issuing CA, are ignored).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Anchor, GatewayError> {
        Anchor::from_source(&crate::fsutil::Source::File(path.as_ref().to_path_buf()))
    }

    /// [`Anchor::from_file`] of an input: a file, or bytes already read (a
    /// root given on standard input, in a request body), named in messages
    /// by [`Source::name`](crate::fsutil::Source::name).
    pub fn from_source(input: &crate::fsutil::Source) -> Result<Anchor, GatewayError> {
        let path = input.name();
        let invalid = |reason: String| GatewayError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = input.read().map_err(|source| GatewayError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let certs =
            crate::certfile::read_certificates(&bytes).map_err(|e| GatewayError::Malformed {
                path: path.to_path_buf(),
                source: e.into(),
            })?;
        let roots: Vec<Anchor> = certs
            .iter()
            .filter_map(|c| Anchor::from_der(c).ok())
            .collect();
        match roots.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(invalid("holds no self-signed root CA certificate".into())),
            _ => Err(invalid(format!(
                "holds {} self-signed root certificates; give the one to pin",
                roots.len()
            ))),
        }
    }

    /// DER of the root.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the root, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The root's subject, for messages.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

// A gateway shares one `Gateway` between its connection tasks.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Gateway>();
    shared::<TrustStore>();
    shared::<Identity>();
    shared::<ProviderToken>();
    shared::<Anchor>();
};

/// The trust store a gateway runs on, swapped whole on reload without
/// blocking the threads that read it. Each identity remembers the snapshot it
/// was made with; after a reload, [`Gateway::authorize`] identifies the
/// chain again against the new snapshot (its cache starts empty), so a
/// certificate revoked in the new trust store is denied at its next push.
///
/// The anchor is pinned for the gateway's life: a reload accepts only a
/// trust store of the same root, and never one of a lower version than the
/// one it runs (a gateway that persists [`Gateway::version`] passes it back
/// as [`LoadOptions::min_version`] at its next start, so a restart cannot be
/// rolled back either).
///
/// Every decision goes through the gateway, on the snapshot it runs: no
/// snapshot is handed out (one kept by a caller would go on deciding on a
/// store that a reload has replaced), and the snapshot type is internal.
///
/// ```compile_fail
/// fn decide_on_a_snapshot(gw: &pushca::gateway::Gateway) {
///     let _ = gw.snapshot();
/// }
/// ```
///
/// ```compile_fail
/// use pushca::gateway::TrustStore;
/// ```
pub struct Gateway {
    current: arc_swap::ArcSwap<TrustStore>,
    anchor: Anchor,
    options: LoadOptions,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("anchor", &self.anchor)
            .field("store", &*self.current.load())
            .finish()
    }
}

impl Gateway {
    /// Loads and verifies a trust store directory against `anchor`.
    pub fn load(dir: impl AsRef<Path>, anchor: Anchor) -> Result<Gateway, GatewayError> {
        Gateway::load_with(dir, anchor, LoadOptions::default())
    }

    /// [`Gateway::load`] with [`LoadOptions`] (kept for every reload; the
    /// `min_version` of later reloads is the version running).
    pub fn load_with(
        dir: impl AsRef<Path>,
        anchor: Anchor,
        options: LoadOptions,
    ) -> Result<Gateway, GatewayError> {
        let store = TrustStore::load_with(dir.as_ref(), &anchor, options, None)?;
        Ok(Gateway {
            current: arc_swap::ArcSwap::from_pointee(store),
            anchor,
            options,
        })
    }

    /// Loads and verifies `dir` (same anchor, version not lower than the one
    /// running), then swaps it in. On error the current snapshot stays.
    /// Returns whether anything changed (the same version, byte for byte,
    /// is not swapped).
    pub fn reload(&self, dir: impl AsRef<Path>) -> Result<bool, GatewayError> {
        let cur = self.current.load_full();
        let options = LoadOptions {
            min_version: cur.version().max(self.options.min_version),
            ..self.options
        };
        let new = TrustStore::load_with(dir.as_ref(), &self.anchor, options, Some(&cur))?;
        if new.version() == cur.version() {
            if new.policy_sha256() == cur.policy_sha256() {
                return Ok(false);
            }
            return Err(GatewayError::VersionReused {
                version: new.version(),
            });
        }
        self.current.store(Arc::new(new));
        Ok(true)
    }

    /// The version of the trust store running (persist it to refuse a
    /// rollback across restarts).
    pub fn version(&self) -> u64 {
        self.current.load().version()
    }

    /// The pinned anchor.
    pub fn anchor(&self) -> &Anchor {
        &self.anchor
    }

    /// When the trust store running stops allowing anything (unix seconds):
    /// the earliest of its policy's `expires_at` and every CRL's nextUpdate.
    /// From then on every decision is [`Reason::ServiceUnavailable`] until a
    /// newer store is loaded.
    pub fn expires_at(&self) -> i64 {
        self.current.load().expires_at()
    }

    /// Rules 1-2 for a client chain (DER, leaf first), cached by the leaf's
    /// fingerprint in the current snapshot.
    pub fn identify<C: AsRef<[u8]>>(&self, chain: &[C]) -> Result<Identity, Denied> {
        TrustStore::identify(&self.current.load_full(), chain)
    }

    /// [`Gateway::identify`] at `now` (unix seconds).
    pub fn identify_at<C: AsRef<[u8]>>(&self, chain: &[C], now: i64) -> Result<Identity, Denied> {
        TrustStore::identify_at(&self.current.load_full(), chain, now)
    }

    /// Rules 3-6 for one push (hash lookups; re-identifies once after a reload).
    pub fn authorize(
        &self,
        id: &Identity,
        topic: &str,
        env: Environment,
        device: Option<&str>,
    ) -> Decision {
        self.authorize_at(id, topic, env, device, trust::unix_now())
    }

    /// [`Gateway::authorize`] at `now` (unix seconds).
    pub fn authorize_at(
        &self,
        id: &Identity,
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        let current = self.current.load();
        if id.is_from(&current) {
            return current.authorize_at(id, topic, env, device, now);
        }
        match TrustStore::identify_shared(&current, id.shared_chain(), now) {
            Ok(fresh) => current.authorize_at(&fresh, topic, env, device, now),
            Err(d) => Decision::Deny(d.reason),
        }
    }

    /// Token-based authentication, first step (per connection, or per new
    /// token): a provider token (the bare compact JWS of `authorization:
    /// bearer`, without `bearer `) checked within hard bounds (at most 4096
    /// bytes, three base64url segments, JSON objects, a 64-byte signature)
    /// before any signature work; its `alg` is `ES256`, its `kid` a key of
    /// the trust store that is not revoked, its ES256 signature verifies,
    /// its `iss` is the key's team and its `iat` at most 60 s ahead and at
    /// most 3600 s old. Otherwise [`Reason::InvalidProviderToken`] (or
    /// [`Reason::ExpiredProviderToken`]; [`Reason::ServiceUnavailable`] once
    /// the store has expired). A verified token is cached by its bytes in
    /// the current snapshot until it expires or a reload: seen again, it
    /// costs a hash lookup.
    pub fn verify_token(&self, jwt: &[u8]) -> Result<ProviderToken, Denied> {
        self.verify_token_at(jwt, trust::unix_now())
    }

    /// [`Gateway::verify_token`] at `now` (unix seconds).
    pub fn verify_token_at(&self, jwt: &[u8], now: i64) -> Result<ProviderToken, Denied> {
        self.current.load().verify_token_at(jwt, now)
    }

    /// One push of a provider authenticated by a token (hash lookups): the
    /// token still within its hour ([`Reason::ExpiredProviderToken`]), its
    /// key of `env` ([`Reason::BadEnvironmentKeyInToken`]), the topic of
    /// an App ID with push of the key's team and covered by the key
    /// ([`Reason::TopicDisallowed`]), an unexpired profile for the App ID and
    /// `env` ([`Reason::Forbidden`]), provisioning `device` if given
    /// ([`Reason::DeviceNotProvisioned`], disabled devices included). A
    /// token verified on an older snapshot is verified again on the current
    /// one (a key revoked since is refused).
    pub fn authorize_with_token(
        &self,
        token: &ProviderToken,
        topic: &str,
        env: Environment,
        device: Option<&str>,
    ) -> Decision {
        self.authorize_with_token_at(token, topic, env, device, trust::unix_now())
    }

    /// [`Gateway::authorize_with_token`] at `now` (unix seconds).
    pub fn authorize_with_token_at(
        &self,
        token: &ProviderToken,
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        self.current
            .load()
            .authorize_with_token_at(token, topic, env, device, now)
    }

    /// Both steps for one push with a token: [`Gateway::verify_token`] (a
    /// cached token costs a hash lookup) then
    /// [`Gateway::authorize_with_token`]; the first rule that fails decides.
    pub fn authorize_token(
        &self,
        jwt: &[u8],
        topic: &str,
        env: Environment,
        device: Option<&str>,
    ) -> Decision {
        self.authorize_token_at(jwt, topic, env, device, trust::unix_now())
    }

    /// [`Gateway::authorize_token`] at `now` (unix seconds).
    pub fn authorize_token_at(
        &self,
        jwt: &[u8],
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        self.current
            .load()
            .authorize_token_at(jwt, topic, env, device, now)
    }

    /// A device registering for pushes of `bundle_id` in `env`.
    pub fn authorize_registration(
        &self,
        bundle_id: &str,
        env: Environment,
        udid: &str,
    ) -> Decision {
        self.authorize_registration_at(bundle_id, env, udid, trust::unix_now())
    }

    /// [`Gateway::authorize_registration`] at `now` (unix seconds).
    pub fn authorize_registration_at(
        &self,
        bundle_id: &str,
        env: Environment,
        udid: &str,
        now: i64,
    ) -> Decision {
        self.current
            .load()
            .authorize_registration_at(bundle_id, env, udid, now)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::{Anchor, AnchorError, GatewayError};

    #[test]
    fn anchor_errors_keep_the_parser_error_as_their_source() {
        type X509Err = x509_parser::nom::Err<x509_parser::error::X509Error>;
        let e = Anchor::from_der(b"junk").unwrap_err();
        assert!(matches!(e, AnchorError::NotCertificate(_)), "{e}");
        assert!(e.source().is_some_and(|s| s.is::<X509Err>()), "{e}");
        assert!(e.to_string().starts_with("not a certificate: "), "{e}");
        let junk = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        let input = crate::fsutil::Source::bytes("<stdin>", junk.into()).unwrap();
        let e = Anchor::from_source(&input).unwrap_err();
        assert!(matches!(e, GatewayError::Malformed { .. }), "{e}");
        assert!(
            e.source()
                .is_some_and(|s| s.is::<crate::certfile::CertFileError>()),
            "{e}"
        );
        assert!(e.to_string().starts_with("<stdin>: "), "{e}");
    }
}
