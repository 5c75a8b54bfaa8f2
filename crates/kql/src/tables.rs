//! The threat-intelligence tables, as Sentinel defines them, built from the store's
//! version history: `ThreatIntelIndicators` (one row per equality comparison of each
//! stored indicator version), `ThreatIntelObjects` (every other object's versions), and
//! the derived `ThreatIntelligenceIndicator` (legacy) and `ThreatIntelSightings`.
//!
//! Rows are kept as Arrow batches and extended with the versions stored since the last
//! refresh (the store's `seq` is the cursor), so a query never reloads the history.

use std::hash::BuildHasher;
use std::sync::Arc;

use base64::Engine as _;
use cairn_store::{Filter, Store, StoredVersion, VersionSelect};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, LargeStringBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use hashbrown::{DefaultHashBuilder, HashTable};
use serde_json::{json, Value};

use crate::value::KType;
use crate::Engine;

pub const INDICATORS: &str = "ThreatIntelIndicators";
pub const OBJECTS: &str = "ThreatIntelObjects";

/// Sentinel's legacy flattened table, derived from `ThreatIntelIndicators` by its
/// migration mapping (the `ThreatIntelIndicatorsv2` parser's columns), so old content runs.
pub const LEGACY: &str = r#"ThreatIntelIndicators
| extend IndicatorId = Id, ExternalIndicatorId = tostring(Data.id),
    Action = "", ActivityGroupNames = extract(@"ActivityGroup:(\S+)", 1, tostring(Data.labels)),
    ConfidenceScore = todouble(Confidence), Description = tostring(Data.description),
    ExpirationDateTime = ValidUntil, Active = IsActive, ThreatType = tostring(Data.indicator_types[0]),
    TrafficLightProtocolLevel = tostring(AdditionalFields.TLPLevel),
    NetworkIP = iff(ObservableKey == "ipv4-addr:value" or ObservableKey == "ipv6-addr:value", ObservableValue, ""),
    NetworkSourceIP = iff(ObservableKey == "network-traffic:src_ref.value", ObservableValue, ""),
    NetworkDestinationIP = iff(ObservableKey == "network-traffic:dst_ref.value", ObservableValue, ""),
    DomainName = iff(ObservableKey == "domain-name:value", ObservableValue, ""),
    EmailSenderAddress = iff(ObservableKey == "email-addr:value", ObservableValue, ""),
    Url = iff(ObservableKey == "url:value", ObservableValue, ""),
    FileHashType = case(ObservableKey has "MD5", "MD5", ObservableKey has "SHA-1", "SHA1", ObservableKey has "SHA-256", "SHA256", ObservableKey has "SHA-512", "SHA512", ""),
    FileHashValue = iff(ObservableKey has "file:hashes", ObservableValue, ""),
    FileName = iff(ObservableKey == "file:name", ObservableValue, ""),
    IndicatorProvider = SourceSystem, ThreatSeverity = toint(Data.extensions["sentinel-ext"].severity)
| project TimeGenerated, IndicatorId, ExternalIndicatorId, SourceSystem, Action, ActivityGroupNames, ConfidenceScore,
    Description, ExpirationDateTime, Active, ThreatType, TrafficLightProtocolLevel, Tags, NetworkIP, NetworkSourceIP,
    NetworkDestinationIP, DomainName, EmailSenderAddress, Url, FileHashType, FileHashValue, FileName,
    IndicatorProvider, ThreatSeverity, Type = "ThreatIntelligenceIndicator""#;

/// Sightings recorded by matching (`sighting` objects), with their counts and times.
pub const SIGHTINGS: &str = r#"ThreatIntelObjects
| where StixType == "sighting"
| extend SightingOfRef = tostring(Data.sighting_of_ref), Count = tolong(Data["count"]),
    FirstSeen = todatetime(Data.first_seen), LastSeen = todatetime(Data.last_seen),
    ObservedDataRefs = Data.observed_data_refs, WhereSightedRefs = Data.where_sighted_refs"#;

fn ts() -> datafusion::arrow::datatypes::DataType {
    KType::DateTime.arrow()
}

