//! `status`: what expires when — the CA certificates, push certificates,
//! current profiles and the CRL.

use super::{now, open_store, Result};
use crate::ca::authority::{read_ca_cert, ISSUING, PROFILE_SIGNER, ROOT};
use crate::home::Home;
use crate::store::{CertFilter, CertRecord, ProfileFilter, ProfileRecord};
use crate::timeutil::{days_left, serialize_rfc3339};

/// One CA certificate of the home.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaStatus {
    /// `root`, `issuing` or `profile-signer`.
    pub name: &'static str,
    /// When it expires (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// Whole days until then, negative once past.
    pub days_left: i64,
    /// Subject DN, one line.
    pub subject: String,
}

/// A valid certificate the store issued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CertStatus {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// `push`, `server` or `device` (these two without App ID and environment).
    pub kind: String,
    /// The App ID (empty for a server certificate or a device identity).
    pub bundle_id: String,
    /// `development`, `production` or `universal`.
    pub environment: String,
    /// When it expires (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// Whole days until then.
    pub days_left: i64,
}

/// A current profile.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProfileStatus {
    /// The profile UUID.
    pub uuid: String,
    /// The App ID.
    pub bundle_id: String,
    /// `development` or `production`.
    pub environment: String,
    /// When it expires (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub expires_at: i64,
    /// Whole days until then.
    pub days_left: i64,
}

/// The newest CRL of the issuing CA.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrlStatus {
    /// Its CRL number.
    pub number: i64,
    /// When it must be replaced (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub next_update: i64,
    /// Whole days until then, negative once past.
    pub days_left: i64,
}

/// `status`: what expires when.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// When it was measured (unix seconds).
    #[serde(skip)]
    pub now: i64,
    /// Root, issuing CA and profile signer, in that order.
    pub ca: Vec<CaStatus>,
    /// Unrevoked, unexpired push certificates, soonest expiry first.
    pub certificates: Vec<CertStatus>,
    /// How many certificates are revoked.
    pub revoked: usize,
    /// How many unrevoked certificates have expired.
    pub expired: usize,
    /// Current (not superseded, not expired) profiles.
    pub profiles: Vec<ProfileStatus>,
    /// Null when no CRL was ever signed.
    pub crl: Option<CrlStatus>,
    /// The window asked for, in days.
    pub expiring_within: Option<u32>,
    /// When `expiring_within` was given: how many items fall in the window.
    pub expiring: usize,
}

impl Status {
    /// The end of the window asked for (unix seconds), if any.
    pub fn window_end(&self) -> Option<i64> {
        self.expiring_within
            .map(|d| self.now + i64::from(d) * crate::timeutil::SECS_PER_DAY)
    }
}

/// What expires when in `home`; with `within_days`, how many items expire
/// within that many days.
pub fn status(home: &Home, within_days: Option<u32>) -> Result<Status> {
    let t = now().unix_timestamp();
    let files = home.ca_files();
    let mut ca = Vec::new();
    let mut st = open_store(home)?;
    for name in [ROOT, ISSUING, PROFILE_SIGNER] {
        let der = read_ca_cert(&files, name)?;
        let (subject, not_after) = x509_parser::parse_x509_certificate(&der)
            .map(|(_, c)| (c.subject().to_string(), c.validity().not_after.timestamp()))
            .map_err(|e| crate::ca::CaError::NotCertificate(e.into()))?;
        ca.push(CaStatus {
            name,
            not_after,
            days_left: days_left(not_after, t),
            subject,
        });
    }
    let (all, profiles, crl) = st.read(|tx| -> Result<_> {
        Ok((
            tx.list_certificates(&CertFilter::default())?,
            tx.list_profiles(&ProfileFilter::default())?,
            tx.latest_crl(super::revocation::CrlIssuer::Issuing.name())?,
        ))
    })?;
    let revoked = all.iter().filter(|c| c.revoked_at.is_some()).count();
    let expired = all
        .iter()
        .filter(|c| c.revoked_at.is_none() && c.not_after <= t)
        .count();
    let certificates: Vec<CertRecord> = all
        .into_iter()
        .filter(|c| c.revoked_at.is_none() && c.not_after > t)
        .collect();
    let profiles: Vec<ProfileRecord> = profiles.into_iter().filter(|p| p.expires_at > t).collect();
    let expiring = match within_days {
        None => 0,
        Some(d) => {
            let limit = t + i64::from(d) * crate::timeutil::SECS_PER_DAY;
            ca.iter().filter(|c| c.not_after < limit).count()
                + certificates.iter().filter(|c| c.not_after < limit).count()
                + profiles.iter().filter(|p| p.expires_at < limit).count()
                + crl.iter().filter(|c| c.next_update < limit).count()
        }
    };
    Ok(Status {
        now: t,
        ca,
        certificates: certificates
            .iter()
            .map(|c| CertStatus {
                serial: c.serial.clone(),
                kind: c.kind.clone(),
                bundle_id: c.bundle_id.clone(),
                environment: c.environment.clone(),
                not_after: c.not_after,
                days_left: days_left(c.not_after, t),
            })
            .collect(),
        revoked,
        expired,
        profiles: profiles
            .iter()
            .map(|p| ProfileStatus {
                uuid: p.uuid.clone(),
                bundle_id: p.bundle_id.clone(),
                environment: p.environment.clone(),
                expires_at: p.expires_at,
                days_left: days_left(p.expires_at, t),
            })
            .collect(),
        crl: crl.map(|c| CrlStatus {
            number: c.number,
            next_update: c.next_update,
            days_left: days_left(c.next_update, t),
        }),
        expiring_within: within_days,
        expiring,
    })
}
