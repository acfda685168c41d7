//! `p12`, `key` and `pem` commands: the openssl workflow. Flags in, one `ops`
//! call, a report out.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use pushca::certfile::CertSummary;
use pushca::keys::decode::KeyFormat;
use pushca::ops::{convert, OpsError};
use pushca::p12::{Pkcs12Contents, Profile};
use pushca::secret::Secret;
use serde_json::json;

use super::secrets::{self, SecretSource};
use super::{CliError, Ctx, Overwrite, Report};

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
    #[command(flatten)]
    pub protection: super::Protection,
    /// Old algorithms (3DES keys, RC2-40 certificates, SHA-1 MAC) for old readers
    #[arg(long, conflicts_with = "noenc")]
    pub legacy: bool,
    /// The .p12 to write (- for stdout)
    #[arg(long, value_name = "FILE.p12")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

#[derive(Args, Debug)]
pub struct P12ToPemArgs {
    /// The .p12 to read (- for stdin)
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
    /// The PEM file to write (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Decrypt a private key (like `openssl rsa -in key.pem -out key.unencrypted.pem`)
    Decrypt(KeyDecryptArgs),
}

#[derive(Args, Debug)]
pub struct KeyDecryptArgs {
    /// The encrypted private key (- for stdin)
    #[arg(long = "in", value_name = "KEY")]
    pub input: PathBuf,
    /// Passphrase of the key
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    /// Where to write the key (- for stdout)
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
    /// Write PKCS#1 (RSA) or SEC1 (EC) instead of PKCS#8
    #[arg(long)]
    pub traditional: bool,
    #[command(flatten)]
    pub overwrite: Overwrite,
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
    /// Certificate (PEM or DER)
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1, SEC1, encrypted or not)
    pub key: PathBuf,
    /// Passphrase of an encrypted key
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    /// The ck.pem to write (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

