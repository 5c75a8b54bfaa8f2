//! Cairn's side of the TAXII 2.1 server: collections, permissions, and the mapping of
//! TAXII queries onto the store and the ingest pipeline.
//!
//! A read collection is a saved filter over the store (types, sources, tags, TLP,
//! confidence); a writable collection is the objects POSTed to it, which enter through
//! the ingest pipeline with the collection as their source.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName};
use cairn_store::{Filter, Source, SourceKind, Store, VersionSelect};
use cairn_taxii::{BackendError, CollectionInfo, Item, ObjectQuery, Page, Status, StatusDetail, VersionMatch};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{AuthError, Authenticator, Principal, Role};
use crate::ingest::{ObjectOutcome, Pipeline};

const COLLECTION: &str = "collection";
const STATUS: &str = "taxii-status";

/// The TLP 2.1 marking-definition ids (STIX 2.1 §7.2.1.4).
pub fn tlp_marking(level: &str) -> Option<&'static str> {
    Some(match level {
        "white" | "clear" => "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "green" => "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "amber" => "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "red" => "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        _ => return None,
    })
}

/// A saved selection of intelligence: what a read collection serves and what a scheduled
/// export sends. Every field narrows; empty means "no restriction".
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<i64>,
}

impl SavedFilter {
    pub fn is_empty(&self) -> bool {
        *self == SavedFilter::default()
    }

    /// Checks the values; the error says what to change.
    pub fn check(&self) -> Result<(), String> {
        if let Some(t) = &self.tlp {
            tlp_marking(t).ok_or_else(|| format!("unknown TLP level '{t}': use white, green, amber or red"))?;
        }
        if self.min_confidence.is_some_and(|c| !(0..=100).contains(&c)) {
            return Err("min-confidence must be between 0 and 100".into());
        }
        Ok(())
    }

    /// The store filter for the current versions this selects.
    pub fn to_filter(&self) -> Filter {
        Filter {
            types: self.types.clone(),
            sources: self.sources.clone(),
            tags: self.tags.clone(),
            tlp_marking: self.tlp.as_deref().and_then(tlp_marking).map(str::to_string),
            min_confidence: self.min_confidence,
            ..Filter::default()
        }
    }
}

/// A collection's definition, stored as a document.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CollectionConfig {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Accepts POSTs; its objects are what was POSTed to it.
    #[serde(default)]
    pub writable: bool,
    /// Readable without credentials.
    #[serde(default)]
    pub public: bool,
    /// What a read collection serves.
    #[serde(flatten)]
    pub select: SavedFilter,
    /// Who may read: `user:NAME` or `role:ROLE` (that role or above). Empty: every
    /// authenticated user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<String>,
    /// Who may write (writable collections): as `readers`. Empty: contributors and admins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writers: Vec<String>,
}

/// Whether `who` is one of `entries` (`user:NAME`, `role:ROLE` meaning that role or above).
fn granted(entries: &[String], who: &Principal) -> bool {
    entries.iter().any(|e| match e.split_once(':') {
        Some(("user", name)) => who.name == name,
        Some(("role", role)) => Role::parse(role).is_some_and(|r| who.role >= r),
        _ => false,
    })
}

impl CollectionConfig {
    /// The source name objects POSTed to this collection are recorded under.
    pub fn source_name(&self) -> String {
        format!("taxii-collection:{}", self.id)
    }

    /// Checks the definition; the error says what to change.
    pub fn check(&self) -> Result<(), String> {
        uuid::Uuid::parse_str(&self.id).map_err(|_| format!("collection id '{}' is not a UUID", self.id))?;
        if self.title.trim().is_empty() {
            return Err("a collection needs a title".into());
        }
        self.select.check()?;
        for e in self.readers.iter().chain(&self.writers) {
            let ok = match e.split_once(':') {
                Some(("user", n)) => !n.is_empty(),
                Some(("role", r)) => Role::parse(r).is_some(),
                _ => false,
            };
            if !ok {
                return Err(format!("permission '{e}': use user:NAME or role:admin|contributor|reader"));
            }
        }
        if !self.writers.is_empty() && !self.writable {
            return Err("write permissions need a writable collection (--writable)".into());
        }
        if self.writable && !self.select.is_empty() {
            return Err("a writable collection holds what is POSTed to it; it takes no filters".into());
        }
        Ok(())
    }

