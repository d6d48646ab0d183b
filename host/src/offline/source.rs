//! Reading a view's file source for materialization: the newest row per entity in a window.
//!
//! Each file is read on its own and its rows join the result only once the whole file has
//! been read and converted, so a file that fails halfway contributes nothing. A part edgefeat
//! wrote that fails (it cannot be read, its schema is not the dataset's, or a value does not
//! convert) is set aside in [`Latest::bad_parts`] for the caller to quarantine
//! (`offline::quarantine`), and the others are read; any other file that fails (the source's
//! own file, a file the user put in its directory) fails the read, as it is the user's data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use arrow_schema::Schema;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::offline::convert::{ColumnConverter, ConvertError, TimestampColumn};
use crate::offline::parts::{is_part_name, parts_dir};
use crate::offline::parts_lock::PartsLock;
use crate::online::WriteRow;
use crate::registry::{FeatureView, Registry, SourceKind};
use crate::repo::source_schema::parquet_files;
use crate::types::{DType, Value, serialize_entity_key_into};

/// Rows are read in batches of this many: large enough to amortize per-batch work, small
/// enough to keep memory flat whatever the file size.
const BATCH_ROWS: usize = 65_536;

/// A column to read: the name it has in the view, where it comes from, and its dtype.
#[derive(Debug, Clone)]
pub struct SourceColumn {
    /// The join key or feature name.
    pub name: String,
    /// The source column (after `field_mapping`).
    pub column: String,
    /// The declared dtype.
    pub dtype: DType,
}

/// What materializing one view reads.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    /// The data source's name.
    pub source: String,
    /// The source's path (absolute).
    pub source_path: PathBuf,
    /// The parquet files of the source.
    pub files: Vec<PathBuf>,
    /// The source's parts directory (`offline::parts::parts_dir`).
    pub parts_dir: PathBuf,
    /// The parts directory's shared lock, held from before the files were listed until the
    /// plan is dropped or [`SourcePlan::unlock`]ed: no compaction swaps them meanwhile.
    pub lock: Option<Arc<PartsLock>>,
    /// The event-time column.
    pub timestamp_field: String,
    /// The column that breaks ties between rows of the same event time.
    pub created_column: Option<String>,
    /// The join keys, in the view's entity order.
    pub keys: Vec<SourceColumn>,
    /// The features, in the view's schema order.
    pub features: Vec<SourceColumn>,
}

impl SourcePlan {
    /// Plans the read of `view`'s batch source, relative to the repo at `repo`.
    pub fn for_view(repo: &Path, registry: &Registry, view: &FeatureView) -> Result<SourcePlan> {
        let mut plan = SourcePlan::columns(repo, registry, view)?;
        let full = plan.source_path.clone();
        // Before the listing: see `parts_lock`.
        plan.lock = PartsLock::shared(&plan.parts_dir).map(Arc::new);
        plan.files = parquet_files(&full).with_context(|| {
            format!("cannot read source `{}` at {}", plan.source, full.display())
        })?;
        Ok(plan)
    }

    /// [`SourcePlan::for_view`] without its files (none listed, no lock taken): what to read
    /// and how, for checking rows that come from elsewhere.
    pub fn columns(repo: &Path, registry: &Registry, view: &FeatureView) -> Result<SourcePlan> {
        let source = registry
            .data_sources
            .get(&view.batch_source)
            .ok_or_else(|| anyhow!("data source `{}` is not in the registry", view.batch_source))?;
        let SourceKind::File {
            path,
            timestamp_field,
            created_timestamp_column,
            field_mapping,
        } = &source.spec.kind
        else {
            if let SourceKind::Other { source_type, .. } = &source.spec.kind {
                bail!(
                    "data source `{}` is a Feast {source_type} source, which edgefeat cannot read: materialize it with `feast materialize` (edgefeat serves what Feast writes to the online store)",
                    view.batch_source
                );
            }
            bail!("data source `{}` is not a file source", view.batch_source);
        };
        // `field_mapping` renames source columns to view names; read it backwards.
        let column_of = |name: &str| {
            field_mapping
                .iter()
                .find(|(_, to)| to.as_str() == name)
                .map_or_else(|| name.to_string(), |(from, _)| from.clone())
        };
        let full = repo.join(path);
        let column = |f: &crate::registry::Field| SourceColumn {
            name: f.name.clone(),
            column: column_of(&f.name),
            dtype: f.dtype.clone(),
        };
        Ok(SourcePlan {
            source: source.spec.name.clone(),
            files: Vec::new(),
            parts_dir: parts_dir(&full),
            source_path: full,
            lock: None,
            timestamp_field: timestamp_field.clone(),
            created_column: (!created_timestamp_column.is_empty())
                .then(|| created_timestamp_column.clone()),
            keys: view.entity_columns.iter().map(column).collect(),
            features: view.features.iter().map(column).collect(),
        })
    }

