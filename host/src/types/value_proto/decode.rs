//! Reading Feast's `Value` protobuf into a [`Value`]: the field number says what the value
//! is, so no dtype is needed; with one, a struct's declared fields come first. Anything
//! malformed, too deep, or of a kind edgefeat has no dtype for is an error, never a guess.

use super::schema::*;
use super::wire::{I32, I64, LEN, Reader, VARINT, utf8};
use super::{Result, ValueProtoError, deeper};
use crate::types::{DType, Value};

/// Decodes a `Value` protobuf, all of `bytes`. The empty input, and `null_val`, are
/// [`Value::Null`]. With `dtype`, a struct's declared fields come first, in declaration order;
/// the value's kind always comes from the bytes.
pub fn decode_value(bytes: &[u8], dtype: Option<&DType>) -> Result<Value> {
    decode_at(bytes, dtype, 0)
}

fn decode_at(bytes: &[u8], dtype: Option<&DType>, depth: usize) -> Result<Value> {
    let mut r = Reader { rest: bytes };
    let mut value = Value::Null;
    // Protobuf's rule for a oneof seen more than once: the last one wins.
    while !r.rest.is_empty() {
        let (field, wire_type) = r.key("a Value field")?;
        let expect = |want: u8| {
            if wire_type == want {
                Ok(())
            } else {
                Err(ValueProtoError::WireType {
                    what: "a Value",
                    field,
                    wire_type,
                })
            }
        };
        value = match field {
            BYTES => {
                expect(LEN)?;
                Value::Bytes(r.len_prefixed("a bytes_val")?.to_vec())
            }
            STRING => {
                expect(LEN)?;
                Value::String(r.str("a string_val")?.to_owned())
            }
            INT32 => {
                expect(VARINT)?;
                // Protobuf reads an int32 as the low 32 bits of the varint.
                Value::Int32(r.varint("an int32_val")? as i32)
            }
            INT64 => {
                expect(VARINT)?;
                Value::Int64(r.varint("an int64_val")? as i64)
            }
            DOUBLE => {
                expect(I64)?;
                Value::Double(f64::from_le_bytes(r.array("a double_val")?))
            }
            FLOAT => {
                expect(I32)?;
                Value::Float(f32::from_le_bytes(r.array("a float_val")?))
            }
            BOOL => {
                expect(VARINT)?;
                Value::Bool(r.varint("a bool_val")? != 0)
            }
            UNIX_TIMESTAMP => {
                expect(VARINT)?;
                timestamp(r.varint("a unix_timestamp_val")? as i64)
            }
            NULL => {
                expect(VARINT)?;
                r.varint("a null_val")?;
                Value::Null
            }
            BYTES_LIST..=UNIX_TIMESTAMP_LIST | JSON_LIST => {
                expect(LEN)?;
                decode_typed_list(field, r.len_prefixed("a list value")?)?
            }
            MAP | STRUCT => {
                expect(LEN)?;
                let body = r.len_prefixed("a map value")?;
                let declared = if field == STRUCT { dtype } else { None };
                let entries = decode_entries(body, declared, deeper(depth)?)?;
                if field == MAP {
                    Value::Map(entries)
                } else {
                    Value::Struct(entries)
                }
            }
            MAP_LIST | STRUCT_LIST => {
                expect(LEN)?;
                let body = r.len_prefixed("a map list value")?;
                let element = match dtype {
                    Some(DType::Array(element)) => Some(&**element),
                    _ => None,
                };
                decode_map_list(body, field == STRUCT_LIST, element, deeper(depth)?)?
            }
            JSON => {
                expect(LEN)?;
                Value::Json(r.str("a json_val")?.to_owned())
            }
            LIST => {
                expect(LEN)?;
                let body = r.len_prefixed("a list_val")?;
                let element = match dtype {
                    Some(DType::Array(element)) => Some(&**element),
                    _ => None,
                };
                decode_nested_list(body, element, deeper(depth)?)?
            }
            other => {
                return Err(match unsupported(other) {
                    Some((field, kind)) => ValueProtoError::Unsupported { field, kind },
                    None => ValueProtoError::UnknownKind(other),
                });
            }
        };
    }
    Ok(value)
}