fn indicator_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, KType::String.arrow(), true);
    let t = |n: &str| Field::new(n, ts(), true);
    let b = |n: &str| Field::new(n, KType::Bool.arrow(), true);
    let d = |n: &str| Field::new(n, KType::Dynamic.arrow(), true);
    Arc::new(Schema::new(vec![
        s("TenantId"),
        t("TimeGenerated"),
        s("Id"),
        s("SourceSystem"),
        s("Source"),
        t("Created"),
        t("Modified"),
        t("ValidFrom"),
        t("ValidUntil"),
        Field::new("Confidence", KType::Long.arrow(), true),
        b("IsActive"),
        b("IsDeleted"),
        b("Revoked"),
        s("Pattern"),
        // Not in Sentinel's published schema, but its TI-map rules filter on it
        // (`where Description !contains_cs "State: inactive;"`) without deriving it.
        s("Description"),
        s("ObservableKey"),
        s("ObservableValue"),
        s("Tags"),
        d("AdditionalFields"),
        d("Data"),
        s("LastUpdateMethod"),
        s("WorkspaceId"),
        s("AzureTenantId"),
        s("Type"),
    ]))
}

fn object_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, KType::String.arrow(), true);
    let d = |n: &str| Field::new(n, KType::Dynamic.arrow(), true);
    Arc::new(Schema::new(vec![
        s("TenantId"),
        Field::new("TimeGenerated", ts(), true),
        s("Id"),
        s("SourceSystem"),
        s("Source"),
        s("StixType"),
        Field::new("IsDeleted", KType::Bool.arrow(), true),
        d("AdditionalFields"),
        d("Data"),
        s("LastUpdateMethod"),
        s("WorkspaceId"),
        s("AzureTenantId"),
        s("Type"),
    ]))
}

/// The tables, kept in step with a store.
pub struct TiTables {
    after: Option<i64>,
    tenant: String,
    indicators: Vec<RecordBatch>,
    objects: Vec<RecordBatch>,
    /// Each Id's latest row in `indicators` and `objects`.
    latest_indicators: Latest,
    latest_objects: Latest,
    /// Batches built before enrichment had passed their versions: `(indicators?, index,
    /// last seq)`. Their AdditionalFields are filled in once enrichment has passed them.
    unenriched: Vec<(bool, usize, i64)>,
}

/// What enrichment knows about an object: `(GeoLocation, WhoIs)` for AdditionalFields.
pub type EnrichmentOf<'a> = &'a dyn Fn(&str) -> Option<(Value, Value)>;

impl TiTables {
    pub fn new(tenant: &str) -> TiTables {
        TiTables {
            after: None,
            tenant: tenant.to_string(),
            indicators: Vec::new(),
            objects: Vec::new(),
            latest_indicators: Latest::default(),
            latest_objects: Latest::default(),
            unenriched: Vec::new(),
        }
    }

    /// Appends the versions stored since the last call; returns how many it read.
    ///
    /// `enriched_through` is the last seq enrichment has passed (None: enrichment is not
    /// running). Enrichment follows the store a little behind ingest, so rows built ahead
    /// of it are remembered and their AdditionalFields filled in (once) when it has
    /// passed them: GeoLocation never stays missing because a query ran early.
    pub fn refresh(
        &mut self,
        store: &dyn Store,
        enrichment: EnrichmentOf<'_>,
        enriched_through: Option<i64>,
    ) -> Result<usize, String> {
        let filter = Filter { versions: VersionSelect::All, ..Filter::default() };
        let mut read = 0;
        loop {
            let page = store.list(&filter, self.after, 5_000).map_err(|e| e.to_string())?;
            if page.items.is_empty() {
                break;
            }
            read += page.items.len();
            let last = page.items.last().map_or(0, |v| v.seq);
            self.after = Some(last);
            let ahead = enriched_through.is_none_or(|e| e < last);
            let (ind, obj): (Vec<&StoredVersion>, Vec<&StoredVersion>) =
                page.items.iter().partition(|v| v.stix_type == "indicator");
            if !ind.is_empty() {
                self.indicators.push(self.indicator_batch(&ind, enrichment)?);
                self.latest_indicators.append(&self.indicators)?;
                if ahead {
                    self.unenriched.push((true, self.indicators.len() - 1, last));
                }
            }
            if !obj.is_empty() {
                self.objects.push(self.object_batch(&obj, enrichment)?);
                self.latest_objects.append(&self.objects)?;
                if ahead {
                    self.unenriched.push((false, self.objects.len() - 1, last));
                }
            }
            if page.next.is_none() {
                break;
            }
        }
        if let Some(through) = enriched_through {
            let (ready, later): (Vec<_>, Vec<_>) = self.unenriched.iter().partition(|(_, _, last)| *last <= through);
            self.unenriched = later;
            for (indicators, i, _) in ready {
                let batches = if indicators { &mut self.indicators } else { &mut self.objects };
                batches[i] = with_enrichment(&batches[i], enrichment)?;
            }
        }
        self.latest_indicators.finish();
        self.latest_objects.finish();
        Ok(read)
    }

