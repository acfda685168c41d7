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
//! than [`MAX_DEPTH`], which the reader would refuse.
//!
//! # Reader
//!
//! [`from_xml`] accepts an optional UTF-8 byte order mark, an XML declaration,
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
//! * input longer than [`MAX_INPUT_BYTES`] (16 MiB) is refused before it is
//!   looked at;
//! * dicts and arrays may nest at most [`MAX_DEPTH`] (64) levels deep;
//! * a document may hold at most [`MAX_VALUES`] (1,000,000) values;
//! * parsing is iterative (an explicit stack of at most [`MAX_DEPTH`] open
//!   containers), so no input can overflow the call stack;
//! * every byte is scanned a bounded number of times, text is built by
//!   appending only, and duplicate keys are found by a scan of at most 16 keys
//!   then with a hash set, so time is linear in the input;
//! * decoded strings and data are never longer than the text they came from,
//!   and no entity can be declared (internal DOCTYPE subsets are refused), so
//!   there is no entity expansion.
//!
//! [`to_json`] converts a value into JSON for display and APIs; dict keys keep
//! their order only when `serde_json` is built with its `preserve_order`
//! feature (otherwise they come out sorted).

use std::collections::HashSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Largest input [`from_xml`] accepts, in bytes (16 MiB).
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of dicts and arrays that [`from_xml`] accepts and
/// [`to_xml`] writes.
pub const MAX_DEPTH: usize = 64;
/// Most values (of any kind, containers included) one document may hold.
pub const MAX_VALUES: usize = 1_000_000;

/// Length of the base64 lines inside `<data>`, as Apple's `plutil` writes.
const DATA_LINE_LEN: usize = 68;

const XML_HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
<plist version=\"1.0\">\n";

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
    /// The input is larger than [`MAX_INPUT_BYTES`].
    #[error("plist: input of {size} bytes is larger than the 16 MiB limit")]
    TooLarge {
        /// Size of the refused input.
        size: usize,
    },
    /// Dicts and arrays are nested deeper than [`MAX_DEPTH`].
    #[error("plist: nested deeper than 64 levels at byte {offset}")]
    TooDeep {
        /// Byte offset of the container that went too deep (0 when writing).
        offset: usize,
    },
    /// The document holds more than [`MAX_VALUES`] values.
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

/// A property list value.
///
/// `PartialEq` compares dicts in order and reals as `f64` (so NaN is not
/// equal to itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<string>`
    String(String),
    /// `<integer>`
    Integer(i64),
    /// `<real>`
    Real(f64),
    /// `<true/>` or `<false/>`
    Bool(bool),
    /// `<date>`, to the second in UTC when written
    Date(OffsetDateTime),
    /// `<data>`
    Data(Vec<u8>),
    /// `<array>`
    Array(Vec<Value>),
    /// `<dict>`
    Dict(Dict),
}

impl Value {
    /// The text of a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number in an `Integer`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number in a `Real`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(r) => Some(*r),
            _ => None,
        }
    }

    /// The truth of a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The instant in a `Date`.
    pub fn as_date(&self) -> Option<OffsetDateTime> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    /// The bytes of a `Data`.
    pub fn as_data(&self) -> Option<&[u8]> {
        match self {
            Value::Data(d) => Some(d),
            _ => None,
        }
    }

    /// The items of an `Array`.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries of a `Dict`.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl From<f64> for Value {
    fn from(r: f64) -> Self {
        Value::Real(r)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<OffsetDateTime> for Value {
    fn from(d: OffsetDateTime) -> Self {
        Value::Date(d)
    }
}

impl From<Vec<u8>> for Value {
    fn from(d: Vec<u8>) -> Self {
        Value::Data(d)
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}

impl From<Dict> for Value {
    fn from(d: Dict) -> Self {
        Value::Dict(d)
    }
}

/// A plist dictionary: string keys, each at most once, kept in insertion
/// (document) order.
///
/// Lookups are linear scans, which suits the few dozen keys of a profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dict(Vec<(String, Value)>);

impl Dict {
    /// An empty dict.
    pub fn new() -> Self {
        Dict(Vec::new())
    }

    /// Sets `key` to `value`. An existing key keeps its place and its old
    /// value is returned; a new key goes at the end.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Dict {
    /// Collects entries with [`Dict::insert`]: a repeated key keeps its first
    /// place and its last value.
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut dict = Dict::new();
        for (k, v) in iter {
            dict.insert(k, v);
        }
        dict
    }
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/// Writes `root` as an XML plist in Apple's layout.
///
/// Fails on text XML 1.0 cannot carry, on a date whose UTC year is outside
/// 0000–9999, and on nesting deeper than [`MAX_DEPTH`].
pub fn to_xml(root: &Value) -> Result<String, PlistError> {
    let mut out = String::with_capacity(4096);
    out.push_str(XML_HEADER);
    write_value(&mut out, root, 0)?;
    out.push_str("</plist>\n");
    Ok(out)
}

/// Writes one value starting on a new line; `level` is the number of
/// containers around it, which is also its indentation in tabs.
fn write_value(out: &mut String, value: &Value, level: usize) -> Result<(), PlistError> {
    indent(out, level);
    match value {
        Value::String(s) => {
            out.push_str("<string>");
            escape_into(out, s)?;
            out.push_str("</string>\n");
        }
        Value::Integer(i) => {
            out.push_str("<integer>");
            out.push_str(&i.to_string());
            out.push_str("</integer>\n");
        }
        Value::Real(r) => {
            out.push_str("<real>");
            out.push_str(&format_real(*r));
            out.push_str("</real>\n");
        }
        Value::Bool(true) => out.push_str("<true/>\n"),
        Value::Bool(false) => out.push_str("<false/>\n"),
        Value::Date(d) => {
            let text = format_date(*d).ok_or_else(|| {
                PlistError::Unwritable(format!("date {d}: its UTC year is outside 0000-9999"))
            })?;
            out.push_str("<date>");
            out.push_str(&text);
            out.push_str("</date>\n");
        }
        Value::Data(d) if d.is_empty() => out.push_str("<data></data>\n"),
        Value::Data(d) => {
            out.push_str("<data>\n");
            let encoded = STANDARD.encode(d);
            let mut start = 0;
            while start < encoded.len() {
                let end = (start + DATA_LINE_LEN).min(encoded.len());
                indent(out, level + 1);
                // Base64 is ASCII, so every index is a char boundary.
                out.push_str(&encoded[start..end]);
                out.push('\n');
                start = end;
            }
            indent(out, level);
            out.push_str("</data>\n");
        }
        Value::Array(items) if items.is_empty() => out.push_str("<array/>\n"),
        Value::Array(items) => {
            check_write_depth(level)?;
            out.push_str("<array>\n");
            for item in items {
                write_value(out, item, level + 1)?;
            }
            indent(out, level);
            out.push_str("</array>\n");
        }
        Value::Dict(dict) if dict.is_empty() => out.push_str("<dict/>\n"),
        Value::Dict(dict) => {
            check_write_depth(level)?;
            out.push_str("<dict>\n");
            for (key, item) in dict.iter() {
                indent(out, level + 1);
                out.push_str("<key>");
                escape_into(out, key)?;
                out.push_str("</key>\n");
                write_value(out, item, level + 1)?;
            }
            indent(out, level);
            out.push_str("</dict>\n");
        }
    }
    Ok(())
}

/// A container written at `level` is the `level + 1`th one open.
fn check_write_depth(level: usize) -> Result<(), PlistError> {
    if level >= MAX_DEPTH {
        Err(PlistError::TooDeep { offset: 0 })
    } else {
        Ok(())
    }
}

fn indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n('\t', level));
}

