//! The device listener: a device identity certificate (`pushca device
//! identity`: CN=UDID, EKU clientAuth, no push extensions) registers for
//! pushes, unregisters, and reads its notifications as NDJSON.

use std::convert::Infallible;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use pushca::gateway::{Decision, Environment};
use pushca::x509::CertSummary;
use serde::Deserialize;

use crate::provider::read_capped;
use crate::server::{full, log, Body, Ctx};

/// Largest registration request body.
const MAX_REGISTRATION: usize = 4096;

/// Who is on a device connection.
pub(crate) enum DeviceAuth {
    /// A device identity: its UDID.
    Device(String),
    /// A certificate that is not a device identity (why, for logs).
    Refused(String),
}

/// A UDID as Apple writes them: 40 hex digits, or 8 hex, '-', 16 hex.
fn is_udid(s: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    match s.split_once('-') {
        None => s.len() == 40 && hex(s),
        Some((a, b)) => a.len() == 8 && b.len() == 16 && hex(a) && hex(b),
    }
}

/// The device a verified client certificate (DER leaf) stands for.
pub(crate) fn device_of(leaf: &[u8]) -> DeviceAuth {
    let s = match CertSummary::from_der(leaf) {
        Ok(s) => s,
        Err(e) => return DeviceAuth::Refused(e.to_string()),
    };
    if s.bundle_id.is_some() || !s.environments.is_empty() || !s.topics.is_empty() {
        return DeviceAuth::Refused(format!(
            "{}: a push certificate, not a device identity",
            s.subject
        ));
    }
    if !s.extended_key_usage.iter().any(|e| e == "clientAuth") {
        return DeviceAuth::Refused(format!("{}: no EKU clientAuth", s.subject));
    }
    match s.common_name {
        Some(cn) if is_udid(&cn) => DeviceAuth::Device(cn),
        _ => DeviceAuth::Refused(format!("{}: its CN is not a UDID", s.subject)),
    }
}

fn json(status: StatusCode, v: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(full(v.to_string().into_bytes()))
        .unwrap_or_else(|_| Response::new(full(Vec::new())))
}

fn reason(status: StatusCode, reason: &str) -> Response<Body> {
    json(status, serde_json::json!({ "reason": reason }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    bundle_id: String,
    environment: String,
}

fn parse_token(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(t: &[u8; 32]) -> String {
    t.iter().map(|b| format!("{b:02x}")).collect()
}

/// One device request.
pub(crate) async fn handle(
    ctx: Arc<Ctx>,
    auth: Arc<ArcSwap<DeviceAuth>>,
    req: http::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    // Read first, whatever the answer (see `read_capped`).
    let body = read_capped(body, MAX_REGISTRATION + 1).await;
    let auth = auth.load_full();
    let udid = match &*auth {
        DeviceAuth::Device(u) => u.clone(),
        DeviceAuth::Refused(_) => return Ok(reason(StatusCode::FORBIDDEN, "BadCertificate")),
    };
    let path = parts.uri.path();
    Ok(match (path, &parts.method) {
        ("/1/registrations", &Method::POST) => register(&ctx, &udid, &body),
        ("/1/notifications", &Method::GET) => match ctx.hub.connect(&ctx.state, &udid) {
            Ok(stream) => {
                log(&format!("device {udid}: notification stream opened"));
                Response::builder()
                    .status(StatusCode::OK)
                    .header(http::header::CONTENT_TYPE, "application/x-ndjson")
                    .body(stream.boxed())
                    .unwrap_or_else(|_| Response::new(full(Vec::new())))
            }
            Err(e) => {
                crate::log::error(&format!("device {udid}: {e}"));
                reason(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
            }
        },
        (p, &Method::DELETE) if p.starts_with("/1/registrations/") => {
            let token = p
                .strip_prefix("/1/registrations/")
                .map(str::to_ascii_lowercase)
                .and_then(|t| parse_token(&t));
            let Some(token) = token else {
                return Ok(reason(StatusCode::BAD_REQUEST, "BadDeviceToken"));
            };
            match ctx.state.unregister(&udid, &token) {
                Ok(true) => {
                    ctx.metrics.unregistration();
                    log(&format!(
                        "device {udid}: unregistered token {}",
                        &hex(&token)[..8]
                    ));
                    Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(full(Vec::new()))
                        .unwrap_or_else(|_| Response::new(full(Vec::new())))
                }
                Ok(false) => reason(StatusCode::NOT_FOUND, "BadDeviceToken"),
                Err(e) => {
                    crate::log::error(&format!("device {udid}: {e}"));
                    reason(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
                }
            }
        }
        ("/1/registrations", _) | ("/1/notifications", _) => {
            reason(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed")
        }
        (p, _) if p.starts_with("/1/registrations/") => {
            reason(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed")
        }
        _ => reason(StatusCode::NOT_FOUND, "BadPath"),
    })
}

fn register(ctx: &Ctx, udid: &str, body: &[u8]) -> Response<Body> {
    if body.len() > MAX_REGISTRATION {
        return reason(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    }
    let Ok(reg) = serde_json::from_slice::<Registration>(body) else {
        return reason(StatusCode::BAD_REQUEST, "BadPayload");
    };
    let Some(env) = Environment::from_name(&reg.environment) else {
        return reason(StatusCode::BAD_REQUEST, "BadEnvironment");
    };
    if let Decision::Deny(r) = ctx
        .gateway
        .authorize_registration(&reg.bundle_id, env, udid)
    {
        ctx.metrics.registration(env, false);
        log(&format!(
            "device {udid}: registration for {} ({}) refused: {r}",
            reg.bundle_id,
            env.name()
        ));
        let status = if r == pushca::gateway::Reason::ServiceUnavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::FORBIDDEN
        };
        return reason(status, r.name());
    }
    match ctx.state.register(udid, &reg.bundle_id, env) {
        Ok((token, new)) => {
            ctx.metrics.registration(env, true);
            log(&format!(
                "device {udid}: registered for {} ({}), token {}{}",
                reg.bundle_id,
                env.name(),
                &hex(&token)[..8],
                if new { " (new)" } else { "" }
            ));
            json(
                StatusCode::CREATED,
                serde_json::json!({
                    "token": hex(&token),
                    "bundle_id": reg.bundle_id,
                    "environment": env.name(),
                }),
            )
        }
        Err(e) => {
            crate::log::error(&format!("device {udid}: {e}"));
            reason(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_udid;

    #[test]
    fn udids_in_both_of_apples_forms() {
        assert!(is_udid("00008030-001A0C3E0E68802E"));
        assert!(is_udid("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"));
        assert!(!is_udid("com.example.app"));
        assert!(!is_udid("00008030-001A0C3E0E68802"));
    }
}
