//! The service's tables (`pushca serve`): API tokens (only a SHA-256 of
//! each secret, never the secret) and the audit log of every call. Portable
//! SQL through the store's query layer (both engines), no engine functions.

use super::db::{self, params, OptionalExtension, Row};

use super::{Result, Tx};

/// An API token of the service. The secret itself is never stored: only
/// its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's public id (16 lowercase hex digits).
    pub token_id: String,
    /// A name for people (may be empty).
    pub name: String,
    /// Its scopes, as given (`issue:BUNDLE_ID`, `issue:*`, `revoke`, `read`,
    /// `trust-store`, `admin`).
    pub scopes: Vec<String>,
    /// SHA-256 of the secret.
    pub secret_sha256: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; refused from then on.
    pub expires_at: i64,
    /// Unix seconds; `None`: not revoked.
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("token_id", &self.token_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// One call of the service, as the audit log keeps it (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Order of recording (1, 2, ...).
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// The token that made the call, when it was a valid one.
    pub token_id: Option<String>,
    /// The scope the call needed (`issue:com.example.app`, `read`, ...).
    pub scope: Option<String>,
    /// The operation (`issue`, `revoke`, `list`, ...).
    pub operation: String,
    /// Serials issued, revoked or read (lowercase hex).
    pub serials: Vec<String>,
    /// `ok`, `unauthorized`, `forbidden`, or `error:<kind>`.
    pub result: String,
}

const TOKEN_COLS: &str =
    "token_id, name, scopes, secret_sha256, created_at, expires_at, revoked_at";
const AUDIT_COLS: &str = "seq, at, token_id, scope, operation, serials, result";

fn words(s: String) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn token_row(r: &Row<'_>) -> db::Result<TokenRecord> {
    Ok(TokenRecord {
        token_id: r.get(0)?,
        name: r.get(1)?,
        scopes: words(r.get(2)?),
        secret_sha256: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

fn audit_row(r: &Row<'_>) -> db::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        at: r.get(1)?,
        token_id: r.get(2)?,
        scope: r.get(3)?,
        operation: r.get(4)?,
        serials: words(r.get(5)?),
        result: r.get(6)?,
    })
}

impl Tx<'_> {
    /// Records a new token; `false` (and nothing recorded) when its id is
    /// taken. `ON CONFLICT DO NOTHING`: the transaction stays usable on
    /// both engines, so the caller may draw another id in it.
    pub(crate) fn insert_token(&self, t: &TokenRecord) -> Result<bool> {
        let n = self.conn().execute(
            &format!(
                "INSERT INTO service_tokens({TOKEN_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7)
                 ON CONFLICT(token_id) DO NOTHING"
            ),
            params![
                t.token_id,
                t.name,
                t.scopes.join(" "),
                t.secret_sha256,
                t.created_at,
                t.expires_at,
                t.revoked_at
            ],
        )?;
        Ok(n == 1)
    }

    /// A token by its id (exact).
    pub(crate) fn token(&self, token_id: &str) -> Result<Option<TokenRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {TOKEN_COLS} FROM service_tokens WHERE token_id = ?1"),
                [token_id],
                token_row,
            )
            .optional()?)
    }

    /// Every token, revoked and expired ones included, oldest first.
    pub(crate) fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {TOKEN_COLS} FROM service_tokens ORDER BY created_at, token_id"
        ))?;
        let rows = st
            .query_map([], token_row)?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks a token revoked; false when it already was (the first time stays).
    pub(crate) fn revoke_token(&self, token_id: &str, at: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE service_tokens SET revoked_at = ?2 WHERE token_id = ?1 AND revoked_at IS NULL",
            params![token_id, at],
        )?;
        Ok(n > 0)
    }

    /// Appends one call to the audit log (its `seq` is the next one; the
    /// one given is ignored). Inside a write transaction, so `seq` is unique.
    pub(crate) fn insert_audit(&self, a: &AuditRecord) -> Result<i64> {
        let seq: i64 =
            self.conn()
                .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log", [], |r| {
                    r.get(0)
                })?;
        self.conn().execute(
            &format!("INSERT INTO audit_log({AUDIT_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7)"),
            params![
                seq,
                a.at,
                a.token_id,
                a.scope,
                a.operation,
                a.serials.join(" "),
                a.result
            ],
        )?;
        Ok(seq)
    }

    /// The audit log from `since` (unix seconds) on, in recording order.
    pub(crate) fn list_audit(&self, since: i64) -> Result<Vec<AuditRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE at >= ?1 ORDER BY seq"
        ))?;
        let rows = st
            .query_map([since], audit_row)?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdb::on_both_stores;
    use super::super::{Store, StoreError};
    use super::*;

    on_both_stores!(tokens_and_audit_round_trip);

    /// Tokens round-trip (scopes in order), revoke once; the audit log
    /// numbers its entries and filters by time.
    fn tokens_and_audit_round_trip(mut st: Store) {
        let t = TokenRecord {
            token_id: "00112233aabbccdd".into(),
            name: "ci".into(),
            scopes: vec!["issue:com.x".into(), "read".into()],
            secret_sha256: vec![7; 32],
            created_at: 10,
            expires_at: 20,
            revoked_at: None,
        };
        st.write(|tx| tx.insert_token(&t)).unwrap();
        // A taken id: not recorded, and the same transaction goes on (on
        // PostgreSQL too: the insert does not fail the transaction).
        let again = st
            .write(|tx| {
                let inserted = tx.insert_token(&t)?;
                tx.set_setting("after", "1")?;
                Ok::<_, StoreError>(inserted)
            })
            .unwrap();
        assert!(!again, "one id once");
        assert_eq!(
            st.read(|tx| tx.setting("after")).unwrap().as_deref(),
            Some("1")
        );
        st.write(|tx| {
            assert_eq!(tx.token(&t.token_id)?.as_ref(), Some(&t));
            assert_eq!(tx.token("ffff")?, None);
            assert!(tx.revoke_token(&t.token_id, 15)?);
            assert!(!tx.revoke_token(&t.token_id, 16)?);
            assert_eq!(tx.list_tokens()?[0].revoked_at, Some(15));
            for (at, op) in [(100, "issue"), (200, "revoke")] {
                tx.insert_audit(&AuditRecord {
                    seq: 0,
                    at,
                    token_id: Some(t.token_id.clone()),
                    scope: Some("read".into()),
                    operation: op.into(),
                    serials: vec!["0a".into(), "0b".into()],
                    result: "ok".into(),
                })?;
            }
            let all = tx.list_audit(0)?;
            assert_eq!(all.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2]);
            assert_eq!(all[0].serials, ["0a", "0b"]);
            assert_eq!(tx.list_audit(150)?.len(), 1);
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert!(!format!("{t:?}").contains("secret"));
    }
}
