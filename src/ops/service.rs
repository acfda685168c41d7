//! The service's access control (`pushca serve`): API tokens with scopes,
//! and the audit log of every call.
//!
//! A token is `pushca_<id>_<secret>`: a 16-hex-digit id (public, shown by
//! `token list` and in the audit log) and a 256-bit random secret (64 hex
//! digits), shown once when it is made. The store keeps only the SHA-256 of
//! the secret; a presented token is looked up by its id and its secret's
//! hash compared in constant time.

use std::fmt;

use serde::Serialize;

use super::{now, open_store, OpsError};
use crate::home::Home;
use crate::secret::Secret;
use crate::store::{AuditRecord, StoreError, TokenRecord};
use crate::timeutil::{serialize_rfc3339, serialize_rfc3339_opt, SECS_PER_DAY};

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `issue:BUNDLE_ID` (`None`: `issue:*`, every App ID): issue, renew, create.
    Issue(Option<String>),
    /// `revoke`: revoke, crl.
    Revoke,
    /// `read`: list, show, export, status.
    Read,
    /// `trust-store`: the signed trust store.
    TrustStore,
    /// `admin`: tokens and the audit log (and none of the others).
    Admin,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Issue(Some(b)) => write!(f, "issue:{b}"),
            Scope::Issue(None) => f.write_str("issue:*"),
            Scope::Revoke => f.write_str("revoke"),
            Scope::Read => f.write_str("read"),
            Scope::TrustStore => f.write_str("trust-store"),
            Scope::Admin => f.write_str("admin"),
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Scope, TokenError> {
        let bad = || TokenError::InvalidScope(s.to_string());
        Ok(match s {
            "revoke" => Scope::Revoke,
            "read" => Scope::Read,
            "trust-store" => Scope::TrustStore,
            "admin" => Scope::Admin,
            "issue:*" => Scope::Issue(None),
            _ => {
                let bundle = s.strip_prefix("issue:").ok_or_else(bad)?;
                crate::portal::validate_bundle_id(bundle).map_err(|_| bad())?;
                if crate::portal::is_wildcard(bundle) {
                    return Err(bad());
                }
                Scope::Issue(Some(bundle.to_string()))
            }
        })
    }
}

impl Scope {
    /// Whether a token holding `self` may do what `needed` asks.
    /// `issue:*` covers every `issue:BUNDLE_ID`; `admin` covers nothing else.
    pub fn covers(&self, needed: &Scope) -> bool {
        match (self, needed) {
            (Scope::Issue(None), Scope::Issue(_)) => true,
            (Scope::Issue(Some(a)), Scope::Issue(Some(b))) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

/// Why a token operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not one of the scopes.
    #[error("'{}' is not a scope (issue:BUNDLE_ID, issue:*, revoke, read, trust-store, admin)", .0.escape_default())]
    InvalidScope(String),
    /// No scope given.
    #[error("a token needs at least one scope")]
    NoScope,
    /// A lifetime outside 1..=3650 days.
    #[error("a token lives 1 to 3650 days, not {0}")]
    InvalidLifetime(u32),
    /// A name that is too long or has control characters.
    #[error("invalid token name '{}': at most 100 characters, no control characters", .0.escape_default())]
    InvalidName(String),
    /// No token with this id.
    #[error("no token {0} in the store")]
    UnknownToken(String),
    /// Not a time or a duration.
    #[error("'{}' is neither a date (2025-01-31, RFC 3339) nor a duration (30m, 12h, 7d)", .0.escape_default())]
    InvalidSince(String),
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The store or the home failed.
    #[error(transparent)]
    Ops(#[from] OpsError),
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Ops(OpsError::Store(e))
    }
}

impl TokenError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            TokenError::InvalidScope(_)
            | TokenError::NoScope
            | TokenError::InvalidLifetime(_)
            | TokenError::InvalidName(_)
            | TokenError::InvalidSince(_) => ErrorKind::Input,
            TokenError::UnknownToken(_) => ErrorKind::NotFound,
            TokenError::Random => ErrorKind::Crypto,
            TokenError::Ops(e) => e.kind(),
        }
    }
}

