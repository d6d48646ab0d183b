//! Conversion of offline data into [`Value`]s of a feature's declared dtype: Arrow cells read
//! from parquet during materialization, and JSON values received by `/push`.
//!
//! Materialization moves millions of rows, so the Arrow side is built for speed: a
//! [`ColumnConverter`] looks at a column's Arrow type once, checks that it can hold the declared
//! dtype and downcasts the array once; from then on `value(row)` is a match on a prepared
//! variant plus the read of one cell. Nested types (structs, lists, maps, dictionaries) get
//! their child converters built at the same time, so no per-cell work depends on the Arrow
//! type. Errors about the *type* come from [`ColumnConverter::new`], before any row is read;
//! errors about a *value* (an integer too large for the dtype, text that is not JSON) come from
//! [`ColumnConverter::value`] for that cell only.
//!
//! [`json_to_value`](crate::types::json::json_to_value) follows the same rules for JSON, so a feature pushed as JSON and the same
//! feature materialized from parquet end up as the same [`Value`]; Arrow text columns that hold
//! a JSON object for a `Map` or `Struct` feature go through it too.
//!
//! Where a dtype has no structure of its own (`Map`, `Json`), values take their *natural* form:
//! text → `String`, any integer → `Int64`, any float → `Double`, bool → `Bool`, bytes → `Bytes`,
//! timestamps and dates → `UnixTimestamp` (seconds), struct or map → `Map`, list → `List`,
//! null → `Null`. That is what Feast's Python conversion produces from the Python objects
//! pyarrow hands it.
//!
//! serde_json is built with its `preserve_order` feature, so JSON objects keep the order they
//! were written in, as Python dicts do: a `Map` read from JSON lists its entries in document
//! order, and the JSON text made from an Arrow struct follows the struct's field order.
//! `Struct` values always follow the declared field order.

use arrow_schema::DataType;

use crate::types::DType;

pub use super::arrow::{ColumnConverter, TimestampColumn};

/// Why a column or a value could not be converted. Each message names what was found (the
/// Arrow type, or the JSON value) and the declared dtype, since the fix is either in the data
/// or in the feature view's schema and the user has to see both to know which.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    /// The Arrow type of a column cannot hold values of the declared dtype.
    #[error("cannot convert Arrow type {arrow} to dtype {dtype}")]
    ArrowType {
        /// The column's Arrow type.
        arrow: DataType,
        /// The declared dtype.
        dtype: DType,
    },
    /// An Arrow type with no natural value, found where a `Map` or `Json` takes values as they
    /// come (a child of a struct, the values of a map).
    #[error("Arrow type {arrow} has no natural value to put in a Map or Json")]
    NoNaturalValue {
        /// The Arrow type.
        arrow: DataType,
    },
    /// A column read as timestamps is not a timestamp or date column.
    #[error("Arrow type {arrow} is not a timestamp or date")]
    NotTimestamp {
        /// The column's Arrow type.
        arrow: DataType,
    },
    /// A cell's value is outside the range of the declared dtype.
    #[error("value {value} (Arrow type {arrow}) does not fit dtype {dtype}")]
    OutOfRange {
        /// The value, as text.
        value: String,
        /// The column's Arrow type.
        arrow: DataType,
        /// The declared dtype.
        dtype: DType,
    },
    /// A text cell or JSON string that must hold a JSON document does not.
    #[error("text {text:?} for dtype {dtype} is not valid JSON: {reason}")]
    InvalidJsonText {
        /// The text (shortened if long).
        text: String,
        /// The declared dtype.
        dtype: DType,
        /// serde_json's explanation.
        reason: String,
    },
    /// A JSON value that cannot become a value of the declared dtype.
    #[error("cannot convert JSON value {json} to dtype {dtype}: {reason}")]
    Json {
        /// The value as compact JSON (shortened if long).
        json: String,
        /// The declared dtype.
        dtype: DType,
        /// What was expected.
        reason: String,
    },
    /// An Arrow map entry without a key; Arrow forbids them, so the file is damaged.
    #[error("Arrow map of type {arrow} has a null key")]
    NullMapKey {
        /// The map's Arrow type.
        arrow: DataType,
    },
    /// Offsets of a list or map that point outside its values; only a damaged array has them.
    #[error("Arrow array of type {arrow} is malformed: offsets out of range at row {row}")]
    Malformed {
        /// The array's Arrow type.
        arrow: DataType,
        /// The row whose offsets are wrong.
        row: usize,
    },
    /// A row index past the end of the column: a bug in the caller, reported rather than
    /// panicking.
    #[error("row {row} is out of range for a column of {len} rows")]
    RowOutOfRange {
        /// The row asked for.
        row: usize,
        /// The column's length.
        len: usize,
    },
    /// An error in one field of a struct, with the field's name.
    #[error("field `{field}`: {error}")]
    Field {
        /// The field's name.
        field: String,
        /// What went wrong in it.
        error: Box<ConvertError>,
    },
    /// An error in one element of a list, with its position.
    #[error("element {index}: {error}")]
    Element {
        /// The element's position in its list.
        index: usize,
        /// What went wrong in it.
        error: Box<ConvertError>,
    },
}

impl ConvertError {
    pub(crate) fn in_field(field: &str, error: ConvertError) -> ConvertError {
        ConvertError::Field {
            field: field.to_string(),
            error: Box::new(error),
        }
    }

    pub(crate) fn in_element(index: usize, error: ConvertError) -> ConvertError {
        ConvertError::Element {
            index,
            error: Box::new(error),
        }
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
