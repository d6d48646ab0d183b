use chrono::Duration;
use proptest::prelude::*;

use super::*;

/// An instant `s` seconds after a base that comes from the clock, not the calendar.
fn at(s: i64) -> DateTime<Utc> {
    base() + Duration::seconds(s)
}

fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fn intervals(spans: &[(i64, i64)]) -> Vec<MaterializationInterval> {
    let b = base();
    spans
        .iter()
        .map(|&(s, e)| MaterializationInterval {
            start_time: b + Duration::seconds(s),
            end_time: b + Duration::seconds(e),
        })
        .collect()
}

fn spans(intervals: &[MaterializationInterval], b: DateTime<Utc>) -> Vec<(i64, i64)> {
    intervals
        .iter()
        .map(|i| {
            (
                (i.start_time - b).num_seconds(),
                (i.end_time - b).num_seconds(),
            )
        })
        .collect()
}

#[test]
fn sequential_windows_stay_one_interval() {
    // What materialize-incremental records: each window starts where the last one ended.
    let b = at(0);
    let mut list = Vec::new();
    for i in 0..10_000 {
        record(
            &mut list,
            b + Duration::minutes(i),
            b + Duration::minutes(i + 1),
        );
    }
    assert_eq!(spans(&list, b), [(0, 10_000 * 60)]);
}

#[test]
fn overlapping_and_touching_windows_merge_and_disjoint_ones_stay_apart() {
    let b = base();
    let mut list = intervals(&[(100, 200), (0, 10)]);
    // A gap of one second: apart.
    record(
        &mut list,
        b + Duration::seconds(11),
        b + Duration::seconds(20),
    );
    assert_eq!(spans(&list, b), [(0, 10), (11, 20), (100, 200)]);
    // Overlaps the last, touches nothing else.
    record(
        &mut list,
        b + Duration::seconds(150),
        b + Duration::seconds(300),
    );
    assert_eq!(spans(&list, b), [(0, 10), (11, 20), (100, 300)]);
    // Touches the first two at their ends: all three become one.
    record(
        &mut list,
        b + Duration::seconds(10),
        b + Duration::seconds(11),
    );
    assert_eq!(spans(&list, b), [(0, 20), (100, 300)]);
    // Inside one: nothing changes.
    record(
        &mut list,
        b + Duration::seconds(120),
        b + Duration::seconds(130),
    );
    assert_eq!(spans(&list, b), [(0, 20), (100, 300)]);
}

#[test]
fn an_interval_that_ends_before_it_starts_is_kept_apart() {
    let b = base();
    let mut list = intervals(&[(50, 40)]);
    record(
        &mut list,
        b + Duration::seconds(40),
        b + Duration::seconds(45),
    );
    assert_eq!(spans(&list, b), [(40, 45), (50, 40)]);
    // One that lies inside a real interval covers nothing more: it goes.
    let mut list = intervals(&[(0, 100), (60, 50)]);
    record(
        &mut list,
        b + Duration::seconds(100),
        b + Duration::seconds(110),
    );
    assert_eq!(spans(&list, b), [(0, 110)]);
}

#[test]
fn groups_name_the_intervals_they_replace() {
    let b = base();
    let s = |x: i64| b + Duration::seconds(x);
    let groups = merge_groups(&[(s(5), s(9)), (s(0), s(2)), (s(9), s(12)), (s(2), s(3))]);
    assert_eq!(
        groups,
        [
            Group {
                start: s(0),
                end: s(3),
                members: vec![1, 3]
            },
            Group {
                start: s(5),
                end: s(12),
                members: vec![0, 2]
            },
        ]
    );
}

/// Whether any interval covers `t` (both ends inclusive).
fn covered(list: &[(i64, i64)], t: i64) -> bool {
    list.iter().any(|&(s, e)| s <= t && t <= e)
}

proptest! {
    #[test]
    fn merging_covers_exactly_the_same_instants(
        raw in prop::collection::vec((0i64..400, 0i64..60), 0..40),
        degenerate in prop::collection::vec((0i64..400, 1i64..20), 0..3),
    ) {
        // Twice the offsets, so that the instants between two integers (odd values) are
        // checked too: intervals one second apart must not be joined over the gap.
        let windows: Vec<(i64, i64)> = raw.iter().map(|&(s, len)| (2 * s, 2 * (s + len))).collect();
        // Intervals that end before they start, as a file written elsewhere could hold.
        let backwards: Vec<(i64, i64)> = degenerate.iter().map(|&(s, back)| (2 * s, 2 * s - back)).collect();
        let b = base();
        let as_time = |x: i64| b + Duration::seconds(x);
        let mut list: Vec<MaterializationInterval> = backwards
            .iter()
            .map(|&(s, e)| MaterializationInterval { start_time: as_time(s), end_time: as_time(e) })
            .collect();
        for &(s, e) in &windows {
            record(&mut list, as_time(s), as_time(e));
        }
        let original: Vec<(i64, i64)> = backwards.iter().chain(&windows).copied().collect();
        let merged = spans(&list, b);
        for t in -2..=2 * 460 + 2 {
            prop_assert_eq!(covered(&original, t), covered(&merged, t), "instant {}", t);
        }
        // The latest end, where an incremental run starts, is the same.
        prop_assert_eq!(
            original.iter().map(|&(_, e)| e).max(),
            merged.iter().map(|&(_, e)| e).max()
        );
        // Sorted and apart: no two real intervals overlap or touch, so the list is as short
        // as the covered set allows.
        let real: Vec<_> = merged.iter().filter(|(s, e)| s <= e).collect();
        for w in real.windows(2) {
            prop_assert!(w[0].1 < w[1].0, "{:?} and {:?}", w[0], w[1]);
        }
        prop_assert!(merged.len() <= original.len().max(1));
        // Recording the same windows again changes nothing.
        let mut again = list.clone();
        for &(s, e) in &windows {
            record(&mut again, as_time(s), as_time(e));
        }
        prop_assert_eq!(again, list);
    }
}
