//! The validator: interprets the tables in [`crate::spec`].
//!
//! One pass over the object: the family's common properties and the type's own rows say
//! how each property is checked ([`Ty`]); then the type's required properties and
//! [`Rule`]s. MUST violations become errors, SHOULD findings warnings. Nothing here
//! allocates unless there is something to report (paths are rendered only for findings).

use serde_json::{Map, Value};

use crate::formats;
use crate::ident;
use crate::object::{Category, SpecVersion};
use crate::sco_id;
use crate::spec::{self, DictVals, ObjSpec, Prop, Rule, Special, Targets, Ty, Vocab};
use crate::timestamp::Timestamp;

/// One problem found in an object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The property, as a path from the object root (`valid_until`, `external_references[2].source_name`).
    pub property: String,
    /// A short, stable rule name (`required`, `timestamp-format`, `ref-target-type`, …).
    pub rule: &'static str,
    /// A sentence for a person: what is wrong and what would be right.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} [{}]", self.property, self.message, self.rule)
    }
}

/// The outcome of validating one object: MUST violations are errors, SHOULD findings warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Validates one top-level STIX object (not a bundle's contents: the caller iterates
/// `objects`; a bundle given here is checked for its own shape only).
///
/// `default` is the enclosing bundle's spec version, when known. An object's own
/// `spec_version` wins; an SDO, SRO or marking-definition without one is a STIX 2.0 object
/// (2.1 makes `spec_version` required on them, and this is how the reference validator
/// reads 2.0 objects inside 2.1 bundles).
pub fn validate(obj: &Value, default: Option<SpecVersion>) -> Report {
    let mut c = Checker { report: Report::default(), version: SpecVersion::V21, root: obj, exts: &[], local: None };
    match obj.as_object() {
        Some(map) => c.top(map, default),
        None => c.error(&Path::ROOT, "not-object", "a STIX object must be a JSON object".to_owned()),
    }
    c.report
}

// ---------------------------------------------------------------------------------------
// Paths (rendered only when something is reported)
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Idx(usize),
}

#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

impl Path<'_> {
    const ROOT: Path<'static> = Path { parent: None, seg: Seg::Root };

    fn key<'b>(&'b self, k: &'b str) -> Path<'b> {
        Path { parent: Some(self), seg: Seg::Key(k) }
    }

    fn idx<'b>(&'b self, i: usize) -> Path<'b> {
        Path { parent: Some(self), seg: Seg::Idx(i) }
    }

    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut p = Some(self);
        while let Some(x) = p {
            segs.push(x.seg);
            p = x.parent;
        }
        let mut out = String::new();
        for s in segs.iter().rev() {
            match s {
                Seg::Root => {}
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Idx(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// The interpreter
// ---------------------------------------------------------------------------------------

struct Checker<'o> {
    report: Report,
    version: SpecVersion,
    /// The object being validated (granular-marking selectors resolve against it).
    root: &'o Value,
    /// The predefined extensions of the type being checked.
    exts: &'static [&'static ObjSpec],
    /// Inside observed-data `objects`: the dictionary that references resolve in.
    local: Option<&'o Map<String, Value>>,
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn list_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// An integer value, accepting floats with no fractional part as JSON Schema does.
fn as_integer(v: &Value) -> Option<i128> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
}

/// Splits an identifier and checks its UUID part as the given version requires. Returns
/// the type part, or the rule broken (`id-format`, or `id-version` for a 2.0 non-v4 UUID)
/// and a message.
fn check_identifier(id: &str, version: SpecVersion) -> Result<&str, (&'static str, String)> {
    let bad = |m: String| Err(("id-format", m));
    let Some((t, u)) = id.split_once("--") else {
        return bad(format!("'{id}' is not an identifier of the form <type>--<UUID>"));
    };
    if let Err(e) = ident::check_type_name(t) {
        return bad(format!("'{id}' is not a valid identifier: {e}"));
    }
    let b = u.as_bytes();
    let dash = |i: usize| matches!(i, 8 | 13 | 18 | 23);
    if b.len() != 36 || !b.iter().enumerate().all(|(i, c)| if dash(i) { *c == b'-' } else { c.is_ascii_hexdigit() }) {
        return bad(format!("'{id}': '{u}' is not a UUID in 8-4-4-4-12 hexadecimal form"));
    }
    if b.iter().any(u8::is_ascii_uppercase) {
        return bad(format!(
            "'{id}': the UUID must be written in lower case (RFC 4122 §3; ids are compared as strings)"
        ));
    }
    if !matches!(b[19], b'8' | b'9' | b'a' | b'b') {
        return bad(format!("'{id}': '{u}' is not an RFC 4122 UUID (wrong variant bits)"));
    }
    match version {
        SpecVersion::V21 if !(b'1'..=b'5').contains(&b[14]) => {
            bad(format!("'{id}': '{u}' is not an RFC 4122 UUID (version must be 1 to 5)"))
        }
        SpecVersion::V20 if b[14] != b'4' => {
            Err(("id-version", format!("'{id}': STIX 2.0 identifiers must use a UUIDv4")))
        }
        _ => Ok(t),
    }
}

fn uuid_version(id: &str) -> Option<u8> {
    let u = id.split_once("--")?.1.as_bytes();
    (u.len() == 36).then(|| u[14].wrapping_sub(b'0'))
}

fn allows(targets: Targets, t: &str) -> bool {
    let cat = Category::of(t);
    match targets {
        Targets::Types(ts) => ts.contains(&t),
        Targets::Sdo => matches!(cat, Category::Sdo | Category::Custom),
        Targets::Sco => matches!(cat, Category::Sco | Category::Custom),
        Targets::SdoOrSco => matches!(cat, Category::Sdo | Category::Sco | Category::Custom),
        Targets::ScoOrSro => matches!(cat, Category::Sco | Category::Sro | Category::Custom),
        Targets::Translatable => !matches!(cat, Category::Bundle | Category::LanguageContent),
        Targets::Any => true,
    }
}

fn describe_targets(targets: Targets) -> String {
    match targets {
        Targets::Types(ts) => list_names(ts),
        Targets::Sdo => "an SDO".into(),
        Targets::Sco => "an SCO".into(),
        Targets::SdoOrSco => "an SDO or SCO".into(),
        Targets::ScoOrSro => "an SCO or SRO".into(),
        Targets::Translatable => "an SDO, SRO, SCO or marking-definition".into(),
        Targets::Any => "any object".into(),
    }
}

fn has_extension_type(map: &Map<String, Value>, types: &[&str]) -> bool {
    map.get("extensions").and_then(Value::as_object).is_some_and(|e| {
        e.values().any(|x| x.get("extension_type").and_then(Value::as_str).is_some_and(|t| types.contains(&t)))
    })
}

fn str_prop<'m>(map: &'m Map<String, Value>, k: &str) -> Option<&'m str> {
    map.get(k).and_then(Value::as_str)
}

