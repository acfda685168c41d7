//! CSR checks. pushca takes exactly one thing from a CSR: its public key, and
//! only after the CSR's self-signature verifies with an acceptable algorithm and
//! the key is one we accept. Names, extensions, SANs and attributes are ignored.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::keys::{KeyAlgorithm, OID_P256, OID_P384};

#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    #[error("not a certificate signing request: {0}")]
    Malformed(String),
    #[error("CSR signature algorithm {0} is not accepted (SHA-1 and MD5 are broken; use SHA-256 or stronger)")]
    WeakSignatureAlgorithm(String),
    #[error("CSR signature algorithm {0} is not supported")]
    UnsupportedSignatureAlgorithm(String),
    #[error("CSR signature does not verify: the request was altered or signed by another key")]
    BadSignature,
    #[error("CSR key rejected: {0}")]
    WeakKey(String),
}

/// A CSR whose signature verified; carries only what issuance may use.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// DER SubjectPublicKeyInfo exactly as in the CSR.
    pub spki_der: Vec<u8>,
    pub algorithm: KeyAlgorithm,
    /// The subject the requester asked for, for display only (never copied).
    pub requested_subject: String,
}

const OID_MD5_RSA: &str = "1.2.840.113549.1.1.4";
const OID_MD2_RSA: &str = "1.2.840.113549.1.1.2";
const OID_SHA1_RSA: &str = "1.2.840.113549.1.1.5";
const OID_SHA1_RSA_OIW: &str = "1.3.14.3.2.29";
const OID_ECDSA_SHA1: &str = "1.2.840.10045.4.1";
const OID_DSA_SHA1: &str = "1.2.840.10040.4.3";
const WEAK_SIGNATURES: &[(&str, &str)] = &[
    (OID_MD5_RSA, "md5WithRSAEncryption"),
    (OID_MD2_RSA, "md2WithRSAEncryption"),
    (OID_SHA1_RSA, "sha1WithRSAEncryption"),
    (OID_SHA1_RSA_OIW, "sha1WithRSA"),
    (OID_ECDSA_SHA1, "ecdsa-with-SHA1"),
    (OID_DSA_SHA1, "dsa-with-SHA1"),
];
const ACCEPTED_SIGNATURES: &[&str] = &[
    "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
    "1.2.840.113549.1.1.12", // sha384WithRSAEncryption
    "1.2.840.113549.1.1.13", // sha512WithRSAEncryption
    "1.2.840.113549.1.1.10", // RSASSA-PSS (hash checked by the verifier: SHA-256+)
    "1.2.840.10045.4.3.2",   // ecdsa-with-SHA256
    "1.2.840.10045.4.3.3",   // ecdsa-with-SHA384
];

/// Reads a CSR in PEM (`CERTIFICATE REQUEST` or the older `NEW CERTIFICATE
/// REQUEST`, text around it allowed) or DER.
pub fn csr_der_from_bytes(bytes: &[u8]) -> Result<Vec<u8>, CsrError> {
    use crate::pem::Found;
    match crate::pem::der_or_block(bytes, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]) {
        Ok(Found::Der(der)) => Ok(der.to_vec()),
        Ok(Found::Block(b)) => Ok(b.der.to_vec()),
        Ok(Found::Other(labels)) if labels.is_empty() => Err(CsrError::Malformed(
            "neither a PEM CERTIFICATE REQUEST nor DER".into(),
        )),
        Ok(Found::Other(labels)) => Err(CsrError::Malformed(format!(
            "PEM holds {}, not a CERTIFICATE REQUEST",
            labels.join(", ")
        ))),
        Err(e) => Err(CsrError::Malformed(format!("invalid PEM ({e})"))),
    }
}

