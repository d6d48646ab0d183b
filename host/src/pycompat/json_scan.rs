//! CPython's `json.loads` as FastAPI runs it on a request body: the encoding sniffing of
//! `json.detect_encoding` (UTF-8/16/32, BOMs) and, on the error path, a rescan of the text
//! with the `json` module's own scanner so that a syntax error carries Python's message and
//! character offset.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::pydantic::{MISSING, ValidationDetail, detail};

/// Why a body yields no value.
pub(crate) enum BodyError {
    /// FastAPI answers 422 with this one detail (`json_invalid`, or `missing` for no body).
    Invalid(Box<ValidationDetail>),
    /// FastAPI answers 400; the detail is what [`crate::http::models::parse_body`] reports instead.
    Unreadable(Box<ValidationDetail>),
    /// The decoded values would take more memory than the budget allows (their estimate so
    /// far, past it): answered 413 before anything is decoded. Python has no such limit.
    TooCostly(usize),
}

/// Decodes a body as `json.loads` would, unless its values are estimated to take more than
/// `budget` bytes once decoded (`types::json_cost`).
pub(crate) fn decode_body(body: &[u8], budget: usize) -> Result<Value, BodyError> {
    // FastAPI only decodes a non-empty body; no body at all leaves the model's value `None`.
    if body.is_empty() {
        return Err(BodyError::Invalid(Box::new(missing_body())));
    }
    let Some(text) = decode_text(body) else {
        return Err(BodyError::Unreadable(Box::new(json_invalid(
            0,
            "the body is not valid UTF-8, UTF-16 or UTF-32",
        ))));
    };
    if let Err(estimate) = crate::types::json_cost::decoded_cost(&text, budget) {
        return Err(BodyError::TooCostly(estimate));
    }
    match serde_json::from_str::<Value>(&text) {
        // A JSON `null` is a value like any other: current FastAPI (0.165) validates it, and
        // pydantic answers `model_attributes_type`. Older FastAPI (0.141) called it missing.
        Ok(v) => Ok(v),
        Err(e) => {
            // serde_json's errors say little about what Python would report, so the document
            // is rescanned with Python's own algorithm; this only happens on the error path.
            let chars: Vec<char> = text.chars().collect();
            match python_json_error(&chars) {
                Some((msg, pos)) => Err(BodyError::Invalid(Box::new(json_invalid(pos, msg)))),
                None => Err(BodyError::Unreadable(Box::new(json_invalid(
                    serde_char_offset(&text, &e),
                    &serde_message(&e),
                )))),
            }
        }
    }
}

/// `{"type":"missing","loc":["body"],"msg":"Field required","input":null}`.
fn missing_body() -> ValidationDetail {
    detail("missing", &[Value::from("body")], MISSING, Value::Null)
}

/// FastAPI's detail for a `JSONDecodeError`: loc `["body", pos]`, input `{}`, and the `json`
/// module's bare message (without the "line/column" suffix) in `ctx.error`.
fn json_invalid(pos: usize, error: &str) -> ValidationDetail {
    let mut ctx = Map::new();
    ctx.insert("error".into(), Value::from(error));
    ValidationDetail {
        kind: "json_invalid".into(),
        loc: vec![Value::from("body"), Value::from(pos)],
        msg: "JSON decode error".into(),
        input: Value::Object(Map::new()),
        ctx: Some(Value::Object(ctx)),
    }
}

/// The text `json.loads(bytes)` decodes: the encoding is sniffed as in `json.detect_encoding`
/// (BOMs, then the zero-byte pattern of UTF-16/32), a UTF-8 BOM is dropped (`utf-8-sig`).
/// `None` where Python raises `UnicodeDecodeError`, or decodes lone surrogates (its
/// `surrogatepass`) that a Rust string cannot hold.
fn decode_text(b: &[u8]) -> Option<Cow<'_, str>> {
    let utf8 = |b| std::str::from_utf8(b).ok().map(Cow::Borrowed);
    if let Some(rest) = b.strip_prefix(&[0, 0, 0xfe, 0xff]) {
        return utf32(rest, u32::from_be_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xff, 0xfe, 0, 0]) {
        return utf32(rest, u32::from_le_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
        return utf16(rest, u16::from_be_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xff, 0xfe]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return utf8(rest);
    }
    match *b {
        [0, b1, _, _, ..] if b1 != 0 => utf16(b, u16::from_be_bytes),
        [0, _, _, _, ..] => utf32(b, u32::from_be_bytes),
        [_, 0, b2, b3, ..] if b2 != 0 || b3 != 0 => utf16(b, u16::from_le_bytes),
        [_, 0, _, _, ..] => utf32(b, u32::from_le_bytes),
        [0, _] => utf16(b, u16::from_be_bytes),
        [_, 0] => utf16(b, u16::from_le_bytes),
        _ => utf8(b),
    }
}

