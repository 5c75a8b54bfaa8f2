//! Validates JSON lines from stdin and prints one verdict per line, for diffing against
//! other validators: `cargo run -p cairn-stix --example validate_jsonl < objects.jsonl`.
//!
//! Each input line is either a STIX object or `{"obj": <object>, "v": "2.0" | "2.1"}`
//! (`v` being the enclosing bundle's spec_version). Output lines are
//! `{"valid": bool, "errors": ["property: message [rule]", …], "warnings": […]}`.
//! With `REPEAT=n` in the environment it instead validates every object n times and prints
//! the throughput to stderr (a rough benchmark; build with `--release`).

use std::io::{BufRead, Write};

use cairn_stix::{validate, SpecVersion};
use serde_json::{json, Value};

fn main() {
    if let Some(n) = std::env::var("REPEAT").ok().and_then(|n| n.parse::<usize>().ok()) {
        return bench(n);
    }
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for line in stdin.lock().lines() {
        let line = line.expect("read stdin");
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                writeln!(out, "{}", json!({"valid": false, "errors": [format!("bad JSON: {e}")], "warnings": []}))
                    .unwrap();
                continue;
            }
        };
        let (obj, default) = match v.get("obj") {
            Some(o) => (o.clone(), v.get("v").and_then(Value::as_str).and_then(SpecVersion::parse)),
            None => (v, None),
        };
        let r = validate(&obj, default);
        let show = |f: &Vec<cairn_stix::Finding>| f.iter().map(ToString::to_string).collect::<Vec<_>>();
        writeln!(out, "{}", json!({"valid": r.is_valid(), "errors": show(&r.errors), "warnings": show(&r.warnings)}))
            .unwrap();
    }
}

fn bench(n: usize) {
    let objs: Vec<(Value, Option<SpecVersion>)> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .map(|v| match v.get("obj") {
            Some(o) => (o.clone(), v.get("v").and_then(Value::as_str).and_then(SpecVersion::parse)),
            None => (v, None),
        })
        .collect();
    let start = std::time::Instant::now();
    let mut findings = 0usize;
    for _ in 0..n {
        for (o, d) in &objs {
            let r = validate(o, *d);
            findings += r.errors.len() + r.warnings.len();
        }
    }
    let total = n * objs.len();
    let secs = start.elapsed().as_secs_f64();
    eprintln!("{total} objects in {secs:.3}s: {:.0} objects/s ({findings} findings)", total as f64 / secs);
}
