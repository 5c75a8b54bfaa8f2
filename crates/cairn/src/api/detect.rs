//! `POST /api/v1/match`: events in, matches out (and sightings recorded).
//!
//! ```json
//! {"events": [{...}, ...], "mapping": "ecs", "sightings": true}
//! ```
//! `mapping` is a built-in name (`ecs`, `cef`, `dns`, `syslog`, `asim`) or an inline
//! mapping object (the shape of a mapping file); files on the server are not read.
//! The answer is `{"matches": [...], "events": n, "sightings": written, "errors":
//! [{"index": i, "error": "..."}]}`, each match in `cairn match`'s shape.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, value::RawValue, Value};

use super::{ApiError, Caller, SharedState};
use crate::auth::Role;
use crate::detect::{Mapping, MappingFile, Sightings, BUILT_IN};

/// Most events in one request.
pub const MAX_EVENTS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    events: Vec<Box<RawValue>>,
    #[serde(default)]
    mapping: Option<MappingSpec>,
    #[serde(default = "yes")]
    sightings: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MappingSpec {
    Name(String),
    Inline(MappingFile),
}

pub async fn match_events(
    State(state): State<SharedState>,
    caller: Caller,
    body: Result<Json<MatchRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) =
        body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("match request: {}", e.body_text())))?;
    if req.sightings {
        caller.require(Role::Contributor)?;
    } else {
        caller.require(Role::Reader)?;
    }
    if req.events.len() > MAX_EVENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} events in one request; the most is {MAX_EVENTS}: split them", req.events.len()),
        ));
    }
    let mapping = match req.mapping {
        None => Mapping::load("ecs"),
        Some(MappingSpec::Name(n)) if BUILT_IN.contains(&n.as_str()) => Mapping::load(&n),
        Some(MappingSpec::Name(n)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown mapping '{n}': use one of {} or an inline mapping object", BUILT_IN.join(", ")),
            ))
        }
        Some(MappingSpec::Inline(file)) => Mapping::compile("inline", file),
    }
    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let pipeline = state.pipeline.clone();
    let shared = state.detector.clone();
    let who = caller.0.name.clone();
    let record = req.sightings;
    let events = req.events;
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<Value> {
        let store = pipeline.store().clone();
        // Up to date with the store at the time of the request: what was just ingested
        // matches.
        crate::detect::watch::catch_up(store.as_ref(), &shared)?;
        let guard = shared.read().expect("detector lock");
        let detector = guard.as_ref().expect("loaded above");
        let now = cairn_store::now_micros();
        let mut matches = Vec::new();
        let mut errors = Vec::new();
        let mut sightings = Sightings::new();
        // The request's events are one stream: patterns of several observations match
        // across them.
        let mut correlator = crate::detect::Correlator::new();
        for (i, ev) in events.iter().enumerate() {
            match detector.match_line_correlated(&mapping, ev.get(), now, &mut correlator, i as u32) {
                Ok(found) => {
                    for m in found {
                        sightings.record(&m);
                        matches.push(m.to_json(ev));
                    }
                }
                Err(e) => errors.push(json!({ "index": i, "error": format!("not an event: {e}") })),
            }
        }
        drop(guard);
        let mut written = 0;
        if record {
            let source = cairn_store::Source::new(cairn_store::SourceKind::Detection, format!("api:{who}"));
            let flushed = sightings.flush(&pipeline, &source)?;
            for r in flushed.rejected {
                tracing::error!("a sighting was rejected: {r}");
            }
            written = flushed.written;
        }
        Ok(json!({ "matches": matches, "events": events.len(), "sightings": written, "errors": errors }))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(Json(result))
}

/// `GET /api/v1/match/status`: the indicator index's health — whether it is loaded,
/// how many indicators can match, how many were left out and why, and how far into the
/// store's history it has read. Any authenticated user.
pub async fn status(State(state): State<SharedState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Reader)?;
    let guard = state.detector.read().expect("detector lock");
    Ok(Json(match guard.as_ref() {
        None => json!({ "loaded": false }),
        Some(d) => json!({
            "loaded": true,
            "indicators": d.len(),
            "skipped_pattern_type": d.skipped_type,
            "skipped_unusable": d.skipped_unusable,
            "store_seq": d.cursor(),
            "mappings": BUILT_IN,
        }),
    }))
}

/// The server's detector, empty until loaded (by the first request or the follower).
pub fn new_shared() -> crate::detect::watch::SharedDetector {
    Arc::new(std::sync::RwLock::new(None))
}
