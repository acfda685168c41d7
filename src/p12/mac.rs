//! The PKCS#12 integrity MAC (RFC 7292 section 5 and Appendix B): HMAC over the
//! AuthenticatedSafe with a key from the PKCS#12 KDF using the same digest.

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use hmac::{Hmac, Mac};
use pkcs12::digest_info::DigestInfo;
use pkcs12::kdf::{derive_key, Pkcs12KeyType};
use pkcs12::mac_data::MacData;
use spki::AlgorithmIdentifierOwned;

use crate::pbe::{check_iterations, kdf_units, Password, WorkBudget};

pub(crate) const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub(crate) const OID_SHA224: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
pub(crate) const OID_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub(crate) const OID_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub(crate) const OID_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// MAC digests pushca writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacAlg {
    Sha1,
    Sha256,
}

/// Why the PKCS#12 integrity MAC could not be checked or computed (a source
/// of [`super::P12Error`]).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MacError {
    /// A MAC digest or iteration count pushca does not handle (named).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The MAC could not be computed or encoded: what was being done, and the
    /// lower crate's error.
    #[error("{context} ({source})")]
    Malformed {
        /// What was being done.
        context: &'static str,
        /// The lower crate's error.
        #[source]
        source: crate::error::BoxError,
    },
    /// The work budget refused the key derivation.
    #[error("{0}")]
    Budget(#[source] crate::pbe::PbeError),
}

impl MacError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            MacError::Unsupported(_) | MacError::Malformed { .. } => ErrorKind::Input,
            MacError::Budget(b) => b.kind(),
        }
    }
}

fn malformed(context: &'static str, source: impl Into<crate::error::BoxError>) -> MacError {
    MacError::Malformed {
        context,
        source: source.into(),
    }
}

macro_rules! hmac_with {
    ($d:ty, $pass:expr, $salt:expr, $iters:expr, $data:expr) => {{
        let len = <$d as sha2::digest::OutputSizeUser>::output_size();
        let key = zeroize::Zeroizing::new(derive_key::<$d>(
            $pass.bmp(),
            $salt,
            Pkcs12KeyType::Mac,
            $iters,
            len,
        ));
        let mut m = <Hmac<$d> as Mac>::new_from_slice(&key).map_err(|e| malformed("MAC key", e))?;
        m.update($data);
        Ok(m.finalize().into_bytes().to_vec())
    }};
}

fn compute(
    oid: ObjectIdentifier,
    pass: &Password,
    salt: &[u8],
    iters: i32,
    data: &[u8],
) -> Result<Vec<u8>, MacError> {
    match oid {
        OID_SHA1 => hmac_with!(sha1::Sha1, pass, salt, iters, data),
        OID_SHA224 => hmac_with!(sha2::Sha224, pass, salt, iters, data),
        OID_SHA256 => hmac_with!(sha2::Sha256, pass, salt, iters, data),
        OID_SHA384 => hmac_with!(sha2::Sha384, pass, salt, iters, data),
        OID_SHA512 => hmac_with!(sha2::Sha512, pass, salt, iters, data),
        other => Err(MacError::Unsupported(format!("MAC digest {other}"))),
    }
}

/// Whether the MAC over `data` verifies with `pass`.
pub(crate) fn verify(
    mac: &MacData,
    pass: &Password,
    data: &[u8],
    budget: &mut WorkBudget,
) -> Result<bool, MacError> {
    let iters = check_iterations(i64::from(mac.iterations))
        .map_err(|_| MacError::Unsupported(format!("MAC iteration count {}", mac.iterations)))?
        as i32;
    let (len, weight) = match mac.mac.algorithm.oid {
        OID_SHA384 | OID_SHA512 => (64, 2),
        _ => (32, 1),
    };
    budget
        .charge(kdf_units(iters as u64, len, len, weight))
        .map_err(MacError::Budget)?;
    let expected = compute(
        mac.mac.algorithm.oid,
        pass,
        mac.mac_salt.as_bytes(),
        iters,
        data,
    )?;
    let got = mac.mac.digest.as_bytes();
    // Constant-time comparison is not needed for verifying a file's MAC, but costs nothing.
    Ok(expected.len() == got.len()
        && expected.iter().zip(got).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0)
}

/// A new MAC over `data`.
pub(crate) fn create(
    alg: MacAlg,
    pass: &Password,
    iterations: u32,
    data: &[u8],
) -> Result<MacData, MacError> {
    use rand::RngCore;
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let oid = match alg {
        MacAlg::Sha1 => OID_SHA1,
        MacAlg::Sha256 => OID_SHA256,
    };
    let iters = i32::try_from(iterations).map_err(|e| malformed("MAC iteration count", e))?;
    let digest = compute(oid, pass, &salt, iters, data)?;
    let null = der::Any::from_der(
        &der::asn1::Null
            .to_der()
            .map_err(|e| malformed("MAC digest parameters", e))?,
    )
    .map_err(|e| malformed("MAC digest parameters", e))?;
    Ok(MacData {
        mac: DigestInfo {
            algorithm: AlgorithmIdentifierOwned {
                oid,
                parameters: Some(null),
            },
            digest: OctetString::new(digest).map_err(|e| malformed("MAC digest", e))?,
        },
        mac_salt: OctetString::new(salt.to_vec()).map_err(|e| malformed("MAC salt", e))?,
        iterations: iters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn create_then_verify() {
        let p = Password::new(&Secret::new("pw"));
        for alg in [MacAlg::Sha1, MacAlg::Sha256] {
            let m = create(alg, &p, 10, b"data").unwrap();
            let b = &mut WorkBudget::new();
            assert!(verify(&m, &p, b"data", b).unwrap());
            assert!(!verify(&m, &p, b"datA", b).unwrap());
            assert!(!verify(&m, &Password::new(&Secret::new("px")), b"data", b).unwrap());
        }
    }
}
