//! The SQLite search index: one row per live object's current version (columns to filter
//! and sort by), its tags, and an FTS5 table over its text.
//!
//! The index follows the versions table by `seq` rather than being written by ingest:
//! ingest stays as fast as it was (indexes cost a random B-tree insert each), and the
//! index catches up in its own transactions — before each search, and in the server's
//! background loop. A search reports how far behind the index is.

use base64::Engine;
use cairn_condition::{parse_offset, parse_time, Clause, Condition, Field, Operator, Subject};
use rusqlite::types::Value as Sql;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;

use super::{version_from_row, VERSION_COLUMNS};
use crate::search::{Facets, IndexProgress, SearchPage, SearchQuery, SortField};
use crate::{Result, StoreError};

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE search (
        rid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        seq INTEGER NOT NULL,            -- the current version's row
        type TEXT NOT NULL,
        source TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL COLLATE NOCASE,        -- '' when absent
        confidence INTEGER NOT NULL,              -- -1 when absent
        tlp TEXT NOT NULL,                        -- '' when unmarked
        created TEXT NOT NULL,                    -- fixed-width keys; '' when absent
        modified TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT NOT NULL,
        pattern_type TEXT NOT NULL COLLATE NOCASE,
        revoked INTEGER NOT NULL,
        tags TEXT NOT NULL                        -- JSON array, to delete search_tags rows
    );
    CREATE INDEX search_modified ON search (modified, rid);
    CREATE INDEX search_type_modified ON search (type, modified, rid);
    CREATE INDEX search_created ON search (created, rid);
    CREATE INDEX search_name ON search (name, rid);
    CREATE INDEX search_confidence ON search (confidence, rid);
    CREATE INDEX search_valid_until ON search (valid_until, rid);
    CREATE INDEX search_source ON search (source, rid);
    CREATE INDEX search_seq ON search (seq, rid);
    CREATE TABLE search_tags (
        tag TEXT NOT NULL COLLATE NOCASE,
        rid INTEGER NOT NULL,
        PRIMARY KEY (tag, rid)
    ) WITHOUT ROWID;
    -- The objects a relationship or sighting points at, for graph walks.
    CREATE TABLE search_refs (
        ref TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (ref, rid)
    ) WITHOUT ROWID;
    CREATE VIRTUAL TABLE search_fts USING fts5(
        body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
    );
    -- The indexed terms, to turn a keyword prefix into the words it stands for.
    CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_fts, 'row');
"#;

/// The index's columns for one object.
struct Row {
    id: String,
    seq: i64,
    stix_type: String,
    source: String,
    name: String,
    confidence: i64,
    tlp: String,
    created: String,
    modified: String,
    valid_from: String,
    valid_until: String,
    pattern_type: String,
    revoked: bool,
    tags: Vec<String>,
    body: String,
    /// For relationships and sightings: the ids they point at.
    refs: Vec<String>,
}

