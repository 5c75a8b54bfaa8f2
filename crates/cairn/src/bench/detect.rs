//! `cairn bench match`: events/s through `cairn match`'s loop with N indicators loaded
//! from a SQLite store, and the index's memory per indicator; `cairn bench matcher`: the
//! pattern matcher on the reference matcher's own test suite.

use std::io::{BufReader, BufWriter, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_store::{Source, SourceKind, SqliteStore, Store};
use serde_json::{json, Value};

use crate::detect::{Detector, Mapping};
use crate::ingest::{ImportOptions, Pipeline};

/// A 32-bit mix (splitmix-style), so generated values look random but are reproducible.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Public-looking IPv4 addresses for indicators: 11.0.0.0–99.255.255.255 (events use
/// 10/8 for their own side, and 203/8 is kept for networks).
fn ip(i: u64) -> String {
    let v = mix(i);
    format!("{}.{}.{}.{}", 11 + v % 89, (v >> 8) & 255, (v >> 16) & 255, (v >> 24) & 255)
}

/// What kind of indicator `i` is: a realistic feed mix, per 1,000 indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ipv4,
    Ipv6,
    Cidr,
    Domain,
    Url,
    Sha256,
    Md5,
    Sha1,
    /// `[network-traffic:dst_ref.value = … AND network-traffic:dst_port = …]`
    Flow,
    /// `[ipv4-addr:value = … OR ipv4-addr:value = …]`
    Either,
    /// Two observations: `[domain-name:value = …] AND [url:value = …]`
    TwoObservations,
    Like,
}

fn kind(i: u64) -> Kind {
    match i % 1000 {
        0..400 => Kind::Ipv4,
        400..420 => Kind::Ipv6,
        420..450 => Kind::Cidr,
        450..670 => Kind::Domain,
        670..815 => Kind::Url,
        815..895 => Kind::Sha256,
        895..935 => Kind::Md5,
        935..955 => Kind::Sha1,
        955..980 => Kind::Flow,
        980..990 => Kind::Either,
        990..999 => Kind::TwoObservations,
        _ => Kind::Like,
    }
}

fn domain(i: u64) -> String {
    format!("h{:x}.bad{}.example", mix(i) & 0xffff_ffff, i % 977)
}

fn url(i: u64) -> String {
    format!("http://u{i}.example.net/path/{:x}", mix(i) & 0xffff)
}

fn hash(i: u64, hex_len: usize) -> String {
    let mut s = String::with_capacity(hex_len);
    let mut k = 0;
    while s.len() < hex_len {
        s.push_str(&format!("{:016x}", mix(i * 31 + k)));
        k += 1;
    }
    s.truncate(hex_len);
    s
}

fn pattern(i: u64) -> String {
    match kind(i) {
        Kind::Ipv4 => format!("[ipv4-addr:value = '{}']", ip(i)),
        Kind::Ipv6 => format!("[ipv6-addr:value = '2001:db8:{:x}::{:x}']", i & 0xffff, mix(i) & 0xffff),
        Kind::Cidr => {
            let v = mix(i);
            let len = [16, 24, 24, 28][(v % 4) as usize];
            format!("[ipv4-addr:value = '203.{}.{}.0/{len}']", (v >> 8) & 255, (v >> 16) & 255)
        }
        Kind::Domain => format!("[domain-name:value = '{}']", domain(i)),
        Kind::Url => format!("[url:value = '{}']", url(i)),
        Kind::Sha256 => format!("[file:hashes.'SHA-256' = '{}']", hash(i, 64)),
        Kind::Md5 => format!("[file:hashes.MD5 = '{}']", hash(i, 32)),
        Kind::Sha1 => format!("[file:hashes.'SHA-1' = '{}']", hash(i, 40)),
        Kind::Flow => format!(
            "[network-traffic:dst_ref.value = '{}' AND network-traffic:dst_port = {}]",
            ip(i),
            [443, 8443, 4444][(i % 3) as usize]
        ),
        Kind::Either => format!("[ipv4-addr:value = '{}' OR ipv4-addr:value = '{}']", ip(i), ip(i + (1 << 40))),
        Kind::TwoObservations => format!("[domain-name:value = '{}'] AND [url:value = '{}']", domain(i), url(i)),
        Kind::Like => format!("[url:value LIKE 'http://l{i}.example.org/%']"),
    }
}

fn indicator(i: u64) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{}", uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | u128::from(i))),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": pattern(i), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "confidence": i % 101,
        "labels": [if i.is_multiple_of(2) { "c2" } else { "malware" }, "bench"],
    })
}

