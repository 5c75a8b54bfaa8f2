//! Admin API: collections and connectors, the same operations as the CLI.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{blocking, blocking_or, ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::connector::{self, ConnectorConfig};
use crate::taxii::{self, CollectionConfig};

pub async fn list_collections(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.pipeline.store().clone();
    let all = blocking(move || taxii::list_collections(store.as_ref())).await?;
    Ok(Json(json!({ "collections": all })).into_response())
}

/// Creates a collection from the same fields the CLI takes; `id` is optional.
pub async fn create_collection(
    State(state): State<SharedState>,
    caller: Caller,
    Json(mut body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    if body.get("id").is_none_or(Value::is_null) {
        body["id"] = json!(uuid::Uuid::new_v4().to_string());
    }
    let c: CollectionConfig = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a collection definition: {e}")))?;
    let store = state.pipeline.store().clone();
    let created = c.clone();
    blocking_or(StatusCode::BAD_REQUEST, move || taxii::create_collection(store.as_ref(), &c)).await?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

pub async fn list_connectors(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.pipeline.store().clone();
    let all = blocking(move || connector::list(store.as_ref())).await?;
    let out: Vec<Value> = all.iter().map(|(c, s)| connector::describe(c, s)).collect();
    Ok(Json(json!({ "connectors": out })).into_response())
}

pub async fn add_connector(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let c: ConnectorConfig = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a connector definition: {e}")))?;
    let store = state.pipeline.store().clone();
    let name = c.name.clone();
    blocking_or(StatusCode::BAD_REQUEST, move || connector::add(store.as_ref(), &c)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": name }))).into_response())
}

/// Polls a connector now and answers with the counts (or the server's error, 502).
pub async fn run_connector(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let pipeline = state.pipeline.clone();
    let r = tokio::task::spawn_blocking(move || connector::run(&pipeline, &name, None))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match r {
        Ok(counts) => Ok(Json(json!(counts)).into_response()),
        Err(e) if e.starts_with("no connector named") => Err(ApiError::new(StatusCode::NOT_FOUND, e)),
        Err(e) => Err(ApiError::new(StatusCode::BAD_GATEWAY, e)),
    }
}

pub async fn list_targets(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.pipeline.store().clone();
    let all = blocking(move || crate::export::targets(store.as_ref())).await?;
    let out: Vec<Value> = all
        .iter()
        .map(|t| {
            json!({ "name": t.name, "api_root": t.api_root, "collection": t.collection,
                    "auth": t.auth.kind(), "schedule": t.schedule })
        })
        .collect();
    Ok(Json(json!({ "targets": out })).into_response())
}

pub async fn add_target(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let t: crate::export::ExportTarget = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not an export target: {e}")))?;
    let store = state.pipeline.store().clone();
    let name = t.name.clone();
    blocking_or(StatusCode::BAD_REQUEST, move || crate::export::add_target(store.as_ref(), &t)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": name }))).into_response())
}

/// `{"target": NAME, "ids": [...]}` or with filters (`types`, `sources`, `tags`, `tlp`,
/// `min_confidence`): runs the export and answers its record.
pub async fn run_export(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let strings = |k: &str| -> Vec<String> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let Some(target) = body.get("target").and_then(Value::as_str).map(str::to_string) else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "'target' (an export target's name) is required"));
    };
    let filter = cairn_store::Filter {
        ids: strings("ids"),
        types: strings("types"),
        sources: strings("sources"),
        tags: strings("tags"),
        tlp_marking: body.get("tlp").and_then(Value::as_str).and_then(taxii::tlp_marking).map(str::to_string),
        min_confidence: body.get("min_confidence").and_then(Value::as_i64),
        ..cairn_store::Filter::default()
    };
    let store = state.pipeline.store().clone();
    let record =
        blocking_or(StatusCode::NOT_FOUND, move || crate::export::export_to(store.as_ref(), &target, &filter)).await?;
    Ok(Json(json!(record)).into_response())
}

pub async fn list_exports(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let all = blocking(move || crate::export::records(store.as_ref())).await?;
    // The summary of each export; per-object outcomes are in the object's history.
    let out: Vec<Value> = all
        .iter()
        .map(|r| {
            json!({ "id": r.id, "target": r.target, "started": r.started, "finished": r.finished, "status": r.status,
                    "error": r.error, "sent": r.sent, "succeeded": r.succeeded, "failed": r.failed })
        })
        .collect();
    Ok(Json(json!({ "exports": out })).into_response())
}

pub async fn object_exports(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let h = blocking(move || crate::export::history(store.as_ref(), &id)).await?;
    Ok(Json(json!({ "exports": h })).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    role: String,
    password: String,
}

pub async fn list_users(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.pipeline.store().clone();
    let users = blocking(move || store.users()).await?;
    let out: Vec<Value> = users.iter().map(|u| json!({"name": u.name, "role": u.role})).collect();
    Ok(Json(json!({ "users": out })).into_response())
}

pub async fn add_user(
    State(state): State<SharedState>,
    caller: Caller,
    Json(u): Json<NewUser>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let role: Role = u.role.parse().map_err(|e: String| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let store = state.pipeline.store().clone();
    let name = u.name.clone();
    blocking_or(StatusCode::BAD_REQUEST, move || crate::auth::add_user(store.as_ref(), &u.name, role, &u.password))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": name, "role": role.as_str() }))).into_response())
}

pub async fn delete_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    if name == caller.0.name {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "you cannot delete yourself: ask another admin"));
    }
    let store = state.pipeline.store().clone();
    let n = name.clone();
    if blocking(move || store.delete_user(&n)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no user named {name}")))
    }
}

