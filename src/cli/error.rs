//! The one place where errors become what a user sees: a kind (stable, for
//! `--json`), a one-line message, an optional hint, and an exit code.
//!
//! The library decides the kind of each of its errors (`kind()`, an
//! exhaustive match next to each error type); here it only becomes a [`Kind`]
//! and gets a hint, which names flags and commands: the library never does.

use std::fmt;

use pushca::ca::CaError;
use pushca::certfile::CertFileError;
use pushca::error::ErrorKind;
use pushca::fsutil::FsError;
use pushca::home::HomeError;
use pushca::keys::KeyError;
use pushca::ops::OpsError;
use pushca::p12::P12Error;
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

/// The JSON `kind` of an error (README "Errors, exit codes and JSON"): the
/// library's [`ErrorKind`]s and the CLI's own `interrupted`.
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
    /// A command line that cannot be run as given (exit 2).
    Usage,
    /// A cryptographic operation failed (key generation, signing, encryption).
    Crypto,
    /// A state pushca does not expect (a corrupt store, a store from a newer version).
    Internal,
    /// The wizard was stopped at a prompt (Ctrl-C, a closed terminal).
    Interrupted,
}

impl Kind {
    /// Every kind, in README's order.
    #[cfg(test)]
    pub const ALL: [Kind; 11] = [
        Kind::Input,
        Kind::Password,
        Kind::Io,
        Kind::Policy,
        Kind::NotFound,
        Kind::Conflict,
        Kind::NotInitialized,
        Kind::Usage,
        Kind::Crypto,
        Kind::Internal,
        Kind::Interrupted,
    ];

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
            Kind::Interrupted => "interrupted",
        }
    }

    /// The exit code: 2 for a usage error, 1 for every other failure.
    pub fn exit(self) -> u8 {
        match self {
            Kind::Usage => exit::USAGE,
            Kind::Input
            | Kind::Password
            | Kind::Io
            | Kind::Policy
            | Kind::NotFound
            | Kind::Conflict
            | Kind::NotInitialized
            | Kind::Crypto
            | Kind::Internal
            | Kind::Interrupted => exit::FAILURE,
        }
    }
}

impl From<ErrorKind> for Kind {
    fn from(k: ErrorKind) -> Kind {
        match k {
            ErrorKind::Input => Kind::Input,
            ErrorKind::Password => Kind::Password,
            ErrorKind::Io => Kind::Io,
            ErrorKind::Policy => Kind::Policy,
            ErrorKind::NotFound => Kind::NotFound,
            ErrorKind::Conflict => Kind::Conflict,
            ErrorKind::NotInitialized => Kind::NotInitialized,
            ErrorKind::Usage => Kind::Usage,
            ErrorKind::Crypto => Kind::Crypto,
            ErrorKind::Internal => Kind::Internal,
            // A kind added to the library after this binary: unexpected here.
            _ => Kind::Internal,
        }
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    pub exit: u8,
}

impl CliError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            hint: None,
            exit: kind.exit(),
        }
    }
    /// A state pushca does not expect (kind `internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        CliError::new(Kind::Internal, message)
    }
    /// A command line that cannot be run as given (kind `usage`, exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::new(Kind::Usage, message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
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

/// `From<E> for CliError` for library errors: the library's kind, the
/// library's message, and the hint that `$hint` gives for it.
macro_rules! from_library {
    ($($error:ty => $hint:expr,)*) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> Self {
                let hint: fn(&$error) -> Option<String> = $hint;
                CliError::new(e.kind().into(), e.to_string()).with_hint_opt(hint(&e))
            }
        }
    )*};
}

from_library! {
    FsError => fs_hint,
    StoreError => store_hint,
    PortalError => portal_hint,
    CaError => ca_hint,
    HomeError => home_hint,
    KeyError => |_| None,
    P12Error => p12_hint,
    CertFileError => |_| None,
}

