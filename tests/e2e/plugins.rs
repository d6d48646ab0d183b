//! WebAssembly transforms in a running server: a misbehaving plugin fails only the requests
//! that use it, with Feast's error envelope; a new plugin version is picked up without a
//! restart, and a broken one never replaces a working one.
//!
//! The misbehaving plugins are the hand-written components of
//! `edgefeat::plugins::wat_fixtures`, which describe themselves exactly as the demo plugin
//! does, so `apply` accepts them in its place.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use edgefeat::plugins::wat_fixtures::{Behaviour, VALUE, wat_text};
use serde_json::Value as J;
use sha2::{Digest, Sha256};

use crate::http::{Response, Server, request};
use crate::support::demo_repo;

const PLUGIN: &str = "transformed_conv_rate";

/// The transform request of the spec (§3.10): one known and one unknown driver.
const TRANSFORM_2_ROWS: &str = r#"{"features":["driver_hourly_stats:conv_rate","transformed_conv_rate:conv_rate_plus_val1"],"entities":{"driver_id":[1001,9999],"val_to_add":[1000,1],"val_to_add_2":[2000,2]}}"#;
const TRANSFORM_1_ROW: &str = r#"{"features":["driver_hourly_stats:conv_rate","transformed_conv_rate:conv_rate_plus_val1"],"entities":{"driver_id":[1001],"val_to_add":[1000],"val_to_add_2":[2000]}}"#;
const PLAIN: &str =
    r#"{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001,1002]}}"#;

fn fixture(behaviour: Behaviour) -> Vec<u8> {
    wat::parse_str(wat_text(behaviour)).unwrap_or_else(|e| panic!("{behaviour:?}: {e}"))
}

