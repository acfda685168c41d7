//! The CA material in the store (a home on a database keeps it there): the
//! CA certificates with their encrypted keys, and template overrides. Also
//! the exclusive locks that are files in a SQLite home.

use super::db::{self, params, Row};
use super::{Result, Tx};

/// One CA certificate with its key, as the files hold them.
#[derive(Clone, PartialEq, Eq)]
pub struct CaMaterialRecord {
    /// `root`, `issuing` or `profile-signer`.
    pub name: String,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The key, PEM `ENCRYPTED PRIVATE KEY` (never a plain key).
    pub key_pem: String,
}

impl std::fmt::Debug for CaMaterialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterialRecord")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An exclusive lock of the store, held to the end of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreLock {
    /// `init`: one CA per store.
    Init,
    /// Publishing a CRL or trust store (signing to the last write).
    Publish,
}

impl StoreLock {
    /// The advisory-lock key ("pushca" and a number).
    pub(crate) fn key(self) -> i64 {
        match self {
            StoreLock::Init => 0x7075_7368_6361_0002,
            StoreLock::Publish => 0x7075_7368_6361_0003,
        }
    }
}

fn material_row(r: &Row<'_>) -> db::Result<CaMaterialRecord> {
    Ok(CaMaterialRecord {
        name: r.get(0)?,
        cert_pem: r.get(1)?,
        key_pem: r.get(2)?,
    })
}

impl Tx<'_> {
    /// The CA material recorded (none in a SQLite home: its files hold it).
    pub(crate) fn ca_material(&self) -> Result<Vec<CaMaterialRecord>> {
        Ok(self
            .conn()
            .prepare("SELECT name, cert_pem, key_pem FROM ca_material ORDER BY name")?
            .query_map([], material_row)?
            .collect::<db::Result<Vec<_>>>()?)
    }

    /// Records one CA certificate and its encrypted key.
    pub(crate) fn insert_ca_material(&self, m: &CaMaterialRecord) -> Result<()> {
        self.conn().execute(
            "INSERT INTO ca_material(name, cert_pem, key_pem) VALUES (?1, ?2, ?3)",
            params![m.name, m.cert_pem, m.key_pem],
        )?;
        Ok(())
    }

    /// The template overrides recorded: (name, TOML text).
    pub(crate) fn ca_templates(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .conn()
            .prepare("SELECT name, text FROM ca_templates ORDER BY name")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<db::Result<Vec<_>>>()?)
    }

    /// Records one template override.
    pub(crate) fn insert_ca_template(&self, name: &str, text: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO ca_templates(name, text) VALUES (?1, ?2)",
            params![name, text],
        )?;
        Ok(())
    }

    /// Takes `lock` until this transaction ends. On PostgreSQL an advisory
    /// transaction lock (other processes wait for it); on SQLite nothing:
    /// a write transaction already excludes every other writer.
    pub(crate) fn lock(&self, lock: StoreLock) -> Result<()> {
        if let db::Conn::Postgres(_) = self.conn() {
            self.conn()
                .execute("SELECT pg_advisory_xact_lock(?1)", [lock.key()])?;
        }
        Ok(())
    }
}
