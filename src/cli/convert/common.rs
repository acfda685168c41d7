//! Helpers shared by the conversion handlers: opening inputs with good errors,
//! the ck.pem layout, JSON documents, expiry warnings.

use std::path::Path;

use crate::cli::secrets::SecretSource;
use pushca::certfile::{self, CertSummary};
use pushca::fsutil;
use pushca::keys::decode::{self, KeyFormat};
use pushca::keys::{KeyError, PrivateKey};
use pushca::pkcs12::{P12Error, Pkcs12, Pkcs12Contents};
use pushca::secret::Secret;
use serde_json::json;

use crate::cli::{secrets, CliError};

pub(super) fn p12_error(path: &Path, e: P12Error) -> CliError {
    let file = path.display();
    match e {
        P12Error::WrongPasswordMac => CliError::new(
            "password",
            format!("wrong password for {file} (MAC verification failed)"),
        )
        .with_hint("pass the .p12 password with --passin (pass:, env:, file:, fd:, stdin)"),
        P12Error::WrongPasswordDecrypt => CliError::new(
            "password",
            format!("wrong password for {file} (decryption failed)"),
        ),
        P12Error::Pem => CliError::new("input", format!("{file}: {e}"))
            .with_hint("PEM files are read by `pushca pem merge` and `pushca p12 export`"),
        other => {
            let mut c = CliError::from(other);
            c.message = format!("{file}: {}", c.message);
            c
        }
    }
}

pub(super) fn key_error(path: &Path, e: KeyError) -> CliError {
    let mut c = CliError::from(e);
    c.message = match c.kind {
        "password" => format!("wrong passphrase for {}", path.display()),
        _ => format!("{}: {}", path.display(), c.message),
    };
    c
}

pub(super) fn cert_error(path: &Path, e: certfile::CertFileError) -> CliError {
    CliError::new("input", format!("{}: {e}", path.display()))
}

/// Opens a .p12: with `--passin`, else the empty password, else a prompt.
pub(super) fn open_p12(
    path: &Path,
    passin: Option<&SecretSource>,
) -> Result<Pkcs12Contents, CliError> {
    let bytes = fsutil::read_input(path)?;
    let first = match passin {
        Some(src) => secrets::read(src, "--passin")?,
        None => Secret::new(""),
    };
    match Pkcs12::parse(&bytes, &first) {
        Ok(c) => Ok(c),
        Err(e) if passin.is_none() && e.is_wrong_password() => {
            let what = format!("password for {}", path.display());
            let pass = secrets::from_flag_or_prompt(None, &what, "--passin", false)?;
            Pkcs12::parse(&bytes, &pass).map_err(|e| p12_error(path, e))
        }
        Err(e) => Err(p12_error(path, e)),
    }
}

/// Loads a key file in any format; asks for the passphrase only when the key is encrypted.
pub(super) fn open_key(
    path: &Path,
    passin: Option<&SecretSource>,
) -> Result<(PrivateKey, KeyFormat, bool), CliError> {
    let bytes = fsutil::read_input(path)?;
    let encrypted = decode::is_encrypted(&bytes);
    let pass = if encrypted {
        let what = format!("passphrase for {}", path.display());
        Some(secrets::from_flag_or_prompt(
            passin, &what, "--passin", false,
        )?)
    } else {
        None
    };
    let (key, format) = decode::load_private_key_with_format(&bytes, pass.as_ref())
        .map_err(|e| key_error(path, e))?;
    Ok((key, format, encrypted))
}

/// Reads a certificate file (PEM with one or more certificates, or DER) and a
/// private key, and refuses a key that does not belong to the first certificate.
pub(super) fn open_cert_and_matching_key(
    cert: &Path,
    key: &Path,
    passin: Option<&SecretSource>,
) -> Result<(Vec<Vec<u8>>, PrivateKey), CliError> {
    let cert_bytes = fsutil::read_input(cert)?;
    let certs = certfile::read_certificates(&cert_bytes).map_err(|e| cert_error(cert, e))?;
    let leaf = certs
        .first()
        .ok_or_else(|| CliError::new("input", format!("{}: no certificate", cert.display())))?;
    let (private_key, _, _) = open_key(key, passin)?;
    if !certfile::key_matches_certificate(&private_key, leaf).map_err(|e| cert_error(cert, e))? {
        return Err(CliError::new(
            "input",
            format!(
                "the key in {} does not match the certificate in {}",
                key.display(),
                cert.display()
            ),
        ));
    }
    Ok((certs, private_key))
}

pub(super) fn summary(der: &[u8]) -> Result<CertSummary, CliError> {
    certfile::summarize(der).map_err(CliError::from)
}

pub(super) fn expiry_warning(s: &CertSummary, what: &str) -> Option<String> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if s.not_after < now {
        let when = time::OffsetDateTime::from_unix_timestamp(s.not_after)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| s.not_after.to_string());
        Some(format!(
            "the certificate in {what} expired on {when} ({})",
            s.subject
        ))
    } else {
        None
    }
}

/// The `ck.pem` push providers load: certificate(s), then the unencrypted
/// PKCS#8 key.
pub(super) fn ck_pem(certs: &[&[u8]], key: &PrivateKey) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::new());
    for c in certs {
        out.push_str(&pushca::pem::encode("CERTIFICATE", c));
    }
    out.push_str(&key.to_pkcs8_pem());
    out
}

pub(super) fn cert_json(
    out: &Path,
    n: usize,
    key: bool,
    encrypted: bool,
    leaf: Option<&CertSummary>,
) -> serde_json::Value {
    json!({
        "out": out.display().to_string(),
        "certificates": n,
        "key": key,
        "encrypted": encrypted,
        "subject": leaf.map(|s| s.subject.clone()),
        "sha256": leaf.map(|s| s.sha256.clone()),
    })
}
