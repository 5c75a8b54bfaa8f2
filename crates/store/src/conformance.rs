//! The conformance suite every [`Store`] backend must pass.
//!
//! Each check gets a fresh, empty store from the factory. Backends call [`run_all`] from
//! their own tests, so a new backend is held to exactly the same rules as SQLite.

use serde_json::{json, Value};

use crate::{AuditEntry, AuditQuery, Candidate, Curation, Filter, Outcome, Source, SourceKind, Store, VersionSelect};

/// Makes an empty store; the second value is kept alive as long as the store is used
/// (a temporary directory, a database handle…).
pub type Factory<'a> = &'a dyn Fn() -> (Box<dyn Store>, Box<dyn std::any::Any>);

pub fn run_all(factory: Factory<'_>) {
    type Check = (&'static str, fn(&dyn Store));
    let checks: &[Check] = &[
        ("create_then_unchanged", create_then_unchanged),
        ("new_version_becomes_current", new_version_becomes_current),
        ("older_version_is_history_only", older_version_is_history_only),
        ("conflict_keeps_first", conflict_keeps_first),
        ("revoked_is_terminal", revoked_is_terminal),
        ("tombstone_hides_but_keeps_history", tombstone_hides_but_keeps_history),
        ("date_added_strictly_increasing", date_added_strictly_increasing),
        ("sources_first_and_last_seen", sources_first_and_last_seen),
        ("keyset_paging_is_exact", keyset_paging_is_exact),
        ("filters", filters),
        ("unversioned_objects", unversioned_objects),
        ("duplicates_inside_one_batch", duplicates_inside_one_batch),
        ("key_order_does_not_make_a_new_version", key_order_does_not_make_a_new_version),
        ("accounts", accounts),
        ("all_or_nothing_rolls_back", all_or_nothing_rolls_back),
        ("per_batch_commits_each_batch", per_batch_commits_each_batch),
        ("version_selection", version_selection),
        ("json_filters", json_filters),
        ("documents", documents),
        ("head_follows_every_write", head_follows_every_write),
        ("curation_is_kept_per_version", curation_is_kept_per_version),
        ("audited_writes_are_atomic", audited_writes_are_atomic),
        ("tag_counts_of_current_objects", tag_counts_of_current_objects),
        ("search_agrees_with_the_condition_evaluator", search_agrees_with_the_condition_evaluator),
        ("search_index_follows_changes", search_index_follows_changes),
        ("related_objects_follow_relationships", related_objects_follow_relationships),
    ];
    for (name, check) in checks {
        let (store, _guard) = factory();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(store.as_ref())));
        if let Err(e) = result {
            eprintln!("store conformance check '{name}' failed");
            std::panic::resume_unwind(e);
        }
    }
}

/// The search checks alone (backends with tunable query plans run them once per plan).
pub fn run_search(factory: Factory<'_>) {
    for check in [search_agrees_with_the_condition_evaluator, search_index_follows_changes] {
        let (store, _guard) = factory();
        check(store.as_ref());
    }
}

fn src(name: &str) -> Source {
    Source::new(SourceKind::File, name)
}

fn indicator(uuid_tail: &str, modified: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{uuid_tail:0>12}"),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": modified,
        "pattern": "[ipv4-addr:value = '10.0.0.1']",
        "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"
    });
    if let Value::Object(m) = extra {
        for (k, x) in m {
            v[k] = x;
        }
    }
    v
}

fn cand(v: &Value) -> Candidate {
    let meta = cairn_stix::ObjectMeta::from_value(v, None).expect("test objects have ids");
    Candidate::from_value(v, &meta)
}

