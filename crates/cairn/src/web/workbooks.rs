//! `/workbooks` and `/workbooks/{id}`: the list, and one workbook's tiles with its
//! time-range picker and parameters. Tiles are drawn as SVG by
//! `/api/v1/workbooks/{id}/tiles/{n}/svg`, which `workbooks.js` fetches one by one so a
//! slow or failing tile neither holds up nor hides the others. Contributors edit a tile
//! in a form (or the whole workbook as JSON); either way the page sends the whole
//! workbook to `PUT /api/v1/workbooks/{id}`, which checks it.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{html, html_status, layout, PageUser};
use crate::api::SharedState;
use crate::auth::Role;
use crate::workbooks::Workbooks;

/// The tile visualizations (their JSON names) and how the editor names them.
const VISUALIZATIONS: &[(&str, &str)] = &[
    ("bar", "bar chart"),
    ("stackedbar", "stacked bar chart"),
    ("column", "column chart"),
    ("stackedcolumn", "stacked column chart"),
    ("pie", "pie chart"),
    ("line", "line chart"),
    ("timechart", "time chart"),
    ("area", "area chart"),
    ("table", "table"),
    ("number", "single number"),
];

pub async fn list(State(state): State<SharedState>, user: PageUser) -> Response {
    let w = Workbooks::new(state.hunting.clone());
    let all = tokio::task::spawn_blocking(move || w.list()).await.unwrap_or_else(|e| Err(e.to_string()));
    let body = match all {
        Ok(all) => html! {
            ul.cards {
                @for wb in &all {
                    li { a href={"/workbooks/" (wb.id)} { (wb.name) } " " span.muted { (wb.tiles.len()) " tiles" }
                         @if !wb.description.is_empty() { p { (wb.description) } } }
                }
            }
            @if user.principal.role >= Role::Contributor {
                h2 { "Import a workbook" }
                form #wb-import.row {
                    input #wb-file type="file" accept=".json,application/json" aria-label="Workbook JSON file" required;
                    label { input #wb-replace type="checkbox"; " replace one with the same id" }
                    button type="submit" { "Import" }
                }
                p #wb-status role="status" {}
            }
        },
        Err(e) => html! { p.error { (e) } },
    };
    html(layout::page("Workbooks", &user, "/workbooks", &["workbooks.js"], body))
}

pub async fn view(
    State(state): State<SharedState>,
    user: PageUser,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let w = Workbooks::new(state.hunting.clone());
    let lookup = id.clone();
    let found = tokio::task::spawn_blocking(move || w.get(&lookup)).await.unwrap_or_else(|e| Err(e.to_string()));
    let wb = match found {
        Ok(Some(wb)) => wb,
        Ok(None) => {
            return html_status(
                StatusCode::NOT_FOUND,
                layout::message("Not found", &user, &format!("There is no workbook {id}.")),
            )
        }
        Err(e) => return html_status(StatusCode::INTERNAL_SERVER_ERROR, layout::message("Error", &user, &e)),
    };
    let range = q.get("time_range").cloned().unwrap_or_else(|| wb.time_range.default.clone());
    let mut options = wb.time_range.options.clone();
    if !options.contains(&range) {
        options.push(range.clone());
    }
    let body = html! {
        @if !wb.description.is_empty() { p { (wb.description) } }
        form #wb-params.row method="get" {
            label { "Time range "
                select name="time_range" {
                    @for o in &options {
                        option value=(o) selected[*o == range] { (o) }
                    }
                }
            }
            @for p in &wb.parameters {
                label { (if p.label.is_empty() { &p.name } else { &p.label }) " "
                    input name=(p.name) value=(q.get(&p.name).unwrap_or(&p.default)); }
            }
            button type="submit" { "Apply" }
            a.button href={"/api/v1/workbooks/" (wb.id)} download={(wb.id) ".json"} { "Export JSON" }
            @if user.principal.role >= Role::Contributor {
                button #wb-add-tile type="button" { "Add tile" }
                button #wb-edit type="button" { "Edit JSON" }
            }
        }
        @if user.principal.role >= Role::Contributor {
            form #tile-editor.tile-form hidden data-id=(wb.id) {
                h2 #t-heading { "Edit tile" }
                label { "Title" input #t-title required; }
                label { "Query (KQL; {TimeRange} is the time-range condition)"
                    textarea #t-query rows="8" spellcheck="false" required {} }
                div.row {
                    label { "Visualization "
                        select #t-vis {
                            option value="" { "as the query's render says" }
                            @for (v, label) in VISUALIZATIONS { option value=(v) { (label) } }
                        }
                    }
                    label { "Width "
                        select #t-width { option value="1" { "one column" } option value="2" { "two columns" } }
                    }
                }
                div.row {
                    button type="submit" { "Save tile" }
                    button #t-up type="button" { "Move up" }
                    button #t-down type="button" { "Move down" }
                    button #t-delete.danger type="button" { "Delete tile" }
                    button #t-cancel type="button" { "Cancel" }
                }
                p #t-status role="status" {}
            }
            form #wb-editor hidden data-id=(wb.id) {
                label { "Workbook JSON (tiles, their queries and visualizations)"
                    textarea #wb-json rows="24" spellcheck="false" { (serde_json::to_string_pretty(&wb).unwrap_or_default()) } }
                div.row { button type="submit" { "Save" } button #wb-cancel type="button" { "Cancel" }
                          @if wb.id == crate::workbooks::DEFAULT_ID { button #wb-restore type="button" { "Restore the shipped version" } } }
                p #wb-status role="status" {}
            }
        }
        div.tiles #tiles data-id=(wb.id) {
            @for (i, t) in wb.tiles.iter().enumerate() {
                figure.tile.wide[t.width > 1] data-n=(i + 1) {
                    figcaption {
                        span.title { (t.title) }
                        @if user.principal.role >= Role::Contributor {
                            " " button.link.tile-edit type="button" data-n=(i) aria-label={"Edit tile: " (t.title)} { "Edit" }
                        }
                    }
                    div.chart { span.muted { "Loading…" } }
                }
            }
        }
    };
    html(layout::page(&wb.name, &user, "/workbooks", &["workbooks.js"], body))
}
