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
    // 6: the service (`pushca serve`): API tokens, only a SHA-256 of each
    // secret; the audit log of every call (`seq` assigned in the writing
    // transaction: portable, no autoincrement).
    Migration {
        sqlite: r#"
    CREATE TABLE service_tokens (
        token_id      TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        scopes        TEXT NOT NULL,
        secret_sha256 BLOB NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        revoked_at    INTEGER
    );
    CREATE TABLE audit_log (
        seq       INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        token_id  TEXT,
        scope     TEXT,
        operation TEXT NOT NULL,
        serials   TEXT NOT NULL,
        result    TEXT NOT NULL
    );
    CREATE INDEX audit_log_by_time ON audit_log(at);
    "#,
        postgres: r#"
    CREATE TABLE service_tokens (
        token_id      TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        scopes        TEXT NOT NULL,
        secret_sha256 BYTEA NOT NULL,
        created_at    BIGINT NOT NULL,
        expires_at    BIGINT NOT NULL,
        revoked_at    BIGINT
    );
    CREATE TABLE audit_log (
        seq       BIGINT PRIMARY KEY,
        at        BIGINT NOT NULL,
        token_id  TEXT,
        scope     TEXT,
        operation TEXT NOT NULL,
        serials   TEXT NOT NULL,
        result    TEXT NOT NULL
    );
    CREATE INDEX audit_log_by_time ON audit_log(at);
    "#,
    },
    // 7: the CA material in the store (PostgreSQL keeps it there, so that a
    // replica needs only the URL and the passphrase; a SQLite home keeps its
    // files and leaves these tables empty): each CA certificate (PEM) with its
    // key (PEM, encrypted PKCS#8 as in the files), and template overrides.
    Migration {
        sqlite: r#"
    CREATE TABLE ca_material (
        name     TEXT PRIMARY KEY,
        cert_pem TEXT NOT NULL,
        key_pem  TEXT NOT NULL
    );
    CREATE TABLE ca_templates (
        name TEXT PRIMARY KEY,
        text TEXT NOT NULL
    );
    "#,
        postgres: r#"
    CREATE TABLE ca_material (
        name     TEXT PRIMARY KEY,
        cert_pem TEXT NOT NULL,
        key_pem  TEXT NOT NULL
    );
    CREATE TABLE ca_templates (
        name TEXT PRIMARY KEY,
        text TEXT NOT NULL
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
    use super::super::db::{self, params};
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

    /// A store of either engine at schema `version`, not migrated further
    /// (`migrate_again` moves it on), with the directory its SQLite file is in.
    fn store_at_version(postgres: bool, version: usize) -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let backend = if postgres {
            let mut client = super::super::pg::connect(&super::super::testdb::fresh_url()).unwrap();
            client
                .batch_execute(
                    "CREATE TABLE schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                )
                .unwrap();
            for (i, m) in MIGRATIONS[..version].iter().enumerate() {
                client.batch_execute(m.postgres).unwrap();
                client
                    .execute(
                        "INSERT INTO schema_version VALUES ($1, 0)",
                        &[&(i as i64 + 1)],
                    )
                    .unwrap();
            }
            super::super::Backend::Postgres(Box::new(super::super::PgConnection::new(client, "")))
        } else {
            let c = Connection::open(dir.path().join("old.db")).unwrap();
            c.execute_batch(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
            )
            .unwrap();
            for (i, m) in MIGRATIONS[..version].iter().enumerate() {
                c.execute_batch(m.sqlite).unwrap();
                c.execute("INSERT INTO schema_version VALUES (?1, 0)", [i as i64 + 1])
                    .unwrap();
            }
            super::super::Backend::Sqlite(c)
        };
        let st = Store::with_backend(backend);
        (st, dir)
    }

    /// Runs one statement in its own transaction (a failure rolls back
    /// only it, on both engines).
    fn exec(st: &mut Store, sql: &str, params: &[&dyn db::ToSql]) -> Result<usize> {
        st.write(|tx| tx.conn().execute(sql, params).map_err(StoreError::from))
    }

    fn count(st: &mut Store, sql: &str) -> i64 {
        st.read(|tx| {
            tx.conn()
                .query_row(sql, [], |r| r.get(0))
                .map_err(StoreError::from)
        })
        .unwrap()
    }

    fn insert_cert(
        st: &mut Store,
        serial: &str,
        kind: &str,
        bundle_id: Option<&str>,
        sha256: &str,
    ) -> Result<usize> {
        exec(
            st,
            "INSERT INTO certificates(serial, kind, bundle_id, team_id, environment, subject,
             not_before, not_after, sha256, key_type, der, issued_at)
             VALUES (?1, ?2, ?3, 'AAAAAAAAAA', 'production', 'CN=h', 0, 10, ?4, 'ec-p256', ?5, 0)",
            params![serial, kind, bundle_id, sha256, vec![0u8]],
        )
    }

    /// Runs a test taking `postgres: bool` on each engine.
    macro_rules! on_both_engines {
        ($($name:ident),* $(,)?) => {$(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(false)
                }
                #[test]
                fn postgres() {
                    super::$name(true)
                }
            }
        )*};
    }

    on_both_engines!(
        migration_4_keeps_push_certificates_and_their_profiles,
        migration_5_adds_auth_keys_to_a_version_4_store,
    );

    /// A version-3 store with a push certificate that a profile lists moves
    /// to version 4 with its rows, indexes and references; the rebuilt
    /// table takes certificates without an App ID and foreign keys are on.
    fn migration_4_keeps_push_certificates_and_their_profiles(postgres: bool) {
        let (mut st, _dir) = store_at_version(postgres, 3);
        let der = vec![0u8];
        for (sql, p) in [
            (
                "INSERT INTO teams VALUES ('AAAAAAAAAA', 'T', 1, 0)",
                params![],
            ),
            (
                "INSERT INTO apps VALUES ('com.x', 'x', 'AAAAAAAAAA', 1, 1, 0)",
                params![],
            ),
            (
                "INSERT INTO certificates VALUES ('0a', 'com.x', 'AAAAAAAAAA', 'production',
                 'CN=x', 0, 10, 'h', 'ec-p256', ?1, 0, 5, 'superseded')",
                params![der],
            ),
            (
                "INSERT INTO profiles VALUES ('U', 'n', 'com.x', 'AAAAAAAAAA', 'production',
                 'all', 'default', NULL, 0, 10, 's', ?1, NULL, NULL, NULL)",
                params![der],
            ),
            (
                "INSERT INTO profile_certificates VALUES ('U', '0a')",
                params![],
            ),
        ] {
            exec(&mut st, sql, p).unwrap();
        }
        st.migrate_again().unwrap();
        assert_eq!(
            count(&mut st, "SELECT MAX(version) FROM schema_version"),
            LATEST
        );
        let row: (String, String, Option<i64>, String) = st
            .read(|tx| {
                tx.conn()
                    .query_row(
                        "SELECT kind, bundle_id, revoked_at, revocation_reason FROM certificates",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .map_err(StoreError::from)
            })
            .unwrap();
        assert_eq!(
            row,
            ("push".into(), "com.x".into(), Some(5), "superseded".into())
        );
        let joined = count(
            &mut st,
            "SELECT COUNT(*) FROM profile_certificates p JOIN certificates c USING (serial)",
        );
        assert_eq!(joined, 1);
        let indexes = count(
            &mut st,
            if postgres {
                "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'certificates'
                 AND indexname IN ('certificates_by_app', 'certificates_by_expiry', 'certificates_revoked')"
            } else {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates'
                 AND name IN ('certificates_by_app', 'certificates_by_expiry', 'certificates_revoked')"
            },
        );
        assert_eq!(indexes, 3);
        if !postgres {
            // (PostgreSQL's foreign keys are never off.)
            assert_eq!(
                count(&mut st, "PRAGMA foreign_keys"),
                1,
                "foreign keys are on again"
            );
        }
        // A server certificate has no App ID; a push certificate needs one.
        insert_cert(&mut st, "0b", "server", None, "h2").unwrap();
        assert!(insert_cert(&mut st, "0c", "push", None, "h3").is_err());
        // Foreign keys are enforced: no certificate of an unknown App ID.
        assert!(insert_cert(&mut st, "0d", "push", Some("com.unknown"), "h4").is_err());
    }

    /// A version-4 store with a team, an App ID and a certificate moves to
    /// version 5 with them; the auth-key tables take a key and its App IDs,
    /// with their references and checks enforced.
    fn migration_5_adds_auth_keys_to_a_version_4_store(postgres: bool) {
        let (mut st, _dir) = store_at_version(postgres, 4);
        exec(
            &mut st,
            "INSERT INTO teams VALUES ('AAAAAAAAAA', 'T', 1, 0)",
            params![],
        )
        .unwrap();
        exec(
            &mut st,
            "INSERT INTO apps VALUES ('com.x', 'x', 'AAAAAAAAAA', 1, 1, 0)",
            params![],
        )
        .unwrap();
        insert_cert(&mut st, "0a", "push", Some("com.x"), "h").unwrap();
        st.migrate_again().unwrap();
        assert_eq!(
            count(&mut st, "SELECT MAX(version) FROM schema_version"),
            LATEST
        );
        assert_eq!(count(&mut st, "SELECT COUNT(*) FROM certificates"), 1);
        let mut key = |id: &str, team: &str, env: &str, scope: &str| {
            exec(
                &mut st,
                "INSERT INTO auth_keys(key_id, team_id, name, environment, scope, public_key,
                 created_at) VALUES (?1, ?2, 'k', ?3, ?4, ?5, 0)",
                params![id, team, env, scope, vec![0x30u8]],
            )
        };
        key("KEY0000001", "AAAAAAAAAA", "development", "topics").unwrap();
        assert!(key("KEY0000001", "AAAAAAAAAA", "development", "team").is_err());
        assert!(key("KEY0000002", "BBBBBBBBBB", "development", "team").is_err());
        assert!(key("KEY0000003", "AAAAAAAAAA", "universal", "team").is_err());
        assert!(key("KEY0000004", "AAAAAAAAAA", "production", "all").is_err());
        // The App ID reference is case-insensitive, like the App ID itself.
        let app = |st: &mut Store, key: &str, bundle: &str| {
            exec(
                st,
                "INSERT INTO auth_key_apps(key_id, bundle_id) VALUES (?1, ?2)",
                params![key, bundle],
            )
        };
        app(&mut st, "KEY0000001", "COM.X").unwrap();
        assert!(app(&mut st, "KEY0000001", "com.unknown").is_err());
        assert!(app(&mut st, "NOSUCHKEY0", "com.x").is_err());
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
