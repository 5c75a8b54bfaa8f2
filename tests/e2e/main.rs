//! End-to-end tests: the CLI as a real process, the HTTP API over a real socket.
//! One test binary (see DEVELOPERS.md: few integration-test binaries keep CI fast).

mod api;
mod browser;
mod cli;
mod curation;
mod hunting;

use serde_json::{json, Value};

/// A valid STIX 2.1 indicator whose id ends in `n`.
pub fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--6b4a1f2e-0c1d-4e5f-8a9b-{n:012x}"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": format!("indicator {n}"),
        "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", n % 250),
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}
