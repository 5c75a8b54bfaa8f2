//! Curation end to end: a connector feed curated by ingestion rules made over the API,
//! dry runs, applying a rule to stored objects, edits, tags and the audit log.

use std::sync::Arc;

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
    contributor: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let admin = auth::create_token(store.as_ref(), "ada", Role::Admin).unwrap();
    let reader = auth::create_token(store.as_ref(), "rita", Role::Reader).unwrap();
    let contributor = auth::create_token(store.as_ref(), "carl", Role::Contributor).unwrap();
    let state = Arc::new(AppState::new(Pipeline::new(store), ApiConfig::default()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api::router(state)).await.unwrap() });
    Server { base, admin, reader, contributor, _dir: dir }
}

fn feed_object(n: u32) -> Value {
    let mut v = indicator(n, "2024-01-01T00:00:00.000Z");
    v["confidence"] = json!(n % 100);
    v["valid_until"] = json!("2025-01-01T00:00:00.000Z");
    if n.is_multiple_of(2) {
        v["labels"] = json!(["apt29"]);
    }
    v
}

#[tokio::test]
async fn a_connector_feed_is_curated_by_rules_made_over_the_api() {
    let feed = start().await;
    let cairn = start().await;
    let c = reqwest::Client::new();
    // The feed: 40 indicators in a collection, confidence 0..39, half tagged apt29.
    let objs: Vec<Value> = (0..40).map(feed_object).collect();
    let up = format!(
        "{}/workspaces/default/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview",
        feed.base
    );
    let r = c
        .post(&up)
        .bearer_auth(&feed.admin)
        .json(&json!({"sourcesystem": "vendor", "stixobjects": objs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{}/api/v1/collections", feed.base))
        .bearer_auth(&feed.admin)
        .json(&json!({"title": "all", "types": ["indicator"]}))
        .send()
        .await
        .unwrap();
    let collection = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    // Rules on the curating instance: readers may not make them; bad ones are refused.
    let rules = format!("{}/api/v1/rules", cairn.base);
    let drop = json!({"name": "drop low confidence", "order": 10,
        "condition": {"field": "confidence", "operator": "LessThan", "value": 10}, "action": "delete"});
    assert_eq!(c.post(&rules).bearer_auth(&cairn.reader).json(&drop).send().await.unwrap().status(), 403);
    let r = c
        .post(&rules)
        .bearer_auth(&cairn.admin)
        .json(&json!({"name": "x", "action": {"edit": {"set_tlp": "pink"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("set_tlp: 'pink'"));
    let r = c.post(&rules).bearer_auth(&cairn.admin).json(&drop).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let extend = json!({"name": "extend apt29", "order": 20, "object_type": "indicator",
        "condition": {"all": [{"field": "tags", "operator": "ArrayContains", "value": "APT29"},
                              {"field": "source", "operator": "Equals", "value": "feed"}]},
        "action": {"edit": {"extend_valid_until_days": 30, "add_tags": ["extended"]}}});
    let r = c.post(&rules).bearer_auth(&cairn.admin).json(&extend).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let extend_rule: Value = r.json().await.unwrap();
    let extend_id = extend_rule["rule"]["id"].as_str().unwrap().to_string();
    assert_eq!(extend_rule["ruleset_version"], 2);

    // The connector polls the feed; the rules act at once.
    let conn = json!({"name": "feed", "api_root": format!("{}/taxii2/api/", feed.base), "collection": collection,
        "auth": {"kind": "token", "token": feed.reader}, "lookback": "all", "interval": "1h", "page_size": 15});
    let curl = format!("{}/api/v1/connectors", cairn.base);
    assert_eq!(c.post(&curl).bearer_auth(&cairn.admin).json(&conn).send().await.unwrap().status(), 201);
    let r = c.post(format!("{curl}/feed/run")).bearer_auth(&cairn.admin).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let counts: Value = r.json().await.unwrap();
    assert_eq!(
        (counts["received"].as_u64(), counts["created"].as_u64(), counts["dropped"].as_u64()),
        (Some(40), Some(30), Some(10))
    );

    let get = |id: String| {
        let c = c.clone();
        let url = format!("{}/api/v1/objects/{id}", cairn.base);
        let token = cairn.reader.clone();
        async move { c.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let id = |n: u32| feed_object(n)["id"].as_str().unwrap().to_string();
    assert_eq!(get(id(3)).await.status(), 404, "dropped by the delete rule");
    let v: Value = get(id(12)).await.json().await.unwrap();
    assert_eq!(v["object"]["labels"], json!(["apt29", "extended"]));
    assert_eq!(v["object"]["valid_until"], "2025-01-31T00:00:00.000Z");
    assert_eq!(v["object"]["modified"], "2024-01-01T00:00:00.000Z", "rules never change modified");
    assert_eq!(v["ingestion_rules"]["ruleset_version"], 2);
    assert_eq!(v["ingestion_rules"]["changed_by"], json!([{"id": extend_id, "name": "extend apt29"}]));
    let v: Value = get(id(13)).await.json().await.unwrap();
    assert!(v["object"].get("labels").is_none());
    assert_eq!(v["ingestion_rules"]["changed_by"], json!([]));

    // Dry run of a new rule, then of a saved one; neither writes.
    let r = c
        .post(format!("{rules}/dry-run"))
        .bearer_auth(&cairn.reader)
        .json(&json!({"name": "t", "condition": {"field": "confidence", "operator": ">=", "value": 30}, "action": {"edit": {"set_tlp": "red"}}}))
        .send()
        .await
        .unwrap();
    let d: Value = r.json().await.unwrap();
    assert_eq!(
        (d["scanned"].as_u64(), d["matched"].as_u64(), d["sample"].as_array().unwrap().len()),
        (Some(30), Some(10), 10)
    );
    let d: Value = c
        .post(format!("{rules}/extend%20apt29/dry-run?sample=3"))
        .bearer_auth(&cairn.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((d["matched"].as_u64(), d["sample"].as_array().unwrap().len()), (Some(15), 3));

    // A new rule applied to what is stored: new versions, audited.
    let tlp = json!({"name": "red for high", "condition": {"field": "confidence", "operator": "GreaterThanEqual", "value": 35},
        "action": {"edit": {"set_tlp": "red"}}});
    assert_eq!(c.post(&rules).bearer_auth(&cairn.admin).json(&tlp).send().await.unwrap().status(), 201);
    assert_eq!(
        c.post(format!("{rules}/red%20for%20high/apply"))
            .bearer_auth(&cairn.contributor)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let a: Value = c
        .post(format!("{rules}/red%20for%20high/apply"))
        .bearer_auth(&cairn.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((a["matched"].as_u64(), a["changed"].as_u64()), (Some(5), Some(5)));
    let v: Value = get(id(36)).await.json().await.unwrap();
    assert_eq!(v["object"]["object_marking_refs"], json!(["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]));
    assert_eq!(v["ingestion_rules"]["changed_by"][0]["name"], "red for high");
    let audit: Value = c
        .get(format!("{}/api/v1/audit?object_id={}", cairn.base, id(36)))
        .bearer_auth(&cairn.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["actor"], "user:ada");
    assert_eq!(
        c.get(format!("{}/api/v1/audit", cairn.base)).bearer_auth(&cairn.reader).send().await.unwrap().status(),
        403
    );

    // Rule management: disable, reorder by PUT, delete; versions are kept.
    let mut changed = extend.clone();
    changed["enabled"] = json!(false);
    let r = c.put(format!("{rules}/{extend_id}")).bearer_auth(&cairn.admin).json(&changed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let set: Value = c.get(&rules).bearer_auth(&cairn.reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(set["version"], 4);
    assert_eq!(
        set["rules"].as_array().unwrap().iter().find(|r| r["id"] == extend_id.as_str()).unwrap()["enabled"],
        false
    );
    assert_eq!(c.delete(format!("{rules}/nope")).bearer_auth(&cairn.admin).send().await.unwrap().status(), 404);
    let old: Value =
        c.get(format!("{rules}/versions/2")).bearer_auth(&cairn.reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(old["rules"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn edits_tags_and_their_audit_over_the_api() {
    let s = start().await;
    let c = reqwest::Client::new();
    let up =
        format!("{}/workspaces/default/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview", s.base);
    let objs: Vec<Value> = (0..5).map(feed_object).collect();
    assert_eq!(
        c.post(&up)
            .bearer_auth(&s.admin)
            .json(&json!({"sourcesystem": "vendor", "stixobjects": objs}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let id = |n: u32| feed_object(n)["id"].as_str().unwrap().to_string();
    let obj = |n: u32| format!("{}/api/v1/objects/{}", s.base, id(n));

    // Uploaded objects: the analyst's layer only, and the refusal says why.
    let r = c.patch(obj(1)).bearer_auth(&s.reader).json(&json!({"confidence": 90})).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = c.patch(obj(1)).bearer_auth(&s.contributor).json(&json!({"name": "mine"})).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let why = r.text().await.unwrap();
    assert!(why.contains("upload:vendor") && why.contains("only tags, valid_until, confidence and revoked"), "{why}");
    let r = c
        .patch(obj(1))
        .bearer_auth(&s.contributor)
        .json(&json!({"confidence": 90, "tags": ["reviewed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["object"]["confidence"], 90);
    let v: Value =
        c.get(format!("{}/versions", obj(1))).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    let r = c.post(format!("{}/enrich", obj(1))).bearer_auth(&s.contributor).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("--geoip-db"), "without databases the answer says what to do");
    let e: Value =
        c.get(format!("{}/editable", obj(1))).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(e["editable"], json!(["labels", "valid_until", "confidence", "revoked"]));

    // Bulk tags by ids and by a condition, then the tag list for autocompletion.
    let tags = format!("{}/api/v1/tags", s.base);
    let r = c
        .post(&tags)
        .bearer_auth(&s.contributor)
        .json(&json!({"ids": [id(0), id(2)], "add": ["campaign-x"]}))
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["changed"], 2);
    let r = c
        .post(&tags)
        .bearer_auth(&s.contributor)
        .json(&json!({"type": "indicator", "where": {"field": "tags", "operator": "ArrayContains", "value": "apt29"}, "remove": ["apt29"], "add": ["apt-29"]}))
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!((b["selected"].as_u64(), b["changed"].as_u64()), (Some(3), Some(3)));
    let r = c
        .post(&tags)
        .bearer_auth(&s.contributor)
        .json(&json!({"ids": [id(0)], "type": "indicator", "add": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let t: Value =
        c.get(format!("{tags}?prefix=ca")).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(t["tags"], json!([{"tag": "campaign-x", "count": 2}]));
    let t: Value = c.get(&tags).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(t["tags"][0], json!({"tag": "apt-29", "count": 3}));

    // Revoke, then delete; every change is in the audit log with who made it.
    assert_eq!(c.post(format!("{}/revoke", obj(4))).bearer_auth(&s.contributor).send().await.unwrap().status(), 200);
    let r = c.patch(obj(4)).bearer_auth(&s.contributor).json(&json!({"confidence": 1})).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("revoked"));
    assert_eq!(c.delete(obj(3)).bearer_auth(&s.contributor).send().await.unwrap().status(), 200);
    let log: Value = c
        .get(format!("{}/api/v1/audit?actor=user:carl", s.base))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["edit", "edit", "edit", "edit", "edit", "edit", "edit", "delete"]);
    assert_eq!(log["entries"][0]["detail"]["changes"]["confidence"], json!({"before": 1, "after": 90}));
}

#[tokio::test]
async fn search_builder_pages_sorts_and_counts() {
    let s = start().await;
    let c = reqwest::Client::new();
    let up =
        format!("{}/workspaces/default/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview", s.base);
    let objs: Vec<Value> = (0..30).map(feed_object).collect();
    assert_eq!(
        c.post(&up)
            .bearer_auth(&s.admin)
            .json(&json!({"sourcesystem": "vendor", "stixobjects": objs}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let url = format!("{}/api/v1/search", s.base);
    // Tagged apt29 OR confidence below 5, highest confidence first, pages of 4.
    let mut body = json!({"types": ["indicator"], "where": {"any": [
        {"field": "tags", "operator": "ArrayContains", "value": "apt29"},
        {"field": "confidence", "operator": "LessThan", "value": 5}]},
        "sort": "confidence", "order": "desc", "limit": 4, "facets": true});
    let mut seen = Vec::new();
    loop {
        let r: Value = c.post(&url).bearer_auth(&s.reader).json(&body).send().await.unwrap().json().await.unwrap();
        assert_eq!(r["index_lag"], 0, "a search first catches the index up");
        if seen.is_empty() {
            assert_eq!(r["facets"]["total"], 17);
            assert_eq!(r["facets"]["tags"][0], json!({"value": "apt29", "count": 15}));
        }
        for hit in r["results"].as_array().unwrap() {
            seen.push(hit["object"]["confidence"].as_u64().unwrap());
            assert_eq!(hit["source"], "vendor");
        }
        match r["next"].as_str() {
            Some(n) => body["after"] = json!(n),
            None => break,
        }
    }
    let mut want: Vec<u64> = (0..30u64).filter(|n| n % 2 == 0 || *n < 5).collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, want);
    // Keywords over names and observable values.
    let r: Value = c
        .post(&url)
        .bearer_auth(&s.reader)
        .json(&json!({"keywords": "198.51.100.7"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"].as_array().unwrap().len(), 1);
    assert_eq!(r["results"][0]["object"]["name"], "indicator 7");
    // Mistakes are named.
    let r = c.post(&url).bearer_auth(&s.reader).json(&json!({"sort": "colour"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("cannot sort by 'colour'"));
    let r = c
        .post(&url)
        .bearer_auth(&s.reader)
        .json(&json!({"where": {"field": "confidence", "operator": "GreaterThan", "value": "high"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("values[0]: confidence is a number"));
    let r = c.post(&url).bearer_auth(&s.reader).json(&json!({"after": "nope"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn file_imports_csv_and_json_with_history_and_error_files() {
    let s = start().await;
    let c = reqwest::Client::new();
    let url = format!("{}/api/v1/imports", s.base);
    let csv = "# Sentinel's template comment row\n\
               threatTypes,tags,name,description,confidence,revoked,validFrom,validUntil,tlpLevel,severity,observableType,observableValue\n\
               malicious-activity,apt29,C2 address,,90,false,2026-01-01,,amber,5,ipv4-addr,198.51.100.9\n\
               ,,,,150,,2026-01-01,,,,domain-name,bad.example\n\
               ,,,,,,2026-01-01,,,,url,http://evil.example/x\n";
    // Readers may not import; a source is required.
    assert_eq!(
        c.post(format!("{url}?source=sheet&name=iocs.csv"))
            .bearer_auth(&s.reader)
            .body(csv)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let r = c.post(format!("{url}?name=iocs.csv")).bearer_auth(&s.contributor).body(csv).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r =
        c.post(format!("{url}?source=sheet&name=iocs.csv")).bearer_auth(&s.contributor).body(csv).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let rec: Value = r.json().await.unwrap();
    assert_eq!(
        (rec["total"].as_u64(), rec["imported"].as_u64(), rec["rejected"].as_u64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(rec["format"], "csv");
    assert_eq!(rec["errors"][0]["at"], 4, "the error names the file's line");
    let id = rec["id"].as_str().unwrap().to_string();
    // The imported indicators are searchable, with their source.
    let found: Value = c
        .post(format!("{}/api/v1/search", s.base))
        .bearer_auth(&s.reader)
        .json(&json!({"where": {"field": "source", "operator": "Equals", "value": "sheet"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["results"].as_array().unwrap().len(), 2);
    // All or nothing: one bad row, nothing stored.
    let r = c
        .post(format!("{url}?source=strict&name=iocs.csv&policy=all-or-nothing"))
        .bearer_auth(&s.contributor)
        .body(csv)
        .send()
        .await
        .unwrap();
    let strict: Value = r.json().await.unwrap();
    assert_eq!((strict["committed"].as_bool(), strict["imported"].as_u64()), (Some(false), Some(0)));
    // JSON (a bundle), format from the parameter.
    let bundle = json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "objects": [feed_object(1), {"type": "indicator"}]});
    let r = c
        .post(format!("{url}?source=json-file&format=json"))
        .bearer_auth(&s.contributor)
        .json(&bundle)
        .send()
        .await
        .unwrap();
    let j: Value = r.json().await.unwrap();
    assert_eq!(
        (j["imported"].as_u64(), j["rejected"].as_u64(), j["errors"][0]["at"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    // History, newest first, and the downloadable error file.
    let list: Value = c.get(&url).bearer_auth(&s.reader).send().await.unwrap().json().await.unwrap();
    let all = list["imports"].as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|i| i["id"] == id.as_str() && i["error_count"] == 1));
    let r = c.get(format!("{url}/{id}/errors")).bearer_auth(&s.reader).send().await.unwrap();
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let text = r.text().await.unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(line["errors"][0].as_str().unwrap().contains("confidence"), "{line}");
    assert_eq!(c.get(format!("{url}/nope")).bearer_auth(&s.reader).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn creating_objects_relationships_duplicates_and_the_graph() {
    let s = start().await;
    let c = reqwest::Client::new();
    let objects = format!("{}/api/v1/objects", s.base);
    // Missing required properties are named; server-set ones are refused.
    let r = c.post(&objects).bearer_auth(&s.contributor).json(&json!({"type": "threat-actor"})).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("name"), "the missing property is named");
    let r = c
        .post(&objects)
        .bearer_auth(&s.contributor)
        .json(&json!({"type": "malware", "id": "malware--x", "name": "m", "is_family": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id: set by the server"));
    assert_eq!(
        c.post(&objects).bearer_auth(&s.reader).json(&json!({"type": "malware"})).send().await.unwrap().status(),
        403
    );
    // A threat actor, then a malware with a relationship made at creation.
    let r = c
        .post(&objects)
        .bearer_auth(&s.contributor)
        .json(&json!({"type": "threat-actor", "name": "APT Example", "threat_actor_types": ["nation-state"], "labels": ["apt"],
                      "confidence": 80, "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let actor: Value = r.json().await.unwrap();
    let actor = actor["objects"][0].clone();
    let actor_id = actor["id"].as_str().unwrap().to_string();
    assert!(actor["created_by_ref"].as_str().unwrap().starts_with("identity--"), "authored by this instance");
    assert_eq!(actor["spec_version"], "2.1");
    let r = c
        .post(&objects)
        .bearer_auth(&s.contributor)
        .json(&json!({"object": {"type": "malware", "name": "Dropper", "is_family": true},
                      "relationships": [{"type": "attributed-to", "target": actor_id}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["objects"].as_array().unwrap().len(), 2);
    let malware_id = made["objects"][0]["id"].as_str().unwrap().to_string();
    assert!(made["warnings"][0].as_str().unwrap().contains("malware attributed-to threat-actor"), "{made}");
    // The builder: one source, 25 targets (more than Sentinel's 20), one unknown target refused whole.
    let mut targets = Vec::new();
    let mut target_ids = Vec::new();
    for n in 0..25 {
        let r = c
            .post(&objects)
            .bearer_auth(&s.contributor)
            .json(&json!({"type": "identity", "name": format!("victim {n}"), "identity_class": "organization"}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        let id = v["objects"][0]["id"].as_str().unwrap().to_string();
        targets.push(json!({"target_ref": id, "relationship_type": "targets"}));
        target_ids.push(id);
    }
    let rels = format!("{}/api/v1/relationships", s.base);
    let mut bad = targets.clone();
    bad.push(json!({"target_ref": "identity--00000000-0000-4000-8000-000000000000", "relationship_type": "targets"}));
    let r = c
        .post(&rels)
        .bearer_auth(&s.contributor)
        .json(&json!({"source_ref": actor_id, "targets": bad}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("targets[25].target: no object"));
    let r = c
        .post(&rels)
        .bearer_auth(&s.contributor)
        .json(&json!({"source_ref": actor_id, "targets": targets, "common": {"confidence": 70, "description": "campaign 2026"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let built: Value = r.json().await.unwrap();
    assert_eq!(built["objects"].as_array().unwrap().len(), 25);
    assert!(built["warnings"].as_array().unwrap().is_empty(), "threat-actor targets identity is in the spec: {built}");
    assert_eq!(built["objects"][0]["confidence"], 70);
    let sug: Value = c
        .get(format!("{rels}/suggest?source_type=threat-actor&target_type=identity"))
        .bearer_auth(&s.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sug: Vec<&str> = sug["suggested"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(sug, ["attributed-to", "impersonates", "targets", "derived-from", "duplicate-of", "related-to"]);
    // The graph: depth 1 from the malware reaches the actor; depth 2 the victims too.
    let graph = |id: &str, depth: u32| {
        let c = c.clone();
        let url = format!("{objects}/{id}/graph?depth={depth}");
        let token = s.reader.clone();
        async move { c.get(url).bearer_auth(token).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let g1 = graph(&malware_id, 1).await;
    assert_eq!(g1["nodes"].as_object().unwrap().len(), 2);
    assert_eq!(g1["edges"][0]["relationship_type"], "attributed-to");
    let g2 = graph(&malware_id, 2).await;
    assert_eq!(g2["nodes"].as_object().unwrap().len(), 27);
    assert_eq!(g2["edges"].as_array().unwrap().len(), 26);
    assert_eq!(g2["nodes"][&target_ids[3]]["name"], "victim 3");
    // Duplicate: the common metadata, a new object.
    let t: Value = c
        .get(format!("{objects}/{actor_id}/duplicate"))
        .bearer_auth(&s.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["object"]["labels"], json!(["apt"]));
    assert!(t["object"].get("name").is_none(), "only the common metadata");
    let r = c
        .post(format!("{objects}/{actor_id}/duplicate"))
        .bearer_auth(&s.contributor)
        .json(&json!({"name": "APT Example 2", "threat_actor_types": ["crime-syndicate"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dup: Value = r.json().await.unwrap();
    assert_eq!(dup["objects"][0]["confidence"], 80);
    assert_eq!(dup["objects"][0]["object_marking_refs"], actor["object_marking_refs"]);
    assert_ne!(dup["objects"][0]["id"], actor["id"]);
    // Created here: every field is editable.
    let r = c
        .patch(format!("{objects}/{actor_id}"))
        .bearer_auth(&s.contributor)
        .json(&json!({"name": "APT Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn geoip_enrichment_in_the_background_and_on_demand() {
    use cairn_enrich::mmdb_writer::MmdbWriter;
    let dir = tempfile::tempdir().unwrap();
    let mut w = MmdbWriter::new("GeoIP2-City");
    w.insert(
        "203.0.113.0".parse().unwrap(),
        24,
        &json!({
        "country": {"iso_code": "RU", "names": {"en": "Russia"}}, "city": {"names": {"en": "Moscow"}},
        "location": {"latitude": 55.75, "longitude": 37.62},
        "autonomous_system_number": 64500, "autonomous_system_organization": "Example Hosting"}),
    );
    let db = dir.path().join("geo.mmdb");
    std::fs::write(&db, w.build()).unwrap();

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let token = auth::create_token(store.as_ref(), "carl", Role::Contributor).unwrap();
    let mut state = AppState::new(Pipeline::new(store.clone()), ApiConfig::default()).unwrap();
    let enricher =
        Arc::new(cairn::enrichment::Enricher { geoip: Some(cairn_enrich::GeoIp::open(&[db]).unwrap()), whois: None });
    state.enricher = Some(enricher.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api::router(Arc::new(state))).await.unwrap() });
    tokio::spawn(cairn::enrichment::follow_store(store.clone(), enricher, std::time::Duration::from_millis(50)));

    let c = reqwest::Client::new();
    let mut v = indicator(1, "2024-01-01T00:00:00.000Z");
    v["pattern"] = json!("[ipv4-addr:value = '203.0.113.77']");
    let up =
        format!("{base}/workspaces/default/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview");
    assert_eq!(
        c.post(&up)
            .bearer_auth(&token)
            .json(&json!({"sourcesystem": "s", "stixobjects": [v]}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let url = format!("{base}/api/v1/objects/{}", v["id"].as_str().unwrap());
    // The background task enriches it; the STIX object itself is untouched.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let got = loop {
        let got: Value = c.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        if !got["enrichment"].is_null() {
            break got;
        }
        assert!(std::time::Instant::now() < deadline, "not enriched in time: {got}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let geo = &got["enrichment"]["geo"][0];
    assert_eq!(
        (geo["ip"].as_str(), geo["country_iso"].as_str(), geo["city"].as_str(), geo["asn"].as_u64()),
        (Some("203.0.113.77"), Some("RU"), Some("Moscow"), Some(64500))
    );
    assert!(got["object"].get("x_geo").is_none() && got["object"]["modified"] == v["modified"]);
    // On demand; unknown objects are named.
    let r: Value = c.post(format!("{url}/enrich")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["enrichment"]["geo"][0]["country_name"], "Russia");
    let r = c
        .post(format!("{base}/api/v1/objects/indicator--00000000-0000-4000-8000-000000000999/enrich"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
