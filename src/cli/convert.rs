//! `p12`, `key` and `pem` commands: the openssl workflow. Flags in, one `ops`
//! call, a report out.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use pushca::fsutil::Source;
use pushca::ops::{convert, OpsError};
use pushca::p12::{Pkcs12Contents, Profile};
use pushca::secret::Secret;
use pushca::text::count;
use pushca::x509::CertSummary;

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

/// The passphrase of a key: only when it is encrypted; `--passin`, else a prompt.
fn key_passphrase(key: &Source, passin: Option<&SecretSource>) -> Result<Option<Secret>, CliError> {
    if !convert::key_is_encrypted(key)? {
        return Ok(None);
    }
    let what = format!("passphrase for {}", key.name().display());
    secrets::from_flag_or_prompt(passin, &what, "--passin", false).map(Some)
}

/// Opens a .p12: with `--passin`, else the empty password, else a prompt.
/// The password is read before the file (both may come from standard input,
/// password line first, as with openssl).
fn open_p12(
    path: &Path,
    passin: Option<&SecretSource>,
) -> Result<(Pkcs12Contents, Source), CliError> {
    let first = match passin {
        Some(src) => secrets::read(src, "--passin")?,
        None => Secret::new(""),
    };
    let input = super::source(path)?;
    // One work budget for every attempt on this file.
    let mut budget = pushca::pbe::WorkBudget::new();
    match convert::open_p12(&input, &first, &mut budget) {
        Ok(c) => Ok((c, input)),
        Err(OpsError::P12 { ref source, .. }) if passin.is_none() && source.is_wrong_password() => {
            let what = format!("password for {}", input.name().display());
            let pass = secrets::from_flag_or_prompt(None, &what, "--passin", false)?;
            let c = convert::open_p12(&input, &pass, &mut budget)?;
            Ok((c, input))
        }
        Err(e) => Err(e.into()),
    }
}

/// Certificate and key both from standard input: refused.
fn one_stdin(a: &Path, b: &Path) -> Result<(), CliError> {
    if a.as_os_str() == "-" && b.as_os_str() == "-" {
        return Err(CliError::usage(
            "the certificate and the key cannot both be - (standard input)",
        ));
    }
    Ok(())
}

fn with_expiry_warning(report: Report, s: &CertSummary, what: &Path) -> Report {
    match convert::expiry_warning(s, what) {
        Some(w) => report.warn(w),
        None => report,
    }
}

fn p12_export(ctx: &Ctx, a: P12ExportArgs) -> Result<Report, CliError> {
    one_stdin(&a.cert, &a.key)?;
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    let out = super::sink(&a.out);
    // Refused before any passphrase is asked for.
    super::check_secret_sink(&out, &rules)?;
    let key = super::source(&a.key)?;
    let key_pass = key_passphrase(&key, a.passin.as_ref())?;
    let protection = super::protection(&a.protection, "password for the .p12")?;
    let cert = super::source(&a.cert)?;
    let v = convert::p12_export(
        home.as_ref(),
        &cert,
        &key,
        key_pass.as_ref(),
        a.chain,
        a.name.as_deref(),
        &protection,
        a.legacy,
        &out,
        &rules,
    )?;
    let profile_text = match v.profile {
        Profile::Modern => "AES-256, HMAC-SHA256",
        Profile::Legacy => "legacy 3DES/RC2-40, SHA-1 MAC",
        Profile::Unencrypted => "unencrypted",
    };
    let n = v.certificates;
    let text = format!(
        "wrote {} ({}, key, {profile_text})",
        v.out.name().display(),
        count(n, "certificate"),
    );
    let report = Report::of(&v, text)?.with_stdout(v.returned.clone());
    Ok(with_expiry_warning(report, &v.leaf, cert.name()))
}

fn p12_to_pem(ctx: &Ctx, a: P12ToPemArgs) -> Result<Report, CliError> {
    let (contents, _) = open_p12(&a.input, a.passin.as_ref())?;
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    let out = super::sink(&a.out);
    if !a.nokeys && contents.key().is_some() {
        super::check_secret_sink(&out, &rules)?;
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
    let w = convert::p12_to_pem(&contents, sel, &protection, &out, &rules)?;
    let text = format!(
        "wrote {} ({}{})",
        w.out.name().display(),
        count(w.certificates, "certificate"),
        match (w.key, w.encrypted) {
            (false, _) => "",
            (true, true) => ", encrypted key",
            (true, false) => ", unencrypted key",
        }
    );
    let mut report = Report::of(&w, text)?.with_stdout(w.returned.clone());
    if w.certificates == 0 && !w.key {
        report = report.warn(format!(
            "nothing matched the selection: {} is empty",
            w.out.name().display()
        ));
    }
    Ok(report)
}

fn key_decrypt(ctx: &Ctx, a: KeyDecryptArgs) -> Result<Report, CliError> {
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    let out = super::sink(&a.out);
    super::check_secret_sink(&out, &rules)?;
    let input = super::source(&a.input)?;
    let pass = key_passphrase(&input, a.passin.as_ref())?;
    let v = convert::key_decrypt(&input, pass.as_ref(), a.traditional, &out, &rules)?;
    let text = format!(
        "wrote {} ({}, {}, unencrypted)",
        v.out.name().display(),
        v.algorithm_text,
        if a.traditional {
            "PKCS#1/SEC1"
        } else {
            "PKCS#8"
        }
    );
    Ok(Report::of(&v, text)?.with_stdout(v.returned.clone()))
}

fn ck_report(w: &convert::CkWritten, what: &Path) -> Result<Report, CliError> {
    let text = format!(
        "wrote {} (certificate {} + unencrypted key)",
        w.out.name().display(),
        w.subject.as_deref().unwrap_or_default()
    );
    let report = Report::of(w, text)?.with_stdout(w.returned.clone());
    Ok(match &w.leaf {
        Some(leaf) => with_expiry_warning(report, leaf, what),
        None => report,
    })
}

fn pem_merge(ctx: &Ctx, a: PemMergeArgs) -> Result<Report, CliError> {
    one_stdin(&a.cert, &a.key)?;
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    let out = super::sink(&a.out);
    super::check_secret_sink(&out, &rules)?;
    let key = super::source(&a.key)?;
    let pass = key_passphrase(&key, a.passin.as_ref())?;
    let cert = super::source(&a.cert)?;
    let w = convert::pem_merge(&cert, &key, pass.as_ref(), &out, &rules)?;
    ck_report(&w, cert.name())
}

fn pem_ck(ctx: &Ctx, a: PemCkArgs) -> Result<Report, CliError> {
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    let out = super::sink(&a.out);
    super::check_secret_sink(&out, &rules)?;
    let (contents, input) = open_p12(&a.input, a.passin.as_ref())?;
    let w = convert::pem_ck(input.name(), &contents, &out, &rules)?;
    ck_report(&w, input.name())
}
