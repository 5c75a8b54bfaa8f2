//! Comparison expressions over the observations: which objects of which observations
//! satisfy the `[…]` (`MatchListener.exitPropTest*`, `exitComparisonExpression*`).
//!
//! A comparison tests the objects of its path's type in each observation (the "roots");
//! the path selects values from a root (through `_ref`/`_refs` into other objects of the
//! same observation), and the root satisfies the comparison when one of its values
//! passes. `AND` keeps the roots both sides keep, per observation; `OR` joins them.

use std::borrow::Cow;

use serde_json::Value;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use super::compile::{CExpr, Deref, Pred, Step, Suffix, Test};
use super::input::{Objects, Observation, Observations};
use super::value::{self, Order, Val};
use super::MatchError;
use crate::Version;

/// Per observation (index), the roots (indexes among the observation's objects) that
/// satisfy an expression, in the order of the reference's dictionaries: observations in
/// order, except that `OR` appends the observations only its right side has. Invariant:
/// no empty root list, no observation twice; root lists sorted.
pub(crate) type Hits = Vec<(u32, Vec<u32>)>;

pub(crate) fn eval(e: &CExpr, obs: &Observations<'_>) -> Result<Hits, MatchError> {
    match e {
        CExpr::Test(t) => test(t, obs),
        CExpr::And(a, b, b_fallible) => {
            let mut left = eval(a, obs)?;
            if left.is_empty() && !b_fallible {
                return Ok(left);
            }
            let right = eval(b, obs)?;
            left.retain_mut(|(o, roots)| match right.iter().find(|(r, _)| r == o) {
                Some((_, other)) => {
                    roots.retain(|x| other.binary_search(x).is_ok());
                    !roots.is_empty()
                }
                None => false,
            });
            Ok(left)
        }
        CExpr::Or(a, b) => {
            let mut left = eval(a, obs)?;
            let right = eval(b, obs)?;
            for (o, roots) in right {
                match left.iter_mut().find(|(l, _)| *l == o) {
                    Some((_, mine)) => {
                        mine.extend(roots);
                        mine.sort_unstable();
                        mine.dedup();
                    }
                    None => left.push((o, roots)),
                }
            }
            Ok(left)
        }
    }
}

fn test(t: &Test, obs: &Observations<'_>) -> Result<Hits, MatchError> {
    let mut hits = Vec::new();
    for (i, o) in obs.list.iter().enumerate() {
        let mut roots = Vec::new();
        for_each_root(o, obs.version, t, |r, root| {
            if root_passes(t, o, root)? {
                roots.push(r);
            }
            Ok(())
        })?;
        if !roots.is_empty() {
            hits.push((i as u32, roots));
        }
    }
    Ok(hits)
}

/// The objects of the test's type in an observation (`exitObjectType`), with their
/// indexes.
fn for_each_root<'a>(
    o: &Observation<'a>,
    version: Version,
    t: &Test,
    mut f: impl FnMut(u32, &'a Value) -> Result<(), MatchError>,
) -> Result<(), MatchError> {
    match &o.objects {
        Objects::V21 { roots, .. } => {
            if version == Version::V21 && t.sdo_type {
                return Ok(());
            }
            let roots = roots.as_ref().map_err(|e| MatchError::ObservedData(e.clone()))?;
            for (i, r) in roots.iter().enumerate() {
                if value::field(r, "type").and_then(Value::as_str) == Some(&t.object_type) {
                    f(i as u32, r)?;
                }
            }
            Ok(())
        }
        Objects::V20(None) => Ok(()),
        Objects::V20(Some(Value::Object(map))) => {
            for (i, obj) in map.values().enumerate() {
                // `"type" in obj and obj["type"] == type_`, for whatever `obj` is.
                let has_type = match obj {
                    Value::Object(m) => {
                        if value::get(m, "type").and_then(Value::as_str) == Some(&t.object_type) {
                            f(i as u32, obj)?;
                        }
                        continue;
                    }
                    Value::String(s) => s.contains("type"),
                    Value::Array(a) => a.iter().any(|x| x == "type"),
                    _ => true,
                };
                if has_type {
                    return Err(MatchError::ObservedData(format!(
                        "an object in 'objects' that is not a dictionary: {obj}"
                    )));
                }
            }
            Ok(())
        }
        Objects::V20(Some(other)) => Err(MatchError::ObservedData(format!("'objects' is not a dictionary: {other}"))),
    }
}

