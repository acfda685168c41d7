//! Apple's provider API rules: `POST /3/device/<token>` as APNs checks it.
//!
//! Pure functions, no networking: the server hands [`parse`] what it saw of a
//! request (method, `:path`, headers, and a body read up to [`MAX_BODY`] + 1
//! bytes), then [`resolve_topic`] with the connection's certificate topics,
//! then the enforcement; every refusal is a [`Rejection`] whose status and
//! [`Reason`] are Apple's, and [`body`] is the JSON the provider gets.
//!
//! References: Apple's "Sending notification requests to APNs" (headers,
//! push types, topic suffixes, payload sizes) and "Handling notification
//! responses from APNs" (statuses and reason strings).
//!
//! # The rules, in the order they are checked
//!
//! Apple does not document the order in which it checks a request; pushca
//! checks in the order the request arrives (pseudo-headers, headers, body),
//! and the first rule that fails is the answer.
//!
//! 1. `:path` must start with `/3/device/` (or be `/3/device`), else
//!    `404 BadPath`.
//! 2. `:method` must be `POST`, else `405 MethodNotAllowed`.
//! 3. No header may be given twice (`cookie` excepted: HTTP/2 splits it
//!    legitimately), else `400 DuplicateHeaders`.
//! 4. The device token (the rest of the path): empty is
//!    `400 MissingDeviceToken`; anything but 64 hexadecimal digits
//!    (upper or lower case: 32 bytes) is `400 BadDeviceToken`.
//! 5. `apns-topic`, when given: a reverse-DNS name of at most 255 bytes,
//!    labels of `A-Z a-z 0-9 -` separated by single dots, else `400 BadTopic`.
//!    When omitted, [`resolve_topic`] takes the certificate's only topic, and
//!    answers `400 MissingTopic` when it has several (pushca certificates
//!    always do) or none (token authentication).
//! 6. `apns-push-type`: one of `alert`, `background`, `voip`, `complication`,
//!    `fileprovider`, `mdm`, `liveactivity`, `location`, `pushtotalk`,
//!    `widgets`, `controls` (exactly, lower case), else `400 InvalidPushType`.
//!    Apple requires the header on watchOS 6 and later and recommends it
//!    elsewhere; when it is omitted, pushca infers it from the topic's suffix
//!    (`<id>.voip` is `voip`, ...) and falls back to `alert`, as APNs did
//!    before the header existed.
//! 7. `apns-id`, when given: a UUID in the 8-4-4-4-12 form of hexadecimal
//!    digits (lower or upper case), else `400 BadMessageId`. It is echoed
//!    **exactly as given** ("the same value found in the apns-id field of the
//!    request's header", Apple); when omitted a random (version 4) UUID is
//!    generated, in canonical lower case. A refusal echoes the request's
//!    `apns-id` too when it is well-formed ([`response_id`]).
//! 8. `apns-expiration`, when given: a UNIX time in seconds, decimal digits
//!    only (`0` means "deliver now or never"), else `400 BadExpirationDate`.
//!    A time in the past is not an error: the push simply is not stored.
//! 9. `apns-priority`, when given: `10`, `5` or `1`, else `400 BadPriority`;
//!    omitted is `10` (Apple). For `background` pushes Apple says "Always use
//!    priority 5. Using priority 10 is an error": an explicit `10` there is
//!    `400 BadPriority`, and an omitted priority is taken as `5` (not Apple's
//!    general default of `10`, which the same sentence calls an error).
//! 10. `apns-collapse-id`, when given: 1 to 64 bytes of UTF-8, else
//!     `400 BadCollapseId`.
//! 11. The payload: empty is `400 PayloadEmpty`; more than 4096 bytes
//!     (5120 for `voip`) is `413 PayloadTooLarge`; anything but one JSON
//!     object (UTF-8, nothing after it, nested at most 100 deep, so that
//!     every serde_json consumer with its default limit of 128 can read it)
//!     is `400 BadPayload` (pushca's own reason: Apple's list has none).
//!
//! Then [`resolve_topic`] applies the push type's topic rule: `voip` needs
//! `<id>.voip`, `complication` `<id>.complication`, `fileprovider`
//! `<id>.pushkit.fileprovider`, `liveactivity` `<id>.push-type.liveactivity`,
//! `location` `<id>.location-query`, `pushtotalk` `<id>.voip-ptt`, `widgets`
//! `<id>.push-type.widgets`, `controls` `<id>.push-type.controls`; `alert`,
//! `background` and `mdm` take a topic without any of these suffixes. A topic
//! with another push type's suffix is `400 InvalidPushType` (the push type is
//! wrong for that topic); a topic without the suffix its push type needs is
//! `400 TopicDisallowed` (that push type may not go to that topic).
//!
//! The `authorization` header is not looked at here (token authentication:
//! `provider_token.rs`); the enforcement's denials map through [`denied`]:
//! `DeviceNotProvisioned` is `403`, `ServiceUnavailable` `503`,
//! `TopicDisallowed` `400` (as Apple), the certificate's `BadCertificate`,
//! `BadCertificateEnvironment` and `Forbidden` `403`, the token's
//! `MissingProviderToken`, `InvalidProviderToken`, `ExpiredProviderToken`
//! and `BadEnvironmentKeyInToken` `403`, `TooManyProviderTokenUpdates`
//! `429`. `410 Unregistered` carries the unregistration's time
//! in milliseconds ([`Rejection::unregistered`]).

