//! Matching a pattern against observed data, with the semantics of the OASIS reference
//! matcher, `stix2-matcher` 3.0.0 (PyPI): same verdicts, same errors in kind, same first
//! match, differences listed in `DISAGREEMENTS.md`.
//!
//! ```
//! use cairn_pattern::{matcher::{Matcher, Observations}, parse, Version};
//!
//! let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
//!     {"type": "observed-data", "id": "observed-data--1", "number_observed": 1,
//!      "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z",
//!      "object_refs": ["ipv4-addr--1"]},
//!     {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.7"}]});
//! let observed = [bundle];
//! let data = Observations::new(&observed, Version::V21)?;
//! let pattern = parse("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", Version::V21).unwrap();
//! let matcher = Matcher::new(&pattern)?;
//! assert!(matcher.matches(&data)?);
//! # Ok::<(), cairn_pattern::matcher::MatchError>(())
//! ```
//!
//! How the reference decides, in short (each module says more):
//! - The input ([`Observations`]): 2.1 bundles of observed-data and the objects their
//!   `object_refs` name, or 2.0 observed-data with embedded `objects`. Each observed-data
//!   is `number_observed` instances, observed somewhere in
//!   `[first_observed, last_observed]`.
//! - `[…]` (`eval`): the objects of the path's type in an observation whose selected
//!   values pass the comparison; comparisons follow Python's types (`1 = 1.0`,
//!   `true != 1` but `true IN (1)`, `'a' = h'61'`, a string compared with a timestamp
//!   literal must be a timestamp), `LIKE`/`MATCHES` are Python regular expressions
//!   (`pyre`) on NFC-normalised text, `ISSUBSET`/`ISSUPERSET` take IPv4 only.
//! - Observation operators and qualifiers (`bindings`): a search for instances bound to
//!   each `[…]`, all distinct; `FOLLOWEDBY` needs the left instants not after the right
//!   ones, `WITHIN` all instants within the duration, `START`/`STOP` every instant in
//!   `[start, stop)`, `REPEATS n` n disjoint bindings.
//! - The verdict is that of `stix2matcher.matcher.match`: the observed-data of the first
//!   binding found, as a truth value; so a match whose first binding uses only the
//!   second and later instances of its observations counts as no match, as there.
//!
//! Performance: [`Matcher::new`] does everything that depends only on the pattern
//! once (regexes translated and compiled, and shared between patterns through a cache
//! of up to 512, as many as Python's `re` keeps; literals coerced; qualifiers checked);
//! a match allocates little beyond the search itself and stops at the first binding.
//! The search is the reference's, so its worst cases (many instances under `REPEATS`)
//! are as exponential as there, only cheaper per step.

mod bindings;
mod compile;
mod eval;
mod input;
mod pyre;
mod time;
mod value;

use std::fmt;

use serde_json::Value;

pub(crate) use compile::text_regex;
pub use input::Observations;

use crate::{Pattern, Version};

/// Why a match could not be decided. Where the reference raises an exception, the
/// matcher returns one of these (the kind, not the message, is what agrees).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MatchError {
    /// The pattern fails whatever the data: a timestamp literal that is no date or a
    /// leap second, an `IN` set mixing types, `WITHIN 0 SECONDS`, `REPEATS 0 TIMES`, a
    /// regular expression Python rejects.
    Pattern(String),
    /// A regular expression Python accepts that needs what the `regex` crate lacks
    /// (back-references, look-around, …): here we cannot give the reference's verdict.
    UnsupportedRegex { regex: String, construct: &'static str },
    /// The observed data is not what the reference reads (missing keys, bad timestamps
    /// or counts, wrong shapes).
    ObservedData(String),
    /// A value the match had to evaluate is unusable for the comparison: a string
    /// compared with a timestamp literal that is no timestamp, an address for
    /// `ISSUBSET` that is no IPv4 address, a bad `_hex`/`_bin` value, a reference that
    /// is not a string, a `WITHIN` window beyond the year 9999.
    Value(String),
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchError::Pattern(m) => write!(f, "pattern cannot be matched: {m}"),
            MatchError::UnsupportedRegex { regex, construct } => {
                write!(f, "regular expression '{regex}' uses {construct}, which this matcher does not support")
            }
            MatchError::ObservedData(m) => write!(f, "invalid observed data: {m}"),
            MatchError::Value(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for MatchError {}

/// A pattern prepared for matching. Build once, match against any number of
/// [`Observations`] (it is `Send + Sync`).
pub struct Matcher {
    program: compile::Program,
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher").field("observations", &self.program.leaves.len()).finish_non_exhaustive()
    }
}

impl Matcher {
    /// Prepares a pattern (of either version; `EXISTS` is 2.1 syntax). Fails with
    /// [`MatchError::Pattern`] or [`MatchError::UnsupportedRegex`] where the reference
    /// would fail on any data.
    pub fn new(pattern: &Pattern) -> Result<Matcher, MatchError> {
        Ok(Matcher { program: compile::compile(pattern)? })
    }

    /// The reference's verdict: whether `stix2matcher.matcher.match` returns a
    /// non-empty list.
    pub fn matches(&self, observed: &Observations<'_>) -> Result<bool, MatchError> {
        Ok(!self.first_match(observed)?.is_empty())
    }

    /// What `stix2matcher.matcher.match` returns: the observed-data of the first binding
    /// found, as indexes for [`Observations::observed_data`], ascending; empty when there
    /// is no match. Only observations whose first instance is in the binding are listed
    /// (the reference's `get_obs_index_filtered`).
    pub fn first_match(&self, observed: &Observations<'_>) -> Result<Vec<usize>, MatchError> {
        let mut leaves = Vec::with_capacity(self.program.leaves.len());
        for leaf in &self.program.leaves {
            leaves.push(Some(eval::eval(leaf, observed)?.into_iter().map(|(o, _)| o).collect()));
        }
        let cx = bindings::Cx::new(&observed.list);
        let mut stream = bindings::Stream::build(&self.program.root, &mut leaves, &cx);
        let first = stream.next(&cx);
        if let Some(e) = cx.error.into_inner() {
            return Err(e);
        }
        let mut sdos: Vec<usize> =
            first.iter().flat_map(|b| b.iter()).filter(|i| i.1 == 0).map(|i| i.0 as usize).collect();
        sdos.sort_unstable();
        sdos.dedup();
        Ok(sdos)
    }
}

/// Matches a pattern against observed data: `stix2matcher.matcher.match(pattern,
/// observed, stix_version=…)` as a truth value. For many matches, prepare the pattern
/// with [`Matcher::new`] and the data with [`Observations::new`] once.
pub fn matches(pattern: &Pattern, observed: &[Value], version: Version) -> Result<bool, MatchError> {
    let data = Observations::new(observed, version)?;
    Matcher::new(pattern)?.matches(&data)
}

#[cfg(test)]
mod tests;
