//! Differential-testing helper for the matcher: reads one JSON object per line on
//! stdin, `{"pattern": "…", "observed": [… as stix2-matcher takes it …], "version":
//! "2.1"}`, and prints one JSON array per line: `[outcome, observed-data indexes]`, the
//! outcome being `"match"`, `"no-match"`, `"parse-error"` or `"error"` (with the
//! error's text after it), as `stix2matcher.matcher.match` would answer.
//!
//! `cargo run -p cairn-pattern --example match_verdicts < cases.jsonl`

use std::io::{BufRead, Write};

use cairn_pattern::{parse, Matcher, Observations, Version};
use serde_json::{json, Value};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for line in stdin.lock().lines() {
        let case: Value = serde_json::from_str(&line.expect("stdin")).expect("one JSON object per line");
        let version = Version::from_reference_str(case["version"].as_str().unwrap_or("2.0"));
        let pattern = case["pattern"].as_str().expect("a pattern");
        let observed = case["observed"].as_array().map(Vec::as_slice).unwrap_or_default();
        let row = match parse(pattern, version) {
            Err(e) => json!(["parse-error", [], e.to_string()]),
            Ok(p) => match Observations::new(observed, version).and_then(|data| Matcher::new(&p)?.first_match(&data)) {
                Ok(sdos) if sdos.is_empty() => json!(["no-match", sdos]),
                Ok(sdos) => json!(["match", sdos]),
                Err(e) => json!(["error", [], e.to_string()]),
            },
        };
        writeln!(out, "{row}").expect("stdout");
    }
}
