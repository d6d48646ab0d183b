//! The in-memory vectors of each searched view, kept in step with the online store.
//!
//! # Layout
//! A view's searchable state ([`Vectors`]) is immutable once published: a large **base**
//! segment (contiguous row-major `f32`s, one norm and one entity key per row) that is shared
//! between versions, a bitset of base rows that were overwritten since, and a small **delta**
//! segment with the rows written since the base was built. A write makes a new version by
//! copying only the bitset and the delta; when the delta grows past [`DELTA_MAX_FLOATS`] (or an
//! eighth of the base) the two are merged into a new base. Searches load the current version
//! with one atomic pointer read (`arc-swap`) and never wait for an update.
//!
//! # Staying in step
//! Before each search the store is asked whether the table changed since the version held
//! ([`OnlineStore::scan_changes`]: one LMDB read of a counter). When it did (a push through this
//! server, or `edgefeat materialize` in another process), the searcher that notices takes the
//! view's update lock, reads the changed rows (or all rows, when the store's change log cannot
//! tell) and publishes the next version; other searchers wait for that rather than search stale
//! data, so a document pushed before a request is found by it. Writers never wait for any of
//! this.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use arc_swap::ArcSwapOption;

use std::cmp::Ordering;

use super::kernels::{Query, Scored, TopK, norm};
use super::{VectorIndex, to_f32};
use crate::online::{OnlineStore, ReadRow, Table, TableVersion};

/// The most floats a delta segment holds before it is merged into the base (4 MiB).
pub const DELTA_MAX_FLOATS: usize = 1 << 20;

/// Rows of vectors with their norms and entity keys.
#[derive(Debug, Default, Clone)]
pub struct Segment {
    dim: usize,
    vectors: Vec<f32>,
    norms: Vec<f32>,
    keys: Vec<Box<[u8]>>,
}

impl Segment {
    fn new(dim: usize) -> Segment {
        Segment {
            dim,
            ..Segment::default()
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn push(&mut self, key: Box<[u8]>, vector: &[f32]) {
        self.vectors.extend_from_slice(vector);
        self.norms.push(norm(vector));
        self.keys.push(key);
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Scores every row not in `dead`, handing `(row, distance)` to `f`. The metric is matched
    /// once, outside the loop, so each loop body is one straight distance kernel.
    fn scan(&self, query: &Query<'_>, dead: Option<&[u64]>, mut f: impl FnMut(usize, f32)) {
        let is_dead = |i: usize| dead.is_some_and(|d| d[i >> 6] & (1 << (i & 63)) != 0);
        if self.dim == 0 {
            return;
        }
        for (i, (row, &n)) in self
            .vectors
            .chunks_exact(self.dim)
            .zip(&self.norms)
            .enumerate()
        {
            if is_dead(i) {
                continue;
            }
            f(i, query.distance(row, n));
        }
    }
}

/// One published version of a view's vectors.
#[derive(Debug, Clone)]
pub struct Vectors {
    version: TableVersion,
    dim: usize,
    base: Arc<Segment>,
    /// Base rows superseded by a later write (bit set).
    dead: Arc<Vec<u64>>,
    base_rows: Arc<HashMap<Box<[u8]>, u32>>,
    delta: Arc<Segment>,
    /// Rows whose vector did not fit the field (written before a view change): not searched.
    skipped: usize,
}

/// A search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The distance to the query.
    pub distance: f32,
    /// The document's serialized entity key.
    pub entity_key: Box<[u8]>,
}

/// Ids of [`Scored`] candidates: the segment in the top bit, the row below.
const DELTA_BIT: u64 = 1 << 63;

impl Vectors {
    fn empty(dim: usize, version: TableVersion) -> Vectors {
        Vectors {
            version,
            dim,
            base: Arc::new(Segment::new(dim)),
            dead: Arc::new(Vec::new()),
            base_rows: Arc::default(),
            delta: Arc::new(Segment::new(dim)),
            skipped: 0,
        }
    }

    /// Vectors not tied to a store (benches, tools): `rows` are (entity key, vector of `dim`
    /// numbers); a row of another length is skipped.
    pub fn from_rows(dim: usize, rows: impl IntoIterator<Item = (Vec<u8>, Vec<f32>)>) -> Vectors {
        let mut base = Segment::new(dim);
        let mut index = HashMap::new();
        let mut skipped = 0;
        for (key, vector) in rows {
            if vector.len() != dim {
                skipped += 1;
                continue;
            }
            let key: Box<[u8]> = key.into();
            index.insert(key.clone(), base.len() as u32);
            base.push(key, &vector);
        }
        Vectors {
            dead: Arc::new(vec![0; base.len().div_ceil(64)]),
            base: Arc::new(base),
            base_rows: Arc::new(index),
            skipped,
            ..Vectors::empty(dim, TableVersion::default())
        }
    }

    /// The store version these vectors reflect.
    pub fn version(&self) -> TableVersion {
        self.version
    }

    /// How many documents are searchable.
    pub fn len(&self) -> usize {
        let dead: usize = self.dead.iter().map(|w| w.count_ones() as usize).sum();
        self.base.len() - dead + self.delta.len()
    }

    /// Whether no document is searchable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The vector length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Stored rows left out because their vector did not fit the field.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    fn key(&self, id: u64) -> &[u8] {
        if id & DELTA_BIT != 0 {
            &self.delta.keys[(id & !DELTA_BIT) as usize]
        } else {
            &self.base.keys[id as usize]
        }
    }

    fn candidate(&self, s: Scored) -> Candidate<'_> {
        Candidate {
            distance: s.distance,
            key: self.key(s.id),
        }
    }