type Result<T, E = TokenError> = std::result::Result<T, E>;

const PREFIX: &str = "pushca_";

fn random<const N: usize>() -> Result<[u8; N]> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| TokenError::Random)?;
    Ok(b)
}

/// `token create`: the new token, its secret shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct TokenCreated {
    /// The token's id.
    pub id: String,
    /// Its name (may be empty).
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was made (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: i64,
    /// When it stops working (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub expires_at: i64,
    /// The token itself (`Authorization: Bearer ...`): never stored, never
    /// shown again.
    #[serde(serialize_with = "serialize_secret")]
    pub token: Secret,
}

fn serialize_secret<S: serde::Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// How many token ids are drawn before giving up (64 random bits each).
const TOKEN_ID_DRAWS: u32 = 8;

/// Makes a token with `scopes` that lives `days` days (1..=3650).
pub fn create_token(
    home: &Home,
    scopes: &[Scope],
    days: u32,
    name: Option<&str>,
) -> Result<TokenCreated> {
    if scopes.is_empty() {
        return Err(TokenError::NoScope);
    }
    if !(1..=3650).contains(&days) {
        return Err(TokenError::InvalidLifetime(days));
    }
    let name = name.unwrap_or("");
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(TokenError::InvalidName(name.to_string()));
    }
    let mut names: Vec<String> = Vec::new();
    for s in scopes {
        let s = s.to_string();
        if !names.contains(&s) {
            names.push(s);
        }
    }
    let secret = zeroize::Zeroizing::new(random::<32>()?);
    let t = now().unix_timestamp();
    let mut rec = TokenRecord {
        token_id: String::new(),
        name: name.to_string(),
        scopes: names.clone(),
        secret_sha256: crate::x509::sha256(&*secret).to_vec(),
        created_at: t,
        expires_at: t + i64::from(days) * SECS_PER_DAY,
        revoked_at: None,
    };
    let mut st = open_store(home)?;
    // A token id the store holds already is drawn again in the same
    // transaction (the insert skips a taken id without failing it).
    let id = st.write(|tx| -> Result<String, TokenError> {
        for _ in 0..TOKEN_ID_DRAWS {
            rec.token_id = hex::encode(random::<8>()?);
            if tx.insert_token(&rec)? {
                return Ok(rec.token_id.clone());
            }
        }
        Err(crate::store::StoreError::Corrupt("no free token id").into())
    })?;
    let token = Secret::new(format!("{PREFIX}{id}_{}", hex::encode(*secret)));
    Ok(TokenCreated {
        id,
        name: rec.name,
        scopes: names,
        created_at: rec.created_at,
        expires_at: rec.expires_at,
        token,
    })
}

/// One token of `token list` (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// The token's id.
    pub id: String,
    /// Its name (may be empty).
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was made (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: i64,
    /// When it stops working (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub expires_at: i64,
    /// When it was revoked (RFC 3339), or null.
    #[serde(serialize_with = "serialize_rfc3339_opt")]
    pub revoked_at: Option<i64>,
    /// `active`, `expired` or `revoked`.
    pub state: &'static str,
}

impl TokenView {
    fn new(r: TokenRecord, t: i64) -> TokenView {
        let state = if r.revoked_at.is_some() {
            "revoked"
        } else if r.expires_at <= t {
            "expired"
        } else {
            "active"
        };
        TokenView {
            id: r.token_id,
            name: r.name,
            scopes: r.scopes,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            state,
        }
    }
}

/// `token list`.
#[derive(Debug, Clone, Serialize)]
pub struct TokenList {
    /// Every token, oldest first.
    pub tokens: Vec<TokenView>,
}

/// Every token (revoked and expired ones too), never a secret.
pub fn list_tokens(home: &Home) -> Result<TokenList> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    let rows = st.read(|tx| tx.list_tokens())?;
    Ok(TokenList {
        tokens: rows.into_iter().map(|r| TokenView::new(r, t)).collect(),
    })
}

/// `token revoke`: the token, and whether this run revoked it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRevoked {
    /// The token's id.
    pub id: String,
    /// Always true.
    pub revoked: bool,
    /// False when it already was revoked (its first time is kept).
    pub changed: bool,
    /// When it was revoked (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339_opt")]
    pub revoked_at: Option<i64>,
}

