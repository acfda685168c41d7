//! The thin layer between the record queries and the two database engines.
//!
//! It keeps rusqlite's call shape (`conn().execute(sql, params![..])`,
//! `query_row`, `prepare(..)?.query_map(..)`, `row.get(i)`, `.optional()`),
//! so store code written in that style ports by changing its imports. One SQL
//! text serves both engines: positional parameters are written `?1`, `?2`, ...
//! and become `$1`, `$2`, ... on PostgreSQL; integers are 64-bit (INTEGER /
//! BIGINT), blobs BLOB / BYTEA, booleans integers 0/1 (parameters and
//! columns alike). Values are converted by what the database declares, so a
//! parameter PostgreSQL infers as `integer` still takes an `i64`.
//!
//! One difference stays: on PostgreSQL a failed statement (a duplicate key, a
//! reference that fails) aborts the whole transaction. Return the error from
//! the closure; the store refuses to commit a transaction in which a
//! statement failed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use postgres::error::SqlState;
use postgres::types::{FromSql as PgFromSql, IsNull, ToSql as PgToSql, Type};

/// A database error, of either engine, or a column of an unexpected type.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("query returned no rows")]
    NoRows,
    #[error("column {index}: expected {expected}, found {found}")]
    Column {
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("a statement failed earlier in this transaction, which was rolled back")]
    Aborted,
    #[error("all {connections} connections to the database are in use (waited {waited} s)")]
    PoolBusy { connections: usize, waited: u64 },
}

/// PostgreSQL's message with its detail (the server's own words), not just
/// "db error".
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_string(),
        },
        None => {
            use std::error::Error as _;
            match e.source() {
                Some(s) => format!("{e}: {s}"),
                None => e.to_string(),
            }
        }
    }
}

impl Error {
    /// The portable name of the unique (or primary-key) constraint this
    /// error violated: PostgreSQL's own (`teams_pkey`, `certificates_sha256_key`),
    /// and the same names made from SQLite's report (`<table>_pkey`,
    /// `<table>_<columns>_key`).
    pub(crate) fn unique_violation(&self) -> Option<String> {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, msg)) => {
                let pkey = f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY;
                if !pkey && f.extended_code != rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE {
                    return None;
                }
                // "UNIQUE constraint failed: certificates.sha256" (or several
                // comma-separated `table.column`).
                let cols = msg.as_deref()?.split_once(": ")?.1;
                let mut table = "";
                let mut names = Vec::new();
                for c in cols.split(", ") {
                    let (t, col) = c.split_once('.')?;
                    table = t;
                    names.push(col);
                }
                Some(if pkey {
                    format!("{table}_pkey")
                } else {
                    format!("{table}_{}_key", names.join("_"))
                })
            }
            Error::Postgres(e) => {
                let db = e.as_db_error()?;
                (*db.code() == SqlState::UNIQUE_VIOLATION)
                    .then(|| db.constraint().unwrap_or_default().to_string())
            }
            _ => None,
        }
    }

    /// A serialization failure or a deadlock: the transaction is worth
    /// running again.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Error::Postgres(e) => e.code().is_some_and(|c| {
                *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
            }),
            _ => false,
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// `.optional()` on a single-row query, as in rusqlite.
pub(crate) trait OptionalExtension<T> {
    /// `Ok(None)` for no row.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) | Err(Error::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// A parameter value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Null,
    Integer(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// A Rust value that binds as a parameter.
pub(crate) trait ToSql {
    fn to_value(&self) -> Value<'_>;
}

impl ToSql for i64 {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(*self)
    }
}
impl ToSql for i32 {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}
impl ToSql for u32 {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}
impl ToSql for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}
impl ToSql for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToSql for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToSql for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToSql for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl<T: ToSql> ToSql for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}
impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl ToSql for OwnedValue {
    fn to_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Null => Value::Null,
            OwnedValue::Integer(i) => Value::Integer(*i),
            OwnedValue::Text(t) => Value::Text(t),
            OwnedValue::Blob(b) => Value::Blob(b),
            // No column of the schema is REAL; a value that is not an
            // integer is copied as its text.
            OwnedValue::Real(_) => Value::Null,
        }
    }
}

/// The parameters of one statement: `params![a, b]`, `[x]`, `[]`.
pub(crate) trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for [&dyn ToSql; 0] {
    fn values(&self) -> Vec<Value<'_>> {
        Vec::new()
    }
}

impl Params for &[&dyn ToSql] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|p| p.to_value()).collect()
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(&self) -> Vec<Value<'_>> {
                self.iter().map(|p| p.to_value()).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// Positional parameters of mixed types: `params![a, b, c]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::db::ToSql]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::store::db::ToSql),+] as &[&dyn $crate::store::db::ToSql]
    };
}
pub(crate) use params;

