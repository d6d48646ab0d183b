//! What `apply` changes: the specs of the definitions compared with the stored registry, and
//! the merged registry to persist.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use super::{Definitions, FORMAT_NAME, FORMAT_VERSION, Meta, Project, Registry, Stored};

/// The kinds of registry objects, named as Feast's apply output names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum ObjectKind {
    Project,
    DataSource,
    Entity,
    FeatureView,
    OnDemandFeatureView,
    FeatureService,
    Permission,
}

impl ObjectKind {
    /// The words Feast prints (`Created on demand feature view x`).
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::Project => "project",
            ObjectKind::DataSource => "data source",
            ObjectKind::Entity => "entity",
            ObjectKind::FeatureView => "feature view",
            ObjectKind::OnDemandFeatureView => "on demand feature view",
            ObjectKind::FeatureService => "feature service",
            ObjectKind::Permission => "permission",
        }
    }
}

/// Whether an object is new, changed or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// One line of the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Change {
    pub change: ChangeKind,
    pub object: ObjectKind,
    pub name: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.change {
            ChangeKind::Created => "Created",
            ChangeKind::Updated => "Updated",
            ChangeKind::Deleted => "Deleted",
        };
        write!(f, "{verb} {} {}", self.object.label(), self.name)
    }
}

/// The changes of one apply, in Feast's order: by kind, then by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryDiff {
    /// The lines, in print order.
    pub changes: Vec<Change>,
}

impl RegistryDiff {
    /// True when the definitions equal the stored registry.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Compares `defs` with the `old` registry and builds the registry to store. Unchanged objects
/// keep their meta; a changed object keeps its creation time but, as in Feast, loses its
/// materialization intervals, so the next incremental materialization fills the changed view
/// again instead of skipping data it never loaded.
pub fn diff_and_merge(
    old: Option<&Registry>,
    defs: Definitions,
    project: Project,
    now: DateTime<Utc>,
) -> (Registry, RegistryDiff) {
    let mut changes = Vec::new();
    let mut project_map = BTreeMap::new();
    project_map.insert(project.name.clone(), project);
    let old_project = old.map(|r| {
        let mut m = BTreeMap::new();
        m.insert(r.project.spec.name.clone(), r.project.clone());
        m
    });
    let mut project = merge(
        ObjectKind::Project,
        old_project.as_ref(),
        project_map,
        now,
        &mut changes,
    );
    // Projects are never deleted by an apply: the registry holds exactly one.
    changes.retain(|c| !(c.object == ObjectKind::Project && c.change == ChangeKind::Deleted));
    #[allow(clippy::expect_used)] // an invariant of the lines above, not input
    let project = project
        .pop_first()
        .map(|(_, p)| p)
        .expect("the project map holds the one project just inserted");

    let mut registry = Registry {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        serial: old.map_or(1, |r| r.serial),
        last_updated: old.map_or(now, |r| r.last_updated),
        project,
        data_sources: merge(
            ObjectKind::DataSource,
            old.map(|r| &r.data_sources),
            defs.data_sources,
            now,
            &mut changes,
        ),
        entities: merge(
            ObjectKind::Entity,
            old.map(|r| &r.entities),
            defs.entities,
            now,
            &mut changes,
        ),
        feature_views: merge(
            ObjectKind::FeatureView,
            old.map(|r| &r.feature_views),
            defs.feature_views,
            now,
            &mut changes,
        ),
        on_demand_feature_views: merge(
            ObjectKind::OnDemandFeatureView,
            old.map(|r| &r.on_demand_feature_views),
            defs.on_demand_feature_views,
            now,
            &mut changes,
        ),
        feature_services: merge(
            ObjectKind::FeatureService,
            old.map(|r| &r.feature_services),
            defs.feature_services,
            now,
            &mut changes,
        ),
        permissions: merge(
            ObjectKind::Permission,
            old.map(|r| &r.permissions),
            defs.permissions,
            now,
            &mut changes,
        ),
        not_served: Default::default(),
    };
    if old.is_some() && !changes.is_empty() {
        registry.serial += 1;
    }
    if !changes.is_empty() {
        registry.last_updated = now;
    }
    changes.sort_by(|a, b| (a.object, &a.name).cmp(&(b.object, &b.name)));
    (registry, RegistryDiff { changes })
}

fn merge<T: PartialEq + Clone>(
    kind: ObjectKind,
    old: Option<&BTreeMap<String, Stored<T>>>,
    new: BTreeMap<String, T>,
    now: DateTime<Utc>,
    changes: &mut Vec<Change>,
) -> BTreeMap<String, Stored<T>> {
    let mut change = |c: ChangeKind, name: &str| {
        changes.push(Change {
            change: c,
            object: kind,
            name: name.to_string(),
        });
    };
    if let Some(old) = old {
        for name in old.keys().filter(|n| !new.contains_key(*n)) {
            change(ChangeKind::Deleted, name);
        }
    }
    new.into_iter()
        .map(|(name, spec)| {
            let meta = match old.and_then(|o| o.get(&name)) {
                Some(prev) if prev.spec == spec => prev.meta.clone(),
                Some(prev) => {
                    change(ChangeKind::Updated, &name);
                    Meta {
                        created_timestamp: prev.meta.created_timestamp,
                        last_updated_timestamp: now,
                        materialization_intervals: Vec::new(),
                    }
                }
                None => {
                    change(ChangeKind::Created, &name);
                    Meta {
                        created_timestamp: now,
                        last_updated_timestamp: now,
                        materialization_intervals: Vec::new(),
                    }
                }
            };
            (name, Stored { spec, meta })
        })
        .collect()
}
