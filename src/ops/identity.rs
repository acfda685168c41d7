//! TLS identities from the issuing CA: `server-cert` (a TLS server
//! certificate for a gateway or a service) and `device identity` (a
//! registered device's TLS client certificate for the gateway's device
//! listener).
//!
//! Like `cert create`: everything is checked before the CA is unlocked, the
//! key is made here, the certificate is recorded in the store (kind
//! `server` or `device`: `cert list`, `cert revoke`, the CRL) before any
//! file is written, and the files are written all or nothing:
//!
//! | file | what it is |
//! | --- | --- |
//! | `<base>.key` | the private key (PKCS#8, encrypted unless unprotected) |
//! | `<base>.pem` | the certificate |
//! | `<base>-chain.pem` | the CA certificates: issuing CA, then root |
//! | `<base>-fullchain.pem` | the certificate then the issuing CA (what a TLS peer sends) |
//! | `<base>.p12` | key, certificate and CA certificates (protected like the key) |
//!
//! `<base>` is `server-<first DNS name>` or `device-<UDID>`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::convert::{key_pem, p12_bytes, Protection};
use super::{now, open_store, OpsError, OutputRules, Result};
use crate::ca::authority::{read_ca_cert, ISSUING, ROOT};
use crate::ca::tls::{self, ServerNames, TlsKind, TlsSubject};
use crate::ca::IssuingCa;
use crate::fsutil::{self, AtomicBatch, MODE_PUBLIC, MODE_SECRET};
use crate::home::Home;
use crate::keys::{KeyType, PrivateKey};
use crate::portal::{self, devices, PortalError};
use crate::secret::Secret;
use crate::store::{CertRecord, DeviceRecord, Tx};
use crate::timeutil::serialize_rfc3339;

/// The files of one identity, in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPaths {
    /// The private key.
    pub key: PathBuf,
    /// The certificate (PEM).
    pub certificate: PathBuf,
    /// The issuing CA then the root (PEM).
    pub chain: PathBuf,
    /// The certificate then the issuing CA (PEM).
    pub fullchain: PathBuf,
    /// Key, certificate and CA certificates.
    pub p12: PathBuf,
}

impl IdentityPaths {
    /// `<base>.key`, `<base>.pem`, `<base>-chain.pem`, `<base>-fullchain.pem`
    /// and `<base>.p12` in `dir`.
    pub fn new(dir: &Path, base: &str) -> Self {
        IdentityPaths {
            key: dir.join(format!("{base}.key")),
            certificate: dir.join(format!("{base}.pem")),
            chain: dir.join(format!("{base}-chain.pem")),
            fullchain: dir.join(format!("{base}-fullchain.pem")),
            p12: dir.join(format!("{base}.p12")),
        }
    }

    /// The files of a server certificate whose first DNS name is `name`.
    pub fn server(dir: &Path, name: &str) -> Self {
        IdentityPaths::new(dir, &format!("server-{name}"))
    }

    /// The files of the identity of the device `udid` (normalised).
    pub fn device(dir: &Path, udid: &str) -> Self {
        IdentityPaths::new(dir, &format!("device-{udid}"))
    }
}

/// What `server-cert` issues: the names, where the files go, the key.
pub struct ServerCertRequest<'a> {
    /// DNS names (at least one; the first is the common name).
    pub dns: &'a [String],
    /// IP addresses (IPv4 or IPv6).
    pub ip: &'a [String],
    /// The directory the files go to (created if missing).
    pub out_dir: &'a Path,
    /// The key to generate.
    pub key_type: KeyType,
    /// How the key and the `.p12` are protected.
    pub protection: &'a Protection,
    /// Replace files that exist.
    pub force: bool,
}

/// What `device identity` issues: the device, where the files go, the key.
pub struct DeviceIdentityRequest<'a> {
    /// The device's UDID, in either of Apple's forms (normalised as `device add` does).
    pub udid: &'a str,
    /// The device's team (`None`: the default team).
    pub team_id: Option<&'a str>,
    /// The directory the files go to (created if missing).
    pub out_dir: &'a Path,
    /// The key to generate.
    pub key_type: KeyType,
    /// How the key and the `.p12` are protected.
    pub protection: &'a Protection,
    /// Replace files that exist.
    pub force: bool,
}

/// The document of `server-cert`: the certificate and the files written.
#[derive(Debug, Clone, Serialize)]
pub struct ServerCertIssued {
    /// Serial, lowercase hex.
    pub serial: String,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub sha256: String,
    /// The subject as x509-parser prints it.
    pub subject: String,
    /// The DNS names (SANs), lowercase, in the order given.
    pub dns: Vec<String>,
    /// The IP addresses (SANs).
    pub ip: Vec<String>,
    /// `--key-type` vocabulary.
    pub key_type: &'static str,
    /// Start of validity (unix seconds; RFC 3339 in JSON).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_before: i64,
    /// End of validity (unix seconds; RFC 3339 in JSON).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// The files written (their keys flattened into the document).
    #[serde(flatten)]
    pub files: Written,
}

