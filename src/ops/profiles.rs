//! Provisioning profiles: create, regenerate, list, show.
//!
//! A profile is planned from the store (App ID, team, devices, certificates),
//! signed by the profile signer and recorded in one transaction; the file is
//! written after the commit, and the store keeps the signed DER.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::certs::check_push_app;
use super::{now, open_store, view, OpsError, OutputRules, Result};
use crate::ca::authority::{read_ca_cert, ISSUING, PROFILE_SIGNER, ROOT};
use crate::ca::{templates, Issuer};
use crate::fsutil::{self, AtomicBatch, Returned, Sink, Source, MODE_PUBLIC};
use crate::home::Home;
use crate::portal::profile::{self, Devices, ProfileContent, VerifiedProfile};
use crate::portal::{self, devices};
use crate::secret::Secret;
use crate::store::{
    AppRecord, CertFilter, CertRecord, ProfileFilter, ProfileRecord, TeamRecord, Tx,
};
use crate::timeutil::{days_left, serialize_rfc3339, serialize_rfc3339_opt};
use crate::x509ext::Environment;

/// Which devices a profile provisions.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChoice {
    /// These UDIDs (registered for the App ID's team and enabled).
    Listed(Vec<String>),
    /// Every enabled device of the App ID's team at signing time (and again at
    /// each regeneration).
    Team,
    /// `ProvisionsAllDevices` (Apple: enterprise distribution only).
    All,
}

impl DeviceChoice {
    fn mode(&self) -> &'static str {
        match self {
            DeviceChoice::Listed(_) => "listed",
            DeviceChoice::Team => "team",
            DeviceChoice::All => "all",
        }
    }
}

/// A profile to create.
#[derive(Debug, Clone)]
pub struct ProfileRequest<'a> {
    /// The App ID to provision (push capability, not a wildcard).
    pub bundle_id: &'a str,
    /// The profile's push environment.
    pub environment: Environment,
    /// The devices it provisions.
    pub devices: DeviceChoice,
    /// Serials of the certificates to authorise; empty: every valid,
    /// unrevoked certificate of the App ID whose environment covers the
    /// profile's.
    pub cert_serials: &'a [String],
    /// Its name (default: from the App ID and environment).
    pub name: Option<&'a str>,
    /// Lifetime in days (default: the `profile` template's).
    pub days: Option<u32>,
    /// Where the profile goes: a file, or the bytes returned in
    /// [`ProfilesOutcome::returned`].
    pub out: Sink,
    /// Replace an existing file.
    pub force: bool,
}

/// Which profiles to regenerate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub enum RegenerateTarget<'a> {
    /// The current profile of this UUID.
    Uuid(&'a str),
    /// Every current profile of this App ID (bundle ID).
    App(&'a str),
    /// Every current profile.
    All,
}

/// One profile to sign.
#[derive(Debug, Clone)]
struct Job {
    bundle_id: String,
    environment: Environment,
    devices: DeviceChoice,
    /// Explicit serials (`None`: the default selection).
    serials: Option<Vec<String>>,
    name: Option<String>,
    days: Option<u32>,
    /// Strict: an unusable listed device or certificate is an error (create);
    /// otherwise it is dropped with a warning (regenerate).
    strict: bool,
    /// The profile this one supersedes.
    replaces: Option<String>,
    /// One of several being regenerated: when it cannot be (see
    /// [`cannot_regenerate`]) it is skipped with a warning, not an error.
    skippable: bool,
    uuid: String,
    out: Sink,
}

/// Profiles whose inputs checked out; [`PreparedProfiles::sign`] signs them.
pub struct PreparedProfiles<'h> {
    home: &'h Home,
    jobs: Vec<Job>,
    force: bool,
    warnings: Vec<String>,
    skipped: Vec<Skipped>,
}

/// A profile that `profile regenerate` of several left as it was, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    /// The profile.
    pub uuid: String,
    /// Its App ID.
    pub bundle_id: String,
    /// Its environment.
    pub environment: Environment,
    /// Why it could not be re-signed.
    pub reason: String,
}

/// A signed and recorded profile and where it was written: README's
/// PROFILE + `"out"`, `"supersedes"`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Signed {
    /// The profile as users see it (as of its signing).
    #[serde(flatten)]
    pub profile: view::Profile,
    /// Where it was written (`-`: returned, see [`ProfilesOutcome::returned`]).
    #[serde(rename = "out")]
    pub path: Sink,
    /// The profile it superseded.
    #[serde(rename = "supersedes")]
    pub replaces: Option<String>,
    /// The store's record, with the signed DER.
    #[serde(skip)]
    pub record: ProfileRecord,
}

