//! TAXII data connectors: poll a collection of a TAXII 2.1 (or 2.0) server into Cairn.
//!
//! A poll drains every page, ingests each page through the pipeline (source = the
//! connector's name) and saves the checkpoint — the server's `X-TAXII-Date-Added-Last` —
//! only after that page is stored, so a crash or restart resumes exactly there. A run
//! starts one microsecond before the checkpoint: servers such as medallion give many
//! objects the same `date_added`, and an exclusive `added_after` on a shared timestamp
//! would skip the rest of them; re-fetched objects are recognised as unchanged.

use std::time::{Duration, Instant};

use cairn_store::{Source, SourceKind, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ingest::{ObjectOutcome, Pipeline};

const CONFIG: &str = "connector";
const STATE: &str = "connector-state";
const TAXII_21: &str = "application/taxii+json;version=2.1";
/// TAXII 2.0 serves a collection's objects as a STIX bundle of this media type.
const STIX_20: &str = "application/vnd.oasis.stix+json; version=2.0";

/// How the connector authenticates. Stored with the connector; never printed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorAuth {
    #[default]
    None,
    Basic {
        user: String,
        password: String,
    },
    Token {
        token: String,
    },
    ApiKey {
        header: String,
        key: String,
    },
}

impl ConnectorAuth {
    /// Adds these credentials to a request.
    pub fn apply(&self, req: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match self {
            ConnectorAuth::None => req,
            ConnectorAuth::Basic { user, password } => req.basic_auth(user, Some(password)),
            ConnectorAuth::Token { token } => req.bearer_auth(token),
            ConnectorAuth::ApiKey { header, key } => req.header(header.as_str(), key),
        }
    }

    /// The kind of credentials, for listings that must not show them.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorAuth::None => "none",
            ConnectorAuth::Basic { .. } => "basic",
            ConnectorAuth::Token { .. } => "token",
            ConnectorAuth::ApiKey { .. } => "api-key",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConnectorConfig {
    pub name: String,
    pub api_root: String,
    pub collection: String,
    #[serde(default)]
    pub auth: ConnectorAuth,
    /// `all`, a duration (`7d`), or an RFC 3339 date: where the first poll starts.
    pub lookback: String,
    /// Time between polls in `cairn serve` (`1h`, `15m`, `30s`).
    pub interval: String,
    #[serde(default = "default_page_size")]
    pub page_size: usize,
}

fn default_page_size() -> usize {
    1_000
}

/// Objects seen in one poll.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PollCounts {
    pub received: u64,
    pub created: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    /// Dropped by ingestion rules.
    #[serde(default)]
    pub dropped: u64,
    pub rejected: u64,
    pub pages: u64,
}

/// A connector's health, kept between polls and restarts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConnectorState {
    /// `added_after` for the next poll: the last stored page's `X-TAXII-Date-Added-Last`.
    pub checkpoint: Option<String>,
    pub last_poll: Option<String>,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    pub last_counts: PollCounts,
    /// Paused connectors are not polled on schedule ("Run now" still polls them).
    #[serde(default)]
    pub paused: bool,
}

/// Parses `30s`, `15m`, `1h`, `7d` (and plain seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a duration like 30s, 15m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use s, m, h or d)")),
    };
    if secs == 0 {
        return Err(format!("'{s}' must be longer than zero"));
    }
    Ok(Duration::from_secs(secs))
}

fn now_string() -> String {
    cairn_stix::Timestamp::from_unix_micros(cairn_store::now_micros()).to_string()
}

/// Where the first poll starts: `None` means from the beginning.
fn lookback_start(lookback: &str) -> Result<Option<String>, String> {
    if lookback == "all" {
        return Ok(None);
    }
    if let Ok(t) = cairn_stix::Timestamp::parse(lookback) {
        return Ok(Some(t.to_string()));
    }
    let d =
        parse_duration(lookback).map_err(|_| format!("lookback '{lookback}': use all, a duration (7d) or a date"))?;
    let micros = cairn_store::now_micros() - d.as_micros() as i64;
    Ok(Some(cairn_stix::Timestamp::from_unix_micros(micros).to_string()))
}