    /// The store filter that selects this collection's objects.
    fn filter(&self) -> Filter {
        if self.writable {
            return Filter { sources: vec![self.source_name()], ..Filter::default() };
        }
        self.select.to_filter()
    }
}

pub fn create_collection(store: &dyn Store, c: &CollectionConfig) -> Result<(), String> {
    c.check()?;
    if store.doc(COLLECTION, &c.id).map_err(|e| e.to_string())?.is_some() {
        return Err(format!("a collection with id {} already exists", c.id));
    }
    let doc = serde_json::to_string(c).expect("collections serialise");
    store.put_doc(COLLECTION, &c.id, &doc).map_err(|e| e.to_string())
}

pub fn list_collections(store: &dyn Store) -> cairn_store::Result<Vec<CollectionConfig>> {
    Ok(store.docs(COLLECTION)?.into_iter().filter_map(|(_, d)| serde_json::from_str(&d).ok()).collect())
}

/// Implements the TAXII routes' backend over the pipeline and the store.
pub struct TaxiiBackend {
    pub pipeline: Pipeline,
    pub auth: Authenticator,
    /// A header that carries an API token (for WAFs that strip Authorization).
    pub api_key_header: Option<HeaderName>,
    pub max_content_length: u64,
    pub title: String,
}

fn internal(e: impl std::fmt::Display) -> BackendError {
    BackendError::Internal(e.to_string())
}

impl TaxiiBackend {
    fn store(&self) -> &Arc<dyn Store> {
        self.pipeline.store()
    }

    fn config(&self, id: &str) -> Result<Option<CollectionConfig>, BackendError> {
        let doc = self.store().doc(COLLECTION, id).map_err(internal)?;
        Ok(doc.and_then(|d| serde_json::from_str(&d).ok()))
    }

    fn info(c: &CollectionConfig, who: Option<&Principal>) -> Option<CollectionInfo> {
        let admin = who.is_some_and(|p| p.role == Role::Admin);
        let can_read =
            c.public || admin || who.is_some_and(|p| if c.readers.is_empty() { true } else { granted(&c.readers, p) });
        let can_write = c.writable
            && who.is_some_and(|p| {
                admin || if c.writers.is_empty() { p.role >= Role::Contributor } else { granted(&c.writers, p) }
            });
        // A collection the caller may neither read nor write stays hidden (404, not 403).
        if !can_read && !can_write {
            return None;
        }
        Some(CollectionInfo {
            id: c.id.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            can_read,
            can_write,
        })
    }
}

/// The STIX version string of a stored object: its `modified` as the producer wrote it
/// (or `created`), else, for unversioned objects, when it was added.
fn version_string(raw: &str, date_added: i64) -> String {
    #[derive(Deserialize)]
    struct V {
        modified: Option<String>,
        created: Option<String>,
    }
    match serde_json::from_str::<V>(raw) {
        Ok(V { modified: Some(m), .. }) | Ok(V { modified: None, created: Some(m) }) => m,
        _ => cairn_taxii::server::format_micros(date_added),
    }
}

impl cairn_taxii::Backend for TaxiiBackend {
    type Principal = Principal;

    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, String> {
        if let Some(h) = &self.api_key_header {
            if let Some(key) = headers.get(h).and_then(|v| v.to_str().ok()) {
                return self.auth.by_token(key.trim()).map(Some).map_err(|_| format!("unknown key in {h}"));
            }
        }
        let authz = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match self.auth.authenticate(authz) {
            Ok(p) => Ok(Some(p)),
            Err(AuthError::Missing) => Ok(None),
            Err(AuthError::Invalid(why)) => Err(why.to_string()),
        }
    }

    fn title(&self) -> String {
        self.title.clone()
    }

    fn max_content_length(&self) -> u64 {
        self.max_content_length
    }

    fn collections(&self, who: Option<&Principal>) -> Result<Vec<CollectionInfo>, BackendError> {
        let all = list_collections(self.store().as_ref()).map_err(internal)?;
        Ok(all.iter().filter_map(|c| Self::info(c, who)).collect())
    }

    fn collection(&self, id: &str, who: Option<&Principal>) -> Result<Option<CollectionInfo>, BackendError> {
        Ok(self.config(id)?.and_then(|c| Self::info(&c, who)))
    }

