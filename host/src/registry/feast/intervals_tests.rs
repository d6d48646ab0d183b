use std::collections::BTreeMap;

use proptest::prelude::*;

use super::wire::{Field, WireType, len_field, parse_fields, write_len_field, write_varint_field};
use super::*;

/// The registry Feast 0.67 wrote after `feast apply` and `feast materialize` of its template
/// (tests/fixtures/feast-0.67/README.md).
const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/feast-0.67/data/registry.db");
const PROJECT: &str = "feature_repo";
const STATS: &str = "driver_hourly_stats";
const FRESH: &str = "driver_hourly_stats_fresh";
/// A version id for the tests that need a fixed one.
const VERSION: &str = "3f2c6b0e-8d1a-4c5e-9b7f-2a4d6e8f0a1c";

/// What each top-level field of the fixture holds, for the assertion messages.
fn what(number: u32) -> &'static str {
    match number {
        1 => "entities",
        3 => "registry_schema_version",
        4 => "version_id",
        5 => "last_updated",
        6 => "feature_views",
        7 => "feature_services",
        8 => "on_demand_feature_views",
        10 => "infra",
        12 => "data_sources",
        14 => "stream_feature_views",
        17 => "projects",
        18 => "feature_view_version_history",
        19 => "label_views",
        _ => "an unknown field",
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a literal time")
        .with_timezone(&Utc)
}

fn fields_of(msg: &[u8]) -> Vec<Field<'_>> {
    parse_fields(msg).expect("well-formed")
}

/// A message's fields' raw bytes, grouped by number in wire order.
fn by_number(msg: &[u8]) -> BTreeMap<u32, Vec<&[u8]>> {
    let mut out: BTreeMap<u32, Vec<&[u8]>> = BTreeMap::new();
    for f in fields_of(msg) {
        out.entry(f.number).or_default().push(f.raw);
    }
    out
}

/// The one occurrence of field `number` in `msg`, as its content.
fn one(msg: &[u8], number: u32) -> &[u8] {
    let found: Vec<_> = fields_of(msg)
        .into_iter()
        .filter(|f| f.number == number)
        .collect();
    assert_eq!(found.len(), 1, "field {number} occurs once");
    found[0].bytes().expect("length-delimited")
}

fn name_of(view: &[u8]) -> String {
    String::from_utf8(one(one(view, 1), 1).to_vec()).expect("a UTF-8 name")
}

/// The views of one top-level list, by name, as their content.
fn views(registry: &[u8], kind: u32) -> Vec<(String, &[u8])> {
    fields_of(registry)
        .into_iter()
        .filter(|f| f.number == kind)
        .map(|f| {
            let v = f.bytes().expect("a message");
            (name_of(v), v)
        })
        .collect()
}

fn view<'a>(registry: &'a [u8], name: &str) -> &'a [u8] {
    views(registry, 6)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .expect("the view is in the registry")
}

/// A Timestamp's content, decoded.
fn ts(content: &[u8]) -> DateTime<Utc> {
    let (mut seconds, mut nanos) = (0i64, 0u32);
    for f in fields_of(content) {
        match f.number {
            1 => seconds = f.varint().expect("seconds") as i64,
            2 => nanos = u32::try_from(f.varint().expect("nanos")).expect("below 2^32"),
            n => panic!("a Timestamp has no field {n}"),
        }
    }
    DateTime::from_timestamp(seconds, nanos).expect("a representable time")
}

fn intervals(meta: &[u8]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    fields_of(meta)
        .into_iter()
        .filter(|f| f.number == 3)
        .map(|f| {
            let i = f.bytes().expect("an interval");
            (ts(one(i, 1)), ts(one(i, 2)))
        })
        .collect()
}

fn state(meta: &[u8]) -> Option<u64> {
    fields_of(meta)
        .into_iter()
        .find(|f| f.number == 6)
        .map(|f| f.varint().expect("an enum"))
}

type Path = Vec<(u32, usize)>;

