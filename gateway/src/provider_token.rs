//! Token-based provider authentication: a provider connection without a
//! client certificate sends `authorization: bearer <JWT>` on each request.
//!
//! Per connection the gateway keeps the current token (its bytes and the
//! verified [`ProviderToken`]): a push with the same token costs a byte
//! comparison; the library re-checks its expiry and the trust store
//! snapshot in `authorize_with_token`. The rules decided here, not by the
//! library (PRODUCT.md, "Token-based provider authentication"):
//!
//! - no `authorization` header, or not of the form `bearer <token>` (the
//!   scheme in any case): `403 MissingProviderToken`;
//! - one team per connection: the first verified token pins its team, a
//!   valid token of another team is `403 InvalidProviderToken`;
//! - a connection that changes its token more than once in
//!   [`UPDATE_WINDOW`] is answered `429 TooManyProviderTokenUpdates`: every
//!   new token value after the first counts as a change, valid or not; a
//!   change refused (for any reason) does not replace the current token,
//!   and one refused with 429 is not counted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;
use pushca::gateway::{Gateway, ProviderToken, Reason};

/// A connection may change its token at most once in this window (Apple:
/// 20 minutes).
pub(crate) const UPDATE_WINDOW: Duration = Duration::from_secs(20 * 60);

/// A token connection's authentication state.
#[derive(Default)]
pub(crate) struct TokenConn {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The token in use: its bytes and what they verified to.
    current: Option<(Box<[u8]>, ProviderToken)>,
    /// The team the connection's first verified token pinned.
    team: Option<String>,
    /// A token value was seen (the next new one is a change).
    seen: bool,
    /// When the token last changed.
    last_change: Option<Instant>,
}

/// Why a request's `authorization` header gives no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoBearer {
    /// Absent, or not `bearer <token>`.
    Missing,
    /// Given more than once.
    Duplicate,
}

/// The bare token of `authorization: bearer <token>` (the scheme in any
/// case, blanks around the token ignored).
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&[u8], NoBearer> {
    let mut all = headers.get_all(http::header::AUTHORIZATION).iter();
    let v = all.next().ok_or(NoBearer::Missing)?;
    if all.next().is_some() {
        return Err(NoBearer::Duplicate);
    }
    let v = v.as_bytes();
    let (scheme, rest) = match v.iter().position(|&b| b == b' ') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => return Err(NoBearer::Missing),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(NoBearer::Missing);
    }
    let start = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .ok_or(NoBearer::Missing)?;
    let end = rest
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    Ok(&rest[start..end])
}

impl TokenConn {
    /// The provider of a request carrying `jwt` on this connection: the
    /// current token when `jwt` is the same, else `jwt` verified (and made
    /// current) within the connection's rules.
    pub(crate) fn token(&self, gateway: &Gateway, jwt: &[u8]) -> Result<ProviderToken, Reason> {
        self.token_at(gateway, jwt, Instant::now())
    }

    fn token_at(
        &self,
        gateway: &Gateway,
        jwt: &[u8],
        now: Instant,
    ) -> Result<ProviderToken, Reason> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bytes, t)) = &s.current {
            if **bytes == *jwt {
                return Ok(t.clone());
            }
        }
        if s.seen {
            if let Some(at) = s.last_change {
                if now.saturating_duration_since(at) < UPDATE_WINDOW {
                    return Err(Reason::TooManyProviderTokenUpdates);
                }
            }
            s.last_change = Some(now);
        }
        s.seen = true;
        let t = gateway.verify_token(jwt).map_err(|d| d.reason)?;
        match &s.team {
            Some(team) if team != t.team_id() => return Err(Reason::InvalidProviderToken),
            Some(_) => {}
            None => s.team = Some(t.team_id().to_string()),
        }
        s.current = Some((jwt.into(), t.clone()));
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(values: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn every_token_reason_is_apples_name_and_status() {
        use pushca::gateway::Reason as R;
        for (r, status) in [
            (R::MissingProviderToken, 403),
            (R::InvalidProviderToken, 403),
            (R::ExpiredProviderToken, 403),
            (R::BadEnvironmentKeyInToken, 403),
            (R::TooManyProviderTokenUpdates, 429),
        ] {
            let rej = crate::apns::denied(r);
            assert_eq!(
                (rej.reason.as_str(), rej.status.as_u16()),
                (r.name(), status)
            );
        }
    }

    #[test]
    fn the_bearer_scheme_in_any_case_and_nothing_else() {
        assert_eq!(bearer(&h(&["bearer a.b.c"])), Ok(&b"a.b.c"[..]));
        assert_eq!(bearer(&h(&["Bearer   a.b.c  "])), Ok(&b"a.b.c"[..]));
        assert_eq!(bearer(&h(&["BEARER x"])), Ok(&b"x"[..]));
        assert_eq!(bearer(&h(&[])), Err(NoBearer::Missing));
        assert_eq!(bearer(&h(&["bearer"])), Err(NoBearer::Missing));
        assert_eq!(bearer(&h(&["bearer  "])), Err(NoBearer::Missing));
        assert_eq!(bearer(&h(&["basic a.b.c"])), Err(NoBearer::Missing));
        assert_eq!(bearer(&h(&["bearera.b.c"])), Err(NoBearer::Missing));
        assert_eq!(
            bearer(&h(&["bearer a", "bearer b"])),
            Err(NoBearer::Duplicate)
        );
    }
}
