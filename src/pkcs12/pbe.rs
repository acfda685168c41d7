//! Password-based encryption used inside PKCS#12 files and encrypted PKCS#8 keys:
//! the PKCS#12 PBE schemes (RFC 7292 Appendix C: 3DES, RC2) with the PKCS#12 KDF
//! from the `pkcs12` crate, PBES2 (PBKDF2 or scrypt with AES or DES, via `pkcs5`)
//! and PBES1 (PBKDF1 with MD5/SHA-1 and DES-CBC).

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipher, BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit, KeyIvInit};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use pkcs12::kdf::{derive_key, Pkcs12KeyType};
use pkcs12::pbe_params::Pkcs12PbeParams;
use sha1::Digest;
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef};
use zeroize::Zeroizing;

use crate::secret::Secret;

pub const OID_PBE_SHA1_3DES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
pub const OID_PBE_SHA1_2DES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.4");
pub const OID_PBE_SHA1_RC2_128: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.5");
pub const OID_PBE_SHA1_RC2_40: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");
const OID_PBE_MD5_DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.3");
const OID_PBE_SHA1_DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.10");
const OID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");

/// Largest iteration count accepted from a file (a hostile file must not make
/// pushca spin for hours). OpenSSL writes 2048, Java 10000, Keychain 2000.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// Why a decryption did not produce plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PbeError {
    /// Bad padding: almost always a wrong password.
    Decrypt,
    /// The algorithm or its parameters are not supported.
    Unsupported(String),
    /// The parameters do not parse.
    Malformed(String),
}

/// A password in the two encodings PKCS#12 uses: UTF-8 bytes (PBES2) and a
/// BMPString (UTF-16BE) with a two-byte terminator (the PKCS#12 KDF). The
/// "absent" password (zero-length, no terminator) is a third convention some
/// writers use for empty passwords.
pub struct Password {
    utf8: Zeroizing<Vec<u8>>,
    bmp: Zeroizing<Vec<u8>>,
}

impl Password {
    pub fn new(secret: &Secret) -> Password {
        let mut bmp = Zeroizing::new(Vec::with_capacity(secret.as_str().len() * 2 + 2));
        for unit in secret.as_str().encode_utf16() {
            bmp.extend_from_slice(&unit.to_be_bytes());
        }
        bmp.extend_from_slice(&[0, 0]);
        Password {
            utf8: Zeroizing::new(secret.as_bytes().to_vec()),
            bmp,
        }
    }

    /// The zero-length password (OpenSSL's NULL password).
    pub fn absent() -> Password {
        Password {
            utf8: Zeroizing::new(Vec::new()),
            bmp: Zeroizing::new(Vec::new()),
        }
    }

    /// The candidates to try for a given secret: an empty secret may have
    /// been encoded either way.
    pub fn candidates(secret: &Secret) -> Vec<Password> {
        if secret.is_empty() {
            vec![Password::new(secret), Password::absent()]
        } else {
            vec![Password::new(secret)]
        }
    }

    pub fn bmp(&self) -> &[u8] {
        &self.bmp
    }
    pub fn utf8(&self) -> &[u8] {
        &self.utf8
    }
}

pub(crate) fn check_iterations(n: i64) -> Result<u32, PbeError> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .ok_or_else(|| PbeError::Unsupported(format!("iteration count {n}")))
}

