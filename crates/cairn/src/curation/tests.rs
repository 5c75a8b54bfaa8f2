use std::sync::Arc;

use cairn_store::{AuditQuery, Source, SourceKind, SqliteStore, Store};
use serde_json::{json, Map, Value};

use super::*;
use crate::ingest::Pipeline;

fn setup() -> (Pipeline, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    (Pipeline::new(store), dir)
}

fn indicator(n: u32) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "n", "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "labels": ["a"],
    })
}

fn patch(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn id(n: u32) -> String {
    indicator(n)["id"].as_str().unwrap().to_string()
}

#[test]
fn feed_objects_allow_only_the_analysts_layer() {
    let (p, _dir) = setup();
    p.ingest_values(&Source::new(SourceKind::Connector, "feed-a"), vec![indicator(1)]).unwrap();
    let allowed =
        json!({"tags": ["a", "b"], "valid_until": "2027-01-01T00:00:00Z", "confidence": 70, "revoked": false});
    let edited = edit(&p, &id(1), &patch(allowed), "user:ann").unwrap();
    assert_eq!((edited["labels"].clone(), edited["confidence"].clone()), (json!(["a", "b"]), json!(70)));
    for refused in ["name", "description", "pattern", "object_marking_refs"] {
        let e = edit(&p, &id(1), &patch(json!({ refused: "x" })), "user:ann").unwrap_err().to_string();
        assert!(e.starts_with(refused) && e.contains("connector:feed-a") && e.contains("only tags"), "{e}");
    }
    for managed in ["id", "created", "modified", "type"] {
        let e = edit(&p, &id(1), &patch(json!({ managed: "x" })), "user:ann").unwrap_err().to_string();
        assert!(e.contains("set by the server"), "{e}");
    }
    // The edit is a new version, under the same source, with a later modified.
    let versions = p.store().versions(&id(1)).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].source, "feed-a");
    assert!(versions[1].version_key > versions[0].version_key);
    let o = origin(p.store().as_ref(), &id(1)).unwrap();
    assert!(!o.local);
}

#[test]
fn local_objects_allow_every_property_and_each_change_is_audited() {
    let (p, _dir) = setup();
    p.ingest_values(&Source::new(SourceKind::Ui, "user:ann"), vec![indicator(2)]).unwrap();
    edit(&p, &id(2), &patch(json!({"name": "renamed", "description": "d"})), "user:ann").unwrap();
    edit(&p, &id(2), &patch(json!({"description": null})), "user:bob").unwrap();
    let cur: Value = serde_json::from_str(&p.store().current(&id(2)).unwrap().unwrap().raw).unwrap();
    assert_eq!(cur["name"], "renamed");
    assert!(cur.get("description").is_none());
    let log = p.store().audit(&AuditQuery { object_id: Some(id(2)), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(log.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>(), ["user:ann", "user:bob"]);
    assert_eq!(log[0].detail["changes"]["name"], json!({"before": "n", "after": "renamed"}));
    assert_eq!(log[1].detail["changes"]["description"], json!({"before": "d", "after": null}));
    // An edit that changes nothing makes no version and no entry.
    edit(&p, &id(2), &patch(json!({"name": "renamed"})), "user:bob").unwrap();
    assert_eq!(p.store().versions(&id(2)).unwrap().len(), 3);
}

#[test]
fn invalid_edits_and_revoked_objects_are_refused() {
    let (p, _dir) = setup();
    p.ingest_values(&Source::new(SourceKind::Ui, "user:ann"), vec![indicator(3)]).unwrap();
    let e = edit(&p, &id(3), &patch(json!({"confidence": 500})), "user:ann").unwrap_err().to_string();
    assert!(e.contains("not valid STIX") && e.contains("confidence"), "{e}");
    edit(&p, &id(3), &patch(json!({"revoked": true})), "user:ann").unwrap();
    let e = edit(&p, &id(3), &patch(json!({"confidence": 5})), "user:ann").unwrap_err().to_string();
    assert!(e.contains("revoked"), "{e}");
    assert!(matches!(
        edit(&p, "indicator--00000000-0000-4000-8000-000000000999", &Map::new(), "x"),
        Err(EditError::NotFound(_))
    ));
}

#[test]
fn bulk_tags_on_one_type() {
    let (p, _dir) = setup();
    p.ingest_values(&Source::new(SourceKind::Connector, "f"), (10..14).map(indicator).collect()).unwrap();
    let ids: Vec<String> = (10..14).map(id).collect();
    let r = bulk_tags(&p, &ids, &["x".into()], &["a".into()], "user:ann").unwrap();
    assert_eq!((r.selected, r.changed, r.unchanged), (4, 4, 0));
    let cur: Value = serde_json::from_str(&p.store().current(&ids[0]).unwrap().unwrap().raw).unwrap();
    assert_eq!(cur["labels"], json!(["x"]));
    let again = bulk_tags(&p, &ids, &["x".into()], &[], "user:ann").unwrap();
    assert_eq!((again.changed, again.unchanged), (0, 4));
    let m = json!({"type": "malware", "spec_version": "2.1", "id": "malware--00000000-0000-4000-8000-000000000001",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "m", "is_family": false});
    p.ingest_values(&Source::new(SourceKind::Connector, "f"), vec![m.clone()]).unwrap();
    let mixed = vec![ids[0].clone(), m["id"].as_str().unwrap().to_string()];
    let e = bulk_tags(&p, &mixed, &["x".into()], &[], "user:ann").unwrap_err();
    assert!(e.contains("one type") && e.contains("indicator, malware"), "{e}");
}

#[test]
fn deletes_are_audited() {
    let (p, _dir) = setup();
    p.ingest_values(&Source::new(SourceKind::Connector, "f"), vec![indicator(4)]).unwrap();
    assert!(delete(p.store().as_ref(), &id(4), "user:ann").unwrap());
    assert!(!delete(p.store().as_ref(), &id(4), "user:ann").unwrap());
    let log = p.store().audit(&AuditQuery { object_id: Some(id(4)), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].action.as_str(), log[0].actor.as_str()), ("delete", "user:ann"));
}
