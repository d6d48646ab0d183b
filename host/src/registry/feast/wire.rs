//! A minimal walker over the protobuf wire format, for editing a message in place.
//!
//! The facts it relies on, in our words:
//!
//! - A serialized message is a plain run of fields with no header, no count and no end
//!   marker. Each field is a *tag* followed by a *payload*. The tag is a varint holding
//!   `number << 3 | wire_type`; field numbers run from 1 to 2^29 - 1.
//! - A varint stores an unsigned 64-bit number in 7-bit groups, least significant first, with
//!   the high bit of each byte set on every byte but the last: at most ten bytes, the tenth
//!   holding only the top bit. Negative `int32`/`int64` values are written as their 64-bit
//!   two's complement, so they take ten bytes.
//! - The wire types: 0 a varint (integers, bools, enums); 1 eight little-endian bytes; 2 a
//!   varint length and that many bytes (strings, bytes, embedded messages, packed repeated
//!   scalars); 5 four little-endian bytes; 3 and 4 open and close a group (a legacy encoding
//!   whose payload is fields up to the closing tag of the same number). 6 and 7 do not exist.
//! - The order of fields does not matter to a reader. A repeated field is the sequence of its
//!   occurrences in order, wherever they sit; a singular scalar that occurs twice keeps the
//!   last value. Writers that follow the reference implementations emit fields in ascending
//!   number order and omit scalars equal to zero or empty.
//! - A reader skips a field it does not know by its wire type alone, so fields added by a
//!   newer schema can be carried along untouched: which is what [`Rebuild`] does with every
//!   field it is not told to change.

use std::fmt;

/// Why bytes could not be walked as protobuf fields. Offsets count from the start of the
/// message being walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ends inside a tag, a varint, a length or a payload.
    #[error("truncated at byte {at}: the input ends inside a field")]
    Truncated {
        /// Where the incomplete item starts.
        at: usize,
    },
    /// A varint runs past ten bytes, or past 64 bits.
    #[error("malformed varint at byte {at}")]
    BadVarint {
        /// Where the varint starts.
        at: usize,
    },
    /// A tag with a wire type that does not exist (6 or 7).
    #[error("unknown wire type {wire_type} at byte {at}")]
    BadWireType {
        /// The wire type found.
        wire_type: u8,
        /// Where the tag starts.
        at: usize,
    },
    /// A tag with field number 0, or one above 2^29 - 1.
    #[error("invalid field number {number} at byte {at}")]
    BadFieldNumber {
        /// The number found.
        number: u64,
        /// Where the tag starts.
        at: usize,
    },
    /// A group closed by a tag of another number, or a closing tag with no group open.
    #[error("unmatched end of group at byte {at}")]
    BadGroup {
        /// Where the closing tag starts.
        at: usize,
    },
    /// A field known to hold a given wire type holds another.
    #[error("field {number} has wire type {found}, expected {expected}")]
    UnexpectedWireType {
        /// The field number.
        number: u32,
        /// The wire type expected.
        expected: WireType,
        /// The wire type found.
        found: WireType,
    },
}

/// The largest field number protobuf allows.
pub const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// Groups may nest; a bound keeps a hostile input from exhausting the stack.
const MAX_GROUP_DEPTH: usize = 64;

/// How a field's payload is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// 0: one varint.
    Varint,
    /// 1: eight bytes.
    Fixed64,
    /// 2: a varint length, then that many bytes.
    Len,
    /// 3: fields up to the matching [`WireType::EndGroup`].
    StartGroup,
    /// 4: closes a group; never a field of its own.
    EndGroup,
    /// 5: four bytes.
    Fixed32,
}

impl WireType {
    /// The wire type of the low three bits of a tag.
    pub fn from_bits(bits: u8) -> Option<WireType> {
        Some(match bits {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return None,
        })
    }

    /// The three bits this wire type occupies in a tag.
    pub fn bits(self) -> u8 {
        match self {
            WireType::Varint => 0,
            WireType::Fixed64 => 1,
            WireType::Len => 2,
            WireType::StartGroup => 3,
            WireType::EndGroup => 4,
            WireType::Fixed32 => 5,
        }
    }
}

impl fmt::Display for WireType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

