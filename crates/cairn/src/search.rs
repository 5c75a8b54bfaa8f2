//! Search requests (the explorer's search builder) and the background task that keeps
//! the store's search index up to date.

use std::sync::Arc;
use std::time::Duration;

use cairn_condition::Condition;
use cairn_store::{SearchPage, SearchQuery, SortField, Store};
use serde::Deserialize;

/// Most versions indexed before a search runs. A search after a large import answers from
/// what is indexed so far (and says how far behind it is) instead of waiting minutes; the
/// bound also keeps the one write lock, which ingest shares, short (about 0.1 s).
pub const CATCH_UP_BEFORE_SEARCH: usize = 2_000;

/// Versions indexed per background step: each step is one write transaction, and ingest
/// waits for the writer meanwhile (at 13,000 objects/s, 2,000 take about 0.15 s).
const STEP: usize = 2_000;

/// A search as the API takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Object types; absent or empty = every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// The condition tree (clauses, `all`/`any`/`not` groups).
    #[serde(default, rename = "where")]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub keywords: Option<String>,
    #[serde(default)]
    pub sort: Option<String>,
    /// `asc` or `desc` (the default).
    #[serde(default)]
    pub order: Option<String>,
    /// The `next` cursor of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    /// Also count by type, source, TLP, tag and confidence band.
    #[serde(default)]
    pub facets: bool,
}

impl SearchRequest {
    pub fn query(self) -> Result<(SearchQuery, bool), String> {
        let sort = self.sort.as_deref().map(SortField::parse).transpose()?.unwrap_or_default();
        let descending = match self.order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(o) => return Err(format!("order: '{o}' is neither asc nor desc")),
        };
        let limit = self.limit.unwrap_or(50);
        if limit == 0 || limit > 1000 {
            return Err("limit: between 1 and 1000".into());
        }
        for t in &self.types {
            cairn_stix::ident::check_type_name(t).map_err(|e| format!("types: {e}"))?;
        }
        let q = SearchQuery {
            types: self.types,
            condition: self.condition.unwrap_or_else(Condition::always),
            keywords: self.keywords.filter(|k| !k.trim().is_empty()),
            sort,
            descending,
            after: self.after,
            limit,
            now: cairn_store::now_micros(),
        };
        Ok((q, self.facets))
    }
}

/// Runs a search after bringing the index (nearly) up to date.
pub fn run(store: &dyn Store, q: &SearchQuery) -> cairn_store::Result<SearchPage> {
    store.refresh_search(CATCH_UP_BEFORE_SEARCH)?;
    store.search(q)
}

/// The ids of every current object of `object_type` that `condition` selects, from the
/// search index (brought fully up to date first, so the selection misses nothing stored).
pub fn select_ids(store: &dyn Store, object_type: &str, condition: Condition) -> Result<Vec<String>, String> {
    while store.refresh_search(STEP).map_err(|e| e.to_string())?.lag > 0 {}
    let mut q = SearchQuery {
        types: vec![object_type.to_string()],
        condition,
        sort: SortField::DateAdded,
        descending: false,
        limit: 1000,
        ..SearchQuery::default()
    };
    let mut ids = Vec::new();
    loop {
        let page = store.search(&q).map_err(|e| e.to_string())?;
        ids.extend(page.items.into_iter().map(|v| v.id));
        match page.next {
            Some(n) => q.after = Some(n),
            None => return Ok(ids),
        }
    }
}

/// Keeps the search index up to date in the server, in bounded steps so that writers
/// are never held up for long.
pub async fn follow_store(store: Arc<dyn Store>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let store = store.clone();
        // Paced like enrichment: after a step, a pause as long as the step, so a bulk
        // import gets the writer (and a core) at least half the time.
        let step = tokio::task::spawn_blocking(move || loop {
            let t = std::time::Instant::now();
            match store.refresh_search(STEP) {
                Ok(p) if p.lag == 0 => return Ok(()),
                Ok(_) => std::thread::sleep(t.elapsed()),
                Err(e) => return Err(e),
            }
        })
        .await;
        match step {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("search index update failed (retrying): {e}"),
            Err(e) => tracing::error!("search index update panicked: {e}"),
        }
    }
}
