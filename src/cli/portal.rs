//! `team` and `app` commands.

use clap::{Args, Subcommand};
use pushca::ca::workflow;
use pushca::portal;
use pushca::store;
use serde_json::json;
use time::OffsetDateTime;

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
    /// Disable an App ID: no more certificates are issued for it
    Disable(AppRef),
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
    pub bundle_id: String,
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn team(ctx: &Ctx, c: TeamCmd) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let mut st = workflow::open_store(&home)?;
    match c {
        TeamCmd::Create(a) => {
            let t = st
                .write(|tx| portal::create_team(tx, &a.name, a.team_id.as_deref(), false, now()))?;
            Ok(Report::new(
                json!({ "team": t }),
                format!("Created team {} ({})\n", t.name, t.team_id),
            ))
        }
        TeamCmd::List => {
            let teams = st.read(|tx| store::list_teams(tx))?;
            let mut text = format!("{:<12} {:<8} {}\n", "TEAM ID", "DEFAULT", "NAME");
            for t in &teams {
                text.push_str(&format!(
                    "{:<12} {:<8} {}\n",
                    t.team_id,
                    if t.is_default { "yes" } else { "" },
                    t.name
                ));
            }
            Ok(Report::new(json!({ "teams": teams }), text))
        }
    }
}

pub fn app(ctx: &Ctx, c: AppCmd) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let mut st = workflow::open_store(&home)?;
    match c {
        AppCmd::Create(a) => {
            let (rec, created) = st.write(|tx| {
                let new = portal::NewApp {
                    bundle_id: &a.bundle_id,
                    name: a.name.as_deref(),
                    team_id: a.team.as_deref(),
                    push: a.push,
                };
                portal::ensure_app(tx, &new, now())
            })?;
            let app_id = format!("{}.{}", rec.team_id, rec.bundle_id);
            let text = format!(
                "{} App ID {app_id} ({}), push {}\n",
                if created {
                    "Registered"
                } else {
                    "Already registered:"
                },
                rec.name,
                if rec.push { "enabled" } else { "disabled" }
            );
            Ok(Report::new(
                json!({ "app": rec, "app_id": app_id, "created": created }),
                text,
            ))
        }
        AppCmd::List(a) => {
            let apps = st.read(|tx| {
                if let Some(t) = &a.team {
                    portal::resolve_team(tx, Some(t))?;
                }
                Ok::<_, portal::PortalError>(store::list_apps(tx, a.team.as_deref())?)
            })?;
            let mut text = format!(
                "{:<40} {:<12} {:<6} {:<8} {}\n",
                "BUNDLE ID", "TEAM", "PUSH", "ENABLED", "NAME"
            );
            for r in &apps {
                text.push_str(&format!(
                    "{:<40} {:<12} {:<6} {:<8} {}\n",
                    r.bundle_id,
                    r.team_id,
                    if r.push { "yes" } else { "no" },
                    if r.enabled { "yes" } else { "no" },
                    r.name
                ));
            }
            Ok(Report::new(json!({ "apps": apps }), text))
        }
        AppCmd::Show(a) => {
            let (app, certs) = st.read(|tx| {
                let app = portal::get_app(tx, &a.bundle_id)?;
                let certs = store::list_certificates(
                    tx,
                    &store::CertFilter {
                        bundle_id: Some(&app.bundle_id),
                        ..Default::default()
                    },
                )?;
                Ok::<_, portal::PortalError>((app, certs))
            })?;
            let now = now();
            let active = certs
                .iter()
                .filter(|c| c.not_after > now && c.revoked_at.is_none())
                .count();
            let text = format!(
                "App ID:       {}.{}\nName:         {}\nPush:         {}\nEnabled:      {}\nCertificates: {} ({} active)\n",
                app.team_id,
                app.bundle_id,
                app.name,
                if app.push { "enabled" } else { "disabled" },
                if app.enabled { "yes" } else { "no" },
                certs.len(),
                active
            );
            let serials: Vec<_> = certs
                .iter()
                .map(|c| json!({ "serial": c.serial, "environment": c.environment, "not_after": c.not_after }))
                .collect();
            Ok(Report::new(
                json!({ "app": app, "app_id": format!("{}.{}", app.team_id, app.bundle_id), "certificates": serials }),
                text,
            ))
        }
        AppCmd::Disable(a) => {
            let (app, changed) = st.write(|tx| {
                let app = portal::get_app(tx, &a.bundle_id)?;
                let changed = store::set_app_enabled(tx, &app.bundle_id, false)?;
                Ok::<_, portal::PortalError>((app, changed))
            })?;
            Ok(Report::new(
                json!({ "bundle_id": app.bundle_id, "enabled": false, "changed": changed }),
                if changed {
                    format!("Disabled App ID {}\n", app.bundle_id)
                } else {
                    format!("App ID {} was already disabled\n", app.bundle_id)
                },
            ))
        }
    }
}
