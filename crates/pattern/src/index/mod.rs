//! The indicator index: which of many indicators an event matches, fast.
//!
//! Every pattern is analysed once, on insertion:
//! - **Simple**: one positive equality (`[ipv4-addr:value = '198.51.100.7']`), the bulk
//!   of real feeds. It lives as one entry of a hash table keyed by (path, value); a hit
//!   is a match, nothing is evaluated.
//! - **Direct**: an `OR` of equalities and networks without qualifiers (`[a = 'x' OR
//!   a = 'y']`, `[ipv4-addr:value ISSUBSET '10.0.0.0/8']`): each is a key; any hit is a
//!   match.
//! - **Rich** (everything else): compiled with the [`Matcher`], and indexed by its
//!   *triggers*, a set of comparisons one of which must hold for any match (one side of
//!   an `AND`, every side of an `OR`). An event that hits a trigger is a candidate and is
//!   evaluated in full. Triggers are equality keys, networks and `LIKE`/`MATCHES` regular
//!   expressions (kept per path in [`regex::RegexSet`] chunks of [`CHUNK`]); a pattern
//!   with no trigger at all (`[file:size > 10]`) is evaluated against every event.
//!
//! Networks (CIDR values, `ISSUBSET`) are keys too: for each prefix length present on a
//! path, an address is masked and probed, so a lookup costs one probe per distinct
//! prefix length (a handful in practice) instead of a walk down a trie.
//!
//! Key design decision: one open-addressing table ([`table::KeyTable`], 16-byte buckets,
//! keys in one arena) holds every key of every path, each entry pointing at its
//! indicators, and slots hold only what removal needs (the path and the key's hash) —
//! not the key again, not the pattern. That is what keeps a simple indicator near 140
//! bytes, and makes every change (insert, replace, remove, expire) a few probes: nothing
//! is ever rebuilt but the one regex chunk a change touched, and that lazily
//! ([`IndicatorIndex::refresh`]). Lookups come in batches
//! ([`IndicatorIndex::find_batch`]): at a million indicators each one is a few cache
//! misses, and a batch overlaps them.
//!
//! Comparisons follow the matcher, with the normalisation analysts expect of detection:
//! addresses compare as addresses (so a CIDR value `ipv4-addr:value = '10.0.0.0/8'` is
//! a network), domain names, e-mail addresses and hashes case-insensitively ([`key`]).
//! Rich patterns are normalised the same way before they are compiled, so both paths
//! agree. An event matches an indicator only if the event's time lies in the
//! indicator's validity, `valid_from <= t < valid_until`.

mod correlate;
mod event;
mod key;
mod table;

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};
use table::KeyTable;

pub use correlate::{Correlated, Correlator};
pub use event::{format_time, Event, FieldValue, Target};
pub use key::KeyKind;

use crate::ast::{Comparison, ComparisonExpr, ComparisonOp, Literal, ObservationExpr, Pattern};
use crate::matcher::{text_regex, MatchError, Matcher, Observations};
use crate::Version;

/// Regular expressions per compiled set: a change recompiles one chunk of this many.
/// Every event value on a path with regexes is run through each chunk's set, so chunks
/// are large (a set of 512 simple regexes compiles in milliseconds).
pub const CHUNK: usize = 512;

thread_local! {
    /// Scratch space of single-event lookups, reused.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Events per step of [`IndicatorIndex::find_batch`]'s callers: enough lookups in
/// flight to overlap their cache misses, few enough that the batch's buckets stay in
/// the L1 cache between the steps.
pub const BATCH: usize = 32;

/// Set in [`EqEntry::hits`] when it indexes [`IndicatorIndex::multi`] instead of naming
/// one slot.
const MULTI: u32 = 1 << 31;

/// A match of one indicator by one event. It borrows from the index, so finding
/// allocates nothing per match; the texts are made when asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'i> {
    /// The indicator's slot: [`IndicatorIndex::get`] gives its id and metadata.
    pub slot: u32,
    via: Via<'i>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via<'i> {
    /// The key (path, encoded value) that hit.
    Key(&'i str, &'i [u8]),
    /// A pattern's first equality (for matches found by a regex or by scanning).
    First(&'i str, &'i str),
    Nothing,
}

impl<'i> Found<'i> {
    /// The comparison that matched, as Sentinel's `ObservableKey` (for compound
    /// patterns: the trigger that made the pattern a candidate, else its first
    /// equality; empty when it has none).
    pub fn key(&self) -> &'i str {
        match self.via {
            Via::Key(p, _) | Via::First(p, _) => p,
            Via::Nothing => "",
        }
    }

    /// Writes [`Found::value`] as a JSON string, without making it first.
    pub fn write_value_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self.via {
            Via::Key(_, k) => key::write_key_json(k, w),
            _ => serde_json::to_writer(w, &self.value()).map_err(std::io::Error::from),
        }
    }

    /// The matched value, as `ObservableValue`, normalised (addresses canonical,
    /// hashes and domain names lower case).
    pub fn value(&self) -> std::borrow::Cow<'i, str> {
        match self.via {
            Via::Key(_, k) => key::key_text(k).into(),
            Via::First(_, v) => v.into(),
            Via::Nothing => "".into(),
        }
    }
}

