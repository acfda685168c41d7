//! Private keys: generation, PKCS#8 encoding (plain and encrypted) and the
//! bridge to rcgen for signing.
//!
//! A [`PrivateKey`] always holds a PKCS#8 `PrivateKeyInfo` DER, zeroized on drop.
//! Keys pushca generates are ECDSA P-256/P-384 (ring) or RSA 2048/3072/4096
//! (`rsa` crate, key generation only: see README on RUSTSEC-2023-0071).

use std::borrow::Cow;
use std::fmt;

use pkcs8::der::Decode;
use pkcs8::{pkcs5, PrivateKeyInfo};
use rand::RngCore;
use zeroize::Zeroizing;

pub mod decode;
pub(crate) mod legacy_pem;
pub mod signer;

use crate::secret::Secret;

pub(crate) const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
pub(crate) const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// PBKDF2 iterations for keys pushca encrypts (CA keys at rest, `--passout`).
/// OpenSSL 3 uses 2048; we spend more because these files live on disk for years.
pub(crate) const PBKDF2_ITERATIONS: u32 = 100_000;

/// Most PBKDF2 iterations pushca writes: the most its reader opens within one
/// file's work budget ([`crate::pbe::WORK_LIMIT`]) when both encodings of an
/// empty passphrase are tried, so every key it writes can be read back.
pub const MAX_WRITE_ITERATIONS: u32 = (crate::pbe::WORK_LIMIT / 2) as u32;

/// Why a private key could not be generated, read, decrypted or encoded.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The passphrase does not decrypt the key (or the ciphertext is damaged:
    /// the two cannot be told apart).
    #[error("wrong passphrase, or the encrypted key is corrupt")]
    WrongPassphrase,
    /// The key does not parse: `context` says what was being read or what
    /// is wrong; `source` is the lower crate's error when one found the fault
    /// (der, pkcs1, sec1, spki, rsa, rcgen, a PEM or PBE error).
    #[error("not a private key: {context}{}", crate::error::Paren(.source))]
    Malformed {
        /// What was being read, or what is wrong.
        context: Cow<'static, str>,
        /// The lower crate's error, when one found the fault.
        #[source]
        source: Option<crate::error::BoxError>,
    },
    /// A key type, curve or encryption scheme pushca does not handle:
    /// `context` names it; `source` is the lower crate's error when one
    /// refused it (a PBE error).
    #[error("unsupported key: {context}{}", crate::error::Paren(.source))]
    Unsupported {
        /// What is not supported.
        context: Cow<'static, str>,
        /// The lower crate's error, when one refused it.
        #[source]
        source: Option<crate::error::BoxError>,
    },
    /// The random source or the key generator failed.
    #[error("key generation failed: {0}")]
    Generation(#[source] crate::error::BoxError),
    /// Encrypting or encoding a key failed.
    #[error("encryption failed: {0}")]
    Encryption(#[source] crate::error::BoxError),
    /// Signing with the key failed (rcgen's error).
    #[error("key generation failed: signing failed ({0})")]
    Signing(#[source] rcgen::Error),
    /// An RSA key of more than 8192 bits, refused before any work on it.
    #[error("RSA key of {bits} bits refused: pushca accepts at most 8192 bits")]
    RsaTooLarge {
        /// The key's modulus size.
        bits: usize,
    },
    /// Decrypting would cost more key-derivation work than one file may
    /// ([`crate::pbe::WORK_LIMIT`]).
    #[error("the key file asks for more key-derivation work than pushca's limit for one file ({needed} > {limit} units)")]
    WorkLimit {
        /// Units the file asks for, in total.
        needed: u64,
        /// Units allowed.
        limit: u64,
    },
}

impl KeyError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            KeyError::WrongPassphrase => ErrorKind::Password,
            KeyError::Malformed { .. }
            | KeyError::Unsupported { .. }
            | KeyError::RsaTooLarge { .. }
            | KeyError::WorkLimit { .. } => ErrorKind::Input,
            KeyError::Generation(_) | KeyError::Encryption(_) | KeyError::Signing(_) => {
                ErrorKind::Crypto
            }
        }
    }
}

