//! `csr new`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pushca::keys::KeyType;
use pushca::ops::{self, convert::Protection};
use serde_json::json;

use super::{CliError, Ctx, Overwrite, Report};

#[derive(Subcommand, Debug)]
pub enum CsrCmd {
    /// Make a private key and a CSR for it
    New(CsrNewArgs),
}

#[derive(Args, Debug)]
pub struct CsrNewArgs {
    /// Where to write the private key
    #[arg(long, value_name = "KEY")]
    pub key_out: PathBuf,
    /// Where to write the CSR (PEM)
    #[arg(long, value_name = "CSR")]
    pub out: PathBuf,
    /// Type of the new key (what Keychain Access makes: rsa-2048)
    #[arg(long, value_name = "TYPE", default_value = "rsa-2048", value_parser = super::key_types())]
    pub key_type: KeyType,
    /// Common name in the request (informational: the CA sets the real subject)
    #[arg(
        long,
        value_name = "CN",
        default_value = "pushca push certificate request"
    )]
    pub cn: String,
    /// Email address in the request
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    #[command(flatten)]
    pub protection: super::Protection,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

pub fn csr(ctx: &Ctx, c: CsrCmd) -> Result<Report, CliError> {
    let CsrCmd::New(a) = c;
    if a.key_out == a.out {
        return Err(CliError::usage(
            "--key-out and --out must be different files",
        ));
    }
    let home = ctx.home_opt();
    let rules = super::rules(home.as_ref(), a.overwrite);
    pushca::fsutil::check_secret_output(&a.key_out, &rules)?;
    let protection = super::protection(&a.protection, "passphrase for the new key")?;
    ops::convert::csr_new(
        a.key_type,
        &a.cn,
        a.email.as_deref(),
        &protection,
        &a.key_out,
        &a.out,
        &rules,
    )?;
    let encrypted = matches!(protection, Protection::Password(_));
    Ok(Report::new(
        json!({
            "key": a.key_out, "csr": a.out, "key_type": a.key_type.name(),
            "encrypted": encrypted,
        }),
        format!(
            "Wrote {} key {} ({})\nWrote CSR {}\nNext: pushca cert issue --app BUNDLE_ID --env development --csr {} --out cert.pem\n",
            a.key_type,
            a.key_out.display(),
            if encrypted { "encrypted" } else { "unencrypted" },
            a.out.display(),
            a.out.display()
        ),
    ))
}
