//! Teams and App IDs.

use super::{now, open_store, view, Result};
use crate::home::Home;
use crate::portal::devices;
use crate::portal::{self, NewApp};
use crate::store::{AppRecord, CertFilter, CertRecord, DeviceRecord};

/// `team create`: the new team.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TeamCreated {
    pub team: view::Team,
}

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
    pub teams: Vec<view::Team>,
}

pub fn list_teams(home: &Home) -> Result<Teams> {
    let mut st = open_store(home)?;
    let teams = st.read(|tx| tx.list_teams())?;
    Ok(Teams {
        teams: teams.iter().map(view::Team::from).collect(),
    })
}

/// Registers an App ID; an identical re-run returns the existing one with `false`.
pub fn create_app(home: &Home, new: &NewApp<'_>) -> Result<(AppRecord, bool)> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    Ok(st.write(|tx| portal::ensure_app(tx, new, t))?)
}

pub fn list_apps(home: &Home, team: Option<&str>) -> Result<Vec<AppRecord>> {
    let mut st = open_store(home)?;
    Ok(st.read(|tx| {
        if let Some(t) = team {
            portal::resolve_team(tx, Some(t))?;
        }
        Ok::<_, portal::PortalError>(tx.list_apps(team)?)
    })?)
}

/// An App ID and its certificates.
pub fn show_app(home: &Home, bundle_id: &str) -> Result<(AppRecord, Vec<CertRecord>)> {
    let mut st = open_store(home)?;
    Ok(st.read(|tx| {
        let app = portal::get_app(tx, bundle_id)?;
        let certs = tx.list_certificates(&CertFilter {
            bundle_id: Some(&app.bundle_id),
            ..Default::default()
        })?;
        Ok::<_, portal::PortalError>((app, certs))
    })?)
}

/// Enables or disables an App ID; returns it and whether the flag changed. A
/// disabled App ID gets no new certificates.
pub fn set_app_enabled(home: &Home, bundle_id: &str, enabled: bool) -> Result<(AppRecord, bool)> {
    let mut st = open_store(home)?;
    Ok(st.write(|tx| {
        let app = portal::get_app(tx, bundle_id)?;
        let changed = tx.set_app_enabled(&app.bundle_id, enabled)?;
        Ok::<_, portal::PortalError>((AppRecord { enabled, ..app }, changed))
    })?)
}

/// Registers a device; an identical re-run returns the existing one with `false`.
pub fn add_device(
    home: &Home,
    udid: &str,
    name: &str,
    team: Option<&str>,
) -> Result<(DeviceRecord, bool)> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    Ok(st.write(|tx| devices::ensure_device(tx, udid, name, team, t))?)
}

pub fn list_devices(home: &Home, team: Option<&str>) -> Result<Vec<DeviceRecord>> {
    let mut st = open_store(home)?;
    Ok(st.read(|tx| {
        let team = match team {
            Some(t) => Some(portal::resolve_team(tx, Some(t))?.team_id),
            None => None,
        };
        Ok::<_, portal::PortalError>(tx.list_devices(team.as_deref(), false)?)
    })?)
}

/// Enables or disables a device; returns it and whether the flag changed. A
/// disabled device drops out of profiles signed from then on.
pub fn set_device_enabled(
    home: &Home,
    udid: &str,
    team: Option<&str>,
    enabled: bool,
) -> Result<(DeviceRecord, bool)> {
    let mut st = open_store(home)?;
    Ok(st.write(|tx| {
        let d = devices::find_device(tx, udid, team)?;
        let changed = tx.set_device_enabled(&d.team_id, &d.udid, enabled)?;
        Ok::<_, portal::PortalError>((DeviceRecord { enabled, ..d }, changed))
    })?)
}

/// Changes an App ID's push capability and/or name (like ticking Push
/// Notifications on an existing App ID); returns it and whether it changed.
/// A wildcard App ID never gets push.
pub fn set_app(
    home: &Home,
    bundle_id: &str,
    push: Option<bool>,
    name: Option<&str>,
) -> Result<(AppRecord, bool)> {
    let mut st = open_store(home)?;
    Ok(st.write(|tx| {
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
    })?)
}
