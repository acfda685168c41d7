//! Schema migrations. Each entry moves the schema from version `i` to `i + 1`;
//! `schema_version` records where a store is. Migrations only ever append.
//!
//! Each has a text per engine, the same schema in each engine's types:
//! INTEGER / BIGINT (64-bit), BLOB / BYTEA, booleans as integers 0/1, and
//! bundle IDs compared without letter case (SQLite's `NOCASE`, a
//! nondeterministic ICU collation `nocase` on PostgreSQL).

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

/// One schema step, in each engine's DDL.
pub(super) struct Migration {
    pub(super) sqlite: &'static str,
    pub(super) postgres: &'static str,
}

/// The key of the PostgreSQL advisory lock under which a store is migrated
/// ("pushca" and 1).
const PG_MIGRATION_LOCK: i64 = 0x7075_7368_6361_0001;

pub(super) const MIGRATIONS: &[Migration] = &[
    // 1: teams, App IDs, settings, issued certificates.
    Migration {
        sqlite: r#"
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
        postgres: r#"
    CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE teams (
        team_id    TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        is_default BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE apps (
        bundle_id  TEXT COLLATE nocase PRIMARY KEY,
        name       TEXT NOT NULL,
        team_id    TEXT NOT NULL REFERENCES teams(team_id),
        push       BIGINT NOT NULL,
        enabled    BIGINT NOT NULL DEFAULT 1,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE certificates (
        serial      TEXT PRIMARY KEY,
        bundle_id   TEXT COLLATE nocase NOT NULL REFERENCES apps(bundle_id),
        team_id     TEXT NOT NULL,
        environment TEXT NOT NULL,
        subject     TEXT NOT NULL,
        not_before  BIGINT NOT NULL,
        not_after   BIGINT NOT NULL,
        sha256      TEXT NOT NULL UNIQUE,
        key_type    TEXT NOT NULL,
        der         BYTEA NOT NULL,
        issued_at   BIGINT NOT NULL,
        revoked_at  BIGINT,
        revocation_reason TEXT
    );
    CREATE INDEX certificates_by_app ON certificates(bundle_id, not_after);
    CREATE INDEX certificates_by_expiry ON certificates(not_after);
    "#,
    },
    // 2: devices, provisioning profiles and CRLs.
    Migration {
        sqlite: r#"
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
        postgres: r#"
    CREATE TABLE crls (
        issuer      TEXT NOT NULL,
        number      BIGINT NOT NULL,
        this_update BIGINT NOT NULL,
        next_update BIGINT NOT NULL,
        revoked     BIGINT NOT NULL,
        der         BYTEA NOT NULL,
        PRIMARY KEY (issuer, number)
    );
    CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;
    CREATE TABLE devices (
        team_id    TEXT NOT NULL REFERENCES teams(team_id),
        udid       TEXT NOT NULL,
        name       TEXT NOT NULL,
        enabled    BIGINT NOT NULL DEFAULT 1,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (team_id, udid)
    );
    CREATE INDEX devices_by_udid ON devices(udid);
    CREATE TABLE profiles (
        uuid          TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        bundle_id     TEXT COLLATE nocase NOT NULL REFERENCES apps(bundle_id),
        team_id       TEXT NOT NULL,
        environment   TEXT NOT NULL,
        devices_mode  TEXT NOT NULL,
        certs_mode    TEXT NOT NULL,
        lifetime_days BIGINT,
        created_at    BIGINT NOT NULL,
        expires_at    BIGINT NOT NULL,
        sha256        TEXT NOT NULL,
        der           BYTEA NOT NULL,
        superseded_by TEXT REFERENCES profiles(uuid),
        superseded_at BIGINT
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
    },
    // 3: `profile withdraw`: a profile taken out without a replacement.
    Migration {
        sqlite: r#"
    ALTER TABLE profiles ADD COLUMN withdrawn_at INTEGER;
    "#,
        postgres: r#"
    ALTER TABLE profiles ADD COLUMN withdrawn_at BIGINT;
    "#,
    },
    // 4: certificates of other kinds than push (`server-cert`, `device
    // identity`): `kind`, and no App ID (NULL bundle_id) for them. SQLite
    // cannot relax NOT NULL in place: the table is rebuilt (foreign keys
    // are off while migrating, and checked before the commit).
    Migration {
        sqlite: r#"
    CREATE TABLE certificates_v4 (
        serial      TEXT PRIMARY KEY,
        kind        TEXT NOT NULL DEFAULT 'push' CHECK (kind IN ('push', 'server', 'device')),
        bundle_id   TEXT REFERENCES apps(bundle_id),
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
        revocation_reason TEXT,
        CHECK ((kind = 'push') = (bundle_id IS NOT NULL))
    );
    INSERT INTO certificates_v4(serial, kind, bundle_id, team_id, environment, subject,
        not_before, not_after, sha256, key_type, der, issued_at, revoked_at, revocation_reason)
    SELECT serial, 'push', bundle_id, team_id, environment, subject,
        not_before, not_after, sha256, key_type, der, issued_at, revoked_at, revocation_reason
    FROM certificates;
    DROP TABLE certificates;
    ALTER TABLE certificates_v4 RENAME TO certificates;
    CREATE INDEX certificates_by_app ON certificates(bundle_id, not_after);
    CREATE INDEX certificates_by_expiry ON certificates(not_after);
    CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;
    "#,
        postgres: r#"
    ALTER TABLE certificates
        ADD COLUMN kind TEXT NOT NULL DEFAULT 'push' CHECK (kind IN ('push', 'server', 'device')),
        ALTER COLUMN bundle_id DROP NOT NULL,
        ADD CHECK ((kind = 'push') = (bundle_id IS NOT NULL));
    "#,
    },
    // 5: APNs auth keys (token-based provider authentication): the public
    // half only (DER SubjectPublicKeyInfo), never the private key; the App
    // IDs of a topic-specific key in `auth_key_apps`.
    Migration {
        sqlite: r#"
    CREATE TABLE auth_keys (
        key_id      TEXT PRIMARY KEY,
        team_id     TEXT NOT NULL REFERENCES teams(team_id),
        name        TEXT NOT NULL,
        environment TEXT NOT NULL CHECK (environment IN ('development', 'production')),
        scope       TEXT NOT NULL CHECK (scope IN ('team', 'topics')),
        public_key  BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    );
    CREATE INDEX auth_keys_by_team ON auth_keys(team_id, environment, scope, revoked_at);
    CREATE TABLE auth_key_apps (
        key_id    TEXT NOT NULL REFERENCES auth_keys(key_id),
        bundle_id TEXT NOT NULL REFERENCES apps(bundle_id),
        PRIMARY KEY (key_id, bundle_id)
    );
    "#,
        postgres: r#"
    CREATE TABLE auth_keys (
        key_id      TEXT PRIMARY KEY,
        team_id     TEXT NOT NULL REFERENCES teams(team_id),
        name        TEXT NOT NULL,
        environment TEXT NOT NULL CHECK (environment IN ('development', 'production')),
        scope       TEXT NOT NULL CHECK (scope IN ('team', 'topics')),
        public_key  BYTEA NOT NULL,
        created_at  BIGINT NOT NULL,
        revoked_at  BIGINT
    );
    CREATE INDEX auth_keys_by_team ON auth_keys(team_id, environment, scope, revoked_at);
    CREATE TABLE auth_key_apps (
        key_id    TEXT NOT NULL REFERENCES auth_keys(key_id),
        bundle_id TEXT COLLATE nocase NOT NULL REFERENCES apps(bundle_id),
        PRIMARY KEY (key_id, bundle_id)
    );
    "#,
    },
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
/// opening an old store at once cannot both migrate it). Foreign keys are
/// off meanwhile (a migration may rebuild a table: SQLite's documented
/// procedure), checked before the commit, and on again afterwards.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    if current_version(conn)? == LATEST {
        return Ok(());
    }
    // Only outside a transaction does this pragma take effect.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = migrate_unchecked(conn);
    let restored = conn.pragma_update(None, "foreign_keys", "ON");
    migrated?;
    Ok(restored?)
}

fn migrate_unchecked(conn: &mut Connection) -> Result<()> {
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
    for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(m.sqlite)?;
        tx.execute(
            "INSERT INTO schema_version(version, applied_at) VALUES (?1, strftime('%s','now'))",
            [i as i64 + 1],
        )?;
    }
    let dangling: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_foreign_key_check)",
        [],
        |r| r.get(0),
    )?;
    if dangling {
        return Err(StoreError::Corrupt("a migration left a dangling reference"));
    }
    tx.commit()?;
    Ok(())
}

