//! The cost of an on-demand transform call through the WASM plugin host: the demo plugin
//! (`conv_rate + val_to_add`, `conv_rate + val_to_add_2`) over 1, 10 and 100 rows, including
//! the conversion of host values to WIT columns and back.

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
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let host = PluginHost::new(engine, dir.path().to_path_buf(), None);
    host.rescan();
    let plugin = host.get("transformed_conv_rate").expect("loaded");
    let mut group = c.benchmark_group("transform_call");
    for rows in [1usize, 10, 100] {
        let input = vec![
            HostColumn {
                name: "conv_rate".into(),
                ty: PluginType::Float64,
                values: (0..rows).map(|i| Value::Double(i as f64 / 100.0)).collect(),
            },
            HostColumn {
                name: "val_to_add".into(),
                ty: PluginType::Int64,
                values: (0..rows).map(|i| Value::Int64(i as i64)).collect(),
            },
            HostColumn {
                name: "val_to_add_2".into(),
                ty: PluginType::Int64,
                values: (0..rows).map(|i| Value::Int64(2 * i as i64)).collect(),
            },
        ];
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function(format!("demo_plugin/{rows}_rows"), |b| {
            b.iter(|| plugin.transform(rows, &input).expect("transform"))
        });
    }
    group.finish();
}

criterion_group!(benches, transform);
criterion_main!(benches);
