//! The demo dataset of Feast's `local` template, `data/driver_stats.parquet`.
//!
//! `feast init` ships a feature repo whose only data source is this file, generated at init time
//! by `feast.driver_test_data.create_driver_hourly_stats_df`. We generate the same shape of data
//! (same columns, Arrow types, row order and quirks such as the duplicated row) so that a repo
//! initialised by edgefeat behaves like one initialised by Feast, and so that Feast itself can
//! read our file. The random values come from a seeded PRNG instead of Python's `random`, so
//! they differ from Feast's but are reproducible: the same `now` and `seed` give the same bytes.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};

use crate::fsio::write_atomic;
use arrow_array::{
    ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// The drivers present in the generated data.
pub const DRIVER_IDS: [i64; 5] = [1001, 1002, 1003, 1004, 1005];

const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_HOUR: i64 = 3_600 * 1_000_000_000;
/// Feast generates 15 days of hourly history.
const HISTORY_HOURS: i64 = 15 * 24;
/// Feast appends one row per driver at this fixed instant (2021-04-12T07:00:00Z), far older
/// than the hourly history, so that the data always contains a stale value per entity.
const FIXED_ROW_NANOS: i64 = 1_618_210_800 * 1_000_000_000;
const VEHICLE_TYPES: [&str; 3] = ["sedan", "suv", "truck"];
const ZONES: [&str; 4] = ["north", "south", "east", "west"];

/// Writes Feast's `driver_stats.parquet` demo data to `path`, as of `now`, and returns the
/// number of rows written.
///
/// The file mirrors what Feast's `local` template writes: 15 days of hourly rows ending at the
/// hour of `now` for each of [`DRIVER_IDS`] (in reverse driver order, as Feast does), one extra
/// row per driver at 2021-04-12T07:00:00Z, and one row duplicated twice at the end (Feast adds
/// it to exercise de-duplication on `created`). Feature values are drawn from a PRNG seeded by
/// `seed`, so a given `(now, seed)` always yields a byte-identical file.
///
/// The write is atomic: the file is written to a temporary sibling, synced and renamed over
/// `path`, so a reader never sees a half-written file. The parent directory is created if
/// missing.
pub fn write_driver_stats(path: &Path, now: DateTime<Utc>, seed: u64) -> Result<usize> {
    let batch = build_batch(now, seed)?;
    let rows = batch.num_rows();

    write_atomic(path, |file| {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // One row group whatever the size: the data is tiny, and pandas writes one too.
            .set_max_row_group_row_count(None)
            .build();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))
            .context("creating the Parquet writer")?;
        writer.write(&batch).context("writing driver stats")?;
        writer.close().context("finishing the Parquet file")?;
        Ok(())
    })?;
    Ok(rows)
}

/// The Arrow schema of Feast's file, in Feast's column order. Every field is nullable because
/// that is how pandas (via pyarrow) declares them, even though no value is ever null.
fn schema() -> Schema {
    Schema::new(vec![
        Field::new(
            "event_timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("driver_id", DataType::Int64, true),
        Field::new("conv_rate", DataType::Float32, true),
        Field::new("acc_rate", DataType::Float32, true),
        Field::new("avg_daily_trips", DataType::Int64, true),
        Field::new(
            "created",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        ),
        Field::new("driver_metadata", DataType::Struct(metadata_fields()), true),
        Field::new("driver_config", DataType::Utf8, true),
        Field::new("driver_profile", DataType::Struct(profile_fields()), true),
    ])
}

fn metadata_fields() -> Fields {
    Fields::from(vec![
        Field::new("vehicle_type", DataType::Utf8, true),
        Field::new("rating", DataType::Utf8, true),
    ])
}

fn profile_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("age", DataType::Utf8, true),
    ])
}

/// One generated row, before it is pivoted into columns.
#[derive(Clone)]
struct Row {
    event_timestamp: i64,
    driver_id: i64,
    conv_rate: f32,
    acc_rate: f32,
    avg_daily_trips: i64,
    vehicle_type: &'static str,
    rating: String,
    config: String,
    name: String,
    age: String,
}

