//! Gateway benchmarks on a synthetic store (PRODUCT.md sizes by default):
//! 10,000 App IDs, 100,000 devices, 20,000 push certificates, 10,000 profiles.
//!
//!   cargo bench --bench gateway                 # full size, prints the figures for README
//!   APPS=1000 cargo bench --bench gateway       # smaller
//!
//! Measured: `gateway trust-store` for the store (the ops call the command
//! makes), `Gateway::load` (wall time; peak RSS of a process that only
//! loads it: `pushca gateway check` under GNU time), `identify` on first sight
//! (path validation + CRL, cache misses) against `openssl verify -crl_check`
//! of the same certificates in one process, `authorize` per push on one
//! core, and token-based authentication: `verify_token` on first sight (an
//! ES256 verification) and `authorize_token` per push with a cached token,
//! on the same store with one team-scoped auth key per environment added to
//! its policy (re-signed with the profile signer). Under `cargo test` (no `--bench`), a small store is built and every
//! step runs once, so the generator and the figures' code stay working.

// Test code: a failed unwrap is a failed test (Cargo.toml denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

use pushca::ca::authority::{CaFiles, PROFILE_SIGNER};
use pushca::ca::{templates, CheckedCsr, Issuer, PushEnvironment, PushSubject};
use pushca::gateway::{Decision, Gateway};
use pushca::home::Home;
use pushca::keys::{KeyAlgorithm, KeyType, PrivateKey};
use pushca::portal::profile::{self, Devices, ProfileContent};
use pushca::portal::{self, NewApp};
use pushca::secret::Secret;
use pushca::store::{CertRecord, ProfileRecord, Store};
use pushca::x509ext::Environment;

const PASS: &str = "benchmark-pass";

