//! The store: one API over two engines. SQLite in the pushca home (the
//! default: one file, embedded) and PostgreSQL (a shared database for several
//! pushca processes or replicas). Schema migrations, transactions and the
//! locking that makes concurrent pushca processes on one store safe.
//!
//! On SQLite every mutating command runs in one `BEGIN IMMEDIATE`
//! transaction: SQLite takes the write lock at the start, other writers wait
//! (busy timeout) instead of failing mid-way, and a failed command leaves the
//! store as it was. On PostgreSQL a write transaction is SERIALIZABLE, which
//! gives the same outcome (as if the transactions ran one after the other);
//! one that loses a conflict is run again (see [`Store::write`]).

mod copy;
mod db;
mod material;
mod migrations;
mod pg;
mod pool;
mod records;
mod service;
/// A throwaway PostgreSQL cluster for tests (the crate's and the
/// integration tests'): not part of the API.
#[doc(hidden)]
pub mod testdb;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use material::CaMaterialRecord;
pub(crate) use material::StoreLock;
pub use pool::PooledStore;
pub use records::*;
pub use service::{AuditRecord, TokenRecord};

/// `url` without its password (for messages): `postgres://user:****@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:****@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    // A password given as a parameter.
    let tail: String = match tail.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some(("password", _)) => "password=****".to_string(),
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// How long a process waits for another one's write transaction.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// How many times a PostgreSQL write transaction runs before a
/// serialization failure is given up on (each time after a random pause).
const WRITE_ATTEMPTS: u32 = 100;

/// A store failure: no store, a store from a newer pushca, a duplicate or
/// ambiguous key, or the database engine.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// This directory has no `pushca.db`.
    #[error("{} is not a pushca home (no pushca.db)", .0.display())]
    NotInitialized(PathBuf),
    /// The schema is newer than this build knows.
    #[error("the store was written by a newer pushca (schema {found}, this build knows {known})")]
    TooNew {
        /// The store's schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The store file cannot be created.
    #[error("cannot create the store file {}: {source}", path.display())]
    Create {
        /// The store file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A database URL that cannot be used (says why).
    #[error("invalid store URL: {0}")]
    Url(String),
    /// The database engine failed (I/O, locking, a full disk, a connection).
    #[error("store error: {0}")]
    Backend(#[from] BackendError),
    /// A team with this Team ID exists.
    #[error("team {0} already exists")]
    DuplicateTeam(String),
    /// An App ID with this bundle ID (in any letter case) exists.
    #[error("bundle ID {bundle_id} is already registered (team {team_id})")]
    DuplicateApp {
        /// The bundle ID.
        bundle_id: String,
        /// The team it is registered for.
        team_id: String,
    },
    /// The device is registered for the team.
    #[error("device {udid} is already registered for team {team_id}")]
    DuplicateDevice {
        /// The device.
        udid: String,
        /// The team.
        team_id: String,
    },
    /// A profile with this UUID exists.
    #[error("profile {0} is already in the store")]
    DuplicateProfile(String),
    /// A certificate with this serial exists.
    #[error("serial {0} is already in the store")]
    DuplicateSerial(String),
    /// An auth key with this Key ID exists.
    #[error("Key ID {0} is already in the store")]
    DuplicateKeyId(String),
    /// A serial looked up that is not hexadecimal.
    #[error("'{0}' is not a hexadecimal serial number")]
    NotHexSerial(String),
    /// A serial prefix that matches more than one certificate.
    #[error("serial prefix {0} matches several certificates; give more digits")]
    AmbiguousSerial(String),
    /// The store breaks its own invariants (says which).
    #[error("corrupt store: {0}")]
    Corrupt(&'static str),
    /// A store that should be empty holds records (this table has some).
    #[error("the store is not empty (table {0} holds records)")]
    NotEmpty(String),
}

impl StoreError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            StoreError::NotInitialized(_) => ErrorKind::NotInitialized,
            StoreError::DuplicateTeam(_)
            | StoreError::DuplicateApp { .. }
            | StoreError::DuplicateDevice { .. }
            | StoreError::DuplicateProfile(_)
            | StoreError::DuplicateSerial(_)
            | StoreError::DuplicateKeyId(_)
            | StoreError::AmbiguousSerial(_)
            | StoreError::NotEmpty(_) => ErrorKind::Conflict,
            // A serial that is not hex names no certificate of the store.
            StoreError::NotHexSerial(_) => ErrorKind::NotFound,
            StoreError::Url(_) => ErrorKind::Input,
            StoreError::Create { .. } | StoreError::Backend(_) => ErrorKind::Io,
            StoreError::TooNew { .. } | StoreError::Corrupt(_) => ErrorKind::Internal,
        }
    }
}

