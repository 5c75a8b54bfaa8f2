use std::sync::Arc;

use cairn_store::{Source, SourceKind, SqliteStore, Store};
use serde_json::{json, Value};

use super::*;
use crate::ingest::{ObjectOutcome, Pipeline};

fn setup() -> (Pipeline, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    (Pipeline::new(store), dir)
}

fn indicator(n: u32, pattern: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn ingest(p: &Pipeline, source: &str, objs: Vec<Value>) {
    let out = p.ingest_values(&Source::new(SourceKind::File, source), objs).unwrap();
    assert!(out.iter().all(|o| !matches!(o, ObjectOutcome::Rejected { .. })), "{out:?}");
}

fn ids(d: &Detector, m: &Mapping, line: &str) -> Vec<String> {
    let mut v: Vec<String> =
        d.match_line(m, line, 0).unwrap().into_iter().map(|m| m.indicator_id[35..].to_string()).collect();
    v.sort();
    v
}

const EV_IP: &str = r#"{"@timestamp":"2026-06-01T00:00:00Z","destination":{"ip":"198.51.100.7"}}"#;

#[test]
fn indicators_in_the_store_match_events() {
    let (p, _dir) = setup();
    ingest(
        &p,
        "feed-a",
        vec![
            indicator(1, "[ipv4-addr:value = '198.51.100.7']", json!({"confidence": 80, "labels": ["c2", "apt"]})),
            indicator(2, "[domain-name:value = 'evil.example']", json!({})),
            indicator(3, "[ipv4-addr:value = '198.51.100.7']", json!({"valid_until": "2026-03-01T00:00:00Z"})),
            indicator(4, "[ipv4-addr:value = '198.51.100.7']", json!({"valid_from": "2026-07-01T00:00:00Z"})),
            indicator(5, "alert tcp any any -> any 80", json!({"pattern_type": "snort"})),
        ],
    );
    let d = Detector::load(p.store().as_ref(), true).unwrap();
    assert_eq!(d.len(), 4);
    assert_eq!(d.skipped_type, 1);
    let m = Mapping::load("ecs").unwrap();
    let got = d.match_line(&m, EV_IP, 0).unwrap();
    assert_eq!(got.len(), 1, "only indicator 1 is valid on 2026-06-01: {got:?}");
    let g = &got[0];
    assert_eq!(g.indicator_id, "indicator--00000000-0000-4000-8000-000000000001");
    assert_eq!((g.observable_key.as_str(), g.observable_value.as_str()), ("ipv4-addr:value", "198.51.100.7"));
    assert_eq!(g.confidence, Some(80));
    assert_eq!(g.tags, ["apt", "c2"]);
    assert_eq!(g.source, "feed-a");
    // Before expiry, indicator 3 matches too; after valid_from, 4 does.
    let feb = r#"{"@timestamp":"2026-02-01T00:00:00Z","destination":{"ip":"198.51.100.7"}}"#;
    assert_eq!(ids(&d, &m, feb), ["000000000001", "000000000003"]);
    let aug = r#"{"@timestamp":"2026-08-01T00:00:00Z","destination":{"ip":"198.51.100.7"}}"#;
    assert_eq!(ids(&d, &m, aug), ["000000000001", "000000000004"]);
    // Without include_expired, indicator 3 (expired before today) is not loaded at all.
    let active = Detector::load(p.store().as_ref(), false).unwrap();
    assert_eq!(active.len(), 3);
}

#[test]
fn the_index_follows_every_change_in_the_store() {
    let (p, _dir) = setup();
    let store = p.store().clone();
    ingest(&p, "a", vec![indicator(1, "[ipv4-addr:value = '198.51.100.7']", json!({}))]);
    let mut d = Detector::load(store.as_ref(), false).unwrap();
    let m = Mapping::load("ecs").unwrap();
    assert_eq!(ids(&d, &m, EV_IP), ["000000000001"]);

    // A new version with another value replaces the old one.
    ingest(
        &p,
        "a",
        vec![indicator(1, "[ipv4-addr:value = '203.0.113.1']", json!({"modified": "2026-02-01T00:00:00.000Z"}))],
    );
    // An older version arriving late changes nothing.
    ingest(
        &p,
        "b",
        vec![indicator(
            1,
            "[ipv4-addr:value = '198.51.100.7']",
            json!({"modified": "2025-12-31T00:00:00.000Z", "created": "2025-12-31T00:00:00.000Z"}),
        )],
    );
    ingest(&p, "a", vec![indicator(2, "[ipv4-addr:value = '198.51.100.7']", json!({}))]);
    assert_eq!(d.catch_up(store.as_ref()).unwrap(), 2);
    assert_eq!(ids(&d, &m, EV_IP), ["000000000002"]);
    assert_eq!(ids(&d, &m, r#"{"@timestamp":"2026-06-01T00:00:00Z","source":{"ip":"203.0.113.1"}}"#), ["000000000001"]);

    // Revoked: gone.
    ingest(
        &p,
        "a",
        vec![indicator(
            2,
            "[ipv4-addr:value = '198.51.100.7']",
            json!({"modified": "2026-03-01T00:00:00.000Z", "revoked": true}),
        )],
    );
    d.catch_up(store.as_ref()).unwrap();
    assert!(ids(&d, &m, EV_IP).is_empty());

    // Deleted: gone. Expired by a new version: gone.
    ingest(&p, "a", vec![indicator(3, "[ipv4-addr:value = '198.51.100.7']", json!({}))]);
    d.catch_up(store.as_ref()).unwrap();
    assert_eq!(ids(&d, &m, EV_IP), ["000000000003"]);
    assert!(store
        .delete("indicator--00000000-0000-4000-8000-000000000003", &Source::new(SourceKind::Ui, "t"))
        .unwrap());
    ingest(
        &p,
        "a",
        vec![indicator(
            1,
            "[ipv4-addr:value = '203.0.113.1']",
            json!({"modified": "2026-04-01T00:00:00.000Z", "valid_until": "2026-04-01T00:00:00Z"}),
        )],
    );
    d.catch_up(store.as_ref()).unwrap();
    assert!(ids(&d, &m, EV_IP).is_empty());
    assert_eq!(d.len(), 0);
    // Nothing new: nothing re-read.
    assert_eq!(d.catch_up(store.as_ref()).unwrap(), 0);
}

#[test]
fn compound_and_network_indicators_match_through_the_store() {
    let (p, _dir) = setup();
    ingest(
        &p,
        "a",
        vec![
            indicator(
                1,
                "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]",
                json!({}),
            ),
            indicator(2, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", json!({})),
            indicator(3, "[url:value LIKE 'http://evil.%']", json!({})),
        ],
    );
    let d = Detector::load(p.store().as_ref(), false).unwrap();
    let m = Mapping::load("ecs").unwrap();
    let line = r#"{"@timestamp":"2026-06-01T00:00:00Z","destination":{"ip":"198.51.100.7","port":443},"url":{"full":"http://evil.example/x"}}"#;
    assert_eq!(ids(&d, &m, line), ["000000000001", "000000000002", "000000000003"]);
    let line = r#"{"@timestamp":"2026-06-01T00:00:00Z","destination":{"ip":"198.51.100.9","port":80}}"#;
    assert_eq!(ids(&d, &m, line), ["000000000002"]);
}

#[test]
fn matches_become_one_sighting_per_indicator_per_day() {
    let (p, _dir) = setup();
    ingest(&p, "a", vec![indicator(1, "[ipv4-addr:value = '198.51.100.7']", json!({}))]);
    let d = Detector::load(p.store().as_ref(), false).unwrap();
    let m = Mapping::load("ecs").unwrap();
    let src = Source::new(SourceKind::Detection, "test");
    let mut s = Sightings::new();
    for t in ["2026-06-01T10:00:00Z", "2026-06-01T08:00:00Z", "2026-06-02T01:00:00Z"] {
        let line = format!(r#"{{"@timestamp":"{t}","source":{{"ip":"198.51.100.7"}}}}"#);
        for x in d.match_line(&m, &line, 0).unwrap() {
            s.record(&x);
        }
    }
    assert_eq!(s.len(), 2);
    let f = s.flush(&p, &src).unwrap();
    assert_eq!((f.written, f.rejected.len()), (2, 0));
    let filter = cairn_store::Filter { types: vec!["sighting".into()], ..Default::default() };
    let list = p.store().list(&filter, None, 10).unwrap().items;
    assert_eq!(list.len(), 2);
    let first: Value = serde_json::from_str(&list[0].raw).unwrap();
    assert_eq!(first["sighting_of_ref"], "indicator--00000000-0000-4000-8000-000000000001");
    // Sighted by this instance, whose identity is stored once.
    let me = first["where_sighted_refs"][0].as_str().unwrap();
    assert_eq!(first["created_by_ref"], me);
    let identity: Value = serde_json::from_str(&p.store().current(me).unwrap().unwrap().raw).unwrap();
    assert_eq!(identity["identity_class"], "system");
    assert_eq!(first["count"], 2);
    assert_eq!(first["first_seen"], "2026-06-01T08:00:00.000000Z");
    assert_eq!(first["last_seen"], "2026-06-01T10:00:00.000000Z");
    // More matches the same day: a new version of the same sighting, counts added.
    let line = r#"{"@timestamp":"2026-06-01T23:00:00Z","source":{"ip":"198.51.100.7"}}"#;
    for x in d.match_line(&m, line, 0).unwrap() {
        s.record(&x);
    }
    s.flush(&p, &src).unwrap();
    let current = p.store().current(first["id"].as_str().unwrap()).unwrap().unwrap();
    let v: Value = serde_json::from_str(&current.raw).unwrap();
    assert_eq!(v["count"], 3);
    assert_eq!(v["first_seen"], "2026-06-01T08:00:00.000000Z");
    assert_eq!(v["last_seen"], "2026-06-01T23:00:00.000000Z");
    assert_eq!(v["created"], first["created"]);
    assert!(v["modified"].as_str() > first["modified"].as_str());
    assert_eq!(p.store().versions(first["id"].as_str().unwrap()).unwrap().len(), 2);
    assert_eq!(p.store().list(&filter, None, 10).unwrap().items.len(), 2);
    let identities = cairn_store::Filter { types: vec!["identity".into()], ..Default::default() };
    assert_eq!(p.store().list(&identities, None, 10).unwrap().items.len(), 1);
}

#[test]
fn a_watched_directory_is_tailed_and_resumed() {
    let (p, dir) = setup();
    ingest(&p, "a", vec![indicator(1, "[ipv4-addr:value = '198.51.100.7']", json!({}))]);
    let shared: watch::SharedDetector =
        Arc::new(std::sync::RwLock::new(Some(Detector::load(p.store().as_ref(), false).unwrap())));
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    let log = dir.path().join("matches.jsonl");
    let mapping = Arc::new(Mapping::load("ecs").unwrap());
    let file = events.join("fw.jsonl");
    let hit = r#"{"@timestamp":"2026-06-01T10:00:00Z","source":{"ip":"198.51.100.7"}}"#;
    let miss = r#"{"@timestamp":"2026-06-01T10:00:00Z","source":{"ip":"10.0.0.1"}}"#;
    std::fs::write(&file, format!("{hit}\n{miss}\nnot json\n{hit}")).unwrap();
    std::fs::write(events.join("ignored.txt"), format!("{hit}\n")).unwrap();
    // Sightings and offsets wait for the flush interval: a watcher that crashed before it
    // re-reads the lines.
    let mut w = watch::Watcher::new(p.store().as_ref(), events.clone(), mapping.clone(), None).unwrap();
    let st = w.poll(&shared, &p).unwrap();
    assert_eq!((st.lines, st.matches, st.sightings), (3, 1, 0));
    assert_eq!(w.poll(&shared, &p).unwrap().lines, 0, "it remembers where it is");
    drop(w);
    let zero = std::time::Duration::ZERO;
    let mut w = watch::Watcher::new(p.store().as_ref(), events.clone(), mapping.clone(), Some(log.clone()))
        .unwrap()
        .with_flush_every(zero);
    let st = w.poll(&shared, &p).unwrap();
    assert_eq!((st.lines, st.bad_lines, st.matches, st.sightings), (3, 1, 1, 1), "the unfinished last line waits");
    // The line is completed; a restarted watcher resumes from the stored offset.
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    std::io::Write::write_all(&mut f, b"\n").unwrap();
    let mut w = watch::Watcher::new(p.store().as_ref(), events.clone(), mapping.clone(), Some(log.clone()))
        .unwrap()
        .with_flush_every(zero);
    let st = w.poll(&shared, &p).unwrap();
    assert_eq!((st.lines, st.matches), (1, 1));
    assert_eq!(w.poll(&shared, &p).unwrap(), watch::PollStats::default());
    let lines: Vec<Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["event"]["source"]["ip"], "198.51.100.7");
    assert_eq!(lines[0]["indicator_id"], "indicator--00000000-0000-4000-8000-000000000001");
    // Truncated (rotated): read from the start again.
    std::fs::write(&file, format!("{hit}\n")).unwrap();
    assert_eq!(w.poll(&shared, &p).unwrap().matches, 1);
    let filter = cairn_store::Filter { types: vec!["sighting".into()], ..Default::default() };
    let s = &p.store().list(&filter, None, 10).unwrap().items[0];
    assert_eq!(serde_json::from_str::<Value>(&s.raw).unwrap()["count"], 3);
    assert_eq!(s.source, "watch:".to_string() + &events.display().to_string());
}
