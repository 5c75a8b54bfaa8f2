//! Detection: indicators matched against event logs, matches recorded as sightings.
//!
//! Shape (sources → transforms → sinks): events come from a file or stdin
//! (`cairn match`), the HTTP API (`POST /api/v1/match`) or a watched directory
//! (`cairn serve --watch`); a [`Mapping`] turns each into observables; the
//! [`Detector`] finds the indicators they match; [`Sightings`] aggregates matches per
//! indicator per day into STIX `sighting` objects that go through the ingest pipeline
//! like any other intelligence.
//!
//! Key design decision: the [`Detector`] follows the store instead of being told about
//! changes. It loads every current indicator once, then reads the versions added since
//! (the store's `seq` order, [`Store::head`]) and re-reads the current version of each
//! indicator they touch. Any writer — an import in another process, a connector, an
//! edit, a delete — reaches the index the same way, and catching up after a pause is
//! the same as catching up after one write.

mod mapping;
mod scan;
pub(crate) mod sighting;
pub mod watch;

use std::collections::HashSet;

use cairn_pattern::index::{Correlated, Event, Found, IndicatorIndex};
use cairn_store::{Filter, Store, StoredVersion, VersionSelect};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub use mapping::{Mapping, MappingFile, BUILT_IN};
pub use sighting::Sightings;

/// What the index keeps per indicator besides its pattern: 12 bytes.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// STIX `confidence` (0–100), -1 when absent.
    confidence: i16,
    /// Index into [`Detector::sources`].
    source: u32,
    /// Index into [`Detector::tagsets`].
    tags: u32,
}

/// Events kept for indicators that only several events match together (`[a] AND [b]`,
/// `FOLLOWEDBY`, `REPEATS`; see [`cairn_pattern::index::Correlator`]): each event's text.
pub type Correlator = cairn_pattern::index::Correlator<std::sync::Arc<str>>;

/// One match: an event and an indicator it matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    pub indicator_id: String,
    pub observable_key: String,
    pub observable_value: String,
    pub confidence: Option<i64>,
    pub tags: Vec<String>,
    pub source: String,
    /// The event's time, µs since the epoch.
    pub time: i64,
    /// For a pattern that several events matched together: the earlier events (as
    /// given), oldest first; the event of the match completed it.
    pub correlated_events: Vec<std::sync::Arc<str>>,
}

impl Match {
    /// The JSON line `cairn match` prints (and `/api/v1/match` lists), with the event
    /// as given.
    pub fn to_json(&self, event: &serde_json::value::RawValue) -> serde_json::Value {
        let mut v = json!({
            "event": event,
            "indicator_id": self.indicator_id,
            "observable_key": self.observable_key,
            "observable_value": self.observable_value,
            "confidence": self.confidence,
            "tags": self.tags,
            "source": self.source,
        });
        if !self.correlated_events.is_empty() {
            let earlier: Vec<serde_json::Value> = self
                .correlated_events
                .iter()
                .map(|e| serde_json::from_str(e).unwrap_or(serde_json::Value::Null))
                .collect();
            v["correlated_events"] = serde_json::Value::Array(earlier);
        }
        v
    }
}

/// Why an indicator is not in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not `pattern_type: stix`; there is nothing to match events with here.
    PatternType,
    /// Pattern, dates or id unusable (the pipeline validates, so this is old data).
    Unusable(String),
}

/// The indicators that can match events, kept current with the store.
pub struct Detector {
    index: IndicatorIndex<Meta>,
    sources: Vec<String>,
    source_ids: hashbrown::HashMap<String, u32>,
    tagsets: Vec<Vec<String>>,
    tagset_ids: hashbrown::HashMap<Vec<String>, u32>,
    /// `sources` and `tagsets` as JSON, for match lines.
    sources_json: Vec<Box<str>>,
    tagsets_json: Vec<Box<str>>,
    /// The store's `seq` up to which changes are applied.
    cursor: Option<i64>,
    /// Keep indicators whose validity has ended (for matching old logs).
    include_expired: bool,
    /// When expired indicators were last removed (µs).
    expired_at: i64,
    /// Indicators left out, by reason (counts).
    pub skipped_type: u64,
    pub skipped_unusable: u64,
}

