//! `key` commands: APNs auth keys (`create`, `list`, `show`, `revoke`) and
//! `key decrypt` (a private-key conversion, handled in `convert`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pushca::ops::keys::{self, KeyRequest};
use pushca::ops::view::KeyView;

use super::profile::ProfileEnv;
use super::{convert, inert, not_stdout_dir, rfc3339, CliError, Ctx, Overwrite, Report};

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Create an APNs auth key (AuthKey_<KEYID>.p8) for token-based provider
    /// authentication: team-scoped, or for the App IDs given with --app
    Create(KeyCreateArgs),
    /// List auth keys (public halves only), revoked ones included
    List(KeyListArgs),
    /// Show one auth key (its public half)
    Show(KeyRef),
    /// Revoke an auth key: the next trust store refuses every token it signs
    Revoke(KeyRef),
    /// Decrypt a private key (like `openssl rsa -in key.pem -out key.unencrypted.pem`)
    Decrypt(convert::KeyDecryptArgs),
}

#[derive(Args, Debug)]
pub struct KeyCreateArgs {
    /// The one environment the key's tokens are for
    #[arg(long, value_enum)]
    pub env: ProfileEnv,
    /// An App ID (bundle ID) the key is for (repeat; at most 400); none: every
    /// App ID of the team with push
    #[arg(long = "app", value_name = "BUNDLE_ID")]
    pub apps: Vec<String>,
    /// Descriptive name (default: AuthKey_<KEYID>)
    #[arg(long)]
    pub name: Option<String>,
    /// Team ID (default: the default team)
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
    /// Directory for AuthKey_<KEYID>.p8 (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

#[derive(Args, Debug)]
pub struct KeyListArgs {
    /// Only keys of this team
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
}

#[derive(Args, Debug)]
pub struct KeyRef {
    /// The Key ID (10 characters)
    pub key_id: String,
}

pub fn key(ctx: &Ctx, cmd: KeyCmd) -> Result<Report, CliError> {
    match cmd {
        KeyCmd::Decrypt(a) => convert::key(ctx, convert::KeyCmd::Decrypt(a)),
        KeyCmd::Create(a) => create(ctx, a),
        KeyCmd::List(a) => {
            let v = keys::list_keys(&ctx.home()?, a.team.as_deref())?;
            let mut text = format!(
                "{:<11} {:<11} {:<12} {:<7} {:<8} {}\n",
                "KEY ID", "TEAM", "ENVIRONMENT", "SCOPE", "STATE", "NAME"
            );
            for k in &v.keys {
                let scope = if k.scope == "team" {
                    "team".to_string()
                } else {
                    format!(
                        "{} app{}",
                        k.apps.len(),
                        if k.apps.len() == 1 { "" } else { "s" }
                    )
                };
                text.push_str(&format!(
                    "{:<11} {:<11} {:<12} {:<7} {:<8} {}\n",
                    k.key_id,
                    k.team_id,
                    k.environment,
                    scope,
                    if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    inert(&k.name)
                ));
            }
            Report::of(&v, text)
        }
        KeyCmd::Show(a) => {
            let v = keys::show_key(&ctx.home()?, &a.key_id)?;
            Report::of(&v, describe(&v.key))
        }
        KeyCmd::Revoke(a) => {
            let v = keys::revoke_key(&ctx.home()?, &a.key_id)?;
            let text = if v.revoked {
                format!(
                    "Revoked auth key {}: the next `pushca gateway trust-store` refuses its tokens\n",
                    v.key.key_id
                )
            } else {
                format!(
                    "Auth key {} was already revoked ({})\n",
                    v.key.key_id,
                    v.key.revoked_at.map(rfc3339).unwrap_or_default()
                )
            };
            Report::of(&v, text)
        }
    }
}

fn create(ctx: &Ctx, a: KeyCreateArgs) -> Result<Report, CliError> {
    not_stdout_dir(&a.out_dir)?;
    let home = ctx.home()?;
    let req = KeyRequest {
        environment: a.env.into(),
        apps: &a.apps,
        name: a.name.as_deref(),
        team_id: a.team.as_deref(),
        out_dir: &a.out_dir,
        force: a.overwrite.force,
    };
    let v = keys::create_key(&home, &req)?;
    let k = &v.key.view;
    let text = format!(
        "{}Wrote the private key to {} (shown once: pushca keeps only the public key)\n\
         The next `pushca gateway trust-store` lets its tokens in.\n",
        describe(k),
        inert(&v.key.file.to_string_lossy())
    );
    Report::of(&v, text)
}

/// The text of one key.
fn describe(k: &KeyView) -> String {
    let scope = if k.scope == "team" {
        "team (every App ID of the team with push)".to_string()
    } else {
        format!("topics: {}", k.apps.join(", "))
    };
    format!(
        "Key ID:      {}\nName:        {}\nTeam:        {}\nEnvironment: {}\nScope:       {}\n\
         Created:     {}\nRevoked:     {}\nPublic key:  sha256 {}\n",
        k.key_id,
        inert(&k.name),
        k.team_id,
        k.environment,
        scope,
        rfc3339(k.created_at),
        k.revoked_at.map(rfc3339).unwrap_or_else(|| "no".into()),
        k.public_key_sha256
    )
}
