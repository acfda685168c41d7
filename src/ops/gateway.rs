//! `gateway trust-store` and `gateway check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::revocation::{sign_next_crl, CrlIssuer};
use super::{home_anchor, now, open_store, rfc3339, OpsError, OutputRules, PublishLock, Result};
use crate::ca::authority::{read_ca_cert, ISSUING, PROFILE_SIGNER, ROOT};
use crate::ca::Issuer;
use crate::fsutil;
use crate::gateway::build::{self, AppInput, ProfileInput};
use crate::gateway::policy::{CertPolicy, CrlInfo, KeyPolicy, ProfilePolicy, RevokedInfo};
use crate::gateway::{
    Anchor, Decision, Denied, Gateway, GatewayError, Identity, LoadOptions, TrustStore, CA_PEM,
    CRL_PEM, POLICY_JSON, POLICY_P7S, PROFILES_DIR, TRUSTSTORE_P12,
};
use crate::home::Home;
use crate::secret::Secret;
use crate::store::{CertRecord, ProfileFilter, ProfileRecord};
use crate::x509ext::{Environment, TopicKind};

/// What the store holds for a trust store, read in one snapshot.
struct Snapshot {
    ca_certs: Vec<Vec<u8>>,
    profiles: Vec<(ProfileRecord, Vec<CertRecord>)>,
    revoked: Vec<CertRecord>,
    /// Every enabled App ID with push (with a current profile or not).
    push_apps: Vec<crate::store::AppRecord>,
    /// Every auth key, revoked ones included.
    keys: Vec<crate::store::KeyRecord>,
    /// Team ID -> its disabled devices, for every team of an App ID of
    /// `push_apps` or of a key.
    disabled_devices: BTreeMap<String, Vec<String>>,
    digest: String,
}

/// A trust store ready to build (or already up to date).
pub struct PreparedTrustStore<'h> {
    home: &'h Home,
    out: PathBuf,
    snapshot: Snapshot,
    /// `Some(generated_at)` when `out` already holds a verified trust store
    /// made from the same inputs, whose CRL is not due.
    pub(crate) up_to_date: Option<String>,
}

/// What was built (`gateway trust-store`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrustStoreOutcome {
    /// The trust-store directory.
    pub out: PathBuf,
    /// False when the trust store was up to date and nothing was written.
    pub changed: bool,
    /// When its policy was generated (RFC 3339): now, or the up-to-date one's.
    pub generated_at: String,
    /// How many current profiles it holds.
    pub profiles: usize,
    /// How many App IDs those profiles are for.
    pub apps: usize,
    /// How many revoked, unexpired certificates it lists.
    pub revoked: usize,
    /// The version published (`None` when nothing was written).
    pub version: Option<u64>,
    /// The issuing CA's new CRL number (`None` when nothing was written).
    pub crl_number: Option<i64>,
    /// When that CRL must be replaced (RFC 3339; `None` when nothing was
    /// written).
    pub crl_next_update: Option<String>,
    /// Each file written (path in the trust store) and its SHA-256.
    #[serde(serialize_with = "serialize_files")]
    pub files: Vec<(String, String)>,
}

