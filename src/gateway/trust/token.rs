//! Token-based provider authentication (PRODUCT.md, "Token-based provider
//! authentication"): the auth keys of the signed policy, decoded once at
//! load; a provider token verified (bounds, key, ES256 signature, `iss`,
//! `iat`) and cached by its bytes in the snapshot; then the rules of a push
//! (topic, key scope, rule 5 without its certificate part, rule 6).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

use super::load::invalid;
use super::udid::Device;
use super::{Fx, TrustStore, MAX_CACHED};
use crate::gateway::jwt::{self, is_id10, JwtError, KEY_ID_LEN, MAX_TOKEN_BYTES};
use crate::gateway::policy::Policy;
use crate::gateway::{Decision, Denied, GatewayError, Reason};
use crate::x509ext::Environment;

/// How far in the future a token's `iat` may be (clock skew), in seconds.
pub(crate) const MAX_FUTURE_SECS: i64 = 60;
/// How old a token may be, in seconds: APNs refuses a token after an hour.
pub(crate) const MAX_AGE_SECS: i64 = 3600;

/// An uncompressed P-256 point: `04 ‖ x ‖ y`.
const POINT_LEN: usize = 65;

/// One auth key of the policy, decoded.
#[derive(Debug)]
struct KeyEntry {
    key_id: Arc<str>,
    team: u32,
    team_id: Arc<str>,
    env: Environment,
    /// The App IDs a topic-specific key covers (`None`: team scope).
    apps: Option<HashSet<u32, Fx>>,
    point: [u8; POINT_LEN],
    revoked: bool,
}

/// A verified token, as the cache holds it and a [`ProviderToken`] shares it.
#[derive(Debug)]
pub(super) struct TokenData {
    /// The whole token: a [`ProviderToken`] of another snapshot is verified
    /// again from it.
    token: Arc<[u8]>,
    key: u32,
    key_id: Arc<str>,
    team_id: Arc<str>,
    env: Environment,
    iat: i64,
}

/// The key table and the token cache of one snapshot.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    keys: Vec<KeyEntry>,
    by_id: HashMap<[u8; KEY_ID_LEN], u32, Fx>,
    /// App index -> its team (an index of the teams that keys and App IDs name).
    app_team: Vec<u32>,
    cache: RwLock<HashMap<Arc<[u8]>, Arc<TokenData>, Fx>>,
}

/// A provider authenticated by a token: the result of
/// [`Gateway::verify_token`](crate::gateway::Gateway::verify_token) (its
/// key, signature, `iss` and `iat` checked), kept per connection and passed
/// to [`Gateway::authorize_with_token`](crate::gateway::Gateway::authorize_with_token)
/// for each push. `Debug` never prints the token (a bearer credential).
#[derive(Clone)]
pub struct ProviderToken {
    generation: u64,
    data: Arc<TokenData>,
}

impl std::fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderToken")
            .field("key_id", &self.key_id())
            .field("team_id", &self.team_id())
            .field("environment", &self.environment())
            .field("issued_at", &self.issued_at())
            .finish()
    }
}

impl ProviderToken {
    /// The Key ID of the auth key that signed it (its `kid`).
    pub fn key_id(&self) -> &str {
        &self.data.key_id
    }
    /// The team of the key (its `iss`).
    pub fn team_id(&self) -> &str {
        &self.data.team_id
    }
    /// The one environment the key signs for.
    pub fn environment(&self) -> Environment {
        self.data.env
    }
    /// Its `iat` (unix seconds): the token expires an hour later.
    pub fn issued_at(&self) -> i64 {
        self.data.iat
    }
    pub(crate) fn is_from(&self, store: &TrustStore) -> bool {
        self.generation == store.generation
    }
    pub(crate) fn token(&self) -> &[u8] {
        &self.data.token
    }
}

fn key_error(path: &Path, kid: &str, what: impl std::fmt::Display) -> GatewayError {
    invalid(path, format!("key {}: {what}", kid.escape_default()))
}