/// An error of the database engine, kept as the source of
/// [`StoreError::Backend`] without exposing the engine's types.
#[derive(Debug)]
pub struct BackendError(db::Error);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            db::Error::Sqlite(e) => Some(e),
            db::Error::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

impl From<db::Error> for StoreError {
    fn from(e: db::Error) -> Self {
        StoreError::Backend(BackendError(e))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        db::Error::from(e).into()
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        db::Error::from(e).into()
    }
}

pub(crate) type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One transaction, read or write. Queries are its methods (see `records`).
pub struct Tx<'a>(db::Conn<'a>);

impl<'a> Tx<'a> {
    fn conn(&self) -> &db::Conn<'a> {
        &self.0
    }
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `pushca.db` in the home, embedded.
    Sqlite,
    /// A PostgreSQL database, shared by every process that opens its URL.
    Postgres,
}

enum Backend {
    Sqlite(Connection),
    Postgres(Box<PgConnection>),
}

struct PgConnection {
    client: postgres::Client,
    statements: db::StatementCache,
    /// The URL it was opened with (empty: it cannot be opened again).
    url: String,
}

impl PgConnection {
    /// A connection to `url`, its schema brought up to date.
    fn open(url: &str) -> Result<PgConnection> {
        let mut client = pg::connect(url)?;
        migrations::migrate_pg(&mut client)?;
        Ok(PgConnection::new(client, url))
    }

    fn new(client: postgres::Client, url: &str) -> PgConnection {
        PgConnection {
            client,
            statements: Default::default(),
            url: url.to_string(),
        }
    }

    /// After starting a transaction failed with `e`: when the connection
    /// turned out to be closed (the server ended it: a restart,
    /// `pg_terminate_backend`, an idle timeout), nothing was done on it, so
    /// it is opened again (when `allowed` and the URL is known) and the
    /// caller starts its transaction there. Else `e`.
    fn reopen_after(&mut self, e: postgres::Error, allowed: bool) -> Result<()> {
        if !allowed || self.url.is_empty() || !(self.client.is_closed() || e.is_closed()) {
            return Err(e.into());
        }
        *self = PgConnection::open(&self.url)?;
        Ok(())
    }
}

/// The store: one SQLite connection, or one PostgreSQL connection.
pub struct Store {
    backend: Backend,
    /// Write transactions run again after a serialization failure.
    retried: u64,
    /// A transaction is open (set while `read` or `write` runs; left set
    /// when one did not finish).
    in_tx: bool,
    /// A session lock is held ([`Store::hold_lock`]): the connection keeps
    /// it until it is closed.
    session_lock: bool,
}

