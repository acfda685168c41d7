//! `pushca-load`: an HTTP/2 load client over TLS with a client certificate
//! (h2 + rustls), for `pushca-gateway` or any mutual-TLS HTTP/2 server
//! (h2load has no client-certificate option).
//!
//! N connections (`--connections`) × M concurrent streams each
//! (`--streams`) send the same request for `--duration` seconds or
//! `--requests` in all, as fast as the server answers or at a fixed total
//! `--rate`; it prints one JSON object: requests, statuses, transport errors,
//! requests per second and latency percentiles. At a fixed rate the latency
//! counts from each request's scheduled time (a late start is counted).
//! `--idle` only opens the connections, prints one JSON line when they are all
//! open, and holds them until SIGTERM/SIGINT (or `--duration`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Handshakes (TCP + TLS + HTTP/2) in progress at once while connecting.
const CONNECTING_AT_ONCE: usize = 64;
/// One connection must be up within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP/2 load client with a TLS client certificate: N connections × M streams.
#[derive(Parser, Debug)]
#[command(name = "pushca-load", version)]
struct Args {
    /// The server's address
    #[arg(long, value_name = "ADDR:PORT")]
    addr: SocketAddr,
    /// The name the server certificate must carry (default: the address's IP)
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// The CA certificate(s) to trust for the server, PEM
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// The client certificate chain, PEM (leaf first); may hold the key too (a ck.pem)
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The client's private key, PEM, unencrypted (default: the key in --cert)
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Connections
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    connections: u32,
    /// Concurrent streams per connection
    #[arg(long, value_name = "M", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    streams: u32,
    /// Run for this many seconds (default 10 when --requests is not given)
    #[arg(long, value_name = "SECS", conflicts_with = "requests")]
    duration: Option<f64>,
    /// Send this many requests in all
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// A fixed total rate, requests per second (default: as fast as answered)
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// The request path
    #[arg(long, default_value = "/")]
    path: String,
    /// A request header, "name: value" (repeatable)
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The request body; @FILE reads it from FILE (the method is then POST)
    #[arg(long, value_name = "BODY|@FILE")]
    data: Option<String>,
    /// The method (default: POST with --data, else GET)
    #[arg(long)]
    method: Option<String>,
    /// Only open the connections and hold them (no requests)
    #[arg(long, conflicts_with_all = ["requests", "rate", "data"])]
    idle: bool,
}

