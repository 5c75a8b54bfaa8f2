//! `cairn match`: match event logs (JSON lines) against the stored indicators.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_pattern::index::Event;
use cairn_store::{Source, SourceKind};
use clap::Args;

use crate::detect::{Correlator, Detector, Mapping, Sightings};
use crate::ingest::Pipeline;

#[derive(Args, Debug)]
#[command(after_long_help = MAPPING_HELP)]
pub struct MatchArgs {
    /// Events, one JSON object per line: a file, or '-' for stdin.
    #[arg(long)]
    pub events: String,
    /// How event fields map to STIX observables: ecs, cef (CommonSecurityLog), dns
    /// (DnsEvents), syslog, asim, or a mapping file (JSON, see below).
    #[arg(long, default_value = "ecs")]
    pub mapping: String,
    /// Do not record matches as sightings.
    #[arg(long)]
    pub no_sightings: bool,
    /// Also load indicators whose validity has ended (to match old logs; each event is
    /// still matched only against indicators valid at the event's time).
    #[arg(long)]
    pub include_expired: bool,
    /// The source name the sightings are recorded under.
    #[arg(long, default_value = "cairn match")]
    pub source: String,
    /// Matching threads (default: one per CPU). Output keeps the input's order.
    #[arg(long)]
    pub threads: Option<usize>,
}