/// Appends `text` escaped for XML character data.
fn escape_into(out: &mut String, text: &str) -> Result<(), PlistError> {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            c => {
                return Err(PlistError::Unwritable(format!(
                    "text holding U+{:04X}, a character XML 1.0 cannot represent",
                    u32::from(c)
                )))
            }
        }
    }
    Ok(())
}

/// The `Char` production of XML 1.0.
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Apple's spelling of reals: shortest round-tripping decimal, `nan`,
/// `+infinity`, `-infinity`.
fn format_real(r: f64) -> String {
    if r.is_nan() {
        "nan".to_owned()
    } else if r.is_infinite() {
        if r > 0.0 { "+infinity" } else { "-infinity" }.to_owned()
    } else {
        format!("{r:?}")
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, or `None` when the year does not fit.
fn format_date(d: OffsetDateTime) -> Option<String> {
    let u = d.checked_to_offset(UtcOffset::UTC)?;
    if !(0..=9999).contains(&u.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        u.year(),
        u8::from(u.month()),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    ))
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

/// Converts a value to JSON: dicts become objects (in order when `serde_json`
/// has `preserve_order`), dates RFC 3339 strings in UTC to the second (null
/// if the year is outside 0000–9999), data standard base64 strings, reals
/// numbers (null when not finite).
///
/// This recurses once per nesting level, which [`from_xml`] bounds by
/// [`MAX_DEPTH`].
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::String(s) => J::String(s.clone()),
        Value::Integer(i) => J::from(*i),
        Value::Real(r) => serde_json::Number::from_f64(*r).map_or(J::Null, J::Number),
        Value::Bool(b) => J::Bool(*b),
        Value::Date(d) => format_date(*d).map_or(J::Null, J::String),
        Value::Data(d) => J::String(STANDARD.encode(d)),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Dict(dict) => J::Object(
            dict.iter()
                .map(|(k, v)| (k.to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// Reads an XML plist. See the module documentation for what is accepted and
/// the limits that apply.
pub fn from_xml(bytes: &[u8]) -> Result<Value, PlistError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(PlistError::TooLarge { size: bytes.len() });
    }
    let src = std::str::from_utf8(bytes).map_err(|e| PlistError::Syntax {
        offset: e.valid_up_to(),
        message: "input is not valid UTF-8".to_owned(),
    })?;
    check_xml_chars(src.as_bytes())?;
    Parser {
        src,
        b: src.as_bytes(),
        pos: 0,
        values: 0,
    }
    .document()
}

/// Refuses characters that may not appear anywhere in an XML 1.0 document.
/// `b` is known to be valid UTF-8.
fn check_xml_chars(b: &[u8]) -> Result<(), PlistError> {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // Almost every byte takes the first test; a plain loop keeps this
        // fast in unoptimised builds as well.
        if c >= 0x20 && c != 0xEF {
            i += 1;
            continue;
        }
        let bad = if c < 0x20 {
            !matches!(c, b'\t' | b'\n' | b'\r')
        } else {
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
            b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF))
        };
        if bad {
            return Err(PlistError::Syntax {
                offset: i,
                message: "character not allowed in XML".to_owned(),
            });
        }
        i += 1;
    }
    Ok(())
}

/// Up to this many keys, a dict finds a duplicate key by scanning itself;
/// beyond, with a hash set (time stays linear in the input).
const SCAN_KEYS: usize = 16;

/// A dict or array whose end tag has not been reached yet.
enum Frame {
    Array(Vec<Value>),
    Dict {
        dict: Dict,
        /// Keys seen so far once the dict has [`SCAN_KEYS`], to find
        /// duplicates without rescanning.
        keys: HashSet<String>,
        /// A key waiting for its value, with the offset of its `<key>`.
        pending: Option<(String, usize)>,
    },
}

impl Frame {
    fn tag(&self) -> &'static str {
        match self {
            Frame::Array(_) => "array",
            Frame::Dict { .. } => "dict",
        }
    }
}

