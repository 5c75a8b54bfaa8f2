//! Table-driven tests of the validator: one row per rule, `(description, object, expected
//! error rule names)`; an empty list means valid. Objects are built from a valid base by
//! setting (or, with `null` in `without`, removing) properties.

use serde_json::{json, Value};

use super::*;

const T: &str = "2016-05-12T08:17:27.000Z";
const T_LATER: &str = "2017-05-12T08:17:27.000Z";
const IDENTITY: &str = "identity--311b2d2d-f010-4473-83ec-1edf84858f4c";
const INDICATOR: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const MALWARE: &str = "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const TLP_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const IPV4: &str = "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4";
const EXT_DEF: &str = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e";
const SHA256: &str = "35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f";

/// A valid 2.1 object of type `t` with `props` merged in.
fn sdo(t: &str, props: Value) -> Value {
    let mut o = json!({
        "type": t, "spec_version": "2.1", "id": format!("{t}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
        "created": T, "modified": T,
    });
    merge(&mut o, props);
    o
}

/// Sets each property of `props` on `o`; a `null` value removes the property.
fn merge(o: &mut Value, props: Value) {
    let m = o.as_object_mut().unwrap();
    for (k, v) in props.as_object().unwrap() {
        if v.is_null() {
            m.remove(k);
        } else {
            m.insert(k.clone(), v.clone());
        }
    }
}

fn with(mut o: Value, props: Value) -> Value {
    merge(&mut o, props);
    o
}

/// A property explicitly set to JSON null (as opposed to removed by `merge`).
fn with_null(mut o: Value, k: &str) -> Value {
    o.as_object_mut().unwrap().insert(k.into(), Value::Null);
    o
}

fn indicator() -> Value {
    sdo(
        "indicator",
        json!({"name": "x", "pattern": "[ipv4-addr:value = '198.51.100.3']", "pattern_type": "stix", "valid_from": T}),
    )
}
fn campaign() -> Value {
    sdo("campaign", json!({"name": "c"}))
}
fn malware() -> Value {
    sdo("malware", json!({"name": "m", "is_family": true}))
}
fn sighting() -> Value {
    sdo("sighting", json!({"sighting_of_ref": INDICATOR}))
}
fn relationship() -> Value {
    sdo("relationship", json!({"relationship_type": "indicates", "source_ref": INDICATOR, "target_ref": MALWARE}))
}
fn observed_data() -> Value {
    sdo("observed-data", json!({"first_observed": T, "last_observed": T, "number_observed": 1, "object_refs": [IPV4]}))
}
fn location() -> Value {
    sdo("location", json!({"region": "europe"}))
}
fn vulnerability() -> Value {
    sdo("vulnerability", json!({"name": "v"}))
}
fn tlp_green() -> Value {
    json!({"type": "marking-definition", "spec_version": "2.1", "id": TLP_GREEN, "created": "2017-01-20T00:00:00.000Z",
           "definition_type": "tlp", "name": "TLP:GREEN", "definition": {"tlp": "green"}})
}
fn statement() -> Value {
    json!({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
           "created": T, "definition_type": "statement", "definition": {"statement": "Copyright ACME"}})
}
fn ipv4() -> Value {
    json!({"type": "ipv4-addr", "spec_version": "2.1", "id": IPV4, "value": "198.51.100.3"})
}
fn file() -> Value {
    json!({"type": "file", "spec_version": "2.1", "id": "file--a3c0c9d2-4e6b-56d1-b770-512ba05153c7",
           "name": "a.exe", "hashes": {"SHA-256": SHA256}})
}
fn network_traffic() -> Value {
    json!({"type": "network-traffic", "spec_version": "2.1", "id": "network-traffic--769fe37c-4c59-526e-b602-9ca23914b47a",
           "src_ref": IPV4, "protocols": ["tcp"]})
}
fn artifact() -> Value {
    json!({"type": "artifact", "spec_version": "2.1", "id": "artifact--5c643199-5692-5679-a012-53d84f5e7034",
           "mime_type": "application/zip", "payload_bin": "iVBORw0KGgoAAAANSUhEUgAAADI="})
}
fn email_message() -> Value {
    json!({"type": "email-message", "spec_version": "2.1", "id": "email-message--b929634b-9b79-56da-a96a-d955768e6fe4",
           "is_multipart": false, "subject": "hi", "body": "x"})
}
fn process() -> Value {
    json!({"type": "process", "spec_version": "2.1", "id": "process--ee5fc6a8-f9cd-4f8b-a1f6-d01e8e8cfa35", "pid": 4})
}
fn indicator_20() -> Value {
    json!({"type": "indicator", "id": INDICATOR, "created": T, "modified": T, "labels": ["malicious-activity"],
           "pattern": "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", "valid_from": T})
}
fn observed_data_20() -> Value {
    json!({"type": "observed-data", "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf", "created": T, "modified": T,
           "first_observed": "2015-12-21T19:00:00Z", "last_observed": "2015-12-21T19:00:00Z", "number_observed": 50,
           "objects": {"0": {"type": "file", "hashes": {"MD5": "1717b7fff97d37a1e1a0029d83492de1"}},
                       "1": {"type": "ipv4-addr", "value": "198.51.100.3"},
                       "2": {"type": "network-traffic", "src_ref": "1", "protocols": ["tcp"]}}})
}

/// `(description, object, enclosing bundle's version, expected error rule names)`.
type Case<'a> = (&'a str, Value, Option<SpecVersion>, &'a [&'a str]);

fn error_rules(r: &Report) -> Vec<&'static str> {
    let mut v: Vec<_> = r.errors.iter().map(|f| f.rule).collect();
    v.sort_unstable();
    v
}

