//! `p12`, `key` and `pem` commands: the openssl workflow. Argument structs and
//! dispatch here; the handlers live in `convert/`.

use std::path::PathBuf;

use super::secrets::SecretSource;
use clap::{Args, Subcommand};

use super::{CliError, Ctx, Report};

mod common;
mod p12cmd;
mod pemcmd;

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
        P12Cmd::Export(a) => p12cmd::export(ctx, a),
        P12Cmd::ToPem(a) => p12cmd::to_pem(a),
    }
}

pub fn key(_ctx: &Ctx, cmd: KeyCmd) -> Result<Report, CliError> {
    match cmd {
        KeyCmd::Decrypt(a) => pemcmd::key_decrypt(a),
    }
}

pub fn pem(_ctx: &Ctx, cmd: PemCmd) -> Result<Report, CliError> {
    match cmd {
        PemCmd::Merge(a) => pemcmd::merge(a),
        PemCmd::Ck(a) => pemcmd::ck(a),
    }
}
