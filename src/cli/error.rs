//! The one place where library errors become what a user sees: a kind (stable,
//! for `--json`), a one-line message, an optional hint, and an exit code.
//!
//! Every conversion is an exhaustive `match` without a wildcard arm, so a new
//! error variant in the library does not compile until it is given a kind.

use std::fmt;

use pushca::ca::{CaError, CsrError};
use pushca::certfile::CertFileError;
use pushca::cms::CmsError;
use pushca::fsutil::FsError;
use pushca::gateway::GatewayError;
use pushca::home::HomeError;
use pushca::keys::KeyError;
use pushca::ops::OpsError;
use pushca::p12::P12Error;
use pushca::portal::profile::ProfileError;
use pushca::portal::PortalError;
use pushca::secret::PassphraseError;
use pushca::store::StoreError;

/// Exit codes of the command contract.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const DENIED: u8 = 3;
    pub const EXPIRING: u8 = 4;
}

/// The JSON `kind` of an error (documented in README "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file or value that is not what it should be (malformed, wrong type, unsupported).
    Input,
    /// A wrong, missing or unacceptable password or passphrase.
    Password,
    /// Reading or writing failed (permissions, disk, missing directory).
    Io,
    /// Refused by a rule: wildcard App ID with push, disabled App ID, output inside the home...
    Policy,
    /// An App ID, team or serial that the store does not have.
    NotFound,
    /// Something already exists or differs from what is asked for.
    Conflict,
    /// The home has no store: `pushca init` first.
    NotInitialized,
    /// A command line that cannot be run as given.
    Usage,
    /// A cryptographic operation failed (key generation, signing, encryption).
    Crypto,
    /// A state pushca does not expect (a corrupt store, a store from a newer version).
    Internal,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Password => "password",
            Kind::Io => "io",
            Kind::Policy => "policy",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::NotInitialized => "not_initialized",
            Kind::Usage => "usage",
            Kind::Crypto => "crypto",
            Kind::Internal => "internal",
        }
    }
}

#[derive(Debug)]
pub struct CliError {
    pub kind: &'static str,
    pub message: String,
    pub hint: Option<String>,
    pub exit: u8,
}

