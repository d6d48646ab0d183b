//! Feast's Redis online store with the real binary and a real redis-server: the bytes Feast
//! 0.67 wrote (`tests/fixtures/feast-0.67/redis/redis-dump.txt`) loaded into a Redis of the
//! test's own, served from the Feast repo's `registry.db` as Feast answered; writes compared
//! with Feast's bytes; the same on a three-primary Redis Cluster; deletes on `apply` and
//! `teardown`; and the failure behaviour when Redis stops or freezes.
//!
//! Every expected value comes from the fixture itself (event time 1795485600 =
//! 2026-11-24T02:00:00Z, as stored in the dump), or from Feast's answer over the same Redis
//! (recorded with the fixture), never from the clock. Writes that must win or lose are dated
//! relative to the fixture's own event time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use edgefeat::types::value_proto::decode_value;
use edgefeat::types::{Value, serialize_entity_key};

use crate::feast_repo::feast_repo;
use crate::http::Server;
use crate::redis_server::{Cluster, Redis};
use crate::support::{clock, demo_repo, run};

/// The fixture's event time, as Feast stored it.
const TS: &str = "2026-11-24T02:00:00Z";
const EPOCH: &str = "1970-01-01T00:00:00Z";
const PROJECT: &str = "feature_repo";

type Dump = BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every key, field and value of Feast's dump.
fn feast_dump() -> Dump {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/feast-0.67/redis/redis-dump.txt"),
    )
    .unwrap();
    let mut dump = Dump::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let parts: Vec<&str> = line.split(' ').collect();
        let value = parts.get(2).map_or_else(Vec::new, |v| unhex(v));
        dump.entry(unhex(parts[0]))
            .or_default()
            .insert(unhex(parts[1]), value);
    }
    assert_eq!(dump.len(), 5, "five drivers");
    dump
}

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn load_dump(con: &mut impl redis::ConnectionLike, dump: &Dump) {
    for (key, fields) in dump {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for (f, v) in fields {
            cmd.arg(f).arg(v);
        }
        let _: i64 = cmd.query(con).unwrap();
    }
}

fn hgetall(con: &mut impl redis::ConnectionLike, key: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    redis::cmd("HGETALL").arg(key).query(con).unwrap()
}

/// The Redis key Feast uses for a driver: its v3 entity key, then the project.
fn driver_key(id: i64) -> Vec<u8> {
    let mut key = serialize_entity_key(&[("driver_id", &Value::Int64(id))]).unwrap();
    key.extend_from_slice(PROJECT.as_bytes());
    key
}

/// A `Value` as a comparable value: map and struct entries sorted, because Feast does not
/// fix their order (two materializations of the same row stored them differently).
fn parsed(bytes: &[u8]) -> Value {
    fn sorted(v: Value) -> Value {
        match v {
            Value::Map(mut e) => {
                e.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(e)
            }
            Value::Struct(mut e) => {
                e.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Struct(e)
            }
            other => other,
        }
    }
    if bytes.starts_with(b"\x08") || bytes.is_empty() {
        // A timestamp field (or a null): compare as bytes.
        return Value::Bytes(bytes.to_vec());
    }
    sorted(decode_value(bytes, None).unwrap())
}

#[track_caller]
fn assert_same_hash(got: &BTreeMap<Vec<u8>, Vec<u8>>, want: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let names = |m: &BTreeMap<Vec<u8>, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "the same field names");
    for (field, value) in want {
        assert_eq!(
            parsed(&got[field]),
            parsed(value),
            "field {field:02x?}: got {:02x?}, Feast wrote {value:02x?}",
            got[field]
        );
    }
}

