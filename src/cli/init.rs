//! `init` and `csr new`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pushca::ca::authority::{PROFILE_SIGNER, ROOT};
use pushca::keys::KeyType;
use pushca::ops::{self, convert::Protection, init::InitRequest};
use serde_json::json;

use super::secrets::{self, SecretSource};
use super::{CliError, Ctx, Overwrite, Report};

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Organisation name (O= in certificates)
    #[arg(long, value_name = "NAME")]
    pub team_name: String,
    /// 10-character Team ID (A-Z, 0-9); generated when omitted
    #[arg(long, value_name = "ID")]
    pub team_id: Option<String>,
    /// Two-letter country code (C= in certificates)
    #[arg(long, value_name = "CC", default_value = "US")]
    pub country: String,
    /// Key type of the CA keys
    #[arg(long, value_name = "TYPE", default_value = "ec-p256", value_parser = super::key_types())]
    pub key_type: KeyType,
    /// CA passphrase source (pass:, env:, file:, fd:, stdin); else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

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

pub fn init(ctx: &Ctx, a: InitArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    if let Some(found) = ops::init::existing_ca_material(&home) {
        // Say so before asking for a passphrase.
        return Err(ops::OpsError::AlreadyInitialized {
            home: home.root().to_path_buf(),
            found,
        }
        .into());
    }
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), true)?;
    let out = ops::init::init_home(
        &home,
        &InitRequest {
            team_name: &a.team_name,
            team_id: a.team_id.as_deref(),
            country: &a.country,
            key_type: a.key_type,
        },
        &pass,
        ops::now(),
    )?;
    let files = &out.files;
    let text = format!(
        "Initialised {home}\n  team         {name} ({id}), default\n  CA keys      {kt}, encrypted\n  root CA      {root}\n  chain        {chain}\n  root SHA-256 {fp}\n",
        home = home.root().display(),
        name = out.team.name,
        id = out.team.team_id,
        kt = a.key_type,
        root = files.cert(ROOT).display(),
        chain = files.chain().display(),
        fp = out.root_sha256,
    );
    Ok(Report::new(
        json!({
            "home": home.root(),
            "team": out.team,
            "key_type": a.key_type.name(),
            "root_ca": { "path": files.cert(ROOT), "sha256": out.root_sha256 },
            "issuing_ca": { "path": files.cert(pushca::ca::authority::ISSUING), "sha256": out.issuing_sha256 },
            "profile_signer": { "path": files.cert(PROFILE_SIGNER), "sha256": out.signer_sha256 },
            "chain": files.chain(),
        }),
        text,
    ))
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
