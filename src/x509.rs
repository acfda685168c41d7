//! Reading certificates: the one [`CertSummary`] every command and the
//! gateway use, and the one SHA-256 (ring's) behind every fingerprint.
//! Part of the verification core: built without the issuing side.

use serde::Serialize;
use x509_parser::prelude::*;

use crate::x509ext::{self, Environment, OID_TOPICS, OID_UID};

/// OID of the NIST P-256 curve (`prime256v1`).
pub const OID_P256: &str = "1.2.840.10045.3.1.7";
/// OID of the NIST P-384 curve (`secp384r1`).
pub const OID_P384: &str = "1.3.132.0.34";

/// SHA-256 of `data` (certificate and file fingerprints).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

/// SHA-256 of `data`, lowercase hex (certificate fingerprints).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

/// Lowercase hex of the minimal big-endian bytes (even length, as openssl
/// prints it without the colons): the form the store and `cert show` use.
pub fn serial_hex(bytes: &[u8]) -> String {
    let first = bytes
        .iter()
        .position(|x| *x != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    hex::encode(bytes.get(first..).unwrap_or(bytes))
}

/// Why bytes are not one X.509 certificate.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum NotCertificate {
    /// Not DER of an X.509 certificate.
    #[error("invalid X.509 structure ({0})")]
    Structure(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// Bytes follow the certificate.
    #[error("trailing data after the certificate")]
    TrailingData,
    /// The push topics extension cannot be read.
    #[error("{0}")]
    Topics(#[source] crate::x509ext::ExtError),
}

/// A readable summary of one certificate, like a trimmed `openssl x509 -text`,
/// with the push attributes (environments, topics) the gateway enforces.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    /// Subject in RFC 4514-ish form as x509-parser prints it.
    pub subject: String,
    /// The subject's first common name, if any.
    pub common_name: Option<String>,
    /// Issuer, in the same form as `subject`.
    pub issuer: String,
    /// Lowercase hex ([`serial_hex`]).
    pub serial: String,
    /// Seconds since the epoch.
    pub not_before: i64,
    /// Seconds since the epoch.
    pub not_after: i64,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// The key type in the `--key-type` vocabulary (`rsa-2048`, `ec-p256`, ...).
    pub public_key: String,
    /// Basic constraints say CA.
    pub is_ca: bool,
    /// The UID attribute (the bundle ID of a push certificate).
    pub bundle_id: Option<String>,
    /// The environments the certificate carries, sorted.
    pub environments: Vec<Environment>,
    /// Topics from the topics extension, or derived from the UID without it.
    pub topics: Vec<String>,
    /// Extended key usages by name (`clientAuth`, ...) or dotted OID.
    pub extended_key_usage: Vec<String>,
}

impl CertSummary {
    /// The summary of one DER certificate (nothing may follow it).
    pub fn from_der(der: &[u8]) -> Result<CertSummary, NotCertificate> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(NotCertificate::Structure)?;
        if !rest.is_empty() {
            return Err(NotCertificate::TrailingData);
        }
        let bundle_id = cert
            .subject()
            .iter_attributes()
            .find(|a| a.attr_type().to_id_string() == OID_UID)
            .and_then(|a| a.as_str().ok())
            .map(str::to_string);
        let mut environments = Vec::new();
        let mut topics = None;
        for ext in cert.extensions() {
            let oid = ext.oid.to_id_string();
            if let Some(env) = Environment::from_oid(&oid) {
                environments.push(env);
            } else if oid == OID_TOPICS {
                topics = Some(
                    x509ext::decode_topics(ext.value)
                        .map_err(NotCertificate::Topics)?
                        .into_iter()
                        .map(|t| t.topic)
                        .collect::<Vec<_>>(),
                );
            }
        }
        environments.sort();
        environments.dedup();
        let topics = match (topics, &bundle_id) {
            (Some(t), _) => t,
            (None, Some(id)) => x509ext::default_topics(id)
                .into_iter()
                .map(|t| t.topic)
                .collect(),
            (None, None) => Vec::new(),
        };
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|n| n.as_str().ok())
            .map(str::to_string);
        Ok(CertSummary {
            subject: cert.subject().to_string(),
            common_name,
            issuer: cert.issuer().to_string(),
            serial: serial_hex(cert.raw_serial()),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            sha256: sha256_hex(der),
            public_key: describe_key(cert.public_key()),
            is_ca: cert.is_ca(),
            bundle_id,
            environments,
            topics,
            extended_key_usage: extended_key_usage(&cert),
        })
    }

    /// Whole days from `now` until expiry (negative once expired):
    /// [`crate::timeutil::days_left`].
    pub fn days_left(&self, now: i64) -> i64 {
        crate::timeutil::days_left(self.not_after, now)
    }
}

fn extended_key_usage(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut eku = Vec::new();
    if let Ok(Some(e)) = cert.extended_key_usage() {
        let e = e.value;
        for (set, name) in [
            (e.client_auth, "clientAuth"),
            (e.server_auth, "serverAuth"),
            (e.code_signing, "codeSigning"),
            (e.email_protection, "emailProtection"),
            (e.any, "anyExtendedKeyUsage"),
        ] {
            if set {
                eku.push(name.to_string());
            }
        }
    }
    eku
}

/// The key in the `--key-type` vocabulary (`rsa-2048`, `ec-p256`, `ec-p384`),
/// extended to keys pushca does not make (`rsa-1024`, `ec-<curve OID>`).
fn describe_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> String {
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(r)) => format!("rsa-{}", r.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(_)) => {
            match spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .as_deref()
            {
                Some(OID_P256) => "ec-p256".into(),
                Some(OID_P384) => "ec-p384".into(),
                Some(other) => format!("ec-{other}"),
                None => "ec".into(),
            }
        }
        _ => spki.algorithm.algorithm.to_id_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_standard_digest() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex::encode(sha256(b"abc")), sha256_hex(b"abc"));
    }

    #[test]
    fn summary_refuses_junk_and_trailing_data() {
        assert!(CertSummary::from_der(b"not a certificate").is_err());
    }
}
