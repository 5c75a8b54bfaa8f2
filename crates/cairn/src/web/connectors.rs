//! `/connectors`: TAXII import connectors and export targets. Health per connector (last
//! poll, last success, last error with the server's message, the last poll's counts, a
//! chart of objects per day from KQL), "Run now", and forms to add either kind.
//! `connectors.js` draws it over the admin API; the page is for admins.

use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{html, html_status, layout, PageUser};
use crate::auth::Role;

pub async fn page(user: PageUser) -> Response {
    if user.principal.role < Role::Admin {
        return html_status(
            StatusCode::FORBIDDEN,
            layout::message("Connectors", &user, "Connectors are managed by admins."),
        );
    }
    let auth_fields = html! {
        label { "Authentication "
            select.auth-kind name="auth" {
                option value="none" { "none" } option value="basic" { "user and password" }
                option value="token" { "bearer token" } option value="api_key" { "API key header" }
            }
        }
        label.auth-basic hidden { "User " input name="user" autocomplete="off"; }
        label.auth-basic hidden { "Password " input name="password" type="password" autocomplete="new-password"; }
        label.auth-token hidden { "Token " input name="token" type="password" autocomplete="off"; }
        label.auth-api_key hidden { "Header " input name="header" placeholder="X-Api-Key"; }
        label.auth-api_key hidden { "Key " input name="key" type="password" autocomplete="off"; }
    };
    let body = html! {
        p #status role="status" {}
        h2 { "Import connectors (TAXII 2.0 / 2.1 polling)" }
        div #connectors.cards {}
        details {
            summary { "Add a connector" }
            form #add-connector.fields novalidate {
                label { "Name " input name="name" required pattern="[A-Za-z0-9_.-]+"; }
                label { "API root " input name="api_root" type="url" required placeholder="https://taxii.example.org/api1/"; }
                label { "Collection id " input name="collection" required; }
                label { "First poll from " input name="lookback" value="30d" title="all, a duration like 30d, or a date"; }
                label { "Poll every " input name="interval" value="1h"; }
                (auth_fields)
                div.row { button #test-connector type="button" { "Test connection" } button type="submit" { "Add" } }
                p #test-result role="status" {}
            }
        }
        h2 { "Export targets (TAXII 2.1 push)" }
        table #targets { thead { tr { th { "Name" } th { "API root" } th { "Collection" } th { "Schedule" } } } tbody {} }
        details {
            summary { "Add an export target" }
            form #add-target.fields novalidate {
                label { "Name " input name="name" required; }
                label { "API root " input name="api_root" type="url" required; }
                label { "Collection id " input name="collection" required; }
                (auth_fields)
                div.row { button type="submit" { "Add" } }
            }
        }
    };
    html(layout::page("Connectors", &user, "/connectors", &["connectors.js"], body))
}
