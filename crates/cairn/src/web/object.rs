//! `/objects/{id}`: one object's details, drawn on the server from the store: its
//! properties, TLP, tags, sources, version history with what each version changed, its
//! neighbourhood (table and an SVG graph), enrichment, exports and the ingestion rules
//! that changed it. Edit, Duplicate, Revoke and Delete are API calls made by `object.js`;
//! the edit form marks the fields this object's origin locks, with the reason.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup, PreEscaped};
use serde_json::{Map, Value};

use super::explorer::json_for_html;
use super::{html, html_status, layout, PageUser};
use crate::api::{format_micros, SharedState};
use crate::auth::Role;
use crate::curation::create::Graph;

struct Details {
    object: Map<String, Value>,
    source: String,
    date_added: i64,
    sources: Vec<cairn_store::SourceSeen>,
    versions: Vec<cairn_store::StoredVersion>,
    origin: Option<crate::curation::Origin>,
    graph: Option<Graph>,
    enrichment: Value,
    exports: Value,
    rules: Vec<String>,
    /// The ingestion rule-set version that processed the current version.
    ruleset: Option<i64>,
}

fn load(store: &dyn cairn_store::Store, id: &str) -> Result<Option<Details>, String> {
    let err = |e: cairn_store::StoreError| e.to_string();
    let Some(current) = store.current(id).map_err(err)? else { return Ok(None) };
    let object: Map<String, Value> = serde_json::from_str(&current.raw).map_err(|e| e.to_string())?;
    let mut versions = store.versions(id).map_err(err)?;
    versions.sort_by_key(|v| std::cmp::Reverse(v.seq));
    let rules = match current.ruleset {
        Some(n) => {
            let set = crate::ingestion_rules::load_version(store, n)?;
            current
                .rules
                .iter()
                .map(|r| {
                    set.as_ref().and_then(|s| s.rules.iter().find(|x| &x.id == r)).map_or(r.clone(), |x| x.name.clone())
                })
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Some(Details {
        object,
        source: current.source.clone(),
        date_added: current.date_added,
        sources: store.sources_of(id).map_err(err)?,
        versions,
        origin: crate::curation::origin(store, id).ok(),
        graph: crate::curation::create::neighbourhood(store, id, 1, 40)?,
        enrichment: crate::enrichment::stored(store, id)?.unwrap_or(Value::Null),
        exports: Value::Array(crate::export::history(store, id).map_err(err)?),
        rules,
        ruleset: current.ruleset,
    }))
}

pub async fn page(State(state): State<SharedState>, user: PageUser, Path(id): Path<String>) -> Response {
    let store = state.pipeline.store().clone();
    let lookup = id.clone();
    let found =
        tokio::task::spawn_blocking(move || load(store.as_ref(), &lookup)).await.unwrap_or_else(|e| Err(e.to_string()));
    let d = match found {
        Ok(Some(d)) => d,
        Ok(None) => {
            return html_status(
                StatusCode::NOT_FOUND,
                layout::message("Not found", &user, &format!("There is no object {id}, or it was deleted.")),
            )
        }
        Err(e) => return html_status(StatusCode::INTERNAL_SERVER_ERROR, layout::message("Error", &user, &e)),
    };
    let title = display_name(&d.object);
    let can_write = user.principal.role >= Role::Contributor;
    let is_sdo = d.object.get("type").and_then(Value::as_str).is_some_and(|t| cairn_stix::spec::SDO_TYPES.contains(&t));
    let editable: Option<Vec<&str>> = d.origin.as_ref().and_then(|o| o.editable.clone());
    let body = html! {
        p.muted { (d.object.get("type").and_then(Value::as_str).unwrap_or("?")) " · " code { (id) } }
        @if d.object.get("revoked").and_then(Value::as_bool) == Some(true) { p.badge.revoked { "Revoked" } }
        div.row.actions {
            @if can_write {
                button #edit type="button" { "Edit" }
                @if is_sdo { a.button href={"/new?duplicate=" (id)} { "Duplicate" } }
                a.button href={"/relationships/new?source=" (id)} { "Add relationships" }
                button #revoke type="button" { "Revoke" }
                button #delete.danger type="button" { "Delete" }
            }
            a.button href={"/api/v1/objects/" (id)} { "JSON" }
        }
        p #status role="status" {}
        @if can_write {
            // The edit form: every property, locked ones disabled with the reason.
            script #edit-config type="application/json" {
                (PreEscaped(json_for_html(&serde_json::json!({"id": id, "object": d.object, "editable": editable,
                    "origin": d.origin.as_ref().map(|o| o.source.clone())}))))
            }
            form #editor hidden {}
        }
        div.columns {
            section {
                h2 { "Properties" }
                (properties(&d.object))
            }
            section {
                h2 { "TLP and tags" }
                p { "TLP: " strong { (tlp(&d.object)) } }
                p.tags {
                    @for t in d.object.get("labels").and_then(Value::as_array).into_iter().flatten() {
                        span.tag { (t.as_str().unwrap_or_default()) }
                    }
                }
                h2 { "Sources" }
                table { thead { tr { th { "Source" } th { "Kind" } th { "First seen" } th { "Last seen" } } }
                    tbody { @for s in &d.sources { tr { td { (s.source) } td { (s.kind) } td { (format_micros(s.first_seen)) } td { (format_micros(s.last_seen)) } } } } }
                p.muted {
                    "Current version stored " (format_micros(d.date_added)) " from " (d.source)
                    @if let Some(n) = d.ruleset { "; processed by ingestion rule set version " (n) } @else { "; no ingestion rules were set then" }
                }
                @if !d.rules.is_empty() {
                    h2 { "Changed by ingestion rules" }
                    ul { @for r in &d.rules { li { (r) } } }
                }
            }
        }
        h2 { "Relationships" }
        (relationships(&id, d.graph.as_ref()))
        h2 { "Version history" }
        (history(&d.versions))
        @if !d.enrichment.is_null() {
            h2 { "Enrichment" }
            pre.json { (serde_json::to_string_pretty(&d.enrichment).unwrap_or_default()) }
        }
        @if d.exports.as_array().is_some_and(|a| !a.is_empty()) {
            h2 { "Exports" }
            pre.json { (serde_json::to_string_pretty(&d.exports).unwrap_or_default()) }
        }
    };
    html(layout::page(&title, &user, "/explorer", &["object.js"], body))
}