/// A `unix_timestamp_val` (or list element): Feast's null sentinel reads as null.
fn timestamp(seconds: i64) -> Value {
    if seconds == NULL_TIMESTAMP {
        Value::Null
    } else {
        Value::UnixTimestamp(seconds)
    }
}

/// One of the typed list messages: its field `val` = 1, repeated; numbers packed or not
/// (a reader must take both), strings one record each.
fn decode_typed_list(field: u64, body: &[u8]) -> Result<Value> {
    let mut r = Reader { rest: body };
    let mut items = Vec::new();
    while !r.rest.is_empty() {
        let (number, wire_type) = r.key("a list element")?;
        if number != VAL {
            r.skip(wire_type, "a list message")?;
            continue;
        }
        let scalar_wire = match field {
            DOUBLE_LIST => I64,
            FLOAT_LIST => I32,
            BYTES_LIST | STRING_LIST | JSON_LIST => LEN,
            _ => VARINT,
        };
        let bad_wire = ValueProtoError::WireType {
            what: "a list",
            field: number,
            wire_type,
        };
        match (scalar_wire, wire_type) {
            (LEN, LEN) => {
                let bytes = r.len_prefixed("a list element")?;
                items.push(match field {
                    BYTES_LIST => Value::Bytes(bytes.to_vec()),
                    STRING_LIST => Value::String(utf8(bytes, "a string list element")?.to_owned()),
                    _ => Value::Json(utf8(bytes, "a json list element")?.to_owned()),
                });
            }
            (LEN, _) => return Err(bad_wire),
            (scalar, LEN) => {
                // Packed: the elements back to back.
                let mut packed = Reader {
                    rest: r.len_prefixed("a packed list")?,
                };
                if scalar == I64 {
                    items.reserve(packed.rest.len() / 8);
                } else if scalar == I32 {
                    items.reserve(packed.rest.len() / 4);
                }
                while !packed.rest.is_empty() {
                    items.push(list_scalar(field, scalar, &mut packed)?);
                }
            }
            (scalar, found) if scalar == found => items.push(list_scalar(field, scalar, &mut r)?),
            _ => return Err(bad_wire),
        }
    }
    Ok(Value::List(items))
}

fn list_scalar(field: u64, wire_type: u8, r: &mut Reader<'_>) -> Result<Value> {
    Ok(match (field, wire_type) {
        (DOUBLE_LIST, _) => Value::Double(f64::from_le_bytes(r.array("a double list element")?)),
        (FLOAT_LIST, _) => Value::Float(f32::from_le_bytes(r.array("a float list element")?)),
        (INT32_LIST, _) => Value::Int32(r.varint("an int32 list element")? as i32),
        (INT64_LIST, _) => Value::Int64(r.varint("an int64 list element")? as i64),
        (BOOL_LIST, _) => Value::Bool(r.varint("a bool list element")? != 0),
        _ => timestamp(r.varint("a timestamp list element")? as i64),
    })
}

/// A `Map`'s entries, in the order stored; with a struct dtype, its declared fields first. A
/// key stored twice keeps its last value (protobuf's rule for maps).
fn decode_entries(
    body: &[u8],
    dtype: Option<&DType>,
    depth: usize,
) -> Result<Vec<(String, Value)>> {
    let fields = match dtype {
        Some(DType::Struct(fields)) => Some(fields.as_slice()),
        _ => None,
    };
    let mut r = Reader { rest: body };
    let mut entries: Vec<(String, Value)> = Vec::new();
    let mut keys = KeyIndex::default();
    while !r.rest.is_empty() {
        let (number, wire_type) = r.key("a map entry")?;
        if number != VAL {
            r.skip(wire_type, "a map message")?;
            continue;
        }
        if wire_type != LEN {
            return Err(ValueProtoError::WireType {
                what: "a map",
                field: number,
                wire_type,
            });
        }
        let mut entry = Reader {
            rest: r.len_prefixed("a map entry")?,
        };
        let mut key: &str = "";
        let mut value: &[u8] = &[];
        while !entry.rest.is_empty() {
            let (number, wire_type) = entry.key("a map entry field")?;
            match (number, wire_type) {
                (VAL, LEN) => key = entry.str("a map key")?,
                (ENTRY_VALUE, LEN) => value = entry.len_prefixed("a map entry's value")?,
                (VAL | ENTRY_VALUE, _) => {
                    return Err(ValueProtoError::WireType {
                        what: "a map entry",
                        field: number,
                        wire_type,
                    });
                }
                _ => entry.skip(wire_type, "a map entry")?,
            }
        }
        let field_dtype = fields.and_then(|f| f.iter().find(|(n, _)| n == key).map(|(_, t)| t));
        let value = decode_at(value, field_dtype, depth)?;
        match keys.position(&entries, key) {
            Some(i) => entries[i].1 = value,
            None => {
                entries.push((key.to_owned(), value));
                keys.pushed(&entries);
            }
        }
    }
    if let Some(fields) = fields {
        order_by_declaration(&mut entries, fields);
    }
    Ok(entries)
}

