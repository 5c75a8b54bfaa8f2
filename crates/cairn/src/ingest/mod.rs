//! The one ingest pipeline: parse → validate → ingestion rules → store.
//!
//! Every source (file import, upload API, TAXII, connectors, the UI) calls [`Pipeline`],
//! so an object is judged by the same rules whichever way it arrived. Validation is pure
//! and runs on its own thread while the store writes the previous batch, which is how an
//! import keeps both cores busy.

pub mod csv;
pub mod reader;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::mpsc;
use std::sync::Arc;

use cairn_stix::{ObjectMeta, SpecVersion};
use cairn_store::{Candidate, Commit, Curation, Outcome, Source, Store};
use serde::Serialize;
use serde_json::Value;

pub use reader::{read_objects, Flow, Item, ReadError};

use crate::ingestion_rules::{Decision, RuleBook, RuleSet};

/// What happened to one input object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ObjectOutcome {
    Created,
    NewVersion,
    Unchanged,
    /// An ingestion rule's delete action dropped it (the rule's id): not stored, not an error.
    Dropped {
        rule: String,
    },
    Rejected {
        errors: Vec<String>,
    },
}

/// The result of validating one object, before it is stored.
#[derive(Debug)]
pub enum Checked {
    Accepted {
        candidate: Candidate,
        warnings: Vec<String>,
    },
    /// Dropped by an ingestion rule (its id): not stored, not an error.
    Dropped {
        rule: String,
    },
    Rejected {
        id: Option<String>,
        errors: Vec<String>,
        warnings: Vec<String>,
    },
}

/// Counts for one import or upload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub created: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    /// Dropped by an ingestion rule.
    pub dropped: u64,
    pub rejected: u64,
}

impl Summary {
    fn add(&mut self, o: &ObjectOutcome) {
        match o {
            ObjectOutcome::Created => self.created += 1,
            ObjectOutcome::NewVersion => self.new_versions += 1,
            ObjectOutcome::Unchanged => self.unchanged += 1,
            ObjectOutcome::Dropped { .. } => self.dropped += 1,
            ObjectOutcome::Rejected { .. } => self.rejected += 1,
        }
    }

    pub fn processed(&self) -> u64 {
        self.created + self.new_versions + self.unchanged + self.dropped + self.rejected
    }
}

/// A rejected input object, as `--errors` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub id: Option<String>,
    pub errors: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    pub all_or_nothing: bool,
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { all_or_nothing: false, batch_size: 5_000 }
    }
}

/// The result of an import.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub summary: Summary,
    pub rejections: Vec<Rejection>,
    /// Whether what was accepted is stored (false after an all-or-nothing rollback).
    pub committed: bool,
    /// Set when reading stopped early because the input is malformed.
    pub read_error: Option<String>,
}

/// Progress after each committed batch.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Progress {
    pub committed: bool,
    #[serde(flatten)]
    pub summary: Summary,
}

/// Most object bytes in one import batch.
const MAX_CHUNK_BYTES: usize = 8 << 20;

#[derive(Clone)]
pub struct Pipeline {
    store: Arc<dyn Store>,
    rules: Arc<RuleBook>,
}

