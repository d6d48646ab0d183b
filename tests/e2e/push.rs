//! The write routes with the real binary: /push and /write-to-online-store, their errors, and
//! their durability (concurrent clients, SIGKILL right after acknowledged pushes).

use std::sync::Arc;
use std::time::Duration;

use crate::http::{Server, request};
use crate::support::{clock, demo_repo, run};

/// The demo, applied (nothing materialized: pushes are the only data, so the literal timestamps
/// the tests below push decide alone what is newest, on any day).
pub fn pushed_demo() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    (tmp, repo)
}

/// One pushed row for a driver, with the demo's columns
/// (docs/feast-compat.md#the-seed-push-example).
pub fn push_body(driver: i64, conv_rate: f64, ts: &str) -> String {
    format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":[{driver}],"event_timestamp":["{ts}"],"created":["{ts}"],"conv_rate":[{conv_rate}],"acc_rate":[0.5],"avg_daily_trips":[1000],"driver_metadata":[{{"vehicle_type":"truck","rating":"4.9"}}],"driver_config":["{{\"max_distance_km\": 50}}"],"driver_profile":[{{"name":"pushed","age":"40"}}]}},"to":"online"}}"#
    )
}

const FRESH: &str = r#""features":["driver_hourly_stats_fresh:conv_rate","driver_hourly_stats_fresh:avg_daily_trips","driver_hourly_stats_fresh:driver_metadata","driver_hourly_stats_fresh:driver_profile"]"#;

#[test]
fn a_push_is_read_back_through_the_fresh_view() {
    let (_tmp, repo) = pushed_demo();
    let server = Server::start(&repo, &[]);
    let r = server.post_json("/push", &push_body(1001, 0.75, "2026-11-24 10:59:42+00:00"));
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    let r = server.post_json(
        "/get-online-features",
        &format!(r#"{{{FRESH},"entities":{{"driver_id":[1001,1002]}}}}"#),
    );
    assert_eq!(
        r.text(),
        r#"{"results":[{"values":[1001,1002],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},{"values":[0.75,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]},{"values":[1000,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]},{"values":[{"vehicle_type":"truck","rating":"4.9"},null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]},{"values":[{"name":"pushed","age":"40"},null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]}],"metadata":{"feature_names":["driver_id","conv_rate","avg_daily_trips","driver_metadata","driver_profile"]}}"#
    );
    // The file-sourced view is not fed by the push source.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001]}}"#,
    );
    assert_eq!(
        r.json()["results"][1]["statuses"],
        serde_json::json!(["NOT_FOUND"])
    );
    // An older event does not roll the value back (newer_wins); a newer one replaces it.
    server.post_json("/push", &push_body(1001, 0.1, "2026-11-24 09:00:00+00:00"));
    server.post_json("/push", &push_body(1001, 0.9, "2026-11-24 11:00:00"));
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{"driver_id":[1001]}}"#,
    );
    assert_eq!(
        r.json()["results"][1]["values"],
        serde_json::json!([0.8999999761581421]),
        "float32, widened"
    );
}

#[test]
fn push_errors_answer_as_feast() {
    let (_tmp, repo) = pushed_demo();
    let server = Server::start(&repo, &[]);
    let body = push_body(1001, 0.75, "2026-11-24 10:59:42+00:00");
    let r = server.post_json("/push", &body.replace("driver_stats_push_source", "nope"));
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            422,
            r#""{\"module\": \"feast.errors\", \"class\": \"PushSourceNotFoundException\", \"message\": \"Unable to find push source 'nope'.\"}""#
        )
    );
    let r = server.post_json(
        "/push",
        &body.replace(r#""to":"online""#, r#""to":"elsewhere""#),
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            500,
            r#""elsewhere is not a supported push format. Please specify one of these ['online', 'offline', 'online_and_offline'].""#
        )
    );
    let r = server.post_json("/push", &body.replace(r#""acc_rate":[0.5],"#, ""));
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, r#""Column acc_rate not found in table""#)
    );
    let r = server.post_json(
        "/push",
        &body.replace(
            r#""avg_daily_trips":[1000]"#,
            r#""avg_daily_trips":["many"]"#,
        ),
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("avg_daily_trips, row 0"), "{}", r.text());
    let r = server.post_json("/push", &push_body(1001, 0.75, "yesterday"));
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.text().contains("cannot read `yesterday` as a timestamp"),
        "{}",
        r.text()
    );
    let r = server.post_json(
        "/push",
        r#"{"push_source_name":"driver_stats_push_source"}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    // Nothing was written by the failed pushes.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{"driver_id":[1001]}}"#,
    );
    assert_eq!(
        r.json()["results"][1]["statuses"],
        serde_json::json!(["NOT_FOUND"])
    );
}

