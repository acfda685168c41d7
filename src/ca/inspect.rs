//! Reading certificates back: the summary `cert show` prints, and the push
//! attributes (environments, topics) the gateway enforces.

use serde::Serialize;
use x509_parser::prelude::*;

use super::{sha256_hex, CaError};
use crate::x509ext::{self, Environment, OID_TOPICS, OID_UID};

/// A readable summary of one certificate, like a trimmed `openssl x509 -text`.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    pub sha256: String,
    pub public_key: String,
    pub is_ca: bool,
    /// The UID attribute (the bundle ID of a push certificate).
    pub bundle_id: Option<String>,
    /// The environments the certificate carries, sorted.
    pub environments: Vec<Environment>,
    /// Topics from the topics extension, or derived from the UID without it.
    pub topics: Vec<String>,
    pub extended_key_usage: Vec<String>,
}

impl CertSummary {
    pub fn from_der(der: &[u8]) -> Result<CertSummary, CaError> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| {
            CaError::NotCertificate(format!("invalid X.509 structure ({e})").into())
        })?;
        if !rest.is_empty() {
            return Err(CaError::NotCertificate(
                "trailing data after the certificate".into(),
            ));
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
                        .map_err(|e| CaError::NotCertificate(e.into()))?
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
        Ok(CertSummary {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: super::serial::serial_hex(cert.raw_serial()),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            sha256: sha256_hex(der),
            public_key: describe_key(cert.public_key()),
            is_ca: cert.is_ca(),
            bundle_id,
            environments,
            topics,
            extended_key_usage: eku,
        })
    }

    /// Whole days from `now` until expiry (negative once expired).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
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
                Some(crate::keys::OID_P256) => "ec-p256".into(),
                Some(crate::keys::OID_P384) => "ec-p384".into(),
                Some(other) => format!("ec-{other}"),
                None => "ec".into(),
            }
        }
        _ => spki.algorithm.algorithm.to_id_string(),
    }
}