#[derive(Deserialize)]
struct IndicatorFields<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    pattern: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pattern_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pattern_version: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    spec_version: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    valid_from: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    valid_until: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    confidence: Option<i64>,
    #[serde(default)]
    labels: Vec<String>,
}

const PAGE: usize = 5_000;

impl Detector {
    pub fn new(include_expired: bool) -> Detector {
        Detector {
            index: IndicatorIndex::new(),
            sources: Vec::new(),
            source_ids: Default::default(),
            tagsets: vec![Vec::new()],
            tagset_ids: [(Vec::new(), 0)].into_iter().collect(),
            sources_json: Vec::new(),
            tagsets_json: vec!["[]".into()],
            cursor: None,
            include_expired,
            expired_at: cairn_store::now_micros(),
            skipped_type: 0,
            skipped_unusable: 0,
        }
    }

    /// Loads every current indicator of the store.
    pub fn load(store: &dyn Store, include_expired: bool) -> cairn_store::Result<Detector> {
        let mut d = Detector::new(include_expired);
        let head = store.head()?;
        let filter = Filter { types: vec!["indicator".into()], ..Filter::default() };
        let now = cairn_store::now_micros();
        let mut after = None;
        loop {
            let page = store.list(&filter, after, PAGE)?;
            for v in &page.items {
                d.apply(v, now);
            }
            match page.next {
                Some(n) if !page.items.is_empty() => after = Some(n),
                _ => break,
            }
        }
        d.cursor = head;
        d.index.refresh();
        Ok(d)
    }

    /// Applies the changes the store has had since the last load or catch-up, and
    /// drops indicators that expired. Returns how many indicators were re-read.
    pub fn catch_up(&mut self, store: &dyn Store) -> cairn_store::Result<usize> {
        let mut touched = 0;
        loop {
            let changes = Changes::read(store, self.cursor, PAGE)?;
            if changes.is_empty() {
                break;
            }
            touched += changes.current.len();
            self.apply_changes(changes);
        }
        if !self.include_expired {
            self.index.expire(cairn_store::now_micros());
        }
        self.index.refresh();
        Ok(touched)
    }

    /// Where this detector is in the store's history (for [`Changes::read`]).
    pub fn cursor(&self) -> Option<i64> {
        self.cursor
    }

