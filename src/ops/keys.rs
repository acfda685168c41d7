//! APNs auth keys (token-based provider authentication): `key create`,
//! `key list`, `key show`, `key revoke`.
//!
//! A key is a P-256 signing key. Its private half is written once, as
//! `AuthKey_<KEYID>.p8` (unencrypted PKCS#8 PEM, mode 0600, like Apple's),
//! and never stored; the store keeps the public half (DER
//! SubjectPublicKeyInfo), the team, the environment, the scope and the
//! state, and the signed policy of the next trust store carries them.
//!
//! As with certificates, the outputs are checked first, the record is
//! committed, and only then is the file written: a refused output leaves no
//! record. A file that cannot be written after the commit revokes the key
//! (its private half is gone).

use std::path::{Path, PathBuf};

use rand::Rng;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{now, open_store, view, OpsError, OutputRules, Result};
use crate::fsutil::{self, AtomicBatch, FsError, MODE_SECRET};
use crate::home::Home;
use crate::portal;
use crate::store::{KeyRecord, StoreError, Tx};
use crate::x509ext::Environment;

/// At most this many team-scoped keys per team and environment that are
/// not revoked.
pub const MAX_TEAM_KEYS: i64 = 2;
/// At most this many topic-specific keys per team and environment that are
/// not revoked.
pub const MAX_TOPIC_KEYS: i64 = 200;
/// At most this many App IDs per topic-specific key.
pub const MAX_KEY_APPS: usize = 400;
/// Length of a Key ID (`[A-Z0-9]`).
pub const KEY_ID_LEN: usize = 10;
/// Longest key name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// How many fresh Key IDs are tried when one is already taken.
const KEY_ID_ATTEMPTS: u32 = 16;

/// Why an auth-key operation is refused. Not `non_exhaustive`: the CLI
/// decides a hint for every variant without a wildcard arm.
#[derive(Debug, thiserror::Error)]
pub enum AuthKeyError {
    /// The team has [`MAX_TEAM_KEYS`] active team-scoped keys for the
    /// environment.
    #[error("team {team_id} already has {limit} active team-scoped {} keys, the limit per team and environment", environment.name())]
    TeamKeyLimit {
        /// The team.
        team_id: String,
        /// The environment.
        environment: Environment,
        /// The limit.
        limit: i64,
    },
    /// The team has [`MAX_TOPIC_KEYS`] active topic-specific keys for the
    /// environment.
    #[error("team {team_id} already has {limit} active topic-specific {} keys, the limit per team and environment", environment.name())]
    TopicKeyLimit {
        /// The team.
        team_id: String,
        /// The environment.
        environment: Environment,
        /// The limit.
        limit: i64,
    },
    /// More App IDs than [`MAX_KEY_APPS`] for one key.
    #[error("a key covers at most {limit} App IDs, {given} given")]
    TooManyApps {
        /// How many distinct App IDs were given.
        given: usize,
        /// The limit.
        limit: usize,
    },
    /// A wildcard App ID (this bundle ID) for a key.
    #[error("App ID {0} is a wildcard; an auth key covers explicit App IDs only")]
    WildcardApp(String),
    /// The App ID `bundle_id` is of team `app_team`, not the key's.
    #[error("App ID {bundle_id} belongs to team {app_team}, not to the key's team {team_id}")]
    OtherTeamApp {
        /// The App ID.
        bundle_id: String,
        /// Its team.
        app_team: String,
        /// The key's team.
        team_id: String,
    },
    /// The App ID (this bundle ID) is disabled.
    #[error("App ID {0} is disabled; an auth key covers enabled App IDs only")]
    DisabledApp(String),
    /// The App ID (this bundle ID) lacks the push capability.
    #[error(
        "App ID {0} does not have the push capability; an auth key covers App IDs with push only"
    )]
    NoPushApp(String),
    /// A key name that is empty, too long or has control characters.
    #[error("invalid key name '{}': it must be 1-200 characters without control characters", .0.escape_default())]
    InvalidName(String),
    /// No auth key with this Key ID in the store.
    #[error("no auth key {0} in the store")]
    UnknownKey(String),
    /// The key pair could not be generated.
    #[error("cannot generate the auth key: {0}")]
    Generation(String),
    /// Every fresh Key ID tried was taken.
    #[error("no free Key ID after {0} attempts")]
    NoFreeKeyId(u32),
    /// The key `key_id` was recorded, but its file could not be written:
    /// its private half is lost, so the key was revoked (`revoked`: whether
    /// that revocation was recorded).
    #[error("auth key {key_id} was recorded but its file could not be written ({source}); {}", if *revoked { "the key was revoked, since its private key is lost" } else { "revoking it failed too: revoke it" })]
    NotWritten {
        /// The key.
        key_id: String,
        /// Whether it was revoked.
        revoked: bool,
        /// The write failure.
        #[source]
        source: FsError,
    },
}

