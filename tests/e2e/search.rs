//! Vector search with the real binary: /search (v1 and v2) and /retrieve-online-documents
//! over known vectors, every metric, filters, the error cases, and freshness after a push and
//! after a materialization run by another process.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use edgefeat::repo::rag_data::{Document, write_documents};
use serde_json::{Value, json};

use crate::http::Server;
use crate::support::run;

const DEFINITIONS: &str = r#"
entities:
  - name: doc
    join_keys: [doc_id]

data_sources:
  - name: docs_source
    type: file
    path: data/documents.parquet
    timestamp_field: event_timestamp
    created_timestamp_column: created
  - name: docs_push
    type: push
    batch_source: docs_source

feature_views:
  # No metric of its own: a v2 request's distance_metric chooses (L2 by default).
  - name: docs
    entities: [doc]
    schema:
      - {name: title, dtype: String}
      - {name: category, dtype: String}
      - {name: year, dtype: Int64}
      - {name: embedding, dtype: Array(Float32), vector_index: true, vector_length: 3}
    source: docs_push
  # The field's metric overrides the request's.
  - name: docs_ip
    entities: [doc]
    schema:
      - {name: title, dtype: String}
      - name: embedding
        dtype: Array(Float32)
        vector_index: true
        vector_length: 3
        vector_search_metric: inner_product
    source: docs_source
  - name: plain
    entities: [doc]
    schema:
      - {name: title, dtype: String}
    source: docs_source
"#;

fn doc(id: i64, title: &str, category: &str, year: i64, embedding: [f32; 3]) -> Document {
    Document {
        doc_id: id,
        title: title.into(),
        category: category.into(),
        year,
        embedding: embedding.to_vec(),
    }
}

/// The four documents every test starts from.
fn documents() -> Vec<Document> {
    vec![
        doc(1, "a", "x", 2020, [1.0, 0.0, 0.0]),
        doc(2, "b", "y", 2021, [0.0, 1.0, 0.0]),
        doc(3, "c", "x", 2022, [0.0, 0.0, 3.0]),
        doc(4, "d", "y", 2023, [1.0, 1.0, 0.0]),
    ]
}

/// When the documents happened.
const TS: &str = "2026-01-02T03:04:05Z";

/// A repo with the test definitions and `docs`, applied; materialized when asked.
fn repo_with(docs: &[Document], materialize: bool) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    run(tmp.path(), &["init", "search", "--template", "rag"]).success();
    let repo = tmp.path().join("search");
    std::fs::write(repo.join("feature_definitions.yaml"), DEFINITIONS).expect("definitions");
    write_parquet(&repo, docs);
    run(&repo, &["apply"]).success();
    if materialize {
        materialize_all(&repo);
    }
    (tmp, repo)
}

fn write_parquet(repo: &Path, docs: &[Document]) {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
        .single()
        .expect("a time");
    write_documents(&repo.join("data/documents.parquet"), docs, at).expect("documents written");
}

fn materialize_all(repo: &Path) {
    run(
        repo,
        &[
            "materialize",
            "2026-01-01T00:00:00",
            "2026-02-01T00:00:00",
            "--no-progress",
        ],
    )
    .success();
}

fn search(server: &Server, body: Value) -> Value {
    let r = server.post_json("/search", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The column named `name`.
fn column<'a>(resp: &'a Value, name: &str) -> &'a Value {
    let names = resp["metadata"]["feature_names"].as_array().expect("names");
    let i = names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no column {name} in {resp}"));
    &resp["results"][i]
}

