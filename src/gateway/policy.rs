//! `policy.json`: the enforcement table derived from the current profiles,
//! certificates and CRL, with the SHA-256 of every other file of the trust
//! store. Humans read it; [`super::TrustStore::load`] verifies it (its
//! detached CMS signature, every hash) and checks it against the profiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `format` of the policy files this version writes and reads.
pub const FORMAT: &str = "pushca-policy/2";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub format: String,
    /// Grows with every publish of the home that changes anything (a
    /// counter kept in the home's store): a gateway never goes back to a
    /// lower one.
    pub version: u64,
    /// RFC 3339.
    pub generated_at: String,
    /// RFC 3339, no later than the earliest CRL nextUpdate: from then on a
    /// gateway refuses everything until a newer trust store is published.
    pub expires_at: String,
    /// SHA-256 over what the trust store was made from (CA certificates,
    /// current profiles, revocations): equal inputs, equal digest.
    pub inputs_sha256: String,
    pub ca: Vec<CaInfo>,
    pub crl: CrlInfo,
    /// Relative path -> SHA-256 (lowercase hex) of every other file.
    pub files: BTreeMap<String, String>,
    /// Topic -> the App ID it belongs to.
    pub topics: BTreeMap<String, TopicInfo>,
    /// Bundle ID -> what may push to it.
    pub apps: BTreeMap<String, AppPolicy>,
    /// Team ID -> what holds for every App ID of the team: one entry for the
    /// team of each App ID in `apps`.
    pub teams: BTreeMap<String, TeamPolicy>,
}

/// What the enforcement applies to every App ID of one team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamPolicy {
    /// The team's disabled devices (UDIDs): refused for every App ID of the
    /// team, whatever a profile lists or `ProvisionsAllDevices` says (a
    /// signed profile cannot be edited; the policy overrides it).
    pub disabled_devices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaInfo {
    pub subject: String,
    pub sha256: String,
    pub not_after: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlInfo {
    pub number: i64,
    pub this_update: String,
    pub next_update: String,
    pub revoked: Vec<RevokedInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedInfo {
    pub serial: String,
    pub revoked_at: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicInfo {
    pub bundle_id: String,
    /// `app`, `voip` or `complication`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPolicy {
    pub team_id: String,
    pub app_id: String,
    pub topics: Vec<String>,
    /// `development` / `production` -> the profiles for it.
    pub environments: BTreeMap<String, Vec<ProfilePolicy>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePolicy {
    pub uuid: String,
    pub file: String,
    pub expires_at: String,
    pub certificates: Vec<CertPolicy>,
    pub provisions_all_devices: bool,
    pub devices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertPolicy {
    pub sha256: String,
    pub serial: String,
    pub not_after: String,
}
