//! File imports (Sentinel's "Import using a file"): a CSV or STIX JSON file, the name of
//! its source, and a policy — import the valid entries, or nothing if one is invalid.
//! Each import is recorded with its counts and its errors (the "error file").
//!
//! Key design decision: a CSV file is turned into STIX indicators first and then takes
//! the same pipeline as everything else (validation, ingestion rules, the store), so a
//! CSV row is judged exactly like the STIX object it becomes. A row that cannot become
//! an object enters the pipeline as a placeholder that is always rejected, which keeps
//! positions aligned and lets "nothing if one is invalid" veto the whole file.

use std::io::Read;

use cairn_store::{Source, SourceKind, Store};
use serde::{Deserialize, Serialize};

use crate::ingest::{ImportOptions, Pipeline};

const KIND: &str = "file-import";
/// Errors kept per import; the counts stay exact beyond it.
const MAX_ERRORS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" | "stix" | "jsonl" => Ok(Format::Json),
            _ => Err(format!("format: '{s}' is neither csv nor json")),
        }
    }

    /// The format a file name implies (`.csv`, else JSON).
    pub fn of_file(name: &str) -> Format {
        if name.to_ascii_lowercase().ends_with(".csv") {
            Format::Csv
        } else {
            Format::Json
        }
    }
}

/// One entry that was not imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportError {
    /// CSV: the line in the file (the header is line 1). JSON: the object's position, from 0.
    pub at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub errors: Vec<String>,
}

/// An import, as recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportRecord {
    pub id: String,
    pub source: String,
    pub file_name: String,
    pub format: Format,
    /// `valid-only` or `all-or-nothing`.
    pub policy: String,
    pub started: String,
    pub finished: String,
    /// Entries in the file.
    pub total: u64,
    /// Entries stored (created, new versions and unchanged re-imports).
    pub imported: u64,
    pub created: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    /// Dropped by ingestion rules (not errors).
    pub dropped: u64,
    pub rejected: u64,
    /// Whether what was accepted is stored (false after "nothing if one is invalid").
    pub committed: bool,
    /// Why the file as a whole could not be read, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
    pub error_count: u64,
    /// Who imported it.
    pub by: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ImportError>,
}

impl ImportRecord {
    /// A record for an import that starts now, with nothing counted yet.
    fn new(req: &ImportRequest, started: String) -> ImportRecord {
        ImportRecord {
            id: uuid::Uuid::new_v4().to_string(),
            source: req.source.clone(),
            file_name: req.file_name.clone(),
            format: req.format,
            policy: if req.all_or_nothing { "all-or-nothing" } else { "valid-only" }.into(),
            started,
            finished: String::new(),
            total: 0,
            imported: 0,
            created: 0,
            new_versions: 0,
            unchanged: 0,
            dropped: 0,
            rejected: 0,
            committed: false,
            file_error: None,
            error_count: 0,
            by: req.by.clone(),
            errors: Vec::new(),
        }
    }

    /// The record without its error list (for listings).
    pub fn summary(&self) -> ImportRecord {
        ImportRecord { errors: Vec::new(), ..self.clone() }
    }
}

pub struct ImportRequest {
    pub source: String,
    pub file_name: String,
    pub format: Format,
    pub all_or_nothing: bool,
    pub by: String,
}

pub fn now_text() -> String {
    cairn_stix::Timestamp::from_unix_micros(cairn_store::now_micros()).format_digits(3)
}

/// Imports a file and records the import. `Err` only when the store fails; a bad file
/// is a recorded import with its `file_error`.
pub fn run(
    pipeline: &Pipeline,
    req: ImportRequest,
    mut input: impl Read + Send + 'static,
) -> Result<ImportRecord, String> {
    if req.source.trim().is_empty() {
        return Err("source: name the source of this file (it is stamped on every object)".into());
    }
    let started = now_text();
    let source = Source::new(SourceKind::File, req.source.clone());
    let opts = ImportOptions { all_or_nothing: req.all_or_nothing, ..ImportOptions::default() };
    let mut record = ImportRecord::new(&req, started.clone());
    let (report, lines) = match req.format {
        Format::Json => (pipeline.import(&source, input, opts, &mut |_| {}).map_err(|e| e.to_string())?, None),
        Format::Csv => {
            let mut text = Vec::new();
            input.read_to_end(&mut text).map_err(|e| format!("cannot read the file: {e}"))?;
            match crate::ingest::csv::read(text.as_slice(), &req.source, &started) {
                Err(e) => {
                    record.file_error = Some(e);
                    record.finished = now_text();
                    save(pipeline.store().as_ref(), &record)?;
                    return Ok(record);
                }
                Ok(rows) => {
                    // One JSON line per row; a row that made no object is a placeholder
                    // the pipeline rejects, and its message is put back below.
                    let mut jsonl = Vec::with_capacity(text.len() * 2);
                    let mut lines = Vec::with_capacity(rows.len());
                    for r in rows {
                        let line = match &r.object {
                            Ok(v) => serde_json::to_vec(v).expect("objects serialise"),
                            Err(_) => b"\"not an object\"".to_vec(),
                        };
                        jsonl.extend_from_slice(&line);
                        jsonl.push(b'\n');
                        lines.push((r.line, r.object.err()));
                    }
                    let report = pipeline
                        .import(&source, std::io::Cursor::new(jsonl), opts, &mut |_| {})
                        .map_err(|e| e.to_string())?;
                    (report, Some(lines))
                }
            }
        }
    };
    fill(&mut record, report, lines);
    save(pipeline.store().as_ref(), &record)?;
    Ok(record)
}

