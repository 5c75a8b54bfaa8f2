//! `/hunting`: the KQL editor. `hunting.js` highlights the query as it is typed, runs it
//! through `POST /api/v1/query` (Ctrl+Enter), pages the rows, draws the chart when the
//! query ends in `render`, and offers the rows as CSV or JSON. Saved queries are the
//! store's saved KQL functions (`/api/v1/functions`), so a query saved here can also be
//! called by name from other queries, as in Sentinel.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::{html, layout, PageUser};
use crate::api::SharedState;
use crate::auth::Role;

#[derive(Deserialize)]
pub struct Params {
    q: Option<String>,
}

const EXAMPLE: &str = "ThreatIntelIndicators\n| summarize arg_max(TimeGenerated, *) by Id\n| where IsActive\n| summarize count() by ObservableKey\n| render barchart";

pub async fn page(State(state): State<SharedState>, user: PageUser, Query(p): Query<Params>) -> Response {
    let h = state.hunting.clone();
    let tables = tokio::task::spawn_blocking(move || h.tables()).await.ok().and_then(Result::ok).unwrap_or_default();
    let text = p.q.unwrap_or_else(|| EXAMPLE.to_string());
    let body = html! {
        div.hunting {
            aside.schema aria-label="Tables and saved queries" {
                h2 { "Tables" }
                ul #tables {
                    @for t in ["ThreatIntelIndicators", "ThreatIntelObjects", "ThreatIntelligenceIndicator", "ThreatIntelSightings"] {
                        li { button.insert type="button" data-text=(t) { (t) } }
                    }
                    @for t in &tables {
                        li { button.insert type="button" data-text=(t.name) { (t.name) } }
                    }
                }
                h2 { "Saved queries" }
                ul #saved {}
            }
            section.editor-pane {
                div.editor {
                    pre #highlight aria-hidden="true" {}
                    textarea #kql spellcheck="false" aria-label="KQL query" autocapitalize="off" { (text) }
                }
                div.row {
                    button #run type="button" title="Ctrl+Enter" { "Run (Ctrl+Enter)" }
                    @if user.principal.role >= Role::Contributor {
                        input #save-name placeholder="name" aria-label="Name to save the query under" pattern="[A-Za-z_][A-Za-z0-9_]*";
                        button #save type="button" { "Save" }
                    }
                    span.grow {}
                    button #csv type="button" disabled { "CSV" }
                    button #json type="button" disabled { "JSON" }
                }
                pre #error.error role="alert" hidden {}
                p #status role="status" {}
                figure #chart hidden {}
                table #rows { thead {} tbody {} }
                div.row.pager {
                    button #prev type="button" disabled { "← Previous" }
                    span #page {}
                    button #next type="button" disabled { "Next →" }
                }
            }
        }
    };
    html(layout::page("Hunting", &user, "/hunting", &["hunting.js"], body))
}
