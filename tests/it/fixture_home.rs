//! The fixture homes most tests start from: the same files, modes and key
//! format as a home `pushca init` makes, except the CA keys' PBKDF2 iteration
//! count; the binary and openssl open those keys; each test gets its own copy.

use std::path::Path;

use pkcs8::der::Decode;

use crate::common::fixture::FIXTURE_ITERATIONS;
use crate::common::{stderr, Env, CA_PASS};

/// Every entry under `home`, relative, with its permission bits.
fn tree(home: &Path) -> Vec<(String, u32)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u32)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.push((
                rel,
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
            ));
            if meta.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = vec![(
        ".".to_string(),
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(home).unwrap().permissions())
            & 0o7777,
    )];
    walk(home, home, &mut out);
    out.sort();
    out
}

/// A CA key file's encryption without salt and IV: (PBKDF2 iterations, the
/// rest: PEM label, KDF, PRF, salt length, key length, cipher, IV length).
fn pbes2(path: &Path) -> (u32, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let (label, der) = pem_rfc7468::decode_vec(text.as_bytes()).unwrap();
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(&der).unwrap();
    let p = info.encryption_algorithm.pbes2().unwrap();
    let k = p.kdf.pbkdf2().unwrap();
    let pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv } = p.encryption else {
        panic!("{:?}", p.encryption)
    };
    let shape = format!(
        "{label} {} {:?} salt {} key_length {:?} {} iv {}",
        p.kdf.oid(),
        k.prf,
        k.salt.len(),
        k.key_length,
        p.encryption.oid(),
        iv.len()
    );
    (k.iteration_count, shape)
}

#[test]
fn a_fixture_home_is_an_init_home_whose_keys_have_fewer_iterations() {
    let fresh = Env::new();
    fresh.init_with("ec-p256");
    let env = Env::new();
    env.init();
    assert_eq!(tree(&env.home()), tree(&fresh.home()));
    assert!(tree(&env.home()).contains(&("ca/issuing.key".into(), 0o600)));
    for name in ["root", "issuing", "profile-signer"] {
        let key = env.home().join(format!("ca/{name}.key"));
        let (n, shape) = pbes2(&key);
        let (init_n, init_shape) = pbes2(&fresh.home().join(format!("ca/{name}.key")));
        assert_eq!((n, init_n), (FIXTURE_ITERATIONS, 600_000), "{name}");
        assert_eq!(shape, init_shape, "{name}");
        // openssl opens it with the CA passphrase.
        env.openssl(&[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-passin",
            &format!("pass:{CA_PASS}"),
            "-noout",
        ]);
    }
    // The binary unlocks the issuing CA and the profile signer.
    env.cmd()
        .args(["app", "create", "com.example.app", "--push"])
        .assert()
        .success();
    let csr = env.openssl_csr("k", "ec:P-256", &[]);
    env.issue("production", &csr, "c.pem").success();
    let o = env
        .cmd()
        .args([
            "profile",
            "create",
            "--app",
            "com.example.app",
            "--env",
            "production",
        ])
        .args(["--all-devices", "--out", "p.mobileprovision"])
        .args(["--ca-passin", &format!("pass:{CA_PASS}")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn each_test_gets_its_own_copy_and_the_other_fixture_is_another_ca() {
    let a = Env::new();
    a.init_with_app();
    let b = Env::new();
    b.init();
    // `a` registered an App ID in its copy: `b` (and the fixture) have none.
    let apps = |env: &Env| {
        let o = env.cmd().args(["--json", "app", "list"]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        crate::common::stdout_json(&o)["apps"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((apps(&a), apps(&b)), (1, 0));
    let root = |env: &Env| std::fs::read(env.ca_pem("root")).unwrap();
    assert_eq!(root(&a), root(&b));
    let other = Env::new();
    other.init_other();
    assert_ne!(root(&other), root(&a));
}
