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
//!   and schema checks see the pushed rows without knowing about pushes. Readers hold the
//!   directory's shared lock (`offline::parts_lock`) while they list and read it.
//! * **What happens to a bad one**: a part that cannot be materialized is moved aside by
//!   `offline::quarantine` rather than failing every materialization.
//! * **How many there are**: once a source holds `offline::compact::COMPACT_AT` pushed parts,
//!   the push that made them so starts their compaction into one part, in the background.
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

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value as J;

pub use super::parts::parts_dir;
use super::parts::{ensure_dir, new_part_path};
use super::push_columns::build_column;
use crate::fsio::write_atomic;
use crate::repo::source_schema::parquet_files;
use crate::serving::coerce::python_str_list;

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
    // A compaction must not remove the first file between the listing and its opening.
    let _lock = super::parts_lock::PartsLock::shared(&parts_dir(source_path));
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

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
