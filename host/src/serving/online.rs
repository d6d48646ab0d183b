//! `get_online_features` for a resolved plan (`serving::plan`): classify and coerce the
//! request's entity columns, read each view's rows in one snapshot, run the on-demand
//! transforms, and assemble Feast's columnar response, as Feast's
//! `FeatureStore.get_online_features` does (docs/feast-compat.md#entity-coercion and the
//! sections after it).

use std::collections::HashMap;

use crate::online::{OnlineStore, Table, TableRead, TableRows};
use crate::plugins::PluginHost;
use crate::serving::coerce::{coerce_entity_value, python_str_list};
use crate::serving::error::ServingError;
use crate::serving::plan::{Plan, Snapshot, Source};
use crate::serving::response::{FieldStatus, OnlineResponse, ResponseColumn};
use crate::serving::transform::{Gathered, check_request_data, run_step};
use crate::types::{DType, Value, serialize_entity_key_into};

/// Casts values read from a store that returns plugin types (a store adapter: maps as JSON
/// text, lists of any element type when empty) to the features' dtypes.
fn cast_read(
    registry: &crate::registry::Registry,
    view: &str,
    features: &[String],
    rows: Vec<Option<crate::online::ReadRow>>,
) -> Result<Vec<Option<crate::online::ReadRow>>, ServingError> {
    let stored;
    let fv = match (
        registry.feature_views.get(view),
        registry.on_demand_feature_views.get(view),
    ) {
        (Some(v), _) => &v.spec,
        (None, Some(o)) => {
            stored = registry.stored_odfv_view(&o.spec);
            &stored
        }
        (None, None) => return Ok(rows),
    };
    let dtypes: Vec<Option<&DType>> = features
        .iter()
        .map(|f| fv.features.iter().find(|d| &d.name == f).map(|d| &d.dtype))
        .collect();
    rows.into_iter()
        .map(|row| {
            let Some(mut row) = row else { return Ok(None) };
            for (value, dtype) in row.values.iter_mut().zip(&dtypes) {
                if let Some(dtype) = dtype
                    && let Some(v) = value.take()
                {
                    *value = Some(
                        crate::plugins::to_feature_value(v, dtype)
                            .map_err(|e| ServingError::store("read", format!("{view}: {e}")))?,
                    );
                }
            }
            Ok(Some(row))
        })
        .collect()
}

/// The request, as the serving core needs it (the HTTP layer builds it from the body).
pub struct OnlineRequest<'a> {
    /// The entity columns, in request order.
    pub entities: &'a [(String, Vec<serde_json::Value>)],
    /// The feature service, which wins over `features`.
    pub feature_service: Option<&'a str>,
    /// `view:feature` refs.
    pub features: &'a [String],
    /// Name feature columns `view__feature`.
    pub full_feature_names: bool,
}

/// Serves one request: Feast's `get_online_features`.
///
/// `plugins` runs the on-demand transforms; without it, a request that needs one fails with a
/// message saying so.
pub fn get_online_features(
    snapshot: &Snapshot,
    store: &dyn OnlineStore,
    plugins: Option<&PluginHost>,
    req: &OnlineRequest<'_>,
    now_micros: i64,
) -> Result<OnlineResponse, ServingError> {
    let plan = snapshot.plan(req.feature_service, req.features, req.full_feature_names)?;
    serve_plan(&plan, snapshot, store, plugins, req, now_micros)
}

/// Serves a request whose plan is already known (the HTTP layer looks it up first to decide
/// where to run the request), reading the store synchronously.
pub fn serve_plan(
    plan: &Plan,
    snapshot: &Snapshot,
    store: &dyn OnlineStore,
    plugins: Option<&PluginHost>,
    req: &OnlineRequest<'_>,
    now_micros: i64,
) -> Result<OnlineResponse, ServingError> {
    let prepared = prepare(plan, req)?;
    let got = store
        .read_tables(&prepared.reads(plan, snapshot))
        .map_err(read_error)?;
    finish(
        plan, snapshot, store, plugins, req, prepared, got, now_micros,
    )
}

/// A failed store read, as the response reports it.
pub(crate) fn read_error(e: anyhow::Error) -> ServingError {
    ServingError::store("read", format!("{e:#}"))
}

