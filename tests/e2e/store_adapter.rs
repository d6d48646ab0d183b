//! Store adapters with the real binary: the example `redis-layout-adapter` over a real
//! redis-server started on a free loopback port (and over the local LMDB kv), its failure
//! behaviour (Redis stopped and restarted, a trapping adapter), and the sockets allow-list.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::http::Server;
use crate::materialize::newest_demo_values;
use crate::redis_server::{Cluster, Redis, free_port};
use crate::support::{clock, demo_repo, run};

/// The demo repo with its online store replaced by the example adapter over `kv` (a YAML
/// flow mapping).
fn adapter_repo(kv: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, repo) = demo_repo();
    let wasm = edgefeat::plugins::REDIS_LAYOUT_ADAPTER;
    assert!(
        !wasm.is_empty(),
        "the example adapter was not built: install the wasm32-wasip2 target (scripts/test does)"
    );
    std::fs::write(repo.join("plugins/redis-layout-adapter.wasm"), wasm).unwrap();
    set_online_store(
        &repo,
        &format!(
            "online_store:\n    type: plugin\n    plugin: redis-layout-adapter\n    config: {{key_prefix: \"t:\"}}\n    kv: {kv}\n"
        ),
    );
    (tmp, repo)
}

fn set_online_store(repo: &Path, section: &str) {
    let path = repo.join("feature_store.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let start = yaml.find("online_store:").unwrap();
    let end = yaml[start..]
        .find("entity_key_serialization_version")
        .unwrap()
        + start;
    let yaml = format!("{}{section}{}", &yaml[..start], &yaml[end..]);
    std::fs::write(&path, yaml).unwrap();
}

fn redis_kv(port: u16, timeout_ms: u64) -> String {
    format!("{{type: redis, connection_string: \"127.0.0.1:{port}\", timeout_ms: {timeout_ms}}}")
}

const SEED: &str = r#"{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,1005,9999]}}"#;

/// Checks a seed read against the newest rows of the parquet: the same answer the built-in
/// store gives.
#[track_caller]
fn assert_seed_read(server: &Server, repo: &Path) {
    let expected = newest_demo_values(repo);
    let r = server.post_json("/get-online-features", SEED);
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    for (i, id) in [1001i64, 1002, 1005].iter().enumerate() {
        let (conv, trips) = expected[id];
        assert_eq!(
            j["results"][1]["values"][i],
            serde_json::json!(conv),
            "{id}"
        );
        assert_eq!(
            j["results"][2]["values"][i],
            serde_json::json!(trips),
            "{id}"
        );
        assert_eq!(j["results"][1]["statuses"][i], "PRESENT");
    }
    assert_eq!(j["results"][1]["statuses"][3], "NOT_FOUND");
    assert_eq!(j["results"][1]["values"][3], serde_json::Value::Null);
}

/// The class and message of a Feast error envelope (a JSON string holding a JSON object).
#[track_caller]
fn feast_error(r: &crate::http::Response) -> (String, String) {
    let inner = r.json();
    let inner: serde_json::Value = serde_json::from_str(
        inner
            .as_str()
            .unwrap_or_else(|| panic!("not an envelope: {}", r.text())),
    )
    .unwrap();
    assert_eq!(inner["module"], "feast.errors");
    (
        inner["class"].as_str().unwrap().to_string(),
        inner["message"].as_str().unwrap().to_string(),
    )
}

fn push_body(driver: i64, conv_rate: f64, ts: &str) -> String {
    format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":[{driver}],"event_timestamp":["{ts}"],"created":["{ts}"],"conv_rate":[{conv_rate}],"acc_rate":[0.5],"avg_daily_trips":[1000],"driver_metadata":[{{"vehicle_type":"truck","rating":"4.9"}}],"driver_config":["{{\"max_distance_km\": 50}}"],"driver_profile":[{{"name":"pushed","age":"40"}}]}},"to":"online"}}"#
    )
}

