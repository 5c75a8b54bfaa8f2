//! Event tables from files, registered by name (`cairn table add DnsEvents ./dns/*.jsonl`),
//! so TI-map joins between intelligence and logs run here.
//!
//! CSV and Parquet are read by DataFusion's own readers, at query time, in parallel;
//! their columns are brought to Kusto's types (any integer → long, timestamps →
//! datetime in UTC). JSON lines are read here: each line an object, its columns typed
//! from what all lines hold (numbers, booleans, RFC 3339 strings → datetime, objects and
//! arrays → dynamic, mixed → dynamic).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{cast, Expr as DfExpr};
use datafusion::prelude::{CsvReadOptions, DataFrame, ParquetReadOptions, SessionContext};
use serde_json::Value;

use crate::plan::col;
use crate::value::{build, KType, KVal};

/// A file table's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Jsonl,
    Csv,
    Parquet,
}

impl FileFormat {
    /// From a file name's extension.
    pub fn guess(path: &str) -> Option<FileFormat> {
        let p = path.to_ascii_lowercase();
        if p.ends_with(".csv") {
            Some(FileFormat::Csv)
        } else if p.ends_with(".parquet") {
            Some(FileFormat::Parquet)
        } else if [".jsonl", ".json", ".ndjson", ".log"].iter().any(|e| p.ends_with(e)) {
            Some(FileFormat::Jsonl)
        } else {
            None
        }
    }

