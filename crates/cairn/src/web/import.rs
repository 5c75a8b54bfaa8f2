//! `/import`: upload a CSV (Sentinel's templates) or STIX JSON file with its source and
//! invalid-entry policy, watch it upload, and see the history with each import's error
//! file. `import.js` posts the file to `/api/v1/imports`.

use axum::response::Response;
use maud::html;

use super::{html, layout, PageUser};
use crate::auth::Role;

pub async fn page(user: PageUser) -> Response {
    let body = html! {
        @if user.principal.role >= Role::Contributor {
            form #import.fields novalidate {
                label { "File (CSV or STIX JSON) " input #file type="file" accept=".csv,.json,.jsonl,text/csv,application/json" required; }
                label { "Source " input #source required placeholder="e.g. partner-feed"; }
                label { "Format "
                    select #format { option value="" { "from the file name" } option value="csv" { "CSV" } option value="json" { "STIX JSON" } }
                }
                label { "If some entries are invalid "
                    select #policy {
                        option value="valid-only" { "import the valid ones" }
                        option value="all-or-nothing" { "import nothing" }
                    }
                }
                div.row { button type="submit" { "Import" } }
                progress #progress max="100" value="0" hidden {}
            }
        }
        p #status role="status" {}
        h2 { "History" }
        table #history {
            thead { tr { th { "Started" } th { "File" } th { "Source" } th { "Policy" } th { "Entries" } th { "Imported" } th { "Rejected" } th { "By" } th { "Errors" } } }
            tbody {}
        }
    };
    html(layout::page("File import", &user, "/import", &["import.js"], body))
}