const FRESH: &str = r#"{"features":["driver_hourly_stats_fresh:conv_rate","driver_hourly_stats_fresh:avg_daily_trips","driver_hourly_stats_fresh:driver_metadata","driver_hourly_stats_fresh:driver_profile"],"entities":{"driver_id":[1001,1002]}}"#;

/// The built-in store's answer to FRESH after `push_body(1001, 0.75, ..10:59:42)` into a store that
/// holds nothing else (so the literal timestamp is newest on any day): the
/// adapter must give the same bytes, maps and structs included.
const FRESH_AFTER_PUSH: &str = r#"{"results":[{"values":[1001,1002],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},{"values":[0.75,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]},{"values":[1000,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]},{"values":[{"vehicle_type":"truck","rating":"4.9"},null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]},{"values":[{"name":"pushed","age":"40"},null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-11-24T10:59:42Z","1970-01-01T00:00:00Z"]}],"metadata":{"feature_names":["driver_id","conv_rate","avg_daily_trips","driver_metadata","driver_profile"]}}"#;

/// The demo flow of the quick start, every step through the adapter and Redis.
fn demo_flow(repo: &Path) {
    let out = run(repo, &["apply"]).success();
    assert!(out.stdout.contains("driver_hourly_stats"), "{}", out.stdout);
    run(
        repo,
        &[
            "materialize-incremental",
            &clock::naive(clock::far_future()),
        ],
    )
    .success();
    let server = Server::start(repo, &[]);
    assert_eq!(server.get("/health").status, 200);
    assert_seed_read(&server, repo);
    // A push dated after every materialized row replaces driver 1001's row.
    let pushed_at = clock::after_demo_data();
    let r = server.post_json("/push", &push_body(1001, 0.75, &clock::pandas(pushed_at)));
    assert_eq!(r.status, 200, "{}", r.text());
    let after_push = server.post_json("/get-online-features", FRESH).json();
    assert_eq!(
        after_push["results"][1],
        serde_json::json!({"values":[0.75, after_push["results"][1]["values"][1]],"statuses":["PRESENT","PRESENT"],"event_timestamps":[clock::rfc3339(pushed_at), after_push["results"][1]["event_timestamps"][1]]})
    );
    assert_eq!(
        after_push["results"][3]["values"][0],
        serde_json::json!({"vehicle_type":"truck","rating":"4.9"})
    );
    assert_eq!(
        after_push["results"][4]["values"][0],
        serde_json::json!({"name":"pushed","age":"40"})
    );
    // Newer wins through the adapter too: an older push does not roll the value back.
    let older = clock::pandas(pushed_at - chrono::Duration::hours(2));
    server.post_json("/push", &push_body(1001, 0.1, &older));
    assert_eq!(
        server.post_json("/get-online-features", FRESH).json(),
        after_push
    );
}

