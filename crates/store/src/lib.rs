//! Cairn's storage: the [`Store`] trait and its backends.
//!
//! Key design decision: the store, not the caller, owns the versioning rules (which
//! version is current, identical re-ingests, conflicts, revocation, tombstones) and the
//! server-assigned `date_added`. Every ingest path and every backend then behaves the
//! same, and one conformance suite ([`conformance`]) can hold each backend to them.
//!
//! Invariants every backend keeps:
//! - Every stored version has a `date_added` (microseconds since the epoch), strictly
//!   increasing in insertion order across the whole store and never earlier than the
//!   clock; `seq` is the same number used as the paging key, so a keyset cursor never
//!   skips or repeats a version.
//! - A version is `(id, version_key)`; the first body stored under it wins. A different
//!   body under the same key is recorded as a conflict and changes nothing else.
//! - The current version of an object is the one with the greatest version key (STIX
//!   `modified`); for unversioned objects (SCOs) it is the last distinct body stored.
//! - Nothing follows a revoked current version.
//! - Deleting writes a tombstone version; history is never removed.
//! - An ingest call is one transaction: after it returns `Ok`, every outcome it reports
//!   is durable; after a crash, none of a failed call's writes are visible.

pub mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use sqlite::SqliteStore;

/// Who delivered intelligence: a connector, an upload `sourcesystem`, a file import or the UI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Source {
    pub kind: SourceKind,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Connector,
    Upload,
    File,
    Taxii,
    Ui,
    /// Cairn's own detections (sightings of indicators in event logs).
    Detection,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Connector => "connector",
            SourceKind::Upload => "upload",
            SourceKind::File => "file",
            SourceKind::Taxii => "taxii",
            SourceKind::Ui => "ui",
            SourceKind::Detection => "detection",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        Some(match s {
            "connector" => SourceKind::Connector,
            "upload" => SourceKind::Upload,
            "file" => SourceKind::File,
            "taxii" => SourceKind::Taxii,
            "ui" => SourceKind::Ui,
            "detection" => SourceKind::Detection,
            _ => return None,
        })
    }
}

impl Source {
    pub fn new(kind: SourceKind, name: impl Into<String>) -> Source {
        Source { kind, name: name.into() }
    }
}

/// A validated object ready to be stored.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: String,
    pub stix_type: String,
    pub spec_version: String,
    /// Fixed-width `modified` (see `cairn_stix::Timestamp::key`); `None` for unversioned objects.
    pub version_key: Option<String>,
    pub revoked: bool,
    /// The object's JSON, compact, as it will be served.
    pub raw: String,
    /// BLAKE3 of `raw`: equal hashes mean identical text. The store confirms unequal
    /// hashes by comparing parsed values, so key order and spacing never make a conflict.
    pub hash: [u8; 32],
}

impl Candidate {
    /// Builds a candidate from an object the caller has already validated.
    pub fn from_value(obj: &serde_json::Value, meta: &cairn_stix::ObjectMeta) -> Candidate {
        let raw = serde_json::to_string(obj).expect("a Value always serialises");
        Candidate {
            id: meta.id.clone(),
            stix_type: meta.stix_type.clone(),
            spec_version: meta.spec_version.as_str().to_string(),
            version_key: meta.version.map(|t| t.key()),
            revoked: meta.revoked,
            hash: *blake3::hash(raw.as_bytes()).as_bytes(),
            raw,
        }
    }
}

/// Whether two JSON texts hold the same value. Object key order does not matter
/// (serde_json's ordered maps compare as maps).
pub fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// What storing one candidate did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The first version of an object never seen before.
    Created,
    /// A version not stored before (it may be newer or older than the current one).
    NewVersion,
    /// The same JSON value was already stored under this version; only last-seen changed.
    Unchanged,
    /// A different body is already stored under this (id, version); the first is kept.
    Conflict,
    /// The object is revoked; STIX forbids later versions.
    Revoked { revoked_version: String },
}

impl Outcome {
    pub fn is_stored(&self) -> bool {
        matches!(self, Outcome::Created | Outcome::NewVersion | Outcome::Unchanged)
    }
}

/// How [`Store::ingest_stream`] commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    PerBatch,
    AllOrNothing,
}

/// One stored version (or tombstone) of an object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredVersion {
    pub seq: i64,
    pub id: String,
    pub stix_type: String,
    pub spec_version: String,
    pub version_key: Option<String>,
    /// Microseconds since the Unix epoch; unique and increasing with `seq`.
    pub date_added: i64,
    pub source: String,
    pub revoked: bool,
    /// A deletion marker rather than an object version; `raw` is empty.
    pub tombstone: bool,
    pub raw: String,
}

