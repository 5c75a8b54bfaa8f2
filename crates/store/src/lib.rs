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

pub mod search;
pub mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use search::{Facets, IndexProgress, SearchPage, SearchQuery, SortField};
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
    /// An ingestion rule applied to stored objects on request.
    Rule,
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
            SourceKind::Rule => "rule",
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
            "rule" => SourceKind::Rule,
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
    /// BLAKE3 of the object as delivered, before ingestion rules edited it: equal hashes
    /// mean an identical delivery, so re-delivering a version is a no-op even after the
    /// rules changed. The store confirms unequal hashes by comparing parsed values, so key
    /// order and spacing never make a conflict.
    pub hash: [u8; 32],
    /// What the ingestion rules did to it.
    pub curation: Curation,
}

/// How the ingestion rules treated one version: the rule-set version in force when it
/// was ingested and the rules that changed it (their ids, in the order they ran).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Curation {
    pub ruleset: Option<i64>,
    pub rules: Vec<String>,
}

impl Candidate {
    /// Builds a candidate from an object the caller has already validated.
    pub fn from_value(obj: &serde_json::Value, meta: &cairn_stix::ObjectMeta) -> Candidate {
        Candidate::from_raw(serde_json::to_string(obj).expect("a Value always serialises"), meta)
    }

    /// Builds a candidate from the compact JSON text of a validated object.
    pub fn from_raw(raw: String, meta: &cairn_stix::ObjectMeta) -> Candidate {
        Candidate {
            id: meta.id.clone(),
            stix_type: meta.stix_type.clone(),
            spec_version: meta.spec_version.as_str().to_string(),
            version_key: meta.version.map(|t| t.key()),
            revoked: meta.revoked,
            hash: *blake3::hash(raw.as_bytes()).as_bytes(),
            raw,
            curation: Curation::default(),
        }
    }

    /// A candidate for `edited`, the object delivered as the JSON text `delivered` after
    /// ingestion rules changed it:
    /// stored as edited, recognised by what was delivered.
    pub fn from_edited(
        delivered: &str,
        edited: &serde_json::Value,
        meta: &cairn_stix::ObjectMeta,
        curation: Curation,
    ) -> Candidate {
        let mut c = Candidate::from_value(edited, meta);
        c.hash = *blake3::hash(delivered.as_bytes()).as_bytes();
        c.curation = curation;
        c
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
    /// The ingestion rule-set version that processed this version (`None`: no rules yet).
    pub ruleset: Option<i64>,
    /// The ids of the rules that changed it, in the order they ran.
    pub rules: Vec<String>,
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
    /// A write the versioning rules refuse (e.g. a version after a revocation).
    #[error("{0}")]
    Refused(String),
}

/// One change in the audit log: who did what to which object.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// Assigned by the store; increasing.
    pub seq: i64,
    /// Microseconds since the epoch; assigned by the store.
    pub at: i64,
    /// `user:NAME`, `rule:NAME`, …
    pub actor: String,
    /// `edit`, `delete`, `create`, `tag`, `rule-apply`, …
    pub action: String,
    pub object_id: Option<String>,
    /// What changed (e.g. the edited properties, before and after).
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        object_id: Option<String>,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry { seq: 0, at: 0, actor: actor.into(), action: action.into(), object_id, detail }
    }
}

/// Which audit entries to read.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub object_id: Option<String>,
    pub actor: Option<String>,
    /// Entries after this `seq`.
    pub after: Option<i64>,
    pub limit: usize,
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

    /// Stores a batch and its audit entries in one transaction: either every candidate is
    /// stored (created, new version or unchanged) and the entries are written, or nothing
    /// is, and the error says why ([`StoreError::Refused`] for a conflict or revocation).
    fn ingest_audited(&self, source: &Source, batch: &[Candidate], audit: &[AuditEntry]) -> Result<Vec<Outcome>>;

    /// The tags (`labels`) of current, live objects with how many objects carry each, most
    /// used first; only tags starting with `prefix` (ignoring case) when it is non-empty.
    fn tag_counts(&self, prefix: &str, limit: usize) -> Result<Vec<(String, u64)>>;

    /// Brings the search index up to date with up to `max` stored versions; returns what it
    /// did and how far behind it still is.
    fn refresh_search(&self, max: usize) -> Result<IndexProgress>;

    /// A page of current, live objects that a search selects, from the search index (call
    /// [`Store::refresh_search`] first to include the latest writes).
    fn search(&self, query: &SearchQuery) -> Result<SearchPage>;

    /// Facet counts over everything a search selects (the cursor and limit are ignored).
    fn facets(&self, query: &SearchQuery) -> Result<Facets>;

    /// The current relationships and sightings that point at `id` (as source, target,
    /// sighted object or place), from the search index; at most `limit`.
    fn related(&self, id: &str, limit: usize) -> Result<Vec<StoredVersion>>;

    /// Appends audit entries.
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<()>;

    /// Audit entries, oldest first.
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

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
    /// Writes (`Some`) and removes (`None`) documents, `(kind, id, doc)`, in one transaction.
    fn write_docs(&self, changes: &[(&str, &str, Option<&str>)]) -> Result<()>;

    /// Writes documents (as [`Store::write_docs`]) and replaces the enrichment facts of
    /// each listed object (`None` removes them), in one transaction. Facts are a JSON
    /// object of arrays, `{"country": ["RU"], "asn": [13335]}` (see
    /// [`cairn_condition::Fact`]); search conditions on `enrichment.*` read them.
    fn write_enrichment(
        &self,
        docs: &[(&str, &str, Option<&str>)],
        facts: &[(&str, Option<&serde_json::Value>)],
    ) -> Result<()>;
    /// An object's enrichment facts.
    fn enrichment_facts(&self, id: &str) -> Result<Option<serde_json::Value>>;

    /// Stores a token by its hash (tokens themselves are never stored).
    fn put_token(&self, token_hash: &[u8; 32], name: &str, role: &str) -> Result<()>;
    /// The (name, role) a token hash belongs to.
    fn token(&self, token_hash: &[u8; 32]) -> Result<Option<(String, String)>>;
    /// Every user, by name (with password hashes: callers show names and roles only).
    fn users(&self) -> Result<Vec<User>>;
    /// Removes a user; false when there was none. Tokens issued in the name stay until
    /// deleted themselves: a token is its own credential.
    fn delete_user(&self, name: &str) -> Result<bool>;
    /// Every token's hash, name, role and creation time, oldest first.
    fn tokens(&self) -> Result<Vec<TokenInfo>>;
    /// Revokes a token by its hash; false when there was none.
    fn delete_token(&self, token_hash: &[u8; 32]) -> Result<bool>;
}

/// A stored API token, as listed: never the token itself, which only its holder has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub hash: [u8; 32],
    pub name: String,
    pub role: String,
    /// Microseconds since the Unix epoch.
    pub created: i64,
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The (key, value-as-text) pairs of a facts object, as the search index keeps them:
/// strings as they are, numbers and booleans as JSON writes them.
pub fn fact_pairs(facts: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, vs) in facts.as_object().into_iter().flatten() {
        let vs = match vs {
            serde_json::Value::Array(a) => a.iter().collect::<Vec<_>>(),
            v => vec![v],
        };
        for v in vs {
            match v {
                serde_json::Value::String(s) => out.push((k.clone(), s.clone())),
                serde_json::Value::Null => {}
                v => out.push((k.clone(), v.to_string())),
            }
        }
    }
    out
}
