//! The one wasmtime `Engine` of the process, narrowed to what edgefeat uses: components,
//! epoch-based deadlines, a memory cap per instance and a WASI context that grants nothing.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::online::kv::{Kv, KvError};

/// How often the epoch advances. A deadline is a whole number of ticks, so this is the
/// precision of every plugin time limit; a thread waking every 2 ms costs nothing measurable.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// The limits every plugin instance runs under (`plugins` in feature_store.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    /// The most linear memory one instance may have, in bytes.
    pub memory_bytes: usize,
    /// The longest one call may run.
    pub deadline: Duration,
}

impl Default for PluginLimits {
    fn default() -> PluginLimits {
        PluginLimits {
            memory_bytes: 64 << 20,
            deadline: Duration::from_millis(50),
        }
    }
}

/// The least time an instantiation may take, whatever the call deadline. Instantiating runs
/// the guest's start code and copies its initial memory: microseconds for a Rust plugin, a few
/// milliseconds for CPython's 18 MB pre-initialized image, and many times that on a loaded
/// machine, where a 50 ms call deadline made Python plugins fail to load. It stays bounded, so
/// a start function that loops still fails the load.
pub const INSTANTIATE_BUDGET: Duration = Duration::from_secs(2);

impl PluginLimits {
    /// The deadline in epoch ticks, rounded up, and at least one.
    pub fn deadline_ticks(&self) -> u64 {
        ticks(self.deadline)
    }

    /// The deadline of an instantiation in epoch ticks: the call deadline, or
    /// [`INSTANTIATE_BUDGET`] when that is longer.
    pub fn instantiate_ticks(&self) -> u64 {
        ticks(self.deadline.max(INSTANTIATE_BUDGET))
    }
}

fn ticks(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(EPOCH_TICK.as_nanos()))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// What each plugin store holds: the WASI context (which grants nothing, or for a store
/// adapter only its allow-listed sockets), its resources, the memory limiter, and for store
/// adapters the `host-kv` backend and the clock of the current call.
pub struct Ctx {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    /// The `host-kv` backend (store adapters only).
    pub(crate) kv: Option<Arc<dyn Kv>>,
    /// The last `host-kv` failure of the current call: it tells an unreachable store from an
    /// adapter's own error, whatever the adapter makes of it.
    pub(crate) kv_error: Option<KvError>,
    /// When the current call began.
    pub(crate) call_started: Instant,
    /// Time the current call spent in host calls, which the deadline does not count.
    pub(crate) host_time: Duration,
    /// Whether a call has begun: until then the store is instantiating, under
    /// [`INSTANTIATE_BUDGET`].
    pub(crate) called: bool,
}

