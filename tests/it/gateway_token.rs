//! Token-based provider authentication in the library: real signed trust
//! stores (a fixture home's CA and profiles; the auth keys added to the
//! published policy.json, re-signed with the home's profile signer, as the
//! portal's `pushca key create` will list them), tokens signed with ring and
//! by PyJWT, every reason of PRODUCT.md, reloads, the cache, hostile tokens.

use crate::common;
use crate::common::resign_policy;

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine as _;
use common::{stderr, Env, CA_PASS};
use pushca::gateway::{Anchor, Decision, Gateway, Reason};
use pushca::x509ext::Environment;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

const D1: &str = "00008030-001A0C3E0E68802E";
const D2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const TEAM: &str = "ABCDE12345";
const FOREIGN_TEAM: &str = "ZZZZZ99999";
const APP: &str = "com.example.app";
/// An App ID with push and no profile (how the policy will list it).
const NO_PROFILE: &str = "com.example.other";
/// An App ID of another team.
const FOREIGN: &str = "com.foreign.app";

const TEAM_DEV: &str = "TEAMDEV001";
const TEAM_PROD: &str = "TEAMPROD01";
const TOPIC_KEY: &str = "TOPICDEV01";
const REVOKED: &str = "REVOKED001";
const FOREIGN_KEY: &str = "FOREIGN001";

use Decision::{Allow, Deny};
use Environment::{Development as Dev, Production as Prod};
use Reason::*;

// Bytes allocated by this thread (a counting wrapper of the system
// allocator): hostile tokens must not make the library allocate in
// proportion to their size.
struct Counting;
thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}
// SAFETY: forwards every call to the system allocator unchanged; the
// counter is a const-initialised thread-local `Cell` (no allocation).
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + l.size()));
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + n));
        // SAFETY: as above.
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}
#[global_allocator]
static COUNTING: Counting = Counting;

fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let r = f();
    (r, ALLOCATED.with(Cell::get) - before)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

struct Key {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl Key {
    fn new() -> Key {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
        Key { pair, pkcs8 }
    }

    /// base64 of the DER SubjectPublicKeyInfo (what the policy holds).
    fn spki_b64(&self) -> String {
        let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
        der.extend_from_slice(self.pair.public_key().as_ref());
        STANDARD.encode(der)
    }

    /// A token with this header and claims, signed (ES256, r||s).
    fn sign_raw(&self, header: &str, claims: &str) -> Vec<u8> {
        let signed = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let sig = self
            .pair
            .sign(&ring::rand::SystemRandom::new(), signed.as_bytes())
            .unwrap();
        format!("{signed}.{}", B64.encode(sig.as_ref())).into_bytes()
    }