fn build_batch(now: DateTime<Utc>, seed: u64) -> Result<RecordBatch> {
    let now_nanos = now
        .timestamp_nanos_opt()
        .ok_or_else(|| anyhow!("{now} cannot be represented in nanoseconds since the epoch"))?;
    let end = now_nanos.div_euclid(NANOS_PER_HOUR) * NANOS_PER_HOUR;
    let start = end - HISTORY_HOURS * NANOS_PER_HOUR;
    let created = round_half_even(now_nanos, NANOS_PER_MILLI);

    let mut rng = SplitMix64(seed);
    let per_driver = HISTORY_HOURS as usize + 1;
    let mut rows = Vec::with_capacity(DRIVER_IDS.len() * per_driver + 2);
    for &driver_id in DRIVER_IDS.iter().rev() {
        let hourly = (0..HISTORY_HOURS).map(|h| start + h * NANOS_PER_HOUR);
        for ts in hourly.chain(std::iter::once(FIXED_ROW_NANOS)) {
            // Feast rounds event timestamps to the millisecond; hourly ones already are, but
            // keeping the step means the data stays right if the grid ever changes.
            rows.push(random_row(
                &mut rng,
                round_half_even(ts, NANOS_PER_MILLI),
                driver_id,
            )?);
        }
    }
    // Feast appends the middle row twice more, so that the data has exact duplicates of
    // (driver_id, event_timestamp, created) that consumers must tolerate.
    let dup = rows[rows.len() / 2].clone();
    rows.push(dup.clone());
    rows.push(dup);

    let n = rows.len();
    let event_ts =
        TimestampNanosecondArray::from_iter_values(rows.iter().map(|r| r.event_timestamp))
            .with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        Arc::new(event_ts),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.driver_id),
        )),
        Arc::new(Float32Array::from_iter_values(
            rows.iter().map(|r| r.conv_rate),
        )),
        Arc::new(Float32Array::from_iter_values(
            rows.iter().map(|r| r.acc_rate),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.avg_daily_trips),
        )),
        Arc::new(TimestampNanosecondArray::from_iter_values(
            std::iter::repeat_n(created, n),
        )),
        Arc::new(StructArray::try_new(
            metadata_fields(),
            vec![
                strings(rows.iter().map(|r| r.vehicle_type)),
                strings(rows.iter().map(|r| r.rating.as_str())),
            ],
            None,
        )?),
        strings(rows.iter().map(|r| r.config.as_str())),
        Arc::new(StructArray::try_new(
            profile_fields(),
            vec![
                strings(rows.iter().map(|r| r.name.as_str())),
                strings(rows.iter().map(|r| r.age.as_str())),
            ],
            None,
        )?),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema()), columns)?)
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(values.map(Some).collect::<StringArray>())
}

fn random_row(rng: &mut SplitMix64, event_timestamp: i64, driver_id: i64) -> Result<Row> {
    let conv_rate = rng.next_f32();
    let acc_rate = rng.next_f32();
    let avg_daily_trips = rng.below(1000) as i64;
    let vehicle_type = VEHICLE_TYPES[rng.below(VEHICLE_TYPES.len() as u64) as usize];
    // Feast stores `round(uniform(3.0, 5.0), 1)` as a string; drawing the tenths directly
    // gives the same 21 possible values without float formatting surprises.
    let tenths = 30 + rng.below(21);
    let rating = format!("{}.{}", tenths / 10, tenths % 10);
    let max_distance_km = 10 + rng.below(190);
    // Two distinct zones, in random order, like Python's `random.sample(zones, 2)`.
    let first = rng.below(4) as usize;
    let mut second = rng.below(3) as usize;
    if second >= first {
        second += 1;
    }
    let config = python_json(&serde_json::json!({
        "max_distance_km": max_distance_km,
        "preferred_zones": [ZONES[first], ZONES[second]],
    }))?;
    let age = (25 + rng.below(35)).to_string();
    Ok(Row {
        event_timestamp,
        driver_id,
        conv_rate,
        acc_rate,
        avg_daily_trips,
        vehicle_type,
        rating,
        config,
        name: format!("driver_{driver_id}"),
        age,
    })
}

/// Serialises like Python's `json.dumps` with default separators (`", "` and `": "`), so the
/// text matches what Feast writes; serde_json's compact form has no spaces. Keys come out in
/// the order the `json!` literal lists them (the workspace enables serde_json's
/// `preserve_order`, so the map is an IndexMap); that literal lists them as Feast inserts
/// them, which here is also sorted order.
fn python_json(value: &serde_json::Value) -> Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    serde::Serialize::serialize(value, &mut ser)?;
    Ok(String::from_utf8(out)?)
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Rounds to the nearest multiple of `unit`, ties to even, as pandas' `Timestamp.round` does.
fn round_half_even(value: i64, unit: i64) -> i64 {
    let q = value.div_euclid(unit);
    let r = value.rem_euclid(unit);
    let q = match (2 * r).cmp(&unit) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    };
    q * unit
}

/// splitmix64: tiny, well mixed and fully specified, so the output is stable across platforms
/// and releases in a way a dependency's generator would not promise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): 24 random bits are exactly representable in an f32, so the result
    /// can never round up to 1.0.
    fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u32 << 24) as f32
    }

    /// Uniform in [0, n) by multiply-shift; the bias for n < 2^32 is below 2^-32, far below
    /// anything demo data could show.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }
}

#[cfg(test)]
#[path = "driver_data_tests.rs"]
mod tests;
