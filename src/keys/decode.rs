//! Loading a private key from any format users have: PKCS#8 (plain or
//! encrypted with PBES2/PBKDF2, PBES2/scrypt, PKCS#12 PBE 3DES, PBES1 DES),
//! PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`), legacy encrypted PEM
//! (`Proc-Type: 4,ENCRYPTED`), PEM or DER. And the way back to the
//! "traditional" PKCS#1 / SEC1 encodings.

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use pkcs8::PrivateKeyInfo;
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

use super::{legacy_pem, KeyError, PrivateKey, OID_EC_PUBLIC_KEY, OID_RSA_ENCRYPTION};
use crate::pbe::{self, Password, PbeError, WorkBudget};
use crate::pem::{blocks as pem_blocks, encode_secret, is_pem};
use crate::secret::Secret;

const RSA_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_RSA_ENCRYPTION);
const EC_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_EC_PUBLIC_KEY);

const KEY_LABELS: [&str; 4] = [
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
];

/// The encodings a key file can be in.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// PKCS#8 `PrivateKeyInfo` (`PRIVATE KEY`), unencrypted.
    Pkcs8,
    /// PKCS#8 `EncryptedPrivateKeyInfo` (`ENCRYPTED PRIVATE KEY`).
    EncryptedPkcs8,
    /// PKCS#1 RSA (`RSA PRIVATE KEY`), plain or legacy-encrypted PEM.
    Pkcs1,
    /// SEC1 EC (`EC PRIVATE KEY`), plain or legacy-encrypted PEM.
    Sec1,
}

/// Whether the key file needs a passphrase (encrypted PKCS#8 or legacy encrypted PEM).
pub(crate) fn is_encrypted(bytes: &[u8]) -> bool {
    if is_pem(bytes) {
        return pem_blocks(bytes)
            .ok()
            .and_then(|bs| {
                bs.into_iter()
                    .find(|b| KEY_LABELS.contains(&b.label.as_str()))
            })
            .map(|b| b.label == "ENCRYPTED PRIVATE KEY" || legacy_pem::is_encrypted(&b.headers))
            .unwrap_or(false);
    }
    PrivateKeyInfo::from_der(bytes).is_err()
        && pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(bytes).is_ok()
}

/// Loads a private key in any supported format. `pass` is needed only for
/// encrypted keys. Returns the key and the format it was in.
pub(crate) fn load_private_key_with_format(
    bytes: &[u8],
    pass: Option<&Secret>,
) -> Result<(PrivateKey, KeyFormat), KeyError> {
    load_private_key_budgeted(bytes, pass, &mut WorkBudget::new())
}

