//! Patterns that only several events can match — `[a] AND [b]`, `FOLLOWEDBY`,
//! `REPEATS n TIMES` — matched across a stream of events.
//!
//! Key design decision: no second matcher. Each such indicator keeps a window of the
//! recent events that could take part in a match (the events that hit one of its
//! triggers, which for these patterns cover every observation: see
//! [`IndicatorIndex::find_with_pending`]). When one arrives, the [`Matcher`] evaluates
//! the pattern over the whole window as a list of observed-data — the verdict
//! `stix2-matcher` gives for those observations, qualifiers included — and a match
//! consumes the events it used, so a burst of events gives one match, not one more per
//! later event.
//!
//! Invariants: a window keeps events no older than the pattern's outermost `WITHIN`
//! (else [`Correlator::horizon`]) before the newest event, and at most
//! [`Correlator::capacity`] of them (the oldest leave first); the caller numbers each
//! event's bundle apart ([`super::Event::to_bundle_as`]), since objects are found by id
//! across the window's bundles.

use std::collections::VecDeque;

use serde_json::Value;

use super::{Found, IndicatorIndex};
use crate::matcher::Observations;
use crate::Version;

/// Indicators matched by several events together. `T` is what the caller keeps of an
/// event (its text, its number) to report the events of a match.
pub struct Correlator<T> {
    windows: hashbrown::HashMap<u128, Window<T>>,
    /// How long an event is kept for a pattern without `WITHIN` (µs). Default: one day.
    pub horizon: i64,
    /// Events kept per indicator at most. Default: 64.
    pub capacity: usize,
    pushes: u64,
}

struct Window<T> {
    /// How long its events are kept (µs).
    keep: i64,
    /// One bundle per event, in arrival order (the matcher reads them as a slice).
    bundles: VecDeque<Value>,
    /// Each event's time and the caller's item, in the same order.
    held: VecDeque<(i64, T)>,
}

/// A match that several events made together.
#[derive(Debug)]
pub struct Correlated<'i, T> {
    /// The indicator, reported by its pattern's first equality.
    pub found: Found<'i>,
    /// The caller's items of the events of the match, in arrival order; the last one
    /// completed it.
    pub events: Vec<T>,
}

impl<T> Default for Correlator<T> {
    fn default() -> Self {
        Correlator { windows: Default::default(), horizon: 86_400_000_000, capacity: 64, pushes: 0 }
    }
}

impl<T: Clone> Correlator<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes an event that made the indicators `pending` candidates (from
    /// [`IndicatorIndex::find_with_pending`]): `bundle` is the event as
    /// [`super::Event::to_bundle_as`] makes it, numbered apart from every other event
    /// pushed. Appends the matches it completed to `out`.
    pub fn push<'i, M>(
        &mut self,
        index: &'i IndicatorIndex<M>,
        pending: &[u32],
        time: i64,
        bundle: &Value,
        item: &T,
        out: &mut Vec<Correlated<'i, T>>,
    ) {
        self.pushes += 1;
        if self.pushes.is_multiple_of(4096) {
            self.sweep(time);
        }
        for &slot in pending {
            let Some((id, matcher, within)) = index.several(slot) else { continue };
            let keep = within.unwrap_or(self.horizon);
            let w = self.windows.entry(id).or_insert_with(|| Window {
                keep,
                bundles: VecDeque::new(),
                held: VecDeque::new(),
            });
            w.keep = keep;
            while w.held.front().is_some_and(|(t, _)| *t < time.saturating_sub(keep)) || w.held.len() >= self.capacity {
                w.held.pop_front();
                w.bundles.pop_front();
            }
            w.bundles.push_back(bundle.clone());
            w.held.push_back((time, item.clone()));
            let used = {
                let slice: &[Value] = w.bundles.make_contiguous();
                match Observations::new(slice, Version::V21) {
                    Ok(observed) => matcher.first_match(&observed).unwrap_or_default(),
                    Err(_) => Vec::new(),
                }
            };
            if used.is_empty() {
                continue;
            }
            let events = used.iter().filter_map(|&i| w.held.get(i).map(|(_, t)| t.clone())).collect();
            for &i in used.iter().rev() {
                w.held.remove(i);
                w.bundles.remove(i);
            }
            out.push(Correlated { found: index.found_first(slot), events });
        }
    }

    /// Drops the windows whose newest event is too old to matter at `now`.
    pub fn sweep(&mut self, now: i64) {
        self.windows.retain(|_, w| w.held.back().is_some_and(|(t, _)| *t >= now.saturating_sub(w.keep)));
    }

    /// Events held, over all windows.
    pub fn held(&self) -> usize {
        self.windows.values().map(|w| w.held.len()).sum()
    }
}
