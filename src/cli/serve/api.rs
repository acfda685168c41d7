//! The JSON API under `/v1/` (README "The service API"): routing, the
//! bearer token and its scope, the ops calls (on the blocking pool), the
//! audit record of each call, and errors as `{"error": {"kind", "message",
//! "hint", "scope"}}` with an HTTP status.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use pushca::error::ErrorKind;
use pushca::fsutil::{Sink, Source};
use pushca::ops::service::{self, AuditEntry, AuthError, Scope};
use pushca::ops::{self, certs, OpsError};
use pushca::store::TokenRecord;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{State, BODY_TIMEOUT, MAX_BODY_BYTES, MAX_CSRS_PER_CALL};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A refused or failed call: its status, `kind`, message and (for a
/// missing scope) the scope.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    scope: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            scope: None,
        }
    }
    fn input(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "input", message)
    }
    fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    fn unauthorized(e: &AuthError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string())
    }
    fn forbidden(scope: &Scope) -> Self {
        ApiError {
            scope: Some(scope.to_string()),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token does not have the scope {scope}"),
            )
        }
    }
    /// The audit log's `result`.
    fn result(&self) -> String {
        match self.kind {
            "unauthorized" | "forbidden" => self.kind.to_string(),
            k => format!("error:{k}"),
        }
    }
}

/// A library error: its kind, and the HTTP status for it.
fn from_kind(kind: ErrorKind, message: String) -> ApiError {
    let status = match kind {
        ErrorKind::Input | ErrorKind::Usage | ErrorKind::Password => StatusCode::BAD_REQUEST,
        ErrorKind::Policy => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Io | ErrorKind::NotInitialized | ErrorKind::Crypto | ErrorKind::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, kind.name(), message)
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        from_kind(e.kind(), e.to_string())
    }
}

impl From<service::TokenError> for ApiError {
    fn from(e: service::TokenError) -> Self {
        from_kind(e.kind(), e.to_string())
    }
}

impl From<pushca::fsutil::FsError> for ApiError {
    fn from(e: pushca::fsutil::FsError) -> Self {
        from_kind(e.kind(), e.to_string())
    }
}

/// What a call asks for, parsed from its method, path, query and body.
enum Call {
    Issue(IssueBody),
    Renew(RenewBody),
    Create(CreateBody),
    List {
        app: Option<String>,
        expiring_within: Option<u32>,
    },
    Show {
        serial: String,
        pem: bool,
    },
    Export {
        serial: String,
        der: bool,
    },
    Revoke {
        serial: String,
        reason: Option<String>,
    },
    Crl,
    TrustStore,
    Status {
        expiring_within: Option<u32>,
    },
    Tokens,
    Audit {
        since: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    bundle_id: String,
    environment: String,
    /// PEM CSRs, one certificate each.
    csrs: Vec<String>,
    /// How each CSR is named in messages and warnings (the client mode
    /// sends its file names); default `csrs[i]`.
    #[serde(default)]
    csr_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewBody {
    bundle_id: String,
    environment: String,
    csr: String,
    within: u32,
    /// How the CSR is named in messages (default `csr`).
    #[serde(default)]
    csr_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    bundle_id: String,
    environment: String,
    /// Encrypts the key and the .p12 (required).
    passphrase: Option<String>,
    key_type: Option<String>,
    renew_within: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: Option<String>,
}

impl Call {
    fn operation(&self) -> &'static str {
        match self {
            Call::Issue(_) => "issue",
            Call::Renew(_) => "renew",
            Call::Create(_) => "create",
            Call::List { .. } => "list",
            Call::Show { .. } => "show",
            Call::Export { .. } => "export",
            Call::Revoke { .. } => "revoke",
            Call::Crl => "crl",
            Call::TrustStore => "trust-store",
            Call::Status { .. } => "status",
            Call::Tokens => "tokens",
            Call::Audit { .. } => "audit",
        }
    }

    /// The scope the call needs.
    fn scope(&self) -> Scope {
        match self {
            Call::Issue(IssueBody { bundle_id, .. })
            | Call::Renew(RenewBody { bundle_id, .. })
            | Call::Create(CreateBody { bundle_id, .. }) => Scope::Issue(Some(bundle_id.clone())),
            Call::List { .. } | Call::Show { .. } | Call::Export { .. } | Call::Status { .. } => {
                Scope::Read
            }
            Call::Revoke { .. } | Call::Crl => Scope::Revoke,
            Call::TrustStore => Scope::TrustStore,
            Call::Tokens | Call::Audit { .. } => Scope::Admin,
        }
    }
}

/// Every request: `/healthz`, or a call under `/v1/`.
pub(crate) async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/healthz" {
        return Ok(if req.method() == Method::GET {
            respond(StatusCode::OK, &json!({ "status": "ok" }))
        } else {
            error_response(&method_not_allowed())
        });
    }
    Ok(match call(req, &state).await {
        Ok(doc) => respond(StatusCode::OK, &doc),
        Err(e) => error_response(&e),
    })
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "usage",
        "method not allowed here",
    )
}