/// Every leaf of a message by its path of (field number, occurrence): a length-delimited
/// payload that parses as fields is descended into, anything else is a leaf. Without the
/// schema a string may be read as a message too, the same way on both sides of a compare.
fn flatten(msg: &[u8], prefix: &Path, out: &mut BTreeMap<Path, Vec<u8>>) {
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for f in fields_of(msg) {
        let n = seen.entry(f.number).or_default();
        let mut path = prefix.clone();
        path.push((f.number, *n));
        *n += 1;
        match parse_fields(f.payload) {
            Ok(inner) if f.wire_type == WireType::Len && !inner.is_empty() => {
                flatten(f.payload, &path, out)
            }
            _ => {
                out.insert(path, f.raw.to_vec());
            }
        }
    }
}

/// The paths whose leaves differ between two messages, or exist in one only.
fn changed_paths(before: &[u8], after: &[u8]) -> Vec<Path> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(before, &Vec::new(), &mut a);
    flatten(after, &Vec::new(), &mut b);
    let mut keys: Vec<&Path> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn record(view: &str, start: &str, end: &str) -> IntervalRecord {
    IntervalRecord {
        view: view.to_string(),
        start: at(start),
        end: at(end),
    }
}

#[test]
fn recording_both_views_changes_exactly_what_feast_changes() {
    let now = at("2027-03-04T05:06:07.123456Z");
    let records = [
        record(FRESH, "2026-12-01T20:29:32Z", "2027-03-04T05:00:00Z"),
        record(STATS, "2026-12-01T20:29:32Z", "2027-03-04T05:00:00.5Z"),
    ];
    let after = record_with_version(FIXTURE, PROJECT, &records, now, VERSION).expect("recorded");
    let (old, new) = (by_number(FIXTURE), by_number(&after));

    // Every top-level object other than the feature views, the version id and the update
    // time is the same bytes, in the same order: entities, services, on-demand views, data
    // sources, infra, projects, version history, label views, the schema version.
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );
    for (number, slices) in &old {
        if ![4, 5, 6].contains(number) {
            assert_eq!(&new[number], slices, "{} changed", what(*number));
        }
    }
    assert_eq!(one(&after, 4), VERSION.as_bytes());
    assert_ne!(one(FIXTURE, 4), VERSION.as_bytes());
    assert_eq!(ts(one(&after, 5)), now);

    // The views, in Feast's order: each moved to the end, so recorded in the order they
    // were listed they stay in it.
    let names = |r: &[u8]| views(r, 6).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(names(&after), [FRESH, STATS]);
    assert_eq!(names(&after), names(FIXTURE));
    for r in &records {
        let (before, after) = (view(FIXTURE, &r.view), view(&after, &r.view));
        assert_eq!(
            one(after, 1),
            one(before, 1),
            "{}: the spec is kept",
            r.view
        );
        let (mb, ma) = (one(before, 2), one(after, 2));
        let (fb, fa) = (by_number(mb), by_number(ma));
        for n in [1, 4, 5] {
            assert_eq!(fb.get(&n), fa.get(&n), "{}: meta field {n} is kept", r.view);
        }
        assert_eq!(ts(one(ma, 2)), now, "{}: last updated", r.view);
        // The new window starts where the fixture's ended, as an incremental run's does: the
        // two touch, so they are recorded as their union (Feast would append a second one).
        let old = intervals(mb);
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].1, r.start, "{}: the windows touch", r.view);
        assert_eq!(intervals(ma), [(old[0].0, r.end)], "{}", r.view);
        assert_eq!(state(ma), Some(4), "{}: available online", r.view);
        // Ascending, as Feast writes a meta.
        let order: Vec<u32> = fields_of(ma).iter().map(|f| f.number).collect();
        assert_eq!(order, [1, 2, 3, 6], "{}", r.view);
    }

    // And field by field: the leaves that differ are exactly those.
    let changed = changed_paths(FIXTURE, &after);
    let allowed = |p: &Path| {
        matches!(
            p.as_slice(),
            [(4, 0), ..]
                | [(5, 0), ..]
                | [(6, 0 | 1), (2, 0), (2, 0), ..]
                | [(6, 0 | 1), (2, 0), (3, 0), ..]
        )
    };
    let stray: Vec<_> = changed.iter().filter(|p| !allowed(p)).collect();
    assert!(stray.is_empty(), "unexpected changes at {stray:?}");
    for v in 0..2 {
        assert!(
            changed
                .iter()
                .any(|p| p.starts_with(&[(6, v), (2, 0), (3, 0)])),
            "view {v} has its interval extended"
        );
        assert!(
            changed
                .iter()
                .any(|p| p.starts_with(&[(6, v), (2, 0), (2, 0)])),
            "view {v} has a new update time"
        );
    }
    assert!(changed.iter().any(|p| p.starts_with(&[(4, 0)])));
    assert!(changed.iter().any(|p| p.starts_with(&[(5, 0)])));
}