impl ConnectorConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("a connector needs a name".into());
        }
        let url = reqwest::Url::parse(&self.api_root).map_err(|e| format!("api-root '{}': {e}", self.api_root))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("api-root '{}' must be an http(s) URL", self.api_root));
        }
        if self.collection.trim().is_empty() {
            return Err("a connector needs a collection id".into());
        }
        lookback_start(&self.lookback)?;
        parse_duration(&self.interval)?;
        if self.page_size == 0 {
            return Err("page size must be at least 1".into());
        }
        Ok(())
    }

    fn objects_url(&self) -> String {
        format!("{}/collections/{}/objects/", self.api_root.trim_end_matches('/'), self.collection)
    }
}

pub fn add(store: &dyn Store, c: &ConnectorConfig) -> Result<(), String> {
    c.check()?;
    if store.doc(CONFIG, &c.name).map_err(|e| e.to_string())?.is_some() {
        return Err(format!("a connector named '{}' already exists", c.name));
    }
    store.put_doc(CONFIG, &c.name, &serde_json::to_string(c).expect("serialise")).map_err(|e| e.to_string())
}

pub fn list(store: &dyn Store) -> cairn_store::Result<Vec<(ConnectorConfig, ConnectorState)>> {
    let mut out = Vec::new();
    for (name, doc) in store.docs(CONFIG)? {
        let Ok(c) = serde_json::from_str::<ConnectorConfig>(&doc) else { continue };
        out.push((c, state(store, &name)?));
    }
    Ok(out)
}

fn state(store: &dyn Store, name: &str) -> cairn_store::Result<ConnectorState> {
    Ok(store.doc(STATE, name)?.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default())
}

fn save_state(store: &dyn Store, name: &str, s: &ConnectorState) -> cairn_store::Result<()> {
    store.put_doc(STATE, name, &serde_json::to_string(s).expect("serialise"))
}

/// The connector as `connector list` shows it: no credentials.
pub fn describe(c: &ConnectorConfig, s: &ConnectorState) -> Value {
    serde_json::json!({
        "name": c.name, "api_root": c.api_root, "collection": c.collection,
    "auth": c.auth.kind(),
        "interval": c.interval, "lookback": c.lookback, "page_size": c.page_size,
        "checkpoint": s.checkpoint, "last_poll": s.last_poll, "last_success": s.last_success,
        "last_error": s.last_error, "last_counts": s.last_counts, "paused": s.paused,
    })
}

/// Pauses or resumes the scheduled polls of connector `name`.
pub fn set_paused(store: &dyn Store, name: &str, paused: bool) -> Result<(), String> {
    if store.doc(CONFIG, name).map_err(|e| e.to_string())?.is_none() {
        return Err(format!("no connector named '{name}' (cairn connector list)"));
    }
    let mut st = state(store, name).map_err(|e| e.to_string())?;
    st.paused = paused;
    save_state(store, name, &st).map_err(|e| e.to_string())
}

/// Asks a TAXII server for a connector's collection once (no retries, a short timeout):
/// the collection's title and whether it may be read, or what went wrong, with the
/// server's own message. TAXII 2.1 first, then 2.0.
pub fn test_connection(c: &ConnectorConfig) -> Result<Value, String> {
    c.check()?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{}/collections/{}/", c.api_root.trim_end_matches('/'), c.collection);
    for (version, accept) in [("2.1", TAXII_21), ("2.0", "application/vnd.oasis.taxii+json; version=2.0")] {
        let resp = c
            .auth
            .apply(client.get(&url).header("Accept", accept))
            .send()
            .map_err(|e| format!("cannot reach {url}: {}", error_chain(&e)))?;
        let status = resp.status();
        if status.as_u16() == 406 && version == "2.1" {
            continue;
        }
        let text = resp.text().unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{url} answered {status}: {}", server_message(text)));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{url} sent a body that is not JSON: {e}"))?;
        if v.get("can_read") == Some(&Value::Bool(false)) {
            return Err(format!("{url}: the collection exists but these credentials may not read it"));
        }
        return Ok(serde_json::json!({"ok": true, "taxii": version, "title": v["title"], "can_read": v["can_read"]}));
    }
    Err(format!("{url} speaks neither TAXII 2.1 nor 2.0 (it refused both media types)"))
}

