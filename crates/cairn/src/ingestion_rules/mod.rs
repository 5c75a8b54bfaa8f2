//! Ingestion rules: the curation step of the pipeline, between validation and the store.
//!
//! A rule is a name, an object type (or every type), a condition (`cairn-condition`), one
//! action — **delete** (drop the object from the pipeline; what is stored stays) or
//! **edit** (extend or set `valid_until`, add/remove tags, set confidence or TLP, revoke)
//! — an order and an enabled flag. Rules run from the lowest order up; edits chain (a
//! later rule sees earlier edits) and a delete stops the run. Rules never touch
//! `modified`: the object stays the version its producer made.
//!
//! Key design decision: the rule set is versioned as a whole and stored in the store,
//! each version kept (`ingestion-ruleset/v{n}`) with a tiny head document naming the
//! newest. Every stored version records the rule-set version that processed it and the
//! rules that changed it, and the pipeline re-reads only the head per batch, so a rule
//! saved by the CLI or the API is in force for the next batch of every process — not 15
//! minutes later, as in Sentinel.

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use cairn_condition::{tlp_marking_id, Condition, ObservableCache, Subject};
use cairn_stix::Category;
use cairn_store::{Filter, Source, SourceKind, Store, VersionSelect};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const SET_KIND: &str = "ingestion-ruleset";
const HEAD_KIND: &str = "ingestion-ruleset-head";
const HEAD_ID: &str = "current";

/// The source kinds a rule may be set to act on. Sentinel documents data connectors only;
/// the others are opt-in per rule. Objects created in Cairn itself and Cairn's own
/// detections are never curated by rules.
pub const CURATED_KINDS: &[SourceKind] =
    &[SourceKind::Connector, SourceKind::Upload, SourceKind::File, SourceKind::Taxii];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestionRule {
    /// Assigned when the rule is added.
    #[serde(default)]
    pub id: String,
    pub name: String,
    /// A STIX type, or `*` for every type.
    #[serde(default = "every_type")]
    pub object_type: String,
    /// Which objects the action applies to; absent = every object of the type.
    #[serde(default = "Condition::always")]
    pub condition: Condition,
    pub action: Action,
    /// Lower runs first. Absent when adding: after every existing rule.
    #[serde(default)]
    pub order: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Source kinds (`connector`, `upload`, `file`, `taxii`) whose objects the rule acts on.
    #[serde(default = "connectors_only")]
    pub applies_to: Vec<String>,
}

fn every_type() -> String {
    "*".into()
}
fn yes() -> bool {
    true
}
fn connectors_only() -> Vec<String> {
    vec!["connector".into()]
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Drop the object from the pipeline; earlier stored versions are untouched.
    Delete,
    Edit(Edit),
}

/// One or more edits, applied in the order written here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Move `valid_until` later by this many days (indicators that have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_valid_until_days: Option<u32>,
    /// Set `valid_until` (indicators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_confidence: Option<u8>,
    /// A TLP level (`white`, `green`, `amber`, `red`, `clear`, `amber+strict`): replaces
    /// any TLP marking in `object_marking_refs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_tlp: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoke: bool,
}

impl IngestionRule {
    /// Checks what deserialising cannot: the error says which part to fix.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: a rule needs a name (it is how rules are told apart)".into());
        }
        if self.object_type != "*" && cairn_stix::ident::check_type_name(&self.object_type).is_err() {
            return Err(format!(
                "object_type: '{}' is not a STIX type name; use e.g. indicator, or * for every type",
                self.object_type
            ));
        }
        if self.applies_to.is_empty() {
            return Err("applies_to: name at least one of connector, upload, file, taxii".into());
        }
        for k in &self.applies_to {
            if !SourceKind::parse(k).is_some_and(|k| CURATED_KINDS.contains(&k)) {
                return Err(format!("applies_to: '{k}' is not one of connector, upload, file, taxii"));
            }
        }
        if let Action::Edit(e) = &self.action {
            e.check(&self.object_type).map_err(|m| format!("action.edit: {m}"))?;
        }
        Ok(())
    }

    fn applies(&self, source: &Source, stix_type: &str) -> bool {
        self.enabled
            && (self.object_type == "*" || self.object_type == stix_type)
            && self.applies_to.iter().any(|k| k == source.kind.as_str())
    }
}

