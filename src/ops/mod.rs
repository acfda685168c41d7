//! The application layer: one function per user-visible operation. Each opens
//! the store, runs the transaction, applies policy (passphrase rules, overwrite
//! rules, what goes into an output) and calls the domain modules. The CLI, the
//! wizard and any later server call these functions and nothing below them.

use std::path::PathBuf;

use crate::ca::{CaError, CsrError};
use crate::certfile::CertFileError;
use crate::fsutil::FsError;
use crate::home::{Home, HomeError};
use crate::keys::KeyError;
use crate::p12::P12Error;
use crate::portal::profile::ProfileError;
use crate::portal::PortalError;
use crate::secret::PassphraseError;
use crate::store::{Store, StoreError};
use crate::x509ext::Environment;

pub mod certs;
pub mod convert;
pub mod gateway;
pub mod identity;
pub mod init;
pub mod portal;
pub mod profiles;
pub mod revocation;
pub mod status;
pub mod view;

/// Everything an operation can fail with. Variants carry the file they are
/// about where there is one; [`OpsError::kind`] says what kind of failure it
/// is (delegating to the wrapped error where there is one).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Portal(#[from] PortalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
    /// Key generation or encryption (no input file involved).
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("{}: {source}", path.display())]
    Csr {
        path: PathBuf,
        #[source]
        source: CsrError,
    },
    #[error("{}", key_message(path, source))]
    Key {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
    #[error("{}", p12_message(path, source))]
    P12 {
        path: PathBuf,
        #[source]
        source: P12Error,
    },
    #[error("{}: {source}", path.display())]
    CertFile {
        path: PathBuf,
        #[source]
        source: CertFileError,
    },
    #[error("the key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("{}: no private key in the .p12", .0.display())]
    NoKeyInP12(PathBuf),
    #[error("{}: no certificate for the key in the .p12", .0.display())]
    NoLeafInP12(PathBuf),
    #[error("{} is already a pushca home ({} exists); refusing to overwrite it", home.display(), found.display())]
    AlreadyInitialized { home: PathBuf, found: PathBuf },
    #[error("another `pushca init` is running on {}", .0.display())]
    InitRunning(PathBuf),
    #[error("App ID {0} is disabled")]
    AppDisabled(String),
    #[error("App ID {0} or its team changed while its certificates were being signed; nothing was issued")]
    ChangedWhileSigning(String),
    #[error("App ID {0} does not have the push capability")]
    NoPush(String),
    #[error("App ID {0} is a wildcard; push certificates need an explicit App ID")]
    Wildcard(String),
    #[error("no certificate with serial {0} in the store")]
    UnknownSerial(String),
    #[error("no CA certificates (no pushca home with a CA, and {} holds only one certificate)", .0.display())]
    NoChain(PathBuf),
    #[error("{} was not issued by the CA certificates given ({})", leaf.display(), reason)]
    ChainMismatch { leaf: PathBuf, reason: &'static str },
    #[error("{count} certificate(s) were issued and recorded, but writing them failed: {source}")]
    IssuedNotWritten {
        count: usize,
        serials: Vec<String>,
        #[source]
        source: FsError,
    },
    #[error("no output for the certificates: no file, directory or bundle")]
    NoIssueOutput,
    #[error("internal error: a thread panicked while {0}")]
    WorkerPanicked(&'static str),
    #[error("an output file takes one CSR, got {0}")]
    OneOutputManyCsrs(usize),
    #[error("two CSRs would both be written to {}; give them different file names", .0.display())]
    DuplicateOutput(PathBuf),
    #[error("{} exists and is not a directory; refusing to replace it with a trust store", .0.display())]
    NotATrustStore(PathBuf),
    #[error("{} holds {found}, which is not a trust store's own file; refusing to publish there (only a trust store's own files are ever removed)", dir.display())]
    ForeignFilesInOut { dir: PathBuf, found: String },
    #[error("{} contains the pushca home {}; refusing to publish there", out.display(), home.display())]
    OutContainsHome { out: PathBuf, home: PathBuf },
    #[error("{} holds trust store version {found}, newer than this publish (version {ours}); refusing to replace it with an older one", out.display())]
    OlderThanPublished { out: PathBuf, found: u64, ours: u64 },
    #[error("{} holds CRL number {found}, newer than the one signed now ({ours}); refusing to replace it with an older one", out.display())]
    OlderCrl { out: PathBuf, found: i64, ours: i64 },
    #[error("{0}")]
    TrustStoreBuild(#[source] crate::error::BoxError),
    #[error("trust store does not verify: {0}")]
    TrustStore(#[source] crate::gateway::GatewayError),
    #[error("another run renewed the certificate meanwhile (serial {0})")]
    RenewedMeanwhile(String),
    #[error("'{0}' is not a revocation reason")]
    UnknownReason(String),
    #[error(
        "certificate {serial} expired on {not_after}; an expired certificate needs no revocation"
    )]
    RevokeExpired { serial: String, not_after: String },
    #[error("device {udid} cannot be provisioned for team {team_id}: {reason}")]
    DeviceNotUsable {
        udid: String,
        team_id: String,
        reason: &'static str,
    },
    #[error("a {} profile for {bundle_id} would provision no device (team {team_id} has no enabled device to list)", environment.name())]
    NoDevices {
        bundle_id: String,
        team_id: String,
        environment: Environment,
    },
    #[error("certificate {serial} cannot be authorised: {reason}")]
    CertNotUsable { serial: String, reason: String },
    #[error("a {} profile for {bundle_id} would authorise no push certificate (none is valid, unrevoked and for {})", environment.name(), environment.name())]
    NoCertificates {
        bundle_id: String,
        environment: Environment,
    },
    #[error("invalid profile name '{}': it must be 1-200 characters without control characters", .0.escape_default())]
    InvalidProfileName(String),
    #[error("a profile lives 1 to 3650 days, not {0}")]
    InvalidProfileDays(u32),
    #[error("no profile {0} in the store")]
    UnknownProfile(String),
    #[error("profile {uuid} was superseded by {by}; regenerate the current one")]
    ProfileSuperseded { uuid: String, by: String },
    #[error("no current profiles to regenerate")]
    NoProfiles,
    #[error("profile {0} was withdrawn; it is not current any more")]
    ProfileWithdrawn(String),
    #[error("profile {uuid} was superseded by {by}, which is the current one; withdraw that one")]
    WithdrawSuperseded { uuid: String, by: String },
    #[error("profile {uuid} cannot be regenerated: {source}")]
    CannotRegenerate {
        uuid: String,
        #[source]
        source: Box<OpsError>,
    },
    #[error("the profile cannot be signed: {0}")]
    ProfileBuild(#[source] ProfileError),
    #[error("{}: {source}", path.display())]
    Profile {
        path: PathBuf,
        #[source]
        source: ProfileError,
    },
    #[error("no CA to verify the profile against (no pushca home here)")]
    NoProfileAnchors,
    #[error("no root to verify the trust store against (no pushca home here)")]
    NoAnchor,
    #[error("the profile signer {serial} was revoked on {revoked_at}: nothing is signed with it any more")]
    ProfileSignerRevoked { serial: String, revoked_at: String },
    #[error("{} profile(s) were signed and recorded, but writing them failed: {source}", uuids.len())]
    ProfilesNotWritten {
        uuids: Vec<String>,
        #[source]
        source: FsError,
    },
    /// A DNS name or IP address that cannot go into a certificate.
    #[error(transparent)]
    Name(#[from] crate::ca::tls::NameError),
    /// A disabled device gets no identity certificate.
    #[error("device {udid} of team {team_id} is disabled; a disabled device gets no identity certificate")]
    DeviceDisabled { udid: String, team_id: String },
}

/// `PATH: reason`, but a wrong passphrase is said the way users expect.
fn key_message(path: &std::path::Path, e: &KeyError) -> String {
    match e {
        KeyError::WrongPassphrase => format!("wrong passphrase for {}", path.display()),
        e => format!("{}: {e}", path.display()),
    }
}

/// `PATH: reason`, but a wrong password is said the way users expect.
fn p12_message(path: &std::path::Path, e: &P12Error) -> String {
    match e {
        P12Error::WrongPasswordMac => format!(
            "wrong password for {} (MAC verification failed)",
            path.display()
        ),
        P12Error::WrongPasswordDecrypt => {
            format!("wrong password for {} (decryption failed)", path.display())
        }
        e => format!("{}: {e}", path.display()),
    }
}

impl OpsError {
    /// What kind of failure this is: an exhaustive decision without a
    /// wildcard arm; a variant that wraps another error asks that error.
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            OpsError::Ca(e) => e.kind(),
            OpsError::Portal(e) => e.kind(),
            OpsError::Store(e) => e.kind(),
            OpsError::Fs(e) => e.kind(),
            OpsError::Home(e) => e.kind(),
            OpsError::Passphrase(e) => e.kind(),
            OpsError::Keys(e) | OpsError::Key { source: e, .. } => e.kind(),
            OpsError::Csr { source, .. } => source.kind(),
            OpsError::P12 { source, .. } => source.kind(),
            OpsError::CertFile { source, .. } => source.kind(),
            OpsError::TrustStore(e) => e.kind(),
            OpsError::ProfileBuild(e) | OpsError::Profile { source: e, .. } => e.kind(),
            OpsError::CannotRegenerate { source, .. } => source.kind(),
            OpsError::Name(e) => e.kind(),
            OpsError::KeyMismatch { .. }
            | OpsError::NoKeyInP12(_)
            | OpsError::NoLeafInP12(_)
            | OpsError::NoChain(_)
            | OpsError::ChainMismatch { .. }
            | OpsError::InvalidProfileName(_)
            | OpsError::InvalidProfileDays(_) => ErrorKind::Input,
            OpsError::AlreadyInitialized { .. }
            | OpsError::InitRunning(_)
            | OpsError::ChangedWhileSigning(_)
            | OpsError::RenewedMeanwhile(_)
            | OpsError::NotATrustStore(_)
            | OpsError::ForeignFilesInOut { .. }
            | OpsError::OutContainsHome { .. }
            | OpsError::OlderThanPublished { .. }
            | OpsError::OlderCrl { .. }
            | OpsError::ProfileSuperseded { .. }
            | OpsError::ProfileWithdrawn(_)
            | OpsError::WithdrawSuperseded { .. } => ErrorKind::Conflict,
            OpsError::AppDisabled(_)
            | OpsError::NoPush(_)
            | OpsError::Wildcard(_)
            | OpsError::ProfileSignerRevoked { .. }
            | OpsError::RevokeExpired { .. }
            | OpsError::DeviceNotUsable { .. }
            | OpsError::NoDevices { .. }
            | OpsError::NoCertificates { .. }
            | OpsError::CertNotUsable { .. }
            | OpsError::DeviceDisabled { .. } => ErrorKind::Policy,
            OpsError::UnknownSerial(_) | OpsError::UnknownProfile(_) | OpsError::NoProfiles => {
                ErrorKind::NotFound
            }
            // Issued or signed and recorded, but not written: whatever the
            // write failed with, the files are what is missing.
            OpsError::IssuedNotWritten { .. } | OpsError::ProfilesNotWritten { .. } => {
                ErrorKind::Io
            }
            OpsError::OneOutputManyCsrs(_)
            | OpsError::DuplicateOutput(_)
            | OpsError::NoIssueOutput
            | OpsError::NoAnchor
            | OpsError::NoProfileAnchors
            | OpsError::UnknownReason(_) => ErrorKind::Usage,
            OpsError::WorkerPanicked(_) => ErrorKind::Internal,
            OpsError::TrustStoreBuild(_) => ErrorKind::Crypto,
        }
    }
}

pub type Result<T, E = OpsError> = std::result::Result<T, E>;

/// Opens the store of an initialised home, after checking that the home is
/// private (see [`Home::check_private`]).
pub fn open_store(home: &Home) -> Result<Store> {
    if home.is_initialized() {
        home.check_private()?;
    }
    Ok(Store::open(&home.db_path())?)
}

/// Held while something is published from the home (a CRL file, a trust
/// store): from signing the CRL to the last rename, so that concurrent
/// publishers finish in the order they signed (the newest CRL last). Other
/// commands (a revoke, an issue) never wait for it. Released when dropped.
pub(crate) struct PublishLock(std::fs::File);

impl PublishLock {
    pub(crate) fn acquire(home: &Home) -> Result<PublishLock> {
        let path = home.root().join("publish.lock");
        let f = crate::fsutil::open_lock_file(&path)?;
        fs4::fs_std::FileExt::lock_exclusive(&f).map_err(|e| FsError::Write {
            path,
            reason: format!("cannot lock: {e}"),
        })?;
        Ok(PublishLock(f))
    }
}

impl Drop for PublishLock {
    fn drop(&mut self) {
        let _ = fs4::fs_std::FileExt::unlock(&self.0);
    }
}

/// The root CA certificate of the home: the anchor its trust stores are
/// verified against.
pub fn home_anchor(home: &Home) -> Result<crate::gateway::Anchor> {
    use crate::ca::authority::{read_ca_cert, CaFiles, ROOT};
    let der = read_ca_cert(&CaFiles::new(home.ca_dir()), ROOT)?;
    crate::gateway::Anchor::from_der(&der).map_err(|e| OpsError::TrustStoreBuild(e.into()))
}

/// The current time, UTC, to the second.
pub fn now() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub use crate::fsutil::OutputRules;

pub use crate::timeutil::rfc3339;
