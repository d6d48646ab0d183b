//! Structure-aware mutations of a valid JSON body: a node of the parsed body is picked and
//! changed (wrong type, interesting number, long or odd string, deep nesting, a removed, added,
//! renamed or duplicated key, a column made longer or shorter), then the serialized bytes may be
//! damaged too (truncated, invalid UTF-8, a flipped byte).
//!
//! Some of what a hostile client sends is not a `serde_json::Value` at all: numbers past f64,
//! `NaN`, lone surrogate escapes, duplicate keys, nesting deeper than the parser's own limit.
//! Those go in as marker strings that are replaced by raw text after serialization.
//!
//! What a mutation may never do is name a demo driver, or another request's private driver, in
//! a write (the snapshot would change for a legitimate reason, or a refused request would seem
//! to have written): no interesting number is near the demo's ids or the private ones, a number
//! is only moved by one or negated, a column only grows by copies of its own cells, and a
//! flipped bit never lands in a digit.

use serde_json::{Map, Value};

use super::rng::Rng;
use super::seeds::NAMES;

/// A body being mutated, with the raw text its markers stand for.
pub struct Body {
    pub value: Value,
    raw: Vec<String>,
}

impl Body {
    pub fn new(value: Value) -> Body {
        Body {
            value,
            raw: Vec::new(),
        }
    }

    /// A placeholder that serializes as `"\u0001<n>\u0001"` and becomes `text` in the bytes.
    fn marker(&mut self, text: String) -> Value {
        self.raw.push(text);
        Value::String(format!("\u{1}{}\u{1}", self.raw.len() - 1))
    }

    /// The length of `value` serialized, with the raw text of the markers it holds: what it
    /// adds to the bytes sent.
    fn expanded_len(&self, value: &Value) -> usize {
        let text = value.to_string();
        let markers: usize = self
            .raw
            .iter()
            .enumerate()
            .filter(|(i, _)| text.contains(&format!("\"\\u0001{i}\\u0001\"")))
            .map(|(_, raw)| raw.len())
            .sum();
        text.len() + markers
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = self.value.to_string();
        // Last first: a marker's raw text may hold earlier markers (a nested mutation).
        for (i, raw) in self.raw.iter().enumerate().rev() {
            text = text.replace(&format!("\"\\u0001{i}\\u0001\""), raw);
        }
        text.into_bytes()
    }
}

/// Numbers chosen for the edges of i64, f32, f64 and JSON's grammar. None is within a few
/// of the demo's drivers (1001..1005) or of the private ids (5e9 and up, to 2^33).
const NUMBERS: [&str; 30] = [
    "0",
    "-0",
    "1",
    "-1",
    "0.0",
    "-0.0",
    "1.5",
    "2147483647",
    "2147483648",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "3.4028235e38",
    "3.5e38",
    "1e39",
    "-1e39",
    "1e308",
    "1e309",
    "-1e309",
    "5e-324",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "01",
    "1e",
];

/// Strings a parser of names, timestamps and JSON-in-strings must survive.
const STRINGS: [&str; 24] = [
    "",
    " ",
    ":",
    "::",
    "a:b:c",
    "driver_hourly_stats:",
    ":conv_rate",
    "nope:conv_rate",
    "yesterday",
    "2026-13-45 25:61:61",
    "0000-00-00T00:00:00",
    "-001-01-01T00:00:00Z",
    "99999-01-01T00:00:00",
    "2026-01-01T00:00:00.123456789123Z",
    "2026-01-01T00:00:00+99:00",
    "1700000000",
    "not json {",
    "{\"a\":",
    "[[[[[[[[]]]]]]]]",
    "\u{0}",
    "\u{feff}",
    "\u{202e}evil",
    "%s%n%x",
    "'; DROP TABLE x; --",
];

/// Raw string literals that no `String` holds: lone surrogates and bad escapes.
const RAW_STRINGS: [&str; 6] = [
    "\"\\ud800\"",
    "\"\\udfff\\ud800\"",
    "\"\\u00\"",
    "\"\\x41\"",
    "\"\\\"",
    "\"a\nb\"",
];

/// How large a mutation may make a column: past the server's 16 MiB body limit, so that
/// oversized bodies are still sent, and no more.
const BODY_BUDGET: usize = 20 << 20;

/// Depths around the limits that matter: 64 (the store's), 128 (serde_json's), far past them.
const DEPTHS: [usize; 9] = [8, 63, 64, 65, 127, 128, 129, 1000, 100_000];

