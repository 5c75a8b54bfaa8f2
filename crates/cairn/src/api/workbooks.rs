//! `/api/v1/workbooks` (saved tiles drawn as SVG) and `/api/v1/tables` (event tables
//! over files).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::hunting::FileTable;
use crate::workbooks::{ParamValues, TimeRange, Workbook, Workbooks};

fn workbooks(state: &SharedState) -> Workbooks {
    Workbooks::new(state.hunting.clone())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)
}

pub async fn list(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let w = workbooks(&state);
    let all = blocking(move || w.list()).await?.map_err(ApiError::internal)?;
    Ok(Json(json!({ "workbooks": all })).into_response())
}

/// Imports a workbook (its JSON, as exported); 409 when the id is taken.
pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(wb): Json<Workbook>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let w = workbooks(&state);
    let saved = wb.clone();
    let stored = blocking(move || -> Result<bool, String> {
        if w.list()?.iter().any(|x| x.id == wb.id) && w.get(&wb.id)? != Some(Workbooks::default_workbook()) {
            return Ok(false);
        }
        w.save(&wb).map(|_| true)
    })
    .await?
    .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    if !stored {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("a workbook with id '{}' exists: PUT /api/v1/workbooks/{} replaces it", saved.id, saved.id),
        ));
    }
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

pub async fn get(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let w = workbooks(&state);
    let i = id.clone();
    match blocking(move || w.get(&i)).await?.map_err(ApiError::internal)? {
        Some(wb) => Ok(Json(wb).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no workbook {id}"))),
    }
}

/// Saves (creates or replaces) a workbook; the id in the body, if given, must be the path's.
pub async fn put(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(mut body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    match body.get("id").and_then(|v| v.as_str()) {
        Some(b) if b != id => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("the body's id '{b}' is not the path's '{id}'")))
        }
        _ => body["id"] = json!(id),
    }
    let wb: Workbook = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a workbook: {e}")))?;
    let w = workbooks(&state);
    let saved = wb.clone();
    blocking(move || w.save(&wb)).await?.map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    Ok(Json(saved).into_response())
}

pub async fn delete(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let w = workbooks(&state);
    let i = id.clone();
    if blocking(move || w.delete(&i)).await?.map_err(ApiError::internal)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no stored workbook {id}")))
    }
}

/// `?time_range=7d&Indicator=…`: the time range (`7d`, `24h`… or `START..END`; default:
/// the workbook's) and the workbook's text parameters by name.
#[derive(Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    pub time_range: Option<String>,
    #[serde(flatten)]
    pub params: ParamValues,
}

/// Runs every tile over the time range: results, SVG charts, and per-tile errors.
pub async fn render(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let w = workbooks(&state);
    let out = blocking(move || -> Result<Option<serde_json::Value>, String> {
        let Some(wb) = w.get(&id)? else { return Ok(None) };
        let now = cairn_store::now_micros();
        let range = TimeRange::parse(q.time_range.as_deref().unwrap_or(&wb.time_range.default), now)?;
        let params = wb.parameter_values(&q.params)?;
        let tiles = w.render(&wb, &range, &params, now);
        Ok(Some(json!({
            "workbook": wb,
            "time_range": {
                "start": cairn_kql::format_datetime(range.start),
                "end": cairn_kql::format_datetime(range.end),
                "grain": range.grain(),
            },
            "parameters": params,
            "tiles": tiles,
        })))
    })
    .await?
    .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    match out {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no such workbook")),
    }
}

/// One tile's chart as `image/svg+xml` (tiles count from 1).
pub async fn tile_svg(
    State(state): State<SharedState>,
    caller: Caller,
    Path((id, n)): Path<(String, usize)>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let w = workbooks(&state);
    let out = blocking(move || -> Result<Result<String, ApiError>, String> {
        let Some(wb) = w.get(&id)? else {
            return Ok(Err(ApiError::new(StatusCode::NOT_FOUND, format!("no workbook {id}"))));
        };
        let Some(tile) = n.checked_sub(1).and_then(|i| wb.tiles.get(i)) else {
            return Ok(Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("workbook {id} has tiles 1 to {}", wb.tiles.len()),
            )));
        };
        let now = cairn_store::now_micros();
        let range = TimeRange::parse(q.time_range.as_deref().unwrap_or(&wb.time_range.default), now)?;
        let params = wb.parameter_values(&q.params)?;
        let t = w.render_tile(tile, &range, &params, now);
        Ok(match (t.svg, t.error) {
            (Some(svg), _) => Ok(svg),
            (None, e) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.unwrap_or_default())),
        })
    })
    .await?
    .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))??;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], out).into_response())
}

pub async fn list_tables(State(state): State<SharedState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let h = state.hunting.clone();
    let ts = blocking(move || h.tables()).await?.map_err(ApiError::internal)?;
    Ok(Json(json!({ "tables": ts })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableBody {
    /// A file, a directory, or a `*` pattern, on the server.
    pub path: String,
    /// jsonl, csv or parquet (default: from the extension).
    #[serde(default)]
    pub format: Option<String>,
}

/// Registers an event table over files on the server (admin: it reads server paths).
/// The files are read once now, so a wrong path or format answers 400.
pub async fn put_table(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(b): Json<TableBody>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    use cairn_kql::files::FileFormat;
    let format = match &b.format {
        Some(f) => FileFormat::parse(f)
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("format {f}: use jsonl, csv or parquet")))?,
        None => FileFormat::guess(&b.path).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("{}: say the format (jsonl, csv or parquet)", b.path))
        })?,
    };
    let t = FileTable { name, path: b.path, format };
    let h = state.hunting.clone();
    let saved = t.clone();
    blocking(move || h.save_table(&t)).await?.map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    Ok(Json(saved).into_response())
}

pub async fn delete_table(
    State(state): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let h = state.hunting.clone();
    let n = name.clone();
    if blocking(move || h.delete_table(&n)).await?.map_err(ApiError::internal)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no table {name}")))
    }
}