#[test]
fn a_window_apart_from_the_recorded_ones_is_added_and_theirs_keep_their_bytes() {
    let now = at("2027-03-04T05:06:07Z");
    let before = one(view(FIXTURE, STATS), 2);
    let [(_, end)] = intervals(before)[..] else {
        panic!("one interval in the fixture");
    };
    // A microsecond after the recorded end: not one instant in common, so not merged.
    let gap = end + chrono::Duration::microseconds(1);
    let records = [IntervalRecord {
        view: STATS.to_string(),
        start: gap,
        end: gap + chrono::Duration::hours(1),
    }];
    let after = record_with_version(FIXTURE, PROJECT, &records, now, VERSION).expect("recorded");
    let meta = one(view(&after, STATS), 2);
    let mut want = intervals(before);
    want.push((records[0].start, records[0].end));
    assert_eq!(intervals(meta), want);
    assert_eq!(
        by_number(meta)[&3][0],
        by_number(before)[&3][0],
        "the old interval's bytes"
    );
    let order: Vec<u32> = fields_of(meta).iter().map(|f| f.number).collect();
    assert_eq!(order, [1, 2, 3, 3, 6]);
    // One earlier than every recorded window goes first: the list is in time order.
    let early = [record(
        STATS,
        "2020-01-01T00:00:00Z",
        "2020-06-01T00:00:00Z",
    )];
    let again = record_with_version(&after, PROJECT, &early, now, VERSION).expect("recorded");
    let got = intervals(one(view(&again, STATS), 2));
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], (early[0].start, early[0].end));
    assert_eq!(got[1..], want[..]);
}

#[test]
fn ten_thousand_incremental_runs_keep_one_interval_and_the_file_size() {
    // Each run starts where the last ended, as materialize-incremental does.
    let now = at("2027-03-04T05:06:07Z");
    let [(first, mut end)] = intervals(one(view(FIXTURE, STATS), 2))[..] else {
        panic!("one interval in the fixture");
    };
    let mut bytes = FIXTURE.to_vec();
    for _ in 0..10_000 {
        let next = end + chrono::Duration::minutes(1);
        let r = [IntervalRecord {
            view: STATS.to_string(),
            start: end,
            end: next,
        }];
        bytes = record_with_version(&bytes, PROJECT, &r, now, VERSION).expect("recorded");
        end = next;
    }
    assert_eq!(intervals(one(view(&bytes, STATS), 2)), [(first, end)]);
    // The same length give or take a few varint bytes of the longer times.
    assert!(
        bytes.len() <= FIXTURE.len() + 16,
        "{} bytes from {}",
        bytes.len(),
        FIXTURE.len()
    );
}

#[test]
fn a_recorded_view_moves_to_the_end_of_its_list_as_in_feast() {
    let now = at("2027-03-04T05:06:07Z");
    let records = [record(
        FRESH,
        "2027-01-01T00:00:00Z",
        "2027-02-01T00:00:00Z",
    )];
    let after = record_with_version(FIXTURE, PROJECT, &records, now, VERSION).expect("recorded");
    let order: Vec<String> = views(&after, 6).into_iter().map(|(n, _)| n).collect();
    assert_eq!(order, [STATS, FRESH]);
    // The other view is untouched, and the list is still one run before the services.
    let old_stats = fields_of(FIXTURE)
        .into_iter()
        .find(|f| f.number == 6 && name_of(f.payload) == STATS)
        .expect("stats");
    let top = fields_of(&after);
    assert_eq!(top[5].raw, old_stats.raw);
    let numbers: Vec<u32> = top.iter().map(|f| f.number).collect();
    assert_eq!(
        numbers,
        fields_of(FIXTURE)
            .iter()
            .map(|f| f.number)
            .collect::<Vec<_>>()
    );
    assert_eq!(intervals(one(view(&after, STATS), 2)).len(), 1);
}

