//! The XML writer, in Apple's layout.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use time::{OffsetDateTime, UtcOffset};

use super::{is_xml_char, PlistError, Value, MAX_DEPTH};

/// Length of the base64 lines inside `<data>`, as Apple's `plutil` writes.
const DATA_LINE_LEN: usize = 68;

pub(super) const XML_HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
<plist version=\"1.0\">\n";

/// Writes `root` as an XML plist in Apple's layout.
///
/// Fails on text XML 1.0 cannot carry, on a date whose UTC year is outside
/// 0000–9999, and on nesting deeper than `MAX_DEPTH`.
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
pub(super) fn format_date(d: OffsetDateTime) -> Option<String> {
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
