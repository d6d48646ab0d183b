//! A loaded transform plugin: its compiled component, what `describe()` said, and a pool of
//! warm instances that calls borrow one at a time.

use std::sync::Mutex;
use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::Component;

use crate::plugins::columns::{HostColumn, PluginField, PluginInfo, PluginType};
use crate::plugins::engine::{Ctx, PluginEngine};
use crate::types::Value;

mod wit {
    wasmtime::component::bindgen!({ path: "../wit", world: "transformer" });
}

use wit::Transformer;
use wit::edgefeat::plugin::types as w;

/// Warm instances kept per plugin; more concurrent calls instantiate extra ones (~20 µs each)
/// that are dropped afterwards.
const MAX_IDLE: usize = 16;

/// Why a call failed, in words for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The guest ran past its deadline and was stopped.
    #[error("exceeded its time limit of {} ms", .0.as_millis())]
    Deadline(Duration),
    /// The guest asked for more memory than allowed.
    #[error("{0}")]
    Memory(String),
    /// The guest trapped (a panic, an out-of-bounds access, `unreachable`).
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest returned its own error.
    #[error("returned an error: {0}")]
    Plugin(String),
    /// The guest returned something that breaks the contract (row count, column types).
    #[error("{0}")]
    Contract(String),
    /// No instance could be made to run the call (for example, every instance slot in use).
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
    /// Not called: its circuit breaker is open after repeated deadline hits.
    #[error(
        "is failing fast: it ran past its time limit {} times within {} s; {}",
        .0.hits,
        crate::plugins::breaker::WINDOW.as_secs(),
        retry_text(.0.retry_in)
    )]
    FailingFast(crate::plugins::breaker::Refused),
}

fn retry_text(retry_in: Duration) -> String {
    if retry_in.is_zero() {
        "a trial call is running".to_string()
    } else {
        format!("the next call is tried in {:.1} s", retry_in.as_secs_f64())
    }
}

struct Worker {
    store: Store<Ctx>,
    bindings: Transformer,
}

/// A compiled, validated transform plugin, ready to call from any thread.
pub struct TransformPlugin {
    engine: PluginEngine,
    pre: wit::TransformerPre<Ctx>,
    info: PluginInfo,
    pool: Mutex<Vec<Worker>>,
}

impl TransformPlugin {
    /// Instantiates `component` once and asks it to `describe()` itself. Fails when it is not
    /// a transformer, traps, or describes something unusable.
    pub fn new(engine: &PluginEngine, component: &Component) -> anyhow::Result<TransformPlugin> {
        let pre = engine
            .linker()
            .instantiate_pre(component)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let pre = wit::TransformerPre::new(pre)
            .map_err(|e| anyhow::anyhow!("not an edgefeat:plugin/transformer component: {e:#}"))?;
        let mut plugin = TransformPlugin {
            engine: engine.clone(),
            pre,
            info: PluginInfo {
                name: String::new(),
                version: String::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            },
            pool: Mutex::new(Vec::new()),
        };
        let mut worker = plugin.instantiate()?;
        worker
            .store
            .set_epoch_deadline(engine.limits().deadline_ticks());
        let info = worker
            .bindings
            .edgefeat_plugin_transform()
            .call_describe(&mut worker.store)
            .map_err(|e| anyhow::anyhow!("describe() failed: {}", classify(&worker, &e, engine)))?;
        plugin.info = PluginInfo {
            name: info.name,
            version: info.version,
            inputs: info.inputs.into_iter().map(field).collect(),
            outputs: info.outputs.into_iter().map(field).collect(),
        };
        check_unique(&plugin.info.inputs, "input")?;
        check_unique(&plugin.info.outputs, "output")?;
        plugin.give_back(worker);
        Ok(plugin)
    }

    /// What the plugin said of itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn instantiate(&self) -> anyhow::Result<Worker> {
        let mut store = self.engine.store();
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| anyhow::anyhow!("cannot instantiate: {e:#}"))?;
        Ok(Worker { store, bindings })
    }

    fn give_back(&self, worker: Worker) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_IDLE {
            pool.push(worker);
        }
    }

    /// Runs the transform over `rows` rows. `input` holds the columns `describe()` asked for,
    /// already of its types. The result holds every declared output, `rows` values each.
    pub fn transform(
        &self,
        rows: usize,
        input: &[HostColumn],
    ) -> Result<Vec<HostColumn>, CallError> {
        let batch = w::Batch {
            num_rows: u32::try_from(rows)
                .map_err(|_| CallError::Contract(format!("{rows} rows are too many")))?,
            columns: input.iter().map(to_wit_column).collect(),
        };
        let popped = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut worker = match popped {
            Some(w) => w,
            None => self
                .instantiate()
                .map_err(|e| CallError::Trap(e.to_string()))?,
        };
        worker
            .store
            .set_epoch_deadline(self.engine.limits().deadline_ticks());
        let result = worker
            .bindings
            .edgefeat_plugin_transform()
            .call_transform(&mut worker.store, &batch);
        let out = match result {
            // A trapped instance cannot be entered again: the worker is dropped, and the next
            // call gets a fresh one.
            Err(e) => return Err(classify(&worker, &e, &self.engine)),
            Ok(Err(w::PluginError::InvalidInput(m) | w::PluginError::Internal(m))) => {
                self.give_back(worker);
                return Err(CallError::Plugin(m));
            }
            Ok(Ok(out)) => {
                self.give_back(worker);
                out
            }
        };
        if out.num_rows as usize != rows {
            return Err(CallError::Contract(format!(
                "returned {} rows for {rows}",
                out.num_rows
            )));
        }
        let mut columns = Vec::with_capacity(self.info.outputs.len());
        for field in &self.info.outputs {
            let Some(c) = out.columns.iter().find(|c| c.name == field.name) else {
                return Err(CallError::Contract(format!(
                    "returned no column `{}`",
                    field.name
                )));
            };
            columns.push(from_wit_column(c, field.ty, rows)?);
        }
        Ok(columns)
    }
}

