//! The JSON contract of the records every command shows (README "JSON
//! documents": TEAM, APP, CERT, DEVICE, PROFILE, KEY). Store records are rows;
//! these are what users see, built from a record and the clock. Command
//! outputs embed them, the CLI serializes them as they are.

use serde::Serialize;

use crate::store::{AppRecord, CertRecord, DeviceRecord, KeyRecord, ProfileRecord, TeamRecord};
use crate::timeutil::{days_left, serialize_rfc3339, serialize_rfc3339_opt};

/// TEAM: `{"team_id", "name", "is_default", "created_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    /// The 10-character Team ID.
    pub team_id: String,
    /// The team name.
    pub name: String,
    /// Whether commands without a team use this one.
    pub is_default: bool,
    /// When it was created (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: i64,
}

impl From<&TeamRecord> for Team {
    fn from(r: &TeamRecord) -> Self {
        Team {
            team_id: r.team_id.clone(),
            name: r.name.clone(),
            is_default: r.is_default,
            created_at: r.created_at,
        }
    }
}

/// APP: `{"bundle_id", "name", "team_id", "push", "enabled", "created_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct App {
    /// The bundle ID (the App ID's identifier; may be a wildcard).
    pub bundle_id: String,
    /// Its descriptive name.
    pub name: String,
    /// Its team.
    pub team_id: String,
    /// Whether it has the push capability.
    pub push: bool,
    /// Whether certificates and profiles may be made for it.
    pub enabled: bool,
    /// When it was created (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: i64,
}

impl From<&AppRecord> for App {
    fn from(r: &AppRecord) -> Self {
        App {
            bundle_id: r.bundle_id.clone(),
            name: r.name.clone(),
            team_id: r.team_id.clone(),
            push: r.push,
            enabled: r.enabled,
            created_at: r.created_at,
        }
    }
}

/// DEVICE: `{"udid", "name", "team_id", "enabled", "created_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The UDID, normalised.
    pub udid: String,
    /// Its name.
    pub name: String,
    /// The team it is registered to.
    pub team_id: String,
    /// Whether profiles list it.
    pub enabled: bool,
    /// When it was registered (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: i64,
}

impl From<&DeviceRecord> for Device {
    fn from(r: &DeviceRecord) -> Self {
        Device {
            udid: r.udid.clone(),
            name: r.name.clone(),
            team_id: r.team_id.clone(),
            enabled: r.enabled,
            created_at: r.created_at,
        }
    }
}

/// CERT: a push certificate the store issued, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cert {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// `push`, `server` or `device`.
    pub kind: String,
    /// The subject, as the store recorded it.
    pub subject: String,
    /// The App ID it is for (empty for a server certificate or a device identity).
    pub bundle_id: String,
    /// The App ID's team.
    pub team_id: String,
    /// `development`, `production` or `universal`.
    pub environment: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// The certificate's key, `--key-type` vocabulary (`rsa-2048`, `ec-p256`, ...).
    pub key_type: String,
    /// Start of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_before: i64,
    /// End of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// Whole days until `not_after`, negative once past.
    pub days_left: i64,
    /// Whether `not_after` has passed.
    pub expired: bool,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl Cert {
    /// The view of `r` at `now` (unix seconds).
    pub(crate) fn new(r: &CertRecord, now: i64) -> Self {
        Cert {
            serial: r.serial.clone(),
            kind: r.kind.clone(),
            subject: r.subject.clone(),
            bundle_id: r.bundle_id.clone(),
            team_id: r.team_id.clone(),
            environment: r.environment.clone(),
            sha256: r.sha256.clone(),
            // The `--key-type` vocabulary, as `cert list` prints it.
            key_type: crate::keys::KeyAlgorithm::id_of(&r.key_type),
            not_before: r.not_before,
            not_after: r.not_after,
            days_left: days_left(r.not_after, now),
            expired: r.not_after <= now,
            revoked: r.revoked_at.is_some(),
        }
    }
}