/// The document of `device identity`: the certificate and the files written.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceIdentityIssued {
    /// Serial, lowercase hex.
    pub serial: String,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub sha256: String,
    /// The subject as x509-parser prints it.
    pub subject: String,
    /// The normalised UDID.
    pub udid: String,
    /// The device's team.
    pub team_id: String,
    /// `--key-type` vocabulary.
    pub key_type: &'static str,
    /// Start of validity (unix seconds; RFC 3339 in JSON).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_before: i64,
    /// End of validity (unix seconds; RFC 3339 in JSON).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub not_after: i64,
    /// The files written (their keys flattened into the document).
    #[serde(flatten)]
    pub files: Written,
}

/// The files an identity was written to, and whether the key and `.p12`
/// are encrypted.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// The private key (PKCS#8 PEM, encrypted unless `--noenc`).
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub key: PathBuf,
    /// The certificate (PEM).
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub certificate: PathBuf,
    /// The CA chain: issuing CA, then root (PEM).
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub chain: PathBuf,
    /// The certificate, then the issuing CA (what a TLS peer presents).
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub fullchain: PathBuf,
    /// Key, certificate and chain as PKCS#12.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub p12: PathBuf,
    /// Whether the key and the `.p12` are encrypted.
    pub encrypted: bool,
}

/// `server-cert`: a new key and a TLS server certificate for `req.dns` and
/// `req.ip` from the issuing CA, recorded in the store (kind `server`) and
/// written to `req.out_dir` (see the module's table). Names, outputs and
/// the store are checked before `ca_pass` is asked for.
pub fn server_cert(
    home: &Home,
    req: &ServerCertRequest<'_>,
    ca_pass: impl FnOnce() -> Result<Secret>,
) -> Result<ServerCertIssued> {
    let names = ServerNames::new(req.dns, req.ip)?;
    let team = open_store(home)?.read(|tx| portal::resolve_team(tx, None))?;
    let paths = IdentityPaths::server(req.out_dir, names.common_name());
    let job = Job {
        home,
        paths: &paths,
        key_type: req.key_type,
        protection: req.protection,
        force: req.force,
        kind: CertRecord::SERVER,
        team_id: &team.team_id,
    };
    let (issued, files) = job.run(
        TlsKind::Server,
        &TlsSubject::Server(&names),
        |_| Ok(()),
        ca_pass,
    )?;
    Ok(ServerCertIssued {
        serial: issued.serial,
        sha256: issued.sha256,
        subject: issued.subject,
        dns: names.dns.clone(),
        ip: names.ip.iter().map(ToString::to_string).collect(),
        key_type: req.key_type.name(),
        not_before: issued.not_before.unix_timestamp(),
        not_after: issued.not_after.unix_timestamp(),
        files,
    })
}

/// The device `udid` of the team, if registered and enabled: unknown is
/// not found, disabled is refused.
fn usable_device(tx: &Tx<'_>, udid: &str, team_id: Option<&str>) -> Result<DeviceRecord> {
    let udid = devices::normalize_udid(udid)?;
    let team = portal::resolve_team(tx, team_id)?;
    let device = tx
        .device(&team.team_id, &udid)?
        .ok_or(PortalError::UnknownDevice {
            udid,
            team_id: Some(team.team_id),
        })?;
    if !device.enabled {
        return Err(OpsError::DeviceDisabled {
            udid: device.udid,
            team_id: device.team_id,
        });
    }
    Ok(device)
}

/// `device identity`: a new key and the TLS client certificate of a
/// registered, enabled device (`CN=<UDID>`, `OU=<Team ID>`, EKU
/// clientAuth), recorded in the store (kind `device`) and written to
/// `req.out_dir`. The device is checked again when the certificate is
/// recorded (a device disabled meanwhile gets none).
pub fn device_identity(
    home: &Home,
    req: &DeviceIdentityRequest<'_>,
    ca_pass: impl FnOnce() -> Result<Secret>,
) -> Result<DeviceIdentityIssued> {
    let device = open_store(home)?.read(|tx| usable_device(tx, req.udid, req.team_id))?;
    let paths = IdentityPaths::device(req.out_dir, &device.udid);
    let job = Job {
        home,
        paths: &paths,
        key_type: req.key_type,
        protection: req.protection,
        force: req.force,
        kind: CertRecord::DEVICE,
        team_id: &device.team_id,
    };
    let subject = TlsSubject::Device {
        udid: &device.udid,
        team_id: &device.team_id,
    };
    let (issued, files) = job.run(
        TlsKind::DeviceIdentity,
        &subject,
        |tx| usable_device(tx, &device.udid, Some(&device.team_id)).map(drop),
        ca_pass,
    )?;
    Ok(DeviceIdentityIssued {
        serial: issued.serial,
        sha256: issued.sha256,
        subject: issued.subject,
        udid: device.udid,
        team_id: device.team_id,
        key_type: req.key_type.name(),
        not_before: issued.not_before.unix_timestamp(),
        not_after: issued.not_after.unix_timestamp(),
        files,
    })
}