/// Runs `(description, object, default version, expected error rules)` rows.
fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for (desc, obj, default, want) in &cases {
        let r = validate(obj, *default);
        let mut want = want.to_vec();
        want.sort_unstable();
        if error_rules(&r) != want {
            failures.push(format!("{desc}: want {want:?}, got {:?}", r.errors));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn valid_objects_of_every_type() {
    let objects = vec![
        sdo(
            "attack-pattern",
            json!({"name": "Spear Phishing", "kill_chain_phases": [{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "delivery"}]}),
        ),
        campaign(),
        sdo("course-of-action", json!({"name": "c"})),
        sdo("grouping", json!({"context": "suspicious-activity", "object_refs": [INDICATOR]})),
        sdo("identity", json!({"name": "ACME", "identity_class": "organization", "sectors": ["technology"]})),
        sdo("incident", json!({"name": "i"})),
        indicator(),
        sdo("infrastructure", json!({"name": "i", "infrastructure_types": ["botnet"]})),
        sdo("intrusion-set", json!({"name": "i", "first_seen": T, "last_seen": T_LATER})),
        location(),
        malware(),
        sdo(
            "malware-analysis",
            json!({"product": "p", "result": "malicious", "sample_ref": "file--a3c0c9d2-4e6b-56d1-b770-512ba05153c7"}),
        ),
        sdo("note", json!({"content": "c", "object_refs": [INDICATOR]})),
        observed_data(),
        sdo("opinion", json!({"opinion": "agree", "object_refs": [INDICATOR]})),
        sdo(
            "report",
            json!({"name": "r", "published": T, "object_refs": [INDICATOR, IPV4], "report_types": ["threat-report"]}),
        ),
        sdo("threat-actor", json!({"name": "t", "threat_actor_types": ["spy"]})),
        sdo("tool", json!({"name": "t"})),
        vulnerability(),
        relationship(),
        sighting(),
        sdo("language-content", json!({"object_ref": INDICATOR, "contents": {"de": {"name": "Indikator"}}})),
        sdo(
            "extension-definition",
            json!({"created_by_ref": IDENTITY, "name": "e", "schema": "https://example.com/s.json",
                                           "version": "1.0", "extension_types": ["property-extension"]}),
        ),
        tlp_green(),
        statement(),
        ipv4(),
        file(),
        network_traffic(),
        artifact(),
        email_message(),
        process(),
        json!({"type": "autonomous-system", "spec_version": "2.1", "id": "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff", "number": 15139, "name": "Slime Industries"}),
        json!({"type": "directory", "spec_version": "2.1", "id": "directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622", "path": "C:\\Windows\\System32"}),
        json!({"type": "domain-name", "spec_version": "2.1", "id": "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7", "value": "example.com"}),
        json!({"type": "email-addr", "spec_version": "2.1", "id": "email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934", "value": "john@example.com", "display_name": "John Doe"}),
        json!({"type": "ipv6-addr", "spec_version": "2.1", "id": "ipv6-addr--6469e3a9-b053-5e34-a025-9396ae051d26", "value": "2001:db8::1"}),
        json!({"type": "mac-addr", "spec_version": "2.1", "id": "mac-addr--757b1725-9903-54f5-a855-1240691d7659", "value": "d2:fb:49:24:37:18"}),
        json!({"type": "mutex", "spec_version": "2.1", "id": "mutex--f93fe911-e545-5239-b9b0-597840d0c871", "name": "__CLEANSWEEP__"}),
        json!({"type": "software", "spec_version": "2.1", "id": "software--710b0b41-d4d0-5d6c-a400-fc9254554ffc", "name": "Word",
               "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", "version": "2002", "vendor": "Microsoft"}),
        json!({"type": "url", "spec_version": "2.1", "id": "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55", "value": "https://example.com/research/index.html"}),
        json!({"type": "user-account", "spec_version": "2.1", "id": "user-account--f94d689e-707d-58c3-b803-c720bb6ed096",
               "user_id": "1001", "account_login": "jdoe", "account_type": "unix"}),
        json!({"type": "windows-registry-key", "spec_version": "2.1", "id": "windows-registry-key--a485b5d9-834c-5558-9a81-be947e91b3ec",
               "key": "HKEY_LOCAL_MACHINE\\System\\Foo\\Bar", "values": [{"name": "Foo", "data": "qwerty", "data_type": "REG_SZ"}]}),
        json!({"type": "x509-certificate", "spec_version": "2.1", "id": "x509-certificate--bf86f034-2390-54d7-8426-d08433db3fbe",
               "issuer": "C=ZA", "serial_number": "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06"}),
    ];
    for o in &objects {
        let r = validate(o, None);
        assert!(r.errors.is_empty(), "{}: {:?}", o["type"], r.errors);
        assert!(r.warnings.is_empty(), "{}: {:?}", o["type"], r.warnings);
    }
}

#[test]
fn required_properties() {
    type Row = (&'static str, fn() -> Value, &'static [&'static str]);
    let mut cases: Vec<Case> = Vec::new();
    let rows: &[Row] = &[
        ("indicator", indicator, &["pattern", "pattern_type", "valid_from"]),
        ("campaign", campaign, &["name"]),
        ("malware", malware, &["is_family"]),
        ("sighting", sighting, &["sighting_of_ref"]),
        ("relationship", relationship, &["relationship_type", "source_ref", "target_ref"]),
        ("observed-data", observed_data, &["first_observed", "last_observed", "number_observed"]),
        ("vulnerability", vulnerability, &["name"]),
        ("ipv4-addr", ipv4, &["value"]),
        ("email-message", email_message, &["is_multipart"]),
        ("network-traffic", network_traffic, &["protocols"]),
    ];
    for (name, make, props) in rows {
        for p in *props {
            let desc: &'static str = Box::leak(format!("{name} without {p}").into_boxed_str());
            cases.push((desc, with(make(), json!({ *p: null })), None, &["required"]));
        }
    }
    for p in ["created", "modified", "id"] {
        let desc: &'static str = Box::leak(format!("campaign without {p}").into_boxed_str());
        cases.push((desc, with(campaign(), json!({ p: null })), None, &["required"]));
    }
    cases.extend([
        ("no type", with(campaign(), json!({"type": null})), None, &["required"][..]),
        // 2.1 requires spec_version, so an SDO without one is read as STIX 2.0 (valid here)
        ("campaign without spec_version is a 2.0 campaign", with(campaign(), json!({"spec_version": null})), None, &[]),
        ("2.1-only type without spec_version", with(sdo("grouping", json!({"context": "x", "object_refs": [INDICATOR]})), json!({"spec_version": null})),
            None, &[]),
        ("type not a string", with(campaign(), json!({"type": 5})), None, &["value-type"]),
        ("grouping without context", sdo("grouping", json!({"object_refs": [INDICATOR]})), None, &["required"]),
        ("note without object_refs", sdo("note", json!({"content": "c"})), None, &["required"]),
        ("opinion without opinion", sdo("opinion", json!({"object_refs": [INDICATOR]})), None, &["required"]),
        ("report without published", sdo("report", json!({"name": "r", "object_refs": [INDICATOR]})), None, &["required"]),
        ("language-content without contents", sdo("language-content", json!({"object_ref": INDICATOR})), None, &["required"]),
        (
            "extension-definition without created_by_ref",
            sdo("extension-definition", json!({"name": "e", "schema": "s", "version": "1", "extension_types": ["new-sdo"]})),
            None,
            &["required"],
        ),
        ("marking-definition without created", with(statement(), json!({"created": null})), None, &["required"]),
        ("marking-definition without definition", with(statement(), json!({"definition": null})), None, &["required"]),
        ("ipv4-addr without id", with(ipv4(), json!({"id": null})), None, &["required"]),
        ("SCO without spec_version is fine", with(ipv4(), json!({"spec_version": null})), None, &[]),
        // conditional requirements
        ("malware family without name", with(malware(), json!({"name": null})), None, &["required"]),
        ("malware non-family without name", with(malware(), json!({"name": null, "is_family": false})), None, &[]),
        ("malware is_family not boolean", with(malware(), json!({"is_family": "yes"})), None, &["value-type"]),
        ("malware-analysis without result or analysis_sco_refs", sdo("malware-analysis", json!({"product": "p"})), None, &["at-least-one"]),
        ("malware-analysis with analysis_sco_refs only", sdo("malware-analysis", json!({"product": "p", "analysis_sco_refs": [IPV4]})), None, &[]),
        ("location with nothing", sdo("location", json!({"name": "x"})), None, &["at-least-one"]),
        ("location with latitude and longitude", sdo("location", json!({"latitude": 48.8, "longitude": 2.3})), None, &[]),
        ("location with latitude only", sdo("location", json!({"latitude": 48.8})), None, &["at-least-one", "dependency"]),
        ("location with country and latitude only", sdo("location", json!({"country": "FR", "latitude": 48.8})), None, &["dependency"]),
        ("location precision without coordinates", sdo("location", json!({"country": "FR", "precision": 10.0})), None, &["dependency", "dependency"]),
        ("location precision with coordinates", sdo("location", json!({"latitude": 1.0, "longitude": 2.0, "precision": 10.0})), None, &[]),
        ("observed-data with objects and object_refs", with(observed_data(), json!({"objects": {"0": ipv4()}})), None, &["mutually-exclusive"]),
        ("observed-data with neither", with(observed_data(), json!({"object_refs": null})), None, &["at-least-one"]),
        ("artifact with payload_bin and url", with(artifact(), json!({"url": "https://example.com/a", "hashes": {"SHA-256": SHA256}})), None,
            &["mutually-exclusive"]),
        ("artifact with url and no hashes", with(artifact(), json!({"payload_bin": null, "url": "https://example.com/a"})), None,
            &["dependency", "id-version"]),
        ("artifact with neither", with(artifact(), json!({"payload_bin": null})), None, &["at-least-one", "id-version"]),
        ("artifact with decryption_key only", with(artifact(), json!({"decryption_key": "k"})), None, &["dependency"]),
        ("email multipart with body", with(email_message(), json!({"is_multipart": true})), None, &["forbidden"]),
        ("email not multipart with body_multipart", with(email_message(), json!({"body_multipart": [{"body": "x"}]})), None, &["forbidden"]),
        (
            "email mime part with body and body_raw_ref",
            with(email_message(), json!({"is_multipart": true, "body": null, "body_multipart": [{"body": "x", "body_raw_ref": "artifact--9a35e991-afc2-5382-b19a-f9b3bd6e3365"}]})),
            None,
            &["mutually-exclusive"],
        ),
        ("file without hashes or name", with(file(), json!({"name": null, "hashes": null, "size": 1})), None, &["at-least-one"]),
        ("network-traffic without src_ref and dst_ref", with(network_traffic(), json!({"src_ref": null})), None, &["at-least-one"]),
        ("network-traffic active with end", with(network_traffic(), json!({"is_active": true, "end": "2020-01-01T00:00:00Z"})), None, &["forbidden"]),
        ("network-traffic inactive with end", with(network_traffic(), json!({"is_active": false, "end": "2020-01-01T00:00:00Z"})), None, &[]),
        ("process with no property", with(process(), json!({"pid": null})), None, &["at-least-one"]),
        ("process with created_time only", with(process(), json!({"pid": null, "created_time": "2020-01-01T00:00:00Z"})), None, &[]),
        (
            "x509 v3 extensions with no known property",
            json!({"type": "x509-certificate", "spec_version": "2.1", "id": "x509-certificate--c6ba70fd-be6e-5950-abfb-9877386ab085",
                   "serial_number": "01", "x509_v3_extensions": {"foo": "x"}}),
            None,
            &["at-least-one"],
        ),
        ("kill chain phase without phase_name", sdo("attack-pattern", json!({"name": "a", "kill_chain_phases": [{"kill_chain_name": "x"}]})), None, &["required"]),
        (
            "extension_properties without toplevel-property-extension",
            sdo("extension-definition", json!({"created_by_ref": IDENTITY, "name": "e", "schema": "s", "version": "1",
                                               "extension_types": ["property-extension"], "extension_properties": ["x_a"]})),
            None,
            &["dependency"],
        ),
    ]);
    run(cases);
}

#[test]
fn timestamps_and_ordering() {
    run(vec![
        (
            "created without milliseconds",
            with(campaign(), json!({"created": "2016-05-12T08:17:27Z"})),
            None,
            &["timestamp-precision"],
        ),
        (
            "created with one fractional digit",
            with(campaign(), json!({"created": "2016-05-12T08:17:27.1Z", "modified": T_LATER})),
            None,
            &["timestamp-precision"],
        ),
        (
            "created with microseconds",
            with(campaign(), json!({"created": "2016-05-12T08:17:27.000001Z", "modified": T_LATER})),
            None,
            &[],
        ),
        (
            "modified without milliseconds",
            with(campaign(), json!({"modified": "2017-05-12T08:17:27Z"})),
            None,
            &["timestamp-precision"],
        ),
        (
            "marking created without milliseconds",
            with(statement(), json!({"created": "2016-05-12T08:17:27Z"})),
            None,
            &["timestamp-precision"],
        ),
        (
            "other timestamps need no milliseconds",
            with(campaign(), json!({"first_seen": "2016-05-12T08:17:27Z"})),
            None,
            &[],
        ),
        (
            "space instead of T",
            with(campaign(), json!({"first_seen": "2016-05-12 08:17:27.000Z"})),
            None,
            &["timestamp-format"],
        ),
        (
            "offset instead of Z",
            with(campaign(), json!({"first_seen": "2016-05-12T08:17:27.000+00:00"})),
            None,
            &["timestamp-format"],
        ),
        (
            "February 30th",
            with(campaign(), json!({"first_seen": "2016-02-30T08:17:27.000Z"})),
            None,
            &["timestamp-format"],
        ),
        ("hour 24", with(campaign(), json!({"first_seen": "2016-05-12T24:00:00.000Z"})), None, &["timestamp-format"]),
        ("leap second", with(campaign(), json!({"first_seen": "2016-12-31T23:59:60Z"})), None, &[]),
        ("timestamp as number", with(campaign(), json!({"first_seen": 1_463_041_047})), None, &["value-type"]),
        (
            "bad created is reported once",
            with(campaign(), json!({"created": "yesterday"})),
            None,
            &["timestamp-format"],
        ),
        (
            "modified before created",
            with(campaign(), json!({"modified": "2015-05-12T08:17:27.000Z"})),
            None,
            &["modified-before-created"],
        ),
        (
            "modified a fraction after created",
            with(campaign(), json!({"modified": "2016-05-12T08:17:27.0001Z"})),
            None,
            &[],
        ),
        (
            "valid_until equal to valid_from",
            with(indicator(), json!({"valid_until": T})),
            None,
            &["valid-until-not-after-valid-from"],
        ),
        (
            "valid_until before valid_from",
            with(indicator(), json!({"valid_until": "2015-01-01T00:00:00Z"})),
            None,
            &["valid-until-not-after-valid-from"],
        ),
        ("valid_until after valid_from", with(indicator(), json!({"valid_until": T_LATER})), None, &[]),
        (
            "campaign last_seen before first_seen",
            with(campaign(), json!({"first_seen": T_LATER, "last_seen": T})),
            None,
            &["last-seen-before-first-seen"],
        ),
        (
            "campaign last_seen equal to first_seen",
            with(campaign(), json!({"first_seen": T, "last_seen": T})),
            None,
            &[],
        ),
        (
            "malware last_seen before first_seen",
            with(malware(), json!({"first_seen": T_LATER, "last_seen": T})),
            None,
            &["last-seen-before-first-seen"],
        ),
        (
            "sighting last_seen before first_seen",
            with(sighting(), json!({"first_seen": T_LATER, "last_seen": T})),
            None,
            &["last-seen-before-first-seen"],
        ),
        (
            "last_observed before first_observed",
            with(observed_data(), json!({"last_observed": "2015-01-01T00:00:00Z"})),
            None,
            &["last-observed-before-first-observed"],
        ),
        (
            "stop_time equal to start_time",
            with(relationship(), json!({"start_time": T, "stop_time": T})),
            None,
            &["stop-time-not-after-start-time"],
        ),
        ("stop_time after start_time", with(relationship(), json!({"start_time": T, "stop_time": T_LATER})), None, &[]),
        (
            "network-traffic end before start",
            with(network_traffic(), json!({"start": "2020-01-02T00:00:00Z", "end": "2020-01-01T00:00:00Z"})),
            None,
            &["end-before-start"],
        ),
        (
            "pe time_date_stamp with fraction",
            with(
                file(),
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "time_date_stamp": "2016-01-01T00:00:00.5Z"}}}),
            ),
            None,
            &["timestamp-precision"],
        ),
    ]);
}