#[test]
fn the_demo_flow_runs_through_the_adapter_over_redis() {
    let redis = Redis::start();
    let (_tmp, repo) = adapter_repo(&redis_kv(redis.port, 500));
    demo_flow(&repo);
    // The rows are in Redis in the documented layout: a hash per entity per project.
    let mut s = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.write_all(b"DBSIZE\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let size: usize = String::from_utf8_lossy(&buf[1..n]).trim().parse().unwrap();
    assert_eq!(size, 5, "one hash per demo driver");
    // A graceful stop with the Redis client live exits cleanly.
    let server = Server::start(&repo, &[]);
    assert_eq!(server.post_json("/get-online-features", SEED).status, 200);
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = server
        .wait(Duration::from_secs(10))
        .expect("the server stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    // Teardown removes them through delete-table.
    run(&repo, &["teardown"]).success();
    s.write_all(b"DBSIZE\r\n").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b":0\r\n");
}

#[test]
fn the_demo_flow_runs_through_the_adapter_over_local_lmdb() {
    let (_tmp, repo) = adapter_repo("{type: lmdb, path: data/kv.lmdb}");
    demo_flow(&repo);
    assert!(repo.join("data/kv.lmdb").is_dir());
    assert!(!repo.join("data/online_store.lmdb").exists());
}

#[test]
fn redis_down_fails_fast_reports_unhealthy_and_recovers_without_losing_acked_writes() {
    let mut redis = Redis::start();
    let (_tmp, repo) = adapter_repo(&redis_kv(redis.port, 300));
    run(&repo, &["apply"]).success();
    let server = Server::start(&repo, &[]);
    let r = server.post_json("/push", &push_body(1001, 0.75, "2026-11-24 10:59:42+00:00"));
    assert_eq!(r.status, 200, "{}", r.text());

    redis.stop();
    let started = Instant::now();
    let r = server.post_json("/get-online-features", FRESH);
    let took = started.elapsed();
    assert_eq!(r.status, 500, "{}", r.text());
    let (class, message) = feast_error(&r);
    assert_eq!(class, "FeastError");
    assert!(
        message.starts_with("online store read failed: store adapter `redis-layout-adapter` online-read failed: key-value store unavailable: redis 127.0.0.1:"),
        "{message}"
    );
    // Within the timeout (300 ms) and its margin, not a TCP timeout of minutes.
    assert!(took < Duration::from_secs(5), "{took:?}");
    let r = server.post_json("/push", &push_body(1002, 0.5, "2026-11-24 10:59:42+00:00"));
    assert_eq!(r.status, 500, "an unacknowledged push: {}", r.text());
    assert!(
        feast_error(&r).1.starts_with("online store write failed: "),
        "{}",
        r.text()
    );
    assert_eq!(server.get("/health").status, 503);
    // Routes that need no store still answer, and the metrics count the failures.
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(r#"edgefeat_kv_errors_total{op="get",kind="unavailable"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("edgefeat_kv_request_duration_seconds_bucket"),
        "{metrics}"
    );

    redis.restart();
    server.wait_until_healthy();
    // The acknowledged push survived; the refused one was never stored.
    assert_eq!(
        server.post_json("/get-online-features", FRESH).text(),
        FRESH_AFTER_PUSH
    );
}

/// The probe fixture (tests/e2e/fixtures/probe-adapter), built once per test run.
fn probe_adapter() -> &'static [u8] {
    static WASM: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    WASM.get_or_init(|| {
        let krate =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/probe-adapter");
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probe-adapter-target");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--target",
                "wasm32-wasip2",
            ])
            .arg("--target-dir")
            .arg(&target)
            .current_dir(&krate)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "the probe adapter builds (needs the wasm32-wasip2 target)"
        );
        std::fs::read(target.join("wasm32-wasip2/release/probe_adapter.wasm")).unwrap()
    })
}

/// The demo repo on the probe adapter, with `extra` YAML lines under `online_store`.
fn probe_repo(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, repo) = demo_repo();
    std::fs::write(repo.join("plugins/probe.wasm"), probe_adapter()).unwrap();
    set_online_store(
        &repo,
        &format!("online_store:\n    type: plugin\n    plugin: probe\n{extra}"),
    );
    (tmp, repo)
}

#[test]
fn a_trapping_adapter_fails_only_its_own_request() {
    let (_tmp, repo) = probe_repo("");
    run(&repo, &["apply"]).success();
    let server = Server::start(&repo, &[]);
    let read = |driver: i64| {
        server.post_json(
            "/get-online-features",
            &format!(
                r#"{{"features":["driver_hourly_stats:conv_rate"],"entities":{{"driver_id":[{driver}]}}}}"#
            ),
        )
    };
    let r = read(666);
    assert_eq!(r.status, 500, "{}", r.text());
    let (class, message) = feast_error(&r);
    assert_eq!(class, "FeastError");
    assert!(
        message.starts_with("online store read failed: store adapter `probe` trapped: "),
        "{message}"
    );
    // The next requests get a fresh instance: a miss, not an error.
    for _ in 0..3 {
        let r = read(1001);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json()["results"][1]["statuses"],
            serde_json::json!(["NOT_FOUND"])
        );
    }
    assert_eq!(server.get("/health").status, 200);
    // Trapping again and again never takes the server down.
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let driver = if i % 2 == 0 { 666 } else { 1002 };
                let body = format!(
                    r#"{{"features":["driver_hourly_stats:conv_rate"],"entities":{{"driver_id":[{driver}]}}}}"#
                );
                (driver, crate::http::request(&addr, "POST", "/get-online-features", &[], body.as_bytes()).status)
            })
        })
        .collect();
    for h in handles {
        let (driver, status) = h.join().unwrap();
        assert_eq!(
            status,
            if driver == 666 { 500 } else { 200 },
            "driver {driver}"
        );
    }
}

