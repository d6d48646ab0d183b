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
//! [`json_to_value`] follows the same rules for JSON, so a feature pushed as JSON and the same
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

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Date64Array,
    FixedSizeBinaryArray, FixedSizeListArray, Float16Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, LargeBinaryArray, LargeListArray, LargeListViewArray,
    LargeStringArray, ListArray, ListViewArray, MapArray, OffsetSizeTrait, StringArray,
    StringViewArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array,
    UInt64Array,
};
use arrow_schema::{DataType, TimeUnit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::types::time::parse_timestamp;
use crate::types::{DType, Value};

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
    fn in_field(field: &str, error: ConvertError) -> ConvertError {
        ConvertError::Field {
            field: field.to_string(),
            error: Box::new(error),
        }
    }

    fn in_element(index: usize, error: ConvertError) -> ConvertError {
        ConvertError::Element {
            index,
            error: Box::new(error),
        }
    }
}

/// Converts the cells of one Arrow column to Values of one declared dtype. Built once per
/// (record batch column, dtype): it checks that the Arrow type can hold the dtype and downcasts
/// once, so `value(row)` is a cheap match.
///
/// Conversions, by declared dtype (a null cell, a null struct included, is always
/// [`Value::Null`], and a column of Arrow type `Null` converts to any dtype):
///
/// * `Int64`, `Int32`: any Arrow integer type; a value outside the dtype's range (a large
///   `UInt64`) is an error for that cell.
/// * `Float32`, `Float64`: `Float16`/`Float32`/`Float64` (narrowed with `as f32` where needed)
///   and any integer type.
/// * `String`: `Utf8`, `LargeUtf8`, `Utf8View`.
/// * `Bytes`: `Binary`, `LargeBinary`, `BinaryView`, `FixedSizeBinary`, and the UTF-8 bytes of
///   text columns.
/// * `Bool`: `Boolean`.
/// * `UnixTimestamp`: any `Timestamp` unit or zone, `Date32`, `Date64`, as whole seconds
///   (rounded toward negative infinity); integer columns are taken as seconds already.
/// * `Json`: text is kept as it is (it must parse as JSON); any other type is rendered as
///   compact JSON from its natural value (bytes as base64, timestamps as integer seconds,
///   NaN and infinities as `null`).
/// * `Map`: a `Struct` (one entry per child field) or a `Map` with text keys, values in their
///   natural form; or text holding a JSON object, read by [`json_to_value`].
/// * `Struct{..}`: a `Struct`, output in the declared field order with each child converted
///   to its declared dtype and a field the Arrow struct lacks as `Null`; or text holding a JSON
///   object, read by [`json_to_value`].
/// * `Array(T)`: `List`, `LargeList`, `FixedSizeList`, `ListView`, `LargeListView`, elements
///   converted to `T`.
///
/// A `Dictionary` column converts like its values. The converter borrows the array, so it
/// lives no longer than the record batch it was built for.
#[derive(Debug)]
pub struct ColumnConverter<'a> {
    array: &'a dyn Array,
    dtype: DType,
    kind: Kind<'a>,
}

impl<'a> ColumnConverter<'a> {
    /// Prepares the conversion of `array` to `dtype`, or says why the Arrow type cannot hold it
    /// (naming both), so that a wrong schema fails before the first row rather than on it.
    pub fn new(array: &'a dyn Array, dtype: &DType) -> Result<Self, ConvertError> {
        Ok(ColumnConverter {
            array,
            dtype: dtype.clone(),
            kind: Kind::build(array, dtype)?,
        })
    }

    /// The value of cell `row`; a null cell is [`Value::Null`]. Errors are about this cell
    /// only (a value out of the dtype's range, text that is not JSON), so a caller can report
    /// the row and decide whether to go on.
    pub fn value(&self, row: usize) -> Result<Value, ConvertError> {
        if row >= self.array.len() {
            return Err(ConvertError::RowOutOfRange {
                row,
                len: self.array.len(),
            });
        }
        if self.array.is_null(row) {
            return Ok(Value::Null);
        }
        match &self.kind {
            Kind::Null => Ok(Value::Null),
            Kind::Int(ints, target) => self.int_value(ints.get(row), *target),
            Kind::Float(floats, target) => {
                let v = floats.get(row);
                Ok(match target {
                    FloatTarget::Float32 => Value::Float(v as f32),
                    FloatTarget::Float64 => Value::Double(v),
                })
            }
            Kind::Text(texts, target) => self.text_value(texts.get(row), *target),
            Kind::Binary(binaries) => Ok(Value::Bytes(binaries.get(row).to_vec())),
            Kind::Bool(bools) => Ok(Value::Bool(bools.value(row))),
            Kind::Time(times) => Ok(Value::UnixTimestamp(times.seconds_at(row))),
            Kind::Dictionary { keys, values } => {
                let key = keys.get(row);
                match usize::try_from(key) {
                    Ok(index) if index < values.array.len() => values.value(index),
                    _ => Err(ConvertError::Malformed {
                        arrow: self.array.data_type().clone(),
                        row,
                    }),
                }
            }
            Kind::StructToStruct(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for (name, child) in fields {
                    let v = match child {
                        Some(child) => child
                            .value(row)
                            .map_err(|e| ConvertError::in_field(name, e))?,
                        None => Value::Null,
                    };
                    out.push((name.clone(), v));
                }
                Ok(Value::Struct(out))
            }
            Kind::StructToMap(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for (name, child) in fields {
                    let v = child
                        .value(row)
                        .map_err(|e| ConvertError::in_field(name, e))?;
                    out.push((name.clone(), v));
                }
                Ok(Value::Map(out))
            }
            Kind::MapToMap { map, keys, values } => {
                let range = offsets_range(map.value_offsets(), row).ok_or_else(|| {
                    ConvertError::Malformed {
                        arrow: self.array.data_type().clone(),
                        row,
                    }
                })?;
                let mut out = Vec::with_capacity(range.len());
                for i in range {
                    let Value::String(key) = keys.value(i)? else {
                        return Err(ConvertError::NullMapKey {
                            arrow: self.array.data_type().clone(),
                        });
                    };
                    let v = values
                        .value(i)
                        .map_err(|e| ConvertError::in_field(&key, e))?;
                    out.push((key, v));
                }
                Ok(Value::Map(out))
            }
            Kind::List { lists, elements } => {
                let range = lists.range(row).ok_or_else(|| ConvertError::Malformed {
                    arrow: self.array.data_type().clone(),
                    row,
                })?;
                let start = range.start;
                let mut out = Vec::with_capacity(range.len());
                for i in range {
                    out.push(
                        elements
                            .value(i)
                            .map_err(|e| ConvertError::in_element(i - start, e))?,
                    );
                }
                Ok(Value::List(out))
            }
            Kind::ToJson(natural) => {
                let v = natural.value(row)?;
                Ok(Value::Json(value_to_json(v).to_string()))
            }
        }
    }

    fn int_value(&self, v: i128, target: IntTarget) -> Result<Value, ConvertError> {
        let converted = match target {
            IntTarget::Int32 => i32::try_from(v).ok().map(Value::Int32),
            IntTarget::Int64 => i64::try_from(v).ok().map(Value::Int64),
            IntTarget::Seconds => i64::try_from(v).ok().map(Value::UnixTimestamp),
            IntTarget::Float32 => Some(Value::Float(v as f32)),
            IntTarget::Float64 => Some(Value::Double(v as f64)),
        };
        converted.ok_or_else(|| ConvertError::OutOfRange {
            value: v.to_string(),
            arrow: self.array.data_type().clone(),
            dtype: self.dtype.clone(),
        })
    }

    fn text_value(&self, text: &str, target: TextTarget) -> Result<Value, ConvertError> {
        match target {
            TextTarget::String => Ok(Value::String(text.to_owned())),
            TextTarget::Bytes => Ok(Value::Bytes(text.as_bytes().to_vec())),
            TextTarget::Json => {
                // Checked with IgnoredAny, which parses without building anything: a stored
                // json_val that is not JSON would only fail later, in every reader.
                serde_json::from_str::<serde::de::IgnoredAny>(text)
                    .map_err(|e| invalid_json_text(text, &self.dtype, &e))?;
                Ok(Value::Json(text.to_owned()))
            }
            TextTarget::JsonObject => object_from_text(text, &self.dtype),
        }
    }
}

