//! The gateway's state in SQLite (WAL) under `--state`: registrations,
//! unregistrations (with their time), stored notifications (the newest per
//! device token, that is per app, environment and device) and the highest
//! trust store version served. Every write is committed before the caller
//! acknowledges it; a process crash (`kill -9`) loses nothing committed.
//! Tokens are also kept in memory, so a push costs a hash lookup.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use pushca::gateway::Environment;
use rusqlite::{params, Connection, OptionalExtension};

/// The database file under `--state`.
pub(crate) const DB_FILE: &str = "gateway.sqlite3";

/// What a device token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The device that registered it.
    pub udid: String,
    /// The app it is for.
    pub bundle_id: String,
    /// The environment it is for.
    pub env: Environment,
    /// When it was unregistered (unix milliseconds), if it was.
    pub unregistered_ms: Option<u64>,
}

type LiveKey = (String, String, Environment);

#[derive(Default)]
struct Index {
    tokens: HashMap<[u8; 32], TokenInfo>,
    live: HashMap<LiveKey, [u8; 32]>,
}

/// The state: one SQLite connection for writes (serialised) and the token
/// index in memory.
pub struct State {
    db: Mutex<Connection>,
    index: RwLock<Index>,
}

/// A state error: the message says what failed.
#[derive(Debug)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn db_err(what: &str) -> impl Fn(rusqlite::Error) -> StateError + '_ {
    move |e| StateError(format!("state database: {what}: {e}"))
}

fn env_name(env: Environment) -> &'static str {
    env.name()
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    token BLOB PRIMARY KEY,
    udid TEXT NOT NULL,
    bundle_id TEXT NOT NULL,
    env TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    unregistered_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS live_tokens ON tokens (udid, bundle_id, env)
    WHERE unregistered_ms IS NULL;
