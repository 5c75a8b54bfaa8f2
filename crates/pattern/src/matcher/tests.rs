//! The reference suite's cases on its interval helpers (`_overlap`,
//! `_timestamp_intervals_within`), which it tests directly with integers for instants
//! and durations; here they are microseconds.

use serde_json::Value;

use super::time::{intervals_within, overlap};

#[test]
fn reference_interval_cases() {
    let doc: Value =
        serde_json::from_str(include_str!("../../tests/data/matcher/v21/temporal_qualifiers.json")).expect("json");
    let int = |v: &Value| v.as_i64().expect("an integer");
    let mut n = 0;
    for case in doc["cases"].as_array().expect("cases") {
        match case.get("kind").and_then(Value::as_str) {
            Some("overlap") => {
                let a: Vec<i64> = case["args"].as_array().expect("args").iter().map(int).collect();
                let got = overlap(a[0], a[1], a[2], a[3]).expect("ordered intervals") as i64;
                assert_eq!(got, int(&case["expect"]), "{case}");
            }
            Some("intervals_within") => {
                let intervals: Vec<(i64, i64)> =
                    case["intervals"].as_array().expect("intervals").iter().map(|i| (int(&i[0]), int(&i[1]))).collect();
                let got = intervals_within(intervals.iter().copied(), Some(i128::from(int(&case["duration"]))))
                    .expect("in range");
                assert_eq!(got, case["expect"].as_bool().expect("bool"), "{case}");
            }
            _ => continue,
        }
        n += 1;
    }
    assert_eq!(n, 34);
}

/// A prepared pattern is shared across threads matching events.
#[test]
fn matcher_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<super::Matcher>();
}
