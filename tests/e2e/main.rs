//! End-to-end tests: the CLI as a real process, the HTTP API over a real socket.
//! One test binary (see DEVELOPERS.md: few integration-test binaries keep CI fast).

mod api;
mod browser;
mod cli;
mod curation;
mod hunting;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// Starts `cairn --data DATA serve --listen 127.0.0.1:0 ARGS…`; returns the process and the
/// first address it logs. The rest of its log is drained in the background, so the server
/// never blocks on a full pipe.
pub fn serve(data: &Path, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cairn serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = loop {
        let line = lines.next().expect("cairn serve exited before logging its address").expect("log");
        if let Some(u) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break u.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

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
