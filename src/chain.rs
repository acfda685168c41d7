//! Certificate path validation with rustls-webpki (never hand-written): the
//! chain of a profile signer (and, for the gateway, of a provider's client
//! certificate) to trust anchors, at a given time, with an EKU policy.

use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, UnixTime,
};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

/// Why a chain did not verify.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Outside a certificate's validity period at the time checked.
    #[error("the certificate has expired or is not yet valid")]
    Expired,
    /// No path to a trust anchor (webpki's reason).
    #[error("the certificate is not issued by a trusted CA ({0})")]
    Untrusted(#[source] webpki::Error),
    /// The leaf's extended key usage does not allow this use (named).
    #[error("the certificate may not be used for {0}")]
    WrongUsage(&'static str),
    /// A CRL of its issuer lists the leaf.
    #[error("the certificate is revoked")]
    Revoked,
    /// A certificate does not parse: `context` says which one or which part;
    /// `source` is the parser's error (x509-parser's, or webpki's).
    #[error("malformed certificate: {context} ({source})")]
    Malformed {
        /// Which certificate or part does not parse.
        context: &'static str,
        /// The parser's error.
        #[source]
        source: crate::error::BoxError,
    },
}

impl ChainError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            ChainError::Malformed { .. } => ErrorKind::Input,
            ChainError::Expired
            | ChainError::Untrusted(_)
            | ChainError::WrongUsage(_)
            | ChainError::Revoked => ErrorKind::Policy,
        }
    }
}

impl ChainError {
    /// `context` does not parse: `source` says why.
    pub(crate) fn malformed(
        context: &'static str,
        source: impl Into<crate::error::BoxError>,
    ) -> ChainError {
        ChainError::Malformed {
            context,
            source: source.into(),
        }
    }
}

/// How the end-entity certificate may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Signing provisioning profiles: no EKU, or one of codeSigning,
    /// emailProtection, anyExtendedKeyUsage or an Apple purpose. A TLS-only
    /// certificate (a push certificate: clientAuth) is refused, so a provider
    /// cannot sign profiles with its own key.
    ProfileSigning,
}

impl Usage {
    fn name(self) -> &'static str {
        match self {
            Usage::ProfileSigning => "signing provisioning profiles",
        }
    }
}

/// The EKU check of profile signers is done on the leaf with x509-parser
/// ([`profile_signing_eku_ok`]); webpki's `KeyPurposeId` decoder mis-decodes
/// multi-byte arcs (0.103: `cur << 8` instead of `<< 7`), which rules out
/// matching OID prefixes such as Apple's arc through it. So webpki gets a
/// validator that accepts any EKU, and the policy is applied here.
struct AnyEku;

impl ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

const APPLE_ARC: &str = "1.2.840.113635.";

/// No EKU, or one of codeSigning, emailProtection, anyExtendedKeyUsage or an
/// Apple purpose.
fn profile_signing_eku_ok(leaf: &[u8]) -> Result<bool, ChainError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf).map_err(|e| ChainError::malformed("leaf", e))?;
    match cert.extended_key_usage() {
        Ok(None) => Ok(true),
        Ok(Some(eku)) => {
            let e = eku.value;
            Ok(e.any
                || e.code_signing
                || e.email_protection
                || e.other
                    .iter()
                    .any(|o| o.to_id_string().starts_with(APPLE_ARC)))
        }
        Err(e) => Err(ChainError::malformed("extended key usage", e)),
    }
}

/// sha1WithRSAEncryption, for chains of real Apple profiles (Apple's 2007
/// intermediates are signed with it). Accepted only where [`Usage`] is
/// [`Usage::ProfileSigning`]; the gateway's client chains use webpki's own
/// algorithms.
#[derive(Debug)]
struct RsaPkcs1Sha1;

// AlgorithmIdentifier contents (without the outer SEQUENCE).
const ALG_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const ALG_SHA1_WITH_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
];

