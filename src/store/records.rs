//! Typed rows and the queries over them: methods of [`Tx`], so they run inside
//! whatever transaction the caller opened with `Store::write` or `Store::read`.

use rusqlite::{params, OptionalExtension, Row};

use super::{Result, StoreError, Tx};

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

/// Which certificates [`Tx::list_certificates`] returns.
#[derive(Debug, Default, Clone)]
pub struct CertFilter<'a> {
    pub bundle_id: Option<&'a str>,
    pub environment: Option<&'a str>,
    /// Only certificates whose `not_after` is before this instant (unix seconds).
    pub expiring_before: Option<i64>,
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
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

impl Tx<'_> {
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO settings(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn insert_team(&self, t: &TeamRecord) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO teams(team_id, name, is_default, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![t.team_id, t.name, t.is_default, t.created_at],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::DuplicateTeam(t.team_id.clone())
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    pub fn list_teams(&self) -> Result<Vec<TeamRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {TEAM_COLS} FROM teams ORDER BY is_default DESC, created_at, team_id"
        ))?;
        let rows = st
            .query_map([], team_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn team(&self, team_id: &str) -> Result<Option<TeamRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {TEAM_COLS} FROM teams WHERE team_id = ?1"),
                [team_id],
                team_row,
            )
            .optional()?)
    }

    pub fn default_team(&self) -> Result<TeamRecord> {
        self.conn()
            .query_row(
                &format!("SELECT {TEAM_COLS} FROM teams WHERE is_default = 1"),
                [],
                team_row,
            )
            .optional()?
            .ok_or(StoreError::Corrupt("no default team"))
    }

    pub fn insert_app(&self, a: &AppRecord) -> Result<()> {
        if let Some(existing) = self.app(&a.bundle_id)? {
            return Err(StoreError::DuplicateApp {
                bundle_id: existing.bundle_id,
                team_id: existing.team_id,
            });
        }
        self.conn().execute(
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

    /// Looks an App ID up by bundle ID (case-insensitively: bundle IDs that
    /// differ only in case are one identity).
    pub fn app(&self, bundle_id: &str) -> Result<Option<AppRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {APP_COLS} FROM apps WHERE bundle_id = ?1"),
                [bundle_id],
                app_row,
            )
            .optional()?)
    }

    pub fn list_apps(&self, team_id: Option<&str>) -> Result<Vec<AppRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {APP_COLS} FROM apps WHERE (?1 IS NULL OR team_id = ?1) ORDER BY bundle_id"
        ))?;
        let rows = st
            .query_map([team_id], app_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sets the enabled flag; returns whether it changed.
    pub fn set_app_enabled(&self, bundle_id: &str, enabled: bool) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE apps SET enabled = ?2 WHERE bundle_id = ?1 AND enabled != ?2",
            params![bundle_id, enabled],
        )?;
        Ok(n > 0)
    }

    pub fn insert_certificate(&self, r: &CertRecord) -> Result<()> {
        let mut st = self.conn().prepare_cached(&format!(
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
                StoreError::DuplicateSerial(r.serial.clone())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Certificates matching the filter, soonest expiry first.
    pub fn list_certificates(&self, f: &CertFilter<'_>) -> Result<Vec<CertRecord>> {
        let mut st = self.conn().prepare(&format!(
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

    /// Looks up by full serial (hex, case-insensitive, colons allowed, leading
    /// zeros ignored) or a unique prefix of at least 8 hex digits.
    pub fn find_certificate(&self, serial: &str) -> Result<Option<CertRecord>> {
        let norm: String = serial
            .chars()
            .filter(|ch| *ch != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if norm.is_empty() || !norm.chars().all(|ch| ch.is_ascii_hexdigit()) {
            return Err(StoreError::NotHexSerial(serial.to_string()));
        }
        let norm = norm.trim_start_matches('0').to_string();
        let mut st = self.conn().prepare(&format!(
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
            1 => Ok(rows.into_iter().next()),
            _ if exact => Ok(rows.into_iter().next()),
            _ => Err(StoreError::AmbiguousSerial(serial.to_string())),
        }
    }
}
