//! The TAXII 2.1 server routes, generic over a [`Backend`].
//!
//! One API root, `/taxii2/api/`, under the discovery endpoint `/taxii2/`. Paging cursors
//! are the backend's keyset positions (Cairn's `date_added` in microseconds, unique per
//! stored version), so `next` and `added_after` both resume exactly, with no skipped or
//! repeated objects, at any depth and while objects are being added.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::types::*;
use crate::{STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};

/// A collection as the backend sees it for one caller.
#[derive(Clone, Debug)]
pub struct CollectionInfo {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
}

/// `match[version]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionMatch {
    Last,
    First,
    All,
    /// Exact versions, as parsed timestamps.
    List(Vec<cairn_stix::Timestamp>),
}

/// The filters and paging of one objects, manifest or versions request.
#[derive(Clone, Debug)]
pub struct ObjectQuery {
    /// Only objects added strictly after this (µs since the epoch): `added_after`, or the
    /// position `next` points at, whichever is later.
    pub after: Option<i64>,
    pub limit: usize,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: VersionMatch,
    pub spec_versions: Vec<String>,
}

/// One object version in a page.
#[derive(Clone, Debug)]
pub struct Item {
    pub id: String,
    /// µs since the epoch; also the keyset position.
    pub date_added: i64,
    /// `modified`, or for unversioned objects the date added, as a TAXII version string.
    pub version: String,
    pub raw: String,
}

#[derive(Clone, Debug, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Where the next page starts, when more follow. Not always the last item's
    /// position: the backend may have skipped rows it does not serve.
    pub next: Option<i64>,
}

/// What went wrong in the backend, mapped to a TAXII error.
#[derive(Debug)]
pub enum BackendError {
    NotFound(String),
    Forbidden(String),
    BadRequest(String),
    Unprocessable(String),
    Internal(String),
}

/// What the TAXII routes need from the application. Methods block (they may read a
/// database); the routes call them on the blocking pool.
pub trait Backend: Send + Sync + 'static {
    /// The authenticated caller.
    type Principal: Clone + Send + Sync + 'static;

    /// `Ok(None)` for a request without credentials; `Err` for credentials that are wrong.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Self::Principal>, String>;
    fn title(&self) -> String;
    fn max_content_length(&self) -> u64;
    /// Collections the caller may know of.
    fn collections(&self, who: Option<&Self::Principal>) -> Result<Vec<CollectionInfo>, BackendError>;
    /// A collection the caller may know of, or `None`.
    fn collection(&self, id: &str, who: Option<&Self::Principal>) -> Result<Option<CollectionInfo>, BackendError>;
    fn objects(&self, collection: &str, q: &ObjectQuery) -> Result<Page, BackendError>;
    /// Ingests an envelope's objects into a writable collection; the finished status.
    fn add_objects(&self, collection: &str, who: &Self::Principal, objects: Vec<Value>)
        -> Result<Status, BackendError>;
    fn status(&self, id: &str, who: Option<&Self::Principal>) -> Result<Option<Status>, BackendError>;
    /// Deletes an object from a writable collection; false when it is not there.
    fn delete_object(&self, collection: &str, object_id: &str, who: &Self::Principal) -> Result<bool, BackendError>;
}

/// A TAXII error resource response.
#[derive(Debug)]
pub struct TaxiiError {
    status: StatusCode,
    title: String,
    description: Option<String>,
}

impl TaxiiError {
    pub fn new(status: StatusCode, title: impl Into<String>, description: impl Into<String>) -> TaxiiError {
        TaxiiError { status, title: title.into(), description: Some(description.into()) }
    }
}

impl From<BackendError> for TaxiiError {
    fn from(e: BackendError) -> TaxiiError {
        match e {
            BackendError::NotFound(d) => TaxiiError::new(StatusCode::NOT_FOUND, "Not found", d),
            BackendError::Forbidden(d) => TaxiiError::new(StatusCode::FORBIDDEN, "Forbidden", d),
            BackendError::BadRequest(d) => TaxiiError::new(StatusCode::BAD_REQUEST, "Bad request", d),
            BackendError::Unprocessable(d) => {
                TaxiiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Unprocessable content", d)
            }
            BackendError::Internal(d) => {
                tracing::error!("TAXII backend error: {d}");
                TaxiiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", d)
            }
        }
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = ErrorResource {
            title: self.title,
            description: self.description,
            http_status: self.status.as_u16().to_string(),
        };
        let mut r = taxii_json(self.status, &body, None);
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cairn\", Bearer realm=\"cairn\""),
            );
        }
        r
    }
}

