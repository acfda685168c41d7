//! OpenSSL's legacy encrypted PEM keys (`Proc-Type: 4,ENCRYPTED`,
//! `DEK-Info: CIPHER,IV`): the key is OpenSSL's `EVP_BytesToKey` with MD5, one
//! iteration, and the first 8 bytes of the IV as salt.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipher, BlockDecryptMut, KeyInit, KeyIvInit};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::KeyError;
use crate::secret::Secret;

/// Whether the PEM headers say the block is encrypted.
pub fn is_encrypted(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("Proc-Type")
            && v.replace(' ', "").eq_ignore_ascii_case("4,ENCRYPTED")
    })
}

/// `EVP_BytesToKey(cipher, MD5, salt, pass, count = 1)`, key part only.
pub fn bytes_to_key(pass: &[u8], salt: &[u8], key_len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < key_len {
        let d = Md5::new()
            .chain_update(&prev)
            .chain_update(pass)
            .chain_update(salt)
            .finalize();
        prev = d.to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(key_len);
    out
}

/// Decrypts the DER of a legacy encrypted PEM block given its headers.
pub fn decrypt(
    headers: &[(String, String)],
    der: &[u8],
    pass: &Secret,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let dek = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("DEK-Info"))
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| KeyError::Malformed("encrypted PEM without a DEK-Info header".into()))?;
    let (cipher, iv_hex) = dek
        .split_once(',')
        .ok_or_else(|| KeyError::Malformed(format!("bad DEK-Info header '{dek}'")))?;
    let iv = hex::decode(iv_hex.trim())
        .map_err(|_| KeyError::Malformed(format!("bad IV in DEK-Info '{dek}'")))?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let (key_len, iv_len) = match cipher.as_str() {
        "DES-EDE3-CBC" => (24, 8),
        "DES-CBC" => (8, 8),
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        other => return Err(KeyError::Unsupported(format!("legacy PEM cipher {other}"))),
    };
    if iv.len() != iv_len {
        return Err(KeyError::Malformed(format!(
            "IV of {} bytes for {cipher}",
            iv.len()
        )));
    }
    let salt = iv
        .get(..8)
        .ok_or_else(|| KeyError::Malformed("short IV".into()))?;
    let key = bytes_to_key(pass.as_bytes(), salt, key_len);
    match cipher.as_str() {
        "DES-EDE3-CBC" => cbc_decrypt::<des::TdesEde3>(&key, &iv, der),
        "DES-CBC" => cbc_decrypt::<des::Des>(&key, &iv, der),
        "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(&key, &iv, der),
        "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(&key, &iv, der),
        _ => cbc_decrypt::<aes::Aes256>(&key, &iv, der),
    }
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError>
where
    C: BlockCipher + BlockDecryptMut + KeyInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| KeyError::Malformed("bad key or IV length".into()))?;
    dec.decrypt_padded_vec_mut::<Pkcs7>(data)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::WrongPassphrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // openssl enc -aes-256-cbc -P -md md5 -S 0102030405060708 -pass pass:secret
        let k = bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(
            hex::encode_upper(&k[..]),
            "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144BCCEC4A1AA2879AB"
        );
        let k16 = bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 16);
        assert_eq!(&k[..16], &k16[..]);
    }

    #[test]
    fn header_detection() {
        let h = vec![("Proc-Type".to_string(), "4,ENCRYPTED".to_string())];
        assert!(is_encrypted(&h));
        assert!(!is_encrypted(&[]));
        let bad = vec![("DEK-Info".to_string(), "RC5-CBC,00".to_string())];
        assert!(decrypt(&bad, b"", &Secret::new("x")).is_err());
    }
}
