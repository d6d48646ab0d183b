//! Error responses in the exact shapes Feast's server writes (docs/feast-compat.md#error-bodies).
//!
//! Clients parse these bodies: the Feast SDK re-raises the exception named in a double-encoded
//! envelope, other clients read FastAPI's `{"detail": ...}`. So each constructor reproduces the
//! Python encoder that produced the original byte for byte. Nothing here knows about a web
//! framework: an [`ApiError`] is a status and a body, and the HTTP layer turns it into a
//! response with [`CONTENT_TYPE`].

use serde_json::{Map, Value};

use super::models::ValidationDetail;
use crate::serving::render::{write_json_str, write_python_float};

/// The content type of every error body (and of every JSON response Feast writes).
pub const CONTENT_TYPE: &str = "application/json";

/// An error response: status and JSON body (content-type is always [`CONTENT_TYPE`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status}: {}", String::from_utf8_lossy(body))]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// The exact response body, UTF-8 JSON.
    pub body: Vec<u8>,
}

impl ApiError {
    /// A `FeastError` (docs/feast-compat.md#error-bodies). The body is a JSON *string*
    /// whose content is Python's `json.dumps({"module": "feast.errors", "class": class,
    /// "message": message})` (see [`python_json_dumps`]), and that string is JSON-encoded again
    /// the way Starlette's `JSONResponse` does (compact, no ASCII escaping). The SDK decodes it
    /// twice and re-raises `feast.errors.<class>(message)`, so `class` must be the exact Python
    /// class name.
    pub fn feast(status: u16, class: &str, message: &str) -> ApiError {
        // Built key by key: the envelope's key order is part of the wire format.
        let mut envelope = Map::new();
        envelope.insert("module".into(), "feast.errors".into());
        envelope.insert("class".into(), class.into());
        envelope.insert("message".into(), message.into());
        let inner = python_json_dumps(&Value::Object(envelope));
        let mut body = Vec::with_capacity(inner.len() + 16);
        write_json_str(&inner, &mut body);
        ApiError { status, body }
    }

    /// Any other exception (Feast answers 500): the body is the JSON string of `str(exc)`, e.g.
    /// `"'Feature x not found in projection v'"` for a `KeyError` (whose `str` adds the quotes;
    /// pass the message as Python would print it).
    pub fn plain(status: u16, message: &str) -> ApiError {
        let mut body = Vec::with_capacity(message.len() + 2);
        write_json_str(message, &mut body);
        ApiError { status, body }
    }

    /// FastAPI's `HTTPException` shape `{"detail":"..."}`: 404 Not Found, 405 Method Not
    /// Allowed, 401 from the auth dependency, 400 for an unreadable body.
    pub fn detail(status: u16, detail: &str) -> ApiError {
        let mut body = Vec::with_capacity(detail.len() + 13);
        body.extend_from_slice(b"{\"detail\":");
        write_json_str(detail, &mut body);
        body.push(b'}');
        ApiError { status, body }
    }

    /// FastAPI's 422 for a request that failed validation: `{"detail":[...]}` with one object
    /// per [`ValidationDetail`], in order.
    pub fn validation(details: &[ValidationDetail]) -> ApiError {
        let mut root = Map::new();
        root.insert(
            "detail".into(),
            Value::Array(details.iter().map(ValidationDetail::to_json).collect()),
        );
        ApiError {
            status: 422,
            body: json_response_body(&Value::Object(root)),
        }
    }
}

/// Python's `json.dumps(value)` with default settings: `", "` and `": "` separators, keys in
/// the map's order, `ensure_ascii=True` (everything outside printable ASCII as `\uXXXX` with
/// lowercase hex, astral characters as surrogate pairs, DEL too), integers as integers and
/// floats as Python's `repr`. This is how Feast prints its error envelope.
pub fn python_json_dumps(value: &Value) -> String {
    let mut out = Vec::new();
    write_value(value, PYTHON_DEFAULT, &mut out);
    // Only ASCII and the UTF-8 copied from `&str`s is ever written, so this cannot fail; the
    // lossy conversion keeps the function total without an unwrap.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The body Starlette's `JSONResponse(content)` writes for `value`: `json.dumps(value,
/// ensure_ascii=False, separators=(",", ":"))`, i.e. compact, raw UTF-8, floats as Python's
/// `repr` (`1e-05`, `1.0`) where serde_json would write `1e-5`, `1.0`. Use it for any JSON
/// body that must match Feast's bytes.
pub fn json_response_body(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(value, STARLETTE, &mut out);
    out
}

/// The knobs of Python's `json.dumps` that differ between Feast's two encoders.
#[derive(Clone, Copy)]
struct Style {
    ensure_ascii: bool,
    item_separator: &'static [u8],
    key_separator: &'static [u8],
}

/// `json.dumps(value)`.
const PYTHON_DEFAULT: Style = Style {
    ensure_ascii: true,
    item_separator: b", ",
    key_separator: b": ",
};

/// `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` (Starlette).
const STARLETTE: Style = Style {
    ensure_ascii: false,
    item_separator: b",",
    key_separator: b":",
};

/// Recursion is bounded by the value's depth; values parsed by serde_json nest at most 128
/// levels, and everything this module encodes is either parsed or built shallowly.
fn write_value(value: &Value, style: Style, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_str(s, style, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(style.item_separator);
                }
                write_value(item, style, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(style.item_separator);
                }
                write_str(key, style, out);
                out.extend_from_slice(style.key_separator);
                write_value(item, style, out);
            }
            out.push(b'}');
        }
    }
}

/// Integers exactly, floats as Python's `repr`. A JSON number with a fraction or exponent is a
/// Python float even when integral (`1.0`, `1e2` -> `100.0`), and serde_json keeps exactly that
/// distinction.
fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) {
    if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        // serde_json numbers are always finite, so the NaN/Inf error cannot happen; fall back
        // to serde_json's text rather than panic if it ever did.
        if write_python_float(f, out).is_err() {
            out.extend_from_slice(n.to_string().as_bytes());
        }
    } else {
        out.extend_from_slice(n.to_string().as_bytes());
    }
}

fn write_str(s: &str, style: Style, out: &mut Vec<u8>) {
    if style.ensure_ascii {
        write_ascii_str(s, out);
    } else {
        write_json_str(s, out);
    }
}

/// Python's `py_encode_basestring_ascii`: printable ASCII (space to `~`) is copied except `"`
/// and `\`; `\n` `\r` `\t` `\b` `\f` get short escapes; every other character, DEL included,
/// becomes `\uXXXX` in lowercase hex, split into a UTF-16 surrogate pair above U+FFFF.
fn write_ascii_str(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            // The cast is lossless: the range is ASCII.
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_escaped_unit(*unit, out);
                }
            }
        }
    }
    out.push(b'"');
}

/// `\uXXXX` for one UTF-16 code unit, lowercase hex as Python writes it.
fn push_escaped_unit(unit: u16, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
