//! BER → DER normalisation. Windows, .NET and some Java tools write PKCS#12
//! with indefinite lengths and segmented (constructed) OCTET STRINGs, which a
//! DER decoder refuses. The reader re-encodes each layer to DER before
//! decoding it; MACs are still computed over the original content octets.
//!
//! Streaming, in two passes over the input and without a tree: the first pass
//! computes the DER length of every constructed element (one `u32` each, in
//! document order), the second writes the DER. Peak memory is the output plus
//! that table, a small multiple of the input whatever its shape (16 MB of
//! NULLs, or deep nesting, cost no more than the bytes themselves).

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;
/// Most elements in one SET (sorted in memory; PKCS#12 sets are tiny).
const MAX_SET_ELEMENTS: usize = 10_000;

const EOC: [u8; 2] = [0, 0];

struct Header {
    tag: [u8; 6],
    tag_len: usize,
    constructed: bool,
    /// `None` for an indefinite length.
    len: Option<usize>,
}

impl Header {
    fn tag(&self) -> &[u8] {
        self.tag.get(..self.tag_len).unwrap_or(&[])
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn at_eoc(&self) -> bool {
        self.data.get(self.pos..self.pos.saturating_add(2)) == Some(&EOC[..])
    }

    fn header(&mut self) -> Option<Header> {
        let first = self.byte()?;
        let mut tag = [0u8; 6];
        tag[0] = first;
        let mut tag_len = 1;
        if first & 0x1f == 0x1f {
            loop {
                let b = self.byte()?;
                *tag.get_mut(tag_len)? = b;
                tag_len += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let lb = self.byte()?;
        let len = match lb {
            0x80 => None,
            l if l < 0x80 => Some(usize::from(l)),
            l => {
                let n = usize::from(l & 0x7f);
                if n > 4 {
                    return None;
                }
                let mut v: usize = 0;
                for b in self.take(n)? {
                    v = v.checked_mul(256)?.checked_add(usize::from(*b))?;
                }
                Some(v)
            }
        };
        let constructed = first & 0x20 != 0;
        if !constructed && len.is_none() {
            return None;
        }
        Some(Header {
            tag,
            tag_len,
            constructed,
            len,
        })
    }
}

fn len_of_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8)
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = bytes.get(skip..).unwrap_or(&[]);
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// Whether the element is an OCTET STRING that DER wants primitive: a
/// constructed OCTET STRING (0x24), or the `[0] IMPLICIT OCTET STRING` of an
/// EncryptedContentInfo (0xa0 whose children are OCTET STRING segments).
fn is_segmented_octets(h: &Header, in_eci_slot: bool) -> bool {
    h.tag() == [0x24] || (in_eci_slot && h.tag() == [0xa0])
}

/// Pass 1: the DER content length of the element at the reader, recording the
/// content length of every constructed element in `lens` (document order).
/// Returns the element's total DER length.
fn measure(r: &mut Reader<'_>, lens: &mut Vec<u32>, depth: usize, eci_slot: bool) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let h = r.header()?;
    if !h.constructed {
        let l = h.len?;
        r.take(l)?;
        return Some(h.tag_len + len_of_len(l) + l);
    }
    let slot = lens.len();
    lens.push(0);
    let content = if is_segmented_octets(&h, eci_slot) {
        octets_len(r, &h, depth)?
    } else {
        let mut total = 0usize;
        let mut kinds = [0u8; 2];
        let seq = h.tag() == [0x30];
        for_each_child(r, &h, |cr, i| {
            let first = cr.data.get(cr.pos).copied().unwrap_or(0);
            if let Some(k) = kinds.get_mut(i) {
                *k = first;
            }
            // EncryptedContentInfo: SEQUENCE { OID, AlgorithmIdentifier, [0] }.
            let eci = seq && i == 2 && kinds == [0x06, 0x30];
            total = total.checked_add(measure(cr, lens, depth + 1, eci)?)?;
            Some(())
        })?;
        total
    };
    *lens.get_mut(slot)? = u32::try_from(content).ok()?;
    Some(h.tag_len + len_of_len(content) + content)
}

/// Calls `f` on each child of a constructed element (reader positioned at
/// the child, and its index), consuming the element from `r`: one pass, no
/// look-ahead, whatever the nesting.
fn for_each_child(
    r: &mut Reader<'_>,
    h: &Header,
    mut f: impl FnMut(&mut Reader<'_>, usize) -> Option<()>,
) -> Option<()> {
    let mut i = 0;
    match h.len {
        Some(l) => {
            let body = r.take(l)?;
            let mut inner = Reader { data: body, pos: 0 };
            while inner.pos < body.len() {
                f(&mut inner, i)?;
                i += 1;
            }
        }
        None => {
            while !r.at_eoc() {
                f(r, i)?;
                i += 1;
            }
            r.take(2)?;
        }
    }
    Some(())
}

/// Content length of a segmented OCTET STRING (sum of its segments).
fn octets_len(r: &mut Reader<'_>, h: &Header, depth: usize) -> Option<usize> {
    let mut total = 0usize;
    for_each_child(r, h, |cr, _| {
        let ch = cr.header()?;
        let n = match (ch.tag(), ch.constructed) {
            ([0x04], false) => {
                let l = ch.len?;
                cr.take(l)?;
                l
            }
            ([0x24], true) if depth < MAX_DEPTH => octets_len(cr, &ch, depth + 1)?,
            _ => return None,
        };
        total = total.checked_add(n)?;
        Some(())
    })?;
    Some(total)
}

/// Pass 2: writes the DER of the element at the reader.
fn write(
    r: &mut Reader<'_>,
    lens: &[u32],
    next: &mut usize,
    out: &mut Vec<u8>,
    depth: usize,
    eci_slot: bool,
) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    let h = r.header()?;
    if !h.constructed {
        let l = h.len?;
        out.extend_from_slice(h.tag());
        push_len(out, l);
        out.extend_from_slice(r.take(l)?);
        return Some(());
    }
    let content = *lens.get(*next)? as usize;
    *next += 1;
    if is_segmented_octets(&h, eci_slot) {
        out.push(if h.tag() == [0x24] { 0x04 } else { 0x80 });
        push_len(out, content);
        write_octets(r, &h, out, depth)?;
        return Some(());
    }
    out.extend_from_slice(h.tag());
    push_len(out, content);
    let start = out.len();
    let mut kinds = [0u8; 2];
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let is_set = h.tag() == [0x31];
    let seq = h.tag() == [0x30];
    for_each_child(r, &h, |cr, i| {
        let first = cr.data.get(cr.pos).copied().unwrap_or(0);
        if let Some(k) = kinds.get_mut(i) {
            *k = first;
        }
        let eci = seq && i == 2 && kinds == [0x06, 0x30];
        let child_start = out.len();
        write(cr, lens, next, out, depth + 1, eci)?;
        if is_set {
            if ranges.len() >= MAX_SET_ELEMENTS {
                return None;
            }
            ranges.push((child_start, out.len()));
        }
        Some(())
    })?;
    if is_set && ranges.len() > 1 {
        // DER orders the elements of a SET OF by their encodings.
        let region = out.get(start..)?.to_vec();
        let mut parts: Vec<&[u8]> = ranges
            .iter()
            .map(|(a, b)| region.get(a - start..b - start).unwrap_or(&[]))
            .collect();
        parts.sort();
        out.truncate(start);
        for p in parts {
            out.extend_from_slice(p);
        }
    }
    Some(())
}

fn write_octets(r: &mut Reader<'_>, h: &Header, out: &mut Vec<u8>, depth: usize) -> Option<()> {
    for_each_child(r, h, |cr, _| {
        let ch = cr.header()?;
        match (ch.tag(), ch.constructed) {
            ([0x04], false) => out.extend_from_slice(cr.take(ch.len?)?),
            ([0x24], true) if depth < MAX_DEPTH => write_octets(cr, &ch, out, depth + 1)?,
            _ => return None,
        }
        Some(())
    })
}

/// Re-encodes one BER element (the whole input) as DER. `None` when the input
/// is not a single well-formed BER element.
pub(crate) fn to_der(input: &[u8]) -> Option<Vec<u8>> {
    let mut lens = Vec::new();
    let mut r = Reader {
        data: input,
        pos: 0,
    };
    let total = measure(&mut r, &mut lens, 0, false)?;
    if r.pos != input.len() {
        return None;
    }
    let mut out = Vec::with_capacity(total);
    let mut r = Reader {
        data: input,
        pos: 0,
    };
    let mut next = 0;
    write(&mut r, &lens, &mut next, &mut out, 0, false)?;
    (out.len() == total).then_some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tlv(tag: &[u8], content: &[u8]) -> Vec<u8> {
        let mut out = tag.to_vec();
        push_len(&mut out, content.len());
        out.extend_from_slice(content);
        out
    }

    /// Test helper: DER → BER with indefinite lengths everywhere, OCTET STRINGs
    /// split in segments, and the EncryptedContentInfo `[0]` segmented.
    pub(crate) fn der_to_ber(der: &[u8]) -> Vec<u8> {
        let mut r = Reader { data: der, pos: 0 };
        let mut out = Vec::new();
        ber(&mut r, &mut out, false);
        out
    }

    fn segmented(tag: u8, content: &[u8], out: &mut Vec<u8>) {
        out.extend([tag, 0x80]);
        let mid = content.len() / 2;
        for part in [&content[..mid], &content[mid..]] {
            out.extend(tlv(&[0x04], part));
        }
        out.extend([0, 0]);
    }

    fn ber(r: &mut Reader<'_>, out: &mut Vec<u8>, eci_content: bool) {
        let h = r.header().unwrap();
        let l = h.len.unwrap();
        let content = r.take(l).unwrap();
        if !h.constructed {
            if h.tag() == [0x04] && l > 8 {
                segmented(0x24, content, out);
            } else if eci_content && h.tag() == [0x80] {
                segmented(0xa0, content, out);
            } else {
                out.extend(tlv(h.tag(), content));
            }
            return;
        }
        out.extend_from_slice(h.tag());
        out.push(0x80);
        let mut inner = Reader {
            data: content,
            pos: 0,
        };
        let mut kinds = Vec::new();
        let mut i = 0;
        while inner.pos < content.len() {
            kinds.push(content[inner.pos]);
            let eci = i == 2 && kinds.starts_with(&[0x06, 0x30]);
            ber(&mut inner, out, eci);
            i += 1;
        }
        out.extend([0, 0]);
    }

    #[test]
    fn ber_roundtrips_to_the_same_der() {
        let der = tlv(
            &[0x30],
            &[tlv(&[0x04], b"0123456789abcdef"), tlv(&[0x02], &[1])].concat(),
        );
        let b = der_to_ber(&der);
        assert_ne!(b, der);
        assert_eq!(to_der(&b).unwrap(), der);
        assert_eq!(to_der(&der).unwrap(), der);
        assert!(to_der(&[0x30, 0x80, 0x02, 0x01]).is_none());
        assert!(to_der(&[0x04, 0x80, 0, 0]).is_none());
        assert!(to_der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        // SET OF elements are sorted.
        let set = [0x31, 0x80, 0x02, 0x01, 0x05, 0x02, 0x01, 0x01, 0, 0];
        assert_eq!(
            to_der(&set).unwrap(),
            [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05]
        );
    }

    #[test]
    fn hostile_shapes_cost_little() {
        // 4 MB of NULLs in an indefinite SEQUENCE: the output is the input's size.
        let mut v = vec![0x30, 0x80];
        v.extend(std::iter::repeat_n([0x05, 0x00], 2 << 20).flatten());
        v.extend([0, 0]);
        let d = to_der(&v).unwrap();
        assert_eq!(
            d.len(),
            v.len() - 4 + 5,
            "a 5-byte DER header for 4 bytes of BER framing"
        );
        // Deep nesting is refused, not recursed into.
        let mut deep = Vec::new();
        for _ in 0..100_000 {
            deep.extend([0x30, 0x80]);
        }
        assert!(to_der(&deep).is_none());
        // A SET of too many elements is refused.
        let mut set = vec![0x31, 0x80];
        set.extend(std::iter::repeat_n([0x05, 0x00], MAX_SET_ELEMENTS + 1).flatten());
        set.extend([0, 0]);
        assert!(to_der(&set).is_none());
    }
}
