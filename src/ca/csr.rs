//! CSR checks. pushca takes exactly one thing from a CSR: its public key, and
//! only after the key is one we accept and the CSR's self-signature verifies
//! with an acceptable algorithm. Names, extensions, SANs and attributes are
//! ignored.
//!
//! The PKCS#10 structure is read here, strictly but without requiring what
//! OpenSSL does not require: the attributes field may be empty (`[0]` with an
//! empty SET, as OpenSSL writes it) or absent (as some tools write it).
//! SHA-1 signatures (Keychain Access before macOS Ventura, fastlane before
//! late 2023) are accepted with a warning: the CSR signature only proves
//! possession of the key, and pushca signs the certificate with SHA-256.

use std::borrow::Cow;

use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{SubjectPublicKeyInfo, X509Name};

use crate::keys::KeyAlgorithm;
use crate::x509::{OID_P256, OID_P384};

/// Why a certificate signing request was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    /// The request does not parse: `context` says what was being read or
    /// what is wrong; `source` is the lower crate's error when one found the
    /// fault (der, spki, a PEM error, rcgen, a key error).
    #[error("not a certificate signing request: {context}{}", crate::error::Paren(.source))]
    Malformed {
        /// What was being read, or what is wrong.
        context: Cow<'static, str>,
        /// The lower crate's error, when one found the fault.
        #[source]
        source: Option<crate::error::BoxError>,
    },
    /// Signed with a broken algorithm (named): MD5, MD4, MD2 or DSA.
    #[error("CSR signature algorithm {0} is not accepted (MD5, MD4, MD2 and DSA are broken; use SHA-256 or stronger)")]
    WeakSignatureAlgorithm(&'static str),
    /// Signed with an algorithm pushca does not verify (its OID or name).
    #[error("CSR signature algorithm {0} is not supported")]
    UnsupportedSignatureAlgorithm(String),
    /// The signature does not verify with the request's own key.
    #[error("CSR signature does not verify: the request was altered or signed by another key")]
    BadSignature,
    /// The request's key is refused: `reason` says why; `source` is the
    /// parser's error when the key does not parse.
    #[error("CSR key rejected: {reason}{}", crate::error::Paren(.source))]
    WeakKey {
        /// Why the key is refused.
        reason: Cow<'static, str>,
        /// The parser's error, when the key does not parse.
        #[source]
        source: Option<crate::error::BoxError>,
    },
}

impl CsrError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CsrError::Malformed { .. }
            | CsrError::WeakSignatureAlgorithm(_)
            | CsrError::UnsupportedSignatureAlgorithm(_)
            | CsrError::BadSignature
            | CsrError::WeakKey { .. } => ErrorKind::Input,
        }
    }

    /// `context` could not be read: `source` says why.
    fn malformed(context: &'static str, source: impl Into<crate::error::BoxError>) -> CsrError {
        CsrError::Malformed {
            context: Cow::Borrowed(context),
            source: Some(source.into()),
        }
    }

    /// The request is wrong in a way pushca describes (no lower error).
    fn invalid(reason: impl Into<Cow<'static, str>>) -> CsrError {
        CsrError::Malformed {
            context: reason.into(),
            source: None,
        }
    }

    /// The key is refused for `reason` (no lower error).
    fn weak_key(reason: impl Into<Cow<'static, str>>) -> CsrError {
        CsrError::WeakKey {
            reason: reason.into(),
            source: None,
        }
    }
}

/// Something about a CSR that is accepted but worth a line to the user.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrWarning {
    /// Signed with SHA-1.
    Sha1Signature {
        /// The signature algorithm's name, e.g. `sha1WithRSAEncryption`.
        algorithm: &'static str,
    },
}

impl std::fmt::Display for CsrWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CsrWarning::Sha1Signature { algorithm } => write!(
                f,
                "the CSR is signed with SHA-1 ({algorithm}); accepted because it only proves possession of the key — the certificate is signed with SHA-256"
            ),
        }
    }
}