    /// The number of rows in the source files, from their footers (for progress). A file
    /// whose footer cannot be read counts none: reading it reports what is wrong.
    pub fn total_rows(&self) -> u64 {
        let rows = |f: &PathBuf| -> Option<u64> {
            let file = std::fs::File::open(f).ok()?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
            u64::try_from(builder.metadata().file_metadata().num_rows()).ok()
        };
        self.files.iter().filter_map(rows).sum()
    }

    /// Releases the parts directory's lock (see [`SourcePlan::lock`]) once the files are read.
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    /// Whether `file` is a part edgefeat wrote (which a failure quarantines) rather than the
    /// user's data.
    fn is_part(&self, file: &Path) -> bool {
        file.parent() == Some(self.parts_dir.as_path())
            && file
                .file_name()
                .is_some_and(|n| is_part_name(&n.to_string_lossy()))
    }
}

/// The outcome of reading a source over a window.
#[derive(Debug, Default)]
pub struct Latest {
    /// The newest row of each entity, sorted by entity key (so the store writes in key order,
    /// which dirties the fewest pages).
    pub rows: Vec<WriteRow>,
    /// Rows read from the files.
    pub rows_read: u64,
    /// Rows whose event time is in the window.
    pub rows_in_window: u64,
    /// Rows left out because their event time or a join key is null.
    pub rows_skipped: u64,
    /// Parts that could not be read, or held a value that does not convert, with why: none
    /// of their rows are in `rows`.
    pub bad_parts: Vec<(PathBuf, String)>,
}

/// Why one file could not be read.
enum FileError {
    /// Its content: not parquet, a page that does not decode, a value that does not convert.
    Content(String),
    /// Its schema: a column missing, or of a type the view's dtype cannot take. A part with
    /// the dataset's schema is not to blame (the view does not fit the source): the read
    /// fails. Any other part is damaged.
    Schema(String, bool),
    /// It cannot be opened: permissions, I/O. Not the file's fault.
    Open(anyhow::Error),
}

/// The newest row per entity, by entity key: (event, created, values).
type Newest = HashMap<Vec<u8>, (i64, i64, Vec<Value>)>;

/// A check of one row's feature values (in the plan's feature order) beyond their dtypes,
/// such as a vector's length: `Err` says what is wrong.
pub type ValuesCheck<'a> = &'a dyn Fn(&[Value]) -> Result<(), String>;

