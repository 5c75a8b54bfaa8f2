//! The embedded SQLite backend: one file, WAL mode, one writer and pooled readers.

mod search;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use crate::{
    now_micros, AuditEntry, AuditQuery, Candidate, Commit, Filter, Outcome, Page, Result, Source, SourceSeen, Stats,
    Store, StoreError, StoredVersion, TokenInfo, User, VersionSelect,
};

/// Versioned schema migrations, applied in order at open; `PRAGMA user_version` records
/// how many have run. Append only: never edit a released migration.
const MIGRATIONS: &[&str] = &[
    // 1: objects, versions, sources, conflicts, accounts.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL
    );
    -- One row per stored version or tombstone. seq IS the date_added, in microseconds
    -- since the epoch: assigned strictly increasing inside the write transaction, it is
    -- both the server's timestamp and the paging sequence, with no second index.
    CREATE TABLE versions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        vkey TEXT NOT NULL,           -- fixed-width modified; '' when unversioned or a tombstone
        type TEXT NOT NULL,
        spec_version TEXT NOT NULL,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        hash BLOB NOT NULL,
        revoked INTEGER NOT NULL,
        tombstone INTEGER NOT NULL,
        raw TEXT NOT NULL,
        -- The same object's previous row in insertion order (NULL for its first). An
        -- object's history is the chain from objects.last_seq: objects have few versions,
        -- and following primary keys replaces an index on id that every insert would
        -- have to update at a random position (measured: ~30% of ingest time).
        prev_seq INTEGER
    );
    -- One row per object: what the current version is and whether it is deleted.
    CREATE TABLE objects (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        current_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,    -- head of the version chain (newest row, any kind)
        first_seq INTEGER NOT NULL,   -- the version with the oldest modified
        first_vkey TEXT NOT NULL,
        current_vkey TEXT NOT NULL,
        current_hash BLOB NOT NULL,
        revoked INTEGER NOT NULL,
        deleted INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX objects_by_current_seq ON objects (current_seq);
    CREATE INDEX objects_by_type ON objects (type, current_seq);
    CREATE TABLE object_sources (
        id TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (id, source_id)
    ) WITHOUT ROWID;
    CREATE TABLE conflicts (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        vkey TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        raw TEXT NOT NULL
    );
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        hash BLOB PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    "#,
    // 2: documents (collections, TAXII status resources, …), kept as JSON by kind and id.
    r#"
    CREATE TABLE docs (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        created INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    "#,
    // 3: what ingestion rules did to each version (NULL for versions stored before).
    r#"
    ALTER TABLE versions ADD COLUMN ruleset INTEGER;
    ALTER TABLE versions ADD COLUMN rules TEXT;   -- JSON array of rule ids; NULL when none
    -- Who changed what: edits, deletes, rule runs.
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object_id TEXT,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_by_object ON audit (object_id, seq);
    "#,
    // 4: the search index (see search.rs).
    search::MIGRATION,
    // 5: enrichment facts per object (GeoIP, WhoIs), and an index of them for search.
    r#"
    CREATE TABLE enrichment_facts (id TEXT PRIMARY KEY, facts TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE enrichment_fact_index (
        key TEXT NOT NULL,
        value TEXT NOT NULL COLLATE NOCASE,
        id TEXT NOT NULL,
        PRIMARY KEY (key, value, id)
    ) WITHOUT ROWID;
    "#,
];

/// The SQLite store. Invariant: all writes go through `writer`, inside `BEGIN IMMEDIATE`
/// transactions, so `seq`/`date_added` assignment is serialised even across processes.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // WAL: readers never block the writer. synchronous=NORMAL keeps every committed
    // transaction across a process crash (only an OS crash can lose the last commits).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -262_144)?; // 256 MiB
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoint every ~64 MiB of WAL instead of 4 MiB: bulk imports copy pages back
    // less often, and readers still see a bounded WAL.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the store file `cairn.db` in `dir`, and runs migrations.
    pub fn open_dir(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.display().to_string(),
            reason: format!("cannot create the data directory: {e}"),
        })?;
        SqliteStore::open(&dir.join("cairn.db"))
    }

    /// Opens (creating if needed) the store at `path`, and runs migrations.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let open_err =
            |e: rusqlite::Error| StoreError::Open { path: path.display().to_string(), reason: e.to_string() };
        let conn = Connection::open(path).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        migrate(&conn)?;
        Ok(SqliteStore { path: path.to_path_buf(), writer: Mutex::new(conn), readers: Mutex::new(Vec::new()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.readers.lock().expect("reader pool").pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(30))?;
                c.pragma_update(None, "cache_size", -65_536)?;
                c
            }
        };
        let out = f(&conn);
        self.readers.lock().expect("reader pool").push(conn);
        out
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().expect("writer");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let done = usize::try_from(done).unwrap_or(0);
    if done > MIGRATIONS.len() {
        return Err(StoreError::Open {
            path: conn.path().unwrap_or("?").to_string(),
            reason: format!(
                "the store has schema version {done}, newer than this cairn ({}); upgrade cairn",
                MIGRATIONS.len()
            ),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        if i == 0 {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('instance_id', ?1)",
                params![uuid::Uuid::new_v4().to_string()],
            )?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Assigns `date_added` values: strictly increasing, never before the clock.
struct Clock {
    now: i64,
    last: i64,
}

impl Clock {
    fn start(tx: &Transaction<'_>) -> Result<Clock> {
        let last: Option<i64> =
            tx.query_row("SELECT seq FROM versions ORDER BY seq DESC LIMIT 1", [], |r| r.get(0)).optional()?;
        Ok(Clock { now: now_micros(), last: last.unwrap_or(i64::MIN) })
    }

    fn next(&mut self) -> i64 {
        self.last = self.now.max(self.last + 1);
        self.last
    }
}

fn source_id(tx: &Transaction<'_>, source: &Source) -> Result<i64> {
    if let Some(id) = tx.query_row("SELECT id FROM sources WHERE name = ?1", [&source.name], |r| r.get(0)).optional()? {
        return Ok(id);
    }
    tx.execute("INSERT INTO sources (name, kind) VALUES (?1, ?2)", params![source.name, source.kind.as_str()])?;
    Ok(tx.last_insert_rowid())
}

struct CurrentRow {
    current_vkey: String,
    current_hash: Vec<u8>,
    revoked: bool,
    current_seq: i64,
    last_seq: i64,
}

const VERSION_COLUMNS: &str =
    "v.seq, v.id, v.type, v.spec_version, v.vkey, v.seq, s.name, v.revoked, v.tombstone, v.raw, v.ruleset, v.rules";

fn version_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredVersion> {
    let vkey: String = r.get(4)?;
    Ok(StoredVersion {
        seq: r.get(0)?,
        id: r.get(1)?,
        stix_type: r.get(2)?,
        spec_version: r.get(3)?,
        version_key: if vkey.is_empty() { None } else { Some(vkey) },
        date_added: r.get(5)?,
        source: r.get(6)?,
        revoked: r.get(7)?,
        tombstone: r.get(8)?,
        raw: r.get(9)?,
        ruleset: r.get(10)?,
        rules: r.get::<_, Option<String>>(11)?.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
    })
}

fn ingest_in_tx(tx: &Transaction<'_>, sid: i64, batch: &[Candidate]) -> Result<Vec<Outcome>> {
    let mut clock = Clock::start(tx)?;
    let seen_at = clock.now;
    let mut get_object = tx.prepare_cached(
        "SELECT current_vkey, current_hash, revoked, current_seq, last_seq FROM objects WHERE id = ?1",
    )?;
    let mut chain_link = tx.prepare_cached("SELECT prev_seq, vkey, hash, tombstone FROM versions WHERE seq = ?1")?;
    // The stored version with this key, found by walking the object's chain.
    let mut find_version = |last_seq: i64, vkey: &str| -> Result<Option<(i64, Vec<u8>)>> {
        let mut at = Some(last_seq);
        while let Some(seq) = at {
            let (prev, k, h, tomb): (Option<i64>, String, Vec<u8>, bool) =
                chain_link.query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            if !tomb && k == vkey {
                return Ok(Some((seq, h)));
            }
            at = prev;
        }
        Ok(None)
    };
    let mut get_raw = tx.prepare_cached("SELECT raw FROM versions WHERE seq = ?1")?;
    // Equal hashes mean equal text. Unequal text may still be the same JSON value (other
    // key order or spacing), which only parsing tells; that is rare, so it is the slow path.
    let mut same_content = |hash: &[u8], seq: i64, c: &Candidate| -> Result<bool> {
        if hash == c.hash {
            return Ok(true);
        }
        let stored: String = get_raw.query_row([seq], |r| r.get(0))?;
        Ok(crate::same_json(&stored, &c.raw))
    };
    let mut insert_version = tx.prepare_cached(
        "INSERT INTO versions (id, vkey, type, spec_version, seq, source_id, hash, revoked, tombstone, raw, prev_seq,
                               ruleset, rules)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12)",
    )?;
    let mut insert_object = tx.prepare_cached(
        "INSERT INTO objects (id, type, current_seq, last_seq, first_seq, first_vkey, current_vkey, current_hash, revoked, deleted)
                 VALUES (?1, ?2, ?3, ?3, ?3, ?4, ?4, ?5, ?6, 0)",
    )?;
    let mut update_object = tx.prepare_cached(
        "UPDATE objects SET current_seq = ?2, last_seq = ?2, current_vkey = ?3, current_hash = ?4, revoked = ?5,
                 deleted = 0 WHERE id = ?1",
    )?;
    // A late older version becomes the first when its modified is the oldest.
    let mut update_last = tx.prepare_cached(
        "UPDATE objects SET last_seq = ?2,
           first_seq = CASE WHEN ?3 < first_vkey THEN ?2 ELSE first_seq END,
           first_vkey = CASE WHEN ?3 < first_vkey THEN ?3 ELSE first_vkey END
         WHERE id = ?1",
    )?;
    let mut seen = tx.prepare_cached(
        "INSERT INTO object_sources (id, source_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (id, source_id) DO UPDATE SET last_seen = excluded.last_seen",
    )?;
    let mut conflict =
        tx.prepare_cached("INSERT INTO conflicts (id, vkey, source_id, at, raw) VALUES (?1, ?2, ?3, ?4, ?5)")?;

    let mut outcomes = Vec::with_capacity(batch.len());
    for c in batch {
        let vkey = c.version_key.as_deref().unwrap_or("");
        let current = get_object
            .query_row([&c.id], |r| {
                Ok(CurrentRow {
                    current_vkey: r.get(0)?,
                    current_hash: r.get(1)?,
                    revoked: r.get(2)?,
                    current_seq: r.get(3)?,
                    last_seq: r.get(4)?,
                })
            })
            .optional()?;
        let prev = current.as_ref().map(|c| c.last_seq);
        let mut store_version = |clock: &mut Clock| -> Result<i64> {
            insert_version.execute(params![
                c.id,
                vkey,
                c.stix_type,
                c.spec_version,
                clock.next(),
                sid,
                &c.hash[..],
                c.revoked,
                c.raw,
                prev,
                c.curation.ruleset,
                (!c.curation.rules.is_empty())
                    .then(|| serde_json::to_string(&c.curation.rules).expect("strings serialise")),
            ])?;
            Ok(tx.last_insert_rowid())
        };
        let outcome = match current {
            None => {
                let seq = store_version(&mut clock)?;
                insert_object.execute(params![c.id, c.stix_type, seq, vkey, &c.hash[..], c.revoked])?;
                Outcome::Created
            }
            Some(cur) => {
                let unversioned = vkey.is_empty();
                let is_current_key = unversioned || vkey == cur.current_vkey;
                if is_current_key && same_content(&cur.current_hash, cur.current_seq, c)? {
                    Outcome::Unchanged
                } else if unversioned || vkey > cur.current_vkey.as_str() {
                    if cur.revoked {
                        Outcome::Revoked { revoked_version: cur.current_vkey.clone() }
                    } else {
                        let seq = store_version(&mut clock)?;
                        update_object.execute(params![c.id, seq, vkey, &c.hash[..], c.revoked])?;
                        Outcome::NewVersion
                    }
                } else {
                    // The current version with another body, or an older version.
                    match find_version(cur.last_seq, vkey)? {
                        Some((seq, h)) if same_content(&h, seq, c)? => Outcome::Unchanged,
                        Some(_) => {
                            conflict.execute(params![c.id, vkey, sid, seen_at, c.raw])?;
                            Outcome::Conflict
                        }
                        None => {
                            let seq = store_version(&mut clock)?;
                            update_last.execute(params![c.id, seq, vkey])?;
                            Outcome::NewVersion
                        }
                    }
                }
            }
        };
        if outcome.is_stored() {
            seen.execute(params![c.id, sid, seen_at])?;
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// `WITH RECURSIVE chain(seq)`: the seqs of every row (versions and tombstones) of the
/// objects whose ids are `ids_sql` (a placeholder list), walked from `objects.last_seq`.
fn chain_cte(ids_sql: &str) -> String {
    format!(
        "WITH RECURSIVE chain(seq) AS (
           SELECT last_seq FROM objects WHERE id IN ({ids_sql})
           UNION ALL
           SELECT v.prev_seq FROM chain JOIN versions v ON v.seq = chain.seq WHERE v.prev_seq IS NOT NULL)"
    )
}

/// `SELECT columns FROM … WHERE <filter> AND v.seq > after`, its arguments, and the
/// column to order by (an indexed one that equals `v.seq` for the rows it returns).
fn filtered_select(
    columns: &str,
    filter: &Filter,
    after: Option<i64>,
) -> (String, Vec<rusqlite::types::Value>, &'static str) {
    let mut args: Vec<rusqlite::types::Value> = vec![after.unwrap_or(0).into()];
    let mut marks = |values: &[String]| -> String {
        let m: Vec<String> = values
            .iter()
            .map(|v| {
                args.push(v.clone().into());
                format!("?{}", args.len())
            })
            .collect();
        m.join(",")
    };
    let from_versions = |columns: &str, ids: &str| {
        if ids.is_empty() {
            format!("SELECT {columns} FROM versions v JOIN sources s ON s.id = v.source_id WHERE v.seq > ?1")
        } else {
            // Versions of given ids: walk their chains instead of scanning every version.
            format!(
                "{} SELECT {columns} FROM versions v JOIN sources s ON s.id = v.source_id
                 WHERE v.seq > ?1 AND v.seq IN (SELECT seq FROM chain)",
                chain_cte(ids)
            )
        }
    };
    let (mut sql, key) = match &filter.versions {
        VersionSelect::Current | VersionSelect::First => {
            let col = if filter.versions == VersionSelect::Current { "current_seq" } else { "first_seq" };
            let mut sql = format!(
                "SELECT {columns} FROM objects o JOIN versions v ON v.seq = o.{col}
                 JOIN sources s ON s.id = v.source_id WHERE o.deleted = 0 AND o.{col} > ?1"
            );
            if !filter.ids.is_empty() {
                sql.push_str(&format!(" AND o.id IN ({})", marks(&filter.ids)));
            }
            (sql, if col == "current_seq" { "o.current_seq" } else { "o.first_seq" })
        }
        VersionSelect::All => {
            let ids = if filter.ids.is_empty() { String::new() } else { marks(&filter.ids) };
            (from_versions(columns, &ids), "v.seq")
        }
        VersionSelect::Keys(keys) => {
            let ids = if filter.ids.is_empty() { String::new() } else { marks(&filter.ids) };
            let mut sql = from_versions(columns, &ids);
            sql.push_str(&format!(" AND v.tombstone = 0 AND v.vkey IN ({})", marks(keys)));
            (sql, "v.seq")
        }
    };
    if filter.live_only && matches!(filter.versions, VersionSelect::All | VersionSelect::Keys(_)) {
        sql.push_str(" AND NOT EXISTS (SELECT 1 FROM objects od WHERE od.id = v.id AND od.deleted = 1)");
    }
    if !filter.types.is_empty() {
        sql.push_str(&format!(" AND v.type IN ({})", marks(&filter.types)));
    }
    if !filter.spec_versions.is_empty() {
        sql.push_str(&format!(" AND v.spec_version IN ({})", marks(&filter.spec_versions)));
    }
    if !filter.sources.is_empty() {
        // "From source S": delivered by S at any time, not only the current version.
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM object_sources os JOIN sources s2 ON s2.id = os.source_id
              WHERE os.id = v.id AND s2.name IN ({}))",
            marks(&filter.sources)
        ));
    }
    // Filters on the object's own JSON: read collections are saved filters like these.
    if !filter.tags.is_empty() {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM json_each(v.raw, '$.labels') j WHERE j.value IN ({}))",
            marks(&filter.tags)
        ));
    }
    if let Some(m) = &filter.tlp_marking {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM json_each(v.raw, '$.object_marking_refs') j WHERE j.value = {})",
            marks(std::slice::from_ref(m))
        ));
    }
    if let Some(c) = filter.min_confidence {
        args.push(c.into());
        sql.push_str(&format!(" AND json_extract(v.raw, '$.confidence') >= ?{}", args.len()));
    }
    (sql, args, key)
}

