//! Secrets in memory: passphrases and passwords, zeroized on drop and never
//! printed. Where a secret comes *from* (`pass:`, `env:`, `fd:`...) is the
//! binary's business, not the library's.

use zeroize::Zeroizing;

/// A passphrase or password. Zeroized on drop; never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `s`; the copy in the returned value is zeroized on drop.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }
    /// The secret as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The secret's UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Number of characters that are not whitespace (passphrase rules count these).
    pub(crate) fn non_blank_chars(&self) -> usize {
        self.0.chars().filter(|c| !c.is_whitespace()).count()
    }
}

/// Longest passphrase or password accepted, in bytes: a longer one is
/// refused, never cut.
pub const MAX_SECRET_BYTES: usize = 1024;

/// Shortest CA passphrase accepted, in non-blank characters.
pub(crate) const MIN_CA_PASSPHRASE: usize = 8;

/// Why a new passphrase was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassphraseError {
    /// A CA passphrase with too few non-blank characters.
    #[error("the CA passphrase is too short: it needs at least {min} non-blank characters")]
    TooShort {
        /// The fewest non-blank characters accepted.
        min: usize,
    },
    /// An empty password for an output file, which would leave it unprotected.
    #[error("an empty password would leave the output unprotected")]
    Empty,
}

impl PassphraseError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            PassphraseError::TooShort { .. } | PassphraseError::Empty => ErrorKind::Password,
        }
    }
}

/// The rule for a new CA passphrase: at least 8 non-blank characters
/// ([`PassphraseError::TooShort`] carries the number).
pub fn check_ca_passphrase(s: &Secret) -> Result<(), PassphraseError> {
    if s.non_blank_chars() < MIN_CA_PASSPHRASE {
        return Err(PassphraseError::TooShort {
            min: MIN_CA_PASSPHRASE,
        });
    }
    Ok(())
}

/// The rule for a password that encrypts an output (`--passout`): not empty
/// (an unencrypted output is asked for explicitly, with `--noenc`).
pub fn check_output_password(s: &Secret) -> Result<(), PassphraseError> {
    if s.is_empty() {
        return Err(PassphraseError::Empty);
    }
    Ok(())
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(Secret::new(" a b ").non_blank_chars(), 2);
        assert!(check_ca_passphrase(&Secret::new("        x       ")).is_err());
        assert!(check_ca_passphrase(&Secret::new("12345678")).is_ok());
        assert_eq!(
            check_output_password(&Secret::new("")),
            Err(PassphraseError::Empty)
        );
    }
}
