//! What kind of failure an error is, decided by the library.
//!
//! Every public error type has a `kind()` that answers with an [`ErrorKind`],
//! each an exhaustive `match` next to the error's definition (no wildcard arm:
//! a new variant does not compile until it is given a kind). Errors that wrap
//! another error delegate to it. A caller (the `pushca` binary, a gateway)
//! decides from the kind what to tell its user (an exit code, a JSON `kind`,
//! a hint); the library's messages say what is wrong, never which flag to pass.

use std::fmt;

/// The source of an error that may come from several lower crates (a
/// builder that encodes DER, signs and parses on the way): kept as the
/// error itself, not as its text, so `source()` and downcasting reach it.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a message shows an optional lower error after its context: ` (the
/// lower error)`, or nothing. Error variants with a `context` (what was being
/// parsed, or a description of what is wrong) and an optional `#[source]`
/// render as `"{context}{}", Paren(.source)`, so the user sees the lower
/// crate's words while `source()` hands out its typed error.
#[cfg(feature = "ca")]
pub(crate) struct Paren<'a>(pub(crate) &'a Option<BoxError>);

#[cfg(feature = "ca")]
impl fmt::Display for Paren<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, " ({e})"),
            None => Ok(()),
        }
    }
}

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
#[cfg(feature = "ca")]
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

    /// The error under an error, found by walking `source()`.
    fn find<'a, T: std::error::Error + 'static>(
        e: &'a (dyn std::error::Error + 'static),
    ) -> Option<&'a T> {
        let mut cur = Some(e);
        while let Some(e) = cur {
            if let Some(t) = e.downcast_ref::<T>() {
                return Some(t);
            }
            cur = e.source();
        }
        None
    }

    /// A parser's error stays the source (its type, not its text), and the
    /// message users see is still one line with the parser's words in it.
    #[test]
    fn lower_errors_are_sources_not_text() {
        use crate::p12::{P12Error, Pkcs12};
        use crate::secret::Secret;
        let e = Pkcs12::parse(b"hello", &Secret::new("pw")).err().unwrap();
        let der = find::<der::Error>(&e).expect("der::Error is the source");
        assert_eq!(e.to_string(), format!("not a PKCS#12 file ({der})"));
        let ops = crate::ops::OpsError::P12 {
            path: "a.p12".into(),
            source: e,
        };
        assert!(find::<der::Error>(&ops).is_some());
        assert!(find::<P12Error>(&ops).is_some());
        assert_eq!(ops.kind(), ErrorKind::Input);
        assert!(!ops.to_string().contains('\n'));

        let e = crate::x509::CertSummary::from_der(b"junk")
            .map_err(crate::certfile::CertFileError::Summary)
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Input);
        type X509Err = x509_parser::nom::Err<x509_parser::error::X509Error>;
        let x = find::<X509Err>(&e).expect("x509-parser's error is the source");
        assert_eq!(
            e.to_string(),
            format!("invalid certificate: invalid X.509 structure ({x})")
        );
    }

    /// Wrapping errors ask the wrapped one; a wrong passphrase is said as such.
    #[test]
    fn kinds_follow_the_wrapped_error() {
        use crate::keys::KeyError;
        use crate::ops::OpsError;
        let e = OpsError::Key {
            path: "k.pem".into(),
            source: KeyError::WrongPassphrase,
        };
        assert_eq!(e.kind(), ErrorKind::Password);
        assert_eq!(e.to_string(), "wrong passphrase for k.pem");
        let e = OpsError::CannotRegenerate {
            uuid: "u".into(),
            source: Box::new(OpsError::Fs(crate::fsutil::FsError::Exists("x".into()))),
        };
        assert_eq!(e.kind(), ErrorKind::Conflict);
        let e = OpsError::Store(crate::store::StoreError::NotInitialized("h".into()));
        assert_eq!(e.kind(), ErrorKind::NotInitialized);
    }

    /// Library messages say what is wrong; which flag to pass is the CLI's.
    #[test]
    fn messages_name_no_flag() {
        use crate::ops::OpsError;
        let errors: Vec<Box<dyn std::error::Error>> = vec![
            Box::new(crate::fsutil::FsError::Exists("out.pem".into())),
            Box::new(crate::home::HomeError::Unknown),
            Box::new(crate::store::StoreError::NotInitialized("h".into())),
            Box::new(OpsError::NoChain("c.pem".into())),
            Box::new(OpsError::ChainMismatch {
                leaf: "c.pem".into(),
                reason: "x",
            }),
            Box::new(OpsError::OneOutputManyCsrs(3)),
            Box::new(OpsError::InvalidProfileDays(0)),
        ];
        for e in errors {
            let m = e.to_string();
            assert!(!m.contains("--") && !m.contains("`pushca"), "{m}");
        }
    }
}
