//! Provider tokens (PRODUCT.md, "Token-based provider authentication"): the
//! compact JWS a provider sends as `authorization: bearer <JWT>`, parsed with
//! hard bounds before any signature work.
//!
//! Bounds: at most [`MAX_TOKEN_BYTES`] bytes; exactly three non-empty
//! segments; strict base64url without padding (canonical trailing bits);
//! the header and the claims are JSON objects (serde structs: unknown members
//! ignored, a known member twice refused; serde_json's nesting limit applies
//! to ignored members); the signature is exactly 64 bytes (`r‖s`). Every
//! segment is decoded into a fixed stack buffer: nothing allocated grows with
//! the input. The errors say what is wrong, never what the token holds (a
//! token is a bearer credential).

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

/// The largest token accepted, in bytes (Apple's tokens are ~200).
pub(crate) const MAX_TOKEN_BYTES: usize = 4096;
/// A decoded segment fits: 4 base64 characters are 3 bytes.
const MAX_DECODED: usize = MAX_TOKEN_BYTES / 4 * 3;
/// A Key ID: 10 characters `[A-Z0-9]`.
pub(crate) const KEY_ID_LEN: usize = 10;
/// An ES256 signature in JWS form: `r‖s`, 32 bytes each.
pub(crate) const SIGNATURE_LEN: usize = 64;

/// A segment of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Header,
    Claims,
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Claims => "claims",
            Part::Signature => "signature",
        })
    }
}

/// Why a token is malformed: what is wrong, never the token's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    /// No bytes at all.
    #[error("the token is empty")]
    Empty,
    /// Over [`MAX_TOKEN_BYTES`].
    #[error("the token is {0} bytes, over the limit of {MAX_TOKEN_BYTES}")]
    TooLong(usize),
    /// Not `header.claims.signature`.
    #[error("the token has {0} segments, not 3 (header.claims.signature)")]
    Segments(usize),
    /// One of the three segments is empty.
    #[error("the token's {0} segment is empty")]
    EmptySegment(Part),
    /// A segment is not strict base64url without padding.
    #[error("the token's {0} is not base64url without padding")]
    Base64(Part),
    /// The header or the claims are not the JSON object expected.
    #[error("the token's {part} is not a JSON object with the expected members: {problem}")]
    Json {
        /// Header or claims.
        part: Part,
        /// What is wrong (serde_json's category and position, or the member).
        problem: String,
    },
    /// The header's `alg` is not `ES256`.
    #[error("the token's alg is not ES256")]
    Alg,
    /// The header's `kid` is not a Key ID.
    #[error("the token's kid is not a Key ID (10 characters A-Z, 0-9)")]
    KeyId,
    /// The signature is not 64 bytes.
    #[error("the token's signature is {0} bytes, not 64 (r||s of ES256)")]
    SignatureLength(usize),
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Cow<'a, str>,
    #[serde(borrow, default)]
    #[allow(dead_code)] // read (a string if present), not used
    typ: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    iat: i64,
}

/// A token that passed the bounds: what its signature covers and says.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    /// The header's `kid`.
    pub(crate) kid: [u8; KEY_ID_LEN],
    /// The claims' `iss` (the Team ID it claims).
    pub(crate) iss: String,
    /// The claims' `iat` (unix seconds).
    pub(crate) iat: i64,
    /// `header.claims` as sent: what the signature covers.
    pub(crate) signed: &'a [u8],
    /// `r‖s`.
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

/// Decodes one segment into `out` (strict base64url, no padding).
fn decode<'o>(seg: &[u8], part: Part, out: &'o mut [u8]) -> Result<&'o [u8], JwtError> {
    if seg.is_empty() {
        return Err(JwtError::EmptySegment(part));
    }
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode_slice(seg, out)
        .map_err(|_| JwtError::Base64(part))?;
    Ok(&out[..n])
}

/// serde_json's error without its message (which may quote the input).
fn json_problem(part: Part, e: &serde_json::Error) -> JwtError {
    use serde_json::error::Category;
    let msg = e.to_string();
    let problem = match e.classify() {
        // serde's own words for these name the member, not its value.
        Category::Data
            if msg.starts_with("missing field") || msg.starts_with("duplicate field") =>
        {
            msg.split(" at line").next().unwrap_or("").to_string()
        }
        Category::Data => format!("a member of the wrong type at column {}", e.column()),
        Category::Eof => "truncated JSON".to_string(),
        Category::Syntax | Category::Io => {
            format!("not JSON, or nested too deep, at column {}", e.column())
        }
    };
    JwtError::Json { part, problem }
}

