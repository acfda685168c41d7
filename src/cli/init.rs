//! `init`.

use clap::Args;
use pushca::keys::KeyType;
use pushca::ops::{self, init::InitRequest};

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
            home: home.store_display().into(),
            found,
        }
        .into());
    }
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), true)?;
    let v = ops::init::init(
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
    let text = format!(
        "Initialised {home}\n  team         {name} ({id}), default\n  CA keys      {kt}, encrypted\n  root CA      {root}\n  chain        {chain}\n  root SHA-256 {fp}\n",
        home = v.home.display(),
        name = v.team.name,
        id = v.team.team_id,
        kt = a.key_type,
        root = v.root_ca.path.display(),
        chain = v.chain.display(),
        fp = v.root_ca.sha256,
    );
    Report::of(&v, text)
}
