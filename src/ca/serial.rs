//! Certificate serial numbers: 128 bits from the OS CSPRNG, positive, DER-minimal.

use rand::RngCore;

/// Number of random bytes in a serial (RFC 5280 allows up to 20 octets; CA/B
/// Forum asks for at least 64 random bits; we use 128).
pub(crate) const SERIAL_BYTES: usize = 16;

#[cfg(test)]
thread_local! {
    /// Serials the next draws on this thread return (tests: a collision).
    pub(crate) static FORCED: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A fresh serial as big-endian bytes: 16 octets, positive, no leading zero.
pub(crate) fn random_serial() -> Vec<u8> {
    #[cfg(test)]
    if let Some(forced) = FORCED.with(|f| f.borrow_mut().pop()) {
        return forced;
    }
    let mut rng = rand::rngs::OsRng;
    loop {
        let mut b = [0u8; SERIAL_BYTES];
        rng.fill_bytes(&mut b);
        b[0] &= 0x7f;
        // A non-zero first byte keeps the length fixed at 16 octets (>= 121
        // random bits) and the DER INTEGER positive without a padding byte.
        if b[0] != 0 {
            return b.to_vec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::serial_hex;

    #[test]
    fn serials_are_positive_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let s = random_serial();
            assert_eq!(s.len(), SERIAL_BYTES);
            assert!(s[0] & 0x80 == 0 && s[0] != 0);
            assert!(seen.insert(s));
        }
        assert_eq!(serial_hex(&[0x00, 0x0a, 0xbc]), "0abc");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    /// `cert issue` draws serials on several threads at once: each draw reads
    /// the OS CSPRNG (no generator state to share or duplicate).
    #[test]
    fn serials_drawn_on_several_threads_are_distinct() {
        let per_thread: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..2_500).map(|_| random_serial()).collect()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let all: std::collections::HashSet<_> = per_thread.into_iter().flatten().collect();
        assert_eq!(all.len(), 10_000);
    }
}