    pub fn parse(s: &str) -> Option<FileFormat> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "json" | "ndjson" => Some(FileFormat::Jsonl),
            "csv" => Some(FileFormat::Csv),
            "parquet" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

/// The files a path names: a file, every file in a directory, or a `*` pattern in the
/// last component (`./logs/dns/*.jsonl`). Sorted; an empty match is an error.
pub fn files_of(path: &str) -> Result<Vec<PathBuf>, String> {
    let p = Path::new(path);
    let mut out = Vec::new();
    if p.is_dir() {
        for e in std::fs::read_dir(p).map_err(|e| format!("{path}: {e}"))? {
            let e = e.map_err(|e| format!("{path}: {e}"))?.path();
            if e.is_file() {
                out.push(e);
            }
        }
    } else if path.contains('*') {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let pat = p.file_name().and_then(|n| n.to_str()).unwrap_or("*");
        for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let e = e.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if e.is_file() && e.file_name().and_then(|n| n.to_str()).is_some_and(|n| wildcard(pat, n)) {
                out.push(e);
            }
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    } else {
        return Err(format!("{path}: no such file or directory"));
    }
    out.sort();
    if out.is_empty() {
        return Err(format!("{path}: no files match"));
    }
    Ok(out)
}

fn wildcard(p: &str, s: &str) -> bool {
    match p.split_once('*') {
        None => p == s,
        Some((head, tail)) => {
            s.starts_with(head) && {
                let rest = &s[head.len()..];
                (0..=rest.len()).filter(|i| rest.is_char_boundary(*i)).any(|i| wildcard(tail, &rest[i..]))
            }
        }
    }
}

/// Reads a file table. CSV and Parquet stay lazy (DataFusion scans them when the query
/// runs); JSON lines are read now.
pub async fn read(ctx: &SessionContext, path: &str, format: FileFormat) -> Result<DataFrame, String> {
    let files = files_of(path)?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let df = match format {
        FileFormat::Csv => {
            ctx.read_csv(names, CsvReadOptions::new().file_extension("")).await.map_err(|e| format!("{path}: {e}"))?
        }
        FileFormat::Parquet => ctx
            .read_parquet(names, ParquetReadOptions::default().file_extension(""))
            .await
            .map_err(|e| format!("{path}: {e}"))?,
        FileFormat::Jsonl => return ctx.read_batch(jsonl(&files)?).map_err(|e| e.to_string()),
    };
    kusto_types(df, path)
}

/// Columns cast to the Arrow types Kusto's types travel as.
fn kusto_types(df: DataFrame, path: &str) -> Result<DataFrame, String> {
    let mut sel: Vec<DfExpr> = Vec::new();
    for f in df.schema().fields() {
        let n = f.name();
        let to = match f.data_type() {
            DataType::Utf8View | DataType::LargeUtf8 => Some(DataType::Utf8),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => Some(DataType::Int64),
            DataType::Float16 | DataType::Float32 | DataType::Decimal128(..) => Some(DataType::Float64),
            DataType::Timestamp(u, tz) if *u != TimeUnit::Microsecond || tz.as_deref() != Some("UTC") => {
                Some(KType::DateTime.arrow())
            }
            DataType::Date32 | DataType::Date64 => Some(KType::DateTime.arrow()),
            DataType::Utf8 | DataType::Int64 | DataType::Float64 | DataType::Boolean | DataType::Timestamp(..) => None,
            DataType::Null => Some(DataType::Utf8),
            other => return Err(format!("{path}: column {n} has type {other}, which file tables do not read yet")),
        };
        sel.push(match to {
            Some(t) => cast(col(n), t).alias(n.clone()),
            None => col(n),
        });
    }
    df.select(sel).map_err(|e| e.to_string())
}

/// JSON lines into one batch, columns typed from every line's values.
fn jsonl(files: &[PathBuf]) -> Result<RecordBatch, String> {
    let mut rows: Vec<serde_json::Map<String, Value>> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => rows.push(m),
                Ok(_) => return Err(format!("{}:{}: not a JSON object", f.display(), i + 1)),
                Err(e) => return Err(format!("{}:{}: {e}", f.display(), i + 1)),
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for r in &rows {
        for k in r.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    for n in &names {
        let values: Vec<&Value> = rows.iter().filter_map(|r| r.get(n)).filter(|v| !v.is_null()).collect();
        let t = column_type(&values);
        let vals = rows.iter().map(|r| match (r.get(n), t) {
            (None | Some(Value::Null), KType::String) => KVal::Str(String::new()),
            (None | Some(Value::Null), _) => KVal::Null,
            (Some(v), KType::Dynamic) => KVal::Dyn(v.clone()),
            (Some(Value::String(s)), _) => KVal::Str(s.clone()),
            (Some(v), _) => KVal::Dyn(v.clone()),
        });
        arrays.push(build(t, vals));
        fields.push(Field::new(n, t.arrow(), true));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}

fn column_type(values: &[&Value]) -> KType {
    if values.is_empty() {
        return KType::String;
    }
    if values.iter().all(|v| v.is_boolean()) {
        KType::Bool
    } else if values.iter().all(|v| v.is_i64()) {
        KType::Long
    } else if values.iter().all(|v| v.is_number()) {
        KType::Real
    } else if values.iter().all(|v| v.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())) {
        KType::DateTime
    } else if values.iter().all(|v| v.is_string()) {
        KType::String
    } else {
        KType::Dynamic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_files() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["a.jsonl", "b.jsonl", "c.csv"] {
            std::fs::write(dir.path().join(n), "{}\n").unwrap();
        }
        let d = dir.path().display().to_string();
        let names = |p: &str| -> Vec<String> {
            files_of(p).unwrap().iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect()
        };
        assert_eq!(names(&format!("{d}/*.jsonl")), ["a.jsonl", "b.jsonl"]);
        assert_eq!(names(&d), ["a.jsonl", "b.jsonl", "c.csv"]);
        assert_eq!(names(&format!("{d}/c.csv")), ["c.csv"]);
        assert!(files_of(&format!("{d}/*.parquet")).unwrap_err().contains("no files match"));
        assert!(files_of(&format!("{d}/nope.csv")).unwrap_err().contains("no such file"));
        assert_eq!(FileFormat::guess("x/DnsEvents.NDJSON"), Some(FileFormat::Jsonl));
    }
}