    /// Rows of ThreatIntelIndicators (one per observable per stored version).
    pub fn indicator_rows(&self) -> usize {
        self.indicators.iter().map(RecordBatch::num_rows).sum()
    }

    /// Registers the tables (and the derived ones) with an engine.
    pub fn register(&self, engine: &mut Engine) -> Result<(), String> {
        engine.add_history_table(
            INDICATORS,
            indicator_schema(),
            self.indicators.clone(),
            self.latest_indicators.marks(),
        )?;
        engine.add_history_table(OBJECTS, object_schema(), self.objects.clone(), self.latest_objects.marks())?;
        engine.add_function("ThreatIntelligenceIndicator", LEGACY).map_err(|e| e.render(LEGACY))?;
        engine.add_function("ThreatIntelSightings", SIGHTINGS).map_err(|e| e.render(SIGHTINGS))?;
        Ok(())
    }

    fn id(&self, source: &str, stix_id: &str) -> String {
        format!("{}---{stix_id}", base64::engine::general_purpose::STANDARD.encode(source))
    }

    fn indicator_batch(&self, vs: &[&StoredVersion], enrichment: EnrichmentOf<'_>) -> Result<RecordBatch, String> {
        let mut c = Cols::default();
        for v in vs {
            let obj = object_of(v)?;
            let str_of = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let time_of = |k: &str| obj.get(k).and_then(Value::as_str).and_then(crate::parse_datetime);
            let valid_until = time_of("valid_until");
            let active = !v.tombstone && !v.revoked && valid_until.is_none_or(|u| u > v.seq);
            let pattern = str_of("pattern");
            let description = str_of("description");
            let stix = obj.get("pattern_type").and_then(Value::as_str).is_none_or(|t| t == "stix");
            let version = obj.get("pattern_version").or_else(|| obj.get("spec_version")).and_then(Value::as_str);
            let mut observables: Vec<(String, String)> = if stix && !pattern.is_empty() {
                cairn_pattern::parse(&pattern, cairn_pattern::Version::from_reference_str(version.unwrap_or("2.0")))
                    .map(|p| cairn_pattern::observables(&p).into_iter().map(|o| (o.key, o.value)).collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            // An indicator always has a row, with an empty key when nothing was extracted.
            if observables.is_empty() {
                observables.push((String::new(), String::new()));
            }
            let additional = additional_fields(&obj, enrichment(&v.id));
            let tags = obj.get("labels").cloned().unwrap_or_else(|| json!([])).to_string();
            let data = obj.to_string();
            let id = self.id(&v.source, &v.id);
            for (key, value) in observables {
                c.s("TenantId", &self.tenant);
                c.t("TimeGenerated", Some(v.seq));
                c.s("Id", &id);
                c.s("SourceSystem", &v.source);
                c.s("Source", &v.source);
                c.t("Created", time_of("created"));
                c.t("Modified", time_of("modified"));
                c.t("ValidFrom", time_of("valid_from"));
                c.t("ValidUntil", valid_until);
                c.l("Confidence", obj.get("confidence").and_then(Value::as_i64));
                c.b("IsActive", active);
                c.b("IsDeleted", v.tombstone);
                c.b("Revoked", v.revoked);
                c.s("Pattern", &pattern);
                c.s("Description", &description);
                c.s("ObservableKey", &key);
                c.s("ObservableValue", &value);
                c.s("Tags", &tags);
                c.d("AdditionalFields", &additional);
                c.d("Data", &data);
                c.s("LastUpdateMethod", "");
                c.s("WorkspaceId", &self.tenant);
                c.s("AzureTenantId", &self.tenant);
                c.s("Type", INDICATORS);
            }
        }
        c.finish(indicator_schema())
    }

    fn object_batch(&self, vs: &[&StoredVersion], enrichment: EnrichmentOf<'_>) -> Result<RecordBatch, String> {
        let mut c = Cols::default();
        for v in vs {
            let obj = object_of(v)?;
            c.s("TenantId", &self.tenant);
            c.t("TimeGenerated", Some(v.seq));
            c.s("Id", &self.id(&v.source, &v.id));
            c.s("SourceSystem", &v.source);
            c.s("Source", &v.source);
            c.s("StixType", &v.stix_type);
            c.b("IsDeleted", v.tombstone);
            c.d("AdditionalFields", &additional_fields(&obj, enrichment(&v.id)));
            c.d("Data", &obj.to_string());
            c.s("LastUpdateMethod", "");
            c.s("WorkspaceId", &self.tenant);
            c.s("AzureTenantId", &self.tenant);
            c.s("Type", OBJECTS);
        }
        c.finish(object_schema())
    }
}

/// Where each Id's latest row is in a history table, and per batch a column marking
/// those rows, so `summarize arg_max(TimeGenerated, *) by Id` over the whole table is a
/// filter on the mark instead of an aggregate over every row (see `Engine::add_history_table`).
///
/// Invariant: rows are appended in TimeGenerated order (it is the store's seq, read in
/// seq order) and a version's rows are consecutive, so an Id's latest row is the first
/// row of its most recently appended version: the row arg_max keeps, as it keeps the
/// earliest of tied rows. Each append touches only the Ids it brings; a superseded mark
/// is cleared in place and only that batch's mark column is rebuilt.
#[derive(Default)]
struct Latest {
    /// (batch, row) of each Id's latest row, hashed by the Id's text and compared
    /// against the Id column itself, so no Id is stored twice.
    rows: HashTable<(u32, u32)>,
    hasher: DefaultHashBuilder,
    marks: Vec<Vec<bool>>,
    /// Each batch's marks as an Arrow column; `None` after a mark in it changed.
    columns: Vec<Option<ArrayRef>>,
}

fn id_column(b: &RecordBatch) -> Result<&datafusion::arrow::array::StringArray, String> {
    use datafusion::arrow::array::AsArray;
    let ix = b.schema().index_of("Id").map_err(|e| e.to_string())?;
    b.column(ix).as_string_opt::<i32>().ok_or_else(|| "Id is not a string column".to_string())
}

impl Latest {
    /// Takes in the last of `batches`, which has just been appended.
    fn append(&mut self, batches: &[RecordBatch]) -> Result<(), String> {
        use datafusion::arrow::array::{Array, AsArray};
        use datafusion::arrow::datatypes::TimestampMicrosecondType;
        let b = batches.len() - 1;
        let batch = &batches[b];
        let ids = id_column(batch)?;
        let ix = batch.schema().index_of("TimeGenerated").map_err(|e| e.to_string())?;
        let times = batch
            .column(ix)
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or("TimeGenerated is not a timestamp column")?;
        let olds: Vec<&datafusion::arrow::array::StringArray> =
            batches[..b].iter().map(id_column).collect::<Result<_, _>>()?;
        let id_at = |&(ob, or): &(u32, u32)| -> &str {
            if ob as usize == b {
                ids.value(or as usize)
            } else {
                olds[ob as usize].value(or as usize)
            }
        };
        let mut marks = vec![false; batch.num_rows()];
        let Latest { rows, hasher, marks: old_marks, columns } = self;
        for r in 0..batch.num_rows() {
            let same_version = r > 0 && ids.value(r) == ids.value(r - 1) && times.value(r) == times.value(r - 1);
            if same_version || ids.is_null(r) || times.is_null(r) {
                continue;
            }
            let id = ids.value(r);
            let h = hasher.hash_one(id);
            let here = (b as u32, r as u32);
            match rows.find_mut(h, |e| id_at(e) == id) {
                Some(e) => {
                    let (ob, or) = (e.0 as usize, e.1 as usize);
                    if ob == b {
                        marks[or] = false;
                    } else {
                        old_marks[ob][or] = false;
                        columns[ob] = None;
                    }
                    *e = here;
                }
                None => {
                    rows.insert_unique(h, here, |e| hasher.hash_one(id_at(e)));
                }
            }
            marks[r] = true;
        }
        old_marks.push(marks);
        columns.push(None);
        Ok(())
    }

    /// Builds the mark columns that changed, once (queries reuse them).
    fn finish(&mut self) {
        for (c, m) in self.columns.iter_mut().zip(&self.marks) {
            if c.is_none() {
                *c = Some(Arc::new(datafusion::arrow::array::BooleanArray::from(m.clone())));
            }
        }
    }

    /// One mark column per batch.
    fn marks(&self) -> Vec<ArrayRef> {
        let build = |m: &Vec<bool>| -> ArrayRef { Arc::new(datafusion::arrow::array::BooleanArray::from(m.clone())) };
        self.columns.iter().zip(&self.marks).map(|(c, m)| c.clone().unwrap_or_else(|| build(m))).collect()
    }
}

/// A version's object; a tombstone (which keeps no object) as its type and id.
fn object_of(v: &StoredVersion) -> Result<Value, String> {
    if v.tombstone {
        return Ok(json!({"type": v.stix_type, "id": v.id}));
    }
    serde_json::from_str(&v.raw).map_err(|e| format!("{}: {e}", v.id))
}

/// A batch with AdditionalFields' GeoLocation and WhoIs as enrichment now has them.
fn with_enrichment(b: &RecordBatch, enrichment: EnrichmentOf<'_>) -> Result<RecordBatch, String> {
    use datafusion::arrow::array::{Array, LargeStringArray, StringArray};
    let schema = b.schema();
    let (Ok(id_ix), Ok(af_ix)) = (schema.index_of("Id"), schema.index_of("AdditionalFields")) else {
        return Ok(b.clone());
    };
    let ids = b.column(id_ix).as_any().downcast_ref::<StringArray>().ok_or("Id is not a string column")?;
    let afs = b.column(af_ix).as_any().downcast_ref::<LargeStringArray>().ok_or("AdditionalFields is not dynamic")?;
    let mut out = LargeStringBuilder::new();
    let mut last: Option<(String, Option<(Value, Value)>)> = None;
    for r in 0..b.num_rows() {
        // Id is base64(source)---stix id; rows of one version sit together.
        let stix_id = ids.value(r).rsplit("---").next().unwrap_or_default();
        if last.as_ref().is_none_or(|(id, _)| id != stix_id) {
            last = Some((stix_id.to_string(), enrichment(stix_id)));
        }
        let found = last.as_ref().and_then(|(_, e)| e.clone());
        if afs.is_null(r) {
            out.append_null();
            continue;
        }
        let mut m: serde_json::Map<String, Value> = serde_json::from_str(afs.value(r)).unwrap_or_default();
        if let Some((geo, whois)) = found {
            if !geo.is_null() {
                m.insert("GeoLocation".into(), geo);
            }
            if !whois.is_null() {
                m.insert("WhoIs".into(), whois);
            }
        }
        out.append_value(Value::Object(m).to_string());
    }
    let mut cols = b.columns().to_vec();
    cols[af_ix] = Arc::new(out.finish());
    RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())
}

/// `{"TLPLevel": …, "GeoLocation": …, "WhoIs": …}`.
fn additional_fields(obj: &Value, enrichment: Option<(Value, Value)>) -> String {
    let tlp = cairn_condition::tlp_levels(obj).next().unwrap_or("");
    let mut m = serde_json::Map::new();
    if !tlp.is_empty() {
        m.insert("TLPLevel".into(), Value::String(tlp.to_string()));
    }
    if let Some((geo, whois)) = enrichment {
        if !geo.is_null() {
            m.insert("GeoLocation".into(), geo);
        }
        if !whois.is_null() {
            m.insert("WhoIs".into(), whois);
        }
    }
    Value::Object(m).to_string()
}

/// Column builders by name.
#[derive(Default)]
struct Cols {
    strings: std::collections::HashMap<&'static str, StringBuilder>,
    dyns: std::collections::HashMap<&'static str, LargeStringBuilder>,
    times: std::collections::HashMap<&'static str, TimestampMicrosecondBuilder>,
    longs: std::collections::HashMap<&'static str, Int64Builder>,
    bools: std::collections::HashMap<&'static str, BooleanBuilder>,
}

impl Cols {
    fn s(&mut self, k: &'static str, v: &str) {
        self.strings.entry(k).or_default().append_value(v);
    }
    fn d(&mut self, k: &'static str, v: &str) {
        self.dyns.entry(k).or_default().append_value(v);
    }
    fn t(&mut self, k: &'static str, v: Option<i64>) {
        self.times.entry(k).or_insert_with(|| TimestampMicrosecondBuilder::new().with_timezone("UTC")).append_option(v);
    }
    fn l(&mut self, k: &'static str, v: Option<i64>) {
        self.longs.entry(k).or_default().append_option(v);
    }
    fn b(&mut self, k: &'static str, v: bool) {
        self.bools.entry(k).or_default().append_value(v);
    }