    /// Scores every document into `f`.
    fn scan(&self, query: &Query<'_>, mut f: impl FnMut(Scored)) {
        self.base.scan(query, Some(&self.dead), |i, distance| {
            f(Scored {
                distance,
                id: i as u64,
            })
        });
        self.delta.scan(query, None, |i, distance| {
            f(Scored {
                distance,
                id: i as u64 | DELTA_BIT,
            })
        });
    }

    /// The `k` closest documents, closest first; equal distances in entity-key order (also
    /// where a tie straddles the `k`-th place, so the result does not depend on where rows are
    /// kept).
    pub fn search(&self, query: &Query<'_>, k: usize) -> Vec<Hit> {
        let mut top: TopK<Candidate<'_>> = TopK::new(k, self.len());
        if k > 0 {
            self.scan(query, |s| {
                // Most candidates lose to the worst kept on distance alone: the key is only
                // looked at for those that might enter.
                if top.worst().is_some_and(|w| s.distance > w.distance) {
                    return;
                }
                top.push(self.candidate(s));
            });
        }
        top.into_sorted().into_iter().map(Candidate::hit).collect()
    }

    /// Every document, ranked lazily: for a filtered search, which reads documents closest
    /// first until enough match.
    pub fn ranked(&self, query: &Query<'_>) -> Ranked<'_> {
        let mut all = Vec::with_capacity(self.len());
        self.scan(query, |s| all.push(self.candidate(s)));
        Ranked { all, next: 0 }
    }

    /// Applies rows read from the store: a replacement of everything (`full`) or changes.
    fn apply(&self, batch: Batch, version: TableVersion, full: bool) -> Vectors {
        if full {
            // The batch's vectors are already the base's layout: moved, not copied, so a
            // rebuild needs the memory of one copy of the view's vectors.
            let mut next = Vectors::empty(self.dim, version);
            next.skipped = batch.skipped;
            let mut base = Segment::new(self.dim);
            let mut rows = HashMap::with_capacity(batch.keys.len());
            for (key, present) in batch.keys.into_iter().zip(batch.present) {
                if present {
                    rows.insert(key.clone(), base.keys.len() as u32);
                    base.keys.push(key);
                }
            }
            base.vectors = batch.vectors;
            base.norms = base
                .vectors
                .chunks_exact(self.dim.max(1))
                .map(norm)
                .collect();
            next.dead = Arc::new(vec![0; base.len().div_ceil(64)]);
            next.base = Arc::new(base);
            next.base_rows = Arc::new(rows);
            return next;
        }
        let mut changes: HashMap<Box<[u8]>, Option<&[f32]>> = batch.rows().collect();
        let mut dead = (*self.dead).clone();
        let mut delta = Segment::new(self.dim);
        // The delta's rows, with the changed ones replaced or dropped.
        for (i, key) in self.delta.keys.iter().enumerate() {
            let vector = match changes.remove(key) {
                Some(None) => continue,
                Some(Some(v)) => v,
                None => self.delta.row(i),
            };
            delta.push(key.clone(), vector);
        }
        // Changes to base rows (which die) or to new documents.
        for (key, vector) in changes {
            if let Some(&row) = self.base_rows.get(&key) {
                dead[row as usize >> 6] |= 1 << (row & 63);
            }
            if let Some(v) = vector {
                delta.push(key, v);
            }
        }
        let next = Vectors {
            version,
            dim: self.dim,
            base: self.base.clone(),
            dead: Arc::new(dead),
            base_rows: self.base_rows.clone(),
            delta: Arc::new(delta),
            skipped: self.skipped + batch.skipped,
        };
        let limit = DELTA_MAX_FLOATS.min(next.base.vectors.len() / 8);
        if next.delta.vectors.len() > limit.max(64 * self.dim) {
            next.compacted()
        } else {
            next
        }
    }

    /// The base and the delta merged into one base.
    fn compacted(&self) -> Vectors {
        let mut base = Segment::new(self.dim);
        base.vectors.reserve(self.len() * self.dim);
        let mut rows = HashMap::with_capacity(self.len());
        for i in 0..self.base.len() {
            if self.dead[i >> 6] & (1 << (i & 63)) == 0 {
                rows.insert(self.base.keys[i].clone(), base.len() as u32);
                base.push(self.base.keys[i].clone(), self.base.row(i));
            }
        }
        for i in 0..self.delta.len() {
            rows.insert(self.delta.keys[i].clone(), base.len() as u32);
            base.push(self.delta.keys[i].clone(), self.delta.row(i));
        }
        Vectors {
            version: self.version,
            dim: self.dim,
            dead: Arc::new(vec![0; base.len().div_ceil(64)]),
            base: Arc::new(base),
            base_rows: Arc::new(rows),
            delta: Arc::new(Segment::new(self.dim)),
            skipped: self.skipped,
        }
    }
}

/// A document scored for a query, ordered by distance then entity key: equal distances come
/// in key order, whichever segment holds them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate<'a> {
    distance: f32,
    key: &'a [u8],
}

