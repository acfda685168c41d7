//! Push certificates: issue, list, show, export.
//!
//! Issuance is crash-safe: certificates are signed first (in memory, with no
//! store lock held, so a `cert revoke` never waits for a batch), then
//! recorded in one short store transaction, and files are written only after
//! the commit. A crash or
//! `kill -9` at any moment leaves no CA-signed certificate on disk that the
//! store does not hold (temporary files included); `export` recovers any
//! issued certificate from the store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{now, open_store, view, OpsError, OutputRules, Result};
use crate::ca::{self, templates, CheckedCsr, IssuingCa, PushEnvironment, PushSubject};
use crate::fsutil::{self, AtomicBatch, Returned, Sink, Source, MODE_PUBLIC};
use crate::home::Home;
use crate::par;
use crate::portal;
use crate::secret::Secret;
use crate::store::{AppRecord, CertFilter, CertRecord};
use crate::timeutil::{days_left, serialize_rfc3339};
use crate::x509::CertSummary;

/// How certificates are written.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertFormat {
    /// PEM (`.pem`).
    Pem,
    /// DER (`.cer`).
    Der,
}

impl CertFormat {
    pub(crate) fn encode(self, der: &[u8]) -> Vec<u8> {
        match self {
            CertFormat::Pem => crate::pem::encode("CERTIFICATE", der).into_bytes(),
            CertFormat::Der => der.to_vec(),
        }
    }
    fn extension(self) -> &'static str {
        match self {
            CertFormat::Pem => "pem",
            CertFormat::Der => "cer",
        }
    }
}

/// Where issued certificates go.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum IssueOutput {
    /// One file (one CSR).
    File(PathBuf),
    /// `<csr file stem>.pem` (or `.cer`) per CSR in this directory, created when missing.
    Dir(PathBuf),
    /// One CSR; the certificate is returned ([`IssueOutcome::returned`]).
    Return,
}

/// What to issue: one push certificate per CSR file for one App ID and environment.
pub struct IssueRequest<'a> {
    /// The App ID (bundle ID) the certificates are for.
    pub bundle_id: &'a str,
    /// The push environment they are for.
    pub env: PushEnvironment,
    /// The CSRs, one certificate each.
    pub csr_files: &'a [Source],
    /// A file per certificate; `None` when only the bundle is written.
    pub output: Option<IssueOutput>,
    /// One PEM file holding every certificate of the batch, in the order of
    /// `csr_files` (written with the per-certificate files, if any).
    pub bundle: Option<Sink>,
    /// Format of the per-certificate files (the bundle is always PEM).
    pub format: CertFormat,
    /// Replace existing output files.
    pub force: bool,
}

/// An issuance whose inputs all checked out; [`PreparedIssue::issue`] signs.
pub struct PreparedIssue<'h> {
    home: &'h Home,
    app: AppRecord,
    env: PushEnvironment,
    csrs: Vec<CheckedCsr>,
    warnings: Vec<String>,
    /// One per CSR, or none (bundle only).
    outputs: Vec<Sink>,
    bundle: Option<Sink>,
    format: CertFormat,
    force: bool,
    /// Renewal: issue only when the newest valid certificate of the App ID and
    /// environment expires within this many seconds (checked inside the
    /// issuing transaction, so concurrent renewals issue once).
    renew_within: Option<i64>,
}

/// The certificate a renewal found still good, when it issued nothing.
#[derive(Debug, Clone)]
pub(crate) struct NotDue {
    pub(crate) newest: CertRecord,
}

impl NotDue {
    /// The document of a renewal that was not due (`within` days asked for).
    pub(crate) fn view(&self, within: u32, now: i64) -> NotRenewed {
        NotRenewed {
            renewed: false,
            serial: self.newest.serial.clone(),
            not_after: self.newest.not_after,
            days_left: days_left(self.newest.not_after, now),
            within,
        }
    }
}

/// `cert renew` / `cert create --renew-within` when not due: the newest
/// certificate, still good.
#[derive(Debug, Clone, Serialize)]
pub struct NotRenewed {
    /// Always false.
    pub renewed: bool,
    /// The newest valid certificate (serial, lowercase hex).
    pub serial: String,
    /// When it expires (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// Whole days until then.
    pub days_left: i64,
    /// The renewal window asked for, in days.
    pub within: u32,
}

/// The newest unrevoked, unexpired certificate of an App ID and environment.
/// How many times an issuance draws a serial again when the store already
/// holds one it drew (128 random bits: practically never once).
const SERIAL_REDRAWS: u32 = 8;

pub(crate) fn newest_valid(
    tx: &crate::store::Tx<'_>,
    bundle_id: &str,
    env: PushEnvironment,
    now: i64,
) -> Result<Option<CertRecord>> {
    let all = tx.list_certificates(&CertFilter {
        bundle_id: Some(bundle_id),
        environment: Some(env.name()),
        expiring_before: None,
    })?;
    Ok(all
        .into_iter()
        .filter(|c| c.revoked_at.is_none() && c.not_after > now && c.not_before <= now)
        .max_by_key(|c| c.not_after))
}

/// What the store says a push certificate's subject is made of.
struct SubjectParts {
    app: AppRecord,
    team: crate::store::TeamRecord,
    country: String,
}

impl SubjectParts {
    /// Whether certificates signed for `self` say what `other` would (the
    /// App ID's descriptive name is in no certificate).
    fn same_subject(&self, other: &SubjectParts) -> bool {
        self.app.bundle_id == other.app.bundle_id
            && self.app.team_id == other.app.team_id
            && self.team.team_id == other.team.team_id
            && self.team.name == other.team.name
            && self.country == other.country
    }
}

/// One issued certificate and where it was written.
pub struct Issued {
    /// The certificate (DER, serial, SHA-256, subject, validity).
    pub cert: ca::IssuedCertificate,
    /// Its own file; `None` when it went only into the bundle, or was returned.
    pub path: Option<PathBuf>,
    /// Its own output (a file, or returned); `None` when it went only into the bundle.
    pub(crate) out: Option<Sink>,
}

impl Issued {
    /// A certificate signed elsewhere (client mode: by the service), from
    /// its DER; written by whoever received it.
    pub fn from_der(der: Vec<u8>) -> Result<Issued> {
        let s = CertSummary::from_der(&der).map_err(crate::ca::CaError::from)?;
        let at = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .map_err(|e| OpsError::from(crate::ca::CaError::NotCertificate(Box::new(e))))
        };
        Ok(Issued {
            cert: ca::IssuedCertificate {
                serial: s.serial,
                sha256: s.sha256,
                subject: s.subject,
                not_before: at(s.not_before)?,
                not_after: at(s.not_after)?,
                der,
            },
            path: None,
            out: None,
        })
    }
}

/// What an issuance did; [`IssueOutcome::view`] is its document.
pub struct IssueOutcome {
    /// The App ID, as recorded.
    pub app: AppRecord,
    pub(crate) env: PushEnvironment,
    /// In the order of the CSRs.
    pub issued: Vec<Issued>,
    /// The PEM bundle of every certificate, when one was asked for.
    pub(crate) bundle: Option<Sink>,
    /// One line each (e.g. a CSR signed with SHA-1), for the user.
    pub warnings: Vec<String>,
    /// The output that went to [`Sink::Return`], if one did.
    pub returned: Option<Returned>,
}