/// Decrypts `data` encrypted with the algorithm `alg` (DER `AlgorithmIdentifier`).
pub fn decrypt(
    alg_der: &[u8],
    pass: &Password,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    let alg = AlgorithmIdentifierRef::from_der(alg_der)
        .map_err(|e| PbeError::Malformed(format!("encryption algorithm ({e})")))?;
    let params = || -> Result<Vec<u8>, PbeError> {
        alg.parameters
            .ok_or_else(|| PbeError::Malformed("missing encryption parameters".into()))?
            .to_der()
            .map_err(|e| PbeError::Malformed(e.to_string()))
    };
    match alg.oid {
        OID_PBES2 => {
            let p = params()?;
            let scheme = pkcs5::pbes2::Parameters::from_der(&p)
                .map_err(|e| PbeError::Unsupported(format!("PBES2 parameters ({e})")))?;
            match &scheme.kdf {
                pkcs5::pbes2::Kdf::Pbkdf2(k) => {
                    check_iterations(i64::from(k.iteration_count))?;
                }
                pkcs5::pbes2::Kdf::Scrypt(k) => {
                    // 128 * r * N bytes of memory; refuse more than 256 MiB.
                    let mem = u64::from(k.block_size)
                        .checked_mul(k.cost_parameter)
                        .and_then(|x| x.checked_mul(128));
                    if !matches!(mem, Some(m) if m <= 256 << 20) || k.parallelization > 16 {
                        return Err(PbeError::Unsupported("scrypt parameters too large".into()));
                    }
                }
                _ => {}
            }
            scheme
                .decrypt(pass.utf8(), data)
                .map(Zeroizing::new)
                .map_err(|e| match e {
                    // pkcs5 0.7 reports a bad padding on decryption as EncryptFailed.
                    pkcs5::Error::DecryptFailed | pkcs5::Error::EncryptFailed => PbeError::Decrypt,
                    other => PbeError::Unsupported(format!("PBES2 ({other})")),
                })
        }
        OID_PBE_SHA1_3DES | OID_PBE_SHA1_2DES | OID_PBE_SHA1_RC2_128 | OID_PBE_SHA1_RC2_40 => {
            let p = Pkcs12PbeParams::from_der(&params()?)
                .map_err(|e| PbeError::Malformed(format!("PBE parameters ({e})")))?;
            let iters = check_iterations(i64::from(p.iterations))? as i32;
            let salt = p.salt.as_bytes();
            let (klen, ivlen) = match alg.oid {
                OID_PBE_SHA1_3DES => (24, 8),
                OID_PBE_SHA1_2DES => (16, 8),
                OID_PBE_SHA1_RC2_128 => (16, 8),
                _ => (5, 8),
            };
            let key = Zeroizing::new(derive_key::<sha1::Sha1>(
                pass.bmp(),
                salt,
                Pkcs12KeyType::EncryptionKey,
                iters,
                klen,
            ));
            let iv = derive_key::<sha1::Sha1>(pass.bmp(), salt, Pkcs12KeyType::Iv, iters, ivlen);
            match alg.oid {
                OID_PBE_SHA1_3DES => cbc_decrypt::<des::TdesEde3>(&key, &iv, data),
                OID_PBE_SHA1_2DES => cbc_decrypt::<des::TdesEde2>(&key, &iv, data),
                OID_PBE_SHA1_RC2_128 => rc2_decrypt(&key, 128, &iv, data),
                _ => rc2_decrypt(&key, 40, &iv, data),
            }
        }
        OID_PBE_MD5_DES | OID_PBE_SHA1_DES => {
            let p = Pkcs12PbeParams::from_der(&params()?)
                .map_err(|e| PbeError::Malformed(format!("PBES1 parameters ({e})")))?;
            let iters = check_iterations(i64::from(p.iterations))?;
            let dk = if alg.oid == OID_PBE_MD5_DES {
                pbkdf1::<md5::Md5>(pass.utf8(), p.salt.as_bytes(), iters)
            } else {
                pbkdf1::<sha1::Sha1>(pass.utf8(), p.salt.as_bytes(), iters)
            };
            let key = dk.get(..8).ok_or(PbeError::Decrypt)?;
            let iv = dk.get(8..16).ok_or(PbeError::Decrypt)?;
            cbc_decrypt::<des::Des>(key, iv, data)
        }
        other => Err(PbeError::Unsupported(format!(
            "encryption algorithm {other}"
        ))),
    }
}

/// PBKDF1 (RFC 8018 section 5.1): T = Hash^c(P || S).
fn pbkdf1<D: Digest>(pass: &[u8], salt: &[u8], iters: u32) -> Zeroizing<Vec<u8>> {
    let mut t = Zeroizing::new(
        D::new()
            .chain_update(pass)
            .chain_update(salt)
            .finalize()
            .to_vec(),
    );
    for _ in 1..iters {
        *t = D::digest(&t[..]).to_vec();
    }
    t
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, PbeError>
where
    C: BlockCipher + BlockDecryptMut + KeyInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| PbeError::Malformed("bad key or IV length".into()))?;
    dec.decrypt_padded_vec_mut::<Pkcs7>(data)
        .map(Zeroizing::new)
        .map_err(|_| PbeError::Decrypt)
}

fn rc2_decrypt(
    key: &[u8],
    bits: usize,
    iv: &[u8],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    let cipher = rc2::Rc2::new_with_eff_key_len(key, bits);
    let dec = cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(cipher, iv)
        .map_err(|_| PbeError::Malformed("bad IV length".into()))?;
    dec.decrypt_padded_vec_mut::<Pkcs7>(data)
        .map(Zeroizing::new)
        .map_err(|_| PbeError::Decrypt)
}

