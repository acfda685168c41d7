//! PostgreSQL connections reused within a process (`pushca serve` runs
//! every call on the store: without reuse each one would pay a TCP, TLS and
//! authentication handshake and the schema check).
//!
//! [`Store::open_pooled`] hands out a [`PooledStore`] from a bounded pool
//! per URL; dropped, it goes back to the pool, unless its connection is
//! closed, a transaction was left open (a panic) or it holds a session lock
//! ([`Store::hold_lock`]). A connection idle for longer than
//! [`IDLE_CHECK_AFTER`] is checked with an empty query before it is handed
//! out again; one the server closed in the meantime is opened again by the
//! store when its next transaction starts (see `PgConnection::reopen_after`).
//! At most [`POOL_SIZE`] connections per URL serve operations at once; more
//! wait (up to [`super::BUSY_TIMEOUT`]). A thread that already holds a
//! pooled store and asks for another (an operation that opens a second one)
//! never waits: it gets a connection beyond the cap, closed when returned.
//!
//! SQLite stores are not pooled: opening a file is cheap.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::{Result, Store, StoreError};

/// Most connections per URL serving operations at once in one process.
pub(crate) const POOL_SIZE: usize = 16;
/// A connection idle longer than this is checked before it is reused.
pub(crate) const IDLE_CHECK_AFTER: Duration = Duration::from_secs(30);
/// How long that check may take before the connection is given up.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// Pooled stores this thread holds (of any pool).
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// The pools of this process, by URL.
fn pools() -> &'static Mutex<HashMap<String, Arc<Pool>>> {
    static POOLS: OnceLock<Mutex<HashMap<String, Arc<Pool>>>> = OnceLock::new();
    POOLS.get_or_init(Default::default)
}

/// The connections of one URL.
pub(crate) struct Pool {
    url: String,
    size: usize,
    idle_check_after: Duration,
    wait: Duration,
    state: Mutex<State>,
    returned: Condvar,
    /// Connections opened so far.
    opened: AtomicU64,
}

struct State {
    /// Open connections not in use, with when each came back (the most
    /// recent last: it is the one handed out next).
    idle: Vec<(Store, Instant)>,
    /// Open connections, in use or idle.
    open: usize,
}

impl Pool {
    pub(crate) fn new(url: &str, size: usize, idle_check_after: Duration, wait: Duration) -> Self {
        Pool {
            url: url.to_string(),
            size: size.max(1),
            idle_check_after,
            wait,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            opened: AtomicU64::new(0),
        }
    }

