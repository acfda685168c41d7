use super::*;
use http::{HeaderName, HeaderValue};
use proptest::prelude::*;

const TOKEN: &str = "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0";
const ID: &str = "eabeae54-14a8-11e5-b60b-1697f925ec7b";
const ALERT: &[u8] = br#"{"aps":{"alert":"hi"}}"#;

fn path() -> String {
    format!("{PATH_PREFIX}{TOKEN}")
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn run(method: &Method, path: &str, h: &HeaderMap, body: &[u8]) -> Result<Push, Rejection> {
    parse(&Request {
        method,
        path,
        headers: h,
        body,
    })
}

fn post(pairs: &[(&str, &str)], body: &[u8]) -> Result<Push, Rejection> {
    run(&Method::POST, &path(), &headers(pairs), body)
}

fn refused(r: Result<Push, Rejection>) -> (u16, &'static str) {
    let rej = r.unwrap_err();
    assert_eq!(rej.status, rej.reason.status());
    assert_eq!(rej.timestamp_ms, None);
    (rej.status.as_u16(), rej.reason.as_str())
}

fn topic_for(t: PushType) -> String {
    format!("com.example.app{}", t.topic_suffix().unwrap_or(""))
}

// ---- reason strings ----

/// Apple's table ("Handling notification responses from APNs"), plus
/// pushca's BadPayload and DeviceNotProvisioned (PRODUCT.md).
#[test]
fn reason_strings_and_statuses_are_apples() {
    let expected: &[(&str, u16)] = &[
        ("BadCollapseId", 400),
        ("BadDeviceToken", 400),
        ("BadExpirationDate", 400),
        ("BadMessageId", 400),
        ("BadPriority", 400),
        ("BadTopic", 400),
        ("DeviceTokenNotForTopic", 400),
        ("DuplicateHeaders", 400),
        ("IdleTimeout", 400),
        ("InvalidPushType", 400),
        ("MissingDeviceToken", 400),
        ("MissingTopic", 400),
        ("PayloadEmpty", 400),
        ("TopicDisallowed", 400),
        ("BadPayload", 400),
        ("BadCertificate", 403),
        ("BadCertificateEnvironment", 403),
        ("ExpiredProviderToken", 403),
        ("Forbidden", 403),
        ("InvalidProviderToken", 403),
        ("MissingProviderToken", 403),
        ("UnrelatedKeyIdInToken", 403),
        ("BadEnvironmentKeyInToken", 403),
        ("DeviceNotProvisioned", 403),
        ("BadPath", 404),
        ("MethodNotAllowed", 405),
        ("ExpiredToken", 410),
        ("Unregistered", 410),
        ("PayloadTooLarge", 413),
        ("TooManyProviderTokenUpdates", 429),
        ("TooManyRequests", 429),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
        ("Shutdown", 503),
    ];
    let got: Vec<(&str, u16)> = Reason::ALL
        .iter()
        .map(|r| (r.as_str(), r.status().as_u16()))
        .collect();
    assert_eq!(got, expected);
    for r in Reason::ALL {
        assert_eq!(Reason::from_name(r.as_str()), Some(r));
        // serde's name is the same string (the events log uses it)
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!("\"{}\"", r.as_str())
        );
    }
    assert_eq!(Reason::from_name("badtopic"), None);
}

#[test]
fn bodies_are_apples_json() {
    let b = body(&Rejection::new(Reason::BadDeviceToken));
    assert_eq!(b, br#"{"reason":"BadDeviceToken"}"#);
    let u = Rejection::unregistered(1_700_000_000_123);
    assert_eq!((u.status.as_u16(), u.reason), (410, Reason::Unregistered));
    let v: serde_json::Value = serde_json::from_slice(&body(&u)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"reason": "Unregistered", "timestamp": 1_700_000_000_123u64})
    );
    assert_eq!(u.to_string(), "410 Unregistered");
}

