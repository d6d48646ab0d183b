//! Offline pushes: rows sent to `/push` with `to: offline` or `online_and_offline`, appended to
//! the push source's batch (file) source.
//!
//! Feast appends by reading the whole parquet file, prepending the new rows and rewriting it.
//! That costs time proportional to the history on every push, and a crash mid-rewrite can lose
//! it. We never touch existing data; each push adds one new *part* file instead:
//!
//! * **Where parts go** ([`parts_dir`]). A source whose `path` is a single parquet file `X`
//!   keeps its parts in the directory `X.parts/` beside it (`data/driver_stats.parquet` →
//!   `data/driver_stats.parquet.parts/`). A source whose `path` is a directory keeps them in
//!   that directory, next to the files already there.
//! * **What a part is called**: `part-<UTC yyyymmddThhmmss.ffffffZ>-<8 hex>.parquet`, e.g.
//!   `part-20261124T100000.123456Z-1f0c9a7e.parquet`. Names sort in time order, so readers
//!   that sort file names (all of ours do) see parts in the order they were pushed. Within one
//!   process the timestamp is made strictly increasing, so two pushes in the same microsecond
//!   still sort in push order; the hex suffix (from the process id, a counter and a per-process
//!   random key) keeps concurrent processes from picking the same name. Between processes the
//!   order is that of their clocks.
//! * **How it is written**: with [`write_atomic`], i.e. to a temp file named `.<name>.….tmp`,
//!   fsynced, renamed into place, and the directory fsynced. A crash leaves either the whole
//!   part or a hidden `.tmp` file, never a partial `*.parquet`. When the parts directory is new,
//!   its parent is fsynced too, so the directory entry survives a crash as well.
//! * **How it is read**: [`parquet_files`] returns a file source's file followed by the sorted
//!   `*.parquet` files of its parts directory (hidden files are skipped), so materialization
//!   and schema checks see the pushed rows without knowing about pushes.
//!
//! Rows are appended after the existing ones (Feast prepends); order only matters to
//! materialization for rows equal on both event and created timestamps, where the last one
//! read wins, i.e. the newest push.
//!
//! A part's Arrow schema is *exactly* the schema of the dataset's first file (field order,
//! types, nullability and metadata), because each pushed JSON value is converted to the type
//! the dataset already stores (see [`append_rows`]), as Feast casts the pushed table to the
//! existing schema, rather than inferred from the JSON: parts that disagreed on a column's
//! type would make the dataset unreadable as one table.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use anyhow::{Context, anyhow};
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
use arrow_array::{ArrayRef, ArrowPrimitiveType, OffsetSizeTrait, RecordBatch, new_null_array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value as J;

use crate::fsio::write_atomic;
use crate::repo::source_schema::parquet_files;
use crate::serving::coerce::python_str_list;
use crate::types::time::parse_timestamp;

/// Why an offline push failed. Every message says what to change: the pushed data (columns,
/// values) or the source (no file yet), or reports the I/O failure with the path involved.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The dataframe's column set differs from the source's; the message is Feast's, with the
    /// names sorted and printed as Python lists.
    #[error(
        "The input dataframe columns do not match the batch source columns. missing_expected_columns: {}, extra_unexpected_columns: {}",
        py_list(.missing),
        py_list(.extra)
    )]
    ColumnsMismatch {
        /// Source columns absent from the dataframe, sorted.
        missing: Vec<String>,
        /// Dataframe columns the source does not have, sorted.
        extra: Vec<String>,
    },
    /// The same column appears twice in the dataframe.
    #[error("the dataframe has the column '{0}' more than once; send each column once")]
    DuplicateColumn(String),
    /// The dataframe's columns have different lengths.
    #[error(
        "all columns of the dataframe must have the same length, but '{first}' has {expected} values and '{column}' has {len}"
    )]
    RaggedColumns {
        /// The first column, whose length sets the row count.
        first: String,
        /// Its length.
        expected: usize,
        /// A column of another length.
        column: String,
        /// That column's length.
        len: usize,
    },
    /// A value that cannot be stored in its column's Arrow type.
    #[error("invalid value for column '{column}' at row {row}: {reason}")]
    Value {
        /// The column.
        column: String,
        /// The row, counted from 0 in the pushed dataframe.
        row: usize,
        /// What was found and what the column needs.
        reason: String,
    },
    /// The source has no parquet file yet, so there is no schema to convert the rows to.
    #[error(
        "the batch source {} has no parquet file to take the column types from; create the source's data (at least one parquet file with the full schema) before pushing to it",
        .0.display()
    )]
    NoSchema(PathBuf),
    /// Reading the source's schema or writing the part failed.
    #[error("{0:#}")]
    Io(anyhow::Error),
}

