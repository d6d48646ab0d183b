//! Which registry objects a request touches, per route, in the order Feast checks them: the
//! first one denied is the one reported (docs/feast-compat.md#what-each-route-checks).

use crate::auth::Resource;
use crate::registry::{OdfvSource, Registry, ResourceType};
use crate::serving::ServingError;

/// `/get-online-features`: the feature service when one is named; otherwise every feature view
/// referenced, including the source views of referenced on-demand views, then those on-demand
/// views (Feast's `_get_feature_views_to_use`). Unknown names fail as the serving core fails
/// for them, so a request is never authorized against less than it would read.
pub fn online_read<'r>(
    registry: &'r Registry,
    feature_service: Option<&str>,
    features: &[String],
) -> Result<Vec<Resource<'r>>, ServingError> {
    let project = registry.project.spec.name.as_str();
    if let Some(name) = feature_service {
        let fs = registry
            .feature_services
            .get(name)
            .ok_or_else(|| ServingError::service_not_found(name, project))?;
        return Ok(vec![Resource {
            kind: ResourceType::FeatureService,
            name: &fs.spec.name,
            tags: &fs.spec.tags,
        }]);
    }
    let mut views: Vec<Resource<'r>> = Vec::new();
    let mut on_demand: Vec<Resource<'r>> = Vec::new();
    let add_view = |views: &mut Vec<Resource<'r>>, name: &str| -> Result<(), ServingError> {
        let fv = registry
            .feature_views
            .get(name)
            .ok_or_else(|| ServingError::view_not_found(name, project))?;
        if !views.iter().any(|r| r.name == fv.spec.name) {
            views.push(Resource {
                kind: ResourceType::FeatureView,
                name: &fv.spec.name,
                tags: &fv.spec.tags,
            });
        }
        Ok(())
    };
    for r in features {
        let (view, _) = crate::serving::split_ref(r)?;
        if let Some(odfv) = registry.on_demand_feature_views.get(view) {
            if !on_demand.iter().any(|r| r.name == odfv.spec.name) {
                on_demand.push(Resource {
                    kind: ResourceType::OnDemandFeatureView,
                    name: &odfv.spec.name,
                    tags: &odfv.spec.tags,
                });
                for source in &odfv.spec.sources {
                    if let OdfvSource::FeatureView(name) = source {
                        add_view(&mut views, name)?;
                    }
                }
            }
        } else {
            add_view(&mut views, view)?;
        }
    }
    views.extend(on_demand);
    Ok(views)
}

/// A feature view by name, for the write and materialize routes.
pub fn feature_view<'r>(registry: &'r Registry, name: &str) -> Option<Resource<'r>> {
    registry.feature_views.get(name).map(|v| Resource {
        kind: ResourceType::FeatureView,
        name: &v.spec.name,
        tags: &v.spec.tags,
    })
}

/// An on-demand feature view by name (`/write-to-online-store` may name one).
pub fn on_demand_view<'r>(registry: &'r Registry, name: &str) -> Option<Resource<'r>> {
    registry
        .on_demand_feature_views
        .get(name)
        .map(|v| Resource {
            kind: ResourceType::OnDemandFeatureView,
            name: &v.spec.name,
            tags: &v.spec.tags,
        })
}