/// [`load_private_key_with_format`] charging key derivation to `budget`
/// (one budget per input file, across password attempts).
pub(crate) fn load_private_key_budgeted(
    bytes: &[u8],
    pass: Option<&Secret>,
    budget: &mut WorkBudget,
) -> Result<(PrivateKey, KeyFormat), KeyError> {
    if is_pem(bytes) {
        let blocks = pem_blocks(bytes).map_err(|e| KeyError::malformed("invalid PEM", e))?;
        let Some(block) = blocks
            .iter()
            .find(|b| KEY_LABELS.contains(&b.label.as_str()))
        else {
            let found: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
            return Err(if found.is_empty() {
                KeyError::invalid("no PEM block found")
            } else {
                KeyError::invalid(format!(
                    "no private key in the file (found {})",
                    found.join(", ")
                ))
            });
        };
        let der = if legacy_pem::is_encrypted(&block.headers) {
            let p = pass.ok_or_else(need_pass)?;
            legacy_pem::decrypt(&block.headers, &block.der, p, budget)?
        } else {
            block.der.clone()
        };
        let wrong_if_encrypted = |e: KeyError| {
            if legacy_pem::is_encrypted(&block.headers) {
                KeyError::WrongPassphrase
            } else {
                e
            }
        };
        return match block.label.as_str() {
            "PRIVATE KEY" => Ok((
                PrivateKey::from_pkcs8_der(&der).map_err(wrong_if_encrypted)?,
                KeyFormat::Pkcs8,
            )),
            "ENCRYPTED PRIVATE KEY" => Ok((
                decrypt_pkcs8(&der, pass.ok_or_else(need_pass)?, budget)?,
                KeyFormat::EncryptedPkcs8,
            )),
            "RSA PRIVATE KEY" => Ok((
                from_pkcs1_der(&der).map_err(wrong_if_encrypted)?,
                KeyFormat::Pkcs1,
            )),
            _ => Ok((
                from_sec1_der(&der).map_err(wrong_if_encrypted)?,
                KeyFormat::Sec1,
            )),
        };
    }
    if let Ok(k) = PrivateKey::from_pkcs8_der(bytes) {
        return Ok((k, KeyFormat::Pkcs8));
    }
    if pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(bytes).is_ok() {
        return Ok((
            decrypt_pkcs8(bytes, pass.ok_or_else(need_pass)?, budget)?,
            KeyFormat::EncryptedPkcs8,
        ));
    }
    if pkcs1::RsaPrivateKey::from_der(bytes).is_ok() {
        return Ok((from_pkcs1_der(bytes)?, KeyFormat::Pkcs1));
    }
    if sec1::EcPrivateKey::from_der(bytes).is_ok() {
        return Ok((from_sec1_der(bytes)?, KeyFormat::Sec1));
    }
    match PrivateKey::from_pkcs8_der(bytes) {
        Err(e @ KeyError::Unsupported { .. }) => Err(e),
        _ => Err(KeyError::invalid(
            "not a private key (expected PEM, or DER PKCS#8, PKCS#1 or SEC1)",
        )),
    }
}

/// Loads a private key in any format the module docs list, PEM or DER;
/// an encrypted key needs `pass`.
pub fn load_private_key(bytes: &[u8], pass: Option<&Secret>) -> Result<PrivateKey, KeyError> {
    load_private_key_with_format(bytes, pass).map(|(k, _)| k)
}

fn need_pass() -> KeyError {
    KeyError::invalid("the key is encrypted and no passphrase was given")
}

/// Decrypts a DER `EncryptedPrivateKeyInfo` with any scheme pushca knows.
pub(crate) fn decrypt_pkcs8(
    der: &[u8],
    pass: &Secret,
    budget: &mut WorkBudget,
) -> Result<PrivateKey, KeyError> {
    let epki = pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(der)
        .map_err(|e| KeyError::malformed("invalid encrypted PKCS#8 structure", e))?;
    let alg = epki
        .encryption_algorithm
        .to_der()
        .map_err(|e| KeyError::malformed("invalid encryption algorithm", e))?;
    let mut result = Err(KeyError::WrongPassphrase);
    for p in Password::candidates(pass) {
        result = match pbe::decrypt(&alg, &p, epki.encrypted_data.as_bytes(), budget) {
            Ok(plain) => PrivateKey::from_pkcs8_der(&plain).map_err(|e| match e {
                e @ KeyError::Unsupported { .. } => e,
                e @ KeyError::RsaTooLarge { .. } => e,
                _ => KeyError::WrongPassphrase,
            }),
            Err(PbeError::Decrypt) => Err(KeyError::WrongPassphrase),
            Err(e) => return Err(e.into()),
        };
        if result.is_ok() {
            break;
        }
    }
    result
}

fn wrap_pkcs8(alg: AlgorithmIdentifierRef<'_>, inner: &[u8]) -> Result<PrivateKey, KeyError> {
    let info = PrivateKeyInfo::new(alg, inner);
    let der = Zeroizing::new(
        info.to_der()
            .map_err(|e| KeyError::malformed("cannot encode the PKCS#8 structure", e))?,
    );
    PrivateKey::from_pkcs8_der(&der)
}

