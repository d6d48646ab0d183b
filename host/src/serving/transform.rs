//! On-demand feature views at read time, as Feast's `on_demand_feature_view.py` computes them
//! (docs/feast-compat.md#on-demand-feature-views): build one columnar batch per request from
//! the join keys, the request data and the source views' rows, call the view's plugin once,
//! and cast its outputs to the view's declared dtypes.

use crate::online::ReadRow;
use crate::plugins::{HostColumn, PluginHost, to_plugin_value_checked};
use crate::serving::ServingError;
use crate::serving::coerce::{coerce_entity_value, python_str_list};
use crate::serving::plan::{KeyColumn, Step, ViewRead};
use crate::types::Value;

/// Feast checks request data before reading anything: a missing field is a 404.
pub(crate) fn check_request_data(
    steps: &[Step],
    entities: &[(String, Vec<serde_json::Value>)],
) -> Result<(), ServingError> {
    let mut missing: Vec<&str> = Vec::new();
    for step in steps {
        for f in &step.request {
            if !entities.iter().any(|(n, _)| *n == f.name) && !missing.contains(&f.name.as_str()) {
                missing.push(&f.name);
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(ServingError::Feast {
        status: 404,
        class: "RequestDataNotFoundInEntityRowsException",
        message: format!(
            "Required request data source features {} not found in the entity rows, but required by feature views",
            python_str_list(&missing)
        ),
    })
}

/// What a request has gathered by the time its transforms run, borrowed from the caller.
pub(crate) struct Gathered<'a> {
    /// The plan's views.
    pub(crate) views: &'a [ViewRead],
    /// Each view's rows, one per request row.
    pub(crate) read: &'a [Vec<Option<ReadRow>>],
    /// The plan's key columns.
    pub(crate) keys: &'a [KeyColumn],
    /// Each key column's coerced values, when the request has it.
    pub(crate) key_values: &'a [Option<Vec<Value>>],
    /// The request's columns.
    pub(crate) entities: &'a [(String, Vec<serde_json::Value>)],
    /// The number of request rows.
    pub(crate) rows: usize,
}

/// Runs one step: its declared features' values, one column per feature, `rows` values each.
pub(crate) fn run_step(
    step: &Step,
    got: &Gathered<'_>,
    plugins: Option<&PluginHost>,
) -> Result<Vec<Vec<Value>>, ServingError> {
    let rows = got.rows;
    let fail = |message: String| ServingError::Feast {
        status: 500,
        class: "FeastError",
        message: format!("on demand feature view {}: {message}", step.odfv),
    };
    let Some(plugins) = plugins else {
        return Err(fail(format!(
            "plugin `{}` cannot run: this server has no plugin host",
            step.plugin
        )));
    };
    let Some(plugin) = plugins.get(&step.plugin) else {
        let mut why = plugins.missing_reason(&step.plugin);
        if let Some((mode, name)) = &step.python_udf {
            why.push_str(&format!(
                ". Its Feast definition is the Python ({mode}) function `{name}`: `edgefeat plugin build-feast --view {}` builds it into `{}.wasm` from its source, or provide a WASM plugin of that name that computes the view's outputs (see docs/coming-from-feast.md)",
                step.odfv, step.plugin
            ));
        }
        return Err(fail(why));
    };
    let info = plugin.info();

    let mut input = Vec::with_capacity(info.inputs.len());
    for field in &info.inputs {
        let values = gather(step, &field.name, got)
            .map_err(fail)?
            .ok_or_else(|| {
                fail(format!(
                    "plugin `{}` needs input `{}`, which this view's sources do not supply",
                    step.plugin, field.name
                ))
            })?;
        let values = values
            .iter()
            .map(|v| to_plugin_value_checked(v, field.ty, &field.name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        input.push(HostColumn {
            name: field.name.clone(),
            ty: field.ty,
            values,
        });
    }

    let outputs = plugin
        .transform(rows, &input)
        .map_err(|e| fail(format!("plugin `{}` {e}", step.plugin)))?;
    let mut out = Vec::with_capacity(step.outputs.len());
    for f in &step.outputs {
        let Some(column) = outputs.iter().find(|c| c.name == f.name) else {
            return Err(fail(format!(
                "plugin `{}` has no output `{}`",
                step.plugin, f.name
            )));
        };
        let values = column
            .values
            .iter()
            .map(|v| crate::plugins::to_feature_value(v.clone(), &f.dtype))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                fail(format!(
                    "plugin `{}` returned a wrong type in `{}`: {e}",
                    step.plugin, f.name
                ))
            })?;
        out.push(values);
    }
    Ok(out)
}

/// The values of the input column `name`: a join key, a request field, or a source feature
/// by its short name or as `view__feature` (the first source that has it).
fn gather(step: &Step, name: &str, got: &Gathered<'_>) -> Result<Option<Vec<Value>>, String> {
    let Gathered {
        views,
        read,
        keys,
        key_values,
        entities,
        rows,
    } = *got;
    let source_keys = step
        .sources
        .iter()
        .flat_map(|v| views[*v].keys.iter().map(|(_, i)| *i));
    for i in source_keys {
        if keys[i].column == name {
            return Ok(Some(
                key_values[i]
                    .clone()
                    .unwrap_or_else(|| vec![Value::Null; rows]),
            ));
        }
    }
    if let Some(f) = step.request.iter().find(|f| f.name == name)
        && let Some((_, values)) = entities.iter().find(|(n, _)| n == name)
    {
        return values
            .iter()
            .map(|v| coerce_entity_value(v, &f.dtype))
            .collect::<Result<Vec<_>, _>>()
            .map(Some);
    }
    for &v in &step.sources {
        let view = &views[v];
        let short = name
            .strip_prefix(view.name.as_str())
            .and_then(|rest| rest.strip_prefix("__"))
            .unwrap_or(name);
        if let Some(fi) = view.features.iter().position(|f| f == short) {
            return Ok(Some(
                read[v]
                    .iter()
                    .map(|row| {
                        row.as_ref()
                            .and_then(|r| r.values[fi].clone())
                            .unwrap_or(Value::Null)
                    })
                    .collect(),
            ));
        }
    }
    Ok(None)
}