impl SignatureVerificationAlgorithm for RsaPkcs1Sha1 {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(ALG_RSA_ENCRYPTION)
    }
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(ALG_SHA1_WITH_RSA)
    }
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            public_key,
        )
        .verify(message, signature)
        .map_err(|_| InvalidSignature)
    }
}

static RSA_SHA1: RsaPkcs1Sha1 = RsaPkcs1Sha1;

fn algorithms(usage: Usage) -> Vec<&'static dyn SignatureVerificationAlgorithm> {
    let mut algs: Vec<&'static dyn SignatureVerificationAlgorithm> =
        webpki::ALL_VERIFICATION_ALGS.to_vec();
    if usage == Usage::ProfileSigning {
        algs.push(&RSA_SHA1);
    }
    algs
}

#[allow(deprecated)] // RequiredEkuNotFound: older webpki errors
fn map_err(e: webpki::Error, usage: Usage) -> ChainError {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } | E::CertNotValidYet { .. } => ChainError::Expired,
        E::CertRevoked => ChainError::Revoked,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => {
            ChainError::WrongUsage(usage.name())
        }
        E::BadDer | E::BadDerTime | E::TrailingData(_) => ChainError::malformed("chain", e),
        other => ChainError::Untrusted(other),
    }
}

/// Verifies that `leaf` chains to one of `anchors` (DER certificates, trusted
/// as they are) through `intermediates`, at `time` (unix seconds), for `usage`,
/// and that `crls` (if any) do not revoke it: a CRL of its issuer is
/// authoritative; without one its status is not known and not held against
/// it (a profile of another CA shown with `--ca`).
pub(crate) fn verify(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &[Vec<u8>],
    time: i64,
    usage: Usage,
    crls: &[&webpki::CertRevocationList<'_>],
) -> Result<(), ChainError> {
    let leaf_der = CertificateDer::from(leaf);
    let ee = EndEntityCert::try_from(&leaf_der).map_err(|e| ChainError::malformed("leaf", e))?;
    let anchor_ders: Vec<CertificateDer<'_>> = anchors
        .iter()
        .map(|a| CertificateDer::from(a.as_slice()))
        .collect();
    let mut trust = Vec::with_capacity(anchor_ders.len());
    for a in &anchor_ders {
        trust.push(
            webpki::anchor_from_trusted_cert(a)
                .map_err(|e| ChainError::malformed("trust anchor", e))?,
        );
    }
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(time).unwrap_or(0),
    ));
    let algs = algorithms(usage);
    let revocation = webpki::RevocationOptionsBuilder::new(crls).ok().map(|b| {
        b.with_depth(webpki::RevocationCheckDepth::EndEntity)
            .with_status_policy(webpki::UnknownStatusPolicy::Allow)
            .with_expiration_policy(webpki::ExpirationPolicy::Ignore)
            .build()
    });
    let result = match usage {
        Usage::ProfileSigning => {
            if !profile_signing_eku_ok(leaf)? {
                return Err(ChainError::WrongUsage(usage.name()));
            }
            ee.verify_for_usage(&algs, &trust, &inter, t, AnyEku, revocation, None)
        }
    };
    result.map(|_| ()).map_err(|e| map_err(e, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser's error is the source, as its type: webpki's for a leaf
    /// that is not DER, x509-parser's for the EKU check.
    #[test]
    fn malformed_certificates_have_the_parser_error_as_source() {
        use std::error::Error;
        let e = verify(b"junk", &[], &[], 0, Usage::ProfileSigning, &[]).unwrap_err();
        let w = e.source().and_then(|s| s.downcast_ref::<webpki::Error>());
        let w = w.expect("webpki::Error is the source");
        assert_eq!(e.to_string(), format!("malformed certificate: leaf ({w})"));
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);
        let e = profile_signing_eku_ok(b"junk").unwrap_err();
        type X509Err = x509_parser::nom::Err<x509_parser::error::X509Error>;
        assert!(e
            .source()
            .and_then(|s| s.downcast_ref::<X509Err>())
            .is_some());
    }
}
