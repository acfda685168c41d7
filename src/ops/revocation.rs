//! Revocation and CRLs.

use std::path::{Path, PathBuf};

use super::{now, open_store, OpsError, OutputRules, Result};
use crate::ca::crl::{self, CrlEntry};
use crate::ca::{templates, IssuingCa};
use crate::fsutil::{Returned, Sink};
use crate::home::Home;
use crate::secret::Secret;
use crate::store::{CertRecord, CrlRecord, Tx};
use crate::timeutil::serialize_rfc3339;

/// `cert revoke`: the certificate revoked, and whether this run revoked it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Revoked {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// `push`, `server`, `device` or `profile-signing`.
    pub kind: String,
    /// Empty for the profile signer, a server certificate or a device identity.
    pub bundle_id: String,
    /// `development`, `production`, `universal`, `profile-signing`, or
    /// empty (a server certificate or a device identity).
    pub environment: String,
    /// Always true.
    pub revoked: bool,
    /// False when it already was revoked (its first time and reason are kept).
    pub changed: bool,
    /// When it was revoked (RFC 3339).
    #[serde(serialize_with = "crate::timeutil::serialize_rfc3339_opt")]
    pub revoked_at: Option<i64>,
    /// RFC 5280 reason name.
    pub reason: String,
    /// Subject DN, one line (not in the document).
    #[serde(skip)]
    pub subject: String,
}

/// Revokes a certificate: idempotent (a second revocation keeps the first's
/// time and reason and says `changed: false`). Refuses unknown serials and
/// expired certificates. The revocation reaches gateways with the next CRL.
pub fn revoke(home: &Home, serial: &str, reason: Option<&str>) -> Result<Revoked> {
    let (c, changed) = revoke_record(home, serial, reason)?;
    Ok(Revoked {
        reason: c
            .revocation_reason
            .clone()
            .unwrap_or_else(|| "unspecified".into()),
        serial: c.serial,
        kind: c.kind,
        bundle_id: c.bundle_id,
        environment: c.environment,
        revoked: true,
        changed,
        revoked_at: c.revoked_at,
        subject: c.subject,
    })
}

fn revoke_record(home: &Home, serial: &str, reason: Option<&str>) -> Result<(CertRecord, bool)> {
    let reason = match reason {
        None => "unspecified",
        Some(r) => crl::reason_name(r).ok_or_else(|| OpsError::UnknownReason(r.to_string()))?,
    };
    let signer = profile_signer(home)?;
    let mut st = open_store(home)?;
    let t = now().unix_timestamp();
    st.write(|tx| -> Result<(CertRecord, bool)> {
        let Some(c) = tx.find_certificate(serial)? else {
            if same_serial(serial, &signer.serial) {
                return revoke_profile_signer(tx, signer.clone(), t, reason);
            }
            return Err(OpsError::UnknownSerial(serial.to_string()));
        };
        if c.revoked_at.is_some() {
            return Ok((c, false));
        }
        if c.not_after <= t {
            return Err(OpsError::RevokeExpired {
                serial: c.serial,
                not_after: super::rfc3339(c.not_after),
            });
        }
        tx.revoke_certificate(&c.serial, t, reason)?;
        let c = tx.find_certificate(&c.serial)?.ok_or(OpsError::Store(
            crate::store::StoreError::Corrupt("revoked certificate vanished"),
        ))?;
        Ok((c, true))
    })
}

/// Where the profile signer's revocation is kept (it is not an issued
/// push certificate): `<serial> <revoked_at> <reason>`.
const SIGNER_REVOKED_KEY: &str = "profile_signer.revoked";

/// The home's profile-signing certificate, as a record.
fn profile_signer(home: &Home) -> Result<CertRecord> {
    use crate::ca::authority::{read_ca_cert, PROFILE_SIGNER};
    let der = read_ca_cert(&home.ca_files(), PROFILE_SIGNER)?;
    let s = crate::x509::CertSummary::from_der(&der).map_err(crate::ca::CaError::from)?;
    Ok(CertRecord {
        kind: "profile-signing".into(),
        serial: s.serial,
        bundle_id: String::new(),
        team_id: String::new(),
        environment: "profile-signing".into(),
        subject: s.subject,
        not_before: s.not_before,
        not_after: s.not_after,
        sha256: s.sha256,
        key_type: s.public_key,
        der,
        issued_at: s.not_before,
        revoked_at: None,
        revocation_reason: None,
    })
}

/// Whether `given` (hex, colons and case as typed, leading zeros or not)
/// is `serial`.
fn same_serial(given: &str, serial: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase()
            .trim_start_matches('0')
            .to_string()
    };
    !norm(given).is_empty() && norm(given) == norm(serial)
}

/// The profile signer's revocation, if recorded: (revoked_at, reason).
fn signer_revocation(tx: &Tx<'_>, serial: &str) -> Result<Option<(i64, String)>> {
    let Some(v) = tx.setting(SIGNER_REVOKED_KEY)? else {
        return Ok(None);
    };
    let mut parts = v.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(at), Some(reason)) if s == serial => Ok(Some((
            at.parse().map_err(|_| {
                OpsError::Store(crate::store::StoreError::Corrupt(
                    "profile signer revocation",
                ))
            })?,
            reason.to_string(),
        ))),
        _ => Ok(None),
    }
}

