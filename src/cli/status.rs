//! `status`: what expires when.

use clap::Args;
use pushca::text::count;

use super::{exit, rfc3339, CliError, Ctx, Report};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Exit code 4 when a CA certificate, push certificate, profile or the CRL
    /// expires (or is due) within DAYS
    #[arg(long, value_name = "DAYS")]
    pub expiring_within: Option<u32>,
}

pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<Report, CliError> {
    let s = super::service::service(ctx)?.status(a.expiring_within)?;
    let limit = s.window_end();
    let flag = |t: i64| match limit {
        Some(l) if t < l => "  <- expires within the window",
        _ => "",
    };
    let mut text = String::from("CA certificates:\n");
    for c in &s.ca {
        text.push_str(&format!(
            "  {:<15} {} ({} left){}\n",
            c.name,
            rfc3339(c.not_after),
            count(c.days_left, "day"),
            flag(c.not_after)
        ));
    }
    text.push_str(&format!(
        "Certificates: {} valid ({} revoked, {} expired)\n",
        s.certificates.len(),
        s.revoked,
        s.expired
    ));
    // One line per item: id, App ID, environment, expiry, days left.
    let shown = if ctx.verbose > 0 { usize::MAX } else { 10 };
    let line = |id: &str, bundle: &str, env: &str, t: i64, days: i64| {
        format!(
            "  {id} {bundle:<28} {env:<11} {} ({}){}\n",
            rfc3339(t),
            count(days, "day"),
            flag(t)
        )
    };
    for c in s.certificates.iter().take(shown) {
        // A server certificate or a device identity: no App ID, its kind.
        let (app, env) = if c.bundle_id.is_empty() {
            ("-", c.kind.as_str())
        } else {
            (c.bundle_id.as_str(), c.environment.as_str())
        };
        text.push_str(&line(&c.serial, app, env, c.not_after, c.days_left));
    }
    text.push_str(&format!("Profiles: {} current\n", s.profiles.len()));
    for p in s.profiles.iter().take(shown) {
        text.push_str(&line(
            &p.uuid,
            &p.bundle_id,
            &p.environment,
            p.expires_at,
            p.days_left,
        ));
    }
    match &s.crl {
        Some(c) => text.push_str(&format!(
            "CRL: number {}, next update {} ({}){}\n",
            c.number,
            rfc3339(c.next_update),
            count(c.days_left, "day"),
            flag(c.next_update)
        )),
        None => {
            text.push_str("CRL: none signed yet (`pushca crl` or `pushca gateway trust-store`)\n")
        }
    }
    let code = if a.expiring_within.is_some() && s.expiring > 0 {
        exit::EXPIRING
    } else {
        exit::OK
    };
    Ok(Report::of(&s, text)?.with_exit(code))
}
