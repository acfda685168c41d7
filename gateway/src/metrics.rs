//! `--metrics ADDR:PORT`: the gateway's counters in Prometheus' text
//! exposition format (version 0.0.4) over plain HTTP at `/metrics`. Plain
//! atomics, updated where things happen; the gauges that the state already
//! knows (registrations, stored notifications, open streams, the trust
//! store's version) are read when scraped.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `pushca_gateway_pushes_total` | counter | `env`, `auth` (`certificate`, `token`: how the provider authenticated), `result` (`accepted`, `rejected`), `reason` (Apple's reason; for accepted pushes `delivered`, `stored` or `dropped`) |
//! | `pushca_gateway_connections` | gauge | `listener` (`development`, `production`, `devices`): open TLS connections |
//! | `pushca_gateway_registrations_total` | counter | `env`, `result` (`accepted`, `refused`) |
//! | `pushca_gateway_unregistrations_total` | counter | |
//! | `pushca_gateway_registered_tokens` | gauge | `env`: live registrations |
//! | `pushca_gateway_stored_notifications` | gauge | waiting for an offline device |
//! | `pushca_gateway_notification_streams` | gauge | open device streams |
//! | `pushca_gateway_reloads_total` | counter | `result` (`changed`, `unchanged`, `refused`) |
//! | `pushca_gateway_last_reload_timestamp_seconds` | gauge | the last successful load (the start, or a reload changed or unchanged) |
//! | `pushca_gateway_trust_store_version` | gauge | the version served |
//! | `pushca_gateway_events_write_errors_total` | counter | `--events` lines not written |
//! | `pushca_gateway_start_time_seconds` | gauge | |

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use pushca::gateway::Environment;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::apns;
use crate::hub::Delivery;
use crate::server::{full, Body, Ctx};

/// The outcomes of an accepted push, before Apple's reasons in a row.
const DELIVERIES: [(Delivery, &str); 3] = [
    (Delivery::Delivered, "delivered"),
    (Delivery::Stored, "stored"),
    (Delivery::Dropped, "dropped"),
];
/// Slots per environment: the deliveries, then every [`apns::Reason`].
const PUSH_SLOTS: usize = DELIVERIES.len() + apns::Reason::ALL.len();
const ENVS: [Environment; 2] = [Environment::Development, Environment::Production];
const AUTHS: [ProviderAuth; 2] = [ProviderAuth::Certificate, ProviderAuth::Token];
/// The listeners, in the order of [`Metrics::connections`].
pub(crate) const LISTENERS: [&str; 3] = ["development", "production", "devices"];
const RELOADS: [&str; 3] = ["changed", "unchanged", "refused"];

fn env_index(env: Environment) -> usize {
    match env {
        Environment::Development => 0,
        Environment::Production => 1,
    }
}

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// How a push's provider authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderAuth {
    /// A client certificate (also when the trust store refused it).
    Certificate,
    /// A provider token (a connection without a client certificate).
    Token,
}

impl ProviderAuth {
    /// `certificate` or `token`.
    pub fn name(self) -> &'static str {
        match self {
            ProviderAuth::Certificate => "certificate",
            ProviderAuth::Token => "token",
        }
    }

    fn index(self) -> usize {
        match self {
            ProviderAuth::Certificate => 0,
            ProviderAuth::Token => 1,
        }
    }
}

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadResult {
    /// A new store serves.
    Changed,
    /// The store had not changed.
    Unchanged,
    /// The store was refused; the old one serves.
    Refused,
}

/// The gateway's counters.
pub struct Metrics {
    /// By environment, then authentication.
    pushes: [[[AtomicU64; PUSH_SLOTS]; 2]; 2],
    connections: [AtomicI64; 3],
    registrations: [[AtomicU64; 2]; 2],
    unregistrations: AtomicU64,
    reloads: [AtomicU64; 3],
    last_reload: AtomicU64,
    events_errors: AtomicU64,
    started: u64,
}

fn now_secs() -> u64 {
    crate::hub::now_secs()
}

impl Default for Metrics {
    fn default() -> Metrics {
        let now = now_secs();
        Metrics {
            pushes: [[zeros(), zeros()], [zeros(), zeros()]],
            connections: std::array::from_fn(|_| AtomicI64::new(0)),
            registrations: [zeros(), zeros()],
            unregistrations: AtomicU64::new(0),
            reloads: zeros(),
            last_reload: AtomicU64::new(now),
            events_errors: AtomicU64::new(0),
            started: now,
        }
    }
}

/// An open connection counted in [`Metrics`]: uncounted when dropped.
pub struct ConnectionGuard {
    ctx: Arc<Ctx>,
    listener: usize,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.ctx.metrics.connections[self.listener].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// An accepted push and what became of it.
    pub fn push_accepted(&self, env: Environment, auth: ProviderAuth, delivery: Delivery) {
        let slot = DELIVERIES
            .iter()
            .position(|(d, _)| *d == delivery)
            .unwrap_or(0);
        self.pushes[env_index(env)][auth.index()][slot].fetch_add(1, Ordering::Relaxed);
    }

