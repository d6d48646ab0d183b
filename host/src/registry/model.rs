//! The registry model, mirroring Feast's protos (`protos/feast/core/`, summarized in
//! docs/feast-compat.md#registry-model) field for field where we have a use for the field.
//! Every object is a `spec` (what the definitions say) plus a [`Meta`] (what the registry
//! knows about its history), so `apply` can compare specs alone.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::DType;

/// Free-form string labels.
pub type Tags = BTreeMap<String, String>;

/// What the registry records about an object besides its spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// When the object was first applied.
    pub created_timestamp: DateTime<Utc>,
    /// When its spec last changed.
    pub last_updated_timestamp: DateTime<Utc>,
    /// The windows materialized into the online store, oldest first (feature views only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub materialization_intervals: Vec<MaterializationInterval>,
}

/// One successful materialization window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterializationInterval {
    /// Inclusive start.
    pub start_time: DateTime<Utc>,
    /// Inclusive end.
    pub end_time: DateTime<Utc>,
}

/// A spec with its meta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored<T> {
    /// What the definitions say.
    pub spec: T,
    /// What the registry knows about it.
    pub meta: Meta,
}

/// The project (Feast's `ProjectSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Project {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: String,
}

/// An entity (Feast's `EntitySpecV2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Entity {
    pub name: String,
    /// The one join key (Feast supports exactly one).
    pub join_key: String,
    /// The key's type: declared, or inferred from a source file at apply.
    pub value_type: DType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: String,
}

/// A typed field (Feast's `FeatureSpecV2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Field {
    pub name: String,
    pub dtype: DType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Tags,
    /// Set on the one vector field of a feature view searched by `/search`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_index: Option<crate::vector::VectorIndex>,
}

/// What kind of data source, with the fields that belong to that kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceKind {
    /// Parquet data at `path`: one file or a directory of files (`FileSource`).
    File {
        /// As written in the definitions: relative to the repo, or absolute.
        path: PathBuf,
        /// The event-time column that windows and point-in-time logic use.
        timestamp_field: String,
        /// The column that breaks ties between rows of the same event time.
        #[serde(default)]
        created_timestamp_column: String,
        /// Source column → feature name.
        #[serde(default)]
        field_mapping: BTreeMap<String, String>,
    },
    /// Rows pushed over HTTP (`PushSource`); `batch_source` receives offline pushes.
    Push {
        /// The file source that backs it.
        batch_source: String,
    },
    /// Values that come with each request (`RequestSource`).
    Request {
        /// The request fields.
        schema: Vec<Field>,
    },
    /// A source of a kind edgefeat cannot read (a Feast registry's BigQuery, Snowflake,
    /// Kafka, … sources): its views are served from the online store like any other, but
    /// `edgefeat materialize` refuses them by name (`feast materialize` still can).
    Other {
        /// Feast's source type, as its enum names it (`BATCH_BIGQUERY`).
        source_type: String,
        /// The event-time column.
        #[serde(default)]
        timestamp_field: String,
        /// The column that breaks ties between rows of the same event time.
        #[serde(default)]
        created_timestamp_column: String,
    },
}

/// A data source (Feast's `DataSource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct DataSource {
    pub name: String,
    #[serde(flatten)]
    pub kind: SourceKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: String,
}

/// A feature view (Feast's `FeatureViewSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct FeatureView {
    pub name: String,
    /// Entity names, in declaration order.
    pub entities: Vec<String>,
    /// The join-key columns with their types, in the order of `entities`.
    pub entity_columns: Vec<Field>,
    pub features: Vec<Field>,
    /// Maximum age of a row in seconds; 0 means forever.
    pub ttl_seconds: u64,
    /// The file source rows are materialized from.
    pub batch_source: String,
    /// The push source that feeds it, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_source: Option<String>,
    pub online: bool,
    pub offline: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: String,
}

/// One source of an on-demand feature view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum OdfvSource {
    /// A feature view, by name.
    FeatureView(String),
    /// A request source, by name.
    RequestSource(String),
}