/// `profile regenerate` (and, with one profile, `profile create`).
#[derive(Debug, serde::Serialize)]
pub struct ProfilesOutcome {
    /// The profiles signed, each superseding the one it regenerates.
    pub profiles: Vec<Signed>,
    /// One line each (a device or certificate dropped, a profile skipped),
    /// for the user; not in the document.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// Profiles a regeneration of several could not re-sign (still current).
    pub skipped: Vec<Skipped>,
    /// The bytes of the profile written to [`Sink::Return`], if one was.
    #[serde(skip)]
    pub returned: Option<Returned>,
}

/// `profile create`: the one profile signed.
#[derive(Debug, serde::Serialize)]
pub struct Created {
    /// The profile.
    pub profile: Signed,
    /// One line each, for the user; not in the document.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The profile's bytes when it went to [`Sink::Return`].
    #[serde(skip)]
    pub returned: Option<Returned>,
}

impl ProfilesOutcome {
    /// The outcome of a [`prepare_create`]: its one profile (`None` if
    /// nothing was signed).
    pub fn into_created(self) -> Option<Created> {
        let profile = self.profiles.into_iter().next()?;
        Some(Created {
            profile,
            warnings: self.warnings,
            returned: self.returned,
        })
    }
}

/// Whether `e` says the profile cannot be re-signed at all with the store
/// as it is (no device or certificate left, App ID disabled or without
/// push), as opposed to a failure of the run.
fn cannot_regenerate(e: &OpsError) -> bool {
    matches!(
        e,
        OpsError::NoDevices { .. }
            | OpsError::NoCertificates { .. }
            | OpsError::AppDisabled(_)
            | OpsError::NoPush(_)
            | OpsError::Wildcard(_)
    )
}

/// How a regeneration treats a job that cannot be planned: skipped (with
/// the reason) when it is one of several, else the error says which profile.
fn regenerate_failure(job: &Job, e: OpsError) -> Result<Skipped> {
    match &job.replaces {
        Some(old) if cannot_regenerate(&e) => {
            if job.skippable {
                Ok(Skipped {
                    uuid: old.clone(),
                    bundle_id: job.bundle_id.clone(),
                    environment: job.environment,
                    reason: e.to_string(),
                })
            } else {
                Err(OpsError::CannotRegenerate {
                    uuid: old.clone(),
                    source: Box::new(e),
                })
            }
        }
        _ => Err(e),
    }
}

fn skipped_warning(s: &Skipped) -> String {
    format!(
        "profile {} not regenerated: {}; it stays current until `pushca profile withdraw {}`",
        s.uuid, s.reason, s.uuid
    )
}

/// What a job resolves to in the store.
struct Plan {
    app: AppRecord,
    team: TeamRecord,
    devices: Vec<String>,
    all_devices: bool,
    certs: Vec<CertRecord>,
    warnings: Vec<String>,
}

fn covers(cert_env: &str, env: Environment) -> bool {
    cert_env == "universal" || cert_env == env.name()
}

/// Why a certificate cannot be authorised by a profile, if it cannot.
fn unusable(c: &CertRecord, app: &AppRecord, env: Environment, now: i64) -> Option<String> {
    if c.kind != CertRecord::PUSH {
        Some(format!(
            "it is a {} certificate, not a push certificate",
            c.kind
        ))
    } else if !c.bundle_id.eq_ignore_ascii_case(&app.bundle_id) {
        Some(format!("it is for App ID {}", c.bundle_id))
    } else if !covers(&c.environment, env) {
        Some(format!(
            "it is a {} certificate, not for {}",
            c.environment,
            env.name()
        ))
    } else if c.revoked_at.is_some() {
        Some("it is revoked".into())
    } else if c.not_after <= now {
        Some("it has expired".into())
    } else if c.not_before > now {
        Some("it is not valid yet".into())
    } else {
        None
    }
}

