//! The openssl workflow: `csr new`, `p12 export`, `p12 to-pem`, `key decrypt`,
//! `pem merge`, `pem ck`. What goes into each output is decided here.

use std::path::Path;

use serde::Serialize;

use zeroize::Zeroizing;

use super::{OpsError, OutputRules, Result};
use crate::certfile::{self, CertFileError};
use crate::fsutil::{self, AtomicBatch, Returned, Sink, Source, MODE_PUBLIC, MODE_SECRET};
use crate::home::Home;
use crate::keys::decode::{self, KeyFormat};
use crate::keys::{KeyType, PrivateKey};
use crate::p12::{self, CertEntry, KeyEntry, Pkcs12, Pkcs12Contents, Profile};
use crate::pbe::WorkBudget;
use crate::secret::{self, Secret};
use crate::x509::CertSummary;

/// How a written private key (or `.p12`) is protected.
#[non_exhaustive]
pub enum Protection {
    /// Encrypted with this password (never empty: see [`secret::check_output_password`]).
    Password(Secret),
    /// Unencrypted, asked for explicitly.
    None,
}

impl Protection {
    /// Checks the output password rule.
    pub fn checked(p: Option<Secret>) -> Result<Protection> {
        match p {
            Some(s) => {
                secret::check_output_password(&s)?;
                Ok(Protection::Password(s))
            }
            None => Ok(Protection::None),
        }
    }
    fn password(&self) -> Option<&Secret> {
        match self {
            Protection::Password(s) => Some(s),
            Protection::None => None,
        }
    }
}

pub(crate) fn key_pem(key: &PrivateKey, protection: &Protection) -> Result<Zeroizing<String>> {
    Ok(match protection {
        Protection::Password(p) => Zeroizing::new(key.to_encrypted_pkcs8_pem(p)?),
        Protection::None => key.to_pkcs8_pem(),
    })
}

/// `csr new`: what was written.
#[derive(Debug, Serialize)]
pub struct CsrCreated {
    /// The private key.
    pub key: Sink,
    /// The CSR (PEM).
    pub csr: Sink,
    /// `--key-type` vocabulary.
    pub key_type: &'static str,
    /// Whether the key was written encrypted.
    pub encrypted: bool,
    /// The output that went to [`Sink::Return`], if one did.
    #[serde(skip)]
    pub returned: Option<Returned>,
}

/// `csr new`: a new key and a CSR for it, written together.
pub fn csr_new(
    key_type: KeyType,
    common_name: &str,
    email: Option<&str>,
    protection: &Protection,
    key_out: &Sink,
    csr_out: &Sink,
    rules: &OutputRules<'_>,
) -> Result<CsrCreated> {
    let key = PrivateKey::generate(key_type)?;
    let der =
        crate::ca::csr::make_csr(&key, common_name, email).map_err(|source| OpsError::Csr {
            path: csr_out.name().to_path_buf(),
            source,
        })?;
    let pem = key_pem(&key, protection)?;
    let mut batch = AtomicBatch::new();
    batch.add_sink(key_out, pem.as_bytes(), MODE_SECRET, rules)?;
    batch.add_sink(
        csr_out,
        crate::pem::encode("CERTIFICATE REQUEST", &der).as_bytes(),
        MODE_PUBLIC,
        rules,
    )?;
    let returned = batch.commit_returning()?;
    Ok(CsrCreated {
        key: key_out.clone(),
        csr: csr_out.clone(),
        key_type: key_type.name(),
        encrypted: matches!(protection, Protection::Password(_)),
        returned,
    })
}

/// Opens a `.p12` with a password, charging key derivation to `budget` (use
/// one budget for every attempt on one file).
pub fn open_p12(input: &Source, pass: &Secret, budget: &mut WorkBudget) -> Result<Pkcs12Contents> {
    let bytes = input.read_secret()?;
    Pkcs12::parse_with(&bytes, pass, budget).map_err(|source| OpsError::P12 {
        path: input.name().to_path_buf(),
        source,
    })
}

/// Whether a key file is encrypted (a passphrase is needed to read it).
pub fn key_is_encrypted(input: &Source) -> Result<bool> {
    Ok(decode::is_encrypted(&input.read_secret()?))
}