impl From<OpsError> for CliError {
    fn from(e: OpsError) -> Self {
        let hint = ops_hint(&e);
        let c = CliError::new(e.kind().into(), e.to_string()).with_hint_opt(hint);
        match e {
            // The library says what is wrong with the chain; the flag is ours.
            OpsError::NoChain(_) | OpsError::ChainMismatch { .. } => c.about("--chain"),
            OpsError::OneOutputManyCsrs(_) => c.about("--out"),
            OpsError::InvalidProfileDays(_) => c.about("--days"),
            _ => c,
        }
    }
}

fn fs_hint(e: &FsError) -> Option<String> {
    match e {
        FsError::Exists(_) => Some("pass --force to replace it".into()),
        _ => None,
    }
}

fn store_hint(e: &StoreError) -> Option<String> {
    match e {
        StoreError::NotInitialized(_) => Some(
            "run `pushca init --team-name NAME`, or point --home / PUSHCA_HOME at your home".into(),
        ),
        _ => None,
    }
}

fn portal_hint(e: &PortalError) -> Option<String> {
    Some(match e {
        PortalError::Store(s) => return store_hint(s),
        PortalError::UnknownApp(id) => format!("register it with `pushca app create {id} --push`"),
        PortalError::UnknownTeam(_) => "see `pushca team list`".into(),
        PortalError::UnknownDevice { .. } => {
            "register it with `pushca device add UDID --name NAME`; see `pushca device list`".into()
        }
        PortalError::DeviceInSeveralTeams { .. } => "say which with --team ID".into(),
        _ => return None,
    })
}

fn ca_hint(e: &CaError) -> Option<String> {
    Some(match e {
        CaError::WrongPassphrase(_) => "the CA passphrase is the one given to `pushca init`".into(),
        CaError::CaFile { .. } | CaError::KeyMismatch { .. } => {
            "the CA files of the home were altered; restore them from a backup".into()
        }
        CaError::Fs(f) => return fs_hint(f),
        _ => return None,
    })
}

fn home_hint(e: &HomeError) -> Option<String> {
    match e {
        HomeError::Unknown => Some("pass --home DIR or set PUSHCA_HOME".into()),
        _ => None,
    }
}

fn passphrase_hint(e: &PassphraseError) -> Option<String> {
    match e {
        PassphraseError::Empty => Some("use --noenc for an unencrypted output".into()),
        _ => None,
    }
}

fn p12_hint(e: &P12Error) -> Option<String> {
    match e {
        P12Error::WrongPasswordMac => {
            Some("pass the .p12 password with --passin (pass:, env:, file:, fd:, stdin)".into())
        }
        P12Error::Pem => {
            Some("PEM files are read by `pushca pem merge` and `pushca p12 export`".into())
        }
        _ => None,
    }
}

