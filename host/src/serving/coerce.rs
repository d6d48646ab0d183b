//! Join-key values from a request's `entities` map, converted with Python's semantics, and
//! Python's `repr` of strings for messages that must read like Feast's.
//!
//! Feast converts each entity value by the join key's declared dtype, not by its JSON type
//! (docs/feast-compat.md#entity-coercion): an Int64 key applies `int(x)`, so `"1001"`,
//! `1001.0` and `true` all become integers; a String key applies `str(x)`, so `1001` becomes
//! `"1001"`. A client that sends ids as strings (JavaScript clients often do, to keep 64-bit
//! precision) must get the same rows here as from Feast.

use crate::serving::render::write_python_float;
use crate::types::{DType, Value};

/// Converts a JSON entity value to the join key's declared dtype, with Python's semantics
/// (Feast applies `int()`/`str()` by the entity column dtype, not by the JSON type; see
/// docs/feast-compat.md#entity-coercion).
///
/// * Int64, Int32, UnixTimestamp: Python `int(x)`. Integers stay; floats truncate toward zero;
///   `true`/`false` are 1/0; strings must be Python int literals (`" -1_001 "` is fine,
///   `"1001.0"` is not). The result must fit the dtype.
/// * String: Python `str(x)`. Integers as decimal text, floats as Python's `repr`
///   (`"1001.0"`, `"1e+16"`), booleans as `"True"`/`"False"`.
/// * Bytes: a string, as its UTF-8 bytes.
///
/// `null`, arrays and objects are errors for every dtype: Feast cannot serialize them into an
/// entity key either (it fails with a 500). So is a dtype that cannot be a key.
pub fn coerce_entity_value(json: &serde_json::Value, dtype: &DType) -> Result<Value, String> {
    use serde_json::Value as J;
    match json {
        J::Null => {
            return Err(format!(
                "entity value null cannot be a key: expected {dtype}"
            ));
        }
        J::Array(_) => {
            return Err(format!(
                "entity value {} cannot be a key: expected {dtype}, got a list",
                json_excerpt(json)
            ));
        }
        J::Object(_) => {
            return Err(format!(
                "entity value {} cannot be a key: expected {dtype}, got an object",
                json_excerpt(json)
            ));
        }
        J::Bool(_) | J::Number(_) | J::String(_) => {}
    }
    match dtype {
        DType::Int64 => fit(python_int(json)?, dtype).map(Value::Int64),
        DType::Int32 => fit(python_int(json)?, dtype).map(Value::Int32),
        DType::UnixTimestamp => fit(python_int(json)?, dtype).map(Value::UnixTimestamp),
        DType::String => Ok(Value::String(python_str(json))),
        DType::Bytes => match json {
            J::String(s) => Ok(Value::Bytes(s.as_bytes().to_vec())),
            other => Err(format!(
                "entity value {} cannot be a Bytes key: expected a string",
                json_excerpt(other)
            )),
        },
        other => Err(format!(
            "a join key cannot have dtype {other}; key dtypes are Int32, Int64, String, Bytes and UnixTimestamp"
        )),
    }
}

/// The result of Python's `int(x)`: Python ints are unbounded, so a value too big even for
/// `i128` keeps its decimal text for the out-of-range message.
enum PyInt {
    Small(i128),
    Huge(String),
}

/// Python's `int(x)` for a JSON scalar (null, lists and objects are refused before this).
fn python_int(json: &serde_json::Value) -> Result<PyInt, String> {
    use serde_json::Value as J;
    match json {
        J::Bool(b) => Ok(PyInt::Small(i128::from(*b))),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(PyInt::Small(i128::from(i)))
            } else if let Some(u) = n.as_u64() {
                Ok(PyInt::Small(i128::from(u)))
            } else {
                // JSON has no NaN or infinity, so `int(float)` always succeeds: it truncates.
                let t = n.as_f64().unwrap_or_default().trunc();
                if t.abs() < 1.7e38 {
                    // Integral and below 2^127, so the cast is exact.
                    Ok(PyInt::Small(t as i128))
                } else {
                    // `{:.0}` prints the float's exact integer value, as Python's int() holds it.
                    Ok(PyInt::Huge(format!("{t:.0}")))
                }
            }
        }
        J::String(s) => parse_python_int(s),
        // Refused by the caller; answered in Python's words in case that ever changes.
        J::Null | J::Array(_) | J::Object(_) => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            match json {
                J::Null => "NoneType",
                J::Array(_) => "list",
                _ => "dict",
            }
        )),
    }
}

/// Python's `int(s)` (base 10): surrounding whitespace, an optional sign, then decimal digits
/// with single underscores allowed between them. Any Unicode decimal digit counts, as in
/// Python (`int("١٠٠١") == 1001`).
fn parse_python_int(s: &str) -> Result<PyInt, String> {
    // Python's int() strips exactly the characters Rust calls whitespace (checked over all of
    // Unicode against CPython 3.11: U+001C..U+001F are `isspace()` but int() refuses them, and
    // so does `char::is_whitespace`).
    let body = s.trim_matches(char::is_whitespace);
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let invalid = || {
        format!(
            "invalid literal for int() with base 10: {}",
            truncate_chars(&python_repr_str(s), 200)
        )
    };
    let mut value: Option<i128> = Some(0);
    let mut after_digit = false;
    for c in digits.chars() {
        if c == '_' {
            if !after_digit {
                return Err(invalid());
            }
            after_digit = false;
            continue;
        }
        let d = decimal_digit(c).ok_or_else(invalid)?;
        after_digit = true;
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(i128::from(d)));
    }
    // Also rejects an empty literal, a lone sign and a trailing underscore.
    if !after_digit {
        return Err(invalid());
    }
    match value {
        Some(v) => Ok(PyInt::Small(if negative { -v } else { v })),
        None => {
            // Beyond i128: spell the number as Python's str(int(s)) would.
            let mut text = String::from(if negative { "-" } else { "" });
            text.extend(
                digits
                    .chars()
                    .filter_map(decimal_digit)
                    .skip_while(|&d| d == 0)
                    .map(|d| char::from(b'0' + d)),
            );
            Ok(PyInt::Huge(text))
        }
    }
}

