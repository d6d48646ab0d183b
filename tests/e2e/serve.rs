//! `edgefeat serve` over HTTP: golden JSON for the read API and its errors, with the real binary.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow_array::{
    ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;

use crate::http::Server;
use crate::support::{demo_repo, run};

/// 2026-11-20T10:00:00Z and 11:00 (the second driver).
const T1: i64 = 1_795_168_800;
const T2: i64 = 1_795_172_400;

/// A repo whose data is known exactly, so responses can be compared byte for byte.
pub(crate) fn known_repo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("shop");
    std::fs::create_dir_all(repo.join("data")).unwrap();
    std::fs::write(repo.join("feature_store.yaml"), "project: shop\n").unwrap();
    let utf8 = |n: &str| Field::new(n, DataType::Utf8, true);
    let meta_fields = Fields::from(vec![utf8("vehicle"), utf8("rating")]);
    let profile_fields = Fields::from(vec![utf8("name"), utf8("age")]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new(
            "event_timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("conv_rate", DataType::Float32, true),
        Field::new("trips", DataType::Int64, true),
        Field::new("meta", DataType::Struct(meta_fields.clone()), true),
        Field::new("config", DataType::Utf8, true),
        Field::new("profile", DataType::Struct(profile_fields.clone()), true),
    ]));
    let strings = |v: [&str; 3]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1001, 1002, 1003])),
        Arc::new(
            TimestampNanosecondArray::from(vec![
                T1 * 1_000_000_000,
                T2 * 1_000_000_000,
                T1 * 1_000_000_000,
            ])
            .with_timezone("UTC"),
        ),
        Arc::new(Float32Array::from(vec![Some(0.1), Some(0.25), None])),
        Arc::new(Int64Array::from(vec![Some(10), Some(-20), Some(30)])),
        Arc::new(StructArray::new(
            meta_fields,
            vec![
                strings(["suv", "sedan", "truck"]),
                strings(["4.5", "3.0", "5.0"]),
            ],
            None,
        )),
        strings([r#"{"zones": ["north"]}"#, r#"{"zones": []}"#, "{}"]),
        Arc::new(StructArray::new(
            profile_fields,
            vec![strings(["ann", "bob", "cy"]), strings(["33", "41", "29"])],
            None,
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(repo.join("data/drivers.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    std::fs::write(repo.join("defs.yaml"), DEFS).unwrap();
    run(&repo, &["apply"]).success();
    run(&repo, &["materialize", "2026-11-01", "2026-11-30"]).success();
    (tmp, repo)
}

const DEFS: &str = r#"
entities:
  - name: driver
    join_keys: [driver_id]
data_sources:
  - name: drivers
    type: file
    path: data/drivers.parquet
    timestamp_field: event_timestamp
feature_views:
  - name: stats
    entities: [driver]
    ttl: 1d
    source: drivers
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: trips, dtype: Int64}
      - {name: meta, dtype: Map}
      - {name: config, dtype: Json}
      - {name: profile, dtype: "Struct{name: String, age: String}"}
feature_services:
  - name: rates
    features:
      - view: stats
        features: [conv_rate]
  - name: renamed
    features:
      - view: stats
        features: [trips]
        alias: s2
"#;

const EPOCH: &str = "1970-01-01T00:00:00Z";

#[track_caller]
fn assert_golden(server: &Server, body: &str, status: u16, want: &str) {
    let r = server.post_json("/get-online-features", body);
    assert_eq!(
        (r.status, r.text().as_str()),
        (status, want),
        "request: {body}"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn reads_answer_with_feasts_exact_json() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &[]);
    let t1 = "2026-11-20T10:00:00Z";
    let t2 = "2026-11-20T11:00:00Z";
    // Two entities, three features, in request order; float32 widened as Python prints it.
    assert_golden(
        &server,
        r#"{"features":["stats:trips","stats:conv_rate"],"entities":{"driver_id":[1001,1002]}}"#,
        200,
        &format!(
            r#"{{"results":[{{"values":[1001,1002],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{EPOCH}","{EPOCH}"]}},{{"values":[10,-20],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{t1}","{t2}"]}},{{"values":[0.10000000149011612,0.25],"statuses":["PRESENT","PRESENT"],"event_timestamps":["{t1}","{t2}"]}}],"metadata":{{"feature_names":["driver_id","trips","conv_rate"]}}}}"#
        ),
    );
    // full_feature_names prefixes features, never join keys.
    assert_golden(
        &server,
        r#"{"features":["stats:trips"],"entities":{"driver_id":[1001]},"full_feature_names":true}"#,
        200,
        &format!(
            r#"{{"results":[{{"values":[1001],"statuses":["PRESENT"],"event_timestamps":["{EPOCH}"]}},{{"values":[10],"statuses":["PRESENT"],"event_timestamps":["{t1}"]}}],"metadata":{{"feature_names":["driver_id","stats__trips"]}}}}"#
        ),
    );
    // A feature service with a projection subset (and `features` ignored), and one with an alias.
    assert_golden(
        &server,
        r#"{"feature_service":"rates","features":["nope:nope"],"entities":{"driver_id":[1002]}}"#,
        200,
        &format!(
            r#"{{"results":[{{"values":[1002],"statuses":["PRESENT"],"event_timestamps":["{EPOCH}"]}},{{"values":[0.25],"statuses":["PRESENT"],"event_timestamps":["{t2}"]}}],"metadata":{{"feature_names":["driver_id","conv_rate"]}}}}"#
        ),
    );
    assert_golden(
        &server,
        r#"{"feature_service":"renamed","entities":{"driver_id":[1002]},"full_feature_names":true}"#,
        200,
        &format!(
            r#"{{"results":[{{"values":[1002],"statuses":["PRESENT"],"event_timestamps":["{EPOCH}"]}},{{"values":[-20],"statuses":["PRESENT"],"event_timestamps":["{t2}"]}}],"metadata":{{"feature_names":["driver_id","s2__trips"]}}}}"#
        ),
    );
    // An unknown entity, a stored null, and a duplicated entity row.
    assert_golden(
        &server,
        r#"{"features":["stats:conv_rate"],"entities":{"driver_id":[9999,1003,1001,1001]}}"#,
        200,
        &format!(
            r#"{{"results":[{{"values":[9999,1003,1001,1001],"statuses":["PRESENT","PRESENT","PRESENT","PRESENT"],"event_timestamps":["{EPOCH}","{EPOCH}","{EPOCH}","{EPOCH}"]}},{{"values":[null,null,0.10000000149011612,0.10000000149011612],"statuses":["NOT_FOUND","PRESENT","PRESENT","PRESENT"],"event_timestamps":["{EPOCH}","{t1}","{t1}","{t1}"]}}],"metadata":{{"feature_names":["driver_id","conv_rate"]}}}}"#
        ),
    );
    // Keys sent as strings and as floats are coerced by the entity's dtype (Int64).
    for ids in [r#"["1001"]"#, "[1001.0]"] {
        assert_golden(
            &server,
            &format!(r#"{{"features":["stats:trips"],"entities":{{"driver_id":{ids}}}}}"#),
            200,
            &format!(
                r#"{{"results":[{{"values":[1001],"statuses":["PRESENT"],"event_timestamps":["{EPOCH}"]}},{{"values":[10],"statuses":["PRESENT"],"event_timestamps":["{t1}"]}}],"metadata":{{"feature_names":["driver_id","trips"]}}}}"#
            ),
        );
    }
    // The entity's name is accepted for its join key; the column keeps the join key's name.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["stats:trips"],"entities":{"driver":[1001]}}"#,
    );
    assert_eq!(
        r.json()["metadata"]["feature_names"],
        serde_json::json!(["driver_id", "trips"])
    );
    // Map, Json and Struct features: objects, a JSON text string, an object.
    assert_golden(
        &server,
        r#"{"features":["stats:meta","stats:config","stats:profile"],"entities":{"driver_id":[1001]}}"#,
        200,
        &format!(
            r#"{{"results":[{{"values":[1001],"statuses":["PRESENT"],"event_timestamps":["{EPOCH}"]}},{{"values":[{{"vehicle":"suv","rating":"4.5"}}],"statuses":["PRESENT"],"event_timestamps":["{t1}"]}},{{"values":["{{\"zones\": [\"north\"]}}"],"statuses":["PRESENT"],"event_timestamps":["{t1}"]}},{{"values":[{{"name":"ann","age":"33"}}],"statuses":["PRESENT"],"event_timestamps":["{t1}"]}}],"metadata":{{"feature_names":["driver_id","meta","config","profile"]}}}}"#
        ),
    );
    // Other entity columns are ignored; a body sent with curl's form content type still works.
    let r = server.request(
        "POST",
        "/get-online-features",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        br#"{"features":["stats:trips"],"entities":{"driver_id":[1001],"other":[5]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["metadata"]["feature_names"],
        serde_json::json!(["driver_id", "trips"])
    );
}

#[test]
fn errors_answer_with_feasts_statuses_and_bodies() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &[]);
    let ent = r#""entities":{"driver_id":[1001]}"#;
    let cases: Vec<(String, u16, &str)> = vec![
        (
            format!(r#"{{"features":["nope:x"],{ent}}}"#),
            404,
            r#""{\"module\": \"feast.errors\", \"class\": \"FeatureViewNotFoundException\", \"message\": \"Feature view nope does not exist in project shop\"}""#,
        ),
        (
            format!(r#"{{"feature_service":"nope",{ent}}}"#),
            404,
            r#""{\"module\": \"feast.errors\", \"class\": \"FeatureServiceNotFoundException\", \"message\": \"Feature service nope does not exist in project shop\"}""#,
        ),
        (
            format!(r#"{{"features":["stats:x"],{ent}}}"#),
            500,
            r#""'Feature x not found in projection stats'""#,
        ),
        (
            format!(r#"{{"features":["trips"],{ent}}}"#),
            500,
            r#""Invalid feature reference 'trips'. Expected format: '<feature_view>:<feature>' or '<feature_view>@<version>:<feature>'""#,
        ),
        (
            format!(r#"{{"features":[],{ent}}}"#),
            500,
            r#""No features specified for retrieval""#,
        ),
        (
            r#"{"features":["stats:trips"],"entities":{"driver_id":[1001,1002],"x":[1]}}"#.into(),
            500,
            r#""All entity rows must have the same columns.""#,
        ),
        (
            r#"{"features":["stats:trips"],"entities":{"rider_id":[1]}}"#.into(),
            500,
            r#""'Missing join key values for keys: ['driver_id']. No values provided for keys: ['driver_id']. Provided join_key_values: ['rider_id']'""#,
        ),
        (
            r#"{"features":["stats:trips","stats:trips"],"entities":{"driver_id":[1]}}"#.into(),
            500,
            r#""{\"module\": \"feast.errors\", \"class\": \"FeatureNameCollisionError\", \"message\": \"Duplicate features named trips found.\\nTo resolve this collision, either use the full feature name by setting 'full_feature_names=True', or ensure that the features in question have different names.\"}""#,
        ),
    ];
    for (body, status, want) in &cases {
        let r = server.post_json("/get-online-features", body);
        assert_eq!(
            (r.status, r.text().as_str()),
            (*status, *want),
            "request: {body}"
        );
    }
    // A null entity value cannot be a key: 500 with a message.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["stats:trips"],"entities":{"driver_id":[null]}}"#,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.json().is_string());

    // Schema violations: FastAPI's 422.
    for (body, want) in [
        (
            "{not json",
            r#"{"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]}"#,
        ),
        (
            "",
            r#"{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#,
        ),
        (
            "[1,2]",
            r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1,2]}]}"#,
        ),
        (
            "{}",
            r#"{"detail":[{"type":"missing","loc":["body","entities"],"msg":"Field required","input":{}}]}"#,
        ),
    ] {
        let r = server.post_json("/get-online-features", body);
        assert_eq!((r.status, r.text().as_str()), (422, want), "body: {body}");
    }
    // Wrong method, unknown route.
    let r = server.get("/get-online-features");
    assert_eq!(
        (r.status, r.text().as_str()),
        (405, r#"{"detail":"Method Not Allowed"}"#)
    );
    let r = server.get("/nope");
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, r#"{"detail":"Not Found"}"#)
    );
    // An oversized body: 413 without reading it all.
    let big = vec![b' '; 17 << 20];
    let r = server.request("POST", "/get-online-features", &[], &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("limit"), "{}", r.text());
    // The same without a length, in chunks: still 413, found while reading.
    let mut chunked = b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..17 {
        chunked.extend_from_slice(b"100000\r\n");
        chunked.extend(std::iter::repeat_n(b' ', 1 << 20));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = server.raw(&chunked);
    assert_eq!(r.status, 413, "{}", r.text());
    // A broken chunked encoding is a malformed request, not a large one: 400.
    let broken = b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"fe\r\nzz\r\n";
    let r = server.raw(broken);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().starts_with(r#"{"detail":"Invalid request body"#),
        "{}",
        r.text()
    );
    // The server is still fine.
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn health_metrics_and_openapi() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &[]);
    let r = server.get("/health");
    assert_eq!((r.status, r.body.len()), (200, 0));
    server.post_json(
        "/get-online-features",
        r#"{"features":["stats:trips"],"entities":{"driver_id":[1001]}}"#,
    );
    server.post_json(
        "/get-online-features",
        r#"{"features":["nope:x"],"entities":{"driver_id":[1001]}}"#,
    );
    let m = server.get("/metrics").text();
    assert!(m.contains(r#"feast_feature_server_request_total{endpoint="/get-online-features",status="success"} 1"#), "{m}");
    assert!(m.contains(r#"feast_feature_server_request_total{endpoint="/get-online-features",status="error"} 1"#), "{m}");
    assert!(
        m.contains("feast_feature_server_request_latency_seconds_bucket"),
        "{m}"
    );
    assert!(m.contains("feast_online_features_request_total 1"), "{m}");
    let doc = server.get("/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/get-online-features"]["post"].is_object());
}

#[test]
fn the_seed_request_reads_the_demo() {
    let (_tmp, repo) = demo_repo();
    crate::support::apply_and_materialize(&repo);
    let server = Server::start(&repo, &[]);
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [1001, 1002, 1003]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["metadata"]["feature_names"],
        serde_json::json!(["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"])
    );
    for col in 1..4 {
        assert_eq!(
            v["results"][col]["statuses"],
            serde_json::json!(["PRESENT", "PRESENT", "PRESENT"])
        );
    }
    // Values match the newest rows of the parquet file.
    let expected = crate::materialize::newest_demo_values(&repo);
    for (i, id) in [1001i64, 1002, 1003].iter().enumerate() {
        let (conv, trips) = expected[id];
        assert_eq!(
            v["results"][1]["values"][i].as_f64().unwrap(),
            f64::from(conv)
        );
        assert_eq!(v["results"][3]["values"][i].as_i64().unwrap(), trips);
    }
}

#[test]
fn a_registry_change_is_served_without_a_failed_request() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &["-r", "0"]);
    let addr = server.addr.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let client = {
        let (stop, failures, served, addr) =
            (stop.clone(), failures.clone(), served.clone(), addr.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let r = crate::http::request(
                    &addr,
                    "POST",
                    "/get-online-features",
                    &[],
                    br#"{"features":["stats:trips"],"entities":{"driver_id":[1001]}}"#,
                );
                if r.status != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // apply adds a view over the same source.
    let defs = std::fs::read_to_string(repo.join("defs.yaml")).unwrap();
    let more = defs.replace("feature_services:", "  - name: stats2\n    entities: [driver]\n    source: drivers\n    schema:\n      - {name: trips, dtype: Int64}\nfeature_services:");
    std::fs::write(repo.join("defs.yaml"), more).unwrap();
    run(&repo, &["apply"]).success();
    run(
        &repo,
        &["materialize", "2026-11-01", "2026-11-30", "-v", "stats2"],
    )
    .success();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = server.post_json(
            "/get-online-features",
            r#"{"features":["stats2:trips"],"entities":{"driver_id":[1001]}}"#,
        );
        if r.status == 200 {
            assert_eq!(r.json()["results"][1]["values"], serde_json::json!([10]));
            break;
        }
        assert_eq!(r.status, 404, "{}", r.text());
        assert!(
            Instant::now() < deadline,
            "the new view was not served within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert!(served.load(Ordering::Relaxed) > 0);
    assert_eq!(failures.load(Ordering::Relaxed), 0);
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &[]);
    assert_eq!(server.get("/health").status, 200);
    server.signal("-TERM");
    let status = server
        .wait(Duration::from_secs(10))
        .expect("the server stops");
    assert!(status.success(), "{status}");
}

#[test]
fn health_is_503_while_the_registry_cannot_be_read() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &["-r", "0"]);
    assert_eq!(server.get("/health").status, 200);
    let registry = repo.join("data/registry.db");
    let good = std::fs::read(&registry).unwrap();
    std::fs::write(&registry, b"{ damaged").unwrap();
    let wait_for = |status: u16| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.get("/health").status != status {
            assert!(Instant::now() < deadline, "/health never became {status}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(503);
    // The last good registry keeps serving meanwhile.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["stats:trips"],"entities":{"driver_id":[1001]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    std::fs::write(&registry, good).unwrap();
    wait_for(200);
}

#[test]
fn a_client_that_half_closes_after_its_request_gets_its_answer() {
    use std::io::{Read, Write};
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &[]);
    let body = r#"{"features":["stats:trips"],"entities":{"driver_id":[1001]}}"#;
    let request = format!(
        "POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    for i in 0..20 {
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 200"), "request {i}: {text:?}");
        assert!(text.contains(r#""values":[10]"#), "request {i}: {text}");
    }
}

#[test]
fn requests_cannot_grow_the_metrics_without_bound() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &[]);
    // 300 failing requests, each naming a different number of unknown features: once they
    // each made a latency series of their own.
    for n in 1..=300 {
        let refs: Vec<String> = (0..n).map(|i| format!("\"nope:f{i}\"")).collect();
        let body = format!(
            r#"{{"features":[{}],"entities":{{"driver_id":[1001]}}}}"#,
            refs.join(",")
        );
        assert_eq!(server.post_json("/get-online-features", &body).status, 404);
    }
    let ok = server.post_json(
        "/get-online-features",
        r#"{"features":["stats:trips"],"entities":{"driver_id":[1001]}}"#,
    );
    assert_eq!(ok.status, 200);
    let metrics = server.get("/metrics").text();
    let series: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("feast_feature_server_request_latency_seconds_count"))
        .collect();
    assert_eq!(series.len(), 2, "{series:#?}");
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"feature_count="1""#) && l.ends_with(" 1")),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"feature_count="unknown""#) && l.ends_with(" 300")),
        "{series:#?}"
    );
}

#[test]
fn a_pushs_mode_never_becomes_a_metric_label_of_its_own() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &[]);
    // The fuzz harness's long run once made /metrics 4.5 MB of these, one series per `to` a
    // client sent (1 MiB strings among them), until rendering it stalled the server.
    for i in 0..50 {
        let body = format!(r#"{{"push_source_name":"nope","df":{{}},"to":"mode-{i}"}}"#);
        assert_ne!(server.post_json("/push", &body).status, 200);
    }
    let r = server.post_json(
        "/push",
        r#"{"push_source_name":"nope","df":{},"to":"online"}"#,
    );
    assert_ne!(r.status, 200);
    let metrics = server.get("/metrics").text();
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("feast_push_request_total{"))
        .collect();
    assert_eq!(
        series,
        [r#"feast_push_request_total{push_source="",mode="online"} 1"#],
        "{series:#?}"
    );
}

#[test]
fn entity_rows_per_request_are_capped() {
    let (_tmp, repo) = known_repo();
    let read = |server: &Server, n: usize| {
        let ids: Vec<String> = (0..n).map(|i| (1001 + i).to_string()).collect();
        server.post_json(
            "/get-online-features",
            &format!(
                r#"{{"features":["stats:trips"],"entities":{{"driver_id":[{}]}}}}"#,
                ids.join(",")
            ),
        )
    };
    // The default: 10,000 rows.
    let server = Server::start(&repo, &[]);
    assert_eq!(read(&server, 10_000).status, 200);
    let r = read(&server, 10_001);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["detail"],
        "The request asks for 10001 entity rows; at most 10000 are served per request (feature_server.max_entity_rows): split it into smaller requests"
    );
    drop(server);
    // Configured.
    let yaml = repo.join("feature_store.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        format!("{text}\nfeature_server:\n  max_entity_rows: 5\n"),
    )
    .unwrap();
    let server = Server::start(&repo, &[]);
    assert_eq!(read(&server, 5).status, 200);
    assert_eq!(read(&server, 6).status, 400);
}

#[test]
fn health_is_503_until_there_is_a_registry() {
    let (_tmp, repo) = demo_repo();
    let server = Server::start(&repo, &["-r", "0"]);
    assert_eq!(server.get("/health").status, 503, "no registry yet");
    run(&repo, &["apply"]).success();
    server.wait_until_healthy();
}
