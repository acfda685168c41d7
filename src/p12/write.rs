//! Writing PKCS#12 in three profiles, and certificate-only trust stores.

use cms::content_info::ContentInfo;
use cms::encrypted_data::EncryptedData;
use cms::enveloped_data::EncryptedContentInfo;
use der::asn1::{BmpString, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use pkcs12::cert_type::CertBag;
use pkcs12::pfx::{Pfx, Version};
use sha1::Digest;
use x509_cert::attr::{Attribute, Attributes};

use super::mac::{self, MacAlg};
use super::read::{
    Bag, OID_CERT_BAG, OID_DATA, OID_ENCRYPTED_DATA, OID_FRIENDLY_NAME, OID_KEY_BAG,
    OID_LOCAL_KEY_ID, OID_SHROUDED_KEY_BAG, OID_X509_CERT,
};
use super::{CertEntry, P12Error, Pkcs12Contents};
use crate::pbe::{self, Password, Scheme};
use crate::secret::Secret;

/// PBKDF2 / MAC iterations in the modern profile (OpenSSL 3 uses 2048, Java 10000).
pub(crate) const ITERATIONS_MODERN: u32 = 10_000;
/// Iterations in the legacy profile (as `openssl pkcs12 -export -legacy`).
pub(crate) const ITERATIONS_LEGACY: u32 = 2048;

/// Java's "trusted key usage" bag attribute, which makes `KeyStore` treat a
/// certificate bag as a trusted certificate entry.
const OID_ORACLE_TRUSTED_KEY_USAGE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.113894.746875.1.1");
const OID_ANY_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// How a PKCS#12 file is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for the key and the certificates,
    /// HMAC-SHA256 MAC: what OpenSSL 3 writes and reads without `-legacy`.
    Modern,
    /// Key pbeWithSHAAnd3-KeyTripleDES-CBC, certificates pbeWithSHAAnd40BitRC2-CBC,
    /// SHA-1 MAC: for macOS Keychain, old Java and OpenSSL 1.x.
    Legacy,
    /// No encryption and no MAC (plain keyBag, plain certificates).
    Unencrypted,
}

fn werr(e: impl Into<crate::error::BoxError>) -> P12Error {
    P12Error::Write(e.into())
}

fn attr(oid: ObjectIdentifier, value: Any) -> Result<Attribute, P12Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(werr)?,
    })
}

fn bag_attributes(
    name: Option<&str>,
    key_id: Option<&[u8]>,
    trusted: bool,
) -> Result<Option<Attributes>, P12Error> {
    let mut v = Vec::new();
    if let Some(n) = name {
        let bmp = BmpString::from_utf8(n).map_err(|source| P12Error::FriendlyName {
            name: n.into(),
            source,
        })?;
        v.push(attr(
            OID_FRIENDLY_NAME,
            Any::encode_from(&bmp).map_err(werr)?,
        )?);
    }
    if let Some(id) = key_id {
        v.push(attr(
            OID_LOCAL_KEY_ID,
            Any::encode_from(&OctetString::new(id).map_err(werr)?).map_err(werr)?,
        )?);
    }
    if trusted {
        v.push(attr(
            OID_ORACLE_TRUSTED_KEY_USAGE,
            Any::encode_from(&OID_ANY_EXTENDED_KEY_USAGE).map_err(werr)?,
        )?);
    }
    if v.is_empty() {
        return Ok(None);
    }
    Ok(Some(SetOfVec::try_from(v).map_err(werr)?))
}

fn cert_bag(c: &CertEntry, trusted: bool) -> Result<Bag, P12Error> {
    let cb = CertBag {
        cert_id: OID_X509_CERT,
        cert_value: OctetString::new(c.der.clone()).map_err(werr)?,
    };
    Ok(Bag {
        bag_id: OID_CERT_BAG,
        value: Any::encode_from(&cb).map_err(werr)?,
        attributes: bag_attributes(
            c.friendly_name.as_deref(),
            c.local_key_id.as_deref(),
            trusted,
        )?,
    })
}

