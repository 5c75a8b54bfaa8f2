//! The HTTP API: thin axum handlers over the pipeline and the store.
//!
//! Handlers parse, authorise and format; every decision about intelligence is made in
//! [`crate::ingest`] or the store. Store calls block (SQLite), so they run on tokio's
//! blocking pool.

mod admin;
mod curation;
pub mod detect;
mod hunting;
mod workbooks;
use hunting::{delete_function, get_function, put_function};
mod imports;
mod openapi;
mod search;
mod upload;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use cairn_store::{Filter, StoredVersion};
use serde_json::{json, value::RawValue, Value};

use crate::auth::{AuthError, Authenticator, Principal, Role};
use crate::ingest::Pipeline;

/// Server settings that change API behaviour.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Upload requests per minute per user; `None` is unlimited.
    pub upload_rate_limit: Option<u32>,
    /// Most objects accepted in one upload request.
    pub upload_max_objects: usize,
    /// A header that carries an API token, besides `Authorization`.
    pub api_key_header: Option<axum::http::HeaderName>,
    /// The TAXII API root's max_content_length, in bytes.
    pub taxii_max_content_length: u64,
    /// Largest CSV file import (Sentinel: 50 MB).
    pub import_max_csv_bytes: u64,
    /// Largest STIX JSON file import (Sentinel: 250 MB).
    pub import_max_json_bytes: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            upload_rate_limit: None,
            upload_max_objects: 10_000,
            api_key_header: None,
            taxii_max_content_length: 100 * 1024 * 1024,
            import_max_csv_bytes: 50 * 1000 * 1000,
            import_max_json_bytes: 250 * 1000 * 1000,
        }
    }
}

pub struct AppState {
    pub pipeline: Pipeline,
    pub auth: Authenticator,
    pub config: ApiConfig,
    pub instance_id: String,
    /// The indicator index for `/api/v1/match` and the directory watcher.
    pub detector: crate::detect::watch::SharedDetector,
    /// GeoIP enrichment, when databases are configured (`--geoip-db`).
    pub enricher: Option<Arc<crate::enrichment::Enricher>>,
    /// KQL over the threat-intelligence tables.
    pub hunting: Arc<crate::hunting::Hunting>,
    limiter: RateLimiter,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(pipeline: Pipeline, config: ApiConfig) -> cairn_store::Result<AppState> {
        let instance_id = pipeline.store().instance_id()?;
        let hunting =
            Arc::new(crate::hunting::Hunting::new(pipeline.store().clone()).map_err(cairn_store::StoreError::Invalid)?);
        Ok(AppState {
            auth: Authenticator::new(pipeline.store().clone()),
            pipeline,
            config,
            instance_id,
            detector: detect::new_shared(),
            enricher: None,
            hunting,
            limiter: RateLimiter::default(),
        })
    }
}

