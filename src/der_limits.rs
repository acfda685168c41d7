//! A cheap pre-scan of DER (or BER) that bounds the `SET OF`s in untrusted
//! input before the `der` crate decodes it.
//!
//! `der` 0.7 puts the elements of every `SET OF` it decodes in order with an
//! insertion sort: O(n²) comparisons for n elements in reverse order, so a
//! 640 KB SignedData or `.p12` holding one large crafted SET costs minutes.
//! Every place that hands untrusted bytes to a `der` decoder of a type
//! containing a `SET OF` (CMS SignerInfos and attributes, X.509 names,
//! PKCS#12 bag attributes) calls `SetLimits::check` on those bytes first.
//!
//! The scan is one linear pass over the TLV headers with an explicit stack
//! (no recursion) of at most `MAX_DEPTH` levels. It counts the elements of every
//! universal SET (`0x31`) and of every context-specific element (`[n]`,
//! constructed or not: an `[n] IMPLICIT SET OF` is decoded — and sorted —
//! before `der` checks its constructed bit), and refuses:
//! - a SET of more than `MAX_SET_ELEMENTS` elements;
//! - SETs needing more than `MAX_SET_PAIRS` comparisons in all to put in
//!   order (n·(n−1)/2 for each SET of n, summed over every check made with one
//!   `SetLimits`: one per input file, however many layers it is scanned in).
//!
//! Real files are far below: a provisioning profile carries a handful of
//! certificates (pushca accepts at most 64) and signed attributes, an X.509
//! name has one value per RDN, a PKCS#12 bag two to five attributes of one
//! value each.
//!
//! Whatever the scan cannot parse it leaves to the decoder, which reports the
//! damage in its own words: a malformed element ends the walk of the
//! innermost enclosing element of known (definite) length, which is treated as
//! opaque, and the walk goes on after it — exactly what a decoder that skips
//! that element as an `ANY` does. Primitive context-specific contents are
//! walked the same way, on speculation. An element nested deeper than
//! `MAX_DEPTH` is opaque too (no decoder pushca uses finds a SET OF that
//! deep: their types nest a dozen levels at most; the BER normaliser refuses
//! such nesting).

/// Most elements in one SET (or `[n]` element): the CMS certificate set
/// pushca reads holds at most 64 certificates; every other SET in the files
/// pushca reads holds a handful.
pub(crate) const MAX_SET_ELEMENTS: usize = 64;

/// Most element comparisons an insertion sort of every SET scanned with one
/// [`SetLimits`] may need (n·(n−1)/2 for a SET of n): a real PKCS#12 with
/// 10,000 bags of three attributes needs 30,000 per password attempt.
pub(crate) const MAX_SET_PAIRS: u64 = 250_000;

/// Deepest nesting walked (the BER normaliser's limit too).
pub(crate) const MAX_DEPTH: usize = 64;

/// Why a scanned input is refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hostile {
    /// One SET has more than 64 elements.
    #[error("a SET of more than {MAX_SET_ELEMENTS} elements")]
    SetTooLarge,
    /// Putting the SETs of one input in order would need more than 250,000 comparisons.
    #[error("SETs needing more than {MAX_SET_PAIRS} comparisons in all to put in order")]
    SetsTooLarge,
}

impl Hostile {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Hostile::SetTooLarge | Hostile::SetsTooLarge => ErrorKind::Input,
        }
    }
}

/// Which encoding rules the decoder behind the scan accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    /// Definite lengths only (an indefinite length is malformed).
    Der,
    /// Indefinite lengths too, for constructed elements (ended by `00 00`).
    #[cfg_attr(not(feature = "ca"), allow(dead_code))]
    Ber,
}

/// The comparison budget of one input file; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct SetLimits {
    pairs: u64,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits::new()
    }
}

struct Header {
    /// The identifier octet (first tag byte).
    first: u8,
    /// Where the content starts.
    content: usize,
    /// Content length; `None` for an indefinite length.
    len: Option<usize>,
}

