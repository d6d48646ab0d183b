//! Feast's `feast.types.Value` protobuf: the bytes Feast's online stores keep for every feature
//! value (the SQLite store's `value` column, the Redis store's hash fields) and its gRPC API
//! carries. Encoded and decoded by hand: this is the read hot path, where a scalar feature is a
//! handful of bytes, so decoding one must cost a few branches rather than a generic message
//! walk and its allocations.
//!
//! What Feast writes, in our words (docs/feast-compat.md#the-value-protobuf):
//!
//! * A `Value` is one field of the oneof `val`: `bytes_val` 1, `string_val` 2, `int32_val` 3,
//!   `int64_val` 4, `double_val` 5, `float_val` 6, `bool_val` 7, `unix_timestamp_val` 8 (epoch
//!   seconds), the typed lists 11-18, `map_val` 20, `map_list_val` 21, `json_val` 32 (the JSON
//!   text, kept verbatim), `json_list_val` 33, `struct_val` 34, `struct_list_val` 35 and
//!   `list_val` 42 (a list of `Value`s, for nested lists).
//! * A null is the empty message: no field at all. Feast never writes `null_val` (19), but a
//!   reader must take it, and "no field", as null.
//! * The typed lists are messages with one repeated field `val` = 1, packed for numbers and
//!   bools. `unix_timestamp_list_val` reuses `Int64List`, `json_list_val` reuses `StringList`.
//! * `map_val` and `struct_val` are both a `Map` (`map<string, Value>`, each entry a message
//!   `{key = 1, value = 2}`); which of the two is written follows the feature's declared type
//!   alone. Entry order is not part of the format (Feast's own order varies between runs).
//! * `int32_val` is a varint of the value sign-extended to 64 bits: -1 takes 10 bytes.
//! * Nested lists are a `list_val` of typed-list `Value`s; an empty or null inner list is an
//!   empty `Value`. A null element of a typed list is written as the type's default (0, "",
//!   false, and the NaT sentinel `i64::MIN` for timestamps), as Feast does; the sentinel reads
//!   back as null.
//!
//! The dtype is needed to encode (an empty list must get its element type's field, a map value
//! must become `map_val` or `struct_val`) but not to decode: the field number says what the
//! value is. When it is known, a decoded struct lists its declared fields first, in
//! declaration order. Kinds edgefeat has no dtype for (sets, UUIDs, decimals, `scalar_map_val`,
//! `zoned_timestamp_val`) are refused with an error naming them, never read as something else.

use super::{DType, MAX_VALUE_DEPTH, Value};

/// Why a value could not be encoded to, or decoded from, Feast's `Value` protobuf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProtoError {
    /// The input ends inside the thing being read.
    #[error(
        "a Feast Value protobuf is truncated: {what} needs {needed} bytes but only {available} remain"
    )]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// How many bytes it needs.
        needed: u64,
        /// How many were left.
        available: usize,
    },
    /// A varint longer than 10 bytes.
    #[error("a Feast Value protobuf has a malformed varint in {what}")]
    BadVarint {
        /// What was being read.
        what: &'static str,
    },
    /// A field whose wire type is not the one its number has in Feast's schema.
    #[error(
        "a Feast Value protobuf has field {field} of {what} with wire type {wire_type}, which that field cannot have"
    )]
    WireType {
        /// The message the field is in.
        what: &'static str,
        /// The field number.
        field: u64,
        /// The wire type found.
        wire_type: u8,
    },
    /// A `Value` field number that Feast 0.67's schema does not have.
    #[error(
        "a Feast Value protobuf has field {0}, which is not a kind of value Feast 0.67 defines (was it written by a newer Feast?)"
    )]
    UnknownKind(u64),
    /// A kind of value Feast defines but edgefeat has no dtype for.
    #[error(
        "a Feast Value holds `{field}` ({kind}), which edgefeat does not support: it has no {kind} dtype"
    )]
    Unsupported {
        /// The oneof field's name.
        field: &'static str,
        /// The Feast value type it carries.
        kind: &'static str,
    },
    /// A string field that is not UTF-8.
    #[error("a Feast Value protobuf has {what} that is not valid UTF-8")]
    InvalidUtf8 {
        /// What was being read.
        what: &'static str,
    },
    /// Containers nested deeper than [`MAX_VALUE_DEPTH`].
    #[error("a value nests lists, maps and structs more than {MAX_VALUE_DEPTH} levels deep")]
    TooDeep,
    /// A value whose variant does not fit the dtype it is written as.
    #[error("cannot write {found} as a Feast value of dtype {dtype}")]
    Mismatch {
        /// The dtype the value was to be written as.
        dtype: String,
        /// What the value is.
        found: &'static str,
    },
    /// A list mixing element types, which no typed list can hold.
    #[error("a list inside a map mixes {first} and {other} elements; Feast lists hold one type")]
    MixedList {
        /// The first element's kind.
        first: &'static str,
        /// The kind that differs.
        other: &'static str,
    },
    /// A null element in a list of maps or structs, which Feast cannot write either.
    #[error("a null element in a list of {0}s: Feast's MapList holds maps only")]
    NullInMapList(&'static str),
}

