//! STUB of Apple's provider API rules (the real module is written apart and
//! replaces this file at merge): the fixed interface, minimal rules only.

use std::fmt;

use http::{HeaderMap, Method, StatusCode};

/// A request as the server saw it (body already read, at most MAX_BODY + 1 bytes).
pub struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// A device token: 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceToken([u8; 32]);

impl DeviceToken {
    pub fn from_bytes(b: [u8; 32]) -> DeviceToken {
        DeviceToken(b)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// `apns-push-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushType {
    Alert,
    Background,
    Voip,
}

impl PushType {
    pub fn as_str(&self) -> &'static str {
        match self {
            PushType::Alert => "alert",
            PushType::Background => "background",
            PushType::Voip => "voip",
        }
    }
}

impl fmt::Display for PushType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `apns-priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Immediate,
    Conserve,
}

impl Priority {
    pub fn as_str(&self) -> &'static str {
        match self {
            Priority::Immediate => "10",
            Priority::Conserve => "5",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `apns-expiration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    At(u64),
    Immediately,
}

/// `apns-id`: a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApnsId([u8; 16]);

impl fmt::Display for ApnsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// Apple's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    BadDeviceToken,
    DeviceTokenNotForTopic,
    BadPath,
    BadPayload,
    MissingTopic,
    TopicDisallowed,
    Unregistered,
    MissingProviderToken,
    BadCertificate,
    BadCertificateEnvironment,
    Forbidden,
    DeviceNotProvisioned,
    ServiceUnavailable,
    InternalServerError,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::BadDeviceToken => "BadDeviceToken",
            Reason::DeviceTokenNotForTopic => "DeviceTokenNotForTopic",
            Reason::BadPath => "BadPath",
            Reason::BadPayload => "BadPayload",
            Reason::MissingTopic => "MissingTopic",
            Reason::TopicDisallowed => "TopicDisallowed",
            Reason::Unregistered => "Unregistered",
            Reason::MissingProviderToken => "MissingProviderToken",
            Reason::BadCertificate => "BadCertificate",
            Reason::BadCertificateEnvironment => "BadCertificateEnvironment",
            Reason::Forbidden => "Forbidden",
            Reason::DeviceNotProvisioned => "DeviceNotProvisioned",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::InternalServerError => "InternalServerError",
        }
    }
}

/// A push that passed every syntactic rule.
pub struct Push {
    pub token: DeviceToken,
    pub topic: Option<String>,
    pub push_type: PushType,
    pub apns_id: ApnsId,
    pub expiration: Expiration,
    pub priority: Priority,
    pub collapse_id: Option<String>,
    pub payload: Vec<u8>,
}

/// A refusal.
pub struct Rejection {
    pub status: StatusCode,
    pub reason: Reason,
    pub timestamp_ms: Option<u64>,
}

pub const MAX_BODY: usize = 5120;

fn reject(status: StatusCode, reason: Reason) -> Rejection {
    Rejection {
        status,
        reason,
        timestamp_ms: None,
    }
}

fn header<'a>(req: &'a Request<'_>, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// STUB: path, token, payload; everything else defaulted.
pub fn parse(req: &Request<'_>) -> Result<Push, Rejection> {
    let bad = |r| reject(StatusCode::BAD_REQUEST, r);
    let token = req
        .path
        .strip_prefix("/3/device/")
        .ok_or_else(|| reject(StatusCode::NOT_FOUND, Reason::BadPath))?;
    let token = hex32(token).ok_or_else(|| bad(Reason::BadDeviceToken))?;
    match serde_json::from_slice::<serde_json::Value>(req.body) {
        Ok(serde_json::Value::Object(_)) => {}
        _ => return Err(bad(Reason::BadPayload)),
    }
    let mut id = [0u8; 16];
    rand::Rng::fill(&mut rand::thread_rng(), &mut id);
    Ok(Push {
        token: DeviceToken(token),
        topic: header(req, "apns-topic").map(str::to_string),
        push_type: match header(req, "apns-push-type") {
            Some("background") => PushType::Background,
            Some("voip") => PushType::Voip,
            _ => PushType::Alert,
        },
        apns_id: ApnsId(id),
        expiration: match header(req, "apns-expiration").and_then(|v| v.parse().ok()) {
            Some(0) | None => Expiration::Immediately,
            Some(t) => Expiration::At(t),
        },
        priority: match header(req, "apns-priority") {
            Some("5") => Priority::Conserve,
            _ => Priority::Immediate,
        },
        collapse_id: header(req, "apns-collapse-id").map(str::to_string),
        payload: req.body.to_vec(),
    })
}

/// STUB: the header's topic if the certificate has it; the only topic when omitted.
pub fn resolve_topic(push: &Push, certificate_topics: &[&str]) -> Result<String, Rejection> {
    match &push.topic {
        Some(t) if certificate_topics.contains(&t.as_str()) => Ok(t.clone()),
        Some(_) => Err(reject(StatusCode::BAD_REQUEST, Reason::TopicDisallowed)),
        None if certificate_topics.len() == 1 => Ok(certificate_topics[0].to_string()),
        None => Err(reject(StatusCode::BAD_REQUEST, Reason::MissingTopic)),
    }
}

/// STUB: the enforcement's denials.
pub fn denied(reason: pushca::gateway::Reason) -> Rejection {
    use pushca::gateway::Reason as G;
    match reason {
        G::TopicDisallowed => reject(StatusCode::BAD_REQUEST, Reason::TopicDisallowed),
        G::BadCertificateEnvironment => {
            reject(StatusCode::FORBIDDEN, Reason::BadCertificateEnvironment)
        }
        G::Forbidden => reject(StatusCode::FORBIDDEN, Reason::Forbidden),
        G::DeviceNotProvisioned => reject(StatusCode::FORBIDDEN, Reason::DeviceNotProvisioned),
        G::ServiceUnavailable => {
            reject(StatusCode::SERVICE_UNAVAILABLE, Reason::ServiceUnavailable)
        }
        _ => reject(StatusCode::FORBIDDEN, Reason::BadCertificate),
    }
}

/// `{"reason": ...}` or with `"timestamp"`.
pub fn body(rej: &Rejection) -> Vec<u8> {
    let v = match rej.timestamp_ms {
        Some(t) => serde_json::json!({"reason": rej.reason.as_str(), "timestamp": t}),
        None => serde_json::json!({"reason": rej.reason.as_str()}),
    };
    v.to_string().into_bytes()
}