/// The uncompressed point of a DER SubjectPublicKeyInfo of a P-256 key
/// (`id-ecPublicKey` with `prime256v1`), checked to be on the curve.
fn p256_point(spki_der: &[u8]) -> Result<[u8; POINT_LEN], &'static str> {
    use der::Decode as _;
    const EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const PRIME256V1: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|_| "public_key is not a DER SubjectPublicKeyInfo")?;
    if spki.algorithm.oid != EC_PUBLIC_KEY {
        return Err("public_key is not an EC key (id-ecPublicKey)");
    }
    let curve = spki
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
    if curve != Some(PRIME256V1) {
        return Err("public_key is not on P-256 (prime256v1)");
    }
    let point: [u8; POINT_LEN] = spki
        .subject_public_key
        .as_bytes()
        .and_then(|b| b.try_into().ok())
        .filter(|p: &[u8; POINT_LEN]| p[0] == 0x04)
        .ok_or("public_key is not a 65-byte uncompressed P-256 point")?;
    // On the curve: ring validates a peer's point before any ECDH (an
    // ephemeral agreement, whose result is dropped), so that a bad key is
    // a load error and not a silent refusal of every token it signed.
    let rng = ring::rand::SystemRandom::new();
    let eph = ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::ECDH_P256, &rng)
        .map_err(|_| "no randomness to check the public key")?;
    let peer = ring::agreement::UnparsedPublicKey::new(&ring::agreement::ECDH_P256, &point);
    ring::agreement::agree_ephemeral(eph, &peer, |_| ())
        .map_err(|_| "public_key is not a point of P-256")?;
    Ok(point)
}

impl Tokens {
    /// The key table of `policy` (each key decoded and checked once), for
    /// App IDs indexed by `apps` (lowercase bundle ID -> index, `n_apps` in
    /// all). A malformed key is a load error naming its Key ID.
    pub(super) fn build<'p>(
        path: &Path,
        policy: &'p Policy,
        apps: &HashMap<String, u32, Fx>,
        n_apps: usize,
    ) -> Result<Tokens, GatewayError> {
        let mut teams: HashMap<&str, u32> = HashMap::new();
        let mut team_of = |t: &'p str| {
            let n = teams.len() as u32;
            *teams.entry(t).or_insert(n)
        };
        let mut app_team = vec![u32::MAX; n_apps];
        for (bundle, app) in &policy.apps {
            if let Some(&i) = apps.get(&bundle.to_ascii_lowercase()) {
                app_team[i as usize] = team_of(&app.team_id);
            }
        }
        let mut keys = Vec::with_capacity(policy.keys.len());
        let mut by_id = HashMap::default();
        for (kid, k) in &policy.keys {
            let err = |what: &dyn std::fmt::Display| key_error(path, kid, what);
            if !is_id10(kid.as_bytes()) {
                return Err(err(&"not a Key ID (10 characters A-Z, 0-9)"));
            }
            if !is_id10(k.team_id.as_bytes()) {
                return Err(err(&format_args!(
                    "team_id '{}' is not a Team ID (10 characters A-Z, 0-9)",
                    k.team_id.escape_default()
                )));
            }
            let env = Environment::from_name(&k.environment).ok_or_else(|| {
                err(&format_args!(
                    "unknown environment '{}'",
                    k.environment.escape_default()
                ))
            })?;
            let team = team_of(&k.team_id);
            let scope = match (k.scope.as_str(), k.apps.is_empty()) {
                ("team", true) => None,
                ("team", false) => return Err(err(&"a team-scoped key lists apps")),
                ("topics", true) => return Err(err(&"a topic-specific key lists no apps")),
                ("topics", false) => {
                    let mut set = HashSet::default();
                    for b in &k.apps {
                        // An App ID no longer in the policy (disabled,
                        // without push) covers nothing: its topics are not
                        // in the policy either.
                        let Some(&i) = apps.get(&b.to_ascii_lowercase()) else {
                            continue;
                        };
                        if app_team[i as usize] != team {
                            return Err(err(&format_args!(
                                "App ID {} is not of the key's team {}",
                                b.escape_default(),
                                k.team_id
                            )));
                        }
                        set.insert(i);
                    }
                    Some(set)
                }
                (other, _) => {
                    return Err(err(&format_args!(
                        "unknown scope '{}' (team or topics)",
                        other.escape_default()
                    )))
                }
            };
            let der = base64::engine::general_purpose::STANDARD
                .decode(&k.public_key)
                .map_err(|_| err(&"public_key is not base64"))?;
            let point = p256_point(&der).map_err(|e| err(&e))?;
            if let Some(r) = &k.revoked_at {
                time::OffsetDateTime::parse(r, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                        err(&format_args!(
                            "revoked_at '{}' is not an RFC 3339 time",
                            r.escape_default()
                        ))
                    })?;
            }
            let mut id = [0u8; KEY_ID_LEN];
            id.copy_from_slice(kid.as_bytes());
            by_id.insert(id, keys.len() as u32);
            keys.push(KeyEntry {
                key_id: kid.as_str().into(),
                team,
                team_id: k.team_id.as_str().into(),
                env,
                apps: scope,
                point,
                revoked: k.revoked_at.is_some(),
            });
        }
        Ok(Tokens {
            keys,
            by_id,
            app_team,
            cache: RwLock::default(),
        })
    }
}

