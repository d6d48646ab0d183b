//! Store adapters: components of the `store-adapter` (or `store-adapter-sockets`) world that
//! the online store delegates every read and write to.
//!
//! A few warm instances are kept, each with its `store` resource opened once, and calls
//! borrow one at a time (a wasm instance is single-threaded). An instance that traps is
//! dropped and the next call opens a fresh one, so a faulty adapter fails its own requests
//! only. The deadline counts the adapter's own time: time spent inside `host-kv` calls has the
//! key-value store's timeout instead, so a slow Redis reads as "unavailable", not as a guest
//! stuck in a loop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use wasmtime::Store;
use wasmtime::component::{Component, ResourceAny};

use crate::online::kv::{HashRead, HashWrite, Kv, KvError};
use crate::plugins::engine::{Ctx, PluginEngine};
use crate::plugins::transform::{CallError, classify_error};
use crate::types::Value;

mod wit {
    // The generated types are documented in wit/plugin.wit.
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({ path: "../wit", world: "store-adapter" });
}

use wit::edgefeat::plugin::{host_kv, types as w};
pub use wit::exports::edgefeat::plugin::online_store::{StoredRow, Table, WriteRow, WriteStats};

/// The interface name a component imports when it needs the host's key-value capability.
const HOST_KV: &str = "edgefeat:plugin/host-kv@0.1.0";

/// The interface a store adapter exports.
const ONLINE_STORE: &str = "edgefeat:plugin/online-store@0.1.0";

/// What a component is, seen as a store adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterShape {
    /// It imports `host-kv` (the `store-adapter` world): `online_store.kv` must be set.
    pub imports_kv: bool,
    /// It imports `wasi:sockets` (a `store-adapter-sockets` world, or a Rust guest using
    /// `std::net`): it needs `online_store.allow_connect`.
    pub imports_sockets: bool,
}

/// `Some` when `wasm` is a component exporting `online-store`: for `edgefeat plugin check`,
/// which cannot open an adapter without its repo's config.
pub fn adapter_shape(engine: &PluginEngine, wasm: &[u8]) -> Option<AdapterShape> {
    let component = engine.compile(wasm).ok()?;
    let ty = component.component_type();
    let exports = ty
        .exports(engine.engine())
        .any(|(name, _)| name == ONLINE_STORE);
    exports.then(|| {
        let imports: Vec<String> = ty
            .imports(engine.engine())
            .map(|(name, _)| name.to_string())
            .collect();
        AdapterShape {
            imports_kv: imports.iter().any(|i| i == HOST_KV),
            imports_sockets: imports.iter().any(|i| i.starts_with("wasi:sockets/")),
        }
    })
}

/// Warm instances kept; more concurrent calls open extra ones that are dropped afterwards.
const MAX_IDLE: usize = 16;

/// Adds `host-kv` to the linker every plugin store is instantiated from.
pub(crate) fn add_to_linker(linker: &mut wasmtime::component::Linker<Ctx>) -> anyhow::Result<()> {
    host_kv::add_to_linker::<Ctx, wasmtime::component::HasSelf<Ctx>>(linker, |c| c)
        .map_err(|e| anyhow::anyhow!("cannot link host-kv: {e}"))
}

impl w::Host for Ctx {}

impl Ctx {
    /// Runs one `host-kv` call, counting its time as the host's, not the guest's.
    fn kv_call<T>(
        &mut self,
        op: &'static str,
        f: impl FnOnce(&dyn Kv) -> Result<T, KvError>,
    ) -> Result<T, host_kv::KvError> {
        let Some(kv) = self.kv.clone() else {
            return Err(host_kv::KvError::Failed(
                "no key-value store is configured: set online_store.kv in feature_store.yaml"
                    .into(),
            ));
        };
        let started = std::time::Instant::now();
        let result = f(kv.as_ref());
        let took = started.elapsed();
        self.host_time += took;
        metrics::histogram!("edgefeat_kv_request_duration_seconds", "op" => op)
            .record(took.as_secs_f64());
        result.map_err(|e| {
            let kind = match e {
                KvError::Unavailable(_) => "unavailable",
                KvError::Failed(_) => "failed",
            };
            metrics::counter!("edgefeat_kv_errors_total", "op" => op, "kind" => kind).increment(1);
            self.kv_error = Some(e.clone());
            match e {
                KvError::Unavailable(m) => host_kv::KvError::Unavailable(m),
                KvError::Failed(m) => host_kv::KvError::Failed(m),
            }
        })
    }
}

fn hash_reads(reads: Vec<host_kv::HashRead>) -> Vec<HashRead> {
    reads
        .into_iter()
        .map(|r| HashRead {
            key: r.key,
            fields: r.fields,
        })
        .collect()
}

