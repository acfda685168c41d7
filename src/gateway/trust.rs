//! [`TrustStore`]: a verified, immutable snapshot of a trust store directory
//! and the decisions made on it.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, OwnedCertRevocationList,
    RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};

use super::dir::{split_name, StoreDir};
use super::policy::{Policy, FORMAT};
use super::{Anchor, Decision, Denied, GatewayError, Reason};
use crate::profile;
use crate::x509::{sha256, sha256_hex, CertSummary};
use crate::x509ext::Environment;

use super::{CA_PEM, CRL_PEM, POLICY_JSON, POLICY_P7S, PROFILES_DIR};

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

/// A UDID as a fixed-size key, parsed without allocating, in either case:
/// tag 0 + 20 bytes for the 40-hex form, tag 1 + 4 + 8 bytes for the newer
/// `8-16` form. `None` for anything else (never provisioned).
type UdidKey = [u8; 21];

#[inline]
fn udid_key(u: &str) -> Option<UdidKey> {
    #[inline]
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    #[inline]
    fn pairs(hex: &[u8], out: &mut [u8]) -> Option<()> {
        for (o, p) in out.iter_mut().zip(hex.chunks_exact(2)) {
            *o = (nib(p[0])? << 4) | nib(p[1])?;
        }
        Some(())
    }
    let b = u.as_bytes();
    let mut k = [0u8; 21];
    match b.len() {
        40 => pairs(b, &mut k[1..21])?,
        25 if b[8] == b'-' => {
            k[0] = 1;
            pairs(&b[..8], &mut k[1..5])?;
            pairs(&b[9..], &mut k[5..13])?;
        }
        _ => return None,
    }
    Some(k)
}

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

/// A device UDID of one decision, parsed into its key at most once and only
/// when a profile needs it.
struct Device<'a> {
    udid: &'a str,
    key: std::cell::Cell<Option<Option<UdidKey>>>,
}

impl<'a> Device<'a> {
    #[inline]
    fn new(udid: &'a str) -> Self {
        Device {
            udid,
            key: std::cell::Cell::new(None),
        }
    }

    /// `None`: not a UDID, so never listed nor disabled.
    #[inline]
    fn key(&self) -> Option<UdidKey> {
        match self.key.get() {
            Some(k) => k,
            None => {
                let k = udid_key(self.udid);
                self.key.set(Some(k));
                k
            }
        }
    }
}

impl ProfileEntry {
    /// Rule 6: listed (`devices` holds no disabled device: they are taken
    /// out at load), or ProvisionsAllDevices for production and not one of
    /// `disabled`, the disabled devices of the App ID's team.
    #[inline]
    fn provisions(&self, device: &Device<'_>, disabled: &HashSet<UdidKey, Fx>) -> bool {
        if self.all_devices && self.env == Environment::Production {
            // A team without disabled devices (the shared empty set) costs
            // neither a parse nor a hash.
            disabled.is_empty() || device.key().is_none_or(|k| !disabled.contains(&k))
        } else {
            !self.devices.is_empty() && device.key().is_some_and(|k| self.devices.contains(&k))
        }
    }
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
pub struct TrustStore {
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
}

/// A profile's verified content, reusable by the next load of a
/// byte-identical file.
#[derive(Debug)]
struct VerifiedCore {
    uuid: String,
    application_identifier: Option<String>,
    aps_environment: Option<String>,
    expires_at: i64,
    all_devices: bool,
    devices: HashSet<UdidKey, Fx>,
    fingerprints: Vec<[u8; 32]>,
    signer: Arc<SignerParts>,
    /// The signingTime of the profile's SignedData.
    signing_time: Option<i64>,
    /// Its own CMS signature was verified (not only covered by the policy's).
    signature_checked: bool,
}

/// The signer of profiles and the certificates its SignedData carried
/// (shared: every profile of a trust store has the same).
#[derive(Debug, PartialEq, Eq, Hash)]
struct SignerParts {
    signer_der: Vec<u8>,
    certificates: Vec<Vec<u8>>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("generated_at", &self.policy.generated_at)
            .field("profiles", &self.profiles.len())
            .finish()
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read(dir: &StoreDir, rel: &str) -> Result<Vec<u8>, GatewayError> {
    dir.read(rel, crate::fsutil::MAX_INPUT_BYTES)
}

fn parse_time(path: &Path, s: &str) -> Result<i64, GatewayError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| invalid(path, format!("'{s}' is not an RFC 3339 time")))
}

fn is_self_signed(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .is_ok_and(|(_, c)| c.subject() == c.issuer() && c.verify_signature(None).is_ok())
}

/// A profile file checked against its policy entry, ready to index.
struct LoadedProfile {
    bundle: String,
    env: Environment,
    expires_at: i64,
    all_devices: bool,
    devices: HashSet<UdidKey, Fx>,
    fingerprints: Vec<[u8; 32]>,
}

/// How much of a trust store [`TrustStore::load_with`] verifies beyond what
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