/// An indexed indicator.
#[derive(Debug)]
pub struct Entry<M> {
    /// The UUID of `indicator--<uuid>`.
    pub id: u128,
    /// Microseconds since the Unix epoch.
    pub valid_from: i64,
    /// Microseconds since the Unix epoch; `i64::MAX` for none.
    pub valid_until: i64,
    pub meta: M,
    plan: Plan,
}

#[derive(Debug)]
enum Plan {
    Free,
    /// One equality key: the entry in `eq` with this path and hash.
    Simple {
        path: u32,
        hash: u64,
    },
    Rich(Box<Rich>),
}

struct Rich {
    /// `None` for direct patterns (any key hit is a match).
    matcher: Option<Matcher>,
    /// Some members need observations of their own (`[a] AND [b]`, `FOLLOWEDBY`,
    /// `REPEATS`): events are also matched together (see [`Correlator`]), and the
    /// triggers cover every observation, so each event that could take part is a
    /// candidate. The value: how long an event can matter, from an outermost `WITHIN`.
    several: Option<Option<i64>>,
    keys: Vec<(u32, u64)>,
    regexes: Vec<(u32, u32, u32)>,
    /// In `scan` (no trigger).
    scan: bool,
    /// The first equality, for reports of matches found by scanning or by regex.
    first: Option<(String, String)>,
}

impl std::fmt::Debug for Rich {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rich").field("keys", &self.keys.len()).field("scan", &self.scan).finish_non_exhaustive()
    }
}

struct PathInfo {
    text: String,
    /// Prefix lengths of networks on this path, with how many keys use each.
    nets: Vec<(u8, u8, u32)>,
    /// For IPv4 networks of prefix 16 or longer: how many start with each /16, so most
    /// addresses skip those probes after one array read. Empty until such a network.
    v4_16: Vec<u32>,
    regex: Option<RegexGroup>,
}

#[derive(Default)]
struct RegexGroup {
    chunks: Vec<Chunk>,
}

#[derive(Default)]
struct Chunk {
    sources: Vec<String>,
    /// The slot of each source; `u32::MAX` once removed.
    slots: Vec<u32>,
    /// `None` until [`IndicatorIndex::refresh`] compiles it (or when it cannot be
    /// compiled): every live slot of the chunk is then a candidate.
    set: Option<regex::RegexSet>,
}

/// The index. `M` is the caller's metadata per indicator (confidence, tags, source…).
pub struct IndicatorIndex<M> {
    slots: Vec<Entry<M>>,
    free: Vec<u32>,
    ids: HashTable<u32>,
    paths: Vec<PathInfo>,
    path_ids: hashbrown::HashMap<String, u32>,
    eq: KeyTable,
    multi: Vec<Vec<u32>>,
    multi_free: Vec<u32>,
    scan: Vec<u32>,
    hasher: DefaultHashBuilder,
    live: usize,
}

impl<M> Default for IndicatorIndex<M> {
    fn default() -> Self {
        IndicatorIndex {
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashTable::new(),
            paths: Vec::new(),
            path_ids: hashbrown::HashMap::new(),
            eq: KeyTable::default(),
            multi: Vec::new(),
            multi_free: Vec::new(),
            scan: Vec::new(),
            hasher: DefaultHashBuilder::default(),
            live: 0,
        }
    }
}

/// A rich indicator to evaluate: its slot, and the key (path, bytes) that made it one.
type Candidate<'i> = (u32, Via<'i>);

/// Working space of [`IndicatorIndex::find_batch`], kept between calls so that a
/// stream of batches allocates nothing.
#[derive(Default)]
pub struct Scratch {
    /// The records (path number, then key) of the batch's lookups.
    records: Vec<u8>,
    probes: Vec<Probe>,
    /// Every event's lookups in order; `event_ends[n]` is where event `n`'s end.
    ops: Vec<Op>,
    event_ends: Vec<usize>,
    /// Path numbers by the address and length of the path's text (targets live as long
    /// as the batch): a few comparisons instead of hashing the text per field.
    paths: Vec<(usize, usize, Option<u32>)>,
}

struct Probe {
    off: u32,
    len: u32,
    hash: u64,
    path: u32,
    /// A bucket with this hash's fingerprint exists.
    likely: bool,
    /// The bucket of the key, when it is in the table.
    hit: Option<u32>,
}

enum Op {
    Probe(u32),
    Regex { path: u32, field: u32 },
}

impl Scratch {
    fn clear(&mut self) {
        self.records.clear();
        self.probes.clear();
        self.ops.clear();
        self.event_ends.clear();
        self.paths.clear();
    }

    fn path_of<M>(&mut self, index: &IndicatorIndex<M>, text: &str) -> Option<u32> {
        let id = (text.as_ptr() as usize, text.len());
        if let Some(&(_, _, p)) = self.paths.iter().find(|(a, l, _)| (*a, *l) == id) {
            return p;
        }
        let p = index.path_ids.get(text).copied();
        self.paths.push((id.0, id.1, p));
        p
    }

