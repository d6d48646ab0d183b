//! Writing a [`Value`] as Feast's `Value` protobuf. The dtype decides what is written where
//! the value alone does not: the typed list an empty list gets, and whether a map is a
//! `map_val` or a `struct_val`.

use super::schema::*;
use super::wire::{I32, I64, VARINT, put_key, put_len_field, put_message, put_packed, put_varint};
use super::{Result, ValueProtoError, deeper};
use crate::types::{DType, Value};

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