impl KeyError {
    /// `context` could not be read: `source` says why.
    pub(crate) fn malformed(
        context: impl Into<Cow<'static, str>>,
        source: impl Into<crate::error::BoxError>,
    ) -> KeyError {
        KeyError::Malformed {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// A key type, curve or scheme pushca does not handle, named (no lower
    /// error).
    pub(crate) fn unsupported(what: impl Into<Cow<'static, str>>) -> KeyError {
        KeyError::Unsupported {
            context: what.into(),
            source: None,
        }
    }

    /// The key is wrong in a way pushca describes (no lower error).
    pub(crate) fn invalid(reason: impl Into<Cow<'static, str>>) -> KeyError {
        KeyError::Malformed {
            context: reason.into(),
            source: None,
        }
    }
}

/// Largest RSA modulus pushca hands to the `rsa` crate (checked before any
/// validation of an untrusted key).
pub(crate) const MAX_RSA_BITS: usize = 8192;

impl From<crate::pbe::PbeError> for KeyError {
    fn from(e: crate::pbe::PbeError) -> Self {
        use crate::pbe::PbeError;
        match e {
            PbeError::Decrypt => KeyError::WrongPassphrase,
            PbeError::Unsupported { context, source } => KeyError::Unsupported { context, source },
            PbeError::Malformed { context, source } => KeyError::Malformed { context, source },
            PbeError::WorkLimit { needed, limit } => KeyError::WorkLimit { needed, limit },
            PbeError::Encryption(e) => KeyError::Encryption(e),
        }
    }
}

/// The key types pushca generates (`--key-type`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyType {
    /// ECDSA on P-256 (`ec-p256`), the default.
    #[serde(rename = "ec-p256")]
    EcP256,
    /// ECDSA on P-384 (`ec-p384`).
    #[serde(rename = "ec-p384")]
    EcP384,
    /// RSA, 2048-bit modulus (`rsa-2048`).
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA, 3072-bit modulus (`rsa-3072`).
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// RSA, 4096-bit modulus (`rsa-4096`).
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

impl KeyType {
    /// Every key type, in the order they are offered.
    pub const ALL: [KeyType; 5] = [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    /// The name `FromStr` accepts and serde writes, e.g. `ec-p256`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    pub(crate) fn algorithm(self) -> KeyAlgorithm {
        match self {
            KeyType::EcP256 => KeyAlgorithm::EcP256,
            KeyType::EcP384 => KeyAlgorithm::EcP384,
            KeyType::Rsa2048 => KeyAlgorithm::Rsa { bits: 2048 },
            KeyType::Rsa3072 => KeyAlgorithm::Rsa { bits: 3072 },
            KeyType::Rsa4096 => KeyAlgorithm::Rsa { bits: 4096 },
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            format!("unknown key type '{s}' (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)")
        })
    }
}

/// What a key is, as far as pushca cares.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA of any size pushca reads.
    Rsa {
        /// The modulus size.
        bits: usize,
    },
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyAlgorithm::EcP256 => f.write_str("EC P-256"),
            KeyAlgorithm::EcP384 => f.write_str("EC P-384"),
        }
    }
}

impl KeyAlgorithm {
    /// The `--key-type` vocabulary: `rsa-2048`, `ec-p256`, `ec-p384`.
    pub(crate) fn id(self) -> String {
        match self {
            KeyAlgorithm::Rsa { bits } => format!("rsa-{bits}"),
            KeyAlgorithm::EcP256 => "ec-p256".into(),
            KeyAlgorithm::EcP384 => "ec-p384".into(),
        }
    }

    /// A stored or displayed key type (`EC P-256`, `RSA-2048`, or already
    /// `ec-p256`) in the `--key-type` vocabulary.
    pub(crate) fn id_of(stored: &str) -> String {
        match stored {
            "EC P-256" => "ec-p256".into(),
            "EC P-384" => "ec-p384".into(),
            s if s.starts_with("RSA-") => s.to_ascii_lowercase(),
            s => s.to_string(),
        }
    }

    /// The signature algorithm a CA with this key signs with.
    pub(crate) fn rcgen_signature(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            KeyAlgorithm::Rsa { .. } => &rcgen::PKCS_RSA_SHA256,
            KeyAlgorithm::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }
}

/// A private key as PKCS#8 DER (zeroized on drop).
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    algorithm: KeyAlgorithm,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.algorithm)
    }
}

impl Clone for PrivateKey {
    fn clone(&self) -> Self {
        PrivateKey {
            pkcs8: self.pkcs8.clone(),
            algorithm: self.algorithm,
        }
    }
}

