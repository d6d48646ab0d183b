//! Declared field types (`dtype`), written the way Feast's Python types are: `Int64`,
//! `Array(Float32)`, `Struct{name: String, age: String}`.
//!
//! A dtype is kept in the registry as its canonical text, so the registry stays readable and
//! a later release can add types without a format change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Feast field type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float (`FLOAT` on the wire).
    Float32,
    /// 64-bit float (`DOUBLE` on the wire).
    Float64,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// UTF-8 text.
    String,
    /// Raw bytes (base64 in JSON).
    Bytes,
    /// Boolean.
    Bool,
    /// A point in time, seconds since the Unix epoch.
    UnixTimestamp,
    /// A map from string keys to values of any type (Feast's untyped `Map`).
    Map,
    /// A JSON document kept as text.
    Json,
    /// A record with named, typed fields, in declaration order.
    Struct(Vec<(String, DType)>),
    /// A list of values of one type.
    Array(Box<DType>),
}

/// Feast's `ValueType` enum (`protos/feast/types/Value.proto`); the numbers are the wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are the protobuf enum's
pub enum ValueType {
    Bytes = 1,
    String = 2,
    Int32 = 3,
    Int64 = 4,
    Double = 5,
    Float = 6,
    Bool = 7,
    UnixTimestamp = 8,
    BytesList = 11,
    StringList = 12,
    Int32List = 13,
    Int64List = 14,
    DoubleList = 15,
    FloatList = 16,
    BoolList = 17,
    UnixTimestampList = 18,
    Map = 20,
    MapList = 21,
    Json = 32,
    JsonList = 33,
    Struct = 34,
    StructList = 35,
    ValueList = 42,
}

impl ValueType {
    /// The protobuf enum name, as Feast prints it (`ValueType.INT64` without the prefix).
    pub fn proto_name(self) -> &'static str {
        match self {
            ValueType::Bytes => "BYTES",
            ValueType::String => "STRING",
            ValueType::Int32 => "INT32",
            ValueType::Int64 => "INT64",
            ValueType::Double => "DOUBLE",
            ValueType::Float => "FLOAT",
            ValueType::Bool => "BOOL",
            ValueType::UnixTimestamp => "UNIX_TIMESTAMP",
            ValueType::BytesList => "BYTES_LIST",
            ValueType::StringList => "STRING_LIST",
            ValueType::Int32List => "INT32_LIST",
            ValueType::Int64List => "INT64_LIST",
            ValueType::DoubleList => "DOUBLE_LIST",
            ValueType::FloatList => "FLOAT_LIST",
            ValueType::BoolList => "BOOL_LIST",
            ValueType::UnixTimestampList => "UNIX_TIMESTAMP_LIST",
            ValueType::Map => "MAP",
            ValueType::MapList => "MAP_LIST",
            ValueType::Json => "JSON",
            ValueType::JsonList => "JSON_LIST",
            ValueType::Struct => "STRUCT",
            ValueType::StructList => "STRUCT_LIST",
            ValueType::ValueList => "VALUE_LIST",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proto_name())
    }
}

/// The scalar dtype names, in the order the error message lists them.
const SCALARS: [(&str, DType); 10] = [
    ("Float32", DType::Float32),
    ("Float64", DType::Float64),
    ("Int32", DType::Int32),
    ("Int64", DType::Int64),
    ("String", DType::String),
    ("Bytes", DType::Bytes),
    ("Bool", DType::Bool),
    ("UnixTimestamp", DType::UnixTimestamp),
    ("Map", DType::Map),
    ("Json", DType::Json),
];

impl DType {
    /// The protobuf `ValueType` Feast stores for a field of this dtype.
    pub fn value_type(&self) -> ValueType {
        match self {
            DType::Float32 => ValueType::Float,
            DType::Float64 => ValueType::Double,
            DType::Int32 => ValueType::Int32,
            DType::Int64 => ValueType::Int64,
            DType::String => ValueType::String,
            DType::Bytes => ValueType::Bytes,
            DType::Bool => ValueType::Bool,
            DType::UnixTimestamp => ValueType::UnixTimestamp,
            DType::Map => ValueType::Map,
            DType::Json => ValueType::Json,
            DType::Struct(_) => ValueType::Struct,
            DType::Array(inner) => match **inner {
                DType::Float32 => ValueType::FloatList,
                DType::Float64 => ValueType::DoubleList,
                DType::Int32 => ValueType::Int32List,
                DType::Int64 => ValueType::Int64List,
                DType::String => ValueType::StringList,
                DType::Bytes => ValueType::BytesList,
                DType::Bool => ValueType::BoolList,
                DType::UnixTimestamp => ValueType::UnixTimestampList,
                DType::Map => ValueType::MapList,
                DType::Json => ValueType::JsonList,
                DType::Struct(_) => ValueType::StructList,
                // Feast stores nested collections as a VALUE_LIST plus a tag naming the
                // inner type; the dtype text keeps the full nesting for us.
                DType::Array(_) => ValueType::ValueList,
            },
        }
    }