fn plan(tx: &Tx<'_>, job: &Job, now: i64) -> Result<Plan> {
    let app = portal::get_app(tx, &job.bundle_id)?;
    check_push_app(&app)?;
    let team = portal::resolve_team(tx, Some(&app.team_id))?;
    let mut warnings = Vec::new();
    let (devices, all_devices) = match &job.devices {
        DeviceChoice::All => (Vec::new(), true),
        DeviceChoice::Team => (
            tx.list_devices(Some(&team.team_id), true)?
                .into_iter()
                .map(|d| d.udid)
                .collect(),
            false,
        ),
        DeviceChoice::Listed(udids) => {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for u in udids {
                let udid = devices::normalize_udid(u)?;
                if !seen.insert(udid.clone()) {
                    continue;
                }
                let reason = match tx.device(&team.team_id, &udid)? {
                    Some(d) if d.enabled => None,
                    Some(_) => Some("it is disabled"),
                    None => Some("it is not registered for the App ID's team"),
                };
                match reason {
                    None => out.push(udid),
                    Some(r) if job.strict => {
                        return Err(OpsError::DeviceNotUsable {
                            udid,
                            team_id: team.team_id.clone(),
                            reason: r,
                        })
                    }
                    Some(r) => warnings.push(format!("device {udid} dropped: {r}")),
                }
            }
            out.sort();
            (out, false)
        }
    };
    if !all_devices && devices.is_empty() {
        return Err(OpsError::NoDevices {
            bundle_id: app.bundle_id.clone(),
            team_id: team.team_id.clone(),
            environment: job.environment,
        });
    }
    if all_devices && job.environment == Environment::Development {
        warnings.push(
            "ProvisionsAllDevices on a development profile: Apple allows it only for enterprise \
             distribution, and the gateway requires development devices to be listed"
                .into(),
        );
    }
    let certs = match &job.serials {
        None => {
            let mut all = tx.list_certificates(&CertFilter {
                bundle_id: Some(&app.bundle_id),
                ..Default::default()
            })?;
            all.retain(|c| unusable(c, &app, job.environment, now).is_none());
            all.sort_by(|a, b| a.serial.cmp(&b.serial));
            all
        }
        Some(serials) => {
            let mut out: Vec<CertRecord> = Vec::new();
            for s in serials {
                let c = tx
                    .find_certificate(s)?
                    .ok_or_else(|| OpsError::UnknownSerial(s.clone()))?;
                if out.iter().any(|o| o.serial == c.serial) {
                    continue;
                }
                match unusable(&c, &app, job.environment, now) {
                    None => out.push(c),
                    Some(reason) if job.strict => {
                        return Err(OpsError::CertNotUsable {
                            serial: c.serial,
                            reason,
                        })
                    }
                    Some(reason) => {
                        warnings.push(format!("certificate {} dropped: {reason}", c.serial))
                    }
                }
            }
            out.sort_by(|a, b| a.serial.cmp(&b.serial));
            out
        }
    };
    // A profile without push certificates is for token-based providers: only
    // when an auth key (not revoked) of the team covers the App ID in the
    // environment, and no certificates were asked for by serial.
    if certs.is_empty() && !(job.serials.is_none() && auth_key_covers(tx, &app, job.environment)?) {
        return Err(OpsError::NoCertificates {
            bundle_id: app.bundle_id.clone(),
            environment: job.environment,
        });
    }
    Ok(Plan {
        app,
        team,
        devices,
        all_devices,
        certs,
        warnings,
    })
}

/// Whether an auth key of the App ID's team, not revoked, signs tokens for
/// `env` and covers the App ID (team-scoped, or topic-specific listing it).
fn auth_key_covers(tx: &Tx<'_>, app: &AppRecord, env: Environment) -> Result<bool> {
    Ok(tx.list_keys(Some(&app.team_id))?.iter().any(|k| {
        k.revoked_at.is_none()
            && k.environment == env.name()
            && (k.scope == crate::store::KeyRecord::TEAM || k.apps.contains(&app.bundle_id))
    }))
}

fn default_name(app: &AppRecord, env: Environment) -> String {
    let env = match env {
        Environment::Development => "Development",
        Environment::Production => "Production",
    };
    format!("{} {env} Push", app.name)
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(OpsError::InvalidProfileName(name.to_string()));
    }
    Ok(())
}

