//! `host-kv` on Redis or Redis Cluster (Valkey and Dragonfly speak the same protocol).
//!
//! One async connection per process does all the work: a [`ConnectionManager`] (one
//! multiplexed connection that pipelines every caller's commands and reconnects by itself)
//! or a cluster connection (one multiplexed connection per node). It runs on its own
//! one-thread tokio runtime, so the synchronous adapter calls can wait for it from any thread
//! without tying up the server's async workers, and every call is bounded by `timeout_ms`.
//!
//! A batch is one pipeline (HMGET / HSET + EXPIRE / HDEL or DEL per key). On a cluster it is
//! one pipeline per hash slot, sent concurrently: a cluster pipeline must stay in one slot.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Pipeline, RedisError, Value};
use tokio::sync::OnceCell;

use super::{GetResult, HashRead, HashWrite, Kv, KvError, ScanPage};
use crate::repo::config::RedisConfig;

/// Keys asked per SCAN step.
const SCAN_COUNT: usize = 1000;

/// The Redis `host-kv` backend.
pub struct RedisKv {
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    conn: Conn,
    timeout: Duration,
    /// `redis 127.0.0.1:6379` or `redis cluster a:1,b:2`: for error messages.
    name: String,
}

enum Conn {
    Single(ConnectionManager),
    /// Connected on first use: a cluster connection needs the topology, which needs a node.
    Cluster(
        Box<redis::cluster::ClusterClient>,
        Arc<OnceCell<ClusterConnection>>,
    ),
}

impl RedisKv {
    /// Prepares the client. Nothing is connected yet: the server starts (and answers 503 on
    /// `/health`) while Redis is unreachable, and connects when it is back.
    pub fn open(config: &RedisConfig) -> anyhow::Result<RedisKv> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("edgefeat-kv")
            .enable_all()
            .build()?;
        let timeout = config.timeout;
        let conn = if config.cluster {
            let client = redis::cluster::ClusterClient::builder(config.urls.clone())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(1)
                .build()
                .map_err(|e| anyhow::anyhow!("online_store.kv: {e}"))?;
            Conn::Cluster(Box::new(client), Arc::new(OnceCell::new()))
        } else {
            let url = config.urls.first().ok_or_else(|| {
                anyhow::anyhow!("online_store.kv.connection_string names no server")
            })?;
            let client = redis::Client::open(url.as_str())
                .map_err(|e| anyhow::anyhow!("online_store.kv.connection_string: {e}"))?;
            let manager_config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(1));
            let _guard = runtime.enter();
            Conn::Single(
                ConnectionManager::new_lazy_with_config(client, manager_config)
                    .map_err(|e| anyhow::anyhow!("online_store.kv: {e}"))?,
            )
        };
        let name = format!(
            "redis{} {}",
            if config.cluster { " cluster" } else { "" },
            config.display
        );
        Ok(RedisKv {
            runtime: Some(runtime),
            conn,
            timeout,
            name,
        })
    }

    /// Runs `f` on the kv runtime and waits at most the timeout for it.
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, RedisError>> + Send + 'static,
    ) -> Result<T, KvError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let timeout = self.timeout;
        let Some(runtime) = &self.runtime else {
            return Err(KvError::Unavailable(format!(
                "{} is shutting down",
                self.name
            )));
        };
        runtime.spawn(async move {
            let _ = tx.send(tokio::time::timeout(timeout, f).await);
        });
        // The runtime enforces the timeout; the margin only covers a runtime too busy to wake.
        match rx.recv_timeout(timeout + Duration::from_millis(250)) {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(self.error(&e)),
            Ok(Err(_)) | Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> KvError {
        KvError::Unavailable(format!(
            "{} did not answer within {} ms",
            self.name,
            self.timeout.as_millis()
        ))
    }

    fn error(&self, e: &RedisError) -> KvError {
        if e.is_timeout() {
            return self.timed_out();
        }
        let text = format!("{}: {e}", self.name);
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
        {
            KvError::Unavailable(text)
        } else {
            KvError::Failed(text)
        }
    }

    /// Sends `commands` (each built for one key) as pipelines: one on a single server, one
    /// per hash slot on a cluster. Answers are returned in the order of `commands`.
    fn pipeline(&self, commands: Vec<(Vec<u8>, Vec<redis::Cmd>)>) -> Result<Vec<Value>, KvError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        match &self.conn {
            Conn::Single(manager) => {
                let mut pipe = Pipeline::with_capacity(commands.len());
                for c in commands.into_iter().flat_map(|(_, cmds)| cmds) {
                    pipe.add_command(c);
                }
                let mut conn = manager.clone();
                self.run(async move { pipe.query_async::<Vec<Value>>(&mut conn).await })
            }
            Conn::Cluster(client, cell) => {
                // Group by slot, remembering where each answer goes.
                let mut groups: HashMap<Route, (Pipeline, Vec<usize>)> = HashMap::new();
                let mut at = 0;
                for (key, cmds) in commands {
                    let group = groups
                        .entry(Route::with_key(&key, SlotAddr::Master))
                        .or_insert_with(|| (Pipeline::new(), Vec::new()));
                    for c in cmds {
                        group.0.add_command(c);
                        group.1.push(at);
                        at += 1;
                    }
                }
                let connect = cluster_connection(client, cell);
                let total = at;
                self.run(async move {
                    let conn = connect.await?;
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
                })
            }
        }
    }
}

