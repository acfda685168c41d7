//! Teams and App IDs.

use super::{now, open_store, view, Result};
use crate::home::Home;
use crate::portal::devices;
use crate::portal::{self, NewApp};
use crate::store::{AppRecord, CertFilter, DeviceRecord};

/// `team create`: the new team.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TeamCreated {
    /// The team, as recorded.
    pub team: view::Team,
}

/// Creates a team (`team_id` generated when `None`); refuses an invalid
/// name or ID, a name already used and an ID already taken.
pub fn create_team(home: &Home, name: &str, team_id: Option<&str>) -> Result<TeamCreated> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    let rec = st.write(|tx| portal::create_team(tx, name, team_id, false, t))?;
    Ok(TeamCreated {
        team: view::Team::from(&rec),
    })
}

/// `team list`: every team.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Teams {
    /// The default team first, then by creation time.
    pub teams: Vec<view::Team>,
}

/// Every team of the store.
pub fn list_teams(home: &Home) -> Result<Teams> {
    let mut st = open_store(home)?;
    let teams = st.read(|tx| tx.list_teams())?;
    Ok(Teams {
        teams: teams.iter().map(view::Team::from).collect(),
    })
}

/// `app create`: the App ID and whether this call registered it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppCreated {
    /// The App ID, as recorded.
    pub app: view::App,
    /// `TEAMID.bundle`
    pub app_id: String,
    /// False when an identical App ID was already registered.
    pub created: bool,
}

/// Registers an App ID; an identical re-run returns the existing one with
/// `created: false`.
pub fn create_app(home: &Home, new: &NewApp<'_>) -> Result<AppCreated> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    let (rec, created) = st.write(|tx| portal::ensure_app(tx, new, t))?;
    Ok(AppCreated {
        app_id: app_id(&rec),
        app: view::App::from(&rec),
        created,
    })
}

fn app_id(r: &AppRecord) -> String {
    format!("{}.{}", r.team_id, r.bundle_id)
}

/// `app list`: the App IDs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Apps {
    /// By bundle ID.
    pub apps: Vec<view::App>,
}

/// The App IDs, of one team when `team` is given (which must exist).
pub fn list_apps(home: &Home, team: Option<&str>) -> Result<Apps> {
    let mut st = open_store(home)?;
    let apps = st.read(|tx| {
        if let Some(t) = team {
            portal::resolve_team(tx, Some(t))?;
        }
        Ok::<_, portal::PortalError>(tx.list_apps(team)?)
    })?;
    Ok(Apps {
        apps: apps.iter().map(view::App::from).collect(),
    })
}

/// `app show`: an App ID and its certificates.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppShown {
    /// The App ID.
    pub app: view::App,
    /// `TEAMID.bundle`
    pub app_id: String,
    /// Its push certificates, soonest to expire first.
    pub certificates: Vec<view::Cert>,
}

impl AppShown {
    /// The certificates neither expired nor revoked.
    pub fn active(&self) -> usize {
        self.certificates
            .iter()
            .filter(|c| !c.expired && !c.revoked)
            .count()
    }
}

/// An App ID and its certificates.
pub fn show_app(home: &Home, bundle_id: &str) -> Result<AppShown> {
    let mut st = open_store(home)?;
    let (app, certs) = st.read(|tx| {
        let app = portal::get_app(tx, bundle_id)?;
        let certs = tx.list_certificates(&CertFilter {
            bundle_id: Some(&app.bundle_id),
            ..Default::default()
        })?;
        Ok::<_, portal::PortalError>((app, certs))
    })?;
    let t = now().unix_timestamp();
    Ok(AppShown {
        app_id: app_id(&app),
        app: view::App::from(&app),
        certificates: certs.iter().map(|c| view::Cert::new(c, t)).collect(),
    })
}

/// `app disable` / `app enable`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppEnabled {
    /// The App ID.
    pub bundle_id: String,
    /// Its flag now.
    pub enabled: bool,
    /// False when the App ID already was.
    pub changed: bool,
}

