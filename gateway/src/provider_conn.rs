//! A provider connection's HTTP/2, served with `h2` directly: every stream
//! is handled inside the connection's task (a set of per-stream futures
//! polled together with the connection, no task spawned per stream), and
//! the responses written by one poll of the connection go out in one TLS
//! write. The limits are those the device listener's hyper server has
//! (`server.rs`), and hyper's defaults for the rest.

use std::cell::RefCell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use h2::server::SendResponse;
use h2::{Ping, RecvStream};
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use http::{Method, Request, Response};
use pushca::gateway::Environment;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::apns;
use crate::provider::{self, Answer, Auth, DRAIN_BEYOND_CAP};
use crate::server::{log, Ctx};

/// A PING goes out after this long without a new stream ...
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(60);
/// ... and the connection is closed when its PONG is not back within this.
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// A request body is read for this long at most.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/2 server settings of a provider connection: those of the
/// device listener's hyper builder, and hyper's defaults for the rest (1 MiB
/// windows, 16 KiB frames, a 400 KiB send buffer).
fn builder() -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.initial_window_size(1024 * 1024)
        .initial_connection_window_size(1024 * 1024)
        .max_frame_size(16 * 1024)
        .max_header_list_size(16 * 1024)
        .max_send_buffer_size(400 * 1024)
        .max_concurrent_streams(1000)
        .max_pending_accept_reset_streams(64)
        .max_local_error_reset_streams(Some(256));
    b
}

/// What a provider connection is: its peer, listener, certificate chain and
/// authentication (identified again after each reload).
pub(crate) struct Conn<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) auth: &'a ArcSwap<Auth>,
    pub(crate) env: Environment,
    pub(crate) peer: SocketAddr,
    pub(crate) chain: Option<&'a [Vec<u8>]>,
}

