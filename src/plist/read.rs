//! The XML reader, bounded for hostile input (see the module documentation).

use std::collections::HashSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::{is_xml_char, Dict, PlistError, Value, MAX_DEPTH, MAX_INPUT_BYTES, MAX_VALUES};

/// Reads an XML plist. See the module documentation for what is accepted and
/// the limits that apply.
pub(crate) fn from_xml(bytes: &[u8]) -> Result<Value, PlistError> {
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
pub(super) fn parse_integer(text: &str) -> Option<i64> {
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
