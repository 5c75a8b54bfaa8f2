//! `cairn bench search`: explorer query latency over a large store.

use std::sync::Arc;
use std::time::Instant;

use cairn_condition::Condition;
use cairn_store::{SearchQuery, SortField, Source, SourceKind, SqliteStore, Store};
use serde_json::{json, Value};

use super::{indicator, peak_rss_mib, percentile};
use crate::ingest::{ImportOptions, Pipeline};

const TLP: [&str; 4] = [
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
];

/// The generated indicator `i`, with a TLP marking, a rare tag on one in a thousand and
/// a varied modified time.
fn object(i: usize) -> Value {
    let mut v = indicator(i, 0);
    v["object_marking_refs"] = json!([TLP[(i / 4) % 4]]);
    if i.is_multiple_of(1000) {
        v["labels"] = json!(["bench", "rare"]);
    }
    v["modified"] = json!(format!("2024-{:02}-{:02}T{:02}:00:00.000Z", 1 + i % 12, 1 + i % 28, i % 24));
    v
}

/// A store of `count` generated indicators from four sources, with its search index
/// built; in `dir`.
pub(super) fn load_store(dir: &std::path::Path, count: usize) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir)?);
    let pipeline = Pipeline::new(store.clone());
    let t = Instant::now();
    // Four sources, a quarter each.
    for part in 0..4 {
        let mut data = Vec::with_capacity(count / 4 * 500);
        for i in (part..count).step_by(4) {
            serde_json::to_writer(&mut data, &object(i))?;
            data.push(b'\n');
        }
        let source = Source::new(SourceKind::File, format!("bench-{part}"));
        pipeline.import(&source, std::io::Cursor::new(data), ImportOptions::default(), &mut |_| {})?;
    }
    println!("store: {count} indicators imported in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    while store.refresh_search(50_000)?.lag > 0 {}
    let secs = t.elapsed().as_secs_f64();
    println!("search index: built in {secs:.1} s = {:.0} objects/s", count as f64 / secs);
    Ok(store)
}

pub fn bench_search(count: usize, runs: usize) -> anyhow::Result<i32> {
    let tmp = tempfile::tempdir()?;
    // CAIRN_BENCH_KEEP=DIR keeps the store there, to study query plans afterwards.
    let dir = std::env::var_os("CAIRN_BENCH_KEEP").map(std::path::PathBuf::from).unwrap_or_else(|| tmp.path().into());
    let store = load_store(&dir, count)?;
    let cond = |v: Value| Condition::from_json(&v).expect("bench conditions are valid");
    let page = |types: &[&str], c: Value, sort: SortField, descending: bool| SearchQuery {
        types: types.iter().map(|t| t.to_string()).collect(),
        condition: cond(c),
        sort,
        descending,
        limit: 50,
        ..SearchQuery::default()
    };
    let mut queries: Vec<(&str, SearchQuery)> = vec![
        ("all objects, newest first", page(&[], json!({"all": []}), SortField::Modified, true)),
        (
            "indicators with confidence >= 80, newest first",
            page(
                &["indicator"],
                json!({"field": "confidence", "operator": "GreaterThanEqual", "value": 80}),
                SortField::Modified,
                true,
            ),
        ),
        (
            "rare tag (0.1%), newest first",
            page(
                &[],
                json!({"field": "tags", "operator": "ArrayContains", "value": "rare"}),
                SortField::Modified,
                true,
            ),
        ),
        (
            "source AND TLP, by name",
            page(
                &[],
                json!({"all": [{"field": "source", "operator": "Equals", "value": "bench-2"},
                               {"field": "tlp", "operator": "Equals", "value": "amber"}]}),
                SortField::Name,
                false,
            ),
        ),
        (
            "OR group (tag odd OR confidence < 10), by confidence",
            page(
                &[],
                json!({"any": [{"field": "tags", "operator": "ArrayContains", "value": "odd"},
                               {"field": "confidence", "operator": "LessThan", "value": 10}]}),
                SortField::Confidence,
                true,
            ),
        ),
        (
            "modified in March, oldest first",
            page(
                &[],
                json!({"all": [{"field": "modified", "operator": "OnOrAfterAbsolute", "value": "2024-03-01"},
                               {"field": "modified", "operator": "BeforeAbsolute", "value": "2024-04-01"}]}),
                SortField::Modified,
                false,
            ),
        ),
        (
            "keyword: a domain (FTS5)",
            SearchQuery {
                keywords: Some(format!("host{}", count / 2 + 1)),
                ..page(&[], json!({"all": []}), SortField::Modified, true)
            },
        ),
        (
            "keyword: 'generated' (every object)",
            SearchQuery {
                keywords: Some("generated".into()),
                ..page(&[], json!({"all": []}), SortField::Modified, true)
            },
        ),
    ];
    // The tenth page of the second query: keyset paging does not slow down with depth.
    let mut deep = queries[1].1.clone();
    for _ in 0..9 {
        deep.after = store.search(&deep)?.next;
    }
    queries.push(("... its tenth page", deep));
    println!("{:<52} {:>9} {:>9} {:>8}", "query (page of 50)", "p50 ms", "p95 ms", "results");
    for (name, q) in &queries {
        let mut ms = Vec::with_capacity(runs);
        let mut n = 0;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            n = store.search(q)?.items.len();
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        println!("{name:<52} {:>9.2} {:>9.2} {n:>8}", percentile(&ms, 0.5), percentile(&ms, 0.95));
    }
    for (name, q) in [(&queries[1].0, &queries[1].1), (&queries[2].0, &queries[2].1)] {
        let mut ms = Vec::new();
        let mut total = 0;
        for _ in 0..3 {
            let t = Instant::now();
            total = store.facets(q)?.total;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        println!("facets: {name:<44} {:>9.1} ms (median of 3), total {total}", ms[1]);
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib().unwrap_or(f64::NAN));
    Ok(0)
}
