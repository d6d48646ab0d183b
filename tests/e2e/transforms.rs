//! On-demand feature views served through the demo's WASM plugin: the worked example of spec
//! §3.10, the feature services that include the transform, request data, apply-time checks,
//! and the plugin authoring commands.

use crate::http::Server;
use crate::support::{demo_repo, run};

/// The demo, applied and materialized up to now.
fn served_demo() -> (tempfile::TempDir, std::path::PathBuf, Server) {
    let (tmp, repo) = demo_repo();
    crate::support::apply_and_materialize(&repo);
    let server = Server::start(&repo, &[]);
    (tmp, repo, server)
}

#[test]
fn the_worked_example_adds_the_request_values_to_conv_rate() {
    let (_tmp, repo, server) = served_demo();
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats:conv_rate","transformed_conv_rate:conv_rate_plus_val1"],"entities":{"driver_id":[1001,9999],"val_to_add":[1000,1],"val_to_add_2":[2000,2]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["metadata"]["feature_names"],
        serde_json::json!(["driver_id", "conv_rate", "conv_rate_plus_val1"])
    );
    let conv = f64::from(crate::materialize::newest_demo_values(&repo)[&1001].0);
    assert_eq!(v["results"][1]["values"], serde_json::json!([conv, null]));
    assert_eq!(
        v["results"][2],
        serde_json::json!({
            "values": [conv + 1000.0, null],
            "statuses": ["PRESENT", "PRESENT"],
            "event_timestamps": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]
        }),
        "the unknown driver's output is null but PRESENT, at the epoch, as in Feast"
    );
}

#[test]
fn feature_service_v1_serves_both_transform_outputs() {
    let (_tmp, repo, server) = served_demo();
    let r = server.post_json(
        "/get-online-features",
        r#"{"feature_service":"driver_activity_v1","entities":{"driver_id":[1001,1002,1003],"val_to_add":[1,2,3],"val_to_add_2":[10,20,30]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["metadata"]["feature_names"],
        serde_json::json!([
            "driver_id",
            "conv_rate",
            "conv_rate_plus_val1",
            "conv_rate_plus_val2"
        ])
    );
    let newest = crate::materialize::newest_demo_values(&repo);
    for (i, id) in [1001i64, 1002, 1003].iter().enumerate() {
        let conv = f64::from(newest[id].0);
        let add = (i + 1) as f64;
        assert_eq!(v["results"][1]["values"][i].as_f64(), Some(conv));
        assert_eq!(v["results"][2]["values"][i].as_f64(), Some(conv + add));
        assert_eq!(
            v["results"][3]["values"][i].as_f64(),
            Some(conv + 10.0 * add)
        );
    }
    // Full names, as Feast's `full_feature_names`.
    let r = server.post_json(
        "/get-online-features",
        r#"{"feature_service":"driver_activity_v1","entities":{"driver_id":[1001],"val_to_add":[1],"val_to_add_2":[2]},"full_feature_names":true}"#,
    );
    assert_eq!(
        r.json()["metadata"]["feature_names"],
        serde_json::json!([
            "driver_id",
            "driver_hourly_stats__conv_rate",
            "transformed_conv_rate__conv_rate_plus_val1",
            "transformed_conv_rate__conv_rate_plus_val2"
        ])
    );
}

#[test]
fn a_seed_push_is_read_back_through_driver_activity_v3() {
    let (_tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    let server = Server::start(&repo, &[]);
    // The seed's push example, with the demo's columns
    // (docs/feast-compat.md#the-seed-push-example).
    let r = server.post_json(
        "/push",
        r#"{"push_source_name":"driver_stats_push_source","df":{"driver_id":[1001],"event_timestamp":["2026-11-24 10:59:42+00:00"],"created":["2026-11-24 10:59:42+00:00"],"conv_rate":[1.0],"acc_rate":[1.0],"avg_daily_trips":[1000],"driver_metadata":[{"vehicle_type":"truck","rating":"4.9"}],"driver_config":["{\"max_distance_km\": 50}"],"driver_profile":[{"name":"pushed","age":"40"}]},"to":"online"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post_json(
        "/get-online-features",
        r#"{"feature_service":"driver_activity_v3","entities":{"driver_id":[1001],"val_to_add":[1000],"val_to_add_2":[2000]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let names = v["metadata"]["feature_names"].as_array().unwrap().clone();
    let col = |name: &str| {
        let i = names.iter().position(|n| n == name).unwrap();
        v["results"][i]["values"][0].clone()
    };
    assert_eq!(col("conv_rate"), serde_json::json!(1.0));
    assert_eq!(col("avg_daily_trips"), serde_json::json!(1000));
    assert_eq!(col("conv_rate_plus_val1"), serde_json::json!(1001.0));
    assert_eq!(col("conv_rate_plus_val2"), serde_json::json!(2001.0));
}

#[test]
fn missing_request_data_is_feasts_404() {
    let (_tmp, _repo, server) = served_demo();
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["transformed_conv_rate:conv_rate_plus_val1"],"entities":{"driver_id":[1001],"val_to_add":[1]}}"#,
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        r#""{\"module\": \"feast.errors\", \"class\": \"RequestDataNotFoundInEntityRowsException\", \"message\": \"Required request data source features ['val_to_add_2'] not found in the entity rows, but required by feature views\"}""#
    );
    // An output the view does not declare is Feast's KeyError.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["transformed_conv_rate:nope"],"entities":{"driver_id":[1001],"val_to_add":[1],"val_to_add_2":[2]}}"#,
    );
    assert_eq!(
        (r.status, r.text()),
        (
            500,
            r#""'Feature nope not found in projection transformed_conv_rate'""#.to_string()
        )
    );
}

