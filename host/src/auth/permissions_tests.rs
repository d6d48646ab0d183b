use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::registry::{Action, Registry, ResourceType, Tags};

/// A registry holding only `permissions` (name → spec JSON).
fn registry(permissions: Value) -> Arc<Registry> {
    let meta = json!({"created_timestamp": "2026-01-01T00:00:00Z", "last_updated_timestamp": "2026-01-01T00:00:00Z"});
    let mut stored = serde_json::Map::new();
    for (name, spec) in permissions.as_object().unwrap() {
        let mut spec = spec.clone();
        spec["name"] = json!(name);
        for (k, v) in [
            ("types", json!([])),
            ("name_patterns", json!([])),
            ("required_tags", json!({})),
            ("policy", json!("allow_all")),
        ] {
            if spec.get(k).is_none() {
                spec[k] = v;
            }
        }
        stored.insert(name.clone(), json!({"spec": spec, "meta": meta}));
    }
    Arc::new(
        serde_json::from_value(json!({
            "format": "edgefeat-registry", "format_version": 1, "serial": 1,
            "last_updated": "2026-01-01T00:00:00Z",
            "project": {"spec": {"name": "p"}, "meta": meta},
            "entities": {}, "data_sources": {}, "feature_views": {},
            "on_demand_feature_views": {}, "feature_services": {},
            "permissions": stored,
        }))
        .unwrap(),
    )
}

fn user(roles: &[&str]) -> Principal {
    Principal::new(
        "ann".into(),
        roles.iter().map(|r| r.to_string()).collect(),
        vec!["g1".into()],
        vec![],
    )
}

fn fv<'a>(name: &'a str, tags: &'a Tags) -> Resource<'a> {
    Resource {
        kind: ResourceType::FeatureView,
        name,
        tags,
    }
}

fn message(d: Result<(), PermissionDenied>) -> String {
    d.unwrap_err().0.to_string()
}

const READ: &[Action] = &[Action::ReadOnline];

#[test]
fn a_role_grants_and_its_absence_is_explained_like_feast() {
    let a = Authorizer::new(registry(json!({
        "readers": {"types": ["FeatureView"], "actions": ["READ_ONLINE"], "policy": {"role_based": {"roles": ["reader"]}}},
    })));
    let tags = Tags::new();
    assert_eq!(
        a.check(&user(&["reader"]), &fv("stats", &tags), READ),
        Ok(())
    );
    assert_eq!(
        message(a.check(&user(&["writer"]), &fv("stats", &tags), READ)),
        "Permission error:\nPermission readers denied execution of ['READ_ONLINE'] to FeatureView:stats: Requires roles ['reader']"
    );
}

#[test]
fn no_matching_permission_is_denied_with_the_python_reprs() {
    let a = Authorizer::new(registry(json!({
        "readers": {"types": ["FeatureView"], "actions": ["READ_ONLINE"]},
    })));
    let tags = Tags::new();
    assert_eq!(
        message(a.check(
            &user(&[]),
            &fv("stats", &tags),
            &[Action::WriteOffline, Action::WriteOnline]
        )),
        "Permission error:\nNo permissions defined to manage [<AuthzedAction.WRITE_OFFLINE: 'write_offline'>, <AuthzedAction.WRITE_ONLINE: 'write_online'>] on <class 'feast.feature_view.FeatureView'>/stats."
    );
    let odfv = Resource {
        kind: ResourceType::OnDemandFeatureView,
        name: "t",
        tags: &tags,
    };
    assert_eq!(
        message(a.check(&user(&[]), &odfv, READ)),
        "Permission error:\nNo permissions defined to manage [<AuthzedAction.READ_ONLINE: 'read_online'>] on <class 'feast.on_demand_feature_view.OnDemandFeatureView'>/t."
    );
}

#[test]
fn all_requested_actions_must_be_in_one_permission() {
    let a = Authorizer::new(registry(json!({
        "online": {"actions": ["WRITE_ONLINE"]},
        "offline": {"actions": ["WRITE_OFFLINE"]},
    })));
    let tags = Tags::new();
    let both = [Action::WriteOffline, Action::WriteOnline];
    assert!(a.check(&user(&[]), &fv("v", &tags), &both).is_err());
    assert!(
        a.check(&user(&[]), &fv("v", &tags), &[Action::WriteOnline])
            .is_ok()
    );
}

#[test]
fn affirmative_decision_joins_every_refusal() {
    let a = Authorizer::new(registry(json!({
        "a-roles": {"actions": ["READ_ONLINE"], "policy": {"role_based": {"roles": ["r1", "r2"]}}},
        "b-groups": {"actions": ["READ_ONLINE"], "policy": {"group_based": {"groups": ["g9"]}}},
        "c-ns": {"actions": ["READ_ONLINE"], "policy": {"namespace_based": {"namespaces": ["n"]}}},
        "d-combined": {"actions": ["READ_ONLINE"], "policy": {"combined_group_namespace": {"groups": ["g9"], "namespaces": ["n"]}}},
    })));
    let tags = Tags::new();
    assert_eq!(
        message(a.check(&user(&[]), &fv("v", &tags), READ)),
        "Permission error:\nPermission a-roles denied execution of ['READ_ONLINE'] to FeatureView:v: Requires roles ['r1', 'r2'],Permission b-groups denied execution of ['READ_ONLINE'] to FeatureView:v: User is not added into the permitted groups,Permission c-ns denied execution of ['READ_ONLINE'] to FeatureView:v: User is not added into the permitted namespaces,Permission d-combined denied execution of ['READ_ONLINE'] to FeatureView:v: User must be in at least one of the permitted groups or namespaces"
    );
    // Any one grant is enough.
    assert!(a.check(&user(&["r2"]), &fv("v", &tags), READ).is_ok());
    let in_group = Principal::new("bob".into(), vec![], vec!["g9".into()], vec![]);
    assert!(a.check(&in_group, &fv("v", &tags), READ).is_ok());
}