/// A call under `/v1/`: the token, the body, the scope, the operation, and
/// its audit record whatever the outcome.
async fn call(req: Request<Incoming>, state: &Arc<State>) -> Result<Value, ApiError> {
    let bearer = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| zeroize::Zeroizing::new(v.trim().to_string()));
    let st = state.clone();
    let token = blocking(move || -> Result<TokenRecord, ApiError> {
        let Some(bearer) = bearer else {
            return Err(ApiError::unauthorized(&AuthError::Missing));
        };
        let t = ops::now().unix_timestamp();
        service::authenticate(&st.home, &bearer, t)?.map_err(|e| ApiError::unauthorized(&e))
    })
    .await;
    let (method, path, query) = (
        req.method().clone(),
        req.uri().path().to_string(),
        req.uri().query().unwrap_or("").to_string(),
    );
    let token = match token {
        Ok(t) => t,
        Err(e) => {
            audit(
                state,
                None,
                None,
                &route_name(&method, &path),
                &[],
                e.result(),
            )
            .await;
            return Err(e);
        }
    };
    let parsed = match read_body(req).await {
        Ok(body) => parse(&method, &path, &query, &body),
        Err(e) => Err(e),
    };
    let call = match parsed {
        Ok(c) => c,
        Err(e) => {
            let op = route_name(&method, &path);
            audit(state, Some(&token.token_id), None, &op, &[], e.result()).await;
            return Err(e);
        }
    };
    let scope = call.scope();
    let op = call.operation();
    if !service::allows(&token, &scope) {
        let e = ApiError::forbidden(&scope);
        audit(
            state,
            Some(&token.token_id),
            Some(&scope),
            op,
            &[],
            e.result(),
        )
        .await;
        return Err(e);
    }
    let st = state.clone();
    let outcome = blocking(move || run(&st, call)).await;
    let (result, serials) = match &outcome {
        Ok((_, serials)) => ("ok".to_string(), serials.clone()),
        Err(e) => (e.result(), Vec::new()),
    };
    audit(
        state,
        Some(&token.token_id),
        Some(&scope),
        op,
        &serials,
        result,
    )
    .await;
    outcome.map(|(doc, _)| doc)
}

/// The operation a refused request was for, as well as it can be named.
fn route_name(method: &Method, path: &str) -> String {
    let name: String = format!("{method} {path}")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    name
}

async fn audit(
    state: &Arc<State>,
    token_id: Option<&str>,
    scope: Option<&Scope>,
    operation: &str,
    serials: &[String],
    result: String,
) {
    let st = state.clone();
    let (token_id, scope, operation, serials) = (
        token_id.map(str::to_string),
        scope.map(Scope::to_string),
        operation.to_string(),
        serials.to_vec(),
    );
    let recorded = blocking(move || {
        service::record(
            &st.home,
            &AuditEntry {
                token_id: token_id.as_deref(),
                scope,
                operation: &operation,
                serials,
                result,
            },
        )
        .map_err(ApiError::from)
    })
    .await;
    if let Err(e) = recorded {
        eprintln!(
            "pushca serve: cannot record a call in the audit log: {}",
            e.message
        );
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("internal error: a call panicked")))
}

/// The body, at most [`MAX_BODY_BYTES`], within [`BODY_TIMEOUT`].
async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let limited = Limited::new(req.into_body(), MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request body took longer than {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::input(format!(
            "cannot read the request body: {e}"
        ))),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// The query string as a map (`a=b&c=d`; percent-decoding of the few
/// characters serials, bundle IDs and dates use).
fn query_map(q: &str) -> Result<HashMap<String, String>, ApiError> {
    let mut m = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = v.replace("%3A", ":").replace("%3a", ":").replace('+', " ");
        if v.contains('%') {
            return Err(ApiError::input(format!(
                "query parameter {k}: unsupported escape"
            )));
        }
        m.insert(k.to_string(), v);
    }
    Ok(m)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::input(format!("request body: {e}")))
}

