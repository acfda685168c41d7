//! `init`: a new home with its CA hierarchy, store and default team.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::{OpsError, Result};
use crate::ca::authority::{self, CaFiles};
use crate::ca::normalize_country;
use crate::fsutil;
use crate::home::Home;
use crate::keys::KeyType;
use crate::portal;
use crate::secret::{self, Secret};
use crate::store::{Store, TeamRecord};
use crate::x509::sha256_hex;

pub(crate) const SETTING_COUNTRY: &str = "country";
pub(crate) const SETTING_KEY_TYPE: &str = "key_type";
pub(crate) const SETTING_CREATED_AT: &str = "created_at";

/// What a new home is made with.
pub struct InitRequest<'a> {
    /// Name of the default team (also in the CA subjects).
    pub team_name: &'a str,
    /// Its 10-character Team ID; generated when `None`.
    pub team_id: Option<&'a str>,
    /// Two-letter country code for the CA subjects.
    pub country: &'a str,
    /// Key type of the three CA keys.
    pub key_type: KeyType,
}

/// What [`init_home`] made; [`init`] returns it as its document.
pub struct InitOutcome {
    /// The default team, as recorded.
    pub team: TeamRecord,
    pub(crate) root_sha256: String,
    pub(crate) issuing_sha256: String,
    pub(crate) signer_sha256: String,
    pub(crate) files: CaFiles,
}

/// `init`: the home made, its default team and CA certificates.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Initialised {
    /// The home directory.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub home: PathBuf,
    /// The default team.
    pub team: super::view::Team,
    /// Of the CA keys, `--key-type` vocabulary.
    pub key_type: &'static str,
    /// The root CA certificate.
    pub root_ca: CaCertFile,
    /// The issuing CA certificate (signs push certificates).
    pub issuing_ca: CaCertFile,
    /// The profile-signer certificate (signs profiles).
    pub profile_signer: CaCertFile,
    /// The chain file (issuing CA, root CA).
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub chain: PathBuf,
}

/// A CA certificate of the home: its file and fingerprint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaCertFile {
    /// The certificate file (PEM).
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub path: PathBuf,
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
}

impl Initialised {
    /// The document of an `init` of `home`.
    pub(crate) fn new(home: &Home, out: &InitOutcome, key_type: KeyType) -> Self {
        let f = &out.files;
        let ca = |name: &str, sha256: &str| CaCertFile {
            path: f.cert(name),
            sha256: sha256.to_string(),
        };
        Initialised {
            home: PathBuf::from(home.store_display()),
            team: super::view::Team::from(&out.team),
            key_type: key_type.name(),
            root_ca: ca(authority::ROOT, &out.root_sha256),
            issuing_ca: ca(authority::ISSUING, &out.issuing_sha256),
            profile_signer: ca(authority::PROFILE_SIGNER, &out.signer_sha256),
            chain: f.chain(),
        }
    }
}

/// `init`: [`init_home`], as its document.
pub fn init(
    home: &Home,
    req: &InitRequest<'_>,
    pass: &Secret,
    now: OffsetDateTime,
) -> Result<Initialised> {
    let out = init_home(home, req, pass, now)?;
    Ok(Initialised::new(home, &out, req.key_type))
}

/// Where a home already holds CA material (the store, keys or certificates),
/// if it does.
pub fn existing_ca_material(home: &Home) -> Option<PathBuf> {
    if home.store_url().is_some() {
        let mut st = super::open_store(home).ok()?;
        let held = st.read(|tx| tx.ca_material()).ok()?;
        return (!held.is_empty()).then(|| PathBuf::from("a CA"));
    }
    if home.db_path().exists() {
        return Some(home.db_path());
    }
    let ca = home.ca_dir();
    let entries = std::fs::read_dir(&ca).ok()?;
    entries.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
        p.extension()
            .is_some_and(|x| x == "key" || x == "pem" || x == "crl")
    })
}

