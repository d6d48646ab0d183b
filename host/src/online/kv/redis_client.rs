//! The one Redis client of the process, shared by `host-kv` on Redis (`redis.rs`) and the
//! built-in Feast-layout Redis store (`online/redis.rs`): Redis, Valkey or a Redis Cluster.
//!
//! One async connection does all the work: a [`ConnectionManager`] (one multiplexed
//! connection that pipelines every caller's commands and reconnects by itself) or a cluster
//! connection (one multiplexed connection per node). Every call comes in two forms:
//!
//! - as a future ([`RedisClient::pipeline_future`]), for the server's async workers, which
//!   await Redis without holding a thread;
//! - blocking ([`RedisClient::pipeline`]), for synchronous callers (store adapters inside
//!   wasmtime, the CLI's materialize): the future runs on the client's own one-thread tokio
//!   runtime and the caller waits for it.
//!
//! Both are bounded by the configured timeout. A batch is one pipeline; on a cluster it is one
//! pipeline per hash slot, sent concurrently, because a cluster pipeline must stay in one slot.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Pipeline, RedisError, Value};
use tokio::sync::OnceCell;

use super::{KvError, ScanPage};
use crate::repo::config::RedisConfig;

/// Keys asked per SCAN step.
const SCAN_COUNT: usize = 1000;

/// Commands for one key: they go to that key's slot on a cluster.
pub type KeyCommands = (Vec<u8>, Vec<redis::Cmd>);

/// A Redis client: pooled, pipelined, reconnecting, bounded by a timeout.
pub struct RedisClient {
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    conn: Conn,
    timeout: Duration,
    /// `redis 127.0.0.1:6379` or `redis cluster a:1,b:2`: for error messages.
    name: Arc<str>,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    /// Connected on first use: a cluster connection needs the topology, which needs a node.
    Cluster(
        Arc<redis::cluster::ClusterClient>,
        Arc<OnceCell<ClusterConnection>>,
    ),
}

