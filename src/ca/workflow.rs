//! The operations behind `init` and `cert issue`, shared by the CLI and the
//! wizard: they combine the store, the portal rules and the CA.

use std::path::Path;

use time::OffsetDateTime;

use super::authority::{self, CaFiles};
use super::templates;
use super::{
    normalize_country, CaError, CheckedCsr, IssuedCertificate, IssuingCa, PushEnvironment,
    PushSubject,
};
use crate::fsutil;
use crate::home::Home;
use crate::keys::KeyType;
use crate::portal::{self, PortalError};
use crate::secret::Secret;
use crate::store::{self, AppRecord, CertRecord, Store, StoreError, TeamRecord};

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("{0} is already a pushca home (pushca.db exists); refusing to overwrite it")]
    AlreadyInitialized(String),
    #[error("another `pushca init` is running on {0}")]
    InitRunning(String),
    #[error("App ID {0} is disabled")]
    AppDisabled(String),
    #[error("App ID {0} does not have the push capability (create it with --push)")]
    NoPush(String),
    #[error("App ID {0} is a wildcard; push certificates need an explicit App ID")]
    Wildcard(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Portal(#[from] PortalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<fsutil::FsError> for WorkflowError {
    fn from(e: fsutil::FsError) -> Self {
        WorkflowError::Io(e.to_string())
    }
}

pub const SETTING_COUNTRY: &str = "country";
pub const SETTING_KEY_TYPE: &str = "key_type";
pub const SETTING_CREATED_AT: &str = "created_at";

pub struct InitRequest<'a> {
    pub team_name: &'a str,
    pub team_id: Option<&'a str>,
    pub country: &'a str,
    pub key_type: KeyType,
}

pub struct InitOutcome {
    pub team: TeamRecord,
    pub root_sha256: String,
    pub issuing_sha256: String,
    pub signer_sha256: String,
}

/// Creates a new home: CA hierarchy, store, default team. Refuses an existing
/// home; safe against a concurrent `init` on the same directory.
pub fn init_home(
    home: &Home,
    req: &InitRequest<'_>,
    pass: &Secret,
    now: OffsetDateTime,
) -> Result<InitOutcome, WorkflowError> {
    let country = normalize_country(req.country)?;
    portal::validate_team_name(req.team_name)?;
    let team_id = match req.team_id {
        Some(id) => {
            portal::validate_team_id(id)?;
            id.to_string()
        }
        None => portal::generate_team_id(),
    };
    if home.is_initialized() {
        return Err(WorkflowError::AlreadyInitialized(
            home.root().display().to_string(),
        ));
    }
    fsutil::create_private_dir(home.root())?;
    let lock_path = home.root().join(".init.lock");
    let lock = fsutil::open_lock_file(&lock_path)?;
    if !fs4::fs_std::FileExt::try_lock_exclusive(&lock).unwrap_or(false) {
        return Err(WorkflowError::InitRunning(
            home.root().display().to_string(),
        ));
    }
    if home.is_initialized() {
        return Err(WorkflowError::AlreadyInitialized(
            home.root().display().to_string(),
        ));
    }

    let templates_dir = home.templates_dir();
    let h = authority::create_hierarchy(&authority::InitParams {
        team_name: req.team_name.trim(),
        team_id: &team_id,
        country: &country,
        key_type: req.key_type,
        now,
        templates_dir: Some(&templates_dir),
    })?;

    // Build the store under a temporary name; it becomes pushca.db last, so a
    // home is either fully initialised or not at all.
    let tmp_db = home.root().join(".pushca.db.init");
    remove_db_files(&tmp_db);
    let result = (|| -> Result<TeamRecord, WorkflowError> {
        let mut st = Store::create(&tmp_db)?;
        let team = st.write(|tx| -> Result<TeamRecord, WorkflowError> {
            store::set_setting(tx, SETTING_COUNTRY, &country)?;
            store::set_setting(tx, SETTING_KEY_TYPE, req.key_type.name())?;
            store::set_setting(tx, SETTING_CREATED_AT, &now.unix_timestamp().to_string())?;
            Ok(portal::create_team(
                tx,
                req.team_name,
                Some(&team_id),
                true,
                now.unix_timestamp(),
            )?)
        })?;
        st.finish_for_rename()?;
        drop(st);
        authority::write_hierarchy(&CaFiles::new(home.ca_dir()), &h, pass)?;
        std::fs::hard_link(&tmp_db, home.db_path()).map_err(|e| {
            WorkflowError::Io(format!("cannot create {}: {e}", home.db_path().display()))
        })?;
        Ok(team)
    })();
    remove_db_files(&tmp_db);
    let team = result?;
    drop(lock);
    let _ = std::fs::remove_file(&lock_path);
    Ok(InitOutcome {
        team,
        root_sha256: super::sha256_hex(&h.root.der),
        issuing_sha256: super::sha256_hex(&h.issuing.der),
        signer_sha256: super::sha256_hex(&h.profile_signer.der),
    })
}

