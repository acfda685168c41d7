//! Step 4 and 5 of a load: every profile verified (in parallel) and equal
//! to what the policy says of it, then the lookup tables.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use webpki::CertRevocationList;

use super::load::{check_hash, invalid, read};
use super::udid::{udid_key, UdidKey};
use super::{Fx, LoadOptions, ProfileEntry};
use crate::gateway::dir::{split_name, StoreDir};
use crate::gateway::policy::{Policy, ProfilePolicy};
use crate::gateway::GatewayError;
use crate::profile;
use crate::x509ext::Environment;

/// A profile's verified content, reusable by the next load of a
/// byte-identical file.
#[derive(Debug)]
pub(super) struct VerifiedCore {
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

/// A profile file checked against its policy entry, ready to index.
pub(super) struct LoadedProfile {
    bundle: String,
    env: Environment,
    expires_at: i64,
    all_devices: bool,
    devices: HashSet<UdidKey, Fx>,
    fingerprints: Vec<[u8; 32]>,
}

/// Step 4's work list: every profile of every App ID and environment.
pub(super) fn profile_jobs<'p>(
    policy_path: &Path,
    policy: &'p Policy,
) -> Result<Vec<ProfileJob<'p>>, GatewayError> {
    let mut jobs = Vec::new();
    for (bundle, app) in &policy.apps {
        for (env_name, list) in &app.environments {
            let env = Environment::from_name(env_name)
                .ok_or_else(|| invalid(policy_path, format!("unknown environment '{env_name}'")))?;
            for pp in list {
                jobs.push((bundle.clone(), app.app_id.clone(), env, pp));
            }
        }
    }
    Ok(jobs)
}

/// One profile to verify: its App ID's bundle ID and App ID, the
/// environment, and what the policy says of it.
pub(super) type ProfileJob<'a> = (String, String, Environment, &'a ProfilePolicy);

pub(super) type Verified = HashMap<[u8; 32], Arc<VerifiedCore>, Fx>;