#[test]
fn enforcement_denials_map_to_apples_statuses() {
    use pushca::gateway::Reason as G;
    let cases = [
        (G::BadCertificate, 403, "BadCertificate"),
        (G::TopicDisallowed, 400, "TopicDisallowed"),
        (
            G::BadCertificateEnvironment,
            403,
            "BadCertificateEnvironment",
        ),
        (G::Forbidden, 403, "Forbidden"),
        (G::DeviceNotProvisioned, 403, "DeviceNotProvisioned"),
        (G::ServiceUnavailable, 503, "ServiceUnavailable"),
    ];
    for (g, status, name) in cases {
        let r = denied(g);
        assert_eq!((r.status.as_u16(), r.reason.as_str()), (status, name));
        assert_eq!(r.timestamp_ms, None);
    }
}

// ---- happy paths ----

#[test]
fn every_push_type_is_accepted_with_its_topic() {
    for t in PushType::ALL {
        let topic = topic_for(t);
        let priority = if t == PushType::Background { "5" } else { "10" };
        let p = post(
            &[
                ("apns-topic", &topic),
                ("apns-push-type", t.as_str()),
                ("apns-priority", priority),
            ],
            ALERT,
        )
        .unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(p.push_type, t);
        assert_eq!(p.topic.as_deref(), Some(topic.as_str()));
        assert_eq!(resolve_topic(&p, &[]).unwrap(), topic, "{t}");
        assert_eq!(p.payload, ALERT);
        assert_eq!(p.token.to_string(), TOKEN);
    }
}

#[test]
fn defaults_when_headers_are_omitted() {
    let p = post(&[], ALERT).unwrap();
    assert_eq!(p.topic, None);
    assert_eq!(p.push_type, PushType::Alert);
    assert_eq!(p.priority, Priority::Immediate);
    assert_eq!(p.expiration, Expiration::Unspecified);
    assert_eq!(p.collapse_id, None);
    // a generated apns-id: canonical lower-case version 4 UUID
    let id = p.apns_id.as_str();
    assert!(ApnsId::parse(id).is_some(), "{id}");
    assert_eq!(id, id.to_lowercase());
    assert_eq!(&id[14..15], "4");
    assert!("89ab".contains(&id[19..20]), "{id}");
    assert_ne!(post(&[], ALERT).unwrap().apns_id, p.apns_id);
}

