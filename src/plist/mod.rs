//! XML property lists (Apple "plist 1.0", XML form only): a value model, a
//! writer that reproduces Apple's layout, and a reader for the plists found
//! inside `.mobileprovision` profiles.
//!
//! # Writer
//!
//! [`to_xml`] writes the XML declaration, Apple's DOCTYPE and a
//! `<plist version="1.0">` root, one element per line, indented with one tab
//! per nesting level. Dates are written in UTC to the second
//! (`2026-12-01T16:54:15Z`; fractional seconds are dropped), data as standard
//! base64 on lines of 68 characters indented one level deeper than `<data>`.
//! `&`, `<` and `>` are escaped, as is `\r` (as `&#13;`, so that XML line-end
//! normalisation cannot turn it into `\n`). Text holding a character that XML
//! 1.0 cannot carry (a control character other than tab, line feed and
//! carriage return, or U+FFFE/U+FFFF) is refused with an error rather than
//! producing a document no parser accepts, and so is a value nested deeper
//! than `MAX_DEPTH`, which the reader would refuse.
//!
//! # Reader
//!
//! `from_xml` accepts an optional UTF-8 byte order mark, an XML declaration,
//! a DOCTYPE without an internal subset, processing instructions before the
//! root, comments and whitespace between elements, and exactly one value
//! inside `<plist>`. Text may hold the five predefined entities, decimal and
//! hexadecimal character references, CDATA sections (and comments); raw line
//! ends are normalised as XML requires (`\r\n` and `\r` become `\n`).
//! `<integer>` takes an optional sign and decimal or `0x` hexadecimal digits,
//! `<date>` exactly `YYYY-MM-DDTHH:MM:SSZ`, `<data>` standard padded base64
//! with any whitespace inside. Anything else is a [`PlistError`] naming the
//! byte offset where the problem was found.
//!
//! # Bounds on hostile input
//!
//! The reader is meant for untrusted uploads, so it never panics and its cost
//! is bounded by the input:
//!
//! * input longer than `MAX_INPUT_BYTES` (16 MiB) is refused before it is
//!   looked at;
//! * dicts and arrays may nest at most `MAX_DEPTH` (64) levels deep;
//! * a document may hold at most `MAX_VALUES` (1,000,000) values;
//! * parsing is iterative (an explicit stack of at most `MAX_DEPTH` open
//!   containers), so no input can overflow the call stack;
//! * every byte is scanned a bounded number of times, text is built by
//!   appending only, and duplicate keys are found by a scan of at most 16 keys
//!   then with a hash set, so time is linear in the input;
//! * decoded strings and data are never longer than the text they came from,
//!   and no entity can be declared (internal DOCTYPE subsets are refused), so
//!   there is no entity expansion.
//!
//! `to_json` converts a value into JSON for display and APIs; dict keys keep
//! their order only when `serde_json` is built with its `preserve_order`
//! feature (otherwise they come out sorted).

mod json;
mod read;
mod value;
mod write;

#[cfg(test)]
mod tests;

#[cfg(any(feature = "ca", test))]
pub(crate) use json::to_json;
pub(crate) use read::from_xml;
pub use value::{Dict, Value};
pub use write::to_xml;

/// Largest input [`from_xml`] accepts, in bytes (16 MiB).
pub(crate) const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of dicts and arrays that [`from_xml`] accepts and
/// [`to_xml`] writes.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most values (of any kind, containers included) one document may hold.
pub(crate) const MAX_VALUES: usize = 1_000_000;

/// Why a property list could not be read or written.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlistError {
    /// The document is not a well-formed plist.
    #[error("plist: {message} at byte {offset}")]
    Syntax {
        /// Byte offset in the input where the problem was found.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// The input is larger than `MAX_INPUT_BYTES`.
    #[error("plist: input of {size} bytes is larger than the 16 MiB limit")]
    TooLarge {
        /// Size of the refused input.
        size: usize,
    },
    /// Dicts and arrays are nested deeper than `MAX_DEPTH`.
    #[error("plist: nested deeper than 64 levels at byte {offset}")]
    TooDeep {
        /// Byte offset of the container that went too deep (0 when writing).
        offset: usize,
    },
    /// The document holds more than `MAX_VALUES` values.
    #[error("plist: more than 1000000 values at byte {offset}")]
    TooManyValues {
        /// Byte offset of the first value over the limit.
        offset: usize,
    },
    /// The value cannot be written as XML.
    #[error("plist: cannot write {0}")]
    Unwritable(String),
}

impl PlistError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            PlistError::Syntax { .. }
            | PlistError::TooLarge { .. }
            | PlistError::TooDeep { .. }
            | PlistError::TooManyValues { .. }
            | PlistError::Unwritable(_) => ErrorKind::Input,
        }
    }
}

/// The `Char` production of XML 1.0.
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}