/// The hits' ids; none when there are no hits (then Feast has no join-key column, and in v1
/// no column at all unless `distance` or the vector was asked for).
fn ids(resp: &Value) -> Vec<i64> {
    if resp["results"][0]["values"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        return Vec::new();
    }
    column(resp, "doc_id")["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v.as_i64().expect("an id"))
        .collect()
}

#[track_caller]
fn assert_distances(resp: &Value, want: &[f64]) {
    let got: Vec<f64> = column(resp, "distance")["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        // Distances are float32, as Feast's `float_val`.
        assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
    }
}

#[test]
fn v1_and_v2_answer_feast_shapes() {
    let (_tmp, repo) = repo_with(&documents(), true);
    let server = Server::start(&repo, &[]);
    let zero = "1970-01-01T00:00:00Z";
    // v1: only the requested names among join keys, the vector and `distance`, in request
    // order; every cell PRESENT at the zero time. `title` is not returned in v1.
    let v1 = json!({
        "features": ["docs:doc_id", "docs:distance", "docs:title", "docs:embedding"],
        "query": [1, 0, 0],
        "top_k": 2
    });
    let want_v1 = format!(
        r#"{{"results":[{{"values":[1,4],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{zero}","{zero}"]}},{{"values":[0.0,1.0],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{zero}","{zero}"]}},{{"values":[[1.0,0.0,0.0],[1.0,1.0,0.0]],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{zero}","{zero}"]}}],"metadata":{{"feature_names":["doc_id","distance","embedding"]}}}}"#
    );
    for route in ["/search", "/retrieve-online-documents"] {
        let r = server.post_json(route, &v1.to_string());
        assert_eq!((r.status, r.text()), (200, want_v1.clone()), "{route}");
    }
    // v2: the features, `distance`, then the join keys; feature cells carry the row's time.
    let r = server.post_json(
        "/search",
        &json!({
            "features": ["docs:title", "docs:year"],
            "query": [1, 0, 0],
            "top_k": 2,
            "api_version": 2
        })
        .to_string(),
    );
    assert_eq!(
        r.text(),
        format!(
            r#"{{"results":[{{"values":["a","d"],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}"]}},{{"values":[2020,2023],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}"]}},{{"values":[0.0,1.0],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}"]}},{{"values":[1,4],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{zero}","{zero}"]}}],"metadata":{{"feature_names":["title","year","distance","doc_id"]}}}}"#
        )
    );
    // A query_string adds `text_rank`, NOT_FOUND (no keyword ranking, as Feast's SQLite).
    let resp = search(
        &server,
        json!({"features": ["docs:title"], "query": [1, 0, 0], "query_string": "a", "top_k": 1, "api_version": 2}),
    );
    assert_eq!(
        resp["metadata"]["feature_names"],
        json!(["title", "distance", "text_rank", "doc_id"])
    );
    assert_eq!(
        column(&resp, "text_rank"),
        &json!({"values": [null], "statuses": ["NOT_FOUND"], "event_timestamps": [TS]})
    );
    // No hits: every column present and empty, no timestamps (and no join keys, as Feast).
    let r = server.post_json(
        "/search",
        &json!({"features": ["docs:title"], "query": [1, 0, 0], "top_k": 0, "api_version": 2})
            .to_string(),
    );
    assert_eq!(
        r.text(),
        r#"{"results":[{"values":[],"statuses":[]},{"values":[],"statuses":[]}],"metadata":{"feature_names":["title","distance"]}}"#
    );
}

#[test]
fn every_metric_ranks_and_measures_as_feast() {
    let (_tmp, repo) = repo_with(&documents(), true);
    let server = Server::start(&repo, &[]);
    let query = json!([2, 1, 0.5]);
    let v2 = |view: &str, metric: Option<&str>| {
        let mut body = json!({
            "features": [format!("{view}:title")],
            "query": query,
            "top_k": 10,
            "api_version": 2
        });
        if let Some(m) = metric {
            body["distance_metric"] = json!(m);
        }
        search(&server, body)
    };
    // L2: the Euclidean distance (the default).
    for metric in [None, Some("L2")] {
        let r = v2("docs", metric);
        assert_eq!(ids(&r), [4, 1, 2, 3]);
        assert_distances(&r, &[1.25f64.sqrt(), 1.5, 4.25f64.sqrt(), 11.25f64.sqrt()]);
    }
    // Cosine distance: 1 - cos.
    let norm_q = 5.25f64.sqrt();
    let r = v2("docs", Some("cosine"));
    assert_eq!(ids(&r), [4, 1, 2, 3]);
    assert_distances(
        &r,
        &[
            1.0 - 3.0 / (2f64.sqrt() * norm_q),
            1.0 - 2.0 / norm_q,
            1.0 - 1.0 / norm_q,
            1.0 - 1.5 / (3.0 * norm_q),
        ],
    );
    // Inner product: the negated dot product, so that smaller is closer.
    let r = v2("docs", Some("inner_product"));
    assert_eq!(ids(&r), [4, 1, 3, 2]);
    assert_distances(&r, &[-3.0, -2.0, -1.5, -1.0]);
    // The field's metric wins over the request's.
    let r = v2("docs_ip", Some("cosine"));
    assert_eq!(ids(&r), [4, 1, 3, 2]);
    assert_distances(&r, &[-3.0, -2.0, -1.5, -1.0]);
    // v1 searches with the field's metric too, L2 when it has none.
    let v1 = |view: &str| {
        search(
            &server,
            json!({"features": [format!("{view}:doc_id"), format!("{view}:distance")], "query": query, "top_k": 2}),
        )
    };
    assert_distances(&v1("docs"), &[1.25f64.sqrt(), 1.5]);
    assert_distances(&v1("docs_ip"), &[-3.0, -2.0]);
}

#[test]
fn filters_narrow_the_results_and_top_k_may_exceed_the_data() {
    let (_tmp, repo) = repo_with(&documents(), true);
    let server = Server::start(&repo, &[]);
    let filtered = |filters: Value| {
        ids(&search(
            &server,
            json!({"features": ["docs:title"], "query": [1, 0, 0], "top_k": 10, "api_version": 2, "filters": filters}),
        ))
    };
    // L2 from [1, 0, 0]: 1 (0), 4 (1), 2 (1.41), 3 (3.16).
    assert_eq!(filtered(Value::Null), [1, 4, 2, 3]);
    assert_eq!(
        filtered(json!({"type": "eq", "key": "category", "value": "y"})),
        [4, 2]
    );
    assert_eq!(
        filtered(json!({"type": "ne", "key": "category", "value": "y"})),
        [1, 3]
    );
    assert_eq!(
        filtered(json!({"type": "gte", "key": "year", "value": 2022})),
        [4, 3]
    );
    assert_eq!(
        filtered(json!({"type": "lt", "key": "year", "value": 2021.5})),
        [1, 2]
    );
    assert_eq!(
        filtered(json!({"type": "in", "key": "year", "value": [2021, 2022]})),
        [2, 3]
    );
    assert_eq!(
        filtered(json!({"type": "nin", "key": "title", "value": ["a", "b"]})),
        [4, 3]
    );
    assert_eq!(
        filtered(json!({"type": "and", "filters": [
            {"type": "eq", "key": "category", "value": "x"},
            {"type": "gt", "key": "year", "value": 2020}
        ]})),
        [3]
    );
    assert_eq!(
        filtered(json!({"type": "or", "filters": [
            {"type": "eq", "key": "title", "value": "c"},
            {"type": "lte", "key": "year", "value": 2020}
        ]})),
        [1, 3]
    );
    assert_eq!(
        filtered(json!({"type": "eq", "key": "category", "value": "none"})),
        Vec::<i64>::new()
    );
    // top_k counts matching documents.
    let r = search(
        &server,
        json!({"features": ["docs:title"], "query": [1, 0, 0], "top_k": 1, "api_version": 2,
               "filters": {"type": "eq", "key": "category", "value": "x"}}),
    );
    assert_eq!(ids(&r), [1]);
    // v1 does not take filters (Feast forwards them only for api_version 2).
    let r = search(
        &server,
        json!({"features": ["docs:doc_id"], "query": [1, 0, 0], "top_k": 1000,
               "filters": {"type": "eq", "key": "category", "value": "y"}}),
    );
    assert_eq!(ids(&r), [1, 4, 2, 3]);
    // A filter on something that is not a feature of the view is refused, not ignored.
    let r = server.post_json(
        "/search",
        &json!({"features": ["docs:title"], "query": [1, 0, 0], "api_version": 2,
                "filters": {"type": "eq", "key": "colour", "value": "red"}})
        .to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("cannot filter on `colour`"),
        "{}",
        r.text()
    );
}

#[test]
fn bad_searches_get_clear_errors() {
    let (_tmp, repo) = repo_with(&documents(), true);
    let server = Server::start(&repo, &[]);
    let post = |body: Value| {
        let r = server.post_json("/search", &body.to_string());
        (r.status, r.json())
    };
    let detail = |(status, body): (u16, Value)| {
        (
            status,
            body["detail"].as_str().unwrap_or_default().to_string(),
        )
    };
    // A query of the wrong length.
    let (status, message) = detail(post(
        json!({"features": ["docs:title"], "query": [1, 0], "api_version": 2}),
    ));
    assert_eq!(status, 400);
    assert_eq!(
        message,
        "the query has 2 values but vector field embedding of feature view docs has vector_length 3"
    );
    // A view without a vector field.
    let (status, message) = detail(post(
        json!({"features": ["plain:title"], "query": [1, 0, 0]}),
    ));
    assert_eq!(status, 400);
    assert!(
        message.starts_with("feature view plain has no vector field"),
        "{message}"
    );
    // An unknown metric (when the field has none).
    let (status, message) = detail(post(
        json!({"features": ["docs:title"], "query": [1, 0, 0], "api_version": 2, "distance_metric": "hamming"}),
    ));
    assert_eq!(
        (
            status,
            message.starts_with("unknown distance_metric `hamming`")
        ),
        (400, true),
        "{message}"
    );
    // No query at all: Feast's own message and status (v2).
    let (status, body) = post(json!({"features": ["docs:title"], "api_version": 2}));
    assert_eq!(
        (status, body),
        (
            500,
            json!("Must provide either query (text embedding), query_image_bytes, or query_string")
        )
    );
    // Feast's errors for the views.
    let (status, body) = post(json!({"features": ["nope:title"], "query": [1, 0, 0]}));
    assert_eq!(status, 404);
    assert!(
        body.as_str()
            .unwrap_or_default()
            .contains("FeatureViewNotFoundException"),
        "{body}"
    );
    let (status, body) =
        post(json!({"features": ["docs:title", "docs_ip:title"], "query": [1, 0, 0]}));
    assert_eq!(
        (status, body),
        (
            500,
            json!("Document retrieval only supports a single feature view.")
        )
    );
    // Caller errors Feast answers 500 for: a 400 the SDK does not retry.
    let (status, message) = detail(post(json!({"features": [], "query": [1, 0, 0]})));
    assert_eq!(
        (status, message.as_str()),
        (400, "No features specified for retrieval")
    );
    let (status, message) = detail(post(
        json!({"features": ["docs:title"], "query": [3.4e38, 3.4e38, 3.4e38]}),
    ));
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("overflow a 32-bit float"), "{message}");
    // Body validation is FastAPI's.
    let r = server.post_json(
        "/search",
        r#"{"features": ["docs:title"], "query": "text"}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text());
}

#[test]
fn a_pushed_document_is_found_by_the_next_search() {
    let (_tmp, repo) = repo_with(&documents(), true);
    let server = Server::start(&repo, &[]);
    let nearest = |query: Value| {
        ids(&search(
            &server,
            json!({"features": ["docs:doc_id"], "query": query, "top_k": 1}),
        ))
    };
    assert_eq!(nearest(json!([5, 5, 0])), [4]);
    let push = |id: i64, embedding: Value| {
        server.post_json(
            "/push",
            &json!({
                "push_source_name": "docs_push",
                "df": {"doc_id": [id], "title": ["new"], "category": ["z"], "year": [2026],
                       "embedding": [embedding], "event_timestamp": ["2026-03-01T00:00:00"],
                       "created": ["2026-03-01T00:00:00"]}
            })
            .to_string(),
        )
    };
    let r = push(5, json!([5, 5, 0]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(nearest(json!([5, 5, 0])), [5]);
    // An overwrite moves the document.
    assert_eq!(push(5, json!([-9, -9, -9])).status, 200);
    assert_eq!(nearest(json!([5, 5, 0])), [4]);
    assert_eq!(nearest(json!([-9, -9, -9])), [5]);
    // A vector of the wrong length is refused, naming the view, the field and both lengths,
    // and nothing is written.
    let r = push(6, json!([1, 2]));
    assert_eq!(r.status, 500);
    let message = r.json().as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("feature view docs, vector field embedding")
            && message.contains("has 2 values but vector_length is 3"),
        "{message}"
    );
    assert_eq!(nearest(json!([1, 2, 0])), [4]);
}

#[test]
fn a_materialization_by_another_process_is_found() {
    let (_tmp, repo) = repo_with(&documents(), false);
    let server = Server::start(&repo, &[]);
    let all = || {
        ids(&search(
            &server,
            json!({"features": ["docs:doc_id"], "query": [1, 0, 0], "top_k": 10}),
        ))
    };
    assert_eq!(all(), Vec::<i64>::new());
    materialize_all(&repo);
    assert_eq!(all(), [1, 4, 2, 3]);
}

#[test]
fn materialize_refuses_a_vector_of_the_wrong_length() {
    let mut docs = documents();
    docs[2].embedding = vec![1.0, 2.0, 3.0, 4.0];
    let (_tmp, repo) = repo_with(&docs, false);
    let r = run(
        &repo,
        &[
            "materialize",
            "2026-01-01T00:00:00",
            "2026-02-01T00:00:00",
            "--no-progress",
        ],
    )
    .failure();
    assert!(
        r.stderr.contains("vector field embedding")
            && r.stderr.contains("has 4 values but vector_length is 3"),
        "{}",
        r.stderr
    );
}

#[test]
fn apply_checks_vector_fields() {
    let (_tmp, repo) = repo_with(&documents(), false);
    let bad = DEFINITIONS.replace(
        "{name: year, dtype: Int64}",
        "{name: year, dtype: Int64, vector_index: true, vector_length: 3}",
    );
    std::fs::write(repo.join("feature_definitions.yaml"), bad).expect("definitions");
    let r = run(&repo, &["apply"]).failure();
    assert!(
        r.stderr
            .contains("vector field `year` of feature view `docs` has dtype Int64"),
        "{}",
        r.stderr
    );
    let bad = DEFINITIONS.replace(
        "{name: title, dtype: String}\n      - {name: category",
        "{name: title, dtype: Array(Float64), vector_index: true, vector_length: 3}\n      - {name: category",
    );
    std::fs::write(repo.join("feature_definitions.yaml"), bad).expect("definitions");
    let r = run(&repo, &["apply"]).failure();
    assert!(
        r.stderr
            .contains("has two vector fields, `title` and `embedding`"),
        "{}",
        r.stderr
    );
    let bad = DEFINITIONS.replace(
        "vector_index: true, vector_length: 3}",
        "vector_index: true}",
    );
    std::fs::write(repo.join("feature_definitions.yaml"), bad).expect("definitions");
    let r = run(&repo, &["apply"]).failure();
    assert!(r.stderr.contains("has no `vector_length`"), "{}", r.stderr);
}
