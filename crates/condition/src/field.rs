//! The fields a condition can test, and how each is read from a STIX object.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::Subject;

/// A property of an object (or of its delivery) that a clause tests.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Type,
    /// The name of the source that delivered the object (connector, upload `sourcesystem`,
    /// file import, …).
    Source,
    Confidence,
    /// STIX `labels`, shown as tags.
    Tags,
    /// The TLP level named by a standard TLP 1.0/2.0 marking in `object_marking_refs`:
    /// `white`, `green`, `amber`, `red`, `clear`, `amber+strict`.
    Tlp,
    Created,
    Modified,
    ValidFrom,
    ValidUntil,
    Name,
    Description,
    Pattern,
    PatternType,
    IndicatorTypes,
    /// The left-hand sides of the pattern's equality comparisons (Sentinel's ObservableKey).
    ObservableKey,
    /// Their right-hand sides (ObservableValue).
    ObservableValue,
    Revoked,
    /// Any property, by JSON path (`$.x_score`, `$.external_references[*].source_name`).
    Path(JsonPath),
}

/// What a field holds, which decides how values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Time,
    Bool,
    /// Found by JSON path: compared by what each value turns out to be.
    Any,
}

/// Field names as conditions spell them (snake_case; Sentinel's camelCase and column
/// names are accepted too, see [`Field::parse`]).
const NAMES: &[(&str, Field)] = &[
    ("id", Field::Id),
    ("type", Field::Type),
    ("source", Field::Source),
    ("confidence", Field::Confidence),
    ("tags", Field::Tags),
    ("tlp", Field::Tlp),
    ("created", Field::Created),
    ("modified", Field::Modified),
    ("valid_from", Field::ValidFrom),
    ("valid_until", Field::ValidUntil),
    ("name", Field::Name),
    ("description", Field::Description),
    ("pattern", Field::Pattern),
    ("pattern_type", Field::PatternType),
    ("indicator_types", Field::IndicatorTypes),
    ("observable_key", Field::ObservableKey),
    ("observable_value", Field::ObservableValue),
    ("revoked", Field::Revoked),
];

/// Other spellings users bring from Sentinel (UI labels, query API, table columns).
const ALIASES: &[(&str, &str)] = &[
    ("labels", "tags"),
    ("tlplevel", "tlp"),
    ("tlp_level", "tlp"),
    ("stixtype", "type"),
    ("stix_type", "type"),
    ("sourcesystem", "source"),
    ("validfrom", "valid_from"),
    ("validuntil", "valid_until"),
    ("expiration", "valid_until"),
    ("patterntype", "pattern_type"),
    ("indicatortypes", "indicator_types"),
    ("threattypes", "indicator_types"),
    ("observablekey", "observable_key"),
    ("observablevalue", "observable_value"),
    ("displayname", "name"),
    ("lastupdatedtimeutc", "modified"),
];

impl Field {
    /// Reads a field name: one of the names above (any case, `validFrom` or `valid_from`),
    /// or a JSON path starting with `$`.
    pub fn parse(s: &str) -> Result<Field, String> {
        if s.starts_with('$') {
            return JsonPath::parse(s).map(Field::Path);
        }
        let lower = s.to_ascii_lowercase();
        let canonical = ALIASES.iter().find(|(a, _)| *a == lower).map_or(lower.as_str(), |(_, c)| c);
        let squashed: String = canonical.chars().filter(|c| *c != '_' && *c != ' ').collect();
        NAMES
            .iter()
            .find(|(n, _)| *n == canonical || n.replace('_', "") == squashed)
            .map(|(_, f)| f.clone())
            .ok_or_else(|| {
                let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                format!("unknown field '{s}'; use one of {}, or a JSON path such as $.x_score", names.join(", "))
            })
    }

    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Field::Path(p) => Cow::Owned(p.text.clone()),
            f => Cow::Borrowed(NAMES.iter().find(|(_, g)| g == f).map(|(n, _)| *n).unwrap_or("?")),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Field::Confidence => Kind::Number,
            Field::Created | Field::Modified | Field::ValidFrom | Field::ValidUntil => Kind::Time,
            Field::Revoked => Kind::Bool,
            Field::Path(_) => Kind::Any,
            _ => Kind::Text,
        }
    }

    /// Every value the field has on `subject` (empty when it has none). Arrays are
    /// spread: `tags` yields each label.
    pub(crate) fn values<'a>(&self, s: &'a Subject<'a>) -> Vec<Cow<'a, Value>> {
        let obj = s.object;
        let prop = |k: &str| -> Vec<Cow<'a, Value>> { spread(obj.get(k)) };
        match self {
            Field::Id => prop("id"),
            Field::Type => prop("type"),
            Field::Source => vec![Cow::Owned(Value::String(s.source.to_string()))],
            Field::Confidence => prop("confidence"),
            Field::Tags => prop("labels"),
            Field::Tlp => tlp_levels(obj).map(|l| Cow::Owned(Value::String(l.to_string()))).collect(),
            Field::Created => prop("created"),
            Field::Modified => prop("modified"),
            Field::ValidFrom => prop("valid_from"),
            Field::ValidUntil => prop("valid_until"),
            Field::Name => prop("name"),
            Field::Description => prop("description"),
            Field::Pattern => prop("pattern"),
            Field::PatternType => prop("pattern_type"),
            Field::IndicatorTypes => prop("indicator_types"),
            Field::ObservableKey => s.observables().iter().map(|o| Cow::Owned(Value::String(o.key.clone()))).collect(),
            Field::ObservableValue => {
                s.observables().iter().map(|o| Cow::Owned(Value::String(o.value.clone()))).collect()
            }
            // An object without `revoked` is not revoked: the spec's default.
            Field::Revoked => match obj.get("revoked") {
                None | Some(Value::Null) => vec![Cow::Owned(Value::Bool(false))],
                v => spread(v),
            },
            Field::Path(p) => p.find(obj),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

fn spread(v: Option<&Value>) -> Vec<Cow<'_, Value>> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).map(Cow::Borrowed).collect(),
        Some(v) => vec![Cow::Borrowed(v)],
    }
}

