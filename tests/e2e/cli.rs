//! The `cairn` binary: import/export/validate contracts, users and tokens, crash safety.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::indicator;

fn cairn(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn")).arg("--data").arg(data).args(args).output().expect("run cairn")
}

fn cairn_stdin(data: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cairn");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p.to_str().unwrap().to_string()
}

fn bundle(objects: Vec<Value>) -> Value {
    json!({"type": "bundle", "id": "bundle--6b4a1f2e-0c1d-4e5f-8a9b-000000000000", "objects": objects})
}

#[test]
fn import_counts_exit_codes_and_errors_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bad = indicator(2, "2024-01-01T00:00:00.000Z");
    bad["valid_until"] = json!("2023-01-01T00:00:00Z"); // before valid_from
    let file = write(
        dir.path(),
        "b.json",
        &bundle(vec![indicator(1, "2024-01-01T00:00:00.000Z"), bad, indicator(1, "2024-03-01T00:00:00.000Z")]),
    );
    let errors = dir.path().join("errors.jsonl");
    let o = cairn(&data, &["import", &file, "--source", "t", "--json", "--errors", errors.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout_json(&o), json!({"created": 1, "new_versions": 1, "unchanged": 0, "dropped": 0, "rejected": 1}));
    let lines: Vec<Value> =
        std::fs::read_to_string(&errors).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["index"], 1);
    assert_eq!(lines[0]["id"], indicator(2, "x")["id"]);
    assert!(lines[0]["errors"][0].as_str().unwrap().contains("valid_until"), "{}", lines[0]);
    // Again: everything valid is unchanged.
    let o = cairn(&data, &["import", &file, "--source", "t", "--json"]);
    assert_eq!(stdout_json(&o), json!({"created": 0, "new_versions": 0, "unchanged": 2, "dropped": 0, "rejected": 1}));
    // All valid: exit 0.
    let good = write(dir.path(), "g.json", &json!([indicator(3, "2024-01-01T00:00:00.000Z")]));
    let o = cairn(&data, &["import", &good, "--source", "t", "--json"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn all_or_nothing_stores_nothing_when_one_object_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bad = indicator(6, "2024-01-01T00:00:00.000Z");
    bad["confidence"] = json!(101);
    let file = write(dir.path(), "b.json", &bundle(vec![indicator(5, "2024-01-01T00:00:00.000Z"), bad]));
    let o = cairn(&data, &["import", &file, "--source", "t", "--json", "--all-or-nothing", "--batch-size", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let o = cairn(&data, &["export", "--format", "jsonl"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "", "nothing stored");
    let o = cairn(&data, &["import", &file, "--source", "t", "--json"]);
    assert_eq!(stdout_json(&o)["created"], 1, "without the flag the valid one is stored");
}

#[test]
fn malformed_input_names_the_position_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = serde_json::to_string(&indicator(7, "2024-01-01T00:00:00.000Z")).unwrap();
    let later = serde_json::to_string(&indicator(8, "2024-01-01T00:00:00.000Z")).unwrap();
    // JSON lines: the bad line is rejected with its line number; the lines after it count.
    let input = format!("{good}\n{{\"type\": \"indicator\",,}}\n{later}\n");
    let o = cairn_stdin(&data, &["import", "-", "--source", "t", "--json"], &input);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert_eq!(stdout_json(&o), json!({"created": 2, "new_versions": 0, "unchanged": 0, "dropped": 0, "rejected": 1}));
    // A bundle cannot be resynchronised: reading stops at the position, what came before stays.
    let data = dir.path().join("data2");
    let input = format!("{{\"type\": \"bundle\", \"id\": \"bundle--x\", \"objects\": [\n{good},\n{{\"type\" \"indicator\"}}, {later}]}}");
    let o = cairn_stdin(&data, &["import", "-", "--source", "t", "--json"], &input);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("line 3, column"), "{stderr}");
    assert_eq!(stdout_json(&o)["created"], 1);
}

#[test]
fn validate_reports_each_object_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bad = indicator(9, "2024-01-01T00:00:00.000Z");
    bad["id"] = json!("indicator--not-a-uuid");
    let input = format!(
        "{}\n{}\n",
        serde_json::to_string(&indicator(8, "2024-01-01T00:00:00.000Z")).unwrap(),
        serde_json::to_string(&bad).unwrap()
    );
    let o = cairn_stdin(&data, &["validate", "-"], &input);
    assert_eq!(o.status.code(), Some(2));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[0]["index"], 0);
    assert_eq!(lines[1]["valid"], false);
    assert_eq!(lines[1]["id"], "indicator--not-a-uuid");
    assert!(lines[1]["errors"][0].as_str().unwrap().starts_with("id"), "{}", lines[1]);
    assert!(lines[1]["warnings"].is_array());
    let o = cairn_stdin(
        &data,
        &["validate", "-"],
        &format!("{}\n", serde_json::to_string(&indicator(8, "2024-01-01T00:00:00.000Z")).unwrap()),
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn export_filters_versions_and_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mal = json!({"type": "malware", "spec_version": "2.1", "id": "malware--6b4a1f2e-0c1d-4e5f-8a9b-000000000001",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "m", "is_family": true});
    let f1 = write(dir.path(), "a.json", &bundle(vec![indicator(1, "2024-01-01T00:00:00.000Z"), mal.clone()]));
    let f2 = write(
        dir.path(),
        "b.json",
        &bundle(vec![indicator(1, "2024-02-01T00:00:00.000Z"), indicator(2, "2024-01-01T00:00:00.000Z")]),
    );
    assert_eq!(cairn(&data, &["import", &f1, "--source", "one"]).status.code(), Some(0));
    assert_eq!(cairn(&data, &["import", &f2, "--source", "two"]).status.code(), Some(0));
    let o = cairn(&data, &["export"]);
    let b = stdout_json(&o);
    assert_eq!(b["type"], "bundle");
    assert_eq!(b["objects"].as_array().unwrap().len(), 3);
    let o = cairn(&data, &["export", "--all-versions", "--format", "jsonl"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 4);
    let o = cairn(&data, &["export", "--type", "malware"]);
    assert_eq!(stdout_json(&o)["objects"], json!([mal]));
    let o = cairn(&data, &["export", "--source", "one", "--format", "jsonl"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let o = cairn(&data, &["delete", "malware--6b4a1f2e-0c1d-4e5f-8a9b-000000000001"]);
    assert_eq!(o.status.code(), Some(0));
    let o = cairn(&data, &["export", "--type", "malware"]);
    assert_eq!(stdout_json(&o)["objects"], json!([]));
    let o = cairn(&data, &["export", "--type", "malware", "--all-versions"]);
    assert_eq!(stdout_json(&o)["objects"], json!([mal]), "history stays");
    let o = cairn(&data, &["delete", "malware--6b4a1f2e-0c1d-4e5f-8a9b-000000000001"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn users_tokens_and_info_work_on_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = cairn(&data, &["user", "add", "alice", "--role", "admin", "--password", "a-long-password"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cairn(&data, &["user", "add", "bob", "--role", "superuser", "--password", "a-long-password"]);
    assert_ne!(o.status.code(), Some(0));
    let o = cairn(&data, &["token", "create", "ci", "--role", "contributor"]);
    let token = String::from_utf8(o.stdout).unwrap();
    assert!(token.trim().starts_with("cairn_") && token.lines().count() == 1, "token alone on stdout: {token:?}");
    let o = cairn(&data, &["info", "--json"]);
    let v = stdout_json(&o);
    assert_eq!(v["instance_id"].as_str().unwrap().len(), 36);
}

#[test]
fn serve_answers_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = crate::serve(&dir.path().join("data"), &[]);
    let body: Value = reqwest::blocking::get(format!("{url}/healthz")).unwrap().json().unwrap();
    assert_eq!(body["status"], "ok");
    let r = reqwest::blocking::get(format!("{url}/api/v1/objects")).unwrap();
    assert_eq!(r.status(), 401);
    // A token made by the CLI on the same data dir while the server runs works at once.
    let o = cairn(&dir.path().join("data"), &["token", "create", "late", "--role", "reader"]);
    let token = String::from_utf8(o.stdout).unwrap().trim().to_string();
    let r = reqwest::blocking::Client::new().get(format!("{url}/api/v1/objects")).bearer_auth(&token).send().unwrap();
    assert_eq!(r.status(), 200);
    // Graceful stop on SIGTERM, as a service manager sends it.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// SIGKILL in the middle of a large import: every object the import reported as
/// committed is there after restart, and the store opens cleanly.
#[test]
fn killed_import_loses_nothing_it_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("big.jsonl");
    let gen = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["bench", "generate", "--jsonl", "--count", "300000"])
        .output()
        .unwrap();
    std::fs::write(&file, &gen.stdout).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(&data)
        .args(["import", file.to_str().unwrap(), "--source", "big", "--progress", "lines", "--batch-size", "2000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut reported = 0u64;
    while let Some(Ok(line)) = lines.next() {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("progress line: {line}"));
        assert_eq!(v["committed"], true);
        reported = v["created"].as_u64().unwrap();
        if reported >= 20_000 {
            break;
        }
    }
    assert!(reported >= 20_000, "import ended before it could be killed");
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the import must have been killed, not finished");
    let o = cairn(&data, &["info", "--json"]);
    assert_eq!(o.status.code(), Some(0), "store opens cleanly: {}", String::from_utf8_lossy(&o.stderr));
    let stored = stdout_json(&o)["stats"]["objects"].as_u64().unwrap();
    assert!(stored >= reported, "reported {reported} committed, found {stored}");
    assert!(stored < 300_000, "the kill landed mid-import");
    // The reported objects are exactly the first ones of the input (imports keep order).
    let o = cairn(&data, &["export", "--format", "jsonl"]);
    let ids: std::collections::HashSet<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    for (i, line) in String::from_utf8_lossy(&gen.stdout).lines().take(reported as usize).enumerate() {
        let id = serde_json::from_str::<Value>(line).unwrap()["id"].as_str().unwrap().to_string();
        assert!(ids.contains(&id), "object #{i} ({id}) was reported committed but is missing");
    }
    let db = rusqlite_integrity(&data.join("cairn.db"));
    assert_eq!(db, "ok");
    // And the store still takes writes: re-import finishes the job.
    let o = cairn(&data, &["import", file.to_str().unwrap(), "--source", "big", "--json"]);
    let v = stdout_json(&o);
    assert_eq!(v["created"].as_u64().unwrap() + v["unchanged"].as_u64().unwrap(), 300_000);
}

fn rusqlite_integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

/// Push export to another TAXII server (a second Cairn): every object arrives, each export
/// is recorded with per-object outcomes, and a refused export is recorded as failed.
#[test]
fn export_to_a_taxii_collection_and_record_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("ours"), dir.path().join("theirs"));
    let inbox =
        String::from_utf8(cairn(&theirs, &["collection", "create", "--title", "inbox", "--writable"]).stdout).unwrap();
    let token =
        String::from_utf8(cairn(&theirs, &["token", "create", "peer", "--role", "contributor"]).stdout).unwrap();
    let (mut child, url) = crate::serve(&theirs, &[]);
    let objs: Vec<Value> = (300..1300).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let file = write(dir.path(), "b.json", &bundle(objs.clone()));
    assert_eq!(cairn(&ours, &["import", &file, "--source", "mine"]).status.code(), Some(0));
    let root = format!("{url}/taxii2/api/");
    let add = |name: &str, tok: &str| {
        cairn(&ours, &["export-target", "add", name, "--api-root", &root, "--collection", inbox.trim(), "--token", tok])
    };
    assert_eq!(add("peer", token.trim()).status.code(), Some(0));
    let o = cairn(&ours, &["export-to", "peer", "--type", "indicator"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = stdout_json(&o);
    assert_eq!(
        (rec["status"].as_str(), rec["sent"].as_u64(), rec["succeeded"].as_u64()),
        (Some("complete"), Some(1000), Some(1000))
    );
    // They have exactly what we sent.
    let o = cairn(&theirs, &["export", "--format", "jsonl"]);
    let got: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(got.len(), 1000);
    assert!(objs.iter().all(|o| got.contains(o)));
    // Continuous export: the first run sends everything matching, later runs only what is new.
    let o = cairn(
        &ours,
        &[
            "export-target",
            "add",
            "feed",
            "--api-root",
            &root,
            "--collection",
            inbox.trim(),
            "--token",
            token.trim(),
            "--every",
            "1h",
            "--type",
            "indicator",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cairn(&ours, &["export-target", "run-scheduled", "feed"]);
    assert_eq!(stdout_json(&o)["sent"], 1000);
    let more: Vec<Value> = (2000..2005).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let f2 = write(dir.path(), "more.json", &bundle(more));
    assert_eq!(cairn(&ours, &["import", &f2, "--source", "mine"]).status.code(), Some(0));
    let o = cairn(&ours, &["export-target", "run-scheduled", "feed"]);
    let rec = stdout_json(&o);
    assert_eq!((rec["sent"].as_u64(), rec["succeeded"].as_u64()), (Some(5), Some(5)));
    let o = cairn(&ours, &["export-target", "run-scheduled", "feed"]);
    assert_eq!(stdout_json(&o)["sent"], 0);
    let o = cairn(&theirs, &["info", "--json"]);
    assert_eq!(stdout_json(&o)["stats"]["objects"], 1005);
    // A refused export is recorded as failed, with the server's message, and exits non-zero.
    assert_eq!(add("wrong", "cairn_not_a_token").status.code(), Some(0));
    let o = cairn(&ours, &["export-to", "wrong", "--id", objs[0]["id"].as_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let rec = stdout_json(&o);
    assert_eq!(rec["status"], "failed");
    assert!(rec["error"].as_str().unwrap().contains("401"), "{rec}");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

#[test]
fn pattern_validate_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = cairn(&data, &["pattern", "validate", "[ipv4-addr:value = '198.51.100.1']"]);
    assert_eq!(
        (o.status.code(), String::from_utf8_lossy(&o.stdout).trim().to_string()),
        (Some(0), "VALID".to_string())
    );
    let input = "[ipv4-addr:value = '1.2.3.4']\n[ipv4-addr:value = ]\n[file:hashes.MD5 = 'not-a-hash']\n";
    let o = cairn_stdin(&data, &["pattern", "validate", "-"], input);
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "VALID");
    assert!(lines[1].starts_with("INVALID: ") && lines[1].contains("column"), "{}", lines[1]);
    assert!(lines[2].starts_with("INVALID: "), "{}", lines[2]);
    let o = cairn_stdin(&data, &["pattern", "validate", "--json"], input);
    let v: Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap()).unwrap();
    assert_eq!(v["valid"], false);
    // Observed data as stix2-matcher takes it: a bundle of observed-data and its SCOs.
    let observed = json!([{"type": "bundle", "id": "bundle--6b4a1f2e-0c1d-4e5f-8a9b-000000000009", "objects": [
        {"type": "observed-data", "spec_version": "2.1", "id": "observed-data--6b4a1f2e-0c1d-4e5f-8a9b-000000000001",
         "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
         "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1,
         "object_refs": ["ipv4-addr--6b4a1f2e-0c1d-4e5f-8a9b-000000000002"]},
        {"type": "ipv4-addr", "id": "ipv4-addr--6b4a1f2e-0c1d-4e5f-8a9b-000000000002", "value": "198.51.100.7"}]}]);
    let f = write(dir.path(), "observed.json", &observed);
    let o = cairn(
        &data,
        &["pattern", "match", "--pattern", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "--observed", &f],
    );
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).trim()), (Some(0), "MATCH"));
    let o = cairn(&data, &["pattern", "match", "--pattern", "[ipv4-addr:value = '10.0.0.1']", "--observed", &f]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).trim()), (Some(1), "NO MATCH"));
    let o = cairn(&data, &["pattern", "match", "--pattern", "[ipv4-addr:value = ", "--observed", &f]);
    assert!(o.status.code().unwrap() > 1, "an invalid pattern is an error, not NO MATCH");
}

#[test]
fn match_events_from_a_file_and_stdin_records_sightings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut ind = indicator(7, "2024-01-01T00:00:00.000Z");
    ind["labels"] = json!(["c2"]);
    let mut dom = indicator(8, "2024-01-01T00:00:00.000Z");
    dom["pattern"] = json!("[domain-name:value = 'evil.example' OR url:value = 'http://evil.example/x']");
    let file = write(dir.path(), "b.json", &bundle(vec![ind, dom]));
    assert_eq!(cairn(&data, &["import", &file, "--source", "feed"]).status.code(), Some(0));
    let events = [
        r#"{"@timestamp":"2026-06-01T10:00:00Z","source":{"ip":"198.51.100.7"}}"#,
        r#"{"@timestamp":"2026-06-01T11:00:00Z","url":{"full":"http://evil.example/x"}}"#,
        r#"{"@timestamp":"2026-06-01T11:00:00Z","source":{"ip":"10.9.9.9"}}"#,
    ]
    .join("\n");
    let ev_file = dir.path().join("ev.jsonl");
    std::fs::write(&ev_file, &events).unwrap();
    let o = cairn(&data, &["match", "--events", ev_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> =
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["indicator_id"], "indicator--6b4a1f2e-0c1d-4e5f-8a9b-000000000007");
    assert_eq!(lines[0]["tags"], json!(["c2"]));
    assert_eq!(lines[1]["observable_key"], "url:value");
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 sightings written"));
    // From stdin, with CEF field names and a bad line: exit 2, matches still printed.
    let cef = "{\"TimeGenerated\":\"2026-06-01T12:00:00Z\",\"DestinationIP\":\"198.51.100.7\"}\n[1]\n";
    let o = cairn_stdin(&data, &["match", "--events", "-", "--mapping", "cef", "--no-sightings"], cef);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2: not an event"));
    // Sightings: one per indicator per day, counts from both runs that recorded.
    let o = cairn(&data, &["export", "--type", "sighting"]);
    let b = stdout_json(&o);
    let s = b["objects"].as_array().unwrap();
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|x| x["count"] == 1));
    let o = cairn(&data, &["match", "--events", "/no/such/file"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read events from /no/such/file"));
}

/// A pattern of two observations matches two events of the log together, in order and
/// within its window; the same on one thread and on several.
#[test]
fn match_correlates_events_across_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut seq = indicator(9, "2024-01-01T00:00:00.000Z");
    seq["pattern"] = json!(
        "([domain-name:value = 'stage1.example'] FOLLOWEDBY [url:value = 'http://stage2.example/p']) WITHIN 300 SECONDS"
    );
    let file = write(dir.path(), "b.json", &bundle(vec![seq]));
    assert_eq!(cairn(&data, &["import", &file, "--source", "feed"]).status.code(), Some(0));
    let dns =
        |t: &str| format!(r#"{{"@timestamp":"2026-06-01T{t}Z","dns":{{"question":{{"name":"stage1.example"}}}}}}"#);
    let url = |t: &str| format!(r#"{{"@timestamp":"2026-06-01T{t}Z","url":{{"full":"http://stage2.example/p"}}}}"#);
    let mut events = vec![
        url("09:59:00"),                                                              // before stage 1: no part
        dns("10:00:00"),                                                              // stage 1
        r#"{"@timestamp":"2026-06-01T10:01:00Z","source":{"ip":"10.9.9.9"}}"#.into(), // unrelated
        url("10:02:00"),                                                              // stage 2: a match
        url("10:03:00"),                                                              // stage 1 was used up
        dns("11:00:00"),
        url("11:10:00"), // too late for the window
    ];
    // Enough lines that several threads get several chunks.
    events.extend((0..10_000).map(|i| {
        format!(r#"{{"@timestamp":"2026-06-01T12:00:00Z","source":{{"ip":"10.0.{}.{}"}}}}"#, i / 250, i % 250)
    }));
    events.push(dns("13:00:00"));
    events.push(url("13:00:30"));
    let ev_file = dir.path().join("ev.jsonl");
    std::fs::write(&ev_file, events.join("\n")).unwrap();
    let run = |threads: &str| {
        let o = cairn(&data, &["match", "--events", ev_file.to_str().unwrap(), "--threads", threads, "--no-sightings"]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let one = run("1");
    let lines: Vec<Value> = one.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{one}");
    assert_eq!(lines[0]["indicator_id"], "indicator--6b4a1f2e-0c1d-4e5f-8a9b-000000000009");
    assert_eq!(lines[0]["event"]["@timestamp"], "2026-06-01T10:02:00Z");
    assert_eq!(lines[0]["correlated_events"][0]["@timestamp"], "2026-06-01T10:00:00Z");
    assert_eq!(lines[1]["event"]["@timestamp"], "2026-06-01T13:00:30Z");
    assert_eq!(lines[1]["correlated_events"].as_array().map(Vec::len), Some(1));
    assert_eq!(run("2"), one, "threads change nothing but speed");
    // The HTTP API matches a request's events as one stream too.
    let (mut child, url_base) = crate::serve(&data, &[]);
    cairn(&data, &["user", "add", "ada", "--role", "admin", "--password", "correct horse"]);
    let body = json!({"events": [serde_json::from_str::<Value>(&dns("10:00:00")).unwrap(), serde_json::from_str::<Value>(&url("10:04:59")).unwrap()]});
    let r: Value = reqwest::blocking::Client::new()
        .post(format!("{url_base}/api/v1/match"))
        .basic_auth("ada", Some("correct horse"))
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r["matches"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["matches"][0]["correlated_events"][0]["dns"]["question"]["name"], "stage1.example");
}

#[test]
fn serve_watches_a_directory_of_event_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = write(dir.path(), "b.json", &bundle(vec![indicator(7, "2024-01-01T00:00:00.000Z")]));
    assert_eq!(cairn(&data, &["import", &file, "--source", "feed"]).status.code(), Some(0));
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--watch", events.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("watching"), "{first}");
    // Events appended while the server runs are matched within seconds.
    std::fs::write(
        events.join("fw.jsonl"),
        "{\"@timestamp\":\"2026-06-01T10:00:00Z\",\"destination\":{\"ip\":\"198.51.100.7\"}}\n",
    )
    .unwrap();
    let log = data.join("matches.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !log.exists() || std::fs::read_to_string(&log).unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no match logged within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let m: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(m["indicator_id"], "indicator--6b4a1f2e-0c1d-4e5f-8a9b-000000000007");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let o = cairn(&data, &["export", "--type", "sighting"]);
    assert_eq!(stdout_json(&o)["objects"][0]["count"], 1);
}

/// `cairn rule …` and a CSV import through the CLI: the rule curates the file (rules opted
/// in for file imports), and the import is in the history.
#[test]
fn rules_and_csv_import_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| cairn(&data, args);
    let o = run(&[
        "rule", "add", "--name", "drop low", "--where", "confidence LessThan 20", "--delete", "--applies-to", "file",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "rule", "add", "--name", "tag", "--where", "tags ArrayContains apt29", "--add-tag", "reviewed", "--applies-to",
        "file,connector",
    ]);
    assert!(o.status.success());
    let o = run(&["rule", "add", "--name", "bad", "--where", "colour Equals red", "--delete"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown field 'colour'"));
    let o = run(&["rule", "list"]);
    let list = String::from_utf8_lossy(&o.stdout);
    assert!(list.contains("drop low") && list.contains("rule set version 2"), "{list}");
    let csv = dir.path().join("iocs.csv");
    std::fs::write(
        &csv,
        "validFrom,observableType,observableValue,confidence,tags\n\
         2026-01-01,ipv4-addr,198.51.100.1,90,apt29\n\
         2026-01-01,ipv4-addr,198.51.100.2,10,\n\
         2026-01-01,ipv4-addr,198.51.100.3,abc,\n",
    )
    .unwrap();
    let o = run(&["import", csv.to_str().unwrap(), "--source", "sheet", "--json"]);
    assert_eq!(o.status.code(), Some(2), "a rejected row: {}", String::from_utf8_lossy(&o.stderr));
    let r = stdout_json(&o);
    assert_eq!((r["created"].as_u64(), r["dropped"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(1), Some(1)));
    let o = run(&["export", "--format", "jsonl"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"reviewed\"") && !out.contains("198.51.100.2"), "{out}");
    let o = run(&["rule", "dry-run", "tag"]);
    let d = stdout_json(&o);
    assert_eq!(d["matched"], 1);
    let o = run(&["rule", "disable", "tag"]);
    assert!(o.status.success());
    let o = run(&["rule", "show", "tag"]);
    assert_eq!(stdout_json(&o)["enabled"], false);
}

#[test]
fn query_functions_and_event_tables_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let objs: Vec<Value> = (1..=3).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let f = write(dir.path(), "b.json", &bundle(objs));
    assert!(cairn(&data, &["import", "--source", "FeedA", &f]).status.success());
    // Events in JSON lines, matched against the intelligence (a TI-map join).
    std::fs::create_dir(dir.path().join("net")).unwrap();
    std::fs::write(
        dir.path().join("net/a.jsonl"),
        "{\"TimeGenerated\": \"2024-01-02T00:00:00Z\", \"DstIP\": \"198.51.100.2\", \"Host\": \"pc1\"}\n{\"TimeGenerated\": \"2024-01-02T00:01:00Z\", \"DstIP\": \"192.0.2.99\", \"Host\": \"pc2\"}\n",
    )
    .unwrap();
    let pattern = format!("{}/net/*.jsonl", dir.path().display());
    let o = cairn(&data, &["table", "add", "NetEvents", &pattern]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let q = "ThreatIntelIndicators | join kind=inner (NetEvents) on $left.ObservableValue == $right.DstIP | project Host, ObservableValue, SourceSystem";
    let o = cairn(&data, &["query", "--format", "json", q]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = stdout_json(&o);
    assert_eq!(r["rows"], json!([["pc1", "198.51.100.2", "FeedA"]]));
    assert_eq!(r["render"], Value::Null);
    // CSV, a saved function, and an error with its place (exit 2).
    let o =
        cairn(&data, &["query", "--format", "csv", "ThreatIntelIndicators | summarize n = count() by SourceSystem"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "SourceSystem,n\nFeedA,3\n");
    let o = cairn(
        &data,
        &["function", "add", "Ips", "--body", "ThreatIntelIndicators | where ObservableKey == 'ipv4-addr:value'"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cairn_stdin(&data, &["query", "--format", "json", "-"], "Ips | count");
    assert_eq!(stdout_json(&o)["rows"], json!([[3]]));
    let o = cairn(&data, &["query", "ThreatIntelIndicators | wher 1"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1, column 25: unknown tabular operator 'wher'; did you mean 'where'?"), "{err}");
    let o = cairn(&data, &["table", "add", "Nope", &format!("{}/missing/*.jsonl", dir.path().display())]);
    assert_eq!(o.status.code(), Some(2));
    // Enrichment of the objects a query selects, then seen from KQL.
    let mut w = cairn_enrich::mmdb_writer::MmdbWriter::new("GeoIP2-Country");
    w.insert("198.51.100.0".parse().unwrap(), 24, &json!({"country": {"iso_code": "RU", "names": {"en": "Russia"}}}));
    let db = dir.path().join("geo.mmdb");
    std::fs::write(&db, w.build()).unwrap();
    let o = cairn(
        &data,
        &["enrich", "--geoip-db", db.to_str().unwrap(), "--query", "observable_value Equals 198.51.100.2"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["enrichment"]["geo"][0]["country_iso"], "RU");
    let q = "ThreatIntelIndicators | where tostring(AdditionalFields.GeoLocation[0].country_iso) == 'RU' | project ObservableValue";
    let o = cairn(&data, &["query", "--format", "json", q]);
    assert_eq!(stdout_json(&o)["rows"], json!([["198.51.100.2"]]));
}

#[test]
fn workbooks_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let objs: Vec<Value> = (1..=4).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    let f = write(dir.path(), "b.json", &bundle(objs));
    assert!(cairn(&data, &["import", "--source", "FeedA", &f]).status.success());
    let o = cairn(&data, &["workbook", "list"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("threat-intelligence\t10 tiles\tThreat Intelligence"));
    // Render the shipped workbook: a table per tile on stdout, an SVG per tile on disk.
    let out = dir.path().join("svg");
    let o = cairn(
        &data,
        &["workbook", "render", "threat-intelligence", "--time-range", "7d", "--out-dir", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("== Active indicators by source (bar)"), "{text}");
    let svgs: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(svgs.len(), 10, "{svgs:?}");
    let svg = std::fs::read_to_string(out.join("06-active-indicators-by-source.svg")).unwrap();
    assert!(svg.contains("FeedA"), "{svg}");
    // Export, edit, import (refused without --replace), render with a parameter.
    let exported = dir.path().join("mine.json");
    assert!(cairn(&data, &["workbook", "export", "threat-intelligence", "--out", exported.to_str().unwrap()])
        .status
        .success());
    let mut wb: Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    wb["id"] = json!("lookup");
    wb["name"] = json!("Lookup");
    wb["parameters"] = json!([{"name": "Value", "default": "198.51.100.1"}]);
    wb["tiles"] = json!([{"title": "Sources of a value", "visualization": "table",
        "query": "ThreatIntelIndicators | where ObservableValue == \"{Value}\" | distinct ObservableValue, SourceSystem"}]);
    std::fs::write(&exported, wb.to_string()).unwrap();
    assert!(cairn(&data, &["workbook", "import", exported.to_str().unwrap()]).status.success());
    assert_eq!(cairn(&data, &["workbook", "import", exported.to_str().unwrap()]).status.code(), Some(2));
    let o = cairn(
        &data,
        &["workbook", "render", "lookup", "--param", "Value=198.51.100.3", "--out-dir", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("198.51.100.3     FeedA"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = cairn(&data, &["workbook", "render", "lookup", "--param", "Nope=1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no parameter 'Nope' (it has: Value)"));
    // A broken tile is refused with its place.
    wb["tiles"][0]["query"] = json!("ThreatIntelIndicators | wher 1");
    std::fs::write(&exported, wb.to_string()).unwrap();
    let o = cairn(&data, &["workbook", "import", "--replace", exported.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean 'where'"));
}

#[test]
fn demo_data_loads_and_fills_the_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = cairn(&data, &["demo", "--indicators", "300"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = stdout_json(&o);
    assert_eq!(r["rejected"], 0, "{r}");
    // 300 indicators + 30 repeated in a second feed, 4 actors, 5 malware, 4 campaigns,
    // 8 context relationships, 100 indicator relationships, 15 sightings.
    assert_eq!(r["stored"], 300 + 30 + 4 + 5 + 4 + 8 + 100 + 15, "{r}");
    let o = cairn(
        &data,
        &[
            "query",
            "--format",
            "json",
            "ThreatIntelObjects | summarize n = count() by StixType | order by StixType asc",
        ],
    );
    assert_eq!(
        stdout_json(&o)["rows"],
        json!([["campaign", 4], ["malware", 5], ["relationship", 108], ["sighting", 15], ["threat-actor", 4]])
    );
    let o = cairn(
        &data,
        &[
            "query",
            "--format",
            "json",
            "ThreatIntelIndicators | summarize dcount(SourceSystem), dcount(tostring(AdditionalFields.TLPLevel))",
        ],
    );
    assert_eq!(stdout_json(&o)["rows"], json!([[4, 4]]));
    // Every tile of the shipped workbook draws from it without an error.
    let out = dir.path().join("svg");
    let o = cairn(&data, &["workbook", "render", "threat-intelligence", "--out-dir", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sightings = std::fs::read_to_string(out.join("09-sightings-over-time.svg")).unwrap();
    assert!(sightings.contains("<polyline"), "{sightings}");
}