CREATE TABLE IF NOT EXISTS stored (
    token BLOB PRIMARY KEY,
    udid TEXT NOT NULL,
    expires INTEGER NOT NULL,
    line BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS stored_udid ON stored (udid);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

impl State {
    /// Opens (creating it when missing) the state in `dir`.
    pub fn open(dir: &Path) -> Result<State, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| StateError(format!("{}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let db =
            Connection::open(&path).map_err(|e| StateError(format!("{}: {e}", path.display())))?;
        let open_err = |e: rusqlite::Error| StateError(format!("{}: {e}", path.display()));
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let mode: String = db
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError(format!(
                "{}: cannot use write-ahead logging (journal mode {mode})",
                path.display()
            )));
        }
        // WAL + NORMAL: a commit survives a crash of the process.
        db.execute_batch("PRAGMA synchronous=NORMAL;")
            .map_err(open_err)?;
        db.execute_batch(SCHEMA).map_err(open_err)?;
        let mut index = Index::default();
        {
            let mut q = db
                .prepare("SELECT token, udid, bundle_id, env, unregistered_ms FROM tokens")
                .map_err(open_err)?;
            let rows = q
                .query_map([], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })
                .map_err(open_err)?;
            for row in rows {
                let (token, udid, bundle_id, env, unreg) = row.map_err(open_err)?;
                let (Ok(token), Some(env)) =
                    (<[u8; 32]>::try_from(token), Environment::from_name(&env))
                else {
                    return Err(StateError(format!(
                        "{}: a registration is not a 32-byte token for development or production (not this gateway's state?)",
                        path.display()
                    )));
                };
                let info = TokenInfo {
                    udid,
                    bundle_id,
                    env,
                    unregistered_ms: unreg.map(|t| t.max(0) as u64),
                };
                if info.unregistered_ms.is_none() {
                    index
                        .live
                        .insert((info.udid.clone(), info.bundle_id.clone(), env), token);
                }
                index.tokens.insert(token, info);
            }
        }
        Ok(State {
            db: Mutex::new(db),
            index: RwLock::new(index),
        })
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StateError> {
        self.db
            .lock()
            .map_err(|_| StateError("state database: poisoned lock".into()))
    }

    /// The highest trust store version served (0 when none yet).
    pub fn version(&self) -> Result<u64, StateError> {
        let v: Option<i64> = self
            .db()?
            .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err("reading the version"))?;
        Ok(v.unwrap_or(0).max(0) as u64)
    }

    /// Records `version` as served (never lowers it).
    pub fn set_version(&self, version: u64) -> Result<(), StateError> {
        let v = i64::try_from(version)
            .map_err(|_| StateError(format!("version {version} is too large")))?;
        self.db()?
            .execute(
                "INSERT INTO meta (key, value) VALUES ('version', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                params![v],
            )
            .map_err(db_err("recording the version"))?;
        Ok(())
    }

    /// What `token` stands for.
    pub fn lookup(&self, token: &[u8; 32]) -> Option<TokenInfo> {
        self.index.read().ok()?.tokens.get(token).cloned()
    }

    /// The token of `udid` for `bundle_id` in `env`: the one it already has
    /// (not unregistered), else a new one (32 random bytes), committed.
    /// Returns the token and whether it is new.
    pub fn register(
        &self,
        udid: &str,
        bundle_id: &str,
        env: Environment,
    ) -> Result<([u8; 32], bool), StateError> {
        let db = self.db()?;
        let key = (udid.to_string(), bundle_id.to_string(), env);
        if let Some(t) = self
            .index
            .read()
            .ok()
            .and_then(|i| i.live.get(&key).copied())
        {
            return Ok((t, false));
        }
        let token = loop {
            let mut t = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut t);
            if self.lookup(&t).is_none() {
                break t;
            }
        };
        db.execute(
            "INSERT INTO tokens (token, udid, bundle_id, env, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![&token[..], udid, bundle_id, env_name(env), now_ms() as i64],
        )
        .map_err(db_err("recording a registration"))?;
        let mut index = self
            .index
            .write()
            .map_err(|_| StateError("state index: poisoned lock".into()))?;
        index.tokens.insert(
            token,
            TokenInfo {
                udid: udid.to_string(),
                bundle_id: bundle_id.to_string(),
                env,
                unregistered_ms: None,
            },
        );
        index.live.insert(key, token);
        Ok((token, true))
    }

    /// Unregisters `token` if it is a live token of `udid` (committed, with
    /// its time; its stored notification is dropped). Returns whether it was.
    pub fn unregister(&self, udid: &str, token: &[u8; 32]) -> Result<bool, StateError> {
        let db = self.db()?;
        let Some(info) = self.lookup(token) else {
            return Ok(false);
        };
        if info.udid != udid || info.unregistered_ms.is_some() {
            return Ok(false);
        }
        let at = now_ms();
        db.execute_batch("BEGIN IMMEDIATE")
            .map_err(db_err("recording an unregistration"))?;
        let done = db
            .execute(
                "UPDATE tokens SET unregistered_ms = ?1 WHERE token = ?2",
                params![at as i64, &token[..]],
            )
            .and_then(|_| db.execute("DELETE FROM stored WHERE token = ?1", params![&token[..]]))
            .and_then(|_| db.execute_batch("COMMIT"));
        if let Err(e) = done {
            let _ = db.execute_batch("ROLLBACK");
            return Err(db_err("recording an unregistration")(e));
        }
        let mut index = self
            .index
            .write()
            .map_err(|_| StateError("state index: poisoned lock".into()))?;
        index
            .live
            .remove(&(info.udid.clone(), info.bundle_id.clone(), info.env));
        if let Some(i) = index.tokens.get_mut(token) {
            i.unregistered_ms = Some(at);
        }
        Ok(true)
    }

    /// Stores a notification for an offline device until `expires` (unix
    /// seconds), replacing the one stored for the token.
    pub fn store(
        &self,
        token: &[u8; 32],
        udid: &str,
        expires: u64,
        line: &[u8],
    ) -> Result<(), StateError> {
        self.db()?
            .execute(
                "INSERT OR REPLACE INTO stored (token, udid, expires, line) VALUES (?1, ?2, ?3, ?4)",
                params![&token[..], udid, expires.min(i64::MAX as u64) as i64, line],
            )
            .map_err(db_err("storing a notification"))?;
        Ok(())
    }

    /// Takes the notifications stored for `udid` that have not expired at
    /// `now` (unix seconds); every stored one of the device is removed.
    pub fn take_stored(&self, udid: &str, now: u64) -> Result<Vec<Vec<u8>>, StateError> {
        let db = self.db()?;
        let lines = {
            let mut q = db
                .prepare("SELECT line FROM stored WHERE udid = ?1 AND expires > ?2 ORDER BY rowid")
                .map_err(db_err("reading stored notifications"))?;
            let rows = q
                .query_map(params![udid, now as i64], |r| r.get::<_, Vec<u8>>(0))
                .map_err(db_err("reading stored notifications"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(db_err("reading stored notifications"))?
        };
        db.execute("DELETE FROM stored WHERE udid = ?1", params![udid])
            .map_err(db_err("removing delivered notifications"))?;
        Ok(lines)
    }

    /// For the metrics: the live registrations per environment
    /// (development, production) and the stored notifications not expired.
    pub fn counts(&self) -> ([u64; 2], u64) {
        let mut live = [0u64; 2];
        if let Ok(index) = self.index.read() {
            for (_, _, env) in index.live.keys() {
                live[usize::from(*env == Environment::Production)] += 1;
            }
        }
        let stored: i64 = self
            .db()
            .ok()
            .and_then(|db| {
                db.query_row(
                    "SELECT count(*) FROM stored WHERE expires > ?1",
                    params![(now_ms() / 1000) as i64],
                    |r| r.get(0),
                )
                .ok()
            })
            .unwrap_or(0);
        (live, stored.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_unregistrations_and_the_version_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path()).unwrap();
        let (t, new) = s
            .register("U1", "com.example.app", Environment::Development)
            .unwrap();
        assert!(new);
        let (again, new) = s
            .register("U1", "com.example.app", Environment::Development)
            .unwrap();
        assert_eq!((again, new), (t, false));
        let (prod, _) = s
            .register("U1", "com.example.app", Environment::Production)
            .unwrap();
        assert_ne!(prod, t);
        assert!(
            !s.unregister("U2", &prod).unwrap(),
            "another device's token"
        );
        assert!(s.unregister("U1", &prod).unwrap());
        s.set_version(7).unwrap();
        s.set_version(3).unwrap();
        s.store(&t, "U1", u64::MAX, b"line").unwrap();
        drop(s);
        let s = State::open(dir.path()).unwrap();
        assert_eq!(s.version().unwrap(), 7);
        assert_eq!(s.lookup(&t).unwrap().unregistered_ms, None);
        assert!(s.lookup(&prod).unwrap().unregistered_ms.is_some());
        let (t2, new) = s
            .register("U1", "com.example.app", Environment::Development)
            .unwrap();
        assert_eq!((t2, new), (t, false));
        let (p2, new) = s
            .register("U1", "com.example.app", Environment::Production)
            .unwrap();
        assert!(new && p2 != prod, "a new token after an unregistration");
        assert_eq!(s.take_stored("U1", 0).unwrap(), vec![b"line".to_vec()]);
        assert!(s.take_stored("U1", 0).unwrap().is_empty());
    }
}
