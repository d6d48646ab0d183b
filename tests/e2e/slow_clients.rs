//! Slow, idle and greedy clients against the real server: a body that never finishes, a client
//! that never reads its answers, and one address opening connections without end must not keep
//! a normal client from being served (docs/serving.md#connections).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::http::Server;
use crate::support::{demo_repo, run};

/// The demo, applied, served with small limits so the test runs in seconds.
fn strict_server() -> (tempfile::TempDir, Server) {
    let (tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    let server = Server::start(
        &repo,
        &[
            "--worker-connections",
            "64",
            "--max-connections-per-client",
            "16",
            "--body-timeout",
            "2",
            "--write-timeout",
            "2",
        ],
    );
    (tmp, server)
}

/// A connection from `from` (any 127.0.0.0/8 address reaches loopback), with a small receive
/// buffer when asked, so a client that does not read is found out quickly.
fn connect_from(from: &str, to: &str, recv_buffer: Option<u32>) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let to: SocketAddr = to.parse().unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(format!("{from}:0").parse().unwrap())
            .expect("bind a loopback address");
        if let Some(n) = recv_buffer {
            socket.set_recv_buffer_size(n).unwrap();
        }
        socket.connect(to).await.expect("connect")
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// Headers announcing a megabyte of body, then one byte of it.
fn slowloris(stream: &mut TcpStream) {
    let _ = stream.write_all(
        b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{",
    );
}

/// `/health` from `from` on a fresh connection: the status, or what went wrong.
fn health_from(from: &str, addr: &str) -> Result<u16, String> {
    let mut s = connect_from(from, addr, None);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let head = String::from_utf8_lossy(&out);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))
}

#[test]
fn a_body_that_never_finishes_is_answered_408_and_closed() {
    let (_tmp, server) = strict_server();
    let mut s = connect_from("127.0.0.1", &server.addr, None);
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    slowloris(&mut s);
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("the server answers and closes before the read timeout");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("Request body not received in time"), "{text}");
}

#[test]
fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let (_tmp, server) = strict_server();
    // Its share, held idle.
    let held: Vec<TcpStream> = (0..16)
        .map(|_| connect_from("127.0.0.3", &server.addr, None))
        .collect();
    // Accepted in order: wait until the server has counted them all before the next one.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = connect_from("127.0.0.3", &server.addr, None);
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = extra.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = Vec::new();
    // Closed at once: EOF (or a reset), no answer.
    let _ = extra.read_to_end(&mut out);
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    // Another address is served meanwhile, and the first gets its place back once it closes.
    assert_eq!(health_from("127.0.0.4", &server.addr), Ok(200));
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while health_from("127.0.0.3", &server.addr) != Ok(200) {
        assert!(
            Instant::now() < deadline,
            "the address never got its place back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains(r#"edgefeat_connections_refused_total{reason="per_client_cap"}"#),
        "{metrics}"
    );
}

#[test]
fn a_client_that_never_reads_its_answers_is_disconnected() {
    let (_tmp, server) = strict_server();
    let ids: Vec<String> = (0..400).map(|i| (1000 + i).to_string()).collect();
    let body = format!(
        r#"{{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{{"driver_id":[{}]}}}}"#,
        ids.join(",")
    );
    let one = format!(
        "POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer_len = server.post_json("/get-online-features", &body).body.len();
    let requests = 400;
    let mut s = connect_from("127.0.0.5", &server.addr, Some(4096));
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // Pipelined, never read: the server fills the socket and then cannot write. Our own
    // writes stop once it stops reading; that is expected.
    for _ in 0..requests {
        if s.write_all(one.as_bytes()).is_err() {
            break;
        }
    }
    // Past the write timeout, the server has given up on this client.
    std::thread::sleep(Duration::from_secs(4));
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < requests * answer_len / 2,
        "the client got {got} bytes: the server kept the connection for it"
    );
    // And everyone else is still served.
    assert_eq!(health_from("127.0.0.6", &server.addr), Ok(200));
}

#[test]
fn slow_and_idle_clients_do_not_lock_out_a_normal_client() {
    let (_tmp, server) = strict_server();
    // Slow bodies from many addresses: together more than every connection slot.
    let mut attackers = Vec::new();
    for i in 0..80 {
        let mut s = connect_from(&format!("127.0.1.{}", i % 8 + 1), &server.addr, None);
        slowloris(&mut s);
        attackers.push(s);
    }
    // A normal client keeps being served, within the body timeout's turnover at worst.
    for _ in 0..10 {
        assert_eq!(health_from("127.0.2.1", &server.addr), Ok(200));
    }
    drop(attackers);
}
