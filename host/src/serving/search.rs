//! Document search (`/search`, `/retrieve-online-documents`; docs/feast-compat.md#search):
//! the query embedding against one feature view's vector field, exact top-k, with Feast's two
//! response shapes.
//!
//! * **v1** (`api_version` 1, Feast's `retrieve_online_documents`): only the requested names
//!   among the view's join keys, its vector field and `distance` are returned, in request
//!   order, every cell `PRESENT` with the zero timestamp.
//! * **v2** (`api_version: 2`, `retrieve_online_documents_v2`): the requested features, then
//!   `distance`, then `text_rank` when a `query_string` was given, then the join keys; feature
//!   cells carry the document's event timestamp, `NOT_FOUND` where the document lacks the
//!   feature (always for `text_rank`: there is no keyword ranking, as on Feast's SQLite store
//!   with vector search on); join keys are `PRESENT` with the zero timestamp.
//!
//! Hits are in ranking order (closest first, ties by entity key) in every column. Feast's v2
//! puts feature values in entity-key order while its join keys stay in ranking order, which
//! pairs documents with the wrong keys; that is not reproduced.

use crate::online::{OnlineStore, ReadRow, Table};
use crate::registry::{FeatureView, Registry};
use crate::serving::response::{FieldStatus, OnlineResponse, ResponseColumn};
use crate::serving::{ServingError, split_ref};
use crate::types::{Value, deserialize_entity_key};
use crate::vector::filter::{Compiled, Filter};
use crate::vector::index::{Hit, Indexes};
use crate::vector::kernels::Query;
use crate::vector::{Metric, vector_field};

/// `top_k` when a request gives none (Feast has no default; OpenAI's `max_num_results` is 10).
pub const DEFAULT_TOP_K: usize = 10;

/// The most hits one search returns, whatever `top_k` asks: a response beyond that is a
/// dump of the view, not a search.
pub const MAX_TOP_K: usize = 10_000;

/// A search request (Feast's `GetOnlineDocumentsRequest`, minus what only the HTTP layer reads).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest<'a> {
    /// A feature service whose features to return, instead of `features`.
    pub feature_service: Option<&'a str>,
    /// `view:feature` references, all of one view.
    pub features: &'a [String],
    /// How many documents; [`DEFAULT_TOP_K`] when absent.
    pub top_k: Option<i64>,
    /// The query embedding.
    pub query: Option<&'a [f64]>,
    /// A text query (v2): accepted, ranks nothing (`text_rank` is `NOT_FOUND`).
    pub query_string: Option<&'a str>,
    /// The metric (v2), used when the vector field declares none.
    pub distance_metric: Option<&'a str>,
    /// 2 selects the v2 response; anything else is v1 (Feast compares with 2).
    pub api_version: i64,
    /// Filters on the view's other features (v2).
    pub filters: Option<&'a Filter>,
}

/// Why a search failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// What Feast answers too (its envelope, or a 500 with the message).
    #[error(transparent)]
    Serving(#[from] ServingError),
    /// A request that cannot be served as asked (a query of the wrong length, a view without a
    /// vector field, a bad filter or metric): answered 400 with the message, where Feast fails
    /// with a 500 that the SDK would retry.
    #[error("{0}")]
    BadRequest(String),
}

impl From<SearchError> for ServingError {
    /// A bad request is FastAPI's 400 `{"detail": ...}`.
    fn from(e: SearchError) -> ServingError {
        match e {
            SearchError::Serving(e) => e,
            SearchError::BadRequest(message) => ServingError::detail(400, message),
        }
    }
}

fn bad(message: String) -> SearchError {
    SearchError::BadRequest(message)
}

/// Resolves the references to one feature view and the feature names asked of it, in order.
fn resolve<'r>(
    registry: &'r Registry,
    req: &SearchRequest<'_>,
) -> Result<(&'r FeatureView, Vec<String>), SearchError> {
    let project = registry.project.spec.name.as_str();
    let refs: Vec<(String, String)> = match req.feature_service {
        Some(name) => {
            let fs = registry
                .feature_services
                .get(name)
                .ok_or_else(|| ServingError::service_not_found(name, project))?;
            fs.spec
                .features
                .iter()
                .flat_map(|p| {
                    p.feature_columns
                        .iter()
                        .map(|f| (p.feature_view_name.clone(), f.clone()))
                })
                .collect()
        }
        None => req
            .features
            .iter()
            .map(|r| split_ref(r).map(|(v, f)| (v.to_string(), f.to_string())))
            .collect::<Result<_, _>>()?,
    };
    if refs.is_empty() {
        // Feast answers 500; it is the caller's to fix, so a 400 the SDK will not retry.
        return Err(bad("No features specified for retrieval".into()));
    }
    let mut views: Vec<&FeatureView> = Vec::new();
    for (name, _) in &refs {
        let view = match registry.feature_views.get(name) {
            Some(v) => &v.spec,
            None if registry.on_demand_feature_views.contains_key(name) => {
                return Err(bad(format!(
                    "on demand feature view {name} cannot be searched: only a feature view with a vector field can"
                )));
            }
            None => return Err(ServingError::view_not_found(name, project).into()),
        };
        if !views.iter().any(|v| v.name == view.name) {
            views.push(view);
        }
    }
    if views.len() > 1 {
        return Err(ServingError::Other(
            "Document retrieval only supports a single feature view.".into(),
        )
        .into());
    }
    Ok((views[0], refs.into_iter().map(|(_, f)| f).collect()))
}

