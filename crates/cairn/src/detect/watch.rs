//! The server side of detection: keeping a shared [`Detector`] current with the store,
//! and tailing a directory of JSON-lines event files (`cairn serve --watch DIR`).
//!
//! Tailing keeps a byte offset per file (stored as `watch-offset` documents, so a
//! restart resumes where it stopped) and reads only complete lines; a file that shrank
//! was rotated or truncated and is read again from its start. Each poll matches the new
//! lines and appends the matches to the matches log; sightings are aggregated and
//! written once per flush interval (a busy indicator would otherwise get a new sighting
//! version every poll), and only then are the offsets saved — a crash in between
//! re-reads some lines (counted twice) rather than losing any. A graceful stop flushes.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use cairn_store::{Source, SourceKind, Store};

use super::{Changes, Detector, Mapping, Sightings};
use crate::ingest::Pipeline;

/// The server's detector: `None` until the first load finishes.
pub type SharedDetector = Arc<RwLock<Option<Detector>>>;

/// Loads the detector, then applies the store's changes every `interval`. Reading
/// changes happens outside the lock; applying a bounded batch holds it briefly.
pub async fn follow_store(store: Arc<dyn Store>, shared: SharedDetector, interval: Duration) {
    let first = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || Detector::load(store.as_ref(), false)).await
    };
    match first {
        Ok(Ok(d)) => {
            tracing::info!(indicators = d.len(), "indicator index loaded");
            *shared.write().expect("detector lock") = Some(d);
        }
        Ok(Err(e)) => tracing::error!("cannot load the indicator index: {e}"),
        Err(e) => tracing::error!("indicator index loader panicked: {e}"),
    }
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let (store, shared) = (store.clone(), shared.clone());
        let step = tokio::task::spawn_blocking(move || catch_up(store.as_ref(), &shared)).await;
        match step {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("indicator index update failed (retrying): {e}"),
            Err(e) => tracing::error!("indicator index update panicked: {e}"),
        }
    }
}

/// Brings the shared detector up to date with the store (loading it first if needed).
/// Changes are read without the lock and applied in bounded batches under it, and only
/// if no other caller moved the detector's cursor meanwhile (then they are read again
/// from where it is), so concurrent callers never apply a stale batch.
pub fn catch_up(store: &dyn Store, shared: &SharedDetector) -> cairn_store::Result<()> {
    loop {
        // The read guard must be gone before the write below.
        let loaded = shared.read().expect("detector lock").as_ref().map(Detector::cursor);
        let cursor = match loaded {
            Some(c) => c,
            None => {
                let d = Detector::load(store, false)?;
                shared.write().expect("detector lock").get_or_insert(d);
                continue;
            }
        };
        let changes = Changes::read(store, cursor, 20_000)?;
        if changes.is_empty() {
            return Ok(());
        }
        let mut guard = shared.write().expect("detector lock");
        if let Some(d) = guard.as_mut().filter(|d| d.cursor() == cursor) {
            d.apply_changes(changes);
        }
    }
}

/// What one poll of a watched directory did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    pub lines: u64,
    pub bad_lines: u64,
    pub matches: u64,
    pub sightings: usize,
}

/// A watched directory.
pub struct Watcher {
    dir: PathBuf,
    mapping: Arc<Mapping>,
    matches_log: Option<PathBuf>,
    /// Where reading has got to, per file.
    offsets: HashMap<String, u64>,
    /// What is saved in the store (reading restarts there after a crash).
    saved: HashMap<String, u64>,
    sightings: Sightings,
    /// Events held for patterns of several observations, across files and polls.
    correlator: super::Correlator,
    /// Numbers the events given to `correlator`.
    numbered: u32,
    last_flush: std::time::Instant,
    flush_every: Duration,
    source: Source,
}

const OFFSET_DOC: &str = "watch-offset";
/// Most bytes read from one file per poll, so one huge file does not starve the rest.
const MAX_READ: u64 = 64 * 1024 * 1024;

impl Watcher {
    pub fn new(
        store: &dyn Store,
        dir: PathBuf,
        mapping: Arc<Mapping>,
        matches_log: Option<PathBuf>,
    ) -> anyhow::Result<Watcher> {
        let mut offsets = HashMap::new();
        for (name, doc) in store.docs(OFFSET_DOC)? {
            if let Ok(n) = doc.trim().parse::<u64>() {
                offsets.insert(name, n);
            }
        }
        let source = Source::new(SourceKind::Detection, format!("watch:{}", dir.display()));
        Ok(Watcher {
            dir,
            mapping,
            matches_log,
            saved: offsets.clone(),
            offsets,
            sightings: Sightings::new(),
            correlator: super::Correlator::new(),
            numbered: 0,
            last_flush: std::time::Instant::now(),
            flush_every: Duration::from_secs(60),
            source,
        })
    }

