//! An event as the index sees it: a time and a list of (object path, value) pairs, which
//! a field mapping produced from a log line. For patterns that need full evaluation the
//! event is also turned into what the matcher reads: one observed-data whose objects are
//! built from those pairs.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::key::{normalised, KeyKind};
use crate::ast::{ObjectPath, PathStep};
use crate::{parse, ComparisonExpr, ObservationExpr, Version};

/// Where a mapped event value goes: an object path in pattern syntax.
///
/// Invariant: one of the shapes an object can be built from: `type:property`,
/// `type:property.key…` (dictionary keys, e.g. `file:hashes.'SHA-256'`),
/// `type:property[*]` (an element of a list), `type:x_ref.value` and
/// `type:x_refs[*].value` (the value of a referenced address, domain or e-mail object).
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub path: ObjectPath,
    /// The path in canonical pattern syntax, as indicators' observable keys are written.
    pub text: String,
    pub kind: KeyKind,
    shape: Shape,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Keys into dictionaries, then the value.
    Keys,
    /// A list element.
    ListItem,
    /// `x_ref.value`: a referenced object.
    Ref,
    /// `x_refs[*].value`
    Refs,
}

impl Target {
    /// Reads a target written as an object path (`ipv4-addr:value`,
    /// `network-traffic:dst_ref.value`, `file:hashes.'SHA-256'`).
    pub fn parse(s: &str) -> Result<Target, String> {
        let pattern =
            parse(&format!("[EXISTS {s}]"), Version::V21).map_err(|e| format!("'{s}' is not an object path: {e}"))?;
        let path = match pattern.expr {
            ObservationExpr::Observation(ComparisonExpr::Comparison(c)) => c.path,
            _ => return Err(format!("'{s}' is not an object path")),
        };
        let is_ref = path.property.ends_with("_ref");
        let is_refs = path.property.ends_with("_refs");
        let value_key = |k: &PathStep| matches!(k, PathStep::Key(k) if k == "value");
        let shape = match path.steps.as_slice() {
            [k] if is_ref && value_key(k) => Shape::Ref,
            [PathStep::AnyIndex, k] if is_refs && value_key(k) => Shape::Refs,
            [PathStep::AnyIndex] => Shape::ListItem,
            steps if steps.iter().all(|s| matches!(s, PathStep::Key(_))) && !is_ref && !is_refs => Shape::Keys,
            _ => {
                return Err(format!(
                    "'{s}' cannot be built from an event value: use type:property, type:property.key, \
                     type:property[*], type:x_ref.value or type:x_refs[*].value"
                ))
            }
        };
        Ok(Target { text: path.to_string(), kind: KeyKind::of(&path), path, shape })
    }

    /// Whether this is the value of a referenced object (`x_ref.value`, `x_refs[*].value`).
    pub fn is_reference(&self) -> bool {
        matches!(self.shape, Shape::Ref | Shape::Refs)
    }

    /// For a referenced object's value, the type of the object it makes (and so the
    /// second path the value is looked up under, e.g. `ipv4-addr:value`).
    pub(crate) fn referenced_type(&self, v: &FieldValue<'_>) -> Option<&'static str> {
        match (self.shape, v) {
            (Shape::Ref | Shape::Refs, FieldValue::Str(s)) => Some(referenced_type(s)),
            _ => None,
        }
    }
}

fn referenced_type(s: &str) -> &'static str {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => "ipv4-addr",
        Ok(IpAddr::V6(_)) => "ipv6-addr",
        Err(_) if s.contains('@') => "email-addr",
        Err(_) => "domain-name",
    }
}

/// A value taken from an event.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl FieldValue<'_> {
    fn to_json(&self) -> Value {
        match self {
            FieldValue::Str(s) => Value::String(s.to_string()),
            FieldValue::Int(i) => Value::from(*i),
            FieldValue::Float(f) => Value::from(*f),
            FieldValue::Bool(b) => Value::Bool(*b),
        }
    }
}

/// One event: when it happened and what it observed.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// Microseconds since the Unix epoch.
    pub time: i64,
    pub fields: Vec<(&'a Target, FieldValue<'a>)>,
}

