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
use crate::store::{CertRecord, PooledStore, Store, StoreError};
use crate::x509ext::Environment;

pub mod certs;
pub mod convert;
pub mod gateway;
pub mod identity;
pub mod init;
pub mod keys;
pub mod migrate;
pub mod portal;
pub mod profiles;
pub mod revocation;
pub mod service;
pub mod status;
pub mod unlocked;
pub mod view;

pub use unlocked::UnlockedCa;

/// Everything an operation can fail with. Variants carry the file they are
/// about where there is one; [`OpsError::kind`] says what kind of failure it
/// is (delegating to the wrapped error where there is one).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The CA refused or failed (CSR checks, issuance, CRLs, reading the CA).
    #[error(transparent)]
    Ca(#[from] CaError),
    /// A team, App ID or device rule was broken, or one was not found.
    #[error(transparent)]
    Portal(#[from] PortalError),
    /// The SQLite store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading an input or writing an output failed, or an output rule refused.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The pushca home is missing, not initialised or not private.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// A new passphrase does not meet the rules.
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
    /// Key generation or encryption (no input file involved).
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A CSR file that cannot be used.
    #[error("{}: {source}", path.display())]
    Csr {
        /// The CSR file.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: CsrError,
    },
    /// A private-key file that cannot be read or decrypted.
    #[error("{}", key_message(path, source))]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why (a wrong passphrase is said so).
        #[source]
        source: KeyError,
    },
    /// A PKCS#12 file that cannot be read or decrypted.
    #[error("{}", p12_message(path, source))]
    P12 {
        /// The .p12 file.
        path: PathBuf,
        /// Why (a wrong password is said so).
        #[source]
        source: P12Error,
    },
    /// A certificate file that cannot be read.
    #[error("{}: {source}", path.display())]
    CertFile {
        /// The certificate file.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: CertFileError,
    },
    /// The private key in the file `key` is not the key of the certificate in
    /// the file `cert`.
    #[error("the key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// The .p12 (this file) holds no private key.
    #[error("{}: no private key in the .p12", .0.display())]
    NoKeyInP12(PathBuf),
    /// The .p12 (this file) holds no certificate for its key.
    #[error("{}: no certificate for the key in the .p12", .0.display())]
    NoLeafInP12(PathBuf),
    /// `init` on a home that already holds CA material (`found`).
    #[error("{} is already a pushca home ({} exists); refusing to overwrite it", home.display(), found.display())]
    AlreadyInitialized {
        /// The home.
        home: PathBuf,
        /// The CA file or store found in it.
        found: PathBuf,
    },
    /// Another `init` holds the lock on this home.
    #[error("another `pushca init` is running on {}", .0.display())]
    InitRunning(PathBuf),
    /// The App ID (this bundle ID) is disabled.
    #[error("App ID {0} is disabled")]
    AppDisabled(String),
    /// The App ID (this bundle ID) or its team changed between preparing and
    /// recording an issuance; nothing was recorded.
    #[error("App ID {0} or its team changed while its certificates were being signed; nothing was issued")]
    ChangedWhileSigning(String),
    /// The App ID (this bundle ID) lacks the push capability.
    #[error("App ID {0} does not have the push capability")]
    NoPush(String),
    /// The App ID (this bundle ID) is a wildcard: no push certificate for it.
    #[error("App ID {0} is a wildcard; push certificates need an explicit App ID")]
    Wildcard(String),
    /// No certificate with this serial (hex) in the store.
    #[error("no certificate with serial {0} in the store")]
    UnknownSerial(String),
    /// No CA certificates to go with the certificate in this file.
    #[error("no CA certificates (no pushca home with a CA, and {} holds only one certificate)", .0.display())]
    NoChain(PathBuf),
    /// The leaf certificate (`leaf`, a file) was not issued by the CA
    /// certificates given; `reason` says what did not match.
    #[error("{} was not issued by the CA certificates given ({})", leaf.display(), reason)]
    ChainMismatch {
        /// The certificate file.
        leaf: PathBuf,
        /// What did not match.
        reason: &'static str,
    },
    /// Certificates were issued and recorded, but writing them failed.
    #[error("{} issued and recorded, but not written: {source}", crate::text::count(*count, "certificate"))]
    IssuedNotWritten {
        /// How many were issued.
        count: usize,
        /// Their serials (hex): export them again with `cert export`.
        serials: Vec<String>,
        /// The write failure.
        #[source]
        source: FsError,
    },
    /// An issuance was asked to write nowhere.
    #[error("no output for the certificates: no file, directory or bundle")]
    NoIssueOutput,
    /// A worker thread panicked while doing this (a bug).
    #[error("internal error: a thread panicked while {0}")]
    WorkerPanicked(&'static str),
    /// One output file for this many CSRs.
    #[error("an output file takes one CSR, got {0}")]
    OneOutputManyCsrs(usize),
    /// Two CSRs would be written to this one file.
    #[error("two CSRs would both be written to {}; give them different file names", .0.display())]
    DuplicateOutput(PathBuf),
    /// This trust-store output exists and is not a directory.
    #[error("{} exists and is not a directory; refusing to replace it with a trust store", .0.display())]
    NotATrustStore(PathBuf),
    /// The trust-store output directory `dir` holds `found`, a file no trust
    /// store writes.
    #[error("{} holds {found}, which is not a trust store's own file; refusing to publish there (only a trust store's own files are ever removed)", dir.display())]
    ForeignFilesInOut {
        /// The output directory.
        dir: PathBuf,
        /// The foreign entry (relative to `dir`).
        found: String,
    },
    /// The trust-store output `out` contains the pushca home `home`.
    #[error("{} contains the pushca home {}; refusing to publish there", out.display(), home.display())]
    OutContainsHome {
        /// The output directory.
        out: PathBuf,
        /// The home it contains.
        home: PathBuf,
    },
    /// The trust store at `out` has version `found`, newer than this one (`ours`).
    #[error("{} holds trust store version {found}, newer than this publish (version {ours}); refusing to replace it with an older one", out.display())]
    OlderThanPublished {
        /// The output directory.
        out: PathBuf,
        /// The version published there.
        found: u64,
        /// The version of this publish.
        ours: u64,
    },
    /// The CRL at `out` has CRL number `found`, newer than the one just signed
    /// (`ours`).
    #[error("{} holds CRL number {found}, newer than the one signed now ({ours}); refusing to replace it with an older one", out.display())]
    OlderCrl {
        /// The CRL file.
        out: PathBuf,
        /// The CRL number in it.
        found: i64,
        /// The CRL number just signed.
        ours: i64,
    },
    /// Building or signing the trust store failed.
    #[error("{0}")]
    TrustStoreBuild(#[source] crate::error::BoxError),
    /// The trust store just written does not verify.
    #[error("trust store does not verify: {0}")]
    TrustStore(#[source] crate::gateway::GatewayError),
    /// Another run renewed this certificate (serial, hex) meanwhile.
    #[error("another run renewed the certificate meanwhile (serial {0})")]
    RenewedMeanwhile(String),
    /// Not one of RFC 5280's revocation reasons.
    #[error("'{0}' is not a revocation reason")]
    UnknownReason(String),
    #[error(
        "certificate {serial} expired on {not_after}; an expired certificate needs no revocation"
    )]
    /// The certificate `serial` expired on `not_after` (RFC 3339): there is
    /// nothing to revoke.
    RevokeExpired {
        /// The certificate (serial, hex).
        serial: String,
        /// When it expired (RFC 3339).
        not_after: String,
    },
    /// The device `udid` cannot go into a profile of team `team_id`: `reason`.
    #[error("device {udid} cannot be provisioned for team {team_id}: {reason}")]
    DeviceNotUsable {
        /// The device.
        udid: String,
        /// The profile's team.
        team_id: String,
        /// Why (disabled, or not registered for the team).
        reason: &'static str,
    },
    /// A profile of `environment` for `bundle_id` would list no device (team
    /// `team_id` has no enabled device).
    #[error("a {} profile for {bundle_id} would provision no device (team {team_id} has no enabled device to list)", environment.name())]
    NoDevices {
        /// The App ID.
        bundle_id: String,
        /// Its team.
        team_id: String,
        /// The profile's environment.
        environment: Environment,
    },
    /// The certificate `serial` cannot go into a profile: `reason`.
    #[error("certificate {serial} cannot be authorised: {reason}")]
    CertNotUsable {
        /// The certificate (serial, hex).
        serial: String,
        /// Why (another App ID or environment, revoked, expired, not valid yet).
        reason: String,
    },
    /// A profile of `environment` for `bundle_id` would list no push
    /// certificate.
    #[error("a {} profile for {bundle_id} would authorise no push certificate (none is valid, unrevoked and for {})", environment.name(), environment.name())]
    NoCertificates {
        /// The App ID.
        bundle_id: String,
        /// The profile's environment.
        environment: Environment,
    },
    /// A profile name that is empty, longer than 200 characters or has
    /// control characters.
    #[error("invalid profile name '{}': it must be 1-200 characters without control characters", .0.escape_default())]
    InvalidProfileName(String),
    /// A profile lifetime outside 1..=3650 days.
    #[error("a profile lives 1 to 3650 days, not {0}")]
    InvalidProfileDays(u32),
    /// No profile with this UUID in the store.
    #[error("no profile {0} in the store")]
    UnknownProfile(String),
    /// The profile `uuid` was superseded by `by`.
    #[error("profile {uuid} was superseded by {by}; regenerate the current one")]
    ProfileSuperseded {
        /// The profile asked for.
        uuid: String,
        /// The profile that replaced it.
        by: String,
    },
    /// There is no current profile to regenerate.
    #[error("no current profiles to regenerate")]
    NoProfiles,
    /// The profile (this UUID) was withdrawn.
    #[error("profile {0} was withdrawn; it is not current any more")]
    ProfileWithdrawn(String),
    /// Withdrawing `uuid`, superseded by `by`: withdraw `by` instead.
    #[error("profile {uuid} was superseded by {by}, which is the current one; withdraw that one")]
    WithdrawSuperseded {
        /// The profile asked for.
        uuid: String,
        /// The current profile that replaced it.
        by: String,
    },
    /// One profile of a regeneration cannot be regenerated.
    #[error("profile {uuid} cannot be regenerated: {source}")]
    CannotRegenerate {
        /// The profile.
        uuid: String,
        /// Its failure.
        #[source]
        source: Box<OpsError>,
    },
    /// Building or signing a profile failed.
    #[error("the profile cannot be signed: {0}")]
    ProfileBuild(#[source] ProfileError),
    /// A profile file that cannot be read or does not verify.
    #[error("{}: {source}", path.display())]
    Profile {
        /// The profile file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ProfileError,
    },
    /// No CA to verify a profile against.
    #[error("no CA to verify the profile against (no pushca home here)")]
    NoProfileAnchors,
    /// No root to verify a trust store against.
    #[error("no root to verify the trust store against (no pushca home here)")]
    NoAnchor,
    /// The profile signer `serial` was revoked at `revoked_at` (RFC 3339).
    #[error("the profile signer {serial} was revoked on {revoked_at}: nothing is signed with it any more")]
    ProfileSignerRevoked {
        /// The signer certificate (serial, hex).
        serial: String,
        /// When it was revoked (RFC 3339).
        revoked_at: String,
    },
    /// Profiles were signed and recorded, but writing them failed.
    #[error("{} signed and recorded, but not written: {source}", crate::text::count(uuids.len(), "profile"))]
    ProfilesNotWritten {
        /// The profiles signed: export them again with `profile export`.
        uuids: Vec<String>,
        /// The write failure.
        #[source]
        source: FsError,
    },
    /// An auth-key rule was broken, or the key is not in the store.
    #[error(transparent)]
    AuthKey(#[from] keys::AuthKeyError),
    /// A DNS name or IP address that cannot go into a certificate.
    #[error(transparent)]
    Name(#[from] crate::ca::tls::NameError),
    /// A disabled device gets no identity certificate.
    #[error("device {udid} of team {team_id} is disabled; a disabled device gets no identity certificate")]
    DeviceDisabled {
        /// The device.
        udid: String,
        /// Its team.
        team_id: String,
    },
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
            OpsError::AuthKey(e) => e.kind(),
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

pub(crate) type Result<T, E = OpsError> = std::result::Result<T, E>;

/// Opens the store of an initialised home, after checking that the home is
/// private (see [`Home::check_private`]); or the database the home names,
/// on a connection reused within this process ([`Store::open_pooled`]).
pub(crate) fn open_store(home: &Home) -> Result<PooledStore> {
    if let Some(url) = home.store_url() {
        return Ok(Store::open_pooled(url)?);
    }
    if home.is_initialized() {
        home.check_private()?;
    }
    Ok(PooledStore::unpooled(Store::open(&home.db_path())?))
}

/// Held while something is published from the home (a CRL file, a trust
/// store): from signing the CRL to the last rename, so that concurrent
/// publishers finish in the order they signed (the newest CRL last). Other
/// commands (a revoke, an issue) never wait for it. Released when dropped.
/// A file lock in a SQLite home; a PostgreSQL session advisory lock (held
/// by its own connection) on a database.
pub(crate) enum PublishLock {
    File(std::fs::File),
    Store(#[allow(dead_code, reason = "held for its connection's lock")] Box<Store>),
}

impl PublishLock {
    pub(crate) fn acquire(home: &Home) -> Result<PublishLock> {
        if let Some(url) = home.store_url() {
            // A connection of its own, never pooled: the session lock
            // lasts until it is closed.
            let mut st = Store::open_url(url)?;
            st.hold_lock(crate::store::StoreLock::Publish)?;
            return Ok(PublishLock::Store(Box::new(st)));
        }
        let path = home.root().join("publish.lock");
        let f = crate::fsutil::open_lock_file(&path)?;
        fs4::fs_std::FileExt::lock_exclusive(&f).map_err(|e| FsError::write(path, e))?;
        Ok(PublishLock::File(f))
    }
}

impl Drop for PublishLock {
    fn drop(&mut self) {
        if let PublishLock::File(f) = self {
            let _ = fs4::fs_std::FileExt::unlock(f);
        }
    }
}

/// The root CA certificate of the home: the anchor its trust stores are
/// verified against.
pub fn home_anchor(home: &Home) -> Result<crate::gateway::Anchor> {
    use crate::ca::authority::{read_ca_cert, ROOT};
    let der = read_ca_cert(&home.ca_files(), ROOT)?;
    crate::gateway::Anchor::from_der(&der).map_err(|e| OpsError::TrustStoreBuild(e.into()))
}

/// The current time, UTC, to the second.
pub fn now() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub use crate::fsutil::OutputRules;

pub(crate) use crate::timeutil::rfc3339;

/// Who a newly issued certificate is for, as the store records it.
pub(crate) struct IssuedFor<'a> {
    /// [`CertRecord::PUSH`], [`CertRecord::SERVER`] or [`CertRecord::DEVICE`].
    pub(crate) kind: &'a str,
    /// The App ID (empty for the other kinds).
    pub(crate) bundle_id: &'a str,
    /// The team.
    pub(crate) team_id: &'a str,
    /// The push environment (empty for the other kinds).
    pub(crate) environment: &'a str,
}

/// The store's record of `cert`, issued at `issued_at` for `who` with a key
/// of `key_type` (`--key-type` vocabulary): not revoked.
pub(crate) fn issued_record(
    cert: &crate::ca::IssuedCertificate,
    who: &IssuedFor<'_>,
    key_type: String,
    issued_at: time::OffsetDateTime,
) -> CertRecord {
    CertRecord {
        serial: cert.serial.clone(),
        kind: who.kind.to_string(),
        bundle_id: who.bundle_id.to_string(),
        team_id: who.team_id.to_string(),
        environment: who.environment.to_string(),
        subject: cert.subject.clone(),
        not_before: cert.not_before.unix_timestamp(),
        not_after: cert.not_after.unix_timestamp(),
        sha256: cert.sha256.clone(),
        key_type,
        der: cert.der.clone(),
        issued_at: issued_at.unix_timestamp(),
        revoked_at: None,
        revocation_reason: None,
    }
}