/// The request every stream sends.
struct Template {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Template {
    fn request(&self) -> Result<http::Request<()>, String> {
        let mut r = http::Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .body(())
            .map_err(|e| e.to_string())?;
        *r.headers_mut() = self.headers.clone();
        Ok(r)
    }
}

/// When the run stops.
#[derive(Clone, Copy)]
enum Until {
    Deadline(Instant),
    Count,
}

/// What the workers share.
struct Run {
    template: Template,
    until: Until,
    /// Requests left to start (with `--requests`).
    left: AtomicU64,
    /// Interval between one worker's requests at a fixed rate.
    period: Option<Duration>,
}

impl Run {
    /// Takes the next request: false once the run is over.
    fn take(&self, now: Instant) -> bool {
        match self.until {
            Until::Deadline(d) => now < d,
            Until::Count => self
                .left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// One worker's results.
#[derive(Default)]
struct Tally {
    /// Latencies of answered requests, µs.
    latencies: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, e: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    fn merge(&mut self, o: Tally) {
        self.latencies.extend(o.latencies);
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn tls_config(args: &Args) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let ca = read(&args.ca)?;
    for c in CertificateDer::pem_slice_iter(&ca) {
        let c = c.map_err(|e| format!("{}: {e}", args.ca.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", args.ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: holds no PEM certificate", args.ca.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    let mut cfg = match &args.cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let pem = read(cert)?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            if chain.is_empty() {
                return Err(format!("{}: holds no PEM certificate", cert.display()));
            }
            let key_file = args.key.as_deref().unwrap_or(cert);
            let key_pem = read(key_file)?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                format!(
                    "{}: no unencrypted PEM private key ({e})",
                    key_file.display()
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key: {e}"))?
        }
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

fn template(args: &Args) -> Result<Template, String> {
    let body = match &args.data {
        None => Bytes::new(),
        Some(d) => match d.strip_prefix('@') {
            Some(file) => Bytes::from(read(Path::new(file))?),
            None => Bytes::from(d.clone().into_bytes()),
        },
    };
    let method = match &args.method {
        Some(m) => http::Method::from_bytes(m.as_bytes())
            .map_err(|_| format!("{m:?} is not an HTTP method"))?,
        None if args.data.is_some() => http::Method::POST,
        None => http::Method::GET,
    };
    if !args.path.starts_with('/') {
        return Err(format!("path {:?} does not start with /", args.path));
    }
    let authority = args.server_name.clone().unwrap_or_else(|| match args.addr {
        SocketAddr::V4(_) => args.addr.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    });
    let uri: http::Uri = format!("https://{authority}{}", args.path)
        .parse()
        .map_err(|e| format!("path {:?}: {e}", args.path))?;
    let mut headers = http::HeaderMap::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(format!("header {h:?} is not \"name: value\""));
        };
        let name = http::HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("header {h:?}: not a header name"))?;
        let value = http::HeaderValue::from_str(value.trim())
            .map_err(|_| format!("header {h:?}: not a header value"))?;
        headers.append(name, value);
    }
    Ok(Template {
        method,
        uri,
        headers,
        body,
    })
}

/// One connection: TCP, TLS with ALPN h2, the HTTP/2 handshake; the
/// connection's driver runs as its own task.
async fn connect(
    addr: SocketAddr,
    name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
) -> Result<h2::client::SendRequest<Bytes>, String> {
    let up = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
        if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(format!("{addr} did not agree to HTTP/2 (ALPN h2)"));
        }
        let (send, conn) = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 24)
            .handshake::<_, Bytes>(stream)
            .await
            .map_err(|e| format!("HTTP/2 handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, up)
        .await
        .map_err(|_| format!("{addr}: no connection within {CONNECT_TIMEOUT:?}"))?
}

async fn connect_all(
    args: &Args,
    cfg: ClientConfig,
) -> Result<Vec<h2::client::SendRequest<Bytes>>, String> {
    let name: ServerName<'static> = match &args.server_name {
        Some(n) => {
            ServerName::try_from(n.clone()).map_err(|e| format!("server name {n:?}: {e}"))?
        }
        None => ServerName::IpAddress(args.addr.ip().into()),
    };
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (gate, name, tls, addr) = (gate.clone(), name.clone(), tls.clone(), args.addr);
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            connect(addr, name, tls).await
        }));
    }
    let mut conns = Vec::with_capacity(tasks.len());
    for t in tasks {
        conns.push(t.await.map_err(|e| e.to_string())??);
    }
    Ok(conns)
}

/// One stream's loop: a request, its whole answer, the next.
async fn worker(
    mut send: h2::client::SendRequest<Bytes>,
    run: Arc<Run>,
    start: Instant,
    offset: Duration,
) -> Tally {
    let mut t = Tally::default();
    let mut next = start + offset;
    loop {
        let scheduled = match run.period {
            Some(p) => {
                tokio::time::sleep_until(next.into()).await;
                let s = next;
                next += p;
                s
            }
            None => Instant::now(),
        };
        if !run.take(Instant::now()) {
            break;
        }
        match one(&mut send, &run.template).await {
            Ok(status) => {
                let us = scheduled.elapsed().as_micros().min(u32::MAX as u128) as u32;
                t.latencies.push(us);
                *t.statuses.entry(status).or_default() += 1;
            }
            Err(f) => {
                t.error(f.what);
                if f.closed {
                    break;
                }
            }
        }
    }
    t
}

/// Why a request got no answer: its stream failed, or the whole connection.
struct Failed {
    closed: bool,
    what: String,
}

impl From<h2::Error> for Failed {
    fn from(e: h2::Error) -> Failed {
        Failed {
            closed: e.is_io() || e.is_go_away(),
            what: e.to_string(),
        }
    }
}

async fn one(send: &mut h2::client::SendRequest<Bytes>, tpl: &Template) -> Result<u16, Failed> {
    let req = tpl
        .request()
        .map_err(|what| Failed { closed: true, what })?;
    std::future::poll_fn(|cx| send.poll_ready(cx)).await?;
    let (resp, mut stream) = send.send_request(req, tpl.body.is_empty())?;
    if !tpl.body.is_empty() {
        // A server may answer (and close the stream) on the headers alone,
        // before the body goes out (nginx's `return 200`): the answer counts.
        let _ = stream.send_data(tpl.body.clone(), true);
    }
    let resp = resp.await?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    Ok(status)
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    sorted[i] as f64 / 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn load(args: Args) -> Result<bool, String> {
    let cfg = tls_config(&args)?;
    let tpl = template(&args)?;
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(format!("rate {r}: not a positive number"));
        }
    }
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0 && d < 1e7) {
            return Err(format!("duration {d}: not a positive number of seconds"));
        }
    }
    let t0 = Instant::now();
    let conns = connect_all(&args, cfg).await?;
    let opened = t0.elapsed();
    if args.idle {
        let line = serde_json::json!({
            "target": args.addr.to_string(),
            "idle_connections": conns.len(),
            "seconds_to_open": round3(opened.as_secs_f64()),
        });
        println!("{line}");
        let _ = std::io::stdout().flush();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("signal handler: {e}"))?;
        let hold = args.duration.map(Duration::from_secs_f64);
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match hold { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {}
        }
        return Ok(true);
    }
    let workers = u64::from(args.connections) * u64::from(args.streams);
    let period = args
        .rate
        .map(|r| Duration::from_secs_f64(workers as f64 / r));
    let start = Instant::now();
    let until = match args.requests {
        Some(_) => Until::Count,
        None => Until::Deadline(start + Duration::from_secs_f64(args.duration.unwrap_or(10.0))),
    };
    let run = Arc::new(Run {
        template: tpl,
        until,
        left: AtomicU64::new(args.requests.unwrap_or(0)),
        period,
    });
    let mut tasks = Vec::new();
    let mut k = 0u64;
    for send in &conns {
        for _ in 0..args.streams {
            let offset = period.map_or(Duration::ZERO, |p| p.mul_f64(k as f64 / workers as f64));
            k += 1;
            tasks.push(tokio::spawn(worker(
                send.clone(),
                run.clone(),
                start,
                offset,
            )));
        }
    }
    let mut all = Tally::default();
    for t in tasks {
        match t.await {
            Ok(t) => all.merge(t),
            Err(e) => all.error(e),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(conns);
    let mut lat = std::mem::take(&mut all.latencies);
    lat.sort_unstable();
    let answered = lat.len() as u64;
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64 / 1000.0
    };
    let statuses: BTreeMap<String, u64> = all
        .statuses
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let line = serde_json::json!({
        "target": args.addr.to_string(),
        "connections": args.connections,
        "streams": args.streams,
        "rate": args.rate,
        "requests": answered,
        "statuses": statuses,
        "errors": all.errors,
        "seconds": round3(secs),
        "requests_per_sec": round3(answered as f64 / secs),
        "latency_ms": {
            "p50": round3(percentile(&lat, 0.50)),
            "p90": round3(percentile(&lat, 0.90)),
            "p99": round3(percentile(&lat, 0.99)),
            "p999": round3(percentile(&lat, 0.999)),
            "max": round3(lat.last().map_or(0.0, |&x| x as f64 / 1000.0)),
            "mean": round3(mean),
        },
    });
    println!("{line}");
    if let Some(e) = &all.first_error {
        eprintln!(
            "pushca-load: {} request(s) failed; the first: {e}",
            all.errors
        );
        return Ok(false);
    }
    Ok(answered > 0)
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            let msg: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("pushca-load: {}", msg.join(" "));
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pushca-load: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(load(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("pushca-load: error: {e}");
            ExitCode::from(1)
        }
    }
}