/// A column value read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OwnedValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl OwnedValue {
    fn type_name(&self) -> &'static str {
        match self {
            OwnedValue::Null => "NULL",
            OwnedValue::Integer(_) => "an integer",
            OwnedValue::Real(_) => "a real",
            OwnedValue::Text(_) => "text",
            OwnedValue::Blob(_) => "a blob",
        }
    }
}

/// A Rust type a column reads as.
pub(crate) trait FromSql: Sized {
    /// What it expects (for the error message).
    const EXPECTED: &'static str;
    fn from_value(v: &OwnedValue) -> Option<Self>;
}

impl FromSql for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match v {
            OwnedValue::Integer(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromSql for bool {
    const EXPECTED: &'static str = "a boolean (integer)";
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match v {
            OwnedValue::Integer(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromSql for String {
    const EXPECTED: &'static str = "text";
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match v {
            OwnedValue::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromSql for Vec<u8> {
    const EXPECTED: &'static str = "a blob";
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match v {
            OwnedValue::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromSql> FromSql for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match v {
            OwnedValue::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One result row (read whole; the lifetime keeps rusqlite's `Row<'_>`
/// spelling).
#[derive(Debug)]
pub(crate) struct Row<'a> {
    cols: Vec<OwnedValue>,
    _of: std::marker::PhantomData<&'a ()>,
}

impl Row<'_> {
    /// Every column, as read.
    pub(crate) fn values(&self) -> &[OwnedValue] {
        &self.cols
    }

    /// Column `index` as `T`.
    pub(crate) fn get<T: FromSql>(&self, index: usize) -> Result<T> {
        let v = self.cols.get(index).ok_or(Error::Column {
            index,
            expected: T::EXPECTED,
            found: "no such column",
        })?;
        T::from_value(v).ok_or(Error::Column {
            index,
            expected: T::EXPECTED,
            found: v.type_name(),
        })
    }

    fn from_sqlite(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row<'static>> {
        use rusqlite::types::ValueRef;
        let mut cols = Vec::with_capacity(n);
        for i in 0..n {
            cols.push(match r.get_ref(i)? {
                ValueRef::Null => OwnedValue::Null,
                ValueRef::Integer(i) => OwnedValue::Integer(i),
                ValueRef::Real(f) => OwnedValue::Real(f),
                ValueRef::Text(t) => OwnedValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => OwnedValue::Blob(b.to_vec()),
            });
        }
        Ok(Row {
            cols,
            _of: std::marker::PhantomData,
        })
    }

    fn from_pg(r: &postgres::Row) -> Result<Row<'static>> {
        let mut cols = Vec::with_capacity(r.len());
        for i in 0..r.len() {
            cols.push(r.try_get::<_, PgCell>(i)?.0);
        }
        Ok(Row {
            cols,
            _of: std::marker::PhantomData,
        })
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A parameter converted to what PostgreSQL declared for it.
#[derive(Debug)]
struct PgParam<'a>(Value<'a>);

fn is_text(ty: &Type) -> bool {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
    ]
    .contains(ty)
}

impl PgToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ if is_text(ty) => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot be a parameter of type {ty}").into()),
            },
            Value::Text(s) if is_text(ty) => s.to_sql(ty, out),
            Value::Text(_) => Err(format!("text cannot be a parameter of type {ty}").into()),
            Value::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            Value::Blob(_) => Err(format!("a blob cannot be a parameter of type {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column of any supported PostgreSQL type.
struct PgCell(OwnedValue);

impl<'a> PgFromSql<'a> for PgCell {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgCell(match *ty {
            Type::INT8 => OwnedValue::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => OwnedValue::Integer(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => OwnedValue::Integer(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => OwnedValue::Integer(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => OwnedValue::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => OwnedValue::Blob(<Vec<u8>>::from_sql(ty, raw)?),
            _ if is_text(ty) => OwnedValue::Text(String::from_sql(ty, raw)?),
            _ => return Err(format!("unsupported column type {ty}").into()),
        }))
    }

    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgCell(OwnedValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// `?N` (and a bare `?`) to PostgreSQL's `$N`, outside quoted text.
pub(crate) fn to_pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    out.push_str(&next.to_string());
                    next += 1;
                }
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// Prepared statements of one PostgreSQL connection, by SQL text.
pub(crate) type StatementCache = RefCell<HashMap<String, postgres::Statement>>;

/// A PostgreSQL transaction: the statements go through it; a failed one
/// marks it aborted (and, for a serialization failure, worth a retry).
pub(crate) struct PgTx<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
    cache: &'a StatementCache,
    aborted: Cell<bool>,
    retryable: Cell<bool>,
}

impl<'a> PgTx<'a> {
    pub(crate) fn new(tx: postgres::Transaction<'a>, cache: &'a StatementCache) -> PgTx<'a> {
        PgTx {
            tx: RefCell::new(tx),
            cache,
            aborted: Cell::new(false),
            retryable: Cell::new(false),
        }
    }

    fn note<T>(&self, r: std::result::Result<T, postgres::Error>) -> Result<T> {
        r.map_err(|e| {
            let e = Error::from(e);
            self.aborted.set(true);
            if e.is_retryable() {
                self.retryable.set(true);
            }
            e
        })
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = self.cache.borrow().get(sql) {
            return Ok(st.clone());
        }
        let prepared = self.tx.borrow_mut().prepare(&to_pg_sql(sql));
        let st = self.note(prepared)?;
        self.cache.borrow_mut().insert(sql.to_string(), st.clone());
        Ok(st)
    }

    fn query(&self, sql: &str, values: &[Value<'_>]) -> Result<Vec<Row<'static>>> {
        let st = self.statement(sql)?;
        let params: Vec<PgParam<'_>> = values.iter().map(|v| PgParam(*v)).collect();
        let refs: Vec<&(dyn PgToSql + Sync)> =
            params.iter().map(|p| p as &(dyn PgToSql + Sync)).collect();
        let rows = self.tx.borrow_mut().query(&st, &refs);
        let rows = self.note(rows)?;
        rows.iter().map(Row::from_pg).collect()
    }

    fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<usize> {
        let st = self.statement(sql)?;
        let params: Vec<PgParam<'_>> = values.iter().map(|v| PgParam(*v)).collect();
        let refs: Vec<&(dyn PgToSql + Sync)> =
            params.iter().map(|p| p as &(dyn PgToSql + Sync)).collect();
        let n = self.tx.borrow_mut().execute(&st, &refs);
        Ok(self.note(n)? as usize)
    }

    /// Whether a statement failed with a serialization failure or deadlock.
    pub(crate) fn retryable(&self) -> bool {
        self.retryable.get()
    }

    /// Commits; refuses a transaction in which a statement failed (the
    /// server would roll it back silently).
    pub(crate) fn commit(self) -> Result<()> {
        if self.aborted.get() {
            return Err(Error::Aborted);
        }
        Ok(self.tx.into_inner().commit()?)
    }
}

/// One transaction's connection, as the queries see it.
pub(crate) enum Conn<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(PgTx<'a>),
}

impl Conn<'_> {
    /// Runs one statement; returns how many rows it changed.
    pub(crate) fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let values = params.values();
        match self {
            Conn::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Conn::Postgres(t) => t.execute(sql, &values),
        }
    }

    /// Runs several statements without parameters (DDL).
    #[allow(dead_code)] // rusqlite's call shape, for the store's code
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(t) => {
                let r = t.tx.borrow_mut().batch_execute(sql);
                t.note(r)
            }
        }
    }

    fn rows(&self, sql: &str, values: &[Value<'_>]) -> Result<Vec<Row<'static>>> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let rows = st
                    .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                        Row::from_sqlite(r, n)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            }
            Conn::Postgres(t) => t.query(sql, values),
        }
    }

    /// The first row through `f`; [`Error::NoRows`] when there is none
    /// (`.optional()` makes that `None`).
    pub(crate) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let rows = self.rows(sql, &params.values())?;
        f(rows.first().ok_or(Error::NoRows)?)
    }

    /// A statement to run (with `query_map`, `query_row`, `execute`).
    pub(crate) fn prepare(&self, sql: &str) -> Result<Statement<'_, Self>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// The same as [`Conn::prepare`]: statements are cached per connection
    /// on both engines.
    pub(crate) fn prepare_cached(&self, sql: &str) -> Result<Statement<'_, Self>> {
        self.prepare(sql)
    }
}

/// A statement of one transaction.
pub(crate) struct Statement<'s, C> {
    conn: &'s C,
    sql: String,
}

impl Statement<'_, Conn<'_>> {
    /// Each row through `f`.
    pub(crate) fn query_map<T, P, F>(
        &mut self,
        params: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        let rows = self.conn.rows(&self.sql, &params.values())?;
        Ok(rows.iter().map(&mut f).collect::<Vec<_>>().into_iter())
    }

    /// The first row through `f`.
    pub(crate) fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.conn.query_row(&self.sql, params, f)
    }

    /// Runs it; returns how many rows it changed.
    pub(crate) fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            to_pg_sql("SELECT ?1, '?2', \"a?\" WHERE x = ?12 OR y = ?"),
            "SELECT $1, '?2', \"a?\" WHERE x = $12 OR y = $1"
        );
    }
}