impl Edit {
    fn check(&self, object_type: &str) -> Result<(), String> {
        if *self == Edit::default() {
            return Err("name at least one edit: extend_valid_until_days, set_valid_until, add_tags, remove_tags, set_confidence, set_tlp or revoke".into());
        }
        let valid_until = self.extend_valid_until_days.is_some() || self.set_valid_until.is_some();
        if valid_until && !matches!(object_type, "*" | "indicator") {
            return Err(format!("valid_until exists only on indicators, and this rule is for {object_type}"));
        }
        if self.extend_valid_until_days == Some(0) {
            return Err("extend_valid_until_days: extend by at least one day".into());
        }
        if let Some(t) = &self.set_valid_until {
            cairn_condition::parse_time(t).map_err(|m| format!("set_valid_until: {m}"))?;
        }
        if self.set_confidence.is_some_and(|c| c > 100) {
            return Err("set_confidence: confidence is 0 to 100".into());
        }
        if let Some(l) = &self.set_tlp {
            if tlp_marking_id(l).is_none() {
                return Err(format!(
                    "set_tlp: '{l}' is not a TLP level; use white, clear, green, amber, amber+strict or red"
                ));
            }
        }
        if self.add_tags.iter().chain(&self.remove_tags).any(|t| t.trim().is_empty()) {
            return Err("tags: a tag is non-empty text".into());
        }
        Ok(())
    }

    /// Applies the edits; returns whether the object changed. Only SDOs and SROs (objects
    /// with versions) are edited.
    pub fn apply(&self, obj: &mut Value) -> bool {
        let Some(m) = obj.as_object_mut() else { return false };
        // Each edit says whether it changed something, so no copy of the object is needed.
        let mut changed = false;
        let mut set = |m: &mut serde_json::Map<String, Value>, k: &str, v: Option<Value>| {
            if m.get(k) != v.as_ref() {
                changed = true;
                match v {
                    Some(v) => m.insert(k.to_string(), v),
                    None => m.remove(k),
                };
            }
        };
        if m.get("type").and_then(Value::as_str) == Some("indicator") {
            if let Some(days) = self.extend_valid_until_days {
                let until =
                    m.get("valid_until").and_then(Value::as_str).and_then(|t| cairn_stix::Timestamp::parse(t).ok());
                if let Some(t) = until {
                    let later = t.unix_micros().saturating_add(i64::from(days) * 86_400_000_000);
                    set(m, "valid_until", Some(json!(stix_time(later))));
                }
            }
            if let Some(at) = self.set_valid_until.as_deref().and_then(|t| cairn_condition::parse_time(t).ok()) {
                let same = m
                    .get("valid_until")
                    .and_then(Value::as_str)
                    .and_then(|t| cairn_stix::Timestamp::parse(t).ok())
                    .is_some_and(|t| t.unix_micros() == at);
                if !same {
                    set(m, "valid_until", Some(json!(stix_time(at))));
                }
            }
        }
        if !self.add_tags.is_empty() || !self.remove_tags.is_empty() {
            let mut labels: Vec<Value> = m.get("labels").and_then(Value::as_array).cloned().unwrap_or_default();
            labels.retain(|l| !l.as_str().is_some_and(|l| self.remove_tags.iter().any(|r| r.eq_ignore_ascii_case(l))));
            for t in &self.add_tags {
                if !labels.iter().any(|l| l.as_str().is_some_and(|l| l.eq_ignore_ascii_case(t))) {
                    labels.push(json!(t));
                }
            }
            // STIX forbids empty lists: an object whose last tag is removed has no labels.
            set(m, "labels", (!labels.is_empty()).then_some(Value::Array(labels)));
        }
        if let Some(c) = self.set_confidence {
            set(m, "confidence", Some(json!(c)));
        }
        if let Some(id) = self.set_tlp.as_deref().and_then(tlp_marking_id) {
            let mut refs: Vec<Value> =
                m.get("object_marking_refs").and_then(Value::as_array).cloned().unwrap_or_default();
            let mine = refs.iter().filter_map(Value::as_str).filter(|r| cairn_condition::tlp_level_of(r).is_some());
            if mine.collect::<Vec<_>>() != [id] {
                refs.retain(|r| r.as_str().is_none_or(|r| cairn_condition::tlp_level_of(r).is_none()));
                refs.push(json!(id));
                set(m, "object_marking_refs", Some(Value::Array(refs)));
            }
        }
        if self.revoke {
            set(m, "revoked", Some(json!(true)));
        }
        changed
    }
}