/// [`Denied`] for a token.
fn denied(reason: Reason, detail: impl Into<String>) -> Denied {
    Denied {
        reason,
        detail: detail.into(),
    }
}

/// `iat` against `now`: at most [`MAX_FUTURE_SECS`] ahead, at most
/// [`MAX_AGE_SECS`] old.
#[inline]
fn window(iat: i64, now: i64) -> Result<(), Reason> {
    if iat.saturating_sub(now) > MAX_FUTURE_SECS {
        Err(Reason::InvalidProviderToken)
    } else if now.saturating_sub(iat) > MAX_AGE_SECS {
        Err(Reason::ExpiredProviderToken)
    } else {
        Ok(())
    }
}

fn window_detail(r: Reason) -> &'static str {
    if r == Reason::ExpiredProviderToken {
        "the token was issued (iat) more than 3600 s ago"
    } else {
        "the token is issued (iat) more than 60 s in the future"
    }
}

impl TrustStore {
    fn unavailable(&self) -> Denied {
        denied(
            Reason::ServiceUnavailable,
            format!(
                "the trust store expired at {}",
                crate::timeutil::rfc3339(self.expires_at)
            ),
        )
    }

    /// A token verified at `now`: from the cache, or parsed within the
    /// bounds, its key looked up, its ES256 signature verified, its `iss`
    /// and `iat` checked, then cached.
    pub(crate) fn verify_token_at(&self, jwt: &[u8], now: i64) -> Result<ProviderToken, Denied> {
        if now >= self.expires_at {
            return Err(self.unavailable());
        }
        if jwt.len() > MAX_TOKEN_BYTES {
            return Err(denied(
                Reason::InvalidProviderToken,
                JwtError::TooLong(jwt.len()).to_string(),
            ));
        }
        if let Some(d) = self.cached_token(jwt) {
            window(d.iat, now).map_err(|r| denied(r, window_detail(r)))?;
            return Ok(ProviderToken {
                generation: self.generation,
                data: d,
            });
        }
        let data = Arc::new(self.verify_uncached(jwt, now)?);
        if let Ok(mut cache) = self.tokens.cache.write() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(data.token.clone(), data.clone());
        }
        Ok(ProviderToken {
            generation: self.generation,
            data,
        })
    }

    #[inline]
    fn cached_token(&self, jwt: &[u8]) -> Option<Arc<TokenData>> {
        self.tokens.cache.read().ok()?.get(jwt).cloned()
    }

    fn verify_uncached(&self, jwt: &[u8], now: i64) -> Result<TokenData, Denied> {
        let invalid = |detail: String| denied(Reason::InvalidProviderToken, detail);
        let j = jwt::parse(jwt).map_err(|e| invalid(e.to_string()))?;
        let kid = std::str::from_utf8(&j.kid).unwrap_or_default();
        let Some(&ki) = self.tokens.by_id.get(&j.kid) else {
            return Err(invalid(format!("unknown Key ID {kid}")));
        };
        let key = &self.tokens.keys[ki as usize];
        if key.revoked {
            return Err(invalid(format!("the key {kid} is revoked")));
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point)
            .verify(j.signed, &j.signature)
            .map_err(|_| invalid(format!("the signature does not verify with key {kid}")))?;
        if *j.iss != *key.team_id {
            return Err(invalid(format!(
                "iss is not the team of key {kid} ({})",
                key.team_id
            )));
        }
        window(j.iat, now).map_err(|r| denied(r, window_detail(r)))?;
        Ok(TokenData {
            token: jwt.into(),
            key: ki,
            key_id: key.key_id.clone(),
            team_id: key.team_id.clone(),
            env: key.env,
            iat: j.iat,
        })
    }

    /// The rules of a push for a token verified on this snapshot.
    #[inline]
    fn decide_token(
        &self,
        t: &TokenData,
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        if let Err(r) = window(t.iat, now) {
            return Decision::Deny(r);
        }
        let key = &self.tokens.keys[t.key as usize];
        if key.env != env {
            return Decision::Deny(Reason::BadEnvironmentKeyInToken);
        }
        let Some(&app) = self.topics.get(topic) else {
            return Decision::Deny(Reason::TopicDisallowed);
        };
        if self.tokens.app_team[app as usize] != key.team
            || key.apps.as_ref().is_some_and(|a| !a.contains(&app))
        {
            return Decision::Deny(Reason::TopicDisallowed);
        }
        let device = device.map(Device::new);
        self.provisioned(app, env, &self.by_app[app as usize], device.as_ref(), now)
    }

    /// A push with a token verified on this snapshot (`t.is_from(self)`).
    #[inline]
    pub(crate) fn authorize_with_token_at(
        &self,
        t: &ProviderToken,
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        if now >= self.expires_at {
            return Decision::Deny(Reason::ServiceUnavailable);
        }
        if !t.is_from(self) {
            return match self.verify_token_at(t.token(), now) {
                Ok(fresh) => self.decide_token(&fresh.data, topic, env, device, now),
                Err(d) => Decision::Deny(d.reason),
            };
        }
        self.decide_token(&t.data, topic, env, device, now)
    }

    /// Both steps: the token verified (a cache hit costs one hash lookup)
    /// and the push decided.
    #[inline]
    pub(crate) fn authorize_token_at(
        &self,
        jwt: &[u8],
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        if now >= self.expires_at {
            return Decision::Deny(Reason::ServiceUnavailable);
        }
        if jwt.len() <= MAX_TOKEN_BYTES {
            if let Ok(cache) = self.tokens.cache.read() {
                if let Some(d) = cache.get(jwt) {
                    return self.decide_token(d, topic, env, device, now);
                }
            }
        }
        match self.verify_token_at(jwt, now) {
            Ok(t) => self.decide_token(&t.data, topic, env, device, now),
            Err(d) => Decision::Deny(d.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::policy::KeyPolicy;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
    use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

    /// The DER SPKI prefix of an uncompressed P-256 point.
    const SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

    fn keypair() -> EcdsaKeyPair {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn spki_b64(k: &EcdsaKeyPair) -> String {
        let mut der = hex::decode(SPKI_PREFIX).unwrap();
        der.extend_from_slice(k.public_key().as_ref());
        STANDARD.encode(der)
    }

    fn sign(k: &EcdsaKeyPair, kid: &str, iss: &str, iat: i64) -> Vec<u8> {
        let h = B64.encode(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#));
        let c = B64.encode(format!(r#"{{"iss":"{iss}","iat":{iat}}}"#));
        let signed = format!("{h}.{c}");
        let rng = ring::rand::SystemRandom::new();
        let sig = k.sign(&rng, signed.as_bytes()).unwrap();
        format!("{signed}.{}", B64.encode(sig.as_ref())).into_bytes()
    }

    fn policy_with(keys: Vec<(&str, KeyPolicy)>) -> Policy {
        let json = serde_json::json!({
            "format": "pushca-policy/3", "version": 1,
            "generated_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z",
            "inputs_sha256": "", "ca": [],
            "crl": {"number": 1, "this_update": "", "next_update": "", "revoked": []},
            "files": {}, "topics": {}, "apps": {
                "com.example.app": {"team_id": "ABCDE12345", "app_id": "ABCDE12345.com.example.app", "topics": [], "environments": {}},
                "com.other.app": {"team_id": "ZZZZZ99999", "app_id": "ZZZZZ99999.com.other.app", "topics": [], "environments": {}}
            },
            "teams": {}, "keys": {}
        });
        let mut p: Policy = serde_json::from_value(json).unwrap();
        p.keys = keys.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        p
    }

    fn key(public_key: String) -> KeyPolicy {
        KeyPolicy {
            team_id: "ABCDE12345".into(),
            environment: "development".into(),
            scope: "team".into(),
            apps: Vec::new(),
            public_key,
            revoked_at: None,
        }
    }

    fn build(keys: Vec<(&str, KeyPolicy)>) -> Result<Tokens, GatewayError> {
        let p = policy_with(keys);
        let apps: HashMap<String, u32, Fx> = [
            ("com.example.app".to_string(), 0),
            ("com.other.app".to_string(), 1),
        ]
        .into_iter()
        .collect();
        Tokens::build(Path::new("policy.json"), &p, &apps, 2)
    }

    #[test]
    fn the_key_table_decodes_each_key_once() {
        let k = keypair();
        let t = build(vec![("ABC123DEFG", key(spki_b64(&k)))]).unwrap();
        let e = &t.keys[0];
        assert_eq!(e.point.as_slice(), k.public_key().as_ref());
        assert_eq!(
            (&*e.key_id, &*e.team_id, e.env),
            ("ABC123DEFG", "ABCDE12345", Environment::Development)
        );
        assert!(e.apps.is_none() && !e.revoked);
        assert_eq!(t.by_id[b"ABC123DEFG"], 0);
        // The signature verifies with the decoded point.
        let tok = sign(&k, "ABC123DEFG", "ABCDE12345", 1);
        let j = jwt::parse(&tok).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &e.point)
            .verify(j.signed, &j.signature)
            .unwrap();
        // Topic-specific: its App IDs (an App ID no longer in the policy is skipped).
        let mut kp = key(spki_b64(&k));
        kp.scope = "topics".into();
        kp.apps = vec!["com.example.app".into(), "com.gone.app".into()];
        let t = build(vec![("ABC123DEFG", kp)]).unwrap();
        assert_eq!(
            t.keys[0]
                .apps
                .as_ref()
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [0]
        );
    }

    #[test]
    fn a_malformed_key_is_a_load_error_naming_its_key_id() {
        let k = keypair();
        let good = spki_b64(&k);
        let mut der = STANDARD.decode(&good).unwrap();
        let mut off_curve = der.clone();
        *off_curve.last_mut().unwrap() ^= 1; // y no longer matches x
        let mut compressed =
            hex::decode("3039301306072a8648ce3d020106082a8648ce3d030107032200").unwrap();
        compressed.push(0x02);
        compressed.extend_from_slice(&k.public_key().as_ref()[1..33]);
        let rsa_oid = {
            let mut d = der.clone();
            // 1.2.840.10045.2.1 -> 1.2.840.10045.2.2 (not id-ecPublicKey)
            d[12] = 0x02;
            d
        };
        let other_curve = {
            let mut d = der.clone();
            d[22] = 0x08; // 1.2.840.10045.3.1.8
            d
        };
        der.push(0);
        let cases: Vec<(&str, KeyPolicy, &str)> = vec![
            ("ABC123DEFG", key("not base64!".into()), "not base64"),
            (
                "ABC123DEFG",
                key(STANDARD.encode(b"junk")),
                "not a DER SubjectPublicKeyInfo",
            ),
            (
                "ABC123DEFG",
                key(STANDARD.encode(&der)),
                "not a DER SubjectPublicKeyInfo",
            ),
            (
                "ABC123DEFG",
                key(STANDARD.encode(&off_curve)),
                "not a point of P-256",
            ),
            (
                "ABC123DEFG",
                key(STANDARD.encode(&compressed)),
                "65-byte uncompressed",
            ),
            (
                "ABC123DEFG",
                key(STANDARD.encode(&rsa_oid)),
                "id-ecPublicKey",
            ),
            (
                "ABC123DEFG",
                key(STANDARD.encode(&other_curve)),
                "prime256v1",
            ),
            ("abc123defg", key(good.clone()), "not a Key ID"),
            (
                "ABC123DEFG",
                KeyPolicy {
                    team_id: "abc".into(),
                    ..key(good.clone())
                },
                "not a Team ID",
            ),
            (
                "ABC123DEFG",
                KeyPolicy {
                    environment: "staging".into(),
                    ..key(good.clone())
                },
                "unknown environment",
            ),
            (
                "ABC123DEFG",
                KeyPolicy {
                    scope: "all".into(),
                    ..key(good.clone())
                },
                "unknown scope",
            ),
            (
                "ABC123DEFG",
                KeyPolicy {
                    apps: vec!["com.example.app".into()],
                    ..key(good.clone())
                },
                "team-scoped key lists apps",
            ),
            (
                "ABC123DEFG",
                KeyPolicy {
                    scope: "topics".into(),
                    ..key(good.clone())
                },
                "lists no apps",
            ),
            (
                "ABC123DEFG",
                KeyPolicy {
                    scope: "topics".into(),
                    apps: vec!["com.other.app".into()],
                    ..key(good.clone())
                },
                "not of the key's team",
            ),
            (
                "ABC123DEFG",
                KeyPolicy {
                    revoked_at: Some("yesterday".into()),
                    ..key(good.clone())
                },
                "not an RFC 3339",
            ),
        ];
        for (kid, kp, want) in cases {
            let e = build(vec![(kid, kp)]).expect_err(want).to_string();
            assert!(
                e.contains(&format!("key {kid}: ")) && e.contains(want),
                "{want}: {e}"
            );
        }
    }

    #[test]
    fn the_window_of_iat() {
        let now = 1_000_000;
        assert_eq!(window(now, now), Ok(()));
        assert_eq!(window(now - 3600, now), Ok(()));
        assert_eq!(window(now - 3601, now), Err(Reason::ExpiredProviderToken));
        assert_eq!(window(now + 60, now), Ok(()));
        assert_eq!(window(now + 61, now), Err(Reason::InvalidProviderToken));
        assert_eq!(
            window(i64::MIN, i64::MAX),
            Err(Reason::ExpiredProviderToken)
        );
        assert_eq!(
            window(i64::MAX, i64::MIN),
            Err(Reason::InvalidProviderToken)
        );
    }
}