fn root_passes<'a>(t: &Test, o: &Observation<'a>, root: &'a Value) -> Result<bool, MatchError> {
    if !t.path_fallible {
        // Only dictionary and list steps: nothing can fail before the test, so stop at
        // the first passing value.
        if let Pred::Exists { negated } = t.pred {
            let found = visit(root, &t.steps, &mut |_| Ok(true))?;
            return Ok(found != negated);
        }
        return visit(root, &t.steps, &mut |v| test_value(&t.pred, &Val::Json(v)));
    }
    let values = select(o, root, &t.steps)?;
    if let Pred::Exists { negated } = t.pred {
        return Ok(values.is_empty() == negated);
    }
    for v in &values {
        if test_value(&t.pred, v)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Depth first over plain steps, stopping when `f` says so; the values come in the
/// order the reference's breadth-first selection lists them.
fn visit<'a>(
    v: &'a Value,
    steps: &[Step],
    f: &mut dyn FnMut(&'a Value) -> Result<bool, MatchError>,
) -> Result<bool, MatchError> {
    let Some((step, rest)) = steps.split_first() else { return f(v) };
    match (step, v) {
        (Step::Key { name, .. }, Value::Object(m)) => match value::get(m, name) {
            Some(x) => visit(x, rest, f),
            None => Ok(false),
        },
        (Step::Index(i), Value::Array(a)) => match usize::try_from(*i).ok().and_then(|i| a.get(i)) {
            Some(x) => visit(x, rest, f),
            None => Ok(false),
        },
        (Step::Any, Value::Array(a)) => {
            for x in a {
                if visit(x, rest, f)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// Every value the path selects from a root, in order (`exitFirstPathComponent`,
/// `exitKeyPathStep`, `exitIndexPathStep`), decoding `_hex`/`_bin` values and
/// following references on the way; failing as the reference does on a bad value met
/// anywhere.
fn select<'a>(o: &Observation<'a>, root: &'a Value, steps: &[Step]) -> Result<Vec<Val<'a>>, MatchError> {
    let mut values = vec![Val::Json(root)];
    let mut next = Vec::new();
    for step in steps {
        match step {
            Step::Key { name, suffix, deref } => {
                for v in &values {
                    let Val::Json(Value::Object(m)) = v else { continue };
                    let Some(x) = value::get(m, name) else { continue };
                    next.push(match suffix {
                        Suffix::None => Val::Json(x),
                        Suffix::Hex => Val::Bytes(value::decode_hex(x).ok_or_else(|| bad_value(name, x, "hex"))?),
                        Suffix::Bin => Val::Bytes(value::decode_base64(x).ok_or_else(|| bad_value(name, x, "base64"))?),
                    });
                }
                match deref {
                    Deref::None => {}
                    Deref::One => {
                        let refs = std::mem::take(&mut next);
                        for r in refs {
                            let Val::Json(Value::String(id)) = r else {
                                return Err(MatchError::Value(format!(
                                    "The value of reference property '{name}' was not a string"
                                )));
                            };
                            resolve(o, id, |x| next.push(Val::Json(x)));
                        }
                    }
                    Deref::List => {
                        let lists = std::mem::take(&mut next);
                        for l in lists {
                            let Val::Json(Value::Array(ids)) = l else {
                                return Err(MatchError::Value(format!(
                                    "The value of reference list property '{name}' was not a list"
                                )));
                            };
                            let mut objects = Vec::new();
                            for id in ids {
                                let Value::String(id) = id else {
                                    return Err(MatchError::Value(format!(
                                        "A value of reference property '{name}' was not a string"
                                    )));
                                };
                                resolve(o, id, |x| objects.push(x));
                            }
                            if !objects.is_empty() {
                                next.push(Val::Objects(objects));
                            }
                        }
                    }
                }
            }
            Step::Index(i) => {
                let Ok(i) = usize::try_from(*i) else {
                    values.clear();
                    break;
                };
                for v in &values {
                    match v {
                        Val::Json(Value::Array(a)) => next.extend(a.get(i).map(Val::Json)),
                        Val::Objects(a) => next.extend(a.get(i).map(|x| Val::Json(x))),
                        _ => {}
                    }
                }
            }
            Step::Any => {
                for v in &values {
                    match v {
                        Val::Json(Value::Array(a)) => next.extend(a.iter().map(Val::Json)),
                        Val::Objects(a) => next.extend(a.iter().map(|x| Val::Json(x))),
                        _ => {}
                    }
                }
            }
        }
        std::mem::swap(&mut values, &mut next);
        next.clear();
        if values.is_empty() {
            break;
        }
    }
    Ok(values)
}

fn bad_value(name: &str, v: &Value, what: &str) -> MatchError {
    MatchError::Value(format!("'{name}' is not valid {what}: {v}"))
}

/// The objects of the observation a reference names (`_dereference_cyber_obs_objs`):
/// for 2.1 every object in the observation's list with that `id` (so an object listed
/// twice comes twice), for 2.0 the `objects` entry with that key.
fn resolve<'a>(o: &Observation<'a>, id: &str, mut f: impl FnMut(&'a Value)) {
    match &o.objects {
        Objects::V21 { list, .. } => {
            for x in list {
                if value::field(x, "id").and_then(Value::as_str) == Some(id) {
                    f(x);
                }
            }
        }
        Objects::V20(Some(Value::Object(m))) => {
            if let Some(x) = value::get(m, id) {
                f(x);
            }
        }
        Objects::V20(_) => {}
    }
}

/// NFC, as `unicodedata.normalize("NFC", …)`, without copying text that already is.
fn nfc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

fn test_value(p: &Pred, v: &Val<'_>) -> Result<bool, MatchError> {
    let time = |lit_is_time: bool| -> Result<_, MatchError> {
        if lit_is_time {
            value::observed_time(v).map_err(|s| MatchError::Value(format!("Invalid timestamp in JSON: {s}")))
        } else {
            Ok(None)
        }
    };
    Ok(match p {
        Pred::Eq { lit, invert } => {
            let t = time(matches!(lit, value::Lit::Time(_)))?;
            value::equal(v, t, lit) != *invert
        }
        Pred::Order { lit, test, negated } => {
            let t = time(matches!(lit, value::Lit::Time(_)))?;
            match value::order(v, t, lit) {
                Order::Unordered => false,
                Order::Invalid => *negated,
                Order::Ordered(o) => test(o) != *negated,
            }
        }
        Pred::In { set, negated } => {
            let t = time(set.of_times())?;
            set.contains(v, t) != *negated
        }
        Pred::Like { re, binary, negated } => {
            let text = match v {
                Val::Bytes(b) if *binary => Cow::Borrowed(
                    std::str::from_utf8(b)
                        .map_err(|_| MatchError::Value("LIKE on a binary value that is not UTF-8".into()))?,
                ),
                Val::Json(Value::String(s)) => Cow::Borrowed(s.as_str()),
                _ => return Ok(*negated),
            };
            re.is_match(&nfc(&text)) != *negated
        }
        Pred::Matches { text, bytes, negated } => {
            let found = match v {
                Val::Json(Value::String(s)) => {
                    let s = nfc(s);
                    text.get(s.as_bytes()).is_match(&s)
                }
                Val::Bytes(b) => bytes.as_ref().is_some_and(|re| re.get(b).is_match(b)),
                _ => false,
            };
            found != *negated
        }
        Pred::Subset { container, negated } => match v {
            Val::Json(Value::String(s)) => {
                let inner = value::ip_or_cidr(s)
                    .ok_or_else(|| MatchError::Value(format!("Invalid IPv4 address or CIDR subnet: {s}")))?;
                let outer = container.ok_or_else(|| MatchError::Value("Invalid CIDR subnet in ISSUBSET".into()))?;
                value::in_subnet(inner, outer) != *negated
            }
            _ => *negated,
        },
        Pred::Superset { containee, negated } => match v {
            Val::Json(Value::String(s)) => {
                let inner = containee
                    .ok_or_else(|| MatchError::Value("Invalid IPv4 address or CIDR subnet in ISSUPERSET".into()))?;
                let outer = value::cidr(s).ok_or_else(|| MatchError::Value(format!("Invalid CIDR subnet: {s}")))?;
                value::in_subnet(inner, outer) != *negated
            }
            _ => *negated,
        },
        Pred::Exists { .. } => unreachable!("EXISTS is decided per root"),
    })
}
