//! Feast's value types: declared dtypes, values, their binary encodings, and the entity-key
//! serialization shared with Feast.

mod dtype;
mod duration;
mod value;

pub use dtype::{DType, DTypeError, ValueType};
pub use duration::{DurationError, format_duration, parse_duration};
pub use value::Value;