use std::fmt;

use http::{HeaderMap, Method, StatusCode};

#[cfg(test)]
mod tests;

/// The largest body the server needs to read: the largest payload (voip).
/// The server reads at most `MAX_BODY + 1` bytes, so that [`parse`] sees
/// that a body is too large without reading all of it.
pub const MAX_BODY: usize = 5120;
/// The payload limit of every push type but `voip` (Apple: 4 KB).
pub const MAX_PAYLOAD: usize = 4096;
/// The payload limit of `voip` pushes (Apple: 5 KB).
pub const MAX_VOIP_PAYLOAD: usize = 5120;
/// The longest `apns-collapse-id`, in bytes (Apple).
pub const MAX_COLLAPSE_ID: usize = 64;
/// The longest `apns-topic`, in bytes: a bundle ID (at most 155) with the
/// longest suffix fits well within it.
pub const MAX_TOPIC: usize = 255;
/// The deepest nesting of objects and arrays a payload may have.
pub const MAX_PAYLOAD_DEPTH: usize = 100;
/// The path of a push, followed by the device token.
pub const PATH_PREFIX: &str = "/3/device/";

/// The request headers Apple defines (lower case, as HTTP/2 sends them).
pub mod header {
    /// The notification's UUID, echoed in the response.
    pub const APNS_ID: &str = "apns-id";
    /// The topic (bundle ID, with the push type's suffix).
    pub const APNS_TOPIC: &str = "apns-topic";
    /// The push type.
    pub const APNS_PUSH_TYPE: &str = "apns-push-type";
    /// UNIX seconds after which the notification is not delivered.
    pub const APNS_EXPIRATION: &str = "apns-expiration";
    /// `10`, `5` or `1`.
    pub const APNS_PRIORITY: &str = "apns-priority";
    /// Notifications with the same collapse id replace each other.
    pub const APNS_COLLAPSE_ID: &str = "apns-collapse-id";
}