/// `cert issue`: every certificate issued, and the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedCerts {
    /// In the order of the CSRs.
    pub certificates: Vec<IssuedCert>,
    /// The PEM bundle of every certificate (file name, or `-`); null when none.
    pub bundle: Option<Sink>,
}

/// One certificate of `cert issue`.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedCert {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Subject DN, one line.
    pub subject: String,
    /// The App ID.
    pub bundle_id: String,
    /// `development`, `production` or `universal`.
    pub environment: &'static str,
    /// Start of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_before: i64,
    /// End of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// Its own output; null when it went only into the bundle.
    pub out: Option<Sink>,
}

impl IssueOutcome {
    /// The document of `cert issue`.
    pub fn view(&self) -> IssuedCerts {
        IssuedCerts {
            certificates: self
                .issued
                .iter()
                .map(|i| IssuedCert {
                    serial: i.cert.serial.clone(),
                    sha256: i.cert.sha256.clone(),
                    subject: i.cert.subject.clone(),
                    bundle_id: self.app.bundle_id.clone(),
                    environment: self.env.name(),
                    not_before: i.cert.not_before.unix_timestamp(),
                    not_after: i.cert.not_after.unix_timestamp(),
                    out: i.out.clone(),
                })
                .collect(),
            bundle: self.bundle.clone(),
        }
    }
}

/// Checks that an App ID may get push certificates.
pub(crate) fn check_push_app(app: &AppRecord) -> Result<()> {
    if portal::is_wildcard(&app.bundle_id) {
        return Err(OpsError::Wildcard(app.bundle_id.clone()));
    }
    if !app.enabled {
        return Err(OpsError::AppDisabled(app.bundle_id.clone()));
    }
    if !app.push {
        return Err(OpsError::NoPush(app.bundle_id.clone()));
    }
    Ok(())
}

fn output_sinks(req: &IssueRequest<'_>) -> Result<Vec<Sink>> {
    let one = |sink: Sink| {
        if req.csr_files.len() != 1 {
            return Err(OpsError::OneOutputManyCsrs(req.csr_files.len()));
        }
        Ok(vec![sink])
    };
    match &req.output {
        None if req.bundle.is_none() => Err(OpsError::NoIssueOutput),
        None => Ok(Vec::new()),
        Some(IssueOutput::File(out)) => one(Sink::File(out.clone())),
        Some(IssueOutput::Return) => one(Sink::Return),
        Some(IssueOutput::Dir(dir)) => {
            let mut seen = HashSet::new();
            req.csr_files
                .iter()
                .map(|csr| {
                    let stem = csr
                        .name()
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("cert");
                    let p = dir.join(format!("{stem}.{}", req.format.extension()));
                    if !seen.insert(p.clone()) {
                        return Err(OpsError::DuplicateOutput(p));
                    }
                    Ok(Sink::File(p))
                })
                .collect()
        }
    }
}

/// Checks the outputs of a batch together: the files under the rules and
/// against each other, and at most one returned.
fn check_sinks<'s>(
    sinks: impl IntoIterator<Item = &'s Sink>,
    rules: &OutputRules<'_>,
) -> Result<(), fsutil::FsError> {
    let mut files = Vec::new();
    let mut returned = false;
    for s in sinks {
        match s {
            Sink::File(p) => files.push(p.as_path()),
            Sink::Return if returned => {
                return Err(fsutil::FsError::SameOutputTwice(s.name().to_path_buf()))
            }
            Sink::Return => returned = true,
        }
    }
    fsutil::check_outputs(files, rules)
}

/// The outputs of an issuance, checked: a file (or `-`) per CSR and/or the
/// bundle, under the output rules. [`prepare_issue`] checks them before
/// anything is signed; the CLI's client mode checks them before it calls
/// the service, and writes what the service signed with
/// [`IssueTargets::write`], as a local issuance does.
#[derive(Debug, Clone)]
pub struct IssueTargets {
    /// One per CSR, or none (bundle only).
    outputs: Vec<Sink>,
    bundle: Option<Sink>,
    format: CertFormat,
    force: bool,
    home: Option<PathBuf>,
}

/// Checks the outputs of `req` (creating an `--out-dir` when missing) under
/// the output rules (never inside `home`).
pub fn issue_targets(req: &IssueRequest<'_>, home: Option<&Path>) -> Result<IssueTargets> {
    let outputs = output_sinks(req)?;
    let rules = OutputRules {
        force: req.force,
        home,
    };
    if let Some(IssueOutput::Dir(dir)) = &req.output {
        fsutil::create_output_dir(dir, &rules)?;
    }
    check_sinks(outputs.iter().chain(&req.bundle), &rules)?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for out in outputs.iter().chain(&req.bundle).filter_map(Sink::path) {
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dirs.contains(&dir) {
            fsutil::remove_stale_temp_files(&dir);
            dirs.push(dir);
        }
    }
    Ok(IssueTargets {
        outputs,
        bundle: req.bundle.clone(),
        format: req.format,
        force: req.force,
        home: home.map(Path::to_path_buf),
    })
}

impl IssueTargets {
    /// The output of each certificate, in CSR order (none: bundle only).
    pub fn outputs(&self) -> &[Sink] {
        &self.outputs
    }
    /// The bundle, if one is written.
    pub fn bundle(&self) -> Option<&Sink> {
        self.bundle.as_ref()
    }
    /// Writes the certificates (DER, in CSR order), all or nothing; the
    /// bytes of an output to [`Sink::Return`] come back.
    pub fn write(&self, ders: &[&[u8]]) -> Result<Option<Returned>, fsutil::FsError> {
        let rules = OutputRules {
            force: self.force,
            home: self.home.as_deref(),
        };
        write_issued(
            ders,
            &self.outputs,
            self.bundle.as_ref(),
            self.format,
            &rules,
        )
    }
}

/// Reads and checks every CSR, the App ID and the outputs, before any
/// passphrase is asked for or anything is signed: a batch is all or nothing.
/// The CSRs are checked on all cores; the first bad one in `csr_files` order
/// is the error. `tick` is called once per CSR checked (progress display),
/// from the checking threads.
pub fn prepare_issue<'h>(
    home: &'h Home,
    req: &IssueRequest<'_>,
    tick: &(dyn Fn() + Sync),
) -> Result<PreparedIssue<'h>> {
    let outputs = issue_targets(req, Some(home.root()))?.outputs;
    let csrs = par::try_map_ordered(
        req.csr_files,
        par::threads(),
        |input| {
            let bytes = input.read()?;
            let csr = ca::check_csr(&bytes).map_err(|source| OpsError::Csr {
                path: input.name().to_path_buf(),
                source,
            })?;
            tick();
            Ok(csr)
        },
        || OpsError::WorkerPanicked("checking CSRs"),
    )?;
    let mut warnings = Vec::new();
    for (input, csr) in req.csr_files.iter().zip(&csrs) {
        for w in &csr.warnings {
            warnings.push(format!("{}: {w}", input.name().display()));
        }
    }
    let mut st = open_store(home)?;
    let app = st.read(|tx| portal::get_app(tx, req.bundle_id))?;
    check_push_app(&app)?;
    Ok(PreparedIssue {
        home,
        app,
        env: req.env,
        csrs,
        warnings,
        outputs,
        bundle: req.bundle.clone(),
        format: req.format,
        force: req.force,
        renew_within: None,
    })
}