#[test]
fn an_adapter_reaches_only_the_addresses_it_is_allowed() {
    // A listener the adapter could reach, if it were allowed to.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap();
    let other = free_port();

    let (_tmp, repo) = probe_repo(&format!(
        "    config: {{connect: \"{target}\"}}\n    allow_connect: [\"127.0.0.1:{other}\"]\n"
    ));
    let out = run(&repo, &["apply"]).failure();
    assert!(
        out.stderr.contains(&format!(
            "store adapter `probe` open failed: connect {target}"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.to_lowercase().contains("permission denied"),
        "{}",
        out.stderr
    );
    assert!(listener.accept().is_err(), "no connection was made");

    // With no allow-list at all, no socket is allowed either.
    let (_tmp2, repo2) = probe_repo(&format!("    config: {{connect: \"{target}\"}}\n"));
    let out = run(&repo2, &["apply"]).failure();
    assert!(
        out.stderr.to_lowercase().contains("permission denied"),
        "{}",
        out.stderr
    );
    assert!(listener.accept().is_err(), "no connection was made");

    // The control: allowed, the same adapter connects.
    let (_tmp3, repo3) = probe_repo(&format!(
        "    config: {{connect: \"{target}\"}}\n    allow_connect: [\"{target}\"]\n"
    ));
    run(&repo3, &["apply"]).success();
    listener.set_nonblocking(false).unwrap();
    assert!(listener.accept().is_ok(), "the allowed address was reached");
}

#[test]
fn a_frozen_redis_fails_requests_within_the_timeout_and_recovers() {
    let redis = Redis::start();
    let (_tmp, repo) = adapter_repo(&redis_kv(redis.port, 200));
    run(&repo, &["apply"]).success();
    let server = Server::start(&repo, &[]);
    let r = server.post_json("/push", &push_body(1001, 0.75, "2026-11-24 10:59:42+00:00"));
    assert_eq!(r.status, 200, "{}", r.text());

    redis.freeze(true);
    let started = Instant::now();
    let r = server.post_json("/get-online-features", FRESH);
    let took = started.elapsed();
    assert_eq!(r.status, 500, "{}", r.text());
    let message = feast_error(&r).1;
    assert!(
        message.contains("did not answer within 200 ms"),
        "{message}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(server.get("/health").status, 503);

    redis.freeze(false);
    server.wait_until_healthy();
    assert_eq!(
        server.post_json("/get-online-features", FRESH).text(),
        FRESH_AFTER_PUSH
    );
}

/// Replaces a file the way deployments do: a temp file renamed into place.
fn deploy(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_replaced_adapter_is_swapped_in_without_failing_requests() {
    let (_tmp, repo) = adapter_repo("{type: lmdb}");
    run(&repo, &["apply"]).success();
    run(
        &repo,
        &[
            "materialize-incremental",
            &clock::naive(clock::far_future()),
        ],
    )
    .success();
    let server = Server::start(&repo, &[]);
    let body = r#"{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001]}}"#;
    let status_of = || {
        let r = server.post_json("/get-online-features", body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["results"][1]["statuses"][0]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of(), "PRESENT");

    // Requests keep flowing during every swap below; none may fail.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (addr, stop) = (server.addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = crate::http::request(
                    &addr,
                    "POST",
                    "/get-online-features",
                    &[],
                    body.as_bytes(),
                );
                assert_eq!(r.status, 200, "{}", r.text());
                n += 1;
            }
            n
        })
    };
    let wait_for = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while status_of() != want {
            assert!(
                Instant::now() < deadline,
                "the adapter was not swapped to give {want}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let file = repo.join("plugins/redis-layout-adapter.wasm");
    // The probe adapter holds nothing: every read is a miss.
    deploy(&file, probe_adapter());
    wait_for("NOT_FOUND");
    // A broken file is refused; the probe keeps serving.
    deploy(&file, b"not a component");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(status_of(), "NOT_FOUND");
    // The real adapter again: the data it wrote is served again.
    deploy(&file, edgefeat::plugins::REDIS_LAYOUT_ADAPTER);
    wait_for("PRESENT");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(load.join().unwrap() > 0);
}

#[test]
fn the_demo_flow_runs_over_a_redis_cluster() {
    let cluster = Cluster::start();
    let (_tmp, repo) = adapter_repo(&format!(
        "{{type: redis, redis_type: redis_cluster, connection_string: \"127.0.0.1:{}\"}}",
        cluster.ports[0]
    ));
    demo_flow(&repo);
    // 40 more drivers in one push and one read: batches that span every primary.
    let ids: Vec<i64> = (2001..2041).collect();
    let column = |v: &str| vec![v; ids.len()].join(",");
    let push = format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":{ids:?},"event_timestamp":[{ts}],"created":[{ts}],"conv_rate":[{conv}],"acc_rate":[{conv}],"avg_daily_trips":[{trips}],"driver_metadata":[{meta}],"driver_config":[{config}],"driver_profile":[{profile}]}},"to":"online"}}"#,
        ts = column("\"2026-11-24 10:00:00\""),
        conv = column("0.5"),
        trips = column("7"),
        meta = column(r#"{"vehicle_type":"van","rating":"4.0"}"#),
        config = column(r#""{}""#),
        profile = column(r#"{"name":"n","age":"30"}"#),
    );
    let server = Server::start(&repo, &[]);
    let r = server.post_json("/push", &push);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post_json(
        "/get-online-features",
        &format!(
            r#"{{"features":["driver_hourly_stats_fresh:avg_daily_trips"],"entities":{{"driver_id":{ids:?}}}}}"#
        ),
    );
    assert_eq!(
        r.json()["results"][1]["values"],
        serde_json::json!(vec![7; 40]),
        "{}",
        r.text()
    );
    let counts = cluster.key_counts();
    assert_eq!(
        counts.iter().sum::<usize>(),
        45,
        "one hash per driver: {counts:?}"
    );
    assert!(
        counts.iter().all(|&n| n > 0),
        "the hashes are spread over the primaries: {counts:?}"
    );
    // Teardown scans every primary.
    run(&repo, &["teardown"]).success();
    assert_eq!(cluster.key_counts(), [0, 0, 0]);
}

#[test]
fn plugin_check_tells_a_store_adapter_and_its_world() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("redis-layout-adapter.wasm");
    std::fs::write(&file, edgefeat::plugins::REDIS_LAYOUT_ADAPTER).unwrap();
    let out = run(
        tmp.path(),
        &["plugin", "check", "redis-layout-adapter.wasm"],
    )
    .success();
    assert!(
        out.stdout.contains("store adapter (")
            && out
                .stdout
                .contains("world store-adapter: it imports host-kv"),
        "{}",
        out.stdout
    );
    std::fs::write(tmp.path().join("probe.wasm"), probe_adapter()).unwrap();
    let out = run(tmp.path(), &["plugin", "check", "probe.wasm"]).success();
    assert!(
        out.stdout.contains("world store-adapter-sockets")
            && out.stdout.contains("online_store.allow_connect"),
        "{}",
        out.stdout
    );
}
