//! CMS SignedData (RFC 5652): verifying the signature of any SignedData
//! (pushca's and Apple's profiles, the gateway policy's detached signature),
//! and, on the issuing side (`ca` feature), signing with the one signer
//! (`sign`: provisioning profiles with their content attached, the gateway
//! policy detached).
//!
//! `verify` checks the signature cryptographically against the signer
//! certificate carried in the SignedData; it does **not** validate that
//! certificate's chain — the caller does that (rustls-webpki) with its own
//! trust anchors.

use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfos};
use der::asn1::{ObjectIdentifier, OctetString, UtcTime};
use der::{Decode, Encode, Tagged};
use x509_cert::Certificate;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

/// Largest SignedData accepted by [`verify`].
pub(crate) const MAX_SIGNED_DATA: usize = 16 << 20;
const MAX_CERTIFICATES: usize = 64;
const MAX_SIGNERS: usize = 8;

/// Why a CMS SignedData cannot be verified (or built).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    /// What is wrong, or the DER decoder's own error.
    #[error("not a CMS SignedData: {0}")]
    Malformed(#[source] crate::error::BoxError),
    /// Larger than 16 MiB.
    #[error("CMS SignedData is larger than {MAX_SIGNED_DATA} bytes")]
    TooLarge,
    /// More than 64 certificates or 8 signers.
    #[error("CMS SignedData has too many certificates or signers")]
    TooMany,
    /// A `SET OF` the pre-scan refuses (see [`crate::der_limits`]).
    #[error("CMS SignedData has {0}: refused as hostile")]
    Hostile(#[from] crate::der_limits::Hostile),
    /// Attached content was expected, but the SignedData carries none.
    #[error(
        "CMS SignedData has no content (a detached signature, where signed content was expected)"
    )]
    NoContent,
    /// A detached signature was expected, but the SignedData carries content.
    #[error("CMS SignedData carries its own content: not a detached signature")]
    NotDetached,
    /// None of the carried certificates is the signer's.
    #[error("no certificate in the SignedData matches its signer")]
    NoSignerCertificate,
    /// A digest or signature algorithm pushca does not verify (its OID).
    #[error("unsupported CMS algorithm {0}")]
    Unsupported(String),
    /// The signed messageDigest does not match the content.
    #[error("the content does not match the signed digest (altered content)")]
    DigestMismatch,
    /// The signature does not verify with the signer certificate's key.
    #[error("the CMS signature does not verify (altered or signed by another key)")]
    BadSignature,
    /// Signing failed (`sign`, with the `ca` feature).
    #[error("cannot build CMS SignedData: {0}")]
    Build(#[source] crate::error::BoxError),
}

impl CmsError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CmsError::Build(_) => ErrorKind::Crypto,
            CmsError::Malformed(_)
            | CmsError::TooLarge
            | CmsError::TooMany
            | CmsError::Hostile(_)
            | CmsError::NoContent
            | CmsError::NotDetached
            | CmsError::NoSignerCertificate
            | CmsError::Unsupported(_)
            | CmsError::DigestMismatch
            | CmsError::BadSignature => ErrorKind::Input,
        }
    }
}

/// What a verified SignedData holds.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    /// The signed content (embedded, or the detached content given).
    pub(crate) content: Vec<u8>,
    /// DER of the certificate whose key made the signature.
    pub(crate) signer_cert_der: Vec<u8>,
    /// DER of every certificate carried (the signer's included).
    pub(crate) certificates: Vec<Vec<u8>>,
    /// The signingTime attribute, seconds since the epoch, if present.
    pub(crate) signing_time: Option<i64>,
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
        ("1.2.840.10045.2.1", Some(crate::x509::OID_P256), "2.16.840.1.101.3.4.2.1") => {
            &rs::ECDSA_P256_SHA256_ASN1
        }
        ("1.2.840.10045.2.1", Some(crate::x509::OID_P256), "2.16.840.1.101.3.4.2.2") => {
            &rs::ECDSA_P256_SHA384_ASN1
        }
        ("1.2.840.10045.2.1", Some(crate::x509::OID_P384), "2.16.840.1.101.3.4.2.1") => {
            &rs::ECDSA_P384_SHA256_ASN1
        }
        ("1.2.840.10045.2.1", Some(crate::x509::OID_P384), "2.16.840.1.101.3.4.2.2") => {
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

/// A SignedData whose certificates are kept as DER slices (decoding every
/// carried certificate is most of the cost of reading a profile; only the
/// signer's fields are looked at).
struct RawSignedData<'a> {
    encap_content_info: EncapsulatedContentInfo,
    /// Every `certificate` choice of the CertificateSet (other choices are
    /// skipped), read up to [`MAX_CERTIFICATES`] + 1 entries.
    certificates: Vec<&'a [u8]>,
    /// Entries of the CertificateSet read (all choices).
    certificate_entries: usize,
    /// The SignerInfos SET (TLV), decoded only once its size is checked.
    signer_infos: &'a [u8],
    /// Entries of the SignerInfos read, up to [`MAX_SIGNERS`] + 1.
    signer_entries: usize,
}

