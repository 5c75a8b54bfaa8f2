//! Push export: send a selection of intelligence to a collection of another TAXII 2.1
//! server, and record each export with its per-object outcome.
//!
//! Every export is recorded, failed ones included, with the server's message, so a
//! failure is visible and can be run again; exports are independent of each other.

use std::time::{Duration, Instant};

use cairn_store::{Filter, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::connector::{client, server_message, ConnectorAuth};

const TARGET: &str = "export-target";
const RECORD: &str = "export";
const TAXII_21: &str = "application/taxii+json;version=2.1";
/// Objects per POSTed envelope.
const ENVELOPE: usize = 1_000;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportTarget {
    pub name: String,
    pub api_root: String,
    pub collection: String,
    #[serde(default)]
    pub auth: ConnectorAuth,
    /// Continuous export: what to send and how often (`cairn serve` runs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ExportSchedule>,
}

/// A saved filter exported every `interval`: each run sends the objects whose current
/// version is newer than the last run's position, so new and changed objects go out once.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportSchedule {
    pub interval: String,
    #[serde(flatten)]
    pub select: crate::taxii::SavedFilter,
}

/// Where a scheduled export stands between runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScheduleState {
    /// The listing position (a current version's date_added) already sent.
    pub after: Option<i64>,
    pub last_run: Option<String>,
    pub last_export: Option<String>,
    pub last_error: Option<String>,
}

const SCHEDULE_STATE: &str = "export-schedule";

/// One object's fate in an export.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectResult {
    pub id: String,
    pub version: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The record of one export.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportRecord {
    pub id: String,
    pub target: String,
    pub started: String,
    pub finished: String,
    /// `complete`, `partial` (the server refused some objects) or `failed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub sent: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub objects: Vec<ObjectResult>,
}

impl ExportTarget {
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("an export target needs a name".into());
        }
        reqwest::Url::parse(&self.api_root).map_err(|e| format!("api-root '{}': {e}", self.api_root))?;
        if self.collection.trim().is_empty() {
            return Err("an export target needs a collection id".into());
        }
        if let Some(s) = &self.schedule {
            crate::connector::parse_duration(&s.interval)?;
            s.select.check()?;
        }
        Ok(())
    }
}

pub fn add_target(store: &dyn Store, t: &ExportTarget) -> Result<(), String> {
    t.check()?;
    if store.doc(TARGET, &t.name).map_err(|e| e.to_string())?.is_some() {
        return Err(format!("an export target named '{}' already exists", t.name));
    }
    store.put_doc(TARGET, &t.name, &serde_json::to_string(t).expect("serialise")).map_err(|e| e.to_string())
}

pub fn targets(store: &dyn Store) -> cairn_store::Result<Vec<ExportTarget>> {
    Ok(store.docs(TARGET)?.into_iter().filter_map(|(_, d)| serde_json::from_str(&d).ok()).collect())
}

/// Exports, oldest first.
pub fn records(store: &dyn Store) -> cairn_store::Result<Vec<ExportRecord>> {
    Ok(store.docs(RECORD)?.into_iter().filter_map(|(_, d)| serde_json::from_str(&d).ok()).collect())
}

/// The exports that included `object_id`, with that object's outcome in each.
pub fn history(store: &dyn Store, object_id: &str) -> cairn_store::Result<Vec<Value>> {
    Ok(records(store)?
        .into_iter()
        .filter_map(|r| {
            let o = r.objects.iter().find(|o| o.id == object_id)?;
            Some(json!({ "export": r.id, "target": r.target, "at": r.finished, "version": o.version,
                         "ok": o.ok, "message": o.message }))
        })
        .collect())
}

fn now_string() -> String {
    cairn_stix::Timestamp::from_unix_micros(cairn_store::now_micros()).to_string()
}