    /// A lookup of `path` and the key `key` appends (none when it appends nothing):
    /// its record kept, its bucket requested from memory.
    fn lookup<M>(&mut self, index: &IndicatorIndex<M>, path: u32, key: impl FnOnce(&mut Vec<u8>)) {
        let start = self.records.len();
        self.records.extend_from_slice(&path.to_le_bytes());
        key(&mut self.records);
        if self.records.len() == start + 4 {
            self.records.truncate(start);
            return;
        }
        let hash = index.eq.hash(&self.records[start..]);
        index.eq.prefetch(hash);
        let len = (self.records.len() - start) as u32;
        self.ops.push(Op::Probe(self.probes.len() as u32));
        self.probes.push(Probe { off: start as u32, len, hash, path, likely: false, hit: None });
    }
}

/// What must hold for a pattern to match (one of these atoms).
enum Atom {
    Key { path: String, key: Vec<u8> },
    Regex { path: String, source: String },
}

impl<M> IndicatorIndex<M> {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many indicators are indexed.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// An indexed indicator by slot (from [`Found::slot`]).
    pub fn get(&self, slot: u32) -> Option<&Entry<M>> {
        self.slots.get(slot as usize).filter(|e| !matches!(e.plan, Plan::Free))
    }

    /// A several-observation indicator's matcher and how long an event can matter to
    /// it (its outermost `WITHIN`, if any).
    fn several(&self, slot: u32) -> Option<(u128, &Matcher, Option<i64>)> {
        let e = self.get(slot)?;
        let Plan::Rich(r) = &e.plan else { return None };
        Some((e.id, r.matcher.as_ref()?, r.several?))
    }

