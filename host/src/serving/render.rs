//! Renders an [`OnlineResponse`] as the exact bytes Feast's Python feature server writes (spec
//! §0, §3.3, §3.5, §3.7).
//!
//! Feast answers through Starlette's `JSONResponse`, i.e. `json.dumps(..., ensure_ascii=False,
//! allow_nan=False, separators=(",", ":"))`, over a dict built by `_value_to_native`. Clients
//! compare and cache these bodies, so every byte matters: compact separators, raw UTF-8,
//! Python's float `repr`, and key order `results`, `metadata`.
//!
//! This is the server's hot path, so everything is appended straight into the caller's
//! `Vec<u8>`: no intermediate `serde_json::Value`, and numbers go through stack buffers rather
//! than per-value `String`s.

use base64::Engine as _;

use crate::pycompat::float_repr::{write_float_repr, write_int};
use crate::serving::response::{OnlineResponse, ResponseColumn};
use crate::types::time::{format_rfc3339, from_micros};
use crate::types::{MAX_VALUE_DEPTH, Value};

/// Why a response cannot be rendered (Python's server answers 500 then: NaN/Inf cannot be
/// encoded).
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum RenderError {
    /// A NaN or infinite float. The text is exactly the `ValueError` Python's C JSON encoder
    /// raises with `allow_nan=False` (CPython 3.11), which Feast returns as the 500 body.
    #[error("Out of range float values are not JSON compliant")]
    NonFiniteFloat(f64),
    /// Containers nested deeper than [`MAX_VALUE_DEPTH`]. Nothing valid can be that deep (the
    /// row codec refuses it); the limit keeps hostile plugin output from overflowing the stack.
    #[error("a value nests lists, maps and structs more than {MAX_VALUE_DEPTH} levels deep")]
    TooDeep,
}

/// Renders Feast's columnar response, byte-compatible with Feast's server:
/// `{"results":[{"values":[...],"statuses":[...],"event_timestamps":[...]},...],"metadata":{"feature_names":[...]}}`
///
/// Compact separators, UTF-8 without ASCII escaping, key order exactly as shown;
/// `event_timestamps` is omitted from a result when it has zero rows (Feast's proto-to-dict
/// step drops empty repeated fields). On error, `out` may hold a partial rendering: the caller
/// answers 500 and discards it.
pub fn render_online_response(resp: &OnlineResponse, out: &mut Vec<u8>) -> Result<(), RenderError> {
    // A rough size guess (a short number, a status and a timestamp per cell) saves the
    // repeated regrowth of a buffer that starts empty.
    let cells: usize = resp.columns.iter().map(|c| c.values.len()).sum();
    out.reserve(64 + 48 * resp.columns.len() + 48 * cells);

    out.extend_from_slice(b"{\"results\":[");
    let mut timestamps = TimestampWriter::new();
    for (i, column) in resp.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_column(column, &mut timestamps, out)?;
    }
    out.extend_from_slice(b"],\"metadata\":{\"feature_names\":[");
    for (i, name) in resp.feature_names.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(name, out);
    }
    out.extend_from_slice(b"]}}");
    Ok(())
}

fn write_column(
    column: &ResponseColumn,
    timestamps: &mut TimestampWriter,
    out: &mut Vec<u8>,
) -> Result<(), RenderError> {
    out.extend_from_slice(b"{\"values\":[");
    for (i, value) in column.values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(value, out)?;
    }
    out.extend_from_slice(b"],\"statuses\":[");
    for (i, status) in column.statuses.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Status names are plain ASCII capitals: nothing to escape.
        out.push(b'"');
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b']');
    if !column.event_ts_micros.is_empty() {
        out.extend_from_slice(b",\"event_timestamps\":[");
        for (i, &micros) in column.event_ts_micros.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            timestamps.write(micros, out);
        }
        out.push(b']');
    }
    out.push(b'}');
    Ok(())
}

/// Appends the JSON rendering of one value (docs/feast-compat.md#value-rendering).
pub fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), RenderError> {
    write_value_at(value, 0, out)
}

