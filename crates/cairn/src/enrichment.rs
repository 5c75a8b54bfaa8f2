//! Enrichment of stored intelligence, kept beside the object (the STIX object and its
//! `modified` never change) and refreshed when the object gets a new version:
//! - GeoIP for the addresses an indicator or address object is about (offline, from
//!   memory-mapped databases);
//! - WhoIs over RDAP/WHOIS for its registrable domains and addresses (opt-in: it asks
//!   registries on the internet), cached in the store for a TTL;
//! - the newly-registered-domain flag (a domain created less than 30 days before the
//!   indicator's `valid_from`);
//! - enrichment facts (`country`, `asn`, `registrar`, …) that search conditions and
//!   ingestion rules test as `enrichment.*`.
//!
//! New intelligence is enriched in the background by following the store by `seq`, so
//! ingestion never waits for it. WhoIs lookups run after that, from a queue kept in the
//! store: a registry that is slow, rate-limited or down delays only its own lookups, and
//! is asked again only when its back-off is over. `cairn enrich` and
//! `POST /api/v1/objects/{id}/enrich` do it all on demand.

use std::sync::Arc;
use std::time::Duration;

use cairn_enrich::whois::{Target, Whois, WhoisError, WhoisRecord};
use cairn_enrich::GeoIp;
use cairn_store::{Filter, Store, VersionSelect};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const KIND: &str = "enrichment";
const CURSOR_KIND: &str = "enrichment-cursor";
/// Cached WhoIs answers, by [`Target::key`].
const WHOIS_KIND: &str = "whois";
/// WhoIs lookups to make, by [`Target::key`]: the objects waiting for them.
const PENDING_KIND: &str = "whois-pending";

/// How long a definite "no" (no such domain, no service, unreadable answer) is kept.
const NEGATIVE_TTL: i64 = 86_400_000_000;
/// A domain created less than this before the indicator's `valid_from` is newly registered.
const NEWLY_REGISTERED: i64 = 30 * 86_400_000_000;

/// What enrichment uses; either part may be absent.
#[derive(Default)]
pub struct Enricher {
    pub geoip: Option<GeoIp>,
    pub whois: Option<WhoisEnrichment>,
}

/// WhoIs settings: the client and how long its answers are kept.
pub struct WhoisEnrichment {
    pub client: Whois,
    pub ttl: Duration,
}

/// Where enrichment comes from: the command-line options `serve` and `enrich` share.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EnrichOptions {
    /// A MaxMind-format GeoIP database (country, city or ASN; GeoLite2, DB-IP or
    /// ip-location-db layouts), repeatable. A file replaced on disk (by rename, as
    /// geoipupdate does) is picked up without a restart.
    #[arg(long = "geoip-db")]
    pub geoip_db: Vec<std::path::PathBuf>,
    /// Look domains and addresses up over RDAP (port-43 WHOIS where a registry has no
    /// RDAP). Off by default: it tells registries on the internet what is being looked at.
    #[arg(long)]
    pub whois: bool,
    /// Where the IANA RDAP bootstrap files are (dns.json, ipv4.json, ipv6.json).
    #[arg(long, default_value = "https://data.iana.org/rdap/", requires = "whois")]
    pub rdap_bootstrap: String,
    /// The IANA WHOIS server for the port-43 fallback (host:port); "off" disables it.
    #[arg(long, default_value = "whois.iana.org:43", requires = "whois")]
    pub whois_server: String,
    /// How long a WhoIs answer is kept before it is asked for again, in days.
    #[arg(long, default_value_t = 7, requires = "whois")]
    pub whois_ttl_days: u64,
}

impl EnrichOptions {
    /// The enricher these options describe; `None` when they name no source at all.
    pub fn enricher(&self) -> anyhow::Result<Option<Enricher>> {
        let geoip = if self.geoip_db.is_empty() {
            None
        } else {
            let g = GeoIp::open(&self.geoip_db)?;
            for (path, kind) in g.describe() {
                eprintln!("GeoIP database {path} ({kind})");
            }
            Some(g)
        };
        let whois = self.whois.then(|| WhoisEnrichment {
            client: Whois::new(cairn_enrich::whois::WhoisConfig {
                bootstrap_base: self.rdap_bootstrap.clone(),
                iana_whois: (self.whois_server != "off").then(|| self.whois_server.clone()),
                ..Default::default()
            }),
            ttl: Duration::from_secs(self.whois_ttl_days.max(1) * 86_400),
        });
        Ok((geoip.is_some() || whois.is_some()).then_some(Enricher { geoip, whois }))
    }
}