#[test]
fn name_patterns_fullmatch() {
    let a = Authorizer::new(registry(json!({
        "driver-views": {"name_patterns": ["driver_.*", "rides|trips"], "actions": ["READ_ONLINE"]},
    })));
    let tags = Tags::new();
    for ok in ["driver_hourly_stats", "driver_", "rides", "trips"] {
        assert!(a.check(&user(&[]), &fv(ok, &tags), READ).is_ok(), "{ok}");
    }
    // `re.fullmatch`, not `re.search`: neither a prefix nor a suffix match is enough, also
    // across an alternation.
    for no in ["my_driver_stats", "ridesharing", "xtrips", "driver"] {
        assert!(a.check(&user(&[]), &fv(no, &tags), READ).is_err(), "{no}");
    }
}

#[test]
fn types_match_like_isinstance() {
    let a = Authorizer::new(registry(json!({
        "views": {"types": ["FeatureView"], "actions": ["READ_ONLINE"]},
        "all": {"types": [], "actions": ["DESCRIBE"]},
    })));
    let tags = Tags::new();
    for kind in [
        ResourceType::FeatureView,
        ResourceType::BatchFeatureView,
        ResourceType::StreamFeatureView,
    ] {
        let r = Resource {
            kind,
            name: "v",
            tags: &tags,
        };
        assert!(a.check(&user(&[]), &r, READ).is_ok(), "{kind:?}");
    }
    for kind in [
        ResourceType::OnDemandFeatureView,
        ResourceType::FeatureService,
    ] {
        let r = Resource {
            kind,
            name: "v",
            tags: &tags,
        };
        assert!(a.check(&user(&[]), &r, READ).is_err(), "{kind:?}");
        // Empty types: every type.
        assert!(
            a.check(&user(&[]), &r, &[Action::Describe]).is_ok(),
            "{kind:?}"
        );
    }
}

#[test]
fn required_tags_must_all_be_equal() {
    let a = Authorizer::new(registry(json!({
        "team": {"required_tags": {"team": "driver", "tier": "gold"}, "actions": ["READ_ONLINE"]},
    })));
    let tags = |pairs: &[(&str, &str)]| -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let both = tags(&[("team", "driver"), ("tier", "gold"), ("x", "y")]);
    assert!(a.check(&user(&[]), &fv("v", &both), READ).is_ok());
    // Distinct names: within one registry a name and type identify a resource (and its tags),
    // which is what decisions are cached by.
    for (name, partial) in [
        ("v1", tags(&[("team", "driver")])),
        ("v2", tags(&[("team", "driver"), ("tier", "silver")])),
        ("v3", Tags::new()),
    ] {
        assert!(
            a.check(&user(&[]), &fv(name, &partial), READ).is_err(),
            "{partial:?}"
        );
        assert_eq!(
            a.check(&user(&[]), &fv(name, &partial), READ),
            a.decide(&user(&[]), &fv(name, &partial), READ)
        );
    }
}

#[test]
fn without_permissions_any_named_user_is_allowed() {
    let a = Authorizer::new(registry(json!({})));
    let tags = Tags::new();
    assert!(a.check(&user(&[]), &fv("v", &tags), READ).is_ok());
    let anonymous = Principal::new(String::new(), vec![], vec![], vec![]);
    assert_eq!(
        message(a.check(&anonymous, &fv("v", &tags), READ)),
        "Permission error:\nNo permissions defined and no authenticated user context. Access denied."
    );
}

#[test]
fn cached_decisions_equal_fresh_ones() {
    let a = Authorizer::new(registry(json!({
        "readers": {"name_patterns": ["a.*"], "actions": ["READ_ONLINE"], "policy": {"role_based": {"roles": ["reader"]}}},
    })));
    let tags = Tags::new();
    let reader = user(&["reader"]);
    let other = user(&["other"]);
    for _ in 0..2 {
        for p in [&reader, &other] {
            for name in ["ab", "b"] {
                for actions in [READ, &[Action::WriteOnline][..]] {
                    let r = fv(name, &tags);
                    assert_eq!(a.check(p, &r, actions), a.decide(p, &r, actions));
                }
            }
        }
    }
    // The same name as another type is a different decision.
    let odfv = Resource {
        kind: ResourceType::OnDemandFeatureView,
        name: "ab",
        tags: &tags,
    };
    assert!(a.check(&reader, &fv("ab", &tags), READ).is_ok());
    assert_eq!(a.check(&reader, &odfv, READ), Ok(()));
}

#[test]
fn a_broken_pattern_matches_nothing() {
    let a = Authorizer::new(registry(json!({
        "broken": {"name_patterns": ["(["], "actions": ["READ_ONLINE"]},
    })));
    let tags = Tags::new();
    assert!(message(a.check(&user(&[]), &fv("x", &tags), READ)).contains("No permissions defined"));
}