/// What `cert create` (fastlane pem's one step) wrote.
pub struct Created {
    /// `None` when a renewal was not due (then nothing was written).
    pub issued: Option<Issued>,
    /// The private key file (`<bundle>-<env>.key`).
    pub key: PathBuf,
    /// The CSR file (`.csr`).
    pub csr: PathBuf,
    /// The PKCS#12 file (`.p12`).
    pub p12: PathBuf,
    /// The certificate and key in one PEM (`-ck.pem`).
    pub ck: PathBuf,
    /// Its document.
    pub view: CreateView,
}

/// The document of `cert create`: what was made, or (`--renew-within`) the
/// certificate that is still good.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CreateView {
    /// A certificate was issued and the files written.
    Created(CertCreated),
    /// A renewal was not due: nothing was written.
    NotRenewed(NotRenewed),
}

/// `cert create`: the certificate and the files written.
#[derive(Debug, Clone, Serialize)]
pub struct CertCreated {
    /// Always true.
    pub renewed: bool,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// The App ID.
    pub bundle_id: String,
    /// `development`, `production` or `universal`.
    pub environment: &'static str,
    /// End of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// The private key file.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub key: PathBuf,
    /// The CSR file.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub csr: PathBuf,
    /// The certificate file (PEM).
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub certificate: PathBuf,
    /// The PKCS#12 file.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub p12: PathBuf,
    /// The certificate and key in one PEM file.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub ck: PathBuf,
    /// Whether the key (and the key in `ck`) is encrypted.
    pub encrypted: bool,
}

/// The files `cert create` writes in `dir` for an App ID and environment.
pub fn created_paths(dir: &Path, bundle_id: &str, env: PushEnvironment) -> [PathBuf; 5] {
    let base = format!("{bundle_id}-{}", env.name());
    [
        dir.join(format!("{base}.key")),
        dir.join(format!("{base}.csr")),
        dir.join(format!("{base}.pem")),
        dir.join(format!("{base}.p12")),
        dir.join(format!("{base}-ck.pem")),
    ]
}

/// [`created_paths`], checked under the output rules (`dir` created when
/// missing; the key, `.p12` and `ck.pem` as secret outputs).
pub fn check_created_paths(
    dir: &Path,
    bundle_id: &str,
    env: PushEnvironment,
    rules: &OutputRules<'_>,
) -> Result<[PathBuf; 5]> {
    fsutil::create_output_dir(dir, rules)?;
    let paths = created_paths(dir, bundle_id, env);
    let [key_p, csr_p, cert_p, p12_p, ck_p] = &paths;
    for p in [csr_p, cert_p] {
        fsutil::check_output(p, rules)?;
    }
    for p in [key_p, p12_p, ck_p] {
        fsutil::check_secret_output(p, rules)?;
    }
    Ok(paths)
}

/// Writes what `cert create` made to `paths` ([`created_paths`]), all or
/// nothing (the certificate is already recorded), and returns its document.
pub fn write_created(
    m: &CreatedMaterial,
    bundle_id: &str,
    env: PushEnvironment,
    paths: &[PathBuf; 5],
    protection: &super::convert::Protection,
    rules: &OutputRules<'_>,
) -> Result<CreateView> {
    let [key_p, csr_p, cert_p, p12_p, ck_p] = paths;
    let c = &m.issued.cert;
    let mut batch = AtomicBatch::new();
    let cert_pem = crate::pem::encode("CERTIFICATE", &c.der);
    let staged = batch
        .add_output(key_p, m.key_pem.as_bytes(), fsutil::MODE_SECRET, rules)
        .and_then(|()| batch.add_output(csr_p, m.csr_pem.as_bytes(), MODE_PUBLIC, rules))
        .and_then(|()| match &m.issued.out {
            // Written by the issuance itself.
            Some(Sink::File(p)) if p == cert_p => Ok(()),
            _ => batch.add_output(cert_p, cert_pem.as_bytes(), MODE_PUBLIC, rules),
        })
        .and_then(|()| batch.add_output(p12_p, &m.p12, fsutil::MODE_SECRET, rules))
        .and_then(|()| batch.add_output(ck_p, m.ck_pem.as_bytes(), fsutil::MODE_SECRET, rules));
    staged
        .and_then(|()| batch.commit())
        .map_err(|source| OpsError::IssuedNotWritten {
            count: 1,
            serials: vec![c.serial.clone()],
            source,
        })?;
    Ok(CreateView::Created(CertCreated {
        renewed: true,
        serial: c.serial.clone(),
        sha256: c.sha256.clone(),
        bundle_id: bundle_id.to_string(),
        environment: env.name(),
        not_after: c.not_after.unix_timestamp(),
        key: key_p.clone(),
        csr: csr_p.clone(),
        certificate: cert_p.clone(),
        p12: p12_p.clone(),
        ck: ck_p.clone(),
        encrypted: matches!(protection, super::convert::Protection::Password(_)),
    }))
}

/// The new key of `cert create` and its CSR (client mode: made on the
/// runner, so that the key never leaves it).
pub struct NewPushKey {
    key: crate::keys::PrivateKey,
    csr_der: Vec<u8>,
    csr: ca::CheckedCsr,
}

impl NewPushKey {
    /// A new key of `key_type` and a CSR for `bundle_id`; `csr_name` names
    /// the CSR in messages.
    pub fn generate(
        bundle_id: &str,
        key_type: crate::keys::KeyType,
        csr_name: &Path,
    ) -> Result<NewPushKey> {
        let key = crate::keys::PrivateKey::generate(key_type)?;
        let csr_err = |source| OpsError::Csr {
            path: csr_name.to_path_buf(),
            source,
        };
        let csr_der =
            ca::csr::make_csr(&key, &format!("{bundle_id} push"), None).map_err(csr_err)?;
        let csr = ca::check_csr(&csr_der).map_err(csr_err)?;
        Ok(NewPushKey { key, csr_der, csr })
    }

    /// The CSR, PEM.
    pub fn csr_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE REQUEST", &self.csr_der)
    }

    /// The key, CSR, `.p12` (with the CA certificates `cas`) and `ck.pem`
    /// for `issued`, the certificate signed for this key.
    pub fn material(
        self,
        issued: Issued,
        cas: Vec<Vec<u8>>,
        protection: &super::convert::Protection,
        p12_name: &Path,
    ) -> Result<CreatedMaterial> {
        let key_pem = super::convert::key_pem(&self.key, protection)?;
        let (p12, _, _) = super::convert::p12_bytes(
            &issued.cert.der,
            cas,
            self.key.clone(),
            crate::certfile::common_name(&issued.cert.der),
            protection,
            false,
            p12_name,
        )?;
        let ck_pem = super::convert::ck_pem(&[&issued.cert.der], &self.key);
        Ok(CreatedMaterial {
            issued,
            key_pem,
            csr_pem: self.csr_pem(),
            p12: zeroize::Zeroizing::new(p12),
            ck_pem,
        })
    }
}