fn check_unique(fields: &[PluginField], what: &str) -> anyhow::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if fields[..i].iter().any(|g| g.name == f.name) {
            anyhow::bail!("describe() lists the {what} `{}` twice", f.name);
        }
    }
    Ok(())
}

/// Names why a call into `worker` failed.
fn classify(worker: &Worker, e: &wasmtime::Error, engine: &PluginEngine) -> CallError {
    classify_error(&worker.store, e, engine)
}

/// Names why a call into `store` failed: the memory limit, the deadline, or a trap.
pub(crate) fn classify_error(
    store: &Store<Ctx>,
    e: &wasmtime::Error,
    engine: &PluginEngine,
) -> CallError {
    if let Some(asked) = store.data().limiter.exceeded {
        return CallError::Memory(format!(
            "exceeded its memory limit of {} MiB (it asked for {} MiB)",
            engine.limits().memory_bytes >> 20,
            asked.div_ceil(1 << 20)
        ));
    }
    if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return CallError::Deadline(engine.limits().deadline);
    }
    // The root cause only: the full chain repeats wasm backtraces the operator cannot use.
    let root = e.root_cause().to_string();
    CallError::Trap(root.lines().next().unwrap_or("").to_string())
}

fn field(f: w::Field) -> PluginField {
    PluginField {
        name: f.name,
        ty: plugin_type(f.type_),
    }
}

fn plugin_type(t: w::ValueType) -> PluginType {
    use PluginType as T;
    use w::ValueType as V;
    match t {
        V::Bool => T::Bool,
        V::Int32 => T::Int32,
        V::Int64 => T::Int64,
        V::Float32 => T::Float32,
        V::Float64 => T::Float64,
        V::String => T::String,
        V::Bytes => T::Bytes,
        V::UnixTimestamp => T::UnixTimestamp,
        V::Json => T::Json,
        V::BoolList => T::BoolList,
        V::Int32List => T::Int32List,
        V::Int64List => T::Int64List,
        V::Float32List => T::Float32List,
        V::Float64List => T::Float64List,
        V::StringList => T::StringList,
        V::BytesList => T::BytesList,
        V::UnixTimestampList => T::UnixTimestampList,
    }
}

/// Collects one column's values with `pick`, a default for nulls, and the validity flags
/// (`None` when every row is valid, which is the common case and costs the guest nothing).
fn collect<T: Default>(
    values: &[Value],
    pick: impl Fn(&Value) -> Option<T>,
) -> (Vec<T>, Option<Vec<bool>>) {
    let mut out = Vec::with_capacity(values.len());
    let mut valid = Vec::with_capacity(values.len());
    for v in values {
        match pick(v) {
            Some(x) => {
                out.push(x);
                valid.push(true);
            }
            None => {
                out.push(T::default());
                valid.push(false);
            }
        }
    }
    let all = valid.iter().all(|v| *v);
    (out, (!all).then_some(valid))
}

fn list<T>(v: &Value, pick: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    match v {
        Value::List(items) => items.iter().map(pick).collect(),
        _ => None,
    }
}