type Result<T, E = TaxiiError> = std::result::Result<T, E>;

fn taxii_json<T: Serialize>(status: StatusCode, body: &T, dates: Option<(i64, i64)>) -> Response {
    let bytes = serde_json::to_vec(body).expect("TAXII resources serialise");
    let mut r = Response::builder().status(status).header(header::CONTENT_TYPE, TAXII_MEDIA_TYPE);
    if let Some((first, last)) = dates {
        r = r
            .header("X-TAXII-Date-Added-First", format_micros(first))
            .header("X-TAXII-Date-Added-Last", format_micros(last));
    }
    r.body(Body::from(bytes)).expect("valid response")
}

pub fn format_micros(micros: i64) -> String {
    cairn_stix::Timestamp::from_unix_micros(micros).to_string()
}

struct Shared<B: Backend> {
    backend: B,
}

/// The TAXII routes (`/taxii2/…`) over `backend`.
pub fn router<B: Backend>(backend: B) -> Router {
    let state = Arc::new(Shared { backend });
    Router::new()
        .route("/taxii2/", get(discovery::<B>))
        .route("/taxii2/api/", get(api_root::<B>))
        .route("/taxii2/api/collections/", get(collections::<B>))
        .route("/taxii2/api/collections/{id}/", get(collection::<B>))
        .route("/taxii2/api/collections/{id}/objects/", get(get_objects::<B>).post(post_objects::<B>))
        .route("/taxii2/api/collections/{id}/objects/{oid}/", get(get_object::<B>).delete(delete_object::<B>))
        .route("/taxii2/api/collections/{id}/objects/{oid}/versions/", get(versions::<B>))
        .route("/taxii2/api/collections/{id}/manifest/", get(manifest::<B>))
        .route("/taxii2/api/status/{sid}/", get(status::<B>))
        // Anything else under /taxii2/ is an unknown API root or resource: say so as TAXII.
        .route("/taxii2/{*rest}", axum::routing::any(unknown))
        // Bodies are read and size-checked by the POST handler, to answer 413 as TAXII.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// 406 unless the client accepts TAXII 2.1 JSON.
fn check_accept(headers: &HeaderMap) -> Result<()> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let ok = accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let mt = parts.next().unwrap_or("").to_ascii_lowercase();
        let version = parts.find_map(|p| p.strip_prefix("version=").map(str::to_string));
        match mt.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
            _ => false,
        }
    });
    if ok {
        Ok(())
    } else {
        Err(TaxiiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Not acceptable",
            format!("this server answers with {TAXII_MEDIA_TYPE}; the request accepts only '{accept}'"),
        ))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| TaxiiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", e.to_string()))?
}

async fn caller<B: Backend>(s: &Arc<Shared<B>>, headers: &HeaderMap) -> Result<Option<B::Principal>> {
    let s = s.clone();
    let headers = headers.clone();
    blocking(move || {
        s.backend.authenticate(&headers).map_err(|why| TaxiiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", why))
    })
    .await
}

fn need_auth() -> TaxiiError {
    TaxiiError::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "authentication required: HTTP Basic, Authorization: Bearer/Token <token>, or the API-key header",
    )
}

/// The collection, checked for reading (or writing) by this caller.
async fn readable<B: Backend>(
    s: &Arc<Shared<B>>,
    id: &str,
    who: &Option<B::Principal>,
    write: bool,
) -> Result<CollectionInfo> {
    let (s2, id2, who2) = (s.clone(), id.to_string(), who.clone());
    let info = blocking(move || Ok(s2.backend.collection(&id2, who2.as_ref())?)).await?;
    let Some(info) = info else {
        // Unknown, or not visible to an anonymous caller: ask for credentials then.
        if who.is_none() {
            return Err(need_auth());
        }
        return Err(TaxiiError::new(StatusCode::NOT_FOUND, "Not found", format!("no collection {id}")));
    };
    let allowed = if write { info.can_write } else { info.can_read };
    if !allowed {
        if who.is_none() {
            return Err(need_auth());
        }
        let what = if write { "write to" } else { "read" };
        return Err(TaxiiError::new(StatusCode::FORBIDDEN, "Forbidden", format!("you may not {what} collection {id}")));
    }
    Ok(info)
}

