//! `/admin`: users and roles, API tokens (shown once when made), TAXII collections (a
//! saved search served as a collection, with who may read and write it), and this
//! instance's facts (the workspace id the upload API takes). Admins only; `admin.js`
//! draws it over the admin API.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::{html, html_status, layout, PageUser};
use crate::auth::Role;

/// A collection form pre-filled from the explorer ("save this search as a collection").
#[derive(Deserialize)]
pub struct Prefill {
    #[serde(default)]
    types: Option<String>,
    #[serde(default)]
    sources: Option<String>,
    #[serde(default)]
    tags: Option<String>,
}

pub async fn page(user: PageUser, Query(p): Query<Prefill>) -> Response {
    if user.principal.role < Role::Admin {
        return html_status(StatusCode::FORBIDDEN, layout::message("Admin", &user, "This page is for admins."));
    }
    let roles = ["reader", "contributor", "admin"];
    let body = html! {
        p #status role="status" {}
        section.card {
            h2 { "This instance" }
            dl #instance {}
        }
        section.card {
            h2 { "Users" }
            table #users { thead { tr { th { "Name" } th { "Role" } th {} } } tbody {} }
            form #add-user.row novalidate {
                label { "Name " input name="name" required autocomplete="off"; }
                label { "Role " select name="role" { @for r in roles { option value=(r) { (r) } } } }
                label { "Password " input name="password" type="password" required minlength="8" autocomplete="new-password"; }
                button type="submit" { "Add or replace" }
            }
        }
        section.card {
            h2 { "API tokens" }
            table #tokens { thead { tr { th { "Name" } th { "Role" } th { "Created" } th { "Id" } th {} } } tbody {} }
            form #add-token.row novalidate {
                label { "For " input name="name" required placeholder="e.g. siem-uploader"; }
                label { "Role " select name="role" { @for r in roles { option value=(r) { (r) } } } }
                button type="submit" { "Create token" }
            }
            p #new-token.notice hidden {}
        }
        section.card {
            h2 { "TAXII collections" }
            table #collections { thead { tr { th { "Title" } th { "Id" } th { "Serves" } th { "Read by" } th { "Write by" } } } tbody {} }
            form #add-collection.fields novalidate {
                label { "Title " input name="title" required; }
                label { "Description " input name="description"; }
                label { "Types " input name="types" value=(p.types.unwrap_or_default()) placeholder="indicator, malware…"; }
                label { "Sources " input name="sources" value=(p.sources.unwrap_or_default()) placeholder="feed, feed…"; }
                label { "Tags " input name="tags" value=(p.tags.unwrap_or_default()); }
                label { "TLP at most " select name="tlp" { option value="" { "any" } @for t in ["clear", "white", "green", "amber", "amber+strict", "red"] { option value=(t) { (t) } } } }
                label { "Confidence at least " input name="min_confidence" type="number" min="0" max="100"; }
                label { "Read by " input name="readers" placeholder="user:NAME, role:ROLE (empty: every user)"; }
                label { "Write by " input name="writers" placeholder="user:NAME, role:ROLE"; }
                label { span { input name="writable" type="checkbox"; " writable inbox (POSTs are ingested)" } }
                label { span { input name="public" type="checkbox"; " public (no login needed to read)" } }
                div.row { button type="submit" { "Create collection" } }
            }
        }
    };
    html(layout::page("Admin", &user, "/admin", &["admin.js"], body))
}