/// When an object was first and last delivered by one source.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceSeen {
    pub source: String,
    pub kind: String,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Which objects a listing returns. Empty vectors mean "no restriction".
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub types: Vec<String>,
    pub sources: Vec<String>,
    pub ids: Vec<String>,
    /// STIX spec versions ("2.0", "2.1").
    pub spec_versions: Vec<String>,
    /// Objects with any of these labels (tags).
    pub tags: Vec<String>,
    /// Objects marked with this TLP marking-definition id (`object_marking_refs`).
    pub tlp_marking: Option<String>,
    /// Objects whose `confidence` is at least this.
    pub min_confidence: Option<i64>,
    /// Which versions of each object.
    pub versions: VersionSelect,
    /// With `All`/`Keys`: leave out every version of deleted objects (sharing stops at a
    /// delete, while history stays for exports that ask for it).
    pub live_only: bool,
}

/// Which versions of each object a listing returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum VersionSelect {
    /// The current version of each live object (TAXII `match[version]=last`).
    #[default]
    Current,
    /// The version with the oldest `modified` of each live object (`first`).
    First,
    /// Every stored version, tombstones included (callers serving STIX drop those).
    All,
    /// The versions whose fixed-width `modified` key is one of these.
    Keys(Vec<String>),
}

/// A page of a listing. `next` is the cursor (a `seq`) to pass for the following page.
#[derive(Clone, Debug)]
pub struct Page {
    pub items: Vec<StoredVersion>,
    pub next: Option<i64>,
}

/// A user account; the password hash is produced and checked by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: String,
    pub password_hash: String,
}

/// Object counts for `cairn info` and health checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub objects: u64,
    pub deleted: u64,
    pub versions: u64,
    pub conflicts: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Persistence for intelligence, its history and the accounts that reach it.
///
/// Implementations are shared between threads (`Send + Sync`); each write method is one
/// transaction.
pub trait Store: Send + Sync {
    /// Stores a batch, in order, in one transaction. Returns one outcome per candidate.
    fn ingest(&self, source: &Source, batch: &[Candidate]) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        let mut batches = std::iter::once(batch.to_vec());
        self.ingest_stream(source, &mut batches, Commit::PerBatch, &mut |o, _| {
            out.extend_from_slice(o);
            true
        })?;
        Ok(out)
    }

    /// Stores batches as they come. With [`Commit::PerBatch`] each batch is its own
    /// transaction and `on_batch(outcomes, true)` runs after it commits, so whatever it
    /// reports survives a crash. With [`Commit::AllOrNothing`] everything is one
    /// transaction, rolled back when any candidate is not stored (conflict, revoked) or
    /// any `on_batch(outcomes, false)` call returns false (the caller's veto, e.g. an
    /// object that failed validation); every batch, even an empty one, gets its call. The
    /// return value says whether everything was committed.
    fn ingest_stream(
        &self,
        source: &Source,
        batches: &mut dyn Iterator<Item = Vec<Candidate>>,
        commit: Commit,
        on_batch: &mut dyn FnMut(&[Outcome], bool) -> bool,
    ) -> Result<bool>;

    /// Writes a tombstone for `id`. Returns false when there is no live object to delete.
    fn delete(&self, id: &str, source: &Source) -> Result<bool>;

    /// The current version of a live object.
    fn current(&self, id: &str) -> Result<Option<StoredVersion>>;

    /// Every version and tombstone of `id`, oldest first (by `seq`).
    fn versions(&self, id: &str) -> Result<Vec<StoredVersion>>;

    /// Sources that delivered `id`, with first/last seen.
    fn sources_of(&self, id: &str) -> Result<Vec<SourceSeen>>;

    /// A page of objects after the cursor `after` (exclusive), in `seq` order.
    fn list(&self, filter: &Filter, after: Option<i64>, limit: usize) -> Result<Page>;

    /// The spec versions present among the objects `filter` selects, sorted.
    fn spec_versions(&self, filter: &Filter) -> Result<Vec<String>>;

    fn stats(&self) -> Result<Stats>;
    /// The newest `seq` (of any version or tombstone), `None` for an empty store: a
    /// reader that loads everything current and then follows [`Store::list`] with
    /// [`VersionSelect::All`] from here misses no change made while it loaded.
    fn head(&self) -> Result<Option<i64>>;

    /// The instance id, created with the store.
    fn instance_id(&self) -> Result<String>;

    fn put_user(&self, user: &User) -> Result<()>;
    fn user(&self, name: &str) -> Result<Option<User>>;
    /// Stores (replaces) a JSON document of a kind (`collection`, `taxii-status`, …) by id:
    /// configuration and protocol records that the application defines and the store keeps.
    fn put_doc(&self, kind: &str, id: &str, doc: &str) -> Result<()>;
    /// One document.
    fn doc(&self, kind: &str, id: &str) -> Result<Option<String>>;
    /// Every document of a kind, oldest first.
    fn docs(&self, kind: &str) -> Result<Vec<(String, String)>>;
    /// Removes a document; false when there was none.
    fn delete_doc(&self, kind: &str, id: &str) -> Result<bool>;

    /// Stores a token by its hash (tokens themselves are never stored).
    fn put_token(&self, token_hash: &[u8; 32], name: &str, role: &str) -> Result<()>;
    /// The (name, role) a token hash belongs to.
    fn token(&self, token_hash: &[u8; 32]) -> Result<Option<(String, String)>>;
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
