//! A running `edgefeat serve`, and a minimal HTTP/1.1 client that sends exactly the bytes a
//! test wants (no content type, malformed bodies, wrong methods).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::edgefeat;

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
}

/// A response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Server {
    /// Starts `edgefeat serve` on a free port in `repo` and waits for its startup line.
    pub fn start(repo: &Path, extra: &[&str]) -> Server {
        Server::start_with_lines(repo, extra, 1).0
    }

    /// Starts `edgefeat serve` and waits for `lines` startup lines (one per front); `addr` is
    /// the first one's address, and the addresses of all come back in order.
    pub fn start_with_lines(repo: &Path, extra: &[&str], lines: usize) -> (Server, Vec<String>) {
        Server::spawn(repo, extra, lines, Stdio::inherit())
    }

    /// Starts `edgefeat serve` with its stderr written to `log`, for a test that reads what the
    /// server logged (the fuzz harness looks there for panics a response would not show).
    pub fn start_logging_to(repo: &Path, extra: &[&str], log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("the log file");
        Server::spawn(repo, extra, 1, Stdio::from(file)).0
    }

    fn spawn(repo: &Path, extra: &[&str], lines: usize, stderr: Stdio) -> (Server, Vec<String>) {
        let mut child = edgefeat(repo)
            .args(["serve", "--port", "0", "--no-access-log"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut out = BufReader::new(stdout).lines();
        let addrs: Vec<String> = (0..lines)
            .map(|_| {
                let line = out
                    .next()
                    .expect("a startup line")
                    .expect("readable stdout");
                line.split("://")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap_or_else(|| panic!("no address in {line:?}"))
                    .to_string()
            })
            .collect();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in out {});
        let addr = addrs[0].clone();
        (Server { child, addr }, addrs)
    }

    /// Sends a raw request (the request line and headers are built here).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(&self.addr, method, path, headers, body)
    }

    pub fn post_json(&self, path: &str, body: &str) -> Response {
        self.request("POST", path, &[], body.as_bytes())
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// Sends `raw` as it is (request line, headers and body, however malformed) on a fresh
    /// connection and reads the whole response.
    pub fn raw(&self, raw: &[u8]) -> Response {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let _ = stream.write_all(raw);
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        parse_response(&out)
    }

    /// Waits for `/health` to answer 200 again, by itself: nothing restarts the server.
    #[track_caller]
    pub fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get("/health").status != 200 {
            assert!(Instant::now() < deadline, "the server did not recover");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process id, for signals and /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the server `signal` (`-TERM`, `-KILL`, ...), as `kill` would.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill {signal} failed");
    }

    /// Waits for the process to exit by itself.
    pub fn wait(mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a fresh connection (`Connection: close`), the whole response read back.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) before reading all of a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}