impl Candidate<'_> {
    fn hit(self) -> Hit {
        Hit {
            distance: self.distance,
            entity_key: self.key.into(),
        }
    }
}

impl Eq for Candidate<'_> {}

impl Ord for Candidate<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then_with(|| self.key.cmp(other.key))
    }
}

impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// All documents of a search, handed out closest first in growing batches.
pub struct Ranked<'a> {
    all: Vec<Candidate<'a>>,
    next: usize,
}

impl Ranked<'_> {
    /// The next (up to) `n` documents, closest first; empty when all were handed out.
    pub fn next_batch(&mut self, n: usize) -> Vec<Hit> {
        let rest = &mut self.all[self.next..];
        let n = n.min(rest.len());
        if n == 0 {
            return Vec::new();
        }
        if n < rest.len() {
            rest.select_nth_unstable(n - 1);
        }
        let batch = &mut rest[..n];
        batch.sort_unstable();
        self.next += n;
        batch.iter().map(|c| c.hit()).collect()
    }
}

/// Rows read from the store, converted for the index.
struct Batch {
    dim: usize,
    keys: Vec<Box<[u8]>>,
    /// Per key, whether it has a vector (those are in `vectors`, in key order).
    present: Vec<bool>,
    vectors: Vec<f32>,
    skipped: usize,
}

impl Batch {
    fn new(dim: usize) -> Batch {
        Batch {
            dim,
            keys: Vec::new(),
            present: Vec::new(),
            vectors: Vec::new(),
            skipped: 0,
        }
    }

