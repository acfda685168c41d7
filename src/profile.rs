//! Provisioning profiles (`.mobileprovision`), the read side: an XML plist
//! with Apple's keys inside a CMS SignedData (DER, content attached), signed
//! by the profile signer. Part of the verification core (the gateway loads
//! profiles with it); building and signing them is
//! `portal::profile` (the issuing side).
//!
//! [`verify`] reads **any** profile, Apple's own included: it checks the CMS
//! signature, then the signer's chain to the trust anchors given
//! (rustls-webpki), then decodes the plist. An expired profile or signer is
//! reported as expired, not refused; a broken signature or an untrusted
//! signer is an error.

use time::OffsetDateTime;

use crate::chain::{self, ChainError, Usage};
use crate::cms::{self, CmsError};
use crate::plist::{self, Dict, PlistError, Value};

/// Whether a bundle ID is a wildcard (`*` or ends with `.*`): such an App ID
/// never has the push capability.
pub fn is_wildcard(bundle_id: &str) -> bool {
    bundle_id == "*" || bundle_id.ends_with(".*")
}

/// Why a profile cannot be read or verified.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The CMS SignedData does not verify.
    #[error("{0}")]
    Cms(#[from] CmsError),
    /// The signer's chain does not verify to the trust anchors.
    #[error("the profile's signer is not trusted: {0}")]
    Untrusted(#[source] ChainError),
    /// The signer's chain was not valid at the profile's signingTime either.
    #[error("the profile's signer was not valid when the profile was signed")]
    SignerNotValid,
    /// The signed content is not a property list pushca reads.
    #[error("the signed content is not a property list: {0}")]
    Plist(#[from] PlistError),
    /// A required key (`UUID`, `ExpirationDate`) is absent.
    #[error("the profile has no {0} key")]
    MissingKey(&'static str),
    /// A key holds a value of the wrong type.
    #[error("the profile's {key} is not {expected}")]
    BadKey {
        /// The key.
        key: &'static str,
        /// The type it should hold.
        expected: &'static str,
    },
    /// No trust anchor was given.
    #[error("no trust anchors to verify the profile against")]
    NoAnchors,
    /// Building a profile failed (the issuing side): the lower error.
    #[error("the profile cannot be built: {0}")]
    Build(#[source] crate::error::BoxError),
}

impl ProfileError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            ProfileError::Cms(c) => c.kind(),
            // However the chain fails, the signer is not one to trust.
            ProfileError::Untrusted(_) | ProfileError::SignerNotValid => ErrorKind::Policy,
            ProfileError::Plist(_) | ProfileError::MissingKey(_) | ProfileError::BadKey { .. } => {
                ErrorKind::Input
            }
            ProfileError::NoAnchors => ErrorKind::Usage,
            ProfileError::Build(_) => ErrorKind::Crypto,
        }
    }
}

/// What a profile says, decoded from its plist (any profile: pushca's or
/// Apple's). Only `UUID` and `ExpirationDate` are required.
#[derive(Debug, Clone)]
pub struct ProfileInfo {
    /// `UUID`.
    pub uuid: String,
    /// `Name`.
    pub name: Option<String>,
    /// `AppIDName`.
    pub app_id_name: Option<String>,
    /// `TEAMID.bundle.id` from the entitlements.
    pub application_identifier: Option<String>,
    /// The first `TeamIdentifier` (else the entitlements' team identifier).
    pub team_id: Option<String>,
    /// `TeamName`.
    pub team_name: Option<String>,
    /// The application identifier without its team prefix.
    pub bundle_id: Option<String>,
    /// `aps-environment` (`development` or `production`), if any.
    pub aps_environment: Option<String>,
    /// The entitlements' `get-task-allow` (a development profile).
    pub get_task_allow: Option<bool>,
    /// `CreationDate`.
    pub created: Option<OffsetDateTime>,
    /// `ExpirationDate`.
    pub expires: OffsetDateTime,
    /// `ProvisionedDevices`: UDIDs as written.
    pub devices: Vec<String>,
    /// `ProvisionsAllDevices` (an enterprise profile): any device.
    pub provisions_all_devices: bool,
    /// SHA-256 fingerprints, lowercase hex.
    pub push_certificates: Vec<String>,
    /// DER certificates of `DeveloperCertificates` (Apple's profiles).
    pub developer_certificates: Vec<Vec<u8>>,
    /// `Platform` (`iOS`, `xrOS`, ...).
    pub platform: Vec<String>,
    /// `TimeToLive`, days.
    pub time_to_live: Option<i64>,
    /// `Version`.
    pub version: Option<i64>,
    /// The whole property list.
    pub plist: Value,
}

fn opt_string(d: &Dict, key: &str) -> Option<String> {
    d.get(key).and_then(Value::as_str).map(str::to_string)
}

fn string_list(d: &Dict, key: &'static str) -> Result<Vec<String>, ProfileError> {
    match d.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or(ProfileError::BadKey {
                    key,
                    expected: "an array of strings",
                })
            })
            .collect(),
        Some(_) => Err(ProfileError::BadKey {
            key,
            expected: "an array of strings",
        }),
    }
}