/// Checks everything a new profile needs (App ID, devices, certificates,
/// output) before the CA passphrase is asked for.
pub fn prepare_create<'h>(
    home: &'h Home,
    req: &ProfileRequest<'_>,
) -> Result<PreparedProfiles<'h>> {
    if let Some(n) = req.name {
        check_name(n)?;
    }
    if let Some(d) = req.days {
        if !(1..=3650).contains(&d) {
            return Err(OpsError::InvalidProfileDays(d));
        }
    }
    let rules = OutputRules {
        force: req.force,
        home: Some(home.root()),
    };
    fsutil::check_sink(&req.out, &rules)?;
    let job = Job {
        bundle_id: req.bundle_id.to_string(),
        environment: req.environment,
        devices: req.devices.clone(),
        serials: (!req.cert_serials.is_empty()).then(|| req.cert_serials.to_vec()),
        name: req.name.map(|n| n.trim().to_string()),
        days: req.days,
        strict: true,
        replaces: None,
        skippable: false,
        uuid: profile::new_uuid(),
        out: req.out.clone(),
    };
    prepare(home, vec![job], req.force)
}

fn prepare(home: &Home, jobs: Vec<Job>, force: bool) -> Result<PreparedProfiles<'_>> {
    // A broken template is reported before the passphrase is asked for.
    templates::load_profile(Some(&home.templates()))?;
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    let (warnings, skipped, jobs) = st.read(|tx| -> Result<_> {
        let mut w = Vec::new();
        let mut skipped = Vec::new();
        let mut keep = Vec::with_capacity(jobs.len());
        for job in jobs {
            match plan(tx, &job, t) {
                Ok(p) => {
                    w.extend(p.warnings);
                    keep.push(job);
                }
                Err(e) => {
                    let s = regenerate_failure(&job, e)?;
                    w.push(skipped_warning(&s));
                    skipped.push(s);
                }
            }
        }
        Ok((w, skipped, keep))
    })?;
    Ok(PreparedProfiles {
        home,
        jobs,
        force,
        warnings,
        skipped,
    })
}

/// Checks what regenerating the chosen current profiles needs; each gets a
/// new UUID and is written to `<out_dir>/<UUID>.mobileprovision`.
pub fn prepare_regenerate<'h>(
    home: &'h Home,
    target: RegenerateTarget<'_>,
    out_dir: &Path,
    force: bool,
) -> Result<PreparedProfiles<'h>> {
    let rules = OutputRules {
        force,
        home: Some(home.root()),
    };
    let mut st = open_store(home)?;
    let records = st.read(|tx| -> Result<Vec<ProfileRecord>> {
        match target {
            RegenerateTarget::Uuid(u) => {
                let p = tx
                    .profile(u)?
                    .ok_or_else(|| OpsError::UnknownProfile(u.to_string()))?;
                if let Some(by) = &p.superseded_by {
                    return Err(OpsError::ProfileSuperseded {
                        uuid: p.uuid.clone(),
                        by: by.clone(),
                    });
                }
                if p.withdrawn_at.is_some() {
                    return Err(OpsError::ProfileWithdrawn(p.uuid.clone()));
                }
                Ok(vec![p])
            }
            RegenerateTarget::App(b) => {
                let app = portal::get_app(tx, b)?;
                Ok(tx.list_profiles(&ProfileFilter {
                    bundle_id: Some(&app.bundle_id),
                    ..Default::default()
                })?)
            }
            RegenerateTarget::All => Ok(tx.list_profiles(&ProfileFilter::default())?),
        }
    })?;
    if records.is_empty() {
        return Err(OpsError::NoProfiles);
    }
    fsutil::create_output_dir(out_dir, &rules)?;
    let skippable = !matches!(target, RegenerateTarget::Uuid(_));
    let mut jobs = Vec::with_capacity(records.len());
    for r in records {
        let uuid = profile::new_uuid();
        let out = out_dir.join(format!("{uuid}.mobileprovision"));
        fsutil::check_output(&out, &rules)?;
        let environment = Environment::from_name(&r.environment).ok_or(OpsError::Store(
            crate::store::StoreError::Corrupt("profile environment"),
        ))?;
        let devices = match r.devices_mode.as_str() {
            "all" => DeviceChoice::All,
            "team" => DeviceChoice::Team,
            _ => DeviceChoice::Listed(r.devices.clone()),
        };
        jobs.push(Job {
            bundle_id: r.bundle_id.clone(),
            environment,
            devices,
            serials: (r.certs_mode == "listed").then(|| r.cert_serials.clone()),
            name: Some(r.name.clone()),
            days: r.lifetime_days.and_then(|d| u32::try_from(d).ok()),
            strict: false,
            replaces: Some(r.uuid.clone()),
            skippable,
            uuid,
            out: Sink::File(out),
        });
    }
    prepare(home, jobs, force)
}

