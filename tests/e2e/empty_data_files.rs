//! Data files found empty (0 bytes) at start, the LMDB store's and a file source's: the
//! server says so when it starts, and `/health` answers 503 until the data is back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http::request;
use crate::push::pushed_demo;
use crate::support::{clock, edgefeat, run};

/// `edgefeat serve` with its log kept, killed when dropped.
struct Logged {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    fn start(repo: &std::path::Path) -> Logged {
        let mut child = edgefeat(repo)
            .args(["serve", "--port", "0", "--no-access-log"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = out.next().expect("a startup line").expect("stdout");
        let addr = line
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        std::thread::spawn(move || for _ in out {});
        Logged { child, addr, log }
    }

    fn health(&self) -> u16 {
        request(&self.addr, "GET", "/health", &[], b"").status
    }

    fn wait_for_health(&self, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.health() != status {
            assert!(Instant::now() < deadline, "/health never answered {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server has logged a line holding `needle`, waiting up to 10 s for it: a
    /// line is written as (or after) the answer goes out, and the thread reading stderr may
    /// not have read it yet when the answer arrives.
    fn logged(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn materialize_all(repo: &std::path::Path) {
    run(
        repo,
        &[
            "materialize",
            &clock::naive(clock::hours_from_now(-24 * 400)),
            &clock::naive(clock::far_future()),
        ],
    )
    .success();
}

#[test]
fn an_emptied_lmdb_data_file_is_unhealthy_until_rows_are_written_again() {
    let (_tmp, repo) = pushed_demo();
    materialize_all(&repo);
    let data = repo.join("data/online_store.lmdb/data.mdb");
    assert!(std::fs::metadata(&data).unwrap().len() > 0);
    // What a restore of an empty backup, or a truncation to 0, leaves.
    std::fs::File::create(&data).unwrap();
    let server = Logged::start(&repo);
    assert_eq!(server.health(), 503);
    assert!(
        server.logged("data.mdb was empty (0 bytes) when it was opened"),
        "{:?}",
        server.log.lock().unwrap()
    );
    assert!(server.logged("health check failed"));
    // Materializing again, from another process, brings the rows and the health back.
    materialize_all(&repo);
    server.wait_for_health(200);
}

#[test]
fn an_empty_offline_source_file_is_unhealthy_until_it_is_restored() {
    let (_tmp, repo) = pushed_demo();
    let source = repo.join("data/driver_stats.parquet");
    let bytes = std::fs::read(&source).unwrap();
    std::fs::File::create(&source).unwrap();
    let server = Logged::start(&repo);
    assert_eq!(server.health(), 503);
    assert!(
        server.logged("driver_hourly_stats_source") && server.logged("is empty (0 bytes)"),
        "{:?}",
        server.log.lock().unwrap()
    );
    std::fs::write(&source, bytes).unwrap();
    server.wait_for_health(200);
    // A missing file is not a fault: a server may run with no offline data.
    std::fs::remove_file(&source).unwrap();
    assert_eq!(server.health(), 200);
}
