//! Hostile input files cost little: each crafted file is refused by the built
//! binary with exit 1, a one-line message naming the limit and no output,
//! within about a second and far under 256 MB of memory (measured with GNU
//! time's maximum resident set size). Figures are printed for README; run
//! `PUSHCA_BIN=$PWD/target/release/pushca cargo test --test hostile -- --nocapture`
//! to measure a release build.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;

/// Encodes one DER TLV.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if body.len() < 0x80 {
        out.push(body.len() as u8);
    } else {
        let b = body.len().to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        out.push(0x80 | (b.len() - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
    out.extend_from_slice(body);
    out
}

fn int(v: u64) -> Vec<u8> {
    let mut b: Vec<u8> = v
        .to_be_bytes()
        .into_iter()
        .skip_while(|x| *x == 0)
        .collect();
    if b.first().is_none_or(|x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    tlv(0x02, &b)
}

const OID_PBES2: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d,
];
const OID_PBKDF2: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c,
];
const OID_SCRYPT: &[u8] = &[
    0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b,
];
const OID_HMAC_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const OID_AES256_CBC: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a,
];

/// An encrypted PKCS#8 key (PBES2 + AES-256-CBC) with the given KDF and a
/// ciphertext of junk: refusal must come before any key derivation.
fn encrypted_key_with_kdf(kdf: Vec<u8>) -> Vec<u8> {
    let enc = tlv(0x30, &[OID_AES256_CBC, &tlv(0x04, &[7u8; 16])].concat());
    let params = tlv(0x30, &[kdf, enc].concat());
    let alg = tlv(0x30, &[OID_PBES2, &params[..]].concat());
    tlv(0x30, &[alg, tlv(0x04, &[0u8; 48])].concat())
}

fn pbkdf2(iterations: u64) -> Vec<u8> {
    let prf = tlv(0x30, &[OID_HMAC_SHA256, &[0x05, 0x00]].concat());
    let p = tlv(
        0x30,
        &[tlv(0x04, &[1u8; 16]), int(iterations), prf].concat(),
    );
    tlv(0x30, &[OID_PBKDF2, &p[..]].concat())
}

fn scrypt(n: u64, r: u64, p: u64) -> Vec<u8> {
    let params = tlv(
        0x30,
        &[tlv(0x04, &[1u8; 16]), int(n), int(r), int(p)].concat(),
    );
    tlv(0x30, &[OID_SCRYPT, &params[..]].concat())
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    pushca::pem::encode(label, der).into_bytes()
}

struct Measured {
    code: Option<i32>,
    stderr: String,
    secs: f64,
    max_rss_kb: u64,
}

