//! Unit and property tests of the PKCS#12 reader and writer.

use proptest::prelude::*;

use super::*;
use crate::keys::{KeyType, PrivateKey};
use crate::secret::Secret;

fn sample(kt: KeyType) -> Pkcs12Contents {
    let key = PrivateKey::generate(kt).unwrap();
    let kp = key.to_rcgen().unwrap();
    let params = rcgen::CertificateParams::new(vec!["push.example".into()]).unwrap();
    let cert = params.self_signed(&kp).unwrap().der().to_vec();
    let ca_kp = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertificateParams::new(vec!["ca.example".into()])
        .unwrap()
        .self_signed(&ca_kp)
        .unwrap()
        .der()
        .to_vec();
    let id = local_key_id(&cert);
    Pkcs12Contents {
        certs: vec![
            CertEntry {
                der: ca,
                friendly_name: None,
                local_key_id: None,
            },
            CertEntry {
                der: cert,
                friendly_name: Some("leaf ✓".into()),
                local_key_id: Some(id.clone()),
            },
        ],
        keys: vec![KeyEntry {
            key,
            friendly_name: Some("leaf ✓".into()),
            local_key_id: Some(id),
        }],
    }
}

#[test]
fn every_profile_roundtrips() {
    let c = sample(KeyType::EcP256);
    for profile in [Profile::Modern, Profile::Legacy, Profile::Unencrypted] {
        for pw in ["", "pässwörd✓", "hunter2"] {
            let pass = Secret::new(pw);
            let der = write_pkcs12(&c, Some(&pass), profile).unwrap();
            let back = Pkcs12::parse(&der, &pass).unwrap();
            assert_eq!(back.certs, c.certs, "{profile:?}");
            assert_eq!(back.keys.len(), 1);
            assert_eq!(back.keys[0].key.pkcs8_der(), c.keys[0].key.pkcs8_der());
            assert_eq!(back.keys[0].friendly_name.as_deref(), Some("leaf ✓"));
            assert_eq!(back.leaf_index(), Some(1));
            assert_eq!(back.ca_certs().len(), 1);
            if profile != Profile::Unencrypted {
                let wrong = Pkcs12::parse(&der, &Secret::new("wrong"));
                assert!(
                    matches!(wrong, Err(P12Error::WrongPasswordMac)),
                    "{wrong:?}"
                );
            }
        }
    }
}

#[test]
fn absent_empty_password_convention_is_read() {
    let c = sample(KeyType::EcP256);
    for profile in [Profile::Modern, Profile::Legacy] {
        let der = write::write_with(&c, &crate::pbe::Password::absent(), profile).unwrap();
        let back = Pkcs12::parse(&der, &Secret::new("")).unwrap();
        assert_eq!(back.keys[0].key.pkcs8_der(), c.keys[0].key.pkcs8_der());
        assert!(Pkcs12::parse(&der, &Secret::new("x")).is_err());
    }
}

#[test]
fn leaf_found_by_public_key_without_local_key_id() {
    let mut c = sample(KeyType::EcP256);
    for e in &mut c.certs {
        e.local_key_id = None;
    }
    c.keys[0].local_key_id = None;
    assert_eq!(c.leaf_index(), Some(1));
}

#[test]
fn truststore_has_no_key_and_roundtrips() {
    let c = sample(KeyType::EcP256);
    for pass in [Some(Secret::new("changeit")), None] {
        let der = write_truststore(&c.certs, pass.as_ref()).unwrap();
        let back = Pkcs12::parse(&der, pass.as_ref().unwrap_or(&Secret::new(""))).unwrap();
        assert!(back.keys.is_empty());
        assert_eq!(back.certs.len(), 2);
        assert_eq!(back.certs[1].friendly_name.as_deref(), Some("leaf ✓"));
    }
}

#[test]
fn structural_errors_are_distinguished() {
    let c = sample(KeyType::EcP256);
    let der = write_pkcs12(&c, Some(&Secret::new("pw")), Profile::Modern).unwrap();
    let half = der.get(..der.len() / 2).unwrap();
    assert!(matches!(
        Pkcs12::parse(half, &Secret::new("pw")),
        Err(P12Error::Truncated(_))
    ));
    assert!(matches!(
        Pkcs12::parse(b"hello", &Secret::new("pw")),
        Err(P12Error::NotPkcs12(_))
    ));
    assert!(matches!(
        Pkcs12::parse(b"-----BEGIN CERTIFICATE-----\n", &Secret::new("pw")),
        Err(P12Error::Pem)
    ));
}

fn mutate(base: &[u8], flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut v = base.to_vec();
    for (i, bit) in flips {
        if v.is_empty() {
            break;
        }
        let n = v.len();
        if let Some(b) = v.get_mut(i % n) {
            *b ^= 1 << (bit % 8);
        }
    }
    if let Some(c) = cut {
        let n = v.len();
        v.truncate(c % (n + 1));
    }
    v
}

