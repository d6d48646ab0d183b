//! Feature and key values, as Feast's `feast.types.Value` proto holds them.

/// One value. Which variant a feature holds follows its declared dtype (see
/// [`crate::types::DType`]); `Null` is a stored null (Feast's unset `Value`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A stored null.
    Null,
    /// `bytes_val`.
    Bytes(Vec<u8>),
    /// `string_val`.
    String(String),
    /// `int32_val`.
    Int32(i32),
    /// `int64_val`.
    Int64(i64),
    /// `double_val`.
    Double(f64),
    /// `float_val`.
    Float(f32),
    /// `bool_val`.
    Bool(bool),
    /// `unix_timestamp_val`: whole seconds since the Unix epoch.
    UnixTimestamp(i64),
    /// The typed `*_list_val`s, and `list_val` for nested lists: elements of one dtype.
    List(Vec<Value>),
    /// `map_val`: string keys, in the order they were written.
    Map(Vec<(String, Value)>),
    /// `json_val`: a JSON document kept as its text.
    Json(String),
    /// `struct_val`: named fields in declaration order.
    Struct(Vec<(String, Value)>),
}
