//! What kind of failure an error is, decided by the library.
//!
//! Every public error type has a `kind()` that answers with an [`ErrorKind`],
//! each an exhaustive `match` next to the error's definition (no wildcard arm:
//! a new variant does not compile until it is given a kind). Errors that wrap
//! another error delegate to it. A caller (the `pushca` binary, a gateway)
//! decides from the kind what to tell its user (an exit code, a JSON `kind`,
//! a hint); the library's messages say what is wrong, never which flag to pass.

use std::fmt;

/// The kind of a failure. The names are stable: they are the `kind` values
/// of README's "Errors, exit codes and JSON" table.
///
/// Later versions may add kinds: match with a wildcard arm.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A file or value is not what it should be: malformed or hostile input,
    /// a wrong file type, a signature that does not verify, a key that does
    /// not match its certificate, a bad bundle ID or UDID.
    Input,
    /// A password or passphrase is wrong, missing or unacceptable.
    Password,
    /// Reading or writing failed (permissions, a full disk, a missing directory).
    Io,
    /// Refused by a rule: a wildcard App ID with push, a disabled App ID, an
    /// output inside the home, a private key to a terminal, a home that is
    /// not private, an untrusted profile signer.
    Policy,
    /// The store has no such App ID, team, device, serial or profile.
    NotFound,
    /// Something exists already or differs from what is asked for.
    Conflict,
    /// The home has no store yet.
    NotInitialized,
    /// The request cannot be carried out as given (a missing or contradictory
    /// argument).
    Usage,
    /// A cryptographic operation failed (key generation, signing, encryption).
    Crypto,
    /// A state pushca does not expect (a corrupt store, a store written by a
    /// newer pushca, a worker thread that panicked).
    Internal,
}

impl ErrorKind {
    /// Every kind, in README's order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Input,
        ErrorKind::Password,
        ErrorKind::Io,
        ErrorKind::Policy,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::NotInitialized,
        ErrorKind::Usage,
        ErrorKind::Crypto,
        ErrorKind::Internal,
    ];

    /// The stable name (`not_found`, `io`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Input => "input",
            ErrorKind::Password => "password",
            ErrorKind::Io => "io",
            ErrorKind::Policy => "policy",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotInitialized => "not_initialized",
            ErrorKind::Usage => "usage",
            ErrorKind::Crypto => "crypto",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind is a row of README's "Errors, exit codes and JSON" table,
    /// and `ALL` holds every variant (the match has no wildcard arm).
    #[test]
    fn every_kind_has_its_readme_row() {
        let readme = include_str!("../README.md");
        let section = readme
            .split("## Errors, exit codes and JSON")
            .nth(1)
            .expect("README has the errors section");
        for kind in ErrorKind::ALL {
            // Exhaustive: a new kind must be added to ALL and to README.
            match kind {
                ErrorKind::Input
                | ErrorKind::Password
                | ErrorKind::Io
                | ErrorKind::Policy
                | ErrorKind::NotFound
                | ErrorKind::Conflict
                | ErrorKind::NotInitialized
                | ErrorKind::Usage
                | ErrorKind::Crypto
                | ErrorKind::Internal => {}
            }
            let row = format!("\n| `{}` | ", kind.name());
            assert!(section.contains(&row), "README has no row for `{kind}`");
        }
        assert_eq!(ErrorKind::ALL.len(), 10, "ALL lists every kind once");
    }
}
