//! The client side: requests as exact bytes, sent on a kept-alive connection when they are
//! well-formed HTTP and on a connection of their own when they are not.
//!
//! A malformed request (a bad header, a body shorter than announced, a body after a
//! `Content-Length` that is too small) would leave a kept-alive connection out of step, so it
//! gets a fresh connection whose write side is shut after the request: the server sees the end
//! of the input and must answer or close, never wait. Every read has a timeout, and running
//! into it is a hang.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// One generated request.
#[derive(Clone)]
pub struct Request {
    /// The bytes on the wire: request line, headers and body.
    pub bytes: Vec<u8>,
    /// Sent on a connection of its own (malformed framing, or a method whose answer has no
    /// body to delimit).
    pub fresh: bool,
}

/// A response, as far as the oracle needs it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    close: bool,
}

/// What came back.
#[derive(Debug)]
pub enum Outcome {
    Answered(Response),
    /// The server closed the connection without a byte of response.
    Closed,
    /// A large request got no answer, twice: the server closed while it was still being sent.
    ClosedEarly,
    /// No answer and no close within the timeout.
    Hang,
    /// Bytes that are not an HTTP response.
    Garbled(Vec<u8>),
}

/// Past this, a request's bytes may not all fit in the socket buffers before the server answers.
const LARGE: usize = 64 << 10;

/// A worker's kept-alive connection.
pub struct Conn {
    addr: String,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    pub fn new(addr: &str, timeout: Duration) -> Conn {
        Conn {
            addr: addr.to_string(),
            timeout,
            stream: None,
        }
    }

    pub fn send(&mut self, req: &Request) -> Outcome {
        if req.fresh {
            return send_fresh(&self.addr, self.timeout, &req.bytes);
        }
        // A request that gets nothing is sent once more on a connection of its own, and only
        // that answer counts: a kept-alive connection may have been closed by the server since
        // its last answer (an idle timeout).
        match self.send_kept(&req.bytes) {
            Outcome::Closed => match send_fresh(&self.addr, self.timeout, &req.bytes) {
                // A server may answer a large body without reading it (404, 413) and close;
                // the unread bytes then reset the connection, and the reset can take the
                // answer with it before the client reads it.
                Outcome::Closed if req.bytes.len() > LARGE => Outcome::ClosedEarly,
                other => other,
            },
            other => other,
        }
    }

    fn send_kept(&mut self, bytes: &[u8]) -> Outcome {
        if self.stream.is_none() {
            match connect(&self.addr, self.timeout) {
                Ok(s) => self.stream = Some(BufReader::new(s)),
                Err(_) => return Outcome::Closed,
            }
        }
        let Some(reader) = self.stream.as_mut() else {
            return Outcome::Closed;
        };
        if reader.get_mut().write_all(bytes).is_err() {
            // An answer sent before the close may still be there to read.
            let outcome = read_one(reader);
            self.stream = None;
            return outcome;
        }
        let outcome = read_one(reader);
        let keep = matches!(&outcome, Outcome::Answered(r) if !r.close);
        if !keep {
            self.stream = None;
        }
        outcome
    }
}

fn connect(addr: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn send_fresh(addr: &str, timeout: Duration, bytes: &[u8]) -> Outcome {
    let Ok(mut stream) = connect(addr, timeout) else {
        return Outcome::Closed;
    };
    // The server may answer (413, 400) and close before it has read everything.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 65_536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {
                // What arrived before the stall still counts if it is a whole response.
                if out.is_empty() {
                    return Outcome::Hang;
                }
                break;
            }
            // A reset after an early answer loses nothing that was read.
            Err(_) => break,
        }
    }
    parse_whole(&out)
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Reads one response from a kept-alive connection, delimited by its headers.
fn read_one(reader: &mut BufReader<TcpStream>) -> Outcome {
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) if head.is_empty() => return Outcome::Closed,
                Ok(0) => return Outcome::Garbled(head),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Outcome::Hang,
                Err(_) if head.is_empty() => return Outcome::Closed,
                Err(_) => return Outcome::Garbled(head),
            }
            let end = line == b"\r\n" || line == b"\n";
            head.extend_from_slice(&line);
            if end {
                break;
            }
            if head.len() > 1 << 20 {
                return Outcome::Garbled(head);
            }
        }
        let Some(mut response) = parse_head(&head) else {
            return Outcome::Garbled(head);
        };
        if (100..200).contains(&response.status) {
            continue;
        }
        let head_text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let body = if head_text.contains("transfer-encoding: chunked") {
            match read_chunked(reader) {
                Ok(b) => b,
                Err(e) if is_timeout(&e) => return Outcome::Hang,
                Err(_) => return Outcome::Garbled(head),
            }
        } else if let Some(n) = header_value(&head_text, "content-length") {
            let Ok(n) = n.parse::<usize>() else {
                return Outcome::Garbled(head);
            };
            let mut body = vec![0u8; n];
            match reader.read_exact(&mut body) {
                Ok(()) => body,
                Err(e) if is_timeout(&e) => return Outcome::Hang,
                Err(_) => return Outcome::Garbled(head),
            }
        } else {
            // Delimited by the close.
            response.close = true;
            let mut body = Vec::new();
            match reader.read_to_end(&mut body) {
                Ok(_) => body,
                Err(e) if is_timeout(&e) => return Outcome::Hang,
                Err(_) => body,
            }
        };
        response.body = body;
        return Outcome::Answered(response);
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn header_value<'a>(head_lower: &'a str, name: &str) -> Option<&'a str> {
    head_lower.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

/// The status line and the headers the oracle reads.
fn parse_head(head: &[u8]) -> Option<Response> {
    let text = std::str::from_utf8(head).ok()?;
    let status_line = text.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    let lower = text.to_ascii_lowercase();
    Some(Response {
        status,
        content_type: header_value(&lower, "content-type").map(str::to_string),
        body: Vec::new(),
        close: header_value(&lower, "connection") == Some("close"),
    })
}

/// The first final response in everything a fresh connection received.
fn parse_whole(mut raw: &[u8]) -> Outcome {
    if raw.is_empty() {
        return Outcome::Closed;
    }
    loop {
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Outcome::Garbled(raw.to_vec());
        };
        let head = &raw[..split + 4];
        let Some(mut response) = parse_head(head) else {
            return Outcome::Garbled(raw.to_vec());
        };
        let rest = &raw[split + 4..];
        if (100..200).contains(&response.status) {
            raw = rest;
            continue;
        }
        let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
        response.body = if lower.contains("transfer-encoding: chunked") {
            dechunk(rest)
        } else if let Some(n) = header_value(&lower, "content-length").and_then(|n| n.parse().ok())
        {
            rest[..rest.len().min(n)].to_vec()
        } else {
            rest.to_vec()
        };
        return Outcome::Answered(response);
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        let start = eol + 2;
        if size == 0 || start + size > data.len() {
            break;
        }
        out.extend_from_slice(&data[start..start + size]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