/// What [`verified_policy`] found: the policy whose detached signature, by
/// a profile signer chaining to the anchor, covers exactly its bytes.
pub(crate) struct SignedPolicy {
    pub(crate) policy: Policy,
    pub(crate) sha256: [u8; 32],
    /// Every certificate of `ca.pem`: the anchor first, then the rest.
    pub(crate) roots: Vec<Vec<u8>>,
    pub(crate) intermediates: Vec<Vec<u8>>,
    pub(crate) ca_bytes: Vec<u8>,
    pub(crate) crl_bytes: Vec<u8>,
    /// The CRLs of `crl.pem`, each with its nextUpdate.
    pub(crate) crls: Vec<(CertRevocationList<'static>, i64)>,
}

/// The CRLs of a `crl.pem` (PEM blocks `X509 CRL`), each with its
/// nextUpdate (a CRL without one is refused: it would never expire).
fn parse_crls(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<(CertRevocationList<'static>, i64)>, GatewayError> {
    let mut crls = Vec::new();
    for block in crate::pem::blocks(bytes).map_err(|e| invalid(path, e.to_string()))? {
        if block.label != "X509 CRL" {
            return Err(invalid(
                path,
                format!("unexpected PEM block {}", block.label),
            ));
        }
        let next = crl_next_update_of(path, &block.der)?;
        let owned = OwnedCertRevocationList::from_der(&block.der)
            .map_err(|e| invalid(path, format!("{e:?}")))?;
        crls.push((CertRevocationList::from(owned), next));
    }
    if crls.is_empty() {
        return Err(invalid(path, "holds no CRL"));
    }
    Ok(crls)
}

/// Step 1 of every load: `ca.pem`'s root is the pinned anchor, and
/// `policy.json.p7s` is a detached signature (no content of its own) over
/// exactly the bytes of `policy.json` by a profile signer that chains to the
/// anchor at `now`. The policy is parsed from the verified bytes, and only
/// then. Its `format` is checked; its version and expiry are the caller's.
fn signed_policy(dir: &StoreDir, anchor: &Anchor, now: i64) -> Result<SignedPolicy, GatewayError> {
    let policy_path = dir.path().join(POLICY_JSON);
    let policy_bytes = dir.read(POLICY_JSON, crate::fsutil::MAX_POLICY_BYTES)?;
    let p7s = read(dir, POLICY_P7S)?;
    let ca_path = dir.path().join(CA_PEM);
    let ca_bytes = read(dir, CA_PEM)?;
    let ca_certs = crate::certfile::read_certificates(&ca_bytes)
        .map_err(|e| invalid(&ca_path, e.to_string()))?;
    let (roots, inter): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
        ca_certs.into_iter().partition(|c| is_self_signed(c));
    match roots.as_slice() {
        [one] if one.as_slice() == anchor.der() => {}
        [] => {
            return Err(invalid(
                &ca_path,
                "holds no self-signed root CA certificate",
            ))
        }
        [one] => {
            let subject = x509_parser::parse_x509_certificate(one)
                .map(|(_, c)| c.subject().to_string())
                .unwrap_or_default();
            return Err(GatewayError::ForeignRoot {
                found: format!("{subject}, sha256 {}", sha256_hex(one)),
                pinned: format!("{}, sha256 {}", anchor.subject(), anchor.sha256()),
            });
        }
        more => {
            return Err(invalid(
                &ca_path,
                format!(
                    "holds {} root certificates; a trust store has one",
                    more.len()
                ),
            ))
        }
    }
    let signed = crate::cms::verify(&p7s, crate::cms::Content::Detached(&policy_bytes))
        .map_err(|e| GatewayError::PolicySignature(e.to_string()))?;
    // The CRLs (signed by the CA: authentic, if perhaps not the newest until
    // the policy's hash of crl.pem is checked) revoke a profile signer too.
    let crl_bytes = read(dir, CRL_PEM)?;
    let crls = parse_crls(&dir.path().join(CRL_PEM), &crl_bytes)?;
    let crl_refs: Vec<&CertRevocationList<'_>> = crls.iter().map(|(c, _)| c).collect();
    let mut chain_pool = inter.clone();
    chain_pool.extend(
        signed
            .certificates
            .iter()
            .filter(|c| **c != signed.signer_cert_der)
            .cloned(),
    );
    crate::chain::verify(
        &signed.signer_cert_der,
        &chain_pool,
        std::slice::from_ref(&anchor.der().to_vec()),
        now,
        crate::chain::Usage::ProfileSigning,
        &crl_refs,
    )
    .map_err(|e| GatewayError::PolicySignature(format!("its signer: {e}")))?;
    // What is parsed is what was verified.
    let policy: Policy = serde_json::from_slice(&signed.content)
        .map_err(|e| invalid(&policy_path, e.to_string()))?;
    if policy.format != FORMAT {
        return Err(invalid(
            &policy_path,
            format!("format '{}' is not {FORMAT}", policy.format),
        ));
    }
    let sha256 = sha256(&signed.content);
    Ok(SignedPolicy {
        policy,
        sha256,
        roots,
        intermediates: inter,
        ca_bytes,
        crl_bytes,
        crls,
    })
}

/// The policy of the trust store in `dir`, if its signature verifies
/// against `anchor` (see [`signed_policy`]); its expiry and the rest of the
/// files are not checked. What a publisher trusts of an existing output
/// (its version), and nothing more.
#[cfg(feature = "ca")]
pub(crate) fn verified_policy(
    dir: &Path,
    anchor: &Anchor,
    now: i64,
) -> Result<Policy, GatewayError> {
    let d = StoreDir::open(dir)?;
    signed_policy(&d, anchor, now).map(|p| p.policy)
}

/// nextUpdate of a DER CRL (a CRL without one never expires: refused).
fn crl_next_update_of(path: &Path, der: &[u8]) -> Result<i64, GatewayError> {
    let (_, crl) =
        x509_parser::parse_x509_crl(der).map_err(|e| invalid(path, format!("CRL: {e}")))?;
    crl.next_update()
        .map(|t| t.timestamp())
        .ok_or_else(|| invalid(path, "a CRL without nextUpdate"))
}

impl TrustStore {
    /// Loads a trust store directory and verifies all of it against the
    /// pinned `anchor`: `ca.pem`'s root is the anchor; the detached
    /// signature of `policy.json` (by a profile signer chaining to the
    /// anchor); the SHA-256 of every file against `policy.json`, no unlisted
    /// file; the CRLs; the store's freshness (`expires_at`, every CRL's
    /// nextUpdate); and every profile against the policy. Anything that does
    /// not verify is an error. Files are read through one directory handle,
    /// so a load that overlaps a publish reads one version.
    pub fn load(dir: impl AsRef<Path>, anchor: &Anchor) -> Result<TrustStore, GatewayError> {
        TrustStore::load_with(dir, anchor, LoadOptions::default(), None)
    }

    /// [`TrustStore::load`] with [`LoadOptions`], reusing the content of the
    /// profiles `previous` verified whose files are byte-identical (same
    /// SHA-256, itself covered by the verified policy signature): a reload
    /// re-verifies only new profiles (every signer's chain is checked again,
    /// now).
    pub fn load_with(
        dir: impl AsRef<Path>,
        anchor: &Anchor,
        options: LoadOptions,
        previous: Option<&TrustStore>,
    ) -> Result<TrustStore, GatewayError> {
        let now = options.at.unwrap_or_else(unix_now);
        let dir = StoreDir::open(dir.as_ref())?;
        let policy_path = dir.path().join(POLICY_JSON);
        // 1. The policy's signature, by a profile signer of the pinned root:
        // checked before any of the JSON is parsed.
        let SignedPolicy {
            policy,
            sha256: policy_sha256,
            roots,
            intermediates: inter,
            ca_bytes,
            crl_bytes,
            crls,
        } = signed_policy(&dir, anchor, now)?;
        if policy.version < options.min_version {
            return Err(GatewayError::Rollback {
                found: policy.version,
                current: options.min_version,
            });
        }
        let mut expires_at = parse_time(&policy_path, &policy.expires_at)?;
        // 2. Every file's hash (ca.pem and crl.pem: the bytes already
        // used); no file that the policy does not list.
        let mut hashed: HashSet<&str> = HashSet::new();
        for (file, expected) in &policy.files {
            let Some((in_profiles, _)) = split_name(file) else {
                return Err(invalid(&policy_path, format!("bad file name '{file}'")));
            };
            if in_profiles {
                continue; // read, hashed and verified in parallel below
            }
            match file.as_str() {
                CA_PEM => check_hash(file, expected, &ca_bytes)?,
                CRL_PEM => check_hash(file, expected, &crl_bytes)?,
                _ => check_hash(file, expected, &read(&dir, file)?)?,
            };
            hashed.insert(file.as_str());
        }
        check_no_unlisted(&dir, &policy)?;
        for f in [CA_PEM, CRL_PEM] {
            if !hashed.contains(f) {
                return Err(GatewayError::UnlistedFile(format!("{f} (not hashed)")));
            }
        }
        // 3. CRLs (their signatures are checked by webpki when used); the
        // store expires with the first of them.
        for (_, next) in &crls {
            expires_at = expires_at.min(*next);
        }
        let crls: Vec<CertRevocationList<'static>> = crls.into_iter().map(|(c, _)| c).collect();
        let crl_next_update = parse_time(&policy_path, &policy.crl.next_update)?;
        expires_at = expires_at.min(crl_next_update);
        // A stale store refuses everything: it cannot know what was revoked
        // or disabled since.
        if now >= expires_at {
            return Err(GatewayError::Expired {
                expires_at: crate::timeutil::rfc3339(expires_at),
            });
        }
        // 4. Profiles: each verified, and equal to what the policy says.
        let mut jobs: Vec<(String, String, Environment, &super::policy::ProfilePolicy)> =
            Vec::new();
        for (bundle, app) in &policy.apps {
            for (env_name, list) in &app.environments {
                let env = Environment::from_name(env_name).ok_or_else(|| {
                    invalid(&policy_path, format!("unknown environment '{env_name}'"))
                })?;
                for pp in list {
                    jobs.push((bundle.clone(), app.app_id.clone(), env, pp));
                }
            }
        }
        let (loaded, verified) = verify_profiles(
            &jobs,
            VerifyCtx {
                dir: &dir,
                policy: &policy,
                roots: &roots,
                crls: crls.iter().collect(),
                now,
                previous: previous.map(|p| &p.verified),
                verify_signatures: options.verify_profile_signatures,
                signers: RwLock::new(HashMap::default()),
                shared: RwLock::new(HashMap::default()),
            },
        )?;
        // A profile file listed but used by no App ID: hash-checked all the same.
        let used: HashSet<&str> = jobs.iter().map(|j| j.3.file.as_str()).collect();
        for (file, expected) in &policy.files {
            if file.starts_with(&format!("{PROFILES_DIR}/")) && !used.contains(file.as_str()) {
                check_hash(file, expected, &read(&dir, file)?)?;
            }
        }
        // 5. Index.
        let disabled_by_team = disabled_devices(&policy_path, &policy)?;
        let none: Arc<HashSet<UdidKey, Fx>> = Arc::default();
        let mut apps: HashMap<String, u32, Fx> = HashMap::default();
        let mut by_app: Vec<Vec<u32>> = Vec::new();
        let mut app_disabled: Vec<Arc<HashSet<UdidKey, Fx>>> = Vec::new();
        for (bundle, app) in &policy.apps {
            apps.insert(bundle.to_ascii_lowercase(), by_app.len() as u32);
            by_app.push(Vec::new());
            let team = disabled_by_team.get(&app.team_id).ok_or_else(|| {
                invalid(
                    &policy_path,
                    format!(
                        "App ID {bundle} names team {} that is not in teams",
                        app.team_id
                    ),
                )
            })?;
            app_disabled.push(if team.is_empty() {
                none.clone()
            } else {
                team.clone()
            });
        }
        let mut topics: HashMap<String, u32, Fx> = HashMap::default();
        for (topic, info) in &policy.topics {
            let app = *apps
                .get(&info.bundle_id.to_ascii_lowercase())
                .ok_or_else(|| {
                    invalid(
                        &policy_path,
                        format!("topic {topic} names an unknown App ID"),
                    )
                })?;
            topics.insert(topic.clone(), app);
        }
        let mut profiles = Vec::with_capacity(loaded.len());
        let mut by_cert: HashMap<[u8; 32], Vec<u32>, Fx> = HashMap::default();
        for mut lp in loaded {
            let app = apps[&lp.bundle.to_ascii_lowercase()];
            let disabled = &app_disabled[app as usize];
            // A signed profile still lists a device disabled since: the
            // policy's list of the team's disabled devices overrides it.
            if !disabled.is_empty() {
                lp.devices.retain(|k| !disabled.contains(k));
            }
            let idx = profiles.len() as u32;
            by_app[app as usize].push(idx);
            for f in &lp.fingerprints {
                by_cert.entry(*f).or_default().push(idx);
            }
            profiles.push(ProfileEntry {
                app,
                env: lp.env,
                expires_at: lp.expires_at,
                all_devices: lp.all_devices,
                devices: lp.devices,
            });
        }
        let anchors = roots
            .iter()
            .map(|r| {
                webpki::anchor_from_trusted_cert(&CertificateDer::from(r.as_slice()))
                    .map(|a| a.to_owned())
                    .map_err(|e| invalid(&dir.path().join(CA_PEM), format!("{e:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustStore {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            policy,
            policy_sha256,
            expires_at,
            anchors,
            intermediates: inter.into_iter().map(CertificateDer::from).collect(),
            crls,
            profiles,
            apps,
            topics,
            by_cert,
            by_app,
            app_disabled,
            cache: RwLock::new(HashMap::default()),
            verified,
        })
    }

    /// The verified policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Number of current profiles.
    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    /// The policy's version (grows with every publish).
    pub fn version(&self) -> u64 {
        self.policy.version
    }

    /// When the store stops allowing anything (unix seconds): the earliest
    /// of the policy's `expires_at` and every CRL's nextUpdate.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// SHA-256 of the verified `policy.json`.
    pub fn policy_sha256(&self) -> &[u8; 32] {
        &self.policy_sha256
    }

    /// Rules 1-2: the chain (DER, leaf first) verifies to the trust store's
    /// root now, with EKU clientAuth, and the leaf is not revoked by the CRL.
    /// Cached by the leaf's fingerprint for this snapshot.
    pub fn identify<C: AsRef<[u8]>>(
        store: &Arc<TrustStore>,
        chain: &[C],
    ) -> Result<Identity, Denied> {
        Self::identify_shared(
            store,
            Arc::new(chain.iter().map(|c| c.as_ref().to_vec()).collect()),
            unix_now(),
        )
    }

    /// [`TrustStore::identify`] at `now` (unix seconds).
    pub fn identify_at<C: AsRef<[u8]>>(
        store: &Arc<TrustStore>,
        chain: &[C],
        now: i64,
    ) -> Result<Identity, Denied> {
        Self::identify_shared(
            store,
            Arc::new(chain.iter().map(|c| c.as_ref().to_vec()).collect()),
            now,
        )
    }

    /// [`TrustStore::identify`] of a chain already shared by an identity.
    pub(crate) fn identify_shared(
        store: &Arc<TrustStore>,
        chain: Arc<Vec<Vec<u8>>>,
        now: i64,
    ) -> Result<Identity, Denied> {
        let deny = |detail: String| Denied {
            reason: Reason::BadCertificate,
            detail,
        };
        if now >= store.expires_at {
            return Err(Denied {
                reason: Reason::ServiceUnavailable,
                detail: format!(
                    "the trust store expired at {}",
                    crate::timeutil::rfc3339(store.expires_at)
                ),
            });
        }
        let leaf = chain
            .first()
            .ok_or_else(|| deny("no client certificate".into()))?
            .as_ref();
        let fingerprint = sha256(leaf);
        if let Ok(cache) = store.cache.read() {
            if let Some(d) = cache.get(&fingerprint) {
                if now < d.valid_until {
                    return Ok(Identity {
                        generation: store.generation,
                        data: d.clone(),
                        chain,
                        fingerprint,
                    });
                }
            }
        }
        let data = Arc::new(store.validate(leaf, &chain[1..], now, &fingerprint)?);
        if let Ok(mut cache) = store.cache.write() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(fingerprint, data.clone());
        }
        Ok(Identity {
            generation: store.generation,
            data,
            chain,
            fingerprint,
        })
    }

    fn validate<C: AsRef<[u8]>>(
        &self,
        leaf: &[u8],
        rest: &[C],
        now: i64,
        fingerprint: &[u8; 32],
    ) -> Result<IdentityData, Denied> {
        let deny = |detail: String| Denied {
            reason: Reason::BadCertificate,
            detail,
        };
        let leaf_der = CertificateDer::from(leaf);
        let ee = EndEntityCert::try_from(&leaf_der).map_err(|e| deny(format!("{e:?}")))?;
        let mut inter: Vec<CertificateDer<'_>> = rest
            .iter()
            .map(|c| CertificateDer::from(c.as_ref()))
            .collect();
        inter.extend(self.intermediates.iter().cloned());
        let crl_refs: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = RevocationOptionsBuilder::new(&crl_refs)
            .map_err(|_| deny("no CRL".into()))?
            .with_depth(RevocationCheckDepth::EndEntity)
            .with_status_policy(UnknownStatusPolicy::Deny)
            .with_expiration_policy(ExpirationPolicy::Enforce)
            .build();
        let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.max(0) as u64));
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &inter,
            t,
            webpki::KeyUsage::client_auth(),
            Some(revocation),
            None,
        )
        .map_err(|e| {
            deny(match e {
                webpki::Error::CertRevoked => "the certificate is revoked".to_string(),
                webpki::Error::CertExpired { .. } => "the certificate has expired".to_string(),
                webpki::Error::UnknownIssuer => {
                    "the certificate is not issued by this trust store's CA".to_string()
                }
                webpki::Error::RequiredEkuNotFoundContext(_) => {
                    "the certificate is not for TLS client authentication (EKU clientAuth required)"
                        .to_string()
                }
                other => format!("{other:?}"),
            })
        })?;
        let s = CertSummary::from_der(leaf).map_err(|e| deny(e.to_string()))?;
        // EKU clientAuth is required of the leaf, not only "if present":
        // webpki checks every certificate of the path with one policy (CA
        // certificates carry no EKU), so the leaf's presence is checked here.
        if !s.extended_key_usage.iter().any(|e| e == "clientAuth") {
            return Err(deny(
                "the certificate is not for TLS client authentication (no EKU clientAuth)".into(),
            ));
        }
        let bundle_id = s
            .bundle_id
            .clone()
            .ok_or_else(|| deny("the certificate has no UID (bundle ID)".into()))?;
        let mut envs = [false; 2];
        for e in &s.environments {
            envs[env_index(*e)] = true;
        }
        let mut grants: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
        for &pi in self
            .by_cert
            .get(fingerprint)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let p = &self.profiles[pi as usize];
            grants[env_index(p.env)].push(pi);
        }
        Ok(IdentityData {
            bundle_id,
            topics: s
                .topics
                .into_iter()
                .map(|t| {
                    let app = self.topics.get(&t).copied().unwrap_or(u32::MAX);
                    (t, app)
                })
                .collect(),
            envs,
            grants,
            valid_until: s.not_after.min(self.expires_at),
        })
    }

