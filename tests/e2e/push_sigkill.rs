//! Crash consistency of durable pushes: the server is killed with SIGKILL while several clients
//! push, round after round on the same repo, and every push it acknowledged must be read back
//! exactly, online at once and offline after a materialization. A push that was not
//! acknowledged may be there or not, but never torn: present means every value as sent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::http::Server;
use crate::support::{clock, demo_repo, run};

const CLIENTS: i64 = 4;
const ROUNDS: i64 = 5;
/// Ids per client per round: more than a round can push, so that ids never repeat.
const SLOTS: i64 = 100_000;

/// Where each push goes, by its id: mostly online, some offline, some both.
fn destination(id: i64) -> &'static str {
    match id % 4 {
        0 => "offline",
        1 => "online_and_offline",
        _ => "online",
    }
}

/// A row whose every value is derived from its id, so that a torn or mixed row shows.
fn push_body(id: i64, ts: &str) -> String {
    format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":[{id}],"event_timestamp":["{ts}"],"created":["{ts}"],"conv_rate":[{}],"acc_rate":[0.5],"avg_daily_trips":[{id}],"driver_metadata":[{{"vehicle_type":"v{id}","rating":"{id}"}}],"driver_config":["{{\"id\": {id}}}"],"driver_profile":[{{"name":"n{id}","age":"1"}}]}},"to":"{}"}}"#,
        (id % 1024) as f64 / 4.0,
        destination(id)
    )
}

/// One push on its own connection: the status, or None when the server did not answer (it was
/// killed). Unlike `http::request`, a dead server is an outcome here, not a panic.
fn push(addr: &str, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = format!(
        "POST /push HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// One round: clients push until the server dies under them; returns (acknowledged, attempted).
fn round(repo: &std::path::Path, round: i64, ts: &str) -> (Vec<i64>, Vec<i64>) {
    let server = Server::start(repo, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let addr = server.addr.clone();
            let stop = stop.clone();
            let ts = ts.to_string();
            std::thread::spawn(move || {
                let (mut acked, mut tried) = (Vec::new(), Vec::new());
                let first = 1_000_000 + (round * CLIENTS + c) * SLOTS;
                for id in first..first + SLOTS {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tried.push(id);
                    // Any failure (refused, reset, no answer) is an unacknowledged push; the
                    // client stops when the server is gone.
                    match push(&addr, &push_body(id, &ts)) {
                        Some(200) => acked.push(id),
                        Some(status) => panic!("push {id} answered {status}"),
                        None => break,
                    }
                }
                (acked, tried)
            })
        })
        .collect();
    // Kill at a different point of each round, once the clients are well under way.
    std::thread::sleep(Duration::from_millis(700 + 300 * round as u64));
    server.signal("-KILL");
    stop.store(true, Ordering::Relaxed);
    assert!(server.wait(Duration::from_secs(10)).is_some(), "killed");
    let (mut acked, mut tried) = (Vec::new(), Vec::new());
    for c in clients {
        let (a, t) = c.join().expect("a client");
        acked.extend(a);
        tried.extend(t);
    }
    (acked, tried)
}

/// Reads `view` for `ids`: per id, None when NOT_FOUND, else the row's values as read.
fn read(server: &Server, view: &str, ids: &[i64]) -> Vec<Option<Value>> {
    let features: Vec<String> = [
        "conv_rate",
        "avg_daily_trips",
        "driver_metadata",
        "driver_config",
        "driver_profile",
    ]
    .iter()
    .map(|f| format!("{view}:{f}"))
    .collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(5000) {
        let r = server.post_json(
            "/get-online-features",
            &json!({"features": features, "entities": {"driver_id": chunk}}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        for i in 0..chunk.len() {
            let status = &v["results"][2]["statuses"][i];
            if status == "NOT_FOUND" {
                out.push(None);
            } else {
                out.push(Some(json!(
                    (1..=5)
                        .map(|c| v["results"][c]["values"][i].clone())
                        .collect::<Vec<_>>()
                )));
            }
        }
    }
    out
}

/// What a row pushed with `id` reads as.
fn expected(id: i64) -> Value {
    json!([
        (id % 1024) as f64 / 4.0,
        id,
        {"vehicle_type": format!("v{id}"), "rating": id.to_string()},
        format!("{{\"id\": {id}}}"),
        {"name": format!("n{id}"), "age": "1"}
    ])
}

/// Every acknowledged id of `acked` is read exactly; every other attempted one is absent or
/// exact. Returns how many acknowledged ids were checked.
fn check(server: &Server, view: &str, acked: &[i64], tried: &[i64]) -> usize {
    let read_back = read(server, view, tried);
    let acked: std::collections::HashSet<i64> = acked.iter().copied().collect();
    let mut lost = Vec::new();
    for (id, got) in tried.iter().zip(read_back) {
        match got {
            Some(row) => assert_eq!(row, expected(*id), "driver {id} in {view} is torn"),
            None if acked.contains(id) => lost.push(*id),
            None => {}
        }
    }
    assert!(lost.is_empty(), "acknowledged and lost in {view}: {lost:?}");
    acked.len()
}

#[test]
fn acknowledged_pushes_survive_sigkill_rounds_under_concurrent_load() {
    let (_tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    // A year ahead of every generated row, so that materializing around it reads only pushes.
    let at = clock::far_future();
    let ts = clock::pandas(at);
    let (mut acked, mut tried) = (Vec::new(), Vec::new());
    for r in 0..ROUNDS {
        let (a, t) = round(&repo, r, &ts);
        assert!(
            !a.is_empty(),
            "round {r} acknowledged nothing before the kill"
        );
        acked.extend(a);
        tried.extend(t);
        // Restarted on the same repo: everything acknowledged so far, this round and before.
        let server = Server::start(&repo, &[]);
        let online = |ids: &[i64]| -> Vec<i64> {
            ids.iter()
                .copied()
                .filter(|id| destination(*id) != "offline")
                .collect()
        };
        check(
            &server,
            "driver_hourly_stats_fresh",
            &online(&acked),
            &online(&tried),
        );
    }
    // Offline: the parts every round left, read through a materialization of the pushes' day.
    let server = Server::start(&repo, &[]);
    let r = server.post_json(
        "/materialize",
        &format!(
            r#"{{"start_ts":"{}","end_ts":"{}","feature_views":["driver_hourly_stats"]}}"#,
            clock::naive(at - chrono::Duration::hours(1)),
            clock::naive(at + chrono::Duration::hours(1))
        ),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
    let offline = |ids: &[i64]| -> Vec<i64> {
        ids.iter()
            .copied()
            .filter(|id| destination(*id) != "online")
            .collect()
    };
    let online_n = acked
        .iter()
        .filter(|id| destination(**id) != "offline")
        .count();
    let offline_n = check(
        &server,
        "driver_hourly_stats",
        &offline(&acked),
        &offline(&tried),
    );
    println!(
        "sigkill: {ROUNDS} rounds, {CLIENTS} clients; acknowledged {} pushes ({online_n} online, \
         {offline_n} offline) of {} attempted; 0 lost",
        acked.len(),
        tried.len()
    );
}
