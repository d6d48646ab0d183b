//! Reading a view's file source for materialization: the newest row per entity in a window.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::offline::convert::{ColumnConverter, TimestampColumn};
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
    /// The parquet files of the source.
    pub files: Vec<PathBuf>,
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
        let files = parquet_files(&full).with_context(|| {
            format!(
                "cannot read source `{}` at {}",
                source.spec.name,
                full.display()
            )
        })?;
        let column = |f: &crate::registry::Field| SourceColumn {
            name: f.name.clone(),
            column: column_of(&f.name),
            dtype: f.dtype.clone(),
        };
        Ok(SourcePlan {
            files,
            timestamp_field: timestamp_field.clone(),
            created_column: (!created_timestamp_column.is_empty())
                .then(|| created_timestamp_column.clone()),
            keys: view.entity_columns.iter().map(column).collect(),
            features: view.features.iter().map(column).collect(),
        })
    }

    /// The number of rows in the source files, from their footers (for progress).
    pub fn total_rows(&self) -> Result<u64> {
        let mut total = 0u64;
        for f in &self.files {
            let file =
                std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .with_context(|| format!("{} is not a readable parquet file", f.display()))?;
            total += u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        }
        Ok(total)
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
}

/// Reads the plan's files and keeps, per entity, the row with the newest event timestamp in
/// `[start, end]` (both inclusive, microseconds), `created` breaking ties, as Feast does; of
/// rows equal on both, the last read wins. `progress` is told how many rows each batch held.
pub fn latest_per_entity(
    plan: &SourcePlan,
    start: i64,
    end: i64,
    progress: &mut dyn FnMut(u64),
) -> Result<Latest> {
    let mut newest: HashMap<Vec<u8>, (i64, i64, Vec<Value>)> = HashMap::new();
    let mut out = Latest::default();
    let mut key_buf = Vec::with_capacity(64);
    let mut key_values: Vec<Value> = Vec::with_capacity(plan.keys.len());
    let mut wanted: Vec<&str> = vec![plan.timestamp_field.as_str()];
    wanted.extend(plan.created_column.as_deref());
    wanted.extend(plan.keys.iter().map(|k| k.column.as_str()));
    wanted.extend(plan.features.iter().map(|f| f.column.as_str()));

    for path in &plan.files {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("{} is not a readable parquet file", path.display()))?;
        let schema = builder.schema().clone();
        let mut indices = Vec::with_capacity(wanted.len());
        for c in &wanted {
            let i = schema.index_of(c).map_err(|_| {
                anyhow!(
                    "column `{c}` is not in {}; its columns: {}",
                    path.display(),
                    column_list(&schema)
                )
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
            .with_context(|| format!("cannot read {}", path.display()))?;
        for batch in reader {
            let batch = batch.with_context(|| format!("cannot read {}", path.display()))?;
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| anyhow!("column `{name}` is not in {}", path.display()))
            };
            let in_file = |e: crate::offline::convert::ConvertError, c: &str| {
                anyhow!("{}: column `{c}`: {e}", path.display())
            };
            let ts = TimestampColumn::new(column(&plan.timestamp_field)?.as_ref())
                .map_err(|e| in_file(e, &plan.timestamp_field))?;
            let created = match &plan.created_column {
                Some(c) => {
                    Some(TimestampColumn::new(column(c)?.as_ref()).map_err(|e| in_file(e, c))?)
                }
                None => None,
            };
            let keys = plan
                .keys
                .iter()
                .map(|k| {
                    ColumnConverter::new(column(&k.column)?.as_ref(), &k.dtype)
                        .map_err(|e| in_file(e, &k.column))
                })
                .collect::<Result<Vec<_>>>()?;
            let features = plan
                .features
                .iter()
                .map(|f| {
                    ColumnConverter::new(column(&f.column)?.as_ref(), &f.dtype)
                        .map_err(|e| in_file(e, &f.column))
                })
                .collect::<Result<Vec<_>>>()?;

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
                    key_values.push(conv.value(row).map_err(|e| in_file(e, &k.column))?);
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
                serialize_entity_key_into(&pairs, &mut key_buf)?;
                let values = |()| -> Result<Vec<Value>> {
                    plan.features
                        .iter()
                        .zip(&features)
                        .map(|(f, conv)| conv.value(row).map_err(|e| in_file(e, &f.column)))
                        .collect()
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

fn column_list(schema: &arrow_schema::Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