/// One identity to issue and write.
struct Job<'a> {
    home: &'a Home,
    paths: &'a IdentityPaths,
    key_type: KeyType,
    protection: &'a Protection,
    force: bool,
    /// The store's kind.
    kind: &'static str,
    team_id: &'a str,
}

impl Job<'_> {
    /// Checks the outputs, makes the key, unlocks the CA, signs, records
    /// (after `recheck` in the same transaction), writes.
    fn run(
        &self,
        tls_kind: TlsKind,
        subject: &TlsSubject<'_>,
        recheck: impl Fn(&Tx<'_>) -> Result<()>,
        ca_pass: impl FnOnce() -> Result<Secret>,
    ) -> Result<(crate::ca::IssuedCertificate, Written)> {
        let home = self.home;
        let p = self.paths;
        let rules = OutputRules {
            force: self.force,
            home: Some(home.root()),
        };
        let dir = p.key.parent().unwrap_or(Path::new("."));
        fsutil::create_output_dir(dir, &rules)?;
        for f in [&p.certificate, &p.chain, &p.fullchain] {
            fsutil::check_output(f, &rules)?;
        }
        for f in [&p.key, &p.p12] {
            fsutil::check_secret_output(f, &rules)?;
        }
        let template = tls::load_template(Some(&home.templates()), tls_kind)?;
        let files = home.ca_files();
        let (issuing_der, root_der) = (read_ca_cert(&files, ISSUING)?, read_ca_cert(&files, ROOT)?);
        let key = PrivateKey::generate(self.key_type)?;
        let spki = key.public_key_der()?;
        let pass = ca_pass()?;
        let ca = IssuingCa::unlock_issuing(&files, &pass)?;
        let now = now();
        let cert = ca.issue_tls_certificate(&template, subject, &spki, key.algorithm(), now)?;
        open_store(home)?.write(|tx| -> Result<()> {
            recheck(tx)?;
            tx.insert_certificate(&super::issued_record(
                &cert,
                &super::IssuedFor {
                    kind: self.kind,
                    bundle_id: "",
                    team_id: self.team_id,
                    environment: "",
                },
                key.algorithm().id(),
                now,
            ))?;
            Ok(())
        })?;
        // Recorded: from here on `cert export` recovers the certificate
        // whatever happens to the files.
        let not_written = |source: fsutil::FsError| OpsError::IssuedNotWritten {
            count: 1,
            serials: vec![cert.serial.clone()],
            source,
        };
        let pem = |der: &[u8]| crate::pem::encode("CERTIFICATE", der);
        let key_text = key_pem(&key, self.protection)?;
        let (p12, _, _) = p12_bytes(
            &cert.der,
            vec![issuing_der.clone(), root_der.clone()],
            key.clone(),
            crate::certfile::common_name(&cert.der),
            self.protection,
            false,
            &p.p12,
        )?;
        let mut batch = AtomicBatch::new();
        batch
            .add_output(&p.key, key_text.as_bytes(), MODE_SECRET, &rules)
            .and_then(|()| {
                batch.add_output(
                    &p.certificate,
                    pem(&cert.der).as_bytes(),
                    MODE_PUBLIC,
                    &rules,
                )
            })
            .and_then(|()| {
                let chain = pem(&issuing_der) + &pem(&root_der);
                batch.add_output(&p.chain, chain.as_bytes(), MODE_PUBLIC, &rules)
            })
            .and_then(|()| {
                let full = pem(&cert.der) + &pem(&issuing_der);
                batch.add_output(&p.fullchain, full.as_bytes(), MODE_PUBLIC, &rules)
            })
            .and_then(|()| batch.add_output(&p.p12, &p12, MODE_SECRET, &rules))
            .and_then(|()| batch.commit())
            .map_err(not_written)?;
        let written = Written {
            key: p.key.clone(),
            certificate: p.certificate.clone(),
            chain: p.chain.clone(),
            fullchain: p.fullchain.clone(),
            p12: p.p12.clone(),
            encrypted: matches!(self.protection, Protection::Password(_)),
        };
        Ok((cert, written))
    }
}