    /// How often sightings (and the offsets) are written; default 60 s.
    pub fn with_flush_every(mut self, every: Duration) -> Watcher {
        self.flush_every = every;
        self
    }

    /// Writes the pending sightings, then saves the offsets; returns the sightings
    /// written.
    pub fn flush(&mut self, pipeline: &Pipeline) -> anyhow::Result<usize> {
        let flushed = self.sightings.flush(pipeline, &self.source)?;
        for r in &flushed.rejected {
            tracing::error!("a sighting was rejected: {r}");
        }
        for (key, offset) in &self.offsets {
            if self.saved.get(key) != Some(offset) {
                pipeline.store().put_doc(OFFSET_DOC, key, &offset.to_string())?;
                self.saved.insert(key.clone(), *offset);
            }
        }
        self.last_flush = std::time::Instant::now();
        Ok(flushed.written)
    }

    fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if path.is_file() && matches!(ext, "json" | "jsonl" | "ndjson" | "log") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Reads what was appended since the last poll, matches it and records the matches.
    pub fn poll(&mut self, shared: &SharedDetector, pipeline: &Pipeline) -> anyhow::Result<PollStats> {
        let mut stats = PollStats::default();
        let guard = shared.read().expect("detector lock");
        let Some(detector) = guard.as_ref() else { return Ok(stats) };
        let files = self.files()?;
        let sightings = &mut self.sightings;
        let (correlator, numbered) = (&mut self.correlator, &mut self.numbered);
        let mut log = Vec::new();
        let mut moved = Vec::new();
        for path in files {
            let key = path.display().to_string();
            let start = self.offsets.get(&key).copied().unwrap_or(0);
            let (consumed, new_start) = read_new_lines(&path, start, |line| {
                stats.lines += 1;
                let now = cairn_store::now_micros();
                *numbered = numbered.wrapping_add(1);
                match detector.match_line_correlated(&self.mapping, line, now, correlator, *numbered) {
                    Ok(matches) => {
                        if let Ok(raw) = serde_json::value::RawValue::from_string(line.to_owned()) {
                            for m in &matches {
                                sightings.record(m);
                                log.push(m.to_json(&raw).to_string());
                                stats.matches += 1;
                            }
                        }
                    }
                    Err(e) => {
                        stats.bad_lines += 1;
                        tracing::warn!(file = %key, "unreadable event line: {e}");
                    }
                }
            })?;
            if consumed > 0 || new_start != start {
                moved.push((key, new_start + consumed));
            }
        }
        drop(guard);
        if let (Some(p), false) = (&self.matches_log, log.is_empty()) {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
            for l in &log {
                writeln!(f, "{l}")?;
            }
        }
        for (key, offset) in moved {
            self.offsets.insert(key, offset);
        }
        if self.last_flush.elapsed() >= self.flush_every {
            stats.sightings = self.flush(pipeline)?;
        }
        Ok(stats)
    }
}

/// Calls `each` on every complete line after `start` (restarting from 0 if the file
/// is now shorter); returns (bytes consumed, the offset reading started at).
fn read_new_lines(path: &Path, start: u64, mut each: impl FnMut(&str)) -> std::io::Result<(u64, u64)> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = if len < start { 0 } else { start };
    if len == start {
        return Ok((0, start));
    }
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(MAX_READ).read_to_end(&mut buf)?;
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else { return Ok((0, start)) };
    for line in buf[..end].split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if !line.is_empty() {
            each(line);
        }
    }
    Ok((end as u64 + 1, start))
}

/// Polls `watcher` every `interval` on a blocking thread. The caller keeps the watcher
/// to [`Watcher::flush`] it when the server stops.
pub async fn run(
    watcher: Arc<std::sync::Mutex<Watcher>>,
    shared: SharedDetector,
    pipeline: Pipeline,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let (s, p, w) = (shared.clone(), pipeline.clone(), watcher.clone());
        let result = tokio::task::spawn_blocking(move || {
            let mut w = w.lock().expect("watcher lock");
            let r = w.poll(&s, &p);
            (w.dir.clone(), r)
        })
        .await;
        match result {
            Ok((dir, r)) => match r {
                Ok(st) if st.lines > 0 => tracing::info!(
                    lines = st.lines,
                    matches = st.matches,
                    sightings = st.sightings,
                    bad_lines = st.bad_lines,
                    "watched events processed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("watching {}: {e}", dir.display()),
            },
            Err(e) => {
                tracing::error!("the directory watcher panicked: {e}");
                return;
            }
        }
    }
}
