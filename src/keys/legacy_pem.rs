//! OpenSSL's legacy encrypted PEM keys (`Proc-Type: 4,ENCRYPTED`,
//! `DEK-Info: CIPHER,IV`): the key is OpenSSL's `EVP_BytesToKey` with MD5, one
//! iteration, and the first 8 bytes of the IV as salt.

use zeroize::Zeroizing;

use super::KeyError;
use crate::pbe::{self, PbeError, WorkBudget};
use crate::secret::Secret;

/// Whether the PEM headers say the block is encrypted.
pub(crate) fn is_encrypted(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("Proc-Type")
            && v.replace(' ', "").eq_ignore_ascii_case("4,ENCRYPTED")
    })
}

/// Decrypts the DER of a legacy encrypted PEM block given its headers.
pub(crate) fn decrypt(
    headers: &[(String, String)],
    der: &[u8],
    pass: &Secret,
    budget: &mut WorkBudget,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let dek = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("DEK-Info"))
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| KeyError::invalid("encrypted PEM without a DEK-Info header"))?;
    let (cipher, iv_hex) = dek
        .split_once(',')
        .ok_or_else(|| KeyError::invalid(format!("bad DEK-Info header '{dek}'")))?;
    let iv = hex::decode(iv_hex.trim())
        .map_err(|e| KeyError::malformed(format!("bad IV in DEK-Info '{dek}'"), e))?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let (key_len, iv_len) = match cipher.as_str() {
        "DES-EDE3-CBC" => (24, 8),
        "DES-CBC" => (8, 8),
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        other => return Err(KeyError::unsupported(format!("legacy PEM cipher {other}"))),
    };
    if iv.len() != iv_len {
        return Err(KeyError::invalid(format!(
            "IV of {} bytes for {cipher}",
            iv.len()
        )));
    }
    let salt = iv.get(..8).ok_or_else(|| KeyError::invalid("short IV"))?;
    let key =
        pbe::evp_bytes_to_key(pass.as_bytes(), salt, key_len, budget).map_err(KeyError::from)?;
    match cipher.as_str() {
        "DES-EDE3-CBC" => pbe::cbc_decrypt::<des::TdesEde3>(&key, &iv, der),
        "DES-CBC" => pbe::cbc_decrypt::<des::Des>(&key, &iv, der),
        "AES-128-CBC" => pbe::cbc_decrypt::<aes::Aes128>(&key, &iv, der),
        "AES-192-CBC" => pbe::cbc_decrypt::<aes::Aes192>(&key, &iv, der),
        _ => pbe::cbc_decrypt::<aes::Aes256>(&key, &iv, der),
    }
    .map_err(|e| match e {
        PbeError::Decrypt => KeyError::WrongPassphrase,
        other => KeyError::from(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_detection() {
        let h = vec![("Proc-Type".to_string(), "4,ENCRYPTED".to_string())];
        assert!(is_encrypted(&h));
        assert!(!is_encrypted(&[]));
        let bad = vec![("DEK-Info".to_string(), "RC5-CBC,00".to_string())];
        assert!(decrypt(&bad, b"", &Secret::new("x"), &mut WorkBudget::new()).is_err());
    }
}
