//! `get_online_features`: resolve the refs (once per registry version), classify and coerce
//! the request's entity columns, read each view's rows in one snapshot, and assemble Feast's
//! columnar response, as Feast's `FeatureStore.get_online_features` does
//! (docs/feast-compat.md#feature-resolution and the sections after it).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::online::{OnlineStore, Table, TableRead, TableRows};
use crate::plugins::PluginHost;
use crate::registry::{FeatureView, Field, OdfvSource, OnDemandFeatureView, Registry};
use crate::serving::coerce::{coerce_entity_value, python_str_list};
use crate::serving::error::ServingError;
use crate::serving::response::{FieldStatus, OnlineResponse, ResponseColumn};
use crate::serving::transform::{Gathered, Step, check_request_data, run_step};
use crate::types::{DType, Value, serialize_entity_key_into};

/// Serving settings from `feature_server` in feature_store.yaml.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServingOptions {
    /// Apply view ttls to online reads as Feast's Go server does: a value older than its view's
    /// ttl is returned with status `OUTSIDE_MAX_AGE`. Off by default, as in Python Feast.
    pub enforce_ttl: bool,
}

/// An immutable registry version with the plans resolved against it. The server swaps whole
/// snapshots when the registry changes, so a request finishes on the one it started with and
/// cached plans can never outlive the definitions they were made from.
pub struct Snapshot {
    /// The registry.
    pub registry: Arc<Registry>,
    /// The serving settings.
    pub options: ServingOptions,
    plans: RwLock<HashMap<PlanKey, Arc<Plan>>>,
}

/// Plans kept per snapshot at most; beyond that the cache is cleared, so that a client sending
/// endless distinct feature lists cannot grow memory without bound.
const MAX_PLANS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PlanKey {
    Service(String, bool),
    Refs(Vec<String>, bool),
}

/// A request's feature refs resolved against one registry version.
#[derive(Debug)]
pub struct Plan {
    /// The views to read, in first-reference order.
    views: Vec<ViewRead>,
    /// The request columns that carry join keys.
    keys: Vec<KeyColumn>,
    /// Entity names accepted in place of their join key (deprecated Feast aliases).
    aliases: HashMap<String, usize>,
    /// The feature columns of the response, in request order.
    outputs: Vec<Output>,
    /// The on-demand transforms to run, each once per request.
    steps: Vec<Step>,
}

impl Plan {
    /// Whether serving the plan calls plugins (which the HTTP layer runs off the async
    /// workers, so that a slow plugin cannot stall plain requests).
    pub fn has_transforms(&self) -> bool {
        !self.steps.is_empty()
    }
}

#[derive(Debug)]
pub(crate) struct ViewRead {
    pub(crate) name: String,
    pub(crate) features: Vec<String>,
    /// (join key name as serialized, index into `Plan::keys`), in entity order.
    pub(crate) keys: Vec<(String, usize)>,
    ttl_seconds: u64,
}

#[derive(Debug)]
pub(crate) struct KeyColumn {
    /// The request column (the join key, or its `join_key_map` name).
    pub(crate) column: String,
    dtype: DType,
}

#[derive(Debug)]
struct Output {
    source: Source,
    name: String,
}

/// Where an output column's values come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A feature read from the online store: `views[view].features[feature]`.
    Stored { view: usize, feature: usize },
    /// An output of an on-demand transform: `steps[step].outputs[field]`.
    Transformed { step: usize, field: usize },
}

/// What a projection's features are resolved against, before their indexes are known.
enum Pending<'a> {
    Stored(usize, &'a str),
    Transformed(usize, usize),
}

/// Parsed `view:feature`.
pub(crate) fn split_ref(r: &str) -> Result<(&str, &str), ServingError> {
    match r.split_once(':') {
        Some((view, feature)) => {
            // `view@latest` is the same as no version; other versions need versioned views.
            let view = view.strip_suffix("@latest").unwrap_or(view);
            Ok((view, feature))
        }
        None => Err(ServingError::Other(format!(
            "Invalid feature reference '{r}'. Expected format: '<feature_view>:<feature>' or '<feature_view>@<version>:<feature>'"
        ))),
    }
}

/// One projection to serve: the view, the name it is served under, the features, and the
/// join-key renames.
struct Projected<'a> {
    view: &'a str,
    served_as: &'a str,
    features: Vec<&'a str>,
    join_key_map: Option<&'a std::collections::BTreeMap<String, String>>,
}