    /// Rules 3-6 for one push of an identified provider: hash lookups only.
    /// An identity from another snapshot is denied (use [`super::Gateway`],
    /// which identifies again after a reload).
    pub fn authorize(
        &self,
        id: &Identity,
        topic: &str,
        env: Environment,
        device: Option<&str>,
    ) -> Decision {
        self.authorize_at(id, topic, env, device, unix_now())
    }

    /// [`TrustStore::authorize`] at `now` (unix seconds).
    #[inline]
    pub fn authorize_at(
        &self,
        id: &Identity,
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        let d = &id.data;
        if now >= self.expires_at {
            return Decision::Deny(Reason::ServiceUnavailable);
        }
        if id.generation != self.generation || now >= d.valid_until {
            return Decision::Deny(Reason::BadCertificate);
        }
        let Some(&(_, app)) = d.topics.iter().find(|(t, _)| t == topic) else {
            return Decision::Deny(Reason::TopicDisallowed);
        };
        let e = env_index(env);
        if !d.envs[e] {
            return Decision::Deny(Reason::BadCertificateEnvironment);
        }
        if app == u32::MAX {
            return Decision::Deny(Reason::Forbidden);
        }
        let mut any = false;
        let device = device.map(Device::new);
        for &pi in &d.grants[e] {
            let p = &self.profiles[pi as usize];
            if p.app != app || p.expires_at <= now {
                continue;
            }
            any = true;
            match &device {
                None => return Decision::Allow,
                Some(u) if p.provisions(u, &self.app_disabled[app as usize]) => {
                    return Decision::Allow
                }
                Some(_) => {}
            }
        }
        Decision::Deny(if any {
            Reason::DeviceNotProvisioned
        } else {
            Reason::Forbidden
        })
    }