fn py_list(names: &[String]) -> String {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    python_str_list(&refs)
}

/// Where pushed parts of a source go (see module doc): the source itself if it is a
/// directory, otherwise `<path>.parts` beside the file.
pub fn parts_dir(source_path: &Path) -> PathBuf {
    if source_path.is_dir() {
        return source_path.to_path_buf();
    }
    // `with_file_name` rather than appending to the raw string, so a trailing `/` cannot turn
    // this into a hidden `.parts` entry inside the path.
    match source_path.file_name() {
        Some(name) => {
            let mut name = name.to_os_string();
            name.push(".parts");
            source_path.with_file_name(name)
        }
        None => {
            let mut path = source_path.as_os_str().to_os_string();
            path.push(".parts");
            PathBuf::from(path)
        }
    }
}

/// Appends a columnar JSON dataframe (column -> list of JSON values, all lists the same
/// length) to the dataset at `source_path` (absolute), as one new part file whose Arrow schema
/// is EXACTLY the schema of the dataset's existing first file. Returns the path written and the
/// row count.
///
/// Checks come in Feast's order of concern: the dataframe must be well formed (no duplicate
/// column, equal lengths), then its column *set* must equal the source's
/// ([`PushError::ColumnsMismatch`]); columns are written in the source's order. Each value is
/// then converted to its column's Arrow type (null is null in every type; a null where the
/// field is not nullable is an error):
///
/// * integers (`Int8`…`UInt64`): JSON integers, integral floats (`1001.0`) and bools (0/1),
///   within the type's range;
/// * floats (`Float16`/`32`/`64`): any JSON number, within the type's range;
/// * text (`Utf8`, `LargeUtf8`, `Utf8View`): strings as they are; any other JSON value as its
///   compact JSON text, since Feast stores `Json` features as text;
/// * `Boolean`: `true`/`false`;
/// * binary (`Binary`, `LargeBinary`, `BinaryView`, `FixedSizeBinary`): standard base64;
/// * `Timestamp` (any unit, any zone or none): a string read by [`parse_timestamp`] (naive
///   means UTC), or an integer of **nanoseconds** since the epoch, as pandas reads integers;
///   converted to the column's unit, rounding down;
/// * `Date32`/`Date64`: a date string (`2026-11-24`); a timestamp string gives its UTC date;
/// * `Struct`: an object whose keys are field names (a missing key is null, an unknown key is
///   an error rather than silently dropped data), or a string holding such an object;
/// * `List`/`LargeList`: an array, elements converted by the item type;
/// * `Map` with text keys: an object (or a string holding one), entries in document order.
///
/// A column of any other Arrow type (decimals, times, dictionaries…) can only receive nulls.
///
/// With no rows nothing is written (an empty part would only add a file to every future
/// read); the parts directory is returned with a count of 0.
pub fn append_rows(
    source_path: &Path,
    df: &[(String, Vec<J>)],
) -> Result<(PathBuf, usize), PushError> {
    let schema = existing_schema(source_path)?;
    let columns = check_columns(&schema, df)?;
    let rows = df.first().map_or(0, |(_, values)| values.len());

    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        // `check_columns` guarantees every source column is present.
        let values = columns.get(field.name().as_str()).copied().unwrap_or(&[]);
        arrays.push(build_column(field, values, rows)?);
    }
    let dir = parts_dir(source_path);
    if rows == 0 {
        return Ok((dir, 0));
    }
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .context("assembling the pushed rows")
        .map_err(PushError::Io)?;

    ensure_dir(&dir).map_err(PushError::Io)?;
    let path = new_part_path(&dir).map_err(PushError::Io)?;
    write_atomic(&path, |file| {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // One row group per part, like the demo file and pandas: a push is small.
            .set_max_row_group_row_count(None)
            .build();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .context("creating the Parquet writer")?;
        writer.write(&batch).context("writing the pushed rows")?;
        writer.close().context("finishing the Parquet file")?;
        Ok(())
    })
    .map_err(PushError::Io)?;
    Ok((path, rows))
}

