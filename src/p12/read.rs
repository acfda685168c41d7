//! Reading PKCS#12: PFX → MAC check → AuthenticatedSafe → SafeContents → bags.

use cms::content_info::ContentInfo;
use cms::encrypted_data::EncryptedData;
use der::asn1::{BmpString, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use pkcs12::cert_type::CertBag;
use pkcs12::pfx::Pfx;
use x509_cert::attr::Attributes;

use super::{mac, CertEntry, KeyEntry, P12Error, Pkcs12Contents};
use crate::der_limits::{Rules, SetLimits};
use crate::keys::PrivateKey;
use crate::pbe::{self, Password, PbeError, WorkBudget};
use crate::secret::Secret;

pub(crate) const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub(crate) const OID_ENCRYPTED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
pub(crate) const OID_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
pub(crate) const OID_SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
pub(crate) const OID_CERT_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
pub(crate) const OID_SAFE_CONTENTS_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.6");
pub(crate) const OID_X509_CERT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
pub(crate) const OID_FRIENDLY_NAME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
pub(crate) const OID_LOCAL_KEY_ID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");

/// `SafeBag` (RFC 7292 section 4.2). Defined here rather than taken from the
/// `pkcs12` crate, whose 0.1 decoder keeps the `[0]` wrapper in `bag_value`.
#[derive(Clone, Debug, Sequence)]
pub(crate) struct Bag {
    pub(crate) bag_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub(crate) value: Any,
    pub(crate) attributes: Option<Attributes>,
}

/// Maximum nesting of safeContentsBag.
const MAX_DEPTH: usize = 4;

/// Decodes DER, falling back to BER re-encoded as DER (see [`super::ber`]).
fn decode<T: for<'a> Decode<'a>>(bytes: &[u8]) -> Result<T, der::Error> {
    match T::from_der(bytes) {
        Ok(v) => Ok(v),
        Err(e) => match super::ber::to_der(bytes) {
            Some(d) if d.as_slice() != bytes => T::from_der(&d).map_err(|_| e),
            _ => Err(e),
        },
    }
}

fn pfx_error(bytes: &[u8], e: der::Error) -> P12Error {
    if matches!(e.kind(), der::ErrorKind::Incomplete { .. }) && bytes.first() == Some(&0x30) {
        P12Error::Truncated(e)
    } else {
        P12Error::NotPkcs12(e)
    }
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    let head = bytes.get(..bytes.len().min(4096)).unwrap_or(bytes);
    head.windows(11).any(|w| w == b"-----BEGIN ")
}

pub(crate) fn parse(
    bytes: &[u8],
    password: &Secret,
    budget: &mut WorkBudget,
) -> Result<Pkcs12Contents, P12Error> {
    // Every layer is scanned before it is decoded (see crate::der_limits).
    let mut limits = SetLimits::new();
    limits.check(bytes, Rules::Ber)?;
    let pfx: Pfx = decode(bytes).map_err(|e| {
        if looks_like_pem(bytes) {
            P12Error::Pem
        } else {
            pfx_error(bytes, e)
        }
    })?;
    if pfx.auth_safe.content_type != OID_DATA {
        return Err(P12Error::unsupported(format!(
            "authenticated safe of type {} (only password integrity is supported)",
            pfx.auth_safe.content_type
        )));
    }
    let octets = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(|e| corrupt("authenticated safe", e))?;
    let safe_der = octets.as_bytes();
    limits.check(safe_der, Rules::Ber)?;
    let auth_safe: Vec<ContentInfo> =
        decode(safe_der).map_err(|e| corrupt("authenticated safe", e))?;

    let candidates = Password::candidates(password);
    let (passwords, mac_ok) = match &pfx.mac_data {
        Some(m) => {
            let mut found = None;
            for (i, p) in candidates.iter().enumerate() {
                match mac::verify(m, p, safe_der, budget) {
                    Ok(true) => {
                        found = Some(i);
                        break;
                    }
                    Ok(false) => {}
                    Err(mac::MacError::Unsupported(s)) => return Err(P12Error::unsupported(s)),
                    Err(mac::MacError::Budget(e)) => return Err(pbe_error(e)),
                    Err(mac::MacError::Malformed { context, source }) => {
                        return Err(corrupt(context, source))
                    }
                }
            }
            let i = found.ok_or(P12Error::WrongPasswordMac)?;
            (
                candidates.into_iter().skip(i).take(1).collect::<Vec<_>>(),
                true,
            )
        }
        None => (candidates, false),
    };

    let mut last = P12Error::WrongPasswordDecrypt;
    for pass in &passwords {
        let mut out = Pkcs12Contents::default();
        match read_auth_safe(&auth_safe, pass, &mut out, budget, &mut limits) {
            Ok(()) => return Ok(out),
            Err(e @ (P12Error::WrongPasswordDecrypt | P12Error::Corrupt { .. })) if !mac_ok => {
                last = e
            }
            Err(P12Error::WrongPasswordDecrypt) if mac_ok => return Err(P12Error::Corrupt {
                context:
                    "the MAC verifies but a bag does not decrypt (different encryption password?)"
                        .into(),
                source: None,
            }),
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn read_auth_safe(
    safe: &[ContentInfo],
    pass: &Password,
    out: &mut Pkcs12Contents,
    budget: &mut WorkBudget,
    limits: &mut SetLimits,
) -> Result<(), P12Error> {
    for ci in safe {
        if ci.content_type == OID_DATA {
            let octets = ci
                .content
                .decode_as::<OctetString>()
                .map_err(|e| corrupt("data content", e))?;
            read_safe_contents(octets.as_bytes(), pass, out, 0, budget, limits)?;
        } else if ci.content_type == OID_ENCRYPTED_DATA {
            let ed = ci
                .content
                .decode_as::<EncryptedData>()
                .map_err(|e| corrupt("encrypted data", e))?;
            let eci = &ed.enc_content_info;
            let alg = eci
                .content_enc_alg
                .to_der()
                .map_err(|e| corrupt("encryption algorithm", e))?;
            let Some(ct) = &eci.encrypted_content else {
                continue;
            };
            let plain = pbe::decrypt(&alg, pass, ct.as_bytes(), budget).map_err(pbe_error)?;
            // A wrong password can unpad by chance: garbage then fails to parse.
            read_safe_contents(&plain, pass, out, 0, budget, limits).map_err(|e| match e {
                P12Error::Corrupt { .. } => P12Error::WrongPasswordDecrypt,
                other => other,
            })?;
        } else {
            return Err(P12Error::unsupported(format!(
                "content of type {} (public-key encrypted safes are not supported)",
                ci.content_type
            )));
        }
    }
    Ok(())
}

/// What was being read, and the lower error that says why it is corrupt.
fn corrupt(context: &'static str, source: impl Into<crate::error::BoxError>) -> P12Error {
    P12Error::Corrupt {
        context: context.into(),
        source: Some(source.into()),
    }
}

fn pbe_error(e: PbeError) -> P12Error {
    match e {
        PbeError::Decrypt => P12Error::WrongPasswordDecrypt,
        PbeError::Unsupported { context, source } => P12Error::Unsupported { context, source },
        PbeError::Malformed { context, source } => P12Error::Corrupt { context, source },
        // Reading never encrypts: kept for an exhaustive match.
        PbeError::Encryption(e) => P12Error::Write(e),
        PbeError::WorkLimit { needed, limit } => P12Error::WorkLimit { needed, limit },
    }
}

fn read_safe_contents(
    der_bytes: &[u8],
    pass: &Password,
    out: &mut Pkcs12Contents,
    depth: usize,
    budget: &mut WorkBudget,
    limits: &mut SetLimits,
) -> Result<(), P12Error> {
    if depth > MAX_DEPTH {
        return Err(P12Error::Corrupt {
            context: "safe contents nested too deeply".into(),
            source: None,
        });
    }
    // Bag attributes are SET OFs (a nested safeContentsBag is rescanned: the
    // same bytes, at most MAX_DEPTH times).
    limits.check(der_bytes, Rules::Ber)?;
    let bags: Vec<Bag> = decode(der_bytes).map_err(|e| corrupt("safe contents", e))?;
    for bag in bags {
        let (friendly_name, local_key_id) = attributes(bag.attributes.as_ref());
        let value = bag.value.to_der().map_err(|e| corrupt("bag value", e))?;
        match bag.bag_id {
            OID_CERT_BAG => {
                let cb = CertBag::from_der(&value).map_err(|e| corrupt("certificate bag", e))?;
                if cb.cert_id != OID_X509_CERT {
                    continue; // SDSI certificates: nobody uses them
                }
                out.certs.push(CertEntry {
                    der: cb.cert_value.as_bytes().to_vec(),
                    friendly_name,
                    local_key_id,
                });
            }
            OID_KEY_BAG => {
                let key = PrivateKey::from_pkcs8_der(&value)?;
                out.keys.push(KeyEntry {
                    key,
                    friendly_name,
                    local_key_id,
                });
            }
            OID_SHROUDED_KEY_BAG => {
                let epki = pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(&value)
                    .map_err(|e| corrupt("shrouded key bag", e))?;
                let alg = epki
                    .encryption_algorithm
                    .to_der()
                    .map_err(|e| corrupt("encryption algorithm", e))?;
                let plain = pbe::decrypt(&alg, pass, epki.encrypted_data.as_bytes(), budget)
                    .map_err(pbe_error)?;
                let key = PrivateKey::from_pkcs8_der(&plain).map_err(|e| match e {
                    crate::keys::KeyError::Malformed { .. } => P12Error::WrongPasswordDecrypt,
                    other => P12Error::Key(other),
                })?;
                out.keys.push(KeyEntry {
                    key,
                    friendly_name,
                    local_key_id,
                });
            }
            OID_SAFE_CONTENTS_BAG => {
                read_safe_contents(&value, pass, out, depth + 1, budget, limits)?
            }
            _ => {} // CRL and secret bags: not needed
        }
    }
    Ok(())
}

fn attributes(attrs: Option<&Attributes>) -> (Option<String>, Option<Vec<u8>>) {
    let mut name = None;
    let mut id = None;
    for a in attrs.into_iter().flat_map(|s| s.iter()) {
        let Some(v) = a.values.iter().next() else {
            continue;
        };
        if a.oid == OID_FRIENDLY_NAME {
            name = v.decode_as::<BmpString>().ok().map(|b| b.to_string());
        } else if a.oid == OID_LOCAL_KEY_ID {
            id = v
                .decode_as::<OctetString>()
                .ok()
                .map(|o| o.as_bytes().to_vec());
        }
    }
    (name, id)
}