/// `cert create`: a new key and CSR, the push certificate, a `.p12` (the key
/// protected like the key file) and `ck.pem` in `dir`, in one step; with
/// `renew_within`, only when the newest valid certificate expires within
/// that many days. Everything is checked before the CA is unlocked; the
/// certificate is recorded before any file is written.
#[allow(clippy::too_many_arguments)]
pub fn create(
    home: &Home,
    bundle_id: &str,
    env: PushEnvironment,
    dir: &Path,
    key_type: crate::keys::KeyType,
    protection: &super::convert::Protection,
    renew_within: Option<u32>,
    force: bool,
    ca_pass: impl FnOnce() -> Result<Secret>,
) -> Result<Created> {
    let rules = OutputRules {
        force,
        home: Some(home.root()),
    };
    let [key_p, csr_p, cert_p, p12_p, ck_p] = check_created_paths(dir, bundle_id, env, &rules)?;
    let made = make_created(
        home,
        &CreateParams {
            bundle_id,
            env,
            key_type,
            protection,
            renew_within,
            cert_out: Sink::File(cert_p.clone()),
            force,
            csr_name: &csr_p,
            p12_name: &p12_p,
        },
        |prepared| prepared.issue(&ca_pass()?),
    )?;
    let m = match made {
        Err(not_renewed) => {
            return Ok(Created {
                issued: None,
                view: CreateView::NotRenewed(not_renewed),
                key: key_p,
                csr: csr_p,
                p12: p12_p,
                ck: ck_p,
            })
        }
        Ok(m) => m,
    };
    let paths = [
        key_p.clone(),
        csr_p.clone(),
        cert_p.clone(),
        p12_p.clone(),
        ck_p.clone(),
    ];
    let view = write_created(&m, bundle_id, env, &paths, protection, &rules)?;
    let issued = m.issued;
    Ok(Created {
        issued: Some(issued),
        view,
        key: key_p,
        csr: csr_p,
        p12: p12_p,
        ck: ck_p,
    })
}

/// What `cert create` makes, before anything is written: a new key and
/// CSR, the certificate (recorded), a `.p12` and `ck.pem`.
pub struct CreatedMaterial {
    /// The certificate, recorded in the store.
    pub issued: Issued,
    /// The private key, PKCS#8 PEM (encrypted when a password was given).
    pub key_pem: zeroize::Zeroizing<String>,
    /// The CSR, PEM.
    pub csr_pem: String,
    /// The PKCS#12 file.
    pub p12: zeroize::Zeroizing<Vec<u8>>,
    /// The certificate and its key (unencrypted) in one PEM, as push
    /// providers load it.
    pub ck_pem: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for CreatedMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CreatedMaterial({})", self.issued.cert.serial)
    }
}

/// What [`make_created`] makes, and how the certificate is issued.
struct CreateParams<'a> {
    bundle_id: &'a str,
    env: PushEnvironment,
    key_type: crate::keys::KeyType,
    protection: &'a super::convert::Protection,
    renew_within: Option<u32>,
    cert_out: Sink,
    force: bool,
    /// How the CSR and .p12 are named in messages.
    csr_name: &'a Path,
    p12_name: &'a Path,
}

