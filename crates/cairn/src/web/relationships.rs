//! `/relationships/new`: the relationship builder. One source, any number of targets
//! (each picked by search), a relationship type per row from the spec's suggestions for
//! that pair, and the common metadata once; `relationships.js` sends it all to
//! `POST /api/v1/relationships`, which makes them in one transaction.

use axum::extract::Query;
use axum::response::Response;
use maud::{html, PreEscaped};
use serde::Deserialize;
use serde_json::json;

use super::explorer::json_for_html;
use super::{html, layout, PageUser};

#[derive(Deserialize)]
pub struct Params {
    source: Option<String>,
}

pub async fn page(user: PageUser, Query(p): Query<Params>) -> Response {
    let config = json!({"source": p.source, "tlp": super::create::forms()["tlp"]});
    let body = html! {
        script #rel-config type="application/json" { (PreEscaped(json_for_html(&config))) }
        form #builder novalidate {
            fieldset {
                legend { "Source" }
                div.row { label.grow { "Find the source object " input #source-search type="search" placeholder="name or value"; } }
                ul #source-results.picker {}
                p #source-picked {}
            }
            fieldset {
                legend { "Targets" }
                div.row { label.grow { "Add a target " input #target-search type="search" placeholder="name or value"; } }
                ul #target-results.picker {}
                table #targets { thead { tr { th { "Target" } th { "Relationship type" } th {} } } tbody {} }
            }
            fieldset {
                legend { "Common to every relationship" }
                div.row {
                    label { "TLP " select #tlp { option value="" { "none" } } }
                    label { "Confidence " input #confidence type="number" min="0" max="100"; }
                    label.grow { "Tags " input #labels placeholder="tag, tag…"; }
                }
                label { "Description " textarea #description rows="2" {} }
            }
            ul #problems.error role="alert" {}
            div.row { button #make type="submit" { "Create relationships" } }
            p #status role="status" {}
        }
    };
    html(layout::page("Relationship builder", &user, "/relationships/new", &["relationships.js"], body))
}