async fn unknown(Path(rest): Path<String>) -> TaxiiError {
    TaxiiError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("no TAXII resource at /taxii2/{rest}; the API root is /taxii2/api/ (see /taxii2/)"),
    )
}

async fn discovery<B: Backend>(State(s): State<Arc<Shared<B>>>, headers: HeaderMap) -> Result<Response> {
    check_accept(&headers)?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let root = format!("http://{host}/taxii2/api/");
    let body = Discovery {
        title: s.backend.title(),
        description: Some("Cairn threat-intelligence platform".into()),
        contact: None,
        default: Some(root.clone()),
        api_roots: vec![root],
    };
    Ok(taxii_json(StatusCode::OK, &body, None))
}

async fn api_root<B: Backend>(State(s): State<Arc<Shared<B>>>, headers: HeaderMap) -> Result<Response> {
    check_accept(&headers)?;
    let body = ApiRoot {
        title: s.backend.title(),
        description: None,
        versions: vec![TAXII_MEDIA_TYPE.into()],
        max_content_length: s.backend.max_content_length(),
    };
    Ok(taxii_json(StatusCode::OK, &body, None))
}

fn collection_resource(c: CollectionInfo) -> Collection {
    Collection {
        id: c.id,
        title: c.title,
        description: c.description,
        alias: None,
        can_read: c.can_read,
        can_write: c.can_write,
        media_types: vec![STIX_MEDIA_TYPE.into()],
    }
}

async fn collections<B: Backend>(State(s): State<Arc<Shared<B>>>, headers: HeaderMap) -> Result<Response> {
    check_accept(&headers)?;
    let who = caller(&s, &headers).await?;
    let s2 = s.clone();
    let list = blocking(move || Ok(s2.backend.collections(who.as_ref())?)).await?;
    let body = Collections { collections: list.into_iter().map(collection_resource).collect() };
    Ok(taxii_json(StatusCode::OK, &body, None))
}

async fn collection<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    let who = caller(&s, &headers).await?;
    let (s2, id2, who2) = (s.clone(), id.clone(), who.clone());
    let info = blocking(move || Ok(s2.backend.collection(&id2, who2.as_ref())?)).await?;
    match info {
        Some(c) => Ok(taxii_json(StatusCode::OK, &collection_resource(c), None)),
        None if who.is_none() => Err(need_auth()),
        None => Err(TaxiiError::new(StatusCode::NOT_FOUND, "Not found", format!("no collection {id}"))),
    }
}

const DEFAULT_LIMIT: usize = 1_000;
const MAX_LIMIT: usize = 10_000;

fn bad(d: impl Into<String>) -> TaxiiError {
    TaxiiError::new(StatusCode::BAD_REQUEST, "Bad request", d)
}

/// Parses the filters of §3.5. Unknown `match[...]` fields are an error: silently
/// ignoring a filter would return objects the client asked to exclude.
fn parse_query(raw: Option<&str>, allow: &[&str]) -> Result<ObjectQuery> {
    let mut q: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !allow.contains(&k.as_ref()) {
            return Err(bad(format!("unsupported query parameter '{k}' here")));
        }
        q.entry(k.into_owned())
            .or_default()
            .extend(v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string));
    }
    let one = |name: &str| q.get(name).and_then(|v| v.first()).cloned();
    let limit = match one("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => (n as usize).min(MAX_LIMIT),
            _ => return Err(bad(format!("limit must be a positive integer, got '{l}'"))),
        },
    };
    let ts = |s: &str, what: &str| {
        cairn_stix::Timestamp::parse(s).map_err(|e| bad(format!("{what}: '{s}' is not a timestamp: {e}")))
    };
    let mut after = match one("added_after") {
        Some(a) => Some(ts(&a, "added_after")?.unix_micros()),
        None => None,
    };
    if let Some(n) = one("next") {
        let pos: i64 = n.parse().map_err(|_| bad(format!("next: '{n}' is not a value this server gave out")))?;
        after = Some(after.map_or(pos, |a| a.max(pos)));
    }
    let versions = match q.get("match[version]").map(Vec::as_slice) {
        None | Some([]) => VersionMatch::Last,
        Some(vs) if vs.iter().any(|v| v == "all") => VersionMatch::All,
        Some([v]) if v == "last" => VersionMatch::Last,
        Some([v]) if v == "first" => VersionMatch::First,
        Some(vs) => VersionMatch::List(vs.iter().map(|v| ts(v, "match[version]")).collect::<Result<_>>()?),
    };
    let spec_versions = q.get("match[spec_version]").cloned().unwrap_or_default();
    if let Some(bad_v) = spec_versions.iter().find(|v| *v != "2.0" && *v != "2.1") {
        return Err(bad(format!("match[spec_version]: '{bad_v}' is not 2.0 or 2.1")));
    }
    Ok(ObjectQuery {
        after,
        limit,
        ids: q.get("match[id]").cloned().unwrap_or_default(),
        types: q.get("match[type]").cloned().unwrap_or_default(),
        versions,
        spec_versions,
    })
}