impl<'o> Checker<'o> {
    fn error(&mut self, path: &Path, rule: &'static str, message: String) {
        self.report.errors.push(Finding { property: path.render(), rule, message });
    }

    fn warn(&mut self, path: &Path, rule: &'static str, message: String) {
        self.report.warnings.push(Finding { property: path.render(), rule, message });
    }

    fn top(&mut self, map: &'o Map<String, Value>, default: Option<SpecVersion>) {
        let root = Path::ROOT;
        let t = match map.get("type") {
            Some(Value::String(s)) => s.as_str(),
            Some(v) => {
                let m = format!("must be a string naming the object type, not {}", describe(v));
                self.error(&root.key("type"), "value-type", m);
                return;
            }
            None => {
                self.error(&root.key("type"), "required", "required property is missing".into());
                return;
            }
        };
        if let Err(e) = ident::check_type_name(t) {
            self.error(&root.key("type"), "type-name", e);
        }
        let cat = Category::of(t);
        self.version = match map.get("spec_version") {
            Some(Value::String(s)) => match SpecVersion::parse(s) {
                Some(v) => v,
                None => {
                    let m = format!("'{s}' is not a STIX version this validator knows; use \"2.1\"");
                    self.error(&root.key("spec_version"), "spec-version", m);
                    SpecVersion::V21
                }
            },
            Some(v) => {
                let m = format!("must be the string \"2.1\", not {}", describe(v));
                self.error(&root.key("spec_version"), "value-type", m);
                SpecVersion::V21
            }
            None if default == Some(SpecVersion::V20) => SpecVersion::V20,
            None if map.contains_key("created") && cat != Category::Sco && cat != Category::Bundle => SpecVersion::V20,
            None => SpecVersion::V21,
        };
        if cat == Category::Bundle {
            self.bundle(map);
        } else {
            self.object(map, t, cat);
        }
    }

