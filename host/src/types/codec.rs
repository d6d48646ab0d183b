//! The binary encoding of [`Value`]s and of the rows the online store keeps.
//!
//! These bytes live on disk in the LMDB online store, so the format is part of the store's
//! compatibility contract: it is versioned, self-describing (a value can be decoded without
//! knowing its dtype, so a dtype change never makes old rows unreadable), compact, and cheap
//! to decode. The golden-byte tests below pin it; changing them means a new format version.
//!
//! # Values
//!
//! A value is a one-byte tag followed by its payload. Integers and floats are little-endian;
//! `varint` is an unsigned LEB128 integer (7 bits per byte, low bits first, at most 10 bytes).
//!
//! | tag | `Value`         | payload                                                    |
//! |-----|-----------------|------------------------------------------------------------|
//! | 0   | `Null`          | none                                                       |
//! | 1   | `Bytes`         | varint length, the bytes                                   |
//! | 2   | `String`        | varint length, UTF-8                                       |
//! | 3   | `Int32`         | 4 bytes                                                    |
//! | 4   | `Int64`         | 8 bytes                                                    |
//! | 5   | `Double`        | 8 bytes: the IEEE 754 bits (NaN payloads are kept)         |
//! | 6   | `Float`         | 4 bytes: the IEEE 754 bits (NaN payloads are kept)         |
//! | 7   | `Bool`          | 1 byte, 0 or 1                                             |
//! | 8   | `UnixTimestamp` | 8 bytes: seconds since the epoch                           |
//! | 9   | —               | reserved, never written                                    |
//! | 10  | `List`          | varint count, then each element as a value                 |
//! | 11  | `Map`           | varint count, then each entry: varint key length, UTF-8 key, value |
//! | 12  | `Json`          | varint length, UTF-8 (the JSON text)                       |
//! | 13  | `Struct`        | as `Map`: field name, field value, in declaration order    |
//!
//! Containers nest at most [`MAX_VALUE_DEPTH`] deep; the decoder refuses deeper input so that
//! hostile bytes cannot overflow the stack.
//!
//! # Rows
//!
//! What the online store keeps per (feature view, entity):
//!
//! ```text
//! [format version: u8 = 1]
//! [event_ts:   i64 LE, microseconds since the epoch]
//! [created_ts: i64 LE, microseconds since the epoch]
//! [n: varint]
//! n × ( [name length: varint][name: UTF-8][value length: varint][value] )
//! ```
//!
//! Features are stored by name, so a view may gain or lose features without its stored rows
//! being rewritten. The value length lets a reader skip the features it was not asked for
//! without decoding them, and the fixed-offset timestamps let the write-conflict check read
//! them alone ([`decode_row_header`]).

use super::Value;

/// The version byte that starts every row this build writes; [`RowRef::parse`] refuses others.
pub const ROW_FORMAT_VERSION: u8 = 1;

/// How deeply lists, maps and structs may nest inside one value. The decoder recurses once per
/// level, so this bounds its stack use on hostile input; writers must not store deeper values
/// (Feast's own types nest two or three levels).
pub const MAX_VALUE_DEPTH: usize = 64;

const TAG_NULL: u8 = 0;
const TAG_BYTES: u8 = 1;
const TAG_STRING: u8 = 2;
const TAG_INT32: u8 = 3;
const TAG_INT64: u8 = 4;
const TAG_DOUBLE: u8 = 5;
const TAG_FLOAT: u8 = 6;
const TAG_BOOL: u8 = 7;
const TAG_UNIX_TIMESTAMP: u8 = 8;
const TAG_LIST: u8 = 10;
const TAG_MAP: u8 = 11;
const TAG_JSON: u8 = 12;
const TAG_STRUCT: u8 = 13;

/// Version byte, event timestamp, created timestamp.
const ROW_HEADER_LEN: usize = 1 + 8 + 8;

/// The most elements a container's declared count may pre-allocate; larger containers grow as
/// they decode, so a lying count cannot make the decoder allocate far beyond the input.
const PREALLOC_LIMIT: usize = 1024;

