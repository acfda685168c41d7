//! Property tests: no input makes the parsers panic — random bytes, and valid
//! CSRs and certificates with bytes flipped, inserted or cut off.

use proptest::prelude::*;
use pushca::ca::check_csr;
use pushca::keys::{KeyType, PrivateKey};
use pushca::x509::CertSummary;

fn valid_csr_der() -> Vec<u8> {
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    pushca::ca::csr::make_csr(&key, "fuzz", Some("fuzz@example.com")).unwrap()
}

fn valid_cert_der() -> Vec<u8> {
    let kp = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["a.example".into()]).unwrap();
    p.custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 2, 840, 113635, 100, 6, 3, 6],
            pushca::x509ext::encode_topics(
                "com.example.app",
                &[
                    pushca::x509ext::TopicKind::App,
                    pushca::x509ext::TopicKind::Voip,
                ],
            )
            .unwrap(),
        ));
    p.self_signed(&kp).unwrap().der().to_vec()
}

fn mutate(mut data: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(pos, kind, val) in edits {
        if data.is_empty() {
            break;
        }
        let i = pos % data.len();
        match kind % 4 {
            0 => data[i] ^= val | 1,
            1 => data.truncate(i),
            2 => data.insert(i, val),
            _ => {
                data.remove(i);
            }
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = check_csr(&data);
        let _ = CertSummary::from_der(&data);
        let _ = PrivateKey::from_pkcs8_der(&data);
        let _ = pushca::x509ext::decode_topics(&data);
        if let Ok(s) = std::str::from_utf8(&data) {
            let _ = pushca::keys::decode::load_private_key(s.as_bytes(), None);
        }
    }

    #[test]
    fn mutated_csrs_never_panic_and_never_pass_with_a_changed_body(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4)
    ) {
        let good = valid_csr_der();
        let bad = mutate(good.clone(), &edits);
        if let Ok(checked) = check_csr(&bad) {
            // A mutation that still verifies may only have touched the encoding
            // outside the signed part: the key must be the original one.
            let orig = check_csr(&good).unwrap();
            prop_assert_eq!(checked.spki_der, orig.spki_der);
        }
        let pem = pushca::pem::encode("CERTIFICATE REQUEST", &bad);
        let _ = check_csr(pem.as_bytes());
    }

    #[test]
    fn mutated_certificates_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4)
    ) {
        let _ = CertSummary::from_der(&mutate(valid_cert_der(), &edits));
    }
}