/// The ids a relationship or sighting connects.
fn refs_of(obj: &Value) -> Vec<String> {
    let one = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let many = |k: &str| -> Vec<String> {
        obj.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let mut out = match obj.get("type").and_then(Value::as_str) {
        Some("relationship") => one("source_ref").into_iter().chain(one("target_ref")).collect(),
        Some("sighting") => {
            let mut v: Vec<String> = one("sighting_of_ref").into_iter().collect();
            v.extend(many("where_sighted_refs"));
            v.extend(many("observed_data_refs"));
            v
        }
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    out
}

fn time_key(obj: &Value, k: &str) -> String {
    obj.get(k)
        .and_then(Value::as_str)
        .and_then(|t| cairn_stix::Timestamp::parse(t).ok())
        .map(|t| t.key())
        .unwrap_or_default()
}

fn row_of(id: String, seq: i64, source: String, raw: &str) -> Row {
    let obj: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let tags: Vec<String> = obj
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let mut body = [text("name"), text("description"), text("pattern")].join("\n");
    let stix = obj.get("pattern_type").and_then(Value::as_str).is_none_or(|t| t == "stix");
    if let (Some(p), true) = (obj.get("pattern").and_then(Value::as_str), stix) {
        let version =
            obj.get("pattern_version").or_else(|| obj.get("spec_version")).and_then(Value::as_str).unwrap_or("2.0");
        if let Ok(p) = cairn_pattern::parse(p, cairn_pattern::Version::from_reference_str(version)) {
            for o in cairn_pattern::observables(&p) {
                body.push('\n');
                body.push_str(&o.value);
            }
        }
    }
    // SCOs carry their value in `value` (ipv4-addr, domain-name, url, …).
    if let Some(v) = obj.get("value").and_then(Value::as_str) {
        body.push('\n');
        body.push_str(v);
    }
    let tlp = cairn_condition::tlp_levels(&obj).next().unwrap_or_default().to_string();
    Row {
        tlp,
        refs: refs_of(&obj),
        stix_type: text("type"),
        name: text("name"),
        confidence: obj.get("confidence").and_then(Value::as_i64).unwrap_or(-1),
        created: time_key(&obj, "created"),
        modified: time_key(&obj, "modified"),
        valid_from: time_key(&obj, "valid_from"),
        valid_until: time_key(&obj, "valid_until"),
        pattern_type: text("pattern_type"),
        revoked: obj.get("revoked").and_then(Value::as_bool).unwrap_or(false),
        tags,
        body,
        id,
        seq,
        source,
    }
}

fn indexed_up_to(c: &Connection) -> Result<i64> {
    let v: Option<String> =
        c.query_row("SELECT value FROM meta WHERE key = 'search_seq'", [], |r| r.get(0)).optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub(super) fn lag(c: &Connection) -> Result<u64> {
    let from = indexed_up_to(c)?;
    let n: i64 = c.query_row("SELECT count(*) FROM versions WHERE seq > ?1", [from], |r| r.get(0))?;
    Ok(n as u64)
}

/// Indexes up to `max` versions stored since the index last caught up.
pub(super) fn refresh(tx: &Transaction<'_>, max: usize) -> Result<IndexProgress> {
    let from = indexed_up_to(tx)?;
    let mut ids: Vec<String> = Vec::new();
    let mut last = from;
    {
        let mut st = tx.prepare_cached("SELECT seq, id FROM versions WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut rows = st.query(params![from, max as i64])?;
        while let Some(r) = rows.next()? {
            last = r.get(0)?;
            ids.push(r.get(1)?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let mut current = tx.prepare_cached(
        "SELECT o.deleted, o.current_seq, v.raw, s.name FROM objects o JOIN versions v ON v.seq = o.current_seq
         JOIN sources s ON s.id = v.source_id WHERE o.id = ?1",
    )?;
    let mut existing = tx.prepare_cached("SELECT rid, seq, tags, type FROM search WHERE id = ?1")?;
    let mut del_refs =
        tx.prepare_cached("DELETE FROM search_refs WHERE rid = ?1 AND ref IN (SELECT value FROM json_each(?2))")?;
    let mut add_ref = tx.prepare_cached("INSERT OR IGNORE INTO search_refs (ref, rid) VALUES (?1, ?2)")?;
    let mut old_raw =
        tx.prepare_cached("SELECT v.raw FROM search x JOIN versions v ON v.seq = x.seq WHERE x.rid = ?1")?;
    let mut del_row = tx.prepare_cached("DELETE FROM search WHERE rid = ?1")?;
    let mut del_tag = tx.prepare_cached("DELETE FROM search_tags WHERE tag = ?1 AND rid = ?2")?;
    let mut del_fts = tx.prepare_cached("DELETE FROM search_fts WHERE rowid = ?1")?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO search (rid, id, seq, type, source, name, confidence, tlp, created, modified, valid_from,
                             valid_until, pattern_type, revoked, tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, type = excluded.type, source = excluded.source,
           name = excluded.name, confidence = excluded.confidence, tlp = excluded.tlp, created = excluded.created,
           modified = excluded.modified, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
           pattern_type = excluded.pattern_type, revoked = excluded.revoked, tags = excluded.tags
         RETURNING rid",
    )?;
    let mut add_tag = tx.prepare_cached("INSERT OR IGNORE INTO search_tags (tag, rid) VALUES (?1, ?2)")?;
    let mut add_fts = tx.prepare_cached("INSERT INTO search_fts (rowid, body) VALUES (?1, ?2)")?;
    let mut indexed = 0;
    for id in ids {
        let now: Option<(bool, i64, String, String)> =
            current.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional()?;
        let old: Option<(i64, i64, String, String)> =
            existing.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional()?;
        if let (Some((false, seq, _, _)), Some((_, old_seq, _, _))) = (&now, &old) {
            if seq == old_seq {
                continue; // a late older version or a re-delivery: the current one is indexed
            }
        }
        if let Some((rid, _, tags, stix_type)) = &old {
            for t in serde_json::from_str::<Vec<String>>(tags).unwrap_or_default() {
                del_tag.execute(params![t, rid])?;
            }
            del_fts.execute([rid])?;
            if matches!(stix_type.as_str(), "relationship" | "sighting") {
                let raw: String = old_raw.query_row([rid], |r| r.get(0))?;
                let refs = refs_of(&serde_json::from_str(&raw).unwrap_or(Value::Null));
                del_refs.execute(params![rid, serde_json::to_string(&refs).expect("strings serialise")])?;
            }
        }
        match now {
            Some((false, seq, raw, source)) => {
                let row = row_of(id, seq, source, &raw);
                let rid: i64 = upsert.query_row(
                    params![
                        old.as_ref().map(|o| o.0),
                        row.id,
                        row.seq,
                        row.stix_type,
                        row.source,
                        row.name,
                        row.confidence,
                        row.tlp,
                        row.created,
                        row.modified,
                        row.valid_from,
                        row.valid_until,
                        row.pattern_type,
                        row.revoked,
                        serde_json::to_string(&row.tags).expect("strings serialise"),
                    ],
                    |r| r.get(0),
                )?;
                for t in &row.tags {
                    add_tag.execute(params![t, rid])?;
                }
                for r in &row.refs {
                    add_ref.execute(params![r, rid])?;
                }
                add_fts.execute(params![rid, row.body])?;
            }
            _ => {
                if let Some((rid, _, _, _)) = old {
                    del_row.execute([rid])?;
                }
            }
        }
        indexed += 1;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('search_seq', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [last.to_string()],
    )?;
    // The planner needs statistics to choose between the indexes (e.g. scanning by name
    // rather than fetching a quarter of the rows by source): refreshed whenever the index
    // has grown by half since they were taken, sampling so that it stays quick.
    let rows: i64 = tx.query_row("SELECT coalesce(max(rid), 0) FROM search", [], |r| r.get(0))?;
    let analyzed: i64 = tx
        .query_row("SELECT value FROM meta WHERE key = 'search_analyzed_rows'", [], |r| r.get::<_, String>(0))
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if rows >= 10_000 && rows > analyzed + analyzed / 2 {
        tx.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE search; ANALYZE search_tags;")?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('search_analyzed_rows', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [rows.to_string()],
        )?;
    }
    let remaining: i64 = tx.query_row("SELECT count(*) FROM versions WHERE seq > ?1", [last], |r| r.get(0))?;
    Ok(IndexProgress { indexed, lag: remaining as u64 })
}

/// SQL for a condition: a WHERE fragment, and whether it selects exactly what the
/// condition does. When not exact it selects a superset, which the caller narrows with
/// `Condition::holds`.
struct Compiled {
    sql: String,
    exact: bool,
}

fn compile(c: &Condition, args: &mut Vec<Sql>, plan: &Plan<'_>) -> Compiled {
    // SQL that is dropped must take its bound arguments with it.
    let mark = args.len();
    let inexact = |args: &mut Vec<Sql>| {
        args.truncate(mark);
        Compiled { sql: "1".into(), exact: false }
    };
    match c {
        Condition::All(cs) => {
            let parts: Vec<Compiled> = cs.iter().map(|c| compile(c, args, plan)).collect();
            let exact = parts.iter().all(|p| p.exact);
            let sql: Vec<String> = parts.into_iter().filter(|p| p.sql != "1").map(|p| format!("({})", p.sql)).collect();
            Compiled { sql: if sql.is_empty() { "1".into() } else { sql.join(" AND ") }, exact }
        }
        Condition::Any(cs) => {
            if cs.is_empty() {
                return Compiled { sql: "0".into(), exact: true };
            }
            let parts: Vec<Compiled> = cs.iter().map(|c| compile(c, args, plan)).collect();
            // One inexact branch makes the whole OR unknowable in SQL: keep everything.
            if parts.iter().any(|p| !p.exact) {
                return inexact(args);
            }
            let sql: Vec<String> = parts.into_iter().map(|p| format!("({})", p.sql)).collect();
            Compiled { sql: sql.join(" OR "), exact: true }
        }
        Condition::Not(c) => {
            let inner = compile(c, args, plan);
            if inner.exact {
                Compiled { sql: format!("NOT ({})", inner.sql), exact: true }
            } else {
                inexact(args)
            }
        }
        Condition::Clause(cl) => match clause(cl, args, plan) {
            Some(sql) => Compiled { sql, exact: true },
            None => inexact(args),
        },
    }
}

/// SQL for one clause, when the index answers it exactly.
fn clause(cl: &Clause, args: &mut Vec<Sql>, plan: &Plan<'_>) -> Option<String> {
    let now = plan.now;
    use Operator::*;
    let negated = cl.operator.positive();
    let op = negated.unwrap_or(cl.operator);
    let values: Vec<&str> = cl.values().collect();
    let mut bind = |v: Sql| {
        args.push(v);
        format!("?{}", args.len())
    };
    let time_col = match cl.field {
        Field::Created => Some("x.created"),
        Field::Modified => Some("x.modified"),
        Field::ValidFrom => Some("x.valid_from"),
        Field::ValidUntil => Some("x.valid_until"),
        _ => None,
    };
    let text_col = match cl.field {
        Field::Id => Some("x.id"),
        Field::Type => Some("x.type"),
        Field::Source => Some("x.source"),
        Field::Name => Some("x.name"),
        Field::PatternType => Some("x.pattern_type"),
        Field::Tlp => Some("x.tlp"),
        _ => None,
    };
    // NOCASE and LIKE fold ASCII only, as the evaluator does for ASCII text.
    let ascii = values.iter().all(|v| v.is_ascii());
    let key = |t: i64| cairn_stix::Timestamp::from_unix_micros(t).key();
    let one = |v: &str, bind: &mut dyn FnMut(Sql) -> String| -> Option<String> {
        Some(match (op, cl.field.clone()) {
            (Equals | ArrayContains, Field::Tags) if ascii => {
                let tag = bind(v.to_string().into());
                if plan.in_form || plan.rare_tags.contains(&v.to_ascii_lowercase()) {
                    // Few objects: the tag's rows drive the query.
                    format!("x.rid IN (SELECT rid FROM search_tags WHERE tag = {tag})")
                } else {
                    // Many: checked row by row while scanning in sort order.
                    format!("EXISTS (SELECT 1 FROM search_tags t WHERE t.tag = {tag} AND t.rid = x.rid)")
                }
            }
            // A missing confidence is stored as -1. Where a test could let -1 through, it
            // is excluded with a second bound, but never as a second lower bound on a
            // lower-bounded test: SQLite would seek from the wrong one (measured: a
            // "confidence >= 80" probe then read 80% of the index).
            (Equals | ArrayContains, Field::Confidence) => {
                let n = v.trim().parse::<f64>().ok()?;
                if n < 0.0 {
                    "0".to_string()
                } else {
                    format!("x.confidence = {}", bind(n.into()))
                }
            }
            (Equals | ArrayContains, Field::Revoked) => {
                format!("x.revoked = {}", bind(i64::from(v.trim().eq_ignore_ascii_case("true")).into()))
            }
            (Equals | ArrayContains, Field::Tlp) => {
                let l = v.trim().to_ascii_lowercase();
                let l = l.strip_prefix("tlp:").or_else(|| l.strip_prefix("tlp2:")).unwrap_or(&l).to_string();
                format!("x.tlp = {}", bind(l.into()))
            }
            (Equals | ArrayContains, _) if time_col.is_some() => {
                format!("{} = {}", time_col?, bind(key(parse_time(v).ok()?).into()))
            }
            (Equals | ArrayContains, _) if text_col.is_some() && ascii => {
                format!("{} = {} COLLATE NOCASE", text_col?, bind(v.to_string().into()))
            }
            (LessThan | LessThanEqual | GreaterThan | GreaterThanEqual, Field::Confidence) => {
                let sym = match op {
                    LessThan => "<",
                    LessThanEqual => "<=",
                    GreaterThan => ">",
                    _ => ">=",
                };
                let n = v.trim().parse::<f64>().ok()?;
                if matches!(op, GreaterThan | GreaterThanEqual) && n >= 0.0 {
                    format!("x.confidence {sym} {}", bind(n.into()))
                } else {
                    format!("(x.confidence >= 0 AND x.confidence {sym} {})", bind(n.into()))
                }
            }
            (LessThan | LessThanEqual | GreaterThan | GreaterThanEqual, _)
            | (OnOrAfterAbsolute | AfterAbsolute | OnOrBeforeAbsolute | BeforeAbsolute, _)
            | (OnOrAfterRelative | AfterRelative | OnOrBeforeRelative | BeforeRelative, _)
                if time_col.is_some() =>
            {
                let at =
                    if op.is_relative() { now.saturating_add(parse_offset(v).ok()?) } else { parse_time(v).ok()? };
                let sym = match op {
                    LessThan | BeforeAbsolute | BeforeRelative => "<",
                    LessThanEqual | OnOrBeforeAbsolute | OnOrBeforeRelative => "<=",
                    GreaterThan | AfterAbsolute | AfterRelative => ">",
                    _ => ">=",
                };
                format!("({c} != '' AND {c} {sym} {})", bind(key(at).into()), c = time_col?)
            }
            (StringContains | StringStartsWith | StringEndsWith, _) if text_col.is_some() && ascii => {
                let esc = v.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                let pat = match op {
                    StringContains => format!("%{esc}%"),
                    StringStartsWith => format!("{esc}%"),
                    _ => format!("%{esc}"),
                };
                format!("{} LIKE {} ESCAPE '\\'", text_col?, bind(pat.into()))
            }
            _ => return None,
        })
    };
    if let Field::Enrichment(fact) = cl.field {
        let positive = enrichment_clause(cl, op, fact, &values, &mut bind)?;
        return Some(if negated.is_some() { format!("NOT {positive}") } else { positive });
    }
    let positive = match op {
        IsNull => match cl.field {
            Field::Confidence => "x.confidence = -1".to_string(),
            Field::Tags => "x.tags = '[]'".to_string(),
            Field::Revoked => "0".to_string(),
            _ if time_col.is_some() => format!("{} = ''", time_col?),
            Field::Tlp => "x.tlp = ''".to_string(),
            _ => return None,
        },
        StringIsEmpty => match cl.field {
            Field::Name | Field::Source | Field::Type | Field::PatternType | Field::Tlp => {
                format!("{} = ''", text_col?)
            }
            _ => return None,
        },
        IsTrue | IsFalse if cl.field == Field::Revoked => format!("x.revoked = {}", i64::from(op == IsTrue)),
        _ => {
            let parts: Option<Vec<String>> = values.iter().map(|v| one(v, &mut bind)).collect();
            let parts = parts?;
            let join = if cl.connective == cairn_condition::Connective::And { " AND " } else { " OR " };
            format!("({})", parts.join(join))
        }
    };
    Some(if negated.is_some() { format!("NOT {positive}") } else { positive })
}

/// SQL for a clause on an enrichment fact, over the fact index: equality (text facts
/// with ASCII values, whole-number ASNs), `IsNull` and `IsTrue`/`IsFalse`. Everything
/// else is left to the evaluator.
fn enrichment_clause(
    cl: &Clause,
    op: Operator,
    fact: cairn_condition::Fact,
    values: &[&str],
    bind: &mut dyn FnMut(Sql) -> String,
) -> Option<String> {
    use cairn_condition::Kind;
    use Operator::*;
    let key = bind(fact.name().to_string().into());
    let has = |value: String, bind: &mut dyn FnMut(Sql) -> String| {
        format!("x.id IN (SELECT id FROM enrichment_fact_index WHERE key = {key} AND value = {})", bind(value.into()))
    };
    match op {
        IsNull => Some(format!("x.id NOT IN (SELECT id FROM enrichment_fact_index WHERE key = {key})")),
        IsTrue | IsFalse if fact.kind() == Kind::Bool => Some(has((op == IsTrue).to_string(), bind)),
        Equals | ArrayContains => {
            let parts: Option<Vec<String>> = values
                .iter()
                .map(|v| {
                    let v = v.trim();
                    let text = match fact.kind() {
                        Kind::Number => v.parse::<u32>().ok()?.to_string(),
                        Kind::Text if v.is_ascii() => v.to_string(),
                        _ => return None,
                    };
                    Some(has(text, bind))
                })
                .collect();
            let join = if cl.connective == cairn_condition::Connective::And { " AND " } else { " OR " };
            Some(format!("({})", parts?.join(join)))
        }
        _ => None,
    }
}

/// An object's enrichment facts.
pub(super) fn facts_of(c: &Connection, id: &str) -> Result<Option<Value>> {
    let mut st = c.prepare_cached("SELECT facts FROM enrichment_facts WHERE id = ?1")?;
    let f: Option<String> = st.query_row([id], |r| r.get(0)).optional()?;
    Ok(f.and_then(|f| serde_json::from_str(&f).ok()))
}

/// An FTS5 query from the user's words: each word must occur (as a prefix); a "quoted
/// phrase" must occur as written.
fn fts_query(keywords: &str) -> Option<String> {
    let terms: Vec<String> = keyword_terms(keywords)
        .into_iter()
        .map(|(term, phrase)| {
            let quoted = format!("\"{}\"", term.replace('"', "\"\""));
            if phrase {
                quoted
            } else {
                format!("{quoted}*")
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The user's keywords: words, and "quoted phrases" (`true`), in order.
fn keyword_terms(keywords: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut rest = keywords.trim();
    while !rest.is_empty() {
        let (term, phrase, next) = if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            (&r[..end], true, r.get(end + 1..).unwrap_or(""))
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        if !term.trim().is_empty() {
            out.push((term, phrase));
        }
        rest = next.trim_start();
    }
    out
}

/// Most words a keyword prefix may stand for when it is spelled out (see [`fts_exact`]).
const MAX_EXPANSION: usize = 64;

/// The keywords as an FTS5 query without prefix terms: each prefix word is replaced by
/// the indexed words it stands for (`"gen"*` → `("general" OR "generated")`). FTS5 can
/// test one row against exact terms by seeking in their lists, but re-reads a prefix
/// term's whole list for every row (measured: 30 µs against 9 ms per row at 300,000
/// matches), so a search that scans in sort order and tests each row needs this form.
/// `None` when a word cannot be spelled out (not a single ASCII word, or too many words).
pub(super) fn fts_exact(c: &Connection, keywords: &str) -> Result<Option<String>> {
    let mut parts = Vec::new();
    let mut vocab = c.prepare_cached("SELECT term FROM search_vocab WHERE term >= ?1 AND term < ?2 LIMIT ?3")?;
    for (term, phrase) in keyword_terms(keywords) {
        if phrase {
            parts.push(format!("\"{}\"", term.replace('"', "\"\"")));
            continue;
        }
        if !term.chars().all(|ch| ch.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let prefix = term.to_ascii_lowercase();
        let words: Vec<String> = vocab
            .query_map(params![prefix, format!("{prefix}\u{10ffff}"), MAX_EXPANSION as i64 + 1], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if words.is_empty() || words.len() > MAX_EXPANSION {
            return Ok(None);
        }
        let alternatives: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        parts.push(format!("({})", alternatives.join(" OR ")));
    }
    Ok((!parts.is_empty()).then(|| parts.join(" ")))
}

fn sort_column(f: SortField) -> &'static str {
    match f {
        SortField::Modified => "x.modified",
        SortField::Created => "x.created",
        SortField::Name => "x.name",
        SortField::Confidence => "x.confidence",
        SortField::ValidFrom => "x.valid_from",
        SortField::ValidUntil => "x.valid_until",
        SortField::Type => "x.type",
        SortField::Source => "x.source",
        SortField::DateAdded => "x.seq",
    }
}

/// The index that yields rows in this sort order.
fn sort_index(f: SortField) -> Option<&'static str> {
    Some(match f {
        SortField::Modified => "search_modified",
        SortField::Created => "search_created",
        SortField::Name => "search_name",
        SortField::Confidence => "search_confidence",
        SortField::ValidUntil => "search_valid_until",
        SortField::Source => "search_source",
        SortField::DateAdded => "search_seq",
        SortField::ValidFrom | SortField::Type => return None,
    })
}

fn encode_cursor(value: &Sql, rid: i64) -> String {
    let v = match value {
        Sql::Integer(i) => serde_json::json!(i),
        Sql::Text(t) => serde_json::json!(t),
        _ => Value::Null,
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::json!([v, rid]).to_string())
}

fn decode_cursor(s: &str) -> Result<(Sql, i64)> {
    let bad = || StoreError::Invalid(format!("'{s}' is not a cursor this search returned; start again without one"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rid = v.get(1).and_then(Value::as_i64).ok_or_else(bad)?;
    let value = match v.get(0) {
        Some(Value::String(t)) => Sql::Text(t.clone()),
        Some(Value::Number(n)) => Sql::Integer(n.as_i64().ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    Ok((value, rid))
}

/// How a query is shaped for the data at hand. SQLite's planner, given an ORDER BY it can
/// take from an index, scans that index and tests each row; that is right when many rows
/// match and slow (a scan of most of the index) when few do. So the search first counts,
/// up to [`RARE`], the objects behind its tag and keyword tests: when one of those ANDed
/// at the top is rare, its rows drive the query and are sorted afterwards.
struct Plan<'a> {
    now: i64,
    /// Tags (lower-cased) that at most `RARE` objects carry.
    rare_tags: &'a std::collections::HashSet<String>,
    /// The keywords match at most `RARE` objects.
    rare_keywords: bool,
    /// Another top-level test selects at most `RARE` objects.
    rare_other: bool,
    /// Common keywords spelled out without prefix terms, tested row by row in SQL.
    keyword_exact: Option<String>,
    /// Every tag and keyword test as a set (facets visit every match anyway).
    in_form: bool,
}

/// At most this many objects behind a test make it the driver of a query. (A static so
/// that tests can force either plan; results never depend on it.)
pub(super) static RARE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(5_000);

impl<'a> Plan<'a> {
    /// Every test as a set: for counting, and for facets (which visit every match).
    fn sets(now: i64, none: &'a std::collections::HashSet<String>) -> Plan<'a> {
        Plan { now, rare_tags: none, rare_keywords: false, rare_other: false, keyword_exact: None, in_form: true }
    }

    fn drives(&self) -> bool {
        !self.rare_tags.is_empty() || self.rare_keywords || self.rare_other
    }
}

/// What probing found: which top-level tests select few objects.
struct Probe {
    rare_tags: std::collections::HashSet<String>,
    rare_keywords: bool,
    /// Some other indexed test (a source, a name, a time range, the types…) is rare.
    rare_other: bool,
}

/// Counts, up to `RARE + 1`, the objects behind each top-level test that an index can
/// count cheaply: the types, tags, keywords, and equality, range and prefix tests on
/// indexed columns.
fn probe(c: &Connection, q: &SearchQuery) -> Result<Probe> {
    let limit = RARE.load(std::sync::atomic::Ordering::Relaxed);
    let none = std::collections::HashSet::new();
    let counting = Plan::sets(q.now, &none);
    let count = |sql: &str, args: &[Sql]| -> Result<bool> {
        let mut args = args.to_vec();
        args.push((limit + 1).into());
        let n: i64 = c
            .prepare_cached(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM search x WHERE {sql} LIMIT ?{})",
                args.len()
            ))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        Ok(n <= limit)
    };
    let mut p = Probe { rare_tags: std::collections::HashSet::new(), rare_keywords: false, rare_other: false };
    if !q.types.is_empty() {
        let args: Vec<Sql> = q.types.iter().map(|t| t.to_ascii_lowercase().into()).collect();
        let marks: Vec<String> = (1..=args.len()).map(|i| format!("?{i}")).collect();
        p.rare_other |= count(&format!("x.type IN ({})", marks.join(",")), &args)?;
    }
    let top: Vec<&Condition> = match &q.condition {
        Condition::All(cs) => cs.iter().collect(),
        c => vec![c],
    };
    for cond in top {
        let Condition::Clause(cl) = cond else { continue };
        use Operator::*;
        let indexable = matches!(
            cl.operator,
            Equals
                | ArrayContains
                | LessThan
                | LessThanEqual
                | GreaterThan
                | GreaterThanEqual
                | StringStartsWith
                | OnOrAfterAbsolute
                | AfterAbsolute
                | OnOrBeforeAbsolute
                | BeforeAbsolute
                | OnOrAfterRelative
                | AfterRelative
                | OnOrBeforeRelative
                | BeforeRelative
        );
        let indexed = matches!(
            cl.field,
            Field::Tags
                | Field::Source
                | Field::Name
                | Field::Id
                | Field::Confidence
                | Field::Created
                | Field::Modified
                | Field::ValidUntil
        );
        if !(indexable && indexed) {
            continue;
        }
        let mut args = Vec::new();
        let Some(sql) = clause(cl, &mut args, &counting) else { continue };
        if count(&sql, &args)? {
            match cl.field {
                Field::Tags => p.rare_tags.extend(cl.values().map(str::to_ascii_lowercase)),
                _ => p.rare_other = true,
            }
        }
    }
    if let Some(fts) = q.keywords.as_deref().and_then(fts_query) {
        // Straight from FTS5, which streams its matches (an IN list would collect them all).
        let n: i64 = c
            .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH ?1 LIMIT ?2)")?
            .query_row(params![fts, limit + 1], |r| r.get(0))?;
        p.rare_keywords = n <= limit;
    }
    Ok(p)
}

/// The WHERE clause shared by pages and facets, its arguments, and whether it is exact.
fn where_clause(q: &SearchQuery, args: &mut Vec<Sql>, plan: &Plan<'_>) -> (String, bool) {
    let mut parts = Vec::new();
    if !q.types.is_empty() {
        let marks: Vec<String> = q
            .types
            .iter()
            .map(|t| {
                args.push(t.to_ascii_lowercase().into());
                format!("?{}", args.len())
            })
            .collect();
        parts.push(format!("x.type IN ({})", marks.join(",")));
    }
    let c = compile(&q.condition, args, plan);
    if c.sql != "1" {
        parts.push(format!("({})", c.sql));
    }
    // Common keywords are not tested in SQL (per row, FTS5 reads the term's whole
    // list each time); the search checks rows against the set of matches instead.
    if let Some(fts) = q.keywords.as_deref().and_then(fts_query).filter(|_| plan.rare_keywords || plan.in_form) {
        args.push(fts.into());
        parts.push(format!("x.rid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?{})", args.len()));
    } else if let Some(exact) = &plan.keyword_exact {
        args.push(exact.clone().into());
        parts.push(format!(
            "EXISTS (SELECT 1 FROM search_fts WHERE search_fts MATCH ?{} AND rowid = x.rid)",
            args.len()
        ));
    }
    (if parts.is_empty() { "1".into() } else { parts.join(" AND ") }, c.exact)
}

/// The current relationships and sightings that point at `id` (from the search index).
pub(super) fn related(c: &Connection, id: &str, limit: usize) -> Result<Vec<crate::StoredVersion>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM search_refs r JOIN search x ON x.rid = r.rid JOIN versions v ON v.seq = x.seq
         JOIN sources s ON s.id = v.source_id WHERE r.ref = ?1 ORDER BY x.rid LIMIT ?2"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params![id, limit as i64], version_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn search(c: &Connection, q: &SearchQuery) -> Result<SearchPage> {
    let limit = q.limit.clamp(1, 10_000);
    let mut args: Vec<Sql> = Vec::new();
    let probe = probe(c, q)?;
    let plan = Plan {
        now: q.now,
        rare_tags: &probe.rare_tags,
        rare_keywords: probe.rare_keywords,
        rare_other: probe.rare_other,
        keyword_exact: match q.keywords.as_deref() {
            Some(k) if !probe.rare_keywords && fts_query(k).is_some() => fts_exact(c, k)?,
            _ => None,
        },
        in_form: false,
    };
    let (filter, exact) = where_clause(q, &mut args, &plan);
    let col = sort_column(q.sort);
    let (cmp, dir) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
    // A rare test drives: `+col` keeps the planner off the sort column's index, and the
    // few rows are sorted. Otherwise the sort column's index is walked (the planner,
    // which does not count on LIMIT stopping early, would often fetch a quarter of the
    // table by some other index and sort it).
    let (order, hint) = if plan.drives() {
        (format!("+{col} {dir}, +x.rid {dir}"), String::new())
    } else {
        let hint = sort_index(q.sort).map(|i| format!("INDEXED BY {i}")).unwrap_or_default();
        (format!("{col} {dir}, x.rid {dir}"), hint)
    };
    let keyword_rows: Option<std::collections::HashSet<i64>> = match q.keywords.as_deref().and_then(fts_query) {
        Some(fts) if !plan.rare_keywords && plan.keyword_exact.is_none() => {
            let mut st = c.prepare_cached("SELECT rowid FROM search_fts WHERE search_fts MATCH ?1")?;
            let rows = st.query_map([fts], |r| r.get(0))?;
            Some(rows.collect::<rusqlite::Result<_>>()?)
        }
        _ => None,
    };
    let base_args = args.len();
    let uses_facts = q.condition.uses_enrichment();
    let mut cursor = q.after.as_deref().map(decode_cursor).transpose()?;
    let mut items = Vec::with_capacity(limit);
    let mut next = None;
    // Exact SQL: one query. Otherwise rows are checked against the condition in chunks
    // until the page is full or the rows run out.
    let chunk = if exact && keyword_rows.is_none() { limit + 1 } else { (limit * 4).max(256) };
    'pages: loop {
        args.truncate(base_args);
        let mut sql = format!(
            "SELECT {VERSION_COLUMNS}, x.rid, {col} FROM search x {hint} JOIN versions v ON v.seq = x.seq
             JOIN sources s ON s.id = v.source_id WHERE {filter}"
        );
        if let Some((value, rid)) = &cursor {
            args.push(value.clone());
            args.push((*rid).into());
            sql.push_str(&format!(" AND ({col}, x.rid) {cmp} (?{}, ?{})", args.len() - 1, args.len()));
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT {chunk}"));
        let mut st = c.prepare_cached(&sql)?;
        let rows: Vec<(crate::StoredVersion, i64, Sql)> = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let n = VERSION_COLUMNS.split(',').count();
                Ok((version_from_row(r)?, r.get(n)?, r.get::<_, Sql>(n + 1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let exhausted = rows.len() < chunk;
        for (v, rid, sort_value) in rows {
            if items.len() == limit {
                next = cursor.as_ref().map(|(value, rid)| encode_cursor(value, *rid));
                break 'pages;
            }
            cursor = Some((sort_value, rid));
            let keep = keyword_rows.as_ref().is_none_or(|k| k.contains(&rid))
                && (exact || {
                    let obj: Value = serde_json::from_str(&v.raw).unwrap_or(Value::Null);
                    let facts = if uses_facts { facts_of(c, &v.id)? } else { None };
                    q.condition.holds(&Subject::new(&obj, &v.source, q.now).with_enrichment(facts.as_ref()))
                });
            if keep {
                items.push(v);
            }
        }
        if exhausted {
            break;
        }
    }
    Ok(SearchPage { items, next, lag: lag(c)? })
}

/// Facet counts, in one pass over the matches (checked against the condition when the
/// SQL alone is not exact).
pub(super) fn facets(c: &Connection, q: &SearchQuery) -> Result<Facets> {
    use std::collections::HashMap;
    let mut args: Vec<Sql> = Vec::new();
    let none = std::collections::HashSet::new();
    let plan = Plan::sets(q.now, &none);
    let (filter, exact) = where_clause(q, &mut args, &plan);
    let (raw, join) = if exact {
        ("NULL, NULL", "")
    } else {
        ("v.raw, s.name, x.id", "JOIN versions v ON v.seq = x.seq JOIN sources s ON s.id = v.source_id")
    };
    let uses_facts = q.condition.uses_enrichment();
    let sql =
        format!("SELECT x.type, x.source, x.tlp, x.confidence, x.tags, {raw} FROM search x {join} WHERE {filter}");
    let mut st = c.prepare(&sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
    let mut counts: [HashMap<String, u64>; 5] = Default::default();
    let mut total = 0;
    while let Some(r) = rows.next()? {
        if !exact {
            let raw: String = r.get(5)?;
            let source: String = r.get(6)?;
            let obj: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
            let facts = if uses_facts { facts_of(c, r.get_ref(7)?.as_str().unwrap_or_default())? } else { None };
            if !q.condition.holds(&Subject::new(&obj, &source, q.now).with_enrichment(facts.as_ref())) {
                continue;
            }
        }
        total += 1;
        let conf: i64 = r.get(3)?;
        let tlp = r.get_ref(2)?.as_str().unwrap_or_default();
        bump(&mut counts[2], if tlp.is_empty() { "none" } else { tlp });
        bump(&mut counts[0], r.get_ref(0)?.as_str().unwrap_or_default());
        bump(&mut counts[1], r.get_ref(1)?.as_str().unwrap_or_default());
        let tags = r.get_ref(4)?.as_str().unwrap_or("[]");
        if tags != "[]" {
            for t in serde_json::from_str::<Vec<String>>(tags).unwrap_or_default() {
                bump(&mut counts[3], &t);
            }
        }
        let band = match conf {
            c if c < 0 => "none",
            0..=24 => "0-24",
            25..=49 => "25-49",
            50..=74 => "50-74",
            _ => "75-100",
        };
        bump(&mut counts[4], band);
    }
    let top = |m: &HashMap<String, u64>, n: usize| {
        let mut v: Vec<(String, u64)> = m.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    };
    Ok(Facets {
        total,
        types: top(&counts[0], 100),
        sources: top(&counts[1], 50),
        tlp: top(&counts[2], 10),
        tags: top(&counts[3], 20),
        confidence: top(&counts[4], 10),
    })
}

fn bump(m: &mut std::collections::HashMap<String, u64>, k: &str) {
    match m.get_mut(k) {
        Some(n) => *n += 1,
        None => {
            m.insert(k.to_string(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn keywords_become_fts_queries() {
        assert_eq!(fts_query("evil c2").as_deref(), Some("\"evil\"* \"c2\"*"));
        assert_eq!(fts_query("\"exact phrase\" more").as_deref(), Some("\"exact phrase\" \"more\"*"));
        assert_eq!(fts_query("say \"hi").as_deref(), Some("\"say\"* \"hi\""));
        assert_eq!(fts_query("a\"b").as_deref(), Some("\"a\"\"b\"*"));
        assert_eq!(fts_query("   ").as_deref(), None);
    }
}