impl PreparedProfiles<'_> {
    /// Number of profiles to sign.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether there is none to sign.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The outcome when there is nothing to sign (every profile of a
    /// regeneration was skipped): no passphrase is needed.
    pub fn nothing_to_sign(&self) -> Option<ProfilesOutcome> {
        self.jobs.is_empty().then(|| ProfilesOutcome {
            profiles: Vec::new(),
            warnings: self.warnings.clone(),
            skipped: self.skipped.clone(),
            returned: None,
        })
    }

    /// Unlocks the profile signer, signs and records every profile in one
    /// transaction (superseding the ones regenerated), then writes the files.
    pub fn sign(self, pass: &Secret, tick: &mut dyn FnMut()) -> Result<ProfilesOutcome> {
        let home = self.home;
        super::revocation::refuse_revoked_profile_signer(home)?;
        let files = home.ca_files();
        let signer = Issuer::unlock(&files, PROFILE_SIGNER, pass)?;
        let issuing = read_ca_cert(&files, ISSUING)?;
        let template = templates::load_profile(Some(&home.templates()))?;
        let signer_not_after = x509_parser::parse_x509_certificate(signer.cert_der())
            .map(|(_, c)| c.validity().not_after.timestamp())
            .map_err(|e| OpsError::Ca(crate::ca::CaError::NotCertificate(e.into())))?;
        let created = now();
        let t = created.unix_timestamp();
        let mut warnings = self.warnings;
        let mut skipped = self.skipped;
        let (planned_warnings, planned_skipped) = (warnings.len(), skipped.len());
        let mut st = open_store(home)?;
        let signed = st.write(|tx| -> Result<Vec<Signed>> {
            // A transaction run again (PostgreSQL, after a serialization
            // failure) starts from the planned lists; `tick` may count twice.
            warnings.truncate(planned_warnings);
            skipped.truncate(planned_skipped);
            let mut out = Vec::with_capacity(self.jobs.len());
            for job in &self.jobs {
                // Planned again in the transaction: the store may have changed.
                let p = match plan(tx, job, t) {
                    Ok(p) => p,
                    Err(e) => {
                        let s = regenerate_failure(job, e)?;
                        warnings.push(skipped_warning(&s));
                        skipped.push(s);
                        tick();
                        continue;
                    }
                };
                let name = job
                    .name
                    .clone()
                    .unwrap_or_else(|| default_name(&p.app, job.environment));
                let mut expires = template.expires(created, job.days);
                if expires.unix_timestamp() > signer_not_after {
                    expires = time::OffsetDateTime::from_unix_timestamp(signer_not_after)
                        .unwrap_or(expires);
                    warnings.push(format!(
                        "profile {}: expiry shortened to the profile signer's ({})",
                        job.uuid,
                        super::rfc3339(signer_not_after)
                    ));
                }
                let fingerprints: Vec<String> = p.certs.iter().map(|c| c.sha256.clone()).collect();
                let content = ProfileContent {
                    uuid: &job.uuid,
                    name: &name,
                    app_id_name: &p.app.name,
                    team_id: &p.team.team_id,
                    team_name: &p.team.name,
                    bundle_id: &p.app.bundle_id,
                    environment: job.environment,
                    created,
                    expires,
                    devices: if p.all_devices {
                        Devices::All
                    } else {
                        Devices::Listed(&p.devices)
                    },
                    push_certificates: &fingerprints,
                    platform: &template.platform,
                };
                let der = profile::sign(&content, &signer, &[&issuing])
                    .map_err(OpsError::ProfileBuild)?;
                let record = ProfileRecord {
                    uuid: job.uuid.clone(),
                    name,
                    bundle_id: p.app.bundle_id.clone(),
                    team_id: p.team.team_id.clone(),
                    environment: job.environment.name().to_string(),
                    devices_mode: job.devices.mode().to_string(),
                    certs_mode: if job.serials.is_some() {
                        "listed"
                    } else {
                        "default"
                    }
                    .to_string(),
                    lifetime_days: job.days.map(i64::from),
                    created_at: t,
                    expires_at: expires.unix_timestamp(),
                    sha256: crate::x509::sha256_hex(&der),
                    der,
                    superseded_by: None,
                    superseded_at: None,
                    withdrawn_at: None,
                    devices: p.devices,
                    cert_serials: p.certs.iter().map(|c| c.serial.clone()).collect(),
                };
                tx.insert_profile(&record)?;
                if let Some(old) = &job.replaces {
                    if !tx.supersede_profile(old, &record.uuid, t)? {
                        let withdrawn = tx.profile(old)?.is_some_and(|o| o.withdrawn_at.is_some());
                        return Err(if withdrawn {
                            OpsError::ProfileWithdrawn(old.clone())
                        } else {
                            OpsError::ProfileSuperseded {
                                uuid: old.clone(),
                                by: "another run".into(),
                            }
                        });
                    }
                }
                tick();
                out.push(Signed {
                    profile: view::Profile::new(&record, t),
                    record,
                    path: job.out.clone(),
                    replaces: job.replaces.clone(),
                });
            }
            Ok(out)
        })?;
        // Committed: the store holds every profile; now the files.
        let rules = OutputRules {
            force: self.force,
            home: Some(home.root()),
        };
        let mut batch = if signed.len() > 8 {
            AtomicBatch::for_many()
        } else {
            AtomicBatch::new()
        };
        let written = signed
            .iter()
            .try_for_each(|s| batch.add_sink(&s.path, &s.record.der, MODE_PUBLIC, &rules))
            .and_then(|()| batch.commit_returning());
        let returned = match written {
            Ok(r) => r,
            Err(source) => {
                return Err(OpsError::ProfilesNotWritten {
                    uuids: signed.iter().map(|s| s.record.uuid.clone()).collect(),
                    source,
                })
            }
        };
        Ok(ProfilesOutcome {
            profiles: signed,
            warnings,
            skipped,
            returned,
        })
    }
}