/// An on-demand feature view (Feast's `OnDemandFeatureViewSpec`), computed by a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OnDemandFeatureView {
    pub name: String,
    pub sources: Vec<OdfvSource>,
    /// The output schema.
    pub features: Vec<Field>,
    /// The WASM plugin that computes the outputs.
    pub plugin: String,
    pub write_to_online_store: bool,
    /// The Python function a Feast registry defines the view with, which edgefeat does not
    /// run: a WASM plugin of the view's name stands in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_udf: Option<PythonUdf>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: String,
}

/// An on-demand view's function as a Feast registry stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonUdf {
    /// The Python function's name.
    pub name: String,
    /// `pandas` or `python`: how Feast calls it.
    pub mode: String,
    /// Its source text, decorator included.
    pub body_text: String,
}

/// A projection of one view in a feature service (Feast's `FeatureViewProjection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    /// The view projected (a feature view or an on-demand feature view).
    pub feature_view_name: String,
    /// The name the features are served under, when renamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_view_name_alias: Option<String>,
    /// The selected features, in order (all of the view's when none were selected).
    pub feature_columns: Vec<String>,
    /// Join key → the request column that carries it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub join_key_map: BTreeMap<String, String>,
}

/// A feature service (Feast's `FeatureServiceSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct FeatureService {
    pub name: String,
    pub features: Vec<Projection>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: String,
}

/// The resource types a permission can cover (Feast's `Permission.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ResourceType {
    FeatureView,
    OnDemandFeatureView,
    BatchFeatureView,
    StreamFeatureView,
    Entity,
    FeatureService,
    DataSource,
    ValidationReference,
    SavedDataset,
    Permission,
    Project,
    LabelView,
}

impl ResourceType {
    /// Every type, in the protobuf enum's order (Feast's `ALL_RESOURCE_TYPES`).
    pub const ALL: [ResourceType; 12] = [
        ResourceType::FeatureView,
        ResourceType::OnDemandFeatureView,
        ResourceType::BatchFeatureView,
        ResourceType::StreamFeatureView,
        ResourceType::Entity,
        ResourceType::FeatureService,
        ResourceType::DataSource,
        ResourceType::ValidationReference,
        ResourceType::SavedDataset,
        ResourceType::Permission,
        ResourceType::Project,
        ResourceType::LabelView,
    ];

    /// Feast's class name for the type, which is how definitions name it.
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::FeatureView => "FeatureView",
            ResourceType::OnDemandFeatureView => "OnDemandFeatureView",
            ResourceType::BatchFeatureView => "BatchFeatureView",
            ResourceType::StreamFeatureView => "StreamFeatureView",
            ResourceType::Entity => "Entity",
            ResourceType::FeatureService => "FeatureService",
            ResourceType::DataSource => "DataSource",
            ResourceType::ValidationReference => "ValidationReference",
            ResourceType::SavedDataset => "SavedDataset",
            ResourceType::Permission => "Permission",
            ResourceType::Project => "Project",
            ResourceType::LabelView => "LabelView",
        }
    }
}

/// The actions a permission can grant (Feast's `AuthzedAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum Action {
    Create,
    Describe,
    Update,
    Delete,
    ReadOnline,
    ReadOffline,
    WriteOnline,
    WriteOffline,
}

impl Action {
    /// Every action (Feast's `ALL_ACTIONS`).
    pub const ALL: [Action; 8] = [
        Action::Create,
        Action::Describe,
        Action::Update,
        Action::Delete,
        Action::ReadOnline,
        Action::ReadOffline,
        Action::WriteOnline,
        Action::WriteOffline,
    ];

    /// The protobuf name, which is how definitions write it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Describe => "DESCRIBE",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
            Action::ReadOnline => "READ_ONLINE",
            Action::ReadOffline => "READ_OFFLINE",
            Action::WriteOnline => "WRITE_ONLINE",
            Action::WriteOffline => "WRITE_OFFLINE",
        }
    }
}

