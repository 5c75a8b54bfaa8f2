//! Hunting with KQL: the threat-intelligence tables kept in step with the store, saved
//! functions kept in the store, and one entry point for the CLI and the API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_kql::tables::TiTables;
use cairn_kql::{Engine, KqlError, Limits, QueryResult};
use cairn_store::Store;
use serde_json::Value;

/// Saved KQL functions, by name: `{"name", "body", "description"}`.
const FUNCTION_KIND: &str = "kql-function";
/// Event tables over files, by name: `{"name", "path", "format"}`.
const TABLE_KIND: &str = "kql-table";

/// An event table over files (JSON lines, CSV or Parquet), read when a query runs.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FileTable {
    pub name: String,
    /// A file, a directory, or a `*` pattern in the last component.
    pub path: String,
    pub format: cairn_kql::files::FileFormat,
}

/// Queries over one store. The tables are extended with new versions before each query
/// (never rebuilt), so the first query pays for loading the history and later ones only
/// for what arrived since.
pub struct Hunting {
    store: Arc<dyn Store>,
    tables: Mutex<TiTables>,
    pub limits: Limits,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct SavedFunction {
    pub name: String,
    /// `(params) { body }`, or a query body.
    pub body: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl Hunting {
    pub fn new(store: Arc<dyn Store>) -> Result<Hunting, String> {
        let tenant = store.instance_id().map_err(|e| e.to_string())?;
        Ok(Hunting { store, tables: Mutex::new(TiTables::new(&tenant)), limits: Limits::default() })
    }

    /// Runs a query at `now` (microseconds). Needs a tokio runtime context: the API calls
    /// it from a blocking task, the CLI from inside its runtime.
    pub fn query(&self, text: &str, now: i64) -> Result<QueryResult, KqlError> {
        let mut engine = Engine::new();
        engine.limits = self.limits.clone();
        {
            let mut t = self.tables.lock().expect("tables");
            let store = self.store.clone();
            let enrichment = move |id: &str| -> Option<(Value, Value)> {
                let doc = crate::enrichment::stored(store.as_ref(), id).ok().flatten()?;
                Some((doc.get("geo").cloned().unwrap_or(Value::Null), doc.get("whois").cloned().unwrap_or(Value::Null)))
            };
            let through = crate::enrichment::enriched_through(self.store.as_ref());
            t.refresh(self.store.as_ref(), &enrichment, through).map_err(|m| KqlError::at(Default::default(), m))?;
            t.register(&mut engine).map_err(|m| KqlError::at(Default::default(), m))?;
        }
        for t in self.tables().map_err(|m| KqlError::at(Default::default(), m))? {
            engine
                .add_file_table(&t.name, &t.path, t.format)
                .map_err(|m| KqlError::at(Default::default(), format!("table {}: {m}", t.name)))?;
        }
        for f in self.functions().map_err(|m| KqlError::at(Default::default(), m))? {
            engine.add_function(&f.name, &f.body).map_err(|e| {
                KqlError::at(Default::default(), format!("saved function {} is broken: {}", f.name, e.render(&f.body)))
            })?;
        }
        engine.run(text, now)
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn functions(&self) -> Result<Vec<SavedFunction>, String> {
        let docs = self.store.docs(FUNCTION_KIND).map_err(|e| e.to_string())?;
        let mut out: Vec<SavedFunction> = docs.iter().filter_map(|(_, d)| serde_json::from_str(d).ok()).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn function(&self, name: &str) -> Result<Option<SavedFunction>, String> {
        Ok(self.store.doc(FUNCTION_KIND, name).map_err(|e| e.to_string())?.and_then(|d| serde_json::from_str(&d).ok()))
    }

    /// Saves (or replaces) a function after checking that it parses; the error is
    /// rendered against the body.
    pub fn save_function(&self, f: &SavedFunction) -> Result<(), String> {
        check_name(&f.name)?;
        if [cairn_kql::tables::INDICATORS, cairn_kql::tables::OBJECTS].contains(&f.name.as_str()) {
            return Err(format!("'{}' is a table; pick another name", f.name));
        }
        cairn_kql::parse_function(&f.body).map_err(|e| e.render(&f.body))?;
        let doc = serde_json::to_string(f).map_err(|e| e.to_string())?;
        self.store.put_doc(FUNCTION_KIND, &f.name, &doc).map_err(|e| e.to_string())
    }

    pub fn tables(&self) -> Result<Vec<FileTable>, String> {
        let docs = self.store.docs(TABLE_KIND).map_err(|e| e.to_string())?;
        let mut out: Vec<FileTable> = docs.iter().filter_map(|(_, d)| serde_json::from_str(d).ok()).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Registers an event table after reading it once (so a wrong path or format is an
    /// error now, naming the file and line, not at the next query). Needs a tokio
    /// runtime context.
    pub fn save_table(&self, t: &FileTable) -> Result<(), String> {
        check_name(&t.name)?;
        if [cairn_kql::tables::INDICATORS, cairn_kql::tables::OBJECTS].contains(&t.name.as_str()) {
            return Err(format!("'{}' is a threat-intelligence table; pick another name", t.name));
        }
        let mut probe = Engine::new();
        probe.add_file_table(&t.name, &t.path, t.format)?;
        let doc = serde_json::to_string(t).map_err(|e| e.to_string())?;
        self.store.put_doc(TABLE_KIND, &t.name, &doc).map_err(|e| e.to_string())
    }

    pub fn delete_table(&self, name: &str) -> Result<bool, String> {
        self.store.delete_doc(TABLE_KIND, name).map_err(|e| e.to_string())
    }

    pub fn delete_function(&self, name: &str) -> Result<bool, String> {
        self.store.delete_doc(FUNCTION_KIND, name).map_err(|e| e.to_string())
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("name '{name}': use letters, digits and _, starting with a letter"))
    }
}

/// A result as an aligned text table (the CLI's default).
pub fn to_table(r: &QueryResult) -> String {
    let cell = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut widths: Vec<usize> = r.columns.iter().map(|c| c.name.chars().count()).collect();
    let rows: Vec<Vec<String>> = r.rows.iter().map(|row| row.iter().map(cell).collect()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count().min(80));
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c: String = c.chars().take(80).collect();
                format!("{c:<w$}", w = widths[i])
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(r.columns.iter().map(|c| c.name.clone()).collect())];
    out.push(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

/// A result as CSV (RFC 4180 quoting).
pub fn to_csv(r: &QueryResult) -> String {
    let q = |s: String| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let cell = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut out = vec![r.columns.iter().map(|c| q(c.name.clone())).collect::<Vec<_>>().join(",")];
    for row in &r.rows {
        out.push(row.iter().map(|v| q(cell(v))).collect::<Vec<_>>().join(","));
    }
    out.join("\n") + "\n"
}

impl Hunting {
    pub fn with_limits(mut self, max_rows: usize, timeout: Duration) -> Hunting {
        self.limits = Limits { max_rows, timeout };
        self
    }
}

#[cfg(test)]
mod tests {
    use cairn_store::{Source, SourceKind, SqliteStore};
    use serde_json::json;

    use super::*;
    use crate::ingest::Pipeline;

    fn ind(n: u32, pattern: &str, modified: &str) -> Value {
        json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
               "created": "2026-01-01T00:00:00.000Z", "modified": modified, "pattern": pattern,
               "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "confidence": 70})
    }

    #[test]
    fn tables_follow_the_store_and_carry_enrichment() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _g = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let p = Pipeline::new(store.clone());
        let src = Source::new(SourceKind::Upload, "Feed A");
        p.ingest_values(&src, vec![ind(1, "[ipv4-addr:value = '203.0.113.9']", "2026-01-01T00:00:00.000Z")]).unwrap();
        let id = "indicator--00000000-0000-4000-8000-000000000001";
        store
            .write_enrichment(
                &[("enrichment", id, Some(r#"{"geo":[{"ip":"203.0.113.9","country_iso":"RU","asn":64500}],"whois":[{"target":"203.0.113.9","status":"ok","record":{"network_name":"EXAMPLE-NET"}}]}"#))],
                &[],
            )
            .unwrap();
        let h = Hunting::new(store.clone()).unwrap();
        let now = cairn_store::now_micros();
        let q = "ThreatIntelIndicators | project Id, Country = tostring(AdditionalFields.GeoLocation[0].country_iso), Net = tostring(AdditionalFields.WhoIs[0].record.network_name), Confidence";
        let r = h.query(q, now).unwrap();
        let want_id =
            format!("{}---{id}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "Feed A"));
        assert_eq!(r.rows, vec![vec![json!(want_id), json!("RU"), json!("EXAMPLE-NET"), json!(70)]]);
        // A new version appends rows: the history is the table; arg_max gives the current state.
        p.ingest_values(&src, vec![ind(1, "[ipv4-addr:value = '203.0.113.9']", "2026-02-01T00:00:00.000Z")]).unwrap();
        p.ingest_values(
            &src,
            vec![{
                let mut o = ind(1, "[ipv4-addr:value = '203.0.113.9']", "2026-03-01T00:00:00.000Z");
                o["confidence"] = json!(20);
                o
            }],
        )
        .unwrap();
        let r = h.query("ThreatIntelIndicators | count", now).unwrap();
        assert_eq!(r.rows, vec![vec![json!(3)]]);
        let r = h
            .query(
                "ThreatIntelIndicators | summarize arg_max(TimeGenerated, Confidence) by Id | project Confidence",
                now,
            )
            .unwrap();
        assert_eq!(r.rows, vec![vec![json!(20)]]);
        // Saved functions are called like tables; the legacy table is derived.
        h.save_function(&SavedFunction {
            name: "LowConfidence".into(),
            body: "(max:long = 50) { ThreatIntelIndicators | where Confidence < max }".into(),
            description: String::new(),
        })
        .unwrap();
        assert_eq!(h.query("LowConfidence() | count", now).unwrap().rows, vec![vec![json!(1)]]);
        assert_eq!(h.query("LowConfidence(80) | count", now).unwrap().rows, vec![vec![json!(3)]]);
        let r = h.query("ThreatIntelligenceIndicator | distinct NetworkIP, IndicatorProvider", now).unwrap();
        assert_eq!(r.rows, vec![vec![json!("203.0.113.9"), json!("Feed A")]]);
        let e = h.save_function(&SavedFunction {
            name: "Bad".into(),
            body: "T | wher x".into(),
            description: String::new(),
        });
        assert!(e.unwrap_err().contains("did you mean 'where'"));
    }

    #[test]
    fn rows_loaded_before_enrichment_get_it_once_enrichment_has_passed() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _g = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let p = Pipeline::new(store.clone());
        let src = Source::new(SourceKind::Upload, "Feed A");
        p.ingest_values(&src, vec![ind(1, "[ipv4-addr:value = '203.0.113.9']", "2026-01-01T00:00:00.000Z")]).unwrap();
        let h = Hunting::new(store.clone()).unwrap();
        let now = cairn_store::now_micros();
        let q = "ThreatIntelIndicators | project Country = tostring(AdditionalFields.GeoLocation[0].country_iso)";
        // Queried before the enricher ran: nothing yet.
        assert_eq!(h.query(q, now).unwrap().rows, vec![vec![json!("")]]);
        // The enricher writes its result and moves its cursor past the version.
        let id = "indicator--00000000-0000-4000-8000-000000000001";
        store
            .write_enrichment(
                &[
                    ("enrichment", id, Some(r#"{"geo":[{"ip":"203.0.113.9","country_iso":"NL"}]}"#)),
                    ("enrichment-cursor", "seq", Some(&store.head().unwrap().unwrap().to_string())),
                ],
                &[],
            )
            .unwrap();
        assert_eq!(h.query(q, now).unwrap().rows, vec![vec![json!("NL")]]);
    }
}
