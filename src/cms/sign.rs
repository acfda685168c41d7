//! Signing a CMS SignedData with the one [`Signer`]: the issuing side
//! (`ca` feature).

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

use super::{CmsError, OID_CONTENT_TYPE, OID_MESSAGE_DIGEST, OID_SIGNED_DATA, OID_SIGNING_TIME};

const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
use crate::keys::signer::Signer;

fn build(e: impl Into<crate::error::BoxError>) -> CmsError {
    CmsError::Build(e.into())
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