/// The apply-time version of a view, which Feast keeps in the version history: the
/// `feature_view_proto` (5) of the record (1 of field 18) whose name (1) is `name`.
fn apply_time_view(name: &str) -> &'static [u8] {
    let history = one(FIXTURE, 18);
    fields_of(history)
        .into_iter()
        .map(|r| r.bytes().expect("a record"))
        .find(|r| one(r, 1) == name.as_bytes())
        .map(|r| one(r, 5))
        .expect("a version record")
}

#[test]
fn recording_the_apply_time_view_gives_the_bytes_feast_wrote_on_materialize() {
    // The history holds each view as `feast apply` wrote it; the registry holds it after
    // `feast materialize`. Recording the same interval at the same time into the first
    // must give the second, byte for byte.
    for name in [STATS, FRESH] {
        let applied = apply_time_view(name);
        let materialized = view(FIXTURE, name);
        let meta = one(materialized, 2);
        assert_eq!(
            state(one(applied, 2)),
            None,
            "{name} was not materialized yet"
        );
        assert!(intervals(one(applied, 2)).is_empty());
        let [(start, end)] = intervals(meta)[..] else {
            panic!("one interval in the fixture");
        };
        let now = ts(one(meta, 2));
        let rec = IntervalRecord {
            view: name.to_string(),
            start,
            end,
        };
        let got = record_one(&len_field(6, applied), PROJECT, &rec, now).expect("recorded");
        assert_eq!(got, len_field(6, materialized), "{name}");
    }
}

#[test]
fn timestamps_are_written_as_feast_writes_them() {
    // The fixture's interval start, 2021-01-01T00:00:00Z: seconds only.
    assert_eq!(
        timestamp(at("2021-01-01T00:00:00Z")),
        [0x08, 0x80, 0xcc, 0xb9, 0xff, 0x05]
    );
    // The epoch is an empty message.
    assert_eq!(timestamp(at("1970-01-01T00:00:00Z")), [] as [u8; 0]);
    // Nanos only, rounded down to whole microseconds (500000000).
    assert_eq!(
        timestamp(at("1970-01-01T00:00:00.500000999Z")),
        [0x10, 0x80, 0xca, 0xb5, 0xee, 0x01]
    );
    // Below a microsecond there is nothing to write.
    assert_eq!(
        timestamp(at("1970-01-01T00:00:00.000000999Z")),
        [] as [u8; 0]
    );
    // Before 1970 the seconds are negative, the fraction is not: -0.5s is -1s + 0.5s.
    let mut want = vec![0x08];
    want.extend([0xff; 9]);
    want.push(0x01);
    want.extend([0x10, 0x80, 0xca, 0xb5, 0xee, 0x01]);
    assert_eq!(timestamp(at("1969-12-31T23:59:59.5Z")), want);
}

/// The fixture with fields no Feast we know writes: 999 in the Registry, in the
/// `driver_hourly_stats` FeatureView and in its meta, each where an ascending writer puts it.
fn with_unknown_fields() -> Vec<u8> {
    let mut top = Rebuild::parse(FIXTURE).expect("the fixture");
    let (index, stats) = top
        .kept()
        .find(|(_, f)| f.number == 6 && name_of(f.payload) == STATS)
        .map(|(i, f)| (i, f.payload))
        .expect("stats");
    let mut v = Rebuild::parse(stats).expect("a view");
    let (meta_index, meta) = v
        .kept()
        .find(|(_, f)| f.number == 2)
        .map(|(i, f)| (i, f.payload))
        .expect("a meta");
    let mut m = Rebuild::parse(meta).expect("a meta");
    m.append(999, len_field(999, b"meta field of a newer Feast"));
    v.replace(meta_index, 2, len_field(2, &m.to_bytes()));
    let mut unknown = Vec::new();
    write_varint_field(&mut unknown, 999, 1_000_000_007);
    v.append(999, unknown);
    top.replace(index, 6, len_field(6, &v.to_bytes()));
    top.append(999, len_field(999, b"registry field of a newer Feast"));
    top.to_bytes()
}