    fn sign(&self, kid: &str, iss: &str, iat: i64) -> Vec<u8> {
        self.sign_raw(
            &format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
            &format!(r#"{{"iss":"{iss}","iat":{iat}}}"#),
        )
    }
}

struct Keys {
    team_dev: Key,
    team_prod: Key,
    topic: Key,
    revoked: Key,
    foreign: Key,
}

fn key_entry(k: &Key, team: &str, env: &str, apps: &[&str], revoked: bool) -> serde_json::Value {
    json!({
        "team_id": team,
        "environment": env,
        "scope": if apps.is_empty() { "team" } else { "topics" },
        "apps": apps,
        "public_key": k.spki_b64(),
        "revoked_at": if revoked { json!("2026-01-01T00:00:00Z") } else { json!(null) },
    })
}

/// A home with com.example.app (development profile listing D1, production
/// profile for all devices), published; `ts` is its trust store with the
/// keys, com.example.other (push, no profile) and an App ID of another team
/// added to the policy, re-signed.
struct World {
    env: Env,
    keys: Keys,
    /// The published policy (before the edits).
    policy: serde_json::Value,
}

fn ok(env: &Env, args: &[&str]) {
    let o = env.cmd().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

fn world() -> World {
    let env = Env::new();
    env.init_with_app();
    for (u, n) in [(D1, "Listed"), (D2, "Other")] {
        ok(&env, &["device", "add", u, "--name", n]);
    }
    let pass = format!("pass:{CA_PASS}");
    let csr = env.openssl_csr("uni", "ec:P-256", &[]);
    let csr = csr.to_str().unwrap();
    ok(
        &env,
        &[
            "cert",
            "issue",
            "--app",
            APP,
            "--env",
            "universal",
            "--csr",
            csr,
            "--out",
            "uni.pem",
            "--ca-passin",
            &pass,
        ],
    );
    for (e, devices) in [
        ("development", &["--device", D1][..]),
        ("production", &["--all-devices"][..]),
    ] {
        let mut a = vec!["profile", "create", "--app", APP, "--env", e];
        a.extend_from_slice(devices);
        let out = format!("{e}.mobileprovision");
        a.extend_from_slice(&["--out", &out, "--ca-passin", &pass]);
        ok(&env, &a);
    }
    ok(
        &env,
        &[
            "gateway",
            "trust-store",
            "--out",
            "published",
            "--ca-passin",
            &pass,
        ],
    );
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("published/policy.json")).unwrap()).unwrap();
    assert_eq!(policy["apps"][APP]["team_id"], TEAM, "{policy}");
    let w = World {
        env,
        keys: Keys {
            team_dev: Key::new(),
            team_prod: Key::new(),
            topic: Key::new(),
            revoked: Key::new(),
            foreign: Key::new(),
        },
        policy,
    };
    w.publish("ts", 0, &|_| {});
    w
}

impl World {
    fn anchor(&self) -> Anchor {
        Anchor::from_file(self.env.home().join("ca/root.pem")).unwrap()
    }

    /// The policy with the keys and extra App IDs, version + `bump`.
    fn edited_policy(&self, bump: u64) -> serde_json::Value {
        let k = &self.keys;
        let mut p = self.policy.clone();
        p["version"] = json!(p["version"].as_u64().unwrap() + bump);
        p["keys"] = json!({
            TEAM_DEV: key_entry(&k.team_dev, TEAM, "development", &[], false),
            TEAM_PROD: key_entry(&k.team_prod, TEAM, "production", &[], false),
            TOPIC_KEY: key_entry(&k.topic, TEAM, "development", &[NO_PROFILE], false),
            REVOKED: key_entry(&k.revoked, TEAM, "development", &[], true),
            FOREIGN_KEY: key_entry(&k.foreign, FOREIGN_TEAM, "development", &[], false),
        });
        for (bundle, team) in [(NO_PROFILE, TEAM), (FOREIGN, FOREIGN_TEAM)] {
            p["apps"][bundle] = json!({
                "team_id": team,
                "app_id": format!("{team}.{bundle}"),
                "topics": [bundle, format!("{bundle}.voip")],
                "environments": {},
            });
            p["topics"][bundle] = json!({"bundle_id": bundle, "kind": "app"});
            p["topics"][format!("{bundle}.voip")] = json!({"bundle_id": bundle, "kind": "voip"});
        }
        p["teams"][FOREIGN_TEAM] = json!({"disabled_devices": []});
        p
    }

    /// `dir`: the published files with [`World::edited_policy`] (then
    /// `edit`), re-signed with the home's profile signer.
    fn publish(&self, dir: &str, bump: u64, edit: &dyn Fn(&mut serde_json::Value)) {
        let to = self.env.path(dir);
        let _ = std::fs::remove_dir_all(&to);
        copy_dir(&self.env.path("published"), &to);
        let mut p = self.edited_policy(bump);
        edit(&mut p);
        resign_policy(&self.env, &to, &p);
    }

