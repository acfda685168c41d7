//! Devices: UDIDs in Apple's two forms, registered per team.
//!
//! - the classic form: 40 hexadecimal digits (a SHA-1), written lowercase;
//! - the newer form (iPhone XS and later, Apple silicon): 8 hex digits, a
//!   dash, 16 hex digits (`00008030-001A0C3E0E68802E`), written uppercase.
//!
//! UDIDs are normalised to those cases, so the same device typed in another
//! case is one device.

use super::{resolve_team, PortalError, Result};
use crate::store::{DeviceRecord, Tx};

/// Longest device name accepted (Apple's portal allows 50; Xcode's names are longer).
pub(crate) const MAX_DEVICE_NAME: usize = 100;

/// Checks a UDID and returns its normalised form, or says what is wrong.
pub fn normalize_udid(udid: &str) -> Result<String> {
    let bad = |reason: String| PortalError::InvalidUdid {
        udid: udid.to_string(),
        reason,
    };
    let u = udid.trim();
    let first_non_hex = |s: &str, offset: usize| {
        s.char_indices()
            .find(|(_, c)| !c.is_ascii_hexdigit())
            .map(|(i, c)| (i + offset, c))
    };
    if let Some((a, b)) = u.split_once('-') {
        if a.len() != 8 || b.len() != 16 {
            return Err(bad(format!(
                "expected 8 hex digits, a dash and 16 hex digits \
                 (like 00008030-001A0C3E0E68802E), got {}-{} characters",
                a.chars().count(),
                b.chars().count()
            )));
        }
        if let Some((i, c)) = first_non_hex(a, 0).or_else(|| first_non_hex(b, 9)) {
            return Err(bad(format!(
                "character '{}' at position {} is not a hex digit",
                c.escape_default(),
                i + 1
            )));
        }
        return Ok(u.to_ascii_uppercase());
    }
    if let Some((i, c)) = first_non_hex(u, 0) {
        return Err(bad(format!(
            "character '{}' at position {} is not a hex digit",
            c.escape_default(),
            i + 1
        )));
    }
    if u.len() != 40 {
        return Err(bad(format!(
            "expected 40 hex digits, or 8 hex digits, a dash and 16 hex digits; got {} digits",
            u.len()
        )));
    }
    Ok(u.to_ascii_lowercase())
}

pub(crate) fn validate_device_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(PortalError::InvalidDeviceName("it is empty".into()));
    }
    if n.chars().count() > MAX_DEVICE_NAME {
        return Err(PortalError::InvalidDeviceName(format!(
            "it is longer than {MAX_DEVICE_NAME} characters"
        )));
    }
    if n.chars().any(char::is_control) {
        return Err(PortalError::InvalidDeviceName(
            "it contains control characters".into(),
        ));
    }
    Ok(n.to_string())
}

/// Registers a device for a team (the default team when `None`). An
/// identical re-run returns the existing record with `false`; the same UDID
/// with another name conflicts and says so. A disabled device stays disabled
/// (enable it explicitly).
pub fn ensure_device(
    c: &Tx<'_>,
    udid: &str,
    name: &str,
    team_id: Option<&str>,
    now: i64,
) -> Result<(DeviceRecord, bool)> {
    let udid = normalize_udid(udid)?;
    let name = validate_device_name(name)?;
    let team = resolve_team(c, team_id)?;
    if let Some(existing) = c.device(&team.team_id, &udid)? {
        if existing.name == name {
            return Ok((existing, false));
        }
        return Err(PortalError::DeviceConflict {
            udid,
            team_id: team.team_id,
            existing: existing.name,
        });
    }
    let rec = DeviceRecord {
        team_id: team.team_id,
        udid,
        name,
        enabled: true,
        created_at: now,
    };
    c.insert_device(&rec)?;
    Ok((rec, true))
}

/// Finds a device by UDID: in the given team, or in the only team that has
/// it registered.
pub(crate) fn find_device(c: &Tx<'_>, udid: &str, team_id: Option<&str>) -> Result<DeviceRecord> {
    let udid = normalize_udid(udid)?;
    if let Some(t) = team_id {
        let team = resolve_team(c, Some(t))?;
        return c
            .device(&team.team_id, &udid)?
            .ok_or(PortalError::UnknownDevice {
                udid,
                team_id: Some(team.team_id),
            });
    }
    let mut found = c.devices_with_udid(&udid)?;
    match found.len() {
        0 => Err(PortalError::UnknownDevice {
            udid,
            team_id: None,
        }),
        1 => Ok(found.remove(0)),
        _ => Err(PortalError::DeviceInSeveralTeams {
            udid,
            teams: found.into_iter().map(|d| d.team_id).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udid_forms() {
        let classic = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678";
        assert_eq!(
            normalize_udid(classic).unwrap(),
            classic.to_ascii_lowercase()
        );
        assert_eq!(
            normalize_udid("00008030-001a0c3e0e68802e").unwrap(),
            "00008030-001A0C3E0E68802E"
        );
        assert_eq!(
            normalize_udid(" 00008030-001A0C3E0E68802E\n").unwrap(),
            "00008030-001A0C3E0E68802E"
        );
        for (bad, why) in [
            ("", "got 0 digits"),
            ("abc", "got 3 digits"),
            (&"a".repeat(41), "got 41 digits"),
            (
                "g1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
                "'g' at position 1",
            ),
            ("0000803-0001A0C3E0E68802E", "got 7-17"),
            ("00008030-001A0C3E0E68802X", "'X' at position 25"),
            ("00008030-001A0C3E-0E68802E", "got 8-17"),
            ("00008030_001A0C3E0E68802E", "'_' at position 9"),
        ] {
            let e = normalize_udid(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn devices_are_idempotent_per_team() {
        let mut st = crate::store::Store::in_memory().unwrap();
        st.write(|c| -> Result<()> {
            crate::portal::create_team(c, "T", Some("ABCDE12345"), true, 0)?;
            crate::portal::create_team(c, "U", Some("ZZZZZ99999"), false, 0)?;
            let u = "00008030-001A0C3E0E68802E";
            let (d, created) = ensure_device(c, u, "iPhone", None, 0)?;
            assert!(created && d.team_id == "ABCDE12345");
            let (_, created) = ensure_device(c, &u.to_lowercase(), " iPhone ", None, 1)?;
            assert!(!created);
            assert!(matches!(
                ensure_device(c, u, "iPad", None, 1),
                Err(PortalError::DeviceConflict { .. })
            ));
            assert_eq!(find_device(c, u, None)?.team_id, "ABCDE12345");
            // The same device in a second team is a second registration.
            ensure_device(c, u, "iPad", Some("ZZZZZ99999"), 1)?;
            assert!(matches!(
                find_device(c, u, None),
                Err(PortalError::DeviceInSeveralTeams { .. })
            ));
            assert_eq!(find_device(c, u, Some("ZZZZZ99999"))?.name, "iPad");
            Ok(())
        })
        .unwrap();
    }
}