/// `files` as a JSON object `{path: sha256}`, in the order written.
fn serialize_files<S: serde::Serializer>(
    files: &[(String, String)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(files.iter().map(|(k, v)| (k, v)))
}

/// What of the store decides which profiles and devices reach the policy:
/// App IDs (enabled, push) by lowercase bundle ID, and every disabled device
/// by team.
struct Gates {
    apps: std::collections::HashMap<String, crate::store::AppRecord>,
    disabled: BTreeMap<String, Vec<String>>,
}

impl Gates {
    fn read(tx: &crate::store::Tx<'_>) -> Result<Gates> {
        let apps = tx
            .list_apps(None)?
            .into_iter()
            .map(|a| (a.bundle_id.to_ascii_lowercase(), a))
            .collect();
        let mut disabled: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in tx.list_devices(None, false)? {
            if !d.enabled {
                disabled.entry(d.team_id).or_default().push(d.udid);
            }
        }
        Ok(Gates { apps, disabled })
    }

    /// The App ID of a profile, and whether its profiles may reach the
    /// policy (enabled, with push).
    fn app(&self, p: &ProfileRecord) -> Result<(&crate::store::AppRecord, bool)> {
        let app = self
            .apps
            .get(&p.bundle_id.to_ascii_lowercase())
            .ok_or(crate::store::StoreError::Corrupt("profile App ID"))?;
        Ok((app, app.enabled && app.push))
    }
}

fn read_snapshot(home: &Home, now_ts: i64) -> Result<Snapshot> {
    let files = home.ca_files();
    let ca_certs = vec![read_ca_cert(&files, ROOT)?, read_ca_cert(&files, ISSUING)?];
    let mut st = open_store(home)?;
    let (profiles, revoked, gates, app_states, keys) = st.read(|tx| -> Result<_> {
        let gates = Gates::read(tx)?;
        let mut out = Vec::new();
        // What decided each current profile's inclusion, for the digest.
        let mut app_states = std::collections::BTreeSet::new();
        for p in tx.list_profiles(&ProfileFilter::default())? {
            if p.expires_at <= now_ts {
                continue;
            }
            // Profiles of a disabled or push-less App ID do not reach the
            // policy (withdrawn and superseded ones are not listed at all).
            let (app, included) = gates.app(&p)?;
            app_states.insert(format!(
                "app {} enabled={} push={}",
                app.bundle_id, app.enabled, app.push
            ));
            if !included {
                continue;
            }
            let mut certs = Vec::with_capacity(p.cert_serials.len());
            for s in &p.cert_serials {
                certs.push(
                    tx.certificate(s)?
                        .ok_or(crate::store::StoreError::Corrupt("profile certificate"))?,
                );
            }
            out.push((p, certs));
        }
        Ok((
            out,
            tx.revoked_unexpired(now_ts)?,
            gates,
            app_states,
            tx.list_keys(None)?,
        ))
    })?;
    // Every enabled App ID with push is in the policy (a token names a
    // topic, not a profile), by bundle ID.
    let mut push_apps: Vec<crate::store::AppRecord> = gates
        .apps
        .values()
        .filter(|a| a.enabled && a.push)
        .cloned()
        .collect();
    push_apps.sort_by(|a, b| a.bundle_id.cmp(&b.bundle_id));
    // The disabled devices of every team the policy names (each App ID's
    // and each key's).
    let teams: std::collections::BTreeSet<&str> = profiles
        .iter()
        .map(|(p, _)| p.team_id.as_str())
        .chain(push_apps.iter().map(|a| a.team_id.as_str()))
        .chain(keys.iter().map(|k| k.team_id.as_str()))
        .collect();
    let disabled_devices: BTreeMap<String, Vec<String>> = teams
        .into_iter()
        .map(|t| {
            let devices = gates.disabled.get(t).cloned().unwrap_or_default();
            (t.to_string(), devices)
        })
        .collect();
    // Equal inputs, equal digest: CA certificates, current profiles, the App
    // ID states and disabled devices that filter them, revocations.
    let mut h = String::new();
    for c in &ca_certs {
        h.push_str(&crate::x509::sha256_hex(c));
        h.push('\n');
    }
    let mut ps: Vec<String> = profiles
        .iter()
        .map(|(p, _)| format!("{} {}", p.uuid, p.sha256))
        .collect();
    ps.sort();
    for p in ps {
        h.push_str(&p);
        h.push('\n');
    }
    for a in &app_states {
        h.push_str(a);
        h.push('\n');
    }
    for a in &push_apps {
        h.push_str(&format!("policy-app {} {}\n", a.bundle_id, a.team_id));
    }
    for k in &keys {
        h.push_str(&format!(
            "key {} {} {} {} {} {} {}\n",
            k.key_id,
            k.team_id,
            k.environment,
            k.scope,
            k.apps.join(","),
            crate::x509::sha256_hex(&k.public_key),
            k.revoked_at.map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    for (team, udids) in &disabled_devices {
        for u in udids {
            h.push_str(&format!("disabled {team} {u}\n"));
        }
    }
    for r in &revoked {
        h.push_str(&format!(
            "revoked {} {}\n",
            r.serial,
            r.revocation_reason.as_deref().unwrap_or("")
        ));
    }
    Ok(Snapshot {
        ca_certs,
        profiles,
        revoked,
        push_apps,
        keys,
        disabled_devices,
        digest: crate::x509::sha256_hex(h.as_bytes()),
    })
}

/// The store's publish counter (`version` of the policy).
const VERSION_KEY: &str = "trust_store.version";

/// Where a trust store is published: `out` itself, or (when `out` is a
/// symlink, `current -> v42`) the directory it points to, replaced by a new
/// one beside the link.
enum OutTarget {
    Dir(PathBuf),
    Link { link: PathBuf, target: PathBuf },
}

impl OutTarget {
    fn of(out: &Path) -> Result<OutTarget> {
        match std::fs::symlink_metadata(out) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(out).map_err(|e| fsutil::FsError::read(out, e))?;
                let target = match out.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
                Ok(OutTarget::Link {
                    link: out.to_path_buf(),
                    target,
                })
            }
            _ => Ok(OutTarget::Dir(out.to_path_buf())),
        }
    }

    /// The directory that holds the current version.
    fn dir(&self) -> &Path {
        match self {
            OutTarget::Dir(d) => d,
            OutTarget::Link { target, .. } => target,
        }
    }
}

/// Whether `rel` (top level, or `profiles/NAME`) is a file a trust store
/// writes.
fn own_file(rel: &str) -> bool {
    match rel.split_once('/') {
        None => [CA_PEM, CRL_PEM, TRUSTSTORE_P12, POLICY_JSON, POLICY_P7S].contains(&rel),
        Some((PROFILES_DIR, name)) => {
            name.ends_with(".mobileprovision") && !name.starts_with('.') && !name.contains('/')
        }
        Some(_) => false,
    }
}

/// Refuses an existing output directory that holds anything but a trust
/// store's own files (regular files; `profiles/` a directory of profiles).
fn check_out_contents(dir: &Path) -> Result<()> {
    let foreign = |found: String| OpsError::ForeignFilesInOut {
        dir: dir.to_path_buf(),
        found,
    };
    let list = |d: &Path| -> Result<Vec<(String, std::fs::FileType)>> {
        let read = |e: std::io::Error| fsutil::FsError::read(d, e);
        let mut out = Vec::new();
        for e in std::fs::read_dir(d).map_err(read)? {
            let e = e.map_err(read)?;
            out.push((
                e.file_name().to_string_lossy().into_owned(),
                e.file_type().map_err(read)?,
            ));
        }
        Ok(out)
    };
    for (name, ft) in list(dir)? {
        if name == PROFILES_DIR && ft.is_dir() {
            for (p, pft) in list(&dir.join(PROFILES_DIR))? {
                let rel = format!("{PROFILES_DIR}/{p}");
                if !pft.is_file() || !own_file(&rel) {
                    return Err(foreign(format!("'{}'", rel.escape_default())));
                }
            }
        } else if !ft.is_file() || !own_file(&name) {
            return Err(foreign(format!("'{}'", name.escape_default())));
        }
    }
    Ok(())
}

/// Removes a trust store's own files from `dir`, then `dir` if empty:
/// never anything else.
fn remove_own_files(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir.join(PROFILES_DIR)) {
        for e in entries.flatten() {
            let rel = format!("{PROFILES_DIR}/{}", e.file_name().to_string_lossy());
            if own_file(&rel) && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir.join(PROFILES_DIR));
    for f in [CA_PEM, CRL_PEM, TRUSTSTORE_P12, POLICY_JSON, POLICY_P7S] {
        let p = dir.join(f);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(p);
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The output rules of a trust store directory: never inside the home, never
/// one that contains the home, never over foreign files.
fn check_out(home: Option<&Path>, out: &Path) -> Result<OutTarget> {
    let rules = OutputRules { force: true, home };
    // Never inside the home (checked on a file of the directory, and of the
    // directory a symlinked `out` points to).
    let not_inside_home = |dir: &Path| {
        fsutil::check_output(&dir.join(POLICY_JSON), &rules).or_else(|e| match e {
            fsutil::FsError::Write { .. } if !dir.exists() => Ok(()),
            other => Err(other),
        })
    };
    not_inside_home(out)?;
    let target = OutTarget::of(out)?;
    if let OutTarget::Link { target, .. } = &target {
        not_inside_home(target)?;
    }
    let dir = target.dir();
    if let Some(home) = home {
        if let (Ok(h), Ok(o)) = (std::fs::canonicalize(home), std::fs::canonicalize(dir)) {
            if h.starts_with(&o) {
                return Err(OpsError::OutContainsHome {
                    out: out.to_path_buf(),
                    home: home.to_path_buf(),
                });
            }
        }
    }
    if std::fs::symlink_metadata(dir).is_ok() {
        if !dir.is_dir() {
            return Err(OpsError::NotATrustStore(out.to_path_buf()));
        }
        check_out_contents(dir)?;
    }
    Ok(target)
}

/// Checks the output and reads the store; says whether `out` is already up
/// to date (then no passphrase is needed). An existing trust store in `out`
/// is trusted only once it verifies against the home's own root.
pub fn prepare_trust_store<'h>(home: &'h Home, out: &Path) -> Result<PreparedTrustStore<'h>> {
    check_out(Some(home.root()), out)?;
    let t = now().unix_timestamp();
    let snapshot = read_snapshot(home, t)?;
    let template = crate::ca::templates::load_crl(Some(&home.templates()))?;
    let anchor = home_anchor(home)?;
    let up_to_date = match TrustStore::load(out, &anchor) {
        Ok(ts) if ts.policy().inputs_sha256 == snapshot.digest => {
            let half = i64::from(template.next_update_days) * crate::timeutil::SECS_PER_DAY / 2;
            (ts.expires_at() - t > half).then(|| ts.policy().generated_at.clone())
        }
        _ => None,
    };
    Ok(PreparedTrustStore {
        home,
        out: out.to_path_buf(),
        snapshot,
        up_to_date,
    })
}

fn topics_of(bundle: &str) -> Vec<(String, String)> {
    TopicKind::ALL
        .iter()
        .map(|k| (k.topic(bundle), k.name().to_string()))
        .collect()
}

impl PreparedTrustStore<'_> {
    /// The outcome when nothing needs to be written.
    pub fn unchanged(&self) -> Option<TrustStoreOutcome> {
        let generated_at = self.up_to_date.clone()?;
        let apps: std::collections::HashSet<&str> = self
            .snapshot
            .profiles
            .iter()
            .map(|(p, _)| p.bundle_id.as_str())
            .collect();
        Some(TrustStoreOutcome {
            out: self.out.clone(),
            changed: false,
            generated_at,
            profiles: self.snapshot.profiles.len(),
            apps: apps.len(),
            revoked: self.snapshot.revoked.len(),
            version: None,
            crl_number: None,
            crl_next_update: None,
            files: Vec::new(),
        })
    }

    /// Signs new CRLs (issuing CA and root, recorded) and the policy, writes
    /// every file into a new directory beside `out`, then swaps it in whole.
    pub fn build(self, pass: &Secret) -> Result<TrustStoreOutcome> {
        self.build_with_progress(pass, &|| {})
    }

    /// Number of progress ticks [`PreparedTrustStore::build_with_progress`]
    /// makes: one per profile verified, one per file staged.
    pub fn work(&self) -> u64 {
        self.snapshot.profiles.len() as u64 * 2 + 5
    }

    /// [`PreparedTrustStore::build`], calling `tick` (from several threads)
    /// as profiles are verified and files staged.
    pub fn build_with_progress(
        self,
        pass: &Secret,
        tick: &(dyn Fn() + Sync),
    ) -> Result<TrustStoreOutcome> {
        super::revocation::refuse_revoked_profile_signer(self.home)?;
        let files = self.home.ca_files();
        let issuing = Issuer::unlock_issuing(&files, pass)?;
        let root = Issuer::unlock(&files, ROOT, pass)?;
        let signer = Issuer::unlock(&files, PROFILE_SIGNER, pass)?;
        self.build_signed(&issuing, &root, &signer, tick)
    }

    /// [`PreparedTrustStore::build`] with the CA unlocked once (`pushca serve`).
    pub fn build_unlocked(self, ca: &super::UnlockedCa) -> Result<TrustStoreOutcome> {
        self.build_signed(&ca.issuing, &ca.root, &ca.profile_signer, &|| {})
    }

    fn build_signed(
        self,
        issuing: &Issuer,
        root: &Issuer,
        signer: &Issuer,
        tick: &(dyn Fn() + Sync),
    ) -> Result<TrustStoreOutcome> {
        let home = self.home;
        super::revocation::refuse_revoked_profile_signer(home)?;
        let anchor = home_anchor(home)?;
        // From here to the swap, one publisher at a time: a run that signed
        // an older CRL can never swap its trust store in after a newer one.
        let _lock = PublishLock::acquire(home)?;
        let created = now();
        // The store as it is now, under the lock (not as `prepare` saw it).
        let snapshot = read_snapshot(home, created.unix_timestamp())?;
        let mut st = open_store(home)?;
        let read_version = |tx: &crate::store::Tx<'_>| -> Result<u64> {
            Ok(tx
                .setting(VERSION_KEY)?
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0))
        };
        // The output again, under the lock: its rules, and never a newer
        // version (verified against the home's root) replaced by this one
        // (a home restored from a backup): refused before anything is signed.
        let next = st.read(read_version)? + 1;
        let target = check_out(Some(home.root()), &self.out)?;
        if let Ok(p) =
            crate::gateway::verified_policy(target.dir(), &anchor, created.unix_timestamp())
        {
            if p.version >= next {
                return Err(OpsError::OlderThanPublished {
                    out: self.out.clone(),
                    found: p.version,
                    ours: next,
                });
            }
        }
        let (issuing_crl, root_crl, version) = st.write(|tx| -> Result<_> {
            // Only publishers change it, and they hold the lock.
            let version = read_version(tx)? + 1;
            tx.set_setting(VERSION_KEY, &version.to_string())?;
            Ok((
                sign_next_crl(tx, issuing, CrlIssuer::Issuing, home, created)?,
                sign_next_crl(tx, root, CrlIssuer::Root, home, created)?,
                version,
            ))
        })?;
        let snap = &snapshot;
        let mut apps: BTreeMap<String, AppInput> = BTreeMap::new();
        // Every enabled App ID with push, a profile-less one included (its
        // `environments` empty).
        for a in &snap.push_apps {
            apps.insert(
                a.bundle_id.clone(),
                AppInput {
                    bundle_id: a.bundle_id.clone(),
                    team_id: a.team_id.clone(),
                    topics: topics_of(&a.bundle_id),
                },
            );
        }
        let mut profiles = Vec::with_capacity(snap.profiles.len());
        for (p, certs) in &snap.profiles {
            apps.entry(p.bundle_id.clone()).or_insert_with(|| AppInput {
                bundle_id: p.bundle_id.clone(),
                team_id: p.team_id.clone(),
                topics: topics_of(&p.bundle_id),
            });
            profiles.push(ProfileInput {
                policy: ProfilePolicy {
                    uuid: p.uuid.clone(),
                    file: format!(
                        "{}/{}.mobileprovision",
                        crate::gateway::PROFILES_DIR,
                        p.uuid
                    ),
                    expires_at: rfc3339(p.expires_at),
                    certificates: certs
                        .iter()
                        .map(|c| CertPolicy {
                            sha256: c.sha256.clone(),
                            serial: c.serial.clone(),
                            not_after: rfc3339(c.not_after),
                        })
                        .collect(),
                    provisions_all_devices: p.devices_mode == "all",
                    devices: p.devices.clone(),
                },
                bundle_id: p.bundle_id.clone(),
                environment: p.environment.clone(),
                der: p.der.clone(),
            });
        }
        let app_list: Vec<AppInput> = apps.into_values().collect();
        let profile_apps = profiles
            .iter()
            .map(|p| p.bundle_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let generated_at = rfc3339(created.unix_timestamp());
        let inputs = build::Inputs {
            ca_certs: &snap.ca_certs,
            crls: &[issuing_crl.der.clone(), root_crl.der.clone()],
            crl: CrlInfo {
                number: issuing_crl.number,
                this_update: rfc3339(issuing_crl.this_update),
                next_update: rfc3339(issuing_crl.next_update),
                revoked: snap
                    .revoked
                    .iter()
                    .map(|c| RevokedInfo {
                        serial: c.serial.clone(),
                        revoked_at: rfc3339(c.revoked_at.unwrap_or(0)),
                        reason: c
                            .revocation_reason
                            .clone()
                            .unwrap_or_else(|| "unspecified".into()),
                    })
                    .collect(),
            },
            apps: &app_list,
            disabled_devices: &snap.disabled_devices,
            profiles: &profiles,
            keys: snap.keys.iter().map(key_policy).collect(),
            inputs_sha256: snap.digest.clone(),
            generated_at: generated_at.clone(),
            version,
            expires_at: rfc3339(issuing_crl.next_update.min(root_crl.next_update)),
        };
        let (written, _) = build::assemble(&inputs, signer, created, tick)
            .map_err(|e| OpsError::TrustStoreBuild(e.into()))?;
        write_and_swap(&target, version, &written, tick)?;
        Ok(TrustStoreOutcome {
            out: self.out,
            changed: true,
            generated_at,
            profiles: profiles.len(),
            apps: profile_apps,
            revoked: snap.revoked.len(),
            version: Some(version),
            crl_number: Some(issuing_crl.number),
            crl_next_update: Some(rfc3339(issuing_crl.next_update)),
            files: written
                .iter()
                .map(|(n, d)| (n.clone(), crate::x509::sha256_hex(d)))
                .collect(),
        })
    }
}

