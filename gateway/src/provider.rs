//! The provider listeners: Apple's `POST /3/device/<token>`, the
//! connection identified once from its client certificate (or, without
//! one, each request by its provider token: [`crate::provider_token`]),
//! each push authorized on the listener's environment, then delivered.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use pushca::gateway::{Decision, Environment, Identity, ProviderToken};
use serde::Serialize;

use crate::apns::{self, Rejection};
use crate::events::{self, header_topic, path_token};
use crate::hub::Delivery;
use crate::provider_token::{self, NoBearer, TokenConn};
use crate::server::{log, Ctx};

/// How a provider connection is authenticated.
pub(crate) enum Auth {
    /// No client certificate: each request carries a provider token.
    Token(TokenConn),
    /// A client certificate the trust store refuses.
    Denied(pushca::gateway::Reason),
    /// A provider the trust store knows.
    Provider(Identity),
}

/// Bytes of a request body read and thrown away beyond the cap, so that a
/// client slightly over the limit reads its answer (not a stream reset).
pub(crate) const DRAIN_BEYOND_CAP: usize = 64 * 1024;

/// Reads at most `cap` bytes of `body`; what follows is read and dropped
/// up to [`DRAIN_BEYOND_CAP`] more bytes (a larger body is cut off by the
/// stream's reset). Ten seconds at most.
pub(crate) async fn read_capped(mut body: Incoming, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seen = 0usize;
    let read = async {
        while seen <= cap + DRAIN_BEYOND_CAP {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(d) = frame.into_data() {
                        seen = seen.saturating_add(d.len());
                        let take = cap.saturating_sub(out.len()).min(d.len());
                        out.extend_from_slice(&d[..take]);
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read).await;
    out
}

/// The `apns-id` of a response to a request refused before it parsed: the
/// request's own when it looks like a UUID, else a new random one.
fn echo_id(headers: &HeaderMap) -> String {
    if let Some(v) = headers.get("apns-id").and_then(|v| v.to_str().ok()) {
        let shape = v.len() == 36
            && v.char_indices().all(|(i, c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if shape {
            return v.to_ascii_lowercase();
        }
    }
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The answer to one push request: what the transport sends back
/// (`apns-id`, and with a body `content-type: application/json`).
pub(crate) struct Answer {
    /// The response's status.
    pub(crate) status: StatusCode,
    /// The `apns-id` header.
    pub(crate) apns_id: String,
    /// The JSON body of a refusal; empty for a 200.
    pub(crate) body: Vec<u8>,
}

fn reject(rej: &Rejection, apns_id: String) -> Answer {
    Answer {
        status: rej.status,
        apns_id,
        body: apns::body(rej),
    }
}

fn rejection(status: StatusCode, reason: apns::Reason) -> Rejection {
    Rejection {
        status,
        reason,
        timestamp_ms: None,
    }
}

/// One line of a notification stream.
#[derive(Serialize)]
struct Line<'a> {
    token: &'a str,
    topic: &'a str,
    apns_id: &'a str,
    push_type: &'a str,
    priority: &'a str,
    collapse_id: Option<&'a str>,
    payload: &'a serde_json::value::RawValue,
}

/// The NDJSON line of `push` to `topic`: the payload embedded as it came
/// (a JSON object; its line breaks, whitespace in JSON, become spaces).
/// On every accepted push: borrowed strings, one buffer.
fn render(push: &apns::Push, topic: &str) -> Result<Bytes, String> {
    let text = String::from_utf8_lossy(&push.payload);
    let payload: std::borrow::Cow<'_, str> = if text.contains(['\n', '\r']) {
        text.replace(['\n', '\r'], " ").into()
    } else {
        text
    };
    let raw: &serde_json::value::RawValue =
        serde_json::from_str(&payload).map_err(|e| e.to_string())?;
    let token = hex::encode(push.token.as_bytes());
    let priority = match push.priority.value() {
        10 => "10",
        5 => "5",
        _ => "1",
    };
    let mut v = Vec::with_capacity(push.payload.len() + 256);
    serde_json::to_writer(
        &mut v,
        &Line {
            token: &token,
            topic,
            apns_id: push.apns_id.as_str(),
            push_type: push.push_type.as_str(),
            priority,
            collapse_id: push.collapse_id.as_deref(),
            payload: raw,
        },
    )
    .map_err(|e| e.to_string())?;
    v.push(b'\n');
    Ok(Bytes::from(v))
}

/// The token's first 4 bytes in hex (for logs).
fn token_prefix(t: &apns::DeviceToken) -> String {
    hex::encode(&t.as_bytes()[..4])
}

/// Who sent a request: the connection's certificate, or the request's
/// verified provider token.
enum Who<'a> {
    Cert(&'a Identity),
    Token(ProviderToken),
}

impl Who<'_> {
    /// What the events log says of the provider.
    fn provider(&self) -> events::Provider<'_> {
        match self {
            Who::Cert(id) => {
                events::Provider::Certificate(Some((id.fingerprint(), id.bundle_id())))
            }
            Who::Token(t) => events::Provider::Token(Some(t)),
        }
    }

    /// The provider in a log line.
    fn describe(&self) -> String {
        match self {
            Who::Cert(id) => format!("bundle={}", id.bundle_id()),
            Who::Token(t) => format!("key={} team={}", t.key_id(), t.team_id()),
        }
    }
}

/// The App ID a topic is for: the topic without its push type's suffix.
fn app_id_of(topic: &str) -> &str {
    match apns::PushType::of_topic_suffix(topic).and_then(|t| t.topic_suffix()) {
        Some(suffix) => &topic[..topic.len() - suffix.len()],
        None => topic,
    }
}

/// One push request, its body read (up to [`apns::MAX_BODY`] + 1 bytes): the
/// provider's authentication, Apple's request rules, the trust store's
/// decision, the delivery; every decision recorded.
pub(crate) fn answer(
    ctx: &Ctx,
    auth: &Auth,
    env: Environment,
    parts: &http::request::Parts,
    body: &[u8],
) -> Answer {
    // A decision taken before the request parsed.
    let early = |rej: &Rejection, apns_id: &str, provider| {
        events::record(
            ctx,
            &events::Decision {
                env,
                outcome: Err(rej),
                topic: header_topic(&parts.headers),
                token: path_token(parts.uri.path()).as_deref(),
                apns_id,
                provider,
            },
        )
    };
    let who = match auth {
        Auth::Provider(id) => Who::Cert(id),
        Auth::Token(conn) => {
            let verified = match provider_token::bearer(&parts.headers) {
                Ok(jwt) => conn.token(&ctx.gateway, jwt).map_err(apns::denied),
                Err(NoBearer::Missing) => Err(apns::Reason::MissingProviderToken.into()),
                Err(NoBearer::Duplicate) => Err(apns::Reason::DuplicateHeaders.into()),
            };
            match verified {
                Ok(t) => Who::Token(t),
                Err(rej) => {
                    let apns_id = echo_id(&parts.headers);
                    early(&rej, &apns_id, events::Provider::Token(None));
                    log(&format!(
                        "push {} {} {} apns-id={apns_id} (provider token)",
                        env.name(),
                        rej.status.as_u16(),
                        rej.reason.as_str(),
                    ));
                    return reject(&rej, apns_id);
                }
            }
        }
        Auth::Denied(reason) => {
            let rej = apns::denied(*reason);
            let apns_id = echo_id(&parts.headers);
            early(&rej, &apns_id, events::Provider::Certificate(None));
            return reject(&rej, apns_id);
        }
    };
    let request = apns::Request {
        method: &parts.method,
        path: parts.uri.path(),
        headers: &parts.headers,
        body,
    };
    let push = match apns::parse(&request) {
        Ok(p) => p,
        Err(rej) => {
            let apns_id = echo_id(&parts.headers);
            early(&rej, &apns_id, who.provider());
            log(&format!(
                "push {} {} {} apns-id={apns_id} {}",
                env.name(),
                rej.status.as_u16(),
                rej.reason.as_str(),
                who.describe()
            ));
            return reject(&rej, apns_id);
        }
    };
    let apns_id = push.apns_id.to_string();
    let outcome = decide(ctx, &who, env, &push);
    let token = token_prefix(&push.token);
    events::record(
        ctx,
        &events::Decision {
            env,
            outcome: match &outcome {
                Ok((_, delivery)) => Ok(*delivery),
                Err(rej) => Err(rej),
            },
            topic: match &outcome {
                Ok((topic, _)) => Some(topic.as_str()),
                Err(_) => header_topic(&parts.headers),
            },
            token: Some(&token),
            apns_id: &apns_id,
            provider: who.provider(),
        },
    );
    // Accepted pushes are logged at debug (a line per push costs throughput;
    // the `--events` log is the record of decisions), refusals at info.
    let level = match &outcome {
        Ok(_) => crate::log::Level::Debug,
        Err(_) => crate::log::Level::Info,
    };
    if crate::log::enabled(level) {
        let what = match &outcome {
            Ok((topic, delivery)) => format!("200 topic={topic} {delivery:?}"),
            Err(rej) => format!("{} {}", rej.status.as_u16(), rej.reason.as_str()),
        };
        crate::log::log(
            level,
            &format!(
                "push {} {what} token={token} apns-id={apns_id} {}",
                env.name(),
                who.describe()
            ),
        );
    }
    match outcome {
        Ok(_) => Answer {
            status: StatusCode::OK,
            apns_id,
            body: Vec::new(),
        },
        Err(rej) => reject(&rej, apns_id),
    }
}

fn decide(
    ctx: &Ctx,
    who: &Who<'_>,
    env: Environment,
    push: &apns::Push,
) -> Result<(String, Delivery), Rejection> {
    // A token has no topics to default from: `apns-topic` is required.
    let topics: Vec<&str> = match who {
        Who::Cert(id) => id.topics().collect(),
        Who::Token(_) => Vec::new(),
    };
    let topic = apns::resolve_topic(push, &topics)?;
    let info = match ctx.state.lookup(push.token.as_bytes()) {
        Some(info) if info.env == env => info,
        _ => {
            return Err(rejection(
                StatusCode::BAD_REQUEST,
                apns::Reason::BadDeviceToken,
            ))
        }
    };
    if let Some(at) = info.unregistered_ms {
        return Err(Rejection {
            status: StatusCode::GONE,
            reason: apns::Reason::Unregistered,
            timestamp_ms: Some(at),
        });
    }
    let app_id = match who {
        Who::Cert(id) => id.bundle_id(),
        Who::Token(_) => app_id_of(&topic),
    };
    if info.bundle_id != app_id {
        return Err(rejection(
            StatusCode::BAD_REQUEST,
            apns::Reason::DeviceTokenNotForTopic,
        ));
    }
    let decision = match who {
        Who::Cert(id) => ctx.gateway.authorize(id, &topic, env, Some(&info.udid)),
        Who::Token(t) => ctx
            .gateway
            .authorize_with_token(t, &topic, env, Some(&info.udid)),
    };
    if let Decision::Deny(reason) = decision {
        return Err(apns::denied(reason));
    }
    let internal = |e: String| {
        crate::log::error(&format!("delivery failed: {e}"));
        rejection(
            StatusCode::INTERNAL_SERVER_ERROR,
            apns::Reason::InternalServerError,
        )
    };
    let line = render(push, &topic).map_err(internal)?;
    let expires = match push.expiration {
        apns::Expiration::At(t) => Some(t),
        apns::Expiration::Immediate => None,
        // Omitted: APNs keeps such a notification for a limited time; the
        // gateway keeps it for DEFAULT_RETENTION_SECS.
        apns::Expiration::Unspecified => {
            Some(crate::hub::now_secs().saturating_add(DEFAULT_RETENTION_SECS))
        }
    };
    let delivery = ctx
        .hub
        .deliver(&ctx.state, &info.udid, push.token.as_bytes(), expires, line)
        .map_err(|e| internal(e.0))?;
    Ok((topic, delivery))
}

/// How long a notification without `apns-expiration` is stored for an
/// offline device: 30 days.
const DEFAULT_RETENTION_SECS: u64 = 30 * 86_400;
