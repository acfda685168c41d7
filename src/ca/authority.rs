//! The CA hierarchy: creating it (`init`), storing it in the home (certificates
//! as PEM, keys as encrypted PKCS#8, mode 0600), and unlocking the issuing CA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose,
};
use time::OffsetDateTime;

use super::templates::{self, AuthorityTemplate, Placeholders};
use super::{serial, CaError};
use crate::fsutil::{self, AtomicBatch, MODE_PUBLIC, MODE_SECRET};
use crate::keys::{KeyError, KeyType, PrivateKey};
use crate::pem::encode as pem_encode;
use crate::secret::Secret;

/// What `init` needs to know.
pub(crate) struct InitParams<'a> {
    pub(crate) team_name: &'a str,
    pub(crate) team_id: &'a str,
    pub(crate) country: &'a str,
    pub(crate) key_type: KeyType,
    pub(crate) now: OffsetDateTime,
    /// `<home>/templates` (or the store's), for overrides.
    pub(crate) templates_dir: Option<&'a templates::Templates>,
}

/// A certificate and its key, in memory.
pub(crate) struct CertAndKey {
    pub(crate) der: Vec<u8>,
    pub(crate) key: PrivateKey,
}

/// The three certificates and keys `init` makes.
pub(crate) struct Hierarchy {
    pub(crate) root: CertAndKey,
    pub(crate) issuing: CertAndKey,
    pub(crate) profile_signer: CertAndKey,
}

/// Where the CA material lives: the files of a home's `ca/` directory, or
/// the store (a home on a database: `ca_material`, the same PEM text as
/// the files, keys encrypted PKCS#8). Every reader of the CA goes through
/// it, so the call sites do not know which.
pub struct CaFiles {
    dir: PathBuf,
    store: Option<std::sync::Arc<crate::home::StoreSite>>,
}

/// The CA material and templates read from a store once.
pub(crate) struct StoredCa {
    /// By name: (certificate PEM, encrypted key PEM).
    pub(crate) material: std::collections::HashMap<String, (String, zeroize::Zeroizing<String>)>,
    /// Template overrides by name (file stem).
    pub(crate) templates: std::collections::HashMap<String, String>,
}

/// The CA material of the store `site` names (read once per process and
/// kept while it holds a CA).
pub(crate) fn stored_ca(
    site: &crate::home::StoreSite,
) -> Result<std::sync::Arc<StoredCa>, CaError> {
    let mut cache = site.cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = cache.as_ref() {
        return Ok(c.clone());
    }
    let mut st = crate::store::Store::open_pooled(&site.url)?;
    let (material, templates) =
        st.read(|tx| Ok::<_, crate::store::StoreError>((tx.ca_material()?, tx.ca_templates()?)))?;
    let stored = std::sync::Arc::new(StoredCa {
        material: material
            .into_iter()
            .map(|m| (m.name, (m.cert_pem, zeroize::Zeroizing::new(m.key_pem))))
            .collect(),
        templates: templates.into_iter().collect(),
    });
    if !stored.material.is_empty() {
        *cache = Some(stored.clone());
    }
    Ok(stored)
}

impl CaFiles {
    /// The CA files under `ca_dir` (a home's `ca/` directory); nothing is read yet.
    pub fn new(ca_dir: impl Into<PathBuf>) -> Self {
        CaFiles {
            dir: ca_dir.into(),
            store: None,
        }
    }
    /// The CA material of a store; nothing is read yet.
    pub(crate) fn in_store(site: std::sync::Arc<crate::home::StoreSite>) -> Self {
        CaFiles {
            dir: PathBuf::new(),
            store: Some(site),
        }
    }
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
    /// The certificate file `name` (in a store: its name, for messages).
    pub(crate) fn cert(&self, name: &str) -> PathBuf {
        match self.store {
            Some(_) => PathBuf::from(format!("{name}.pem in the store")),
            None => self.dir.join(format!("{name}.pem")),
        }
    }
    /// The key file `name` (in a store: its name, for messages).
    pub(crate) fn key(&self, name: &str) -> PathBuf {
        match self.store {
            Some(_) => PathBuf::from(format!("{name}.key in the store")),
            None => self.dir.join(format!("{name}.key")),
        }
    }
    /// Issuing CA then root CA, the chain handed to TLS peers.
    pub(crate) fn chain(&self) -> PathBuf {
        match self.store {
            Some(_) => PathBuf::from("chain.pem in the store"),
            None => self.dir.join("chain.pem"),
        }
    }