impl Event<'_> {
    /// The event as a STIX 2.1 bundle of one observed-data (observed once, at the
    /// event's time) and the objects its fields make. Values of one object type share
    /// an object until a property would be set twice (then a second object starts), so
    /// `source.ip` and `destination.ip` give two `ipv4-addr` objects but one
    /// `network-traffic` with both references.
    pub fn to_bundle(&self) -> Value {
        self.to_bundle_as(0)
    }

    /// [`Event::to_bundle`] with object ids of its own: the bundles of events numbered
    /// differently can be matched together (their objects are found by id across bundles).
    pub fn to_bundle_as(&self, number: u32) -> Value {
        let object_uuid = |n: usize| numbered_uuid(number, n);
        let mut objects: Vec<Map<String, Value>> = Vec::new();
        let mut extra: Vec<Map<String, Value>> = Vec::new();
        for (target, value) in &self.fields {
            let ty = target.path.object_type.as_str();
            let prop = target.path.property.as_str();
            let taken = |o: &Map<String, Value>| match target.shape {
                Shape::ListItem | Shape::Refs => false,
                Shape::Ref => o.contains_key(prop),
                Shape::Keys => {
                    let mut cur = o.get(prop);
                    for step in &target.path.steps {
                        match (cur, step) {
                            (Some(Value::Object(m)), PathStep::Key(k)) => cur = m.get(k),
                            _ => break,
                        }
                    }
                    cur.is_some_and(|v| !v.is_object())
                }
            };
            let pos = match objects.iter().position(|o| o["type"] == ty && !taken(o)) {
                Some(p) => p,
                None => {
                    let mut o = Map::new();
                    o.insert("type".into(), ty.into());
                    o.insert("id".into(), format!("{ty}--{}", object_uuid(objects.len())).into());
                    objects.push(o);
                    objects.len() - 1
                }
            };
            let obj = &mut objects[pos];
            match target.shape {
                Shape::Ref | Shape::Refs => {
                    let FieldValue::Str(s) = value else { continue };
                    let rty = referenced_type(s);
                    let id = format!("{rty}--{}", object_uuid(1_000_000 + extra.len()));
                    let mut r = Map::new();
                    r.insert("type".into(), rty.into());
                    r.insert("id".into(), id.clone().into());
                    r.insert("value".into(), Value::String(normalised(KeyKind::Ip, s)));
                    extra.push(r);
                    if target.shape == Shape::Ref {
                        obj.insert(prop.into(), id.into());
                    } else {
                        push(obj.entry(prop).or_insert_with(|| Value::Array(Vec::new())), id.into());
                    }
                }
                Shape::ListItem => push(obj.entry(prop).or_insert_with(|| Value::Array(Vec::new())), value.to_json()),
                Shape::Keys => {
                    let mut slot = obj.entry(prop).or_insert(Value::Null);
                    for step in &target.path.steps {
                        let PathStep::Key(k) = step else { unreachable!("Shape::Keys has keys only") };
                        if !slot.is_object() {
                            *slot = Value::Object(Map::new());
                        }
                        slot = slot.as_object_mut().expect("made an object").entry(k.as_str()).or_insert(Value::Null);
                    }
                    *slot = match value {
                        FieldValue::Str(s) => Value::String(normalised(target.kind, s)),
                        other => other.to_json(),
                    };
                }
            }
        }
        let time = format_time(self.time);
        let refs: Vec<Value> = objects.iter().chain(&extra).map(|o| o["id"].clone()).collect();
        let mut all = vec![json!({
            "type": "observed-data", "spec_version": "2.1",
            "id": format!("observed-data--{}", object_uuid(0)),
            "created": time, "modified": time,
            "first_observed": time, "last_observed": time, "number_observed": 1,
            "object_refs": refs,
        })];
        all.extend(objects.into_iter().chain(extra).map(Value::Object));
        json!({"type": "bundle", "id": format!("bundle--{}", object_uuid(0)), "objects": all})
    }
}

fn push(list: &mut Value, v: Value) {
    if let Value::Array(a) = list {
        a.push(v);
    } else {
        *list = Value::Array(vec![v]);
    }
}

/// Ids are distinct within one event's bundle, and across the bundles of events with
/// different numbers.
fn numbered_uuid(event: u32, n: usize) -> String {
    format!("{event:08x}-0000-4000-8000-{n:012x}")
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for microseconds since the Unix epoch.
pub fn format_time(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Howard Hinnant's `civil_from_days`: a day count since 1970-01-01 to a date.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::{Matcher, Observations};

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn targets_are_checked() {
        assert_eq!(t("file:hashes.'SHA-256'").text, "file:hashes.'SHA-256'");
        assert_eq!(t("network-traffic:dst_ref.value").kind, KeyKind::Ip);
        for bad in ["ipv4-addr", "x:a[0]", "network-traffic:dst_ref", "x:a[*].b", "[x:y = 1]"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_print_as_stix_timestamps() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_time(1_795_000_000_123_456), "2026-11-18T11:06:40.123456Z");
        assert_eq!(format_time(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn an_event_becomes_one_observation_the_matcher_reads() {
        let (src, dst, port, sha) = (
            t("network-traffic:src_ref.value"),
            t("network-traffic:dst_ref.value"),
            t("network-traffic:dst_port"),
            t("file:hashes.'SHA-256'"),
        );
        let (ip1, ip2) = (t("ipv4-addr:value"), t("ipv4-addr:value"));
        let event = Event {
            time: 1_795_000_000_000_000,
            fields: vec![
                (&src, FieldValue::Str("10.0.0.1".into())),
                (&dst, FieldValue::Str("198.51.100.7".into())),
                (&port, FieldValue::Int(443)),
                (&sha, FieldValue::Str("ab".repeat(32).into())),
                (&ip1, FieldValue::Str("192.0.2.1".into())),
                (&ip2, FieldValue::Str("192.0.2.2".into())),
            ],
        };
        let bundle = [event.to_bundle()];
        let obs = Observations::new(&bundle, Version::V21).unwrap();
        let table = [
            ("[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]", true),
            ("[network-traffic:src_ref.value = '10.0.0.1' AND network-traffic:dst_port = 443]", true),
            ("[network-traffic:dst_port = 80]", false),
            ("[ipv4-addr:value = '198.51.100.7']", true),
            ("[ipv4-addr:value = '192.0.2.2'] AND [ipv4-addr:value = '192.0.2.1']", false),
            ("[ipv4-addr:value = '192.0.2.2' OR ipv4-addr:value = '1.1.1.1']", true),
            (&format!("[file:hashes.'SHA-256' = '{}']", "ab".repeat(32)), true),
            ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", true),
        ];
        for (p, want) in table {
            let m = Matcher::new(&parse(p, Version::V21).unwrap()).unwrap();
            assert_eq!(m.matches(&obs).unwrap(), want, "{p}");
        }
    }
}