/// What an object is called on screen: its name, else its value, pattern, or id.
pub fn display_name(o: &Map<String, Value>) -> String {
    ["name", "value", "pattern", "relationship_type", "id"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .unwrap_or("(unnamed)")
        .to_string()
}

fn value_cell(v: &Value) -> Markup {
    match v {
        Value::String(s) if is_stix_id(s) => html! { a href={"/objects/" (s)} { (s) } },
        Value::String(s) => html! { (s) },
        Value::Null => html! { span.muted { "null" } },
        Value::Bool(_) | Value::Number(_) => html! { (v.to_string()) },
        _ => html! { pre.json { (serde_json::to_string_pretty(v).unwrap_or_default()) } },
    }
}

fn tlp(o: &Map<String, Value>) -> String {
    let levels: Vec<&str> = cairn_condition::tlp_levels(&Value::Object(o.clone())).collect();
    if levels.is_empty() {
        "none".into()
    } else {
        levels.join(", ")
    }
}

fn is_stix_id(s: &str) -> bool {
    s.split_once("--").is_some_and(|(t, u)| {
        !t.is_empty()
            && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && uuid::Uuid::parse_str(u).is_ok()
    })
}

fn properties(o: &Map<String, Value>) -> Markup {
    html! {
        table.props { tbody {
            @for (k, v) in o {
                tr { th scope="row" { (k) } td { (value_cell(v)) } }
            }
        } }
    }
}

fn relationships(id: &str, g: Option<&Graph>) -> Markup {
    let Some(g) = g else { return html! { p.muted { "None." } } };
    if g.edges.is_empty() {
        return html! { p.muted { "None." } };
    }
    let name = |n: &str| -> String {
        g.nodes
            .get(n)
            .map(|v| format!("{} ({})", v["name"].as_str().unwrap_or(n), v["type"].as_str().unwrap_or("?")))
            .unwrap_or_else(|| n.to_string())
    };
    html! {
        figure.graph { (PreEscaped(graph_svg(id, g))) }
        table { thead { tr { th { "Source" } th { "Relationship" } th { "Target" } } }
            tbody { @for e in &g.edges {
                @let (s, t) = (e["source_ref"].as_str().unwrap_or(""), e["target_ref"].as_str().unwrap_or(""));
                tr {
                    td { a href={"/objects/" (s)} { (name(s)) } }
                    td { a href={"/objects/" (e["id"].as_str().unwrap_or(""))} { (e["relationship_type"].as_str().unwrap_or("sighting")) } }
                    td { a href={"/objects/" (t)} { (name(t)) } }
                }
            } }
        }
        @if g.truncated { p.muted { "Only the first 40 neighbours are shown." } }
    }
}

/// The neighbourhood as an SVG: the object in the middle, its neighbours on a circle,
/// each edge labelled with its relationship type. Text goes through maud, so it is
/// escaped like the rest of the page.
fn graph_svg(id: &str, g: &Graph) -> String {
    let others: Vec<&String> = g.nodes.keys().filter(|k| k.as_str() != id).collect();
    let (w, h, cx, cy) = (720.0f64, 420.0f64, 360.0f64, 210.0f64);
    let r = 160.0;
    let pos = |n: &str| -> (f64, f64) {
        match others.iter().position(|o| o.as_str() == n) {
            Some(i) => {
                let a = std::f64::consts::TAU * i as f64 / others.len().max(1) as f64 - std::f64::consts::FRAC_PI_2;
                (cx + r * 1.6 * a.cos(), cy + r * a.sin())
            }
            None => (cx, cy),
        }
    };
    let label = |n: &str| -> String {
        let v = g.nodes.get(n);
        let s = v.and_then(|v| v["name"].as_str()).unwrap_or(n);
        let s: String =
            if s.chars().count() > 28 { s.chars().take(27).chain(['…']).collect() } else { s.to_string() };
        s
    };
    let kind = |n: &str| g.nodes.get(n).and_then(|v| v["type"].as_str()).unwrap_or("?").to_string();
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (w) " " (h)} role="img" aria-label="Relationship graph" {
            @for e in &g.edges {
                @let (a, b) = (pos(e["source_ref"].as_str().unwrap_or("")), pos(e["target_ref"].as_str().unwrap_or("")));
                line x1=(a.0) y1=(a.1) x2=(b.0) y2=(b.1) class="edge" {}
                text x=((a.0 + b.0) / 2.0) y=((a.1 + b.1) / 2.0 - 4.0) class="edge-label" text-anchor="middle" {
                    (e["relationship_type"].as_str().unwrap_or("sighting"))
                }
            }
            @for n in g.nodes.keys() {
                @let p = pos(n);
                a href={"/objects/" (n)} {
                    circle cx=(p.0) cy=(p.1) r=(if n == id { 12 } else { 8 }) class={"node " (kind(n))} {}
                    text x=(p.0) y=(p.1 + 24.0) text-anchor="middle" class="node-label" { (label(n)) }
                }
            }
        }
    }
    .into_string()
}

