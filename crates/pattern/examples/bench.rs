//! Parse and validate timings for typical indicator patterns.
//!
//! `cargo run --release -p cairn-pattern --example bench`

use std::hint::black_box;
use std::time::Instant;

use cairn_pattern::{parse, validate, Version};

const PATTERNS: &[&str] = &[
    "[ipv4-addr:value = '198.51.100.3']",
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    "[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']",
    "[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']",
    "([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar']) WITHIN 300 SECONDS",
];

fn time(label: &str, pattern: &str, f: impl Fn(&str) -> bool) {
    const N: u32 = 100_000;
    assert!(f(pattern), "{pattern}");
    // The best of several rounds: the machine is shared, and the minimum is the cost.
    let per = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..N {
                black_box(f(black_box(pattern)));
            }
            start.elapsed() / N
        })
        .min()
        .expect("rounds");
    println!("{label:>8} {:>6} ns  {} chars  {}", per.as_nanos(), pattern.len(), &pattern[..pattern.len().min(60)]);
}

fn main() {
    for p in PATTERNS {
        time("parse", p, |s| parse(s, Version::V21).is_ok());
        time("validate", p, |s| validate(s, Version::V21).is_ok());
    }
}