    fn add(&mut self, key: &[u8], row: Option<ReadRow>, spec: &VectorIndex) {
        let value = row.and_then(|r| r.values.into_iter().next().flatten());
        let vector = match value.as_ref().map(|v| to_f32(v, spec)) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(v))) => Some(v),
            Some(Err(_)) => {
                self.skipped += 1;
                None
            }
        };
        self.keys.push(key.into());
        self.present.push(vector.is_some());
        if let Some(v) = vector {
            self.vectors.extend_from_slice(&v);
        }
    }

    /// Each key with its vector (`None`: no longer searchable).
    fn rows(&self) -> impl Iterator<Item = (Box<[u8]>, Option<&[f32]>)> + '_ {
        let mut at = 0;
        self.keys.iter().zip(&self.present).map(move |(k, &p)| {
            let v = p.then(|| {
                let v = &self.vectors[at..at + self.dim];
                at += self.dim;
                v
            });
            (k.clone(), v)
        })
    }
}

/// One view's vectors and the lock their updaters take.
struct ViewIndex {
    field: String,
    spec: VectorIndex,
    current: ArcSwapOption<Vectors>,
    update: Mutex<()>,
}

/// The signal that aborts a probe as soon as it sees a changed row.
#[derive(Debug, thiserror::Error)]
#[error("the table changed")]
struct Changed;

/// The vectors of every searched view, by table.
#[derive(Default)]
pub struct Indexes {
    views: Mutex<HashMap<String, Arc<ViewIndex>>>,
}

impl Indexes {
    /// No view indexed yet: each is built on its first search.
    pub fn new() -> Indexes {
        Indexes::default()
    }

    fn view(&self, table: &str, field: &str, spec: &VectorIndex) -> Arc<ViewIndex> {
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        match views.get(table) {
            Some(v) if v.field == field && v.spec == *spec => v.clone(),
            // A new view, or the view's vector field changed: start over.
            _ => {
                let v = Arc::new(ViewIndex {
                    field: field.to_string(),
                    spec: spec.clone(),
                    current: ArcSwapOption::empty(),
                    update: Mutex::new(()),
                });
                views.insert(table.to_string(), v.clone());
                v
            }
        }
    }

    /// The vectors of `field` (the view's vector field, declared `spec`) in `table`, as the store
    /// holds them now: every write committed before this call is included.
    pub fn current(
        &self,
        store: &dyn OnlineStore,
        table: Table<'_>,
        field: &str,
        spec: &VectorIndex,
    ) -> Result<Arc<Vectors>> {
        let view = self.view(&table.name(), field, spec);
        let features = [field];
        if let Some(held) = view.current.load_full() {
            // The common case, without any lock: nothing changed.
            let probe = store.scan_changes(table, &features, Some(held.version), &mut |_, _| {
                Err(Changed.into())
            });
            match probe {
                Ok(scan) if scan.version == held.version => return Ok(held),
                Ok(_) => {}
                Err(e) if e.is::<Changed>() => {}
                Err(e) => return Err(e),
            }
        }
        let _updating = view.update.lock().unwrap_or_else(|p| p.into_inner());
        let started = std::time::Instant::now();
        // Another searcher may have caught up while this one waited.
        let held = view.current.load_full();
        let dim = spec.vector_length as usize;
        let mut batch = Batch::new(dim);
        let scan = store.scan_changes(
            table,
            &features,
            held.as_ref().map(|h| h.version),
            &mut |key, row| {
                batch.add(key, row, spec);
                Ok(())
            },
        )?;
        if let Some(held) = &held
            && scan.version == held.version
        {
            return Ok(held.clone());
        }
        let previous =
            held.unwrap_or_else(|| Arc::new(Vectors::empty(dim, TableVersion::default())));
        let rows = batch.keys.len();
        let next = Arc::new(previous.apply(batch, scan.version, scan.full));
        if scan.full {
            tracing::info!(
                "vector index of {}.{field}: {} vectors loaded in {:.1} ms",
                table.name(),
                next.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        } else {
            tracing::debug!(
                "vector index of {}.{field}: {rows} rows updated",
                table.name()
            );
        }
        if next.skipped() > previous.skipped() || (scan.full && next.skipped() > 0) {
            tracing::warn!(
                "vector index of {}.{field}: {} stored vectors do not have vector_length {} and are not searchable",
                table.name(),
                next.skipped(),
                spec.vector_length
            );
        }
        view.current.store(Some(next.clone()));
        Ok(next)
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
