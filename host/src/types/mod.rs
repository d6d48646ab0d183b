//! Feast's value types: the declared dtypes of fields and the `ValueType` enum of the protos.

mod dtype;
mod duration;

pub use dtype::{DType, DTypeError, ValueType};
pub use duration::{DurationError, format_duration, parse_duration};