impl host_kv::Host for Ctx {
    fn get(
        &mut self,
        reads: Vec<host_kv::HashRead>,
    ) -> Result<Vec<Vec<Option<Vec<u8>>>>, host_kv::KvError> {
        let reads = hash_reads(reads);
        self.kv_call("get", |kv| kv.get(&reads))
    }

    fn set(
        &mut self,
        writes: Vec<host_kv::HashWrite>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), host_kv::KvError> {
        let writes: Vec<HashWrite> = writes
            .into_iter()
            .map(|w| HashWrite {
                key: w.key,
                fields: w.fields,
            })
            .collect();
        self.kv_call("set", |kv| kv.set(&writes, ttl_seconds))
    }

    fn delete(&mut self, deletes: Vec<host_kv::HashRead>) -> Result<(), host_kv::KvError> {
        let deletes = hash_reads(deletes);
        self.kv_call("delete", |kv| kv.delete(&deletes))
    }

    fn scan(
        &mut self,
        prefix: Vec<u8>,
        cursor: Option<String>,
    ) -> Result<host_kv::ScanPage, host_kv::KvError> {
        self.kv_call("scan", |kv| kv.scan(&prefix, cursor.as_deref()))
            .map(|p| host_kv::ScanPage {
                keys: p.keys,
                cursor: p.cursor,
            })
    }
}

/// Why an adapter call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The key-value store behind the adapter was unreachable or too slow.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: a trap, a deadline, an error the adapter returned.
    #[error("{0}")]
    Failed(String),
}

struct Worker {
    store: Store<Ctx>,
    bindings: wit::StoreAdapter,
    handle: ResourceAny,
}

/// A loaded store adapter with its configuration, ready to call from any thread.
pub struct StoreAdapter {
    name: String,
    engine: PluginEngine,
    pre: wit::StoreAdapterPre<Ctx>,
    config: Vec<(String, String)>,
    kv: Option<Arc<dyn Kv>>,
    allow_connect: Arc<Vec<SocketAddr>>,
    pool: Mutex<Vec<Worker>>,
}

impl StoreAdapter {
    /// Loads `component` as the adapter `name` and opens it once, so that a wrong world, a
    /// missing capability or a refused config fails here rather than at the first request.
    pub fn new(
        name: &str,
        engine: &PluginEngine,
        component: &Component,
        config: Vec<(String, String)>,
        kv: Option<Arc<dyn Kv>>,
        allow_connect: Vec<SocketAddr>,
    ) -> anyhow::Result<StoreAdapter> {
        let imports_kv = component
            .component_type()
            .imports(engine.engine())
            .any(|(import, _)| import == HOST_KV);
        if imports_kv && kv.is_none() {
            anyhow::bail!(
                "store adapter `{name}` imports host-kv (the store-adapter world), but online_store.kv is not set: add `kv: {{type: redis, connection_string: ...}}` or `kv: {{type: lmdb}}`"
            );
        }
        let pre = engine
            .linker()
            .instantiate_pre(component)
            .map_err(|e| anyhow::anyhow!("store adapter `{name}`: {e:#}"))?;
        let pre = wit::StoreAdapterPre::new(pre).map_err(|e| {
            anyhow::anyhow!("`{name}` is not an edgefeat:plugin store adapter (it must export online-store): {e:#}")
        })?;
        let adapter = StoreAdapter {
            name: name.to_string(),
            engine: engine.clone(),
            pre,
            config,
            kv,
            allow_connect: Arc::new(allow_connect),
            pool: Mutex::new(Vec::new()),
        };
        let worker = adapter.open()?;
        adapter.give_back(worker);
        Ok(adapter)
    }