/// A STIX timestamp with millisecond precision.
fn stix_time(micros: i64) -> String {
    cairn_stix::Timestamp::from_unix_micros(micros - micros.rem_euclid(1000)).format_digits(3)
}

/// The rules in force, in running order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RuleSet {
    /// 0 until the first rule is saved.
    pub version: i64,
    /// Sorted by `order`.
    pub rules: Vec<IngestionRule>,
    /// Where conditions on `enrichment.*` get an incoming object's facts.
    #[serde(skip)]
    pub facts: FactSource,
}

/// Computes an incoming object's enrichment facts (GeoIP, and WhoIs from the cache, never
/// the network) for rule conditions on `enrichment.*`. Without one, those fields are
/// absent. Called only for objects a rule with such a condition looks at.
#[derive(Clone, Default)]
pub struct FactSource(Option<Arc<FactFn>>);

type FactFn = dyn Fn(&Value) -> Option<Value> + Send + Sync;

impl FactSource {
    pub fn new(f: impl Fn(&Value) -> Option<Value> + Send + Sync + 'static) -> FactSource {
        FactSource(Some(Arc::new(f)))
    }
}

impl std::fmt::Debug for FactSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "FactSource(set)" } else { "FactSource(none)" })
    }
}

/// What the rules decided about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Store it; these rules changed it (ids, in running order).
    Keep { changed_by: Vec<String> },
    /// A delete rule dropped it.
    Drop { rule: String },
}

impl RuleSet {
    /// No rules.
    pub fn empty() -> RuleSet {
        RuleSet::default()
    }

    /// The version to stamp on stored versions (`None` before any rule was saved).
    pub fn stamp(&self) -> Option<i64> {
        (self.version > 0).then_some(self.version)
    }

    /// Whether any rule could act on objects from this source.
    pub fn acts_on(&self, source: &Source) -> bool {
        self.rules.iter().any(|r| r.enabled && r.applies_to.iter().any(|k| k == source.kind.as_str()))
    }

    /// Runs the rules over `obj` in order, editing it in place.
    pub fn apply(&self, obj: &mut Value, category: Category, source: &Source, now: i64) -> Decision {
        let mut changed_by = Vec::new();
        let Some(stix_type) = obj.get("type").and_then(Value::as_str).map(str::to_string) else {
            return Decision::Keep { changed_by };
        };
        let editable = matches!(category, Category::Sdo | Category::Sro);
        // Edits never change the pattern, so its observables are parsed once per object.
        let observables = ObservableCache::new();
        let facts: std::cell::OnceCell<Option<Value>> = std::cell::OnceCell::new();
        for rule in self.rules.iter().filter(|r| r.applies(source, &stix_type)) {
            // Edits do not touch what facts derive from (addresses, domains, valid_from),
            // so they are computed once per object, and only when a rule asks for them.
            let f = match &self.facts.0 {
                Some(get) if rule.condition.uses_enrichment() => facts.get_or_init(|| get(obj)).as_ref(),
                _ => None,
            };
            let subject = Subject::with_cache(obj, &source.name, now, &observables).with_enrichment(f);
            if !rule.condition.holds(&subject) {
                continue;
            }
            match &rule.action {
                Action::Delete => return Decision::Drop { rule: rule.id.clone() },
                Action::Edit(e) => {
                    if editable && e.apply(obj) {
                        changed_by.push(rule.id.clone());
                    }
                }
            }
        }
        Decision::Keep { changed_by }
    }