/// `openssl ec -aes128 -passout pass:pw` output (a throwaway test key).
const LEGACY_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,847F1E96FDA04B50D0B478246F00EC40

ffHZ3BKKUPaON+6/GcymcOPbgUD0knoYPQJElQ/QdSR9nFvAelrImCyGuDHSN7gD
NCLYMcluHxoOaF+nZMY4PZNUc6iXZZPr/PF46bNAFjADrDi1fFyJ7ANC+bvCGS4V
taDHIalOMySnBg3/Eu+OGWlmR8C+1QS+MfCBfp7gsVw=
-----END EC PRIVATE KEY-----
";

#[test]
fn legacy_pem_seed_decrypts() {
    let k = crate::keys::decode::load_private_key(LEGACY_PEM.as_bytes(), Some(&Secret::new("pw")))
        .unwrap();
    assert_eq!(k.algorithm(), crate::keys::KeyAlgorithm::EcP256);
    let wrong =
        crate::keys::decode::load_private_key(LEGACY_PEM.as_bytes(), Some(&Secret::new("px")));
    assert!(
        matches!(wrong, Err(crate::keys::KeyError::WrongPassphrase)),
        "{wrong:?}"
    );
}

fn seeds() -> &'static [Vec<u8>] {
    use std::sync::OnceLock;
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let c = sample(KeyType::EcP256);
        let pass = Secret::new("pw");
        let mut v: Vec<Vec<u8>> = [Profile::Modern, Profile::Legacy, Profile::Unencrypted]
            .into_iter()
            .map(|p| write_pkcs12(&c, Some(&pass), p).unwrap())
            .collect();
        let key = &c.keys[0].key;
        v.push(key.to_pkcs8_pem().as_bytes().to_vec());
        v.push(key.pkcs8_der().to_vec());
        v.push(key.to_encrypted_pkcs8_der_with(&pass, 10).unwrap());
        v.push(
            crate::keys::decode::to_traditional_pem(key)
                .unwrap()
                .as_bytes()
                .to_vec(),
        );
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Pkcs12::parse(&bytes, &Secret::new("pw"));
        let _ = crate::keys::decode::load_private_key(&bytes, Some(&Secret::new("pw")));
        let _ = crate::certfile::read_certificates(&bytes);
    }

    #[test]
    fn mutated_inputs_never_panic(
        which in 0usize..9,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let seeds = seeds();
        let base = seeds.get(which % seeds.len()).unwrap();
        let m = mutate(base, &flips, cut);
        let pass = Secret::new("pw");
        let _ = Pkcs12::parse(&m, &pass);
        let _ = Pkcs12::parse(&m, &Secret::new(""));
        let _ = crate::keys::decode::load_private_key(&m, Some(&pass));
        let _ = crate::keys::decode::load_private_key(&m, None);
        if let Ok(text) = std::str::from_utf8(&m) {
            let _ = crate::pem::blocks(text.as_bytes());
        }
    }
}

/// Re-encodes a pushca-written p12 in BER (indefinite lengths, segmented
/// OCTET STRINGs), the outer layer only or also the authenticated safe.
fn berify(p12: &[u8], inner: bool, drop_mac: bool) -> Vec<u8> {
    use der::{Any, Decode, Encode};
    let mut pfx = pkcs12::pfx::Pfx::from_der(p12).unwrap();
    if inner {
        let oct = pfx
            .auth_safe
            .content
            .decode_as::<der::asn1::OctetString>()
            .unwrap();
        let ber = ber::tests::der_to_ber(oct.as_bytes());
        pfx.auth_safe.content =
            Any::encode_from(&der::asn1::OctetString::new(ber).unwrap()).unwrap();
    }
    if drop_mac {
        pfx.mac_data = None;
    }
    ber::tests::der_to_ber(&pfx.to_der().unwrap())
}

#[test]
fn ber_encoded_files_are_read() {
    let c = sample(KeyType::EcP256);
    let pass = Secret::new("pw");
    for profile in [Profile::Modern, Profile::Legacy, Profile::Unencrypted] {
        let der = write_pkcs12(&c, Some(&pass), profile).unwrap();
        for (inner, drop_mac) in [(false, false), (true, true)] {
            let ber = berify(&der, inner, drop_mac);
            assert_ne!(ber, der);
            let back =
                Pkcs12::parse(&ber, &pass).unwrap_or_else(|e| panic!("{profile:?} {inner}: {e}"));
            assert_eq!(back.certs, c.certs);
            assert_eq!(back.keys[0].key.pkcs8_der(), c.keys[0].key.pkcs8_der());
        }
        // With the MAC kept, a wrong password is still a MAC failure.
        if profile != Profile::Unencrypted {
            let ber = berify(&der, false, false);
            assert!(matches!(
                Pkcs12::parse(&ber, &Secret::new("x")),
                Err(P12Error::WrongPasswordMac)
            ));
        }
    }
}