/// Why bytes could not be decoded. Every variant means the stored bytes are damaged or were
/// written by an incompatible build; none can come from valid input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ends before the thing being read does.
    #[error("encoded data is truncated: {what} needs {needed} bytes but only {available} remain")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// How many bytes it needs.
        needed: u64,
        /// How many were left.
        available: usize,
    },
    /// A varint runs past 10 bytes or 64 bits, or is overlong (ends in a zero byte).
    #[error("encoded data has a malformed varint in {what}")]
    BadVarint {
        /// What was being read.
        what: &'static str,
    },
    /// A value tag this build does not know.
    #[error(
        "unknown value tag {0}; this build reads tags 0-8 and 10-13 (was the store written by a newer edgefeat?)"
    )]
    UnknownTag(u8),
    /// Text that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// What was being read.
        what: &'static str,
    },
    /// A `Bool` byte other than 0 or 1.
    #[error("a Bool value is encoded as {0}; only 0 and 1 are valid")]
    InvalidBool(u8),
    /// Containers nested deeper than [`MAX_VALUE_DEPTH`].
    #[error("a value nests lists, maps and structs more than {MAX_VALUE_DEPTH} levels deep")]
    TooDeep,
    /// A row written in a format version this build cannot read.
    #[error(
        "online row format version {0} is not supported; this build reads version {ROW_FORMAT_VERSION} (was the store written by a newer edgefeat?)"
    )]
    UnsupportedRowVersion(u8),
    /// A row's value-length prefix disagrees with the value it frames.
    #[error("feature `{name}` declares {declared} bytes but its value takes {actual}")]
    ValueLengthMismatch {
        /// The feature's name.
        name: String,
        /// The length the row declares.
        declared: usize,
        /// The length the value decodes from.
        actual: usize,
    },
    /// Bytes after a row's last feature.
    #[error("{0} unexpected bytes follow the row's last feature")]
    TrailingBytes(usize),
}