/// A new key and CSR, the certificate issued by `issue` (recorded, and
/// written to `cert_out`), the `.p12` and `ck.pem` in memory; with
/// `renew_within`, `Err(NotRenewed)` when the newest valid certificate is
/// still good.
fn make_created(
    home: &Home,
    p: &CreateParams<'_>,
    issue: impl FnOnce(PreparedIssue<'_>) -> Result<IssueOutcome>,
) -> Result<Result<CreatedMaterial, NotRenewed>> {
    let mut st = open_store(home)?;
    let app = st.read(|tx| portal::get_app(tx, p.bundle_id))?;
    check_push_app(&app)?;
    let new_key = NewPushKey::generate(p.bundle_id, p.key_type, p.csr_name)?;
    let mut prepared = PreparedIssue {
        home,
        app,
        env: p.env,
        csrs: vec![new_key.csr.clone()],
        warnings: Vec::new(),
        outputs: vec![p.cert_out.clone()],
        bundle: None,
        format: CertFormat::Pem,
        force: p.force,
        renew_within: None,
    };
    if let Some(d) = p.renew_within {
        prepared = prepared.only_if_due(d);
        if let Err(nd) = prepared.due()? {
            return Ok(Err(nd.view(d, now().unix_timestamp())));
        }
    }
    let mut outcome = issue(prepared)?;
    let issued = outcome.issued.remove(0);
    // The certificate is recorded (and written); now the key material.
    let cas = ca_chain(home);
    Ok(Ok(new_key.material(
        issued,
        cas,
        p.protection,
        p.p12_name,
    )?))
}

/// The CA certificates a `.p12` of `cert create` carries (issuing CA, then
/// root; none when the home's chain cannot be read).
pub fn ca_chain(home: &Home) -> Vec<Vec<u8>> {
    home.ca_files()
        .chain_pem()
        .and_then(|bytes| crate::certfile::read_certificates(&bytes).ok())
        .unwrap_or_default()
}

/// `cert create` with the CA unlocked once (`pushca serve`): nothing is
/// written, everything is returned in [`CreatedMaterial`] (the certificate
/// recorded first); messages name the files `<bundle>-<env>.csr` / `.p12`.
pub fn create_unlocked(
    home: &Home,
    bundle_id: &str,
    env: PushEnvironment,
    key_type: crate::keys::KeyType,
    protection: &super::convert::Protection,
    renew_within: Option<u32>,
    ca: &super::UnlockedCa,
) -> Result<Result<CreatedMaterial, NotRenewed>> {
    let [_, csr_p, _, p12_p, _] = created_paths(Path::new(""), bundle_id, env);
    make_created(
        home,
        &CreateParams {
            bundle_id,
            env,
            key_type,
            protection,
            renew_within,
            cert_out: Sink::Return,
            force: false,
            csr_name: &csr_p,
            p12_name: &p12_p,
        },
        |prepared| prepared.issue_unlocked(ca),
    )
}

impl PreparedIssue<'_> {
    /// Makes this a renewal: nothing is issued when the newest valid
    /// certificate of the App ID and environment expires after `days`.
    pub(crate) fn only_if_due(mut self, days: u32) -> Self {
        self.renew_within = Some(i64::from(days) * crate::timeutil::SECS_PER_DAY);
        self
    }

    /// Whether a renewal is due now (read-only; the issuing transaction
    /// checks again). `Err(NotDue)` carries the certificate that is still good.
    pub(crate) fn due(&self) -> Result<Result<(), NotDue>> {
        let Some(within) = self.renew_within else {
            return Ok(Ok(()));
        };
        let mut st = open_store(self.home)?;
        let t = now().unix_timestamp();
        let newest = st.read(|tx| newest_valid(tx, &self.app.bundle_id, self.env, t))?;
        Ok(match newest {
            Some(c) if c.not_after - t > within => Err(NotDue { newest: c }),
            _ => Ok(()),
        })
    }

    /// Unlocks the issuing CA with `pass`, signs (on all cores, holding no
    /// store lock), records every certificate in one short write transaction,
    /// then writes the files.
    pub fn issue(self, pass: &Secret) -> Result<IssueOutcome> {
        self.issue_with_progress(pass, &|| {})
    }

    /// [`PreparedIssue::issue`], calling `tick` (from several threads) once
    /// per certificate signed.
    pub fn issue_with_progress(
        self,
        pass: &Secret,
        tick: &(dyn Fn() + Sync),
    ) -> Result<IssueOutcome> {
        let ca = IssuingCa::unlock_issuing(&self.home.ca_files(), pass)?;
        self.issue_signed(&ca, tick)
    }

    /// [`PreparedIssue::issue`] with the CA unlocked once (`pushca serve`).
    pub fn issue_unlocked(self, ca: &super::UnlockedCa) -> Result<IssueOutcome> {
        self.issue_signed(&ca.issuing, &|| {})
    }

    fn issue_signed(self, ca: &IssuingCa, tick: &(dyn Fn() + Sync)) -> Result<IssueOutcome> {
        let home = self.home;
        let rules = OutputRules {
            force: self.force,
            home: Some(home.root()),
        };
        let template = templates::load_push(Some(&home.templates()), self.env)?;
        let now = now();
        let mut st = open_store(home)?;
        let renew_within = self.renew_within;
        // What the certificates say, and whether they are due, as the store
        // holds it now (a read: no lock is held while signing).
        let subject_now = |tx: &crate::store::Tx<'_>| -> Result<SubjectParts> {
            // Re-read the App ID: it may have changed since `prepare_issue`.
            let app = portal::get_app(tx, &self.app.bundle_id)?;
            check_push_app(&app)?;
            if let Some(within) = renew_within {
                let t = now.unix_timestamp();
                if let Some(c) = newest_valid(tx, &app.bundle_id, self.env, t)? {
                    if c.not_after - t > within {
                        // Another job renewed first: nothing to do.
                        return Err(OpsError::RenewedMeanwhile(c.serial));
                    }
                }
            }
            let team = portal::resolve_team(tx, Some(&app.team_id))?;
            let country = tx
                .setting(super::init::SETTING_COUNTRY)?
                .unwrap_or_else(|| "US".into());
            Ok(SubjectParts { app, team, country })
        };
        let parts = st.read(subject_now)?;
        let (app, team) = (&parts.app, &parts.team);
        let subject = PushSubject {
            bundle_id: &app.bundle_id,
            team_id: &team.team_id,
            team_name: &team.name,
            country: &parts.country,
        };
        // Signing is the CPU work of a batch: on all cores, results in CSR
        // order, outside any store transaction (a revocation or another
        // issuance goes on meanwhile). Each certificate draws its own serial
        // from the OS CSPRNG (no generator state shared or copied between
        // threads); the store's primary key on the serial stays the backstop.
        let mut issued = par::try_map_ordered(
            &self.csrs,
            par::threads(),
            |csr| {
                let cert = ca.issue_push_certificate(&template, &subject, csr, now)?;
                tick();
                Ok(cert)
            },
            || OpsError::WorkerPanicked("signing certificates"),
        )?;
        // One short write transaction: the same checks again (a concurrent
        // renewal, a disabled App ID), then the records. On any error nothing
        // is recorded and no file is written: the signed certificates never
        // leave this process. A serial the store already holds (the primary
        // key refuses it) is drawn again: that certificate is signed anew and
        // the whole transaction runs again (on PostgreSQL the failed insert
        // ended the transaction, so it is never continued).
        let mut redrawn = 0;
        loop {
            let done = st.write(|tx| -> Result<()> {
                if !subject_now(tx)?.same_subject(&parts) {
                    return Err(OpsError::ChangedWhileSigning(app.bundle_id.clone()));
                }
                for (cert, csr) in issued.iter().zip(&self.csrs) {
                    tx.insert_certificate(&super::issued_record(
                        cert,
                        &super::IssuedFor {
                            kind: CertRecord::PUSH,
                            bundle_id: &app.bundle_id,
                            team_id: &team.team_id,
                            environment: self.env.name(),
                        },
                        csr.algorithm.id(),
                        now,
                    ))?;
                }
                Ok(())
            });
            match done {
                Err(OpsError::Store(crate::store::StoreError::DuplicateSerial(serial)))
                    if redrawn < SERIAL_REDRAWS =>
                {
                    redrawn += 1;
                    for (cert, csr) in issued.iter_mut().zip(&self.csrs) {
                        if cert.serial == serial {
                            *cert = ca.issue_push_certificate(&template, &subject, csr, now)?;
                        }
                    }
                }
                other => break other?,
            }
        }
        // Committed: from here on every certificate is known to the store.
        let ders: Vec<&[u8]> = issued.iter().map(|c| c.der.as_slice()).collect();
        let written = write_issued(
            &ders,
            &self.outputs,
            self.bundle.as_ref(),
            self.format,
            &rules,
        );
        let returned = match written {
            Ok(r) => r,
            Err(source) => {
                return Err(OpsError::IssuedNotWritten {
                    count: issued.len(),
                    serials: issued.iter().map(|c| c.serial.clone()).collect(),
                    source,
                })
            }
        };
        // One path per certificate, or none (bundle only).
        let mut paths = self.outputs.into_iter();
        Ok(IssueOutcome {
            app: parts.app,
            env: self.env,
            issued: issued
                .into_iter()
                .map(|cert| {
                    let out = paths.next();
                    Issued {
                        cert,
                        path: out.as_ref().and_then(Sink::path).map(Path::to_path_buf),
                        out,
                    }
                })
                .collect(),
            bundle: self.bundle,
            warnings: self.warnings,
            returned,
        })
    }
}

/// `cert renew` when a certificate was issued.
#[derive(Debug, Clone, Serialize)]
pub struct Renewed {
    /// Always true.
    pub renewed: bool,
    /// The new certificate (serial, lowercase hex).
    pub serial: String,
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
    /// The App ID.
    pub bundle_id: String,
    /// `development`, `production` or `universal`.
    pub environment: &'static str,
    /// End of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// Where it was written (file name, or `-`).
    pub out: Option<Sink>,
}

/// The document of `cert renew`: the new certificate, or the one still good.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Renewal {
    /// A certificate was issued.
    Renewed(Renewed),
    /// Not due: the newest certificate is still good.
    NotRenewed(NotRenewed),
}

/// What `cert renew` did.
#[derive(Debug)]
pub struct RenewOutcome {
    /// Its document.
    pub view: Renewal,
    /// One line each (e.g. a CSR signed with SHA-1), for the user.
    pub warnings: Vec<String>,
    /// The certificate, when it went to [`Sink::Return`].
    pub returned: Option<Returned>,
}

/// What `cert renew` renews: one CSR, one output (replaced when a
/// certificate is issued).
pub struct RenewRequest<'a> {
    /// The App ID (bundle ID).
    pub bundle_id: &'a str,
    /// The push environment.
    pub env: PushEnvironment,
    /// The CSR to sign when a renewal is due.
    pub csr: Source,
    /// [`IssueOutput::File`] or [`IssueOutput::Return`].
    pub output: IssueOutput,
    /// Renew when the newest valid certificate expires within this many days.
    pub within: u32,
    /// Format of the certificate written.
    pub format: CertFormat,
}

