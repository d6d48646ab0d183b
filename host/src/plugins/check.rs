//! Does a plugin fit the on-demand feature views bound to it? Used by `apply` (before anything
//! is registered) and by the server (before a new plugin version is published), so both refuse
//! the same mismatches with the same words.

use crate::plugins::columns::PluginInfo;
use crate::registry::{DataSource, Field, OdfvSource, OnDemandFeatureView, Registry, SourceKind};
use crate::types::DType;

/// The columns an on-demand view can hand its plugin: each source view's join keys and
/// features (by short name and as `view__feature`), and each request source's fields. The
/// first source wins when two give the same name, as in Feast's input frame.
pub fn available_inputs<'a>(
    odfv: &'a OnDemandFeatureView,
    registry: &'a Registry,
) -> Vec<(String, &'a DType)> {
    let mut out: Vec<(String, &DType)> = Vec::new();
    let mut add = |name: String, dtype: &'a DType| {
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, dtype));
        }
    };
    for s in &odfv.sources {
        match s {
            OdfvSource::FeatureView(v) => {
                if let Some(fv) = registry.feature_views.get(v).map(|f| &f.spec) {
                    for k in &fv.entity_columns {
                        add(k.name.clone(), &k.dtype);
                    }
                    for f in &fv.features {
                        add(f.name.clone(), &f.dtype);
                        add(format!("{}__{}", fv.name, f.name), &f.dtype);
                    }
                }
            }
            OdfvSource::RequestSource(r) => {
                if let Some(DataSource {
                    kind: SourceKind::Request { schema },
                    ..
                }) = registry.data_sources.get(r).map(|d| &d.spec)
                {
                    for f in schema {
                        add(f.name.clone(), &f.dtype);
                    }
                }
            }
        }
    }
    out
}

/// Every way `info` does not fit `odfv`, one sentence each (empty when it fits).
pub fn check_plugin(
    odfv: &OnDemandFeatureView,
    info: &PluginInfo,
    available: &[(String, &DType)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let (v, p) = (&odfv.name, &odfv.plugin);
    for input in &info.inputs {
        match available.iter().find(|(n, _)| *n == input.name) {
            None => problems.push(format!(
                "plugin `{p}` needs input `{}` ({}), which on demand feature view `{v}` cannot supply; its sources give: {}",
                input.name,
                input.ty.name(),
                available
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some((_, dtype)) if !input.ty.accepts(dtype) => problems.push(format!(
                "plugin `{p}` needs input `{}` as {}, but on demand feature view `{v}` supplies it as {dtype}",
                input.name,
                input.ty.name()
            )),
            Some(_) => {}
        }
    }
    for Field { name, dtype, .. } in &odfv.features {
        match info.outputs.iter().find(|o| o.name == *name) {
            None => problems.push(format!(
                "on demand feature view `{v}` declares feature `{name}` ({dtype}), but plugin `{p}` has no such output; its outputs: {}",
                info.outputs
                    .iter()
                    .map(|o| format!("{} ({})", o.name, o.ty.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(o) if !o.ty.serves(dtype) => problems.push(format!(
                "plugin `{p}` returns `{name}` as {}, which cannot serve on demand feature view `{v}`'s feature `{name}` declared {dtype}",
                o.ty.name()
            )),
            Some(_) => {}
        }
    }
    problems
}

/// How `info` of plugin `name` does not fit the on-demand views of `registry` bound to it
/// (those computed per request; stored ones never call their plugin).
pub fn registry_problems(registry: &Registry, name: &str, info: &PluginInfo) -> Vec<String> {
    let mut problems = Vec::new();
    for odfv in registry.on_demand_feature_views.values() {
        let odfv = &odfv.spec;
        if odfv.plugin == name && !odfv.write_to_online_store {
            let available = available_inputs(odfv, registry);
            problems.extend(check_plugin(odfv, info, &available));
        }
    }
    problems
}