    fn gateway(&self) -> Gateway {
        Gateway::load(self.env.path("ts"), self.anchor()).unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// (what, token, topic, environment, device, decision)
type Row<'a> = (
    &'a str,
    &'a [u8],
    &'a str,
    Environment,
    Option<&'a str>,
    Decision,
);

/// Every reason of a token, through `authorize_token_at` (both steps) and,
/// for tokens that verify, `verify_token_at` + `authorize_with_token_at`.
#[test]
fn every_token_decision_on_a_signed_trust_store() {
    let w = world();
    let gw = w.gateway();
    let k = &w.keys;
    let t = now();
    let dev = k.team_dev.sign(TEAM_DEV, TEAM, t);
    let prod = k.team_prod.sign(TEAM_PROD, TEAM, t);
    let topic = k.topic.sign(TOPIC_KEY, TEAM, t);
    let foreign = k.foreign.sign(FOREIGN_KEY, FOREIGN_TEAM, t);

    // The token checks (verify_token): InvalidProviderToken / ExpiredProviderToken.
    let other_key = Key::new();
    let hs256 = {
        let h = B64.encode(format!(r#"{{"alg":"HS256","kid":"{TEAM_DEV}"}}"#));
        let c = B64.encode(format!(r#"{{"iss":"{TEAM}","iat":{t}}}"#));
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k.team_dev.spki_b64().as_bytes()),
            format!("{h}.{c}").as_bytes(),
        );
        format!("{h}.{c}.{}", B64.encode(mac.as_ref())).into_bytes()
    };
    let none_header = B64.encode(format!(r#"{{"alg":"none","kid":"{TEAM_DEV}"}}"#));
    let claims = B64.encode(format!(r#"{{"iss":"{TEAM}","iat":{t}}}"#));
    let dev_sig = std::str::from_utf8(&dev)
        .unwrap()
        .rsplit('.')
        .next()
        .unwrap();
    let token_cases: Vec<(&str, Vec<u8>, Reason)> = vec![
        (
            "bad signature: another key, the same kid",
            other_key.sign(TEAM_DEV, TEAM, t),
            InvalidProviderToken,
        ),
        (
            "unknown kid",
            k.team_dev.sign("UNKNOWN001", TEAM, t),
            InvalidProviderToken,
        ),
        (
            "revoked key",
            k.revoked.sign(REVOKED, TEAM, t),
            InvalidProviderToken,
        ),
        (
            "iss of another team",
            k.team_dev.sign(TEAM_DEV, FOREIGN_TEAM, t),
            InvalidProviderToken,
        ),
        ("alg HS256", hs256, InvalidProviderToken),
        (
            "alg none, no signature",
            format!("{none_header}.{claims}.").into_bytes(),
            InvalidProviderToken,
        ),
        (
            "alg none, with a signature",
            format!("{none_header}.{claims}.{dev_sig}").into_bytes(),
            InvalidProviderToken,
        ),
        (
            "alg ES256 header swapped in (signature over the other header)",
            {
                let s = std::str::from_utf8(&dev).unwrap();
                let (_, rest) = s.split_once('.').unwrap();
                let h = B64.encode(format!(r#"{{"kid":"{TEAM_DEV}","alg":"ES256"}}"#));
                format!("{h}.{rest}").into_bytes()
            },
            InvalidProviderToken,
        ),
        (
            "iat 3601 s old",
            k.team_dev.sign(TEAM_DEV, TEAM, t - 3601),
            ExpiredProviderToken,
        ),
        (
            "iat 61 s ahead",
            k.team_dev.sign(TEAM_DEV, TEAM, t + 61),
            InvalidProviderToken,
        ),
        ("not a token", b"bearer xyz".to_vec(), InvalidProviderToken),
    ];
    for (what, tok, reason) in &token_cases {
        let e = gw.verify_token_at(tok, t).expect_err(what);
        assert_eq!(e.reason, *reason, "{what}: {e}");
        assert_eq!(
            gw.authorize_token_at(tok, APP, Dev, Some(D1), t),
            Deny(*reason),
            "{what}"
        );
        // Failures are not cached: the same answer again.
        assert_eq!(
            gw.verify_token_at(tok, t).unwrap_err().reason,
            *reason,
            "{what}"
        );
    }
    // The details say what is wrong, never the token.
    let e = gw.verify_token_at(&token_cases[0].1, t).unwrap_err();
    assert!(
        e.detail.contains("signature") && e.detail.contains(TEAM_DEV),
        "{e}"
    );
    let e = gw.verify_token_at(&token_cases[2].1, t).unwrap_err();
    assert!(e.detail.contains("revoked"), "{e}");
    for (_, tok, _) in &token_cases {
        let d = gw.verify_token_at(tok, t).unwrap_err().to_string();
        for seg in std::str::from_utf8(tok).unwrap_or("").split('.') {
            assert!(seg.len() < 8 || !d.contains(seg), "{d}");
        }
    }

    // The boundaries are allowed.
    for iat in [t - 3600, t + 60] {
        let tok = k.team_dev.sign(TEAM_DEV, TEAM, iat);
        let p = gw.verify_token_at(&tok, t).unwrap();
        assert_eq!(p.issued_at(), iat);
        assert_eq!(
            gw.authorize_token_at(&tok, APP, Dev, Some(D1), t),
            Allow,
            "iat {iat}"
        );
    }

    // The push rules, for tokens that verify.
    let rows: Vec<Row<'_>> = vec![
        ("team key, listed device", &dev, APP, Dev, Some(D1), Allow),
        ("team key, no device", &dev, APP, Dev, None, Allow),
        (
            "team key, voip topic of no profile",
            &dev,
            "com.example.app.voip",
            Dev,
            None,
            Allow,
        ),
        (
            "production key, all devices",
            &prod,
            APP,
            Prod,
            Some(D2),
            Allow,
        ),
        (
            "key of the other environment",
            &dev,
            APP,
            Prod,
            Some(D1),
            Deny(BadEnvironmentKeyInToken),
        ),
        (
            "production key, development push",
            &prod,
            APP,
            Dev,
            Some(D1),
            Deny(BadEnvironmentKeyInToken),
        ),
        (
            "topic outside a topic-specific key",
            &topic,
            APP,
            Dev,
            Some(D1),
            Deny(TopicDisallowed),
        ),
        (
            "topic of no App ID in the policy",
            &dev,
            "com.nowhere.app",
            Dev,
            None,
            Deny(TopicDisallowed),
        ),
        (
            "App ID of another team",
            &dev,
            FOREIGN,
            Dev,
            None,
            Deny(TopicDisallowed),
        ),
        (
            "another team's key, this team's App ID",
            &foreign,
            APP,
            Dev,
            None,
            Deny(TopicDisallowed),
        ),
        (
            "another team's key, its App ID without profile",
            &foreign,
            FOREIGN,
            Dev,
            None,
            Deny(Forbidden),
        ),
        (
            "topic-specific key, its App ID without profile",
            &topic,
            NO_PROFILE,
            Dev,
            None,
            Deny(Forbidden),
        ),
        (
            "topic-specific key, its App ID's voip topic",
            &topic,
            "com.example.other.voip",
            Dev,
            None,
            Deny(Forbidden),
        ),
        (
            "team key, App ID without profile",
            &dev,
            NO_PROFILE,
            Dev,
            Some(D1),
            Deny(Forbidden),
        ),
        (
            "device not provisioned",
            &dev,
            APP,
            Dev,
            Some(D2),
            Deny(DeviceNotProvisioned),
        ),
        (
            "not a UDID",
            &dev,
            APP,
            Dev,
            Some("nope"),
            Deny(DeviceNotProvisioned),
        ),
    ];
    for (what, tok, topic, env, device, want) in &rows {
        assert_eq!(
            gw.authorize_token_at(tok, topic, *env, *device, t),
            *want,
            "{what}"
        );
        let p = gw.verify_token_at(tok, t).unwrap();
        assert_eq!(
            gw.authorize_with_token_at(&p, topic, *env, *device, t),
            *want,
            "{what}"
        );
    }
    let p = gw.verify_token_at(&dev, t).unwrap();
    assert_eq!(
        (p.key_id(), p.team_id(), p.environment(), p.issued_at()),
        (TEAM_DEV, TEAM, Dev, t)
    );
    // Debug names the key, never the token.
    let dbg = format!("{p:?}");
    assert!(dbg.contains(TEAM_DEV) && !dbg.contains(dev_sig), "{dbg}");

    // An expired store: ServiceUnavailable before anything else.
    let late = gw.expires_at();
    assert_eq!(
        gw.authorize_token_at(b"junk", APP, Dev, None, late),
        Deny(ServiceUnavailable)
    );
    assert_eq!(
        gw.verify_token_at(&dev, late).unwrap_err().reason,
        ServiceUnavailable
    );
    assert_eq!(
        gw.authorize_with_token_at(&p, APP, Dev, None, late),
        Deny(ServiceUnavailable)
    );
}

/// Disabled devices are refused for tokens as for certificates, even under
/// ProvisionsAllDevices.
#[test]
fn a_disabled_device_is_refused_for_tokens() {
    let w = world();
    w.publish("ts", 0, &|p| {
        p["teams"][TEAM]["disabled_devices"] = json!([D1, D2]);
    });
    let gw = w.gateway();
    let t = now();
    let dev = w.keys.team_dev.sign(TEAM_DEV, TEAM, t);
    let prod = w.keys.team_prod.sign(TEAM_PROD, TEAM, t);
    assert_eq!(
        gw.authorize_token_at(&dev, APP, Dev, Some(D1), t),
        Deny(DeviceNotProvisioned)
    );
    assert_eq!(
        gw.authorize_token_at(&prod, APP, Prod, Some(D2), t),
        Deny(DeviceNotProvisioned)
    );
    assert_eq!(
        gw.authorize_token_at(&prod, APP, Prod, Some("00008030-0000000000000001"), t),
        Allow
    );
    assert_eq!(gw.authorize_token_at(&dev, APP, Dev, None, t), Allow);
}

/// A token verified on snapshot 1 whose key snapshot 2 revokes is refused
/// after the reload, whether the caller kept its `ProviderToken` or sends
/// the JWT again; a cached token past its hour is Expired.
#[test]
fn a_reload_and_the_hour_end_a_cached_token() {
    let w = world();
    let gw = w.gateway();
    let t = now();
    let tok = w.keys.team_dev.sign(TEAM_DEV, TEAM, t);
    let p = gw.verify_token_at(&tok, t).unwrap();
    assert_eq!(gw.authorize_with_token_at(&p, APP, Dev, Some(D1), t), Allow);
    // Cached: past the hour it is expired, also from the cache.
    assert_eq!(
        gw.verify_token_at(&tok, t + 3601).unwrap_err().reason,
        ExpiredProviderToken
    );
    assert_eq!(
        gw.authorize_token_at(&tok, APP, Dev, Some(D1), t + 3601),
        Deny(ExpiredProviderToken)
    );
    assert_eq!(
        gw.authorize_with_token_at(&p, APP, Dev, Some(D1), t + 3601),
        Deny(ExpiredProviderToken)
    );
    assert_eq!(
        gw.authorize_with_token_at(&p, APP, Dev, Some(D1), t + 3600),
        Allow
    );
    // A clock gone back more than a minute: not yet valid.
    assert_eq!(
        gw.authorize_with_token_at(&p, APP, Dev, None, t - 61),
        Deny(InvalidProviderToken)
    );

    // Snapshot 2: the same store, one version later, the key revoked.
    w.publish("ts", 1, &|p| {
        p["keys"][TEAM_DEV]["revoked_at"] = json!("2026-06-01T00:00:00Z");
    });
    assert!(gw.reload(w.env.path("ts")).unwrap());
    assert_eq!(
        gw.authorize_with_token_at(&p, APP, Dev, Some(D1), t),
        Deny(InvalidProviderToken)
    );
    assert_eq!(
        gw.authorize_token_at(&tok, APP, Dev, Some(D1), t),
        Deny(InvalidProviderToken)
    );
    let e = gw.verify_token_at(&tok, t).unwrap_err();
    assert!(e.detail.contains("revoked"), "{e}");
    // Other keys go on; a token of an older snapshot is verified anew.
    let prod = w.keys.team_prod.sign(TEAM_PROD, TEAM, t);
    assert_eq!(gw.authorize_token_at(&prod, APP, Prod, None, t), Allow);

    // Snapshot 3: the App ID's profiles gone: Forbidden for a kept token.
    let p = gw.verify_token_at(&prod, t).unwrap();
    w.publish("ts", 2, &|p| {
        p["apps"][APP]["environments"] = json!({});
    });
    // The profile files are now unused (still listed and hashed): fine.
    assert!(gw.reload(w.env.path("ts")).unwrap());
    assert_eq!(
        gw.authorize_with_token_at(&p, APP, Prod, None, t),
        Deny(Forbidden)
    );
}

/// A malformed key in the signed policy: the store does not load, and the
/// error names the Key ID.
#[test]
fn a_malformed_key_in_a_signed_policy_does_not_load() {
    let w = world();
    let bad_point = {
        let mut der = STANDARD.decode(w.keys.team_dev.spki_b64()).unwrap();
        *der.last_mut().unwrap() ^= 1;
        STANDARD.encode(der)
    };
    for (public_key, want) in [
        (bad_point, "not a point of P-256"),
        (STANDARD.encode(b"junk"), "not a DER SubjectPublicKeyInfo"),
    ] {
        w.publish("bad", 0, &|p| {
            p["keys"][TEAM_PROD]["public_key"] = json!(public_key);
        });
        let e = Gateway::load(w.env.path("bad"), w.anchor())
            .expect_err(want)
            .to_string();
        assert!(
            e.contains(&format!("key {TEAM_PROD}: ")) && e.contains(want),
            "{e}"
        );
    }
}

/// A token made by an outside library: PyJWT (`jwt.encode(..., algorithm=
/// "ES256", headers={"kid": ...})` with the PKCS#8 PEM key, as Apple's
/// `AuthKey_<KEYID>.p8`).
#[test]
fn a_token_made_by_pyjwt_is_accepted() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED a_token_made_by_pyjwt_is_accepted: python3 with PyJWT (and cryptography) is not installed");
        return;
    }
    let w = world();
    let gw = w.gateway();
    let p8 = w.env.path(&format!("AuthKey_{TEAM_DEV}.p8"));
    std::fs::write(
        &p8,
        pushca::pem::encode("PRIVATE KEY", &w.keys.team_dev.pkcs8),
    )
    .unwrap();
    let t = now();
    let pyjwt = |iat: i64| {
        let o = std::process::Command::new("python3")
            .args([
                "-c",
                "import jwt, sys, time\n\
                 key = open(sys.argv[1]).read()\n\
                 sys.stdout.write(jwt.encode({'iss': sys.argv[3], 'iat': int(sys.argv[4])}, key, algorithm='ES256', headers={'kid': sys.argv[2]}))",
            ])
            .arg(&p8)
            .args([TEAM_DEV, TEAM, &iat.to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    };
    let tok = pyjwt(t);
    // PyJWT's header carries "typ":"JWT" too.
    let header = B64
        .decode(tok.split(|b| *b == b'.').next().unwrap())
        .unwrap();
    assert!(String::from_utf8_lossy(&header).contains("\"typ\""));
    let p = gw.verify_token_at(&tok, t).unwrap();
    assert_eq!((p.key_id(), p.team_id()), (TEAM_DEV, TEAM));
    assert_eq!(gw.authorize_token_at(&tok, APP, Dev, Some(D1), t), Allow);
    assert_eq!(
        gw.authorize_token_at(&pyjwt(t - 3601), APP, Dev, Some(D1), t),
        Deny(ExpiredProviderToken)
    );
    // The same library's token signed with a key of no trust store.
    let stranger = Key::new();
    std::fs::write(&p8, pushca::pem::encode("PRIVATE KEY", &stranger.pkcs8)).unwrap();
    assert_eq!(
        gw.authorize_token_at(&pyjwt(t), APP, Dev, Some(D1), t),
        Deny(InvalidProviderToken)
    );
}

/// Hostile tokens: refused fast (well under 1 ms in release; < 50 ms here),
/// with no allocation that grows with the input.
#[test]
fn hostile_tokens_are_refused_fast_and_bounded() {
    let w = world();
    let gw = w.gateway();
    let t = now();
    let k = &w.keys.team_dev;
    let deep_header = |n: usize| {
        format!(
            r#"{{"alg":"ES256","kid":"{TEAM_DEV}","x":{}{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let claims = format!(r#"{{"iss":"{TEAM}","iat":{t}}}"#);
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("1 MB", {
            let mut v = k.sign(TEAM_DEV, TEAM, t);
            v.resize(1 << 20, b'A');
            v
        }),
        ("1 MB header", {
            let mut v = B64.encode(vec![b'{'; 786_432]).into_bytes();
            v.extend_from_slice(b".e30.AAAA");
            v
        }),
        ("10,000 dots", vec![b'.'; 10_000]),
        ("4,000 dots", vec![b'.'; 4_000]),
        (
            "JSON nested 10,000 deep",
            k.sign_raw(&deep_header(10_000), &claims),
        ),
        (
            "JSON nested as deep as fits",
            k.sign_raw(&deep_header(1_450), &claims),
        ),
        ("JSON nested 4096 deep, unclosed", {
            let h = format!(
                r#"{{"alg":"ES256","kid":"{TEAM_DEV}","x":{}"#,
                "[".repeat(4096)
            );
            k.sign_raw(&h, &claims)
        }),
        ("huge base64 signature", {
            let mut v = k.sign(TEAM_DEV, TEAM, t);
            v.extend(std::iter::repeat_n(b'A', 10_000_000));
            v
        }),
        ("base64 signature at the cap", {
            let mut v = k.sign(TEAM_DEV, TEAM, t);
            let room = 4096 - v.len();
            v.extend(std::iter::repeat_n(b'A', room - room % 4));
            v
        }),
        ("4 KB of invalid base64", vec![b'!'; 4096]),
    ];
    // Warm up (first call pays lazy initialisation).
    let _ = gw.authorize_token_at(b"a.b.c", APP, Dev, None, t);
    for (what, tok) in &hostile {
        let start = Instant::now();
        let (d, bytes) = allocated_by(|| gw.authorize_token_at(tok, APP, Dev, Some(D1), t));
        let el = start.elapsed();
        assert_eq!(d, Deny(InvalidProviderToken), "{what}");
        assert!(el < Duration::from_millis(50), "{what}: {el:?}");
        assert!(
            bytes < 8192,
            "{what}: {bytes} bytes allocated for {} bytes",
            tok.len()
        );
        let (e, bytes) = allocated_by(|| gw.verify_token_at(tok, t).unwrap_err());
        assert_eq!(e.reason, InvalidProviderToken, "{what}");
        assert!(bytes < 8192, "{what}: {bytes} bytes allocated");
        assert!(e.detail.len() < 200, "{what}: {e}");
    }
}
