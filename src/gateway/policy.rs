//! `policy.json`: the enforcement table derived from the current profiles,
//! certificates and CRL, with the SHA-256 of every other file of the trust
//! store. Humans read it; [`super::Gateway::load`] verifies it (its
//! detached CMS signature, every hash) and checks it against the profiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `format` of the policy files this version writes and reads.
pub const FORMAT: &str = "pushca-policy/2";

/// `policy.json`: what the enforcement applies, signed by the profile signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// [`FORMAT`].
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
    /// The CA certificates of `ca.pem`.
    pub ca: Vec<CaInfo>,
    /// The issuing CA's CRL.
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

/// A CA certificate of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaInfo {
    /// Its subject.
    pub subject: String,
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
    /// RFC 3339.
    pub not_after: String,
}

/// The issuing CA's CRL, as the policy lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlInfo {
    /// Its CRL number.
    pub number: i64,
    /// RFC 3339.
    pub this_update: String,
    /// RFC 3339: the store expires no later.
    pub next_update: String,
    /// The revoked certificates.
    pub revoked: Vec<RevokedInfo>,
}

/// A revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedInfo {
    /// Its serial, lowercase hex.
    pub serial: String,
    /// RFC 3339.
    pub revoked_at: String,
    /// The CRL reason code's name.
    pub reason: String,
}

/// The App ID a topic belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicInfo {
    /// The App ID's bundle ID.
    pub bundle_id: String,
    /// `app`, `voip` or `complication`.
    pub kind: String,
}

/// What may push to one App ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPolicy {
    /// Its team.
    pub team_id: String,
    /// `TEAMID.bundle.id`.
    pub app_id: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// `development` / `production` -> the profiles for it.
    pub environments: BTreeMap<String, Vec<ProfilePolicy>>,
}

/// A current profile, as the policy lists it (and the profile must say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePolicy {
    /// Its UUID.
    pub uuid: String,
    /// Its file, relative to the store (`profiles/<UUID>.mobileprovision`).
    pub file: String,
    /// Its `ExpirationDate`, RFC 3339.
    pub expires_at: String,
    /// The push certificates it authorises (`PushCertificates`).
    pub certificates: Vec<CertPolicy>,
    /// `ProvisionsAllDevices`.
    pub provisions_all_devices: bool,
    /// `ProvisionedDevices` (UDIDs).
    pub devices: Vec<String>,
}

/// A push certificate a profile authorises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertPolicy {
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
    /// Its serial, lowercase hex.
    pub serial: String,
    /// RFC 3339.
    pub not_after: String,
}