impl ProfileInfo {
    pub(crate) fn from_plist(v: Value) -> Result<ProfileInfo, ProfileError> {
        let d = v.as_dict().ok_or(ProfileError::BadKey {
            key: "top level",
            expected: "a dictionary",
        })?;
        let uuid = opt_string(d, "UUID").ok_or(ProfileError::MissingKey("UUID"))?;
        let expires = match d.get("ExpirationDate") {
            None => return Err(ProfileError::MissingKey("ExpirationDate")),
            Some(v) => v.as_date().ok_or(ProfileError::BadKey {
                key: "ExpirationDate",
                expected: "a date",
            })?,
        };
        let empty = Dict::new();
        let ent = match d.get("Entitlements") {
            None => &empty,
            Some(v) => v.as_dict().ok_or(ProfileError::BadKey {
                key: "Entitlements",
                expected: "a dictionary",
            })?,
        };
        // iOS profiles and macOS profiles (com.apple.-prefixed keys).
        let application_identifier = opt_string(ent, "application-identifier")
            .or_else(|| opt_string(ent, "com.apple.application-identifier"));
        let aps_environment = opt_string(ent, "aps-environment")
            .or_else(|| opt_string(ent, "com.apple.developer.aps-environment"));
        let team_id = string_list(d, "TeamIdentifier")?
            .into_iter()
            .next()
            .or_else(|| opt_string(ent, "com.apple.developer.team-identifier"));
        let prefix = string_list(d, "ApplicationIdentifierPrefix")?
            .into_iter()
            .next()
            .or_else(|| team_id.clone());
        let bundle_id = application_identifier.as_deref().map(|a| {
            match prefix.as_deref().and_then(|p| a.strip_prefix(p)) {
                Some(rest) if rest.starts_with('.') => rest[1..].to_string(),
                _ => a.split_once('.').map_or(a, |(_, b)| b).to_string(),
            }
        });
        let developer_certificates = match d.get("DeveloperCertificates") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_data().map(<[u8]>::to_vec).ok_or(ProfileError::BadKey {
                        key: "DeveloperCertificates",
                        expected: "an array of data",
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(ProfileError::BadKey {
                    key: "DeveloperCertificates",
                    expected: "an array of data",
                })
            }
        };
        let provisions_all_devices = match d.get("ProvisionsAllDevices") {
            None => false,
            Some(v) => v.as_bool().ok_or(ProfileError::BadKey {
                key: "ProvisionsAllDevices",
                expected: "a boolean",
            })?,
        };
        Ok(ProfileInfo {
            name: opt_string(d, "Name"),
            app_id_name: opt_string(d, "AppIDName"),
            team_name: opt_string(d, "TeamName"),
            get_task_allow: ent
                .get("get-task-allow")
                .or_else(|| ent.get("com.apple.security.get-task-allow"))
                .and_then(Value::as_bool),
            created: d.get("CreationDate").and_then(Value::as_date),
            devices: string_list(d, "ProvisionedDevices")?,
            push_certificates: string_list(d, "PushCertificates")?
                .into_iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            platform: string_list(d, "Platform")?,
            time_to_live: d.get("TimeToLive").and_then(Value::as_i64),
            version: d.get("Version").and_then(Value::as_i64),
            uuid,
            expires,
            application_identifier,
            team_id,
            bundle_id,
            aps_environment,
            developer_certificates,
            provisions_all_devices,
            plist: v,
        })
    }
}

/// A profile whose signature and signer chain verified.
#[derive(Debug, Clone)]
pub struct VerifiedProfile {
    /// What the profile says.
    pub info: ProfileInfo,
    /// DER of the signer certificate.
    pub signer_der: Vec<u8>,
    /// The signer certificate's subject, as text (`CN=..., O=...`).
    pub signer_subject: String,
    /// When the signer certificate expires, unix seconds.
    pub signer_not_after: i64,
    /// The signer (or a CA above it) has expired since it signed.
    pub signer_expired: bool,
    /// The profile's `ExpirationDate` has passed.
    pub expired: bool,
    /// The CMS signingTime, unix seconds.
    pub signing_time: Option<i64>,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
}