impl Snapshot {
    /// A snapshot of `registry`.
    pub fn new(registry: Arc<Registry>, options: ServingOptions) -> Snapshot {
        Snapshot {
            registry,
            options,
            plans: RwLock::new(HashMap::new()),
        }
    }

    /// The plan for a request's refs or service, from the cache when it was made before.
    pub fn plan(
        &self,
        feature_service: Option<&str>,
        features: &[String],
        full_feature_names: bool,
    ) -> Result<Arc<Plan>, ServingError> {
        let key = match feature_service {
            Some(s) => PlanKey::Service(s.to_string(), full_feature_names),
            None => PlanKey::Refs(features.to_vec(), full_feature_names),
        };
        if let Some(p) = self
            .plans
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(p.clone());
        }
        let plan = Arc::new(self.make_plan(feature_service, features, full_feature_names)?);
        let mut plans = self.plans.write().unwrap_or_else(|p| p.into_inner());
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(key, plan.clone());
        Ok(plan)
    }

    fn make_plan(
        &self,
        feature_service: Option<&str>,
        features: &[String],
        full_names: bool,
    ) -> Result<Plan, ServingError> {
        let reg = &self.registry;
        let project = reg.project.spec.name.as_str();
        let mut projections: Vec<Projected<'_>> = Vec::new();
        if let Some(service) = feature_service {
            let Some(fs) = reg.feature_services.get(service) else {
                return Err(ServingError::service_not_found(service, project));
            };
            for p in &fs.spec.features {
                projections.push(Projected {
                    view: &p.feature_view_name,
                    served_as: p
                        .feature_view_name_alias
                        .as_deref()
                        .unwrap_or(&p.feature_view_name),
                    features: p.feature_columns.iter().map(String::as_str).collect(),
                    join_key_map: Some(&p.join_key_map),
                });
            }
        } else {
            if features.is_empty() {
                return Err(ServingError::Other(
                    "No features specified for retrieval".into(),
                ));
            }
            for r in features {
                let (view, feature) = split_ref(r)?;
                match projections.iter_mut().find(|p| p.served_as == view) {
                    Some(p) => p.features.push(feature),
                    None => projections.push(Projected {
                        view,
                        served_as: view,
                        features: vec![feature],
                        join_key_map: None,
                    }),
                }
            }
        }

        let mut plan = Plan {
            views: Vec::new(),
            keys: Vec::new(),
            aliases: HashMap::new(),
            outputs: Vec::new(),
            steps: Vec::new(),
        };
        // Output order: request (or projection) order, feature by feature.
        let mut pending: Vec<(Pending<'_>, String)> = Vec::new();
        for p in &projections {
            if let Some(why) = reg.not_served.get(p.view) {
                return Err(ServingError::not_served(why));
            }
            let name_of = |f: &str| {
                if full_names {
                    format!("{}__{f}", p.served_as)
                } else {
                    f.to_string()
                }
            };
            let (declared, odfv): (&[Field], Option<&OnDemandFeatureView>) = match (
                reg.feature_views.get(p.view),
                reg.on_demand_feature_views.get(p.view),
            ) {
                (Some(v), _) => (&v.spec.features, None),
                (None, Some(o)) => (&o.spec.features, Some(&o.spec)),
                (None, None) => return Err(ServingError::view_not_found(p.view, project)),
            };
            if let Some(f) = p
                .features
                .iter()
                .find(|f| !declared.iter().any(|d| d.name == **f))
            {
                return Err(ServingError::Other(format!(
                    "'Feature {f} not found in projection {}'",
                    p.view
                )));
            }
            match odfv {
                None => {
                    let fv = &reg.feature_views[p.view].spec;
                    let view = self.add_view(&mut plan, fv, p.join_key_map)?;
                    for f in &p.features {
                        pending.push((Pending::Stored(view, f), name_of(f)));
                    }
                }
                Some(odfv) if odfv.write_to_online_store => {
                    // Computed when written, so read like any stored view.
                    let stored = reg.stored_odfv_view(odfv);
                    let view = self.add_view(&mut plan, &stored, p.join_key_map)?;
                    for f in &p.features {
                        pending.push((Pending::Stored(view, f), name_of(f)));
                    }
                }
                Some(odfv) => {
                    let step = self.add_step(&mut plan, odfv)?;
                    for f in &p.features {
                        let field = odfv.features.iter().position(|d| d.name == *f).unwrap_or(0);
                        pending.push((Pending::Transformed(step, field), name_of(f)));
                    }
                }
            }
        }
        for (target, name) in pending {
            let source = match target {
                Pending::Transformed(step, field) => Source::Transformed { step, field },
                Pending::Stored(view, feature) => {
                    let read = &mut plan.views[view];
                    let feature = match read.features.iter().position(|f| f == feature) {
                        Some(i) => i,
                        None => {
                            read.features.push(feature.to_string());
                            read.features.len() - 1
                        }
                    };
                    Source::Stored { view, feature }
                }
            };
            plan.outputs.push(Output { source, name });
        }
        check_collisions(&plan.outputs, full_names)?;
        Ok(plan)
    }

    /// Adds an on-demand transform (once per view), reading every feature of its source
    /// views, as Feast does: the plugin picks its inputs by name.
    fn add_step(&self, plan: &mut Plan, odfv: &OnDemandFeatureView) -> Result<usize, ServingError> {
        if let Some(i) = plan.steps.iter().position(|s| s.odfv == odfv.name) {
            return Ok(i);
        }
        let reg = &self.registry;
        let mut sources = Vec::new();
        let mut request = Vec::new();
        for s in &odfv.sources {
            match s {
                OdfvSource::FeatureView(v) => {
                    let Some(fv) = reg.feature_views.get(v) else {
                        return Err(ServingError::view_not_found(v, &reg.project.spec.name));
                    };
                    let view = self.add_view(plan, &fv.spec, None)?;
                    for f in &fv.spec.features {
                        if !plan.views[view].features.contains(&f.name) {
                            plan.views[view].features.push(f.name.clone());
                        }
                    }
                    sources.push(view);
                }
                OdfvSource::RequestSource(r) => {
                    if let Some(crate::registry::SourceKind::Request { schema }) =
                        reg.data_sources.get(r).map(|d| &d.spec.kind)
                    {
                        request.extend(schema.iter().cloned());
                    }
                }
            }
        }
        plan.steps.push(Step {
            odfv: odfv.name.clone(),
            plugin: odfv.plugin.clone(),
            sources,
            request,
            outputs: odfv.features.clone(),
            python_udf: odfv
                .python_udf
                .as_ref()
                .map(|u| (u.mode.clone(), u.name.clone())),
        });
        Ok(plan.steps.len() - 1)
    }

    /// Adds the view (once per distinct join-key mapping) and its key columns.
    fn add_view(
        &self,
        plan: &mut Plan,
        fv: &FeatureView,
        join_key_map: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Result<usize, ServingError> {
        let mut keys = Vec::new();
        for (entity, col) in fv.entities.iter().zip(&fv.entity_columns) {
            let column = join_key_map
                .and_then(|m| m.get(&col.name))
                .cloned()
                .unwrap_or_else(|| col.name.clone());
            let index = match plan.keys.iter().position(|k| k.column == column) {
                Some(i) => i,
                None => {
                    plan.keys.push(KeyColumn {
                        column: column.clone(),
                        dtype: col.dtype.clone(),
                    });
                    plan.keys.len() - 1
                }
            };
            if entity != &column {
                plan.aliases.entry(entity.clone()).or_insert(index);
            }
            keys.push((col.name.clone(), index));
        }
        if let Some(i) = plan
            .views
            .iter()
            .position(|v| v.name == fv.name && v.keys == keys)
        {
            return Ok(i);
        }
        plan.views.push(ViewRead {
            name: fv.name.clone(),
            features: Vec::new(),
            keys,
            ttl_seconds: fv.ttl_seconds,
        });
        Ok(plan.views.len() - 1)
    }
}

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

/// Feast refuses two output columns of the same name (`FeatureNameCollisionError`).
fn check_collisions(outputs: &[Output], full_names: bool) -> Result<(), ServingError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut dups: Vec<&str> = Vec::new();
    for o in outputs {
        let n = seen.entry(o.name.as_str()).or_default();
        *n += 1;
        if *n == 2 {
            dups.push(o.name.as_str());
        }
    }
    if dups.is_empty() {
        return Ok(());
    }
    let hint = if full_names {
        "To resolve this collision, please ensure that the feature views or their own features have different names. If you're intentionally joining the same feature view twice on different sets of entities, please rename one of the feature views with '.with_name'."
    } else {
        "To resolve this collision, either use the full feature name by setting 'full_feature_names=True', or ensure that the features in question have different names."
    };
    Err(ServingError::Feast {
        status: 500,
        class: "FeatureNameCollisionError",
        message: format!(
            "Duplicate features named {} found.\n{hint}",
            dups.join(", ")
        ),
    })
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
        let coerced = values
            .iter()
            .map(|v| coerce_entity_value(v, &key.dtype))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ServingError::Other)?;
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
