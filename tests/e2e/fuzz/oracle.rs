//! What must hold after every response and after every batch, whatever was sent.
//!
//! Per response: an answer arrives (no hang); a well-formed request is never dropped without
//! one; every 5xx is a JSON body with a JSON content type (Feast's error envelope, a JSON string,
//! or `{"detail": ...}`); no body holds panic text; a valid request is accepted.
//!
//! Per batch: the process is alive and logged no panic; `/health` answers 200; its RSS is under
//! the cap; `/metrics` stays under [`MAX_METRICS_BYTES`]; the demo's reads answer byte for byte what they answered before the run; and every
//! write is read back by the ids it named: a refused one (4xx, 5xx) stored none of them, an
//! accepted one left them readable, and a valid one stored exactly what it sent.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use serde_json::{Value, json};

use super::generate::{Generated, Pushed};
use super::seeds::{self, DEMO_DRIVERS};
use super::wire::{Conn, Outcome, Request};
use crate::support::status_kib;

/// What `/metrics` may grow to: its series are fixed by the routes, statuses, views and
/// plugins, about 60 kB for the demo, whatever the requests held.
pub const MAX_METRICS_BYTES: usize = 256 << 10;

/// The reads whose answers must never change: every view, with and without the transforms.
fn snapshot_reads() -> Vec<String> {
    let features = |view: &str| -> Vec<String> {
        seeds::FEATURES
            .iter()
            .map(|f| format!("{view}:{f}"))
            .collect()
    };
    let mut drivers = DEMO_DRIVERS.to_vec();
    drivers.push(999);
    let vals: Vec<i64> = (1..=drivers.len() as i64).collect();
    vec![
        json!({"features": features("driver_hourly_stats"), "entities": {"driver_id": drivers}}),
        json!({"features": features("driver_hourly_stats_fresh"), "entities": {"driver_id": drivers}}),
        json!({"feature_service": "driver_activity_v2", "entities": {"driver_id": drivers, "val_to_add": vals, "val_to_add_2": vals}}),
        json!({"feature_service": "driver_activity_v3", "entities": {"driver_id": drivers, "val_to_add": vals, "val_to_add_2": vals}}),
        json!({"feature_service": "driver_activity_v1", "full_feature_names": true, "entities": {"driver_id": drivers, "val_to_add": vals, "val_to_add_2": vals}}),
    ]
    .into_iter()
    .map(|v| v.to_string())
    .collect()
}

/// The oracle's state over a run.
pub struct Oracle {
    pid: u32,
    conn: Conn,
    log: PathBuf,
    log_seen: u64,
    snapshot: Vec<(String, Vec<u8>)>,
    rss_cap_kib: u64,
    pub max_rss_kib: u64,
    /// Of which anonymous (the heap), the figure the cap applies to.
    pub max_anon_kib: u64,
    pub max_metrics_bytes: usize,
    /// Answers by status, and the other outcomes by name.
    pub counts: BTreeMap<String, u64>,
    pub accepted_writes: u64,
    /// Every refused write of the run, read back once more after the final materialization.
    pub rejected_writes: Vec<u64>,
    /// Valid offline pushes, to be found offline after that materialization.
    offline_pushes: Vec<(u64, Pushed)>,
    batch_rejected: Vec<u64>,
    batch_accepted: Vec<u64>,
    batch_pristine: Vec<(u64, Pushed)>,
}