    /// A refused push.
    pub fn push_rejected(&self, env: Environment, auth: ProviderAuth, reason: apns::Reason) {
        if let Some(i) = apns::Reason::ALL.iter().position(|r| *r == reason) {
            self.pushes[env_index(env)][auth.index()][DELIVERIES.len() + i]
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a connection open on `listener` (one of `LISTENERS`) until
    /// the guard is dropped.
    pub fn connection(ctx: &Arc<Ctx>, listener: &str) -> ConnectionGuard {
        let i = LISTENERS.iter().position(|l| *l == listener).unwrap_or(0);
        ctx.metrics.connections[i].fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            ctx: ctx.clone(),
            listener: i,
        }
    }

    /// A registration request for `env`, accepted or refused.
    pub fn registration(&self, env: Environment, accepted: bool) {
        self.registrations[env_index(env)][usize::from(!accepted)].fetch_add(1, Ordering::Relaxed);
    }

    /// A registration removed.
    pub fn unregistration(&self) {
        self.unregistrations.fetch_add(1, Ordering::Relaxed);
    }

    /// A reload and its result.
    pub fn reload(&self, result: ReloadResult) {
        let i = match result {
            ReloadResult::Changed => 0,
            ReloadResult::Unchanged => 1,
            ReloadResult::Refused => 2,
        };
        self.reloads[i].fetch_add(1, Ordering::Relaxed);
        if result != ReloadResult::Refused {
            self.last_reload.store(now_secs(), Ordering::Relaxed);
        }
    }

    /// An `--events` line that could not be written.
    pub fn events_error(&self) {
        self.events_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// The gauges read from the rest of the gateway when scraped.
pub struct Gauges {
    /// Live registrations per environment (development, production).
    pub registered: [u64; 2],
    /// Notifications stored for offline devices.
    pub stored: u64,
    /// Open notification streams.
    pub streams: u64,
    /// The trust store version served.
    pub version: u64,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text of `m` and `g`.
pub fn render(m: &Metrics, g: &Gauges) -> String {
    let mut o = String::with_capacity(8192);
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    family(
        &mut o,
        "pushca_gateway_pushes_total",
        "counter",
        "Push requests decided, by environment, provider authentication, result and reason (Apple's reason, or what became of an accepted push).",
    );
    for (env, auth) in ENVS.iter().flat_map(|e| AUTHS.map(|a| (*e, a))) {
        let slots = &m.pushes[env_index(env)][auth.index()];
        for (i, (_, name)) in DELIVERIES.iter().enumerate() {
            let _ = writeln!(
                o,
                "pushca_gateway_pushes_total{{env=\"{}\",auth=\"{}\",result=\"accepted\",reason=\"{name}\"}} {}",
                env.name(),
                auth.name(),
                get(&slots[i])
            );
        }
        for (i, r) in apns::Reason::ALL.iter().enumerate() {
            let _ = writeln!(
                o,
                "pushca_gateway_pushes_total{{env=\"{}\",auth=\"{}\",result=\"rejected\",reason=\"{}\"}} {}",
                env.name(),
                auth.name(),
                r.as_str(),
                get(&slots[DELIVERIES.len() + i])
            );
        }
    }
    family(
        &mut o,
        "pushca_gateway_connections",
        "gauge",
        "Open TLS connections, by listener.",
    );
    for (i, l) in LISTENERS.iter().enumerate() {
        let _ = writeln!(
            o,
            "pushca_gateway_connections{{listener=\"{l}\"}} {}",
            m.connections[i].load(Ordering::Relaxed).max(0)
        );
    }
    family(
        &mut o,
        "pushca_gateway_registrations_total",
        "counter",
        "Device registration requests, by environment and result.",
    );
    for env in ENVS {
        for (i, result) in ["accepted", "refused"].iter().enumerate() {
            let _ = writeln!(
                o,
                "pushca_gateway_registrations_total{{env=\"{}\",result=\"{result}\"}} {}",
                env.name(),
                get(&m.registrations[env_index(env)][i])
            );
        }
    }
    family(
        &mut o,
        "pushca_gateway_unregistrations_total",
        "counter",
        "Registrations removed by their device.",
    );
    let _ = writeln!(
        o,
        "pushca_gateway_unregistrations_total {}",
        get(&m.unregistrations)
    );
    family(
        &mut o,
        "pushca_gateway_registered_tokens",
        "gauge",
        "Live registrations (device tokens), by environment.",
    );
    for env in ENVS {
        let _ = writeln!(
            o,
            "pushca_gateway_registered_tokens{{env=\"{}\"}} {}",
            env.name(),
            g.registered[env_index(env)]
        );
    }
    for (name, help, v) in [
        (
            "pushca_gateway_stored_notifications",
            "Notifications stored for offline devices.",
            g.stored,
        ),
        (
            "pushca_gateway_notification_streams",
            "Open device notification streams.",
            g.streams,
        ),
    ] {
        family(&mut o, name, "gauge", help);
        let _ = writeln!(o, "{name} {v}");
    }
    family(
        &mut o,
        "pushca_gateway_reloads_total",
        "counter",
        "Trust store reloads, by result.",
    );
    for (i, r) in RELOADS.iter().enumerate() {
        let _ = writeln!(
            o,
            "pushca_gateway_reloads_total{{result=\"{r}\"}} {}",
            get(&m.reloads[i])
        );
    }
    for (name, help, kind, v) in [
        (
            "pushca_gateway_last_reload_timestamp_seconds",
            "When the trust store serving was last loaded or checked unchanged (UNIX seconds).",
            "gauge",
            get(&m.last_reload),
        ),
        (
            "pushca_gateway_trust_store_version",
            "The trust store version served.",
            "gauge",
            g.version,
        ),
        (
            "pushca_gateway_events_write_errors_total",
            "Event lines that could not be written.",
            "counter",
            get(&m.events_errors),
        ),
        (
            "pushca_gateway_start_time_seconds",
            "When the gateway started (UNIX seconds).",
            "gauge",
            m.started,
        ),
    ] {
        family(&mut o, name, kind, help);
        let _ = writeln!(o, "{name} {v}");
    }
    o
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full(Vec::new())))
}

fn scrape(ctx: &Ctx) -> String {
    let (registered, stored) = ctx.state.counts();
    render(
        &ctx.metrics,
        &Gauges {
            registered,
            stored,
            streams: ctx.hub.open_streams() as u64,
            version: ctx.gateway.version(),
        },
    )
}

async fn handle(
    ctx: Arc<Ctx>,
    peer: SocketAddr,
    req: http::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    drop(req);
    Ok(match (path.as_str(), method) {
        ("/metrics", Method::GET) | ("/metrics", Method::HEAD) => {
            crate::log::debug(&format!("metrics: scraped by {peer}"));
            let c = ctx.clone();
            match tokio::task::spawn_blocking(move || scrape(&c)).await {
                Ok(body) => text(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    body,
                ),
                Err(e) => {
                    crate::log::error(&format!("metrics: {e}"));
                    text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "text/plain; charset=utf-8",
                        "internal error\n".into(),
                    )
                }
            }
        }
        ("/metrics", _) => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET /metrics\n".into(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: GET /metrics\n".into(),
        ),
    })
}

