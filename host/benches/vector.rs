//! Vector search: the distance kernels on 384-dimensional vectors, and an exact top-10 over
//! 100,000 of them per metric (the target: at most 20 ms per query on one core).
//!
//!   cargo bench -p edgefeat --bench vector

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use edgefeat::types::{Value, serialize_entity_key};
use edgefeat::vector::Metric;
use edgefeat::vector::index::Vectors;
use edgefeat::vector::kernels::{Query, dot, squared_l2};

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
    g.bench_function("dot", |bench| bench.iter(|| dot(black_box(&a), black_box(&b))));
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

criterion_group!(benches, kernels, search);
criterion_main!(benches);
