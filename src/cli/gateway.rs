//! `gateway trust-store` and `gateway check`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pushca::gateway::Decision;
use pushca::ops::gateway as gw;
use pushca::text::count;

use super::profile::ProfileEnv;
use super::secrets::SecretSource;
use super::{exit, CliError, Ctx, Overwrite, Report};

#[derive(Subcommand, Debug)]
pub enum GatewayCmd {
    /// Write the trust store a gateway loads (CA, CRLs, profiles, signed policy)
    TrustStore(TrustStoreArgs),
    /// Decide a push (or, with --register, a device registration) as the gateway would
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct TrustStoreArgs {
    /// The trust store directory (replaced whole, atomically; a symlink to
    /// it is swapped to a new version beside it)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Accepted for symmetry: an existing trust store is always replaced,
    /// and a directory holding anything else is always refused
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// A trust store directory written by `pushca gateway trust-store`
    #[arg(long, value_name = "DIR")]
    pub trust_store: PathBuf,
    /// The root CA certificate to verify it against (pinned: never taken
    /// from the directory); default: the home's root
    #[arg(long, value_name = "ROOT.pem")]
    pub anchor: Option<PathBuf>,
    /// The provider's certificate: a certificate, a chain or a ck.pem
    #[arg(long, value_name = "FILE", required_unless_present_any = ["register", "token"])]
    pub cert: Option<PathBuf>,
    /// The provider's token instead (token-based authentication): a file, or
    /// `-` for standard input, holding the JWT signed with an auth key, as
    /// sent in `authorization: bearer` (surrounding whitespace and a `bearer `
    /// prefix are ignored)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "register"])]
    pub token: Option<PathBuf>,
    /// The push topic (bundle ID, or <id>.voip / <id>.complication)
    #[arg(long, value_name = "TOPIC", required_unless_present = "register")]
    pub topic: Option<String>,
    /// The push environment (APNs sandbox = development)
    #[arg(long, value_enum, value_name = "ENV")]
    pub env: ProfileEnv,
    /// The device the push is for (required with --register)
    #[arg(long, value_name = "UDID", required_if_eq("register", "true"))]
    pub device: Option<String>,
    /// Check a device registering for pushes of this bundle ID instead
    #[arg(long, value_name = "BUNDLE_ID", conflicts_with_all = ["cert", "topic"])]
    pub register: Option<String>,
    /// Also verify every profile's own CMS signature (an audit; the signed
    /// policy.json already covers each profile's SHA-256)
    #[arg(long)]
    pub verify_signatures: bool,
}

pub fn gateway(ctx: &Ctx, c: GatewayCmd) -> Result<Report, CliError> {
    match c {
        GatewayCmd::TrustStore(a) => trust_store(ctx, a),
        GatewayCmd::Check(a) => check(ctx, a),
    }
}

fn trust_store(ctx: &Ctx, a: TrustStoreArgs) -> Result<Report, CliError> {
    let out = super::service::service(ctx)?.trust_store(&a.out, a.ca_passin.as_ref())?;
    let text = if out.changed {
        format!(
            "Wrote trust store {} ({} for {}, {} revoked; CRL {} until {})\n",
            out.out.display(),
            count(out.profiles, "profile"),
            count(out.apps, "App ID"),
            out.revoked,
            out.crl_number.unwrap_or_default(),
            out.crl_next_update.clone().unwrap_or_default()
        )
    } else {
        format!(
            "Trust store {} is up to date (nothing changed since {}); nothing written\n",
            out.out.display(),
            out.generated_at
        )
    };
    Report::of(&out, text)
}

fn check(ctx: &Ctx, a: CheckArgs) -> Result<Report, CliError> {
    let env = pushca::x509ext::Environment::from(a.env);
    let options = pushca::gateway::LoadOptions {
        verify_profile_signatures: a.verify_signatures,
        ..Default::default()
    };
    if a.anchor.as_deref().is_some_and(super::is_stdio)
        && a.cert.as_deref().is_some_and(super::is_stdio)
    {
        return Err(CliError::usage(
            "the anchor and the certificate cannot both be - (standard input)",
        ));
    }
    if a.anchor.as_deref().is_some_and(super::is_stdio)
        && a.token.as_deref().is_some_and(super::is_stdio)
    {
        return Err(CliError::usage(
            "the anchor and the token cannot both be - (standard input)",
        ));
    }
    let anchor = a.anchor.as_deref().map(super::source).transpose()?;
    let anchor = gw::check_anchor(anchor.as_ref(), ctx.home_opt().as_ref())?;
    if let Some(bundle) = &a.register {
        let udid = a.device.clone().unwrap_or_default();
        let v = gw::check_registration(&a.trust_store, &anchor, options, bundle, env, &udid)?;
        let what = format!("registration of {udid} for {bundle} ({})", env.name());
        return decision_report(&v, &v.decision, &what, None);
    }
    if let Some(token) = &a.token {
        let Some(topic) = &a.topic else {
            return Err(CliError::usage("give --topic TOPIC with --token"));
        };
        let token = super::source(token)?;
        let out = gw::check_token(
            &a.trust_store,
            &anchor,
            options,
            &token,
            topic,
            env,
            a.device.as_deref(),
        )?;
        let what = push_what(topic, env, a.device.as_deref());
        return decision_report(&out, &out.decision, &what, out.detail.as_deref());
    }
    let (Some(cert), Some(topic)) = (&a.cert, &a.topic) else {
        return Err(CliError::usage(
            "give --cert FILE and --topic TOPIC (or --register BUNDLE_ID)",
        ));
    };
    let cert = super::source(cert)?;
    let out = gw::check(
        &a.trust_store,
        &anchor,
        options,
        &cert,
        topic,
        env,
        a.device.as_deref(),
    )?;
    let what = push_what(topic, env, a.device.as_deref());
    decision_report(&out, &out.decision, &what, out.detail.as_deref())
}

/// `push to TOPIC (ENV)[ device UDID]`: what a decision is about.
fn push_what(topic: &str, env: pushca::x509ext::Environment, device: Option<&str>) -> String {
    format!(
        "push to {topic} ({}){}",
        env.name(),
        device.map(|d| format!(" device {d}")).unwrap_or_default()
    )
}

/// The report of a decision: exit 0 for allow, 3 for deny.
fn decision_report<V: serde::Serialize>(
    view: &V,
    d: &Decision,
    what: &str,
    detail: Option<&str>,
) -> Result<Report, CliError> {
    let (text, code) = match d {
        Decision::Allow => (format!("allow: {what}\n"), exit::OK),
        Decision::Deny(r) => (
            format!(
                "deny: {what}: {}{}\n",
                r.name(),
                detail.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
            exit::DENIED,
        ),
    };
    Ok(Report::of(view, text)?.with_exit(code))
}
