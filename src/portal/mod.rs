//! The developer-portal side: teams, App IDs, devices and provisioning
//! profiles, with Apple's identifier rules.
//!
//! - Team ID: 10 characters, uppercase A–Z and 0–9; generated when not given.
//! - Bundle ID: reverse-DNS labels of `[A-Za-z0-9-]` joined by dots, at most 155
//!   characters, or a wildcard ending in `.*` (or `*` alone). Wildcard App IDs can
//!   never have the push capability.

use rand::Rng;

pub mod devices;
pub mod profile;

use crate::store::{AppRecord, StoreError, TeamRecord, Tx};

/// A team, App ID or device rule broken, or one not found.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// Not 10 characters of A-Z and 0-9.
    #[error("invalid Team ID '{0}': expected 10 characters A-Z and 0-9")]
    InvalidTeamId(String),
    /// Empty, longer than 64 characters or with control characters (says which).
    #[error("invalid team name: {0}")]
    InvalidTeamName(String),
    /// Not a bundle ID (see the module docs).
    #[error("invalid bundle ID '{id}': {reason}")]
    InvalidBundleId {
        /// The bundle ID given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Push asked for on a wildcard App ID (this bundle ID).
    #[error("a wildcard App ID ({0}) cannot have the push capability")]
    WildcardPush(String),
    /// No team with this Team ID.
    #[error("no team {0}")]
    UnknownTeam(String),
    /// Another team has this name (letter case ignored).
    #[error("a team named '{name}' exists already (Team ID {team_id})")]
    DuplicateTeamName {
        /// The existing team's name.
        name: String,
        /// Its Team ID.
        team_id: String,
    },
    /// No App ID with this bundle ID.
    #[error("no App ID {0}")]
    UnknownApp(String),
    /// Not a UDID.
    #[error("invalid UDID '{udid}': {reason}")]
    InvalidUdid {
        /// The UDID given.
        udid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Empty, longer than 100 characters or with control characters (says
    /// which).
    #[error("invalid device name: {0}")]
    InvalidDeviceName(String),
    /// The device is registered for the team under another name.
    #[error("device {udid} is already registered for team {team_id} as '{existing}'")]
    DeviceConflict {
        /// The device.
        udid: String,
        /// The team.
        team_id: String,
        /// The name it is registered under.
        existing: String,
    },
    /// No such device (in the team, when one was given).
    #[error("no device {udid}{}", team_id.as_ref().map(|t| format!(" in team {t}")).unwrap_or_default())]
    UnknownDevice {
        /// The UDID asked for.
        udid: String,
        /// The team searched, if one was given.
        team_id: Option<String>,
    },
    /// The device is in several teams and no team was given.
    #[error("device {udid} is registered in several teams ({})", teams.join(", "))]
    DeviceInSeveralTeams {
        /// The device.
        udid: String,
        /// The Team IDs it is registered for.
        teams: Vec<String>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PortalError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            PortalError::Store(s) => s.kind(),
            PortalError::UnknownApp(_)
            | PortalError::UnknownTeam(_)
            | PortalError::UnknownDevice { .. } => ErrorKind::NotFound,
            PortalError::WildcardPush(_) => ErrorKind::Policy,
            // The caller must say which team.
            PortalError::DeviceInSeveralTeams { .. } => ErrorKind::Usage,
            PortalError::DeviceConflict { .. } | PortalError::DuplicateTeamName { .. } => {
                ErrorKind::Conflict
            }
            PortalError::InvalidUdid { .. }
            | PortalError::InvalidDeviceName(_)
            | PortalError::InvalidTeamId(_)
            | PortalError::InvalidTeamName(_)
            | PortalError::InvalidBundleId { .. } => ErrorKind::Input,
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, PortalError>;

pub(crate) const TEAM_ID_LEN: usize = 10;
pub(crate) const MAX_BUNDLE_ID_LEN: usize = 155;

pub(crate) fn validate_team_id(id: &str) -> Result<()> {
    if id.len() == TEAM_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(PortalError::InvalidTeamId(id.to_string()))
    }
}

/// A random Team ID from the OS CSPRNG.
pub(crate) fn generate_team_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..TEAM_ID_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Checks a team name: not blank, at most 64 characters (trimmed; the X.509
/// O limit), no control characters.
pub fn validate_team_name(name: &str) -> Result<()> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(PortalError::InvalidTeamName("it is empty".into()));
    }
    if trimmed.chars().count() > 64 {
        return Err(PortalError::InvalidTeamName(
            "it is longer than 64 characters (the X.509 O limit)".into(),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(PortalError::InvalidTeamName(
            "it contains control characters".into(),
        ));
    }
    Ok(())
}

pub use crate::profile::is_wildcard;

/// Checks a bundle ID against Apple's rules (see the module docs).
pub fn validate_bundle_id(id: &str) -> Result<()> {
    let bad = |reason: &str| PortalError::InvalidBundleId {
        id: id.to_string(),
        reason: reason.into(),
    };
    if id.is_empty() {
        return Err(bad("it is empty"));
    }
    if id.len() > MAX_BUNDLE_ID_LEN {
        return Err(bad(&format!("longer than {MAX_BUNDLE_ID_LEN} characters")));
    }
    if id == "*" {
        return Ok(());
    }
    let body = id.strip_suffix(".*").unwrap_or(id);
    if body.contains('/') || body.contains('\\') {
        return Err(bad(
            "contains a path separator; a bundle ID is reverse-DNS like com.example.app",
        ));
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Err(bad("has an empty label (leading, trailing or double dot)"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(bad(&format!(
                "character '{}' is not allowed (only A-Z, a-z, 0-9, '-' and '.')",
                c.escape_default()
            )));
        }
    }
    Ok(())
}

/// Creates a team. The Team ID is generated when `team_id` is `None`.
pub(crate) fn create_team(
    c: &Tx<'_>,
    name: &str,
    team_id: Option<&str>,
    is_default: bool,
    now: i64,
) -> Result<TeamRecord> {
    validate_team_name(name)?;
    // Two teams of one name would be told apart by Team ID only: refused.
    if let Some(t) = c
        .list_teams()?
        .into_iter()
        .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
    {
        return Err(PortalError::DuplicateTeamName {
            name: t.name,
            team_id: t.team_id,
        });
    }
    let team_id = match team_id {
        Some(id) => {
            validate_team_id(id)?;
            id.to_string()
        }
        None => loop {
            let id = generate_team_id();
            if c.team(&id)?.is_none() {
                break id;
            }
        },
    };
    let rec = TeamRecord {
        team_id,
        name: name.trim().to_string(),
        is_default,
        created_at: now,
    };
    c.insert_team(&rec)?;
    Ok(rec)
}

/// The given team, or the default team.
pub fn resolve_team(c: &Tx<'_>, team_id: Option<&str>) -> Result<TeamRecord> {
    match team_id {
        Some(id) => c
            .team(id)?
            .ok_or_else(|| PortalError::UnknownTeam(id.to_string())),
        None => Ok(c.default_team()?),
    }
}

/// An App ID to register.
#[derive(Debug, Clone, Copy)]
pub struct NewApp<'a> {
    /// The bundle ID (checked by [`validate_bundle_id`]).
    pub bundle_id: &'a str,
    /// Descriptive name; the bundle ID when `None` or blank.
    pub name: Option<&'a str>,
    /// Owning team; the default team when `None`.
    pub team_id: Option<&'a str>,
    /// The push capability (never for a wildcard).
    pub push: bool,
}

impl<'a> NewApp<'a> {
    /// An App ID of the default team, named after its bundle ID.
    pub fn new(bundle_id: &'a str, push: bool) -> Self {
        NewApp {
            bundle_id,
            name: None,
            team_id: None,
            push,
        }
    }
}

/// Registers an App ID. Re-registering an identical App ID (same bundle ID,
/// team and push capability) is not an error: the existing record is returned
/// with `false`, so scripted setups can be re-run. Anything different conflicts.
pub(crate) fn ensure_app(c: &Tx<'_>, new: &NewApp<'_>, now: i64) -> Result<(AppRecord, bool)> {
    let NewApp {
        bundle_id,
        name,
        team_id,
        push,
    } = *new;
    validate_bundle_id(bundle_id)?;
    if let Some(existing) = c.app(bundle_id)? {
        let team = resolve_team(c, team_id)?;
        let same = existing.bundle_id == bundle_id
            && existing.team_id == team.team_id
            && existing.push == push
            && name.is_none_or(|n| n.trim() == existing.name);
        if same {
            return Ok((existing, false));
        }
    }
    create_app(c, new, now).map(|r| (r, true))
}

/// Registers an App ID; an existing bundle ID (in any letter case) conflicts.
pub fn create_app(c: &Tx<'_>, new: &NewApp<'_>, now: i64) -> Result<AppRecord> {
    let NewApp {
        bundle_id,
        name,
        team_id,
        push,
    } = *new;
    validate_bundle_id(bundle_id)?;
    if push && is_wildcard(bundle_id) {
        return Err(PortalError::WildcardPush(bundle_id.to_string()));
    }
    let team = resolve_team(c, team_id)?;
    let name = match name.map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => bundle_id.to_string(),
    };
    let rec = AppRecord {
        bundle_id: bundle_id.to_string(),
        name,
        team_id: team.team_id,
        push,
        enabled: true,
        created_at: now,
    };
    c.insert_app(&rec)?;
    Ok(rec)
}

pub(crate) fn get_app(c: &Tx<'_>, bundle_id: &str) -> Result<AppRecord> {
    c.app(bundle_id)?
        .ok_or_else(|| PortalError::UnknownApp(bundle_id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_ids() {
        assert!(validate_team_id("ABCDE12345").is_ok());
        for bad in ["abcde12345", "ABCDE1234", "ABCDE123456", "ABCDE-1234", ""] {
            assert!(validate_team_id(bad).is_err(), "{bad}");
        }
        for _ in 0..100 {
            assert!(validate_team_id(&generate_team_id()).is_ok());
        }
    }

    #[test]
    fn bundle_ids() {
        for ok in [
            "com.example.app",
            "com.example.*",
            "*",
            "a",
            "com.ex-ample.App2",
        ] {
            assert!(validate_bundle_id(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(156);
        for bad in [
            "",
            "com..example",
            ".com.example",
            "com.example.",
            "com/example",
            "../etc/passwd",
            "com.exa mple",
            "com.exämple",
            "com.*.app",
            "com.example.**",
            long.as_str(),
        ] {
            assert!(validate_bundle_id(bad).is_err(), "{bad}");
        }
        assert!(validate_bundle_id(&"a".repeat(155)).is_ok());
        assert!(is_wildcard("*") && is_wildcard("com.example.*") && !is_wildcard("com.example"));
    }

    #[test]
    fn ensure_app_is_idempotent_but_conflicts_on_differences() {
        let mut st = crate::store::Store::in_memory().unwrap();
        st.write(|c| -> Result<()> {
            create_team(c, "T", Some("ABCDE12345"), true, 0).unwrap();
            let (a, created) = ensure_app(c, &NewApp::new("com.x.app", true), 0).unwrap();
            assert!(created && a.push);
            let (_, created) = ensure_app(c, &NewApp::new("com.x.app", true), 1).unwrap();
            assert!(!created);
            assert!(ensure_app(c, &NewApp::new("com.x.app", false), 1).is_err());
            assert!(ensure_app(c, &NewApp::new("COM.X.APP", true), 1).is_err());
            let renamed = NewApp {
                name: Some("Other"),
                ..NewApp::new("com.x.app", true)
            };
            assert!(ensure_app(c, &renamed, 1).is_err());
            // A second team of the same name (any case) is refused.
            assert!(matches!(
                create_team(c, " t ", None, false, 2),
                Err(PortalError::DuplicateTeamName { .. })
            ));
            create_team(c, "Other", None, false, 2)?;
            Ok(())
        })
        .unwrap();
    }
}
