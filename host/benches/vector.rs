//! Vector search: the distance kernels on 384-dimensional vectors, an exact top-10 over
//! 100,000 of them per metric (the target: at most 20 ms per query on one core), and
//! keeping the in-memory vectors in step with an LMDB store of that size (a full load, and the
//! catch-up after one write).
//!
//!   cargo bench -p edgefeat --bench vector
// Benchmark and example code: a panic is a failed run, not a crashed server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use edgefeat::online::{Durability, LmdbStore, OnlineStore, Table, WriteFeature, WriteRow};
use edgefeat::repo::config::{LmdbConfig, WritePolicy};
use edgefeat::types::{DType, Value, serialize_entity_key};
use edgefeat::vector::index::{Indexes, Vectors};
use edgefeat::vector::kernels::{Query, dot, squared_l2};
use edgefeat::vector::{Metric, VectorIndex};

const DIM: usize = 384;
const DOCS: usize = 100_000;

/// Deterministic pseudo-random floats in [-1, 1).
fn floats(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let a = floats(1, DIM);
    let b = floats(2, DIM);
    let mut g = c.benchmark_group("vector_kernels_384");
    g.bench_function("dot", |bench| {
        bench.iter(|| dot(black_box(&a), black_box(&b)))
    });
    g.bench_function("squared_l2", |bench| {
        bench.iter(|| squared_l2(black_box(&a), black_box(&b)))
    });
    g.finish();
}

fn search(c: &mut Criterion) {
    let all = floats(3, DOCS * DIM);
    let vectors = Vectors::from_rows(
        DIM,
        all.chunks_exact(DIM).enumerate().map(|(i, v)| {
            let key = serialize_entity_key(&[("doc_id", &Value::Int64(i as i64))]).expect("a key");
            (key, v.to_vec())
        }),
    );
    drop(all);
    let query = floats(4, DIM);
    let mut g = c.benchmark_group("vector_top10_100k_x_384");
    g.sample_size(20);
    for metric in Metric::ALL {
        g.bench_function(metric.as_str(), |bench| {
            let q = Query::new(&query, metric);
            bench.iter(|| vectors.search(black_box(&q), 10))
        });
    }
    g.finish();
}

fn row(id: usize, vector: &[f32]) -> WriteRow {
    WriteRow {
        entity_key: serialize_entity_key(&[("doc_id", &Value::Int64(id as i64))]).expect("a key"),
        event_ts_micros: 1,
        created_ts_micros: 0,
        values: vec![Value::List(
            vector.iter().map(|x| Value::Float(*x)).collect(),
        )],
    }
}

fn follow_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = LmdbStore::open(&LmdbConfig {
        path: dir.path().join("online"),
        map_size: 1 << 30,
        write_policy: WritePolicy::LastWriteWins,
    })
    .expect("the store opens");
    let table = Table {
        project: "bench",
        view: "docs",
    };
    let embedding = DType::Array(Box::new(DType::Float32));
    let features = [WriteFeature {
        name: "embedding",
        dtype: &embedding,
    }];
    let all = floats(5, DOCS * DIM);
    for (n, chunk) in all.chunks(10_000 * DIM).enumerate() {
        let rows: Vec<WriteRow> = chunk
            .chunks_exact(DIM)
            .enumerate()
            .map(|(i, v)| row(n * 10_000 + i, v))
            .collect();
        store
            .write(table, &features, &rows, Durability::Deferred)
            .expect("written");
    }
    store.sync().expect("synced");
    drop(all);
    let spec = VectorIndex {
        vector_length: DIM as u32,
        vector_search_metric: None,
    };
    let mut g = c.benchmark_group("vector_index_100k_x_384");
    g.sample_size(10);
    g.bench_function("full_load_from_lmdb", |bench| {
        bench.iter(|| {
            Indexes::new()
                .current(&store, table, "embedding", &spec)
                .expect("vectors")
        })
    });
    let indexes = Indexes::new();
    indexes
        .current(&store, table, "embedding", &spec)
        .expect("vectors");
    let one = floats(6, DIM);
    let mut id = 0;
    g.bench_function("write_1_row_then_catch_up", |bench| {
        bench.iter(|| {
            id = (id + 7919) % DOCS;
            store
                .write(table, &features, &[row(id, &one)], Durability::Deferred)
                .expect("written");
            indexes
                .current(&store, table, "embedding", &spec)
                .expect("vectors")
        })
    });
    g.finish();
}

criterion_group!(benches, kernels, search, follow_store);
criterion_main!(benches);