fn utf16(b: &[u8], unit: fn([u8; 2]) -> u16) -> Option<Cow<'static, str>> {
    let chunks = b.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let units = chunks.map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
        .map(Cow::Owned)
}

fn utf32(b: &[u8], unit: fn([u8; 4]) -> u32) -> Option<Cow<'static, str>> {
    let chunks = b.chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return None;
    }
    chunks
        .map(|c| char::from_u32(unit([c[0], c[1], c[2], c[3]])))
        .collect::<Option<String>>()
        .map(Cow::Owned)
}

/// The character offset of a serde_json error (its line and byte column), for the rare
/// documents Python accepts but serde_json does not.
fn serde_char_offset(text: &str, e: &serde_json::Error) -> usize {
    let line_start = match e.line().checked_sub(2) {
        None => 0,
        Some(newlines_before) => text
            .match_indices('\n')
            .nth(newlines_before)
            .map_or(text.len(), |(i, _)| i + 1),
    };
    let mut byte = (line_start + e.column().saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    text[..byte].chars().count()
}

/// serde_json's message without its " at line L column C" suffix.
fn serde_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// The `JSONDecodeError` CPython 3.12's `json.loads` raises for `s` (the C scanner, which is
/// what runs), as (message, character offset), or `None` when Python accepts the document.
///
/// A line-by-line port of `scan_once_unicode` and friends in `Modules/_json.c`, made iterative
/// so hostile nesting cannot overflow the stack. Feast's image runs Python 3.12; 3.13 reports
/// a trailing comma as "Illegal trailing comma before end of object/array" instead.
pub(crate) fn python_json_error(s: &[char]) -> Option<(&'static str, usize)> {
    #[derive(PartialEq)]
    enum Open {
        Object,
        Array,
    }
    let at = |i: usize| s.get(i).copied();
    let skip_ws = |mut i: usize| {
        while matches!(at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    };
    // A key and its colon, from `i` (where a key must start) to the start of the value.
    let key = |i: usize| -> Result<usize, (&'static str, usize)> {
        if at(i) != Some('"') {
            return Err(("Expecting property name enclosed in double quotes", i));
        }
        let i = skip_ws(scan_string(s, i + 1)?);
        if at(i) != Some(':') {
            return Err(("Expecting ':' delimiter", i));
        }
        Ok(skip_ws(i + 1))
    };

    let mut stack: Vec<Open> = Vec::new();
    let mut i = skip_ws(0);
    let result = (|| -> Result<(), (&'static str, usize)> {
        loop {
            // One term at `i`.
            match at(i) {
                None => return Err(("Expecting value", i)),
                Some('"') => i = scan_string(s, i + 1)?,
                Some('{') => {
                    let j = skip_ws(i + 1);
                    if at(j) == Some('}') {
                        i = j + 1;
                    } else {
                        stack.push(Open::Object);
                        i = key(j)?;
                        continue;
                    }
                }
                Some('[') => {
                    let j = skip_ws(i + 1);
                    if at(j) == Some(']') {
                        i = j + 1;
                    } else {
                        stack.push(Open::Array);
                        i = j;
                        continue;
                    }
                }
                Some(_) => match constant_or_number(s, i) {
                    Some(next) => i = next,
                    // Python's StopIteration, turned into this message by `raw_decode`.
                    None => return Err(("Expecting value", i)),
                },
            }
            // A term ended at `i`: close containers until one expects another term.
            loop {
                let Some(open) = stack.last() else {
                    let end = skip_ws(i);
                    return if end == s.len() {
                        Ok(())
                    } else {
                        Err(("Extra data", end))
                    };
                };
                let close = if *open == Open::Object { '}' } else { ']' };
                i = skip_ws(i);
                match at(i) {
                    Some(c) if c == close => {
                        stack.pop();
                        i += 1;
                    }
                    Some(',') => {
                        i = skip_ws(i + 1);
                        if *open == Open::Object {
                            i = key(i)?;
                        }
                        break;
                    }
                    _ => return Err(("Expecting ',' delimiter", i)),
                }
            }
        }
    })();
    result.err()
}

/// `scanstring_unicode`: `end` is just past the opening quote; returns the index past the
/// closing one.
fn scan_string(s: &[char], end: usize) -> Result<usize, (&'static str, usize)> {
    let len = s.len();
    let begin = end.saturating_sub(1);
    let hex = |i: usize| s.get(i).and_then(|c| c.to_digit(16));
    let mut end = end;
    loop {
        // Find the end of the string or the next escape.
        let mut next = end;
        let c = loop {
            match s.get(next) {
                None => return Err(("Unterminated string starting at", begin)),
                Some(&d @ ('"' | '\\')) => break d,
                Some(&d) if u32::from(d) <= 0x1f => {
                    return Err(("Invalid control character at", next));
                }
                Some(_) => next += 1,
            }
        };
        next += 1;
        if c == '"' {
            return Ok(next);
        }
        let Some(&c) = s.get(next) else {
            return Err(("Unterminated string starting at", begin));
        };
        if c != 'u' {
            end = next + 1;
            if !matches!(c, '"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') {
                return Err(("Invalid \\escape", end - 2));
            }
        } else {
            next += 1;
            end = next + 4;
            if end >= len {
                return Err(("Invalid \\uXXXX escape", next - 1));
            }
            let mut unit = 0;
            for k in next..end {
                unit = unit << 4 | hex(k).ok_or(("Invalid \\uXXXX escape", end - 5))?;
            }
            // A high surrogate followed by `\u`: Python reads the second unit too (and only
            // joins them if it is a low surrogate, otherwise it rescans it as an escape).
            if (0xd800..=0xdbff).contains(&unit)
                && end + 6 < len
                && at_is(s, end, '\\')
                && at_is(s, end + 1, 'u')
            {
                let second = end + 2;
                end += 6;
                let mut low = 0;
                for k in second..end {
                    low = low << 4 | hex(k).ok_or(("Invalid \\uXXXX escape", end - 5))?;
                }
                if !(0xdc00..=0xdfff).contains(&low) {
                    end -= 6;
                }
            }
        }
    }
}

fn at_is(s: &[char], i: usize, c: char) -> bool {
    s.get(i) == Some(&c)
}

/// The `null`/`true`/`false`/`NaN`/`Infinity`/`-Infinity` cases of `scan_once_unicode`, then
/// `_match_number_unicode`: the index past the term, or `None` for Python's StopIteration.
fn constant_or_number(s: &[char], idx: usize) -> Option<usize> {
    let len = s.len();
    let follows = |word: &str| {
        idx + word.chars().count() < len
            && word
                .chars()
                .enumerate()
                .all(|(k, c)| at_is(s, idx + 1 + k, c))
    };
    match s.get(idx) {
        Some('n') if follows("ull") => return Some(idx + 4),
        Some('t') if follows("rue") => return Some(idx + 4),
        Some('f') if follows("alse") => return Some(idx + 5),
        Some('N') if follows("aN") => return Some(idx + 3),
        Some('I') if follows("nfinity") => return Some(idx + 8),
        Some('-') if follows("Infinity") => return Some(idx + 9),
        _ => {}
    }
    let digit = |i: usize| s.get(i).is_some_and(char::is_ascii_digit);
    let end_idx = len.checked_sub(1)?;
    let mut i = idx;
    if at_is(s, i, '-') {
        i += 1;
        if i > end_idx {
            return None;
        }
    }
    match s.get(i) {
        Some('1'..='9') => {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
        Some('0') => i += 1,
        _ => return None,
    }
    if i < end_idx && at_is(s, i, '.') && digit(i + 1) {
        i += 2;
        while digit(i) {
            i += 1;
        }
    }
    if i < end_idx && (at_is(s, i, 'e') || at_is(s, i, 'E')) {
        let e_start = i;
        i += 1;
        if i < end_idx && (at_is(s, i, '-') || at_is(s, i, '+')) {
            i += 1;
        }
        while digit(i) {
            i += 1;
        }
        // Without exponent digits the 'e' is not part of the number.
        if !digit(i - 1) {
            i = e_start;
        }
    }
    Some(i)
}
