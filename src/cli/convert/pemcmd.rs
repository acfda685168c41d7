//! `key decrypt`, `pem merge` and `pem ck`.

use std::path::Path;

use pushca::certfile::{self, CertSummary};
use pushca::fsutil::{self, MODE_SECRET};
use pushca::keys::decode::{self, KeyFormat};
use pushca::keys::PrivateKey;
use serde_json::json;

use super::common::{
    cert_json, ck_pem, expiry_warning, key_error, open_cert_and_matching_key, open_key, open_p12,
    summary,
};
use super::{KeyDecryptArgs, PemCkArgs, PemMergeArgs};
use crate::cli::{CliError, Report};

pub(super) fn key_decrypt(a: KeyDecryptArgs) -> Result<Report, CliError> {
    let (key, format, was_encrypted) = open_key(&a.input, a.passin.as_ref())?;
    let pem = if a.traditional {
        decode::to_traditional_pem(&key).map_err(|e| key_error(&a.input, e))?
    } else {
        key.to_pkcs8_pem()
    };
    fsutil::write_atomic(&a.out, pem.as_bytes(), MODE_SECRET)?;
    let input_format = match format {
        KeyFormat::Pkcs8 => "pkcs8",
        KeyFormat::EncryptedPkcs8 => "encrypted-pkcs8",
        KeyFormat::Pkcs1 => "pkcs1",
        KeyFormat::Sec1 => "sec1",
    };
    let out_format = if a.traditional {
        "traditional"
    } else {
        "pkcs8"
    };
    let doc = json!({
        "out": a.out.display().to_string(),
        "key": true,
        "encrypted": false,
        "algorithm": key.algorithm().to_string(),
        "input_format": input_format,
        "input_encrypted": was_encrypted,
        "format": out_format,
    });
    let text = format!(
        "wrote {} ({}, {}, unencrypted)",
        a.out.display(),
        key.algorithm(),
        if a.traditional {
            "PKCS#1/SEC1"
        } else {
            "PKCS#8"
        }
    );
    Ok(Report::new(doc, text))
}

pub(super) fn merge(a: PemMergeArgs) -> Result<Report, CliError> {
    let (certs, key) = open_cert_and_matching_key(&a.cert, &a.key, a.passin.as_ref())?;
    let refs: Vec<&[u8]> = certs.iter().map(|c| c.as_slice()).collect();
    let s = summary(certs.first().map(Vec::as_slice).unwrap_or_default())?;
    write_ck(&a.out, &refs, &key, &s, &a.cert.display().to_string())
}

pub(super) fn ck(a: PemCkArgs) -> Result<Report, CliError> {
    let contents = open_p12(&a.input, a.passin.as_ref())?;
    let file = a.input.display();
    let key = contents
        .key()
        .ok_or_else(|| CliError::new("input", format!("{file}: no private key in the .p12")))?;
    let leaf = contents.leaf().ok_or_else(|| {
        CliError::new(
            "input",
            format!("{file}: no certificate for the key in the .p12"),
        )
    })?;
    if !certfile::key_matches_certificate(&key.key, &leaf.der).unwrap_or(false) {
        return Err(CliError::new(
            "input",
            format!("{file}: the key does not match the certificate"),
        ));
    }
    let s = summary(&leaf.der)?;
    write_ck(&a.out, &[&leaf.der], &key.key, &s, &file.to_string())
}

fn write_ck(
    out: &Path,
    certs: &[&[u8]],
    key: &PrivateKey,
    s: &CertSummary,
    what: &str,
) -> Result<Report, CliError> {
    let pem = ck_pem(certs, key);
    fsutil::write_atomic(out, pem.as_bytes(), MODE_SECRET)?;
    let doc = cert_json(out, certs.len(), true, false, Some(s));
    let text = format!(
        "wrote {} (certificate {} + unencrypted key)",
        out.display(),
        s.subject
    );
    let mut report = Report::new(doc, text);
    if let Some(w) = expiry_warning(s, what) {
        report = report.warn(w);
    }
    Ok(report)
}
