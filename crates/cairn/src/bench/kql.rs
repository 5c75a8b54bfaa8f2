//! `cairn bench kql`: the KQL engine over N stored indicators and an M-row event file,
//! each query beside the same question asked of DataFusion in SQL over the same tables.

use std::sync::Arc;
use std::time::Instant;

use cairn_kql::files::FileFormat;
use cairn_kql::tables::TiTables;
use cairn_kql::Engine;
use cairn_store::{Source, SourceKind, SqliteStore, Store};
use datafusion::arrow::array::{ArrayRef, StringBuilder, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use super::{indicator, peak_rss_mib};
use crate::ingest::{ImportOptions, Pipeline};

/// (what, KQL, SQL): the goal's queries, and their plain-SQL twins.
const QUERIES: [(&str, &str, &str); 6] = [
    (
        "plain filter (engine overhead)",
        "ThreatIntelIndicators | where Confidence == 1000 | count",
        r#"SELECT count(*) FROM "ThreatIntelIndicators" WHERE "Confidence" = 1000"#,
    ),
    (
        "arg_max by Id, count by ObservableKey",
        "ThreatIntelIndicators | summarize arg_max(TimeGenerated, *) by Id | summarize count() by ObservableKey",
        r#"SELECT "ObservableKey", count(*) FROM (SELECT *, row_number() OVER (PARTITION BY "Id" ORDER BY "TimeGenerated" DESC) AS rn FROM "ThreatIntelIndicators") WHERE rn = 1 GROUP BY "ObservableKey""#,
    ),
    (
        // The same question in SQL as a hash aggregate, the plan KQL's arg_max now uses.
        "arg_max by Id, count by ObservableKey (SQL twin: first_value)",
        "ThreatIntelIndicators | summarize arg_max(TimeGenerated, *) by Id | summarize count() by ObservableKey",
        r#"SELECT "ObservableKey", count(*) FROM (SELECT "Id", first_value("ObservableKey" ORDER BY "TimeGenerated" DESC) AS "ObservableKey" FROM "ThreatIntelIndicators" GROUP BY "Id") GROUP BY "ObservableKey""#,
    ),
    (
        "has (term) filter",
        "ThreatIntelIndicators | where ObservableValue has 'host77' | count",
        r#"SELECT count(*) FROM "ThreatIntelIndicators" WHERE regexp_like("ObservableValue", '(?i)(^|[^[:alnum:]])host77($|[^[:alnum:]])')"#,
    ),
    (
        "contains filter",
        "ThreatIntelIndicators | where ObservableValue contains 'BAD12' | count",
        r#"SELECT count(*) FROM "ThreatIntelIndicators" WHERE "ObservableValue" ILIKE '%BAD12%'"#,
    ),
    (
        "join with the event file",
        "DnsEvents | join kind=inner (ThreatIntelIndicators | where ObservableKey == 'domain-name:value' | project ObservableValue) on $left.Name == $right.ObservableValue | count",
        r#"SELECT count(*) FROM "DnsEvents" e JOIN (SELECT "ObservableValue" FROM "ThreatIntelIndicators" WHERE "ObservableKey" = 'domain-name:value') i ON e."Name" = i."ObservableValue""#,
    ),
];

pub fn bench_kql(count: usize, events: usize, runs: usize, format: FileFormat) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let _g = rt.enter();
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path())?);
    let start = Instant::now();
    let import = |objects: &mut dyn Iterator<Item = serde_json::Value>| -> anyhow::Result<_> {
        let mut data = Vec::new();
        for v in objects {
            serde_json::to_writer(&mut data, &v)?;
            data.push(b'\n');
        }
        let report = Pipeline::new(store.clone()).import(
            &Source::new(SourceKind::File, "bench"),
            std::io::Cursor::new(data),
            ImportOptions { all_or_nothing: false, batch_size: 5_000 },
            &mut |_| {},
        )?;
        Ok(report.summary)
    };
    let created = import(&mut (0..count).map(|i| indicator(i, 0)))?;
    anyhow::ensure!(created.created as usize == count, "expected {count} created, got {created:?}");
    // A history, as feeds make one: every fifth indicator has a later version whose
    // pattern changed (so the latest rows differ from the first ones) and a new confidence.
    let updates = import(&mut (0..count).step_by(5).map(|i| {
        let mut v = indicator(i, 0);
        v["modified"] = serde_json::json!("2024-02-01T00:00:00.000Z");
        v["pattern"] = indicator(i + 1, 0)["pattern"].clone();
        v["confidence"] = serde_json::json!(77);
        v
    }))?;
    let later = updates.new_versions;
    anyhow::ensure!(later as usize == count.div_ceil(5), "expected later versions, got {updates:?}");
    println!("stored {count} indicators and {later} later versions in {:.1} s", start.elapsed().as_secs_f64());

    // The tables as the server builds them: read from the store once, then kept.
    let start = Instant::now();
    let mut tables = TiTables::new(&store.instance_id()?);
    let read = tables.refresh(store.as_ref(), &|_| None, None).map_err(anyhow::Error::msg)?;
    let load = start.elapsed().as_secs_f64();
    let mut engine = Engine::new();
    engine.limits.timeout = std::time::Duration::from_secs(600);
    tables.register(&mut engine).map_err(anyhow::Error::msg)?;
    println!(
        "loaded ThreatIntelIndicators ({} rows) and ThreatIntelObjects from {read} stored versions in {load:.1} s; peak RSS {:.0} MiB",
        tables.indicator_rows(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    let ev_dir = tempfile::tempdir()?;
    let path = write_events(ev_dir.path(), events, count, format)?;
    let size = std::fs::metadata(&path)?.len() as f64 / 1e6;
    engine.add_file_table("DnsEvents", path.to_str().unwrap_or_default(), format).map_err(anyhow::Error::msg)?;
    println!("event file: {events} rows, {size:.1} MB {format:?}");

    let now = cairn_store::now_micros();
    println!("| query | KQL median | SQL median (DataFusion) | KQL / SQL | rows agree |");
    println!("|---|---|---|---|---|");
    for (what, kql, sql) in QUERIES {
        let mut k_times = Vec::new();
        let mut s_times = Vec::new();
        let mut k_rows = Vec::new();
        let mut s_rows = Vec::new();
        // One warm-up each, then alternate so both see the same machine.
        for i in 0..=runs {
            let t = Instant::now();
            let r = engine.run(kql, now).map_err(|e| anyhow::anyhow!("{}", e.render(kql)))?;
            if i > 0 {
                k_times.push(t.elapsed().as_secs_f64());
            }
            k_rows = sorted(r.rows);
            let t = Instant::now();
            let r = engine.run_sql(sql).map_err(|e| anyhow::anyhow!("{sql}: {e}"))?;
            if i > 0 {
                s_times.push(t.elapsed().as_secs_f64());
            }
            s_rows = sorted(r);
        }
        let (k, s) = (median(&mut k_times), median(&mut s_times));
        // arg_max by Id picks any one of an indicator's rows with the latest time (a
        // compound pattern has several), in Kusto as in SQL's row_number: the keys and
        // the total must agree, the split of tied rows between keys may not.
        let total = |rows: &[Vec<serde_json::Value>]| -> (Vec<String>, i64) {
            (
                rows.iter().map(|r| r[0].to_string()).collect(),
                rows.iter().filter_map(|r| r.last().and_then(serde_json::Value::as_i64)).sum(),
            )
        };
        let agree = if what.starts_with("arg_max") { total(&k_rows) == total(&s_rows) } else { k_rows == s_rows };
        println!(
            "| {what} | {:.0} ms | {:.0} ms | {:.2}× | {} ({}) |",
            k * 1e3,
            s * 1e3,
            k / s,
            if agree { "yes" } else { "NO" },
            summary(&k_rows)
        );
        anyhow::ensure!(agree, "{what}: KQL gave {k_rows:?}, SQL gave {s_rows:?}");
    }
    println!("peak RSS {:.0} MiB; {runs} timed runs per query after one warm-up", peak_rss_mib().unwrap_or(f64::NAN));
    Ok(0)
}

fn sorted(mut rows: Vec<Vec<serde_json::Value>>) -> Vec<Vec<serde_json::Value>> {
    rows.sort_by_key(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>());
    rows
}

fn summary(rows: &[Vec<serde_json::Value>]) -> String {
    if rows.len() == 1 {
        rows[0].iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
    } else {
        format!("{} rows", rows.len())
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// DNS-like events: one in a hundred names a generated indicator's domain.
fn write_events(
    dir: &std::path::Path,
    n: usize,
    indicators: usize,
    format: FileFormat,
) -> anyhow::Result<std::path::PathBuf> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("TimeGenerated", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new("Name", DataType::Utf8, true),
        Field::new("ClientIP", DataType::Utf8, true),
    ]));
    let now = cairn_store::now_micros();
    let domains = indicators / 4;
    let batch = |from: usize, to: usize| -> anyhow::Result<RecordBatch> {
        let mut t = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut name = StringBuilder::new();
        let mut ip = StringBuilder::new();
        for i in from..to {
            t.append_value(now - (i as i64) * 1_000_000);
            if i % 100 == 0 && domains > 0 {
                // Indicator 4k+1 is the domain host{4k+1}.example.com.
                let k = (i / 100) % domains;
                name.append_value(format!("host{}.example.com", 4 * k + 1));
            } else {
                name.append_value(format!("site{i}.example.org"));
            }
            ip.append_value(format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff));
        }
        let cols: Vec<ArrayRef> = vec![Arc::new(t.finish()), Arc::new(name.finish()), Arc::new(ip.finish())];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    };
    let step = 100_000;
    match format {
        FileFormat::Parquet => {
            let path = dir.join("dns.parquet");
            let f = std::fs::File::create(&path)?;
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(f, schema.clone(), None)?;
            for from in (0..n).step_by(step) {
                w.write(&batch(from, (from + step).min(n))?)?;
            }
            w.close()?;
            Ok(path)
        }
        FileFormat::Jsonl | FileFormat::Csv => {
            use std::io::Write;
            let csv = format == FileFormat::Csv;
            let path = dir.join(if csv { "dns.csv" } else { "dns.jsonl" });
            let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
            if csv {
                writeln!(w, "TimeGenerated,Name,ClientIP")?;
            }
            for from in (0..n).step_by(step) {
                let b = batch(from, (from + step).min(n))?;
                let names =
                    b.column(1).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().expect("names");
                let ips = b.column(2).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().expect("ips");
                for r in 0..b.num_rows() {
                    let t = cairn_kql::format_datetime(now - ((from + r) as i64) * 1_000_000);
                    if csv {
                        writeln!(w, "{t},{},{}", names.value(r), ips.value(r))?;
                    } else {
                        writeln!(
                            w,
                            r#"{{"TimeGenerated":"{t}","Name":"{}","ClientIP":"{}"}}"#,
                            names.value(r),
                            ips.value(r)
                        )?;
                    }
                }
            }
            w.flush()?;
            Ok(path)
        }
    }
}
