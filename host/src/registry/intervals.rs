//! Keeping a view's materialization intervals bounded.
//!
//! Feast appends `(start, end)` to a view's `materialization_intervals` after every successful
//! run, so the list, and the registry file that is rewritten and reloaded with it, grows with
//! the number of jobs forever (10,000 jobs took a demo registry from 10.8 kB to 1.23 MB).
//! What the list means is the set of instants that have been materialized, and the one thing
//! read from it is the latest end (where `materialize-incremental` starts). Both survive
//! replacing intervals that overlap or share an endpoint by their union: the union covers
//! exactly the instants they covered, and its end is the largest of theirs. Incremental runs
//! start exactly where the previous one ended, so their intervals always touch and a view
//! materialized incrementally keeps one interval however many times it runs.
//!
//! Intervals that are apart (a gap of any length, even a microsecond) stay apart: merging
//! them would claim the gap was materialized. An interval that ends before it starts covers
//! nothing; it is left as it is (it can only come from a file written by something else).

use chrono::{DateTime, Utc};

use super::MaterializationInterval;

/// Groups of intervals that merge: for each resulting interval, its start, its end and the
/// indices (into `spans`) of the intervals it replaces, in ascending order of start. Two
/// intervals are in one group when a chain of overlapping or touching (`next.start <=
/// current.end`, both ends inclusive) intervals links them. An interval that ends before it
/// starts is a group of its own unless it lies inside another's span.
pub fn merge_groups(spans: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<Group> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    // Stable, and ties broken by index: the same input always gives the same output.
    order.sort_by_key(|&i| (spans[i].0, spans[i].1, i));
    let mut groups: Vec<Group> = Vec::new();
    for i in order {
        let (start, end) = spans[i];
        match groups.last_mut() {
            // A group that ends before it starts takes nothing: every later start is past its end.
            Some(g) if start <= g.end => {
                g.end = g.end.max(end);
                g.members.push(i);
            }
            _ => groups.push(Group {
                start,
                end,
                members: vec![i],
            }),
        }
    }
    groups
}

/// One interval of [`merge_groups`]' result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its start: the earliest start of its members.
    pub start: DateTime<Utc>,
    /// Its end: the latest end of its members.
    pub end: DateTime<Utc>,
    /// The indices of the intervals it replaces.
    pub members: Vec<usize>,
}

/// Records the window `[start, end]` in `intervals`, merged with those it overlaps or
/// touches; the result is sorted by start, with no two intervals overlapping or touching.
pub fn record(
    intervals: &mut Vec<MaterializationInterval>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    intervals.push(MaterializationInterval {
        start_time: start,
        end_time: end,
    });
    let spans: Vec<_> = intervals
        .iter()
        .map(|i| (i.start_time, i.end_time))
        .collect();
    *intervals = merge_groups(&spans)
        .into_iter()
        .map(|g| MaterializationInterval {
            start_time: g.start,
            end_time: g.end,
        })
        .collect();
}

#[cfg(test)]
#[path = "intervals_tests.rs"]
mod tests;