    /// A match reported by the pattern's first equality (for correlated matches).
    fn found_first(&self, slot: u32) -> Found<'_> {
        let via = match self.get(slot).map(|e| &e.plan) {
            Some(Plan::Rich(r)) => r.first.as_ref().map_or(Via::Nothing, |(k, v)| Via::First(k, v)),
            _ => Via::Nothing,
        };
        Found { slot, via }
    }

    /// The slot of an indicator.
    pub fn slot_of(&self, id: u128) -> Option<u32> {
        let h = self.hasher.hash_one(id);
        self.ids.find(h, |&s| self.slots[s as usize].id == id).copied()
    }

    /// Adds an indicator, replacing what was indexed under the same id. Fails (and
    /// changes nothing but removing the old entry) when the matcher cannot use the
    /// pattern at all (see [`Matcher::new`]).
    pub fn insert(
        &mut self,
        id: u128,
        pattern: &Pattern,
        valid_from: i64,
        valid_until: i64,
        meta: M,
    ) -> Result<u32, MatchError> {
        self.remove(id);
        let planned = self.plan(pattern)?;
        let entry = Entry { id, valid_from, valid_until, meta, plan: Plan::Free };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = entry;
                s
            }
            None => {
                self.slots.push(entry);
                u32::try_from(self.slots.len() - 1).ok().filter(|s| s & MULTI == 0).expect("fewer than 2^31 indicators")
            }
        };
        let plan = self.attach(slot, planned);
        self.slots[slot as usize].plan = plan;
        let h = self.hasher.hash_one(id);
        let slots = &self.slots;
        self.ids.insert_unique(h, slot, |&s| self.hasher.hash_one(slots[s as usize].id));
        self.live += 1;
        Ok(slot)
    }

    /// Sets the metadata of an indexed indicator.
    pub fn set_meta(&mut self, slot: u32, meta: M) {
        self.slots[slot as usize].meta = meta;
    }

    /// Removes an indicator; false when it was not indexed.
    pub fn remove(&mut self, id: u128) -> bool {
        let h = self.hasher.hash_one(id);
        let slots = &self.slots;
        let Ok(found) = self.ids.find_entry(h, |&s| slots[s as usize].id == id) else { return false };
        let (slot, _) = found.remove();
        let plan = std::mem::replace(&mut self.slots[slot as usize].plan, Plan::Free);
        match plan {
            Plan::Free => unreachable!("the id table names live slots only"),
            Plan::Simple { path, hash } => self.detach_key(slot, path, hash),
            Plan::Rich(rich) => {
                for &(path, hash) in &rich.keys {
                    self.detach_key(slot, path, hash);
                }
                for &(path, chunk, pos) in &rich.regexes {
                    let group = self.paths[path as usize].regex.as_mut().expect("a regex group");
                    let c = &mut group.chunks[chunk as usize];
                    c.slots[pos as usize] = u32::MAX;
                    if c.slots.iter().all(|&s| s == u32::MAX) {
                        *c = Chunk::default();
                    }
                }
                if rich.scan {
                    self.scan.retain(|&s| s != slot);
                }
            }
        }
        self.slots[slot as usize].id = 0;
        self.free.push(slot);
        self.live -= 1;
        true
    }

    /// Removes every indicator whose validity ended at or before `now` (µs); returns
    /// how many.
    pub fn expire(&mut self, now: i64) -> usize {
        let ids: Vec<u128> =
            self.slots.iter().filter(|e| !matches!(e.plan, Plan::Free) && e.valid_until <= now).map(|e| e.id).collect();
        for id in &ids {
            self.remove(*id);
        }
        ids.len()
    }

    /// Compiles the regular-expression chunks changed since the last call. Lookups are
    /// correct without it (an uncompiled chunk's indicators are all evaluated), only
    /// slower; call it after a batch of changes.
    pub fn refresh(&mut self) {
        for p in &mut self.paths {
            let Some(group) = &mut p.regex else { continue };
            for c in &mut group.chunks {
                if c.set.is_none() && c.slots.iter().any(|&s| s != u32::MAX) {
                    c.set = regex::RegexSetBuilder::new(&c.sources).size_limit(1 << 24).build().ok();
                }
            }
        }
    }

    /// The indicators `event` matches, each once, appended to `out`. Full evaluations
    /// that fail (a value the pattern cannot compare, see [`MatchError`]) count as no
    /// match, as for the reference matcher's callers.
    pub fn find<'i>(&'i self, event: &Event<'_>, out: &mut Vec<Found<'i>>) {
        self.find_with_pending(event, out, &mut Vec::new());
    }

    /// [`IndicatorIndex::find`], and in `pending` the indicators that need several
    /// observations for which this event could be one (and that it did not match alone):
    /// what a [`Correlator`] takes.
    pub fn find_with_pending<'i>(&'i self, event: &Event<'_>, out: &mut Vec<Found<'i>>, pending: &mut Vec<u32>) {
        SCRATCH.with_borrow_mut(|scratch| {
            let mut ends = Vec::with_capacity(1);
            self.find_batch(std::slice::from_ref(event), scratch, out, pending, &mut ends);
        })
    }

    /// [`IndicatorIndex::find_with_pending`] for several events at once, with the same
    /// results: each event's matches are appended to `out` and its pending indicators to
    /// `pending`, and `ends` gets, per event, where its matches and pending indicators
    /// end in those two lists.
    ///
    /// Why batches: at scale every key lookup is a cache miss or three (the bucket, the
    /// key's bytes, the indicator's slot). Here each step is taken for every lookup of
    /// the batch before the next step, with the memory the next step reads requested
    /// ahead, so the misses overlap. [`BATCH`] events a call is about right.
    pub fn find_batch<'i>(
        &'i self,
        events: &[Event<'_>],
        scratch: &mut Scratch,
        out: &mut Vec<Found<'i>>,
        pending: &mut Vec<u32>,
        ends: &mut Vec<(usize, usize)>,
    ) {
        scratch.clear();
        // 1. Every lookup of every event: its record, and its bucket requested.
        for event in events {
            for (f, (target, value)) in event.fields.iter().enumerate() {
                self.plan_lookups(scratch, f as u32, target, value);
            }
            scratch.event_ends.push(scratch.ops.len());
        }
        // 2. Buckets read (now in cache); the bytes of likely hits requested.
        for p in &mut scratch.probes {
            p.likely = self.eq.prefetch_key(p.hash);
        }
        // 3. Keys compared (now in cache); the slots of hits requested.
        for p in scratch.probes.iter_mut().filter(|p| p.likely) {
            let record = &scratch.records[p.off as usize..(p.off + p.len) as usize];
            if let Some(hit) = self.eq.get(p.hash, record) {
                p.hit = Some(hit.pos as u32);
                if hit.hits & MULTI == 0 {
                    if let Some(e) = self.slots.get(hit.hits as usize) {
                        table::prefetch(e);
                    }
                }
            }
        }
        // 4. Each event in turn, its lookups in the order of its fields.
        let mut candidates: Vec<Candidate<'i>> = Vec::new();
        let mut op = 0;
        for (n, event) in events.iter().enumerate() {
            let start = out.len();
            candidates.clear();
            for o in &scratch.ops[op..scratch.event_ends[n]] {
                match *o {
                    Op::Probe(i) => {
                        let p = &scratch.probes[i as usize];
                        let Some(pos) = p.hit else { continue };
                        let hit = self.eq.at(pos as usize);
                        let via = Via::Key(&self.paths[p.path as usize].text, &hit.record[4..]);
                        if hit.hits & MULTI != 0 {
                            for &slot in &self.multi[(hit.hits & !MULTI) as usize] {
                                self.on_hit(slot, event.time, via, start, out, &mut candidates);
                            }
                        } else {
                            self.on_hit(hit.hits, event.time, via, start, out, &mut candidates);
                        }
                    }
                    Op::Regex { path, field } => {
                        let (Some(group), (_, FieldValue::Str(s))) =
                            (&self.paths[path as usize].regex, &event.fields[field as usize])
                        else {
                            continue;
                        };
                        self.regex_candidates(group, s, event.time, start, out, &mut candidates);
                    }
                }
            }
            op = scratch.event_ends[n];
            for &slot in &self.scan {
                self.on_hit(slot, event.time, Via::Nothing, start, out, &mut candidates);
            }
            if !candidates.is_empty() {
                self.evaluate(event, &candidates, start, out, pending);
            }
            ends.push((out.len(), pending.len()));
        }
    }

    /// Full evaluation of the candidates of one event.
    fn evaluate<'i>(
        &'i self,
        event: &Event<'_>,
        candidates: &[Candidate<'i>],
        start: usize,
        out: &mut Vec<Found<'i>>,
        pending: &mut Vec<u32>,
    ) {
        let bundle = [event.to_bundle()];
        let Ok(observed) = Observations::new(&bundle, Version::V21) else { return };
        for &(slot, via) in candidates {
            if out[start..].iter().any(|f| f.slot == slot) {
                continue;
            }
            let Plan::Rich(rich) = &self.slots[slot as usize].plan else { continue };
            let Some(m) = &rich.matcher else { continue };
            if m.matches(&observed).unwrap_or(false) {
                let via = match (via, &rich.first) {
                    (Via::Nothing, Some((k, v))) => Via::First(k, v),
                    (via, _) => via,
                };
                out.push(Found { slot, via });
            } else if rich.several.is_some() {
                pending.push(slot);
            }
        }
    }

    /// The lookups one event field needs, in order: its key on its own path and, for a
    /// referenced address or name, on the referenced object's path; a probe per network
    /// prefix length present; the path's regular expressions.
    fn plan_lookups(&self, scratch: &mut Scratch, field: u32, target: &Target, value: &FieldValue<'_>) {
        // Addresses are parsed once per value.
        let ip = match (target.kind, value) {
            (KeyKind::Ip, FieldValue::Str(s)) => s.parse::<std::net::IpAddr>().ok(),
            _ => None,
        };
        let alias = match ip {
            Some(std::net::IpAddr::V4(_)) if target.is_reference() => Some("ipv4-addr:value"),
            Some(std::net::IpAddr::V6(_)) if target.is_reference() => Some("ipv6-addr:value"),
            None => target.referenced_type(value).map(alias_path),
            _ => None,
        };
        let lookups = [Some((target.text.as_str(), target.kind)), alias.map(|t| (t, KeyKind::Ip))];
        for (path_text, kind) in lookups.into_iter().flatten() {
            let Some(path) = scratch.path_of(self, path_text) else { continue };
            scratch.lookup(self, path, |key| match value {
                FieldValue::Str(_) if ip.is_some() => key::ip_key(ip.expect("checked"), key),
                FieldValue::Str(s) => key::text_key(kind, s, key),
                FieldValue::Int(i) => key::int_key(i128::from(*i), key),
                FieldValue::Bool(b) => key::bool_key(*b, key),
                FieldValue::Float(_) => {}
            });
            let info = &self.paths[path as usize];
            if let Some(ip) = ip {
                let fam = if ip.is_ipv4() { key::TAG_NET4 } else { key::TAG_NET6 };
                let v4_skip_long = match ip {
                    std::net::IpAddr::V4(a) => info.v4_16.get((u32::from(a) >> 16) as usize).is_none_or(|&n| n == 0),
                    std::net::IpAddr::V6(_) => false,
                };
                for &(tag, len, _) in &info.nets {
                    if tag == fam && !(v4_skip_long && tag == key::TAG_NET4 && len >= 16) {
                        scratch.lookup(self, path, |key| key::net_key(ip, len, key));
                    }
                }
            }
            if info.regex.is_some() && matches!(value, FieldValue::Str(_)) {
                scratch.ops.push(Op::Regex { path, field });
            }
        }
    }

    fn regex_candidates<'i>(
        &'i self,
        group: &RegexGroup,
        subject: &str,
        time: i64,
        start: usize,
        out: &mut Vec<Found<'i>>,
        cands: &mut Vec<Candidate<'i>>,
    ) {
        use unicode_normalization::UnicodeNormalization;
        // The compiled sets are exact only for non-empty subjects without a final newline.
        let exact = !subject.is_empty() && !subject.ends_with('\n');
        let nfc: std::borrow::Cow<'_, str> =
            if subject.is_ascii() { subject.into() } else { subject.nfc().collect::<String>().into() };
        for c in &group.chunks {
            match (&c.set, exact) {
                // `is_match` first: it stops at the first match, and iterating a set's
                // matches walks every pattern of the chunk.
                (Some(set), true) if !set.is_match(&nfc) => {}
                (Some(set), true) => {
                    for i in set.matches(&nfc).iter() {
                        if c.slots[i] != u32::MAX {
                            self.on_hit(c.slots[i], time, Via::Nothing, start, out, cands);
                        }
                    }
                }
                _ => {
                    for &s in c.slots.iter().filter(|&&s| s != u32::MAX) {
                        self.on_hit(s, time, Via::Nothing, start, out, cands);
                    }
                }
            }
        }
    }

    fn on_hit<'i>(
        &'i self,
        slot: u32,
        time: i64,
        via: Via<'i>,
        start: usize,
        out: &mut Vec<Found<'i>>,
        cands: &mut Vec<Candidate<'i>>,
    ) {
        let e = &self.slots[slot as usize];
        if time < e.valid_from || time >= e.valid_until {
            return;
        }
        let direct = match &e.plan {
            Plan::Simple { .. } => true,
            Plan::Rich(r) => r.matcher.is_none(),
            Plan::Free => return,
        };
        if direct {
            if out[start..].iter().all(|f| f.slot != slot) {
                out.push(Found { slot, via });
            }
        } else if cands.iter().all(|c| c.0 != slot) {
            cands.push((slot, via));
        }
    }

    fn path_id(&mut self, text: &str) -> u32 {
        if let Some(&p) = self.path_ids.get(text) {
            return p;
        }
        let p = u32::try_from(self.paths.len()).expect("fewer than 2^32 paths");
        self.paths.push(PathInfo { text: text.to_owned(), nets: Vec::new(), v4_16: Vec::new(), regex: None });
        self.path_ids.insert(text.to_owned(), p);
        p
    }

    /// Links a slot to its keys and regexes.
    fn attach(&mut self, slot: u32, plan: Planned) -> Plan {
        match plan {
            Planned::Simple(path, key) => {
                let path = self.path_id(&path);
                let hash = self.attach_key(slot, path, key);
                Plan::Simple { path, hash }
            }
            Planned::Rich { matcher, atoms, first, several } => {
                let mut rich =
                    Rich { matcher, several, keys: Vec::new(), regexes: Vec::new(), scan: atoms.is_none(), first };
                for atom in atoms.unwrap_or_default() {
                    match atom {
                        Atom::Key { path, key } => {
                            let path = self.path_id(&path);
                            let hash = self.attach_key(slot, path, key);
                            if !rich.keys.contains(&(path, hash)) {
                                rich.keys.push((path, hash));
                            }
                        }
                        Atom::Regex { path, source } => {
                            let path = self.path_id(&path);
                            let group = self.paths[path as usize].regex.get_or_insert_with(RegexGroup::default);
                            if group.chunks.last().is_none_or(|c| c.sources.len() >= CHUNK) {
                                group.chunks.push(Chunk::default());
                            }
                            let chunk = group.chunks.len() - 1;
                            let c = &mut group.chunks[chunk];
                            c.sources.push(source);
                            c.slots.push(slot);
                            c.set = None;
                            rich.regexes.push((path, chunk as u32, (c.slots.len() - 1) as u32));
                        }
                    }
                }
                if rich.scan {
                    self.scan.push(slot);
                }
                Plan::Rich(Box::new(rich))
            }
        }
    }

    fn attach_key(&mut self, slot: u32, path: u32, key: Vec<u8>) -> u64 {
        let mut record = Vec::with_capacity(4 + key.len());
        record.extend_from_slice(&path.to_le_bytes());
        record.extend_from_slice(&key);
        let hash = self.eq.hash(&record);
        if let Some(hit) = self.eq.get(hash, &record) {
            let (pos, hits) = (hit.pos, hit.hits);
            if hits & MULTI != 0 {
                let list = &mut self.multi[(hits & !MULTI) as usize];
                if !list.contains(&slot) {
                    list.push(slot);
                }
            } else if hits != slot {
                let list = vec![hits, slot];
                let i = match self.multi_free.pop() {
                    Some(i) => {
                        self.multi[i as usize] = list;
                        i
                    }
                    None => {
                        self.multi.push(list);
                        (self.multi.len() - 1) as u32
                    }
                };
                self.eq.set_hits(pos, MULTI | i);
            }
            return hash;
        }
        if let Some((tag @ (key::TAG_NET4 | key::TAG_NET6), len)) = key.first().copied().zip(key.get(1).copied()) {
            let info = &mut self.paths[path as usize];
            match info.nets.iter_mut().find(|n| n.0 == tag && n.1 == len) {
                Some(n) => n.2 += 1,
                None => info.nets.push((tag, len, 1)),
            }
            if tag == key::TAG_NET4 && len >= 16 {
                if info.v4_16.is_empty() {
                    info.v4_16 = vec![0; 1 << 16];
                }
                info.v4_16[usize::from(u16::from_be_bytes([key[2], key[3]]))] += 1;
            }
        }
        self.eq.insert(hash, &record, slot);
        hash
    }

    fn detach_key(&mut self, slot: u32, path: u32, hash: u64) {
        let multi = &self.multi;
        let path_bytes = path.to_le_bytes();
        let found = self.eq.find_by_hits(hash, |hits, record| {
            record[..4] == path_bytes
                && if hits & MULTI != 0 { multi[(hits & !MULTI) as usize].contains(&slot) } else { hits == slot }
        });
        let Some(hit) = found else { return };
        let (pos, hits) = (hit.pos, hit.hits);
        if hits & MULTI != 0 {
            let i = hits & !MULTI;
            let list = &mut self.multi[i as usize];
            list.retain(|&s| s != slot);
            if list.len() == 1 {
                self.eq.set_hits(pos, list[0]);
                self.multi[i as usize] = Vec::new();
                self.multi_free.push(i);
            }
            return;
        }
        // The network bookkeeping needs the tag, the prefix length and the /16.
        let mut head = [0u8; 4];
        let key = &hit.record[4..];
        head[..key.len().min(4)].copy_from_slice(&key[..key.len().min(4)]);
        self.eq.remove(pos);
        if let [tag @ (key::TAG_NET4 | key::TAG_NET6), len, ..] = head[..] {
            let info = &mut self.paths[path as usize];
            if let Some(i) = info.nets.iter().position(|n| n.0 == tag && n.1 == len) {
                info.nets[i].2 -= 1;
                if info.nets[i].2 == 0 {
                    info.nets.swap_remove(i);
                }
            }
            if tag == key::TAG_NET4 && len >= 16 {
                info.v4_16[usize::from(u16::from_be_bytes([head[2], head[3]]))] -= 1;
            }
        }
    }

    fn plan(&self, pattern: &Pattern) -> Result<Planned, MatchError> {
        if let Some(mut atoms) = direct(&pattern.expr) {
            if atoms.len() == 1 {
                let Some(Atom::Key { path, key }) = atoms.pop() else { unreachable!("direct atoms are keys") };
                return Ok(Planned::Simple(path, key));
            }
            return Ok(Planned::Rich { matcher: None, atoms: Some(atoms), first: None, several: None });
        }
        let normalised = normalise(pattern);
        let matcher = Matcher::new(&normalised)?;
        let first = crate::observables(&normalised).into_iter().next().map(|o| (o.key, o.value));
        if most_observations(&normalised.expr) >= 2 {
            let within = outer_within(&normalised.expr);
            return Ok(Planned::Rich {
                matcher: Some(matcher),
                atoms: need_each(&normalised.expr),
                first,
                several: Some(within),
            });
        }
        Ok(Planned::Rich { matcher: Some(matcher), atoms: need_obs(&normalised.expr), first, several: None })
    }
}