    /// Applies changes read with [`Changes::read`] from this detector's cursor.
    pub fn apply_changes(&mut self, changes: Changes) {
        let now = cairn_store::now_micros();
        for (id, current) in &changes.current {
            match current {
                Some(v) => self.apply(v, now),
                None => {
                    self.remove(id);
                }
            }
        }
        if changes.cursor.is_some() {
            self.cursor = changes.cursor;
        }
        // Expiry scans every slot: at most once a minute (events are checked against
        // validity anyway; this only frees what can no longer match).
        if !self.include_expired && now - self.expired_at >= 60_000_000 {
            self.index.expire(now);
            self.expired_at = now;
        }
        if !changes.current.is_empty() {
            self.index.refresh();
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        uuid_of(id).is_some_and(|u| self.index.remove(u))
    }

    /// Indexes the current version of an indicator (or removes it, if it cannot match).
    fn apply(&mut self, v: &StoredVersion, now: i64) {
        if v.tombstone || v.revoked {
            self.remove(&v.id);
            return;
        }
        match self.index_one(&v.raw, &v.source, now) {
            Ok(()) => {}
            Err(skip) => {
                self.remove(&v.id);
                match skip {
                    Some(Skip::PatternType) => self.skipped_type += 1,
                    Some(Skip::Unusable(msg)) => {
                        self.skipped_unusable += 1;
                        tracing::debug!(id = %v.id, "indicator left out of the index: {msg}");
                    }
                    None => {}
                }
            }
        }
    }

    /// `Err(None)`: not active (expired), nothing to count.
    fn index_one(&mut self, raw: &str, source: &str, now: i64) -> Result<(), Option<Skip>> {
        let f: IndicatorFields<'_> =
            serde_json::from_str(raw).map_err(|e| Some(Skip::Unusable(format!("unreadable: {e}"))))?;
        if f.revoked {
            return Err(None);
        }
        if f.pattern_type.as_deref().unwrap_or("stix") != "stix" {
            return Err(Some(Skip::PatternType));
        }
        let id = uuid_of(&f.id).ok_or_else(|| Some(Skip::Unusable("bad id".into())))?;
        let time = |t: Option<&str>| -> Result<Option<i64>, Option<Skip>> {
            t.map(|t| {
                cairn_stix::Timestamp::parse(t)
                    .map(|t| t.unix_micros())
                    .map_err(|e| Some(Skip::Unusable(format!("bad time {t}: {}", e.0))))
            })
            .transpose()
        };
        let valid_from = time(f.valid_from.as_deref())?.unwrap_or(i64::MIN);
        let valid_until = time(f.valid_until.as_deref())?.unwrap_or(i64::MAX);
        if valid_until <= now && !self.include_expired {
            return Err(None);
        }
        // STIX 2.0 objects have no spec_version; a 2.1 indicator may say its pattern is 2.0.
        let version = match (f.spec_version.as_deref(), f.pattern_version.as_deref()) {
            (None, _) | (_, Some("2.0")) => cairn_pattern::Version::V20,
            _ => cairn_pattern::Version::V21,
        };
        let pattern = f.pattern.as_deref().ok_or_else(|| Some(Skip::Unusable("no pattern".into())))?;
        let pattern = cairn_pattern::parse(pattern, version)
            .or_else(|_| cairn_pattern::parse(pattern, cairn_pattern::Version::V21))
            .map_err(|e| Some(Skip::Unusable(format!("pattern: {e}"))))?;
        let meta = Meta {
            confidence: f.confidence.and_then(|c| i16::try_from(c).ok()).unwrap_or(-1),
            source: self.source_id(source),
            tags: self.tagset_id(f.labels),
        };
        self.index
            .insert(id, &pattern, valid_from, valid_until, meta)
            .map(|_| ())
            .map_err(|e| Some(Skip::Unusable(format!("pattern cannot be matched: {e}"))))
    }

    /// Indexes one indicator given as JSON (for benchmarks and bulk callers that
    /// bypass the store); false when it cannot match events.
    pub fn insert_json(&mut self, raw: &str, source: &str) -> bool {
        self.index_one(raw, source, cairn_store::now_micros()).is_ok()
    }

    /// Compiles what changed since the last call (see [`IndicatorIndex::refresh`]).
    pub fn refresh(&mut self) {
        self.index.refresh();
    }

    fn source_id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.source_ids.get(s) {
            return i;
        }
        self.sources.push(s.to_owned());
        self.sources_json.push(serde_json::to_string(s).expect("a string serialises").into());
        let i = (self.sources.len() - 1) as u32;
        self.source_ids.insert(s.to_owned(), i);
        i
    }

    fn tagset_id(&mut self, mut tags: Vec<String>) -> u32 {
        tags.sort();
        tags.dedup();
        if let Some(&i) = self.tagset_ids.get(&tags) {
            return i;
        }
        self.tagsets.push(tags.clone());
        self.tagsets_json.push(serde_json::to_string(&tags).expect("strings serialise").into());
        let i = (self.tagsets.len() - 1) as u32;
        self.tagset_ids.insert(tags, i);
        i
    }

