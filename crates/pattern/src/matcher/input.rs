//! The observed data, read as `stix2matcher.matcher.MatchListener.__init__` reads it.
//!
//! STIX 2.0: a list of observed-data SDOs, each carrying its SCOs in an `objects`
//! dictionary. STIX 2.1: a list of bundles; their `objects` lists are concatenated
//! (`deepmerge`), and each observed-data among them becomes one observation whose
//! objects are itself followed by the objects its `object_refs` name (any object that is
//! not observed-data can be named, an SDO too; names that resolve to nothing are
//! skipped; a name given twice gives the object twice).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use super::time::{parse_observed, Micros};
use super::value::field;
use super::MatchError;
use crate::Version;

/// Observed data prepared for matching (any number of patterns can be matched against
/// it). Build it with [`Observations::new`].
#[derive(Debug)]
pub struct Observations<'a> {
    pub(crate) version: Version,
    pub(crate) list: Vec<Observation<'a>>,
}

#[derive(Debug)]
pub(crate) struct Observation<'a> {
    /// The observed-data object.
    pub(crate) sdo: &'a Value,
    pub(crate) first: Micros,
    pub(crate) last: Micros,
    pub(crate) count: Count,
    pub(crate) objects: Objects<'a>,
}

/// `number_observed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    N(u64),
    /// A float of at least 1: the reference accepts it and fails only when it expands
    /// the observation into `range(number_observed)` instances, which is lazy.
    NotInt,
}

#[derive(Debug)]
pub(crate) enum Objects<'a> {
    /// STIX 2.0: the SDO's `objects` value, if it has one (a dictionary unless the input
    /// is malformed, which the reference notices only when it looks inside).
    V20(Option<&'a Value>),
    /// STIX 2.1.
    V21 {
        /// The observed-data, then each resolved `object_refs` entry, in order.
        list: Vec<&'a Value>,
        /// The same objects by `id`, each id once (at its first position, with its last
        /// object), as the reference's `{v['id']: v for v in list}` iterates them; `Err`
        /// if some object has no `id` or one Python cannot hash, which the reference
        /// reports when a pattern first looks for objects of an SCO type.
        roots: Result<Vec<&'a Value>, String>,
    },
}

/// A JSON scalar as a Python dictionary key: equal keys are those Python's `==` and
/// `hash` consider equal (`1`, `1.0` and `true` are one key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PyKey<'a> {
    Null,
    Int(i128),
    /// A float without an integral value (its bits).
    Float(u64),
    Str(Cow<'a, str>),
}