/// Client mode: checks `out` as a local build does (never inside `home`,
/// never over foreign files) before the service is called.
pub fn check_fetched_out(out: &Path, home: Option<&Path>) -> Result<()> {
    check_out(home, out).map(|_| ())
}

/// Client mode: a trust store fetched from the service (its files by path
/// in the trust store), written to `out` as a local build writes one (a new
/// directory swapped in whole). Returns false, writing nothing, when `out`
/// already holds exactly these files. Only a trust store's own file names
/// are accepted.
pub fn publish_fetched(
    out: &Path,
    home: Option<&Path>,
    files: &[(String, Vec<u8>)],
    version: u64,
) -> Result<bool> {
    let target = check_out(home, out)?;
    if let Some((bad, _)) = files.iter().find(|(rel, _)| !own_file(rel)) {
        return Err(OpsError::TrustStoreBuild(
            format!("'{}' is not a file of a trust store", bad.escape_default()).into(),
        ));
    }
    let dir = target.dir();
    let same = dir.is_dir()
        && files
            .iter()
            .all(|(rel, data)| std::fs::read(dir.join(rel)).is_ok_and(|d| d == *data))
        && check_out_contents(dir).is_ok()
        && count_own_files(dir) == files.len();
    if same {
        return Ok(false);
    }
    write_and_swap(&target, version, files, &|| {})?;
    Ok(true)
}