impl RedisClient {
    /// Prepares the client. Nothing is connected yet: a server starts (and answers 503 on
    /// `/health`) while Redis is unreachable, and connects when it is back.
    pub fn open(config: &RedisConfig) -> anyhow::Result<RedisClient> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("edgefeat-redis")
            .enable_all()
            .build()?;
        let timeout = config.timeout;
        let conn = if config.cluster {
            let client = redis::cluster::ClusterClient::builder(config.urls.clone())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(1)
                .build()
                .map_err(|e| anyhow::anyhow!("redis cluster: {e}"))?;
            Conn::Cluster(Arc::new(client), Arc::new(OnceCell::new()))
        } else {
            let url = config
                .urls
                .first()
                .ok_or_else(|| anyhow::anyhow!("the Redis connection_string names no server"))?;
            let client = redis::Client::open(url.as_str())
                .map_err(|e| anyhow::anyhow!("the Redis connection_string: {e}"))?;
            let manager_config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(1));
            let _guard = runtime.enter();
            Conn::Single(
                ConnectionManager::new_lazy_with_config(client, manager_config)
                    .map_err(|e| anyhow::anyhow!("redis: {e}"))?,
            )
        };
        let name = format!(
            "redis{} {}",
            if config.cluster { " cluster" } else { "" },
            config.display
        );
        Ok(RedisClient {
            runtime: Some(runtime),
            conn,
            timeout,
            name: name.into(),
        })
    }

    /// `redis HOST:PORT` or `redis cluster HOST:PORT,...`, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends `commands` as pipelines (one on a single server, one per hash slot on a cluster)
    /// and answers the replies in the order of the commands. A command Redis refused is a
    /// [`Value::ServerError`] in its place; the call fails only when Redis cannot be reached
    /// or does not answer within the timeout. Needs a tokio runtime to run on.
    ///
    /// `op` names the call in the metrics: `edgefeat_redis_request_duration_seconds{op}` and
    /// `edgefeat_redis_errors_total{op, kind}`.
    pub fn pipeline_future(
        &self,
        op: &'static str,
        commands: Vec<KeyCommands>,
    ) -> impl Future<Output = Result<Vec<Value>, KvError>> + Send + 'static {
        let (conn, timeout, name) = (self.conn.clone(), self.timeout, self.name.clone());
        async move {
            if commands.is_empty() {
                return Ok(Vec::new());
            }
            let started = std::time::Instant::now();
            let work = async move {
                match conn {
                    Conn::Single(mut manager) => {
                        let mut pipe = Pipeline::with_capacity(commands.len());
                        pipe.ignore_errors();
                        for c in commands.into_iter().flat_map(|(_, cmds)| cmds) {
                            pipe.add_command(c);
                        }
                        pipe.query_async::<Vec<Value>>(&mut manager).await
                    }
                    Conn::Cluster(client, cell) => {
                        let conn = cluster_connection(&client, &cell).await?;
                        slot_pipelines(conn, commands).await
                    }
                }
            };
            let result = match tokio::time::timeout(timeout, work).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(classify(&name, timeout, &e)),
                Err(_) => Err(timed_out(&name, timeout)),
            };
            record(op, started, result.as_ref().err());
            result
        }
    }

    /// [`RedisClient::pipeline_future`], waited for on the client's own runtime: for callers
    /// that are not async.
    pub fn pipeline(
        &self,
        op: &'static str,
        commands: Vec<KeyCommands>,
    ) -> Result<Vec<Value>, KvError> {
        self.block_on(self.pipeline_future(op, commands))
    }

    /// Runs `f` on the client's runtime and waits for it, at most the timeout (plus a margin
    /// for a runtime too busy to wake).
    pub fn block_on<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, KvError>> + Send + 'static,
    ) -> Result<T, KvError> {
        let Some(runtime) = &self.runtime else {
            return Err(KvError::Unavailable(format!(
                "{} is shutting down",
                self.name
            )));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        match rx.recv_timeout(self.timeout + Duration::from_millis(250)) {
            Ok(result) => result,
            Err(_) => Err(timed_out(&self.name, self.timeout)),
        }
    }

    /// One page of the keys `SCAN MATCH pattern` finds. On a cluster the scan walks the
    /// primaries in address order, each with its own cursor: the page cursor is
    /// `<primary index>:<node cursor>`. A topology change during the walk can skip keys, as
    /// any cluster-wide SCAN can.
    pub fn scan(&self, pattern: &[u8], cursor: Option<&str>) -> Result<ScanPage, KvError> {
        let bad_cursor =
            || KvError::Failed(format!("invalid scan cursor `{}`", cursor.unwrap_or("")));
        let scan = |start: u64| {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(start)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            cmd
        };
        let (name, timeout) = (self.name.clone(), self.timeout);
        let fail = move |e: RedisError| classify(&name, timeout, &e);
        let started = std::time::Instant::now();
        let page = self.scan_page(cursor, scan, fail, bad_cursor);
        record("scan", started, page.as_ref().err());
        page
    }

    fn scan_page(
        &self,
        cursor: Option<&str>,
        scan: impl Fn(u64) -> redis::Cmd,
        fail: impl Fn(RedisError) -> KvError + Send + 'static,
        bad_cursor: impl Fn() -> KvError,
    ) -> Result<ScanPage, KvError> {
        match self.conn.clone() {
            Conn::Single(mut manager) => {
                let start: u64 = cursor.map_or(Ok(0), |c| c.parse().map_err(|_| bad_cursor()))?;
                let scan = scan(start);
                let (next, keys): (u64, Vec<Vec<u8>>) = self
                    .block_on(async move { scan.query_async(&mut manager).await.map_err(fail) })?;
                Ok(ScanPage {
                    keys,
                    cursor: (next != 0).then(|| next.to_string()),
                })
            }
            Conn::Cluster(client, cell) => {
                let (node, start) = match cursor {
                    None => (0usize, 0u64),
                    Some(c) => {
                        let (n, k) = c.split_once(':').ok_or_else(&bad_cursor)?;
                        (
                            n.parse().map_err(|_| bad_cursor())?,
                            k.parse().map_err(|_| bad_cursor())?,
                        )
                    }
                };
                let scan = scan(start);
                let (primaries, next, keys) = self.block_on(async move {
                    let walk = async {
                        let mut conn = cluster_connection(&client, &cell).await?;
                        let nodes = conn
                            .route_command(
                                redis::cmd("CLUSTER").arg("NODES").clone(),
                                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                            )
                            .await?;
                        let primaries = primaries_of(&redis::from_redis_value::<String>(nodes)?);
                        let Some((host, port)) = primaries.get(node).cloned() else {
                            return Ok((primaries.len(), 0, Vec::new()));
                        };
                        let page = conn
                            .route_command(
                                scan,
                                RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                                    host,
                                    port,
                                }),
                            )
                            .await?;
                        let (next, keys): (u64, Vec<Vec<u8>>) = redis::from_redis_value(page)?;
                        Ok((primaries.len(), next, keys))
                    };
                    walk.await.map_err(fail)
                })?;
                let cursor = if next != 0 {
                    Some(format!("{node}:{next}"))
                } else if node + 1 < primaries {
                    Some(format!("{}:0", node + 1))
                } else {
                    None
                };
                Ok(ScanPage { keys, cursor })
            }
        }
    }

    /// Whether Redis answers now (for `/health`).
    pub fn ping(&self) -> Result<(), KvError> {
        let ping = redis::cmd("PING");
        let replies = self.pipeline("ping", vec![(b"edgefeat:ping".to_vec(), vec![ping])])?;
        match replies.into_iter().next() {
            Some(Value::ServerError(e)) => Err(KvError::Failed(format!("{}: {e}", self.name))),
            _ => Ok(()),
        }
    }
}