/// The TLV header at `pos`, inside `..bound`. `None` when malformed.
fn header(data: &[u8], pos: usize, bound: usize, rules: Rules) -> Option<Header> {
    let data = data.get(..bound)?;
    let first = *data.get(pos)?;
    let mut p = pos + 1;
    if first & 0x1f == 0x1f {
        // High tag number: base-128, at most 4 more bytes.
        let mut n = 0;
        loop {
            let b = *data.get(p)?;
            p += 1;
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
            if n >= 4 {
                return None;
            }
        }
    }
    let lb = *data.get(p)?;
    p += 1;
    let len = match lb {
        0x80 => None,
        l if l < 0x80 => Some(usize::from(l)),
        l => {
            let n = usize::from(l & 0x7f);
            if n > 8 {
                return None;
            }
            let mut v: usize = 0;
            for b in data.get(p..p.checked_add(n)?)? {
                v = v.checked_mul(256)?.checked_add(usize::from(*b))?;
            }
            p += n;
            Some(v)
        }
    };
    let constructed = first & 0x20 != 0;
    match len {
        Some(l) if p.checked_add(l)? > data.len() => None,
        None if rules == Rules::Der || !constructed => None,
        _ => Some(Header {
            first,
            content: p,
            len,
        }),
    }
}

struct Frame {
    /// End of the content (definite length); `None`: ends at `00 00`.
    end: Option<usize>,
    /// End of the innermost enclosing element of definite length.
    bound: usize,
    /// Whether the children are counted (a SET or `[n]`).
    counted: bool,
    children: usize,
}

impl SetLimits {
    pub(crate) fn new() -> SetLimits {
        SetLimits { pairs: 0 }
    }

    /// Walks `data` (one or more TLVs), counting SET elements against the
    /// limits. `Ok` also when `data` is malformed: the decoder says so.
    pub(crate) fn check(&mut self, data: &[u8], rules: Rules) -> Result<(), Hostile> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut pos = 0usize;
        loop {
            // Close finished elements.
            let bound = match stack.last() {
                None if pos >= data.len() => return Ok(()),
                None => data.len(),
                Some(f) => match f.end {
                    Some(end) if pos >= end => {
                        stack.pop();
                        continue;
                    }
                    Some(_) => f.bound,
                    None if data.get(pos..pos.saturating_add(2)) == Some(&[0, 0][..]) => {
                        pos += 2;
                        stack.pop();
                        continue;
                    }
                    None => f.bound,
                },
            };
            let Some(h) = header(data, pos, bound, rules) else {
                match skip_innermost_known(&mut stack) {
                    Some(end) => pos = end,
                    None => return Ok(()),
                }
                continue;
            };
            if let Some(parent) = stack.last_mut() {
                if parent.counted {
                    parent.children += 1;
                    if parent.children > MAX_SET_ELEMENTS {
                        return Err(Hostile::SetTooLarge);
                    }
                    self.pairs += parent.children as u64 - 1;
                    if self.pairs > MAX_SET_PAIRS {
                        return Err(Hostile::SetsTooLarge);
                    }
                }
            }
            let context = h.first & 0xc0 == 0x80;
            let walked = (h.first & 0x20 != 0 || context) && stack.len() < MAX_DEPTH;
            match (walked, h.len) {
                (false, Some(len)) => pos = h.content + len,
                // Too deep, and of unknown length (BER).
                (false, None) => match skip_innermost_known(&mut stack) {
                    Some(end) => pos = end,
                    None => return Ok(()),
                },
                (true, len) => {
                    let end = len.map(|l| h.content + l);
                    stack.push(Frame {
                        end,
                        bound: end.unwrap_or(bound),
                        counted: h.first == 0x31 || context,
                        children: 0,
                    });
                    pos = h.content;
                }
            }
        }
    }
}