    fn objects(&self, collection: &str, q: &ObjectQuery) -> Result<Page, BackendError> {
        let c =
            self.config(collection)?.ok_or_else(|| BackendError::NotFound(format!("no collection {collection}")))?;
        let mut f = c.filter();
        if !q.types.is_empty() {
            // The query narrows the collection; it never widens it.
            f.types = if f.types.is_empty() {
                q.types.clone()
            } else {
                f.types.iter().filter(|t| q.types.contains(t)).cloned().collect()
            };
            if f.types.is_empty() {
                return Ok(Page::default());
            }
        }
        f.ids = q.ids.clone();
        f.spec_versions = q.spec_versions.clone();
        // A deleted object is no longer shared, in any version.
        f.live_only = true;
        f.versions = match &q.versions {
            VersionMatch::Last => VersionSelect::Current,
            VersionMatch::First => VersionSelect::First,
            VersionMatch::All => VersionSelect::All,
            VersionMatch::List(ts) => VersionSelect::Keys(ts.iter().map(|t| t.key()).collect()),
        };
        let page = self.store().list(&f, q.after, q.limit).map_err(internal)?;
        let items = page
            .items
            .into_iter()
            .filter(|v| !v.tombstone)
            .map(|v| Item {
                version: version_string(&v.raw, v.date_added),
                id: v.id,
                date_added: v.date_added,
                raw: v.raw,
            })
            .collect::<Vec<_>>();
        // Tombstones are dropped from the page; `next` still points past them.
        Ok(Page { items, next: page.next })
    }

    fn add_objects(&self, collection: &str, who: &Principal, objects: Vec<Value>) -> Result<Status, BackendError> {
        let c =
            self.config(collection)?.ok_or_else(|| BackendError::NotFound(format!("no collection {collection}")))?;
        let keys: Vec<(String, String)> = objects
            .iter()
            .map(|o| {
                let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let version = if o.get("modified").is_some() { s("modified") } else { s("created") };
                (s("id"), version)
            })
            .collect();
        let source = Source::new(SourceKind::Taxii, c.source_name());
        let outcomes = self.pipeline.ingest_values(&source, objects).map_err(internal)?;
        let mut status = Status {
            id: uuid::Uuid::new_v4().to_string(),
            status: "complete".into(),
            request_timestamp: Some(cairn_taxii::server::format_micros(cairn_store::now_micros())),
            total_count: outcomes.len() as u64,
            success_count: 0,
            successes: Vec::new(),
            failure_count: 0,
            failures: Vec::new(),
            pending_count: 0,
            pendings: Vec::new(),
        };
        for ((id, version), o) in keys.into_iter().zip(outcomes) {
            match o {
                ObjectOutcome::Rejected { errors } => {
                    status.failures.push(StatusDetail { id, version, message: Some(errors.join("; ")) })
                }
                _ => status.successes.push(StatusDetail { id, version, message: None }),
            }
        }
        status.success_count = status.successes.len() as u64;
        status.failure_count = status.failures.len() as u64;
        let doc = serde_json::json!({ "owner": who.name, "status": status });
        self.store().put_doc(STATUS, &status.id, &doc.to_string()).map_err(internal)?;
        Ok(status)
    }

    fn status(&self, id: &str, who: Option<&Principal>) -> Result<Option<Status>, BackendError> {
        let Some(doc) = self.store().doc(STATUS, id).map_err(internal)? else { return Ok(None) };
        let v: Value = serde_json::from_str(&doc).map_err(internal)?;
        // A status belongs to whoever posted (admins see all): it lists what they sent.
        let owner = v.get("owner").and_then(Value::as_str);
        if !who.is_some_and(|p| p.role == Role::Admin || Some(p.name.as_str()) == owner) {
            return Ok(None);
        }
        Ok(serde_json::from_value(v["status"].clone()).ok())
    }

