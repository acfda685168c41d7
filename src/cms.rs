//! CMS SignedData (RFC 5652): signing with the one [`Signer`] (provisioning
//! profiles with their content attached, the gateway policy detached), and
//! verifying the signature of any SignedData (pushca's and Apple's profiles).
//!
//! [`verify`] checks the signature cryptographically against the signer
//! certificate carried in the SignedData; it does **not** validate that
//! certificate's chain — the caller does that (rustls-webpki) with its own
//! trust anchors.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

use crate::keys::signer::Signer;

const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

/// Largest SignedData accepted by [`verify`].
pub const MAX_SIGNED_DATA: usize = 16 << 20;
const MAX_CERTIFICATES: usize = 64;
const MAX_SIGNERS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("not a CMS SignedData: {0}")]
    Malformed(String),
    #[error("CMS SignedData is larger than {MAX_SIGNED_DATA} bytes")]
    TooLarge,
    #[error("CMS SignedData has too many certificates or signers")]
    TooMany,
    #[error("CMS SignedData has no content (detached signature without the content)")]
    NoContent,
    #[error("no certificate in the SignedData matches its signer")]
    NoSignerCertificate,
    #[error("unsupported CMS algorithm {0}")]
    Unsupported(String),
    #[error("the content does not match the signed digest (altered content)")]
    DigestMismatch,
    #[error("the CMS signature does not verify (altered or signed by another key)")]
    BadSignature,
    #[error("cannot build CMS SignedData: {0}")]
    Build(String),
}

fn build(e: impl std::fmt::Display) -> CmsError {
    CmsError::Build(e.to_string())
}

fn alg(oid: &str, null_params: bool) -> Result<AlgorithmIdentifierOwned, CmsError> {
    Ok(AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new(oid).map_err(build)?,
        parameters: if null_params {
            Some(Any::from(der::asn1::Null))
        } else {
            None
        },
    })
}

fn attr(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(build)?,
    })
}

/// Signs `content` as a DER ContentInfo(SignedData): content embedded
/// (`attached`) or not, signer certificate plus `extra_certs` included,
/// signed attributes contentType, messageDigest and signingTime.
pub fn sign(
    content: &[u8],
    attached: bool,
    signer_cert_der: &[u8],
    extra_certs: &[&[u8]],
    signer: &Signer,
    signing_time: time::OffsetDateTime,
) -> Result<Vec<u8>, CmsError> {
    let signer_cert = Certificate::from_der(signer_cert_der).map_err(build)?;
    let digest = signer.digest();
    let digest_alg = alg(digest.oid(), false)?;
    let (sig_oid, sig_null) = signer.signature_oid();
    let t = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(signing_time.unix_timestamp()).unwrap_or(0));
    let attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
        attr(
            OID_CONTENT_TYPE,
            Any::encode_from(&OID_DATA).map_err(build)?,
        )?,
        attr(
            OID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.digest(content)).map_err(build)?)
                .map_err(build)?,
        )?,
        attr(
            OID_SIGNING_TIME,
            Any::encode_from(&UtcTime::from_system_time(t).map_err(build)?).map_err(build)?,
        )?,
    ])
    .map_err(build)?;
    // The signature covers the DER of the attributes as a SET (tag 0x31).
    let to_sign = attrs.to_der().map_err(build)?;
    let signature = signer.sign(&to_sign).map_err(build)?;
    let info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer_cert.tbs_certificate.issuer.clone(),
            serial_number: signer_cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm: alg(sig_oid, sig_null)?,
        signature: OctetString::new(signature).map_err(build)?,
        unsigned_attrs: None,
    };
    let mut certs = vec![CertificateChoices::Certificate(signer_cert)];
    for c in extra_certs {
        certs.push(CertificateChoices::Certificate(
            Certificate::from_der(c).map_err(build)?,
        ));
    }
    let econtent = if attached {
        Some(Any::encode_from(&OctetString::new(content).map_err(build)?).map_err(build)?)
    } else {
        None
    };
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg]).map_err(build)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: OID_DATA,
            econtent,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certs).map_err(build)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![info]).map_err(build)?),
    };
    ContentInfo {
        content_type: OID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(build)?,
    }
    .to_der()
    .map_err(build)
}

/// What a verified SignedData holds.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signed content (embedded, or the detached content given).
    pub content: Vec<u8>,
    /// DER of the certificate whose key made the signature.
    pub signer_cert_der: Vec<u8>,
    /// DER of every certificate carried (the signer's included).
    pub certificates: Vec<Vec<u8>>,
    /// The signingTime attribute, seconds since the epoch, if present.
    pub signing_time: Option<i64>,
}

fn digest_of(oid: &str, data: &[u8]) -> Option<Vec<u8>> {
    let alg = match oid {
        "1.3.14.3.2.26" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        "2.16.840.1.101.3.4.2.1" => &ring::digest::SHA256,
        "2.16.840.1.101.3.4.2.2" => &ring::digest::SHA384,
        "2.16.840.1.101.3.4.2.3" => &ring::digest::SHA512,
        _ => return None,
    };
    Some(ring::digest::digest(alg, data).as_ref().to_vec())
}