/// Who a permission grants to (Feast's `Policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Every authenticated user (an empty Feast policy).
    AllowAll,
    /// Users holding any of these roles.
    RoleBased {
        /// The roles.
        roles: Vec<String>,
    },
    /// Users in any of these groups.
    GroupBased {
        /// The groups.
        groups: Vec<String>,
    },
    /// Users in any of these namespaces.
    NamespaceBased {
        /// The namespaces.
        namespaces: Vec<String>,
    },
    /// Users in any of the groups and any of the namespaces.
    CombinedGroupNamespace {
        /// The groups.
        groups: Vec<String>,
        /// The namespaces.
        namespaces: Vec<String>,
    },
}

/// A permission (Feast's `PermissionSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Permission {
    pub name: String,
    pub types: Vec<ResourceType>,
    /// Regexes matched against resource names; none means every name.
    pub name_patterns: Vec<String>,
    pub required_tags: Tags,
    pub actions: Vec<Action>,
    pub policy: Policy,
    #[serde(default)]
    pub tags: Tags,
}

/// Everything the definitions declare, before it is stored: what `apply` compares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Definitions {
    pub project: Option<Project>,
    pub entities: BTreeMap<String, Entity>,
    pub data_sources: BTreeMap<String, DataSource>,
    pub feature_views: BTreeMap<String, FeatureView>,
    pub on_demand_feature_views: BTreeMap<String, OnDemandFeatureView>,
    pub feature_services: BTreeMap<String, FeatureService>,
    pub permissions: BTreeMap<String, Permission>,
}

/// The registry of one project, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Always [`super::FORMAT_NAME`]: tells our file from anything else at that path.
    pub format: String,
    /// The layout version of this file.
    pub format_version: u32,
    /// Incremented by every write; a server compares it to know it has a new registry.
    pub serial: u64,
    /// When it was last written.
    pub last_updated: DateTime<Utc>,
    /// The project.
    pub project: Stored<Project>,
    /// Entities by name.
    pub entities: BTreeMap<String, Stored<Entity>>,
    /// Data sources by name.
    pub data_sources: BTreeMap<String, Stored<DataSource>>,
    /// Feature views by name.
    pub feature_views: BTreeMap<String, Stored<FeatureView>>,
    /// On-demand feature views by name.
    pub on_demand_feature_views: BTreeMap<String, Stored<OnDemandFeatureView>>,
    /// Feature services by name.
    pub feature_services: BTreeMap<String, Stored<FeatureService>>,
    /// Permissions by name.
    pub permissions: BTreeMap<String, Stored<Permission>>,
    /// Names a Feast registry defines that edgefeat reads but does not serve (stream and
    /// label views, disabled views, views in a state Feast does not serve from), each with
    /// the message a request for it is refused with. Always empty in edgefeat's own registry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_served: BTreeMap<String, String>,
}

impl Registry {
    /// Whether this registry was read from a Feast `registry.db`, which `feast apply` owns.
    pub fn is_feast(&self) -> bool {
        self.format == super::feast::FEAST_FORMAT
    }

    /// An on-demand view whose values are written (`write_to_online_store: true`) is stored
    /// like a feature view: this is that view, keyed by the entities of its source views in
    /// source order, with its batch source taken from the first source view (for the
    /// timestamp column names of writes).
    pub fn stored_odfv_view(&self, odfv: &OnDemandFeatureView) -> FeatureView {
        let mut view = FeatureView {
            name: odfv.name.clone(),
            entities: Vec::new(),
            entity_columns: Vec::new(),
            features: odfv.features.clone(),
            ttl_seconds: 0,
            batch_source: String::new(),
            stream_source: None,
            online: true,
            offline: false,
            description: odfv.description.clone(),
            tags: odfv.tags.clone(),
            owner: odfv.owner.clone(),
        };
        for s in &odfv.sources {
            let OdfvSource::FeatureView(v) = s else {
                continue;
            };
            let Some(fv) = self.feature_views.get(v) else {
                continue;
            };
            if view.batch_source.is_empty() {
                view.batch_source = fv.spec.batch_source.clone();
            }
            for (e, c) in fv.spec.entities.iter().zip(&fv.spec.entity_columns) {
                if !view.entity_columns.iter().any(|k| k.name == c.name) {
                    view.entities.push(e.clone());
                    view.entity_columns.push(c.clone());
                }
            }
        }
        view
    }
}