fn token_id(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn list_tokens(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.pipeline.store().clone();
    let tokens = blocking(move || store.tokens()).await?;
    let out: Vec<Value> = tokens
        .iter()
        .map(|t| json!({"id": token_id(&t.hash), "name": t.name, "role": t.role, "created": super::format_micros(t.created)}))
        .collect();
    Ok(Json(json!({ "tokens": out })).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    role: String,
}

pub async fn create_token(
    State(state): State<SharedState>,
    caller: Caller,
    Json(t): Json<NewToken>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let role: Role = t.role.parse().map_err(|e: String| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    if t.name.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "name: say who or what the token is for"));
    }
    let store = state.pipeline.store().clone();
    let name = t.name.clone();
    let token = blocking_or(StatusCode::INTERNAL_SERVER_ERROR, move || {
        crate::auth::create_token(store.as_ref(), &t.name, role)
    })
    .await?;
    let id = token_id(&crate::auth::token_hash(&token));
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "name": name, "role": role.as_str(), "token": token })))
        .into_response())
}

pub async fn delete_token(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let bad = || ApiError::new(StatusCode::BAD_REQUEST, "a token id is 64 hex digits, as the token list gives it");
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut hash = [0u8; 32];
    for (i, h) in hash.iter_mut().enumerate() {
        *h = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    let store = state.pipeline.store().clone();
    if blocking(move || store.delete_token(&hash)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no token {id}")))
    }
}

pub async fn instance(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let stats = blocking(move || store.stats()).await?;
    Ok(Json(json!({
        "instance_id": state.instance_id,
        "version": env!("CARGO_PKG_VERSION"),
        "upload_api": format!("/workspaces/{}/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview", state.instance_id),
        "taxii_discovery": "/taxii2/",
        "stats": stats,
    }))
    .into_response())
}

/// Tries a connector definition against its server without saving it.
pub async fn test_connector(caller: Caller, Json(body): Json<Value>) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let c: ConnectorConfig = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a connector definition: {e}")))?;
    let r = tokio::task::spawn_blocking(move || connector::test_connection(&c)).await.map_err(ApiError::internal)?;
    match r {
        Ok(v) => Ok(Json(v).into_response()),
        Err(e) => Ok(Json(json!({"ok": false, "error": e})).into_response()),
    }
}

pub async fn pause_connector(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_paused(state, caller, name, true).await
}

pub async fn resume_connector(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_paused(state, caller, name, false).await
}

async fn set_paused(state: SharedState, caller: Caller, name: String, paused: bool) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.pipeline.store().clone();
    let n = name.clone();
    blocking_or(StatusCode::NOT_FOUND, move || connector::set_paused(store.as_ref(), &n, paused)).await?;
    Ok(Json(json!({ "name": name, "paused": paused })).into_response())
}