struct Sizes {
    apps: usize,
    devices_per_app: usize,
    /// Devices of each App ID that are disabled (the last ones: never pushed
    /// to), so that the policy's disabled-device set is not empty.
    disabled_per_app: usize,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Builds the synthetic home: one team, `apps` App IDs with push, 10 devices
/// per App ID, a development and a production certificate per App ID, one
/// profile per App ID (even: development listing its 10 devices; odd:
/// production, all devices) authorising both certificates' environment.
fn generate(home: &Home, sizes: &Sizes) -> Vec<(Vec<u8>, String, Environment, String)> {
    let pass = Secret::new(PASS);
    pushca::ops::init::init_home(
        home,
        &pushca::ops::init::InitRequest {
            team_name: "Bench Corp",
            team_id: Some("BENCH12345"),
            country: "US",
            key_type: KeyType::EcP256,
        },
        &pass,
        pushca::ops::now(),
    )
    .expect("init");
    let files = CaFiles::new(home.ca_dir());
    let ca = Issuer::unlock_issuing(&files, &pass).expect("issuing CA");
    let signer = Issuer::unlock(&files, PROFILE_SIGNER, &pass).expect("profile signer");
    let issuing_der = pushca::ca::authority::read_ca_cert(&files, pushca::ca::authority::ISSUING)
        .expect("issuing cert");
    let dev_t = templates::load_push(None, PushEnvironment::Development).unwrap();
    let prod_t = templates::load_push(None, PushEnvironment::Production).unwrap();
    let profile_t = templates::load_profile(None).unwrap();
    let now = pushca::ops::now();
    let t = now.unix_timestamp();
    let mut store = Store::open(&home.db_path()).expect("store");
    let mut leaves = Vec::new();
    store
        .write(|tx| -> Result<(), Box<dyn std::error::Error>> {
            let team = portal::resolve_team(tx, None)?;
            for a in 0..sizes.apps {
                let bundle = format!("com.bench.app{a}");
                let app = portal::create_app(tx, &NewApp::new(&bundle, true), t)?;
                let mut udids = Vec::new();
                for d in 0..sizes.devices_per_app {
                    let udid = format!("{:08X}-{:016X}", 0x8030, a * 1000 + d);
                    portal::devices::ensure_device(tx, &udid, "bench", None, t)?;
                    if d > 0 && d + sizes.disabled_per_app >= sizes.devices_per_app {
                        tx.set_device_enabled(&team.team_id, &udid, false)?;
                    }
                    udids.push(udid);
                }
                let subject = PushSubject {
                    bundle_id: &app.bundle_id,
                    team_id: &team.team_id,
                    team_name: &team.name,
                    country: "US",
                };
                let mut certs = Vec::new();
                for (env, tpl, name) in [
                    (Environment::Development, &dev_t, "development"),
                    (Environment::Production, &prod_t, "production"),
                ] {
                    let key = PrivateKey::generate(KeyType::EcP256)?;
                    let csr = CheckedCsr {
                        spki_der: key.public_key_der()?,
                        algorithm: KeyAlgorithm::EcP256,
                        requested_subject: String::new(),
                        warnings: Vec::new(),
                    };
                    let c = ca.issue_push_certificate(tpl, &subject, &csr, now)?;
                    tx.insert_certificate(&CertRecord {
                        kind: CertRecord::PUSH.into(),
                        serial: c.serial.clone(),
                        bundle_id: app.bundle_id.clone(),
                        team_id: team.team_id.clone(),
                        environment: name.into(),
                        subject: c.subject.clone(),
                        not_before: c.not_before.unix_timestamp(),
                        not_after: c.not_after.unix_timestamp(),
                        sha256: c.sha256.clone(),
                        key_type: "ec-p256".into(),
                        der: c.der.clone(),
                        issued_at: t,
                        revoked_at: None,
                        revocation_reason: None,
                    })?;
                    certs.push((env, c));
                }
                let env = if a % 2 == 0 {
                    Environment::Development
                } else {
                    Environment::Production
                };
                let (_, cert) = certs.iter().find(|(e, _)| *e == env).unwrap();
                leaves.push((cert.der.clone(), bundle.clone(), env, udids[0].clone()));
                let uuid = profile::new_uuid();
                let expires = profile_t.expires(now, None);
                let fps = vec![cert.sha256.clone()];
                let listed = env == Environment::Development;
                let content = ProfileContent {
                    uuid: &uuid,
                    name: &bundle,
                    app_id_name: &app.name,
                    team_id: &team.team_id,
                    team_name: &team.name,
                    bundle_id: &app.bundle_id,
                    environment: env,
                    created: now,
                    expires,
                    devices: if listed {
                        Devices::Listed(&udids)
                    } else {
                        Devices::All
                    },
                    push_certificates: &fps,
                    platform: &profile_t.platform,
                };
                let der = profile::sign(&content, &signer, &[&issuing_der])?;
                tx.insert_profile(&ProfileRecord {
                    uuid: uuid.clone(),
                    name: bundle.clone(),
                    bundle_id: app.bundle_id.clone(),
                    team_id: team.team_id.clone(),
                    environment: env.name().into(),
                    devices_mode: if listed { "listed" } else { "all" }.into(),
                    certs_mode: "default".into(),
                    lifetime_days: None,
                    created_at: t,
                    expires_at: expires.unix_timestamp(),
                    sha256: pushca::x509::sha256_hex(&der),
                    der,
                    superseded_by: None,
                    superseded_at: None,
                    withdrawn_at: None,
                    devices: if listed { udids.clone() } else { Vec::new() },
                    cert_serials: vec![cert.serial.clone()],
                })?;
            }
            Ok(())
        })
        .expect("generate");
    leaves
}

fn peak_rss_of_check(
    bin: &Path,
    ts: &Path,
    root: &Path,
    leaf_pem: &Path,
    topic: &str,
) -> Option<(f64, u64)> {
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .arg(bin)
        .args(["gateway", "check", "--trust-store"])
        .arg(ts)
        .arg("--anchor")
        .arg(root)
        .arg("--cert")
        .arg(leaf_pem)
        .args(["--topic", topic, "--env", "development", "-q"])
        .output()
        .ok()?;
    // A decision (allow 0, deny 3), not an error.
    if !matches!(out.status.code(), Some(0) | Some(3)) {
        eprintln!(
            "gateway check failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last()?;
    let mut it = last.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes = if bench {
        Sizes {
            apps: env_usize("APPS", 10_000),
            devices_per_app: env_usize("DEVICES_PER_APP", 10),
            disabled_per_app: env_usize("DISABLED_PER_APP", 1),
        }
    } else {
        Sizes {
            apps: 20,
            devices_per_app: 3,
            disabled_per_app: 1,
        }
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    // KEEP=DIR keeps the synthetic home and trust store there (for profiling).
    let kept = std::env::var_os("KEEP").map(std::path::PathBuf::from);
    let root = kept.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&root).expect("KEEP dir");
    let dir = &root;
    let home = Home::new(dir.join("home"));
    let t0 = Instant::now();
    let leaves = generate(&home, &sizes);
    println!(
        "synthetic store: {} App IDs, {} devices ({} disabled), {} certificates, {} profiles (generated in {})",
        sizes.apps,
        sizes.apps * sizes.devices_per_app,
        sizes.apps * sizes.disabled_per_app.min(sizes.devices_per_app.saturating_sub(1)),
        sizes.apps * 2,
        sizes.apps,
        secs(t0.elapsed())
    );

    // gateway trust-store (what the command does).
    let ts = dir.join("ts");
    let pass = Secret::new(PASS);
    let t0 = Instant::now();
    let prepared = pushca::ops::gateway::prepare_trust_store(&home, &ts).expect("prepare");
    let out = prepared.build(&pass).expect("build");
    let build_time = t0.elapsed();
    let bytes: u64 = walk_size(&ts);
    println!(
        "gateway trust-store: {} ({} profiles, {:.1} MB on disk)",
        secs(build_time),
        out.profiles,
        bytes as f64 / 1e6
    );

    // Gateway::load (one TrustStore load), against the home's root (pinned).
    let anchor = pushca::ops::home_anchor(&home).expect("anchor");
    let runs = if bench { 5 } else { 1 };
    let mut loads = Vec::new();
    let mut store = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let s = Gateway::load(&ts, anchor.clone()).expect("load");
        loads.push(t0.elapsed());
        store = Some(s);
    }
    loads.sort();
    let store = store.unwrap();
    println!(
        "Gateway::load: median {} (best {}) over {runs} runs",
        secs(loads[loads.len() / 2]),
        secs(loads[0])
    );
    let t0 = Instant::now();
    let strict = pushca::gateway::LoadOptions {
        verify_profile_signatures: true,
        ..Default::default()
    };
    drop(Gateway::load_with(&ts, anchor.clone(), strict).expect("load, every signature"));
    println!(
        "Gateway::load_with(verify_profile_signatures): {}",
        secs(t0.elapsed())
    );
    let t0 = Instant::now();
    let changed = store.reload(&ts).expect("reload");
    assert!(!changed, "the same version, byte for byte");
    println!(
        "Gateway::reload of the same files (verified profiles reused by SHA-256): {}",
        secs(t0.elapsed())
    );
    let leaf_pem = dir.join("leaf.pem");
    std::fs::write(&leaf_pem, pushca::pem::encode("CERTIFICATE", &leaves[0].0)).unwrap();
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/pushca");
    if bench && bin.is_file() && Path::new("/usr/bin/time").is_file() {
        let root = home.ca_dir().join("root.pem");
        if let Some((wall, kb)) = peak_rss_of_check(&bin, &ts, &root, &leaf_pem, &leaves[0].1) {
            println!(
                "pushca gateway check (load + one decision, release binary): {wall:.2} s, peak RSS {} MB",
                kb / 1024
            );
        }
    }

    // identify on first sight (every leaf is new to the cache).
    let n = leaves.len().min(if bench { 5_000 } else { 20 });
    let t0 = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for (der, _, _, _) in &leaves[..n] {
        ids.push(store.identify(&[der]).expect("identify"));
    }
    let per_identify = t0.elapsed() / n as u32;
    println!(
        "identify (first sight: path validation + CRL): {:.1} µs",
        per_identify.as_secs_f64() * 1e6
    );
    // openssl verify -crl_check of the same certificates, in one process.
    let certs_dir = dir.join("leaves");
    std::fs::create_dir(&certs_dir).unwrap();
    let mut files = Vec::new();
    for (i, (der, _, _, _)) in leaves[..n].iter().enumerate() {
        let p = certs_dir.join(format!("{i}.pem"));
        std::fs::write(&p, pushca::pem::encode("CERTIFICATE", der)).unwrap();
        files.push(p);
    }
    let verify = |files: &[std::path::PathBuf]| {
        let t0 = Instant::now();
        let o = std::process::Command::new("openssl")
            .args(["verify", "-crl_check", "-CAfile"])
            .arg(ts.join("ca.pem"))
            .arg("-CRLfile")
            .arg(ts.join("crl.pem"))
            .args(files)
            .output()
            .expect("openssl");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        t0.elapsed()
    };
    let one = verify(&files[..1]);
    let all = verify(&files);
    let per_openssl = all.saturating_sub(one) / (n as u32 - 1).max(1);
    println!(
        "openssl verify -crl_check, in one process: {:.1} µs per certificate -> identify is {:.1}x",
        per_openssl.as_secs_f64() * 1e6,
        per_openssl.as_secs_f64() / per_identify.as_secs_f64()
    );
    // Second sight: the cache.
    let t0 = Instant::now();
    for (der, _, _, _) in &leaves[..n] {
        store.identify(&[der]).expect("identify");
    }
    println!(
        "identify (cached, by leaf fingerprint): {:.2} µs",
        (t0.elapsed() / n as u32).as_secs_f64() * 1e6
    );

    // authorize per push, one core: the identified providers, their topics and devices.
    let pushes: u64 = if bench { 20_000_000 } else { 1_000 };
    let gw = Gateway::load(&ts, anchor.clone()).unwrap();
    let gids: Vec<_> = leaves[..n]
        .iter()
        .map(|(der, b, e, u)| (gw.identify(&[der]).unwrap(), b.clone(), *e, u.clone()))
        .collect();
    let mut allowed = 0u64;
    let t0 = Instant::now();
    for i in 0..pushes {
        let (id, topic, env, udid) = &gids[(i as usize) % gids.len()];
        if gw.authorize(id, topic, *env, Some(udid)) == Decision::Allow {
            allowed += 1;
        }
    }
    let el = t0.elapsed();
    assert_eq!(allowed, pushes, "every synthetic push is allowed");
    println!(
        "authorize (Gateway, round-robin over {} providers, with a device): {:.1} M decisions/s ({:.0} ns each)",
        gids.len(),
        pushes as f64 / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / pushes as f64
    );
    // One provider pushing to its devices (its data stays in cache).
    let (id, topic, env, udid) = &gids[0];
    let t0 = Instant::now();
    let mut allowed = 0u64;
    for _ in 0..pushes {
        if gw.authorize(
            std::hint::black_box(id),
            std::hint::black_box(topic),
            *env,
            Some(std::hint::black_box(udid)),
        ) == Decision::Allow
        {
            allowed += 1;
        }
    }
    let el = t0.elapsed();
    assert_eq!(allowed, pushes);
    println!(
        "authorize (Gateway, one provider's pushes, with a device): {:.1} M decisions/s ({:.0} ns each)",
        pushes as f64 / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / pushes as f64
    );
    // The deny path: development pushes to a device the profile does not list.
    let dev: Vec<usize> = (0..ids.len())
        .filter(|k| leaves[*k].2 == Environment::Development)
        .collect();
    let t0 = Instant::now();
    let mut denied = 0u64;
    for i in 0..pushes {
        let k = dev[(i as usize) % dev.len()];
        let (_, topic, env, _) = &leaves[k];
        if store.authorize(&ids[k], topic, *env, Some("00000000-0000000000000000"))
            != Decision::Allow
        {
            denied += 1;
        }
    }
    let el = t0.elapsed();
    assert_eq!(denied, pushes);
    println!(
        "authorize (Gateway, unknown device: the deny path): {:.1} M decisions/s",
        pushes as f64 / el.as_secs_f64() / 1e6
    );

    // The keys go into a copy: the home's own trust store stays as it
    // published it (benches/gateway-load.sh publishes over it again).
    let ts_tokens = ts.with_file_name("ts-tokens");
    copy_dir(&ts, &ts_tokens);
    tokens(&home, &ts_tokens, &anchor, &leaves[..n], pushes);
}

/// Copies a directory tree (files and directories only), replacing `to`.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
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

/// A P-256 key pair and its DER SubjectPublicKeyInfo.
fn auth_key() -> (EcdsaKeyPair, Vec<u8>) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let mut spki = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    spki.extend_from_slice(pair.public_key().as_ref());
    (pair, spki)
}

/// A provider token (ES256) as Apple's clients make it.
fn token(key: &EcdsaKeyPair, kid: &str, iss: &str, iat: i64) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signed = format!(
        "{}.{}",
        b64.encode(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#)),
        b64.encode(format!(r#"{{"iss":"{iss}","iat":{iat}}}"#))
    );
    let sig = key
        .sign(&ring::rand::SystemRandom::new(), signed.as_bytes())
        .unwrap();
    format!("{signed}.{}", b64.encode(sig.as_ref())).into_bytes()
}

/// Token-based authentication on the store `ts`, with a team-scoped auth
/// key per environment added to its policy (re-signed in place: `ts` is a
/// copy of the published store).
fn tokens(
    home: &Home,
    ts: &Path,
    anchor: &pushca::gateway::Anchor,
    leaves: &[(Vec<u8>, String, Environment, String)],
    pushes: u64,
) {
    let pass = Secret::new(PASS);
    let files = CaFiles::new(home.ca_dir());
    let signer = Issuer::unlock(&files, PROFILE_SIGNER, &pass).expect("profile signer");
    let issuing = pushca::ca::authority::read_ca_cert(&files, pushca::ca::authority::ISSUING)
        .expect("issuing cert");
    let team = "BENCH12345";
    let (dev_key, dev_spki) = auth_key();
    let (prod_key, prod_spki) = auth_key();
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ts.join("policy.json")).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    for (kid, env, spki) in [
        ("BENCHDEV01", "development", &dev_spki),
        ("BENCHPROD1", "production", &prod_spki),
    ] {
        policy["keys"][kid] = serde_json::json!({
            "team_id": team, "environment": env, "scope": "team", "apps": [],
            "public_key": b64.encode(spki), "revoked_at": null,
        });
    }
    policy["version"] = serde_json::json!(policy["version"].as_u64().unwrap() + 1);
    let mut json = serde_json::to_vec(&policy).unwrap();
    json.push(b'\n');
    let p7s = pushca::cms::sign(
        &json,
        false,
        signer.cert_der(),
        &[issuing.as_slice()],
        signer.signer(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    std::fs::write(ts.join("policy.json"), &json).unwrap();
    std::fs::write(ts.join("policy.json.p7s"), &p7s).unwrap();
    let gw = Gateway::load(ts, anchor.clone()).expect("load with keys");

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // First sight: distinct tokens (each a cache miss: bounds, key lookup,
    // ES256 verification, then cached).
    let m = leaves.len().max(2);
    let fresh: Vec<Vec<u8>> = (0..m)
        .map(|i| token(&dev_key, "BENCHDEV01", team, now - (i % 3000) as i64))
        .collect();
    let t0 = Instant::now();
    for tok in &fresh {
        gw.verify_token(tok).expect("verify_token");
    }
    println!(
        "verify_token (first sight: bounds, key, ES256 verify), {m} tokens: {:.1} µs",
        (t0.elapsed() / m as u32).as_secs_f64() * 1e6
    );
    // Per push with a cached token: the provider's token for its environment.
    let dev_tok = token(&dev_key, "BENCHDEV01", team, now);
    let prod_tok = token(&prod_key, "BENCHPROD1", team, now);
    let pushes_of: Vec<(&[u8], &str, Environment, &str)> = leaves
        .iter()
        .map(|(_, b, e, u)| {
            let tok = if *e == Environment::Development {
                &dev_tok
            } else {
                &prod_tok
            };
            (tok.as_slice(), b.as_str(), *e, u.as_str())
        })
        .collect();
    let mut allowed = 0u64;
    let t0 = Instant::now();
    for i in 0..pushes {
        let (tok, topic, env, udid) = pushes_of[(i as usize) % pushes_of.len()];
        if gw.authorize_token(tok, topic, env, Some(udid)) == Decision::Allow {
            allowed += 1;
        }
    }
    let el = t0.elapsed();
    assert_eq!(allowed, pushes, "every synthetic push is allowed");
    println!(
        "authorize_token (cached token, round-robin over {} App IDs' topics and devices): {:.1} M decisions/s ({:.0} ns each)",
        pushes_of.len(),
        pushes as f64 / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / pushes as f64
    );
    let (tok, topic, env, udid) = pushes_of[0];
    let mut allowed = 0u64;
    let t0 = Instant::now();
    for _ in 0..pushes {
        if gw.authorize_token(
            std::hint::black_box(tok),
            std::hint::black_box(topic),
            env,
            Some(std::hint::black_box(udid)),
        ) == Decision::Allow
        {
            allowed += 1;
        }
    }
    let el = t0.elapsed();
    assert_eq!(allowed, pushes);
    println!(
        "authorize_token (cached token, one provider's pushes, with a device): {:.1} M decisions/s ({:.0} ns each)",
        pushes as f64 / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / pushes as f64
    );
    // authorize_with_token: the token verified once per connection.
    let p = gw.verify_token(tok).unwrap();
    let t0 = Instant::now();
    let mut allowed = 0u64;
    for _ in 0..pushes {
        if gw.authorize_with_token(
            std::hint::black_box(&p),
            std::hint::black_box(topic),
            env,
            Some(std::hint::black_box(udid)),
        ) == Decision::Allow
        {
            allowed += 1;
        }
    }
    let el = t0.elapsed();
    assert_eq!(allowed, pushes);
    println!(
        "authorize_with_token (token verified per connection, one provider's pushes): {:.1} M decisions/s ({:.0} ns each)",
        pushes as f64 / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / pushes as f64
    );
}

fn walk_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            n += if m.is_dir() {
                walk_size(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}
