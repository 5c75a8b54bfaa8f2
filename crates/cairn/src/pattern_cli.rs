//! `cairn pattern …`: check STIX patterns and match them against observed data.

use std::io::{self, BufRead, Write};

use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum PatternCommand {
    /// Validate patterns: the argument, or one per line from stdin ('-' or no argument).
    /// Prints VALID or INVALID: message per pattern; exit 0 when all are valid, 2 otherwise.
    Validate {
        pattern: Option<String>,
        /// One JSON line per pattern: {"pattern", "valid", "errors"}.
        #[arg(long)]
        json: bool,
        /// The STIX version of the patterns.
        #[arg(long, default_value = "2.1", value_parser = ["2.0", "2.1"])]
        stix_version: String,
    },
    /// Match a pattern against observed data (a bundle, or a JSON list of bundles, of
    /// observed-data and the objects they reference); prints MATCH or NO MATCH, exit 0 / 1.
    Match {
        #[arg(long)]
        pattern: String,
        /// The observed data file ('-' for stdin).
        #[arg(long)]
        observed: String,
        #[arg(long, default_value = "2.1", value_parser = ["2.0", "2.1"])]
        stix_version: String,
    },
}

fn version(v: &str) -> cairn_pattern::Version {
    if v == "2.0" {
        cairn_pattern::Version::V20
    } else {
        cairn_pattern::Version::V21
    }
}

pub fn run(cmd: PatternCommand) -> anyhow::Result<i32> {
    match cmd {
        PatternCommand::Validate { pattern, json: as_json, stix_version } => {
            let v = version(&stix_version);
            let patterns: Vec<String> = match pattern.as_deref() {
                Some(p) if p != "-" => vec![p.to_string()],
                _ => io::stdin().lock().lines().collect::<Result<_, _>>()?,
            };
            let stdout = io::stdout();
            let mut out = stdout.lock();
            let mut all_valid = true;
            for p in patterns.iter().filter(|p| !p.trim().is_empty() || pattern.is_some()) {
                let errors: Vec<String> = match cairn_pattern::validate(p, v) {
                    Ok(_) => Vec::new(),
                    Err(es) => es.iter().map(ToString::to_string).collect(),
                };
                all_valid &= errors.is_empty();
                if as_json {
                    writeln!(out, "{}", json!({ "pattern": p, "valid": errors.is_empty(), "errors": errors }))?;
                } else if errors.is_empty() {
                    writeln!(out, "VALID")?;
                } else {
                    writeln!(out, "INVALID: {}", errors.join("; "))?;
                }
            }
            Ok(if all_valid { 0 } else { 2 })
        }
        PatternCommand::Match { pattern, observed, stix_version } => {
            let v = version(&stix_version);
            // Exit 1 means NO MATCH, so every error here exits 2.
            let fail = |m: String| {
                eprintln!("error: {m}");
                Ok(2)
            };
            let parsed = match cairn_pattern::validate(&pattern, v) {
                Ok(p) => p,
                Err(es) => {
                    let m: Vec<String> = es.iter().map(ToString::to_string).collect();
                    return fail(format!("the pattern is not valid: {}", m.join("; ")));
                }
            };
            let text =
                if observed == "-" { io::read_to_string(io::stdin()) } else { std::fs::read_to_string(&observed) };
            let text = match text {
                Ok(t) => t,
                Err(e) => return fail(format!("cannot read {observed}: {e}")),
            };
            let data: Value = match serde_json::from_str(&text) {
                Ok(d) => d,
                Err(e) => return fail(format!("{observed}: not JSON: {e}")),
            };
            // A list as stix2-matcher takes it (2.1: bundles; 2.0: observed-data objects),
            // or a single bundle.
            let observations: Vec<Value> = match data {
                Value::Array(a) => a,
                Value::Object(b) if v == cairn_pattern::Version::V20 && b.get("type") == Some(&json!("bundle")) => {
                    b.get("objects").and_then(Value::as_array).cloned().unwrap_or_default()
                }
                other => vec![other],
            };
            match cairn_pattern::matches(&parsed, &observations, v) {
                Ok(true) => {
                    println!("MATCH");
                    Ok(0)
                }
                Ok(false) => {
                    println!("NO MATCH");
                    Ok(1)
                }
                Err(e) => fail(format!("cannot match: {e}")),
            }
        }
    }
}
