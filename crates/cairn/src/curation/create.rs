//! Creating intelligence in Cairn: SDOs with server-filled defaults, relationships (one
//! source, any number of targets), "duplicate", and the graph around an object.

use std::collections::{BTreeMap, HashSet, VecDeque};

use cairn_stix::spec::{relationship_listed, COMMON_RELATIONSHIPS, RELATIONSHIPS, SDO_TYPES};
use cairn_store::{AuditEntry, Source, SourceKind, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::ingest::Pipeline;

/// Properties the server sets on objects created here.
const SERVER_SET: &[&str] = &["id", "spec_version", "created", "modified"];

/// Common properties a duplicate copies from its original (Sentinel's "Add and
/// duplicate"): who made it, markings, tags, confidence, language, references.
const COMMON: &[&str] = &[
    "created_by_ref", "object_marking_refs", "granular_markings", "labels", "confidence", "lang", "external_references",
];

/// Why a creation was refused; `Invalid` lists every problem, each naming its property.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("{0}")]
    Store(String),
}

fn invalid(m: impl Into<String>) -> CreateError {
    CreateError::Invalid(vec![m.into()])
}

/// What a creation stored.
#[derive(Debug, Serialize)]
pub struct Created {
    pub objects: Vec<Value>,
    /// Relationship types outside the spec's summary table for their source/target pair:
    /// stored, but worth a second look.
    pub warnings: Vec<String>,
}

/// A relationship to make at the same time as an object: `{"type": "indicates", "target": id}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRelationship {
    #[serde(rename = "type")]
    pub relationship_type: String,
    pub target: String,
}

fn now_ms() -> String {
    let now = cairn_store::now_micros();
    cairn_stix::Timestamp::from_unix_micros(now - now.rem_euclid(1000)).format_digits(3)
}

/// This instance's identity (the author of what is created here), stored if it is not yet.
pub fn ensure_identity(pipeline: &Pipeline) -> Result<String, CreateError> {
    let store = pipeline.store();
    let me = crate::detect::sighting::instance_identity(
        &store.instance_id().map_err(|e| CreateError::Store(e.to_string()))?,
    );
    let id = me["id"].as_str().expect("an id").to_string();
    if store.current(&id).map_err(|e| CreateError::Store(e.to_string()))?.is_none() {
        pipeline
            .ingest_values(&Source::new(SourceKind::Ui, "cairn"), vec![me])
            .map_err(|e| CreateError::Store(e.to_string()))?;
    }
    Ok(id)
}

/// Creates an SDO from `draft` (its `type` and properties): id, spec_version, created,
/// modified and created_by_ref (this instance's identity, unless given) are filled in.
/// `relationships` are made from the new object in the same transaction.
pub fn create(
    pipeline: &Pipeline,
    draft: Map<String, Value>,
    relationships: &[NewRelationship],
    actor: &str,
) -> Result<Created, CreateError> {
    let (objects, warnings) = prepare(pipeline, draft, relationships, true)?;
    let mut created = store_new(pipeline, objects, actor, &name_in_create)?;
    created.warnings = warnings;
    Ok(created)
}

/// Checks a draft exactly as [`create`] would, storing nothing: the objects it would
/// make, or every problem, each naming its property. The create form checks as you type.
pub fn check(
    pipeline: &Pipeline,
    draft: Map<String, Value>,
    relationships: &[NewRelationship],
) -> Result<Created, CreateError> {
    let (objects, warnings) = prepare(pipeline, draft, relationships, false)?;
    let errors = validate_all(&objects, &name_in_create);
    if !errors.is_empty() {
        return Err(CreateError::Invalid(errors));
    }
    Ok(Created { objects, warnings })
}

fn name_in_create(i: usize) -> String {
    if i == 0 {
        String::new()
    } else {
        format!("relationships[{}]: ", i - 1)
    }
}