/// Creates a new home: CA hierarchy, store, default team. Refuses a directory
/// that already holds CA material (with or without a store); safe against a
/// concurrent `init` on the same directory. The passphrase must satisfy
/// [`secret::check_ca_passphrase`].
pub fn init_home(
    home: &Home,
    req: &InitRequest<'_>,
    pass: &Secret,
    now: OffsetDateTime,
) -> Result<InitOutcome> {
    secret::check_ca_passphrase(pass)?;
    let country = normalize_country(req.country)?;
    portal::validate_team_name(req.team_name)?;
    let team_id = match req.team_id {
        Some(id) => {
            portal::validate_team_id(id)?;
            id.to_string()
        }
        None => portal::generate_team_id(),
    };
    if home.store_url().is_some() {
        return init_store(home, req, pass, now, &country, &team_id);
    }
    let refuse = |found: PathBuf| OpsError::AlreadyInitialized {
        home: home.root().to_path_buf(),
        found,
    };
    if let Some(found) = existing_ca_material(home) {
        return Err(refuse(found));
    }
    home.create_private()?;
    let lock_path = home.root().join(".init.lock");
    let lock = fsutil::open_lock_file(&lock_path)?;
    if !fs4::fs_std::FileExt::try_lock_exclusive(&lock).unwrap_or(false) {
        return Err(OpsError::InitRunning(home.root().to_path_buf()));
    }
    if let Some(found) = existing_ca_material(home) {
        return Err(refuse(found));
    }

    let templates_dir = home.templates();
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
    let files = home.ca_files();
    let result = (|| -> Result<TeamRecord> {
        let mut st = Store::create(&tmp_db)?;
        let team = st.write(|tx| -> Result<TeamRecord> {
            tx.set_setting(SETTING_COUNTRY, &country)?;
            tx.set_setting(SETTING_KEY_TYPE, req.key_type.name())?;
            tx.set_setting(SETTING_CREATED_AT, &now.unix_timestamp().to_string())?;
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
        authority::write_hierarchy(&files, &h, pass)?;
        std::fs::hard_link(&tmp_db, home.db_path())
            .map_err(|e| crate::fsutil::FsError::write(home.db_path(), e))?;
        Ok(team)
    })();
    remove_db_files(&tmp_db);
    let team = result?;
    drop(lock);
    let _ = std::fs::remove_file(&lock_path);
    Ok(InitOutcome {
        team,
        root_sha256: sha256_hex(&h.root.der),
        issuing_sha256: sha256_hex(&h.issuing.der),
        signer_sha256: sha256_hex(&h.profile_signer.der),
        files,
    })
}

/// `init` on a database: the hierarchy (built-in templates), the settings,
/// the default team and the CA material in one transaction, under the
/// store's init lock; refuses a database that already holds a CA or a team.
fn init_store(
    home: &Home,
    req: &InitRequest<'_>,
    pass: &Secret,
    now: OffsetDateTime,
    country: &str,
    team_id: &str,
) -> Result<InitOutcome> {
    let h = authority::create_hierarchy(&authority::InitParams {
        team_name: req.team_name.trim(),
        team_id,
        country,
        key_type: req.key_type,
        now,
        templates_dir: None,
    })?;
    let material = authority::hierarchy_records(&h, pass)?;
    let mut st = super::open_store(home)?;
    let team = st.write(|tx| -> Result<TeamRecord> {
        tx.lock(crate::store::StoreLock::Init)?;
        let found = if !tx.ca_material()?.is_empty() {
            Some("a CA")
        } else if !tx.list_teams()?.is_empty() {
            Some("teams")
        } else {
            None
        };
        if let Some(found) = found {
            return Err(OpsError::AlreadyInitialized {
                home: PathBuf::from(home.store_display()),
                found: PathBuf::from(found),
            });
        }
        tx.set_setting(SETTING_COUNTRY, country)?;
        tx.set_setting(SETTING_KEY_TYPE, req.key_type.name())?;
        tx.set_setting(SETTING_CREATED_AT, &now.unix_timestamp().to_string())?;
        for m in &material {
            tx.insert_ca_material(m)?;
        }
        Ok(portal::create_team(
            tx,
            req.team_name,
            Some(team_id),
            true,
            now.unix_timestamp(),
        )?)
    })?;
    Ok(InitOutcome {
        team,
        root_sha256: sha256_hex(&h.root.der),
        issuing_sha256: sha256_hex(&h.issuing.der),
        signer_sha256: sha256_hex(&h.profile_signer.der),
        files: home.ca_files(),
    })
}

fn remove_db_files(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(Path::new(&p));
    }
}
