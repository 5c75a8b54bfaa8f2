//! The web UI: server-rendered pages (maud) with small hand-written JavaScript modules,
//! all compiled into the binary; no build step, nothing fetched at run time.
//!
//! Key design decision: the UI adds no logic of its own. Pages are drawn from what the
//! store holds when they are asked for, and every change is a call to the JSON API
//! (`/api/v1/…`) carrying the session cookie and the page's CSRF token. So the UI can do
//! nothing the API cannot, and the API's checks (roles, validation, locked fields) apply
//! to it unchanged.
//!
//! Security: the session cookie is `HttpOnly` and `SameSite=Strict`; every request that
//! changes something must also echo the session's CSRF token (`X-CSRF-Token` from the
//! scripts, a hidden field in the two plain forms, login and logout). Pages are served
//! with a Content-Security-Policy that allows only the binary's own scripts, and all text
//! is escaped by maud on the server and set as `textContent` in the scripts, so stored
//! intelligence can never run as code.

mod admin;
mod assets;
mod connectors;
mod create;
mod explorer;
mod hunting;
mod import;
mod layout;
mod login;
mod object;
mod relationships;
mod rules;
#[cfg(test)]
mod tests;
mod workbooks;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::SharedState;
use crate::auth::Principal;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cairn_session";

/// The UI's routes; `api::router` merges them.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/explorer") }))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/assets/{name}", get(assets::serve))
        .route("/explorer", get(explorer::page))
        .route("/objects/{id}", get(object::page))
        .route("/new", get(create::page))
        .route("/relationships/new", get(relationships::page))
        .route("/rules", get(rules::page))
        .route("/connectors", get(connectors::page))
        .route("/import", get(import::page))
        .route("/admin", get(admin::page))
        .route("/hunting", get(hunting::page))
        .route("/workbooks", get(workbooks::list))
        .route("/workbooks/{id}", get(workbooks::view))
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The session token a request's cookie carries, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE).filter(|v| !v.is_empty())
}

/// The logged-in user of a page and the session's CSRF token; a request without a live
/// session is sent to `/login`, which returns here afterwards.
pub struct PageUser {
    pub principal: Principal,
    pub csrf: String,
}

impl FromRequestParts<SharedState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<PageUser, Response> {
        let to_login = || {
            let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let Some(token) = session_cookie(&parts.headers) else { return Err(to_login()) };
        let auth = state.auth.clone();
        match tokio::task::spawn_blocking(move || auth.by_session(&token)).await {
            Ok(Ok((principal, csrf))) => Ok(PageUser { principal, csrf }),
            _ => Err(to_login()),
        }
    }
}

/// Headers every page carries: scripts only from this server, no framing, no sniffing.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A finished page.
fn html(markup: maud::Markup) -> Response {
    secure(markup.into_response())
}

/// A page with a status other than 200 (not found, forbidden).
fn html_status(status: axum::http::StatusCode, markup: maud::Markup) -> Response {
    let mut r = html(markup);
    *r.status_mut() = status;
    r
}