/// The TLP levels an object's `object_marking_refs` name through the standard TLP 1.0
/// and TLP 2.0 marking-definition ids.
pub fn tlp_levels(obj: &Value) -> impl Iterator<Item = &'static str> + '_ {
    obj.get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().and_then(tlp_level_of))
}

/// The TLP level of a standard TLP marking-definition id.
pub fn tlp_level_of(marking_id: &str) -> Option<&'static str> {
    cairn_stix::spec::TLP_MARKINGS
        .iter()
        .chain(cairn_stix::spec::TLP2_MARKINGS)
        .find(|(id, _, _)| *id == marking_id)
        .map(|(_, _, level)| *level)
}

/// The marking-definition id for a TLP level (`green`, `TLP:AMBER`, `amber+strict`, …):
/// TLP 2.0 ids for the levels only TLP 2.0 has (`clear`, `amber+strict`), TLP 1.0 ids
/// (which STIX 2.1 fixes and every TIP understands) for the others.
pub fn tlp_marking_id(level: &str) -> Option<&'static str> {
    use cairn_stix::spec::{TLP2_MARKINGS, TLP_MARKINGS};
    let l = level.trim().to_ascii_lowercase();
    // `tlp2:green` asks for the TLP 2.0 marking where both versions have the level.
    let (l, order) = match l.strip_prefix("tlp2:") {
        Some(rest) => (rest, [TLP2_MARKINGS, TLP_MARKINGS]),
        None => (l.strip_prefix("tlp:").unwrap_or(&l), [TLP_MARKINGS, TLP2_MARKINGS]),
    };
    order.iter().flat_map(|t| t.iter()).find(|(_, _, lv)| *lv == l).map(|(id, _, _)| *id)
}

/// A JSON path over an object: `$`, then `.name`, `['name']`, `[N]` or `[*]` steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    Key(String),
    Index(usize),
    All,
}

impl JsonPath {
    pub fn parse(s: &str) -> Result<JsonPath, String> {
        let bad = |at: usize, what: &str| format!("JSON path '{s}', at character {}: {what}", at + 1);
        let b = s.as_bytes();
        if b.first() != Some(&b'$') {
            return Err(bad(0, "a path starts with '$'"));
        }
        let mut steps = Vec::new();
        let mut i = 1;
        while i < b.len() {
            match b[i] {
                b'.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < b.len() && b[end] != b'.' && b[end] != b'[' {
                        end += 1;
                    }
                    if end == start {
                        return Err(bad(i, "expected a property name after '.'"));
                    }
                    steps.push(Step::Key(s[start..end].to_string()));
                    i = end;
                }
                b'[' => {
                    let close = s[i..].find(']').map(|p| p + i).ok_or_else(|| bad(i, "'[' without ']'"))?;
                    let inner = s[i + 1..close].trim();
                    if inner == "*" {
                        steps.push(Step::All);
                    } else if let Ok(n) = inner.parse::<usize>() {
                        steps.push(Step::Index(n));
                    } else if inner.len() >= 2
                        && (inner.starts_with('\'') && inner.ends_with('\'')
                            || inner.starts_with('"') && inner.ends_with('"'))
                    {
                        steps.push(Step::Key(inner[1..inner.len() - 1].to_string()));
                    } else {
                        return Err(bad(i, "expected [N], [*] or ['name']"));
                    }
                    i = close + 1;
                }
                _ => return Err(bad(i, "expected '.' or '['")),
            }
        }
        if steps.is_empty() {
            return Err(bad(0, "the path names no property"));
        }
        Ok(JsonPath { text: s.to_string(), steps })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The values the path reaches; arrays at the end are spread into their elements.
    pub fn find<'a>(&self, obj: &'a Value) -> Vec<Cow<'a, Value>> {
        let mut at = vec![obj];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in at {
                match step {
                    Step::Key(k) => next.extend(v.get(k.as_str())),
                    Step::Index(n) => next.extend(v.get(*n)),
                    Step::All => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(m) => next.extend(m.values()),
                        _ => {}
                    },
                }
            }
            at = next;
        }
        at.into_iter().flat_map(|v| spread(Some(v))).collect()
    }
}
