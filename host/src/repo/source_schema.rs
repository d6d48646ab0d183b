//! The columns of a file source, read from its parquet footer, for apply-time checks and for
//! inferring entity key types the way Feast infers them from the source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::types::DType;

/// A source's columns and their Arrow types.
pub type Columns = BTreeMap<String, DataType>;

/// The parquet files of a source path, in the order they were added: for a file, the file
/// itself followed by the parts pushed beside it (the sorted `*.parquet` files of
/// `<path>.parts/`, see [`crate::offline::push`]); for a directory, its sorted `*.parquet`
/// files, so a dataset can grow by new part files. Hidden files (`.name`) are never taken:
/// that is what an interrupted atomic write leaves behind.
pub fn parquet_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        let mut files = vec![path.to_path_buf()];
        let parts = crate::offline::push::parts_dir(path);
        if parts.is_dir() {
            files.extend(parquet_files_in(&parts)?);
        }
        return Ok(files);
    }
    parquet_files_in(path)
}

/// The visible `*.parquet` files directly inside `dir`, sorted by name.
fn parquet_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let visible = p
                .file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'));
            visible && p.extension().is_some_and(|x| x == "parquet") && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads the columns of the first parquet file of `path`. `Ok(None)` for an empty directory:
/// nothing to check against yet.
pub fn read_columns(path: &Path) -> Result<Option<Columns>, String> {
    let files = parquet_files(path).map_err(|e| e.to_string())?;
    let Some(first) = files.first() else {
        return Ok(None);
    };
    let file = std::fs::File::open(first).map_err(|e| format!("{}: {e}", first.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("{} is not a readable parquet file: {e}", first.display()))?;
    Ok(Some(
        builder
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect(),
    ))
}

/// The key dtype an Arrow column holds, as Feast's type inference maps it.
pub fn key_dtype_of(t: &DataType) -> Option<DType> {
    match t {
        DataType::Int64 => Some(DType::Int64),
        DataType::Int32 | DataType::Int16 | DataType::Int8 => Some(DType::Int32),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(DType::String),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Some(DType::Bytes),
        DataType::Timestamp(_, _) => Some(DType::UnixTimestamp),
        _ => None,
    }
}
