//! A Feast repo served and materialized as Feast left it: `tests/fixtures/feast-0.67` holds the
//! `feature_store.yaml`, `registry.db`, `online_store.db` and parquet files Feast 0.67 wrote.
//! No `edgefeat apply` or `materialize` runs first.
//!
//! Every expected value below was read from the fixture's `online_store.db` (the float32
//! values printed as Python prints them, the event time 1795485600 = 2026-11-24T02:00:00Z), so
//! the test compares the fixture with itself through edgefeat: no clock is involved, and the
//! view's one-day ttl is not enforced on reads (as in Feast's Python server).

use std::path::{Path, PathBuf};

use crate::http::Server;
use crate::support::{demo_repo, run};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/feast-0.67")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            // The fixture may be read-only; the copy is the test's to write.
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

/// A copy of the Feast repo, with the demo's transform plugin as `plugins/` when asked.
pub(crate) fn feast_repo(with_plugin: bool) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("feature_repo");
    copy_dir(&fixture_dir(), &repo);
    if with_plugin {
        let (_demo_tmp, demo) = demo_repo();
        std::fs::create_dir_all(repo.join("plugins")).unwrap();
        std::fs::copy(
            demo.join("plugins/transformed_conv_rate.wasm"),
            repo.join("plugins/transformed_conv_rate.wasm"),
        )
        .unwrap();
    }
    (tmp, repo)
}

const TS: &str = "2026-11-24T02:00:00Z";

#[test]
fn a_feast_repo_serves_what_feast_materialized() {
    let (_tmp, repo) = feast_repo(true);
    let registry_before = std::fs::read(repo.join("data/registry.db")).unwrap();
    let server = Server::start(&repo, &[]);

    // The quick start's three-driver request.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [1001, 1002, 1003]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let want = format!(
        r#"{{"results":[{{"values":[1001,1002,1003],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]}},{{"values":[0.6644290685653687,0.11654363572597504,0.9411654472351074],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}","{TS}"]}},{{"values":[0.7406190037727356,0.7496524453163147,0.9963051080703735],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}","{TS}"]}},{{"values":[108,260,896],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}","{TS}"]}}],"metadata":{{"feature_names":["driver_id","conv_rate","acc_rate","avg_daily_trips"]}}}}"#
    );
    assert_eq!(r.text(), want);

    // A feature service whose on-demand view is computed by the plugin of its name; an
    // unknown driver is NOT_FOUND, as in Feast's SQLite store.
    let r = server.post_json(
        "/get-online-features",
        r#"{"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001, 9999], "val_to_add": [1000, 1], "val_to_add_2": [2000, 2]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let names = &j["metadata"]["feature_names"];
    assert_eq!(
        names,
        &serde_json::json!([
            "driver_id",
            "conv_rate",
            "conv_rate_plus_val1",
            "conv_rate_plus_val2"
        ])
    );
    let results = &j["results"];
    assert_eq!(
        results[1]["values"],
        serde_json::json!([0.6644290685653687, null])
    );
    assert_eq!(
        results[1]["statuses"],
        serde_json::json!(["PRESENT", "NOT_FOUND"])
    );
    assert_eq!(
        results[1]["event_timestamps"],
        serde_json::json!([TS, "1970-01-01T00:00:00Z"])
    );
    // conv_rate (float32, widened as pandas does) + val_to_add.
    let plus1 = results[2]["values"][0].as_f64().unwrap();
    assert!(
        (plus1 - (0.6644290685653687 + 1000.0)).abs() < 1e-9,
        "{plus1}"
    );
    let plus2 = results[3]["values"][0].as_f64().unwrap();
    assert!(
        (plus2 - (0.6644290685653687 + 2000.0)).abs() < 1e-9,
        "{plus2}"
    );

    // full_feature_names, over the push-fed view.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats_fresh:conv_rate", "driver_hourly_stats_fresh:avg_daily_trips"], "entities": {"driver_id": [1005]}, "full_feature_names": true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let want = format!(
        r#"{{"results":[{{"values":[1005],"statuses":["PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z"]}},{{"values":[0.2798316180706024],"statuses":["PRESENT"],"event_timestamps":["{TS}"]}},{{"values":[226],"statuses":["PRESENT"],"event_timestamps":["{TS}"]}}],"metadata":{{"feature_names":["driver_id","driver_hourly_stats_fresh__conv_rate","driver_hourly_stats_fresh__avg_daily_trips"]}}}}"#
    );
    assert_eq!(r.text(), want);

    // The map, json and struct features, as Feast renders them.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats:driver_metadata", "driver_hourly_stats:driver_config", "driver_hourly_stats:driver_profile"], "entities": {"driver_id": [1001]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(
        j["results"][1]["values"][0],
        serde_json::json!({"vehicle_type": "suv", "rating": "3.9"})
    );
    assert_eq!(
        j["results"][3]["values"][0],
        serde_json::json!({"name": "driver_1001", "age": "25"})
    );
    assert!(j["results"][2]["values"][0].is_object() || j["results"][2]["values"][0].is_string());

    // The label view is known, and refused by name; the rest keeps serving.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_quality_labels:quality_score"], "entities": {"driver_id": [1001]}}"#,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.text()
            .contains("driver_quality_labels is a label view, which edgefeat does not serve yet"),
        "{}",
        r.text()
    );
    drop(server);

    // Serving wrote nothing into Feast's registry.
    assert_eq!(
        std::fs::read(repo.join("data/registry.db")).unwrap(),
        registry_before
    );
}