impl<'a> PyKey<'a> {
    /// `None` for values Python cannot hash (lists and dictionaries).
    pub(crate) fn of(v: &'a Value) -> Option<PyKey<'a>> {
        Some(match v {
            Value::Null => PyKey::Null,
            Value::Bool(b) => PyKey::Int(i128::from(*b)),
            Value::Number(n) => match super::value::Num::from_json(n) {
                super::value::Num::Int(i) => PyKey::Int(i),
                super::value::Num::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => PyKey::Int(f as i128),
                super::value::Num::Float(f) => PyKey::Float(f.to_bits()),
                super::value::Num::Big { .. } => unreachable!("JSON numbers are i64, u64 or f64"),
            },
            Value::String(s) => PyKey::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => return None,
        })
    }
}

/// A map keyed by [`PyKey`]: a list scanned while small (most observed-data reference a
/// handful of objects, and hashing costs more than comparing those), hashed beyond.
enum KeyMap<'a, V> {
    Small(Vec<(PyKey<'a>, V)>),
    Large(HashMap<PyKey<'a>, V>),
}

impl<V> Default for KeyMap<'_, V> {
    fn default() -> Self {
        KeyMap::Small(Vec::new())
    }
}

impl<'a, V> KeyMap<'a, V> {
    fn get(&self, k: &PyKey<'a>) -> Option<&V> {
        match self {
            KeyMap::Small(v) => v.iter().find(|(x, _)| x == k).map(|(_, v)| v),
            KeyMap::Large(m) => m.get(k),
        }
    }

    fn insert(&mut self, k: PyKey<'a>, value: V) {
        match self {
            KeyMap::Small(v) => match v.iter().position(|(x, _)| *x == k) {
                Some(i) => v[i].1 = value,
                None if v.len() < 16 => v.push((k, value)),
                None => {
                    let mut m: HashMap<PyKey<'a>, V> = std::mem::take(v).into_iter().collect();
                    m.insert(k, value);
                    *self = KeyMap::Large(m);
                }
            },
            KeyMap::Large(m) => {
                m.insert(k, value);
            }
        }
    }
}

fn bad(msg: impl Into<String>) -> MatchError {
    MatchError::ObservedData(msg.into())
}

impl<'a> Observations<'a> {
    /// Reads the observed data: for [`Version::V21`] a list of bundles (objects with an
    /// `objects` list holding observed-data and the objects they reference), for
    /// [`Version::V20`] a list of observed-data SDOs with embedded `objects`. Fails where
    /// the reference fails before looking at the pattern: an observation without
    /// `first_observed`, `last_observed` and `number_observed`, a bad timestamp in them,
    /// `number_observed` below 1, a 2.1 input without any `objects` list or an
    /// observed-data without `object_refs`.
    pub fn new(input: &'a [Value], version: Version) -> Result<Observations<'a>, MatchError> {
        let list = match version {
            Version::V21 => read_v21(input)?,
            Version::V20 => input
                .iter()
                .map(|sdo| {
                    let objects = Objects::V20(field(sdo, "objects"));
                    observation(sdo, objects, "STIX v2.0 SDO")
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Observations { version, list })
    }

    /// The number of observations (observed-data objects).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The observed-data object of observation `i` (the order of [`Observations::new`]'s
    /// input: for 2.1, bundle by bundle, object by object).
    pub fn observed_data(&self, i: usize) -> &'a Value {
        self.list[i].sdo
    }
}

fn observation<'a>(sdo: &'a Value, objects: Objects<'a>, what: &str) -> Result<Observation<'a>, MatchError> {
    let (Some(count), Some(first), Some(last)) =
        (field(sdo, "number_observed"), field(sdo, "first_observed"), field(sdo, "last_observed"))
    else {
        return Err(bad(format!(
            "{what} must have all the following keys: number_observed, first_observed, last_observed."
        )));
    };
    let count = match count {
        Value::Bool(true) => Count::N(1),
        Value::Number(n) if n.as_u64().is_some_and(|n| n >= 1) => Count::N(n.as_u64().expect("checked")),
        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 1.0) && !n.is_i64() && !n.is_u64() => Count::NotInt,
        other => return Err(bad(format!("SDO with invalid number_observed (must be >= 1): {other}"))),
    };
    let time = |v: &Value| v.as_str().and_then(parse_observed).ok_or_else(|| bad(format!("invalid timestamp: {v}")));
    Ok(Observation { sdo, first: time(first)?, last: time(last)?, count, objects })
}

fn read_v21(input: &[Value]) -> Result<Vec<Observation<'_>>, MatchError> {
    let mut merged: Vec<&Value> = Vec::new();
    let mut has_objects = false;
    for bundle in input {
        let Value::Object(map) = bundle else { return Err(bad("STIX v2.1 input must be a list of bundles")) };
        match super::value::get(map, "objects") {
            Some(Value::Array(objects)) => {
                has_objects = true;
                merged.extend(objects);
            }
            Some(_) => return Err(bad("a bundle's 'objects' must be a list")),
            None => {}
        }
    }
    if !has_objects {
        return Err(bad("STIX v2.1 bundle object must have 'objects' key"));
    }
    let mut observed = Vec::new();
    let mut by_id: KeyMap<'_, &Value> = KeyMap::default();
    for o in &merged {
        let Some(ty) = field(o, "type") else { return Err(bad("an object without 'type'")) };
        if ty == "observed-data" {
            observed.push(*o);
        } else {
            let id = field(o, "id").and_then(PyKey::of).ok_or_else(|| bad("an object without a usable 'id'"))?;
            by_id.insert(id, *o);
        }
    }
    observed
        .into_iter()
        .map(|od| {
            let refs = field(od, "object_refs")
                .ok_or_else(|| bad("STIX v2.1 observed-data object must have 'object_refs' key"))?;
            let mut list = vec![od];
            let mut add = |key: PyKey<'_>| {
                if let Some(o) = by_id.get(&key) {
                    list.push(*o);
                }
            };
            match refs {
                Value::Array(items) => {
                    for r in items {
                        add(PyKey::of(r).ok_or_else(|| bad("an unhashable object reference"))?);
                    }
                }
                // Python iterates a string by characters and a dictionary by keys.
                Value::String(s) => s.chars().for_each(|c| add(PyKey::Str(Cow::Owned(c.to_string())))),
                Value::Object(m) => m.keys().for_each(|k| add(PyKey::Str(Cow::Borrowed(k)))),
                _ => return Err(bad("'object_refs' is not iterable")),
            }
            let roots = roots_by_id(&list);
            observation(od, Objects::V21 { list, roots }, "STIX v2.1 observed-data object")
        })
        .collect()
}

fn roots_by_id<'a>(list: &[&'a Value]) -> Result<Vec<&'a Value>, String> {
    let mut roots: Vec<&'a Value> = Vec::with_capacity(list.len());
    let mut position: KeyMap<'a, usize> = KeyMap::default();
    for o in list {
        let key = field(o, "id").and_then(PyKey::of).ok_or_else(|| "an object without a usable 'id'".to_owned())?;
        match position.get(&key) {
            Some(&i) => roots[i] = o,
            None => {
                position.insert(key, roots.len());
                roots.push(o);
            }
        }
    }
    Ok(roots)
}