/// How deep the header's and the claims' JSON may nest (their members are
/// strings and integers: depth 1; unknown members may hold a little more).
pub(crate) const MAX_JSON_DEPTH: usize = 8;

/// Whether the JSON text nests `[`/`{` deeper than [`MAX_JSON_DEPTH`]
/// (outside strings): checked before serde reads it (serde_json skips an
/// ignored member without a depth limit).
fn too_deep(bytes: &[u8]) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A JSON object (not an array, which serde would also map onto a struct).
fn object<'de, T: Deserialize<'de>>(bytes: &'de [u8], part: Part) -> Result<T, JwtError> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(JwtError::Json {
            part,
            problem: "not a JSON object".into(),
        });
    }
    if too_deep(bytes) {
        return Err(JwtError::Json {
            part,
            problem: format!("nested deeper than {MAX_JSON_DEPTH}"),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| json_problem(part, &e))
}

/// Whether `s` is a Key ID (or a Team ID: the same form).
pub(crate) fn is_id10(s: &[u8]) -> bool {
    s.len() == KEY_ID_LEN
        && s.iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Parses a compact JWS within the bounds (see the module's doc). The
/// signature is not verified here.
pub(crate) fn parse(token: &[u8]) -> Result<Jws<'_>, JwtError> {
    if token.is_empty() {
        return Err(JwtError::Empty);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLong(token.len()));
    }
    let mut it = token.splitn(4, |b| *b == b'.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        let dots = token.iter().filter(|b| **b == b'.').count();
        return Err(JwtError::Segments(dots + 1));
    };
    for (seg, part) in [(h, Part::Header), (c, Part::Claims), (s, Part::Signature)] {
        if seg.is_empty() {
            return Err(JwtError::EmptySegment(part));
        }
    }
    let mut buf = [0u8; MAX_DECODED];
    let sig = decode(s, Part::Signature, &mut buf)?;
    let signature: [u8; SIGNATURE_LEN] = sig
        .try_into()
        .map_err(|_| JwtError::SignatureLength(sig.len()))?;
    let header_bytes = decode(h, Part::Header, &mut buf)?;
    let header: Header<'_> = object(header_bytes, Part::Header)?;
    if header.alg != "ES256" {
        return Err(JwtError::Alg);
    }
    let kid: [u8; KEY_ID_LEN] = header
        .kid
        .as_bytes()
        .try_into()
        .ok()
        .filter(|k: &[u8; KEY_ID_LEN]| is_id10(k))
        .ok_or(JwtError::KeyId)?;
    let claims_bytes = decode(c, Part::Claims, &mut buf)?;
    let claims: Claims<'_> = object(claims_bytes, Part::Claims)?;
    Ok(Jws {
        kid,
        iss: claims.iss.into_owned(),
        iat: claims.iat,
        signed: &token[..h.len() + 1 + c.len()],
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    fn tok(header: &str, claims: &str, sig: &[u8]) -> Vec<u8> {
        format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(claims),
            B64.encode(sig)
        )
        .into_bytes()
    }

    const H: &str = r#"{"alg":"ES256","kid":"ABC123DEFG"}"#;
    const C: &str = r#"{"iss":"ABCDE12345","iat":1700000000}"#;

    #[test]
    fn a_well_formed_token_parses_and_the_signed_part_is_as_sent() {
        let t = tok(H, C, &[7; 64]);
        let j = parse(&t).unwrap();
        assert_eq!(&j.kid, b"ABC123DEFG");
        assert_eq!(j.iss, "ABCDE12345");
        assert_eq!(j.iat, 1_700_000_000);
        assert_eq!(j.signature, [7; 64]);
        let dot2 = t.iter().rposition(|b| *b == b'.').unwrap();
        assert_eq!(j.signed, &t[..dot2]);
        // typ and unknown members are fine, in either object.
        let h = r#"{"typ":"JWT","alg":"ES256","kid":"ABC123DEFG","x":[1,{"y":null}]}"#;
        let c = r#"{"iat":1,"iss":"T","aud":"x"}"#;
        let t = tok(h, c, &[0; 64]);
        let j = parse(&t).unwrap();
        assert_eq!((j.iss.as_str(), j.iat), ("T", 1));
        // Escapes in strings are decoded.
        let c = r#"{"iss":"ABCDE\u0031\u0032345","iat":5}"#;
        assert_eq!(parse(&tok(H, c, &[0; 64])).unwrap().iss, "ABCDE12345");
    }

    #[test]
    fn size_bound() {
        assert_eq!(parse(b"").unwrap_err(), JwtError::Empty);
        let big = vec![b'A'; MAX_TOKEN_BYTES + 1];
        assert_eq!(
            parse(&big).unwrap_err(),
            JwtError::TooLong(MAX_TOKEN_BYTES + 1)
        );
        // The largest token under the bound parses (and is refused for what
        // it is): the bound is on the bytes, not on the content.
        let with_pad = |n: usize| {
            let h = format!(
                r#"{{"alg":"ES256","kid":"ABC123DEFG","p":"{}"}}"#,
                "x".repeat(n)
            );
            tok(&h, C, &[0; 64])
        };
        let n = (0..MAX_TOKEN_BYTES)
            .take_while(|n| with_pad(*n).len() <= MAX_TOKEN_BYTES)
            .last()
            .unwrap();
        assert!(with_pad(n).len() > MAX_TOKEN_BYTES - 4);
        parse(&with_pad(n)).unwrap();
        assert!(matches!(parse(&with_pad(n + 1)), Err(JwtError::TooLong(_))));
    }

    #[test]
    fn segment_bound() {
        let ok = tok(H, C, &[0; 64]);
        let s = std::str::from_utf8(&ok).unwrap();
        let (h, rest) = s.split_once('.').unwrap();
        let (c, sig) = rest.split_once('.').unwrap();
        for (t, want) in [
            (h.to_string(), JwtError::Segments(1)),
            (format!("{h}.{c}"), JwtError::Segments(2)),
            (format!("{h}.{c}.{sig}.{sig}"), JwtError::Segments(4)),
            (format!("{h}.{c}.{sig}."), JwtError::Segments(4)),
            (".".repeat(4000), JwtError::Segments(4001)),
            (format!(".{c}.{sig}"), JwtError::EmptySegment(Part::Header)),
            (format!("{h}..{sig}"), JwtError::EmptySegment(Part::Claims)),
            (format!("{h}.{c}."), JwtError::EmptySegment(Part::Signature)),
        ] {
            assert_eq!(parse(t.as_bytes()).unwrap_err(), want, "{t:.40}");
        }
    }

    #[test]
    fn strict_base64url() {
        let ok = String::from_utf8(tok(H, C, &[0; 64])).unwrap();
        let (h, rest) = ok.split_once('.').unwrap();
        let (c, sig) = rest.split_once('.').unwrap();
        let std_alphabet = base64::engine::general_purpose::STANDARD.encode([0xfbu8; 64]);
        assert!(std_alphabet.contains('+'));
        // A claims segment whose length leaves trailing bits: make one non-zero.
        let mut c_bits = c.to_string();
        assert!(
            c_bits.len() % 4 != 0,
            "the claims' base64 has trailing bits"
        );
        let last = c_bits.pop().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let v = alphabet.find(last).unwrap();
        c_bits.push(alphabet.as_bytes()[v | 1] as char);
        assert_ne!(c_bits, c);
        for (t, part) in [
            (format!("{h}=.{c}.{sig}"), Part::Header),
            (format!("{h}.{c}=.{sig}"), Part::Claims),
            (format!("{h}.{c}.{sig}=="), Part::Signature),
            (format!("{h}.{c}.{std_alphabet}"), Part::Signature),
            (format!("{h} .{c}.{sig}"), Part::Header),
            (format!("{h}.{c_bits}.{sig}"), Part::Claims),
            (format!("{h}.{c}.A"), Part::Signature),
        ] {
            assert_eq!(
                parse(t.as_bytes()).unwrap_err(),
                JwtError::Base64(part),
                "{t}"
            );
        }
    }

    #[test]
    fn signature_is_64_bytes() {
        for n in [0usize, 1, 63, 65, 72, 132] {
            if n == 0 {
                continue;
            }
            assert_eq!(
                parse(&tok(H, C, &vec![1; n])).unwrap_err(),
                JwtError::SignatureLength(n)
            );
        }
    }

    #[test]
    fn header_and_claims_are_objects_with_their_members() {
        let json = |part, t: Vec<u8>| match parse(&t).unwrap_err() {
            JwtError::Json { part: p, problem } if p == part => problem,
            other => panic!("{other:?}"),
        };
        let s = [0u8; 64];
        assert!(json(Part::Header, tok("[\"ES256\",\"ABC123DEFG\"]", C, &s)).contains("object"));
        assert!(json(Part::Header, tok("not json", C, &s)).contains("not a JSON object"));
        assert!(json(Part::Header, tok("{not json}", C, &s)).contains("not JSON"));
        assert!(json(Part::Header, tok(r#"{"alg":"ES256""#, C, &s)).contains("truncated"));
        assert!(json(Part::Header, tok(r#"{"alg":"ES256"}"#, C, &s)).contains("`kid`"));
        let dup = r#"{"alg":"ES256","kid":"ABC123DEFG","alg":"ES256"}"#;
        assert!(json(Part::Header, tok(dup, C, &s)).contains("duplicate field `alg`"));
        let p = json(Part::Header, tok(r#"{"alg":"ES256","kid":7}"#, C, &s));
        assert!(p.contains("wrong type"), "{p}");
        let p = json(
            Part::Claims,
            tok(H, r#"{"iss":"SECRETSECRET","iat":"1"}"#, &s),
        );
        assert!(p.contains("wrong type") && !p.contains("SECRET"), "{p}");
        let p = json(Part::Claims, tok(H, r#"{"iss":"T","iat":1.5}"#, &s));
        assert!(p.contains("wrong type"), "{p}");
        assert!(json(Part::Claims, tok(H, r#"{"iat":1}"#, &s)).contains("`iss`"));
        assert!(json(Part::Claims, tok(H, r#"{"iss":"T"}"#, &s)).contains("`iat`"));
        let p = json(Part::Claims, tok(H, r#"{"iss":"T","iat":1} x"#, &s));
        assert!(p.contains("not JSON"), "{p}");
        // Deep nesting in an ignored member (which serde_json would skip
        // without a limit): refused before serde reads it; brackets in
        // strings do not count.
        let ok = format!(
            r#"{{"alg":"ES256","kid":"ABC123DEFG","x":{}1{},"s":"[[[[[[[[[[\"[[["}}"#,
            "[".repeat(7),
            "]".repeat(7)
        );
        parse(&tok(&ok, C, &s)).unwrap();
        let nine = format!(
            r#"{{"alg":"ES256","kid":"ABC123DEFG","x":{}{}}}"#,
            "[".repeat(8),
            "]".repeat(8)
        );
        assert!(json(Part::Header, tok(&nine, C, &s)).contains("nested deeper than 8"));
        let deep = format!(
            r#"{{"alg":"ES256","kid":"ABC123DEFG","x":{}{}}}"#,
            "[".repeat(1400),
            "]".repeat(1400)
        );
        let t = tok(&deep, C, &s);
        assert!(t.len() <= MAX_TOKEN_BYTES);
        assert!(json(Part::Header, t).contains("nested deeper than 8"));
    }

    #[test]
    fn alg_and_kid() {
        let s = [0u8; 64];
        for alg in ["HS256", "none", "es256", "ES384", "RS256", ""] {
            let h = format!(r#"{{"alg":"{alg}","kid":"ABC123DEFG"}}"#);
            assert_eq!(parse(&tok(&h, C, &s)).unwrap_err(), JwtError::Alg, "{alg}");
        }
        for kid in [
            "ABC123DEF",
            "ABC123DEFGH",
            "abc123defg",
            "ABC123DEF-",
            "ÄBC123DEF",
        ] {
            let h = format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#);
            assert_eq!(
                parse(&tok(&h, C, &s)).unwrap_err(),
                JwtError::KeyId,
                "{kid}"
            );
        }
    }

    #[test]
    fn messages_never_quote_the_token() {
        let secret = "TOPSECRETVALUE";
        let s = [0u8; 64];
        for t in [
            tok(
                &format!(r#"{{"alg":"{secret}","kid":"ABC123DEFG"}}"#),
                C,
                &s,
            ),
            tok(&format!(r#"{{"alg":"ES256","kid":"{secret}"}}"#), C, &s),
            tok(H, &format!(r#"{{"iss":1,"iat":"{secret}"}}"#), &s),
            tok(H, &format!(r#"{{"{secret}":1}}"#), &s),
            tok(&format!(r#"{{"alg":ES256{secret}}}"#), C, &s),
        ] {
            let e = parse(&t).unwrap_err().to_string();
            assert!(!e.contains(secret), "{e}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5000)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_segments_never_panic(
            h in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            c in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
        ) {
            let t = format!("{}.{}.{}", B64.encode(&h), B64.encode(&c), B64.encode(&s));
            if let Ok(j) = parse(t.as_bytes()) {
                proptest::prop_assert_eq!(j.signature.len(), 64);
            }
        }

        #[test]
        fn json_like_segments_never_panic(
            h in "\\{[\"a-zA-Z0-9:,\\[\\]{}\\\\ ]{0,200}\\}",
            c in "\\{[\"a-zA-Z0-9:,\\[\\]{}\\\\ .\\-]{0,200}\\}",
        ) {
            let _ = parse(&tok(&h, &c, &[0; 64]));
        }
    }
}
