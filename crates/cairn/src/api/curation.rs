//! Curation API: ingestion rules, edits, tags and the audit log — the same operations
//! as the CLI, over [`crate::ingestion_rules`] and [`crate::curation`].

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_condition::Condition;
use cairn_store::AuditQuery;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, blocking_map, blocking_or, query_lists, single, ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::curation::{self, create, EditError};
use crate::ingestion_rules::{self as rules, IngestionRule};

fn parse_rule(body: Value) -> Result<IngestionRule, ApiError> {
    serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not an ingestion rule: {e}")))
}

/// A store-or-caller error from the rules module: "no ingestion rule …" is a 404, the
/// rest are the caller's to fix.
fn rule_error(e: String) -> ApiError {
    let status = if e.starts_with("no ingestion rule") { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
    ApiError::new(status, e)
}

pub async fn list_rules(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let set = blocking_or(StatusCode::INTERNAL_SERVER_ERROR, move || rules::load(store.as_ref())).await?;
    Ok(Json(json!(set)).into_response())
}

pub async fn rule_set_version(
    State(state): State<SharedState>,
    caller: Caller,
    Path(version): Path<i64>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    match blocking_or(StatusCode::INTERNAL_SERVER_ERROR, move || rules::load_version(store.as_ref(), version)).await? {
        Some(set) => Ok(Json(json!(set)).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no rule set version {version}"))),
    }
}

pub async fn add_rule(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let rule = parse_rule(body)?;
    let store = state.pipeline.store().clone();
    let (rule, set) = blocking_or(StatusCode::BAD_REQUEST, move || rules::add(store.as_ref(), rule)).await?;
    Ok((StatusCode::CREATED, Json(json!({"rule": rule, "ruleset_version": set.version}))).into_response())
}

pub async fn get_rule(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let set = blocking_or(StatusCode::INTERNAL_SERVER_ERROR, move || rules::load(store.as_ref())).await?;
    match set.find(&id) {
        Some(r) => Ok(Json(json!({"rule": r, "ruleset_version": set.version})).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no ingestion rule with id or name '{id}'"))),
    }
}

/// Replaces a rule (its id stays); fields left out take their defaults.
pub async fn put_rule(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let new = parse_rule(body)?;
    let store = state.pipeline.store().clone();
    let (rule, set) = blocking_map(
        move || {
            rules::modify(store.as_ref(), &id, |r| {
                *r = new;
                Ok(())
            })
        },
        rule_error,
    )
    .await?;
    Ok(Json(json!({"rule": rule, "ruleset_version": set.version})).into_response())
}

pub async fn delete_rule(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.pipeline.store().clone();
    let (rule, set) = blocking_map(move || rules::remove(store.as_ref(), &id), rule_error).await?;
    Ok(Json(json!({"deleted": rule.id, "ruleset_version": set.version})).into_response())
}

/// Dry run of an unsaved rule (the body).
pub async fn dry_run_new(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let rule = parse_rule(body)?;
    rule.check().map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let store = state.pipeline.store().clone();
    let d = blocking_or(StatusCode::INTERNAL_SERVER_ERROR, move || rules::dry_run(store.as_ref(), &rule, 10)).await?;
    Ok(Json(json!(d)).into_response())
}

/// Dry run of a saved rule; `?sample=N` (default 10) objects are shown.
pub async fn dry_run_saved(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let sample: usize = single(&query_lists(query.as_deref()), "sample")?.unwrap_or(10);
    let store = state.pipeline.store().clone();
    let d = blocking_map(
        move || {
            let set = rules::load(store.as_ref())?;
            let rule = set.find(&id).ok_or_else(|| format!("no ingestion rule with id or name '{id}'"))?;
            rules::dry_run(store.as_ref(), rule, sample.min(1000))
        },
        rule_error,
    )
    .await?;
    Ok(Json(json!(d)).into_response())
}

/// Applies a saved rule to the stored objects it selects.
pub async fn apply_rule(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let pipeline = state.pipeline.clone();
    let actor = format!("user:{}", caller.0.name);
    let a = blocking_map(
        move || {
            let set = rules::load(pipeline.store().as_ref())?;
            let rule = set.find(&id).ok_or_else(|| format!("no ingestion rule with id or name '{id}'"))?.clone();
            rules::apply_to_stored(&pipeline, &rule, &actor)
        },
        rule_error,
    )
    .await?;
    Ok(Json(json!(a)).into_response())
}

fn edit_error(e: EditError) -> ApiError {
    match e {
        EditError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        EditError::Refused(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
        EditError::Store(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

/// Edits one object: the body is a JSON object of properties to set (`null` removes).
pub async fn patch_object(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let Value::Object(patch) = body else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "the body is a JSON object of properties to set"));
    };
    let pipeline = state.pipeline.clone();
    let actor = format!("user:{}", caller.0.name);
    let edited = blocking_map(move || curation::edit(&pipeline, &id, &patch, &actor), edit_error).await?;
    Ok(Json(json!({"object": edited})).into_response())
}

pub async fn revoke_object(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let pipeline = state.pipeline.clone();
    let actor = format!("user:{}", caller.0.name);
    let patch = json!({"revoked": true}).as_object().cloned().expect("an object");
    let edited = blocking_map(move || curation::edit(&pipeline, &id, &patch, &actor), edit_error).await?;
    Ok(Json(json!({"object": edited})).into_response())
}

/// What may be edited on an object, and why.
pub async fn object_origin(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let o = blocking_map(move || curation::origin(store.as_ref(), &id), edit_error).await?;
    Ok(Json(json!(o)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagRequest {
    /// The selection: ids, or a type and a condition.
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default, rename = "type")]
    object_type: Option<String>,
    #[serde(default, rename = "where")]
    condition: Option<Condition>,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// Bulk add/remove tags: `{"ids": [...]}` or `{"type": "indicator", "where": condition}`,
/// with `add` and/or `remove`.
pub async fn bulk_tags(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let req: TagRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a tag request: {e}")))?;
    let pipeline = state.pipeline.clone();
    let actor = format!("user:{}", caller.0.name);
    let out = blocking_or(StatusCode::BAD_REQUEST, move || {
        let ids = match (req.ids.is_empty(), &req.object_type, &req.condition) {
            (false, None, None) => req.ids,
            (true, Some(t), c) => {
                if t == "*" {
                    return Err("type: bulk tagging works on objects of one type; name it".into());
                }
                crate::search::select_ids(pipeline.store().as_ref(), t, c.clone().unwrap_or_else(Condition::always))?
            }
            _ => {
                return Err("select objects with either \"ids\" or \"type\" (and optionally \"where\"), not both".into())
            }
        };
        curation::bulk_tags(&pipeline, &ids, &req.add, &req.remove, &actor)
    })
    .await?;
    Ok(Json(json!(out)).into_response())
}

/// Existing tags with counts, for autocompletion: `?prefix=ap&limit=20`.
pub async fn list_tags(
    State(state): State<SharedState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let q = query_lists(query.as_deref());
    let prefix: String = single(&q, "prefix")?.unwrap_or_default();
    let limit: usize = single(&q, "limit")?.unwrap_or(50).clamp(1, 1000);
    let store = state.pipeline.store().clone();
    let tags = blocking(move || store.tag_counts(&prefix, limit)).await?;
    let tags: Vec<Value> = tags.into_iter().map(|(t, n)| json!({"tag": t, "count": n})).collect();
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// The audit log: `?object_id=…&actor=…&after=SEQ&limit=N`. Readers may read an object's
/// entries; the whole log (which names every user's actions) needs admin.
pub async fn audit(
    State(state): State<SharedState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = query_lists(query.as_deref());
    let object_id: Option<String> = single(&q, "object_id")?;
    caller.require(if object_id.is_some() { Role::Reader } else { Role::Admin })?;
    let query = AuditQuery {
        object_id,
        actor: single(&q, "actor")?,
        after: single(&q, "after")?,
        limit: single(&q, "limit")?.unwrap_or(100).clamp(1, 10_000),
    };
    let store = state.pipeline.store().clone();
    let entries = blocking(move || store.audit(&query)).await?;
    let next = entries.last().map(|e| e.seq);
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({"seq": e.seq, "at": super::format_micros(e.at), "actor": e.actor, "action": e.action,
                   "object_id": e.object_id, "detail": e.detail})
        })
        .collect();
    Ok(Json(json!({ "entries": entries, "next": next })).into_response())
}

fn create_error(e: create::CreateError) -> ApiError {
    match e {
        create::CreateError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m.join("; ")),
        create::CreateError::Store(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

/// Creates an SDO: the body is the object's properties (`type` and the rest), or
/// `{"object": {...}, "relationships": [{"type": "indicates", "target": id}]}`.
/// `?dry_run=true` checks the draft as creation would and stores nothing (200 with the
/// objects it would make, or 422 with every problem).
pub async fn create_object(
    State(state): State<SharedState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let dry_run = single::<bool>(&query_lists(query.as_deref()), "dry_run")?.unwrap_or(false);
    let (draft, relationships) = split_create_body(body)?;
    let pipeline = state.pipeline.clone();
    if dry_run {
        let checked = blocking_map(move || create::check(&pipeline, draft, &relationships), create_error).await?;
        return Ok(
            Json(json!({"dry_run": true, "objects": checked.objects, "warnings": checked.warnings})).into_response()
        );
    }
    let actor = format!("user:{}", caller.0.name);
    let created = blocking_map(move || create::create(&pipeline, draft, &relationships, &actor), create_error).await?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

fn split_create_body(body: Value) -> Result<(serde_json::Map<String, Value>, Vec<create::NewRelationship>), ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let Value::Object(mut m) = body else { return Err(bad("the body is a JSON object".into())) };
    if let Some(Value::Object(draft)) = m.get("object").cloned() {
        let rels = match m.remove("relationships") {
            Some(r) => serde_json::from_value(r).map_err(|e| bad(format!("relationships: {e}")))?,
            None => Vec::new(),
        };
        if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "object" | "relationships")) {
            return Err(bad(format!("unexpected '{k}' beside object and relationships")));
        }
        return Ok((draft, rels));
    }
    Ok((m, Vec::new()))
}

/// A draft pre-filled with an object's common metadata, for "duplicate".
pub async fn duplicate_template(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let lookup = id.clone();
    match blocking_or(StatusCode::INTERNAL_SERVER_ERROR, move || create::duplicate_template(store.as_ref(), &lookup))
        .await?
    {
        Some(t) => Ok(Json(json!({ "object": t })).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no object {id} (unknown or deleted)"))),
    }
}

/// Creates a new object from an existing one's common metadata plus the body's properties.
pub async fn duplicate(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let (overrides, relationships) = split_create_body(body)?;
    let pipeline = state.pipeline.clone();
    let actor = format!("user:{}", caller.0.name);
    let created = blocking_map(
        move || {
            let Some(mut draft) =
                create::duplicate_template(pipeline.store().as_ref(), &id).map_err(create::CreateError::Store)?
            else {
                return Err(create::CreateError::Invalid(vec![format!(
                    "no object {id} to duplicate (unknown or deleted)"
                )]));
            };
            draft.extend(overrides);
            create::create(&pipeline, draft, &relationships, &actor)
        },
        create_error,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuilderRequest {
    source_ref: String,
    targets: Vec<create::Target>,
    #[serde(default)]
    common: serde_json::Map<String, Value>,
}

/// The relationship builder: `{"source_ref": id, "targets": [{"target_ref", "relationship_type"}],
/// "common": {...}}`; answers the relationships made and warnings for unusual types.
pub async fn build_relationships(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let req: BuilderRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a relationship request: {e}")))?;
    let pipeline = state.pipeline.clone();
    let actor = format!("user:{}", caller.0.name);
    let created = blocking_map(
        move || create::build_relationships(&pipeline, &req.source_ref, &req.targets, &req.common, &actor),
        create_error,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

/// `?source_type=threat-actor&target_type=identity` → the spec's relationship types for
/// the pair, then the common ones.
pub async fn suggest_relationships(caller: Caller, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let q = query_lists(query.as_deref());
    let need = |k: &str| -> Result<String, ApiError> {
        single::<String>(&q, k)?.ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("{k}: required")))
    };
    let (s, t) = (need("source_type")?, need("target_type")?);
    Ok(Json(json!({ "source_type": s, "target_type": t, "suggested": create::suggest(&s, &t) })).into_response())
}

/// The neighbourhood of an object: `?depth=2&max_nodes=500`.
pub async fn graph(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let q = query_lists(query.as_deref());
    let depth: usize = single(&q, "depth")?.unwrap_or(1).min(5);
    let max_nodes: usize = single(&q, "max_nodes")?.unwrap_or(500).clamp(1, 5000);
    let store = state.pipeline.store().clone();
    let lookup = id.clone();
    match blocking_or(StatusCode::INTERNAL_SERVER_ERROR, move || {
        create::neighbourhood(store.as_ref(), &lookup, depth, max_nodes)
    })
    .await?
    {
        Some(g) => Ok(Json(json!(g)).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no object {id} (unknown or deleted)"))),
    }
}
