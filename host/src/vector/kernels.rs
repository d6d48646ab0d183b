//! The distance loops and the top-k selection.
//!
//! Exact search scores every stored vector, so these loops are the whole cost of a search.
//! They are written for the auto-vectorizer: the inner loop walks `LANES` floats at a time
//! into `LANES` independent accumulators (no loop-carried dependency between lanes, so the
//! compiler keeps them in SIMD registers), and the lanes are summed once at the end. On the
//! baseline x86-64 target (SSE2) that is two 4-wide registers per step; with
//! `-C target-cpu=native` the same code uses AVX. The order of the additions therefore differs
//! from a naive left-to-right sum by float rounding only (the property tests bound it).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Metric;

/// Floats processed per step of the inner loops.
const LANES: usize = 16;

/// `Σ aᵢ bᵢ`.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ (aᵢ - bᵢ)²`.
#[inline]
pub fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let d = x - y;
        tail += d * d;
    }
    acc.iter().sum::<f32>() + tail
}

/// The Euclidean norm.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// A query prepared for one metric: what every comparison would otherwise recompute.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The query vector.
    pub vector: &'a [f32],
    /// The metric.
    pub metric: Metric,
    /// `|q|`, for cosine.
    norm: f32,
}

impl<'a> Query<'a> {
    /// Prepares `vector` for `metric`.
    pub fn new(vector: &'a [f32], metric: Metric) -> Query<'a> {
        Query {
            vector,
            metric,
            norm: norm(vector),
        }
    }

    /// The distance to `doc`, whose norm is `doc_norm` (only cosine reads it).
    #[inline]
    pub fn distance(&self, doc: &[f32], doc_norm: f32) -> f32 {
        match self.metric {
            Metric::L2 => squared_l2(self.vector, doc).sqrt(),
            Metric::InnerProduct => -dot(self.vector, doc),
            Metric::Cosine => {
                let denominator = self.norm * doc_norm;
                if denominator > 0.0 {
                    1.0 - dot(self.vector, doc) / denominator
                } else {
                    // pgvector answers NaN here, which JSON cannot carry: a zero vector is
                    // taken as orthogonal to everything.
                    1.0
                }
            }
        }
    }
}

/// A scored candidate: its distance and a caller-chosen id (a position in a segment).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The distance (smaller is closer).
    pub distance: f32,
    /// Which document.
    pub id: u64,
}

impl Eq for Scored {}

impl Ord for Scored {
    /// By distance, then by id, so that ties are broken the same way on every run.
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` smallest of a stream of candidates: a bounded max-heap, so a search keeps `k`
/// candidates (not `n`) and most candidates cost one comparison with the current worst.
#[derive(Debug)]
pub struct TopK<T: Ord> {
    k: usize,
    heap: BinaryHeap<T>,
}

impl<T: Ord> TopK<T> {
    /// Keeps the `k` closest; `expected` bounds the allocation (a huge `top_k` over a small
    /// view allocates for the view).
    pub fn new(k: usize, expected: usize) -> TopK<T> {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(expected).saturating_add(1)),
        }
    }

    /// Offers a candidate.
    #[inline]
    pub fn push(&mut self, candidate: T) {
        if self.heap.len() < self.k {
            self.heap.push(candidate);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && candidate < *worst
        {
            *worst = candidate;
        }
    }

    /// The worst candidate kept, once `k` are: what a new one must beat to enter.
    #[inline]
    pub fn worst(&self) -> Option<&T> {
        if self.heap.len() == self.k {
            self.heap.peek()
        } else {
            None
        }
    }

    /// The kept candidates, best first.
    pub fn into_sorted(self) -> Vec<T> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    fn naive_l2(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    fn vectors() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (0usize..100).prop_flat_map(|n| {
            (
                proptest::collection::vec(-100.0f32..100.0, n),
                proptest::collection::vec(-100.0f32..100.0, n),
            )
        })
    }

    /// Bound on the rounding error of an f32 sum of `n` terms of magnitude at most `scale`.
    fn tolerance(n: usize, scale: f64) -> f64 {
        (n as f64 + 1.0) * scale * f32::EPSILON as f64 * 2.0 + 1e-6
    }

    proptest! {
        #[test]
        fn dot_matches_a_naive_sum((a, b) in vectors()) {
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
            let got = dot(&a, &b) as f64;
            prop_assert!((got - naive_dot(&a, &b)).abs() <= tolerance(a.len(), scale),
                "{got} vs {}", naive_dot(&a, &b));
        }

        #[test]
        fn l2_matches_a_naive_sum((a, b) in vectors()) {
            let got = Query::new(&a, Metric::L2).distance(&b, norm(&b)) as f64;
            let want = naive_l2(&a, &b);
            // sqrt halves the relative error of the sum.
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
            prop_assert!((got * got - want * want).abs() <= tolerance(a.len(), scale) * 2.0,
                "{got} vs {want}");
        }

        #[test]
        fn cosine_is_one_minus_the_cosine((a, b) in vectors()) {
            let got = Query::new(&a, Metric::Cosine).distance(&b, norm(&b)) as f64;
            let (na, nb) = (naive_dot(&a, &a).sqrt(), naive_dot(&b, &b).sqrt());
            let want = if na * nb > 0.0 { 1.0 - naive_dot(&a, &b) / (na * nb) } else { 1.0 };
            prop_assert!((got - want).abs() <= 1e-3, "{got} vs {want}");
            prop_assert!((-1e-3..=2.0 + 1e-3).contains(&got));
        }

        #[test]
        fn inner_product_is_the_negated_dot((a, b) in vectors()) {
            let got = Query::new(&a, Metric::InnerProduct).distance(&b, norm(&b)) as f64;
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
            prop_assert!((got + naive_dot(&a, &b)).abs() <= tolerance(a.len(), scale));
        }

        #[test]
        fn top_k_is_the_head_of_a_full_sort(
            distances in proptest::collection::vec(-1000.0f32..1000.0, 0..300),
            k in 0usize..40,
        ) {
            let scored: Vec<Scored> = distances
                .iter()
                .enumerate()
                .map(|(i, d)| Scored { distance: *d, id: i as u64 })
                .collect();
            let mut top = TopK::new(k, scored.len());
            for s in &scored {
                top.push(*s);
            }
            let mut sorted = scored.clone();
            sorted.sort();
            sorted.truncate(k);
            prop_assert_eq!(top.into_sorted(), sorted);
        }
    }

    #[test]
    fn known_distances() {
        let q = [1.0, 0.0, 0.0];
        let d = [0.0, 2.0, 0.0];
        assert_eq!(Query::new(&q, Metric::L2).distance(&d, 2.0), 5.0f32.sqrt());
        assert_eq!(Query::new(&q, Metric::Cosine).distance(&d, 2.0), 1.0);
        assert_eq!(Query::new(&q, Metric::InnerProduct).distance(&q, 1.0), -1.0);
        assert_eq!(
            Query::new(&q, Metric::Cosine).distance(&[3.0, 0.0, 0.0], 3.0),
            0.0
        );
        // A zero vector is orthogonal to everything, not NaN.
        assert_eq!(Query::new(&[0.0; 3], Metric::Cosine).distance(&d, 2.0), 1.0);
    }

    #[test]
    fn ties_are_broken_by_id() {
        let mut top = TopK::new(2, 3);
        for id in [2, 0, 1] {
            top.push(Scored { distance: 1.0, id });
        }
        let ids: Vec<u64> = top.into_sorted().iter().map(|s| s.id).collect();
        assert_eq!(ids, [0, 1]);
    }
}
