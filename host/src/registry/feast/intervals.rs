//! Recording materialization intervals in a Feast `registry.db`, as Feast's own file registry
//! records them, and changing nothing else.
//!
//! What Feast does (docs/feast-compat.md, "Recording intervals in a Feast registry"): after a
//! view's materialization succeeds, its registry finds the view among the feature views, then
//! among the stream feature views, by name and project; appends `(start, end)` to its
//! materialization intervals, sets its last-updated time to now and its state to
//! available-online, and moves the view to the end of its list. Committing the registry then
//! stamps it with a fresh UUID4 version id and the time of the write.
//!
//! One deviation: where Feast appends the interval, we merge it with the recorded intervals
//! it overlaps or touches (`crate::registry::intervals`), so the list does not grow with every
//! run; what Feast reads from it, the covered instants and the latest end, is the same.
//!
//! We edit the serialized message instead of decoding it into a model and encoding it again:
//! every byte we do not mean to change is copied from the input ([`wire::Rebuild`]), so the
//! definitions `feast apply` wrote, and fields a newer Feast adds that we know nothing of,
//! survive exactly.
//!
//! The layout we rely on, in our words (numbers are protobuf field numbers):
//!
//! - The file is one `Registry` message and nothing else. In it: `version_id` (4, a string),
//!   `last_updated` (5, a Timestamp), and the repeated `feature_views` (6) and
//!   `stream_feature_views` (14); for the error messages only, `on_demand_feature_views` (8)
//!   and `label_views` (19).
//! - Each of those views is `{spec = 1, meta = 2}`, and each spec starts with `name` (1) and
//!   `project` (2), both strings.
//! - Feature views and stream feature views share one meta message: `created_timestamp` (1),
//!   `last_updated_timestamp` (2), the repeated `materialization_intervals` (3),
//!   `current_version_number` (4), `version_id` (5), `state` (6, an enum in which 4 is
//!   available-online). An interval is `{start_time = 1, end_time = 2}`, two Timestamps.
//! - A Timestamp is `{seconds = 1, nanos = 2}`: signed seconds since 1970-01-01T00:00:00Z
//!   (an int64, so ten bytes when negative) and a non-negative fraction below 10^9. Feast
//!   writes fields in ascending number order and leaves out a zero `seconds` or `nanos`, but
//!   always writes a Timestamp it set, even an all-zero one (then its content is empty).
//! - Feast's times are Python datetimes: whole microseconds, years 1 to 9999. We write the
//!   same precision, rounding down, and refuse a time Feast could not read back.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, Utc};
use ring::rand::{SecureRandom, SystemRandom};

use super::wire::{self, Rebuild};

const REGISTRY_VERSION_ID: u32 = 4;
const REGISTRY_LAST_UPDATED: u32 = 5;
const REGISTRY_FEATURE_VIEWS: u32 = 6;
const REGISTRY_ON_DEMAND_FEATURE_VIEWS: u32 = 8;
const REGISTRY_STREAM_FEATURE_VIEWS: u32 = 14;
const REGISTRY_LABEL_VIEWS: u32 = 19;

const VIEW_SPEC: u32 = 1;
const VIEW_META: u32 = 2;
const SPEC_NAME: u32 = 1;
const SPEC_PROJECT: u32 = 2;

const META_LAST_UPDATED: u32 = 2;
const META_INTERVALS: u32 = 3;
const META_STATE: u32 = 6;
const STATE_AVAILABLE_ONLINE: u64 = 4;

const INTERVAL_START: u32 = 1;
const INTERVAL_END: u32 = 2;
const TIMESTAMP_SECONDS: u32 = 1;
const TIMESTAMP_NANOS: u32 = 2;

/// The lists Feast searches for the view to record, in its order.
const RECORDED_KINDS: [u32; 2] = [REGISTRY_FEATURE_VIEWS, REGISTRY_STREAM_FEATURE_VIEWS];

/// One materialization to record: the view, and the window it covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalRecord {
    /// The feature view (or stream feature view) name.
    pub view: String,
    /// The start of the window materialized.
    pub start: DateTime<Utc>,
    /// The end of the window materialized: where the next incremental run starts.
    pub end: DateTime<Utc>,
}

/// Records `records` in the serialized Feast `Registry` `registry`, in order, for the views of
/// `project`, as Feast's file registry does after materializing them, and returns the new
/// registry bytes (the caller writes the file). Each view gets its interval (merged with the
/// recorded ones it overlaps or touches, where Feast appends: see `edit_meta`), its
/// last-updated time set to `now` and its state set to available-online, and moves to the end
/// of its list; the registry gets a fresh version id and `now` as its last update. Everything
/// else is kept byte for byte.
///
/// With no records the registry is returned unchanged, as Feast commits nothing then. A
/// malformed registry, a view that is not a feature view or stream feature view of
/// `project`, an interval that ends before it starts or a time Feast cannot represent is an
/// error, and nothing is produced.
pub fn record_intervals(
    registry: &[u8],
    project: &str,
    records: &[IntervalRecord],
    now: DateTime<Utc>,
) -> Result<Vec<u8>> {
    if records.is_empty() {
        Rebuild::parse(registry).context("the registry is not a valid Feast registry")?;
        return Ok(registry.to_vec());
    }
    record_with_version(registry, project, records, now, &new_version_id()?)
}

