//! Pydantic v2 lax-mode validation on the Python objects `json.loads` produces: the 422
//! detail FastAPI answers, the field collector that reports every error at once, and the
//! string/boolean/integer/number/list/dict/literal validators with pydantic's messages.

use serde_json::{Map, Value};

/// One entry of FastAPI's 422 `detail` list (a pydantic error with `include_url=False`).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationDetail {
    /// Pydantic's error type, e.g. `"missing"`, `"string_type"`, `"json_invalid"`.
    pub kind: String,
    /// Where the error is: `["body", "entities", "driver_id"]`, `["body", "features", 0]`,
    /// `["query", "async"]`.
    pub loc: Vec<Value>,
    /// Pydantic's human-readable message, e.g. `"Field required"`.
    pub msg: String,
    /// The offending input (the whole model input for `missing`).
    pub input: Value,
    /// Extra context (`{"error": ...}` for `json_invalid`, `{"expected": ...}` for
    /// `literal_error`), omitted from the JSON when absent.
    pub ctx: Option<Value>,
}

impl ValidationDetail {
    /// The detail as FastAPI serializes it: `{"type","loc","msg","input"}` plus `"ctx"` when
    /// present, in that key order.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), Value::String(self.kind.clone()));
        map.insert("loc".into(), Value::Array(self.loc.clone()));
        map.insert("msg".into(), Value::String(self.msg.clone()));
        map.insert("input".into(), self.input.clone());
        if let Some(ctx) = &self.ctx {
            map.insert("ctx".into(), ctx.clone());
        }
        Value::Object(map)
    }
}

pub(crate) type Details = Vec<ValidationDetail>;

/// The location of the value being validated, extended and shortened while descending. A
/// newtype so the check functions share one signature whatever they do with it.
pub(crate) struct Loc(Vec<Value>);

impl std::ops::Deref for Loc {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.0
    }
}

impl std::ops::DerefMut for Loc {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }
}

pub(crate) const MISSING: &str = "Field required";
const STRING_TYPE: &str = "Input should be a valid string";
const BOOL_TYPE: &str = "Input should be a valid boolean";
pub(crate) const BOOL_PARSING: &str = "Input should be a valid boolean, unable to interpret input";
pub(crate) const INT_TYPE: &str = "Input should be a valid integer";
pub(crate) const INT_PARSING: &str =
    "Input should be a valid integer, unable to parse string as an integer";
pub(crate) const INT_FROM_FLOAT: &str =
    "Input should be a valid integer, got a number with a fractional part";
pub(crate) const INT_PARSING_SIZE: &str =
    "Unable to parse input string as an integer, exceeded maximum size";
const FINITE_NUMBER: &str = "Input should be a finite number";
const FLOAT_TYPE: &str = "Input should be a valid number";
const FLOAT_PARSING: &str = "Input should be a valid number, unable to parse string as a number";
const LIST_TYPE: &str = "Input should be a valid list";
const DICT_TYPE: &str = "Input should be a valid dictionary";
const MODEL_ATTRIBUTES_TYPE: &str =
    "Input should be a valid dictionary or object to extract fields from";

pub(crate) fn detail(kind: &str, loc: &[Value], msg: &str, input: Value) -> ValidationDetail {
    ValidationDetail {
        kind: kind.into(),
        loc: loc.to_vec(),
        msg: msg.into(),
        input,
        ctx: None,
    }
}

/// The fields of one model instance being validated: errors accumulate so that all of them
/// are reported at once, and a field that fails yields a placeholder that is never returned.
pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    /// The model's whole input, which pydantic echoes in `missing` errors.
    input: &'a Value,
    loc: Loc,
    errors: Details,
}

impl<'a> Fields<'a> {
    /// A request body model, located at `["body"]`.
    pub(crate) fn body(v: &'a Value) -> Result<Self, Details> {
        Self::at(v, vec![Value::from("body")])
    }

    /// A model at `loc`. FastAPI validates with `from_attributes=True`, which is why anything
    /// but an object is `model_attributes_type` rather than `model_type`.
    pub(crate) fn at(v: &'a Value, loc: Vec<Value>) -> Result<Self, Details> {
        match v {
            Value::Object(obj) => Ok(Fields {
                obj,
                input: v,
                loc: Loc(loc),
                errors: Vec::new(),
            }),
            _ => Err(vec![detail(
                "model_attributes_type",
                &loc,
                MODEL_ATTRIBUTES_TYPE,
                v.clone(),
            )]),
        }
    }