/// A CSR whose signature verified; carries only what issuance may use.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// DER SubjectPublicKeyInfo exactly as in the CSR.
    pub spki_der: Vec<u8>,
    /// The key's algorithm and size.
    pub algorithm: KeyAlgorithm,
    /// The subject the requester asked for, for display only (never copied).
    pub requested_subject: String,
    /// Accepted, but to be told to the user.
    pub warnings: Vec<CsrWarning>,
}

const WEAK_SIGNATURES: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.3", "md4WithRSAEncryption"),
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
    ("1.3.14.3.2.3", "md5WithRSA"),
    ("1.2.840.10040.4.3", "dsa-with-SHA1"),
    ("2.16.840.1.101.3.4.3.2", "dsa-with-SHA256"),
];

/// The signature algorithms pushca verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigAlg {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa(Hash),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn sig_alg(oid: &str) -> Option<(SigAlg, &'static str)> {
    Some(match oid {
        "1.2.840.113549.1.1.5" => (SigAlg::RsaPkcs1(Hash::Sha1), "sha1WithRSAEncryption"),
        "1.3.14.3.2.29" => (SigAlg::RsaPkcs1(Hash::Sha1), "sha1WithRSA"),
        "1.2.840.113549.1.1.11" => (SigAlg::RsaPkcs1(Hash::Sha256), "sha256WithRSAEncryption"),
        "1.2.840.113549.1.1.12" => (SigAlg::RsaPkcs1(Hash::Sha384), "sha384WithRSAEncryption"),
        "1.2.840.113549.1.1.13" => (SigAlg::RsaPkcs1(Hash::Sha512), "sha512WithRSAEncryption"),
        "1.2.840.113549.1.1.10" => (SigAlg::RsaPss(Hash::Sha256), "RSASSA-PSS"),
        "1.2.840.10045.4.1" => (SigAlg::Ecdsa(Hash::Sha1), "ecdsa-with-SHA1"),
        "1.2.840.10045.4.3.2" => (SigAlg::Ecdsa(Hash::Sha256), "ecdsa-with-SHA256"),
        "1.2.840.10045.4.3.3" => (SigAlg::Ecdsa(Hash::Sha384), "ecdsa-with-SHA384"),
        "1.2.840.10045.4.3.4" => (SigAlg::Ecdsa(Hash::Sha512), "ecdsa-with-SHA512"),
        _ => return None,
    })
}

/// Reads a CSR in PEM (`CERTIFICATE REQUEST` or the older `NEW CERTIFICATE
/// REQUEST`, text around it allowed) or DER.
pub(crate) fn csr_der_from_bytes(bytes: &[u8]) -> Result<Vec<u8>, CsrError> {
    use crate::pem::Found;
    match crate::pem::der_or_block(bytes, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]) {
        Ok(Found::Der(der)) => Ok(der.to_vec()),
        Ok(Found::Block(b)) => Ok(b.der.to_vec()),
        Ok(Found::Other(labels)) if labels.is_empty() => Err(CsrError::invalid(
            "neither a PEM CERTIFICATE REQUEST nor DER",
        )),
        Ok(Found::Other(labels)) => Err(CsrError::invalid(format!(
            "PEM holds {}, not a CERTIFICATE REQUEST",
            labels.join(", ")
        ))),
        Err(e) => Err(CsrError::malformed("invalid PEM", e)),
    }
}

/// One DER TLV: (tag, content, whole encoding, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// The first DER TLV of `input`. Definite, minimal lengths only.
fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
        if bytes.first() == Some(&0) {
            return None;
        }
        let len = bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
        if len < 0x80 {
            return None;
        }
        (len, rest)
    };
    let content = rest.get(..len)?;
    let header = input.len() - rest.len();
    let whole = input.get(..header + len)?;
    Some((tag, content, whole, rest.get(len..)?))
}

/// The parts of a PKCS#10 request pushca needs.
struct Parts<'a> {
    /// CertificationRequestInfo, whole encoding (what the signature covers).
    cri: &'a [u8],
    subject: &'a [u8],
    spki: &'a [u8],
    sig_alg: &'a [u8],
    signature: &'a [u8],
}