fn parse(method: &Method, path: &str, query: &str, body: &[u8]) -> Result<Call, ApiError> {
    let q = query_map(query)?;
    let known = |allowed: &[&str]| -> Result<(), ApiError> {
        match q.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::input(format!("unknown query parameter {k}"))),
            None => Ok(()),
        }
    };
    let days = |k: &str| -> Result<Option<u32>, ApiError> {
        q.get(k)
            .map(|v| {
                v.parse::<u32>()
                    .map_err(|_| ApiError::input(format!("{k}: '{v}' is not a number of days")))
            })
            .transpose()
    };
    let flag = |k: &str| matches!(q.get(k).map(String::as_str), Some("true" | "1" | ""));
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such endpoint: {}", route_name(method, path)),
        )
    };
    let Some(rest) = segs.strip_prefix(&["", "v1"]) else {
        return Err(not_found());
    };
    let call = match (method, rest) {
        (&Method::POST, ["certs", "issue"]) => {
            known(&[])?;
            let b: IssueBody = json_body(body)?;
            if b.csrs.is_empty() {
                return Err(ApiError::input("csrs: at least one CSR is needed"));
            }
            if b.csrs.len() > MAX_CSRS_PER_CALL {
                return Err(ApiError::input(format!(
                    "csrs: at most {MAX_CSRS_PER_CALL} CSRs per call, got {}",
                    b.csrs.len()
                )));
            }
            Call::Issue(b)
        }
        (&Method::POST, ["certs", "renew"]) => {
            known(&[])?;
            Call::Renew(json_body(body)?)
        }
        (&Method::POST, ["certs", "create"]) => {
            known(&[])?;
            Call::Create(json_body(body)?)
        }
        (&Method::GET, ["certs"]) => {
            known(&["app", "expiring_within"])?;
            Call::List {
                app: q.get("app").cloned(),
                expiring_within: days("expiring_within")?,
            }
        }
        (&Method::GET, ["certs", serial]) => {
            known(&["pem"])?;
            Call::Show {
                serial: serial.to_string(),
                pem: flag("pem"),
            }
        }
        (&Method::GET, ["certs", serial, "export"]) => {
            known(&["format"])?;
            let der = match q.get("format").map(String::as_str) {
                None | Some("pem") => false,
                Some("der") => true,
                Some(f) => return Err(ApiError::input(format!("format: '{f}' is not pem or der"))),
            };
            Call::Export {
                serial: serial.to_string(),
                der,
            }
        }
        (&Method::POST, ["certs", serial, "revoke"]) => {
            known(&[])?;
            let b: RevokeBody = if body.iter().all(u8::is_ascii_whitespace) {
                RevokeBody::default()
            } else {
                json_body(body)?
            };
            Call::Revoke {
                serial: serial.to_string(),
                reason: b.reason,
            }
        }
        (&Method::POST, ["crl"]) => {
            known(&[])?;
            Call::Crl
        }
        (&Method::POST, ["trust-store"]) => {
            known(&[])?;
            Call::TrustStore
        }
        (&Method::GET, ["status"]) => {
            known(&["expiring_within"])?;
            Call::Status {
                expiring_within: days("expiring_within")?,
            }
        }
        (&Method::GET, ["tokens"]) => {
            known(&[])?;
            Call::Tokens
        }
        (&Method::GET, ["audit"]) => {
            known(&["since"])?;
            Call::Audit {
                since: q.get("since").cloned(),
            }
        }
        (
            _,
            ["certs", "issue" | "renew" | "create"]
            | ["certs"]
            | ["certs", _]
            | ["certs", _, "export" | "revoke"]
            | ["crl" | "trust-store" | "status" | "tokens" | "audit"],
        ) => return Err(method_not_allowed()),
        _ => return Err(not_found()),
    };
    Ok(call)
}

fn env(s: &str) -> Result<pushca::ca::PushEnvironment, ApiError> {
    s.parse::<pushca::ca::PushEnvironment>().map_err(|_| {
        ApiError::input(format!(
            "environment: '{s}' is not development, production or universal"
        ))
    })
}

fn to_value<V: serde::Serialize>(v: &V) -> Result<Value, ApiError> {
    serde_json::to_value(v)
        .map_err(|e| ApiError::internal(format!("cannot render the document: {e}")))
}

/// Adds `warnings` to a document when there are any (as the CLI does).
fn with_warnings(mut doc: Value, warnings: &[String]) -> Value {
    if !warnings.is_empty() {
        if let Some(o) = doc.as_object_mut() {
            o.insert("warnings".into(), json!(warnings));
        }
    }
    doc
}