/// Abandons the elements open down to the innermost one of known length
/// (included) and returns its end, where the walk resumes; `None` when every
/// open element has an indefinite length (nothing after is decodable).
fn skip_innermost_known(stack: &mut Vec<Frame>) -> Option<usize> {
    loop {
        if let Some(end) = stack.pop()?.end {
            return Some(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 0x80 {
            out.push(body.len() as u8);
        } else {
            let b = body.len().to_be_bytes();
            let skip = b.iter().take_while(|x| **x == 0).count();
            out.push(0x80 | (b.len() - skip) as u8);
            out.extend_from_slice(&b[skip..]);
        }
        out.extend_from_slice(body);
        out
    }

    fn ints(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| tlv(0x02, &[(i % 100) as u8])).collect()
    }

    fn check(data: &[u8], rules: Rules) -> Result<(), Hostile> {
        SetLimits::new().check(data, rules)
    }

    #[test]
    fn sets_up_to_the_cap_pass_and_larger_ones_are_refused() {
        let ok = tlv(0x30, &tlv(0x31, &ints(MAX_SET_ELEMENTS)));
        assert_eq!(check(&ok, Rules::Der), Ok(()));
        let big = tlv(0x30, &tlv(0x31, &ints(MAX_SET_ELEMENTS + 1)));
        assert_eq!(check(&big, Rules::Der), Err(Hostile::SetTooLarge));
        // A SEQUENCE OF is not sorted: any length.
        assert_eq!(check(&tlv(0x30, &ints(100_000)), Rules::Der), Ok(()));
        // [n] IMPLICIT SET OF, constructed or (decoded before the check) not.
        for tag in [0xa0, 0xa1, 0x80, 0x81] {
            let t = tlv(0x30, &tlv(tag, &ints(MAX_SET_ELEMENTS + 1)));
            assert_eq!(check(&t, Rules::Der), Err(Hostile::SetTooLarge), "{tag:x}");
        }
        // Other primitive contents are opaque.
        let octets = tlv(0x04, &ints(MAX_SET_ELEMENTS + 1));
        assert_eq!(check(&tlv(0x31, &octets), Rules::Der), Ok(()));
    }

    #[test]
    fn nested_sets_are_counted_at_every_depth() {
        // SET inside SEQUENCE inside [0] inside SET, the inner one too large.
        let inner = tlv(0x31, &ints(MAX_SET_ELEMENTS + 1));
        let t = tlv(0x31, &tlv(0xa0, &tlv(0x30, &[int_tlv(), inner].concat())));
        assert_eq!(check(&t, Rules::Der), Err(Hostile::SetTooLarge));
        // Many small SETs add up: pairs are counted across the whole input...
        let set = tlv(0x31, &ints(MAX_SET_ELEMENTS));
        let per_set = (MAX_SET_ELEMENTS * (MAX_SET_ELEMENTS - 1) / 2) as u64;
        let n = (MAX_SET_PAIRS / per_set) as usize;
        let fits = tlv(0x30, &set.repeat(n));
        assert_eq!(check(&fits, Rules::Der), Ok(()));
        let over = tlv(0x30, &set.repeat(n + 1));
        assert_eq!(check(&over, Rules::Der), Err(Hostile::SetsTooLarge));
        // ... and across the checks made with one SetLimits (one file's layers).
        let mut limits = SetLimits::new();
        assert_eq!(limits.check(&fits, Rules::Der), Ok(()));
        assert_eq!(limits.check(&set, Rules::Der), Err(Hostile::SetsTooLarge));
    }

    fn int_tlv() -> Vec<u8> {
        tlv(0x02, &[1])
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        let mut t = int_tlv();
        for _ in 0..MAX_DEPTH {
            t = tlv(0x30, &t);
        }
        assert_eq!(check(&t, Rules::Der), Ok(()));
        // Deeper elements are opaque: a large SET beyond the limit is not
        // counted, one after the deep element is.
        let big = tlv(0x31, &ints(MAX_SET_ELEMENTS + 1));
        let mut deep = big.clone();
        for _ in 0..MAX_DEPTH {
            deep = tlv(0x30, &deep);
        }
        assert_eq!(check(&deep, Rules::Der), Ok(()));
        let after = tlv(0x30, &[deep, big].concat());
        assert_eq!(check(&after, Rules::Der), Err(Hostile::SetTooLarge));
        // 100,000 indefinite SEQUENCEs (BER): the stack stays at MAX_DEPTH.
        let mut deep = [0x30, 0x80].repeat(100_000);
        deep.extend([0, 0].repeat(100_000));
        assert_eq!(check(&deep, Rules::Ber), Ok(()));
        // ... inside an element of known length, followed by a large SET.
        let mut inner = [0x30, 0x80].repeat(100_000);
        inner.extend([0, 0].repeat(100_000));
        let t = tlv(
            0x30,
            &[tlv(0xa0, &inner), tlv(0x31, &ints(MAX_SET_ELEMENTS + 1))].concat(),
        );
        assert_eq!(check(&t, Rules::Ber), Err(Hostile::SetTooLarge));
    }

    #[test]
    fn indefinite_lengths_follow_the_rules() {
        let mut set = vec![0x30, 0x80, 0x31, 0x80];
        set.extend(ints(MAX_SET_ELEMENTS + 1));
        set.extend([0, 0, 0, 0]);
        assert_eq!(check(&set, Rules::Ber), Err(Hostile::SetTooLarge));
        // DER does not accept it: the decoder will refuse it, nothing to count.
        assert_eq!(check(&set, Rules::Der), Ok(()));
        // Within the limit; an end-of-contents closes each level.
        let mut ok = vec![0x30, 0x80, 0x31, 0x80];
        ok.extend(ints(3));
        ok.extend([0, 0]);
        ok.extend(tlv(0x31, &ints(MAX_SET_ELEMENTS)));
        ok.extend([0, 0]);
        assert_eq!(check(&ok, Rules::Ber), Ok(()));
        // A primitive with an indefinite length is malformed.
        assert_eq!(
            check(&[0x31, 0x80, 0x04, 0x80, 0, 0, 0, 0], Rules::Ber),
            Ok(())
        );
        // A segmented OCTET STRING is walked, not counted.
        let mut seg = vec![0x24, 0x80];
        seg.extend(tlv(0x04, b"ab").repeat(1000));
        seg.extend([0, 0]);
        assert_eq!(check(&seg, Rules::Ber), Ok(()));
    }

    #[test]
    fn malformed_parts_are_skipped_not_trusted() {
        // Truncated input: an element longer than the input is not walked,
        // nor decoded (the decoder checks the length before the content).
        let big = tlv(0x30, &tlv(0x31, &ints(MAX_SET_ELEMENTS + 1)));
        assert_eq!(check(&big[..big.len() - 1], Rules::Der), Ok(()));
        // Truncated after a complete large SET: refused.
        let mut cut = big.clone();
        cut.extend(tlv(0x30, &[1, 2, 3]));
        cut.truncate(cut.len() - 1);
        assert_eq!(check(&cut, Rules::Der), Err(Hostile::SetTooLarge));
        let mut ber = vec![0x30, 0x80];
        ber.extend(tlv(0x31, &ints(MAX_SET_ELEMENTS + 1)));
        assert_eq!(check(&ber, Rules::Ber), Err(Hostile::SetTooLarge));
        let small = tlv(0x30, &tlv(0x31, &ints(3)));
        for cut in 0..small.len() {
            assert_eq!(check(&small[..cut], Rules::Der), Ok(()));
        }
        // Junk inside an element of known length (an ANY to the decoder)
        // does not hide a large SET after it.
        let junk = tlv(0x30, &[0x04, 0x7f, 0x01]);
        let t = tlv(
            0x30,
            &[junk, tlv(0x31, &ints(MAX_SET_ELEMENTS + 1))].concat(),
        );
        assert_eq!(check(&t, Rules::Der), Err(Hostile::SetTooLarge));
        // Same inside an indefinite element (BER): the nearest known length.
        let mut t = vec![0x30, 0x80];
        t.extend(tlv(0xa0, &[0x30, 0x80, 0x05]));
        t.extend(tlv(0x31, &ints(MAX_SET_ELEMENTS + 1)));
        t.extend([0, 0]);
        assert_eq!(check(&t, Rules::Ber), Err(Hostile::SetTooLarge));
        // Lengths past the end, overlong length fields, empty input.
        assert_eq!(
            check(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], Rules::Der),
            Ok(())
        );
        assert_eq!(
            check(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1], Rules::Der),
            Ok(())
        );
        assert_eq!(
            check(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00], Rules::Der),
            Ok(())
        );
        assert_eq!(check(&[], Rules::Der), Ok(()));
    }

    #[test]
    fn a_16_mb_scan_is_fast() {
        let set = tlv(0x31, &ints(2));
        let t = tlv(0x30, &[0x05, 0x00].repeat(8 << 20));
        let start = std::time::Instant::now();
        assert_eq!(check(&t, Rules::Der), Ok(()));
        assert_eq!(
            check(&tlv(0x30, &set.repeat(2_000_000)), Rules::Der),
            Err(Hostile::SetsTooLarge)
        );
        assert!(start.elapsed().as_secs_f64() < 5.0, "{:?}", start.elapsed());
    }
}