/// Appends the encoding of `value` to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            put_len_prefixed(b, out);
        }
        Value::String(s) => {
            out.push(TAG_STRING);
            put_len_prefixed(s.as_bytes(), out);
        }
        Value::Int32(v) => {
            out.push(TAG_INT32);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Value::Int64(v) => {
            out.push(TAG_INT64);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Value::Double(v) => {
            out.push(TAG_DOUBLE);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Value::Float(v) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Value::Bool(v) => {
            out.push(TAG_BOOL);
            out.push(u8::from(*v));
        }
        Value::UnixTimestamp(v) => {
            out.push(TAG_UNIX_TIMESTAMP);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Value::List(items) => {
            out.push(TAG_LIST);
            put_varint(items.len() as u64, out);
            for item in items {
                encode_value(item, out);
            }
        }
        Value::Map(entries) => {
            out.push(TAG_MAP);
            put_entries(entries, out);
        }
        Value::Json(s) => {
            out.push(TAG_JSON);
            put_len_prefixed(s.as_bytes(), out);
        }
        Value::Struct(fields) => {
            out.push(TAG_STRUCT);
            put_entries(fields, out);
        }
    }
}

/// Decodes one value from the front of `input`, returning it and the bytes consumed.
///
/// Bytes after the value are left alone (the caller knows what follows); everything the value
/// itself claims is validated.
pub fn decode_value(input: &[u8]) -> Result<(Value, usize), CodecError> {
    let mut r = Reader { rest: input };
    let value = decode_at(&mut r, 0)?;
    Ok((value, input.len() - r.rest.len()))
}

/// Appends a stored online row: its timestamps (microseconds since the epoch) and its features
/// by name. Names should be distinct; if one repeats, readers see its first value.
pub fn encode_row(
    event_ts_micros: i64,
    created_ts_micros: i64,
    features: &[(&str, &Value)],
    out: &mut Vec<u8>,
) {
    out.push(ROW_FORMAT_VERSION);
    out.extend_from_slice(&event_ts_micros.to_le_bytes());
    out.extend_from_slice(&created_ts_micros.to_le_bytes());
    put_varint(features.len() as u64, out);
    for (name, value) in features {
        put_len_prefixed(name.as_bytes(), out);
        put_varint(encoded_len(value) as u64, out);
        encode_value(value, out);
    }
}

/// Reads only a row's (event, created) timestamps: the write-conflict check needs nothing else,
/// so it neither walks nor validates the features.
pub fn decode_row_header(bytes: &[u8]) -> Result<(i64, i64), CodecError> {
    let mut r = Reader { rest: bytes };
    let version = r.array::<1>("the row's format version")?[0];
    if version != ROW_FORMAT_VERSION {
        return Err(CodecError::UnsupportedRowVersion(version));
    }
    let event = i64::from_le_bytes(r.array("the row's event timestamp")?);
    let created = i64::from_le_bytes(r.array("the row's created timestamp")?);
    Ok((event, created))
}

/// A zero-copy view over an encoded row (see the module doc for the layout).
///
/// [`RowRef::parse`] checks the row's structure once (header, every name and value length,
/// nothing trailing); values are decoded only when [`RowRef::features`] asks for them.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    event_ts_micros: i64,
    created_ts_micros: i64,
    count: usize,
    /// The `n` entries, starting right after the count.
    entries: &'a [u8],
}

impl<'a> RowRef<'a> {
    /// Checks the row's framing and returns a view over it; the values themselves are
    /// validated when they are decoded.
    pub fn parse(bytes: &'a [u8]) -> Result<RowRef<'a>, CodecError> {
        let (event_ts_micros, created_ts_micros) = decode_row_header(bytes)?;
        let mut r = Reader {
            rest: bytes.get(ROW_HEADER_LEN..).unwrap_or_default(),
        };
        let count = r.count("the row's feature count", 3)?;
        let entries = r.rest;
        for _ in 0..count {
            r.str("a feature name")?;
            r.len_prefixed("a feature value")?;
        }
        if !r.rest.is_empty() {
            return Err(CodecError::TrailingBytes(r.rest.len()));
        }
        Ok(RowRef {
            event_ts_micros,
            created_ts_micros,
            count,
            entries,
        })
    }

    /// When the row's values became true (microseconds since the epoch).
    pub fn event_ts_micros(&self) -> i64 {
        self.event_ts_micros
    }

    /// When the row was written (microseconds since the epoch); breaks ties between equal
    /// event timestamps.
    pub fn created_ts_micros(&self) -> i64 {
        self.created_ts_micros
    }

    /// Decodes the requested features, in the order asked; None for a feature the row does not
    /// hold (written before the view gained it).
    ///
    /// One pass over the row: each stored feature is decoded only if it was asked for, and the
    /// pass stops once every name is found. A name asked for twice gets the value twice.
    pub fn features(&self, names: &[&str]) -> Result<Vec<Option<Value>>, CodecError> {
        let mut found: Vec<Option<Value>> = vec![None; names.len()];
        let mut missing = names.len();
        let mut r = Reader { rest: self.entries };
        for _ in 0..self.count {
            if missing == 0 {
                break;
            }
            let name = r.len_prefixed("a feature name")?;
            let value_bytes = r.len_prefixed("a feature value")?;
            let mut slots = found
                .iter_mut()
                .zip(names)
                .filter(|(slot, want)| slot.is_none() && want.as_bytes() == name)
                .map(|(slot, _)| slot);
            let Some(first) = slots.next() else {
                continue;
            };
            let value = decode_feature(name, value_bytes)?;
            for slot in slots {
                *slot = Some(value.clone());
                missing -= 1;
            }
            *first = Some(value);
            missing -= 1;
        }
        Ok(found)
    }
}

/// Decodes a feature's value, which must fill its framed bytes exactly.
fn decode_feature(name: &[u8], value_bytes: &[u8]) -> Result<Value, CodecError> {
    let (value, used) = decode_value(value_bytes)?;
    if used != value_bytes.len() {
        return Err(CodecError::ValueLengthMismatch {
            name: String::from_utf8_lossy(name).into_owned(),
            declared: value_bytes.len(),
            actual: used,
        });
    }
    Ok(value)
}

fn decode_at(r: &mut Reader<'_>, depth: usize) -> Result<Value, CodecError> {
    let tag = r.array::<1>("a value tag")?[0];
    Ok(match tag {
        TAG_NULL => Value::Null,
        TAG_BYTES => Value::Bytes(r.len_prefixed("a Bytes value")?.to_vec()),
        TAG_STRING => Value::String(r.str("a String value")?.to_owned()),
        TAG_INT32 => Value::Int32(i32::from_le_bytes(r.array("an Int32 value")?)),
        TAG_INT64 => Value::Int64(i64::from_le_bytes(r.array("an Int64 value")?)),
        TAG_DOUBLE => Value::Double(f64::from_bits(u64::from_le_bytes(
            r.array("a Double value")?,
        ))),
        TAG_FLOAT => Value::Float(f32::from_bits(u32::from_le_bytes(
            r.array("a Float value")?,
        ))),
        TAG_BOOL => match r.array::<1>("a Bool value")?[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            other => return Err(CodecError::InvalidBool(other)),
        },
        TAG_UNIX_TIMESTAMP => {
            Value::UnixTimestamp(i64::from_le_bytes(r.array("a UnixTimestamp value")?))
        }
        TAG_LIST => {
            if depth >= MAX_VALUE_DEPTH {
                return Err(CodecError::TooDeep);
            }
            let count = r.count("a List's elements", 1)?;
            let mut items = Vec::with_capacity(count.min(PREALLOC_LIMIT));
            for _ in 0..count {
                items.push(decode_at(r, depth + 1)?);
            }
            Value::List(items)
        }
        TAG_MAP => Value::Map(decode_entries(r, depth, "a Map key")?),
        TAG_JSON => Value::Json(r.str("a Json value")?.to_owned()),
        TAG_STRUCT => Value::Struct(decode_entries(r, depth, "a Struct field name")?),
        other => return Err(CodecError::UnknownTag(other)),
    })
}

/// The entries of a Map or Struct: count, then (name, value) pairs.
fn decode_entries(
    r: &mut Reader<'_>,
    depth: usize,
    what: &'static str,
) -> Result<Vec<(String, Value)>, CodecError> {
    if depth >= MAX_VALUE_DEPTH {
        return Err(CodecError::TooDeep);
    }
    let count = r.count("a Map's or Struct's entries", 2)?;
    let mut entries = Vec::with_capacity(count.min(PREALLOC_LIMIT));
    for _ in 0..count {
        let name = r.str(what)?.to_owned();
        entries.push((name, decode_at(r, depth + 1)?));
    }
    Ok(entries)
}

fn put_entries(entries: &[(String, Value)], out: &mut Vec<u8>) {
    put_varint(entries.len() as u64, out);
    for (name, value) in entries {
        put_len_prefixed(name.as_bytes(), out);
        encode_value(value, out);
    }
}

fn put_len_prefixed(bytes: &[u8], out: &mut Vec<u8>) {
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Unsigned LEB128: 7 bits per byte, low bits first, high bit set on all but the last byte.
fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        // Truncation to the low 7 bits is the point.
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    // Bits needed (at least 1), 7 per byte, rounded up.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn len_prefixed_len(len: usize) -> usize {
    varint_len(len as u64) + len
}

/// The size [`encode_value`] will write, so a row can frame a value without a scratch buffer.
fn encoded_len(value: &Value) -> usize {
    1 + match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int32(_) | Value::Float(_) => 4,
        Value::Int64(_) | Value::Double(_) | Value::UnixTimestamp(_) => 8,
        Value::Bytes(b) => len_prefixed_len(b.len()),
        Value::String(s) | Value::Json(s) => len_prefixed_len(s.len()),
        Value::List(items) => {
            varint_len(items.len() as u64) + items.iter().map(encoded_len).sum::<usize>()
        }
        Value::Map(entries) | Value::Struct(entries) => {
            varint_len(entries.len() as u64)
                + entries
                    .iter()
                    .map(|(name, value)| len_prefixed_len(name.len()) + encoded_len(value))
                    .sum::<usize>()
        }
    }
}

/// A bounds-checked reader consuming `rest` from the front.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(CodecError::Truncated {
                what,
                needed: N as u64,
                available: self.rest.len(),
            });
        };
        self.rest = rest;
        Ok(*head)
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7f);
            // The 10th byte may only carry the 64th bit.
            if i == 9 && bits > 1 {
                return Err(CodecError::BadVarint { what });
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                // A trailing zero byte would be a second spelling of a shorter varint; refusing
                // it keeps every value's encoding unique.
                if byte == 0 && i > 0 {
                    return Err(CodecError::BadVarint { what });
                }
                self.rest = self.rest.get(i + 1..).unwrap_or_default();
                return Ok(v);
            }
        }
        if self.rest.len() >= 10 {
            Err(CodecError::BadVarint { what })
        } else {
            Err(CodecError::Truncated {
                what,
                needed: self.rest.len() as u64 + 1,
                available: self.rest.len(),
            })
        }
    }

    /// A varint length followed by that many bytes.
    fn len_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = self.varint(what)?;
        let taken = usize::try_from(len)
            .ok()
            .and_then(|n| self.rest.split_at_checked(n));
        let Some((bytes, rest)) = taken else {
            return Err(CodecError::Truncated {
                what,
                needed: len,
                available: self.rest.len(),
            });
        };
        self.rest = rest;
        Ok(bytes)
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, CodecError> {
        std::str::from_utf8(self.len_prefixed(what)?).map_err(|_| CodecError::InvalidUtf8 { what })
    }

    /// A varint element count, rejected at once if the remaining input cannot hold that many
    /// elements of at least `min_size` bytes each.
    fn count(&mut self, what: &'static str, min_size: u64) -> Result<usize, CodecError> {
        let count = self.varint(what)?;
        let needed = count.saturating_mul(min_size);
        match usize::try_from(count) {
            Ok(n) if needed <= self.rest.len() as u64 => Ok(n),
            _ => Err(CodecError::Truncated {
                what,
                needed,
                available: self.rest.len(),
            }),
        }
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
