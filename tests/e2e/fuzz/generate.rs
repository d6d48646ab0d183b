//! One request from the run's seed and its index: a route, its valid body, then mutations of
//! the body (mutate.rs) and of the HTTP around it (method, path, headers, framing, version).

use super::mutate::{self, Body};
use super::rng::Rng;
use super::seeds::{self, Route};
use super::wire::Request;

/// A generated request and what the oracle needs to know about it.
pub struct Generated {
    pub index: u64,
    pub route: Route,
    /// Unchanged from the valid request: it must be accepted (where the route can accept it).
    pub pristine: bool,
    /// The body came from a write's generator: its rows are the request's private ids.
    pub writes: bool,
    /// For a pristine write: whether it goes offline too, and its row count.
    pub pushed: Option<Pushed>,
    pub request: Request,
}

/// What a pristine write stored, to be read back exactly.
#[derive(Clone, Copy)]
pub struct Pushed {
    pub rows: i64,
    pub online: bool,
    pub offline: bool,
    /// `driver_hourly_stats` (write-to-online-store's view) rather than the push source's.
    pub batch_view: bool,
}

/// The body limit the demo serves with (no `feature_server.body_limit` in its yaml).
const BODY_LIMIT: usize = 16 << 20;

pub fn generate(seed: u64, index: u64) -> Generated {
    let mut rng = Rng::for_request(seed, index);
    let route = seeds::pick_route(&mut rng);
    let valid = seeds::body(route, index, &mut rng);
    let pristine = rng.chance(10);
    let pushed = valid
        .as_ref()
        .filter(|_| pristine && route.writes())
        .map(|v| {
            let rows = v["df"]["driver_id"]
                .as_array()
                .map_or(0, |a| a.len() as i64);
            let to = v["to"].as_str().unwrap_or("online");
            Pushed {
                rows,
                online: to != "offline",
                offline: to != "online" && route == Route::Push,
                batch_view: v["feature_view_name"] == "driver_hourly_stats",
            }
        });
    let mut body = match &valid {
        Some(v) => {
            let mut body = Body::new(v.clone());
            if !pristine && rng.chance(80) {
                for _ in 0..1 + rng.below(3) {
                    mutate::mutate_value(&mut body, &mut rng);
                }
            }
            body.to_bytes()
        }
        None => Vec::new(),
    };
    if !pristine && valid.is_some() && rng.chance(25) {
        mutate::damage_bytes(&mut body, &mut rng);
    }
    if !pristine && valid.is_none() && rng.chance(10) {
        // A GET with a body.
        body = b"{\"a\":1}".to_vec();
    }
    let request = if pristine {
        well_formed(
            default_method(route),
            route.path(),
            "application/json",
            &body,
        )
    } else {
        http_mutations(route, &body, &mut rng)
    };
    Generated {
        index,
        route,
        pristine,
        writes: route.writes(),
        pushed,
        request,
    }
}

fn default_method(route: Route) -> &'static str {
    match route {
        Route::Get(_) => "GET",
        _ => "POST",
    }
}

fn well_formed(method: &str, path: &str, content_type: &str, body: &[u8]) -> Request {
    let mut bytes = format!(
        "{method} {path} HTTP/1.1\r\nHost: fuzz\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    Request {
        bytes,
        fresh: false,
    }
}

const METHODS: [&str; 12] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "post", "P0ST", "GET /x",
    "CONNECT",
];

const CONTENT_TYPES: [&str; 8] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=utf-16",
    "application/json\u{7f}",
    "",
    "*/*",
    "application/octet-stream",
];

/// Header lines that are odd, hostile or malformed.
const HEADERS: [&str; 14] = [
    "Authorization: Bearer not.a.token",
    "Authorization: Basic ////",
    "Expect: 100-continue",
    "Connection: upgrade\r\nUpgrade: h2c",
    "X-No-Colon",
    "X-Bin: \u{80}\u{ff}",
    "Transfer-Encoding: gzip",
    "Content-Encoding: gzip",
    " folded: continuation",
    "Host: second-host",
    "Accept: application/xml",
    "Connection: close",
    "X-Empty:",
    "X-Null: a\u{0}b",
];

