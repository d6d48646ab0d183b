//! Feast's permission enforcement (`permissions/enforcer.py`, `matcher.py` and `policy.py`; see
//! docs/feast-compat.md#permission-enforcement): which permissions cover a resource
//! and an action, and whether any of them lets the principal in, with Feast's error messages.
//!
//! An [`Authorizer`] belongs to one registry version: its permissions are compiled once
//! (regexes anchored for `re.fullmatch`), and its decisions are cached per principal key
//! (roles, groups, namespaces, whether there is a user name), resource and actions. The
//! server builds a new one when the registry changes, so a cached decision never outlives the
//! permissions it was made from; a hit costs two hash lookups and no allocation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use regex::Regex;

use super::claims::Principal;
use crate::registry::{Action, Permission, Policy, Registry, ResourceType, Tags};
use crate::serving::coerce::python_str_list;

/// A registry object a request touches. Within one registry version its type and name
/// identify it (and so its tags), which is what decisions are cached by.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    /// Its type.
    pub kind: ResourceType,
    /// Its name.
    pub name: &'a str,
    /// Its tags (what `required_tags` compares against).
    pub tags: &'a Tags,
}

/// A denial: the `FeastPermissionError` message, starting with `Permission error:\n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PermissionDenied(pub Arc<str>);

/// Principals whose decisions are kept per authorizer, and decisions per principal; beyond
/// either the cache is cleared, so endless distinct claims cannot grow memory without bound.
const MAX_PRINCIPALS: usize = 1024;
const MAX_DECISIONS_PER_PRINCIPAL: usize = 4096;

type Decision = Result<(), PermissionDenied>;
/// Per resource name: (type, action mask, decision). Names are looked up by `&str`, and the
/// few (type, actions) pairs a name meets are scanned.
type Decisions = HashMap<Box<str>, Vec<(ResourceType, u8, Decision)>>;

/// The permissions of one registry version, with a decision cache.
pub struct Authorizer {
    registry: Arc<Registry>,
    permissions: Vec<Compiled>,
    cache: RwLock<HashMap<Arc<str>, Decisions>>,
}

struct Compiled {
    name: String,
    types: Vec<ResourceType>,
    /// `None`: a pattern that does not compile. Apply refuses those; a registry written by
    /// something else still must not make a permission match everything.
    patterns: Option<Vec<Regex>>,
    required_tags: Tags,
    actions: u8,
    policy: Policy,
}

fn mask(actions: &[Action]) -> u8 {
    actions.iter().fold(0, |m, a| {
        m | 1 << Action::ALL.iter().position(|x| x == a).unwrap_or(0)
    })
}

impl Compiled {
    fn new(p: &Permission) -> Compiled {
        let patterns = p
            .name_patterns
            .iter()
            // `re.fullmatch`: the whole name, whatever alternations the pattern holds.
            .map(|pat| Regex::new(&format!("^(?:{pat})$")))
            .collect::<Result<Vec<_>, _>>()
            .ok();
        if patterns.is_none() {
            tracing::warn!(
                "permission {} has a name pattern that is not a valid regular expression; it matches nothing",
                p.name
            );
        }
        Compiled {
            name: p.name.clone(),
            types: p.types.clone(),
            patterns,
            required_tags: p.required_tags.clone(),
            actions: mask(&p.actions),
            policy: p.policy.clone(),
        }
    }

    /// Feast's `match_resource` and `match_actions`, with `required_tags` meaning what Feast
    /// documents (every required tag equals the resource's) rather than what its code does
    /// (nothing).
    fn matches(&self, r: &Resource<'_>, actions: u8) -> bool {
        let type_ok = self.types.is_empty() || self.types.iter().any(|t| is_instance(r.kind, *t));
        let name_ok = match &self.patterns {
            None => false,
            Some(p) if p.is_empty() => true,
            Some(p) => p.iter().any(|re| re.is_match(r.name)),
        };
        let tags_ok = self
            .required_tags
            .iter()
            .all(|(k, v)| r.tags.get(k) == Some(v));
        type_ok && name_ok && tags_ok && actions & self.actions == actions
    }
}

/// Python's `isinstance(resource, t)`: batch and stream feature views are feature views.
fn is_instance(kind: ResourceType, t: ResourceType) -> bool {
    kind == t
        || (t == ResourceType::FeatureView
            && matches!(
                kind,
                ResourceType::BatchFeatureView | ResourceType::StreamFeatureView
            ))
}