impl CliError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            hint: None,
            exit: exit::FAILURE,
        }
    }
    fn of(kind: Kind, message: impl Into<String>) -> Self {
        CliError::new(kind.name(), message)
    }
    /// A state pushca does not expect (kind `internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        CliError::of(Kind::Internal, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: exit::USAGE,
            ..CliError::of(Kind::Usage, message)
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Prefixes the message with what it is about (a file, a flag).
    pub fn about(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn fs_kind(e: &FsError) -> Kind {
    match e {
        FsError::Read { .. } | FsError::NotRegular { .. } | FsError::TooLarge { .. } => Kind::Input,
        FsError::Write { .. } => Kind::Io,
        FsError::Exists(_) | FsError::SameOutputTwice(_) => Kind::Conflict,
        FsError::InsideHome { .. } | FsError::SecretToTerminal(_) | FsError::ForeignLink { .. } => {
            Kind::Policy
        }
    }
}

fn key_kind(e: &KeyError) -> Kind {
    match e {
        KeyError::WrongPassphrase => Kind::Password,
        KeyError::Malformed(_)
        | KeyError::Unsupported(_)
        | KeyError::RsaTooLarge { .. }
        | KeyError::WorkLimit { .. } => Kind::Input,
        KeyError::Generation(_) | KeyError::Encryption(_) => Kind::Crypto,
    }
}

fn csr_kind(e: &CsrError) -> Kind {
    match e {
        CsrError::Malformed(_)
        | CsrError::WeakSignatureAlgorithm(_)
        | CsrError::UnsupportedSignatureAlgorithm(_)
        | CsrError::BadSignature
        | CsrError::WeakKey(_) => Kind::Input,
    }
}

fn p12_kind(e: &P12Error) -> Kind {
    match e {
        P12Error::WrongPasswordMac | P12Error::WrongPasswordDecrypt => Kind::Password,
        P12Error::Key(k) => key_kind(k),
        P12Error::Write(_) => Kind::Crypto,
        P12Error::Pem
        | P12Error::NotPkcs12(_)
        | P12Error::Truncated(_)
        | P12Error::Corrupt(_)
        | P12Error::Unsupported(_)
        | P12Error::WorkLimit { .. }
        | P12Error::Hostile(_) => Kind::Input,
    }
}

fn profile_kind(e: &ProfileError) -> Kind {
    match e {
        ProfileError::Cms(c) => match c {
            CmsError::Build(_) => Kind::Crypto,
            CmsError::Malformed(_)
            | CmsError::TooLarge
            | CmsError::TooMany
            | CmsError::Hostile(_)
            | CmsError::NoContent
            | CmsError::NotDetached
            | CmsError::NoSignerCertificate
            | CmsError::Unsupported(_)
            | CmsError::DigestMismatch
            | CmsError::BadSignature => Kind::Input,
        },
        ProfileError::Untrusted(_) | ProfileError::SignerNotValid => Kind::Policy,
        ProfileError::Plist(_) | ProfileError::MissingKey(_) | ProfileError::BadKey { .. } => {
            Kind::Input
        }
        ProfileError::NoAnchors => Kind::Usage,
        ProfileError::Build(_) => Kind::Crypto,
    }
}

fn certfile_kind(e: &CertFileError) -> Kind {
    match e {
        CertFileError::NoCertificate | CertFileError::Invalid(_) | CertFileError::Pem(_) => {
            Kind::Input
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        let kind = match &e {
            StoreError::NotInitialized(_) => Kind::NotInitialized,
            StoreError::DuplicateTeam(_)
            | StoreError::DuplicateApp { .. }
            | StoreError::DuplicateDevice { .. }
            | StoreError::DuplicateProfile(_)
            | StoreError::DuplicateSerial(_)
            | StoreError::AmbiguousSerial(_) => Kind::Conflict,
            StoreError::NotHexSerial(_) => Kind::NotFound,
            StoreError::Create { .. } | StoreError::Backend(_) => Kind::Io,
            StoreError::TooNew { .. } | StoreError::Corrupt(_) => Kind::Internal,
        };
        let hint = match &e {
            StoreError::NotInitialized(_) => Some(
                "run `pushca init --team-name NAME`, or point --home / PUSHCA_HOME at your home",
            ),
            _ => None,
        };
        let mut c = CliError::of(kind, e.to_string());
        c.hint = hint.map(str::to_string);
        c
    }
}

impl From<PortalError> for CliError {
    fn from(e: PortalError) -> Self {
        match e {
            PortalError::Store(s) => s.into(),
            PortalError::UnknownApp(ref id) => CliError::of(Kind::NotFound, e.to_string())
                .with_hint(format!("register it with `pushca app create {id} --push`")),
            PortalError::UnknownTeam(_) => {
                CliError::of(Kind::NotFound, e.to_string()).with_hint("see `pushca team list`")
            }
            PortalError::WildcardPush(_) => CliError::of(Kind::Policy, e.to_string()),
            PortalError::UnknownDevice { .. } => CliError::of(Kind::NotFound, e.to_string())
                .with_hint(
                "register it with `pushca device add UDID --name NAME`; see `pushca device list`",
            ),
            PortalError::DeviceInSeveralTeams { .. } => {
                CliError::of(Kind::Usage, e.to_string()).with_hint("say which with --team ID")
            }
            PortalError::DeviceConflict { .. } | PortalError::DuplicateTeamName { .. } => {
                CliError::of(Kind::Conflict, e.to_string())
            }
            PortalError::InvalidUdid { .. }
            | PortalError::InvalidDeviceName(_)
            | PortalError::InvalidTeamId(_)
            | PortalError::InvalidTeamName(_)
            | PortalError::InvalidBundleId { .. } => CliError::of(Kind::Input, e.to_string()),
        }
    }
}

impl From<CaError> for CliError {
    fn from(e: CaError) -> Self {
        match e {
            CaError::WrongPassphrase(_) => CliError::of(Kind::Password, e.to_string())
                .with_hint("the CA passphrase is the one given to `pushca init`"),
            CaError::Key(ref k) => CliError::of(key_kind(k), e.to_string()),
            CaError::Csr(ref c) => CliError::of(csr_kind(c), e.to_string()),
            CaError::Fs(ref f) => CliError::of(fs_kind(f), e.to_string()),
            CaError::CaKey { ref source, .. } => CliError::of(key_kind(source), e.to_string()),
            CaError::CaFile { .. } | CaError::KeyMismatch { .. } => {
                CliError::of(Kind::Input, e.to_string())
                    .with_hint("the CA files of the home were altered; restore them from a backup")
            }
            CaError::Build(_) | CaError::NonCanonicalKey | CaError::Extension(_) => {
                CliError::of(Kind::Crypto, e.to_string())
            }
            CaError::Template { .. } | CaError::InvalidCountry(_) | CaError::NotCertificate(_) => {
                CliError::of(Kind::Input, e.to_string())
            }
        }
    }
}

impl From<FsError> for CliError {
    fn from(e: FsError) -> Self {
        CliError::of(fs_kind(&e), e.to_string())
    }
}

impl From<OpsError> for CliError {
    fn from(e: OpsError) -> Self {
        let msg = e.to_string();
        match e {
            OpsError::Ca(c) => c.into(),
            OpsError::Portal(p) => p.into(),
            OpsError::Store(s) => s.into(),
            OpsError::Fs(f) => f.into(),
            OpsError::Home(h) => match h {
                HomeError::Unknown => CliError::usage(msg),
                HomeError::NotPrivate { .. } => CliError::of(Kind::Policy, msg),
                HomeError::NotADirectory(_) => CliError::of(Kind::Input, msg),
                HomeError::Inspect { .. } => CliError::of(Kind::Io, msg),
            },
            OpsError::Passphrase(ref p) => {
                let c = CliError::of(Kind::Password, msg.clone());
                match p {
                    PassphraseError::Empty => c.with_hint("use --noenc for an unencrypted output"),
                    PassphraseError::TooShort { .. } => c,
                }
            }
            OpsError::Keys(ref k) => CliError::of(key_kind(k), msg),
            OpsError::Csr { ref source, .. } => CliError::of(csr_kind(source), msg),
            OpsError::Key {
                source: KeyError::WrongPassphrase,
                ref path,
            } => CliError::of(
                Kind::Password,
                format!("wrong passphrase for {}", path.display()),
            ),
            OpsError::Key { ref source, .. } => CliError::of(key_kind(source), msg),
            OpsError::P12 {
                ref source,
                ref path,
            } => {
                let msg = match source {
                    P12Error::WrongPasswordMac => format!(
                        "wrong password for {} (MAC verification failed)",
                        path.display()
                    ),
                    P12Error::WrongPasswordDecrypt => {
                        format!("wrong password for {} (decryption failed)", path.display())
                    }
                    _ => msg,
                };
                let c = CliError::of(p12_kind(source), msg);
                match source {
                    P12Error::WrongPasswordMac => c.with_hint(
                        "pass the .p12 password with --passin (pass:, env:, file:, fd:, stdin)",
                    ),
                    P12Error::Pem => c.with_hint(
                        "PEM files are read by `pushca pem merge` and `pushca p12 export`",
                    ),
                    _ => c,
                }
            }
            OpsError::CertFile { ref source, .. } => CliError::of(certfile_kind(source), msg),
            OpsError::KeyMismatch { .. }
            | OpsError::NoKeyInP12(_)
            | OpsError::NoLeafInP12(_)
            | OpsError::ChainMismatch { .. } => CliError::of(Kind::Input, msg),
            OpsError::NoChain(_) => CliError::of(Kind::Input, msg).with_hint(
                "run `pushca init`, pass --home, or append the CA certificates to the --cert file",
            ),
            OpsError::AlreadyInitialized { .. } | OpsError::InitRunning(_) => {
                CliError::of(Kind::Conflict, msg)
                    .with_hint("use another --home, or remove the directory to start over")
            }
            OpsError::AppDisabled(ref id) => CliError::of(Kind::Policy, msg)
                .with_hint(format!("enable it with `pushca app enable {id}`")),
            OpsError::NoPush(ref id) => CliError::of(Kind::Policy, msg).with_hint(format!(
                "App IDs get push at creation: pushca app create {id} --push"
            )),
            OpsError::Wildcard(_) => CliError::of(Kind::Policy, msg),
            OpsError::ChangedWhileSigning(_) => {
                CliError::of(Kind::Conflict, msg).with_hint("run the command again")
            }
            OpsError::UnknownSerial(_) => CliError::of(Kind::NotFound, msg)
                .with_hint("see `pushca cert list`; serials are hex, colons allowed"),
            OpsError::IssuedNotWritten { ref serials, .. } => {
                let mut list = serials
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if serials.len() > 3 {
                    list.push_str(&format!(
                        " and {} more: see `pushca cert list`",
                        serials.len() - 3
                    ));
                }
                CliError::of(Kind::Io, msg).with_hint(format!(
                    "recover them with `pushca cert export SERIAL --out FILE` (serials: {list})"
                ))
            }
            OpsError::OneOutputManyCsrs(_)
            | OpsError::DuplicateOutput(_)
            | OpsError::NoIssueOutput => CliError::usage(msg),
            OpsError::WorkerPanicked(_) => CliError::of(Kind::Internal, msg),
            OpsError::RenewedMeanwhile(_) => CliError::of(Kind::Conflict, msg),
            OpsError::NotATrustStore(_) | OpsError::ForeignFilesInOut { .. } => {
                CliError::of(Kind::Conflict, msg).with_hint(
                    "choose another --out: an empty or new directory, or an earlier trust store",
                )
            }
            OpsError::OutContainsHome { .. } => CliError::of(Kind::Conflict, msg)
                .with_hint("publish the trust store outside the pushca home"),
            OpsError::OlderThanPublished { .. } | OpsError::OlderCrl { .. } => {
                CliError::of(Kind::Conflict, msg)
            }
            OpsError::ProfileSignerRevoked { .. } => CliError::of(Kind::Policy, msg),
            OpsError::NoAnchor => CliError::usage(msg).with_hint(
                "give --anchor ROOT.pem (the CA's root certificate), or --home of the CA",
            ),
            OpsError::TrustStoreBuild(_) => CliError::of(Kind::Crypto, msg),
            OpsError::TrustStore(ref g) => {
                let kind = match g {
                    GatewayError::Read { source, .. } => fs_kind(source),
                    GatewayError::Invalid { .. }
                    | GatewayError::PolicySignature(_)
                    | GatewayError::HashMismatch { .. }
                    | GatewayError::UnlistedFile(_)
                    | GatewayError::Profile { .. }
                    | GatewayError::ProfileMismatch { .. }
                    | GatewayError::ForeignRoot { .. } => Kind::Input,
                    GatewayError::Expired { .. } => Kind::Policy,
                    GatewayError::Rollback { .. } | GatewayError::VersionReused { .. } => {
                        Kind::Conflict
                    }
                };
                CliError::of(kind, msg).with_hint(
                    "regenerate it with `pushca gateway trust-store --out DIR`; never edit its files",
                )
            }
            OpsError::UnknownReason(_) => CliError::usage(msg).with_hint(format!(
                "reasons: {}",
                pushca::ca::crl::REASONS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            OpsError::RevokeExpired { .. } => CliError::of(Kind::Policy, msg),
            OpsError::DeviceNotUsable { reason, .. } => {
                let c = CliError::of(Kind::Policy, msg);
                if reason == "it is disabled" {
                    c.with_hint("enable it with `pushca device enable UDID`")
                } else {
                    c.with_hint("register it with `pushca device add UDID --name NAME --team ID`")
                }
            }
            OpsError::NoDevices { .. } | OpsError::NoCertificates { .. } => {
                CliError::of(Kind::Policy, msg)
            }
            OpsError::CertNotUsable { .. } => {
                CliError::of(Kind::Policy, msg).with_hint("see `pushca cert list --app BUNDLE_ID`")
            }
            OpsError::InvalidProfileName(_) | OpsError::InvalidProfileDays(_) => {
                CliError::of(Kind::Input, msg)
            }
            OpsError::UnknownProfile(_) => {
                CliError::of(Kind::NotFound, msg).with_hint("see `pushca profile list --all`")
            }
            OpsError::ProfileSuperseded { .. }
            | OpsError::ProfileWithdrawn(_)
            | OpsError::WithdrawSuperseded { .. } => CliError::of(Kind::Conflict, msg),
            OpsError::CannotRegenerate { uuid, source } => {
                CliError::new(CliError::from(*source).kind, msg).with_hint(format!(
                    "nothing can replace it; to take it out of the next trust store run \
                     `pushca profile withdraw {uuid}`"
                ))
            }
            OpsError::NoProfiles => CliError::of(Kind::NotFound, msg)
                .with_hint("create one with `pushca profile create`"),
            OpsError::ProfileBuild(ref p) => CliError::of(profile_kind(p), msg),
            OpsError::Profile { ref source, .. } => CliError::of(profile_kind(source), msg),
            OpsError::NoProfileAnchors => CliError::usage(msg),
            OpsError::ProfilesNotWritten { .. } => CliError::of(Kind::Io, msg)
                .with_hint("recover them with `pushca profile export UUID --out FILE`"),
        }
    }
}
