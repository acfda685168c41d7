//! [`TrustStore`]: a verified, immutable snapshot of a trust store directory
//! and the decisions made on it. The types are here; the steps are in
//! [`load`] (the files, the policy and its signature), [`profiles`] (each
//! profile verified against the policy, the lookup tables), [`identify`]
//! (rules 1-2) and [`authorize`] (rules 3-6); [`udid`] holds the UDID keys;
//! [`token`] the auth keys and provider tokens.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use rustls_pki_types::{CertificateDer, TrustAnchor};
use webpki::CertRevocationList;

use super::policy::Policy;
use crate::x509ext::Environment;

mod authorize;
mod identify;
mod load;
mod profiles;
mod token;
mod udid;

#[cfg(feature = "ca")]
pub(crate) use load::verified_policy;
use profiles::VerifiedCore;
pub use token::ProviderToken;
use udid::UdidKey;

/// Identities cached per snapshot at most (a cache full of distinct leaves
/// is cleared rather than grown without bound).
const MAX_CACHED: usize = 100_000;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Seconds since the epoch from the coarse real-time clock: the time of the
/// last tick (a few ms resolution, enough for expiry checks), read from the
/// vDSO in a few ns instead of ~50 ns for `SystemTime::now` — per push.
pub(crate) fn unix_now() -> i64 {
    rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
}

/// The enforcement tables' hasher: `foldhash`'s fast hash, seeded at random
/// per table (`RandomState`), not a fixed hash. The keys that tables hold come
/// from the signed trust store, but some are chosen by people outside the
/// operator: UDIDs registered by teams, bundle IDs and topics. With a
/// fixed, public hash function such keys could be picked to collide and slow
/// every lookup of the gateway (HashDoS); with a per-process, per-table
/// random seed they cannot be predicted. Lookups with attacker-chosen keys
/// (the UDID or topic of a push) never insert, so they cannot degrade a
/// table either way. SipHash (std's default) would also resist, at a higher
/// cost per lookup; foldhash measured as fast as the hand-written hasher it
/// replaced (`cargo bench --bench gateway`, authorize).
type Fx = foldhash::fast::RandomState;

fn env_index(env: Environment) -> usize {
    match env {
        Environment::Development => 0,
        Environment::Production => 1,
    }
}

/// One current profile, as the enforcement uses it.
#[derive(Debug)]
struct ProfileEntry {
    app: u32,
    env: Environment,
    expires_at: i64,
    all_devices: bool,
    /// Listed devices, less the team's disabled ones.
    devices: HashSet<UdidKey, Fx>,
}

/// What `identify` learned about a provider, shared by the cache.
#[derive(Debug)]
struct IdentityData {
    bundle_id: String,
    /// The leaf's topics, each with the App ID it belongs to in the trust
    /// store (`u32::MAX`: none), resolved once at identify.
    topics: Vec<(String, u32)>,
    envs: [bool; 2],
    /// Profiles listing the leaf's fingerprint, per environment.
    grants: [Vec<u32>; 2],
    /// The leaf (or the CRL) stops being valid at this instant.
    valid_until: i64,
}

/// A provider identified on a connection: the result of rules 1-2.
#[derive(Debug, Clone)]
pub struct Identity {
    generation: u64,
    data: Arc<IdentityData>,
    chain: Arc<Vec<Vec<u8>>>,
    fingerprint: [u8; 32],
}

impl Identity {
    /// The leaf's bundle ID (its UID).
    pub fn bundle_id(&self) -> &str {
        &self.data.bundle_id
    }
    /// The leaf's topics (no allocation).
    pub fn topics(&self) -> impl Iterator<Item = &str> + '_ {
        self.data.topics.iter().map(|(t, _)| t.as_str())
    }
    /// The environments the leaf carries (no allocation).
    pub fn environments(&self) -> impl Iterator<Item = Environment> + '_ {
        Environment::ALL
            .into_iter()
            .filter(|e| self.data.envs[env_index(*e)])
    }
    /// SHA-256 of the leaf.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }
    pub(crate) fn shared_chain(&self) -> Arc<Vec<Vec<u8>>> {
        self.chain.clone()
    }
    pub(crate) fn is_from(&self, store: &TrustStore) -> bool {
        self.generation == store.generation
    }
}

/// A verified trust store: CA certificates, CRLs, current profiles and the
/// policy, indexed for hash lookups. Immutable; reload by loading anew.
pub(crate) struct TrustStore {
    generation: u64,
    policy: Policy,
    /// SHA-256 of the verified policy.json bytes.
    policy_sha256: [u8; 32],
    /// The earliest of the policy's expires_at and every CRL's nextUpdate:
    /// from then on everything is denied.
    expires_at: i64,
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    crls: Vec<CertRevocationList<'static>>,
    profiles: Vec<ProfileEntry>,
    /// Lowercase bundle ID -> app index.
    apps: HashMap<String, u32, Fx>,
    /// Topic -> app index.
    topics: HashMap<String, u32, Fx>,
    /// Leaf fingerprint -> profiles listing it.
    by_cert: HashMap<[u8; 32], Vec<u32>, Fx>,
    /// App index -> its profiles.
    by_app: Vec<Vec<u32>>,
    /// App index -> the disabled devices of its team (one set per team).
    app_disabled: Vec<Arc<HashSet<UdidKey, Fx>>>,
    cache: RwLock<HashMap<[u8; 32], Arc<IdentityData>, Fx>>,
    /// What each profile file (by SHA-256) was verified to say.
    verified: HashMap<[u8; 32], Arc<VerifiedCore>, Fx>,
    /// The auth keys of the policy and the verified provider tokens.
    tokens: token::Tokens,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("generated_at", &self.policy.generated_at)
            .field("profiles", &self.profiles.len())
            .finish()
    }
}

/// How much of a trust store [`Gateway::load_with`](super::Gateway::load_with) verifies beyond what
/// it always does.
///
/// Always: the detached signature of `policy.json` and its signer's chain to
/// `ca.pem`, the SHA-256 of every file against it (so every byte of every
/// profile, its own signature included, is covered by that signature), no
/// unlisted file, the CRLs, and for each profile its CMS structure, signer
/// chain, messageDigest and content against the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Also verify each profile's own CMS signature value (an audit: one
    /// public-key operation per profile, ~90 us for ECDSA P-256, which is
    /// most of a cold load; `gateway trust-store` already verified each
    /// before listing it in the signed policy).
    pub verify_profile_signatures: bool,
    /// Refuse a trust store whose policy `version` is lower (rollback): a
    /// gateway passes the highest version it has served, kept across
    /// restarts. [`super::Gateway::reload`] raises it to the version running.
    pub min_version: u64,
    /// Verify as of this instant (unix seconds) instead of now: chains,
    /// CRLs and the store's expiry (audits and tests).
    pub at: Option<i64>,
}

impl TrustStore {
    /// The verified policy.
    #[cfg(feature = "ca")]
    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy's version (grows with every publish).
    pub(crate) fn version(&self) -> u64 {
        self.policy.version
    }

    /// When the store stops allowing anything (unix seconds): the earliest
    /// of the policy's `expires_at` and every CRL's nextUpdate.
    pub(crate) fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// SHA-256 of the verified `policy.json`.
    pub(crate) fn policy_sha256(&self) -> &[u8; 32] {
        &self.policy_sha256
    }
}
