//! JSON values to [`Value`]s of a declared dtype and back: what `/push` and `/write-to-online-store`
//! receive, and the JSON text of `Map`/`Struct`/`Json` features. The rules match the Arrow
//! conversion of `crate::offline::convert`, so a feature pushed as JSON and the same feature
//! materialized from parquet end up as the same [`Value`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::offline::convert::ConvertError;
use crate::types::time::parse_timestamp;
use crate::types::{DType, Value};

/// How deep `json` nests arrays and objects below `at` (stops counting past the limit).
fn json_depth(json: &serde_json::Value, at: usize) -> usize {
    if at > crate::types::codec::MAX_VALUE_DEPTH {
        return at;
    }
    match json {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| json_depth(v, at + 1))
            .max()
            .unwrap_or(at + 1),
        serde_json::Value::Object(entries) => entries
            .values()
            .map(|v| json_depth(v, at + 1))
            .max()
            .unwrap_or(at + 1),
        _ => at,
    }
}

/// Converts a JSON value to a Value of a declared dtype: what /push receives, and how
/// Map/Struct/Json features held as JSON text are read.
///
/// * `null` is [`Value::Null`] for every dtype.
/// * `Int32`, `Int64`: integers, and floats that are exactly integral (pandas turns an integer
///   column with nulls into floats, so `1001.0` arrives for `1001`); anything out of range or
///   fractional is an error.
/// * `Float32`, `Float64`: any number.
/// * `String`: a string; a number or bool becomes the text Python's `str()` gives it
///   (`True`, `1001`, `1.5`, `1e+16`), since that is what Feast would store.
/// * `Bytes`: a base64 string (standard alphabet, with padding), as Feast's JSON encodes bytes.
/// * `Bool`: a bool.
/// * `UnixTimestamp`: an integer (seconds), or a timestamp string as
///   [`parse_timestamp`] reads it (RFC 3339, `YYYY-MM-DD HH:MM:SS[+zz:zz]`, naive = UTC),
///   floored to whole seconds.
/// * `Json`: a string is kept as its text, and must itself be JSON; any other value becomes its
///   compact JSON text.
/// * `Map`: an object, entries in key order (see the `crate::offline::convert` module doc) with values in their natural
///   form; or a string holding a JSON object.
/// * `Struct{..}`: an object, read in the declared field order with each field converted to its
///   dtype, a missing field as `Null` and extra keys ignored; or a string holding a JSON object.
/// * `Array(T)`: an array, each element converted to `T`.
pub fn json_to_value(json: &serde_json::Value, dtype: &DType) -> Result<Value, ConvertError> {
    use serde_json::Value as J;
    let fail = |reason: &str| ConvertError::Json {
        json: excerpt(&json.to_string()),
        dtype: dtype.clone(),
        reason: reason.to_string(),
    };
    if json.is_null() {
        return Ok(Value::Null);
    }
    // A value nested deeper than the codecs read back would be stored and then fail every
    // read of its entity: refused here, before anything is written.
    if json_depth(json, 0) > crate::types::codec::MAX_VALUE_DEPTH {
        return Err(fail(&format!(
            "nests lists and objects more than {} levels deep",
            crate::types::codec::MAX_VALUE_DEPTH
        )));
    }
    match dtype {
        DType::Int64 => json_int(json).map(Value::Int64).map_err(fail),
        DType::Int32 => {
            let v = json_int(json).map_err(fail)?;
            i32::try_from(v)
                .map(Value::Int32)
                .map_err(|_| fail("out of range"))
        }
        DType::Float32 | DType::Float64 => {
            let v = json.as_f64().ok_or_else(|| fail("expected a number"))?;
            Ok(if *dtype == DType::Float32 {
                // `as` would store an infinity, which no response can render.
                let f = v as f32;
                if !f.is_finite() {
                    return Err(fail("out of the range of a 32-bit float"));
                }
                Value::Float(f)
            } else {
                Value::Double(v)
            })
        }
        DType::String => match json {
            J::String(s) => Ok(Value::String(s.clone())),
            J::Bool(b) => Ok(Value::String(if *b { "True" } else { "False" }.to_string())),
            J::Number(n) => Ok(Value::String(match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (None, Some(u), _) => u.to_string(),
                (None, None, Some(f)) => python_float_str(f),
                (None, None, None) => n.to_string(),
            })),
            _ => Err(fail("expected a string")),
        },
        DType::Bytes => match json {
            J::String(s) => BASE64
                .decode(s)
                .map(Value::Bytes)
                .map_err(|e| fail(&format!("not base64: {e}"))),
            _ => Err(fail("expected a base64 string")),
        },
        DType::Bool => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| fail("expected true or false")),
        DType::UnixTimestamp => match json {
            J::Number(_) => json_int(json).map(Value::UnixTimestamp).map_err(fail),
            J::String(s) => parse_timestamp(s)
                .map(|t| Value::UnixTimestamp(t.timestamp()))
                .map_err(|e| fail(&e)),
            _ => Err(fail(
                "expected seconds since the epoch or a timestamp string",
            )),
        },
        DType::Json => match json {
            J::String(s) => {
                serde_json::from_str::<serde::de::IgnoredAny>(s)
                    .map_err(|e| invalid_json_text(s, dtype, &e))?;
                Ok(Value::Json(s.clone()))
            }
            other => Ok(Value::Json(other.to_string())),
        },
        DType::Map => match json {
            J::Object(entries) => Ok(Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), natural_json(v)))
                    .collect(),
            )),
            J::String(s) => object_from_text(s, dtype),
            _ => Err(fail("expected an object, or a string holding one")),
        },
        DType::Struct(fields) => match json {
            J::Object(entries) => {
                let mut out = Vec::with_capacity(fields.len());
                for (name, field_dtype) in fields {
                    let v = match entries.get(name) {
                        Some(v) => json_to_value(v, field_dtype)
                            .map_err(|e| ConvertError::in_field(name, e))?,
                        None => Value::Null,
                    };
                    out.push((name.clone(), v));
                }
                Ok(Value::Struct(out))
            }
            J::String(s) => object_from_text(s, dtype),
            _ => Err(fail("expected an object, or a string holding one")),
        },
        DType::Array(element) => match json {
            J::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    json_to_value(item, element).map_err(|e| ConvertError::in_element(i, e))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            _ => Err(fail("expected an array")),
        },
    }
}

