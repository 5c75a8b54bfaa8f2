//! `/rules`: ingestion rules in the order they run, with an enable toggle, reordering,
//! a form with condition rows and action rows, a dry run ("matches N stored objects",
//! with a sample) and "apply to stored". `rules.js` draws it over `/api/v1/rules`;
//! changing rules is for admins, as the API says.

use axum::response::Response;
use maud::{html, PreEscaped};
use serde_json::json;

use super::explorer::{condition_config, json_for_html};
use super::{html, layout, PageUser};
use crate::auth::Role;

pub async fn page(user: PageUser) -> Response {
    let mut config = condition_config();
    config["can_admin"] = json!(user.principal.role >= Role::Admin);
    config["tlp"] = json!(["clear", "white", "green", "amber", "amber+strict", "red"]);
    let admin = user.principal.role >= Role::Admin;
    let body = html! {
        script #rules-config type="application/json" { (PreEscaped(json_for_html(&config))) }
        p.muted { "Rules run in this order on every object a selected source delivers, before it is stored." }
        p #status role="status" {}
        table #rules {
            thead { tr { th { "Order" } th { "Name" } th { "Type" } th { "Condition" } th { "Action" } th { "Sources" } th { "Enabled" } th {} } }
            tbody {}
        }
        @if admin {
            div.row { button #new-rule type="button" { "+ New rule" } }
        }
        form #rule-form hidden novalidate {
            h2 #rule-form-title { "New rule" }
            div.row {
                label { "Name " input #rule-name required; }
                label { "Object type " select #rule-type { option value="*" { "every type" } } }
                label { span { input #rule-enabled type="checkbox" checked; " enabled" } }
                fieldset.inline {
                    legend { "Acts on objects from" }
                    @for k in ["connector", "upload", "file", "taxii"] {
                        label { input type="checkbox" name="applies_to" value=(k); " " (k) }
                    }
                }
            }
            fieldset #rule-groups { legend { "Condition: all within a group, any group (OR); none = every object" } }
            div.row { button #rule-add-group type="button" { "+ OR group" } }
            fieldset #rule-action {
                legend { "Action" }
                div.row {
                    label { input type="radio" name="action" value="edit" checked; " edit" }
                    label { input type="radio" name="action" value="delete"; " delete (drop before storing)" }
                }
                div #edit-rows.fields {
                    label { "Add tags " input #a-add-tags placeholder="tag, tag…"; }
                    label { "Remove tags " input #a-remove-tags placeholder="tag, tag…"; }
                    label { "Set confidence " input #a-confidence type="number" min="0" max="100"; }
                    label { "Set TLP " select #a-tlp { option value="" { "unchanged" } } }
                    label { "Extend valid_until by days " input #a-extend type="number" min="1"; }
                    label { "Set valid_until " input #a-valid-until placeholder="2025-01-01T00:00:00Z"; }
                    label { span { input #a-revoke type="checkbox"; " revoke" } }
                }
            }
            ul #rule-problems.error role="alert" {}
            div.row {
                button #rule-save type="submit" { "Save" }
                button #rule-dry-run type="button" { "Dry run" }
                button #rule-cancel type="button" { "Cancel" }
            }
            div #dry-run role="status" {}
        }
    };
    html(layout::page("Ingestion rules", &user, "/rules", &["rules.js"], body))
}
