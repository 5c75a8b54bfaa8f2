//! Conditions over STIX objects: the one language of Cairn's ingestion rules and search.
//!
//! A condition is a tree: clauses (field, operator, values) grouped by `all` (AND),
//! `any` (OR) and `not`, nested to any depth. Operators are the vocabulary of Sentinel's
//! threat-intelligence query API (`Equals`, `StringContains`, `ArrayContains`,
//! `OnOrAfterRelative`, …) plus regular expressions, so conditions written for Sentinel
//! carry over; Sentinel's `{"conditionConnective", "clauses"}` shape is read too.
//!
//! Key design decision: a condition is checked and prepared once, when it is read
//! (values parsed as numbers, times and durations, regexes compiled, every mistake
//! reported with its place in the tree), and evaluation then only compares. A rule is
//! evaluated against every ingested object, so nothing may be parsed per object that
//! could have been parsed per rule.
//!
//! Semantics, the same everywhere a condition is used:
//! - A field can have several values (tags, observables, a JSON path through `[*]`); a
//!   positive clause holds when some value satisfies it. A field with no value satisfies
//!   only `IsNull` and `StringIsEmpty`.
//! - A clause with several values joins them with its connective (`or` by default).
//! - A negated operator (`NotEquals`, `StringNotContains`, …) holds exactly where its
//!   positive form with the same values does not: `tags NotEquals [a, b]` means "tagged
//!   neither a nor b", and an object without tags satisfies it.
//! - Text comparisons (`Equals` on text, `String*`, `ArrayContains`) ignore case; regexes
//!   are case-sensitive unless they say `(?i)`. Times compare as instants, whatever
//!   their spelling; relative times are durations back from now (`30d`), or ahead with `+`.

mod field;
mod operator;
mod time;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use regex::Regex;
use serde_json::{json, Value};

use field::Val;
pub use field::{tlp_level_of, tlp_levels, tlp_marking_id, Fact, Field, JsonPath, Kind};
pub use operator::{Arity, Operator, ALL as OPERATORS};
pub use time::{parse_offset, parse_time};

/// A mistake in a condition, with where it is (`any[1].all[0].values[2]`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ConditionError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> ConditionError {
    ConditionError { path: path.to_string(), message: message.into() }
}

fn join(path: &str, step: &str) -> String {
    if path.is_empty() {
        step.to_string()
    } else if step.starts_with('[') {
        format!("{path}{step}")
    } else {
        format!("{path}.{step}")
    }
}

/// How a clause's several values combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Connective {
    And,
    #[default]
    Or,
}

/// A condition tree. Build it with [`Condition::from_json`] (or [`Clause::new`]), which
/// checks everything; a `Condition` that exists is valid.
#[derive(Clone, Debug)]
pub enum Condition {
    /// Every child holds (an empty list always holds).
    All(Vec<Condition>),
    /// Some child holds (an empty list never holds).
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Clause(Clause),
}

/// One test: field, operator, values.
#[derive(Clone, Debug)]
pub struct Clause {
    pub field: Field,
    pub operator: Operator,
    pub connective: Connective,
    values: Vec<ClauseValue>,
}

/// A value as written, with the forms it was checked to have.
#[derive(Clone, Debug)]
struct ClauseValue {
    text: String,
    lower: String,
    number: Option<f64>,
    time: Option<i64>,
    offset: Option<i64>,
    boolean: Option<bool>,
    regex: Option<Regex>,
}

