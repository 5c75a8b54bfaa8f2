//! Search over the current versions of live objects: the types every backend shares.
//!
//! A search is a condition tree (`cairn-condition`, the same language as ingestion rules),
//! object types, keywords, a sort and a keyset cursor. Backends answer it from an index
//! that follows the store (see [`crate::Store::refresh_search`]); whatever part of a
//! condition their index cannot answer exactly they check against the object itself with
//! the condition's own evaluator, so every backend returns exactly what
//! `Condition::holds` selects.

use cairn_condition::Condition;

/// What to sort by. Ties are broken by an internal row key, so paging is stable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortField {
    #[default]
    Modified,
    Created,
    Name,
    Confidence,
    ValidFrom,
    ValidUntil,
    Type,
    Source,
    /// When the current version was stored.
    DateAdded,
}

impl SortField {
    pub const ALL: &'static [(&'static str, SortField)] = &[
        ("modified", SortField::Modified),
        ("created", SortField::Created),
        ("name", SortField::Name),
        ("confidence", SortField::Confidence),
        ("valid_from", SortField::ValidFrom),
        ("valid_until", SortField::ValidUntil),
        ("type", SortField::Type),
        ("source", SortField::Source),
        ("date_added", SortField::DateAdded),
    ];

    pub fn parse(s: &str) -> Result<SortField, String> {
        Self::ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)).map(|(_, f)| *f).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
            format!("cannot sort by '{s}'; sort by one of {}", names.join(", "))
        })
    }
}

#[derive(Clone, Debug)]
pub struct SearchQuery {
    /// Object types; empty = every type.
    pub types: Vec<String>,
    pub condition: Condition,
    /// Free text: every word must occur in the name, description, pattern or an
    /// observable value (prefix matches; a quoted "phrase" must occur as written).
    pub keywords: Option<String>,
    pub sort: SortField,
    pub descending: bool,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    pub limit: usize,
    /// What relative times in the condition count back from (microseconds since the epoch).
    pub now: i64,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            types: Vec::new(),
            condition: Condition::always(),
            keywords: None,
            sort: SortField::Modified,
            descending: true,
            after: None,
            limit: 50,
            now: crate::now_micros(),
        }
    }
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct SearchPage {
    pub items: Vec<crate::StoredVersion>,
    /// The cursor for the next page; `None` on the last.
    pub next: Option<String>,
    /// Stored versions the search index has not caught up with yet.
    pub lag: u64,
}

/// Counts of the objects a search selects, by facet.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Facets {
    pub total: u64,
    pub types: Vec<(String, u64)>,
    pub sources: Vec<(String, u64)>,
    pub tlp: Vec<(String, u64)>,
    /// The most used tags.
    pub tags: Vec<(String, u64)>,
    /// Confidence bands `0-24`, `25-49`, `50-74`, `75-100` and `none`.
    pub confidence: Vec<(String, u64)>,
}

/// How far the search index has come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexProgress {
    /// Objects (re)indexed or removed by this call.
    pub indexed: u64,
    /// Versions still to index.
    pub lag: u64,
}