impl Ctx {
    fn new(wasi: WasiCtx, max_memory: usize, kv: Option<Arc<dyn Kv>>) -> Ctx {
        Ctx {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                max: max_memory,
                exceeded: None,
            },
            kv,
            kv_error: None,
            call_started: Instant::now(),
            host_time: Duration::ZERO,
            called: false,
        }
    }

    /// Resets the per-call state before a call into the guest.
    pub(crate) fn begin_call(&mut self) {
        self.kv_error = None;
        self.call_started = Instant::now();
        self.host_time = Duration::ZERO;
        self.called = true;
    }
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and remembers that the cap was hit, so that the error a caller sees can
/// say "memory limit" instead of the guest's own reaction to a failed allocation.
pub(crate) struct Limiter {
    max: usize,
    /// The size a guest asked for beyond the cap, once it has.
    pub(crate) exceeded: Option<usize>,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max {
            self.exceeded = Some(desired);
            // An error (not `Ok(false)`) traps at once: a Rust guest would otherwise abort
            // with a bare `unreachable`, which tells the operator nothing.
            return Err(wasmtime::format_err!(
                "memory limit exceeded: the plugin asked for {} MiB, the limit is {} MiB",
                desired.div_ceil(1 << 20),
                self.max >> 20
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// The process's plugin engine: compile, instantiate, and the epoch ticker behind deadlines.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<Ctx>,
    limits: PluginLimits,
    /// Identifies the compiled code this engine accepts: cached `.cwasm` files are keyed by it.
    compat: String,
}

impl PluginEngine {
    /// An engine with `limits`. It tries the pooling allocator first (instances come from
    /// preallocated slots: ~10 µs to instantiate instead of ~19 µs) and falls back to the
    /// on-demand allocator where the address space cannot be reserved (a low `ulimit -v`).
    pub fn new(limits: PluginLimits) -> anyhow::Result<PluginEngine> {
        let engine = match Engine::new(&config(limits, true)) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(
                    "pooling allocator unavailable ({e}); plugins use the on-demand allocator"
                );
                Engine::new(&config(limits, false))
                    .map_err(|e| anyhow::anyhow!("cannot create the plugin engine: {e}"))?
            }
        };
        let mut linker = Linker::new(&engine);
        // Rust-std guests import wasi:cli, io and filesystem; the context grants none of them
        // anything (no preopens, no env, no sockets).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| anyhow::anyhow!("cannot link WASI: {e}"))?;
        crate::plugins::adapter::add_to_linker(&mut linker)?;
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let compat = format!("wasmtime-48.0.8-{:016x}", h.finish());
        start_ticker(&engine)?;
        Ok(PluginEngine {
            inner: Arc::new(Inner {
                engine,
                linker,
                limits,
                compat,
            }),
        })
    }

    /// The limits.
    pub fn limits(&self) -> PluginLimits {
        self.inner.limits
    }

    /// The wasmtime engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The linker with WASI.
    pub(crate) fn linker(&self) -> &Linker<Ctx> {
        &self.inner.linker
    }

    /// The compatibility key of compiled code (wasmtime version + engine settings).
    pub fn compat_key(&self) -> &str {
        &self.inner.compat
    }

    /// Compiles a component from its bytes (Cranelift: tens of milliseconds).
    pub(crate) fn compile(&self, wasm: &[u8]) -> anyhow::Result<Component> {
        Component::new(&self.inner.engine, wasm).map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    /// A fresh store under the limits, with the deadline armed for its instantiation
    /// ([`PluginLimits::instantiate_ticks`]); each call arms its own.
    pub(crate) fn store(&self) -> Store<Ctx> {
        let mut store = Store::new(
            &self.inner.engine,
            Ctx::new(
                WasiCtx::builder().build(),
                self.inner.limits.memory_bytes,
                None,
            ),
        );
        store.limiter(|c| &mut c.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.inner.limits.instantiate_ticks());
        store
    }

    /// A store for a store adapter: `kv` behind `host-kv`, TCP to the `allow_connect`
    /// addresses only, and a deadline on the guest's own time per call (see
    /// [`Ctx::begin_call`]): time inside `host-kv` is bounded by the key-value timeout.
    pub(crate) fn adapter_store(
        &self,
        kv: Option<Arc<dyn Kv>>,
        allow_connect: Arc<Vec<SocketAddr>>,
    ) -> Store<Ctx> {
        let mut wasi = WasiCtx::builder();
        if !allow_connect.is_empty() {
            wasi.allow_tcp(true)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .socket_addr_check(move |addr, usage| {
                    let ok = match usage {
                        // A connect first binds implicitly to the unspecified address.
                        SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                        SocketAddrUse::TcpConnect => allow_connect.contains(&addr),
                        _ => false,
                    };
                    Box::pin(async move { ok })
                });
        }
        let limits = self.inner.limits;
        let mut store = Store::new(
            &self.inner.engine,
            Ctx::new(wasi.build(), limits.memory_bytes, kv),
        );
        store.limiter(|c| &mut c.limiter);
        store.epoch_deadline_callback(move |cx| {
            let data = cx.data();
            let guest = data.call_started.elapsed().saturating_sub(data.host_time);
            let limit = if data.called {
                limits.deadline
            } else {
                limits.deadline.max(INSTANTIATE_BUDGET)
            };
            if guest >= limit {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Continue(ticks(limit - guest)))
        });
        store.set_epoch_deadline(limits.instantiate_ticks());
        store
    }
}

fn config(limits: PluginLimits, pooling: bool) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(512 * 1024)
        .parallel_compilation(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    if pooling {
        // Slots for every plugin's pooled instances plus the ones being replaced during a
        // reload. Each memory slot only reserves address space until it is used.
        let mut p = PoolingAllocationConfig::default();
        p.total_component_instances(256)
            .total_core_instances(2048)
            .total_memories(512)
            .total_tables(1024)
            .max_memory_size(limits.memory_bytes)
            .max_unused_warm_slots(64);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

/// The epoch ticker could not start: without it no deadline ever fires, so a plugin stuck in a
/// loop would hold its thread forever. The server refuses to start rather than run so.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the plugin deadline ticker ({0}): refusing to run plugins without deadlines")]
pub struct NoDeadlines(std::io::Error);

/// Advances the epoch every [`EPOCH_TICK`] for as long as the engine lives.
fn start_ticker(engine: &Engine) -> Result<(), NoDeadlines> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .map_err(NoDeadlines)
}