    pub(crate) fn required<T: Default>(
        &mut self,
        name: &str,
        check: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
    ) -> T {
        match self.obj.get(name) {
            Some(v) => self.check(name, v, check),
            None => {
                self.loc.push(Value::from(name));
                self.errors
                    .push(detail("missing", &self.loc, MISSING, self.input.clone()));
                self.loc.pop();
                T::default()
            }
        }
    }

    pub(crate) fn optional<T: Default>(
        &mut self,
        name: &str,
        default: T,
        check: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
    ) -> T {
        match self.obj.get(name) {
            Some(v) => self.check(name, v, check),
            None => default,
        }
    }

    pub(crate) fn check<T: Default>(
        &mut self,
        name: &str,
        v: &Value,
        check: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
    ) -> T {
        self.loc.push(Value::from(name));
        let out = check(v, &mut self.loc, &mut self.errors);
        self.loc.pop();
        out.unwrap_or_default()
    }

    pub(crate) fn finish<T>(self, model: T) -> Result<T, Details> {
        if self.errors.is_empty() {
            Ok(model)
        } else {
            Err(self.errors)
        }
    }
}

/// Runs `validate` on `v` with field `name` moved out (when `movable`) and replaced by an empty
/// object, then `restore`s it into the result. The placeholder is valid wherever the real
/// value was, so success is unchanged; on failure `validate` runs again on the untouched
/// document, because `missing` errors echo the whole input.
pub(crate) fn with_field_moved<T>(
    mut v: Value,
    name: &str,
    movable: impl Fn(&Value) -> bool,
    validate: impl Fn(&Value) -> Result<T, Details>,
    restore: impl FnOnce(&mut T, Value),
) -> Result<T, Details> {
    let slot = v
        .as_object_mut()
        .and_then(|m| m.get_mut(name))
        .filter(|slot| movable(slot));
    let Some(slot) = slot else {
        return validate(&v);
    };
    let taken = std::mem::replace(slot, Value::Object(Map::new()));
    match validate(&v) {
        Ok(mut model) => {
            restore(&mut model, taken);
            Ok(model)
        }
        Err(_) => {
            if let Some(slot) = v.as_object_mut().and_then(|m| m.get_mut(name)) {
                *slot = taken;
            }
            validate(&v)
        }
    }
}

pub(crate) fn string(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        _ => {
            errors.push(detail("string_type", loc, STRING_TYPE, v.clone()));
            None
        }
    }
}

pub(crate) fn anything(v: &Value, _loc: &mut Loc, _errors: &mut Details) -> Option<Value> {
    Some(v.clone())
}

pub(crate) fn dict(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m.clone()),
        _ => {
            errors.push(detail("dict_type", loc, DICT_TYPE, v.clone()));
            None
        }
    }
}

/// pydantic's lax bool: booleans; the ints 0 and 1 (other ints are `bool_parsing`); floats
/// equal to 0 or 1 likewise (a fractional or huge float is `bool_type`); the strings of
/// [`str_as_bool`]; nothing else.
pub(crate) fn boolean(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<bool> {
    let parsed = match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => str_as_bool(s).ok_or(("bool_parsing", BOOL_PARSING)),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(_) => Err(("bool_parsing", BOOL_PARSING)),
            // Beyond i64 Python goes through float, like a JSON float does.
            None => match n.as_f64().map(float_as_int) {
                Some(Ok(0)) => Ok(false),
                Some(Ok(1)) => Ok(true),
                Some(Ok(_)) => Err(("bool_parsing", BOOL_PARSING)),
                _ => Err(("bool_type", BOOL_TYPE)),
            },
        },
        _ => Err(("bool_type", BOOL_TYPE)),
    };
    parsed
        .map_err(|(kind, msg)| errors.push(detail(kind, loc, msg, v.clone())))
        .ok()
}

/// pydantic's `str_as_bool`: exact (untrimmed) strings, letters compared case-insensitively.
pub(crate) fn str_as_bool(s: &str) -> Option<bool> {
    const FALSE: &[&str] = &["f", "n", "no", "off", "false"];
    const TRUE: &[&str] = &["t", "y", "on", "yes", "true"];
    if s == "0" || FALSE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(false)
    } else if s == "1" || TRUE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(true)
    } else {
        None
    }
}

