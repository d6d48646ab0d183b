//! Resolving a request's feature refs, or its feature service, into a [`Plan`] against one
//! registry version, as Feast's `FeatureStore.get_online_features` resolves them
//! (docs/feast-compat.md#feature-resolution): which views to read and by which key columns,
//! which on-demand transforms to run, and the response's columns in order. [`Snapshot`] keeps
//! the plans made against its registry, so a repeated request is resolved once. Serving a plan
//! is `serving::online`'s; this file knows nothing of stores or request values.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::registry::{FeatureView, Field, OdfvSource, OnDemandFeatureView, Registry};
use crate::serving::error::ServingError;
use crate::types::DType;

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
    pub(crate) views: Vec<ViewRead>,
    /// The request columns that carry join keys.
    pub(crate) keys: Vec<KeyColumn>,
    /// Entity names accepted in place of their join key (deprecated Feast aliases).
    pub(crate) aliases: HashMap<String, usize>,
    /// The feature columns of the response, in request order.
    pub(crate) outputs: Vec<Output>,
    /// The on-demand transforms to run, each once per request.
    pub(crate) steps: Vec<Step>,
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
    pub(crate) ttl_seconds: u64,
}

#[derive(Debug)]
pub(crate) struct KeyColumn {
    /// The request column (the join key, or its `join_key_map` name).
    pub(crate) column: String,
    pub(crate) dtype: DType,
}

#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) source: Source,
    pub(crate) name: String,
}

/// Where an output column's values come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
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

/// One on-demand transform of a plan.
#[derive(Debug)]
pub(crate) struct Step {
    /// The on-demand feature view.
    pub(crate) odfv: String,
    /// The plugin bound to it.
    pub(crate) plugin: String,
    /// Its source views, as indexes into the plan's views, in source order.
    pub(crate) sources: Vec<usize>,
    /// The fields of its request sources.
    pub(crate) request: Vec<Field>,
    /// Its declared features: every output of the step, in this order.
    pub(crate) outputs: Vec<Field>,
    /// The Python function a Feast registry defines it with (`mode`, name), which the
    /// plugin stands in for: named in the error when the plugin is missing.
    pub(crate) python_udf: Option<(String, String)>,
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
