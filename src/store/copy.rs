//! Copying a whole store into another, empty one (`store migrate`: a SQLite
//! home into PostgreSQL): every table, in one transaction of the target,
//! verified before it commits.

use super::db::{self, OwnedValue, ToSql};
use super::{Result, Store, StoreError, Tx};

/// Every table with records, parents before the tables that refer to them.
pub(crate) const TABLES: &[&str] = &[
    "settings",
    "teams",
    "apps",
    "certificates",
    "devices",
    "profiles",
    "profile_devices",
    "profile_certificates",
    "crls",
    "auth_keys",
    "auth_key_apps",
    "service_tokens",
    "audit_log",
    "ca_material",
    "ca_templates",
];

/// One table read whole: its columns and rows.
struct TableRows {
    name: &'static str,
    columns: Vec<String>,
    rows: Vec<Vec<OwnedValue>>,
}

/// How many rows a table holds (a name of [`TABLES`]).
fn count(tx: &Tx<'_>, table: &str) -> Result<i64> {
    Ok(tx
        .conn()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)
}

/// Every certificate's serial, sorted.
fn serials(tx: &Tx<'_>) -> Result<Vec<String>> {
    Ok(tx
        .conn()
        .prepare("SELECT serial FROM certificates ORDER BY serial")?
        .query_map([], |r| r.get(0))?
        .collect::<db::Result<Vec<String>>>()?)
}

impl Tx<'_> {
    /// The first table of the store that holds a row, if any.
    pub(crate) fn first_nonempty_table(&self) -> Result<Option<&'static str>> {
        for t in TABLES {
            if count(self, t)? > 0 {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }
}

impl Store {
    /// Copies every record of this (SQLite) store into `target`, which must
    /// hold none, in one transaction of `target` that also runs `more`
    /// (records that are not in this store: the CA material). Before it
    /// commits, the target's row count of every table and its certificate
    /// serials are checked against this store's plus what `more` added.
    /// Returns (table, rows) for every table.
    pub(crate) fn copy_into<E>(
        &mut self,
        target: &mut Store,
        more: impl Fn(&Tx<'_>) -> Result<(), E>,
    ) -> Result<Vec<(&'static str, i64)>, E>
    where
        E: From<StoreError>,
    {
        let (tables, serials_src) = self.read(|tx| -> Result<_> {
            let mut out = Vec::new();
            for name in TABLES {
                let columns = tx
                    .conn()
                    .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
                    .query_map([*name], |r| r.get(0))?
                    .collect::<db::Result<Vec<String>>>()?;
                let rows = tx
                    .conn()
                    .prepare(&format!("SELECT {} FROM {name}", columns.join(", ")))?
                    .query_map([], |r| Ok(r.values().to_vec()))?
                    .collect::<db::Result<Vec<_>>>()?;
                out.push(TableRows {
                    name,
                    columns,
                    rows,
                });
            }
            Ok((out, serials(tx)?))
        })?;
        target.write(|tx| -> Result<Vec<(&'static str, i64)>, E> {
            if let Some(t) = tx.first_nonempty_table()? {
                return Err(StoreError::NotEmpty(t.to_string()).into());
            }
            for t in &tables {
                let marks: Vec<String> = (1..=t.columns.len()).map(|i| format!("?{i}")).collect();
                let sql = format!(
                    "INSERT INTO {}({}) VALUES ({})",
                    t.name,
                    t.columns.join(", "),
                    marks.join(", ")
                );
                for row in &t.rows {
                    let params: Vec<&dyn ToSql> = row.iter().map(|v| v as &dyn ToSql).collect();
                    tx.conn()
                        .execute(&sql, params.as_slice())
                        .map_err(StoreError::from)?;
                }
            }
            let before: Vec<i64> = TABLES.iter().map(|t| count(tx, t)).collect::<Result<_>>()?;
            more(tx)?;
            let mut counts = Vec::new();
            for (t, added_before) in tables.iter().zip(before) {
                let n = count(tx, t.name)?;
                if added_before != t.rows.len() as i64 {
                    return Err(
                        StoreError::Corrupt("a table's row count differs after the copy").into(),
                    );
                }
                counts.push((t.name, n));
            }
            if serials(tx)? != serials_src {
                return Err(
                    StoreError::Corrupt("the certificate serials differ after the copy").into(),
                );
            }
            Ok(counts)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy names every table of the schema (a new migration's table
    /// must be added to [`TABLES`], or `store migrate` would leave it out).
    #[test]
    fn the_copy_names_every_table() {
        let mut st = Store::in_memory().unwrap();
        let mut found: Vec<String> = st
            .read(|tx| {
                Ok::<_, StoreError>(
                    tx.conn()
                        .prepare(
                            "SELECT name FROM sqlite_master WHERE type = 'table'
                             AND name <> 'schema_version' ORDER BY name",
                        )?
                        .query_map([], |r| r.get(0))?
                        .collect::<db::Result<Vec<String>>>()?,
                )
            })
            .unwrap();
        found.sort();
        let mut named: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        named.sort();
        assert_eq!(found, named);
    }
}