/// Sends the current versions of the objects `filter` selects to `target_name`, and records
/// the export. Returns the record (whose status may be `failed`), or an error when there is
/// nothing to export to.
pub fn export_to(store: &dyn Store, target_name: &str, filter: &Filter) -> Result<ExportRecord, String> {
    export_from(store, target_name, filter, None).map(|(r, _)| r)
}

/// `export_to` for objects listed after position `after`; also returns the last position
/// sent (or `after` when nothing was).
fn export_from(
    store: &dyn Store,
    target_name: &str,
    filter: &Filter,
    after: Option<i64>,
) -> Result<(ExportRecord, Option<i64>), String> {
    let doc = store.doc(TARGET, target_name).map_err(|e| e.to_string())?;
    let Some(target) = doc.and_then(|d| serde_json::from_str::<ExportTarget>(&d).ok()) else {
        return Err(format!("no export target named '{target_name}' (cairn export-target list)"));
    };
    let mut record = ExportRecord {
        id: uuid::Uuid::new_v4().to_string(),
        target: target.name.clone(),
        started: now_string(),
        finished: String::new(),
        status: "complete".into(),
        error: None,
        sent: 0,
        succeeded: 0,
        failed: 0,
        objects: Vec::new(),
    };
    let mut last = after;
    if let Err(e) = push(store, &target, filter, after, &mut last, &mut record) {
        record.status = "failed".into();
        record.error = Some(e);
    } else if record.failed > 0 {
        record.status = "partial".into();
    }
    record.finished = now_string();
    store
        .put_doc(RECORD, &record.id, &serde_json::to_string(&record).expect("serialise"))
        .map_err(|e| e.to_string())?;
    Ok((record, last))
}

