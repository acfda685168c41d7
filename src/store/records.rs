//! Typed rows and the queries over them: methods of [`Tx`], so they run inside
//! whatever transaction the caller opened with `Store::write` or `Store::read`.

use super::db::{self, params, OptionalExtension, Row};

use super::{Result, StoreError, Tx};

/// A team (the Apple developer account an App ID belongs to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    /// The 10-character Team ID.
    pub team_id: String,
    /// The team name.
    pub name: String,
    pub(crate) is_default: bool,
    /// Unix seconds.
    pub(crate) created_at: i64,
}

/// A registered App ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    /// The bundle ID (may be a wildcard).
    pub bundle_id: String,
    /// Its descriptive name.
    pub name: String,
    pub(crate) team_id: String,
    pub(crate) push: bool,
    pub(crate) enabled: bool,
    /// Unix seconds.
    pub(crate) created_at: i64,
}

/// A push certificate the CA issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// [`CertRecord::PUSH`], [`CertRecord::SERVER`] or [`CertRecord::DEVICE`].
    pub kind: String,
    /// The App ID of a push certificate; empty for the other kinds.
    pub bundle_id: String,
    /// The App ID's team.
    pub team_id: String,
    /// `development`, `production` or `universal`.
    pub environment: String,
    /// Subject DN, one line.
    pub subject: String,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// The certificate's key as recorded (`EC P-256`, `RSA-2048`, ...;
    /// `KeyAlgorithm::id_of` gives the `--key-type` name).
    pub key_type: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// When it was recorded, unix seconds.
    pub issued_at: i64,
    /// When it was revoked, unix seconds (`None`: not revoked).
    pub revoked_at: Option<i64>,
    /// The RFC 5280 reason name given at revocation.
    pub revocation_reason: Option<String>,
}

impl CertRecord {
    /// A push certificate (of an App ID and environment).
    pub const PUSH: &'static str = "push";
    /// A TLS server certificate (`server-cert`): no App ID, no environment.
    pub const SERVER: &'static str = "server";
    /// A device's TLS client identity (`device identity`): no App ID, no
    /// environment; `team_id` is the device's team.
    pub const DEVICE: &'static str = "device";
}

/// Which certificates [`Tx::list_certificates`] returns.
#[derive(Debug, Default, Clone)]
pub(crate) struct CertFilter<'a> {
    pub(crate) bundle_id: Option<&'a str>,
    pub(crate) environment: Option<&'a str>,
    /// Only certificates whose `not_after` is before this instant (unix seconds).
    pub(crate) expiring_before: Option<i64>,
}

/// Whether `e` is the unique constraint `name` failing (PostgreSQL's name
/// of it: `<table>_pkey`, `<table>_<column>_key`), not another constraint
/// (a reference, a check).
fn violates(e: &db::Error, name: &str) -> bool {
    e.unique_violation().is_some_and(|c| c == name)
}

fn team_row(r: &Row<'_>) -> db::Result<TeamRecord> {
    Ok(TeamRecord {
        team_id: r.get(0)?,
        name: r.get(1)?,
        is_default: r.get(2)?,
        created_at: r.get(3)?,
    })
}

const TEAM_COLS: &str = "team_id, name, is_default, created_at";