/// How many of a trust store's own files `dir` holds.
fn count_own_files(dir: &Path) -> usize {
    let top = [CA_PEM, CRL_PEM, TRUSTSTORE_P12, POLICY_JSON, POLICY_P7S]
        .iter()
        .filter(|f| dir.join(f).is_file())
        .count();
    let profiles = std::fs::read_dir(dir.join(PROFILES_DIR))
        .map(|r| r.flatten().count())
        .unwrap_or(0);
    top + profiles
}

/// What the policy says of an auth key: Key ID -> its team, environment,
/// scope, App IDs, public key (base64 of the DER SPKI) and revocation.
fn key_policy(k: &crate::store::KeyRecord) -> (String, KeyPolicy) {
    use base64::Engine;
    (
        k.key_id.clone(),
        KeyPolicy {
            team_id: k.team_id.clone(),
            environment: k.environment.clone(),
            scope: k.scope.clone(),
            apps: k.apps.clone(),
            public_key: base64::engine::general_purpose::STANDARD.encode(&k.public_key),
            revoked_at: k.revoked_at.map(rfc3339),
        },
    )
}

/// Writes the files into a new directory beside the current one, then puts
/// it in place in one step: exchanged with `out` (the old version's own
/// files are removed after), or, when `out` is a symlink, the link is
/// swapped to it (`<link>-v<version>` beside the link).
fn write_and_swap(
    out: &OutTarget,
    version: u64,
    files: &[(String, Vec<u8>)],
    tick: &(dyn Fn() + Sync),
) -> Result<()> {
    let place = match out {
        OutTarget::Dir(d) => d.as_path(),
        OutTarget::Link { link, .. } => link.as_path(),
    };
    let parent = match place.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let werr = |p: &Path, e: std::io::Error| fsutil::FsError::write(p, e);
    if !parent.is_dir() {
        std::fs::create_dir_all(&parent).map_err(|e| werr(&parent, e))?;
    }
    let name = place
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trust-store".into());
    let staged = tempfile::Builder::new()
        .prefix(&format!("{}{name}-", fsutil::TEMP_PREFIX))
        .tempdir_in(&parent)
        .map_err(|e| werr(&parent, e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staged.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| werr(staged.path(), e))?;
    }
    let profiles = staged.path().join(PROFILES_DIR);
    std::fs::create_dir(&profiles).map_err(|e| werr(&profiles, e))?;
    let mut batch = fsutil::AtomicBatch::for_many();
    for (rel, data) in files {
        batch.add(&staged.path().join(rel), data, fsutil::MODE_PUBLIC)?;
        tick();
    }
    batch.commit()?;
    match out {
        OutTarget::Dir(dir) => {
            let staged = staged.keep();
            match fsutil::replace_dir(&staged, dir) {
                // `staged` now holds the old version (or nothing).
                Ok(()) => remove_own_files(&staged),
                Err(e) => {
                    remove_own_files(&staged);
                    return Err(e.into());
                }
            }
        }
        OutTarget::Link { link, target } => {
            let new_name = format!("{name}-v{version}");
            let new_dir = parent.join(&new_name);
            if std::fs::symlink_metadata(&new_dir).is_ok() {
                return Err(werr(&new_dir, std::io::ErrorKind::AlreadyExists.into()).into());
            }
            std::fs::rename(staged.path(), &new_dir).map_err(|e| werr(&new_dir, e))?;
            let _ = staged.keep();
            let tmp_link = parent.join(format!(
                "{}{name}-link-{}",
                fsutil::TEMP_PREFIX,
                std::process::id()
            ));
            let _ = std::fs::remove_file(&tmp_link);
            std::os::unix::fs::symlink(&new_name, &tmp_link).map_err(|e| werr(&tmp_link, e))?;
            if let Err(e) = std::fs::rename(&tmp_link, link) {
                let _ = std::fs::remove_file(&tmp_link);
                remove_own_files(&new_dir);
                return Err(werr(link, e).into());
            }
            if let Ok(f) = std::fs::File::open(&parent) {
                let _ = f.sync_all();
            }
            // The version it pointed to goes only if pushca made it there.
            let target_parent = match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let ours = target_parent == parent.as_path()
                && target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(&format!("{name}-v")))
                    .is_some_and(|v| v.parse::<u64>().is_ok());
            if ours {
                remove_own_files(target);
            }
        }
    }
    Ok(())
}

