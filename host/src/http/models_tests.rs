use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::pycompat::json_scan::python_json_error;
use crate::pycompat::pydantic::{INT_FROM_FLOAT, INT_PARSING, INT_PARSING_SIZE, INT_TYPE};

/// The exact 422 body for a request, as text.
fn body_of<T: Model + std::fmt::Debug>(input: &[u8]) -> String {
    let details = parse_body::<T>(input).expect_err("should fail");
    String::from_utf8(ApiError::validation(&details).body).unwrap()
}

fn gof(input: &str) -> String {
    body_of::<GetOnlineFeaturesRequest>(input.as_bytes())
}

fn docs(input: &str) -> String {
    body_of::<GetOnlineDocumentsRequest>(input.as_bytes())
}

/// `(message, offset)` of the json_invalid detail for `input`.
fn json_error(input: &str) -> (String, Value) {
    let details = parse_body::<GetOnlineFeaturesRequest>(input.as_bytes()).unwrap_err();
    assert_eq!(details.len(), 1, "{input:?}");
    let d = &details[0];
    assert_eq!(
        (d.kind.as_str(), d.msg.as_str()),
        ("json_invalid", "JSON decode error")
    );
    assert_eq!(d.input, json!({}));
    assert_eq!(d.loc[0], json!("body"));
    let msg = d.ctx.as_ref().unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    (msg, d.loc[1].clone())
}

#[test]
fn missing_required_field() {
    assert_eq!(
        gof("{}"),
        r#"{"detail":[{"type":"missing","loc":["body","entities"],"msg":"Field required","input":{}}]}"#
    );
    // The input echoed is the whole body, with Python's float repr and raw UTF-8.
    assert_eq!(
        gof(r#"{"features": ["é"], "x": 1e-5}"#),
        r#"{"detail":[{"type":"missing","loc":["body","entities"],"msg":"Field required","input":{"features":["é"],"x":1e-05}}]}"#
    );
}

#[test]
fn body_that_is_not_an_object() {
    assert_eq!(
        gof("[1,2]"),
        r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1,2]}]}"#
    );
    assert_eq!(
        gof(r#""entities""#),
        r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"entities"}]}"#
    );
}

#[test]
fn empty_body_is_missing() {
    assert_eq!(
        gof(""),
        r#"{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#
    );
    // A JSON null is validated, and is not an object.
    let null = r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":null}]}"#;
    assert_eq!(gof("null"), null);
    assert_eq!(gof(" null\n"), null);
    // Even for a model whose fields all have defaults.
    assert_eq!(body_of::<MaterializeRequest>(b"null"), null);
    // Whitespace is a non-empty body: FastAPI hands it to json.loads, which fails.
    assert_eq!(
        gof("  "),
        r#"{"detail":[{"type":"json_invalid","loc":["body",2],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}"#
    );
}