    /// A device registering for pushes: only an explicit App ID with push,
    /// through an unexpired profile with that `aps-environment` that
    /// provisions the device.
    pub fn authorize_registration(
        &self,
        bundle_id: &str,
        env: Environment,
        udid: &str,
    ) -> Decision {
        self.authorize_registration_at(bundle_id, env, udid, unix_now())
    }

    /// [`TrustStore::authorize_registration`] at `now` (unix seconds).
    pub fn authorize_registration_at(
        &self,
        bundle_id: &str,
        env: Environment,
        udid: &str,
        now: i64,
    ) -> Decision {
        if now >= self.expires_at {
            return Decision::Deny(Reason::ServiceUnavailable);
        }
        if crate::profile::is_wildcard(bundle_id) {
            return Decision::Deny(Reason::Forbidden);
        }
        let Some(&app) = self.apps.get(&bundle_id.to_ascii_lowercase()) else {
            return Decision::Deny(Reason::Forbidden);
        };

        let mut any = false;
        let device = Device::new(udid);
        for &pi in &self.by_app[app as usize] {
            let p = &self.profiles[pi as usize];
            if p.env != env || p.expires_at <= now {
                continue;
            }
            any = true;
            if p.provisions(&device, &self.app_disabled[app as usize]) {
                return Decision::Allow;
            }
        }
        Decision::Deny(if any {
            Reason::DeviceNotProvisioned
        } else {
            Reason::Forbidden
        })
    }
}

