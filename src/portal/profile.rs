//! Provisioning profiles, the issuing side: [`sign`] builds and signs
//! pushca's profiles. Reading and verifying any profile is
//! [`crate::profile`].

use time::OffsetDateTime;

use crate::ca::Issuer;
use crate::cms;
use crate::plist::{self, Dict, Value};
use crate::x509ext::Environment;

pub(crate) use crate::profile::{verify, ProfileError, VerifiedProfile};

/// The devices a profile provisions.
#[derive(Debug, Clone, Copy)]
pub enum Devices<'a> {
    /// `ProvisionedDevices`: these UDIDs.
    Listed(&'a [String]),
    /// `ProvisionsAllDevices` (Apple: enterprise distribution only).
    All,
}

/// Everything that goes into one of pushca's profiles.
#[derive(Debug, Clone)]
pub struct ProfileContent<'a> {
    /// Uppercase UUID.
    pub uuid: &'a str,
    /// The profile name (`Name`).
    pub name: &'a str,
    /// The App ID's descriptive name (`AppIDName`).
    pub app_id_name: &'a str,
    /// The team (`TeamIdentifier`, the App ID prefix).
    pub team_id: &'a str,
    /// The team name (`TeamName`).
    pub team_name: &'a str,
    /// The bundle ID (`application-identifier` is `TEAMID.bundle`).
    pub bundle_id: &'a str,
    /// The push environment (`aps-environment`; development also sets
    /// `get-task-allow`).
    pub environment: Environment,
    /// Creation date (`CreationDate`, and the CMS signing time).
    pub created: OffsetDateTime,
    /// Expiration date (`ExpirationDate`).
    pub expires: OffsetDateTime,
    /// The devices it provisions.
    pub devices: Devices<'a>,
    /// SHA-256 fingerprints (lowercase hex) of the authorised push certificates.
    pub push_certificates: &'a [String],
    /// `Platform` (from the template).
    pub platform: &'a [String],
}

fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

/// The profile's property list, with Apple's keys in Apple's (sorted) order.
pub(crate) fn build_plist(c: &ProfileContent<'_>) -> Value {
    let app_id = format!("{}.{}", c.team_id, c.bundle_id);
    let mut ent = Dict::new();
    ent.insert("application-identifier", Value::String(app_id));
    ent.insert(
        "aps-environment",
        Value::String(c.environment.name().to_string()),
    );
    ent.insert(
        "com.apple.developer.team-identifier",
        Value::String(c.team_id.to_string()),
    );
    ent.insert(
        "get-task-allow",
        Value::Bool(c.environment == Environment::Development),
    );
    ent.insert(
        "keychain-access-groups",
        strings(&[format!("{}.*", c.team_id)]),
    );
    let ttl_days = (c.expires - c.created).whole_days().max(0);
    let mut d = Dict::new();
    d.insert("AppIDName", Value::String(c.app_id_name.to_string()));
    d.insert(
        "ApplicationIdentifierPrefix",
        strings(&[c.team_id.to_string()]),
    );
    d.insert("CreationDate", Value::Date(c.created));
    d.insert("Entitlements", Value::Dict(ent));
    d.insert("ExpirationDate", Value::Date(c.expires));
    d.insert("IsXcodeManaged", Value::Bool(false));
    d.insert("Name", Value::String(c.name.to_string()));
    if !c.platform.is_empty() {
        d.insert("Platform", strings(c.platform));
    }
    match c.devices {
        Devices::Listed(udids) => d.insert("ProvisionedDevices", strings(udids)),
        Devices::All => d.insert("ProvisionsAllDevices", Value::Bool(true)),
    };
    d.insert("PushCertificates", strings(c.push_certificates));
    d.insert("TeamIdentifier", strings(&[c.team_id.to_string()]));
    d.insert("TeamName", Value::String(c.team_name.to_string()));
    d.insert("TimeToLive", Value::Integer(ttl_days));
    d.insert("UUID", Value::String(c.uuid.to_string()));
    d.insert("Version", Value::Integer(1));
    Value::Dict(d)
}

/// Builds the plist and signs it: CMS SignedData, content attached, with the
/// signer certificate and `extra_certs` (the issuing CA) included.
pub fn sign(
    c: &ProfileContent<'_>,
    signer: &Issuer,
    extra_certs: &[&[u8]],
) -> Result<Vec<u8>, ProfileError> {
    let xml = plist::to_xml(&build_plist(c))?;
    Ok(cms::sign(
        xml.as_bytes(),
        true,
        signer.cert_der(),
        extra_certs,
        signer.signer(),
        c.created,
    )?)
}

/// A random (version 4) UUID, uppercase, from the OS CSPRNG.
pub fn new_uuid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileInfo;

    fn content<'a>(devices: &'a [String], certs: &'a [String]) -> ProfileContent<'a> {
        let created = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        ProfileContent {
            uuid: "0D5E0A7B-1C2D-4E3F-8A9B-0C1D2E3F4A5B",
            name: "Example & <Co> Development Push",
            app_id_name: "Example",
            team_id: "ABCDE12345",
            team_name: "Example Corp",
            bundle_id: "com.example.app",
            environment: Environment::Development,
            created,
            expires: created + time::Duration::days(365),
            devices: Devices::Listed(devices),
            push_certificates: certs,
            platform: &[],
        }
    }

    #[test]
    fn plist_round_trips_into_profile_info() {
        let devices = vec!["00008030-001A0C3E0E68802E".to_string()];
        let certs = vec!["ab".repeat(32)];
        let c = content(&devices, &certs);
        let xml = plist::to_xml(&build_plist(&c)).unwrap();
        let info = ProfileInfo::from_plist(plist::from_xml(xml.as_bytes()).unwrap()).unwrap();
        assert_eq!(info.uuid, c.uuid);
        assert_eq!(info.name.as_deref(), Some(c.name));
        assert_eq!(info.bundle_id.as_deref(), Some("com.example.app"));
        assert_eq!(
            info.application_identifier.as_deref(),
            Some("ABCDE12345.com.example.app")
        );
        assert_eq!(info.team_id.as_deref(), Some("ABCDE12345"));
        assert_eq!(info.aps_environment.as_deref(), Some("development"));
        assert_eq!(info.get_task_allow, Some(true));
        assert_eq!(info.devices, devices);
        assert!(!info.provisions_all_devices);
        assert_eq!(info.push_certificates, certs);
        assert_eq!(info.time_to_live, Some(365));
        assert_eq!(info.version, Some(1));
        assert_eq!(info.expires, c.expires);
        // Apple's keys appear in Apple's sorted order.
        let keys: Vec<&str> = info.plist.as_dict().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        // All devices instead of a list.
        let all = ProfileContent {
            devices: Devices::All,
            environment: Environment::Production,
            ..c
        };
        let v = build_plist(&all);
        let info = ProfileInfo::from_plist(v).unwrap();
        assert!(info.provisions_all_devices && info.devices.is_empty());
        assert_eq!(info.get_task_allow, Some(false));
    }

    #[test]
    fn uuids_are_random_v4_uppercase() {
        let a = new_uuid();
        let b = new_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!("89AB".contains(&a[19..20]));
        assert!(a
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase()));
    }
}