/// The cluster connection, made on first use and shared after (a cheap clone of one
/// multiplexed connection per node).
fn cluster_connection(
    client: &redis::cluster::ClusterClient,
    cell: &Arc<OnceCell<ClusterConnection>>,
) -> impl Future<Output = Result<ClusterConnection, RedisError>> + Send + 'static {
    let (client, cell) = (client.clone(), Arc::clone(cell));
    async move {
        let conn = cell
            .get_or_try_init(|| async { client.get_async_connection().await })
            .await?;
        Ok(conn.clone())
    }
}

impl Drop for RedisKv {
    fn drop(&mut self) {
        // The last owner may be a task of the server's own runtime, where dropping a runtime
        // (which blocks) would panic; a background shutdown never blocks.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `HMGET key f1 f2 ...` answers: one bulk string or nil per field.
fn fields_of(answer: Value, n: usize) -> Result<Vec<Option<Vec<u8>>>, KvError> {
    let items = match answer {
        Value::Array(items) => items,
        Value::Nil => return Ok(vec![None; n]),
        other => {
            return Err(KvError::Failed(format!(
                "unexpected reply to HMGET: {other:?}"
            )));
        }
    };
    if items.len() != n {
        return Err(KvError::Failed(format!(
            "HMGET returned {} values for {n} fields",
            items.len()
        )));
    }
    items
        .into_iter()
        .map(|v| match v {
            Value::Nil => Ok(None),
            Value::BulkString(b) => Ok(Some(b)),
            Value::SimpleString(s) => Ok(Some(s.into_bytes())),
            other => Err(KvError::Failed(format!(
                "unexpected field value from HMGET: {other:?}"
            ))),
        })
        .collect()
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

/// Escapes the glob characters of a SCAN pattern, so that a prefix matches only itself.
fn glob_escape(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 2);
    for &b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'*');
    out
}

impl Kv for RedisKv {
    fn get(&self, reads: &[HashRead]) -> Result<GetResult, KvError> {
        // HMGET needs at least one field; a read of no fields answers without a round trip.
        let commands = reads
            .iter()
            .filter(|r| !r.fields.is_empty())
            .map(|r| {
                let mut c = redis::cmd("HMGET");
                c.arg(&r.key);
                for f in &r.fields {
                    c.arg(f);
                }
                (r.key.clone(), vec![c])
            })
            .collect();
        let mut answers = self.pipeline(commands)?.into_iter();
        reads
            .iter()
            .map(|r| {
                if r.fields.is_empty() {
                    return Ok(Vec::new());
                }
                let answer = answers.next().ok_or_else(|| {
                    KvError::Failed("the pipeline returned too few replies".into())
                })?;
                fields_of(answer, r.fields.len())
            })
            .collect()
    }

