//! Password-based encryption, in one place: the PKCS#12 PBE schemes (RFC 7292
//! Appendix C: 3DES, RC2) with the PKCS#12 KDF from the `pkcs12` crate, PBES2
//! (PBKDF2 or scrypt with AES or DES, via `pkcs5`), PBES1 (PBKDF1 with MD5/SHA-1
//! and DES-CBC), OpenSSL's legacy `EVP_BytesToKey`, the CBC decryptors, and the
//! [`WorkBudget`] that bounds the key-derivation work one input file can cause.
//!
//! Used by PKCS#12 files (bags and MAC), encrypted PKCS#8 keys (CA keys
//! included) and legacy encrypted PEM keys.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipher, BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit, KeyIvInit};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use pkcs12::kdf::{derive_key, Pkcs12KeyType};
use pkcs12::pbe_params::Pkcs12PbeParams;
use sha1::Digest;
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef};
use zeroize::Zeroizing;

use std::borrow::Cow;

use crate::error::BoxError;
use crate::secret::Secret;

pub(crate) const OID_PBE_SHA1_3DES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
pub(crate) const OID_PBE_SHA1_2DES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.4");
pub(crate) const OID_PBE_SHA1_RC2_128: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.5");
pub(crate) const OID_PBE_SHA1_RC2_40: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");
const OID_PBE_MD5_DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.3");
const OID_PBE_SHA1_DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.10");
const OID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");

/// Largest iteration count accepted from a file. OpenSSL writes 2048, Java
/// 10000, Keychain 2000, pushca's CA keys 600,000.
pub(crate) const MAX_ITERATIONS: u32 = 10_000_000;

/// Key-derivation work allowed for one input file, in units of about one
/// HMAC-SHA-256 iteration (see [`WorkBudget`]). Calibrated so that the worst
/// accepted file costs well under a second on a small machine, while a
/// PBKDF2-SHA256 CA key at 600,000 iterations, OpenSSL 3 / `-legacy` / Java
/// keytool / Keychain / Windows files and `openssl pkcs8 -scrypt` keys open
/// with room to spare.
pub const WORK_LIMIT: u64 = 3_000_000;

/// Why a decryption did not produce plaintext, or an encryption no ciphertext.
#[non_exhaustive]
#[derive(Debug)]
pub enum PbeError {
    /// Bad padding: almost always a wrong password.
    Decrypt,
    /// The algorithm or its parameters are not supported: `context` names
    /// what; `source` is the lower crate's error when one refused it.
    Unsupported {
        /// What is not supported.
        context: Cow<'static, str>,
        /// The lower crate's error, when one refused the parameters.
        source: Option<BoxError>,
    },
    /// The parameters do not parse: `context` says what was being read or
    /// what is wrong; `source` is the lower crate's error when one found it.
    Malformed {
        /// What was being read, or what is wrong.
        context: Cow<'static, str>,
        /// The lower crate's error, when one found the fault.
        source: Option<BoxError>,
    },
    /// The file asks for more key-derivation work than [`WORK_LIMIT`].
    WorkLimit {
        /// Units the file asks for, in total.
        needed: u64,
        /// Units allowed.
        limit: u64,
    },
    /// Encrypting failed (a lower crate's error while building the parameters,
    /// the ciphertext or their encoding).
    Encryption(BoxError),
}

impl PbeError {
    fn malformed(context: &'static str, source: impl Into<BoxError>) -> PbeError {
        PbeError::Malformed {
            context: Cow::Borrowed(context),
            source: Some(source.into()),
        }
    }

    fn invalid(reason: &'static str) -> PbeError {
        PbeError::Malformed {
            context: Cow::Borrowed(reason),
            source: None,
        }
    }

    /// Something pushca does not handle, named (no lower error).
    fn unsupported(what: impl Into<Cow<'static, str>>) -> PbeError {
        PbeError::Unsupported {
            context: what.into(),
            source: None,
        }
    }

    /// A lower crate refused `context` as unsupported: `source` says why.
    fn unsupported_by(context: &'static str, source: impl Into<BoxError>) -> PbeError {
        PbeError::Unsupported {
            context: Cow::Borrowed(context),
            source: Some(source.into()),
        }
    }
}

/// A `pkcs5` error as a [`std::error::Error`] (pkcs5 0.7 implements only
/// `Display` and has no `std` feature), so it can be a typed source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pkcs5Error(pub pkcs5::Error);

impl std::fmt::Display for Pkcs5Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Pkcs5Error {}