/// What `profile withdraw` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Withdrawn {
    /// The profile, as it is now.
    pub profile: view::Profile,
    /// False when it was already withdrawn (nothing changed).
    pub withdrawn: bool,
}

/// Takes a current profile out without a replacement: it is no longer
/// current, so the next trust store leaves it out and nothing regenerates
/// it. Withdrawing it again changes nothing; a superseded profile is refused
/// (its successor is the current one).
pub fn withdraw(home: &Home, uuid: &str) -> Result<Withdrawn> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    st.write(|tx| -> Result<Withdrawn> {
        let p = tx
            .profile(uuid)?
            .ok_or_else(|| OpsError::UnknownProfile(uuid.to_string()))?;
        if p.withdrawn_at.is_some() {
            return Ok(Withdrawn {
                profile: view::Profile::new(&p, t),
                withdrawn: false,
            });
        }
        if let Some(by) = &p.superseded_by {
            return Err(OpsError::WithdrawSuperseded {
                uuid: p.uuid.clone(),
                by: by.clone(),
            });
        }
        tx.withdraw_profile(&p.uuid, t)?;
        let record =
            tx.profile(&p.uuid)?
                .ok_or(OpsError::Store(crate::store::StoreError::Corrupt(
                    "withdrawn profile vanished",
                )))?;
        Ok(Withdrawn {
            profile: view::Profile::new(&record, t),
            withdrawn: true,
        })
    })
}

/// `profile list`: the profiles.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Profiles {
    /// Soonest to expire first.
    pub profiles: Vec<view::Profile>,
}

/// Current profiles (or all, superseded and withdrawn included), optionally of one App ID
/// and/or expiring before `now + within_days`.
pub fn list(
    home: &Home,
    bundle_id: Option<&str>,
    within_days: Option<u32>,
    include_superseded: bool,
) -> Result<Profiles> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    let expiring_before = within_days.map(|d| t + i64::from(d) * crate::timeutil::SECS_PER_DAY);
    let rows = st.read(|tx| -> Result<Vec<ProfileRecord>> {
        let bundle = match bundle_id {
            Some(b) => Some(portal::get_app(tx, b)?.bundle_id),
            None => None,
        };
        Ok(tx.list_profiles(&ProfileFilter {
            bundle_id: bundle.as_deref(),
            environment: None,
            include_superseded,
            expiring_before,
        })?)
    })?;
    Ok(Profiles {
        profiles: rows.iter().map(|r| view::Profile::new(r, t)).collect(),
    })
}

/// `profile export`: the profile written, README's PROFILE + `"out"`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    /// The profile and the file.
    pub profile: ExportedProfile,
    /// The profile's bytes when it went to [`Sink::Return`].
    #[serde(skip)]
    pub returned: Option<Returned>,
}