/// Revokes a token: idempotent; refused from the next call on.
pub fn revoke_token(home: &Home, id: &str) -> Result<TokenRevoked> {
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    st.write(|tx| {
        let changed = tx.revoke_token(id, t)?;
        let rec = tx
            .token(id)?
            .ok_or_else(|| TokenError::UnknownToken(id.to_string()))?;
        Ok(TokenRevoked {
            id: rec.token_id,
            revoked: true,
            changed,
            revoked_at: rec.revoked_at,
        })
    })
}

/// Why a presented token is refused (HTTP 401). The message never says
/// whether an id exists when its secret is wrong.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token (Authorization: Bearer pushca_...)")]
    Missing,
    /// Not of the form `pushca_<id>_<secret>`.
    #[error("malformed token: a token is pushca_ followed by 16 and 64 hex digits")]
    Malformed,
    /// Unknown id, or a wrong secret.
    #[error("the token is not valid")]
    Invalid,
    /// Revoked (id, when).
    #[error("token {0} was revoked on {1}")]
    Revoked(String, String),
    /// Expired (id, when).
    #[error("token {0} expired on {1}")]
    Expired(String, String),
}

/// The token a bearer string names, checked: the secret's SHA-256 compared
/// in constant time, not revoked, not expired at `t`.
pub fn authenticate(home: &Home, bearer: &str, t: i64) -> Result<Result<TokenRecord, AuthError>> {
    let Some((id, secret)) = parse_token(bearer) else {
        return Ok(Err(AuthError::Malformed));
    };
    let mut st = open_store(home)?;
    let Some(rec) = st.read(|tx| tx.token(&id))? else {
        return Ok(Err(AuthError::Invalid));
    };
    let given = crate::x509::sha256(&secret);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &given[..],
        rec.secret_sha256.as_slice(),
    )) {
        return Ok(Err(AuthError::Invalid));
    }
    if let Some(at) = rec.revoked_at {
        return Ok(Err(AuthError::Revoked(
            rec.token_id,
            crate::timeutil::rfc3339(at),
        )));
    }
    if rec.expires_at <= t {
        return Ok(Err(AuthError::Expired(
            rec.token_id,
            crate::timeutil::rfc3339(rec.expires_at),
        )));
    }
    Ok(Ok(rec))
}

/// `pushca_<16 hex>_<64 hex>` -> (id, secret bytes).
fn parse_token(s: &str) -> Option<(String, zeroize::Zeroizing<Vec<u8>>)> {
    let rest = s.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let lower_hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if id.len() != 16 || secret.len() != 64 || !lower_hex(id) || !lower_hex(secret) {
        return None;
    }
    let bytes = zeroize::Zeroizing::new(hex::decode(secret).ok()?);
    Some((id.to_string(), bytes))
}

/// Whether `token`'s scopes cover `needed`.
pub fn allows(token: &TokenRecord, needed: &Scope) -> bool {
    token
        .scopes
        .iter()
        .filter_map(|s| s.parse::<Scope>().ok())
        .any(|s| s.covers(needed))
}

/// One call of the service, for the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// The token that made it, when it was valid.
    pub token_id: Option<&'a str>,
    /// The scope it needed.
    pub scope: Option<String>,
    /// The operation.
    pub operation: &'a str,
    /// Serials issued, revoked or read.
    pub serials: Vec<String>,
    /// `ok`, `unauthorized`, `forbidden` or `error:<kind>`.
    pub result: String,
}

/// Appends a call to the audit log.
pub fn record(home: &Home, e: &AuditEntry<'_>) -> Result<()> {
    let mut st = open_store(home)?;
    let rec = AuditRecord {
        seq: 0,
        at: now().unix_timestamp(),
        token_id: e.token_id.map(str::to_string),
        scope: e.scope.clone(),
        operation: e.operation.to_string(),
        serials: e.serials.clone(),
        result: e.result.clone(),
    };
    st.write(|tx| tx.insert_audit(&rec))?;
    Ok(())
}