/// Refuses to sign with the profile signer once it is revoked.
pub(crate) fn refuse_revoked_profile_signer(home: &Home) -> Result<()> {
    let signer = profile_signer(home)?;
    let mut st = open_store(home)?;
    match st.read(|tx| signer_revocation(tx, &signer.serial))? {
        Some((at, _)) => Err(OpsError::ProfileSignerRevoked {
            serial: signer.serial,
            revoked_at: super::rfc3339(at),
        }),
        None => Ok(()),
    }
}

/// Revokes the profile signer: every profile and trust store it signed is
/// refused from the next CRL on (gateways, `profile show`), and the home
/// publishes nothing until it has a new one.
fn revoke_profile_signer(
    tx: &Tx<'_>,
    mut signer: CertRecord,
    t: i64,
    reason: &str,
) -> Result<(CertRecord, bool)> {
    if let Some((at, r)) = signer_revocation(tx, &signer.serial)? {
        signer.revoked_at = Some(at);
        signer.revocation_reason = Some(r);
        return Ok((signer, false));
    }
    if signer.not_after <= t {
        return Err(OpsError::RevokeExpired {
            serial: signer.serial,
            not_after: super::rfc3339(signer.not_after),
        });
    }
    tx.set_setting(
        SIGNER_REVOKED_KEY,
        &format!("{} {t} {reason}", signer.serial),
    )?;
    signer.revoked_at = Some(t);
    signer.revocation_reason = Some(reason.to_string());
    Ok((signer, true))
}

/// Which CA a CRL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlIssuer {
    /// The issuing CA: every revoked push certificate that has not expired.
    Issuing,
    /// The root: revokes nothing (pushca never revokes its issuing CA), but
    /// verifiers that check every level of the chain (nginx) need it.
    Root,
}

impl CrlIssuer {
    /// Its name in the store and documents: `issuing` or `root`.
    pub fn name(self) -> &'static str {
        match self {
            CrlIssuer::Issuing => "issuing",
            CrlIssuer::Root => "root",
        }
    }
}

/// Signs the next CRL of `which` inside `tx`: the next CRL number,
/// this/next update from the `crl` template.
pub(crate) fn sign_next_crl(
    tx: &Tx<'_>,
    ca: &IssuingCa,
    which: CrlIssuer,
    home: &Home,
    now: time::OffsetDateTime,
) -> Result<CrlRecord> {
    let template = templates::load_crl(Some(&home.templates()))?;
    let t = now.unix_timestamp();
    let entries: Vec<CrlEntry> = match which {
        CrlIssuer::Root => Vec::new(),
        CrlIssuer::Issuing => {
            let mut entries: Vec<CrlEntry> = tx
                .revoked_unexpired(t)?
                .into_iter()
                .map(|c| CrlEntry {
                    serial: c.serial,
                    revoked_at: c.revoked_at.unwrap_or(t),
                    reason: c.revocation_reason,
                })
                .collect();
            // The profile signer, once revoked, until it expires.
            let signer = profile_signer(home)?;
            if signer.not_after > t {
                if let Some((at, reason)) = signer_revocation(tx, &signer.serial)? {
                    entries.push(CrlEntry {
                        serial: signer.serial,
                        revoked_at: at,
                        reason: Some(reason),
                    });
                }
            }
            entries
        }
    };
    let number = tx.latest_crl(which.name())?.map_or(1, |c| c.number + 1);
    let next = now + time::Duration::days(i64::from(template.next_update_days));
    let der = crl::sign_crl(ca, &entries, number as u64, now, next)?;
    let rec = CrlRecord {
        issuer: which.name().to_string(),
        number,
        this_update: t,
        next_update: next.unix_timestamp(),
        revoked: entries.len() as i64,
        der,
    };
    tx.insert_crl(&rec)?;
    Ok(rec)
}

/// Signs and records a new CRL.
pub fn make_crl(home: &Home, pass: &Secret) -> Result<CrlRecord> {
    make_crl_to(home, pass, None).map(|s| s.record)
}

/// `crl`: the CRL signed, and where it went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrlSigned {
    /// Its CRL number.
    pub number: i64,
    /// When it was signed (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub this_update: i64,
    /// When it must be replaced (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    pub next_update: i64,
    /// How many certificates it lists.
    pub revoked: i64,
    /// SHA-256 of the DER.
    pub sha256: String,
    /// The file written (null: none, the CRL is in `pem`).
    pub out: Option<PathBuf>,
    /// The CRL as PEM, when no file was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    /// The bytes of an output to [`Sink::Return`] (the CLI's `--out -`).
    #[serde(skip)]
    pub returned: Option<Returned>,
    /// The store's record of it, with the DER (not in the document).
    #[serde(skip)]
    pub record: CrlRecord,
}

