//! `POST /api/v1/search`: the explorer's search builder over the current objects.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{format_micros, raw, ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::search::SearchRequest;

pub async fn search(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let req: SearchRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a search: {e}")))?;
    let (q, with_facets) = req.query().map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let store = state.pipeline.store().clone();
    let (page, facets) = tokio::task::spawn_blocking(move || -> cairn_store::Result<_> {
        let page = crate::search::run(store.as_ref(), &q)?;
        let facets = if with_facets { Some(store.facets(&q)?) } else { None };
        Ok((page, facets))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        cairn_store::StoreError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
        e => ApiError::internal(e),
    })?;
    let results: Vec<Value> = page
        .items
        .iter()
        .map(|v| {
            // The TLP levels, so clients need not know the marking-definition ids.
            let tlp: Vec<&str> = serde_json::from_str::<Value>(&v.raw)
                .map(|o| cairn_condition::tlp_levels(&o).collect())
                .unwrap_or_default();
            json!({"object": raw(&v.raw), "source": v.source, "date_added": format_micros(v.date_added), "tlp": tlp})
        })
        .collect();
    let facets = facets.map(|f| {
        let pairs =
            |v: &[(String, u64)]| -> Vec<Value> { v.iter().map(|(k, n)| json!({"value": k, "count": n})).collect() };
        json!({"total": f.total, "type": pairs(&f.types), "source": pairs(&f.sources), "tlp": pairs(&f.tlp),
               "tags": pairs(&f.tags), "confidence": pairs(&f.confidence)})
    });
    Ok(Json(json!({"results": results, "next": page.next, "index_lag": page.lag, "facets": facets})).into_response())
}