fn demo_plugin() -> &'static [u8] {
    assert!(
        !edgefeat::plugins::DEMO_PLUGIN.is_empty(),
        "the demo plugin was not embedded: run `rustup target add wasm32-wasip2` and rebuild"
    );
    edgefeat::plugins::DEMO_PLUGIN
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Replaces `repo/plugins/transformed_conv_rate.wasm` as a deploy should: a hidden temp file
/// in the same directory, then a rename.
fn deploy(repo: &Path, bytes: &[u8]) {
    let dir = repo.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!(".{PLUGIN}.wasm.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(format!("{PLUGIN}.wasm"))).unwrap();
}

/// A demo repo whose transform plugin is `plugin`, applied and materialized.
fn demo_with(plugin: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let (tmp, repo) = demo_repo();
    deploy(&repo, plugin);
    crate::support::apply_and_materialize(&repo);
    (tmp, repo)
}

/// The values of feature `name` in a 200 response.
#[track_caller]
fn values(r: &Response, name: &str) -> Vec<J> {
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let names = v["metadata"]["feature_names"]
        .as_array()
        .unwrap_or_else(|| panic!("no feature names: {v}"));
    let i = names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no feature {name}: {v}"));
    v["results"][i]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no values: {v}"))
        .clone()
}

/// The message of a 500 with Feast's envelope: a JSON string holding
/// `{"module": "feast.errors", "class": "FeastError", "message": ...}`.
#[track_caller]
fn feast_error(r: &Response) -> String {
    assert_eq!(r.status, 500, "{}", r.text());
    let J::String(inner) = r.json() else {
        panic!("not a JSON string: {}", r.text());
    };
    let e: J = serde_json::from_str(&inner).unwrap_or_else(|err| panic!("{err}: {inner}"));
    assert_eq!(e["module"], "feast.errors", "{inner}");
    assert_eq!(e["class"], "FeastError", "{inner}");
    let message = e["message"].as_str().unwrap_or_else(|| panic!("{inner}"));
    assert!(
        message.contains(&format!("plugin `{PLUGIN}`")),
        "the message must name the plugin: {message}"
    );
    message.to_string()
}

fn transform(server: &Server, body: &str) -> Response {
    server.post_json("/get-online-features", body)
}

#[test]
fn a_looping_plugin_fails_its_requests_and_plain_reads_keep_answering() {
    let (_tmp, repo) = demo_with(&fixture(Behaviour::InfiniteLoop));
    let server = Server::start(&repo, &[]);
    let started = Instant::now();
    let message = feast_error(&transform(&server, TRANSFORM_2_ROWS));
    assert!(message.contains("time limit"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the loop was not stopped: {:?}",
        started.elapsed()
    );

    // Four clients keep the plugin looping while a fifth sends plain reads.
    let stop = Arc::new(AtomicBool::new(false));
    let loopers: Vec<_> = (0..4)
        .map(|_| {
            let (addr, stop) = (server.addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) || sent == 0 {
                    let r = request(
                        &addr,
                        "POST",
                        "/get-online-features",
                        &[],
                        TRANSFORM_2_ROWS.as_bytes(),
                    );
                    let message = feast_error(&r);
                    assert!(message.contains("time limit"), "{message}");
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let plain = {
        let addr = server.addr.clone();
        std::thread::spawn(move || {
            for _ in 0..50 {
                let r = request(&addr, "POST", "/get-online-features", &[], PLAIN.as_bytes());
                assert_eq!(values(&r, "conv_rate").len(), 2);
            }
        })
    };
    let plain = plain.join();
    stop.store(true, Ordering::Relaxed);
    let looped: Vec<usize> = loopers.into_iter().map(|t| t.join().unwrap()).collect();
    plain.expect("every plain read answered 200");
    assert!(looped.iter().all(|n| *n > 0), "{looped:?}");
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn a_plugin_over_its_memory_limit_fails_its_request() {
    let (_tmp, repo) = demo_with(&fixture(Behaviour::GrowMemory));
    let server = Server::start(&repo, &[]);
    let message = feast_error(&transform(&server, TRANSFORM_2_ROWS));
    assert!(message.contains("memory limit"), "{message}");
    // Plain reads are unaffected.
    assert_eq!(values(&transform(&server, PLAIN), "conv_rate").len(), 2);
}

#[test]
fn a_trap_fails_one_request_and_the_next_one_succeeds() {
    let (_tmp, repo) = demo_with(&fixture(Behaviour::TrapOnTwoRows));
    let server = Server::start(&repo, &[]);
    let message = feast_error(&transform(&server, TRANSFORM_2_ROWS));
    assert!(message.contains("trapped"), "{message}");
    let r = transform(&server, TRANSFORM_1_ROW);
    assert_eq!(values(&r, "conv_rate_plus_val1"), [J::from(VALUE)]);
    // And again: every trap is followed by a working instance.
    let message = feast_error(&transform(&server, TRANSFORM_2_ROWS));
    assert!(message.contains("trapped"), "{message}");
    let r = transform(&server, TRANSFORM_1_ROW);
    assert_eq!(values(&r, "conv_rate_plus_val1"), [J::from(VALUE)]);
}

#[test]
fn a_wrong_row_count_fails_the_request() {
    let (_tmp, repo) = demo_with(&fixture(Behaviour::WrongRowCount));
    let server = Server::start(&repo, &[]);
    let message = feast_error(&transform(&server, TRANSFORM_2_ROWS));
    assert!(message.contains("returned 3 rows for 2"), "{message}");
}

/// Sends the 1-row transform request until `done` accepts its `conv_rate_plus_val1` value,
/// for up to 10 s; returns the last value.
fn poll_value(server: &Server, what: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = values(&transform(server, TRANSFORM_1_ROW), "conv_rate_plus_val1")[0]
            .as_f64()
            .expect("a number");
        if done(got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within 10 s (still {got})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `GET /plugins` entry of the demo plugin.
#[track_caller]
fn plugin_status(server: &Server) -> J {
    let r = server.get("/plugins");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let dir = v["directory"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_default();
    assert!(dir.ends_with("demo/plugins"), "{v}");
    let list = v["plugins"].as_array().unwrap_or_else(|| panic!("{v}"));
    list.iter()
        .find(|p| p["name"] == PLUGIN)
        .unwrap_or_else(|| panic!("no {PLUGIN} in {v}"))
        .clone()
}

#[test]
fn a_new_plugin_version_is_served_without_a_restart_and_a_broken_one_is_not() {
    let ok = fixture(Behaviour::Ok);
    let (_tmp, repo) = demo_with(&ok);
    let server = Server::start(&repo, &[]);
    let r = transform(&server, TRANSFORM_1_ROW);
    assert_eq!(values(&r, "conv_rate_plus_val1"), [J::from(VALUE)]);
    let status = plugin_status(&server);
    assert_eq!(status["loaded"], true, "{status}");
    assert_eq!(status["version"], Behaviour::Ok.version(), "{status}");
    assert_eq!(status["sha256"], sha256(&ok), "{status}");
    assert_eq!(status["last_error"], J::Null, "{status}");

    // The real plugin replaces the fixture: conv_rate + val_to_add.
    let real = demo_plugin();
    deploy(&repo, real);
    let conv = crate::materialize::newest_demo_values(&repo)[&1001].0;
    let want = f64::from(conv) + 1000.0;
    let got = poll_value(&server, "the new version is served", |v| v != VALUE);
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
    let status = plugin_status(&server);
    assert_eq!(status["sha256"], sha256(real), "{status}");
    assert_eq!(status["last_error"], J::Null, "{status}");
    let loaded_at = status["loaded_at"].clone();

    // A broken file is refused; the real plugin keeps serving.
    deploy(&repo, b"not wasm");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = plugin_status(&server);
        if !status["last_error"].is_null() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the failed load is not reported within 10 s: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status["loaded"], true, "{status}");
    assert_eq!(status["sha256"], sha256(real), "{status}");
    assert_eq!(status["loaded_at"], loaded_at, "{status}");
    assert!(status["last_error_at"].is_string(), "{status}");
    let error = status["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("magic header"), "{status}");
    let got = values(&transform(&server, TRANSFORM_1_ROW), "conv_rate_plus_val1")[0]
        .as_f64()
        .expect("a number");
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");

    // Putting the served version back clears the error without loading anything.
    deploy(&repo, real);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = plugin_status(&server);
        if status["last_error"].is_null() {
            assert_eq!(status["last_error_at"], J::Null, "{status}");
            assert_eq!(status["sha256"], sha256(real), "{status}");
            assert_eq!(status["loaded_at"], loaded_at, "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the error is still reported 10 s after the revert: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `.cwasm` files of the repo's compiled-plugin cache.
fn cached_plugins(repo: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo.join("data/plugin-cache"))
        .expect("the plugin cache exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_damaged_plugin_cache_is_compiled_again_instead_of_crashing_the_server() {
    let (_tmp, repo) = demo_with(demo_plugin());
    let conv = f64::from(crate::materialize::newest_demo_values(&repo)[&1001].0);
    let served = |server: &Server| {
        let got = values(&transform(server, TRANSFORM_2_ROWS), "conv_rate_plus_val1");
        assert_eq!(got, [J::from(conv + 1000.0), J::Null]);
    };
    // A first run fills the cache (apply compiled the plugin; this start loads it from there).
    served(&Server::start(&repo, &[]));
    let cached = cached_plugins(&repo);
    assert!(!cached.is_empty(), "apply and serve cached nothing");

    // The middle half of each file, which is mostly machine code (.text), inverted: loaded as
    // it is, it crashes the server with SIGSEGV while the plugin describes itself.
    let damaged: Vec<Vec<u8>> = cached
        .iter()
        .map(|path| {
            let mut bytes = std::fs::read(path).unwrap();
            let n = bytes.len();
            bytes[n / 4..3 * n / 4].iter_mut().for_each(|b| *b ^= 0xff);
            bytes
        })
        .collect();
    for (path, bytes) in cached.iter().zip(&damaged) {
        std::fs::write(path, bytes).unwrap();
    }

    let server = Server::start(&repo, &[]);
    served(&server);
    assert_eq!(plugin_status(&server)["last_error"], J::Null);
    assert_eq!(
        cached_plugins(&repo),
        cached,
        "the entries keep their names"
    );
    // Compiling again need not give the same bytes: each entry is checked, not compared.
    for (path, bytes) in cached.iter().zip(&damaged) {
        let now = std::fs::read(path).unwrap();
        assert!(&now != bytes, "{} was not rewritten", path.display());
        assert!(is_sealed(path, &now), "{} is not sealed", path.display());
    }
}

/// Whether `bytes` are a cache entry as docs/plugins.md describes it: `edgefeat-cwasm1` and a
/// newline, the SHA-256 of the key's length (u64 LE), the key (the file name without
/// `.cwasm`) and the artifact, then the artifact.
fn is_sealed(path: &Path, bytes: &[u8]) -> bool {
    let key = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let Some(rest) = bytes.strip_prefix(b"edgefeat-cwasm1\n") else {
        return false;
    };
    let Some((digest, artifact)) = rest.split_at_checked(32) else {
        return false;
    };
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.update(artifact);
    h.finalize().as_slice() == digest
}

/// The demo, with `transformed_conv_rate_fresh` served by a second plugin, `looper`, that
/// loops forever; `transformed_conv_rate` keeps the demo plugin.
fn demo_with_a_looping_neighbour() -> (tempfile::TempDir, PathBuf) {
    let (tmp, repo) = demo_repo();
    deploy(&repo, demo_plugin());
    std::fs::write(
        repo.join("plugins/looper.wasm"),
        fixture(Behaviour::InfiniteLoop),
    )
    .unwrap();
    let defs = repo.join("feature_definitions.yaml");
    let text = std::fs::read_to_string(&defs).unwrap();
    let fresh = text
        .find("- name: transformed_conv_rate_fresh")
        .expect("the demo has the fresh on-demand view");
    let (head, tail) = text.split_at(fresh);
    let tail = tail.replacen("plugin: transformed_conv_rate", "plugin: looper", 1);
    std::fs::write(&defs, format!("{head}{tail}")).unwrap();
    crate::support::apply_and_materialize(&repo);
    (tmp, repo)
}

#[test]
fn a_plugin_that_keeps_hitting_its_deadline_fails_fast_and_spares_the_others() {
    let (_tmp, repo) = demo_with_a_looping_neighbour();
    let server = Server::start(&repo, &[]);
    let looping = TRANSFORM_1_ROW.replace("transformed_conv_rate:", "transformed_conv_rate_fresh:");
    // Clients keep the looping view busy while another reads the demo's own view.
    let stop = Arc::new(AtomicBool::new(false));
    let loopers: Vec<_> = (0..4)
        .map(|_| {
            let (addr, stop, body) = (server.addr.clone(), stop.clone(), looping.clone());
            std::thread::spawn(move || {
                let (mut ran, mut fast) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let r = request(&addr, "POST", "/get-online-features", &[], body.as_bytes());
                    assert_eq!(r.status, 500, "{}", r.text());
                    let text = r.text();
                    assert!(text.contains("plugin `looper`"), "{text}");
                    if text.contains("is failing fast") {
                        fast += 1;
                    } else {
                        assert!(text.contains("time limit"), "{text}");
                        ran += 1;
                    }
                }
                (ran, fast)
            })
        })
        .collect();
    for _ in 0..200 {
        let r = transform(&server, TRANSFORM_1_ROW);
        assert_eq!(values(&r, "conv_rate_plus_val1").len(), 1);
    }
    stop.store(true, Ordering::Relaxed);
    let (ran, fast) = loopers
        .into_iter()
        .map(|t| t.join().unwrap())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    // Past the first few deadline hits the looping plugin is not called at all: its calls
    // cost microseconds and hold no permit the demo's view needs.
    assert!(
        fast > 0,
        "the breaker never opened ({ran} calls ran to the deadline)"
    );
    assert!(
        ran <= 4 * edgefeat::plugins::breaker::TRIP_HITS,
        "{ran} calls ran to the deadline, {fast} failed fast"
    );
    let status = server.get("/plugins").json();
    let plugins = status["plugins"].as_array().unwrap();
    let breaker = |name: &str| {
        plugins
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {status}"))["breaker"]
            .clone()
    };
    let looper = breaker("looper");
    assert!(looper["trips"].as_u64() >= Some(1), "{looper}");
    assert!(looper["refused_calls"].as_u64() >= Some(1), "{looper}");
    assert_eq!(breaker(PLUGIN)["state"], "closed", "{status}");
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(r#"edgefeat_plugin_breaker_trips_total{plugin="looper"}"#),
        "{metrics}"
    );
}
