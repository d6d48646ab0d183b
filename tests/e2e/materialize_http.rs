//! `/materialize` and `/materialize-incremental` over HTTP.

use std::time::{Duration, Instant};

use crate::http::Server;
use crate::materialize::VIEW_A;
use crate::serve::known_repo;
use crate::support::run;

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
