//! From an `Authorization` header to a token, and from verified claims to a [`Principal`],
//! exactly as Feast's REST token extractor and OIDC parser do
//! (`permissions/server/rest_token_extractor.py`, `permissions/auth/oidc_token_parser.py`;
//! see docs/feast-compat.md#token-parsing).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::oidc::AuthError;

/// An authenticated caller: what permission policies look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name (the first of `preferred_username`, `upn`, `azp`, `appid`, `sub`).
    pub user: String,
    /// Roles, in claim order, without duplicates.
    pub roles: Vec<String>,
    /// Groups (the `groups` claim).
    pub groups: Vec<String>,
    /// Namespaces (Kubernetes service accounts only; always empty for OIDC users).
    pub namespaces: Vec<String>,
    /// Everything a permission decision depends on, as one string: the key under which
    /// decisions are cached, so two users with the same roles and groups share them.
    key: Arc<str>,
}

impl Principal {
    /// A principal with these attributes.
    pub fn new(
        user: String,
        roles: Vec<String>,
        groups: Vec<String>,
        namespaces: Vec<String>,
    ) -> Principal {
        // JSON arrays cannot be confused with one another whatever the names contain, so the
        // key is injective. Only whether the user name is empty matters to a decision (the
        // no-permissions rule), not the name itself.
        let key = serde_json::json!([!user.is_empty(), roles, groups, namespaces]).to_string();
        Principal {
            user,
            roles,
            groups,
            namespaces,
            key: key.into(),
        }
    }

    /// The decision-cache key (see the field's doc).
    pub fn decision_key(&self) -> &Arc<str> {
        &self.key
    }
}

/// The token in an `Authorization` header value, as Feast reads it: the value must match
/// `(?i)Bearer .+` and split on whitespace into exactly the scheme and the token. `None` (no
/// header) and anything else are invalid, except `Bearer` with nothing after it, which is a
/// missing token.
pub fn bearer_token(value: Option<&[u8]>) -> Result<&str, AuthError> {
    let invalid = |why: &'static str| AuthError::Invalid(why.into());
    let value = value.ok_or_else(|| invalid("no Authorization header"))?;
    let value = std::str::from_utf8(value).map_err(|_| invalid("header is not UTF-8"))?;
    let scheme_ok = value
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer"));
    if scheme_ok && value[6..].trim().is_empty() {
        return Err(AuthError::Missing);
    }
    if !scheme_ok || !value[6..].starts_with(' ') {
        return Err(invalid("the scheme is not Bearer"));
    }
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(token), None) => Ok(token),
        _ => Err(invalid("the header is not `Bearer <token>`")),
    }
}

/// The claim at `path` when it is a list; its string items (Feast's `_extract_claim`: a
/// missing claim or one of another type is an empty list).
fn string_list<'a>(claims: &'a Map<String, Value>, path: &[&str]) -> Vec<&'a str> {
    let Some((last, parents)) = path.split_last() else {
        return Vec::new();
    };
    let mut node = claims;
    for key in parents {
        match node.get(*key) {
            Some(Value::Object(child)) => node = child,
            _ => return Vec::new(),
        }
    }
    match node.get(*last) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The principal of verified claims: user from the first string among `preferred_username`,
/// `upn`, `azp`, `appid`, `sub` (none is an invalid token); roles from
/// `resource_access.<client_id>.roles` then the top-level `roles`, then `roles_claim` (our
/// extension), order kept and duplicates dropped; groups from `groups`.
pub fn principal_from_claims(
    claims: &Map<String, Value>,
    client_id: Option<&str>,
    roles_claim: Option<&[String]>,
) -> Result<Principal, AuthError> {
    let user = ["preferred_username", "upn", "azp", "appid", "sub"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
        .ok_or_else(|| AuthError::Invalid("the token names no user".into()))?;
    let mut roles: Vec<String> = Vec::new();
    let mut add = |items: Vec<&str>| {
        for r in items {
            if !roles.iter().any(|have| have == r) {
                roles.push(r.to_string());
            }
        }
    };
    if let Some(client) = client_id {
        add(string_list(claims, &["resource_access", client, "roles"]));
    }
    add(string_list(claims, &["roles"]));
    if let Some(path) = roles_claim {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        add(string_list(claims, &path));
    }
    let groups = string_list(claims, &["groups"])
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok(Principal::new(user.to_string(), roles, groups, Vec::new()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn bearer_header_like_feast() {
        assert_eq!(bearer_token(Some(b"Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(Some(b"bEaReR t")), Ok("t"));
        assert_eq!(bearer_token(Some(b"Bearer   t  ")), Ok("t"));
        for bad in [
            &b"Basic dXNlcjpwYXNz"[..],
            b"Bearertoken",
            b"Bearer a b",
            b"Token t",
            b"",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(bearer_token(Some(bad)), Err(AuthError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(bearer_token(None), Err(AuthError::Invalid(_))));
        assert_eq!(bearer_token(Some(b"Bearer")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some(b"Bearer ")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some(b"bearer   ")), Err(AuthError::Missing));
    }

    #[test]
    fn user_is_the_first_string_claim() {
        let p = principal_from_claims(
            &claims(json!({"sub": "s-1", "azp": "app", "upn": null, "preferred_username": 7})),
            None,
            None,
        )
        .unwrap();
        assert_eq!(p.user, "app");
        let p = principal_from_claims(&claims(json!({"sub": "s-1"})), None, None).unwrap();
        assert_eq!(p.user, "s-1");
        assert!(principal_from_claims(&claims(json!({"roles": ["r"]})), None, None).is_err());
    }

    #[test]
    fn roles_merge_client_roles_top_level_and_the_extra_path() {
        let c = claims(json!({
            "preferred_username": "ann",
            "resource_access": {"edge": {"roles": ["reader", "writer"]}, "other": {"roles": ["x"]}},
            "roles": ["writer", "admin", 5],
            "realm_access": {"roles": ["reader", "realm-role"]},
            "groups": ["g1", "g2"],
        }));
        let realm = vec!["realm_access".to_string(), "roles".to_string()];
        let p = principal_from_claims(&c, Some("edge"), Some(&realm)).unwrap();
        assert_eq!(p.roles, ["reader", "writer", "admin", "realm-role"]);
        assert_eq!(p.groups, ["g1", "g2"]);
        // Without client_id only the top-level roles count (Feast).
        let p = principal_from_claims(&c, None, None).unwrap();
        assert_eq!(p.roles, ["writer", "admin"]);
        // Claims of the wrong shape are empty lists, not errors.
        let c = claims(
            json!({"sub": "s", "resource_access": {"edge": {"roles": "reader"}}, "groups": "g"}),
        );
        let p = principal_from_claims(&c, Some("edge"), Some(&realm)).unwrap();
        assert!(p.roles.is_empty() && p.groups.is_empty());
    }

    #[test]
    fn the_decision_key_depends_on_what_decides_only() {
        let a = Principal::new("ann".into(), vec!["r".into()], vec![], vec![]);
        let b = Principal::new("bob".into(), vec!["r".into()], vec![], vec![]);
        let c = Principal::new("bob".into(), vec![], vec!["r".into()], vec![]);
        let d = Principal::new(String::new(), vec!["r".into()], vec![], vec![]);
        assert_eq!(a.decision_key(), b.decision_key());
        assert_ne!(b.decision_key(), c.decision_key());
        assert_ne!(a.decision_key(), d.decision_key());
    }
}
