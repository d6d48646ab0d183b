//! `redis-layout-adapter`: an example edgefeat store adapter that keeps rows in one Redis
//! hash per entity per project, in the spirit of Feast's Redis online store, through the
//! host's `host-kv` capability (the host owns the connections, the pooling and the timeouts).
//!
//! Layout (see README.md):
//! - key: `<key_prefix><project>:` followed by the serialized entity key (Feast's entity key
//!   serialization v3, the bytes the host passes);
//! - field `_ts:<view>`: the row's event and created times, two big-endian i64 microseconds;
//! - field `<view>:<feature>`: the value, in the tagged encoding of [`encode`].
//!
//! A write keeps the newer row per entity and view (event time, then created time), as the
//! host's built-in store does. Config (`online_store.config`): `key_prefix` (default
//! `edgefeat:`) and `key_ttl_seconds` (default none: keys never expire).

wit_bindgen::generate!({ path: "../../wit", world: "store-adapter" });

use std::collections::HashMap;

use edgefeat::plugin::host_kv::{self, HashRead, HashWrite, KvError};
use edgefeat::plugin::types::{PluginError, Value};
use exports::edgefeat::plugin::online_store::{
    Guest, GuestStore, Store as StoreHandle, StoredRow, Table, WriteRow, WriteStats,
};

struct Adapter;

/// An open store: the settings of `online_store.config`.
pub struct Store {
    prefix: String,
    ttl: Option<u32>,
}

impl Guest for Adapter {
    type Store = Store;
}

fn kv(e: KvError) -> PluginError {
    match e {
        KvError::Unavailable(m) => {
            PluginError::Internal(format!("key-value store unavailable: {m}"))
        }
        KvError::Failed(m) => PluginError::Internal(format!("key-value store error: {m}")),
    }
}

impl Store {
    fn key(&self, project: &str, entity_key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + project.len() + 1 + entity_key.len());
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(project.as_bytes());
        k.push(b':');
        k.extend_from_slice(entity_key);
        k
    }
}

fn ts_field(view: &str) -> Vec<u8> {
    format!("_ts:{view}").into_bytes()
}

fn feature_field(view: &str, feature: &str) -> Vec<u8> {
    format!("{view}:{feature}").into_bytes()
}

fn decode_ts(b: &[u8]) -> Result<(i64, i64), PluginError> {
    if b.len() != 16 {
        return Err(PluginError::Internal(format!(
            "corrupt timestamp field ({} bytes, expected 16)",
            b.len()
        )));
    }
    let event = i64::from_be_bytes(b[..8].try_into().unwrap_or_default());
    let created = i64::from_be_bytes(b[8..].try_into().unwrap_or_default());
    Ok((event, created))
}

impl GuestStore for Store {
    fn open(config: Vec<(String, String)>) -> Result<StoreHandle, PluginError> {
        let mut store = Store {
            prefix: "edgefeat:".to_string(),
            ttl: None,
        };
        for (key, value) in config {
            match key.as_str() {
                "key_prefix" => store.prefix = value,
                "key_ttl_seconds" => {
                    let ttl: u32 = value.parse().map_err(|_| {
                        PluginError::InvalidInput(format!(
                            "key_ttl_seconds `{value}` is not a whole number of seconds"
                        ))
                    })?;
                    store.ttl = (ttl > 0).then_some(ttl);
                }
                other => {
                    return Err(PluginError::InvalidInput(format!(
                        "unknown config key `{other}`; known: key_prefix, key_ttl_seconds"
                    )));
                }
            }
        }
        Ok(StoreHandle::new(store))
    }

    fn online_read(
        &self,
        table: Table,
        features: Vec<String>,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<Option<StoredRow>>, PluginError> {
        let mut fields = Vec::with_capacity(features.len() + 1);
        fields.push(ts_field(&table.view));
        fields.extend(features.iter().map(|f| feature_field(&table.view, f)));
        let reads: Vec<HashRead> = keys
            .iter()
            .map(|k| HashRead {
                key: self.key(&table.project, k),
                fields: fields.clone(),
            })
            .collect();
        let answers = host_kv::get(&reads).map_err(kv)?;
        answers
            .into_iter()
            .map(|values| {
                let mut values = values.into_iter();
                let Some(Some(ts)) = values.next() else {
                    return Ok(None);
                };
                let (event_ts_us, created_ts_us) = decode_ts(&ts)?;
                let values = values
                    .map(|v| v.map(|b| decode(&b)).transpose())
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(StoredRow {
                    event_ts_us,
                    created_ts_us,
                    values,
                }))
            })
            .collect()
    }