/// [`record_intervals`] with the version id given.
fn record_with_version(
    registry: &[u8],
    project: &str,
    records: &[IntervalRecord],
    now: DateTime<Utc>,
    version_id: &str,
) -> Result<Vec<u8>> {
    check_time("the time of the update", now)?;
    for r in records {
        check_time(&format!("the start of {}'s interval", r.view), r.start)?;
        check_time(&format!("the end of {}'s interval", r.view), r.end)?;
        if r.end < r.start {
            bail!(
                "the interval of {} ends ({}) before it starts ({})",
                r.view,
                r.end.to_rfc3339(),
                r.start.to_rfc3339()
            );
        }
    }
    let mut bytes = registry.to_vec();
    for r in records {
        bytes = record_one(&bytes, project, r, now)?;
    }
    let mut top = Rebuild::parse(&bytes).context("the registry is not a valid Feast registry")?;
    top.set(
        REGISTRY_VERSION_ID,
        wire::len_field(REGISTRY_VERSION_ID, version_id.as_bytes()),
    );
    top.set(
        REGISTRY_LAST_UPDATED,
        wire::len_field(REGISTRY_LAST_UPDATED, &timestamp(now)),
    );
    Ok(top.to_bytes())
}

/// One `apply_materialization`: the registry with `record` applied to its view.
fn record_one(
    registry: &[u8],
    project: &str,
    record: &IntervalRecord,
    now: DateTime<Utc>,
) -> Result<Vec<u8>> {
    let mut top = Rebuild::parse(registry).context("the registry is not a valid Feast registry")?;
    let mut found = None;
    'kinds: for kind in RECORDED_KINDS {
        for (index, field) in top.kept() {
            if field.number == kind && is_named(field.bytes()?, &record.view, project)? {
                found = Some((index, kind, field.bytes()?));
                break 'kinds;
            }
        }
    }
    let Some((index, kind, view)) = found else {
        bail!("{}", not_found(&top, &record.view, project)?);
    };
    let edited = edit_view(view, record, now)
        .with_context(|| format!("feature view {} in the registry is malformed", record.view))?;
    // Feast deletes the view from its list and appends the updated one.
    top.remove(index);
    top.append(kind, wire::len_field(kind, &edited));
    Ok(top.to_bytes())
}

/// Why `view` is not there to record, naming what it is when it is another kind of view.
fn not_found(top: &Rebuild<'_>, view: &str, project: &str) -> Result<String> {
    for (kind, what) in [
        (
            REGISTRY_ON_DEMAND_FEATURE_VIEWS,
            "an on-demand feature view, which has no materialization intervals",
        ),
        (
            REGISTRY_LABEL_VIEWS,
            "a label view, which Feast does not materialize (labels are pushed)",
        ),
    ] {
        for (_, field) in top.kept() {
            if field.number == kind && is_named(field.bytes()?, view, project)? {
                return Ok(format!(
                    "cannot record a materialization of {view} in project {project}: it is {what}"
                ));
            }
        }
    }
    Ok(format!(
        "the registry has no feature view {view} in project {project} to record a materialization in"
    ))
}

/// Whether a view message's spec names `name` in `project`. A message field that occurs more
/// than once is one message merged from all of them, so the last name and project win.
fn is_named(view: &[u8], name: &str, project: &str) -> Result<bool> {
    let (mut found_name, mut found_project): (&[u8], &[u8]) = (b"", b"");
    for field in wire::fields(view) {
        let field = field?;
        if field.number != VIEW_SPEC {
            continue;
        }
        for inner in wire::fields(field.bytes()?) {
            let inner = inner?;
            match inner.number {
                SPEC_NAME => found_name = inner.bytes()?,
                SPEC_PROJECT => found_project = inner.bytes()?,
                _ => {}
            }
        }
    }
    Ok(found_name == name.as_bytes() && found_project == project.as_bytes())
}

/// The view with `record` applied to its meta; its spec and every other field as they were.
fn edit_view(view: &[u8], record: &IntervalRecord, now: DateTime<Utc>) -> Result<Vec<u8>> {
    let mut rebuilt = Rebuild::parse(view)?;
    // Several occurrences of the meta are one message, their contents concatenated: edit it
    // as one, in the place of the first (Feast never writes more than one).
    let mut meta = Vec::new();
    let mut places = Vec::new();
    for (index, field) in rebuilt.kept() {
        if field.number == VIEW_META {
            meta.extend_from_slice(field.bytes()?);
            places.push(index);
        }
    }
    let meta = edit_meta(&meta, record, now)?;
    let meta = wire::len_field(VIEW_META, &meta);
    match places.split_first() {
        Some((&first, rest)) => {
            for &index in rest.iter().rev() {
                rebuilt.remove(index);
            }
            rebuilt.replace(first, VIEW_META, meta);
        }
        None => rebuilt.set(VIEW_META, meta),
    }
    Ok(rebuilt.to_bytes())
}

