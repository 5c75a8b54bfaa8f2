use std::sync::Arc;

use cairn_store::{Source, SourceKind, SqliteStore, Store};
use serde_json::{json, Value};

use super::*;
use crate::ingest::Pipeline;

/// 2026-01-10T00:00:00Z
const NOW: i64 = 1_768_003_200_000_000;

#[test]
fn time_ranges_fill_the_parameters() {
    let r = TimeRange::parse("7d", NOW).unwrap();
    assert_eq!((r.start, r.end), (NOW - 7 * DAY, NOW));
    assert_eq!(r.grain(), "3h");
    assert_eq!(
        r.substitute(
            "T | where TimeGenerated {TimeRange} | summarize count() by bin(TimeGenerated, {TimeRange:grain})"
        ),
        "T | where TimeGenerated >= ago(7d) | summarize count() by bin(TimeGenerated, 3h)"
    );
    assert_eq!(
        r.substitute("from {TimeRange:start} to {TimeRange:end}"),
        "from datetime(2026-01-03T00:00:00Z) to datetime(2026-01-10T00:00:00Z)"
    );
    let r = TimeRange::parse("2026-01-01T00:00:00Z..2026-01-02T00:00:00Z", NOW).unwrap();
    assert_eq!(r.grain(), "15m");
    assert_eq!(
        r.substitute("where T {TimeRange}"),
        "where T between (datetime(2026-01-01T00:00:00Z) .. datetime(2026-01-01T23:59:59.9999990Z))"
    );
    cairn_kql::parse(&r.substitute("T | where T {TimeRange} | where T < {TimeRange:end}")).unwrap();
    for (s, grain) in [("1d", "15m"), ("2d", "1h"), ("30d", "12h"), ("90d", "1d"), ("365d", "7d"), ("60m", "5m")] {
        assert_eq!(TimeRange::parse(s, NOW).unwrap().grain(), grain, "{s}");
    }
    for (bad, msg) in [
        ("7w", "unit is m, h or d"),
        ("0d", "not positive"),
        ("x", "use 24h"),
        ("2026-01-02T00:00:00Z..2026-01-01T00:00:00Z", "not after"),
    ] {
        let e = TimeRange::parse(bad, NOW).unwrap_err();
        assert!(e.contains(msg), "{bad}: {e}");
    }
}

fn ind(n: u32, pattern: &str, confidence: u8, revoked: bool) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
           "created": "2026-01-05T00:00:00.000Z", "modified": "2026-01-05T00:00:00.000Z", "pattern": pattern,
           "pattern_type": "stix", "valid_from": "2026-01-05T00:00:00Z", "confidence": confidence, "revoked": revoked})
}

fn loaded() -> (tempfile::TempDir, Workbooks) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let p = Pipeline::new(store.clone());
    let a = Source::new(SourceKind::Upload, "Feed A");
    let b = Source::new(SourceKind::Upload, "Feed B");
    p.ingest_values(
        &a,
        vec![
            ind(1, "[ipv4-addr:value = '203.0.113.1']", 90, false),
            ind(2, "[ipv4-addr:value = '203.0.113.2']", 60, false),
            ind(3, "[domain-name:value = 'evil.example']", 20, false),
            ind(4, "[url:value = 'https://evil.example/x']", 80, true),
        ],
    )
    .unwrap();
    // Feed B repeats one observable of feed A: that one is "seen in several sources".
    p.ingest_values(&b, vec![ind(11, "[ipv4-addr:value = '203.0.113.1']", 70, false)]).unwrap();
    // Sighted two days ago: inside the default 30-day range, whenever the test runs.
    let seen = chrono::Utc::now() - chrono::Duration::days(2);
    let (first, last) = (seen.format("%Y-%m-%dT%H:00:00Z").to_string(), seen.format("%Y-%m-%dT%H:30:00Z").to_string());
    p.ingest_values(
        &b,
        vec![json!({"type": "sighting", "spec_version": "2.1", "id": "sighting--00000000-0000-4000-8000-000000000001",
                    "created": "2026-01-06T00:00:00.000Z", "modified": "2026-01-06T00:00:00.000Z",
                    "sighting_of_ref": "indicator--00000000-0000-4000-8000-000000000001", "count": 3,
                    "first_seen": first, "last_seen": last})],
    )
    .unwrap();
    let h = Arc::new(Hunting::new(store).unwrap());
    (dir, Workbooks::new(h))
}

