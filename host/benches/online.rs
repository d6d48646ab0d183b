//! Hot paths of the online store: entity-key encoding, row decoding, a 3-key read in one
//! transaction, and a 1,000,000-row materialization. Results and the command are recorded in
//! BENCHMARKS.md.
// Benchmark and example code: a panic is a failed run, not a crashed server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use edgefeat::offline::materialize::{Job, NoProgress, run_job};
use edgefeat::online::{Durability, LmdbStore, OnlineStore, Table, WriteFeature, WriteRow};
use edgefeat::registry::{Registry, diff_and_merge};
use edgefeat::repo::RepoConfig;
use edgefeat::repo::config::OnlineStoreConfig;
use edgefeat::repo::definitions::load_definitions;
use edgefeat::repo::validate::validate;
use edgefeat::types::{
    DType, RowRef, Value, encode_row, serialize_entity_key, serialize_entity_key_into,
};

fn entity_key(c: &mut Criterion) {
    let id = Value::Int64(1001);
    let mut buf = Vec::with_capacity(64);
    c.bench_function("entity_key/int64", |b| {
        b.iter(|| {
            buf.clear();
            serialize_entity_key_into(black_box(&[("driver_id", &id)]), &mut buf).unwrap();
            black_box(&buf);
        })
    });
    let (a, z) = (Value::Int64(7), Value::String("north".into()));
    c.bench_function("entity_key/composite", |b| {
        b.iter(|| {
            buf.clear();
            serialize_entity_key_into(black_box(&[("zone", &z), ("driver_id", &a)]), &mut buf)
                .unwrap();
            black_box(&buf);
        })
    });
}

/// A row shaped like the demo's `driver_hourly_stats`.
fn demo_row() -> Vec<u8> {
    let values = [
        Value::Float(0.25),
        Value::Float(0.75),
        Value::Int64(512),
        Value::Map(vec![
            ("vehicle_type".into(), Value::String("suv".into())),
            ("rating".into(), Value::String("4.5".into())),
        ]),
        Value::Json(r#"{"max_distance_km": 57, "preferred_zones": ["north", "east"]}"#.into()),
        Value::Struct(vec![
            ("name".into(), Value::String("driver_1001".into())),
            ("age".into(), Value::String("33".into())),
        ]),
    ];
    let names = [
        "conv_rate",
        "acc_rate",
        "avg_daily_trips",
        "driver_metadata",
        "driver_config",
        "driver_profile",
    ];
    let pairs: Vec<(&str, &Value)> = names.iter().copied().zip(values.iter()).collect();
    let mut out = Vec::new();
    encode_row(
        1_700_000_000_000_000,
        1_700_000_000_000_000,
        &pairs,
        &mut out,
    );
    out
}

fn row_decode(c: &mut Criterion) {
    let row = demo_row();
    c.bench_function("row_decode/3_of_6_features", |b| {
        b.iter(|| {
            let r = RowRef::parse(black_box(&row)).unwrap();
            black_box(
                r.features(&["conv_rate", "acc_rate", "avg_daily_trips"])
                    .unwrap(),
            );
        })
    });
    c.bench_function("row_decode/6_of_6_features", |b| {
        b.iter(|| {
            let r = RowRef::parse(black_box(&row)).unwrap();
            black_box(
                r.features(&[
                    "conv_rate",
                    "acc_rate",
                    "avg_daily_trips",
                    "driver_metadata",
                    "driver_config",
                    "driver_profile",
                ])
                .unwrap(),
            );
        })
    });
}

fn lmdb_config(dir: &Path) -> edgefeat::repo::config::LmdbConfig {
    let config = RepoConfig::from_text(dir, "project: bench\n", "bench").unwrap();
    let OnlineStoreConfig::Lmdb(lmdb) = config.online_store else {
        panic!("the demo uses the LMDB store")
    };
    lmdb
}

fn read_3_keys(c: &mut Criterion) {
    const ENTITIES: i64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&lmdb_config(dir.path())).unwrap();
    let table = Table {
        project: "bench",
        view: "driver_hourly_stats",
    };
    let names = ["conv_rate", "acc_rate", "avg_daily_trips"];
    let dtypes = [DType::Float32, DType::Float32, DType::Int64];
    let features: Vec<WriteFeature<'_>> = names
        .iter()
        .zip(&dtypes)
        .map(|(&name, dtype)| WriteFeature { name, dtype })
        .collect();
    let rows: Vec<WriteRow> = (0..ENTITIES)
        .map(|i| WriteRow {
            entity_key: serialize_entity_key(&[("driver_id", &Value::Int64(i))]).unwrap(),
            event_ts_micros: 1_700_000_000_000_000,
            created_ts_micros: 0,
            values: vec![Value::Float(i as f32), Value::Float(0.5), Value::Int64(i)],
        })
        .collect();
    for chunk in rows.chunks(50_000) {
        store
            .write(table, &features, chunk, Durability::Deferred)
            .unwrap();
    }
    store.sync().unwrap();
    // Keys spread over the whole table, as a server's requests would be.
    let keys: Vec<Vec<u8>> = (0..3 * 4096)
        .map(|i: i64| {
            serialize_entity_key(&[("driver_id", &Value::Int64((i * 7_919_993) % ENTITIES))])
                .unwrap()
        })
        .collect();
    let mut next = 0;
    c.bench_function("lmdb_read/3_keys_3_features_1M_entities", |b| {
        b.iter(|| {
            let k = &keys[next * 3..next * 3 + 3];
            next = (next + 1) % 4096;
            let k: [&[u8]; 3] = [&k[0], &k[1], &k[2]];
            black_box(store.read(table, &k, &names).unwrap());
        })
    });
}