/// `cert renew`: issues a certificate only when the newest valid one of the
/// App ID and environment expires within `within` days (or there is none).
/// The CA passphrase is asked for (`ca_pass`) only when one is due; a
/// renewal by a concurrent run is reported as not due.
pub fn renew(
    home: &Home,
    req: &RenewRequest<'_>,
    ca_pass: impl FnOnce() -> Result<Secret>,
) -> Result<RenewOutcome> {
    renew_with(home, req, |prepared| prepared.issue(&ca_pass()?))
}

/// [`renew`] with the CA unlocked once (`pushca serve`).
pub fn renew_unlocked(
    home: &Home,
    req: &RenewRequest<'_>,
    ca: &super::UnlockedCa,
) -> Result<RenewOutcome> {
    renew_with(home, req, |prepared| prepared.issue_unlocked(ca))
}

/// [`renew`], `issue` signing (and recording) when one is due.
fn renew_with(
    home: &Home,
    req: &RenewRequest<'_>,
    sign: impl FnOnce(PreparedIssue<'_>) -> Result<IssueOutcome>,
) -> Result<RenewOutcome> {
    let csrs = [req.csr.clone()];
    let issue = IssueRequest {
        bundle_id: req.bundle_id,
        env: req.env,
        csr_files: &csrs,
        output: Some(req.output.clone()),
        bundle: None,
        format: req.format,
        // A renewal replaces its output by design.
        force: true,
    };
    let not_renewed = |nd: NotDue| RenewOutcome {
        view: Renewal::NotRenewed(nd.view(req.within, now().unix_timestamp())),
        warnings: Vec::new(),
        returned: None,
    };
    let prepared = prepare_issue(home, &issue, &|| {})?.only_if_due(req.within);
    // Not due: no passphrase needed, nothing written.
    if let Err(nd) = prepared.due()? {
        return Ok(not_renewed(nd));
    }
    let outcome = match sign(prepared) {
        Err(OpsError::RenewedMeanwhile(serial)) => {
            let mut st = open_store(home)?;
            let t = now().unix_timestamp();
            let newest = st
                .read(|tx| newest_valid(tx, req.bundle_id, req.env, t))?
                .ok_or(OpsError::RenewedMeanwhile(serial))?;
            return Ok(not_renewed(NotDue { newest }));
        }
        other => other?,
    };
    let c = (outcome.view().certificates.into_iter().next()).ok_or(OpsError::NoIssueOutput)?;
    Ok(RenewOutcome {
        view: Renewal::Renewed(Renewed {
            renewed: true,
            serial: c.serial,
            sha256: c.sha256,
            bundle_id: c.bundle_id,
            environment: c.environment,
            not_after: c.not_after,
            out: c.out,
        }),
        warnings: outcome.warnings,
        returned: outcome.returned,
    })
}

/// The PEM bundle of a batch: one `CERTIFICATE` block per certificate, in order.
fn bundle_pem(issued: &[&[u8]]) -> String {
    issued
        .iter()
        .map(|der| crate::pem::encode("CERTIFICATE", der))
        .collect()
}

/// Writes the files of a batch, all or nothing: a file per certificate
/// (`outputs`, one per certificate or none) and the bundle.
fn write_issued(
    issued: &[&[u8]],
    outputs: &[Sink],
    bundle: Option<&Sink>,
    format: CertFormat,
    rules: &OutputRules<'_>,
) -> Result<Option<Returned>, fsutil::FsError> {
    let mut batch = if outputs.len() > 8 {
        AtomicBatch::for_many()
    } else {
        AtomicBatch::new()
    };
    for (der, sink) in issued.iter().zip(outputs) {
        batch.add_sink(sink, &format.encode(der), MODE_PUBLIC, rules)?;
    }
    if let Some(sink) = bundle {
        batch.add_sink(sink, bundle_pem(issued).as_bytes(), MODE_PUBLIC, rules)?;
    }
    batch.commit_returning()
}

/// `cert list`: the certificates; with `--expiring-within`, the window and
/// how many expire in it.
#[derive(Debug, Clone, Serialize)]
pub struct CertList {
    /// The certificates, soonest to expire first.
    pub certificates: Vec<view::Cert>,
    /// The window asked for, in days (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiring_within: Option<u32>,
    /// How many certificates expire in it (absent without a window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiring: Option<usize>,
}

/// `cert list`: certificates of the store, optionally of one App ID and/or
/// expiring within `within_days` (then the document says how many).
pub fn list_view(
    home: &Home,
    bundle_id: Option<&str>,
    within_days: Option<u32>,
) -> Result<CertList> {
    let t = now().unix_timestamp();
    let rows = list(home, bundle_id, within_days)?;
    Ok(CertList {
        expiring_within: within_days,
        expiring: within_days.map(|_| rows.len()),
        certificates: rows.iter().map(|r| view::Cert::new(r, t)).collect(),
    })
}

/// Certificates of the store, optionally of one App ID and/or expiring before
/// `now + within_days`.
pub(crate) fn list(
    home: &Home,
    bundle_id: Option<&str>,
    within_days: Option<u32>,
) -> Result<Vec<CertRecord>> {
    let mut st = open_store(home)?;
    let expiring_before =
        within_days.map(|d| now().unix_timestamp() + i64::from(d) * crate::timeutil::SECS_PER_DAY);
    Ok(st.read(|tx| {
        if let Some(app) = bundle_id {
            portal::get_app(tx, app)?;
        }
        Ok::<_, portal::PortalError>(tx.list_certificates(&CertFilter {
            bundle_id,
            environment: None,
            expiring_before,
        })?)
    })?)
}

/// A certificate to show: from a file, or from the store by serial.
pub struct Shown {
    /// The store's record, when the certificate came from the store.
    pub record: Option<CertRecord>,
    /// Its document.
    pub view: CertShown,
}

/// `cert show`: what a certificate says (+ `revoked` for one from the
/// store, + `pem` when asked for).
#[derive(Debug, Clone, Serialize)]
pub struct CertShown {
    /// Subject DN, one line.
    pub subject: String,
    /// Issuer DN, one line.
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// The push environments its extensions grant.
    pub environments: Vec<crate::x509ext::Environment>,
    /// The push topics it carries.
    pub topics: Vec<String>,
    /// The App ID it is for, when it says.
    pub bundle_id: Option<String>,
    /// Start of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_before: i64,
    /// End of validity (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// Whole days until `not_after`, negative once past.
    pub days_left: i64,
    /// `days_left` is negative.
    pub expired: bool,
    /// Key type, `--key-type` vocabulary.
    pub public_key: String,
    /// Extended key usages by name (`clientAuth`, ...).
    pub extended_key_usage: Vec<String>,
    /// Whether it is a CA certificate.
    pub is_ca: bool,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Whether it is revoked (only for a certificate from the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    /// The certificate in PEM (only when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
}

impl CertShown {
    /// The document of `s` at `now`; `record` when it came from the store,
    /// `pem` when the PEM is asked for.
    pub(crate) fn new(
        s: &CertSummary,
        record: Option<&CertRecord>,
        pem: Option<String>,
        now: i64,
    ) -> Self {
        let days = days_left(s.not_after, now);
        CertShown {
            subject: s.subject.clone(),
            issuer: s.issuer.clone(),
            serial: s.serial.clone(),
            environments: s.environments.clone(),
            topics: s.topics.clone(),
            bundle_id: s.bundle_id.clone(),
            not_before: s.not_before,
            not_after: s.not_after,
            days_left: days,
            expired: days < 0,
            public_key: s.public_key.clone(),
            extended_key_usage: s.extended_key_usage.clone(),
            is_ca: s.is_ca,
            sha256: s.sha256.clone(),
            revoked: record.map(|r| r.revoked_at.is_some()),
            pem,
        }
    }
}

fn looks_like_serial(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
}

/// What `cert show` is asked about.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum ShowTarget {
    /// A certificate file (PEM or DER), or bytes holding one.
    Source(Source),
    /// A file path or a serial (hex, colons allowed, or a unique prefix of
    /// 8+ digits) of the store: a file when one exists or it cannot be a serial.
    Named(String),
}

impl ShowTarget {
    /// Whether this names a serial of the store (not a file): what
    /// [`show`] looks up in the store.
    pub fn is_serial(&self) -> bool {
        match self {
            ShowTarget::Source(_) => false,
            ShowTarget::Named(name) => !Path::new(name).exists() && looks_like_serial(name),
        }
    }
}

/// `cert show`: a certificate from a file or the bytes given, or from the
/// store of `home` by serial; with `pem`, its PEM in the document too.
pub fn show(home: impl FnOnce() -> Result<Home>, target: &ShowTarget, pem: bool) -> Result<Shown> {
    let from_source = |input: &Source| -> Result<Vec<u8>> {
        let bytes = input.read()?;
        Ok(crate::certfile::read_certificates(&bytes)
            .map_err(|source| OpsError::CertFile {
                path: input.name().to_path_buf(),
                source,
            })?
            .into_iter()
            .next()
            .unwrap_or_default())
    };
    let (der, record) = match target {
        ShowTarget::Source(input) => (from_source(input)?, None),
        ShowTarget::Named(name) if Path::new(name).exists() || !looks_like_serial(name) => {
            (from_source(&Source::File(PathBuf::from(name)))?, None)
        }
        ShowTarget::Named(serial) => {
            let home = home()?;
            let rec = find(&home, serial)?;
            (rec.der.clone(), Some(rec))
        }
    };
    let summary = CertSummary::from_der(&der).map_err(crate::ca::CaError::from)?;
    let pem = pem.then(|| crate::pem::encode("CERTIFICATE", &der));
    let view = CertShown::new(&summary, record.as_ref(), pem, now().unix_timestamp());
    Ok(Shown { record, view })
}

/// `cert show SERIAL` from the store only (never a file: a service shows
/// what its store holds): the serial as hex, colons allowed, or a unique
/// prefix of 8+ digits.
pub fn show_serial(home: &Home, serial: &str, pem: bool) -> Result<Shown> {
    let rec = find(home, serial)?;
    let summary = CertSummary::from_der(&rec.der).map_err(crate::ca::CaError::from)?;
    let pem = pem.then(|| crate::pem::encode("CERTIFICATE", &rec.der));
    let view = CertShown::new(&summary, Some(&rec), pem, now().unix_timestamp());
    Ok(Shown {
        record: Some(rec),
        view,
    })
}

fn find(home: &Home, serial: &str) -> Result<CertRecord> {
    let mut st = open_store(home)?;
    st.read(|tx| tx.find_certificate(serial))?
        .ok_or_else(|| OpsError::UnknownSerial(serial.to_string()))
}

/// `cert export`: the certificate written.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// The App ID.
    pub bundle_id: String,
    /// `development`, `production` or `universal`.
    pub environment: String,
    /// Where it was written (file name, or `-`).
    pub out: Sink,
    /// The bytes, when written to [`Sink::Return`] (not in the document).
    #[serde(skip)]
    pub returned: Option<Returned>,
}