/// Loads a key file in any format.
pub(crate) fn open_key(input: &Source, pass: Option<&Secret>) -> Result<(PrivateKey, KeyFormat)> {
    let bytes = input.read_secret()?;
    decode::load_private_key_with_format(&bytes, pass).map_err(|source| OpsError::Key {
        path: input.name().to_path_buf(),
        source,
    })
}

fn read_certs(input: &Source) -> Result<Vec<Vec<u8>>> {
    let bytes = input.read()?;
    certfile::read_certificates(&bytes).map_err(|source| OpsError::CertFile {
        path: input.name().to_path_buf(),
        source,
    })
}

fn summary(path: &Path, der: &[u8]) -> Result<CertSummary> {
    CertSummary::from_der(der).map_err(|e| OpsError::CertFile {
        path: path.to_path_buf(),
        source: CertFileError::Summary(e),
    })
}

/// Reads a certificate file (one or more certificates) and a key, and refuses
/// a key that does not belong to the first certificate.
fn cert_and_matching_key(
    cert: &Source,
    key: &Source,
    pass: Option<&Secret>,
) -> Result<(Vec<Vec<u8>>, PrivateKey)> {
    let certs = read_certs(cert)?;
    let leaf = certs.first().ok_or_else(|| OpsError::CertFile {
        path: cert.name().to_path_buf(),
        source: certfile::CertFileError::NoCertificate,
    })?;
    let (private_key, _) = open_key(key, pass)?;
    let matches = certfile::key_matches_certificate(&private_key, leaf).map_err(|source| {
        OpsError::CertFile {
            path: cert.name().to_path_buf(),
            source,
        }
    })?;
    if !matches {
        return Err(OpsError::KeyMismatch {
            key: key.name().to_path_buf(),
            cert: cert.name().to_path_buf(),
        });
    }
    Ok((certs, private_key))
}

/// Whether `issuer` signed `cert` (names match and the signature verifies).
fn issued_by(cert: &[u8], issuer: &[u8]) -> bool {
    let (Ok((_, c)), Ok((_, i))) = (
        x509_parser::parse_x509_certificate(cert),
        x509_parser::parse_x509_certificate(issuer),
    ) else {
        return false;
    };
    c.issuer() == i.subject() && c.verify_signature(Some(i.public_key())).is_ok()
}

/// The issuer path of `leaf` through `pool`: issuer, its issuer, ... (stops at
/// a self-signed certificate or when no issuer is found).
fn issuer_path(leaf: &[u8], pool: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut current = leaf.to_vec();
    while path.len() < 8 {
        let Some(next) = pool
            .iter()
            .find(|c| **c != current && !path.contains(c) && issued_by(&current, c))
        else {
            break;
        };
        path.push(next.clone());
        current = next.clone();
    }
    path
}

/// What `p12 export` wrote.
#[derive(Debug, Serialize)]
pub struct P12Exported {
    /// The `.p12` written (file name, or `-`).
    pub out: Sink,
    /// How many certificates it holds (leaf and CA).
    pub certificates: usize,
    /// Always true: a `.p12` holds the key.
    pub key: bool,
    /// Whether it is encrypted (false for profile `none`).
    pub encrypted: bool,
    /// Of the leaf certificate.
    pub subject: String,
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub sha256: String,
    /// `modern`, `legacy` or `none`.
    #[serde(serialize_with = "profile_name")]
    pub profile: Profile,
    /// The friendly name of the key and leaf, null without one.
    pub friendly_name: Option<String>,
    /// The leaf certificate (not in the document).
    #[serde(skip)]
    pub leaf: CertSummary,
    /// The bytes, when written to [`Sink::Return`] (not in the document).
    #[serde(skip)]
    pub returned: Option<Returned>,
}

/// The name of a `.p12` profile in documents: `modern`, `legacy`, `none`.
pub(crate) fn p12_profile_name(p: Profile) -> &'static str {
    match p {
        Profile::Modern => "modern",
        Profile::Legacy => "legacy",
        Profile::Unencrypted => "none",
    }
}

fn profile_name<S: serde::Serializer>(p: &Profile, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(p12_profile_name(*p))
}