/// The new object with its server-set properties, and its relationships.
fn prepare(
    pipeline: &Pipeline,
    mut draft: Map<String, Value>,
    relationships: &[NewRelationship],
    store_identity: bool,
) -> Result<(Vec<Value>, Vec<String>), CreateError> {
    let stix_type = draft.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    if stix_type.is_empty() {
        return Err(invalid("type: required; name the kind of object to create, e.g. indicator, threat-actor"));
    }
    if stix_type == "relationship" {
        return Err(invalid("type: create relationships with POST /api/v1/relationships (one source, many targets)"));
    }
    if !SDO_TYPES.contains(&stix_type.as_str()) {
        return Err(invalid(format!(
            "type: '{stix_type}' is not a STIX 2.1 domain object; one of {}",
            SDO_TYPES.join(", ")
        )));
    }
    let given: Vec<&str> = SERVER_SET.iter().copied().filter(|k| draft.contains_key(*k)).collect();
    if !given.is_empty() {
        return Err(CreateError::Invalid(
            given.iter().map(|k| format!("{k}: set by the server; leave it out")).collect(),
        ));
    }
    let me = if store_identity {
        ensure_identity(pipeline)?
    } else {
        let instance = pipeline.store().instance_id().map_err(|e| CreateError::Store(e.to_string()))?;
        crate::detect::sighting::instance_identity(&instance)["id"].as_str().expect("an id").to_string()
    };
    let now = now_ms();
    let id = format!("{stix_type}--{}", uuid::Uuid::new_v4());
    draft.insert("id".into(), json!(id));
    draft.insert("spec_version".into(), json!("2.1"));
    draft.insert("created".into(), json!(now));
    draft.insert("modified".into(), json!(now));
    draft.entry("created_by_ref").or_insert(json!(me));
    let object = Value::Object(draft);
    let mut objects = vec![object];
    let mut warnings = Vec::new();
    for (i, r) in relationships.iter().enumerate() {
        let (rel, warning) = relationship(
            pipeline.store().as_ref(),
            &objects[0],
            &r.target,
            &r.relationship_type,
            &Map::new(),
            &me,
            &now,
        )
        .map_err(|e| invalid(format!("relationships[{i}].{e}")))?;
        warnings.extend(warning);
        objects.push(rel);
    }
    Ok((objects, warnings))
}

/// Every validation error of `objects`, each prefixed with `what(i)`.
fn validate_all(objects: &[Value], what: &dyn Fn(usize) -> String) -> Vec<String> {
    objects
        .iter()
        .enumerate()
        .flat_map(|(i, o)| {
            cairn_stix::validate(o, None).errors.iter().map(|e| format!("{}{e}", what(i))).collect::<Vec<_>>()
        })
        .collect()
}

/// Validates and stores new objects together (one transaction, each audited as created);
/// `what(i)` names object `i` in errors.
fn store_new(
    pipeline: &Pipeline,
    objects: Vec<Value>,
    actor: &str,
    what: &dyn Fn(usize) -> String,
) -> Result<Created, CreateError> {
    let errors = validate_all(&objects, what);
    if !errors.is_empty() {
        return Err(CreateError::Invalid(errors));
    }
    let mut candidates = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let meta = cairn_stix::ObjectMeta::from_value(o, None).map_err(|e| invalid(format!("{}{e}", what(i))))?;
        candidates.push(cairn_store::Candidate::from_value(o, &meta));
    }
    let audit: Vec<AuditEntry> = objects
        .iter()
        .map(|o| AuditEntry::new(actor, "create", o["id"].as_str().map(str::to_string), json!({"type": o["type"]})))
        .collect();
    pipeline
        .store()
        .ingest_audited(&Source::new(SourceKind::Ui, actor), &candidates, &audit)
        .map_err(|e| CreateError::Store(e.to_string()))?;
    Ok(Created { objects, warnings: Vec::new() })
}