fn write_value_at(value: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), RenderError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int32(v) => write_int(i64::from(*v), out),
        Value::Int64(v) | Value::UnixTimestamp(v) => write_int(*v, out),
        // Feast widens float_val to a Python float (f64) before printing it, which is why a
        // stored 0.7f32 comes out as 0.699999988079071.
        Value::Float(v) => write_python_float(f64::from(*v), out)?,
        Value::Double(v) => write_python_float(*v, out)?,
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // A JSON feature is its text inside a string, not an embedded object, as Feast's
        // `_value_to_native` renders it (docs/feast-compat.md#value-rendering).
        Value::String(s) | Value::Json(s) => write_json_str(s, out),
        Value::Bytes(b) => write_base64(b, out),
        Value::List(items) => {
            let depth = deeper(depth)?;
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value_at(item, depth, out)?;
            }
            out.push(b']');
        }
        Value::Map(fields) | Value::Struct(fields) => {
            let depth = deeper(depth)?;
            out.push(b'{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(key, out);
                out.push(b':');
                write_value_at(item, depth, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn deeper(depth: usize) -> Result<usize, RenderError> {
    if depth >= MAX_VALUE_DEPTH {
        Err(RenderError::TooDeep)
    } else {
        Ok(depth + 1)
    }
}

/// Appends `s` as a JSON string escaped exactly like Python's `json.dumps(ensure_ascii=False)`:
/// `"` `\` and `\n` `\r` `\t` `\b` `\f` get their short escapes, other control characters
/// below U+0020 become `\u00xx` (lowercase hex), everything else, DEL and U+2028 included, is
/// copied as raw UTF-8. This is also the encoding of Feast's plain-string 500 bodies.
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Copy unescaped runs in one go; only ASCII bytes are ever escaped, so splitting there
    // never cuts a UTF-8 sequence.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// Standard base64 with padding, as Feast's `base64.b64encode(...).decode()`. The alphabet
/// needs no JSON escaping, so it is encoded in place between the quotes.
fn write_base64(bytes: &[u8], out: &mut Vec<u8>) {
    let engine = &base64::engine::general_purpose::STANDARD;
    out.push(b'"');
    let start = out.len();
    let encoded = base64::encoded_len(bytes.len(), true).and_then(|len| {
        out.resize(start + len, 0);
        engine.encode_slice(bytes, &mut out[start..]).ok()
    });
    match encoded {
        Some(written) => out.truncate(start + written),
        // Only reachable if the length arithmetic overflowed, which no real buffer can do;
        // fall back to the allocating encoder rather than fail.
        None => {
            out.truncate(start);
            out.extend_from_slice(engine.encode(bytes).as_bytes());
        }
    }
    out.push(b'"');
}

/// Appends a float as Python's `repr()` writes it (see [`write_float_repr`]). NaN and ±Inf
/// are errors, because Python's server cannot encode them either.
pub fn write_python_float(x: f64, out: &mut Vec<u8>) -> Result<(), RenderError> {
    if !x.is_finite() {
        return Err(RenderError::NonFiniteFloat(x));
    }
    write_float_repr(x, out);
    Ok(())
}

/// Renders event timestamps as JSON strings, with the semantics of
/// `format_rfc3339(from_micros(micros))`: RFC 3339 UTC, `Z`, and 0, 3 or 6 fractional digits
/// (microseconds never need 9). chrono's formatter builds a `String` per cell, so it is only
/// the fallback for years outside 0000..=9999; the rest is written by hand into a stack
/// buffer, and the last text is kept because neighbouring cells often share a timestamp
/// (rows materialized in one batch, features of one view).
struct TimestampWriter {
    micros: i64,
    text: [u8; 32],
    len: usize,
}

impl TimestampWriter {
    fn new() -> Self {
        // `len == 0` marks the cache empty; micros 0 never reaches it.
        TimestampWriter {
            micros: 0,
            text: [0; 32],
            len: 0,
        }
    }

    fn write(&mut self, micros: i64, out: &mut Vec<u8>) {
        // Join keys, request data, ODFV outputs and misses all carry the epoch
        // (docs/feast-compat.md#event-timestamps).
        if micros == 0 {
            out.extend_from_slice(b"\"1970-01-01T00:00:00Z\"");
            return;
        }
        if micros != self.micros || self.len == 0 {
            match format_timestamp(micros, &mut self.text) {
                Some(len) => {
                    self.micros = micros;
                    self.len = len;
                }
                None => {
                    write_json_str(&format_rfc3339(from_micros(micros)), out);
                    return;
                }
            }
        }
        out.extend_from_slice(&self.text[..self.len]);
    }
}

/// `"YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z"` (quotes included) into `buf`, returning its length,
/// or `None` when the year is outside 0000..=9999, where chrono's `+YYYYY` form takes over.
fn format_timestamp(micros: i64, buf: &mut [u8; 32]) -> Option<usize> {
    let secs = micros.div_euclid(1_000_000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&year) {
        return None;
    }
    // All fields are now small and non-negative, so the narrowing casts are lossless.
    let year = year as u32;
    let second_of_day = secs.rem_euclid(86_400) as u32;
    let sub_micros = micros.rem_euclid(1_000_000) as u32;
    buf[0] = b'"';
    put2(buf, 1, year / 100);
    put2(buf, 3, year % 100);
    buf[5] = b'-';
    put2(buf, 6, month as u32);
    buf[8] = b'-';
    put2(buf, 9, day as u32);
    buf[11] = b'T';
    put2(buf, 12, second_of_day / 3600);
    buf[14] = b':';
    put2(buf, 15, second_of_day / 60 % 60);
    buf[17] = b':';
    put2(buf, 18, second_of_day % 60);
    let mut len = 20;
    if sub_micros != 0 {
        buf[20] = b'.';
        if sub_micros.is_multiple_of(1000) {
            let millis = sub_micros / 1000;
            buf[21] = b'0' + (millis / 100) as u8;
            put2(buf, 22, millis % 100);
            len = 24;
        } else {
            put2(buf, 21, sub_micros / 10_000);
            put2(buf, 23, sub_micros / 100 % 100);
            put2(buf, 25, sub_micros % 100);
            len = 27;
        }
    }
    buf[len] = b'Z';
    buf[len + 1] = b'"';
    Some(len + 2)
}

/// "00" to "99", so two digits cost one lookup instead of two divisions.
const DIGIT_PAIRS: [u8; 200] = {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
};

/// Writes the two low decimal digits of `n` at `buf[at..at + 2]`.
fn put2(buf: &mut [u8; 32], at: usize, n: u32) {
    let pair = (n % 100) as usize * 2;
    buf[at] = DIGIT_PAIRS[pair];
    buf[at + 1] = DIGIT_PAIRS[pair + 1];
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard Hinnant's
/// `civil_from_days`. Any `i64` microsecond count gives at most ~1.1e8 days, far from overflow.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1st
    let mp = (5 * doy + 2) / 153; // March-based month, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
