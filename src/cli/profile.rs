//! `profile create`, `profile show`, `profile list`, `profile regenerate`,
//! `profile withdraw`, `profile export`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use pushca::ops::{self, profiles};
use pushca::text::count;
use pushca::x509ext::Environment;

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
    /// Output file (.mobileprovision; - for stdout)
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
    /// A .mobileprovision file (CMS SignedData, DER; - for stdin)
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

fn devices_text(p: &ops::view::Profile) -> String {
    match p.devices_mode.as_str() {
        "all" => "all devices (ProvisionsAllDevices)".to_string(),
        "team" => format!(
            "{} (every enabled device of team {})",
            count(p.devices.len(), "device"),
            p.team_id
        ),
        _ => count(p.devices.len(), "device"),
    }
}

/// One line per profile signed (a count when there are many).
fn signed_text(ctx: &Ctx, signed: &[profiles::Signed], verb: &str) -> String {
    let mut text = String::new();
    for s in signed {
        let p = &s.profile;
        let mut line = format!(
            "{verb} {} profile {} for {} ({}, {}, until {}) -> {}\n",
            p.environment,
            p.uuid,
            p.bundle_id,
            devices_text(p),
            count(p.certificates.len(), "certificate"),
            rfc3339(p.expires_at),
            s.path.name().display()
        );
        if let Some(old) = &s.replaces {
            line = format!("{}  (supersedes {old})\n", line.trim_end());
        }
        if signed.len() <= 20 || ctx.verbose > 0 {
            text.push_str(&line);
        }
    }
    if signed.len() > 20 && ctx.verbose == 0 {
        text.push_str(&format!("{verb} {} profiles\n", signed.len()));
    }
    text
}

fn regenerated_report(ctx: &Ctx, out: profiles::ProfilesOutcome) -> Result<Report, CliError> {
    let mut text = signed_text(ctx, &out.profiles, "Regenerated");
    if out.profiles.is_empty() {
        text.push_str(&format!(
            "No profile regenerated ({} skipped)\n",
            out.skipped.len()
        ));
    }
    let mut report = Report::of(&out, text)?;
    for w in out.warnings {
        report = report.warn(w);
    }
    Ok(report)
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
        out: super::sink(&a.out),
        force: a.overwrite.force,
    };
    let prepared = profiles::prepare_create(&home, &req).map_err(|e| hint_for(e, &a.app))?;
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let v = prepared
        .sign(&pass, &mut || {})?
        .into_created()
        .ok_or_else(|| CliError::internal("no profile was signed"))?;
    let text = signed_text(ctx, std::slice::from_ref(&v.profile), "Signed");
    let mut report = Report::of(&v, text)?.with_stdout(v.returned.clone());
    for w in v.warnings {
        report = report.warn(w);
    }
    Ok(report)
}