/// A path to a node: object keys and array indices.
enum Step {
    Key(String),
    Index(usize),
}

fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.iter().map(Step::clone_step).collect());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(Step::Key(k.clone()));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            // Columns can be long: a few cells stand for all of them.
            for (i, v) in items.iter().enumerate().take(4) {
                prefix.push(Step::Index(i));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

impl Step {
    fn clone_step(&self) -> Step {
        match self {
            Step::Key(k) => Step::Key(k.clone()),
            Step::Index(i) => Step::Index(*i),
        }
    }
}

fn node_mut<'a>(mut value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    for step in path {
        value = match (step, value) {
            (Step::Key(k), Value::Object(map)) => map.get_mut(k).expect("the path exists"),
            (Step::Index(i), Value::Array(items)) => &mut items[*i],
            _ => unreachable!("paths are taken from the same value"),
        };
    }
    value
}

/// Applies one structural mutation to a node of `body`.
pub fn mutate_value(body: &mut Body, rng: &mut Rng) {
    let mut all = Vec::new();
    paths(&body.value, &mut Vec::new(), &mut all);
    let path = all.swap_remove(rng.below(all.len()));
    let node = node_mut(&mut body.value, &path).take();
    let replaced = mutate_node(body, node, rng);
    *node_mut(&mut body.value, &path) = replaced;
}

fn mutate_node(body: &mut Body, node: Value, rng: &mut Rng) -> Value {
    match rng.below(11) {
        0 => wrong_type(rng),
        1 => body.marker(rng.pick(&NUMBERS).to_string()),
        2 => Value::String(long_string(rng)),
        3 => {
            let depth = rng.pick(&DEPTHS);
            let (open, close) = if rng.chance(50) {
                ("[", "]")
            } else {
                ("{\"a\":", "}")
            };
            let inner = node.to_string();
            body.marker(format!(
                "{}{inner}{}",
                open.repeat(depth),
                close.repeat(depth)
            ))
        }
        4 => match rng.below(3) {
            0 => Value::String(rng.pick(&STRINGS).to_string()),
            1 => Value::String(rng.pick(&NAMES).to_string()),
            _ => body.marker(rng.pick(&RAW_STRINGS).to_string()),
        },
        5 => tweak_scalar(node, rng),
        6 | 7 => reshape(body, node, rng),
        8 => Value::Null,
        9 => match node {
            // A cell replaced by null, the rest kept: a column with holes.
            Value::Array(mut items) if !items.is_empty() => {
                let i = rng.below(items.len());
                items[i] = Value::Null;
                Value::Array(items)
            }
            other => Value::Array(vec![other]),
        },
        _ => node,
    }
}

fn wrong_type(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => Value::from(0),
        3 => Value::String("x".into()),
        4 => Value::Array(vec![]),
        5 => Value::Object(Map::new()),
        6 => Value::Array(vec![Value::Null]),
        _ => serde_json::json!({"a": [1, "b", null]}),
    }
}

fn long_string(rng: &mut Rng) -> String {
    let len = rng.pick(&[100usize, 4096, 65_536, 1 << 20]);
    let unit = rng.pick(&["a", "é", "😀", "\u{0}", "\\", "\"", ":", "\u{7f}"]);
    unit.repeat(len / unit.len().max(1))
}

/// A small change to a scalar: a number moved by one, negated or turned into text; a string
/// cut, extended or recased.
fn tweak_scalar(node: Value, rng: &mut Rng) -> Value {
    match node {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                match rng.below(4) {
                    0 => Value::from(i.wrapping_add(1)),
                    1 => Value::from(i.wrapping_sub(1)),
                    2 => Value::from(i.wrapping_neg()),
                    _ => Value::String(i.to_string()),
                }
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                match rng.below(3) {
                    0 => Value::from(-f),
                    1 => Value::String(f.to_string()),
                    _ => Value::from(f as i64),
                }
            }
        }
        Value::String(s) => {
            let mut chars: Vec<char> = s.chars().collect();
            match rng.below(4) {
                0 => {
                    chars.truncate(rng.below(chars.len() + 1));
                    Value::String(chars.into_iter().collect())
                }
                1 => Value::String(format!("{s}{}", rng.pick(&["x", ":", " ", "Z", "\u{0}"]))),
                2 => Value::String(s.to_uppercase()),
                _ => Value::String(format!(" {s} ")),
            }
        }
        Value::Bool(b) => Value::String(b.to_string()),
        other => other,
    }
}