fn app_row(r: &Row<'_>) -> db::Result<AppRecord> {
    Ok(AppRecord {
        bundle_id: r.get(0)?,
        name: r.get(1)?,
        team_id: r.get(2)?,
        push: r.get(3)?,
        enabled: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const APP_COLS: &str = "bundle_id, name, team_id, push, enabled, created_at";

fn cert_row(r: &Row<'_>) -> db::Result<CertRecord> {
    Ok(CertRecord {
        serial: r.get(0)?,
        bundle_id: r.get(1)?,
        team_id: r.get(2)?,
        environment: r.get(3)?,
        subject: r.get(4)?,
        not_before: r.get(5)?,
        not_after: r.get(6)?,
        sha256: r.get(7)?,
        key_type: r.get(8)?,
        der: r.get(9)?,
        issued_at: r.get(10)?,
        revoked_at: r.get(11)?,
        revocation_reason: r.get(12)?,
        kind: r.get(13)?,
    })
}

/// What [`cert_row`] reads: a certificate without an App ID reads as an
/// empty `bundle_id`.
const CERT_COLS: &str = "serial, COALESCE(bundle_id, ''), team_id, environment, subject, \
                         not_before, not_after, sha256, key_type, der, issued_at, revoked_at, \
                         revocation_reason, kind";

impl Tx<'_> {
    pub(crate) fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub(crate) fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO settings(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub(crate) fn insert_team(&self, t: &TeamRecord) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO teams(team_id, name, is_default, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![t.team_id, t.name, t.is_default, t.created_at],
            )
            .map_err(|e| {
                if violates(&e, "teams_pkey") {
                    StoreError::DuplicateTeam(t.team_id.clone())
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    pub(crate) fn list_teams(&self) -> Result<Vec<TeamRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {TEAM_COLS} FROM teams ORDER BY is_default DESC, created_at, team_id"
        ))?;
        let rows = st
            .query_map([], team_row)?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub(crate) fn team(&self, team_id: &str) -> Result<Option<TeamRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {TEAM_COLS} FROM teams WHERE team_id = ?1"),
                [team_id],
                team_row,
            )
            .optional()?)
    }

    pub(crate) fn default_team(&self) -> Result<TeamRecord> {
        self.conn()
            .query_row(
                &format!("SELECT {TEAM_COLS} FROM teams WHERE is_default = 1"),
                [],
                team_row,
            )
            .optional()?
            .ok_or(StoreError::Corrupt("no default team"))
    }

    pub(crate) fn insert_app(&self, a: &AppRecord) -> Result<()> {
        if let Some(existing) = self.app(&a.bundle_id)? {
            return Err(StoreError::DuplicateApp {
                bundle_id: existing.bundle_id,
                team_id: existing.team_id,
            });
        }
        self.conn().execute(
            "INSERT INTO apps(bundle_id, name, team_id, push, enabled, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                a.bundle_id,
                a.name,
                a.team_id,
                a.push,
                a.enabled,
                a.created_at
            ],
        )?;
        Ok(())
    }

    /// Looks an App ID up by bundle ID (case-insensitively: bundle IDs that
    /// differ only in case are one identity).
    pub(crate) fn app(&self, bundle_id: &str) -> Result<Option<AppRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {APP_COLS} FROM apps WHERE bundle_id = ?1"),
                [bundle_id],
                app_row,
            )
            .optional()?)
    }

    pub(crate) fn list_apps(&self, team_id: Option<&str>) -> Result<Vec<AppRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {APP_COLS} FROM apps WHERE (CAST(?1 AS TEXT) IS NULL OR team_id = ?1) ORDER BY bundle_id"
        ))?;
        let rows = st
            .query_map([team_id], app_row)?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sets the push capability and the name; returns whether anything changed.
    pub(crate) fn update_app(&self, bundle_id: &str, push: bool, name: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE apps SET push = ?2, name = ?3 WHERE bundle_id = ?1 AND (push != ?2 OR name != ?3)",
            params![bundle_id, push, name],
        )?;
        Ok(n > 0)
    }

    /// Sets the enabled flag; returns whether it changed.
    pub(crate) fn set_app_enabled(&self, bundle_id: &str, enabled: bool) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE apps SET enabled = ?2 WHERE bundle_id = ?1 AND enabled != ?2",
            params![bundle_id, enabled],
        )?;
        Ok(n > 0)
    }

    /// Records an issued certificate; a serial already in the store conflicts.
    pub fn insert_certificate(&self, r: &CertRecord) -> Result<()> {
        // An empty bundle_id (a certificate of another kind) is stored NULL.
        let mut st = self.conn().prepare_cached(
            "INSERT INTO certificates(serial, bundle_id, team_id, environment, subject, \
             not_before, not_after, sha256, key_type, der, issued_at, revoked_at, \
             revocation_reason, kind) \
             VALUES (?1,NULLIF(?2,''),?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
        )?;
        st.execute(params![
            r.serial,
            r.bundle_id,
            r.team_id,
            r.environment,
            r.subject,
            r.not_before,
            r.not_after,
            r.sha256,
            r.key_type,
            r.der,
            r.issued_at,
            r.revoked_at,
            r.revocation_reason,
            r.kind
        ])
        .map_err(|e| {
            if violates(&e, "certificates_pkey") || violates(&e, "certificates_sha256_key") {
                StoreError::DuplicateSerial(r.serial.clone())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Certificates matching the filter, soonest expiry first.
    pub(crate) fn list_certificates(&self, f: &CertFilter<'_>) -> Result<Vec<CertRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {CERT_COLS} FROM certificates
             WHERE (CAST(?1 AS TEXT) IS NULL OR bundle_id = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR environment = ?2)
               AND (CAST(?3 AS BIGINT) IS NULL OR not_after < ?3)
             ORDER BY not_after, serial"
        ))?;
        let rows = st
            .query_map(
                params![f.bundle_id, f.environment, f.expiring_before],
                cert_row,
            )?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Looks up by full serial (hex, case-insensitive, colons allowed, leading
    /// zeros ignored) or a unique prefix of at least 8 hex digits.
    pub(crate) fn find_certificate(&self, serial: &str) -> Result<Option<CertRecord>> {
        let norm: String = serial
            .chars()
            .filter(|ch| *ch != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if norm.is_empty() || !norm.chars().all(|ch| ch.is_ascii_hexdigit()) {
            return Err(StoreError::NotHexSerial(serial.to_string()));
        }
        let norm = norm.trim_start_matches('0').to_string();
        let mut st = self.conn().prepare(&format!(
            "SELECT {CERT_COLS} FROM certificates
             WHERE ltrim(serial, '0') = ?1 OR (length(?1) >= 8 AND ltrim(serial, '0') LIKE ?1 || '%')
             ORDER BY ltrim(serial, '0') = ?1 DESC LIMIT 2"
        ))?;
        let rows = st
            .query_map([&norm], cert_row)?
            .collect::<db::Result<Vec<_>>>()?;
        let exact = rows
            .first()
            .is_some_and(|r| r.serial.trim_start_matches('0') == norm);
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.into_iter().next()),
            _ if exact => Ok(rows.into_iter().next()),
            _ => Err(StoreError::AmbiguousSerial(serial.to_string())),
        }
    }
}

/// A registered device of a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub(crate) team_id: String,
    /// Normalised UDID (see `portal::devices::normalize_udid`).
    pub(crate) udid: String,
    pub(crate) name: String,
    pub(crate) enabled: bool,
    /// Unix seconds.
    pub(crate) created_at: i64,
}

/// A provisioning profile pushca signed, with what it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    /// Uppercase UUID, as Apple writes it.
    pub uuid: String,
    /// The profile name.
    pub name: String,
    /// The App ID it provisions.
    pub bundle_id: String,
    /// The App ID's team.
    pub team_id: String,
    /// `development` or `production` (the `aps-environment`).
    pub environment: String,
    /// How the devices were chosen: `listed`, `team` (every enabled device of
    /// the team when signed) or `all` (`ProvisionsAllDevices`).
    pub devices_mode: String,
    /// How the certificates were chosen: `default` (every valid, unrevoked
    /// certificate of the App ID covering the environment) or `listed`.
    pub certs_mode: String,
    /// Lifetime asked for with `--days` (None: the template's).
    pub lifetime_days: Option<i64>,
    /// When it was signed, unix seconds.
    pub created_at: i64,
    /// When it expires, unix seconds.
    pub expires_at: i64,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// The signed profile (CMS SignedData, DER).
    pub der: Vec<u8>,
    /// The UUID of the profile that replaced it, if one did.
    pub superseded_by: Option<String>,
    /// When it was replaced, unix seconds.
    pub superseded_at: Option<i64>,
    /// When `profile withdraw` took it out (no replacement): never current
    /// again.
    pub withdrawn_at: Option<i64>,
    /// Provisioned UDIDs (empty for `all`).
    pub devices: Vec<String>,
    /// Serials of the authorised push certificates.
    pub cert_serials: Vec<String>,
}

