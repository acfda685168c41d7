//! The client mode: `pushca --server https://HOST:PORT --server-ca FILE
//! --token-file FILE cert ...|crl|status|gateway trust-store`. The
//! operations of [`CaService`] as calls to a `pushca serve` service (HTTPS,
//! JSON under `/v1/`, a bearer token): no home and no CA passphrase on the
//! runner. Outputs are checked before the call and written after it with the
//! library's own writers, as a local run writes them.
//!
//! HTTP/1.1 with hyper 1 over tokio-rustls (what `pushca serve` and the
//! gateway already use; hyper's `client` adds `want` and `try-lock`), on a
//! current-thread runtime. TLS
//! 1.2/1.3 with the certificates of `--server-ca` as the only roots, the
//! host name of the URL verified.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use pushca::fsutil::Sink;
use pushca::ops::gateway::TrustStoreOutcome;
use pushca::ops::revocation::{CrlOutput, CrlSigned, Revoked};
use pushca::ops::status::{CaStatus, CertStatus, CrlStatus, ProfileStatus, Status};
use pushca::ops::{self, certs};
use pushca::secret::Secret;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};

use super::secrets::SecretSource;
use super::service::{CaService, CreateCall, IssueDone, ShownCert};
use super::{CliError, Ctx, Kind};

/// Time to connect and finish the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the service to answer a call (a batch of 100 CSRs included).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);
/// Most CSRs sent in one call (the service's limit); a larger batch is sent
/// in several calls.
const CSRS_PER_CALL: usize = 100;
/// Largest answer read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// The environment variable holding the token itself.
pub const TOKEN_ENV: &str = "PUSHCA_TOKEN";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `--server`, `--server-ca` and `--token-file` as given.
#[derive(Debug, Clone)]
pub struct ServerArgs {
    pub url: String,
    pub server_ca: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
}

/// The service's address, from `https://HOST[:PORT][/PREFIX]`.
#[derive(Debug, Clone)]
struct Base {
    /// As given (for messages; never holds a secret).
    shown: String,
    host: String,
    port: u16,
    authority: String,
    prefix: String,
}

fn parse_url(url: &str) -> Result<Base, CliError> {
    let bad = |why: &str| {
        CliError::new(
            Kind::Input,
            format!("'{}' is not a service URL: {why}", url.escape_default()),
        )
        .with_hint("--server https://HOST:PORT (the address `pushca serve` listens on)")
    };
    let uri: hyper::Uri = url.parse().map_err(|_| bad("malformed"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some(_) => return Err(bad("the service speaks HTTPS only (https://...)")),
        None => return Err(bad("give https://HOST:PORT")),
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            "no user name or password in the URL (the token goes in --token-file)",
        ));
    }
    if uri.query().is_some() {
        return Err(bad("no query string"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = authority.port_u16().unwrap_or(443);
    Ok(Base {
        shown: format!("https://{}", authority.as_str()),
        authority: authority.as_str().to_string(),
        host,
        port,
        prefix: uri.path().trim_end_matches('/').to_string(),
    })
}

/// The token: the file of `--token-file`, else `$PUSHCA_TOKEN`. Its text
/// never appears in a message.
fn read_token(file: Option<&Path>) -> Result<Secret, CliError> {
    let text = match file {
        Some(p) => {
            let bytes = zeroize::Zeroizing::new(pushca::fsutil::read_input(p)?);
            zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).trim().to_string())
        }
        None => match std::env::var(TOKEN_ENV) {
            Ok(t) => zeroize::Zeroizing::new(t.trim().to_string()),
            Err(_) => {
                return Err(CliError::new(Kind::Input, "no API token for the service")
                    .with_hint(format!(
                        "pass --token-file FILE or set {TOKEN_ENV} (pushca token create, on the service's home)"
                    )))
            }
        },
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
        let from = match file {
            Some(p) => p.display().to_string(),
            None => TOKEN_ENV.to_string(),
        };
        return Err(CliError::new(
            Kind::Input,
            format!("{from}: not an API token (one line of printable ASCII)"),
        ));
    }
    Ok(Secret::new(text.to_string()))
}