    /// How many indicators can match.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The raw index matches of an event (for benchmarks and batch callers).
    pub fn find<'i>(&'i self, event: &Event<'_>, out: &mut Vec<Found<'i>>) {
        self.index.find(event, out)
    }

    /// A raw match as a [`Match`].
    pub fn describe(&self, found: &Found, time: i64) -> Match {
        let e = self.index.get(found.slot).expect("found slots are live");
        Match {
            indicator_id: format!("indicator--{}", Uuid::from_u128(e.id)),
            observable_key: found.key().to_owned(),
            observable_value: found.value().into_owned(),
            confidence: (e.meta.confidence >= 0).then_some(i64::from(e.meta.confidence)),
            tags: self.tagsets[e.meta.tags as usize].clone(),
            source: self.sources[e.meta.source as usize].clone(),
            time,
            correlated_events: Vec::new(),
        }
    }

    /// The index, for batches of events ([`IndicatorIndex::find_batch`]) and for the
    /// indicators an event leaves pending ([`IndicatorIndex::find_with_pending`]).
    pub fn index(&self) -> &IndicatorIndex<Meta> {
        &self.index
    }

    /// Gives an event that made indicators `pending` to `correlator`: the matches it
    /// completed together with earlier events.
    /// `bundle` is the event as [`Event::to_bundle_as`] makes it.
    pub fn correlate<'i>(
        &'i self,
        correlator: &mut Correlator,
        pending: &[u32],
        time: i64,
        bundle: &serde_json::Value,
        text: &std::sync::Arc<str>,
        out: &mut Vec<Correlated<'i, std::sync::Arc<str>>>,
    ) {
        correlator.push(&self.index, pending, time, bundle, text, out);
    }

    /// A correlated match as a [`Match`] (of its last event, at `time`).
    pub fn describe_correlated(&self, c: &Correlated<'_, std::sync::Arc<str>>, time: i64) -> Match {
        let mut m = self.describe(&c.found, time);
        m.correlated_events = c.events[..c.events.len().saturating_sub(1)].to_vec();
        m
    }

    /// Writes the JSON line of a match (the shape of [`Match::to_json`]) without
    /// building it: this is `cairn match`'s inner loop. `event` must be a JSON object.
    pub fn write_match(&self, found: &Found, event: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write_match_with(found, event, &[], out)
    }

    /// [`Detector::write_match`] for a match several events made: the last of `events`
    /// is the event of the line, the others go in `correlated_events`.
    pub fn write_correlated(
        &self,
        c: &Correlated<'_, std::sync::Arc<str>>,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let Some((last, earlier)) = c.events.split_last() else { return Ok(()) };
        self.write_match_with(&c.found, last, earlier, out)
    }

    fn write_match_with(
        &self,
        found: &Found,
        event: &str,
        earlier: &[std::sync::Arc<str>],
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        // Assembled here and written once.
        let mut line = Vec::with_capacity(event.len() + 256);
        self.append_match(found, event, earlier, &mut line);
        out.write_all(&line)
    }

    /// [`Detector::write_match`] appending to a buffer (nothing to fail, nothing to
    /// allocate but the buffer's growth): `cairn match`'s inner loop.
    pub fn write_match_into(&self, found: &Found, event: &str, line: &mut Vec<u8>) {
        self.append_match(found, event, &[], line)
    }

    fn append_match(&self, found: &Found, event: &str, earlier: &[std::sync::Arc<str>], line: &mut Vec<u8>) {
        use std::io::Write as _;
        let e = self.index.get(found.slot).expect("found slots are live");
        // Tag sets and sources are kept as JSON.
        line.extend_from_slice(b"{\"event\":");
        line.extend_from_slice(event.as_bytes());
        let mut id = [0u8; 36];
        Uuid::from_u128(e.id).hyphenated().encode_lower(&mut id);
        line.extend_from_slice(b",\"indicator_id\":\"indicator--");
        line.extend_from_slice(&id);
        line.extend_from_slice(b"\",\"observable_key\":");
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *line, found.key());
        line.extend_from_slice(b",\"observable_value\":");
        let _ = found.write_value_json(line);
        line.extend_from_slice(b",\"confidence\":");
        match e.meta.confidence {
            c if c < 0 => line.extend_from_slice(b"null"),
            c @ 0..=999 => {
                let c = c as u16;
                if c >= 100 {
                    line.push(b'0' + (c / 100) as u8);
                }
                if c >= 10 {
                    line.push(b'0' + (c / 10 % 10) as u8);
                }
                line.push(b'0' + (c % 10) as u8);
            }
            c => {
                let _ = write!(line, "{c}");
            }
        }
        line.extend_from_slice(b",\"tags\":");
        line.extend_from_slice(self.tagsets_json[e.meta.tags as usize].as_bytes());
        line.extend_from_slice(b",\"source\":");
        line.extend_from_slice(self.sources_json[e.meta.source as usize].as_bytes());
        if !earlier.is_empty() {
            line.extend_from_slice(b",\"correlated_events\":[");
            for (i, ev) in earlier.iter().enumerate() {
                if i > 0 {
                    line.push(b',');
                }
                line.extend_from_slice(ev.as_bytes());
            }
            line.push(b']');
        }
        line.extend_from_slice(b"}\n");
    }

    /// The indicator UUID of a raw match.
    pub fn uuid(&self, found: &Found) -> u128 {
        self.index.get(found.slot).expect("found slots are live").id
    }

    /// The matches of one event line.
    pub fn match_line(&self, mapping: &Mapping, line: &str, now: i64) -> Result<Vec<Match>, String> {
        let mut event = Event { time: now, fields: Vec::new() };
        mapping.read(line, now, &mut event)?;
        let mut found = Vec::new();
        self.index.find(&event, &mut found);
        Ok(found.iter().map(|f| self.describe(f, event.time)).collect())
    }

    /// The matches of one event line, alone and together with the events `correlator`
    /// holds; `number` numbers it apart from the other events given to `correlator`.
    pub fn match_line_correlated(
        &self,
        mapping: &Mapping,
        line: &str,
        now: i64,
        correlator: &mut Correlator,
        number: u32,
    ) -> Result<Vec<Match>, String> {
        let mut event = Event { time: now, fields: Vec::new() };
        mapping.read(line, now, &mut event)?;
        let (mut found, mut pending, mut together) = (Vec::new(), Vec::new(), Vec::new());
        self.index.find_with_pending(&event, &mut found, &mut pending);
        let mut out: Vec<Match> = found.iter().map(|f| self.describe(f, event.time)).collect();
        if !pending.is_empty() {
            let bundle = event.to_bundle_as(number);
            self.correlate(correlator, &pending, event.time, &bundle, &std::sync::Arc::from(line), &mut together);
            out.extend(together.iter().map(|c| self.describe_correlated(c, event.time)));
        }
        Ok(out)
    }
}