/// The ring verifier for a (signature algorithm, digest, key) triple.
fn verifier(
    sig_oid: &str,
    digest_oid: &str,
    key_oid: &str,
    curve: Option<&str>,
) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
    use ring::signature as rs;
    let hash = match sig_oid {
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => "1.3.14.3.2.26",
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => "2.16.840.1.101.3.4.2.1",
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => "2.16.840.1.101.3.4.2.2",
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => "2.16.840.1.101.3.4.2.3",
        // rsaEncryption / id-ecPublicKey: the digest algorithm says which hash.
        "1.2.840.113549.1.1.1" | "1.2.840.10045.2.1" => digest_oid,
        _ => return None,
    };
    Some(match (key_oid, curve, hash) {
        ("1.2.840.113549.1.1.1", _, "1.3.14.3.2.26") => {
            &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        ("1.2.840.113549.1.1.1", _, "2.16.840.1.101.3.4.2.1") => &rs::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.1", _, "2.16.840.1.101.3.4.2.2") => &rs::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.1", _, "2.16.840.1.101.3.4.2.3") => &rs::RSA_PKCS1_2048_8192_SHA512,
        ("1.2.840.10045.2.1", Some(crate::keys::OID_P256), "2.16.840.1.101.3.4.2.1") => {
            &rs::ECDSA_P256_SHA256_ASN1
        }
        ("1.2.840.10045.2.1", Some(crate::keys::OID_P256), "2.16.840.1.101.3.4.2.2") => {
            &rs::ECDSA_P256_SHA384_ASN1
        }
        ("1.2.840.10045.2.1", Some(crate::keys::OID_P384), "2.16.840.1.101.3.4.2.1") => {
            &rs::ECDSA_P384_SHA256_ASN1
        }
        ("1.2.840.10045.2.1", Some(crate::keys::OID_P384), "2.16.840.1.101.3.4.2.2") => {
            &rs::ECDSA_P384_SHA384_ASN1
        }
        _ => return None,
    })
}

fn matches_signer(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == cert.tbs_certificate.issuer
                && ias.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id.to_string() == "2.5.29.14")
            .any(|e| {
                OctetString::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|v| v.as_bytes() == ski.0.as_bytes())
            }),
    }
}

/// Verifies a DER ContentInfo(SignedData): the first signer's signature over
/// its signed attributes (or the content), the messageDigest against the
/// content (embedded, or `detached`), with the signer's certificate from the
/// SignedData. The chain of that certificate is **not** checked here.
pub fn verify(der: &[u8], detached: Option<&[u8]>) -> Result<Verified, CmsError> {
    if der.len() > MAX_SIGNED_DATA {
        return Err(CmsError::TooLarge);
    }
    let malformed = |e: der::Error| CmsError::Malformed(e.to_string());
    let ci = ContentInfo::from_der(der).map_err(malformed)?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(CmsError::Malformed(format!(
            "content type {} is not SignedData",
            ci.content_type
        )));
    }
    let sd: SignedData = ci.content.decode_as().map_err(malformed)?;
    let certs: Vec<Certificate> = sd
        .certificates
        .iter()
        .flat_map(|s| s.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    if certs.len() > MAX_CERTIFICATES || sd.signer_infos.0.len() > MAX_SIGNERS {
        return Err(CmsError::TooMany);
    }
    let content: Vec<u8> = match (&sd.encap_content_info.econtent, detached) {
        (Some(any), _) => any
            .decode_as::<OctetString>()
            .map_err(malformed)?
            .as_bytes()
            .to_vec(),
        (None, Some(d)) => d.to_vec(),
        (None, None) => return Err(CmsError::NoContent),
    };
    let si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| CmsError::Malformed("no signer".into()))?;
    let cert = certs
        .iter()
        .find(|c| matches_signer(&si.sid, c))
        .ok_or(CmsError::NoSignerCertificate)?;
    let digest_oid = si.digest_alg.oid.to_string();
    let digest = digest_of(&digest_oid, &content)
        .ok_or_else(|| CmsError::Unsupported(format!("digest {digest_oid}")))?;
    let mut signing_time = None;
    let message = match &si.signed_attrs {
        Some(attrs) => {
            let mut md = None;
            for a in attrs.iter() {
                let Some(v) = a.values.iter().next() else {
                    continue;
                };
                if a.oid == OID_MESSAGE_DIGEST {
                    md = Some(v.decode_as::<OctetString>().map_err(malformed)?);
                } else if a.oid == OID_CONTENT_TYPE {
                    let ct: ObjectIdentifier = v.decode_as().map_err(malformed)?;
                    if ct != sd.encap_content_info.econtent_type {
                        return Err(CmsError::Malformed("contentType attribute differs".into()));
                    }
                } else if a.oid == OID_SIGNING_TIME {
                    signing_time = v
                        .decode_as::<UtcTime>()
                        .ok()
                        .map(|t| t.to_unix_duration().as_secs() as i64);
                }
            }
            let md = md.ok_or_else(|| CmsError::Malformed("no messageDigest attribute".into()))?;
            if md.as_bytes() != digest.as_slice() {
                return Err(CmsError::DigestMismatch);
            }
            attrs.to_der().map_err(malformed)?
        }
        None => content.clone(),
    };
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key_oid = spki.algorithm.oid.to_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    let sig_oid = si.signature_algorithm.oid.to_string();
    let alg = verifier(&sig_oid, &digest_oid, &key_oid, curve.as_deref())
        .ok_or_else(|| CmsError::Unsupported(format!("signature {sig_oid} with key {key_oid}")))?;
    let key_bits = spki.subject_public_key.raw_bytes();
    ring::signature::UnparsedPublicKey::new(alg, key_bits)
        .verify(&message, si.signature.as_bytes())
        .map_err(|_| CmsError::BadSignature)?;
    Ok(Verified {
        content,
        signer_cert_der: cert.to_der().map_err(malformed)?,
        certificates: certs
            .iter()
            .map(|c| c.to_der())
            .collect::<Result<_, _>>()
            .map_err(malformed)?,
        signing_time,
    })
}

#[cfg(test)]
mod tests;