/// Runs `pushca ARGS` under GNU time.
fn measured(env: &Env, args: &[&str]) -> Measured {
    let timefile = env.path("time.out");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&timefile)
        // A quadratic path would take hours: killed after two minutes.
        .args(["timeout", "-s", "KILL", "120"])
        .arg(
            // PUSHCA_BIN=target/release/pushca measures a release build.
            std::env::var_os("PUSHCA_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("pushca")),
        )
        .args(["--home"])
        .arg(env.home())
        .args(args)
        .current_dir(env.dir.path())
        .env_remove("PUSHCA_HOME")
        .env_remove("PUSHCA_CA_PASSPHRASE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("GNU time is installed (apt install time)");
    let t = std::fs::read_to_string(&timefile).unwrap();
    let last = t.lines().last().unwrap_or("0 0").to_string();
    let mut it = last.split_whitespace();
    let secs: f64 = it.next().unwrap().parse().unwrap();
    let max_rss_kb: u64 = it.next().unwrap().parse().unwrap();
    Measured {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs,
        max_rss_kb,
    }
}

fn write(env: &Env, name: &str, bytes: &[u8]) -> PathBuf {
    let p = env.path(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Asserts the refusal contract for `args` and prints the figures.
fn assert_refused_cheaply(env: &Env, case: &str, args: &[&str], needle: &str, out: &Path) {
    let m = measured(env, args);
    eprintln!(
        "hostile {case}: exit {:?}, {:.2} s, max RSS {} MB",
        m.code,
        m.secs,
        m.max_rss_kb / 1024
    );
    assert_eq!(m.code, Some(1), "{case}: {}", m.stderr);
    let lines: Vec<_> = m
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(lines.len(), 1, "{case}: {}", m.stderr);
    assert!(
        m.stderr.contains(needle),
        "{case}: expected '{needle}' in {}",
        m.stderr
    );
    assert!(!out.exists(), "{case}: no output");
    // About a second for a release build (README has the figures, measured
    // with PUSHCA_BIN); the unoptimised debug build the test suite runs is
    // up to 25 times slower on the BER case, more with the other tests
    // running beside it. A quadratic or unbounded path takes minutes.
    let limit = if std::env::var_os("PUSHCA_BIN").is_some() {
        2.0
    } else {
        20.0
    };
    assert!(
        m.secs < limit,
        "{case}: took {} s (limit {limit} s)",
        m.secs
    );
    assert!(m.max_rss_kb < 256 * 1024, "{case}: {} kB", m.max_rss_kb);
}

fn key_decrypt(env: &Env, case: &str, file: &Path, needle: &str) {
    let out = env.path(&format!("{case}.out.pem"));
    assert_refused_cheaply(
        env,
        case,
        &[
            "key",
            "decrypt",
            "--in",
            file.to_str().unwrap(),
            "--passin",
            "pass:x",
            "--out",
            out.to_str().unwrap(),
        ],
        needle,
        &out,
    );
}

fn p12_to_pem(env: &Env, case: &str, file: &Path, needle: &str) {
    let out = env.path(&format!("{case}.out.pem"));
    assert_refused_cheaply(
        env,
        case,
        &[
            "p12",
            "to-pem",
            "--in",
            file.to_str().unwrap(),
            "--passin",
            "pass:pw",
            "--noenc",
            "--out",
            out.to_str().unwrap(),
        ],
        needle,
        &out,
    );
}

#[test]
fn many_bags_at_a_high_iteration_count_hit_the_work_budget() {
    let env = Env::new();
    let key = pushca::keys::PrivateKey::generate(pushca::keys::KeyType::EcP256).unwrap();
    let mut contents = pushca::p12::Pkcs12Contents::default();
    for _ in 0..6 {
        contents.keys.push(pushca::p12::KeyEntry {
            key: key.clone(),
            friendly_name: None,
            local_key_id: None,
        });
    }
    let der = pushca::p12::write_pkcs12_with_iterations(
        &contents,
        &pushca::secret::Secret::new("pw"),
        1_000_000,
    )
    .unwrap();
    let f = write(&env, "many-bags.p12", &der);
    p12_to_pem(&env, "many-bags", &f, "key-derivation work");

    // One such bag (an expensive but honest file) still opens.
    contents.keys.truncate(1);
    let der = pushca::p12::write_pkcs12_with_iterations(
        &contents,
        &pushca::secret::Secret::new("pw"),
        600_000,
    )
    .unwrap();
    write(&env, "one-bag.p12", &der);
    let m = measured(
        &env,
        &[
            "p12",
            "to-pem",
            "--in",
            "one-bag.p12",
            "--passin",
            "pass:pw",
            "--noenc",
            "--out",
            "ok.pem",
        ],
    );
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    eprintln!("honest 600k-iteration p12: {:.2} s", m.secs);
}

#[test]
fn kdf_parameters_beyond_the_limits_are_refused_before_any_work() {
    let env = Env::new();
    let f = write(
        &env,
        "iters.key",
        &pem(
            "ENCRYPTED PRIVATE KEY",
            &encrypted_key_with_kdf(pbkdf2(9_999_999)),
        ),
    );
    key_decrypt(&env, "pbkdf2-10M", &f, "key-derivation work");
    let f = write(
        &env,
        "iters-max.key",
        &pem(
            "ENCRYPTED PRIVATE KEY",
            &encrypted_key_with_kdf(pbkdf2(u32::MAX as u64)),
        ),
    );
    key_decrypt(&env, "pbkdf2-u32max", &f, "iteration count");
    let f = write(
        &env,
        "scrypt-mem.key",
        &pem(
            "ENCRYPTED PRIVATE KEY",
            &encrypted_key_with_kdf(scrypt(1 << 20, 8, 1)),
        ),
    );
    key_decrypt(&env, "scrypt-1GiB", &f, "scrypt parameters too large");
    let f = write(
        &env,
        "scrypt-work.key",
        &pem(
            "ENCRYPTED PRIVATE KEY",
            &encrypted_key_with_kdf(scrypt(1 << 16, 16, 16)),
        ),
    );
    key_decrypt(&env, "scrypt-work", &f, "key-derivation work");
}

#[test]
fn a_multi_megabit_rsa_key_is_refused_before_validation() {
    let env = Env::new();
    let big = |bytes: usize, first: u8| {
        let mut v = vec![first; bytes];
        v[0] = 0x7f;
        tlv(0x02, &v)
    };
    // PKCS#1 RSAPrivateKey with a 4-megabit modulus of junk.
    let n_bytes = 4 * 1024 * 1024 / 8;
    let key = tlv(
        0x30,
        &[
            int(0),
            big(n_bytes, 0xab),
            int(65537),
            big(n_bytes, 0x11),
            big(n_bytes / 2, 0x13),
            big(n_bytes / 2, 0x17),
            big(n_bytes / 2, 0x19),
            big(n_bytes / 2, 0x1b),
            big(n_bytes / 2, 0x1d),
        ]
        .concat(),
    );
    let f = write(&env, "huge-rsa.key", &pem("RSA PRIVATE KEY", &key));
    key_decrypt(&env, "rsa-4Mbit", &f, "at most 8192 bits");
}

#[test]
fn ber_bombs_and_deep_nesting_are_refused() {
    let env = Env::new();
    // Just under 16 MB of BER NULLs in an indefinite SEQUENCE.
    let mut nulls = vec![0x30, 0x80];
    let pairs = (16 * 1024 * 1024 - 8) / 2;
    nulls.extend(std::iter::repeat_n([0x05u8, 0x00], pairs).flatten());
    nulls.extend([0, 0]);
    let f = write(&env, "nulls.p12", &nulls);
    p12_to_pem(&env, "ber-nulls-16MB", &f, "not a PKCS#12 file");
    // 100,000 nested indefinite SEQUENCEs, as a .p12 and as a key.
    let mut deep = Vec::new();
    for _ in 0..100_000 {
        deep.extend([0x30, 0x80]);
    }
    for _ in 0..100_000 {
        deep.extend([0, 0]);
    }
    let f = write(&env, "deep.p12", &deep);
    p12_to_pem(&env, "deep-p12", &f, "not a PKCS#12 file");
    let f = write(&env, "deep.key", &deep);
    key_decrypt(&env, "deep-key", &f, "not a private key");
}

#[test]
fn a_mac_iteration_count_of_2_31_is_refused() {
    use der::{Decode, Encode};
    let env = Env::new();
    let key = pushca::keys::PrivateKey::generate(pushca::keys::KeyType::EcP256).unwrap();
    let mut contents = pushca::p12::Pkcs12Contents::default();
    contents.keys.push(pushca::p12::KeyEntry {
        key,
        friendly_name: None,
        local_key_id: None,
    });
    let der = pushca::p12::write_pkcs12(
        &contents,
        Some(&pushca::secret::Secret::new("pw")),
        pushca::p12::Profile::Modern,
    )
    .unwrap();
    let mut pfx = pkcs12::pfx::Pfx::from_der(&der).unwrap();
    pfx.mac_data.as_mut().unwrap().iterations = i32::MAX;
    let f = write(&env, "mac.p12", &pfx.to_der().unwrap());
    p12_to_pem(&env, "mac-2^31", &f, "MAC iteration count");
}

/// Hostile provisioning profiles: a plist nested 100,000 deep and one with
/// two million values, both *validly signed* by the home's profile signer (so
/// they get past the signature to the plist reader), a SignedData with
/// 100,000 certificates, and a file over the 16 MiB read cap.
#[test]
fn hostile_profiles_are_refused_cheaply() {
    let env = Env::new();
    env.init();
    let signer = env.ca_pem("profile-signer");
    let issuing = env.ca_pem("issuing");
    let key = env.home().join("ca").join("profile-signer.key");
    let sign = |name: &str, plist: &[u8]| -> PathBuf {
        let input = write(&env, &format!("{name}.plist"), plist);
        let out = env.path(&format!("{name}.mobileprovision"));
        env.openssl(&[
            "cms",
            "-sign",
            "-nodetach",
            "-binary",
            "-outform",
            "DER",
            "-in",
            input.to_str().unwrap(),
            "-signer",
            signer.to_str().unwrap(),
            "-inkey",
            key.to_str().unwrap(),
            "-certfile",
            issuing.to_str().unwrap(),
            "-passin",
            &format!("pass:{}", common::CA_PASS),
            "-out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let show = |case: &str, file: &Path, needle: &str| {
        let never = env.path(&format!("{case}.never"));
        assert_refused_cheaply(
            &env,
            case,
            &["profile", "show", file.to_str().unwrap()],
            needle,
            &never,
        );
    };
    let head = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n";
    let mut deep = head.to_vec();
    deep.extend(b"<array>".repeat(100_000));
    deep.extend(b"</array>".repeat(100_000));
    deep.extend(b"</plist>\n");
    let f = sign("deep", &deep);
    show(
        "profile plist nested 100,000 deep",
        &f,
        "nested deeper than 64 levels",
    );

    let mut many = head.to_vec();
    many.extend(b"<array>");
    many.extend(b"<true/>".repeat(2_000_000));
    many.extend(b"</array></plist>\n");
    let f = sign("many", &many);
    show(
        "profile plist with 2,000,000 values",
        &f,
        "more than 1000000 values",
    );

    // ContentInfo(SignedData) whose certificate set holds 100,000 junk entries.
    let junk_cert = tlv(0x30, &[0u8; 0]);
    let certs: Vec<u8> = junk_cert.repeat(100_000);
    let sd = tlv(
        0x30,
        &[
            int(1),
            tlv(0x31, &[]),
            tlv(
                0x30,
                &[
                    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
                ],
            ),
            tlv(0xa0, &certs),
            tlv(0x31, &[]),
        ]
        .concat(),
    );
    let ci = tlv(
        0x30,
        &[
            &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
            ][..],
            &tlv(0xa0, &sd),
        ]
        .concat(),
    );
    let f = write(&env, "certs.mobileprovision", &ci);
    show(
        "SignedData with 100,000 certificates",
        &f,
        "too many certificates",
    );

    let big = vec![0x30u8; (16 << 20) + 1];
    let f = write(&env, "big.mobileprovision", &big);
    show("17 MB profile", &f, "larger than");
}

/// A hostile trust store: a 60 MB `policy.json` of nested arrays with a junk
/// signature, and a `crl.pem` of 16 MB+1. The signature is checked before the
/// JSON is parsed, so neither costs more than reading and hashing.
#[test]
fn hostile_trust_stores_are_refused_cheaply() {
    let env = Env::new();
    env.init();
    let ts = env.path("ts");
    std::fs::create_dir(&ts).unwrap();
    let mut deep = b"[".repeat(30_000_000);
    deep.extend(b"]".repeat(30_000_000));
    std::fs::write(ts.join("policy.json"), &deep).unwrap();
    std::fs::write(ts.join("policy.json.p7s"), tlv(0x30, &[0u8; 16])).unwrap();
    std::fs::write(
        ts.join("ca.pem"),
        std::fs::read(env.ca_pem("chain")).unwrap(),
    )
    .unwrap();
    let cert = env.ca_pem("issuing");
    let args = [
        "gateway",
        "check",
        "--trust-store",
        ts.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--topic",
        "x",
        "--env",
        "production",
    ];
    let never = env.path("never");
    assert_refused_cheaply(
        &env,
        "policy.json of 60 MB nested arrays",
        &args,
        "policy.json.p7s",
        &never,
    );
    std::fs::write(ts.join("policy.json"), b"{}").unwrap();
    std::fs::write(ts.join("policy.json.p7s"), vec![0x30u8; (16 << 20) + 1]).unwrap();
    assert_refused_cheaply(
        &env,
        "policy.json.p7s of 16 MB + 1",
        &args,
        "larger than",
        &never,
    );
}

/// `n` Attributes { 1.2.3.4, SET { INTEGER } } in descending order: the worst
/// case of the insertion sort `der` 0.7 runs on every SET OF it decodes.
fn descending_attributes(n: u32) -> Vec<u8> {
    (1..=n)
        .rev()
        .flat_map(|i| {
            let b = i.to_be_bytes();
            let value = tlv(0x31, &tlv(0x02, &[0x01, b[1], b[2], b[3]]));
            tlv(
                0x30,
                &[&[0x06, 0x03, 0x2a, 0x03, 0x04][..], &value].concat(),
            )
        })
        .collect()
}

/// About 640 KB of attributes (44,000 of 15 bytes).
const SET_OF_640KB: u32 = 44_000;

const OID_SHA256: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];

/// A SignerInfo (issuer and `serial`) with `signed_attrs` as its
/// `[0] IMPLICIT SET OF Attribute` and a junk signature.
fn signer_info(serial: u32, signed_attrs: &[u8]) -> Vec<u8> {
    const OID_ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let b = serial.to_be_bytes();
    let sid = tlv(
        0x30,
        &[tlv(0x30, &[]), tlv(0x02, &[0x01, b[1], b[2], b[3]])].concat(),
    );
    tlv(
        0x30,
        &[
            int(1),
            sid,
            tlv(0x30, OID_SHA256),
            tlv(0xa0, signed_attrs),
            tlv(0x30, OID_ECDSA_SHA256),
            tlv(0x04, &[]),
        ]
        .concat(),
    )
}

/// ContentInfo(SignedData) with these SignerInfos (the SET's content) and a
/// plist: all of it is decoded before any signature is checked.
fn signed_data(signer_infos: &[u8]) -> Vec<u8> {
    const OID_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    const OID_SIGNED_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    let digest_alg = tlv(0x30, OID_SHA256);
    let plist =
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict/></plist>\n";
    let sd = tlv(
        0x30,
        &[
            int(1),
            tlv(0x31, &digest_alg),
            tlv(0x30, &[OID_DATA, &tlv(0xa0, &tlv(0x04, plist))].concat()),
            tlv(0x31, signer_infos),
        ]
        .concat(),
    );
    tlv(0x30, &[OID_SIGNED_DATA, &tlv(0xa0, &sd)].concat())
}

/// One SignerInfo whose signed attributes are `signed_attrs`.
fn signed_data_with_attributes(signed_attrs: &[u8]) -> Vec<u8> {
    signed_data(&signer_info(1, signed_attrs))
}

/// Issue 17 finding 4: a 640 KB SET OF, sorted quadratically by `der` before
/// any signature check (minutes of CPU), is refused by the pre-scan.
#[test]
fn a_640_kb_set_of_in_a_profile_is_refused_cheaply() {
    let env = Env::new();
    env.init();
    let der = signed_data_with_attributes(&descending_attributes(SET_OF_640KB));
    assert!(der.len() > 640 * 1024, "{}", der.len());
    let f = write(&env, "set-of.mobileprovision", &der);
    let never = env.path("never");
    assert_refused_cheaply(
        &env,
        "profile with a SET OF 44,000 attributes",
        &["profile", "show", f.to_str().unwrap()],
        "a SET of more than 64 elements: refused as hostile",
        &never,
    );
    // The signers are counted before the SignerInfos are decoded (and sorted).
    let signers: Vec<u8> = (1..=15_000)
        .rev()
        .flat_map(|i| signer_info(i, &[]))
        .collect();
    let der = signed_data(&signers);
    assert!(der.len() > 640 * 1024, "{}", der.len());
    let f = write(&env, "signers.mobileprovision", &der);
    assert_refused_cheaply(
        &env,
        "profile with 15,000 SignerInfos",
        &["profile", "show", f.to_str().unwrap()],
        "too many certificates or signers",
        &never,
    );
}

/// The same SignedData as a trust store's policy.json.p7s (the gateway's
/// TrustStore::load, behind `gateway check` and every reload).
#[test]
fn a_640_kb_set_of_in_policy_json_p7s_is_refused_cheaply() {
    let env = Env::new();
    env.init();
    let o = env
        .cmd()
        .args(["gateway", "trust-store", "--out", "ts", "--ca-passin"])
        .arg(format!("pass:{}", common::CA_PASS))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ts = env.path("ts");
    std::fs::write(
        ts.join("policy.json.p7s"),
        signed_data_with_attributes(&descending_attributes(SET_OF_640KB)),
    )
    .unwrap();
    let cert = env.ca_pem("issuing");
    let never = env.path("never");
    assert_refused_cheaply(
        &env,
        "policy.json.p7s with a SET OF 44,000 attributes",
        &[
            "gateway",
            "check",
            "--trust-store",
            ts.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--topic",
            "x",
            "--env",
            "production",
        ],
        "policy.json.p7s does not verify policy.json: CMS SignedData has a SET of more than 64 elements",
        &never,
    );
}

/// An unencrypted .p12 (no MAC, nothing to decrypt) whose certificate bag
/// carries a 640 KB SET OF attributes.
#[test]
fn a_640_kb_set_of_in_a_p12_is_refused_cheaply() {
    let env = Env::new();
    env.init();
    let cert = pushca::certfile::read_certificates(&std::fs::read(env.ca_pem("issuing")).unwrap())
        .unwrap()
        .remove(0);
    // 1.2.840.113549.<tail>
    let oid = |tail: &[u8]| {
        let mut v = vec![
            0x06,
            6 + tail.len() as u8,
            0x2a,
            0x86,
            0x48,
            0x86,
            0xf7,
            0x0d,
        ];
        v.extend_from_slice(tail);
        v
    };
    let data = oid(&[0x01, 0x07, 0x01]);
    let cert_bag = oid(&[0x01, 0x0c, 0x0a, 0x01, 0x03]);
    let x509 = oid(&[0x01, 0x09, 0x16, 0x01]);
    let bag = tlv(
        0x30,
        &[
            cert_bag,
            tlv(
                0xa0,
                &tlv(0x30, &[x509, tlv(0xa0, &tlv(0x04, &cert))].concat()),
            ),
            tlv(0x31, &descending_attributes(SET_OF_640KB)),
        ]
        .concat(),
    );
    let safe = tlv(0x30, &bag);
    let auth_safe = tlv(
        0x30,
        &tlv(0x30, &[data.clone(), tlv(0xa0, &tlv(0x04, &safe))].concat()),
    );
    let pfx = tlv(
        0x30,
        &[
            int(3),
            tlv(0x30, &[data, tlv(0xa0, &tlv(0x04, &auth_safe))].concat()),
        ]
        .concat(),
    );
    assert!(pfx.len() > 640 * 1024, "{}", pfx.len());
    let f = write(&env, "set-of.p12", &pfx);
    p12_to_pem(
        &env,
        "p12 with a SET OF 44,000 bag attributes",
        &f,
        "PKCS#12 file has a SET of more than 64 elements: refused as hostile",
    );
}