/// A change to an object's keys or an array's length.
fn reshape(body: &mut Body, node: Value, rng: &mut Rng) -> Value {
    match node {
        Value::Object(mut map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = keys[rng.below(keys.len())].clone();
            match rng.below(5) {
                0 => {
                    map.shift_remove(&key);
                }
                1 => {
                    // Renamed: recased, or another name the demo uses.
                    let value = map.shift_remove(&key).unwrap_or(Value::Null);
                    let name = if rng.chance(50) {
                        key.to_uppercase()
                    } else {
                        rng.pick(&NAMES).to_string()
                    };
                    map.insert(name, value);
                }
                2 => {
                    // Duplicated with another value: which one wins is the parser's choice.
                    let copy = map.get(&key).cloned().unwrap_or(Value::Null);
                    let other = mutate_node(body, copy, rng);
                    let dup = body.marker(serde_json::to_string(&key).unwrap_or_default());
                    let Value::String(dup_key) = dup else {
                        unreachable!("a marker is a string")
                    };
                    map.insert(dup_key, other);
                }
                3 => {
                    map.insert(rng.pick(&NAMES).to_string(), wrong_type(rng));
                }
                _ => {
                    map.insert(long_string(rng), Value::Null);
                }
            }
            Value::Object(map)
        }
        Value::Array(mut items) if !items.is_empty() => {
            match rng.below(4) {
                0 => {
                    items.pop();
                }
                1 => {
                    // One cell more: a column longer than the others.
                    let i = rng.below(items.len());
                    items.push(items[i].clone());
                }
                2 => items.clear(),
                _ => {
                    // Many copies of the column's own cells: the row caps, and whether a
                    // repeated name is handled once.
                    let len = rng.pick(&[100usize, 10_001, 50_000]);
                    // At most about BODY_BUDGET of them: 50,000 copies of a cell an earlier
                    // mutation made 1 MiB long would be 50 GB in this process.
                    let cell_bytes = items
                        .iter()
                        .map(|c| body.expanded_len(c) + 1)
                        .sum::<usize>();
                    let per_cell = (cell_bytes / items.len()).max(1);
                    let len = len.min((BODY_BUDGET / per_cell).max(items.len()));
                    let cells = items.clone();
                    items = cells.iter().cycle().take(len).cloned().collect();
                }
            }
            Value::Array(items)
        }
        other => wrong_type_or(other, rng),
    }
}

fn wrong_type_or(node: Value, rng: &mut Rng) -> Value {
    if rng.chance(50) {
        wrong_type(rng)
    } else {
        node
    }
}

/// Damages serialized bytes: cut short, invalid UTF-8 inside a string, a flipped byte, a BOM,
/// trailing garbage.
pub fn damage_bytes(bytes: &mut Vec<u8>, rng: &mut Rng) {
    if bytes.is_empty() {
        bytes.extend_from_slice(b"\xff");
        return;
    }
    match rng.below(6) {
        0 => bytes.truncate(rng.below(bytes.len())),
        1 => {
            // After a quote, so that most land inside a string.
            let quotes: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == b'"').collect();
            let at = if quotes.is_empty() {
                rng.below(bytes.len())
            } else {
                quotes[rng.below(quotes.len())] + 1
            };
            let bad: &[u8] = rng.pick(&[
                &b"\xff"[..],
                b"\xc0\x80",
                b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80",
                b"\xc3",
                b"\xe2\x82",
            ]);
            bytes.splice(at..at, bad.iter().copied());
        }
        2 => flip_bit_outside_digits(bytes, rng),
        3 => {
            bytes.splice(0..0, b"\xef\xbb\xbf".iter().copied());
        }
        4 => bytes.extend_from_slice(rng.pick(&[&b"}"[..], b",", b" x", b"\0", b"{}"])),
        _ => bytes.clear(),
    }
}

/// Flips one bit of `bytes`, never in a digit: a flipped bit turns one digit into another, and
/// so one request's private driver id into another's (5001821200 into 5001820200), which would
/// then seem written by a request the server refused.
pub fn flip_bit_outside_digits(bytes: &mut [u8], rng: &mut Rng) {
    if bytes.is_empty() {
        return;
    }
    let from = rng.below(bytes.len());
    let at = (0..bytes.len())
        .map(|k| (from + k) % bytes.len())
        .find(|&i| !bytes[i].is_ascii_digit());
    if let Some(i) = at {
        bytes[i] ^= 1 << rng.below(8);
    }
}