/// Runs a search: resolve, check, rank, read the hits' rows, and shape the response.
pub fn search(
    registry: &Registry,
    store: &dyn OnlineStore,
    indexes: &Indexes,
    req: &SearchRequest<'_>,
) -> Result<OnlineResponse, SearchError> {
    let (view, names) = resolve(registry, req)?;
    let v2 = req.api_version == 2;
    let Some((field, spec)) = vector_field(view) else {
        return Err(bad(format!(
            "feature view {} has no vector field to search: give one Array(Float32) feature `vector_index: true` and a `vector_length` (see docs/definitions.md#vector-fields)",
            view.name
        )));
    };
    let query = match (req.query, v2, req.query_string) {
        (Some(q), _, _) => q,
        (None, false, _) => {
            return Err(bad(
                "`query` is required: the query embedding, a list of numbers".into(),
            ));
        }
        (None, true, None) => {
            return Err(ServingError::Other(
                "Must provide either query (text embedding), query_image_bytes, or query_string"
                    .into(),
            )
            .into());
        }
        (None, true, Some(_)) => {
            return Err(bad(
                "a query_string alone cannot be searched: edgefeat ranks by the query embedding only (send it in `query`; `text_rank` is then NOT_FOUND, as on Feast's SQLite store)".into(),
            ));
        }
    };
    if query.len() != spec.vector_length as usize {
        return Err(bad(format!(
            "the query has {} values but vector field {} of feature view {} has vector_length {}",
            query.len(),
            field.name,
            view.name,
            spec.vector_length
        )));
    }
    let query: Vec<f32> = query.iter().map(|x| *x as f32).collect();
    if let Some(i) = query.iter().position(|x| !x.is_finite()) {
        return Err(bad(format!(
            "query element {i} is out of the range of a 32-bit float"
        )));
    }
    // The field's metric wins (Feast's v2); v1 never forwards the request's.
    let metric = match (spec.vector_search_metric, v2, req.distance_metric) {
        (Some(m), _, _) => m,
        (None, true, Some(name)) => Metric::parse(name).ok_or_else(|| {
            bad(format!(
                "unknown distance_metric `{name}`: use one of {}",
                Metric::names()
            ))
        })?,
        _ => Metric::L2,
    };
    let k = match req.top_k {
        None => DEFAULT_TOP_K,
        Some(k) if k < 0 => return Err(bad(format!("top_k must be 0 or more, not {k}"))),
        Some(k) => usize::try_from(k).unwrap_or(usize::MAX).min(MAX_TOP_K),
    };
    let filter = match (v2, req.filters) {
        (true, Some(f)) => Some(Compiled::new(f, view, &field.name).map_err(bad)?),
        _ => None,
    };

    let table = Table {
        project: &registry.project.spec.name,
        view: &view.name,
    };
    let store_error =
        |e: anyhow::Error| SearchError::Serving(ServingError::Other(format!("{e:#}")));
    let vectors = indexes
        .current(store, table, &field.name, spec)
        .map_err(store_error)?;
    let prepared = Query::new(&query, metric);
    let hits = match &filter {
        None => vectors.search(&prepared, k),
        Some(filter) => {
            let features: Vec<&str> = filter.features.iter().map(String::as_str).collect();
            let mut ranked = vectors.ranked(&prepared);
            let mut hits: Vec<Hit> = Vec::with_capacity(k);
            // Documents are read closest first in growing batches until `k` match: a
            // selective filter costs reads, not a full sort.
            let mut batch = (k * 4).max(64);
            while hits.len() < k {
                let candidates = ranked.next_batch(batch);
                if candidates.is_empty() {
                    break;
                }
                let keys: Vec<&[u8]> = candidates.iter().map(|h| &*h.entity_key).collect();
                let rows = store.read(table, &keys, &features).map_err(store_error)?;
                for (hit, row) in candidates.iter().zip(rows) {
                    if hits.len() < k && row.is_some_and(|r| filter.matches(&r.values)) {
                        hits.push(hit.clone());
                    }
                }
                batch = batch.saturating_mul(4);
            }
            hits
        }
    };
    // A query this large overflows the distance of a 32-bit float, which JSON cannot carry:
    // the caller's to fix, not a server failure.
    if hits.iter().any(|h| !h.distance.is_finite()) {
        return Err(bad(format!(
            "the query's distances to the documents of {} overflow a 32-bit float: scale the query embedding down",
            view.name
        )));
    }
    if v2 {
        respond_v2(
            store,
            table,
            view,
            &names,
            req.query_string.is_some(),
            &hits,
        )
    } else {
        respond_v1(store, table, &field.name, &names, &hits)
    }
}

