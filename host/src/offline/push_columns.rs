//! Pushed JSON values as Arrow columns of the type the dataset already stores: the
//! conversions listed on [`super::push::append_rows`].

use std::borrow::Cow;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BinaryViewBuilder, BooleanBuilder, FixedSizeBinaryBuilder,
    GenericListBuilder, LargeBinaryBuilder, LargeStringBuilder, MapBuilder, NullBuilder,
    PrimitiveBuilder, StringBuilder, StringViewBuilder, StructBuilder, make_builder,
};
use arrow_array::types::{
    Date32Type, Date64Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{ArrayRef, ArrowPrimitiveType, OffsetSizeTrait, new_null_array};
use arrow_schema::{DataType, Field, TimeUnit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde_json::Value as J;

use super::push::PushError;
use crate::serving::coerce::python_str_list;
use crate::types::time::parse_timestamp;

/// Converts one column's JSON values into an array of the field's exact type.
pub(super) fn build_column(
    field: &Field,
    values: &[J],
    rows: usize,
) -> Result<ArrayRef, PushError> {
    let fail = |row: usize, reason: String| PushError::Value {
        column: field.name().clone(),
        row,
        reason,
    };
    let first_value = values.iter().position(|v| !v.is_null());
    if !field.is_nullable()
        && let Some(row) = values.iter().position(J::is_null)
    {
        return Err(fail(
            row,
            format!(
                "null is not allowed: the column is not nullable (Arrow type {})",
                field.data_type()
            ),
        ));
    }
    if !supported(field.data_type()) {
        return match first_value {
            // All null: any type can hold that, and the parts stay readable as one table.
            None => Ok(new_null_array(field.data_type(), rows)),
            Some(row) => Err(fail(
                row,
                format!(
                    "the batch source stores this column as Arrow type {}, which pushed JSON values cannot be converted to; only null can be pushed to it",
                    field.data_type()
                ),
            )),
        };
    }
    let mut builder = make_builder(field.data_type(), rows);
    for (row, value) in values.iter().enumerate() {
        append(builder.as_mut(), field.data_type(), Some(value)).map_err(|r| fail(row, r))?;
    }
    Ok(builder.finish())
}

/// Whether [`append`] can build this type. It is also what keeps `make_builder` and the
/// builders' `finish` from panicking: they do for types they do not know, and for maps whose
/// layout differs from the one `MapBuilder` produces.
fn supported(t: &DataType) -> bool {
    match t {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _) => true,
        DataType::FixedSizeBinary(n) => *n >= 0,
        DataType::Struct(fields) => fields.iter().all(|f| supported(f.data_type())),
        DataType::List(item) | DataType::LargeList(item) => supported(item.data_type()),
        DataType::Map(entries, sorted) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return false;
            };
            let [key, value] = &kv.iter().collect::<Vec<_>>()[..] else {
                return false;
            };
            // MapBuilder always produces unsorted maps with a non-nullable, metadata-free
            // `entries` field and non-nullable keys; anything else would not match the schema.
            let same_layout =
                entries.as_ref() == &Field::new(entries.name(), entries.data_type().clone(), false);
            !*sorted
                && same_layout
                && !key.is_nullable()
                && matches!(
                    key.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
                && supported(value.data_type())
        }
        _ => false,
    }
}