/// A cached WhoIs answer (or the reason there is none, until when that holds).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Cached {
    /// `ok`, `not_found`, `no_service`, `invalid`, `unreachable` or `rate_limited`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<WhoisRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub fetched_at: String,
    /// After this the answer is asked for again (for a failure: the earliest retry).
    pub expires_at: String,
}

impl Cached {
    fn expires(&self) -> i64 {
        cairn_condition::parse_time(&self.expires_at).unwrap_or(0)
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Pending {
    ids: Vec<String>,
    #[serde(default)]
    not_before: i64,
}

/// What enriching one object gave.
struct Computed {
    doc: Option<Value>,
    facts: Option<Value>,
    /// WhoIs targets with no fresh cached answer.
    missing: Vec<Target>,
}

fn stamp(micros: i64) -> String {
    cairn_stix::Timestamp::from_unix_micros(micros).format_digits(3)
}

impl Enricher {
    /// The WhoIs targets of an object (none when WhoIs is off).
    fn targets(&self, obj: &Value) -> Vec<Target> {
        if self.whois.is_none() {
            return Vec::new();
        }
        let mut t: Vec<Target> = cairn_enrich::domains(obj).iter().filter_map(|d| Target::domain(d)).collect();
        t.extend(cairn_enrich::addresses(obj).into_iter().filter(|a| is_public(*a)).map(Target::Ip));
        t.sort();
        t.dedup();
        t
    }

    /// Enriches one object from its JSON and the WhoIs cache.
    fn compute(&self, store: &dyn Store, obj: &Value, now: i64) -> Result<Computed, String> {
        let geo: Vec<cairn_enrich::Geo> = match &self.geoip {
            Some(g) => cairn_enrich::addresses(obj).into_iter().filter_map(|a| g.lookup(a)).collect(),
            None => Vec::new(),
        };
        let mut whois = Vec::new();
        let mut missing = Vec::new();
        let mut records = Vec::new();
        for t in self.targets(obj) {
            let cached = whois_cached(store, &t)?;
            if cached.as_ref().is_none_or(|c| c.expires() <= now) {
                missing.push(t.clone());
            }
            let mut entry = json!({"target": t.to_string()});
            match cached {
                Some(c) => {
                    if let Some(r) = &c.record {
                        records.push(r.clone());
                    }
                    entry.as_object_mut().unwrap().extend(
                        serde_json::to_value(&c).map_err(|e| e.to_string())?.as_object().cloned().unwrap_or_default(),
                    );
                }
                None => entry["status"] = json!("pending"),
            }
            whois.push(entry);
        }
        let nrd = newly_registered(obj, &records);
        if geo.is_empty() && whois.is_empty() {
            return Ok(Computed { doc: None, facts: None, missing });
        }
        let mut facts = serde_json::Map::new();
        let mut add = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                let list = facts.entry(k).or_insert_with(|| json!([])).as_array_mut().unwrap();
                if !list.contains(&v) {
                    list.push(v);
                }
            }
        };
        for g in &geo {
            add("country", g.country_iso.clone().map(Value::from));
            add("asn", g.asn.map(Value::from));
            add("as_org", g.as_org.clone().map(Value::from));
            add("city", g.city.clone().map(Value::from));
        }
        for r in &records {
            add("registrar", r.registrar.clone().map(Value::from));
            add("registrant_org", r.registrant_org.clone().map(Value::from));
            add("registrant_country", r.registrant_country.clone().map(Value::from));
            add("network_org", r.allocation_org.clone().map(Value::from));
        }
        add("newly_registered_domain", nrd.map(Value::from));
        let mut doc = json!({ "enriched_at": stamp(now) });
        if !geo.is_empty() {
            doc["geo"] = serde_json::to_value(&geo).map_err(|e| e.to_string())?;
        }
        if !whois.is_empty() {
            doc["whois"] = Value::Array(whois);
        }
        if let Some(n) = nrd {
            doc["newly_registered_domain"] = json!(n);
        }
        let facts = (!facts.is_empty()).then_some(Value::Object(facts));
        Ok(Computed { doc: Some(doc), facts, missing })
    }

    /// Enriches one object from its JSON (GeoIP and cached WhoIs); `None` when there is
    /// nothing to say.
    pub fn enrich(&self, store: &dyn Store, obj: &Value) -> Result<Option<Value>, String> {
        Ok(self.compute(store, obj, cairn_store::now_micros())?.doc)
    }