/// One field of a message, borrowed from the bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field number.
    pub number: u32,
    /// The wire type of its tag.
    pub wire_type: WireType,
    /// The payload: the varint's bytes, the fixed bytes, a length-delimited field's content
    /// (without its length), or a group's fields (without its closing tag).
    pub payload: &'a [u8],
    /// The whole field as it was on the wire, tag included: copying these bytes keeps the
    /// field exactly as it was, whatever its encoding.
    pub raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// The value of a varint field.
    pub fn varint(&self) -> Result<u64, WireError> {
        self.expect(WireType::Varint)?;
        read_varint(self.payload, 0).map(|(v, _)| v)
    }

    /// The content of a length-delimited field (a string, bytes or an embedded message).
    pub fn bytes(&self) -> Result<&'a [u8], WireError> {
        self.expect(WireType::Len)?;
        Ok(self.payload)
    }

    fn expect(&self, expected: WireType) -> Result<(), WireError> {
        if self.wire_type == expected {
            Ok(())
        } else {
            Err(WireError::UnexpectedWireType {
                number: self.number,
                expected,
                found: self.wire_type,
            })
        }
    }
}

/// Reads the varint that starts at `buf[at..]`: its value and the offset just past it.
pub fn read_varint(buf: &[u8], at: usize) -> Result<(u64, usize), WireError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let Some(&byte) = buf.get(at + i) else {
            return Err(WireError::Truncated { at });
        };
        // The tenth byte carries bit 63 only.
        if i == 9 && byte > 1 {
            return Err(WireError::BadVarint { at });
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, at + i + 1));
        }
    }
    Err(WireError::BadVarint { at })
}

/// Appends `value` as a varint, in its shortest form.
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a tag.
pub fn write_tag(out: &mut Vec<u8>, number: u32, wire_type: WireType) {
    write_varint(out, (u64::from(number) << 3) | u64::from(wire_type.bits()));
}

/// Appends a varint field.
pub fn write_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    write_tag(out, number, WireType::Varint);
    write_varint(out, value);
}

/// Appends a length-delimited field: a string, bytes, or an embedded message's bytes.
pub fn write_len_field(out: &mut Vec<u8>, number: u32, content: &[u8]) {
    write_tag(out, number, WireType::Len);
    write_varint(out, content.len() as u64);
    out.extend_from_slice(content);
}

/// A length-delimited field on its own, as bytes ready to splice into a message.
pub fn len_field(number: u32, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    write_len_field(&mut out, number, content);
    out
}

/// Reads one tag at `buf[at..]`: number, wire type, and the offset past it.
fn read_tag(buf: &[u8], at: usize) -> Result<(u32, WireType, usize), WireError> {
    let (tag, next) = read_varint(buf, at)?;
    let bits = (tag & 7) as u8;
    let wire_type = WireType::from_bits(bits).ok_or(WireError::BadWireType {
        wire_type: bits,
        at,
    })?;
    let number = tag >> 3;
    if number == 0 || number > u64::from(MAX_FIELD_NUMBER) {
        return Err(WireError::BadFieldNumber { number, at });
    }
    Ok((number as u32, wire_type, next))
}

fn take(buf: &[u8], from: usize, len: u64, at: usize) -> Result<usize, WireError> {
    let end = usize::try_from(len)
        .ok()
        .and_then(|n| from.checked_add(n))
        .filter(|&end| end <= buf.len())
        .ok_or(WireError::Truncated { at })?;
    Ok(end)
}

/// Reads the field starting at `buf[at..]` (`depth` groups deep).
fn read_field(buf: &[u8], at: usize, depth: usize) -> Result<(Field<'_>, usize), WireError> {
    let (number, wire_type, body) = read_tag(buf, at)?;
    let (payload, end) = match wire_type {
        WireType::Varint => {
            let (_, end) = read_varint(buf, body)?;
            (body..end, end)
        }
        WireType::Fixed64 => {
            let end = take(buf, body, 8, at)?;
            (body..end, end)
        }
        WireType::Fixed32 => {
            let end = take(buf, body, 4, at)?;
            (body..end, end)
        }
        WireType::Len => {
            let (len, start) = read_varint(buf, body)?;
            let end = take(buf, start, len, at)?;
            (start..end, end)
        }
        WireType::StartGroup => {
            if depth >= MAX_GROUP_DEPTH {
                return Err(WireError::BadGroup { at });
            }
            let mut pos = body;
            loop {
                if pos >= buf.len() {
                    return Err(WireError::Truncated { at });
                }
                let (inner_number, inner_type, after) = read_tag(buf, pos)?;
                if inner_type == WireType::EndGroup {
                    if inner_number != number {
                        return Err(WireError::BadGroup { at: pos });
                    }
                    break (body..pos, after);
                }
                let (_, next) = read_field(buf, pos, depth + 1)?;
                pos = next;
            }
        }
        WireType::EndGroup => return Err(WireError::BadGroup { at }),
    };
    let field = Field {
        number,
        wire_type,
        payload: &buf[payload],
        raw: &buf[at..end],
    };
    Ok((field, end))
}

