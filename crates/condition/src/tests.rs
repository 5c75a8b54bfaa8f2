use serde_json::{json, Value};

use super::*;

const DAY: i64 = 86_400_000_000;

fn indicator() -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-03-01T00:00:00.000Z",
        "name": "Evil C2", "description": "Beacon to the C2 at Example Corp",
        "indicator_types": ["malicious-activity", "anomalous-activity"],
        "pattern": "[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'evil.example'] AND [file:hashes.'SHA-256' = 'aa']",
        "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2025-06-01T00:00:00Z",
        "confidence": 80, "labels": ["apt29", "C2"],
        "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],
        "external_references": [{"source_name": "vendor", "external_id": "V-1"}, {"source_name": "mitre-attack"}],
        "x_score": 7, "x_flag": true, "x_title": "Grand événement", "x_nested": {"a": {"b": "deep"}},
        "extensions": {"extension-definition--1": {"extension_type": "property-extension", "rank": "high"}}
    })
}

/// "Now" for the relative cases: 2025-04-01.
fn now() -> i64 {
    parse_time("2025-04-01").unwrap()
}

fn holds(c: Value, obj: &Value) -> bool {
    let cond = Condition::from_json(&c).unwrap_or_else(|e| panic!("{c}: {e}"));
    cond.holds(&Subject::new(obj, "feed-a", now()))
}