/// `p12 export`: certificate + matching key (+ CA certificates) into a `.p12`.
///
/// The CA certificates of the `--cert` file go in, like openssl's. With
/// `chain`, the issuer path of the leaf is added from the home's CA (and the
/// `--cert` file); CA certificates that did not issue the leaf are refused.
#[allow(clippy::too_many_arguments)]
pub fn p12_export(
    home: Option<&Home>,
    cert: &Source,
    key: &Source,
    key_pass: Option<&Secret>,
    chain: bool,
    name: Option<&str>,
    protection: &Protection,
    legacy: bool,
    out: &Sink,
    rules: &OutputRules<'_>,
) -> Result<P12Exported> {
    let (certs, private_key) = cert_and_matching_key(cert, key, key_pass)?;
    let (leaf, extra) = certs
        .split_first()
        .ok_or(OpsError::NoChain(cert.name().to_path_buf()))?;
    let mut cas: Vec<Vec<u8>> = extra.to_vec();
    if chain {
        let mut pool = extra.to_vec();
        if let Some(h) = home {
            if let Some(bytes) = h.ca_files().chain_pem() {
                pool.extend(
                    crate::certfile::read_certificates(&bytes).map_err(|source| {
                        OpsError::CertFile {
                            path: h.ca_files().chain(),
                            source,
                        }
                    })?,
                );
            }
        }
        if pool.is_empty() {
            return Err(OpsError::NoChain(cert.name().to_path_buf()));
        }
        let path = issuer_path(leaf, &pool);
        if path.is_empty() {
            return Err(OpsError::ChainMismatch {
                leaf: cert.name().to_path_buf(),
                reason: "none of them signed it",
            });
        }
        for c in path {
            if !cas.contains(&c) {
                cas.push(c);
            }
        }
    }
    let leaf_summary = summary(cert.name(), leaf)?;
    let friendly = name
        .map(str::to_string)
        .or_else(|| leaf_summary.common_name.clone());
    let (der, profile, certificates) = p12_bytes(
        leaf,
        cas,
        private_key,
        friendly.clone(),
        protection,
        legacy,
        out.name(),
    )?;
    let returned = fsutil::write_sink(out, &der, MODE_SECRET, rules)?;
    Ok(P12Exported {
        out: out.clone(),
        certificates,
        key: true,
        encrypted: profile != Profile::Unencrypted,
        subject: leaf_summary.subject.clone(),
        sha256: leaf_summary.sha256.clone(),
        profile,
        friendly_name: friendly,
        leaf: leaf_summary,
        returned,
    })
}

/// The `.p12` of a leaf, its key and CA certificates: the leaf and key share
/// a friendly name and a `localKeyId` (as openssl writes them); OpenSSL 3
/// algorithms, `-legacy` ones, or none with [`Protection::None`]. Returns
/// the DER, the profile used and the number of certificates. `out` names the
/// file in errors.
pub(crate) fn p12_bytes(
    leaf: &[u8],
    cas: Vec<Vec<u8>>,
    key: PrivateKey,
    friendly: Option<String>,
    protection: &Protection,
    legacy: bool,
    out: &Path,
) -> Result<(Vec<u8>, Profile, usize)> {
    let id = p12::local_key_id(leaf);
    let mut contents = Pkcs12Contents::default();
    contents.certs.push(CertEntry {
        der: leaf.to_vec(),
        friendly_name: friendly.clone(),
        local_key_id: Some(id.clone()),
    });
    for c in cas.into_iter().filter(|c| c.as_slice() != leaf) {
        contents.certs.push(CertEntry::new(c));
    }
    contents.keys.push(KeyEntry {
        key,
        friendly_name: friendly,
        local_key_id: Some(id),
    });
    let profile = match (protection, legacy) {
        (Protection::None, _) => Profile::Unencrypted,
        (Protection::Password(_), true) => Profile::Legacy,
        (Protection::Password(_), false) => Profile::Modern,
    };
    let der = p12::write_pkcs12(&contents, protection.password(), profile).map_err(|source| {
        OpsError::P12 {
            path: out.to_path_buf(),
            source,
        }
    })?;
    Ok((der, profile, contents.certs.len()))
}

/// openssl pkcs12's selection: which certificates and whether the key.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection {
    /// `-clcerts`: only the leaf certificate.
    pub clcerts: bool,
    /// `-cacerts`: only the CA certificates.
    pub cacerts: bool,
    /// `-nokeys`
    pub nokeys: bool,
    /// `-nocerts`
    pub nocerts: bool,
}

