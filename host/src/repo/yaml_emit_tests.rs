use proptest::prelude::*;
use serde_json::json;

use super::*;

/// Reads YAML text as the repo does (serde-saphyr), into JSON values, so a type change (a
/// string read back as a bool or a number) is a difference.
fn read(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

/// Strings YAML is known to misread when written plain.
const TRICKY: &[&str] = &[
    "",
    " ",
    " leading",
    "trailing ",
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "N",
    "true",
    "False",
    "null",
    "Null",
    "~",
    "nan",
    ".nan",
    ".inf",
    "-.inf",
    "inf",
    "1",
    "-1",
    "0x1f",
    "0o17",
    "1e3",
    "1_000",
    "12:30",
    "2024-01-01",
    "a: b",
    "a:b",
    "key:",
    "a #comment",
    "#",
    "- item",
    "-",
    "? q",
    "[x]",
    "{x}",
    "a, b",
    "&anchor",
    "*alias",
    "!tag",
    "|",
    ">",
    "%YAML",
    "@",
    "`",
    "'single'",
    "\"double\"",
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "cr\rlf\r\n",
    "nul\0byte",
    "bell\u{7}",
    "del\u{7f}",
    "nel\u{85}",
    "c1\u{9b}",
    "ls\u{2028}ps\u{2029}",
    "bom\u{feff}",
    "nonchar\u{fffe}\u{ffff}",
    "ünïcödé",
    "日本語",
    "emoji 🦀",
    "---",
    "...",
    "<<",
    "=",
    "/abs/path",
    "rel/path.parquet",
    "_under",
];

#[test]
fn every_tricky_string_reads_back_as_itself_as_a_value_and_as_a_key() {
    for s in TRICKY {
        let doc = vec![
            ("v".to_string(), Yaml::str(*s)),
            ("list".to_string(), Yaml::strs([*s, "x"])),
            (
                "map".to_string(),
                Yaml::Map(vec![(s.to_string(), Yaml::str(*s))]),
            ),
        ];
        let text = to_yaml(&doc);
        let back = read(&text);
        assert_eq!(
            back,
            json!({"v": s, "list": [s, "x"], "map": {*s: s}}),
            "{s:?} was written as\n{text}"
        );
    }
}

#[test]
fn a_key_longer_than_yaml_allows_for_an_implicit_key_reads_back() {
    let long = "k".repeat(3000);
    let doc = vec![
        (
            "m".to_string(),
            Yaml::Map(vec![(long.clone(), Yaml::str("v"))]),
        ),
        (
            "s".to_string(),
            Yaml::Seq(vec![Yaml::Map(vec![
                (long.clone(), Yaml::strs(["a"; 40])),
                (
                    "n".to_string(),
                    Yaml::Map(vec![(long.clone(), Yaml::Int(1))]),
                ),
            ])]),
        ),
        (long.clone(), Yaml::Null),
    ];
    assert_eq!(
        read(&to_yaml(&doc)),
        json!({"m": {&long: "v"}, "s": [{&long: vec!["a"; 40], "n": {&long: 1}}], &long: null})
    );
}

#[test]
fn safe_strings_are_plain_and_the_rest_double_quoted() {
    assert_eq!(scalar_text("driver_hourly_stats"), "driver_hourly_stats");
    assert_eq!(
        scalar_text("data/driver_stats.parquet"),
        "data/driver_stats.parquet"
    );
    assert_eq!(scalar_text("/abs/x-1.parquet"), "/abs/x-1.parquet");
    assert_eq!(
        scalar_text("a project for drivers"),
        "a project for drivers"
    );
    assert_eq!(scalar_text("yes"), "\"yes\"");
    assert_eq!(scalar_text("ends "), "\"ends \"");
    assert_eq!(scalar_text("1001"), "\"1001\"");
    assert_eq!(scalar_text("Struct{a: Int64}"), "\"Struct{a: Int64}\"");
    assert_eq!(scalar_text("a\"b\\c\nd\u{85}"), "\"a\\\"b\\\\c\\nd\\x85\"");
}

#[test]
fn a_nested_document_is_written_in_block_style_and_reads_back() {
    let doc = vec![
        (
            "project".to_string(),
            Yaml::Map(vec![("name".into(), Yaml::str("demo"))]),
        ),
        (
            "views".to_string(),
            Yaml::Seq(vec![
                Yaml::Map(vec![
                    ("name".into(), Yaml::str("a")),
                    ("entities".into(), Yaml::strs(["driver"])),
                    (
                        "schema".into(),
                        Yaml::Seq(vec![Yaml::Map(vec![
                            ("name".into(), Yaml::str("f")),
                            ("dtype".into(), Yaml::str("Array(Int64)")),
                        ])]),
                    ),
                    ("tags".into(), Yaml::Map(vec![])),
                    ("ttl".into(), Yaml::UInt(86_400)),
                    ("online".into(), Yaml::Bool(true)),
                ]),
                Yaml::Map(vec![
                    ("name".into(), Yaml::str("b")),
                    ("none".into(), Yaml::Seq(vec![])),
                    (
                        "nested".into(),
                        Yaml::Seq(vec![Yaml::strs(["x"]), Yaml::Null]),
                    ),
                ]),
            ]),
        ),
        (
            "numbers".to_string(),
            Yaml::Seq(vec![Yaml::Int(-1), Yaml::Float(1.0), Yaml::Float(0.5)]),
        ),
    ];
    let text = to_yaml(&doc);
    assert_eq!(
        text,
        "\
project:
  name: demo

views:
  - name: a
    entities: [driver]
    schema:
      - name: f
        dtype: \"Array(Int64)\"
    tags: {}
    ttl: 86400
    online: true

  - name: b
    none: []
    nested:
      - [x]
      - null

numbers: [-1, 1.0, 0.5]
"
    );
    assert_eq!(
        read(&text),
        json!({
            "project": {"name": "demo"},
            "views": [
                {"name": "a", "entities": ["driver"], "schema": [{"name": "f", "dtype": "Array(Int64)"}],
                 "tags": {}, "ttl": 86400, "online": true},
                {"name": "b", "none": [], "nested": [["x"], null]}
            ],
            "numbers": [-1, 1.0, 0.5]
        })
    );
}

#[test]
fn verbatim_text_stays_plain_when_it_can_and_is_quoted_when_it_cannot() {
    let doc = vec![
        ("a".to_string(), Yaml::Verbatim("${TIMEOUT}".into())),
        ("b".to_string(), Yaml::Verbatim("$HOME/x".into())),
        ("c".to_string(), Yaml::Verbatim("x: ${Y}".into())),
        ("d".to_string(), Yaml::Verbatim("- ${Y}".into())),
    ];
    assert_eq!(
        to_yaml(&doc),
        "a: ${TIMEOUT}\n\nb: $HOME/x\n\nc: \"x: ${Y}\"\n\nd: \"- ${Y}\"\n"
    );
}

#[test]
fn json_values_convert_with_their_types() {
    let v = json!({"i": -3, "u": u64::MAX, "f": 2.5, "b": false, "n": null, "s": "7", "l": [1], "m": {"k": "v"}});
    let serde_json::Value::Object(map) = &v else {
        unreachable!()
    };
    let doc: Vec<(String, Yaml)> = map
        .iter()
        .map(|(k, v)| (k.clone(), Yaml::from_json(v)))
        .collect();
    assert_eq!(read(&to_yaml(&doc)), v);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_string_reads_back_as_itself(s in any::<String>(), k in any::<String>()) {
        let doc = vec![
            ("v".to_string(), Yaml::str(s.clone())),
            ("m".to_string(), Yaml::Map(vec![(k.clone(), Yaml::strs([s.clone()]))])),
        ];
        let text = to_yaml(&doc);
        prop_assert_eq!(read(&text), json!({"v": s, "m": {k: [s]}}), "{}", text);
    }

    #[test]
    fn strings_of_yaml_punctuation_read_back_as_themselves(s in "[ a-zA-Z0-9:#'\"\\-?,\\[\\]{}&*!|>%@`~.\\\\]{0,12}") {
        let doc = vec![("v".to_string(), Yaml::str(s.clone()))];
        let text = to_yaml(&doc);
        prop_assert_eq!(read(&text), json!({"v": s}), "{}", text);
    }
}
