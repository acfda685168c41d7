//! CMS against the `openssl cms` CLI, both ways.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::ca::authority::{create_hierarchy, Hierarchy, InitParams};
use crate::keys::signer::Signer;
use crate::keys::KeyType;
use crate::pem::encode as pem;

const PLIST: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict><key>Name</key><string>pushca \xe2\x9c\x93</string></dict></plist>\n";

fn hierarchy(kt: KeyType) -> Hierarchy {
    create_hierarchy(&InitParams {
        team_name: "CMS Test",
        team_id: "ABCDE12345",
        country: "US",
        key_type: kt,
        now: time::OffsetDateTime::now_utc(),
        templates_dir: None,
    })
    .unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is installed")
}

fn write_ca(dir: &Path, h: &Hierarchy) {
    let ca = pem("CERTIFICATE", &h.root.der) + &pem("CERTIFICATE", &h.issuing.der);
    std::fs::write(dir.join("ca.pem"), ca).unwrap();
}

#[test]
fn openssl_verifies_what_pushca_signs() {
    for kt in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let h = hierarchy(kt);
        write_ca(d, &h);
        let signer = Signer::new(h.profile_signer.key.clone()).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let attached = sign(
            PLIST,
            true,
            &h.profile_signer.der,
            &[&h.issuing.der],
            &signer,
            now,
        )
        .unwrap();
        std::fs::write(d.join("p.mobileprovision"), &attached).unwrap();
        for purpose in [None, Some("any")] {
            let mut args = vec![
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-in",
                "p.mobileprovision",
                "-CAfile",
                "ca.pem",
                "-out",
                "content.out",
            ];
            if let Some(p) = purpose {
                args.extend(["-purpose", p]);
            }
            let o = openssl(d, &args);
            assert!(
                o.status.success(),
                "{kt} {purpose:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(std::fs::read(d.join("content.out")).unwrap(), PLIST);
        }
        let detached = sign(
            PLIST,
            false,
            &h.profile_signer.der,
            &[&h.issuing.der],
            &signer,
            now,
        )
        .unwrap();
        std::fs::write(d.join("policy.json.p7s"), &detached).unwrap();
        std::fs::write(d.join("policy.json"), PLIST).unwrap();
        let o = openssl(
            d,
            &[
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-in",
                "policy.json.p7s",
                "-content",
                "policy.json",
                "-binary",
                "-CAfile",
                "ca.pem",
                "-out",
                "/dev/null",
            ],
        );
        assert!(
            o.status.success(),
            "{kt} detached: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // And pushca verifies both.
        let v = verify(&attached, Content::Attached).unwrap();
        assert_eq!(v.content, PLIST);
        assert_eq!(v.signer_cert_der, h.profile_signer.der);
        assert_eq!(v.certificates.len(), 2);
        assert!(v.signing_time.is_some());
        assert_eq!(
            verify(&detached, Content::Detached(PLIST)).unwrap().content,
            PLIST
        );
        assert!(matches!(
            verify(&detached, Content::Attached),
            Err(CmsError::NoContent)
        ));
        assert!(matches!(
            verify(&detached, Content::Detached(b"other content")),
            Err(CmsError::DigestMismatch)
        ));
        // A validly signed object with its own content (a profile) never
        // stands in for a detached signature, whatever bytes are given: the
        // review's forged-policy attack (any profile copied over the .p7s).
        for given in [PLIST, b"{\"forged\": true}".as_slice()] {
            assert!(matches!(
                verify(&attached, Content::Detached(given)),
                Err(CmsError::NotDetached)
            ));
        }
    }
}

#[test]
fn pushca_verifies_what_openssl_signs() {
    for kt in [KeyType::EcP256, KeyType::Rsa2048] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let h = hierarchy(kt);
        std::fs::write(d.join("s.pem"), pem("CERTIFICATE", &h.profile_signer.der)).unwrap();
        std::fs::write(
            d.join("s.key"),
            h.profile_signer.key.to_pkcs8_pem().as_bytes(),
        )
        .unwrap();
        std::fs::write(d.join("data"), PLIST).unwrap();
        std::fs::write(d.join("i.pem"), pem("CERTIFICATE", &h.issuing.der)).unwrap();
        // Signer by issuer and serial number, and (-keyid) by subjectKeyIdentifier
        // with another certificate carried too.
        for extra in [&[][..], &["-keyid", "-certfile", "i.pem"][..]] {
            let mut args = vec![
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-outform",
                "DER",
                "-signer",
                "s.pem",
                "-inkey",
                "s.key",
                "-in",
                "data",
                "-out",
                "o.p7m",
            ];
            args.extend_from_slice(extra);
            let o = openssl(d, &args);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let der = std::fs::read(d.join("o.p7m")).unwrap();
            let v = verify(&der, Content::Attached).unwrap();
            assert_eq!(v.content, PLIST);
            assert_eq!(v.signer_cert_der, h.profile_signer.der, "{extra:?}");
            assert_eq!(v.certificates.len(), 1 + extra.len() / 3, "{extra:?}");
            assert!(v.certificates.contains(&h.profile_signer.der));
        }
    }
}

fn flip_after(der: &[u8], needle: &[u8], offset: usize) -> Vec<u8> {
    let pos = der
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present");
    let mut out = der.to_vec();
    out[pos + needle.len() + offset] ^= 0x01;
    out
}

#[test]
fn one_altered_byte_is_refused() {
    let h = hierarchy(KeyType::EcP256);
    let signer = Signer::new(h.profile_signer.key.clone()).unwrap();
    let der = sign(
        PLIST,
        true,
        &h.profile_signer.der,
        &[&h.issuing.der],
        &signer,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    // Content.
    let bad = flip_after(&der, b"pushca", 0);
    assert!(matches!(
        verify(&bad, Content::Attached),
        Err(CmsError::DigestMismatch)
    ));
    // Signed attributes (the signingTime value).
    let signing_time_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05,
    ];
    let bad = flip_after(&der, &signing_time_oid, 6);
    assert!(matches!(
        verify(&bad, Content::Attached),
        Err(CmsError::BadSignature) | Err(CmsError::Malformed(_))
    ));
    // Signature (its last byte).
    let mut bad = der.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert!(verify(&bad, Content::Attached).is_err());
    // Garbage and every truncation: errors, never panics.
    for n in (0..der.len()).step_by(7) {
        assert!(verify(&der[..n], Content::Attached).is_err());
    }
    assert!(verify(b"\x30\x80\x00\x00", Content::Attached).is_err());
}
