//! Valid requests for every route of the demo repo: what the mutator starts from.
//!
//! Reads name the demo's own drivers (1001..1005), whose answers are the snapshot the oracle
//! compares. Writes name only drivers private to their request ([`private_ids`]): far from the
//! demo's, and never shared between two requests, so that after a batch the oracle can read
//! back exactly the rows each write named and tell an accepted write's rows from a rejected
//! one's (which must not exist).

use serde_json::{Value, json};

use super::rng::Rng;
use crate::support::clock;

/// The demo's drivers: read by the snapshot, never named by a write.
pub const DEMO_DRIVERS: [i64; 5] = [1001, 1002, 1003, 1004, 1005];

/// Private ids start here, far above the demo's and below the interesting numbers the mutator
/// uses (2^32 is under it, 2^53 far over it).
const PRIVATE_BASE: i64 = 5_000_000_000;
/// Ids a request may name: rows use the first [`MAX_ROWS`], a mutation may add or subtract one.
const STRIDE: i64 = 16;
pub const MAX_ROWS: i64 = 4;

/// The ids request `index` writes (its rows), and the wider range a mutation can move them into
/// (one below to one past the last slot): no two requests' ranges overlap.
pub fn private_ids(index: u64) -> (i64, std::ops::RangeInclusive<i64>) {
    let base = PRIVATE_BASE + index as i64 * STRIDE;
    (base, base - 1..=base + 2 * MAX_ROWS + 1)
}

/// The routes, as the generator picks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    GetOnlineFeatures,
    Push,
    WriteToOnlineStore,
    Materialize,
    MaterializeIncremental,
    Search,
    RetrieveOnlineDocuments,
    Get(&'static str),
}

impl Route {
    pub fn path(self) -> &'static str {
        match self {
            Route::GetOnlineFeatures => "/get-online-features",
            Route::Push => "/push",
            Route::WriteToOnlineStore => "/write-to-online-store",
            Route::Materialize => "/materialize",
            Route::MaterializeIncremental => "/materialize-incremental",
            Route::Search => "/search",
            Route::RetrieveOnlineDocuments => "/retrieve-online-documents",
            Route::Get(path) => path,
        }
    }

    /// Whether a request to this route can store rows online or offline.
    pub fn writes(self) -> bool {
        matches!(self, Route::Push | Route::WriteToOnlineStore)
    }

    /// Whether the valid request must be accepted on the demo: the demo has no vector field,
    /// so a valid search is still refused there.
    pub fn valid_is_accepted(self) -> bool {
        !matches!(self, Route::Search | Route::RetrieveOnlineDocuments)
    }
}

/// How often each route is picked: reads and writes most, materializations rarely (each one
/// rewrites the registry and reads every offline part, so they would dominate a long run).
const ROUTES: [(Route, u32); 11] = [
    (Route::GetOnlineFeatures, 36),
    (Route::Push, 24),
    (Route::WriteToOnlineStore, 14),
    (Route::Materialize, 2),
    (Route::MaterializeIncremental, 2),
    (Route::Search, 5),
    (Route::RetrieveOnlineDocuments, 3),
    (Route::Get("/health"), 4),
    (Route::Get("/metrics"), 2),
    (Route::Get("/plugins"), 4),
    (Route::Get("/openapi.json"), 4),
];

pub fn pick_route(rng: &mut Rng) -> Route {
    let weights: Vec<u32> = ROUTES.iter().map(|(_, w)| *w).collect();
    ROUTES[rng.weighted(&weights)].0
}

/// The demo views' features, in the order the demo declares them.
pub const FEATURES: [&str; 6] = [
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "driver_metadata",
    "driver_config",
    "driver_profile",
];
const VIEWS: [&str; 2] = ["driver_hourly_stats", "driver_hourly_stats_fresh"];
const SERVICES: [&str; 3] = [
    "driver_activity_v1",
    "driver_activity_v2",
    "driver_activity_v3",
];

/// The names the demo defines, for the mutator to put where another name was.
pub const NAMES: [&str; 16] = [
    "driver_hourly_stats",
    "driver_hourly_stats_fresh",
    "transformed_conv_rate",
    "driver_stats_push_source",
    "driver_hourly_stats_source",
    "driver_activity_v1",
    "driver_id",
    "conv_rate",
    "event_timestamp",
    "created",
    "val_to_add",
    "driver_config",
    "online",
    "offline",
    "online_and_offline",
    "transformed_conv_rate:conv_rate_plus_val1",
];