const CERTIFICATES_TAG: der::Tag = der::Tag::ContextSpecific {
    constructed: true,
    number: der::TagNumber::N0,
};
const CRLS_TAG: der::Tag = der::Tag::ContextSpecific {
    constructed: true,
    number: der::TagNumber::N1,
};

impl<'a> RawSignedData<'a> {
    /// The value of a SignedData SEQUENCE (RFC 5652 5.1).
    fn parse(value: &'a [u8]) -> der::Result<RawSignedData<'a>> {
        use der::{Reader, SliceReader};
        let mut r = SliceReader::new(value)?;
        let _version = CmsVersion::decode(&mut r)?;
        let digests = der::asn1::AnyRef::decode(&mut r)?;
        digests.tag().assert_eq(der::Tag::Set)?;
        let encap_content_info = EncapsulatedContentInfo::decode(&mut r)?;
        let mut certificates = Vec::new();
        let mut entries = 0;
        if r.peek_tag()? == CERTIFICATES_TAG {
            let set = der::asn1::AnyRef::decode(&mut r)?;
            let mut s = SliceReader::new(set.value())?;
            while !s.is_finished() && entries <= MAX_CERTIFICATES {
                entries += 1;
                let tag = s.peek_tag()?;
                let tlv = s.tlv_bytes()?;
                if tag == der::Tag::Sequence {
                    certificates.push(tlv);
                }
            }
        }
        if r.peek_tag()? == CRLS_TAG {
            let _crls = der::asn1::AnyRef::decode(&mut r)?;
        }
        let signer_infos = r.tlv_bytes()?;
        let set = der::asn1::AnyRef::from_der(signer_infos)?;
        set.tag().assert_eq(der::Tag::Set)?;
        let mut s = SliceReader::new(set.value())?;
        let mut signer_entries = 0;
        while !s.is_finished() && signer_entries <= MAX_SIGNERS {
            signer_entries += 1;
            s.tlv_bytes()?;
        }
        r.finish(RawSignedData {
            encap_content_info,
            certificates,
            certificate_entries: entries,
            signer_infos,
            signer_entries,
        })
    }
}

/// The serial number (INTEGER value), issuer (Name TLV) and
/// subjectPublicKeyInfo (TLV) of a DER certificate, without decoding it.
fn cert_fields(cert: &[u8]) -> der::Result<(&[u8], &[u8], &[u8])> {
    use der::asn1::AnyRef;
    use der::{Reader, SliceReader};
    let outer = AnyRef::from_der(cert)?;
    outer.tag().assert_eq(der::Tag::Sequence)?;
    let mut r = SliceReader::new(outer.value())?;
    let tbs = AnyRef::decode(&mut r)?;
    tbs.tag().assert_eq(der::Tag::Sequence)?;
    let mut t = SliceReader::new(tbs.value())?;
    if t.peek_tag()? == CERTIFICATES_TAG {
        let _version = AnyRef::decode(&mut t)?; // [0] EXPLICIT version
    }
    let serial = AnyRef::decode(&mut t)?;
    serial.tag().assert_eq(der::Tag::Integer)?;
    let _signature = AnyRef::decode(&mut t)?;
    let issuer = t.tlv_bytes()?;
    let _validity = AnyRef::decode(&mut t)?;
    let _subject = AnyRef::decode(&mut t)?;
    let spki = t.tlv_bytes()?;
    Ok((serial.value(), issuer, spki))
}

/// The signer's certificate (DER) among `certs` and its public key.
fn find_signer<'c>(
    sid: &SignerIdentifier,
    certs: &[&'c [u8]],
) -> Result<(&'c [u8], spki::SubjectPublicKeyInfoOwned), CmsError> {
    let malformed = |e: der::Error| CmsError::Malformed(e.into());
    let spki_of = |der: &[u8]| -> Result<spki::SubjectPublicKeyInfoOwned, CmsError> {
        let (_, _, spki) = cert_fields(der).map_err(malformed)?;
        spki::SubjectPublicKeyInfoOwned::from_der(spki).map_err(malformed)
    };
    // The usual case, on bytes: issuer and serial number as encoded.
    if let SignerIdentifier::IssuerAndSerialNumber(ias) = sid {
        let issuer = ias.issuer.to_der().map_err(malformed)?;
        let serial = ias.serial_number.as_bytes();
        for c in certs {
            if let Ok((s, i, _)) = cert_fields(c) {
                if s == serial && i == issuer.as_slice() {
                    return Ok((c, spki_of(c)?));
                }
            }
        }
    }
    // A subjectKeyIdentifier, or names encoded differently: decoded.
    for c in certs {
        let Ok(cert) = Certificate::from_der(c) else {
            continue;
        };
        if matches_signer(sid, &cert) {
            return Ok((c, cert.tbs_certificate.subject_public_key_info));
        }
    }
    Err(CmsError::NoSignerCertificate)
}

/// What is signed: the SignedData's own content, or exactly the given bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content<'a> {
    /// The content is embedded (a provisioning profile): a SignedData
    /// without eContent is refused.
    Attached,
    /// A detached signature over exactly these bytes (the gateway policy): a
    /// SignedData that carries eContent of its own is refused, so no other
    /// signed object (a profile) can stand in for the signature.
    Detached(&'a [u8]),
}

/// Verifies a DER ContentInfo(SignedData): the first signer's signature over
/// its signed attributes (or the content), the messageDigest against the
/// content, with the signer's certificate from the SignedData. The chain of
/// that certificate is **not** checked here. [`Verified::content`] is what
/// the signature covers: parse that, never another copy.
pub(crate) fn verify(der: &[u8], content: Content<'_>) -> Result<Verified, CmsError> {
    open(der, content)?.verify()
}

/// A decoded SignedData whose structure, signer certificate, supported
/// algorithms and messageDigest (against the content) have been checked, and
/// whose signature has not been yet: [`Opened::verify`] checks it.
pub(crate) struct Opened {
    verified: Verified,
    alg: &'static dyn ring::signature::VerificationAlgorithm,
    key: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("signer_cert_der", &self.verified.signer_cert_der.len())
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// Checks the signature with the signer certificate's key.
    pub(crate) fn verify(self) -> Result<Verified, CmsError> {
        ring::signature::UnparsedPublicKey::new(self.alg, &self.key)
            .verify(&self.message, &self.signature)
            .map_err(|_| CmsError::BadSignature)?;
        Ok(self.verified)
    }