/// One entry of `pushca audit`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    /// Order of recording.
    pub seq: i64,
    /// When (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub at: i64,
    /// The token (id), or null.
    pub token_id: Option<String>,
    /// The scope the call needed, or null.
    pub scope: Option<String>,
    /// The operation.
    pub operation: String,
    /// Serials issued, revoked or read.
    pub serials: Vec<String>,
    /// `ok`, `unauthorized`, `forbidden` or `error:<kind>`.
    pub result: String,
}

/// `pushca audit`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditList {
    /// From when (RFC 3339), or null for everything.
    #[serde(serialize_with = "serialize_rfc3339_opt")]
    pub since: Option<i64>,
    /// The calls, in order.
    pub entries: Vec<AuditView>,
}

/// `--since`: a date (`2025-01-31`, RFC 3339) or a duration back from `t`
/// (`30m`, `12h`, `7d`, `90s`).
pub fn parse_since(s: &str, t: i64) -> Result<i64> {
    let bad = || TokenError::InvalidSince(s.to_string());
    if let Some(at) = crate::timeutil::parse_rfc3339(s) {
        return Ok(at);
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    let split = s.len().checked_sub(1).ok_or_else(bad)?;
    let (n, unit) = (
        s.get(..split).ok_or_else(bad)?,
        s.get(split..).ok_or_else(bad)?,
    );
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => SECS_PER_DAY,
        _ => return Err(bad()),
    };
    if n < 0 {
        return Err(bad());
    }
    n.checked_mul(secs)
        .and_then(|d| t.checked_sub(d))
        .ok_or_else(bad)
}

/// The audit log from `since` (unix seconds) on.
pub fn audit(home: &Home, since: Option<i64>) -> Result<AuditList> {
    let mut st = open_store(home)?;
    let rows = st.read(|tx| tx.list_audit(since.unwrap_or(i64::MIN)))?;
    Ok(AuditList {
        since,
        entries: rows
            .into_iter()
            .map(|r| AuditView {
                seq: r.seq,
                at: r.at,
                token_id: r.token_id,
                scope: r.scope,
                operation: r.operation,
                serials: r.serials,
                result: r.result,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_cover() {
        let s = |x: &str| x.parse::<Scope>().unwrap();
        assert_eq!(s("issue:com.x.app"), Scope::Issue(Some("com.x.app".into())));
        for bad in ["issue:", "issue:com.x.*", "write", "issue:a/b", "Admin"] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
        let app = Scope::Issue(Some("com.x.app".into()));
        assert!(s("issue:*").covers(&app));
        assert!(s("issue:COM.X.APP").covers(&app));
        assert!(!s("issue:com.x.other").covers(&app));
        assert!(!s("admin").covers(&Scope::Read));
        assert!(!s("read").covers(&Scope::Revoke));
        assert!(!s("issue:*").covers(&Scope::Revoke));
    }

    #[test]
    fn tokens_parse_strictly_and_since_reads_dates_and_durations() {
        let id = "0123456789abcdef";
        let secret = "ab".repeat(32);
        assert!(parse_token(&format!("pushca_{id}_{secret}")).is_some());
        for bad in [
            format!("pushca_{id}_{}", &secret[1..]),
            format!("pushca_{}_{secret}", &id[1..]),
            format!("pushca_{id}_{}", secret.to_uppercase()),
            format!("{id}_{secret}"),
            String::new(),
            "pushca_é".into(),
        ] {
            assert!(parse_token(&bad).is_none(), "{bad}");
        }
        let t = 1_000_000;
        assert_eq!(
            parse_since("7d", t).unwrap(),
            t - 7 * crate::timeutil::SECS_PER_DAY
        );
        assert_eq!(parse_since("30m", t).unwrap(), t - 1800);
        assert_eq!(
            parse_since("1970-01-02", t).unwrap(),
            crate::timeutil::SECS_PER_DAY
        );
        assert_eq!(parse_since("1970-01-01T00:01:00Z", t).unwrap(), 60);
        for bad in ["", "d", "7w", "-1d", "é", "99999999999999999999d"] {
            assert!(parse_since(bad, t).is_err(), "{bad}");
        }
    }
}