#[test]
fn unknown_fields_survive_byte_for_byte() {
    let before = with_unknown_fields();
    let now = at("2027-03-04T05:06:07Z");
    let records = [
        record(FRESH, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
        record(STATS, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    ];
    let after = record_with_version(&before, PROJECT, &records, now, VERSION).expect("recorded");

    let last = |msg: &[u8]| fields_of(msg).last().map(|f| f.raw.to_vec());
    assert_eq!(last(&after), last(&before));
    assert_eq!(by_number(&after)[&999], by_number(&before)[&999]);

    let (vb, va) = (view(&before, STATS), view(&after, STATS));
    assert_eq!(by_number(va)[&999], by_number(vb)[&999]);
    assert_eq!(
        fields_of(va).iter().map(|f| f.number).collect::<Vec<_>>(),
        [1, 2, 999]
    );
    let (mb, ma) = (one(vb, 2), one(va, 2));
    assert_eq!(by_number(ma)[&999], by_number(mb)[&999]);
    assert_eq!(
        fields_of(ma).iter().map(|f| f.number).collect::<Vec<_>>(),
        [1, 2, 3, 3, 6, 999]
    );
    assert_eq!(intervals(ma).len(), 2);

    // And nothing else moved: the same leaves change as without the unknown fields.
    let changed = changed_paths(&before, &after);
    assert!(
        changed.iter().all(|p| matches!(
            p.as_slice(),
            [(4, 0), ..] | [(5, 0), ..] | [(6, _), (2, 0), ..]
        )),
        "{changed:?}"
    );
    assert!(!changed.iter().any(|p| p.iter().any(|(n, _)| *n == 999)));
}

/// The end offsets of the fixture's top-level fields.
fn top_level_ends(msg: &[u8]) -> Vec<usize> {
    fields_of(msg)
        .iter()
        .scan(0, |end, f| {
            *end += f.raw.len();
            Some(*end)
        })
        .collect()
}

#[test]
fn a_truncated_registry_is_an_error() {
    let now = at("2027-03-04T05:06:07Z");
    let records = [
        record(FRESH, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
        record(STATS, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    ];
    let ends = top_level_ends(FIXTURE);
    // The end of the second feature view (the 7th field): before it, a view is missing.
    let both_views = ends[6];
    let mut errors = 0;
    for cut in 0..FIXTURE.len() {
        let got = record_with_version(&FIXTURE[..cut], PROJECT, &records, now, VERSION);
        // A cut between two top-level fields leaves a shorter registry, as protobuf has no
        // framing to tell; anywhere else it cuts a field, which is an error.
        let boundary = cut == 0 || ends.contains(&cut);
        if boundary && cut >= both_views {
            assert!(got.is_ok(), "cut at {cut}: {got:?}");
        } else {
            let e = got.expect_err("a truncated registry");
            errors += 1;
            if boundary {
                assert!(e.to_string().contains("no feature view"), "{e}");
            } else {
                assert!(
                    format!("{e:#}").contains("truncated"),
                    "cut at {cut}: {e:#}"
                );
            }
        }
    }
    assert!(errors > FIXTURE.len() - ends.len());
}

#[test]
fn a_corrupted_registry_is_an_error() {
    let now = at("2027-03-04T05:06:07Z");
    let records = [record(
        STATS,
        "2027-01-01T00:00:00Z",
        "2027-02-01T00:00:00Z",
    )];
    let run = |bytes: &[u8]| {
        record_with_version(bytes, PROJECT, &records, now, VERSION)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    };

    // The first tag with wire type 7.
    let mut bad_tag = FIXTURE.to_vec();
    bad_tag[0] = 0x0f;
    assert!(run(&bad_tag).expect_err("bad tag").contains("wire type 7"));

    // A varint running past ten bytes, in front of it all.
    let mut long = vec![0x08];
    long.extend([0xff; 10]);
    long.push(0x01);
    long.extend_from_slice(FIXTURE);
    assert!(
        run(&long)
            .expect_err("long varint")
            .contains("malformed varint")
    );

    // The stats view's meta cut short inside, with the lengths around it still right.
    let mut top = Rebuild::parse(FIXTURE).expect("the fixture");
    let (index, stats) = top
        .kept()
        .find(|(_, f)| f.number == 6 && name_of(f.payload) == STATS)
        .map(|(i, f)| (i, f.payload))
        .expect("stats");
    let mut v = Rebuild::parse(stats).expect("a view");
    let (mi, meta) = v
        .kept()
        .find(|(_, f)| f.number == 2)
        .map(|(i, f)| (i, f.payload))
        .expect("a meta");
    v.replace(mi, 2, len_field(2, &meta[..meta.len() - 1]));
    top.replace(index, 6, len_field(6, &v.to_bytes()));
    let e = run(&top.to_bytes()).expect_err("a broken meta");
    assert!(
        e.contains("driver_hourly_stats") && e.contains("truncated"),
        "{e}"
    );

    // A view ahead of the others whose spec holds a name of the wrong wire type.
    let mut spec = Vec::new();
    write_varint_field(&mut spec, 1, 7);
    let mut bad_name = len_field(6, &len_field(1, &spec));
    bad_name.extend_from_slice(FIXTURE);
    assert!(
        run(&bad_name)
            .expect_err("a bad name")
            .contains("wire type")
    );
}

#[test]
fn a_view_that_is_not_there_is_named_in_the_error() {
    let now = at("2027-03-04T05:06:07Z");
    let err = |view: &str, project: &str| {
        let r = [record(view, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z")];
        record_with_version(FIXTURE, project, &r, now, VERSION)
            .expect_err("not recordable")
            .to_string()
    };
    let e = err("no_such_view", PROJECT);
    assert!(
        e.contains("no feature view no_such_view in project feature_repo"),
        "{e}"
    );
    let e = err(STATS, "another_project");
    assert!(
        e.contains("no feature view driver_hourly_stats in project another_project"),
        "{e}"
    );
    let e = err("transformed_conv_rate", PROJECT);
    assert!(
        e.contains("transformed_conv_rate") && e.contains("on-demand"),
        "{e}"
    );
    let e = err("driver_quality_labels", PROJECT);
    assert!(
        e.contains("driver_quality_labels") && e.contains("label view"),
        "{e}"
    );
    // One missing view among several: nothing is produced.
    let r = [
        record(STATS, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
        record("gone", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    ];
    assert!(record_with_version(FIXTURE, PROJECT, &r, now, VERSION).is_err());
}

#[test]
fn bad_times_are_refused() {
    let now = at("2027-03-04T05:06:07Z");
    let backwards = [record(
        STATS,
        "2027-02-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
    )];
    let e = record_with_version(FIXTURE, PROJECT, &backwards, now, VERSION).expect_err("backwards");
    assert!(e.to_string().contains("ends"), "{e}");
    let far = DateTime::from_timestamp(253_402_300_800, 0).expect("year 10000");
    let beyond = [IntervalRecord {
        view: STATS.to_string(),
        start: at("2027-01-01T00:00:00Z"),
        end: far,
    }];
    let e = record_with_version(FIXTURE, PROJECT, &beyond, now, VERSION).expect_err("too far");
    assert!(e.to_string().contains("years 1 to 9999"), "{e}");
    let ok = [record(
        STATS,
        "2027-01-01T00:00:00Z",
        "2027-02-01T00:00:00Z",
    )];
    assert!(record_with_version(FIXTURE, PROJECT, &ok, far, VERSION).is_err());
}

#[test]
fn no_records_leave_the_registry_as_it_is() {
    let now = at("2027-03-04T05:06:07Z");
    assert_eq!(
        record_intervals(FIXTURE, PROJECT, &[], now).expect("nothing to do"),
        FIXTURE
    );
    assert!(record_intervals(&FIXTURE[..100], PROJECT, &[], now).is_err());
}

#[test]
fn each_commit_gets_a_fresh_uuid4_version_id() {
    let now = at("2027-03-04T05:06:07Z");
    let r = [record(
        STATS,
        "2027-01-01T00:00:00Z",
        "2027-02-01T00:00:00Z",
    )];
    let a = record_intervals(FIXTURE, PROJECT, &r, now).expect("recorded");
    let b = record_intervals(FIXTURE, PROJECT, &r, now).expect("recorded");
    let id = |reg: &[u8]| String::from_utf8(one(reg, 4).to_vec()).expect("UTF-8");
    let (ia, ib) = (id(&a), id(&b));
    assert_ne!(ia, ib);
    assert_ne!(ia, id(FIXTURE));
    assert_uuid4(&ia);
    // Everything but the version id is the same for the same input.
    assert_eq!(
        changed_paths(&a, &b)
            .iter()
            .filter(|p| p[0] != (4, 0))
            .count(),
        0
    );
}

fn assert_uuid4(id: &str) {
    assert_eq!(id.len(), 36, "{id}");
    for (i, c) in id.chars().enumerate() {
        match i {
            8 | 13 | 18 | 23 => assert_eq!(c, '-', "{id}"),
            14 => assert_eq!(c, '4', "{id}: version 4"),
            19 => assert!("89ab".contains(c), "{id}: RFC 4122 variant"),
            _ => assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{id}"),
        }
    }
}

#[test]
fn version_ids_have_the_uuid4_layout() {
    assert_eq!(
        format_uuid4([0; 16]),
        "00000000-0000-4000-8000-000000000000"
    );
    assert_eq!(
        format_uuid4([0xff; 16]),
        "ffffffff-ffff-4fff-bfff-ffffffffffff"
    );
    let bytes: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
    assert_eq!(format_uuid4(bytes), "00112233-4455-4677-8899-aabbccddeeff");
    for _ in 0..32 {
        assert_uuid4(&new_version_id().expect("random bytes"));
    }
}

/// A view message: spec {name, project}, then a meta with the given content if any.
fn view_bytes(name: &str, project: &str, meta: Option<&[u8]>) -> Vec<u8> {
    let mut spec = Vec::new();
    write_len_field(&mut spec, 1, name.as_bytes());
    write_len_field(&mut spec, 2, project.as_bytes());
    let mut v = len_field(1, &spec);
    if let Some(meta) = meta {
        write_len_field(&mut v, 2, meta);
    }
    v
}

#[test]
fn stream_views_are_recorded_too_after_feature_views() {
    let mut created = Vec::new();
    write_len_field(&mut created, 1, &timestamp(at("2026-01-01T00:00:00Z")));
    let mut reg = Vec::new();
    write_len_field(&mut reg, 6, &view_bytes("shared", "p", Some(&created)));
    write_len_field(&mut reg, 6, &view_bytes("a", "other", Some(&created)));
    write_len_field(&mut reg, 14, &view_bytes("s", "p", Some(&created)));
    write_len_field(&mut reg, 14, &view_bytes("shared", "p", Some(&created)));
    write_len_field(&mut reg, 14, &view_bytes("t", "p", None));
    write_len_field(&mut reg, 17, b"project");
    let now = at("2027-03-04T05:06:07Z");
    let r = |v: &str| record(v, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z");
    let after = record_with_version(&reg, "p", &[r("s"), r("t"), r("shared")], now, VERSION)
        .expect("recorded");

    let numbers: Vec<u32> = fields_of(&after).iter().map(|f| f.number).collect();
    assert_eq!(numbers, [4, 5, 6, 6, 14, 14, 14, 17]);
    // A feature view takes a name before a stream view does, as Feast looks there first.
    let fvs = views(&after, 6);
    assert_eq!(fvs[0].0, "a");
    assert_eq!(fvs[1].0, "shared");
    assert_eq!(intervals(one(fvs[1].1, 2)).len(), 1);
    let sfvs = views(&after, 14);
    let names: Vec<&str> = sfvs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["shared", "s", "t"]);
    assert!(intervals(one(sfvs[0].1, 2)).is_empty());
    for (_, v) in &sfvs[1..] {
        let meta = one(v, 2);
        assert_eq!(
            intervals(meta),
            [(at("2027-01-01T00:00:00Z"), at("2027-02-01T00:00:00Z"))]
        );
        assert_eq!(state(meta), Some(4));
        assert_eq!(ts(one(meta, 2)), now);
    }
    // A view without a meta gets one after its spec, with only what materialize sets.
    let t_meta: Vec<u32> = fields_of(one(sfvs[2].1, 2))
        .iter()
        .map(|f| f.number)
        .collect();
    assert_eq!(t_meta, [2, 3, 6]);
    // The other project's view of another name is untouched.
    assert_eq!(fvs[0].1, view_bytes("a", "other", Some(&created)));
}

#[test]
fn a_state_feast_left_mid_materialization_becomes_available_online() {
    // MATERIALIZING (3), in place, and a meta split in two parts read as one.
    let mut first = Vec::new();
    write_len_field(&mut first, 1, &timestamp(at("2026-01-01T00:00:00Z")));
    write_varint_field(&mut first, 6, 3);
    let mut second = Vec::new();
    write_len_field(&mut second, 5, b"v-id");
    let mut v = view_bytes("x", "p", Some(&first));
    write_len_field(&mut v, 2, &second);
    let reg = len_field(6, &v);
    let now = at("2027-03-04T05:06:07Z");
    let r = [record("x", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z")];
    let after = record_with_version(&reg, "p", &r, now, VERSION).expect("recorded");
    let v = views(&after, 6)[0].1;
    let meta = one(v, 2);
    assert_eq!(state(meta), Some(4));
    let numbers: Vec<u32> = fields_of(meta).iter().map(|f| f.number).collect();
    assert_eq!(numbers, [1, 2, 3, 6, 5]);
    assert_eq!(one(meta, 5), b"v-id");
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // Years 1 to 9999.
    (-62_135_596_800i64..253_402_300_800, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).expect("in range"))
}

fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), t.timestamp_subsec_micros() * 1_000).expect("ok")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_interval_decodes_back_and_touches_only_its_view(
        a in time(), b in time(), now in time()
    ) {
        let (start, end) = if a <= b { (a, b) } else { (b, a) };
        let r = [IntervalRecord { view: STATS.to_string(), start, end }];
        let after = record_with_version(FIXTURE, PROJECT, &r, now, VERSION).expect("recorded");
        let meta = one(view(&after, STATS), 2);
        let got = intervals(meta);
        // The fixture's interval and the new one, merged if they overlap or touch.
        let mut spans = intervals(one(view(FIXTURE, STATS), 2));
        spans.push((micros(start), micros(end)));
        let want: Vec<_> = crate::registry::intervals::merge_groups(&spans)
            .into_iter()
            .map(|g| (g.start, g.end))
            .collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(ts(one(meta, 2)), micros(now));
        prop_assert_eq!(ts(one(&after, 5)), micros(now));
        prop_assert_eq!(view(&after, FRESH), view(FIXTURE, FRESH));
        prop_assert_eq!(one(view(&after, STATS), 1), one(view(FIXTURE, STATS), 1));
    }

    #[test]
    fn timestamps_round_trip_to_the_microsecond(t in time()) {
        let bytes = timestamp(t);
        prop_assert_eq!(ts(&bytes), micros(t));
        let numbers: Vec<u32> = fields_of(&bytes).iter().map(|f| f.number).collect();
        let want: Vec<u32> = [(1, t.timestamp() != 0), (2, t.timestamp_subsec_micros() != 0)]
            .iter()
            .filter(|(_, present)| *present)
            .map(|(n, _)| *n)
            .collect();
        prop_assert_eq!(numbers, want);
    }
}
