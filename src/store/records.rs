//! Typed rows and the queries over them. Functions take a `&Connection` so they
//! run inside whatever transaction the caller opened with `Store::write/read`.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TeamRecord {
    pub team_id: String,
    pub name: String,
    pub is_default: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppRecord {
    pub bundle_id: String,
    pub name: String,
    pub team_id: String,
    pub push: bool,
    pub enabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    pub bundle_id: String,
    pub team_id: String,
    pub environment: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    pub key_type: String,
    pub der: Vec<u8>,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

pub fn get_setting(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

pub fn set_setting(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO settings(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn team_row(r: &Row<'_>) -> rusqlite::Result<TeamRecord> {
    Ok(TeamRecord {
        team_id: r.get(0)?,
        name: r.get(1)?,
        is_default: r.get(2)?,
        created_at: r.get(3)?,
    })
}

const TEAM_COLS: &str = "team_id, name, is_default, created_at";

pub fn insert_team(c: &Connection, t: &TeamRecord) -> Result<()> {
    c.execute(
        "INSERT INTO teams(team_id, name, is_default, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![t.team_id, t.name, t.is_default, t.created_at],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("team {} already exists", t.team_id))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

pub fn list_teams(c: &Connection) -> Result<Vec<TeamRecord>> {
    let mut st = c.prepare(&format!(
        "SELECT {TEAM_COLS} FROM teams ORDER BY is_default DESC, created_at, team_id"
    ))?;
    let rows = st
        .query_map([], team_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn get_team(c: &Connection, team_id: &str) -> Result<Option<TeamRecord>> {
    Ok(c.query_row(
        &format!("SELECT {TEAM_COLS} FROM teams WHERE team_id = ?1"),
        [team_id],
        team_row,
    )
    .optional()?)
}

pub fn default_team(c: &Connection) -> Result<TeamRecord> {
    c.query_row(
        &format!("SELECT {TEAM_COLS} FROM teams WHERE is_default = 1"),
        [],
        team_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::Corrupt("no default team".into()))
}

fn app_row(r: &Row<'_>) -> rusqlite::Result<AppRecord> {
    Ok(AppRecord {
        bundle_id: r.get(0)?,
        name: r.get(1)?,
        team_id: r.get(2)?,
        push: r.get(3)?,
        enabled: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const APP_COLS: &str = "bundle_id, name, team_id, push, enabled, created_at";

pub fn insert_app(c: &Connection, a: &AppRecord) -> Result<()> {
    if let Some(existing) = get_app(c, &a.bundle_id)? {
        return Err(StoreError::Conflict(format!(
            "bundle ID {} is already registered (team {})",
            existing.bundle_id, existing.team_id
        )));
    }
    c.execute(
        "INSERT INTO apps(bundle_id, name, team_id, push, enabled, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            a.bundle_id,
            a.name,
            a.team_id,
            a.push,
            a.enabled,
            a.created_at
        ],
    )?;
    Ok(())
}

/// Looks an App ID up by bundle ID (case-insensitively: bundle IDs that differ
/// only in case are one identity).
pub fn get_app(c: &Connection, bundle_id: &str) -> Result<Option<AppRecord>> {
    Ok(c.query_row(
        &format!("SELECT {APP_COLS} FROM apps WHERE bundle_id = ?1"),
        [bundle_id],
        app_row,
    )
    .optional()?)
}

pub fn list_apps(c: &Connection, team_id: Option<&str>) -> Result<Vec<AppRecord>> {
    let mut st = c.prepare(&format!(
        "SELECT {APP_COLS} FROM apps WHERE (?1 IS NULL OR team_id = ?1) ORDER BY bundle_id"
    ))?;
    let rows = st
        .query_map([team_id], app_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Returns whether the flag changed.
pub fn set_app_enabled(c: &Connection, bundle_id: &str, enabled: bool) -> Result<bool> {
    let n = c.execute(
        "UPDATE apps SET enabled = ?2 WHERE bundle_id = ?1 AND enabled != ?2",
        params![bundle_id, enabled],
    )?;
    Ok(n > 0)
}

fn cert_row(r: &Row<'_>) -> rusqlite::Result<CertRecord> {
    Ok(CertRecord {
        serial: r.get(0)?,
        bundle_id: r.get(1)?,
        team_id: r.get(2)?,
        environment: r.get(3)?,
        subject: r.get(4)?,
        not_before: r.get(5)?,
        not_after: r.get(6)?,
        sha256: r.get(7)?,
        key_type: r.get(8)?,
        der: r.get(9)?,
        issued_at: r.get(10)?,
        revoked_at: r.get(11)?,
        revocation_reason: r.get(12)?,
    })
}

const CERT_COLS: &str = "serial, bundle_id, team_id, environment, subject, not_before, not_after, \
                         sha256, key_type, der, issued_at, revoked_at, revocation_reason";

pub fn insert_certificate(c: &Connection, r: &CertRecord) -> Result<()> {
    let mut st = c.prepare_cached(&format!(
        "INSERT INTO certificates({CERT_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
    ))?;
    st.execute(params![
        r.serial,
        r.bundle_id,
        r.team_id,
        r.environment,
        r.subject,
        r.not_before,
        r.not_after,
        r.sha256,
        r.key_type,
        r.der,
        r.issued_at,
        r.revoked_at,
        r.revocation_reason
    ])
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("serial {} is already in the store", r.serial))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

pub fn serial_exists(c: &Connection, serial: &str) -> Result<bool> {
    let mut st = c.prepare_cached("SELECT EXISTS(SELECT 1 FROM certificates WHERE serial = ?1)")?;
    Ok(st.query_row([serial], |r| r.get(0))?)
}

#[derive(Debug, Default, Clone)]
pub struct CertFilter<'a> {
    pub bundle_id: Option<&'a str>,
    pub environment: Option<&'a str>,
    /// Only certificates whose `not_after` is before this instant (unix seconds).
    pub expiring_before: Option<i64>,
}

/// Certificates matching the filter, newest expiry last.
pub fn list_certificates(c: &Connection, f: &CertFilter<'_>) -> Result<Vec<CertRecord>> {
    let mut st = c.prepare(&format!(
        "SELECT {CERT_COLS} FROM certificates
         WHERE (?1 IS NULL OR bundle_id = ?1)
           AND (?2 IS NULL OR environment = ?2)
           AND (?3 IS NULL OR not_after < ?3)
         ORDER BY not_after, serial"
    ))?;
    let rows = st
        .query_map(
            params![f.bundle_id, f.environment, f.expiring_before],
            cert_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Looks up by full serial (hex, case-insensitive, colons allowed) or a unique
/// prefix of at least 8 hex digits.
pub fn find_certificate(c: &Connection, serial: &str) -> Result<Option<CertRecord>> {
    let norm: String = serial
        .chars()
        .filter(|ch| *ch != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if norm.is_empty() || !norm.chars().all(|ch| ch.is_ascii_hexdigit()) {
        return Err(StoreError::NotFound(format!(
            "'{serial}' is not a hexadecimal serial number"
        )));
    }
    let norm = norm.trim_start_matches('0').to_string();
    let mut st = c.prepare(&format!(
        "SELECT {CERT_COLS} FROM certificates
         WHERE ltrim(serial, '0') = ?1 OR (length(?1) >= 8 AND ltrim(serial, '0') LIKE ?1 || '%')
         ORDER BY ltrim(serial, '0') = ?1 DESC LIMIT 2"
    ))?;
    let rows = st
        .query_map([&norm], cert_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let exact = rows
        .first()
        .is_some_and(|r| r.serial.trim_start_matches('0') == norm);
    match rows.len() {
        0 => Ok(None),
        _ if exact => Ok(rows.into_iter().next()),
        1 => Ok(rows.into_iter().next()),
        _ => Err(StoreError::Conflict(format!(
            "serial prefix {serial} matches several certificates; give more digits"
        ))),
    }
}