fn alias_path(object_type: &str) -> &'static str {
    match object_type {
        "ipv4-addr" => "ipv4-addr:value",
        "ipv6-addr" => "ipv6-addr:value",
        "email-addr" => "email-addr:value",
        _ => "domain-name:value",
    }
}

enum Planned {
    Simple(String, Vec<u8>),
    /// `matcher: None`: direct. `atoms: None`: no trigger, scan.
    Rich {
        matcher: Option<Matcher>,
        atoms: Option<Vec<Atom>>,
        first: Option<(String, String)>,
        several: Option<Option<i64>>,
    },
}

/// The key atom of a positive equality or network comparison.
fn key_atom(c: &Comparison) -> Option<Atom> {
    if c.negated {
        return None;
    }
    let kind = KeyKind::of(&c.path);
    let mut key = Vec::new();
    match &c.op {
        ComparisonOp::Equal(Literal::String(s)) => match (kind, key::network(s)) {
            (KeyKind::Ip, Some((addr, len))) => key::net_key(addr, len, &mut key),
            _ => key::text_key(kind, host_address(kind, s), &mut key),
        },
        ComparisonOp::Equal(Literal::Int(i)) => key::int_key(*i, &mut key),
        ComparisonOp::Equal(Literal::Bool(b)) => key::bool_key(*b, &mut key),
        ComparisonOp::IsSubset(s) if kind == KeyKind::Ip => match key::network(s) {
            Some((addr, len)) => key::net_key(addr, len, &mut key),
            None => {
                let host = host_address(kind, s);
                host.parse::<std::net::IpAddr>().ok()?;
                key::text_key(kind, host, &mut key)
            }
        },
        _ => return None,
    }
    Some(Atom::Key { path: c.path.to_string(), key })
}

