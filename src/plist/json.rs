//! JSON rendering of a plist value, for display and APIs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::write::format_date;
use super::Value;

/// Converts a value to JSON: dicts become objects (in order when `serde_json`
/// has `preserve_order`), dates RFC 3339 strings in UTC to the second (null
/// if the year is outside 0000–9999), data standard base64 strings, reals
/// numbers (null when not finite).
///
/// This recurses once per nesting level, which [`from_xml`] bounds by
/// [`MAX_DEPTH`].
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn to_json(value: &Value) -> serde_json::Value {
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