/// Which profiles [`Tx::list_profiles`] returns.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProfileFilter<'a> {
    pub(crate) bundle_id: Option<&'a str>,
    pub(crate) environment: Option<&'a str>,
    /// Superseded and withdrawn profiles too (by default only current ones).
    pub(crate) include_superseded: bool,
    /// Only profiles whose `expires_at` is before this instant (unix seconds).
    pub(crate) expiring_before: Option<i64>,
}

fn device_row(r: &Row<'_>) -> db::Result<DeviceRecord> {
    Ok(DeviceRecord {
        team_id: r.get(0)?,
        udid: r.get(1)?,
        name: r.get(2)?,
        enabled: r.get(3)?,
        created_at: r.get(4)?,
    })
}

const DEVICE_COLS: &str = "team_id, udid, name, enabled, created_at";

fn profile_row(r: &Row<'_>) -> db::Result<ProfileRecord> {
    Ok(ProfileRecord {
        uuid: r.get(0)?,
        name: r.get(1)?,
        bundle_id: r.get(2)?,
        team_id: r.get(3)?,
        environment: r.get(4)?,
        devices_mode: r.get(5)?,
        certs_mode: r.get(6)?,
        lifetime_days: r.get(7)?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        sha256: r.get(10)?,
        der: r.get(11)?,
        superseded_by: r.get(12)?,
        superseded_at: r.get(13)?,
        withdrawn_at: r.get(14)?,
        devices: Vec::new(),
        cert_serials: Vec::new(),
    })
}

