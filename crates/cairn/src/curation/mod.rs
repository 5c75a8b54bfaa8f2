//! Curation by people: edits, tags, revocation and deletes of stored objects, each one
//! a new version (or a tombstone) recorded in the audit log with who made it.
//!
//! Key design decision: what may be edited depends on where an object came from. An
//! object created in Cairn belongs to us, so every property may change. An object
//! delivered by a connector, upload, file import or TAXII belongs to its producer, whose
//! next version replaces ours; only the analyst's own layer — tags, expiry
//! (`valid_until`), confidence and revocation — may change, as in Sentinel, and anything
//! else is refused with that reason.

pub mod create;
#[cfg(test)]
mod tests;

use cairn_store::{AuditEntry, Curation, Source, SourceKind, Store};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::ingest::Pipeline;

/// The properties an edit may change on an object delivered from outside.
pub const FEED_EDITABLE: &[&str] = &["labels", "valid_until", "confidence", "revoked"];

/// Properties no edit changes: they identify the object or its version, and the server
/// sets `modified` itself.
const SERVER_MANAGED: &[&str] = &["type", "id", "spec_version", "created", "modified", "created_by_ref"];

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("no object with id {0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Store(String),
}

/// Where an object came from, which decides what may be edited.
#[derive(Clone, Debug, Serialize)]
pub struct Origin {
    /// Created in Cairn (the UI, the API's create endpoint): every property is editable.
    pub local: bool,
    /// The first source that delivered it, e.g. `connector:feed-a`.
    pub source: String,
    /// Properties that may be edited; `None` = all but the server-managed ones.
    pub editable: Option<Vec<&'static str>>,
}

pub fn origin(store: &dyn Store, id: &str) -> Result<Origin, EditError> {
    let sources = store.sources_of(id).map_err(|e| EditError::Store(e.to_string()))?;
    let first = sources.iter().min_by_key(|s| s.first_seen).ok_or_else(|| EditError::NotFound(id.into()))?;
    let local = sources.iter().all(|s| matches!(s.kind.as_str(), "ui" | "rule"));
    Ok(Origin {
        local,
        source: format!("{}:{}", first.kind, first.source),
        editable: (!local).then(|| FEED_EDITABLE.to_vec()),
    })
}

/// Edits one object: `patch` sets properties (`null` removes one; `tags` is `labels`).
/// Stored as a new version with a new `modified`, audited as made by `actor`.
pub fn edit(pipeline: &Pipeline, id: &str, patch: &Map<String, Value>, actor: &str) -> Result<Value, EditError> {
    let store = pipeline.store();
    let current = store
        .current(id)
        .map_err(|e| EditError::Store(e.to_string()))?
        .ok_or_else(|| EditError::NotFound(id.into()))?;
    let old: Value = serde_json::from_str(&current.raw).map_err(|e| EditError::Store(e.to_string()))?;
    let origin = origin(store.as_ref(), id)?;
    let mut edited = old.clone();
    for (k, v) in patch {
        let key = if k == "tags" { "labels" } else { k.as_str() };
        if SERVER_MANAGED.contains(&key) {
            return Err(EditError::Refused(format!(
                "{k}: set by the server (it names the object or its version); it cannot be edited"
            )));
        }
        if let Some(allowed) = &origin.editable {
            if !allowed.contains(&key) {
                return Err(EditError::Refused(format!(
                    "{k}: this object comes from {} and belongs to its producer, whose next version would replace your change; \
                     only tags, valid_until, confidence and revoked may be edited here (duplicate it to make your own copy)",
                    origin.source
                )));
            }
        }
        if v.is_null() {
            edited.as_object_mut().expect("stored objects are JSON objects").remove(key);
        } else {
            edited[key] = v.clone();
        }
    }
    if edited == old {
        return Ok(old);
    }
    store_edit(pipeline, &old, edited, &current.source, None, Vec::new(), actor).map_err(EditError::Refused)
}