/// Validates one object, runs the ingestion rules over it and turns it into a storable
/// candidate. `now` is the time relative rule conditions count back from.
pub fn check(
    value: Result<Value, String>,
    bundle_spec: Option<SpecVersion>,
    rules: &RuleSet,
    source: &Source,
    now: i64,
) -> Checked {
    let mut obj = match value {
        Ok(v) => v,
        Err(e) => return Checked::Rejected { id: None, errors: vec![e], warnings: Vec::new() },
    };
    let id = obj.get("id").and_then(Value::as_str).map(str::to_string);
    let report = cairn_stix::validate(&obj, bundle_spec);
    if !report.is_valid() {
        return Checked::Rejected {
            id,
            errors: report.errors.iter().map(ToString::to_string).collect(),
            warnings: report.warnings.iter().map(ToString::to_string).collect(),
        };
    }
    if obj.get("type").and_then(Value::as_str) == Some("bundle") {
        return Checked::Rejected {
            id,
            errors: vec!["type: a bundle inside a bundle is not stored; send its objects instead".into()],
            warnings: Vec::new(),
        };
    }
    let meta = match ObjectMeta::from_value(&obj, bundle_spec) {
        Ok(m) => m,
        Err(e) => return Checked::Rejected { id, errors: vec![e], warnings: Vec::new() },
    };
    let warnings = || report.warnings.iter().map(ToString::to_string).collect();
    let raw = serde_json::to_string(&obj).expect("a Value always serialises");
    if !rules.acts_on(source) {
        let mut candidate = Candidate::from_raw(raw, &meta);
        candidate.curation.ruleset = rules.stamp();
        return Checked::Accepted { candidate, warnings: warnings() };
    }
    let changed_by = match rules.apply(&mut obj, meta.category, source, now) {
        Decision::Drop { rule } => return Checked::Dropped { rule },
        Decision::Keep { changed_by } => changed_by,
    };
    let curation = Curation { ruleset: rules.stamp(), rules: changed_by };
    if curation.rules.is_empty() {
        let mut candidate = Candidate::from_raw(raw, &meta);
        candidate.curation = curation;
        return Checked::Accepted { candidate, warnings: warnings() };
    }
    // Rules edit within what STIX allows, but a rule can still meet an object it makes
    // invalid (e.g. setting valid_until before valid_from): that object is refused whole.
    let after = cairn_stix::validate(&obj, bundle_spec);
    if !after.is_valid() {
        let errors: Vec<String> = after.errors.iter().map(ToString::to_string).collect();
        return Checked::Rejected {
            id,
            errors: vec![format!(
                "ingestion rules {} made the object invalid: {}",
                curation.rules.join(", "),
                errors.join("; ")
            )],
            warnings: warnings(),
        };
    }
    let meta = match ObjectMeta::from_value(&obj, bundle_spec) {
        Ok(m) => m,
        Err(e) => return Checked::Rejected { id, errors: vec![e], warnings: Vec::new() },
    };
    let candidate = Candidate::from_edited(&raw, &obj, &meta, curation);
    Checked::Accepted { candidate, warnings: warnings() }
}

fn outcome_of(o: &Outcome, id: &str) -> ObjectOutcome {
    match o {
        Outcome::Created => ObjectOutcome::Created,
        Outcome::NewVersion => ObjectOutcome::NewVersion,
        Outcome::Unchanged => ObjectOutcome::Unchanged,
        Outcome::Conflict => ObjectOutcome::Rejected {
            errors: vec![format!(
                "conflict: a different object is already stored under this id and modified ({id}); \
                 the first one is kept — give a changed object a new modified timestamp"
            )],
        },
        Outcome::Revoked { revoked_version } => ObjectOutcome::Rejected {
            errors: vec![format!(
                "revoked: {id} was revoked in version {revoked_version}; STIX forbids versions after a revocation"
            )],
        },
    }
}

impl Pipeline {
    pub fn new(store: Arc<dyn Store>) -> Pipeline {
        Pipeline { rules: Arc::new(RuleBook::new(store.clone())), store }
    }

    /// This pipeline, with ingestion-rule conditions on `enrichment.*` answered by `facts`.
    pub fn with_facts(self, facts: crate::ingestion_rules::FactSource) -> Pipeline {
        Pipeline { rules: Arc::new(RuleBook::with_facts(self.store.clone(), facts)), store: self.store }
    }

