//! Feast's value types: declared dtypes, values, their binary encodings, and the entity-key
//! serialization shared with Feast.

pub mod clock;
mod codec;
mod dtype;
mod duration;
mod entity_key;
pub mod json;
pub mod json_cost;
pub mod time;
mod value;
pub mod value_proto;

pub use codec::{
    CodecError, MAX_VALUE_DEPTH, ROW_FORMAT_VERSION, RowRef, decode_row_header, decode_value,
    encode_row, encode_value,
};
pub use dtype::{DType, DTypeError, ValueType};
pub use duration::{DurationError, format_duration, parse_duration};
pub use entity_key::{
    EntityKeyError, deserialize_entity_key, serialize_entity_key, serialize_entity_key_into,
};
pub use value::Value;