fn ingest(s: &dyn Store, source: &str, objs: &[Value]) -> Vec<Outcome> {
    let batch: Vec<Candidate> = objs.iter().map(cand).collect();
    s.ingest(&src(source), &batch).expect("ingest")
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn create_then_unchanged(s: &dyn Store) {
    let a = indicator("1", "2020-01-01T00:00:00.000Z", json!({}));
    assert_eq!(ingest(s, "f", std::slice::from_ref(&a)), vec![Outcome::Created]);
    assert_eq!(ingest(s, "f", std::slice::from_ref(&a)), vec![Outcome::Unchanged]);
    assert_eq!(s.versions(&id_of(&a)).unwrap().len(), 1);
    let cur = s.current(&id_of(&a)).unwrap().unwrap();
    assert_eq!(serde_json::from_str::<Value>(&cur.raw).unwrap(), a);
}

fn new_version_becomes_current(s: &dyn Store) {
    let v1 = indicator("2", "2020-01-01T00:00:00.000Z", json!({}));
    let v2 = indicator("2", "2020-02-01T00:00:00.000Z", json!({"name": "second"}));
    assert_eq!(ingest(s, "f", &[v1.clone(), v2.clone()]), vec![Outcome::Created, Outcome::NewVersion]);
    let cur = s.current(&id_of(&v1)).unwrap().unwrap();
    assert_eq!(cur.version_key.as_deref(), Some("2020-02-01T00:00:00.000000000Z"));
    assert_eq!(s.versions(&id_of(&v1)).unwrap().len(), 2);
}

fn older_version_is_history_only(s: &dyn Store) {
    let v1 = indicator("3", "2020-01-01T00:00:00.000Z", json!({}));
    let v2 = indicator("3", "2020-02-01T00:00:00.000Z", json!({"name": "newer"}));
    ingest(s, "f", std::slice::from_ref(&v2));
    assert_eq!(ingest(s, "f", std::slice::from_ref(&v1)), vec![Outcome::NewVersion]);
    let cur = s.current(&id_of(&v1)).unwrap().unwrap();
    assert_eq!(serde_json::from_str::<Value>(&cur.raw).unwrap()["name"], "newer");
    // Re-ingesting the old one again is now a no-op.
    assert_eq!(ingest(s, "f", std::slice::from_ref(&v1)), vec![Outcome::Unchanged]);
    // History lists both, in the order they were stored (date_added), whatever `modified` says.
    let history = s.versions(&id_of(&v1)).unwrap();
    let keys: Vec<_> = history.iter().map(|v| v.version_key.clone().unwrap()).collect();
    assert_eq!(keys, vec!["2020-02-01T00:00:00.000000000Z".to_string(), "2020-01-01T00:00:00.000000000Z".to_string()]);
    // A third, in between, is found by later lookups too.
    let mid = indicator("3", "2020-01-15T00:00:00.000Z", json!({}));
    assert_eq!(ingest(s, "f", std::slice::from_ref(&mid)), vec![Outcome::NewVersion]);
    assert_eq!(ingest(s, "f", &[v1, mid.clone(), v2]), vec![Outcome::Unchanged; 3]);
    assert_eq!(s.versions(&id_of(&mid)).unwrap().len(), 3);
}

fn conflict_keeps_first(s: &dyn Store) {
    let a = indicator("4", "2020-01-01T00:00:00.000Z", json!({"name": "first"}));
    let b = indicator("4", "2020-01-01T00:00:00Z", json!({"name": "second"}));
    ingest(s, "f", std::slice::from_ref(&a));
    assert_eq!(ingest(s, "g", &[b]), vec![Outcome::Conflict]);
    let cur = s.current(&id_of(&a)).unwrap().unwrap();
    assert_eq!(serde_json::from_str::<Value>(&cur.raw).unwrap()["name"], "first");
    assert_eq!(s.stats().unwrap().conflicts, 1);
    // The conflicting source did not deliver anything that was stored.
    let sources: Vec<String> = s.sources_of(&id_of(&a)).unwrap().into_iter().map(|x| x.source).collect();
    assert_eq!(sources, vec!["f".to_string()]);
    // A conflict with an older, non-current version is detected too.
    let newer = indicator("4", "2020-03-01T00:00:00.000Z", json!({}));
    ingest(s, "f", &[newer]);
    let c = indicator("4", "2020-01-01T00:00:00.000Z", json!({"name": "third"}));
    assert_eq!(ingest(s, "f", &[c]), vec![Outcome::Conflict]);
}

fn revoked_is_terminal(s: &dyn Store) {
    let v1 = indicator("5", "2020-01-01T00:00:00.000Z", json!({}));
    let rev = indicator("5", "2020-02-01T00:00:00.000Z", json!({"revoked": true}));
    let after = indicator("5", "2020-03-01T00:00:00.000Z", json!({"revoked": false}));
    ingest(s, "f", &[v1.clone(), rev.clone()]);
    assert_eq!(
        ingest(s, "f", &[after]),
        vec![Outcome::Revoked { revoked_version: "2020-02-01T00:00:00.000000000Z".into() }]
    );
    assert!(s.current(&id_of(&v1)).unwrap().unwrap().revoked);
    // History before the revocation may still arrive; the revocation stays current.
    let older = indicator("5", "2019-06-01T00:00:00.000Z", json!({}));
    assert_eq!(ingest(s, "f", &[older]), vec![Outcome::NewVersion]);
    assert!(s.current(&id_of(&v1)).unwrap().unwrap().revoked);
    assert_eq!(ingest(s, "f", &[rev]), vec![Outcome::Unchanged]);
}

fn tombstone_hides_but_keeps_history(s: &dyn Store) {
    let v1 = indicator("6", "2020-01-01T00:00:00.000Z", json!({}));
    let id = id_of(&v1);
    ingest(s, "f", std::slice::from_ref(&v1));
    assert!(s.delete(&id, &Source::new(SourceKind::Ui, "admin")).unwrap());
    assert!(!s.delete(&id, &Source::new(SourceKind::Ui, "admin")).unwrap(), "second delete is a no-op");
    assert!(s.current(&id).unwrap().is_none());
    let page = s.list(&Filter::default(), None, 100).unwrap();
    assert!(page.items.iter().all(|v| v.id != id));
    let all = s.list(&Filter { versions: VersionSelect::All, ..Filter::default() }, None, 100).unwrap();
    let mine: Vec<_> = all.items.iter().filter(|v| v.id == id).collect();
    assert_eq!(mine.len(), 2);
    assert!(mine[1].tombstone);
    // Re-delivering the deleted version does not bring it back…
    assert_eq!(ingest(s, "f", &[v1]), vec![Outcome::Unchanged]);
    assert!(s.current(&id).unwrap().is_none());
    // …a newer version does.
    let v2 = indicator("6", "2020-05-01T00:00:00.000Z", json!({}));
    assert_eq!(ingest(s, "f", &[v2]), vec![Outcome::NewVersion]);
    assert!(s.current(&id).unwrap().is_some());
    assert_eq!(s.stats().unwrap().deleted, 0);
}

fn date_added_strictly_increasing(s: &dyn Store) {
    let batch: Vec<Value> =
        (0..500).map(|i| indicator(&format!("{:x}", 0x1000 + i), "2020-01-01T00:00:00.000Z", json!({}))).collect();
    ingest(s, "f", &batch[..250]);
    ingest(s, "f", &batch[250..]);
    s.delete(&id_of(&batch[0]), &src("f")).unwrap();
    let all = s.list(&Filter { versions: VersionSelect::All, ..Filter::default() }, None, 10_000).unwrap();
    assert_eq!(all.items.len(), 501);
    for w in all.items.windows(2) {
        assert!(w[0].seq < w[1].seq);
        assert!(w[0].date_added < w[1].date_added, "date_added must be unique and increasing");
    }
}

fn sources_first_and_last_seen(s: &dyn Store) {
    let a = indicator("7", "2020-01-01T00:00:00.000Z", json!({}));
    ingest(s, "feed-a", std::slice::from_ref(&a));
    std::thread::sleep(std::time::Duration::from_millis(2));
    ingest(s, "feed-b", std::slice::from_ref(&a));
    std::thread::sleep(std::time::Duration::from_millis(2));
    ingest(s, "feed-a", std::slice::from_ref(&a));
    let seen = s.sources_of(&id_of(&a)).unwrap();
    assert_eq!(seen.len(), 2);
    let fa = seen.iter().find(|x| x.source == "feed-a").unwrap();
    let fb = seen.iter().find(|x| x.source == "feed-b").unwrap();
    assert!(fa.last_seen > fa.first_seen);
    assert_eq!(fb.first_seen, fb.last_seen);
    assert!(fb.first_seen > fa.first_seen && fb.first_seen < fa.last_seen);
    assert_eq!(fa.kind, "file");
}

fn keyset_paging_is_exact(s: &dyn Store) {
    let objs: Vec<Value> =
        (0..95).map(|i| indicator(&format!("{:x}", 0x2000 + i), "2020-01-01T00:00:00.000Z", json!({}))).collect();
    ingest(s, "f", &objs);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list(&Filter::default(), cursor, 10).unwrap();
        assert!(page.items.len() <= 10);
        // Writes between pages must not disturb what later pages return for old objects.
        if seen.len() == 30 {
            ingest(s, "f", &[indicator("2fff", "2020-01-01T00:00:00.000Z", json!({}))]);
        }
        seen.extend(page.items.iter().map(|v| v.id.clone()));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), seen.len(), "no object twice");
    assert_eq!(seen.len(), 96, "every object once, including the one added mid-way");
}

