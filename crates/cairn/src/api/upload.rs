//! The Sentinel-compatible upload API.
//!
//! `POST /workspaces/{workspaceId}/threat-intelligence-stix-objects:upload` with
//! `{"sourcesystem": "...", "stixobjects": [...]}`, and the legacy
//! `…/threatintelligenceindicators:upload` with `indicators`. Responses follow Sentinel:
//! 200 with an empty body when every object was accepted, 200 with
//! `{"errors":[{"recordIndex":i,"errorMessages":[...]}]}` when some were not.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_store::{Source, SourceKind};
use serde_json::{json, Value};

use super::{blocking, ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::ingest::ObjectOutcome;

const STIX_UPLOAD: &str = "threat-intelligence-stix-objects:upload";
const LEGACY_UPLOAD: &str = "threatintelligenceindicators:upload";

pub async fn upload(
    State(state): State<SharedState>,
    Path((workspace, action)): Path<(String, String)>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let list_key = match action.as_str() {
        STIX_UPLOAD => "stixobjects",
        LEGACY_UPLOAD => "indicators",
        _ => return Err(ApiError::new(StatusCode::NOT_FOUND, format!("unknown action '{action}'"))),
    };
    if workspace != state.instance_id && workspace != "default" {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("workspace '{workspace}' not found; use this instance's id (cairn info) or 'default'"),
        ));
    }
    caller.require(Role::Contributor)?;
    if let Some(limit) = state.config.upload_rate_limit {
        if let Err(wait) = state.limiter.check(&caller.0.name, limit) {
            let body = json!({
                "statusCode": 429,
                "message": format!("Rate limit is exceeded. Try again in {wait} seconds."),
            });
            return Ok(
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, wait.to_string())], Json(body)).into_response()
            );
        }
    }
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let mut doc: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the request body is not valid JSON: {e}")))?;
    let Some(map) = doc.as_object_mut() else {
        return Err(bad(format!("the request body must be a JSON object with 'sourcesystem' and '{list_key}'")));
    };
    let source_name = match map.get("sourcesystem") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(bad("'sourcesystem' is required: a non-empty string naming where the objects come from".into()))
        }
    };
    let objects = match map.remove(list_key) {
        Some(Value::Array(a)) => a,
        _ => return Err(bad(format!("'{list_key}' is required: an array of STIX objects"))),
    };
    if objects.is_empty() {
        return Err(bad(format!("'{list_key}' is empty")));
    }
    if objects.len() > state.config.upload_max_objects {
        return Err(bad(format!(
            "{} objects in one request; the limit is {} (cairn serve --upload-max-objects)",
            objects.len(),
            state.config.upload_max_objects
        )));
    }
    // The legacy API takes indicators only; anything else is that record's error.
    let mut early: Vec<(usize, String)> = Vec::new();
    let mut to_ingest = Vec::with_capacity(objects.len());
    let mut positions = Vec::with_capacity(objects.len());
    for (i, o) in objects.into_iter().enumerate() {
        if list_key == "indicators" && o.get("type").and_then(Value::as_str) != Some("indicator") {
            early.push((i, "Error for Property=type: the legacy indicators API accepts only type 'indicator'.".into()));
        } else {
            positions.push(i);
            to_ingest.push(o);
        }
    }
    let source = Source::new(SourceKind::Upload, source_name);
    let pipeline = state.pipeline.clone();
    let outcomes = blocking(move || pipeline.ingest_values(&source, to_ingest)).await?;
    let mut errors: Vec<(usize, Vec<String>)> = early.into_iter().map(|(i, m)| (i, vec![m])).collect();
    let mut accepted = 0usize;
    for (i, o) in positions.into_iter().zip(outcomes) {
        match o {
            ObjectOutcome::Rejected { errors: e } => {
                errors.push((i, e.into_iter().map(|m| format!("Error for Property={m}")).collect()))
            }
            _ => accepted += 1,
        }
    }
    if errors.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    errors.sort_by_key(|(i, _)| *i);
    let body = json!({
        "errors": errors.into_iter()
            .map(|(i, m)| json!({ "recordIndex": i, "errorMessages": m }))
            .collect::<Vec<_>>()
    });
    // Sentinel answers 200 when at least one object was published; when none was, the
    // request as a whole failed.
    let status = if accepted > 0 { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok((status, Json(body)).into_response())
}