fn data_content(bags: &[Bag]) -> Result<ContentInfo, P12Error> {
    let der_bytes = bags.to_vec().to_der().map_err(werr)?;
    Ok(ContentInfo {
        content_type: OID_DATA,
        content: Any::encode_from(&OctetString::new(der_bytes).map_err(werr)?).map_err(werr)?,
    })
}

fn encrypted_content(
    bags: &[Bag],
    scheme: Scheme,
    pass: &Password,
    iters: u32,
) -> Result<ContentInfo, P12Error> {
    let plain = zeroize::Zeroizing::new(bags.to_vec().to_der().map_err(werr)?);
    let (alg, ct) = pbe::encrypt(scheme, pass, iters, &plain).map_err(werr)?;
    let ed = EncryptedData {
        version: cms::content_info::CmsVersion::V0,
        enc_content_info: EncryptedContentInfo {
            content_type: OID_DATA,
            content_enc_alg: alg,
            encrypted_content: Some(OctetString::new(ct).map_err(werr)?),
        },
        unprotected_attrs: None,
    };
    Ok(ContentInfo {
        content_type: OID_ENCRYPTED_DATA,
        content: Any::encode_from(&ed).map_err(werr)?,
    })
}

fn assemble(
    safe: Vec<ContentInfo>,
    mac: Option<(MacAlg, &Password, u32)>,
) -> Result<Vec<u8>, P12Error> {
    let safe_der = safe.to_der().map_err(werr)?;
    let mac_data = match mac {
        Some((alg, pass, iters)) => Some(mac::create(alg, pass, iters, &safe_der).map_err(werr)?),
        None => None,
    };
    let pfx = Pfx {
        version: Version::V3,
        auth_safe: ContentInfo {
            content_type: OID_DATA,
            content: Any::encode_from(&OctetString::new(safe_der).map_err(werr)?).map_err(werr)?,
        },
        mac_data,
    };
    pfx.to_der().map_err(werr)
}

/// SHA-1 of a certificate's DER: the `localKeyId` OpenSSL gives a certificate
/// and its key.
pub(crate) fn local_key_id(cert_der: &[u8]) -> Vec<u8> {
    sha1::Sha1::digest(cert_der).to_vec()
}

/// Writes a PKCS#12 file with the certificates and keys of `contents`. The
/// password is ignored by [`Profile::Unencrypted`]; `None` means the empty password.
pub fn write_pkcs12(
    contents: &Pkcs12Contents,
    password: Option<&Secret>,
    profile: Profile,
) -> Result<Vec<u8>, P12Error> {
    let empty = Secret::new("");
    write_with(
        contents,
        &Password::new(password.unwrap_or(&empty)),
        profile,
    )
}

/// [`write_pkcs12`] in the modern profile with a chosen iteration count for
/// every bag and the MAC (tests build files that cost a chosen amount of work).
#[doc(hidden)]
pub fn write_pkcs12_with_iterations(
    contents: &Pkcs12Contents,
    password: &Secret,
    iterations: u32,
) -> Result<Vec<u8>, P12Error> {
    write_iters(
        contents,
        &Password::new(password),
        Profile::Modern,
        Some(iterations),
    )
}

/// [`write_pkcs12`] with an explicit password encoding (tests use the
/// zero-length "absent" password some writers produce).
pub(crate) fn write_with(
    contents: &Pkcs12Contents,
    pass: &Password,
    profile: Profile,
) -> Result<Vec<u8>, P12Error> {
    write_iters(contents, pass, profile, None)
}