/// The valid body of a request to `route` (None for the GET routes).
pub fn body(route: Route, index: u64, rng: &mut Rng) -> Option<Value> {
    Some(match route {
        Route::GetOnlineFeatures => read(rng),
        Route::Push => push(index, rng),
        Route::WriteToOnlineStore => write_to_online_store(index, rng),
        Route::Materialize => materialize(rng),
        Route::MaterializeIncremental => {
            json!({"end_ts": clock::naive(clock::now()), "feature_views": views(rng)})
        }
        Route::Search | Route::RetrieveOnlineDocuments => json!({
            "features": ["driver_hourly_stats:conv_rate"],
            "query": [0.1, 0.2, 0.3],
            "top_k": 1 + rng.below(5),
        }),
        Route::Get(_) => return None,
    })
}

fn read(rng: &mut Rng) -> Value {
    let drivers: Vec<i64> = (0..1 + rng.below(5))
        .map(|_| rng.pick(&DEMO_DRIVERS))
        .collect();
    let n = drivers.len();
    let mut entities = serde_json::Map::new();
    entities.insert("driver_id".into(), json!(drivers));
    let mut body = serde_json::Map::new();
    if rng.chance(25) {
        // The services with a transform read the request data too.
        body.insert("feature_service".into(), json!(rng.pick(&SERVICES)));
        entities.insert("val_to_add".into(), json!(vec![rng.below(100); n]));
        entities.insert("val_to_add_2".into(), json!(vec![rng.below(100); n]));
    } else {
        // Both views have the same feature names: mixing them needs full names.
        let full_names = rng.chance(30);
        let one_view = rng.pick(&VIEWS);
        let mut features: Vec<String> = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let view = if full_names {
                rng.pick(&VIEWS)
            } else {
                one_view
            };
            let reference = format!("{view}:{}", rng.pick(&FEATURES));
            if !features.contains(&reference) {
                features.push(reference);
            }
        }
        body.insert("features".into(), json!(features));
        if full_names {
            body.insert("full_feature_names".into(), json!(true));
        }
    }
    body.insert("entities".into(), Value::Object(entities));
    Value::Object(body)
}

/// The demo's columns for `rows` rows from `base`, stamped with `ts`. Every integer in it is
/// one of the request's private ids: a mutation that renames a column to `driver_id` still
/// names only those.
fn frame(rows: i64, base: i64, ts: &str) -> Value {
    let ids: Vec<i64> = (0..rows).map(|k| base + k).collect();
    let n = rows as usize;
    json!({
        "driver_id": ids,
        "event_timestamp": vec![ts; n],
        "created": vec![ts; n],
        // Quarters and integers: exactly representable as Float32, so read back exactly.
        "conv_rate": (0..rows).map(|k| k as f64 / 4.0).collect::<Vec<_>>(),
        "acc_rate": vec![0.5; n],
        "avg_daily_trips": vec![base; n],
        "driver_metadata": vec![json!({"vehicle_type": "truck", "rating": "4.9"}); n],
        "driver_config": vec!["{\"max_distance_km\": 50}"; n],
        "driver_profile": vec![json!({"name": "fuzz", "age": "40"}); n],
    })
}

/// A timestamp just before now, in one of the forms clients send.
fn recent(rng: &mut Rng) -> String {
    let t = clock::now() - chrono::Duration::seconds(rng.below(3600) as i64);
    if rng.chance(50) {
        clock::pandas(t)
    } else {
        clock::rfc3339(t)
    }
}

fn push(index: u64, rng: &mut Rng) -> Value {
    let (base, _) = private_ids(index);
    let rows = 1 + rng.below(MAX_ROWS as usize) as i64;
    let ts = recent(rng);
    // Offline pushes are rarer: each accepted one adds a part file that every later
    // materialization reads.
    let to = [
        "online", "online", "online", "online", "online", "online", "offline",
    ][rng.below(7)];
    let to = if to == "online" && rng.chance(5) {
        "online_and_offline"
    } else {
        to
    };
    json!({
        "push_source_name": "driver_stats_push_source",
        "df": frame(rows, base, &ts),
        "to": to,
    })
}

fn write_to_online_store(index: u64, rng: &mut Rng) -> Value {
    let (base, _) = private_ids(index);
    let rows = 1 + rng.below(MAX_ROWS as usize) as i64;
    let ts = recent(rng);
    json!({
        "feature_view_name": rng.pick(&VIEWS),
        "df": frame(rows, base, &ts),
    })
}

fn views(rng: &mut Rng) -> Value {
    match rng.below(3) {
        0 => json!([]),
        1 => json!([rng.pick(&VIEWS)]),
        _ => json!(VIEWS),
    }
}

fn materialize(rng: &mut Rng) -> Value {
    // Windows around now: a valid one covers some of the demo's data, which it writes again
    // unchanged (the store keeps the newer row, and these are the rows it holds).
    let end = clock::now() - chrono::Duration::hours(rng.below(48) as i64);
    let start = end - chrono::Duration::hours(1 + rng.below(24) as i64);
    json!({
        "start_ts": clock::naive(start),
        "end_ts": clock::naive(end),
        "feature_views": views(rng),
    })
}
