//! Unit tests of the plist value model, writer, reader and JSON rendering.

use super::read::parse_integer;
use super::write::XML_HEADER;
use super::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
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