const PROFILE_COLS: &str =
    "uuid, name, bundle_id, team_id, environment, devices_mode, certs_mode, \
                            lifetime_days, created_at, expires_at, sha256, der, superseded_by, \
                            superseded_at, withdrawn_at";

impl Tx<'_> {
    pub(crate) fn insert_device(&self, d: &DeviceRecord) -> Result<()> {
        self.conn()
            .execute(
                &format!("INSERT INTO devices({DEVICE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![d.team_id, d.udid, d.name, d.enabled, d.created_at],
            )
            .map_err(|e| {
                if violates(&e, "devices_pkey") {
                    StoreError::DuplicateDevice {
                        udid: d.udid.clone(),
                        team_id: d.team_id.clone(),
                    }
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    pub(crate) fn device(&self, team_id: &str, udid: &str) -> Result<Option<DeviceRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE team_id = ?1 AND udid = ?2"),
                [team_id, udid],
                device_row,
            )
            .optional()?)
    }

    /// Every team's registration of one UDID.
    pub(crate) fn devices_with_udid(&self, udid: &str) -> Result<Vec<DeviceRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE udid = ?1 ORDER BY team_id"
        ))?;
        let rows = st
            .query_map([udid], device_row)?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Devices, of one team or all, optionally only the enabled ones, by team
    /// then UDID.
    pub(crate) fn list_devices(
        &self,
        team_id: Option<&str>,
        enabled_only: bool,
    ) -> Result<Vec<DeviceRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {DEVICE_COLS} FROM devices
             WHERE (CAST(?1 AS TEXT) IS NULL OR team_id = ?1) AND (?2 = 0 OR enabled = 1)
             ORDER BY team_id, udid"
        ))?;
        let rows = st
            .query_map(params![team_id, enabled_only], device_row)?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sets a device's enabled flag; returns whether it changed.
    pub fn set_device_enabled(&self, team_id: &str, udid: &str, enabled: bool) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE devices SET enabled = ?3 WHERE team_id = ?1 AND udid = ?2 AND enabled != ?3",
            params![team_id, udid, enabled],
        )?;
        Ok(n > 0)
    }

    /// A certificate by its exact stored serial (lowercase hex), by primary key.
    pub(crate) fn certificate(&self, serial: &str) -> Result<Option<CertRecord>> {
        let mut st = self.conn().prepare_cached(&format!(
            "SELECT {CERT_COLS} FROM certificates WHERE serial = ?1"
        ))?;
        Ok(st.query_row([serial], cert_row).optional()?)
    }

    pub(crate) fn certificate_by_sha256(&self, sha256: &str) -> Result<Option<CertRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {CERT_COLS} FROM certificates WHERE sha256 = ?1"),
                [sha256.to_ascii_lowercase()],
                cert_row,
            )
            .optional()?)
    }

    /// Records a profile with its devices and certificates.
    pub fn insert_profile(&self, p: &ProfileRecord) -> Result<()> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO profiles({PROFILE_COLS})
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"
                ),
                params![
                    p.uuid,
                    p.name,
                    p.bundle_id,
                    p.team_id,
                    p.environment,
                    p.devices_mode,
                    p.certs_mode,
                    p.lifetime_days,
                    p.created_at,
                    p.expires_at,
                    p.sha256,
                    p.der,
                    p.superseded_by,
                    p.superseded_at,
                    p.withdrawn_at
                ],
            )
            .map_err(|e| {
                if violates(&e, "profiles_pkey") {
                    StoreError::DuplicateProfile(p.uuid.clone())
                } else {
                    e.into()
                }
            })?;
        let mut dev = self
            .conn()
            .prepare_cached("INSERT INTO profile_devices(profile_uuid, udid) VALUES (?1, ?2)")?;
        for u in &p.devices {
            dev.execute(params![p.uuid, u])?;
        }
        let mut cert = self.conn().prepare_cached(
            "INSERT INTO profile_certificates(profile_uuid, serial) VALUES (?1, ?2)",
        )?;
        for s in &p.cert_serials {
            cert.execute(params![p.uuid, s])?;
        }
        Ok(())
    }

    fn fill_profile(&self, mut p: ProfileRecord) -> Result<ProfileRecord> {
        let mut st = self.conn().prepare_cached(
            "SELECT udid FROM profile_devices WHERE profile_uuid = ?1 ORDER BY udid",
        )?;
        p.devices = st
            .query_map([&p.uuid], |r| r.get(0))?
            .collect::<db::Result<Vec<String>>>()?;
        let mut st = self.conn().prepare_cached(
            "SELECT serial FROM profile_certificates WHERE profile_uuid = ?1 ORDER BY serial",
        )?;
        p.cert_serials = st
            .query_map([&p.uuid], |r| r.get(0))?
            .collect::<db::Result<Vec<String>>>()?;
        Ok(p)
    }

    /// A profile by UUID (case-insensitive), with its devices and certificates.
    pub(crate) fn profile(&self, uuid: &str) -> Result<Option<ProfileRecord>> {
        let p = self
            .conn()
            .query_row(
                &format!("SELECT {PROFILE_COLS} FROM profiles WHERE uuid = ?1"),
                [uuid.to_ascii_uppercase()],
                profile_row,
            )
            .optional()?;
        p.map(|p| self.fill_profile(p)).transpose()
    }

    /// Profiles matching the filter, soonest expiry first, with their devices
    /// and certificates.
    pub(crate) fn list_profiles(&self, f: &ProfileFilter<'_>) -> Result<Vec<ProfileRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {PROFILE_COLS} FROM profiles
             WHERE (CAST(?1 AS TEXT) IS NULL OR bundle_id = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR environment = ?2)
               AND (?3 = 1 OR (superseded_by IS NULL AND withdrawn_at IS NULL))
               AND (CAST(?4 AS BIGINT) IS NULL OR expires_at < ?4)
             ORDER BY expires_at, uuid"
        ))?;
        let rows = st
            .query_map(
                params![
                    f.bundle_id,
                    f.environment,
                    f.include_superseded,
                    f.expiring_before
                ],
                profile_row,
            )?
            .collect::<db::Result<Vec<_>>>()?;
        rows.into_iter().map(|p| self.fill_profile(p)).collect()
    }

    /// Marks `old` superseded by `new`; returns whether it was current.
    pub(crate) fn supersede_profile(&self, old: &str, new: &str, at: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE profiles SET superseded_by = ?2, superseded_at = ?3
             WHERE uuid = ?1 AND superseded_by IS NULL AND withdrawn_at IS NULL",
            params![old, new, at],
        )?;
        Ok(n > 0)
    }

    /// Marks a current profile withdrawn (no replacement); returns whether it
    /// was current.
    pub(crate) fn withdraw_profile(&self, uuid: &str, at: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE profiles SET withdrawn_at = ?2
             WHERE uuid = ?1 AND superseded_by IS NULL AND withdrawn_at IS NULL",
            params![uuid, at],
        )?;
        Ok(n > 0)
    }
}

