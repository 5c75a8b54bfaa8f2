//! Enrichment of stored intelligence: GeoIP for the addresses an indicator or address
//! object is about, kept beside the object (the STIX object and its `modified` never
//! change), refreshed when the object gets a new version.
//!
//! New intelligence is enriched in the background by following the store by `seq`, so
//! ingestion never waits for it; `cairn enrich` and `POST /api/v1/objects/{id}/enrich`
//! do it on demand.

use std::sync::Arc;
use std::time::Duration;

use cairn_enrich::GeoIp;
use cairn_store::{Filter, Store, VersionSelect};
use serde_json::{json, Value};

const KIND: &str = "enrichment";
const CURSOR_KIND: &str = "enrichment-cursor";

/// What enrichment needs: the databases (GeoIP only, for now).
pub struct Enricher {
    pub geoip: GeoIp,
}

impl Enricher {
    /// Enriches one object from its JSON; `None` when there is nothing to say (no
    /// addresses, or no database knows them).
    pub fn enrich(&self, obj: &Value) -> Option<Value> {
        let geo: Vec<Value> = cairn_enrich::addresses(obj)
            .into_iter()
            .filter_map(|a| self.geoip.lookup(a))
            .map(|g| serde_json::to_value(g).expect("geo serialises"))
            .collect();
        if geo.is_empty() {
            return None;
        }
        Some(json!({
            "geo": geo,
            "enriched_at": cairn_stix::Timestamp::from_unix_micros(cairn_store::now_micros()).format_digits(3),
        }))
    }

    /// Enriches the current version of `id` now and stores the result. `Ok(None)`: no
    /// such object, or nothing to say (an older enrichment is then removed).
    pub fn enrich_stored(&self, store: &dyn Store, id: &str) -> Result<Option<Value>, String> {
        let Some(v) = store.current(id).map_err(|e| e.to_string())? else { return Ok(None) };
        let obj: Value = serde_json::from_str(&v.raw).map_err(|e| e.to_string())?;
        self.save(store, id, self.enrich(&obj))
    }

    fn save(&self, store: &dyn Store, id: &str, e: Option<Value>) -> Result<Option<Value>, String> {
        match &e {
            Some(doc) => store.put_doc(KIND, id, &doc.to_string()).map_err(|e| e.to_string())?,
            None => {
                store.delete_doc(KIND, id).map_err(|e| e.to_string())?;
            }
        }
        Ok(e)
    }

    /// Enriches what was stored since the last call (up to `max` versions); returns how
    /// many versions it looked at. The cursor is kept in the store, so a restart resumes.
    pub fn catch_up(&self, store: &dyn Store, max: usize) -> Result<usize, String> {
        let after: Option<i64> = store.doc(CURSOR_KIND, "seq").map_err(|e| e.to_string())?.and_then(|d| d.parse().ok());
        let filter = Filter { versions: VersionSelect::All, ..Filter::default() };
        let page = store.list(&filter, after, max).map_err(|e| e.to_string())?;
        let Some(last) = page.items.last().map(|v| v.seq) else { return Ok(0) };
        let mut results: Vec<(String, Option<String>)> = Vec::new();
        for v in &page.items {
            if v.tombstone || !matches!(v.stix_type.as_str(), "indicator" | "ipv4-addr" | "ipv6-addr") {
                continue;
            }
            // Only the current version counts; an older one arriving late changes nothing.
            let current = store.current(&v.id).map_err(|e| e.to_string())?;
            if current.as_ref().is_some_and(|c| c.seq == v.seq) {
                let obj: Value = serde_json::from_str(&v.raw).map_err(|e| e.to_string())?;
                results.push((v.id.clone(), self.enrich(&obj).map(|e| e.to_string())));
            }
        }
        // One transaction for the step, cursor included: ingest shares the one writer, and
        // a crash cannot lose a step's results while keeping its cursor.
        let cursor = last.to_string();
        let mut changes: Vec<(&str, &str, Option<&str>)> =
            results.iter().map(|(id, doc)| (KIND, id.as_str(), doc.as_deref())).collect();
        changes.push((CURSOR_KIND, "seq", Some(&cursor)));
        store.write_docs(&changes).map_err(|e| e.to_string())?;
        Ok(page.items.len())
    }
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

/// The stored enrichment of an object, if any.
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
        let step = tokio::task::spawn_blocking(move || loop {
            match enricher.paced_step(store.as_ref()) {
                Ok(n) if n < STEP => return Ok(()),
                Ok(_) => continue,
                Err(e) => return Err(e),
            }
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
        let e = Enricher { geoip: GeoIp::open(&[fixture(dir.path())]).unwrap() };
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
}