    /// The enrichment facts of an object as it would be enriched now (GeoIP, and WhoIs
    /// from the cache only: never the network). Ingestion rules test these.
    pub fn facts(&self, store: &dyn Store, obj: &Value) -> Result<Option<Value>, String> {
        Ok(self.compute(store, obj, cairn_store::now_micros())?.facts)
    }

    /// Facts for ingestion-rule conditions (see [`Enricher::facts`]).
    pub fn fact_source(self: &Arc<Self>, store: Arc<dyn Store>) -> crate::ingestion_rules::FactSource {
        let me = self.clone();
        crate::ingestion_rules::FactSource::new(move |obj| match me.facts(store.as_ref(), obj) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("enrichment facts for ingestion rules: {e}");
                None
            }
        })
    }

    /// Enriches the current version of `id` now, asking registries for what the WhoIs
    /// cache lacks, and stores the result. `Ok(None)`: no such object, or nothing to say
    /// (an older enrichment is then removed).
    pub fn enrich_stored(&self, store: &dyn Store, id: &str) -> Result<Option<Value>, String> {
        self.enrich_stored_at(store, id, cairn_store::now_micros())
    }

    fn enrich_stored_at(&self, store: &dyn Store, id: &str, now: i64) -> Result<Option<Value>, String> {
        let Some(v) = store.current(id).map_err(|e| e.to_string())? else { return Ok(None) };
        let obj: Value = serde_json::from_str(&v.raw).map_err(|e| e.to_string())?;
        let first = self.compute(store, &obj, now)?;
        let mut asked = false;
        for t in &first.missing {
            asked |= self.fetch(store, t, now)?.is_some();
        }
        let c = if asked { self.compute(store, &obj, now)? } else { first };
        let doc = c.doc.as_ref().map(Value::to_string);
        store.write_enrichment(&[(KIND, id, doc.as_deref())], &[(id, c.facts.as_ref())]).map_err(|e| e.to_string())?;
        Ok(c.doc)
    }

    /// Asks for `t` and caches the answer; `None` when nothing was asked (the registry
    /// is backing off), so the cache keeps what it had.
    fn fetch(&self, store: &dyn Store, t: &Target, now: i64) -> Result<Option<Cached>, String> {
        let Some(w) = &self.whois else { return Ok(None) };
        let (status, record, error, expires) = match w.client.lookup(t) {
            Ok(r) => ("ok", Some(r), None, now + w.ttl.as_micros() as i64),
            Err(WhoisError::Deferred { .. }) => return Ok(None),
            Err(e) => {
                let status = match &e {
                    WhoisError::NotFound { .. } => "not_found",
                    WhoisError::NoService(_) => "no_service",
                    WhoisError::Invalid { .. } => "invalid",
                    WhoisError::RateLimited { .. } => "rate_limited",
                    _ => "unreachable",
                };
                let wait = e.retry_after().map_or(NEGATIVE_TTL, |d| d.as_micros() as i64);
                (status, None, Some(e.to_string()), now + wait)
            }
        };
        let c = Cached { status: status.into(), record, error, fetched_at: stamp(now), expires_at: stamp(expires) };
        let doc = serde_json::to_string(&c).map_err(|e| e.to_string())?;
        store.put_doc(WHOIS_KIND, &t.key(), &doc).map_err(|e| e.to_string())?;
        Ok(Some(c))
    }

    /// Enriches what was stored since the last call (up to `max` versions); returns how
    /// many versions it looked at. The cursor is kept in the store, so a restart resumes.
    /// WhoIs targets without a fresh answer are queued for [`Enricher::whois_step`].
    pub fn catch_up(&self, store: &dyn Store, max: usize) -> Result<usize, String> {
        let now = cairn_store::now_micros();
        let after: Option<i64> = store.doc(CURSOR_KIND, "seq").map_err(|e| e.to_string())?.and_then(|d| d.parse().ok());
        let filter = Filter { versions: VersionSelect::All, ..Filter::default() };
        let page = store.list(&filter, after, max).map_err(|e| e.to_string())?;
        let Some(last) = page.items.last().map(|v| v.seq) else { return Ok(0) };
        let mut results: Vec<(String, Option<String>, Option<Value>)> = Vec::new();
        let mut queue: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for v in &page.items {
            if v.tombstone || !enrichable(&v.stix_type, self.whois.is_some()) {
                continue;
            }
            // Only the current version counts; an older one arriving late changes nothing.
            let current = store.current(&v.id).map_err(|e| e.to_string())?;
            if current.as_ref().is_some_and(|c| c.seq == v.seq) {
                let obj: Value = serde_json::from_str(&v.raw).map_err(|e| e.to_string())?;
                let c = self.compute(store, &obj, now)?;
                for t in c.missing {
                    queue.entry(t.key()).or_default().push(v.id.clone());
                }
                results.push((v.id.clone(), c.doc.map(|d| d.to_string()), c.facts));
            }
        }
        let mut pending_docs = Vec::new();
        for (key, ids) in queue {
            let mut p: Pending = match store.doc(PENDING_KIND, &key).map_err(|e| e.to_string())? {
                Some(d) => serde_json::from_str(&d).unwrap_or_default(),
                None => Pending::default(),
            };
            for id in ids {
                if !p.ids.contains(&id) {
                    p.ids.push(id);
                }
            }
            pending_docs.push((key, serde_json::to_string(&p).map_err(|e| e.to_string())?));
        }
        // One transaction for the step, cursor included: ingest shares the one writer, and
        // a crash cannot lose a step's results while keeping its cursor.
        let cursor = last.to_string();
        let mut docs: Vec<(&str, &str, Option<&str>)> =
            results.iter().map(|(id, doc, _)| (KIND, id.as_str(), doc.as_deref())).collect();
        docs.extend(pending_docs.iter().map(|(k, d)| (PENDING_KIND, k.as_str(), Some(d.as_str()))));
        docs.push((CURSOR_KIND, "seq", Some(&cursor)));
        let facts: Vec<(&str, Option<&Value>)> = results.iter().map(|(id, _, f)| (id.as_str(), f.as_ref())).collect();
        store.write_enrichment(&docs, &facts).map_err(|e| e.to_string())?;
        Ok(page.items.len())
    }

    /// Makes queued WhoIs lookups for up to `budget` of wall time and re-enriches the
    /// objects waiting for them. Lookups a registry defers stay queued; an unreachable or
    /// rate-limiting registry's answer is cached as such and its lookups wait for the
    /// retry time. Returns how many lookups were made.
    pub fn whois_step(&self, store: &dyn Store, budget: Duration) -> Result<usize, String> {
        self.whois_step_at(store, budget, cairn_store::now_micros())
    }

    fn whois_step_at(&self, store: &dyn Store, budget: Duration, now: i64) -> Result<usize, String> {
        if self.whois.is_none() {
            return Ok(0);
        }
        let start = std::time::Instant::now();
        let mut made = 0;
        for (key, doc) in store.docs(PENDING_KIND).map_err(|e| e.to_string())? {
            if start.elapsed() >= budget {
                break;
            }
            let mut p: Pending = serde_json::from_str(&doc).unwrap_or_default();
            let Some(t) = Target::from_key(&key) else {
                store.delete_doc(PENDING_KIND, &key).map_err(|e| e.to_string())?;
                continue;
            };
            if p.not_before > now {
                continue;
            }
            // Another path (on demand) may have answered it meanwhile.
            let fresh = whois_cached(store, &t)?.filter(|c| c.expires() > now);
            let answer = match fresh {
                Some(c) => c,
                None => match self.fetch(store, &t, now)? {
                    Some(c) => {
                        made += 1;
                        c
                    }
                    None => continue,
                },
            };
            let retry = matches!(answer.status.as_str(), "unreachable" | "rate_limited");
            // Re-enrich the waiting objects with the answer (an unreachable registry is
            // shown as such), and keep the lookup queued when it is to be retried.
            let mut results = Vec::new();
            for id in &p.ids {
                if let Some(v) = store.current(id).map_err(|e| e.to_string())? {
                    let obj: Value = serde_json::from_str(&v.raw).map_err(|e| e.to_string())?;
                    let c = self.compute(store, &obj, now)?;
                    results.push((id.clone(), c.doc.map(|d| d.to_string()), c.facts));
                }
            }
            let requeued;
            let mut docs: Vec<(&str, &str, Option<&str>)> =
                results.iter().map(|(id, doc, _)| (KIND, id.as_str(), doc.as_deref())).collect();
            if retry {
                p.not_before = answer.expires();
                requeued = serde_json::to_string(&p).map_err(|e| e.to_string())?;
                docs.push((PENDING_KIND, &key, Some(&requeued)));
            } else {
                docs.push((PENDING_KIND, &key, None));
            }
            let facts: Vec<(&str, Option<&Value>)> =
                results.iter().map(|(id, _, f)| (id.as_str(), f.as_ref())).collect();
            store.write_enrichment(&docs, &facts).map_err(|e| e.to_string())?;
        }
        Ok(made)
    }

    /// The WhoIs lookups waiting to be made.
    pub fn pending(store: &dyn Store) -> Result<usize, String> {
        Ok(store.docs(PENDING_KIND).map_err(|e| e.to_string())?.len())
    }
}

