//! BER → DER normalisation. Windows, .NET and some Java tools write PKCS#12
//! with indefinite lengths and segmented (constructed) OCTET STRINGs, which a
//! DER decoder refuses. The reader re-encodes each layer to DER before
//! decoding it; MACs are still computed over the original content octets.

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

enum Node {
    Prim { tag: Vec<u8>, content: Vec<u8> },
    Cons { tag: Vec<u8>, children: Vec<Node> },
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos = self.pos.checked_add(1)?;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn at_eoc(&self) -> bool {
        self.data.get(self.pos..self.pos.saturating_add(2)) == Some(&[0, 0][..])
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// One TLV. `None` when the input is not valid BER.
    fn node(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let first = self.byte()?;
        let mut tag = vec![first];
        if first & 0x1f == 0x1f {
            loop {
                let b = self.byte()?;
                tag.push(b);
                if b & 0x80 == 0 {
                    break;
                }
                if tag.len() > 6 {
                    return None;
                }
            }
        }
        let constructed = first & 0x20 != 0;
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
        match (constructed, len) {
            (false, Some(l)) => Some(Node::Prim {
                tag,
                content: self.take(l)?.to_vec(),
            }),
            (false, None) => None,
            (true, Some(l)) => {
                let mut inner = Reader {
                    data: self.take(l)?,
                    pos: 0,
                };
                let mut children = Vec::new();
                while !inner.done() {
                    children.push(inner.node(depth + 1)?);
                }
                Some(Node::Cons { tag, children })
            }
            (true, None) => {
                let mut children = Vec::new();
                while !self.at_eoc() {
                    children.push(self.node(depth + 1)?);
                }
                self.take(2)?;
                Some(Node::Cons { tag, children })
            }
        }
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

fn tlv(tag: &[u8], content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + tag.len() + 6);
    out.extend_from_slice(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// The concatenated content of a (possibly segmented) OCTET STRING.
fn octets(children: &[Node], depth: usize) -> Option<Vec<u8>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut out = Vec::new();
    for c in children {
        match c {
            Node::Prim { tag, content } if tag.as_slice() == [0x04] => {
                out.extend_from_slice(content)
            }
            Node::Cons { tag, children } if tag.as_slice() == [0x24] => {
                out.extend(octets(children, depth + 1)?)
            }
            _ => return None,
        }
    }
    Some(out)
}

fn is_segments(children: &[Node]) -> bool {
    !children.is_empty()
        && children.iter().all(|c| matches!(c, Node::Prim { tag, .. } | Node::Cons { tag, .. } if tag.as_slice() == [0x04] || tag.as_slice() == [0x24]))
}

fn encode(node: &Node) -> Option<Vec<u8>> {
    match node {
        Node::Prim { tag, content } => Some(tlv(tag, content)),
        Node::Cons { tag, children } if tag.as_slice() == [0x24] => {
            Some(tlv(&[0x04], &octets(children, 0)?))
        }
        Node::Cons { tag, children } => {
            let mut parts = Vec::with_capacity(children.len());
            // EncryptedContentInfo ::= SEQUENCE { OID, AlgorithmIdentifier,
            // [0] IMPLICIT OCTET STRING }: BER may segment the [0]; DER has it primitive.
            let eci = tag.as_slice() == [0x30]
                && children.len() == 3
                && matches!(children.first(), Some(Node::Prim { tag, .. }) if tag.as_slice() == [0x06])
                && matches!(children.get(1), Some(Node::Cons { tag, .. }) if tag.as_slice() == [0x30]);
            for (i, c) in children.iter().enumerate() {
                match c {
                    Node::Cons { tag, children }
                        if eci && i == 2 && tag.as_slice() == [0xa0] && is_segments(children) =>
                    {
                        parts.push(tlv(&[0x80], &octets(children, 0)?));
                    }
                    other => parts.push(encode(other)?),
                }
            }
            if tag.as_slice() == [0x31] {
                parts.sort(); // DER orders SET OF by encoding
            }
            Some(tlv(tag, &parts.concat()))
        }
    }
}

/// Re-encodes one BER element (the whole input) as DER. `None` when the input
/// is not a single well-formed BER element.
pub(crate) fn to_der(input: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader {
        data: input,
        pos: 0,
    };
    let node = r.node(0)?;
    if !r.done() {
        return None;
    }
    encode(&node)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Test helper: DER → BER with indefinite lengths everywhere, OCTET STRINGs
    /// split in segments, and the EncryptedContentInfo `[0]` segmented.
    pub(crate) fn der_to_ber(der: &[u8]) -> Vec<u8> {
        let mut r = Reader { data: der, pos: 0 };
        let node = r.node(0).unwrap();
        ber(&node, false)
    }

    fn segmented(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        let mid = content.len() / 2;
        for part in [&content[..mid], &content[mid..]] {
            out.extend(tlv(&[0x04], part));
        }
        out.extend([0, 0]);
        out
    }

    fn ber(node: &Node, eci_content: bool) -> Vec<u8> {
        match node {
            Node::Prim { tag, content } if tag.as_slice() == [0x04] && content.len() > 8 => {
                segmented(0x24, content)
            }
            Node::Prim { tag, content } if eci_content && tag.as_slice() == [0x80] => {
                segmented(0xa0, content)
            }
            Node::Prim { tag, content } => tlv(tag, content),
            Node::Cons { tag, children } => {
                let eci = children.len() == 3
                    && matches!(children.first(), Some(Node::Prim { tag, .. }) if tag.as_slice() == [0x06]);
                let mut out = tag.clone();
                out.push(0x80);
                for (i, c) in children.iter().enumerate() {
                    out.extend(ber(c, eci && i == 2));
                }
                out.extend([0, 0]);
                out
            }
        }
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
    }
}