#[test]
fn entity_values_must_be_lists() {
    assert_eq!(
        gof(r#"{"entities": {"driver_id": 1001}}"#),
        r#"{"detail":[{"type":"list_type","loc":["body","entities","driver_id"],"msg":"Input should be a valid list","input":1001}]}"#
    );
    assert_eq!(
        gof(r#"{"entities": [1]}"#),
        r#"{"detail":[{"type":"dict_type","loc":["body","entities"],"msg":"Input should be a valid dictionary","input":[1]}]}"#
    );
}

#[test]
fn list_elements_are_located_by_index() {
    assert_eq!(
        gof(r#"{"features": [1], "entities": {}}"#),
        r#"{"detail":[{"type":"string_type","loc":["body","features",0],"msg":"Input should be a valid string","input":1}]}"#
    );
    assert_eq!(
        gof(r#"{"features": ["a:b", null, 2.5], "entities": {}}"#),
        r#"{"detail":[{"type":"string_type","loc":["body","features",1],"msg":"Input should be a valid string","input":null},{"type":"string_type","loc":["body","features",2],"msg":"Input should be a valid string","input":2.5}]}"#
    );
}

#[test]
fn bool_parsing_and_type() {
    assert_eq!(
        gof(r#"{"entities":{}, "full_feature_names": "maybe"}"#),
        r#"{"detail":[{"type":"bool_parsing","loc":["body","full_feature_names"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}"#
    );
    assert_eq!(
        gof(r#"{"entities":{}, "full_feature_names": null}"#),
        r#"{"detail":[{"type":"bool_type","loc":["body","full_feature_names"],"msg":"Input should be a valid boolean","input":null}]}"#
    );
    let flag = |raw: &str| {
        let body = format!(r#"{{"entities":{{}}, "full_feature_names": {raw}}}"#);
        parse_body::<GetOnlineFeaturesRequest>(body.as_bytes())
            .map(|r| r.full_feature_names)
            .map_err(|d| d[0].kind.clone())
    };
    for (raw, want) in [
        ("true", Ok(true)),
        ("false", Ok(false)),
        ("1", Ok(true)),
        ("0", Ok(false)),
        ("1.0", Ok(true)),
        ("0.0", Ok(false)),
        (r#""YES""#, Ok(true)),
        (r#""On""#, Ok(true)),
        (r#""t""#, Ok(true)),
        (r#""1""#, Ok(true)),
        (r#""off""#, Ok(false)),
        (r#""N""#, Ok(false)),
        (r#""False""#, Ok(false)),
        ("2", Err("bool_parsing")),
        ("-1", Err("bool_parsing")),
        ("2.0", Err("bool_parsing")),
        (r#"" true""#, Err("bool_parsing")),
        (r#""""#, Err("bool_parsing")),
        ("0.5", Err("bool_type")),
        ("1e300", Err("bool_type")),
        ("18446744073709551615", Err("bool_type")),
        ("[]", Err("bool_type")),
        ("{}", Err("bool_type")),
    ] {
        assert_eq!(flag(raw), want.map_err(str::to_owned), "{raw}");
    }
}

#[test]
fn int_rules() {
    let top_k = |raw: &str| {
        let body = format!(r#"{{"top_k": {raw}}}"#);
        parse_body::<GetOnlineDocumentsRequest>(body.as_bytes())
            .map(|r| r.top_k)
            .map_err(|d| (d[0].kind.clone(), d[0].msg.clone()))
    };
    for (raw, want) in [
        ("5", Some(5)),
        ("-5", Some(-5)),
        ("5.0", Some(5)),
        ("1e3", Some(1000)),
        ("true", Some(1)),
        ("null", None),
        (r#""5""#, Some(5)),
        (r#"" 5 ""#, Some(5)),
        (r#""+5""#, Some(5)),
        (r#""-007""#, Some(-7)),
        (r#""5.000""#, Some(5)),
        (r#""1_000""#, Some(1000)),
        (r#""0""#, Some(0)),
        (r#""000""#, Some(0)),
        (r#""9223372036854775807""#, Some(i64::MAX)),
        // Valid Python ints beyond i64 are clamped.
        ("9223372036854775808", Some(i64::MAX)),
        ("18446744073709551615", Some(i64::MAX)),
        (r#""9223372036854775808""#, Some(i64::MAX)),
        (r#""-99999999999999999999""#, Some(i64::MIN)),
        (r#"" 1_000_000_000_000_000_000_000 ""#, Some(i64::MAX)),
    ] {
        assert_eq!(top_k(raw), Ok(want), "{raw}");
    }
    for (raw, kind, msg) in [
        ("5.5", "int_from_float", INT_FROM_FLOAT),
        ("1e30", "int_parsing_size", INT_PARSING_SIZE),
        (r#""x""#, "int_parsing", INT_PARSING),
        (r#""5.5""#, "int_parsing", INT_PARSING),
        (r#""1e3""#, "int_parsing", INT_PARSING),
        (r#""""#, "int_parsing", INT_PARSING),
        (r#""1__0""#, "int_parsing", INT_PARSING),
        (r#""+-1""#, "int_parsing", INT_PARSING),
        ("[]", "int_type", INT_TYPE),
        ("{}", "int_type", INT_TYPE),
    ] {
        assert_eq!(top_k(raw), Err((kind.to_owned(), msg.to_owned())), "{raw}");
    }
    let huge = format!(r#""{}""#, "9".repeat(4301));
    assert_eq!(
        top_k(&huge),
        Err(("int_parsing_size".to_owned(), INT_PARSING_SIZE.to_owned()))
    );
    assert_eq!(
        docs(r#"{"top_k": 1.5}"#),
        r#"{"detail":[{"type":"int_from_float","loc":["body","top_k"],"msg":"Input should be a valid integer, got a number with a fractional part","input":1.5}]}"#
    );
    assert_eq!(
        docs(r#"{"api_version": "two"}"#),
        r#"{"detail":[{"type":"int_parsing","loc":["body","api_version"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"two"}]}"#
    );
}

#[test]
fn float_rules() {
    let req: GetOnlineDocumentsRequest =
        parse_body(br#"{"query": [1, 2.5, "3.5", " 4 ", true, "1_0.5", "-inf"]}"#).unwrap();
    assert_eq!(
        req.query,
        Some(vec![1.0, 2.5, 3.5, 4.0, 1.0, 10.5, f64::NEG_INFINITY])
    );
    assert_eq!(
        docs(r#"{"query": ["x", null, [1]]}"#),
        concat!(
            r#"{"detail":[{"type":"float_parsing","loc":["body","query",0],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"},"#,
            r#"{"type":"float_type","loc":["body","query",1],"msg":"Input should be a valid number","input":null},"#,
            r#"{"type":"float_type","loc":["body","query",2],"msg":"Input should be a valid number","input":[1]}]}"#
        )
    );
    assert_eq!(
        docs(r#"{"query": "1,2"}"#),
        r#"{"detail":[{"type":"list_type","loc":["body","query"],"msg":"Input should be a valid list","input":"1,2"}]}"#
    );
}

#[test]
fn all_errors_in_declaration_order() {
    assert_eq!(
        gof(r#"{"full_feature_names": 2, "features": "x", "feature_service": 3}"#),
        concat!(
            r#"{"detail":[{"type":"missing","loc":["body","entities"],"msg":"Field required","input":{"full_feature_names":2,"features":"x","feature_service":3}},"#,
            r#"{"type":"string_type","loc":["body","feature_service"],"msg":"Input should be a valid string","input":3},"#,
            r#"{"type":"list_type","loc":["body","features"],"msg":"Input should be a valid list","input":"x"},"#,
            r#"{"type":"bool_parsing","loc":["body","full_feature_names"],"msg":"Input should be a valid boolean, unable to interpret input","input":2}]}"#
        )
    );
    assert_eq!(
        body_of::<PushRequest>(br#"{"to": 1}"#),
        concat!(
            r#"{"detail":[{"type":"missing","loc":["body","push_source_name"],"msg":"Field required","input":{"to":1}},"#,
            r#"{"type":"missing","loc":["body","df"],"msg":"Field required","input":{"to":1}},"#,
            r#"{"type":"string_type","loc":["body","to"],"msg":"Input should be a valid string","input":1}]}"#
        )
    );
}

#[test]
fn nullability() {
    // Optional fields take null; non-Optional ones report their own type error.
    let req: GetOnlineFeaturesRequest =
        parse_body(br#"{"entities": {}, "feature_service": null}"#).unwrap();
    assert_eq!(req.feature_service, None);
    assert_eq!(
        gof(r#"{"entities": null, "features": null}"#),
        concat!(
            r#"{"detail":[{"type":"dict_type","loc":["body","entities"],"msg":"Input should be a valid dictionary","input":null},"#,
            r#"{"type":"list_type","loc":["body","features"],"msg":"Input should be a valid list","input":null}]}"#
        )
    );
    assert_eq!(
        body_of::<PushRequest>(br#"{"push_source_name": null, "df": null}"#),
        concat!(
            r#"{"detail":[{"type":"string_type","loc":["body","push_source_name"],"msg":"Input should be a valid string","input":null},"#,
            r#"{"type":"dict_type","loc":["body","df"],"msg":"Input should be a valid dictionary","input":null}]}"#
        )
    );
    let req: GetOnlineDocumentsRequest = parse_body(br#"{"api_version": null}"#).unwrap();
    assert_eq!(req.api_version, 1);
}

#[test]
fn invalid_json_reports_pythons_message_and_offset() {
    assert_eq!(
        gof("{not json"),
        r#"{"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]}"#
    );
    // (document, message, offset) as CPython 3.12's json.loads reports them.
    let cases: &[(&str, &str, usize)] = &[
        ("{", "Expecting property name enclosed in double quotes", 1),
        ("{\"a\"", "Expecting ':' delimiter", 4),
        ("{\"a\" 1}", "Expecting ':' delimiter", 5),
        ("{\"a\":", "Expecting value", 5),
        ("{\"a\": }", "Expecting value", 6),
        ("{\"a\":1", "Expecting ',' delimiter", 6),
        ("{\"a\": 1 \"b\": 2}", "Expecting ',' delimiter", 8),
        (
            "{\"a\":1,}",
            "Expecting property name enclosed in double quotes",
            7,
        ),
        (
            "{'a': 1}",
            "Expecting property name enclosed in double quotes",
            1,
        ),
        ("[", "Expecting value", 1),
        ("[1, 2", "Expecting ',' delimiter", 5),
        ("[1,]", "Expecting value", 3),
        ("[1 2]", "Expecting ',' delimiter", 3),
        ("{}x", "Extra data", 2),
        ("{} {}", "Extra data", 3),
        ("01", "Extra data", 1),
        ("[01]", "Expecting ',' delimiter", 2),
        ("1.", "Extra data", 1),
        ("[1.e5]", "Expecting ',' delimiter", 2),
        ("[1e]", "Expecting ',' delimiter", 2),
        ("-", "Expecting value", 0),
        ("[-]", "Expecting value", 1),
        ("tru", "Expecting value", 0),
        ("[nul]", "Expecting value", 1),
        ("x", "Expecting value", 0),
        ("\"abc", "Unterminated string starting at", 0),
        ("{\"a\": \"x", "Unterminated string starting at", 6),
        ("{\"a\": \"x\\", "Unterminated string starting at", 6),
        ("[\"a\nb\"]", "Invalid control character at", 3),
        ("[\"\\x\"]", "Invalid \\escape", 2),
        ("[\"\\u12\"]", "Invalid \\uXXXX escape", 3),
        ("[\"\\u12zz\"]", "Invalid \\uXXXX escape", 3),
        ("[\"\\ud83d\\uzz00\"]", "Invalid \\uXXXX escape", 9),
        // json.loads drops one UTF-8 BOM from bytes; a second one is content.
        ("\u{feff}\u{feff}{}", "Expecting value", 0),
        (
            "\n\n  {",
            "Expecting property name enclosed in double quotes",
            5,
        ),
        // Offsets count characters, not bytes.
        ("{\"é\": x}", "Expecting value", 6),
        (
            "{\"😀\": 1,, }",
            "Expecting property name enclosed in double quotes",
            8,
        ),
    ];
    for &(doc, msg, pos) in cases {
        assert_eq!(json_error(doc), (msg.to_owned(), json!(pos)), "{doc:?}");
    }
}

#[test]
fn text_encodings_as_json_loads_detects_them() {
    let doc = r#"{"entities": {"é": [1]}}"#;
    let mut bom8 = b"\xef\xbb\xbf".to_vec();
    bom8.extend_from_slice(doc.as_bytes());
    let utf16le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut utf16_bom = vec![0xff, 0xfe];
    utf16_bom.extend_from_slice(&utf16le);
    let utf32le: Vec<u8> = doc
        .chars()
        .flat_map(|c| u32::from(c).to_le_bytes())
        .collect();
    let mut utf32_bom = vec![0, 0, 0xfe, 0xff];
    utf32_bom.extend(doc.chars().flat_map(|c| u32::from(c).to_be_bytes()));
    for body in [bom8, utf16le, utf16be, utf16_bom, utf32le, utf32_bom] {
        let req: GetOnlineFeaturesRequest = parse_body(&body).unwrap();
        assert_eq!(req.entities, vec![("é".to_owned(), vec![json!(1)])]);
    }
}

#[test]
fn undecodable_bodies_are_a_400() {
    let bad_request = r#"{"detail":"There was an error parsing the body"}"#;
    for body in [
        &b"{\"entities\": {\"\xff\": []}}"[..],
        b"[NaN]",
        b"{\"entities\": {\"x\": [Infinity]}}",
        b"[1e400]",
        b"[\"\\ud800\"]",
    ] {
        let e = parse_request::<GetOnlineFeaturesRequest>(body, usize::MAX).unwrap_err();
        assert_eq!(
            (e.status, e.body.as_slice()),
            (400, bad_request.as_bytes()),
            "{body:?}"
        );
        // parse_body still says something, as a json_invalid detail.
        let details = parse_body::<GetOnlineFeaturesRequest>(body).unwrap_err();
        assert_eq!(details[0].kind, "json_invalid");
    }
    let details = parse_body::<GetOnlineFeaturesRequest>(b"[1, NaN]").unwrap_err();
    assert_eq!(details[0].loc, vec![json!("body"), json!(4)]);
    assert_eq!(details[0].ctx, Some(json!({"error": "expected value"})));
}

#[test]
fn parse_request_wraps_the_422() {
    let e = parse_request::<GetOnlineFeaturesRequest>(b"{}", usize::MAX).unwrap_err();
    assert_eq!(e.status, 422);
    assert_eq!(
        e.body,
        br#"{"detail":[{"type":"missing","loc":["body","entities"],"msg":"Field required","input":{}}]}"#
    );
    let e = parse_request::<GetOnlineFeaturesRequest>(b"", usize::MAX).unwrap_err();
    assert_eq!(e.status, 422);
    let e = parse_request::<GetOnlineFeaturesRequest>(b"{x", usize::MAX).unwrap_err();
    assert_eq!(e.status, 422);
}

#[test]
fn a_body_whose_values_would_take_more_than_the_budget_is_refused_413_before_decoding() {
    // Two bodies of about the same size: one of plain ids, one whose ids are nested cells.
    let ids = vec!["1001"; 2_000].join(",");
    let flat = format!(r#"{{"features": ["v:f"], "entities": {{"driver_id": [{ids}]}}}}"#);
    let cells = vec!["[[[[[[[[1]]]]]]]]"; 550].join(",");
    let nested = format!(r#"{{"features": ["v:f"], "entities": {{"driver_id": [{cells}]}}}}"#);
    assert!(nested.len() <= flat.len());
    // The budget a body limit of twice their size gives (BodyLimits::decoded_budget).
    let budget = 16 * 2 * flat.len();
    parse_request::<GetOnlineFeaturesRequest>(flat.as_bytes(), budget).unwrap();
    let e = parse_request::<GetOnlineFeaturesRequest>(nested.as_bytes(), budget).unwrap_err();
    assert_eq!(e.status, 413);
    let body = String::from_utf8(e.body).unwrap();
    assert!(
        body.contains(&format!("would take more than {budget} bytes of memory")),
        "{body}"
    );
    // Without a budget it decodes (the core refuses nested ids later, for what they are).
    let e = parse_request::<GetOnlineFeaturesRequest>(nested.as_bytes(), usize::MAX);
    assert!(e.is_ok_and(|r| r.entities.len() == 1));
}

#[test]
fn entity_order_is_preserved_and_defaults_apply() {
    let req: GetOnlineFeaturesRequest =
        parse_body(br#"{"entities": {"b": [1], "a": [2, "x", null]}}"#).unwrap();
    assert_eq!(
        req,
        GetOnlineFeaturesRequest {
            entities: vec![
                ("b".into(), vec![json!(1)]),
                ("a".into(), vec![json!(2), json!("x"), Value::Null]),
            ],
            feature_service: None,
            features: vec![],
            full_feature_names: false,
            include_feature_view_version_metadata: false,
        }
    );
    // The borrowed path gives the same result as the moving one.
    let v = json!({"entities": {"b": [1], "a": [2, "x", null]}});
    assert_eq!(GetOnlineFeaturesRequest::from_json(&v).unwrap(), req);
}

#[test]
fn get_online_features_full_example() {
    let req: GetOnlineFeaturesRequest = parse_body(
        br#"{"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"],
                 "entities": {"driver_id": [1001, 1002]}, "feature_service": "svc",
                 "full_feature_names": true, "include_feature_view_version_metadata": "yes",
                 "unknown": {"ignored": true}}"#,
    )
    .unwrap();
    assert_eq!(
        req,
        GetOnlineFeaturesRequest {
            entities: vec![("driver_id".into(), vec![json!(1001), json!(1002)])],
            feature_service: Some("svc".into()),
            features: vec![
                "driver_hourly_stats:conv_rate".into(),
                "driver_hourly_stats:acc_rate".into()
            ],
            full_feature_names: true,
            include_feature_view_version_metadata: true,
        }
    );
}

#[test]
fn push_and_write_examples() {
    let body = br#"{"push_source_name": "driver_stats_push_source",
            "df": {"driver_id": [1001], "event_timestamp": ["2022-05-13 10:59:42"], "conv_rate": [1.0]}}"#;
    let req: PushRequest = parse_body(body).unwrap();
    assert_eq!(req.push_source_name, "driver_stats_push_source");
    assert_eq!(
        Value::Object(req.df.clone()),
        json!({"driver_id": [1001], "event_timestamp": ["2022-05-13 10:59:42"], "conv_rate": [1.0]})
    );
    assert_eq!(
        req.df.keys().collect::<Vec<_>>(),
        ["driver_id", "event_timestamp", "conv_rate"]
    );
    assert!(req.allow_registry_cache && req.transform_on_write);
    assert_eq!(req.to, "online");

    let req: PushRequest = parse_body(
        br#"{"push_source_name": "p", "df": {}, "allow_registry_cache": false, "to": "offline", "transform_on_write": 0}"#,
    )
    .unwrap();
    assert!(!req.allow_registry_cache && !req.transform_on_write);
    assert_eq!(req.to, "offline");

    let req: WriteToOnlineStoreRequest =
        parse_body(br#"{"feature_view_name": "v", "df": {"a": [1]}}"#).unwrap();
    assert_eq!(req.feature_view_name, "v");
    assert_eq!(Value::Object(req.df), json!({"a": [1]}));
    assert!(req.allow_registry_cache && req.transform_on_write);
    assert_eq!(
        body_of::<WriteToOnlineStoreRequest>(br#"{"feature_view_name": "v", "df": [1]}"#),
        r#"{"detail":[{"type":"dict_type","loc":["body","df"],"msg":"Input should be a valid dictionary","input":[1]}]}"#
    );
    // The moved-out df is put back for the error's echo of the whole input.
    assert_eq!(
        body_of::<WriteToOnlineStoreRequest>(br#"{"df": {"a": [1]}}"#),
        r#"{"detail":[{"type":"missing","loc":["body","feature_view_name"],"msg":"Field required","input":{"df":{"a":[1]}}}]}"#
    );
}

#[test]
fn materialize_examples() {
    let req: MaterializeRequest = parse_body(
        br#"{"start_ts": "2021-01-01T00:00:00", "end_ts": "2022-01-01T00:00:00",
                 "feature_views": ["driver_hourly_stats"], "disable_event_timestamp": true,
                 "full_feature_names": false, "version": "v2"}"#,
    )
    .unwrap();
    assert_eq!(
        req,
        MaterializeRequest {
            start_ts: Some("2021-01-01T00:00:00".into()),
            end_ts: Some("2022-01-01T00:00:00".into()),
            feature_views: Some(vec!["driver_hourly_stats".into()]),
            disable_event_timestamp: true,
            full_feature_names: false,
            version: Some("v2".into()),
        }
    );
    let req: MaterializeRequest = parse_body(b"{}").unwrap();
    assert_eq!(
        req,
        MaterializeRequest {
            start_ts: None,
            end_ts: None,
            feature_views: None,
            disable_event_timestamp: false,
            full_feature_names: false,
            version: None,
        }
    );

    let req: MaterializeIncrementalRequest =
        parse_body(br#"{"end_ts": "2022-01-01T00:00:00", "feature_views": null}"#).unwrap();
    assert_eq!(
        req,
        MaterializeIncrementalRequest {
            end_ts: "2022-01-01T00:00:00".into(),
            feature_views: None,
            full_feature_names: false,
            version: None,
        }
    );
    assert_eq!(
        body_of::<MaterializeIncrementalRequest>(br#"{"feature_views": ["a", 1]}"#),
        concat!(
            r#"{"detail":[{"type":"missing","loc":["body","end_ts"],"msg":"Field required","input":{"feature_views":["a",1]}},"#,
            r#"{"type":"string_type","loc":["body","feature_views",1],"msg":"Input should be a valid string","input":1}]}"#
        )
    );
}

#[test]
fn documents_example_with_filters() {
    let req: GetOnlineDocumentsRequest = parse_body(
        br#"{"features": ["docs:embedding"], "query": [0.1, 0.2], "top_k": 3,
                 "query_string": "hello", "distance_metric": "cosine", "api_version": 2,
                 "full_feature_names": true, "include_feature_view_version_metadata": true,
                 "filters": {"type": "and", "filters": [
                     {"type": "eq", "key": "lang", "value": "en"},
                     {"type": "or", "filters": [{"type": "in", "key": "n", "value": [1, 2]}]}]}}"#,
    )
    .unwrap();
    assert_eq!(
        req,
        GetOnlineDocumentsRequest {
            feature_service: None,
            features: vec!["docs:embedding".into()],
            full_feature_names: true,
            include_feature_view_version_metadata: true,
            top_k: Some(3),
            query: Some(vec![0.1, 0.2]),
            query_string: Some("hello".into()),
            distance_metric: Some("cosine".into()),
            api_version: 2,
            filters: Some(Filter::Compound {
                op: "and".into(),
                filters: vec![
                    Filter::Comparison {
                        op: "eq".into(),
                        key: "lang".into(),
                        value: json!("en"),
                    },
                    Filter::Compound {
                        op: "or".into(),
                        filters: vec![Filter::Comparison {
                            op: "in".into(),
                            key: "n".into(),
                            value: json!([1, 2]),
                        }],
                    },
                ],
            }),
        }
    );
    let req: GetOnlineDocumentsRequest = parse_body(b"{}").unwrap();
    assert_eq!((req.api_version, req.filters, req.top_k), (1, None, None));
    let req: GetOnlineDocumentsRequest =
        parse_body(br#"{"filters": {"type": "ne", "key": "k", "value": null}}"#).unwrap();
    assert_eq!(
        req.filters,
        Some(Filter::Comparison {
            op: "ne".into(),
            key: "k".into(),
            value: Value::Null,
        })
    );
}

#[test]
fn bad_filters_report_both_union_members() {
    assert_eq!(
        docs(r#"{"filters": {"type": "xx", "key": "k", "value": 1}}"#),
        concat!(
            r#"{"detail":[{"type":"literal_error","loc":["body","filters","ComparisonFilter","type"],"msg":"Input should be 'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in' or 'nin'","input":"xx","ctx":{"expected":"'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in' or 'nin'"}},"#,
            r#"{"type":"literal_error","loc":["body","filters","CompoundFilter","type"],"msg":"Input should be 'and' or 'or'","input":"xx","ctx":{"expected":"'and' or 'or'"}},"#,
            r#"{"type":"missing","loc":["body","filters","CompoundFilter","filters"],"msg":"Field required","input":{"type":"xx","key":"k","value":1}}]}"#
        )
    );
    assert_eq!(
        docs(r#"{"filters": "lang=en"}"#),
        concat!(
            r#"{"detail":[{"type":"model_attributes_type","loc":["body","filters","ComparisonFilter"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"lang=en"},"#,
            r#"{"type":"model_attributes_type","loc":["body","filters","CompoundFilter"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"lang=en"}]}"#
        )
    );
    // Nested: the inner union's members are labelled too, under the element index.
    let details = parse_body::<GetOnlineDocumentsRequest>(
        br#"{"filters": {"type": "and", "filters": [{"type": "eq", "value": 1}]}}"#,
    )
    .unwrap_err();
    let locs: Vec<Value> = details
        .iter()
        .map(|d| Value::Array(d.loc.clone()))
        .collect();
    assert_eq!(
        locs,
        vec![
            json!(["body", "filters", "ComparisonFilter", "type"]),
            json!(["body", "filters", "ComparisonFilter", "key"]),
            json!(["body", "filters", "ComparisonFilter", "value"]),
            json!([
                "body",
                "filters",
                "CompoundFilter",
                "filters",
                0,
                "ComparisonFilter",
                "key"
            ]),
            json!([
                "body",
                "filters",
                "CompoundFilter",
                "filters",
                0,
                "CompoundFilter",
                "type"
            ]),
            json!([
                "body",
                "filters",
                "CompoundFilter",
                "filters",
                0,
                "CompoundFilter",
                "filters"
            ]),
        ]
    );
}

#[test]
fn bool_query_params() {
    assert_eq!(parse_bool_param("async", None), Ok(false));
    assert_eq!(parse_bool_param("async", Some("true")), Ok(true));
    assert_eq!(parse_bool_param("force", Some("1")), Ok(true));
    assert_eq!(parse_bool_param("force", Some("No")), Ok(false));
    let details = parse_bool_param("async", Some("maybe")).unwrap_err();
    assert_eq!(
        ApiError::validation(&details).body,
        br#"{"detail":[{"type":"bool_parsing","loc":["query","async"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}"#
    );
    assert!(parse_bool_param("async", Some("")).is_err());
}

#[test]
fn detail_json_key_order() {
    let d = ValidationDetail {
        kind: "t".into(),
        loc: vec![json!("body"), json!(0)],
        msg: "m".into(),
        input: json!(null),
        ctx: Some(json!({"error": "e"})),
    };
    assert_eq!(
        serde_json::to_string(&d.to_json()).unwrap(),
        r#"{"type":"t","loc":["body",0],"msg":"m","input":null,"ctx":{"error":"e"}}"#
    );
}

fn parse_all(bytes: &[u8]) {
    fn one<T: Model>(bytes: &[u8]) {
        if let Err(details) = parse_body::<T>(bytes) {
            assert!(!details.is_empty());
            let body = ApiError::validation(&details).body;
            assert!(serde_json::from_slice::<Value>(&body).is_ok());
        }
        let _ = parse_request::<T>(bytes, usize::MAX);
    }
    one::<GetOnlineFeaturesRequest>(bytes);
    one::<PushRequest>(bytes);
    one::<WriteToOnlineStoreRequest>(bytes);
    one::<MaterializeRequest>(bytes);
    one::<MaterializeIncrementalRequest>(bytes);
    one::<GetOnlineDocumentsRequest>(bytes);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            "[a-z_]{0,6}",
            Just("type".to_owned()),
            Just("and".to_owned()),
            Just("eq".to_owned()),
            Just("yes".to_owned()),
            Just(" 12 ".to_owned()),
            any::<String>(),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("entities".to_owned()),
            Just("features".to_owned()),
            Just("filters".to_owned()),
            Just("type".to_owned()),
            Just("key".to_owned()),
            Just("value".to_owned()),
            Just("df".to_owned()),
            Just("query".to_owned()),
            Just("top_k".to_owned()),
            Just("end_ts".to_owned()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        parse_all(&bytes);
    }

    #[test]
    fn never_panics_on_json_values(v in arb_json()) {
        parse_all(&serde_json::to_vec(&v).unwrap());
        // A value serde_json produced always decodes, so any error is a validation one.
        if let Err(details) = parse_body::<GetOnlineDocumentsRequest>(&serde_json::to_vec(&v).unwrap()) {
            prop_assert!(details.iter().all(|d| d.kind != "json_invalid"));
        }
        let _ = GetOnlineFeaturesRequest::from_json(&v);
        let _ = GetOnlineDocumentsRequest::from_json(&v);
        let _ = PushRequest::from_value(v.clone());
        // Moving a field out never changes the outcome.
        prop_assert_eq!(GetOnlineFeaturesRequest::from_value(v.clone()), GetOnlineFeaturesRequest::from_json(&v));
        prop_assert_eq!(WriteToOnlineStoreRequest::from_value(v.clone()), WriteToOnlineStoreRequest::from_json(&v));
    }

    /// The Python scanner agrees with serde_json wherever serde_json accepts (the other
    /// way round they differ only on what Python alone accepts, e.g. NaN).
    #[test]
    fn python_scanner_accepts_what_serde_accepts(doc in r#"[\[\]{}",: 0-9a-fnrtul.eE+\\-]{0,24}"#) {
        let chars: Vec<char> = doc.chars().collect();
        let found = python_json_error(&chars);
        if serde_json::from_str::<Value>(&doc).is_ok() {
            prop_assert_eq!(found, None);
        }
        if let Some((_, pos)) = found {
            prop_assert!(pos <= chars.len());
        }
    }

    #[test]
    fn python_scanner_accepts_serialized_values(v in arb_json()) {
        let text = serde_json::to_string(&v).unwrap();
        let chars: Vec<char> = text.chars().collect();
        prop_assert_eq!(python_json_error(&chars), None);
    }
}