/// Runs a call (on the blocking pool): its document and the serials it
/// issued, revoked or read.
fn run(st: &State, call: Call) -> Result<(Value, Vec<String>), ApiError> {
    let home = &st.home;
    match call {
        Call::Issue(b) => {
            let csrs = b
                .csrs
                .iter()
                .enumerate()
                .map(|(i, pem)| {
                    let name = b.csr_names.get(i).cloned();
                    let name = name.unwrap_or_else(|| format!("csrs[{i}]"));
                    Source::bytes(name, pem.as_bytes().to_vec())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = certs::IssueRequest {
                bundle_id: &b.bundle_id,
                env: env(&b.environment)?,
                csr_files: &csrs,
                output: None,
                bundle: Some(Sink::Return),
                format: certs::CertFormat::Pem,
                force: false,
            };
            let outcome = certs::prepare_issue(home, &req, &|| {})?.issue_unlocked(&st.ca)?;
            let mut view = outcome.view();
            view.bundle = None;
            let mut doc = to_value(&view)?;
            doc["chain"] = json!(chain_pem(home));
            if let Some(list) = doc.get_mut("certificates").and_then(Value::as_array_mut) {
                for (c, i) in list.iter_mut().zip(&outcome.issued) {
                    c["pem"] = json!(pushca::pem::encode("CERTIFICATE", &i.cert.der));
                }
            }
            let serials = outcome
                .issued
                .iter()
                .map(|i| i.cert.serial.clone())
                .collect();
            Ok((with_warnings(doc, &outcome.warnings), serials))
        }
        Call::Renew(b) => {
            let csr = Source::bytes(b.csr_name.as_deref().unwrap_or("csr"), b.csr.into_bytes())?;
            let req = certs::RenewRequest {
                bundle_id: &b.bundle_id,
                env: env(&b.environment)?,
                csr,
                output: certs::IssueOutput::Return,
                within: b.within,
                format: certs::CertFormat::Pem,
            };
            let out = certs::renew_unlocked(home, &req, &st.ca)?;
            let mut doc = to_value(&out.view)?;
            let serials = match &out.view {
                certs::Renewal::Renewed(r) => {
                    doc["out"] = Value::Null;
                    if let Some(pem) = &out.returned {
                        doc["pem"] = json!(String::from_utf8_lossy(pem.as_bytes()));
                    }
                    doc["chain"] = json!(chain_pem(home));
                    vec![r.serial.clone()]
                }
                certs::Renewal::NotRenewed(_) => Vec::new(),
            };
            Ok((with_warnings(doc, &out.warnings), serials))
        }
        Call::Create(b) => {
            let environment = env(&b.environment)?;
            let key_type = match &b.key_type {
                None => pushca::keys::KeyType::Rsa2048,
                Some(k) => k
                    .parse::<pushca::keys::KeyType>()
                    .map_err(|e| ApiError::input(format!("key_type: {e}")))?,
            };
            let Some(pass) = b.passphrase.filter(|p| !p.is_empty()) else {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "password",
                    "passphrase: the key and .p12 leave the service encrypted; give a passphrase",
                ));
            };
            let protection =
                ops::convert::Protection::checked(Some(pushca::secret::Secret::new(pass)))?;
            let made = certs::create_unlocked(
                home,
                &b.bundle_id,
                environment,
                key_type,
                &protection,
                b.renew_within,
                &st.ca,
            )?;
            match made {
                Err(not_renewed) => Ok((to_value(&not_renewed)?, Vec::new())),
                Ok(m) => {
                    let c = &m.issued.cert;
                    let doc = json!({
                        "renewed": true,
                        "serial": c.serial,
                        "sha256": c.sha256,
                        "bundle_id": b.bundle_id,
                        "environment": environment.name(),
                        "not_after": pushca::timeutil::rfc3339(c.not_after.unix_timestamp()),
                        "encrypted": true,
                        "files": {
                            "key": m.key_pem.as_str(),
                            "csr": m.csr_pem,
                            "certificate": pushca::pem::encode("CERTIFICATE", &c.der),
                            "p12": B64.encode(m.p12.as_slice()),
                            "ck": m.ck_pem.as_str(),
                        },
                    });
                    Ok((doc, vec![c.serial.clone()]))
                }
            }
        }
        Call::List {
            app,
            expiring_within,
        } => {
            let l = certs::list_view(home, app.as_deref(), expiring_within)?;
            Ok((to_value(&l)?, Vec::new()))
        }
        Call::Show { serial, pem } => {
            let s = certs::show_serial(home, &serial, pem)?;
            let mut doc = to_value(&s.view)?;
            if let (Some(o), Some(r)) = (doc.as_object_mut(), &s.record) {
                o.insert(
                    "revoked_at".into(),
                    json!(r.revoked_at.map(pushca::timeutil::rfc3339)),
                );
                o.insert("revocation_reason".into(), json!(r.revocation_reason));
            }
            Ok((doc, vec![s.view.serial.clone()]))
        }
        Call::Export { serial, der } => {
            let rules = ops::OutputRules {
                force: false,
                home: Some(home.root()),
            };
            let format = if der {
                certs::CertFormat::Der
            } else {
                certs::CertFormat::Pem
            };
            let e = certs::export(home, &serial, &Sink::Return, format, &rules)?;
            let mut doc = to_value(&e)?;
            doc["out"] = Value::Null;
            if let Some(bytes) = &e.returned {
                if der {
                    doc["der"] = json!(B64.encode(bytes.as_bytes()));
                } else {
                    doc["pem"] = json!(String::from_utf8_lossy(bytes.as_bytes()));
                }
            }
            Ok((doc, vec![e.serial.clone()]))
        }
        Call::Revoke { serial, reason } => {
            let r = ops::revocation::revoke(home, &serial, reason.as_deref())?;
            let mut doc = to_value(&r)?;
            doc["subject"] = json!(r.subject);
            Ok((doc, vec![r.serial.clone()]))
        }
        Call::Crl => {
            let c = ops::revocation::make_crl_unlocked(home, &st.ca, None)?;
            Ok((to_value(&c)?, Vec::new()))
        }
        Call::TrustStore => {
            let out = st.staging.path().join("trust-store");
            let prepared = ops::gateway::prepare_trust_store(home, &out)?;
            let mut last = st
                .last_trust_store
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let outcome = match (prepared.unchanged(), last.as_ref()) {
                // Unchanged: what the build that made it said (its version
                // and CRL), with `changed: false`.
                (Some(o), Some(built)) => ops::gateway::TrustStoreOutcome {
                    changed: false,
                    generated_at: o.generated_at,
                    ..built.clone()
                },
                _ => {
                    let o = prepared.build_unlocked(&st.ca)?;
                    *last = Some(o.clone());
                    o
                }
            };
            drop(last);
            let mut doc = to_value(&outcome)?;
            if let Some(o) = doc.as_object_mut() {
                o.remove("out");
                o.insert("content".into(), Value::Object(read_tree(&out)?));
            }
            Ok((doc, Vec::new()))
        }
        Call::Status { expiring_within } => {
            let s = ops::status::status(home, expiring_within)?;
            Ok((to_value(&s)?, Vec::new()))
        }
        Call::Tokens => Ok((to_value(&service::list_tokens(home)?)?, Vec::new())),
        Call::Audit { since } => {
            let since = since
                .map(|s| service::parse_since(&s, ops::now().unix_timestamp()))
                .transpose()?;
            Ok((to_value(&service::audit(home, since)?)?, Vec::new()))
        }
    }
}

