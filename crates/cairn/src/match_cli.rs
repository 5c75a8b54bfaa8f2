//! `cairn match`: match event logs (JSON lines) against the stored indicators.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use cairn_pattern::index::Event;
use cairn_store::{Source, SourceKind};
use clap::Args;

use crate::detect::{Detector, Mapping, Sightings};
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
}

const MAPPING_HELP: &str = "\
Output: one JSON line per match on stdout:
  {\"event\":{...},\"indicator_id\":...,\"observable_key\":...,\"observable_value\":...,
   \"confidence\":...,\"tags\":[...],\"source\":...}
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
    let mut found = Vec::new();
    let mut number = 0u64;
    let mut now = cairn_store::now_micros();
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
        summary.events += 1;
        // The event borrows from `line`, so it lives for one iteration.
        let mut current = Event { time: now, fields: Vec::with_capacity(8) };
        if let Err(e) = mapping.read(text, now, &mut current) {
            summary.bad_lines += 1;
            if summary.bad_lines <= 20 {
                eprintln!("line {number}: not an event: {e}");
            }
            continue;
        }
        found.clear();
        detector.find(&current, &mut found);
        for f in &found {
            summary.matches += 1;
            detector.write_match(f, text, out)?;
            if let Some(s) = sightings.as_deref_mut() {
                s.record_id(detector.uuid(f), current.time);
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
    let summary = match_lines(
        &detector,
        &mapping,
        &mut input,
        &mut out,
        if a.no_sightings { None } else { Some(&mut sightings) },
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
         matched at {:.0} events/s; {} sightings written",
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