    fn finish(mut self, schema: SchemaRef) -> Result<RecordBatch, String> {
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for f in schema.fields() {
            let n = f.name().as_str();
            let a: ArrayRef = if let Some(mut b) = self.strings.remove(n) {
                Arc::new(b.finish())
            } else if let Some(mut b) = self.dyns.remove(n) {
                Arc::new(b.finish())
            } else if let Some(mut b) = self.times.remove(n) {
                Arc::new(b.finish())
            } else if let Some(mut b) = self.longs.remove(n) {
                Arc::new(b.finish())
            } else if let Some(mut b) = self.bools.remove(n) {
                Arc::new(b.finish())
            } else {
                return Err(format!("column {n} was not filled"));
            };
            arrays.push(a);
        }
        RecordBatch::try_new(schema, arrays).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use cairn_store::{Candidate, Source, SourceKind, SqliteStore, Store};
    use serde_json::{json, Value};

    use super::TiTables;
    use crate::Engine;

    fn indicator(n: u32, pattern: &str, modified: &str, revoked: bool) -> Value {
        json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
               "created": "2026-01-01T00:00:00.000Z", "modified": modified, "pattern": pattern,
               "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "revoked": revoked})
    }

    fn malware(n: u32, modified: &str) -> Value {
        json!({"type": "malware", "spec_version": "2.1", "id": format!("malware--00000000-0000-4000-8000-{n:012}"),
               "created": "2026-01-01T00:00:00.000Z", "modified": modified, "name": format!("m{n}"), "is_family": false})
    }

    fn ingest(store: &SqliteStore, objs: &[Value]) {
        let source = Source::new(SourceKind::Upload, "Feed A");
        let c: Vec<Candidate> = objs
            .iter()
            .map(|o| Candidate::from_value(o, &cairn_stix::ObjectMeta::from_value(o, None).unwrap()))
            .collect();
        store.ingest(&source, &c).unwrap();
    }

    fn rows(e: &Engine, q: &str) -> Vec<String> {
        let mut r: Vec<String> =
            e.run(q, 0).unwrap_or_else(|m| panic!("{q}: {m:?}")).rows.iter().map(|r| json!(r).to_string()).collect();
        r.sort();
        r
    }

    /// Whether the plan has arg_max's aggregate (a `first_value` per column).
    fn aggregates(e: &Engine, q: &str) -> bool {
        let df = futures::executor::block_on(e.run_frame(q)).unwrap();
        format!("{}", df.logical_plan().display_indent()).contains("first_value")
    }

    /// The latest-row marks give exactly what the aggregate gives, through versions that
    /// supersede each other within one batch and across batches, compound patterns (several
    /// rows per version), revocations and deletions; and the planner takes them only for
    /// the shapes where they are the same answer.
    #[test]
    fn latest_marks_answer_arg_max_by_id_as_the_aggregate_does() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _g = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let mut t = TiTables::new("tenant");
        let none = |_: &str| None;
        let v = |m: u32| format!("2026-02-0{m}T00:00:00.000Z");
        ingest(
            &store,
            &[
                indicator(1, "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'a.example']", &v(1), false),
                indicator(2, "[ipv4-addr:value = '198.51.100.2']", &v(1), false),
                indicator(3, "[url:value = 'http://c.example/']", &v(1), false),
                malware(1, &v(1)),
            ],
        );
        t.refresh(&store, &none, None).unwrap();
        // Two versions of indicator 2 in one batch; indicator 1 and the malware across batches.
        ingest(&store, &[indicator(2, "[ipv4-addr:value = '198.51.100.22']", &v(2), false)]);
        ingest(&store, &[indicator(2, "[ipv4-addr:value = '198.51.100.23']", &v(3), true)]);
        ingest(&store, &[
            indicator(1, "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:name = 'x.exe'] OR [domain-name:value = 'b.example']", &v(2), false),
            malware(1, &v(2)),
        ]);
        t.refresh(&store, &none, None).unwrap();
        assert!(store
            .delete("indicator--00000000-0000-4000-8000-000000000003", &Source::new(SourceKind::Upload, "Feed A"))
            .unwrap());
        t.refresh(&store, &none, None).unwrap();
        let mut e = Engine::new();
        t.register(&mut e).unwrap();

        let times = rows(&e, "ThreatIntelIndicators | distinct TimeGenerated");
        assert!(times.len() >= 5, "{times:?}");
        let bound = serde_json::from_str::<Vec<Value>>(&times[2]).unwrap()[0].as_str().unwrap().to_string();
        for table in ["ThreatIntelIndicators", "ThreatIntelObjects"] {
            for (fast, slow) in [
                (
                    format!("{table} | summarize arg_max(TimeGenerated, *) by Id"),
                    format!("{table} | where isnotempty(Id) | summarize arg_max(TimeGenerated, *) by Id"),
                ),
                (
                    format!("{table} | where TimeGenerated >= datetime({bound}) | summarize Latest = arg_max(TimeGenerated, *) by Id"),
                    format!("{table} | where TimeGenerated >= datetime({bound}) and isnotempty(Id) | summarize Latest = arg_max(TimeGenerated, *) by Id"),
                ),
                (
                    format!("{table} | where datetime({bound}) < TimeGenerated | summarize arg_max(TimeGenerated, *) by Id | where IsDeleted == false | count"),
                    format!("{table} | where datetime({bound}) < TimeGenerated | summarize arg_max(TimeGenerated, *) by Id, Type | project-away Type | where IsDeleted == false | count"),
                ),
            ] {
                assert!(!aggregates(&e, &fast), "the marks answer {fast}");
                assert!(aggregates(&e, &slow), "the aggregate answers {slow}");
                assert_eq!(rows(&e, &fast), rows(&e, &slow), "{fast}");
            }
        }
        // What the marks pick: one row per Id, from its latest version.
        let r = rows(
            &e,
            "ThreatIntelIndicators | summarize arg_max(TimeGenerated, *) by Id | project Pattern, Revoked, IsDeleted",
        );
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r.iter().any(|x| x.contains("b.example")), "{r:?}");
        assert!(r.iter().any(|x| x.contains("198.51.100.23") && x.contains("true,false")), "{r:?}");
        assert!(r.iter().any(|x| x == r#"["",false,true]"#), "the deletion: {r:?}");
        // An upper bound is not a lower bound: the aggregate answers it.
        assert!(aggregates(
            &e,
            "ThreatIntelIndicators | where TimeGenerated < now() | summarize arg_max(TimeGenerated, *) by Id"
        ));
        assert!(aggregates(
            &e,
            "ThreatIntelIndicators | where TimeGenerated > Created | summarize arg_max(TimeGenerated, *) by Id"
        ));
        assert!(aggregates(&e, "ThreatIntelIndicators | summarize arg_max(TimeGenerated, Pattern) by Id"));
    }
}
