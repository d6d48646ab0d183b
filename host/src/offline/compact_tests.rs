use arrow_array::{Array, Int64Array, StringArray};

use super::*;
use crate::offline::parts::parts_dir;
use crate::offline::source::tests::{push, sibling, source};

/// Every row of the source, in the order readers read them: (id, v).
fn rows(source: &Path) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for path in parquet_files(source).unwrap() {
        let file = File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let ids = batch.column_by_name("id").unwrap();
            let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
            let vs = batch.column_by_name("v").unwrap();
            let vs = vs.as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..batch.num_rows() {
                out.push((ids.value(i), vs.value(i).to_string()));
            }
        }
    }
    out
}

/// The parquet files in the parts directory, by name.
fn parts(source: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(parts_dir(source))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    names.sort();
    names
}

fn pushes(source: &Path, ids: std::ops::Range<i64>) -> Vec<PathBuf> {
    ids.map(|i| push(source, 1000 + i, &format!("v{i}")))
        .collect()
}

#[test]
fn fewer_parts_than_the_threshold_are_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 3);
    pushes(&src, 0..(COMPACT_AT as i64 - 1));
    let before = parts(&src);
    assert!(!due(&parts_dir(&src)));
    assert_eq!(compact(&src).unwrap(), Compaction::default());
    assert_eq!(parts(&src), before);
}

#[test]
fn due_parts_become_one_part_with_every_row_in_the_same_order() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 3);
    let pushed = pushes(&src, 0..COMPACT_AT as i64);
    let before = rows(&src);
    assert_eq!(before.len(), 3 + COMPACT_AT);
    assert!(due(&parts_dir(&src)));

    let c = compact(&src).unwrap();
    assert_eq!(c.replaced, COMPACT_AT);
    let last = pushed
        .last()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let want = format!("{}-c.parquet", last.trim_end_matches(".parquet"));
    assert_eq!(parts(&src), std::slice::from_ref(&want));
    assert_eq!(c.written, [parts_dir(&src).join(&want)]);
    assert_eq!(rows(&src), before);
    assert!(!due(&parts_dir(&src)));

    // Later pushes sort after it, and the next compaction leaves it alone (one compacted part
    // is far from the threshold of compacted parts).
    let later = pushes(&src, 100..100 + COMPACT_AT as i64);
    let before = rows(&src);
    let c = compact(&src).unwrap();
    assert_eq!(c.replaced, COMPACT_AT);
    let last = later.last().unwrap().file_name().unwrap().to_string_lossy();
    let second = format!("{}-c.parquet", last.trim_end_matches(".parquet"));
    assert_eq!(parts(&src), [want, second]);
    assert_eq!(rows(&src), before);
}

#[test]
fn many_compacted_parts_are_merged_into_one() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 1);
    // Compacted parts as earlier compactions leave them: one per name, in push order.
    for part in pushes(&src, 0..COMPACT_AT as i64) {
        let name = part.file_name().unwrap().to_string_lossy().into_owned();
        let compacted =
            part.with_file_name(format!("{}-c.parquet", name.trim_end_matches(".parquet")));
        std::fs::rename(&part, &compacted).unwrap();
    }
    let before = rows(&src);
    assert!(due(&parts_dir(&src)));
    let c = compact(&src).unwrap();
    assert_eq!(c.replaced, COMPACT_AT);
    assert_eq!(parts(&src).len(), 1);
    assert_eq!(rows(&src), before);
}

#[test]
fn an_unreadable_part_and_a_file_of_the_user_end_a_run_and_stay_where_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 1);
    let half = COMPACT_AT as i64 / 2;
    let first = pushes(&src, 0..half);
    // A torn part of ours, sorting right after the first half.
    let torn = sibling(first.last().unwrap());
    std::fs::write(&torn, b"PAR1 cut short").unwrap();
    let second = pushes(&src, half..COMPACT_AT as i64);
    // The user's own file among the parts: never merged, never moved.
    let theirs = parts_dir(&src).join("part-zzz-theirs.parquet");
    std::fs::copy(&second[0], &theirs).unwrap();
    let before: Vec<_> = rows_skipping(&src, &torn);

    let c = compact(&src).unwrap();
    assert_eq!(c.written.len(), 2, "{c:?}");
    assert_eq!(c.replaced, COMPACT_AT);
    let names = parts(&src);
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(torn.exists() && theirs.exists());
    assert_eq!(rows_skipping(&src, &torn), before);
}

/// [`rows`] of every file but `skip`.
fn rows_skipping(source: &Path, skip: &Path) -> Vec<(i64, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let moved = tmp.path().join("skipped");
    std::fs::rename(skip, &moved).unwrap();
    let out = rows(source);
    std::fs::rename(&moved, skip).unwrap();
    out
}

#[test]
fn the_originals_a_killed_compaction_left_are_removed_before_anything_else() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 2);
    let pushed = pushes(&src, 0..COMPACT_AT as i64);
    let before = rows(&src);
    let kept = tmp.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    for p in &pushed {
        std::fs::copy(p, kept.join(p.file_name().unwrap())).unwrap();
    }
    compact(&src).unwrap();
    // As if killed after the merged part was renamed in, before the originals were removed.
    for p in &pushed {
        std::fs::copy(kept.join(p.file_name().unwrap()), p).unwrap();
    }
    assert_eq!(parts(&src).len(), COMPACT_AT + 1);
    assert_eq!(recover(&parts_dir(&src)).unwrap(), COMPACT_AT);
    assert_eq!(parts(&src).len(), 1);
    assert_eq!(rows(&src), before);
    // A compaction does the same first.
    for p in &pushed {
        std::fs::copy(kept.join(p.file_name().unwrap()), p).unwrap();
    }
    let c = compact(&src).unwrap();
    assert_eq!(c.recovered, COMPACT_AT);
    assert_eq!(rows(&src), before);
}