/// rustls with only the certificates of `ca_file` as roots.
fn tls_config(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>, CliError> {
    let pem = pushca::fsutil::read_input(ca_file)?;
    let mut roots = rustls::RootCertStore::empty();
    let not_pem = || {
        CliError::new(Kind::Input, "holds no PEM certificate")
            .about(ca_file.display())
            .with_hint("--server-ca: the chain that signed the service's `pushca server-cert` (server-NAME-chain.pem)")
    };
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|_| not_pem())?;
        roots.add(c).map_err(|e| {
            CliError::new(Kind::Input, format!("not a usable CA certificate: {e}"))
                .about(ca_file.display())
        })?;
    }
    if roots.is_empty() {
        return Err(not_pem());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CliError::internal(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A `pushca serve` service.
pub struct Remote {
    base: Base,
    tls: Arc<rustls::ClientConfig>,
    token: Secret,
    rt: tokio::runtime::Runtime,
    /// The local home, when one can be named: outputs never go inside it.
    home: Option<pushca::home::Home>,
}

impl Remote {
    /// Checks the URL, the CA file and the token (nothing is sent yet).
    pub fn connect(ctx: &Ctx, a: &ServerArgs) -> Result<Remote, CliError> {
        let base = parse_url(&a.url)?;
        let Some(ca) = &a.server_ca else {
            return Err(CliError::new(
                Kind::Input,
                "the client mode needs the CA chain that signed the service's certificate",
            )
            .with_hint("pass --server-ca FILE or set PUSHCA_SERVER_CA"));
        };
        let tls = tls_config(ca)?;
        let token = read_token(a.token_file.as_deref())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::new(Kind::Io, format!("cannot start the runtime: {e}")))?;
        Ok(Remote {
            base,
            tls,
            token,
            rt,
            home: ctx.home_opt(),
        })
    }

    fn rules(&self, force: bool) -> ops::OutputRules<'_> {
        ops::OutputRules {
            force,
            home: self.home.as_ref().map(|h| h.root()),
        }
    }

    /// One call: its JSON answer, or the service's error as a [`CliError`].
    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        self.rt.block_on(self.call_async(method, path, body))
    }

    async fn call_async(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let shown = &self.base.shown;
        let io = |what: &str, e: &dyn std::fmt::Display| {
            CliError::new(Kind::Io, format!("{what} the service at {shown}: {e}"))
        };
        let timeout = |what: &str, d: Duration| {
            CliError::new(
                Kind::Io,
                format!(
                    "the service at {shown} did not {what} within {} s",
                    d.as_secs()
                ),
            )
        };
        let server_name =
            ServerName::try_from(self.base.host.clone()).map_err(|e| io("cannot name", &e))?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((self.base.host.as_str(), self.base.port))
                .await
                .map_err(|e| io("cannot connect to", &e))?;
            let _ = tcp.set_nodelay(true);
            connector.connect(server_name, tcp).await.map_err(|e| {
                let mut err = io("TLS handshake failed with", &e);
                if e.to_string().contains("certificate") {
                    err = err.with_hint(
                        "--server-ca must hold the chain that signed the service's certificate, and the URL name a host that certificate is for",
                    );
                }
                err
            })
        };
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| timeout("accept a TLS connection", CONNECT_TIMEOUT))??;
        let exchange = async {
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .map_err(|e| io("cannot talk HTTP to", &e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let body = match body {
                Some(v) => serde_json::to_vec(v)
                    .map_err(|e| CliError::internal(format!("cannot encode a request: {e}")))?,
                None => Vec::new(),
            };
            let req = Request::builder()
                .method(method)
                .uri(format!("{}{path}", self.base.prefix))
                .header(hyper::header::HOST, &self.base.authority)
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header(
                    hyper::header::AUTHORIZATION,
                    format!("Bearer {}", self.token.as_str()),
                )
                .body(Full::new(Bytes::from(body)))
                .map_err(|_| CliError::internal("cannot build a request"))?;
            let resp = send
                .send_request(req)
                .await
                .map_err(|e| io("no answer from", &e))?;
            let status = resp.status();
            let limited = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE_BYTES);
            let bytes = limited
                .collect()
                .await
                .map_err(|e| io("cannot read the answer of", &e))?
                .to_bytes();
            Ok::<_, CliError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(RESPONSE_TIMEOUT, exchange)
            .await
            .map_err(|_| timeout("answer", RESPONSE_TIMEOUT))??;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|_| {
            CliError::new(
                Kind::Io,
                format!(
                    "the service at {shown} answered HTTP {} without a JSON document",
                    status.as_u16()
                ),
            )
        })?;
        if status.is_success() {
            return Ok(doc);
        }
        Err(service_error(&doc, status.as_u16()))
    }
}