/// Appends one value (`None` or JSON null: a null) to a builder made by `make_builder(t, _)`.
/// Nullability is checked by the caller, which knows whether an enclosing null makes a null
/// acceptable here. Errors are the reason only; the caller adds column and row.
fn append(b: &mut dyn ArrayBuilder, t: &DataType, j: Option<&J>) -> Result<(), String> {
    let j = j.filter(|j| !j.is_null());
    match t {
        DataType::Null => match j {
            None => {
                downcast::<NullBuilder>(b)?.append_null();
                Ok(())
            }
            Some(j) => Err(expected("null (the column's Arrow type is Null)", j)),
        },
        DataType::Boolean => {
            let v = j
                .map(|j| j.as_bool().ok_or_else(|| expected("true or false", j)))
                .transpose()?;
            downcast::<BooleanBuilder>(b)?.append_option(v);
            Ok(())
        }
        DataType::Int8 => primitive::<Int8Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::Int16 => primitive::<Int16Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::Int32 => primitive::<Int32Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::Int64 => primitive::<Int64Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::UInt8 => primitive::<UInt8Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::UInt16 => primitive::<UInt16Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::UInt32 => primitive::<UInt32Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::UInt64 => primitive::<UInt64Type>(b, j.map(|j| int(j, t)).transpose()?),
        DataType::Float16 => {
            type F16 = <Float16Type as ArrowPrimitiveType>::Native;
            let v = j
                .map(|j| {
                    let f = float(j)?;
                    let h = F16::from_f64(f);
                    if h.is_infinite() {
                        Err(format!("{f} is out of range for Arrow type Float16"))
                    } else {
                        Ok(h)
                    }
                })
                .transpose()?;
            primitive::<Float16Type>(b, v)
        }
        DataType::Float32 => {
            let v = j
                .map(|j| {
                    let f = float(j)?;
                    // `as` saturates to infinity; a finite JSON number must stay finite.
                    let narrow = f as f32;
                    if narrow.is_infinite() {
                        Err(format!("{f} is out of range for Arrow type Float32"))
                    } else {
                        Ok(narrow)
                    }
                })
                .transpose()?;
            primitive::<Float32Type>(b, v)
        }
        DataType::Float64 => primitive::<Float64Type>(b, j.map(float).transpose()?),
        DataType::Utf8 => {
            let v = j.map(text);
            let builder = downcast::<StringBuilder>(b)?;
            fits_i32_offsets(
                builder.values_slice().len(),
                v.as_deref().map_or(0, str::len),
            )?;
            builder.append_option(v);
            Ok(())
        }
        DataType::LargeUtf8 => {
            downcast::<LargeStringBuilder>(b)?.append_option(j.map(text));
            Ok(())
        }
        DataType::Utf8View => {
            downcast::<StringViewBuilder>(b)?.append_option(j.map(text));
            Ok(())
        }
        DataType::Binary => {
            let v = j.map(bytes).transpose()?;
            let builder = downcast::<BinaryBuilder>(b)?;
            fits_i32_offsets(builder.values_slice().len(), v.as_ref().map_or(0, Vec::len))?;
            builder.append_option(v);
            Ok(())
        }
        DataType::LargeBinary => {
            downcast::<LargeBinaryBuilder>(b)?.append_option(j.map(bytes).transpose()?);
            Ok(())
        }
        DataType::BinaryView => {
            downcast::<BinaryViewBuilder>(b)?.append_option(j.map(bytes).transpose()?);
            Ok(())
        }
        DataType::FixedSizeBinary(size) => {
            let v = j.map(bytes).transpose()?;
            let builder = downcast::<FixedSizeBinaryBuilder>(b)?;
            match v {
                None => {
                    builder.append_null();
                    Ok(())
                }
                Some(v) if usize::try_from(*size).is_ok_and(|s| s == v.len()) => {
                    builder.append_value(&v).map_err(|e| e.to_string())
                }
                Some(v) => Err(format!(
                    "expected exactly {size} bytes (Arrow type {t}), got {}",
                    v.len()
                )),
            }
        }
        DataType::Date32 => primitive::<Date32Type>(b, j.map(date_days).transpose()?),
        DataType::Date64 => {
            let v = j
                .map(|j| date_days(j).map(|d| i64::from(d) * 86_400_000))
                .transpose()?;
            primitive::<Date64Type>(b, v)
        }
        DataType::Timestamp(unit, _) => {
            let v = j.map(|j| timestamp(j, *unit)).transpose()?;
            match unit {
                TimeUnit::Second => primitive::<TimestampSecondType>(b, v),
                TimeUnit::Millisecond => primitive::<TimestampMillisecondType>(b, v),
                TimeUnit::Microsecond => primitive::<TimestampMicrosecondType>(b, v),
                TimeUnit::Nanosecond => primitive::<TimestampNanosecondType>(b, v),
            }
        }
        DataType::Struct(fields) => {
            let builder = downcast::<StructBuilder>(b)?;
            let Some(j) = j else {
                // Children need a slot too; they may be null here whatever their
                // nullability, because the struct's own null masks them.
                for (field, child) in fields.iter().zip(builder.field_builders_mut()) {
                    append(child.as_mut(), field.data_type(), None)?;
                }
                builder.append_null();
                return Ok(());
            };
            let object = object_of(j)?;
            if let Some(unknown) = object
                .keys()
                .find(|k| !fields.iter().any(|f| f.name() == *k))
            {
                let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                return Err(format!(
                    "unknown field '{unknown}'; the struct's fields are {}",
                    python_str_list(&names)
                ));
            }
            for (field, child) in fields.iter().zip(builder.field_builders_mut()) {
                let value = object.get(field.name()).filter(|v| !v.is_null());
                if value.is_none() && !field.is_nullable() {
                    return Err(format!(
                        "field '{}' is missing or null, but it is not nullable",
                        field.name()
                    ));
                }
                append(child.as_mut(), field.data_type(), value)
                    .map_err(|e| format!("field '{}': {e}", field.name()))?;
            }
            builder.append(true);
            Ok(())
        }
        DataType::List(item) => append_list::<i32>(b, item, j),
        DataType::LargeList(item) => append_list::<i64>(b, item, j),
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(format!("internal error: malformed map type {t}"));
            };
            let (Some(key_field), Some(value_field)) = (kv.first(), kv.get(1)) else {
                return Err(format!("internal error: malformed map type {t}"));
            };
            let builder = downcast::<MapBuilder<Box<dyn ArrayBuilder>, Box<dyn ArrayBuilder>>>(b)?;
            let Some(j) = j else {
                return builder.append(false).map_err(|e| e.to_string());
            };
            let object = object_of(j)?;
            for (key, value) in object.iter() {
                let (keys, values) = builder.entries();
                append(
                    keys.as_mut(),
                    key_field.data_type(),
                    Some(&J::String(key.clone())),
                )
                .map_err(|e| format!("key '{key}': {e}"))?;
                let value = Some(value).filter(|v| !v.is_null());
                if value.is_none() && !value_field.is_nullable() {
                    return Err(format!(
                        "key '{key}': null is not allowed, the map's values are not nullable"
                    ));
                }
                append(values.as_mut(), value_field.data_type(), value)
                    .map_err(|e| format!("key '{key}': {e}"))?;
            }
            // MapBuilder stores offsets as i32 with a plain cast; refuse to wrap around.
            fits_i32_offsets(builder.keys().len(), 0)?;
            builder.append(true).map_err(|e| e.to_string())
        }
        other => Err(format!(
            "internal error: Arrow type {other} has no converter"
        )),
    }
}