#[test]
fn write_to_online_store_takes_feast_sdk_columns() {
    let (_tmp, repo) = pushed_demo();
    let server = Server::start(&repo, &[]);
    // What the Feast SDK's remote online store sends: event_timestamp and created.
    let r = server.post_json(
        "/write-to-online-store",
        r#"{"feature_view_name":"driver_hourly_stats","df":{"driver_id":[1005,1004],"conv_rate":[0.5,0.25],"acc_rate":[0.1,0.2],"avg_daily_trips":[3,4],"driver_metadata":[{"rating":"4.0"},null],"driver_config":["{}","[]"],"driver_profile":[null,{"name":"d","age":"22"}],"event_timestamp":["2026-11-24T08:00:00Z","2026-11-24T08:00:00Z"],"created":["2026-11-24T08:00:01Z","2026-11-24T08:00:01Z"]}}"#,
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
    let r = server.post_json("/get-online-features", r#"{"features":["driver_hourly_stats:avg_daily_trips","driver_hourly_stats:driver_profile"],"entities":{"driver_id":[1004,1005]}}"#);
    assert_eq!(r.json()["results"][1]["values"], serde_json::json!([4, 3]));
    assert_eq!(
        r.json()["results"][2]["values"],
        serde_json::json!([{"name": "d", "age": "22"}, null])
    );
    assert_eq!(
        r.json()["results"][2]["statuses"],
        serde_json::json!(["PRESENT", "PRESENT"])
    );
    let r = server.post_json(
        "/write-to-online-store",
        r#"{"feature_view_name":"nope","df":{}}"#,
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            404,
            r#""{\"module\": \"feast.errors\", \"class\": \"FeastObjectNotFoundException\", \"message\": \"Can't recognize feast object with a name nope\"}""#
        )
    );
}

#[test]
fn concurrent_pushes_lose_nothing() {
    let (_tmp, repo) = pushed_demo();
    let server = Arc::new(Server::start(&repo, &[]));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let id = 10_000 + c * 500 + i;
                    let r = request(
                        &addr,
                        "POST",
                        "/push",
                        &[],
                        push_body(id, id as f64, "2026-11-24 10:00:00").as_bytes(),
                    );
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let ids: Vec<String> = (10_000..14_000).map(|i: i64| i.to_string()).collect();
    let r = server.post_json(
        "/get-online-features",
        &format!(r#"{{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{{"driver_id":[{}]}}}}"#, ids.join(",")),
    );
    let v = r.json();
    let values = v["results"][1]["values"].as_array().unwrap();
    assert_eq!(values.len(), 4000);
    for (i, value) in values.iter().enumerate() {
        assert_eq!(
            value.as_f64(),
            Some((10_000 + i) as f64),
            "driver {}",
            10_000 + i
        );
    }
}

#[test]
fn acknowledged_pushes_survive_a_sigkill() {
    let (_tmp, repo) = pushed_demo();
    let server = Server::start(&repo, &[]);
    for id in 0..50 {
        let r = server.post_json(
            "/push",
            &push_body(20_000 + id, id as f64, "2026-11-24 10:00:00"),
        );
        assert_eq!(r.status, 200);
    }
    // SIGKILL right after the last acknowledgement: no chance to flush anything.
    server.signal("-KILL");
    server.wait(Duration::from_secs(5)).expect("killed");
    let server = Server::start(&repo, &[]);
    let ids: Vec<String> = (20_000..20_050).map(|i: i64| i.to_string()).collect();
    let r = server.post_json(
        "/get-online-features",
        &format!(r#"{{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{{"driver_id":[{}]}}}}"#, ids.join(",")),
    );
    let v = r.json();
    let statuses = v["results"][1]["statuses"].as_array().unwrap();
    assert!(statuses.iter().all(|s| s == "PRESENT"), "{statuses:?}");
}

/// `POST /materialize` of `[start, end]`, which must succeed.
pub fn materialize_window(
    server: &Server,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) {
    let r = server.post_json(
        "/materialize",
        &format!(
            r#"{{"start_ts":"{}","end_ts":"{}"}}"#,
            clock::naive(start),
            clock::naive(end)
        ),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
}

pub fn offline_body(driver: i64, conv_rate: f64, ts: &str, to: &str) -> String {
    push_body(driver, conv_rate, ts).replace(r#""to":"online""#, &format!(r#""to":"{to}""#))
}

#[test]
fn an_offline_push_appends_a_part_and_materialize_serves_it() {
    let (_tmp, repo) = pushed_demo();
    let source = repo.join("data/driver_stats.parquet");
    let original = std::fs::read(&source).unwrap();
    let server = Server::start(&repo, &[]);
    // Stamped a year after the generated data, so that a window around it holds nothing else.
    let pushed_at = clock::far_future();
    let ts = clock::pandas(pushed_at);
    let r = server.post_json("/push", &offline_body(1001, 0.125, &ts, "offline"));
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    // Offline only: nothing online yet.
    let read = |view: &str| {
        server
            .post_json(
                "/get-online-features",
                &format!(
                    r#"{{"features":["{view}:conv_rate"],"entities":{{"driver_id":[1001]}}}}"#
                ),
            )
            .json()["results"][1]
            .clone()
    };
    assert_eq!(
        read("driver_hourly_stats_fresh")["statuses"],
        serde_json::json!(["NOT_FOUND"])
    );
    // online_and_offline: both at once.
    let r = server.post_json("/push", &offline_body(1002, 0.5, &ts, "online_and_offline"));
    assert_eq!(r.status, 200, "{}", r.text());
    // The existing file keeps its bytes; each push is a new part beside it.
    assert_eq!(std::fs::read(&source).unwrap(), original);
    // (Hidden files, such as the directory's lock, are not data.)
    let parts: Vec<_> = std::fs::read_dir(repo.join("data/driver_stats.parquet.parts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(
        parts
            .iter()
            .all(|p| p.starts_with("part-") && p.ends_with(".parquet")),
        "{parts:?}"
    );
    // Materializing reads the parts: the pushed row reaches both views of the source.
    materialize_window(
        &server,
        pushed_at - chrono::Duration::days(1),
        pushed_at + chrono::Duration::days(1),
    );
    for view in ["driver_hourly_stats", "driver_hourly_stats_fresh"] {
        assert_eq!(read(view)["values"], serde_json::json!([0.125]), "{view}");
    }
    // A push whose columns differ from the source's is refused with Feast's message, and
    // writes nothing anywhere.
    let bad = offline_body(1003, 0.5, &ts, "online_and_offline")
        .replace(&format!(r#""created":["{ts}"],"#), "");
    let r = server.post_json("/push", &bad);
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            500,
            r#""The input dataframe columns do not match the batch source columns. missing_expected_columns: ['created'], extra_unexpected_columns: []""#
        )
    );
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{"driver_id":[1003]}}"#,
    );
    assert_eq!(
        r.json()["results"][1]["statuses"],
        serde_json::json!(["NOT_FOUND"])
    );
    assert_eq!(
        std::fs::read_dir(repo.join("data/driver_stats.parquet.parts"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("parquet".as_ref()))
            .count(),
        2
    );
}

#[test]
fn a_crash_mid_write_leaves_no_part_that_materialize_reads() {
    let (_tmp, repo) = pushed_demo();
    let parts = repo.join("data/driver_stats.parquet.parts");
    std::fs::create_dir_all(&parts).unwrap();
    // What a crash between write and rename leaves: a hidden temp file with half a parquet.
    std::fs::write(
        parts.join(".part-20991231T000000.000000Z-dead.parquet.x1.tmp"),
        b"PAR1 half a file",
    )
    .unwrap();
    // From before the generator's fixed 2021 row to after its newest: every row.
    let end = clock::date(clock::far_future());
    let r = run(&repo, &["materialize", "2000-01-01", &end]);
    let r = r.success();
    assert!(r.stdout.contains("1807 rows read"), "{}", r.stdout);
}

#[test]
fn the_server_removes_temp_files_a_killed_push_left_and_keeps_fresh_ones() {
    let (_tmp, repo) = pushed_demo();
    let parts = repo.join("data/driver_stats.parquet.parts");
    std::fs::create_dir_all(&parts).unwrap();
    let stale = parts.join(".part-20991231T000000.000000Z-dead.parquet.x1.tmp");
    let fresh = parts.join(".part-20991231T000000.000000Z-live.parquet.x2.tmp");
    for path in [&stale, &fresh] {
        std::fs::write(path, b"PAR1 half a file").unwrap();
    }
    // Left by a writer killed an hour ago; the other one could be a write in progress.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let server = Server::start(&repo, &[]);
    assert_eq!(server.get("/health").status, 200);
    assert!(!stale.exists(), "the stale temp file is removed at start");
    assert!(fresh.exists(), "a fresh temp file is left alone");
}

#[test]
fn an_offline_push_is_checked_like_an_online_one_and_writes_nothing_when_refused() {
    let (_tmp, repo) = pushed_demo();
    let server = Server::start(&repo, &[]);
    let ts = clock::pandas(clock::after_demo_data());
    // `driver_config` is a Json feature: text that is not JSON is refused online...
    let bad = |to: &str| {
        offline_body(1001, 0.5, &ts, to).replace(
            r#""driver_config":["{\"max_distance_km\": 50}"]"#,
            r#""driver_config":["not json {"]"#,
        )
    };
    assert!(bad("offline").contains("not json {"));
    let online = server.post_json("/push", &bad("online"));
    assert_eq!(online.status, 500, "{}", online.text());
    // ...and offline alike, with the same message, before any part is written.
    let offline = server.post_json("/push", &bad("offline"));
    assert_eq!(
        (offline.status, offline.text()),
        (online.status, online.text())
    );
    assert!(
        !repo.join("data/driver_stats.parquet.parts").exists(),
        "no part file"
    );
    // Materialization keeps working.
    let end = clock::date(clock::far_future());
    run(&repo, &["materialize", "2000-01-01", &end]).success();
}

#[test]
fn a_body_whose_values_would_take_far_more_memory_than_its_size_is_refused_before_decoding() {
    let (_tmp, repo) = pushed_demo();
    let server = Server::start(&repo, &[]);
    // The fuzz harness's long run found this shape: a 10 MB push whose driver_id column holds
    // 50,000 cells nested 100 deep (the others 2 long). Decoded, every two of its bytes are a
    // container of its own: it took the server from 2 MB to 1.3 GB before it answered.
    let cell = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let cells = vec![cell.as_str(); 50_000].join(",");
    let push = format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":[{cells}],"conv_rate":[0.5,0.5]}},"to":"online"}}"#
    );
    let read = format!(r#"{{{FRESH},"entities":{{"driver_id":[{cells}]}}}}"#);
    let answers: Vec<_> = [("/push", &push), ("/get-online-features", &read)]
        .into_iter()
        .map(|(route, body)| {
            assert!(body.len() > 10_000_000 && body.len() < 16 << 20);
            (route, server.post_json(route, body))
        })
        .collect();
    // The bodies themselves (10 MB each, read in full) are all the memory they took.
    let peak = crate::support::status_kib(server.pid(), "VmHWM:").unwrap();
    assert!(peak < 150 * 1024, "the server's peak RSS is {peak} KiB");
    for (route, r) in answers {
        assert_eq!(r.status, 413, "{route}: {}", r.text());
        let detail = r.json()["detail"].as_str().unwrap().to_string();
        assert!(
            detail.starts_with("Request body too large to decode: its JSON values would take more than 268435456 bytes of memory"),
            "{detail}"
        );
    }
    // And the server goes on as before.
    let r = server.post_json(
        "/push",
        &push_body(1001, 0.75, &clock::pandas(clock::now())),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}