    pub fn find(&self, id_or_name: &str) -> Option<&IngestionRule> {
        self.rules.iter().find(|r| r.id == id_or_name).or_else(|| self.rules.iter().find(|r| r.name == id_or_name))
    }
}

/// The rule set as stored: the newest version.
pub fn load(store: &dyn Store) -> Result<RuleSet, String> {
    let Some(head) = head_version(store)? else { return Ok(RuleSet::empty()) };
    load_version(store, head)?.ok_or_else(|| format!("rule set version {head} is missing from the store"))
}

/// A past (or the current) version of the rule set.
pub fn load_version(store: &dyn Store, version: i64) -> Result<Option<RuleSet>, String> {
    let Some(doc) = store.doc(SET_KIND, &format!("v{version}")).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    serde_json::from_str(&doc).map(Some).map_err(|e| format!("stored rule set v{version} is unreadable: {e}"))
}

fn head_version(store: &dyn Store) -> Result<Option<i64>, String> {
    let Some(doc) = store.doc(HEAD_KIND, HEAD_ID).map_err(|e| e.to_string())? else { return Ok(None) };
    let v: Value = serde_json::from_str(&doc).map_err(|e| format!("rule set head is unreadable: {e}"))?;
    Ok(v.get("version").and_then(Value::as_i64))
}

/// Changes the rule set: `change` edits the list, and the result is saved as a new
/// version (rules re-sorted by order). Returns what `change` returned and the new set.
pub fn update<T>(
    store: &dyn Store,
    change: impl FnOnce(&mut Vec<IngestionRule>) -> Result<T, String>,
) -> Result<(T, RuleSet), String> {
    let mut set = load(store)?;
    let out = change(&mut set.rules)?;
    for r in &set.rules {
        r.check().map_err(|m| format!("rule '{}': {m}", r.name))?;
    }
    let mut ids = std::collections::HashSet::new();
    for r in &set.rules {
        if !ids.insert(r.id.as_str()) {
            return Err(format!("two rules have the id {}", r.id));
        }
    }
    set.rules.sort_by_key(|r| r.order.unwrap_or(i64::MAX));
    set.version += 1;
    let doc = serde_json::to_string(&set).expect("rules serialise");
    // The version document first, then the head: a reader never sees a head without its set.
    store.put_doc(SET_KIND, &format!("v{}", set.version), &doc).map_err(|e| e.to_string())?;
    store.put_doc(HEAD_KIND, HEAD_ID, &json!({"version": set.version}).to_string()).map_err(|e| e.to_string())?;
    Ok((out, set))
}

/// Adds a rule (id assigned; order defaulting to after the last rule). Returns it as saved.
pub fn add(store: &dyn Store, mut rule: IngestionRule) -> Result<(IngestionRule, RuleSet), String> {
    rule.check()?;
    update(store, move |rules| {
        if rule.id.is_empty() {
            rule.id = uuid::Uuid::new_v4().to_string();
        }
        if rules.iter().any(|r| r.name == rule.name) {
            return Err(format!("a rule named '{}' exists; names tell rules apart, so choose another", rule.name));
        }
        if rule.order.is_none() {
            rule.order = Some(rules.iter().filter_map(|r| r.order).max().map_or(10, |m| m + 10));
        }
        rules.push(rule.clone());
        Ok(rule)
    })
}

/// Changes one rule, found by id or name.
pub fn modify(
    store: &dyn Store,
    id_or_name: &str,
    change: impl FnOnce(&mut IngestionRule) -> Result<(), String>,
) -> Result<(IngestionRule, RuleSet), String> {
    update(store, |rules| {
        let at = position(rules, id_or_name)?;
        let id = rules[at].id.clone();
        change(&mut rules[at])?;
        rules[at].id = id;
        if rules[at].order.is_none() {
            rules[at].order = Some(0);
        }
        Ok(rules[at].clone())
    })
}