/// Object types enrichment looks at.
fn enrichable(t: &str, whois: bool) -> bool {
    matches!(t, "indicator" | "ipv4-addr" | "ipv6-addr") || whois && matches!(t, "domain-name" | "url" | "email-addr")
}

/// Addresses a registry can say something about: not private, loopback, link-local or
/// multicast (asking about those tells a registry what is being investigated, for nothing).
fn is_public(a: std::net::IpAddr) -> bool {
    match a {
        std::net::IpAddr::V4(v) => {
            !(v.is_private() || v.is_loopback() || v.is_link_local() || v.is_unspecified() || v.is_multicast())
        }
        std::net::IpAddr::V6(v) => {
            let s = v.segments()[0];
            !(v.is_loopback() || v.is_unspecified() || v.is_multicast() || s & 0xfe00 == 0xfc00 || s & 0xffc0 == 0xfe80)
        }
    }
}

fn whois_cached(store: &dyn Store, t: &Target) -> Result<Option<Cached>, String> {
    Ok(store.doc(WHOIS_KIND, &t.key()).map_err(|e| e.to_string())?.and_then(|d| serde_json::from_str(&d).ok()))
}

/// Whether an indicator is about a newly registered domain: one created less than 30
/// days before its `valid_from`. `None` when no domain's creation date is known.
fn newly_registered(obj: &Value, records: &[WhoisRecord]) -> Option<bool> {
    let valid_from = obj.get("valid_from").and_then(Value::as_str).and_then(|s| cairn_condition::parse_time(s).ok())?;
    let created: Vec<i64> = records
        .iter()
        .filter(|r| r.domain.is_some() || r.registrar.is_some())
        .filter_map(|r| r.created.as_deref().and_then(|c| cairn_condition::parse_time(c).ok()))
        .collect();
    if created.is_empty() {
        return None;
    }
    Some(created.iter().any(|c| valid_from - c < NEWLY_REGISTERED))
}

