//! `team` and `app` commands.

use clap::{Args, Subcommand};
use pushca::ops;
use pushca::portal;

use super::{CliError, Ctx, Report};

#[derive(Subcommand, Debug)]
pub enum TeamCmd {
    /// Add a team
    Create(TeamCreateArgs),
    /// List teams
    List,
}

#[derive(Args, Debug)]
pub struct TeamCreateArgs {
    /// Team (organisation) name
    pub name: String,
    /// 10-character Team ID (A-Z, 0-9); generated when omitted
    #[arg(long, value_name = "ID")]
    pub team_id: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AppCmd {
    /// Register an App ID (bundle identifier)
    Create(AppCreateArgs),
    /// List App IDs
    List(AppListArgs),
    /// Show one App ID and its certificates
    Show(AppRef),
    /// Disable an App ID: no more certificates are issued for it, and its
    /// profiles leave the next trust store
    Disable(AppRef),
    /// Enable a disabled App ID again
    Enable(AppRef),
    /// Change an App ID: add or remove the push capability, rename it
    Set(AppSetArgs),
}

#[derive(Args, Debug)]
pub struct AppSetArgs {
    /// The App ID to change (its bundle ID)
    pub bundle_id: String,
    /// Enable the push notification capability
    #[arg(long, conflicts_with = "no_push")]
    pub push: bool,
    /// Remove the push notification capability
    #[arg(long)]
    pub no_push: bool,
    /// New descriptive name
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct AppCreateArgs {
    /// Reverse-DNS bundle ID (com.example.app) or a wildcard (com.example.*)
    pub bundle_id: String,
    /// Descriptive name (default: the bundle ID)
    #[arg(long)]
    pub name: Option<String>,
    /// Team ID (default: the default team)
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
    /// Enable the push notification capability
    #[arg(long)]
    pub push: bool,
}

#[derive(Args, Debug)]
pub struct AppListArgs {
    /// Only App IDs of this team
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
}

#[derive(Args, Debug)]
pub struct AppRef {
    /// The App ID (its bundle ID)
    pub bundle_id: String,
}

pub fn team(ctx: &Ctx, c: TeamCmd) -> Result<Report, CliError> {
    let home = ctx.home()?;
    match c {
        TeamCmd::Create(a) => {
            let v = ops::portal::create_team(&home, &a.name, a.team_id.as_deref())?;
            let text = format!("Created team {} ({})\n", v.team.name, v.team.team_id);
            Report::of(&v, text)
        }
        TeamCmd::List => {
            let v = ops::portal::list_teams(&home)?;
            let mut text = format!("{:<12} {:<8} {}\n", "TEAM ID", "DEFAULT", "NAME");
            for t in &v.teams {
                text.push_str(&format!(
                    "{:<12} {:<8} {}\n",
                    t.team_id,
                    if t.is_default { "yes" } else { "" },
                    t.name
                ));
            }
            Report::of(&v, text)
        }
    }
}

pub fn app(ctx: &Ctx, c: AppCmd) -> Result<Report, CliError> {
    let home = ctx.home()?;
    match c {
        AppCmd::Create(a) => {
            let new = portal::NewApp {
                bundle_id: &a.bundle_id,
                name: a.name.as_deref(),
                team_id: a.team.as_deref(),
                push: a.push,
            };
            let v = ops::portal::create_app(&home, &new)?;
            let text = format!(
                "{} App ID {} ({}), push {}\n",
                if v.created {
                    "Registered"
                } else {
                    "Already registered:"
                },
                v.app_id,
                v.app.name,
                if v.app.push { "enabled" } else { "disabled" }
            );
            Report::of(&v, text)
        }
        AppCmd::List(a) => {
            let v = ops::portal::list_apps(&home, a.team.as_deref())?;
            let mut text = format!(
                "{:<40} {:<12} {:<6} {:<8} {}\n",
                "BUNDLE ID", "TEAM", "PUSH", "ENABLED", "NAME"
            );
            for r in &v.apps {
                text.push_str(&format!(
                    "{:<40} {:<12} {:<6} {:<8} {}\n",
                    r.bundle_id,
                    r.team_id,
                    if r.push { "yes" } else { "no" },
                    if r.enabled { "yes" } else { "no" },
                    r.name
                ));
            }
            Report::of(&v, text)
        }
        AppCmd::Show(a) => {
            let v = ops::portal::show_app(&home, &a.bundle_id)?;
            let text = format!(
                "App ID:       {}\nName:         {}\nPush:         {}\nEnabled:      {}\nCertificates: {} ({} active)\n",
                v.app_id,
                v.app.name,
                if v.app.push { "enabled" } else { "disabled" },
                if v.app.enabled { "yes" } else { "no" },
                v.certificates.len(),
                v.active()
            );
            Report::of(&v, text)
        }
        AppCmd::Disable(a) => set_enabled(&home, &a.bundle_id, false),
        AppCmd::Enable(a) => set_enabled(&home, &a.bundle_id, true),
        AppCmd::Set(a) => {
            let push = match (a.push, a.no_push) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            if push.is_none() && a.name.is_none() {
                return Err(CliError::usage(
                    "nothing to change: give --push, --no-push or --name",
                ));
            }
            let v = ops::portal::set_app(&home, &a.bundle_id, push, a.name.as_deref())?;
            let text = format!(
                "App ID {}.{} ({}): push {}{}\n",
                v.app.team_id,
                v.app.bundle_id,
                v.app.name,
                if v.app.push { "enabled" } else { "disabled" },
                if v.changed { "" } else { " (unchanged)" }
            );
            Report::of(&v, text)
        }
    }
}

fn set_enabled(
    home: &pushca::home::Home,
    bundle_id: &str,
    enabled: bool,
) -> Result<Report, CliError> {
    let v = ops::portal::set_app_enabled(home, bundle_id, enabled)?;
    let word = if enabled { "enabled" } else { "disabled" };
    let text = if v.changed {
        format!("App ID {} {word}\n", v.bundle_id)
    } else {
        format!("App ID {} was already {word}\n", v.bundle_id)
    };
    Report::of(&v, text)
}

#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    /// Register a device (UDID) for a team
    Add(DeviceAddArgs),
    /// List devices
    List(DeviceListArgs),
    /// Disable a device: profiles signed from now on leave it out, and the next
    /// trust store refuses it
    Disable(DeviceRef),
    /// Enable a disabled device again
    Enable(DeviceRef),
    /// The device's TLS client identity (CN=UDID, OU=Team ID, EKU clientAuth) for
    /// the gateway's device listener: key, certificate, chain and .p12
    Identity(super::server_cert::DeviceIdentityArgs),
}

#[derive(Args, Debug)]
pub struct DeviceAddArgs {
    /// UDID: 40 hex digits, or 8 hex digits, a dash and 16 hex digits
    pub udid: String,
    /// Device name (like "Ana's iPhone")
    #[arg(long)]
    pub name: String,
    /// Team ID (default: the default team)
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeviceListArgs {
    /// Only devices of this team
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeviceRef {
    /// The device (UDID, either form)
    pub udid: String,
    /// Team ID (needed only when several teams registered the UDID)
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
}

pub fn device(ctx: &Ctx, c: DeviceCmd) -> Result<Report, CliError> {
    let home = ctx.home()?;
    match c {
        DeviceCmd::Add(a) => {
            let v = ops::portal::add_device(&home, &a.udid, &a.name, a.team.as_deref())?;
            let d = &v.device;
            let text = if v.created {
                format!(
                    "Registered device {} ({}) for team {}\n",
                    d.udid, d.name, d.team_id
                )
            } else {
                format!(
                    "Already registered: device {} ({}) for team {}{}\n",
                    d.udid,
                    d.name,
                    d.team_id,
                    if d.enabled { "" } else { " (disabled)" }
                )
            };
            Report::of(&v, text)
        }
        DeviceCmd::List(a) => {
            let v = ops::portal::list_devices(&home, a.team.as_deref())?;
            let mut text = String::new();
            if v.devices.is_empty() {
                text.push_str("No devices.\n");
            } else {
                text.push_str(&format!(
                    "{:<42} {:<12} {:<8} {}\n",
                    "UDID", "TEAM", "ENABLED", "NAME"
                ));
                for d in &v.devices {
                    text.push_str(&format!(
                        "{:<42} {:<12} {:<8} {}\n",
                        d.udid,
                        d.team_id,
                        if d.enabled { "yes" } else { "no" },
                        d.name
                    ));
                }
            }
            Report::of(&v, text)
        }
        DeviceCmd::Disable(a) => set_device(&home, a, false),
        DeviceCmd::Enable(a) => set_device(&home, a, true),
        DeviceCmd::Identity(a) => super::server_cert::device_identity(ctx, a),
    }
}

fn set_device(home: &pushca::home::Home, a: DeviceRef, enabled: bool) -> Result<Report, CliError> {
    let v = ops::portal::set_device_enabled(home, &a.udid, a.team.as_deref(), enabled)?;
    let d = &v.device;
    let word = if enabled { "enabled" } else { "disabled" };
    let text = if v.changed {
        format!("Device {} ({}) {word}\n", d.udid, d.name)
    } else {
        format!("Device {} ({}) was already {word}\n", d.udid, d.name)
    };
    let mut report = Report::of(&v, text)?;
    if v.changed && !enabled {
        report = report.warn(
            "profiles already signed still list it: run `pushca profile regenerate` to drop it",
        );
    }
    Ok(report)
}