#[test]
fn clauses_as_a_table() {
    let obj = indicator();
    let table: &[(&str, Value, bool)] = &[
        ("type equals", json!({"field": "type", "operator": "Equals", "values": ["indicator"]}), true),
        ("type equals ignores case", json!({"field": "type", "operator": "Equals", "value": "INDICATOR"}), true),
        ("type not equals", json!({"field": "type", "operator": "NotEquals", "value": "malware"}), true),
        ("id", json!({"field": "id", "operator": "StringStartsWith", "value": "indicator--8e2e"}), true),
        ("source", json!({"field": "source", "operator": "Equals", "value": "feed-a"}), true),
        ("source other", json!({"field": "source", "operator": "Equals", "value": "feed-b"}), false),
        ("source one of", json!({"field": "source", "operator": "Equals", "values": ["feed-b", "feed-a"]}), true),
        ("source none of", json!({"field": "source", "operator": "NotEquals", "values": ["feed-b", "feed-a"]}), false),
        ("confidence =", json!({"field": "confidence", "operator": "Equals", "value": 80}), true),
        ("confidence = text", json!({"field": "confidence", "operator": "=", "value": "80"}), true),
        ("confidence >=", json!({"field": "confidence", "operator": "GreaterThanEqual", "value": 80}), true),
        ("confidence >", json!({"field": "confidence", "operator": "GreaterThan", "value": 80}), false),
        ("confidence <", json!({"field": "confidence", "operator": "LessThan", "value": 80.5}), true),
        ("confidence <=", json!({"field": "confidence", "operator": "LessThanEqual", "value": 79}), false),
        ("tags contain", json!({"field": "tags", "operator": "ArrayContains", "value": "APT29"}), true),
        ("labels alias", json!({"field": "labels", "operator": "ArrayContains", "value": "c2"}), true),
        ("tags not contain", json!({"field": "tags", "operator": "ArrayNotContains", "value": "apt28"}), true),
        (
            "tags all of",
            json!({"field": "tags", "operator": "ArrayContains", "values": ["apt29", "c2"], "connective": "and"}),
            true,
        ),
        (
            "tags all of, one missing",
            json!({"field": "tags", "operator": "ArrayContains", "values": ["apt29", "x"], "connective": "AND"}),
            false,
        ),
        ("tags any of", json!({"field": "tags", "operator": "ArrayContains", "values": ["apt29", "x"]}), true),
        ("tlp", json!({"field": "tlp", "operator": "Equals", "value": "amber"}), true),
        ("tlp spelled TLP:AMBER", json!({"field": "TLPLevel", "operator": "Equals", "value": "TLP:AMBER"}), true),
        ("tlp not red", json!({"field": "tlp", "operator": "NotEquals", "value": "red"}), true),
        ("name contains", json!({"field": "name", "operator": "StringContains", "value": "evil"}), true),
        ("name not contains", json!({"field": "name", "operator": "StringNotContains", "value": "evil"}), false),
        ("name starts", json!({"field": "name", "operator": "StringStartsWith", "value": "EVIL"}), true),
        ("name not starts", json!({"field": "name", "operator": "StringNotStartsWith", "value": "good"}), true),
        ("name ends", json!({"field": "name", "operator": "StringEndsWith", "value": "c2"}), true),
        ("name not ends", json!({"field": "name", "operator": "StringNotEndsWith", "value": "c2"}), false),
        (
            "description regex",
            json!({"field": "description", "operator": "MatchesRegex", "value": "Example\\s+Corp$"}),
            true,
        ),
        (
            "regex is case-sensitive",
            json!({"field": "description", "operator": "MatchesRegex", "value": "example corp"}),
            false,
        ),
        ("regex (?i)", json!({"field": "description", "operator": "MatchesRegex", "value": "(?i)example corp"}), true),
        ("not regex", json!({"field": "description", "operator": "NotMatchesRegex", "value": "^Beacon"}), false),
        ("name empty", json!({"field": "name", "operator": "StringIsEmpty"}), false),
        ("missing is empty", json!({"field": "$.x_missing", "operator": "StringIsEmpty"}), true),
        ("name null", json!({"field": "name", "operator": "IsNull"}), false),
        ("missing null", json!({"field": "$.x_missing", "operator": "IsNull"}), true),
        ("missing not equals", json!({"field": "$.x_missing", "operator": "NotEquals", "value": "a"}), true),
        ("missing equals", json!({"field": "$.x_missing", "operator": "Equals", "value": "a"}), false),
        ("revoked false by default", json!({"field": "revoked", "operator": "IsFalse"}), true),
        ("revoked true", json!({"field": "revoked", "operator": "IsTrue"}), false),
        ("revoked = false", json!({"field": "revoked", "operator": "Equals", "value": false}), true),
        ("pattern_type", json!({"field": "patternType", "operator": "Equals", "value": "STIX"}), true),
        ("pattern contains", json!({"field": "pattern", "operator": "StringContains", "value": "198.51.100.7"}), true),
        (
            "indicator_types",
            json!({"field": "indicator_types", "operator": "ArrayContains", "value": "anomalous-activity"}),
            true,
        ),
        (
            "observable key",
            json!({"field": "observable_key", "operator": "Equals", "value": "domain-name:value"}),
            true,
        ),
        (
            "observable key second observation",
            json!({"field": "ObservableKey", "operator": "Equals", "value": "file:hashes.'SHA-256'"}),
            true,
        ),
        ("observable value", json!({"field": "observable_value", "operator": "Equals", "value": "evil.example"}), true),
        (
            "observable value absent",
            json!({"field": "observable_value", "operator": "Equals", "value": "good.example"}),
            false,
        ),
        (
            "created absolute on or after",
            json!({"field": "created", "operator": "OnOrAfterAbsolute", "value": "2025-01-01"}),
            true,
        ),
        (
            "created absolute after",
            json!({"field": "created", "operator": "AfterAbsolute", "value": "2025-01-01T00:00:00Z"}),
            false,
        ),
        (
            "created absolute on or before",
            json!({"field": "created", "operator": "OnOrBeforeAbsolute", "value": "2025-01-01T00:00:00.000000Z"}),
            true,
        ),
        (
            "created absolute before",
            json!({"field": "created", "operator": "BeforeAbsolute", "value": "2025-01-01"}),
            false,
        ),
        (
            "created equals another spelling",
            json!({"field": "created", "operator": "Equals", "value": "2025-01-01T00:00:00Z"}),
            true,
        ),
        ("modified > time", json!({"field": "modified", "operator": "GreaterThan", "value": "2025-02-01"}), true),
        (
            "modified within 31 days",
            json!({"field": "modified", "operator": "OnOrAfterRelative", "value": "31d"}),
            true,
        ),
        ("modified within 30 days", json!({"field": "modified", "operator": "AfterRelative", "value": "30d"}), false),
        ("modified older than a week", json!({"field": "modified", "operator": "BeforeRelative", "value": "1w"}), true),
        (
            "modified older than 6 months",
            json!({"field": "modified", "operator": "OnOrBeforeRelative", "value": "6 months"}),
            false,
        ),
        (
            "valid_until within 90 days ahead",
            json!({"field": "valid_until", "operator": "BeforeRelative", "value": "+90d"}),
            true,
        ),
        (
            "valid_until after 30 days ahead",
            json!({"field": "validUntil", "operator": "AfterRelative", "value": "+P30D"}),
            true,
        ),
        ("valid_from", json!({"field": "valid_from", "operator": "OnOrBeforeAbsolute", "value": "2025-01-01"}), true),
        ("path number", json!({"field": "$.x_score", "operator": "GreaterThan", "value": 5}), true),
        (
            "non-ASCII contains ignores case",
            json!({"field": "$.x_title", "operator": "StringContains", "value": "ÉVÉNEMENT"}),
            true,
        ),
        ("non-ASCII starts", json!({"field": "$.x_title", "operator": "StringStartsWith", "value": "grand"}), true),
        ("non-ASCII ends", json!({"field": "$.x_title", "operator": "StringEndsWith", "value": "ÉVÉNEMENT"}), true),
        ("non-ASCII equals", json!({"field": "$.x_title", "operator": "Equals", "value": "GRAND ÉVÉNEMENT"}), true),
        (
            "non-ASCII no match",
            json!({"field": "$.x_title", "operator": "StringContains", "value": "évènement"}),
            false,
        ),
        ("number as text", json!({"field": "$.x_score", "operator": "StringStartsWith", "value": "7"}), true),
        ("path bool", json!({"field": "$.x_flag", "operator": "IsTrue"}), true),
        ("path nested", json!({"field": "$.x_nested.a.b", "operator": "Equals", "value": "deep"}), true),
        (
            "path index",
            json!({"field": "$.external_references[1].source_name", "operator": "Equals", "value": "mitre-attack"}),
            true,
        ),
        (
            "path star",
            json!({"field": "$.external_references[*].external_id", "operator": "Equals", "value": "v-1"}),
            true,
        ),
        (
            "path quoted key",
            json!({"field": "$.extensions['extension-definition--1'].rank", "operator": "Equals", "value": "high"}),
            true,
        ),
        ("path array spread", json!({"field": "$.labels", "operator": "ArrayContains", "value": "apt29"}), true),
        (
            "path time compare",
            json!({"field": "$.valid_until", "operator": "AfterAbsolute", "value": "2025-05-31"}),
            true,
        ),
    ];
    for (name, c, want) in table {
        assert_eq!(holds(c.clone(), &obj), *want, "{name}: {c}");
    }
    // Every operator of the vocabulary is in the table (shorthands count as theirs).
    let used: std::collections::HashSet<Operator> =
        table.iter().map(|(_, c, _)| Operator::parse(c["operator"].as_str().unwrap()).unwrap()).collect();
    for op in OPERATORS {
        assert!(used.contains(op), "no case for {op}");
    }
}