/// The next step for an operation's error: the variant's own hint, or the
/// hint of the error it wraps.
fn ops_hint(e: &OpsError) -> Option<String> {
    Some(match e {
        OpsError::Ca(c) => return ca_hint(c),
        OpsError::Portal(p) => return portal_hint(p),
        OpsError::Store(s) => return store_hint(s),
        OpsError::Fs(f) => return fs_hint(f),
        OpsError::Home(h) => return home_hint(h),
        OpsError::Passphrase(p) => return passphrase_hint(p),
        OpsError::P12 { source, .. } => return p12_hint(source),
        OpsError::NoChain(_) => {
            "run `pushca init`, pass --home, or append the CA certificates to the --cert file"
                .into()
        }
        OpsError::AlreadyInitialized { home, .. }
            if pushca::store::Store::is_url(&home.to_string_lossy()) =>
        {
            "use another (empty) database".into()
        }
        OpsError::AlreadyInitialized { .. } | OpsError::InitRunning(_) => {
            "use another --home, or remove the directory to start over".into()
        }
        OpsError::AppDisabled(id) => format!("enable it with `pushca app enable {id}`"),
        OpsError::NoPush(id) => {
            format!("App IDs get push at creation: pushca app create {id} --push")
        }
        OpsError::ChangedWhileSigning(_) => "run the command again".into(),
        OpsError::UnknownSerial(_) => {
            "see `pushca cert list`; serials are hex, colons allowed".into()
        }
        OpsError::IssuedNotWritten { serials, .. } => {
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
            format!("recover them with `pushca cert export SERIAL --out FILE` (serials: {list})")
        }
        OpsError::OneOutputManyCsrs(_) => "use --out-dir for a batch".into(),
        OpsError::NotATrustStore(_) | OpsError::ForeignFilesInOut { .. } => {
            "choose another --out: an empty or new directory, or an earlier trust store".into()
        }
        OpsError::OutContainsHome { .. } => {
            "publish the trust store outside the pushca home".into()
        }
        OpsError::NoAnchor => {
            "give --anchor ROOT.pem (the CA's root certificate), or --home of the CA".into()
        }
        OpsError::TrustStore(_) => {
            "regenerate it with `pushca gateway trust-store --out DIR`; never edit its files".into()
        }
        OpsError::UnknownReason(_) => format!(
            "reasons: {}",
            pushca::ca::crl::REASONS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        OpsError::DeviceDisabled { udid, .. } => {
            format!("enable it with `pushca device enable {udid}`")
        }
        OpsError::DeviceNotUsable { reason, .. } => {
            if *reason == "it is disabled" {
                "enable it with `pushca device enable UDID`".into()
            } else {
                "register it with `pushca device add UDID --name NAME --team ID`".into()
            }
        }
        OpsError::CertNotUsable { .. } => "see `pushca cert list --app BUNDLE_ID`".into(),
        OpsError::UnknownProfile(_) => "see `pushca profile list --all`".into(),
        OpsError::CannotRegenerate { uuid, .. } => format!(
            "nothing can replace it; to take it out of the next trust store run \
             `pushca profile withdraw {uuid}`"
        ),
        OpsError::NoProfiles => "create one with `pushca profile create`".into(),
        OpsError::AuthKey(k) => return auth_key_hint(k),
        OpsError::ProfilesNotWritten { .. } => {
            "recover them with `pushca profile export UUID --out FILE`".into()
        }
        _ => return None,
    })
}

/// The next step for an auth-key error (every variant decided: no wildcard).
fn auth_key_hint(e: &pushca::ops::keys::AuthKeyError) -> Option<String> {
    use pushca::ops::keys::AuthKeyError as E;
    Some(match e {
        E::TeamKeyLimit { .. } | E::TopicKeyLimit { .. } => {
            "revoke one with `pushca key revoke KEY_ID` (see `pushca key list`)".into()
        }
        E::TooManyApps { .. } => "split the App IDs over several keys".into(),
        E::WildcardApp(_) => "name explicit App IDs with --app".into(),
        E::OtherTeamApp { app_team, .. } => {
            format!("create the key for that team with --team {app_team}")
        }
        E::DisabledApp(id) => format!("enable it with `pushca app enable {id}`"),
        E::NoPushApp(id) => format!("give it push with `pushca app set {id} --push`"),
        E::UnknownKey(_) => "see `pushca key list`".into(),
        E::NotWritten { .. } => "create a new key with `pushca key create`".into(),
        E::InvalidName(_) | E::Generation(_) | E::NoFreeKeyId(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind the CLI can print is a row of README's table.
    #[test]
    fn every_kind_has_its_readme_row() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Errors, exit codes and JSON")
            .nth(1)
            .unwrap_or_default();
        for kind in Kind::ALL {
            let row = format!("\n| `{}` | ", kind.name());
            assert!(
                section.contains(&row),
                "README has no row for `{}`",
                kind.name()
            );
        }
        for kind in ErrorKind::ALL {
            assert_eq!(Kind::from(*kind).name(), kind.name());
        }
    }

    /// The library says what is wrong; the flag to pass is the CLI's hint.
    #[test]
    fn an_existing_output_is_one_line_and_a_hint() {
        let e = CliError::from(FsError::Exists("out.pem".into()));
        assert_eq!(e.kind, Kind::Conflict);
        assert_eq!(e.exit, exit::FAILURE);
        assert_eq!(e.message, "out.pem already exists");
        assert_eq!(e.hint.as_deref(), Some("pass --force to replace it"));
    }
}