impl Enricher {
    /// One background step, then a pause three times as long as the step took when it
    /// found work: enrichment takes at most a quarter of a core, so a bulk import beside
    /// it keeps its speed (on two cores an unpaced enricher slowed ingest by up to 22 %),
    /// and finishes a little later instead.
    pub fn paced_step(&self, store: &dyn Store) -> Result<usize, String> {
        let t = std::time::Instant::now();
        let n = self.catch_up(store, STEP)?;
        if n > 0 {
            std::thread::sleep(t.elapsed() * 3);
        }
        Ok(n)
    }
}

/// Versions read per background step.
const STEP: usize = 2_000;

/// Wall time per background round spent on WhoIs lookups, so new intelligence keeps
/// being enriched with GeoIP while registries answer slowly.
const WHOIS_BUDGET: Duration = Duration::from_secs(20);

/// The stored enrichment of an object, if any.
/// The last seq the background enricher has passed; None when it has never run.
pub fn enriched_through(store: &dyn Store) -> Option<i64> {
    store.doc(CURSOR_KIND, "seq").ok().flatten().and_then(|d| d.parse().ok())
}

pub fn stored(store: &dyn Store, id: &str) -> Result<Option<Value>, String> {
    match store.doc(KIND, id).map_err(|e| e.to_string())? {
        Some(d) => serde_json::from_str(&d).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// Enriches new intelligence in the server, in bounded steps.
pub async fn follow_store(store: Arc<dyn Store>, enricher: Arc<Enricher>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let (store, enricher) = (store.clone(), enricher.clone());
        let step = tokio::task::spawn_blocking(move || {
            loop {
                match enricher.paced_step(store.as_ref()) {
                    Ok(n) if n < STEP => break,
                    Ok(_) => continue,
                    Err(e) => return Err(e),
                }
            }
            enricher.whois_step(store.as_ref(), WHOIS_BUDGET).map(|_| ())
        })
        .await;
        match step {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("enrichment failed (retrying): {e}"),
            Err(e) => tracing::error!("enrichment panicked: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use cairn_enrich::mmdb_writer::MmdbWriter;
    use cairn_store::{Source, SourceKind, SqliteStore};
    use serde_json::json;

    use super::*;
    use crate::ingest::Pipeline;

    pub fn fixture(dir: &std::path::Path) -> std::path::PathBuf {
        let mut w = MmdbWriter::new("GeoIP2-City");
        w.insert(
            "203.0.113.0".parse::<IpAddr>().unwrap(),
            24,
            &json!({
            "country": {"iso_code": "RU", "names": {"en": "Russia"}},
            "autonomous_system_number": 64500, "autonomous_system_organization": "Example Hosting"}),
        );
        let p = dir.join("geo.mmdb");
        std::fs::write(&p, w.build()).unwrap();
        p
    }

    #[test]
    fn new_intelligence_is_enriched_beside_the_object() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let p = Pipeline::new(store.clone());
        let e = Enricher { geoip: Some(GeoIp::open(&[fixture(dir.path())]).unwrap()), whois: None };
        let ind = |n: u32, pattern: &str, modified: &str| {
            json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
                   "created": "2026-01-01T00:00:00.000Z", "modified": modified, "pattern": pattern,
                   "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"})
        };
        let objs = vec![
            ind(1, "[ipv4-addr:value = '203.0.113.9']", "2026-01-01T00:00:00.000Z"),
            ind(2, "[domain-name:value = 'x.example']", "2026-01-01T00:00:00.000Z"),
            json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--5853f6a4-638f-5b4e-9b0f-ded361ae3812", "value": "203.0.113.0/25"}),
        ];
        p.ingest_values(&Source::new(SourceKind::File, "f"), objs.clone()).unwrap();
        assert_eq!(e.catch_up(store.as_ref(), 100).unwrap(), 3);
        let got = stored(store.as_ref(), objs[0]["id"].as_str().unwrap()).unwrap().unwrap();
        assert_eq!(got["geo"][0]["country_iso"], "RU");
        assert_eq!(got["geo"][0]["asn"], 64500);
        assert!(stored(store.as_ref(), objs[1]["id"].as_str().unwrap()).unwrap().is_none());
        assert_eq!(
            stored(store.as_ref(), objs[2]["id"].as_str().unwrap()).unwrap().unwrap()["geo"][0]["ip"],
            "203.0.113.0"
        );
        // The object itself is unchanged, and nothing new is looked at twice.
        let cur = store.current(objs[0]["id"].as_str().unwrap()).unwrap().unwrap();
        assert!(!cur.raw.contains("geo"));
        assert_eq!(e.catch_up(store.as_ref(), 100).unwrap(), 0);
        // A new version pointing elsewhere replaces the enrichment (none here).
        p.ingest_values(
            &Source::new(SourceKind::File, "f"),
            vec![ind(1, "[ipv4-addr:value = '192.0.2.1']", "2026-02-01T00:00:00.000Z")],
        )
        .unwrap();
        assert_eq!(e.catch_up(store.as_ref(), 100).unwrap(), 1);
        assert!(stored(store.as_ref(), objs[0]["id"].as_str().unwrap()).unwrap().is_none());
        // On demand.
        assert!(e.enrich_stored(store.as_ref(), objs[2]["id"].as_str().unwrap()).unwrap().is_some());
        assert!(e.enrich_stored(store.as_ref(), "indicator--00000000-0000-4000-8000-000000000999").unwrap().is_none());
    }

    /// A local RDAP service: IANA-shaped bootstrap files (`com` and 203.0.113.0/24 here,
    /// `net` at a port nothing listens on) and two domains and one network.
    fn rdap_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use axum::extract::Path;
        use axum::routing::get;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (b, h) = (base.clone(), hits.clone());
        let domain = |created: &str, registrar: &str| {
            json!({"objectClassName": "domain", "ldhName": "X", "events": [{"eventAction": "registration", "eventDate": created}],
                   "entities": [{"objectClassName": "entity", "roles": ["registrar"],
                                 "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", registrar]]]}]})
        };
        let fresh = domain("2026-01-01T00:00:00Z", "Quick Registrar");
        let old = domain("2001-05-05T00:00:00Z", "Old Registrar");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let boot = move |Path(f): Path<String>| {
                    let (b, dead) = (b.clone(), dead);
                    async move {
                        let services = match f.as_str() {
                            "dns.json" => json!([[["com"], [format!("{b}/rdap/")]], [["net"], [format!("http://127.0.0.1:{dead}/")]]]),
                            "ipv4.json" => json!([[["203.0.113.0/24"], [format!("{b}/rdap/")]]]),
                            _ => json!([]),
                        };
                        axum::Json(json!({"version": "1.0", "publication": "2026-11-01T00:00:00Z", "services": services}))
                    }
                };
                let rdap = move |Path((kind, q)): Path<(String, String)>| {
                    let (h, fresh, old) = (h.clone(), fresh.clone(), old.clone());
                    async move {
                        h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let body = match (kind.as_str(), q.as_str()) {
                            ("domain", "fresh-example.com") => fresh,
                            ("domain", "old-example.com") => old,
                            ("ip", "203.0.113.9") => json!({"objectClassName": "ip network", "name": "EXAMPLE-NET",
                                "startAddress": "203.0.113.0", "endAddress": "203.0.113.255",
                                "entities": [{"objectClassName": "entity", "roles": ["registrant"], "handle": "EXH",
                                  "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Hosting Ltd"]]]}]}),
                            _ => return axum::http::StatusCode::NOT_FOUND.into_response(),
                        };
                        axum::Json(body).into_response()
                    }
                };
                use axum::response::IntoResponse;
                let app = axum::Router::new().route("/boot/{f}", get(boot)).route("/rdap/{kind}/{q}", get(rdap));
                axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app).await.unwrap();
            });
        });
        (base, hits)
    }

    #[test]
    fn whois_is_looked_up_in_the_background_cached_and_flags_new_domains() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let p = Pipeline::new(store.clone());
        let (base, hits) = rdap_server();
        let e = Enricher {
            geoip: Some(GeoIp::open(&[fixture(dir.path())]).unwrap()),
            whois: Some(WhoisEnrichment {
                client: Whois::new(cairn_enrich::whois::WhoisConfig {
                    bootstrap_base: format!("{base}/boot/"),
                    timeout: Duration::from_secs(2),
                    min_interval: Duration::ZERO,
                    max_wait: Duration::ZERO,
                    iana_whois: None,
                    ..Default::default()
                }),
                ttl: Duration::from_secs(7 * 86_400),
            }),
        };
        let ind = |n: u32, pattern: &str| {
            json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
                   "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "pattern": pattern,
                   "pattern_type": "stix", "valid_from": "2026-01-20T00:00:00Z"})
        };
        let objs = vec![
            ind(1, "[url:value = 'https://www.fresh-example.com/login']"),
            ind(2, "[domain-name:value = 'mail.old-example.com']"),
            ind(3, "[domain-name:value = 'down-example.net']"),
            ind(4, "[ipv4-addr:value = '203.0.113.9'] AND [ipv4-addr:value = '10.0.0.1']"),
        ];
        let id = |n: usize| objs[n]["id"].as_str().unwrap().to_string();
        p.ingest_values(&Source::new(SourceKind::File, "f"), objs.clone()).unwrap();
        let now = cairn_store::now_micros();
        // Ingest and the GeoIP pass ask nobody; the lookups are queued.
        assert_eq!(e.catch_up(store.as_ref(), 100).unwrap(), 4);
        assert_eq!(hits.load(SeqCst), 0);
        assert_eq!(Enricher::pending(store.as_ref()).unwrap(), 4, "the private 10.0.0.1 is never asked about");
        let doc = stored(store.as_ref(), &id(0)).unwrap().unwrap();
        assert_eq!(doc["whois"][0], json!({"target": "fresh-example.com", "status": "pending"}));
        assert_eq!(stored(store.as_ref(), &id(3)).unwrap().unwrap()["geo"][0]["country_iso"], "RU");

        // The queue: three answers over RDAP, one registry that cannot be reached.
        assert_eq!(e.whois_step_at(store.as_ref(), Duration::from_secs(30), now).unwrap(), 4);
        assert_eq!(hits.load(SeqCst), 3);
        let doc = stored(store.as_ref(), &id(0)).unwrap().unwrap();
        assert_eq!(doc["whois"][0]["status"], "ok");
        assert_eq!(doc["whois"][0]["record"]["registrar"], "Quick Registrar");
        assert_eq!(doc["newly_registered_domain"], true);
        assert_eq!(stored(store.as_ref(), &id(1)).unwrap().unwrap()["newly_registered_domain"], false);
        let down = stored(store.as_ref(), &id(2)).unwrap().unwrap();
        assert_eq!(down["whois"][0]["status"], "unreachable", "{down}");
        assert!(down["whois"][0]["error"].as_str().unwrap().contains("could not be reached"), "{down}");
        assert!(down.get("newly_registered_domain").is_none());
        let net = stored(store.as_ref(), &id(3)).unwrap().unwrap();
        assert_eq!(net["whois"][0]["record"]["allocation_org"], "Example Hosting Ltd");
        assert_eq!(store.enrichment_facts(&id(3)).unwrap().unwrap()["network_org"], json!(["Example Hosting Ltd"]));
        // Only the unreachable one stays queued, and it is not retried before its time.
        assert_eq!(Enricher::pending(store.as_ref()).unwrap(), 1);
        assert_eq!(e.whois_step_at(store.as_ref(), Duration::from_secs(30), now + 1_000_000).unwrap(), 0);

        // Search and conditions see the facts.
        let nrd = cairn_condition::Condition::from_json(
            &json!({"field": "enrichment.newly_registered_domain", "operator": "IsTrue"}),
        )
        .unwrap();
        assert_eq!(crate::search::select_ids(store.as_ref(), "indicator", nrd).unwrap(), vec![id(0)]);
        let asn = cairn_condition::Condition::from_json(
            &json!({"field": "enrichment.asn", "operator": "Equals", "value": 64500}),
        )
        .unwrap();
        assert_eq!(crate::search::select_ids(store.as_ref(), "indicator", asn).unwrap(), vec![id(3)]);

        // On demand within the TTL: from the cache. After it: asked again.
        e.enrich_stored_at(store.as_ref(), &id(0), now + 86_400_000_000).unwrap();
        assert_eq!(hits.load(SeqCst), 3);
        let later = now + 8 * 86_400_000_000;
        let doc = e.enrich_stored_at(store.as_ref(), &id(0), later).unwrap().unwrap();
        assert_eq!(hits.load(SeqCst), 4);
        assert_eq!(doc["whois"][0]["fetched_at"], json!(stamp(later)));
        // The STIX object itself never changed.
        assert_eq!(store.versions(&id(0)).unwrap().len(), 1);
    }

    #[test]
    fn ingestion_rules_test_enrichment_facts() {
        use crate::ingestion_rules::{add, dry_run, IngestionRule};
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let e = Arc::new(Enricher { geoip: Some(GeoIp::open(&[fixture(dir.path())]).unwrap()), whois: None });
        let p = Pipeline::new(store.clone()).with_facts(e.fact_source(store.clone()));
        let rule = |v: Value| -> IngestionRule { serde_json::from_value(v).unwrap() };
        add(
            store.as_ref(),
            rule(json!({"name": "no hosting ASN", "applies_to": ["file"],
                        "condition": {"field": "enrichment.asn", "operator": "Equals", "value": 64500}, "action": "delete"})),
        )
        .unwrap();
        let ind = |n: u32, ip: &str| {
            json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
                   "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                   "pattern": format!("[ipv4-addr:value = '{ip}']"), "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"})
        };
        let out = p
            .ingest_values(&Source::new(SourceKind::File, "f"), vec![ind(1, "203.0.113.9"), ind(2, "192.0.2.1")])
            .unwrap();
        assert!(matches!(&out[0], crate::ingest::ObjectOutcome::Dropped { .. }), "{out:?}");
        assert!(!matches!(&out[1], crate::ingest::ObjectOutcome::Dropped { .. }), "{out:?}");
        // Without a fact source (no enrichment configured) nothing is known, nothing dropped.
        let plain = Pipeline::new(store.clone());
        let out = plain.ingest_values(&Source::new(SourceKind::File, "f"), vec![ind(3, "203.0.113.10")]).unwrap();
        assert!(!matches!(&out[0], crate::ingest::ObjectOutcome::Dropped { .. }), "{out:?}");
        // A dry run reads the stored facts.
        e.catch_up(store.as_ref(), 100).unwrap();
        let r = rule(
            json!({"name": "country", "condition": {"field": "enrichment.country", "operator": "Equals", "value": "RU"},
                            "action": {"edit": {"add_tags": ["ru"]}}}),
        );
        let d = dry_run(store.as_ref(), &r, 10).unwrap();
        assert_eq!((d.scanned, d.matched), (2, 1));
        assert_eq!(d.sample[0].id, "indicator--00000000-0000-4000-8000-000000000003");
    }
}