impl AuthKeyError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            AuthKeyError::TeamKeyLimit { .. }
            | AuthKeyError::TopicKeyLimit { .. }
            | AuthKeyError::TooManyApps { .. }
            | AuthKeyError::WildcardApp(_)
            | AuthKeyError::OtherTeamApp { .. }
            | AuthKeyError::DisabledApp(_)
            | AuthKeyError::NoPushApp(_) => ErrorKind::Policy,
            AuthKeyError::InvalidName(_) => ErrorKind::Input,
            AuthKeyError::UnknownKey(_) => ErrorKind::NotFound,
            AuthKeyError::Generation(_) => ErrorKind::Crypto,
            AuthKeyError::NoFreeKeyId(_) => ErrorKind::Internal,
            AuthKeyError::NotWritten { .. } => ErrorKind::Io,
        }
    }
}

/// What `key create` makes.
#[derive(Debug, Clone)]
pub struct KeyRequest<'a> {
    /// The one environment its tokens are for.
    pub environment: Environment,
    /// The App IDs of a topic-specific key (bundle IDs); empty: team-scoped.
    pub apps: &'a [String],
    /// Its name (default `AuthKey_<KEYID>`).
    pub name: Option<&'a str>,
    /// Its team (`None`: the default team).
    pub team_id: Option<&'a str>,
    /// Where `AuthKey_<KEYID>.p8` goes (created if missing).
    pub out_dir: &'a Path,
    /// Replace a file that exists.
    pub force: bool,
}

/// `key create`: the key as recorded and the file written.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCreated {
    /// The key, with `file` added.
    pub key: CreatedKey,
}

/// KEY + `file`.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    /// The key, as recorded.
    #[serde(flatten)]
    pub view: view::KeyView,
    /// `AuthKey_<KEYID>.p8`: the private key, written once.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub file: PathBuf,
}

/// `key list`: the keys.
#[derive(Debug, Clone, Serialize)]
pub struct KeyList {
    /// By team, creation time and Key ID; revoked ones included.
    pub keys: Vec<view::KeyView>,
}

/// `key show`: one key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyShown {
    /// The key.
    pub key: view::KeyView,
}

/// `key revoke`: the key, and whether this call revoked it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyRevoked {
    /// The key, as it is now.
    pub key: view::KeyView,
    /// False when it already was revoked.
    pub revoked: bool,
}

/// The file name of a key's private half: `AuthKey_<KEYID>.p8`, as Apple's.
pub fn key_file_name(key_id: &str) -> String {
    format!("AuthKey_{key_id}.p8")
}

/// A random Key ID from the OS CSPRNG: 10 characters `[A-Z0-9]`.
fn generate_key_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..KEY_ID_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A Key ID as users type it: trimmed, uppercase.
fn normalize_key_id(key_id: &str) -> String {
    key_id.trim().to_ascii_uppercase()
}

