//! `p12`, `key` and `pem` commands: the openssl workflow.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use pushca::certfile::{self, CertSummary};
use pushca::fsutil::{self, Secret, SecretSource, MODE_PUBLIC, MODE_SECRET};
use pushca::keys::decode::{self, KeyFormat};
use pushca::keys::{KeyError, PrivateKey};
use pushca::pkcs12::{self, CertEntry, KeyEntry, P12Error, Pkcs12, Pkcs12Contents, Profile};
use serde_json::json;

use super::{secrets, CliError, Ctx, Report};

#[derive(Subcommand, Debug)]
pub enum P12Cmd {
    /// Bundle a certificate and its key into a .p12 (like `openssl pkcs12 -export`)
    Export(P12ExportArgs),
    /// Convert a .p12 to PEM (like `openssl pkcs12 -in F.p12 [-clcerts|-cacerts] [-nokeys|-nocerts]`)
    ToPem(P12ToPemArgs),
}

#[derive(Args, Debug)]
pub struct P12ExportArgs {
    /// Certificate (PEM or DER); further certificates in a PEM file are CA certificates
    #[arg(long, value_name = "CERT")]
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1, SEC1, encrypted or not)
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Passphrase of an encrypted key
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    /// Include the CA certificates (pushca's issuing and root CA)
    #[arg(long)]
    pub chain: bool,
    /// Friendly name of the certificate and key
    #[arg(long, value_name = "FRIENDLY")]
    pub name: Option<String>,
    /// Password of the .p12
    #[arg(
        long,
        value_name = "SRC",
        conflicts_with = "noenc",
        required_unless_present = "noenc"
    )]
    pub passout: Option<SecretSource>,
    /// Write an unencrypted .p12 (no password, no MAC)
    #[arg(long)]
    pub noenc: bool,
    /// Old algorithms (3DES keys, RC2-40 certificates, SHA-1 MAC) for old readers
    #[arg(long, conflicts_with = "noenc")]
    pub legacy: bool,
    #[arg(long, value_name = "FILE.p12")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct P12ToPemArgs {
    #[arg(long = "in", value_name = "FILE.p12")]
    pub input: PathBuf,
    /// Password of the .p12
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    /// Only the client (leaf) certificate
    #[arg(long, conflicts_with = "cacerts")]
    pub clcerts: bool,
    /// Only the CA certificates
    #[arg(long)]
    pub cacerts: bool,
    /// Write no private key
    #[arg(long, conflicts_with = "nocerts")]
    pub nokeys: bool,
    /// Write no certificates
    #[arg(long)]
    pub nocerts: bool,
    /// Passphrase for the written key (PKCS#8 PBES2 AES-256)
    #[arg(long, value_name = "SRC", conflicts_with = "noenc")]
    pub passout: Option<SecretSource>,
    /// Write the key unencrypted
    #[arg(long)]
    pub noenc: bool,
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Decrypt a private key (like `openssl rsa -in key.pem -out key.unencrypted.pem`)
    Decrypt(KeyDecryptArgs),
}

#[derive(Args, Debug)]
pub struct KeyDecryptArgs {
    #[arg(long = "in", value_name = "KEY")]
    pub input: PathBuf,
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
    /// Write PKCS#1 (RSA) or SEC1 (EC) instead of PKCS#8
    #[arg(long)]
    pub traditional: bool,
}

#[derive(Subcommand, Debug)]
pub enum PemCmd {
    /// Certificate then unencrypted key in one file (the `cat cert.pem key.pem` step)
    Merge(PemMergeArgs),
    /// .p12 to ck.pem in one step
    Ck(PemCkArgs),
}