/// Verifies a profile (DER CMS SignedData) against trust anchors (DER CA
/// certificates) at `now` (unix seconds). The chain is built from the
/// certificates the SignedData carries, so an altered one fails it.
pub fn verify(
    der: &[u8],
    anchors: &[Vec<u8>],
    crls: &[&webpki::CertRevocationList<'_>],
    now: i64,
) -> Result<VerifiedProfile, ProfileError> {
    if anchors.is_empty() {
        return Err(ProfileError::NoAnchors);
    }
    let signed = cms::verify(der, cms::Content::Attached)?;
    let signer_expired = check_signer(&signed, anchors, crls, now)?;
    finish(der, signed, signer_expired, now)
}

/// The CMS signature of a profile checked (not yet its signer's chain).
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn verify_signature(der: &[u8]) -> Result<cms::Verified, ProfileError> {
    Ok(cms::verify(der, cms::Content::Attached)?)
}

/// The chain of a verified SignedData's signer to `anchors`, for profile
/// signing: `Ok(false)` valid now, `Ok(true)` valid when it signed (by the
/// signingTime, else its last second) but expired since.
pub(crate) fn check_signer(
    signed: &cms::Verified,
    anchors: &[Vec<u8>],
    crls: &[&webpki::CertRevocationList<'_>],
    now: i64,
) -> Result<bool, ProfileError> {
    check_signer_parts(
        &signed.signer_cert_der,
        &signed.certificates,
        signed.signing_time,
        anchors,
        crls,
        now,
    )
}

/// [`check_signer`] from the parts of a verified SignedData: the signer's
/// DER, every certificate it carried, its signingTime.
pub(crate) fn check_signer_parts(
    signer_der: &[u8],
    certificates: &[Vec<u8>],
    signing_time: Option<i64>,
    anchors: &[Vec<u8>],
    crls: &[&webpki::CertRevocationList<'_>],
    now: i64,
) -> Result<bool, ProfileError> {
    let intermediates: Vec<Vec<u8>> = certificates
        .iter()
        .filter(|c| c.as_slice() != signer_der)
        .cloned()
        .collect();
    let signer_not_after = match x509_parser::parse_x509_certificate(signer_der) {
        Ok((_, c)) => c.validity().not_after.timestamp(),
        Err(e) => return Err(ProfileError::Untrusted(ChainError::malformed("signer", e))),
    };
    let check = |t| {
        chain::verify(
            signer_der,
            &intermediates,
            anchors,
            t,
            Usage::ProfileSigning,
            crls,
        )
    };
    match check(now) {
        Ok(()) => Ok(false),
        Err(ChainError::Expired) => {
            // Valid when it signed? Then the profile is readable, and expired.
            // At its signingTime if it says one, else at the signer's last second.
            let at = signing_time.unwrap_or(signer_not_after - 1);
            match check(at) {
                Ok(()) => Ok(true),
                Err(ChainError::Expired) => Err(ProfileError::SignerNotValid),
                Err(e) => Err(ProfileError::Untrusted(e)),
            }
        }
        Err(e) => Err(ProfileError::Untrusted(e)),
    }
}

/// Decodes the plist of a SignedData whose signer was checked.
pub(crate) fn finish(
    der: &[u8],
    signed: cms::Verified,
    signer_expired: bool,
    now: i64,
) -> Result<VerifiedProfile, ProfileError> {
    let (signer_subject, signer_not_after) =
        match x509_parser::parse_x509_certificate(&signed.signer_cert_der) {
            Ok((_, c)) => (c.subject().to_string(), c.validity().not_after.timestamp()),
            Err(e) => return Err(ProfileError::Untrusted(ChainError::malformed("signer", e))),
        };
    let info = ProfileInfo::from_plist(plist::from_xml(&signed.content)?)?;
    let expired = info.expires.unix_timestamp() <= now;
    Ok(VerifiedProfile {
        info,
        signer_der: signed.signer_cert_der,
        signer_subject,
        signer_not_after,
        signer_expired,
        expired,
        signing_time: signed.signing_time,
        sha256: crate::x509::sha256_hex(der),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_keys_and_types() {
        let parse = |body: &str| {
            let xml = format!(
                "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>{body}</dict></plist>"
            );
            ProfileInfo::from_plist(plist::from_xml(xml.as_bytes()).unwrap())
        };
        let exp = "<key>ExpirationDate</key><date>2030-01-01T00:00:00Z</date>";
        assert!(matches!(parse(exp), Err(ProfileError::MissingKey("UUID"))));
        assert!(matches!(
            parse("<key>UUID</key><string>U</string>"),
            Err(ProfileError::MissingKey("ExpirationDate"))
        ));
        let uuid = "<key>UUID</key><string>U</string>";
        assert!(matches!(
            parse(&format!(
                "{uuid}<key>ExpirationDate</key><string>soon</string>"
            )),
            Err(ProfileError::BadKey {
                key: "ExpirationDate",
                ..
            })
        ));
        assert!(matches!(
            parse(&format!(
                "{uuid}{exp}<key>ProvisionedDevices</key><string>x</string>"
            )),
            Err(ProfileError::BadKey {
                key: "ProvisionedDevices",
                ..
            })
        ));
        assert!(matches!(
            parse(&format!(
                "{uuid}{exp}<key>DeveloperCertificates</key><array><string>x</string></array>"
            )),
            Err(ProfileError::BadKey {
                key: "DeveloperCertificates",
                ..
            })
        ));
        // macOS profiles: com.apple.-prefixed entitlement keys.
        let mac = parse(&format!(
            "{uuid}{exp}<key>TeamIdentifier</key><array><string>T123456789</string></array>\
             <key>Entitlements</key><dict><key>com.apple.application-identifier</key>\
             <string>T123456789.com.example.mac</string>\
             <key>com.apple.developer.aps-environment</key><string>production</string></dict>"
        ))
        .unwrap();
        assert_eq!(mac.bundle_id.as_deref(), Some("com.example.mac"));
        assert_eq!(mac.aps_environment.as_deref(), Some("production"));
    }
}