/// Each team's disabled devices, as keys; every entry must be a UDID.
fn disabled_devices(
    policy_path: &Path,
    policy: &Policy,
) -> Result<HashMap<String, Arc<HashSet<UdidKey, Fx>>>, GatewayError> {
    let mut out = HashMap::with_capacity(policy.teams.len());
    for (team, t) in &policy.teams {
        let mut set: HashSet<UdidKey, Fx> = HashSet::default();
        set.reserve(t.disabled_devices.len());
        for u in &t.disabled_devices {
            let k = udid_key(u).ok_or_else(|| {
                invalid(
                    policy_path,
                    format!(
                        "team {}: disabled device '{}' is not a UDID",
                        team.escape_default(),
                        u.escape_default()
                    ),
                )
            })?;
            set.insert(k);
        }
        out.insert(team.clone(), Arc::new(set));
    }
    Ok(out)
}

/// The file's SHA-256, if it is the one `expected` (hex) says.
fn check_hash(file: &str, expected: &str, bytes: &[u8]) -> Result<[u8; 32], GatewayError> {
    let sha = sha256(bytes);
    let found = hex::encode(sha);
    if found != expected {
        return Err(GatewayError::HashMismatch {
            file: file.to_string(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(sha)
}

fn check_no_unlisted(dir: &StoreDir, policy: &Policy) -> Result<(), GatewayError> {
    for name in dir.list()? {
        if name != POLICY_JSON && name != POLICY_P7S && !policy.files.contains_key(&name) {
            return Err(GatewayError::UnlistedFile(name));
        }
    }
    Ok(())
}

type ProfileJob<'a> = (
    String,
    String,
    Environment,
    &'a super::policy::ProfilePolicy,
);

type Verified = HashMap<[u8; 32], Arc<VerifiedCore>, Fx>;

/// Verifies every profile (in parallel): reads it, checks its SHA-256
/// against the policy, its CMS signature (unless `previous` verified the
/// same bytes), the signer's chain (once per distinct signer), and its
/// content against the policy entry.
fn verify_profiles(
    jobs: &[ProfileJob<'_>],
    ctx: VerifyCtx<'_>,
) -> Result<(Vec<LoadedProfile>, Verified), GatewayError> {
    // Twice the cores: a thread waiting on a file read leaves its core to
    // another (measured: ~5% faster cold loads on 2 cores).
    let results = crate::par::try_map_ordered(
        jobs,
        crate::par::threads().clamp(1, 8) * 2,
        |job| verify_one(job, &ctx),
        || GatewayError::ProfileMismatch {
            file: "?".into(),
            reason: "verification thread panicked".into(),
        },
    )?;
    let mut out = Vec::with_capacity(jobs.len());
    let mut verified = Verified::default();
    for (lp, sha, core) in results {
        verified.insert(sha, core);
        out.push(lp);
    }
    Ok((out, verified))
}

struct VerifyCtx<'a> {
    dir: &'a StoreDir,
    policy: &'a Policy,
    roots: &'a [Vec<u8>],
    /// A profile signer revoked by them is not trusted.
    crls: Vec<&'a CertRevocationList<'static>>,
    now: i64,
    previous: Option<&'a Verified>,
    /// Signer chains checked in this load: signer parts -> expired since
    /// (a chain valid now is valid for every profile it signed).
    /// Keyed by the address of an interned (or a previous load's) signer,
    /// kept alive by the value.
    signers: RwLock<HashMap<usize, (Arc<SignerParts>, bool), Fx>>,
    /// Also verify each profile's own signature (see [`LoadOptions`]).
    verify_signatures: bool,
    /// One shared copy of each distinct signer's parts.
    shared: RwLock<HashMap<Vec<u8>, Arc<SignerParts>, Fx>>,
}

impl VerifyCtx<'_> {
    fn intern(&self, parts: SignerParts) -> Arc<SignerParts> {
        if let Ok(m) = self.shared.read() {
            if let Some(p) = m.get(&parts.signer_der) {
                if **p == parts {
                    return p.clone();
                }
            }
        }
        let p = Arc::new(parts);
        if let Ok(mut m) = self.shared.write() {
            m.entry(p.signer_der.clone()).or_insert_with(|| p.clone());
        }
        p
    }

    fn signer_ok(
        &self,
        p: &Arc<SignerParts>,
        signing_time: Option<i64>,
    ) -> Result<bool, profile::ProfileError> {
        let key = Arc::as_ptr(p) as usize;
        let cached = self
            .signers
            .read()
            .ok()
            .and_then(|m| m.get(&key).map(|(_, x)| *x));
        if cached == Some(false) {
            return Ok(false);
        }
        // Not seen yet, or expired now: then it depends on when it signed.
        let x = profile::check_signer_parts(
            &p.signer_der,
            &p.certificates,
            signing_time,
            self.roots,
            &self.crls,
            self.now,
        )?;
        if let Ok(mut m) = self.signers.write() {
            m.insert(key, (p.clone(), x));
        }
        Ok(x)
    }
}

fn verify_one(
    job: &ProfileJob<'_>,
    ctx: &VerifyCtx<'_>,
) -> Result<(LoadedProfile, [u8; 32], Arc<VerifiedCore>), GatewayError> {
    let (bundle, app_id, env, pp) = job;
    let file = pp.file.clone();
    let mismatch = |reason: String| GatewayError::ProfileMismatch {
        file: file.clone(),
        reason,
    };
    let expected = ctx
        .policy
        .files
        .get(&pp.file)
        .ok_or_else(|| mismatch("not listed among the files".into()))?;
    if split_name(&pp.file).map(|(in_profiles, _)| in_profiles) != Some(true) {
        return Err(mismatch("not a file of profiles/".into()));
    }
    let der = read(ctx.dir, &pp.file)?;
    let sha = check_hash(&pp.file, expected, &der)?;
    let perr = |source| GatewayError::Profile {
        file: file.clone(),
        source,
    };
    let reusable = |c: &&Arc<VerifiedCore>| c.signature_checked || !ctx.verify_signatures;
    let core = match ctx.previous.and_then(|p| p.get(&sha)).filter(reusable) {
        Some(core) => {
            // Same bytes as verified before: only the signer chain, now.
            let _ = ctx
                .signer_ok(&core.signer, core.signing_time)
                .map_err(perr)?;
            core.clone()
        }
        None => {
            // Structure, signer certificate and messageDigest always; the
            // signature value only when asked: the verified policy.json
            // signature covers this file's SHA-256 (signature included), and
            // `gateway trust-store` verified it before listing it.
            let opened = crate::cms::open(&der, crate::cms::Content::Attached)
                .map_err(profile::ProfileError::from)
                .map_err(perr)?;
            let signed = if ctx.verify_signatures {
                opened
                    .verify()
                    .map_err(profile::ProfileError::from)
                    .map_err(perr)?
            } else {
                opened.covered_by_another_signature()
            };
            let crate::cms::Verified {
                content,
                signer_cert_der,
                certificates,
                signing_time,
            } = signed;
            let signer = ctx.intern(SignerParts {
                signer_der: signer_cert_der,
                certificates,
            });
            // Valid now, or valid when it signed (an expired signer's profiles
            // are still read; their own ExpirationDate decides at each push).
            let _signer_expired = ctx.signer_ok(&signer, signing_time).map_err(perr)?;
            let i = crate::plist::from_xml(&content)
                .map_err(profile::ProfileError::from)
                .and_then(profile::ProfileInfo::from_plist)
                .map_err(perr)?;
            let key = |u: &String| {
                udid_key(u)
                    .ok_or_else(|| mismatch(format!("'{}' is not a UDID", u.escape_default())))
            };
            let devices: HashSet<UdidKey, Fx> =
                i.devices.iter().map(key).collect::<Result<_, _>>()?;
            let mut fingerprints = Vec::with_capacity(i.push_certificates.len());
            for c in &i.push_certificates {
                let mut f = [0u8; 32];
                hex::decode_to_slice(c, &mut f).map_err(|_| {
                    mismatch(format!("PushCertificates entry '{c}' is not a SHA-256"))
                })?;
                fingerprints.push(f);
            }
            Arc::new(VerifiedCore {
                uuid: i.uuid,
                application_identifier: i.application_identifier,
                aps_environment: i.aps_environment,
                expires_at: i.expires.unix_timestamp(),
                all_devices: i.provisions_all_devices,
                devices,
                fingerprints,
                signer,
                signing_time,
                signature_checked: ctx.verify_signatures,
            })
        }
    };
    // The profile says what the policy says.
    if core.uuid != pp.uuid {
        return Err(mismatch(format!("UUID {} is not {}", core.uuid, pp.uuid)));
    }
    if core.application_identifier.as_deref() != Some(app_id.as_str()) {
        return Err(mismatch(format!(
            "application-identifier {:?} is not {app_id}",
            core.application_identifier
        )));
    }
    if core.aps_environment.as_deref() != Some(env.name()) {
        return Err(mismatch(format!(
            "aps-environment {:?} is not {}",
            core.aps_environment,
            env.name()
        )));
    }
    if crate::timeutil::parse_rfc3339(&pp.expires_at) != Some(core.expires_at) {
        return Err(mismatch("ExpirationDate differs".into()));
    }
    if core.all_devices != pp.provisions_all_devices {
        return Err(mismatch("ProvisionsAllDevices differs".into()));
    }
    let listed: HashSet<UdidKey, Fx> = pp
        .devices
        .iter()
        .map(|u| {
            udid_key(u).ok_or_else(|| mismatch(format!("'{}' is not a UDID", u.escape_default())))
        })
        .collect::<Result<_, _>>()?;
    if core.devices != listed {
        return Err(mismatch("ProvisionedDevices differ".into()));
    }
    let mut want: Vec<[u8; 32]> = Vec::with_capacity(pp.certificates.len());
    for c in &pp.certificates {
        let mut f = [0u8; 32];
        hex::decode_to_slice(&c.sha256, &mut f)
            .map_err(|_| mismatch(format!("certificate '{}' is not a SHA-256", c.sha256)))?;
        want.push(f);
    }
    let mut have = core.fingerprints.clone();
    have.sort_unstable();
    want.sort_unstable();
    have.dedup();
    want.dedup();
    if have != want {
        return Err(mismatch("PushCertificates differ".into()));
    }
    let loaded = LoadedProfile {
        bundle: bundle.clone(),
        env: *env,
        expires_at: core.expires_at,
        all_devices: core.all_devices,
        devices: core.devices.clone(),
        fingerprints: core.fingerprints.clone(),
    };
    Ok((loaded, sha, core))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udid_keys_match_across_case_and_refuse_other_forms() {
        let a = udid_key("00008030-001A0C3E0E68802E").unwrap();
        assert_eq!(Some(a), udid_key("00008030-001a0c3e0e68802e"));
        let b = udid_key("A1B2C3D4E5F60718293A4B5C6D7E8F9012345678").unwrap();
        assert_eq!(
            Some(b),
            udid_key("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")
        );
        assert_ne!(a, b);
        // The two forms never collide: the tag differs.
        assert_ne!(
            udid_key("00008030-0000000000000000"),
            udid_key(&"0".repeat(40))
        );
        for bad in [
            "",
            "00008030_001A0C3E0E68802E",
            "0000803-0001A0C3E0E68802E",
            "00008030-001A0C3E0E68802G",
            &"g".repeat(40),
            &"0".repeat(39),
            "00008030-001A0C3E0E68802E\n",
        ] {
            assert_eq!(udid_key(bad), None, "{bad:?}");
        }
        // Whatever normalize_udid accepts (trimmed), udid_key reads alike.
        #[cfg(feature = "ca")]
        {
            let n = crate::portal::devices::normalize_udid("00008030-001a0c3e0e68802e").unwrap();
            assert_eq!(udid_key(&n), Some(a));
        }
    }

    #[test]
    fn table_hasher_spreads_keys_and_is_seeded() {
        use std::hash::BuildHasher;
        let b = Fx::default();
        // Seeded per table: the same key hashes differently in another table
        // (a fixed hash would let chosen keys collide everywhere).
        let key = udid_key("00008030-001A0C3E0E68802E");
        assert!(
            (0..4).any(|_| Fx::default().hash_one(key) != b.hash_one(key)),
            "the table hasher is not seeded"
        );
        let set: HashSet<u64> = (0..100_000)
            .map(|i| b.hash_one(format!("com.bench.app{i}")))
            .collect();
        assert_eq!(set.len(), 100_000);
        let keys: HashSet<u64> = (0..100_000u64)
            .map(|i| b.hash_one(udid_key(&format!("{:08X}-{:016X}", 0x8030, i)).unwrap()))
            .collect();
        assert_eq!(keys.len(), 100_000);
    }
}