/// A recorded profile and the file it was written to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedProfile {
    /// The profile (its PROFILE fields, flattened).
    #[serde(flatten)]
    pub profile: view::Profile,
    /// Where it was written (`-`: returned, see [`Exported::returned`]).
    pub out: Sink,
}

/// Writes a recorded profile from the store to `out`: a file under the
/// rules, or its bytes returned in [`Exported::returned`].
pub fn export(home: &Home, uuid: &str, out: &Sink, rules: &OutputRules<'_>) -> Result<Exported> {
    fsutil::check_sink(out, rules)?;
    let mut st = open_store(home)?;
    let rec = st
        .read(|tx| tx.profile(uuid))?
        .ok_or_else(|| OpsError::UnknownProfile(uuid.to_string()))?;
    let returned = fsutil::write_sink(out, &rec.der, MODE_PUBLIC, rules)?;
    Ok(Exported {
        profile: ExportedProfile {
            profile: view::Profile::new(&rec, now().unix_timestamp()),
            out: out.clone(),
        },
        returned,
    })
}

/// An authorised certificate of a shown profile; what the store says of it
/// is null when the home does not know it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShownCert {
    /// SHA-256 of the certificate, lowercase hex (what the profile lists).
    pub sha256: String,
    /// Its serial (lowercase hex), when the store knows it.
    pub serial: Option<String>,
    /// `development`, `production` or `universal`, when the store knows it.
    pub environment: Option<String>,
    /// End of validity (RFC 3339), when the store knows it.
    #[serde(serialize_with = "serialize_rfc3339_opt")]
    pub not_after: Option<i64>,
    /// Whether it is revoked, when the store knows it.
    pub revoked: Option<bool>,
}

impl ShownCert {
    fn new(sha256: String, record: Option<&CertRecord>) -> Self {
        ShownCert {
            sha256,
            serial: record.map(|r| r.serial.clone()),
            environment: record.map(|r| r.environment.clone()),
            not_after: record.map(|r| r.not_after),
            revoked: record.map(|r| r.revoked_at.is_some()),
        }
    }
}

/// The certificate that signed a shown profile.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShownSigner {
    /// Subject DN, one line.
    pub subject: String,
    /// End of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// It (or a CA above it) has expired since it signed.
    pub expired: bool,
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
}

/// `profile show`: a verified profile, what it says and what the home knows
/// of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShownProfile {
    /// Always true: a profile that does not verify is an error.
    pub verified: bool,
    /// Its `ExpirationDate` has passed.
    pub expired: bool,
    /// The certificate that signed it.
    pub signer: ShownSigner,
    /// Where the trust anchors came from.
    pub trust_anchors: PathBuf,
    /// Its `UUID`.
    pub uuid: String,
    /// Its `Name`.
    pub name: Option<String>,
    /// `TEAMID.bundle` from the entitlements.
    pub app_id: Option<String>,
    /// Its `AppIDName`.
    pub app_id_name: Option<String>,
    /// The bundle ID of `app_id`.
    pub bundle_id: Option<String>,
    /// Its `TeamIdentifier`.
    pub team_id: Option<String>,
    /// Its `TeamName`.
    pub team_name: Option<String>,
    /// `aps-environment`
    pub environment: Option<String>,
    /// Its `CreationDate` (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339_opt")]
    pub created_at: Option<i64>,
    /// Its `ExpirationDate` (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub expires_at: i64,
    /// Whole days until `expires_at`, negative once past.
    pub days_left: i64,
    /// Its `ProvisionedDevices` (UDIDs).
    pub devices: Vec<String>,
    /// Its `ProvisionsAllDevices`.
    pub provisions_all_devices: bool,
    /// Its `PushCertificates`, with what the store says of each.
    pub certificates: Vec<ShownCert>,
    /// SHA-256 of each `DeveloperCertificates` entry.
    pub developer_certificates: Vec<String>,
    /// Its `Platform`.
    pub platform: Vec<String>,
    /// SHA-256 of the file.
    pub sha256: String,
    /// The home recorded this very file.
    pub in_store: bool,
    /// The UUID of the profile that replaced it, when the store says so.
    pub superseded_by: Option<String>,
    /// The whole plist as JSON (dates RFC 3339, data base64, key order kept).
    pub plist: serde_json::Value,
    /// The signed property list as it is.
    #[serde(skip)]
    pub plist_value: crate::plist::Value,
}

