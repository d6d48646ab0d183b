//! Host-side columns and types of the plugin interface, and the casts between them and
//! edgefeat's own values: what crosses the boundary is decided here, once, for every world.

use crate::types::{DType, Value};

/// The type of a plugin field (WIT `value-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are the WIT enum's
pub enum PluginType {
    Bool,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    UnixTimestamp,
    Json,
    BoolList,
    Int32List,
    Int64List,
    Float32List,
    Float64List,
    StringList,
    BytesList,
    UnixTimestampList,
}

impl PluginType {
    /// The WIT name, as users write it in `describe()` and see it in errors.
    pub fn name(self) -> &'static str {
        use PluginType as T;
        match self {
            T::Bool => "bool",
            T::Int32 => "int32",
            T::Int64 => "int64",
            T::Float32 => "float32",
            T::Float64 => "float64",
            T::String => "string",
            T::Bytes => "bytes",
            T::UnixTimestamp => "unix-timestamp",
            T::Json => "json",
            T::BoolList => "bool-list",
            T::Int32List => "int32-list",
            T::Int64List => "int64-list",
            T::Float32List => "float32-list",
            T::Float64List => "float64-list",
            T::StringList => "string-list",
            T::BytesList => "bytes-list",
            T::UnixTimestampList => "unix-timestamp-list",
        }
    }

    /// The element type of a list type; `None` for scalars.
    pub fn element(self) -> Option<PluginType> {
        use PluginType as T;
        Some(match self {
            T::BoolList => T::Bool,
            T::Int32List => T::Int32,
            T::Int64List => T::Int64,
            T::Float32List => T::Float32,
            T::Float64List => T::Float64,
            T::StringList => T::String,
            T::BytesList => T::Bytes,
            T::UnixTimestampList => T::UnixTimestamp,
            _ => return None,
        })
    }

    fn is_numeric(self) -> bool {
        matches!(
            self,
            PluginType::Int32 | PluginType::Int64 | PluginType::Float32 | PluginType::Float64
        )
    }

    /// The plugin type a feature of `dtype` travels as. Map, Struct, Json and lists of
    /// anything but scalars travel as JSON text: WIT has no recursive types.
    pub fn of(dtype: &DType) -> PluginType {
        use PluginType as T;
        let scalar = |d: &DType| match d {
            DType::Bool => Some(T::Bool),
            DType::Int32 => Some(T::Int32),
            DType::Int64 => Some(T::Int64),
            DType::Float32 => Some(T::Float32),
            DType::Float64 => Some(T::Float64),
            DType::String => Some(T::String),
            DType::Bytes => Some(T::Bytes),
            DType::UnixTimestamp => Some(T::UnixTimestamp),
            _ => None,
        };
        match dtype {
            DType::Array(inner) => match scalar(inner) {
                Some(T::Bool) => T::BoolList,
                Some(T::Int32) => T::Int32List,
                Some(T::Int64) => T::Int64List,
                Some(T::Float32) => T::Float32List,
                Some(T::Float64) => T::Float64List,
                Some(T::String) => T::StringList,
                Some(T::Bytes) => T::BytesList,
                Some(T::UnixTimestamp) => T::UnixTimestampList,
                _ => T::Json,
            },
            other => scalar(other).unwrap_or(T::Json),
        }
    }

    /// Whether values of `dtype` can be handed to a plugin that declared this type: the same
    /// type, or a number for a number (an integer-valued float for an integer), or lists of
    /// such numbers.
    pub fn accepts(self, dtype: &DType) -> bool {
        compatible(PluginType::of(dtype), self)
    }

    /// Whether a plugin output of this type can serve a feature declared `dtype`.
    pub fn serves(self, dtype: &DType) -> bool {
        compatible(self, PluginType::of(dtype))
    }
}

fn compatible(a: PluginType, b: PluginType) -> bool {
    if a == b || (a.is_numeric() && b.is_numeric()) {
        return true;
    }
    matches!((a.element(), b.element()), (Some(x), Some(y)) if x.is_numeric() && y.is_numeric())
}

