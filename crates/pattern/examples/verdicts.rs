//! Differential-testing helper: reads patterns as JSON strings, one per line, on stdin and
//! prints one JSON array per line: `[verdict, first error, canonical form or null]`,
//! where verdict is `"valid"` or `"invalid"` (from [`cairn_pattern::validate`]).
//! It also checks, for every pattern the grammar accepts, that the canonical form parses
//! back to the same tree (and validates when the original did); a failure is reported as
//! the verdict `"roundtrip-bug"`.
//!
//! `cargo run -p cairn-pattern --example verdicts -- 2.1 < patterns.jsonl`

use std::io::{BufRead, Write};

use cairn_pattern::{parse, validate, Version};

fn main() {
    let version = Version::from_reference_str(&std::env::args().nth(1).unwrap_or_else(|| "2.1".into()));
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for line in stdin.lock().lines() {
        let pattern: String = serde_json::from_str(&line.expect("stdin")).expect("one JSON string per line");
        let verdict = validate(&pattern, version);
        let parsed = parse(&pattern, version);
        let canonical = parsed.as_ref().ok().map(|p| p.to_string());
        let mut row = match &verdict {
            Ok(_) => serde_json::json!(["valid", "", canonical]),
            Err(errs) => serde_json::json!(["invalid", errs[0].to_string(), canonical]),
        };
        if let (Ok(tree), Some(text)) = (&parsed, &canonical) {
            let again = parse(text, version);
            let revalid = validate(text, version).is_ok();
            if again.as_ref() != Ok(tree) || (verdict.is_ok() && !revalid) {
                row[0] = "roundtrip-bug".into();
                row[1] = format!("{again:?}").into();
            }
        }
        writeln!(out, "{row}").expect("stdout");
    }
}