impl Clause {
    /// Checks and prepares a clause; the error names the value at fault.
    pub fn new(
        field: Field,
        operator: Operator,
        values: Vec<String>,
        connective: Connective,
    ) -> Result<Clause, ConditionError> {
        let kind = field.kind();
        let positive = operator.positive().unwrap_or(operator);
        match operator.arity() {
            Arity::None if !values.is_empty() => {
                return Err(err("values", format!("{operator} takes no values")));
            }
            Arity::AtLeastOne if values.is_empty() => {
                return Err(err("values", format!("{operator} needs at least one value")));
            }
            _ => {}
        }
        let time_op = operator.is_relative() || operator.is_absolute();
        if time_op && !matches!(kind, Kind::Time | Kind::Any) {
            return Err(err(
                "operator",
                format!("{operator} compares times; {field} is not a time (use created, modified, valid_from, valid_until or a JSON path)"),
            ));
        }
        if matches!(positive, Operator::IsTrue | Operator::IsFalse) && !matches!(kind, Kind::Bool | Kind::Any) {
            return Err(err("operator", format!("{operator} tests true/false; {field} is not a true/false field")));
        }
        let mut out = Vec::with_capacity(values.len());
        for (i, text) in values.into_iter().enumerate() {
            let at = format!("values[{i}]");
            let mut v = ClauseValue {
                lower: text.to_lowercase(),
                number: text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
                time: parse_time(&text).ok(),
                offset: None,
                boolean: match text.trim().to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                },
                regex: None,
                text,
            };
            if field == Field::Tlp && matches!(positive, Operator::Equals | Operator::ArrayContains) {
                // `TLP:GREEN` and `green` name the same level.
                let l = v.lower.trim();
                let level = l.strip_prefix("tlp:").or_else(|| l.strip_prefix("tlp2:")).unwrap_or(l).to_string();
                if tlp_marking_id(&level).is_none() {
                    return Err(err(
                        &at,
                        format!("'{}' is not a TLP level; use white, clear, green, amber, amber+strict or red", v.text),
                    ));
                }
                v.lower = level;
            }
            if operator.is_relative() {
                v.offset = Some(parse_offset(&v.text).map_err(|m| err(&at, m))?);
            } else if operator.is_absolute() {
                if v.time.is_none() {
                    return Err(err(&at, parse_time(&v.text).unwrap_err()));
                }
            } else if matches!(positive, Operator::MatchesRegex) {
                v.regex =
                    Some(Regex::new(&v.text).map_err(|e| err(&at, format!("not a valid regular expression: {e}")))?);
            } else if matches!(
                positive,
                Operator::Equals
                    | Operator::LessThan
                    | Operator::LessThanEqual
                    | Operator::GreaterThan
                    | Operator::GreaterThanEqual
            ) {
                match kind {
                    Kind::Number if v.number.is_none() => {
                        return Err(err(&at, format!("{field} is a number; '{}' is not", v.text)));
                    }
                    Kind::Time if v.time.is_none() => {
                        return Err(err(&at, format!("{field} is a time: {}", parse_time(&v.text).unwrap_err())));
                    }
                    Kind::Bool if v.boolean.is_none() => {
                        return Err(err(&at, format!("{field} is true or false; '{}' is neither", v.text)));
                    }
                    _ => {}
                }
            }
            out.push(v);
        }
        Ok(Clause { field, operator, connective, values: out })
    }

    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|v| v.text.as_str())
    }

    fn holds(&self, s: &Subject<'_>) -> bool {
        let negated = self.operator.positive();
        let op = negated.unwrap_or(self.operator);
        let field = &self.field;
        let r = match op {
            Operator::IsNull => !field.any(s, &mut |_| true),
            Operator::StringIsEmpty => !field.any(s, &mut |v| !text_of(v).is_empty()),
            Operator::IsTrue => field.any(s, &mut |v| matches!(v, Val::Json(Value::Bool(true)))),
            Operator::IsFalse => field.any(s, &mut |v| matches!(v, Val::Json(Value::Bool(false)))),
            _ => {
                let one = |cv: &ClauseValue| field.any(s, &mut |v| self.test(op, v, cv, s.now));
                match self.connective {
                    Connective::Or => self.values.iter().any(one),
                    Connective::And => self.values.iter().all(one),
                }
            }
        };
        r != negated.is_some()
    }

    fn test(&self, op: Operator, v: Val<'_>, cv: &ClauseValue, now: i64) -> bool {
        use std::cmp::Ordering::*;
        use Operator::*;
        let ordering = || -> Option<std::cmp::Ordering> {
            if let Some(s) = v.as_str() {
                return match (time::str_time(s), cv.time) {
                    (Some(a), Some(b)) => Some(a.cmp(&b)),
                    _ if self.field.kind() == Kind::Number => s.trim().parse::<f64>().ok()?.partial_cmp(&cv.number?),
                    _ => Some(s.cmp(cv.text.as_str())),
                };
            }
            match v {
                Val::Json(Value::Number(n)) => n.as_f64()?.partial_cmp(&cv.number?),
                Val::Json(Value::Bool(b)) => Some(b.cmp(&cv.boolean?)),
                _ => None,
            }
        };
        match op {
            Equals | ArrayContains => match v {
                Val::Json(Value::Number(n)) => n.as_f64().zip(cv.number).is_some_and(|(a, b)| a == b),
                Val::Json(Value::Bool(b)) => cv.boolean == Some(*b),
                v => match (v.as_str(), self.field.kind(), cv.time) {
                    (Some(s), Kind::Time, Some(t)) => time::str_time(s) == Some(t),
                    // Sentinel's file import writes confidence as a string ("95").
                    (Some(s), Kind::Number, _) => {
                        s.trim().parse::<f64>().ok().zip(cv.number).is_some_and(|(a, b)| a == b)
                    }
                    (Some(s), _, _) => eq_ignore_case(s, &cv.lower),
                    (None, _, _) => false,
                },
            },
            LessThan => ordering() == Some(Less),
            LessThanEqual => matches!(ordering(), Some(Less | Equal)),
            GreaterThan => ordering() == Some(Greater),
            GreaterThanEqual => matches!(ordering(), Some(Greater | Equal)),
            StringContains => contains_ignore_case(&text_of(v), &cv.lower),
            StringStartsWith => {
                let t = text_of(v);
                t.len() >= cv.lower.len()
                    && t.is_char_boundary(cv.lower.len())
                    && eq_ignore_case(&t[..cv.lower.len()], &cv.lower)
                    || !t.is_ascii() && t.to_lowercase().starts_with(&cv.lower)
            }
            StringEndsWith => {
                let t = text_of(v);
                let at = t.len().wrapping_sub(cv.lower.len());
                t.len() >= cv.lower.len() && t.is_char_boundary(at) && eq_ignore_case(&t[at..], &cv.lower)
                    || !t.is_ascii() && t.to_lowercase().ends_with(&cv.lower)
            }
            MatchesRegex => cv.regex.as_ref().is_some_and(|r| r.is_match(&text_of(v))),
            OnOrAfterRelative | AfterRelative | OnOrBeforeRelative | BeforeRelative | OnOrAfterAbsolute
            | AfterAbsolute | OnOrBeforeAbsolute | BeforeAbsolute => {
                let Some(t) = v.as_str().and_then(time::str_time) else { return false };
                let at = if op.is_relative() { cv.offset.map(|o| now.saturating_add(o)) } else { cv.time };
                let Some(at) = at else { return false };
                match op {
                    OnOrAfterRelative | OnOrAfterAbsolute => t >= at,
                    AfterRelative | AfterAbsolute => t > at,
                    OnOrBeforeRelative | OnOrBeforeAbsolute => t <= at,
                    _ => t < at,
                }
            }
            _ => false,
        }
    }

    fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("field".into(), Value::String(self.field.name().into_owned()));
        m.insert("operator".into(), Value::String(self.operator.name().into()));
        if !self.values.is_empty() {
            m.insert("values".into(), self.values.iter().map(|v| Value::String(v.text.clone())).collect());
        }
        if self.connective == Connective::And {
            m.insert("connective".into(), Value::String("and".into()));
        }
        Value::Object(m)
    }
}