/// Parses a CSR (PEM or DER), verifies its signature and checks its key.
pub fn check_csr(bytes: &[u8]) -> Result<CheckedCsr, CsrError> {
    let der = csr_der_from_bytes(bytes)?;
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|e| CsrError::Malformed(format!("invalid PKCS#10 structure ({e})")))?;
    if !rest.is_empty() {
        return Err(CsrError::Malformed("trailing data after the CSR".into()));
    }
    let info = &csr.certification_request_info;
    let algorithm = check_key(&info.subject_pki)?;
    let sig_oid = csr.signature_algorithm.algorithm.to_id_string();
    if let Some((_, name)) = WEAK_SIGNATURES.iter().find(|(o, _)| *o == sig_oid) {
        return Err(CsrError::WeakSignatureAlgorithm((*name).to_string()));
    }
    if !ACCEPTED_SIGNATURES.contains(&sig_oid.as_str()) {
        return Err(CsrError::UnsupportedSignatureAlgorithm(sig_oid));
    }
    csr.verify_signature().map_err(|e| match e {
        x509_parser::error::X509Error::SignatureUnsupportedAlgorithm => {
            CsrError::UnsupportedSignatureAlgorithm(sig_oid.clone())
        }
        _ => CsrError::BadSignature,
    })?;
    Ok(CheckedCsr {
        spki_der: info.subject_pki.raw.to_vec(),
        algorithm,
        requested_subject: info.subject.to_string(),
    })
}

fn check_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<KeyAlgorithm, CsrError> {
    let parsed = spki
        .parsed()
        .map_err(|e| CsrError::WeakKey(format!("unreadable public key ({e})")))?;
    match parsed {
        PublicKey::RSA(rsa) => {
            let bits = rsa.key_size();
            if ![2048, 3072, 4096].contains(&bits) {
                return Err(CsrError::WeakKey(format!(
                    "RSA-{bits} (accepted: RSA 2048, 3072, 4096)"
                )));
            }
            let e = rsa
                .exponent
                .iter()
                .skip_while(|b| **b == 0)
                .copied()
                .collect::<Vec<u8>>();
            if e != [0x01, 0x00, 0x01] {
                return Err(CsrError::WeakKey(format!(
                    "RSA public exponent 0x{} (must be 65537)",
                    hex::encode(&e)
                )));
            }
            Ok(KeyAlgorithm::Rsa { bits })
        }
        PublicKey::EC(_) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                OID_P256 => Ok(KeyAlgorithm::EcP256),
                OID_P384 => Ok(KeyAlgorithm::EcP384),
                "" => Err(CsrError::WeakKey("EC key without a named curve".into())),
                other => Err(CsrError::WeakKey(format!(
                    "EC curve {other} (accepted: P-256, P-384)"
                ))),
            }
        }
        _ => Err(CsrError::WeakKey(format!(
            "{} keys are not accepted (RSA 2048/3072/4096, EC P-256/P-384)",
            key_kind_name(&spki.algorithm.algorithm.to_id_string())
        ))),
    }
}

fn key_kind_name(oid: &str) -> String {
    match oid {
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.2.840.10040.4.1" => "DSA".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS".into(),
        other => format!("algorithm {other}"),
    }
}

/// Makes a PKCS#10 CSR (DER) for `key`, like Keychain Access's "Request a
/// Certificate From a Certificate Authority": subject CN and optional
/// emailAddress, signed with SHA-256 (SHA-384 for P-384 keys).
pub fn make_csr(
    key: &crate::keys::PrivateKey,
    common_name: &str,
    email: Option<&str>,
) -> Result<Vec<u8>, CsrError> {
    let kp = key
        .to_rcgen()
        .map_err(|e| CsrError::Malformed(e.to_string()))?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(e) = email {
        let ia5 = rcgen::string::Ia5String::try_from(e)
            .map_err(|_| CsrError::Malformed(format!("email '{e}' is not ASCII")))?;
        dn.push(
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            rcgen::DnValue::Ia5String(ia5),
        );
    }
    dn.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let req = params
        .serialize_request(&kp)
        .map_err(|e| CsrError::Malformed(e.to_string()))?;
    Ok(req.der().to_vec())
}
