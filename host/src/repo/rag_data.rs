//! The documents of the `rag` template (`edgefeat init --template rag`): `data/documents.parquet`
//! with deterministic synthetic embeddings, so that a search works without an embedding model.
//!
//! Each document belongs to one of [`TOPICS`]; its embedding has one dimension per topic, near 1
//! on its own topic's axis and near 0 elsewhere (a seeded PRNG adds ±0.2 of noise, rounded to
//! three decimals so the values read well in a response). A query such as "mostly databases,
//! a little security" is then written by hand: `[0.9, 0, 0, 0.3, 0, 0, 0, 0]`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use arrow_array::types::Float32Type;
use arrow_array::{
    ArrayRef, Int64Array, ListArray, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;

use crate::fsio::write_atomic;

/// The topics, one embedding dimension each, in dimension order.
pub const TOPICS: [&str; 8] = [
    "databases",
    "networking",
    "compilers",
    "security",
    "graphics",
    "machine learning",
    "operating systems",
    "distributed systems",
];

/// Documents per topic.
pub const DOCS_PER_TOPIC: usize = 6;

/// One document row.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The join key.
    pub doc_id: i64,
    /// A title.
    pub title: String,
    /// Its topic, a filterable string feature.
    pub category: String,
    /// A year, a filterable number.
    pub year: i64,
    /// The embedding.
    pub embedding: Vec<f32>,
}

/// The template's documents: ids from 1, topic by topic; the same every time.
pub fn documents() -> Vec<Document> {
    let mut state: u64 = 0x5EED_D0C5;
    let mut next = move || {
        // SplitMix64: small, seedable, and the same on every platform.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out = Vec::new();
    for (t, topic) in TOPICS.iter().enumerate() {
        for n in 0..DOCS_PER_TOPIC {
            let embedding = (0..TOPICS.len())
                .map(|d| {
                    let noise = (next() >> 40) as f32 / (1u32 << 24) as f32 * 0.4 - 0.2;
                    let x = if d == t { 1.0 + noise / 2.0 } else { noise };
                    (x * 1000.0).round() / 1000.0
                })
                .collect();
            out.push(Document {
                doc_id: (t * DOCS_PER_TOPIC + n + 1) as i64,
                title: format!("{} note {}", capitalized(topic), n + 1),
                category: topic.to_string(),
                year: 2019 + (next() % 7) as i64,
                embedding,
            });
        }
    }
    out
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Writes `docs` as a Parquet file at `path` (atomically), every row stamped `now`: columns
/// `event_timestamp`, `doc_id`, `title`, `category`, `year`, `embedding` (list of float32),
/// `created`.
pub fn write_documents(path: &Path, docs: &[Document], now: DateTime<Utc>) -> Result<usize> {
    let nanos = now
        .timestamp_nanos_opt()
        .ok_or_else(|| anyhow!("{now} cannot be represented in nanoseconds"))?;
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "event_timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("doc_id", DataType::Int64, true),
        Field::new("title", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("year", DataType::Int64, true),
        Field::new(
            "embedding",
            DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true))),
            true,
        ),
        Field::new(
            "created",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        ),
    ]));
    let ts = || -> ArrayRef {
        Arc::new(TimestampNanosecondArray::from(vec![nanos; docs.len()]).with_timezone("UTC"))
    };
    let columns: Vec<ArrayRef> = vec![
        ts(),
        Arc::new(Int64Array::from_iter_values(docs.iter().map(|d| d.doc_id))),
        Arc::new(StringArray::from_iter_values(docs.iter().map(|d| &d.title))),
        Arc::new(StringArray::from_iter_values(
            docs.iter().map(|d| &d.category),
        )),
        Arc::new(Int64Array::from_iter_values(docs.iter().map(|d| d.year))),
        Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
            docs.iter()
                .map(|d| Some(d.embedding.iter().map(|x| Some(*x)).collect::<Vec<_>>())),
        )),
        Arc::new(TimestampNanosecondArray::from(vec![nanos; docs.len()])),
    ];
    let batch = RecordBatch::try_new(schema, columns).context("building the documents")?;
    write_atomic(path, |file| {
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None)
            .context("creating the Parquet writer")?;
        writer.write(&batch).context("writing the documents")?;
        writer.close().context("finishing the Parquet file")?;
        Ok(())
    })?;
    Ok(docs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_deterministic_and_topical() {
        let docs = documents();
        assert_eq!(docs, documents());
        assert_eq!(docs.len(), TOPICS.len() * DOCS_PER_TOPIC);
        for d in &docs {
            let topic = TOPICS
                .iter()
                .position(|t| *t == d.category)
                .expect("a topic");
            let strongest = (0..TOPICS.len())
                .max_by(|a, b| d.embedding[*a].total_cmp(&d.embedding[*b]))
                .expect("dimensions");
            assert_eq!(strongest, topic, "{d:?}");
        }
    }
}
