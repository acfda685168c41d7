//! `init`.

use clap::Args;
use pushca::ca::authority::{PROFILE_SIGNER, ROOT};
use pushca::keys::KeyType;
use pushca::ops::{self, init::InitRequest};
use serde_json::json;

use super::secrets::{self, SecretSource};
use super::{CliError, Ctx, Report};

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