#[test]
fn groups_nest_and_combine() {
    let obj = indicator();
    let yes = json!({"field": "type", "operator": "Equals", "value": "indicator"});
    let no = json!({"field": "type", "operator": "Equals", "value": "malware"});
    let table: &[(Value, bool)] = &[
        (json!({"all": []}), true),
        (json!({"any": []}), false),
        (json!({"all": [yes, yes]}), true),
        (json!({"all": [yes, no]}), false),
        (json!({"any": [no, yes]}), true),
        (json!({"any": [no, no]}), false),
        (json!({"not": no}), true),
        (json!({"all": [yes, {"any": [no, {"not": no}]}]}), true),
        (json!({"any": [{"all": [yes, no]}, {"all": [no, yes]}]}), false),
        // Sentinel's query-API shape, with its type filter.
        (json!({"stixObjectType": "indicator", "conditionConnective": "Or", "clauses": [no, yes]}), true),
        (json!({"stixObjectType": "malware", "conditionConnective": "Or", "clauses": [no, yes]}), false),
        (json!({"conditionConnective": "And", "clauses": [yes, no]}), false),
        (
            json!({"clauses": [{"field": "confidence", "operator": "GreaterThanEqual", "values": ["50"], "clauseConnective": "Or"}]}),
            true,
        ),
    ];
    for (c, want) in table {
        assert_eq!(holds(c.clone(), &obj), *want, "{c}");
    }
}

