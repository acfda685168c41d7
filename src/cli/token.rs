//! `token` and `audit`: the service's API tokens and its audit log.

use clap::{Args, Subcommand};
use pushca::ops::service::{self, Scope, TokenError};

use super::{rfc3339, CliError, Ctx, Report};

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Make an API token for `pushca serve` (its secret is printed once)
    Create(TokenCreateArgs),
    /// List the tokens (ids, scopes, expiry; never a secret)
    List,
    /// Revoke a token (idempotent): refused from the next call on
    Revoke(TokenRevokeArgs),
}

#[derive(Args, Debug)]
pub struct TokenCreateArgs {
    /// What the token may do: issue:BUNDLE_ID or issue:* (issue, renew, create),
    /// revoke (revoke, crl), read (list, show, export, status), trust-store,
    /// admin (tokens, audit); repeat for more
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    pub scopes: Vec<String>,
    /// Lifetime in days (at least 1)
    #[arg(long, value_name = "DAYS")]
    pub expires_in: u32,
    /// A name for people (e.g. the CI system it is for)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct TokenRevokeArgs {
    /// The token's id (from `token list` or `token create`)
    pub id: String,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only calls since DATE (2025-01-31, RFC 3339) or DURATION ago (30m, 12h, 7d)
    #[arg(long, value_name = "DATE|DURATION")]
    pub since: Option<String>,
}

impl From<TokenError> for CliError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Ops(e) => e.into(),
            e => CliError::new(e.kind().into(), e.to_string()),
        }
    }
}

pub fn token(ctx: &Ctx, c: TokenCmd) -> Result<Report, CliError> {
    let home = ctx.home()?;
    match c {
        TokenCmd::Create(a) => {
            let scopes = a
                .scopes
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::from(e).about("--scope"))?;
            let t = service::create_token(&home, &scopes, a.expires_in, a.name.as_deref())
                .map_err(|e| match e {
                    TokenError::InvalidLifetime(_) => CliError::from(e).about("--expires-in"),
                    e => e.into(),
                })?;
            let text = format!(
                "Token {} ({}), expires {}:\n{}\nThis is the only time it is shown: store it now (e.g. as a CI secret).\n",
                t.id,
                t.scopes.join(", "),
                rfc3339(t.expires_at),
                t.token.as_str()
            );
            // The token is the data asked for: printed even with -q.
            Ok(Report::of(&t, text)?.data())
        }
        TokenCmd::List => {
            let l = service::list_tokens(&home)?;
            let mut text = String::new();
            if l.tokens.is_empty() {
                text.push_str("No tokens (pushca token create --scope SCOPE --expires-in DAYS)\n");
            }
            for t in &l.tokens {
                text.push_str(&format!(
                    "{}  {:<8} expires {}  {}{}\n",
                    t.id,
                    t.state,
                    rfc3339(t.expires_at),
                    t.scopes.join(","),
                    if t.name.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", t.name)
                    }
                ));
            }
            Report::of(&l, text)
        }
        TokenCmd::Revoke(a) => {
            let r = service::revoke_token(&home, &a.id)?;
            let text = if r.changed {
                format!("Revoked token {}\n", r.id)
            } else {
                format!(
                    "Token {} was already revoked ({})\n",
                    r.id,
                    r.revoked_at.map(rfc3339).unwrap_or_default()
                )
            };
            Report::of(&r, text)
        }
    }
}

pub fn audit(ctx: &Ctx, a: AuditArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let since = a
        .since
        .as_deref()
        .map(|s| service::parse_since(s, pushca::ops::now().unix_timestamp()))
        .transpose()
        .map_err(|e| CliError::from(e).about("--since"))?;
    let l = service::audit(&home, since)?;
    let mut text = String::new();
    for e in &l.entries {
        text.push_str(&format!(
            "{}  {:<16} {:<12} {:<24} {:<14} {}\n",
            rfc3339(e.at),
            e.token_id.as_deref().unwrap_or("-"),
            e.operation,
            e.scope.as_deref().unwrap_or("-"),
            e.result,
            e.serials.join(",")
        ));
    }
    if l.entries.is_empty() {
        text.push_str("No calls recorded\n");
    }
    Report::of(&l, text)
}