/// A relationship object from `source` to the stored object `target_id`, with a warning
/// when the spec's summary does not list the pair; `Err` names the field at fault.
fn relationship(
    store: &dyn Store,
    source: &Value,
    target_id: &str,
    relationship_type: &str,
    common: &Map<String, Value>,
    me: &str,
    now: &str,
) -> Result<(Value, Option<String>), String> {
    if cairn_stix::ident::check_type_name(relationship_type).is_err() {
        return Err(format!("type: '{relationship_type}' is not a relationship type (lower-case words joined by '-')"));
    }
    let target = store.current(target_id).map_err(|e| e.to_string())?;
    let Some(target) = target else {
        return Err(format!("target: no object {target_id} (unknown or deleted)"));
    };
    let source_type = source["type"].as_str().unwrap_or_default();
    let warning = match relationship_listed(source_type, relationship_type, &target.stix_type) {
        Some(false) => Some(format!(
            "{source_type} {relationship_type} {}: not in the STIX 2.1 relationship summary; stored anyway (suggested: {})",
            target.stix_type,
            suggest(source_type, &target.stix_type).join(", ")
        )),
        _ => None,
    };
    let mut rel = common.clone();
    rel.insert("type".into(), json!("relationship"));
    rel.insert("spec_version".into(), json!("2.1"));
    rel.insert("id".into(), json!(format!("relationship--{}", uuid::Uuid::new_v4())));
    rel.insert("created".into(), json!(now));
    rel.insert("modified".into(), json!(now));
    rel.entry("created_by_ref").or_insert(json!(me));
    rel.insert("relationship_type".into(), json!(relationship_type));
    rel.insert("source_ref".into(), source["id"].clone());
    rel.insert("target_ref".into(), json!(target_id));
    Ok((Value::Object(rel), warning))
}

/// The relationship types the spec lists from `source_type` to `target_type`, then the
/// common ones any pair may use.
pub fn suggest(source_type: &str, target_type: &str) -> Vec<String> {
    let mut out: Vec<String> = RELATIONSHIPS
        .iter()
        .filter(|(s, _, targets)| *s == source_type && targets.contains(&target_type))
        .map(|(_, r, _)| r.to_string())
        .collect();
    out.dedup();
    out.extend(COMMON_RELATIONSHIPS.iter().map(|r| r.to_string()));
    out
}

/// One target of the relationship builder.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub target_ref: String,
    pub relationship_type: String,
}

/// Relationship properties the builder lets one set for all its relationships.
const BUILDER_COMMON: &[&str] = &[
    "description", "confidence", "labels", "object_marking_refs", "external_references", "start_time", "stop_time",
    "lang", "created_by_ref",
];

/// The relationship builder: one source, any number of targets (Sentinel stops at 20),
/// each with its relationship type; `common` properties go on every relationship. All
/// are stored in one transaction, or none.
pub fn build_relationships(
    pipeline: &Pipeline,
    source_ref: &str,
    targets: &[Target],
    common: &Map<String, Value>,
    actor: &str,
) -> Result<Created, CreateError> {
    if targets.is_empty() {
        return Err(invalid("targets: name at least one target"));
    }
    if let Some(k) = common.keys().find(|k| !BUILDER_COMMON.contains(&k.as_str())) {
        return Err(invalid(format!("common.{k}: not settable here; use one of {}", BUILDER_COMMON.join(", "))));
    }
    let store = pipeline.store();
    let source = store
        .current(source_ref)
        .map_err(|e| CreateError::Store(e.to_string()))?
        .ok_or_else(|| invalid(format!("source_ref: no object {source_ref} (unknown or deleted)")))?;
    let source: Value = serde_json::from_str(&source.raw).map_err(|e| CreateError::Store(e.to_string()))?;
    let me = ensure_identity(pipeline)?;
    let now = now_ms();
    let mut objects = Vec::with_capacity(targets.len());
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match relationship(store.as_ref(), &source, &t.target_ref, &t.relationship_type, common, &me, &now) {
            Ok((rel, warning)) => {
                warnings.extend(warning.map(|w| format!("targets[{i}]: {w}")));
                objects.push(rel);
            }
            Err(e) => errors.push(format!("targets[{i}].{e}")),
        }
    }
    if !errors.is_empty() {
        return Err(CreateError::Invalid(errors));
    }
    let mut created = store_new(pipeline, objects, actor, &|i| format!("targets[{i}]: "))?;
    created.warnings = warnings;
    Ok(created)
}