#[test]
fn mistakes_are_named_with_their_place() {
    let table: &[(Value, &str)] = &[
        (json!({"field": "colour", "operator": "Equals", "value": "x"}), "field: unknown field 'colour'"),
        (json!({"field": "name", "operator": "Resembles", "value": "x"}), "operator: unknown operator 'Resembles'"),
        (json!({"field": "name", "operator": "Equals"}), "values: Equals needs at least one value"),
        (json!({"field": "name", "operator": "IsNull", "value": "x"}), "values: IsNull takes no values"),
        (
            json!({"field": "confidence", "operator": "GreaterThan", "value": "high"}),
            "values[0]: confidence is a number; 'high' is not",
        ),
        (
            json!({"field": "created", "operator": "OnOrAfterAbsolute", "value": "soon"}),
            "values[0]: 'soon' is not a time",
        ),
        (
            json!({"field": "created", "operator": "AfterRelative", "value": "a while"}),
            "values[0]: 'a while' is not a duration",
        ),
        (
            json!({"field": "name", "operator": "AfterRelative", "value": "1d"}),
            "operator: AfterRelative compares times; name is not a time",
        ),
        (json!({"field": "name", "operator": "IsTrue"}), "operator: IsTrue tests true/false; name is not"),
        (
            json!({"field": "name", "operator": "MatchesRegex", "value": "("}),
            "values[0]: not a valid regular expression",
        ),
        (json!({"field": "tlp", "operator": "Equals", "value": "purple"}), "values[0]: 'purple' is not a TLP level"),
        (json!({"field": "$x", "operator": "IsNull"}), "field: JSON path '$x', at character 2"),
        (
            json!({"all": [{"field": "name", "operator": "IsNull"}, {"any": [{"field": "nope", "operator": "IsNull"}]}]}),
            "all[1].any[0].field: unknown field 'nope'",
        ),
        (json!({"all": {}}), "all: expected a list of conditions"),
        (json!({"all": [], "any": []}), "unexpected 'any' beside 'all'"),
        (json!({"field": "name", "operator": "Equals", "value": "a", "extra": 1}), "unexpected 'extra' in a clause"),
        (
            json!({"field": "name", "operator": "Equals", "value": {"a": 1}}),
            "values[0]: a value is text, a number or true/false",
        ),
        (
            json!({"field": "name", "operator": "Equals", "value": "a", "connective": "xor"}),
            "connective: expected \"and\" or \"or\"",
        ),
        (json!("name = a"), "a condition is a JSON object"),
    ];
    for (c, want) in table {
        let e = Condition::from_json(c).expect_err(&c.to_string()).to_string();
        assert!(e.contains(want), "{c}: got {e:?}, want {want:?}");
    }
}

#[test]
fn json_round_trips() {
    let c = json!({"all": [
        {"field": "confidence", "operator": "GreaterThanEqual", "values": ["50"]},
        {"any": [{"field": "tags", "operator": "ArrayContains", "values": ["a", "b"], "connective": "and"}, {"not": {"field": "revoked", "operator": "IsTrue"}}]},
        {"field": "$.x_score", "operator": "LessThan", "values": ["3"]}
    ]});
    let parsed = Condition::from_json(&c).unwrap();
    assert_eq!(parsed.to_json(), c);
    let again: Condition = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
    assert_eq!(again.to_json(), c);
    assert_eq!(parsed.clauses().len(), 4);
    assert!(parsed.to_string().contains("confidence GreaterThanEqual \"50\""));
}