fn split(der: &[u8]) -> Result<Parts<'_>, CsrError> {
    let bad = |why: &str| CsrError::invalid(format!("invalid PKCS#10 structure ({why})"));
    let (tag, outer, _, rest) = tlv(der).ok_or_else(|| bad("not DER"))?;
    if tag != 0x30 {
        return Err(bad("not a SEQUENCE"));
    }
    if !rest.is_empty() {
        return Err(CsrError::invalid("trailing data after the CSR"));
    }
    let (tag, cri_body, cri, rest) = tlv(outer).ok_or_else(|| bad("request info"))?;
    let (atag, _, sig_alg, rest) = tlv(rest).ok_or_else(|| bad("signature algorithm"))?;
    let (stag, sig, _, rest) = tlv(rest).ok_or_else(|| bad("signature"))?;
    if tag != 0x30 || atag != 0x30 || stag != 0x03 || !rest.is_empty() {
        return Err(bad("expected request info, algorithm and signature"));
    }
    let signature = match sig.split_first() {
        Some((0, bits)) => bits,
        _ => return Err(bad("signature BIT STRING")),
    };
    let (vtag, version, _, rest) = tlv(cri_body).ok_or_else(|| bad("version"))?;
    if vtag != 0x02 || version != [0] {
        return Err(bad("version is not 1"));
    }
    let (ntag, _, subject, rest) = tlv(rest).ok_or_else(|| bad("subject"))?;
    let (ktag, _, spki, rest) = tlv(rest).ok_or_else(|| bad("public key"))?;
    if ntag != 0x30 || ktag != 0x30 {
        return Err(bad("subject and public key"));
    }
    // attributes [0] IMPLICIT SET OF Attribute: empty, present, or (as some
    // tools write it) absent.
    if !rest.is_empty() {
        let (tag, _, _, rest) = tlv(rest).ok_or_else(|| bad("attributes"))?;
        if tag != 0xa0 || !rest.is_empty() {
            return Err(bad("unexpected data after the attributes"));
        }
    }
    Ok(Parts {
        cri,
        subject,
        spki,
        sig_alg,
        signature,
    })
}

/// The hash named by an RSASSA-PSS parameters' `hashAlgorithm` (SHA-1 when absent).
fn pss_hash(params: Option<der::AnyRef<'_>>) -> Option<Hash> {
    use der::Decode;
    let Some(p) = params else {
        return Some(Hash::Sha1);
    };
    let (tag, body, _, _) = tlv(p.value())?;
    if tag != 0xa0 {
        return Some(Hash::Sha1);
    }
    let alg = spki::AlgorithmIdentifierRef::from_der(body).ok()?;
    match alg.oid.to_string().as_str() {
        "1.3.14.3.2.26" => Some(Hash::Sha1),
        "2.16.840.1.101.3.4.2.1" => Some(Hash::Sha256),
        "2.16.840.1.101.3.4.2.2" => Some(Hash::Sha384),
        "2.16.840.1.101.3.4.2.3" => Some(Hash::Sha512),
        _ => None,
    }
}

/// Parses a CSR (PEM or DER), checks its key, then verifies its signature.
pub fn check_csr(bytes: &[u8]) -> Result<CheckedCsr, CsrError> {
    use der::Decode;
    let der = csr_der_from_bytes(bytes)?;
    let parts = split(&der)?;
    let (rest, spki) =
        SubjectPublicKeyInfo::from_der(parts.spki).map_err(|e| CsrError::WeakKey {
            reason: Cow::Borrowed("unreadable public key"),
            source: Some(e.into()),
        })?;
    if !rest.is_empty() {
        return Err(CsrError::invalid("trailing data after the public key"));
    }
    let algorithm = check_key(&spki)?;
    let alg = spki::AlgorithmIdentifierRef::from_der(parts.sig_alg)
        .map_err(|e| CsrError::malformed("signature algorithm", e))?;
    let oid = alg.oid.to_string();
    if let Some((_, name)) = WEAK_SIGNATURES.iter().find(|(o, _)| *o == oid) {
        return Err(CsrError::WeakSignatureAlgorithm(name));
    }
    let (mut sig, name) =
        sig_alg(&oid).ok_or_else(|| CsrError::UnsupportedSignatureAlgorithm(oid.clone()))?;
    if let SigAlg::RsaPss(_) = sig {
        let h = pss_hash(alg.parameters)
            .ok_or_else(|| CsrError::UnsupportedSignatureAlgorithm(format!("{name} ({oid})")))?;
        sig = SigAlg::RsaPss(h);
    }
    verify(sig, name, algorithm, &spki, parts.cri, parts.signature)?;
    let mut warnings = Vec::new();
    if matches!(
        sig,
        SigAlg::RsaPkcs1(Hash::Sha1) | SigAlg::Ecdsa(Hash::Sha1) | SigAlg::RsaPss(Hash::Sha1)
    ) {
        warnings.push(CsrWarning::Sha1Signature { algorithm: name });
    }
    let requested_subject = X509Name::from_der(parts.subject)
        .map(|(_, n)| n.to_string())
        .unwrap_or_default();
    Ok(CheckedCsr {
        spki_der: parts.spki.to_vec(),
        algorithm,
        requested_subject,
        warnings,
    })
}

