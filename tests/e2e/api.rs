//! The HTTP API, including the Sentinel-compatible upload API.

use std::sync::Arc;

use base64::Engine;
use cairn::api::{self, ApiConfig, AppState};
use cairn::auth::{self, Role};
use cairn::ingest::Pipeline;
use cairn_store::{SqliteStore, Store};
use serde_json::{json, Value};

use crate::indicator;

struct Server {
    base: String,
    admin: String,
    reader: String,
    instance: String,
    _dir: tempfile::TempDir,
}

async fn start(config: ApiConfig) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let admin = auth::create_token(store.as_ref(), "ada", Role::Admin).unwrap();
    let reader = auth::create_token(store.as_ref(), "rita", Role::Reader).unwrap();
    auth::add_user(store.as_ref(), "carl", Role::Contributor, "carl-password").unwrap();
    let instance = store.instance_id().unwrap();
    let state = Arc::new(AppState::new(Pipeline::new(store), config).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api::router(state)).await.unwrap() });
    Server { base, admin, reader, instance, _dir: dir }
}

fn upload_url(s: &Server, workspace: &str) -> String {
    format!("{}/workspaces/{workspace}/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview", s.base)
}

#[tokio::test]
async fn health_needs_no_auth_but_objects_do() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    let r = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    let r = c.get(format!("{}/api/v1/objects", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").unwrap().to_str().unwrap().contains("Basic"));
    let r = c.get(format!("{}/api/v1/objects", s.base)).bearer_auth("cairn_wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c.get(format!("{}/api/v1/objects", s.base)).bearer_auth(&s.reader).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["objects"], json!([]));
}

#[tokio::test]
async fn upload_all_valid_partial_and_malformed() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    // All valid: 200 and an empty body.
    let body = json!({"sourcesystem": "feed-a", "stixobjects": [indicator(1, "2024-01-01T00:00:00.000Z"), indicator(2, "2024-01-01T00:00:00.000Z")]});
    let r = c.post(upload_url(&s, &s.instance)).bearer_auth(&s.admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    // Partial: 200 with the failing record's 0-based index and the property named.
    let mut bad = indicator(3, "2024-01-01T00:00:00.000Z");
    bad.as_object_mut().unwrap().remove("pattern");
    let body = json!({"sourcesystem": "feed-a", "stixobjects": [indicator(4, "2024-01-01T00:00:00.000Z"), bad]});
    let r = c.post(upload_url(&s, "default")).bearer_auth(&s.admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["recordIndex"], 1);
    let msg = v["errors"][0]["errorMessages"][0].as_str().unwrap();
    assert!(msg.starts_with("Error for Property=pattern"), "{msg}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    // The valid ones are stored with their source.
    let r = c.get(format!("{}/api/v1/objects?source=feed-a", s.base)).bearer_auth(&s.reader).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["objects"].as_array().unwrap().len(), 3);
    // Malformed bodies: 400 with a reason.
    for raw in [
        "{not json",
        "[]",
        r#"{"stixobjects": []}"#,
        r#"{"sourcesystem": "x"}"#,
        r#"{"sourcesystem": "x", "stixobjects": 5}"#,
    ] {
        let r = c
            .post(upload_url(&s, "default"))
            .bearer_auth(&s.admin)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{raw}");
        assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().len() > 10);
    }
    // No credentials: 401. Reader: 403. Unknown workspace: 404.
    let r = c.post(upload_url(&s, "default")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c.post(upload_url(&s, "default")).bearer_auth(&s.reader).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = c.post(upload_url(&s, "not-this-one")).bearer_auth(&s.admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn upload_with_basic_auth_legacy_shape_and_object_cap() {
    let s = start(ApiConfig { upload_max_objects: 3, ..ApiConfig::default() }).await;
    let c = reqwest::Client::new();
    let legacy = format!("{}/workspaces/default/threatintelligenceindicators:upload?api-version=2022-07-01", s.base);
    let ident = json!({"type": "identity", "spec_version": "2.1", "id": "identity--6b4a1f2e-0c1d-4e5f-8a9b-000000000001",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "x"});
    let body = json!({"sourcesystem": "legacy", "indicators": [indicator(10, "2024-01-01T00:00:00.000Z"), ident]});
    let r = c.post(&legacy).basic_auth("carl", Some("carl-password")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["recordIndex"], 1);
    let r = c.post(&legacy).basic_auth("carl", Some("wrong-password")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let four: Vec<Value> = (20..24).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let r = c
        .post(upload_url(&s, "default"))
        .bearer_auth(&s.admin)
        .json(&json!({"sourcesystem": "x", "stixobjects": four}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("limit is 3"));
}

#[tokio::test]
async fn upload_rate_limit_answers_429() {
    let s = start(ApiConfig { upload_rate_limit: Some(2), upload_max_objects: 100, ..ApiConfig::default() }).await;
    let c = reqwest::Client::new();
    let body = json!({"sourcesystem": "x", "stixobjects": [indicator(30, "2024-01-01T00:00:00.000Z")]});
    for _ in 0..2 {
        let r = c.post(upload_url(&s, "default")).bearer_auth(&s.admin).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = c.post(upload_url(&s, "default")).bearer_auth(&s.admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["statusCode"], 429);
    assert!(v["message"].as_str().unwrap().starts_with("Rate limit is exceeded. Try again in "));
}

#[tokio::test]
async fn object_versions_sources_and_delete() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    let v1 = indicator(40, "2024-01-01T00:00:00.000Z");
    let mut v2 = indicator(40, "2024-02-01T00:00:00.000Z");
    v2["x_acme_score"] = json!(7.5);
    let id = v1["id"].as_str().unwrap().to_string();
    for (src, objs) in [("a", vec![v1.clone()]), ("b", vec![v2.clone()])] {
        let r = c
            .post(upload_url(&s, "default"))
            .bearer_auth(&s.admin)
            .json(&json!({"sourcesystem": src, "stixobjects": objs}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = c.get(format!("{}/api/v1/objects/{id}", s.base)).bearer_auth(&s.reader).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], v2, "served as stored, custom properties included");
    assert_eq!(v["version"], "2024-02-01T00:00:00.000Z");
    let names: Vec<&str> = v["sources"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["a", "b"]);
    assert!(v["sources"][0]["first_seen"].as_str().unwrap().ends_with('Z'));
    // A reader may not delete.
    let r = c.delete(format!("{}/api/v1/objects/{id}", s.base)).bearer_auth(&s.reader).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = c.delete(format!("{}/api/v1/objects/{id}", s.base)).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{}/api/v1/objects/{id}", s.base)).bearer_auth(&s.reader).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c.delete(format!("{}/api/v1/objects/{id}", s.base)).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(format!("{}/api/v1/objects/{id}/versions", s.base)).bearer_auth(&s.reader).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0]["object"], v1);
    assert_eq!(versions[2]["deleted"], true);
    let dates: Vec<&str> = versions.iter().map(|x| x["date_added"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");
}

#[tokio::test]
async fn listing_pages_with_a_cursor_and_filters() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    let objs: Vec<Value> = (100..125).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let r = c
        .post(upload_url(&s, "default"))
        .bearer_auth(&s.admin)
        .json(&json!({"sourcesystem": "p", "stixobjects": objs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut seen = Vec::new();
    let mut url = format!("{}/api/v1/objects?type=indicator&limit=10", s.base);
    loop {
        let v: Value = c.get(&url).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
        seen.extend(v["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()));
        match v["next"].as_str() {
            Some(n) => url = format!("{}/api/v1/objects?type=indicator&limit=10&after={n}", s.base),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let ids = objs_ids(&seen);
    assert_eq!(ids, 25, "no repeats");
    let v: Value = c
        .get(format!("{}/api/v1/objects?type=malware,tool", s.base))
        .bearer_auth(&s.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["objects"], json!([]));
    let r = c.get(format!("{}/api/v1/objects?limit=0", s.base)).bearer_auth(&s.reader).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Basic auth works on reads too.
    let basic = base64::engine::general_purpose::STANDARD.encode("carl:carl-password");
    let r = c
        .get(format!("{}/api/v1/objects?limit=1", s.base))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn objs_ids(seen: &[String]) -> usize {
    let mut v = seen.to_vec();
    v.sort();
    v.dedup();
    v.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_collections_and_a_connector_polling_this_server() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    let objs: Vec<Value> = (200..260).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let r = c
        .post(upload_url(&s, "default"))
        .bearer_auth(&s.admin)
        .json(&json!({"sourcesystem": "seed", "stixobjects": objs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Collections: admin only; bad definitions are refused with the reason.
    let url = format!("{}/api/v1/collections", s.base);
    let def = json!({"title": "everything", "types": ["indicator"]});
    let r = c.post(&url).bearer_auth(&s.reader).json(&def).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = c.post(&url).bearer_auth(&s.admin).json(&def).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = c.post(&url).bearer_auth(&s.admin).json(&json!({"title": "x", "tlp": "purple"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("purple"));
    let v: Value = c.get(&url).bearer_auth(&s.admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["collections"].as_array().unwrap().len(), 1);
    // A connector that polls this very server's collection, in pages of 7.
    let conn = json!({"name": "self", "api_root": format!("{}/taxii2/api/", s.base), "collection": id,
        "auth": {"kind": "token", "token": s.reader}, "lookback": "all", "interval": "1h", "page_size": 7});
    let curl = format!("{}/api/v1/connectors", s.base);
    let r = c.post(&curl).bearer_auth(&s.admin).json(&conn).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = c.post(format!("{curl}/self/run")).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let counts: Value = r.json().await.unwrap();
    assert_eq!(counts["received"], 60);
    assert_eq!(counts["unchanged"], 60, "the same objects, already stored: nothing duplicated");
    assert_eq!(counts["pages"], 9);
    let v: Value = c.get(&curl).bearer_auth(&s.admin).send().await.unwrap().json().await.unwrap();
    let listed = &v["connectors"][0];
    assert!(listed["checkpoint"].is_string() && listed["last_error"].is_null());
    assert!(!listed.to_string().contains(&s.reader), "credentials are never shown");
    // A connector whose server refuses it reports the server's message.
    let bad = json!({"name": "bad", "api_root": format!("{}/taxii2/api/", s.base), "collection": id,
        "auth": {"kind": "token", "token": "cairn_wrong"}, "lookback": "all", "interval": "1h"});
    assert_eq!(c.post(&curl).bearer_auth(&s.admin).json(&bad).send().await.unwrap().status(), 201);
    let r = c.post(format!("{curl}/bad/run")).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("401"));
    // Export through the API to this server's own writable collection; history per object.
    let r = c.post(&url).bearer_auth(&s.admin).json(&json!({"title": "inbox", "writable": true})).send().await.unwrap();
    let inbox = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let target = json!({"name": "self", "api_root": format!("{}/taxii2/api/", s.base), "collection": inbox,
        "auth": {"kind": "token", "token": s.admin}});
    let turl = format!("{}/api/v1/export-targets", s.base);
    assert_eq!(c.post(&turl).bearer_auth(&s.admin).json(&target).send().await.unwrap().status(), 201);
    let listed = c.get(&turl).bearer_auth(&s.admin).send().await.unwrap().text().await.unwrap();
    assert!(listed.contains("\"token\"") && !listed.contains(&s.admin), "{listed}");
    let one = indicator(201, "2024-01-01T00:00:00.000Z")["id"].as_str().unwrap().to_string();
    let eurl = format!("{}/api/v1/exports", s.base);
    let r = c.post(&eurl).bearer_auth(&s.reader).json(&json!({"target": "self", "ids": [one]})).send().await.unwrap();
    assert_eq!(r.status(), 403, "readers do not export");
    let rec: Value = c
        .post(&eurl)
        .bearer_auth(&s.admin)
        .json(&json!({"target": "self", "ids": [one]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((rec["status"].as_str(), rec["succeeded"].as_u64()), (Some("complete"), Some(1)));
    let h: Value = c
        .get(format!("{}/api/v1/objects/{one}/exports", s.base))
        .bearer_auth(&s.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["exports"][0]["target"], "self");
    assert_eq!(h["exports"][0]["ok"], true);
    let v: Value = c.get(&eurl).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["exports"].as_array().unwrap().len(), 1);
    // JSON that is not an envelope: 422, as a TAXII error resource.
    let r = c
        .post(format!("{}/taxii2/api/collections/{inbox}/objects/", s.base))
        .bearer_auth(&s.admin)
        .header("content-type", "application/taxii+json;version=2.1")
        .body(r#"{"objects": {"not": "a list"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["http_status"], "422");
}

/// A TAXII server that fails first (500, then 429 with Retry-After) and then answers:
/// the connector retries, honours the wait, and stores everything once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_retries_5xx_and_honours_429() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let objects: Vec<Value> = (400..403).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let body = json!({"more": false, "objects": objects});
    let app = axum::Router::new().route(
        "/api/collections/c1/objects/",
        axum::routing::get(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move {
                use axum::response::IntoResponse;
                match n {
                    0 => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response(),
                    1 => {
                        (axum::http::StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response()
                    }
                    _ => (
                        [
                            ("content-type", "application/taxii+json;version=2.1"),
                            ("x-taxii-date-added-last", "2024-05-01T00:00:00.000000Z"),
                        ],
                        body.to_string(),
                    )
                        .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}/api/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let result = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
                .arg("--data")
                .arg(&data)
                .args(args)
                .output()
                .unwrap()
        };
        let o = run(&["connector", "add", "taxii", "--name", "flaky", "--api-root", &root, "--collection", "c1"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let started = std::time::Instant::now();
        let o = run(&["connector", "run", "flaky"]);
        (o, started.elapsed())
    })
    .await
    .unwrap();
    let (o, took) = result;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let counts: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((counts["received"].as_u64(), counts["created"].as_u64()), (Some(3), Some(3)));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one failure, one throttle, one success");
    assert!(took >= std::time::Duration::from_secs(1), "Retry-After was honoured ({took:?})");
}

/// The scheduler in `serve`: due connectors poll on their own; a connector stuck retrying
/// an unreachable server does not hold up another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_connectors_run_independently() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    let objs: Vec<Value> = (500..540).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let r = c
        .post(upload_url(&s, "default"))
        .bearer_auth(&s.admin)
        .json(&json!({"sourcesystem": "seed", "stixobjects": objs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{}/api/v1/collections", s.base))
        .bearer_auth(&s.admin)
        .json(&json!({"title": "all"}))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // A second Cairn whose connectors poll the first.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let conn = |name: &str, root: String| cairn::connector::ConnectorConfig {
        name: name.into(),
        api_root: root,
        collection: id.clone(),
        auth: cairn::connector::ConnectorAuth::Token { token: s.reader.clone() },
        lookback: "all".into(),
        interval: "1h".into(),
        page_size: 15,
    };
    cairn::connector::add(store.as_ref(), &conn("dead", "http://127.0.0.1:9/taxii2/api/".into())).unwrap();
    cairn::connector::add(store.as_ref(), &conn("live", format!("{}/taxii2/api/", s.base))).unwrap();
    let task =
        tokio::spawn(cairn::connector::schedule(Pipeline::new(store.clone()), std::time::Duration::from_millis(100)));
    let started = std::time::Instant::now();
    let status = loop {
        let st = store.clone();
        let list = tokio::task::spawn_blocking(move || cairn::connector::list(st.as_ref()).unwrap()).await.unwrap();
        let live = list.iter().find(|(c, _)| c.name == "live").unwrap().1.clone();
        let dead = list.iter().find(|(c, _)| c.name == "dead").unwrap().1.clone();
        if live.last_success.is_some() || started.elapsed() > std::time::Duration::from_secs(20) {
            break (live, dead);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let (live, dead) = status;
    assert!(live.last_success.is_some(), "the live connector ran: {live:?}");
    assert_eq!(live.last_counts.created, 40);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "not held up by the dead one: {:?}",
        started.elapsed()
    );
    assert!(dead.last_success.is_none(), "the dead one is still retrying or failed");
    assert_eq!(store.stats().unwrap().objects, 40);
    task.abort();
}

/// The export scheduler in `serve`: a target with a schedule is exported without anyone
/// asking, and its state records the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_exports_run_on_their_own() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/api/v1/collections", s.base))
        .bearer_auth(&s.admin)
        .json(&json!({"title": "inbox", "writable": true}))
        .send()
        .await
        .unwrap();
    let inbox = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // Our side: a store with objects and a scheduled target pointing at the server's inbox.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let objs: Vec<Value> = (600..625).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let pipeline = Pipeline::new(store.clone());
    let src = cairn_store::Source::new(cairn_store::SourceKind::File, "mine");
    tokio::task::spawn_blocking(move || pipeline.ingest_values(&src, objs).unwrap()).await.unwrap();
    let target = cairn::export::ExportTarget {
        name: "push".into(),
        api_root: format!("{}/taxii2/api/", s.base),
        collection: inbox.clone(),
        auth: cairn::connector::ConnectorAuth::Token { token: s.admin.clone() },
        schedule: Some(cairn::export::ExportSchedule { interval: "1h".into(), ..Default::default() }),
    };
    cairn::export::add_target(store.as_ref(), &target).unwrap();
    let task = tokio::spawn(cairn::export::schedule(store.clone(), std::time::Duration::from_millis(100)));
    let url = format!("{}/taxii2/api/collections/{inbox}/objects/", s.base);
    let started = std::time::Instant::now();
    let got = loop {
        let v: Value = c.get(&url).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
        let n = v.get("objects").and_then(Value::as_array).map_or(0, Vec::len);
        if n == 25 || started.elapsed() > std::time::Duration::from_secs(15) {
            break n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    task.abort();
    assert_eq!(got, 25, "the scheduled export delivered everything");
    let st = store.clone();
    let records = tokio::task::spawn_blocking(move || cairn::export::records(st.as_ref()).unwrap()).await.unwrap();
    assert_eq!(records.len(), 1, "one run, within the interval");
    assert_eq!(records[0].succeeded, 25);
}

#[tokio::test]
async fn match_api_finds_indicators_just_uploaded_and_records_sightings() {
    let s = start(ApiConfig::default()).await;
    let c = reqwest::Client::new();
    let url = format!("{}/api/v1/match", s.base);
    let status = |token: String| {
        let c = c.clone();
        let u = format!("{url}/status");
        async move { c.get(u).bearer_auth(token).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(status(s.reader.clone()).await, json!({"loaded": false}));
    let ev = |ip: &str| json!({"@timestamp": "2026-06-01T10:00:00Z", "destination": {"ip": ip}});
    // Nothing stored yet: no matches.
    let r = c.post(&url).bearer_auth(&s.admin).json(&json!({"events": [ev("198.51.100.7")]})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["matches"], json!([]));
    // Upload, then match at once: the index catches up with the store per request.
    let mut ind = indicator(7, "2024-01-01T00:00:00.000Z");
    ind["labels"] = json!(["c2"]);
    ind["confidence"] = json!(90);
    let r = c
        .post(upload_url(&s, &s.instance))
        .bearer_auth(&s.admin)
        .json(&json!({"sourcesystem": "feed-x", "stixobjects": [ind]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body =
        json!({"events": [ev("198.51.100.7"), ev("10.0.0.1"), "not an event", ev("198.51.100.7")], "mapping": "ecs"});
    let r = c.post(&url).bearer_auth(&s.admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let m = v["matches"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["event"], ev("198.51.100.7"));
    assert_eq!(m[0]["indicator_id"], "indicator--6b4a1f2e-0c1d-4e5f-8a9b-000000000007");
    assert_eq!(m[0]["observable_key"], "ipv4-addr:value");
    assert_eq!(m[0]["observable_value"], "198.51.100.7");
    assert_eq!(m[0]["confidence"], 90);
    assert_eq!(m[0]["tags"], json!(["c2"]));
    assert_eq!(m[0]["source"], "feed-x");
    assert_eq!(v["errors"][0]["index"], 2);
    assert_eq!(v["sightings"], 1);
    let st = status(s.reader.clone()).await;
    assert_eq!((st["loaded"].as_bool(), st["indicators"].as_u64()), (Some(true), Some(1)), "{st}");
    let r = c
        .get(format!("{}/api/v1/objects?type=sighting", s.base))
        .bearer_auth(&s.reader)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let sightings = r["objects"].as_array().unwrap();
    assert_eq!(sightings.len(), 1, "{r}");
    assert_eq!(sightings[0]["count"], 2);
    assert_eq!(sightings[0]["sighting_of_ref"], "indicator--6b4a1f2e-0c1d-4e5f-8a9b-000000000007");
    // An inline mapping; a reader may match without recording, not with.
    let body = json!({"events": [{"t": 1780308000, "dst": "198.51.100.7"}], "sightings": false,
                      "mapping": {"timestamp": ["t"], "fields": [{"field": "dst", "target": "ip"}]}});
    let r = c.post(&url).bearer_auth(&s.reader).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["matches"].as_array().unwrap().len(), 1);
    let r = c.post(&url).bearer_auth(&s.reader).json(&json!({"events": []})).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // Bad requests say what is wrong.
    let r =
        c.post(&url).bearer_auth(&s.admin).json(&json!({"events": [], "mapping": "/etc/passwd"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown mapping '/etc/passwd'"));
    let r = c.post(&url).bearer_auth(&s.admin).json(&json!({"evnts": []})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("evnts"));
}