/// Changes read from the store, to apply to a [`Detector`]: reading needs no lock on
/// the detector, applying is quick.
#[derive(Debug, Default)]
pub struct Changes {
    /// Each changed indicator with its current version (`None`: deleted).
    current: Vec<(String, Option<StoredVersion>)>,
    cursor: Option<i64>,
}

impl Changes {
    /// Up to `limit` versions written after `cursor`, as the current versions of the
    /// indicators they belong to.
    pub fn read(store: &dyn Store, cursor: Option<i64>, limit: usize) -> cairn_store::Result<Changes> {
        let filter = Filter { types: vec!["indicator".into()], versions: VersionSelect::All, ..Filter::default() };
        let page = store.list(&filter, cursor, limit)?;
        let mut seen = HashSet::new();
        let mut current = Vec::new();
        for v in &page.items {
            if seen.insert(v.id.as_str()) {
                current.push((v.id.clone(), store.current(&v.id)?));
            }
        }
        Ok(Changes { current, cursor: page.items.last().map(|v| v.seq).or(cursor) })
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

pub(crate) fn uuid_of(id: &str) -> Option<u128> {
    let (_, u) = id.split_once("--")?;
    Uuid::parse_str(u).ok().map(|u| u.as_u128())
}

#[cfg(test)]
mod tests;