/// A CRL the issuing CA signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRecord {
    /// Which CA signed it: `issuing` or `root`.
    pub(crate) issuer: String,
    pub(crate) number: i64,
    pub(crate) this_update: i64,
    pub(crate) next_update: i64,
    /// How many certificates it lists.
    pub(crate) revoked: i64,
    pub(crate) der: Vec<u8>,
}

impl Tx<'_> {
    /// Marks a certificate revoked; returns false when it already was (the
    /// first revocation's time and reason stay).
    pub(crate) fn revoke_certificate(&self, serial: &str, at: i64, reason: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3
             WHERE serial = ?1 AND revoked_at IS NULL",
            params![serial, at, reason],
        )?;
        Ok(n > 0)
    }

    /// Revoked certificates that have not expired at `now`, by serial.
    pub(crate) fn revoked_unexpired(&self, now: i64) -> Result<Vec<CertRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {CERT_COLS} FROM certificates
             WHERE revoked_at IS NOT NULL AND not_after > ?1 ORDER BY serial"
        ))?;
        let rows = st
            .query_map([now], cert_row)?
            .collect::<db::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The newest CRL of `issuer` (`issuing` or `root`).
    pub(crate) fn latest_crl(&self, issuer: &str) -> Result<Option<CrlRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT issuer, number, this_update, next_update, revoked, der FROM crls
                 WHERE issuer = ?1 ORDER BY number DESC LIMIT 1",
                [issuer],
                |r| {
                    Ok(CrlRecord {
                        issuer: r.get(0)?,
                        number: r.get(1)?,
                        this_update: r.get(2)?,
                        next_update: r.get(3)?,
                        revoked: r.get(4)?,
                        der: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    pub(crate) fn insert_crl(&self, c: &CrlRecord) -> Result<()> {
        self.conn().execute(
            "INSERT INTO crls(issuer, number, this_update, next_update, revoked, der)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                c.issuer,
                c.number,
                c.this_update,
                c.next_update,
                c.revoked,
                c.der
            ],
        )?;
        Ok(())
    }
}

/// An APNs auth key (token-based provider authentication): its public half,
/// what it may sign tokens for, its state. The private key is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The 10-character Key ID (`[A-Z0-9]`).
    pub key_id: String,
    /// The team whose ID a token's `iss` must be.
    pub team_id: String,
    /// Its descriptive name.
    pub name: String,
    /// `development` or `production`.
    pub environment: String,
    /// [`KeyRecord::TEAM`] or [`KeyRecord::TOPICS`].
    pub scope: String,
    /// The public key: DER SubjectPublicKeyInfo of a P-256 key.
    pub public_key: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// When it was revoked, unix seconds (`None`: not revoked).
    pub revoked_at: Option<i64>,
    /// The bundle IDs of a topic-specific key, sorted (empty for a
    /// team-scoped one).
    pub apps: Vec<String>,
}