fn filters(s: &dyn Store) {
    let ind = indicator("8", "2020-01-01T00:00:00.000Z", json!({}));
    let mal = json!({"type": "malware", "spec_version": "2.1", "id": "malware--00000000-0000-4000-8000-000000000008",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "name": "x", "is_family": true});
    ingest(s, "a", std::slice::from_ref(&ind));
    ingest(s, "b", std::slice::from_ref(&mal));
    let by_type = s.list(&Filter { types: vec!["malware".into()], ..Filter::default() }, None, 10).unwrap();
    assert_eq!(by_type.items.len(), 1);
    assert_eq!(by_type.items[0].id, id_of(&mal));
    let by_source = s.list(&Filter { sources: vec!["a".into()], ..Filter::default() }, None, 10).unwrap();
    assert_eq!(by_source.items.iter().map(|v| v.id.clone()).collect::<Vec<_>>(), vec![id_of(&ind)]);
    let by_id = s.list(&Filter { ids: vec![id_of(&mal), "nope".into()], ..Filter::default() }, None, 10).unwrap();
    assert_eq!(by_id.items.len(), 1);
    // Spec versions: a 2.0 object (no spec_version) next to 2.1 ones.
    let mut old = mal.clone();
    old.as_object_mut().unwrap().remove("spec_version");
    old["id"] = json!("malware--00000000-0000-4000-8000-000000000020");
    ingest(s, "b", std::slice::from_ref(&old));
    assert_eq!(s.spec_versions(&Filter::default()).unwrap(), vec!["2.0".to_string(), "2.1".to_string()]);
    let f20 = Filter { spec_versions: vec!["2.0".into()], ..Filter::default() };
    assert_eq!(s.spec_versions(&f20).unwrap(), vec!["2.0".to_string()]);
    let ids: Vec<String> = s.list(&f20, None, 10).unwrap().items.into_iter().map(|v| v.id).collect();
    assert_eq!(ids, vec![id_of(&old)]);
    // Every version of chosen ids, tombstones included, and nothing of other ids.
    let v2 = indicator("8", "2020-02-01T00:00:00.000Z", json!({}));
    ingest(s, "a", &[v2]);
    s.delete(&id_of(&ind), &src("a")).unwrap();
    let all_of = Filter { ids: vec![id_of(&ind)], versions: VersionSelect::All, ..Filter::default() };
    let items = s.list(&all_of, None, 10).unwrap().items;
    assert_eq!(items.iter().map(|v| v.tombstone).collect::<Vec<_>>(), vec![false, false, true]);
    assert!(items.iter().all(|v| v.id == id_of(&ind)));
    let live = Filter { live_only: true, ..all_of.clone() };
    assert!(s.list(&live, None, 10).unwrap().items.is_empty(), "live_only hides a deleted object's history");
    // The current listing by id skips the deleted object.
    let live = s.list(&Filter { ids: vec![id_of(&ind)], ..Filter::default() }, None, 10).unwrap();
    assert!(live.items.is_empty());
}

fn unversioned_objects(s: &dyn Store) {
    let ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"});
    assert_eq!(ingest(s, "f", std::slice::from_ref(&ip)), vec![Outcome::Created]);
    assert_eq!(ingest(s, "f", std::slice::from_ref(&ip)), vec![Outcome::Unchanged]);
    let mut ip2 = ip.clone();
    ip2["x_note"] = json!("seen in campaign");
    assert_eq!(ingest(s, "f", std::slice::from_ref(&ip2)), vec![Outcome::NewVersion]);
    let cur = s.current(&id_of(&ip)).unwrap().unwrap();
    assert_eq!(serde_json::from_str::<Value>(&cur.raw).unwrap(), ip2);
    assert_eq!(cur.version_key, None);
}

fn duplicates_inside_one_batch(s: &dyn Store) {
    let a = indicator("9", "2020-01-01T00:00:00.000Z", json!({}));
    let b = indicator("9", "2020-01-02T00:00:00.000Z", json!({}));
    let out = ingest(s, "f", &[a.clone(), a.clone(), b.clone(), a]);
    assert_eq!(out, vec![Outcome::Created, Outcome::Unchanged, Outcome::NewVersion, Outcome::Unchanged]);
}

fn reversed(v: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for (k, x) in v.as_object().unwrap().iter().rev() {
        m.insert(k.clone(), x.clone());
    }
    Value::Object(m)
}

fn key_order_does_not_make_a_new_version(s: &dyn Store) {
    let a = indicator("a", "2020-01-01T00:00:00.000Z", json!({"labels": ["x"]}));
    let b = reversed(&a);
    assert_ne!(serde_json::to_string(&b).unwrap(), serde_json::to_string(&a).unwrap());
    ingest(s, "f", std::slice::from_ref(&a));
    assert_eq!(ingest(s, "f", std::slice::from_ref(&b)), vec![Outcome::Unchanged], "current version");
    // The same for an older version, found through the history lookup…
    let newer = indicator("a", "2020-06-01T00:00:00.000Z", json!({}));
    ingest(s, "f", &[newer]);
    assert_eq!(ingest(s, "f", &[b]), vec![Outcome::Unchanged], "older version");
    // …and for an unversioned SCO.
    let ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.9"});
    ingest(s, "f", std::slice::from_ref(&ip));
    assert_eq!(ingest(s, "f", &[reversed(&ip)]), vec![Outcome::Unchanged], "SCO");
    assert_eq!(s.versions(&id_of(&ip)).unwrap().len(), 1);
}

fn accounts(s: &dyn Store) {
    assert!(s.user("alice").unwrap().is_none());
    let u = crate::User { name: "alice".into(), role: "admin".into(), password_hash: "h1".into() };
    s.put_user(&u).unwrap();
    assert_eq!(s.user("alice").unwrap(), Some(u));
    s.put_user(&crate::User { name: "alice".into(), role: "reader".into(), password_hash: "h2".into() }).unwrap();
    assert_eq!(s.user("alice").unwrap().unwrap().role, "reader");
    s.put_token(&[7; 32], "ci", "contributor").unwrap();
    assert_eq!(s.token(&[7; 32]).unwrap(), Some(("ci".into(), "contributor".into())));
    assert_eq!(s.token(&[8; 32]).unwrap(), None);
    s.put_token(&[9; 32], "alice", "reader").unwrap();
    s.put_user(&crate::User { name: "bob".into(), role: "contributor".into(), password_hash: "h3".into() }).unwrap();
    let names: Vec<String> = s.users().unwrap().into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["alice", "bob"]);
    let tokens = s.tokens().unwrap();
    assert_eq!(tokens.iter().map(|t| (t.hash[0], t.name.as_str())).collect::<Vec<_>>(), [(7, "ci"), (9, "alice")]);
    assert!(tokens[0].created <= tokens[1].created && tokens[0].created > 0);
    assert!(s.delete_token(&[7; 32]).unwrap());
    assert!(!s.delete_token(&[7; 32]).unwrap(), "already gone");
    assert_eq!(s.token(&[7; 32]).unwrap(), None, "a revoked token no longer authenticates");
    assert!(s.delete_user("bob").unwrap());
    assert!(!s.delete_user("bob").unwrap());
    assert!(s.user("bob").unwrap().is_none());
    assert_eq!(s.instance_id().unwrap().len(), 36);
}

