//! Feast's entity-key serialization (`serialize_entity_key`, version 3), byte for byte.
//!
//! Online stores key their rows by these bytes, so edgefeat must produce exactly what Feast
//! produces for the same join keys: a store key then means the same entity to both, and the
//! bytes never depend on the order in which a request happened to list its join keys.
//!
//! Layout, every integer a little-endian `u32`:
//!
//! ```text
//! count
//! count × ( 2 (ValueType STRING) , name_len , name as UTF-8 )   names sorted by byte order
//! count × ( value_type , value_len , value bytes )               in the same order as the names
//! ```
//!
//! | `Value`         | `value_type` | value bytes              |
//! |-----------------|--------------|--------------------------|
//! | `Bytes`         | 1            | the raw bytes            |
//! | `String`        | 2            | UTF-8                    |
//! | `Int32`         | 3            | 4 bytes, little-endian   |
//! | `Int64`         | 4            | 8 bytes, little-endian   |
//! | `UnixTimestamp` | 8            | 8 bytes, little-endian   |
//!
//! Feast cannot key by any other value type, so neither can we. Feast also fails on an empty
//! key and on a join key named twice (it cannot order two values), and we reject both too.
//!
//! One known divergence: for a join key *name* that is not ASCII, Feast's Python writes
//! `len(name)` in characters where the bytes that follow are UTF-8, so its own deserializer
//! cannot read such a key back. We write the UTF-8 byte length; for ASCII names, which is
//! what join keys are in practice, the two agree byte for byte.

use super::{Value, ValueType};

/// Why an entity key could not be serialized or deserialized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityKeyError {
    /// A join key holds a value Feast cannot key by.
    #[error(
        "entity key `{key}` cannot hold a {kind} value; keys are Int32, Int64, String, Bytes or UnixTimestamp"
    )]
    UnsupportedValue {
        /// The join key's name.
        key: String,
        /// The value's kind, e.g. `Float`.
        kind: &'static str,
    },
    /// No join keys were given; every entity key names at least one.
    #[error("an entity key needs at least one join key")]
    Empty,
    /// The same join key was given twice, so the key's bytes would be ambiguous.
    #[error("entity key `{0}` is given twice; each join key may appear once")]
    DuplicateKey(String),
    /// A name, a value or the key count does not fit the format's 32-bit lengths.
    #[error("entity key `{0}` is too large to serialize: lengths are limited to 4 GiB")]
    TooLarge(String),
    /// The bytes are not a version-3 entity key.
    #[error("malformed entity key bytes at offset {offset}: {reason}")]
    Malformed {
        /// Where in the input the problem was found.
        offset: usize,
        /// What is wrong there.
        reason: String,
    },
}

/// Serializes an entity key the way Feast's `serialize_entity_key` v3 does.
///
/// `keys` are the (join key name, value) pairs in any order; the output is the same for every
/// order. Only `Int32`, `Int64`, `String`, `Bytes` and `UnixTimestamp` values can be keys.
pub fn serialize_entity_key(keys: &[(&str, &Value)]) -> Result<Vec<u8>, EntityKeyError> {
    let mut out = Vec::with_capacity(serialized_len_hint(keys));
    serialize_entity_key_into(keys, &mut out)?;
    Ok(out)
}