fn check_name(name: &str) -> Result<String, AuthKeyError> {
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AuthKeyError::InvalidName(name.to_string()));
    }
    Ok(trimmed.to_string())
}

/// The App IDs of a topic-specific key, checked in `tx`: each explicit,
/// registered, of `team_id`, enabled, with push. Distinct (case-insensitively),
/// as registered, sorted.
fn check_apps(tx: &Tx<'_>, team_id: &str, apps: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(apps.len());
    let mut seen = std::collections::HashSet::new();
    for b in apps {
        if !seen.insert(b.to_ascii_lowercase()) {
            continue;
        }
        if crate::profile::is_wildcard(b) {
            return Err(AuthKeyError::WildcardApp(b.clone()).into());
        }
        let app = portal::get_app(tx, b)?;
        if app.team_id != team_id {
            return Err(AuthKeyError::OtherTeamApp {
                bundle_id: app.bundle_id,
                app_team: app.team_id,
                team_id: team_id.to_string(),
            }
            .into());
        }
        if !app.enabled {
            return Err(AuthKeyError::DisabledApp(app.bundle_id).into());
        }
        if !app.push {
            return Err(AuthKeyError::NoPushApp(app.bundle_id).into());
        }
        out.push(app.bundle_id);
    }
    out.sort();
    Ok(out)
}

/// Distinct App IDs given (case-insensitively): the limit counts these.
fn distinct_apps(apps: &[String]) -> usize {
    apps.iter()
        .map(|a| a.to_ascii_lowercase())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// The limit of the key's scope, checked in `tx`.
fn check_limits(tx: &Tx<'_>, team_id: &str, env: Environment, scope: &str) -> Result<()> {
    let active = tx.count_active_keys(team_id, env.name(), scope)?;
    let (limit, err) = if scope == KeyRecord::TEAM {
        (
            MAX_TEAM_KEYS,
            AuthKeyError::TeamKeyLimit {
                team_id: team_id.to_string(),
                environment: env,
                limit: MAX_TEAM_KEYS,
            },
        )
    } else {
        (
            MAX_TOPIC_KEYS,
            AuthKeyError::TopicKeyLimit {
                team_id: team_id.to_string(),
                environment: env,
                limit: MAX_TOPIC_KEYS,
            },
        )
    };
    if active >= limit {
        return Err(err.into());
    }
    Ok(())
}

/// A new P-256 key pair from ring: the PKCS#8 PEM of the private key
/// (zeroized on drop) and the DER SubjectPublicKeyInfo.
fn generate_key_pair() -> Result<(Zeroizing<String>, Vec<u8>)> {
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|e| AuthKeyError::Generation(e.to_string()))?;
    let der = Zeroizing::new(doc.as_ref().to_vec());
    let key = crate::keys::PrivateKey::from_pkcs8_der(&der)?;
    let spki = key.public_key_der()?;
    Ok((crate::pem::encode_secret("PRIVATE KEY", &der), spki))
}

/// `key create`: a new auth key for `req`, recorded in the store, its
/// private key written to `<out_dir>/AuthKey_<KEYID>.p8`.
pub fn create_key(home: &Home, req: &KeyRequest<'_>) -> Result<KeyCreated> {
    create_key_with(home, req, generate_key_id)
}