/// The fields of a message, in the order they are on the wire. Yields an error, and then
/// nothing, at the first byte that is not a well-formed field.
pub fn fields(msg: &[u8]) -> Fields<'_> {
    Fields {
        buf: msg,
        pos: 0,
        failed: false,
    }
}

/// All the fields of a message, or the first error.
pub fn parse_fields(msg: &[u8]) -> Result<Vec<Field<'_>>, WireError> {
    fields(msg).collect()
}

/// The iterator of [`fields`].
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match read_field(self.buf, self.pos, 0) {
            Ok((field, end)) => {
                self.pos = end;
                Some(Ok(field))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A message being edited: the fields it is not told to change are written back as their
/// original bytes, in their original places, so anything this code does not model (fields
/// of a newer schema included) survives byte for byte.
///
/// New fields are placed where a writer emitting ascending field numbers would have put
/// them, relative to the fields already there: an input in ascending order stays so.
#[derive(Debug, Clone)]
pub struct Rebuild<'a> {
    parts: Vec<Part<'a>>,
}

#[derive(Debug, Clone)]
enum Part<'a> {
    Kept(Field<'a>),
    New { number: u32, bytes: Vec<u8> },
}

impl Part<'_> {
    fn number(&self) -> u32 {
        match self {
            Part::Kept(f) => f.number,
            Part::New { number, .. } => *number,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Part::Kept(f) => f.raw,
            Part::New { bytes, .. } => bytes,
        }
    }
}

impl<'a> Rebuild<'a> {
    /// Starts from a message's bytes; fails where they are not well-formed fields.
    pub fn parse(msg: &'a [u8]) -> Result<Rebuild<'a>, WireError> {
        Ok(Rebuild {
            parts: fields(msg)
                .map(|f| f.map(Part::Kept))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The fields still taken from the original, with their positions for [`Self::replace`]
    /// and [`Self::remove`].
    pub fn kept(&self) -> impl Iterator<Item = (usize, &Field<'a>)> {
        self.parts.iter().enumerate().filter_map(|(i, p)| match p {
            Part::Kept(f) => Some((i, f)),
            Part::New { .. } => None,
        })
    }

    /// Replaces the part at `index` with `bytes`, one encoded field of number `number`.
    pub fn replace(&mut self, index: usize, number: u32, bytes: Vec<u8>) {
        if let Some(slot) = self.parts.get_mut(index) {
            *slot = Part::New { number, bytes };
        }
    }

    /// Removes the part at `index`.
    pub fn remove(&mut self, index: usize) {
        if index < self.parts.len() {
            self.parts.remove(index);
        }
    }

    /// Sets a singular field to `bytes` (one encoded field of number `number`): it takes the
    /// place of the first occurrence and any later ones are dropped (a reader would have
    /// kept only one value); without one, it goes before the first higher-numbered field.
    pub fn set(&mut self, number: u32, bytes: Vec<u8>) {
        let mut first = None;
        let mut i = 0;
        while i < self.parts.len() {
            if self.parts[i].number() == number {
                if first.is_none() {
                    first = Some(i);
                    i += 1;
                } else {
                    self.parts.remove(i);
                }
            } else {
                i += 1;
            }
        }
        match first {
            Some(i) => self.parts[i] = Part::New { number, bytes },
            None => {
                let at = self.insertion_point(number);
                self.parts.insert(at, Part::New { number, bytes });
            }
        }
    }

    /// Appends one occurrence of a repeated field: after its last occurrence, or, without
    /// one, before the first higher-numbered field.
    pub fn append(&mut self, number: u32, bytes: Vec<u8>) {
        let at = match self.parts.iter().rposition(|p| p.number() == number) {
            Some(last) => last + 1,
            None => self.insertion_point(number),
        };
        self.parts.insert(at, Part::New { number, bytes });
    }

    fn insertion_point(&self, number: u32) -> usize {
        self.parts
            .iter()
            .position(|p| p.number() > number)
            .unwrap_or(self.parts.len())
    }

    /// The edited message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = self.parts.iter().map(|p| p.bytes().len()).sum();
        let mut out = Vec::with_capacity(len);
        for part in &self.parts {
            out.extend_from_slice(part.bytes());
        }
        out
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
