use proptest::prelude::*;
use serde_json::Value;

use super::decoded_cost;

fn cost(text: &str) -> usize {
    decoded_cost(text, usize::MAX).expect("no budget to pass")
}

/// `n` copies of `item` in a JSON array.
fn repeated(item: &str, n: usize) -> String {
    format!("[{}]", vec![item; n].join(","))
}

/// The heap a decoded tree holds at least, from what it exposes: every value's 72-byte slot
/// (with the spare capacity of the `Vec` it sits in), an object entry's hash and key beyond
/// that, and every string's capacity. The allocator's headers and the maps' hash tables come
/// on top, so the estimate must be above this.
fn held_at_least(v: &Value) -> usize {
    let slot = std::mem::size_of::<Value>();
    slot + held_below(v)
}

fn held_below(v: &Value) -> usize {
    let slot = std::mem::size_of::<Value>();
    match v {
        Value::Array(items) => {
            (items.capacity() - items.len()) * slot + items.iter().map(held_at_least).sum::<usize>()
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| 8 + std::mem::size_of::<String>() + k.capacity() + held_at_least(v))
            .sum(),
        Value::String(s) => s.capacity(),
        _ => 0,
    }
}

#[test]
fn a_value_is_as_large_as_the_weights_assume() {
    // The weights are sized for serde_json with preserve_order on 64-bit targets.
    assert_eq!(std::mem::size_of::<Value>(), 72);
}

#[test]
fn each_shape_is_estimated_above_what_it_holds_and_within_a_small_factor() {
    // (item, the measured heap per text byte: see the module's table)
    let shapes = [
        ("0.123456", 15.7),
        ("1001", 28.3),
        ("\"abc\"", 27.1),
        ("[1,2,3]", 49.8),
        ("{\"k\":1}", 63.8),
        ("[1]", 99.6),
        (&format!("{}{}", "[".repeat(120), "]".repeat(120)), 150.4),
    ];
    for (item, measured) in shapes {
        let text = repeated(item, 20_000);
        let per_byte = cost(&text) as f64 / text.len() as f64;
        assert!(
            per_byte >= measured && per_byte <= measured * 2.0,
            "{item}: estimated {per_byte:.1}× the text, measured {measured}×"
        );
        let tree: Value = serde_json::from_str(&text).unwrap();
        assert!(cost(&text) >= held_at_least(&tree), "{item}");
    }
}

#[test]
fn brackets_commas_and_escaped_quotes_inside_strings_are_text() {
    let plain = cost(r#"["abcdefghi"]"#);
    assert_eq!(cost(r#"["[{,}]\"[,"]"#), plain);
    assert_eq!(cost(r#"["\\\\\\\\a"]"#), plain);
}

#[test]
fn empty_containers_cost_only_their_slot() {
    assert_eq!(cost("[]"), cost("1"));
    assert_eq!(cost("{}"), cost("1"));
    assert_eq!(cost("[ ]"), cost("[]"));
    assert!(cost("[[]]") > cost("[]"));
}

#[test]
fn whitespace_costs_nothing() {
    let v: Value =
        serde_json::from_str(r#"{"a": [1, 2, {"b": "c"}], "d": [[], {}], "e": null}"#).unwrap();
    let compact = serde_json::to_string(&v).unwrap();
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    assert_eq!(cost(&compact), cost(&pretty));
}

#[test]
fn the_scan_stops_once_over_the_budget() {
    let text = repeated("[[[[1]]]]", 100_000);
    let budget = 1 << 20;
    let stopped = decoded_cost(&text, budget).unwrap_err();
    assert!(stopped > budget);
    // It stopped near the budget, not at the end of the text.
    assert!(stopped < budget + 1024, "{stopped}");
    assert!(cost(&text) > 10 * budget);
}

#[test]
fn a_text_nested_past_what_the_decoder_accepts_is_left_to_the_decoder() {
    let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(decoded_cost(&text, usize::MAX).is_ok());
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[test]
fn unterminated_text_gets_an_estimate_and_no_panic() {
    for text in ["\"abc", "[\"a\\", "[[[", "{\"k\":", "]]]", "\\"] {
        decoded_cost(text, usize::MAX).unwrap();
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((".{0,6}", inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn every_document_is_estimated_above_what_its_tree_holds(v in arb_json()) {
        let text = serde_json::to_string(&v).unwrap();
        let decoded: Value = serde_json::from_str(&text).unwrap();
        prop_assert!(cost(&text) >= held_at_least(&decoded));
    }

    #[test]
    fn a_budget_refuses_exactly_the_texts_estimated_above_it(v in arb_json(), budget in 0usize..20_000) {
        let text = serde_json::to_string(&v).unwrap();
        let full = cost(&text);
        match decoded_cost(&text, budget) {
            Ok(c) => prop_assert!(c == full && c <= budget),
            Err(c) => prop_assert!(full > budget && c > budget && c <= full),
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,64}") {
        let _ = decoded_cost(&text, usize::MAX);
    }
}
