//! `edgefeat-healthcheck [HOST:PORT]`: asks edgefeat's `/health` over plain HTTP and exits 0
//! when it answers 200, 1 otherwise (Docker's HEALTHCHECK contract).
//!
//! A `FROM scratch` image has no curl or shell for `HEALTHCHECK CMD`; this is the smallest
//! thing that can probe the server from inside its own container. Kubernetes does not need it
//! (its httpGet probes come from the kubelet). The default address is the image's
//! `127.0.0.1:6566`; `EDGEFEAT_HEALTH_ADDR` or the first argument chooses another.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

fn probe(addr: &str) -> Result<(), String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&sock, TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{addr}: {e}"))?;
    // The status line is all we need: "HTTP/1.1 200 OK".
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match stream.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("{addr}: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        Err(format!(
            "{addr}: /health answered {:?}",
            line.lines().next().unwrap_or("")
        ))
    }
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("EDGEFEAT_HEALTH_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:6566".to_string());
    match probe(&addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgefeat-healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}