/// `"allow"` or `"deny"`.
fn serialize_decision<S: serde::Serializer>(
    d: &Decision,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(match d {
        Decision::Allow => "allow",
        Decision::Deny(_) => "deny",
    })
}

/// The APNs name of a denial's reason.
fn reason_of(d: &Decision) -> Option<&'static str> {
    match d {
        Decision::Allow => None,
        Decision::Deny(r) => Some(r.name()),
    }
}

/// The outcome of `gateway check` of a push.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckOutcome {
    /// `allow` or `deny`.
    #[serde(serialize_with = "serialize_decision")]
    pub decision: Decision,
    /// The APNs reason of a denial (null when allowed).
    pub reason: Option<&'static str>,
    /// The topic of the push.
    pub topic: String,
    /// The environment of the push.
    pub environment: Environment,
    /// The device token of the push, when one was given.
    pub device: Option<String>,
    /// The provider certificate as the gateway identified it.
    pub certificate: Option<CheckedCert>,
    /// Why identification failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why identification failed, when it did (not in the document).
    #[serde(skip)]
    pub denied: Option<Denied>,
    /// The identity the gateway established (not in the document).
    #[serde(skip)]
    pub identity: Option<Identity>,
}

/// A provider certificate the gateway identified.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckedCert {
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
    /// The App ID it is for.
    pub bundle_id: String,
    /// The topics it may push to.
    pub topics: Vec<String>,
    /// The environments it may push to.
    pub environments: Vec<Environment>,
}