#[derive(Args, Debug)]
pub struct PemMergeArgs {
    pub cert: PathBuf,
    pub key: PathBuf,
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct PemCkArgs {
    #[arg(long = "in", value_name = "FILE.p12")]
    pub input: PathBuf,
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn p12(ctx: &Ctx, cmd: P12Cmd) -> Result<Report, CliError> {
    match cmd {
        P12Cmd::Export(a) => p12_export(ctx, a),
        P12Cmd::ToPem(a) => p12_to_pem(a),
    }
}

pub fn key(_ctx: &Ctx, cmd: KeyCmd) -> Result<Report, CliError> {
    match cmd {
        KeyCmd::Decrypt(a) => key_decrypt(a),
    }
}

pub fn pem(_ctx: &Ctx, cmd: PemCmd) -> Result<Report, CliError> {
    match cmd {
        PemCmd::Merge(a) => pem_merge(a),
        PemCmd::Ck(a) => pem_ck(a),
    }
}

// ---------------------------------------------------------------- helpers

fn p12_error(path: &Path, e: P12Error) -> CliError {
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

fn key_error(path: &Path, e: KeyError) -> CliError {
    let mut c = CliError::from(e);
    c.message = match c.kind {
        "password" => format!("wrong passphrase for {}", path.display()),
        _ => format!("{}: {}", path.display(), c.message),
    };
    c
}

fn cert_error(path: &Path, e: certfile::CertFileError) -> CliError {
    CliError::new("input", format!("{}: {e}", path.display()))
}

/// Opens a .p12: with `--passin`, else the empty password, else a prompt.
fn open_p12(path: &Path, passin: Option<&SecretSource>) -> Result<Pkcs12Contents, CliError> {
    let bytes = fsutil::read_input(path)?;
    let first = match passin {
        Some(src) => secrets::read(src)?,
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
fn open_key(
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

fn summary(der: &[u8]) -> Result<CertSummary, CliError> {
    certfile::summarize(der).map_err(CliError::from)
}

fn expiry_warning(s: &CertSummary, what: &str) -> Option<String> {
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
fn ck_pem(certs: &[&[u8]], key: &PrivateKey) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::new());
    for c in certs {
        out.push_str(&pushca::keys::pem_encode("CERTIFICATE", c));
    }
    out.push_str(&key.to_pkcs8_pem());
    out
}

fn cert_json(
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

// ---------------------------------------------------------------- p12 export

fn p12_export(ctx: &Ctx, a: P12ExportArgs) -> Result<Report, CliError> {
    let cert_bytes = fsutil::read_input(&a.cert)?;
    let certs = certfile::read_certificates(&cert_bytes).map_err(|e| cert_error(&a.cert, e))?;
    let (leaf, extra) = certs
        .split_first()
        .ok_or_else(|| CliError::new("input", format!("{}: no certificate", a.cert.display())))?;
    let (key, _, _) = open_key(&a.key, a.passin.as_ref())?;
    if !certfile::key_matches_certificate(&key, leaf).map_err(|e| cert_error(&a.cert, e))? {
        return Err(CliError::new(
            "input",
            format!(
                "the key in {} does not match the certificate in {}",
                a.key.display(),
                a.cert.display()
            ),
        ));
    }
    let mut chain: Vec<Vec<u8>> = Vec::new();
    if a.chain {
        let chain_file = ctx.home()?.ca_dir().join("chain.pem");
        if chain_file.is_file() {
            let bytes = fsutil::read_input(&chain_file)?;
            chain = certfile::read_certificates(&bytes).map_err(|e| cert_error(&chain_file, e))?;
        } else if !extra.is_empty() {
            chain = extra.to_vec();
        } else {
            return Err(CliError::new(
                "input",
                format!(
                    "--chain: no CA certificates: {} does not exist and {} holds only one certificate",
                    chain_file.display(),
                    a.cert.display()
                ),
            )
            .with_hint("run `pushca init`, pass --home, or append the CA certificates to the --cert file"));
        }
    }
    let leaf_summary = summary(leaf)?;
    let name = a.name.clone().or_else(|| leaf_summary.common_name.clone());
    let id = pkcs12::local_key_id(leaf);
    let mut contents = Pkcs12Contents::default();
    contents.certs.push(CertEntry {
        der: leaf.clone(),
        friendly_name: name.clone(),
        local_key_id: Some(id.clone()),
    });
    for c in chain.iter().filter(|c| *c != leaf) {
        contents.certs.push(CertEntry {
            der: c.clone(),
            friendly_name: None,
            local_key_id: None,
        });
    }
    contents.keys.push(KeyEntry {
        key,
        friendly_name: name.clone(),
        local_key_id: Some(id),
    });
    let (profile, pass) = if a.noenc {
        (Profile::Unencrypted, None)
    } else {
        let p = secrets::from_flag_or_prompt(
            a.passout.as_ref(),
            "password for the .p12",
            "--passout",
            true,
        )?;
        (
            if a.legacy {
                Profile::Legacy
            } else {
                Profile::Modern
            },
            Some(p),
        )
    };
    let der = pkcs12::write_pkcs12(&contents, pass.as_ref(), profile)?;
    fsutil::write_atomic(&a.out, &der, MODE_SECRET)?;
    let profile_name = match profile {
        Profile::Modern => "modern",
        Profile::Legacy => "legacy",
        Profile::Unencrypted => "none",
    };
    let n = contents.certs.len();
    let mut doc = cert_json(&a.out, n, true, !a.noenc, Some(&leaf_summary));
    doc["profile"] = profile_name.into();
    doc["friendly_name"] = name.into();
    let text = format!(
        "wrote {} ({} certificate{}, key, {})",
        a.out.display(),
        n,
        if n == 1 { "" } else { "s" },
        match profile {
            Profile::Modern => "AES-256, HMAC-SHA256",
            Profile::Legacy => "legacy 3DES/RC2-40, SHA-1 MAC",
            Profile::Unencrypted => "unencrypted",
        }
    );
    let mut report = Report::new(doc, text);
    if let Some(w) = expiry_warning(&leaf_summary, &a.cert.display().to_string()) {
        report = report.warn(w);
    }
    Ok(report)
}

// ---------------------------------------------------------------- p12 to-pem

fn p12_to_pem(a: P12ToPemArgs) -> Result<Report, CliError> {
    let contents = open_p12(&a.input, a.passin.as_ref())?;
    let leaf = contents.leaf_index();
    let mut certs: Vec<&[u8]> = Vec::new();
    if !a.nocerts {
        if !a.cacerts {
            if let Some(c) = leaf.and_then(|i| contents.certs.get(i)) {
                certs.push(&c.der);
            } else if !a.clcerts {
                // No identifiable leaf: every certificate is written below.
            }
        }
        if !a.clcerts {
            for (i, c) in contents.certs.iter().enumerate() {
                if Some(i) != leaf {
                    certs.push(&c.der);
                }
            }
        }
    }
    let key = if a.nokeys { None } else { contents.key() };
    let mut out = zeroize::Zeroizing::new(String::new());
    for c in &certs {
        out.push_str(&pushca::keys::pem_encode("CERTIFICATE", c));
    }
    let mut encrypted = false;
    if let Some(k) = key {
        if a.noenc {
            out.push_str(&k.key.to_pkcs8_pem());
        } else {
            let pass = secrets::from_flag_or_prompt(
                a.passout.as_ref(),
                "passphrase for the written key",
                "--passout",
                true,
            )
            .map_err(|e| e.with_hint("pass --passout SRC, or --noenc for an unencrypted key"))?;
            out.push_str(&k.key.to_encrypted_pkcs8_pem(&pass)?);
            encrypted = true;
        }
    }
    let mode = if key.is_some() {
        MODE_SECRET
    } else {
        MODE_PUBLIC
    };
    fsutil::write_atomic(&a.out, out.as_bytes(), mode)?;
    let leaf_summary = match leaf.and_then(|i| contents.certs.get(i)) {
        Some(c) => Some(summary(&c.der)?),
        None => None,
    };
    let doc = cert_json(
        &a.out,
        certs.len(),
        key.is_some(),
        encrypted,
        leaf_summary.as_ref(),
    );
    let text = format!(
        "wrote {} ({} certificate{}{})",
        a.out.display(),
        certs.len(),
        if certs.len() == 1 { "" } else { "s" },
        match (key.is_some(), encrypted) {
            (false, _) => "",
            (true, true) => ", encrypted key",
            (true, false) => ", unencrypted key",
        }
    );
    let mut report = Report::new(doc, text);
    if certs.is_empty() && key.is_none() {
        report = report.warn(format!(
            "nothing matched the selection: {} is empty",
            a.out.display()
        ));
    }
    Ok(report)
}

// ---------------------------------------------------------------- key decrypt

fn key_decrypt(a: KeyDecryptArgs) -> Result<Report, CliError> {
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

// ---------------------------------------------------------------- pem merge / ck

fn pem_merge(a: PemMergeArgs) -> Result<Report, CliError> {
    let cert_bytes = fsutil::read_input(&a.cert)?;
    let certs = certfile::read_certificates(&cert_bytes).map_err(|e| cert_error(&a.cert, e))?;
    let leaf = certs
        .first()
        .ok_or_else(|| CliError::new("input", format!("{}: no certificate", a.cert.display())))?;
    let (key, _, _) = open_key(&a.key, a.passin.as_ref())?;
    if !certfile::key_matches_certificate(&key, leaf).map_err(|e| cert_error(&a.cert, e))? {
        return Err(CliError::new(
            "input",
            format!(
                "the key in {} does not match the certificate in {}",
                a.key.display(),
                a.cert.display()
            ),
        ));
    }
    let refs: Vec<&[u8]> = certs.iter().map(|c| c.as_slice()).collect();
    let s = summary(leaf)?;
    write_ck(&a.out, &refs, &key, &s, &a.cert.display().to_string())
}

fn pem_ck(a: PemCkArgs) -> Result<Report, CliError> {
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