/// What a converter does with each cell, decided once in [`ColumnConverter::new`].
#[derive(Debug)]
enum Kind<'a> {
    /// An Arrow `Null` column: every cell is null, whatever the dtype.
    Null,
    Int(Ints<'a>, IntTarget),
    Float(Floats<'a>, FloatTarget),
    Text(Texts<'a>, TextTarget),
    Binary(Binaries<'a>),
    Bool(&'a BooleanArray),
    Time(TimestampColumn<'a>),
    /// Dictionary-encoded cells: the key picks the row of a converter over the values.
    Dictionary {
        keys: Ints<'a>,
        values: Box<ColumnConverter<'a>>,
    },
    /// Declared fields in order, with the converter of the matching Arrow child if any.
    StructToStruct(Vec<(String, Option<ColumnConverter<'a>>)>),
    /// Every Arrow child, in the Arrow order, converted to its natural value.
    StructToMap(Vec<(String, ColumnConverter<'a>)>),
    MapToMap {
        map: &'a MapArray,
        keys: Box<ColumnConverter<'a>>,
        values: Box<ColumnConverter<'a>>,
    },
    List {
        lists: Lists<'a>,
        elements: Box<ColumnConverter<'a>>,
    },
    /// Any non-text type declared `Json`: the natural value, rendered as JSON text.
    ToJson(Box<ColumnConverter<'a>>),
}

#[derive(Debug, Clone, Copy)]
enum IntTarget {
    Int32,
    Int64,
    Float32,
    Float64,
    /// `UnixTimestamp` from integers that already are seconds.
    Seconds,
}

#[derive(Debug, Clone, Copy)]
enum FloatTarget {
    Float32,
    Float64,
}

#[derive(Debug, Clone, Copy)]
enum TextTarget {
    String,
    Bytes,
    Json,
    /// `Map` or `Struct` held as the text of a JSON object.
    JsonObject,
}

impl<'a> Kind<'a> {
    fn build(array: &'a dyn Array, dtype: &DType) -> Result<Kind<'a>, ConvertError> {
        let unsupported = || ConvertError::ArrowType {
            arrow: array.data_type().clone(),
            dtype: dtype.clone(),
        };
        if matches!(array.data_type(), DataType::Null) {
            return Ok(Kind::Null);
        }
        if let Some(dict) = array.as_any_dictionary_opt() {
            let keys = Ints::new(dict.keys()).ok_or_else(unsupported)?;
            // Naming the dictionary type rather than its values' keeps the message about the
            // column the user has; the values' type is part of it.
            let values =
                ColumnConverter::new(dict.values().as_ref(), dtype).map_err(|_| unsupported())?;
            return Ok(Kind::Dictionary {
                keys,
                values: Box::new(values),
            });
        }
        let kind = match dtype {
            DType::Int32 | DType::Int64 => {
                let target = if *dtype == DType::Int32 {
                    IntTarget::Int32
                } else {
                    IntTarget::Int64
                };
                Ints::new(array).map(|ints| Kind::Int(ints, target))
            }
            DType::Float32 | DType::Float64 => {
                let (float, int) = if *dtype == DType::Float32 {
                    (FloatTarget::Float32, IntTarget::Float32)
                } else {
                    (FloatTarget::Float64, IntTarget::Float64)
                };
                Floats::new(array)
                    .map(|floats| Kind::Float(floats, float))
                    .or_else(|| Ints::new(array).map(|ints| Kind::Int(ints, int)))
            }
            DType::String => Texts::new(array).map(|t| Kind::Text(t, TextTarget::String)),
            DType::Bytes => Binaries::new(array)
                .map(Kind::Binary)
                .or_else(|| Texts::new(array).map(|t| Kind::Text(t, TextTarget::Bytes))),
            DType::Bool => array.as_boolean_opt().map(Kind::Bool),
            DType::UnixTimestamp => TimestampColumn::new(array)
                .ok()
                .map(Kind::Time)
                .or_else(|| Ints::new(array).map(|ints| Kind::Int(ints, IntTarget::Seconds))),
            DType::Json => match Texts::new(array) {
                Some(texts) => Some(Kind::Text(texts, TextTarget::Json)),
                None => Some(Kind::ToJson(Box::new(
                    natural(array).map_err(|_| unsupported())?,
                ))),
            },
            DType::Map => {
                if let Some(s) = array.as_struct_opt() {
                    let mut fields = Vec::with_capacity(s.num_columns());
                    for (field, column) in s.fields().iter().zip(s.columns()) {
                        let child = natural(column.as_ref())
                            .map_err(|e| ConvertError::in_field(field.name(), e))?;
                        fields.push((field.name().clone(), child));
                    }
                    Some(Kind::StructToMap(fields))
                } else if let Some(map) = array.as_map_opt() {
                    let keys = ColumnConverter::new(map.keys().as_ref(), &DType::String)
                        .map_err(|_| unsupported())?;
                    let values = natural(map.values().as_ref())?;
                    Some(Kind::MapToMap {
                        map,
                        keys: Box::new(keys),
                        values: Box::new(values),
                    })
                } else {
                    Texts::new(array).map(|t| Kind::Text(t, TextTarget::JsonObject))
                }
            }
            DType::Struct(declared) => {
                if let Some(s) = array.as_struct_opt() {
                    let mut fields = Vec::with_capacity(declared.len());
                    for (name, field_dtype) in declared {
                        let child = match s.column_by_name(name) {
                            Some(column) => Some(
                                ColumnConverter::new(column.as_ref(), field_dtype)
                                    .map_err(|e| ConvertError::in_field(name, e))?,
                            ),
                            None => None,
                        };
                        fields.push((name.clone(), child));
                    }
                    Some(Kind::StructToStruct(fields))
                } else {
                    Texts::new(array).map(|t| Kind::Text(t, TextTarget::JsonObject))
                }
            }
            DType::Array(element) => match Lists::new(array) {
                Some(lists) => {
                    // The list's own type names the element type, and reads better than the
                    // element error alone.
                    let elements =
                        ColumnConverter::new(lists.values(), element).map_err(|_| unsupported())?;
                    Some(Kind::List {
                        lists,
                        elements: Box::new(elements),
                    })
                }
                None => None,
            },
        };
        kind.ok_or_else(unsupported)
    }
}

/// A converter to the natural value of an Arrow type (see the module doc), for the values of
/// `Map` and `Json` features, which declare no type of their own.
fn natural(array: &dyn Array) -> Result<ColumnConverter<'_>, ConvertError> {
    let dtype = natural_dtype(array.data_type()).ok_or_else(|| ConvertError::NoNaturalValue {
        arrow: array.data_type().clone(),
    })?;
    ColumnConverter::new(array, &dtype)
}

fn natural_dtype(t: &DataType) -> Option<DType> {
    Some(match t {
        // A Null column converts to Null whatever the dtype; any dtype would do.
        DataType::Null => DType::Json,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DType::Int64,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => DType::Float64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DType::String,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => DType::Bytes,
        DataType::Boolean => DType::Bool,
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => DType::UnixTimestamp,
        DataType::Struct(_) | DataType::Map(_, _) => DType::Map,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => DType::Array(Box::new(natural_dtype(f.data_type())?)),
        DataType::Dictionary(_, values) => natural_dtype(values)?,
        _ => return None,
    })
}

/// An integer column of any width and signedness, read as `i128` so that every target range
/// check is one `try_from`.
#[derive(Debug)]
enum Ints<'a> {
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    U8(&'a UInt8Array),
    U16(&'a UInt16Array),
    U32(&'a UInt32Array),
    U64(&'a UInt64Array),
}

impl<'a> Ints<'a> {
    fn new(array: &'a dyn Array) -> Option<Ints<'a>> {
        Some(match array.data_type() {
            DataType::Int8 => Ints::I8(array.as_primitive_opt::<Int8Type>()?),
            DataType::Int16 => Ints::I16(array.as_primitive_opt::<Int16Type>()?),
            DataType::Int32 => Ints::I32(array.as_primitive_opt::<Int32Type>()?),
            DataType::Int64 => Ints::I64(array.as_primitive_opt::<Int64Type>()?),
            DataType::UInt8 => Ints::U8(array.as_primitive_opt::<UInt8Type>()?),
            DataType::UInt16 => Ints::U16(array.as_primitive_opt::<UInt16Type>()?),
            DataType::UInt32 => Ints::U32(array.as_primitive_opt::<UInt32Type>()?),
            DataType::UInt64 => Ints::U64(array.as_primitive_opt::<UInt64Type>()?),
            _ => return None,
        })
    }

    fn get(&self, row: usize) -> i128 {
        match self {
            Ints::I8(a) => a.value(row).into(),
            Ints::I16(a) => a.value(row).into(),
            Ints::I32(a) => a.value(row).into(),
            Ints::I64(a) => a.value(row).into(),
            Ints::U8(a) => a.value(row).into(),
            Ints::U16(a) => a.value(row).into(),
            Ints::U32(a) => a.value(row).into(),
            Ints::U64(a) => a.value(row).into(),
        }
    }
}

/// A float column of any width, read as `f64` (exact for all three).
#[derive(Debug)]
enum Floats<'a> {
    F16(&'a Float16Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
}

impl<'a> Floats<'a> {
    fn new(array: &'a dyn Array) -> Option<Floats<'a>> {
        Some(match array.data_type() {
            DataType::Float16 => Floats::F16(array.as_primitive_opt::<Float16Type>()?),
            DataType::Float32 => Floats::F32(array.as_primitive_opt::<Float32Type>()?),
            DataType::Float64 => Floats::F64(array.as_primitive_opt::<Float64Type>()?),
            _ => return None,
        })
    }

    fn get(&self, row: usize) -> f64 {
        match self {
            Floats::F16(a) => a.value(row).to_f64(),
            Floats::F32(a) => f64::from(a.value(row)),
            Floats::F64(a) => a.value(row),
        }
    }
}

/// A text column in any of Arrow's three layouts.
#[derive(Debug)]
enum Texts<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Texts<'a> {
    fn new(array: &'a dyn Array) -> Option<Texts<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => Texts::Utf8(array.as_string_opt::<i32>()?),
            DataType::LargeUtf8 => Texts::Large(array.as_string_opt::<i64>()?),
            DataType::Utf8View => Texts::View(array.as_string_view_opt()?),
            _ => return None,
        })
    }

    fn get(&self, row: usize) -> &'a str {
        match self {
            Texts::Utf8(a) => a.value(row),
            Texts::Large(a) => a.value(row),
            Texts::View(a) => a.value(row),
        }
    }
}

/// A binary column in any of Arrow's layouts.
#[derive(Debug)]
enum Binaries<'a> {
    Binary(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
    Fixed(&'a FixedSizeBinaryArray),
}

impl<'a> Binaries<'a> {
    fn new(array: &'a dyn Array) -> Option<Binaries<'a>> {
        Some(match array.data_type() {
            DataType::Binary => Binaries::Binary(array.as_binary_opt::<i32>()?),
            DataType::LargeBinary => Binaries::Large(array.as_binary_opt::<i64>()?),
            DataType::BinaryView => Binaries::View(array.as_binary_view_opt()?),
            DataType::FixedSizeBinary(_) => Binaries::Fixed(array.as_fixed_size_binary_opt()?),
            _ => return None,
        })
    }

    fn get(&self, row: usize) -> &'a [u8] {
        match self {
            Binaries::Binary(a) => a.value(row),
            Binaries::Large(a) => a.value(row),
            Binaries::View(a) => a.value(row),
            Binaries::Fixed(a) => a.value(row),
        }
    }
}

/// A list column in any of Arrow's layouts; `range(row)` is where the row's elements are in
/// the child array.
#[derive(Debug)]
enum Lists<'a> {
    List(&'a ListArray),
    Large(&'a LargeListArray),
    Fixed(&'a FixedSizeListArray),
    View(&'a ListViewArray),
    LargeView(&'a LargeListViewArray),
}

impl<'a> Lists<'a> {
    fn new(array: &'a dyn Array) -> Option<Lists<'a>> {
        Some(match array.data_type() {
            DataType::List(_) => Lists::List(array.as_list_opt::<i32>()?),
            DataType::LargeList(_) => Lists::Large(array.as_list_opt::<i64>()?),
            DataType::FixedSizeList(_, _) => Lists::Fixed(array.as_fixed_size_list_opt()?),
            DataType::ListView(_) => Lists::View(array.as_list_view_opt::<i32>()?),
            DataType::LargeListView(_) => Lists::LargeView(array.as_list_view_opt::<i64>()?),
            _ => return None,
        })
    }

    fn values(&self) -> &'a dyn Array {
        match self {
            Lists::List(a) => a.values().as_ref(),
            Lists::Large(a) => a.values().as_ref(),
            Lists::Fixed(a) => a.values().as_ref(),
            Lists::View(a) => a.values().as_ref(),
            Lists::LargeView(a) => a.values().as_ref(),
        }
    }

    /// `None` only for offsets a valid array cannot have.
    fn range(&self, row: usize) -> Option<Range<usize>> {
        match self {
            Lists::List(a) => offsets_range(a.value_offsets(), row),
            Lists::Large(a) => offsets_range(a.value_offsets(), row),
            Lists::Fixed(a) => {
                let size = usize::try_from(a.value_length()).ok()?;
                let start = row.checked_mul(size)?;
                Some(start..start.checked_add(size)?)
            }
            Lists::View(a) => view_range(a.value_offsets(), a.value_sizes(), row),
            Lists::LargeView(a) => view_range(a.value_offsets(), a.value_sizes(), row),
        }
    }
}

fn offsets_range<O: OffsetSizeTrait>(offsets: &[O], row: usize) -> Option<Range<usize>> {
    let start = offsets.get(row)?.as_usize();
    let end = offsets.get(row.checked_add(1)?)?.as_usize();
    (start <= end).then_some(start..end)
}

fn view_range<O: OffsetSizeTrait>(offsets: &[O], sizes: &[O], row: usize) -> Option<Range<usize>> {
    let start = offsets.get(row)?.as_usize();
    let size = sizes.get(row)?.as_usize();
    Some(start..start.checked_add(size)?)
}

/// Reads an event/created timestamp column of any Arrow timestamp unit (s/ms/us/ns; with any
/// timezone or naive = UTC), Date32, Date64, as microseconds since the epoch (UTC). Null -> None.
///
/// Arrow stores timestamps as a count since the Unix epoch in UTC whatever the zone annotation
/// says (the zone only affects display), so the zone is ignored; a naive timestamp is read as
/// UTC, which is what Feast does. Microseconds are the online store's unit: nanoseconds are
/// floored to them, and values beyond ±292,000 years saturate rather than wrap. A column of
/// Arrow type `Null` is accepted and reads as all nulls.
#[derive(Debug)]
pub struct TimestampColumn<'a> {
    array: &'a dyn Array,
    kind: TimeKind<'a>,
}

#[derive(Debug)]
enum TimeKind<'a> {
    Null,
    Second(&'a TimestampSecondArray),
    Milli(&'a TimestampMillisecondArray),
    Micro(&'a TimestampMicrosecondArray),
    Nano(&'a TimestampNanosecondArray),
    Date32(&'a Date32Array),
    Date64(&'a Date64Array),
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

impl<'a> TimestampColumn<'a> {
    /// Prepares reading `array`, or fails (naming its Arrow type) if it holds neither
    /// timestamps nor dates, so a misdeclared timestamp field fails before the first row.
    pub fn new(array: &'a dyn Array) -> Result<Self, ConvertError> {
        let kind = match array.data_type() {
            DataType::Null => Some(TimeKind::Null),
            DataType::Timestamp(TimeUnit::Second, _) => array
                .as_primitive_opt::<TimestampSecondType>()
                .map(TimeKind::Second),
            DataType::Timestamp(TimeUnit::Millisecond, _) => array
                .as_primitive_opt::<TimestampMillisecondType>()
                .map(TimeKind::Milli),
            DataType::Timestamp(TimeUnit::Microsecond, _) => array
                .as_primitive_opt::<TimestampMicrosecondType>()
                .map(TimeKind::Micro),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => array
                .as_primitive_opt::<TimestampNanosecondType>()
                .map(TimeKind::Nano),
            DataType::Date32 => array.as_primitive_opt::<Date32Type>().map(TimeKind::Date32),
            DataType::Date64 => array.as_primitive_opt::<Date64Type>().map(TimeKind::Date64),
            _ => None,
        };
        let kind = kind.ok_or_else(|| ConvertError::NotTimestamp {
            arrow: array.data_type().clone(),
        })?;
        Ok(TimestampColumn { array, kind })
    }

    /// Microseconds since the epoch (UTC) of cell `row`; `None` if the cell is null (or `row`
    /// is past the end of the column, which is the caller's bug and has no timestamp either).
    pub fn micros(&self, row: usize) -> Option<i64> {
        if row >= self.array.len() || self.array.is_null(row) {
            return None;
        }
        Some(match &self.kind {
            TimeKind::Null => return None,
            TimeKind::Second(a) => a.value(row).saturating_mul(MICROS_PER_SECOND),
            TimeKind::Milli(a) => a.value(row).saturating_mul(1_000),
            TimeKind::Micro(a) => a.value(row),
            TimeKind::Nano(a) => a.value(row).div_euclid(1_000),
            TimeKind::Date32(a) => {
                i64::from(a.value(row)).saturating_mul(SECONDS_PER_DAY * MICROS_PER_SECOND)
            }
            TimeKind::Date64(a) => a.value(row).saturating_mul(1_000),
        })
    }

    /// Whole seconds since the epoch, floored, of a non-null cell inside the column; computed
    /// from the raw unit so that it never saturates.
    fn seconds_at(&self, row: usize) -> i64 {
        match &self.kind {
            TimeKind::Null => 0,
            TimeKind::Second(a) => a.value(row),
            TimeKind::Milli(a) => a.value(row).div_euclid(1_000),
            TimeKind::Micro(a) => a.value(row).div_euclid(MICROS_PER_SECOND),
            TimeKind::Nano(a) => a.value(row).div_euclid(1_000_000_000),
            TimeKind::Date32(a) => i64::from(a.value(row)) * SECONDS_PER_DAY,
            TimeKind::Date64(a) => a.value(row).div_euclid(1_000),
        }
    }
}

/// Converts a JSON value to a Value of a declared dtype: what /push receives, and how
/// Map/Struct/Json features held as JSON text are read.
///
/// * `null` is [`Value::Null`] for every dtype.
/// * `Int32`, `Int64`: integers, and floats that are exactly integral (pandas turns an integer
///   column with nulls into floats, so `1001.0` arrives for `1001`); anything out of range or
///   fractional is an error.
/// * `Float32`, `Float64`: any number.
/// * `String`: a string; a number or bool becomes the text Python's `str()` gives it
///   (`True`, `1001`, `1.5`, `1e+16`), since that is what Feast would store.
/// * `Bytes`: a base64 string (standard alphabet, with padding), as Feast's JSON encodes bytes.
/// * `Bool`: a bool.
/// * `UnixTimestamp`: an integer (seconds), or a timestamp string as
///   [`parse_timestamp`] reads it (RFC 3339, `YYYY-MM-DD HH:MM:SS[+zz:zz]`, naive = UTC),
///   floored to whole seconds.
/// * `Json`: a string is kept as its text, and must itself be JSON; any other value becomes its
///   compact JSON text.
/// * `Map`: an object, entries in key order (see the module doc) with values in their natural
///   form; or a string holding a JSON object.
/// * `Struct{..}`: an object, read in the declared field order with each field converted to its
///   dtype, a missing field as `Null` and extra keys ignored; or a string holding a JSON object.
/// * `Array(T)`: an array, each element converted to `T`.
pub fn json_to_value(json: &serde_json::Value, dtype: &DType) -> Result<Value, ConvertError> {
    use serde_json::Value as J;
    let fail = |reason: &str| ConvertError::Json {
        json: excerpt(&json.to_string()),
        dtype: dtype.clone(),
        reason: reason.to_string(),
    };
    if json.is_null() {
        return Ok(Value::Null);
    }
    match dtype {
        DType::Int64 => json_int(json).map(Value::Int64).map_err(fail),
        DType::Int32 => {
            let v = json_int(json).map_err(fail)?;
            i32::try_from(v)
                .map(Value::Int32)
                .map_err(|_| fail("out of range"))
        }
        DType::Float32 | DType::Float64 => {
            let v = json.as_f64().ok_or_else(|| fail("expected a number"))?;
            Ok(if *dtype == DType::Float32 {
                Value::Float(v as f32)
            } else {
                Value::Double(v)
            })
        }
        DType::String => match json {
            J::String(s) => Ok(Value::String(s.clone())),
            J::Bool(b) => Ok(Value::String(if *b { "True" } else { "False" }.to_string())),
            J::Number(n) => Ok(Value::String(match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (None, Some(u), _) => u.to_string(),
                (None, None, Some(f)) => python_float_str(f),
                (None, None, None) => n.to_string(),
            })),
            _ => Err(fail("expected a string")),
        },
        DType::Bytes => match json {
            J::String(s) => BASE64
                .decode(s)
                .map(Value::Bytes)
                .map_err(|e| fail(&format!("not base64: {e}"))),
            _ => Err(fail("expected a base64 string")),
        },
        DType::Bool => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| fail("expected true or false")),
        DType::UnixTimestamp => match json {
            J::Number(_) => json_int(json).map(Value::UnixTimestamp).map_err(fail),
            J::String(s) => parse_timestamp(s)
                .map(|t| Value::UnixTimestamp(t.timestamp()))
                .map_err(|e| fail(&e)),
            _ => Err(fail(
                "expected seconds since the epoch or a timestamp string",
            )),
        },
        DType::Json => match json {
            J::String(s) => {
                serde_json::from_str::<serde::de::IgnoredAny>(s)
                    .map_err(|e| invalid_json_text(s, dtype, &e))?;
                Ok(Value::Json(s.clone()))
            }
            other => Ok(Value::Json(other.to_string())),
        },
        DType::Map => match json {
            J::Object(entries) => Ok(Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), natural_json(v)))
                    .collect(),
            )),
            J::String(s) => object_from_text(s, dtype),
            _ => Err(fail("expected an object, or a string holding one")),
        },
        DType::Struct(fields) => match json {
            J::Object(entries) => {
                let mut out = Vec::with_capacity(fields.len());
                for (name, field_dtype) in fields {
                    let v = match entries.get(name) {
                        Some(v) => json_to_value(v, field_dtype)
                            .map_err(|e| ConvertError::in_field(name, e))?,
                        None => Value::Null,
                    };
                    out.push((name.clone(), v));
                }
                Ok(Value::Struct(out))
            }
            J::String(s) => object_from_text(s, dtype),
            _ => Err(fail("expected an object, or a string holding one")),
        },
        DType::Array(element) => match json {
            J::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    json_to_value(item, element).map_err(|e| ConvertError::in_element(i, e))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            _ => Err(fail("expected an array")),
        },
    }
}

/// A `Map` or `Struct` held as JSON text (pandas writes dicts that way): the text must be a
/// JSON object (or `null`), which is then read with [`json_to_value`].
fn object_from_text(text: &str, dtype: &DType) -> Result<Value, ConvertError> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid_json_text(text, dtype, &e))?;
    if json.is_object() || json.is_null() {
        json_to_value(&json, dtype)
    } else {
        Err(ConvertError::Json {
            json: excerpt(text),
            dtype: dtype.clone(),
            reason: "expected a JSON object".to_string(),
        })
    }
}

/// An integer from a JSON number, accepting exactly integral floats.
fn json_int(json: &serde_json::Value) -> Result<i64, &'static str> {
    if let Some(i) = json.as_i64() {
        return Ok(i);
    }
    if json.is_u64() {
        return Err("out of range");
    }
    let f = json.as_f64().ok_or("expected an integer")?;
    if f.fract() != 0.0 || !f.is_finite() {
        return Err("not a whole number");
    }
    // 2^63 is exact as an f64; every integral f64 below it in magnitude fits an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) {
        Ok(f as i64)
    } else {
        Err("out of range")
    }
}

/// The natural value of a JSON value, for the entries of a `Map`.
fn natural_json(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::List(items.iter().map(natural_json).collect()),
        J::Object(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), natural_json(v)))
                .collect(),
        ),
    }
}

/// JSON for a natural value, for Arrow columns declared `Json` that are not text and for the
/// `json` columns handed to plugins. JSON has no bytes, NaN or infinity: bytes become base64
/// text and the others `null`.
pub fn value_to_json(value: Value) -> serde_json::Value {
    use serde_json::Value as J;
    let float = |f: f64| serde_json::Number::from_f64(f).map_or(J::Null, J::Number);
    match value {
        Value::Null => J::Null,
        Value::Bytes(b) => J::String(BASE64.encode(b)),
        Value::String(s) => J::String(s),
        Value::Int32(i) => J::from(i),
        Value::Int64(i) | Value::UnixTimestamp(i) => J::from(i),
        Value::Double(f) => float(f),
        Value::Float(f) => float(f64::from(f)),
        Value::Bool(b) => J::Bool(b),
        Value::List(items) => J::Array(items.into_iter().map(value_to_json).collect()),
        Value::Map(entries) | Value::Struct(entries) => J::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, value_to_json(v)))
                .collect(),
        ),
        Value::Json(text) => serde_json::from_str(&text).unwrap_or(J::String(text)),
    }
}

/// A float as Python's `str()`/`repr()` writes it: the shortest digits that round-trip, in
/// positional notation for exponents from -4 to 15 and scientific (`1e+16`, `1.5e-05`) beyond.
fn python_float_str(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's repr.
    let sci = format!("{:e}", x.abs());
    let sign = if x < 0.0 { "-" } else { "" };
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return format!("{x}");
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return format!("{x}");
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp.unsigned_abs() as usize + 1;
            if digits.len() <= int_len {
                let zeros = "0".repeat(int_len - digits.len());
                format!("{sign}{digits}{zeros}.0")
            } else {
                let (int, frac) = digits.split_at(int_len);
                format!("{sign}{int}.{frac}")
            }
        } else {
            let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{dot}{rest}e{exp_sign}{:02}",
            exp.unsigned_abs()
        )
    }
}

fn invalid_json_text(text: &str, dtype: &DType, error: &serde_json::Error) -> ConvertError {
    ConvertError::InvalidJsonText {
        text: excerpt(text),
        dtype: dtype.clone(),
        reason: error.to_string(),
    }
}

/// At most 80 characters of `text`, so that an error about a large document stays readable.
fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::sync::Arc;

    use super::*;
    use arrow_array::builder::{
        Int64Builder, ListBuilder, MapBuilder, NullBufferBuilder, StringBuilder,
    };
    use arrow_array::types::UInt16Type;
    use arrow_array::{
        ArrayRef, ArrowPrimitiveType, Decimal128Array, DictionaryArray, NullArray, RecordBatch,
        StructArray,
    };
    use arrow_schema::{Field, Fields};
    use chrono::{TimeZone, Utc};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use proptest::prelude::*;
    use serde_json::json;

    type F16 = <Float16Type as ArrowPrimitiveType>::Native;

    fn dt(text: &str) -> DType {
        DType::parse(text).unwrap()
    }

    fn convert_all(array: &dyn Array, dtype: &DType) -> Vec<Value> {
        let c = ColumnConverter::new(array, dtype).unwrap();
        (0..array.len()).map(|i| c.value(i).unwrap()).collect()
    }

    fn new_error(array: &dyn Array, dtype: &str) -> String {
        ColumnConverter::new(array, &dt(dtype))
            .unwrap_err()
            .to_string()
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_string())
    }

    fn entries(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn field(name: &str, t: DataType) -> Arc<Field> {
        Arc::new(Field::new(name, t, true))
    }

    /// A struct array from named children, with the rows in `nulls` null.
    fn struct_array(children: Vec<(&str, ArrayRef)>, nulls: &[usize]) -> StructArray {
        let len = children[0].1.len();
        let fields: Fields = children
            .iter()
            .map(|(n, a)| field(n, a.data_type().clone()))
            .collect();
        let mut validity = NullBufferBuilder::new(len);
        for row in 0..len {
            validity.append(!nulls.contains(&row));
        }
        let columns = children.into_iter().map(|(_, a)| a).collect();
        StructArray::try_new(fields, columns, validity.finish()).unwrap()
    }

    #[test]
    fn integers_of_every_width_become_int64() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(vec![Some(-8), None, Some(7)])),
            Arc::new(Int16Array::from(vec![Some(-8), None, Some(7)])),
            Arc::new(Int32Array::from(vec![Some(-8), None, Some(7)])),
            Arc::new(Int64Array::from(vec![Some(-8), None, Some(7)])),
        ];
        for a in &arrays {
            assert_eq!(
                convert_all(a.as_ref(), &DType::Int64),
                [Value::Int64(-8), Value::Null, Value::Int64(7)],
                "{}",
                a.data_type()
            );
        }
        let unsigned: Vec<ArrayRef> = vec![
            Arc::new(UInt8Array::from(vec![Some(200), None])),
            Arc::new(UInt16Array::from(vec![Some(200), None])),
            Arc::new(UInt32Array::from(vec![Some(200), None])),
            Arc::new(UInt64Array::from(vec![Some(200), None])),
        ];
        for a in &unsigned {
            assert_eq!(
                convert_all(a.as_ref(), &DType::Int64),
                [Value::Int64(200), Value::Null],
                "{}",
                a.data_type()
            );
            assert_eq!(
                convert_all(a.as_ref(), &DType::Int32),
                [Value::Int32(200), Value::Null],
                "{}",
                a.data_type()
            );
        }
    }

    #[test]
    fn integers_out_of_range_fail_for_that_cell_only() {
        let big = UInt64Array::from(vec![u64::MAX, 5, i64::MAX as u64]);
        let c = ColumnConverter::new(&big, &DType::Int64).unwrap();
        assert_eq!(
            c.value(0).unwrap_err().to_string(),
            "value 18446744073709551615 (Arrow type UInt64) does not fit dtype Int64"
        );
        assert_eq!(c.value(1).unwrap(), Value::Int64(5));
        assert_eq!(c.value(2).unwrap(), Value::Int64(i64::MAX));

        let wide = Int64Array::from(vec![1, i64::from(i32::MAX) + 1, i64::from(i32::MIN)]);
        let c = ColumnConverter::new(&wide, &DType::Int32).unwrap();
        assert_eq!(c.value(0).unwrap(), Value::Int32(1));
        assert_eq!(
            c.value(1).unwrap_err(),
            ConvertError::OutOfRange {
                value: "2147483648".into(),
                arrow: DataType::Int64,
                dtype: DType::Int32,
            }
        );
        assert_eq!(c.value(2).unwrap(), Value::Int32(i32::MIN));
        let unsigned = UInt32Array::from(vec![u32::MAX]);
        assert!(
            ColumnConverter::new(&unsigned, &DType::Int32)
                .unwrap()
                .value(0)
                .is_err()
        );
    }

    #[test]
    fn floats_widen_narrow_and_take_integers() {
        let f64s = Float64Array::from(vec![Some(0.1), None]);
        let f32s = Float32Array::from(vec![Some(0.1f32), None]);
        let f16s = Float16Array::from(vec![Some(F16::from_f32(1.5)), None]);
        let ints = Int32Array::from(vec![Some(3), None]);
        let big = UInt64Array::from(vec![Some(10), None]);

        assert_eq!(
            convert_all(&f64s, &DType::Float32),
            [Value::Float(0.1f32), Value::Null]
        );
        assert_eq!(
            convert_all(&f32s, &DType::Float32),
            [Value::Float(0.1f32), Value::Null]
        );
        assert_eq!(
            convert_all(&f16s, &DType::Float32),
            [Value::Float(1.5), Value::Null]
        );
        assert_eq!(
            convert_all(&ints, &DType::Float32),
            [Value::Float(3.0), Value::Null]
        );

        assert_eq!(
            convert_all(&f64s, &DType::Float64),
            [Value::Double(0.1), Value::Null]
        );
        assert_eq!(
            convert_all(&f32s, &DType::Float64),
            [Value::Double(f64::from(0.1f32)), Value::Null]
        );
        assert_eq!(
            convert_all(&f16s, &DType::Float64),
            [Value::Double(1.5), Value::Null]
        );
        assert_eq!(
            convert_all(&big, &DType::Float64),
            [Value::Double(10.0), Value::Null]
        );

        // Floats never silently become integers.
        assert_eq!(
            new_error(&f64s, "Int64"),
            "cannot convert Arrow type Float64 to dtype Int64"
        );
    }

    #[test]
    fn strings_from_every_text_layout_and_dictionaries() {
        let want = [s("a"), Value::Null, s("")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("a"), None, Some("")])),
            Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("")])),
            Arc::new(StringViewArray::from(vec![Some("a"), None, Some("")])),
            Arc::new(DictionaryArray::<Int8Type>::from_iter([
                Some("a"),
                None,
                Some(""),
            ])),
            Arc::new(DictionaryArray::<UInt16Type>::from_iter([
                Some("a"),
                None,
                Some(""),
            ])),
        ];
        for a in &arrays {
            assert_eq!(
                convert_all(a.as_ref(), &DType::String),
                want,
                "{}",
                a.data_type()
            );
        }
        // A null among the dictionary's values, rather than its keys, is null too.
        let dict = DictionaryArray::try_new(
            Int32Array::from(vec![0, 1, 0]),
            Arc::new(StringArray::from(vec![Some("x"), None])),
        )
        .unwrap();
        assert_eq!(
            convert_all(&dict, &DType::String),
            [s("x"), Value::Null, s("x")]
        );
        assert_eq!(
            new_error(&dict, "Int64"),
            "cannot convert Arrow type Dictionary(Int32, Utf8) to dtype Int64"
        );
        assert_eq!(
            new_error(&Int64Array::from(vec![1]), "String"),
            "cannot convert Arrow type Int64 to dtype String"
        );
    }

    #[test]
    fn bytes_from_binary_layouts_and_text() {
        let want = [Value::Bytes(vec![1, 2]), Value::Null];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(BinaryArray::from_opt_vec(vec![Some(&[1, 2]), None])),
            Arc::new(LargeBinaryArray::from_opt_vec(vec![Some(&[1, 2]), None])),
            Arc::new(BinaryViewArray::from(vec![Some(&[1u8, 2][..]), None])),
            Arc::new(FixedSizeBinaryArray::try_from(vec![Some(&[1u8, 2][..]), None]).unwrap()),
        ];
        for a in &arrays {
            assert_eq!(
                convert_all(a.as_ref(), &DType::Bytes),
                want,
                "{}",
                a.data_type()
            );
        }
        let text = StringArray::from(vec![Some("hé"), None]);
        assert_eq!(
            convert_all(&text, &DType::Bytes),
            [Value::Bytes("hé".as_bytes().to_vec()), Value::Null]
        );
    }

    #[test]
    fn bools() {
        let bools = BooleanArray::from(vec![Some(true), None, Some(false)]);
        assert_eq!(
            convert_all(&bools, &DType::Bool),
            [Value::Bool(true), Value::Null, Value::Bool(false)]
        );
        assert_eq!(
            new_error(&Int8Array::from(vec![1]), "Bool"),
            "cannot convert Arrow type Int8 to dtype Bool"
        );
    }

    #[test]
    fn unix_timestamps_floor_to_seconds_from_every_unit() {
        let ts = Value::UnixTimestamp;
        let cases: Vec<(ArrayRef, Vec<Value>)> = vec![
            (
                Arc::new(TimestampSecondArray::from(vec![
                    Some(-1),
                    None,
                    Some(1_700_000_000),
                ])),
                vec![ts(-1), Value::Null, ts(1_700_000_000)],
            ),
            (
                Arc::new(
                    TimestampMillisecondArray::from(vec![Some(-1_500), None, Some(1_999)])
                        .with_timezone("UTC"),
                ),
                vec![ts(-2), Value::Null, ts(1)],
            ),
            (
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(-1), None, Some(1_500_000)])
                        .with_timezone("Europe/Paris"),
                ),
                vec![ts(-1), Value::Null, ts(1)],
            ),
            (
                Arc::new(
                    TimestampNanosecondArray::from(vec![Some(-1), None, Some(2_999_999_999)])
                        .with_timezone("+02:00"),
                ),
                vec![ts(-1), Value::Null, ts(2)],
            ),
            (
                Arc::new(Date32Array::from(vec![Some(-1), None, Some(1)])),
                vec![ts(-86_400), Value::Null, ts(86_400)],
            ),
            (
                Arc::new(Date64Array::from(vec![Some(-1), None, Some(86_400_000)])),
                vec![ts(-1), Value::Null, ts(86_400)],
            ),
            (
                Arc::new(Int64Array::from(vec![Some(-5), None, Some(42)])),
                vec![ts(-5), Value::Null, ts(42)],
            ),
        ];
        for (a, want) in &cases {
            assert_eq!(
                convert_all(a.as_ref(), &DType::UnixTimestamp),
                *want,
                "{}",
                a.data_type()
            );
        }
        assert_eq!(
            new_error(&StringArray::from(vec!["2024-01-01"]), "UnixTimestamp"),
            "cannot convert Arrow type Utf8 to dtype UnixTimestamp"
        );
    }

    #[test]
    fn json_from_text_is_kept_as_is_and_must_parse() {
        let text = StringArray::from(vec![
            Some(r#"{"b": 1, "a": [true]}"#),
            None,
            Some("[1,2]"),
            Some("{oops"),
        ]);
        let c = ColumnConverter::new(&text, &DType::Json).unwrap();
        assert_eq!(
            c.value(0).unwrap(),
            Value::Json(r#"{"b": 1, "a": [true]}"#.into())
        );
        assert_eq!(c.value(1).unwrap(), Value::Null);
        assert_eq!(c.value(2).unwrap(), Value::Json("[1,2]".into()));
        let err = c.value(3).unwrap_err();
        assert!(
            matches!(&err, ConvertError::InvalidJsonText { text, dtype: DType::Json, .. } if text == "{oops"),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("text \"{oops\" for dtype Json is not valid JSON: ")
        );

        let large = LargeStringArray::from(vec!["{}"]);
        assert_eq!(
            convert_all(&large, &DType::Json),
            [Value::Json("{}".into())]
        );
    }

    #[test]
    fn json_from_other_types_is_rendered() {
        let st = struct_array(
            vec![
                ("b", Arc::new(Int64Array::from(vec![Some(1), Some(2)]))),
                ("a", Arc::new(StringArray::from(vec![Some("x"), None]))),
            ],
            &[],
        );
        // Keys keep the struct's field order (serde_json's `preserve_order`).
        assert_eq!(
            convert_all(&st, &DType::Json),
            [
                Value::Json(r#"{"b":1,"a":"x"}"#.into()),
                Value::Json(r#"{"b":2,"a":null}"#.into())
            ]
        );
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
        ]);
        assert_eq!(
            convert_all(&list, &DType::Json),
            [Value::Json("[1,null,3]".into()), Value::Null]
        );
        let floats = Float64Array::from(vec![1.5, f64::NAN]);
        assert_eq!(
            convert_all(&floats, &DType::Json),
            [Value::Json("1.5".into()), Value::Json("null".into())]
        );
        let bools = BooleanArray::from(vec![true]);
        assert_eq!(
            convert_all(&bools, &DType::Json),
            [Value::Json("true".into())]
        );
        let bytes = BinaryArray::from_vec(vec![&[1, 2]]);
        assert_eq!(
            convert_all(&bytes, &DType::Json),
            [Value::Json("\"AQI=\"".into())]
        );
        let times = TimestampMillisecondArray::from(vec![1_700_000_000_500]);
        assert_eq!(
            convert_all(&times, &DType::Json),
            [Value::Json("1700000000".into())]
        );
        assert_eq!(
            new_error(&Decimal128Array::from(vec![1]), "Json"),
            "cannot convert Arrow type Decimal128(38, 10) to dtype Json"
        );
    }

    #[test]
    fn map_from_a_struct_takes_natural_values() {
        let nested = struct_array(
            vec![("x", Arc::new(Int32Array::from(vec![Some(1), Some(2)])))],
            &[1],
        );
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            Some(vec![]),
        ]);
        let st = struct_array(
            vec![
                ("s", Arc::new(StringArray::from(vec![Some("a"), Some("b")]))),
                ("i", Arc::new(Int64Array::from(vec![Some(1), None]))),
                (
                    "f",
                    Arc::new(Float32Array::from(vec![Some(0.5), Some(1.0)])),
                ),
                (
                    "b",
                    Arc::new(BooleanArray::from(vec![Some(true), Some(false)])),
                ),
                ("nested", Arc::new(nested)),
                ("l", Arc::new(list)),
                ("n", Arc::new(NullArray::new(2))),
            ],
            &[],
        );
        let got = convert_all(&st, &DType::Map);
        assert_eq!(
            got[0],
            Value::Map(entries(&[
                ("s", s("a")),
                ("i", Value::Int64(1)),
                ("f", Value::Double(0.5)),
                ("b", Value::Bool(true)),
                ("nested", Value::Map(entries(&[("x", Value::Int64(1))]))),
                ("l", Value::List(vec![Value::Int64(1), Value::Null])),
                ("n", Value::Null),
            ]))
        );
        assert_eq!(
            got[1],
            Value::Map(entries(&[
                ("s", s("b")),
                ("i", Value::Null),
                ("f", Value::Double(1.0)),
                ("b", Value::Bool(false)),
                ("nested", Value::Null),
                ("l", Value::List(vec![])),
                ("n", Value::Null),
            ]))
        );

        // A null struct is null, and a slice starts where it should.
        let st = struct_array(
            vec![("k", Arc::new(StringArray::from(vec!["a", "b", "c"])))],
            &[1],
        );
        assert_eq!(
            convert_all(&st.slice(1, 2), &DType::Map),
            [Value::Null, Value::Map(entries(&[("k", s("c"))]))]
        );

        let odd = struct_array(vec![("d", Arc::new(Decimal128Array::from(vec![1])))], &[]);
        assert_eq!(
            new_error(&odd, "Map"),
            "field `d`: Arrow type Decimal128(38, 10) has no natural value to put in a Map or Json"
        );
    }

    #[test]
    fn map_from_an_arrow_map_and_from_json_text() {
        let mut b = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        b.keys().append_value("a");
        b.values().append_value(1);
        b.keys().append_value("b");
        b.values().append_null();
        b.append(true).unwrap();
        b.append(false).unwrap();
        b.append(true).unwrap();
        let map = b.finish();
        assert_eq!(
            convert_all(&map, &DType::Map),
            [
                Value::Map(entries(&[("a", Value::Int64(1)), ("b", Value::Null)])),
                Value::Null,
                Value::Map(vec![]),
            ]
        );
        assert_eq!(
            convert_all(&map.slice(2, 1), &DType::Map),
            [Value::Map(vec![])]
        );

        let text = StringArray::from(vec![
            Some(
                r#"{"z": 1, "a": "x", "f": 1.5, "t": true, "n": null, "l": [1], "o": {"k": "v"}}"#,
            ),
            None,
            Some("[1]"),
            Some("nope"),
        ]);
        let c = ColumnConverter::new(&text, &DType::Map).unwrap();
        assert_eq!(
            c.value(0).unwrap(),
            Value::Map(entries(&[
                ("z", Value::Int64(1)),
                ("a", s("x")),
                ("f", Value::Double(1.5)),
                ("t", Value::Bool(true)),
                ("n", Value::Null),
                ("l", Value::List(vec![Value::Int64(1)])),
                ("o", Value::Map(entries(&[("k", s("v"))]))),
            ]))
        );
        assert_eq!(c.value(1).unwrap(), Value::Null);
        assert_eq!(
            c.value(2).unwrap_err().to_string(),
            "cannot convert JSON value [1] to dtype Map: expected a JSON object"
        );
        assert!(matches!(
            c.value(3).unwrap_err(),
            ConvertError::InvalidJsonText { .. }
        ));
        assert_eq!(
            new_error(&Int64Array::from(vec![1]), "Map"),
            "cannot convert Arrow type Int64 to dtype Map"
        );
    }

    #[test]
    fn struct_follows_the_declared_fields() {
        let st = struct_array(
            vec![
                (
                    "age",
                    Arc::new(Int32Array::from(vec![Some(30), None, Some(40)])),
                ),
                (
                    "name",
                    Arc::new(StringArray::from(vec!["ann", "bob", "cy"])),
                ),
                ("extra", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
            ],
            &[2],
        );
        let dtype = dt("Struct{name: String, age: Int64, missing: Bool}");
        assert_eq!(
            convert_all(&st, &dtype),
            [
                Value::Struct(entries(&[
                    ("name", s("ann")),
                    ("age", Value::Int64(30)),
                    ("missing", Value::Null),
                ])),
                Value::Struct(entries(&[
                    ("name", s("bob")),
                    ("age", Value::Null),
                    ("missing", Value::Null),
                ])),
                Value::Null,
            ]
        );
        assert_eq!(
            new_error(&st, "Struct{age: Bool}"),
            "field `age`: cannot convert Arrow type Int32 to dtype Bool"
        );

        let big = struct_array(
            vec![("n", Arc::new(UInt64Array::from(vec![u64::MAX])))],
            &[],
        );
        assert_eq!(
            ColumnConverter::new(&big, &dt("Struct{n: Int64}"))
                .unwrap()
                .value(0)
                .unwrap_err()
                .to_string(),
            "field `n`: value 18446744073709551615 (Arrow type UInt64) does not fit dtype Int64"
        );

        let text = StringArray::from(vec![Some(r#"{"age": 3, "name": "x", "other": 1}"#), None]);
        assert_eq!(
            convert_all(&text, &dt("Struct{name: String, age: Int32}")),
            [
                Value::Struct(entries(&[("name", s("x")), ("age", Value::Int32(3))])),
                Value::Null,
            ]
        );
        assert_eq!(
            new_error(&Int64Array::from(vec![1]), "Struct{a: Int64}"),
            "cannot convert Arrow type Int64 to dtype Struct{a: Int64}"
        );
    }

    #[test]
    fn arrays_from_every_list_layout() {
        let list = ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
            Some(vec![Some(1.5), None]),
            None,
            Some(vec![]),
        ]);
        assert_eq!(
            convert_all(&list, &dt("Array(Float32)")),
            [
                Value::List(vec![Value::Float(1.5), Value::Null]),
                Value::Null,
                Value::List(vec![]),
            ]
        );
        assert_eq!(
            convert_all(&list, &dt("Array(Float64)"))[0],
            Value::List(vec![Value::Double(1.5), Value::Null])
        );
        assert_eq!(
            convert_all(&list.slice(2, 1), &dt("Array(Float32)")),
            [Value::List(vec![])]
        );

        let want = [
            Value::List(vec![Value::Int64(1), Value::Null]),
            Value::Null,
            Value::List(vec![Value::Int64(3), Value::Int64(4)]),
        ];
        let data = vec![
            Some(vec![Some(1), None]),
            None,
            Some(vec![Some(3), Some(4)]),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(LargeListArray::from_iter_primitive::<Int64Type, _, _>(
                data.clone(),
            )),
            Arc::new(FixedSizeListArray::from_iter_primitive::<Int32Type, _, _>(
                data.iter().map(|r| {
                    r.as_ref()
                        .map(|v| v.iter().map(|x| x.map(|x| x as i32)).collect::<Vec<_>>())
                }),
                2,
            )),
            Arc::new(ListViewArray::from_iter_primitive::<Int64Type, _, _>(
                data.clone(),
            )),
            Arc::new(LargeListViewArray::from_iter_primitive::<Int8Type, _, _>(
                data.iter().map(|r| {
                    r.as_ref()
                        .map(|v| v.iter().map(|x| x.map(|x| x as i8)).collect::<Vec<_>>())
                }),
            )),
        ];
        for a in &arrays {
            assert_eq!(
                convert_all(a.as_ref(), &dt("Array(Int64)")),
                want,
                "{}",
                a.data_type()
            );
            assert_eq!(
                convert_all(&a.slice(1, 2), &dt("Array(Int64)")),
                want[1..],
                "{} sliced",
                a.data_type()
            );
        }

        // Nested lists and lists of structs.
        let mut nested = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
        nested.values().values().append_value(1);
        nested.values().append(true);
        nested.values().append(true);
        nested.append(true);
        let nested = nested.finish();
        assert_eq!(
            convert_all(&nested, &dt("Array(Array(Int64))")),
            [Value::List(vec![
                Value::List(vec![Value::Int64(1)]),
                Value::List(vec![]),
            ])]
        );
        let structs = struct_array(vec![("a", Arc::new(Int64Array::from(vec![1, 2])))], &[1]);
        let list_of_structs = FixedSizeListArray::try_new(
            field("item", structs.data_type().clone()),
            2,
            Arc::new(structs),
            None,
        )
        .unwrap();
        assert_eq!(
            convert_all(&list_of_structs, &dt("Array(Struct{a: Int64})")),
            [Value::List(vec![
                Value::Struct(entries(&[("a", Value::Int64(1))])),
                Value::Null,
            ])]
        );

        let strings = ListArray::from_iter_primitive::<UInt64Type, _, _>(vec![Some(vec![
            Some(1),
            Some(u64::MAX),
        ])]);
        assert_eq!(
            ColumnConverter::new(&strings, &dt("Array(Int64)"))
                .unwrap()
                .value(0)
                .unwrap_err()
                .to_string(),
            "element 1: value 18446744073709551615 (Arrow type UInt64) does not fit dtype Int64"
        );
        let err = new_error(&list, "Array(String)");
        assert!(
            err.starts_with("cannot convert Arrow type List(")
                && err.ends_with(" to dtype Array(String)"),
            "{err}"
        );
        assert_eq!(
            new_error(&Int64Array::from(vec![1]), "Array(Int64)"),
            "cannot convert Arrow type Int64 to dtype Array(Int64)"
        );
    }

    #[test]
    fn a_null_column_is_null_for_every_dtype() {
        let nulls = NullArray::new(2);
        for t in [
            "Int64",
            "Float32",
            "String",
            "Bytes",
            "Bool",
            "UnixTimestamp",
            "Json",
            "Map",
            "Struct{a: Int64}",
            "Array(Int64)",
        ] {
            assert_eq!(
                convert_all(&nulls, &dt(t)),
                [Value::Null, Value::Null],
                "{t}"
            );
        }
    }

    #[test]
    fn a_row_past_the_end_is_an_error_not_a_panic() {
        let a = Int64Array::from(vec![1]);
        let c = ColumnConverter::new(&a, &DType::Int64).unwrap();
        assert_eq!(
            c.value(1).unwrap_err(),
            ConvertError::RowOutOfRange { row: 1, len: 1 }
        );
        let t = TimestampColumn::new(&a);
        assert!(t.is_err());
    }

    #[test]
    fn utf8_for_int64_names_both_types() {
        let text = StringArray::from(vec!["1"]);
        let err = ColumnConverter::new(&text, &DType::Int64).unwrap_err();
        assert_eq!(
            err,
            ConvertError::ArrowType {
                arrow: DataType::Utf8,
                dtype: DType::Int64
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot convert Arrow type Utf8 to dtype Int64"
        );
    }

    #[test]
    fn timestamp_columns_in_every_unit_read_as_micros() {
        // 2023-11-14T22:13:20.123456789Z in each unit, with and without a zone.
        let micros = 1_700_000_000_123_456;
        let cases: Vec<(ArrayRef, i64)> = vec![
            (
                Arc::new(TimestampSecondArray::from(vec![Some(1_700_000_000), None])),
                1_700_000_000_000_000,
            ),
            (
                Arc::new(
                    TimestampSecondArray::from(vec![Some(1_700_000_000), None])
                        .with_timezone("UTC"),
                ),
                1_700_000_000_000_000,
            ),
            (
                Arc::new(TimestampMillisecondArray::from(vec![
                    Some(1_700_000_000_123),
                    None,
                ])),
                1_700_000_000_123_000,
            ),
            (
                Arc::new(
                    TimestampMillisecondArray::from(vec![Some(1_700_000_000_123), None])
                        .with_timezone("America/New_York"),
                ),
                1_700_000_000_123_000,
            ),
            (
                Arc::new(TimestampMicrosecondArray::from(vec![Some(micros), None])),
                micros,
            ),
            (
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(micros), None])
                        .with_timezone("+05:30"),
                ),
                micros,
            ),
            (
                Arc::new(TimestampNanosecondArray::from(vec![
                    Some(1_700_000_000_123_456_789),
                    None,
                ])),
                micros,
            ),
            (
                Arc::new(
                    TimestampNanosecondArray::from(vec![Some(1_700_000_000_123_456_789), None])
                        .with_timezone("UTC"),
                ),
                micros,
            ),
            (
                Arc::new(Date32Array::from(vec![Some(19_675), None])),
                19_675 * 86_400 * 1_000_000,
            ),
            (
                Arc::new(Date64Array::from(vec![Some(1_699_920_000_000), None])),
                1_699_920_000_000_000,
            ),
        ];
        for (a, want) in &cases {
            let t = TimestampColumn::new(a.as_ref()).unwrap();
            assert_eq!(t.micros(0), Some(*want), "{}", a.data_type());
            assert_eq!(t.micros(1), None, "{}", a.data_type());
            assert_eq!(t.micros(2), None, "{}", a.data_type());
        }

        // Before the epoch, nanoseconds floor; extreme seconds saturate.
        let pre = TimestampNanosecondArray::from(vec![-1, -1_000]);
        let t = TimestampColumn::new(&pre).unwrap();
        assert_eq!((t.micros(0), t.micros(1)), (Some(-1), Some(-1)));
        let huge = TimestampSecondArray::from(vec![i64::MAX, i64::MIN]);
        let t = TimestampColumn::new(&huge).unwrap();
        assert_eq!((t.micros(0), t.micros(1)), (Some(i64::MAX), Some(i64::MIN)));

        let nulls = NullArray::new(1);
        assert_eq!(TimestampColumn::new(&nulls).unwrap().micros(0), None);

        assert_eq!(
            TimestampColumn::new(&Int64Array::from(vec![1]))
                .unwrap_err()
                .to_string(),
            "Arrow type Int64 is not a timestamp or date"
        );
    }

    fn j(json: serde_json::Value, dtype: &str) -> Result<Value, String> {
        json_to_value(&json, &dt(dtype)).map_err(|e| e.to_string())
    }

    #[test]
    fn json_null_is_null_for_every_dtype() {
        for t in [
            "Int32",
            "Int64",
            "Float32",
            "Float64",
            "String",
            "Bytes",
            "Bool",
            "UnixTimestamp",
            "Json",
            "Map",
            "Struct{a: Int64}",
            "Array(Int64)",
        ] {
            assert_eq!(j(json!(null), t), Ok(Value::Null), "{t}");
        }
    }

    #[test]
    fn json_integers() {
        assert_eq!(j(json!(1001), "Int64"), Ok(Value::Int64(1001)));
        assert_eq!(j(json!(1001.0), "Int64"), Ok(Value::Int64(1001)));
        assert_eq!(j(json!(-3), "Int64"), Ok(Value::Int64(-3)));
        assert_eq!(j(json!(i64::MIN), "Int64"), Ok(Value::Int64(i64::MIN)));
        assert_eq!(
            j(json!(1.5), "Int64"),
            Err("cannot convert JSON value 1.5 to dtype Int64: not a whole number".into())
        );
        assert_eq!(
            j(json!(1e19), "Int64"),
            Err("cannot convert JSON value 1e+19 to dtype Int64: out of range".into())
        );
        assert_eq!(
            j(json!(u64::MAX), "Int64"),
            Err(
                "cannot convert JSON value 18446744073709551615 to dtype Int64: out of range"
                    .into()
            )
        );
        assert_eq!(
            j(json!("1"), "Int64"),
            Err("cannot convert JSON value \"1\" to dtype Int64: expected an integer".into())
        );
        assert_eq!(j(json!(5), "Int32"), Ok(Value::Int32(5)));
        assert_eq!(j(json!(7.0), "Int32"), Ok(Value::Int32(7)));
        assert_eq!(
            j(json!(2_147_483_648i64), "Int32"),
            Err("cannot convert JSON value 2147483648 to dtype Int32: out of range".into())
        );
        assert!(j(json!(true), "Int32").is_err());
    }

    #[test]
    fn json_floats() {
        assert_eq!(j(json!(1.5), "Float32"), Ok(Value::Float(1.5)));
        assert_eq!(j(json!(2), "Float32"), Ok(Value::Float(2.0)));
        assert_eq!(j(json!(0.1), "Float64"), Ok(Value::Double(0.1)));
        assert_eq!(
            j(json!(u64::MAX), "Float64"),
            Ok(Value::Double(u64::MAX as f64))
        );
        assert_eq!(
            j(json!("1.5"), "Float64"),
            Err("cannot convert JSON value \"1.5\" to dtype Float64: expected a number".into())
        );
    }

    #[test]
    fn json_strings_write_scalars_as_python_does() {
        assert_eq!(j(json!("a"), "String"), Ok(s("a")));
        assert_eq!(j(json!(true), "String"), Ok(s("True")));
        assert_eq!(j(json!(false), "String"), Ok(s("False")));
        assert_eq!(j(json!(1001), "String"), Ok(s("1001")));
        assert_eq!(j(json!(u64::MAX), "String"), Ok(s("18446744073709551615")));
        assert_eq!(j(json!(1.5), "String"), Ok(s("1.5")));
        assert_eq!(j(json!(1001.0), "String"), Ok(s("1001.0")));
        assert_eq!(j(json!(1e16), "String"), Ok(s("1e+16")));
        assert_eq!(
            j(json!([1]), "String"),
            Err("cannot convert JSON value [1] to dtype String: expected a string".into())
        );
    }

    #[test]
    fn python_float_text() {
        for (x, want) in [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (-2.5, "-2.5"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(python_float_str(x), want, "{x}");
        }
    }

    #[test]
    fn json_bytes_bools_and_timestamps() {
        assert_eq!(j(json!("AQI="), "Bytes"), Ok(Value::Bytes(vec![1, 2])));
        assert_eq!(j(json!(""), "Bytes"), Ok(Value::Bytes(vec![])));
        let err = j(json!("!!"), "Bytes").unwrap_err();
        assert!(
            err.starts_with("cannot convert JSON value \"!!\" to dtype Bytes: not base64: "),
            "{err}"
        );
        assert!(j(json!(5), "Bytes").is_err());

        assert_eq!(j(json!(true), "Bool"), Ok(Value::Bool(true)));
        assert_eq!(
            j(json!("true"), "Bool"),
            Err("cannot convert JSON value \"true\" to dtype Bool: expected true or false".into())
        );

        let ts = |v| Ok(Value::UnixTimestamp(v));
        assert_eq!(j(json!(1_700_000_000), "UnixTimestamp"), ts(1_700_000_000));
        for text in [
            "2023-11-14T22:13:20Z",
            "2023-11-14 22:13:20",
            "2023-11-14T22:13:20",
            "2023-11-15 00:13:20+02:00",
            "2023-11-14T22:13:20.999Z",
        ] {
            assert_eq!(j(json!(text), "UnixTimestamp"), ts(1_700_000_000), "{text}");
        }
        assert_eq!(j(json!("1969-12-31T23:59:59.5Z"), "UnixTimestamp"), ts(-1));
        let err = j(json!("yesterday"), "UnixTimestamp").unwrap_err();
        assert!(
            err.starts_with("cannot convert JSON value \"yesterday\" to dtype UnixTimestamp: "),
            "{err}"
        );
        assert!(j(json!(true), "UnixTimestamp").is_err());
        assert!(j(json!(1.5), "UnixTimestamp").is_err());
    }

    #[test]
    fn json_json() {
        assert_eq!(
            j(json!({"b": 1, "a": [true]}), "Json"),
            Ok(Value::Json(r#"{"b":1,"a":[true]}"#.into()))
        );
        assert_eq!(
            j(json!("{\"x\": 1}"), "Json"),
            Ok(Value::Json("{\"x\": 1}".into()))
        );
        assert_eq!(
            j(json!("\"quoted\""), "Json"),
            Ok(Value::Json("\"quoted\"".into()))
        );
        assert_eq!(j(json!(5), "Json"), Ok(Value::Json("5".into())));
        let err = j(json!("not json"), "Json").unwrap_err();
        assert!(
            err.starts_with("text \"not json\" for dtype Json is not valid JSON: "),
            "{err}"
        );
    }

    #[test]
    fn json_maps() {
        assert_eq!(
            j(
                json!({"z": 1, "a": "x", "f": 1.5, "t": false, "n": null, "l": [1, "y"], "o": {"k": 2}}),
                "Map"
            ),
            Ok(Value::Map(entries(&[
                ("z", Value::Int64(1)),
                ("a", s("x")),
                ("f", Value::Double(1.5)),
                ("t", Value::Bool(false)),
                ("n", Value::Null),
                ("l", Value::List(vec![Value::Int64(1), s("y")])),
                ("o", Value::Map(entries(&[("k", Value::Int64(2))]))),
            ])))
        );
        assert_eq!(
            j(json!(r#"{"k": "v"}"#), "Map"),
            Ok(Value::Map(entries(&[("k", s("v"))])))
        );
        assert_eq!(
            j(json!(5), "Map"),
            Err("cannot convert JSON value 5 to dtype Map: expected an object, or a string holding one".into())
        );
        assert_eq!(
            j(json!("[1]"), "Map"),
            Err("cannot convert JSON value [1] to dtype Map: expected a JSON object".into())
        );
    }

    #[test]
    fn json_structs() {
        let dtype = "Struct{name: String, age: String, missing: Int64}";
        let want = Ok(Value::Struct(entries(&[
            ("name", s("n")),
            ("age", s("30")),
            ("missing", Value::Null),
        ])));
        assert_eq!(j(json!({"age": 30, "name": "n", "extra": 1}), dtype), want);
        assert_eq!(j(json!(r#"{"age": "30", "name": "n"}"#), dtype), want);
        assert_eq!(
            j(json!({"age": "x"}), "Struct{age: Int64}"),
            Err(
                "field `age`: cannot convert JSON value \"x\" to dtype Int64: expected an integer"
                    .into()
            )
        );
        assert!(j(json!([1]), dtype).is_err());
        assert!(j(json!("{"), dtype).is_err());
    }

    #[test]
    fn json_arrays() {
        assert_eq!(
            j(json!([1, null, 2.0]), "Array(Int64)"),
            Ok(Value::List(vec![
                Value::Int64(1),
                Value::Null,
                Value::Int64(2)
            ]))
        );
        assert_eq!(
            j(json!([[1.5], []]), "Array(Array(Float32))"),
            Ok(Value::List(vec![
                Value::List(vec![Value::Float(1.5)]),
                Value::List(vec![]),
            ]))
        );
        assert_eq!(
            j(json!([1, "x"]), "Array(Int64)"),
            Err(
                "element 1: cannot convert JSON value \"x\" to dtype Int64: expected an integer"
                    .into()
            )
        );
        assert_eq!(
            j(json!({}), "Array(Int64)"),
            Err("cannot convert JSON value {} to dtype Array(Int64): expected an array".into())
        );
    }

    #[test]
    fn long_values_are_shortened_in_errors() {
        let long = "x".repeat(200);
        let err = j(json!(long), "Int64").unwrap_err();
        assert!(err.contains(&format!("\"{}…", "x".repeat(79))), "{err}");
        assert!(err.len() < 150, "{err}");
    }

    fn same_float(got: &Value, want: Option<f64>) -> bool {
        match (got, want) {
            (Value::Double(a), Some(b)) => a.to_bits() == b.to_bits(),
            (Value::Null, None) => true,
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn int64_columns_round_trip(
            values in proptest::collection::vec(proptest::option::of(any::<i64>()), 1..64),
            skip in 0usize..8,
        ) {
            let skip = skip.min(values.len());
            let array = Int64Array::from(values.clone());
            let array = array.slice(skip, values.len() - skip);
            let want: Vec<Value> =
                values[skip..].iter().map(|v| v.map_or(Value::Null, Value::Int64)).collect();
            prop_assert_eq!(convert_all(&array, &DType::Int64), want);
        }

        #[test]
        fn float64_columns_round_trip(
            values in proptest::collection::vec(
                proptest::option::of(proptest::num::f64::ANY), 1..64),
            skip in 0usize..8,
        ) {
            let skip = skip.min(values.len());
            let array = Float64Array::from(values.clone());
            let array = array.slice(skip, values.len() - skip);
            let got = convert_all(&array, &DType::Float64);
            prop_assert_eq!(got.len(), values.len() - skip);
            for (g, w) in got.iter().zip(&values[skip..]) {
                prop_assert!(same_float(g, *w), "{:?} != {:?}", g, w);
            }
        }

        #[test]
        fn string_columns_round_trip(
            values in proptest::collection::vec(proptest::option::of("\\PC{0,12}"), 1..64),
            skip in 0usize..8,
        ) {
            let skip = skip.min(values.len());
            let array = StringArray::from(values.clone());
            let array = array.slice(skip, values.len() - skip);
            let want: Vec<Value> = values[skip..]
                .iter()
                .map(|v| v.clone().map_or(Value::Null, Value::String))
                .collect();
            prop_assert_eq!(convert_all(&array, &DType::String), want);
        }

        #[test]
        fn bool_columns_round_trip(
            values in proptest::collection::vec(proptest::option::of(any::<bool>()), 1..64),
            skip in 0usize..8,
        ) {
            let skip = skip.min(values.len());
            let array = BooleanArray::from(values.clone());
            let array = array.slice(skip, values.len() - skip);
            let want: Vec<Value> =
                values[skip..].iter().map(|v| v.map_or(Value::Null, Value::Bool)).collect();
            prop_assert_eq!(convert_all(&array, &DType::Bool), want);
        }
    }

    #[test]
    fn converts_every_cell_of_the_demo_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("driver_stats.parquet");
        let now = Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26).unwrap();
        let rows = crate::repo::driver_data::write_driver_stats(&path, now, 1).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .with_batch_size(500)
            .build()
            .unwrap();
        let dtypes = [
            ("driver_id", "Int64"),
            ("conv_rate", "Float32"),
            ("acc_rate", "Float32"),
            ("avg_daily_trips", "Int64"),
            ("driver_metadata", "Map"),
            ("driver_config", "Json"),
            ("driver_profile", "Struct{name: String, age: String}"),
        ];
        let first_hour = (Utc.with_ymd_and_hms(2025, 3, 14, 15, 0, 0).unwrap()
            - chrono::Duration::days(15))
        .timestamp_micros();
        let mut seen = 0;
        let mut batches = 0;
        for batch in reader {
            let batch: RecordBatch = batch.unwrap();
            let column = |name: &str| batch.column_by_name(name).unwrap().as_ref();
            let event = TimestampColumn::new(column("event_timestamp")).unwrap();
            let created = TimestampColumn::new(column("created")).unwrap();
            let converters: Vec<ColumnConverter> = dtypes
                .iter()
                .map(|(name, t)| ColumnConverter::new(column(name), &dt(t)).unwrap())
                .collect();
            for row in 0..batch.num_rows() {
                let event = event.micros(row).unwrap();
                assert!(event < now.timestamp_micros());
                assert_eq!(created.micros(row), Some(now.timestamp_micros()));
                let v: Vec<Value> = converters.iter().map(|c| c.value(row).unwrap()).collect();
                let Value::Int64(id) = v[0] else {
                    panic!("driver_id {:?}", v[0])
                };
                assert!(crate::repo::driver_data::DRIVER_IDS.contains(&id));
                if seen + row == 0 {
                    assert_eq!(id, 1005);
                    assert_eq!(event, first_hour);
                }
                for rate in &v[1..3] {
                    assert!(
                        matches!(rate, Value::Float(r) if (0.0..1.0).contains(r)),
                        "{rate:?}"
                    );
                }
                assert!(
                    matches!(v[3], Value::Int64(t) if (0..1000).contains(&t)),
                    "{:?}",
                    v[3]
                );
                let Value::Map(metadata) = &v[4] else {
                    panic!("driver_metadata {:?}", v[4])
                };
                let keys: Vec<&str> = metadata.iter().map(|(k, _)| k.as_str()).collect();
                assert_eq!(keys, ["vehicle_type", "rating"]);
                assert!(matches!(&metadata[1].1, Value::String(r) if r.len() == 3));
                let Value::Json(config) = &v[5] else {
                    panic!("driver_config {:?}", v[5])
                };
                let config: serde_json::Value = serde_json::from_str(config).unwrap();
                assert!(config["max_distance_km"].is_i64());
                let Value::Struct(profile) = &v[6] else {
                    panic!("driver_profile {:?}", v[6])
                };
                assert_eq!(profile[0], ("name".to_string(), s(&format!("driver_{id}"))));
                assert_eq!(profile[1].0, "age");
                assert!(matches!(&profile[1].1, Value::String(a) if a.parse::<u32>().is_ok()));
            }
            seen += batch.num_rows();
            batches += 1;
        }
        assert_eq!(seen, rows);
        assert!(batches > 1);
    }
}