    /// The process's pool for `url`.
    fn of(url: &str) -> Arc<Pool> {
        let mut pools = pools().lock().unwrap_or_else(|p| p.into_inner());
        pools
            .entry(url.to_string())
            .or_insert_with(|| {
                Arc::new(Pool::new(
                    url,
                    POOL_SIZE,
                    IDLE_CHECK_AFTER,
                    super::BUSY_TIMEOUT,
                ))
            })
            .clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many connections this pool has opened.
    #[cfg(test)]
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// A store on one of this pool's connections: an idle one (checked
    /// first when it was idle for long), else a new one while fewer than
    /// the pool's size are open, else the first one returned.
    pub(crate) fn get(self: &Arc<Self>) -> Result<PooledStore> {
        let nested = HELD.with(Cell::get) > 0;
        let deadline = Instant::now() + self.wait;
        let mut state = self.lock();
        loop {
            if let Some((mut store, since)) = state.idle.pop() {
                drop(state);
                if since.elapsed() < self.idle_check_after || store.answers(CHECK_TIMEOUT) {
                    return Ok(self.hand_out(store));
                }
                drop(store);
                state = self.lock();
                state.open -= 1;
                continue;
            }
            if state.open < self.size || nested {
                state.open += 1;
                drop(state);
                return match Store::open_url(&self.url) {
                    Ok(store) => {
                        self.opened.fetch_add(1, Ordering::Relaxed);
                        Ok(self.hand_out(store))
                    }
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::from(super::db::Error::PoolBusy {
                    connections: self.size,
                    waited: self.wait.as_secs(),
                }));
            }
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn hand_out(self: &Arc<Self>, store: Store) -> PooledStore {
        HELD.with(|h| h.set(h.get() + 1));
        PooledStore {
            store: Some(store),
            pool: Some((self.clone(), std::thread::current().id())),
        }
    }

    /// Takes `store` back: idle when it can serve again and the pool is not
    /// over its size, else closed.
    fn put_back(&self, store: Store) {
        let reusable = store.reusable() && !std::thread::panicking();
        let mut state = self.lock();
        let closing = if reusable && state.open <= self.size {
            state.idle.push((store, Instant::now()));
            None
        } else {
            state.open -= 1;
            Some(store)
        };
        drop(state);
        self.returned.notify_one();
        // Closed (the server told) outside the lock.
        drop(closing);
    }
}

/// A [`Store`] that goes back to its process's pool when dropped (see
/// [`Store::open_pooled`]); a SQLite store, or one opened by
/// [`PooledStore::unpooled`], is simply closed.
pub struct PooledStore {
    store: Option<Store>,
    /// The pool, and the thread that took the store from it.
    pool: Option<(Arc<Pool>, std::thread::ThreadId)>,
}

impl PooledStore {
    /// `store` on its own connection, closed when dropped.
    pub fn unpooled(store: Store) -> PooledStore {
        PooledStore {
            store: Some(store),
            pool: None,
        }
    }
}

impl Store {
    /// The PostgreSQL store at `url` on a connection reused within this
    /// process: from the pool of `url` (opened, and its schema checked,
    /// when none is idle), back to it when the returned store is dropped.
    pub fn open_pooled(url: &str) -> Result<PooledStore> {
        Pool::of(url).get()
    }
}

impl std::ops::Deref for PooledStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for PooledStore {
    fn deref_mut(&mut self) -> &mut Store {
        self.store.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for PooledStore {
    fn drop(&mut self) {
        let Some((pool, thread)) = self.pool.take() else {
            return;
        };
        if thread == std::thread::current().id() {
            HELD.with(|h| h.set(h.get().saturating_sub(1)));
        }
        if let Some(store) = self.store.take() {
            pool.put_back(store);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{testdb, StoreLock};
    use super::*;
    use crate::home::Home;

    /// The server processes connected to `url`'s database, other than the
    /// one asking.
    fn backends(admin: &mut Store) -> Vec<i64> {
        admin
            .read(|tx| {
                tx.conn()
                    .prepare(
                        "SELECT pid::BIGINT FROM pg_stat_activity
                         WHERE datname = current_database() AND pid <> pg_backend_pid()
                         ORDER BY pid",
                    )?
                    .query_map([], |r| r.get(0))?
                    .collect::<super::super::db::Result<Vec<i64>>>()
                    .map_err(StoreError::from)
            })
            .unwrap()
    }

    /// Waits until the server has let go of `pid`.
    fn wait_gone(admin: &mut Store, pid: i64) {
        let t = Instant::now();
        while backends(admin).contains(&pid) {
            assert!(t.elapsed() < Duration::from_secs(10), "{pid} still there");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn home_on(url: &str) -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("home")).with_store_url(url);
        (dir, home)
    }

    /// The operations of a process on one database (`ops::open_store`, as
    /// every command and every `serve` call opens its store) run on one
    /// connection, opened and schema-checked once, left open for the next.
    #[test]
    fn sequential_operations_on_one_url_use_one_connection() {
        let url = testdb::fresh_url();
        let (_dir, home) = home_on(&url);
        let mut pids = std::collections::BTreeSet::new();
        for i in 0..20 {
            let mut st = crate::ops::open_store(&home).unwrap();
            st.write(|tx| tx.set_setting("k", &i.to_string())).unwrap();
            pids.insert(st.backend_pid().unwrap());
        }
        assert_eq!(pids.len(), 1, "20 operations, connections {pids:?}");
        let mut admin = Store::open_url(&url).unwrap();
        assert_eq!(backends(&mut admin), pids.into_iter().collect::<Vec<_>>());
    }

    /// A pooled connection that the server ended (`pg_terminate_backend`)
    /// is replaced on the next operation, which succeeds, read or write:
    /// at the start of its transaction when the connection was idle only
    /// briefly, by the check on checkout after a longer idle time.
    #[test]
    fn a_connection_killed_server_side_is_replaced_transparently() {
        let url = testdb::fresh_url();
        let (_dir, home) = home_on(&url);
        let mut admin = Store::open_url(&url).unwrap();
        let kill = |admin: &mut Store, pid: i64| {
            let killed: bool = admin
                .read(|tx| {
                    tx.conn()
                        .query_row("SELECT pg_terminate_backend(?1::INT)", [pid], |r| r.get(0))
                        .map_err(StoreError::from)
                })
                .unwrap();
            assert!(killed);
            wait_gone(admin, pid);
        };
        let first = crate::ops::open_store(&home)
            .unwrap()
            .backend_pid()
            .unwrap();
        kill(&mut admin, first);
        // A write, then a read, each on a connection killed just before.
        let mut st = crate::ops::open_store(&home).unwrap();
        st.write(|tx| tx.set_setting("k", "v")).unwrap();
        let second = st.backend_pid().unwrap();
        assert_ne!(first, second);
        drop(st);
        kill(&mut admin, second);
        let mut st = crate::ops::open_store(&home).unwrap();
        assert_eq!(st.read(|tx| tx.setting("k")).unwrap().as_deref(), Some("v"));
        let third = st.backend_pid().unwrap();
        drop(st);
        // The replacement is what the pool keeps.
        assert_eq!(
            crate::ops::open_store(&home)
                .unwrap()
                .backend_pid()
                .unwrap(),
            third
        );
        assert_eq!(backends(&mut admin), [third]);

        // Checked on checkout once idle long enough (here: at once).
        let pool = Arc::new(Pool::new(&url, 2, Duration::ZERO, Duration::from_secs(5)));
        let pid = pool.get().unwrap().backend_pid().unwrap();
        kill(&mut admin, pid);
        let mut st = pool.get().unwrap();
        assert_eq!(pool.opened(), 2, "the dead connection was not handed out");
        assert_eq!(st.read(|tx| tx.setting("k")).unwrap().as_deref(), Some("v"));
    }

    /// Up to the pool's size, operations run at once on their own
    /// connections; more wait for one to come back (no error), and never
    /// more connections are opened than the size. A thread that holds one
    /// and asks for another does not wait.
    #[test]
    fn operations_beyond_the_pool_size_wait_for_a_connection() {
        let url = testdb::fresh_url();
        let pool = Arc::new(Pool::new(
            &url,
            3,
            IDLE_CHECK_AFTER,
            Duration::from_secs(60),
        ));
        let busy = Arc::new(AtomicU64::new(0));
        let most = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(9));
        let start = Instant::now();
        let workers: Vec<_> = (0..9)
            .map(|_| {
                let (pool, busy, most, barrier) =
                    (pool.clone(), busy.clone(), most.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut st = pool.get().unwrap();
                    let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    st.read(|tx| {
                        tx.conn()
                            .query_row("SELECT 1::BIGINT FROM pg_sleep(0.2)", [], |r| {
                                r.get::<i64>(0)
                            })
                            .map_err(StoreError::from)
                    })
                    .unwrap();
                    busy.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            3,
            "at most 3 at once, and 3 did run"
        );
        assert_eq!(pool.opened(), 3);
        assert!(
            start.elapsed() >= Duration::from_millis(600),
            "9 × 0.2 s on 3"
        );
        // Nested: a second store on a thread that holds one, at once, and
        // closed (not kept idle beyond the size) when returned.
        let small = Arc::new(Pool::new(
            &url,
            1,
            IDLE_CHECK_AFTER,
            Duration::from_secs(60),
        ));
        let outer = small.get().unwrap();
        let t = Instant::now();
        let inner = small.get().unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        drop(inner);
        drop(outer);
        assert_eq!(small.lock().idle.len(), 1);
        assert_eq!(small.lock().open, 1);
    }

    /// A store that took a session lock never goes back to the pool: the
    /// lock is released with its connection.
    #[test]
    fn a_pooled_connection_never_keeps_a_session_lock() {
        let url = testdb::fresh_url();
        let mut st = Store::open_pooled(&url).unwrap();
        st.hold_lock(StoreLock::Publish).unwrap();
        drop(st);
        let mut other = Store::open_url(&url).unwrap();
        let t = Instant::now();
        loop {
            let got: bool = other
                .read(|tx| {
                    let got = tx.conn().query_row(
                        "SELECT pg_try_advisory_lock(?1)",
                        [StoreLock::Publish.key()],
                        |r| r.get(0),
                    )?;
                    if got {
                        tx.conn()
                            .execute("SELECT pg_advisory_unlock(?1)", [StoreLock::Publish.key()])?;
                    }
                    Ok::<_, StoreError>(got)
                })
                .unwrap();
            if got {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "the lock was kept");
            std::thread::sleep(Duration::from_millis(20));
        }
        // And a store without a lock does go back.
        let pid = Store::open_pooled(&url).unwrap().backend_pid().unwrap();
        assert_eq!(
            Store::open_pooled(&url).unwrap().backend_pid().unwrap(),
            pid
        );
    }
}