/// A copy of the Feast repo as its Redis variant left it: `registry.db` from the Redis run,
/// and the Redis `feature_store.yaml` pointed at `online_store` (a YAML flow mapping). The
/// SQLite file is removed, so nothing can be served from it by mistake.
fn redis_repo(online_store: &str, with_plugin: bool) -> (tempfile::TempDir, PathBuf) {
    let (tmp, repo) = feast_repo(with_plugin);
    std::fs::copy(
        repo.join("redis/registry.db"),
        repo.join("data/registry.db"),
    )
    .unwrap();
    std::fs::remove_file(repo.join("data/online_store.db")).unwrap();
    let yaml = std::fs::read_to_string(repo.join("redis/feature_store.yaml")).unwrap();
    let start = yaml.find("online_store:").unwrap();
    let end = yaml.find("entity_key_serialization_version").unwrap();
    let yaml = format!(
        "{}online_store: {online_store}\n{}",
        &yaml[..start],
        &yaml[end..]
    );
    assert!(yaml.contains("type: redis") || online_store.contains("type: redis"));
    std::fs::write(repo.join("feature_store.yaml"), yaml).unwrap();
    (tmp, repo)
}

fn single(port: u16) -> String {
    format!("{{type: redis, connection_string: \"127.0.0.1:{port}\"}}")
}

/// The quick start's three-driver request, as Feast answered it over this Redis.
fn assert_seed_read(server: &Server) {
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [1001, 1002, 1003]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        format!(
            r#"{{"results":[{{"values":[1001,1002,1003],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["{EPOCH}","{EPOCH}","{EPOCH}"]}},{{"values":[0.6644290685653687,0.11654363572597504,0.9411654472351074],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}","{TS}"]}},{{"values":[0.7406190037727356,0.7496524453163147,0.9963051080703735],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}","{TS}"]}},{{"values":[108,260,896],"statuses":["PRESENT","PRESENT","PRESENT"],"event_timestamps":["{TS}","{TS}","{TS}"]}}],"metadata":{{"feature_names":["driver_id","conv_rate","acc_rate","avg_daily_trips"]}}}}"#
        )
    );
}

/// `feast serve` over this Redis, for a known and an unknown driver (recorded with the
/// fixture): Feast's Redis store reports the unknown one PRESENT, null, at the epoch.
const FEAST_MISSING_DRIVER: &str = r#"{"results":[{"values":[1001,9999],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},{"values":[0.6644290685653687,null],"statuses":["PRESENT","PRESENT"],"event_timestamps":["2026-11-24T02:00:00Z","1970-01-01T00:00:00Z"]},{"values":[108,null],"statuses":["PRESENT","PRESENT"],"event_timestamps":["2026-11-24T02:00:00Z","1970-01-01T00:00:00Z"]}],"metadata":{"feature_names":["driver_id","conv_rate","avg_daily_trips"]}}"#;
const MISSING_DRIVER: &str = r#"{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,9999]}}"#;

#[test]
fn a_feast_repo_is_served_from_the_redis_feast_materialized() {
    let redis = Redis::start();
    load_dump(&mut connect(redis.port), &feast_dump());
    let (_tmp, repo) = redis_repo(&single(redis.port), true);
    let server = Server::start(&repo, &[]);
    assert_eq!(server.get("/health").status, 200);

    assert_seed_read(&server);
    let r = server.post_json("/get-online-features", MISSING_DRIVER);
    assert_eq!(r.text(), FEAST_MISSING_DRIVER);

    // full_feature_names, over the push-fed view.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features": ["driver_hourly_stats_fresh:conv_rate", "driver_hourly_stats_fresh:avg_daily_trips"], "entities": {"driver_id": [1005]}, "full_feature_names": true}"#,
    );
    assert_eq!(
        r.text(),
        format!(
            r#"{{"results":[{{"values":[1005],"statuses":["PRESENT"],"event_timestamps":["{EPOCH}"]}},{{"values":[0.2798316180706024],"statuses":["PRESENT"],"event_timestamps":["{TS}"]}},{{"values":[226],"statuses":["PRESENT"],"event_timestamps":["{TS}"]}}],"metadata":{{"feature_names":["driver_id","driver_hourly_stats_fresh__conv_rate","driver_hourly_stats_fresh__avg_daily_trips"]}}}}"#
        )
    );

    // Both views of one hash in one request, with the map, json and struct features: what
    // Feast's SDK read back from this Redis.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:avg_daily_trips","driver_hourly_stats:driver_metadata","driver_hourly_stats:driver_config","driver_hourly_stats:driver_profile","driver_hourly_stats_fresh:acc_rate"],"entities":{"driver_id":[1001,9999]}}"#,
    );
    let j = r.json();
    let values = |i: usize| j["results"][i]["values"].clone();
    assert_eq!(
        values(3),
        serde_json::json!([{"vehicle_type": "suv", "rating": "3.9"}, null])
    );
    assert_eq!(
        values(4),
        serde_json::json!([
            r#"{"max_distance_km": 64, "preferred_zones": ["west", "east"]}"#,
            null
        ])
    );
    assert_eq!(
        values(5),
        serde_json::json!([{"name": "driver_1001", "age": "25"}, null])
    );
    assert_eq!(values(6), serde_json::json!([0.7406190037727356, null]));

    // A feature service whose on-demand view is computed by the plugin of its name: the
    // transform runs on what the async Redis read returned.
    let r = server.post_json(
        "/get-online-features",
        r#"{"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001], "val_to_add": [1000], "val_to_add_2": [2000]}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let plus1 = r.json()["results"][2]["values"][0].as_f64().unwrap();
    assert!(
        (plus1 - (0.6644290685653687 + 1000.0)).abs() < 1e-9,
        "{plus1}"
    );
}