/// Runs target `name`'s schedule once: sends what changed since the last successful run.
/// Returns the export record, or `None` when there was nothing new (no record is made).
/// A failed run keeps the old position, so the next run sends the same objects again.
pub fn run_schedule(store: &dyn Store, name: &str) -> Result<Option<ExportRecord>, String> {
    let doc = store.doc(TARGET, name).map_err(|e| e.to_string())?;
    let target: ExportTarget = doc
        .and_then(|d| serde_json::from_str(&d).ok())
        .ok_or_else(|| format!("no export target named '{name}' (cairn export-target list)"))?;
    let schedule = target.schedule.ok_or_else(|| format!("export target '{name}' has no schedule (--every)"))?;
    let mut state: ScheduleState = store
        .doc(SCHEDULE_STATE, name)
        .map_err(|e| e.to_string())?
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    state.last_run = Some(now_string());
    let filter = schedule.select.to_filter();
    // Nothing new: no export to record.
    let pending = store.list(&filter, state.after, 1).map_err(|e| e.to_string())?;
    let out = if pending.items.is_empty() {
        None
    } else {
        let (record, last) = export_from(store, name, &filter, state.after)?;
        if record.status == "failed" {
            state.last_error = record.error.clone();
        } else {
            state.after = last;
            state.last_error = None;
        }
        state.last_export = Some(record.id.clone());
        Some(record)
    };
    store
        .put_doc(SCHEDULE_STATE, name, &serde_json::to_string(&state).expect("serialise"))
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Runs due scheduled exports forever (see [`crate::scheduler`]).
pub async fn schedule(store: std::sync::Arc<dyn Store>, tick: Duration) {
    let s = store.clone();
    let due_jobs = move || -> Result<Vec<String>, String> {
        let mut due = Vec::new();
        for t in targets(s.as_ref()).map_err(|e| e.to_string())? {
            let Some(every) = t.schedule.as_ref().and_then(|x| crate::connector::parse_duration(&x.interval).ok())
            else {
                continue;
            };
            let state: Option<ScheduleState> =
                s.doc(SCHEDULE_STATE, &t.name).map_err(|e| e.to_string())?.and_then(|d| serde_json::from_str(&d).ok());
            if crate::scheduler::due(state.and_then(|st| st.last_run).as_deref(), every) {
                due.push(t.name);
            }
        }
        Ok(due)
    };
    crate::scheduler::run_forever("scheduled export", tick, due_jobs, move |name| {
        run_schedule(store.as_ref(), name).map(|_| ())
    })
    .await
}

fn push(
    store: &dyn Store,
    t: &ExportTarget,
    filter: &Filter,
    after: Option<i64>,
    last: &mut Option<i64>,
    record: &mut ExportRecord,
) -> Result<(), String> {
    let http = client();
    let url = format!("{}/collections/{}/objects/", t.api_root.trim_end_matches('/'), t.collection);
    let mut cursor = after;
    loop {
        let page = store.list(filter, cursor, ENVELOPE).map_err(|e| e.to_string())?;
        let objects: Vec<Value> =
            page.items.iter().filter(|v| !v.tombstone).filter_map(|v| serde_json::from_str(&v.raw).ok()).collect();
        if !objects.is_empty() {
            let status = post(&http, t, &url, &objects)?;
            record.sent += objects.len() as u64;
            merge_status(record, &objects, &status);
        }
        if let Some(v) = page.items.last() {
            *last = Some(v.seq);
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(()),
        }
    }
}

/// POSTs one envelope; returns the final status resource (polling while it is pending).
fn post(http: &reqwest::blocking::Client, t: &ExportTarget, url: &str, objects: &[Value]) -> Result<Value, String> {
    let body = serde_json::to_vec(&json!({ "objects": objects })).expect("serialise");
    let mut attempt = 0;
    let resp = loop {
        attempt += 1;
        let req = http.post(url).header("Accept", TAXII_21).header("Content-Type", TAXII_21).body(body.clone());
        match t.auth.apply(req).send() {
            Ok(r) if r.status().is_server_error() && attempt < 4 => {}
            Ok(r) if r.status().as_u16() == 429 && attempt < 4 => {
                let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(5u64);
                std::thread::sleep(Duration::from_secs(wait.min(120)));
                continue;
            }
            Ok(r) => break r,
            Err(e) if attempt < 4 => tracing::warn!("export to {}: {e}; retrying", t.name),
            Err(e) => return Err(format!("cannot reach {url}: {}", crate::connector::error_chain(&e))),
        }
        std::thread::sleep(Duration::from_millis(500 << attempt));
    };
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {}", server_message(text)));
    }
    let mut st: Value =
        serde_json::from_str(&text).map_err(|e| format!("{url} sent a status that is not JSON: {e}"))?;
    // A server may finish asynchronously: follow the status resource for a while.
    let deadline = Instant::now() + Duration::from_secs(60);
    while st.get("status").and_then(Value::as_str) == Some("pending") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let Some(id) = st.get("id").and_then(Value::as_str) else { break };
        let surl = format!("{}/status/{id}/", t.api_root.trim_end_matches('/'));
        let r = t.auth.apply(http.get(&surl).header("Accept", TAXII_21)).send().map_err(|e| e.to_string())?;
        st = r.json().map_err(|e| e.to_string())?;
    }
    Ok(st)
}

fn merge_status(record: &mut ExportRecord, sent: &[Value], status: &Value) {
    let version =
        |o: &Value| o.get("modified").or_else(|| o.get("created")).and_then(Value::as_str).unwrap_or("").to_string();
    let failures: std::collections::HashMap<String, String> = status
        .get("failures")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| {
                    let id = f.get("id")?.as_str()?.to_string();
                    Some((id, f.get("message").and_then(Value::as_str).unwrap_or("refused").to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let pending = status.get("status").and_then(Value::as_str) == Some("pending");
    for o in sent {
        let id = o.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let failed = failures.get(&id).cloned();
        let (ok, message) = match failed {
            Some(m) => (false, Some(m)),
            None if pending => (false, Some("still pending at the server after 60 s".to_string())),
            None => (true, None),
        };
        if ok {
            record.succeeded += 1;
        } else {
            record.failed += 1;
        }
        record.objects.push(ObjectResult { version: version(o), id, ok, message });
    }
}