fn append_list<O: OffsetSizeTrait>(
    b: &mut dyn ArrayBuilder,
    item: &Field,
    j: Option<&J>,
) -> Result<(), String> {
    let builder = downcast::<GenericListBuilder<O, Box<dyn ArrayBuilder>>>(b)?;
    match j {
        None => {
            builder.append_null();
            Ok(())
        }
        Some(J::Array(items)) => {
            for (index, value) in items.iter().enumerate() {
                let value = Some(value).filter(|v| !v.is_null());
                if value.is_none() && !item.is_nullable() {
                    return Err(format!(
                        "element {index}: null is not allowed, the list's elements are not nullable"
                    ));
                }
                append(builder.values().as_mut(), item.data_type(), value)
                    .map_err(|e| format!("element {index}: {e}"))?;
            }
            // The builder panics when offsets overflow; say so instead.
            if O::from_usize(builder.values_ref().len()).is_none() {
                return Err("too many list elements in one column".to_string());
            }
            builder.append(true);
            Ok(())
        }
        Some(other) => Err(expected("an array", other)),
    }
}

fn downcast<T: 'static>(b: &mut dyn ArrayBuilder) -> Result<&mut T, String> {
    b.as_any_mut().downcast_mut::<T>().ok_or_else(|| {
        format!(
            "internal error: expected a {} builder",
            std::any::type_name::<T>()
        )
    })
}

fn primitive<T: ArrowPrimitiveType>(
    b: &mut dyn ArrayBuilder,
    v: Option<T::Native>,
) -> Result<(), String> {
    downcast::<PrimitiveBuilder<T>>(b)?.append_option(v);
    Ok(())
}

/// 32-bit offsets cap a column's bytes at `i32::MAX`; the builders panic past it.
fn fits_i32_offsets(current: usize, more: usize) -> Result<(), String> {
    match current.checked_add(more) {
        Some(total) if i32::try_from(total).is_ok() => Ok(()),
        _ => Err("the column holds more than 2 GiB of data; push fewer rows at a time".into()),
    }
}