impl std::error::Error for PbeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PbeError::Malformed { source, .. } | PbeError::Unsupported { source, .. } => {
                source.as_deref().map(|e| e as _)
            }
            PbeError::Encryption(e) => Some(&**e),
            PbeError::Decrypt | PbeError::WorkLimit { .. } => None,
        }
    }
}

impl PbeError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            PbeError::Decrypt => ErrorKind::Password,
            PbeError::Unsupported { .. }
            | PbeError::Malformed { .. }
            | PbeError::WorkLimit { .. } => ErrorKind::Input,
            PbeError::Encryption(_) => ErrorKind::Crypto,
        }
    }
}

impl std::fmt::Display for PbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PbeError::Decrypt => f.write_str("decryption failed (wrong password?)"),
            PbeError::Unsupported { context, source } => {
                write!(f, "unsupported: {context}{}", crate::error::Paren(source))
            }
            PbeError::Malformed { context, source } => {
                write!(f, "malformed: {context}{}", crate::error::Paren(source))
            }
            PbeError::WorkLimit { needed, limit } => write!(
                f,
                "the file asks for more key-derivation work than pushca's limit for one file ({needed} > {limit} units)"
            ),
            PbeError::Encryption(e) => write!(f, "encryption failed ({e})"),
        }
    }
}

/// The key-derivation work one input file may cause, summed over every bag,
/// the MAC and every password attempt. One unit is about one HMAC-SHA-256
/// iteration; SHA-384/512 iterations count 2, scrypt counts `N·r·p · 2`.
/// Work is charged *before* it is done, so a hostile file is refused without
/// spending the time.
#[derive(Debug, Clone)]
pub struct WorkBudget {
    spent: u64,
    limit: u64,
}

impl Default for WorkBudget {
    fn default() -> Self {
        WorkBudget::new()
    }
}

impl WorkBudget {
    /// A budget of [`WORK_LIMIT`] units for one file.
    pub fn new() -> WorkBudget {
        WorkBudget {
            spent: 0,
            limit: WORK_LIMIT,
        }
    }

    /// Charges `units`, or refuses when the total would pass the limit.
    pub(crate) fn charge(&mut self, units: u64) -> Result<(), PbeError> {
        let needed = self.spent.saturating_add(units);
        if needed > self.limit {
            return Err(PbeError::WorkLimit {
                needed,
                limit: self.limit,
            });
        }
        self.spent = needed;
        Ok(())
    }
}

/// Cost in units of `iterations` of a KDF over a hash, producing `out_len`
/// bytes from a hash of `hash_len` bytes (`weight` per iteration and block).
pub(crate) fn kdf_units(iterations: u64, out_len: usize, hash_len: usize, weight: u64) -> u64 {
    let blocks = out_len.div_ceil(hash_len.max(1)).max(1) as u64;
    iterations.saturating_mul(blocks).saturating_mul(weight)
}

/// A password in the two encodings PKCS#12 uses: UTF-8 bytes (PBES2) and a
/// BMPString (UTF-16BE) with a two-byte terminator (the PKCS#12 KDF). The
/// "absent" password (zero-length, no terminator) is a third convention some
/// writers use for empty passwords.
pub(crate) struct Password {
    utf8: Zeroizing<Vec<u8>>,
    bmp: Zeroizing<Vec<u8>>,
}

impl Password {
    pub(crate) fn new(secret: &Secret) -> Password {
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
    pub(crate) fn absent() -> Password {
        Password {
            utf8: Zeroizing::new(Vec::new()),
            bmp: Zeroizing::new(Vec::new()),
        }
    }

    /// The candidates to try for a given secret: an empty secret may have
    /// been encoded either way.
    pub(crate) fn candidates(secret: &Secret) -> Vec<Password> {
        if secret.is_empty() {
            vec![Password::new(secret), Password::absent()]
        } else {
            vec![Password::new(secret)]
        }
    }

    pub(crate) fn bmp(&self) -> &[u8] {
        &self.bmp
    }
    pub(crate) fn utf8(&self) -> &[u8] {
        &self.utf8
    }
}

pub(crate) fn check_iterations(n: i64) -> Result<u32, PbeError> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .ok_or_else(|| PbeError::unsupported(format!("iteration count {n}")))
}