/// The encryption schemes pushca writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC (OpenSSL 3's default).
    Pbes2Aes256,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC (legacy keys).
    Sha1TripleDes,
    /// pbeWithSHAAnd40BitRC2-CBC (legacy certificates).
    Sha1Rc2_40,
}

/// Encrypts `data`; returns the DER `AlgorithmIdentifier` and the ciphertext.
pub fn encrypt(
    scheme: Scheme,
    pass: &Password,
    iterations: u32,
    data: &[u8],
) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), PbeError> {
    use rand::RngCore;
    let enc_err = |e: String| PbeError::Unsupported(format!("encryption failed ({e})"));
    match scheme {
        Scheme::Pbes2Aes256 => {
            let mut salt = [0u8; 16];
            let mut iv = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            rand::rngs::OsRng.fill_bytes(&mut iv);
            let params = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(iterations, &salt, &iv)
                .map_err(|e| enc_err(e.to_string()))?;
            let ct = params
                .encrypt(pass.utf8(), data)
                .map_err(|e| enc_err(e.to_string()))?;
            let alg_der = pkcs5::EncryptionScheme::Pbes2(params)
                .to_der()
                .map_err(|e| enc_err(e.to_string()))?;
            let alg =
                AlgorithmIdentifierOwned::from_der(&alg_der).map_err(|e| enc_err(e.to_string()))?;
            Ok((alg, ct))
        }
        Scheme::Sha1TripleDes | Scheme::Sha1Rc2_40 => {
            let mut salt = [0u8; 8];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            let iters = i32::try_from(iterations).map_err(|e| enc_err(e.to_string()))?;
            let (oid, klen) = match scheme {
                Scheme::Sha1TripleDes => (OID_PBE_SHA1_3DES, 24),
                _ => (OID_PBE_SHA1_RC2_40, 5),
            };
            let key = Zeroizing::new(derive_key::<sha1::Sha1>(
                pass.bmp(),
                &salt,
                Pkcs12KeyType::EncryptionKey,
                iters,
                klen,
            ));
            let iv = derive_key::<sha1::Sha1>(pass.bmp(), &salt, Pkcs12KeyType::Iv, iters, 8);
            let ct = if scheme == Scheme::Sha1TripleDes {
                cbc::Encryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                    .map_err(|e| enc_err(e.to_string()))?
                    .encrypt_padded_vec_mut::<Pkcs7>(data)
            } else {
                let cipher = rc2::Rc2::new_with_eff_key_len(&key, 40);
                cbc::Encryptor::<rc2::Rc2>::inner_iv_slice_init(cipher, &iv)
                    .map_err(|e| enc_err(e.to_string()))?
                    .encrypt_padded_vec_mut::<Pkcs7>(data)
            };
            let params = Pkcs12PbeParams {
                salt: OctetString::new(salt.to_vec()).map_err(|e| enc_err(e.to_string()))?,
                iterations: iters,
            };
            let params_der = params.to_der().map_err(|e| enc_err(e.to_string()))?;
            let alg = AlgorithmIdentifierOwned {
                oid,
                parameters: Some(
                    der::Any::from_der(&params_der).map_err(|e| enc_err(e.to_string()))?,
                ),
            };
            Ok((alg, ct))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_scheme() {
        let pass = Password::new(&Secret::new("pässwörd✓"));
        for scheme in [
            Scheme::Pbes2Aes256,
            Scheme::Sha1TripleDes,
            Scheme::Sha1Rc2_40,
        ] {
            let (alg, ct) = encrypt(scheme, &pass, 100, b"hello world, a secret").unwrap();
            let alg_der = alg.to_der().unwrap();
            let pt = decrypt(&alg_der, &pass, &ct).unwrap();
            assert_eq!(&pt[..], b"hello world, a secret");
            let wrong = Password::new(&Secret::new("wrong"));
            // A wrong password fails (or, rarely, unpads to different bytes).
            if let Ok(p) = decrypt(&alg_der, &wrong, &ct) {
                assert_ne!(&p[..], b"hello world, a secret");
            }
        }
    }

    #[test]
    fn bmp_encoding_has_terminator() {
        let p = Password::new(&Secret::new("a✓"));
        assert_eq!(p.bmp(), &[0, 0x61, 0x27, 0x13, 0, 0]);
        assert_eq!(Password::candidates(&Secret::new("")).len(), 2);
        assert!(Password::absent().bmp().is_empty());
    }

    #[test]
    fn garbage_parameters_are_errors() {
        let pass = Password::new(&Secret::new("x"));
        assert!(decrypt(b"\x30\x00", &pass, b"").is_err());
        assert!(decrypt(b"", &pass, b"").is_err());
    }
}
