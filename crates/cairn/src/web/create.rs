//! `/new`: "Add new → TI object". The forms come from the STIX tables in `cairn-stix`
//! (every SDO's properties, required ones marked, vocabularies as suggestions), so the UI
//! offers exactly what validation accepts. `create.js` checks the draft as it is typed
//! (`POST /api/v1/objects?dry_run=true`), and Add / Add and duplicate create it.

use axum::extract::Query;
use axum::response::Response;
use maud::{html, PreEscaped};
use serde::Deserialize;
use serde_json::{json, Value};

use super::explorer::json_for_html;
use super::{html, layout, PageUser};
use cairn_stix::spec::{spec_21, Prop, Ty, SDO_TYPES};

/// The common properties an analyst sets on any object (TLP has its own picker).
const COMMON: &[(&str, &str)] =
    &[("labels", "list"), ("confidence", "int"), ("lang", "text"), ("external_references", "json")];

#[derive(Deserialize)]
pub struct Params {
    /// Pre-fill from an object's common metadata ("Duplicate" on a details page).
    duplicate: Option<String>,
    #[serde(rename = "type")]
    stix_type: Option<String>,
}

fn prop(p: &Prop) -> Value {
    let (kind, values): (&str, &[&str]) = match p.ty {
        Ty::Str => ("text", &[]),
        Ty::Bool => ("bool", &[]),
        Ty::Int(..) => ("int", &[]),
        Ty::Float(..) => ("float", &[]),
        Ty::Timestamp | Ty::TimestampSecs => ("timestamp", &[]),
        Ty::Vocab(v) => ("vocab", v.values),
        Ty::Enum(v) => ("enum", v.values),
        Ty::Ref(_) => ("ref", &[]),
        _ => ("json", &[]),
    };
    json!({"name": p.name, "list": p.list, "kind": kind, "values": values})
}

/// Every SDO type's form: its properties and which are required.
pub fn forms() -> Value {
    let types: Vec<Value> = SDO_TYPES
        .iter()
        .filter_map(|t| spec_21(t).map(|s| (t, s)))
        .map(|(t, s)| json!({"type": t, "required": s.required, "props": s.props.iter().map(prop).collect::<Vec<_>>()}))
        .collect();
    let common: Vec<Value> =
        COMMON.iter().map(|(n, k)| json!({"name": n, "list": *k == "list", "kind": if *k == "list" { "text" } else { k }, "values": []})).collect();
    let tlp: Vec<Value> = cairn_stix::spec::TLP_MARKINGS
        .iter()
        .chain(cairn_stix::spec::TLP2_MARKINGS)
        .map(|(id, label, _)| json!({"id": id, "label": label, "v2": cairn_stix::spec::TLP2_MARKINGS.iter().any(|m| m.0 == *id)}))
        .collect();
    json!({"types": types, "common": common, "tlp": tlp})
}

pub async fn page(user: PageUser, Query(p): Query<Params>) -> Response {
    let config = json!({"forms": forms(), "duplicate": p.duplicate, "type": p.stix_type});
    let body = html! {
        script #create-config type="application/json" { (PreEscaped(json_for_html(&config))) }
        form #create novalidate {
            div.row {
                label { "Object type " select #type required {} }
                label { "TLP " select #tlp { option value="" { "none" } } }
            }
            p.muted { "Fields marked " span.req { "*" } " are required. The draft is checked as you type." }
            div #fields.fields {}
            fieldset #relationship {
                legend { "Relationship (optional)" }
                div.row {
                    label { "Type " input #rel-type list="rel-types" placeholder="e.g. indicates"; }
                    datalist #rel-types {}
                    label.grow { "Target " input #rel-search type="search" placeholder="search by name or value"; }
                }
                input #rel-target type="hidden";
                p #rel-picked.muted {}
                ul #rel-results.picker {}
            }
            ul #problems.error role="alert" {}
            div.row {
                button #add type="submit" { "Add" }
                button #add-dup type="button" { "Add and duplicate" }
            }
            p #status role="status" {}
        }
    };
    html(layout::page("Add new TI object", &user, "/new", &["create.js"], body))
}