/// The join keys of each hit, as (name, value) in the key's (sorted) order.
fn join_keys(hits: &[Hit]) -> Result<Vec<Vec<(String, Value)>>, SearchError> {
    hits.iter()
        .map(|h| {
            deserialize_entity_key(&h.entity_key).map_err(|e| {
                SearchError::Serving(ServingError::Other(format!(
                    "a damaged entity key in the online store: {e}"
                )))
            })
        })
        .collect()
}

fn read_rows(
    store: &dyn OnlineStore,
    table: Table<'_>,
    hits: &[Hit],
    features: &[&str],
) -> Result<Vec<Option<ReadRow>>, SearchError> {
    let keys: Vec<&[u8]> = hits.iter().map(|h| &*h.entity_key).collect();
    store
        .read(table, &keys, features)
        .map_err(|e| SearchError::Serving(ServingError::Other(format!("{e:#}"))))
}

fn column(
    values: Vec<Value>,
    statuses: Vec<FieldStatus>,
    event_ts_micros: Vec<i64>,
) -> ResponseColumn {
    ResponseColumn {
        values,
        statuses,
        event_ts_micros,
    }
}

fn respond_v1(
    store: &dyn OnlineStore,
    table: Table<'_>,
    vector: &str,
    names: &[String],
    hits: &[Hit],
) -> Result<OnlineResponse, SearchError> {
    let keys = join_keys(hits)?;
    let is_key = |n: &str| keys.first().is_some_and(|k| k.iter().any(|(k, _)| k == n));
    let mut out = OnlineResponse::default();
    let mut vectors: Option<Vec<Option<ReadRow>>> = None;
    let present = || vec![FieldStatus::Present; hits.len()];
    for name in names {
        if out.feature_names.contains(name) {
            continue;
        }
        let values: Vec<Value> = if name == "distance" {
            hits.iter().map(|h| Value::Float(h.distance)).collect()
        } else if name == vector {
            let rows = match &vectors {
                Some(rows) => rows,
                None => vectors.insert(read_rows(store, table, hits, &[vector])?),
            };
            rows.iter()
                .map(|r| {
                    r.as_ref()
                        .and_then(|r| r.values.first().cloned().flatten())
                        .unwrap_or(Value::Null)
                })
                .collect()
        } else if is_key(name) {
            keys.iter()
                .map(|k| {
                    k.iter()
                        .find(|(n, _)| n == name)
                        .map_or(Value::Null, |(_, v)| v.clone())
                })
                .collect()
        } else {
            // Feast returns only join keys, the vector and the distance in v1.
            continue;
        };
        out.feature_names.push(name.clone());
        out.columns
            .push(column(values, present(), vec![0; hits.len()]));
    }
    Ok(out)
}

fn respond_v2(
    store: &dyn OnlineStore,
    table: Table<'_>,
    view: &FeatureView,
    names: &[String],
    text_query: bool,
    hits: &[Hit],
) -> Result<OnlineResponse, SearchError> {
    let keys = join_keys(hits)?;
    let key_names: Vec<&str> = keys
        .first()
        .map(|k| k.iter().map(|(n, _)| n.as_str()).collect())
        .unwrap_or_default();
    // Names that have their own place in the response are not repeated as features.
    let mut features: Vec<&str> = Vec::new();
    for n in names {
        let taken = n == "distance"
            || n == "text_rank"
            || key_names.contains(&n.as_str())
            || view.entity_columns.iter().any(|c| c.name == *n);
        if !taken && !features.contains(&n.as_str()) {
            features.push(n);
        }
    }
    let rows = read_rows(store, table, hits, &features)?;
    let ts: Vec<i64> = rows
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.event_ts_micros))
        .collect();
    let mut out = OnlineResponse::default();
    for (i, name) in features.iter().enumerate() {
        let (values, statuses) = rows
            .iter()
            .map(|r| match r.as_ref().and_then(|r| r.values[i].clone()) {
                Some(v) => (v, FieldStatus::Present),
                None => (Value::Null, FieldStatus::NotFound),
            })
            .unzip();
        out.feature_names.push(name.to_string());
        out.columns.push(column(values, statuses, ts.clone()));
    }
    out.feature_names.push("distance".into());
    out.columns.push(column(
        hits.iter().map(|h| Value::Float(h.distance)).collect(),
        vec![FieldStatus::Present; hits.len()],
        ts.clone(),
    ));
    if text_query {
        out.feature_names.push("text_rank".into());
        out.columns.push(column(
            vec![Value::Null; hits.len()],
            vec![FieldStatus::NotFound; hits.len()],
            ts,
        ));
    }
    for (i, name) in key_names.iter().enumerate() {
        out.feature_names.push(name.to_string());
        out.columns.push(column(
            keys.iter()
                .map(|k| k.get(i).map_or(Value::Null, |(_, v)| v.clone()))
                .collect(),
            vec![FieldStatus::Present; hits.len()],
            vec![0; hits.len()],
        ));
    }
    Ok(out)
}