/// Why APNs refuses a request: Apple's reason strings ([`Reason::as_str`]),
/// plus pushca's `BadPayload` and the enforcement's `DeviceNotProvisioned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Reason {
    /// 400: the collapse identifier is empty or longer than 64 bytes.
    BadCollapseId,
    /// 400: the device token is malformed, unknown, or of the other environment.
    BadDeviceToken,
    /// 400: `apns-expiration` is not a UNIX time.
    BadExpirationDate,
    /// 400: `apns-id` is not a UUID.
    BadMessageId,
    /// 400: `apns-priority` is not 10, 5 or 1 (or 10 for a background push).
    BadPriority,
    /// 400: `apns-topic` is malformed.
    BadTopic,
    /// 400: the device token is not for the topic.
    DeviceTokenNotForTopic,
    /// 400: a header was given more than once.
    DuplicateHeaders,
    /// 400: the connection was idle too long.
    IdleTimeout,
    /// 400: `apns-push-type` is not one of Apple's, or does not fit the topic.
    InvalidPushType,
    /// 400: the path has no device token.
    MissingDeviceToken,
    /// 400: `apns-topic` is required (a certificate with several topics, or a token).
    MissingTopic,
    /// 400: the payload is empty.
    PayloadEmpty,
    /// 400: pushing to this topic is not allowed.
    TopicDisallowed,
    /// 400 (pushca): the payload is not a JSON object.
    BadPayload,
    /// 403: the certificate is bad.
    BadCertificate,
    /// 403: the certificate is for the other environment.
    BadCertificateEnvironment,
    /// 403: the provider token is stale.
    ExpiredProviderToken,
    /// 403: the action is not allowed.
    Forbidden,
    /// 403: the provider token is invalid.
    InvalidProviderToken,
    /// 403: neither a certificate nor a provider token.
    MissingProviderToken,
    /// 403: the key ID in the provider token is unrelated to this connection.
    UnrelatedKeyIdInToken,
    /// 403: the key ID in the provider token is for the other environment.
    BadEnvironmentKeyInToken,
    /// 403 (pushca's enforcement): the profile does not provision the device.
    DeviceNotProvisioned,
    /// 404: the path is not `/3/device/<token>`.
    BadPath,
    /// 405: the method is not POST.
    MethodNotAllowed,
    /// 410: the device token has expired.
    ExpiredToken,
    /// 410: the device token is no longer active for the topic.
    Unregistered,
    /// 413: the payload is too large.
    PayloadTooLarge,
    /// 429: the provider token was changed too often.
    TooManyProviderTokenUpdates,
    /// 429: too many requests for the same device token.
    TooManyRequests,
    /// 500: internal server error.
    InternalServerError,
    /// 503: the service is unavailable.
    ServiceUnavailable,
    /// 503: the server is shutting down.
    Shutdown,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 34] = [
        Reason::BadCollapseId,
        Reason::BadDeviceToken,
        Reason::BadExpirationDate,
        Reason::BadMessageId,
        Reason::BadPriority,
        Reason::BadTopic,
        Reason::DeviceTokenNotForTopic,
        Reason::DuplicateHeaders,
        Reason::IdleTimeout,
        Reason::InvalidPushType,
        Reason::MissingDeviceToken,
        Reason::MissingTopic,
        Reason::PayloadEmpty,
        Reason::TopicDisallowed,
        Reason::BadPayload,
        Reason::BadCertificate,
        Reason::BadCertificateEnvironment,
        Reason::ExpiredProviderToken,
        Reason::Forbidden,
        Reason::InvalidProviderToken,
        Reason::MissingProviderToken,
        Reason::UnrelatedKeyIdInToken,
        Reason::BadEnvironmentKeyInToken,
        Reason::DeviceNotProvisioned,
        Reason::BadPath,
        Reason::MethodNotAllowed,
        Reason::ExpiredToken,
        Reason::Unregistered,
        Reason::PayloadTooLarge,
        Reason::TooManyProviderTokenUpdates,
        Reason::TooManyRequests,
        Reason::InternalServerError,
        Reason::ServiceUnavailable,
        Reason::Shutdown,
    ];

    /// The reason string, as APNs spells it in `{"reason": ...}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadCollapseId => "BadCollapseId",
            Reason::BadDeviceToken => "BadDeviceToken",
            Reason::BadExpirationDate => "BadExpirationDate",
            Reason::BadMessageId => "BadMessageId",
            Reason::BadPriority => "BadPriority",
            Reason::BadTopic => "BadTopic",
            Reason::DeviceTokenNotForTopic => "DeviceTokenNotForTopic",
            Reason::DuplicateHeaders => "DuplicateHeaders",
            Reason::IdleTimeout => "IdleTimeout",
            Reason::InvalidPushType => "InvalidPushType",
            Reason::MissingDeviceToken => "MissingDeviceToken",
            Reason::MissingTopic => "MissingTopic",
            Reason::PayloadEmpty => "PayloadEmpty",
            Reason::TopicDisallowed => "TopicDisallowed",
            Reason::BadPayload => "BadPayload",
            Reason::BadCertificate => "BadCertificate",
            Reason::BadCertificateEnvironment => "BadCertificateEnvironment",
            Reason::ExpiredProviderToken => "ExpiredProviderToken",
            Reason::Forbidden => "Forbidden",
            Reason::InvalidProviderToken => "InvalidProviderToken",
            Reason::MissingProviderToken => "MissingProviderToken",
            Reason::UnrelatedKeyIdInToken => "UnrelatedKeyIdInToken",
            Reason::BadEnvironmentKeyInToken => "BadEnvironmentKeyInToken",
            Reason::DeviceNotProvisioned => "DeviceNotProvisioned",
            Reason::BadPath => "BadPath",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::ExpiredToken => "ExpiredToken",
            Reason::Unregistered => "Unregistered",
            Reason::PayloadTooLarge => "PayloadTooLarge",
            Reason::TooManyProviderTokenUpdates => "TooManyProviderTokenUpdates",
            Reason::TooManyRequests => "TooManyRequests",
            Reason::InternalServerError => "InternalServerError",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::Shutdown => "Shutdown",
        }
    }

    /// The HTTP status APNs answers with this reason.
    pub fn status(self) -> StatusCode {
        match self {
            Reason::BadCollapseId
            | Reason::BadDeviceToken
            | Reason::BadExpirationDate
            | Reason::BadMessageId
            | Reason::BadPriority
            | Reason::BadTopic
            | Reason::DeviceTokenNotForTopic
            | Reason::DuplicateHeaders
            | Reason::IdleTimeout
            | Reason::InvalidPushType
            | Reason::MissingDeviceToken
            | Reason::MissingTopic
            | Reason::PayloadEmpty
            | Reason::TopicDisallowed
            | Reason::BadPayload => StatusCode::BAD_REQUEST,
            Reason::BadCertificate
            | Reason::BadCertificateEnvironment
            | Reason::ExpiredProviderToken
            | Reason::Forbidden
            | Reason::InvalidProviderToken
            | Reason::MissingProviderToken
            | Reason::UnrelatedKeyIdInToken
            | Reason::BadEnvironmentKeyInToken
            | Reason::DeviceNotProvisioned => StatusCode::FORBIDDEN,
            Reason::BadPath => StatusCode::NOT_FOUND,
            Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reason::ExpiredToken | Reason::Unregistered => StatusCode::GONE,
            Reason::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::TooManyProviderTokenUpdates | Reason::TooManyRequests => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Reason::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Reason::ServiceUnavailable | Reason::Shutdown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The reason of that name (exactly as [`Reason::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: the status and Apple's reason; `timestamp_ms` only for
/// `410 Unregistered` (when APNs last knew the token was no longer valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status (the reason's, [`Reason::status`]).
    pub status: StatusCode,
    /// Apple's reason.
    pub reason: Reason,
    /// Milliseconds since the UNIX epoch, for `Unregistered` only.
    pub timestamp_ms: Option<u64>,
}

impl Rejection {
    /// A refusal for `reason`, with its status.
    pub fn new(reason: Reason) -> Rejection {
        Rejection {
            status: reason.status(),
            reason,
            timestamp_ms: None,
        }
    }

    /// `410 Unregistered`, the token having been unregistered at `timestamp_ms`
    /// (milliseconds since the UNIX epoch).
    pub fn unregistered(timestamp_ms: u64) -> Rejection {
        Rejection {
            timestamp_ms: Some(timestamp_ms),
            ..Rejection::new(Reason::Unregistered)
        }
    }
}

impl From<Reason> for Rejection {
    fn from(reason: Reason) -> Rejection {
        Rejection::new(reason)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.reason)
    }
}

impl std::error::Error for Rejection {}

/// A device token: 32 bytes, written as 64 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceToken([u8; 32]);

impl DeviceToken {
    /// The token's bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> DeviceToken {
        DeviceToken(bytes)
    }

    /// 64 hexadecimal digits (upper or lower case), else `None`.
    pub fn parse(s: &str) -> Option<DeviceToken> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(DeviceToken(bytes))
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for DeviceToken {
    /// 64 lower-case hexadecimal digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceToken({self})")
    }
}

/// The `apns-push-type` values Apple defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PushType {
    /// A notification the user sees or hears (alert, badge, sound).
    Alert,
    /// Content delivered in the background, no user interaction.
    Background,
    /// A PushKit VoIP call invitation (`<id>.voip`).
    Voip,
    /// A watchOS complication update (`<id>.complication`).
    Complication,
    /// A File Provider extension change (`<id>.pushkit.fileprovider`).
    Fileprovider,
    /// A device management wake-up (the MDM certificate's topic).
    Mdm,
    /// A Live Activity update (`<id>.push-type.liveactivity`).
    Liveactivity,
    /// A location query (`<id>.location-query`).
    Location,
    /// A Push to Talk update (`<id>.voip-ptt`).
    Pushtotalk,
    /// A widget reload (`<id>.push-type.widgets`).
    Widgets,
    /// A control reload (`<id>.push-type.controls`).
    Controls,
}

impl PushType {
    /// Every push type.
    pub const ALL: [PushType; 11] = [
        PushType::Alert,
        PushType::Background,
        PushType::Voip,
        PushType::Complication,
        PushType::Fileprovider,
        PushType::Mdm,
        PushType::Liveactivity,
        PushType::Location,
        PushType::Pushtotalk,
        PushType::Widgets,
        PushType::Controls,
    ];

    /// The header value (`alert`, `voip`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PushType::Alert => "alert",
            PushType::Background => "background",
            PushType::Voip => "voip",
            PushType::Complication => "complication",
            PushType::Fileprovider => "fileprovider",
            PushType::Mdm => "mdm",
            PushType::Liveactivity => "liveactivity",
            PushType::Location => "location",
            PushType::Pushtotalk => "pushtotalk",
            PushType::Widgets => "widgets",
            PushType::Controls => "controls",
        }
    }

    /// The push type of that header value (exactly, lower case).
    pub fn from_name(name: &str) -> Option<PushType> {
        PushType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The suffix its topic must have after the bundle ID (`.voip`, ...);
    /// `None` for alert, background and mdm.
    pub fn topic_suffix(self) -> Option<&'static str> {
        match self {
            PushType::Alert | PushType::Background | PushType::Mdm => None,
            PushType::Voip => Some(".voip"),
            PushType::Complication => Some(".complication"),
            PushType::Fileprovider => Some(".pushkit.fileprovider"),
            PushType::Liveactivity => Some(".push-type.liveactivity"),
            PushType::Location => Some(".location-query"),
            PushType::Pushtotalk => Some(".voip-ptt"),
            PushType::Widgets => Some(".push-type.widgets"),
            PushType::Controls => Some(".push-type.controls"),
        }
    }

    /// The push type whose suffix `topic` carries, if any.
    pub fn of_topic_suffix(topic: &str) -> Option<PushType> {
        PushType::ALL.into_iter().find(|t| {
            t.topic_suffix()
                .is_some_and(|s| topic.len() > s.len() && topic.ends_with(s))
        })
    }

    /// The largest payload, in bytes: 5120 for voip, else 4096.
    pub fn max_payload(self) -> usize {
        match self {
            PushType::Voip => MAX_VOIP_PAYLOAD,
            _ => MAX_PAYLOAD,
        }
    }
}

impl fmt::Display for PushType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notification's `apns-id`: a UUID (8-4-4-4-12 hexadecimal digits),
/// kept exactly as the provider wrote it, since APNs echoes it unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApnsId(String);

impl ApnsId {
    /// A UUID in the 8-4-4-4-12 form (any case), else `None`.
    pub fn parse(s: &str) -> Option<ApnsId> {
        let b = s.as_bytes();
        let ok = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        ok.then(|| ApnsId(s.to_string()))
    }

    /// A random (version 4) UUID in canonical lower case, for a request
    /// without `apns-id`; `500 InternalServerError` if the system's random
    /// source fails.
    pub fn generate() -> Result<ApnsId, Rejection> {
        use ring::rand::SecureRandom;
        let mut b = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| Rejection::new(Reason::InternalServerError))?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        Ok(ApnsId(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )))
    }

    /// The UUID as given (or as generated).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApnsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `apns-expiration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expiration {
    /// The header was omitted: the gateway's default storage applies.
    Unspecified,
    /// `0`: delivered only if the device is connected now; never stored.
    Immediate,
    /// Not delivered after this UNIX time (seconds).
    At(u64),
}

/// `apns-priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// `1`: the device's power first; never wakes the device.
    Low,
    /// `5`: delivered with the device's power in mind (grouped, throttled).
    ConservePower,
    /// `10`: delivered immediately (the default).
    Immediate,
}

impl Priority {
    /// The header value: 10, 5 or 1.
    pub fn value(self) -> u8 {
        match self {
            Priority::Immediate => 10,
            Priority::ConservePower => 5,
            Priority::Low => 1,
        }
    }

    /// The priority of that header value (`10`, `5` or `1`).
    pub fn from_name(s: &str) -> Option<Priority> {
        match s {
            "10" => Some(Priority::Immediate),
            "5" => Some(Priority::ConservePower),
            "1" => Some(Priority::Low),
            _ => None,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// A request as the server saw it (body already read, at most
/// [`MAX_BODY`] + 1 bytes).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `:method`.
    pub method: &'a Method,
    /// `:path`.
    pub path: &'a str,
    /// Every header (not the pseudo-headers).
    pub headers: &'a HeaderMap,
    /// The body, or its first `MAX_BODY + 1` bytes.
    pub body: &'a [u8],
}

/// A push that passed every syntactic rule (enforcement not yet applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The device token of the path.
    pub token: DeviceToken,
    /// `apns-topic`; `None`: omitted (a single-topic certificate), see
    /// [`resolve_topic`].
    pub topic: Option<String>,
    /// `apns-push-type` (inferred from the topic when omitted).
    pub push_type: PushType,
    /// `apns-id` as given, or generated.
    pub apns_id: ApnsId,
    /// `apns-expiration`.
    pub expiration: Expiration,
    /// `apns-priority` (10 when omitted; 5 for a background push).
    pub priority: Priority,
    /// `apns-collapse-id`.
    pub collapse_id: Option<String>,
    /// The payload: one JSON object.
    pub payload: Vec<u8>,
}

/// Checks a request against every syntactic rule, in the order of the
/// module documentation; the first that fails is the refusal.
pub fn parse(req: &Request<'_>) -> Result<Push, Rejection> {
    let token = req
        .path
        .strip_prefix(PATH_PREFIX)
        .or_else(|| (req.path == "/3/device").then_some(""))
        .ok_or(Reason::BadPath)?;
    if req.method != Method::POST {
        return Err(Reason::MethodNotAllowed.into());
    }
    let h = req.headers;
    if h.keys()
        .any(|k| k != http::header::COOKIE && h.get_all(k).iter().nth(1).is_some())
    {
        return Err(Reason::DuplicateHeaders.into());
    }
    if token.is_empty() {
        return Err(Reason::MissingDeviceToken.into());
    }
    let token = DeviceToken::parse(token).ok_or(Reason::BadDeviceToken)?;

    let topic = header_str(h, header::APNS_TOPIC, Reason::BadTopic)?
        .map(|t| {
            valid_topic(t)
                .then(|| t.to_string())
                .ok_or(Reason::BadTopic)
        })
        .transpose()?;
    let push_type = match header_str(h, header::APNS_PUSH_TYPE, Reason::InvalidPushType)? {
        Some(v) => PushType::from_name(v).ok_or(Reason::InvalidPushType)?,
        None => topic
            .as_deref()
            .and_then(PushType::of_topic_suffix)
            .unwrap_or(PushType::Alert),
    };
    let apns_id = match header_str(h, header::APNS_ID, Reason::BadMessageId)? {
        Some(v) => ApnsId::parse(v).ok_or(Reason::BadMessageId)?,
        None => ApnsId::generate()?,
    };
    let expiration = match header_str(h, header::APNS_EXPIRATION, Reason::BadExpirationDate)? {
        None => Expiration::Unspecified,
        Some(v) => match parse_seconds(v).ok_or(Reason::BadExpirationDate)? {
            0 => Expiration::Immediate,
            t => Expiration::At(t),
        },
    };
    let priority = match header_str(h, header::APNS_PRIORITY, Reason::BadPriority)? {
        Some(v) => match Priority::from_name(v).ok_or(Reason::BadPriority)? {
            Priority::Immediate if push_type == PushType::Background => {
                return Err(Reason::BadPriority.into())
            }
            p => p,
        },
        None if push_type == PushType::Background => Priority::ConservePower,
        None => Priority::Immediate,
    };
    let collapse_id = header_str(h, header::APNS_COLLAPSE_ID, Reason::BadCollapseId)?
        .map(|c| {
            (!c.is_empty() && c.len() <= MAX_COLLAPSE_ID)
                .then(|| c.to_string())
                .ok_or(Reason::BadCollapseId)
        })
        .transpose()?;

    if req.body.is_empty() {
        return Err(Reason::PayloadEmpty.into());
    }
    if req.body.len() > push_type.max_payload() {
        return Err(Reason::PayloadTooLarge.into());
    }
    if !is_json_object(req.body) {
        return Err(Reason::BadPayload.into());
    }
    Ok(Push {
        token,
        topic,
        push_type,
        apns_id,
        expiration,
        priority,
        collapse_id,
        payload: req.body.to_vec(),
    })
}

/// The `apns-id` to echo on a response to this request: the request's own
/// when it is one well-formed value, else `None` (then the server echoes a
/// generated one, [`ApnsId::generate`]).
pub fn response_id(headers: &HeaderMap) -> Option<ApnsId> {
    let mut all = headers.get_all(header::APNS_ID).iter();
    let v = all.next()?;
    if all.next().is_some() {
        return None;
    }
    ApnsId::parse(trim(std::str::from_utf8(v.as_bytes()).ok()?))
}

/// The topic a push goes to: the header, or the certificate's only topic
/// when omitted (`MissingTopic` when it has several, or none: token
/// authentication); then the push type's suffix rule (`InvalidPushType` for
/// a topic with another push type's suffix, `TopicDisallowed` for a topic
/// without the suffix the push type needs).
pub fn resolve_topic(push: &Push, certificate_topics: &[&str]) -> Result<String, Rejection> {
    let topic = match (&push.topic, certificate_topics) {
        (Some(t), _) => t.clone(),
        (None, [only]) => (*only).to_string(),
        (None, _) => return Err(Reason::MissingTopic.into()),
    };
    let carried = PushType::of_topic_suffix(&topic);
    match push.push_type.topic_suffix() {
        Some(_) if carried == Some(push.push_type) => Ok(topic),
        None if carried.is_none() => Ok(topic),
        _ if carried.is_some() => Err(Reason::InvalidPushType.into()),
        _ => Err(Reason::TopicDisallowed.into()),
    }
}

/// The enforcement's denial as APNs answers it: the reason of the same
/// name with its status (`TopicDisallowed` 400, `DeviceNotProvisioned` 403,
/// `TooManyProviderTokenUpdates` 429, `ServiceUnavailable` 503, the others
/// 403); a reason this version does not know is `403 Forbidden`.
pub fn denied(reason: pushca::gateway::Reason) -> Rejection {
    Reason::from_name(reason.name())
        .unwrap_or(Reason::Forbidden)
        .into()
}

/// The response body: `{"reason":"..."}`, or
/// `{"reason":"Unregistered","timestamp":<ms>}`.
pub fn body(rej: &Rejection) -> Vec<u8> {
    // The reason strings are plain identifiers: nothing to escape.
    match rej.timestamp_ms {
        Some(ms) => format!("{{\"reason\":\"{}\",\"timestamp\":{ms}}}", rej.reason),
        None => format!("{{\"reason\":\"{}\"}}", rej.reason),
    }
    .into_bytes()
}

/// The single value of header `name` as text without surrounding blanks
/// (`None` when absent); a value that is not UTF-8 is refused with `bad`.
/// Duplicates were refused before.
fn header_str<'h>(h: &'h HeaderMap, name: &str, bad: Reason) -> Result<Option<&'h str>, Reason> {
    h.get(name)
        .map(|v| std::str::from_utf8(v.as_bytes()).map(trim).map_err(|_| bad))
        .transpose()
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Reverse-DNS: 1 to [`MAX_TOPIC`] bytes, non-empty labels of
/// `A-Z a-z 0-9 -` separated by single dots.
fn valid_topic(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= MAX_TOPIC
        && t.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// Decimal digits only (no sign, no blanks inside), within `u64`.
fn parse_seconds(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// One JSON object and nothing else, in UTF-8, nested at most
/// [`MAX_PAYLOAD_DEPTH`] deep. UTF-8 and depth are checked first (passes over
/// at most 5 KB), then serde_json checks the syntax without building anything
/// (it does not check the UTF-8 of strings it skips).
fn is_json_object(body: &[u8]) -> bool {
    let starts_with_brace = body
        .iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|c| *c == b'{');
    starts_with_brace
        && std::str::from_utf8(body).is_ok()
        && nesting_depth(body) <= MAX_PAYLOAD_DEPTH
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// The deepest nesting of `{` and `[` outside strings (an upper bound on a
/// malformed document: serde_json decides whether it is JSON).
fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &c in body {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