/// PKCS#1 `RSAPrivateKey` DER → key.
pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
    pkcs1::RsaPrivateKey::from_der(der)
        .map_err(|e| KeyError::malformed("invalid PKCS#1 RSA key", e))?;
    let alg = AlgorithmIdentifierRef {
        oid: RSA_OID,
        parameters: Some(der::AnyRef::NULL),
    };
    wrap_pkcs8(alg, der)
}

/// SEC1 `ECPrivateKey` DER (with its named curve) → key. Like OpenSSL, the
/// curve moves to the PKCS#8 algorithm identifier and the public key stays.
pub(crate) fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let ec = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| KeyError::malformed("invalid SEC1 EC key", e))?;
    let curve = ec
        .parameters
        .and_then(|p| p.named_curve())
        .ok_or_else(|| KeyError::unsupported("EC key without a named curve"))?;
    let inner = sec1::EcPrivateKey {
        private_key: ec.private_key,
        parameters: None,
        public_key: ec.public_key,
    };
    let inner_der = Zeroizing::new(
        inner
            .to_der()
            .map_err(|e| KeyError::malformed("cannot encode the EC key", e))?,
    );
    let curve_any = der::AnyRef::from(&curve);
    let alg = AlgorithmIdentifierRef {
        oid: EC_OID,
        parameters: Some(curve_any),
    };
    wrap_pkcs8(alg, &inner_der)
}

/// The key as PKCS#1 (RSA) or SEC1 (EC, with named curve and public key) DER,
/// and its PEM label: what `openssl rsa|ec -traditional` writes.
pub(crate) fn to_traditional_der(
    key: &PrivateKey,
) -> Result<(Zeroizing<Vec<u8>>, &'static str), KeyError> {
    let info = PrivateKeyInfo::from_der(key.pkcs8_der())
        .map_err(|e| KeyError::malformed("invalid PKCS#8 structure", e))?;
    if info.algorithm.oid == RSA_OID {
        return Ok((Zeroizing::new(info.private_key.to_vec()), "RSA PRIVATE KEY"));
    }
    if info.algorithm.oid == EC_OID {
        let curve = info
            .algorithm
            .parameters_oid()
            .map_err(|_| KeyError::invalid("EC key without a named curve"))?;
        let ec = sec1::EcPrivateKey::from_der(info.private_key)
            .map_err(|e| KeyError::malformed("invalid EC key", e))?;
        let out = sec1::EcPrivateKey {
            private_key: ec.private_key,
            parameters: Some(sec1::EcParameters::NamedCurve(curve)),
            public_key: ec.public_key,
        };
        let der = out
            .to_der()
            .map_err(|e| KeyError::malformed("cannot encode the SEC1 EC key", e))?;
        return Ok((Zeroizing::new(der), "EC PRIVATE KEY"));
    }
    Err(KeyError::unsupported(format!(
        "no traditional encoding for {}",
        info.algorithm.oid
    )))
}

/// `-----BEGIN RSA PRIVATE KEY-----` or `-----BEGIN EC PRIVATE KEY-----` PEM.
pub(crate) fn to_traditional_pem(key: &PrivateKey) -> Result<Zeroizing<String>, KeyError> {
    let (der, label) = to_traditional_der(key)?;
    Ok(encode_secret(label, &der))
}