impl CheckedCert {
    fn new(id: &Identity) -> Self {
        CheckedCert {
            sha256: hex::encode(id.fingerprint()),
            bundle_id: id.bundle_id().to_string(),
            topics: id.topics().map(str::to_string).collect(),
            environments: id.environments().collect(),
        }
    }
}

/// The outcome of `gateway check --register`: a device registering for the
/// pushes of an App ID.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegistrationOutcome {
    /// `allow` or `deny`.
    #[serde(serialize_with = "serialize_decision")]
    pub decision: Decision,
    /// The APNs reason of a denial (null when allowed).
    pub reason: Option<&'static str>,
    /// Always true: this is a registration.
    pub registration: bool,
    /// The App ID registered for.
    pub bundle_id: String,
    /// The environment registered for.
    pub environment: Environment,
    /// The device (UDID).
    pub device: String,
}

/// Loads and verifies a trust store, then decides whether the device `udid`
/// may register for the pushes of `bundle_id` in `env`.
pub fn check_registration(
    trust_store: &Path,
    anchor: &Anchor,
    options: LoadOptions,
    bundle_id: &str,
    env: Environment,
    udid: &str,
) -> Result<RegistrationOutcome> {
    let gw = load(trust_store, anchor, options).map_err(OpsError::TrustStore)?;
    let decision = gw.authorize_registration(bundle_id, env, udid);
    Ok(RegistrationOutcome {
        reason: reason_of(&decision),
        decision,
        registration: true,
        bundle_id: bundle_id.to_string(),
        environment: env,
        device: udid.to_string(),
    })
}