/// Enables or disables an App ID; says whether the flag changed. A
/// disabled App ID gets no new certificates.
pub fn set_app_enabled(home: &Home, bundle_id: &str, enabled: bool) -> Result<AppEnabled> {
    let mut st = open_store(home)?;
    Ok(st.write(|tx| {
        let app = portal::get_app(tx, bundle_id)?;
        let changed = tx.set_app_enabled(&app.bundle_id, enabled)?;
        Ok::<_, portal::PortalError>(AppEnabled {
            bundle_id: app.bundle_id,
            enabled,
            changed,
        })
    })?)
}

/// `device add`: the device and whether this call registered it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceAdded {
    /// The device, as recorded.
    pub device: view::Device,
    /// False when it was already registered.
    pub created: bool,
}

/// Registers a device; an identical re-run returns the existing one with
/// `created: false`.
pub fn add_device(home: &Home, udid: &str, name: &str, team: Option<&str>) -> Result<DeviceAdded> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    let (d, created) = st.write(|tx| devices::ensure_device(tx, udid, name, team, t))?;
    Ok(DeviceAdded {
        device: view::Device::from(&d),
        created,
    })
}

/// `device list`: the devices.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Devices {
    /// By team, then UDID.
    pub devices: Vec<view::Device>,
}

/// The devices, of one team when `team` is given (which must exist).
pub fn list_devices(home: &Home, team: Option<&str>) -> Result<Devices> {
    let mut st = open_store(home)?;
    let devices = st.read(|tx| {
        let team = match team {
            Some(t) => Some(portal::resolve_team(tx, Some(t))?.team_id),
            None => None,
        };
        Ok::<_, portal::PortalError>(tx.list_devices(team.as_deref(), false)?)
    })?;
    Ok(Devices {
        devices: devices.iter().map(view::Device::from).collect(),
    })
}

/// `device disable` / `device enable`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceEnabled {
    /// The device, as it is now.
    pub device: view::Device,
    /// False when the device already was.
    pub changed: bool,
}

/// Enables or disables a device; says whether the flag changed. A
/// disabled device drops out of profiles signed from then on.
pub fn set_device_enabled(
    home: &Home,
    udid: &str,
    team: Option<&str>,
    enabled: bool,
) -> Result<DeviceEnabled> {
    let mut st = open_store(home)?;
    Ok(st.write(|tx| {
        let d = devices::find_device(tx, udid, team)?;
        let changed = tx.set_device_enabled(&d.team_id, &d.udid, enabled)?;
        Ok::<_, portal::PortalError>(DeviceEnabled {
            device: view::Device::from(&DeviceRecord { enabled, ..d }),
            changed,
        })
    })?)
}

/// `app set`: the App ID as changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppSet {
    /// The App ID, as it is now.
    pub app: view::App,
    /// False when nothing changed.
    pub changed: bool,
}

/// Changes an App ID's push capability and/or name (like ticking Push
/// Notifications on an existing App ID); says whether it changed.
/// A wildcard App ID never gets push.
pub fn set_app(
    home: &Home,
    bundle_id: &str,
    push: Option<bool>,
    name: Option<&str>,
) -> Result<AppSet> {
    let mut st = open_store(home)?;
    let (app, changed) = st.write(|tx| {
        let app = portal::get_app(tx, bundle_id)?;
        let push = push.unwrap_or(app.push);
        if push && portal::is_wildcard(&app.bundle_id) {
            return Err(portal::PortalError::WildcardPush(app.bundle_id.clone()));
        }
        let name = match name.map(str::trim) {
            Some("") => app.bundle_id.clone(),
            Some(n) => n.to_string(),
            None => app.name.clone(),
        };
        if name.chars().any(char::is_control) || name.chars().count() > 200 {
            return Err(portal::PortalError::InvalidBundleId {
                id: app.bundle_id.clone(),
                reason: "the name must be at most 200 characters without control characters".into(),
            });
        }
        let changed = tx.update_app(&app.bundle_id, push, &name)?;
        Ok::<_, portal::PortalError>((AppRecord { push, name, ..app }, changed))
    })?;
    Ok(AppSet {
        app: view::App::from(&app),
        changed,
    })
}
