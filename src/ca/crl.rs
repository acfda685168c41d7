//! Certificate revocation lists: v2 CRLs signed by the issuing CA, with a
//! CRL number and the authority key identifier equal to the issuing CA's SKI.

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

use super::{CaError, Issuer};
use crate::error::BoxError;

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

/// A record's field that does not fit a CRL: `reason`, and the lower error.
fn bad_entry(e: &CrlEntry, reason: &'static str, source: impl Into<BoxError>) -> CaError {
    CaError::CrlEntry {
        serial: e.serial.clone(),
        reason,
        source: source.into(),
    }
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
        let serial =
            hex::decode(&e.serial).map_err(|x| bad_entry(e, "the serial is not hex", x))?;
        let revocation_time = OffsetDateTime::from_unix_timestamp(e.revoked_at)
            .map_err(|x| bad_entry(e, "the revocation time is out of range", x))?;
        revoked.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial),
            revocation_time,
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

    /// A record that does not fit a CRL is refused with the lower error
    /// (hex's, time's) as the source, as its type.
    #[test]
    fn bad_records_have_typed_sources() {
        use crate::ca::authority::{create_hierarchy, InitParams};
        use std::error::Error;
        let h = create_hierarchy(&InitParams {
            team_name: "T",
            team_id: "ABCDE12345",
            country: "US",
            key_type: crate::keys::KeyType::EcP256,
            now: OffsetDateTime::now_utc(),
            templates_dir: None,
        })
        .unwrap();
        let signer = crate::keys::signer::Signer::new(h.issuing.key).unwrap();
        let issuer = Issuer::new(h.issuing.der, signer).unwrap();
        let now = OffsetDateTime::now_utc();
        let sign = |serial: &str, revoked_at: i64| {
            let entry = CrlEntry {
                serial: serial.into(),
                revoked_at,
                reason: None,
            };
            sign_crl(&issuer, &[entry], 1, now, now + time::Duration::days(1))
        };
        if let Err(e) = sign("0a", 0) {
            panic!("a sound record signs: {e:?}");
        }
        let e = sign("zz", 0).unwrap_err();
        let hex = e
            .source()
            .and_then(|s| s.downcast_ref::<hex::FromHexError>());
        let hex = hex.expect("hex's error is the source");
        assert_eq!(
            e.to_string(),
            format!("revoked certificate zz: the serial is not hex ({hex})")
        );
        let e = sign("0a", i64::MAX).unwrap_err();
        let time = e
            .source()
            .and_then(|s| s.downcast_ref::<time::error::ComponentRange>());
        assert!(time.is_some(), "{e}");
        assert_eq!(e.kind(), crate::error::ErrorKind::Internal);
    }
}