#[test]
fn all_headers_are_read() {
    let p = post(
        &[
            ("apns-topic", "com.example.app"),
            ("apns-push-type", "alert"),
            ("apns-id", ID),
            ("apns-expiration", "1700000000"),
            ("apns-priority", "5"),
            ("apns-collapse-id", "score"),
            ("authorization", "bearer x"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
        ],
        b" {\"aps\":{}} \n",
    )
    .unwrap();
    assert_eq!(p.apns_id.as_str(), ID);
    assert_eq!(p.expiration, Expiration::At(1_700_000_000));
    assert_eq!(p.priority, Priority::ConservePower);
    assert_eq!(p.collapse_id.as_deref(), Some("score"));
    assert_eq!(p.priority.to_string(), "5");
}

#[test]
fn upper_case_token_and_apns_id_are_accepted_and_echoed_as_given() {
    let upper_id = ID.to_uppercase();
    let h = headers(&[("apns-id", &upper_id)]);
    let p = run(
        &Method::POST,
        &format!("{PATH_PREFIX}{}", TOKEN.to_uppercase()),
        &h,
        ALERT,
    )
    .unwrap();
    assert_eq!(p.token.to_string(), TOKEN, "Display is lower case");
    assert_eq!(p.apns_id.as_str(), upper_id);
    assert_eq!(response_id(&h).unwrap().as_str(), upper_id);
}

#[test]
fn response_id_is_the_requests_only_when_valid() {
    assert_eq!(response_id(&headers(&[])), None);
    assert_eq!(response_id(&headers(&[("apns-id", "nope")])), None);
    assert_eq!(
        response_id(&headers(&[("apns-id", ID), ("apns-id", ID)])),
        None
    );
    assert_eq!(
        response_id(&headers(&[("apns-id", ID)])).unwrap().as_str(),
        ID
    );
}

#[test]
fn expiration_zero_is_immediate() {
    let p = post(&[("apns-expiration", "0")], ALERT).unwrap();
    assert_eq!(p.expiration, Expiration::Immediate);
}

#[test]
fn missing_push_type_is_inferred_from_the_topic() {
    for t in PushType::ALL {
        let p = post(&[("apns-topic", &topic_for(t))], ALERT).unwrap();
        let want = match t {
            // no suffix: the legacy default
            PushType::Background | PushType::Mdm => PushType::Alert,
            t => t,
        };
        assert_eq!(p.push_type, want, "{t}");
        assert!(resolve_topic(&p, &[]).is_ok());
    }
}

#[test]
fn voip_payload_may_be_5120_bytes_others_4096() {
    let obj = |n: usize| {
        let mut v = br#"{"a":""#.to_vec();
        v.resize(n - 2, b'x');
        v.extend_from_slice(b"\"}");
        assert_eq!(v.len(), n);
        v
    };
    let voip = [
        ("apns-topic", "com.example.app.voip"),
        ("apns-push-type", "voip"),
    ];
    assert!(post(&voip, &obj(5120)).is_ok());
    assert_eq!(refused(post(&voip, &obj(5121))), (413, "PayloadTooLarge"));
    assert!(post(&[], &obj(4096)).is_ok());
    assert_eq!(refused(post(&[], &obj(4097))), (413, "PayloadTooLarge"));
}

#[test]
fn background_takes_priority_5_when_omitted() {
    let bg = [
        ("apns-topic", "com.example.app"),
        ("apns-push-type", "background"),
    ];
    assert_eq!(post(&bg, ALERT).unwrap().priority, Priority::ConservePower);
    let mut low = bg.to_vec();
    low.push(("apns-priority", "1"));
    assert_eq!(post(&low, ALERT).unwrap().priority, Priority::Low);
}

// ---- every refusal of parse ----

#[test]
fn bad_path_is_404() {
    let h = headers(&[]);
    for p in [
        "/",
        "/3/devices/x",
        "/2/device/ab",
        "",
        "3/device/ab",
        "/3/device-x",
    ] {
        assert_eq!(
            refused(run(&Method::POST, p, &h, ALERT)),
            (404, "BadPath"),
            "{p:?}"
        );
    }
    // the path is checked before the method
    assert_eq!(refused(run(&Method::GET, "/", &h, ALERT)), (404, "BadPath"));
}

#[test]
fn other_methods_are_405() {
    let h = headers(&[]);
    for m in [Method::GET, Method::PUT, Method::DELETE, Method::HEAD] {
        assert_eq!(
            refused(run(&m, &path(), &h, ALERT)),
            (405, "MethodNotAllowed")
        );
    }
}

#[test]
fn duplicate_headers_are_400() {
    for name in [
        "apns-topic",
        "apns-id",
        "apns-push-type",
        "apns-priority",
        "apns-expiration",
        "apns-collapse-id",
        "authorization",
        "x-other",
    ] {
        let v = if name == "apns-id" { ID } else { "5" };
        assert_eq!(
            refused(post(&[(name, v), (name, v)], ALERT)),
            (400, "DuplicateHeaders"),
            "{name}"
        );
    }
}

#[test]
fn missing_device_token_is_400() {
    let h = headers(&[]);
    for p in ["/3/device/", "/3/device"] {
        assert_eq!(
            refused(run(&Method::POST, p, &h, ALERT)),
            (400, "MissingDeviceToken")
        );
    }
}

#[test]
fn bad_device_tokens_are_400() {
    let h = headers(&[]);
    let long = format!("{TOKEN}00");
    let bad = [
        &TOKEN[..62],
        long.as_str(),
        "zz",
        &TOKEN.replacen('0', "g", 1),
        &format!("{TOKEN}/x"),
        &format!("{TOKEN}?a=b"),
        &format!("{}é", &TOKEN[..62]),
        // a variable-length Apple token of 100 bytes: not one pushca hands out
        &"ab".repeat(100),
    ];
    for t in bad {
        assert_eq!(
            refused(run(&Method::POST, &format!("{PATH_PREFIX}{t}"), &h, ALERT)),
            (400, "BadDeviceToken"),
            "{t}"
        );
    }
}

#[test]
fn bad_topics_are_400() {
    let long = format!("com.{}", "a".repeat(252));
    for t in [
        "",
        " ",
        ".com.example",
        "com.example.",
        "com..example",
        "com.example/app",
        "com.example app",
        "com.*",
        "com.exämple",
        long.as_str(),
    ] {
        let h = if t == "com.exämple" {
            let mut h = HeaderMap::new();
            h.insert("apns-topic", HeaderValue::from_bytes(t.as_bytes()).unwrap());
            h
        } else {
            headers(&[("apns-topic", t)])
        };
        assert_eq!(
            refused(run(&Method::POST, &path(), &h, ALERT)),
            (400, "BadTopic"),
            "{t:?}"
        );
    }
    // 255 bytes is still fine
    let max = format!("com.{}", "a".repeat(251));
    assert!(post(&[("apns-topic", &max)], ALERT).is_ok());
}

#[test]
fn unknown_push_types_are_400() {
    for v in ["", "Alert", "ALERT", "notification", "voip ", "alert,voip"] {
        let r = post(&[("apns-push-type", v)], ALERT);
        if v == "voip " {
            // surrounding blanks are not part of the value
            assert!(r.is_err() || r.unwrap().push_type == PushType::Voip);
            continue;
        }
        assert_eq!(refused(r), (400, "InvalidPushType"), "{v:?}");
    }
}

#[test]
fn bad_message_ids_are_400() {
    for v in [
        "",
        "eabeae54-14a8-11e5-b60b-1697f925ec7",
        "eabeae54-14a8-11e5-b60b-1697f925ec7bb",
        "eabeae5414a811e5b60b1697f925ec7b",
        "eabeae54_14a8_11e5_b60b_1697f925ec7b",
        "{eabeae54-14a8-11e5-b60b-1697f925ec7b}",
        "gabeae54-14a8-11e5-b60b-1697f925ec7b",
        "eabeae54-14a8-11e5-b60b1-697f925ec7b",
    ] {
        assert_eq!(
            refused(post(&[("apns-id", v)], ALERT)),
            (400, "BadMessageId"),
            "{v:?}"
        );
    }
}

#[test]
fn bad_expirations_are_400() {
    for v in [
        "",
        "-1",
        "+5",
        "1.5",
        "soon",
        "1e9",
        "18446744073709551616",
        "0x10",
    ] {
        assert_eq!(
            refused(post(&[("apns-expiration", v)], ALERT)),
            (400, "BadExpirationDate"),
            "{v:?}"
        );
    }
    let max = u64::MAX.to_string();
    assert_eq!(
        post(&[("apns-expiration", &max)], ALERT)
            .unwrap()
            .expiration,
        Expiration::At(u64::MAX)
    );
}

#[test]
fn bad_priorities_are_400() {
    for v in ["", "0", "2", "11", "high", "010", "-5"] {
        assert_eq!(
            refused(post(&[("apns-priority", v)], ALERT)),
            (400, "BadPriority"),
            "{v:?}"
        );
    }
}

#[test]
fn background_with_priority_10_is_400() {
    assert_eq!(
        refused(post(
            &[("apns-push-type", "background"), ("apns-priority", "10")],
            ALERT
        )),
        (400, "BadPriority")
    );
}

#[test]
fn bad_collapse_ids_are_400() {
    let long = "c".repeat(65);
    assert_eq!(
        refused(post(&[("apns-collapse-id", &long)], ALERT)),
        (400, "BadCollapseId")
    );
    assert_eq!(
        refused(post(&[("apns-collapse-id", "")], ALERT)),
        (400, "BadCollapseId")
    );
    // 64 bytes of UTF-8 (32 two-byte characters) is fine, 66 is not
    let mut h = HeaderMap::new();
    h.insert(
        "apns-collapse-id",
        HeaderValue::from_bytes("é".repeat(32).as_bytes()).unwrap(),
    );
    let p = run(&Method::POST, &path(), &h, ALERT).unwrap();
    assert_eq!(p.collapse_id.unwrap(), "é".repeat(32));
    h.insert(
        "apns-collapse-id",
        HeaderValue::from_bytes("é".repeat(33).as_bytes()).unwrap(),
    );
    assert_eq!(
        refused(run(&Method::POST, &path(), &h, ALERT)),
        (400, "BadCollapseId")
    );
    // not UTF-8
    h.insert(
        "apns-collapse-id",
        HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
    );
    assert_eq!(
        refused(run(&Method::POST, &path(), &h, ALERT)),
        (400, "BadCollapseId")
    );
}

#[test]
fn empty_payload_is_400() {
    assert_eq!(refused(post(&[], b"")), (400, "PayloadEmpty"));
}

#[test]
fn payloads_that_are_not_one_json_object_are_400() {
    let deep = format!("{}1{}", "{\"a\":".repeat(101), "}".repeat(101));
    let deep_arrays = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    for b in [
        &b"[]"[..],
        b"\"aps\"",
        b"1",
        b"null",
        b"{",
        b"{}{}",
        b"{} x",
        b"{\"a\":}",
        b"{'a':1}",
        b"{\"a\":\"\xff\"}",
        b"   ",
        deep.as_bytes(),
        deep_arrays.as_bytes(),
    ] {
        assert_eq!(
            refused(post(&[], b)),
            (400, "BadPayload"),
            "{}",
            String::from_utf8_lossy(b)
        );
    }
    // 100 levels is still fine, and brackets inside strings do not count
    let ok = format!("{}1{}", "{\"a\":".repeat(99), "}".repeat(100));
    let ok = format!("{{\"z\":{ok}");
    assert!(post(&[], ok.as_bytes()).is_ok(), "100 levels");
    assert!(post(&[], br#"{"a":"[[[[{{{{\"]]"}"#).is_ok());
    assert!(post(&[], b"{}").is_ok());
}

/// 4,000 levels of nesting within the payload cap: refused at once, no stack
/// overflow (depth is counted before serde_json sees it).
#[test]
fn hostile_nesting_is_refused_cheaply() {
    let b = "[".repeat(4000);
    assert_eq!(
        refused(post(&[], format!("{{{b}").as_bytes())),
        (400, "BadPayload")
    );
}

/// The check order of the module docs: each rule wins over every later one.
#[test]
fn rules_apply_in_the_documented_order() {
    let dup = [("x-a", "1"), ("x-a", "2")];
    // method before duplicates
    assert_eq!(
        refused(run(&Method::GET, &path(), &headers(&dup), b"")),
        (405, "MethodNotAllowed")
    );
    // duplicates before the token
    assert_eq!(
        refused(run(&Method::POST, "/3/device/zz", &headers(&dup), b"")),
        (400, "DuplicateHeaders")
    );
    // the token before the headers
    assert_eq!(
        refused(run(
            &Method::POST,
            "/3/device/zz",
            &headers(&[("apns-topic", "..")]),
            b""
        )),
        (400, "BadDeviceToken")
    );
    let all_bad = [
        ("apns-topic", ".."),
        ("apns-push-type", "x"),
        ("apns-id", "x"),
        ("apns-expiration", "x"),
        ("apns-priority", "x"),
        ("apns-collapse-id", ""),
    ];
    let order = [
        "BadTopic",
        "InvalidPushType",
        "BadMessageId",
        "BadExpirationDate",
        "BadPriority",
        "BadCollapseId",
        "PayloadEmpty",
    ];
    for (i, want) in order.iter().enumerate() {
        assert_eq!(refused(post(&all_bad[i..], b"")).1, *want);
    }
    assert_eq!(refused(post(&[], &[b' '; 5000])).1, "PayloadTooLarge");
}

// ---- resolve_topic ----

fn push_with(topic: Option<&str>, push_type: PushType) -> Push {
    let mut p = post(&[], ALERT).unwrap();
    p.topic = topic.map(str::to_string);
    p.push_type = push_type;
    p
}

#[test]
fn omitted_topic_takes_the_certificates_only_topic() {
    let p = push_with(None, PushType::Alert);
    assert_eq!(
        resolve_topic(&p, &["com.example.app"]).unwrap(),
        "com.example.app"
    );
    let v = push_with(None, PushType::Voip);
    assert_eq!(
        resolve_topic(&v, &["com.example.app.voip"]).unwrap(),
        "com.example.app.voip"
    );
}

#[test]
fn omitted_topic_with_several_or_no_certificate_topics_is_missing_topic() {
    let p = push_with(None, PushType::Alert);
    let pushca_cert = [
        "com.example.app",
        "com.example.app.voip",
        "com.example.app.complication",
    ];
    for topics in [&pushca_cert[..], &[]] {
        let r = resolve_topic(&p, topics).unwrap_err();
        assert_eq!(
            (r.status.as_u16(), r.reason.as_str()),
            (400, "MissingTopic")
        );
    }
}

#[test]
fn a_given_topic_wins_over_the_certificates() {
    let p = push_with(Some("com.example.other"), PushType::Alert);
    assert_eq!(
        resolve_topic(&p, &["com.example.app"]).unwrap(),
        "com.example.other"
    );
}

#[test]
fn topic_suffix_rules() {
    let bad = |topic: &str, t: PushType| {
        let r = resolve_topic(&push_with(Some(topic), t), &[]).unwrap_err();
        (r.status.as_u16(), r.reason.as_str())
    };
    for t in PushType::ALL {
        match t.topic_suffix() {
            Some(_) => {
                // the bare bundle ID may not take this push type
                assert_eq!(bad("com.example.app", t), (400, "TopicDisallowed"), "{t}");
            }
            None => {
                // an alert, background or mdm push to a PushKit topic
                assert_eq!(
                    bad("com.example.app.voip", t),
                    (400, "InvalidPushType"),
                    "{t}"
                );
            }
        }
        // any other push type's topic is the wrong push type
        for other in PushType::ALL {
            if other != t && other.topic_suffix().is_some() {
                assert_eq!(
                    bad(&topic_for(other), t),
                    (400, "InvalidPushType"),
                    "{t} {other}"
                );
            }
        }
    }
    // `.voip-ptt` is pushtotalk's, not voip's
    assert_eq!(
        bad("com.example.app.voip-ptt", PushType::Voip),
        (400, "InvalidPushType")
    );
    // an omitted topic is checked too
    let r = resolve_topic(&push_with(None, PushType::Voip), &["com.example.app"]).unwrap_err();
    assert_eq!(r.reason, Reason::TopicDisallowed);
    // an MDM topic has no suffix
    let mdm = push_with(
        Some("com.apple.mgmt.External.0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
        PushType::Mdm,
    );
    assert!(resolve_topic(&mdm, &[]).is_ok());
}

// ---- never a panic ----

fn arb_header() -> impl Strategy<Value = (String, Vec<u8>)> {
    let names = prop_oneof![
        Just("apns-topic".to_string()),
        Just("apns-id".to_string()),
        Just("apns-push-type".to_string()),
        Just("apns-priority".to_string()),
        Just("apns-expiration".to_string()),
        Just("apns-collapse-id".to_string()),
        Just("cookie".to_string()),
        "[a-z-]{1,12}",
    ];
    let values = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "[a-z0-9.-]{0,40}".prop_map(String::into_bytes),
        Just(ID.as_bytes().to_vec()),
        Just(b"background".to_vec()),
        Just(b"10".to_vec()),
    ];
    (names, values)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics(
        method in prop_oneof![Just(Method::POST), Just(Method::GET), Just(Method::PATCH)],
        path in prop_oneof![
            ".{0,120}",
            "/3/device/[0-9a-fA-F]{0,70}",
            Just(format!("{PATH_PREFIX}{TOKEN}")),
        ],
        hs in proptest::collection::vec(arb_header(), 0..8),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..MAX_BODY + 2),
            "[\\[\\]{}\":a,1 \\\\]{0,300}".prop_map(String::into_bytes),
            Just(ALERT.to_vec()),
        ],
        topics in proptest::collection::vec("[a-z.]{0,20}", 0..3),
    ) {
        let mut h = HeaderMap::new();
        for (k, v) in hs {
            // only what an HTTP/2 server can hand over
            if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_bytes(&v)) {
                h.append(k, v);
            }
        }
        let req = Request { method: &method, path: &path, headers: &h, body: &body };
        match parse(&req) {
            Ok(push) => {
                let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                if let Err(r) = resolve_topic(&push, &topics) {
                    prop_assert!(r.status.is_client_error());
                }
                prop_assert!(push.payload.len() <= push.push_type.max_payload());
            }
            Err(r) => {
                prop_assert_eq!(r.status, r.reason.status());
                let b: serde_json::Value = serde_json::from_slice(&body_of(&r)).unwrap();
                prop_assert_eq!(b["reason"].as_str(), Some(r.reason.as_str()));
            }
        }
        let _ = response_id(&h);
    }
}

fn body_of(r: &Rejection) -> Vec<u8> {
    body(r)
}
