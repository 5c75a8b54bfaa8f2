//! `POST /api/v1/query` (KQL) and `/api/v1/functions` (saved KQL functions).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::hunting::SavedFunction;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub query: String,
    /// Rows returned at most (the server's limit caps it).
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Also draw the result as SVG (`"svg"` in the answer) when the query has `render`
    /// (or as `visualization` says).
    #[serde(default)]
    pub chart: bool,
    /// bar, column, pie, timechart… (see workbooks); overrides the query's `render`.
    #[serde(default)]
    pub visualization: Option<cairn_chart::Visualization>,
}

/// Runs a KQL query: `{"columns": [...], "rows": [...], "render": {...}|null}`; a query
/// that cannot run answers 400 with the message, its line and column, and the query line
/// marked.
pub async fn query(
    State(state): State<SharedState>,
    caller: Caller,
    Json(req): Json<QueryRequest>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let hunting = state.hunting.clone();
    let (chart, viz) = (req.chart || req.visualization.is_some(), req.visualization);
    let out = tokio::task::spawn_blocking(move || {
        let text = req.query;
        let r = match req.max_rows {
            Some(n) if n < hunting.limits.max_rows => {
                let h = crate::hunting::Hunting::new(hunting.store())
                    .map(|h| h.with_limits(n, hunting.limits.timeout))
                    .map_err(|m| cairn_kql::KqlError::at(Default::default(), m));
                h.and_then(|h| h.query(&text, cairn_store::now_micros()))
            }
            _ => hunting.query(&text, cairn_store::now_micros()),
        };
        (text, r)
    })
    .await
    .map_err(ApiError::internal)?;
    match out {
        (_, Ok(r)) if chart => {
            let mut body = serde_json::to_value(&r).map_err(ApiError::internal)?;
            match viz.or_else(|| crate::workbooks::visualization_of(&r)) {
                Some(v) => match crate::workbooks::chart(&r, v, "") {
                    Ok(svg) => body["svg"] = json!(svg),
                    Err(e) => body["chart_error"] = json!(e),
                },
                None => body["chart_error"] = json!("the query has no render operator and no visualization was given"),
            }
            Ok(Json(body).into_response())
        }
        (_, Ok(r)) => Ok(Json(r).into_response()),
        (text, Err(e)) => {
            let (line, column) = e.line_col(&text);
            let body = json!({"error": e.message, "line": line, "column": column, "position": e.span.start, "detail": e.render(&text)});
            Ok((StatusCode::BAD_REQUEST, Json(body)).into_response())
        }
    }
}

pub async fn list_functions(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let h = state.hunting.clone();
    let fs = tokio::task::spawn_blocking(move || h.functions())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "functions": fs })).into_response())
}

pub async fn get_function(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let h = state.hunting.clone();
    let n = name.clone();
    match tokio::task::spawn_blocking(move || h.function(&n))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
    {
        Some(f) => Ok(Json(f).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no function {name}"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionBody {
    pub body: String,
    #[serde(default)]
    pub description: String,
}

/// Saves (creates or replaces) a function; 400 with the parse error when it does not parse.
pub async fn put_function(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(b): Json<FunctionBody>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let h = state.hunting.clone();
    let f = SavedFunction { name, body: b.body, description: b.description };
    let saved = f.clone();
    tokio::task::spawn_blocking(move || h.save_function(&f))
        .await
        .map_err(ApiError::internal)?
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    Ok(Json(saved).into_response())
}

pub async fn delete_function(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let h = state.hunting.clone();
    let n = name.clone();
    if tokio::task::spawn_blocking(move || h.delete_function(&n))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no function {name}")))
    }
}