/// What `p12 to-pem` (and `pem merge`, `pem ck`) wrote.
#[derive(Debug, Serialize)]
pub struct PemWritten {
    /// The PEM written (file name, or `-`).
    pub out: Sink,
    /// How many certificates it holds.
    pub certificates: usize,
    /// Whether it holds the private key.
    pub key: bool,
    /// Whether that key is encrypted.
    pub encrypted: bool,
    /// Of the leaf certificate, when there is one.
    pub subject: Option<String>,
    /// SHA-256 of the leaf's DER, lowercase hex, when there is one.
    pub sha256: Option<String>,
    /// The leaf certificate (not in the document).
    #[serde(skip)]
    pub leaf: Option<CertSummary>,
    /// The bytes, when written to [`Sink::Return`] (not in the document).
    #[serde(skip)]
    pub returned: Option<Returned>,
}

impl PemWritten {
    fn new(
        out: &Sink,
        certificates: usize,
        key: bool,
        encrypted: bool,
        leaf: Option<CertSummary>,
    ) -> Self {
        PemWritten {
            out: out.clone(),
            certificates,
            key,
            encrypted,
            subject: leaf.as_ref().map(|s| s.subject.clone()),
            sha256: leaf.as_ref().map(|s| s.sha256.clone()),
            leaf,
            returned: None,
        }
    }
}

/// The PEM text for a selection of a `.p12`'s contents: certificates (leaf
/// first, then CA certificates), then the key (encrypted unless `Protection::None`).
pub(crate) fn select_pem(
    contents: &Pkcs12Contents,
    sel: Selection,
    protection: &Protection,
    sink: &Sink,
) -> Result<(Zeroizing<String>, PemWritten)> {
    let leaf = contents.leaf_index();
    let mut certs: Vec<&[u8]> = Vec::new();
    if !sel.nocerts {
        if !sel.cacerts {
            if let Some(c) = leaf.and_then(|i| contents.certs.get(i)) {
                certs.push(&c.der);
            }
        }
        if !sel.clcerts {
            for (i, c) in contents.certs.iter().enumerate() {
                if Some(i) != leaf {
                    certs.push(&c.der);
                }
            }
        }
    }
    let key = if sel.nokeys { None } else { contents.key() };
    let mut out = Zeroizing::new(String::new());
    for c in &certs {
        out.push_str(&crate::pem::encode("CERTIFICATE", c));
    }
    if let Some(k) = key {
        out.push_str(&key_pem(&k.key, protection)?);
    }
    let leaf_summary = leaf
        .and_then(|i| contents.certs.get(i))
        .and_then(|c| CertSummary::from_der(&c.der).ok());
    let written = PemWritten::new(
        sink,
        certs.len(),
        key.is_some(),
        key.is_some() && matches!(protection, Protection::Password(_)),
        leaf_summary,
    );
    Ok((out, written))
}

/// `p12 to-pem`: writes the selection; mode 0600 when a key is in it.
pub fn p12_to_pem(
    contents: &Pkcs12Contents,
    sel: Selection,
    protection: &Protection,
    out: &Sink,
    rules: &OutputRules<'_>,
) -> Result<PemWritten> {
    let (text, mut written) = select_pem(contents, sel, protection, out)?;
    let mode = if written.key {
        MODE_SECRET
    } else {
        MODE_PUBLIC
    };
    written.returned = fsutil::write_sink(out, text.as_bytes(), mode, rules)?;
    Ok(written)
}

/// What `key decrypt` wrote.
#[derive(Debug, Serialize)]
pub struct KeyDecrypted {
    /// The key written (file name, or `-`).
    pub out: Sink,
    /// Always true.
    pub key: bool,
    /// Always false: the written key is unencrypted.
    pub encrypted: bool,
    /// `--key-type` vocabulary (`rsa-2048`, `ec-p256`, ...).
    pub algorithm: String,
    /// `pkcs8`, `encrypted-pkcs8`, `pkcs1` or `sec1`.
    pub input_format: &'static str,
    /// Whether the input key was encrypted.
    pub input_encrypted: bool,
    /// `pkcs8` or `traditional` (PKCS#1 / SEC1).
    pub format: &'static str,
    /// The key's algorithm as text shows it (`RSA-2048`).
    #[serde(skip)]
    pub algorithm_text: String,
    /// The bytes, when written to [`Sink::Return`] (not in the document).
    #[serde(skip)]
    pub returned: Option<Returned>,
}

