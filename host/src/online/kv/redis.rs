//! `host-kv` on Redis or Redis Cluster (Valkey and Dragonfly speak the same protocol), on the
//! process's shared [`RedisClient`]: a batch is one pipeline (HMGET / HSET + EXPIRE / HDEL or
//! DEL per key), one per hash slot on a cluster.

use redis::Value;

use super::redis_client::{RedisClient, glob_escape};
use super::{GetResult, HashRead, HashWrite, Kv, KvError, ScanPage};
use crate::repo::config::RedisConfig;

/// The Redis `host-kv` backend.
pub struct RedisKv {
    client: RedisClient,
}

impl RedisKv {
    /// Prepares the client. Nothing is connected yet: the server starts (and answers 503 on
    /// `/health`) while Redis is unreachable, and connects when it is back.
    pub fn open(config: &RedisConfig) -> anyhow::Result<RedisKv> {
        Ok(RedisKv {
            client: RedisClient::open(config)?,
        })
    }

    /// Sends the commands and fails on the first one Redis refused.
    fn pipeline(
        &self,
        op: &'static str,
        commands: Vec<(Vec<u8>, Vec<redis::Cmd>)>,
    ) -> Result<Vec<Value>, KvError> {
        let replies = self.client.pipeline(op, commands)?;
        if let Some(Value::ServerError(e)) =
            replies.iter().find(|v| matches!(v, Value::ServerError(_)))
        {
            return Err(KvError::Failed(format!("{}: {e}", self.client.name())));
        }
        Ok(replies)
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
        let mut answers = self.pipeline("kv_get", commands)?.into_iter();
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
        self.pipeline("kv_set", commands).map(drop)
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
        self.pipeline("kv_delete", commands).map(drop)
    }

    fn scan(&self, prefix: &[u8], cursor: Option<&str>) -> Result<ScanPage, KvError> {
        let mut pattern = glob_escape(prefix);
        pattern.push(b'*');
        self.client.scan(&pattern, cursor)
    }

    fn ping(&self) -> Result<(), KvError> {
        self.client.ping()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