/// Decrypts `data` encrypted with the algorithm `alg` (DER `AlgorithmIdentifier`),
/// charging the key derivation to `budget` first.
pub(crate) fn decrypt(
    alg_der: &[u8],
    pass: &Password,
    data: &[u8],
    budget: &mut WorkBudget,
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    let alg = AlgorithmIdentifierRef::from_der(alg_der)
        .map_err(|e| PbeError::malformed("encryption algorithm", e))?;
    let params = || -> Result<Vec<u8>, PbeError> {
        alg.parameters
            .ok_or_else(|| PbeError::invalid("missing encryption parameters"))?
            .to_der()
            .map_err(|e| PbeError::malformed("encryption parameters", e))
    };
    match alg.oid {
        OID_PBES2 => {
            let p = params()?;
            let scheme = pkcs5::pbes2::Parameters::from_der(&p)
                .map_err(|e| PbeError::unsupported_by("PBES2 parameters", e))?;
            let key_len = scheme.encryption.key_size();
            match &scheme.kdf {
                pkcs5::pbes2::Kdf::Pbkdf2(k) => {
                    let iters = check_iterations(i64::from(k.iteration_count))?;
                    let (hash_len, weight) = match k.prf {
                        pkcs5::pbes2::Pbkdf2Prf::HmacWithSha1 => (20, 1),
                        pkcs5::pbes2::Pbkdf2Prf::HmacWithSha224
                        | pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256 => (32, 1),
                        pkcs5::pbes2::Pbkdf2Prf::HmacWithSha384
                        | pkcs5::pbes2::Pbkdf2Prf::HmacWithSha512 => (64, 2),
                        _ => (64, 2),
                    };
                    budget.charge(kdf_units(u64::from(iters), key_len, hash_len, weight))?;
                }
                pkcs5::pbes2::Kdf::Scrypt(k) => {
                    // 128 * r * N bytes of memory; refuse more than 256 MiB.
                    let mem = u64::from(k.block_size)
                        .checked_mul(k.cost_parameter)
                        .and_then(|x| x.checked_mul(128));
                    if !matches!(mem, Some(m) if m <= 256 << 20) || k.parallelization > 16 {
                        return Err(PbeError::unsupported("scrypt parameters too large"));
                    }
                    budget.charge(
                        k.cost_parameter
                            .saturating_mul(u64::from(k.block_size))
                            .saturating_mul(u64::from(k.parallelization))
                            .saturating_mul(2),
                    )?;
                }
                _ => return Err(PbeError::unsupported("PBES2 key derivation function")),
            }
            scheme
                .decrypt(pass.utf8(), data)
                .map(Zeroizing::new)
                .map_err(|e| match e {
                    // pkcs5 0.7 reports a bad padding on decryption as EncryptFailed.
                    pkcs5::Error::DecryptFailed | pkcs5::Error::EncryptFailed => PbeError::Decrypt,
                    other => PbeError::unsupported_by("PBES2", Pkcs5Error(other)),
                })
        }
        OID_PBE_SHA1_3DES | OID_PBE_SHA1_2DES | OID_PBE_SHA1_RC2_128 | OID_PBE_SHA1_RC2_40 => {
            let p = Pkcs12PbeParams::from_der(&params()?)
                .map_err(|e| PbeError::malformed("PBE parameters", e))?;
            let iters = check_iterations(i64::from(p.iterations))? as i32;
            let salt = p.salt.as_bytes();
            let (klen, ivlen) = match alg.oid {
                OID_PBE_SHA1_3DES => (24, 8),
                OID_PBE_SHA1_2DES => (16, 8),
                OID_PBE_SHA1_RC2_128 => (16, 8),
                _ => (5, 8),
            };
            // The PKCS#12 KDF runs once for the key and once for the IV.
            budget.charge(
                kdf_units(iters as u64, klen, 20, 1) + kdf_units(iters as u64, ivlen, 20, 1),
            )?;
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
                .map_err(|e| PbeError::malformed("PBES1 parameters", e))?;
            let iters = check_iterations(i64::from(p.iterations))?;
            budget.charge(u64::from(iters))?;
            let dk = if alg.oid == OID_PBE_MD5_DES {
                pbkdf1::<md5::Md5>(pass.utf8(), p.salt.as_bytes(), iters)
            } else {
                pbkdf1::<sha1::Sha1>(pass.utf8(), p.salt.as_bytes(), iters)
            };
            let key = dk.get(..8).ok_or(PbeError::Decrypt)?;
            let iv = dk.get(8..16).ok_or(PbeError::Decrypt)?;
            cbc_decrypt::<des::Des>(key, iv, data)
        }
        other => Err(PbeError::unsupported(format!(
            "encryption algorithm {other}"
        ))),
    }
}

