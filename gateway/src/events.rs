//! `--events FILE|-`: one JSON line per push decision, accepted or
//! rejected, appended to FILE (created 0640 when missing) or written to
//! stdout (`-`), each line written whole and flushed. A line never holds
//! the payload, nor a whole device token:
//!
//! ```json
//! {"time":"2025-06-01T12:00:00Z","time_ms":1748779200123,"env":"development","result":"accepted",
//!  "status":200,"reason":null,"delivery":"delivered","topic":"com.example.app","token":"5f2c9a01",
//!  "apns_id":"0f6c8a1e-...","auth":"certificate","cert":"9c1d2e3f4a5b6c7d","bundle_id":"com.example.app"}
//! {"time":"2025-06-01T12:00:01Z","time_ms":1748779201007,"env":"development","result":"accepted",
//!  "status":200,"reason":null,"delivery":"stored","topic":"com.example.app","token":"5f2c9a01",
//!  "apns_id":"4a1b...","auth":"token","key_id":"ABC123DEFG","team_id":"ABCDE12345"}
//! ```
//!
//! `token` is the device token's first 8 hex digits (as the path gave them
//! when the request was refused before it parsed; `null` when they are not
//! hex), `cert` the first 16 hex digits of the SHA-256 of the provider's
//! certificate (`null` without one, or when the trust store refused it),
//! `topic` the topic pushed to (for a refusal, `apns-topic` as sent),
//! `delivery` what became of an accepted push (`delivered`, `stored`,
//! `dropped`), `auth` how the provider authenticated (`certificate`, or
//! `token` on a connection without a client certificate); `key_id` and
//! `team_id` (token pushes only) the Key ID and team of the provider token
//! (`null` when the token was refused), never the token itself. Every
//! decision also counts in the metrics.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use http::HeaderMap;
use pushca::gateway::{Environment, ProviderToken};
use serde::Serialize;

use crate::apns::Rejection;
use crate::hub::Delivery;
use crate::metrics::ProviderAuth;
use crate::server::Ctx;

/// Longest topic written (a refused request's `apns-topic` may be long).
const MAX_TOPIC: usize = 255;

enum Sink {
    File(File),
    Stdout,
}

/// The events log.
pub struct Events {
    sink: Mutex<Sink>,
    /// The last write failed (logged once until one succeeds again).
    failing: AtomicBool,
    name: String,
}

impl Events {
    /// Opens `path` for appending (`-`: stdout).
    pub fn open(path: &Path) -> Result<Events, String> {
        if path.as_os_str() == "-" {
            return Ok(Events {
                sink: Mutex::new(Sink::Stdout),
                failing: AtomicBool::new(false),
                name: "stdout".into(),
            });
        }
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(path)
            .map_err(|e| format!("events log {}: {e}", path.display()))?;
        Ok(Events {
            sink: Mutex::new(Sink::File(f)),
            failing: AtomicBool::new(false),
            name: path.display().to_string(),
        })
    }

    /// Writes `line` (one JSON line, with its line feed) whole.
    fn write(&self, line: &[u8]) -> std::io::Result<()> {
        let mut sink = self
            .sink
            .lock()
            .map_err(|_| std::io::Error::other("poisoned lock"))?;
        match &mut *sink {
            // O_APPEND: one write(2) per line, no buffer to flush.
            Sink::File(f) => f.write_all(line),
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
        }
    }
}

/// One push decision.
pub(crate) struct Decision<'a> {
    /// The listener's environment.
    pub(crate) env: Environment,
    /// Accepted (what became of it) or refused.
    pub(crate) outcome: Result<Delivery, &'a Rejection>,
    /// The topic pushed to, or `apns-topic` as sent.
    pub(crate) topic: Option<&'a str>,
    /// The device token's first 8 hex digits.
    pub(crate) token: Option<&'a str>,
    /// The `apns-id` answered.
    pub(crate) apns_id: &'a str,
    /// The provider.
    pub(crate) provider: Provider<'a>,
}

/// The provider of a push decision.
pub(crate) enum Provider<'a> {
    /// A certificate connection: its certificate's SHA-256 and bundle ID
    /// (`None` when the trust store refused it).
    Certificate(Option<(&'a [u8; 32], &'a str)>),
    /// A connection without a certificate: the request's verified provider
    /// token (`None` when it was missing or refused).
    Token(Option<&'a ProviderToken>),
}

