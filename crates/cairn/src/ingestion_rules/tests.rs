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

fn indicator(n: u32, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("ind {n}"),
        "pattern": format!("[ipv4-addr:value = '198.51.100.{n}']"), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-02-01T00:00:00Z",
        "confidence": 50,
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn malware(n: u32) -> Value {
    json!({"type": "malware", "spec_version": "2.1", "id": format!("malware--00000000-0000-4000-8000-{n:012}"),
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
           "name": "m", "is_family": false, "confidence": 50})
}

fn rule(v: Value) -> IngestionRule {
    serde_json::from_value(v).unwrap()
}

fn feed() -> Source {
    Source::new(SourceKind::Connector, "feed-a")
}

fn stored(p: &Pipeline, v: &Value) -> Value {
    let cur = p.store().current(v["id"].as_str().unwrap()).unwrap().expect("stored");
    serde_json::from_str(&cur.raw).unwrap()
}

#[test]
fn each_edit_action() {
    let table: &[(&str, Value, &str, Value)] = &[
        (
            "extend valid_until",
            json!({"extend_valid_until_days": 30}),
            "valid_until",
            json!("2026-03-03T00:00:00.000Z"),
        ),
        ("set valid_until", json!({"set_valid_until": "2027-01-01"}), "valid_until", json!("2027-01-01T00:00:00.000Z")),
        ("add tags", json!({"add_tags": ["x", "A"]}), "labels", json!(["a", "b", "x"])),
        ("remove tags", json!({"remove_tags": ["A"]}), "labels", json!(["b"])),
        ("remove every tag", json!({"remove_tags": ["a", "b"]}), "labels", Value::Null),
        ("set confidence", json!({"set_confidence": 90}), "confidence", json!(90)),
        (
            "set tlp replaces tlp",
            json!({"set_tlp": "amber"}),
            "object_marking_refs",
            json!(["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]),
        ),
        (
            "set tlp 2.0",
            json!({"set_tlp": "amber+strict"}),
            "object_marking_refs",
            json!(["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"]),
        ),
        ("revoke", json!({"revoke": true}), "revoked", json!(true)),
    ];
    for (i, (name, edit, prop, want)) in table.iter().enumerate() {
        let (p, _dir) = setup();
        add(p.store().as_ref(), rule(json!({"name": name, "action": {"edit": edit}}))).unwrap();
        let obj = indicator(
            i as u32,
            json!({"labels": ["a", "b"], "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}),
        );
        let out = p.ingest_values(&feed(), vec![obj.clone()]).unwrap();
        assert_eq!(out, vec![ObjectOutcome::Created], "{name}");
        let s = stored(&p, &obj);
        assert_eq!(s.get(*prop).cloned().unwrap_or(Value::Null), *want, "{name}");
        assert_eq!(s["modified"], obj["modified"], "{name}: rules never change modified");
    }
}

#[test]
fn delete_drops_and_stops_the_run() {
    let (p, _dir) = setup();
    let store = p.store().as_ref();
    add(store, rule(json!({"name": "tag all", "order": 1, "action": {"edit": {"add_tags": ["seen"]}}}))).unwrap();
    add(
        store,
        rule(json!({"name": "drop low", "order": 2,
        "condition": {"field": "confidence", "operator": "LessThan", "value": 30}, "action": "delete"})),
    )
    .unwrap();
    add(store, rule(json!({"name": "never reached", "order": 3, "action": {"edit": {"add_tags": ["late"]}}}))).unwrap();
    let low = indicator(1, json!({"confidence": 10}));
    let high = indicator(2, json!({}));
    // An earlier version of `low`, stored before the rules, stays untouched.
    let old_low = indicator(
        1,
        json!({"confidence": 10, "modified": "2025-12-31T00:00:00.000Z", "created": "2025-12-31T00:00:00.000Z"}),
    );
    p.ingest_values(&Source::new(SourceKind::Upload, "u"), vec![old_low.clone()]).unwrap();
    let set = load(store).unwrap();
    let drop_id = set.find("drop low").unwrap().id.clone();
    let out = p.ingest_values(&feed(), vec![low.clone(), high.clone()]).unwrap();
    assert_eq!(out, vec![ObjectOutcome::Dropped { rule: drop_id }, ObjectOutcome::Created]);
    assert_eq!(stored(&p, &low), old_low, "the stored version is untouched");
    assert_eq!(stored(&p, &high)["labels"], json!(["seen", "late"]));
}

#[test]
fn rules_chain_in_order_and_later_rules_see_earlier_edits() {
    let (p, _dir) = setup();
    let store = p.store().as_ref();
    // Added in the opposite order of how they run.
    add(
        store,
        rule(json!({"name": "second", "order": 20,
        "condition": {"field": "confidence", "operator": "Equals", "value": 90},
        "action": {"edit": {"add_tags": ["trusted"], "extend_valid_until_days": 1}}})),
    )
    .unwrap();
    add(
        store,
        rule(json!({"name": "first", "order": 10,
        "condition": {"field": "source", "operator": "Equals", "value": "feed-a"},
        "action": {"edit": {"set_confidence": 90}}})),
    )
    .unwrap();
    let set = load(store).unwrap();
    assert_eq!(set.rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["first", "second"]);
    let obj = indicator(1, json!({}));
    p.ingest_values(&feed(), vec![obj.clone()]).unwrap();
    let s = stored(&p, &obj);
    assert_eq!((s["confidence"].clone(), s["labels"].clone()), (json!(90), json!(["trusted"])));
    assert_eq!(s["valid_until"], json!("2026-02-02T00:00:00.000Z"));
    // Another source: the source condition fails, so neither rule acts.
    let other = indicator(2, json!({}));
    p.ingest_values(&Source::new(SourceKind::Connector, "feed-b"), vec![other.clone()]).unwrap();
    assert_eq!(stored(&p, &other), other);

    // Reordered: "second" now runs first and sees confidence 50, so only "first" acts.
    modify(store, "second", |r| {
        r.order = Some(1);
        Ok(())
    })
    .unwrap();
    let third = indicator(3, json!({}));
    p.ingest_values(&feed(), vec![third.clone()]).unwrap();
    let s = stored(&p, &third);
    assert_eq!((s["confidence"].clone(), s.get("labels")), (json!(90), None));
}

#[test]
fn every_version_records_the_rule_set_and_the_rules_that_changed_it() {
    let (p, _dir) = setup();
    let store = p.store().clone();
    let before = indicator(1, json!({}));
    p.ingest_values(&feed(), vec![before.clone()]).unwrap();
    let (r, set) = add(
        store.as_ref(),
        rule(json!({"name": "tag", "condition": {"field": "name", "operator": "Equals", "value": "ind 2"},
        "action": {"edit": {"add_tags": ["x"]}}})),
    )
    .unwrap();
    assert_eq!(set.version, 1);
    let changed = indicator(2, json!({}));
    let untouched = indicator(3, json!({}));
    p.ingest_values(&feed(), vec![changed.clone(), untouched.clone()]).unwrap();
    let cur = |v: &Value| store.current(v["id"].as_str().unwrap()).unwrap().unwrap();
    assert_eq!((cur(&before).ruleset, cur(&before).rules.len()), (None, 0));
    assert_eq!((cur(&changed).ruleset, cur(&changed).rules.clone()), (Some(1), vec![r.id.clone()]));
    assert_eq!((cur(&untouched).ruleset, cur(&untouched).rules.len()), (Some(1), 0));
    // A new rule is in force for the very next call, and bumps the version.
    set_enabled(&store, &r.id, false);
    let after = indicator(4, json!({"name": "ind 2"}));
    p.ingest_values(&feed(), vec![after.clone()]).unwrap();
    assert_eq!((cur(&after).ruleset, cur(&after).rules.len()), (Some(2), 0));
    assert!(load_version(store.as_ref(), 1).unwrap().unwrap().rules[0].enabled, "old versions are kept");
}

fn set_enabled(store: &Arc<dyn Store>, id: &str, on: bool) {
    modify(store.as_ref(), id, |r| {
        r.enabled = on;
        Ok(())
    })
    .unwrap();
}

#[test]
fn rules_act_on_connectors_unless_told_otherwise() {
    let (p, _dir) = setup();
    let store = p.store().as_ref();
    add(store, rule(json!({"name": "connectors", "action": {"edit": {"add_tags": ["c"]}}}))).unwrap();
    add(store, rule(json!({"name": "uploads too", "applies_to": ["upload", "connector"], "action": {"edit": {"add_tags": ["u"]}}}))).unwrap();
    let table: &[(SourceKind, Value)] = &[
        (SourceKind::Connector, json!(["c", "u"])),
        (SourceKind::Upload, json!(["u"])),
        (SourceKind::File, Value::Null),
        (SourceKind::Taxii, Value::Null),
        (SourceKind::Ui, Value::Null),
    ];
    for (i, (kind, want)) in table.iter().enumerate() {
        let obj = indicator(i as u32, json!({}));
        p.ingest_values(&Source::new(*kind, "s"), vec![obj.clone()]).unwrap();
        assert_eq!(stored(&p, &obj).get("labels").cloned().unwrap_or(Value::Null), *want, "{kind:?}");
    }
}

#[test]
fn type_scoping_and_scos_are_not_edited() {
    let (p, _dir) = setup();
    add(
        p.store().as_ref(),
        rule(json!({"name": "malware only", "object_type": "malware", "action": {"edit": {"set_confidence": 5}}})),
    )
    .unwrap();
    add(p.store().as_ref(), rule(json!({"name": "all", "action": {"edit": {"add_tags": ["t"]}}}))).unwrap();
    let m = malware(1);
    let i = indicator(1, json!({}));
    let sco = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"});
    let out = p.ingest_values(&feed(), vec![m.clone(), i.clone(), sco.clone()]).unwrap();
    assert!(out.iter().all(|o| *o == ObjectOutcome::Created), "{out:?}");
    assert_eq!(stored(&p, &m)["confidence"], json!(5));
    assert_eq!(stored(&p, &i)["confidence"], json!(50));
    assert_eq!(stored(&p, &i)["labels"], json!(["t"]));
    assert_eq!(stored(&p, &sco), sco);
}

#[test]
fn an_edit_that_breaks_the_object_rejects_it_with_the_rule_named() {
    let (p, _dir) = setup();
    let (r, _) = add(
        p.store().as_ref(),
        rule(json!({"name": "too early", "action": {"edit": {"set_valid_until": "2020-01-01"}}})),
    )
    .unwrap();
    let out = p.ingest_values(&feed(), vec![indicator(1, json!({}))]).unwrap();
    let ObjectOutcome::Rejected { errors } = &out[0] else { panic!("{out:?}") };
    assert!(errors[0].contains(&r.id) && errors[0].contains("valid_until"), "{errors:?}");
}

#[test]
fn redelivery_after_a_rule_change_is_not_a_conflict() {
    let (p, _dir) = setup();
    let obj = indicator(1, json!({}));
    p.ingest_values(&feed(), vec![obj.clone()]).unwrap();
    add(p.store().as_ref(), rule(json!({"name": "tag", "action": {"edit": {"add_tags": ["x"]}}}))).unwrap();
    let out = p.ingest_values(&feed(), vec![obj.clone()]).unwrap();
    assert_eq!(out, vec![ObjectOutcome::Unchanged]);
}

#[test]
fn bad_rules_are_refused_with_the_part_to_fix() {
    let (p, _dir) = setup();
    let table: &[(Value, &str)] = &[
        (json!({"name": "", "action": "delete"}), "name:"),
        (json!({"name": "t", "object_type": "Not A Type", "action": "delete"}), "object_type:"),
        (json!({"name": "t", "applies_to": ["ui"], "action": "delete"}), "applies_to: 'ui'"),
        (json!({"name": "t", "applies_to": [], "action": "delete"}), "applies_to:"),
        (json!({"name": "t", "action": {"edit": {}}}), "action.edit: name at least one edit"),
        (
            json!({"name": "t", "object_type": "malware", "action": {"edit": {"extend_valid_until_days": 3}}}),
            "valid_until exists only on indicators",
        ),
        (json!({"name": "t", "action": {"edit": {"set_confidence": 101}}}), "set_confidence"),
        (json!({"name": "t", "action": {"edit": {"set_tlp": "pink"}}}), "set_tlp: 'pink'"),
        (json!({"name": "t", "action": {"edit": {"set_valid_until": "later"}}}), "set_valid_until:"),
        (json!({"name": "t", "action": {"edit": {"add_tags": [" "]}}}), "tags:"),
        (json!({"name": "t", "action": {"edit": {"extend_valid_until_days": 0}}}), "at least one day"),
    ];
    for (v, want) in table {
        let r: IngestionRule = serde_json::from_value(v.clone()).unwrap();
        let e = add(p.store().as_ref(), r).unwrap_err();
        assert!(e.contains(want), "{v}: {e}");
    }
    add(p.store().as_ref(), rule(json!({"name": "dup", "action": "delete"}))).unwrap();
    let e = add(p.store().as_ref(), rule(json!({"name": "dup", "action": "delete"}))).unwrap_err();
    assert!(e.contains("exists"), "{e}");
    assert!(serde_json::from_value::<IngestionRule>(json!({"name": "t", "action": "explode"})).is_err());
    let e = serde_json::from_value::<IngestionRule>(json!({"name": "t", "action": "delete",
        "condition": {"field": "nope", "operator": "IsNull"}}))
    .unwrap_err();
    assert!(e.to_string().contains("unknown field 'nope'"), "{e}");
}

#[test]
fn dry_run_counts_and_samples_without_writing() {
    let (p, _dir) = setup();
    let objs: Vec<Value> = (0..25).map(|n| indicator(n, json!({"confidence": n * 4}))).collect();
    p.ingest_values(&Source::new(SourceKind::Upload, "u"), objs).unwrap();
    p.ingest_values(&feed(), vec![malware(1)]).unwrap();
    let head = p.store().head().unwrap();
    let r = rule(json!({"name": "low", "object_type": "indicator",
        "condition": {"field": "confidence", "operator": "LessThan", "value": 60},
        "action": {"edit": {"add_tags": ["low"]}}}));
    let d = dry_run(p.store().as_ref(), &r, 10).unwrap();
    assert_eq!((d.scanned, d.matched, d.would_change, d.sample.len()), (25, 15, 15, 10));
    assert_eq!(d.sample[0].would_change, vec!["labels".to_string()]);
    assert_eq!(p.store().head().unwrap(), head, "a dry run writes nothing");
}

#[test]
fn applying_a_rule_to_stored_objects_makes_audited_versions() {
    let (p, _dir) = setup();
    let objs: Vec<Value> = (0..6).map(|n| indicator(n, json!({"confidence": n * 20}))).collect();
    p.ingest_values(&feed(), objs.clone()).unwrap();
    let (r, set) = add(
        p.store().as_ref(),
        rule(json!({"name": "boost", "object_type": "indicator",
        "condition": {"field": "confidence", "operator": "GreaterThanEqual", "value": 60},
        "action": {"edit": {"add_tags": ["boosted"]}}})),
    )
    .unwrap();
    let a = apply_to_stored(&p, &r, "user:ann").unwrap();
    assert_eq!((a.scanned, a.matched, a.changed, a.errors.len()), (6, 3, 3, 0));
    let s = stored(&p, &objs[5]);
    assert_eq!(s["labels"], json!(["boosted"]));
    assert!(s["modified"].as_str().unwrap() > objs[5]["modified"].as_str().unwrap(), "a new version");
    let cur = p.store().current(objs[5]["id"].as_str().unwrap()).unwrap().unwrap();
    assert_eq!((cur.source.as_str(), cur.ruleset, cur.rules.clone()), ("feed-a", set.stamp(), vec![r.id.clone()]));
    let audit = p
        .store()
        .audit(&cairn_store::AuditQuery { object_id: Some(cur.id.clone()), limit: 10, ..Default::default() })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "user:ann");
    assert_eq!(audit[0].detail["changes"]["labels"]["after"], json!(["boosted"]));
    // Applying again changes nothing: the objects already carry the tag.
    assert_eq!(apply_to_stored(&p, &r, "user:ann").unwrap().changed, 0);

    let (del, _) = add(
        p.store().as_ref(),
        rule(json!({"name": "purge", "condition": {"field": "confidence", "operator": "Equals", "value": 0},
        "action": "delete"})),
    )
    .unwrap();
    let a = apply_to_stored(&p, &del, "user:ann").unwrap();
    assert_eq!((a.matched, a.changed), (1, 1));
    assert!(p.store().current(objs[0]["id"].as_str().unwrap()).unwrap().is_none());
    assert_eq!(p.store().versions(objs[0]["id"].as_str().unwrap()).unwrap().len(), 2, "history stays");
}

#[test]
fn rules_round_trip_as_json() {
    let v = json!({"id": "r1", "name": "n", "object_type": "indicator",
        "condition": {"any": [{"field": "tags", "operator": "ArrayContains", "values": ["a"]}]},
        "action": {"edit": {"extend_valid_until_days": 30, "add_tags": ["x"], "revoke": true}},
        "order": 5, "enabled": false, "applies_to": ["connector", "taxii"]});
    let r: IngestionRule = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), v);
}