impl Store {
    /// Opens an existing SQLite store and brings its schema up to date.
    pub fn open(db_path: &Path) -> Result<Store> {
        if !db_path.is_file() {
            let home = db_path.parent().unwrap_or(db_path);
            return Err(StoreError::NotInitialized(home.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Store::configure(conn)
    }

    /// Opens the PostgreSQL store at `url` (`postgres://USER@HOST[:PORT]/DB?...`,
    /// `sslmode` and `sslrootcert` as libpq reads them), creating or
    /// updating its schema (one process migrates; the others wait for it).
    ///
    /// The store has a connection of its own, closed when it is dropped;
    /// [`Store::open_pooled`] reuses connections within a process.
    pub fn open_url(url: &str) -> Result<Store> {
        Ok(Store::with_backend(Backend::Postgres(Box::new(
            PgConnection::open(url)?,
        ))))
    }

    fn with_backend(backend: Backend) -> Store {
        Store {
            backend,
            retried: 0,
            in_tx: false,
            session_lock: false,
        }
    }

    /// Whether this store's connection can serve another operation: a
    /// PostgreSQL connection still open, with no transaction left open and
    /// no session lock held. Never a SQLite store (it is not pooled).
    fn reusable(&self) -> bool {
        match &self.backend {
            Backend::Postgres(pg) => !self.in_tx && !self.session_lock && !pg.client.is_closed(),
            Backend::Sqlite(_) => false,
        }
    }

    /// A cheap round trip (an empty query) within `timeout`: whether the
    /// connection still answers.
    fn answers(&mut self, timeout: Duration) -> bool {
        match &mut self.backend {
            Backend::Postgres(pg) => pg.client.is_valid(timeout).is_ok(),
            Backend::Sqlite(_) => true,
        }
    }

    /// The server process of this store's PostgreSQL connection (tests).
    #[cfg(test)]
    pub(crate) fn backend_pid(&mut self) -> Result<i64> {
        self.read(|tx| {
            tx.conn()
                .query_row("SELECT pg_backend_pid()::BIGINT", [], |r| r.get(0))
                .map_err(StoreError::from)
        })
    }

    /// Whether `location` names a database by URL (else it is a home's file).
    pub fn is_url(location: &str) -> bool {
        pg::is_postgres_url(location)
    }

    /// Which engine this store runs on.
    pub fn kind(&self) -> StoreKind {
        match self.backend {
            Backend::Sqlite(_) => StoreKind::Sqlite,
            Backend::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// Creates a new store file (it must not exist) with the current schema.
    /// The file is created with mode 0600 first; SQLite gives its WAL and
    /// shared-memory files the database file's mode.
    pub(crate) fn create(db_path: &Path) -> Result<Store> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db_path)
            .map_err(|source| StoreError::Create {
                path: db_path.to_path_buf(),
                source,
            })?;
        let conn = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Store::configure(conn)
    }

    fn configure(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // WAL lets readers proceed while one writer commits.
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrations::migrate(&mut conn)?;
        Ok(Store::with_backend(Backend::Sqlite(conn)))
    }

    /// Runs `f` in one write transaction, committing only on `Ok`. A failure
    /// (`Err` from `f`, or a panic) rolls everything back.
    ///
    /// On PostgreSQL the transaction is SERIALIZABLE: when it loses to a
    /// concurrent one (a serialization failure or a deadlock), it is rolled
    /// back and `f` runs again from the start, after a random pause, so the
    /// caller never sees that failure. `f` must therefore keep its effects
    /// inside the transaction (or make them repeatable): whatever it did in
    /// a rolled-back attempt is done again.
    pub fn write<T, E>(&mut self, f: impl FnMut(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.in_tx = true;
        let out = self.write_inner(f);
        self.in_tx = false;
        out
    }

    fn write_inner<T, E>(&mut self, mut f: impl FnMut(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let may_reopen = !self.session_lock;
        let pg = match &mut self.backend {
            Backend::Sqlite(conn) => {
                let tx = Tx(db::Conn::Sqlite(
                    conn.transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(StoreError::from)?,
                ));
                let out = f(&tx)?;
                let db::Conn::Sqlite(tx) = tx.0 else {
                    return Err(StoreError::Corrupt("transaction engine").into());
                };
                tx.commit().map_err(StoreError::from)?;
                return Ok(out);
            }
            Backend::Postgres(pg) => pg,
        };
        let mut attempt = 1;
        loop {
            let mut may_reopen = may_reopen && attempt == 1;
            let tx = loop {
                let e = match pg
                    .client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::Serializable)
                    .start()
                {
                    Ok(tx) => break tx,
                    Err(e) => e,
                };
                pg.reopen_after(e, std::mem::take(&mut may_reopen))?;
            };
            let tx = Tx(db::Conn::Postgres(db::PgTx::new(tx, &pg.statements)));
            let out = f(&tx);
            let db::Conn::Postgres(tx) = tx.0 else {
                return Err(StoreError::Corrupt("transaction engine").into());
            };
            // The error to give when no attempt is left.
            let failed: E = match out {
                Ok(v) if !tx.retryable() => match tx.commit() {
                    Ok(()) => return Ok(v),
                    Err(e) if e.is_retryable() => StoreError::from(e).into(),
                    Err(e) => return Err(StoreError::from(e).into()),
                },
                Ok(_) => {
                    drop(tx); // rolls back
                    StoreError::from(db::Error::Aborted).into()
                }
                Err(e) if tx.retryable() => {
                    drop(tx);
                    e
                }
                Err(e) => return Err(e),
            };
            if attempt >= WRITE_ATTEMPTS {
                return Err(failed);
            }
            self.retried += 1;
            retry_pause(attempt);
            attempt += 1;
        }
    }

    /// Takes `lock` until this store is dropped (its connection closed): a
    /// PostgreSQL session advisory lock; other processes wait for it. On
    /// SQLite nothing (the caller locks a file of the home).
    pub(crate) fn hold_lock(&mut self, lock: StoreLock) -> Result<()> {
        if let Backend::Postgres(pg) = &mut self.backend {
            // Never back into a pool: the lock lives as long as the connection.
            self.session_lock = true;
            pg.client
                .execute("SELECT pg_advisory_lock($1)", &[&lock.key()])?;
        }
        Ok(())
    }

    /// How many write transactions this store ran again after a
    /// serialization failure.
    #[cfg(test)]
    pub(crate) fn retried(&self) -> u64 {
        self.retried
    }

    /// Read-only access: one consistent snapshot for every read in `f`.
    pub(crate) fn read<T, E>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.in_tx = true;
        let out = self.read_inner(f);
        self.in_tx = false;
        out
    }

    fn read_inner<T, E>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut may_reopen = !self.session_lock;
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let tx = Tx(db::Conn::Sqlite(
                    conn.transaction_with_behavior(TransactionBehavior::Deferred)
                        .map_err(StoreError::from)?,
                ));
                let out = f(&tx)?;
                if let db::Conn::Sqlite(tx) = tx.0 {
                    tx.commit().map_err(StoreError::from)?;
                }
                Ok(out)
            }
            Backend::Postgres(pg) => {
                // A snapshot that never fails to serialize (reads only).
                let tx = loop {
                    let e = match pg
                        .client
                        .build_transaction()
                        .isolation_level(postgres::IsolationLevel::RepeatableRead)
                        .start()
                    {
                        Ok(tx) => break tx,
                        Err(e) => e,
                    };
                    pg.reopen_after(e, std::mem::take(&mut may_reopen))?;
                };
                let tx = Tx(db::Conn::Postgres(db::PgTx::new(tx, &pg.statements)));
                let out = f(&tx)?;
                if let db::Conn::Postgres(tx) = tx.0 {
                    tx.commit().map_err(StoreError::from)?;
                }
                Ok(out)
            }
        }
    }