/// pydantic's lax int: ints; bools (as 0/1); floats without a fractional part; integer
/// strings (see [`str_as_int`]). Python ints are unbounded but ours are `i64`: pydantic
/// accepts a larger int, so it is clamped to the i64 range here rather than refused (Feast's
/// int fields are `top_k`, where that means "no limit", and `api_version`, only ever compared
/// with 2). A JSON integer beyond u64 reaches us as a float, though, and gets pydantic's float
/// treatment (`int_parsing_size`).
pub(crate) fn integer(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<i64> {
    let parsed = match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(i),
            (None, Some(_), _) => Ok(i64::MAX),
            (None, None, Some(f)) => float_as_int(f),
            (None, None, None) => Err(("int_type", INT_TYPE)),
        },
        Value::String(s) => str_as_int(s),
        _ => Err(("int_type", INT_TYPE)),
    };
    parsed
        .map_err(|(kind, msg)| errors.push(detail(kind, loc, msg, v.clone())))
        .ok()
}

/// pydantic's `float_as_int`.
fn float_as_int(f: f64) -> Result<i64, (&'static str, &'static str)> {
    if !f.is_finite() {
        Err(("finite_number", FINITE_NUMBER))
    } else if f % 1.0 != 0.0 {
        Err(("int_from_float", INT_FROM_FLOAT))
    } else if (i64::MIN as f64) < f && f < (i64::MAX as f64) {
        // In range and integral, so the conversion is exact.
        Ok(f as i64)
    } else {
        Err(("int_parsing_size", INT_PARSING_SIZE))
    }
}

/// pydantic's `str_as_int`: a plain JSON-style integer, or else one cleaned up the way Python's
/// `int()` tolerates (surrounding whitespace, a `+`, leading zeros, `_` separators, a `.000`
/// tail).
fn str_as_int(s: &str) -> Result<i64, (&'static str, &'static str)> {
    const PARSING: (&str, &str) = ("int_parsing", INT_PARSING);
    if let Some(parsed) = plain_int(s) {
        return parsed;
    }
    match clean_int_str(s) {
        Some(cleaned) => plain_int(&cleaned).unwrap_or(Err(PARSING)),
        None => Err(PARSING),
    }
}

/// `-?(0|[1-9][0-9]*)` as an i64, clamped like [`integer`] does; `None` when `s` has another
/// shape.
fn plain_int(s: &str) -> Option<Result<i64, (&'static str, &'static str)>> {
    // Python refuses to convert longer digit strings (its `int_max_str_digits`).
    const MAX_DIGITS: usize = 4300;
    let (negative, digits) = match s.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, s),
    };
    let well_formed = match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    well_formed.then(|| match s.parse::<i64>() {
        Ok(i) => Ok(i),
        Err(_) if digits.len() > MAX_DIGITS => Err(("int_parsing_size", INT_PARSING_SIZE)),
        // Well-formed, so the only other failure is overflow.
        Err(_) => Ok(if negative { i64::MIN } else { i64::MAX }),
    })
}

/// pydantic-core's `clean_int_str`.
fn clean_int_str(original: &str) -> Option<String> {
    let mut s = original.trim();
    if let Some(rest) = s.strip_prefix('+') {
        if rest.starts_with('-') {
            return None;
        }
        s = rest;
    }
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        if rest.starts_with('-') || rest.starts_with('+') {
            return None;
        }
        negative = true;
        s = rest;
    }
    s = strip_leading_zeros(s)?;
    if let Some(i) = s.find('.') {
        let decimals = &s[i + 1..];
        if !decimals.is_empty() && decimals.chars().all(|c| c == '0') {
            s = &s[..i];
        }
    }
    let sign = if negative { "-" } else { "" };
    if let Some(stripped) = strip_underscores(s) {
        return Some(format!("{sign}{stripped}"));
    }
    if original.len() == s.len() {
        return None;
    }
    Some(format!("{sign}{s}"))
}

