//! The one issuer type: a CA certificate with its unlocked key. It serves the
//! issuing CA (push certificates, CRLs) and the profile signer (CMS SignedData
//! for profiles and the gateway policy).

use rustls_pki_types::CertificateDer;

use super::authority::{read_ca_cert, unlock_key, CaFiles, ISSUING};
use super::CaError;
use crate::keys::signer::Signer;
use crate::secret::Secret;

/// A certificate and its unlocked key, ready to sign.
pub struct Issuer {
    cert_der: Vec<u8>,
    inner: rcgen::Issuer<'static, Signer>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issuer({:?})", self.inner.key())
    }
}

/// The issuing CA ("Developer Relations"): an [`Issuer`].
pub(crate) type IssuingCa = Issuer;

// `cert issue` signs a batch from several threads sharing one issuer (ring's
// key pairs are Send + Sync): keep it so.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Issuer>();
    send_sync::<crate::ca::CheckedCsr>();
    send_sync::<crate::ca::templates::PushTemplate>();
};

impl Issuer {
    /// Decrypts the key `<name>.key` of the home's CA directory with the CA
    /// passphrase and pairs it with `<name>.pem`, refusing a key that does not
    /// belong to the certificate.
    pub fn unlock(files: &CaFiles, name: &str, pass: &Secret) -> Result<Issuer, CaError> {
        let cert_der = read_ca_cert(files, name)?;
        let key = unlock_key(files, name, &cert_der, pass)?;
        Issuer::new(cert_der, Signer::new(key)?)
    }

    /// The issuing CA of a home.
    pub fn unlock_issuing(files: &CaFiles, pass: &Secret) -> Result<Issuer, CaError> {
        Issuer::unlock(files, ISSUING, pass)
    }

    /// An issuer from a certificate and its key (checked to match).
    pub(crate) fn new(cert_der: Vec<u8>, signer: Signer) -> Result<Issuer, CaError> {
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| CaError::NotCertificate(e.into()))?;
        if cert.public_key().raw != signer.public_key_der().as_slice() {
            return Err(CaError::KeyMismatch {
                what: cert.subject().to_string(),
            });
        }
        let inner =
            rcgen::Issuer::from_ca_cert_der(&CertificateDer::from(cert_der.as_slice()), signer)
                .map_err(|e| CaError::NotCertificate(e.into()))?;
        Ok(Issuer { cert_der, inner })
    }

    /// The CA's certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA's key, for signing CMS (profiles, gateway policies).
    pub fn signer(&self) -> &Signer {
        self.inner.key()
    }

    pub(crate) fn rcgen(&self) -> &rcgen::Issuer<'static, Signer> {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::authority::{create_hierarchy, write_hierarchy, InitParams, PROFILE_SIGNER};
    use crate::keys::KeyType;

    #[test]
    fn unlock_checks_the_pair_and_opens_older_key_encryption() {
        let dir = tempfile::tempdir().unwrap();
        let files = CaFiles::new(dir.path().join("ca"));
        let pass = Secret::new("a long CA passphrase");
        let h = create_hierarchy(&InitParams {
            team_name: "T",
            team_id: "ABCDE12345",
            country: "US",
            key_type: KeyType::EcP256,
            now: time::OffsetDateTime::now_utc(),
            templates_dir: None,
        })
        .unwrap();
        write_hierarchy(&files, &h, &pass).unwrap();
        let issuing = Issuer::unlock_issuing(&files, &pass).unwrap();
        assert_eq!(issuing.cert_der(), h.issuing.der);
        let signer = Issuer::unlock(&files, PROFILE_SIGNER, &pass).unwrap();
        assert_eq!(signer.cert_der(), h.profile_signer.der);
        // Wrong passphrase.
        assert!(matches!(
            Issuer::unlock_issuing(&files, &Secret::new("not the passphrase")),
            Err(CaError::WrongPassphrase(_))
        ));
        // A home made before keys used 600,000 iterations (100,000) still opens.
        let old = h
            .issuing
            .key
            .to_encrypted_pkcs8_der_with(&pass, 100_000)
            .unwrap();
        std::fs::write(
            files.key(ISSUING),
            crate::pem::encode("ENCRYPTED PRIVATE KEY", &old),
        )
        .unwrap();
        Issuer::unlock_issuing(&files, &pass).unwrap();
        // The profile signer's key in the issuing CA's place: refused.
        std::fs::copy(files.key(PROFILE_SIGNER), files.key(ISSUING)).unwrap();
        assert!(matches!(
            Issuer::unlock_issuing(&files, &pass),
            Err(CaError::KeyMismatch { .. })
        ));
        assert!(matches!(
            Issuer::new(
                h.issuing.der.clone(),
                Signer::new(h.root.key.clone()).unwrap()
            ),
            Err(CaError::KeyMismatch { .. })
        ));
    }
}
