//! `/explorer`: the intel explorer. The page is the search builder's frame; `explorer.js`
//! runs the search through `POST /api/v1/search` and draws results and facets, so the
//! state of a search lives in the URL (`?s=` + JSON) and can be bookmarked.

use maud::{html, PreEscaped};
use serde_json::json;

use super::{html, layout, PageUser};
use crate::auth::Role;

pub async fn page(user: PageUser) -> axum::response::Response {
    let mut config = condition_config();
    config["sorts"] = json!(cairn_store::SortField::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    config["can_write"] = json!(user.principal.role >= Role::Contributor);
    let body = html! {
        // The configuration the script needs; JSON in a non-executable script element.
        script #explorer-config type="application/json" { (PreEscaped(json_for_html(&config))) }
        form #search role="search" {
            div.row {
                label { "Type " select #types { option value="" { "All types" } } }
                label.grow { "Keywords " input #keywords type="search" placeholder="value, name, pattern…"; }
                button type="submit" { "Search" }
            }
            fieldset #groups {
                legend { "Conditions: all within a group, any group (OR)" }
            }
            div.row {
                button #add-group type="button" { "+ OR group" }
                button #clear type="button" { "Clear" }
                @if user.principal.role >= Role::Admin {
                    button #as-collection type="button" title="Serve this search's types, sources and tags as a TAXII collection" { "Save as TAXII collection…" }
                }
            }
        }
        div.explorer {
            aside #facets aria-label="Facets" {}
            section.results {
                div #bulk.row.bulk hidden {
                    span #selected-count {}
                    @if user.principal.role >= Role::Contributor {
                        input #bulk-tags placeholder="tag, tag…" aria-label="Tags";
                        button #bulk-add type="button" { "Add tags" }
                        button #bulk-remove type="button" { "Remove tags" }
                        select #bulk-target aria-label="TAXII export target" { option value="" { "Export to…" } }
                        button #bulk-export type="button" { "Export" }
                        button #bulk-delete.danger type="button" { "Delete" }
                    }
                }
                p #status role="status" {}
                table #results {
                    thead { tr {
                        th { input #select-all type="checkbox" aria-label="Select all"; }
                        th { button.sort data-sort="type" type="button" { "Type" } }
                        th { button.sort data-sort="name" type="button" { "Name / value" } }
                        th { button.sort data-sort="source" type="button" { "Source" } }
                        th { button.sort data-sort="confidence" type="button" { "Confidence" } }
                        th { "TLP" }
                        th { "Tags" }
                        th { button.sort data-sort="valid_until" type="button" { "Valid until" } }
                        th { button.sort data-sort="modified" type="button" { "Modified" } }
                    } }
                    tbody {}
                }
                div.row.pager {
                    button #prev type="button" disabled { "← Previous" }
                    button #next type="button" disabled { "Next →" }
                }
            }
        }
    };
    html(layout::page("Intel explorer", &user, "/explorer", &["explorer.js"], body))
}

/// What a condition builder offers: the fields, the operators (and whether each takes
/// values), and every STIX type.
pub fn condition_config() -> serde_json::Value {
    json!({
        "fields": cairn_condition::Field::names().collect::<Vec<_>>(),
        "operators": cairn_condition::OPERATORS.iter().map(|o| json!({
            "name": o.name(),
            "values": o.arity() != cairn_condition::Arity::None,
        })).collect::<Vec<_>>(),
        "types": cairn_stix::spec::SDO_TYPES.iter().chain(cairn_stix::spec::SRO_TYPES).chain(cairn_stix::spec::SCO_TYPES).copied().collect::<Vec<_>>(),
    })
}

/// JSON that is safe inside a `<script>` element: `<` is escaped, so the text can never
/// close the element (`</script>`) or open a comment.
pub fn json_for_html(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}