pub fn router(state: SharedState) -> Router {
    let taxii = crate::taxii::TaxiiBackend {
        pipeline: state.pipeline.clone(),
        auth: state.auth.clone(),
        api_key_header: state.config.api_key_header.clone(),
        max_content_length: state.config.taxii_max_content_length,
        title: "Cairn".into(),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi::openapi))
        .route("/api/v1/objects", get(list_objects).post(curation::create_object))
        .route("/api/v1/objects/{id}", get(get_object).delete(delete_object).patch(curation::patch_object))
        .route("/api/v1/objects/{id}/versions", get(object_versions))
        .route("/api/v1/objects/{id}/revoke", post(curation::revoke_object))
        .route("/api/v1/objects/{id}/editable", get(curation::object_origin))
        .route("/api/v1/objects/{id}/duplicate", get(curation::duplicate_template).post(curation::duplicate))
        .route("/api/v1/objects/{id}/graph", get(curation::graph))
        .route("/api/v1/objects/{id}/enrich", post(enrich_object))
        .route("/api/v1/relationships", post(curation::build_relationships))
        .route("/api/v1/relationships/suggest", get(curation::suggest_relationships))
        .route("/api/v1/rules", get(curation::list_rules).post(curation::add_rule))
        .route("/api/v1/rules/dry-run", post(curation::dry_run_new))
        .route("/api/v1/rules/versions/{version}", get(curation::rule_set_version))
        .route("/api/v1/rules/{id}", get(curation::get_rule).put(curation::put_rule).delete(curation::delete_rule))
        .route("/api/v1/rules/{id}/dry-run", post(curation::dry_run_saved))
        .route("/api/v1/rules/{id}/apply", post(curation::apply_rule))
        .route("/api/v1/tags", get(curation::list_tags).post(curation::bulk_tags))
        .route("/api/v1/audit", get(curation::audit))
        .route("/api/v1/search", post(search::search))
        .route("/api/v1/query", post(hunting::query))
        .route("/api/v1/functions", get(hunting::list_functions))
        .route("/api/v1/functions/{name}", get(get_function).put(put_function).delete(delete_function))
        .route("/api/v1/tables", get(workbooks::list_tables))
        .route("/api/v1/tables/{name}", put(workbooks::put_table).delete(workbooks::delete_table))
        .route("/api/v1/workbooks", get(workbooks::list).post(workbooks::create))
        .route("/api/v1/workbooks/{id}", get(workbooks::get).put(workbooks::put).delete(workbooks::delete))
        .route("/api/v1/workbooks/{id}/render", get(workbooks::render))
        .route("/api/v1/workbooks/{id}/tiles/{n}/svg", get(workbooks::tile_svg))
        .route("/api/v1/imports", get(imports::list).post(imports::create))
        .route("/api/v1/imports/{id}", get(imports::get))
        .route("/api/v1/imports/{id}/errors", get(imports::errors))
        .route("/workspaces/{workspace}/{action}", post(upload::upload))
        .route("/api/v1/collections", get(admin::list_collections).post(admin::create_collection))
        .route("/api/v1/users", get(admin::list_users).post(admin::add_user))
        .route("/api/v1/users/{name}", delete(admin::delete_user))
        .route("/api/v1/tokens", get(admin::list_tokens).post(admin::create_token))
        .route("/api/v1/tokens/{id}", delete(admin::delete_token))
        .route("/api/v1/instance", get(admin::instance))
        .route("/api/v1/connectors", get(admin::list_connectors).post(admin::add_connector))
        .route("/api/v1/connectors/{name}/run", post(admin::run_connector))
        .route("/api/v1/connectors/test", post(admin::test_connector))
        .route("/api/v1/connectors/{name}/pause", post(admin::pause_connector))
        .route("/api/v1/connectors/{name}/resume", post(admin::resume_connector))
        .route("/api/v1/export-targets", get(admin::list_targets).post(admin::add_target))
        .route("/api/v1/exports", get(admin::list_exports).post(admin::run_export))
        .route("/api/v1/objects/{id}/exports", get(admin::object_exports))
        .route("/api/v1/match", post(detect::match_events))
        .route("/api/v1/match/status", get(detect::status))
        .merge(crate::web::routes())
        .layer(axum::extract::DefaultBodyLimit::max(512 * 1024 * 1024))
        .with_state(state)
        .merge(cairn_taxii::router(taxii))
}

/// An error response: `{"error": "..."}` with a status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
    fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cairn\", Bearer realm=\"cairn\""),
            );
        }
        r
    }
}