/// Polls connector `name` now (with another page size for this run only, if given).
/// Records the outcome in its state either way.
pub fn run(pipeline: &Pipeline, name: &str, page_size: Option<usize>) -> Result<PollCounts, String> {
    let store = pipeline.store().clone();
    let doc = store.doc(CONFIG, name).map_err(|e| e.to_string())?;
    let Some(mut c) = doc.and_then(|d| serde_json::from_str::<ConnectorConfig>(&d).ok()) else {
        return Err(format!("no connector named '{name}' (cairn connector list)"));
    };
    if let Some(size) = page_size {
        c.page_size = size.max(1);
    }
    let mut st = state(store.as_ref(), name).map_err(|e| e.to_string())?;
    st.last_poll = Some(now_string());
    let mut counts = PollCounts::default();
    let result = poll(pipeline, &c, &mut st, &mut counts);
    st.last_counts = counts;
    match &result {
        Ok(()) => {
            st.last_success = st.last_poll.clone();
            st.last_error = None;
        }
        Err(e) => st.last_error = Some(e.clone()),
    }
    save_state(store.as_ref(), name, &st).map_err(|e| e.to_string())?;
    result.map(|()| counts)
}

struct Response {
    body: Value,
    date_added_last: Option<String>,
    content_range: Option<String>,
}

pub(crate) fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .connect_timeout(Duration::from_secs(15))
        .build()
        .expect("TLS backend initialises")
}

/// One GET with retries: 5xx and network errors back off (0.5 s, 1 s, 2 s, 4 s); 429
/// waits for Retry-After (at most 5 minutes). Other errors carry the server's message.
fn get(
    client: &reqwest::blocking::Client,
    c: &ConnectorConfig,
    url: &str,
    query: &[(&str, String)],
    accept: &str,
    range: Option<String>,
) -> Result<Response, (u16, String)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut req = client.get(url).query(query).header("Accept", accept);
        if let Some(r) = &range {
            req = req.header("Range", r);
        }
        req = c.auth.apply(req);
        let retry = |why: String, wait: Duration| -> Option<(u16, String)> {
            if attempt >= 5 {
                return Some((0, format!("{why} (gave up after {attempt} attempts)")));
            }
            tracing::warn!("connector {}: {why}; retrying in {wait:?}", c.name);
            std::thread::sleep(wait);
            None
        };
        let backoff = Duration::from_millis(500 << (attempt - 1).min(4));
        let resp = match req.send() {
            Ok(r) => r,
            Err(e) => {
                if let Some(err) = retry(format!("cannot reach {url}: {}", error_chain(&e)), backoff) {
                    return Err(err);
                }
                continue;
            }
        };
        let status = resp.status();
        let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        if status.as_u16() == 429 {
            let wait = header("retry-after").and_then(|s| s.parse().ok()).unwrap_or(30u64).min(300);
            if let Some(err) = retry(format!("{url} answered 429 Too Many Requests"), Duration::from_secs(wait)) {
                return Err(err);
            }
            continue;
        }
        if status.is_server_error() {
            let msg = format!("{url} answered {status}: {}", server_message(resp.text().unwrap_or_default()));
            if let Some(err) = retry(msg, backoff) {
                return Err(err);
            }
            continue;
        }
        let date_added_last = header("x-taxii-date-added-last");
        let content_range = header("content-range");
        if !status.is_success() {
            let text = resp.text().unwrap_or_default();
            return Err((status.as_u16(), format!("{url} answered {status}: {}", server_message(text))));
        }
        let body: Value = resp.json().map_err(|e| (0, format!("{url} sent a body that is not JSON: {e}")))?;
        return Ok(Response { body, date_added_last, content_range });
    }
}