/// Serves `/metrics` on `listener` (HTTP/1.1, plain) until `stop`.
pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    let ctx = ctx.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| handle(ctx.clone(), peer, req));
                        let conn = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(10))
                            .max_buf_size(16 * 1024)
                            .serve_connection(TokioIo::new(tcp), svc);
                        let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
                    });
                }
                Err(e) => {
                    crate::log::warn(&format!("metrics: accept: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_rendered_with_its_family() {
        let m = Metrics::default();
        m.push_accepted(
            Environment::Production,
            ProviderAuth::Certificate,
            Delivery::Stored,
        );
        m.push_rejected(
            Environment::Development,
            ProviderAuth::Certificate,
            apns::Reason::BadDeviceToken,
        );
        m.push_rejected(
            Environment::Development,
            ProviderAuth::Certificate,
            apns::Reason::BadDeviceToken,
        );
        m.push_rejected(
            Environment::Development,
            ProviderAuth::Token,
            apns::Reason::InvalidProviderToken,
        );
        m.reload(ReloadResult::Refused);
        let t = render(
            &m,
            &Gauges {
                registered: [2, 1],
                stored: 3,
                streams: 0,
                version: 7,
            },
        );
        assert!(t.contains(
            "pushca_gateway_pushes_total{env=\"production\",auth=\"certificate\",result=\"accepted\",reason=\"stored\"} 1\n"
        ));
        assert!(t.contains(
            "pushca_gateway_pushes_total{env=\"development\",auth=\"certificate\",result=\"rejected\",reason=\"BadDeviceToken\"} 2\n"
        ));
        assert!(t.contains(
            "pushca_gateway_pushes_total{env=\"development\",auth=\"token\",result=\"rejected\",reason=\"InvalidProviderToken\"} 1\n"
        ));
        assert!(t.contains(
            "pushca_gateway_pushes_total{env=\"development\",auth=\"token\",result=\"rejected\",reason=\"BadDeviceToken\"} 0\n"
        ));
        assert!(t.contains("pushca_gateway_registered_tokens{env=\"production\"} 1\n"));
        assert!(t.contains("pushca_gateway_reloads_total{result=\"refused\"} 1\n"));
        assert!(t.contains("pushca_gateway_trust_store_version 7\n"));
        // Every sample follows its family's TYPE line.
        let mut typed = Vec::new();
        for l in t.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                typed.push(rest.split(' ').next().unwrap_or("").to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap_or("");
                assert_eq!(typed.last().map(String::as_str), Some(name), "{l}");
            }
        }
    }
}