#[derive(Args, Debug)]
pub struct PemCkArgs {
    /// The .p12 to read (- for stdin)
    #[arg(long = "in", value_name = "FILE.p12")]
    pub input: PathBuf,
    /// Password of the .p12
    #[arg(long, value_name = "SRC")]
    pub passin: Option<SecretSource>,
    /// The ck.pem to write (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

pub fn p12(ctx: &Ctx, cmd: P12Cmd) -> Result<Report, CliError> {
    match cmd {
        P12Cmd::Export(a) => p12_export(ctx, a),
        P12Cmd::ToPem(a) => p12_to_pem(ctx, a),
    }
}

pub fn key(ctx: &Ctx, cmd: KeyCmd) -> Result<Report, CliError> {
    match cmd {
        KeyCmd::Decrypt(a) => key_decrypt(ctx, a),
    }
}

pub fn pem(ctx: &Ctx, cmd: PemCmd) -> Result<Report, CliError> {
    match cmd {
        PemCmd::Merge(a) => pem_merge(ctx, a),
        PemCmd::Ck(a) => pem_ck(ctx, a),
    }
}

/// The passphrase of a key file: only when it is encrypted; `--passin`, else a prompt.
fn key_passphrase(path: &Path, passin: Option<&SecretSource>) -> Result<Option<Secret>, CliError> {
    if !convert::key_is_encrypted(path)? {
        return Ok(None);
    }
    let what = format!("passphrase for {}", path.display());
    secrets::from_flag_or_prompt(passin, &what, "--passin", false).map(Some)
}

/// Opens a .p12: with `--passin`, else the empty password, else a prompt.
fn open_p12(path: &Path, passin: Option<&SecretSource>) -> Result<Pkcs12Contents, CliError> {
    let first = match passin {
        Some(src) => secrets::read(src, "--passin")?,
        None => Secret::new(""),
    };
    // One work budget for every attempt on this file.
    let mut budget = pushca::pbe::WorkBudget::new();
    match convert::open_p12(path, &first, &mut budget) {
        Ok(c) => Ok(c),
        Err(OpsError::P12 { ref source, .. }) if passin.is_none() && source.is_wrong_password() => {
            let what = format!("password for {}", path.display());
            let pass = secrets::from_flag_or_prompt(None, &what, "--passin", false)?;
            Ok(convert::open_p12(path, &pass, &mut budget)?)
        }
        Err(e) => Err(e.into()),
    }
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

fn with_expiry_warning(report: Report, s: &CertSummary, what: &Path) -> Report {
    match convert::expiry_warning(s, what) {
        Some(w) => report.warn(w),
        None => report,
    }
}

fn p12_export(ctx: &Ctx, a: P12ExportArgs) -> Result<Report, CliError> {
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    // Refused before any passphrase is asked for.
    pushca::fsutil::check_secret_output(&a.out, &rules)?;
    let key_pass = key_passphrase(&a.key, a.passin.as_ref())?;
    let protection = super::protection(&a.protection, "password for the .p12")?;
    let done = convert::p12_export(
        home.as_ref(),
        &a.cert,
        &a.key,
        key_pass.as_ref(),
        a.chain,
        a.name.as_deref(),
        &protection,
        a.legacy,
        &a.out,
        &rules,
    )?;
    let (profile_name, profile_text) = match done.profile {
        Profile::Modern => ("modern", "AES-256, HMAC-SHA256"),
        Profile::Legacy => ("legacy", "legacy 3DES/RC2-40, SHA-1 MAC"),
        Profile::Unencrypted => ("none", "unencrypted"),
    };
    let n = done.certificates;
    let mut doc = cert_json(
        &a.out,
        n,
        true,
        done.profile != Profile::Unencrypted,
        Some(&done.leaf),
    );
    doc["profile"] = profile_name.into();
    doc["friendly_name"] = done.friendly_name.into();
    let text = format!(
        "wrote {} ({} certificate{}, key, {profile_text})",
        a.out.display(),
        n,
        if n == 1 { "" } else { "s" },
    );
    Ok(with_expiry_warning(
        Report::new(doc, text),
        &done.leaf,
        &a.cert,
    ))
}

fn p12_to_pem(ctx: &Ctx, a: P12ToPemArgs) -> Result<Report, CliError> {
    let contents = open_p12(&a.input, a.passin.as_ref())?;
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    if !a.nokeys && contents.key().is_some() {
        pushca::fsutil::check_secret_output(&a.out, &rules)?;
    }
    let sel = convert::Selection {
        clcerts: a.clcerts,
        cacerts: a.cacerts,
        nokeys: a.nokeys,
        nocerts: a.nocerts,
    };
    let protection = if a.nokeys || contents.key().is_none() {
        convert::Protection::None
    } else {
        super::protection(
            &super::Protection {
                passout: a.passout.clone(),
                noenc: a.noenc,
            },
            "passphrase for the written key",
        )?
    };
    let w = convert::p12_to_pem(&contents, sel, &protection, &a.out, &rules)?;
    let doc = cert_json(&a.out, w.certificates, w.key, w.encrypted, w.leaf.as_ref());
    let text = format!(
        "wrote {} ({} certificate{}{})",
        a.out.display(),
        w.certificates,
        if w.certificates == 1 { "" } else { "s" },
        match (w.key, w.encrypted) {
            (false, _) => "",
            (true, true) => ", encrypted key",
            (true, false) => ", unencrypted key",
        }
    );
    let mut report = Report::new(doc, text);
    if w.certificates == 0 && !w.key {
        report = report.warn(format!(
            "nothing matched the selection: {} is empty",
            a.out.display()
        ));
    }
    Ok(report)
}

fn key_decrypt(ctx: &Ctx, a: KeyDecryptArgs) -> Result<Report, CliError> {
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    pushca::fsutil::check_secret_output(&a.out, &rules)?;
    let pass = key_passphrase(&a.input, a.passin.as_ref())?;
    let (key, format) =
        convert::key_decrypt(&a.input, pass.as_ref(), a.traditional, &a.out, &rules)?;
    let input_format = match format {
        KeyFormat::Pkcs8 => "pkcs8",
        KeyFormat::EncryptedPkcs8 => "encrypted-pkcs8",
        KeyFormat::Pkcs1 => "pkcs1",
        KeyFormat::Sec1 => "sec1",
    };
    let doc = json!({
        "out": a.out.display().to_string(),
        "key": true,
        "encrypted": false,
        "algorithm": key.algorithm().id(),
        "input_format": input_format,
        "input_encrypted": pass.is_some(),
        "format": if a.traditional { "traditional" } else { "pkcs8" },
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

fn ck_report(out: &Path, w: &convert::CkWritten, what: &Path) -> Report {
    let doc = cert_json(out, w.certificates, true, false, Some(&w.leaf));
    let text = format!(
        "wrote {} (certificate {} + unencrypted key)",
        out.display(),
        w.leaf.subject
    );
    with_expiry_warning(Report::new(doc, text), &w.leaf, what)
}

fn pem_merge(ctx: &Ctx, a: PemMergeArgs) -> Result<Report, CliError> {
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    pushca::fsutil::check_secret_output(&a.out, &rules)?;
    let pass = key_passphrase(&a.key, a.passin.as_ref())?;
    let w = convert::pem_merge(&a.cert, &a.key, pass.as_ref(), &a.out, &rules)?;
    Ok(ck_report(&a.out, &w, &a.cert))
}

fn pem_ck(ctx: &Ctx, a: PemCkArgs) -> Result<Report, CliError> {
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    pushca::fsutil::check_secret_output(&a.out, &rules)?;
    let contents = open_p12(&a.input, a.passin.as_ref())?;
    let w = convert::pem_ck(&a.input, &contents, &a.out, &rules)?;
    Ok(ck_report(&a.out, &w, &a.input))
}