/// A part of the file the der crate cannot read is the source of `Corrupt`,
/// as its type, and the message still carries its words.
#[test]
fn corrupt_files_have_the_der_error_as_source() {
    use der::Encode;
    use std::error::Error;
    // A PFX whose authenticated safe holds an INTEGER, not an OCTET STRING.
    let pfx = pkcs12::pfx::Pfx {
        version: pkcs12::pfx::Version::V3,
        auth_safe: cms::content_info::ContentInfo {
            content_type: read::OID_DATA,
            content: der::Any::encode_from(&5u8).unwrap(),
        },
        mac_data: None,
    }
    .to_der()
    .unwrap();
    let e = Pkcs12::parse(&pfx, &Secret::new("pw")).unwrap_err();
    assert!(matches!(e, P12Error::Corrupt { .. }), "{e:?}");
    let der = e.source().and_then(|s| s.downcast_ref::<der::Error>());
    let der = der.expect("der::Error is the source");
    assert_eq!(
        e.to_string(),
        format!("corrupt PKCS#12 file: authenticated safe ({der})")
    );
    assert_eq!(e.kind(), crate::error::ErrorKind::Input);
}

/// The MAC's lower errors are typed sources too.
#[test]
fn mac_errors_have_typed_sources() {
    use std::error::Error;
    let p = crate::pbe::Password::new(&Secret::new("pw"));
    let e = mac::create(mac::MacAlg::Sha1, &p, u32::MAX, b"data").unwrap_err();
    let lower = e
        .source()
        .and_then(|s| s.downcast_ref::<std::num::TryFromIntError>());
    assert!(lower.is_some(), "{e:?}");
    assert!(e.to_string().starts_with("MAC iteration count ("), "{e}");
}

/// An encrypted safe whose PBES2 parameters do not parse: `Unsupported`,
/// with der's error as the source, as its type.
#[test]
fn unsupported_encryption_has_the_der_error_as_source() {
    use der::{Decode, Encode};
    use std::error::Error;
    let encrypted = cms::encrypted_data::EncryptedData {
        version: cms::content_info::CmsVersion::V0,
        enc_content_info: cms::enveloped_data::EncryptedContentInfo {
            content_type: read::OID_DATA,
            content_enc_alg: spki::AlgorithmIdentifierOwned::from_der(
                &crate::pbe::tests::empty_pbes2_alg(),
            )
            .unwrap(),
            encrypted_content: Some(der::asn1::OctetString::new(vec![0u8; 16]).unwrap()),
        },
        unprotected_attrs: None,
    };
    let safe = vec![cms::content_info::ContentInfo {
        content_type: read::OID_ENCRYPTED_DATA,
        content: der::Any::encode_from(&encrypted).unwrap(),
    }]
    .to_der()
    .unwrap();
    let pfx = pkcs12::pfx::Pfx {
        version: pkcs12::pfx::Version::V3,
        auth_safe: cms::content_info::ContentInfo {
            content_type: read::OID_DATA,
            content: der::Any::encode_from(&der::asn1::OctetString::new(safe).unwrap()).unwrap(),
        },
        mac_data: None,
    }
    .to_der()
    .unwrap();
    let e = Pkcs12::parse(&pfx, &Secret::new("pw")).unwrap_err();
    assert!(matches!(e, P12Error::Unsupported { .. }), "{e:?}");
    let der = e.source().and_then(|s| s.downcast_ref::<der::Error>());
    let der = der.expect("der::Error is the source");
    assert_eq!(
        e.to_string(),
        format!("unsupported PKCS#12 file: PBES2 parameters ({der})")
    );
    assert_eq!(e.kind(), crate::error::ErrorKind::Input);
}

/// A friendly name outside the Basic Multilingual Plane: refused as input,
/// with der's error as the source, as its type.
#[test]
fn unencodable_friendly_name_has_the_der_error_as_source() {
    use std::error::Error;
    let mut c = sample(KeyType::EcP256);
    c.keys[0].friendly_name = Some("push 😀".into());
    let e = write_pkcs12(&c, Some(&Secret::new("pw")), Profile::Modern).unwrap_err();
    let der = e.source().and_then(|s| s.downcast_ref::<der::Error>());
    let der = der.expect("der::Error is the source");
    assert_eq!(
        e.to_string(),
        format!("cannot write PKCS#12: friendly name 'push 😀' cannot be encoded ({der})")
    );
    assert_eq!(e.kind(), crate::error::ErrorKind::Input);
}