    /// Brings the schema up to date again (tests).
    #[cfg(test)]
    pub(crate) fn migrate_again(&mut self) -> Result<()> {
        match &mut self.backend {
            Backend::Sqlite(conn) => migrations::migrate(conn),
            Backend::Postgres(pg) => migrations::migrate_pg(&mut pg.client),
        }
    }

    /// An in-memory SQLite store with the current schema (unit tests).
    #[cfg(test)]
    pub(crate) fn in_memory() -> Result<Store> {
        Store::configure(Connection::open_in_memory()?)
    }

    /// Checkpoints the WAL and leaves the database in one file, so that it can
    /// be renamed or linked into place (used by `init`). Nothing to do on
    /// PostgreSQL.
    pub(crate) fn finish_for_rename(&self) -> Result<()> {
        if let Backend::Sqlite(conn) = &self.backend {
            let _: String = conn.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
        }
        Ok(())
    }
}

/// A random pause before attempt `attempt + 1`: up to 1, 2, 4, ... ms,
/// at most 50 ms, so that the conflicting transactions spread out.
fn retry_pause(attempt: u32) {
    use rand::Rng;
    let cap_ms = 1u64 << attempt.min(6);
    let micros = rand::thread_rng().gen_range(0..=cap_ms.min(50) * 1000);
    std::thread::sleep(Duration::from_micros(micros));
}

#[cfg(test)]
mod tests {
    use super::testdb::on_both_stores;
    use super::*;

    on_both_stores!(
        a_failed_write_rolls_back_everything,
        serial_lookup_rules,
        auth_keys_round_trip_count_and_revoke,
        every_record_round_trips,
    );

    fn team(id: &str) -> TeamRecord {
        TeamRecord {
            team_id: id.into(),
            name: "T".into(),
            is_default: false,
            created_at: 0,
        }
    }

    fn a_failed_write_rolls_back_everything(mut st: Store) {
        st.write(|tx| tx.insert_team(&team("AAAAAAAAAA"))).unwrap();
        let r: Result<(), StoreError> = st.write(|tx| {
            tx.insert_team(&team("BBBBBBBBBB"))?;
            tx.set_setting("k", "v")?;
            Err(StoreError::Corrupt("injected failure"))
        });
        assert!(r.is_err());
        let (teams, k) = st
            .read(|tx| Ok::<_, StoreError>((tx.list_teams()?, tx.setting("k")?)))
            .unwrap();
        assert_eq!(teams.len(), 1, "the failed write must leave no team behind");
        assert_eq!(k, None);
        // A duplicate is a typed error and also rolls back its transaction.
        let r = st.write(|tx| {
            tx.set_setting("k2", "v")?;
            tx.insert_team(&team("AAAAAAAAAA"))
        });
        assert!(matches!(r, Err(StoreError::DuplicateTeam(ref id)) if id == "AAAAAAAAAA"));
        assert_eq!(st.read(|tx| tx.setting("k2")).unwrap(), None);
    }

