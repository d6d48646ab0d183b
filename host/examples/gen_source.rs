//! Writes a synthetic feature source for load tests: `rows` drivers (ids from 1), one row each,
//! with the demo's three numeric features.
//!
//!   cargo run --release --example gen_source -- OUT.parquet ROWS
// Benchmark and example code: a panic is a failed run, not a crashed server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(out), Some(rows)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: gen_source OUT.parquet ROWS");
    };
    let rows: i64 = rows.parse()?;
    let t0: i64 = 1_700_000_000;
    let schema = Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new(
            "event_timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("conv_rate", DataType::Float32, true),
        Field::new("acc_rate", DataType::Float32, true),
        Field::new("avg_daily_trips", DataType::Int64, true),
    ]));
    let file = std::fs::File::create(&out)?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)?;
    for start in (1..=rows).step_by(100_000) {
        let ids: Vec<i64> = (start..(start + 100_000).min(rows + 1)).collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(
                TimestampNanosecondArray::from(
                    ids.iter()
                        .map(|i| (t0 + i % 3600) * 1_000_000_000)
                        .collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Float32Array::from(
                ids.iter()
                    .map(|i| (i % 1000) as f32 / 1000.0)
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Float32Array::from(
                ids.iter().map(|i| (i % 7) as f32 / 7.0).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                ids.iter().map(|i| i % 1000).collect::<Vec<_>>(),
            )),
        ];
        w.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
    }
    w.close()?;
    Ok(())
}