#[test]
fn ranges_and_types() {
    run(vec![
        ("confidence 0", with(campaign(), json!({"confidence": 0})), None, &[]),
        ("confidence 100", with(campaign(), json!({"confidence": 100})), None, &[]),
        ("confidence -1", with(campaign(), json!({"confidence": -1})), None, &["confidence-range"]),
        ("confidence 101", with(campaign(), json!({"confidence": 101})), None, &["confidence-range"]),
        ("confidence 50.0 is an integer", with(campaign(), json!({"confidence": 50.0})), None, &[]),
        ("confidence 50.5", with(campaign(), json!({"confidence": 50.5})), None, &["value-type"]),
        ("confidence as string", with(campaign(), json!({"confidence": "50"})), None, &["value-type"]),
        ("number_observed 0", with(observed_data(), json!({"number_observed": 0})), None, &["range"]),
        (
            "number_observed too large",
            with(observed_data(), json!({"number_observed": 1_000_000_000})),
            None,
            &["range"],
        ),
        ("sighting count -1", with(sighting(), json!({"count": -1})), None, &["range"]),
        ("sighting count 0", with(sighting(), json!({"count": 0})), None, &[]),
        ("sighting count too large", with(sighting(), json!({"count": 1_000_000_000})), None, &["range"]),
        ("latitude 91", sdo("location", json!({"latitude": 91.0, "longitude": 2.0})), None, &["range"]),
        ("longitude -181", sdo("location", json!({"latitude": 1, "longitude": -181})), None, &["range"]),
        ("src_port 70000", with(network_traffic(), json!({"src_port": 70000})), None, &["range"]),
        ("dst_port -1", with(network_traffic(), json!({"dst_port": -1})), None, &["range"]),
        ("file size -1", with(file(), json!({"size": -1})), None, &["range"]),
        ("labels not a list", with(campaign(), json!({"labels": "x"})), None, &["value-type"]),
        ("labels with a number", with(campaign(), json!({"labels": ["a", 1]})), None, &["value-type"]),
        ("empty list", with(campaign(), json!({"aliases": []})), None, &["empty-list"]),
        ("null property", with_null(campaign(), "description"), None, &["null-value"]),
        ("null custom property", with_null(campaign(), "x_acme_field"), None, &["null-value"]),
        ("empty custom list", with(campaign(), json!({"x_acme_field": []})), None, &["empty-list"]),
        ("revoked as string", with(campaign(), json!({"revoked": "false"})), None, &["value-type"]),
        ("defanged as string", with(ipv4(), json!({"defanged": "true"})), None, &["value-type"]),
        (
            "autonomous-system number as string",
            json!({"type": "autonomous-system", "spec_version": "2.1",
            "id": "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff", "number": "15139"}),
            None,
            &["value-type"],
        ),
        (
            "_bin custom property not base64",
            with(campaign(), json!({"x_acme_bin": "not base64!"})),
            None,
            &["binary-format"],
        ),
        ("_hex custom property odd length", with(campaign(), json!({"x_acme_hex": "abc"})), None, &["hex-format"]),
        ("payload_bin not base64", with(artifact(), json!({"payload_bin": "!!!"})), None, &["binary-format"]),
        ("magic_number_hex with 0x", with(file(), json!({"magic_number_hex": "0x4D5A"})), None, &["hex-format"]),
        ("ipfix with list value", with(network_traffic(), json!({"ipfix": {"x": [1]}})), None, &["value-type"]),
        (
            "dictionary key with space",
            with(process(), json!({"environment_variables": {"MY VAR": "x"}})),
            None,
            &["dictionary-key"],
        ),
        ("empty dictionary", with(process(), json!({"environment_variables": {}})), None, &["empty-dictionary"]),
        ("not an object", json!([1, 2]), None, &["not-object"]),
    ]);
}