impl PrivateKey {
    /// Generates a new key from the operating system's CSPRNG.
    pub fn generate(kind: KeyType) -> Result<PrivateKey, KeyError> {
        let der: Vec<u8> = match kind {
            KeyType::EcP256 | KeyType::EcP384 => {
                let kp = rcgen::KeyPair::generate_for(kind.algorithm().rcgen_signature())
                    .map_err(|e| KeyError::Generation(e.into()))?;
                kp.serialize_der()
            }
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                use rsa::pkcs8::EncodePrivateKey;
                let bits = match kind.algorithm() {
                    KeyAlgorithm::Rsa { bits } => bits,
                    _ => 2048,
                };
                let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
                    .map_err(|e| KeyError::Generation(e.into()))?;
                let doc = key
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::Generation(e.into()))?;
                doc.as_bytes().to_vec()
            }
        };
        PrivateKey::from_pkcs8_der(&der)
    }

    /// Takes an unencrypted PKCS#8 `PrivateKeyInfo` DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let info = PrivateKeyInfo::from_der(der)
            .map_err(|e| KeyError::malformed("invalid PKCS#8 structure", e))?;
        let algorithm = classify(&info)?;
        Ok(PrivateKey {
            pkcs8: Zeroizing::new(der.to_vec()),
            algorithm,
        })
    }

    pub(crate) fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Unencrypted `-----BEGIN PRIVATE KEY-----` PEM.
    pub(crate) fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        crate::pem::encode_secret("PRIVATE KEY", &self.pkcs8)
    }

    /// `EncryptedPrivateKeyInfo` DER: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC,
    /// random 16-byte salt and IV, [`PBKDF2_ITERATIONS`] iterations.
    pub(crate) fn to_encrypted_pkcs8_der(&self, pass: &Secret) -> Result<Vec<u8>, KeyError> {
        self.to_encrypted_pkcs8_der_with(pass, PBKDF2_ITERATIONS)
    }

    /// [`Self::to_encrypted_pkcs8_der`] with `iterations` PBKDF2 iterations;
    /// `iterations` must be one the reader accepts back: at least 1 and at most
    /// [`MAX_WRITE_ITERATIONS`].
    pub(crate) fn to_encrypted_pkcs8_der_with(
        &self,
        pass: &Secret,
        iterations: u32,
    ) -> Result<Vec<u8>, KeyError> {
        if !(1..=MAX_WRITE_ITERATIONS).contains(&iterations) {
            return Err(KeyError::Encryption(
                format!(
                    "PBKDF2 iteration count {iterations} (pushca reads back 1 to {MAX_WRITE_ITERATIONS})"
                )
                .into(),
            ));
        }
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let params = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(iterations, &salt, &iv)
            .map_err(|e| KeyError::Encryption(crate::pbe::Pkcs5Error(e).into()))?;
        let info =
            PrivateKeyInfo::from_der(&self.pkcs8).map_err(|e| KeyError::Encryption(e.into()))?;
        let enc = info
            .encrypt_with_params(params, pass.as_bytes())
            .map_err(|e| KeyError::Encryption(e.into()))?;
        Ok(enc.as_bytes().to_vec())
    }

    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` PEM (see [`Self::to_encrypted_pkcs8_der`]).
    pub(crate) fn to_encrypted_pkcs8_pem(&self, pass: &Secret) -> Result<String, KeyError> {
        Ok(crate::pem::encode(
            "ENCRYPTED PRIVATE KEY",
            &self.to_encrypted_pkcs8_der(pass)?,
        ))
    }

    /// The key as an rcgen key pair, for signing certificates, CSRs and CRLs.
    pub(crate) fn to_rcgen(&self) -> Result<rcgen::KeyPair, KeyError> {
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(self.pkcs8.as_slice());
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, self.algorithm.rcgen_signature())
            .map_err(|e| KeyError::malformed("key rejected by the signer", e))
    }

    /// DER `SubjectPublicKeyInfo` of the key.
    pub fn public_key_der(&self) -> Result<Vec<u8>, KeyError> {
        use rcgen::PublicKeyData;
        Ok(self.to_rcgen()?.subject_public_key_info())
    }
}

fn classify(info: &PrivateKeyInfo<'_>) -> Result<KeyAlgorithm, KeyError> {
    let oid = info.algorithm.oid.to_string();
    match oid.as_str() {
        OID_RSA_ENCRYPTION => {
            use rsa::traits::PublicKeyParts;
            // Size first, from the DER alone: validating a multi-megabit key
            // would take minutes.
            let raw = pkcs1::RsaPrivateKey::from_der(info.private_key)
                .map_err(|e| KeyError::malformed("invalid RSA key", e))?;
            let bytes = raw.modulus.as_bytes();
            let bits = bytes.len() * 8 - bytes.first().map_or(8, |b| b.leading_zeros() as usize);
            if bits > MAX_RSA_BITS {
                return Err(KeyError::RsaTooLarge { bits });
            }
            let key = rsa::RsaPrivateKey::try_from(info.clone())
                .map_err(|e| KeyError::malformed("invalid RSA key", e))?;
            Ok(KeyAlgorithm::Rsa {
                bits: key.n().bits(),
            })
        }
        OID_EC_PUBLIC_KEY => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|_| KeyError::invalid("EC key without a named curve"))?
                .to_string();
            match curve.as_str() {
                crate::x509::OID_P256 => Ok(KeyAlgorithm::EcP256),
                crate::x509::OID_P384 => Ok(KeyAlgorithm::EcP384),
                other => Err(KeyError::unsupported(format!(
                    "EC curve {other} (supported: P-256, P-384)"
                ))),
            }
        }
        other => Err(KeyError::unsupported(format!(
            "key algorithm {other} (supported: RSA, EC P-256, EC P-384)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_and_roundtrip_encrypted() {
        for kt in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let k = PrivateKey::generate(kt).unwrap();
            assert_eq!(k.algorithm(), kt.algorithm());
            let pass = Secret::new("correct horse");
            let pem = k.to_encrypted_pkcs8_pem(&pass).unwrap();
            assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
            let back = decode::load_private_key(pem.as_bytes(), Some(&pass)).unwrap();
            assert_eq!(back.pkcs8_der(), k.pkcs8_der());
            let wrong = decode::load_private_key(pem.as_bytes(), Some(&Secret::new("nope")));
            assert!(matches!(wrong, Err(KeyError::WrongPassphrase)), "{wrong:?}");
            assert!(k.to_rcgen().is_ok());
        }
    }

    #[test]
    fn every_iteration_count_written_is_read_back() {
        let k = PrivateKey::generate(KeyType::EcP256).unwrap();
        let pass = Secret::new("pw");
        for bad in [0, MAX_WRITE_ITERATIONS + 1, u32::MAX] {
            let e = k.to_encrypted_pkcs8_der_with(&pass, bad);
            assert!(matches!(e, Err(KeyError::Encryption(_))), "{bad}: {e:?}");
        }
        for n in [1, MAX_WRITE_ITERATIONS] {
            let der = k.to_encrypted_pkcs8_der_with(&pass, n).unwrap();
            let back = decode::load_private_key(&der, Some(&pass)).unwrap();
            assert_eq!(back.pkcs8_der(), k.pkcs8_der());
        }
        // The costliest read: an empty passphrase is tried in both encodings,
        // within one file's work budget.
        let der = k
            .to_encrypted_pkcs8_der_with(&pass, MAX_WRITE_ITERATIONS)
            .unwrap();
        let wrong = decode::load_private_key(&der, Some(&Secret::new("")));
        assert!(matches!(wrong, Err(KeyError::WrongPassphrase)), "{wrong:?}");
    }

    #[test]
    fn key_type_names_roundtrip() {
        for kt in KeyType::ALL {
            assert_eq!(kt.name().parse::<KeyType>().unwrap(), kt);
        }
        assert!("rsa-1024".parse::<KeyType>().is_err());
    }

    /// The parser's error is the source, as its type; the message keeps its words.
    #[test]
    fn malformed_keys_have_the_parser_error_as_source() {
        use std::error::Error;
        let e = PrivateKey::from_pkcs8_der(b"\x30\x03\x02\x01").unwrap_err();
        let der = e.source().and_then(|s| s.downcast_ref::<der::Error>());
        let der = der.expect("der::Error is the source");
        assert_eq!(
            e.to_string(),
            format!("not a private key: invalid PKCS#8 structure ({der})")
        );
        let pem = "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n";
        let e = decode::load_private_key(pem.as_bytes(), None).unwrap_err();
        let lower = e.source().and_then(|s| s.downcast_ref::<der::Error>());
        assert!(lower.is_some(), "{e:?}");
        assert!(e
            .to_string()
            .starts_with("not a private key: invalid SEC1 EC key ("));
        // A description of what is wrong has no lower error.
        let e = decode::load_private_key(b"hello", None).unwrap_err();
        assert!(
            matches!(e, KeyError::Malformed { source: None, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn garbage_is_malformed_not_panic() {
        assert!(PrivateKey::from_pkcs8_der(b"\x30\x03\x02\x01").is_err());
        assert!(decode::load_private_key(b"hello", None).is_err());
    }
}