/// OpenSSL's `EVP_BytesToKey(cipher, MD5, salt, pass, count = 1)`, key part
/// only (legacy `Proc-Type: 4,ENCRYPTED` PEM keys). One iteration: charged 1.
pub(crate) fn evp_bytes_to_key(
    pass: &[u8],
    salt: &[u8],
    key_len: usize,
    budget: &mut WorkBudget,
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    budget.charge(1)?;
    let mut out = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < key_len {
        let d = md5::Md5::new()
            .chain_update(&prev)
            .chain_update(pass)
            .chain_update(salt)
            .finalize();
        prev = d.to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(key_len);
    Ok(out)
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

/// CBC decryption with PKCS#7 padding; a bad padding is [`PbeError::Decrypt`].
pub(crate) fn cbc_decrypt<C>(
    key: &[u8],
    iv: &[u8],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PbeError>
where
    C: BlockCipher + BlockDecryptMut + KeyInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| PbeError::invalid("bad key or IV length"))?;
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
        .map_err(|_| PbeError::invalid("bad IV length"))?;
    dec.decrypt_padded_vec_mut::<Pkcs7>(data)
        .map(Zeroizing::new)
        .map_err(|_| PbeError::Decrypt)
}

/// The encryption schemes pushca writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC (OpenSSL 3's default).
    Pbes2Aes256,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC (legacy keys).
    Sha1TripleDes,
    /// pbeWithSHAAnd40BitRC2-CBC (legacy certificates).
    Sha1Rc2_40,
}

