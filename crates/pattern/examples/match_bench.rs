//! Matcher timings over the reference matcher's own v2.1 test suite (the 423 cases of
//! `tests/data/matcher/v21/` that call `match`), for comparison with `stix2-matcher`
//! 3.0.0 on the same cases.
//!
//! `cargo run --release -p cairn-pattern --example match_bench`
//!
//! Two figures: "end to end" does per case what `stix2matcher.matcher.match(pattern,
//! observed, stix_version=…)` does (parse the pattern, read the observed data, match);
//! "prepared" matches a [`Matcher`] built once against [`Observations`] read once, the
//! way a caller matching many events against many indicators works. Each is the best of
//! several rounds (the machine may be shared; the minimum is the cost).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cairn_pattern::{parse, Matcher, Observations, Version};
use serde_json::Value;

const FILES: &[&str] = &[
    include_str!("../tests/data/matcher/v21/basic_ops.json"),
    include_str!("../tests/data/matcher/v21/binary.json"),
    include_str!("../tests/data/matcher/v21/comparison_exprs.json"),
    include_str!("../tests/data/matcher/v21/complex.json"),
    include_str!("../tests/data/matcher/v21/matching_sdos.json"),
    include_str!("../tests/data/matcher/v21/multi_sdo.json"),
    include_str!("../tests/data/matcher/v21/null.json"),
    include_str!("../tests/data/matcher/v21/object_path_quoting.json"),
    include_str!("../tests/data/matcher/v21/observation_exprs.json"),
    include_str!("../tests/data/matcher/v21/references.json"),
    include_str!("../tests/data/matcher/v21/temporal_qualifiers.json"),
    include_str!("../tests/data/matcher/v21/timestamps.json"),
    include_str!("../tests/data/matcher/v21/unicode_normalization.json"),
];

struct Case {
    pattern: String,
    observed: Vec<Value>,
    version: Version,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for text in FILES {
        let doc: Value = serde_json::from_str(text).expect("json");
        for case in doc["cases"].as_array().expect("cases") {
            if case.get("kind").is_some() {
                continue;
            }
            let observed = doc["observations"][case["observations"].as_u64().expect("index") as usize]
                .as_array()
                .expect("list")
                .clone();
            out.push(Case {
                pattern: case["pattern"].as_str().expect("pattern").to_owned(),
                observed,
                version: Version::from_reference_str(case["version"].as_str().expect("version")),
            });
        }
    }
    out
}

fn best(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .expect("rounds")
}

fn main() {
    let mut cases = cases();
    // `ONLY=text`: just the cases whose pattern contains it (for profiling).
    if let Ok(only) = std::env::var("ONLY") {
        cases.retain(|c| c.pattern.contains(&only));
    }
    if let Ok(skip) = std::env::var("SKIP") {
        cases.retain(|c| !c.pattern.contains(&skip));
    }
    let end_to_end = best(20, || {
        for c in &cases {
            let outcome = parse(&c.pattern, c.version)
                .ok()
                .map(|p| Observations::new(&c.observed, c.version).and_then(|d| Matcher::new(&p)?.matches(&d)));
            black_box(outcome);
        }
    });
    let prepared: Vec<(Matcher, Observations<'_>)> = cases
        .iter()
        .filter_map(|c| {
            let m = Matcher::new(&parse(&c.pattern, c.version).ok()?).ok()?;
            Some((m, Observations::new(&c.observed, c.version).ok()?))
        })
        .collect();
    let matched = best(20, || {
        for (m, d) in &prepared {
            black_box(m.matches(d).ok());
        }
    });
    if std::env::args().any(|a| a == "--slowest") {
        let mut times: Vec<(Duration, &str)> = cases
            .iter()
            .map(|c| {
                let t = best(5, || {
                    let p = parse(&c.pattern, c.version).ok();
                    black_box(p.map(|p| {
                        Observations::new(&c.observed, c.version).and_then(|d| Matcher::new(&p)?.matches(&d))
                    }));
                });
                (t, c.pattern.as_str())
            })
            .collect();
        times.sort_by_key(|t| std::cmp::Reverse(t.0));
        for (t, p) in times.iter().take(std::env::var("TOP").ok().and_then(|v| v.parse().ok()).unwrap_or(12)) {
            println!("{:>9.1} µs  {}", t.as_secs_f64() * 1e6, &p[..p.len().min(100)]);
        }
    }
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    println!("cases: {} ({} prepared)", cases.len(), prepared.len());
    println!(
        "end to end: {:>8.2} ms per suite, {:>7.2} µs per case",
        end_to_end.as_secs_f64() * 1e3,
        per(end_to_end, cases.len())
    );
    println!(
        "prepared:   {:>8.2} ms per suite, {:>7.2} µs per case",
        matched.as_secs_f64() * 1e3,
        per(matched, prepared.len())
    );
}