/// Reads the plan's files and keeps, per entity, the row with the newest event timestamp in
/// `[start, end]` (both inclusive, microseconds), `created` breaking ties, as Feast does; of
/// rows equal on both, the last read wins. `progress` is told how many rows each batch held.
/// Each kept row's values pass `check`. A part that fails is left out and listed in
/// [`Latest::bad_parts`]; any other file that fails fails the read (see the module doc).
pub fn latest_per_entity(
    plan: &SourcePlan,
    start: i64,
    end: i64,
    check: ValuesCheck<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Latest> {
    let mut newest: Newest = HashMap::new();
    let mut out = Latest::default();
    let mut wanted: Vec<&str> = vec![plan.timestamp_field.as_str()];
    wanted.extend(plan.created_column.as_deref());
    wanted.extend(plan.keys.iter().map(|k| k.column.as_str()));
    wanted.extend(plan.features.iter().map(|f| f.column.as_str()));
    // The dataset's schema, which every part is written with: the first file's.
    let mut reference: Option<Arc<Schema>> = None;

    for path in &plan.files {
        let mut file_out = Latest::default();
        let read = read_file(
            plan,
            path,
            &wanted,
            (start, end),
            check,
            &mut reference,
            &mut file_out,
            progress,
        );
        let failure = match read {
            Ok(rows) => {
                merge_newest(&mut newest, rows);
                out.rows_read += file_out.rows_read;
                out.rows_in_window += file_out.rows_in_window;
                out.rows_skipped += file_out.rows_skipped;
                continue;
            }
            Err(FileError::Open(e)) => return Err(e),
            Err(FileError::Content(why)) => why,
            Err(FileError::Schema(why, dataset_schema)) => {
                if dataset_schema || !plan.is_part(path) {
                    return Err(anyhow!(why));
                }
                why
            }
        };
        if !plan.is_part(path) {
            return Err(anyhow!(failure));
        }
        out.bad_parts.push((path.clone(), failure));
    }
    out.rows = newest
        .into_iter()
        .map(
            |(entity_key, (event_ts_micros, created_ts_micros, values))| WriteRow {
                entity_key,
                event_ts_micros,
                created_ts_micros,
                values,
            },
        )
        .collect();
    out.rows
        .sort_unstable_by(|a, b| a.entity_key.cmp(&b.entity_key));
    Ok(out)
}

/// Adds one file's newest rows to those of the files before it: a later file's row wins a
/// tie, as a later row within a file does.
fn merge_newest(newest: &mut Newest, file: Newest) {
    if newest.is_empty() {
        *newest = file;
        return;
    }
    for (key, row) in file {
        match newest.get_mut(&key) {
            Some(held) if (row.0, row.1) < (held.0, held.1) => {}
            Some(held) => *held = row,
            None => {
                newest.insert(key, row);
            }
        }
    }
}

/// Reads one file of the plan: its newest row per entity in the window, with its counts in
/// `out`. `reference` is the dataset's schema, set by the first file that opens.
#[allow(clippy::too_many_arguments)]
fn read_file(
    plan: &SourcePlan,
    path: &Path,
    wanted: &[&str],
    (start, end): (i64, i64),
    check: ValuesCheck<'_>,
    reference: &mut Option<Arc<Schema>>,
    out: &mut Latest,
    progress: &mut dyn FnMut(u64),
) -> Result<Newest, FileError> {
    let mut newest: Newest = HashMap::new();
    let mut key_buf = Vec::with_capacity(64);
    let mut key_values: Vec<Value> = Vec::with_capacity(plan.keys.len());
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))
        .map_err(FileError::Open)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
        FileError::Content(format!(
            "{} is not a readable parquet file: {e}",
            path.display()
        ))
    })?;
    let schema = builder.schema().clone();
    let dataset_schema = match reference {
        Some(r) => r.fields() == schema.fields(),
        None => {
            *reference = Some(schema.clone());
            true
        }
    };
    let schema_error = |why: String| FileError::Schema(why, dataset_schema);
    let mut indices = Vec::with_capacity(wanted.len());
    for c in wanted {
        let i = schema.index_of(c).map_err(|_| {
            schema_error(format!(
                "column `{c}` is not in {}; its columns: {}",
                path.display(),
                column_list(&schema)
            ))
        })?;
        if !indices.contains(&i) {
            indices.push(i);
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| FileError::Content(format!("cannot read {}: {e}", path.display())))?;
    let in_file = |e: ConvertError, c: &str| format!("{}: column `{c}`: {e}", path.display());
    for batch in reader {
        let batch = batch
            .map_err(|e| FileError::Content(format!("cannot read {}: {e}", path.display())))?;
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| {
                schema_error(format!("column `{name}` is not in {}", path.display()))
            })
        };
        let ts = TimestampColumn::new(column(&plan.timestamp_field)?.as_ref())
            .map_err(|e| schema_error(in_file(e, &plan.timestamp_field)))?;
        let created = match &plan.created_column {
            Some(c) => Some(
                TimestampColumn::new(column(c)?.as_ref())
                    .map_err(|e| schema_error(in_file(e, c)))?,
            ),
            None => None,
        };
        let converters = |columns: &[SourceColumn]| {
            columns
                .iter()
                .map(|k| {
                    ColumnConverter::new(column(&k.column)?.as_ref(), &k.dtype)
                        .map_err(|e| schema_error(in_file(e, &k.column)))
                })
                .collect::<Result<Vec<_>, FileError>>()
        };
        let keys = converters(&plan.keys)?;
        let features = converters(&plan.features)?;

        for row in 0..batch.num_rows() {
            let Some(event) = ts.micros(row) else {
                out.rows_skipped += 1;
                continue;
            };
            if event < start || event > end {
                continue;
            }
            out.rows_in_window += 1;
            let created = created.as_ref().and_then(|c| c.micros(row)).unwrap_or(0);
            key_values.clear();
            for (k, conv) in plan.keys.iter().zip(&keys) {
                key_values.push(
                    conv.value(row)
                        .map_err(|e| FileError::Content(in_file(e, &k.column)))?,
                );
            }
            if key_values.contains(&Value::Null) {
                out.rows_skipped += 1;
                continue;
            }
            let pairs: Vec<(&str, &Value)> = plan
                .keys
                .iter()
                .map(|k| k.name.as_str())
                .zip(key_values.iter())
                .collect();
            key_buf.clear();
            serialize_entity_key_into(&pairs, &mut key_buf)
                .map_err(|e| FileError::Content(format!("{}: row {row}: {e:#}", path.display())))?;
            let values = |()| -> Result<Vec<Value>, FileError> {
                let values = plan
                    .features
                    .iter()
                    .zip(&features)
                    .map(|(f, conv)| {
                        conv.value(row)
                            .map_err(|e| FileError::Content(in_file(e, &f.column)))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                check(&values).map_err(|why| {
                    FileError::Content(format!("{}: row {row}: {why}", path.display()))
                })?;
                Ok(values)
            };
            match newest.get_mut(key_buf.as_slice()) {
                Some(held) if (event, created) < (held.0, held.1) => {}
                Some(held) => *held = (event, created, values(())?),
                None => {
                    newest.insert(key_buf.clone(), (event, created, values(())?));
                }
            }
        }
        let n = batch.num_rows() as u64;
        out.rows_read += n;
        progress(n);
    }
    Ok(newest)
}

fn column_list(schema: &arrow_schema::Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "source_tests.rs"]
pub(crate) mod tests;
