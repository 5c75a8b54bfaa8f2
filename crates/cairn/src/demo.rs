//! `cairn demo`: a realistic dataset for trying Cairn out (and for screenshots): feeds
//! with overlapping indicators of every common type, TLP markings, tags, confidence and
//! expiry, the threat actors, malware and campaigns they point at, relationships, and
//! sightings. Deterministic (a fixed seed), and loaded through the ingest pipeline like
//! any other intelligence, so rules, enrichment and the tables see it.

use cairn_store::{Source, SourceKind};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::ingest::{ObjectOutcome, Pipeline};

const FEEDS: [&str; 4] = ["AlienVault OTX", "abuse.ch URLhaus", "CISA AIS", "Internal SOC"];
const ACTORS: [(&str, &str); 4] = [
    ("APT29", "nation-state"),
    ("FIN7", "crime-syndicate"),
    ("Lazarus Group", "nation-state"),
    ("Scattered Spider", "criminal"),
];
const MALWARE: [(&str, &str); 5] = [
    ("Emotet", "trojan"),
    ("Cobalt Strike", "remote-access-trojan"),
    ("QakBot", "trojan"),
    ("AgentTesla", "spyware"),
    ("LockBit", "ransomware"),
];
const WORDS: [&str; 16] = [
    "secure", "login", "update", "account", "cloud", "mail", "office", "verify", "portal", "files", "cdn", "support",
    "billing", "auth", "sync", "docs",
];
const TLDS: [&str; 8] = ["com", "net", "org", "ru", "top", "xyz", "info", "io"];
const TAGS: [&str; 6] = ["phishing", "c2", "botnet", "ransomware", "scanner", "credential-theft"];

/// What a demo load stored.
#[derive(Debug, Default, serde::Serialize)]
pub struct DemoReport {
    pub stored: usize,
    pub rejected: usize,
}

fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid().to_string()
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Loads `indicators` indicators (and their context) as of `now`.
pub fn load(pipeline: &Pipeline, indicators: usize, now: DateTime<Utc>) -> Result<DemoReport, String> {
    let mut rng = StdRng::seed_from_u64(0xca1f_2026);
    let mut report = DemoReport::default();
    let mut record = |outcomes: Vec<ObjectOutcome>| {
        for o in outcomes {
            match o {
                ObjectOutcome::Rejected { .. } => report.rejected += 1,
                ObjectOutcome::Created | ObjectOutcome::NewVersion => report.stored += 1,
                _ => {}
            }
        }
    };
    let created = now - Duration::days(90);
    // The context: actors, malware and campaigns, from the analysts' own source.
    let mut sdos = Vec::new();
    let mut actor_ids = Vec::new();
    for (name, kind) in ACTORS {
        let id = format!("threat-actor--{}", uuid(&mut rng));
        actor_ids.push(id.clone());
        sdos.push(json!({"type": "threat-actor", "spec_version": "2.1", "id": id, "created": ts(created),
            "modified": ts(created), "name": name, "threat_actor_types": [kind], "confidence": 80}));
    }
    let mut malware_ids = Vec::new();
    for (name, kind) in MALWARE {
        let id = format!("malware--{}", uuid(&mut rng));
        malware_ids.push(id.clone());
        sdos.push(json!({"type": "malware", "spec_version": "2.1", "id": id, "created": ts(created),
            "modified": ts(created), "name": name, "malware_types": [kind], "is_family": true}));
    }
    for (i, actor) in actor_ids.iter().enumerate() {
        let id = format!("campaign--{}", uuid(&mut rng));
        sdos.push(json!({"type": "campaign", "spec_version": "2.1", "id": id, "created": ts(created),
            "modified": ts(created), "name": format!("Operation {}", ["Nightfall", "Glasswing", "Copperhead", "Tidewater"][i])}));
        sdos.push(
            json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid(&mut rng)),
            "created": ts(created), "modified": ts(created), "relationship_type": "attributed-to",
            "source_ref": id, "target_ref": actor}),
        );
        sdos.push(
            json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid(&mut rng)),
            "created": ts(created), "modified": ts(created), "relationship_type": "uses",
            "source_ref": actor, "target_ref": malware_ids[i % malware_ids.len()]}),
        );
    }
    let analysts = Source::new(SourceKind::Upload, "Internal SOC");
    record(pipeline.ingest_values(&analysts, sdos).map_err(|e| e.to_string())?);

    // Indicators, feed by feed; a tenth of the values appear in two feeds.
    let mut per_feed: Vec<Vec<Value>> = vec![Vec::new(); FEEDS.len()];
    let mut links = Vec::new();
    for i in 0..indicators {
        let word = |rng: &mut StdRng| WORDS[rng.gen_range(0..WORDS.len())];
        let (pattern, name, tag) = match i % 5 {
            0 => {
                let ip = format!(
                    "{}.{}.{}.{}",
                    [45, 91, 185, 193][rng.gen_range(0..4)],
                    rng.gen_range(0..255),
                    rng.gen_range(0..255),
                    rng.gen_range(1..255)
                );
                (format!("[ipv4-addr:value = '{ip}']"), format!("C2 server {ip}"), "c2")
            }
            1 => {
                let d = format!(
                    "{}-{}{}.{}",
                    word(&mut rng),
                    word(&mut rng),
                    rng.gen_range(1..99),
                    TLDS[rng.gen_range(0..TLDS.len())]
                );
                (format!("[domain-name:value = '{d}']"), format!("Phishing domain {d}"), "phishing")
            }
            2 => {
                let u = format!(
                    "http://{}{}.{}/{}/{}.php",
                    word(&mut rng),
                    rng.gen_range(1..999),
                    TLDS[rng.gen_range(0..TLDS.len())],
                    word(&mut rng),
                    word(&mut rng)
                );
                (format!("[url:value = '{u}']"), format!("Malware download {u}"), "botnet")
            }
            3 => {
                let h: String = (0..64).map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0')).collect();
                (format!("[file:hashes.'SHA-256' = '{h}']"), format!("Payload {}", &h[..12]), "ransomware")
            }
            _ => {
                let e = format!(
                    "{}.{}@{}{}.{}",
                    word(&mut rng),
                    word(&mut rng),
                    word(&mut rng),
                    rng.gen_range(1..99),
                    TLDS[rng.gen_range(0..TLDS.len())]
                );
                (format!("[email-addr:value = '{e}']"), format!("Phishing sender {e}"), "credential-theft")
            }
        };
        let feed = i % FEEDS.len();
        let seen = now - Duration::minutes(rng.gen_range(0..60 * 24 * 60));
        let tlp = stix_tlp(rng.gen_range(0..10));
        let mut obj = json!({
            "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{}", uuid(&mut rng)),
            "created": ts(seen), "modified": ts(seen), "name": name,
            "description": format!("{} reported by {}", name, FEEDS[feed]),
            "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": "stix",
            "valid_from": ts(seen), "confidence": rng.gen_range(10..100),
            "labels": [tag, TAGS[rng.gen_range(0..TAGS.len())]],
            "object_marking_refs": [tlp],
        });
        // Some have expired, some expire soon, the rest in months.
        let until = seen + Duration::days([7, 30, 90, 180][rng.gen_range(0..4)]);
        obj["valid_until"] = json!(ts(until));
        if rng.gen_bool(0.05) {
            obj["revoked"] = json!(true);
        }
        if i % 10 == 0 {
            let mut again = obj.clone();
            again["id"] = json!(format!("indicator--{}", uuid(&mut rng)));
            per_feed[(feed + 1) % FEEDS.len()].push(again);
        }
        if i % 3 == 0 {
            let target = if i % 2 == 0 { &malware_ids[i % malware_ids.len()] } else { &actor_ids[i % actor_ids.len()] };
            links.push((obj["id"].as_str().unwrap_or_default().to_string(), target.clone(), seen));
        }
        per_feed[feed].push(obj);
    }
    for (f, objs) in FEEDS.iter().zip(per_feed) {
        let src = Source::new(SourceKind::Connector, *f);
        for chunk in objs.chunks(5_000) {
            record(pipeline.ingest_values(&src, chunk.to_vec()).map_err(|e| e.to_string())?);
        }
    }
    // Relationships from indicators, and sightings of a few of them.
    let mut rels = Vec::new();
    for (n, (from, to, seen)) in links.iter().enumerate() {
        rels.push(json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid(&mut rng)),
            "created": ts(*seen), "modified": ts(*seen), "relationship_type": "indicates", "source_ref": from, "target_ref": to}));
        if n % 7 == 0 {
            let first = now - Duration::hours(rng.gen_range(1..24 * 30));
            rels.push(json!({"type": "sighting", "spec_version": "2.1", "id": format!("sighting--{}", uuid(&mut rng)),
                "created": ts(first), "modified": ts(first), "sighting_of_ref": from, "count": rng.gen_range(1..20),
                "first_seen": ts(first), "last_seen": ts(first + Duration::minutes(rng.gen_range(1..600)))}));
        }
    }
    for chunk in rels.chunks(5_000) {
        record(pipeline.ingest_values(&analysts, chunk.to_vec()).map_err(|e| e.to_string())?);
    }
    Ok(report)
}

/// A TLP marking, mostly green and amber as feeds share them.
fn stix_tlp(roll: u32) -> &'static str {
    let level = match roll {
        0..=1 => "clear",
        2..=5 => "green",
        6..=8 => "amber",
        _ => "red",
    };
    cairn_stix::spec::TLP2_MARKINGS.iter().find(|(_, _, l)| *l == level).map_or("", |(id, _, _)| id)
}
