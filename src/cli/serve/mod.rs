//! `serve`: the CA as an HTTPS service. The CA keys are unlocked once at
//! start (a wrong passphrase fails there, fast) and zeroized on exit; every
//! call under `/v1/` carries a bearer token checked against the store with
//! its scope, runs the same `ops` calls the CLI makes on tokio's blocking
//! pool, and is recorded in the audit log. HTTPS only (rustls, TLS 1.2 and
//! 1.3), HTTP/1.1. SIGTERM or SIGINT: stop accepting, let the calls in
//! flight finish (at most [`SHUTDOWN_GRACE`]), zeroize, exit 0.

mod api;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use pushca::ops::UnlockedCa;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::secrets::{self, SecretSource};
use super::{CliError, Ctx, Kind, Report};

/// Largest request body accepted (HTTP 413 above it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most CSRs in one `issue` call (HTTP 400 above it).
pub const MAX_CSRS_PER_CALL: usize = 100;
/// Most connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;
/// Time for a client to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a client to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a client to send a request's body (HTTP 408 after it).
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a connection is kept (then closed after its current call).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(600);
/// How long calls in flight may take to finish after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed at start)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// The server's certificate chain, PEM (from `pushca server-cert`: server-NAME-fullchain.pem)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// The server's private key, PEM, unencrypted (`pushca server-cert --noenc`)
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

/// What the service shares between calls.
pub(crate) struct State {
    pub(crate) home: pushca::home::Home,
    pub(crate) ca: UnlockedCa,
    /// A private directory (0700, outside the home) where the trust store
    /// is built and kept between calls.
    pub(crate) staging: tempfile::TempDir,
    /// The outcome of the last trust store built in `staging`.
    pub(crate) last_trust_store: std::sync::Mutex<Option<pushca::ops::gateway::TrustStoreOutcome>>,
}

/// `serve`: the service, until SIGTERM or SIGINT.
pub fn serve(ctx: &Ctx, a: ServeArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    if !home.is_initialized() {
        return Err(pushca::store::StoreError::NotInitialized(home.root().to_path_buf()).into());
    }
    let tls = tls_config(&a.tls_cert, &a.tls_key)?;
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let ca = UnlockedCa::unlock(&home, &pass)?;
    drop(pass);
    let staging = tempfile::Builder::new()
        .prefix("pushca-serve-")
        .tempdir()
        .map_err(|e| CliError::new(Kind::Io, format!("cannot make a staging directory: {e}")))?;
    let state = Arc::new(State {
        home,
        ca,
        staging,
        last_trust_store: std::sync::Mutex::new(None),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Kind::Io, format!("cannot start the runtime: {e}")))?;
    let served = rt.block_on(run(state.clone(), a.listen, tls, ctx.quiet));
    // Calls still running after the grace period are abandoned here.
    rt.shutdown_timeout(Duration::from_secs(1));
    // The last reference: the CA keys are zeroized as it drops.
    drop(state);
    let calls = served?;
    Report::of(
        &serde_json::json!({ "stopped": true, "connections": calls }),
        format!("pushca serve: stopped after {calls} connections\n"),
    )
}

/// The server's TLS configuration: its chain and unencrypted key, TLS 1.3
/// and 1.2, HTTP/1.1.
fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, CliError> {
    let read = |p: &Path| -> Result<Vec<u8>, CliError> { Ok(pushca::fsutil::read_input(p)?) };
    let cert_pem = read(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            CliError::new(Kind::Input, format!("not a PEM certificate chain: {e}"))
                .about(cert.display())
        })?;
    if chain.is_empty() {
        return Err(CliError::new(Kind::Input, "holds no PEM certificate").about(cert.display()));
    }
    let key_pem = zeroize::Zeroizing::new(read(key)?);
    let encrypted = |label: &[u8]| key_pem.windows(label.len()).any(|w| w == label);
    if encrypted(b"ENCRYPTED PRIVATE KEY") || encrypted(b"Proc-Type: 4,ENCRYPTED") {
        return Err(CliError::new(
            Kind::Input,
            "the private key is encrypted; the service needs it unencrypted",
        )
        .about(key.display())
        .with_hint("pushca key decrypt --in KEY --out PLAIN.key, or pushca server-cert --noenc"));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        CliError::new(Kind::Input, format!("not a PEM private key: {e}")).about(key.display())
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CliError::internal(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            CliError::new(
                Kind::Input,
                format!("the TLS certificate and key do not go together: {e}"),
            )
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Accepts connections until SIGTERM/SIGINT, then lets them finish.
/// Returns how many connections were served.
async fn run(
    state: Arc<State>,
    listen: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    quiet: bool,
) -> Result<u64, CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::new(Kind::Io, format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::new(Kind::Io, format!("cannot listen on {listen}: {e}")))?;
    let signal_err = |e: std::io::Error| CliError::internal(format!("cannot watch signals: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(signal_err)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_err)?;
    // The one line a supervisor (or a test) waits for.
    if !quiet {
        eprintln!("pushca serve: listening on https://{addr}");
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut served = 0u64;
    loop {
        let permit = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, _) = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            c = listener.accept() => match c {
                Ok(c) => c,
                // A connection that failed before it was accepted, or no
                // file descriptors left: go on (after a breath).
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        served += 1;
        let acceptor = acceptor.clone();
        let state = state.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let svc = hyper::service::service_fn(move |req| api::handle(req, state.clone()));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(tls), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
                _ = tokio::time::sleep(CONNECTION_LIFETIME) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    // Stop accepting; the calls in flight finish (within the grace period).
    drop(listener);
    let _ = stop_tx.send(true);
    let all = MAX_CONNECTIONS as u32;
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
        .await
        .is_err()
        && !quiet
    {
        eprintln!(
            "pushca serve: calls still running after {} s were abandoned",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    Ok(served)
}