    fn online_write(
        &self,
        table: Table,
        features: Vec<String>,
        rows: Vec<WriteRow>,
    ) -> Result<WriteStats, PluginError> {
        for row in &rows {
            if row.values.len() != features.len() {
                return Err(PluginError::InvalidInput(format!(
                    "a row has {} values for {} features",
                    row.values.len(),
                    features.len()
                )));
            }
        }
        // Newer wins: one round trip for the stored times of every key, then one to write.
        let ts = ts_field(&table.view);
        let reads: Vec<HashRead> = rows
            .iter()
            .map(|r| HashRead {
                key: self.key(&table.project, &r.key),
                fields: vec![ts.clone()],
            })
            .collect();
        let stored = host_kv::get(&reads).map_err(kv)?;
        let mut latest: HashMap<&[u8], (i64, i64)> = HashMap::new();
        for (row, answer) in rows.iter().zip(&stored) {
            if let Some(Some(b)) = answer.first() {
                latest.entry(&row.key).or_insert(decode_ts(b)?);
            }
        }
        let names: Vec<Vec<u8>> = features
            .iter()
            .map(|f| feature_field(&table.view, f))
            .collect();
        // A key written twice in one batch keeps its last newest row.
        let mut winners: HashMap<&[u8], usize> = HashMap::new();
        let mut kept_newer = 0u32;
        for (i, row) in rows.iter().enumerate() {
            let time = (row.event_ts_us, row.created_ts_us);
            match latest.get(row.key.as_slice()) {
                Some(&have) if have > time => kept_newer += 1,
                _ => {
                    latest.insert(&row.key, time);
                    if winners.insert(&row.key, i).is_some() {
                        kept_newer += 1;
                    }
                }
            }
        }
        let mut order: Vec<usize> = winners.into_values().collect();
        order.sort_unstable();
        let writes: Vec<HashWrite> = order
            .iter()
            .map(|&i| {
                let row = &rows[i];
                let mut fields = Vec::with_capacity(names.len() + 1);
                let mut t = row.event_ts_us.to_be_bytes().to_vec();
                t.extend_from_slice(&row.created_ts_us.to_be_bytes());
                fields.push((ts.clone(), t));
                for (name, value) in names.iter().zip(&row.values) {
                    fields.push((name.clone(), encode(value)));
                }
                HashWrite {
                    key: self.key(&table.project, &row.key),
                    fields,
                }
            })
            .collect();
        host_kv::set(&writes, self.ttl).map_err(kv)?;
        Ok(WriteStats {
            written: u32::try_from(writes.len()).unwrap_or(u32::MAX),
            kept_newer,
        })
    }