impl KeyRecord {
    /// A team-scoped key: every App ID of the team with push.
    pub const TEAM: &'static str = "team";
    /// A topic-specific key: only the App IDs of `apps`.
    pub const TOPICS: &'static str = "topics";
}

fn key_row(r: &Row<'_>) -> db::Result<KeyRecord> {
    Ok(KeyRecord {
        key_id: r.get(0)?,
        team_id: r.get(1)?,
        name: r.get(2)?,
        environment: r.get(3)?,
        scope: r.get(4)?,
        public_key: r.get(5)?,
        created_at: r.get(6)?,
        revoked_at: r.get(7)?,
        apps: Vec::new(),
    })
}

const KEY_COLS: &str =
    "key_id, team_id, name, environment, scope, public_key, created_at, revoked_at";

impl Tx<'_> {
    /// Records an auth key and its App IDs; a Key ID already in the store
    /// is [`StoreError::DuplicateKeyId`].
    pub(crate) fn insert_key(&self, k: &KeyRecord) -> Result<()> {
        self.conn()
            .execute(
                &format!("INSERT INTO auth_keys({KEY_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"),
                params![
                    k.key_id,
                    k.team_id,
                    k.name,
                    k.environment,
                    k.scope,
                    k.public_key,
                    k.created_at,
                    k.revoked_at
                ],
            )
            .map_err(|e| {
                if violates(&e, "auth_keys_pkey") {
                    StoreError::DuplicateKeyId(k.key_id.clone())
                } else {
                    e.into()
                }
            })?;
        let mut st = self
            .conn()
            .prepare_cached("INSERT INTO auth_key_apps(key_id, bundle_id) VALUES (?1, ?2)")?;
        for b in &k.apps {
            st.execute(params![k.key_id, b])?;
        }
        Ok(())
    }

    fn fill_key(&self, mut k: KeyRecord) -> Result<KeyRecord> {
        let mut st = self.conn().prepare_cached(
            "SELECT bundle_id FROM auth_key_apps WHERE key_id = ?1 ORDER BY bundle_id",
        )?;
        k.apps = st
            .query_map([&k.key_id], |r| r.get(0))?
            .collect::<db::Result<Vec<String>>>()?;
        Ok(k)
    }

    /// An auth key by its Key ID (exact), with its App IDs.
    pub(crate) fn key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        let k = self
            .conn()
            .query_row(
                &format!("SELECT {KEY_COLS} FROM auth_keys WHERE key_id = ?1"),
                [key_id],
                key_row,
            )
            .optional()?;
        k.map(|k| self.fill_key(k)).transpose()
    }

    /// The auth keys, of one team or all, revoked ones included, by team,
    /// creation time and Key ID, each with its App IDs.
    pub(crate) fn list_keys(&self, team_id: Option<&str>) -> Result<Vec<KeyRecord>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {KEY_COLS} FROM auth_keys WHERE (CAST(?1 AS TEXT) IS NULL OR team_id = ?1)
             ORDER BY team_id, created_at, key_id"
        ))?;
        let rows = st
            .query_map([team_id], key_row)?
            .collect::<db::Result<Vec<_>>>()?;
        rows.into_iter().map(|k| self.fill_key(k)).collect()
    }

    /// How many keys of `scope` the team has for `environment` that are
    /// not revoked.
    pub(crate) fn count_active_keys(
        &self,
        team_id: &str,
        environment: &str,
        scope: &str,
    ) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM auth_keys
             WHERE team_id = ?1 AND environment = ?2 AND scope = ?3 AND revoked_at IS NULL",
            params![team_id, environment, scope],
            |r| r.get(0),
        )?)
    }

    /// Marks a key revoked; returns false when it already was (the first
    /// revocation's time stays).
    pub(crate) fn revoke_key(&self, key_id: &str, at: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE auth_keys SET revoked_at = ?2 WHERE key_id = ?1 AND revoked_at IS NULL",
            params![key_id, at],
        )?;
        Ok(n > 0)
    }
}