/// Loads and verifies a trust store, then runs the enforcement for one push
/// of the certificate (chain) in `cert` (a certificate, a chain or a
/// `ck.pem`: only its certificates are read; a file or bytes already read).
pub fn check(
    trust_store: &Path,
    anchor: &Anchor,
    options: LoadOptions,
    cert: &fsutil::Source,
    topic: &str,
    env: Environment,
    device: Option<&str>,
) -> Result<CheckOutcome> {
    let gw = load(trust_store, anchor, options).map_err(OpsError::TrustStore)?;
    let bytes = cert.read()?;
    let chain =
        crate::certfile::read_certificates(&bytes).map_err(|source| OpsError::CertFile {
            path: cert.name().to_path_buf(),
            source,
        })?;
    let (decision, denied, identity) = match gw.identify(&chain) {
        Err(d) => (Decision::Deny(d.reason), Some(d), None),
        Ok(id) => (gw.authorize(&id, topic, env, device), None, Some(id)),
    };
    Ok(CheckOutcome {
        reason: reason_of(&decision),
        decision,
        topic: topic.to_string(),
        environment: env,
        device: device.map(str::to_string),
        certificate: identity.as_ref().map(CheckedCert::new),
        detail: denied.as_ref().map(|d| d.detail.clone()),
        denied,
        identity,
    })
}