/// A `Map` or `Struct` held as JSON text (pandas writes dicts that way): the text must be a
/// JSON object (or `null`), which is then read with [`json_to_value`].
pub(crate) fn object_from_text(text: &str, dtype: &DType) -> Result<Value, ConvertError> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid_json_text(text, dtype, &e))?;
    if json.is_object() || json.is_null() {
        json_to_value(&json, dtype)
    } else {
        Err(ConvertError::Json {
            json: excerpt(text),
            dtype: dtype.clone(),
            reason: "expected a JSON object".to_string(),
        })
    }
}

/// An integer from a JSON number, accepting exactly integral floats.
fn json_int(json: &serde_json::Value) -> Result<i64, &'static str> {
    if let Some(i) = json.as_i64() {
        return Ok(i);
    }
    if json.is_u64() {
        return Err("out of range");
    }
    let f = json.as_f64().ok_or("expected an integer")?;
    if f.fract() != 0.0 || !f.is_finite() {
        return Err("not a whole number");
    }
    // 2^63 is exact as an f64; every integral f64 below it in magnitude fits an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) {
        Ok(f as i64)
    } else {
        Err("out of range")
    }
}

/// The natural value of a JSON value, for the entries of a `Map`.
fn natural_json(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::List(items.iter().map(natural_json).collect()),
        J::Object(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), natural_json(v)))
                .collect(),
        ),
    }
}

/// JSON for a natural value, for Arrow columns declared `Json` that are not text and for the
/// `json` columns handed to plugins. JSON has no bytes, NaN or infinity: bytes become base64
/// text and the others `null`.
pub fn value_to_json(value: Value) -> serde_json::Value {
    use serde_json::Value as J;
    let float = |f: f64| serde_json::Number::from_f64(f).map_or(J::Null, J::Number);
    match value {
        Value::Null => J::Null,
        Value::Bytes(b) => J::String(BASE64.encode(b)),
        Value::String(s) => J::String(s),
        Value::Int32(i) => J::from(i),
        Value::Int64(i) | Value::UnixTimestamp(i) => J::from(i),
        Value::Double(f) => float(f),
        Value::Float(f) => float(f64::from(f)),
        Value::Bool(b) => J::Bool(b),
        Value::List(items) => J::Array(items.into_iter().map(value_to_json).collect()),
        Value::Map(entries) | Value::Struct(entries) => J::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, value_to_json(v)))
                .collect(),
        ),
        Value::Json(text) => serde_json::from_str(&text).unwrap_or(J::String(text)),
    }
}

/// A float as Python's `str()`/`repr()` writes it: the shortest digits that round-trip, in
/// positional notation for exponents from -4 to 15 and scientific (`1e+16`, `1.5e-05`) beyond.
pub(crate) fn python_float_str(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's repr.
    let sci = format!("{:e}", x.abs());
    let sign = if x < 0.0 { "-" } else { "" };
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return format!("{x}");
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return format!("{x}");
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp.unsigned_abs() as usize + 1;
            if digits.len() <= int_len {
                let zeros = "0".repeat(int_len - digits.len());
                format!("{sign}{digits}{zeros}.0")
            } else {
                let (int, frac) = digits.split_at(int_len);
                format!("{sign}{int}.{frac}")
            }
        } else {
            let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{dot}{rest}e{exp_sign}{:02}",
            exp.unsigned_abs()
        )
    }
}

pub(crate) fn invalid_json_text(
    text: &str,
    dtype: &DType,
    error: &serde_json::Error,
) -> ConvertError {
    ConvertError::InvalidJsonText {
        text: excerpt(text),
        dtype: dtype.clone(),
        reason: error.to_string(),
    }
}

/// At most 80 characters of `text`, so that an error about a large document stays readable.
fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_float32_out_of_range_is_refused_not_stored_as_infinity() {
        let err = json_to_value(&serde_json::json!(1e39), &DType::Float32).unwrap_err();
        assert!(err.to_string().contains("32-bit float"), "{err}");
        assert_eq!(
            json_to_value(&serde_json::json!(1e39), &DType::Float64).unwrap(),
            Value::Double(1e39)
        );
        assert_eq!(
            json_to_value(&serde_json::json!(0.5), &DType::Float32).unwrap(),
            Value::Float(0.5)
        );
    }

    #[test]
    fn values_nested_deeper_than_the_codecs_read_are_refused() {
        let mut deep = serde_json::json!("leaf");
        for _ in 0..70 {
            deep = serde_json::json!({ "k": deep });
        }
        let err = json_to_value(&deep, &DType::Map).unwrap_err();
        assert!(err.to_string().contains("levels deep"), "{err}");
        let mut ok = serde_json::json!("leaf");
        for _ in 0..10 {
            ok = serde_json::json!({ "k": ok });
        }
        assert!(json_to_value(&ok, &DType::Map).is_ok());
    }
}