type Result<T> = std::result::Result<T, ValueProtoError>;

// The oneof fields of `feast.types.Value`.
const BYTES: u64 = 1;
const STRING: u64 = 2;
const INT32: u64 = 3;
const INT64: u64 = 4;
const DOUBLE: u64 = 5;
const FLOAT: u64 = 6;
const BOOL: u64 = 7;
const UNIX_TIMESTAMP: u64 = 8;
const BYTES_LIST: u64 = 11;
const STRING_LIST: u64 = 12;
const INT32_LIST: u64 = 13;
const INT64_LIST: u64 = 14;
const DOUBLE_LIST: u64 = 15;
const FLOAT_LIST: u64 = 16;
const BOOL_LIST: u64 = 17;
const UNIX_TIMESTAMP_LIST: u64 = 18;
const NULL: u64 = 19;
const MAP: u64 = 20;
const MAP_LIST: u64 = 21;
const JSON: u64 = 32;
const JSON_LIST: u64 = 33;
const STRUCT: u64 = 34;
const STRUCT_LIST: u64 = 35;
const LIST: u64 = 42;

/// The field of every list, `Map` and `MapList` message, and the key of a map entry.
const VAL: u64 = 1;
/// The value of a map entry.
const ENTRY_VALUE: u64 = 2;

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// What Feast's writers put for a null timestamp in a list (pandas' NaT as an integer); its
/// readers turn it back into `None`.
const NULL_TIMESTAMP: i64 = i64::MIN;