/// `a` equals the already lower-cased `lower`, ignoring case.
fn eq_ignore_case(a: &str, lower: &str) -> bool {
    if a.is_ascii() && lower.is_ascii() {
        a.eq_ignore_ascii_case(lower)
    } else {
        a.to_lowercase() == lower
    }
}

/// `hay` contains the already lower-cased `needle`, ignoring case (without allocating
/// when both are ASCII).
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    if !(hay.is_ascii() && needle.is_ascii()) {
        return hay.to_lowercase().contains(needle);
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// A value as text, for the string operators: strings as they are, numbers and booleans
/// as JSON writes them.
fn text_of(v: Val<'_>) -> Cow<'_, str> {
    match v {
        Val::Str(s) => Cow::Borrowed(s),
        Val::Json(Value::String(s)) => Cow::Borrowed(s),
        Val::Json(v) => Cow::Owned(v.to_string()),
    }
}

/// What a condition is evaluated against: an object, who delivered it, and the time that
/// relative conditions count back from.
pub struct Subject<'a> {
    pub object: &'a Value,
    pub source: &'a str,
    /// Microseconds since the epoch.
    pub now: i64,
    observables: Cache<'a>,
    /// The object's enrichment facts, `{"country": ["RU"], "asn": [13335], …}` (see
    /// [`Fact`]); without them every `enrichment.*` field is absent.
    enrichment: Option<&'a Value>,
}

/// The observables of an object's pattern, parsed on first use.
pub type ObservableCache = OnceCell<Vec<cairn_pattern::Observable>>;

enum Cache<'a> {
    Own(ObservableCache),
    Shared(&'a ObservableCache),
}

impl<'a> Subject<'a> {
    pub fn new(object: &'a Value, source: &'a str, now: i64) -> Subject<'a> {
        Subject { object, source, now, observables: Cache::Own(OnceCell::new()), enrichment: None }
    }

    /// A subject whose pattern observables live in `cache`, so a caller that evaluates
    /// several conditions over one object (while editing other properties between them)
    /// parses its pattern once.
    pub fn with_cache(object: &'a Value, source: &'a str, now: i64, cache: &'a ObservableCache) -> Subject<'a> {
        Subject { object, source, now, observables: Cache::Shared(cache), enrichment: None }
    }

    /// The subject with its enrichment facts.
    pub fn with_enrichment(mut self, facts: Option<&'a Value>) -> Subject<'a> {
        self.enrichment = facts;
        self
    }

    /// The equality comparisons of a STIX pattern, parsed on first use only.
    fn observables(&self) -> &[cairn_pattern::Observable] {
        let cell = match &self.observables {
            Cache::Own(c) => c,
            Cache::Shared(c) => c,
        };
        cell.get_or_init(|| {
            let o = self.object;
            let stix = o.get("pattern_type").and_then(Value::as_str).is_none_or(|t| t == "stix");
            let Some(p) = o.get("pattern").and_then(Value::as_str).filter(|_| stix) else {
                return Vec::new();
            };
            let version =
                o.get("pattern_version").or_else(|| o.get("spec_version")).and_then(Value::as_str).unwrap_or("2.0");
            cairn_pattern::parse(p, cairn_pattern::Version::from_reference_str(version))
                .map(|p| cairn_pattern::observables(&p))
                .unwrap_or_default()
        })
    }
}

impl Condition {
    /// The condition that always holds.
    pub fn always() -> Condition {
        Condition::All(Vec::new())
    }

    pub fn holds(&self, s: &Subject<'_>) -> bool {
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.holds(s)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(s)),
            Condition::Not(c) => !c.holds(s),
            Condition::Clause(c) => c.holds(s),
        }
    }

    /// Whether any clause tests an enrichment fact (callers then fetch the facts).
    pub fn uses_enrichment(&self) -> bool {
        self.clauses().iter().any(|c| matches!(c.field, Field::Enrichment(_)))
    }

    /// Every clause in the tree, depth first.
    pub fn clauses(&self) -> Vec<&Clause> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(c) = stack.pop() {
            match c {
                Condition::All(cs) | Condition::Any(cs) => stack.extend(cs.iter().rev()),
                Condition::Not(c) => stack.push(c),
                Condition::Clause(c) => out.push(c),
            }
        }
        out
    }

    /// Reads a condition from JSON:
    /// - a clause: `{"field": "confidence", "operator": "GreaterThanEqual", "values": [50]}`
    ///   (`value` for one value; `connective`/`clauseConnective`: `and`|`or`);
    /// - groups: `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}`;
    /// - Sentinel's query-API condition: `{"stixObjectType": "indicator",
    ///   "conditionConnective": "And", "clauses": [...]}`.
    pub fn from_json(v: &Value) -> Result<Condition, ConditionError> {
        Self::read(v, "")
    }

    fn read(v: &Value, path: &str) -> Result<Condition, ConditionError> {
        let Some(m) = v.as_object() else {
            return Err(err(
                path,
                "a condition is a JSON object: a clause {field, operator, values} or a group {all|any|not}",
            ));
        };
        let list = |key: &str| -> Result<Vec<Condition>, ConditionError> {
            let here = join(path, key);
            let items = m[key].as_array().ok_or_else(|| err(&here, "expected a list of conditions"))?;
            items.iter().enumerate().map(|(i, c)| Self::read(c, &format!("{here}[{i}]"))).collect()
        };
        let only = |key: &str| -> Result<(), ConditionError> {
            match m.keys().find(|k| k.as_str() != key) {
                Some(k) => Err(err(path, format!("unexpected '{k}' beside '{key}'; put it in its own condition"))),
                None => Ok(()),
            }
        };
        if m.contains_key("all") {
            only("all")?;
            return Ok(Condition::All(list("all")?));
        }
        if m.contains_key("any") {
            only("any")?;
            return Ok(Condition::Any(list("any")?));
        }
        if m.contains_key("not") {
            only("not")?;
            return Ok(Condition::Not(Box::new(Self::read(&m["not"], &join(path, "not"))?)));
        }
        if m.contains_key("clauses") {
            let mut children = list("clauses")?;
            let connective =
                match m.get("conditionConnective").map(|c| connective(c, &join(path, "conditionConnective"))) {
                    Some(c) => c?,
                    None => Connective::And,
                };
            if let Some(t) = m.get("stixObjectType") {
                let t = t.as_str().ok_or_else(|| err(&join(path, "stixObjectType"), "expected a STIX type name"))?;
                let by_type = Condition::Clause(
                    Clause::new(Field::Type, Operator::Equals, vec![t.to_string()], Connective::Or)
                        .expect("a type clause is valid"),
                );
                let group =
                    if connective == Connective::And { Condition::All(children) } else { Condition::Any(children) };
                children = vec![by_type, group];
                return Ok(Condition::All(children));
            }
            return Ok(if connective == Connective::And { Condition::All(children) } else { Condition::Any(children) });
        }
        Self::read_clause(m, path).map(Condition::Clause)
    }

    fn read_clause(m: &serde_json::Map<String, Value>, path: &str) -> Result<Clause, ConditionError> {
        for k in m.keys() {
            if !matches!(k.as_str(), "field" | "operator" | "values" | "value" | "connective" | "clauseConnective") {
                return Err(err(
                    path,
                    format!(
                        "unexpected '{k}' in a clause; a clause has field, operator, values (or value) and connective"
                    ),
                ));
            }
        }
        let field =
            m.get("field").and_then(Value::as_str).ok_or_else(|| err(path, "a clause needs a \"field\" (text)"))?;
        let field = Field::parse(field).map_err(|e| err(&join(path, "field"), e))?;
        let operator = m
            .get("operator")
            .and_then(Value::as_str)
            .ok_or_else(|| err(path, "a clause needs an \"operator\" (text)"))?;
        let operator = Operator::parse(operator).map_err(|e| err(&join(path, "operator"), e))?;
        let raw: Vec<&Value> = match (m.get("values"), m.get("value")) {
            (Some(_), Some(_)) => return Err(err(path, "give either \"values\" or \"value\", not both")),
            (Some(Value::Array(a)), None) => a.iter().collect(),
            (Some(v), None) | (None, Some(v)) => vec![v],
            (None, None) => Vec::new(),
        };
        let mut values = Vec::with_capacity(raw.len());
        for (i, v) in raw.into_iter().enumerate() {
            values.push(match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(err(&join(path, &format!("values[{i}]")), "a value is text, a number or true/false")),
            });
        }
        let conn = match m.get("connective").or_else(|| m.get("clauseConnective")) {
            Some(c) => connective(c, &join(path, "connective"))?,
            None => Connective::Or,
        };
        Clause::new(field, operator, values, conn).map_err(|e| err(&join(path, &e.path), e.message))
    }

    pub fn to_json(&self) -> Value {
        match self {
            Condition::All(cs) => json!({"all": cs.iter().map(Condition::to_json).collect::<Vec<_>>()}),
            Condition::Any(cs) => json!({"any": cs.iter().map(Condition::to_json).collect::<Vec<_>>()}),
            Condition::Not(c) => json!({"not": c.to_json()}),
            Condition::Clause(c) => c.to_json(),
        }
    }
}

fn connective(v: &Value, path: &str) -> Result<Connective, ConditionError> {
    match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("and") => Ok(Connective::And),
        Some("or") => Ok(Connective::Or),
        _ => Err(err(path, "expected \"and\" or \"or\"")),
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::All(cs) if cs.is_empty() => f.write_str("(always)"),
            Condition::Any(cs) if cs.is_empty() => f.write_str("(never)"),
            Condition::All(cs) | Condition::Any(cs) => {
                let sep = if matches!(self, Condition::All(_)) { " AND " } else { " OR " };
                f.write_str("(")?;
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str(")")
            }
            Condition::Not(c) => write!(f, "NOT {c}"),
            Condition::Clause(c) => {
                write!(f, "{} {}", c.field, c.operator)?;
                let vals: Vec<&str> = c.values().collect();
                match vals.len() {
                    0 => Ok(()),
                    1 => write!(f, " {:?}", vals[0]),
                    _ => write!(f, " {:?} ({})", vals, if c.connective == Connective::And { "all" } else { "any" }),
                }
            }
        }
    }
}

impl serde::Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Condition::from_json(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