    /// Whether values of this dtype can be part of an entity key. Serialization v3 only
    /// encodes these (docs/feast-compat.md#value-types-and-entity-keys); anything else would
    /// fail at the first read.
    pub fn is_key_type(&self) -> bool {
        matches!(
            self,
            DType::Int32 | DType::Int64 | DType::String | DType::Bytes | DType::UnixTimestamp
        )
    }

    /// Parses a dtype written as Feast's Python does.
    pub fn parse(text: &str) -> Result<DType, DTypeError> {
        let mut p = Parser { text, pos: 0 };
        let t = p.dtype()?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(p.error(format!("unexpected `{}` after the type", p.rest())));
        }
        Ok(t)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::Struct(fields) => {
                f.write_str("Struct{")?;
                for (i, (name, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    // Quoted unless a plain identifier, so the text parses back (a registry
                    // keeps dtypes as this text): `Struct{"home town": String}`.
                    let ident = !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if ident {
                        write!(f, "{name}: {t}")?;
                    } else {
                        let quote = if name.contains('"') { '\'' } else { '"' };
                        write!(f, "{quote}{name}{quote}: {t}")?;
                    }
                }
                f.write_str("}")
            }
            DType::Array(inner) => write!(f, "Array({inner})"),
            scalar => {
                let name = SCALARS
                    .iter()
                    .find(|(_, t)| t == scalar)
                    .map_or("?", |(n, _)| *n);
                f.write_str(name)
            }
        }
    }
}

impl FromStr for DType {
    type Err = DTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DType::parse(s)
    }
}

impl Serialize for DType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DType::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a dtype could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dtype `{text}`: {reason}")]
pub struct DTypeError {
    /// The whole text that was parsed.
    pub text: String,
    /// What is wrong, and what would be right.
    pub reason: String,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn error(&self, reason: String) -> DTypeError {
        DTypeError {
            text: self.text.to_string(),
            reason,
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, context: &str) -> Result<(), DTypeError> {
        if self.eat(c) {
            Ok(())
        } else {
            let found = self
                .rest()
                .chars()
                .next()
                .map_or_else(|| "the end of the text".to_string(), |ch| format!("`{ch}`"));
            Err(self.error(format!("expected `{c}` {context}, found {found}")))
        }
    }

    fn ident(&mut self) -> &str {
        self.skip_ws();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        let start = self.pos;
        self.pos += len;
        &self.text[start..self.pos]
    }

    fn dtype(&mut self) -> Result<DType, DTypeError> {
        let name = self.ident().to_string();
        match name.as_str() {
            "Array" => {
                self.expect('(', "after `Array`")?;
                let inner = self.dtype()?;
                self.expect(')', "to close `Array(`")?;
                Ok(DType::Array(Box::new(inner)))
            }
            "Struct" => self.struct_fields(),
            "" => Err(self.error(format!("expected a type name; {}", valid_names()))),
            other => match SCALARS.iter().find(|(n, _)| *n == other) {
                Some((_, t)) => Ok(t.clone()),
                None => {
                    let hint = SCALARS
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(["Array", "Struct"])
                        .find(|n| n.eq_ignore_ascii_case(other))
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    Err(self.error(format!("unknown type `{other}`; {hint}{}", valid_names())))
                }
            },
        }
    }

    /// `Struct{a: T, b: U}`, also in Python's spelling `Struct({"a": T, "b": U})`.
    fn struct_fields(&mut self) -> Result<DType, DTypeError> {
        let parenthesized = self.eat('(');
        self.expect('{', "to open the fields of `Struct`")?;
        let mut fields: Vec<(String, DType)> = Vec::new();
        loop {
            if self.eat('}') {
                break;
            }
            let name = self.field_name()?;
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(self.error(format!("struct field `{name}` is declared twice")));
            }
            self.expect(':', &format!("after struct field name `{name}`"))?;
            let t = self.dtype()?;
            fields.push((name, t));
            if !self.eat(',') {
                self.expect('}', "or `,` between struct fields")?;
                break;
            }
        }
        if fields.is_empty() {
            return Err(self.error("a `Struct` needs at least one field".to_string()));
        }
        if parenthesized {
            self.expect(')', "to close `Struct(`")?;
        }
        Ok(DType::Struct(fields))
    }

    fn field_name(&mut self) -> Result<String, DTypeError> {
        self.skip_ws();
        let quote = self
            .rest()
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'');
        if let Some(q) = quote {
            self.pos += 1;
            let Some(end) = self.rest().find(q) else {
                return Err(self.error(format!("unterminated quoted struct field name (`{q}`)")));
            };
            let name = self.rest()[..end].to_string();
            self.pos += end + 1;
            if name.is_empty() {
                return Err(self.error("a struct field name is empty".to_string()));
            }
            return Ok(name);
        }
        let name = self.ident().to_string();
        if name.is_empty() {
            return Err(self.error("expected a struct field name".to_string()));
        }
        Ok(name)
    }
}

fn valid_names() -> String {
    let names: Vec<&str> = SCALARS.iter().map(|(n, _)| *n).collect();
    format!(
        "valid types are {}, Array(T) and Struct{{field: T, ...}}",
        names.join(", ")
    )
}

#[cfg(test)]
#[path = "dtype_tests.rs"]
mod tests;