fn tile<'a>(tiles: &'a [RenderedTile], title: &str) -> &'a RenderedTile {
    tiles.iter().find(|t| t.title == title).unwrap_or_else(|| panic!("no tile {title}"))
}

fn rows(t: &RenderedTile) -> Vec<Vec<Value>> {
    let mut r = t.result.as_ref().unwrap().rows.clone();
    r.sort_by_key(|a| a.iter().map(|v| v.to_string()).collect::<Vec<_>>());
    r
}

#[test]
fn the_default_workbook_draws_every_tile_from_the_tables() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let _g = rt.enter();
    let (_dir, wbs) = loaded();
    let wb = wbs.get(DEFAULT_ID).unwrap().unwrap();
    check(&wb).unwrap();
    // The versions are stored "now" (TimeGenerated), so the range ends at the real now.
    let now = cairn_store::now_micros();
    let range = TimeRange::parse(&wb.time_range.default, now).unwrap();
    let tiles = wbs.render(&wb, &range, &ParamValues::new(), now);
    for t in &tiles {
        assert!(t.error.is_none(), "{}: {:?}\n{}", t.title, t.error, t.query);
        let svg = t.svg.as_deref().unwrap();
        assert!(svg.starts_with("<svg") && svg.contains(&t.title), "{}", t.title);
    }
    // Revoked indicators are not active: 4 of 5.
    assert_eq!(rows(tile(&tiles, "Active indicators")), vec![vec![json!(4)]]);
    assert_eq!(rows(tile(&tiles, "Indicators imported in the time range")), vec![vec![json!(5)]]);
    assert_eq!(
        rows(tile(&tiles, "Active indicators by type")),
        vec![vec![json!("domain-name"), json!(1)], vec![json!("ipv4-addr"), json!(3)]]
    );
    assert_eq!(
        rows(tile(&tiles, "Active indicators by source")),
        vec![vec![json!("Feed A"), json!(3)], vec![json!("Feed B"), json!(1)]]
    );
    assert_eq!(
        rows(tile(&tiles, "Active indicators by confidence")),
        vec![
            vec![json!("High (75-100)"), json!(1)],
            vec![json!("Low (1-49)"), json!(1)],
            vec![json!("Medium (50-74)"), json!(2)]
        ]
    );
    assert_eq!(
        rows(tile(&tiles, "Uniqueness of threat-intelligence sources")),
        vec![vec![json!("Seen in one source"), json!(2)], vec![json!("Seen in several sources"), json!(1)]]
    );
    // The by-type tile is drawn as stacked columns with a legend entry per type.
    let by_type = tile(&tiles, "Indicators imported by type");
    assert_eq!(by_type.visualization, Visualization::StackedColumn);
    for t in ["ipv4-addr", "domain-name", "url"] {
        assert!(by_type.svg.as_deref().unwrap().contains(&format!(">\n{t}\n</text>")), "legend {t}");
    }
    // Sightings: a series over the whole range, 3 in the bucket of last_seen, 0 elsewhere.
    let s = tile(&tiles, "Sightings over time");
    let r = &s.result.as_ref().unwrap().rows;
    assert_eq!(r.len(), 1);
    let counts: Vec<i64> = r[0][0].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(counts.iter().sum::<i64>(), 3);
    assert_eq!(counts.iter().filter(|c| **c != 0).count(), 1);
    assert_eq!(counts.len(), 60, "30 days in 12h steps");
    assert!(s.svg.as_deref().unwrap().contains("<polyline"));
    let recent = tile(&tiles, "Most recently updated indicators");
    assert_eq!(recent.result.as_ref().unwrap().rows.len(), 5);
}

