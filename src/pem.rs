//! The one PEM reader and writer of pushca (RFC 7468 text, with the legacy
//! `Proc-Type`/`DEK-Info` headers OpenSSL writes before encrypted keys).
//!
//! Readers take PEM with any number of blocks and any text around them
//! (openssl's `Bag Attributes` lines, comments), or DER: `der_or_block` is
//! the "PEM, else DER" rule every input file follows.

use zeroize::Zeroizing;

/// Why PEM text could not be read.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// A `BEGIN` line without its `END` line.
    #[error("'{label}' PEM block has no END line")]
    Unterminated {
        /// The block's label.
        label: String,
    },
    /// The body is not valid base64 (or the block is otherwise malformed).
    #[error("'{label}' PEM block: {source}")]
    Base64 {
        /// The block's label.
        label: String,
        /// The RFC 7468 decoder's error.
        #[source]
        source: pem_rfc7468::Error,
    },
}

impl PemError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            PemError::Unterminated { .. } | PemError::Base64 { .. } => ErrorKind::Input,
        }
    }
}

/// One PEM block: its label, `Name: value` headers and DER (zeroized on drop:
/// blocks may hold private keys).
#[derive(Clone)]
pub struct Block {
    /// The label of the `BEGIN` line (`CERTIFICATE`, `PRIVATE KEY`, ...).
    pub label: String,
    /// The RFC 1421 headers before the body (`Proc-Type`, `DEK-Info`), in order.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({}, {} bytes)", self.label, self.der.len())
    }
}

/// Whether `bytes` look like PEM text (somewhere a `-----BEGIN ` line).
pub(crate) fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every PEM block in `bytes`, in order. Text outside blocks is ignored.
pub fn blocks(bytes: &[u8]) -> Result<Vec<Block>, PemError> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut headers = Vec::new();
        let mut body = Zeroizing::new(String::new());
        let mut closed = false;
        for l in lines.by_ref() {
            let l = l.trim();
            if l == end {
                closed = true;
                break;
            }
            if body.is_empty() && l.contains(':') {
                if let Some((k, v)) = l.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
                continue;
            }
            if !l.is_empty() {
                body.push_str(l);
                body.push('\n');
            }
        }
        if !closed {
            return Err(PemError::Unterminated {
                label: label.to_string(),
            });
        }
        let clean = Zeroizing::new(format!(
            "-----BEGIN {label}-----\n{}-----END {label}-----\n",
            body.as_str()
        ));
        let (_, der) =
            pem_rfc7468::decode_vec(clean.as_bytes()).map_err(|source| PemError::Base64 {
                label: label.to_string(),
                source,
            })?;
        out.push(Block {
            label: label.to_string(),
            headers,
            der: Zeroizing::new(der),
        });
    }
    Ok(out)
}

/// What [`der_or_block`] found.
#[derive(Debug)]
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) enum Found {
    /// The input was not PEM: the bytes themselves, to be parsed as DER.
    Der(Zeroizing<Vec<u8>>),
    /// The first PEM block with one of the wanted labels.
    Block(Block),
    /// PEM without any wanted block: the labels that were there.
    Other(Vec<String>),
}

/// PEM, else DER: the first block whose label is one of `labels`, or the whole
/// input as DER when it is not PEM text.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn der_or_block(bytes: &[u8], labels: &[&str]) -> Result<Found, PemError> {
    if !is_pem(bytes) {
        return Ok(Found::Der(Zeroizing::new(bytes.to_vec())));
    }
    let all = blocks(bytes)?;
    let labels_found: Vec<String> = all.iter().map(|b| b.label.clone()).collect();
    Ok(
        match all.into_iter().find(|b| labels.contains(&b.label.as_str())) {
            Some(b) => Found::Block(b),
            None => Found::Other(labels_found),
        },
    )
}

/// PEM-encodes DER with 64-column lines and `\n` line endings.
pub fn encode(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .unwrap_or_else(|_| String::new())
}

/// [`encode`] into a zeroizing string, for private keys.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(encode(label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_skip_text_and_read_headers() {
        let der = b"\x30\x03\x02\x01\x01";
        let pem = encode("CERTIFICATE", der);
        let text = format!("Bag Attributes\n    localKeyID: 01\n{pem}junk\n");
        let b = blocks(text.as_bytes()).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(&b[0].der[..], der);
        let enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMAMCAQE=\n-----END RSA PRIVATE KEY-----\n";
        let b = blocks(enc.as_bytes()).unwrap();
        assert_eq!(b[0].headers.len(), 2);
        assert!(matches!(
            blocks(b"-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated { .. })
        ));
        assert!(matches!(
            blocks(b"-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::Base64 { .. })
        ));
    }

    #[test]
    fn der_or_block_picks_the_wanted_label() {
        let der = b"\x30\x03\x02\x01\x01";
        assert!(
            matches!(der_or_block(der, &["CERTIFICATE"]).unwrap(), Found::Der(d) if &d[..] == der)
        );
        let two = encode("PRIVATE KEY", der) + &encode("CERTIFICATE", b"\x30\x00");
        match der_or_block(two.as_bytes(), &["CERTIFICATE"]).unwrap() {
            Found::Block(b) => assert_eq!(&b.der[..], b"\x30\x00"),
            other => panic!("{other:?}"),
        }
        match der_or_block(two.as_bytes(), &["X509 CRL"]).unwrap() {
            Found::Other(labels) => assert_eq!(labels, ["PRIVATE KEY", "CERTIFICATE"]),
            other => panic!("{other:?}"),
        }
    }
}