/// Finds a map's keys seen so far: by a scan while the map is small (Feast's maps hold a few
/// entries, and a scan allocates nothing), by a hash index once it is not, so that a hostile
/// map of many entries costs linear time, not quadratic.
#[derive(Default)]
struct KeyIndex {
    index: Option<std::collections::HashMap<String, usize>>,
}

impl KeyIndex {
    const SCAN_LIMIT: usize = 16;

    fn position(&self, entries: &[(String, Value)], key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => entries.iter().position(|(k, _)| k == key),
        }
    }

    /// Called after an entry was pushed.
    fn pushed(&mut self, entries: &[(String, Value)]) {
        match &mut self.index {
            Some(index) => {
                if let Some((key, _)) = entries.last() {
                    index.insert(key.clone(), entries.len() - 1);
                }
            }
            None if entries.len() > Self::SCAN_LIMIT => {
                self.index = Some(
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.clone(), i))
                        .collect(),
                );
            }
            None => {}
        }
    }
}

/// Moves a struct's declared fields to the front, in declaration order; the others keep
/// their stored order after them.
fn order_by_declaration(entries: &mut [(String, Value)], fields: &[(String, DType)]) {
    let rank = |name: &str| {
        fields
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or(fields.len())
    };
    // A stable sort keeps the undeclared ones (all ranked last) in their order.
    entries.sort_by_key(|(name, _)| rank(name));
}

/// A `MapList`: its field `val` = 1, one `Map` each.
fn decode_map_list(
    body: &[u8],
    structs: bool,
    element: Option<&DType>,
    depth: usize,
) -> Result<Value> {
    let mut r = Reader { rest: body };
    let mut items = Vec::new();
    while !r.rest.is_empty() {
        let (number, wire_type) = r.key("a map list element")?;
        match (number, wire_type) {
            (VAL, LEN) => {
                let entries =
                    decode_entries(r.len_prefixed("a map list element")?, element, depth)?;
                items.push(if structs {
                    Value::Struct(entries)
                } else {
                    Value::Map(entries)
                });
            }
            (VAL, _) => {
                return Err(ValueProtoError::WireType {
                    what: "a map list",
                    field: number,
                    wire_type,
                });
            }
            _ => r.skip(wire_type, "a map list")?,
        }
    }
    Ok(Value::List(items))
}

/// A `RepeatedValue` (`list_val`): its field `val` = 1, one `Value` each. An empty inner
/// `Value` is null, as Feast reads it (it writes an empty inner list that way too).
fn decode_nested_list(body: &[u8], element: Option<&DType>, depth: usize) -> Result<Value> {
    let mut r = Reader { rest: body };
    let mut items = Vec::new();
    while !r.rest.is_empty() {
        let (number, wire_type) = r.key("a list_val element")?;
        match (number, wire_type) {
            (VAL, LEN) => items.push(decode_at(
                r.len_prefixed("a list_val element")?,
                element,
                depth,
            )?),
            (VAL, _) => {
                return Err(ValueProtoError::WireType {
                    what: "a list_val",
                    field: number,
                    wire_type,
                });
            }
            _ => r.skip(wire_type, "a list_val")?,
        }
    }
    Ok(Value::List(items))
}