const OBJECT_FILTERS: &[&str] =
    &["added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"];
const OBJECT_BY_ID_FILTERS: &[&str] = &["added_after", "limit", "next", "match[version]", "match[spec_version]"];
const VERSIONS_FILTERS: &[&str] = &["added_after", "limit", "next", "match[spec_version]"];

/// The common start of every read: Accept checked, caller known, filters parsed, the
/// collection readable by the caller.
async fn read_request<B: Backend>(
    s: &Arc<Shared<B>>,
    id: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    allow: &[&str],
) -> Result<ObjectQuery> {
    check_accept(headers)?;
    let who = caller(s, headers).await?;
    let q = parse_query(query, allow)?;
    readable(s, id, &who, false).await?;
    Ok(q)
}

fn no_object(oid: &str, id: &str) -> TaxiiError {
    TaxiiError::new(StatusCode::NOT_FOUND, "Not found", format!("no object {oid} in collection {id}"))
}

async fn page<B: Backend>(s: &Arc<Shared<B>>, collection: String, q: ObjectQuery) -> Result<Page> {
    let s = s.clone();
    blocking(move || Ok(s.backend.objects(&collection, &q)?)).await
}

fn dates(p: &Page) -> Option<(i64, i64)> {
    Some((p.items.first()?.date_added, p.items.last()?.date_added))
}

fn next_of(p: &Page) -> Option<String> {
    p.next.map(|n| n.to_string())
}

fn envelope(p: Page) -> Response {
    let d = dates(&p);
    let next = next_of(&p);
    let objects = p.items.into_iter().map(|i| RawValue::from_string(i.raw).expect("stored JSON")).collect();
    taxii_json(StatusCode::OK, &Envelope { more: next.is_some(), next, objects }, d)
}

async fn get_objects<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let q = read_request(&s, &id, &headers, query.as_deref(), OBJECT_FILTERS).await?;
    Ok(envelope(page(&s, id, q).await?))
}

async fn get_object<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path((id, oid)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let mut q = read_request(&s, &id, &headers, query.as_deref(), OBJECT_BY_ID_FILTERS).await?;
    q.ids = vec![oid.clone()];
    let p = page(&s, id.clone(), q).await?;
    if p.items.is_empty() {
        return Err(no_object(&oid, &id));
    }
    Ok(envelope(p))
}

async fn manifest<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let q = read_request(&s, &id, &headers, query.as_deref(), OBJECT_FILTERS).await?;
    let p = page(&s, id, q).await?;
    let d = dates(&p);
    let next = next_of(&p);
    let objects = p
        .items
        .into_iter()
        .map(|i| ManifestRecord {
            id: i.id,
            date_added: format_micros(i.date_added),
            version: i.version,
            media_type: STIX_MEDIA_TYPE.into(),
        })
        .collect();
    Ok(taxii_json(StatusCode::OK, &Manifest { more: next.is_some(), next, objects }, d))
}

async fn versions<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path((id, oid)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let mut q = read_request(&s, &id, &headers, query.as_deref(), VERSIONS_FILTERS).await?;
    q.ids = vec![oid.clone()];
    q.versions = VersionMatch::All;
    let p = page(&s, id.clone(), q).await?;
    if p.items.is_empty() {
        return Err(no_object(&oid, &id));
    }
    let d = dates(&p);
    let next = next_of(&p);
    let versions = p.items.into_iter().map(|i| i.version).collect();
    Ok(taxii_json(StatusCode::OK, &Versions { more: next.is_some(), next, versions }, d))
}