/// [`create_key`] with the Key IDs drawn from `next_id`.
fn create_key_with(
    home: &Home,
    req: &KeyRequest<'_>,
    mut next_id: impl FnMut() -> String,
) -> Result<KeyCreated> {
    let given = distinct_apps(req.apps);
    if given > MAX_KEY_APPS {
        return Err(AuthKeyError::TooManyApps {
            given,
            limit: MAX_KEY_APPS,
        }
        .into());
    }
    let name = req.name.map(check_name).transpose()?;
    let scope = if req.apps.is_empty() {
        KeyRecord::TEAM
    } else {
        KeyRecord::TOPICS
    };
    let mut st = open_store(home)?;
    // Everything the store can refuse, before any key or file is made.
    let (team, apps) = st.read(|tx| -> Result<_> {
        let team = portal::resolve_team(tx, req.team_id)?;
        let apps = check_apps(tx, &team.team_id, req.apps)?;
        check_limits(tx, &team.team_id, req.environment, scope)?;
        Ok((team, apps))
    })?;
    let rules = OutputRules {
        force: req.force,
        home: Some(home.root()),
    };
    fsutil::create_output_dir(req.out_dir, &rules)?;
    let (pem, public_key) = generate_key_pair()?;
    let mut attempts = 0;
    let (record, file) = loop {
        attempts += 1;
        let key_id = next_id();
        let file = req.out_dir.join(key_file_name(&key_id));
        // The output is checked before the record is committed: a refused
        // output leaves no record.
        fsutil::check_secret_output(&file, &rules)?;
        let record = KeyRecord {
            name: name.clone().unwrap_or_else(|| format!("AuthKey_{key_id}")),
            key_id,
            team_id: team.team_id.clone(),
            environment: req.environment.name().to_string(),
            scope: scope.to_string(),
            public_key: public_key.clone(),
            created_at: now().unix_timestamp(),
            revoked_at: None,
            apps: apps.clone(),
        };
        // Checked again in the write transaction: another process may have
        // made keys or changed the App IDs meanwhile.
        let done = st.write(|tx| -> Result<()> {
            check_apps(tx, &record.team_id, req.apps)?;
            check_limits(tx, &record.team_id, req.environment, scope)?;
            tx.insert_key(&record)?;
            Ok(())
        });
        match done {
            Ok(()) => break (record, file),
            Err(OpsError::Store(StoreError::DuplicateKeyId(_))) if attempts < KEY_ID_ATTEMPTS => {
                continue
            }
            Err(OpsError::Store(StoreError::DuplicateKeyId(_))) => {
                return Err(AuthKeyError::NoFreeKeyId(attempts).into())
            }
            Err(e) => return Err(e),
        }
    };
    // Recorded: the private key is written now, once.
    let mut batch = AtomicBatch::new();
    let written = batch
        .add_output(&file, pem.as_bytes(), MODE_SECRET, &rules)
        .and_then(|()| batch.commit());
    drop(pem);
    if let Err(source) = written {
        let t = now().unix_timestamp();
        let revoked = st
            .write(|tx| tx.revoke_key(&record.key_id, t))
            .is_ok_and(|r| r);
        return Err(AuthKeyError::NotWritten {
            key_id: record.key_id,
            revoked,
            source,
        }
        .into());
    }
    Ok(KeyCreated {
        key: CreatedKey {
            view: view::KeyView::from(&record),
            file,
        },
    })
}

/// `key list`: the keys, of one team when `team` is given (which must
/// exist), revoked ones included.
pub fn list_keys(home: &Home, team: Option<&str>) -> Result<KeyList> {
    let mut st = open_store(home)?;
    let keys = st.read(|tx| -> Result<_> {
        if let Some(t) = team {
            portal::resolve_team(tx, Some(t))?;
        }
        Ok(tx.list_keys(team)?)
    })?;
    Ok(KeyList {
        keys: keys.iter().map(view::KeyView::from).collect(),
    })
}

fn get_key(tx: &Tx<'_>, key_id: &str) -> Result<KeyRecord> {
    let id = normalize_key_id(key_id);
    tx.key(&id)?
        .ok_or_else(|| AuthKeyError::UnknownKey(key_id.to_string()).into())
}

/// `key show`: one key by its Key ID (any letter case).
pub fn show_key(home: &Home, key_id: &str) -> Result<KeyShown> {
    let mut st = open_store(home)?;
    let key = st.read(|tx| get_key(tx, key_id))?;
    Ok(KeyShown {
        key: view::KeyView::from(&key),
    })
}