/// An error with its causes ("…: connection refused"): reqwest's own message hides them.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cause = c.source();
    }
    s
}

/// The message in a TAXII error resource, or the start of the body.
pub(crate) fn server_message(text: String) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        let t = v.get("title").and_then(Value::as_str).unwrap_or("");
        let d = v.get("description").and_then(Value::as_str).unwrap_or("");
        if !t.is_empty() || !d.is_empty() {
            return format!("{t}{}{d}", if t.is_empty() || d.is_empty() { "" } else { ": " });
        }
    }
    text.chars().take(300).collect()
}

/// `added_after` for this run: one microsecond before the checkpoint (see the module doc).
fn start_after(c: &ConnectorConfig, st: &ConnectorState) -> Result<Option<String>, String> {
    match &st.checkpoint {
        Some(cp) => {
            let t = cairn_stix::Timestamp::parse(cp).map_err(|e| format!("stored checkpoint '{cp}': {e}"))?;
            Ok(Some(cairn_stix::Timestamp::from_unix_micros(t.unix_micros() - 1).to_string()))
        }
        None => lookback_start(&c.lookback),
    }
}

fn poll(pipeline: &Pipeline, c: &ConnectorConfig, st: &mut ConnectorState, n: &mut PollCounts) -> Result<(), String> {
    let client = client();
    let url = c.objects_url();
    let added_after = start_after(c, st)?;
    let source = Source::new(SourceKind::Connector, c.name.clone());
    let started = Instant::now();
    let mut next: Option<String> = None;
    let mut v20 = false;
    let mut offset = 0u64;
    loop {
        let resp = if v20 {
            let mut q = Vec::new();
            if let Some(a) = &added_after {
                q.push(("added_after", a.clone()));
            }
            let range = format!("items {}-{}", offset, offset + c.page_size as u64 - 1);
            get(&client, c, &url, &q, STIX_20, Some(range)).map_err(|(_, m)| m)?
        } else {
            let mut q = vec![("limit", c.page_size.to_string())];
            if let Some(a) = &added_after {
                q.push(("added_after", a.clone()));
            }
            if let Some(nx) = &next {
                q.push(("next", nx.clone()));
            }
            match get(&client, c, &url, &q, TAXII_21, None) {
                Ok(r) => r,
                // A 2.0 server refuses the 2.1 media type: speak 2.0 from here on.
                Err((406, _)) if n.pages == 0 => {
                    v20 = true;
                    continue;
                }
                Err((_, m)) => return Err(m),
            }
        };
        let objects = match resp.body.get("objects") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let received = objects.len() as u64;
        n.received += received;
        n.pages += 1;
        if !objects.is_empty() {
            let outcomes = pipeline.ingest_values(&source, objects).map_err(|e| e.to_string())?;
            for o in outcomes {
                match o {
                    ObjectOutcome::Created => n.created += 1,
                    ObjectOutcome::NewVersion => n.new_versions += 1,
                    ObjectOutcome::Unchanged => n.unchanged += 1,
                    ObjectOutcome::Dropped { .. } => n.dropped += 1,
                    ObjectOutcome::Rejected { .. } => n.rejected += 1,
                }
            }
        }
        // The page is stored: only now may the checkpoint move past it.
        if let Some(last) = resp.date_added_last {
            st.checkpoint = Some(last);
            save_state(pipeline.store().as_ref(), &c.name, st).map_err(|e| e.to_string())?;
        }
        if v20 {
            // Content-Range: items START-END/TOTAL
            let total = resp
                .content_range
                .as_deref()
                .and_then(|r| r.rsplit('/').next())
                .and_then(|t| t.trim().parse::<u64>().ok());
            offset += received;
            if received == 0 || total.is_none_or(|t| offset >= t) {
                break;
            }
        } else {
            let more = resp.body.get("more").and_then(Value::as_bool).unwrap_or(false);
            let nx = resp.body.get("next").and_then(Value::as_str).map(str::to_string);
            match (more, nx) {
                (true, Some(nx)) => next = Some(nx),
                // `more` without `next`: nothing to resume with safely; the checkpoint
                // holds, and the next poll continues from it.
                _ => break,
            }
            if received == 0 {
                break;
            }
        }
    }
    tracing::info!(
        "connector {}: {} pages, {} objects ({} created, {} new versions, {} unchanged, {} dropped by rules, {} rejected) in {:.1?}",
        c.name,
        n.pages,
        n.received,
        n.created,
        n.new_versions,
        n.unchanged,
        n.dropped,
        n.rejected,
        started.elapsed()
    );
    Ok(())
}

