//! The CA unlocked once: the issuing CA, the root and the profile signer with
//! their keys decrypted, for a long-running process (`pushca serve`) that
//! signs many times without holding the passphrase. The operations that sign
//! take it in place of a passphrase (`..._unlocked`); their passphrase forms
//! unlock what they need and call the same code.

use super::Result;
use crate::ca::authority::{PROFILE_SIGNER, ROOT};
use crate::ca::Issuer;
use crate::home::Home;
use crate::secret::Secret;

/// The CA keys of a home, decrypted. Each key is zeroized when this value is
/// dropped (the keys' PKCS#8 bytes and rcgen's copies); `Debug` names the
/// CA certificates only.
pub struct UnlockedCa {
    pub(crate) issuing: Issuer,
    pub(crate) root: Issuer,
    pub(crate) profile_signer: Issuer,
}

impl std::fmt::Debug for UnlockedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockedCa(issuing, root, profile-signer)")
    }
}

impl UnlockedCa {
    /// Decrypts the three CA keys of `home` with the CA passphrase (each
    /// checked against its certificate). A wrong passphrase fails on the
    /// first key, before the others are tried.
    pub fn unlock(home: &Home, pass: &Secret) -> Result<UnlockedCa> {
        if home.is_initialized() {
            home.check_private()?;
        }
        let files = home.ca_files();
        let issuing = Issuer::unlock_issuing(&files, pass)?;
        let root = Issuer::unlock(&files, ROOT, pass)?;
        let profile_signer = Issuer::unlock(&files, PROFILE_SIGNER, pass)?;
        Ok(UnlockedCa {
            issuing,
            root,
            profile_signer,
        })
    }

    /// The issuing CA's certificate, DER.
    pub fn issuing_cert_der(&self) -> &[u8] {
        self.issuing.cert_der()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unlocked once, the CA signs without a passphrase; a wrong
    /// passphrase is refused as one; `Debug` shows no key.
    #[test]
    fn unlock_once_then_sign() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("home"));
        let pass = Secret::new("a long CA passphrase");
        crate::ops::init::init_home(
            &home,
            &crate::ops::init::InitRequest {
                team_name: "T",
                team_id: None,
                country: "US",
                key_type: crate::keys::KeyType::EcP256,
            },
            &pass,
            crate::ops::now(),
        )
        .unwrap();
        let wrong = UnlockedCa::unlock(&home, &Secret::new("not the passphrase"));
        assert_eq!(wrong.unwrap_err().kind(), crate::error::ErrorKind::Password);
        let ca = UnlockedCa::unlock(&home, &pass).unwrap();
        assert_eq!(
            format!("{ca:?}"),
            "UnlockedCa(issuing, root, profile-signer)"
        );
        let a = crate::ops::revocation::make_crl_unlocked(&home, &ca, None).unwrap();
        let b = crate::ops::revocation::make_crl_unlocked(&home, &ca, None).unwrap();
        assert_eq!((a.number, b.number), (1, 2));
    }
}