/// Where `pushca crl --out` writes the CRL.
#[derive(Debug, Clone)]
pub struct CrlOutput<'a> {
    /// A file, or the bytes returned in [`CrlSigned::returned`].
    pub sink: Sink,
    /// DER instead of PEM.
    pub der: bool,
    /// The output rules of the file.
    pub rules: OutputRules<'a>,
}

/// The CRL number of the issuing CA's CRL in `path`, if it holds one (PEM
/// or DER) of the same issuer as `ours`.
fn crl_number_in(path: &Path, ours: &[u8]) -> Option<i64> {
    let bytes = crate::fsutil::read_input(path).ok()?;
    let der = match crate::pem::blocks(&bytes) {
        Ok(blocks) if !blocks.is_empty() => blocks.into_iter().next()?.der.to_vec(),
        _ => bytes,
    };
    let (_, found) = x509_parser::parse_x509_crl(&der).ok()?;
    let (_, ours) = x509_parser::parse_x509_crl(ours).ok()?;
    if found.issuer().as_raw() != ours.issuer().as_raw() {
        return None;
    }
    found.crl_number()?.to_string().parse().ok()
}

/// [`make_crl`], then writes it to `out` (if any) before another publisher
/// of the home may sign: concurrent runs write in CRL-number order, and a
/// file that holds a newer CRL of this CA is never replaced by an older one.
pub fn make_crl_to(home: &Home, pass: &Secret, out: Option<&CrlOutput<'_>>) -> Result<CrlSigned> {
    let ca = IssuingCa::unlock_issuing(&home.ca_files(), pass)?;
    make_crl_signed(home, &ca, out)
}

/// [`make_crl_to`] with the CA unlocked once (`pushca serve`).
pub fn make_crl_unlocked(
    home: &Home,
    ca: &super::UnlockedCa,
    out: Option<&CrlOutput<'_>>,
) -> Result<CrlSigned> {
    make_crl_signed(home, &ca.issuing, out)
}

fn make_crl_signed(home: &Home, ca: &IssuingCa, out: Option<&CrlOutput<'_>>) -> Result<CrlSigned> {
    // A broken template fails before anything is recorded.
    templates::load_crl(Some(&home.templates()))?;
    let _lock = match out.and_then(|o| o.sink.path()) {
        Some(_) => Some(super::PublishLock::acquire(home)?),
        None => None,
    };
    let mut st = open_store(home)?;
    let t = now();
    let rec = st.write(|tx| sign_next_crl(tx, ca, CrlIssuer::Issuing, home, t))?;
    write_crl(rec, out)
}

/// Client mode: a CRL signed by the service (DER), written to `out` (if
/// any) as [`make_crl_to`] writes its own: never over a newer CRL of the
/// same CA.
pub fn write_fetched_crl(der: Vec<u8>, out: Option<&CrlOutput<'_>>) -> Result<CrlSigned> {
    let bad = |e: String| {
        OpsError::from(crate::ca::CaError::NotCertificate(
            format!("not a CRL: {e}").into(),
        ))
    };
    let (number, this_update, next_update, revoked) = {
        let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|e| bad(e.to_string()))?;
        let number = crl
            .crl_number()
            .and_then(|n| n.to_string().parse::<i64>().ok())
            .ok_or_else(|| bad("no CRL number".into()))?;
        (
            number,
            crl.last_update().timestamp(),
            crl.next_update().map(|t| t.timestamp()).unwrap_or_default(),
            crl.iter_revoked_certificates().count() as i64,
        )
    };
    let rec = CrlRecord {
        issuer: CrlIssuer::Issuing.name().to_string(),
        number,
        this_update,
        next_update,
        revoked,
        der,
    };
    write_crl(rec, out)
}

/// Writes a signed CRL to `out` (if any) and makes its document.
fn write_crl(rec: CrlRecord, out: Option<&CrlOutput<'_>>) -> Result<CrlSigned> {
    let mut returned = None;
    if let Some(o) = out {
        if let Some(path) = o.sink.path() {
            if let Some(found) = crl_number_in(path, &rec.der) {
                if found >= rec.number {
                    return Err(OpsError::OlderCrl {
                        out: path.to_path_buf(),
                        found,
                        ours: rec.number,
                    });
                }
            }
        }
        let bytes = if o.der {
            rec.der.clone()
        } else {
            crate::pem::encode("X509 CRL", &rec.der).into_bytes()
        };
        returned =
            crate::fsutil::write_sink(&o.sink, &bytes, crate::fsutil::MODE_PUBLIC, &o.rules)?;
    }
    Ok(CrlSigned {
        number: rec.number,
        this_update: rec.this_update,
        next_update: rec.next_update,
        revoked: rec.revoked,
        sha256: crate::x509::sha256_hex(&rec.der),
        out: out.map(|o| o.sink.name().to_path_buf()),
        returned,
        pem: out
            .is_none()
            .then(|| crate::pem::encode("X509 CRL", &rec.der)),
        record: rec,
    })
}

/// The newest recorded CRL, if any.
pub fn latest_crl(home: &Home) -> Result<Option<CrlRecord>> {
    let mut st = open_store(home)?;
    Ok(st.read(|tx| tx.latest_crl(CrlIssuer::Issuing.name()))?)
}
