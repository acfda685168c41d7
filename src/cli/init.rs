//! `init` and `csr new`.

use std::path::PathBuf;

use super::secrets::SecretSource;
use clap::{Args, Subcommand};
use pushca::ca::workflow::{self, InitRequest};
use pushca::ca::{self, authority::CaFiles};
use pushca::fsutil::{AtomicBatch, MODE_PUBLIC, MODE_SECRET};
use pushca::keys::{KeyType, PrivateKey};
use pushca::pem::encode as pem_encode;
use serde_json::json;

use super::{now, secrets, CliError, Ctx, Report};

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
    #[arg(long, value_name = "TYPE", default_value = "ec-p256")]
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
    #[arg(long, value_name = "TYPE", default_value = "rsa-2048")]
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
}

pub fn init(ctx: &Ctx, a: InitArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    if home.is_initialized() {
        return Err(CliError::new(
            "conflict",
            format!(
                "{} is already a pushca home; refusing to overwrite it",
                home.root().display()
            ),
        )
        .with_hint("use another --home, or remove the directory to start over"));
    }
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), true)?;
    pushca::secret::check_ca_passphrase(&pass)
        .map_err(|e| CliError::new("password", e.to_string()))?;
    let out = workflow::init_home(
        &home,
        &InitRequest {
            team_name: &a.team_name,
            team_id: a.team_id.as_deref(),
            country: &a.country,
            key_type: a.key_type,
        },
        &pass,
        now(),
    )?;
    let files = CaFiles::new(home.ca_dir());
    let text = format!(
        "Initialised {home}\n  team         {name} ({id}), default\n  CA keys      {kt}, encrypted\n  root CA      {root}\n  chain        {chain}\n  root SHA-256 {fp}\n",
        home = home.root().display(),
        name = out.team.name,
        id = out.team.team_id,
        kt = a.key_type,
        root = files.cert(ca::authority::ROOT).display(),
        chain = files.chain().display(),
        fp = out.root_sha256,
    );
    Ok(Report::new(
        json!({
            "home": home.root(),
            "team": out.team,
            "key_type": a.key_type.name(),
            "root_ca": { "path": files.cert(ca::authority::ROOT), "sha256": out.root_sha256 },
            "issuing_ca": { "path": files.cert(ca::authority::ISSUING), "sha256": out.issuing_sha256 },
            "profile_signer": { "path": files.cert(ca::authority::PROFILE_SIGNER), "sha256": out.signer_sha256 },
            "chain": files.chain(),
        }),
        text,
    ))
}

pub fn csr(_ctx: &Ctx, c: CsrCmd) -> Result<Report, CliError> {
    let CsrCmd::New(a) = c;
    if a.key_out == a.out {
        return Err(CliError::usage(
            "--key-out and --out must be different files",
        ));
    }
    let pass = match (&a.protection.passout, a.protection.noenc) {
        (Some(src), _) => Some(secrets::read(src, "--passout")?),
        (None, _) => None,
    };
    let key = PrivateKey::generate(a.key_type)?;
    let der = ca::csr::make_csr(&key, &a.cn, a.email.as_deref())?;
    let key_pem = match &pass {
        Some(p) => zeroize::Zeroizing::new(key.to_encrypted_pkcs8_pem(p)?),
        None => key.to_pkcs8_pem(),
    };
    let mut batch = AtomicBatch::new();
    batch.add(&a.key_out, key_pem.as_bytes(), MODE_SECRET)?;
    batch.add(
        &a.out,
        pem_encode("CERTIFICATE REQUEST", &der).as_bytes(),
        MODE_PUBLIC,
    )?;
    batch.commit()?;
    Ok(Report::new(
        json!({
            "key": a.key_out, "csr": a.out, "key_type": a.key_type.name(),
            "encrypted": pass.is_some(),
        }),
        format!(
            "Wrote {} key {} ({})\nWrote CSR {}\nNext: pushca cert issue --app BUNDLE_ID --env development --csr {} --out cert.pem\n",
            a.key_type,
            a.key_out.display(),
            if pass.is_some() { "encrypted" } else { "unencrypted" },
            a.out.display(),
            a.out.display()
        ),
    ))
}