/// A request made ready to read: its entity columns coerced, and per view the entity keys to
/// read (each distinct key once) and which of them each request row takes.
pub struct Prepared {
    rows: usize,
    key_values: Vec<Option<Vec<Value>>>,
    response: OnlineResponse,
    views: Vec<PreparedView>,
}

enum PreparedView {
    /// Part of a composite key is missing: Feast's lookup simply misses.
    Miss,
    Read {
        keys: Vec<Vec<u8>>,
        row_to_unique: Vec<usize>,
    },
}

impl Prepared {
    /// The store reads the request needs, one per view that has keys to read.
    pub fn reads<'a>(&'a self, plan: &'a Plan, snapshot: &'a Snapshot) -> Vec<TableRead<'a>> {
        let project = snapshot.registry.project.spec.name.as_str();
        plan.views
            .iter()
            .zip(&self.views)
            .filter_map(|(view, prepared)| match prepared {
                PreparedView::Miss => None,
                PreparedView::Read { keys, .. } => Some(TableRead {
                    table: Table {
                        project,
                        view: &view.name,
                    },
                    entity_keys: keys,
                    features: &view.features,
                }),
            })
            .collect()
    }
}

/// Checks and coerces the request's entities and serializes the keys each view is read by.
pub fn prepare(plan: &Plan, req: &OnlineRequest<'_>) -> Result<Prepared, ServingError> {
    let rows = entity_row_count(req.entities)?;
    check_request_data(&plan.steps, req.entities)?;

    // Classify the request's columns: join keys (or their entity-name aliases), the rest ignored.
    let mut key_values: Vec<Option<Vec<Value>>> = vec![None; plan.keys.len()];
    let mut response = OnlineResponse::default();
    for (name, values) in req.entities {
        let index = match plan.keys.iter().position(|k| &k.column == name) {
            Some(i) => i,
            None => match plan.aliases.get(name) {
                Some(i) => *i,
                None => continue,
            },
        };
        if key_values[index].is_some() {
            continue;
        }
        let key = &plan.keys[index];
        // Sized up front: collecting `Result`s cannot know the length, and grows by reallocs.
        let mut coerced = Vec::with_capacity(values.len());
        for v in values {
            coerced.push(coerce_entity_value(v, &key.dtype).map_err(ServingError::Other)?);
        }
        response.feature_names.push(key.column.clone());
        response.columns.push(ResponseColumn {
            values: coerced.clone(),
            statuses: vec![FieldStatus::Present; rows],
            event_ts_micros: vec![0; rows],
        });
        key_values[index] = Some(coerced);
    }

    let mut views = Vec::with_capacity(plan.views.len());
    let mut key_buf = Vec::with_capacity(64);
    for view in &plan.views {
        let present: Vec<&str> = view
            .keys
            .iter()
            .filter(|(_, i)| key_values[*i].is_some())
            .map(|(_, i)| plan.keys[*i].column.as_str())
            .collect();
        if present.is_empty() && !view.keys.is_empty() {
            let wanted: Vec<&str> = view
                .keys
                .iter()
                .map(|(_, i)| plan.keys[*i].column.as_str())
                .collect();
            let provided: Vec<&str> = req.entities.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ServingError::Other(format!(
                "'Missing join key values for keys: {}. No values provided for keys: {}. Provided join_key_values: {}'",
                python_str_list(&wanted),
                python_str_list(&wanted),
                python_str_list(&provided)
            )));
        }
        if present.len() < view.keys.len() {
            views.push(PreparedView::Miss);
            continue;
        }
        // Serialize each row's key; identical rows are read once and fanned out.
        let mut unique: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut row_to_unique = Vec::with_capacity(rows);
        for row in 0..rows {
            let pairs: Vec<(&str, &Value)> = view
                .keys
                .iter()
                .filter_map(|(name, i)| {
                    key_values[*i]
                        .as_ref()
                        .map(|vals| (name.as_str(), &vals[row]))
                })
                .collect();
            key_buf.clear();
            serialize_entity_key_into(&pairs, &mut key_buf)
                .map_err(|e| ServingError::Other(e.to_string()))?;
            let next = keys.len();
            let u = *unique.entry(key_buf.clone()).or_insert_with(|| {
                keys.push(key_buf.clone());
                next
            });
            row_to_unique.push(u);
        }
        views.push(PreparedView::Read {
            keys,
            row_to_unique,
        });
    }
    Ok(Prepared {
        rows,
        key_values,
        response,
        views,
    })
}

