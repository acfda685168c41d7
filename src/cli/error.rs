//! The one place where library errors become what a user sees: a kind (stable,
//! for `--json`), a one-line message, an optional hint, and an exit code.

use std::fmt;

/// Exit codes of the command contract.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const EXPIRING: u8 = 4;
}

#[derive(Debug)]
pub struct CliError {
    /// Stable machine-readable kind: `input`, `password`, `io`, `policy`,
    /// `not_found`, `conflict`, `not_initialized`, `usage`, `crypto`, `internal`.
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
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: exit::USAGE,
            ..CliError::new("usage", message)
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<pushca::fsutil::FsError> for CliError {
    fn from(e: pushca::fsutil::FsError) -> Self {
        use pushca::fsutil::FsError;
        let kind = match &e {
            FsError::Read { .. } => "input",
            FsError::Write { .. } => "io",
        };
        CliError::new(kind, e.to_string())
    }
}

impl From<pushca::keys::KeyError> for CliError {
    fn from(e: pushca::keys::KeyError) -> Self {
        CliError::from_key_error(&e, e.to_string())
    }
}

impl From<pushca::store::StoreError> for CliError {
    fn from(e: pushca::store::StoreError) -> Self {
        use pushca::store::StoreError;
        let kind = match &e {
            StoreError::NotInitialized(_) => "not_initialized",
            StoreError::Conflict(_) => "conflict",
            StoreError::NotFound(_) => "not_found",
            _ => "io",
        };
        let hint = matches!(e, StoreError::NotInitialized(_)).then(|| {
            "run `pushca init --team-name NAME`, or point --home / PUSHCA_HOME at your home"
                .to_string()
        });
        CliError {
            hint,
            ..CliError::new(kind, e.to_string())
        }
    }
}

impl From<pushca::portal::PortalError> for CliError {
    fn from(e: pushca::portal::PortalError) -> Self {
        use pushca::portal::PortalError;
        match e {
            PortalError::Store(s) => s.into(),
            PortalError::UnknownApp(ref id) => CliError::new("not_found", e.to_string())
                .with_hint(format!("register it with `pushca app create {id} --push`")),
            PortalError::UnknownTeam(_) => {
                CliError::new("not_found", e.to_string()).with_hint("see `pushca team list`")
            }
            PortalError::WildcardPush(_) => CliError::new("policy", e.to_string()),
            _ => CliError::new("input", e.to_string()),
        }
    }
}

impl From<pushca::ca::CsrError> for CliError {
    fn from(e: pushca::ca::CsrError) -> Self {
        CliError::new("input", e.to_string())
    }
}

impl From<pushca::pkcs12::P12Error> for CliError {
    fn from(e: pushca::pkcs12::P12Error) -> Self {
        use pushca::pkcs12::P12Error;
        let kind = match &e {
            P12Error::WrongPasswordMac | P12Error::WrongPasswordDecrypt => "password",
            P12Error::Key(k) => return CliError::from_key_error(k, e.to_string()),
            P12Error::Write(_) => "crypto",
            _ => "input",
        };
        CliError::new(kind, e.to_string())
    }
}

impl From<pushca::certfile::CertFileError> for CliError {
    fn from(e: pushca::certfile::CertFileError) -> Self {
        CliError::new("input", e.to_string())
    }
}

impl From<pushca::ca::CaError> for CliError {
    fn from(e: pushca::ca::CaError) -> Self {
        use pushca::ca::CaError;
        match e {
            CaError::WrongPassphrase(_) => CliError::new("password", e.to_string())
                .with_hint("the CA passphrase is the one given to `pushca init`"),
            CaError::Key(k) => k.into(),
            CaError::Csr(c) => c.into(),
            CaError::Files(_) => CliError::new("io", e.to_string()),
            CaError::Build(_) => CliError::new("crypto", e.to_string()),
            _ => CliError::new("input", e.to_string()),
        }
    }
}

impl From<pushca::ca::workflow::WorkflowError> for CliError {
    fn from(e: pushca::ca::workflow::WorkflowError) -> Self {
        use pushca::ca::workflow::WorkflowError;
        match e {
            WorkflowError::Ca(c) => c.into(),
            WorkflowError::Portal(p) => p.into(),
            WorkflowError::Store(s) => s.into(),
            WorkflowError::AlreadyInitialized(_) | WorkflowError::InitRunning(_) => {
                CliError::new("conflict", e.to_string())
            }
            WorkflowError::Io(_) => CliError::new("io", e.to_string()),
            WorkflowError::NoPush(ref id) => CliError::new("policy", e.to_string()).with_hint(
                format!("App IDs get push at creation: pushca app create {id} --push"),
            ),
            WorkflowError::AppDisabled(_) | WorkflowError::Wildcard(_) => {
                CliError::new("policy", e.to_string())
            }
        }
    }
}

impl CliError {
    fn from_key_error(k: &pushca::keys::KeyError, message: String) -> Self {
        use pushca::keys::KeyError;
        let kind = match k {
            KeyError::WrongPassphrase => "password",
            KeyError::Malformed(_) | KeyError::Unsupported(_) => "input",
            KeyError::Generation(_) | KeyError::Encryption(_) => "crypto",
        };
        CliError::new(kind, message)
    }
}