fn remove_db_files(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(Path::new(&p));
    }
}

/// Opens the store of an initialised home.
pub fn open_store(home: &Home) -> Result<Store, WorkflowError> {
    Ok(Store::open(&home.db_path())?)
}

/// Checks that an App ID may get push certificates.
pub fn check_push_app(app: &AppRecord) -> Result<(), WorkflowError> {
    if portal::is_wildcard(&app.bundle_id) {
        return Err(WorkflowError::Wildcard(app.bundle_id.clone()));
    }
    if !app.enabled {
        return Err(WorkflowError::AppDisabled(app.bundle_id.clone()));
    }
    if !app.push {
        return Err(WorkflowError::NoPush(app.bundle_id.clone()));
    }
    Ok(())
}

/// What to issue: one push certificate per CSR for one App ID and environment.
pub struct IssueRequest<'a> {
    pub bundle_id: &'a str,
    pub env: PushEnvironment,
    pub csrs: &'a [CheckedCsr],
    pub now: OffsetDateTime,
}

/// Issues one push certificate per CSR for `bundle_id` in one store transaction.
///
/// `stage` runs inside the transaction, after every certificate is signed and
/// recorded but before the commit: it stages the output files, so that a
/// failure to stage leaves the store untouched. Its result is returned.
pub fn issue_push_certificates<T>(
    home: &Home,
    store: &mut Store,
    ca: &IssuingCa,
    req: &IssueRequest<'_>,
    stage: impl FnOnce(&[IssuedCertificate]) -> Result<T, WorkflowError>,
) -> Result<(Vec<IssuedCertificate>, T), WorkflowError> {
    let IssueRequest {
        bundle_id,
        env,
        csrs,
        now,
    } = *req;
    let template = templates::load_push(Some(&home.templates_dir()), env)?;
    store.write(|tx| {
        let app = portal::get_app(tx, bundle_id)?;
        check_push_app(&app)?;
        let team = portal::resolve_team(tx, Some(&app.team_id))?;
        let country = store::get_setting(tx, SETTING_COUNTRY)?.unwrap_or_else(|| "US".into());
        let subject = PushSubject {
            bundle_id: &app.bundle_id,
            team_id: &team.team_id,
            team_name: &team.name,
            country: &country,
        };
        let mut issued = Vec::with_capacity(csrs.len());
        for csr in csrs {
            let cert = ca.issue_push_certificate(&template, &subject, csr, now)?;
            store::insert_certificate(
                tx,
                &CertRecord {
                    serial: cert.serial.clone(),
                    bundle_id: app.bundle_id.clone(),
                    team_id: team.team_id.clone(),
                    environment: env.name().to_string(),
                    subject: cert.subject.clone(),
                    not_before: cert.not_before.unix_timestamp(),
                    not_after: cert.not_after.unix_timestamp(),
                    sha256: cert.sha256.clone(),
                    key_type: csr.algorithm.to_string(),
                    der: cert.der.clone(),
                    issued_at: now.unix_timestamp(),
                    revoked_at: None,
                    revocation_reason: None,
                },
            )?;
            issued.push(cert);
        }
        let staged = stage(&issued)?;
        Ok((issued, staged))
    })
}