/// A named field of a plugin's inputs or outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginField {
    /// The column name.
    pub name: String,
    /// Its type.
    pub ty: PluginType,
}

/// What a transform plugin says of itself (`describe()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Its own name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The columns it needs.
    pub inputs: Vec<PluginField>,
    /// The columns it returns.
    pub outputs: Vec<PluginField>,
}

/// A column on the host side of a call: edgefeat values of one plugin type, `Null` for null.
#[derive(Debug, Clone, PartialEq)]
pub struct HostColumn {
    /// The column name.
    pub name: String,
    /// The type the values have (inputs are cast to it before the call).
    pub ty: PluginType,
    /// One value per row.
    pub values: Vec<Value>,
}

/// `value` as the plugin type `ty`, or `None` when it cannot be (a non-integral float for an
/// integer, a string for a number). JSON-typed values become JSON text.
pub fn to_plugin_value(value: &Value, ty: PluginType) -> Option<Value> {
    use PluginType as T;
    if matches!(value, Value::Null) {
        return Some(Value::Null);
    }
    Some(match ty {
        T::Bool => Value::Bool(match value {
            Value::Bool(b) => *b,
            _ => return None,
        }),
        T::Int32 => Value::Int32(i32::try_from(as_i64(value)?).ok()?),
        T::Int64 => Value::Int64(as_i64(value)?),
        T::Float32 => Value::Float(as_f64(value)? as f32),
        T::Float64 => Value::Double(as_f64(value)?),
        T::String => match value {
            Value::String(s) => Value::String(s.clone()),
            _ => return None,
        },
        T::Bytes => match value {
            Value::Bytes(b) => Value::Bytes(b.clone()),
            _ => return None,
        },
        T::UnixTimestamp => match value {
            Value::UnixTimestamp(s) | Value::Int64(s) => Value::UnixTimestamp(*s),
            _ => return None,
        },
        T::Json => Value::Json(match value {
            Value::Json(text) => text.clone(),
            other => crate::types::json::value_to_json(other.clone()).to_string(),
        }),
        list => {
            let element = list.element()?;
            let Value::List(items) = value else {
                return None;
            };
            Value::List(
                items
                    .iter()
                    .map(|v| to_plugin_value(v, element))
                    .collect::<Option<Vec<_>>>()?,
            )
        }
    })
}

/// [`to_plugin_value`], with an error naming the input when the value does not fit.
pub fn to_plugin_value_checked(
    value: &Value,
    ty: PluginType,
    input: &str,
) -> Result<Value, String> {
    to_plugin_value(value, ty).ok_or_else(|| {
        format!(
            "the value {} of input `{input}` cannot be passed as {}",
            crate::types::json::value_to_json(value.clone()),
            ty.name()
        )
    })
}

/// A plugin output value as a feature of `dtype`: numbers are cast, JSON text is parsed into
/// a Map or Struct. The error says what did not fit.
pub fn to_feature_value(value: Value, dtype: &DType) -> Result<Value, String> {
    if matches!(value, Value::Null) {
        return Ok(Value::Null);
    }
    let fail = |v: &Value| format!("a {} value cannot be a {dtype} feature", kind(v));
    Ok(match dtype {
        DType::Int32 => Value::Int32(
            as_i64(&value)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| fail(&value))?,
        ),
        DType::Int64 => Value::Int64(as_i64(&value).ok_or_else(|| fail(&value))?),
        DType::Float32 => Value::Float(as_f64(&value).ok_or_else(|| fail(&value))? as f32),
        DType::Float64 => Value::Double(as_f64(&value).ok_or_else(|| fail(&value))?),
        DType::Map | DType::Struct(_) => match &value {
            Value::Json(text) => {
                let json: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| format!("invalid JSON text: {e}"))?;
                crate::types::json::json_to_value(&json, dtype).map_err(|e| e.to_string())?
            }
            v => return Err(fail(v)),
        },
        DType::Json => match value {
            Value::Json(text) => {
                serde_json::from_str::<serde::de::IgnoredAny>(&text)
                    .map_err(|e| format!("invalid JSON text: {e}"))?;
                Value::Json(text)
            }
            v => return Err(fail(&v)),
        },
        DType::Array(inner) => match value {
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .map(|v| to_feature_value(v, inner))
                    .collect::<Result<_, _>>()?,
            ),
            v => return Err(fail(&v)),
        },
        DType::Bool | DType::String | DType::Bytes | DType::UnixTimestamp => {
            if PluginType::of(dtype) == plugin_type_of_value(&value) {
                value
            } else {
                return Err(fail(&value));
            }
        }
    })
}

