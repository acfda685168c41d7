//! UDIDs as fixed-size keys: what the enforcement tables hold and what a
//! decision parses (once, and only when a profile needs it).

/// A UDID as a fixed-size key, parsed without allocating, in either case:
/// tag 0 + 20 bytes for the 40-hex form, tag 1 + 4 + 8 bytes for the newer
/// `8-16` form. `None` for anything else (never provisioned).
pub(super) type UdidKey = [u8; 21];

#[inline]
pub(super) fn udid_key(u: &str) -> Option<UdidKey> {
    #[inline]
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    #[inline]
    fn pairs(hex: &[u8], out: &mut [u8]) -> Option<()> {
        for (o, p) in out.iter_mut().zip(hex.chunks_exact(2)) {
            *o = (nib(p[0])? << 4) | nib(p[1])?;
        }
        Some(())
    }
    let b = u.as_bytes();
    let mut k = [0u8; 21];
    match b.len() {
        40 => pairs(b, &mut k[1..21])?,
        25 if b[8] == b'-' => {
            k[0] = 1;
            pairs(&b[..8], &mut k[1..5])?;
            pairs(&b[9..], &mut k[5..13])?;
        }
        _ => return None,
    }
    Some(k)
}

/// A device UDID of one decision, parsed into its key at most once and only
/// when a profile needs it.
pub(super) struct Device<'a> {
    udid: &'a str,
    key: std::cell::Cell<Option<Option<UdidKey>>>,
}

impl<'a> Device<'a> {
    #[inline]
    pub(super) fn new(udid: &'a str) -> Self {
        Device {
            udid,
            key: std::cell::Cell::new(None),
        }
    }

    /// `None`: not a UDID, so never listed nor disabled.
    #[inline]
    pub(super) fn key(&self) -> Option<UdidKey> {
        match self.key.get() {
            Some(k) => k,
            None => {
                let k = udid_key(self.udid);
                self.key.set(Some(k));
                k
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::gateway::trust::Fx;

    #[test]
    fn udid_keys_match_across_case_and_refuse_other_forms() {
        let a = udid_key("00008030-001A0C3E0E68802E").unwrap();
        assert_eq!(Some(a), udid_key("00008030-001a0c3e0e68802e"));
        let b = udid_key("A1B2C3D4E5F60718293A4B5C6D7E8F9012345678").unwrap();
        assert_eq!(
            Some(b),
            udid_key("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")
        );
        assert_ne!(a, b);
        // The two forms never collide: the tag differs.
        assert_ne!(
            udid_key("00008030-0000000000000000"),
            udid_key(&"0".repeat(40))
        );
        for bad in [
            "",
            "00008030_001A0C3E0E68802E",
            "0000803-0001A0C3E0E68802E",
            "00008030-001A0C3E0E68802G",
            &"g".repeat(40),
            &"0".repeat(39),
            "00008030-001A0C3E0E68802E\n",
        ] {
            assert_eq!(udid_key(bad), None, "{bad:?}");
        }
        // Whatever normalize_udid accepts (trimmed), udid_key reads alike.
        #[cfg(feature = "ca")]
        {
            let n = crate::portal::devices::normalize_udid("00008030-001a0c3e0e68802e").unwrap();
            assert_eq!(udid_key(&n), Some(a));
        }
    }

    #[test]
    fn table_hasher_spreads_keys_and_is_seeded() {
        use std::hash::BuildHasher;
        let b = Fx::default();
        // Seeded per table: the same key hashes differently in another table
        // (a fixed hash would let chosen keys collide everywhere).
        let key = udid_key("00008030-001A0C3E0E68802E");
        assert!(
            (0..4).any(|_| Fx::default().hash_one(key) != b.hash_one(key)),
            "the table hasher is not seeded"
        );
        let set: HashSet<u64> = (0..100_000)
            .map(|i| b.hash_one(format!("com.bench.app{i}")))
            .collect();
        assert_eq!(set.len(), 100_000);
        let keys: HashSet<u64> = (0..100_000u64)
            .map(|i| b.hash_one(udid_key(&format!("{:08X}-{:016X}", 0x8030, i)).unwrap()))
            .collect();
        assert_eq!(keys.len(), 100_000);
    }
}
