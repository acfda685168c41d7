//! Push certificate issuance: Apple's subject, extensions and validity, the
//! requester's public key, nothing else from the CSR.

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SubjectPublicKeyInfo,
};
use time::OffsetDateTime;

use super::authority::printable;
use super::issuer::Issuer;
use super::templates::PushTemplate;
use super::{serial, CaError, CheckedCsr};
use crate::x509::{serial_hex, sha256_hex};
use crate::x509ext::{self, ARC_TOPICS, ARC_UID};

/// Who a push certificate is for.
pub struct PushSubject<'a> {
    /// The App ID's bundle ID: the certificate's UID and its topics.
    pub bundle_id: &'a str,
    /// The team ID (subject OU).
    pub team_id: &'a str,
    /// The team's name (subject O).
    pub team_name: &'a str,
    /// Two-letter country code (subject C).
    pub country: &'a str,
}

/// A certificate pushca just signed.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Serial, lowercase hex (see [`serial_hex`]).
    pub serial: String,
    /// SHA-256 fingerprint of `der`, lowercase hex without separators.
    pub sha256: String,
    /// The subject, as displayed (RFC 4514 string).
    pub subject: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity (after the template's months or days).
    pub not_after: OffsetDateTime,
}

/// Adds calendar months, clamping the day to the target month's length.
pub(crate) fn add_months(t: OffsetDateTime, months: u32) -> OffsetDateTime {
    let total = t.year() * 12 + (t.month() as i32 - 1) + months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = time::Month::try_from(month0 as u8 + 1).unwrap_or(time::Month::January);
    let last = month.length(year);
    let day = t.day().min(last);
    match time::Date::from_calendar_date(year, month, day) {
        Ok(d) => t.replace_date(d),
        Err(_) => t + time::Duration::days(i64::from(months) * 30),
    }
}

impl PushTemplate {
    pub(crate) fn not_after(&self, not_before: OffsetDateTime) -> OffsetDateTime {
        match (self.validity_months, self.validity_days) {
            (Some(m), _) => add_months(not_before, m),
            (None, Some(d)) => not_before + time::Duration::days(i64::from(d)),
            (None, None) => add_months(not_before, 13),
        }
    }
}

impl Issuer {
    /// Signs a push certificate for `subject` with the CSR's public key.
    pub fn issue_push_certificate(
        &self,
        template: &PushTemplate,
        subject: &PushSubject<'_>,
        csr: &CheckedCsr,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let public_key = SubjectPublicKeyInfo::from_der(&csr.spki_der).map_err(CaError::Build)?;
        // rcgen re-encodes the key; make sure the certificate carries exactly
        // the key the requester signed the CSR with.
        if public_key.subject_public_key_info() != csr.spki_der {
            return Err(CaError::NonCanonicalKey);
        }
        let now = now.replace_nanosecond(0).unwrap_or(now);

        let mut dn = DistinguishedName::new();
        dn.push(DnType::CustomDnType(ARC_UID.to_vec()), subject.bundle_id);
        dn.push(
            DnType::CommonName,
            format!("{}{}", template.common_name_prefix, subject.bundle_id),
        );
        dn.push(DnType::OrganizationalUnitName, subject.team_id);
        dn.push(DnType::OrganizationName, subject.team_name);
        dn.push(DnType::CountryName, printable(subject.country)?);

        let serial_bytes = serial::random_serial();
        let mut p = CertificateParams::default();
        p.distinguished_name = dn;
        p.serial_number = Some(SerialNumber::from_slice(&serial_bytes));
        p.not_before = now;
        p.not_after = template.not_after(now);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        p.key_identifier_method = rcgen::KeyIdMethod::Sha256;
        for env in &template.environments {
            p.custom_extensions.push(CustomExtension::from_oid_content(
                env.arc(),
                x509ext::ENVIRONMENT_VALUE.to_vec(),
            ));
        }
        let topics = x509ext::encode_topics(subject.bundle_id, &template.topics)?;
        p.custom_extensions
            .push(CustomExtension::from_oid_content(ARC_TOPICS, topics));
        let cert = p.signed_by(&public_key, self.rcgen())?;
        let der = cert.der().to_vec();
        Ok(IssuedCertificate {
            serial: serial_hex(&serial_bytes),
            sha256: sha256_hex(&der),
            subject: format!(
                "UID={}, CN={}{}, OU={}, O={}, C={}",
                subject.bundle_id,
                template.common_name_prefix,
                subject.bundle_id,
                subject.team_id,
                subject.team_name,
                subject.country
            ),
            not_before: p.not_before,
            not_after: p.not_after,
            der,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_clamp() {
        assert_eq!(
            add_months(datetime!(2026-01-31 10:00 UTC), 13),
            datetime!(2027-02-28 10:00 UTC)
        );
        assert_eq!(
            add_months(datetime!(2026-11-23 0:00 UTC), 13),
            datetime!(2027-12-23 0:00 UTC)
        );
        assert_eq!(
            add_months(datetime!(2027-11-30 0:00 UTC), 3),
            datetime!(2028-02-29 0:00 UTC)
        );
    }
}