/// The Feast-defined kinds edgefeat has no dtype for, by field number.
fn unsupported(field: u64) -> Option<(&'static str, &'static str)> {
    Some(match field {
        22 => ("bytes_set_val", "BYTES_SET"),
        23 => ("string_set_val", "STRING_SET"),
        24 => ("int32_set_val", "INT32_SET"),
        25 => ("int64_set_val", "INT64_SET"),
        26 => ("double_set_val", "DOUBLE_SET"),
        27 => ("float_set_val", "FLOAT_SET"),
        28 => ("bool_set_val", "BOOL_SET"),
        29 => ("unix_timestamp_set_val", "UNIX_TIMESTAMP_SET"),
        36 => ("uuid_val", "UUID"),
        37 => ("time_uuid_val", "TIME_UUID"),
        38 => ("uuid_list_val", "UUID_LIST"),
        39 => ("time_uuid_list_val", "TIME_UUID_LIST"),
        40 => ("uuid_set_val", "UUID_SET"),
        41 => ("time_uuid_set_val", "TIME_UUID_SET"),
        43 => ("set_val", "VALUE_SET"),
        44 => ("decimal_val", "DECIMAL"),
        45 => ("decimal_list_val", "DECIMAL_LIST"),
        46 => ("decimal_set_val", "DECIMAL_SET"),
        47 => ("scalar_map_val", "SCALAR_MAP"),
        48 => ("zoned_timestamp_val", "ZONED_TIMESTAMP"),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Appends the `Value` protobuf Feast writes for `value` as a feature of type `dtype`. A null
/// appends nothing (Feast's empty `Value`). On error, `out` may hold a partial encoding.
pub fn encode_value(value: &Value, dtype: &DType, out: &mut Vec<u8>) -> Result<()> {
    put_value(value, Some(dtype), 0, out)
}

/// Appends `value` with no declared dtype: each variant as the kind it is (what Feast infers
/// for the values inside a map), a list by its elements' kind.
pub fn encode_untyped_value(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    put_value(value, None, 0, out)
}

/// The name of a value's variant, for messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "a null",
        Value::Bytes(_) => "a Bytes value",
        Value::String(_) => "a String value",
        Value::Int32(_) => "an Int32 value",
        Value::Int64(_) => "an Int64 value",
        Value::Double(_) => "a Float64 value",
        Value::Float(_) => "a Float32 value",
        Value::Bool(_) => "a Bool value",
        Value::UnixTimestamp(_) => "a UnixTimestamp value",
        Value::List(_) => "a list",
        Value::Map(_) => "a Map value",
        Value::Json(_) => "a Json value",
        Value::Struct(_) => "a Struct value",
    }
}

fn mismatch(dtype: &DType, value: &Value) -> ValueProtoError {
    ValueProtoError::Mismatch {
        dtype: dtype.to_string(),
        found: kind_of(value),
    }
}

fn deeper(depth: usize) -> Result<usize> {
    if depth >= MAX_VALUE_DEPTH {
        Err(ValueProtoError::TooDeep)
    } else {
        Ok(depth + 1)
    }
}

fn put_value(value: &Value, dtype: Option<&DType>, depth: usize, out: &mut Vec<u8>) -> Result<()> {
    use DType as D;
    match (value, dtype) {
        (Value::Null, _) => {}
        (Value::Bytes(b), None | Some(D::Bytes)) => put_len_field(BYTES, b, out),
        (Value::String(s), None | Some(D::String)) => put_len_field(STRING, s.as_bytes(), out),
        (Value::Int32(v), None | Some(D::Int32)) => {
            put_key(INT32, VARINT, out);
            // Sign-extended to 64 bits, as protobuf writes a negative int32.
            put_varint(i64::from(*v) as u64, out);
        }
        (Value::Int64(v), None | Some(D::Int64)) => {
            put_key(INT64, VARINT, out);
            put_varint(*v as u64, out);
        }
        (Value::Double(v), None | Some(D::Float64)) => {
            put_key(DOUBLE, I64, out);
            out.extend_from_slice(&v.to_le_bytes());
        }
        (Value::Float(v), None | Some(D::Float32)) => {
            put_key(FLOAT, I32, out);
            out.extend_from_slice(&v.to_le_bytes());
        }
        (Value::Bool(v), None | Some(D::Bool)) => {
            put_key(BOOL, VARINT, out);
            out.push(u8::from(*v));
        }
        (Value::UnixTimestamp(v), None | Some(D::UnixTimestamp)) => {
            put_key(UNIX_TIMESTAMP, VARINT, out);
            put_varint(*v as u64, out);
        }
        (Value::Json(s), None | Some(D::Json)) => put_len_field(JSON, s.as_bytes(), out),
        (Value::Map(entries) | Value::Struct(entries), Some(D::Map)) => {
            put_message(MAP, out, |out| {
                put_entries(entries, None, deeper(depth)?, out)
            })?;
        }
        (Value::Map(entries) | Value::Struct(entries), Some(D::Struct(fields))) => {
            put_message(STRUCT, out, |out| {
                put_entries(entries, Some(fields), deeper(depth)?, out)
            })?;
        }
        (Value::Map(entries), None) => {
            put_message(MAP, out, |out| {
                put_entries(entries, None, deeper(depth)?, out)
            })?;
        }
        (Value::Struct(entries), None) => {
            put_message(STRUCT, out, |out| {
                put_entries(entries, None, deeper(depth)?, out)
            })?;
        }
        (Value::List(items), Some(D::Array(element))) => {
            put_list(items, ListKind::of(element), deeper(depth)?, out)?;
        }
        (Value::List(items), None) => {
            put_list(items, ListKind::infer(items)?, deeper(depth)?, out)?;
        }
        (value, Some(dtype)) => return Err(mismatch(dtype, value)),
    }
    Ok(())
}

/// Which typed list a list is written as.
#[derive(Clone, Copy)]
enum ListKind<'a> {
    Bytes,
    String,
    Int32,
    Int64,
    Double,
    Float,
    Bool,
    UnixTimestamp,
    Json,
    Map,
    Struct(Option<&'a [(String, DType)]>),
    /// `list_val`, with the inner lists' dtype when known.
    Nested(Option<&'a DType>),
}

impl<'a> ListKind<'a> {
    fn of(element: &'a DType) -> ListKind<'a> {
        match element {
            DType::Bytes => ListKind::Bytes,
            DType::String => ListKind::String,
            DType::Int32 => ListKind::Int32,
            DType::Int64 => ListKind::Int64,
            DType::Float64 => ListKind::Double,
            DType::Float32 => ListKind::Float,
            DType::Bool => ListKind::Bool,
            DType::UnixTimestamp => ListKind::UnixTimestamp,
            DType::Json => ListKind::Json,
            DType::Map => ListKind::Map,
            DType::Struct(fields) => ListKind::Struct(Some(fields)),
            DType::Array(_) => ListKind::Nested(Some(element)),
        }
    }

    /// The kind of a list with no declared dtype, from its non-null elements, which must agree.
    /// A list with none is written as an empty `list_val`: no typed list fits it, and Feast's
    /// readers take that as the empty list too.
    fn infer(items: &[Value]) -> Result<ListKind<'static>> {
        let mut found: Option<(ListKind<'static>, &Value)> = None;
        for item in items {
            let kind = match item {
                Value::Null => continue,
                Value::Bytes(_) => ListKind::Bytes,
                Value::String(_) => ListKind::String,
                Value::Int32(_) => ListKind::Int32,
                Value::Int64(_) => ListKind::Int64,
                Value::Double(_) => ListKind::Double,
                Value::Float(_) => ListKind::Float,
                Value::Bool(_) => ListKind::Bool,
                Value::UnixTimestamp(_) => ListKind::UnixTimestamp,
                Value::Json(_) => ListKind::Json,
                Value::Map(_) => ListKind::Map,
                Value::Struct(_) => ListKind::Struct(None),
                Value::List(_) => ListKind::Nested(None),
            };
            match found {
                None => found = Some((kind, item)),
                Some((_, first))
                    if std::mem::discriminant(first) != std::mem::discriminant(item) =>
                {
                    return Err(ValueProtoError::MixedList {
                        first: kind_of(first),
                        other: kind_of(item),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(found.map_or(ListKind::Nested(None), |(kind, _)| kind))
    }

    fn field(self) -> u64 {
        match self {
            ListKind::Bytes => BYTES_LIST,
            ListKind::String => STRING_LIST,
            ListKind::Int32 => INT32_LIST,
            ListKind::Int64 => INT64_LIST,
            ListKind::Double => DOUBLE_LIST,
            ListKind::Float => FLOAT_LIST,
            ListKind::Bool => BOOL_LIST,
            ListKind::UnixTimestamp => UNIX_TIMESTAMP_LIST,
            ListKind::Json => JSON_LIST,
            ListKind::Map => MAP_LIST,
            ListKind::Struct(_) => STRUCT_LIST,
            ListKind::Nested(_) => LIST,
        }
    }

    /// The element dtype, for messages.
    fn element_name(self) -> String {
        match self {
            ListKind::Bytes => "Bytes".into(),
            ListKind::String => "String".into(),
            ListKind::Int32 => "Int32".into(),
            ListKind::Int64 => "Int64".into(),
            ListKind::Double => "Float64".into(),
            ListKind::Float => "Float32".into(),
            ListKind::Bool => "Bool".into(),
            ListKind::UnixTimestamp => "UnixTimestamp".into(),
            ListKind::Json => "Json".into(),
            ListKind::Map => "Map".into(),
            ListKind::Struct(Some(fields)) => DType::Struct(fields.to_vec()).to_string(),
            ListKind::Struct(None) => "Struct".into(),
            ListKind::Nested(Some(inner)) => inner.to_string(),
            ListKind::Nested(None) => "Array".into(),
        }
    }
}

fn list_mismatch(kind: ListKind<'_>, item: &Value) -> ValueProtoError {
    ValueProtoError::Mismatch {
        dtype: format!("Array({})", kind.element_name()),
        found: match item {
            Value::Null => "a null",
            Value::Bytes(_) => "a list holding a Bytes element",
            Value::String(_) => "a list holding a String element",
            Value::Int32(_) => "a list holding an Int32 element",
            Value::Int64(_) => "a list holding an Int64 element",
            Value::Double(_) => "a list holding a Float64 element",
            Value::Float(_) => "a list holding a Float32 element",
            Value::Bool(_) => "a list holding a Bool element",
            Value::UnixTimestamp(_) => "a list holding a UnixTimestamp element",
            Value::List(_) => "a list holding a list",
            Value::Map(_) => "a list holding a Map element",
            Value::Json(_) => "a list holding a Json element",
            Value::Struct(_) => "a list holding a Struct element",
        },
    }
}

/// Writes `items` as the typed list `kind`: the `Value` field, then the list message.
fn put_list(items: &[Value], kind: ListKind<'_>, depth: usize, out: &mut Vec<u8>) -> Result<()> {
    put_message(kind.field(), out, |out| match kind {
        ListKind::Int32 | ListKind::Int64 | ListKind::UnixTimestamp | ListKind::Bool => {
            put_packed(out, |out| {
                for item in items {
                    let v = match (kind, item) {
                        (ListKind::Int32, Value::Int32(v)) => i64::from(*v) as u64,
                        (ListKind::Int64, Value::Int64(v)) => *v as u64,
                        (ListKind::UnixTimestamp, Value::UnixTimestamp(v)) => *v as u64,
                        (ListKind::Bool, Value::Bool(v)) => u64::from(*v),
                        (ListKind::UnixTimestamp, Value::Null) => NULL_TIMESTAMP as u64,
                        (_, Value::Null) => 0,
                        (_, other) => return Err(list_mismatch(kind, other)),
                    };
                    put_varint(v, out);
                }
                Ok(())
            })
        }
        ListKind::Double => put_packed(out, |out| {
            for item in items {
                let v = match item {
                    Value::Double(v) => *v,
                    Value::Null => 0.0,
                    other => return Err(list_mismatch(kind, other)),
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            Ok(())
        }),
        ListKind::Float => put_packed(out, |out| {
            for item in items {
                let v = match item {
                    Value::Float(v) => *v,
                    Value::Null => 0.0,
                    other => return Err(list_mismatch(kind, other)),
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            Ok(())
        }),
        ListKind::Bytes | ListKind::String | ListKind::Json => {
            for item in items {
                let bytes: &[u8] = match (kind, item) {
                    (ListKind::Bytes, Value::Bytes(b)) => b,
                    (ListKind::String, Value::String(s)) | (ListKind::Json, Value::Json(s)) => {
                        s.as_bytes()
                    }
                    // Feast writes `json.dumps(None)` for a null JSON element.
                    (ListKind::Json, Value::Null) => b"null",
                    (_, Value::Null) => b"",
                    (_, other) => return Err(list_mismatch(kind, other)),
                };
                put_len_field(VAL, bytes, out);
            }
            Ok(())
        }
        ListKind::Map | ListKind::Struct(_) => {
            let fields = match kind {
                ListKind::Struct(fields) => fields,
                _ => None,
            };
            for item in items {
                let entries = match (kind, item) {
                    (ListKind::Map, Value::Map(e) | Value::Struct(e))
                    | (ListKind::Struct(_), Value::Struct(e) | Value::Map(e)) => e,
                    (ListKind::Map, Value::Null) => {
                        return Err(ValueProtoError::NullInMapList("map"));
                    }
                    (_, Value::Null) => return Err(ValueProtoError::NullInMapList("struct")),
                    (_, other) => return Err(list_mismatch(kind, other)),
                };
                put_message(VAL, out, |out| put_entries(entries, fields, depth, out))?;
            }
            Ok(())
        }
        ListKind::Nested(inner) => {
            for item in items {
                put_message(VAL, out, |out| match item {
                    // Feast writes an empty inner list, like a null one, as the empty Value.
                    Value::List(inner_items) if inner_items.is_empty() => Ok(()),
                    Value::List(_) => put_value(item, inner, depth, out),
                    Value::Null => Ok(()),
                    other => Err(list_mismatch(kind, other)),
                })?;
            }
            Ok(())
        }
    })
}

/// The entries of a `Map`: each a `val` message `{key = 1, value = 2}`. A struct's fields are
/// written with their declared dtypes; a map's values, and a field not declared, as they are.
fn put_entries(
    entries: &[(String, Value)],
    fields: Option<&[(String, DType)]>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    for (name, value) in entries {
        let dtype = fields.and_then(|f| f.iter().find(|(n, _)| n == name).map(|(_, t)| t));
        put_message(VAL, out, |out| {
            put_len_field(VAL, name.as_bytes(), out);
            put_message(ENTRY_VALUE, out, |out| put_value(value, dtype, depth, out))
        })?;
    }
    Ok(())
}

fn put_key(field: u64, wire_type: u8, out: &mut Vec<u8>) {
    put_varint((field << 3) | u64::from(wire_type), out);
}

fn put_len_field(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    put_key(field, LEN, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Writes a length-delimited field whose content `body` appends. The length is reserved as one
/// byte and widened afterwards in the rare case the content reaches 128 bytes, so nothing is
/// measured twice.
fn put_message(
    field: u64,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    put_key(field, LEN, out);
    put_len_prefixed(out, body)
}

/// A packed repeated field `val` = 1, written only when it has elements (as protobuf does).
fn put_packed(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
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
fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        // Truncation to the low 7 bits is the point.
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

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

fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| ValueProtoError::InvalidUtf8 { what })
}

/// A bounds-checked reader consuming `rest` from the front.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn truncated(&self, what: &'static str, needed: u64) -> ValueProtoError {
        ValueProtoError::Truncated {
            what,
            needed,
            available: self.rest.len(),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(self.truncated(what, N as u64));
        };
        self.rest = rest;
        Ok(*head)
    }

    /// A varint of at most 10 bytes; bits beyond the 64th are dropped, as protobuf does.
    fn varint(&mut self, what: &'static str) -> Result<u64> {
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
    fn key(&mut self, what: &'static str) -> Result<(u64, u8)> {
        let key = self.varint(what)?;
        // The low 3 bits are the wire type.
        Ok((key >> 3, (key & 7) as u8))
    }

    /// A varint length followed by that many bytes.
    fn len_prefixed(&mut self, what: &'static str) -> Result<&'a [u8]> {
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

    fn str(&mut self, what: &'static str) -> Result<&'a str> {
        utf8(self.len_prefixed(what)?, what)
    }

    /// Skips a field this reader does not know inside a container message (a newer schema
    /// may add some); groups, which no Feast message has, are refused.
    fn skip(&mut self, wire_type: u8, what: &'static str) -> Result<()> {
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

#[cfg(test)]
#[path = "value_proto_tests.rs"]
mod tests;