/// `a.b.c.d/32` is the address `a.b.c.d`.
fn host_address(kind: KeyKind, s: &str) -> &str {
    match (kind, s.split_once('/')) {
        (KeyKind::Ip, Some((a, "32"))) if a.parse::<std::net::Ipv4Addr>().is_ok() => a,
        (KeyKind::Ip, Some((a, "128"))) if a.parse::<std::net::Ipv6Addr>().is_ok() => a,
        _ => s,
    }
}

/// The atoms of a pattern that is an `OR` of keys without qualifiers: any hit is a match.
fn direct(e: &ObservationExpr) -> Option<Vec<Atom>> {
    fn cmp(e: &ComparisonExpr, out: &mut Vec<Atom>) -> bool {
        match e {
            ComparisonExpr::Comparison(c) => key_atom(c).map(|a| out.push(a)).is_some(),
            ComparisonExpr::Or(v) => v.iter().all(|c| cmp(c, out)),
            ComparisonExpr::And(_) => false,
        }
    }
    fn obs(e: &ObservationExpr, out: &mut Vec<Atom>) -> bool {
        match e {
            ObservationExpr::Observation(c) => cmp(c, out),
            ObservationExpr::Or(v) => v.iter().all(|o| obs(o, out)),
            _ => false,
        }
    }
    let mut out = Vec::new();
    obs(e, &mut out).then_some(out)
}