fn to_wit_column(c: &HostColumn) -> w::Column {
    use PluginType as T;
    let b = |v: &Value| match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    };
    let i32_ = |v: &Value| match v {
        Value::Int32(i) => Some(*i),
        _ => None,
    };
    let i64_ = |v: &Value| match v {
        Value::Int64(i) | Value::UnixTimestamp(i) => Some(*i),
        _ => None,
    };
    let f32_ = |v: &Value| match v {
        Value::Float(f) => Some(*f),
        _ => None,
    };
    let f64_ = |v: &Value| match v {
        Value::Double(f) => Some(*f),
        _ => None,
    };
    let s = |v: &Value| match v {
        Value::String(s) | Value::Json(s) => Some(s.clone()),
        _ => None,
    };
    let by = |v: &Value| match v {
        Value::Bytes(b) => Some(b.clone()),
        _ => None,
    };
    macro_rules! col {
        ($variant:ident, $pick:expr) => {{
            let (data, valid) = collect(&c.values, $pick);
            (w::ColumnData::$variant(data), valid)
        }};
    }
    let (data, valid) = match c.ty {
        T::Bool => col!(Bool, b),
        T::Int32 => col!(Int32, i32_),
        T::Int64 => col!(Int64, i64_),
        T::Float32 => col!(Float32, f32_),
        T::Float64 => col!(Float64, f64_),
        T::String => col!(String, s),
        T::Bytes => col!(Bytes, by),
        T::UnixTimestamp => col!(UnixTimestamp, i64_),
        T::Json => col!(Json, s),
        T::BoolList => col!(BoolList, |v| list(v, b)),
        T::Int32List => col!(Int32List, |v| list(v, i32_)),
        T::Int64List => col!(Int64List, |v| list(v, i64_)),
        T::Float32List => col!(Float32List, |v| list(v, f32_)),
        T::Float64List => col!(Float64List, |v| list(v, f64_)),
        T::StringList => col!(StringList, |v| list(v, s)),
        T::BytesList => col!(BytesList, |v| list(v, by)),
        T::UnixTimestampList => col!(UnixTimestampList, |v| list(v, i64_)),
    };
    w::Column {
        name: c.name.clone(),
        data,
        valid,
    }
}

fn from_wit_column(c: &w::Column, ty: PluginType, rows: usize) -> Result<HostColumn, CallError> {
    use w::ColumnData as D;
    fn map<T>(xs: &[T], f: impl Fn(&T) -> Value) -> Vec<Value> {
        xs.iter().map(f).collect()
    }
    let lst = |xs: Vec<Value>| Value::List(xs);
    let (got, values): (PluginType, Vec<Value>) = match &c.data {
        D::Bool(x) => (PluginType::Bool, map(x, |v| Value::Bool(*v))),
        D::Int32(x) => (PluginType::Int32, map(x, |v| Value::Int32(*v))),
        D::Int64(x) => (PluginType::Int64, map(x, |v| Value::Int64(*v))),
        D::Float32(x) => (PluginType::Float32, map(x, |v| Value::Float(*v))),
        D::Float64(x) => (PluginType::Float64, map(x, |v| Value::Double(*v))),
        D::String(x) => (PluginType::String, map(x, |v| Value::String(v.clone()))),
        D::Bytes(x) => (PluginType::Bytes, map(x, |v| Value::Bytes(v.clone()))),
        D::UnixTimestamp(x) => (
            PluginType::UnixTimestamp,
            map(x, |v| Value::UnixTimestamp(*v)),
        ),
        D::Json(x) => (PluginType::Json, map(x, |v| Value::Json(v.clone()))),
        D::BoolList(x) => (
            PluginType::BoolList,
            map(x, |l| lst(map(l, |v| Value::Bool(*v)))),
        ),
        D::Int32List(x) => (
            PluginType::Int32List,
            map(x, |l| lst(map(l, |v| Value::Int32(*v)))),
        ),
        D::Int64List(x) => (
            PluginType::Int64List,
            map(x, |l| lst(map(l, |v| Value::Int64(*v)))),
        ),
        D::Float32List(x) => (
            PluginType::Float32List,
            map(x, |l| lst(map(l, |v| Value::Float(*v)))),
        ),
        D::Float64List(x) => (
            PluginType::Float64List,
            map(x, |l| lst(map(l, |v| Value::Double(*v)))),
        ),
        D::StringList(x) => (
            PluginType::StringList,
            map(x, |l| lst(map(l, |v| Value::String(v.clone())))),
        ),
        D::BytesList(x) => (
            PluginType::BytesList,
            map(x, |l| lst(map(l, |v| Value::Bytes(v.clone())))),
        ),
        D::UnixTimestampList(x) => (
            PluginType::UnixTimestampList,
            map(x, |l| lst(map(l, |v| Value::UnixTimestamp(*v)))),
        ),
    };
    if got != ty {
        return Err(CallError::Contract(format!(
            "returned column `{}` as {}, but describe() declares it {}",
            c.name,
            got.name(),
            ty.name()
        )));
    }
    if values.len() != rows {
        return Err(CallError::Contract(format!(
            "returned {} values in column `{}` for {rows} rows",
            values.len(),
            c.name
        )));
    }
    let mut values = values;
    if let Some(valid) = &c.valid {
        if valid.len() != rows {
            return Err(CallError::Contract(format!(
                "returned {} validity flags in column `{}` for {rows} rows",
                valid.len(),
                c.name
            )));
        }
        for (v, ok) in values.iter_mut().zip(valid) {
            if !ok {
                *v = Value::Null;
            }
        }
    }
    Ok(HostColumn {
        name: c.name.clone(),
        ty,
        values,
    })
}