/// An ECS event that hits the equality indicator `i` (which must be of a simple kind),
/// with a source address that hits nothing.
fn hit_event(i: u64, n: u64) -> String {
    let ts = "2026-11-22T10:00:00.000Z";
    let src = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    match kind(i) {
        Kind::Ipv4 => format!(
            r#"{{"@timestamp":"{ts}","event":{{"kind":"event","category":["network"]}},"source":{{"ip":"{src}","port":{}}},"destination":{{"ip":"{}","port":443}},"network":{{"transport":"tcp"}}}}"#,
            1024 + n % 60000,
            ip(i)
        ),
        Kind::Domain => format!(
            r#"{{"@timestamp":"{ts}","event":{{"kind":"event","category":["network"]}},"source":{{"ip":"{src}"}},"dns":{{"question":{{"name":"{}","type":"A"}}}}}}"#,
            domain(i)
        ),
        Kind::Url => format!(
            r#"{{"@timestamp":"{ts}","event":{{"kind":"event","category":["web"]}},"source":{{"ip":"{src}"}},"url":{{"full":"{}"}},"http":{{"request":{{"method":"GET"}}}}}}"#,
            url(i)
        ),
        Kind::Sha256 => format!(
            r#"{{"@timestamp":"{ts}","event":{{"kind":"event","category":["file"]}},"host":{{"name":"ws{n}"}},"file":{{"name":"a.exe","hash":{{"sha256":"{}"}}}}}}"#,
            hash(i, 64)
        ),
        other => unreachable!("hit events are for simple kinds, not {other:?}"),
    }
}

/// An event that matches nothing: the same shapes with values no indicator has.
fn miss_event(n: u64) -> String {
    let ts = "2026-11-22T10:00:00.000Z";
    format!(
        r#"{{"@timestamp":"{ts}","event":{{"kind":"event","category":["network"]}},"source":{{"ip":"10.{}.{}.{}","port":{}}},"destination":{{"ip":"172.16.{}.{}","port":443}},"url":{{"full":"http://ok{n}.example.com/"}},"network":{{"transport":"tcp"}}}}"#,
        (n >> 16) & 255,
        (n >> 8) & 255,
        n & 255,
        1024 + n % 60000,
        (n >> 8) & 255,
        n & 255
    )
}

/// An event that makes a compound (flow) indicator a candidate and matches it.
fn flow_event(i: u64, n: u64) -> String {
    format!(
        r#"{{"@timestamp":"2026-11-22T10:00:00.000Z","source":{{"ip":"10.0.{}.{}"}},"destination":{{"ip":"{}","port":{}}}}}"#,
        (n >> 8) & 255,
        n & 255,
        ip(i),
        [443, 8443, 4444][(i % 3) as usize]
    )
}

fn mib(b: usize) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Matches `events` (lines) with `cairn match`'s loop, output to a sink file; returns
/// (events/s, matches).
fn run_events(
    detector: &Detector,
    mapping: &Mapping,
    events: &[u8],
    threads: usize,
) -> anyhow::Result<(f64, u64, Duration)> {
    let mut best: Option<(Duration, u64)> = None;
    for _ in 0..3 {
        let mut input = BufReader::with_capacity(1 << 20, events);
        let sink = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
        let mut out = BufWriter::with_capacity(1 << 20, sink);
        let t = Instant::now();
        let s = crate::match_cli::match_lines_parallel(detector, mapping, &mut input, &mut out, None, threads)?;
        out.flush()?;
        let e = t.elapsed();
        if best.is_none_or(|(b, _)| e < b) {
            best = Some((e, s.matches));
        }
    }
    let (e, matches) = best.expect("three runs");
    let lines = events.iter().filter(|&&b| b == b'\n').count();
    Ok((lines as f64 / e.as_secs_f64(), matches, e))
}