#[test]
fn missing_entities_not_found_reports_them_as_the_other_stores_do() {
    let redis = Redis::start();
    load_dump(&mut connect(redis.port), &feast_dump());
    let (_tmp, repo) = redis_repo(
        &format!(
            "{{type: redis, connection_string: \"127.0.0.1:{}\", missing_entities: not_found}}",
            redis.port
        ),
        false,
    );
    let server = Server::start(&repo, &[]);
    let j = server
        .post_json("/get-online-features", MISSING_DRIVER)
        .json();
    assert_eq!(
        j["results"][1]["statuses"],
        serde_json::json!(["PRESENT", "NOT_FOUND"])
    );
    assert_eq!(
        j["results"][1]["event_timestamps"],
        serde_json::json!([TS, EPOCH])
    );
}

#[test]
fn materialize_writes_the_bytes_feast_wrote() {
    let redis = Redis::start();
    let (_tmp, repo) = redis_repo(&single(redis.port), false);
    // The window Feast materialized (the fixture's own dates, not the clock's).
    let out = run(
        &repo,
        &["materialize", "2021-01-01T00:00:00", "2026-12-01T20:29:32"],
    )
    .success();
    assert!(out.stdout.contains("driver_hourly_stats"), "{}", out.stdout);
    let mut con = connect(redis.port);
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    let dump = feast_dump();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, dump.keys().cloned().collect::<Vec<_>>());
    for (key, fields) in &dump {
        assert_same_hash(&hgetall(&mut con, key), fields);
    }
    // Feast sets no expiry without key_ttl_seconds.
    let ttl: i64 = redis::cmd("TTL")
        .arg(driver_key(1001))
        .query(&mut con)
        .unwrap();
    assert_eq!(ttl, -1);
}

/// A push of `driver`'s row into the fresh view, with driver 1001's materialized values.
fn push_1001_values_as(driver: i64, ts: &str, conv_rate: &str) -> String {
    format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":[{driver}],"event_timestamp":["{ts}"],"created":["{ts}"],"conv_rate":[{conv_rate}],"acc_rate":[0.7406190037727356],"avg_daily_trips":[108],"driver_metadata":[{{"vehicle_type":"suv","rating":"3.9"}}],"driver_config":["{{\"max_distance_km\": 64, \"preferred_zones\": [\"west\", \"east\"]}}"],"driver_profile":[{{"name":"driver_1001","age":"25"}}]}},"to":"online"}}"#
    )
}

/// The fields of one view in a Feast hash: its murmur fields and its `_ts:` field.
fn view_fields(
    hash: &BTreeMap<Vec<u8>, Vec<u8>>,
    view: &str,
    features: &[&str],
) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut names: Vec<Vec<u8>> = features
        .iter()
        .map(|f| edgefeat::online::redis_layout::feature_field(view, f).to_vec())
        .collect();
    names.push(format!("_ts:{view}").into_bytes());
    names
        .into_iter()
        .filter_map(|n| hash.get(&n).map(|v| (n, v.clone())))
        .collect()
}

const FEATURES: [&str; 6] = [
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "driver_metadata",
    "driver_config",
    "driver_profile",
];