async fn post_objects<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    check_accept(&headers)?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut parts = ct.split(';').map(str::trim);
    let mt = parts.next().unwrap_or("").to_ascii_lowercase();
    let version = parts.find_map(|p| p.strip_prefix("version=").map(str::to_string));
    if mt != "application/taxii+json" || version.is_some_and(|v| v != "2.1") {
        return Err(TaxiiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            format!("POST a TAXII envelope as {TAXII_MEDIA_TYPE}, not '{ct}'"),
        ));
    }
    let who = caller(&s, &headers).await?;
    let Some(principal) = who.clone() else { return Err(need_auth()) };
    readable(&s, &id, &who, true).await?;
    let max = s.backend.max_content_length();
    let too_large = || {
        TaxiiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request entity too large",
            format!("the body exceeds this API root's max_content_length ({max} bytes)"),
        )
    };
    if headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, max as usize).await.map_err(|_| too_large())?;
    let envelope: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
    // Well-formed JSON that is not an envelope is content the server cannot process: 422.
    let unprocessable = |d: &str| TaxiiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Unprocessable content", d);
    if !envelope.is_object() {
        return Err(unprocessable("the body must be a TAXII envelope: {\"objects\": [...]}"));
    }
    let objects = match envelope.get("objects") {
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(unprocessable("'objects' must be an array of STIX objects")),
        None => Vec::new(),
    };
    let s2 = s.clone();
    let status = blocking(move || Ok(s2.backend.add_objects(&id, &principal, objects)?)).await?;
    Ok(taxii_json(StatusCode::ACCEPTED, &status, None))
}

async fn delete_object<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path((id, oid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    let who = caller(&s, &headers).await?;
    let Some(principal) = who.clone() else { return Err(need_auth()) };
    readable(&s, &id, &who, true).await?;
    let s2 = s.clone();
    let (id2, oid2) = (id.clone(), oid.clone());
    if blocking(move || Ok(s2.backend.delete_object(&id2, &oid2, &principal)?)).await? {
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, TAXII_MEDIA_TYPE)
            .body(Body::empty())
            .expect("valid response"))
    } else {
        Err(no_object(&oid, &id))
    }
}

async fn status<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    let who = caller(&s, &headers).await?;
    if who.is_none() {
        return Err(need_auth());
    }
    let s2 = s.clone();
    let sid2 = sid.clone();
    match blocking(move || Ok(s2.backend.status(&sid2, who.as_ref())?)).await? {
        Some(st) => Ok(taxii_json(StatusCode::OK, &st, None)),
        None => Err(TaxiiError::new(StatusCode::NOT_FOUND, "Not found", format!("no status {sid}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_reject_as_table() {
        let ok = |q: &str| parse_query(Some(q), OBJECT_FILTERS).map_err(|e| e.description.unwrap_or_default());
        let q = ok("match[type]=indicator,malware&match[type]=tool&limit=5").unwrap();
        assert_eq!(q.types, vec!["indicator", "malware", "tool"]);
        assert_eq!(q.limit, 5);
        assert_eq!(ok("limit=999999").unwrap().limit, MAX_LIMIT);
        assert_eq!(ok("").unwrap().versions, VersionMatch::Last);
        assert_eq!(ok("match[version]=first").unwrap().versions, VersionMatch::First);
        assert_eq!(ok("match[version]=last,all").unwrap().versions, VersionMatch::All);
        assert!(
            matches!(ok("match[version]=2020-01-01T00:00:00.000Z").unwrap().versions, VersionMatch::List(v) if v.len() == 1)
        );
        // added_after and next combine: the later position wins.
        let q = ok("added_after=1970-01-01T00:00:01Z&next=5000000").unwrap();
        assert_eq!(q.after, Some(5_000_000));
        let q = ok("added_after=1970-01-01T00:00:09Z&next=5000000").unwrap();
        assert_eq!(q.after, Some(9_000_000));
        for bad_q in [
            "limit=0", "limit=-3", "limit=x", "added_after=yesterday", "next=abc", "match[color]=red",
            "match[spec_version]=2.2", "match[version]=soon",
        ] {
            assert!(ok(bad_q).is_err(), "{bad_q}");
        }
        assert!(parse_query(Some("match[type]=x"), VERSIONS_FILTERS).is_err());
    }

    #[test]
    fn accept_negotiation() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            check_accept(&m).is_ok()
        };
        assert!(h("application/taxii+json;version=2.1"));
        assert!(h("application/taxii+json"));
        assert!(h("text/html, */*"));
        assert!(!h("application/taxii+json;version=2.0"));
        assert!(!h("application/json"));
        assert!(check_accept(&HeaderMap::new()).is_ok());
    }
}
