//! Writing YAML that reads back exactly: the definitions and `feature_store.yaml` that
//! `edgefeat import` writes.
//!
//! The repo reads YAML with serde-saphyr and writes none otherwise, so this is a small block
//! emitter over a tree of [`Yaml`] nodes rather than a serializer. Its one job is that every
//! string reads back as the same string: a string is written plain only when it is made of
//! ASCII letters, digits, spaces and `_ . / -`, starts with a letter, `_` or `/`, does not end
//! with a space, and is not a word YAML reads as something else (`yes`, `no`, `on`, `null`,
//! `true`, ...); everything else is double-quoted, with every character YAML could fold, drop
//! or refuse written as an escape.

use std::fmt::Write as _;

/// A YAML value to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    /// A string: reads back as exactly this text.
    Str(String),
    /// Text written as is, unquoted, when that is valid YAML (else quoted as a [`Yaml::Str`]):
    /// for `$VAR` references in `feature_store.yaml`, whose expanded value must keep the type
    /// it has when written plain (a number stays a number).
    Verbatim(String),
    /// An integer.
    Int(i64),
    /// A non-negative integer beyond `i64`.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// `null`.
    Null,
    /// A sequence.
    Seq(Vec<Yaml>),
    /// A mapping, in the order given.
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    /// A string node.
    pub fn str(text: impl Into<String>) -> Yaml {
        Yaml::Str(text.into())
    }

    /// A sequence of strings.
    pub fn strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Yaml {
        Yaml::Seq(
            items
                .into_iter()
                .map(|s| Yaml::Str(s.as_ref().to_string()))
                .collect(),
        )
    }

    /// A mapping of strings to strings.
    pub fn str_map<'a>(items: impl IntoIterator<Item = (&'a String, &'a String)>) -> Yaml {
        Yaml::Map(
            items
                .into_iter()
                .map(|(k, v)| (k.clone(), Yaml::Str(v.clone())))
                .collect(),
        )
    }

    /// A JSON value as YAML (for `feature_store.yaml`, read into JSON values).
    pub fn from_json(value: &serde_json::Value) -> Yaml {
        match value {
            serde_json::Value::Null => Yaml::Null,
            serde_json::Value::Bool(b) => Yaml::Bool(*b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Yaml::Int(i),
                (None, Some(u), _) => Yaml::UInt(u),
                (None, None, Some(f)) => Yaml::Float(f),
                // Not reachable with serde_json's number kinds; keep the text.
                (None, None, None) => Yaml::Verbatim(n.to_string()),
            },
            serde_json::Value::String(s) => Yaml::Str(s.clone()),
            serde_json::Value::Array(items) => {
                Yaml::Seq(items.iter().map(Yaml::from_json).collect())
            }
            serde_json::Value::Object(map) => Yaml::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Yaml::from_json(v)))
                    .collect(),
            ),
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Yaml::Seq(_) | Yaml::Map(_))
    }
}

/// Writes a document: the mapping `doc`. Its entries are separated by blank lines, and so
/// are the mappings of a top-level entry's sequence (one object per paragraph, as people
/// write definitions).
pub fn to_yaml(doc: &[(String, Yaml)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        entry(&mut out, 0, k, v, true);
    }
    out
}

/// Longer keys are written as explicit keys (`? key`): YAML limits an implicit key to 1024
/// characters.
const MAX_IMPLICIT_KEY: usize = 1000;

/// Writes `key: value` from the current position (the caller has written any indentation).
fn entry(out: &mut String, indent: usize, k: &str, v: &Yaml, top: bool) {
    let key = scalar_text(k);
    if key.chars().count() > MAX_IMPLICIT_KEY {
        out.push_str("? ");
        out.push_str(&key);
        out.push('\n');
        pad(out, indent);
    } else {
        out.push_str(&key);
    }
    out.push(':');
    value_after_key(out, indent, v, top);
}

