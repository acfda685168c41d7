//! The server: flags, startup, the listeners' accept loops, one HTTP/2
//! connection per TLS connection, reload (SIGHUP and on change) and the
//! graceful stop (SIGTERM).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use pushca::gateway::{Anchor, Environment, Gateway, LoadOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use crate::devices::{self, DeviceAuth};
use crate::hub::Hub;
use crate::metrics::ReloadResult;
use crate::provider::Auth;
use crate::state::State;
use crate::tls::{self, ClientTrust, Configs, ServerKey};

/// A response body: a whole one, or a notification stream.
pub type Body = BoxBody<Bytes, Infallible>;

/// A whole response body.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// One log line on stderr at level info (see [`crate::log`]).
pub fn log(msg: &str) {
    crate::log::info(msg)
}

/// The HTTP/2 client connection preface (RFC 9113, 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// SIGTERM waits this long for open streams.
const DRAIN: Duration = Duration::from_secs(10);

/// `pushca-gateway`: Apple's HTTP/2 provider API in front of devices,
/// enforcing a pushca trust store on every connection, push and registration.
#[derive(clap::Parser, Debug)]
#[command(name = "pushca-gateway", version)]
pub struct Args {
    /// The trust store directory (`pushca gateway trust-store --out DIR`)
    #[arg(long, value_name = "DIR")]
    pub trust_store: PathBuf,
    /// The pinned root certificate (PEM or DER), from outside the trust store
    #[arg(long, value_name = "ROOT.pem")]
    pub anchor: PathBuf,
    /// Directory of the gateway's state (SQLite: registrations, stored notifications, version served)
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The server certificate chain, PEM, leaf first (`pushca server-cert`: `server-<name>-fullchain.pem`)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// The server's private key, PEM, unencrypted (`pushca server-cert --noenc`)
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Provider listener for the development environment (port 0: any free port, printed at start)
    #[arg(long, value_name = "ADDR:PORT")]
    pub development: Option<SocketAddr>,
    /// Provider listener for the production environment
    #[arg(long, value_name = "ADDR:PORT")]
    pub production: Option<SocketAddr>,
    /// Device listener (registration and notification streams)
    #[arg(long, value_name = "ADDR:PORT")]
    pub devices: Option<SocketAddr>,
    /// Re-read the trust store this often when policy.json.p7s changed
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub reload_every: u64,
    /// Serve Prometheus metrics over plain HTTP at http://ADDR:PORT/metrics
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Append one JSON line per push decision to FILE (`-`: stdout); never a payload
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
    /// A connection must complete its TLS handshake and send the HTTP/2
    /// preface within this, or it is closed
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub handshake_timeout: u64,
    /// Open connections at most, all listeners together; one more is closed
    /// as soon as it is accepted (keep it below the open-files limit)
    #[arg(long, value_name = "N", default_value_t = 20_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

/// What every connection shares.
pub struct Ctx {
    /// The enforcement.
    pub gateway: Gateway,
    /// Registrations and stored notifications.
    pub state: State,
    /// Open notification streams.
    pub hub: Arc<Hub>,
    trust_dir: PathBuf,
    server_key: ServerKey,
    tls: ArcSwap<Configs>,
    trust: Mutex<ClientTrust>,
    /// Bumped after every reload that changed the store.
    reloads: watch::Sender<u64>,
    /// The counters of `--metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The `--events` log.
    pub events: Option<crate::events::Events>,
}

#[derive(Clone, Copy)]
enum Listener {
    Provider(Environment),
    Devices,
}

impl Listener {
    fn name(self) -> &'static str {
        match self {
            Listener::Provider(e) => e.name(),
            Listener::Devices => "devices",
        }
    }
}