fn insert_audit(tx: &Transaction<'_>, entries: &[AuditEntry]) -> Result<()> {
    let mut st =
        tx.prepare_cached("INSERT INTO audit (at, actor, action, object_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for e in entries {
        st.execute(params![now_micros(), e.actor, e.action, e.object_id, e.detail.to_string()])?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn ingest_audited(&self, source: &Source, batch: &[Candidate], audit: &[AuditEntry]) -> Result<Vec<Outcome>> {
        self.write(|tx| {
            let sid = source_id(tx, source)?;
            let out = ingest_in_tx(tx, sid, batch)?;
            if let Some((o, c)) = out.iter().zip(batch).find(|(o, _)| !o.is_stored()) {
                // Returning an error rolls the transaction back: no version, no entry.
                return Err(StoreError::Refused(match o {
                    Outcome::Revoked { revoked_version } => format!(
                        "{} was revoked in version {revoked_version}; STIX forbids versions after a revocation",
                        c.id
                    ),
                    _ => format!("{}: another body is already stored under this modified time", c.id),
                }));
            }
            insert_audit(tx, audit)?;
            Ok(out)
        })
    }

    fn tag_counts(&self, prefix: &str, limit: usize) -> Result<Vec<(String, u64)>> {
        self.read(|c| {
            // LIKE is case-insensitive for ASCII; escape its wildcards in the prefix.
            let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            let mut st = c.prepare_cached(
                "SELECT j.value, count(*) AS n FROM objects o JOIN versions v ON v.seq = o.current_seq,
                        json_each(v.raw, '$.labels') j
                 WHERE o.deleted = 0 AND j.type = 'text' AND j.value LIKE ?1 ESCAPE '\\'
                 GROUP BY j.value ORDER BY n DESC, j.value LIMIT ?2",
            )?;
            let rows = st.query_map(params![pattern, limit as i64], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn refresh_search(&self, max: usize) -> Result<crate::IndexProgress> {
        self.write(|tx| search::refresh(tx, max))
    }

    fn search(&self, query: &crate::SearchQuery) -> Result<crate::SearchPage> {
        self.read(|c| search::search(c, query))
    }

    fn facets(&self, query: &crate::SearchQuery) -> Result<crate::Facets> {
        self.read(|c| search::facets(c, query))
    }

    fn related(&self, id: &str, limit: usize) -> Result<Vec<StoredVersion>> {
        self.read(|c| search::related(c, id, limit))
    }

    fn append_audit(&self, entries: &[AuditEntry]) -> Result<()> {
        self.write(|tx| insert_audit(tx, entries))
    }

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            let mut sql = String::from("SELECT seq, at, actor, action, object_id, detail FROM audit WHERE seq > ?1");
            let mut args: Vec<rusqlite::types::Value> = vec![q.after.unwrap_or(0).into()];
            if let Some(id) = &q.object_id {
                args.push(id.clone().into());
                sql.push_str(&format!(" AND object_id = ?{}", args.len()));
            }
            if let Some(a) = &q.actor {
                args.push(a.clone().into());
                sql.push_str(&format!(" AND actor = ?{}", args.len()));
            }
            sql.push_str(&format!(" ORDER BY seq LIMIT {}", q.limit.clamp(1, 10_000)));
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let detail: String = r.get(5)?;
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    object_id: r.get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn ingest_stream(
        &self,
        source: &Source,
        batches: &mut dyn Iterator<Item = Vec<Candidate>>,
        commit: Commit,
        on_batch: &mut dyn FnMut(&[Outcome], bool) -> bool,
    ) -> Result<bool> {
        match commit {
            Commit::PerBatch => {
                for batch in batches {
                    if batch.is_empty() {
                        continue;
                    }
                    let out = self.write(|tx| {
                        let sid = source_id(tx, source)?;
                        ingest_in_tx(tx, sid, &batch)
                    })?;
                    on_batch(&out, true);
                }
                Ok(true)
            }
            Commit::AllOrNothing => {
                let mut conn = self.writer.lock().expect("writer");
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let sid = source_id(&tx, source)?;
                let mut all_stored = true;
                for batch in batches {
                    let out = ingest_in_tx(&tx, sid, &batch)?;
                    all_stored &= out.iter().all(Outcome::is_stored);
                    all_stored &= on_batch(&out, false);
                }
                if all_stored {
                    tx.commit()?;
                } else {
                    tx.rollback()?;
                }
                Ok(all_stored)
            }
        }
    }

    fn delete(&self, id: &str, source: &Source) -> Result<bool> {
        self.write(|tx| {
            let row: Option<(String, bool, i64)> = tx
                .query_row("SELECT type, deleted, last_seq FROM objects WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let Some((stix_type, false, last_seq)) = row else { return Ok(false) };
            let sid = source_id(tx, source)?;
            let mut clock = Clock::start(tx)?;
            let seq = clock.next();
            tx.execute(
                "INSERT INTO versions (id, vkey, type, spec_version, seq, source_id, hash, revoked, tombstone, raw, prev_seq)
                 VALUES (?1, '', ?2, '', ?3, ?4, x'', 0, 1, '', ?5)",
                params![id, stix_type, seq, sid, last_seq],
            )?;
            tx.execute("UPDATE objects SET deleted = 1, last_seq = ?2 WHERE id = ?1", params![id, seq])?;
            Ok(true)
        })
    }

    fn current(&self, id: &str) -> Result<Option<StoredVersion>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {VERSION_COLUMNS} FROM objects o JOIN versions v ON v.seq = o.current_seq
                 JOIN sources s ON s.id = v.source_id WHERE o.id = ?1 AND o.deleted = 0"
            );
            Ok(c.query_row(&sql, [id], version_from_row).optional()?)
        })
    }

    fn versions(&self, id: &str) -> Result<Vec<StoredVersion>> {
        self.read(|c| {
            let sql = format!(
                "{} SELECT {VERSION_COLUMNS} FROM chain JOIN versions v ON v.seq = chain.seq
                 JOIN sources s ON s.id = v.source_id ORDER BY v.seq",
                chain_cte("?1")
            );
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([id], version_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn sources_of(&self, id: &str) -> Result<Vec<SourceSeen>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT s.name, s.kind, os.first_seen, os.last_seen FROM object_sources os
                 JOIN sources s ON s.id = os.source_id WHERE os.id = ?1 ORDER BY os.first_seen, s.name",
            )?;
            let rows = st.query_map([id], |r| {
                Ok(SourceSeen { source: r.get(0)?, kind: r.get(1)?, first_seen: r.get(2)?, last_seen: r.get(3)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn list(&self, filter: &Filter, after: Option<i64>, limit: usize) -> Result<Page> {
        self.read(|c| {
            let (mut sql, mut args, key) = filtered_select(VERSION_COLUMNS, filter, after);
            args.push((limit as i64 + 1).into());
            sql.push_str(&format!(" ORDER BY {key} LIMIT ?{}", args.len()));
            let mut st = c.prepare(&sql)?;
            let mut items = st
                .query_map(rusqlite::params_from_iter(args.iter()), version_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|v| v.seq)
            } else {
                None
            };
            Ok(Page { items, next })
        })
    }

    fn spec_versions(&self, filter: &Filter) -> Result<Vec<String>> {
        self.read(|c| {
            let (mut sql, args, _) = filtered_select("DISTINCT v.spec_version", filter, None);
            sql.push_str(" AND v.tombstone = 0 ORDER BY 1");
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    fn stats(&self) -> Result<Stats> {
        self.read(|c| {
            let (objects, deleted): (i64, i64) = c.query_row(
                "SELECT COUNT(*) - COALESCE(SUM(deleted), 0), COALESCE(SUM(deleted), 0) FROM objects",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let versions: i64 = c.query_row("SELECT COUNT(*) FROM versions WHERE tombstone = 0", [], |r| r.get(0))?;
            let conflicts: i64 = c.query_row("SELECT COUNT(*) FROM conflicts", [], |r| r.get(0))?;
            Ok(Stats {
                objects: objects as u64,
                deleted: deleted as u64,
                versions: versions as u64,
                conflicts: conflicts as u64,
            })
        })
    }

    fn head(&self) -> Result<Option<i64>> {
        self.read(|c| Ok(c.query_row("SELECT MAX(seq) FROM versions", [], |r| r.get(0))?))
    }

    fn instance_id(&self) -> Result<String> {
        self.read(|c| Ok(c.query_row("SELECT value FROM meta WHERE key = 'instance_id'", [], |r| r.get(0))?))
    }

    fn put_user(&self, user: &User) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (name, role, password_hash, created) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
                params![user.name, user.role, user.password_hash, now_micros()],
            )?;
            Ok(())
        })
    }

    fn user(&self, name: &str) -> Result<Option<User>> {
        self.read(|c| {
            Ok(c.query_row("SELECT name, role, password_hash FROM users WHERE name = ?1", [name], |r| {
                Ok(User { name: r.get(0)?, role: r.get(1)?, password_hash: r.get(2)? })
            })
            .optional()?)
        })
    }

    fn put_doc(&self, kind: &str, id: &str, doc: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO docs (kind, id, created, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
                params![kind, id, now_micros(), doc],
            )?;
            Ok(())
        })
    }

    fn doc(&self, kind: &str, id: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row("SELECT doc FROM docs WHERE kind = ?1 AND id = ?2", [kind, id], |r| r.get(0)).optional()?)
        })
    }

    fn docs(&self, kind: &str) -> Result<Vec<(String, String)>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT id, doc FROM docs WHERE kind = ?1 ORDER BY created, id")?;
            let rows = st.query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_doc(&self, kind: &str, id: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM docs WHERE kind = ?1 AND id = ?2", [kind, id])? > 0))
    }

    fn write_docs(&self, changes: &[(&str, &str, Option<&str>)]) -> Result<()> {
        self.write(|tx| write_docs_in(tx, changes))
    }

    fn write_enrichment(
        &self,
        docs: &[(&str, &str, Option<&str>)],
        facts: &[(&str, Option<&serde_json::Value>)],
    ) -> Result<()> {
        self.write(|tx| {
            write_docs_in(tx, docs)?;
            let mut old = tx.prepare_cached("SELECT facts FROM enrichment_facts WHERE id = ?1")?;
            let mut unindex =
                tx.prepare_cached("DELETE FROM enrichment_fact_index WHERE key = ?1 AND value = ?2 AND id = ?3")?;
            let mut index =
                tx.prepare_cached("INSERT OR IGNORE INTO enrichment_fact_index (key, value, id) VALUES (?1, ?2, ?3)")?;
            let mut put = tx.prepare_cached(
                "INSERT INTO enrichment_facts (id, facts) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET facts = excluded.facts",
            )?;
            let mut del = tx.prepare_cached("DELETE FROM enrichment_facts WHERE id = ?1")?;
            for (id, f) in facts {
                let before: Option<String> = old.query_row([id], |r| r.get(0)).optional()?;
                if let Some(b) = before.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok()) {
                    for (k, v) in crate::fact_pairs(&b) {
                        unindex.execute(params![k, v, id])?;
                    }
                }
                match f {
                    Some(f) => {
                        put.execute(params![id, f.to_string()])?;
                        for (k, v) in crate::fact_pairs(f) {
                            index.execute(params![k, v, id])?;
                        }
                    }
                    None => {
                        del.execute([id])?;
                    }
                }
            }
            Ok(())
        })
    }

    fn enrichment_facts(&self, id: &str) -> Result<Option<serde_json::Value>> {
        self.read(|c| search::facts_of(c, id))
    }

    fn put_token(&self, token_hash: &[u8; 32], name: &str, role: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO tokens (hash, name, role, created) VALUES (?1, ?2, ?3, ?4)",
                params![&token_hash[..], name, role, now_micros()],
            )?;
            Ok(())
        })
    }

    fn token(&self, token_hash: &[u8; 32]) -> Result<Option<(String, String)>> {
        self.read(|c| {
            Ok(c.query_row("SELECT name, role FROM tokens WHERE hash = ?1", [&token_hash[..]], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
        })
    }

    fn users(&self) -> Result<Vec<User>> {
        self.read(|c| {
            let mut q = c.prepare("SELECT name, role, password_hash FROM users ORDER BY name")?;
            let rows = q.query_map([], |r| Ok(User { name: r.get(0)?, role: r.get(1)?, password_hash: r.get(2)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_user(&self, name: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM users WHERE name = ?1", [name])? > 0))
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.read(|c| {
            let mut q = c.prepare("SELECT hash, name, role, created FROM tokens ORDER BY created, hash")?;
            let rows = q.query_map([], |r| {
                let h: Vec<u8> = r.get(0)?;
                let mut hash = [0u8; 32];
                hash.copy_from_slice(&h[..32.min(h.len())]);
                Ok(TokenInfo { hash, name: r.get(1)?, role: r.get(2)?, created: r.get(3)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_token(&self, token_hash: &[u8; 32]) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM tokens WHERE hash = ?1", [&token_hash[..]])? > 0))
    }
}

fn write_docs_in(tx: &Transaction<'_>, changes: &[(&str, &str, Option<&str>)]) -> Result<()> {
    let mut put = tx.prepare_cached(
        "INSERT INTO docs (kind, id, created, doc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
    )?;
    let mut del = tx.prepare_cached("DELETE FROM docs WHERE kind = ?1 AND id = ?2")?;
    let now = now_micros();
    for (kind, id, doc) in changes {
        match doc {
            Some(d) => put.execute(params![kind, id, now, d])?,
            None => del.execute(params![kind, id])?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_conformance() {
        crate::conformance::run_all(&|| {
            let dir = tempfile::tempdir().unwrap();
            let store = super::SqliteStore::open_dir(dir.path()).unwrap();
            (Box::new(store) as Box<dyn crate::Store>, Box::new(dir) as Box<dyn std::any::Any>)
        });
    }

    /// Search results never depend on the plan: with no test ever counted as rare, every
    /// tag and keyword test is checked row by row instead of driving the query.
    #[test]
    fn search_without_rare_drivers() {
        super::search::RARE.store(-1, std::sync::atomic::Ordering::Relaxed);
        crate::conformance::run_search(&|| {
            let dir = tempfile::tempdir().unwrap();
            let store = super::SqliteStore::open_dir(dir.path()).unwrap();
            (Box::new(store) as Box<dyn crate::Store>, Box::new(dir) as Box<dyn std::any::Any>)
        });
        super::search::RARE.store(5_000, std::sync::atomic::Ordering::Relaxed);
    }

    /// Keyword prefixes are spelled out from the index's vocabulary.
    #[test]
    fn keyword_prefixes_expand_to_indexed_words() {
        use crate::Store;
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open_dir(dir.path()).unwrap();
        let obj = |n: u32, name: &str| {
            let v = serde_json::json!({"type": "malware", "spec_version": "2.1",
                "id": format!("malware--00000000-0000-4000-8000-{n:012}"), "created": "2020-01-01T00:00:00.000Z",
                "modified": "2020-01-01T00:00:00.000Z", "name": name, "is_family": false});
            crate::Candidate::from_value(&v, &cairn_stix::ObjectMeta::from_value(&v, None).unwrap())
        };
        let source = crate::Source::new(crate::SourceKind::File, "t");
        store.ingest(&source, &[obj(1, "Evil dropper"), obj(2, "evildoer"), obj(3, "Général")]).unwrap();
        store.refresh_search(100).unwrap();
        let expand = |k: &str| store.read(|c| super::search::fts_exact(c, k)).unwrap();
        assert_eq!(expand("evil").as_deref(), Some("(\"evil\" OR \"evildoer\")"));
        assert_eq!(
            expand("EVIL drop \"a phrase\"").as_deref(),
            Some("(\"evil\" OR \"evildoer\") (\"dropper\") \"a phrase\"")
        );
        assert_eq!(expand("gen").as_deref(), Some("(\"general\")"), "diacritics are folded in the index");
        assert_eq!(expand("nothing"), None);
        assert_eq!(expand("198.51"), None, "not a single word");
    }

    #[test]
    fn a_store_from_a_newer_cairn_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        drop(super::SqliteStore::open_dir(dir.path()).unwrap());
        let conn = rusqlite::Connection::open(dir.path().join("cairn.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = super::SqliteStore::open_dir(dir.path()).err().expect("must refuse").to_string();
        assert!(err.contains("schema version 99") && err.contains("upgrade cairn"), "{err}");
    }

    #[test]
    fn reopening_keeps_data_and_schema() {
        use crate::Store;
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let s = super::SqliteStore::open_dir(dir.path()).unwrap();
            s.instance_id().unwrap()
        };
        let s = super::SqliteStore::open_dir(dir.path()).unwrap();
        assert_eq!(s.instance_id().unwrap(), id);
    }
}
