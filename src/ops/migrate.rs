//! `store migrate`: a SQLite home copied into an empty PostgreSQL database
//! (every record, the CA material from the home's files, its template
//! overrides), verified by counts and serials before it commits.

use super::{open_store, Result};
use crate::ca::authority::{ISSUING, PROFILE_SIGNER, ROOT};
use crate::home::Home;
use crate::store::{CaMaterialRecord, Store, StoreError};

/// What `store migrate` copied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Migrated {
    /// The target, without its password.
    pub to: String,
    /// Rows copied, by table (the CA material and templates included).
    pub tables: Vec<TableCount>,
    /// Certificates copied (their serials checked one by one).
    pub certificates: i64,
    /// The newest CRL number of the issuing CA, if a CRL was signed.
    pub crl_number: Option<i64>,
}

/// One table and its rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCount {
    /// The table.
    pub table: String,
    /// Its rows in the target.
    pub rows: i64,
}

/// Copies the SQLite store and CA material of `home` into the empty
/// database `to`; refuses a database that holds any record.
pub fn migrate(home: &Home, to: &str) -> Result<Migrated> {
    if home.store_url().is_some() {
        return Err(StoreError::Url(
            "the source of a migration is a home's SQLite store, not a database".into(),
        )
        .into());
    }
    if !Store::is_url(to) {
        return Err(StoreError::Url(
            "a PostgreSQL store URL starts with postgres:// or postgresql://".into(),
        )
        .into());
    }
    let mut src = open_store(home)?;
    // The CA material as the files hold it (keys stay encrypted).
    let files = home.ca_files();
    let mut material = Vec::new();
    for name in [ROOT, ISSUING, PROFILE_SIGNER] {
        let cert = files.cert_bytes(name)?;
        let key = files.key_bytes(name)?;
        let text = |b: &[u8], path| {
            String::from_utf8(b.to_vec()).map_err(|_| crate::ca::CaError::CaFile {
                path,
                reason: "not PEM text",
            })
        };
        let key_pem = text(&key, files.key(name))?;
        if !key_pem
            .trim_start()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        {
            return Err(crate::ca::CaError::CaFile {
                path: files.key(name),
                reason: "not an encrypted PKCS#8 key",
            }
            .into());
        }
        material.push(CaMaterialRecord {
            name: name.to_string(),
            cert_pem: text(&cert, files.cert(name))?,
            key_pem,
        });
    }
    let mut templates = Vec::new();
    for name in crate::ca::templates::names() {
        let path = home.templates_dir().join(format!("{name}.toml"));
        if path.is_file() {
            let bytes = crate::fsutil::read_input(&path)?;
            let text = String::from_utf8(bytes).map_err(|_| crate::ca::CaError::Template {
                name: path.display().to_string(),
                reason: "not UTF-8".into(),
                source: None,
            })?;
            templates.push((name, text));
        }
    }
    let mut target = Store::open_url(to)?;
    let counts = src.copy_into(&mut target, |tx| -> Result<()> {
        for m in &material {
            tx.insert_ca_material(m)?;
        }
        for (name, text) in &templates {
            tx.insert_ca_template(name, text)?;
        }
        Ok(())
    })?;
    let crl_number = target
        .read(|tx| tx.latest_crl(super::revocation::CrlIssuer::Issuing.name()))?
        .map(|c| c.number);
    let certificates = counts
        .iter()
        .find(|(t, _)| *t == "certificates")
        .map_or(0, |(_, n)| *n);
    Ok(Migrated {
        to: crate::store::redact_url(to),
        tables: counts
            .into_iter()
            .map(|(t, rows)| TableCount {
                table: t.to_string(),
                rows,
            })
            .collect(),
        certificates,
        crl_number,
    })
}