/// Verifies every profile (in parallel): reads it, checks its SHA-256
/// against the policy, its CMS signature (unless `previous` verified the
/// same bytes), the signer's chain (once per distinct signer), and its
/// content against the policy entry.
pub(super) fn verify_profiles(
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

pub(super) struct VerifyCtx<'a> {
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

impl<'a> VerifyCtx<'a> {
    pub(super) fn new(
        dir: &'a StoreDir,
        policy: &'a Policy,
        roots: &'a [Vec<u8>],
        crls: &'a [CertRevocationList<'static>],
        now: i64,
    ) -> Self {
        VerifyCtx {
            dir,
            policy,
            roots,
            crls: crls.iter().collect(),
            now,
            previous: None,
            verify_signatures: false,
            signers: RwLock::new(HashMap::default()),
            shared: RwLock::new(HashMap::default()),
        }
    }

    /// Reuses what `previous` verified; verifies profile signatures if
    /// `options` asks.
    pub(super) fn reusing(self, previous: Option<&'a Verified>, options: LoadOptions) -> Self {
        VerifyCtx {
            previous,
            verify_signatures: options.verify_profile_signatures,
            ..self
        }
    }

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
    let (der, sha) = read_listed(ctx, pp)?;
    let reusable = |c: &&Arc<VerifiedCore>| c.signature_checked || !ctx.verify_signatures;
    let core = match ctx.previous.and_then(|p| p.get(&sha)).filter(reusable) {
        Some(core) => {
            // Same bytes as verified before: only the signer chain, now.
            let _ = ctx
                .signer_ok(&core.signer, core.signing_time)
                .map_err(|source| GatewayError::Profile {
                    file: pp.file.clone(),
                    source,
                })?;
            core.clone()
        }
        None => Arc::new(verify_new(ctx, &pp.file, &der)?),
    };
    check_against_policy(&core, app_id, *env, pp)?;
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

fn mismatch(file: &str, reason: String) -> GatewayError {
    GatewayError::ProfileMismatch {
        file: file.to_string(),
        reason,
    }
}

/// The profile file, listed among the policy's files under `profiles/`,
/// read, with its SHA-256 checked against the policy's.
fn read_listed(
    ctx: &VerifyCtx<'_>,
    pp: &ProfilePolicy,
) -> Result<(Vec<u8>, [u8; 32]), GatewayError> {
    let expected = ctx
        .policy
        .files
        .get(&pp.file)
        .ok_or_else(|| mismatch(&pp.file, "not listed among the files".into()))?;
    if split_name(&pp.file).map(|(in_profiles, _)| in_profiles) != Some(true) {
        return Err(mismatch(&pp.file, "not a file of profiles/".into()));
    }
    let der = read(ctx.dir, &pp.file)?;
    let sha = check_hash(&pp.file, expected, &der)?;
    Ok((der, sha))
}

/// A profile not verified before: its CMS structure, signer certificate and
/// messageDigest always; the signature value only when asked (the verified
/// policy.json signature covers this file's SHA-256, signature included,
/// and `gateway trust-store` verified it before listing it); the signer's
/// chain; then its plist.
fn verify_new(ctx: &VerifyCtx<'_>, file: &str, der: &[u8]) -> Result<VerifiedCore, GatewayError> {
    let perr = |source| GatewayError::Profile {
        file: file.to_string(),
        source,
    };
    let opened = crate::cms::open(der, crate::cms::Content::Attached)
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
    let devices = udid_keys(file, &i.devices)?;
    let mut fingerprints = Vec::with_capacity(i.push_certificates.len());
    for c in &i.push_certificates {
        let mut f = [0u8; 32];
        hex::decode_to_slice(c, &mut f).map_err(|_| {
            mismatch(
                file,
                format!("PushCertificates entry '{c}' is not a SHA-256"),
            )
        })?;
        fingerprints.push(f);
    }
    Ok(VerifiedCore {
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

/// The keys of a profile's UDIDs; anything else is a mismatch.
fn udid_keys(file: &str, udids: &[String]) -> Result<HashSet<UdidKey, Fx>, GatewayError> {
    udids
        .iter()
        .map(|u| {
            udid_key(u)
                .ok_or_else(|| mismatch(file, format!("'{}' is not a UDID", u.escape_default())))
        })
        .collect()
}

/// The profile says what the policy says: UUID, App ID, environment,
/// expiry, devices and certificates.
fn check_against_policy(
    core: &VerifiedCore,
    app_id: &str,
    env: Environment,
    pp: &ProfilePolicy,
) -> Result<(), GatewayError> {
    let file = pp.file.as_str();
    if core.uuid != pp.uuid {
        return Err(mismatch(
            file,
            format!("UUID {} is not {}", core.uuid, pp.uuid),
        ));
    }
    if core.application_identifier.as_deref() != Some(app_id) {
        return Err(mismatch(
            file,
            format!(
                "application-identifier {:?} is not {app_id}",
                core.application_identifier
            ),
        ));
    }
    if core.aps_environment.as_deref() != Some(env.name()) {
        return Err(mismatch(
            file,
            format!(
                "aps-environment {:?} is not {}",
                core.aps_environment,
                env.name()
            ),
        ));
    }
    if crate::timeutil::parse_rfc3339(&pp.expires_at) != Some(core.expires_at) {
        return Err(mismatch(file, "ExpirationDate differs".into()));
    }
    if core.all_devices != pp.provisions_all_devices {
        return Err(mismatch(file, "ProvisionsAllDevices differs".into()));
    }
    if core.devices != udid_keys(file, &pp.devices)? {
        return Err(mismatch(file, "ProvisionedDevices differ".into()));
    }
    let mut want: Vec<[u8; 32]> = Vec::with_capacity(pp.certificates.len());
    for c in &pp.certificates {
        let mut f = [0u8; 32];
        hex::decode_to_slice(&c.sha256, &mut f)
            .map_err(|_| mismatch(file, format!("certificate '{}' is not a SHA-256", c.sha256)))?;
        want.push(f);
    }
    let mut have = core.fingerprints.clone();
    have.sort_unstable();
    want.sort_unstable();
    have.dedup();
    want.dedup();
    if have != want {
        return Err(mismatch(file, "PushCertificates differ".into()));
    }
    Ok(())
}

/// Step 5: the lookup tables of a [`TrustStore`].
pub(super) struct Index {
    pub(super) profiles: Vec<ProfileEntry>,
    pub(super) apps: HashMap<String, u32, Fx>,
    pub(super) topics: HashMap<String, u32, Fx>,
    pub(super) by_cert: HashMap<[u8; 32], Vec<u32>, Fx>,
    pub(super) by_app: Vec<Vec<u32>>,
    pub(super) app_disabled: Vec<Arc<HashSet<UdidKey, Fx>>>,
}

impl Index {
    /// Indexes the verified profiles by App ID, topic and certificate; each
    /// App ID gets its team's disabled devices.
    pub(super) fn build(
        policy_path: &Path,
        policy: &Policy,
        loaded: Vec<LoadedProfile>,
    ) -> Result<Index, GatewayError> {
        let mut index = Index::apps(policy_path, policy)?;
        index.index_topics(policy_path, policy)?;
        index.index_profiles(loaded);
        Ok(index)
    }

    /// App IDs (lowercase bundle ID -> index), each with its team's disabled
    /// devices (one shared empty set for teams without any).
    fn apps(policy_path: &Path, policy: &Policy) -> Result<Index, GatewayError> {
        let disabled_by_team = disabled_devices(policy_path, policy)?;
        let none: Arc<HashSet<UdidKey, Fx>> = Arc::default();
        let mut apps: HashMap<String, u32, Fx> = HashMap::default();
        let mut by_app: Vec<Vec<u32>> = Vec::new();
        let mut app_disabled: Vec<Arc<HashSet<UdidKey, Fx>>> = Vec::new();
        for (bundle, app) in &policy.apps {
            apps.insert(bundle.to_ascii_lowercase(), by_app.len() as u32);
            by_app.push(Vec::new());
            let team = disabled_by_team.get(&app.team_id).ok_or_else(|| {
                invalid(
                    policy_path,
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
        Ok(Index {
            profiles: Vec::new(),
            apps,
            topics: HashMap::default(),
            by_cert: HashMap::default(),
            by_app,
            app_disabled,
        })
    }

    /// Topic -> App ID index.
    fn index_topics(&mut self, policy_path: &Path, policy: &Policy) -> Result<(), GatewayError> {
        for (topic, info) in &policy.topics {
            let app = *self
                .apps
                .get(&info.bundle_id.to_ascii_lowercase())
                .ok_or_else(|| {
                    invalid(
                        policy_path,
                        format!("topic {topic} names an unknown App ID"),
                    )
                })?;
            self.topics.insert(topic.clone(), app);
        }
        Ok(())
    }

    /// The profiles, by App ID and by certificate fingerprint.
    fn index_profiles(&mut self, loaded: Vec<LoadedProfile>) {
        self.profiles.reserve(loaded.len());
        for mut lp in loaded {
            let app = self.apps[&lp.bundle.to_ascii_lowercase()];
            let disabled = &self.app_disabled[app as usize];
            // A signed profile still lists a device disabled since: the
            // policy's list of the team's disabled devices overrides it.
            if !disabled.is_empty() {
                lp.devices.retain(|k| !disabled.contains(k));
            }
            let idx = self.profiles.len() as u32;
            self.by_app[app as usize].push(idx);
            for f in &lp.fingerprints {
                self.by_cert.entry(*f).or_default().push(idx);
            }
            self.profiles.push(ProfileEntry {
                app,
                env: lp.env,
                expires_at: lp.expires_at,
                all_devices: lp.all_devices,
                devices: lp.devices,
            });
        }
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