fn http_mutations(route: Route, body: &[u8], rng: &mut Rng) -> Request {
    let mut fresh = false;
    let mut method = default_method(route).to_string();
    if rng.chance(8) {
        method = rng.pick(&METHODS).to_string();
        if rng.chance(5) {
            method = "A".repeat(5000);
        }
        fresh = !matches!(method.as_str(), "GET" | "POST");
    }
    let mut path = route.path().to_string();
    if rng.chance(8) {
        path = mutate_path(route, &path, rng);
        fresh |= path.is_empty() || path.contains(' ') || path.len() > 4096;
    }
    let content_type = if rng.chance(12) {
        rng.pick(&CONTENT_TYPES).to_string()
    } else {
        "application/json".to_string()
    };
    let mut version = "HTTP/1.1";
    if rng.chance(2) {
        version = rng.pick(&["HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "HTTP/1.1 x", "http/1.1"]);
        fresh = true;
    }
    let mut head = format!("{method} {path} {version}\r\n");
    if !rng.chance(3) {
        head.push_str("Host: fuzz\r\n");
    }
    if !content_type.is_empty() || rng.chance(50) {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if rng.chance(8) {
        fresh = true;
        for _ in 0..1 + rng.below(2) {
            head.push_str(rng.pick(&HEADERS));
            head.push_str("\r\n");
        }
        if rng.chance(10) {
            head.push_str(&format!("X-Huge: {}\r\n", "h".repeat(100_000)));
        }
        if rng.chance(10) {
            for i in 0..200 {
                head.push_str(&format!("X-Many-{i}: {i}\r\n"));
            }
        }
    }
    let mut payload = body.to_vec();
    if rng.chance(8) {
        fresh = true;
        framing(&mut head, &mut payload, rng);
    } else {
        head.push_str(&format!("Content-Length: {}\r\n", payload.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&payload);
    if rng.chance(1) {
        fresh = true;
        mutate::flip_bit_outside_digits(&mut bytes, rng);
    }
    Request { bytes, fresh }
}

fn mutate_path(route: Route, path: &str, rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => format!("{path}/"),
        1 => format!("/{path}"),
        2 => path.to_uppercase(),
        3 => format!("{path}?async=true"),
        4 => format!("{path}?async=true&force=true"),
        5 => format!("{path}?async=maybe&async=false"),
        6 => format!("{path}%00"),
        7 => format!("/..{path}"),
        8 => format!("/{}", "a".repeat(10_000)),
        9 => rng.pick(&["*", "", "http://fuzz", "/\u{80}"]).to_string(),
        10 => format!("http://fuzz{path}"),
        // Another route of the same kind: a read body never reaches a write route, so that
        // only a write's generator can name rows.
        _ => {
            let reads = [
                "/get-online-features",
                "/search",
                "/retrieve-online-documents",
                "/materialize",
                "/materialize-incremental",
                "/health",
            ];
            let writes = ["/push", "/write-to-online-store"];
            if route.writes() && rng.chance(50) {
                rng.pick(&writes).to_string()
            } else {
                rng.pick(&reads).to_string()
            }
        }
    }
}

/// Body framing that does not match the body: cut short, announced too small or too large,
/// chunked (well or badly), or two lengths at once.
fn framing(head: &mut String, payload: &mut Vec<u8>, rng: &mut Rng) {
    let len = payload.len();
    match rng.below(9) {
        0 => {
            // Announced whole, sent cut short: the end of input arrives instead.
            head.push_str(&format!(
                "Content-Length: {}\r\n",
                len + 1 + rng.below(1000)
            ));
        }
        1 => {
            head.push_str(&format!("Content-Length: {}\r\n", len / 2));
        }
        2 => {
            head.push_str(&format!("Content-Length: {}\r\n", BODY_LIMIT + 1));
        }
        3 => {
            // Really over the limit, rarely: 17 MiB per request.
            if rng.chance(5) {
                payload.resize(BODY_LIMIT + 4096, b' ');
            }
            head.push_str(&format!("Content-Length: {}\r\n", payload.len()));
        }
        4 => {
            head.push_str("Transfer-Encoding: chunked\r\n");
            *payload = chunked(payload, 1 + rng.below(64));
        }
        5 => {
            head.push_str("Transfer-Encoding: chunked\r\n");
            let mut c = chunked(payload, 7);
            match rng.below(3) {
                0 => c.truncate(c.len().saturating_sub(3)),
                1 => c.splice(0..0, b"zz\r\n".iter().copied()).for_each(drop),
                _ => c
                    .splice(0..0, b"ffffffffffffffffff\r\n".iter().copied())
                    .for_each(drop),
            }
            *payload = c;
        }
        6 => {
            head.push_str(&format!(
                "Content-Length: {len}\r\nContent-Length: {}\r\n",
                len + 1
            ));
        }
        7 => {
            head.push_str(&format!(
                "Content-Length: {len}\r\nTransfer-Encoding: chunked\r\n"
            ));
        }
        _ => {
            head.push_str(rng.pick(&[
                "Content-Length: -1\r\n",
                "Content-Length: abc\r\n",
                "Content-Length: 99999999999999999999999\r\n",
                "Content-Length: 1 2\r\n",
            ]));
        }
    }
}

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