    /// The adapter's name (its file name without `.wasm`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn open(&self) -> Result<Worker, AdapterError> {
        let mut store = self
            .engine
            .adapter_store(self.kv.clone(), Arc::clone(&self.allow_connect));
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| AdapterError::Failed(format!("cannot instantiate: {e:#}")))?;
        store.data_mut().begin_call();
        let opened = bindings
            .edgefeat_plugin_online_store()
            .store()
            .call_open(&mut store, &self.config);
        match opened {
            Ok(Ok(handle)) => Ok(Worker {
                store,
                bindings,
                handle,
            }),
            Ok(Err(e)) => Err(self.plugin_error("open", &store, e)),
            Err(e) => Err(self.trap("open", &store, &e)),
        }
    }

    fn give_back(&self, worker: Worker) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_IDLE {
            pool.push(worker);
        }
    }

    fn plugin_error(&self, what: &str, store: &Store<Ctx>, e: w::PluginError) -> AdapterError {
        let (w::PluginError::InvalidInput(m) | w::PluginError::Internal(m)) = e;
        let message = format!("store adapter `{}` {what} failed: {m}", self.name);
        // The adapter passes a kv failure on as its own error; the kv's own verdict says
        // whether the store was unreachable.
        match &store.data().kv_error {
            Some(KvError::Unavailable(_)) => AdapterError::Unavailable(message),
            _ => AdapterError::Failed(message),
        }
    }

    fn trap(&self, what: &str, store: &Store<Ctx>, e: &wasmtime::Error) -> AdapterError {
        let why: CallError = classify_error(store, e, &self.engine);
        AdapterError::Failed(format!("store adapter `{}` {why} during {what}", self.name))
    }

    /// Runs `call` on a warm instance (or a freshly opened one), dropping the instance if it
    /// trapped.
    fn call<T>(
        &self,
        what: &str,
        call: impl FnOnce(
            &wit::StoreAdapter,
            &mut Store<Ctx>,
            ResourceAny,
        ) -> wasmtime::Result<Result<T, w::PluginError>>,
    ) -> Result<T, AdapterError> {
        let popped = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut worker = match popped {
            Some(w) => w,
            None => self.open()?,
        };
        worker.store.data_mut().begin_call();
        let result = call(&worker.bindings, &mut worker.store, worker.handle);
        match result {
            Err(e) => Err(self.trap(what, &worker.store, &e)),
            Ok(Err(e)) => {
                let err = self.plugin_error(what, &worker.store, e);
                self.give_back(worker);
                Err(err)
            }
            Ok(Ok(v)) => {
                self.give_back(worker);
                Ok(v)
            }
        }
    }

    /// `online-read`.
    pub fn read(
        &self,
        table: &Table,
        features: &[String],
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<StoredRow>>, AdapterError> {
        let rows = self.call("online-read", |b, store, handle| {
            b.edgefeat_plugin_online_store()
                .store()
                .call_online_read(store, handle, table, features, keys)
        })?;
        if rows.len() != keys.len() {
            return Err(AdapterError::Failed(format!(
                "store adapter `{}` returned {} rows for {} keys",
                self.name,
                rows.len(),
                keys.len()
            )));
        }
        Ok(rows)
    }

    /// `online-write`.
    pub fn write(
        &self,
        table: &Table,
        features: &[String],
        rows: &[WriteRow],
    ) -> Result<WriteStats, AdapterError> {
        self.call("online-write", |b, store, handle| {
            b.edgefeat_plugin_online_store()
                .store()
                .call_online_write(store, handle, table, features, rows)
        })
    }

    /// `delete-table`.
    pub fn delete_table(&self, table: &Table, features: &[String]) -> Result<(), AdapterError> {
        self.call("delete-table", |b, store, handle| {
            b.edgefeat_plugin_online_store()
                .store()
                .call_delete_table(store, handle, table, features)
        })
    }
}