/// Parsing state. `pos` only ever moves forward. Text is sliced from `src`
/// only at offsets next to ASCII delimiters, which are char boundaries.
struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    values: usize,
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Parser<'a> {
    fn err(&self, offset: usize, message: impl Into<String>) -> PlistError {
        PlistError::Syntax {
            offset,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at(&self, s: &str) -> bool {
        self.b
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// First offset at or after `from` where `needle` starts.
    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        self.b
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| from + i)
    }

    /// At `<!--`: moves past the matching `-->`.
    fn skip_comment(&mut self) -> Result<(), PlistError> {
        let start = self.pos;
        match self.find(start + 4, b"-->") {
            Some(end) => {
                self.pos = end + 3;
                Ok(())
            }
            None => Err(self.err(start, "unterminated comment")),
        }
    }

    /// At `<?`: moves past the matching `?>`.
    fn skip_pi(&mut self) -> Result<(), PlistError> {
        let start = self.pos;
        match self.find(start + 2, b"?>") {
            Some(end) => {
                self.pos = end + 2;
                Ok(())
            }
            None => Err(self.err(start, "unterminated processing instruction")),
        }
    }

    /// At `<!DOCTYPE`: moves past its `>`. Internal subsets, which could
    /// declare entities, are refused.
    fn skip_doctype(&mut self) -> Result<(), PlistError> {
        let start = self.pos;
        self.pos += "<!DOCTYPE".len();
        while let Some(c) = self.peek() {
            match c {
                b'"' | b'\'' => match self.find(self.pos + 1, &[c]) {
                    Some(end) => self.pos = end + 1,
                    None => return Err(self.err(self.pos, "unterminated literal in DOCTYPE")),
                },
                b'[' => {
                    return Err(self.err(self.pos, "DOCTYPE internal subsets are not supported"))
                }
                b'<' => return Err(self.err(self.pos, "unterminated DOCTYPE")),
                b'>' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => self.pos += 1,
            }
        }
        Err(self.err(start, "unterminated DOCTYPE"))
    }

    /// Skips whitespace and comments.
    fn skip_misc(&mut self) -> Result<(), PlistError> {
        loop {
            self.skip_ws();
            if self.at("<!--") {
                self.skip_comment()?;
            } else {
                return Ok(());
            }
        }
    }

    /// An element or attribute name.
    fn name(&mut self) -> Result<&'a str, PlistError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':') || c >= 0x80
        }) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(start, "expected a name"));
        }
        Ok(&self.src[start..self.pos])
    }

    /// At `<` of a start tag: reads it, checking (and ignoring) attributes.
    /// Returns the name and whether the tag is self-closing (`<x/>`).
    fn open_tag(&mut self) -> Result<(&'a str, bool), PlistError> {
        let start = self.pos;
        self.pos += 1;
        let name = self.name()?;
        loop {
            let spaced = self.skip_ws() > 0;
            match self.peek() {
                Some(b'>') => {
                    self.pos += 1;
                    return Ok((name, false));
                }
                Some(b'/') if self.b.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    return Ok((name, true));
                }
                None => return Err(self.err(start, format!("unterminated <{name}> tag"))),
                Some(_) if spaced => self.attribute()?,
                Some(_) => return Err(self.err(self.pos, format!("malformed <{name}> tag"))),
            }
        }
    }

    /// `name = "value"` or `name = 'value'`.
    fn attribute(&mut self) -> Result<(), PlistError> {
        self.name()?;
        self.skip_ws();
        if self.peek() != Some(b'=') {
            return Err(self.err(self.pos, "expected '=' after attribute name"));
        }
        self.pos += 1;
        self.skip_ws();
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(self.err(self.pos, "expected a quoted attribute value")),
        };
        let open = self.pos;
        let close = self
            .find(open + 1, &[quote])
            .ok_or_else(|| self.err(open, "unterminated attribute value"))?;
        if self.b[open + 1..close].contains(&b'<') {
            return Err(self.err(open, "'<' in attribute value"));
        }
        self.pos = close + 1;
        Ok(())
    }

    /// At `</`: reads the end tag and returns its name.
    fn close_tag(&mut self) -> Result<&'a str, PlistError> {
        let start = self.pos;
        self.pos += 2;
        let name = self.name()?;
        self.skip_ws();
        if self.peek() != Some(b'>') {
            return Err(self.err(start, format!("unterminated </{name}> tag")));
        }
        self.pos += 1;
        Ok(name)
    }

    /// Reads an end tag that must be `</elem>`.
    fn expect_close(&mut self, elem: &str) -> Result<(), PlistError> {
        let start = self.pos;
        if !self.at("</") {
            return Err(if self.at_end() {
                self.err(start, format!("unexpected end of input: missing </{elem}>"))
            } else {
                self.err(start, format!("expected </{elem}>"))
            });
        }
        let name = self.close_tag()?;
        if name != elem {
            return Err(self.err(start, format!("mismatched </{name}>: expected </{elem}>")));
        }
        Ok(())
    }

    /// Counts one more value against [`MAX_VALUES`].
    fn count_value(&mut self, offset: usize) -> Result<(), PlistError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            Err(PlistError::TooManyValues { offset })
        } else {
            Ok(())
        }
    }

    fn document(mut self) -> Result<Value, PlistError> {
        if self.at("\u{FEFF}") {
            self.pos += 3;
        }
        if self.at("<?xml")
            && self
                .b
                .get(self.pos + 5)
                .is_some_and(|&c| is_ws(c) || c == b'?')
        {
            self.skip_pi()?;
        }
        let mut seen_doctype = false;
        loop {
            self.skip_ws();
            if self.at("<!--") {
                self.skip_comment()?;
            } else if self.at("<!DOCTYPE") {
                if seen_doctype {
                    return Err(self.err(self.pos, "second DOCTYPE"));
                }
                seen_doctype = true;
                self.skip_doctype()?;
            } else if self.at("<?") {
                if self.at("<?xml")
                    && self
                        .b
                        .get(self.pos + 5)
                        .is_some_and(|&c| is_ws(c) || c == b'?')
                {
                    return Err(self.err(self.pos, "XML declaration not at the start"));
                }
                self.skip_pi()?;
            } else {
                break;
            }
        }
        let start = self.pos;
        if self.peek() != Some(b'<') || self.at("<!") || self.at("</") {
            return Err(if self.at_end() {
                self.err(start, "no <plist> element")
            } else {
                self.err(start, "expected the <plist> element")
            });
        }
        let (name, empty) = self.open_tag()?;
        if name != "plist" {
            return Err(self.err(start, format!("root element is <{name}>, not <plist>")));
        }
        if empty {
            return Err(self.err(start, "<plist/> holds no value"));
        }

        let root = self.body()?;

        self.skip_misc()?;
        let start = self.pos;
        if self.at("</") {
            self.expect_close("plist")?;
        } else if self.at_end() {
            return Err(self.err(start, "unexpected end of input: missing </plist>"));
        } else if self.peek() == Some(b'<') {
            return Err(self.err(start, "more than one value inside <plist>"));
        } else {
            return Err(self.err(start, "text inside <plist>"));
        }
        self.skip_misc()?;
        if !self.at_end() {
            return Err(self.err(self.pos, "content after </plist>"));
        }
        Ok(root)
    }

    /// Reads the one value inside `<plist>`, with an explicit stack instead
    /// of recursion.
    fn body(&mut self) -> Result<Value, PlistError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            self.skip_misc()?;
            let start = self.pos;
            match self.peek() {
                None => {
                    let open = stack.last().map_or("plist", Frame::tag);
                    return Err(
                        self.err(start, format!("unexpected end of input: missing </{open}>"))
                    );
                }
                Some(b'<') => {}
                Some(_) => {
                    let open = stack.last().map_or("plist", Frame::tag);
                    return Err(self.err(start, format!("text inside <{open}>")));
                }
            }

            let value = if self.at("</") {
                let name = self.close_tag()?;
                let Some(frame) = stack.pop() else {
                    return Err(if name == "plist" {
                        self.err(start, "<plist> holds no value")
                    } else {
                        self.err(start, format!("mismatched </{name}>: expected a value"))
                    });
                };
                if name != frame.tag() {
                    return Err(self.err(
                        start,
                        format!("mismatched </{name}>: expected </{}>", frame.tag()),
                    ));
                }
                match frame {
                    Frame::Array(items) => Value::Array(items),
                    Frame::Dict {
                        pending: Some((key, at)),
                        ..
                    } => return Err(self.err(at, format!("key {:?} has no value", snippet(&key)))),
                    Frame::Dict { dict, .. } => Value::Dict(dict),
                }
            } else if self.at("<!") || self.at("<?") {
                return Err(self.err(start, "unexpected markup between values"));
            } else {
                let (name, empty) = self.open_tag()?;
                // Inside a dict, keys and values must alternate.
                match (stack.last_mut(), name) {
                    (
                        Some(Frame::Dict {
                            pending: None,
                            keys,
                            dict,
                        }),
                        "key",
                    ) => {
                        let key = if empty {
                            String::new()
                        } else {
                            self.text("key", start)?
                        };
                        // Small dicts (a profile's): a scan; large ones: a set.
                        let duplicate = if dict.len() < SCAN_KEYS {
                            dict.contains_key(&key)
                        } else {
                            if keys.is_empty() {
                                keys.extend(dict.keys().map(str::to_owned));
                            }
                            !keys.insert(key.clone())
                        };
                        if duplicate {
                            return Err(
                                self.err(start, format!("duplicate key {:?}", snippet(&key)))
                            );
                        }
                        if let Some(Frame::Dict { pending, .. }) = stack.last_mut() {
                            *pending = Some((key, start));
                        }
                        continue;
                    }
                    (
                        Some(Frame::Dict {
                            pending: Some((key, at)),
                            ..
                        }),
                        "key",
                    ) => {
                        let (key, at) = (snippet(key), *at);
                        return Err(self.err(at, format!("key {key:?} has no value")));
                    }
                    (_, "key") => return Err(self.err(start, "<key> outside a <dict>")),
                    (Some(Frame::Dict { pending: None, .. }), _) => {
                        return Err(
                            self.err(start, format!("<{name}> in a <dict> without a <key>"))
                        );
                    }
                    _ => {}
                }
                match name {
                    "dict" | "array" if !empty => {
                        if stack.len() >= MAX_DEPTH {
                            return Err(PlistError::TooDeep { offset: start });
                        }
                        stack.push(if name == "dict" {
                            Frame::Dict {
                                dict: Dict::new(),
                                keys: HashSet::new(),
                                pending: None,
                            }
                        } else {
                            Frame::Array(Vec::new())
                        });
                        continue;
                    }
                    "dict" => Value::Dict(Dict::new()),
                    "array" => Value::Array(Vec::new()),
                    "string" if empty => Value::String(String::new()),
                    "string" => Value::String(self.text("string", start)?),
                    "data" if empty => Value::Data(Vec::new()),
                    "data" => {
                        let text = self.text("data", start)?;
                        let compact: Vec<u8> =
                            text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
                        Value::Data(
                            STANDARD
                                .decode(compact)
                                .map_err(|_| self.err(start, "bad base64 in <data>"))?,
                        )
                    }
                    "true" | "false" => {
                        if !empty {
                            self.skip_ws();
                            self.expect_close(name)?;
                        }
                        Value::Bool(name == "true")
                    }
                    "integer" | "real" | "date" if empty => {
                        return Err(self.err(start, format!("empty <{name}/>")));
                    }
                    "integer" => {
                        let text = self.text("integer", start)?;
                        Value::Integer(parse_integer(&text).ok_or_else(|| {
                            self.err(start, format!("bad integer {:?}", snippet(&text)))
                        })?)
                    }
                    "real" => {
                        let text = self.text("real", start)?;
                        Value::Real(
                            text.trim_matches(|c: char| c.is_ascii_whitespace())
                                .parse()
                                .map_err(|_| {
                                    self.err(start, format!("bad real {:?}", snippet(&text)))
                                })?,
                        )
                    }
                    "date" => {
                        let text = self.text("date", start)?;
                        Value::Date(parse_date(&text).ok_or_else(|| {
                            self.err(start, format!("bad date {:?}", snippet(&text)))
                        })?)
                    }
                    "plist" => return Err(self.err(start, "<plist> inside <plist>")),
                    _ => return Err(self.err(start, format!("unknown element <{name}>"))),
                }
            };

            self.count_value(start)?;
            match stack.last_mut() {
                None => return Ok(value),
                Some(Frame::Array(items)) => items.push(value),
                Some(Frame::Dict { dict, pending, .. }) => {
                    // A value only gets here after its key (checked above).
                    if let Some((key, _)) = pending.take() {
                        dict.0.push((key, value));
                    }
                }
            }
        }
    }

    /// Reads the text content of `<elem>` (whose start tag began at
    /// `tag_start`) up to and including `</elem>`, resolving references and
    /// CDATA sections and normalising line ends.
    fn text(&mut self, elem: &str, tag_start: usize) -> Result<String, PlistError> {
        let b = self.b;
        let mut out = String::new();
        loop {
            // Plain index loops here and in `reference`: this is the hot path
            // for large strings and stays fast in unoptimised builds too.
            let run = self.pos;
            let mut end = run;
            while end < b.len() && b[end] != b'<' && b[end] != b'&' {
                end += 1;
            }
            if end > run {
                push_normalized(&mut out, &self.src[run..end]);
            }
            self.pos = end;
            match b.get(end) {
                None => {
                    return Err(self.err(tag_start, format!("unterminated <{elem}>")));
                }
                Some(b'&') => self.reference(&mut out)?,
                _ if self.at("</") => {
                    self.expect_close(elem)?;
                    return Ok(out);
                }
                _ if self.at("<![CDATA[") => {
                    let start = self.pos;
                    let body = start + "<![CDATA[".len();
                    let end = self
                        .find(body, b"]]>")
                        .ok_or_else(|| self.err(start, "unterminated CDATA section"))?;
                    push_normalized(&mut out, &self.src[body..end]);
                    self.pos = end + 3;
                }
                _ if self.at("<!--") => self.skip_comment()?,
                _ => return Err(self.err(self.pos, format!("markup inside <{elem}>"))),
            }
        }
    }

    /// At `&`: appends the character the reference stands for.
    fn reference(&mut self, out: &mut String) -> Result<(), PlistError> {
        /// Longest reference name looked for, so a stray `&` costs O(1).
        const LONGEST: usize = 32;
        let b = self.b;
        let start = self.pos;
        let name_start = start + 1;
        let limit = (name_start + LONGEST).min(b.len());
        let mut semi = name_start;
        while semi < limit
            && b[semi] != b';'
            && b[semi] != b'<'
            && b[semi] != b'&'
            && !is_ws(b[semi])
        {
            semi += 1;
        }
        if semi == limit || b[semi] != b';' {
            return Err(self.err(start, "malformed entity reference"));
        }
        let name = &self.src[name_start..semi];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let number = if let Some(hex) = name.strip_prefix("#x") {
                    parse_digits(hex, 16)
                } else if let Some(dec) = name.strip_prefix('#') {
                    parse_digits(dec, 10)
                } else {
                    return Err(self.err(start, format!("unknown entity &{};", snippet(name))));
                };
                number
                    .and_then(char::from_u32)
                    .filter(|&c| is_xml_char(c))
                    .ok_or_else(|| {
                        self.err(start, format!("invalid character reference &{name};"))
                    })?
            }
        };
        out.push(c);
        self.pos = semi + 1;
        Ok(())
    }
}