/// Verifies the CSR's self-signature over the request info with the CSR's key.
fn verify(
    sig: SigAlg,
    name: &str,
    key: KeyAlgorithm,
    spki: &SubjectPublicKeyInfo<'_>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CsrError> {
    use ring::signature as rs;
    let key_bits: &[u8] = &spki.subject_public_key.data;
    let unsupported =
        || CsrError::UnsupportedSignatureAlgorithm(format!("{name} with a {key} key"));
    let ring_alg: &dyn rs::VerificationAlgorithm = match (sig, key) {
        (SigAlg::RsaPkcs1(h), KeyAlgorithm::Rsa { .. }) => match h {
            Hash::Sha1 => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        },
        (SigAlg::RsaPss(h), KeyAlgorithm::Rsa { .. }) => match h {
            Hash::Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
            Hash::Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
            Hash::Sha512 => &rs::RSA_PSS_2048_8192_SHA512,
            Hash::Sha1 => return Err(unsupported()),
        },
        (SigAlg::Ecdsa(Hash::Sha1), KeyAlgorithm::EcP256) => {
            return verify_ecdsa_sha1_p256(key_bits, message, signature)
        }
        (SigAlg::Ecdsa(Hash::Sha1), KeyAlgorithm::EcP384) => {
            return verify_ecdsa_sha1_p384(key_bits, message, signature)
        }
        (SigAlg::Ecdsa(Hash::Sha256), KeyAlgorithm::EcP256) => &rs::ECDSA_P256_SHA256_ASN1,
        (SigAlg::Ecdsa(Hash::Sha384), KeyAlgorithm::EcP256) => &rs::ECDSA_P256_SHA384_ASN1,
        (SigAlg::Ecdsa(Hash::Sha256), KeyAlgorithm::EcP384) => &rs::ECDSA_P384_SHA256_ASN1,
        (SigAlg::Ecdsa(Hash::Sha384), KeyAlgorithm::EcP384) => &rs::ECDSA_P384_SHA384_ASN1,
        _ => return Err(unsupported()),
    };
    rs::UnparsedPublicKey::new(ring_alg, key_bits)
        .verify(message, signature)
        .map_err(|_| CsrError::BadSignature)
}

/// ECDSA with SHA-1 (ring has no ECDSA-SHA1 verifier): RustCrypto's curves
/// over a SHA-1 digest.
fn verify_ecdsa_sha1_p256(point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CsrError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha1::Digest;
    let key =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| CsrError::BadSignature)?;
    let sig = p256::ecdsa::Signature::from_der(sig).map_err(|_| CsrError::BadSignature)?;
    key.verify_prehash(&sha1::Sha1::digest(msg), &sig)
        .map_err(|_| CsrError::BadSignature)
}