#[test]
fn apply_refuses_a_missing_or_mismatched_plugin() {
    let (_tmp, repo) = demo_repo();
    let defs = repo.join("feature_definitions.yaml");
    let text = std::fs::read_to_string(&defs).unwrap();
    // A declared output the plugin does not return, with the wrong type of another.
    let changed = text.replacen(
        "      - name: conv_rate_plus_val2\n        dtype: Float64\n    plugin: transformed_conv_rate\n",
        "      - name: conv_rate_plus_val2\n        dtype: String\n      - name: conv_rate_plus_val3\n        dtype: Float64\n    plugin: transformed_conv_rate\n",
        1,
    );
    assert_ne!(changed, text, "the template changed: update this test");
    std::fs::write(&defs, changed).unwrap();
    let out = run(&repo, &["apply"]).failure();
    assert!(
        out.stderr.contains("plugin `transformed_conv_rate` returns `conv_rate_plus_val2` as float64, which cannot serve on demand feature view `transformed_conv_rate`'s feature `conv_rate_plus_val2` declared String"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("declares feature `conv_rate_plus_val3` (Float64), but plugin `transformed_conv_rate` has no such output; its outputs: conv_rate_plus_val1 (float64), conv_rate_plus_val2 (float64)"),
        "{}",
        out.stderr
    );
    assert!(!repo.join("data/registry.db").exists(), "nothing applied");

    std::fs::write(&defs, &text).unwrap();
    std::fs::remove_file(repo.join("plugins/transformed_conv_rate.wasm")).unwrap();
    let out = run(&repo, &["apply"]).failure();
    assert!(
        out.stderr
            .contains("plugin `transformed_conv_rate` is not loaded: there is no"),
        "{}",
        out.stderr
    );
}

#[test]
fn plugin_new_scaffolds_a_crate_that_builds_and_checks() {
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), &["plugin", "new", "my_transform"]).success();
    let krate = tmp.path().join("my_transform");
    for f in ["Cargo.toml", "src/lib.rs", "wit/plugin.wit", "README.md"] {
        assert!(krate.join(f).is_file(), "{f}");
    }
    // The template's own format strings survive the scaffolding: its errors name the column,
    // not the plugin.
    let lib = std::fs::read_to_string(krate.join("src/lib.rs")).unwrap();
    assert!(lib.contains("format!(\"no column `{wanted}`\")"), "{lib}");
    assert!(!lib.contains("no column `my_transform`"), "{lib}");
    // Built like a user would, into a target dir kept between test runs.
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target");
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(&krate)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the scaffolded plugin builds");
    let wasm = target.join("wasm32-wasip2/release/my_transform.wasm");
    let out = run(tmp.path(), &["plugin", "check", wasm.to_str().unwrap()]).success();
    assert!(
        out.stdout.contains("plugin `my_transform` version 0.1.0"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("conv_rate_doubled  float64"),
        "{}",
        out.stdout
    );

    std::fs::write(tmp.path().join("junk.wasm"), b"not a component").unwrap();
    let out = run(tmp.path(), &["plugin", "check", "junk.wasm"]).failure();
    assert!(
        out.stderr.contains("junk.wasm is not a usable plugin"),
        "{}",
        out.stderr
    );
    // An existing directory is never overwritten.
    run(tmp.path(), &["plugin", "new", "my_transform"]).failure();
}

#[test]
fn a_stored_on_demand_view_is_written_and_read_like_a_feature_view() {
    let (_tmp, repo) = demo_repo();
    std::fs::write(
        repo.join("stored.yaml"),
        "on_demand_feature_views:\n  - name: stored_rate\n    sources: [driver_hourly_stats]\n    schema:\n      - name: score\n        dtype: Float64\n    plugin: transformed_conv_rate\n    write_to_online_store: true\n",
    )
    .unwrap();
    let out = run(&repo, &["apply"]).success();
    assert!(
        out.stdout.contains("Created lmdb table demo_stored_rate"),
        "{}",
        out.stdout
    );
    let server = Server::start(&repo, &[]);
    let r = server.post_json(
        "/write-to-online-store",
        r#"{"feature_view_name":"stored_rate","df":{"driver_id":[1001],"score":[0.5],"event_timestamp":["2026-11-24 10:00:00"]}}"#,
    );
    assert_eq!((r.status, r.text()), (200, "null".to_string()));
    // Read from its table (no plugin call, no request data), with the written timestamp.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["stored_rate:score"],"entities":{"driver_id":[1001,1002]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["results"][1],
        serde_json::json!({
            "values": [0.5, null],
            "statuses": ["PRESENT", "NOT_FOUND"],
            "event_timestamps": ["2026-11-24T10:00:00Z", "1970-01-01T00:00:00Z"]
        })
    );
    // A view computed per request has nothing to write.
    let r = server.post_json(
        "/write-to-online-store",
        r#"{"feature_view_name":"transformed_conv_rate","df":{"driver_id":[1001],"conv_rate_plus_val1":[0.5],"event_timestamp":["2026-11-24 10:00:00"]}}"#,
    );
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("computed at request time"),
        "{}",
        r.text()
    );
}