/// The service's `{"error": {"kind", "message", "hint", "scope"}}` as the
/// CLI's error: its kind (`forbidden` is a policy refusal, `unauthorized` a
/// wrong credential), its message, and for a missing scope a hint naming it.
fn service_error(doc: &Value, status: u16) -> CliError {
    let e = &doc["error"];
    let kind = match e["kind"].as_str().unwrap_or("") {
        "input" | "too_large" => Kind::Input,
        "password" | "unauthorized" => Kind::Password,
        "io" | "timeout" => Kind::Io,
        "policy" | "forbidden" => Kind::Policy,
        "not_found" => Kind::NotFound,
        "conflict" => Kind::Conflict,
        "not_initialized" => Kind::NotInitialized,
        "usage" => Kind::Usage,
        "crypto" => Kind::Crypto,
        _ => Kind::Internal,
    };
    let message = e["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("the service refused the call (HTTP {status})"));
    // A usage error of the service is not the command line's: exit 1.
    let mut err = CliError::new(
        if kind == Kind::Usage {
            Kind::Input
        } else {
            kind
        },
        message,
    );
    if let Some(scope) = e["scope"].as_str() {
        err = err.with_hint(format!(
            "the token needs the scope {scope} (pushca token create --scope {scope})"
        ));
    } else if let Some(h) = e["hint"].as_str() {
        err = err.with_hint(h.to_string());
    }
    err
}

/// A field of an answer that is not what the API documents.
fn unexpected(field: &str) -> CliError {
    CliError::internal(format!(
        "the service answered an unexpected document (field {field})"
    ))
}

fn s(v: &Value, k: &str) -> Result<String, CliError> {
    v[k].as_str()
        .map(str::to_string)
        .ok_or_else(|| unexpected(k))
}
fn opt_s(v: &Value, k: &str) -> Option<String> {
    v[k].as_str().map(str::to_string)
}
fn i(v: &Value, k: &str) -> Result<i64, CliError> {
    v[k].as_i64().ok_or_else(|| unexpected(k))
}
fn u(v: &Value, k: &str) -> Result<usize, CliError> {
    v[k].as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| unexpected(k))
}
fn b(v: &Value, k: &str) -> Result<bool, CliError> {
    v[k].as_bool().ok_or_else(|| unexpected(k))
}
fn t(v: &Value, k: &str) -> Result<i64, CliError> {
    let text = v[k].as_str().ok_or_else(|| unexpected(k))?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| unexpected(k))
}
fn opt_t(v: &Value, k: &str) -> Result<Option<i64>, CliError> {
    if v[k].is_null() {
        Ok(None)
    } else {
        t(v, k).map(Some)
    }
}
fn list<'v>(v: &'v Value, k: &str) -> Result<&'v Vec<Value>, CliError> {
    v[k].as_array().ok_or_else(|| unexpected(k))
}
fn strings(v: &Value, k: &str) -> Result<Vec<String>, CliError> {
    list(v, k)?
        .iter()
        .map(|x| x.as_str().map(str::to_string).ok_or_else(|| unexpected(k)))
        .collect()
}
fn env_name(v: &Value, k: &str) -> Result<&'static str, CliError> {
    s(v, k)?
        .parse::<pushca::ca::PushEnvironment>()
        .map(|e| e.name())
        .map_err(|_| unexpected(k))
}
/// The DER of the first PEM block of `v[k]`.
fn pem_der(v: &Value, k: &str) -> Result<Vec<u8>, CliError> {
    let text = v[k].as_str().ok_or_else(|| unexpected(k))?;
    pushca::pem::blocks(text.as_bytes())
        .ok()
        .and_then(|b| b.into_iter().next())
        .map(|b| b.der.to_vec())
        .ok_or_else(|| unexpected(k))
}
/// Every certificate of the PEM in `v[k]` (none when absent).
fn pem_certs(v: &Value, k: &str) -> Vec<Vec<u8>> {
    v[k].as_str()
        .and_then(|t| pushca::certfile::read_certificates(t.as_bytes()).ok())
        .unwrap_or_default()
}
fn warnings(v: &Value) -> Vec<String> {
    strings(v, "warnings").unwrap_or_default()
}

