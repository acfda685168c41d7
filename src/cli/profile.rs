//! `profile create`, `profile show`, `profile list`, `profile regenerate`,
//! `profile withdraw`, `profile export`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use pushca::ops::{self, profiles};
use pushca::store::ProfileRecord;
use pushca::x509ext::Environment;
use serde_json::json;

use super::secrets::{self, SecretSource};
use super::{exit, rfc3339, CliError, Ctx, Kind, Overwrite, Report};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileEnv {
    Development,
    Production,
}

impl From<ProfileEnv> for Environment {
    fn from(e: ProfileEnv) -> Self {
        match e {
            ProfileEnv::Development => Environment::Development,
            ProfileEnv::Production => Environment::Production,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ProfileCmd {
    /// Sign a provisioning profile for an App ID, its devices and push certificates
    Create(ProfileCreateArgs),
    /// Verify and show any provisioning profile (pushca's or Apple's)
    Show(ProfileShowArgs),
    /// List current profiles
    List(ProfileListArgs),
    /// Re-sign profiles with today's devices and certificates (new UUIDs)
    Regenerate(ProfileRegenerateArgs),
    /// Take a profile out without a replacement: it leaves the next trust store
    Withdraw(ProfileWithdrawArgs),
    /// Write a recorded profile from the store to a file
    Export(ProfileExportArgs),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("devices").required(true).args(["device", "team_devices", "all_devices"])))]
pub struct ProfileCreateArgs {
    /// Bundle ID of an explicit App ID with push enabled
    #[arg(long, value_name = "BUNDLE_ID")]
    pub app: String,
    /// The profile's aps-environment
    #[arg(long, value_enum, value_name = "ENV")]
    pub env: ProfileEnv,
    /// A registered, enabled device to provision; repeat for more
    #[arg(long, value_name = "UDID")]
    pub device: Vec<String>,
    /// Every enabled device of the App ID's team (re-read by `profile regenerate`)
    #[arg(long)]
    pub team_devices: bool,
    /// ProvisionsAllDevices (Apple allows it only for enterprise distribution)
    #[arg(long)]
    pub all_devices: bool,
    /// Serial of a push certificate to authorise; repeat for more (default: every
    /// valid, unrevoked certificate of the App ID covering the environment)
    #[arg(long, value_name = "SERIAL")]
    pub cert: Vec<String>,
    /// Profile name (default: "<App ID name> Development|Production Push")
    #[arg(long)]
    pub name: Option<String>,
    /// Lifetime in days (default: the profile template's, 12 months)
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Output file (.mobileprovision)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

#[derive(Args, Debug)]
pub struct ProfileShowArgs {
    /// A .mobileprovision file (CMS SignedData, DER)
    pub file: PathBuf,
    /// Trust these CA certificates (PEM or DER) instead of the home's root CA
    #[arg(long, value_name = "CA.pem")]
    pub ca: Option<PathBuf>,
    /// Print the signed property list as it is (like `security cms -D`)
    #[arg(long)]
    pub plist: bool,
}

#[derive(Args, Debug)]
pub struct ProfileListArgs {
    /// Only the profiles of this App ID
    #[arg(long, value_name = "BUNDLE_ID")]
    pub app: Option<String>,
    /// Only profiles expiring within DAYS; exit code 4 when there are any
    #[arg(long, value_name = "DAYS")]
    pub expiring_within: Option<u32>,
    /// Superseded and withdrawn profiles too
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct ProfileWithdrawArgs {
    /// UUID of a current profile
    pub uuid: String,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["uuid", "app", "all"])))]
