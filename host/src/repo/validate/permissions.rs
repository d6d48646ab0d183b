//! Validation of permissions: the policies on registry objects.

use super::*;

impl Validator<'_> {
    pub(super) fn permission(&mut self, p: &Decl<'_, PermissionDef>) -> Option<Permission> {
        let d = p.def;
        let mut ok = true;
        let mut types = Vec::new();
        for t in &d.types {
            if t.value == "ALL_RESOURCE_TYPES" {
                types.extend(ResourceType::ALL);
            } else if let Some(rt) = ResourceType::ALL.iter().find(|r| r.name() == t.value) {
                types.push(*rt);
            } else {
                let names: Vec<&str> = ResourceType::ALL.iter().map(|r| r.name()).collect();
                self.err(
                    p.file,
                    loc(t),
                    format!("unknown resource type `{}`", t.value),
                    format!("use ALL_RESOURCE_TYPES or one of: {}", names.join(", ")),
                );
                ok = false;
            }
        }
        let mut actions = Vec::new();
        for a in &d.actions {
            let group: &[Action] = match a.value.as_str() {
                "ALL_ACTIONS" => &Action::ALL,
                "READ" => &[Action::ReadOffline, Action::ReadOnline],
                "WRITE" => &[Action::WriteOffline, Action::WriteOnline],
                "CRUD" => &[
                    Action::Create,
                    Action::Describe,
                    Action::Update,
                    Action::Delete,
                ],
                other => match Action::ALL.iter().find(|x| x.name() == other) {
                    Some(x) => std::slice::from_ref(x),
                    None => {
                        let names: Vec<&str> = Action::ALL.iter().map(|x| x.name()).collect();
                        self.err(
                            p.file,
                            loc(a),
                            format!("unknown action `{other}`"),
                            format!(
                                "use ALL_ACTIONS, READ, WRITE, CRUD or one of: {}",
                                names.join(", ")
                            ),
                        );
                        ok = false;
                        &[]
                    }
                },
            };
            for x in group {
                if !actions.contains(x) {
                    actions.push(*x);
                }
            }
        }
        for pat in &d.name_patterns {
            if let Err(e) = regex::Regex::new(&pat.value) {
                let text = e.to_string();
                let last = text.lines().last().unwrap_or_default().trim();
                let first = last.strip_prefix("error: ").unwrap_or(last).to_string();
                self.err(
                    p.file,
                    loc(pat),
                    format!("name pattern `{}` is not a valid regular expression: {first}", pat.value),
                    "name_patterns are regular expressions matched against resource names, e.g. `driver_.*`",
                );
                ok = false;
            }
        }
        let policy = match d.policy.as_ref().map(|p| (&p.value, loc(p))) {
            None => Policy::AllowAll,
            Some((pol, at)) => match (&pol.roles, &pol.groups, &pol.namespaces) {
                (None, None, None) => Policy::AllowAll,
                (Some(roles), None, None) => Policy::RoleBased {
                    roles: roles.clone(),
                },
                (None, Some(groups), None) => Policy::GroupBased {
                    groups: groups.clone(),
                },
                (None, None, Some(namespaces)) => Policy::NamespaceBased {
                    namespaces: namespaces.clone(),
                },
                (None, Some(groups), Some(namespaces)) => Policy::CombinedGroupNamespace {
                    groups: groups.clone(),
                    namespaces: namespaces.clone(),
                },
                (Some(_), _, _) => {
                    self.err(
                        p.file,
                        at,
                        "a policy cannot combine `roles` with `groups` or `namespaces`",
                        "Feast policies are role based, group based, namespace based, or groups and namespaces combined: split it into two permissions",
                    );
                    ok = false;
                    Policy::AllowAll
                }
            },
        };
        ok.then(|| Permission {
            name: d.name.value.clone(),
            types,
            name_patterns: d.name_patterns.iter().map(|p| p.value.clone()).collect(),
            required_tags: d.required_tags.clone(),
            actions,
            policy,
            tags: d.tags.clone(),
        })
    }
}