/// PROFILE: a provisioning profile the store signed, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// The profile UUID (uppercase).
    pub uuid: String,
    /// The profile name.
    pub name: String,
    /// The App ID it provisions.
    pub bundle_id: String,
    /// The App ID's team.
    pub team_id: String,
    /// `TEAMID.bundle`
    pub app_id: String,
    /// `development` or `production`
    pub environment: String,
    /// When it was signed (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: i64,
    /// When it expires (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub expires_at: i64,
    /// Whole days until `expires_at`, negative once past.
    pub days_left: i64,
    /// Whether `expires_at` has passed.
    pub expired: bool,
    /// `listed`, `team` or `all`
    pub devices_mode: String,
    /// Whether it provisions every device (`devices_mode` is `all`).
    pub provisions_all_devices: bool,
    /// The UDIDs it lists (empty for `all`).
    pub devices: Vec<String>,
    /// `default` or `listed`
    pub certificates_mode: String,
    /// serials
    pub certificates: Vec<String>,
    /// SHA-256 of the signed profile file, lowercase hex.
    pub sha256: String,
    /// The UUID of the profile that replaced it, if one did.
    pub superseded_by: Option<String>,
    /// Whether it was withdrawn.
    pub withdrawn: bool,
    /// When (RFC 3339), or null.
    #[serde(serialize_with = "serialize_rfc3339_opt")]
    pub withdrawn_at: Option<i64>,
}

impl Profile {
    /// The view of `r` at `now` (unix seconds).
    pub(crate) fn new(r: &ProfileRecord, now: i64) -> Self {
        Profile {
            uuid: r.uuid.clone(),
            name: r.name.clone(),
            bundle_id: r.bundle_id.clone(),
            team_id: r.team_id.clone(),
            app_id: format!("{}.{}", r.team_id, r.bundle_id),
            environment: r.environment.clone(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            days_left: days_left(r.expires_at, now),
            expired: r.expires_at <= now,
            devices_mode: r.devices_mode.clone(),
            provisions_all_devices: r.devices_mode == "all",
            devices: r.devices.clone(),
            certificates_mode: r.certs_mode.clone(),
            certificates: r.cert_serials.clone(),
            sha256: r.sha256.clone(),
            superseded_by: r.superseded_by.clone(),
            withdrawn: r.withdrawn_at.is_some(),
            withdrawn_at: r.withdrawn_at,
        }
    }
}

/// KEY: an APNs auth key of the store: its public half and what it may
/// sign tokens for (never any private material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    /// The 10-character Key ID (`kid` of a token).
    pub key_id: String,
    /// Its descriptive name.
    pub name: String,
    /// The team whose ID a token's `iss` must be.
    pub team_id: String,
    /// `development` or `production`.
    pub environment: String,
    /// `team` (every App ID of the team with push) or `topics` (`apps` only).
    pub scope: String,
    /// The bundle IDs of a topic-specific key (empty for a team-scoped one).
    pub apps: Vec<String>,
    /// When it was created (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: i64,
    /// When it was revoked (RFC 3339), or null.
    #[serde(serialize_with = "serialize_rfc3339_opt")]
    pub revoked_at: Option<i64>,
    /// The public key: DER SubjectPublicKeyInfo, base64 (as the trust
    /// store's policy has it).
    pub public_key: String,
    /// SHA-256 of that DER, lowercase hex.
    pub public_key_sha256: String,
}

impl From<&KeyRecord> for KeyView {
    fn from(r: &KeyRecord) -> Self {
        use base64::Engine;
        KeyView {
            key_id: r.key_id.clone(),
            name: r.name.clone(),
            team_id: r.team_id.clone(),
            environment: r.environment.clone(),
            scope: r.scope.clone(),
            apps: r.apps.clone(),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            public_key: base64::engine::general_purpose::STANDARD.encode(&r.public_key),
            public_key_sha256: crate::x509::sha256_hex(&r.public_key),
        }
    }
}
