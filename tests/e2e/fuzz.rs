//! A fuzz harness for the HTTP surface: generated requests against the real binary serving the
//! demo, checked by an oracle after every response and every batch (fuzz/oracle.rs says what it
//! checks). RELIABILITY.md has the long run's figures and the command that made them.
//!
//! A run is fixed by its seed: request `i` is generated from the seed and `i` alone
//! (fuzz/rng.rs), so a failing batch is replayed one request at a time with
//!
//!   EDGEFEAT_FUZZ_SEED=<seed> EDGEFEAT_FUZZ_FROM=<first> EDGEFEAT_FUZZ_REQUESTS=<n> \
//!   EDGEFEAT_FUZZ_BATCH=1 EDGEFEAT_FUZZ_WORKERS=1 cargo test --test e2e fuzz::short_run
//!
//! and the failure's folder (printed) holds each request of the batch as the bytes sent.
//! The other settings: EDGEFEAT_FUZZ_TIMEOUT_S (a hang; 30), EDGEFEAT_FUZZ_MAX_RSS_MIB (1024),
//! EDGEFEAT_FUZZ_OUT (where failures go; the temp dir).

mod generate;
mod mutate;
mod oracle;
mod rng;
mod seeds;
mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::http::Server;
use crate::support::{clock, demo_repo, run};
use oracle::Oracle;
use wire::{Conn, Outcome};

/// The short run's seed: fixed, so that CI sends the same requests every time (a new seed is
/// one variable away).
const SHORT_SEED: u64 = 0x00ED_6EFE_A7F0_2200;