#[test]
fn pushes_write_feasts_bytes_and_only_a_strictly_newer_event_overwrites() {
    let redis = Redis::start();
    let dump = feast_dump();
    let mut con = connect(redis.port);
    load_dump(&mut con, &dump);
    let (_tmp, repo) = redis_repo(
        &format!(
            "{{type: redis, connection_string: \"127.0.0.1:{}\", key_ttl_seconds: 3600}}",
            redis.port
        ),
        false,
    );
    let server = Server::start(&repo, &[]);
    let fresh = "driver_hourly_stats_fresh";
    let feast_1001 = &dump[&driver_key(1001)];

    // Driver 2001 pushed with 1001's values at 1001's event time: the hash holds exactly the
    // fields and values Feast wrote for 1001's fresh view.
    let r = server.post_json(
        "/push",
        &push_1001_values_as(2001, TS, "0.6644290685653687"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let pushed = hgetall(&mut con, &driver_key(2001));
    assert_same_hash(&pushed, &view_fields(feast_1001, fresh, &FEATURES));
    let ttl: i64 = redis::cmd("TTL")
        .arg(driver_key(2001))
        .query(&mut con)
        .unwrap();
    assert!((3500..=3600).contains(&ttl), "{ttl}");

    // An older event, and one at the same time, leave the hash (and its expiry) as it was.
    let _: i64 = redis::cmd("EXPIRE")
        .arg(driver_key(2001))
        .arg(100)
        .query(&mut con)
        .unwrap();
    for ts in ["2026-11-24T01:00:00Z", TS] {
        let r = server.post_json("/push", &push_1001_values_as(2001, ts, "0.5"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(hgetall(&mut con, &driver_key(2001)), pushed, "{ts}");
    }
    let ttl: i64 = redis::cmd("TTL")
        .arg(driver_key(2001))
        .query(&mut con)
        .unwrap();
    assert!(ttl <= 100, "a kept row does not refresh the expiry: {ttl}");

    // A newer one overwrites its view's fields, and only those: 1001's other view keeps
    // what Feast materialized.
    let r = server.post_json(
        "/push",
        &push_1001_values_as(1001, "2026-11-24T03:00:00.5Z", "0.5"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let after = hgetall(&mut con, &driver_key(1001));
    let stats = "driver_hourly_stats";
    assert_eq!(
        view_fields(&after, stats, &FEATURES),
        view_fields(feast_1001, stats, &FEATURES)
    );
    let conv = edgefeat::online::redis_layout::feature_field(fresh, "conv_rate");
    assert_eq!(parsed(&after[&conv[..]]), Value::Float(0.5));
    // Sub-second event times are kept, as Feast keeps them in Redis.
    assert_eq!(
        after[&format!("_ts:{fresh}").into_bytes()],
        [
            0x08, 0xb0, 0xfb, 0x93, 0xd8, 0x06, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01
        ]
    );
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats_fresh:conv_rate","driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001]},"full_feature_names":true}"#,
    );
    let j = r.json();
    assert_eq!(j["results"][1]["values"], serde_json::json!([0.5]));
    assert_eq!(
        j["results"][1]["event_timestamps"],
        serde_json::json!(["2026-11-24T03:00:00.500Z"])
    );
    assert_eq!(
        j["results"][2]["values"],
        serde_json::json!([0.6644290685653687])
    );
}

#[test]
fn the_feast_repo_is_served_and_written_over_a_redis_cluster() {
    let cluster = Cluster::start();
    let nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    let mut con = redis::cluster::ClusterClient::new(nodes)
        .unwrap()
        .get_connection()
        .unwrap();
    let dump = feast_dump();
    load_dump(&mut con, &dump);
    let (_tmp, repo) = redis_repo(
        &format!(
            "{{type: redis, redis_type: redis_cluster, connection_string: \"127.0.0.1:{}\"}}",
            cluster.ports[0]
        ),
        false,
    );
    let server = Server::start(&repo, &[]);
    assert_eq!(server.get("/health").status, 200);
    assert_seed_read(&server);
    assert_eq!(
        server
            .post_json("/get-online-features", MISSING_DRIVER)
            .text(),
        FEAST_MISSING_DRIVER
    );

    // 40 drivers in one push and one read: batches that span every primary.
    let ids: Vec<i64> = (3001..3041).collect();
    let column = |v: &str| vec![v; ids.len()].join(",");
    let push = format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":{ids:?},"event_timestamp":[{ts}],"created":[{ts}],"conv_rate":[{conv}],"acc_rate":[{conv}],"avg_daily_trips":[{trips}],"driver_metadata":[{meta}],"driver_config":[{config}],"driver_profile":[{profile}]}},"to":"online"}}"#,
        ts = column(&format!("\"{TS}\"")),
        conv = column("0.5"),
        trips = column("7"),
        meta = column(r#"{"vehicle_type":"van","rating":"4.0"}"#),
        config = column(r#""{}""#),
        profile = column(r#"{"name":"n","age":"30"}"#),
    );
    let r = server.post_json("/push", &push);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post_json(
        "/get-online-features",
        &format!(
            r#"{{"features":["driver_hourly_stats_fresh:avg_daily_trips","driver_hourly_stats:avg_daily_trips"],"entities":{{"driver_id":{ids:?}}},"full_feature_names":true}}"#
        ),
    );
    let j = r.json();
    assert_eq!(j["results"][1]["values"], serde_json::json!(vec![7; 40]));
    assert_eq!(
        j["results"][1]["event_timestamps"],
        serde_json::json!(vec![TS; 40])
    );
    // The other view was never written for them: PRESENT, null, at the epoch, as Feast says.
    assert_eq!(
        j["results"][2]["values"],
        serde_json::json!(vec![serde_json::Value::Null; 40])
    );
    let counts = cluster.key_counts();
    assert_eq!(counts.iter().sum::<usize>(), 45, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "spread over the primaries: {counts:?}"
    );
    // An older push for one of them is kept out on the cluster too.
    let r = server.post_json(
        "/push",
        &push_1001_values_as(3001, "2026-11-24T01:00:00Z", "0.25"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{"driver_id":[3001]}}"#,
    );
    assert_eq!(r.json()["results"][1]["values"], serde_json::json!([0.5]));
}

/// The demo repo (edgefeat's own registry) with its online store in Feast's Redis layout,
/// and one more view over the same entity, so that hashes hold three views.
fn demo_on_redis(port: u16) -> (tempfile::TempDir, PathBuf, String) {
    let (tmp, repo) = demo_repo();
    let path = repo.join("feature_store.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let start = yaml.find("online_store:").unwrap();
    let end = yaml[start..]
        .find("entity_key_serialization_version")
        .unwrap()
        + start;
    let yaml = format!(
        "{}online_store: {}\n{}",
        &yaml[..start],
        single(port),
        &yaml[end..]
    );
    std::fs::write(&path, yaml).unwrap();
    let definitions = repo.join("feature_definitions.yaml");
    let original = std::fs::read_to_string(&definitions).unwrap();
    let extra = original.replace(
        "\non_demand_feature_views:",
        "\n  - name: driver_extra\n    entities: [driver]\n    schema:\n      - name: conv_rate\n        dtype: Float32\n    source: driver_hourly_stats_source\n    online: true\n\non_demand_feature_views:",
    );
    assert_ne!(extra, original);
    std::fs::write(&definitions, extra).unwrap();
    (tmp, repo, original)
}

fn field_names(con: &mut redis::Connection, key: &[u8]) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = redis::cmd("HKEYS").arg(key).query(con).unwrap();
    names.sort();
    names
}

#[test]
fn apply_and_teardown_delete_what_feast_deletes_and_nothing_else() {
    let redis = Redis::start();
    let (_tmp, repo, original) = demo_on_redis(redis.port);
    run(&repo, &["apply"]).success();
    run(
        &repo,
        &[
            "materialize-incremental",
            &clock::naive(clock::far_future()),
        ],
    )
    .success();
    let project = "demo";
    let key = |id: i64| {
        let mut k = serialize_entity_key(&[("driver_id", &Value::Int64(id))]).unwrap();
        k.extend_from_slice(project.as_bytes());
        k
    };
    let mut con = connect(redis.port);
    // Two views of six features and one of one, each with its timestamp.
    assert_eq!(field_names(&mut con, &key(1001)).len(), 16);
    {
        let server = Server::start(&repo, &[]);
        let r = server.post_json(
            "/write-to-online-store",
            &format!(
                r#"{{"feature_view_name":"driver_extra","df":{{"driver_id":[7001],"conv_rate":[0.5],"event_timestamp":["{}"]}}}}"#,
                clock::rfc3339(clock::now())
            ),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(field_names(&mut con, &key(7001)).len(), 2);
    // A key of another project whose name ends with this one's: Feast's scan pattern
    // matches it, and it is not ours to delete.
    let mut foreign = serialize_entity_key(&[("driver_id", &Value::Int64(1001))]).unwrap();
    foreign.extend_from_slice(b"my_demo");
    let _: i64 = redis::cmd("HSET")
        .arg(&foreign)
        .arg("_ts:driver_extra")
        .arg("x")
        .query(&mut con)
        .unwrap();

    // Removing the view deletes its fields; a hash only it wrote goes entirely.
    std::fs::write(repo.join("feature_definitions.yaml"), &original).unwrap();
    let out = run(&repo, &["apply"]).success();
    assert!(out.stdout.contains("driver_extra"), "{}", out.stdout);
    let names = field_names(&mut con, &key(1001));
    assert_eq!(names.len(), 14, "{names:02x?}");
    assert!(!names.contains(&b"_ts:driver_extra".to_vec()));
    assert!(names.contains(&b"_ts:driver_hourly_stats".to_vec()));
    let exists: i64 = redis::cmd("EXISTS").arg(key(7001)).query(&mut con).unwrap();
    assert_eq!(exists, 0);

    run(&repo, &["teardown"]).success();
    let left: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert_eq!(left, vec![foreign]);
}

#[test]
fn redis_down_or_frozen_fails_requests_fast_and_recovers_without_restart() {
    let mut redis = Redis::start();
    load_dump(&mut connect(redis.port), &feast_dump());
    let (_tmp, repo) = redis_repo(
        &format!(
            "{{type: redis, connection_string: \"127.0.0.1:{}\", timeout_ms: 300}}",
            redis.port
        ),
        false,
    );
    let server = Server::start(&repo, &[]);
    assert_seed_read(&server);
    let r = server.post_json("/push", &push_1001_values_as(2001, TS, "0.25"));
    assert_eq!(r.status, 200, "{}", r.text());

    redis.stop();
    let started = Instant::now();
    let r = server.post_json("/get-online-features", MISSING_DRIVER);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.status, 500, "{}", r.text());
    let envelope: serde_json::Value = serde_json::from_str(r.json().as_str().unwrap()).unwrap();
    assert_eq!(envelope["class"], "FeastError");
    let message = envelope["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "online store read failed: redis 127.0.0.1:{}",
            redis.port
        )),
        "{message}"
    );
    let r = server.post_json("/push", &push_1001_values_as(2002, TS, "0.25"));
    assert_eq!(r.status, 500, "an unacknowledged push: {}", r.text());
    assert_eq!(server.get("/health").status, 503);
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(r#"edgefeat_redis_errors_total{op="read",kind="unavailable"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"edgefeat_redis_request_duration_seconds_bucket{op="write""#),
        "{metrics}"
    );

    redis.restart();
    server.wait_until_healthy();
    assert_eq!(
        server
            .post_json("/get-online-features", MISSING_DRIVER)
            .text(),
        FEAST_MISSING_DRIVER
    );

    redis.freeze(true);
    let started = Instant::now();
    let r = server.post_json("/get-online-features", MISSING_DRIVER);
    let took = started.elapsed();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.text().contains("did not answer within 300 ms"),
        "{}",
        r.text()
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The server's other routes answer while Redis hangs: no worker waits on it.
    assert_eq!(server.get("/metrics").status, 200);
    redis.freeze(false);
    server.wait_until_healthy();
    // The acknowledged push survived (Redis fsyncs every write); the refused one was never
    // stored.
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{"driver_id":[2001,2002]}}"#,
    );
    assert_eq!(
        r.json()["results"][1]["values"],
        serde_json::json!([0.25, null])
    );
}