#[test]
fn without_its_plugin_an_on_demand_view_names_what_to_provide() {
    let (_tmp, repo) = feast_repo(false);
    let server = Server::start(&repo, &[]);
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["transformed_conv_rate:conv_rate_plus_val1"], "entities": {"driver_id": [1001], "val_to_add": [1], "val_to_add_2": [2]}}"#,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    let body = r.text();
    assert!(
        body.contains("on demand feature view transformed_conv_rate"),
        "{body}"
    );
    assert!(
        body.contains("the Python (pandas) function `transformed_conv_rate`"),
        "{body}"
    );
    assert!(body.contains("transformed_conv_rate.wasm"), "{body}");
    assert!(
        body.contains("`edgefeat plugin build-feast --view transformed_conv_rate` builds it"),
        "{body}"
    );
    // Everything else serves.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [1002]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("[260]"), "{}", r.text());
}

#[test]
fn edgefeat_never_rewrites_a_feast_registrys_definitions() {
    let (_tmp, repo) = feast_repo(false);
    let before = std::fs::read(repo.join("data/registry.db")).unwrap();
    std::fs::write(
        repo.join("defs.yaml"),
        "entities:\n  - name: rider\n    join_keys: [rider_id]\n    value_type: Int64\n",
    )
    .unwrap();
    let r = run(&repo, &["apply"]).failure();
    assert!(
        r.stderr
            .contains("is Feast's registry: `feast apply` writes it"),
        "{}",
        r.stderr
    );
    let r = run(&repo, &["teardown"]).failure();
    assert!(r.stderr.contains("run `feast teardown`"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(repo.join("data/registry.db")).unwrap(),
        before
    );

    // The listings read it, without Feast's internal entity.
    let r = run(&repo, &["entities", "list"]).success();
    assert!(r.stdout.contains("driver"), "{}", r.stdout);
    assert!(!r.stdout.contains("__dummy"), "{}", r.stdout);
    let r = run(&repo, &["feature-views", "list"]).success();
    assert!(
        r.stdout.contains("driver_hourly_stats_fresh"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_torn_registry_keeps_the_loaded_one_serving() {
    let (_tmp, repo) = feast_repo(false);
    let path = repo.join("data/registry.db");
    let bytes = std::fs::read(&path).unwrap();
    let server = Server::start(&repo, &["--registry_ttl_sec", "1"]);
    let read = |server: &Server| {
        server.post_json(
            "/get-online-features",
            r#"{"features": ["driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [1003]}}"#,
        )
    };
    assert_eq!(read(&server).status, 200);
    // Feast rewrites the file in place: a reader can see it cut short.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let r = read(&server);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("[896]"), "{}", r.text());
    let health = server.get("/health");
    assert_ne!(
        health.status, 200,
        "a registry that cannot be read is reported"
    );
    // Once whole again, it is read again.
    std::fs::write(&path, &bytes).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(server.get("/health").status, 200);
}

/// Every row of a Feast SQLite table, sorted: entity key, feature, value, value_text,
/// vector_value, event_ts, created_ts.
type SqlRow = (
    Vec<u8>,
    String,
    Vec<u8>,
    Option<String>,
    Option<Vec<u8>>,
    i64,
    i64,
);

fn table_rows(db: &Path, table: &str) -> Vec<SqlRow> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT entity_key, feature_name, value, value_text, vector_value, event_ts, created_ts FROM \"{table}\" ORDER BY entity_key, feature_name"
        ))
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// A map or struct value's entries, sorted: Feast writes their entries in no fixed order
/// (two runs of `feast materialize` over the same data differ), so they compare parsed.
fn entries(bytes: &[u8]) -> Vec<(String, String)> {
    use edgefeat::types::Value;
    let value = edgefeat::types::value_proto::decode_value(bytes, None).unwrap();
    let (Value::Map(e) | Value::Struct(e)) = value else {
        panic!("not a map: {value:?}")
    };
    let mut e: Vec<(String, String)> = e.into_iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
    e.sort();
    e
}

#[test]
fn materialize_from_the_parquet_reproduces_feasts_online_store() {
    let (_tmp, repo) = feast_repo(false);
    let db = repo.join("data/online_store.db");
    let tables = [
        "feature_repo_driver_hourly_stats",
        "feature_repo_driver_hourly_stats_fresh",
    ];
    let want: Vec<Vec<SqlRow>> = tables.iter().map(|t| table_rows(&db, t)).collect();
    assert_eq!(want[0].len(), 30);
    // The tables as `feast apply` leaves them, before any materialization.
    let conn = rusqlite::Connection::open(&db).unwrap();
    for t in tables {
        conn.execute(&format!("DELETE FROM \"{t}\""), []).unwrap();
    }
    drop(conn);

    // The window Feast materialized (the fixture's own dates: its data is fixed).
    let r = run(
        &repo,
        &[
            "materialize",
            "2021-01-01T00:00:00",
            "2026-12-01T20:29:32",
            "--no-progress",
        ],
    )
    .success();
    assert!(
        r.stdout.contains("into the sqlite online store"),
        "{}",
        r.stdout
    );
    for (t, want) in tables.iter().zip(&want) {
        let got = table_rows(&db, t);
        assert_eq!(got.len(), want.len(), "{t}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((&g.0, &g.1), (&w.0, &w.1), "{t}");
            if g.1 == "driver_metadata" || g.1 == "driver_profile" {
                assert_eq!(entries(&g.2), entries(&w.2), "{t} {}", g.1);
            } else {
                assert_eq!(g.2, w.2, "{t} {}: value bytes", g.1);
            }
            assert_eq!(
                (&g.3, &g.4, g.5, g.6),
                (&w.3, &w.4, w.5, w.6),
                "{t} {}",
                g.1
            );
        }
    }

    // The window is recorded where Feast reads it: the next incremental run starts there.
    let registry =
        edgefeat::registry::load_registry(&repo.join("data/registry.db"), "feature_repo")
            .unwrap()
            .unwrap();
    for view in ["driver_hourly_stats", "driver_hourly_stats_fresh"] {
        let intervals = &registry.feature_views[view].meta.materialization_intervals;
        // Feast's window and ours overlap, so they are recorded as their union.
        assert_eq!(intervals.len(), 1, "{view}: Feast's and ours, merged");
        assert_eq!(
            intervals[0].start_time.to_rfc3339(),
            "2021-01-01T00:00:00+00:00",
            "{view}"
        );
        assert_eq!(
            intervals[0].end_time.to_rfc3339(),
            "2026-12-01T20:29:32+00:00",
            "{view}"
        );
    }
    let r = run(
        &repo,
        &[
            "materialize-incremental",
            "2026-12-01T21:00:00",
            "--no-progress",
        ],
    )
    .success();
    assert!(
        r.stdout.contains("from 2026-12-01 20:29:32"),
        "{}",
        r.stdout
    );
}

#[test]
fn import_writes_definitions_that_apply_to_the_same_objects() {
    let (tmp, repo) = feast_repo(true);
    // The fresh view's transform is the same computation over the push-fed view.
    std::fs::copy(
        repo.join("plugins/transformed_conv_rate.wasm"),
        repo.join("plugins/transformed_conv_rate_fresh.wasm"),
    )
    .unwrap();
    let imported = crate::import::import_and_apply(&repo, tmp.path());
    crate::import::assert_same_objects(&repo, &imported.out);
    // The new repo serves the rows Feast materialized, from the same store.
    let server = Server::start(&imported.out, &[]);
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [1004]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("[533]"), "{}", r.text());
}