    fn delete_object(&self, collection: &str, object_id: &str, who: &Principal) -> Result<bool, BackendError> {
        let q = ObjectQuery {
            after: None,
            limit: 1,
            ids: vec![object_id.to_string()],
            types: Vec::new(),
            versions: VersionMatch::Last,
            spec_versions: Vec::new(),
        };
        if self.objects(collection, &q)?.items.is_empty() {
            return Ok(false);
        }
        let source = Source::new(SourceKind::Taxii, format!("user:{}", who.name));
        self.store().delete(object_id, &source).map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(f: impl FnOnce(&mut CollectionConfig)) -> CollectionConfig {
        let mut c = CollectionConfig {
            id: "91a7b528-80eb-42ed-a74d-c6fbd5a26116".into(),
            title: "t".into(),
            ..CollectionConfig::default()
        };
        f(&mut c);
        c
    }

    #[test]
    fn collection_definitions_are_checked() {
        let cases: Vec<(&str, CollectionConfig, bool)> = vec![
            ("plain read", c(|_| {}), true),
            ("writable", c(|c| c.writable = true), true),
            (
                "filters",
                c(|c| {
                    c.select.types = vec!["indicator".into()];
                    c.select.tlp = Some("amber".into());
                    c.select.min_confidence = Some(50)
                }),
                true,
            ),
            ("bad id", c(|c| c.id = "inbox".into()), false),
            ("no title", c(|c| c.title = " ".into()), false),
            ("bad tlp", c(|c| c.select.tlp = Some("purple".into())), false),
            ("confidence range", c(|c| c.select.min_confidence = Some(101)), false),
            (
                "writable with filters",
                c(|c| {
                    c.writable = true;
                    c.select.tags = vec!["x".into()]
                }),
                false,
            ),
        ];
        for (name, cfg, ok) in cases {
            assert_eq!(cfg.check().is_ok(), ok, "{name}: {:?}", cfg.check());
        }
    }

    #[test]
    fn permissions_by_user_and_role() {
        let p = |name: &str, role| Principal { name: name.into(), role };
        let (ann, bob, carl, ada) =
            (p("ann", Role::Reader), p("bob", Role::Reader), p("carl", Role::Contributor), p("ada", Role::Admin));
        let partners = c(|c| {
            c.writable = true;
            c.readers = vec!["user:ann".into(), "role:contributor".into()];
            c.writers = vec!["user:ann".into()];
        });
        assert!(partners.check().is_ok());
        let view = |who: &Principal| TaxiiBackend::info(&partners, Some(who)).map(|i| (i.can_read, i.can_write));
        assert_eq!(view(&ann), Some((true, true)), "named reader may read and write");
        assert_eq!(view(&bob), None, "not listed: hidden");
        assert_eq!(view(&carl), Some((true, false)), "role:contributor reads; only ann writes");
        assert_eq!(view(&ada), Some((true, true)), "admins always");
        let write_only = c(|c| {
            c.writable = true;
            c.readers = vec!["role:admin".into()];
            c.writers = vec!["user:bob".into()];
        });
        assert_eq!(TaxiiBackend::info(&write_only, Some(&bob)).map(|i| (i.can_read, i.can_write)), Some((false, true)));
        for bad in ["alice", "role:root", "user:", "group:x"] {
            assert!(c(|c| c.readers = vec![bad.into()]).check().is_err(), "{bad}");
        }
        assert!(c(|c| c.writers = vec!["user:x".into()]).check().is_err(), "writers need a writable collection");
    }

    #[test]
    fn permissions_follow_public_writable_and_role() {
        let reader = Principal { name: "r".into(), role: Role::Reader };
        let contributor = Principal { name: "c".into(), role: Role::Contributor };
        let private = c(|_| {});
        let public = c(|c| c.public = true);
        let inbox = c(|c| c.writable = true);
        assert!(TaxiiBackend::info(&private, None).is_none(), "anonymous callers do not see private collections");
        let p = TaxiiBackend::info(&public, None).unwrap();
        assert!(p.can_read && !p.can_write);
        let i = TaxiiBackend::info(&inbox, Some(&reader)).unwrap();
        assert!(i.can_read && !i.can_write, "readers cannot write");
        assert!(TaxiiBackend::info(&inbox, Some(&contributor)).unwrap().can_write);
        assert!(
            !TaxiiBackend::info(&private, Some(&contributor)).unwrap().can_write,
            "read collections take no writes"
        );
    }

    #[test]
    fn version_string_prefers_what_the_producer_wrote() {
        assert_eq!(version_string(r#"{"modified":"2020-01-01T00:00:00.5Z"}"#, 0), "2020-01-01T00:00:00.5Z");
        assert_eq!(version_string(r#"{"created":"2020-01-01T00:00:00Z"}"#, 0), "2020-01-01T00:00:00Z");
        assert_eq!(version_string(r#"{"value":"1.2.3.4"}"#, 1_000_000), "1970-01-01T00:00:01.000000Z");
    }
}