/// Adds the next step to the errors a first-time user meets.
fn hint_for(e: ops::OpsError, bundle_id: &str) -> CliError {
    let hint = match &e {
        ops::OpsError::NoCertificates { environment, .. } => Some(format!(
            "issue one first: pushca cert issue --app {bundle_id} --env {} --csr FILE --out FILE \
             (or, for providers that sign tokens, create an auth key: pushca key create --env {} \
             --app {bundle_id} --out-dir DIR)",
            environment.name(),
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
    if super::is_stdio(&a.file) && a.ca.as_deref().is_some_and(super::is_stdio) {
        return Err(CliError::usage(
            "the profile and the CA certificates cannot both be - (standard input)",
        ));
    }
    let file = super::source(&a.file)?;
    let ca = a.ca.as_deref().map(super::source).transpose()?;
    let v = profiles::show(home.as_ref(), &file, ca.as_ref()).map_err(|e| {
        let no_anchor = matches!(e, ops::OpsError::NoProfileAnchors);
        let c = CliError::from(e);
        if no_anchor {
            c.with_hint("give --ca CA.pem (the CA that issued the profile's signer), or --home")
        } else {
            c
        }
    })?;
    if a.plist {
        let xml = pushca::plist::to_xml(&v.plist_value)
            .map_err(|e| CliError::new(Kind::Input, e.to_string()))?;
        return Ok(Report::of(&v, xml)?.data());
    }
    let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let left = v.days_left;
    let mut text = format!(
        "Profile:      {}\nUUID:         {}\nApp ID:       {}{}\nTeam:         {} ({})\nEnvironment:  {}\nCreated:      {}\nExpires:      {} ({})\n",
        or_dash(&v.name),
        v.uuid,
        or_dash(&v.app_id),
        v.app_id_name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
        or_dash(&v.team_name),
        or_dash(&v.team_id),
        v.environment.as_deref().unwrap_or("none (no aps-environment: no push)"),
        v.created_at.map(rfc3339).unwrap_or_else(|| "-".into()),
        rfc3339(v.expires_at),
        if v.expired { format!("EXPIRED {} ago", count(-left, "day")) } else { format!("{} left", count(left, "day")) },
    );
    if v.provisions_all_devices {
        text.push_str("Devices:      all (ProvisionsAllDevices)\n");
    } else {
        text.push_str(&format!("Devices:      {}\n", v.devices.len()));
        if ctx.verbose > 0 || v.devices.len() <= 10 {
            for d in &v.devices {
                text.push_str(&format!("  {d}\n"));
            }
        }
    }
    text.push_str(&format!("Push certificates: {}\n", v.certificates.len()));
    for c in &v.certificates {
        match (&c.serial, &c.environment, c.not_after) {
            (Some(serial), Some(environment), Some(not_after)) => text.push_str(&format!(
                "  {}  serial {serial} ({environment}, until {}{})\n",
                c.sha256,
                rfc3339(not_after),
                if c.revoked == Some(true) {
                    ", revoked"
                } else {
                    ""
                }
            )),
            _ => text.push_str(&format!("  {}  (not in this home)\n", c.sha256)),
        }
    }
    if !v.developer_certificates.is_empty() {
        text.push_str(&format!(
            "Developer certificates: {}\n",
            v.developer_certificates.len()
        ));
    }
    text.push_str(&format!(
        "Signer:       {} (until {}{})\nVerified:     signature and chain to {}\n",
        v.signer.subject,
        rfc3339(v.signer.not_after),
        if v.signer.expired { ", EXPIRED" } else { "" },
        v.trust_anchors.display()
    ));
    if let Some(by) = &v.superseded_by {
        text.push_str(&format!("Superseded:   by {by}\n"));
    }
    let mut report = Report::of(&v, text)?;
    if v.expired {
        report = report.warn(format!("profile {} has expired", v.uuid));
    }
    if v.signer.expired {
        report = report.warn("the profile's signer has expired since it signed the profile");
    }
    Ok(report)
}

fn list(ctx: &Ctx, a: ProfileListArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let v = profiles::list(&home, a.app.as_deref(), a.expiring_within, a.all)?;
    let rows = &v.profiles;
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
        for r in rows {
            let left = r.days_left;
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
                r.certificates.len(),
                rfc3339(r.expires_at),
                left,
                if r.superseded_by.is_some() {
                    " (superseded)"
                } else if r.withdrawn {
                    " (withdrawn)"
                } else if left < 0 {
                    " (expired)"
                } else {
                    ""
                }
            ));
        }
    }
    let code = if a.expiring_within.is_some() && !rows.is_empty() {
        exit::EXPIRING
    } else {
        exit::OK
    };
    Ok(Report::of(&v, text)?.with_exit(code))
}

fn regenerate(ctx: &Ctx, a: ProfileRegenerateArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let target = match (&a.uuid, &a.app, a.all) {
        (Some(u), _, _) => profiles::RegenerateTarget::Uuid(u),
        (None, Some(b), _) => profiles::RegenerateTarget::App(b),
        _ => profiles::RegenerateTarget::All,
    };
    super::not_stdout_dir(&a.out_dir)?;
    let prepared = profiles::prepare_regenerate(&home, target, &a.out_dir, a.overwrite.force)?;
    if let Some(out) = prepared.nothing_to_sign() {
        return regenerated_report(ctx, out);
    }
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let progress = super::progress(ctx, prepared.len() as u64, "signing profiles");
    let out = prepared.sign(&pass, &mut || progress.inc(1))?;
    progress.finish_and_clear();
    regenerated_report(ctx, out)
}

fn withdraw(ctx: &Ctx, a: ProfileWithdrawArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let w = profiles::withdraw(&home, &a.uuid)?;
    let r = &w.profile;
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
    Report::of(&w, text)
}

fn export(ctx: &Ctx, a: ProfileExportArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let v = profiles::export(
        &home,
        &a.uuid,
        &super::sink(&a.out),
        &super::rules(Some(&home), a.overwrite),
    )?;
    let rec = &v.profile.profile;
    let text = format!(
        "Wrote profile {} ({} {}) to {}\n",
        rec.uuid,
        rec.bundle_id,
        rec.environment,
        a.out.display()
    );
    Ok(Report::of(&v, text)?.with_stdout(v.returned.clone()))
}