/// pydantic-core's `strip_leading_zeros`: `000` -> `0`, `00.0` -> `0.0`, `0_001` -> `1`.
fn strip_leading_zeros(s: &str) -> Option<&str> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '0')) => {}
        Some((_, c)) if c.is_ascii_digit() || c == '-' => return Some(s),
        _ => return None,
    }
    for (i, c) in chars {
        match c {
            '0' | '_' => {}
            '1'..='9' | '-' => return s.get(i..),
            // Keep the zero before the point. Everything before `i` is ASCII.
            '.' => return s.get(i - 1..),
            _ => return None,
        }
    }
    // All zeros (or underscores): keep the last character.
    s.get(s.len() - 1..)
}

/// pydantic-core's `strip_underscores`: `1_000` -> `1000`; `None` when there are none or they
/// are misplaced (leading, trailing, doubled), as Python's `int()` refuses those.
fn strip_underscores(s: &str) -> Option<String> {
    if s.starts_with('_') || s.ends_with('_') || !s.contains('_') || s.contains("__") {
        None
    } else {
        Some(s.replace('_', ""))
    }
}

/// pydantic's lax float: numbers, bools (0.0/1.0), and strings Rust's `f64` parser accepts
/// (pydantic-core uses it too, so `"nan"`, `"inf"`, `" 1e3 "`, `"1_0.5"` all pass).
pub(crate) fn number(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<f64> {
    let parsed = match v {
        Value::Number(n) => n.as_f64().ok_or(("float_type", FLOAT_TYPE)),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .or_else(|| strip_underscores(s).and_then(|t| t.parse().ok()))
            .ok_or(("float_parsing", FLOAT_PARSING)),
        _ => Err(("float_type", FLOAT_TYPE)),
    };
    parsed
        .map_err(|(kind, msg)| errors.push(detail(kind, loc, msg, v.clone())))
        .ok()
}

/// A list (only a JSON array is one); element errors are located by their integer index.
pub(crate) fn list<T>(
    v: &Value,
    loc: &mut Loc,
    errors: &mut Details,
    element: impl Fn(&Value, &mut Loc, &mut Details) -> Option<T>,
) -> Option<Vec<T>> {
    let Value::Array(items) = v else {
        errors.push(detail("list_type", loc, LIST_TYPE, v.clone()));
        return None;
    };
    let mut out = Some(Vec::with_capacity(items.len()));
    for (i, item) in items.iter().enumerate() {
        loc.push(Value::from(i));
        let checked = element(item, loc, errors);
        loc.pop();
        match (checked, &mut out) {
            (Some(x), Some(out)) => out.push(x),
            _ => out = None,
        }
    }
    out
}

/// `Optional[...]`: `null` is `None`, anything else must pass `inner` (whose errors are
/// reported as they are, without a union label).
pub(crate) fn nullable<T>(
    v: &Value,
    loc: &mut Loc,
    errors: &mut Details,
    inner: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
) -> Option<Option<T>> {
    match v {
        Value::Null => Some(None),
        _ => inner(v, loc, errors).map(Some),
    }
}

/// `Dict[str, List[Any]]`: an object whose values are lists, located by key.
pub(crate) fn entities(
    v: &Value,
    loc: &mut Loc,
    errors: &mut Details,
) -> Option<Vec<(String, Vec<Value>)>> {
    let Value::Object(map) = v else {
        errors.push(detail("dict_type", loc, DICT_TYPE, v.clone()));
        return None;
    };
    let mut out = Some(Vec::with_capacity(map.len()));
    for (key, values) in map {
        loc.push(Value::from(key.as_str()));
        let checked = list(values, loc, errors, anything);
        loc.pop();
        match (checked, &mut out) {
            (Some(values), Some(out)) => out.push((key.clone(), values)),
            _ => out = None,
        }
    }
    out
}

/// A `Literal[...]` of strings: only an exactly equal string passes.
pub(crate) fn literal(
    v: &Value,
    loc: &mut Loc,
    errors: &mut Details,
    allowed: &[&str],
) -> Option<String> {
    if let Value::String(s) = v
        && allowed.contains(&s.as_str())
    {
        return Some(s.clone());
    }
    // pydantic lists the choices as Python reprs: "'a', 'b' or 'c'".
    let reprs: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    let expected = match reprs.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let mut ctx = Map::new();
    ctx.insert("expected".into(), Value::from(expected.as_str()));
    errors.push(ValidationDetail {
        kind: "literal_error".into(),
        loc: loc.to_vec(),
        msg: format!("Input should be {expected}"),
        input: v.clone(),
        ctx: Some(Value::Object(ctx)),
    });
    None
}