/// Writes a certificate (DER) to `out` in `format`, as `cert export` does
/// (client mode: one the service returned).
pub fn write_export(
    out: &Sink,
    format: CertFormat,
    der: &[u8],
    rules: &OutputRules<'_>,
) -> Result<Option<Returned>> {
    Ok(fsutil::write_sink(
        out,
        &format.encode(der),
        MODE_PUBLIC,
        rules,
    )?)
}

/// Writes an issued certificate from the store to `out` (recovers a
/// certificate whose file was never written).
pub fn export(
    home: &Home,
    serial: &str,
    out: &Sink,
    format: CertFormat,
    rules: &OutputRules<'_>,
) -> Result<Exported> {
    fsutil::check_sink(out, rules)?;
    let rec = find(home, serial)?;
    let returned = write_export(out, format, &rec.der, rules)?;
    Ok(Exported {
        serial: rec.serial,
        sha256: rec.sha256,
        bundle_id: rec.bundle_id,
        environment: rec.environment,
        out: out.clone(),
        returned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlgorithm, KeyType, PrivateKey};

    fn csr_file(dir: &Path, name: &str) -> PathBuf {
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let der = crate::ca::csr::make_csr(&key, "t", None).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, crate::pem::encode("CERTIFICATE REQUEST", &der)).unwrap();
        p
    }

    /// A failure in the middle of a batch, inside the transaction (the second
    /// certificate cannot be signed), leaves the store as it was and writes nothing.
    #[test]
    fn a_failure_inside_the_issuing_transaction_leaves_the_store_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (home, pass) = home_with_app(dir.path());
        let files = [
            Source::File(csr_file(dir.path(), "a.csr")),
            Source::File(csr_file(dir.path(), "b.csr")),
        ];
        let out = dir.path().join("out");
        let bundle = dir.path().join("bundle.pem");
        let req = IssueRequest {
            bundle_id: "com.x.app",
            env: PushEnvironment::Development,
            csr_files: &files,
            output: Some(IssueOutput::Dir(out.clone())),
            bundle: Some(Sink::File(bundle.clone())),
            format: CertFormat::Pem,
            force: false,
        };
        let mut prepared = prepare_issue(&home, &req, &|| {}).unwrap();
        // Inject the failure: a CSR whose public key cannot be used.
        prepared.csrs[1] = CheckedCsr {
            spki_der: vec![0x30, 0x03, 0x02, 0x01, 0x00],
            algorithm: KeyAlgorithm::EcP256,
            requested_subject: String::new(),
            warnings: Vec::new(),
        };
        assert!(prepared.issue(&pass).is_err());
        assert!(
            list(&home, None, None).unwrap().is_empty(),
            "nothing recorded"
        );
        assert_eq!(
            std::fs::read_dir(&out).unwrap().count(),
            0,
            "nothing written"
        );
        assert!(!bundle.exists(), "no bundle");
        // The same batch without the injected failure goes through.
        let prepared = prepare_issue(&home, &req, &|| {}).unwrap();
        let outcome = prepared.issue(&pass).unwrap();
        assert_eq!(outcome.issued.len(), 2);
        assert_eq!(list(&home, None, None).unwrap().len(), 2);
        let ders: Vec<_> = outcome.issued.iter().map(|i| i.cert.der.clone()).collect();
        let bundled = crate::certfile::read_certificates(&std::fs::read(&bundle).unwrap()).unwrap();
        assert_eq!(bundled, ders, "the bundle holds the batch in CSR order");
    }

    /// `cert show`'s document: `expired` once a day has passed (as the text
    /// says "expired N days ago"), `revoked` only for a store record, `pem`
    /// only when asked; a renewal not due says how long the newest has left.
    #[test]
    fn the_documents_of_show_and_renew() {
        let dir = tempfile::tempdir().unwrap();
        let (home, pass) = home_with_app(dir.path());
        let csr = Source::File(csr_file(dir.path(), "a.csr"));
        let out = renew(
            &home,
            &RenewRequest {
                bundle_id: "com.x.app",
                env: PushEnvironment::Production,
                csr: csr.clone(),
                output: IssueOutput::Return,
                within: 30,
                format: CertFormat::Pem,
            },
            || Ok(pass.clone()),
        )
        .unwrap();
        let Renewal::Renewed(r) = &out.view else {
            panic!("due: nothing yet")
        };
        assert_eq!(r.out, Some(Sink::Return));
        let pem = out.returned.expect("the certificate comes back");
        let der = crate::certfile::read_certificates(pem.as_bytes())
            .unwrap()
            .remove(0);
        let s = CertSummary::from_der(&der).unwrap();
        let v = CertShown::new(&s, None, None, s.not_after);
        assert_eq!((v.days_left, v.expired), (0, false));
        let v = CertShown::new(&s, None, None, s.not_after + 1);
        assert_eq!((v.days_left, v.expired), (-1, true));
        let doc = serde_json::to_value(&v).unwrap();
        assert!(
            doc.get("revoked").is_none() && doc.get("pem").is_none(),
            "{doc}"
        );
        let rec = list(&home, None, None).unwrap().remove(0);
        let v = CertShown::new(&s, Some(&rec), Some("PEM".into()), s.not_before);
        let doc = serde_json::to_value(&v).unwrap();
        assert_eq!(
            (doc["revoked"].clone(), doc["pem"].clone()),
            (false.into(), "PEM".into())
        );
        let nd = NotDue {
            newest: rec.clone(),
        }
        .view(30, rec.not_after - crate::timeutil::SECS_PER_DAY * 40 - 1);
        assert_eq!((nd.renewed, nd.days_left, nd.within), (false, 40, 30));
    }

    fn home_with_app(dir: &Path) -> (Home, Secret) {
        home_with_app_in(Home::new(dir.join("home")))
    }

    fn home_with_app_in(home: Home) -> (Home, Secret) {
        let pass = Secret::new("a long CA passphrase");
        crate::ops::init::init_home(
            &home,
            &crate::ops::init::InitRequest {
                team_name: "T",
                team_id: None,
                country: "US",
                key_type: KeyType::EcP256,
            },
            &pass,
            now(),
        )
        .unwrap();
        crate::ops::portal::create_app(&home, &portal::NewApp::new("com.x.app", true)).unwrap();
        (home, pass)
    }

    /// A serial the store already holds (drawn again by chance) is refused by
    /// the primary key; that certificate is signed again with a new serial
    /// and the transaction run again (on PostgreSQL a new one: the failed
    /// insert ended the first), so the issuance succeeds and records one
    /// certificate per CSR.
    fn a_serial_drawn_twice_is_drawn_again(home: Home, dir: &Path) {
        let (home, pass) = home_with_app_in(home);
        let issue_one = |name: &str| {
            let files = [Source::File(csr_file(dir, name))];
            let req = IssueRequest {
                bundle_id: "com.x.app",
                env: PushEnvironment::Development,
                csr_files: &files,
                output: Some(IssueOutput::Dir(dir.join(name).with_extension("out"))),
                bundle: None,
                format: CertFormat::Pem,
                force: false,
            };
            prepare_issue(&home, &req, &|| {})
                .unwrap()
                .issue(&pass)
                .map(|o| o.issued[0].cert.serial.clone())
        };
        let first = issue_one("a.csr").unwrap();
        crate::ca::serial::FORCED.with(|f| f.borrow_mut().push(hex::decode(&first).unwrap()));
        let second = issue_one("b.csr").unwrap();
        assert_ne!(first, second);
        let listed: Vec<String> = list(&home, None, None)
            .unwrap()
            .into_iter()
            .map(|c| c.serial)
            .collect();
        assert_eq!(listed.len(), 2);
        assert!(listed.contains(&first) && listed.contains(&second));
    }

    #[test]
    fn a_serial_drawn_twice_is_drawn_again_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        a_serial_drawn_twice_is_drawn_again(Home::new(dir.path().join("home")), dir.path());
    }

    #[test]
    fn a_serial_drawn_twice_is_drawn_again_on_postgres() {
        let dir = tempfile::tempdir().unwrap();
        let home =
            Home::new(dir.path().join("home")).with_store_url(crate::store::testdb::fresh_url());
        a_serial_drawn_twice_is_drawn_again(home, dir.path());
    }

    /// A batch checked and signed on several threads comes out in CSR order,
    /// with one progress tick per CSR and distinct serials; bundle only.
    #[test]
    fn a_parallel_batch_keeps_the_csr_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let (home, pass) = home_with_app(dir.path());
        let mut keys = Vec::new();
        let mut files = Vec::new();
        for i in 0..24 {
            let key = PrivateKey::generate(KeyType::EcP256).unwrap();
            let der = crate::ca::csr::make_csr(&key, "t", None).unwrap();
            let p = dir.path().join(format!("{i}.csr"));
            std::fs::write(&p, &der).unwrap();
            keys.push(ca::check_csr(&der).unwrap().spki_der);
            files.push(Source::File(p));
        }
        let bundle = dir.path().join("all.pem");
        let req = IssueRequest {
            bundle_id: "com.x.app",
            env: PushEnvironment::Production,
            csr_files: &files,
            output: None,
            bundle: Some(Sink::File(bundle.clone())),
            format: CertFormat::Pem,
            force: false,
        };
        let ticks = AtomicUsize::new(0);
        let prepared = prepare_issue(&home, &req, &|| {
            ticks.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(ticks.load(Ordering::Relaxed), files.len());
        let signed = AtomicUsize::new(0);
        let outcome = prepared
            .issue_with_progress(&pass, &|| {
                signed.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        assert_eq!(
            signed.load(Ordering::Relaxed),
            files.len(),
            "one tick per signature"
        );
        assert_eq!(outcome.bundle, Some(Sink::File(bundle.clone())));
        let bundled = crate::certfile::read_certificates(&std::fs::read(&bundle).unwrap()).unwrap();
        assert_eq!(bundled.len(), files.len());
        let mut serials = HashSet::new();
        for ((issued, der), key) in outcome.issued.iter().zip(&bundled).zip(&keys) {
            assert!(issued.path.is_none());
            assert_eq!(&issued.cert.der, der);
            let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
            assert_eq!(c.public_key().raw, key.as_slice());
            assert!(serials.insert(issued.cert.serial.clone()));
        }
        assert_eq!(list(&home, None, None).unwrap().len(), files.len());
        // Neither a file nor a bundle: refused before anything is read.
        let none = IssueRequest {
            output: None,
            bundle: None,
            ..req
        };
        assert!(matches!(
            prepare_issue(&home, &none, &|| {}),
            Err(OpsError::NoIssueOutput)
        ));
    }
}
