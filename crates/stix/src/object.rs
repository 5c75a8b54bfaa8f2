//! What the rest of Cairn needs to know about any STIX object without a struct per type:
//! its id, type, category, spec version and version key.

use serde_json::Value;

use crate::spec;
use crate::timestamp::Timestamp;

/// The families of top-level STIX objects. Validation rules and versioning differ by family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// STIX Domain Object (indicator, malware, …).
    Sdo,
    /// STIX Relationship Object (relationship, sighting).
    Sro,
    /// STIX Cyber-observable Object (ipv4-addr, file, …). Not versioned.
    Sco,
    /// marking-definition: immutable once published.
    MarkingDefinition,
    LanguageContent,
    ExtensionDefinition,
    Bundle,
    /// A type the spec does not define (custom objects, `x-…`).
    Custom,
}

impl Category {
    pub fn of(stix_type: &str) -> Category {
        spec::category(stix_type)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sdo => "sdo",
            Category::Sro => "sro",
            Category::Sco => "sco",
            Category::MarkingDefinition => "marking-definition",
            Category::LanguageContent => "language-content",
            Category::ExtensionDefinition => "extension-definition",
            Category::Bundle => "bundle",
            Category::Custom => "custom",
        }
    }
}

/// The STIX specification version an object was written against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecVersion {
    V20,
    V21,
}

impl SpecVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V20 => "2.0",
            SpecVersion::V21 => "2.1",
        }
    }

    pub fn parse(s: &str) -> Option<SpecVersion> {
        match s {
            "2.0" => Some(SpecVersion::V20),
            "2.1" => Some(SpecVersion::V21),
            _ => None,
        }
    }

    /// The spec version of `obj`: its `spec_version` when present; otherwise `default`
    /// (the enclosing bundle's version), otherwise 2.0 for objects with `created` (2.1 makes
    /// `spec_version` required on those, so its absence means 2.0) and 2.1 for SCOs.
    pub fn of(obj: &Value, default: Option<SpecVersion>) -> SpecVersion {
        if let Some(v) = obj.get("spec_version").and_then(Value::as_str).and_then(SpecVersion::parse) {
            return v;
        }
        if let Some(d) = default {
            return d;
        }
        let t = obj.get("type").and_then(Value::as_str).unwrap_or("");
        if Category::of(t) == Category::Sco || obj.get("created").is_none() {
            SpecVersion::V21
        } else {
            SpecVersion::V20
        }
    }
}

/// The identity and version of one STIX object, read from its JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    pub id: String,
    pub stix_type: String,
    pub category: Category,
    pub spec_version: SpecVersion,
    /// `modified` (or, for objects that have no `modified` such as marking-definitions,
    /// `created`). `None` for unversioned objects (SCOs).
    pub version: Option<Timestamp>,
    pub revoked: bool,
}

impl ObjectMeta {
    /// Reads the identity of `obj`. Fails only when there is no usable `id`/`type`, or the
    /// version timestamp is malformed: everything else is the validator's business.
    pub fn from_value(obj: &Value, default: Option<SpecVersion>) -> Result<ObjectMeta, String> {
        let Some(map) = obj.as_object() else {
            return Err("not a JSON object".into());
        };
        let stix_type = match map.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("type: must be a string".into()),
            None => return Err("type: required property is missing".into()),
        };
        let id = match map.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("id: must be a string".into()),
            None => return Err("id: required property is missing".into()),
        };
        let category = Category::of(&stix_type);
        let version_prop = if map.contains_key("modified") { "modified" } else { "created" };
        let version = match (category, map.get(version_prop)) {
            (Category::Sco, _) | (_, None) => None,
            (_, Some(Value::String(s))) => Some(Timestamp::parse(s).map_err(|e| format!("{version_prop}: {e}"))?),
            (_, Some(_)) => return Err(format!("{version_prop}: must be a timestamp string")),
        };
        Ok(ObjectMeta {
            spec_version: SpecVersion::of(obj, default),
            revoked: map.get("revoked").and_then(Value::as_bool).unwrap_or(false),
            id,
            stix_type,
            category,
            version,
        })
    }
}