impl ShownProfile {
    fn new(
        v: VerifiedProfile,
        certificates: Vec<ShownCert>,
        anchors_from: PathBuf,
        record: Option<ProfileRecord>,
        now: i64,
    ) -> Self {
        let i = v.info;
        let expires_at = i.expires.unix_timestamp();
        ShownProfile {
            verified: true,
            expired: v.expired,
            signer: ShownSigner {
                subject: v.signer_subject,
                not_after: v.signer_not_after,
                expired: v.signer_expired,
                sha256: crate::x509::sha256_hex(&v.signer_der),
            },
            trust_anchors: anchors_from,
            uuid: i.uuid,
            name: i.name,
            app_id: i.application_identifier,
            app_id_name: i.app_id_name,
            bundle_id: i.bundle_id,
            team_id: i.team_id,
            team_name: i.team_name,
            environment: i.aps_environment,
            created_at: i.created.map(|c| c.unix_timestamp()),
            expires_at,
            days_left: days_left(expires_at, now),
            devices: i.devices,
            provisions_all_devices: i.provisions_all_devices,
            certificates,
            developer_certificates: i
                .developer_certificates
                .iter()
                .map(|d| crate::x509::sha256_hex(d))
                .collect(),
            platform: i.platform,
            sha256: v.sha256,
            in_store: record.is_some(),
            superseded_by: record.and_then(|r| r.superseded_by),
            plist: crate::plist::to_json(&i.plist),
            plist_value: i.plist,
        }
    }
}

/// Reads and verifies any profile (a file or bytes already read) against
/// `ca_file` (every certificate in it is a trust anchor) or the home's root
/// CA; names the certificates the home knows.
pub fn show(home: Option<&Home>, file: &Source, ca_file: Option<&Source>) -> Result<ShownProfile> {
    let der = file.read()?;
    // The home's newest CRL, when the profile is checked against the home:
    // a revoked profile signer is not trusted.
    let mut crl_der: Option<Vec<u8>> = None;
    let (anchors, anchors_from) = match (ca_file, home) {
        (Some(ca), _) => {
            let bytes = ca.read()?;
            let certs = crate::certfile::read_certificates(&bytes).map_err(|source| {
                OpsError::CertFile {
                    path: ca.name().to_path_buf(),
                    source,
                }
            })?;
            (certs, ca.name().to_path_buf())
        }
        (None, Some(h)) if h.is_initialized() => {
            h.check_private()?;
            let files = h.ca_files();
            let mut st = open_store(h)?;
            crl_der = st
                .read(|tx| tx.latest_crl(super::revocation::CrlIssuer::Issuing.name()))?
                .map(|c| c.der);
            (vec![read_ca_cert(&files, ROOT)?], files.cert(ROOT))
        }
        (None, _) => return Err(OpsError::NoProfileAnchors),
    };
    let crl = match &crl_der {
        Some(d) => Some(webpki::CertRevocationList::from(
            webpki::OwnedCertRevocationList::from_der(d)
                .map_err(|_| OpsError::Store(crate::store::StoreError::Corrupt("stored CRL")))?,
        )),
        None => None,
    };
    let crl_refs: Vec<&webpki::CertRevocationList<'_>> = crl.iter().collect();
    let verified =
        profile::verify(&der, &anchors, &crl_refs, now().unix_timestamp()).map_err(|source| {
            OpsError::Profile {
                path: file.name().to_path_buf(),
                source,
            }
        })?;
    let fingerprints = &verified.info.push_certificates;
    let mut certificates: Vec<ShownCert> = Vec::with_capacity(fingerprints.len());
    let mut record = None;
    match home.filter(|h| h.is_initialized()) {
        Some(h) => {
            let mut st = open_store(h)?;
            st.read(|tx| -> Result<()> {
                for f in fingerprints {
                    let r = tx.certificate_by_sha256(f)?;
                    certificates.push(ShownCert::new(f.clone(), r.as_ref()));
                }
                record = tx
                    .profile(&verified.info.uuid)?
                    .filter(|r| r.sha256 == verified.sha256);
                Ok(())
            })?;
        }
        None => certificates.extend(fingerprints.iter().map(|f| ShownCert::new(f.clone(), None))),
    }
    Ok(ShownProfile::new(
        verified,
        certificates,
        anchors_from,
        record,
        now().unix_timestamp(),
    ))
}