/// Runs due connectors forever (see [`crate::scheduler`]).
pub async fn schedule(pipeline: Pipeline, tick: Duration) {
    let p = pipeline.clone();
    let due_jobs = move || -> Result<Vec<String>, String> {
        let all = list(p.store().as_ref()).map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(|(c, s)| {
                !s.paused
                    && parse_duration(&c.interval)
                        .is_ok_and(|every| crate::scheduler::due(s.last_poll.as_deref(), every))
            })
            .map(|(c, _)| c.name)
            .collect())
    };
    crate::scheduler::run_forever("connector", tick, due_jobs, move |name| run(&pipeline, name, None).map(|_| ())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, secs) in [("30s", 30), ("15m", 900), ("1h", 3600), ("7d", 604_800), ("45", 45)] {
            assert_eq!(parse_duration(s), Ok(Duration::from_secs(secs)), "{s}");
        }
        for s in ["", "0s", "1w", "h", "-1m"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    /// A connector to a port where nothing listens.
    fn unreachable_connector(name: &str) -> ConnectorConfig {
        ConnectorConfig {
            name: name.into(),
            api_root: "http://127.0.0.1:1/api/".into(),
            collection: "c".into(),
            auth: ConnectorAuth::None,
            lookback: "all".into(),
            interval: "1h".into(),
            page_size: 10,
        }
    }

    #[test]
    fn lookback_and_checkpoint_overlap() {
        assert_eq!(lookback_start("all"), Ok(None));
        assert_eq!(lookback_start("2024-01-01T00:00:00Z").unwrap().as_deref(), Some("2024-01-01T00:00:00Z"));
        assert!(lookback_start("7d").unwrap().is_some());
        assert!(lookback_start("soon").is_err());
        let c = unreachable_connector("n");
        let st = ConnectorState { checkpoint: Some("2024-01-01T00:00:00.000001Z".into()), ..Default::default() };
        assert_eq!(start_after(&c, &st).unwrap().as_deref(), Some("2024-01-01T00:00:00.000000Z"));
        assert_eq!(c.objects_url(), "http://127.0.0.1:1/api/collections/c/objects/");
    }

    #[test]
    fn a_paused_connector_keeps_its_pause_and_an_unreachable_one_fails_its_test() {
        let dir = tempfile::tempdir().unwrap();
        let store = cairn_store::SqliteStore::open_dir(dir.path()).unwrap();
        let c = unreachable_connector("p");
        assert!(set_paused(&store, "p", true).is_err(), "no such connector yet");
        add(&store, &c).unwrap();
        set_paused(&store, "p", true).unwrap();
        let (_, st) = list(&store).unwrap().pop().unwrap();
        assert!(st.paused);
        assert_eq!(describe(&c, &st)["paused"], true);
        set_paused(&store, "p", false).unwrap();
        assert!(!list(&store).unwrap()[0].1.paused);
        let e = test_connection(&c).unwrap_err();
        assert!(e.starts_with("cannot reach http://127.0.0.1:1/api/collections/c/"), "{e}");
    }

    #[test]
    fn server_messages_come_from_taxii_error_resources() {
        let m = server_message(r#"{"title":"Unauthorized","description":"bad password","http_status":"401"}"#.into());
        assert_eq!(m, "Unauthorized: bad password");
        assert_eq!(server_message("plain".into()), "plain");
    }
}