    fn set(&self, writes: &[HashWrite], ttl_seconds: Option<u32>) -> Result<(), KvError> {
        let commands = writes
            .iter()
            .filter(|w| !w.fields.is_empty())
            .map(|w| {
                let mut hset = redis::cmd("HSET");
                hset.arg(&w.key);
                for (f, v) in &w.fields {
                    hset.arg(f).arg(v);
                }
                let mut cmds = vec![hset];
                if let Some(ttl) = ttl_seconds {
                    let mut expire = redis::cmd("EXPIRE");
                    expire.arg(&w.key).arg(ttl);
                    cmds.push(expire);
                }
                (w.key.clone(), cmds)
            })
            .collect();
        self.pipeline(commands).map(drop)
    }

    fn delete(&self, deletes: &[HashRead]) -> Result<(), KvError> {
        let commands = deletes
            .iter()
            .map(|d| {
                let mut c = redis::cmd(if d.fields.is_empty() { "DEL" } else { "HDEL" });
                c.arg(&d.key);
                for f in &d.fields {
                    c.arg(f);
                }
                (d.key.clone(), vec![c])
            })
            .collect();
        self.pipeline(commands).map(drop)
    }

    fn scan(&self, prefix: &[u8], cursor: Option<&str>) -> Result<ScanPage, KvError> {
        let bad_cursor =
            || KvError::Failed(format!("invalid scan cursor `{}`", cursor.unwrap_or("")));
        let scan = |start: u64| {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(start)
                .arg("MATCH")
                .arg(glob_escape(prefix))
                .arg("COUNT")
                .arg(SCAN_COUNT);
            cmd
        };
        match &self.conn {
            Conn::Single(manager) => {
                let start: u64 = cursor.map_or(Ok(0), |c| c.parse().map_err(|_| bad_cursor()))?;
                let scan = scan(start);
                let mut conn = manager.clone();
                let (next, keys): (u64, Vec<Vec<u8>>) =
                    self.run(async move { scan.query_async(&mut conn).await })?;
                Ok(ScanPage {
                    keys,
                    cursor: (next != 0).then(|| next.to_string()),
                })
            }
            Conn::Cluster(client, cell) => {
                // A cluster scan walks the primaries in address order, each with its own SCAN
                // cursor: the page cursor is `<primary index>:<node cursor>`. A topology change
                // during the walk can skip keys, as any cluster-wide SCAN can.
                let (node, start) = match cursor {
                    None => (0usize, 0u64),
                    Some(c) => {
                        let (n, k) = c.split_once(':').ok_or_else(bad_cursor)?;
                        (
                            n.parse().map_err(|_| bad_cursor())?,
                            k.parse().map_err(|_| bad_cursor())?,
                        )
                    }
                };
                let scan = scan(start);
                let connect = cluster_connection(client, cell);
                let (primaries, next, keys) = self.run(async move {
                    let mut conn = connect.await?;
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

    fn ping(&self) -> Result<(), KvError> {
        let ping = redis::cmd("PING");
        self.pipeline(vec![(b"edgefeat:ping".to_vec(), vec![ping])])
            .map(drop)
    }
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
        assert_eq!(glob_escape(b"a*b?[c]\\"), b"a\\*b\\?\\[c\\]\\\\*".to_vec());
    }

    #[test]
    fn hmget_replies_become_optional_values() {
        let reply = Value::Array(vec![Value::Nil, Value::BulkString(b"x".to_vec())]);
        assert_eq!(
            fields_of(reply, 2).unwrap(),
            vec![None, Some(b"x".to_vec())]
        );
        assert!(fields_of(Value::Array(vec![]), 1).is_err());
    }
}
