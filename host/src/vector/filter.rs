//! Metadata filters of a v2 search (Feast's `ComparisonFilter` and `CompoundFilter`), checked
//! against the view's other features.
//!
//! The comparison rules are those of Feast's SQLite store, which compares a number or a bool
//! with the stored number (`value_num`, bools as 0/1) and a string with the stored string
//! (`value_text`): here a number or bool compares with an `Int32`, `Int64`, `Float32`,
//! `Float64`, `Bool` or `UnixTimestamp` feature (as `f64`), and a string with a `String`
//! feature. A document whose feature is null, missing, or of the other kind matches no
//! comparison (not even `ne` or `nin`), as a row absent from SQLite's subquery matches none.
//! An empty `and`/`or` matches everything, as Feast's translator then adds no clause.

use std::cmp::Ordering;

use serde_json::Value as Json;

use crate::registry::FeatureView;
use crate::types::Value;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
    /// `in`: equal to one of a list.
    In,
    /// `nin`: equal to none of a list.
    Nin,
}

impl Op {
    /// Parses Feast's operator names.
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" => Op::Nin,
            _ => return None,
        })
    }
}

/// A filter as a request gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `{"type": op, "key": feature, "value": ...}`.
    Comparison {
        /// The operator.
        op: Op,
        /// The feature compared.
        key: String,
        /// What it is compared with.
        value: Json,
    },
    /// `{"type": "and"|"or", "filters": [...]}`.
    Compound {
        /// `and` (true) or `or` (false).
        all: bool,
        /// The parts.
        filters: Vec<Filter>,
    },
}

/// A scalar a filter compares with.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Number(f64),
    Text(String),
}

/// A filter checked against a view: feature names resolved to positions in [`Compiled::features`].
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The features the filter reads, in the order [`Compiled::matches`] expects their values.
    pub features: Vec<String>,
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Compare {
        op: Op,
        feature: usize,
        operands: Vec<Operand>,
    },
    All(Vec<Node>),
    Any(Vec<Node>),
}

impl Compiled {
    /// Checks `filter` against `view`: every key must be a scalar feature of the view (not
    /// its vector field), every value a number, bool or string (a list of them for `in` and
    /// `nin`). The error says what is wrong and what would do.
    pub fn new(
        filter: &Filter,
        view: &FeatureView,
        vector_field: &str,
    ) -> Result<Compiled, String> {
        let mut features = Vec::new();
        let root = compile(filter, view, vector_field, &mut features)?;
        Ok(Compiled { features, root })
    }

    /// Whether a document matches, given the values of [`Compiled::features`] in its row
    /// (`None` for a feature the row lacks).
    pub fn matches(&self, values: &[Option<Value>]) -> bool {
        eval(&self.root, values)
    }
}

fn operand(v: &Json, key: &str) -> Result<Operand, String> {
    match v {
        Json::Bool(b) => Ok(Operand::Number(if *b { 1.0 } else { 0.0 })),
        Json::Number(n) => n
            .as_f64()
            .map(Operand::Number)
            .ok_or_else(|| format!("filter on `{key}`: {n} is not a number")),
        Json::String(s) => Ok(Operand::Text(s.clone())),
        other => Err(format!(
            "filter on `{key}`: the value {other} is not a number, bool or string"
        )),
    }
}

fn compile(
    filter: &Filter,
    view: &FeatureView,
    vector_field: &str,
    features: &mut Vec<String>,
) -> Result<Node, String> {
    match filter {
        Filter::Compound { all, filters } => {
            let nodes = filters
                .iter()
                .map(|f| compile(f, view, vector_field, features))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if *all {
                Node::All(nodes)
            } else {
                Node::Any(nodes)
            })
        }
        Filter::Comparison { op, key, value } => {
            if key == vector_field {
                return Err(format!(
                    "cannot filter on `{key}`: it is the vector field of feature view {}",
                    view.name
                ));
            }
            if !view.features.iter().any(|f| f.name == *key) {
                let names: Vec<&str> = view
                    .features
                    .iter()
                    .map(|f| f.name.as_str())
                    .filter(|n| *n != vector_field)
                    .collect();
                return Err(format!(
                    "cannot filter on `{key}`: feature view {} has no such feature (filters apply to its features: {})",
                    view.name,
                    names.join(", ")
                ));
            }
            let operands = match op {
                Op::In | Op::Nin => match value {
                    Json::Array(items) => items
                        .iter()
                        .map(|v| operand(v, key))
                        .collect::<Result<Vec<_>, _>>()?,
                    other => {
                        let name = if *op == Op::In { "in" } else { "nin" };
                        return Err(format!(
                            "'{name}' filter requires a list value, got {other}"
                        ));
                    }
                },
                _ => vec![operand(value, key)?],
            };
            let feature = match features.iter().position(|f| f == key) {
                Some(i) => i,
                None => {
                    features.push(key.clone());
                    features.len() - 1
                }
            };
            Ok(Node::Compare {
                op: *op,
                feature,
                operands,
            })
        }
    }
}

/// A stored value as the kind of operand it compares with.
fn stored(value: &Value) -> Option<Operand> {
    Some(match value {
        Value::Int32(x) => Operand::Number(f64::from(*x)),
        Value::Int64(x) | Value::UnixTimestamp(x) => Operand::Number(*x as f64),
        Value::Float(x) => Operand::Number(f64::from(*x)),
        Value::Double(x) => Operand::Number(*x),
        Value::Bool(b) => Operand::Number(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => Operand::Text(s.clone()),
        _ => return None,
    })
}

/// Compares like kinds only; `None` when the kinds differ (or a NaN is involved).
fn compare(a: &Operand, b: &Operand) -> Option<Ordering> {
    match (a, b) {
        (Operand::Number(x), Operand::Number(y)) => x.partial_cmp(y),
        (Operand::Text(x), Operand::Text(y)) => Some(x.as_str().cmp(y.as_str())),
        _ => None,
    }
}

fn eval(node: &Node, values: &[Option<Value>]) -> bool {
    match node {
        Node::All(nodes) => nodes.iter().all(|n| eval(n, values)),
        Node::Any(nodes) => nodes.is_empty() || nodes.iter().any(|n| eval(n, values)),
        Node::Compare {
            op,
            feature,
            operands,
        } => {
            let Some(doc) = values
                .get(*feature)
                .and_then(Option::as_ref)
                .and_then(stored)
            else {
                return false;
            };
            let first = || operands.first().and_then(|o| compare(&doc, o));
            match op {
                Op::Eq => first() == Some(Ordering::Equal),
                Op::Ne => first().is_some_and(|o| o != Ordering::Equal),
                Op::Gt => first() == Some(Ordering::Greater),
                Op::Gte => first().is_some_and(|o| o != Ordering::Less),
                Op::Lt => first() == Some(Ordering::Less),
                Op::Lte => first().is_some_and(|o| o != Ordering::Greater),
                Op::In => operands
                    .iter()
                    .any(|o| compare(&doc, o) == Some(Ordering::Equal)),
                // A stored value of the other kind is not "in" the list, but it is no match
                // for `nin` either: SQLite compares it in a column where it has no value.
                Op::Nin => {
                    let kind_matches = match &doc {
                        Operand::Number(_) => {
                            operands.iter().all(|o| matches!(o, Operand::Number(_)))
                        }
                        Operand::Text(_) => operands.iter().all(|o| matches!(o, Operand::Text(_))),
                    };
                    kind_matches
                        && !operands
                            .iter()
                            .any(|o| compare(&doc, o) == Some(Ordering::Equal))
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