/// One POST on the oracle's own connection; anything but an answer is a failure.
fn post(conn: &mut Conn, path: &str, body: &str) -> Result<(u16, Vec<u8>), String> {
    let req = Request {
        bytes: format!(
            "POST {path} HTTP/1.1\r\nHost: oracle\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
        fresh: false,
    };
    match conn.send(&req) {
        Outcome::Answered(r) => Ok((r.status, r.body)),
        other => Err(format!("the oracle's own {path} got {other:?}")),
    }
}

fn get(conn: &mut Conn, path: &str) -> Result<(u16, Vec<u8>), String> {
    let req = Request {
        bytes: format!("GET {path} HTTP/1.1\r\nHost: oracle\r\n\r\n").into_bytes(),
        fresh: false,
    };
    match conn.send(&req) {
        Outcome::Answered(r) => Ok((r.status, r.body)),
        other => Err(format!("the oracle's own GET {path} got {other:?}")),
    }
}

/// Text that only a panic (or a leaked backtrace) puts in a response or the log.
fn has_panic_text(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.contains("panicked") || text.contains("RUST_BACKTRACE") || text.contains("stack backtrace")
}

impl Oracle {
    /// Takes the snapshot: the demo's reads as they answer before any fuzzed request.
    pub fn new(
        pid: u32,
        addr: &str,
        log: PathBuf,
        timeout: std::time::Duration,
        rss_cap_kib: u64,
    ) -> Result<Oracle, String> {
        let mut conn = Conn::new(addr, timeout);
        let mut snapshot = Vec::new();
        for body in snapshot_reads() {
            let (status, bytes) = post(&mut conn, "/get-online-features", &body)?;
            if status != 200 {
                return Err(format!(
                    "snapshot read {body} answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
            snapshot.push((body, bytes));
        }
        Ok(Oracle {
            pid,
            conn,
            log,
            log_seen: 0,
            snapshot,
            rss_cap_kib,
            max_rss_kib: 0,
            max_anon_kib: 0,
            max_metrics_bytes: 0,
            counts: BTreeMap::new(),
            accepted_writes: 0,
            rejected_writes: Vec::new(),
            offline_pushes: Vec::new(),
            batch_rejected: Vec::new(),
            batch_accepted: Vec::new(),
            batch_pristine: Vec::new(),
        })
    }

    fn count(&mut self, key: String) {
        *self.counts.entry(key).or_default() += 1;
    }

    /// Checks one response, and notes what the batch check must read back.
    pub fn response(&mut self, generated: &Generated, outcome: &Outcome) -> Result<(), String> {
        let response = match outcome {
            Outcome::Hang => {
                self.count("hang".into());
                return Err("no answer and no close within the timeout (a hang)".into());
            }
            Outcome::Garbled(bytes) => {
                return Err(format!(
                    "not an HTTP response: {:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ));
            }
            Outcome::Closed => {
                self.count("closed".into());
                // A malformed request may be dropped; a well-formed one must be answered.
                if !generated.request.fresh {
                    return Err("a well-formed request was closed without an answer".into());
                }
                return Ok(());
            }
            Outcome::ClosedEarly => {
                self.count("closed".into());
                return Ok(());
            }
            Outcome::Answered(r) => r,
        };
        self.count(response.status.to_string());
        let text =
            || String::from_utf8_lossy(&response.body[..response.body.len().min(300)]).into_owned();
        if has_panic_text(&response.body) {
            return Err(format!("panic text in a response: {}", text()));
        }
        if response.status >= 500 {
            let json_type = response
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json"));
            if !json_type || serde_json::from_slice::<Value>(&response.body).is_err() {
                return Err(format!(
                    "a {} that is not a JSON envelope (content-type {:?}): {}",
                    response.status,
                    response.content_type,
                    text()
                ));
            }
        }
        let accepted = (200..300).contains(&response.status);
        if generated.pristine && generated.route.valid_is_accepted() && !accepted {
            return Err(format!(
                "a valid request to {} was refused with {}: {}",
                generated.route.path(),
                response.status,
                text()
            ));
        }
        if generated.writes {
            if accepted {
                self.accepted_writes += 1;
                self.batch_accepted.push(generated.index);
                if let Some(pushed) = generated.pushed {
                    self.batch_pristine.push((generated.index, pushed));
                    if pushed.offline {
                        self.offline_pushes.push((generated.index, pushed));
                    }
                }
            } else if response.status >= 400 {
                self.batch_rejected.push(generated.index);
            }
        }
        Ok(())
    }

    /// The checks after a batch.
    pub fn batch(&mut self) -> Result<(), String> {
        self.alive()?;
        let (status, body) = get(&mut self.conn, "/health")?;
        if status != 200 {
            return Err(format!(
                "/health answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        // The cap is on the heap: the file-backed rest is LMDB's map, which grows with every
        // accepted write (1 MiB strings among them) and which the kernel may evict at will.
        let rss = status_kib(self.pid, "VmRSS:").ok_or("no VmRSS: the process is gone")?;
        let anon = status_kib(self.pid, "RssAnon:").ok_or("no RssAnon: the process is gone")?;
        self.max_rss_kib = self.max_rss_kib.max(rss);
        self.max_anon_kib = self.max_anon_kib.max(anon);
        if anon > self.rss_cap_kib {
            return Err(format!(
                "anonymous RSS {anon} KiB (of {rss} KiB) is over the cap of {} KiB",
                self.rss_cap_kib
            ));
        }
        let (_, metrics) = get(&mut self.conn, "/metrics")?;
        self.max_metrics_bytes = self.max_metrics_bytes.max(metrics.len());
        // Series made from what clients send grow without bound (a push's `to` once did).
        if metrics.len() > MAX_METRICS_BYTES {
            return Err(format!(
                "/metrics is {} bytes, over {MAX_METRICS_BYTES}: a label takes values from requests",
                metrics.len()
            ));
        }
        self.compare_snapshot()?;
        let rejected = std::mem::take(&mut self.batch_rejected);
        let accepted = std::mem::take(&mut self.batch_accepted);
        let pristine = std::mem::take(&mut self.batch_pristine);
        self.read_back(&rejected, &accepted, &pristine, false)?;
        self.rejected_writes.extend(rejected);
        Ok(())
    }

    /// After the run: materialize everything offline, then every refused write of the run must
    /// still be absent (offline parts included), and every valid offline push present.
    pub fn finish(&mut self) -> Result<(), String> {
        let end =
            crate::support::clock::naive(crate::support::clock::now() + chrono::Duration::days(2));
        let (status, body) = post(
            &mut self.conn,
            "/materialize",
            &format!(r#"{{"start_ts":"1970-01-01T00:00:00","end_ts":"{end}"}}"#),
        )?;
        if status != 200 {
            return Err(format!(
                "the final materialization answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        self.compare_snapshot()?;
        let rejected = self.rejected_writes.clone();
        let offline = self.offline_pushes.clone();
        for chunk in rejected.chunks(400) {
            self.read_back(chunk, &[], &[], true)?;
        }
        for chunk in offline.chunks(400) {
            self.read_back(&[], &[], chunk, true)?;
        }
        self.alive()
    }

    fn alive(&mut self) -> Result<(), String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .map_err(|_| "the server process is gone".to_string())?;
        // The state follows the parenthesised command name.
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next());
        if state == Some("Z") || state == Some("X") {
            return Err("the server process died".into());
        }
        let mut file = std::fs::File::open(&self.log).map_err(|e| e.to_string())?;
        file.seek(SeekFrom::Start(self.log_seen))
            .map_err(|e| e.to_string())?;
        let mut new = Vec::new();
        file.read_to_end(&mut new).map_err(|e| e.to_string())?;
        self.log_seen += new.len() as u64;
        if has_panic_text(&new) {
            return Err(format!(
                "the server logged a panic: {}",
                String::from_utf8_lossy(&new)
            ));
        }
        Ok(())
    }

    fn compare_snapshot(&mut self) -> Result<(), String> {
        for i in 0..self.snapshot.len() {
            let (status, bytes) =
                post(&mut self.conn, "/get-online-features", &self.snapshot[i].0)?;
            let (body, before) = &self.snapshot[i];
            if status != 200 || &bytes != before {
                return Err(format!(
                    "the demo's read {body} changed:\nbefore: {}\nnow ({status}): {}",
                    String::from_utf8_lossy(before),
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
        Ok(())
    }

    /// Reads every id the given writes could have named, in both views, all features.
    fn read_back(
        &mut self,
        rejected: &[u64],
        accepted: &[u64],
        pristine: &[(u64, Pushed)],
        materialized: bool,
    ) -> Result<(), String> {
        let all: Vec<u64> = rejected
            .iter()
            .chain(accepted)
            .copied()
            .chain(pristine.iter().map(|(i, _)| *i))
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = all.iter().flat_map(|&i| seeds::private_ids(i).1).collect();
        let mut features = Vec::new();
        for view in ["driver_hourly_stats", "driver_hourly_stats_fresh"] {
            for f in seeds::FEATURES {
                features.push(format!("{view}:{f}"));
            }
        }
        let body = json!({"features": features, "full_feature_names": true, "entities": {"driver_id": ids}})
            .to_string();
        let (status, bytes) = post(&mut self.conn, "/get-online-features", &body)?;
        if status != 200 {
            return Err(format!(
                "reading back the batch's written rows answered {status} (an accepted write left \
                 rows that cannot be read?): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            ));
        }
        let resp: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let names = resp["metadata"]["feature_names"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let column = |name: &str| -> Option<&Value> {
            let i = names.iter().position(|n| n == name)?;
            Some(&resp["results"][i])
        };
        let position = |id: i64| ids.iter().position(|&x| x == id);
        let stage = if materialized {
            " (after materializing everything)"
        } else {
            ""
        };
        for &index in rejected {
            for view in ["driver_hourly_stats", "driver_hourly_stats_fresh"] {
                let statuses = &column(&format!("{view}__avg_daily_trips"))
                    .ok_or("no avg_daily_trips column")?["statuses"];
                for id in seeds::private_ids(index).1 {
                    let s = &statuses[position(id).unwrap_or(0)];
                    if s != "NOT_FOUND" {
                        return Err(format!(
                            "request {index} was refused, yet driver {id} is {s} in {view}{stage}"
                        ));
                    }
                }
            }
        }
        for &(index, pushed) in pristine {
            let (base, _) = seeds::private_ids(index);
            let view = if materialized || pushed.batch_view {
                "driver_hourly_stats"
            } else {
                "driver_hourly_stats_fresh"
            };
            if !materialized && !pushed.online {
                continue;
            }
            let col = column(&format!("{view}__avg_daily_trips")).ok_or("no column")?;
            for id in base..base + pushed.rows {
                let at = position(id).unwrap_or(0);
                if col["statuses"][at] != "PRESENT" || col["values"][at] != json!(base) {
                    return Err(format!(
                        "valid write {index} was accepted, yet driver {id} in {view}{stage} reads {} {}",
                        col["statuses"][at], col["values"][at]
                    ));
                }
            }
        }
        Ok(())
    }
}