const ROWS: i64 = 1_000_000;

fn write_source(path: &Path) {
    let t0: i64 = 1_700_000_000;
    let schema = Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, true),
        Field::new(
            "event_timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "created",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        ),
        Field::new("conv_rate", DataType::Float32, true),
        Field::new("acc_rate", DataType::Float32, true),
        Field::new("avg_daily_trips", DataType::Int64, true),
    ]));
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    for start in (0..ROWS).step_by(100_000) {
        let ids: Vec<i64> = (start..start + 100_000).collect();
        let ns: Vec<i64> = ids
            .iter()
            .map(|i| (t0 + i % 3600) * 1_000_000_000)
            .collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(TimestampNanosecondArray::from(ns.clone()).with_timezone("UTC")),
            Arc::new(TimestampNanosecondArray::from(ns)),
            Arc::new(Float32Array::from(
                ids.iter()
                    .map(|i| (*i % 1000) as f32 / 1000.0)
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Float32Array::from(
                ids.iter()
                    .map(|i| (*i % 7) as f32 / 7.0)
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                ids.iter().map(|i| i % 1000).collect::<Vec<_>>(),
            )),
        ];
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
    }
    w.close().unwrap();
}

fn materialize(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::create_dir_all(repo.join("data")).unwrap();
    write_source(&repo.join("data/source.parquet"));
    std::fs::write(repo.join("feature_store.yaml"), "project: bench\n").unwrap();
    std::fs::write(
        repo.join("defs.yaml"),
        "entities:\n  - {name: driver, join_key: driver_id}\ndata_sources:\n  - {name: src, type: file, path: data/source.parquet, timestamp_field: event_timestamp, created_timestamp_column: created}\nfeature_views:\n  - name: stats\n    entities: [driver]\n    source: src\n    schema:\n      - {name: conv_rate, dtype: Float32}\n      - {name: acc_rate, dtype: Float32}\n      - {name: avg_daily_trips, dtype: Int64}\n",
    )
    .unwrap();
    let config = RepoConfig::load(repo, None).unwrap();
    let (files, errors) = load_definitions(&config).unwrap();
    let (defs, project) = validate(&config, &files, errors).unwrap();
    let registry: Registry = diff_and_merge(None, defs, project, chrono::Utc::now()).0;
    let job = Job {
        view: "stats".into(),
        start: chrono::DateTime::UNIX_EPOCH,
        end: chrono::Utc::now(),
    };
    let mut group = c.benchmark_group("materialize");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("1M_rows_3_features_fresh_store", |b| {
        b.iter_batched(
            || {
                let d = tempfile::tempdir_in(repo).unwrap();
                let store = LmdbStore::open(&lmdb_config(d.path())).unwrap();
                (d, store)
            },
            |(_d, store)| {
                let out = run_job(repo, &registry, &store, &job, &mut NoProgress).unwrap();
                assert_eq!(out.written, ROWS as usize);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, entity_key, row_decode, read_3_keys, materialize);
criterion_main!(benches);