/// The authenticated caller; rejects the request with 401 when there is none.
pub struct Caller(pub Principal);

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("user '{}' has role {}; this needs {}", self.0.name, self.0.role.as_str(), role.as_str()),
            ))
        }
    }
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Caller, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let auth = state.auth.clone();
        // The web UI's pages call the API with their session cookie; such a request must
        // also carry the session's CSRF token, unless it only reads.
        if header.is_none() {
            if let Some(token) = crate::web::session_cookie(&parts.headers) {
                let (principal, csrf) = tokio::task::spawn_blocking(move || auth.by_session(&token))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(|e| match e {
                        AuthError::Invalid(why) => ApiError::new(StatusCode::UNAUTHORIZED, why),
                        AuthError::Missing => ApiError::new(StatusCode::UNAUTHORIZED, "log in again"),
                    })?;
                let safe = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
                let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
                if !safe && !crate::auth::same_secret(sent, &csrf) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "missing or wrong X-CSRF-Token: a request made with the session cookie must echo the page's CSRF token",
                    ));
                }
                return Ok(Caller(principal));
            }
        }
        let result = tokio::task::spawn_blocking(move || auth.authenticate(header.as_deref()))
            .await
            .map_err(ApiError::internal)?;
        match result {
            Ok(p) => Ok(Caller(p)),
            Err(AuthError::Missing) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication required: send Authorization: Bearer <token> or HTTP Basic credentials",
            )),
            Err(AuthError::Invalid(why)) => Err(ApiError::new(StatusCode::UNAUTHORIZED, why)),
        }
    }
}

/// Runs blocking work off the async runtime; its error becomes the response `map` makes.
async fn blocking_map<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
    map: impl FnOnce(E) -> ApiError,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?.map_err(map)
}

/// Runs blocking work whose error is the caller's to fix (answered with `status`).
async fn blocking_or<T: Send + 'static>(
    status: StatusCode,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    blocking_map(f, |e| ApiError::new(status, e)).await
}

/// Runs blocking store work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> cairn_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?.map_err(ApiError::internal)
}

async fn healthz(State(state): State<SharedState>) -> Result<Json<Value>, ApiError> {
    let stats = blocking({
        let s = state.pipeline.store().clone();
        move || s.stats()
    })
    .await?;
    Ok(Json(json!({ "status": "ok", "instance_id": state.instance_id, "objects": stats.objects })))
}

pub fn format_micros(micros: i64) -> String {
    cairn_stix::Timestamp::from_unix_micros(micros).to_string()
}

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_string()).expect("stored objects are valid JSON")
}

fn version_of(v: &StoredVersion) -> Option<String> {
    v.version_key.as_deref().and_then(|k| cairn_stix::Timestamp::parse(k).ok()).map(|t| {
        // Print with as many digits as the instant needs, at least milliseconds.
        let digits = if t.nanos % 1_000_000 == 0 {
            3
        } else if t.nanos % 1000 == 0 {
            6
        } else {
            9
        };
        t.format_digits(digits)
    })
}

/// Query parameters that may repeat or carry comma-separated lists.
fn query_lists(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let values = out.entry(k.into_owned()).or_default();
        values.extend(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
    }
    out
}

fn single<T: std::str::FromStr>(q: &HashMap<String, Vec<String>>, name: &str) -> Result<Option<T>, ApiError> {
    match q.get(name).and_then(|v| v.first()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("query parameter '{name}': '{s}' is not valid"))
        }),
    }
}

async fn list_objects(
    State(state): State<SharedState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let q = query_lists(query.as_deref());
    let limit: usize = single(&q, "limit")?.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "limit must be between 1 and 10000"));
    }
    let after: Option<i64> = single(&q, "after")?;
    let filter = Filter {
        types: q.get("type").cloned().unwrap_or_default(),
        sources: q.get("source").cloned().unwrap_or_default(),
        ids: q.get("id").cloned().unwrap_or_default(),
        ..Filter::default()
    };
    let store = state.pipeline.store().clone();
    let page = blocking(move || store.list(&filter, after, limit)).await?;
    let objects: Vec<Box<RawValue>> = page.items.iter().map(|v| raw(&v.raw)).collect();
    Ok(Json(json!({
        "objects": objects,
        "more": page.next.is_some(),
        "next": page.next.map(|n| n.to_string()),
    }))
    .into_response())
}