fn write_iters(
    contents: &Pkcs12Contents,
    pass: &Password,
    profile: Profile,
    iterations: Option<u32>,
) -> Result<Vec<u8>, P12Error> {
    let modern = iterations.unwrap_or(ITERATIONS_MODERN);
    let cert_bags = contents
        .certs
        .iter()
        .map(|c| cert_bag(c, false))
        .collect::<Result<Vec<_>, _>>()?;
    let mut key_bags = Vec::new();
    for k in &contents.keys {
        let attributes =
            bag_attributes(k.friendly_name.as_deref(), k.local_key_id.as_deref(), false)?;
        let pkcs8 = k.key.pkcs8_der();
        let (bag_id, value) = match profile {
            Profile::Unencrypted => (OID_KEY_BAG, Any::from_der(pkcs8).map_err(werr)?),
            Profile::Modern | Profile::Legacy => {
                let (scheme, iters) = if profile == Profile::Modern {
                    (Scheme::Pbes2Aes256, modern)
                } else {
                    (Scheme::Sha1TripleDes, ITERATIONS_LEGACY)
                };
                let (alg, ct) = pbe::encrypt(scheme, pass, iters, pkcs8).map_err(werr)?;
                let epki = pkcs12::pbe_params::EncryptedPrivateKeyInfo {
                    encryption_algorithm: alg,
                    encrypted_data: OctetString::new(ct).map_err(werr)?,
                };
                (OID_SHROUDED_KEY_BAG, Any::encode_from(&epki).map_err(werr)?)
            }
        };
        key_bags.push(Bag {
            bag_id,
            value,
            attributes,
        });
    }
    let mut safe = Vec::new();
    match profile {
        Profile::Unencrypted => {
            if !cert_bags.is_empty() {
                safe.push(data_content(&cert_bags)?);
            }
            if !key_bags.is_empty() {
                safe.push(data_content(&key_bags)?);
            }
            assemble(safe, None)
        }
        Profile::Modern => {
            if !cert_bags.is_empty() {
                safe.push(encrypted_content(
                    &cert_bags,
                    Scheme::Pbes2Aes256,
                    pass,
                    modern,
                )?);
            }
            if !key_bags.is_empty() {
                safe.push(data_content(&key_bags)?);
            }
            assemble(safe, Some((MacAlg::Sha256, pass, modern)))
        }
        Profile::Legacy => {
            if !cert_bags.is_empty() {
                safe.push(encrypted_content(
                    &cert_bags,
                    Scheme::Sha1Rc2_40,
                    pass,
                    ITERATIONS_LEGACY,
                )?);
            }
            if !key_bags.is_empty() {
                safe.push(data_content(&key_bags)?);
            }
            assemble(safe, Some((MacAlg::Sha1, pass, ITERATIONS_LEGACY)))
        }
    }
}

/// A certificate-only trust store (no key) that Java `KeyStore` ("PKCS12")
/// lists as trusted certificate entries and OpenSSL reads. Each certificate's
/// alias is its friendly name, else its subject CN, else `cert-N`. With a
/// password: modern profile (PBES2 certificates, HMAC-SHA256 MAC); without:
/// unencrypted, no MAC.
pub fn write_truststore(
    certs: &[CertEntry],
    password: Option<&Secret>,
) -> Result<Vec<u8>, P12Error> {
    let mut bags = Vec::new();
    for (i, c) in certs.iter().enumerate() {
        let alias = c
            .friendly_name
            .clone()
            .or_else(|| crate::certfile::common_name(&c.der).map(|s| s.to_lowercase()))
            .unwrap_or_else(|| format!("cert-{}", i + 1));
        let entry = CertEntry {
            der: c.der.clone(),
            friendly_name: Some(alias),
            local_key_id: None,
        };
        bags.push(cert_bag(&entry, true)?);
    }
    match password {
        Some(p) => {
            let pass = Password::new(p);
            let safe = vec![encrypted_content(
                &bags,
                Scheme::Pbes2Aes256,
                &pass,
                ITERATIONS_MODERN,
            )?];
            assemble(safe, Some((MacAlg::Sha256, &pass, ITERATIONS_MODERN)))
        }
        None => assemble(vec![data_content(&bags)?], None),
    }
}