    /// The ingestion rules in force now.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.current()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Validates and stores a list of objects (an upload, a TAXII POST, a UI form) in one
    /// transaction. Returns one outcome per input object, in order.
    pub fn ingest_values(&self, source: &Source, objects: Vec<Value>) -> cairn_store::Result<Vec<ObjectOutcome>> {
        let mut outcomes: Vec<Option<ObjectOutcome>> = Vec::with_capacity(objects.len());
        let mut batch = Vec::new();
        let mut slots = Vec::new();
        let rules = self.rules.current();
        let now = cairn_store::now_micros();
        for (i, v) in objects.into_iter().enumerate() {
            match check(Ok(v), None, &rules, source, now) {
                Checked::Accepted { candidate, .. } => {
                    slots.push(i);
                    batch.push(candidate);
                    outcomes.push(None);
                }
                Checked::Dropped { rule } => outcomes.push(Some(ObjectOutcome::Dropped { rule })),
                Checked::Rejected { errors, .. } => outcomes.push(Some(ObjectOutcome::Rejected { errors })),
            }
        }
        let stored = self.store.ingest(source, &batch)?;
        for ((slot, o), c) in slots.into_iter().zip(stored.iter()).zip(batch.iter()) {
            outcomes[slot] = Some(outcome_of(o, &c.id));
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every slot filled")).collect())
    }

    /// Streams `input` through the pipeline. Reading and validation run on a second
    /// thread; `progress` is called after each batch (after its commit, when committing
    /// per batch).
    pub fn import(
        &self,
        source: &Source,
        input: impl Read + Send + 'static,
        opts: ImportOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> cairn_store::Result<ImportReport> {
        type Chunk = Vec<(usize, Checked)>;
        // A few chunks in flight absorb jitter between the threads; chunks are bounded
        // in bytes, so this bounds memory too.
        let (tx, rx) = mpsc::sync_channel::<Chunk>(4);
        let rules = self.rules.clone();
        let reader_source = source.clone();
        let batch_size = opts.batch_size.max(1);
        let reader = std::thread::Builder::new().name("cairn-validate".into()).spawn(move || {
            let mut chunk: Chunk = Vec::with_capacity(batch_size);
            let mut read = 0;
            let mut chunk_bytes = 0usize;
            // Re-read per chunk, so a rule saved during a long import takes effect in it.
            let mut active = rules.current();
            let mut now = cairn_store::now_micros();
            let r = read_objects(input, &mut |item: Item| {
                read = item.index + 1;
                if chunk.is_empty() {
                    active = rules.current();
                    now = cairn_store::now_micros();
                }
                let checked = check(item.value, item.bundle_spec, &active, &reader_source, now);
                if let Checked::Accepted { candidate, .. } = &checked {
                    chunk_bytes += candidate.raw.len();
                }
                chunk.push((item.index, checked));
                // A chunk is a transaction: bounded by count, and by size so that large
                // objects do not multiply memory (1 GB bundles must import in < 500 MB).
                if chunk.len() >= batch_size || chunk_bytes >= MAX_CHUNK_BYTES {
                    chunk_bytes = 0;
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(batch_size));
                    if tx.send(full).is_err() {
                        return Flow::Break(());
                    }
                }
                Flow::Continue(())
            });
            if let Err(e) = &r {
                if !matches!(e, ReadError::Stopped) {
                    // Malformed input counts as a rejection at the position where reading
                    // stopped, so it fails the import and vetoes an all-or-nothing commit.
                    chunk.push((
                        read,
                        Checked::Rejected { id: None, errors: vec![e.to_string()], warnings: Vec::new() },
                    ));
                }
            }
            if !chunk.is_empty() {
                let _ = tx.send(chunk);
            }
            r
        });
        let reader =
            reader.map_err(|e| cairn_store::StoreError::Invalid(format!("cannot start the reader thread: {e}")))?;

        let report = RefCell::new(ImportReport::default());
        // Candidates' input positions, queued by the batch iterator and consumed, in the
        // same order, by the outcome callback.
        let pending: RefCell<VecDeque<Vec<(usize, String)>>> = RefCell::new(VecDeque::new());
        let mut batches = rx.into_iter().map(|chunk| {
            let mut candidates = Vec::with_capacity(chunk.len());
            let mut positions = Vec::with_capacity(chunk.len());
            let mut r = report.borrow_mut();
            for (index, checked) in chunk {
                match checked {
                    Checked::Accepted { candidate, .. } => {
                        positions.push((index, candidate.id.clone()));
                        candidates.push(candidate);
                    }
                    Checked::Dropped { .. } => r.summary.dropped += 1,
                    Checked::Rejected { id, errors, .. } => {
                        r.summary.rejected += 1;
                        r.rejections.push(Rejection { index, id, errors });
                    }
                }
            }
            pending.borrow_mut().push_back(positions);
            candidates
        });
        let commit = if opts.all_or_nothing { Commit::AllOrNothing } else { Commit::PerBatch };
        let committed = self.store.ingest_stream(source, &mut batches, commit, &mut |outcomes, committed| {
            let positions = pending.borrow_mut().pop_front().unwrap_or_default();
            let mut r = report.borrow_mut();
            for (o, (index, id)) in outcomes.iter().zip(positions) {
                let o = outcome_of(o, &id);
                r.summary.add(&o);
                if let ObjectOutcome::Rejected { errors } = o {
                    r.rejections.push(Rejection { index, id: Some(id), errors });
                }
            }
            progress(&Progress { committed, summary: r.summary });
            r.summary.rejected == 0
        });
        drop(batches);
        let read_result = reader.join().expect("reader thread panicked");
        let mut report = report.into_inner();
        report.committed = committed?;
        if let Err(e) = read_result {
            report.read_error = Some(e.to_string());
        }
        report.rejections.sort_by_key(|r| r.index);
        Ok(report)
    }
}
