//! Every reason of PRODUCT.md that a provider or a device can trigger,
//! through curl --http2: one table, each row a request and the exact status
//! and JSON body it must get (and, on the provider listeners, an `apns-id`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;

const OTHER: &str = "com.example.other";

/// Which listener, with which client certificate.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// Development listener, development push certificate.
    Dev,
    /// Production listener, universal push certificate.
    Prod,
    /// Production listener, development-only push certificate.
    ProdDevCert,
    /// Development listener, no certificate.
    DevNoCert,
    /// Development listener, a device identity.
    DevDeviceCert,
    /// Device listener, device U1.
    Device1,
    /// Device listener, device U2.
    Device2,
    /// Device listener, a push certificate.
    DevicePushCert,
}

struct Row {
    what: &'static str,
    who: Who,
    method: &'static str,
    /// `{dev}`, `{prod}`, `{gone}`, `{other}` are replaced by tokens.
    path: &'static str,
    headers: &'static [&'static str],
    body: Body,
    status: u16,
    /// The exact body; `{gone_at}` is replaced by the unregistration's time.
    expect: &'static str,
}

enum Body {
    Text(&'static str),
    Repeat(usize),
}

const T: &[&str] = &["apns-topic: com.example.app"];

fn rows() -> Vec<Row> {
    use Body::*;
    use Who::*;
    let r = |what, who, method, path, headers, body, status, expect| Row {
        what,
        who,
        method,
        path,
        headers,
        body,
        status,
        expect,
    };
    vec![
        r("accepted", Dev, "POST", "/3/device/{dev}", T, Text("{}"), 200, ""),
        r("BadPath", Dev, "POST", "/3/devices/{dev}", T, Text("{}"), 404, "BadPath"),
        r("BadPath (root)", Dev, "POST", "/", T, Text("{}"), 404, "BadPath"),
        r("MethodNotAllowed", Dev, "PUT", "/3/device/{dev}", T, Text("{}"), 405, "MethodNotAllowed"),
        r(
            "DuplicateHeaders",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app", "apns-priority: 10", "apns-priority: 5"],
            Text("{}"),
            400,
            "DuplicateHeaders",
        ),
        r("MissingDeviceToken", Dev, "POST", "/3/device/", T, Text("{}"), 400, "MissingDeviceToken"),
        r("BadDeviceToken (not hex)", Dev, "POST", "/3/device/xyz", T, Text("{}"), 400, "BadDeviceToken"),
        r(
            "BadDeviceToken (never registered)",
            Dev,
            "POST",
            "/3/device/abababababababababababababababababababababababababababababababab",
            T,
            Text("{}"),
            400,
            "BadDeviceToken",
        ),
        r("BadDeviceToken (production token on development)", Dev, "POST", "/3/device/{prod}", T, Text("{}"), 400, "BadDeviceToken"),
        r("BadDeviceToken (development token on production)", Prod, "POST", "/3/device/{dev}", T, Text("{}"), 400, "BadDeviceToken"),
        r("MissingTopic (several topics in the certificate)", Dev, "POST", "/3/device/{dev}", &[], Text("{}"), 400, "MissingTopic"),
        r("BadTopic", Dev, "POST", "/3/device/{dev}", &["apns-topic: com..example"], Text("{}"), 400, "BadTopic"),
        r(
            "TopicDisallowed (voip to a topic without .voip)",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app", "apns-push-type: voip"],
            Text("{}"),
            400,
            "TopicDisallowed",
        ),
        r(
            "TopicDisallowed (another app's topic)",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.other"],
            Text("{}"),
            400,
            "TopicDisallowed",
        ),
        r(
            "InvalidPushType (unknown)",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app", "apns-push-type: shout"],
            Text("{}"),
            400,
            "InvalidPushType",
        ),
        r(
            "InvalidPushType (alert to .voip)",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app.voip", "apns-push-type: alert"],
            Text("{}"),
            400,
            "InvalidPushType",
        ),
        r(
            "BadPriority",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app", "apns-priority: 7"],
            Text("{}"),
            400,
            "BadPriority",
        ),
        r(
            "BadPriority (10 for background)",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app", "apns-push-type: background", "apns-priority: 10"],
            Text("{}"),
            400,
            "BadPriority",
        ),
        r(
            "BadExpirationDate",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app", "apns-expiration: tomorrow"],
            Text("{}"),
            400,
            "BadExpirationDate",
        ),
        r(
            "BadMessageId",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app", "apns-id: not-a-uuid"],
            Text("{}"),
            400,
            "BadMessageId",
        ),
        r(
            "BadCollapseId",
            Dev,
            "POST",
            "/3/device/{dev}",
            &[
                "apns-topic: com.example.app",
                "apns-collapse-id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ],
            Text("{}"),
            400,
            "BadCollapseId",
        ),
        r("PayloadEmpty", Dev, "POST", "/3/device/{dev}", T, Text(""), 400, "PayloadEmpty"),
        r("PayloadTooLarge", Dev, "POST", "/3/device/{dev}", T, Repeat(4097), 413, "PayloadTooLarge"),
        r(
            "voip may be 5120 bytes",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app.voip", "apns-push-type: voip"],
            Repeat(5120),
            200,
            "",
        ),
        r(
            "PayloadTooLarge (voip)",
            Dev,
            "POST",
            "/3/device/{dev}",
            &["apns-topic: com.example.app.voip", "apns-push-type: voip"],
            Repeat(5121),
            413,
            "PayloadTooLarge",
        ),
        r("BadPayload (array)", Dev, "POST", "/3/device/{dev}", T, Text("[1]"), 400, "BadPayload"),
        r("BadPayload (truncated)", Dev, "POST", "/3/device/{dev}", T, Text("{\"a\":"), 400, "BadPayload"),
        r("DeviceTokenNotForTopic", Prod, "POST", "/3/device/{other}", T, Text("{}"), 400, "DeviceTokenNotForTopic"),
        r("Unregistered", Prod, "POST", "/3/device/{gone}", T, Text("{}"), 410, "{gone_at}"),
        r("BadCertificate (a device identity)", DevDeviceCert, "POST", "/3/device/{dev}", T, Text("{}"), 403, "BadCertificate"),
        r("BadCertificateEnvironment", ProdDevCert, "POST", "/3/device/{prod}", T, Text("{}"), 403, "BadCertificateEnvironment"),
        r("MissingProviderToken", DevNoCert, "POST", "/3/device/{dev}", T, Text("{}"), 403, "MissingProviderToken"),
        // The device listener.
        r(
            "DeviceNotProvisioned (outside the development profile)",
            Device2,
            "POST",
            "/1/registrations",
            &[],
            Text(r#"{"bundle_id":"com.example.app","environment":"development"}"#),
            403,
            "DeviceNotProvisioned",
        ),
        r(
            "Forbidden (an App ID the trust store does not know)",
            Device1,
            "POST",
            "/1/registrations",
            &[],
            Text(r#"{"bundle_id":"com.unknown.app","environment":"production"}"#),
            403,
            "Forbidden",
        ),
        r(
            "Forbidden (a wildcard)",
            Device1,
            "POST",
            "/1/registrations",
            &[],
            Text(r#"{"bundle_id":"com.example.*","environment":"production"}"#),
            403,
            "Forbidden",
        ),
        r(
            "BadEnvironment",
            Device1,
            "POST",
            "/1/registrations",
            &[],
            Text(r#"{"bundle_id":"com.example.app","environment":"staging"}"#),
            400,
            "BadEnvironment",
        ),
        r("registration BadPayload", Device1, "POST", "/1/registrations", &[], Text("{"), 400, "BadPayload"),
        r("registration PayloadTooLarge", Device1, "POST", "/1/registrations", &[], Repeat(5000), 413, "PayloadTooLarge"),
        r("device BadPath", Device1, "GET", "/3/device/{dev}", &[], Text(""), 404, "BadPath"),
        r("device MethodNotAllowed", Device1, "PUT", "/1/registrations", &[], Text("{}"), 405, "MethodNotAllowed"),
        r("unregistering a token of another device", Device2, "DELETE", "/1/registrations/{dev}", &[], Text(""), 404, "BadDeviceToken"),
        r("unregistering a malformed token", Device1, "DELETE", "/1/registrations/xyz", &[], Text(""), 400, "BadDeviceToken"),
        r("BadCertificate (a push certificate)", DevicePushCert, "POST", "/1/registrations", &[], Text("{}"), 403, "BadCertificate"),
    ]
}

/// The fixture with a second App ID (com.example.other, a production push
/// certificate, a production profile for all devices) in its trust store.
fn fixture_with_other_app() -> tempfile::TempDir {
    let fx = own_fixture();
    let dir = fx.path();
    pushca(dir, &["app", "create", OTHER, "--push"]);
    pushca(
        dir,
        &[
            "cert",
            "create",
            "--app",
            OTHER,
            "--env",
            "production",
            "--out-dir",
            "other",
            "--noenc",
            "--key-type",
            "ec-p256",
        ],
    );
    pushca(
        dir,
        &[
            "profile",
            "create",
            "--app",
            OTHER,
            "--env",
            "production",
            "--all-devices",
            "--out",
            "other.mobileprovision",
        ],
    );
    pushca(dir, &["gateway", "trust-store", "--out", "ts"]);
    fx
}

fn register_app(dir: &Path, gw: &Gateway, udid: &str, app: &str, env: &str) -> String {
    let mut a = device(dir, udid);
    a.extend(s(&[
        "-X",
        "POST",
        "-d",
        &format!(r#"{{"bundle_id":"{app}","environment":"{env}"}}"#),
        &format!("{}/1/registrations", gw.devices),
    ]));
    let r = curl(dir, &a);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

#[test]
fn every_reason_has_its_status_and_exact_body() {
    let fx = fixture_with_other_app();
    let dir = fx.path();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let dev = token(dir, &gw, U1, "development");
    let prod = token(dir, &gw, U1, "production");
    let other = register_app(dir, &gw, U1, OTHER, "production");
    let gone = token(dir, &gw, U2, "production");
    let mut a = device(dir, U2);
    a.extend(s(&[
        "-X",
        "DELETE",
        &format!("{}/1/registrations/{gone}", gw.devices),
    ]));
    assert_eq!(curl(dir, &a).status, 204);
    let gone_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;

    let mut failures = Vec::new();
    for row in rows() {
        let (base, mut args) = match row.who {
            Who::Dev => (&gw.dev, provider(dir, "dev")),
            Who::Prod => (&gw.prod, provider(dir, "uni")),
            Who::ProdDevCert => (&gw.prod, provider(dir, "dev")),
            Who::DevNoCert => (&gw.dev, Vec::new()),
            Who::DevDeviceCert => (&gw.dev, device(dir, U1)),
            Who::Device1 => (&gw.devices, device(dir, U1)),
            Who::Device2 => (&gw.devices, device(dir, U2)),
            Who::DevicePushCert => (&gw.devices, provider(dir, "dev")),
        };
        let path = row
            .path
            .replace("{dev}", &dev)
            .replace("{prod}", &prod)
            .replace("{other}", &other)
            .replace("{gone}", &gone);
        for h in row.headers {
            args.extend(s(&["-H", h]));
        }
        let body = match row.body {
            Body::Text(t) => t.to_string(),
            Body::Repeat(n) => format!("{{\"k\":\"{}\"}}", "x".repeat(n - 8)),
        };
        if !(row.method == "GET" || row.method == "DELETE") {
            args.extend(s(&["--data-binary", &body]));
        }
        args.extend(s(&["-X", row.method, &format!("{base}{path}")]));
        let r = curl(dir, &args);
        let expect = if row.expect.is_empty() {
            String::new()
        } else if row.expect == "{gone_at}" {
            // Checked below: the timestamp is the unregistration's.
            r.body.clone()
        } else {
            format!(r#"{{"reason":"{}"}}"#, row.expect)
        };
        let provider_listener =
            !matches!(row.who, Who::Device1 | Who::Device2 | Who::DevicePushCert);
        let id_ok = !provider_listener || r.header("apns-id").is_some();
        if r.status != row.status || r.body != expect || !id_ok {
            failures.push(format!(
                "{}: got {} {:?} (apns-id {}), want {} {:?}",
                row.what, r.status, r.body, id_ok, row.status, expect
            ));
        }
        if row.expect == "{gone_at}" {
            let j = r.json();
            assert_eq!(j["reason"], "Unregistered", "{}", r.body);
            assert_eq!(j.as_object().unwrap().len(), 2, "{}", r.body);
            let ts = j["timestamp"].as_u64().unwrap();
            assert!(
                ts <= gone_at && ts + 60_000 > gone_at,
                "timestamp {ts} not within the last minute of {gone_at}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows wrong:\n{}\n{}",
        failures.len(),
        rows().len(),
        failures.join("\n"),
        gw.log()
    );
}

#[test]
fn a_refusal_echoes_the_apns_id_given_and_a_success_its_own() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir, "ts", state.path());
    let tok = token(dir, &gw, U1, "development");
    let dev = provider(dir, "dev");
    let id = "123E4567-E89B-12D3-A456-426614174000";
    let r = push(dir, &gw.dev, &dev, &tok, "[]", &[&format!("apns-id: {id}")]);
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"reason":"BadPayload"}"#)
    );
    assert_eq!(r.header("apns-id").unwrap().to_uppercase(), id);
    let r = push(dir, &gw.dev, &dev, &tok, "{}", &[&format!("apns-id: {id}")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("apns-id").as_deref(), Some(id), "echoed exactly");
    assert_eq!(r.body, "");
}
