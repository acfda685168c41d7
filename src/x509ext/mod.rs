//! The push extensions of Apple's push certificates, typed: the environment
//! extensions (`1.2.840.113635.100.6.3.1` development, `.2` production, value
//! DER NULL) and the topics extension (`1.2.840.113635.100.6.3.6`: a SEQUENCE
//! alternating a UTF8String topic and a SEQUENCE of one UTF8String type).
//!
//! Issuance encodes with these functions; `cert show` and the gateway's
//! enforcement decode with them.

use der::asn1::Utf8StringRef;
use der::{Any, Decode, Encode, Tag, Tagged};

/// OID of the development (sandbox) environment extension.
pub(crate) const OID_ENV_DEVELOPMENT: &str = "1.2.840.113635.100.6.3.1";
/// OID of the production environment extension.
pub(crate) const OID_ENV_PRODUCTION: &str = "1.2.840.113635.100.6.3.2";
/// OID of the topics extension.
pub(crate) const OID_TOPICS: &str = "1.2.840.113635.100.6.3.6";
/// OID of the UID attribute (userId) in the subject: the bundle ID.
pub(crate) const OID_UID: &str = "0.9.2342.19200300.100.1.1";

/// The same OIDs as arcs, for rcgen.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) const ARC_ENV_DEVELOPMENT: &[u64] = &[1, 2, 840, 113635, 100, 6, 3, 1];
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) const ARC_ENV_PRODUCTION: &[u64] = &[1, 2, 840, 113635, 100, 6, 3, 2];
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) const ARC_TOPICS: &[u64] = &[1, 2, 840, 113635, 100, 6, 3, 6];
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) const ARC_UID: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 1];

/// The value of an environment extension: DER NULL.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) const ENVIRONMENT_VALUE: [u8; 2] = [0x05, 0x00];

/// Why an extension value could not be decoded or encoded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtError {
    /// The topics extension value does not decode (what is wrong).
    #[error("malformed topics extension: {0}")]
    MalformedTopics(&'static str),
    /// A topic cannot be encoded: the topic (its first 64 characters), and
    /// der's error.
    #[error("topic '{topic}' cannot be encoded ({source})")]
    Encode {
        /// The topic, or the bundle ID when the whole value is too long.
        topic: String,
        /// der's error.
        #[source]
        source: der::Error,
    },
}

impl ExtError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            ExtError::MalformedTopics(_) | ExtError::Encode { .. } => ErrorKind::Input,
        }
    }
}

/// A push environment a certificate can carry and a gateway can be asked for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// APNs' sandbox (`development`).
    Development,
    /// APNs' production environment.
    Production,
}

/// `"sandbox"` or `"development"`, or `"production"`, is not what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an environment (development or production)")]
pub struct UnknownEnvironment(pub String);

impl std::str::FromStr for Environment {
    type Err = UnknownEnvironment;

    fn from_str(s: &str) -> Result<Environment, UnknownEnvironment> {
        Environment::from_name(s).ok_or_else(|| UnknownEnvironment(s.to_string()))
    }
}

impl Environment {
    /// Both environments, development first.
    pub const ALL: [Environment; 2] = [Environment::Development, Environment::Production];

    /// `development` or `production`.
    pub fn name(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }

    /// The environment named `development` (or `sandbox`) or `production`.
    pub fn from_name(s: &str) -> Option<Environment> {
        match s {
            "development" | "sandbox" => Some(Environment::Development),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }

    pub(crate) fn oid(self) -> &'static str {
        match self {
            Environment::Development => OID_ENV_DEVELOPMENT,
            Environment::Production => OID_ENV_PRODUCTION,
        }
    }

    #[cfg_attr(not(feature = "ca"), allow(dead_code))]
    pub(crate) fn arc(self) -> &'static [u64] {
        match self {
            Environment::Development => ARC_ENV_DEVELOPMENT,
            Environment::Production => ARC_ENV_PRODUCTION,
        }
    }

    /// The environment whose extension has this OID (dotted form).
    pub(crate) fn from_oid(oid: &str) -> Option<Environment> {
        Environment::ALL.into_iter().find(|e| e.oid() == oid)
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A topic type of the topics extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TopicKind {
    /// `<bundle id>`: alert, background and other app pushes.
    App,
    /// `<bundle id>.voip`: PushKit VoIP pushes.
    Voip,
    /// `<bundle id>.complication`: watchOS complication pushes.
    Complication,
}

impl TopicKind {
    /// Every topic type pushca issues.
    pub const ALL: [TopicKind; 3] = [TopicKind::App, TopicKind::Voip, TopicKind::Complication];

    /// `app`, `voip` or `complication`.
    pub fn name(self) -> &'static str {
        match self {
            TopicKind::App => "app",
            TopicKind::Voip => "voip",
            TopicKind::Complication => "complication",
        }
    }

    /// The topic type of that name, or `None`.
    pub fn from_name(s: &str) -> Option<TopicKind> {
        TopicKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The topic of this kind for a bundle ID.
    pub(crate) fn topic(self, bundle_id: &str) -> String {
        match self {
            TopicKind::App => bundle_id.to_string(),
            other => format!("{bundle_id}.{}", other.name()),
        }
    }
}

/// One entry of a topics extension, as decoded: the topic and its type name
/// (kept as text: other issuers may use types pushca does not know).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Topic {
    /// The topic (`<bundle id>` or `<bundle id>.<type>`).
    pub topic: String,
    /// Its type name (`app`, `voip`, `complication`, or another issuer's).
    pub kind: String,
}

