//! `/materialize` and `/materialize-incremental` over HTTP.

use std::time::{Duration, Instant};

use crate::http::Server;
use crate::materialize::VIEW_A;
use crate::serve::known_repo;
use crate::support::{clock, run};

#[test]
fn sync_materialize_answers_null_and_serves_the_rows() {
    let (_tmp, repo) = known_repo();
    run(&repo, &["teardown"]).success();
    run(&repo, &["apply"]).success();
    let server = Server::start(&repo, &[]);
    let read = || {
        server
            .post_json(
                "/get-online-features",
                r#"{"features":["stats:trips"],"entities":{"driver_id":[1001]}}"#,
            )
            .json()["results"][1]["statuses"][0]
            .clone()
    };
    assert_eq!(read(), "NOT_FOUND");
    let r = server.post_json(
        "/materialize",
        r#"{"start_ts":"2026-11-01","end_ts":"2026-11-30T00:00:00","feature_views":["stats"]}"#,
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
    assert_eq!(read(), "PRESENT");
    // The window is recorded, so an incremental run has nothing left before its end.
    let r = server.post_json("/materialize-incremental", r#"{"end_ts":"2026-11-29"}"#);
    assert_eq!((r.status, r.text().as_str()), (200, "null"));

    let cases = [
        (
            r#"{"start_ts":"2026-11-01","end_ts":"2026-11-30","feature_views":["nope"]}"#,
            404,
            r#""{\"module\": \"feast.errors\", \"class\": \"FeatureViewNotFoundException\", \"message\": \"Feature view nope does not exist in project shop\"}""#,
        ),
        (
            r#"{"start_ts":"2026-11-30","end_ts":"2026-11-01"}"#,
            500,
            r#""start_ts (2026-11-30 00:00:00+00:00) must be before end_ts (2026-11-01 00:00:00+00:00)""#,
        ),
        (
            r#"{"end_ts":"2026-11-01"}"#,
            500,
            r#""start_ts and end_ts are required unless disable_event_timestamp is true""#,
        ),
    ];
    for (body, status, want) in cases {
        let r = server.post_json("/materialize", body);
        assert_eq!((r.status, r.text().as_str()), (status, want), "{body}");
    }
    let r = server.post_json(
        "/materialize",
        r#"{"start_ts":"soon","end_ts":"2026-11-01"}"#,
    );
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("cannot read `soon` as a timestamp"),
        "{}",
        r.text()
    );
    let r = server.post_json("/materialize-incremental", "{}");
    assert_eq!(r.status, 422);
    let r = server.post_json(
        "/materialize?async=maybe",
        r#"{"disable_event_timestamp":true}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    // disable_event_timestamp: everything up to now.
    let r = server.post_json("/materialize", r#"{"disable_event_timestamp":true}"#);
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
}

#[test]
fn async_materialize_accepts_refuses_a_second_and_force_overrides() {
    const N: i64 = crate::materialize::LARGE;
    let (_tmp, repo) = crate::materialize::large_repo(VIEW_A);
    let server = Server::start(&repo, &[]);
    let body = r#"{"disable_event_timestamp":true}"#;
    let r = server.post_json("/materialize?async=true", body);
    assert_eq!(
        (r.status, r.text().as_str()),
        (202, r#"{"status":"accepted","feature_views":["v"]}"#)
    );
    let r = server.post_json("/materialize?async=true", body);
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            409,
            "{\"error\":\"Cannot start async materialization \u{2014} the following feature views are already in MATERIALIZING state: ['v']. Use ?force=true to override.\",\"feature_views\":[\"v\"]}"
        )
    );
    let r = server.post_json("/materialize?async=true&force=true", body);
    assert_eq!(r.status, 202, "{}", r.text());
    // Both jobs finish; every row is then served.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = server.post_json(
            "/get-online-features",
            &format!(
                r#"{{"features":["v:a"],"entities":{{"id":[0,{}]}}}}"#,
                N - 1
            ),
        );
        if r.json()["results"][1]["statuses"] == serde_json::json!(["PRESENT", "PRESENT"]) {
            assert_eq!(
                r.json()["results"][1]["values"],
                serde_json::json!([0.0, (N - 1) as f64])
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "async materialization did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Once they are done, a new async run is accepted again.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = server.post_json("/materialize?async=true", body);
        if r.status == 202 {
            break;
        }
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_view_named_many_times_is_materialized_once() {
    let (_tmp, repo) = known_repo();
    run(&repo, &["teardown"]).success();
    run(&repo, &["apply"]).success();
    let server = Server::start(&repo, &[]);
    let views = vec!["\"stats\""; 500].join(",");
    let r = server.post_json(
        "/materialize",
        &format!(
            r#"{{"start_ts":"2026-11-01","end_ts":"2026-11-30T00:00:00","feature_views":[{views}]}}"#
        ),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
    let dump: serde_json::Value =
        serde_json::from_str(&run(&repo, &["registry-dump"]).success().stdout).unwrap();
    let intervals = &dump["feature_views"]["stats"]["meta"]["materialization_intervals"];
    assert_eq!(
        intervals.as_array().map(Vec::len),
        Some(1),
        "one job, one interval: {intervals}"
    );
}

/// The materialization intervals of each view, from `registry-dump`.
fn intervals_of(repo: &std::path::Path) -> Vec<(String, Vec<serde_json::Value>)> {
    let dump: serde_json::Value =
        serde_json::from_str(&run(repo, &["registry-dump"]).success().stdout).unwrap();
    dump["feature_views"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| {
            let list = v["meta"]["materialization_intervals"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            (name.clone(), list)
        })
        .collect()
}

#[test]
fn many_incremental_runs_keep_the_registry_bounded_and_apart_windows_apart() {
    let (_tmp, repo) = crate::support::demo_repo();
    run(&repo, &["apply"]).success();
    let registry = repo.join("data/registry.db");
    let server = Server::start(&repo, &[]);
    // Each run ends a minute after the last: its window starts where the last one ended.
    let base = clock::now();
    let incremental = |i: i64| {
        let end = clock::naive(base + chrono::Duration::minutes(i));
        let r = server.post_json(
            "/materialize-incremental",
            &format!(r#"{{"end_ts":"{end}"}}"#),
        );
        assert_eq!((r.status, r.text().as_str()), (200, "null"), "run {i}");
    };
    incremental(1);
    let size_after_one = std::fs::metadata(&registry).unwrap().len();
    for i in 2..=300 {
        incremental(i);
    }
    let size = std::fs::metadata(&registry).unwrap().len();
    // Feast appends one interval per view per run: 300 runs of both views added ~73 kB.
    assert!(
        size <= size_after_one + 64,
        "{size} bytes after 300 runs, {size_after_one} after one"
    );
    let last_end = clock::rfc3339(base + chrono::Duration::minutes(300));
    for (view, list) in intervals_of(&repo) {
        assert_eq!(list.len(), 1, "{view}: {list:?}");
        // Where the next incremental run starts: unchanged by the merge.
        let end = list[0]["end_time"].as_str().unwrap();
        assert_eq!(end.replace("+00:00", "Z"), last_end, "{view}");
    }
    // A window a day after the last end shares no instant with it: a second interval.
    let later = base + chrono::Duration::days(2);
    let r = server.post_json(
        "/materialize",
        &format!(
            r#"{{"start_ts":"{}","end_ts":"{}"}}"#,
            clock::naive(later),
            clock::naive(later + chrono::Duration::hours(1))
        ),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
    for (view, list) in intervals_of(&repo) {
        assert_eq!(list.len(), 2, "{view}: {list:?}");
    }
}
