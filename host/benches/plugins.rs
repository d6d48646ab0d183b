//! The cost of an on-demand transform call through the WASM plugin host: the demo plugin
//! (`conv_rate + val_to_add`, `conv_rate + val_to_add_2`) over 1, 10 and 100 rows, including
//! the conversion of host values to WIT columns and back; and a 3-key read through the
//! example store adapter over host-kv on LMDB (and on Redis, when redis-server is installed)
//! against the built-in LMDB store, in the same run.
// Benchmark and example code: a panic is a failed run, not a crashed server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgefeat::plugins::{HostColumn, PluginEngine, PluginHost, PluginLimits, PluginType};
use edgefeat::types::Value;

fn transform(c: &mut Criterion) {
    assert!(
        !edgefeat::plugins::DEMO_PLUGIN.is_empty(),
        "the demo plugin is not embedded: rustup target add wasm32-wasip2, then rebuild"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("transformed_conv_rate.wasm"),
        edgefeat::plugins::DEMO_PLUGIN,
    )
    .expect("write plugin");
    // The same transform in Python, as `edgefeat plugin build-feast` builds it from the Feast
    // fixture's pandas UDF, when EDGEFEAT_BENCH_PY_PLUGIN names that .wasm.
    let python = std::env::var_os("EDGEFEAT_BENCH_PY_PLUGIN");
    if let Some(path) = &python {
        std::fs::copy(path, dir.path().join("python_conv_rate.wasm")).expect("copy python plugin");
    }
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let host = PluginHost::new(engine, dir.path().to_path_buf(), None);
    host.rescan();
    let mut plugins = vec![(
        "demo_plugin",
        host.get("transformed_conv_rate").expect("loaded"),
    )];
    if python.is_some() {
        plugins.push((
            "python_plugin",
            host.get("python_conv_rate").expect("python loaded"),
        ));
    }
    let mut group = c.benchmark_group("transform_call");
    for (label, plugin) in &plugins {
        for rows in [1usize, 3, 10, 100] {
            // Every input the plugin declares (the Python one takes all the view's columns),
            // with values of its type.
            let input: Vec<HostColumn> = plugin
                .info()
                .inputs
                .iter()
                .map(|f| HostColumn {
                    name: f.name.clone(),
                    ty: f.ty,
                    values: (0..rows).map(|i| sample(f.ty, i)).collect(),
                })
                .collect();
            group.throughput(Throughput::Elements(rows as u64));
            group.bench_function(format!("{label}/{rows}_rows"), |b| {
                b.iter(|| plugin.transform(rows, &input).expect("transform"))
            });
        }
    }
    group.finish();
}

/// A value of a plugin type for row `i`.
fn sample(ty: PluginType, i: usize) -> Value {
    match ty {
        PluginType::Float64 => Value::Double(i as f64 / 100.0),
        PluginType::Float32 => Value::Float(i as f32 / 100.0),
        PluginType::Int64 => Value::Int64(i as i64),
        PluginType::Int32 => Value::Int32(i as i32),
        PluginType::String => Value::String(format!("s{i}")),
        PluginType::Bool => Value::Bool(i.is_multiple_of(2)),
        PluginType::Json => Value::Json("{\"a\": 1}".into()),
        PluginType::UnixTimestamp => Value::UnixTimestamp(1_700_000_000 + i as i64),
        PluginType::Bytes => Value::Bytes(vec![i as u8]),
        _ => Value::List(Vec::new()),
    }
}

/// A redis-server on a free loopback port, killed on drop.
struct Redis(std::process::Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(dir: &std::path::Path) -> Option<Redis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let redis = Redis(child, port);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(redis);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

fn store_read(c: &mut Criterion) {
    use edgefeat::online::{Durability, OnlineStore, Table, WriteFeature, WriteRow};
    use edgefeat::repo::RepoConfig;
    use edgefeat::types::{DType, serialize_entity_key};
    assert!(
        !edgefeat::plugins::REDIS_LAYOUT_ADAPTER.is_empty(),
        "the example adapter is not embedded: rustup target add wasm32-wasip2, then rebuild"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::write(
        dir.path().join("plugins/redis-layout-adapter.wasm"),
        edgefeat::plugins::REDIS_LAYOUT_ADAPTER,
    )
    .unwrap();
    let redis = start_redis(dir.path());
    let mut stores: Vec<(&str, Box<dyn OnlineStore>)> = Vec::new();
    let mut configs = vec![
        ("lmdb", "online_store: {type: lmdb}".to_string()),
        (
            "adapter_over_lmdb",
            "online_store: {type: plugin, plugin: redis-layout-adapter, kv: {type: lmdb}}"
                .to_string(),
        ),
    ];
    match &redis {
        Some(r) => configs.push((
            "adapter_over_redis",
            format!(
                "online_store: {{type: plugin, plugin: redis-layout-adapter, kv: {{type: redis, connection_string: '127.0.0.1:{}'}}}}",
                r.1
            ),
        )),
        None => eprintln!("redis-server not found: the adapter over Redis is not measured"),
    }
    for (name, yaml) in configs {
        let config =
            RepoConfig::from_text(dir.path(), &format!("project: bench\n{yaml}\n"), "bench")
                .expect("config");
        stores.push((name, edgefeat::online::open(&config).expect("store")));
    }
    let table = Table {
        project: "bench",
        view: "driver_hourly_stats",
    };
    let features = ["conv_rate", "acc_rate", "avg_daily_trips"];
    let dtypes = [DType::Float32, DType::Float32, DType::Int64];
    let columns: Vec<WriteFeature<'_>> = features
        .iter()
        .zip(&dtypes)
        .map(|(&name, dtype)| WriteFeature { name, dtype })
        .collect();
    let keys: Vec<Vec<u8>> = (0..1000)
        .map(|i| serialize_entity_key(&[("driver_id", &Value::Int64(1000 + i))]).unwrap())
        .collect();
    let rows: Vec<WriteRow> = keys
        .iter()
        .map(|k| WriteRow {
            entity_key: k.clone(),
            event_ts_micros: 1_700_000_000_000_000,
            created_ts_micros: 0,
            values: vec![Value::Float(0.5), Value::Float(0.25), Value::Int64(42)],
        })
        .collect();
    let wanted: Vec<&[u8]> = keys[1..4].iter().map(Vec::as_slice).collect();
    let mut group = c.benchmark_group("store_read_3_keys_3_features");
    for (name, store) in &stores {
        store
            .write(table, &columns, &rows, Durability::Sync)
            .expect("write");
        let got = store.read(table, &wanted, &features).expect("read");
        assert!(got.iter().all(Option::is_some), "{name} holds the rows");
        group.bench_function(*name, |b| {
            b.iter(|| std::hint::black_box(store.read(table, &wanted, &features).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, transform, store_read);
criterion_main!(benches);
