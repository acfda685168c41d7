//! `status`: what expires when.

use clap::Args;
use pushca::ops;
use serde_json::json;

use super::{exit, rfc3339, CliError, Ctx, Report};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Exit code 4 when a CA certificate, push certificate, profile or the CRL
    /// expires (or is due) within DAYS
    #[arg(long, value_name = "DAYS")]
    pub expiring_within: Option<u32>,
}

pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let s = ops::status::status(&home, a.expiring_within)?;
    let days = |t: i64| (t - s.now).div_euclid(86_400);
    let limit = a.expiring_within.map(|d| s.now + i64::from(d) * 86_400);
    let flag = |t: i64| match limit {
        Some(l) if t < l => "  <- expires within the window",
        _ => "",
    };
    let mut text = String::from("CA certificates:\n");
    for c in &s.ca {
        text.push_str(&format!(
            "  {:<15} {} ({} days left){}\n",
            c.name,
            rfc3339(c.not_after),
            days(c.not_after),
            flag(c.not_after)
        ));
    }
    text.push_str(&format!(
        "Push certificates: {} valid ({} revoked, {} expired)\n",
        s.certificates.len(),
        s.revoked,
        s.expired
    ));
    // One line per item: id, App ID, environment, expiry, days left.
    let shown = if ctx.verbose > 0 { usize::MAX } else { 10 };
    let line = |id: &str, bundle: &str, env: &str, t: i64| {
        format!(
            "  {id} {bundle:<28} {env:<11} {} ({} days){}\n",
            rfc3339(t),
            days(t),
            flag(t)
        )
    };
    for c in s.certificates.iter().take(shown) {
        text.push_str(&line(&c.serial, &c.bundle_id, &c.environment, c.not_after));
    }
    text.push_str(&format!("Profiles: {} current\n", s.profiles.len()));
    for p in s.profiles.iter().take(shown) {
        text.push_str(&line(&p.uuid, &p.bundle_id, &p.environment, p.expires_at));
    }
    match &s.crl {
        Some(c) => text.push_str(&format!(
            "CRL: number {}, next update {} ({} days){}\n",
            c.number,
            rfc3339(c.next_update),
            days(c.next_update),
            flag(c.next_update)
        )),
        None => {
            text.push_str("CRL: none signed yet (`pushca crl` or `pushca gateway trust-store`)\n")
        }
    }
    let item =
        |name: &str, t: i64| json!({ "name": name, "not_after": rfc3339(t), "days_left": days(t) });
    let doc = json!({
        "ca": s.ca.iter().map(|c| { let mut j = item(c.name, c.not_after); j["subject"] = json!(c.subject); j }).collect::<Vec<_>>(),
        "certificates": s.certificates.iter().map(|c| json!({
            "serial": c.serial, "bundle_id": c.bundle_id, "environment": c.environment,
            "not_after": rfc3339(c.not_after), "days_left": days(c.not_after) })).collect::<Vec<_>>(),
        "revoked": s.revoked, "expired": s.expired,
        "profiles": s.profiles.iter().map(|p| json!({
            "uuid": p.uuid, "bundle_id": p.bundle_id, "environment": p.environment,
            "expires_at": rfc3339(p.expires_at), "days_left": days(p.expires_at) })).collect::<Vec<_>>(),
        "crl": s.crl.as_ref().map(|c| json!({ "number": c.number, "next_update": rfc3339(c.next_update), "days_left": days(c.next_update) })),
        "expiring_within": a.expiring_within, "expiring": s.expiring,
    });
    let code = if a.expiring_within.is_some() && s.expiring > 0 {
        exit::EXPIRING
    } else {
        exit::OK
    };
    Ok(Report::new(doc, text).with_exit(code))
}