/// The CA chain (issuing CA, then root) as PEM: what a client puts in the
/// `.p12` of `cert create` beside the certificate.
fn chain_pem(home: &pushca::home::Home) -> String {
    certs::ca_chain(home)
        .iter()
        .map(|der| pushca::pem::encode("CERTIFICATE", der))
        .collect()
}

/// Every file of the trust store in `dir`, by its path in it, as base64.
fn read_tree(dir: &std::path::Path) -> Result<serde_json::Map<String, Value>, ApiError> {
    fn walk(
        root: &std::path::Path,
        dir: &std::path::Path,
        out: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<(), ApiError> {
        let io =
            |e: std::io::Error| ApiError::internal(format!("cannot read the trust store: {e}"));
        for e in std::fs::read_dir(dir).map_err(io)? {
            let p = e.map_err(io)?.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, pushca::fsutil::read_input(&p)?));
            }
        }
        Ok(())
    }
    // The published directory (a trust store swaps in a new directory
    // whole; follow the link to it).
    let real = std::fs::canonicalize(dir)
        .map_err(|e| ApiError::internal(format!("cannot read the trust store: {e}")))?;
    let mut files = Vec::new();
    walk(&real, &real, &mut files)?;
    files.sort();
    Ok(files
        .into_iter()
        .map(|(k, v)| (k, json!(B64.encode(v))))
        .collect())
}

fn respond(status: StatusCode, doc: &Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec_pretty(doc).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

fn error_response(e: &ApiError) -> Response<Full<Bytes>> {
    let mut r = respond(
        e.status,
        &json!({ "error": { "kind": e.kind, "message": e.message, "hint": null, "scope": e.scope } }),
    );
    if e.status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
    }
    r
}
