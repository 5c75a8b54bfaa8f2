//! KQL hunting over the HTTP API: queries, errors with their place, saved functions.

use std::sync::Arc;

use cairn::api::{self, ApiConfig, AppState};
use cairn::auth::{self, Role};
use cairn::ingest::Pipeline;
use cairn_store::{SqliteStore, Store};
use serde_json::{json, Value};

use crate::indicator;

/// A server on a fresh store, and tokens for a reader, a contributor and an admin.
async fn serve() -> (tempfile::TempDir, String, [String; 3]) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let tokens = [("rita", Role::Reader), ("carl", Role::Contributor), ("ada", Role::Admin)]
        .map(|(n, r)| auth::create_token(store.as_ref(), n, r).unwrap());
    let state = Arc::new(AppState::new(Pipeline::new(store), ApiConfig::default()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api::router(state)).await.unwrap() });
    (dir, base, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kql_queries_and_saved_functions_over_the_api() {
    let (_dir, base, [reader, contributor, _]) = serve().await;
    let c = reqwest::Client::new();
    let up =
        format!("{base}/workspaces/default/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview");
    let objs: Vec<Value> = (0..10)
        .map(|n| {
            let mut v = indicator(n, "2024-01-01T00:00:00.000Z");
            v["confidence"] = json!(n * 10);
            v
        })
        .collect();
    let r = c
        .post(&up)
        .bearer_auth(&contributor)
        .json(&json!({"sourcesystem": "vendor", "stixobjects": objs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let q = |body: Value| {
        let c = c.clone();
        let url = format!("{base}/api/v1/query");
        let t = reader.clone();
        async move {
            let r = c.post(url).bearer_auth(t).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, r) = q(json!({"query": "ThreatIntelIndicators | where Confidence >= 50 | summarize n = count(), top = max(Confidence) by SourceSystem | render barchart"})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["columns"],
        json!([{"name": "SourceSystem", "type": "string"}, {"name": "n", "type": "long"}, {"name": "top", "type": "long"}])
    );
    assert_eq!(r["rows"], json!([["vendor", 5, 90]]));
    assert_eq!(r["render"], json!({"chart": "barchart"}));
    let (_, r) = q(json!({"query": "ThreatIntelIndicators | project ObservableValue | order by ObservableValue asc", "max_rows": 3})).await;
    assert_eq!(r["rows"].as_array().unwrap().len(), 3);
    assert_eq!(r["truncated"], true);

    // A query that cannot run: 400, with the place.
    let (status, r) = q(json!({"query": "ThreatIntelIndicators\n| where Confidnce > 5"})).await;
    assert_eq!(status, 400);
    assert_eq!(r["error"], "unknown column 'Confidnce'; did you mean 'Confidence'?");
    assert_eq!((r["line"].as_u64(), r["column"].as_u64()), (Some(2), Some(9)));

    // Saved functions: readers cannot save; contributors can; queries call them.
    let f = format!("{base}/api/v1/functions/HighConfidence");
    let body = json!({"body": "(min:long = 70) { ThreatIntelIndicators | where Confidence >= min }", "description": "confident ones"});
    assert_eq!(c.put(&f).bearer_auth(&reader).json(&body).send().await.unwrap().status(), 403);
    assert_eq!(c.put(&f).bearer_auth(&contributor).json(&body).send().await.unwrap().status(), 200);
    let bad = c.put(&f).bearer_auth(&contributor).json(&json!({"body": "T | summarise count()"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("did you mean 'summarize'"));
    let (_, r) = q(json!({"query": "HighConfidence | count"})).await;
    assert_eq!(r["rows"], json!([[3]]));
    let (_, r) = q(json!({"query": "HighConfidence(85) | count"})).await;
    assert_eq!(r["rows"], json!([[1]]));
    let list: Value =
        c.get(format!("{base}/api/v1/functions")).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["functions"][0]["name"], "HighConfidence");
    assert_eq!(c.delete(&f).bearer_auth(&contributor).send().await.unwrap().status(), 204);
    let (status, r) = q(json!({"query": "HighConfidence | count"})).await;
    assert_eq!(status, 400);
    assert!(r["error"].as_str().unwrap().starts_with("unknown table or function 'HighConfidence'"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workbooks_charts_and_event_tables_over_the_api() {
    let (dir, base, [reader, contributor, admin]) = serve().await;
    let c = reqwest::Client::new();
    let up =
        format!("{base}/workspaces/default/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview");
    for (source, range) in [("vendor", 0..6), ("osint", 6..8)] {
        let objs: Vec<Value> = range.map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
        let r = c
            .post(&up)
            .bearer_auth(&contributor)
            .json(&json!({"sourcesystem": source, "stixobjects": objs}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // The shipped workbook is listed and renders: every tile a chart, no errors.
    let list: Value =
        c.get(format!("{base}/api/v1/workbooks")).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["workbooks"][0]["id"], "threat-intelligence");
    let r = c
        .get(format!("{base}/api/v1/workbooks/threat-intelligence/render?time_range=7d"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["time_range"]["grain"], "3h");
    for t in r["tiles"].as_array().unwrap() {
        assert!(t["error"].is_null(), "{}: {}", t["title"], t["error"]);
        assert!(t["svg"].as_str().unwrap().starts_with("<svg"), "{}", t["title"]);
    }
    let by_source =
        r["tiles"].as_array().unwrap().iter().find(|t| t["title"] == "Active indicators by source").unwrap();
    assert_eq!(by_source["result"]["rows"], json!([["vendor", 6], ["osint", 2]]));
    let svg = c
        .get(format!("{base}/api/v1/workbooks/threat-intelligence/tiles/6/svg"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml; charset=utf-8");
    let svg = svg.text().await.unwrap();
    assert!(svg.contains(">\nvendor\n<") && svg.contains(">\nosint\n<"), "{svg}");
    let bad = c
        .get(format!("{base}/api/v1/workbooks/threat-intelligence/render?time_range=7w"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // Import, export, replace, delete; readers cannot write; a broken tile is refused.
    let wb = json!({"id": "mine", "name": "Mine", "tiles": [
        {"title": "Sources", "query": "ThreatIntelIndicators | where TimeGenerated {TimeRange} | summarize n = dcount(Id) by SourceSystem | render piechart"}]});
    let url = format!("{base}/api/v1/workbooks");
    assert_eq!(c.post(&url).bearer_auth(&reader).json(&wb).send().await.unwrap().status(), 403);
    assert_eq!(c.post(&url).bearer_auth(&contributor).json(&wb).send().await.unwrap().status(), 201);
    assert_eq!(c.post(&url).bearer_auth(&contributor).json(&wb).send().await.unwrap().status(), 409);
    let got: Value = c.get(format!("{url}/mine")).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["tiles"][0]["title"], "Sources");
    let r: Value = c.get(format!("{url}/mine/render")).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["tiles"][0]["visualization"], "pie");
    assert!(r["tiles"][0]["svg"].as_str().unwrap().contains("vendor — 6 (75.0%)"));
    let broken =
        json!({"name": "Mine", "tiles": [{"title": "Sources", "query": "ThreatIntelIndicators | summarise count()"}]});
    let r = c.put(format!("{url}/mine")).bearer_auth(&contributor).json(&broken).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("did you mean 'summarize'"));
    assert_eq!(c.delete(format!("{url}/mine")).bearer_auth(&contributor).send().await.unwrap().status(), 204);
    assert_eq!(c.get(format!("{url}/mine")).bearer_auth(&reader).send().await.unwrap().status(), 404);

    // A query with render, drawn on request.
    let r: Value = c
        .post(format!("{base}/api/v1/query"))
        .bearer_auth(&reader)
        .json(&json!({"query": "ThreatIntelIndicators | summarize n = count() by SourceSystem | render columnchart", "chart": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["svg"].as_str().unwrap().contains(">\nosint\n<"), "{r}");

    // Event tables over HTTP: admin only; then joined with the intelligence.
    let events = dir.path().join("dns.jsonl");
    std::fs::write(&events, "{\"Name\": \"198.51.100.1\", \"TimeGenerated\": \"2024-01-01T00:00:00Z\"}\n{\"Name\": \"other.example.org\", \"TimeGenerated\": \"2024-01-01T00:00:00Z\"}\n").unwrap();
    let t = format!("{base}/api/v1/tables/DnsEvents");
    let body = json!({"path": events.to_str().unwrap()});
    assert_eq!(c.put(&t).bearer_auth(&contributor).json(&body).send().await.unwrap().status(), 403);
    assert_eq!(c.put(&t).bearer_auth(&admin).json(&body).send().await.unwrap().status(), 200);
    let missing = c.put(&t).bearer_auth(&admin).json(&json!({"path": "/nonexistent/x.jsonl"})).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    let r: Value = c
        .post(format!("{base}/api/v1/query"))
        .bearer_auth(&reader)
        .json(&json!({"query": "DnsEvents | join kind=inner (ThreatIntelIndicators | project ObservableValue, SourceSystem) on $left.Name == $right.ObservableValue | project Name, SourceSystem"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["rows"], json!([["198.51.100.1", "vendor"]]), "{r}");
    let list: Value =
        c.get(format!("{base}/api/v1/tables")).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["tables"][0]["name"], "DnsEvents");
    assert_eq!(c.delete(&t).bearer_auth(&admin).send().await.unwrap().status(), 204);
}
