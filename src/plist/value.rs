//! The value model: [`Value`] and the ordered [`Dict`].

use time::OffsetDateTime;

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
pub struct Dict(pub(super) Vec<(String, Value)>);

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