#[test]
fn identifiers() {
    run(vec![
        (
            "upper-case UUID",
            with(campaign(), json!({"id": "campaign--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F"})),
            None,
            &["id-format"],
        ),
        (
            "upper-case UUID in a reference",
            with(campaign(), json!({"created_by_ref": "identity--311B2D2D-F010-4473-83EC-1EDF84858F4C"})),
            None,
            &["id-format"],
        ),
        (
            "single hyphen",
            with(campaign(), json!({"id": "campaign-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})),
            None,
            &["id-format"],
        ),
        (
            "no dashes in UUID",
            with(campaign(), json!({"id": "campaign--8e2e2d2b17d44cbf938f98ee46b3cd3f"})),
            None,
            &["id-format"],
        ),
        ("id of another type", with(campaign(), json!({"id": INDICATOR})), None, &["id-type-mismatch"]),
        (
            "UUIDv1 is RFC 4122",
            with(campaign(), json!({"id": "campaign--8e2e2d2b-17d4-1cbf-938f-98ee46b3cd3f"})),
            None,
            &[],
        ),
        (
            "UUIDv6 is not RFC 4122",
            with(campaign(), json!({"id": "campaign--8e2e2d2b-17d4-6cbf-938f-98ee46b3cd3f"})),
            None,
            &["id-format"],
        ),
        (
            "NCS variant",
            with(campaign(), json!({"id": "campaign--8e2e2d2b-17d4-4cbf-138f-98ee46b3cd3f"})),
            None,
            &["id-format"],
        ),
        ("id as number", with(campaign(), json!({"id": 5})), None, &["value-type"]),
        (
            "bad type name",
            json!({"type": "X_Acme", "spec_version": "2.1", "id": "X_Acme--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": T, "modified": T}),
            None,
            &["type-name", "id-format"],
        ),
        (
            "two-letter type",
            json!({"type": "xy", "spec_version": "2.1", "id": "xy--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": T, "modified": T}),
            None,
            &["type-name", "id-format"],
        ),
        ("reserved type action", sdo("action", json!({})), None, &["type-name"]),
        ("spec_version 2.2", with(campaign(), json!({"spec_version": "2.2"})), None, &["spec-version"]),
        ("spec_version as number", with(campaign(), json!({"spec_version": 2.1})), None, &["value-type"]),
        (
            "process with a UUIDv5",
            with(process(), json!({"id": "process--0195b65d-1024-5e79-833e-2eae4ccb19d3"})),
            None,
            &["id-version"],
        ),
        (
            "user-account without contributing properties and a UUIDv5",
            json!({"type": "user-account", "spec_version": "2.1", "id": "user-account--0195b65d-1024-5e79-833e-2eae4ccb19d3", "display_name": "x"}),
            None,
            &["id-version"],
        ),
        (
            "SCO with a wrong deterministic id is only warned about",
            with(ipv4(), json!({"id": "ipv4-addr--0195b65d-1024-5e79-833e-2eae4ccb19d3"})),
            None,
            &[],
        ),
    ]);
}

#[test]
fn references() {
    run(vec![
        ("created_by_ref to identity", with(campaign(), json!({"created_by_ref": IDENTITY})), None, &[]),
        ("created_by_ref to malware", with(campaign(), json!({"created_by_ref": MALWARE})), None, &["ref-target-type"]),
        (
            "created_by_ref malformed",
            with(campaign(), json!({"created_by_ref": "identity--8e2e2d2b"})),
            None,
            &["id-format"],
        ),
        ("object_marking_refs to TLP", with(campaign(), json!({"object_marking_refs": [TLP_GREEN]})), None, &[]),
        (
            "object_marking_refs to indicator",
            with(campaign(), json!({"object_marking_refs": [INDICATOR]})),
            None,
            &["ref-target-type"],
        ),
        ("sighting_of_ref to SCO", with(sighting(), json!({"sighting_of_ref": IPV4})), None, &["ref-target-type"]),
        (
            "sighting_of_ref to custom object",
            with(sighting(), json!({"sighting_of_ref": "x-acme--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})),
            None,
            &[],
        ),
        (
            "where_sighted_refs to indicator",
            with(sighting(), json!({"where_sighted_refs": [INDICATOR]})),
            None,
            &["ref-target-type"],
        ),
        (
            "where_sighted_refs to identity and location",
            with(
                sighting(),
                json!({"where_sighted_refs": [IDENTITY, "location--28bb3599-77cd-4a82-a950-b5bc3caf07c4"]}),
            ),
            None,
            &[],
        ),
        (
            "observed_data_refs to indicator",
            with(sighting(), json!({"observed_data_refs": [INDICATOR]})),
            None,
            &["ref-target-type"],
        ),
        (
            "relationship from a marking-definition",
            with(relationship(), json!({"source_ref": TLP_GREEN})),
            None,
            &["ref-target-type"],
        ),
        (
            "relationship to a sighting",
            with(relationship(), json!({"target_ref": "sighting--28bb3599-77cd-4a82-a950-b5bc3caf07c4"})),
            None,
            &["ref-target-type"],
        ),
        (
            "relationship to an SCO",
            with(relationship(), json!({"relationship_type": "related-to", "target_ref": IPV4})),
            None,
            &[],
        ),
        (
            "relationship_type with capitals",
            with(relationship(), json!({"relationship_type": "Indicates"})),
            None,
            &["relationship-type-format"],
        ),
        (
            "observed-data object_refs to SDO",
            with(observed_data(), json!({"object_refs": [INDICATOR]})),
            None,
            &["ref-target-type"],
        ),
        (
            "malware sample_refs to ipv4-addr",
            with(malware(), json!({"sample_refs": [IPV4]})),
            None,
            &["ref-target-type"],
        ),
        (
            "malware operating_system_refs to file",
            with(malware(), json!({"operating_system_refs": ["file--a3c0c9d2-4e6b-56d1-b770-512ba05153c7"]})),
            None,
            &["ref-target-type"],
        ),
        (
            "analysis_sco_refs to indicator",
            sdo("malware-analysis", json!({"product": "p", "analysis_sco_refs": [INDICATOR]})),
            None,
            &["ref-target-type"],
        ),
        (
            "language-content of a bundle",
            sdo(
                "language-content",
                json!({"object_ref": "bundle--28bb3599-77cd-4a82-a950-b5bc3caf07c4", "contents": {"de": {"name": "x"}}}),
            ),
            None,
            &["ref-target-type"],
        ),
        (
            "network-traffic src_ref to url",
            with(network_traffic(), json!({"src_ref": "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55"})),
            None,
            &["ref-target-type"],
        ),
        (
            "network-traffic src_ref to domain-name",
            with(network_traffic(), json!({"src_ref": "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"})),
            None,
            &[],
        ),
        ("network-traffic src_ref not an id", with(network_traffic(), json!({"src_ref": "foo"})), None, &["id-format"]),
        ("email from_ref to ipv4-addr", with(email_message(), json!({"from_ref": IPV4})), None, &["ref-target-type"]),
        (
            "file parent_directory_ref to ipv4-addr",
            with(file(), json!({"parent_directory_ref": IPV4})),
            None,
            &["ref-target-type"],
        ),
        ("file contains_refs to SDO", with(file(), json!({"contains_refs": [INDICATOR]})), None, &["ref-target-type"]),
        (
            "process parent_ref to file",
            with(process(), json!({"parent_ref": "file--9d200c52-96fc-510c-be8a-67f2505d5a98"})),
            None,
            &["ref-target-type"],
        ),
        ("ipv4 belongs_to_refs to ipv4", with(ipv4(), json!({"belongs_to_refs": [IPV4]})), None, &["ref-target-type"]),
        (
            "archive-ext contains_refs missing",
            with(file(), json!({"extensions": {"archive-ext": {"comment": "x"}}})),
            None,
            &["required"],
        ),
    ]);
}

#[test]
fn vocabularies_enumerations_and_formats() {
    run(vec![
        (
            "opinion outside the enumeration",
            sdo("opinion", json!({"opinion": "maybe", "object_refs": [INDICATOR]})),
            None,
            &["enumeration"],
        ),
        (
            "extension_types outside the enumeration",
            sdo(
                "extension-definition",
                json!({"created_by_ref": IDENTITY, "name": "e", "schema": "s",
            "version": "1", "extension_types": ["new-thing"]}),
            ),
            None,
            &["enumeration"],
        ),
        (
            "encryption_algorithm outside the enumeration",
            with(artifact(), json!({"encryption_algorithm": "rot13"})),
            None,
            &["enumeration"],
        ),
        (
            "socket address_family outside the enumeration",
            with(network_traffic(), json!({"extensions": {"socket-ext": {"address_family": "AF_FOO"}}})),
            None,
            &["enumeration"],
        ),
        (
            "registry data_type outside the enumeration",
            json!({"type": "windows-registry-key", "spec_version": "2.1",
            "id": "windows-registry-key--a485b5d9-834c-5558-9a81-be947e91b3ec", "key": "HKEY_LOCAL_MACHINE\\System\\Foo\\Bar",
            "values": [{"name": "Foo", "data": "qwerty", "data_type": "REG_FOO"}]}),
            None,
            &["enumeration"],
        ),
        (
            "open vocabulary outside the list is valid",
            sdo("identity", json!({"name": "x", "identity_class": "company"})),
            None,
            &[],
        ),
        ("lang en", with(campaign(), json!({"lang": "en"})), None, &[]),
        ("lang zh-Hans", with(campaign(), json!({"lang": "zh-Hans"})), None, &[]),
        ("lang en_US", with(campaign(), json!({"lang": "en_US"})), None, &["language-code"]),
        ("lang english", with(campaign(), json!({"lang": "english"})), None, &["language-code"]),
        (
            "language-content key not a language",
            sdo("language-content", json!({"object_ref": INDICATOR, "contents": {"english": {"name": "x"}}})),
            None,
            &["language-code"],
        ),
        (
            "language-content nested key not a property name",
            sdo("language-content", json!({"object_ref": INDICATOR, "contents": {"de": {"Name": "x"}}})),
            None,
            &["property-name"],
        ),
        (
            "software languages ISO 639-2",
            json!({"type": "software", "spec_version": "2.1", "id": "software--067b820f-e1e2-5ce6-9487-68dac4193b24",
            "name": "Word", "languages": ["en"]}),
            None,
            &["language-code"],
        ),
        (
            "cpe 2.2 URI form",
            json!({"type": "software", "spec_version": "2.1", "id": "software--067b820f-e1e2-5ce6-9487-68dac4193b24",
            "name": "Word", "cpe": "cpe:/a:microsoft:word:2000"}),
            None,
            &["cpe-format"],
        ),
        (
            "url without scheme",
            json!({"type": "url", "spec_version": "2.1", "id": "url--fa27c0d6-0d7b-535c-acfe-5ec8978d746d", "value": "example.com"}),
            None,
            &["url-format"],
        ),
        (
            "domain with underscore",
            json!({"type": "domain-name", "spec_version": "2.1", "id": "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7",
            "value": "exa_mple.com"}),
            None,
            &["domain-name-format"],
        ),
        ("ipv4 with leading zero", with(ipv4(), json!({"value": "01.0.0.1"})), None, &["ip-format"]),
        ("ipv4 CIDR", with(ipv4(), json!({"value": "10.0.0.0/8"})), None, &[]),
        ("ipv6 in ipv4-addr", with(ipv4(), json!({"value": "::1"})), None, &["ip-format"]),
        (
            "mac upper case",
            json!({"type": "mac-addr", "spec_version": "2.1", "id": "mac-addr--757b1725-9903-54f5-a855-1240691d7659",
            "value": "D2:FB:49:24:37:18"}),
            None,
            &["mac-format"],
        ),
        (
            "email address without @",
            json!({"type": "email-addr", "spec_version": "2.1", "id": "email-addr--8f5f7fba-cc24-5e3f-aca4-f7194112e042",
            "value": "foo"}),
            None,
            &["email-format"],
        ),
        (
            "artifact mime_type not registered",
            with(artifact(), json!({"mime_type": "application/x-dosexec"})),
            None,
            &["media-type"],
        ),
        (
            "directory path_enc not a charset",
            json!({"type": "directory", "spec_version": "2.1", "id": "directory--30b6c25d-82f4-51af-a3c8-51cb692dfd0a",
            "path": "C:\\Windows", "path_enc": "not a charset"}),
            None,
            &["charset"],
        ),
        (
            "registry key with abbreviated hive",
            json!({"type": "windows-registry-key", "spec_version": "2.1",
            "id": "windows-registry-key--d641b6ad-315a-532e-afb9-428d8a9c040c", "key": "HKLM\\System"}),
            None,
            &["registry-key-hive"],
        ),
        ("MD5 of the wrong length", with(file(), json!({"hashes": {"MD5": "abc"}})), None, &["hash-value"]),
        ("SHA-256 in upper case", with(file(), json!({"hashes": {"SHA-256": SHA256.to_uppercase()}})), None, &[]),
        ("custom hash name", with(file(), json!({"hashes": {"sha256": SHA256}})), None, &[]),
        ("hash name too short", with(file(), json!({"hashes": {"md": "x"}})), None, &["hash-key"]),
        ("empty hashes", with(file(), json!({"hashes": {}})), None, &["empty-dictionary"]),
        (
            "cve external id",
            with(
                vulnerability(),
                json!({"external_references": [{"source_name": "cve", "external_id": "CVE-2020-1234"}]}),
            ),
            None,
            &[],
        ),
        (
            "malformed cve external id",
            with(vulnerability(), json!({"external_references": [{"source_name": "cve", "external_id": "CVE-20-1"}]})),
            None,
            &["external-id-format"],
        ),
        (
            "cve without external id",
            with(vulnerability(), json!({"external_references": [{"source_name": "cve", "description": "d"}]})),
            None,
            &["external-id-format"],
        ),
        (
            "malformed capec external id",
            with(vulnerability(), json!({"external_references": [{"source_name": "capec", "external_id": "66"}]})),
            None,
            &["external-id-format"],
        ),
        (
            "external reference with only source_name",
            with(vulnerability(), json!({"external_references": [{"source_name": "x"}]})),
            None,
            &["at-least-one"],
        ),
        (
            "external reference without source_name",
            with(vulnerability(), json!({"external_references": [{"url": "https://example.com"}]})),
            None,
            &["required"],
        ),
        (
            "external reference url not a URL",
            with(vulnerability(), json!({"external_references": [{"source_name": "x", "url": "not a url"}]})),
            None,
            &["url-format"],
        ),
    ]);
}

#[test]
fn patterns() {
    let with_pattern = |p: &str| with(indicator(), json!({ "pattern": p }));
    run(vec![
        (
            "valid pattern",
            with_pattern("[file:hashes.'SHA-256' = '35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f'] OR [ipv4-addr:value ISSUBSET '10.0.0.0/8']"),
            None,
            &[],
        ),
        ("syntax error", with_pattern("[file:name = ]"), None, &["pattern"]),
        ("missing brackets", with_pattern("file:name = 'x'"), None, &["pattern", "pattern"]),
        ("bad MD5 in a pattern", with_pattern("[file:hashes.MD5 = 'abc']"), None, &["pattern"]),
        ("EXISTS is 2.1", with_pattern("[EXISTS windows-registry-key:values]"), None, &[]),
        (
            "EXISTS in a 2.0 pattern_version",
            with(with_pattern("[EXISTS file:name]"), json!({"pattern_version": "2.0"})),
            None,
            &["pattern"],
        ),
        ("object type too short", with_pattern("[x:name = 'a']"), None, &["pattern"]),
        ("custom property of a custom object", with_pattern("[x-acme-thing:x_score > 5]"), None, &[]),
        ("property name too short", with_pattern("[x-acme-thing:ab = 1]"), None, &["pattern"]),
        (
            "other pattern languages are opaque",
            with(with_pattern("alert tcp any any -> any any"), json!({"pattern_type": "snort"})),
            None,
            &[],
        ),
        (
            "a well-formed YARA rule",
            with(with_pattern("rule a { strings: $a = \"x\" condition: $a }"), json!({"pattern_type": "yara"})),
            None,
            &[],
        ),
        (
            "a broken YARA rule",
            with(with_pattern("rule a { condition: }"), json!({"pattern_type": "yara"})),
            None,
            &["pattern"],
        ),
        (
            "a well-formed Sigma rule",
            with(
                with_pattern("title: t\nlogsource:\n  product: windows\ndetection:\n  sel:\n    a: 1\n  condition: sel\n"),
                json!({"pattern_type": "sigma"}),
            ),
            None,
            &[],
        ),
        (
            "a broken Sigma rule",
            with(with_pattern("title: t\ndetection:\n  sel:\n    a: 1\n  condition: sel and\n"), json!({"pattern_type": "sigma"})),
            None,
            &["pattern"],
        ),
        (
            "2.0 indicators are always STIX patterns",
            with(indicator_20(), json!({"pattern": "[file:name = ]"})),
            Some(SpecVersion::V20),
            &["pattern"],
        ),
    ]);
}

#[test]
fn property_names_and_extensions() {
    run(vec![
        ("custom property", with(campaign(), json!({"x_acme_field": "v"})), None, &[]),
        ("custom property with hyphen", with(campaign(), json!({"xyz-abc": "v"})), None, &["property-name"]),
        ("custom property with capital", with(campaign(), json!({"abcDef": "v"})), None, &["property-name"]),
        ("custom property too short", with(campaign(), json!({"ab": "v"})), None, &["property-name"]),
        ("custom property starting with a digit", with(campaign(), json!({"1x_acme": "v"})), None, &["property-name"]),
        (
            "2.0 custom property starting with a digit",
            with(indicator_20(), json!({"1x_acme": "v"})),
            Some(SpecVersion::V20),
            &[],
        ),
        ("custom property too long", with(campaign(), json!({"x".repeat(251): "v"})), None, &["property-name"]),
        ("custom property of 250 characters", with(campaign(), json!({"x".repeat(250): "v"})), None, &[]),
        ("reserved property severity", with(campaign(), json!({"severity": "high"})), None, &["reserved-property"]),
        ("reserved property on SCO", with(ipv4(), json!({"phone_numbers": "x"})), None, &["reserved-property"]),
        (
            "property-extension",
            with(campaign(), json!({"extensions": {EXT_DEF: {"extension_type": "property-extension", "rank": 5}}})),
            None,
            &[],
        ),
        (
            "extension without extension_type",
            with(campaign(), json!({"extensions": {EXT_DEF: {"rank": 5}}})),
            None,
            &["required"],
        ),
        (
            "extension with unknown extension_type",
            with(campaign(), json!({"extensions": {EXT_DEF: {"extension_type": "bogus"}}})),
            None,
            &["enumeration"],
        ),
        (
            "extension with bad property name",
            with(campaign(), json!({"extensions": {EXT_DEF: {"extension_type": "property-extension", "Rank": 5}}})),
            None,
            &["property-name"],
        ),
        ("old-style custom extension", with(file(), json!({"extensions": {"x-acme-ext": {"foo": "bar"}}})), None, &[]),
        (
            "extension key neither",
            with(campaign(), json!({"extensions": {"acme": {"foo": 1}}})),
            None,
            &["extension-name"],
        ),
        (
            "extension key with a malformed id",
            with(campaign(), json!({"extensions": {"extension-definition--d83fce45": {"extension_type": "new-sdo"}}})),
            None,
            &["extension-name"],
        ),
        (
            "empty extension",
            with(campaign(), json!({"extensions": {EXT_DEF: {}}})),
            None,
            &["empty-dictionary", "required"],
        ),
        ("empty extensions", with(campaign(), json!({"extensions": {}})), None, &["empty-dictionary"]),
        (
            "predefined extension empty",
            with(file(), json!({"extensions": {"ntfs-ext": {}}})),
            None,
            &["empty-dictionary", "at-least-one"],
        ),
        (
            "pe extension with only pe_type",
            with(file(), json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe"}}})),
            None,
            &["at-least-one"],
        ),
        (
            "http-request-ext missing request_value",
            with(network_traffic(), json!({"extensions": {"http-request-ext": {"request_method": "get"}}})),
            None,
            &["required"],
        ),
        (
            "icmp-ext with odd hex",
            with(network_traffic(), json!({"extensions": {"icmp-ext": {"icmp_type_hex": "8", "icmp_code_hex": "00"}}})),
            None,
            &["hex-format"],
        ),
        (
            "windows-process-ext bad integrity level",
            with(process(), json!({"extensions": {"windows-process-ext": {"integrity_level": "ultra"}}})),
            None,
            &["enumeration"],
        ),
        (
            "custom object with created is SDO-like",
            json!({"type": "x-acme-widget", "spec_version": "2.1",
            "id": "x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": T, "modified": T, "foo": "bar"}),
            None,
            &[],
        ),
        (
            "custom object with created only",
            json!({"type": "x-acme-widget", "spec_version": "2.1",
            "id": "x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": T}),
            None,
            &["required"],
        ),
        (
            "custom object without created is SCO-like",
            json!({"type": "x-acme-thing", "id": "x-acme-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "value": "x"}),
            None,
            &[],
        ),
        (
            "custom object created without milliseconds",
            json!({"type": "x-acme-widget", "spec_version": "2.1",
            "id": "x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": "2016-05-12T08:17:27Z", "modified": T}),
            None,
            &["timestamp-precision"],
        ),
    ]);
}

#[test]
fn markings() {
    let gm = |g: Value| {
        with(
            vulnerability(),
            json!({"description": "d", "external_references": [{"source_name": "x", "url": "https://example.com"}], "granular_markings": [g]}),
        )
    };
    run(vec![
        ("TLP with wrong name", with(tlp_green(), json!({"name": "TLP:RED"})), None, &["tlp-marking"]),
        ("TLP with wrong colour", with(tlp_green(), json!({"definition": {"tlp": "red"}})), None, &["tlp-marking"]),
        ("TLP with extra property", with(tlp_green(), json!({"created_by_ref": IDENTITY})), None, &["tlp-marking"]),
        (
            "TLP with another id",
            with(tlp_green(), json!({"id": "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})),
            None,
            &["tlp-marking"],
        ),
        ("2.0 TLP in a 2.1 bundle", with(tlp_green(), json!({"spec_version": null, "name": null})), None, &[]),
        ("statement without statement", with(statement(), json!({"definition": {"text": "x"}})), None, &["required"]),
        (
            "marking with an extension instead of a definition",
            with(
                statement(),
                json!({"definition": null, "definition_type": null, "extensions": {EXT_DEF: {"extension_type": "property-extension", "x_label": "y"}}}),
            ),
            None,
            &[],
        ),
        (
            "marking marking itself",
            with(
                statement(),
                json!({"object_marking_refs": ["marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}),
            ),
            None,
            &["marking-circular-ref"],
        ),
        ("granular marking", gm(json!({"selectors": ["description"], "marking_ref": TLP_GREEN})), None, &[]),
        ("granular marking by language", gm(json!({"selectors": ["description"], "lang": "en"})), None, &[]),
        (
            "granular marking with lang and marking_ref",
            gm(json!({"selectors": ["description"], "lang": "en", "marking_ref": TLP_GREEN})),
            None,
            &["mutually-exclusive"],
        ),
        ("granular marking with neither", gm(json!({"selectors": ["description"]})), None, &["at-least-one"]),
        (
            "granular marking selecting nothing",
            gm(json!({"selectors": ["nope"], "marking_ref": TLP_GREEN})),
            None,
            &["selector"],
        ),
        (
            "granular marking list index",
            gm(json!({"selectors": ["external_references.[0].url"], "marking_ref": TLP_GREEN})),
            None,
            &[],
        ),
        (
            "granular marking index out of range",
            gm(json!({"selectors": ["external_references.[3]"], "marking_ref": TLP_GREEN})),
            None,
            &["selector"],
        ),
        (
            "granular marking bad selector syntax",
            gm(json!({"selectors": ["Name"], "marking_ref": TLP_GREEN})),
            None,
            &["selector"],
        ),
        (
            "granular marking to identity",
            gm(json!({"selectors": ["description"], "marking_ref": IDENTITY})),
            None,
            &["ref-target-type"],
        ),
        ("granular marking without selectors", gm(json!({"marking_ref": TLP_GREEN})), None, &["required"]),
        (
            "bundle",
            json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "objects": [campaign()]}),
            None,
            &[],
        ),
        (
            "2.1 bundle with spec_version",
            json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1"}),
            None,
            &["spec-version"],
        ),
        (
            "bundle with empty objects",
            json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "objects": []}),
            None,
            &["empty-list"],
        ),
        ("bundle with a wrong id", json!({"type": "bundle", "id": INDICATOR}), None, &["id-type-mismatch"]),
    ]);
}

#[test]
fn stix_2_0() {
    let v20 = Some(SpecVersion::V20);
    run(vec![
        ("2.0 indicator", indicator_20(), v20, &[]),
        ("2.0 indicator without spec_version in a 2.1 bundle", indicator_20(), None, &[]),
        ("2.0 indicator in a bundle whose version is given as 2.1", indicator_20(), Some(SpecVersion::V21), &[]),
        ("2.0 indicator without labels", with(indicator_20(), json!({"labels": null})), v20, &["required"]),
        (
            "2.0 created without milliseconds",
            with(indicator_20(), json!({"created": "2016-05-12T08:17:27Z"})),
            v20,
            &["timestamp-precision"],
        ),
        (
            "2.0 created with four fractional digits",
            with(
                indicator_20(),
                json!({"created": "2016-05-12T08:17:27.0000Z", "modified": "2016-05-12T08:17:27.0000Z"}),
            ),
            v20,
            &["timestamp-precision", "timestamp-precision"],
        ),
        (
            "2.0 UUIDv1",
            with(indicator_20(), json!({"id": "indicator--8e2e2d2b-17d4-1cbf-938f-98ee46b3cd3f"})),
            v20,
            &["id-version"],
        ),
        ("2.0 reserved confidence", with(indicator_20(), json!({"confidence": 50})), v20, &["reserved-property"]),
        ("2.0 object with spec_version 2.0", with(indicator_20(), json!({"spec_version": "2.0"})), None, &[]),
        (
            "2.0 modified before created",
            with(indicator_20(), json!({"modified": "2015-05-12T08:17:27.000Z"})),
            v20,
            &["modified-before-created"],
        ),
        (
            "2.0 malware needs labels",
            json!({"type": "malware", "id": MALWARE, "created": T, "modified": T, "name": "x"}),
            v20,
            &["required"],
        ),
        (
            "2.0 identity needs identity_class",
            json!({"type": "identity", "id": IDENTITY, "created": T, "modified": T, "name": "x"}),
            v20,
            &["required"],
        ),
        (
            "2.0 sighting where_sighted_refs to location",
            json!({"type": "sighting", "id": "sighting--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": T, "modified": T,
                   "sighting_of_ref": INDICATOR, "where_sighted_refs": ["location--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}),
            v20,
            &["ref-target-type"],
        ),
        (
            "2.0 reserved type incident",
            json!({"type": "incident", "id": "incident--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": T, "modified": T, "name": "x"}),
            v20,
            &["type-name"],
        ),
        (
            "2.0 custom object",
            json!({"type": "x-acme", "id": "x-acme--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": T, "modified": T, "x_foo": "y"}),
            v20,
            &[],
        ),
        (
            "2.0 has no top-level SCOs",
            json!({"type": "ipv4-addr", "id": "ipv4-addr--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "value": "1.2.3.4"}),
            v20,
            &["required", "required"],
        ),
        (
            "2.0 granular marking needs marking_ref",
            with(indicator_20(), json!({"granular_markings": [{"selectors": ["labels"]}]})),
            v20,
            &["required"],
        ),
        (
            "2.0 TLP",
            json!({"type": "marking-definition", "id": TLP_GREEN, "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
                           "definition": {"tlp": "green"}}),
            v20,
            &[],
        ),
        (
            "2.0 TLP with a name",
            json!({"type": "marking-definition", "id": TLP_GREEN, "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
                                       "name": "TLP:GREEN", "definition": {"tlp": "green"}}),
            v20,
            &["tlp-marking"],
        ),
        ("2.0 observed-data", observed_data_20(), v20, &[]),
        ("2.0 observed-data in a 2.1 bundle", observed_data_20(), None, &[]),
        ("2.0 observed-data needs objects", with(observed_data_20(), json!({"objects": null})), v20, &["required"]),
        (
            "2.0 observable reference to the wrong type",
            {
                let mut o = observed_data_20();
                o["objects"]["2"]["src_ref"] = json!("0");
                o
            },
            v20,
            &["ref-target-type"],
        ),
        (
            "2.0 observable reference to a missing key",
            {
                let mut o = observed_data_20();
                o["objects"]["2"]["src_ref"] = json!("9");
                o
            },
            v20,
            &["ref-unresolved"],
        ),
        (
            "2.0 observable missing its value",
            {
                let mut o = observed_data_20();
                o["objects"]["1"].as_object_mut().unwrap().remove("value");
                o
            },
            v20,
            &["required"],
        ),
        (
            "2.0 observable with a bad value",
            {
                let mut o = observed_data_20();
                o["objects"]["1"]["value"] = json!("999.1.1.1");
                o
            },
            v20,
            &["ip-format"],
        ),
        (
            "2.0 bundle",
            json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.0", "objects": [indicator_20()]}),
            None,
            &[],
        ),
        (
            "2.0 bundle without spec_version",
            json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}),
            v20,
            &["required"],
        ),
    ]);
}

/// Warnings: SHOULD-level findings never make an object invalid.
#[test]
fn warnings() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("open vocabulary", sdo("identity", json!({"name": "x", "identity_class": "company"})), "vocabulary"),
        ("open vocabulary in a list", with(indicator(), json!({"indicator_types": ["evil"]})), "vocabulary"),
        ("pattern_type", with(indicator(), json!({"pattern_type": "splunk"})), "vocabulary"),
        ("hash algorithm", with(file(), json!({"hashes": {"sha256": SHA256}})), "vocabulary"),
        ("custom property", with(campaign(), json!({"x_acme_field": "v"})), "custom-property"),
        (
            "custom object",
            json!({"type": "x-acme-thing", "id": "x-acme-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "value": "x"}),
            "custom-object",
        ),
        ("custom extension", with(file(), json!({"extensions": {"x-acme-ext": {"foo": "bar"}}})), "custom-extension"),
        (
            "SCO id not deterministic",
            with(ipv4(), json!({"id": "ipv4-addr--0195b65d-1024-5e79-833e-2eae4ccb19d3"})),
            "sco-id-mismatch",
        ),
        (
            "SCO id v4 with contributing properties",
            with(ipv4(), json!({"id": "ipv4-addr--ee5fc6a8-f9cd-4f8b-a1f6-d01e8e8cfa35"})),
            "sco-id-mismatch",
        ),
        (
            "SDO id not v4",
            with(campaign(), json!({"id": "campaign--8e2e2d2b-17d4-1cbf-938f-98ee46b3cd3f"})),
            "uuid-version",
        ),
        (
            "relationship not in the summary tables",
            with(relationship(), json!({"target_ref": IDENTITY})),
            "relationship-type",
        ),
        (
            "custom marking definition type",
            with(statement(), json!({"definition_type": "custom", "definition": {"x": "y"}})),
            "marking-definition-type",
        ),
        (
            "deprecated observed-data objects",
            with(observed_data(), json!({"object_refs": null, "objects": {"0": ipv4()}})),
            "deprecated",
        ),
    ];
    for (desc, obj, rule) in cases {
        let r = validate(&obj, None);
        assert!(r.errors.is_empty(), "{desc}: unexpected errors {:?}", r.errors);
        assert!(r.warnings.iter().any(|w| w.rule == rule), "{desc}: want warning {rule}, got {:?}", r.warnings);
    }
}

#[test]
fn findings_name_the_property_path_and_explain() {
    let obj = with(
        vulnerability(),
        json!({"external_references": [
            {"source_name": "x", "url": "https://example.com"},
            {"source_name": "x", "url": "https://example.com"},
            {"url": "https://example.com"},
        ]}),
    );
    let r = validate(&obj, None);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].property, "external_references[2].source_name");
    assert_eq!(r.errors[0].rule, "required");
    assert_eq!(r.errors[0].message, "required property is missing");

    let r = validate(&with(indicator(), json!({"valid_until": "2015-01-01T00:00:00Z"})), None);
    assert_eq!(r.errors[0].property, "valid_until");
    assert_eq!(r.errors[0].message, format!("must be later than valid_from ({T})"));

    let r = validate(
        &with(
            sdo("report", json!({"name": "r", "published": T})),
            json!({"object_refs": [INDICATOR, INDICATOR, INDICATOR, "nope"]}),
        ),
        None,
    );
    assert_eq!(r.errors[0].property, "object_refs[3]");
    assert_eq!(r.errors[0].rule, "id-format");

    let obj = with(
        file(),
        json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "sections": [{"name": "a"}, {"size": 1}]}}}),
    );
    let r = validate(&obj, None);
    assert_eq!(r.errors[0].property, "extensions.windows-pebinary-ext.sections[1].name");

    let mut o = observed_data_20();
    o["objects"]["2"]["src_ref"] = json!("0");
    let r = validate(&o, Some(SpecVersion::V20));
    assert_eq!(r.errors[0].property, "objects.2.src_ref");
    assert!(r.errors[0].message.contains("not file"), "{}", r.errors[0].message);

    let r = validate(&with(ipv4(), json!({"id": "ipv4-addr--0195b65d-1024-5e79-833e-2eae4ccb19d3"})), None);
    assert!(r.warnings[0].message.contains(IPV4), "{}", r.warnings[0].message);
}

#[test]
fn valid_objects_allocate_no_findings() {
    // The happy path reports nothing, so the Vecs never allocate.
    let r = validate(&indicator(), None);
    assert_eq!(r.errors.capacity(), 0);
    assert_eq!(r.warnings.capacity(), 0);
}