const MAPPING_HELP: &str = "\
Output: one JSON line per match on stdout:
  {\"event\":{...},\"indicator_id\":...,\"observable_key\":...,\"observable_value\":...,
   \"confidence\":...,\"tags\":[...],\"source\":...}
A pattern that only several events can match ([a] AND [b], FOLLOWEDBY, REPEATS n TIMES)
matches across the input: its line is that of the event that completed it, with the
earlier events in \"correlated_events\"; a match uses its events up. Events are kept
for the pattern's outermost WITHIN, else one day, at most 64 per indicator.
A summary goes to stderr. Exit status: 0, or 2 when some lines were not JSON objects.

An event matches an indicator when the event's time (its timestamp field, else now)
lies in the indicator's validity and the indicator's latest version is neither revoked
nor deleted. Matches are recorded as STIX sightings, one per indicator per UTC day.

A mapping file:
  {\"timestamp\": [\"ts\"],
   \"fields\": [
     {\"field\": \"src\", \"target\": \"network-traffic:src_ref.value\"},
     {\"field\": \"client.addr\", \"target\": \"ip\"},
     {\"field\": \"sha\", \"target\": \"hash\"},
     {\"field\": \"msg\", \"target\": \"ip\", \"extract\": \"ip\"},
     {\"field\": \"answers\", \"target\": \"ip\", \"split\": \",\"},
     {\"field\": \"host\", \"target\": \"domain-name:value\", \"lower\": true}]}
Targets are STIX object paths, or `ip` (IPv4/IPv6 by value) or `hash` (a file hash,
the algorithm told by length). `extract` is `ip` or `url`.";

/// Counts of one run.
#[derive(Debug, Default)]
pub struct MatchSummary {
    pub events: u64,
    pub matches: u64,
    pub bad_lines: u64,
}

/// An event that made indicators of several observations candidates: the correlator
/// takes it after the lines before it, in the input's order.
struct Pend {
    /// Where the event's own match lines end in its chunk's output.
    at: usize,
    time: i64,
    bundle: serde_json::Value,
    text: Arc<str>,
    slots: Vec<u32>,
}

/// Matches one line (`number` counts from 1), appending match lines to `out`,
/// (indicator, event time) pairs to `hits`, and the event to `pends` if the correlator
/// must see it.
#[allow(clippy::too_many_arguments)]
fn match_one(
    detector: &Detector,
    mapping: &Mapping,
    text: &str,
    number: u64,
    now: i64,
    out: &mut Vec<u8>,
    hits: Option<&mut Vec<(u128, i64)>>,
    pends: &mut Vec<Pend>,
    summary: &mut MatchSummary,
    errors: &mut Vec<String>,
) -> io::Result<()> {
    summary.events += 1;
    let mut current = Event { time: now, fields: Vec::with_capacity(8) };
    if let Err(e) = mapping.read(text, now, &mut current) {
        summary.bad_lines += 1;
        if errors.len() < 20 {
            errors.push(format!("line {number}: not an event: {e}"));
        }
        return Ok(());
    }
    let (mut found, mut slots) = (Vec::new(), Vec::new());
    detector.find_with_pending(&current, &mut found, &mut slots);
    let mut hits = hits;
    for f in &found {
        summary.matches += 1;
        detector.write_match(f, text, out)?;
        if let Some(h) = hits.as_deref_mut() {
            h.push((detector.uuid(f), current.time));
        }
    }
    if !slots.is_empty() {
        // Numbered by line (wrapping): events of one window are never 2^32 lines apart.
        let bundle = current.to_bundle_as(number as u32);
        pends.push(Pend { at: out.len(), time: current.time, bundle, text: Arc::from(text), slots });
    }
    Ok(())
}

/// Gives `pends` to the correlator in order, writing `out` up to each and then the
/// matches it completed; returns how many it completed.
fn correlate(
    detector: &Detector,
    correlator: &mut Correlator,
    out_so_far: &[u8],
    pends: &[Pend],
    out: &mut dyn Write,
    mut sightings: Option<&mut Sightings>,
) -> io::Result<u64> {
    let (mut written, mut matches) = (0, 0);
    let mut together = Vec::new();
    for p in pends {
        out.write_all(&out_so_far[written..p.at])?;
        written = p.at;
        together.clear();
        detector.correlate(correlator, &p.slots, p.time, &p.bundle, &p.text, &mut together);
        for c in &together {
            matches += 1;
            detector.write_correlated(c, out)?;
            if let Some(s) = sightings.as_deref_mut() {
                s.record_id(detector.uuid(&c.found), p.time);
            }
        }
    }
    out.write_all(&out_so_far[written..])?;
    Ok(matches)
}

/// Lines per unit of work for the threads.
const CHUNK_LINES: usize = 4096;

/// [`match_lines`] on `threads` threads: the input is read in chunks of lines here,
/// matched by the threads, and written back here in the input's order.
pub fn match_lines_parallel(
    detector: &Detector,
    mapping: &Mapping,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    mut sightings: Option<&mut Sightings>,
    threads: usize,
) -> io::Result<MatchSummary> {
    use std::collections::BTreeMap;
    use std::sync::{mpsc, Mutex};
    if threads <= 1 {
        return match_lines(detector, mapping, input, out, sightings);
    }
    struct Done {
        seq: u64,
        out: Vec<u8>,
        pends: Vec<Pend>,
        hits: Vec<(u128, i64)>,
        summary: MatchSummary,
        errors: Vec<String>,
    }
    let record = sightings.is_some();
    let mut total = MatchSummary::default();
    let mut shown = 0usize;
    std::thread::scope(|scope| -> io::Result<MatchSummary> {
        // Bounded work queue (memory stays bounded), unbounded results (a worker never
        // waits for the writer, so the reader waiting on the queue cannot deadlock).
        let (work_tx, work_rx) = mpsc::sync_channel::<(u64, u64, Vec<u8>)>(threads * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = mpsc::channel::<io::Result<Done>>();
        for _ in 0..threads {
            let (rx, tx) = (work_rx.clone(), done_tx.clone());
            scope.spawn(move || loop {
                let next = rx.lock().expect("work queue").recv();
                let Ok((seq, first, chunk)) = next else { return };
                let now = cairn_store::now_micros();
                let mut d = Done {
                    seq,
                    out: Vec::with_capacity(chunk.len()),
                    pends: Vec::new(),
                    hits: Vec::new(),
                    summary: MatchSummary::default(),
                    errors: Vec::new(),
                };
                let mut result = Ok(());
                for (i, line) in chunk.split(|&b| b == b'\n').enumerate() {
                    let number = first + i as u64;
                    let text = match std::str::from_utf8(line) {
                        Ok(t) => t.trim(),
                        Err(e) => {
                            d.summary.events += 1;
                            d.summary.bad_lines += 1;
                            d.errors.push(format!("line {number}: not UTF-8: {e}"));
                            continue;
                        }
                    };
                    if text.is_empty() {
                        continue;
                    }
                    let hits = if record { Some(&mut d.hits) } else { None };
                    result = match_one(
                        detector, mapping, text, number, now, &mut d.out, hits, &mut d.pends, &mut d.summary,
                        &mut d.errors,
                    );
                    if result.is_err() {
                        break;
                    }
                }
                if tx.send(result.map(|()| d)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next_out = 0u64;
        let mut correlator = Correlator::new();
        let mut write_ready = |pending: &mut BTreeMap<u64, Done>, next_out: &mut u64| -> io::Result<()> {
            while let Some(d) = pending.remove(next_out) {
                total.matches += correlate(detector, &mut correlator, &d.out, &d.pends, out, sightings.as_deref_mut())?;
                if let Some(s) = sightings.as_deref_mut() {
                    for (id, t) in &d.hits {
                        s.record_id(*id, *t);
                    }
                }
                for e in &d.errors {
                    if shown < 20 {
                        eprintln!("{e}");
                        shown += 1;
                    }
                }
                total.events += d.summary.events;
                total.matches += d.summary.matches;
                total.bad_lines += d.summary.bad_lines;
                *next_out += 1;
            }
            Ok(())
        };
        let (mut seq, mut line_no) = (0u64, 1u64);
        loop {
            let mut chunk = Vec::with_capacity(1 << 20);
            let mut lines = 0;
            while lines < CHUNK_LINES && input.read_until(b'\n', &mut chunk)? > 0 {
                lines += 1;
            }
            if lines == 0 {
                break;
            }
            if chunk.last() == Some(&b'\n') {
                chunk.pop();
            }
            work_tx.send((seq, line_no, chunk)).expect("workers run until the queue closes");
            seq += 1;
            line_no += lines as u64;
            while let Ok(d) = done_rx.try_recv() {
                let d = d?;
                pending.insert(d.seq, d);
            }
            write_ready(&mut pending, &mut next_out)?;
        }
        drop(work_tx);
        for d in done_rx.iter() {
            let d = d?;
            pending.insert(d.seq, d);
            write_ready(&mut pending, &mut next_out)?;
        }
        if total.bad_lines > 20 {
            eprintln!("… {} unreadable lines in all", total.bad_lines);
        }
        Ok(std::mem::take(&mut total))
    })
}

/// Matches every line of `input`, writing match lines to `out` and recording sightings.
pub fn match_lines(
    detector: &Detector,
    mapping: &Mapping,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    mut sightings: Option<&mut Sightings>,
) -> io::Result<MatchSummary> {
    let mut summary = MatchSummary::default();
    let mut line = String::new();
    let mut number = 0u64;
    let mut now = cairn_store::now_micros();
    let mut errors = Vec::new();
    let mut hits = Vec::new();
    let (mut own, mut pends) = (Vec::new(), Vec::new());
    let mut correlator = Correlator::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if number.is_multiple_of(65_536) {
            now = cairn_store::now_micros();
        }
        let shown = errors.len();
        let record = if sightings.is_some() { Some(&mut hits) } else { None };
        own.clear();
        pends.clear();
        match_one(detector, mapping, text, number, now, &mut own, record, &mut pends, &mut summary, &mut errors)?;
        summary.matches += correlate(detector, &mut correlator, &own, &pends, out, sightings.as_deref_mut())?;
        if let Some(e) = errors.get(shown) {
            eprintln!("{e}");
        }
        if let Some(s) = sightings.as_deref_mut() {
            for (id, t) in hits.drain(..) {
                s.record_id(id, t);
            }
        }
    }
    if summary.bad_lines > 20 {
        eprintln!("… {} unreadable lines in all", summary.bad_lines);
    }
    Ok(summary)
}

pub fn run(data: &Path, a: MatchArgs) -> anyhow::Result<i32> {
    let mapping = Mapping::load(&a.mapping)?;
    let store = crate::cli::open_store(data)?;
    let started = Instant::now();
    let detector = Detector::load(store.as_ref(), a.include_expired)?;
    let loaded = started.elapsed();
    let stdin = io::stdin();
    let mut input: Box<dyn BufRead> = if a.events == "-" {
        Box::new(stdin.lock())
    } else {
        let f =
            std::fs::File::open(&a.events).map_err(|e| anyhow::anyhow!("cannot read events from {}: {e}", a.events))?;
        Box::new(io::BufReader::with_capacity(1 << 20, f))
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut sightings = Sightings::new();
    let t = Instant::now();
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)).max(1);
    let summary = match_lines_parallel(
        &detector,
        &mapping,
        &mut input,
        &mut out,
        if a.no_sightings { None } else { Some(&mut sightings) },
        threads,
    )?;
    out.flush()?;
    let matched = t.elapsed();
    let mut written = 0;
    if !a.no_sightings {
        let pipeline = Pipeline::new(store);
        let flushed = sightings.flush(&pipeline, &Source::new(SourceKind::Detection, a.source.clone()))?;
        for r in &flushed.rejected {
            eprintln!("error: a sighting was rejected: {r}");
        }
        written = flushed.written;
    }
    let rate = summary.events as f64 / matched.as_secs_f64().max(1e-9);
    eprintln!(
        "{} events, {} matches, {} unreadable lines; {} indicators loaded in {:.2} s ({} not stix patterns, {} unusable); \
         matched at {:.0} events/s on {threads} threads; {} sightings written",
        summary.events,
        summary.matches,
        summary.bad_lines,
        detector.len(),
        loaded.as_secs_f64(),
        detector.skipped_type,
        detector.skipped_unusable,
        rate,
        written,
    );
    Ok(if summary.bad_lines > 0 { 2 } else { 0 })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_store::{SqliteStore, Store};
    use serde_json::json;

    use super::*;

    /// Threads change nothing but speed: same lines, same order, same counts, same
    /// sightings as one thread, across many chunks, with bad lines in between.
    #[test]
    fn parallel_matching_keeps_the_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let objs: Vec<_> = (0..50)
            .map(|n| {
                json!({"type": "indicator", "spec_version": "2.1",
                       "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
                       "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                       "pattern": format!("[ipv4-addr:value = '198.51.100.{n}']"), "pattern_type": "stix",
                       "valid_from": "2026-01-01T00:00:00Z"})
            })
            .collect();
        Pipeline::new(store.clone()).ingest_values(&Source::new(SourceKind::File, "t"), objs).unwrap();
        let detector = Detector::load(store.as_ref(), false).unwrap();
        let mapping = Mapping::load("ecs").unwrap();
        let mut input = String::new();
        for i in 0..(3 * CHUNK_LINES + 17) {
            if i % 1000 == 999 {
                input.push_str("not json\n");
            }
            input.push_str(&format!(
                "{{\"@timestamp\":\"2026-06-0{}T00:00:00Z\",\"source\":{{\"ip\":\"198.51.100.{}\"}}}}\n",
                1 + i % 3,
                i % 200
            ));
        }
        let run = |threads: usize| {
            let mut out = Vec::new();
            let mut s = Sightings::new();
            let summary = match_lines_parallel(
                &detector,
                &mapping,
                &mut io::Cursor::new(input.as_bytes()),
                &mut out,
                Some(&mut s),
                threads,
            )
            .unwrap();
            (out, summary.events, summary.matches, summary.bad_lines, s.len())
        };
        let one = run(1);
        assert_eq!(one.3, 12);
        assert!(one.2 > 3000, "{} matches", one.2);
        assert_eq!(one.4, 150, "50 indicators × 3 days");
        for threads in [2, 3] {
            assert!(run(threads) == one, "{threads} threads differ from one");
        }
    }
}
