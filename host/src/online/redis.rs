//! Feast's Redis online store, in Feast's own layout (`redis_layout.rs`;
//! docs/feast-compat.md#redis-online-store-layout): edgefeat fronts the Redis that
//! `feast materialize` fills, and what edgefeat writes Feast reads.
//!
//! - **Reads** are one round trip per request: an `HMGET key <feature fields> _ts:<view>` per
//!   (view, entity), all in one pipeline (one per hash slot on a cluster, sent concurrently).
//!   The server awaits it on its async workers ([`OnlineStore::read_tables_async`]); no thread
//!   waits on the network.
//! - **Writes** follow Feast's rule that only a strictly newer event overwrites, but as one
//!   Lua script per entity (compare the stored `_ts:<view>`, then `HSET` and `EXPIRE`), so
//!   each entity's write is atomic and concurrent writers cannot interleave between the
//!   compare and the set, which Feast's read-then-write pipelines allow. A write returns once
//!   Redis has answered every script; how durable that is, Redis's own persistence decides
//!   (`appendfsync`).
//! - **Deletes** (`apply` removing a view, `teardown`) remove what Feast removes: a removed
//!   view's fields, or the whole hash when no other view wrote to it; every key of the
//!   project on `teardown`. Keys are checked to be exactly an entity of the project before
//!   anything is deleted.

use std::future::Future;
use std::pin::Pin;

use anyhow::{Context, Result, bail};
use redis::Value as Reply;

use super::kv::KvError;
use super::kv::redis_client::{KeyCommands, RedisClient, glob_escape};
use super::redis_layout::{
    WRITE_SCRIPT, decode_timestamp, encode_timestamp, feature_field, is_entity_of, key_prefix,
    redis_key, seconds_nanos, ts_field,
};
use super::{
    Durability, InfraChange, OnlineStore, ReadRow, StoreUnavailable, Table, TableRead, TableRows,
    WriteFeature, WriteRow, WriteStats,
};
use crate::registry::FeatureView;
use crate::repo::config::{MissingEntities, RedisStoreConfig};
use crate::types::{Value, value_proto};

/// Rows per write pipeline: bounds the memory of one batch and the time Redis spends on it.
const WRITE_CHUNK: usize = 512;

/// The Redis online store.
pub struct RedisStore {
    client: RedisClient,
    config: RedisStoreConfig,
    /// The SHA-1 of [`WRITE_SCRIPT`], for `EVALSHA`.
    script_sha: String,
}

impl RedisStore {
    /// Prepares the client; nothing is connected until the first call.
    pub fn open(config: &RedisStoreConfig) -> Result<RedisStore> {
        Ok(RedisStore {
            client: RedisClient::open(&config.client)?,
            config: config.clone(),
            script_sha: redis::Script::new(WRITE_SCRIPT).get_hash().to_string(),
        })
    }