#[test]
fn workbooks_are_saved_checked_and_the_default_comes_back() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let _g = rt.enter();
    let (_dir, wbs) = loaded();
    assert_eq!(wbs.list().unwrap().iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), [DEFAULT_ID]);
    let mut mine = Workbook {
        id: "ops".into(),
        name: "Ops".into(),
        description: String::new(),
        time_range: TimeRangeParam::default(),
        parameters: Vec::new(),
        tiles: vec![Tile {
            title: "By source".into(),
            query: "ThreatIntelIndicators | summarize n = dcount(Id) by SourceSystem | render piechart".into(),
            visualization: None,
            width: 1,
        }],
    };
    wbs.save(&mine).unwrap();
    // The JSON a user exports imports again unchanged.
    let exported = serde_json::to_string_pretty(&wbs.get("ops").unwrap().unwrap()).unwrap();
    assert_eq!(serde_json::from_str::<Workbook>(&exported).unwrap(), mine);
    // No visualization on the tile: the query's render decides.
    let now = cairn_store::now_micros();
    let t = wbs.render_tile(&mine.tiles[0], &TimeRange::parse("1d", now).unwrap(), &ParamValues::new(), now);
    assert_eq!(t.visualization, Visualization::Pie);
    assert!(t.svg.unwrap().contains("Feed A — 4 (80.0%)"));
    // A broken tile is refused by name, with the place of the mistake.
    mine.tiles[0].query = "ThreatIntelIndicators | wher x".into();
    let e = wbs.save(&mine).unwrap_err();
    assert!(e.contains("tile 'By source'") && e.contains("did you mean 'where'"), "{e}");
    let bad: Result<Workbook, _> = serde_json::from_value(
        json!({"id": "x", "name": "x", "tiles": [{"title": "t", "query": "T", "visualization": "radar"}]}),
    );
    assert!(bad.unwrap_err().to_string().contains("unknown variant `radar`"));
    // Editing the default stores a copy; deleting the copy restores the shipped one.
    let mut d = Workbooks::default_workbook();
    d.tiles.truncate(1);
    wbs.save(&d).unwrap();
    assert_eq!(wbs.get(DEFAULT_ID).unwrap().unwrap().tiles.len(), 1);
    assert!(wbs.delete(DEFAULT_ID).unwrap());
    assert_eq!(wbs.get(DEFAULT_ID).unwrap().unwrap(), Workbooks::default_workbook());
    assert_eq!(wbs.list().unwrap().len(), 2);
    // A tile whose query fails shows its error; the others still draw.
    // Text parameters: defaults, values given, unknown names refused, quotes escaped.
    let mut p = mine.clone();
    p.id = "lookup".into();
    p.parameters =
        vec![Parameter { name: "Indicator".into(), label: "Indicator".into(), default: "203.0.113.2".into() }];
    p.tiles[0].query =
        "ThreatIntelIndicators | where ObservableValue has \"{Indicator}\" | summarize n = count() by SourceSystem"
            .into();
    p.tiles[0].visualization = Some(Visualization::Table);
    wbs.save(&p).unwrap();
    let range = TimeRange::parse("1d", now).unwrap();
    let run = |given: &[(&str, &str)]| -> Result<Vec<Vec<Value>>, String> {
        let given: ParamValues = given.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let values = p.parameter_values(&given)?;
        let t = wbs.render_tile(&p.tiles[0], &range, &values, now);
        match t.error {
            Some(e) => Err(e),
            None => Ok(t.result.unwrap().rows),
        }
    };
    assert_eq!(run(&[]).unwrap(), vec![vec![json!("Feed A"), json!(1)]]);
    let mut both = run(&[("Indicator", "203.0.113.1")]).unwrap();
    both.sort_by_key(|r| r[0].to_string());
    assert_eq!(both, vec![vec![json!("Feed A"), json!(1)], vec![json!("Feed B"), json!(1)]]);
    assert_eq!(run(&[("Indicator", "x\" or 1 == 1 or \"")]).unwrap(), Vec::<Vec<Value>>::new());
    assert!(run(&[("Indicatr", "x")]).unwrap_err().contains("has no parameter 'Indicatr' (it has: Indicator)"));
    let broken = Tile { title: "Broken".into(), query: "NoSuchTable | count".into(), visualization: None, width: 1 };
    let t = wbs.render_tile(&broken, &TimeRange::parse("1d", now).unwrap(), &ParamValues::new(), now);
    assert!(t.error.unwrap().contains("NoSuchTable"));
}