    fn serial_lookup_rules(mut st: Store) {
        st.write(|tx| {
            tx.insert_team(&TeamRecord {
                is_default: true,
                ..team("AAAAAAAAAA")
            })?;
            tx.insert_app(&AppRecord {
                bundle_id: "com.x".into(),
                name: "x".into(),
                team_id: "AAAAAAAAAA".into(),
                push: true,
                enabled: true,
                created_at: 0,
            })?;
            for serial in ["0aabbccdd11", "0aabbccdd22", "1234"] {
                tx.insert_certificate(&CertRecord {
                    kind: CertRecord::PUSH.into(),
                    serial: serial.into(),
                    bundle_id: "com.x".into(),
                    team_id: "AAAAAAAAAA".into(),
                    environment: "development".into(),
                    subject: String::new(),
                    not_before: 0,
                    not_after: 1,
                    sha256: serial.into(),
                    key_type: "ec-p256".into(),
                    der: vec![],
                    issued_at: 0,
                    revoked_at: None,
                    revocation_reason: None,
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
        st.read(|tx| {
            // Ambiguous prefix: a typed error, never an arbitrary pick.
            assert!(matches!(
                tx.find_certificate("aabbccdd"),
                Err(StoreError::AmbiguousSerial(_))
            ));
            assert_eq!(
                tx.find_certificate("AA:BB:CC:DD:11")?.map(|c| c.serial),
                Some("0aabbccdd11".to_string())
            );
            // Short prefixes match only exactly.
            assert_eq!(tx.find_certificate("12")?, None);
            assert!(tx.find_certificate("1234")?.is_some());
            assert!(matches!(
                tx.find_certificate("./cert.pem"),
                Err(StoreError::NotHexSerial(_))
            ));
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }
    /// An auth key round-trips with its App IDs (sorted); a duplicate Key ID
    /// is a typed conflict that leaves nothing; only active keys count; a
    /// revocation happens once and keeps its first time.
    fn auth_keys_round_trip_count_and_revoke(mut st: Store) {
        let key = |id: &str, scope: &str, apps: &[&str]| KeyRecord {
            key_id: id.into(),
            team_id: "AAAAAAAAAA".into(),
            name: "k".into(),
            environment: "development".into(),
            scope: scope.into(),
            public_key: vec![0x30, 0x59],
            created_at: 5,
            revoked_at: None,
            apps: apps.iter().map(|a| a.to_string()).collect(),
        };
        st.write(|tx| {
            tx.insert_team(&TeamRecord {
                is_default: true,
                ..team("AAAAAAAAAA")
            })?;
            for b in ["com.b", "com.a"] {
                tx.insert_app(&AppRecord {
                    bundle_id: b.into(),
                    name: b.into(),
                    team_id: "AAAAAAAAAA".into(),
                    push: true,
                    enabled: true,
                    created_at: 0,
                })?;
            }
            tx.insert_key(&key("KEYAAAAAA1", KeyRecord::TOPICS, &["com.b", "com.a"]))?;
            tx.insert_key(&key("KEYAAAAAA2", KeyRecord::TEAM, &[]))
        })
        .unwrap();
        let dup = st.write(|tx| tx.insert_key(&key("KEYAAAAAA2", KeyRecord::TOPICS, &["com.a"])));
        assert!(matches!(dup, Err(StoreError::DuplicateKeyId(ref id)) if id == "KEYAAAAAA2"));
        // A reference that fails is not a duplicate Key ID.
        let bad = st.write(|tx| tx.insert_key(&key("KEYAAAAAA3", KeyRecord::TOPICS, &["com.z"])));
        assert!(matches!(bad, Err(StoreError::Backend(_))), "{bad:?}");
        st.write(|tx| {
            let k = tx.key("KEYAAAAAA1")?.unwrap();
            assert_eq!(k.apps, ["com.a", "com.b"]);
            assert_eq!(k.public_key, [0x30, 0x59]);
            assert_eq!(tx.key("KEYAAAAAA2")?.unwrap().apps, Vec::<String>::new());
            assert_eq!(tx.key("KEYAAAAAA3")?, None);
            assert_eq!(tx.list_keys(None)?.len(), 2);
            assert_eq!(tx.list_keys(Some("BBBBBBBBBB"))?.len(), 0);
            let count = |scope| tx.count_active_keys("AAAAAAAAAA", "development", scope);
            assert_eq!((count("team")?, count("topics")?), (1, 1));
            assert_eq!(tx.count_active_keys("AAAAAAAAAA", "production", "team")?, 0);
            assert!(tx.revoke_key("KEYAAAAAA2", 7)?);
            assert!(!tx.revoke_key("KEYAAAAAA2", 9)?);
            assert_eq!(tx.key("KEYAAAAAA2")?.unwrap().revoked_at, Some(7));
            assert_eq!(count("team")?, 0);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    fn push_cert(serial: &str) -> CertRecord {
        CertRecord {
            kind: CertRecord::PUSH.into(),
            serial: serial.into(),
            bundle_id: "com.x".into(),
            team_id: "AAAAAAAAAA".into(),
            environment: "development".into(),
            subject: "CN=x".into(),
            not_before: 0,
            not_after: 1,
            sha256: format!("h{serial}"),
            key_type: "ec-p256".into(),
            der: serial.as_bytes().to_vec(),
            issued_at: 0,
            revoked_at: None,
            revocation_reason: None,
        }
    }

    /// 8 connections × 50 write transactions on one PostgreSQL database,
    /// each recording a certificate with a random serial and the next CRL
    /// number: every one commits (serialization failures happen and are run
    /// again, none reaches the caller), no record is lost, no CRL number is
    /// given twice or goes backwards.
    #[test]
    fn concurrent_writers_on_postgres_lose_nothing_and_retry_conflicts() {
        let url = testdb::fresh_url();
        let mut st = Store::open_url(&url).unwrap();
        st.write(|tx| {
            tx.insert_team(&TeamRecord {
                is_default: true,
                ..team("AAAAAAAAAA")
            })?;
            tx.insert_app(&AppRecord {
                bundle_id: "com.x".into(),
                name: "x".into(),
                team_id: "AAAAAAAAAA".into(),
                push: true,
                enabled: true,
                created_at: 0,
            })
        })
        .unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (url, barrier) = (url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut st = Store::open_url(&url).unwrap();
                    barrier.wait();
                    let mut done = Vec::new();
                    for _ in 0..50 {
                        let serial = format!("{:032x}", rand::random::<u128>());
                        let number = st
                            .write(|tx| {
                                tx.insert_certificate(&push_cert(&serial))?;
                                let number = tx.latest_crl("issuing")?.map_or(1, |c| c.number + 1);
                                tx.insert_crl(&CrlRecord {
                                    issuer: "issuing".into(),
                                    number,
                                    this_update: 0,
                                    next_update: 1,
                                    revoked: 0,
                                    der: vec![1],
                                })?;
                                Ok::<_, StoreError>(number)
                            })
                            .unwrap_or_else(|e| panic!("a write surfaced an error: {e}"));
                        done.push((serial, number));
                    }
                    (done, st.retried())
                })
            })
            .collect();
        let mut serials = std::collections::BTreeSet::new();
        let mut numbers = std::collections::BTreeSet::new();
        let mut retried = 0;
        for w in workers {
            let (done, r) = w.join().unwrap();
            retried += r;
            let mine: Vec<i64> = done.iter().map(|d| d.1).collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "CRL numbers went backwards: {mine:?}"
            );
            for (serial, number) in done {
                assert!(serials.insert(serial), "a serial recorded twice");
                assert!(numbers.insert(number), "CRL number {number} given twice");
            }
        }
        assert_eq!(numbers, (1..=400).collect(), "CRL numbers 1..=400");
        assert!(retried > 0, "the conflicts were retried ({retried})");
        st.read(|tx| {
            let stored = tx.list_certificates(&CertFilter::default())?;
            assert_eq!(stored.len(), 400);
            for c in &stored {
                assert!(serials.contains(&c.serial));
            }
            assert_eq!(tx.latest_crl("issuing")?.unwrap().number, 400);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    /// Processes opening one empty PostgreSQL database at the same time:
    /// one migrates (under the advisory lock), the others wait and find the
    /// schema current; none fails.
    #[test]
    fn processes_opening_an_empty_postgres_database_together_migrate_once() {
        let url = testdb::fresh_url();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let (url, barrier) = (url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open_url(&url).map(|_| ())
                })
            })
            .collect();
        for o in openers {
            o.join().unwrap().unwrap();
        }
        let mut st = Store::open_url(&url).unwrap();
        let versions: Vec<i64> = st
            .read(|tx| {
                tx.conn()
                    .prepare("SELECT version FROM schema_version ORDER BY version")?
                    .query_map([], |r| r.get(0))?
                    .collect::<db::Result<Vec<i64>>>()
                    .map_err(StoreError::from)
            })
            .unwrap();
        assert_eq!(versions, (1..=migrations::LATEST).collect::<Vec<_>>());
    }

    /// A PostgreSQL URL that cannot be used is one clear error before any
    /// connection; a closed port fails within the connect timeout.
    #[test]
    fn bad_postgres_urls_are_clear_errors() {
        let e = Store::open_url("postgres://h/d?sslmode=sometimes")
            .err()
            .unwrap();
        assert!(matches!(e, StoreError::Url(_)), "{e:?}");
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = std::time::Instant::now();
        let e = Store::open_url(&format!("postgres://u@127.0.0.1:{port}/d?sslmode=disable"))
            .err()
            .unwrap();
        assert!(matches!(e, StoreError::Backend(_)), "{e:?}");
        assert!(e.to_string().contains("refused"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(15));
    }

    /// Every kind of record goes in and comes back the same, through every
    /// query, with the same filters, orders, case rules and conflicts on
    /// both engines.
    fn every_record_round_trips(mut st: Store) {
        let device = |udid: &str| DeviceRecord {
            team_id: "AAAAAAAAAA".into(),
            udid: udid.into(),
            name: format!("d {udid}"),
            enabled: true,
            created_at: 3,
        };
        let profile = |uuid: &str, expires_at: i64| ProfileRecord {
            uuid: uuid.into(),
            name: "p".into(),
            bundle_id: "com.x".into(),
            team_id: "AAAAAAAAAA".into(),
            environment: "development".into(),
            devices_mode: "listed".into(),
            certs_mode: "default".into(),
            lifetime_days: Some(30),
            created_at: 4,
            expires_at,
            sha256: "ff".into(),
            der: vec![0, 1, 2, 255],
            superseded_by: None,
            superseded_at: None,
            withdrawn_at: None,
            devices: vec!["u1".into(), "u2".into()],
            cert_serials: vec!["0a".into()],
        };
        st.write(|tx| {
            tx.set_setting("k", "v1")?;
            tx.set_setting("k", "v2")?;
            tx.insert_team(&TeamRecord {
                is_default: true,
                ..team("AAAAAAAAAA")
            })?;
            tx.insert_team(&team("BBBBBBBBBB"))?;
            tx.insert_app(&AppRecord {
                bundle_id: "com.x".into(),
                name: "x".into(),
                team_id: "AAAAAAAAAA".into(),
                push: true,
                enabled: true,
                created_at: 1,
            })?;
            tx.insert_certificate(&CertRecord {
                not_after: 100,
                ..push_cert("0a")
            })?;
            tx.insert_certificate(&CertRecord {
                kind: CertRecord::SERVER.into(),
                bundle_id: String::new(),
                environment: String::new(),
                not_after: 50,
                ..push_cert("0b")
            })?;
            tx.insert_device(&device("u1"))?;
            tx.insert_device(&device("u2"))?;
            tx.insert_profile(&profile("P1", 10))?;
            tx.insert_profile(&profile("P2", 20))?;
            tx.insert_crl(&CrlRecord {
                issuer: "root".into(),
                number: 1,
                this_update: 5,
                next_update: 6,
                revoked: 0,
                der: vec![9],
            })?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let dup = st.write(|tx| {
            tx.insert_app(&AppRecord {
                bundle_id: "COM.X".into(),
                name: "x".into(),
                team_id: "BBBBBBBBBB".into(),
                push: false,
                enabled: true,
                created_at: 1,
            })
        });
        assert!(
            matches!(dup, Err(StoreError::DuplicateApp { ref team_id, .. }) if team_id == "AAAAAAAAAA")
        );
        let dup = st.write(|tx| tx.insert_certificate(&push_cert("0a")));
        assert!(
            matches!(dup, Err(StoreError::DuplicateSerial(ref s)) if s == "0a"),
            "{dup:?}"
        );
        let dup = st.write(|tx| tx.insert_device(&device("u1")));
        assert!(
            matches!(dup, Err(StoreError::DuplicateDevice { .. })),
            "{dup:?}"
        );
        let dup = st.write(|tx| tx.insert_profile(&profile("P1", 10)));
        assert!(
            matches!(dup, Err(StoreError::DuplicateProfile(_))),
            "{dup:?}"
        );
        st.write(|tx| {
            assert_eq!(tx.setting("k")?.as_deref(), Some("v2"));
            let teams: Vec<String> = tx.list_teams()?.into_iter().map(|t| t.team_id).collect();
            assert_eq!(teams, ["AAAAAAAAAA", "BBBBBBBBBB"]);
            assert_eq!(tx.default_team()?.team_id, "AAAAAAAAAA");
            assert!(tx.team("BBBBBBBBBB")?.is_some() && tx.team("CCCCCCCCCC")?.is_none());
            // App IDs: one identity whatever the letter case.
            let app = tx.app("COM.X")?.unwrap();
            assert_eq!(
                (app.bundle_id.as_str(), app.push, app.enabled),
                ("com.x", true, true)
            );
            assert_eq!(tx.list_apps(None)?.len(), 1);
            assert_eq!(tx.list_apps(Some("BBBBBBBBBB"))?.len(), 0);
            assert!(tx.update_app("com.x", false, "y")?);
            assert!(!tx.update_app("com.x", false, "y")?);
            assert!(tx.set_app_enabled("com.x", false)?);
            assert!(!tx.set_app_enabled("com.x", false)?);
            let app = tx.app("com.x")?.unwrap();
            assert_eq!(
                (app.name.as_str(), app.push, app.enabled),
                ("y", false, false)
            );
            // Certificates.
            let all = tx.list_certificates(&CertFilter::default())?;
            assert_eq!(
                all.iter().map(|c| c.serial.as_str()).collect::<Vec<_>>(),
                ["0b", "0a"]
            );
            assert_eq!(all[0].bundle_id, "", "no App ID reads as empty");
            assert_eq!(
                all[1],
                CertRecord {
                    not_after: 100,
                    ..push_cert("0a")
                }
            );
            let push = tx.list_certificates(&CertFilter {
                bundle_id: Some("com.x"),
                environment: Some("development"),
                expiring_before: Some(101),
            })?;
            assert_eq!(push.len(), 1);
            let soon = tx.list_certificates(&CertFilter {
                expiring_before: Some(60),
                ..Default::default()
            })?;
            assert_eq!(soon.len(), 1);
            assert_eq!(tx.certificate("0b")?.unwrap().kind, "server");
            assert_eq!(tx.certificate_by_sha256("H0A")?.unwrap().serial, "0a");
            assert!(tx.revoke_certificate("0a", 7, "keyCompromise")?);
            assert!(!tx.revoke_certificate("0a", 8, "superseded")?);
            let revoked = tx.revoked_unexpired(20)?;
            assert_eq!(revoked.len(), 1);
            assert_eq!(
                (
                    revoked[0].revoked_at,
                    revoked[0].revocation_reason.as_deref()
                ),
                (Some(7), Some("keyCompromise"))
            );
            assert!(tx.revoked_unexpired(100)?.is_empty());
            // Devices.
            assert_eq!(tx.device("AAAAAAAAAA", "u1")?.unwrap(), device("u1"));
            assert_eq!(tx.devices_with_udid("u2")?.len(), 1);
            assert!(tx.set_device_enabled("AAAAAAAAAA", "u2", false)?);
            assert!(!tx.set_device_enabled("AAAAAAAAAA", "u2", false)?);
            assert_eq!(tx.list_devices(None, false)?.len(), 2);
            assert_eq!(tx.list_devices(Some("AAAAAAAAAA"), true)?.len(), 1);
            // Profiles.
            assert_eq!(tx.profile("p1")?.unwrap(), profile("P1", 10));
            let current = |tx: &Tx<'_>, all: bool| -> Result<Vec<String>> {
                Ok(tx
                    .list_profiles(&ProfileFilter {
                        bundle_id: Some("com.x"),
                        environment: Some("development"),
                        include_superseded: all,
                        expiring_before: Some(1000),
                    })?
                    .into_iter()
                    .map(|p| p.uuid)
                    .collect())
            };
            assert_eq!(current(tx, false)?, ["P1", "P2"]);
            assert!(tx.supersede_profile("P1", "P2", 9)?);
            assert!(!tx.supersede_profile("P1", "P2", 9)?);
            assert!(tx.withdraw_profile("P2", 11)?);
            assert!(current(tx, false)?.is_empty());
            assert_eq!(current(tx, true)?, ["P1", "P2"]);
            let p1 = tx.profile("P1")?.unwrap();
            assert_eq!(
                (p1.superseded_by.as_deref(), p1.superseded_at),
                (Some("P2"), Some(9))
            );
            assert_eq!(tx.profile("P2")?.unwrap().withdrawn_at, Some(11));
            // CRLs.
            assert_eq!(tx.latest_crl("root")?.unwrap().der, [9]);
            assert_eq!(tx.latest_crl("issuing")?, None);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    /// `sslmode` over TCP against a server with TLS: `disable` is plain,
    /// `require` encrypts; `verify-full` needs the certificate to chain to
    /// `sslrootcert` and to name the host, `verify-ca` only the chain.
    #[test]
    fn postgres_over_tls_honours_sslmode() {
        fn ssl_in_use(url: &str) -> Result<bool> {
            let mut st = Store::open_url(url)?;
            st.read(|tx| {
                tx.conn()
                    .query_row(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(StoreError::from)
            })
        }
        let (url, ca) = testdb::fresh_tcp_url("localhost");
        let ca = ca.display().to_string().replace('/', "%2F");
        assert!(!ssl_in_use(&format!("{url}?sslmode=disable")).unwrap());
        assert!(ssl_in_use(&format!("{url}?sslmode=require")).unwrap());
        assert!(
            ssl_in_use(&url).unwrap(),
            "prefer (the default) uses TLS when it can"
        );
        assert!(ssl_in_use(&format!("{url}?sslmode=verify-full&sslrootcert={ca}")).unwrap());
        // Another trust anchor: refused.
        let e = ssl_in_use(&format!("{url}?sslmode=verify-full&sslrootcert=system")).unwrap_err();
        assert!(matches!(e, StoreError::Backend(_)), "{e:?}");
        // The certificate names localhost, not 127.0.0.1.
        let (url, _) = testdb::fresh_tcp_url("127.0.0.1");
        assert!(ssl_in_use(&format!("{url}?sslmode=verify-full&sslrootcert={ca}")).is_err());
        assert!(ssl_in_use(&format!("{url}?sslmode=verify-ca&sslrootcert={ca}")).unwrap());
    }
}