/// A set of atoms one of which holds whenever the comparison does; `None` when there
/// is none (a negation, an order comparison, an `OR` with such a side).
fn need_cmp(e: &ComparisonExpr) -> Option<Vec<Atom>> {
    match e {
        ComparisonExpr::Comparison(c) => {
            if let Some(a) = key_atom(c) {
                return Some(vec![a]);
            }
            let (like, s) = match (&c.op, c.negated) {
                (ComparisonOp::Like(s), false) => (true, s),
                (ComparisonOp::Matches(s), false) => (false, s),
                _ => return None,
            };
            let source = text_regex(like, s)?;
            Some(vec![Atom::Regex { path: c.path.to_string(), source }])
        }
        ComparisonExpr::And(v) => best(v.iter().map(need_cmp)),
        ComparisonExpr::Or(v) => {
            v.iter().map(need_cmp).collect::<Option<Vec<_>>>().map(|v| v.into_iter().flatten().collect())
        }
    }
}

fn need_obs(e: &ObservationExpr) -> Option<Vec<Atom>> {
    match e {
        ObservationExpr::Observation(c) => need_cmp(c),
        ObservationExpr::And(v) | ObservationExpr::FollowedBy(v) => best(v.iter().map(need_obs)),
        ObservationExpr::Or(v) => {
            v.iter().map(need_obs).collect::<Option<Vec<_>>>().map(|v| v.into_iter().flatten().collect())
        }
        ObservationExpr::Qualified { expr, .. } => need_obs(expr),
    }
}

