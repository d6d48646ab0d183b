//! Offline part files with the real binary: a bad part is quarantined and materialization goes
//! on.

use std::path::{Path, PathBuf};

use serde_json::{Value as J, json};

use crate::http::Server;
use crate::push::{materialize_window, offline_body, pushed_demo};
use crate::support::{clock, run};

const SOURCE: &str = "data/driver_stats.parquet";
const QUARANTINE: &str = "data/driver_stats.parquet.parts.quarantine";

/// One row of the demo's source as a dataframe, with `config` as the Json feature's text.
fn row(driver: i64, at: chrono::DateTime<chrono::Utc>, config: &str) -> Vec<(String, Vec<J>)> {
    let ts = clock::pandas(at);
    vec![
        ("event_timestamp".into(), vec![json!(ts)]),
        ("driver_id".into(), vec![json!(driver)]),
        ("conv_rate".into(), vec![json!(0.5)]),
        ("acc_rate".into(), vec![json!(0.25)]),
        ("avg_daily_trips".into(), vec![json!(driver)]),
        ("created".into(), vec![json!(ts)]),
        (
            "driver_metadata".into(),
            vec![json!({"vehicle_type": "suv"})],
        ),
        ("driver_config".into(), vec![json!(config)]),
        (
            "driver_profile".into(),
            vec![json!({"name": "x", "age": "30"})],
        ),
    ]
}

/// Writes a part as an older release would have: without the push route's checks.
fn write_part(
    repo: &Path,
    driver: i64,
    at: chrono::DateTime<chrono::Utc>,
    config: &str,
) -> PathBuf {
    edgefeat::offline::push::append_rows(&repo.join(SOURCE), &row(driver, at, config))
        .unwrap()
        .0
}

/// A part name of ours beside `part`'s (its last hex digit changed), holding half a file.
fn torn_beside(part: &Path) -> PathBuf {
    let name = part.file_name().unwrap().to_string_lossy().into_owned();
    let mut stem = name.trim_end_matches(".parquet").to_string();
    let last = if stem.ends_with('0') { '1' } else { '0' };
    stem.pop();
    stem.push(last);
    let torn = part.with_file_name(format!("{stem}.parquet"));
    std::fs::write(&torn, b"PAR1 half a part, cut by a crash").unwrap();
    torn
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn statuses(server: &Server, view: &str, ids: &[i64]) -> Vec<String> {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let r = server.post_json(
        "/get-online-features",
        &format!(
            r#"{{"features":["{view}:avg_daily_trips"],"entities":{{"driver_id":[{}]}}}}"#,
            ids.join(",")
        ),
    );
    r.json()["results"][1]["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_bad_part_is_quarantined_and_every_later_materialization_goes_on() {
    let (_tmp, repo) = pushed_demo();
    let at = clock::after_demo_data();
    let good = write_part(&repo, 3001, at, "{}");
    // A Json feature holding text that is not JSON, which no push accepts any more.
    let bad = write_part(&repo, 3002, at, "not json {");
    write_part(&repo, 3003, at, "[]");
    let torn = torn_beside(&good);
    let end = clock::naive(clock::hours_from_now(2));

    // Before, this failed on every run and the watermark never moved.
    let r = run(&repo, &["materialize-incremental", &end]).success();
    for file in [&bad, &torn] {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            r.stdout.lines().any(|l| l.contains("error: offline part")
                && l.contains(&name)
                && l.contains("moved to")),
            "{name} reported:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("not valid JSON"), "{}", r.stdout);
    assert!(
        r.stdout.contains("not a readable parquet file"),
        "{}",
        r.stdout
    );
    // Nothing deleted: both are in the quarantine folder, each with why.
    let moved = names(&repo.join(QUARANTINE));
    for file in [&bad, &torn] {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(moved.contains(&name), "{moved:?}");
        assert!(moved.contains(&format!("{name}.reason.txt")), "{moved:?}");
        assert!(!file.exists());
    }
    // The watermark moved: the next run has nothing to do, and reads no bad file.
    let again = run(&repo, &["materialize-incremental", &end]).success();
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    assert!(!again.stdout.contains("error"), "{}", again.stdout);

    // The good rows are served, the bad one's entity is not.
    let server = Server::start(&repo, &[]);
    for view in ["driver_hourly_stats", "driver_hourly_stats_fresh"] {
        assert_eq!(
            statuses(&server, view, &[3001, 3002, 3003]),
            ["PRESENT", "NOT_FOUND", "PRESENT"],
            "{view}"
        );
    }

    // Over HTTP alike, with the metric.
    let later = clock::hours_from_now(3);
    let bad = write_part(&repo, 3004, later, "{broken");
    write_part(&repo, 3005, later, "{}");
    let r = server.post_json(
        "/materialize-incremental",
        &format!(
            r#"{{"end_ts":"{}"}}"#,
            clock::naive(clock::hours_from_now(4))
        ),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
    assert!(!bad.exists());
    assert!(
        names(&repo.join(QUARANTINE))
            .contains(&bad.file_name().unwrap().to_string_lossy().into_owned())
    );
    assert_eq!(
        statuses(&server, "driver_hourly_stats", &[3004, 3005]),
        ["NOT_FOUND", "PRESENT"]
    );
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(
            r#"edgefeat_offline_parts_quarantined_total{source="driver_hourly_stats_source"} 1"#
        ),
        "{metrics}"
    );
}

#[test]
fn many_offline_pushes_are_compacted_and_every_row_is_still_materialized() {
    let (_tmp, repo) = pushed_demo();
    let server = Server::start(&repo, &[]);
    let at = clock::after_demo_data();
    let ts = clock::pandas(at);
    // Twice the threshold and a few: two compactions, and parts pushed after them.
    let n = 2 * edgefeat::offline::compact::COMPACT_AT as i64 + 5;
    for i in 0..n {
        // Eighths are exact in a Float32 feature.
        let body = offline_body(5000 + i, i as f64 / 8.0, &ts, "offline");
        let r = server.post_json("/push", &body);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let dir = repo.join("data/driver_stats.parquet.parts");
    let parquet = || {
        names(&dir)
            .into_iter()
            .filter(|n| n.ends_with(".parquet") && !n.starts_with('.'))
            .collect::<Vec<_>>()
    };
    // Compaction runs in the background of the push that made it due.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while parquet().len() as i64 >= edgefeat::offline::compact::COMPACT_AT as i64
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let files = parquet();
    assert!(
        files.len() < edgefeat::offline::compact::COMPACT_AT,
        "{} parts: {files:?}",
        files.len()
    );
    assert!(files.iter().any(|f| f.ends_with("-c.parquet")), "{files:?}");

    materialize_window(
        &server,
        at - chrono::Duration::hours(1),
        at + chrono::Duration::hours(1),
    );
    let ids: Vec<String> = (0..n).map(|i| (5000 + i).to_string()).collect();
    let r = server.post_json(
        "/get-online-features",
        &format!(
            r#"{{"features":["driver_hourly_stats:conv_rate"],"entities":{{"driver_id":[{}]}}}}"#,
            ids.join(",")
        ),
    );
    let got = &r.json()["results"][1];
    let want: Vec<J> = (0..n).map(|i| json!(i as f64 / 8.0)).collect();
    assert_eq!(got["values"], J::Array(want));
    assert!(
        got["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s == "PRESENT"),
        "{got}"
    );
}
