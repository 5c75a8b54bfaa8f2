//! The one ingest pipeline: parse → validate → ingestion rules → store.
//!
//! Every source (file import, upload API, TAXII, connectors, the UI) calls [`Pipeline`],
//! so an object is judged by the same rules whichever way it arrived. Validation is pure
//! and runs on its own thread while the store writes the previous batch, which is how an
//! import keeps both cores busy.

pub mod reader;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::mpsc;
use std::sync::Arc;

use cairn_stix::{ObjectMeta, SpecVersion};
use cairn_store::{Candidate, Commit, Outcome, Source, Store};
use serde::Serialize;
use serde_json::Value;

pub use reader::{read_objects, Flow, Item, ReadError};

/// What happened to one input object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ObjectOutcome {
    Created,
    NewVersion,
    Unchanged,
    Rejected { errors: Vec<String> },
}

/// The result of validating one object, before it is stored.
#[derive(Debug)]
pub enum Checked {
    Accepted {
        candidate: Candidate,
        warnings: Vec<String>,
    },
    /// Dropped by an ingestion rule: not stored, not an error.
    Dropped,
    Rejected {
        id: Option<String>,
        errors: Vec<String>,
        warnings: Vec<String>,
    },
}

/// What an ingestion rule decided. The curation issue adds real rules; until then every
/// object passes unchanged.
pub enum RuleDecision {
    Keep,
    Drop,
}

/// The ingestion-rules stage. Rules may edit the object in place (never its `modified`).
pub trait IngestionRules: Send + Sync {
    fn apply(&self, obj: &mut Value, source: &Source) -> RuleDecision;
}

/// No rules configured.
pub struct NoRules;

impl IngestionRules for NoRules {
    fn apply(&self, _: &mut Value, _: &Source) -> RuleDecision {
        RuleDecision::Keep
    }
}

/// Counts for one import or upload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub created: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl Summary {
    fn add(&mut self, o: &ObjectOutcome) {
        match o {
            ObjectOutcome::Created => self.created += 1,
            ObjectOutcome::NewVersion => self.new_versions += 1,
            ObjectOutcome::Unchanged => self.unchanged += 1,
            ObjectOutcome::Rejected { .. } => self.rejected += 1,
        }
    }

    pub fn processed(&self) -> u64 {
        self.created + self.new_versions + self.unchanged + self.rejected
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
    rules: Arc<dyn IngestionRules>,
}

/// Validates one object and turns it into a storable candidate.
pub fn check(
    value: Result<Value, String>,
    bundle_spec: Option<SpecVersion>,
    rules: &dyn IngestionRules,
    source: &Source,
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
    if let RuleDecision::Drop = rules.apply(&mut obj, source) {
        return Checked::Dropped;
    }
    let candidate = Candidate::from_value(&obj, &meta);
    Checked::Accepted { candidate, warnings: report.warnings.iter().map(ToString::to_string).collect() }
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
        Pipeline { store, rules: Arc::new(NoRules) }
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
        for (i, v) in objects.into_iter().enumerate() {
            match check(Ok(v), None, self.rules.as_ref(), source) {
                Checked::Accepted { candidate, .. } => {
                    slots.push(i);
                    batch.push(candidate);
                    outcomes.push(None);
                }
                Checked::Dropped => outcomes.push(Some(ObjectOutcome::Unchanged)),
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
            let r = read_objects(input, &mut |item: Item| {
                read = item.index + 1;
                let checked = check(item.value, item.bundle_spec, rules.as_ref(), &reader_source);
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
                    Checked::Dropped => r.summary.unchanged += 1,
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
