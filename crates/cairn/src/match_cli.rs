//! `cairn match`: match event logs (JSON lines) against the stored indicators.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_pattern::index::{Event, Scratch, BATCH};
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

/// What matching one chunk of lines gave: its output, the events the correlator must
/// see, the matches to record as sightings, counts and messages.
#[derive(Default)]
struct Done {
    seq: u64,
    out: Vec<u8>,
    pends: Vec<Pend>,
    hits: Vec<(u128, i64)>,
    summary: MatchSummary,
    errors: Vec<String>,
}

/// Matches the lines of `chunk` (`first` is the number of its first line, counting from
/// 1), [`BATCH`] events at a time through [`cairn_pattern::index::IndicatorIndex::find_batch`], appending match
/// lines in the input's order to `d.out`, (indicator, event time) pairs to `d.hits` when
/// `record`, and the events the correlator must see to `d.pends`.
/// Returns how many lines the chunk had.
fn match_chunk(
    detector: &Detector,
    mapping: &Mapping,
    chunk: &[u8],
    first: u64,
    now: i64,
    record: bool,
    d: &mut Done,
) -> u64 {
    // Valid UTF-8 as a whole means every line is (a newline never splits a character).
    let whole = std::str::from_utf8(chunk).ok();
    let mut lines = memchr::memchr_iter(b'\n', chunk)
        .chain([chunk.len()])
        .scan(0, |start, end| {
            let line = &chunk[*start..end];
            *start = end + 1;
            Some(line)
        })
        .enumerate()
        .peekable();
    let mut events: Vec<Event<'_>> = Vec::with_capacity(BATCH);
    let mut texts: Vec<(&str, u64)> = Vec::with_capacity(BATCH);
    let (mut found, mut pending, mut ends) = (Vec::new(), Vec::new(), Vec::new());
    let mut scratch = Scratch::default();
    let mut count = 0;
    while lines.peek().is_some() {
        let mut used = 0;
        texts.clear();
        for (i, line) in lines.by_ref() {
            let number = first + i as u64;
            count = i as u64 + 1;
            let text = match whole {
                // `line` lies within `chunk`: the same bytes of `whole`.
                Some(w) => {
                    let start = line.as_ptr() as usize - chunk.as_ptr() as usize;
                    &w[start..start + line.len()]
                }
                None => match std::str::from_utf8(line) {
                    Ok(t) => t,
                    Err(e) => {
                        d.summary.events += 1;
                        d.summary.bad_lines += 1;
                        d.errors.push(format!("line {number}: not UTF-8: {e}"));
                        continue;
                    }
                },
            }
            .trim();
            if text.is_empty() {
                continue;
            }
            d.summary.events += 1;
            if used == events.len() {
                events.push(Event { time: now, fields: Vec::with_capacity(8) });
            }
            if let Err(e) = mapping.read(text, now, &mut events[used]) {
                d.summary.bad_lines += 1;
                if d.errors.len() < 20 {
                    d.errors.push(format!("line {number}: not an event: {e}"));
                }
                continue;
            }
            texts.push((text, number));
            used += 1;
            if used == BATCH {
                break;
            }
        }
        found.clear();
        pending.clear();
        ends.clear();
        detector.index().find_batch(&events[..used], &mut scratch, &mut found, &mut pending, &mut ends);
        let (mut f0, mut p0) = (0, 0);
        for (n, &(f1, p1)) in ends.iter().enumerate() {
            let (text, number) = texts[n];
            let event = &events[n];
            for f in &found[f0..f1] {
                d.summary.matches += 1;
                detector.write_match_into(f, text, &mut d.out);
                if record {
                    d.hits.push((detector.uuid(f), event.time));
                }
            }
            if p1 > p0 {
                // Numbered by line (wrapping): events of one window are never 2^32 lines apart.
                let bundle = event.to_bundle_as(number as u32);
                let slots = pending[p0..p1].to_vec();
                d.pends.push(Pend { at: d.out.len(), time: event.time, bundle, text: Arc::from(text), slots });
            }
            (f0, p0) = (f1, p1);
        }
    }
    count
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
    let record = sightings.is_some();
    let mut total = MatchSummary::default();
    let mut shown = 0usize;
    std::thread::scope(|scope| -> io::Result<MatchSummary> {
        // Bounded work queue (memory stays bounded), unbounded results (a worker never
        // waits for the writer, so the reader waiting on the queue cannot deadlock).
        let (work_tx, work_rx) = mpsc::sync_channel::<(u64, u64, Vec<u8>)>(threads * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        for _ in 0..threads {
            let (rx, tx) = (work_rx.clone(), done_tx.clone());
            scope.spawn(move || loop {
                let next = rx.lock().expect("work queue").recv();
                let Ok((seq, first, chunk)) = next else { return };
                let mut d = Done { seq, out: Vec::with_capacity(chunk.len()), ..Done::default() };
                match_chunk(detector, mapping, &chunk, first, cairn_store::now_micros(), record, &mut d);
                if tx.send(d).is_err() {
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
                write_done(detector, &mut correlator, &d, out, sightings.as_deref_mut(), &mut total, &mut shown)?;
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
                pending.insert(d.seq, d);
            }
            write_ready(&mut pending, &mut next_out)?;
        }
        drop(work_tx);
        for d in done_rx.iter() {
            pending.insert(d.seq, d);
            write_ready(&mut pending, &mut next_out)?;
        }
        if total.bad_lines > 20 {
            eprintln!("… {} unreadable lines in all", total.bad_lines);
        }
        Ok(std::mem::take(&mut total))
    })
}

/// Writes a matched chunk in order: its lines, the correlator's matches at their
/// places; records its sightings, adds its counts, shows its first messages.
fn write_done(
    detector: &Detector,
    correlator: &mut Correlator,
    d: &Done,
    out: &mut dyn Write,
    mut sightings: Option<&mut Sightings>,
    total: &mut MatchSummary,
    shown: &mut usize,
) -> io::Result<()> {
    total.matches += correlate(detector, correlator, &d.out, &d.pends, out, sightings.as_deref_mut())?;
    if let Some(s) = sightings {
        for (id, t) in &d.hits {
            s.record_id(*id, *t);
        }
    }
    for e in &d.errors {
        if *shown < 20 {
            eprintln!("{e}");
            *shown += 1;
        }
    }
    total.events += d.summary.events;
    total.matches += d.summary.matches;
    total.bad_lines += d.summary.bad_lines;
    Ok(())
}

/// Matches every line of `input` on this thread, writing match lines to `out` and
/// recording sightings. The lines already read are matched together (what the
/// input's buffer holds), so a file goes by in large batches while a slow stream
/// (`tail -f … | cairn match --events -`) gets each line's matches as soon as it ends.
pub fn match_lines(
    detector: &Detector,
    mapping: &Mapping,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    mut sightings: Option<&mut Sightings>,
) -> io::Result<MatchSummary> {
    let mut total = MatchSummary::default();
    let mut shown = 0usize;
    let mut line_no = 1u64;
    let mut correlator = Correlator::new();
    let mut d = Done::default();
    let mut long = Vec::new();
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (chunk, used) = match memchr::memrchr(b'\n', buf) {
            Some(last) => (&buf[..last], last + 1),
            // A line longer than the buffer, or a last line without a newline.
            None => {
                long.clear();
                input.read_until(b'\n', &mut long)?;
                (&long[..], 0)
            }
        };
        d.out.clear();
        d.pends.clear();
        d.hits.clear();
        d.errors.clear();
        d.summary = MatchSummary::default();
        let lines =
            match_chunk(detector, mapping, chunk, line_no, cairn_store::now_micros(), sightings.is_some(), &mut d);
        if used > 0 {
            input.consume(used);
        }
        line_no += lines;
        write_done(detector, &mut correlator, &d, out, sightings.as_deref_mut(), &mut total, &mut shown)?;
        out.flush()?;
    }
    if total.bad_lines > 20 {
        eprintln!("… {} unreadable lines in all", total.bad_lines);
    }
    Ok(total)
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
        // One thread reading through a small buffer (each fill a few lines, and lines
        // longer than the buffer) matches what it reads in the same way.
        let mut out = Vec::new();
        let mut s = Sightings::new();
        let mut small = io::BufReader::with_capacity(100, input.as_bytes());
        let summary = match_lines(&detector, &mapping, &mut small, &mut out, Some(&mut s)).unwrap();
        assert!((out, summary.events, summary.matches, summary.bad_lines, s.len()) == one, "small reads differ");
    }
}
