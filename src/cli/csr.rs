//! `csr new`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pushca::keys::KeyType;
use pushca::ops;

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
    let (key_out, csr_out) = (super::sink(&a.key_out), super::sink(&a.out));
    super::check_secret_sink(&key_out, &rules)?;
    let protection = super::protection(&a.protection, "passphrase for the new key")?;
    let v = ops::convert::csr_new(
        a.key_type,
        &a.cn,
        a.email.as_deref(),
        &protection,
        &key_out,
        &csr_out,
        &rules,
    )?;
    let text = format!(
        "Wrote {} key {} ({})\nWrote CSR {}\nNext: pushca cert issue --app BUNDLE_ID --env development --csr {} --out cert.pem\n",
        a.key_type,
        v.key.name().display(),
        if v.encrypted { "encrypted" } else { "unencrypted" },
        v.csr.name().display(),
        v.csr.name().display()
    );
    Ok(Report::of(&v, text)?.with_stdout(v.returned.clone()))
}