/// Stores `edited` as the next version of `old`: `modified` moves forward (at least a
/// millisecond past the old one), the object is validated, and the version and its audit
/// entry are written together, under the source that delivered the object, so it keeps
/// its origin. `ruleset`/`rules` record a rule applied on request.
pub fn store_edit(
    pipeline: &Pipeline,
    old: &Value,
    mut edited: Value,
    source_name: &str,
    ruleset: Option<i64>,
    rules: Vec<String>,
    actor: &str,
) -> Result<Value, String> {
    let store = pipeline.store();
    let id = old.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let old_modified = old
        .get("modified")
        .and_then(Value::as_str)
        .and_then(|t| cairn_stix::Timestamp::parse(t).ok())
        .map_or(i64::MIN, |t| t.unix_micros());
    let now = cairn_store::now_micros();
    // STIX timestamps here carry milliseconds: the next version is at least 1 ms later.
    let next_ms = old_modified.div_euclid(1000).saturating_add(1).saturating_mul(1000);
    let modified = (now - now.rem_euclid(1000)).max(next_ms);
    if edited.get("modified").is_some() || old.get("modified").is_some() {
        edited["modified"] = json!(cairn_stix::Timestamp::from_unix_micros(modified).format_digits(3));
    }
    let report = cairn_stix::validate(&edited, None);
    if !report.is_valid() {
        let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        return Err(format!("the edited object is not valid STIX: {}", errors.join("; ")));
    }
    let meta = cairn_stix::ObjectMeta::from_value(&edited, None)?;
    let mut candidate = cairn_store::Candidate::from_value(&edited, &meta);
    candidate.curation = Curation { ruleset, rules };
    let kind = store
        .sources_of(&id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|s| s.source == source_name)
        .and_then(|s| SourceKind::parse(&s.kind))
        .unwrap_or(SourceKind::Ui);
    let entry = AuditEntry::new(actor, "edit", Some(id), json!({ "changes": changes(old, &edited) }));
    store.ingest_audited(&Source::new(kind, source_name), &[candidate], &[entry]).map_err(|e| e.to_string())?;
    Ok(edited)
}

/// The properties that differ, with their values before and after (`modified` aside).
pub fn changes(old: &Value, new: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let (Some(a), Some(b)) = (old.as_object(), new.as_object()) else { return out };
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        if k != "modified" && a.get(k) != b.get(k) {
            out.insert(k.clone(), json!({"before": a.get(k), "after": b.get(k)}));
        }
    }
    out
}

/// Deletes an object (a tombstone; history stays) and records who did it.
pub fn delete(store: &dyn Store, id: &str, actor: &str) -> Result<bool, String> {
    let deleted = store.delete(id, &Source::new(SourceKind::Ui, actor)).map_err(|e| e.to_string())?;
    if deleted {
        store
            .append_audit(&[AuditEntry::new(actor, "delete", Some(id.to_string()), Value::Null)])
            .map_err(|e| e.to_string())?;
    }
    Ok(deleted)
}

/// What a bulk tag change did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Bulk {
    pub selected: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub errors: Vec<String>,
}

/// Adds and removes tags on a selection of objects of one type, each change a new version.
pub fn bulk_tags(
    pipeline: &Pipeline,
    ids: &[String],
    add: &[String],
    remove: &[String],
    actor: &str,
) -> Result<Bulk, String> {
    if add.is_empty() && remove.is_empty() {
        return Err("name tags to add or remove".into());
    }
    if add.iter().chain(remove).any(|t| t.trim().is_empty()) {
        return Err("a tag is non-empty text".into());
    }
    let store = pipeline.store();
    let mut objects = Vec::with_capacity(ids.len());
    for id in ids {
        match store.current(id).map_err(|e| e.to_string())? {
            Some(v) => objects.push(v),
            None => return Err(format!("no object with id {id}")),
        }
    }
    let mut types: Vec<&str> = objects.iter().map(|v| v.stix_type.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    if types.len() > 1 {
        return Err(format!(
            "bulk tagging works on objects of one type; the selection holds {}: select one type",
            types.join(", ")
        ));
    }
    let edit =
        crate::ingestion_rules::Edit { add_tags: add.to_vec(), remove_tags: remove.to_vec(), ..Default::default() };
    let mut out = Bulk { selected: objects.len() as u64, ..Bulk::default() };
    for v in objects {
        let old: Value = serde_json::from_str(&v.raw).map_err(|e| e.to_string())?;
        if !matches!(old.get("created"), Some(Value::String(_))) {
            out.errors.push(format!("{}: {} objects have no tags (only SDOs and SROs do)", v.id, v.stix_type));
            continue;
        }
        let mut edited = old.clone();
        if !edit.apply(&mut edited) {
            out.unchanged += 1;
            continue;
        }
        match store_edit(pipeline, &old, edited, &v.source, None, Vec::new(), actor) {
            Ok(_) => out.changed += 1,
            Err(e) => out.errors.push(format!("{}: {e}", v.id)),
        }
    }
    Ok(out)
}