fn all_or_nothing_rolls_back(s: &dyn Store) {
    let first = indicator("b1", "2020-01-01T00:00:00.000Z", json!({"name": "first"}));
    ingest(s, "f", &[first]);
    let fresh = indicator("b2", "2020-01-01T00:00:00.000Z", json!({}));
    let clash = indicator("b1", "2020-01-01T00:00:00.000Z", json!({"name": "other"}));
    // A conflict anywhere rolls back everything, even objects in earlier batches.
    let mut batches = vec![vec![cand(&fresh)], vec![cand(&clash)]].into_iter();
    let committed = s
        .ingest_stream(&src("f"), &mut batches, crate::Commit::AllOrNothing, &mut |_, committed| {
            assert!(!committed);
            true
        })
        .unwrap();
    assert!(!committed);
    assert!(s.current(&id_of(&fresh)).unwrap().is_none());
    // The caller's veto rolls back too.
    let mut batches = vec![vec![cand(&fresh)], vec![]].into_iter();
    let mut calls = 0;
    let committed = s
        .ingest_stream(&src("f"), &mut batches, crate::Commit::AllOrNothing, &mut |_, _| {
            calls += 1;
            calls < 2
        })
        .unwrap();
    assert!(!committed);
    assert_eq!(calls, 2, "empty batches get their call");
    assert!(s.current(&id_of(&fresh)).unwrap().is_none());
    // Without a failure it commits.
    let mut batches = vec![vec![cand(&fresh)]].into_iter();
    assert!(s.ingest_stream(&src("f"), &mut batches, crate::Commit::AllOrNothing, &mut |_, _| true).unwrap());
    assert!(s.current(&id_of(&fresh)).unwrap().is_some());
}

fn per_batch_commits_each_batch(s: &dyn Store) {
    let a = indicator("c1", "2020-01-01T00:00:00.000Z", json!({}));
    let b = indicator("c2", "2020-01-01T00:00:00.000Z", json!({}));
    let mut batches = vec![vec![cand(&a)], vec![cand(&b)]].into_iter();
    let mut committed_ids = Vec::new();
    s.ingest_stream(&src("f"), &mut batches, crate::Commit::PerBatch, &mut |out, committed| {
        assert!(committed);
        assert_eq!(out, &[Outcome::Created]);
        committed_ids.push(out.len());
        true
    })
    .unwrap();
    assert_eq!(committed_ids, vec![1, 1]);
    assert_eq!(s.stats().unwrap().objects, 2);
}

fn version_selection(s: &dyn Store) {
    let v2 = indicator("d1", "2020-02-01T00:00:00.000Z", json!({}));
    let v3 = indicator("d1", "2020-03-01T00:00:00.000Z", json!({}));
    let v1 = indicator("d1", "2020-01-01T00:00:00.000Z", json!({}));
    let other = indicator("d2", "2020-05-01T00:00:00.000Z", json!({}));
    // v1, the oldest, arrives last: it must become the "first" version.
    ingest(s, "f", &[v2, v3, other]);
    ingest(s, "f", &[v1]);
    let keys = |f: &Filter| -> Vec<(String, String)> {
        s.list(f, None, 100)
            .unwrap()
            .items
            .into_iter()
            .map(|v| (v.id[v.id.len() - 2..].to_string(), v.version_key.unwrap_or_default()[..10].to_string()))
            .collect()
    };
    let current = keys(&Filter::default());
    assert_eq!(current, vec![("d1".into(), "2020-03-01".into()), ("d2".into(), "2020-05-01".into())]);
    let first = keys(&Filter { versions: VersionSelect::First, ..Filter::default() });
    assert!(first.contains(&("d1".into(), "2020-01-01".into())), "{first:?}");
    assert!(first.contains(&("d2".into(), "2020-05-01".into())), "{first:?}");
    let two =
        VersionSelect::Keys(vec!["2020-02-01T00:00:00.000000000Z".into(), "2020-05-01T00:00:00.000000000Z".into()]);
    let picked = keys(&Filter { versions: two, ..Filter::default() });
    assert_eq!(picked, vec![("d1".into(), "2020-02-01".into()), ("d2".into(), "2020-05-01".into())]);
    let only_d1 = Filter {
        ids: vec![id_of(&indicator("d1", "x", json!({})))],
        versions: VersionSelect::All,
        ..Filter::default()
    };
    assert_eq!(keys(&only_d1).len(), 3);
}

fn json_filters(s: &dyn Store) {
    let green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
    let a = indicator(
        "e1",
        "2020-01-01T00:00:00.000Z",
        json!({"labels": ["apt", "c2"], "confidence": 80, "object_marking_refs": [green]}),
    );
    let b = indicator("e2", "2020-01-01T00:00:00.000Z", json!({"labels": ["spam"], "confidence": 20}));
    ingest(s, "f", &[a.clone(), b.clone()]);
    let ids = |f: Filter| -> Vec<String> { s.list(&f, None, 10).unwrap().items.into_iter().map(|v| v.id).collect() };
    assert_eq!(ids(Filter { tags: vec!["c2".into(), "x".into()], ..Filter::default() }), vec![id_of(&a)]);
    assert_eq!(ids(Filter { tlp_marking: Some(green.into()), ..Filter::default() }), vec![id_of(&a)]);
    assert_eq!(ids(Filter { min_confidence: Some(50), ..Filter::default() }), vec![id_of(&a)]);
    assert_eq!(ids(Filter { min_confidence: Some(10), ..Filter::default() }).len(), 2);
    assert!(ids(Filter { tags: vec!["spam".into()], min_confidence: Some(50), ..Filter::default() }).is_empty());
}