/// Appends `text` with `\r\n` and lone `\r` turned into `\n` (XML 1.0 §2.11).
fn push_normalized(out: &mut String, text: &str) {
    if !text.contains('\r') {
        out.push_str(text);
        return;
    }
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
}

/// A non-empty run of digits in `radix` (no sign), as a `u32`.
fn parse_digits(digits: &str, radix: u32) -> Option<u32> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// An `<integer>`: optional sign, then decimal digits or `0x` and hex digits.
fn parse_integer(text: &str) -> Option<i64> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = match rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        Some(hex) => (16, hex),
        None => (10, rest),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// A `<date>`: exactly `YYYY-MM-DDTHH:MM:SSZ`, surrounding whitespace allowed.
fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let b = text
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u16> {
        b[from..to].iter().try_fold(0u16, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
        })
    };
    let small = |from: usize| num(from, from + 2).and_then(|n| u8::try_from(n).ok());
    let month = Month::try_from(small(5)?).ok()?;
    let date = Date::from_calendar_date(i32::from(num(0, 4)?), month, small(8)?).ok()?;
    let time = Time::from_hms(small(11)?, small(14)?, small(17)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// At most 40 characters of `text`, for error messages.
fn snippet(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};
    use time::macros::datetime;

    /// A small deterministic PRNG so the tests need no extra crates.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }

        fn hex(&mut self, n: usize) -> String {
            (0..n)
                .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
                .collect()
        }
    }

    fn dict(entries: Vec<(&str, Value)>) -> Value {
        Value::Dict(entries.into_iter().collect())
    }

    fn strings(items: &[&str]) -> Value {
        Value::Array(items.iter().map(|s| Value::from(*s)).collect())
    }

    fn profile() -> Value {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let devices = (0..1000).map(|_| Value::String(rng.hex(40))).collect();
        let certs = (0..3)
            .map(|i| Value::Data(rng.bytes(1000 + i * 17)))
            .collect();
        let push = (0..2).map(|_| Value::String(rng.hex(64))).collect();
        dict(vec![
            ("AppIDName", "Example".into()),
            ("ApplicationIdentifierPrefix", strings(&["A1B2C3D4E5"])),
            ("CreationDate", datetime!(2025-12-01 16:54:15 UTC).into()),
            ("Platform", strings(&["iOS"])),
            ("IsXcodeManaged", false.into()),
            ("DeveloperCertificates", Value::Array(certs)),
            (
                "Entitlements",
                dict(vec![
                    (
                        "application-identifier",
                        "A1B2C3D4E5.com.example.app".into(),
                    ),
                    ("aps-environment", "development".into()),
                    ("get-task-allow", true.into()),
                    ("keychain-access-groups", strings(&["A1B2C3D4E5.*"])),
                ]),
            ),
            ("ExpirationDate", datetime!(2026-12-01 16:54:15 UTC).into()),
            ("Name", "Dev & Test <iOS> profile".into()),
            ("ProvisionedDevices", Value::Array(devices)),
            ("PushCertificates", Value::Array(push)),
            ("TimeToLive", 365i64.into()),
            ("UUID", "0F3C1C5E-7A2B-4C1D-9E8F-1234567890AB".into()),
            ("Version", 1i64.into()),
        ])
    }

    /// A small document using every kind of value, for the truncation and
    /// mutation tests.
    fn sample() -> String {
        let value = dict(vec![
            ("Name", "A & B <c> \"d\" 'e' \r\n é 😀".into()),
            ("Count", (-42i64).into()),
            ("Ratio", 0.25.into()),
            ("On", true.into()),
            ("Off", false.into()),
            ("When", datetime!(2026-12-01 16:54:15 UTC).into()),
            ("Blob", Value::Data((0u8..=99).collect())),
            ("None", Value::Data(Vec::new())),
            ("Empty", Value::Array(Vec::new())),
            ("Nothing", Value::Dict(Dict::new())),
            ("Nested", dict(vec![("List", strings(&["x", "", "y"]))])),
        ]);
        to_xml(&value).unwrap()
    }

    fn syntax_err(doc: &str) -> String {
        match from_xml(doc.as_bytes()) {
            Err(PlistError::Syntax { message, .. }) => message,
            other => panic!("expected a syntax error for {doc:?}, got {other:?}"),
        }
    }

    fn wrap(body: &str) -> String {
        format!("{XML_HEADER}{body}\n</plist>\n")
    }

    #[test]
    fn profile_round_trips() {
        let original = profile();
        let xml = to_xml(&original).unwrap();
        let back = from_xml(xml.as_bytes()).unwrap();
        assert_eq!(back, original);
        let entitlements = back.as_dict().unwrap().get("Entitlements").unwrap();
        assert_eq!(
            entitlements
                .as_dict()
                .unwrap()
                .get("get-task-allow")
                .and_then(Value::as_bool),
            Some(true)
        );
        assert_eq!(to_xml(&back).unwrap(), xml);
    }

    #[test]
    fn writer_golden_output() {
        let value = dict(vec![
            ("AppIDName", "Example".into()),
            ("Name", "A & B <c>".into()),
            ("Version", 1i64.into()),
            ("Ratio", 1.5.into()),
            ("On", true.into()),
            ("Off", false.into()),
            (
                "CreationDate",
                datetime!(2026-12-01 16:54:15.75 +02:00).into(),
            ),
            (
                "Blob",
                Value::Data(b"The quick brown fox jumps over the lazy dog. 0123456789".to_vec()),
            ),
            ("Empty", Value::Data(Vec::new())),
            ("List", Value::Array(Vec::new())),
            ("Map", Value::Dict(Dict::new())),
            ("Nested", dict(vec![("Platform", strings(&["iOS"]))])),
        ]);
        let expected = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">
<plist version=\"1.0\">
<dict>
\t<key>AppIDName</key>
\t<string>Example</string>
\t<key>Name</key>
\t<string>A &amp; B &lt;c&gt;</string>
\t<key>Version</key>
\t<integer>1</integer>
\t<key>Ratio</key>
\t<real>1.5</real>
\t<key>On</key>
\t<true/>
\t<key>Off</key>
\t<false/>
\t<key>CreationDate</key>
\t<date>2026-12-01T14:54:15Z</date>
\t<key>Blob</key>
\t<data>
\t\tVGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZy4gMDEyMzQ1
\t\tNjc4OQ==
\t</data>
\t<key>Empty</key>
\t<data></data>
\t<key>List</key>
\t<array/>
\t<key>Map</key>
\t<dict/>
\t<key>Nested</key>
\t<dict>
\t\t<key>Platform</key>
\t\t<array>
\t\t\t<string>iOS</string>
\t\t</array>
\t</dict>
</dict>
</plist>
";
        assert_eq!(to_xml(&value).unwrap(), expected);
    }

    #[test]
    fn writer_scalar_root_and_reals() {
        assert_eq!(
            to_xml(&"hi".into()).unwrap(),
            format!("{XML_HEADER}<string>hi</string>\n</plist>\n")
        );
        for (r, text) in [
            (1.0, "1.0"),
            (-0.5, "-0.5"),
            (1e300, "1e300"),
            (f64::INFINITY, "+infinity"),
            (f64::NEG_INFINITY, "-infinity"),
            (f64::NAN, "nan"),
        ] {
            let xml = to_xml(&Value::Real(r)).unwrap();
            assert!(xml.contains(&format!("<real>{text}</real>")), "{xml}");
            let back = from_xml(xml.as_bytes()).unwrap().as_f64().unwrap();
            assert!(back == r || (r.is_nan() && back.is_nan()));
        }
    }

    #[test]
    fn carriage_returns_survive_a_round_trip() {
        let value = Value::from("a\rb\r\nc\n");
        let xml = to_xml(&value).unwrap();
        assert!(xml.contains("a&#13;b&#13;\nc\n"));
        assert_eq!(from_xml(xml.as_bytes()).unwrap(), value);
        // Raw line ends are normalised, as XML requires.
        let raw = wrap("<string>a\r\nb\rc<![CDATA[\r\n]]></string>");
        assert_eq!(from_xml(raw.as_bytes()).unwrap(), Value::from("a\nb\nc\n"));
    }

    #[test]
    fn parses_hand_written_apple_style_plist() {
        let doc = "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!-- a comment before the DOCTYPE -->
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">
<plist xmlns:x='urn:x' version='1.0' >
<!-- comment inside plist -->
<dict>
    <key>Letters</key> <!-- between key and value -->
    <string>&#x41;&#65;&lt;&gt;&amp;&quot;&apos;</string>
    <key>Raw</key>
    <string><![CDATA[<not> & markup]]> and text</string>
    <key>EmptyDict</key>
    <dict/>
    <key>EmptyArray</key>
    <array/>
    <key>EmptyString</key>
    <string/>
    <key/>
    <data/>
    <key>Blob</key>
    <data>
\t\tAAEC
\t\tAwQF\r
\t  Bg==
\t</data>
    <key>Negative</key>
    <integer>-5</integer>
    <key>Hex</key>
    <integer> 0x1F </integer>
    <key>Real</key>
    <real>1.2500000000000000</real>
    <key>Yes</key>
    <true></true>
    <key>When</key>
    <date>2026-12-01T16:54:15Z</date>
</dict>
<!-- trailing comment -->
</plist>
<!-- after the root -->
";
        let value = from_xml(doc.as_bytes()).unwrap();
        let d = value.as_dict().unwrap();
        assert_eq!(
            d.keys().collect::<Vec<_>>(),
            [
                "Letters",
                "Raw",
                "EmptyDict",
                "EmptyArray",
                "EmptyString",
                "",
                "Blob",
                "Negative",
                "Hex",
                "Real",
                "Yes",
                "When"
            ]
        );
        assert_eq!(d.get("Letters").and_then(Value::as_str), Some("AA<>&\"'"));
        assert_eq!(
            d.get("Raw").and_then(Value::as_str),
            Some("<not> & markup and text")
        );
        assert_eq!(
            d.get("EmptyDict").and_then(Value::as_dict).map(Dict::len),
            Some(0)
        );
        assert_eq!(
            d.get("EmptyArray")
                .and_then(Value::as_array)
                .map(<[_]>::len),
            Some(0)
        );
        assert_eq!(d.get("EmptyString").and_then(Value::as_str), Some(""));
        assert_eq!(d.get("").and_then(Value::as_data), Some(&[][..]));
        assert_eq!(
            d.get("Blob").and_then(Value::as_data),
            Some(&[0u8, 1, 2, 3, 4, 5, 6][..])
        );
        assert_eq!(d.get("Negative").and_then(Value::as_i64), Some(-5));
        assert_eq!(d.get("Hex").and_then(Value::as_i64), Some(31));
        assert_eq!(d.get("Real").and_then(Value::as_f64), Some(1.25));
        assert_eq!(d.get("Yes").and_then(Value::as_bool), Some(true));
        assert_eq!(
            d.get("When").and_then(Value::as_date),
            Some(datetime!(2026-12-01 16:54:15 UTC))
        );
    }

    #[test]
    fn integer_forms() {
        for (text, want) in [
            ("0", Some(0)),
            ("+7", Some(7)),
            ("-0x10", Some(-16)),
            ("0XfF", Some(255)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("0xFFFFFFFFFFFFFFFF", None),
            ("", None),
            ("-", None),
            ("0x", None),
            ("1.0", None),
            ("--1", None),
            ("+-1", None),
            ("12a", None),
        ] {
            assert_eq!(parse_integer(text), want, "{text:?}");
        }
    }

    #[test]
    fn dict_api() {
        let mut d = Dict::new();
        assert!(d.is_empty());
        assert_eq!(d.insert("a", 1i64.into()), None);
        assert_eq!(d.insert("b", 2i64.into()), None);
        assert_eq!(d.insert("a", 3i64.into()), Some(Value::Integer(1)));
        assert_eq!(d.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(d.get("a"), Some(&Value::Integer(3)));
        assert_eq!(d.len(), 2);
        assert!(d.contains_key("b") && !d.contains_key("c"));
        if let Some(v) = d.get_mut("b") {
            *v = "x".into();
        }
        assert_eq!(
            d.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            [Value::Integer(3), "x".into()]
        );
        assert_eq!(Value::Integer(3).as_str(), None);
        assert_eq!(Value::from("s").as_i64(), None);
    }

    #[test]
    fn json_conversion() {
        let value = dict(vec![
            ("z", "last first".into()),
            ("a", 1i64.into()),
            ("r", 0.5.into()),
            ("inf", f64::INFINITY.into()),
            ("b", true.into()),
            ("d", datetime!(2026-12-01 16:54:15 UTC).into()),
            ("data", Value::Data(vec![0xff; 60])),
            ("list", strings(&["x"])),
        ]);
        let json = to_json(&value);
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["z", "a", "r", "inf", "b", "d", "data", "list"],
            "needs serde_json/preserve_order"
        );
        assert_eq!(json["a"], 1);
        assert_eq!(json["r"], 0.5);
        assert!(json["inf"].is_null());
        assert_eq!(json["b"], true);
        assert_eq!(json["d"], "2026-12-01T16:54:15Z");
        assert_eq!(json["data"], STANDARD.encode([0xff; 60]));
        assert!(!json["data"].as_str().unwrap().contains('\n'));
        assert_eq!(json["list"][0], "x");
    }

    #[test]
    fn duplicate_keys_in_small_and_large_dicts() {
        for n in [1usize, 15, 16, 17, 40] {
            for dup in [0, n - 1] {
                let mut x = String::from("<plist><dict>");
                for i in 0..n {
                    x.push_str(&format!("<key>k{i}</key><integer>{i}</integer>"));
                }
                x.push_str(&format!("<key>k{dup}</key><true/></dict></plist>"));
                let e = from_xml(x.as_bytes()).unwrap_err().to_string();
                assert!(e.contains("duplicate key \"k"), "{n} {dup}: {e}");
                let ok = x.replace(
                    &format!("<key>k{dup}</key><true/>"),
                    "<key>new</key><true/>",
                );
                assert_eq!(
                    from_xml(ok.as_bytes()).unwrap().as_dict().unwrap().len(),
                    n + 1
                );
            }
        }
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            ("<array><string>x</string></dict>", "mismatched"),
            ("<string>x</key>", "mismatched"),
            ("<dict><key>a</key></dict>", "has no value"),
            (
                "<dict><key>a</key><key>b</key><true/></dict>",
                "has no value",
            ),
            (
                "<dict><key>a</key><true/><key>a</key><false/></dict>",
                "duplicate key",
            ),
            ("<dict><true/></dict>", "without a <key>"),
            ("<array><key>a</key></array>", "outside a <dict>"),
            ("<foo>1</foo>", "unknown element <foo>"),
            ("<date>2026-13-01T00:00:00Z</date>", "bad date"),
            ("<date>2026-12-01T16:54:15</date>", "bad date"),
            ("<date>2026-12-01 16:54:15Z</date>", "bad date"),
            ("<data>AAE=A</data>", "bad base64"),
            ("<data>!!!!</data>", "bad base64"),
            ("<integer>12x</integer>", "bad integer"),
            ("<integer/>", "empty <integer/>"),
            ("<real>one</real>", "bad real"),
            ("<string>&#0;</string>", "invalid character reference"),
            ("<string>&#xD800;</string>", "invalid character reference"),
            ("<string>&#x110000;</string>", "invalid character reference"),
            (
                "<string>&#99999999999;</string>",
                "invalid character reference",
            ),
            ("<string>&#x;</string>", "invalid character reference"),
            ("<string>&nbsp;</string>", "unknown entity"),
            ("<string>a & b</string>", "malformed entity"),
            ("<string>a<b/></string>", "markup inside <string>"),
            ("<true>x</true>", "expected </true>"),
            ("<true/><true/>", "more than one value"),
            ("text", "text inside <plist>"),
            ("<array>x</array>", "text inside <array>"),
            ("", "holds no value"),
            ("<plist><true/></plist>", "<plist> inside <plist>"),
            ("<![CDATA[x]]>", "unexpected markup"),
            ("<string a=b>x</string>", "quoted attribute"),
        ];
        for (body, want) in cases {
            let message = syntax_err(&wrap(body));
            assert!(
                message.contains(want),
                "{body:?}: {message:?} lacks {want:?}"
            );
        }
        let docs = [
            (
                format!("{}trailing", wrap("<true/>")),
                "content after </plist>",
            ),
            (
                format!("{}<true/>", wrap("<true/>")),
                "content after </plist>",
            ),
            ("<plist version=\"1.0\"/>".to_owned(), "holds no value"),
            ("<dict></dict>".to_owned(), "not <plist>"),
            ("   ".to_owned(), "no <plist>"),
            (
                "<!DOCTYPE plist [<!ENTITY a \"b\">]><plist><true/></plist>".to_owned(),
                "internal subsets",
            ),
            (
                "<plist><true/></plist><?xml version=\"1.0\"?>".to_owned(),
                "content after",
            ),
            (
                "<plist>\u{1}<true/></plist>".to_owned(),
                "not allowed in XML",
            ),
            (
                "<plist><string>\u{FFFF}</string></plist>".to_owned(),
                "not allowed in XML",
            ),
        ];
        for (doc, want) in docs {
            let message = syntax_err(&doc);
            assert!(
                message.contains(want),
                "{doc:?}: {message:?} lacks {want:?}"
            );
        }
        let err = from_xml(b"<plist><string>\xff</string></plist>").unwrap_err();
        assert_eq!(
            err,
            PlistError::Syntax {
                offset: 15,
                message: "input is not valid UTF-8".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "plist: input is not valid UTF-8 at byte 15"
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let doc = sample();
        let end = doc.rfind("</plist>").unwrap() + "</plist>".len();
        for cut in 0..=doc.len() {
            let result = from_xml(&doc.as_bytes()[..cut]);
            if cut < end {
                assert!(result.is_err(), "prefix of {cut} bytes parsed: {result:?}");
            } else {
                assert!(result.is_ok(), "full document with {cut} bytes failed");
            }
        }
    }

    #[test]
    fn writer_refuses_what_xml_cannot_carry() {
        let err = to_xml(&"bell\u{7}".into()).unwrap_err();
        assert!(
            matches!(&err, PlistError::Unwritable(m) if m.contains("U+0007")),
            "{err}"
        );
        let mut d = Dict::new();
        d.insert("nul\0key", true.into());
        assert!(matches!(
            to_xml(&Value::Dict(d)),
            Err(PlistError::Unwritable(_))
        ));
        assert!(to_xml(&"\u{FFFE}".into()).is_err());
        let ancient = datetime!(-0001-01-01 00:00:00 UTC);
        assert!(matches!(
            to_xml(&ancient.into()),
            Err(PlistError::Unwritable(_))
        ));
        // Tabs, line feeds and astral characters are fine.
        assert!(to_xml(&"\t\n😀".into()).is_ok());
    }

    fn nested(depth: usize) -> Value {
        let mut v = Value::Array(vec![true.into()]);
        for _ in 1..depth {
            v = Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn depth_limit() {
        // Exactly MAX_DEPTH levels is fine both ways.
        let deepest = nested(MAX_DEPTH);
        let xml = to_xml(&deepest).unwrap();
        assert_eq!(from_xml(xml.as_bytes()).unwrap(), deepest);
        assert_eq!(
            to_xml(&nested(MAX_DEPTH + 1)),
            Err(PlistError::TooDeep { offset: 0 })
        );
        let doc = wrap(&format!(
            "{}<true/>{}",
            "<dict><key>k</key>".repeat(MAX_DEPTH + 1),
            "</dict>".repeat(MAX_DEPTH + 1)
        ));
        assert!(matches!(
            from_xml(doc.as_bytes()),
            Err(PlistError::TooDeep { .. })
        ));
    }

    #[test]
    fn hostile_deep_nesting_is_refused_quickly() {
        let doc = wrap(&format!(
            "{}{}",
            "<array>".repeat(100_000),
            "</array>".repeat(100_000)
        ));
        let started = Instant::now();
        let err = from_xml(doc.as_bytes()).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let offset = XML_HEADER.len() + MAX_DEPTH * "<array>".len();
        assert_eq!(err, PlistError::TooDeep { offset });
        assert!(err.to_string().contains("nested deeper than 64 levels"));
    }

    #[test]
    fn hostile_oversized_input_is_refused() {
        let doc = vec![b' '; MAX_INPUT_BYTES + 1];
        assert_eq!(
            from_xml(&doc),
            Err(PlistError::TooLarge {
                size: MAX_INPUT_BYTES + 1
            })
        );
    }

    #[test]
    fn hostile_value_count_is_capped() {
        let doc = wrap(&format!("<array>{}</array>", "<true/>".repeat(2_000_000)));
        assert!(doc.len() <= MAX_INPUT_BYTES);
        assert!(matches!(
            from_xml(doc.as_bytes()),
            Err(PlistError::TooManyValues { .. })
        ));
        // Just under the cap is accepted (the array itself is one value).
        let doc = wrap(&format!(
            "<array>{}</array>",
            "<true/>".repeat(MAX_VALUES - 1)
        ));
        assert_eq!(
            from_xml(doc.as_bytes()).unwrap().as_array().map(<[_]>::len),
            Some(MAX_VALUES - 1)
        );
    }

    #[test]
    fn hostile_entity_heavy_string_parses_in_linear_time() {
        let count = 2_000_000;
        let doc = wrap(&format!("<string>{}</string>", "&amp;".repeat(count)));
        assert!(doc.len() > 10_000_000);
        let started = Instant::now();
        let value = from_xml(doc.as_bytes()).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let text = value.as_str().unwrap();
        assert_eq!(text.len(), count);
        assert!(text.bytes().all(|c| c == b'&'));
    }

    #[test]
    fn random_mutations_never_panic() {
        let doc = sample().into_bytes();
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        let interesting = b"<>/&;#x![]-?=\"' \n\tCDATAkey0";
        let mut parsed = 0;
        for _ in 0..2_000 {
            let mut bytes = doc.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                match rng.below(4) {
                    0 => bytes[at] = rng.next() as u8,
                    1 => bytes[at] = interesting[rng.below(interesting.len())],
                    2 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, interesting[rng.below(interesting.len())]),
                }
            }
            if from_xml(&bytes).is_ok() {
                parsed += 1;
            }
        }
        // Some mutations (e.g. inside text) leave a valid document.
        assert!(parsed > 0);
    }
}