/// The outcome of `gateway check --token`: a push of a provider that
/// authenticates with a JWT signed by an auth key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenCheckOutcome {
    /// `allow` or `deny`.
    #[serde(serialize_with = "serialize_decision")]
    pub decision: Decision,
    /// The APNs reason of a denial (null when allowed).
    pub reason: Option<&'static str>,
    /// The topic of the push.
    pub topic: String,
    /// The environment of the push.
    pub environment: Environment,
    /// The device token of the push, when one was given.
    pub device: Option<String>,
    /// The token as the gateway verified it (null when it did not verify).
    pub token: Option<CheckedToken>,
    /// Why the token did not verify, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why the token did not verify (not in the document).
    #[serde(skip)]
    pub denied: Option<Denied>,
}

/// A provider token the gateway verified (never the token itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckedToken {
    /// The Key ID of the auth key that signed it (`kid`).
    pub key_id: String,
    /// The key's team (`iss`).
    pub team_id: String,
    /// The one environment the key signs for.
    pub environment: Environment,
    /// Its `iat` (unix seconds); it expires an hour later.
    pub issued_at: i64,
}

/// The JWT in what was read from a token file or standard input: the
/// surrounding whitespace trimmed, an optional `bearer ` prefix (any case,
/// as in an `authorization` header) removed.
pub fn token_of(input: &[u8]) -> &[u8] {
    let t = input.trim_ascii();
    match t.get(..7) {
        Some(p) if p.eq_ignore_ascii_case(b"bearer ") => t[7..].trim_ascii(),
        _ => t,
    }
}

/// Loads and verifies a trust store, then runs the enforcement for one push
/// of a provider token (`token`: a file or bytes already read, holding the
/// compact JWT, see [`token_of`]): [`Gateway::verify_token`] then
/// [`Gateway::authorize_with_token`], the two steps of
/// [`Gateway::authorize_token`].
pub fn check_token(
    trust_store: &Path,
    anchor: &Anchor,
    options: LoadOptions,
    token: &fsutil::Source,
    topic: &str,
    env: Environment,
    device: Option<&str>,
) -> Result<TokenCheckOutcome> {
    let gw = load(trust_store, anchor, options).map_err(OpsError::TrustStore)?;
    let bytes = token.read_secret()?;
    let jwt = token_of(&bytes);
    if jwt.is_empty() {
        return Err(fsutil::FsError::read(
            token.name(),
            fsutil::refusal(
                std::io::ErrorKind::InvalidData,
                "no token in it (only whitespace)",
            ),
        )
        .into());
    }
    let (decision, denied, checked) = match gw.verify_token(jwt) {
        Err(d) => (Decision::Deny(d.reason), Some(d), None),
        Ok(t) => (
            gw.authorize_with_token(&t, topic, env, device),
            None,
            Some(CheckedToken {
                key_id: t.key_id().to_string(),
                team_id: t.team_id().to_string(),
                environment: t.environment(),
                issued_at: t.issued_at(),
            }),
        ),
    };
    Ok(TokenCheckOutcome {
        reason: reason_of(&decision),
        decision,
        topic: topic.to_string(),
        environment: env,
        device: device.map(str::to_string),
        token: checked,
        detail: denied.as_ref().map(|d| d.detail.clone()),
        denied,
    })
}

/// Loads and verifies a trust store against `anchor` (for `gateway check`
/// of a registration).
pub fn load(
    trust_store: &Path,
    anchor: &Anchor,
    options: LoadOptions,
) -> Result<Gateway, GatewayError> {
    Gateway::load_with(trust_store, anchor.clone(), options)
}

/// The anchor of `gateway check`: the input given (a file or bytes already
/// read), else the home's root.
pub fn check_anchor(input: Option<&fsutil::Source>, home: Option<&Home>) -> Result<Anchor> {
    match (input, home) {
        (Some(f), _) => Anchor::from_source(f).map_err(OpsError::TrustStore),
        (None, Some(h)) if h.is_initialized() => home_anchor(h),
        _ => Err(OpsError::NoAnchor),
    }
}