#[test]
fn relative_times_count_from_the_subjects_now() {
    let obj = indicator();
    let c =
        Condition::from_json(&json!({"field": "modified", "operator": "OnOrAfterRelative", "value": "7d"})).unwrap();
    let modified = parse_time("2025-03-01").unwrap();
    assert!(c.holds(&Subject::new(&obj, "s", modified + 7 * DAY)));
    assert!(!c.holds(&Subject::new(&obj, "s", modified + 7 * DAY + 1)));
}

#[test]
fn tlp_markings_of_both_versions() {
    let mut obj = indicator();
    obj["object_marking_refs"] = json!(["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"]);
    assert!(holds(json!({"field": "tlp", "operator": "Equals", "value": "amber+strict"}), &obj));
    assert!(!holds(json!({"field": "tlp", "operator": "Equals", "value": "amber"}), &obj));
    assert_eq!(tlp_marking_id("green"), Some("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"));
    assert_eq!(tlp_marking_id("TLP2:green"), Some("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"));
    assert_eq!(tlp_marking_id("TLP:CLEAR"), Some("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"));
    assert_eq!(tlp_marking_id("mauve"), None);
    assert_eq!(tlp_level_of("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"), Some("red"));
}

#[test]
fn objects_without_a_stix_pattern_have_no_observables() {
    let mut obj = indicator();
    obj["pattern_type"] = json!("sigma");
    assert!(!holds(json!({"field": "observable_key", "operator": "IsNull"}), &indicator()));
    assert!(holds(json!({"field": "observable_key", "operator": "IsNull"}), &obj));
}

#[test]
fn enrichment_facts_as_a_table() {
    let obj = indicator();
    let facts = json!({"country": ["RU", "NL"], "asn": [13335], "as_org": ["Cloudflare, Inc."],
                       "registrar": ["Evil Registrar"], "newly_registered_domain": [true]});
    let table: &[(Value, bool)] = &[
        (json!({"field": "enrichment.country", "operator": "Equals", "value": "ru"}), true),
        (json!({"field": "enrichment.country", "operator": "Equals", "values": ["US", "NL"]}), true),
        (json!({"field": "enrichment.country", "operator": "NotEquals", "value": "RU"}), false),
        (json!({"field": "enrichment.asn", "operator": "Equals", "value": "13335"}), true),
        (json!({"field": "enrichment.asn", "operator": "Equals", "value": 13336}), false),
        (json!({"field": "enrichment.asn", "operator": "GreaterThan", "value": 1000}), true),
        (json!({"field": "enrichment.as_org", "operator": "StringContains", "value": "cloudflare"}), true),
        (json!({"field": "enrichment.registrar", "operator": "StringStartsWith", "value": "evil"}), true),
        (json!({"field": "Enrichment.NewlyRegisteredDomain", "operator": "IsTrue"}), true),
        (json!({"field": "enrichment.city", "operator": "IsNull"}), true),
        (json!({"field": "enrichment.network_org", "operator": "Equals", "value": "x"}), false),
    ];
    for (c, want) in table {
        let cond = Condition::from_json(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert!(cond.uses_enrichment());
        assert_eq!(cond.holds(&Subject::new(&obj, "feed-a", now()).with_enrichment(Some(&facts))), *want, "{c}");
        // Without facts, nothing is known: only "is absent" holds.
        let absent = c["operator"] == "IsNull" || c["operator"] == "NotEquals";
        assert_eq!(cond.holds(&Subject::new(&obj, "feed-a", now())), absent, "{c} without facts");
        assert_eq!(Condition::from_json(&cond.to_json()).unwrap().to_json(), cond.to_json());
    }
    let e =
        Condition::from_json(&json!({"field": "enrichment.planet", "operator": "Equals", "value": "x"})).unwrap_err();
    assert!(e.to_string().contains("unknown enrichment field 'enrichment.planet'"), "{e}");
    assert!(!Condition::from_json(&json!({"field": "tags", "operator": "IsNull"})).unwrap().uses_enrichment());
}