    /// The HMGETs of a read, and what decoding their replies needs.
    fn read_commands(&self, reads: &[TableRead<'_>]) -> (Vec<KeyCommands>, Vec<(String, usize)>) {
        let mut commands = Vec::new();
        let mut shapes = Vec::with_capacity(reads.len());
        for read in reads {
            let fields: Vec<[u8; 4]> = read
                .features
                .iter()
                .map(|f| feature_field(read.table.view, f))
                .collect();
            let ts = ts_field(read.table.view);
            for entity_key in read.entity_keys {
                let key = redis_key(entity_key, read.table.project);
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(&key);
                for f in &fields {
                    cmd.arg(&f[..]);
                }
                cmd.arg(&ts);
                commands.push((key, vec![cmd]));
            }
            shapes.push((read.table.view.to_string(), read.entity_keys.len()));
        }
        (commands, shapes)
    }

    fn rows_future(
        &self,
        reads: &[TableRead<'_>],
    ) -> impl Future<Output = Result<Vec<TableRows>>> + Send + 'static {
        let (commands, shapes) = self.read_commands(reads);
        let widths: Vec<usize> = reads.iter().map(|r| r.features.len()).collect();
        let replies = self.client.pipeline_future("read", commands);
        let missing = self.config.missing_entities;
        let name = self.client.name().to_string();
        async move {
            let mut replies = replies.await.map_err(store_error)?.into_iter();
            let mut out = Vec::with_capacity(shapes.len());
            for ((view, keys), width) in shapes.into_iter().zip(widths) {
                let mut rows = Vec::with_capacity(keys);
                for _ in 0..keys {
                    let reply = replies
                        .next()
                        .with_context(|| format!("{name} answered too few replies"))?;
                    rows.push(
                        decode_row(reply, width, missing)
                            .with_context(|| format!("{name}: view {view}"))?,
                    );
                }
                out.push(rows);
            }
            Ok(out)
        }
    }

    /// The commands writing `rows`, one per row: the script, or a plain `HSET` (+ `EXPIRE`)
    /// with `skip_dedup`.
    fn write_commands(
        &self,
        table: Table<'_>,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
        eval_text: bool,
    ) -> Result<Vec<KeyCommands>> {
        let fields: Vec<[u8; 4]> = features
            .iter()
            .map(|f| feature_field(table.view, f.name))
            .collect();
        let ts = ts_field(table.view);
        let ttl = self.config.key_ttl_seconds.unwrap_or(0);
        let mut commands = Vec::with_capacity(rows.len());
        for row in rows {
            let key = redis_key(&row.entity_key, table.project);
            let mut cmd = if self.config.skip_dedup {
                redis::cmd("HSET")
            } else if eval_text {
                let mut c = redis::cmd("EVAL");
                c.arg(WRITE_SCRIPT);
                c
            } else {
                let mut c = redis::cmd("EVALSHA");
                c.arg(&self.script_sha);
                c
            };
            if self.config.skip_dedup {
                cmd.arg(&key);
            } else {
                let (seconds, nanos) = seconds_nanos(row.event_ts_micros);
                cmd.arg(1)
                    .arg(&key)
                    .arg(&ts)
                    .arg(seconds)
                    .arg(nanos)
                    .arg(ttl);
            }
            cmd.arg(&ts).arg(encode_timestamp(row.event_ts_micros));
            let mut bytes = Vec::with_capacity(16);
            for ((field, feature), value) in fields.iter().zip(features).zip(&row.values) {
                bytes.clear();
                value_proto::encode_value(value, feature.dtype, &mut bytes)
                    .with_context(|| format!("feature {}:{}", table.view, feature.name))?;
                cmd.arg(&field[..]).arg(&bytes);
            }
            let mut cmds = vec![cmd];
            if self.config.skip_dedup && ttl > 0 {
                let mut expire = redis::cmd("EXPIRE");
                expire.arg(&key).arg(ttl);
                cmds.push(expire);
            }
            commands.push((key, cmds));
        }
        Ok(commands)
    }

    /// Every key of the project whose entity has exactly `join_keys`, page by page.
    fn each_key(
        &self,
        project: &str,
        join_keys: &[&str],
        mut visit: impl FnMut(Vec<Vec<u8>>) -> Result<()>,
    ) -> Result<()> {
        let mut pattern = glob_escape(&key_prefix(join_keys));
        pattern.push(b'*');
        pattern.extend(glob_escape(project.as_bytes()));
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .client
                .scan(&pattern, cursor.as_deref())
                .map_err(store_error)?;
            let mut keys: Vec<Vec<u8>> = page
                .keys
                .into_iter()
                .filter(|k| is_entity_of(k, join_keys, project))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            if !keys.is_empty() {
                visit(keys)?;
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }

    /// Sends commands and fails on the first one Redis refused.
    fn run(&self, op: &'static str, commands: Vec<KeyCommands>) -> Result<Vec<Reply>> {
        let replies = self.client.pipeline(op, commands).map_err(store_error)?;
        if let Some(Reply::ServerError(e)) =
            replies.iter().find(|r| matches!(r, Reply::ServerError(_)))
        {
            bail!("{}: {e}", self.client.name());
        }
        Ok(replies)
    }

    /// Removes one view's fields from every entity of its join keys, or the whole hash where
    /// no other view has a timestamp in it.
    fn delete_view(&self, project: &str, view: &FeatureView) -> Result<usize> {
        let join_keys: Vec<&str> = view
            .entity_columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let ts = ts_field(&view.name);
        let mut fields: Vec<Vec<u8>> = view
            .features
            .iter()
            .map(|f| feature_field(&view.name, &f.name).to_vec())
            .collect();
        fields.push(ts.clone());
        let mut touched = 0;
        self.each_key(project, &join_keys, |keys| {
            let hkeys = keys
                .iter()
                .map(|k| {
                    let mut c = redis::cmd("HKEYS");
                    c.arg(k);
                    (k.clone(), vec![c])
                })
                .collect();
            let names = self.run("delete", hkeys)?;
            let mut deletes = Vec::new();
            for (key, reply) in keys.into_iter().zip(names) {
                let names: Vec<Vec<u8>> = redis::from_redis_value(reply)
                    .map_err(|e| anyhow::anyhow!("{}: HKEYS: {e}", self.client.name()))?;
                if !names.contains(&ts) {
                    continue;
                }
                let only_view = names
                    .iter()
                    .filter(|n| n.starts_with(b"_ts:"))
                    .all(|n| *n == ts);
                let cmd = if only_view {
                    let mut c = redis::cmd("DEL");
                    c.arg(&key);
                    c
                } else {
                    let mut c = redis::cmd("HDEL");
                    c.arg(&key);
                    for f in &fields {
                        c.arg(f);
                    }
                    c
                };
                deletes.push((key, vec![cmd]));
            }
            touched += deletes.len();
            self.run("delete", deletes).map(drop)
        })?;
        Ok(touched)
    }
}

/// A store error the server reports as the store being down, or as a failure.
fn store_error(e: KvError) -> anyhow::Error {
    match e {
        KvError::Unavailable(m) => StoreUnavailable(m).into(),
        KvError::Failed(m) => anyhow::anyhow!(m),
    }
}

/// One HMGET reply: the features, then the view's timestamp.
fn decode_row(reply: Reply, width: usize, missing: MissingEntities) -> Result<Option<ReadRow>> {
    let items = match reply {
        Reply::Array(items) => items,
        Reply::ServerError(e) => bail!("{e}"),
        other => bail!("unexpected reply to HMGET: {other:?}"),
    };
    if items.len() != width + 1 {
        bail!(
            "HMGET answered {} values for {} fields",
            items.len(),
            width + 1
        );
    }
    let mut items = items.into_iter();
    let mut values = Vec::with_capacity(width);
    let mut any = false;
    for _ in 0..width {
        let value = match bulk(items.next())? {
            None => None,
            Some(bytes) => {
                any = true;
                Some(value_proto::decode_value(&bytes, None)?)
            }
        };
        values.push(value);
    }
    let ts = bulk(items.next())?;
    let event_ts_micros = match &ts {
        Some(bytes) => decode_timestamp(bytes)?,
        None => 0,
    };
    match missing {
        // Feast reads a missing field as an empty `Value` (null) and a missing timestamp as
        // the epoch, and reports both PRESENT: so does this.
        MissingEntities::Present => Ok(Some(ReadRow {
            event_ts_micros,
            created_ts_micros: 0,
            values: values
                .into_iter()
                .map(|v| Some(v.unwrap_or(Value::Null)))
                .collect(),
        })),
        MissingEntities::NotFound => Ok((any || ts.is_some()).then_some(ReadRow {
            event_ts_micros,
            created_ts_micros: 0,
            values,
        })),
    }
}

fn bulk(reply: Option<Reply>) -> Result<Option<Vec<u8>>> {
    match reply {
        None | Some(Reply::Nil) => Ok(None),
        Some(Reply::BulkString(b)) => Ok(Some(b)),
        Some(Reply::SimpleString(s)) => Ok(Some(s.into_bytes())),
        Some(other) => bail!("unexpected field value from HMGET: {other:?}"),
    }
}

impl OnlineStore for RedisStore {
    fn update(
        &self,
        project: &str,
        _keep: &[&FeatureView],
        delete: &[&FeatureView],
    ) -> Result<Vec<InfraChange>> {
        // Hashes come into being with their first write; only removals act.
        let mut changes = Vec::new();
        if !self.config.full_scan_for_deletion {
            return Ok(changes);
        }
        for view in delete {
            let n = self.delete_view(project, view)?;
            changes.push(InfraChange(format!(
                "Deleted the fields of {} from {} entities in {}",
                view.name,
                n,
                self.client.name()
            )));
        }
        Ok(changes)
    }

    fn teardown(&self, project: &str, views: &[&FeatureView]) -> Result<Vec<InfraChange>> {
        let mut key_sets: Vec<Vec<&str>> = views
            .iter()
            .map(|v| {
                let mut keys: Vec<&str> =
                    v.entity_columns.iter().map(|c| c.name.as_str()).collect();
                keys.sort_unstable();
                keys
            })
            .collect();
        key_sets.sort();
        key_sets.dedup();
        let mut changes = Vec::new();
        for join_keys in key_sets {
            let mut deleted = 0;
            self.each_key(project, &join_keys, |keys| {
                deleted += keys.len();
                let dels = keys
                    .into_iter()
                    .map(|k| {
                        let mut c = redis::cmd("DEL");
                        c.arg(&k);
                        (k, vec![c])
                    })
                    .collect();
                self.run("delete", dels).map(drop)
            })?;
            changes.push(InfraChange(format!(
                "Deleted {deleted} keys of entities ({}) from {}",
                join_keys.join(", "),
                self.client.name()
            )));
        }
        Ok(changes)
    }

    fn read(
        &self,
        table: Table<'_>,
        entity_keys: &[&[u8]],
        features: &[&str],
    ) -> Result<Vec<Option<ReadRow>>> {
        let keys: Vec<Vec<u8>> = entity_keys.iter().map(|k| k.to_vec()).collect();
        let features: Vec<String> = features.iter().map(|f| f.to_string()).collect();
        let read = TableRead {
            table,
            entity_keys: &keys,
            features: &features,
        };
        let future = self.rows_future(std::slice::from_ref(&read));
        let mut rows = self
            .client
            .block_on(async move { Ok(future.await) })
            .map_err(store_error)??;
        Ok(rows.pop().unwrap_or_default())
    }

    fn read_tables(&self, reads: &[TableRead<'_>]) -> Result<Vec<TableRows>> {
        let future = self.rows_future(reads);
        self.client
            .block_on(async move { Ok(future.await) })
            .map_err(store_error)?
    }

    fn read_tables_async(
        &self,
        reads: &[TableRead<'_>],
    ) -> Option<Pin<Box<dyn Future<Output = Result<Vec<TableRows>>> + Send + 'static>>> {
        Some(Box::pin(self.rows_future(reads)))
    }

    /// Atomic per entity (one script each), not across entities: Redis has no transaction
    /// across hash slots, and Feast's own writes are not atomic at all.
    fn write(
        &self,
        table: Table<'_>,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
        _durability: Durability,
    ) -> Result<WriteStats> {
        super::check_row_widths(table, features.len(), rows)?;
        let mut kept_newer = 0;
        for chunk in rows.chunks(WRITE_CHUNK) {
            let commands = self.write_commands(table, features, chunk, false)?;
            let mut replies = self
                .client
                .pipeline("write", commands)
                .map_err(store_error)?;
            // A Redis that restarted (or flushed its scripts) has forgotten the script: send
            // it whole, which also caches it again. Rows already written by the first try
            // are not newer than themselves, so the second leaves them alone.
            if replies.iter().any(is_noscript) {
                let commands = self.write_commands(table, features, chunk, true)?;
                replies = self
                    .client
                    .pipeline("write", commands)
                    .map_err(store_error)?;
            }
            for reply in replies {
                match reply {
                    Reply::ServerError(e) => {
                        bail!("{}: writing view {}: {e}", self.client.name(), table.view)
                    }
                    // The script answers 0 for a row it kept out; HSET's and EXPIRE's counts
                    // (skip_dedup) say nothing of that.
                    Reply::Int(0) if !self.config.skip_dedup => kept_newer += 1,
                    _ => {}
                }
            }
        }
        Ok(WriteStats {
            written: rows.len() - kept_newer,
            kept_newer,
        })
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn blocking(&self) -> bool {
        true
    }

    fn check(&self) -> Result<()> {
        self.client.ping().map_err(store_error)
    }
}

fn is_noscript(reply: &Reply) -> bool {
    matches!(reply, Reply::ServerError(e) if e.code() == "NOSCRIPT")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk_reply(items: &[Option<&[u8]>]) -> Reply {
        Reply::Array(
            items
                .iter()
                .map(|i| match i {
                    None => Reply::Nil,
                    Some(b) => Reply::BulkString(b.to_vec()),
                })
                .collect(),
        )
    }

    #[test]
    fn a_missing_entity_is_present_and_null_at_the_epoch_as_in_feast() {
        let row = decode_row(bulk_reply(&[None, None, None]), 2, MissingEntities::Present)
            .unwrap()
            .unwrap();
        assert_eq!(row.event_ts_micros, 0);
        assert_eq!(row.values, vec![Some(Value::Null), Some(Value::Null)]);
        assert_eq!(
            decode_row(
                bulk_reply(&[None, None, None]),
                2,
                MissingEntities::NotFound
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn stored_values_and_timestamps_are_decoded() {
        let reply = bulk_reply(&[
            Some(&[0x20, 0x6c]),
            Some(b""),
            Some(&[0x08, 0xa0, 0xdf, 0x93, 0xd8, 0x06]),
        ]);
        let row = decode_row(reply, 2, MissingEntities::NotFound)
            .unwrap()
            .unwrap();
        assert_eq!(row.event_ts_micros, 1_795_485_600_000_000);
        assert_eq!(row.values, vec![Some(Value::Int64(108)), Some(Value::Null)]);
        // A field the entity lacks (the view gained the feature later).
        let reply = bulk_reply(&[Some(&[0x20, 0x6c]), None, Some(&[0x08, 0x01])]);
        let row = decode_row(reply, 2, MissingEntities::NotFound)
            .unwrap()
            .unwrap();
        assert_eq!(row.values[1], None);
    }

    #[test]
    fn bad_replies_are_errors_not_panics() {
        assert!(decode_row(bulk_reply(&[None]), 2, MissingEntities::Present).is_err());
        assert!(decode_row(Reply::Int(3), 1, MissingEntities::Present).is_err());
        assert!(
            decode_row(
                bulk_reply(&[Some(&[0xff]), None]),
                1,
                MissingEntities::Present
            )
            .is_err()
        );
        assert!(
            decode_row(
                bulk_reply(&[None, Some(&[0x08])]),
                1,
                MissingEntities::Present
            )
            .is_err()
        );
    }
}