impl Provider<'_> {
    fn auth(&self) -> ProviderAuth {
        match self {
            Provider::Certificate(_) => ProviderAuth::Certificate,
            Provider::Token(_) => ProviderAuth::Token,
        }
    }
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    time_ms: u64,
    env: &'static str,
    result: &'static str,
    status: u16,
    reason: Option<&'static str>,
    delivery: Option<&'static str>,
    topic: Option<&'a str>,
    token: Option<&'a str>,
    apns_id: &'a str,
    auth: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<Option<&'a str>>,
}

fn delivery_name(d: Delivery) -> &'static str {
    match d {
        Delivery::Delivered => "delivered",
        Delivery::Stored => "stored",
        Delivery::Dropped => "dropped",
    }
}

/// `apns-topic` as sent (at most [`MAX_TOPIC`] bytes), for a refusal's event.
pub(crate) fn header_topic(headers: &HeaderMap) -> Option<&str> {
    let t = headers.get("apns-topic")?.to_str().ok()?;
    let mut end = t.len().min(MAX_TOPIC);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    Some(&t[..end])
}

/// The first 8 hex digits of the token in `/3/device/<token>`, lower case.
pub(crate) fn path_token(path: &str) -> Option<String> {
    let t = path.strip_prefix("/3/device/")?.get(..8)?;
    t.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| t.to_ascii_lowercase())
}

/// Counts `d` in the metrics and writes its `--events` line.
pub(crate) fn record(ctx: &Ctx, d: &Decision<'_>) {
    match d.outcome {
        Ok(delivery) => ctx
            .metrics
            .push_accepted(d.env, d.provider.auth(), delivery),
        Err(rej) => ctx
            .metrics
            .push_rejected(d.env, d.provider.auth(), rej.reason),
    }
    let Some(events) = &ctx.events else { return };
    let now_ms = crate::state::now_ms();
    let line = Line {
        time: pushca::timeutil::rfc3339((now_ms / 1000) as i64),
        time_ms: now_ms,
        env: d.env.name(),
        result: if d.outcome.is_ok() {
            "accepted"
        } else {
            "rejected"
        },
        status: match d.outcome {
            Ok(_) => 200,
            Err(rej) => rej.status.as_u16(),
        },
        reason: d.outcome.err().map(|r| r.reason.as_str()),
        delivery: d.outcome.ok().map(delivery_name),
        topic: d.topic,
        token: d.token,
        apns_id: d.apns_id,
        auth: d.provider.auth().name(),
        cert: None,
        bundle_id: None,
        key_id: None,
        team_id: None,
    };
    // Certificate pushes have `cert` and `bundle_id`, token pushes `key_id`
    // and `team_id` (each null when the provider was refused).
    let line = match d.provider {
        Provider::Certificate(c) => Line {
            cert: Some(c.map(|(f, _)| hex::encode(&f[..8]))),
            bundle_id: Some(c.map(|(_, b)| b)),
            ..line
        },
        Provider::Token(t) => Line {
            key_id: Some(t.map(ProviderToken::key_id)),
            team_id: Some(t.map(ProviderToken::team_id)),
            ..line
        },
    };
    let written = serde_json::to_vec(&line)
        .map_err(std::io::Error::other)
        .and_then(|mut v| {
            v.push(b'\n');
            events.write(&v)
        });
    match written {
        Ok(()) => {
            if events.failing.swap(false, Ordering::Relaxed) {
                crate::log::info(&format!("events log {}: writing again", events.name));
            }
        }
        Err(e) => {
            ctx.metrics.events_error();
            if !events.failing.swap(true, Ordering::Relaxed) {
                crate::log::error(&format!(
                    "events log {}: {e} (events are lost until a write succeeds)",
                    events.name
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_requests_token_and_topic_are_cut_and_checked() {
        assert_eq!(
            path_token("/3/device/ABCDEF0123456789").as_deref(),
            Some("abcdef01")
        );
        assert_eq!(path_token("/3/device/abc"), None);
        assert_eq!(path_token("/3/device/zzzzzzzzzz"), None);
        assert_eq!(path_token("/3/device/ab\u{e9}defgh"), None);
        let mut h = HeaderMap::new();
        h.insert(
            "apns-topic",
            http::HeaderValue::from_str(&"a".repeat(1000)).unwrap(),
        );
        assert_eq!(header_topic(&h).map(str::len), Some(MAX_TOPIC));
    }
}
