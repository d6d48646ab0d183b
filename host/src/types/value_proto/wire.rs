//! The protobuf wire format at the byte level: varints, field keys and length-delimited
//! fields, written into a `Vec<u8>` and read by a bounds-checked [`Reader`]. Kept apart from
//! the encoder and decoder of Feast's `Value` so that they read as the schema they follow, and
//! hand-written, not generated, because this is the read hot path (see the module doc of
//! `value_proto`).

use super::schema::VAL;
use super::{Result, ValueProtoError};

pub(super) const VARINT: u8 = 0;
pub(super) const I64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const I32: u8 = 5;

pub(super) fn put_key(field: u64, wire_type: u8, out: &mut Vec<u8>) {
    put_varint((field << 3) | u64::from(wire_type), out);
}

pub(crate) fn put_len_field(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    put_key(field, LEN, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Writes a length-delimited field whose content `body` appends. The length is reserved as one
/// byte and widened afterwards in the rare case the content reaches 128 bytes, so nothing is
/// measured twice.
pub(super) fn put_message(
    field: u64,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    put_key(field, LEN, out);
    put_len_prefixed(out, body)
}

/// A packed repeated field `val` = 1, written only when it has elements (as protobuf does).
pub(super) fn put_packed(
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let start = out.len();
    put_key(VAL, LEN, out);
    let before = out.len();
    put_len_prefixed(out, body)?;
    if out.len() == before + 1 {
        // No elements: an empty packed field is not written at all.
        out.truncate(start);
    }
    Ok(())
}

fn put_len_prefixed(
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let at = out.len();
    out.push(0);
    body(out)?;
    let len = out.len() - at - 1;
    if len < 0x80 {
        // Below 128, so the cast is exact.
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(10);
        put_varint(len as u64, &mut prefix);
        out.splice(at..=at, prefix);
    }
    Ok(())
}

/// Unsigned LEB128, as protobuf writes varints.
pub(super) fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        // Truncation to the low 7 bits is the point.
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| ValueProtoError::InvalidUtf8 { what })
}

/// A bounds-checked reader consuming `rest` from the front.
pub(super) struct Reader<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn truncated(&self, what: &'static str, needed: u64) -> ValueProtoError {
        ValueProtoError::Truncated {
            what,
            needed,
            available: self.rest.len(),
        }
    }

    pub(super) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(self.truncated(what, N as u64));
        };
        self.rest = rest;
        Ok(*head)
    }

    /// A varint of at most 10 bytes; bits beyond the 64th are dropped, as protobuf does.
    pub(super) fn varint(&mut self, what: &'static str) -> Result<u64> {
        // The common case, one byte (small ints, bools, field keys, short lengths).
        if let Some((&first, rest)) = self.rest.split_first()
            && first < 0x80
        {
            self.rest = rest;
            return Ok(u64::from(first));
        }
        let mut v: u64 = 0;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.rest = self.rest.get(i + 1..).unwrap_or_default();
                return Ok(v);
            }
        }
        if self.rest.len() >= 10 {
            Err(ValueProtoError::BadVarint { what })
        } else {
            Err(self.truncated(what, self.rest.len() as u64 + 1))
        }
    }

    /// A field key: (field number, wire type).
    pub(super) fn key(&mut self, what: &'static str) -> Result<(u64, u8)> {
        let key = self.varint(what)?;
        // The low 3 bits are the wire type.
        Ok((key >> 3, (key & 7) as u8))
    }

    /// A varint length followed by that many bytes.
    pub(super) fn len_prefixed(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let len = self.varint(what)?;
        let taken = usize::try_from(len)
            .ok()
            .and_then(|n| self.rest.split_at_checked(n));
        let Some((bytes, rest)) = taken else {
            return Err(self.truncated(what, len));
        };
        self.rest = rest;
        Ok(bytes)
    }

    pub(super) fn str(&mut self, what: &'static str) -> Result<&'a str> {
        utf8(self.len_prefixed(what)?, what)
    }

    /// Skips a field this reader does not know inside a container message (a newer schema
    /// may add some); groups, which no Feast message has, are refused.
    pub(super) fn skip(&mut self, wire_type: u8, what: &'static str) -> Result<()> {
        match wire_type {
            VARINT => {
                self.varint(what)?;
            }
            I64 => {
                self.array::<8>(what)?;
            }
            LEN => {
                self.len_prefixed(what)?;
            }
            I32 => {
                self.array::<4>(what)?;
            }
            other => {
                return Err(ValueProtoError::WireType {
                    what,
                    field: 0,
                    wire_type: other,
                });
            }
        }
        Ok(())
    }
}