pub struct ProfileRegenerateArgs {
    /// UUID of a current profile
    pub uuid: Option<String>,
    /// Every current profile of this App ID
    #[arg(long, value_name = "BUNDLE_ID")]
    pub app: Option<String>,
    /// Every current profile
    #[arg(long)]
    pub all: bool,
    /// Where the new profiles go (<UUID>.mobileprovision; created when missing)
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

#[derive(Args, Debug)]
pub struct ProfileExportArgs {
    /// UUID of a recorded profile
    pub uuid: String,
    /// Where to write the .mobileprovision (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

pub fn profile(ctx: &Ctx, c: ProfileCmd) -> Result<Report, CliError> {
    match c {
        ProfileCmd::Create(a) => create(ctx, a),
        ProfileCmd::Show(a) => show(ctx, a),
        ProfileCmd::List(a) => list(ctx, a),
        ProfileCmd::Regenerate(a) => regenerate(ctx, a),
        ProfileCmd::Withdraw(a) => withdraw(ctx, a),
        ProfileCmd::Export(a) => export(ctx, a),
    }
}

fn days_left(t: i64, now: i64) -> i64 {
    (t - now).div_euclid(86_400)
}

fn record_json(r: &ProfileRecord, now: i64) -> serde_json::Value {
    json!({
        "uuid": r.uuid, "name": r.name, "bundle_id": r.bundle_id, "team_id": r.team_id,
        "app_id": format!("{}.{}", r.team_id, r.bundle_id),
        "environment": r.environment,
        "created_at": rfc3339(r.created_at), "expires_at": rfc3339(r.expires_at),
        "days_left": days_left(r.expires_at, now), "expired": r.expires_at <= now,
        "devices_mode": r.devices_mode,
        "provisions_all_devices": r.devices_mode == "all",
        "devices": r.devices,
        "certificates_mode": r.certs_mode,
        "certificates": r.cert_serials,
        "sha256": r.sha256,
        "superseded_by": r.superseded_by,
        "withdrawn": r.withdrawn_at.is_some(),
        "withdrawn_at": r.withdrawn_at.map(rfc3339),
    })
}

fn devices_text(r: &ProfileRecord) -> String {
    match r.devices_mode.as_str() {
        "all" => "all devices (ProvisionsAllDevices)".to_string(),
        "team" => format!(
            "{} (every enabled device of team {})",
            r.devices.len(),
            r.team_id
        ),
        _ => r.devices.len().to_string(),
    }
}

fn signed_report(ctx: &Ctx, out: profiles::ProfilesOutcome, verb: &str) -> Report {
    let now = ops::now().unix_timestamp();
    let mut text = String::new();
    let mut items = Vec::new();
    for s in &out.profiles {
        let r = &s.record;
        let mut line = format!(
            "{verb} {} profile {} for {} ({} device(s), {} certificate(s), until {}) -> {}\n",
            r.environment,
            r.uuid,
            r.bundle_id,
            devices_text(r),
            r.cert_serials.len(),
            rfc3339(r.expires_at),
            s.path.display()
        );
        if let Some(old) = &s.replaces {
            line = format!("{}  (supersedes {old})\n", line.trim_end());
        }
        if out.profiles.len() <= 20 || ctx.verbose > 0 {
            text.push_str(&line);
        }
        let mut j = record_json(r, now);
        j["out"] = json!(s.path);
        j["supersedes"] = json!(s.replaces);
        items.push(j);
    }
    if out.profiles.len() > 20 && ctx.verbose == 0 {
        text.push_str(&format!("{verb} {} profiles\n", out.profiles.len()));
    }
    let skipped: Vec<_> = out
        .skipped
        .iter()
        .map(|s| {
            json!({
                "uuid": s.uuid, "bundle_id": s.bundle_id,
                "environment": s.environment.name(), "reason": s.reason,
            })
        })
        .collect();
    if out.profiles.is_empty() {
        text.push_str(&format!(
            "No profile regenerated ({} skipped)\n",
            out.skipped.len()
        ));
    }
    let mut report = Report::new(json!({ "profiles": items, "skipped": skipped }), text);
    for w in out.warnings {
        report = report.warn(w);
    }
    report
}

fn create(ctx: &Ctx, a: ProfileCreateArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let devices = if a.all_devices {
        profiles::DeviceChoice::All
    } else if a.team_devices {
        profiles::DeviceChoice::Team
    } else {
        profiles::DeviceChoice::Listed(a.device.clone())
    };
    let req = profiles::ProfileRequest {
        bundle_id: &a.app,
        environment: a.env.into(),
        devices,
        cert_serials: &a.cert,
        name: a.name.as_deref(),
        days: a.days,
        out: a.out.clone(),
        force: a.overwrite.force,
    };
    let prepared = profiles::prepare_create(&home, &req).map_err(|e| hint_for(e, &a.app))?;
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let out = prepared.sign(&pass, &mut || {})?;
    let mut report = signed_report(ctx, out, "Signed");
    // One profile: the document is the profile itself.
    if let Some(p) = report.json["profiles"].get(0).cloned() {
        report.json = json!({ "profile": p });
    }
    Ok(report)
}

/// Adds the next step to the errors a first-time user meets.
fn hint_for(e: ops::OpsError, bundle_id: &str) -> CliError {
    let hint = match &e {
        ops::OpsError::NoCertificates { environment, .. } => Some(format!(
            "issue one first: pushca cert issue --app {bundle_id} --env {} --csr FILE --out FILE",
            environment.name()
        )),
        ops::OpsError::NoDevices { team_id, .. } => Some(format!(
            "register one with `pushca device add UDID --name NAME --team {team_id}`; Apple allows \
             --all-devices only for enterprise distribution"
        )),
        _ => None,
    };
    let c = CliError::from(e);
    match hint {
        Some(h) => c.with_hint(h),
        None => c,
    }
}

fn show(ctx: &Ctx, a: ProfileShowArgs) -> Result<Report, CliError> {
    let home = ctx.home_opt();
    let shown = profiles::show(home.as_ref(), &a.file, a.ca.as_deref()).map_err(|e| {
        let no_anchor = matches!(e, ops::OpsError::NoProfileAnchors);
        let c = CliError::from(e);
        if no_anchor {
            c.with_hint("give --ca CA.pem (the CA that issued the profile's signer), or --home")
        } else {
            c
        }
    })?;
    let v = &shown.verified;
    let i = &v.info;
    let now = ops::now().unix_timestamp();
    let exp = i.expires.unix_timestamp();
    let left = days_left(exp, now);
    let certs: Vec<_> = shown
        .certificates
        .iter()
        .map(|c| {
            json!({
                "sha256": c.sha256,
                "serial": c.record.as_ref().map(|r| &r.serial),
                "environment": c.record.as_ref().map(|r| &r.environment),
                "not_after": c.record.as_ref().map(|r| rfc3339(r.not_after)),
                "revoked": c.record.as_ref().map(|r| r.revoked_at.is_some()),
            })
        })
        .collect();
    let doc = json!({
        "verified": true,
        "expired": v.expired,
        "signer": {
            "subject": v.signer_subject,
            "not_after": rfc3339(v.signer_not_after),
            "expired": v.signer_expired,
            "sha256": pushca::ca::sha256_hex(&v.signer_der),
        },
        "trust_anchors": shown.anchors_from,
        "uuid": i.uuid,
        "name": i.name,
        "app_id": i.application_identifier,
        "app_id_name": i.app_id_name,
        "bundle_id": i.bundle_id,
        "team_id": i.team_id,
        "team_name": i.team_name,
        "environment": i.aps_environment,
        "created_at": i.created.map(|c| rfc3339(c.unix_timestamp())),
        "expires_at": rfc3339(exp),
        "days_left": left,
        "devices": i.devices,
        "provisions_all_devices": i.provisions_all_devices,
        "certificates": certs,
        "developer_certificates": i.developer_certificates.iter().map(|d| pushca::ca::sha256_hex(d)).collect::<Vec<_>>(),
        "platform": i.platform,
        "sha256": v.sha256,
        "in_store": shown.record.is_some(),
        "superseded_by": shown.record.as_ref().and_then(|r| r.superseded_by.clone()),
        "plist": pushca::plist::to_json(&i.plist),
    });
    if a.plist {
        let xml = pushca::plist::to_xml(&i.plist)
            .map_err(|e| CliError::new(Kind::Input, e.to_string()))?;
        return Ok(Report::new(doc, xml).data());
    }
    let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let mut text = format!(
        "Profile:      {}\nUUID:         {}\nApp ID:       {}{}\nTeam:         {} ({})\nEnvironment:  {}\nCreated:      {}\nExpires:      {} ({})\n",
        or_dash(&i.name),
        i.uuid,
        or_dash(&i.application_identifier),
        i.app_id_name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
        or_dash(&i.team_name),
        or_dash(&i.team_id),
        i.aps_environment.as_deref().unwrap_or("none (no aps-environment: no push)"),
        i.created.map(|c| rfc3339(c.unix_timestamp())).unwrap_or_else(|| "-".into()),
        rfc3339(exp),
        if v.expired { format!("EXPIRED {} days ago", -left) } else { format!("{left} days left") },
    );
    if i.provisions_all_devices {
        text.push_str("Devices:      all (ProvisionsAllDevices)\n");
    } else {
        text.push_str(&format!("Devices:      {}\n", i.devices.len()));
        if ctx.verbose > 0 || i.devices.len() <= 10 {
            for d in &i.devices {
                text.push_str(&format!("  {d}\n"));
            }
        }
    }
    text.push_str(&format!(
        "Push certificates: {}\n",
        shown.certificates.len()
    ));
    for c in &shown.certificates {
        match &c.record {
            Some(r) => text.push_str(&format!(
                "  {}  serial {} ({}, until {}{})\n",
                c.sha256,
                r.serial,
                r.environment,
                rfc3339(r.not_after),
                if r.revoked_at.is_some() {
                    ", revoked"
                } else {
                    ""
                }
            )),
            None => text.push_str(&format!("  {}  (not in this home)\n", c.sha256)),
        }
    }
    if !i.developer_certificates.is_empty() {
        text.push_str(&format!(
            "Developer certificates: {}\n",
            i.developer_certificates.len()
        ));
    }
    text.push_str(&format!(
        "Signer:       {} (until {}{})\nVerified:     signature and chain to {}\n",
        v.signer_subject,
        rfc3339(v.signer_not_after),
        if v.signer_expired { ", EXPIRED" } else { "" },
        shown.anchors_from.display()
    ));
    if let Some(by) = shown.record.as_ref().and_then(|r| r.superseded_by.as_ref()) {
        text.push_str(&format!("Superseded:   by {by}\n"));
    }
    let mut report = Report::new(doc, text);
    if v.expired {
        report = report.warn(format!("profile {} has expired", i.uuid));
    }
    if v.signer_expired {
        report = report.warn("the profile's signer has expired since it signed the profile");
    }
    Ok(report)
}

fn list(ctx: &Ctx, a: ProfileListArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let now = ops::now().unix_timestamp();
    let rows = profiles::list(&home, a.app.as_deref(), a.expiring_within, a.all)?;
    let mut text = String::new();
    if rows.is_empty() {
        text.push_str(if a.expiring_within.is_some() {
            "No profiles expire in that window.\n"
        } else {
            "No profiles.\n"
        });
    } else {
        text.push_str(&format!(
            "{:<36} {:<28} {:<11} {:>7} {:>5} {:<20} {}\n",
            "UUID", "APP", "ENV", "DEVICES", "CERTS", "EXPIRES", "DAYS LEFT"
        ));
        for r in &rows {
            let left = days_left(r.expires_at, now);
            text.push_str(&format!(
                "{:<36} {:<28} {:<11} {:>7} {:>5} {:<20} {}{}\n",
                r.uuid,
                r.bundle_id,
                r.environment,
                if r.devices_mode == "all" {
                    "all".to_string()
                } else {
                    r.devices.len().to_string()
                },
                r.cert_serials.len(),
                rfc3339(r.expires_at),
                left,
                if r.superseded_by.is_some() {
                    " (superseded)"
                } else if r.withdrawn_at.is_some() {
                    " (withdrawn)"
                } else if left < 0 {
                    " (expired)"
                } else {
                    ""
                }
            ));
        }
    }
    let items: Vec<_> = rows.iter().map(|r| record_json(r, now)).collect();
    let code = if a.expiring_within.is_some() && !rows.is_empty() {
        exit::EXPIRING
    } else {
        exit::OK
    };
    Ok(Report::new(json!({ "profiles": items }), text).with_exit(code))
}

fn regenerate(ctx: &Ctx, a: ProfileRegenerateArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let target = match (&a.uuid, &a.app, a.all) {
        (Some(u), _, _) => profiles::RegenerateTarget::Uuid(u),
        (None, Some(b), _) => profiles::RegenerateTarget::App(b),
        _ => profiles::RegenerateTarget::All,
    };
    let prepared = profiles::prepare_regenerate(&home, target, &a.out_dir, a.overwrite.force)?;
    if let Some(out) = prepared.nothing_to_sign() {
        return Ok(signed_report(ctx, out, "Regenerated"));
    }
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let progress = super::progress(ctx, prepared.len() as u64, "signing profiles");
    let out = prepared.sign(&pass, &mut || progress.inc(1))?;
    progress.finish_and_clear();
    Ok(signed_report(ctx, out, "Regenerated"))
}

fn withdraw(ctx: &Ctx, a: ProfileWithdrawArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let w = profiles::withdraw(&home, &a.uuid)?;
    let r = &w.record;
    let now = ops::now().unix_timestamp();
    let text = if w.withdrawn {
        format!(
            "Withdrew {} profile {} for {}: the next `pushca gateway trust-store` leaves it out\n",
            r.environment, r.uuid, r.bundle_id
        )
    } else {
        format!(
            "Profile {} was already withdrawn ({})\n",
            r.uuid,
            r.withdrawn_at.map(rfc3339).unwrap_or_default()
        )
    };
    Ok(Report::new(
        json!({ "profile": record_json(r, now), "withdrawn": w.withdrawn }),
        text,
    ))
}

fn export(ctx: &Ctx, a: ProfileExportArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let rec = profiles::export(
        &home,
        &a.uuid,
        &a.out,
        &super::rules(Some(&home), a.overwrite),
    )?;
    let now = ops::now().unix_timestamp();
    let mut j = record_json(&rec, now);
    j["out"] = json!(a.out);
    Ok(Report::new(
        json!({ "profile": j }),
        format!(
            "Wrote profile {} ({} {}) to {}\n",
            rec.uuid,
            rec.bundle_id,
            rec.environment,
            a.out.display()
        ),
    ))
}