/// Appends the serialization to `out` (the hot path reuses one buffer).
///
/// On error `out` is left as it was. Keys already in sorted order are written without
/// allocating; any other order costs one small allocation to sort.
pub fn serialize_entity_key_into(
    keys: &[(&str, &Value)],
    out: &mut Vec<u8>,
) -> Result<(), EntityKeyError> {
    let start = out.len();
    let result = write_key(keys, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The inverse, for tools and tests: the (name, value) pairs in the order the bytes hold them
/// (sorted, for bytes this module or Feast wrote).
///
/// Like Feast's own deserializer, the order of the names is not checked; everything else is,
/// and trailing bytes are an error.
pub fn deserialize_entity_key(bytes: &[u8]) -> Result<Vec<(String, Value)>, EntityKeyError> {
    let mut r = Cursor { bytes, pos: 0 };
    let count = r.u32("the key count")?;
    if count == 0 {
        return Err(r.malformed(0, "it holds no join keys".into()));
    }
    // Every key takes at least 8 bytes for its name and 8 for its value, so a count the input
    // cannot hold is rejected before anything is allocated for it.
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count > bytes.len() / 16 {
        return Err(r.malformed(
            0,
            format!(
                "it claims {count} join keys but is only {} bytes long",
                bytes.len()
            ),
        ));
    }
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        let at = r.pos;
        let key_type = r.u32("a join key's type")?;
        if key_type != ValueType::String as u32 {
            return Err(r.malformed(
                at,
                format!("join key type {key_type}; names are always type 2 (STRING)"),
            ));
        }
        let at = r.pos;
        let name = r.len_prefixed("a join key name")?;
        let name = std::str::from_utf8(name)
            .map_err(|_| r.malformed(at, "a join key name is not valid UTF-8".into()))?;
        names.push(name.to_owned());
    }
    let mut out = Vec::with_capacity(count);
    for name in names {
        let at = r.pos;
        let value_type = r.u32("a value's type")?;
        let payload = r.len_prefixed("a value")?;
        let value = match value_type {
            t if t == ValueType::Bytes as u32 => Value::Bytes(payload.to_vec()),
            t if t == ValueType::String as u32 => match std::str::from_utf8(payload) {
                Ok(s) => Value::String(s.to_owned()),
                Err(_) => {
                    return Err(r.malformed(
                        at,
                        format!("the String value of `{name}` is not valid UTF-8"),
                    ));
                }
            },
            t if t == ValueType::Int32 as u32 => {
                Value::Int32(i32::from_le_bytes(r.fixed(at, &name, payload)?))
            }
            t if t == ValueType::Int64 as u32 => {
                Value::Int64(i64::from_le_bytes(r.fixed(at, &name, payload)?))
            }
            t if t == ValueType::UnixTimestamp as u32 => {
                Value::UnixTimestamp(i64::from_le_bytes(r.fixed(at, &name, payload)?))
            }
            other => {
                return Err(r.malformed(
                    at,
                    format!(
                        "value type {other} for `{name}`; keys are BYTES (1), STRING (2), INT32 (3), INT64 (4) or UNIX_TIMESTAMP (8)"
                    ),
                ));
            }
        };
        out.push((name, value));
    }
    if r.pos != bytes.len() {
        let extra = bytes.len() - r.pos;
        return Err(r.malformed(r.pos, format!("{extra} bytes follow the last value")));
    }
    Ok(out)
}

/// Sorts (only when needed), rejects empty and duplicate keys, and writes.
fn write_key(keys: &[(&str, &Value)], out: &mut Vec<u8>) -> Result<(), EntityKeyError> {
    if keys.is_empty() {
        return Err(EntityKeyError::Empty);
    }
    // Strictly increasing means sorted *and* free of duplicates: the common case of a single
    // key, or of callers that already list keys in order, writes straight from the input.
    if keys.is_sorted_by(|a, b| a.0 < b.0) {
        return write_sorted(keys.iter(), out);
    }
    let mut sorted: Vec<&(&str, &Value)> = keys.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && a.0 == b.0
        {
            return Err(EntityKeyError::DuplicateKey(a.0.to_owned()));
        }
    }
    write_sorted(sorted.into_iter(), out)
}