async fn get_object(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let lookup = id.clone();
    let (current, sources, set, enrichment) = blocking(move || {
        let current = store.current(&lookup)?;
        let enrichment =
            crate::enrichment::stored(store.as_ref(), &lookup).map_err(cairn_store::StoreError::Invalid)?;
        // The rule set that processed this version, for the names of the rules that changed it.
        let set = match current.as_ref().and_then(|c| c.ruleset) {
            Some(n) => {
                crate::ingestion_rules::load_version(store.as_ref(), n).map_err(cairn_store::StoreError::Invalid)?
            }
            None => None,
        };
        Ok((current, store.sources_of(&lookup)?, set, enrichment))
    })
    .await?;
    let Some(v) = current else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no object {id} (unknown or deleted)")));
    };
    let sources: Vec<Value> = sources
        .iter()
        .map(|s| {
            json!({ "name": s.source, "kind": s.kind,
                    "first_seen": format_micros(s.first_seen), "last_seen": format_micros(s.last_seen) })
        })
        .collect();
    Ok(Json(json!({
        "object": raw(&v.raw),
        "version": version_of(&v),
        "spec_version": v.spec_version,
        "date_added": format_micros(v.date_added),
        "source": v.source,
        "sources": sources,
        "ingestion_rules": ingestion_of(&v, set.as_ref()),
        "enrichment": enrichment,
    }))
    .into_response())
}

async fn object_versions(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let store = state.pipeline.store().clone();
    let lookup = id.clone();
    let versions = blocking(move || store.versions(&lookup)).await?;
    if versions.is_empty() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no object {id}")));
    }
    let items: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "version": version_of(v),
                "date_added": format_micros(v.date_added),
                "source": v.source,
                "deleted": v.tombstone,
                "ingestion_rules": ingestion_of(v, None),
                "object": if v.tombstone { None } else { Some(raw(&v.raw)) },
            })
        })
        .collect();
    Ok(Json(json!({ "id": id, "versions": items })).into_response())
}

async fn delete_object(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let store = state.pipeline.store().clone();
    let actor = format!("user:{}", caller.0.name);
    let lookup = id.clone();
    let deleted = tokio::task::spawn_blocking(move || crate::curation::delete(store.as_ref(), &lookup, &actor))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    if deleted {
        Ok(Json(json!({ "deleted": id })).into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no object {id} to delete (unknown or already deleted)")))
    }
}

/// Enriches an object now (GeoIP for the addresses it is about, WhoIs for its domains
/// and addresses where the cache lacks them); the result is stored beside the object
/// and returned.
async fn enrich_object(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Contributor)?;
    let Some(enricher) = state.enricher.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no enrichment configured: start the server with --geoip-db FILE and/or --whois",
        ));
    };
    let store = state.pipeline.store().clone();
    let lookup = id.clone();
    let found = blocking(move || {
        let exists = store.current(&lookup)?.is_some();
        let e = enricher.enrich_stored(store.as_ref(), &lookup).map_err(cairn_store::StoreError::Invalid)?;
        Ok((exists, e))
    })
    .await?;
    match found {
        (false, _) => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no object {id} (unknown or deleted)"))),
        (true, e) => Ok(Json(json!({ "id": id, "enrichment": e })).into_response()),
    }
}

/// What the ingestion rules did to a version: the rule-set version and the rules that
/// changed it (with their names when the rule set is at hand).
fn ingestion_of(v: &StoredVersion, set: Option<&crate::ingestion_rules::RuleSet>) -> Value {
    let rules: Vec<Value> = v
        .rules
        .iter()
        .map(|id| match set.and_then(|s| s.rules.iter().find(|r| &r.id == id)) {
            Some(r) => json!({"id": id, "name": r.name}),
            None => json!({"id": id}),
        })
        .collect();
    json!({"ruleset_version": v.ruleset, "changed_by": rules})
}

/// Requests per minute per user, over a sliding one-minute window.
#[derive(Default)]
struct RateLimiter {
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Records a request; `Err(seconds)` when over the limit, with when to retry.
    fn check(&self, who: &str, per_minute: u32) -> Result<(), u64> {
        let window = Duration::from_secs(60);
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("rate limiter");
        let q = seen.entry(who.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= per_minute as usize {
            let oldest = *q.front().expect("non-empty at the limit");
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        q.push_back(now);
        Ok(())
    }
}
