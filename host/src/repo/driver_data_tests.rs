use super::*;
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type, TimestampNanosecondType};
use chrono::TimeZone;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn now() -> DateTime<Utc> {
    // Deliberately not on a millisecond boundary, to exercise the rounding of `created`.
    Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26).unwrap()
        + chrono::Duration::nanoseconds(535_897_932)
}

fn read(path: &Path) -> RecordBatch {
    let file = File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    assert_eq!(builder.metadata().num_row_groups(), 1);
    let batches: Vec<RecordBatch> = builder
        .with_batch_size(10_000)
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // A batch size above the row count yields one batch; checking it keeps the tests from
    // silently looking at only part of the file.
    assert_eq!(batches.len(), 1);
    batches.into_iter().next().unwrap()
}

#[test]
fn generates_feast_shaped_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("driver_stats.parquet");
    let rows = write_driver_stats(&path, now(), 42).unwrap();
    assert_eq!(rows, 1807);

    let batch = read(&path);
    assert_eq!(batch.num_rows(), 1807);

    let utc = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let naive = DataType::Timestamp(TimeUnit::Nanosecond, None);
    let pair = |a: &str, b: &str| {
        DataType::Struct(Fields::from(vec![
            Field::new(a, DataType::Utf8, true),
            Field::new(b, DataType::Utf8, true),
        ]))
    };
    let expected = [
        ("event_timestamp", utc),
        ("driver_id", DataType::Int64),
        ("conv_rate", DataType::Float32),
        ("acc_rate", DataType::Float32),
        ("avg_daily_trips", DataType::Int64),
        ("created", naive),
        ("driver_metadata", pair("vehicle_type", "rating")),
        ("driver_config", DataType::Utf8),
        ("driver_profile", pair("name", "age")),
    ];
    let schema = batch.schema();
    let actual: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    let expected: Vec<(&str, &DataType)> = expected.iter().map(|(n, t)| (*n, t)).collect();
    assert_eq!(actual, expected);
    for column in batch.columns() {
        assert_eq!(column.null_count(), 0);
    }

    // Drivers: all five, 361 rows each, plus the two copies of row 902 (driver 1003).
    let ids = batch.column(1).as_primitive::<Int64Type>();
    assert_eq!(ids.value(0), 1005);
    assert_eq!(ids.value(1806), 1003);
    let mut counts = BTreeMap::new();
    for id in ids.values() {
        *counts.entry(*id).or_insert(0usize) += 1;
    }
    let dup_driver = ids.value(902);
    assert_eq!(dup_driver, 1003);
    let expected_counts: BTreeMap<i64, usize> = DRIVER_IDS
        .iter()
        .map(|&id| (id, if id == dup_driver { 363 } else { 361 }))
        .collect();
    assert_eq!(counts, expected_counts);

    // Timestamps: hourly up to one hour before the truncated `now`, plus the fixed row.
    let ts = batch.column(0).as_primitive::<TimestampNanosecondType>();
    let end = Utc.with_ymd_and_hms(2025, 3, 14, 15, 0, 0).unwrap();
    let max_expected = (end - chrono::Duration::hours(1))
        .timestamp_nanos_opt()
        .unwrap();
    let min_expected = Utc
        .with_ymd_and_hms(2021, 4, 12, 7, 0, 0)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap();
    assert_eq!(*ts.values().iter().max().unwrap(), max_expected);
    assert_eq!(*ts.values().iter().min().unwrap(), min_expected);
    let start = (end - chrono::Duration::days(15))
        .timestamp_nanos_opt()
        .unwrap();
    assert_eq!(ts.value(0), start);
    assert_eq!(ts.value(360), min_expected);
    assert!(ts.values().iter().all(|v| v % NANOS_PER_MILLI == 0));

    // The duplicated row is an exact copy.
    for column in batch.columns() {
        let tail = column.slice(1805, 2);
        assert_eq!(tail.slice(0, 1).to_data(), column.slice(902, 1).to_data());
        assert_eq!(tail.slice(1, 1).to_data(), column.slice(902, 1).to_data());
    }

    // `created` is `now` rounded to the millisecond, identical everywhere.
    let created = batch.column(5).as_primitive::<TimestampNanosecondType>();
    let created_expected = Utc
        .with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
        + 536 * NANOS_PER_MILLI;
    assert!(created.values().iter().all(|v| *v == created_expected));

    for col in [2, 3] {
        let rates = batch.column(col).as_primitive::<Float32Type>();
        assert!(rates.values().iter().all(|v| (0.0..1.0).contains(v)));
    }
    let trips = batch.column(4).as_primitive::<Int64Type>();
    assert!(trips.values().iter().all(|v| (0..1000).contains(v)));

    let metadata = batch.column(6).as_struct();
    let vehicles = metadata.column(0).as_string::<i32>();
    assert!(
        vehicles
            .iter()
            .all(|v| ["sedan", "suv", "truck"].contains(&v.unwrap()))
    );
    let ratings = metadata.column(1).as_string::<i32>();
    let mut seen_ratings = HashSet::new();
    for rating in ratings.iter().map(Option::unwrap) {
        assert_eq!(rating.len(), 3, "{rating}");
        let value: f64 = rating.parse().unwrap();
        assert!((3.0..=5.0).contains(&value), "{rating}");
        seen_ratings.insert(rating);
    }
    assert!(seen_ratings.contains("3.0") && seen_ratings.contains("5.0"));

    let configs = batch.column(7).as_string::<i32>();
    for config in configs.iter().map(Option::unwrap) {
        let json: serde_json::Value = serde_json::from_str(config).unwrap();
        let km = json["max_distance_km"].as_i64().unwrap();
        assert!((10..=199).contains(&km), "{config}");
        let zones: Vec<&str> = json["preferred_zones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|z| z.as_str().unwrap())
            .collect();
        assert_eq!(zones.len(), 2, "{config}");
        assert_ne!(zones[0], zones[1], "{config}");
        assert!(zones.iter().all(|z| ZONES.contains(z)), "{config}");
        assert!(config.starts_with("{\"max_distance_km\": "), "{config}");
        assert!(config.contains(", \"preferred_zones\": [\""), "{config}");
    }

    let profile = batch.column(8).as_struct();
    let names = profile.column(0).as_string::<i32>();
    for (name, id) in names.iter().zip(ids.values()) {
        assert_eq!(name.unwrap(), format!("driver_{id}"));
    }
    let ages = profile.column(1).as_string::<i32>();
    let ages: Vec<u32> = ages.iter().map(|a| a.unwrap().parse().unwrap()).collect();
    assert!(ages.iter().all(|a| (25..=59).contains(a)));
    assert_eq!(ages.iter().min(), Some(&25));
    assert_eq!(ages.iter().max(), Some(&59));
}