/// Writes keys already in sorted order.
fn write_sorted<'k, 'v: 'k>(
    keys: impl ExactSizeIterator<Item = &'k (&'v str, &'v Value)> + Clone,
    out: &mut Vec<u8>,
) -> Result<(), EntityKeyError> {
    let count = u32::try_from(keys.len())
        .map_err(|_| EntityKeyError::TooLarge(format!("<{} join keys>", keys.len())))?;
    put_u32(out, count);
    for (name, _) in keys.clone() {
        put_u32(out, ValueType::String as u32);
        put_len_prefixed(out, name, name.as_bytes())?;
    }
    for (name, value) in keys {
        let (value_type, payload): (ValueType, &[u8]) = match value {
            Value::String(s) => (ValueType::String, s.as_bytes()),
            Value::Bytes(b) => (ValueType::Bytes, b),
            Value::Int32(v) => {
                put_fixed(out, ValueType::Int32, &v.to_le_bytes());
                continue;
            }
            Value::Int64(v) => {
                put_fixed(out, ValueType::Int64, &v.to_le_bytes());
                continue;
            }
            Value::UnixTimestamp(v) => {
                put_fixed(out, ValueType::UnixTimestamp, &v.to_le_bytes());
                continue;
            }
            other => {
                return Err(EntityKeyError::UnsupportedValue {
                    key: (*name).to_owned(),
                    kind: kind_name(other),
                });
            }
        };
        put_u32(out, value_type as u32);
        put_len_prefixed(out, name, payload)?;
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A fixed-width value: its type, its (constant) length, its bytes.
fn put_fixed<const N: usize>(out: &mut Vec<u8>, value_type: ValueType, bytes: &[u8; N]) {
    put_u32(out, value_type as u32);
    // N is 4 or 8, so the cast is exact.
    put_u32(out, N as u32);
    out.extend_from_slice(bytes);
}

fn put_len_prefixed(out: &mut Vec<u8>, key: &str, bytes: &[u8]) -> Result<(), EntityKeyError> {
    let len = u32::try_from(bytes.len()).map_err(|_| EntityKeyError::TooLarge(key.to_owned()))?;
    put_u32(out, len);
    out.extend_from_slice(bytes);
    Ok(())
}

/// The exact size for keys of fixed-width values, a close guess otherwise; only sizes the
/// first allocation.
fn serialized_len_hint(keys: &[(&str, &Value)]) -> usize {
    4 + keys
        .iter()
        .map(|(name, value)| {
            16 + name.len()
                + match value {
                    Value::String(s) => s.len(),
                    Value::Bytes(b) => b.len(),
                    Value::Int32(_) => 4,
                    _ => 8,
                }
        })
        .sum::<usize>()
}

/// The variant's name, for error messages.
fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bytes(_) => "Bytes",
        Value::String(_) => "String",
        Value::Int32(_) => "Int32",
        Value::Int64(_) => "Int64",
        Value::Double(_) => "Double",
        Value::Float(_) => "Float",
        Value::Bool(_) => "Bool",
        Value::UnixTimestamp(_) => "UnixTimestamp",
        Value::List(_) => "List",
        Value::Map(_) => "Map",
        Value::Json(_) => "Json",
        Value::Struct(_) => "Struct",
    }
}

/// A bounds-checked reader over serialized key bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn malformed(&self, offset: usize, reason: String) -> EntityKeyError {
        EntityKeyError::Malformed { offset, reason }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], EntityKeyError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        match rest.get(..n) {
            Some(taken) => {
                self.pos += n;
                Ok(taken)
            }
            None => Err(self.malformed(
                self.pos,
                format!(
                    "the input ends inside {what} ({n} bytes needed, {} left)",
                    rest.len()
                ),
            )),
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32, EntityKeyError> {
        let taken = self.take(4, what)?;
        let mut buf = [0u8; 4];
        buf.copy_from_slice(taken);
        Ok(u32::from_le_bytes(buf))
    }

    fn len_prefixed(&mut self, what: &str) -> Result<&'a [u8], EntityKeyError> {
        let len = self.u32(what)?;
        self.take(usize::try_from(len).unwrap_or(usize::MAX), what)
    }

    /// A fixed-width payload, which must be exactly `N` bytes.
    fn fixed<const N: usize>(
        &self,
        at: usize,
        name: &str,
        payload: &[u8],
    ) -> Result<[u8; N], EntityKeyError> {
        <[u8; N]>::try_from(payload).map_err(|_| {
            self.malformed(
                at,
                format!(
                    "the value of `{name}` is {} bytes; its type takes exactly {N}",
                    payload.len()
                ),
            )
        })
    }
}

#[cfg(test)]
#[path = "entity_key_tests.rs"]
mod tests;
