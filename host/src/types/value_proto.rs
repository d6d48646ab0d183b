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
//!
//! The code is split by what it knows: the numbers of Feast's schema (`schema`), the protobuf
//! wire format both ways (`wire`), writing a [`Value`](super::Value) (`encode`) and reading
//! one (`decode`). The error type and the depth guard, which both directions share, live here.

mod decode;
mod encode;
mod schema;
mod wire;

pub use decode::decode_value;
pub use encode::{encode_untyped_value, encode_value};
/// A length-delimited field (key, length, bytes), for messages around a `Value`.
pub(crate) use wire::put_len_field;

use super::MAX_VALUE_DEPTH;

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

/// The depth one level into a container, refused past [`MAX_VALUE_DEPTH`]: encoding and
/// decoding recurse, and a hostile value must not overflow the stack.
fn deeper(depth: usize) -> Result<usize> {
    if depth >= MAX_VALUE_DEPTH {
        Err(ValueProtoError::TooDeep)
    } else {
        Ok(depth + 1)
    }
}

#[cfg(test)]
#[path = "value_proto_tests.rs"]
mod tests;