/// What `to_proto_meta` changes on materialize: the new interval with the others, the
/// last-updated time, and the state.
///
/// Where Feast appends, the new interval is merged with those it overlaps or touches
/// (`registry::intervals`), so the list stays bounded over any number of runs; the covered
/// instants and the latest end, all Feast reads of the list, are the same. An interval that
/// merges with nothing keeps its bytes; one this code cannot read is kept as it is, first.
fn edit_meta(meta: &[u8], record: &IntervalRecord, now: DateTime<Utc>) -> Result<Vec<u8>> {
    let mut rebuilt = Rebuild::parse(meta)?;
    rebuilt.set(
        META_LAST_UPDATED,
        wire::len_field(META_LAST_UPDATED, &timestamp(now)),
    );
    let mut places = Vec::new();
    let mut unreadable: Vec<Vec<u8>> = Vec::new();
    let mut raw: Vec<Vec<u8>> = Vec::new();
    let mut spans = Vec::new();
    for (index, field) in rebuilt.kept() {
        if field.number != META_INTERVALS {
            continue;
        }
        places.push(index);
        match field.bytes().ok().and_then(read_interval) {
            Some(span) => {
                spans.push(span);
                raw.push(field.raw.to_vec());
            }
            None => unreadable.push(field.raw.to_vec()),
        }
    }
    let mut interval = Vec::new();
    wire::write_len_field(&mut interval, INTERVAL_START, &timestamp(record.start));
    wire::write_len_field(&mut interval, INTERVAL_END, &timestamp(record.end));
    spans.push((record.start, record.end));
    raw.push(wire::len_field(META_INTERVALS, &interval));
    for &index in places.iter().rev() {
        rebuilt.remove(index);
    }
    for bytes in unreadable {
        rebuilt.append(META_INTERVALS, bytes);
    }
    for group in crate::registry::intervals::merge_groups(&spans) {
        let bytes = match group.members[..] {
            [one] => std::mem::take(&mut raw[one]),
            _ => {
                let mut merged = Vec::new();
                wire::write_len_field(&mut merged, INTERVAL_START, &timestamp(group.start));
                wire::write_len_field(&mut merged, INTERVAL_END, &timestamp(group.end));
                wire::len_field(META_INTERVALS, &merged)
            }
        };
        rebuilt.append(META_INTERVALS, bytes);
    }
    let mut state = Vec::new();
    wire::write_varint_field(&mut state, META_STATE, STATE_AVAILABLE_ONLINE);
    rebuilt.set(META_STATE, state);
    Ok(rebuilt.to_bytes())
}

/// An interval's `(start, end)`, or `None` if either is missing or not a time.
fn read_interval(interval: &[u8]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (mut start, mut end) = (None, None);
    for field in wire::fields(interval) {
        let field = field.ok()?;
        match field.number {
            INTERVAL_START => start = Some(read_timestamp(field.bytes().ok()?)?),
            INTERVAL_END => end = Some(read_timestamp(field.bytes().ok()?)?),
            _ => {}
        }
    }
    Some((start?, end?))
}

/// A Timestamp's content, decoded; `None` when it is not a valid time.
fn read_timestamp(content: &[u8]) -> Option<DateTime<Utc>> {
    let (mut seconds, mut nanos) = (0i64, 0u32);
    for field in wire::fields(content) {
        let field = field.ok()?;
        match field.number {
            // An int64 comes as its 64-bit two's complement.
            TIMESTAMP_SECONDS => seconds = field.varint().ok()? as i64,
            TIMESTAMP_NANOS => nanos = u32::try_from(field.varint().ok()?).ok()?,
            _ => {}
        }
    }
    DateTime::from_timestamp(seconds, nanos)
}

/// A Timestamp's content as Feast writes it: whole microseconds, zero fields left out.
fn timestamp(t: DateTime<Utc>) -> Vec<u8> {
    let seconds = t.timestamp();
    let nanos = t.timestamp_subsec_micros() * 1_000;
    let mut out = Vec::new();
    if seconds != 0 {
        // An int64 goes on the wire as its 64-bit two's complement.
        wire::write_varint_field(&mut out, TIMESTAMP_SECONDS, seconds as u64);
    }
    if nanos != 0 {
        wire::write_varint_field(&mut out, TIMESTAMP_NANOS, u64::from(nanos));
    }
    out
}

/// Refuses a time outside what a Python datetime holds: Feast could not read it back.
fn check_time(what: &str, t: DateTime<Utc>) -> Result<()> {
    if !(1..=9999).contains(&t.year()) {
        bail!(
            "{what} ({}) is outside the years 1 to 9999 that Feast can read",
            t.to_rfc3339()
        );
    }
    Ok(())
}

/// A fresh random UUID (version 4, RFC 4122 variant), written as Feast writes
/// `str(uuid.uuid4())`: 36 lowercase characters, hyphens after the 8th, 12th, 16th and 20th
/// hex digit.
pub fn new_version_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    Ok(format_uuid4(bytes))
}

/// Sets the version and variant bits of 16 random bytes and writes them as a UUID.
fn format_uuid4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
#[path = "intervals_tests.rs"]
mod tests;