/// A CSR as the API takes it: PEM (a DER file is encoded).
fn csr_pem(src: &pushca::fsutil::Source) -> Result<String, CliError> {
    let bytes = src.read()?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(if text.contains("-----BEGIN") {
        text.into_owned()
    } else {
        pushca::pem::encode("CERTIFICATE REQUEST", &bytes)
    })
}

fn issued_not_written(serials: Vec<String>, source: pushca::fsutil::FsError) -> CliError {
    ops::OpsError::IssuedNotWritten {
        count: serials.len(),
        serials,
        source,
    }
    .into()
}

fn not_renewed(doc: &Value) -> Result<certs::NotRenewed, CliError> {
    Ok(certs::NotRenewed {
        renewed: false,
        serial: s(doc, "serial")?,
        not_after: t(doc, "not_after")?,
        days_left: i(doc, "days_left")?,
        within: u32::try_from(i(doc, "within")?).map_err(|_| unexpected("within"))?,
    })
}

impl CaService for Remote {
    fn home(&self) -> Option<&pushca::home::Home> {
        self.home.as_ref()
    }

    fn issue(
        &self,
        req: &certs::IssueRequest<'_>,
        _ca_passin: Option<&SecretSource>,
    ) -> Result<IssueDone, CliError> {
        let home = self.home.as_ref().map(|h| h.root());
        let targets = certs::issue_targets(req, home)?;
        let csrs = req
            .csr_files
            .iter()
            .map(csr_pem)
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = req
            .csr_files
            .iter()
            .map(|c| c.name().display().to_string())
            .collect();
        let mut docs = Vec::new();
        let mut warns = Vec::new();
        for (csrs, names) in csrs.chunks(CSRS_PER_CALL).zip(names.chunks(CSRS_PER_CALL)) {
            let body = json!({
                "bundle_id": req.bundle_id,
                "environment": req.env.name(),
                "csrs": csrs,
                "csr_names": names,
            });
            let doc = self.call(Method::POST, "/v1/certs/issue", Some(&body))?;
            warns.extend(warnings(&doc));
            docs.extend(list(&doc, "certificates")?.iter().cloned());
        }
        if docs.len() != req.csr_files.len() {
            return Err(unexpected("certificates"));
        }
        let ders = docs
            .iter()
            .map(|c| pem_der(c, "pem"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut certificates = Vec::new();
        for (n, c) in docs.iter().enumerate() {
            certificates.push(certs::IssuedCert {
                serial: s(c, "serial")?,
                sha256: s(c, "sha256")?,
                subject: s(c, "subject")?,
                bundle_id: s(c, "bundle_id")?,
                environment: env_name(c, "environment")?,
                not_before: t(c, "not_before")?,
                not_after: t(c, "not_after")?,
                out: targets.outputs().get(n).cloned(),
            });
        }
        let refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
        let returned = targets.write(&refs).map_err(|e| {
            issued_not_written(certificates.iter().map(|c| c.serial.clone()).collect(), e)
        })?;
        let bundle_id = certificates
            .first()
            .map(|c| c.bundle_id.clone())
            .unwrap_or_else(|| req.bundle_id.to_string());
        Ok(IssueDone {
            view: certs::IssuedCerts {
                certificates,
                bundle: targets.bundle().cloned(),
            },
            bundle_id,
            warnings: warns,
            returned,
        })
    }

    fn renew(
        &self,
        req: &certs::RenewRequest<'_>,
        _ca_passin: Option<&SecretSource>,
    ) -> Result<certs::RenewOutcome, CliError> {
        let csrs = [req.csr.clone()];
        let issue = certs::IssueRequest {
            bundle_id: req.bundle_id,
            env: req.env,
            csr_files: &csrs,
            output: Some(req.output.clone()),
            bundle: None,
            format: req.format,
            // A renewal replaces its output by design.
            force: true,
        };
        let targets = certs::issue_targets(&issue, self.home.as_ref().map(|h| h.root()))?;
        let body = json!({
            "bundle_id": req.bundle_id,
            "environment": req.env.name(),
            "csr": csr_pem(&req.csr)?,
            "csr_name": req.csr.name().display().to_string(),
            "within": req.within,
        });
        let doc = self.call(Method::POST, "/v1/certs/renew", Some(&body))?;
        if !b(&doc, "renewed")? {
            return Ok(certs::RenewOutcome {
                view: certs::Renewal::NotRenewed(not_renewed(&doc)?),
                warnings: Vec::new(),
                returned: None,
            });
        }
        let der = pem_der(&doc, "pem")?;
        let serial = s(&doc, "serial")?;
        let returned = targets
            .write(&[der.as_slice()])
            .map_err(|e| issued_not_written(vec![serial.clone()], e))?;
        Ok(certs::RenewOutcome {
            view: certs::Renewal::Renewed(certs::Renewed {
                renewed: true,
                serial,
                sha256: s(&doc, "sha256")?,
                bundle_id: s(&doc, "bundle_id")?,
                environment: env_name(&doc, "environment")?,
                not_after: t(&doc, "not_after")?,
                out: targets.outputs().first().cloned(),
            }),
            warnings: warnings(&doc),
            returned,
        })
    }

    /// The key is made here, on the runner, and never sent: the service
    /// signs its CSR (`renew` with `--renew-within`, else `issue`).
    fn create(
        &self,
        c: &CreateCall<'_>,
        _ca_passin: Option<&SecretSource>,
    ) -> Result<certs::CreateView, CliError> {
        let rules = self.rules(c.force);
        let paths = certs::check_created_paths(c.out_dir, c.bundle_id, c.env, &rules)?;
        let key = certs::NewPushKey::generate(c.bundle_id, c.key_type, &paths[1])?;
        let csr_name = paths[1].display().to_string();
        let (doc, cert) = match c.renew_within {
            Some(within) => {
                let body = json!({
                    "bundle_id": c.bundle_id,
                    "environment": c.env.name(),
                    "csr": key.csr_pem(),
                    "csr_name": csr_name,
                    "within": within,
                });
                let doc = self.call(Method::POST, "/v1/certs/renew", Some(&body))?;
                if !b(&doc, "renewed")? {
                    return Ok(certs::CreateView::NotRenewed(not_renewed(&doc)?));
                }
                (doc.clone(), doc)
            }
            None => {
                let body = json!({
                    "bundle_id": c.bundle_id,
                    "environment": c.env.name(),
                    "csrs": [key.csr_pem()],
                    "csr_names": [csr_name],
                });
                let doc = self.call(Method::POST, "/v1/certs/issue", Some(&body))?;
                let cert = list(&doc, "certificates")?
                    .first()
                    .cloned()
                    .ok_or_else(|| unexpected("certificates"))?;
                (doc, cert)
            }
        };
        let issued = certs::Issued::from_der(pem_der(&cert, "pem")?)?;
        let material = key.material(issued, pem_certs(&doc, "chain"), c.protection, &paths[3])?;
        Ok(certs::write_created(
            &material,
            c.bundle_id,
            c.env,
            &paths,
            c.protection,
            &rules,
        )?)
    }

    fn list(&self, app: Option<&str>, within: Option<u32>) -> Result<certs::CertList, CliError> {
        let mut q = Vec::new();
        if let Some(a) = app {
            q.push(format!("app={}", query_escape(a)));
        }
        if let Some(d) = within {
            q.push(format!("expiring_within={d}"));
        }
        let path = if q.is_empty() {
            "/v1/certs".to_string()
        } else {
            format!("/v1/certs?{}", q.join("&"))
        };
        let doc = self.call(Method::GET, &path, None)?;
        let certificates = list(&doc, "certificates")?
            .iter()
            .map(|c| {
                Ok(ops::view::Cert {
                    serial: s(c, "serial")?,
                    kind: s(c, "kind")?,
                    subject: s(c, "subject")?,
                    bundle_id: s(c, "bundle_id")?,
                    team_id: s(c, "team_id")?,
                    environment: s(c, "environment")?,
                    sha256: s(c, "sha256")?,
                    key_type: s(c, "key_type")?,
                    not_before: t(c, "not_before")?,
                    not_after: t(c, "not_after")?,
                    days_left: i(c, "days_left")?,
                    expired: b(c, "expired")?,
                    revoked: b(c, "revoked")?,
                })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        Ok(certs::CertList {
            certificates,
            expiring_within: within,
            expiring: doc["expiring"].as_u64().map(|n| n as usize),
        })
    }

    fn show_serial(&self, serial: &str, pem: bool) -> Result<ShownCert, CliError> {
        let path = format!(
            "/v1/certs/{}{}",
            path_escape(serial),
            if pem { "?pem=true" } else { "" }
        );
        let d = self.call(Method::GET, &path, None)?;
        let environments = list(&d, "environments")?
            .iter()
            .map(|e| {
                e.as_str()
                    .and_then(pushca::x509ext::Environment::from_name)
                    .ok_or_else(|| unexpected("environments"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let view = certs::CertShown {
            subject: s(&d, "subject")?,
            issuer: s(&d, "issuer")?,
            serial: s(&d, "serial")?,
            environments,
            topics: strings(&d, "topics")?,
            bundle_id: opt_s(&d, "bundle_id"),
            not_before: t(&d, "not_before")?,
            not_after: t(&d, "not_after")?,
            days_left: i(&d, "days_left")?,
            expired: b(&d, "expired")?,
            public_key: s(&d, "public_key")?,
            extended_key_usage: strings(&d, "extended_key_usage")?,
            is_ca: b(&d, "is_ca")?,
            sha256: s(&d, "sha256")?,
            revoked: d["revoked"].as_bool(),
            pem: opt_s(&d, "pem"),
        };
        Ok(ShownCert {
            view,
            revoked_at: opt_t(&d, "revoked_at")?,
            revocation_reason: opt_s(&d, "revocation_reason"),
        })
    }

    fn export(
        &self,
        serial: &str,
        out: &Sink,
        format: certs::CertFormat,
        force: bool,
    ) -> Result<certs::Exported, CliError> {
        let rules = self.rules(force);
        pushca::fsutil::check_sink(out, &rules)?;
        let der = matches!(format, certs::CertFormat::Der);
        let path = format!(
            "/v1/certs/{}/export?format={}",
            path_escape(serial),
            if der { "der" } else { "pem" }
        );
        let doc = self.call(Method::GET, &path, None)?;
        let bytes = if der {
            B64.decode(s(&doc, "der")?).map_err(|_| unexpected("der"))?
        } else {
            pem_der(&doc, "pem")?
        };
        let returned = certs::write_export(out, format, &bytes, &rules)?;
        Ok(certs::Exported {
            serial: s(&doc, "serial")?,
            sha256: s(&doc, "sha256")?,
            bundle_id: s(&doc, "bundle_id")?,
            environment: s(&doc, "environment")?,
            out: out.clone(),
            returned,
        })
    }

    fn revoke(&self, serial: &str, reason: Option<&str>) -> Result<Revoked, CliError> {
        let path = format!("/v1/certs/{}/revoke", path_escape(serial));
        let doc = self.call(Method::POST, &path, Some(&json!({ "reason": reason })))?;
        Ok(Revoked {
            serial: s(&doc, "serial")?,
            kind: s(&doc, "kind")?,
            bundle_id: s(&doc, "bundle_id")?,
            environment: s(&doc, "environment")?,
            revoked: b(&doc, "revoked")?,
            changed: b(&doc, "changed")?,
            revoked_at: opt_t(&doc, "revoked_at")?,
            reason: s(&doc, "reason")?,
            subject: opt_s(&doc, "subject").unwrap_or_default(),
        })
    }

    fn crl(
        &self,
        out: Option<&CrlOutput<'_>>,
        _ca_passin: Option<&SecretSource>,
    ) -> Result<CrlSigned, CliError> {
        if let Some(o) = out {
            pushca::fsutil::check_sink(&o.sink, &o.rules)?;
        }
        let doc = self.call(Method::POST, "/v1/crl", None)?;
        Ok(ops::revocation::write_fetched_crl(
            pem_der(&doc, "pem")?,
            out,
        )?)
    }

    fn status(&self, within: Option<u32>) -> Result<Status, CliError> {
        let path = match within {
            Some(d) => format!("/v1/status?expiring_within={d}"),
            None => "/v1/status".to_string(),
        };
        let d = self.call(Method::GET, &path, None)?;
        let ca = list(&d, "ca")?
            .iter()
            .map(|c| {
                let name = match s(c, "name")?.as_str() {
                    "root" => "root",
                    "issuing" => "issuing",
                    "profile-signer" => "profile-signer",
                    _ => return Err(unexpected("ca")),
                };
                Ok(CaStatus {
                    name,
                    not_after: t(c, "not_after")?,
                    days_left: i(c, "days_left")?,
                    subject: s(c, "subject")?,
                })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        let certificates = list(&d, "certificates")?
            .iter()
            .map(|c| {
                Ok(CertStatus {
                    serial: s(c, "serial")?,
                    kind: s(c, "kind")?,
                    bundle_id: s(c, "bundle_id")?,
                    environment: s(c, "environment")?,
                    not_after: t(c, "not_after")?,
                    days_left: i(c, "days_left")?,
                })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        let profiles = list(&d, "profiles")?
            .iter()
            .map(|p| {
                Ok(ProfileStatus {
                    uuid: s(p, "uuid")?,
                    bundle_id: s(p, "bundle_id")?,
                    environment: s(p, "environment")?,
                    expires_at: t(p, "expires_at")?,
                    days_left: i(p, "days_left")?,
                })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        let crl = if d["crl"].is_null() {
            None
        } else {
            let c = &d["crl"];
            Some(CrlStatus {
                number: i(c, "number")?,
                next_update: t(c, "next_update")?,
                days_left: i(c, "days_left")?,
            })
        };
        Ok(Status {
            now: ops::now().unix_timestamp(),
            ca,
            certificates,
            revoked: u(&d, "revoked")?,
            expired: u(&d, "expired")?,
            profiles,
            crl,
            expiring_within: within,
            expiring: u(&d, "expiring")?,
        })
    }

    fn trust_store(
        &self,
        out: &Path,
        _ca_passin: Option<&SecretSource>,
    ) -> Result<TrustStoreOutcome, CliError> {
        let home = self.home.as_ref().map(|h| h.root());
        ops::gateway::check_fetched_out(out, home)?;
        let d = self.call(Method::POST, "/v1/trust-store", None)?;
        let content = d["content"]
            .as_object()
            .ok_or_else(|| unexpected("content"))?;
        let mut files = Vec::new();
        for (rel, data) in content {
            let bytes = data
                .as_str()
                .and_then(|t| B64.decode(t).ok())
                .ok_or_else(|| unexpected("content"))?;
            files.push((rel.clone(), bytes));
        }
        files.sort();
        let version = d["version"].as_u64().unwrap_or_default();
        let changed = ops::gateway::publish_fetched(out, home, &files, version)?;
        Ok(TrustStoreOutcome {
            out: out.to_path_buf(),
            changed,
            generated_at: s(&d, "generated_at")?,
            profiles: u(&d, "profiles")?,
            apps: u(&d, "apps")?,
            revoked: u(&d, "revoked")?,
            version: changed.then_some(version),
            crl_number: d["crl_number"].as_i64().filter(|_| changed),
            crl_next_update: opt_s(&d, "crl_next_update").filter(|_| changed),
            files: if changed {
                files
                    .iter()
                    .map(|(n, data)| (n.clone(), pushca::x509::sha256_hex(data)))
                    .collect()
            } else {
                Vec::new()
            },
        })
    }
}

/// A serial in a URL path: hex digits and colons pass, anything else is
/// refused by the service as an unknown serial (percent-encoded here).
fn path_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b':' || b == b'-' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A bundle ID in a query (letters, digits, `.`, `-`, `*`).
fn query_escape(s: &str) -> String {
    path_escape(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_https_only_with_a_host() {
        let b = super::parse_url("https://ca.example:8443/pushca/").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.prefix.as_str()),
            ("ca.example", 8443, "/pushca")
        );
        assert_eq!(super::parse_url("https://[::1]:1").unwrap().host, "::1");
        for bad in [
            "http://ca.example:8443",
            "ca.example:8443",
            "https://",
            "https://u:p@ca.example",
            "https://ca.example/?a=b",
            "",
            "ftp://x",
        ] {
            assert!(super::parse_url(bad).is_err(), "{bad}");
        }
    }
}