/// Atoms one of which holds for every observation that can take part in a match: the
/// triggers of every member together (`None` when one has none).
fn need_each(e: &ObservationExpr) -> Option<Vec<Atom>> {
    match e {
        ObservationExpr::Observation(c) => need_cmp(c),
        ObservationExpr::And(v) | ObservationExpr::Or(v) | ObservationExpr::FollowedBy(v) => {
            v.iter().map(need_each).collect::<Option<Vec<_>>>().map(|v| v.into_iter().flatten().collect())
        }
        ObservationExpr::Qualified { expr, .. } => need_each(expr),
    }
}

/// The most observations a match can need (saturating): 1 for `[…]` and `OR`s of them.
fn most_observations(e: &ObservationExpr) -> u64 {
    match e {
        ObservationExpr::Observation(_) => 1,
        ObservationExpr::And(v) | ObservationExpr::FollowedBy(v) => {
            v.iter().map(most_observations).fold(0, u64::saturating_add)
        }
        ObservationExpr::Or(v) => v.iter().map(most_observations).max().unwrap_or(0),
        ObservationExpr::Qualified { expr, qualifiers } => {
            qualifiers.iter().fold(most_observations(expr), |n, q| match q {
                crate::ast::Qualifier::Repeats(r) => n.saturating_mul(*r),
                _ => n,
            })
        }
    }
}

/// The outermost `WITHIN`, in microseconds: no match spans more.
fn outer_within(e: &ObservationExpr) -> Option<i64> {
    let ObservationExpr::Qualified { qualifiers, .. } = e else { return None };
    qualifiers
        .iter()
        .filter_map(|q| match q {
            crate::ast::Qualifier::Within(s) if s.is_finite() => Some((s * 1e6).ceil().min(i64::MAX as f64) as i64),
            _ => None,
        })
        .min()
}

/// Of several sufficient sets, the cheapest: keys before regexes, then the fewest.
fn best(sets: impl Iterator<Item = Option<Vec<Atom>>>) -> Option<Vec<Atom>> {
    let cost = |s: &Vec<Atom>| {
        let regexes = s.iter().filter(|a| matches!(a, Atom::Regex { .. })).count();
        (regexes, s.len())
    };
    sets.flatten().min_by_key(cost)
}

/// The pattern with the index's comparisons: addresses canonical, case-insensitive
/// kinds in lower case, network values as `ISSUBSET` (IPv4, which the matcher handles).
fn normalise(p: &Pattern) -> Pattern {
    fn cmp(e: &mut ComparisonExpr) {
        match e {
            ComparisonExpr::Comparison(c) => {
                let kind = KeyKind::of(&c.path);
                if kind == KeyKind::Exact {
                    return;
                }
                let fix = |s: &mut String| *s = key::normalised(kind, s);
                match &mut c.op {
                    ComparisonOp::Equal(Literal::String(s)) => {
                        if kind == KeyKind::Ip && s.contains('/') {
                            match key::network(s) {
                                Some((std::net::IpAddr::V4(_), _)) => {
                                    c.op = ComparisonOp::IsSubset(std::mem::take(s));
                                }
                                _ => *s = host_address(kind, s).to_owned(),
                            }
                            if let ComparisonOp::Equal(Literal::String(s)) = &mut c.op {
                                fix(s);
                            }
                        } else {
                            fix(s)
                        }
                    }
                    ComparisonOp::NotEqual(Literal::String(s)) => fix(s),
                    ComparisonOp::In(items) => {
                        for l in items {
                            if let Literal::String(s) = l {
                                fix(s)
                            }
                        }
                    }
                    _ => {}
                }
            }
            ComparisonExpr::And(v) | ComparisonExpr::Or(v) => v.iter_mut().for_each(cmp),
        }
    }
    fn obs(e: &mut ObservationExpr) {
        match e {
            ObservationExpr::Observation(c) => cmp(c),
            ObservationExpr::And(v) | ObservationExpr::Or(v) | ObservationExpr::FollowedBy(v) => {
                v.iter_mut().for_each(obs)
            }
            ObservationExpr::Qualified { expr, .. } => obs(expr),
        }
    }
    let mut p = p.clone();
    obs(&mut p.expr);
    p
}

#[cfg(test)]
mod tests;