/// Records an import the CLI streamed through the pipeline itself (with its progress
/// display), so the history lists every file import.
pub fn record_streamed(
    store: &dyn Store,
    req: ImportRequest,
    started: String,
    report: crate::ingest::ImportReport,
) -> Result<ImportRecord, String> {
    let mut record = ImportRecord::new(&req, started);
    fill(&mut record, report, None);
    save(store, &record)?;
    Ok(record)
}

/// Copies an import's outcome into its record; `lines` maps CSV positions back to lines.
fn fill(record: &mut ImportRecord, report: crate::ingest::ImportReport, lines: Option<Vec<(u64, Option<String>)>>) {
    let s = report.summary;
    record.total = s.processed();
    record.created = s.created;
    record.new_versions = s.new_versions;
    record.unchanged = s.unchanged;
    record.dropped = s.dropped;
    record.rejected = s.rejected;
    record.committed = report.committed;
    record.imported = if report.committed { s.created + s.new_versions + s.unchanged } else { 0 };
    record.file_error = report.read_error.clone();
    record.error_count = report.rejections.len() as u64;
    for r in report.rejections.into_iter().take(MAX_ERRORS) {
        let (at, errors) = match &lines {
            Some(lines) => match lines.get(r.index) {
                Some((line, Some(conversion))) => (*line, vec![conversion.clone()]),
                Some((line, None)) => (*line, r.errors),
                None => (r.index as u64, r.errors),
            },
            None => (r.index as u64, r.errors),
        };
        record.errors.push(ImportError { at, id: r.id, errors });
    }
    record.finished = now_text();
}

fn save(store: &dyn Store, r: &ImportRecord) -> Result<(), String> {
    store.put_doc(KIND, &r.id, &serde_json::to_string(r).expect("records serialise")).map_err(|e| e.to_string())
}

/// Every import, newest first, without their error lists.
pub fn list(store: &dyn Store) -> Result<Vec<ImportRecord>, String> {
    let mut out: Vec<ImportRecord> = store
        .docs(KIND)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|(_, d)| serde_json::from_str::<ImportRecord>(&d).ok())
        .map(|r| r.summary())
        .collect();
    out.sort_by(|a, b| b.started.cmp(&a.started));
    Ok(out)
}

pub fn get(store: &dyn Store, id: &str) -> Result<Option<ImportRecord>, String> {
    match store.doc(KIND, id).map_err(|e| e.to_string())? {
        Some(d) => serde_json::from_str(&d).map(Some).map_err(|e| format!("import record {id} is unreadable: {e}")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_store::SqliteStore;

    use super::*;

    fn setup() -> (Pipeline, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        (Pipeline::new(store), dir)
    }

    const CSV: &str = "validFrom,observableType,observableValue,confidence\n\
                       2026-01-01,ipv4-addr,198.51.100.1,50\n\
                       2026-01-01,ipv4-addr,198.51.100.2,500\n\
                       soon,ipv4-addr,198.51.100.3,50\n\
                       2026-01-01,domain-name,evil.example,90\n";

    fn req(all_or_nothing: bool) -> ImportRequest {
        ImportRequest {
            source: "analyst sheet".into(),
            file_name: "iocs.csv".into(),
            format: Format::Csv,
            all_or_nothing,
            by: "user:ann".into(),
        }
    }

    #[test]
    fn csv_valid_entries_only_with_an_error_file() {
        let (p, _dir) = setup();
        let r = run(&p, req(false), std::io::Cursor::new(CSV.as_bytes().to_vec())).unwrap();
        assert_eq!((r.total, r.imported, r.rejected, r.committed), (4, 2, 2, true));
        // Errors name the line in the file: a validation error and a conversion error.
        assert_eq!(r.errors.iter().map(|e| e.at).collect::<Vec<_>>(), [3, 4]);
        assert!(r.errors[0].errors[0].contains("confidence"), "{:?}", r.errors);
        assert!(r.errors[1].errors[0].contains("validFrom: 'soon'"), "{:?}", r.errors);
        let listed = list(p.store().as_ref()).unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].errors.is_empty() && listed[0].error_count == 2);
        assert_eq!(get(p.store().as_ref(), &r.id).unwrap().unwrap().errors.len(), 2);
        // The same file again: the same indicators, nothing duplicated.
        let again = run(&p, req(false), std::io::Cursor::new(CSV.as_bytes().to_vec())).unwrap();
        assert_eq!(again.created, 0);
        assert_eq!(p.store().stats().unwrap().objects, 2);
    }

    #[test]
    fn csv_nothing_if_one_is_invalid() {
        let (p, _dir) = setup();
        let r = run(&p, req(true), std::io::Cursor::new(CSV.as_bytes().to_vec())).unwrap();
        assert_eq!((r.imported, r.committed), (0, false));
        assert_eq!(p.store().stats().unwrap().objects, 0);
    }

    #[test]
    fn a_bad_header_is_a_recorded_file_error() {
        let (p, _dir) = setup();
        let r = run(&p, req(false), std::io::Cursor::new(b"colour\nred\n".to_vec())).unwrap();
        assert!(r.file_error.as_deref().unwrap().contains("unknown column 'colour'"));
        assert_eq!(list(p.store().as_ref()).unwrap().len(), 1);
    }

    #[test]
    fn json_files_take_the_same_path() {
        let (p, _dir) = setup();
        let bundle = r#"{"type":"bundle","id":"bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","objects":[
            {"type":"malware","spec_version":"2.1","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
             "created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"m","is_family":false},
            {"type":"malware","spec_version":"2.1","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3e"}]}"#;
        let r = run(
            &p,
            ImportRequest { format: Format::Json, file_name: "b.json".into(), ..req(false) },
            std::io::Cursor::new(bundle.as_bytes().to_vec()),
        )
        .unwrap();
        assert_eq!((r.total, r.imported, r.rejected), (2, 1, 1));
        assert_eq!(r.errors[0].at, 1);
    }
}