/// A value as it crosses to an adapter. Maps, structs and nested lists travel as JSON text
/// (WIT has no recursive types); reads cast them back by the feature's dtype.
pub fn to_wit_value(v: &Value) -> w::Value {
    use w::Value as V;
    fn list<T>(items: &[Value], pick: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
        items.iter().map(pick).collect()
    }
    let json = |v: &Value| V::Json(crate::types::json::value_to_json(v.clone()).to_string());
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Bool(*b),
        Value::Int32(i) => V::Int32(*i),
        Value::Int64(i) => V::Int64(*i),
        Value::Float(f) => V::Float32(*f),
        Value::Double(f) => V::Float64(*f),
        Value::String(s) => V::String(s.clone()),
        Value::Bytes(b) => V::Bytes(b.clone()),
        Value::UnixTimestamp(t) => V::UnixTimestamp(*t),
        Value::Json(t) => V::Json(t.clone()),
        Value::Map(_) | Value::Struct(_) => json(v),
        Value::List(items) => {
            let typed = match items.first() {
                // Empty: any list type; the read casts it to the feature's dtype.
                None => Some(V::Int64List(Vec::new())),
                Some(Value::Bool(_)) => list(items, |x| match x {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .map(V::BoolList),
                Some(Value::Int32(_)) => list(items, |x| match x {
                    Value::Int32(i) => Some(*i),
                    _ => None,
                })
                .map(V::Int32List),
                Some(Value::Int64(_)) => list(items, |x| match x {
                    Value::Int64(i) => Some(*i),
                    _ => None,
                })
                .map(V::Int64List),
                Some(Value::Float(_)) => list(items, |x| match x {
                    Value::Float(f) => Some(*f),
                    _ => None,
                })
                .map(V::Float32List),
                Some(Value::Double(_)) => list(items, |x| match x {
                    Value::Double(f) => Some(*f),
                    _ => None,
                })
                .map(V::Float64List),
                Some(Value::String(_)) => list(items, |x| match x {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .map(V::StringList),
                Some(Value::Bytes(_)) => list(items, |x| match x {
                    Value::Bytes(b) => Some(b.clone()),
                    _ => None,
                })
                .map(V::BytesList),
                Some(Value::UnixTimestamp(_)) => list(items, |x| match x {
                    Value::UnixTimestamp(t) => Some(*t),
                    _ => None,
                })
                .map(V::UnixTimestampList),
                Some(_) => None,
            };
            typed.unwrap_or_else(|| json(v))
        }
    }
}

/// A value read back from an adapter, before the cast to the feature's dtype.
pub fn from_wit_value(v: w::Value) -> Value {
    use w::Value as V;
    fn list<T>(xs: Vec<T>, f: impl Fn(T) -> Value) -> Value {
        Value::List(xs.into_iter().map(f).collect())
    }
    match v {
        V::Null => Value::Null,
        V::Bool(b) => Value::Bool(b),
        V::Int32(i) => Value::Int32(i),
        V::Int64(i) => Value::Int64(i),
        V::Float32(f) => Value::Float(f),
        V::Float64(f) => Value::Double(f),
        V::String(s) => Value::String(s),
        V::Bytes(b) => Value::Bytes(b),
        V::UnixTimestamp(t) => Value::UnixTimestamp(t),
        V::Json(t) => Value::Json(t),
        V::BoolList(xs) => list(xs, Value::Bool),
        V::Int32List(xs) => list(xs, Value::Int32),
        V::Int64List(xs) => list(xs, Value::Int64),
        V::Float32List(xs) => list(xs, Value::Float),
        V::Float64List(xs) => list(xs, Value::Double),
        V::StringList(xs) => list(xs, Value::String),
        V::BytesList(xs) => list(xs, Value::Bytes),
        V::UnixTimestampList(xs) => list(xs, Value::UnixTimestamp),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::plugins::to_feature_value;
    use crate::types::DType;

    /// A dtype and a value of it, as the write path hands them to a store.
    fn typed_value() -> impl Strategy<Value = (DType, Value)> {
        let text = "[a-zA-Z0-9 éü\"{}]{0,12}";
        prop_oneof![
            any::<i32>().prop_map(|i| (DType::Int32, Value::Int32(i))),
            any::<i64>().prop_map(|i| (DType::Int64, Value::Int64(i))),
            any::<f32>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(|f| (DType::Float32, Value::Float(f))),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(|f| (DType::Float64, Value::Double(f))),
            any::<bool>().prop_map(|b| (DType::Bool, Value::Bool(b))),
            text.prop_map(|s| (DType::String, Value::String(s))),
            any::<Vec<u8>>().prop_map(|b| (DType::Bytes, Value::Bytes(b))),
            any::<i64>().prop_map(|t| (DType::UnixTimestamp, Value::UnixTimestamp(t))),
            prop::collection::vec(any::<i64>(), 0..4).prop_map(|xs| (
                DType::Array(Box::new(DType::Int64)),
                Value::List(xs.into_iter().map(Value::Int64).collect())
            )),
            prop::collection::vec(text, 0..4).prop_map(|xs| (
                DType::Array(Box::new(DType::String)),
                Value::List(xs.into_iter().map(Value::String).collect())
            )),
            prop::collection::vec(any::<f32>().prop_filter("NaN", |f| !f.is_nan()), 0..4).prop_map(
                |xs| (
                    DType::Array(Box::new(DType::Float32)),
                    Value::List(xs.into_iter().map(Value::Float).collect())
                )
            ),
            // Distinct keys: a JSON object keeps one value per key.
            prop::collection::btree_map("[a-z]{1,6}", text, 0..4).prop_map(|kv| (
                DType::Map,
                Value::Map(kv.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
            )),
            (text, any::<i32>()).prop_map(|(name, age)| (
                DType::Struct(vec![
                    ("name".into(), DType::String),
                    ("age".into(), DType::Int32)
                ]),
                Value::Struct(vec![
                    ("name".into(), Value::String(name)),
                    ("age".into(), Value::Int32(age))
                ])
            )),
            Just((DType::Int64, Value::Null)),
        ]
    }

    proptest! {
        /// What an adapter stores and returns unchanged reads back as the value written, once
        /// cast to the feature's dtype.
        #[test]
        fn values_survive_the_trip_through_an_adapter((dtype, value) in typed_value()) {
            let back = to_feature_value(from_wit_value(to_wit_value(&value)), &dtype);
            prop_assert_eq!(back, Ok(value));
        }
    }
}