/// Serves one provider connection (the preface is in front of `io`) until
/// it closes; `stop` closes it gracefully (GOAWAY, open streams finish), and
/// so does a reload that refuses its certificate.
pub(crate) async fn serve<T: AsyncRead + AsyncWrite + Unpin>(
    io: T,
    c: Conn<'_>,
    stop: &mut watch::Receiver<bool>,
    reloads: &mut watch::Receiver<u64>,
) {
    let name = c.env.name();
    let mut conn = tokio::select! {
        r = builder().handshake::<_, Bytes>(io) => match r {
            Ok(conn) => conn,
            Err(_) => return,
        },
        _ = stop.changed() => return,
    };
    let mut pings = conn.ping_pong();
    let mut streams = FuturesUnordered::new();
    let mut stopping = false;
    // Keep-alive: a stream accepted since the last tick; the PING's state.
    let mut active = false;
    let mut ping = PingState::Idle;
    let keep_alive = tokio::time::sleep(KEEP_ALIVE_INTERVAL);
    let mut keep_alive = pin!(keep_alive);
    loop {
        // Ready when the connection is over; until then it accepts the new
        // streams and runs the open ones, again until neither moves (so the
        // responses of a batch go out in one write).
        let drive = poll_fn(|cx| loop {
            let mut moved = false;
            loop {
                match conn.poll_accept(cx) {
                    Poll::Ready(Some(Ok((req, respond)))) => {
                        active = true;
                        moved = true;
                        streams.push(stream(&c, req, respond));
                    }
                    Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(()),
                    Poll::Pending => break,
                }
            }
            while let Poll::Ready(Some(())) = streams.poll_next_unpin(cx) {
                moved = true;
            }
            if let (PingState::Sent, Some(p)) = (ping, pings.as_mut()) {
                match p.poll_pong(cx) {
                    Poll::Ready(Ok(_)) => ping = PingState::Ponged,
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
            }
            if !moved {
                return Poll::Pending;
            }
        });
        tokio::select! {
            _ = drive => break,
            r = stop.changed(), if !stopping => {
                stopping = true;
                if r.is_ok() {
                    conn.graceful_shutdown();
                }
            }
            r = reloads.changed(), if !stopping => {
                if r.is_err() {
                    continue;
                }
                if let Some(chain) = c.chain {
                    match c.ctx.gateway.identify(chain) {
                        Ok(id) => c.auth.store(std::sync::Arc::new(Auth::Provider(id))),
                        Err(d) => {
                            log(&format!("{name} {}: refused after the reload ({d}): closing", c.peer));
                            c.auth.store(std::sync::Arc::new(Auth::Denied(d.reason)));
                            stopping = true;
                            conn.graceful_shutdown();
                        }
                    }
                }
            }
            _ = keep_alive.as_mut() => {
                let next = match ping {
                    PingState::Sent => {
                        // No PONG within the timeout.
                        conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                        KEEP_ALIVE_INTERVAL
                    }
                    PingState::Ponged => {
                        ping = PingState::Idle;
                        KEEP_ALIVE_INTERVAL
                    }
                    PingState::Idle if std::mem::take(&mut active) => KEEP_ALIVE_INTERVAL,
                    PingState::Idle => {
                        let sent = pings.as_mut().is_some_and(|p| p.send_ping(Ping::opaque()).is_ok());
                        if sent {
                            ping = PingState::Sent;
                            KEEP_ALIVE_TIMEOUT
                        } else {
                            KEEP_ALIVE_INTERVAL
                        }
                    }
                };
                keep_alive.as_mut().reset(tokio::time::Instant::now() + next);
            }
        }
    }
}

/// The keep-alive PING of a connection idle for [`KEEP_ALIVE_INTERVAL`].
#[derive(Clone, Copy)]
enum PingState {
    Idle,
    Sent,
    Ponged,
}

/// One stream: its body read (flow control released as it comes), the
/// request answered by [`provider::answer`], the answer sent.
async fn stream(c: &Conn<'_>, req: Request<RecvStream>, mut respond: SendResponse<Bytes>) {
    let (parts, body) = req.into_parts();
    // Read first, whatever the answer: a stream answered before its body
    // was read is reset, and some clients report that instead of the
    // answer. (CONNECT: no body, as hyper gave it.)
    let body = if parts.method == Method::CONNECT {
        Vec::new()
    } else {
        read_capped(body, apns::MAX_BODY + 1).await
    };
    let answer = provider::answer(c.ctx, &c.auth.load(), c.env, &parts, &body);
    send(&mut respond, answer);
}

/// Reads at most `cap` bytes of `body`; what follows is read and dropped
/// up to [`DRAIN_BEYOND_CAP`] more bytes (a larger body is cut off by the
/// stream's reset). [`BODY_TIMEOUT`] at most.
async fn read_capped(mut body: RecvStream, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    if body.is_end_stream() {
        return out;
    }
    let mut seen = 0usize;
    let read = async {
        while seen <= cap + DRAIN_BEYOND_CAP {
            match body.data().await {
                Some(Ok(d)) => {
                    let _ = body.flow_control().release_capacity(d.len());
                    seen = seen.saturating_add(d.len());
                    let take = cap.saturating_sub(out.len()).min(d.len());
                    out.extend_from_slice(&d[..take]);
                }
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(BODY_TIMEOUT, read).await;
    out
}

const APNS_ID: HeaderName = HeaderName::from_static("apns-id");

/// Sends `a`: its headers (`apns-id`, `date`; with a body `content-type`
/// and `content-length`), then its body in one DATA frame.
fn send(respond: &mut SendResponse<Bytes>, a: Answer) {
    let mut r = Response::new(());
    *r.status_mut() = a.status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::try_from(a.apns_id) {
        h.insert(APNS_ID, v);
    }
    h.insert(DATE, date());
    let end = a.body.is_empty();
    if !end {
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CONTENT_LENGTH, HeaderValue::from(a.body.len()));
    }
    match respond.send_response(r, end) {
        Ok(mut s) if !end => {
            let _ = s.send_data(Bytes::from(a.body), true);
        }
        _ => {}
    }
}

/// The `date` header (as hyper sends it), formatted once a second per thread.
fn date() -> HeaderValue {
    thread_local! {
        static CACHE: RefCell<(u64, HeaderValue)> =
            const { RefCell::new((u64::MAX, HeaderValue::from_static(""))) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            if let Ok(v) = HeaderValue::try_from(httpdate::fmt_http_date(now)) {
                *c = (secs, v);
            }
        }
        c.1.clone()
    })
}