fn history(versions: &[cairn_store::StoredVersion]) -> Markup {
    html! {
        table.history { thead { tr { th { "Stored" } th { "Source" } th { "Version" } th { "Changes from the version before" } } }
            tbody {
                @for (i, v) in versions.iter().enumerate() {
                    @let older = versions.get(i + 1);
                    tr {
                        td { (format_micros(v.date_added)) }
                        td { (v.source) }
                        td { @if v.tombstone { "deleted" } @else { (v.version_key.as_deref().unwrap_or("")) } }
                        td { (diff(older, v)) }
                    }
                }
            }
        }
    }
}

fn diff(older: Option<&cairn_store::StoredVersion>, newer: &cairn_store::StoredVersion) -> Markup {
    let Some(older) = older else { return html! { span.muted { "first version" } } };
    if newer.tombstone || older.tombstone {
        return html! {};
    }
    let (a, b): (Value, Value) = (
        serde_json::from_str(&older.raw).unwrap_or(Value::Null),
        serde_json::from_str(&newer.raw).unwrap_or(Value::Null),
    );
    let changed = crate::curation::changes(&a, &b);
    html! {
        ul.diff {
            @for (k, v) in &changed {
                @if k != "modified" {
                    li { code { (k) } ": "
                        @if let Some(old) = a.get(k) { del { (short(old)) } " → " }
                        @if v.is_null() { em { "removed" } } @else { ins { (short(v)) } } }
                }
            }
        }
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    if s.chars().count() > 120 {
        s.chars().take(119).chain(['…']).collect()
    } else {
        s
    }
}