struct Settings {
    seed: u64,
    from: u64,
    requests: u64,
    batch: u64,
    workers: usize,
    timeout: Duration,
    rss_cap_kib: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

impl Settings {
    fn from_env(default_seed: u64, default_requests: u64) -> Settings {
        Settings {
            seed: env_u64("EDGEFEAT_FUZZ_SEED").unwrap_or(default_seed),
            from: env_u64("EDGEFEAT_FUZZ_FROM").unwrap_or(0),
            requests: env_u64("EDGEFEAT_FUZZ_REQUESTS").unwrap_or(default_requests),
            batch: env_u64("EDGEFEAT_FUZZ_BATCH").unwrap_or(256).max(1),
            workers: env_u64("EDGEFEAT_FUZZ_WORKERS").unwrap_or(4).max(1) as usize,
            timeout: Duration::from_secs(env_u64("EDGEFEAT_FUZZ_TIMEOUT_S").unwrap_or(30)),
            rss_cap_kib: env_u64("EDGEFEAT_FUZZ_MAX_RSS_MIB").unwrap_or(1024) * 1024,
        }
    }
}

/// The demo, applied and materialized (every generated row online), served with its stderr in
/// a file the oracle reads.
fn served_demo() -> (tempfile::TempDir, Server, std::path::PathBuf) {
    let (tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    let end = clock::date(clock::far_future());
    // Ten years back: before every generated row, which are days old, whatever the date.
    let start = clock::date(clock::now() - chrono::Duration::days(3650));
    run(&repo, &["materialize", &start, &end, "--no-progress"]).success();
    let log = tmp.path().join("serve.log");
    let server = Server::start_logging_to(&repo, &[], &log);
    (tmp, server, log)
}

/// Runs the harness; returns the summary, or the failure with where its requests were written.
fn fuzz(settings: &Settings) -> Result<String, String> {
    let (_tmp, server, log) = served_demo();
    println!(
        "fuzz: seed {:#x}, requests {}..{}, against pid {} at {}",
        settings.seed,
        settings.from,
        settings.from + settings.requests,
        server.pid(),
        server.addr
    );
    let mut oracle = Oracle::new(
        server.pid(),
        &server.addr,
        log,
        settings.timeout,
        settings.rss_cap_kib,
    )?;
    let mut conns: Vec<Conn> = (0..settings.workers)
        .map(|_| Conn::new(&server.addr, settings.timeout))
        .collect();
    let started = Instant::now();
    let end = settings.from + settings.requests;
    let mut start = settings.from;
    let mut next_report = settings.from;
    while start < end {
        let stop = (start + settings.batch).min(end);
        let results = send_batch(settings.seed, start, stop, &mut conns);
        let checked = results
            .iter()
            .try_for_each(|(g, outcome)| {
                oracle
                    .response(g, outcome)
                    .map_err(|e| format!("request {}: {e}", g.index))
            })
            .and_then(|()| oracle.batch());
        if let Err(e) = checked {
            return Err(write_failure(settings, start, stop, &e));
        }
        if stop >= next_report {
            println!(
                "fuzz: {} requests, {:.0} s, max RSS {} MiB ({} MiB anonymous)",
                stop - settings.from,
                started.elapsed().as_secs_f64(),
                oracle.max_rss_kib / 1024,
                oracle.max_anon_kib / 1024
            );
            next_report += (settings.requests / 20).max(settings.batch);
        }
        start = stop;
    }
    if let Err(e) = oracle.finish() {
        return Err(write_failure(settings, settings.from, settings.from, &e));
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(format!(
        "fuzz: seed {:#x}: {} requests in {:.1} s ({:.0} req/s); max RSS {} MiB ({} MiB anonymous); max /metrics {} kB; \
         writes accepted {}, refused {}; answers by status {:?}",
        settings.seed,
        settings.requests,
        secs,
        settings.requests as f64 / secs,
        oracle.max_rss_kib / 1024,
        oracle.max_anon_kib / 1024,
        oracle.max_metrics_bytes / 1000,
        oracle.accepted_writes,
        oracle.rejected_writes.len(),
        oracle.counts
    ))
}

/// Sends requests `start..stop` over the workers' connections; the results come back in index
/// order.
fn send_batch(
    seed: u64,
    start: u64,
    stop: u64,
    conns: &mut [Conn],
) -> Vec<(generate::Generated, Outcome)> {
    let next = AtomicU64::new(start);
    let mut results: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = conns
            .iter_mut()
            .map(|conn| {
                let next = &next;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= stop {
                            return out;
                        }
                        let mut g = generate::generate(seed, index);
                        let outcome = conn.send(&g.request);
                        // The bytes can be generated again for a failure report.
                        g.request.bytes = Vec::new();
                        out.push((g, outcome));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker"))
            .collect()
    });
    results.sort_by_key(|(g, _)| g.index);
    results
}

/// Writes the failing batch's requests, as sent, and a note on how to replay them.
fn write_failure(settings: &Settings, start: u64, stop: u64, error: &str) -> String {
    let root = std::env::var_os("EDGEFEAT_FUZZ_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = root.join(format!("edgefeat-fuzz-{:#x}-{start}", settings.seed));
    let _ = std::fs::create_dir_all(&dir);
    for index in start..stop {
        let g = generate::generate(settings.seed, index);
        let _ = std::fs::write(dir.join(format!("req-{index}.http")), &g.request.bytes);
    }
    let replay = format!(
        "EDGEFEAT_FUZZ_SEED={:#x} EDGEFEAT_FUZZ_FROM={start} EDGEFEAT_FUZZ_REQUESTS={} \
         EDGEFEAT_FUZZ_BATCH=1 EDGEFEAT_FUZZ_WORKERS=1 cargo test --test e2e fuzz::short_run -- --nocapture",
        settings.seed,
        (stop - start).max(1)
    );
    let note = format!(
        "{error}\n\nseed {:#x}, batch {start}..{stop}\nreplay, one request at a time:\n  {replay}\n\
         each request as sent: req-<index>.http (nc 127.0.0.1 PORT < req-<index>.http)\n",
        settings.seed
    );
    let _ = std::fs::write(dir.join("README.txt"), &note);
    format!("{note}\nwritten to {}", dir.display())
}

/// The generator stays within what a test process can hold: mutations compound (a cell made
/// 1 MiB long, then its column copied 50,000 times), and a seed of the long run once built a
/// 50 GB body and took the harness down. Past the server's 16 MiB limit by a margin, no more.
#[test]
fn generated_requests_stay_bounded() {
    const LIMIT: usize = 64 << 20;
    for seed in [SHORT_SEED, 0x18ed_c474_cc29_7c4d] {
        for index in 0..3_000 {
            let g = generate::generate(seed, index);
            let len = g.request.bytes.len();
            assert!(len <= LIMIT, "seed {seed:#x}, request {index}: {len} bytes");
        }
    }
}

/// The run in the test suite: a few thousand requests on a debug build, about a minute.
#[test]
fn short_run() {
    let settings = Settings::from_env(SHORT_SEED, 6_000);
    match fuzz(&settings) {
        Ok(summary) => println!("{summary}"),
        Err(failure) => panic!("{failure}"),
    }
}

/// The long run (RELIABILITY.md), on a release build; its seed is new each time unless given:
///
///   cargo test --release --test e2e fuzz::long_run -- --ignored --nocapture
#[test]
#[ignore = "the long run: a million requests, minutes on a release build"]
fn long_run() {
    let fresh_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let settings = Settings::from_env(fresh_seed, 1_000_000);
    match fuzz(&settings) {
        Ok(summary) => println!("{summary}"),
        Err(failure) => panic!("{failure}"),
    }
}