    fn bundle(&mut self, map: &'o Map<String, Value>) {
        let root = Path::ROOT;
        self.id(map, "bundle");
        match self.version {
            SpecVersion::V21 => {
                if map.contains_key("spec_version") {
                    let m = "a STIX 2.1 bundle has no spec_version (each object carries its own)".into();
                    self.error(&root.key("spec_version"), "spec-version", m);
                }
            }
            SpecVersion::V20 => {
                if !map.contains_key("spec_version") {
                    self.error(&root.key("spec_version"), "required", "required property is missing (\"2.0\")".into());
                }
            }
        }
        if let Some(objects) = map.get("objects") {
            let path = root.key("objects");
            match objects.as_array() {
                None => {
                    self.error(&path, "value-type", format!("must be a list of objects, not {}", describe(objects)))
                }
                Some(a) if a.is_empty() => {
                    self.error(&path, "empty-list", "must not be an empty list; omit the property instead".into())
                }
                Some(a) => {
                    for (i, o) in a.iter().enumerate() {
                        if !o.is_object() {
                            self.error(
                                &path.idx(i),
                                "value-type",
                                format!("must be a STIX object, not {}", describe(o)),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Checks `id`; returns its UUID version when it is well-formed.
    fn id(&mut self, map: &Map<String, Value>, t: &str) -> Option<u8> {
        let path = Path::ROOT.key("id");
        let id = match map.get("id") {
            Some(Value::String(s)) => s.as_str(),
            Some(v) => {
                self.error(&path, "value-type", format!("must be an identifier string, not {}", describe(v)));
                return None;
            }
            None => {
                self.error(&path, "required", format!("required property is missing (expected {t}--<UUID>)"));
                return None;
            }
        };
        match check_identifier(id, self.version) {
            Ok(id_type) => {
                if id_type != t {
                    let m = format!("the type part '{id_type}' must match the object's type '{t}'");
                    self.error(&path, "id-type-mismatch", m);
                }
                uuid_version(id)
            }
            Err((rule, m)) => {
                self.error(&path, rule, m);
                None
            }
        }
    }

    fn object(&mut self, map: &'o Map<String, Value>, t: &str, cat: Category) {
        let root = Path::ROOT;
        let v21 = self.version == SpecVersion::V21;
        let (reserved_types, reserved_props): (&[&str], &[&str]) = if v21 {
            (spec::RESERVED_TYPES_21, spec::RESERVED_PROPERTIES_21)
        } else {
            (spec::RESERVED_TYPES_20, spec::RESERVED_PROPERTIES_20)
        };
        if reserved_types.contains(&t) {
            let m = format!("'{t}' is a reserved type name in STIX {} and must not be used", self.version.as_str());
            self.error(&root.key("type"), "type-name", m);
        }
        let spec = if v21 { spec::spec_21(t) } else { spec::spec_20(t) };
        // In 2.0 every top-level object is an SDO, SRO or marking-definition.
        let sdo_like = match cat {
            Category::Sco => !v21,
            Category::Custom => !v21 || map.contains_key("created") || map.contains_key("modified"),
            _ => true,
        };
        let common: &'static [Prop] = match (cat, v21) {
            (Category::MarkingDefinition, true) => spec::COMMON_MARKING_21,
            (Category::MarkingDefinition, false) => spec::COMMON_MARKING_20,
            (_, true) if !sdo_like => spec::COMMON_SCO_21,
            (_, true) => spec::COMMON_21,
            (_, false) => spec::COMMON_20,
        };
        self.exts = spec.map_or(&[], |s| s.extensions);

        let uuid_v = self.id(map, t);
        if v21 && sdo_like && !map.contains_key("spec_version") {
            self.error(&root.key("spec_version"), "required", "required property is missing (\"2.1\")".into());
        }
        if sdo_like {
            let needed: &[&str] =
                if cat == Category::MarkingDefinition { &["created"] } else { &["created", "modified"] };
            for n in needed {
                if !map.contains_key(*n) {
                    self.error(&root.key(n), "required", "required property is missing".into());
                }
            }
        }

        let toplevel_ext = v21 && has_extension_type(map, &["toplevel-property-extension"]);
        for (k, v) in map {
            if matches!(k.as_str(), "type" | "id" | "spec_version") {
                continue;
            }
            let path = root.key(k);
            let prop = common.iter().find(|p| p.name == k).or_else(|| spec.and_then(|s| s.prop(k)));
            if reserved_props.contains(&k.as_str()) {
                let m =
                    format!("'{k}' is a reserved property name in STIX {} and must not be used", self.version.as_str());
                self.error(&path, "reserved-property", m);
                continue;
            }
            match prop {
                Some(p) => self.value(&path, p, v),
                None => {
                    let ok = if v21 { formats::is_property_name(k) } else { formats::is_property_name_20(k) };
                    if !ok {
                        self.error(&path, "property-name", property_name_rule(self.version).into());
                    }
                    self.custom_value(&path, k, v);
                    if v21 && spec.is_some() && !toplevel_ext {
                        let m = format!(
                            "'{k}' is not a {t} property; custom properties should be defined with an \
                             extension-definition (toplevel-property-extension)"
                        );
                        self.warn(&path, "custom-property", m);
                    }
                }
            }
        }

        // created/modified precision: at least milliseconds in 2.1 (Common Properties), exactly in 2.0.
        if sdo_like {
            for n in ["created", "modified"] {
                let Some(ts) = str_prop(map, n).and_then(|s| Timestamp::parse(s).ok()) else {
                    continue;
                };
                let ok = if v21 { ts.frac_digits >= 3 } else { ts.frac_digits == 3 };
                if !ok {
                    let m = if v21 {
                        "must be precise to at least the millisecond (three digits after the decimal point)"
                    } else {
                        "must be precise to exactly the millisecond (three digits after the decimal point) in STIX 2.0"
                    };
                    self.error(&root.key(n), "timestamp-precision", m.into());
                }
            }
        }

        if sdo_like && cat != Category::MarkingDefinition {
            self.rules(&root, map, spec::COMMON_RULES);
        }
        if let Some(s) = spec {
            self.required(&root, map, s.required);
            self.rules(&root, map, s.rules);
        }

        // UUID versions (Identifier section): SCOs with no ID contributing property MUST use UUIDv4; others
        // SHOULD use v4 (SDO/SRO/meta) or the deterministic v5 (SCOs).
        if let Some(ver) = uuid_v {
            if v21 && cat == Category::Sco {
                self.sco_id(map, spec, ver);
            } else if v21 && ver != 4 && sdo_like {
                self.warn(&root.key("id"), "uuid-version", "should use a UUIDv4".into());
            }
        }

        if v21 && cat == Category::Custom && !has_extension_type(map, &["new-sdo", "new-sco", "new-sro"]) {
            let m = format!(
                "'{t}' is not a STIX 2.1 type; custom objects should be defined with an extension-definition \
                 (extension_type new-sdo, new-sco or new-sro)"
            );
            self.warn(&root.key("type"), "custom-object", m);
        }
        if t == "relationship" {
            self.relationship_type(map);
        }
    }

    fn sco_id(&mut self, map: &Map<String, Value>, spec: Option<&ObjSpec>, uuid_version: u8) {
        let Some(spec) = spec else { return };
        let path = Path::ROOT.key("id");
        if !spec.id_contributing.iter().any(|p| map.get(*p).is_some_and(|v| !v.is_null())) {
            // Only where the contributing properties are optional: otherwise the missing
            // required property is the problem, already reported.
            if uuid_version != 4 && contributing_optional(spec) {
                let m = "must be a UUIDv4: the object has none of its ID contributing properties".into();
                self.error(&path, "id-version", m);
            }
            return;
        }
        if let Some(expected) = sco_id::deterministic_id(self.root) {
            if map.get("id").and_then(Value::as_str) != Some(expected.as_str()) {
                let m = format!(
                    "is not the deterministic id of this object (expected {expected}, a UUIDv5 of its ID \
                     contributing properties)"
                );
                self.warn(&path, "sco-id-mismatch", m);
            }
        }
    }

    fn relationship_type(&mut self, map: &Map<String, Value>) {
        let (Some(rel), Some(src), Some(tgt)) =
            (str_prop(map, "relationship_type"), str_prop(map, "source_ref"), str_prop(map, "target_ref"))
        else {
            return;
        };
        let (s, t) = (ident::id_type(src), ident::id_type(tgt));
        if spec::relationship_listed(s, rel, t) == Some(false) {
            let m = format!("'{rel}' from {s} to {t} is not a relationship the specification defines");
            self.warn(&Path::ROOT.key("relationship_type"), "relationship-type", m);
        }
    }

    /// A property with no table row: only the rules every property obeys.
    fn custom_value(&mut self, path: &Path, k: &str, v: &Value) {
        match v {
            Value::Null => self.error(path, "null-value", "must not be null; omit the property instead".into()),
            Value::Array(a) if a.is_empty() => {
                self.error(path, "empty-list", "must not be an empty list; omit the property instead".into())
            }
            Value::String(s) if k.ends_with("_bin") && !formats::is_base64(s) => {
                self.error(path, "binary-format", "properties ending in _bin must hold base64 data".into())
            }
            Value::String(s) if k.ends_with("_hex") && !formats::is_hex(s) => self.error(
                path,
                "hex-format",
                "properties ending in _hex must hold an even number of hex digits".into(),
            ),
            _ => {}
        }
    }

    fn required(&mut self, path: &Path, map: &Map<String, Value>, required: &[&str]) {
        for r in required {
            if !map.contains_key(*r) {
                self.error(&path.key(r), "required", "required property is missing".into());
            }
        }
    }

    fn rules(&mut self, path: &Path, map: &'o Map<String, Value>, rules: &[Rule]) {
        let has = |n: &&str| map.contains_key(*n);
        for rule in rules {
            match *rule {
                Rule::AtLeastOne(names) => {
                    if !names.iter().any(has) {
                        let m = format!("at least one of {} must be present", list_names(names));
                        self.error(&path.key(names[0]), "at-least-one", m);
                    }
                }
                Rule::ExactlyOne(names) | Rule::AtMostOne(names) => {
                    let mut present = names.iter().filter(|n| has(n));
                    match (present.next(), present.next()) {
                        (None, _) if matches!(rule, Rule::ExactlyOne(_)) => {
                            let m = format!("exactly one of {} must be present", list_names(names));
                            self.error(&path.key(names[0]), "at-least-one", m);
                        }
                        (Some(a), Some(b)) => {
                            let m = format!("must not be present together with {a}");
                            self.error(&path.key(b), "mutually-exclusive", m);
                        }
                        _ => {}
                    }
                }
                Rule::Requires { prop, needs } => {
                    if map.contains_key(prop) {
                        for n in needs.iter().filter(|n| !has(n)) {
                            self.error(&path.key(n), "dependency", format!("required when {prop} is present"));
                        }
                    }
                }
                Rule::IfFlag { flag, value, required, forbidden } => {
                    if map.get(flag).and_then(Value::as_bool) == Some(value) {
                        for n in required.iter().filter(|n| !has(n)) {
                            self.error(&path.key(n), "required", format!("required when {flag} is {value}"));
                        }
                        for n in forbidden.iter().filter(|n| has(n)) {
                            self.error(
                                &path.key(n),
                                "forbidden",
                                format!("must not be present when {flag} is {value}"),
                            );
                        }
                    }
                }
                Rule::AnyGroup(groups) => {
                    if !groups.iter().any(|g| g.iter().all(has)) {
                        let alts: Vec<String> = groups.iter().map(|g| g.join(" and ")).collect();
                        let m = format!(
                            "one of {} must be present",
                            list_names(&alts.iter().map(String::as_str).collect::<Vec<_>>())
                        );
                        self.error(&path.key(groups[0][0]), "at-least-one", m);
                    }
                }
                Rule::Order { later, earlier, strict, rule } => {
                    let parse = |k: &str| str_prop(map, k).and_then(|s| Timestamp::parse(s).ok().map(|t| (s, t)));
                    if let (Some((_, lt)), Some((es, et))) = (parse(later), parse(earlier)) {
                        let ok = if strict { lt > et } else { lt >= et };
                        if !ok {
                            let how = if strict { "later than" } else { "later than or equal to" };
                            self.error(&path.key(later), rule, format!("must be {how} {earlier} ({es})"));
                        }
                    }
                }
                Rule::Special(s) => self.special(s, path, map),
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Values
    // -----------------------------------------------------------------------------------

    fn value(&mut self, path: &Path, prop: &Prop, v: &'o Value) {
        if v.is_null() {
            self.error(path, "null-value", "must not be null; omit the property instead".into());
            return;
        }
        if !prop.list {
            return self.single(path, prop.ty, v);
        }
        match v.as_array() {
            None => self.error(path, "value-type", format!("must be a list, not {}", describe(v))),
            Some(a) if a.is_empty() => {
                self.error(path, "empty-list", "must not be an empty list; omit the property instead".into())
            }
            Some(a) => {
                for (i, x) in a.iter().enumerate() {
                    self.single(&path.idx(i), prop.ty, x);
                }
            }
        }
    }

    fn want_str(&mut self, path: &Path, v: &'o Value, what: &str) -> Option<&'o str> {
        match v {
            Value::String(s) => Some(s),
            _ => {
                self.error(path, "value-type", format!("must be {what}, not {}", describe(v)));
                None
            }
        }
    }

    fn format(&mut self, path: &Path, v: &'o Value, what: &str, rule: &'static str, ok: fn(&str) -> bool) {
        if let Some(s) = self.want_str(path, v, what) {
            if !ok(s) {
                self.error(path, rule, format!("'{s}' is not {what}"));
            }
        }
    }

    fn single(&mut self, path: &Path, ty: Ty, v: &'o Value) {
        match ty {
            Ty::Any => {
                if v.is_null() {
                    self.error(path, "null-value", "must not be null".into());
                }
            }
            Ty::Str => {
                self.want_str(path, v, "a string");
            }
            Ty::Bool => {
                if !v.is_boolean() {
                    self.error(path, "value-type", format!("must be true or false, not {}", describe(v)));
                }
            }
            Ty::Int(min, max, rule) => match as_integer(v) {
                None => self.error(path, "value-type", format!("must be an integer, not {}", describe(v))),
                Some(i) if i < i128::from(min) || i > i128::from(max) => {
                    let m = match (min, max) {
                        (i64::MIN, _) => format!("must be at most {max}"),
                        (_, i64::MAX) => format!("must be at least {min}"),
                        _ => format!("must be between {min} and {max}"),
                    };
                    self.error(path, rule, m);
                }
                Some(_) => {}
            },
            Ty::Float(min, max, rule) => match v.as_f64() {
                None => self.error(path, "value-type", format!("must be a number, not {}", describe(v))),
                Some(f) if f < min || f > max => self.error(path, rule, format!("must be between {min} and {max}")),
                Some(_) => {}
            },
            Ty::Timestamp | Ty::TimestampSecs => {
                let Some(s) = self.want_str(path, v, "a timestamp string") else {
                    return;
                };
                match Timestamp::parse(s) {
                    Err(e) => self.error(path, "timestamp-format", format!("is not a valid timestamp: {e}")),
                    Ok(t) if matches!(ty, Ty::TimestampSecs) && t.frac_digits > 0 => {
                        let m = "must be precise to the second (no fractional seconds)".into();
                        self.error(path, "timestamp-precision", m);
                    }
                    Ok(_) => {}
                }
            }
            Ty::Ref(targets) => {
                if let Some(s) = self.want_str(path, v, "an identifier") {
                    self.reference(path, s, targets);
                }
            }
            Ty::Hashes => self.hashes(path, v),
            Ty::Dict(vals) => self.dictionary(path, v, vals),
            Ty::Binary => self.format(path, v, "base64-encoded binary data", "binary-format", formats::is_base64),
            Ty::Hex => self.format(path, v, "an even number of hexadecimal digits", "hex-format", formats::is_hex),
            Ty::Vocab(voc) => {
                if let Some(s) = self.want_str(path, v, "a string") {
                    if !voc.values.contains(&s) {
                        let m = format!("'{s}' is not in the {} vocabulary{}", voc.name, suggest(voc));
                        self.warn(path, "vocabulary", m);
                    }
                }
            }
            Ty::Enum(voc) => {
                if let Some(s) = self.want_str(path, v, "a string") {
                    if !voc.values.contains(&s) {
                        let m = format!("'{s}' is not allowed: must be one of {}", list_names(voc.values));
                        self.error(path, "enumeration", m);
                    }
                }
            }
            Ty::Struct(spec) => match v.as_object() {
                Some(m) => self.structure(path, spec, m),
                None => self.error(path, "value-type", format!("must be a {} object, not {}", spec.name, describe(v))),
            },
            Ty::Url => self.format(path, v, "a URL (RFC 3986)", "url-format", formats::is_uri),
            Ty::DomainName => {
                self.format(path, v, "a domain name (RFC 1034/5890)", "domain-name-format", formats::is_domain_name)
            }
            Ty::Ipv4 => self.format(path, v, "an IPv4 address or CIDR block", "ip-format", formats::is_ipv4),
            Ty::Ipv6 => self.format(path, v, "an IPv6 address or CIDR block", "ip-format", formats::is_ipv6),
            Ty::MacAddr => {
                self.format(path, v, "a lower-case, colon-separated MAC-48 address", "mac-format", formats::is_mac)
            }
            Ty::EmailAddr => self.format(path, v, "an email address", "email-format", formats::is_email),
            Ty::MediaType => {
                self.format(path, v, "a media type from the IANA registry", "media-type", formats::is_media_type)
            }
            Ty::Charset => {
                self.format(path, v, "a character set from the IANA registry", "charset", formats::is_charset)
            }
            Ty::Cpe => self.format(path, v, "a CPE 2.3 formatted string", "cpe-format", formats::is_cpe23),
            Ty::Lang => self.format(path, v, "an RFC 5646 language tag", "language-code", formats::is_language_tag),
            Ty::SoftwareLang => {
                self.format(path, v, "an ISO 639-2 language code", "language-code", formats::is_iso_639_2)
            }
            Ty::RegistryKey => {
                if let Some(s) = self.want_str(path, v, "a registry key") {
                    if !formats::is_full_registry_key(s) {
                        let m = "the hive must be spelled out (HKEY_LOCAL_MACHINE, not HKLM)".into();
                        self.error(path, "registry-key-hive", m);
                    }
                }
            }
            Ty::RelationshipType => {
                let what = "a relationship type of a-z, 0-9 and -";
                self.format(path, v, what, "relationship-type-format", formats::is_relationship_type);
            }
            Ty::Object => {
                if !v.is_object() {
                    self.error(path, "value-type", format!("must be an object, not {}", describe(v)));
                }
            }
            Ty::Extensions => self.extensions(path, v),
            Ty::Selector => self.selector(path, v),
        }
    }

    fn structure(&mut self, path: &Path, spec: &'static ObjSpec, map: &'o Map<String, Value>) {
        for prop in spec.props {
            if let Some(v) = map.get(prop.name) {
                self.value(&path.key(prop.name), prop, v);
            }
        }
        self.required(path, map, spec.required);
        self.rules(path, map, spec.rules);
    }

    fn reference(&mut self, path: &Path, s: &str, targets: Targets) {
        if self.local.is_some() {
            // Inside observed-data `objects`, references are keys (checked by ObservedObjects).
            return;
        }
        match check_identifier(s, self.version) {
            Err((rule, m)) => self.error(path, rule, m),
            Ok(t) => {
                if !allows(targets, t) {
                    let m = format!("must reference {}, not {t}", describe_targets(targets));
                    self.error(path, "ref-target-type", m);
                }
            }
        }
    }

    fn hashes(&mut self, path: &Path, v: &'o Value) {
        let Some(map) = v.as_object() else {
            self.error(path, "value-type", format!("must be a dictionary of hashes, not {}", describe(v)));
            return;
        };
        if map.is_empty() {
            self.error(path, "empty-dictionary", "must hold at least one hash; omit the property instead".into());
        }
        for (k, h) in map {
            let hp = path.key(k);
            if !formats::is_hash_key(k) {
                let m = "hash algorithm names must be 3 to 250 characters of a-z, A-Z, 0-9, - and _".into();
                self.error(&hp, "hash-key", m);
            }
            let Some(hs) = self.want_str(&hp, h, "a hash value string") else {
                continue;
            };
            match formats::check_hash_value(k, hs) {
                Some((false, expected)) => {
                    self.error(&hp, "hash-value", format!("is not a valid {k} hash: expected {expected}"))
                }
                Some((true, _)) => {}
                None if !k.starts_with("x_") => {
                    let m = format!(
                        "'{k}' is not in the hash-algorithm-ov vocabulary (MD5, SHA-1, SHA-256, SHA-512, SHA3-256, \
                         SHA3-512, SSDEEP, TLSH); custom algorithm names should start with x_"
                    );
                    self.warn(&hp, "vocabulary", m);
                }
                None => {}
            }
        }
    }

    fn dictionary(&mut self, path: &Path, v: &'o Value, vals: DictVals) {
        let Some(map) = v.as_object() else {
            self.error(path, "value-type", format!("must be a dictionary, not {}", describe(v)));
            return;
        };
        if map.is_empty() {
            self.error(path, "empty-dictionary", "must not be an empty dictionary; omit the property instead".into());
        }
        for (k, x) in map {
            let kp = path.key(k);
            if !formats::is_dictionary_key(k) {
                let m = "dictionary keys must be at most 250 characters of a-z, A-Z, 0-9, - and _".into();
                self.error(&kp, "dictionary-key", m);
            }
            let ok = match (vals, x) {
                (_, Value::Null) => {
                    self.error(&kp, "null-value", "must not be null".into());
                    continue;
                }
                (_, Value::Array(a)) if a.is_empty() => {
                    self.error(&kp, "empty-list", "must not be an empty list".into());
                    continue;
                }
                (DictVals::Any, _) => true,
                (DictVals::Str, x) => x.is_string(),
                (DictVals::StrOrInt, x) => x.is_string() || as_integer(x).is_some(),
                (DictVals::StrOrStrList, Value::Array(a)) => a.iter().all(Value::is_string),
                (DictVals::StrOrStrList, x) => x.is_string(),
                (DictVals::Int, x) => as_integer(x).is_some(),
            };
            if !ok {
                let want = match vals {
                    DictVals::Str => "a string",
                    DictVals::StrOrInt => "a string or an integer",
                    DictVals::StrOrStrList => "a string or a list of strings",
                    _ => "an integer",
                };
                self.error(&kp, "value-type", format!("must be {want}, not {}", describe(x)));
            }
        }
    }

    fn extensions(&mut self, path: &Path, v: &'o Value) {
        let Some(map) = v.as_object() else {
            self.error(path, "value-type", format!("must be a dictionary of extensions, not {}", describe(v)));
            return;
        };
        if map.is_empty() {
            self.error(path, "empty-dictionary", "must not be an empty dictionary; omit the property instead".into());
        }
        for (k, e) in map {
            let ep = path.key(k);
            let predefined = self.exts.iter().copied().find(|s| s.name == k);
            let is_def = k.starts_with("extension-definition--");
            if is_def {
                if let Err((_, m)) = check_identifier(k, SpecVersion::V21) {
                    self.error(&ep, "extension-name", m);
                }
            } else if predefined.is_none() && !is_extension_name(k) {
                let m = "extension keys must be the id of an extension-definition or the name of a predefined \
                         extension (ending in -ext)"
                    .into();
                self.error(&ep, "extension-name", m);
            }
            let Some(body) = e.as_object() else {
                self.error(&ep, "value-type", format!("an extension must be an object, not {}", describe(e)));
                continue;
            };
            if body.is_empty() {
                self.error(&ep, "empty-dictionary", "an extension must have at least one property".into());
            }
            let spec = match predefined {
                Some(spec) => spec,
                None if is_def => &spec::EXTENSION_INSTANCE,
                None => {
                    let m = format!(
                        "'{k}' is not a predefined extension; custom extensions should be defined with an \
                         extension-definition"
                    );
                    self.warn(&ep, "custom-extension", m);
                    &spec::EXTENSION_INSTANCE_CUSTOM
                }
            };
            self.structure(&ep, spec, body);
            for (pk, pv) in body {
                if spec.prop(pk).is_some() {
                    continue;
                }
                let pp = ep.key(pk);
                if !formats::is_property_name(pk) {
                    self.error(&pp, "property-name", property_name_rule(self.version).into());
                }
                self.custom_value(&pp, pk, pv);
            }
        }
    }

    fn selector(&mut self, path: &Path, v: &'o Value) {
        let Some(s) = self.want_str(path, v, "a selector string") else {
            return;
        };
        if !formats::is_selector_syntax(s) {
            let m = format!("'{s}' is not a selector (property names and .[index] steps separated by dots)");
            self.error(path, "selector", m);
            return;
        }
        let mut cur = self.root;
        for seg in s.split('.') {
            let next = match seg.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
                Some(i) => i.parse::<usize>().ok().and_then(|i| cur.as_array()?.get(i)),
                None => cur.as_object().and_then(|m| m.get(seg)),
            };
            match next {
                Some(n) => cur = n,
                None => {
                    let m = format!("'{s}' does not select anything in this object ('{seg}' is not present)");
                    self.error(path, "selector", m);
                    return;
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Irregular rules
    // -----------------------------------------------------------------------------------

    fn special(&mut self, s: Special, path: &Path, map: &'o Map<String, Value>) {
        match s {
            Special::ExternalId => self.external_id(path, map),
            Special::MarkingDefinition => self.marking_definition(map),
            Special::ExtensionProperties => {
                let toplevel = map
                    .get("extension_types")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| x == "toplevel-property-extension"));
                if map.contains_key("extension_properties") && !toplevel {
                    let m = "only allowed when extension_types includes toplevel-property-extension".into();
                    self.error(&path.key("extension_properties"), "dependency", m);
                }
            }
            Special::LanguageContents => self.language_contents(path, map),
            Special::ObservedObjects => self.observed_objects(path, map),
            Special::Pattern => self.pattern(path, map),
        }
    }

    /// A STIX pattern must be in the grammar and pass the reference checks (`cairn-pattern`).
    /// Which grammar: 2.0 objects use 2.0; a 2.1 indicator its `pattern_version`, else
    /// `spec_version`, as stix2-validator does. Other `pattern_type`s are opaque.
    fn pattern(&mut self, path: &Path, map: &Map<String, Value>) {
        let Some(pattern) = str_prop(map, "pattern") else { return };
        let version = match self.version {
            SpecVersion::V20 => cairn_pattern::Version::V20,
            SpecVersion::V21 if str_prop(map, "pattern_type") != Some("stix") => {
                // Sigma and YARA rules are checked by their own parsers; other languages
                // pass untouched (`cairn-rules`).
                let pattern_type = str_prop(map, "pattern_type").unwrap_or("");
                if let Err(e) = cairn_rules::check(pattern_type, pattern) {
                    self.error(&path.key("pattern"), "pattern", format!("is not a valid {pattern_type} rule: {e}"));
                }
                return;
            }
            SpecVersion::V21 => cairn_pattern::Version::from_reference_str(
                str_prop(map, "pattern_version").or_else(|| str_prop(map, "spec_version")).unwrap_or("2.1"),
            ),
        };
        let pp = path.key("pattern");
        let parsed = match cairn_pattern::validate(pattern, version) {
            Ok(p) => p,
            Err(errors) => {
                for e in errors {
                    self.error(&pp, "pattern", format!("is not a valid STIX pattern: {e}"));
                }
                return;
            }
        };
        // What the pattern names must be nameable: object types follow the type-name
        // rules, and properties outside the SCO's table the property-name rules.
        // EXISTS tests are left out, as the reference's inspector leaves them out.
        for c in parsed.comparisons().filter(|c| !matches!(c.op, cairn_pattern::ComparisonOp::Exists)) {
            let (t, prop) = (c.path.object_type.as_str(), c.path.property.as_str());
            let sco = spec::spec_21(t).filter(|_| Category::of(t) == Category::Sco);
            if sco.is_none() {
                if let Err(e) = ident::check_type_name(t) {
                    self.error(&pp, "pattern", format!("names an invalid object type: {e}"));
                }
            }
            let known = matches!(prop, "id" | "type" | "spec_version")
                || spec::COMMON_SCO_21.iter().any(|p| p.name == prop)
                || sco.is_some_and(|s| s.prop(prop).is_some());
            if !known && !formats::is_property_name_20(prop) {
                let m = format!("names an invalid property '{prop}' (3 to 250 characters of a-z, 0-9 and _)");
                self.error(&pp, "pattern", m);
            }
        }
    }

    fn external_id(&mut self, path: &Path, map: &Map<String, Value>) {
        let Some(source) = str_prop(map, "source_name") else {
            return;
        };
        let (prefix, example): (&str, &str) = match source {
            "cve" => ("CVE-", "CVE-2021-44228"),
            "capec" => ("CAPEC-", "CAPEC-66"),
            _ => return,
        };
        let ok = str_prop(map, "external_id").is_some_and(|id| {
            let Some(rest) = id.strip_prefix(prefix) else {
                return false;
            };
            if source == "capec" {
                return !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit());
            }
            let Some((year, num)) = rest.split_once('-') else {
                return false;
            };
            year.len() == 4
                && year.bytes().all(|c| c.is_ascii_digit())
                && num.len() >= 4
                && num.bytes().all(|c| c.is_ascii_digit())
                && !(num.len() > 4 && num.starts_with('0'))
        });
        if !ok {
            let m = format!("an external reference with source_name '{source}' needs an external_id like {example}");
            self.error(&path.key("external_id"), "external-id-format", m);
        }
    }

    fn marking_definition(&mut self, map: &'o Map<String, Value>) {
        let root = Path::ROOT;
        let v21 = self.version == SpecVersion::V21;
        let own_id = str_prop(map, "id");
        if v21 && !map.contains_key("extensions") {
            self.required(&root, map, &["definition_type", "definition"]);
        }
        let def = map.get("definition").and_then(Value::as_object);
        match str_prop(map, "definition_type") {
            Some("tlp") => {
                let tlp = def.and_then(|d| str_prop(d, "tlp"));
                let entry = spec::TLP_MARKINGS.iter().find(|(id, ..)| Some(*id) == own_id);
                let allowed: &[&str] = if v21 {
                    &["type", "spec_version", "id", "created", "definition_type", "definition", "name"]
                } else {
                    &["type", "id", "created", "definition_type", "definition"]
                };
                let ok = entry.is_some_and(|(_, name, colour)| {
                    tlp == Some(*colour)
                        && def.is_some_and(|d| d.len() == 1)
                        && str_prop(map, "created") == Some(spec::TLP_CREATED)
                        && (!v21 || str_prop(map, "name") == Some(*name))
                        && map.keys().all(|k| allowed.contains(&k.as_str()))
                });
                if !ok {
                    let m = "a TLP marking-definition must be exactly one of the four TLP objects the specification \
                             defines (TLP Marking), with their fixed ids, names and created timestamp"
                        .into();
                    self.error(&root.key("definition"), "tlp-marking", m);
                }
            }
            Some("statement") if def.is_some_and(|d| !d.get("statement").is_some_and(Value::is_string)) => {
                let m = "a statement marking's definition must have a statement string".into();
                self.error(&root.key("definition").key("statement"), "required", m);
            }
            Some("statement") => {}
            Some(other) => {
                let m = format!(
                    "'{other}' is not tlp or statement; custom markings should be defined with an extension-definition"
                );
                self.warn(&root.key("definition_type"), "marking-definition-type", m);
            }
            None => {}
        }
        // A marking-definition must not mark itself (Object Markings).
        if let Some(id) = own_id {
            if let Some(refs) = map.get("object_marking_refs").and_then(Value::as_array) {
                for (i, r) in refs.iter().enumerate() {
                    if r.as_str() == Some(id) {
                        let m = "a marking-definition must not reference itself".into();
                        self.error(&root.key("object_marking_refs").idx(i), "marking-circular-ref", m);
                    }
                }
            }
            if let Some(gms) = map.get("granular_markings").and_then(Value::as_array) {
                for (i, g) in gms.iter().enumerate() {
                    if g.get("marking_ref").and_then(Value::as_str) == Some(id) {
                        let m = "a marking-definition must not reference itself".into();
                        self.error(&root.key("granular_markings").idx(i).key("marking_ref"), "marking-circular-ref", m);
                    }
                }
            }
        }
    }

    fn language_contents(&mut self, path: &Path, map: &'o Map<String, Value>) {
        let Some(contents) = map.get("contents").and_then(Value::as_object) else {
            return;
        };
        let cp = path.key("contents");
        if contents.is_empty() {
            self.error(&cp, "empty-dictionary", "must not be an empty dictionary".into());
        }
        for (lang, tr) in contents {
            let lp = cp.key(lang);
            if !formats::is_language_tag(lang) {
                self.error(&lp, "language-code", format!("'{lang}' is not an RFC 5646 language tag"));
            }
            let Some(tr) = tr.as_object() else {
                self.error(
                    &lp,
                    "value-type",
                    format!("must be a dictionary of translated properties, not {}", describe(tr)),
                );
                continue;
            };
            for (k, x) in tr {
                let kp = lp.key(k);
                if !formats::is_property_name(k) {
                    let m = "must be the name of a property of the translated object".into();
                    self.error(&kp, "property-name", m);
                }
                self.custom_value(&kp, k, x);
            }
        }
    }

    fn observed_objects(&mut self, path: &Path, map: &'o Map<String, Value>) {
        let Some(objects) = map.get("objects").and_then(Value::as_object) else {
            return;
        };
        let op = path.key("objects");
        if self.version == SpecVersion::V21 {
            let m = "objects is deprecated in STIX 2.1; use object_refs and top-level SCOs".into();
            self.warn(&op, "deprecated", m);
        }
        if objects.is_empty() {
            self.error(&op, "empty-dictionary", "must hold at least one observable".into());
        }
        let saved = (self.local, self.exts);
        self.local = Some(objects);
        for (key, o) in objects {
            let kp = op.key(key);
            let Some(o) = o.as_object() else {
                self.error(&kp, "value-type", format!("must be a cyber-observable object, not {}", describe(o)));
                continue;
            };
            let t = match o.get("type") {
                Some(Value::String(t)) => t.as_str(),
                _ => {
                    self.error(&kp.key("type"), "required", "an observable must have a type string".into());
                    continue;
                }
            };
            if let Err(e) = ident::check_type_name(t) {
                self.error(&kp.key("type"), "type-name", e);
            }
            if let Some(id) = o.get("id") {
                match id.as_str().map(|id| check_identifier(id, self.version)) {
                    Some(Ok(id_type)) if id_type == t => {}
                    Some(Ok(id_type)) => {
                        let m = format!("the type part '{id_type}' must match the observable's type '{t}'");
                        self.error(&kp.key("id"), "id-type-mismatch", m);
                    }
                    Some(Err((rule, m))) => self.error(&kp.key("id"), rule, m),
                    None => self.error(&kp.key("id"), "value-type", "must be an identifier string".into()),
                }
            }
            let spec = spec::spec_21(t).filter(|_| Category::of(t) == Category::Sco);
            self.exts = spec.map_or(&[], |s| s.extensions);
            for prop in spec.into_iter().flat_map(|s| s.props).chain(spec::COMMON_SCO_21) {
                if let Some(v) = o.get(prop.name) {
                    self.value(&kp.key(prop.name), prop, v);
                }
            }
            match self.version {
                SpecVersion::V21 => {
                    if !o.contains_key("id") {
                        self.error(&kp.key("id"), "required", "required property is missing".into());
                    }
                    if let Some(s) = spec {
                        self.required(&kp, o, s.required);
                        self.rules(&kp, o, s.rules);
                    }
                }
                SpecVersion::V20 => {
                    let req = spec::SCO_REQUIRED_20.iter().find(|(n, _)| *n == t).map_or(&[][..], |(_, r)| r);
                    self.required(&kp, o, req);
                }
            }
            // References between observables are keys of `objects`.
            for (_, prop, allowed) in spec::OBSERVABLE_REFS.iter().filter(|(st, ..)| *st == t) {
                let Some(v) = o.get(*prop) else { continue };
                let pp = kp.key(prop);
                let one = std::slice::from_ref(v);
                let items = v.as_array().map_or(one, Vec::as_slice);
                for (i, r) in items.iter().enumerate() {
                    let rp = if v.is_array() { pp.idx(i) } else { pp };
                    let Some(r) = r.as_str() else { continue };
                    match objects.get(r).and_then(|x| x.get("type")).and_then(Value::as_str) {
                        None if !objects.contains_key(r) => {
                            let m = format!("'{r}' is not a key of this observed-data's objects");
                            self.error(&rp, "ref-unresolved", m);
                        }
                        Some(rt) if !allowed.contains(&rt) => {
                            let m = format!("must reference {}, not {rt}", list_names(allowed));
                            self.error(&rp, "ref-target-type", m);
                        }
                        _ => {}
                    }
                }
            }
        }
        (self.local, self.exts) = saved;
    }
}

fn property_name_rule(v: SpecVersion) -> &'static str {
    match v {
        SpecVersion::V21 => "property names must be 3 to 250 characters of a-z, 0-9 and _, starting with a letter",
        SpecVersion::V20 => "property names must be 3 to 250 characters of a-z, 0-9 and _",
    }
}

/// Whether an object of this type may lawfully carry none of its ID contributing
/// properties (so that it must then use a UUIDv4).
fn contributing_optional(spec: &ObjSpec) -> bool {
    let contributing = |n: &&str| spec.id_contributing.contains(n);
    !spec.required.iter().any(contributing)
        && !spec.rules.iter().any(|r| matches!(r, Rule::AtLeastOne(names) if names.iter().all(contributing)))
}

fn suggest(voc: &Vocab) -> String {
    if voc.values.len() <= 12 {
        format!(" (expected one of {})", list_names(voc.values))
    } else {
        String::new()
    }
}

/// A predefined-style extension name: `[a-z][a-z0-9]*(-[a-z0-9]+)*-ext`.
fn is_extension_name(k: &str) -> bool {
    let Some(stem) = k.strip_suffix("-ext") else {
        return false;
    };
    !stem.is_empty()
        && stem.as_bytes()[0].is_ascii_lowercase()
        && stem.split('-').all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