    fn stored(&self, name: &str) -> Result<Option<(String, zeroize::Zeroizing<String>)>, CaError> {
        match &self.store {
            Some(site) => {
                let stored = stored_ca(site)?;
                if stored.material.is_empty() {
                    return Err(CaError::NoCaInStore);
                }
                Ok(stored.material.get(name).cloned())
            }
            None => Ok(None),
        }
    }

    /// The certificate file's bytes (PEM).
    pub(crate) fn cert_bytes(&self, name: &str) -> Result<Vec<u8>, CaError> {
        if self.store.is_none() {
            return Ok(fsutil::read_input(&self.cert(name))?);
        }
        match self.stored(name)? {
            Some((cert, _)) => Ok(cert.into_bytes()),
            None => Err(CaError::CaFile {
                path: self.cert(name),
                reason: "missing",
            }),
        }
    }

    /// The key file's bytes (PEM, encrypted).
    pub(crate) fn key_bytes(&self, name: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, CaError> {
        if self.store.is_none() {
            return Ok(fsutil::read_secret_input(&self.key(name))?);
        }
        match self.stored(name)? {
            Some((_, key)) => Ok(zeroize::Zeroizing::new(key.as_bytes().to_vec())),
            None => Err(CaError::CaFile {
                path: self.key(name),
                reason: "missing",
            }),
        }
    }

    /// The chain (issuing CA, root CA) as PEM, when there is one.
    pub(crate) fn chain_pem(&self) -> Option<Vec<u8>> {
        if self.store.is_none() {
            let chain = self.chain();
            return chain
                .is_file()
                .then(|| fsutil::read_input(&chain).ok())
                .flatten();
        }
        let issuing = self.cert_bytes(ISSUING).ok()?;
        let root = self.cert_bytes(ROOT).ok()?;
        Some([issuing, root].concat())
    }
}

pub(crate) const ROOT: &str = "root";
/// File stem of the issuing CA's certificate and key (`issuing.pem`, `issuing.key`).
pub const ISSUING: &str = "issuing";
/// File stem of the profile-signing certificate and key.
pub const PROFILE_SIGNER: &str = "profile-signer";

fn subject(t: &AuthorityTemplate, ph: &Placeholders<'_>) -> Result<DistinguishedName, CaError> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ph.apply(&t.common_name));
    if let Some(ou) = &t.organizational_unit {
        dn.push(DnType::OrganizationalUnitName, ph.apply(ou));
    }
    dn.push(DnType::OrganizationName, ph.apply(&t.organization));
    dn.push(DnType::CountryName, printable(ph.country)?);
    Ok(dn)
}

pub(crate) fn printable(s: &str) -> Result<DnValue, CaError> {
    Ok(DnValue::PrintableString(
        s.try_into()
            .map_err(|_| CaError::InvalidCountry(s.to_string()))?,
    ))
}

fn authority_params(
    t: &AuthorityTemplate,
    ph: &Placeholders<'_>,
    now: OffsetDateTime,
) -> Result<CertificateParams, CaError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = subject(t, ph)?;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial::random_serial()));
    p.not_before = now;
    p.not_after = now + time::Duration::days(i64::from(t.validity_days));
    p.key_identifier_method = KeyIdMethod::Sha256;
    if t.kind == "ca" {
        p.is_ca = IsCa::Ca(match t.path_len {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = t.extended_key_usage.iter().filter_map(|e| eku(e)).collect();
    }
    Ok(p)
}

fn eku(name: &str) -> Option<ExtendedKeyUsagePurpose> {
    Some(match name {
        "clientAuth" => ExtendedKeyUsagePurpose::ClientAuth,
        "serverAuth" => ExtendedKeyUsagePurpose::ServerAuth,
        "codeSigning" => ExtendedKeyUsagePurpose::CodeSigning,
        "emailProtection" => ExtendedKeyUsagePurpose::EmailProtection,
        "timeStamping" => ExtendedKeyUsagePurpose::TimeStamping,
        "ocspSigning" => ExtendedKeyUsagePurpose::OcspSigning,
        _ => return None,
    })
}

fn build_err(e: rcgen::Error) -> CaError {
    CaError::Build(e)
}

/// Makes the root CA, the issuing CA and the profile-signing certificate.
pub(crate) fn create_hierarchy(p: &InitParams<'_>) -> Result<Hierarchy, CaError> {
    let ph = Placeholders {
        team_name: p.team_name,
        team_id: p.team_id,
        country: p.country,
    };
    let now = p.now.replace_nanosecond(0).unwrap_or(p.now);

    let root_t = templates::load_authority(p.templates_dir, templates::ROOT_CA)?;
    let issuing_t = templates::load_authority(p.templates_dir, templates::ISSUING_CA)?;
    let signer_t = templates::load_authority(p.templates_dir, templates::PROFILE_SIGNER)?;

    let root_key = PrivateKey::generate(p.key_type)?;
    let root_kp = root_key.to_rcgen()?;
    let root_params = authority_params(&root_t, &ph, now)?;
    let root_cert = root_params.self_signed(&root_kp).map_err(build_err)?;
    let root_issuer = Issuer::new(root_params, root_kp);

    let issuing_key = PrivateKey::generate(p.key_type)?;
    let issuing_kp = issuing_key.to_rcgen()?;
    let mut issuing_params = authority_params(&issuing_t, &ph, now)?;
    issuing_params.use_authority_key_identifier_extension = true;
    let issuing_cert = issuing_params
        .signed_by(&issuing_kp, &root_issuer)
        .map_err(build_err)?;
    let issuing_issuer = Issuer::new(issuing_params, issuing_kp);

    let signer_key = PrivateKey::generate(p.key_type)?;
    let signer_kp = signer_key.to_rcgen()?;
    let mut signer_params = authority_params(&signer_t, &ph, now)?;
    signer_params.use_authority_key_identifier_extension = true;
    let signer_cert = signer_params
        .signed_by(&signer_kp, &issuing_issuer)
        .map_err(build_err)?;

    Ok(Hierarchy {
        root: CertAndKey {
            der: root_cert.der().to_vec(),
            key: root_key,
        },
        issuing: CertAndKey {
            der: issuing_cert.der().to_vec(),
            key: issuing_key,
        },
        profile_signer: CertAndKey {
            der: signer_cert.der().to_vec(),
            key: signer_key,
        },
    })
}

/// PBKDF2-HMAC-SHA256 iterations for CA keys at rest (OWASP's current figure).
pub const CA_KEY_ITERATIONS: u32 = 600_000;

/// Writes the hierarchy into `files.dir()`: certificates (0644), encrypted keys
/// (0600, PBES2 with [`CA_KEY_ITERATIONS`]) and `chain.pem`. All files are
/// staged first and renamed together.
pub(crate) fn write_hierarchy(
    files: &CaFiles,
    h: &Hierarchy,
    pass: &Secret,
) -> Result<(), CaError> {
    fsutil::create_private_dir(files.dir())?;
    let mut batch = AtomicBatch::new();
    for (name, ck) in [
        (ROOT, &h.root),
        (ISSUING, &h.issuing),
        (PROFILE_SIGNER, &h.profile_signer),
    ] {
        batch.add(
            &files.cert(name),
            pem_encode("CERTIFICATE", &ck.der).as_bytes(),
            MODE_PUBLIC,
        )?;
        let enc = key_file(&ck.key, pass, CA_KEY_ITERATIONS)?;
        batch.add(&files.key(name), enc.as_bytes(), MODE_SECRET)?;
    }
    let chain = pem_encode("CERTIFICATE", &h.issuing.der) + &pem_encode("CERTIFICATE", &h.root.der);
    batch.add(&files.chain(), chain.as_bytes(), MODE_PUBLIC)?;
    Ok(batch.commit()?)
}

/// The hierarchy as the store records it (a home on a database): the same
/// PEM text as [`write_hierarchy`] writes, keys encrypted with
/// [`CA_KEY_ITERATIONS`].
pub(crate) fn hierarchy_records(
    h: &Hierarchy,
    pass: &Secret,
) -> Result<Vec<crate::store::CaMaterialRecord>, CaError> {
    let mut out = Vec::new();
    for (name, ck) in [
        (ROOT, &h.root),
        (ISSUING, &h.issuing),
        (PROFILE_SIGNER, &h.profile_signer),
    ] {
        out.push(crate::store::CaMaterialRecord {
            name: name.to_string(),
            cert_pem: pem_encode("CERTIFICATE", &ck.der),
            key_pem: key_file(&ck.key, pass, CA_KEY_ITERATIONS)?,
        });
    }
    Ok(out)
}

/// A CA key file's contents: PEM `ENCRYPTED PRIVATE KEY`, PBES2 with
/// PBKDF2-HMAC-SHA256 (`iterations`) and AES-256-CBC, fresh salt and IV.
fn key_file(key: &PrivateKey, pass: &Secret, iterations: u32) -> Result<String, CaError> {
    let der = key.to_encrypted_pkcs8_der_with(pass, iterations)?;
    Ok(pem_encode("ENCRYPTED PRIVATE KEY", &der))
}

/// Re-encrypts the three CA keys in `files` under the same passphrase with
/// `iterations` PBKDF2 iterations (1 to [`crate::keys::MAX_WRITE_ITERATIONS`]),
/// in the format `init` writes; only the iteration count, salt
/// and IV change. Each key is first unlocked and checked against its
/// certificate; the three files (mode 0600) are replaced together, or none is.
///
/// A general re-encrypt primitive that no pushca command calls: `init` always
/// writes [`CA_KEY_ITERATIONS`], and fewer iterations make a stolen key file
/// cheaper to attack. Its use is raising the count of an older home, or
/// building a test fixture home whose keys unlock quickly.
pub fn reencrypt_keys(files: &CaFiles, pass: &Secret, iterations: u32) -> Result<(), CaError> {
    let mut batch = AtomicBatch::new();
    for name in [ROOT, ISSUING, PROFILE_SIGNER] {
        let cert_der = read_ca_cert(files, name)?;
        let key = unlock_key(files, name, &cert_der, pass)?;
        let enc = key_file(&key, pass, iterations).map_err(|e| match e {
            CaError::Key(source) => CaError::CaKey {
                path: files.key(name),
                source,
            },
            e => e,
        })?;
        batch.add(&files.key(name), enc.as_bytes(), MODE_SECRET)?;
    }
    Ok(batch.commit()?)
}

/// The CA certificate `name` of `files` (`root`, [`ISSUING`] or
/// [`PROFILE_SIGNER`]) as DER; refuses a file that is not one PEM certificate.
pub fn read_ca_cert(files: &CaFiles, name: &str) -> Result<Vec<u8>, CaError> {
    let path = files.cert(name);
    let bytes = files.cert_bytes(name)?;
    match crate::pem::der_or_block(&bytes, &["CERTIFICATE"]) {
        Ok(crate::pem::Found::Block(b)) => Ok(b.der.to_vec()),
        _ => Err(CaError::CaFile {
            path,
            reason: "not a PEM certificate",
        }),
    }
}

/// Decrypts one CA key and checks that it belongs to its certificate.
pub(crate) fn unlock_key(
    files: &CaFiles,
    name: &str,
    cert_der: &[u8],
    pass: &Secret,
) -> Result<PrivateKey, CaError> {
    let path = files.key(name);
    let bytes = files.key_bytes(name)?;
    let key = crate::keys::decode::load_private_key(&bytes, Some(pass)).map_err(|e| match e {
        KeyError::WrongPassphrase => CaError::WrongPassphrase(path.clone()),
        source => CaError::CaKey {
            path: path.clone(),
            source,
        },
    })?;
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).map_err(|_| CaError::CaFile {
        path: files.cert(name),
        reason: "not a certificate",
    })?;
    if cert.public_key().raw != key.public_key_der()?.as_slice() {
        return Err(CaError::KeyMismatch {
            what: format!(
                "{} (the key {} does not belong to it)",
                files.cert(name).display(),
                path.display()
            ),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyType, MAX_WRITE_ITERATIONS};
    use pkcs8::der::Decode;

    /// A key file's encryption without its salt and IV: (PBKDF2 iterations,
    /// the rest of the PBES2 parameters).
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

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn reencrypt_keys_changes_only_the_iteration_count_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = CaFiles::new(dir.path().join("ca"));
        let pass = Secret::new("a long CA passphrase");
        let h = create_hierarchy(&InitParams {
            team_name: "T",
            team_id: "ABCDE12345",
            country: "US",
            key_type: KeyType::EcP256,
            now: OffsetDateTime::now_utc(),
            templates_dir: None,
        })
        .unwrap();
        write_hierarchy(&files, &h, &pass).unwrap();
        let names = [ROOT, ISSUING, PROFILE_SIGNER];
        let before: Vec<_> = names.iter().map(|n| pbes2(&files.key(n))).collect();
        assert!(before.iter().all(|(n, _)| *n == CA_KEY_ITERATIONS));

        reencrypt_keys(&files, &pass, 1_000).unwrap();
        for (name, ck, (_, shape)) in [
            (ROOT, &h.root, &before[0]),
            (ISSUING, &h.issuing, &before[1]),
            (PROFILE_SIGNER, &h.profile_signer, &before[2]),
        ] {
            let path = files.key(name);
            assert_eq!(pbes2(&path), (1_000, shape.clone()), "{name}");
            assert_eq!(mode(&path), 0o600, "{name}");
            let key = unlock_key(&files, name, &ck.der, &pass).unwrap();
            assert_eq!(key.pkcs8_der(), ck.key.pkcs8_der(), "{name}");
        }

        // Refused, and nothing written: a wrong passphrase, a count the
        // reader would refuse, a key that does not belong to its certificate
        // (found after the root key was already re-encrypted in memory).
        let snapshot = || names.map(|n| std::fs::read(files.key(n)).unwrap());
        let kept = snapshot();
        assert!(matches!(
            reencrypt_keys(&files, &Secret::new("not the passphrase"), 1),
            Err(CaError::WrongPassphrase(_))
        ));
        for bad in [0, MAX_WRITE_ITERATIONS + 1] {
            let e = reencrypt_keys(&files, &pass, bad).unwrap_err();
            assert!(matches!(e, CaError::CaKey { .. }), "{e:?}");
            assert!(e.to_string().contains("root.key"), "{e}");
        }
        assert_eq!(snapshot(), kept);
        std::fs::copy(files.key(PROFILE_SIGNER), files.key(ISSUING)).unwrap();
        let kept = snapshot();
        assert!(matches!(
            reencrypt_keys(&files, &pass, 2_000),
            Err(CaError::KeyMismatch { .. })
        ));
        assert_eq!(snapshot(), kept);
    }
}