    fn delete_table(&self, table: Table, features: Vec<String>) -> Result<(), PluginError> {
        let mut fields = vec![ts_field(&table.view)];
        fields.extend(features.iter().map(|f| feature_field(&table.view, f)));
        let prefix = self.key(&table.project, b"");
        let mut cursor = None;
        loop {
            let page = host_kv::scan(&prefix, cursor.as_deref()).map_err(kv)?;
            let deletes: Vec<HashRead> = page
                .keys
                .into_iter()
                .map(|key| HashRead {
                    key,
                    fields: fields.clone(),
                })
                .collect();
            if !deletes.is_empty() {
                host_kv::delete(&deletes).map_err(kv)?;
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }
}

// The value encoding: one tag byte, then the payload, little-endian; strings and byte
// strings are a u32 length then the bytes; lists a u32 count then the items' payloads.
const NULL: u8 = 0;
const BOOL: u8 = 1;
const INT32: u8 = 2;
const INT64: u8 = 3;
const FLOAT32: u8 = 4;
const FLOAT64: u8 = 5;
const STRING: u8 = 6;
const BYTES: u8 = 7;
const TIMESTAMP: u8 = 8;
const JSON: u8 = 9;
/// Lists are the scalar tag plus this.
const LIST: u8 = 0x40;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_list<T>(out: &mut Vec<u8>, tag: u8, xs: &[T], mut put: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(tag | LIST);
    out.extend_from_slice(&(xs.len() as u32).to_le_bytes());
    for x in xs {
        put(out, x);
    }
}

/// Encodes a value for a hash field.
fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        Value::Int32(i) => {
            out.push(INT32);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Int64(i) => {
            out.push(INT64);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float32(f) => {
            out.push(FLOAT32);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Float64(f) => {
            out.push(FLOAT64);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => {
            out.push(STRING);
            put_bytes(&mut out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            put_bytes(&mut out, b);
        }
        Value::UnixTimestamp(t) => {
            out.push(TIMESTAMP);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Json(s) => {
            out.push(JSON);
            put_bytes(&mut out, s.as_bytes());
        }
        Value::BoolList(xs) => put_list(&mut out, BOOL, xs, |o, b| o.push(u8::from(*b))),
        Value::Int32List(xs) => put_list(&mut out, INT32, xs, |o, i| {
            o.extend_from_slice(&i.to_le_bytes())
        }),
        Value::Int64List(xs) => put_list(&mut out, INT64, xs, |o, i| {
            o.extend_from_slice(&i.to_le_bytes())
        }),
        Value::Float32List(xs) => put_list(&mut out, FLOAT32, xs, |o, f| {
            o.extend_from_slice(&f.to_le_bytes())
        }),
        Value::Float64List(xs) => put_list(&mut out, FLOAT64, xs, |o, f| {
            o.extend_from_slice(&f.to_le_bytes())
        }),
        Value::StringList(xs) => put_list(&mut out, STRING, xs, |o, s| put_bytes(o, s.as_bytes())),
        Value::BytesList(xs) => put_list(&mut out, BYTES, xs, |o, b| put_bytes(o, b)),
        Value::UnixTimestampList(xs) => put_list(&mut out, TIMESTAMP, xs, |o, t| {
            o.extend_from_slice(&t.to_le_bytes())
        }),
    }
    out
}

/// Reads a stored value, refusing anything truncated or unknown.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PluginError> {
        if self.0.len() < n {
            return Err(PluginError::Internal(
                "corrupt stored value (truncated)".into(),
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], PluginError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn len(&mut self) -> Result<usize, PluginError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, PluginError> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Result<String, PluginError> {
        String::from_utf8(self.bytes()?)
            .map_err(|_| PluginError::Internal("corrupt stored value (invalid UTF-8)".into()))
    }
    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, PluginError>,
    ) -> Result<Vec<T>, PluginError> {
        let n = self.len()?;
        // Each item takes at least one byte: a count beyond the data is corruption.
        if n > self.0.len() {
            return Err(PluginError::Internal(
                "corrupt stored value (bad list length)".into(),
            ));
        }
        (0..n).map(|_| item(self)).collect()
    }
}

/// Decodes a value written by [`encode`].
fn decode(b: &[u8]) -> Result<Value, PluginError> {
    let mut r = Reader(b);
    let tag = r.array::<1>()?[0];
    let v = match tag {
        NULL => Value::Null,
        BOOL => Value::Bool(r.array::<1>()?[0] != 0),
        INT32 => Value::Int32(i32::from_le_bytes(r.array()?)),
        INT64 => Value::Int64(i64::from_le_bytes(r.array()?)),
        FLOAT32 => Value::Float32(f32::from_le_bytes(r.array()?)),
        FLOAT64 => Value::Float64(f64::from_le_bytes(r.array()?)),
        STRING => Value::String(r.string()?),
        BYTES => Value::Bytes(r.bytes()?),
        TIMESTAMP => Value::UnixTimestamp(i64::from_le_bytes(r.array()?)),
        JSON => Value::Json(r.string()?),
        t if t == BOOL | LIST => Value::BoolList(r.list(|r| Ok(r.array::<1>()?[0] != 0))?),
        t if t == INT32 | LIST => Value::Int32List(r.list(|r| Ok(i32::from_le_bytes(r.array()?)))?),
        t if t == INT64 | LIST => Value::Int64List(r.list(|r| Ok(i64::from_le_bytes(r.array()?)))?),
        t if t == FLOAT32 | LIST => {
            Value::Float32List(r.list(|r| Ok(f32::from_le_bytes(r.array()?)))?)
        }
        t if t == FLOAT64 | LIST => {
            Value::Float64List(r.list(|r| Ok(f64::from_le_bytes(r.array()?)))?)
        }
        t if t == STRING | LIST => Value::StringList(r.list(Reader::string)?),
        t if t == BYTES | LIST => Value::BytesList(r.list(Reader::bytes)?),
        t if t == TIMESTAMP | LIST => {
            Value::UnixTimestampList(r.list(|r| Ok(i64::from_le_bytes(r.array()?)))?)
        }
        other => {
            return Err(PluginError::Internal(format!(
                "corrupt stored value (unknown tag {other})"
            )));
        }
    };
    if !r.0.is_empty() {
        return Err(PluginError::Internal(
            "corrupt stored value (trailing bytes)".into(),
        ));
    }
    Ok(v)
}

export!(Adapter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_kind_round_trips_and_corruption_is_refused() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int32(-7),
            Value::Int64(i64::MIN),
            Value::Float32(0.25),
            Value::Float64(-1.5e300),
            Value::String("héllo".into()),
            Value::Bytes(vec![0, 255]),
            Value::UnixTimestamp(1_700_000_000),
            Value::Json(r#"{"a": 1}"#.into()),
            Value::BoolList(vec![true, false]),
            Value::Int32List(vec![1, -2]),
            Value::Int64List(vec![]),
            Value::Float32List(vec![1.5]),
            Value::Float64List(vec![2.5, 3.5]),
            Value::StringList(vec!["a".into(), String::new()]),
            Value::BytesList(vec![vec![1], vec![]]),
            Value::UnixTimestampList(vec![0, 1]),
        ];
        for v in values {
            let bytes = encode(&v);
            assert_eq!(format!("{:?}", decode(&bytes).unwrap()), format!("{v:?}"));
            // Any truncation or a trailing byte is an error, never a wrong value.
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "{v:?} cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode(&longer).is_err(), "{v:?} with a trailing byte");
        }
        assert!(decode(&[0x3f]).is_err());
        // A list count far beyond the data is refused before allocating.
        assert!(decode(&[INT64 | LIST, 255, 255, 255, 255]).is_err());
    }
}
