//! The one signer: a zeroizing private key that signs certificates and CRLs
//! (through rcgen, as an [`rcgen::SigningKey`]) and CMS SignedData (profiles,
//! the gateway policy signature) with `Signer::sign`.

use super::{KeyAlgorithm, KeyError, PrivateKey};

/// A private key ready to sign. The PKCS#8 bytes are zeroized on drop (and
/// rcgen's copy too: rcgen is built with its `zeroize` feature).
pub struct Signer {
    key: PrivateKey,
    pair: rcgen::KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.key.algorithm())
    }
}

/// The digest a signer hashes with (for CMS `digestAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    Sha256,
    Sha384,
}

impl Digest {
    /// Dotted OID of the digest algorithm.
    pub(crate) fn oid(self) -> &'static str {
        match self {
            Digest::Sha256 => "2.16.840.1.101.3.4.2.1",
            Digest::Sha384 => "2.16.840.1.101.3.4.2.2",
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Digest::Sha256 => &ring::digest::SHA256,
            Digest::Sha384 => &ring::digest::SHA384,
        };
        ring::digest::digest(alg, data).as_ref().to_vec()
    }
}

impl Signer {
    pub(crate) fn new(key: PrivateKey) -> Result<Signer, KeyError> {
        let pair = key.to_rcgen()?;
        Ok(Signer { key, pair })
    }

    /// DER `SubjectPublicKeyInfo`.
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        use rcgen::PublicKeyData;
        self.pair.subject_public_key_info()
    }

    /// The digest this signer signs with: SHA-384 for P-384, else SHA-256.
    pub(crate) fn digest(&self) -> Digest {
        match self.key.algorithm() {
            KeyAlgorithm::EcP384 => Digest::Sha384,
            KeyAlgorithm::EcP256 | KeyAlgorithm::Rsa { .. } => Digest::Sha256,
        }
    }

    /// Dotted OID of the signature algorithm, and whether its parameters are
    /// an explicit NULL (RSA) or absent (ECDSA).
    pub(crate) fn signature_oid(&self) -> (&'static str, bool) {
        match self.key.algorithm() {
            KeyAlgorithm::Rsa { .. } => ("1.2.840.113549.1.1.11", true),
            KeyAlgorithm::EcP256 => ("1.2.840.10045.4.3.2", false),
            KeyAlgorithm::EcP384 => ("1.2.840.10045.4.3.3", false),
        }
    }

    /// Signs `msg` (hashing it with [`Signer::digest`]): PKCS#1 v1.5 for RSA,
    /// ASN.1 DER ECDSA signatures for EC.
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        use rcgen::SigningKey;
        self.pair.sign(msg).map_err(KeyError::Signing)
    }
}

impl rcgen::PublicKeyData for Signer {
    fn der_bytes(&self) -> &[u8] {
        self.pair.der_bytes()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        rcgen::PublicKeyData::algorithm(&self.pair)
    }
}

impl rcgen::SigningKey for Signer {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.pair.sign(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyType;

    #[test]
    fn signatures_verify_with_the_public_key() {
        for (kt, alg) in [
            (
                KeyType::EcP256,
                &ring::signature::ECDSA_P256_SHA256_ASN1
                    as &dyn ring::signature::VerificationAlgorithm,
            ),
            (KeyType::EcP384, &ring::signature::ECDSA_P384_SHA384_ASN1),
            (
                KeyType::Rsa2048,
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            ),
        ] {
            let s = Signer::new(PrivateKey::generate(kt).unwrap()).unwrap();
            let sig = s.sign(b"message").unwrap();
            let spki = s.public_key_der();
            let (_, parsed) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki).unwrap();
            let key = ring::signature::UnparsedPublicKey::new(alg, &parsed.subject_public_key.data);
            key.verify(b"message", &sig).unwrap();
            assert!(key.verify(b"massage", &sig).is_err());
        }
    }

    use x509_parser::prelude::FromDer;
}