/// The DER `SubjectPublicKeyInfo` of a private key (RSA via the `rsa` crate;
/// EC from the public key stored with the private key).
pub(crate) fn public_key_spki(key: &PrivateKey) -> Result<Vec<u8>, KeyError> {
    let info = PrivateKeyInfo::from_der(key.pkcs8_der())
        .map_err(|e| KeyError::malformed("invalid PKCS#8 structure", e))?;
    if info.algorithm.oid == RSA_OID {
        use rsa::pkcs8::EncodePublicKey;
        let k = rsa::RsaPrivateKey::try_from(info)
            .map_err(|e| KeyError::malformed("invalid RSA key", e))?;
        let doc = k
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| KeyError::malformed("cannot encode the RSA public key", e))?;
        return Ok(doc.as_bytes().to_vec());
    }
    if info.algorithm.oid == EC_OID {
        let ec = sec1::EcPrivateKey::from_der(info.private_key)
            .map_err(|e| KeyError::malformed("invalid EC key", e))?;
        if let Some(pk) = ec.public_key {
            let spki = spki::SubjectPublicKeyInfoRef {
                algorithm: info.algorithm,
                subject_public_key: der::asn1::BitStringRef::from_bytes(pk)
                    .map_err(|e| KeyError::malformed("invalid EC public key", e))?,
            };
            return spki
                .to_der()
                .map_err(|e| KeyError::malformed("cannot encode the public key", e));
        }
        return key.public_key_der().map_err(|_| {
            KeyError::unsupported(
                "EC private key without its public key (re-export it with openssl pkey)",
            )
        });
    }
    Err(KeyError::unsupported(format!(
        "key algorithm {}",
        info.algorithm.oid
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyType;

    #[test]
    fn traditional_roundtrip_for_every_key_type() {
        for kt in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let k = PrivateKey::generate(kt).unwrap();
            let (der, _) = to_traditional_der(&k).unwrap();
            let back = load_private_key(&der, None).unwrap();
            assert_eq!(back.pkcs8_der(), k.pkcs8_der(), "{kt}");
            let pem = to_traditional_pem(&k).unwrap();
            let (back, fmt) = load_private_key_with_format(pem.as_bytes(), None).unwrap();
            assert_eq!(back.pkcs8_der(), k.pkcs8_der());
            assert!(matches!(fmt, KeyFormat::Pkcs1 | KeyFormat::Sec1));
            assert!(!is_encrypted(pem.as_bytes()));
            // The public key derived from the private key is the rcgen one.
            assert_eq!(public_key_spki(&k).unwrap(), k.public_key_der().unwrap());
        }
    }

    #[test]
    fn encrypted_pkcs8_needs_the_right_password() {
        let k = PrivateKey::generate(KeyType::EcP256).unwrap();
        let pass = Secret::new("pässwörd");
        let pem = k.to_encrypted_pkcs8_pem(&pass).unwrap();
        assert!(is_encrypted(pem.as_bytes()));
        let back = load_private_key(pem.as_bytes(), Some(&pass)).unwrap();
        assert_eq!(back.pkcs8_der(), k.pkcs8_der());
        let wrong = load_private_key(pem.as_bytes(), Some(&Secret::new("nope")));
        assert!(matches!(wrong, Err(KeyError::WrongPassphrase)), "{wrong:?}");
        assert!(load_private_key(pem.as_bytes(), None).is_err());
    }

    #[test]
    fn pem_without_a_key_names_what_it_found() {
        let e = load_private_key(
            b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("CERTIFICATE"), "{e}");
        assert!(load_private_key(b"", None).is_err());
    }

    /// An encrypted PKCS#8 key whose PBES2 parameters pkcs5 refuses: the
    /// error is `Unsupported` with pkcs5's error as the source, as its type.
    #[test]
    fn unsupported_encryption_has_the_pkcs5_error_as_source() {
        use std::error::Error;
        let epki = pkcs12::pbe_params::EncryptedPrivateKeyInfo {
            encryption_algorithm: spki::AlgorithmIdentifierOwned::from_der(
                &crate::pbe::tests::refused_pbes2_alg(),
            )
            .unwrap(),
            encrypted_data: der::asn1::OctetString::new(vec![0u8; 16]).unwrap(),
        }
        .to_der()
        .unwrap();
        let e = load_private_key(&epki, Some(&Secret::new("pw"))).unwrap_err();
        assert!(matches!(e, KeyError::Unsupported { .. }), "{e:?}");
        let lower = e
            .source()
            .and_then(|s| s.downcast_ref::<crate::pbe::Pkcs5Error>());
        let lower = lower.expect("pkcs5's error is the source");
        assert_eq!(e.to_string(), format!("unsupported key: PBES2 ({lower})"));
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);
    }
}