/// The first code point of every run of ten Unicode decimal digits (category Nd), which is
/// what Python's int() accepts. Unicode 14.0 (CPython 3.11) plus Unicode 15.0's Kawi
/// (U+11F50) and Nag Mundari (U+1E4F0).
const DIGIT_ZEROS: [u32; 68] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x11f50, 0x16a60, 0x16ac0,
    0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e4f0, 0x1e950,
    0x1fbf0,
];

/// The value of a Unicode decimal digit, as Python's `unicodedata.decimal`.
fn decimal_digit(c: char) -> Option<u8> {
    if c.is_ascii_digit() {
        return Some(c as u8 - b'0');
    }
    let cp = u32::from(c);
    // The last run starting at or below `cp`; `cp` is a digit iff it lies within that run.
    let run = DIGIT_ZEROS.partition_point(|&zero| zero <= cp);
    let zero = *DIGIT_ZEROS.get(run.checked_sub(1)?)?;
    u8::try_from(cp - zero).ok().filter(|&d| d < 10)
}

/// Narrows Python's int to the key's integer type, refusing what Feast's protobuf conversion
/// refuses (`ValueError: Value out of range: ...`).
fn fit<T: TryFrom<i128>>(n: PyInt, dtype: &DType) -> Result<T, String> {
    let range = match dtype {
        DType::Int32 => "-2147483648 to 2147483647",
        _ => "-9223372036854775808 to 9223372036854775807",
    };
    let text = match n {
        PyInt::Small(v) => match T::try_from(v) {
            Ok(v) => return Ok(v),
            Err(_) => v.to_string(),
        },
        PyInt::Huge(text) => text,
    };
    Err(format!(
        "Value out of range: {text} (expected {dtype}, {range})"
    ))
}

/// Python's `str(x)` for a JSON scalar.
fn python_str(json: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match json {
        J::String(s) => s.clone(),
        J::Bool(true) => "True".to_string(),
        J::Bool(false) => "False".to_string(),
        J::Number(n) => {
            if n.is_f64() {
                let mut buf = Vec::with_capacity(24);
                // JSON numbers are finite, so this cannot fail; and the output is ASCII.
                match write_python_float(n.as_f64().unwrap_or_default(), &mut buf) {
                    Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
                    Err(_) => n.to_string(),
                }
            } else {
                // serde_json prints i64/u64 in plain decimal, as Python's str(int) does.
                n.to_string()
            }
        }
        J::Null => "None".to_string(),
        // Refused by the caller before this point.
        J::Array(_) | J::Object(_) => json.to_string(),
    }
}

/// The JSON text of what a client sent, cut short so an error message stays readable.
fn json_excerpt(json: &serde_json::Value) -> String {
    truncate_chars(&json.to_string(), 200)
}

/// The first `max` characters of `s` (whole code points), as Python's `%.200R` truncates.
fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => s[..cut].to_string(),
        None => s.to_string(),
    }
}

/// Python's repr of a list of strings, as Feast's messages print them: `['a', 'b']` (single
/// quotes; a string containing a single quote but no double quote uses double quotes, as
/// Python's repr does; backslashes escaped).
pub fn python_str_list(items: &[&str]) -> String {
    let mut out = String::with_capacity(2 + items.iter().map(|s| s.len() + 4).sum::<usize>());
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_repr(item, &mut out);
    }
    out.push(']');
    out
}

/// Python's `repr()` of one str (same quoting rules as [`python_str_list`]): `'a'`, `"it's"`,
/// `'say "it\'s"'`; `\\`, `\t`, `\n`, `\r` escaped, and characters Python does not consider
/// printable written as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
pub fn python_repr_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_repr(s, &mut out);
    out
}

fn push_repr(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_python_printable(c) => {
                // Writing to a String cannot fail.
                let _ = match u32::from(c) {
                    cp @ 0..=0xff => write!(out, "\\x{cp:02x}"),
                    cp @ 0x100..=0xffff => write!(out, "\\u{cp:04x}"),
                    cp => write!(out, "\\U{cp:08x}"),
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable()` for one character: false for categories Cc, Cf, Co, Zl, Zp
/// and Zs other than the space (Unicode 14.0 tables). Unassigned code points (Cn) are also
/// unprintable in Python; without the full Unicode table only the noncharacters among them
/// are recognized, so other unassigned characters are printed raw (they are vanishingly rare
/// in feature names and ids).
fn is_python_printable(c: char) -> bool {
    !matches!(u32::from(c),
        // Cc
        0x00..=0x1f | 0x7f..=0x9f
        // Zs (minus the space), Zl, Zp
        | 0xa0 | 0x1680 | 0x2000..=0x200a | 0x202f | 0x205f | 0x3000 | 0x2028 | 0x2029
        // Cf
        | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff
        | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x13438 | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        // Co
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd
        // Cn noncharacters
        | 0xfdd0..=0xfdef)
        && (u32::from(c) & 0xfffe) != 0xfffe
}

#[cfg(test)]
#[path = "coerce_tests.rs"]
mod tests;
