//! The SQLite store in the pushca home: schema migrations, transactions and the
//! locking that makes concurrent pushca processes on one home safe.
//!
//! Every mutating command runs in one `BEGIN IMMEDIATE` transaction: SQLite takes
//! the write lock at the start, other writers wait (busy timeout) instead of
//! failing mid-way, and a failed command leaves the store as it was.

mod migrations;
pub mod records;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use records::*;

/// How long a process waits for another one's write transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} is not a pushca home (no pushca.db); run `pushca init` first")]
    NotInitialized(String),
    #[error("the store was written by a newer pushca (schema {found}, this build knows {known})")]
    TooNew { found: i64, known: i64 },
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("corrupt store record: {0}")]
    Corrupt(String),
}

/// Applies the schema to a bare connection (unit tests of other modules).
#[doc(hidden)]
pub fn migrate_for_tests(conn: &mut Connection) {
    migrations::migrate(conn).expect("migrate");
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens an existing store and brings its schema up to date.
    pub fn open(db_path: &Path) -> Result<Store> {
        if !db_path.is_file() {
            let home = db_path.parent().unwrap_or(db_path);
            return Err(StoreError::NotInitialized(home.display().to_string()));
        }
        let conn = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Store::configure(conn)
    }

    /// Creates a new store file (it must not exist) with the current schema.
    pub fn create(db_path: &Path) -> Result<Store> {
        if db_path.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists",
                db_path.display()
            )));
        }
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
        Ok(Store { conn })
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`), committing only on `Ok`.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let out = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Read-only access (a consistent snapshot per statement; wrap several reads
    /// in [`Store::read`] for one snapshot).
    pub fn read<T, E>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(StoreError::from)?;
        let out = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Checkpoints the WAL and leaves the database in one file, so that it can
    /// be renamed or linked into place (used by `init`).
    pub fn finish_for_rename(&self) -> Result<()> {
        let _: String = self
            .conn
            .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64> {
        migrations::current_version(&self.conn)
    }
}