/// Encrypts `data`; returns the DER `AlgorithmIdentifier` and the ciphertext.
pub(crate) fn encrypt(
    scheme: Scheme,
    pass: &Password,
    iterations: u32,
    data: &[u8],
) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), PbeError> {
    use rand::RngCore;
    fn enc_err(e: impl Into<BoxError>) -> PbeError {
        PbeError::Encryption(e.into())
    }
    match scheme {
        Scheme::Pbes2Aes256 => {
            let mut salt = [0u8; 16];
            let mut iv = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            rand::rngs::OsRng.fill_bytes(&mut iv);
            let params = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(iterations, &salt, &iv)
                .map_err(|e| enc_err(Pkcs5Error(e)))?;
            let ct = params
                .encrypt(pass.utf8(), data)
                .map_err(|e| enc_err(Pkcs5Error(e)))?;
            let alg_der = pkcs5::EncryptionScheme::Pbes2(params)
                .to_der()
                .map_err(enc_err)?;
            let alg = AlgorithmIdentifierOwned::from_der(&alg_der).map_err(enc_err)?;
            Ok((alg, ct))
        }
        Scheme::Sha1TripleDes | Scheme::Sha1Rc2_40 => {
            let mut salt = [0u8; 8];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            let iters = i32::try_from(iterations).map_err(enc_err)?;
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
                    .map_err(enc_err)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data)
            } else {
                let cipher = rc2::Rc2::new_with_eff_key_len(&key, 40);
                cbc::Encryptor::<rc2::Rc2>::inner_iv_slice_init(cipher, &iv)
                    .map_err(enc_err)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data)
            };
            let params = Pkcs12PbeParams {
                salt: OctetString::new(salt.to_vec()).map_err(enc_err)?,
                iterations: iters,
            };
            let params_der = params.to_der().map_err(enc_err)?;
            let alg = AlgorithmIdentifierOwned {
                oid,
                parameters: Some(der::Any::from_der(&params_der).map_err(enc_err)?),
            };
            Ok((alg, ct))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
            let pt = decrypt(&alg_der, &pass, &ct, &mut WorkBudget::new()).unwrap();
            assert_eq!(&pt[..], b"hello world, a secret");
            let wrong = Password::new(&Secret::new("wrong"));
            // A wrong password fails (or, rarely, unpads to different bytes).
            if let Ok(p) = decrypt(&alg_der, &wrong, &ct, &mut WorkBudget::new()) {
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

    /// A parameter the der crate cannot read is the source, as its type.
    #[test]
    fn malformed_parameters_have_the_der_error_as_source() {
        use std::error::Error;
        let pass = Password::new(&Secret::new("x"));
        let e = decrypt(b"\x30\x00", &pass, b"", &mut WorkBudget::new()).unwrap_err();
        let der = e.source().and_then(|s| s.downcast_ref::<der::Error>());
        let der = der.expect("der::Error is the source");
        assert_eq!(
            e.to_string(),
            format!("malformed: encryption algorithm ({der})")
        );
        let pkcs5 = Pkcs5Error(pkcs5::Error::AlgorithmParametersInvalid { oid: OID_PBES2 });
        let e = PbeError::Encryption(pkcs5.into());
        let back = e.source().and_then(|s| s.downcast_ref::<Pkcs5Error>());
        assert_eq!(back, Some(&pkcs5));
        assert_eq!(e.kind(), crate::error::ErrorKind::Crypto);
    }

    /// `AlgorithmIdentifier { PBES2, SEQUENCE {} }`: PBES2 parameters the
    /// der crate cannot read.
    pub(crate) fn empty_pbes2_alg() -> Vec<u8> {
        AlgorithmIdentifierOwned {
            oid: OID_PBES2,
            parameters: Some(der::Any::from_der(&[0x30, 0x00]).unwrap()),
        }
        .to_der()
        .unwrap()
    }

    /// PBES2 parameters that parse but that pkcs5 refuses when decrypting: a
    /// PBKDF2 key length of 16 bytes for AES-256.
    pub(crate) fn refused_pbes2_alg() -> Vec<u8> {
        let params = pkcs5::pbes2::Parameters {
            kdf: pkcs5::pbes2::Kdf::Pbkdf2(pkcs5::pbes2::Pbkdf2Params {
                salt: &[7; 16],
                iteration_count: 1000,
                key_length: Some(16),
                prf: pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256,
            }),
            encryption: pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv: &[0; 16] },
        };
        pkcs5::EncryptionScheme::Pbes2(params).to_der().unwrap()
    }

    /// Unsupported PBES2 parameters keep the lower crate's error as the
    /// source, as its type (der's when they do not parse, pkcs5's when it
    /// refuses them), and the message its words.
    #[test]
    fn unsupported_parameters_have_the_lower_error_as_source() {
        use std::error::Error;
        let pass = Password::new(&Secret::new("x"));
        let e = decrypt(&empty_pbes2_alg(), &pass, &[0; 16], &mut WorkBudget::new()).unwrap_err();
        assert!(matches!(e, PbeError::Unsupported { .. }), "{e:?}");
        let der = e.source().and_then(|s| s.downcast_ref::<der::Error>());
        let der = der.expect("der::Error is the source");
        assert_eq!(
            e.to_string(),
            format!("unsupported: PBES2 parameters ({der})")
        );
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);

        let e = decrypt(
            &refused_pbes2_alg(),
            &pass,
            &[0; 16],
            &mut WorkBudget::new(),
        )
        .unwrap_err();
        let pkcs5 = e.source().and_then(|s| s.downcast_ref::<Pkcs5Error>());
        let pkcs5 = pkcs5.expect("pkcs5's error is the source");
        assert!(
            matches!(pkcs5.0, pkcs5::Error::AlgorithmParametersInvalid { .. }),
            "{pkcs5:?}"
        );
        assert_eq!(e.to_string(), format!("unsupported: PBES2 ({pkcs5})"));
    }

    #[test]
    fn garbage_parameters_are_errors() {
        let pass = Password::new(&Secret::new("x"));
        assert!(decrypt(b"\x30\x00", &pass, b"", &mut WorkBudget::new()).is_err());
        assert!(decrypt(b"", &pass, b"", &mut WorkBudget::new()).is_err());
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn work_is_charged_before_it_is_done_and_summed() {
        let pass = Password::new(&Secret::new("pw"));
        let (alg, ct) = encrypt(Scheme::Pbes2Aes256, &pass, 1_000_000, b"secret").unwrap();
        let alg_der = alg.to_der().unwrap();
        let mut b = WorkBudget::new();
        for _ in 0..(WORK_LIMIT / 1_000_000) {
            decrypt(&alg_der, &pass, &ct, &mut b).unwrap();
        }
        let t = std::time::Instant::now();
        let e = decrypt(&alg_der, &pass, &ct, &mut b).unwrap_err();
        assert!(matches!(e, PbeError::WorkLimit { .. }), "{e}");
        assert!(
            t.elapsed() < std::time::Duration::from_millis(50),
            "refused before working"
        );
        // A fresh budget takes a CA key's 600,000 iterations with room to spare.
        assert!(kdf_units(600_000, 32, 32, 1) * 4 < WORK_LIMIT);
    }

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // openssl enc -aes-256-cbc -P -md md5 -S 0102030405060708 -pass pass:secret
        let mut b = WorkBudget::new();
        let k = evp_bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32, &mut b).unwrap();
        assert_eq!(
            hex::encode_upper(&k[..]),
            "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144BCCEC4A1AA2879AB"
        );
    }
}
