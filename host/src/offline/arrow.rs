//! Arrow cells to [`Value`]s of a feature's declared dtype, for materialization: the
//! [`ColumnConverter`] and [`TimestampColumn`] described in [`super::convert`].

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

use crate::types::{DType, Value};

use super::convert::ConvertError;
use crate::types::json::{invalid_json_text, object_from_text, value_to_json};

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
///   natural form; or text holding a JSON object, read by [`json_to_value`](crate::types::json::json_to_value).
/// * `Struct{..}`: a `Struct`, output in the declared field order with each child converted
///   to its declared dtype and a field the Arrow struct lacks as `Null`; or text holding a JSON
///   object, read by [`json_to_value`](crate::types::json::json_to_value).
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