#[test]
fn same_seed_same_bytes_and_no_temp_left() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    let b = dir.path().join("b.parquet");
    let c = dir.path().join("c.parquet");
    write_driver_stats(&a, now(), 7).unwrap();
    write_driver_stats(&b, now(), 7).unwrap();
    write_driver_stats(&c, now(), 8).unwrap();
    let (a, b, c) = (
        fs::read(a).unwrap(),
        fs::read(b).unwrap(),
        fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);

    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.parquet", "b.parquet", "c.parquet"]);
}

#[test]
fn overwrites_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("driver_stats.parquet");
    fs::write(&path, b"not parquet").unwrap();
    assert_eq!(write_driver_stats(&path, now(), 1).unwrap(), 1807);
    assert_eq!(read(&path).num_rows(), 1807);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn rounding_is_half_even() {
    assert_eq!(round_half_even(1_500_000, NANOS_PER_MILLI), 2_000_000);
    assert_eq!(round_half_even(2_500_000, NANOS_PER_MILLI), 2_000_000);
    assert_eq!(round_half_even(2_500_001, NANOS_PER_MILLI), 3_000_000);
    assert_eq!(round_half_even(-1_500_000, NANOS_PER_MILLI), -2_000_000);
    assert_eq!(round_half_even(1_499_999, NANOS_PER_MILLI), 1_000_000);
}