/// `[]`/`{}` for empty collections, a one-line `[a, b]` for a short list of scalars.
fn flow_or_empty(v: &Yaml) -> Option<String> {
    match v {
        Yaml::Seq(items) if items.is_empty() => Some("[]".into()),
        Yaml::Map(entries) if entries.is_empty() => Some("{}".into()),
        Yaml::Seq(items)
            if items
                .iter()
                .all(|i| i.is_scalar() && !matches!(i, Yaml::Verbatim(_))) =>
        {
            let parts: Vec<String> = items.iter().map(node_scalar).collect();
            let line = format!("[{}]", parts.join(", "));
            (line.len() <= 72).then_some(line)
        }
        _ => None,
    }
}

/// Writes what follows `key:` at `indent`: a scalar on the same line, a collection below.
fn value_after_key(out: &mut String, indent: usize, v: &Yaml, top: bool) {
    if v.is_scalar() {
        out.push(' ');
        out.push_str(&node_scalar(v));
        out.push('\n');
    } else if let Some(flow) = flow_or_empty(v) {
        out.push(' ');
        out.push_str(&flow);
        out.push('\n');
    } else {
        out.push('\n');
        match v {
            Yaml::Map(entries) => map_entries(out, indent + 2, entries),
            _ => seq_items(out, indent + 2, v, top),
        }
    }
}

fn map_entries(out: &mut String, indent: usize, entries: &[(String, Yaml)]) {
    for (k, v) in entries {
        pad(out, indent);
        entry(out, indent, k, v, false);
    }
}

/// The items of a sequence, each `- ` at `indent`; `spaced`: a blank line between mappings.
fn seq_items(out: &mut String, indent: usize, v: &Yaml, spaced: bool) {
    let Yaml::Seq(items) = v else { return };
    for (i, item) in items.iter().enumerate() {
        if spaced && i > 0 && matches!(item, Yaml::Map(_)) {
            out.push('\n');
        }
        pad(out, indent);
        out.push('-');
        match item {
            Yaml::Map(entries) if !entries.is_empty() => {
                // The first entry on the dash's line, the others aligned under it.
                let (k, first) = &entries[0];
                out.push(' ');
                entry(out, indent + 2, k, first, false);
                map_entries(out, indent + 2, &entries[1..]);
            }
            other if other.is_scalar() => {
                out.push(' ');
                out.push_str(&node_scalar(other));
                out.push('\n');
            }
            other => match flow_or_empty(other) {
                Some(flow) => {
                    out.push(' ');
                    out.push_str(&flow);
                    out.push('\n');
                }
                None => {
                    out.push('\n');
                    seq_items(out, indent + 2, other, false);
                }
            },
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn node_scalar(v: &Yaml) -> String {
    match v {
        Yaml::Str(s) => scalar_text(s),
        Yaml::Verbatim(s) if plain_in_block(s) => s.clone(),
        Yaml::Verbatim(s) => quoted(s),
        Yaml::Int(i) => i.to_string(),
        Yaml::UInt(u) => u.to_string(),
        Yaml::Float(f) if f.is_nan() => ".nan".into(),
        Yaml::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        // Debug keeps the `.0` of a whole float, so it reads back as a float.
        Yaml::Float(f) => format!("{f:?}"),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => "null".into(),
        Yaml::Seq(_) | Yaml::Map(_) => String::new(),
    }
}

/// Words a YAML reader may take for a boolean, a null or a number (YAML 1.1 and 1.2 alike),
/// compared without case.
const RESERVED: [&str; 12] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "infinity",
];

/// The text of a string scalar: plain when that cannot be misread, else double-quoted.
pub fn scalar_text(s: &str) -> String {
    let mut chars = s.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | ' '))
        && !s.ends_with(' ')
        && !RESERVED.iter().any(|w| w.eq_ignore_ascii_case(s));
    if plain { s.to_string() } else { quoted(s) }
}

/// A double-quoted scalar. Escaped: the quote and backslash, every control character (C0,
/// DEL, C1: YAML refuses some and folds line breaks), the Unicode line and paragraph
/// separators, the byte-order mark and the two noncharacters YAML excludes.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether text can be written as a plain scalar in block context: no surrounding space, no
/// character [`quoted`] escapes, no indicator first, no `: ` or ` #` inside, no `:` at the end.
fn plain_in_block(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && s.trim() == s
        && !s
            .chars()
            .any(|c| quoted(&c.to_string()).len() > c.len_utf8() + 2)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
}

#[cfg(test)]
#[path = "yaml_emit_tests.rs"]
mod tests;