/// The name of a key file format in documents.
pub(crate) fn key_format_name(f: KeyFormat) -> &'static str {
    match f {
        KeyFormat::Pkcs8 => "pkcs8",
        KeyFormat::EncryptedPkcs8 => "encrypted-pkcs8",
        KeyFormat::Pkcs1 => "pkcs1",
        KeyFormat::Sec1 => "sec1",
    }
}

/// `key decrypt`: the key, unencrypted, as PKCS#8 or (`traditional`) PKCS#1/SEC1.
pub fn key_decrypt(
    input: &Source,
    pass: Option<&Secret>,
    traditional: bool,
    out: &Sink,
    rules: &OutputRules<'_>,
) -> Result<KeyDecrypted> {
    let (key, format) = open_key(input, pass)?;
    let pem = if traditional {
        decode::to_traditional_pem(&key).map_err(|source| OpsError::Key {
            path: input.name().to_path_buf(),
            source,
        })?
    } else {
        key.to_pkcs8_pem()
    };
    let returned = fsutil::write_sink(out, pem.as_bytes(), MODE_SECRET, rules)?;
    Ok(KeyDecrypted {
        out: out.clone(),
        key: true,
        encrypted: false,
        algorithm: key.algorithm().id(),
        input_format: key_format_name(format),
        input_encrypted: pass.is_some(),
        format: if traditional { "traditional" } else { "pkcs8" },
        algorithm_text: key.algorithm().to_string(),
        returned,
    })
}

/// The `ck.pem` push providers load: certificate(s), then the unencrypted
/// PKCS#8 key.
pub(crate) fn ck_pem(certs: &[&[u8]], key: &PrivateKey) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for c in certs {
        out.push_str(&crate::pem::encode("CERTIFICATE", c));
    }
    out.push_str(&key.to_pkcs8_pem());
    out
}

/// What `pem merge`/`pem ck` wrote: a [`PemWritten`] with the key,
/// unencrypted, and the leaf.
pub type CkWritten = PemWritten;

/// `pem merge`: every certificate of `cert`, then the matching key, unencrypted.
pub fn pem_merge(
    cert: &Source,
    key: &Source,
    key_pass: Option<&Secret>,
    out: &Sink,
    rules: &OutputRules<'_>,
) -> Result<CkWritten> {
    let (certs, private_key) = cert_and_matching_key(cert, key, key_pass)?;
    let refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
    let leaf = summary(cert.name(), refs.first().copied().unwrap_or_default())?;
    let returned = fsutil::write_sink(
        out,
        ck_pem(&refs, &private_key).as_bytes(),
        MODE_SECRET,
        rules,
    )?;
    let mut w = PemWritten::new(out, refs.len(), true, false, Some(leaf));
    w.returned = returned;
    Ok(w)
}

/// `pem ck`: the leaf and its key from a `.p12`, as `ck.pem`.
pub fn pem_ck(
    input: &Path,
    contents: &Pkcs12Contents,
    out: &Sink,
    rules: &OutputRules<'_>,
) -> Result<CkWritten> {
    let key = contents
        .key()
        .ok_or_else(|| OpsError::NoKeyInP12(input.to_path_buf()))?;
    let leaf = contents
        .leaf()
        .ok_or_else(|| OpsError::NoLeafInP12(input.to_path_buf()))?;
    if !certfile::key_matches_certificate(&key.key, &leaf.der).unwrap_or(false) {
        return Err(OpsError::KeyMismatch {
            key: input.to_path_buf(),
            cert: input.to_path_buf(),
        });
    }
    let s = summary(input, &leaf.der)?;
    let returned = fsutil::write_sink(
        out,
        ck_pem(&[&leaf.der], &key.key).as_bytes(),
        MODE_SECRET,
        rules,
    )?;
    let mut w = PemWritten::new(out, 1, true, false, Some(s));
    w.returned = returned;
    Ok(w)
}

/// A warning when a certificate has expired.
pub fn expiry_warning(s: &CertSummary, what: &Path) -> Option<String> {
    let now = super::now().unix_timestamp();
    (s.not_after < now).then(|| {
        let when = time::OffsetDateTime::from_unix_timestamp(s.not_after)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| s.not_after.to_string());
        format!(
            "the certificate in {} expired on {when} ({})",
            what.display(),
            s.subject
        )
    })
}
