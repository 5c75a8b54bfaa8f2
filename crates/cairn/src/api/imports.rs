//! File imports over HTTP: `POST /api/v1/imports?source=…&format=csv|json&policy=…&name=…`
//! with the file as the body, the import history, and each import's error file.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{blocking_map, query_lists, single, ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::imports::{self, Format, ImportRequest};

pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let q = query_lists(query.as_deref());
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let source: String = single(&q, "source")?
        .ok_or_else(|| bad("source: name the source of this file (?source=…); it is stamped on every object".into()))?;
    let file_name: String = single(&q, "name")?.unwrap_or_else(|| "upload".into());
    let format = match single::<String>(&q, "format")? {
        Some(f) => Format::parse(&f).map_err(bad)?,
        None => Format::of_file(&file_name),
    };
    let all_or_nothing = match single::<String>(&q, "policy")?.as_deref() {
        None | Some("valid-only") => false,
        Some("all-or-nothing") => true,
        Some(p) => return Err(bad(format!("policy: '{p}' is neither valid-only nor all-or-nothing"))),
    };
    let max = match format {
        Format::Csv => state.config.import_max_csv_bytes,
        Format::Json => state.config.import_max_json_bytes,
    };
    if body.len() as u64 > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the file is {} bytes; {format:?} imports take at most {max} bytes (server setting)", body.len()),
        ));
    }
    let pipeline = state.pipeline.clone();
    let req = ImportRequest { source, file_name, format, all_or_nothing, by: format!("user:{}", caller.0.name) };
    let record = blocking_map(move || imports::run(&pipeline, req, std::io::Cursor::new(body)), bad).await?;
    let mut out = json!(record.summary());
    out["errors"] = json!(record.errors.iter().take(100).collect::<Vec<_>>());
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

pub async fn list(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let all =
        blocking_map(move || imports::list(store.as_ref()), |e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))
            .await?;
    Ok(Json(json!({ "imports": all })).into_response())
}

async fn load(state: &SharedState, id: String) -> Result<imports::ImportRecord, ApiError> {
    let store = state.pipeline.store().clone();
    let lookup = id.clone();
    blocking_map(move || imports::get(store.as_ref(), &lookup), |e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no import {id}")))
}

/// One import with (up to 100 of) its errors.
pub async fn get(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let r = load(&state, id).await?;
    let mut out = json!(r.summary());
    out["errors"] = json!(r.errors.iter().take(100).collect::<Vec<_>>());
    Ok(Json(out).into_response())
}

/// The error file: one JSON line per entry not imported (`at`: the CSV line, or the
/// JSON object's position), as a download.
pub async fn errors(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let r = load(&state, id).await?;
    let mut body = String::new();
    for e in &r.errors {
        body.push_str(&serde_json::to_string(e).expect("errors serialise"));
        body.push('\n');
    }
    let name = format!("attachment; filename=\"{}-errors.jsonl\"", r.id);
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson".to_string()), (header::CONTENT_DISPOSITION, name)], body)
        .into_response())
}
