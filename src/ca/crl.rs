//! Certificate revocation lists: v2 CRLs signed by the issuing CA, with a
//! CRL number and the authority key identifier equal to the issuing CA's SKI.

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

use super::{CaError, Issuer};

/// RFC 5280 reason codes, by the names RFC 5280 gives them.
pub const REASONS: &[(&str, RevocationReason)] = &[
    ("unspecified", RevocationReason::Unspecified),
    ("keyCompromise", RevocationReason::KeyCompromise),
    ("cACompromise", RevocationReason::CaCompromise),
    ("affiliationChanged", RevocationReason::AffiliationChanged),
    ("superseded", RevocationReason::Superseded),
    (
        "cessationOfOperation",
        RevocationReason::CessationOfOperation,
    ),
    ("certificateHold", RevocationReason::CertificateHold),
    ("privilegeWithdrawn", RevocationReason::PrivilegeWithdrawn),
    ("aACompromise", RevocationReason::AaCompromise),
];

/// The canonical RFC 5280 name of a reason given in any case, with or
/// without dashes or underscores (`key-compromise`, `KEYCOMPROMISE`).
/// `removeFromCRL` is refused: it only exists in delta CRLs.
pub(crate) fn reason_name(input: &str) -> Option<&'static str> {
    let norm: String = input
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    REASONS
        .iter()
        .find(|(n, _)| n.to_ascii_lowercase() == norm)
        .map(|(n, _)| *n)
}

fn reason_code(name: &str) -> Option<RevocationReason> {
    REASONS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// A certificate on the CRL.
#[derive(Debug, Clone)]
pub(crate) struct CrlEntry {
    /// Serial, lowercase hex.
    pub(crate) serial: String,
    pub(crate) revoked_at: i64,
    /// Canonical reason name ([`reason_name`]); `None` or `unspecified` adds no
    /// reason code extension (RFC 5280 5.3.1: absent rather than unspecified).
    pub(crate) reason: Option<String>,
}

fn ts(t: i64) -> Result<OffsetDateTime, CaError> {
    OffsetDateTime::from_unix_timestamp(t)
        .map_err(|_| CaError::NotCertificate(format!("time {t} out of range").into()))
}

/// Big-endian bytes without leading zero bytes (at least one byte).
fn minimal(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|x| **x == 0).count().min(b.len() - 1);
    &b[skip..]
}

/// Signs a CRL (DER) with the issuing CA.
pub(crate) fn sign_crl(
    issuer: &Issuer,
    entries: &[CrlEntry],
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    let (_, cert) = x509_parser::parse_x509_certificate(issuer.cert_der())
        .map_err(|e| CaError::NotCertificate(e.into()))?;
    let ski = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .ok_or(CaError::CaFile {
            path: "issuing CA certificate".into(),
            reason: "has no subject key identifier",
        })?;
    let mut revoked = Vec::with_capacity(entries.len());
    for e in entries {
        let serial = hex::decode(&e.serial).map_err(|_| {
            CaError::NotCertificate(format!("serial {} is not hex", e.serial).into())
        })?;
        revoked.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial),
            revocation_time: ts(e.revoked_at)?,
            reason_code: e
                .reason
                .as_deref()
                .filter(|r| *r != "unspecified")
                .and_then(reason_code),
            invalidity_date: None,
        });
    }
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from_slice(minimal(&number.to_be_bytes())),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: KeyIdMethod::PreSpecified(ski),
    };
    Ok(params.signed_by(issuer.rcgen())?.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names() {
        assert_eq!(reason_name("key-compromise"), Some("keyCompromise"));
        assert_eq!(reason_name("KEYCOMPROMISE"), Some("keyCompromise"));
        assert_eq!(reason_name("ca_compromise"), Some("cACompromise"));
        assert_eq!(reason_name("superseded"), Some("superseded"));
        assert_eq!(reason_name("removeFromCRL"), None);
        assert_eq!(reason_name("bogus"), None);
    }
}