/// The schema version of a PostgreSQL store (0: empty database).
pub(super) fn current_version_pg(client: &mut impl postgres::GenericClient) -> Result<i64> {
    let has_table: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !has_table {
        return Ok(0);
    }
    Ok(client
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
        .get(0))
}

/// Applies every pending migration to a PostgreSQL store in one
/// transaction, under an advisory lock: processes starting together wait for
/// the first one, then find the schema current.
pub(super) fn migrate_pg(client: &mut postgres::Client) -> Result<()> {
    if current_version_pg(client)? == LATEST {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    BIGINT PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )",
    )?;
    let found = current_version_pg(&mut tx)?;
    if found > LATEST {
        return Err(StoreError::TooNew {
            found,
            known: LATEST,
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(m.postgres)?;
        tx.execute(
            "INSERT INTO schema_version(version, applied_at)
             VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
            &[&(i as i64 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testdb::on_both_stores;
    use super::super::Store;
    use super::*;

    on_both_stores!(migrates_once_and_is_idempotent, refuses_newer_schema);

    fn schema_rows(st: &mut Store) -> i64 {
        st.read(|tx| {
            tx.conn()
                .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
                .map_err(StoreError::from)
        })
        .unwrap()
    }

    fn migrates_once_and_is_idempotent(mut st: Store) {
        assert_eq!(schema_rows(&mut st), LATEST);
        st.migrate_again().unwrap();
        assert_eq!(schema_rows(&mut st), LATEST);
    }

    /// A version-3 store with a push certificate that a profile lists moves
    /// to version 4 with its rows, indexes and references; the rebuilt
    /// table takes certificates without an App ID and foreign keys are on.
    #[test]
    fn migration_4_keeps_push_certificates_and_their_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v3.db");
        {
            let c = Connection::open(&db).unwrap();
            c.execute_batch(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
            )
            .unwrap();
            for (i, m) in MIGRATIONS[..3].iter().enumerate() {
                c.execute_batch(m.sqlite).unwrap();
                c.execute("INSERT INTO schema_version VALUES (?1, 0)", [i as i64 + 1])
                    .unwrap();
            }
            c.execute_batch(
                "INSERT INTO teams VALUES ('AAAAAAAAAA', 'T', 1, 0);
                 INSERT INTO apps VALUES ('com.x', 'x', 'AAAAAAAAAA', 1, 1, 0);
                 INSERT INTO certificates VALUES ('0a', 'com.x', 'AAAAAAAAAA', 'production',
                     'CN=x', 0, 10, 'h', 'ec-p256', x'00', 0, 5, 'superseded');
                 INSERT INTO profiles VALUES ('U', 'n', 'com.x', 'AAAAAAAAAA', 'production',
                     'all', 'default', NULL, 0, 10, 's', x'00', NULL, NULL, NULL);
                 INSERT INTO profile_certificates VALUES ('U', '0a');",
            )
            .unwrap();
        }
        let st = super::super::Store::open(&db).unwrap();
        assert_eq!(current_version(st.sqlite_conn()).unwrap(), LATEST);
        let c = st.sqlite_conn();
        let row: (String, String, Option<i64>, String) = c
            .query_row(
                "SELECT kind, bundle_id, revoked_at, revocation_reason FROM certificates",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            ("push".into(), "com.x".into(), Some(5), "superseded".into())
        );
        let joined: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM profile_certificates p JOIN certificates c USING (serial)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(joined, 1);
        let indexes: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates'
                 AND name IN ('certificates_by_app', 'certificates_by_expiry', 'certificates_revoked')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 3);
        let fk: bool = c
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are on again");
        // A server certificate has no App ID; a push certificate needs one.
        c.execute(
            "INSERT INTO certificates(serial, kind, bundle_id, team_id, environment, subject,
             not_before, not_after, sha256, key_type, der, issued_at)
             VALUES ('0b', 'server', NULL, 'AAAAAAAAAA', '', 'CN=h', 0, 10, 'h2', 'ec-p256', x'00', 0)",
            [],
        )
        .unwrap();
        assert!(c
            .execute(
                "INSERT INTO certificates(serial, kind, bundle_id, team_id, environment, subject,
                 not_before, not_after, sha256, key_type, der, issued_at)
                 VALUES ('0c', 'push', NULL, 'AAAAAAAAAA', '', 'CN=h', 0, 10, 'h3', 'ec-p256', x'00', 0)",
                [],
            )
            .is_err());
        // Foreign keys are enforced: no certificate of an unknown App ID.
        assert!(c
            .execute(
                "INSERT INTO certificates(serial, kind, bundle_id, team_id, environment, subject,
                 not_before, not_after, sha256, key_type, der, issued_at)
                 VALUES ('0d', 'push', 'com.unknown', 'AAAAAAAAAA', 'production', 'CN=h', 0, 10,
                 'h4', 'ec-p256', x'00', 0)",
                [],
            )
            .is_err());
    }

    /// A version-4 store with a team, an App ID and a certificate moves to
    /// version 5 with them; the auth-key tables take a key and its App IDs,
    /// with their references and checks enforced.
    #[test]
    fn migration_5_adds_auth_keys_to_a_version_4_store() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v4.db");
        {
            let c = Connection::open(&db).unwrap();
            c.execute_batch(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
            )
            .unwrap();
            for (i, m) in MIGRATIONS[..4].iter().enumerate() {
                c.execute_batch(m.sqlite).unwrap();
                c.execute("INSERT INTO schema_version VALUES (?1, 0)", [i as i64 + 1])
                    .unwrap();
            }
            c.execute_batch(
                "INSERT INTO teams VALUES ('AAAAAAAAAA', 'T', 1, 0);
                 INSERT INTO apps VALUES ('com.x', 'x', 'AAAAAAAAAA', 1, 1, 0);
                 INSERT INTO certificates(serial, kind, bundle_id, team_id, environment, subject,
                     not_before, not_after, sha256, key_type, der, issued_at)
                 VALUES ('0a', 'push', 'com.x', 'AAAAAAAAAA', 'production', 'CN=x', 0, 10, 'h',
                     'ec-p256', x'00', 0);",
            )
            .unwrap();
        }
        let st = super::super::Store::open(&db).unwrap();
        assert_eq!(current_version(st.sqlite_conn()).unwrap(), LATEST);
        let c = st.sqlite_conn();
        let certs: i64 = c
            .query_row("SELECT COUNT(*) FROM certificates", [], |r| r.get(0))
            .unwrap();
        assert_eq!(certs, 1);
        let key = |id: &str, team: &str, env: &str, scope: &str| {
            c.execute(
                "INSERT INTO auth_keys(key_id, team_id, name, environment, scope, public_key,
                 created_at) VALUES (?1, ?2, 'k', ?3, ?4, x'30', 0)",
                [id, team, env, scope],
            )
        };
        key("KEY0000001", "AAAAAAAAAA", "development", "topics").unwrap();
        // The App ID reference is case-insensitive, like the App ID itself.
        c.execute(
            "INSERT INTO auth_key_apps(key_id, bundle_id) VALUES ('KEY0000001', 'COM.X')",
            [],
        )
        .unwrap();
        assert!(key("KEY0000001", "AAAAAAAAAA", "development", "team").is_err());
        assert!(key("KEY0000002", "BBBBBBBBBB", "development", "team").is_err());
        assert!(key("KEY0000003", "AAAAAAAAAA", "universal", "team").is_err());
        assert!(key("KEY0000004", "AAAAAAAAAA", "production", "all").is_err());
        assert!(c
            .execute(
                "INSERT INTO auth_key_apps(key_id, bundle_id) VALUES ('KEY0000001', 'com.unknown')",
                [],
            )
            .is_err());
        assert!(c
            .execute(
                "INSERT INTO auth_key_apps(key_id, bundle_id) VALUES ('NOSUCHKEY0', 'com.x')",
                [],
            )
            .is_err());
    }

    fn refuses_newer_schema(mut st: Store) {
        st.write(|tx| {
            tx.conn()
                .execute("INSERT INTO schema_version VALUES (999, 0)", [])
                .map_err(StoreError::from)
        })
        .unwrap();
        assert!(matches!(
            st.migrate_again(),
            Err(StoreError::TooNew { found: 999, .. })
        ));
    }
}