/// One pipeline per hash slot, concurrently; replies put back in command order.
async fn slot_pipelines(
    conn: ClusterConnection,
    commands: Vec<KeyCommands>,
) -> Result<Vec<Value>, RedisError> {
    let mut groups: HashMap<Route, (Pipeline, Vec<usize>)> = HashMap::new();
    let mut at = 0;
    for (key, cmds) in commands {
        let group = groups
            .entry(Route::with_key(&key, SlotAddr::Master))
            .or_insert_with(|| {
                let mut pipe = Pipeline::new();
                pipe.ignore_errors();
                (pipe, Vec::new())
            });
        for c in cmds {
            group.0.add_command(c);
            group.1.push(at);
            at += 1;
        }
    }
    let total = at;
    let sends = groups.into_values().map(|(pipe, slots)| {
        let mut conn = conn.clone();
        async move {
            let answers = pipe.query_async::<Vec<Value>>(&mut conn).await?;
            Ok::<_, RedisError>((slots, answers))
        }
    });
    let mut out = vec![Value::Nil; total];
    for (slots, answers) in futures_util::future::try_join_all(sends).await? {
        for (slot, answer) in slots.into_iter().zip(answers) {
            out[slot] = answer;
        }
    }
    Ok(out)
}

/// The cluster connection, made on first use and shared after (a cheap clone of one
/// multiplexed connection per node).
async fn cluster_connection(
    client: &redis::cluster::ClusterClient,
    cell: &OnceCell<ClusterConnection>,
) -> Result<ClusterConnection, RedisError> {
    let conn = cell
        .get_or_try_init(|| async { client.get_async_connection().await })
        .await?;
    Ok(conn.clone())
}

/// One call's time and, when it failed, its failure, per operation.
fn record(op: &'static str, started: std::time::Instant, error: Option<&KvError>) {
    metrics::histogram!("edgefeat_redis_request_duration_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    if let Some(e) = error {
        let kind = match e {
            KvError::Unavailable(_) => "unavailable",
            KvError::Failed(_) => "failed",
        };
        metrics::counter!("edgefeat_redis_errors_total", "op" => op, "kind" => kind).increment(1);
    }
}

fn timed_out(name: &str, timeout: Duration) -> KvError {
    KvError::Unavailable(format!(
        "{name} did not answer within {} ms",
        timeout.as_millis()
    ))
}

/// Unreachable or slow is [`KvError::Unavailable`] (the request fails, the server stays up,
/// the next request tries again); anything else is [`KvError::Failed`].
fn classify(name: &str, timeout: Duration, e: &RedisError) -> KvError {
    if e.is_timeout() {
        return timed_out(name, timeout);
    }
    let text = format!("{name}: {e}");
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        KvError::Unavailable(text)
    } else {
        KvError::Failed(text)
    }
}

impl Drop for RedisClient {
    fn drop(&mut self) {
        // The last owner may be a task of the server's own runtime, where dropping a runtime
        // (which blocks) would panic; a background shutdown never blocks.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The primaries of a `CLUSTER NODES` reply (`<id> <ip:port@cport[,hostname]> <flags> ...`),
/// sorted, skipping failed ones.
fn primaries_of(nodes: &str) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let addr = fields.nth(1)?;
            let flags = fields.next()?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            let addr = addr.split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            Some((
                host.trim_matches(['[', ']']).to_string(),
                port.parse().ok()?,
            ))
        })
        .collect();
    out.sort();
    out
}

/// Escapes the glob characters of a SCAN pattern, so that `prefix` matches only itself.
pub fn glob_escape(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 2);
    for &b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_primaries_are_read_from_cluster_nodes() {
        let nodes = "a1 127.0.0.1:7102@17102 master - 0 1 2 connected 5461-10922\n\
                     b2 127.0.0.1:7101@17101 myself,master - 0 0 1 connected 0-5460\n\
                     c3 127.0.0.1:7104@17104 slave a1 0 1 2 connected\n\
                     d4 127.0.0.1:7103@17103,host-c master,fail - 0 1 3 connected\n";
        assert_eq!(
            primaries_of(nodes),
            [
                ("127.0.0.1".to_string(), 7101),
                ("127.0.0.1".to_string(), 7102)
            ]
        );
    }

    #[test]
    fn scan_patterns_match_the_prefix_literally() {
        assert_eq!(glob_escape(b"a*b?[c]\\"), b"a\\*b\\?\\[c\\]\\\\".to_vec());
    }
}