/// Runs the transforms over what the store answered for `prepared` (`got`: one entry per
/// [`Prepared::reads`] read, in order) and assembles the response.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    plan: &Plan,
    snapshot: &Snapshot,
    store: &dyn OnlineStore,
    plugins: Option<&PluginHost>,
    req: &OnlineRequest<'_>,
    prepared: Prepared,
    got: Vec<TableRows>,
    now_micros: i64,
) -> Result<OnlineResponse, ServingError> {
    let Prepared {
        rows,
        key_values,
        mut response,
        views,
    } = prepared;
    let mut got = got.into_iter();
    // Per view: its rows, one per request row.
    let mut read: Vec<Vec<Option<crate::online::ReadRow>>> = Vec::with_capacity(plan.views.len());
    for (view, prepared) in plan.views.iter().zip(views) {
        let PreparedView::Read {
            keys,
            row_to_unique,
        } = prepared
        else {
            read.push(vec![None; rows]);
            continue;
        };
        let rows_read = got
            .next()
            .ok_or_else(|| ServingError::store("read", "the store answered too few tables"))?;
        if rows_read.len() != keys.len() {
            return Err(ServingError::store(
                "read",
                format!(
                    "{}: the store answered {} rows for {} keys",
                    view.name,
                    rows_read.len(),
                    keys.len()
                ),
            ));
        }
        let rows_read = if store.typed() {
            rows_read
        } else {
            cast_read(&snapshot.registry, &view.name, &view.features, rows_read)?
        };
        read.push(
            row_to_unique
                .into_iter()
                .map(|u| rows_read[u].clone())
                .collect(),
        );
    }

    let gathered = Gathered {
        views: &plan.views,
        read: &read,
        keys: &plan.keys,
        key_values: &key_values,
        entities: req.entities,
        rows,
    };
    let mut transformed: Vec<Vec<Vec<Value>>> = plan
        .steps
        .iter()
        .map(|step| run_step(step, &gathered, plugins))
        .collect::<Result<_, _>>()?;

    for out in &plan.outputs {
        let (view, feature) = match out.source {
            Source::Stored { view, feature } => (view, feature),
            Source::Transformed { step, field } => {
                // Feast appends transform outputs as PRESENT at the epoch, nulls included.
                let values = std::mem::take(&mut transformed[step][field]);
                response.feature_names.push(out.name.clone());
                response.columns.push(ResponseColumn {
                    values,
                    statuses: vec![FieldStatus::Present; rows],
                    event_ts_micros: vec![0; rows],
                });
                continue;
            }
        };
        let view_read = &plan.views[view];
        let mut column = ResponseColumn {
            values: Vec::with_capacity(rows),
            statuses: Vec::with_capacity(rows),
            event_ts_micros: Vec::with_capacity(rows),
        };
        for row in &read[view] {
            match row
                .as_ref()
                .and_then(|r| r.values[feature].as_ref().map(|v| (r, v)))
            {
                Some((r, v)) => {
                    let expired = snapshot.options.enforce_ttl
                        && view_read.ttl_seconds > 0
                        && now_micros.saturating_sub(r.event_ts_micros)
                            > i64::try_from(view_read.ttl_seconds)
                                .unwrap_or(i64::MAX)
                                .saturating_mul(1_000_000);
                    column.values.push(v.clone());
                    column.statuses.push(if expired {
                        FieldStatus::OutsideMaxAge
                    } else {
                        FieldStatus::Present
                    });
                    column.event_ts_micros.push(r.event_ts_micros);
                }
                None => {
                    column.values.push(Value::Null);
                    column.statuses.push(FieldStatus::NotFound);
                    column.event_ts_micros.push(0);
                }
            }
        }
        response.feature_names.push(out.name.clone());
        response.columns.push(column);
    }
    Ok(response)
}

/// The number of entity rows; every column must have it (docs/feast-compat.md#entity-coercion).
fn entity_row_count(entities: &[(String, Vec<serde_json::Value>)]) -> Result<usize, ServingError> {
    let Some((_, first)) = entities.first() else {
        return Err(ServingError::Other(
            "No entity rows were provided in the request.".into(),
        ));
    };
    if entities.iter().any(|(_, v)| v.len() != first.len()) {
        return Err(ServingError::Other(
            "All entity rows must have the same columns.".into(),
        ));
    }
    Ok(first.len())
}

#[cfg(test)]
#[path = "online_tests.rs"]
mod tests;