pub fn bench_match(indicators: u64, events: u64) -> anyhow::Result<i32> {
    println!("# cairn bench match: {indicators} indicators, {events} events per run (best of 3, one thread)");
    // 1. Simple indicators alone, straight into an index: bytes per simple indicator.
    let simple: Vec<u64> = (0..indicators)
        .filter(|&i| matches!(kind(i), Kind::Ipv4 | Kind::Domain | Kind::Url | Kind::Sha256 | Kind::Md5 | Kind::Sha1))
        .collect();
    let raws: Vec<String> = simple.iter().map(|&i| indicator(i).to_string()).collect();
    let before = crate::alloc::live_bytes();
    let mut d = Detector::new(false);
    for r in &raws {
        assert!(d.insert_json(r, "bench"));
    }
    d.refresh();
    let used = crate::alloc::live_bytes().saturating_sub(before);
    if used > 0 {
        println!(
            "index memory, simple indicators only: {} indicators, {:.1} MiB, {:.0} bytes per indicator",
            d.len(),
            mib(used),
            used as f64 / d.len() as f64
        );
    } else {
        println!("index memory: not measured (this binary does not count allocations)");
    }
    drop(d);
    drop(raws);

    // 2. The realistic mix, through the pipeline into SQLite, loaded as `cairn match` does.
    // CAIRN_BENCH_KEEP=DIR keeps the store and the hit events there, for profiling
    // `cairn --data DIR/store match --events DIR/hits.jsonl` alone.
    let keep = std::env::var_os("CAIRN_BENCH_KEEP").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir()?;
    let store_dir = keep.as_ref().map(|k| k.join("store")).unwrap_or_else(|| tmp.path().to_path_buf());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(&store_dir)?);
    let mut data = Vec::with_capacity(indicators as usize * 400);
    for i in 0..indicators {
        serde_json::to_writer(&mut data, &indicator(i))?;
        data.push(b'\n');
    }
    let t = Instant::now();
    let pipeline = Pipeline::new(store.clone());
    let report = pipeline.import(
        &Source::new(SourceKind::File, "bench"),
        std::io::Cursor::new(data),
        ImportOptions::default(),
        &mut |_| {},
    )?;
    println!("store: {} indicators imported in {:.1} s", report.summary.created, t.elapsed().as_secs_f64());
    let before = crate::alloc::live_bytes();
    let t = Instant::now();
    let detector = Detector::load(store.as_ref(), false)?;
    let load = t.elapsed();
    let used = crate::alloc::live_bytes().saturating_sub(before);
    println!(
        "index load from the store: {} indicators in {:.2} s ({:.0} indicators/s); {:.1} MiB, {:.0} bytes per indicator (whole mix)",
        detector.len(),
        load.as_secs_f64(),
        detector.len() as f64 / load.as_secs_f64(),
        mib(used),
        used as f64 / detector.len().max(1) as f64
    );
    let mapping = Mapping::load("ecs")?;
    // 3. Events that each hit one equality indicator (IPv4, domain, URL, SHA-256 in turn).
    let hitters: Vec<u64> =
        (0..indicators).filter(|&i| matches!(kind(i), Kind::Ipv4 | Kind::Domain | Kind::Url | Kind::Sha256)).collect();
    let mut lines = Vec::new();
    for n in 0..events {
        let i = hitters[(mix(n) % hitters.len() as u64) as usize];
        lines.extend_from_slice(hit_event(i, n).as_bytes());
        lines.push(b'\n');
    }
    if let Some(k) = &keep {
        std::fs::write(k.join("hits.jsonl"), &lines)?;
    }
    let (rate, matches, e) = run_events(&detector, &mapping, &lines, 1)?;
    println!(
        "equality hits: {events} events ({:.0} bytes each), {matches} matches, {:.2} s: {:.0} events/s",
        lines.len() as f64 / events as f64,
        e.as_secs_f64(),
        rate
    );
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpus > 1 {
        let (rate, matches, e) = run_events(&detector, &mapping, &lines, cpus)?;
        println!(
            "equality hits on {cpus} threads (cairn match's default here): {matches} matches, {:.2} s: {:.0} events/s",
            e.as_secs_f64(),
            rate
        );
    }
    let mut lines = Vec::new();
    for n in 0..events {
        lines.extend_from_slice(miss_event(n).as_bytes());
        lines.push(b'\n');
    }
    let (rate, matches, e) = run_events(&detector, &mapping, &lines, 1)?;
    println!(
        "no hits (4 observables each): {events} events, {matches} matches, {:.2} s: {:.0} events/s",
        e.as_secs_f64(),
        rate
    );
    let flows: Vec<u64> = (0..indicators).filter(|&i| kind(i) == Kind::Flow).collect();
    if !flows.is_empty() {
        let n_flow = events / 10;
        let mut lines = Vec::new();
        for n in 0..n_flow {
            lines.extend_from_slice(flow_event(flows[(mix(n) % flows.len() as u64) as usize], n).as_bytes());
            lines.push(b'\n');
        }
        let (rate, matches, e) = run_events(&detector, &mapping, &lines, 1)?;
        println!(
            "compound hits (full evaluation of an AND pattern per event): {n_flow} events, {matches} matches, {:.2} s: {:.0} events/s",
            e.as_secs_f64(),
            rate
        );
    }
    if let Some(rss) = super::peak_rss_mib() {
        println!("peak RSS: {rss:.0} MiB");
    }
    Ok(0)
}

/// The reference matcher's v2.1 suite, as `cases.json` files of
/// `crates/pattern/tests/data/matcher/v21`.
pub fn bench_matcher(dir: &std::path::Path, rounds: usize) -> anyhow::Result<i32> {
    use cairn_pattern::{parse, Matcher, Observations, Version};
    let mut cases = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read the matcher cases in {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(f)?)?;
        for case in doc["cases"].as_array().into_iter().flatten() {
            if case.get("kind").is_some() {
                continue;
            }
            let obs = doc["observations"][case["observations"].as_u64().unwrap_or(0) as usize].as_array().cloned();
            let (Some(p), Some(v), Some(obs)) = (case["pattern"].as_str(), case["version"].as_str(), obs) else {
                continue;
            };
            cases.push((p.to_owned(), Version::from_reference_str(v), obs));
        }
    }
    let mut best = Duration::MAX;
    let mut verdicts = 0;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        verdicts = 0;
        for (p, v, obs) in &cases {
            let ok = parse(p, *v)
                .ok()
                .and_then(|p| Observations::new(obs, *v).and_then(|d| Matcher::new(&p)?.matches(&d)).ok());
            verdicts += usize::from(ok == Some(true));
            std::hint::black_box(ok);
        }
        best = best.min(t.elapsed());
    }
    println!("{}", json!({"cases": cases.len(), "matches": verdicts, "seconds": best.as_secs_f64(), "rounds": rounds}));
    Ok(0)
}
