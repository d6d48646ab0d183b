use serde_json::json;

use super::*;

fn body(e: &ApiError) -> &str {
    std::str::from_utf8(&e.body).unwrap()
}

/// Decodes a Feast envelope the way the SDK does: `response.json()`, then `json.loads`.
fn unwrap_envelope(e: &ApiError) -> Value {
    let inner: Value = serde_json::from_slice(&e.body).unwrap();
    serde_json::from_str(inner.as_str().unwrap()).unwrap()
}

#[test]
fn feast_envelope_golden() {
    let e = ApiError::feast(
        404,
        "FeatureViewNotFoundException",
        "Feature view driver_hourly_stats1 does not exist in project my_project",
    );
    assert_eq!(e.status, 404);
    assert_eq!(
        body(&e),
        r#""{\"module\": \"feast.errors\", \"class\": \"FeatureViewNotFoundException\", \"message\": \"Feature view driver_hourly_stats1 does not exist in project my_project\"}""#
    );
}

#[test]
fn feast_envelope_escapes_like_python() {
    // Python: json.dumps(json.dumps({...}), ensure_ascii=False, separators=(",", ":"))
    let e = ApiError::feast(403, "FeastPermissionError", "Permission error:\nno");
    assert_eq!(
        body(&e),
        r#""{\"module\": \"feast.errors\", \"class\": \"FeastPermissionError\", \"message\": \"Permission error:\\nno\"}""#
    );
    let e = ApiError::feast(500, "X", "a \"quoted\" back\\slash");
    assert_eq!(
        body(&e),
        r#""{\"module\": \"feast.errors\", \"class\": \"X\", \"message\": \"a \\\"quoted\\\" back\\\\slash\"}""#
    );
    let e = ApiError::feast(500, "X", "caf\u{e9} \u{1F600}\u{7f}\t");
    assert_eq!(
        body(&e),
        r#""{\"module\": \"feast.errors\", \"class\": \"X\", \"message\": \"caf\\u00e9 \\ud83d\\ude00\\u007f\\t\"}""#
    );
}

#[test]
fn feast_envelope_decodes_back_to_the_dict() {
    for message in [
        "plain",
        "line\nbreak",
        "quote \" and backslash \\",
        "caf\u{e9}",
        "emoji \u{1F600}",
        "ctl \u{1}\u{1f} del \u{7f} nbsp \u{a0} ls \u{2028}",
        "",
    ] {
        let e = ApiError::feast(404, "EntityNotFoundException", message);
        assert_eq!(
            unwrap_envelope(&e),
            json!({"module": "feast.errors", "class": "EntityNotFoundException", "message": message}),
            "{message:?}"
        );
        // The inner text is ASCII, so the outer encoding never needs raw UTF-8.
        assert!(e.body.is_ascii());
    }
}

#[test]
fn plain_is_a_json_string() {
    let e = ApiError::plain(500, "'Feature x not found in projection v'");
    assert_eq!(e.status, 500);
    assert_eq!(body(&e), r#""'Feature x not found in projection v'""#);
    // Starlette does not escape non-ASCII.
    assert_eq!(body(&ApiError::plain(500, "é\n\"")), "\"é\\n\\\"\"");
}

#[test]
fn detail_shape() {
    let e = ApiError::detail(404, "Not Found");
    assert_eq!((e.status, body(&e)), (404, r#"{"detail":"Not Found"}"#));
    let e = ApiError::detail(401, "Invalid or expired access token");
    assert_eq!(body(&e), r#"{"detail":"Invalid or expired access token"}"#);
}

#[test]
fn validation_shape() {
    let details = [ValidationDetail {
        kind: "missing".into(),
        loc: vec![json!("body"), json!("entities")],
        msg: "Field required".into(),
        input: json!({}),
        ctx: None,
    }];
    let e = ApiError::validation(&details);
    assert_eq!(e.status, 422);
    assert_eq!(
        body(&e),
        r#"{"detail":[{"type":"missing","loc":["body","entities"],"msg":"Field required","input":{}}]}"#
    );
    assert_eq!(body(&ApiError::validation(&[])), r#"{"detail":[]}"#);
}

#[test]
fn python_dumps_layout() {
    let v = json!({"b": [1, -2, true, null, {}], "a": {"x": []}, "s": "é"});
    assert_eq!(
        python_json_dumps(&v),
        r#"{"b": [1, -2, true, null, {}], "a": {"x": []}, "s": "\u00e9"}"#
    );
    assert_eq!(python_json_dumps(&json!(u64::MAX)), "18446744073709551615");
    assert_eq!(python_json_dumps(&json!(i64::MIN)), "-9223372036854775808");
}

#[test]
fn python_float_repr() {
    // Expected strings are Python's `json.dumps(float)`.
    let cases = [
        (1.0, "1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (100.0, "100.0"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (123456789.123, "123456789.123"),
        (2.5e300, "2.5e+300"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-3.25e-5, "-3.25e-05"),
    ];
    for (x, want) in cases {
        assert_eq!(python_json_dumps(&json!(x)), want, "{x:e}");
        assert_eq!(
            json_response_body(&json!([x])),
            format!("[{want}]").into_bytes()
        );
    }
    // A float that parses from an integral literal stays a float.
    let parsed: Value = serde_json::from_str("[1e2, 1.0, 3]").unwrap();
    assert_eq!(python_json_dumps(&parsed), "[100.0, 1.0, 3]");
}

#[test]
fn starlette_rendering_is_compact_and_raw() {
    let v = json!({"a": [1, 2.5, "é\u{1F600}\u{7f}"], "b": {"c": null}});
    assert_eq!(
        std::str::from_utf8(&json_response_body(&v)).unwrap(),
        "{\"a\":[1,2.5,\"é\u{1F600}\u{7f}\"],\"b\":{\"c\":null}}"
    );
}

#[test]
fn display_names_status_and_body() {
    assert_eq!(
        ApiError::detail(404, "Not Found").to_string(),
        r#"HTTP 404: {"detail":"Not Found"}"#
    );
}