fn documents(s: &dyn Store) {
    assert!(s.docs("collection").unwrap().is_empty());
    s.put_doc("collection", "c1", r#"{"title":"one"}"#).unwrap();
    s.put_doc("collection", "c2", r#"{"title":"two"}"#).unwrap();
    s.put_doc("collection", "c1", r#"{"title":"uno"}"#).unwrap();
    s.put_doc("status", "c1", "{}").unwrap();
    assert_eq!(s.doc("collection", "c1").unwrap().as_deref(), Some(r#"{"title":"uno"}"#));
    let all: Vec<String> = s.docs("collection").unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(all, vec!["c1".to_string(), "c2".to_string()]);
    assert!(s.delete_doc("collection", "c1").unwrap());
    assert!(!s.delete_doc("collection", "c1").unwrap());
    assert!(s.doc("collection", "c1").unwrap().is_none());
    assert!(s.doc("status", "c1").unwrap().is_some());
    // Several changes in one call, removals included.
    s.write_docs(&[("k", "b", Some("{\"v\":2}")), ("k", "c", Some("{}")), ("k", "a", None), ("k", "zz", None)])
        .unwrap();
    assert_eq!(s.doc("k", "b").unwrap().as_deref(), Some("{\"v\":2}"));
    assert!(s.doc("k", "a").unwrap().is_none());
    assert!(s.doc("k", "c").unwrap().is_some());
}

fn head_follows_every_write(s: &dyn Store) {
    assert_eq!(s.head().unwrap(), None);
    let a = indicator("1", "2020-01-01T00:00:00.000Z", json!({}));
    ingest(s, "a", std::slice::from_ref(&a));
    let h1 = s.head().unwrap().expect("a version");
    let all = Filter { versions: VersionSelect::All, ..Filter::default() };
    assert_eq!(s.list(&all, None, 10).unwrap().items.last().unwrap().seq, h1);
    ingest(s, "a", std::slice::from_ref(&a));
    assert_eq!(s.head().unwrap(), Some(h1), "an unchanged re-ingest writes no version");
    assert!(s.delete(&id_of(&a), &src("a")).unwrap());
    let h2 = s.head().unwrap().unwrap();
    assert!(h2 > h1, "a tombstone moves the head");
    let after = s.list(&all, Some(h1), 10).unwrap().items;
    assert_eq!(after.len(), 1);
    assert!(after[0].tombstone && after[0].seq == h2);
}

/// Each version keeps what the ingestion rules did to it, and a re-delivery of the same
/// object is recognised by what was delivered, even when the rules now edit it otherwise.
fn curation_is_kept_per_version(s: &dyn Store) {
    let delivered = indicator("c1", "2020-01-01T00:00:00.000Z", json!({"labels": ["a"]}));
    let mut edited = delivered.clone();
    edited["labels"] = json!(["a", "extended"]);
    let meta = cairn_stix::ObjectMeta::from_value(&delivered, None).unwrap();
    let first = Candidate::from_edited(
        &serde_json::to_string(&delivered).unwrap(),
        &edited,
        &meta,
        Curation { ruleset: Some(3), rules: vec!["r1".into()] },
    );
    assert_eq!(s.ingest(&src("feed"), &[first]).unwrap(), vec![Outcome::Created]);
    let cur = s.current(&id_of(&delivered)).unwrap().unwrap();
    assert_eq!((cur.ruleset, cur.rules.clone()), (Some(3), vec!["r1".to_string()]));
    assert!(cur.raw.contains("extended"), "stored as edited");

    // The same delivery under a later rule set that edits it differently: no new version,
    // no conflict.
    let mut edited2 = delivered.clone();
    edited2["labels"] = json!(["a", "other"]);
    let again = Candidate::from_edited(
        &serde_json::to_string(&delivered).unwrap(),
        &edited2,
        &meta,
        Curation { ruleset: Some(4), rules: vec!["r2".into()] },
    );
    assert_eq!(s.ingest(&src("feed"), &[again]).unwrap(), vec![Outcome::Unchanged]);

    // A version without rules records none.
    let v2 = indicator("c1", "2020-02-01T00:00:00.000Z", json!({}));
    assert_eq!(ingest(s, "feed", &[v2]), vec![Outcome::NewVersion]);
    let versions = s.versions(&id_of(&delivered)).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!((versions[1].ruleset, versions[1].rules.is_empty()), (None, true));
    assert_eq!(versions[0].rules, vec!["r1".to_string()]);
}

/// An audited write stores the version and its entry together, or neither.
fn audited_writes_are_atomic(s: &dyn Store) {
    let v1 = indicator("a1", "2020-01-01T00:00:00.000Z", json!({}));
    let entry = |n: i64| AuditEntry::new("user:ann", "edit", Some(id_of(&v1)), json!({"n": n}));
    assert_eq!(s.ingest_audited(&src("ui"), &[cand(&v1)], &[entry(1)]).unwrap(), vec![Outcome::Created]);
    // A different body under the same modified: refused, and no entry is written.
    let clash = indicator("a1", "2020-01-01T00:00:00.000Z", json!({"name": "other"}));
    let e = s.ingest_audited(&src("ui"), &[cand(&clash)], &[entry(2)]).unwrap_err();
    assert!(matches!(e, crate::StoreError::Refused(_)), "{e}");
    let revoked = indicator("a1", "2020-02-01T00:00:00.000Z", json!({"revoked": true}));
    s.ingest_audited(&src("ui"), &[cand(&revoked)], &[entry(3)]).unwrap();
    let after = indicator("a1", "2020-03-01T00:00:00.000Z", json!({}));
    let e = s.ingest_audited(&src("ui"), &[cand(&after)], &[entry(4)]).unwrap_err();
    assert!(e.to_string().contains("revoked"), "{e}");
    s.append_audit(&[AuditEntry::new("user:bob", "delete", Some("x--1".into()), json!(null))]).unwrap();

    let all = s.audit(&AuditQuery { limit: 100, ..AuditQuery::default() }).unwrap();
    let ns: Vec<Value> = all.iter().map(|e| e.detail["n"].clone()).collect();
    assert_eq!(ns, vec![json!(1), json!(3), Value::Null]);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at));
    let ann = s.audit(&AuditQuery { actor: Some("user:ann".into()), limit: 100, ..AuditQuery::default() }).unwrap();
    assert_eq!(ann.len(), 2);
    let of = s.audit(&AuditQuery { object_id: Some("x--1".into()), limit: 100, ..AuditQuery::default() }).unwrap();
    assert_eq!(of.len(), 1);
    assert_eq!(of[0].actor, "user:bob");
    let later = s.audit(&AuditQuery { after: Some(all[0].seq), limit: 1, ..AuditQuery::default() }).unwrap();
    assert_eq!(later, vec![all[1].clone()]);
}

/// Tag counts see current versions of live objects only.
fn tag_counts_of_current_objects(s: &dyn Store) {
    ingest(
        s,
        "f",
        &[
            indicator("t1", "2020-01-01T00:00:00.000Z", json!({"labels": ["apt29", "c2"]})),
            indicator("t2", "2020-01-01T00:00:00.000Z", json!({"labels": ["APT28", "c2"]})),
            indicator("t3", "2020-01-01T00:00:00.000Z", json!({"labels": ["c2", "100%_sure"]})),
            indicator("t3", "2020-02-01T00:00:00.000Z", json!({"labels": ["100%_sure"]})),
            indicator("t4", "2020-01-01T00:00:00.000Z", json!({"labels": ["gone"]})),
        ],
    );
    assert!(s.delete(&id_of(&indicator("t4", "2020-01-01T00:00:00.000Z", json!({}))), &src("f")).unwrap());
    let all = s.tag_counts("", 10).unwrap();
    assert_eq!(all, vec![("c2".into(), 2), ("100%_sure".into(), 1), ("APT28".into(), 1), ("apt29".into(), 1)]);
    assert_eq!(s.tag_counts("apt", 10).unwrap().len(), 2);
    assert_eq!(s.tag_counts("100%", 10).unwrap(), vec![("100%_sure".to_string(), 1)]);
    assert_eq!(s.tag_counts("1_", 10).unwrap(), vec![]);
    assert_eq!(s.tag_counts("", 1).unwrap().len(), 1);
}

/// A varied population for search checks: indicators, malware and an SCO, some fields
/// missing, tags in mixed case, TLP markings, new versions and deletes.
fn search_population(s: &dyn Store) -> Vec<String> {
    let tlps = [
        None,
        Some("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"),
        Some("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"),
        Some("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"),
    ];
    let names = ["Evil C2", "evil dropper", "Benign", "ALPHA", "beta", "Émigré", "zeta", ""];
    let mut objs = Vec::new();
    for n in 0..48u32 {
        let mut extra = json!({
            "name": names[n as usize % names.len()],
            "pattern": format!("[ipv4-addr:value = '198.51.100.{n}'] OR [domain-name:value = 'h{n}.example']"),
        });
        if n % 5 != 0 {
            extra["confidence"] = json!((n * 7) % 101);
        }
        if n % 3 == 0 {
            extra["labels"] = json!(["apt29", if n % 2 == 0 { "C2" } else { "c2" }]);
        } else if n % 3 == 1 {
            extra["labels"] = json!([format!("t{}", n % 4)]);
        }
        if let Some(t) = tlps[n as usize % tlps.len()] {
            extra["object_marking_refs"] = json!([t]);
        }
        if n % 4 == 0 {
            extra["valid_until"] = json!(format!("2021-{:02}-01T00:00:00Z", n % 12 + 1));
        }
        if n % 11 == 0 {
            extra["description"] = json!("an evildoer's beacon");
        }
        if n == 13 {
            extra["revoked"] = json!(true);
        }
        let day = n % 28 + 1;
        objs.push(indicator(&format!("5{n:03}"), &format!("2020-03-{day:02}T00:00:00.000Z"), extra));
    }
    for n in 0..6u32 {
        let mut m = indicator(&format!("6{n:03}"), "2020-02-01T00:00:00.000Z", json!({}));
        m["type"] = json!("malware");
        m["id"] = json!(format!("malware--00000000-0000-4000-8000-{:012}", 6000 + n));
        for k in ["pattern", "pattern_type", "valid_from"] {
            m.as_object_mut().unwrap().remove(k);
        }
        m["name"] = json!(format!("Malware {n}"));
        m["is_family"] = json!(false);
        objs.push(m);
    }
    objs.push(json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "203.0.113.9"}));
    let batch: Vec<Candidate> = objs.iter().map(cand).collect();
    s.ingest(&src("feed-a"), &batch[..30]).unwrap();
    s.ingest(&Source::new(SourceKind::Upload, "Feed-B"), &batch[30..]).unwrap();
    // A new version of one, and two deletes.
    let newer = indicator("5001", "2020-04-01T00:00:00.000Z", json!({"name": "renamed", "confidence": 99}));
    s.ingest(&src("feed-a"), &[cand(&newer)]).unwrap();
    assert!(s.delete(&id_of(&objs[2]), &src("feed-a")).unwrap());
    assert!(s.delete(&id_of(&objs[40]), &src("feed-a")).unwrap());
    // Enrichment facts for some, written in two rounds so replaced facts are tested too.
    let ids: Vec<String> = objs.iter().map(id_of).collect();
    let facts = |n: usize| match n % 4 {
        0 => Some(json!({"country": ["RU"], "asn": [13335], "as_org": ["Cloudflare, Inc."]})),
        1 => Some(json!({"country": ["NL", "ru"], "asn": [64500]})),
        2 if n.is_multiple_of(5) => Some(json!({"registrar": ["Évil Registrar"], "newly_registered_domain": [true]})),
        2 => Some(json!({"newly_registered_domain": [false], "city": ["Amsterdam"]})),
        _ => None,
    };
    let first: Vec<(&str, Option<Value>)> = ids.iter().enumerate().map(|(n, id)| (id.as_str(), facts(n + 1))).collect();
    let first: Vec<(&str, Option<&Value>)> = first.iter().map(|(id, f)| (*id, f.as_ref())).collect();
    s.write_enrichment(&[], &first).unwrap();
    let second: Vec<(&str, Option<Value>)> = ids.iter().enumerate().map(|(n, id)| (id.as_str(), facts(n))).collect();
    let second: Vec<(&str, Option<&Value>)> = second.iter().map(|(id, f)| (*id, f.as_ref())).collect();
    s.write_enrichment(&[("enrichment-test", "x", Some("{}"))], &second).unwrap();
    assert_eq!(s.doc("enrichment-test", "x").unwrap().as_deref(), Some("{}"));
    assert_eq!(s.enrichment_facts(&ids[4]).unwrap(), facts(4));
    assert_eq!(s.enrichment_facts(&ids[3]).unwrap(), None);
    ids
}

fn brute(s: &dyn Store, types: &[&str], c: &cairn_condition::Condition, now: i64) -> Vec<String> {
    let filter = Filter { types: types.iter().map(|t| t.to_string()).collect(), ..Filter::default() };
    let page = s.list(&filter, None, 10_000).unwrap();
    let mut ids: Vec<String> = page
        .items
        .iter()
        .filter(|v| {
            let obj: Value = serde_json::from_str(&v.raw).unwrap();
            let facts = s.enrichment_facts(&v.id).unwrap();
            c.holds(&cairn_condition::Subject::new(&obj, &v.source, now).with_enrichment(facts.as_ref()))
        })
        .map(|v| v.id.clone())
        .collect();
    ids.sort();
    ids
}

/// Every search returns exactly what the condition evaluator selects, in sort order,
/// across pages; exact SQL and evaluator-checked conditions alike.
fn search_agrees_with_the_condition_evaluator(s: &dyn Store) {
    use crate::{SearchQuery, SortField};
    search_population(s);
    let p = s.refresh_search(1_000_000).unwrap();
    assert_eq!(p.lag, 0);
    let now = cairn_condition::parse_time("2020-04-15").unwrap();
    let conditions: Vec<Value> = vec![
        json!({"all": []}),
        json!({"field": "confidence", "operator": "GreaterThanEqual", "value": 50}),
        json!({"field": "confidence", "operator": "NotEquals", "value": 14}),
        json!({"field": "confidence", "operator": "IsNull"}),
        json!({"field": "tags", "operator": "ArrayContains", "value": "c2"}),
        json!({"field": "tags", "operator": "ArrayNotContains", "values": ["apt29", "t1"]}),
        json!({"field": "tags", "operator": "ArrayContains", "values": ["apt29", "C2"], "connective": "and"}),
        json!({"field": "tags", "operator": "IsNull"}),
        json!({"field": "tlp", "operator": "Equals", "value": "green"}),
        json!({"field": "tlp", "operator": "NotEquals", "value": "TLP:RED"}),
        json!({"field": "tlp", "operator": "IsNull"}),
        json!({"field": "name", "operator": "StringContains", "value": "EVIL"}),
        json!({"field": "name", "operator": "StringStartsWith", "value": "e"}),
        json!({"field": "name", "operator": "StringNotEndsWith", "value": "a"}),
        json!({"field": "name", "operator": "Equals", "value": "émigré"}),
        json!({"field": "name", "operator": "StringIsEmpty"}),
        json!({"field": "source", "operator": "Equals", "value": "feed-b"}),
        json!({"field": "type", "operator": "Equals", "values": ["malware", "ipv4-addr"]}),
        json!({"field": "modified", "operator": "OnOrAfterAbsolute", "value": "2020-03-15"}),
        json!({"field": "modified", "operator": "BeforeRelative", "value": "30d"}),
        json!({"field": "valid_until", "operator": "IsNull"}),
        json!({"field": "valid_until", "operator": "LessThan", "value": "2021-06-01"}),
        json!({"field": "revoked", "operator": "IsTrue"}),
        json!({"field": "revoked", "operator": "IsFalse"}),
        json!({"field": "id", "operator": "StringEndsWith", "value": "5007"}),
        json!({"field": "enrichment.country", "operator": "Equals", "value": "ru"}),
        json!({"field": "enrichment.country", "operator": "NotEquals", "values": ["NL"]}),
        json!({"field": "enrichment.asn", "operator": "Equals", "values": [13335, "64500"]}),
        json!({"field": "enrichment.asn", "operator": "GreaterThan", "value": 20000}),
        json!({"field": "enrichment.registrar", "operator": "Equals", "value": "évil registrar"}),
        json!({"field": "enrichment.newly_registered_domain", "operator": "IsTrue"}),
        json!({"field": "enrichment.newly_registered_domain", "operator": "IsFalse"}),
        json!({"field": "enrichment.city", "operator": "IsNull"}),
        json!({"field": "enrichment.as_org", "operator": "StringContains", "value": "cloud"}),
        json!({"any": [{"field": "enrichment.country", "operator": "Equals", "value": "NL"},
                       {"field": "tags", "operator": "ArrayContains", "value": "apt29"}]}),
        // Not answerable by the index alone: checked against the objects.
        json!({"field": "name", "operator": "MatchesRegex", "value": "^[A-Z]"}),
        json!({"field": "observable_value", "operator": "Equals", "value": "h7.example"}),
        json!({"field": "$.description", "operator": "StringContains", "value": "beacon"}),
        json!({"any": [{"field": "confidence", "operator": "LessThan", "value": 20},
                       {"field": "name", "operator": "MatchesRegex", "value": "eta$"}]}),
        json!({"all": [{"field": "tags", "operator": "ArrayContains", "value": "apt29"},
                       {"not": {"field": "name", "operator": "MatchesRegex", "value": "(?i)evil"}}]}),
        json!({"not": {"any": [{"field": "tlp", "operator": "Equals", "value": "red"},
                               {"field": "confidence", "operator": "IsNull"}]}}),
    ];
    let sorts = [
        (SortField::Modified, true),
        (SortField::Name, false),
        (SortField::Confidence, true),
        (SortField::ValidUntil, false),
        (SortField::DateAdded, true),
    ];
    for (ci, c) in conditions.iter().enumerate() {
        let cond = cairn_condition::Condition::from_json(c).unwrap();
        for types in [&[][..], &["indicator"][..]] {
            let want = brute(s, types, &cond, now);
            for (si, (sort, descending)) in sorts.iter().enumerate() {
                if si > 0 && ci % 3 != 0 && types.is_empty() {
                    continue; // every sort for a third of the conditions keeps the check quick
                }
                let mut q = SearchQuery {
                    types: types.iter().map(|t| t.to_string()).collect(),
                    condition: cond.clone(),
                    sort: *sort,
                    descending: *descending,
                    limit: 7,
                    now,
                    ..SearchQuery::default()
                };
                let mut got = Vec::new();
                let mut keys = Vec::new();
                loop {
                    let page = s.search(&q).unwrap();
                    assert!(page.items.len() <= 7);
                    for v in &page.items {
                        let obj: Value = serde_json::from_str(&v.raw).unwrap();
                        keys.push(sort_key(&obj, *sort, v.seq));
                        got.push(v.id.clone());
                    }
                    match page.next {
                        Some(n) => q.after = Some(n),
                        None => break,
                    }
                }
                let mut sorted = keys.clone();
                sorted.sort();
                if *descending {
                    sorted.reverse();
                }
                assert_eq!(keys, sorted, "{c} {types:?}: results in {sort:?} order");
                got.sort();
                let n = got.len();
                got.dedup();
                assert_eq!(n, got.len(), "{c}: no object twice across pages");
                assert_eq!(got, want, "{c} {types:?} sorted by {sort:?}");
            }
            // With keywords: the condition's objects that the keywords alone find.
            let kw = |c: cairn_condition::Condition| -> Vec<String> {
                let mut q = SearchQuery {
                    keywords: Some("evil".into()),
                    condition: c,
                    limit: 3,
                    now,
                    ..SearchQuery::default()
                };
                q.types = types.iter().map(|t| t.to_string()).collect();
                let mut out = Vec::new();
                loop {
                    let page = s.search(&q).unwrap();
                    out.extend(page.items.into_iter().map(|v| v.id));
                    match page.next {
                        Some(n) => q.after = Some(n),
                        None => break,
                    }
                }
                out.sort();
                out
            };
            let with_keyword: Vec<String> =
                kw(cairn_condition::Condition::always()).into_iter().filter(|id| want.contains(id)).collect();
            assert!(!kw(cairn_condition::Condition::always()).is_empty());
            assert_eq!(kw(cond.clone()), with_keyword, "{c} {types:?} with keywords");
            let f = s
                .facets(&SearchQuery {
                    types: types.iter().map(|t| t.to_string()).collect(),
                    condition: cond.clone(),
                    now,
                    ..SearchQuery::default()
                })
                .unwrap();
            assert_eq!(f.total as usize, want.len(), "{c}: facet total");
            assert_eq!(f.types.iter().map(|(_, n)| n).sum::<u64>() as usize, want.len(), "{c}: type facets");
            assert_eq!(f.confidence.iter().map(|(_, n)| n).sum::<u64>() as usize, want.len(), "{c}: confidence facets");
        }
    }
}

/// What a search sorts by, as a comparable key (the index's own spelling of it).
fn sort_key(obj: &Value, sort: crate::SortField, seq: i64) -> (String, i64) {
    use crate::SortField::*;
    let time = |k: &str| {
        obj.get(k).and_then(Value::as_str).map(|t| cairn_stix::Timestamp::parse(t).unwrap().key()).unwrap_or_default()
    };
    match sort {
        Modified => (time("modified"), 0),
        Created => (time("created"), 0),
        ValidFrom => (time("valid_from"), 0),
        ValidUntil => (time("valid_until"), 0),
        // SQLite's NOCASE folds ASCII only.
        Name => (obj.get("name").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase(), 0),
        Confidence => (String::new(), obj.get("confidence").and_then(Value::as_i64).unwrap_or(-1)),
        Type => (obj["type"].as_str().unwrap().to_string(), 0),
        Source => (String::new(), 0),
        DateAdded => (String::new(), seq),
    }
}

/// The index follows new versions, deletes and re-deliveries; keywords find text and
/// observable values; facets count by tag and TLP.
fn search_index_follows_changes(s: &dyn Store) {
    use crate::SearchQuery;
    let ids = search_population(s);
    let before = s.refresh_search(10).unwrap();
    assert!(before.lag > 0, "indexing in small steps reports what is left");
    while s.refresh_search(10).unwrap().lag > 0 {}
    let find = |kw: &str| -> Vec<String> {
        let mut out: Vec<String> = s
            .search(&SearchQuery { keywords: Some(kw.into()), limit: 1000, ..SearchQuery::default() })
            .unwrap()
            .items
            .into_iter()
            .map(|v| v.id)
            .collect();
        out.sort();
        out
    };
    assert_eq!(find("renamed"), vec![ids[1].clone()], "the new version's name");
    assert!(find("dropper").iter().all(|i| *i != ids[1]), "the old version's name is gone");
    assert_eq!(find("198.51.100.7"), vec![ids[7].clone()], "observable values");
    assert_eq!(find("\"h7.example\""), vec![ids[7].clone()]);
    assert_eq!(find("203.0.113.9").len(), 1, "an SCO's value");
    assert!(find("evil").len() >= 4, "a prefix: Evil, evil, evildoer");
    assert!(!find("evil").contains(&ids[2]), "deleted objects are not found");
    assert_eq!(find("emigre").len(), find("Émigré").len(), "diacritics are folded");
    assert!(find("nothing-like-this").is_empty());
    // Delete and edit after indexing: the next refresh follows.
    assert!(s.delete(&ids[7], &src("feed-a")).unwrap());
    let v = indicator("5008", "2020-05-01T00:00:00.000Z", json!({"name": "fresh name", "labels": ["new-tag"]}));
    s.ingest(&src("feed-a"), &[cand(&v)]).unwrap();
    let p = s.search(&SearchQuery::default()).unwrap();
    assert!(p.lag >= 2, "the search says it is behind");
    let r = s.refresh_search(1000).unwrap();
    assert_eq!((r.indexed, r.lag), (2, 0));
    assert!(find("198.51.100.7").is_empty());
    assert_eq!(find("fresh"), vec![ids[8].clone()]);
    let f = s.facets(&SearchQuery::default()).unwrap();
    assert_eq!(f.tags.iter().find(|(t, _)| t == "new-tag").map(|(_, n)| *n), Some(1));
    assert!(f.tlp.iter().any(|(t, _)| t == "red") && f.tlp.iter().any(|(t, _)| t == "none"));
    // A cursor from elsewhere is refused with a clear error.
    let e = s.search(&SearchQuery { after: Some("garbage".into()), ..SearchQuery::default() }).unwrap_err();
    assert!(e.to_string().contains("not a cursor"), "{e}");
}

/// Relationships and sightings are found from either end, and follow new versions and
/// deletes.
fn related_objects_follow_relationships(s: &dyn Store) {
    let rel = |n: u32, src: &str, tgt: &str, modified: &str| {
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8000-{n:012}"),
               "created": "2020-01-01T00:00:00.000Z", "modified": modified, "relationship_type": "indicates",
               "source_ref": src, "target_ref": tgt})
    };
    let a = "indicator--00000000-0000-4000-8000-00000000000a";
    let m = "malware--00000000-0000-4000-8000-00000000000b";
    let t = "threat-actor--00000000-0000-4000-8000-00000000000c";
    let sighting = json!({"type": "sighting", "spec_version": "2.1", "id": "sighting--00000000-0000-4000-8000-000000000001",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "sighting_of_ref": a,
        "where_sighted_refs": ["identity--00000000-0000-4000-8000-00000000000d"]});
    ingest(s, "f", &[rel(1, a, m, "2020-01-01T00:00:00.000Z"), rel(2, m, t, "2020-01-01T00:00:00.000Z"), sighting]);
    while s.refresh_search(1000).unwrap().lag > 0 {}
    let ids = |id: &str| -> Vec<String> {
        let mut v: Vec<String> = s.related(id, 100).unwrap().into_iter().map(|v| v.id).collect();
        v.sort();
        v
    };
    assert_eq!(
        ids(a),
        ["relationship--00000000-0000-4000-8000-000000000001", "sighting--00000000-0000-4000-8000-000000000001"]
    );
    assert_eq!(
        ids(m),
        ["relationship--00000000-0000-4000-8000-000000000001", "relationship--00000000-0000-4000-8000-000000000002"]
    );
    assert_eq!(
        ids("identity--00000000-0000-4000-8000-00000000000d"),
        ["sighting--00000000-0000-4000-8000-000000000001"]
    );
    // A new version points elsewhere; a delete removes it.
    ingest(s, "f", &[rel(2, m, a, "2020-02-01T00:00:00.000Z")]);
    assert!(s.delete("sighting--00000000-0000-4000-8000-000000000001", &src("f")).unwrap());
    while s.refresh_search(1000).unwrap().lag > 0 {}
    assert!(ids(t).is_empty());
    assert_eq!(ids(a).len(), 2);
    assert!(ids("identity--00000000-0000-4000-8000-00000000000d").is_empty());
    assert_eq!(s.related(m, 1).unwrap().len(), 1, "the limit holds");
}
