//! KQL hunting over the HTTP API: queries, errors with their place, saved functions.

use std::sync::Arc;

use cairn::api::{self, ApiConfig, AppState};
use cairn::auth::{self, Role};
use cairn::ingest::Pipeline;
use cairn_store::{SqliteStore, Store};
use serde_json::{json, Value};

use crate::indicator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kql_queries_and_saved_functions_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let reader = auth::create_token(store.as_ref(), "rita", Role::Reader).unwrap();
    let contributor = auth::create_token(store.as_ref(), "carl", Role::Contributor).unwrap();
    let state = Arc::new(AppState::new(Pipeline::new(store), ApiConfig::default()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api::router(state)).await.unwrap() });
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