/// Feast's `policy.validate_user`: granted, or the explanation of the refusal.
fn validate_user(policy: &Policy, p: &Principal) -> Result<(), String> {
    let any = |wanted: &[String], have: &[String]| wanted.iter().any(|w| have.contains(w));
    match policy {
        Policy::AllowAll => Ok(()),
        Policy::RoleBased { roles } if any(roles, &p.roles) => Ok(()),
        Policy::RoleBased { roles } => Err(format!(
            "Requires roles {}",
            python_str_list(&roles.iter().map(String::as_str).collect::<Vec<_>>())
        )),
        Policy::GroupBased { groups } if any(groups, &p.groups) => Ok(()),
        Policy::GroupBased { .. } => Err("User is not added into the permitted groups".into()),
        Policy::NamespaceBased { namespaces } if any(namespaces, &p.namespaces) => Ok(()),
        Policy::NamespaceBased { .. } => {
            Err("User is not added into the permitted namespaces".into())
        }
        Policy::CombinedGroupNamespace { groups, namespaces }
            if any(groups, &p.groups) || any(namespaces, &p.namespaces) =>
        {
            Ok(())
        }
        Policy::CombinedGroupNamespace { .. } => {
            Err("User must be in at least one of the permitted groups or namespaces".into())
        }
    }
}

/// The Python class of a resource type, as `type(resource)` prints in Feast's messages.
pub fn python_class(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::FeatureView => "feast.feature_view.FeatureView",
        ResourceType::OnDemandFeatureView => "feast.on_demand_feature_view.OnDemandFeatureView",
        ResourceType::BatchFeatureView => "feast.batch_feature_view.BatchFeatureView",
        ResourceType::StreamFeatureView => "feast.stream_feature_view.StreamFeatureView",
        ResourceType::Entity => "feast.entity.Entity",
        ResourceType::FeatureService => "feast.feature_service.FeatureService",
        ResourceType::DataSource => "feast.data_source.DataSource",
        ResourceType::ValidationReference => "feast.saved_dataset.ValidationReference",
        ResourceType::SavedDataset => "feast.saved_dataset.SavedDataset",
        ResourceType::Permission => "feast.permissions.permission.Permission",
        ResourceType::Project => "feast.project.Project",
        ResourceType::LabelView => "feast.labeling.label_view.LabelView",
    }
}

/// `repr(AuthzedAction.X)`: `<AuthzedAction.READ_ONLINE: 'read_online'>`.
fn action_repr(a: Action) -> String {
    format!(
        "<AuthzedAction.{}: '{}'>",
        a.name(),
        a.name().to_ascii_lowercase()
    )
}

impl Authorizer {
    /// The authorizer of `registry`'s permissions.
    pub fn new(registry: Arc<Registry>) -> Authorizer {
        let permissions = registry
            .permissions
            .values()
            .map(|p| Compiled::new(&p.spec))
            .collect();
        Authorizer {
            registry,
            permissions,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The registry version this authorizer was built from.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Whether `principal` may perform all of `actions` on `resource` (Feast's
    /// `assert_permissions`), from the cache when decided before.
    pub fn check(
        &self,
        principal: &Principal,
        resource: &Resource<'_>,
        actions: &[Action],
    ) -> Result<(), PermissionDenied> {
        let m = mask(actions);
        let key = principal.decision_key();
        if let Some(hit) = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .and_then(|d| d.get(resource.name))
            .and_then(|v| v.iter().find(|(k, a, _)| *k == resource.kind && *a == m))
        {
            return hit.2.clone();
        }
        let decision = self.decide(principal, resource, actions);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_PRINCIPALS && !cache.contains_key(key) {
            cache.clear();
        }
        let per_principal = cache.entry(key.clone()).or_default();
        if per_principal.len() >= MAX_DECISIONS_PER_PRINCIPAL {
            per_principal.clear();
        }
        per_principal
            .entry(resource.name.into())
            .or_default()
            .push((resource.kind, m, decision.clone()));
        decision
    }

    /// The decision, uncached: Feast's `enforce_policy` for one resource.
    pub fn decide(
        &self,
        principal: &Principal,
        resource: &Resource<'_>,
        actions: &[Action],
    ) -> Result<(), PermissionDenied> {
        let denied = |details: String| {
            Err(PermissionDenied(
                format!("Permission error:\n{details}").into(),
            ))
        };
        if self.permissions.is_empty() {
            if principal.user.is_empty() {
                return denied(
                    "No permissions defined and no authenticated user context. Access denied."
                        .into(),
                );
            }
            return Ok(());
        }
        let m = mask(actions);
        let mut explanations = Vec::new();
        let mut matched = false;
        for p in self.permissions.iter().filter(|p| p.matches(resource, m)) {
            matched = true;
            match validate_user(&p.policy, principal) {
                // Affirmative: one grant decides.
                Ok(()) => return Ok(()),
                Err(why) => {
                    let names: Vec<&str> = actions.iter().map(|a| a.name()).collect();
                    explanations.push(format!(
                        "Permission {} denied execution of {} to {}:{}: {why}",
                        p.name,
                        python_str_list(&names),
                        resource.kind.name(),
                        resource.name
                    ));
                }
            }
        }
        if matched {
            return denied(explanations.join(","));
        }
        let reprs: Vec<String> = actions.iter().map(|a| action_repr(*a)).collect();
        denied(format!(
            "No permissions defined to manage [{}] on <class '{}'>/{}.",
            reprs.join(", "),
            python_class(resource.kind),
            resource.name
        ))
    }
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
