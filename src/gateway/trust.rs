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

use super::policy::{Policy, FORMAT};
use super::{Decision, Denied, GatewayError, Reason};
use crate::ca::CertSummary;
use crate::portal::devices::normalize_udid;
use crate::portal::profile;
use crate::x509ext::Environment;

use super::{CA_PEM, CRL_PEM, POLICY_JSON, POLICY_P7S, PROFILES_DIR};

/// Identities cached per snapshot at most (a cache full of distinct leaves
/// is cleared rather than grown without bound).
const MAX_CACHED: usize = 100_000;

static GENERATION: AtomicU64 = AtomicU64::new(1);

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
    devices: HashSet<String>,
}

impl ProfileEntry {
    /// Rule 6: listed, or ProvisionsAllDevices for production.
    fn provisions(&self, udid: &str) -> bool {
        if self.all_devices && self.env == Environment::Production {
            return true;
        }
        if self.devices.contains(udid) {
            return true;
        }
        // Not in the stored (normalised) form: normalise, the rare case.
        match normalize_udid(udid) {
            Ok(n) if n != udid => self.devices.contains(&n),
            _ => false,
        }
    }
}

/// What `identify` learned about a provider, shared by the cache.
#[derive(Debug)]
struct IdentityData {
    bundle_id: String,
    topics: Vec<String>,
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
    pub fn topics(&self) -> &[String] {
        &self.data.topics
    }
    /// The environments the leaf carries.
    pub fn environments(&self) -> Vec<Environment> {
        Environment::ALL
            .into_iter()
            .filter(|e| self.data.envs[env_index(*e)])
            .collect()
    }
    /// SHA-256 of the leaf, lowercase hex.
    pub fn fingerprint(&self) -> String {
        hex::encode(self.fingerprint)
    }
    pub(crate) fn chain(&self) -> &[Vec<u8>] {
        &self.chain
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
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    crls: Vec<CertRevocationList<'static>>,
    crl_next_update: i64,
    profiles: Vec<ProfileEntry>,
    /// Lowercase bundle ID -> app index.
    apps: HashMap<String, u32>,
    /// Topic -> app index.
    topics: HashMap<String, u32>,
    /// Leaf fingerprint -> profiles listing it.
    by_cert: HashMap<[u8; 32], Vec<u32>>,
    /// App index -> its profiles.
    by_app: Vec<Vec<u32>>,
    cache: RwLock<HashMap<[u8; 32], Arc<IdentityData>>>,
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

fn read(path: &Path) -> Result<Vec<u8>, GatewayError> {
    crate::fsutil::read_input(path).map_err(|source| GatewayError::Read {
        path: path.to_path_buf(),
        source,
    })
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
    file: String,
    bundle: String,
    env: Environment,
    expires_at: i64,
    all_devices: bool,
    devices: HashSet<String>,
    fingerprints: Vec<[u8; 32]>,
}

impl TrustStore {
    /// Loads a trust store directory and verifies all of it: the detached
    /// signature of `policy.json` (by a profile signer chaining to `ca.pem`),
    /// the SHA-256 of every file against `policy.json`, no unlisted file, the
    /// CRLs, and every profile (signature, signer chain, content equal to
    /// the policy's). Anything that does not verify is an error.
    pub fn load(dir: &Path) -> Result<TrustStore, GatewayError> {
        let now = unix_now();
        let policy_path = dir.join(POLICY_JSON);
        let policy_bytes = read(&policy_path)?;
        let p7s = read(&dir.join(POLICY_P7S))?;
        let ca_path = dir.join(CA_PEM);
        let ca_bytes = read(&ca_path)?;
        let ca_certs = crate::certfile::read_certificates(&ca_bytes)
            .map_err(|e| invalid(&ca_path, e.to_string()))?;
        let (roots, inter): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
            ca_certs.into_iter().partition(|c| is_self_signed(c));
        if roots.is_empty() {
            return Err(invalid(
                &ca_path,
                "holds no self-signed root CA certificate",
            ));
        }
        // 1. The policy's signature, by a profile signer of this CA.
        let signed = crate::cms::verify(&p7s, Some(&policy_bytes))
            .map_err(|e| GatewayError::PolicySignature(e.to_string()))?;
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
            &roots,
            now,
            crate::chain::Usage::ProfileSigning,
        )
        .map_err(|e| GatewayError::PolicySignature(format!("its signer: {e}")))?;
        let policy: Policy = serde_json::from_slice(&policy_bytes)
            .map_err(|e| invalid(&policy_path, e.to_string()))?;
        if policy.format != FORMAT {
            return Err(invalid(
                &policy_path,
                format!("format '{}' is not {FORMAT}", policy.format),
            ));
        }
        // 2. Every file's hash; no file that the policy does not list.
        let mut contents: HashMap<String, Vec<u8>> = HashMap::new();
        for (file, expected) in &policy.files {
            if file.contains("..") || file.starts_with('/') || file.contains('\\') {
                return Err(invalid(&policy_path, format!("bad file name '{file}'")));
            }
            let bytes = read(&dir.join(file))?;
            let found = crate::ca::sha256_hex(&bytes);
            if &found != expected {
                return Err(GatewayError::HashMismatch {
                    file: file.clone(),
                    expected: expected.clone(),
                    found,
                });
            }
            contents.insert(file.clone(), bytes);
        }
        check_no_unlisted(dir, &policy)?;
        if contents.get(CA_PEM) != Some(&ca_bytes) {
            return Err(GatewayError::UnlistedFile(format!("{CA_PEM} (not hashed)")));
        }
        // 3. CRLs (their signatures are checked by webpki when used).
        let crl_path = dir.join(CRL_PEM);
        let crl_bytes = contents
            .get(CRL_PEM)
            .ok_or_else(|| GatewayError::UnlistedFile(format!("{CRL_PEM} (missing)")))?;
        let mut crls = Vec::new();
        for block in crate::pem::blocks(crl_bytes).map_err(|e| invalid(&crl_path, e.to_string()))? {
            if block.label != "X509 CRL" {
                return Err(invalid(
                    &crl_path,
                    format!("unexpected PEM block {}", block.label),
                ));
            }
            let owned = OwnedCertRevocationList::from_der(&block.der)
                .map_err(|e| invalid(&crl_path, format!("{e:?}")))?;
            crls.push(CertRevocationList::from(owned));
        }
        if crls.is_empty() {
            return Err(invalid(&crl_path, "holds no CRL"));
        }
        let crl_next_update = parse_time(&policy_path, &policy.crl.next_update)?;
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
        let loaded = verify_profiles(&jobs, &contents, &roots, now)?;
        // 5. Index.
        let mut apps: HashMap<String, u32> = HashMap::new();
        let mut by_app: Vec<Vec<u32>> = Vec::new();
        for bundle in policy.apps.keys() {
            apps.insert(bundle.to_ascii_lowercase(), by_app.len() as u32);
            by_app.push(Vec::new());
        }
        let mut topics = HashMap::new();
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
        let mut by_cert: HashMap<[u8; 32], Vec<u32>> = HashMap::new();
        for lp in loaded {
            let app = apps[&lp.bundle.to_ascii_lowercase()];
            let idx = profiles.len() as u32;
            by_app[app as usize].push(idx);
            for f in &lp.fingerprints {
                by_cert.entry(*f).or_default().push(idx);
            }
            let _ = lp.file;
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
                    .map_err(|e| invalid(&ca_path, format!("{e:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustStore {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            policy,
            anchors,
            intermediates: inter.into_iter().map(CertificateDer::from).collect(),
            crls,
            crl_next_update,
            profiles,
            apps,
            topics,
            by_cert,
            by_app,
            cache: RwLock::new(HashMap::new()),
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

    /// Rules 1-2: the chain (DER, leaf first) verifies to the trust store's
    /// root now, with EKU clientAuth, and the leaf is not revoked by the CRL.
    /// Cached by the leaf's fingerprint for this snapshot.
    pub fn identify<C: AsRef<[u8]>>(
        store: &Arc<TrustStore>,
        chain: &[C],
    ) -> Result<Identity, Denied> {
        let deny = |detail: String| Denied {
            reason: Reason::BadCertificate,
            detail,
        };
        let leaf = chain
            .first()
            .ok_or_else(|| deny("no client certificate".into()))?
            .as_ref();
        let fingerprint: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, leaf)
            .as_ref()
            .try_into()
            .map_err(|_| deny("digest".into()))?;
        let now = unix_now();
        let chain_owned = || Arc::new(chain.iter().map(|c| c.as_ref().to_vec()).collect());
        if let Ok(cache) = store.cache.read() {
            if let Some(d) = cache.get(&fingerprint) {
                if now < d.valid_until {
                    return Ok(Identity {
                        generation: store.generation,
                        data: d.clone(),
                        chain: chain_owned(),
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
            chain: chain_owned(),
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
                other => format!("{other:?}"),
            })
        })?;
        let s = CertSummary::from_der(leaf).map_err(|e| deny(e.to_string()))?;
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
            topics: s.topics,
            envs,
            grants,
            valid_until: s.not_after.min(self.crl_next_update),
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
        let d = &id.data;
        if id.generation != self.generation || unix_now() >= d.valid_until {
            return Decision::Deny(Reason::BadCertificate);
        }
        if !d.topics.iter().any(|t| t == topic) {
            return Decision::Deny(Reason::TopicDisallowed);
        }
        let e = env_index(env);
        if !d.envs[e] {
            return Decision::Deny(Reason::BadCertificateEnvironment);
        }
        let Some(&app) = self.topics.get(topic) else {
            return Decision::Deny(Reason::Forbidden);
        };
        let now = unix_now();
        let mut any = false;
        for &pi in &d.grants[e] {
            let p = &self.profiles[pi as usize];
            if p.app != app || p.expires_at <= now {
                continue;
            }
            any = true;
            match device {
                None => return Decision::Allow,
                Some(u) if p.provisions(u) => return Decision::Allow,
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
        if crate::portal::is_wildcard(bundle_id) {
            return Decision::Deny(Reason::Forbidden);
        }
        let Some(&app) = self.apps.get(&bundle_id.to_ascii_lowercase()) else {
            return Decision::Deny(Reason::Forbidden);
        };
        let now = unix_now();
        let mut any = false;
        for &pi in &self.by_app[app as usize] {
            let p = &self.profiles[pi as usize];
            if p.env != env || p.expires_at <= now {
                continue;
            }
            any = true;
            if p.provisions(udid) {
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

fn check_no_unlisted(dir: &Path, policy: &Policy) -> Result<(), GatewayError> {
    let listed =
        |name: &str| name == POLICY_JSON || name == POLICY_P7S || policy.files.contains_key(name);
    let entries = std::fs::read_dir(dir).map_err(|e| invalid(dir, e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| invalid(dir, e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == PROFILES_DIR {
            let sub = std::fs::read_dir(entry.path()).map_err(|e| invalid(dir, e.to_string()))?;
            for f in sub {
                let f = f.map_err(|e| invalid(dir, e.to_string()))?;
                let rel = format!("{PROFILES_DIR}/{}", f.file_name().to_string_lossy());
                if !policy.files.contains_key(&rel) {
                    return Err(GatewayError::UnlistedFile(rel));
                }
            }
        } else if !listed(&name) {
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

/// Verifies every profile (in parallel): CMS signature, the signer's chain
/// (once per distinct signer), and its content against the policy entry.
fn verify_profiles(
    jobs: &[ProfileJob<'_>],
    contents: &HashMap<String, Vec<u8>>,
    roots: &[Vec<u8>],
    now: i64,
) -> Result<Vec<LoadedProfile>, GatewayError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = jobs.len().div_ceil(threads).max(1);
    let signers: RwLock<HashMap<Vec<u8>, bool>> = RwLock::new(HashMap::new());
    let results: Vec<Result<Vec<LoadedProfile>, GatewayError>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let signers = &signers;
                s.spawn(move || {
                    part.iter()
                        .map(|job| verify_one(job, contents, roots, now, signers))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(GatewayError::ProfileMismatch {
                        file: "?".into(),
                        reason: "verification thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut out = Vec::with_capacity(jobs.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

fn verify_one(
    job: &ProfileJob<'_>,
    contents: &HashMap<String, Vec<u8>>,
    roots: &[Vec<u8>],
    now: i64,
    signers: &RwLock<HashMap<Vec<u8>, bool>>,
) -> Result<LoadedProfile, GatewayError> {
    let (bundle, app_id, env, pp) = job;
    let file = pp.file.clone();
    let mismatch = |reason: String| GatewayError::ProfileMismatch {
        file: file.clone(),
        reason,
    };
    let der = contents
        .get(&pp.file)
        .ok_or_else(|| mismatch("not listed among the files".into()))?;
    let perr = |source| GatewayError::Profile {
        file: file.clone(),
        source,
    };
    let signed = profile::verify_signature(der).map_err(perr)?;
    let known = signers
        .read()
        .ok()
        .and_then(|m| m.get(&signed.signer_cert_der).copied());
    let signer_expired = match known {
        Some(x) => x,
        None => {
            let x = profile::check_signer(&signed, roots, now).map_err(perr)?;
            if let Ok(mut m) = signers.write() {
                m.insert(signed.signer_cert_der.clone(), x);
            }
            x
        }
    };
    let v = profile::finish(der, signed, signer_expired, now).map_err(perr)?;
    let i = &v.info;
    if i.uuid != pp.uuid {
        return Err(mismatch(format!("UUID {} is not {}", i.uuid, pp.uuid)));
    }
    if i.application_identifier.as_deref() != Some(app_id.as_str()) {
        return Err(mismatch(format!(
            "application-identifier {:?} is not {app_id}",
            i.application_identifier
        )));
    }
    if i.aps_environment.as_deref() != Some(env.name()) {
        return Err(mismatch(format!(
            "aps-environment {:?} is not {}",
            i.aps_environment,
            env.name()
        )));
    }
    let expires_at = i.expires.unix_timestamp();
    if time::OffsetDateTime::parse(
        &pp.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp())
        != Ok(expires_at)
    {
        return Err(mismatch("ExpirationDate differs".into()));
    }
    if i.provisions_all_devices != pp.provisions_all_devices {
        return Err(mismatch("ProvisionsAllDevices differs".into()));
    }
    let devices: HashSet<String> = i
        .devices
        .iter()
        .map(|u| normalize_udid(u).unwrap_or_else(|_| u.clone()))
        .collect();
    let listed: HashSet<String> = pp
        .devices
        .iter()
        .map(|u| normalize_udid(u).unwrap_or_else(|_| u.clone()))
        .collect();
    if devices != listed {
        return Err(mismatch("ProvisionedDevices differ".into()));
    }
    let certs: HashSet<&str> = i.push_certificates.iter().map(String::as_str).collect();
    let listed: HashSet<&str> = pp.certificates.iter().map(|c| c.sha256.as_str()).collect();
    if certs != listed {
        return Err(mismatch("PushCertificates differ".into()));
    }
    let mut fingerprints = Vec::with_capacity(certs.len());
    for c in &i.push_certificates {
        let mut f = [0u8; 32];
        hex::decode_to_slice(c, &mut f)
            .map_err(|_| mismatch(format!("PushCertificates entry '{c}' is not a SHA-256")))?;
        fingerprints.push(f);
    }
    Ok(LoadedProfile {
        file: pp.file.clone(),
        bundle: bundle.clone(),
        env: *env,
        expires_at,
        all_devices: i.provisions_all_devices,
        devices,
        fingerprints,
    })
}