pub fn remove(store: &dyn Store, id_or_name: &str) -> Result<(IngestionRule, RuleSet), String> {
    update(store, |rules| {
        let at = position(rules, id_or_name)?;
        Ok(rules.remove(at))
    })
}

fn position(rules: &[IngestionRule], id_or_name: &str) -> Result<usize, String> {
    rules
        .iter()
        .position(|r| r.id == id_or_name)
        .or_else(|| rules.iter().position(|r| r.name == id_or_name))
        .ok_or_else(|| format!("no ingestion rule with id or name '{id_or_name}'; `cairn rule list` shows them"))
}

/// The pipeline's view of the rule set: re-reads the store's head document per call and
/// the set only when its version moved.
pub struct RuleBook {
    store: Arc<dyn Store>,
    cached: Mutex<Arc<RuleSet>>,
    facts: FactSource,
}

impl RuleBook {
    pub fn new(store: Arc<dyn Store>) -> RuleBook {
        RuleBook::with_facts(store, FactSource::default())
    }

    /// A rule book whose sets get enrichment facts from `facts`.
    pub fn with_facts(store: Arc<dyn Store>, facts: FactSource) -> RuleBook {
        let empty = RuleSet { facts: facts.clone(), ..RuleSet::empty() };
        RuleBook { store, cached: Mutex::new(Arc::new(empty)), facts }
    }

    /// The rules in force now. A store error keeps the last good set in force (and is
    /// logged): a broken rule document must not stop ingestion.
    pub fn current(&self) -> Arc<RuleSet> {
        let cached = self.cached.lock().expect("rule cache").clone();
        match head_version(self.store.as_ref()) {
            Ok(Some(v)) if v != cached.version => match load_version(self.store.as_ref(), v) {
                Ok(Some(set)) => {
                    let set = Arc::new(RuleSet { facts: self.facts.clone(), ..set });
                    *self.cached.lock().expect("rule cache") = set.clone();
                    set
                }
                Ok(None) => cached,
                Err(e) => {
                    tracing::error!("ingestion rules not reloaded: {e}");
                    cached
                }
            },
            Ok(_) => cached,
            Err(e) => {
                tracing::error!("ingestion rules not reloaded: {e}");
                cached
            }
        }
    }
}

/// One object a dry run found.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub id: String,
    #[serde(rename = "type")]
    pub stix_type: String,
    pub name: Option<String>,
    pub source: String,
    /// For edit rules: the properties the rule would change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_change: Vec<String>,
}

/// What a rule would do to the stored objects (current versions of live objects).
#[derive(Clone, Debug, Default, Serialize)]
pub struct DryRun {
    pub scanned: u64,
    pub matched: u64,
    /// For edit rules: how many of the matched objects the edits would change.
    pub would_change: u64,
    pub sample: Vec<Sample>,
}

/// Scans the current version of every stored object the rule's type selects. Source
/// kinds are ignored: a dry run asks what the rule's condition selects among what is
/// stored, whichever way it came in.
pub fn dry_run(store: &dyn Store, rule: &IngestionRule, sample_size: usize) -> Result<DryRun, String> {
    let mut out = DryRun::default();
    let now = cairn_store::now_micros();
    for_each_selected(store, rule, now, &mut |obj, source| {
        out.matched += 1;
        let changes = match &rule.action {
            Action::Edit(e) => {
                let mut edited = obj.clone();
                if e.apply(&mut edited) {
                    out.would_change += 1;
                }
                changed_properties(obj, &edited)
            }
            Action::Delete => Vec::new(),
        };
        if out.sample.len() < sample_size {
            out.sample.push(Sample {
                id: str_of(obj, "id"),
                stix_type: str_of(obj, "type"),
                name: obj.get("name").and_then(Value::as_str).map(str::to_string),
                source: source.to_string(),
                would_change: changes,
            });
        }
        Ok(())
    })
    .map(|scanned| {
        out.scanned = scanned;
        out
    })
}

