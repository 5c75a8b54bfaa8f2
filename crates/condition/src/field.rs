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
    /// What enrichment found out about the object (GeoIP, WhoIs), kept beside it:
    /// `enrichment.country`, `enrichment.asn`, …
    Enrichment(Fact),
}

/// An enrichment fact a condition can test. An object has each fact once per address or
/// domain it is about (an indicator for two addresses has two countries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    /// ISO 3166 code of the address's country (GeoIP).
    Country,
    /// Autonomous system number announcing the address (GeoIP), without `AS`.
    Asn,
    /// The autonomous system's organisation (GeoIP).
    AsOrg,
    City,
    /// The domain's registrar (WhoIs).
    Registrar,
    /// The domain registrant's organisation, where public (WhoIs).
    RegistrantOrg,
    RegistrantCountry,
    /// The organisation holding the address block (WhoIs).
    NetworkOrg,
    /// A domain registered less than 30 days before the indicator's `valid_from`.
    NewlyRegisteredDomain,
}

impl Fact {
    /// Every fact, with its name (as the facts object and conditions spell it).
    pub const ALL: &'static [(&'static str, Fact)] = &[
        ("country", Fact::Country),
        ("asn", Fact::Asn),
        ("as_org", Fact::AsOrg),
        ("city", Fact::City),
        ("registrar", Fact::Registrar),
        ("registrant_org", Fact::RegistrantOrg),
        ("registrant_country", Fact::RegistrantCountry),
        ("network_org", Fact::NetworkOrg),
        ("newly_registered_domain", Fact::NewlyRegisteredDomain),
    ];

    pub fn name(self) -> &'static str {
        Fact::ALL.iter().find(|(_, f)| *f == self).map(|(n, _)| *n).expect("every fact is named")
    }

    pub fn kind(self) -> Kind {
        match self {
            Fact::Asn => Kind::Number,
            Fact::NewlyRegisteredDomain => Kind::Bool,
            _ => Kind::Text,
        }
    }
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
        if let Some(f) = s.strip_prefix("enrichment.").or_else(|| s.strip_prefix("Enrichment.")) {
            let lower = f.to_ascii_lowercase();
            return Fact::ALL
                .iter()
                .find(|(n, _)| *n == lower || n.replace('_', "") == lower)
                .map(|(_, f)| Field::Enrichment(*f))
                .ok_or_else(|| {
                    let names: Vec<String> = Fact::ALL.iter().map(|(n, _)| format!("enrichment.{n}")).collect();
                    format!("unknown enrichment field '{s}'; use one of {}", names.join(", "))
                });
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
                format!(
                    "unknown field '{s}'; use one of {}, enrichment.FACT, or a JSON path such as $.x_score",
                    names.join(", ")
                )
            })
    }

    /// The named fields, as a search builder offers them.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(n, _)| *n)
    }

    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Field::Path(p) => Cow::Owned(p.text.clone()),
            Field::Enrichment(f) => Cow::Owned(format!("enrichment.{}", f.name())),
            f => Cow::Borrowed(NAMES.iter().find(|(_, g)| g == f).map(|(n, _)| *n).unwrap_or("?")),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Field::Confidence => Kind::Number,
            Field::Created | Field::Modified | Field::ValidFrom | Field::ValidUntil => Kind::Time,
            Field::Revoked => Kind::Bool,
            Field::Path(_) => Kind::Any,
            Field::Enrichment(f) => f.kind(),
            _ => Kind::Text,
        }
    }

    /// Calls `f` with each value the field has on `subject` until it returns true;
    /// returns whether it did. Arrays are spread: `tags` yields each label. Nothing is
    /// allocated: this runs for every rule on every ingested object.
    pub(crate) fn any(&self, s: &Subject<'_>, f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
        let obj = s.object;
        let prop = |k: &str, f: &mut dyn FnMut(Val<'_>) -> bool| spread(obj.get(k), f);
        match self {
            Field::Id => prop("id", f),
            Field::Type => prop("type", f),
            Field::Source => f(Val::Str(s.source)),
            Field::Confidence => prop("confidence", f),
            Field::Tags => prop("labels", f),
            Field::Tlp => tlp_levels(obj).any(|l| f(Val::Str(l))),
            Field::Created => prop("created", f),
            Field::Modified => prop("modified", f),
            Field::ValidFrom => prop("valid_from", f),
            Field::ValidUntil => prop("valid_until", f),
            Field::Name => prop("name", f),
            Field::Description => prop("description", f),
            Field::Pattern => prop("pattern", f),
            Field::PatternType => prop("pattern_type", f),
            Field::IndicatorTypes => prop("indicator_types", f),
            Field::ObservableKey => s.observables().iter().any(|o| f(Val::Str(&o.key))),
            Field::ObservableValue => s.observables().iter().any(|o| f(Val::Str(&o.value))),
            // An object without `revoked` is not revoked: the spec's default.
            Field::Revoked => match obj.get("revoked") {
                None | Some(Value::Null) => f(Val::Json(&Value::Bool(false))),
                v => spread(v, f),
            },
            Field::Path(p) => p.any(obj, f),
            Field::Enrichment(fact) => spread(s.enrichment.and_then(|e| e.get(fact.name())), f),
        }
    }
}

/// One value of a field: a JSON value of the object, or text the field derives.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Val<'a> {
    Json(&'a Value),
    Str(&'a str),
}

impl<'a> Val<'a> {
    pub(crate) fn as_str(self) -> Option<&'a str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

fn spread(v: Option<&Value>, f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).any(|v| f(Val::Json(v))),
        Some(v) => f(Val::Json(v)),
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

    /// Calls `f` with each value the path reaches (arrays at the end spread into their
    /// elements) until it returns true.
    fn any(&self, obj: &Value, f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
        fn walk(v: &Value, steps: &[Step], f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
            let Some((step, rest)) = steps.split_first() else { return spread(Some(v), f) };
            match step {
                Step::Key(k) => v.get(k.as_str()).is_some_and(|v| walk(v, rest, f)),
                Step::Index(n) => v.get(*n).is_some_and(|v| walk(v, rest, f)),
                Step::All => match v {
                    Value::Array(a) => a.iter().any(|v| walk(v, rest, f)),
                    Value::Object(m) => m.values().any(|v| walk(v, rest, f)),
                    _ => false,
                },
            }
        }
        walk(obj, &self.steps, f)
    }
}