fn plugin_type_of_value(v: &Value) -> PluginType {
    match v {
        Value::Bool(_) => PluginType::Bool,
        Value::String(_) => PluginType::String,
        Value::Bytes(_) => PluginType::Bytes,
        Value::UnixTimestamp(_) => PluginType::UnixTimestamp,
        Value::Int32(_) => PluginType::Int32,
        Value::Int64(_) => PluginType::Int64,
        Value::Float(_) => PluginType::Float32,
        Value::Double(_) => PluginType::Float64,
        _ => PluginType::Json,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "list",
        other => plugin_type_of_value(other).name(),
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int32(i) => Some(i64::from(*i)),
        Value::Int64(i) | Value::UnixTimestamp(i) => Some(*i),
        Value::Double(f) => float_to_i64(*f),
        Value::Float(f) => float_to_i64(f64::from(*f)),
        _ => None,
    }
}

fn float_to_i64(f: f64) -> Option<i64> {
    // Only integral values in range: 2.5 for an integer feature is a plugin bug to report,
    // not a number to round silently.
    (f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f))
        .then_some(f as i64)
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int32(i) => Some(f64::from(*i)),
        Value::Int64(i) => Some(*i as f64),
        Value::Double(f) => Some(*f),
        Value::Float(f) => Some(f64::from(*f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtypes_travel_as_their_plugin_types() {
        assert_eq!(PluginType::of(&DType::Float64), PluginType::Float64);
        assert_eq!(
            PluginType::of(&DType::Array(Box::new(DType::String))),
            PluginType::StringList
        );
        assert_eq!(PluginType::of(&DType::Map), PluginType::Json);
        assert_eq!(
            PluginType::of(&DType::Array(Box::new(DType::Map))),
            PluginType::Json
        );
    }

    #[test]
    fn numbers_are_compatible_and_strings_are_not() {
        assert!(PluginType::Float64.accepts(&DType::Int64));
        assert!(PluginType::Int32.serves(&DType::Float32));
        assert!(!PluginType::String.serves(&DType::Float64));
        assert!(PluginType::Float64List.accepts(&DType::Array(Box::new(DType::Int32))));
        assert!(!PluginType::Json.serves(&DType::String));
    }

    #[test]
    fn casts_keep_integers_exact_and_refuse_fractions() {
        assert_eq!(
            to_plugin_value(&Value::Int64(3), PluginType::Float64),
            Some(Value::Double(3.0))
        );
        assert_eq!(
            to_plugin_value(&Value::Double(3.0), PluginType::Int64),
            Some(Value::Int64(3))
        );
        assert_eq!(
            to_plugin_value(&Value::Double(2.5), PluginType::Int64),
            None
        );
        assert_eq!(
            to_feature_value(Value::Double(2.5), &DType::Int64).unwrap_err(),
            "a float64 value cannot be a Int64 feature"
        );
        assert_eq!(
            to_feature_value(Value::Int64(7), &DType::Float64),
            Ok(Value::Double(7.0))
        );
    }

    #[test]
    fn json_text_becomes_a_map() {
        let v = to_feature_value(Value::Json(r#"{"a": 1}"#.into()), &DType::Map).unwrap();
        assert_eq!(v, Value::Map(vec![("a".into(), Value::Int64(1))]));
        assert!(to_feature_value(Value::Json("{".into()), &DType::Json).is_err());
        assert_eq!(
            to_plugin_value(
                &Value::Map(vec![("a".into(), Value::Int64(1))]),
                PluginType::Json
            ),
            Some(Value::Json(r#"{"a":1}"#.into()))
        );
    }
}
