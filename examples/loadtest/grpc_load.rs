//! A closed-loop load generator that speaks both of edgefeat's fronts, so that gRPC and HTTP are
//! measured by the same client doing the same work (examples/loadtest/grpc.sh runs it):
//!
//!   cargo run --release --example grpc-load -- --front grpc --addr 127.0.0.1:6567 \
//!       --entities 100 --concurrency 64 --duration 8 [--server-pid PID]
//!
//! Each of `--concurrency` workers holds its own connection (one HTTP/1.1 keep-alive
//! connection, or one HTTP/2 connection for gRPC, as wrk's `-c`) and sends the next request
//! when the last one is answered. Both protocols go through hyper's own client connections
//! (`client::conn::http1` and `http2`), with no pool, no tower stack and no codec around them:
//! a gRPC call is a POST of the length-prefixed message with `te: trailers`, its answer the
//! prefixed message and a `grpc-status` trailer. A tonic channel adds a buffer task and a
//! tower stack per call, CPU taken from the cores the server shares; this way the two clients
//! are the same code but for the protocol. Requests are encoded once; responses are read whole but not
//! parsed (both are checked once, before the run, to be the expected answer), so neither
//! protocol's client-side parsing is in the figures. The runtime has one thread, like
//! `wrk -t1`, to leave the other cores to the server. Prints one tab-separated line:
//! front, entities, concurrency, requests, req/s, p50 µs, p99 µs, server CPU µs per request.
//! `--connections N` lets gRPC workers share N HTTP/2 connections, as a real gRPC client's
//! channel multiplexes its calls.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use edgefeat::proto::WireValue;
use edgefeat::proto::client::feast::serving::get_online_features_request::Kind;
use edgefeat::proto::client::feast::serving::{
    FeatureList, GetOnlineFeaturesRequest, GetOnlineFeaturesResponse,
};
use edgefeat::proto::feast::types::RepeatedValue;
use edgefeat::types::Value;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use prost::Message;

#[derive(Parser)]
struct Args {
    /// `grpc` (ServingService/GetOnlineFeatures) or `http` (POST /get-online-features).
    #[arg(long)]
    front: String,
    /// host:port of the front.
    #[arg(long)]
    addr: String,
    /// Driver ids per request (1001, 1002, ...); the three driver_hourly_stats features each.
    #[arg(long, default_value_t = 3)]
    entities: usize,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// gRPC only: connections the workers share (HTTP/2 multiplexes calls on one, as Feast's
    /// Java and Go clients do with one channel). Default: one per worker, like HTTP/1.1.
    #[arg(long)]
    connections: Option<usize>,
    /// Seconds of load, after one second of warm-up.
    #[arg(long, default_value_t = 8)]
    duration: u64,
    /// The server's pid, for its CPU time per request (utime + stime from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
}

const FEATURES: [&str; 3] = [
    "driver_hourly_stats:conv_rate",
    "driver_hourly_stats:acc_rate",
    "driver_hourly_stats:avg_daily_trips",
];

fn ids(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| 1001 + i).collect()
}

fn http_body(n: usize) -> Bytes {
    let body = serde_json::json!({"features": FEATURES, "entities": {"driver_id": ids(n)}});
    Bytes::from(body.to_string())
}

fn grpc_body(n: usize) -> Result<Bytes> {
    let column = RepeatedValue {
        val: ids(n)
            .into_iter()
            .map(|id| WireValue::encode(&Value::Int64(id)))
            .collect::<Result<_, _>>()?,
    };
    let request = GetOnlineFeaturesRequest {
        kind: Some(Kind::Features(FeatureList {
            val: FEATURES.iter().map(|f| f.to_string()).collect(),
        })),
        entities: [("driver_id".to_string(), column)].into(),
        ..Default::default()
    };
    // gRPC's framing: not compressed (0), then the message's length, big-endian.
    let message = request.encode_to_vec();
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    framed.extend_from_slice(&message);
    Ok(Bytes::from(framed))
}

