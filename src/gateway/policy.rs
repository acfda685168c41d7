//! `policy.json`: the enforcement table derived from the current profiles,
//! certificates and CRL, with the SHA-256 of every other file of the trust
//! store. Humans read it; [`super::Gateway::load`] verifies it (its
//! detached CMS signature, every hash) and checks it against the profiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `format` of the policy files this version writes and reads.
pub(crate) const FORMAT: &str = "pushca-policy/3";

/// `policy.json`: what the enforcement applies, signed by the profile signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Policy {
    /// [`FORMAT`].
    pub(crate) format: String,
    /// Grows with every publish of the home that changes anything (a
    /// counter kept in the home's store): a gateway never goes back to a
    /// lower one.
    pub(crate) version: u64,
    /// RFC 3339.
    pub(crate) generated_at: String,
    /// RFC 3339, no later than the earliest CRL nextUpdate: from then on a
    /// gateway refuses everything until a newer trust store is published.
    pub(crate) expires_at: String,
    /// SHA-256 over what the trust store was made from (CA certificates,
    /// current profiles, revocations): equal inputs, equal digest.
    pub(crate) inputs_sha256: String,
    /// The CA certificates of `ca.pem`.
    pub(crate) ca: Vec<CaInfo>,
    /// The issuing CA's CRL.
    pub(crate) crl: CrlInfo,
    /// Relative path -> SHA-256 (lowercase hex) of every other file.
    pub(crate) files: BTreeMap<String, String>,
    /// Topic -> the App ID it belongs to.
    pub(crate) topics: BTreeMap<String, TopicInfo>,
    /// Bundle ID -> what may push to it.
    pub(crate) apps: BTreeMap<String, AppPolicy>,
    /// Team ID -> what holds for every App ID of the team: one entry for the
    /// team of each App ID in `apps`.
    pub(crate) teams: BTreeMap<String, TeamPolicy>,
    /// Key ID -> an APNs auth key (token-based provider authentication),
    /// revoked ones included (marked), so that a gateway trusts no key the
    /// signed policy does not name.
    pub(crate) keys: BTreeMap<String, KeyPolicy>,
}

/// An auth key (`AuthKey_<KEYID>.p8`): the public half, what it may sign
/// tokens for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyPolicy {
    /// The team whose ID a token's `iss` must be.
    pub(crate) team_id: String,
    /// `development` or `production`: the one environment it signs for.
    pub(crate) environment: String,
    /// `team` (every App ID of the team with push, present and future) or
    /// `topics` (only the App IDs of `apps`).
    pub(crate) scope: String,
    /// The bundle IDs of a topic-specific key (empty for a team-scoped one).
    pub(crate) apps: Vec<String>,
    /// Its public key: the DER SubjectPublicKeyInfo of a P-256 key, base64
    /// (standard alphabet, padded).
    pub(crate) public_key: String,
    /// RFC 3339 when revoked: every token it signed is refused.
    pub(crate) revoked_at: Option<String>,
}

/// What the enforcement applies to every App ID of one team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamPolicy {
    /// The team's disabled devices (UDIDs): refused for every App ID of the
    /// team, whatever a profile lists or `ProvisionsAllDevices` says (a
    /// signed profile cannot be edited; the policy overrides it).
    pub(crate) disabled_devices: Vec<String>,
}

/// A CA certificate of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaInfo {
    /// Its subject.
    pub(crate) subject: String,
    /// SHA-256 of its DER, lowercase hex.
    pub(crate) sha256: String,
    /// RFC 3339.
    pub(crate) not_after: String,
}

/// The issuing CA's CRL, as the policy lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CrlInfo {
    /// Its CRL number.
    pub(crate) number: i64,
    /// RFC 3339.
    pub(crate) this_update: String,
    /// RFC 3339: the store expires no later.
    pub(crate) next_update: String,
    /// The revoked certificates.
    pub(crate) revoked: Vec<RevokedInfo>,
}

/// A revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokedInfo {
    /// Its serial, lowercase hex.
    pub(crate) serial: String,
    /// RFC 3339.
    pub(crate) revoked_at: String,
    /// The CRL reason code's name.
    pub(crate) reason: String,
}

/// The App ID a topic belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicInfo {
    /// The App ID's bundle ID.
    pub(crate) bundle_id: String,
    /// `app`, `voip` or `complication`.
    pub(crate) kind: String,
}

/// What may push to one App ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppPolicy {
    /// Its team.
    pub(crate) team_id: String,
    /// `TEAMID.bundle.id`.
    pub(crate) app_id: String,
    /// Its topics.
    pub(crate) topics: Vec<String>,
    /// `development` / `production` -> the profiles for it.
    pub(crate) environments: BTreeMap<String, Vec<ProfilePolicy>>,
}

/// A current profile, as the policy lists it (and the profile must say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfilePolicy {
    /// Its UUID.
    pub(crate) uuid: String,
    /// Its file, relative to the store (`profiles/<UUID>.mobileprovision`).
    pub(crate) file: String,
    /// Its `ExpirationDate`, RFC 3339.
    pub(crate) expires_at: String,
    /// The push certificates it authorises (`PushCertificates`).
    pub(crate) certificates: Vec<CertPolicy>,
    /// `ProvisionsAllDevices`.
    pub(crate) provisions_all_devices: bool,
    /// `ProvisionedDevices` (UDIDs).
    pub(crate) devices: Vec<String>,
}

/// A push certificate a profile authorises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CertPolicy {
    /// SHA-256 of its DER, lowercase hex.
    pub(crate) sha256: String,
    /// Its serial, lowercase hex.
    pub(crate) serial: String,
    /// RFC 3339.
    pub(crate) not_after: String,
}
