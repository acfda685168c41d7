//! `status`: what expires when — the CA certificates, push certificates,
//! current profiles and the CRL.

use super::{now, open_store, Result};
use crate::ca::authority::{read_ca_cert, CaFiles, ISSUING, PROFILE_SIGNER, ROOT};
use crate::home::Home;
use crate::store::{CertFilter, CertRecord, CrlRecord, ProfileFilter, ProfileRecord};

/// One CA certificate of the home.
#[derive(Debug, Clone)]
pub struct CaStatus {
    pub name: &'static str,
    pub subject: String,
    pub not_after: i64,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub now: i64,
    pub ca: Vec<CaStatus>,
    /// Unrevoked, unexpired push certificates, soonest expiry first.
    pub certificates: Vec<CertRecord>,
    pub revoked: usize,
    pub expired: usize,
    /// Current (not superseded, not expired) profiles.
    pub profiles: Vec<ProfileRecord>,
    pub crl: Option<CrlRecord>,
    /// When `within_days` was given: how many items fall in the window.
    pub expiring: usize,
}

pub fn status(home: &Home, within_days: Option<u32>) -> Result<Status> {
    let t = now().unix_timestamp();
    let files = CaFiles::new(home.ca_dir());
    let mut ca = Vec::new();
    let mut st = open_store(home)?;
    for name in [ROOT, ISSUING, PROFILE_SIGNER] {
        let der = read_ca_cert(&files, name)?;
        let (subject, not_after) = x509_parser::parse_x509_certificate(&der)
            .map(|(_, c)| (c.subject().to_string(), c.validity().not_after.timestamp()))
            .map_err(|e| crate::ca::CaError::NotCertificate(e.into()))?;
        ca.push(CaStatus {
            name,
            subject,
            not_after,
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
            let limit = t + i64::from(d) * 86_400;
            ca.iter().filter(|c| c.not_after < limit).count()
                + certificates.iter().filter(|c| c.not_after < limit).count()
                + profiles.iter().filter(|p| p.expires_at < limit).count()
                + crl.iter().filter(|c| c.next_update < limit).count()
        }
    };
    Ok(Status {
        now: t,
        ca,
        certificates,
        revoked,
        expired,
        profiles,
        crl,
        expiring,
    })
}
