//! Certificates from files (PEM with any number of blocks, or one DER) and
//! key ↔ certificate matching.

#[cfg(feature = "ca")]
use crate::keys::PrivateKey;

/// Why certificates cannot be read from a file's bytes.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CertFileError {
    /// Neither PEM `CERTIFICATE` blocks nor one DER certificate.
    #[error("no certificate found (expected PEM 'CERTIFICATE' blocks or one DER certificate)")]
    NoCertificate,
    /// A certificate does not parse (x509-parser's error).
    #[error("invalid certificate: {0}")]
    Invalid(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// The certificate parses but cannot be summarised.
    #[error("invalid certificate: {0}")]
    Summary(#[source] crate::x509::NotCertificate),
    /// The key to compare with the certificate cannot be read.
    #[cfg(feature = "ca")]
    #[error("invalid certificate: {0}")]
    Key(#[source] crate::keys::KeyError),
    /// The PEM text is malformed.
    #[error(transparent)]
    Pem(#[from] crate::pem::PemError),
}

impl CertFileError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CertFileError::NoCertificate
            | CertFileError::Invalid(_)
            | CertFileError::Summary(_) => ErrorKind::Input,
            #[cfg(feature = "ca")]
            CertFileError::Key(k) => k.kind(),
            CertFileError::Pem(p) => p.kind(),
        }
    }
}

/// The certificates (DER) of a PEM file (every `CERTIFICATE` block, in order)
/// or of a DER file (exactly one certificate). Each one is checked to parse.
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, CertFileError> {
    let pem = crate::pem::is_pem(bytes);
    let ders: Vec<Vec<u8>> = if pem {
        crate::pem::blocks(bytes)?
            .into_iter()
            .filter(|b| {
                matches!(
                    b.label.as_str(),
                    "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE"
                )
            })
            .map(|b| b.der.to_vec())
            .collect()
    } else {
        vec![bytes.to_vec()]
    };
    if ders.is_empty() {
        return Err(CertFileError::NoCertificate);
    }
    for d in &ders {
        x509_parser::parse_x509_certificate(d).map_err(|e| {
            if ders.len() == 1 && !pem {
                CertFileError::NoCertificate
            } else {
                CertFileError::Invalid(e)
            }
        })?;
    }
    Ok(ders)
}

/// The subject CN of a certificate, if any.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn common_name(der: &[u8]) -> Option<String> {
    crate::x509::CertSummary::from_der(der)
        .ok()
        .and_then(|s| s.common_name)
}

/// The DER `SubjectPublicKeyInfo` of a certificate.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn certificate_spki(der: &[u8]) -> Result<Vec<u8>, CertFileError> {
    let (_, c) = x509_parser::parse_x509_certificate(der).map_err(CertFileError::Invalid)?;
    Ok(c.public_key().raw.to_vec())
}

/// Whether two SPKIs are the same key: same algorithm OID and parameters
/// (ignoring NULL-vs-absent) and the same key bits.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn same_public_key(a: &[u8], b: &[u8]) -> bool {
    use spki::der::Decode;
    let (Ok(a), Ok(b)) = (
        spki::SubjectPublicKeyInfoRef::from_der(a),
        spki::SubjectPublicKeyInfoRef::from_der(b),
    ) else {
        return false;
    };
    let params =
        |p: Option<spki::der::AnyRef<'_>>| p.filter(|x| !x.is_null()).map(|x| x.value().to_vec());
    a.algorithm.oid == b.algorithm.oid
        && params(a.algorithm.parameters) == params(b.algorithm.parameters)
        && a.subject_public_key == b.subject_public_key
}

/// Whether `key` is the private key of the certificate `cert_der`.
#[cfg(feature = "ca")]
pub(crate) fn key_matches_certificate(
    key: &PrivateKey,
    cert_der: &[u8],
) -> Result<bool, CertFileError> {
    let cert_spki = certificate_spki(cert_der)?;
    let key_spki = crate::keys::decode::public_key_spki(key).map_err(CertFileError::Key)?;
    Ok(same_public_key(&cert_spki, &key_spki))
}

#[cfg(test)]
#[cfg(feature = "ca")]
mod tests {
    use super::*;

    #[test]
    fn certificates_from_pem_and_der() {
        let kp = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let der = cert.der().to_vec();
        assert_eq!(read_certificates(&der).unwrap(), vec![der.clone()]);
        let two = format!("{}{}", cert.pem(), cert.pem());
        assert_eq!(read_certificates(two.as_bytes()).unwrap().len(), 2);
        assert!(matches!(
            read_certificates(b"hello"),
            Err(CertFileError::NoCertificate)
        ));
        let key = PrivateKey::from_pkcs8_der(&kp.serialize_der()).unwrap();
        assert!(key_matches_certificate(&key, &der).unwrap());
        let other = PrivateKey::generate(crate::keys::KeyType::EcP256).unwrap();
        assert!(!key_matches_certificate(&other, &der).unwrap());
    }
}