/// A draft pre-filled from `id`'s common metadata (same type), for "duplicate".
pub fn duplicate_template(store: &dyn Store, id: &str) -> Result<Option<Map<String, Value>>, String> {
    let Some(v) = store.current(id).map_err(|e| e.to_string())? else { return Ok(None) };
    let obj: Value = serde_json::from_str(&v.raw).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    out.insert("type".into(), obj["type"].clone());
    for k in COMMON {
        if let Some(x) = obj.get(*k) {
            out.insert(k.to_string(), x.clone());
        }
    }
    Ok(Some(out))
}

/// Objects and relationships around an object, to `depth` relationship hops.
#[derive(Debug, Default, Serialize)]
pub struct Graph {
    /// id → a summary (type, name) of every object reached.
    pub nodes: BTreeMap<String, Value>,
    pub edges: Vec<Value>,
    /// Whether `max_nodes` cut the walk short.
    pub truncated: bool,
}

/// Walks relationships and sightings breadth-first from `id`.
pub fn neighbourhood(store: &dyn Store, id: &str, depth: usize, max_nodes: usize) -> Result<Option<Graph>, String> {
    let err = |e: cairn_store::StoreError| e.to_string();
    store.refresh_search(crate::search::CATCH_UP_BEFORE_SEARCH).map_err(err)?;
    let Some(root) = store.current(id).map_err(err)? else { return Ok(None) };
    let mut g = Graph::default();
    let summary = |raw: &str| -> Value {
        let o: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        json!({"type": o["type"], "name": o.get("name").or_else(|| o.get("value")).cloned().unwrap_or(Value::Null)})
    };
    g.nodes.insert(id.to_string(), summary(&root.raw));
    let mut seen_edges = HashSet::new();
    let mut queue = VecDeque::from([(id.to_string(), 0usize)]);
    while let Some((at, d)) = queue.pop_front() {
        if d >= depth {
            continue;
        }
        for rel in store.related(&at, max_nodes).map_err(err)? {
            if !seen_edges.insert(rel.id.clone()) {
                continue;
            }
            let o: Value = serde_json::from_str(&rel.raw).unwrap_or(Value::Null);
            let ends: Vec<String> = match o["type"].as_str() {
                Some("relationship") => {
                    g.edges.push(json!({"id": rel.id, "relationship_type": o["relationship_type"],
                                        "source_ref": o["source_ref"], "target_ref": o["target_ref"]}));
                    [&o["source_ref"], &o["target_ref"]].iter().filter_map(|v| v.as_str()).map(str::to_string).collect()
                }
                _ => {
                    // A sighting: an edge from the sighting to what it saw.
                    g.nodes.entry(rel.id.clone()).or_insert_with(|| summary(&rel.raw));
                    g.edges.push(json!({"id": rel.id, "relationship_type": "sighting-of",
                                        "source_ref": rel.id, "target_ref": o["sighting_of_ref"]}));
                    o["sighting_of_ref"].as_str().map(str::to_string).into_iter().collect()
                }
            };
            for end in ends {
                if g.nodes.contains_key(&end) {
                    continue;
                }
                if g.nodes.len() >= max_nodes {
                    g.truncated = true;
                    continue;
                }
                if let Some(v) = store.current(&end).map_err(err)? {
                    g.nodes.insert(end.clone(), summary(&v.raw));
                    queue.push_back((end, d + 1));
                }
            }
        }
    }
    Ok(Some(g))
}
