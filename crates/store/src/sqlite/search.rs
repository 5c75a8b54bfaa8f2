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
    CREATE VIRTUAL TABLE search_fts USING fts5(
        body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
    );
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
    let mut existing = tx.prepare_cached("SELECT rid, seq, tags FROM search WHERE id = ?1")?;
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
        let old: Option<(i64, i64, String)> =
            existing.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
        if let (Some((false, seq, _, _)), Some((_, old_seq, _))) = (&now, &old) {
            if seq == old_seq {
                continue; // a late older version or a re-delivery: the current one is indexed
            }
        }
        if let Some((rid, _, tags)) = &old {
            for t in serde_json::from_str::<Vec<String>>(tags).unwrap_or_default() {
                del_tag.execute(params![t, rid])?;
            }
            del_fts.execute([rid])?;
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
                add_fts.execute(params![rid, row.body])?;
            }
            _ => {
                if let Some((rid, _, _)) = old {
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

fn compile(c: &Condition, args: &mut Vec<Sql>, now: i64) -> Compiled {
    // SQL that is dropped must take its bound arguments with it.
    let mark = args.len();
    let inexact = |args: &mut Vec<Sql>| {
        args.truncate(mark);
        Compiled { sql: "1".into(), exact: false }
    };
    match c {
        Condition::All(cs) => {
            let parts: Vec<Compiled> = cs.iter().map(|c| compile(c, args, now)).collect();
            let exact = parts.iter().all(|p| p.exact);
            let sql: Vec<String> = parts.into_iter().filter(|p| p.sql != "1").map(|p| format!("({})", p.sql)).collect();
            Compiled { sql: if sql.is_empty() { "1".into() } else { sql.join(" AND ") }, exact }
        }
        Condition::Any(cs) => {
            if cs.is_empty() {
                return Compiled { sql: "0".into(), exact: true };
            }
            let parts: Vec<Compiled> = cs.iter().map(|c| compile(c, args, now)).collect();
            // One inexact branch makes the whole OR unknowable in SQL: keep everything.
            if parts.iter().any(|p| !p.exact) {
                return inexact(args);
            }
            let sql: Vec<String> = parts.into_iter().map(|p| format!("({})", p.sql)).collect();
            Compiled { sql: sql.join(" OR "), exact: true }
        }
        Condition::Not(c) => {
            let inner = compile(c, args, now);
            if inner.exact {
                Compiled { sql: format!("NOT ({})", inner.sql), exact: true }
            } else {
                inexact(args)
            }
        }
        Condition::Clause(cl) => match clause(cl, args, now) {
            Some(sql) => Compiled { sql, exact: true },
            None => inexact(args),
        },
    }
}

/// SQL for one clause, when the index answers it exactly.
fn clause(cl: &Clause, args: &mut Vec<Sql>, now: i64) -> Option<String> {
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
                format!(
                    "EXISTS (SELECT 1 FROM search_tags t WHERE t.tag = {} AND t.rid = x.rid)",
                    bind(v.to_string().into())
                )
            }
            (Equals | ArrayContains, Field::Confidence) => {
                format!("(x.confidence >= 0 AND x.confidence = {})", bind(v.trim().parse::<f64>().ok()?.into()))
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
                format!("(x.confidence >= 0 AND x.confidence {sym} {})", bind(v.trim().parse::<f64>().ok()?.into()))
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

/// An FTS5 query from the user's words: each word must occur (as a prefix); a "quoted
/// phrase" must occur as written.
fn fts_query(keywords: &str) -> Option<String> {
    let mut terms = Vec::new();
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
            let quoted = format!("\"{}\"", term.replace('"', "\"\""));
            terms.push(if phrase { quoted } else { format!("{quoted}*") });
        }
        rest = next.trim_start();
    }
    (!terms.is_empty()).then(|| terms.join(" "))
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

/// The WHERE clause shared by pages and facets, its arguments, and whether it is exact.
fn where_clause(q: &SearchQuery, args: &mut Vec<Sql>) -> (String, bool) {
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
    let c = compile(&q.condition, args, q.now);
    if c.sql != "1" {
        parts.push(format!("({})", c.sql));
    }
    if let Some(fts) = q.keywords.as_deref().and_then(fts_query) {
        args.push(fts.into());
        parts.push(format!("x.rid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?{})", args.len()));
    }
    (if parts.is_empty() { "1".into() } else { parts.join(" AND ") }, c.exact)
}

pub(super) fn search(c: &Connection, q: &SearchQuery) -> Result<SearchPage> {
    let limit = q.limit.clamp(1, 10_000);
    let mut args: Vec<Sql> = Vec::new();
    let (filter, exact) = where_clause(q, &mut args);
    let col = sort_column(q.sort);
    let (cmp, dir) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
    let base_args = args.len();
    let mut cursor = q.after.as_deref().map(decode_cursor).transpose()?;
    let mut items = Vec::with_capacity(limit);
    let mut next = None;
    // Exact SQL: one query. Otherwise rows are checked against the condition in chunks
    // until the page is full or the rows run out.
    let chunk = if exact { limit + 1 } else { (limit * 4).max(256) };
    'pages: loop {
        args.truncate(base_args);
        let mut sql = format!(
            "SELECT {VERSION_COLUMNS}, x.rid, {col} FROM search x JOIN versions v ON v.seq = x.seq
             JOIN sources s ON s.id = v.source_id WHERE {filter}"
        );
        if let Some((value, rid)) = &cursor {
            args.push(value.clone());
            args.push((*rid).into());
            sql.push_str(&format!(" AND ({col}, x.rid) {cmp} (?{}, ?{})", args.len() - 1, args.len()));
        }
        sql.push_str(&format!(" ORDER BY {col} {dir}, x.rid {dir} LIMIT {chunk}"));
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
            let keep = exact || {
                let obj: Value = serde_json::from_str(&v.raw).unwrap_or(Value::Null);
                q.condition.holds(&Subject::new(&obj, &v.source, q.now))
            };
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

pub(super) fn facets(c: &Connection, q: &SearchQuery) -> Result<Facets> {
    let mut args: Vec<Sql> = Vec::new();
    let (filter, exact) = where_clause(q, &mut args);
    if !exact {
        return facets_by_scan(c, q, &filter, &args);
    }
    let group = |expr: &str, limit: usize| -> Result<Vec<(String, u64)>> {
        let sql = format!(
            "SELECT {expr} AS k, count(*) AS n FROM search x WHERE {filter} GROUP BY k ORDER BY n DESC, k LIMIT {limit}"
        );
        let mut st = c.prepare_cached(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    };
    let total: i64 = c.query_row(
        &format!("SELECT count(*) FROM search x WHERE {filter}"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    let tags = {
        let sql = format!(
            "SELECT t.tag, count(*) AS n FROM search x JOIN search_tags t ON t.rid = x.rid WHERE {filter}
             GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT 20"
        );
        let mut st = c.prepare_cached(&sql)?;
        let rows =
            st.query_map(rusqlite::params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    Ok(Facets {
        total: total as u64,
        types: group("x.type", 100)?,
        sources: group("x.source", 50)?,
        tlp: group("CASE WHEN x.tlp = '' THEN 'none' ELSE x.tlp END", 10)?,
        tags,
        confidence: group(
            "CASE WHEN x.confidence < 0 THEN 'none' WHEN x.confidence < 25 THEN '0-24' WHEN x.confidence < 50 THEN '25-49'
                  WHEN x.confidence < 75 THEN '50-74' ELSE '75-100' END",
            10,
        )?,
    })
}

/// Facets for a condition the index answers only in part: every candidate is checked.
fn facets_by_scan(c: &Connection, q: &SearchQuery, filter: &str, args: &[Sql]) -> Result<Facets> {
    use std::collections::HashMap;
    let sql = format!(
        "SELECT v.raw, s.name, x.type, x.source, x.tlp, x.confidence, x.tags FROM search x
         JOIN versions v ON v.seq = x.seq JOIN sources s ON s.id = v.source_id WHERE {filter}"
    );
    let mut st = c.prepare(&sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
    let mut counts: [HashMap<String, u64>; 5] = Default::default();
    let mut total = 0;
    while let Some(r) = rows.next()? {
        let raw: String = r.get(0)?;
        let source: String = r.get(1)?;
        let obj: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
        if !q.condition.holds(&Subject::new(&obj, &source, q.now)) {
            continue;
        }
        total += 1;
        let conf: i64 = r.get(5)?;
        let tlp: String = r.get(4)?;
        *counts[0].entry(r.get(2)?).or_default() += 1;
        *counts[1].entry(r.get(3)?).or_default() += 1;
        *counts[2].entry(if tlp.is_empty() { "none".into() } else { tlp }).or_default() += 1;
        for t in serde_json::from_str::<Vec<String>>(&r.get::<_, String>(6)?).unwrap_or_default() {
            *counts[3].entry(t).or_default() += 1;
        }
        let band = match conf {
            c if c < 0 => "none",
            0..=24 => "0-24",
            25..=49 => "25-49",
            50..=74 => "50-74",
            _ => "75-100",
        };
        *counts[4].entry(band.into()).or_default() += 1;
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