/// `key revoke`: marks the key revoked (every token it signed is refused
/// once a gateway loads the next trust store). Idempotent: a key already
/// revoked keeps its first revocation time, with `revoked: false`.
pub fn revoke_key(home: &Home, key_id: &str) -> Result<KeyRevoked> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    let (key, revoked) = st.write(|tx| -> Result<_> {
        let key = get_key(tx, key_id)?;
        let revoked = tx.revoke_key(&key.key_id, t)?;
        Ok((get_key(tx, &key.key_id)?, revoked))
    })?;
    Ok(KeyRevoked {
        key: view::KeyView::from(&key),
        revoked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyType;
    use crate::secret::Secret;

    fn home(dir: &Path) -> Home {
        let home = Home::new(dir.join("home"));
        crate::ops::init::init_home(
            &home,
            &crate::ops::init::InitRequest {
                team_name: "T",
                team_id: Some("TEAM000001"),
                country: "US",
                key_type: KeyType::EcP256,
            },
            &Secret::new("a long CA passphrase"),
            now(),
        )
        .unwrap();
        home
    }

    fn request(out_dir: &Path) -> KeyRequest<'_> {
        KeyRequest {
            environment: Environment::Development,
            apps: &[],
            name: None,
            team_id: None,
            out_dir,
            force: false,
        }
    }

    /// An existing `AuthKey_<KEYID>.p8` is refused without `force` before
    /// anything is recorded; with `force` it is replaced.
    #[test]
    fn an_existing_output_is_refused_and_nothing_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let home = home(dir.path());
        let out = dir.path().join("keys");
        std::fs::create_dir(&out).unwrap();
        let file = out.join("AuthKey_FIXED00001.p8");
        std::fs::write(&file, "old").unwrap();
        let id = || "FIXED00001".to_string();
        let e = create_key_with(&home, &request(&out), id).unwrap_err();
        assert!(matches!(e, OpsError::Fs(FsError::Exists(_))), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old");
        assert!(list_keys(&home, None).unwrap().keys.is_empty());
        let req = KeyRequest {
            force: true,
            ..request(&out)
        };
        let made = create_key_with(&home, &req, id).unwrap();
        assert_eq!(made.key.view.key_id, "FIXED00001");
        let pem = std::fs::read_to_string(&file).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    }

    /// A Key ID already taken is drawn again; the record gets a free one.
    #[test]
    fn a_taken_key_id_is_drawn_again() {
        let dir = tempfile::tempdir().unwrap();
        let home = home(dir.path());
        let out = dir.path().join("keys");
        let first = create_key_with(&home, &request(&out), || "TAKEN00001".into()).unwrap();
        let mut ids = ["TAKEN00001", "TAKEN00001", "FRESH00001"].into_iter();
        // (`force`: the file of the taken ID exists.)
        let req = KeyRequest {
            environment: Environment::Production,
            force: true,
            ..request(&out)
        };
        let second =
            create_key_with(&home, &req, || ids.next().unwrap_or("X").to_string()).unwrap();
        assert_eq!(
            (first.key.view.key_id, second.key.view.key_id),
            ("TAKEN00001".to_string(), "FRESH00001".to_string())
        );
        assert_eq!(list_keys(&home, None).unwrap().keys.len(), 2);
        // Always taken: a bounded number of attempts, then a clear error.
        let e = create_key_with(&home, &req, || "TAKEN00001".into()).unwrap_err();
        assert!(
            matches!(e, OpsError::AuthKey(AuthKeyError::NoFreeKeyId(n)) if n == KEY_ID_ATTEMPTS),
            "{e}"
        );
    }

    #[test]
    fn key_ids_are_ten_uppercase_letters_and_digits() {
        for _ in 0..100 {
            let id = generate_key_id();
            assert_eq!(id.len(), KEY_ID_LEN);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        }
        assert_ne!(generate_key_id(), generate_key_id());
    }
}