fn verify_ecdsa_sha1_p384(point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CsrError> {
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    use sha1::Digest;
    let key =
        p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| CsrError::BadSignature)?;
    let sig = p384::ecdsa::Signature::from_der(sig).map_err(|_| CsrError::BadSignature)?;
    // ECDSA uses the digest as an integer; the `ecdsa` crate refuses a
    // prehash shorter than half the field, so give it the same integer
    // left-padded with zeros to the field size (48 bytes).
    let mut e = [0u8; 48];
    let d = sha1::Sha1::digest(msg);
    e[48 - d.len()..].copy_from_slice(&d);
    key.verify_prehash(&e, &sig)
        .map_err(|_| CsrError::BadSignature)
}

fn check_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<KeyAlgorithm, CsrError> {
    let parsed = spki.parsed().map_err(|e| CsrError::WeakKey {
        reason: Cow::Borrowed("unreadable public key"),
        source: Some(e.into()),
    })?;
    match parsed {
        PublicKey::RSA(rsa) => {
            let bits = rsa.key_size();
            if ![2048, 3072, 4096].contains(&bits) {
                return Err(CsrError::weak_key(format!(
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
                return Err(CsrError::weak_key(format!(
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
                "" => Err(CsrError::weak_key("EC key without a named curve")),
                other => Err(CsrError::weak_key(format!(
                    "EC curve {other} (accepted: P-256, P-384)"
                ))),
            }
        }
        _ => Err(CsrError::weak_key(format!(
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
        .map_err(|e| CsrError::malformed("the key cannot sign a request", e))?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(e) = email {
        let ia5 = rcgen::string::Ia5String::try_from(e)
            .map_err(|_| CsrError::invalid(format!("email '{e}' is not ASCII")))?;
        dn.push(
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            rcgen::DnValue::Ia5String(ia5),
        );
    }
    dn.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let req = params
        .serialize_request(&kp)
        .map_err(|e| CsrError::malformed("cannot encode the request", e))?;
    Ok(req.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser's error is the source, as its type; the message keeps its words.
    #[test]
    fn malformed_requests_have_the_parser_error_as_source() {
        use std::error::Error;
        let pem = "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n";
        let e = check_csr(pem.as_bytes()).unwrap_err();
        let pem_err = e
            .source()
            .and_then(|s| s.downcast_ref::<crate::pem::PemError>());
        assert!(pem_err.is_some(), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("not a certificate signing request: invalid PEM ("),
            "{e}"
        );
        // A request whose key does not parse: x509-parser's error is the source.
        let key = crate::keys::PrivateKey::generate(crate::keys::KeyType::EcP256).unwrap();
        let mut der = make_csr(&key, "x", None).unwrap();
        let spki = key.public_key_der().unwrap();
        let at = der.windows(spki.len()).position(|w| w == spki).unwrap();
        let bits = at + 4 + usize::from(spki[3]);
        assert_eq!(der[bits], 0x03);
        der[bits] = 0x04; // the key's BIT STRING becomes an OCTET STRING
        let e = check_csr(&der).unwrap_err();
        type X509Err = x509_parser::nom::Err<x509_parser::error::X509Error>;
        let x = e.source().and_then(|s| s.downcast_ref::<X509Err>());
        let x = x.unwrap_or_else(|| panic!("{e:?}"));
        assert_eq!(
            e.to_string(),
            format!("CSR key rejected: unreadable public key ({x})")
        );
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);
    }

    #[test]
    fn the_sha1_warning_is_one_line() {
        let w = CsrWarning::Sha1Signature {
            algorithm: "sha1WithRSAEncryption",
        }
        .to_string();
        assert!(!w.contains('\n') && w.contains("SHA-1"), "{w}");
    }

    #[test]
    fn truncated_and_odd_encodings_are_errors() {
        let key = crate::keys::PrivateKey::generate(crate::keys::KeyType::EcP256).unwrap();
        let der = make_csr(&key, "x", None).unwrap();
        assert!(check_csr(&der).is_ok());
        for n in 0..der.len() {
            assert!(check_csr(&der[..n]).is_err(), "truncated at {n}");
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(check_csr(&trailing).is_err());
        // A non-minimal length encoding is not DER.
        assert!(tlv(&[0x30, 0x81, 0x01, 0x00]).is_none());
        assert!(tlv(&[0x30, 0x82, 0x00, 0x81]).is_none());
    }
}