/// The topics extension value for `bundle_id` with the given topic types.
pub fn encode_topics(bundle_id: &str, kinds: &[TopicKind]) -> Result<Vec<u8>, ExtError> {
    let enc = |what: &str| {
        let mut topic: String = what.chars().take(64).collect();
        if topic.len() < what.len() {
            topic.push('…');
        }
        move |source| ExtError::Encode { topic, source }
    };
    let mut items: Vec<Any> = Vec::with_capacity(kinds.len() * 2);
    for kind in kinds {
        let topic = kind.topic(bundle_id);
        let t = Utf8StringRef::new(&topic).map_err(enc(&topic))?;
        items.push(Any::encode_from(&t).map_err(enc(&topic))?);
        let k = Utf8StringRef::new(kind.name()).map_err(enc(&topic))?;
        items.push(Any::encode_from(&vec![k]).map_err(enc(&topic))?);
    }
    items.to_der().map_err(enc(bundle_id))
}

/// Decodes a topics extension value. Strict: alternating UTF8String topic and
/// SEQUENCE of UTF8String types, nothing after the last pair.
pub fn decode_topics(value: &[u8]) -> Result<Vec<Topic>, ExtError> {
    let bad = ExtError::MalformedTopics;
    let items: Vec<Any> = Vec::<Any>::from_der(value).map_err(|_| bad("not a SEQUENCE"))?;
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.iter();
    while let Some(topic) = it.next() {
        if topic.tag() != Tag::Utf8String {
            return Err(bad("expected a UTF8String topic"));
        }
        let topic = std::str::from_utf8(topic.value()).map_err(|_| bad("topic is not UTF-8"))?;
        let kinds = it.next().ok_or(bad("the last topic has no type"))?;
        if kinds.tag() != Tag::Sequence {
            return Err(bad("expected a SEQUENCE of topic types"));
        }
        let kinds: Vec<Utf8StringRef<'_>> = kinds
            .decode_as()
            .map_err(|_| bad("topic types are not UTF8Strings"))?;
        let kind = kinds
            .first()
            .map(|k| k.as_str().to_string())
            .ok_or(bad("a topic has an empty list of types"))?;
        out.push(Topic {
            topic: topic.to_string(),
            kind,
        });
    }
    Ok(out)
}

/// The topics a certificate without a topics extension allows: the UID and
/// its `.voip` and `.complication` forms.
pub(crate) fn default_topics(bundle_id: &str) -> Vec<Topic> {
    TopicKind::ALL
        .into_iter()
        .map(|k| Topic {
            topic: k.topic(bundle_id),
            kind: k.name().to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_parse_from_their_names() {
        for e in Environment::ALL {
            assert_eq!(e.name().parse::<Environment>(), Ok(e));
            assert_eq!(e.to_string(), e.name());
        }
        assert_eq!("sandbox".parse(), Ok(Environment::Development));
        let err = "Production".parse::<Environment>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "'Production' is not an environment (development or production)"
        );
    }

    /// A topic longer than DER can hold: `Encode`, with der's error as the
    /// source, as its type, and the topic shortened in the message.
    #[test]
    fn unencodable_topic_has_the_der_error_as_source() {
        use std::error::Error;
        let huge = "a".repeat(1 << 28);
        let e = encode_topics(&huge, &[TopicKind::App]).unwrap_err();
        let der = e.source().and_then(|s| s.downcast_ref::<der::Error>());
        let der = der.expect("der::Error is the source");
        assert_eq!(
            e.to_string(),
            format!("topic '{}…' cannot be encoded ({der})", &huge[..64])
        );
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);
    }

    #[test]
    fn topics_value_layout_is_apples() {
        let v = encode_topics("a.b", &[TopicKind::App, TopicKind::Voip]).unwrap();
        let expected = [
            0x30, 0x1e, 0x0c, 0x03, b'a', b'.', b'b', 0x30, 0x05, 0x0c, 0x03, b'a', b'p', b'p',
            0x0c, 0x08, b'a', b'.', b'b', b'.', b'v', b'o', b'i', b'p', 0x30, 0x06, 0x0c, 0x04,
            b'v', b'o', b'i', b'p',
        ];
        assert_eq!(v, expected);
        let back = decode_topics(&v).unwrap();
        assert_eq!(
            back,
            [
                Topic {
                    topic: "a.b".into(),
                    kind: "app".into()
                },
                Topic {
                    topic: "a.b.voip".into(),
                    kind: "voip".into()
                }
            ]
        );
    }

    #[test]
    fn malformed_topics_are_refused() {
        // A topic without its type, a wrong tag, an empty type list, garbage.
        for bad in [
            &[0x30, 0x03, 0x0c, 0x01, b'a'][..],
            &[0x30, 0x03, 0x04, 0x01, b'a'],
            &[0x30, 0x05, 0x0c, 0x01, b'a', 0x30, 0x00],
            &[0x31, 0x00],
            b"",
        ] {
            assert!(decode_topics(bad).is_err(), "{bad:02x?}");
        }
        assert_eq!(decode_topics(&[0x30, 0x00]).unwrap(), []);
    }

    #[test]
    fn environments_by_name_and_oid() {
        for e in Environment::ALL {
            assert_eq!(Environment::from_name(e.name()), Some(e));
            assert_eq!(Environment::from_oid(e.oid()), Some(e));
        }
        assert_eq!(
            Environment::from_name("sandbox"),
            Some(Environment::Development)
        );
        assert_eq!(Environment::from_name("universal"), None);
        assert_eq!(default_topics("x").len(), 3);
    }
}