/// The Arrow schema of the dataset's first file: the one every part must share, so the
/// dataset stays readable as one table.
fn existing_schema(source_path: &Path) -> Result<SchemaRef, PushError> {
    let files = match parquet_files(source_path) {
        Ok(files) => files,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PushError::NoSchema(source_path.to_path_buf()));
        }
        Err(e) => {
            return Err(PushError::Io(anyhow!(
                "cannot list the batch source {}: {e}",
                source_path.display()
            )));
        }
    };
    let first = files
        .first()
        .ok_or_else(|| PushError::NoSchema(source_path.to_path_buf()))?;
    let file = File::open(first)
        .with_context(|| format!("cannot open {}", first.display()))
        .map_err(PushError::Io)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable parquet file", first.display()))
        .map_err(PushError::Io)?;
    Ok(builder.schema().clone())
}

/// Checks the dataframe's shape and column set; returns its columns by name.
fn check_columns<'a>(
    schema: &Schema,
    df: &'a [(String, Vec<J>)],
) -> Result<HashMap<&'a str, &'a [J]>, PushError> {
    let mut columns: HashMap<&str, &[J]> = HashMap::with_capacity(df.len());
    for (name, values) in df {
        if columns.insert(name.as_str(), values.as_slice()).is_some() {
            return Err(PushError::DuplicateColumn(name.clone()));
        }
    }
    if let Some((first, values)) = df.first() {
        let expected = values.len();
        if let Some((column, values)) = df.iter().find(|(_, v)| v.len() != expected) {
            return Err(PushError::RaggedColumns {
                first: first.clone(),
                expected,
                column: column.clone(),
                len: values.len(),
            });
        }
    }
    let source: BTreeSet<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let pushed: BTreeSet<&str> = columns.keys().copied().collect();
    if source != pushed {
        return Err(PushError::ColumnsMismatch {
            missing: source.difference(&pushed).map(|s| s.to_string()).collect(),
            extra: pushed.difference(&source).map(|s| s.to_string()).collect(),
        });
    }
    Ok(columns)
}

/// Converts one column's JSON values into an array of the field's exact type.
fn build_column(field: &Field, values: &[J], rows: usize) -> Result<ArrayRef, PushError> {
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

/// Creates the parts directory if needed, and makes its creation durable: fsyncing the files
/// inside a new directory does not persist the directory's own entry in its parent.
fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

/// Directories cannot be opened as files elsewhere; there is nothing more to do.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// The last part timestamp this process used, in microseconds, so the next is later.
static LAST_PART_MICROS: AtomicI64 = AtomicI64::new(i64::MIN);
/// Feeds the name suffix, so two names from this process never hash alike.
static PART_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh part path in `dir` (see module doc for the name).
fn new_part_path(dir: &Path) -> anyhow::Result<PathBuf> {
    // `write_atomic` replaces an existing file; a name collision would lose a part, so a name
    // that exists (only possible if another process hit the same microsecond and suffix) is
    // not used.
    for _ in 0..16 {
        let micros = next_micros();
        let time = DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| anyhow!("the system clock is out of range"))?;
        let name = format!(
            "part-{}-{:08x}.parquet",
            time.format("%Y%m%dT%H%M%S%.6fZ"),
            suffix()
        );
        let path = dir.join(name);
        if !path.exists() {
            return Ok(path);
        }
    }
    Err(anyhow!(
        "cannot find an unused part name in {}",
        dir.display()
    ))
}

/// Now, in microseconds, strictly after the previous value this process used.
fn next_micros() -> i64 {
    let now = Utc::now().timestamp_micros();
    let mut last = LAST_PART_MICROS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST_PART_MICROS.compare_exchange_weak(
            last,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// 32 bits that differ between processes (randomly keyed hasher, process id) and between
/// calls (counter).
fn suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(PART_COUNTER.fetch_add(1, Ordering::Relaxed));
    // Truncation is the point: 8 hex digits.
    h.finish() as u32
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
