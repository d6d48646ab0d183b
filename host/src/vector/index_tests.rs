use super::*;
use crate::online::{Durability, LmdbStore, WriteFeature, WriteRow};
use crate::repo::config::{LmdbConfig, WritePolicy};
use crate::types::{DType, Value, serialize_entity_key};

fn vector_value(v: &[f32]) -> Value {
    Value::List(v.iter().map(|x| Value::Float(*x)).collect())
}
use crate::vector::Metric;
use proptest::prelude::*;

fn key(id: i64) -> Vec<u8> {
    serialize_entity_key(&[("doc_id", &Value::Int64(id))]).expect("a key")
}

fn spec(dim: u32) -> VectorIndex {
    VectorIndex {
        vector_length: dim,
        vector_search_metric: None,
    }
}

fn store(dir: &std::path::Path) -> LmdbStore {
    let config = LmdbConfig {
        path: dir.join("online"),
        map_size: 1 << 26,
        write_policy: WritePolicy::LastWriteWins,
    };
    LmdbStore::open(&config).expect("the store opens")
}

const TABLE: Table<'static> = Table {
    project: "p",
    view: "docs",
};

fn write(store: &LmdbStore, docs: &[(i64, Option<Vec<f32>>)]) {
    let rows: Vec<WriteRow> = docs
        .iter()
        .map(|(id, v)| WriteRow {
            entity_key: key(*id),
            event_ts_micros: 1,
            created_ts_micros: 0,
            values: vec![v.as_deref().map_or(Value::Null, vector_value)],
        })
        .collect();
    let embedding = DType::Array(Box::new(DType::Float32));
    let features = [WriteFeature {
        name: "embedding",
        dtype: &embedding,
    }];
    store
        .write(TABLE, &features, &rows, Durability::Sync)
        .expect("written");
}

fn ids(hits: &[Hit]) -> Vec<i64> {
    hits.iter()
        .map(
            |h| match crate::types::deserialize_entity_key(&h.entity_key).expect("a key")[0].1 {
                Value::Int64(id) => id,
                ref other => panic!("{other:?}"),
            },
        )
        .collect()
}

#[test]
fn follows_writes_overwrites_and_nulls() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = store(dir.path());
    let indexes = Indexes::new();
    let spec = spec(2);
    let search = |q: &[f32], k| {
        let v = indexes
            .current(&store, TABLE, "embedding", &spec)
            .expect("vectors");
        ids(&v.search(&Query::new(q, Metric::L2), k))
    };
    assert_eq!(search(&[0.0, 0.0], 5), Vec::<i64>::new());
    write(
        &store,
        &[(1, Some(vec![1.0, 0.0])), (2, Some(vec![2.0, 0.0]))],
    );
    assert_eq!(search(&[0.0, 0.0], 5), [1, 2]);
    // An overwrite moves a base row into the delta; a new row lands there too.
    write(
        &store,
        &[(1, Some(vec![9.0, 0.0])), (3, Some(vec![0.5, 0.0]))],
    );
    assert_eq!(search(&[0.0, 0.0], 5), [3, 2, 1]);
    // A null vector takes the document out of the search.
    write(&store, &[(2, None)]);
    assert_eq!(search(&[0.0, 0.0], 5), [3, 1]);
    assert_eq!(search(&[0.0, 0.0], 1), [3]);
}

#[test]
fn another_handle_on_the_store_is_noticed() {
    // The index never sees writes, only the store's generation and change log: what it
    // learns is the same whether this process or another (`materialize`) wrote.
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = store(dir.path());
    let indexes = Indexes::new();
    let spec = spec(2);
    write(&store, &[(1, Some(vec![1.0, 1.0]))]);
    let first = indexes
        .current(&store, TABLE, "embedding", &spec)
        .expect("vectors");
    assert_eq!(first.len(), 1);
    // More rows than one change-log entry holds: the index rescans.
    let many: Vec<(i64, Option<Vec<f32>>)> = (0..5000)
        .map(|i| (i + 10, Some(vec![i as f32, 0.0])))
        .collect();
    write(&store, &many);
    let next = indexes
        .current(&store, TABLE, "embedding", &spec)
        .expect("vectors");
    assert_eq!(next.len(), 5001);
    assert_eq!(
        ids(&next.search(&Query::new(&[4999.0, 0.0], Metric::L2), 1)),
        [5009]
    );
    // The first version is untouched: a search that started on it finishes on it.
    assert_eq!(first.len(), 1);
}

#[test]
fn a_vector_of_another_length_is_left_out() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = store(dir.path());
    write(
        &store,
        &[(1, Some(vec![1.0, 1.0])), (2, Some(vec![1.0, 1.0, 1.0]))],
    );
    let v = Indexes::new()
        .current(&store, TABLE, "embedding", &spec(2))
        .expect("vectors");
    assert_eq!((v.len(), v.skipped()), (1, 1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of writes gives the same results as an index built from scratch, and as
    /// a brute-force sort over the final rows.
    #[test]
    fn incremental_equals_rebuilt(
        writes in proptest::collection::vec(
            proptest::collection::vec((0i64..40, proptest::option::weighted(0.9, (-50i32..50, -50i32..50))), 1..30),
            1..12),
        q in (-50i32..50, -50i32..50),
        k in 1usize..50,
    ) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = store(dir.path());
        let indexes = Indexes::new();
        let spec = spec(2);
        let mut model: std::collections::BTreeMap<i64, Vec<f32>> = Default::default();
        for batch in &writes {
            // One write per entity per batch, as a dataframe would hold.
            let mut seen = std::collections::BTreeMap::new();
            for (id, v) in batch {
                seen.insert(*id, v.map(|(a, b)| vec![a as f32, b as f32]));
            }
            let docs: Vec<(i64, Option<Vec<f32>>)> = seen.into_iter().collect();
            write(&store, &docs);
            for (id, v) in &docs {
                match v {
                    Some(v) => { model.insert(*id, v.clone()); }
                    None => { model.remove(id); }
                }
            }
            indexes.current(&store, TABLE, "embedding", &spec).expect("vectors");
        }
        let query = [q.0 as f32, q.1 as f32];
        let incremental = indexes.current(&store, TABLE, "embedding", &spec).expect("vectors");
        let rebuilt = Indexes::new().current(&store, TABLE, "embedding", &spec).expect("vectors");
        let prepared = Query::new(&query, Metric::L2);
        let a = incremental.search(&prepared, k);
        let b = rebuilt.search(&prepared, k);
        prop_assert_eq!(&a, &b);
        let mut brute: Vec<(f32, Vec<u8>)> = model
            .iter()
            .map(|(id, v)| (prepared.distance(v, norm(v)), key(*id)))
            .collect();
        brute.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        brute.truncate(k);
        let want: Vec<Vec<u8>> = brute.into_iter().map(|(_, k)| k).collect();
        let got: Vec<Vec<u8>> = a.iter().map(|h| h.entity_key.to_vec()).collect();
        prop_assert_eq!(got, want);
        // The ranked (filtered) path hands out the same order.
        let mut ranked = incremental.ranked(&prepared);
        let mut all = Vec::new();
        loop {
            let batch = ranked.next_batch(3);
            if batch.is_empty() { break; }
            all.extend(batch);
        }
        prop_assert_eq!(all.len(), model.len());
        prop_assert!(all.windows(2).all(|w| w[0].distance <= w[1].distance));
    }
}