/// Runs the gateway until SIGTERM (or SIGINT).
pub async fn run(args: Args) -> Result<(), String> {
    crate::log::init_from_env()?;
    if args.development.is_none() && args.production.is_none() {
        return Err(
            "no provider listener: give --development ADDR:PORT, --production ADDR:PORT or both"
                .into(),
        );
    }
    let anchor = Anchor::from_file(&args.anchor).map_err(|e| format!("anchor: {e}"))?;
    let state = State::open(&args.state).map_err(|e| e.to_string())?;
    let floor = state.version().map_err(|e| e.to_string())?;
    let trust = ClientTrust::read(&args.trust_store)?;
    let gateway = Gateway::load_with(
        &args.trust_store,
        anchor,
        LoadOptions {
            min_version: floor,
            ..LoadOptions::default()
        },
    )
    .map_err(|e| format!("trust store {}: {e}", args.trust_store.display()))?;
    if ClientTrust::read(&args.trust_store)? != trust {
        return Err(format!(
            "trust store {}: ca.pem or crl.pem changed while it was loaded; start again",
            args.trust_store.display()
        ));
    }
    state
        .set_version(gateway.version())
        .map_err(|e| e.to_string())?;
    let server_key = ServerKey::load(&args.tls_cert, &args.tls_key)?;
    let configs = tls::configs(&server_key, &trust, &args.trust_store)?;
    let mut listeners = Vec::new();
    for (addr, kind) in [
        (
            args.development,
            Listener::Provider(Environment::Development),
        ),
        (args.production, Listener::Provider(Environment::Production)),
        (args.devices, Listener::Devices),
    ] {
        let Some(addr) = addr else { continue };
        let l = bind(addr).map_err(|e| format!("--{} {addr}: {e}", flag(kind)))?;
        let local = l.local_addr().map_err(|e| format!("{addr}: {e}"))?;
        listeners.push((l, kind, local));
    }
    let metrics_listener = match args.metrics {
        Some(addr) => {
            let l = bind(addr).map_err(|e| format!("--metrics {addr}: {e}"))?;
            let local = l.local_addr().map_err(|e| format!("{addr}: {e}"))?;
            Some((l, local))
        }
        None => None,
    };
    let events = match &args.events {
        Some(p) => Some(crate::events::Events::open(p)?),
        None => None,
    };
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let hup = signal(tokio::signal::unix::SignalKind::hangup())?;
    let (reloads, _) = watch::channel(0u64);
    let ctx = Arc::new(Ctx {
        gateway,
        state,
        hub: Arc::new(Hub::default()),
        trust_dir: args.trust_store.clone(),
        server_key,
        tls: ArcSwap::from_pointee(configs),
        trust: Mutex::new(trust),
        reloads,
        metrics: crate::metrics::Metrics::default(),
        events,
    });
    log(&format!(
        "trust store {} version {} loaded (anchor {})",
        args.trust_store.display(),
        ctx.gateway.version(),
        ctx.gateway.anchor().subject()
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    if let Some((l, local)) = metrics_listener {
        log(&format!("listening metrics {local}"));
        tokio::spawn(crate::metrics::serve(l, ctx.clone(), stop_rx.clone()));
    }
    let limits = Limits {
        handshake: Duration::from_secs(args.handshake_timeout),
        slots: Arc::new(Semaphore::new(args.max_connections as usize)),
    };
    for (l, kind, local) in listeners {
        log(&format!("listening {} {local}", kind.name()));
        tokio::spawn(accept_loop(
            l,
            kind,
            ctx.clone(),
            limits.clone(),
            stop_rx.clone(),
            done_tx.clone(),
        ));
    }
    tokio::spawn(reload_loop(
        ctx.clone(),
        Duration::from_secs(args.reload_every),
        hup,
        stop_rx.clone(),
    ));
    tokio::select! {
        _ = term.recv() => log("SIGTERM: stopping"),
        _ = int.recv() => log("SIGINT: stopping"),
    }
    let _ = stop_tx.send(true);
    ctx.hub.close();
    drop(done_tx);
    if tokio::time::timeout(DRAIN, done_rx.recv()).await.is_err() {
        crate::log::warn("connections still open after 10 s: closed");
    }
    log("stopped");
    Ok(())
}

fn flag(kind: Listener) -> &'static str {
    kind.name()
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, String> {
    tokio::signal::unix::signal(kind).map_err(|e| format!("signal handler: {e}"))
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    TcpListener::from_std(l)
}

/// What bounds the cost of a connection before it is served.
#[derive(Clone)]
struct Limits {
    /// TLS handshake and HTTP/2 preface, together.
    handshake: Duration,
    /// One permit per open connection (`--max-connections`).
    slots: Arc<Semaphore>,
}

async fn accept_loop(
    listener: TcpListener,
    kind: Listener,
    ctx: Arc<Ctx>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    // Connections refused at the cap since the last line about them: one
    // line per 10 s at most, whatever the rate.
    let mut refused = 0u64;
    let mut said = None::<Instant>;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    let Ok(permit) = limits.slots.clone().try_acquire_owned() else {
                        // Closed at once: no TLS, no task.
                        drop(tcp);
                        refused += 1;
                        if said.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                            log(&format!(
                                "{}: {refused} connection(s) refused: the connection limit is reached",
                                kind.name()
                            ));
                            refused = 0;
                            said = Some(Instant::now());
                        }
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(connection(tcp, peer, kind, ctx.clone(), limits.handshake, permit, stop.clone(), done.clone()));
                }
                Err(e) => {
                    crate::log::warn(&format!("{}: accept: {e}", kind.name()));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

fn http2() -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .max_concurrent_streams(1000)
        .max_header_list_size(16 * 1024)
        .max_pending_accept_reset_streams(Some(64))
        .max_local_error_reset_streams(Some(256))
        .keep_alive_interval(Some(Duration::from_secs(60)))
        .keep_alive_timeout(Duration::from_secs(20));
    b
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    kind: Listener,
    ctx: Arc<Ctx>,
    handshake: Duration,
    _slot: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
    _done: mpsc::Sender<()>,
) {
    let configs = ctx.tls.load_full();
    let cfg = match kind {
        Listener::Provider(_) => configs.provider.clone(),
        Listener::Devices => configs.devices.clone(),
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    let deadline = tokio::time::Instant::now() + handshake;
    let mut tls = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            log(&format!(
                "{} {peer}: TLS handshake failed: {e}",
                kind.name()
            ));
            return;
        }
        Err(_) => {
            log(&format!("{} {peer}: TLS handshake timed out", kind.name()));
            return;
        }
    };
    // hyper waits for the preface without a limit: read it here, within the
    // handshake's deadline, and hand it back in front of the stream.
    let mut preface = [0u8; 24];
    match tokio::time::timeout_at(deadline, tls.read_exact(&mut preface)).await {
        Ok(Ok(_)) if preface == *PREFACE => {}
        Ok(Ok(_)) => {
            log(&format!(
                "{} {peer}: not an HTTP/2 connection preface: closed",
                kind.name()
            ));
            return;
        }
        Ok(Err(e)) => {
            log(&format!(
                "{} {peer}: closed before the HTTP/2 preface: {e}",
                kind.name()
            ));
            return;
        }
        Err(_) => {
            log(&format!(
                "{} {peer}: no HTTP/2 preface within {} s: closed",
                kind.name(),
                handshake.as_secs()
            ));
            return;
        }
    }
    let _open = crate::metrics::Metrics::connection(&ctx, kind.name());
    let chain: Option<Vec<Vec<u8>>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.to_vec()).collect());
    let mut reloads = ctx.reloads.subscribe();
    let io = Prefaced {
        head: preface,
        pos: 0,
        inner: tls,
    };
    match kind {
        Listener::Provider(env) => {
            let auth = Arc::new(ArcSwap::from_pointee(identify(&ctx, chain.as_deref())));
            match &**auth.load() {
                Auth::Provider(id) => log(&format!(
                    "{} {peer}: provider {} connected",
                    kind.name(),
                    id.bundle_id()
                )),
                Auth::Token(_) => log(&format!(
                    "{} {peer}: connected without a client certificate (provider tokens)",
                    kind.name()
                )),
                Auth::Denied(r) => log(&format!(
                    "{} {peer}: client certificate refused ({r})",
                    kind.name()
                )),
            }
            crate::provider_conn::serve(
                io,
                crate::provider_conn::Conn {
                    ctx: &ctx,
                    auth: &auth,
                    env,
                    peer,
                    chain: chain.as_deref(),
                },
                &mut stop,
                &mut reloads,
            )
            .await;
        }
        Listener::Devices => {
            let who = match chain.as_ref().and_then(|c| c.first()) {
                Some(leaf) => devices::device_of(leaf),
                None => DeviceAuth::Refused("no client certificate".into()),
            };
            match &who {
                DeviceAuth::Device(udid) => {
                    log(&format!("devices {peer}: device {udid} connected"))
                }
                DeviceAuth::Refused(why) => {
                    log(&format!("devices {peer}: not a device identity: {why}"))
                }
            }
            let auth = Arc::new(ArcSwap::from_pointee(who));
            let svc_ctx = ctx.clone();
            let svc_auth = auth.clone();
            let svc = hyper::service::service_fn(move |req| {
                devices::handle(svc_ctx.clone(), svc_auth.clone(), req)
            });
            let conn = http2().serve_connection(TokioIo::new(io), svc);
            tokio::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    r = stop.changed(), if !stopping => {
                        stopping = true;
                        if r.is_ok() {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                    r = reloads.changed(), if !stopping => {
                        if r.is_err() {
                            continue;
                        }
                        if let Some(chain) = &chain {
                            if let Err(e) = tls::verify_device(&ctx.tls.load(), chain) {
                                log(&format!("devices {peer}: refused after the reload ({e}): closing"));
                                auth.store(Arc::new(DeviceAuth::Refused(e)));
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A stream whose first bytes were read ahead: they are read again first.
struct Prefaced<S> {
    head: [u8; 24],
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefaced<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        if let Some(rest) = me.head.get(me.pos..).filter(|r| !r.is_empty()) {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            me.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefaced<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

fn identify(ctx: &Ctx, chain: Option<&[Vec<u8>]>) -> Auth {
    match chain {
        None | Some([]) => Auth::Token(Default::default()),
        Some(chain) => match ctx.gateway.identify(chain) {
            Ok(id) => Auth::Provider(id),
            Err(d) => Auth::Denied(d.reason),
        },
    }
}

fn read_p7s(dir: &Path) -> Option<Vec<u8>> {
    std::fs::read(dir.join("policy.json.p7s")).ok()
}

async fn reload_loop(
    ctx: Arc<Ctx>,
    every: Duration,
    mut hup: tokio::signal::unix::Signal,
    mut stop: watch::Receiver<bool>,
) {
    let mut last = read_p7s(&ctx.trust_dir);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        let why = tokio::select! {
            _ = stop.changed() => break,
            _ = hup.recv() => "SIGHUP",
            _ = tick.tick() => {
                let now = read_p7s(&ctx.trust_dir);
                if now == last {
                    continue;
                }
                "policy.json.p7s changed"
            }
        };
        last = read_p7s(&ctx.trust_dir);
        let c = ctx.clone();
        match tokio::task::spawn_blocking(move || reload(&c)).await {
            Ok(Ok(msg)) => log(&format!("reload ({why}): {msg}")),
            Ok(Err(e)) => {
                ctx.metrics.reload(ReloadResult::Refused);
                crate::log::warn(&format!(
                    "reload ({why}) refused, still serving version {}: {e}",
                    ctx.gateway.version()
                ))
            }
            Err(e) => {
                ctx.metrics.reload(ReloadResult::Refused);
                crate::log::error(&format!("reload ({why}): {e}"))
            }
        }
    }
}

/// Reloads the trust store; on success the TLS verifiers follow, the
/// version is persisted and the open connections are identified again.
fn reload(ctx: &Ctx) -> Result<String, String> {
    let trust = ClientTrust::read(&ctx.trust_dir)?;
    let changed = ctx
        .gateway
        .reload(&ctx.trust_dir)
        .map_err(|e| e.to_string())?;
    let version = ctx.gateway.version();
    ctx.state.set_version(version).map_err(|e| e.to_string())?;
    let mut note = String::new();
    if ClientTrust::read(&ctx.trust_dir)? != trust {
        note = "; ca.pem or crl.pem changed during the reload: TLS verifiers kept (next reload)"
            .into();
    } else if let Ok(mut current) = ctx.trust.lock() {
        if *current != trust {
            let configs = tls::configs(&ctx.server_key, &trust, &ctx.trust_dir)?;
            ctx.tls.store(Arc::new(configs));
            *current = trust;
        }
    }
    ctx.metrics.reload(if changed {
        ReloadResult::Changed
    } else {
        ReloadResult::Unchanged
    });
    if changed {
        ctx.reloads.send_modify(|g| *g += 1);
        Ok(format!("trust store version {version} serving{note}"))
    } else {
        Ok(format!("trust store version {version} unchanged{note}"))
    }
}