fn str_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn changed_properties(a: &Value, b: &Value) -> Vec<String> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return Vec::new() };
    let mut keys: Vec<String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
    keys.dedup();
    keys
}

/// Visits the current version of each live object the rule selects; returns how many
/// objects were scanned.
fn for_each_selected(
    store: &dyn Store,
    rule: &IngestionRule,
    now: i64,
    visit: &mut dyn FnMut(&Value, &str) -> Result<(), String>,
) -> Result<u64, String> {
    scan(store, &rule.object_type, &rule.condition, now, visit)
}

/// Visits the current version of each live object of `object_type` (`*`: any) for which
/// `condition` holds, with the name of the source of that version; returns how many
/// objects were scanned.
pub fn scan(
    store: &dyn Store,
    object_type: &str,
    condition: &Condition,
    now: i64,
    visit: &mut dyn FnMut(&Value, &str) -> Result<(), String>,
) -> Result<u64, String> {
    let filter = Filter {
        types: if object_type == "*" { Vec::new() } else { vec![object_type.to_string()] },
        versions: VersionSelect::Current,
        ..Filter::default()
    };
    let mut after = None;
    let mut scanned = 0;
    let uses_facts = condition.uses_enrichment();
    loop {
        let page = store.list(&filter, after, 1000).map_err(|e| e.to_string())?;
        for v in &page.items {
            scanned += 1;
            let obj: Value =
                serde_json::from_str(&v.raw).map_err(|e| format!("{}: stored JSON unreadable: {e}", v.id))?;
            let facts = match uses_facts {
                true => store.enrichment_facts(&v.id).map_err(|e| e.to_string())?,
                false => None,
            };
            if condition.holds(&Subject::new(&obj, &v.source, now).with_enrichment(facts.as_ref())) {
                visit(&obj, &v.source)?;
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(scanned),
        }
    }
}

/// What applying a rule to stored objects did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Applied {
    pub scanned: u64,
    pub matched: u64,
    /// Edit rules: objects given a new version. Delete rules: objects deleted.
    pub changed: u64,
    pub errors: Vec<String>,
}

/// Applies a rule to the stored objects it selects, on request. Unlike in the pipeline, a
/// stored object can only change by a new version: an edit is stored as a new version
/// with a new `modified` (recorded as made by the rule), and a delete writes a tombstone.
/// Both keep the object's history.
pub fn apply_to_stored(
    pipeline: &crate::ingest::Pipeline,
    rule: &IngestionRule,
    actor: &str,
) -> Result<Applied, String> {
    let store = pipeline.store().clone();
    let set = load(store.as_ref())?;
    let now = cairn_store::now_micros();
    let mut out = Applied::default();
    // Collect first: writing while paging would move objects past the cursor.
    let mut selected: Vec<(Value, String)> = Vec::new();
    out.scanned = for_each_selected(store.as_ref(), rule, now, &mut |obj, source| {
        selected.push((obj.clone(), source.to_string()));
        Ok(())
    })?;
    out.matched = selected.len() as u64;
    for (obj, source) in selected {
        let id = str_of(&obj, "id");
        let result = match &rule.action {
            Action::Delete => store
                .delete(&id, &Source::new(SourceKind::Rule, format!("rule:{}", rule.name)))
                .map_err(|e| e.to_string()),
            Action::Edit(e) => {
                let mut edited = obj.clone();
                if !e.apply(&mut edited) {
                    continue;
                }
                crate::curation::store_edit(pipeline, &obj, edited, &source, set.stamp(), vec![rule.id.clone()], actor)
                    .map(|_| true)
            }
        };
        match result {
            Ok(true) => out.changed += 1,
            Ok(false) => {}
            Err(e) => out.errors.push(format!("{id}: {e}")),
        }
    }
    Ok(out)
}