/// One worker's connection.
enum Client {
    Http(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    /// A handle on an HTTP/2 connection; clones share it.
    Grpc(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Client {
    async fn connect(front: &str, addr: &str) -> Result<Client> {
        match front {
            "http" => {
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let (send, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await?;
                tokio::spawn(conn);
                Ok(Client::Http(send))
            }
            "grpc" => {
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let (send, conn) = hyper::client::conn::http2::handshake(
                    hyper_util::rt::TokioExecutor::new(),
                    hyper_util::rt::TokioIo::new(stream),
                )
                .await?;
                tokio::spawn(conn);
                Ok(Client::Grpc(send))
            }
            other => bail!("--front is grpc or http, not {other}"),
        }
    }

    /// Sends `body`, returns the response body.
    async fn call(&mut self, addr: &str, body: &Bytes) -> Result<Bytes> {
        match self {
            Client::Http(send) => {
                send.ready().await?;
                let request = hyper::Request::post("/get-online-features")
                    .header("host", addr)
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))?;
                let response = send.send_request(request).await?;
                let status = response.status();
                let bytes = response.into_body().collect().await?.to_bytes();
                ensure!(status == 200, "HTTP {status}: {bytes:?}");
                Ok(bytes)
            }
            Client::Grpc(send) => {
                send.ready().await?;
                let request = hyper::Request::post(format!(
                    "http://{addr}/feast.serving.ServingService/GetOnlineFeatures"
                ))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(Full::new(body.clone()))?;
                let response = send.send_request(request).await?;
                let status = response.status();
                // A call that fails at once answers its status in the headers alone.
                let early = response.headers().get("grpc-status").cloned();
                let collected = response.into_body().collect().await?;
                let grpc_status = early.or_else(|| {
                    collected
                        .trailers()
                        .and_then(|t| t.get("grpc-status").cloned())
                });
                ensure!(
                    status == 200 && grpc_status.as_ref().is_some_and(|s| s == "0"),
                    "HTTP {status}, grpc-status {grpc_status:?}"
                );
                let bytes = collected.to_bytes();
                ensure!(bytes.len() >= 5, "a gRPC answer without its message");
                Ok(bytes.slice(5..))
            }
        }
    }
}

/// Checks that a response is the answer to the request: a join-key column and three feature
/// columns of `n` rows.
fn check(front: &str, bytes: &Bytes, n: usize) -> Result<()> {
    let rows: Vec<usize> = if front == "http" {
        let json: serde_json::Value = serde_json::from_slice(bytes)?;
        json["results"]
            .as_array()
            .context("no results")?
            .iter()
            .map(|c| c["values"].as_array().map_or(0, |v| v.len()))
            .collect()
    } else {
        let resp = GetOnlineFeaturesResponse::decode(&bytes[..])?;
        resp.results.iter().map(|c| c.values.len()).collect()
    };
    ensure!(rows == vec![n; 4], "unexpected answer shape {rows:?}");
    Ok(())
}

fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

/// Runs one worker until `end`; returns its latencies in microseconds.
async fn worker(
    mut client: Client,
    addr: String,
    body: Bytes,
    warm_until: Instant,
    end: Instant,
) -> Result<Vec<u32>> {
    let mut latencies = Vec::with_capacity(1 << 16);
    loop {
        let start = Instant::now();
        if start >= end {
            return Ok(latencies);
        }
        client.call(&addr, &body).await?;
        if start >= warm_until {
            latencies.push(start.elapsed().as_micros() as u32);
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let body = match args.front.as_str() {
            "http" => http_body(args.entities),
            _ => grpc_body(args.entities)?,
        };
        let mut probe = Client::connect(&args.front, &args.addr).await?;
        check(
            &args.front,
            &probe.call(&args.addr, &body).await?,
            args.entities,
        )?;
        drop(probe);

        let connections = match (args.front.as_str(), args.connections) {
            ("grpc", Some(n)) => n.clamp(1, args.concurrency),
            (_, Some(_)) => bail!(
                "--connections is for gRPC: an HTTP/1.1 connection carries one call at a time"
            ),
            (_, None) => args.concurrency,
        };
        let mut clients = Vec::with_capacity(connections);
        for _ in 0..connections {
            clients.push(Client::connect(&args.front, &args.addr).await?);
        }
        let warm_until = Instant::now() + Duration::from_secs(1);
        let end = warm_until + Duration::from_secs(args.duration);
        let channels: Vec<hyper::client::conn::http2::SendRequest<Full<Bytes>>> = clients
            .iter()
            .filter_map(|c| match c {
                Client::Grpc(grpc) => Some(grpc.clone()),
                Client::Http(_) => None,
            })
            .collect();
        let per_worker: Vec<Client> = if channels.is_empty() {
            clients
        } else {
            // A clone of an HTTP/2 `SendRequest` is another handle on the same connection.
            (0..args.concurrency)
                .map(|i| Client::Grpc(channels[i % channels.len()].clone()))
                .collect()
        };
        let workers: Vec<_> = per_worker
            .into_iter()
            .map(|client| {
                tokio::spawn(worker(
                    client,
                    args.addr.clone(),
                    body.clone(),
                    warm_until,
                    end,
                ))
            })
            .collect();
        tokio::time::sleep_until(warm_until.into()).await;
        let before = args.server_pid.map(cpu_ticks).transpose()?;
        let mut latencies = Vec::new();
        for w in workers {
            latencies.extend(w.await??);
        }
        let after = args.server_pid.map(cpu_ticks).transpose()?;
        latencies.sort_unstable();
        let n = latencies.len().max(1);
        let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)];
        let rps = latencies.len() as f64 / args.duration as f64;
        // CLK_TCK is 100 on Linux.
        let cpu = match (before, after) {
            (Some(b), Some(a)) => format!("{:.1}", (a - b) as f64 * 1e4 / n as f64),
            _ => "-".into(),
        };
        println!(
            "{}\t{}\t{}\t{}\t{:.0}\t{}\t{}\t{}",
            args.front,
            args.entities,
            args.concurrency,
            latencies.len(),
            rps,
            pct(0.50),
            pct(0.99),
            cpu
        );
        Ok(())
    })
}