/// "expected X, got <the value>", with long values shortened.
fn expected(what: &str, j: &J) -> String {
    let mut shown = j.to_string();
    if let Some((cut, _)) = shown.char_indices().nth(80) {
        shown.truncate(cut);
        shown.push('…');
    }
    format!("expected {what}, got {shown}")
}

/// The integer a JSON value stands for, as pandas would cast it: integers, integral floats
/// (JSON producers often write `1001.0`), and bools when `bools`.
fn integer(j: &J, bools: bool) -> Option<i128> {
    match j {
        J::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    // Finite, integral and well inside i128, so the cast is exact.
                    .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38)
                    .map(|f| f as i128)
            }),
        J::Bool(b) if bools => Some(i128::from(*b)),
        _ => None,
    }
}

fn int<T: TryFrom<i128>>(j: &J, t: &DataType) -> Result<T, String> {
    let v = integer(j, true).ok_or_else(|| expected(&format!("an integer (Arrow type {t})"), j))?;
    T::try_from(v).map_err(|_| format!("{v} is out of range for Arrow type {t}"))
}

fn float(j: &J) -> Result<f64, String> {
    j.as_f64().ok_or_else(|| expected("a number", j))
}

/// Text as stored: strings as they are, anything else as compact JSON (Feast keeps `Json`
/// features as text).
fn text(j: &J) -> Cow<'_, str> {
    match j {
        J::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

fn bytes(j: &J) -> Result<Vec<u8>, String> {
    match j {
        J::String(s) => BASE64
            .decode(s)
            .map_err(|e| format!("expected standard base64, got {s:?}: {e}")),
        other => Err(expected("a base64 string", other)),
    }
}

/// A timestamp in `unit`: from text, or from an integer of nanoseconds (pandas' reading of an
/// integer); finer values round down, as Arrow's casts do.
fn timestamp(j: &J, unit: TimeUnit) -> Result<i64, String> {
    match j {
        J::String(s) => {
            let t: DateTime<Utc> = parse_timestamp(s)?;
            match unit {
                TimeUnit::Second => Ok(t.timestamp()),
                TimeUnit::Millisecond => Ok(t.timestamp_millis()),
                TimeUnit::Microsecond => Ok(t.timestamp_micros()),
                TimeUnit::Nanosecond => t.timestamp_nanos_opt().ok_or_else(|| {
                    format!(
                        "{s:?} is outside the range of nanosecond timestamps (1677-09-21 to 2262-04-11)"
                    )
                }),
            }
        }
        J::Number(_) => {
            let nanos = integer(j, false)
                .and_then(|v| i64::try_from(v).ok())
                .ok_or_else(|| expected("an integer of nanoseconds since the epoch", j))?;
            Ok(match unit {
                TimeUnit::Second => nanos.div_euclid(1_000_000_000),
                TimeUnit::Millisecond => nanos.div_euclid(1_000_000),
                TimeUnit::Microsecond => nanos.div_euclid(1_000),
                TimeUnit::Nanosecond => nanos,
            })
        }
        other => Err(expected(
            "a timestamp such as \"2026-11-24 10:00:00+00:00\" or an integer of nanoseconds since the epoch",
            other,
        )),
    }
}

/// Days since 1970-01-01 of a date string (a timestamp string gives its UTC date).
fn date_days(j: &J) -> Result<i32, String> {
    let J::String(s) = j else {
        return Err(expected("a date such as \"2026-11-24\"", j));
    };
    let date = parse_timestamp(s)?.date_naive();
    let days = date
        .signed_duration_since(DateTime::UNIX_EPOCH.date_naive())
        .num_days();
    i32::try_from(days).map_err(|_| format!("{s:?} is out of range for Arrow type Date32"))
}

/// The object a struct or map value is given as: an object, or a string holding one (how
/// Feast's own clients often send them).
fn object_of(j: &J) -> Result<Cow<'_, serde_json::Map<String, J>>, String> {
    match j {
        J::Object(o) => Ok(Cow::Borrowed(o)),
        J::String(s) => match serde_json::from_str::<J>(s) {
            Ok(J::Object(o)) => Ok(Cow::Owned(o)),
            Ok(_) => Err(expected("an object, or a string holding a JSON object", j)),
            Err(e) => Err(format!(
                "expected an object, or a string holding a JSON object; the string is not JSON: {e}"
            )),
        },
        other => Err(expected(
            "an object, or a string holding a JSON object",
            other,
        )),
    }
}
