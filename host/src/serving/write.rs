//! Online writes of a columnar dataframe (what `/push` and `/write-to-online-store` receive):
//! Feast's rules (docs/feast-compat.md#write-rules), then one atomic, durable write per view.

use serde_json::Value as Json;

use crate::online::{Durability, OnlineStore, Table, WriteFeature, WriteRow, WriteStats};
use crate::registry::{FeatureView, Registry, SourceKind};
use crate::serving::ServingError;
use crate::serving::coerce::coerce_entity_value;
use crate::types::json::json_to_value;
use crate::types::time::parse_timestamp;
use crate::types::{Value, serialize_entity_key_into};

/// A dataframe as a list of named columns of equal length.
pub type Columns = Vec<(String, Vec<Json>)>;

/// Turns a JSON object of columns into equal-length columns, broadcasting scalars when at
/// least one column is a list (pandas' rule); all-scalar frames and ragged lists are refused
/// as pandas refuses them. The lists are moved, not copied (a body may hold hundreds of MB of
/// them), and only once every length is known to fit.
pub fn columns_of(df: serde_json::Map<String, Json>) -> Result<Columns, ServingError> {
    let len = df.values().filter_map(Json::as_array).map(Vec::len).max();
    let Some(len) = len else {
        if df.is_empty() {
            return Ok(Vec::new());
        }
        return Err(ServingError::Other(
            "If using all scalar values, you must pass an index".into(),
        ));
    };
    if df
        .values()
        .any(|v| v.as_array().is_some_and(|a| a.len() != len))
    {
        return Err(ServingError::Other(
            "All arrays must be of the same length".into(),
        ));
    }
    Ok(df
        .into_iter()
        .map(|(name, v)| match v {
            Json::Array(items) => (name, items),
            scalar => (name, vec![scalar; len]),
        })
        .collect())
}

/// Which timestamp columns a write may use besides the view's source's own names: the Feast
/// SDK's remote store always sends `event_timestamp` and `created`
/// (docs/feast-compat.md#remote-store-timestamp-names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampNames {
    /// Only the batch source's `timestamp_field` / `created_timestamp_column` (`/push`).
    Source,
    /// Those, else `event_timestamp` / `created` (`/write-to-online-store`).
    SourceOrSdk,
}

fn timestamp_micros(v: &Json, column: &str, row: usize) -> Result<Option<i64>, ServingError> {
    let bad = |why: String| ServingError::Other(format!("column {column}, row {row}: {why}"));
    match v {
        Json::Null => Ok(None),
        Json::String(s) => parse_timestamp(s)
            .map(|t| Some(t.timestamp_micros()))
            .map_err(bad),
        // pandas reads integer timestamps as nanoseconds since the epoch.
        Json::Number(n) => n
            .as_i64()
            .map(|ns| Some(ns.div_euclid(1000)))
            .ok_or_else(|| bad(format!("{n} is not a timestamp"))),
        other => Err(bad(format!("{other} is not a timestamp"))),
    }
}

/// Writes a dataframe to one view's online table with durability (see [`prepare_frame`]).
pub fn write_frame(
    registry: &Registry,
    store: &dyn OnlineStore,
    view: &FeatureView,
    df: &Columns,
    names: TimestampNames,
) -> Result<WriteStats, ServingError> {
    let rows = prepare_frame(registry, view, df, names)?;
    write_rows(registry, store, view, &rows)
}

/// Writes prepared rows to the view's online table, durably; nothing for an empty set.
pub fn write_rows(
    registry: &Registry,
    store: &dyn OnlineStore,
    view: &FeatureView,
    rows: &[WriteRow],
) -> Result<WriteStats, ServingError> {
    if rows.is_empty() {
        return Ok(WriteStats::default());
    }
    let features = WriteFeature::of_fields(&view.features);
    let table = Table {
        project: &registry.project.spec.name,
        view: &view.name,
    };
    store
        .write(table, &features, rows, Durability::Sync)
        .map_err(|e| ServingError::store("write", format!("{e:#}")))
}

/// Converts every value of `view`'s features that `df` holds by the feature's dtype, as
/// [`prepare_frame`] does, and fails on the first that does not convert (naming column and
/// row). Columns the frame lacks are not this check's business.
pub fn check_feature_values(
    registry: &Registry,
    view: &FeatureView,
    df: &Columns,
) -> Result<(), ServingError> {
    let mapping = match registry
        .data_sources
        .get(&view.batch_source)
        .map(|s| &s.spec.kind)
    {
        Some(SourceKind::File { field_mapping, .. }) => Some(field_mapping),
        _ => None,
    };
    let renamed = |name: &str| {
        mapping
            .and_then(|m| m.get(name))
            .map_or(name, String::as_str)
            .to_string()
    };
    for feature in &view.features {
        let Some((_, column)) = df.iter().find(|(c, _)| renamed(c) == feature.name) else {
            continue;
        };
        for (row, value) in column.iter().enumerate() {
            json_to_value(value, &feature.dtype).map_err(|e| {
                ServingError::Other(format!("column {}, row {row}: {e}", feature.name))
            })?;
        }
    }
    Ok(())
}