    /// The content without checking the signature value: only for bytes
    /// whose SHA-256 a verified signature by the same trust root already
    /// covers (a trust store's profiles, listed in its signed policy.json).
    pub(crate) fn covered_by_another_signature(self) -> Verified {
        self.verified
    }
}

/// Decodes and checks a DER ContentInfo(SignedData) up to (not including)
/// its signature value; see [`verify`].
pub(crate) fn open(der: &[u8], expected: Content<'_>) -> Result<Opened, CmsError> {
    if der.len() > MAX_SIGNED_DATA {
        return Err(CmsError::TooLarge);
    }
    let malformed = |e: der::Error| CmsError::Malformed(e.into());
    let ci = ContentInfo::from_der(der).map_err(malformed)?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(CmsError::Malformed(
            format!("content type {} is not SignedData", ci.content_type).into(),
        ));
    }
    if ci.content.tag() != der::Tag::Sequence {
        return Err(CmsError::Malformed("SignedData is not a SEQUENCE".into()));
    }
    let sd = RawSignedData::parse(ci.content.value()).map_err(malformed)?;
    if sd.certificate_entries > MAX_CERTIFICATES || sd.signer_entries > MAX_SIGNERS {
        return Err(CmsError::TooMany);
    }
    // The SignerInfos, and carried certificates when matched by name, are
    // decoded with their SET OFs sorted by `der`: bound those first.
    crate::der_limits::SetLimits::new().check(der, crate::der_limits::Rules::Der)?;
    let signer_infos = SignerInfos::from_der(sd.signer_infos).map_err(malformed)?;
    let content: Vec<u8> = match (&sd.encap_content_info.econtent, expected) {
        (Some(any), Content::Attached) => any
            .decode_as::<OctetString>()
            .map_err(malformed)?
            .as_bytes()
            .to_vec(),
        (None, Content::Detached(d)) => d.to_vec(),
        (Some(_), Content::Detached(_)) => return Err(CmsError::NotDetached),
        (None, Content::Attached) => return Err(CmsError::NoContent),
    };
    let si = signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| CmsError::Malformed("no signer".into()))?;
    let (cert_der, spki) = find_signer(&si.sid, &sd.certificates)?;
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
    Ok(Opened {
        alg,
        key: spki.subject_public_key.raw_bytes().to_vec(),
        message,
        signature: si.signature.as_bytes().to_vec(),
        verified: Verified {
            content,
            signer_cert_der: cert_der.to_vec(),
            certificates: sd.certificates.iter().map(|c| c.to_vec()).collect(),
            signing_time,
        },
    })
}

#[cfg(feature = "ca")]
mod sign;
#[cfg(feature = "ca")]
pub use sign::sign;

#[cfg(test)]
#[cfg(feature = "ca")]
mod tests;
