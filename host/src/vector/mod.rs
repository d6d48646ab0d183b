//! Vector search over the online store (`/search`, `/retrieve-online-documents`).
//!
//! A feature view may declare one vector field: an `Array(Float32)` or `Array(Float64)` feature
//! with `vector_index: true`, a `vector_length` and optionally a `vector_search_metric`
//! ([`VectorIndex`]). Its vectors are searched exactly (every vector is scored) from an
//! in-memory copy kept per view ([`index`]): contiguous `f32`s, row-major, so the distance
//! loops ([`kernels`]) stream memory and auto-vectorize. The copy follows the LMDB store through
//! a per-table generation counter and change log (see [`crate::online::TableVersion`]), so a
//! push is searchable by the next request and a `materialize` run by another process is picked
//! up too. Filters on the view's other features are in [`filter`].
//!
//! Distances are Feast's (pgvector's and sqlite-vec's): L2 is the Euclidean distance, cosine
//! is `1 - cos(q, d)`, inner product is `-(q · d)`; smaller is always closer.

pub mod filter;
pub mod index;
pub mod kernels;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::online::WriteRow;
use crate::registry::{FeatureView, Field};
use crate::types::{DType, Value};

/// The longest vector a field may declare: far above any embedding model in use, low enough
/// that a typo (an extra zero or three) is caught at apply.
pub const MAX_VECTOR_LENGTH: u32 = 65_536;

/// How distances are measured (Feast's `vector_search_metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// Euclidean distance, `sqrt(Σ (qᵢ - dᵢ)²)`.
    #[serde(rename = "L2")]
    L2,
    /// Cosine distance, `1 - (q · d) / (|q| |d|)`; a zero vector is at distance 1 from all.
    #[serde(rename = "cosine")]
    Cosine,
    /// Negative inner product, `-(q · d)`, so that smaller is closer as for the others.
    #[serde(rename = "inner_product")]
    InnerProduct,
}

impl Metric {
    /// The metrics, in the order messages list them.
    pub const ALL: [Metric; 3] = [Metric::L2, Metric::Cosine, Metric::InnerProduct];

    /// Feast's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::L2 => "L2",
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "inner_product",
        }
    }

    /// Parses Feast's names, case-insensitively (Feast passes them to stores that differ in
    /// case: `L2` for pgvector, `l2` for sqlite-vec).
    pub fn parse(text: &str) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The accepted names, for error messages.
    pub fn names() -> String {
        Metric::ALL
            .iter()
            .map(|m| format!("`{}`", m.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The vector index of a field (Feast's `vector_index`, `vector_length`,
/// `vector_search_metric` of `FeatureSpecV2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorIndex {
    /// How many numbers every vector holds.
    pub vector_length: u32,
    /// The metric the field is searched with; when absent, the request's `distance_metric`
    /// (v2) or L2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_search_metric: Option<Metric>,
}

/// Whether `dtype` can carry a vector: `Array(Float32)` or `Array(Float64)`.
pub fn is_vector_dtype(dtype: &DType) -> bool {
    matches!(dtype, DType::Array(inner) if matches!(**inner, DType::Float32 | DType::Float64))
}

/// The view's vector field and its index, if it declares one (validation allows at most one).
pub fn vector_field(view: &FeatureView) -> Option<(&Field, &VectorIndex)> {
    view.features
        .iter()
        .find_map(|f| f.vector_index.as_ref().map(|v| (f, v)))
}

/// Why a vector value does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VectorError {
    /// The wrong number of elements.
    #[error("has {got} values but vector_length is {expected}")]
    Length {
        /// The declared length.
        expected: u32,
        /// The length given.
        got: usize,
    },
    /// An element that is not a finite number (a null, NaN or infinity).
    #[error("element {index} is {what}, not a finite number")]
    Element {
        /// Its position.
        index: usize,
        /// What it is.
        what: String,
    },
    /// Not a list at all.
    #[error("is not a list of numbers")]
    NotAList,
}

/// Checks one stored value of a vector field and converts it to `f32`s: `None` for a null
/// (a document without a vector, which is stored but not searchable).
pub fn to_f32(value: &Value, index: &VectorIndex) -> Result<Option<Vec<f32>>, VectorError> {
    let items = match value {
        Value::Null => return Ok(None),
        Value::List(items) => items,
        _ => return Err(VectorError::NotAList),
    };
    if items.len() != index.vector_length as usize {
        return Err(VectorError::Length {
            expected: index.vector_length,
            got: items.len(),
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = match v {
                Value::Float(x) => *x,
                // Search runs in f32 (as sqlite-vec's float[] columns do).
                Value::Double(x) => *x as f32,
                other => {
                    return Err(VectorError::Element {
                        index: i,
                        what: format!("{other:?}"),
                    });
                }
            };
            if x.is_finite() {
                Ok(x)
            } else {
                Err(VectorError::Element {
                    index: i,
                    what: format!("{x}"),
                })
            }
        })
        .collect::<Result<Vec<f32>, _>>()
        .map(Some)
}

/// Refuses rows whose vector does not fit the view's vector field, before anything is written:
/// `names` are the features the rows hold values for, in order. The message names the view,
/// the field, the entity row, and the expected and given lengths.
pub fn check_rows(view: &FeatureView, names: &[&str], rows: &[WriteRow]) -> Result<(), String> {
    let Some((field, index)) = vector_field(view) else {
        return Ok(());
    };
    let Some(at) = names.iter().position(|n| *n == field.name) else {
        return Ok(());
    };
    for (row, r) in rows.iter().enumerate() {
        if let Some(value) = r.values.get(at)
            && let Err(e) = to_f32(value, index)
        {
            return Err(format!(
                "feature view {}, vector field {}, row {row}: the vector {e}; every vector of {} must hold exactly {} numbers",
                view.name, field.name, field.name, index.vector_length
            ));
        }
    }
    Ok(())
}
