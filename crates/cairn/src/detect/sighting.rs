//! Matches recorded as STIX 2.1 sightings: one `sighting` per indicator per UTC day
//! (Sentinel groups its threat-intelligence alerts over 24 hours the same way), with
//! `count`, `first_seen` and `last_seen` over that day's matching events.
//!
//! A sighting's id is derived from (indicator, day), so recording more matches for the
//! same day makes a new version of the same sighting (counts added, seen-times widened),
//! never a second sighting. Sightings are stored through the ingest pipeline, so they
//! are validated, versioned, listed, exported and shared like any other object.

use std::collections::BTreeMap;

use cairn_stix::Timestamp;
use cairn_store::Source;
use serde_json::{json, Value};
use uuid::Uuid;

use super::Match;
use crate::ingest::{ObjectOutcome, Pipeline};

/// Namespace of sighting ids: UUIDv5 over `"<indicator id>|<YYYY-MM-DD>"`.
const NAMESPACE: Uuid = Uuid::from_u128(0x6b1c_e0a4_7d2f_4c55_9a3e_51c7_d0f8_b2a9);

const DAY: i64 = 86_400_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    count: u64,
    first: i64,
    last: i64,
}

/// Matches not yet written, aggregated.
#[derive(Debug, Default)]
pub struct Sightings {
    /// By (indicator UUID, day since the epoch).
    pending: BTreeMap<(u128, i64), Seen>,
}

/// What a flush wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Sightings written (new ones and new versions).
    pub written: usize,
    /// Sightings the pipeline refused (with its messages).
    pub rejected: Vec<String>,
}

impl Sightings {
    pub fn new() -> Sightings {
        Sightings::default()
    }

    pub fn record(&mut self, m: &Match) {
        if let Some(id) = super::uuid_of(&m.indicator_id) {
            self.record_id(id, m.time);
        }
    }

    /// A match of indicator `indicator--<uuid>` by an event at `time` (µs).
    pub fn record_id(&mut self, uuid: u128, time: i64) {
        let s = self.pending.entry((uuid, time.div_euclid(DAY))).or_insert(Seen { count: 0, first: time, last: time });
        s.count += 1;
        s.first = s.first.min(time);
        s.last = s.last.max(time);
    }

    /// Sightings waiting to be written.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Writes the pending sightings, merged with what the store already has for the
    /// same indicator and day, in one transaction.
    pub fn flush(&mut self, pipeline: &Pipeline, source: &Source) -> anyhow::Result<Flushed> {
        if self.pending.is_empty() {
            return Ok(Flushed::default());
        }
        let now = cairn_store::now_micros();
        let mut objects = Vec::with_capacity(self.pending.len() + 1);
        // Who sighted: this Cairn instance, as an identity (made once), so a sighting
        // shared with another platform says where it was seen.
        let me = instance_identity(&pipeline.store().instance_id()?);
        let me_id = me["id"].as_str().expect("an id").to_owned();
        if pipeline.store().current(&me_id)?.is_none() {
            objects.push(me);
        }
        for ((uuid, day), seen) in std::mem::take(&mut self.pending) {
            let indicator = format!("indicator--{}", Uuid::from_u128(uuid));
            let date = &Timestamp::from_unix_micros(day * DAY).format_digits(0)[..10];
            let id = format!("sighting--{}", Uuid::new_v5(&NAMESPACE, format!("{indicator}|{date}").as_bytes()));
            let previous = match pipeline.store().current(&id)? {
                Some(v) => serde_json::from_str::<Value>(&v.raw).ok(),
                None => None,
            };
            objects.push(sighting(&id, &indicator, &me_id, seen, previous.as_ref(), now));
        }
        let identity_first = objects[0]["type"] == "identity";
        let outcomes = pipeline.ingest_values(source, objects)?;
        let mut flushed = Flushed::default();
        for (i, o) in outcomes.into_iter().enumerate() {
            match o {
                ObjectOutcome::Rejected { errors } => flushed.rejected.push(errors.join("; ")),
                _ if i == 0 && identity_first => {}
                _ => flushed.written += 1,
            }
        }
        Ok(flushed)
    }
}

fn micros(v: Option<&Value>) -> Option<i64> {
    Timestamp::parse(v?.as_str()?).ok().map(|t| t.unix_micros())
}

/// The identity of this Cairn instance (`identity_class` `system`), with an id derived
/// from the instance id: the author of sightings and of objects created in Cairn. Its
/// text must never change (a stored copy would then conflict with it).
pub(crate) fn instance_identity(instance: &str) -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": format!("identity--{}", Uuid::new_v5(&NAMESPACE, format!("instance|{instance}").as_bytes())),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "name": format!("Cairn {instance}"),
        "identity_class": "system",
        "description": "The Cairn instance whose event-log matching produced these sightings.",
    })
}

/// The sighting for `seen`, as a new version of `previous` when there is one.
fn sighting(id: &str, indicator: &str, me: &str, mut seen: Seen, previous: Option<&Value>, now: i64) -> Value {
    let ts = |t: i64| Timestamp::from_unix_micros(t).format_digits(3);
    let ts_us = |t: i64| Timestamp::from_unix_micros(t).format_digits(6);
    // Milliseconds, the precision `modified` is written in.
    let mut modified = now - now.rem_euclid(1_000);
    let mut created = modified;
    if let Some(p) = previous {
        seen.count += p.get("count").and_then(Value::as_u64).unwrap_or(0);
        if let Some(f) = micros(p.get("first_seen")) {
            seen.first = seen.first.min(f);
        }
        if let Some(l) = micros(p.get("last_seen")) {
            seen.last = seen.last.max(l);
        }
        created = micros(p.get("created")).unwrap_or(created);
        if let Some(m) = micros(p.get("modified")) {
            // A new version must be strictly newer.
            modified = modified.max(m + 1_000);
        }
    }
    json!({
        "type": "sighting",
        "spec_version": "2.1",
        "id": id,
        "created": ts(created),
        "modified": ts(modified),
        "created_by_ref": me,
        "sighting_of_ref": indicator,
        "where_sighted_refs": [me],
        "count": seen.count.min(999_999_999),
        "first_seen": ts_us(seen.first),
        "last_seen": ts_us(seen.last),
        "description": "Events matching this indicator, found by Cairn (one sighting per indicator per UTC day).",
    })
}
