//! Schema migrations. Each entry moves the schema from version `i` to `i + 1`;
//! `schema_version` records where a store is. Migrations only ever append.

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: teams, App IDs, settings, issued certificates.
    r#"
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE teams (
        team_id    TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        is_default INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE apps (
        bundle_id  TEXT PRIMARY KEY COLLATE NOCASE,
        name       TEXT NOT NULL,
        team_id    TEXT NOT NULL REFERENCES teams(team_id),
        push       INTEGER NOT NULL,
        enabled    INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE certificates (
        serial      TEXT PRIMARY KEY,
        bundle_id   TEXT NOT NULL REFERENCES apps(bundle_id),
        team_id     TEXT NOT NULL,
        environment TEXT NOT NULL,
        subject     TEXT NOT NULL,
        not_before  INTEGER NOT NULL,
        not_after   INTEGER NOT NULL,
        sha256      TEXT NOT NULL UNIQUE,
        key_type    TEXT NOT NULL,
        der         BLOB NOT NULL,
        issued_at   INTEGER NOT NULL,
        revoked_at  INTEGER,
        revocation_reason TEXT
    );
    CREATE INDEX certificates_by_app ON certificates(bundle_id, not_after);
    CREATE INDEX certificates_by_expiry ON certificates(not_after);
    "#,
    // 2: devices, provisioning profiles and CRLs.
    r#"
    CREATE TABLE crls (
        issuer      TEXT NOT NULL,
        number      INTEGER NOT NULL,
        this_update INTEGER NOT NULL,
        next_update INTEGER NOT NULL,
        revoked     INTEGER NOT NULL,
        der         BLOB NOT NULL,
        PRIMARY KEY (issuer, number)
    );
    CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;
    CREATE TABLE devices (
        team_id    TEXT NOT NULL REFERENCES teams(team_id),
        udid       TEXT NOT NULL,
        name       TEXT NOT NULL,
        enabled    INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (team_id, udid)
    );
    CREATE INDEX devices_by_udid ON devices(udid);
    CREATE TABLE profiles (
        uuid          TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        bundle_id     TEXT NOT NULL REFERENCES apps(bundle_id),
        team_id       TEXT NOT NULL,
        environment   TEXT NOT NULL,
        devices_mode  TEXT NOT NULL,
        certs_mode    TEXT NOT NULL,
        lifetime_days INTEGER,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        sha256        TEXT NOT NULL,
        der           BLOB NOT NULL,
        superseded_by TEXT REFERENCES profiles(uuid),
        superseded_at INTEGER
    );
    CREATE INDEX profiles_by_app ON profiles(bundle_id, environment);
    CREATE INDEX profiles_by_expiry ON profiles(expires_at);
    CREATE TABLE profile_devices (
        profile_uuid TEXT NOT NULL REFERENCES profiles(uuid),
        udid         TEXT NOT NULL,
        PRIMARY KEY (profile_uuid, udid)
    );
    CREATE TABLE profile_certificates (
        profile_uuid TEXT NOT NULL REFERENCES profiles(uuid),
        serial       TEXT NOT NULL REFERENCES certificates(serial),
        PRIMARY KEY (profile_uuid, serial)
    );
    "#,
    // 3: `profile withdraw`: a profile taken out without a replacement.
    r#"
    ALTER TABLE profiles ADD COLUMN withdrawn_at INTEGER;
    "#,
];

pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

pub(super) fn current_version(conn: &Connection) -> Result<i64> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?)
}

/// Applies every pending migration in one write transaction (so two processes
/// opening an old store at once cannot both migrate it).
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    if current_version(conn)? == LATEST {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let found = current_version(&tx)?;
    if found > LATEST {
        return Err(StoreError::TooNew {
            found,
            known: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version(version, applied_at) VALUES (?1, strftime('%s','now'))",
            [i as i64 + 1],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        assert_eq!(current_version(&c).unwrap(), LATEST);
        migrate(&mut c).unwrap();
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, LATEST);
    }

    #[test]
    fn refuses_newer_schema() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c.execute("INSERT INTO schema_version VALUES (999, 0)", [])
            .unwrap();
        assert!(matches!(migrate(&mut c), Err(StoreError::TooNew { .. })));
    }
}
