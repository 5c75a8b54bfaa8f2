//! The stylesheet and scripts, compiled into the binary.
//!
//! Their URLs carry a hash of their content (`/assets/app.js?v=…`), so browsers may keep
//! them for a year and still never run a stale script after an upgrade.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    ("admin.js", "text/javascript; charset=utf-8", include_str!("assets/admin.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("assets/app.js")),
    ("conditions.js", "text/javascript; charset=utf-8", include_str!("assets/conditions.js")),
    ("connectors.js", "text/javascript; charset=utf-8", include_str!("assets/connectors.js")),
    ("create.js", "text/javascript; charset=utf-8", include_str!("assets/create.js")),
    ("explorer.js", "text/javascript; charset=utf-8", include_str!("assets/explorer.js")),
    ("hunting.js", "text/javascript; charset=utf-8", include_str!("assets/hunting.js")),
    ("import.js", "text/javascript; charset=utf-8", include_str!("assets/import.js")),
    ("object.js", "text/javascript; charset=utf-8", include_str!("assets/object.js")),
    ("relationships.js", "text/javascript; charset=utf-8", include_str!("assets/relationships.js")),
    ("rules.js", "text/javascript; charset=utf-8", include_str!("assets/rules.js")),
    ("workbooks.js", "text/javascript; charset=utf-8", include_str!("assets/workbooks.js")),
];

fn versions() -> &'static HashMap<&'static str, String> {
    static V: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    V.get_or_init(|| {
        FILES.iter().map(|(n, _, body)| (*n, blake3::hash(body.as_bytes()).to_hex()[..12].to_string())).collect()
    })
}

/// The URL of an asset, with its content hash.
pub fn url(name: &str) -> String {
    match versions().get(name) {
        Some(v) => format!("/assets/{name}?v={v}"),
        None => panic!("no asset named {name}"),
    }
}

/// Served with a long cache life when asked for by its versioned URL; `app.js`, which the
/// page scripts import by its plain name, is revalidated instead.
pub async fn serve(Path(name): Path<String>, RawQuery(q): RawQuery) -> Response {
    let Some((_, kind, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut r = (*body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    let versioned = q.is_some_and(|q| q.starts_with("v="));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if versioned { "public, max-age=31536000, immutable" } else { "no-cache" }),
    );
    h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", versions()[name.as_str()])).expect("hex"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