/// Turns a dataframe into one view's online rows under Feast's rules, writing nothing: the
/// source's `field_mapping` renames columns first; every feature and join key and the event
/// timestamp must be present (extra columns are ignored); values are converted by each
/// feature's dtype (a null is a stored null; JSON cannot carry NaN, which the body parser
/// refuses). An empty frame, or one whose features are
/// all null, gives no rows.
pub fn prepare_frame(
    registry: &Registry,
    view: &FeatureView,
    df: &Columns,
    names: TimestampNames,
) -> Result<Vec<WriteRow>, ServingError> {
    let source = registry
        .data_sources
        .get(&view.batch_source)
        .map(|s| &s.spec.kind);
    let no_mapping = std::collections::BTreeMap::new();
    let (ts_field, created_field, mapping) = match source {
        Some(SourceKind::Other {
            timestamp_field,
            created_timestamp_column,
            ..
        }) => (
            timestamp_field.as_str(),
            created_timestamp_column.as_str(),
            &no_mapping,
        ),
        Some(SourceKind::File {
            timestamp_field,
            created_timestamp_column,
            field_mapping,
            ..
        }) => (
            timestamp_field.as_str(),
            created_timestamp_column.as_str(),
            field_mapping,
        ),
        _ => {
            return Err(ServingError::Other(format!(
                "feature view {} has no file batch source to take its timestamp column from",
                view.name
            )));
        }
    };
    let renamed = |name: &str| mapping.get(name).map_or(name, String::as_str).to_string();
    let find = |name: &str| df.iter().find(|(c, _)| renamed(c) == name).map(|(_, v)| v);
    let missing = |name: &str| ServingError::Other(format!("Column {name} not found in table"));
    let rows = df.first().map_or(0, |(_, v)| v.len());

    let event = match (find(ts_field), names) {
        (Some(c), _) => c,
        (None, TimestampNames::SourceOrSdk) => {
            find("event_timestamp").ok_or_else(|| missing(ts_field))?
        }
        (None, TimestampNames::Source) => return Err(missing(ts_field)),
    };
    let created = match (created_field, names) {
        ("", TimestampNames::Source) => None,
        ("", TimestampNames::SourceOrSdk) => find("created"),
        (c, TimestampNames::Source) => find(c),
        (c, TimestampNames::SourceOrSdk) => find(c).or_else(|| find("created")),
    };
    let keys: Vec<(&str, &crate::types::DType, &Vec<Json>)> = view
        .entity_columns
        .iter()
        .map(|k| {
            Ok((
                k.name.as_str(),
                &k.dtype,
                find(&k.name).ok_or_else(|| missing(&k.name))?,
            ))
        })
        .collect::<Result<_, ServingError>>()?;
    let features: Vec<(&str, &crate::types::DType, &Vec<Json>)> = view
        .features
        .iter()
        .map(|f| {
            Ok((
                f.name.as_str(),
                &f.dtype,
                find(&f.name).ok_or_else(|| missing(&f.name))?,
            ))
        })
        .collect::<Result<_, ServingError>>()?;

    let mut out = Vec::with_capacity(rows);
    let mut key_buf = Vec::with_capacity(64);
    for row in 0..rows {
        let values: Vec<Value> = features
            .iter()
            .map(|(name, dtype, col)| {
                json_to_value(&col[row], dtype)
                    .map_err(|e| ServingError::Other(format!("column {name}, row {row}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let key_values: Vec<Value> = keys
            .iter()
            .map(|(name, dtype, col)| {
                coerce_entity_value(&col[row], dtype)
                    .map_err(|e| ServingError::Other(format!("column {name}, row {row}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let pairs: Vec<(&str, &Value)> = keys
            .iter()
            .map(|(n, _, _)| *n)
            .zip(key_values.iter())
            .collect();
        key_buf.clear();
        serialize_entity_key_into(&pairs, &mut key_buf)
            .map_err(|e| ServingError::Other(e.to_string()))?;
        let event_ts = timestamp_micros(&event[row], ts_field, row)?.ok_or_else(|| {
            ServingError::Other(format!(
                "column {ts_field}, row {row}: the event timestamp is null"
            ))
        })?;
        let created_ts = match created {
            Some(c) => timestamp_micros(&c[row], "created", row)?.unwrap_or(0),
            None => 0,
        };
        out.push(WriteRow {
            entity_key: key_buf.clone(),
            event_ts_micros: event_ts,
            created_ts_micros: created_ts,
            values,
        });
    }
    if out
        .iter()
        .all(|r| r.values.iter().all(|v| *v == Value::Null))
    {
        tracing::warn!(
            "nothing to write to {}: no rows, or every feature is null",
            view.name
        );
        return Ok(Vec::new());
    }
    let names: Vec<&str> = view.features.iter().map(|f| f.name.as_str()).collect();
    crate::vector::check_rows(view, &names, &out).map_err(ServingError::Other)?;
    Ok(out)
}
