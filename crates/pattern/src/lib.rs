//! The STIX patterning language (STIX 2.1 §9, and 2.0): parser, typed syntax tree, the
//! checks of the reference validator, observable extraction, and a matcher with the
//! reference matcher's semantics.
//!
//! - [`parse`] answers "is this in the grammar?" and gives the [`Pattern`] tree; it
//!   accepts exactly what the ANTLR grammar `STIXPattern.g4` accepts, as shipped (2.1
//!   and 2.0 variants) in the PyPI package `stix2-patterns` 2.1.2.
//! - [`validate`] answers "is this a valid pattern?" with the verdict of that package's
//!   `stix2patterns.validator.run_validator`: the grammar, plus its checks beyond it
//!   (the pattern starts with `[`, hash values look like hashes, no repeated qualifier
//!   kind directly on one observation in 2.1).
//! - [`observables`] lists a pattern's equality comparisons as the
//!   (`ObservableKey`, `ObservableValue`) pairs of Sentinel's `ThreatIntelIndicators`,
//!   with the observation each comes from; compound patterns included.
//! - [`matcher`] decides whether observed data (2.1 bundles, or 2.0 observed-data)
//!   matches a pattern, as `stix2matcher.matcher.match` of the PyPI package
//!   `stix2-matcher` 3.0.0 does: [`Matcher::new`] prepares a pattern once (literals
//!   coerced, Python regexes translated and compiled), [`Observations::new`] reads the
//!   data, [`Matcher::matches`] answers.
//!
//! Known differences from the references are listed in `DISAGREEMENTS.md` next to this
//! crate's manifest.
//!
//! Key design decision: a hand-written lexer and recursive-descent parser instead of a
//! parser generator or a port of the ANTLR tables. The grammar is LL(1) once its left
//! recursion is read as loops, so the code stays short and follows the grammar rule by
//! rule; it runs on every ingested indicator (parsing a typical pattern takes well under
//! a microsecond, with no allocation beyond the tree itself), needs no dependency, and
//! produces a typed tree directly instead of a generic parse tree to be walked. The
//! ANTLR lexer's longest-match rule, which decides cases like `true` versus `truex` or
//! `t'…'` with a bad date, is reproduced explicitly in the (private) `lexer` module, and
//! `tests/reference.rs` holds it to the reference's recorded verdicts on its own test
//! suite and on some 1,250 edge and random patterns.
//!
//! The tree ([`ast`]) is what observable extraction and matching work on: operands are
//! typed per operator ([`ComparisonOp`]), literals are decoded (strings unescaped, hex
//! and base64 as bytes, timestamps as fields), and it prints back to a canonical pattern
//! that parses to the same tree.
//!
//! Second design decision: the matcher ports the reference's algorithm (its lazy,
//! generator-by-generator search for bindings) rather than a cleverer one, because
//! "the same semantics" includes which binding comes first, which inputs fail, and how
//! its pruning behaves; the port is what makes exact agreement checkable. It is still
//! well over 100 times faster than the reference on the reference's own suite
//! (`examples/match_bench.rs`). The crate's dependencies serve the matcher only:
//! `serde_json` (the observed data), `regex` (Python's `re`, translated) and
//! `unicode-normalization` (NFC before `LIKE`/`MATCHES`, as the reference does).

pub mod ast;
mod checks;
pub mod error;
pub mod index;
mod lexer;
pub mod matcher;
mod observables;
mod parser;

pub use ast::{
    Comparison, ComparisonExpr, ComparisonOp, Literal, ObjectPath, ObservationExpr, PathStep, Pattern, Qualifier,
    QualifierKind, Timestamp,
};
pub use error::{Expected, Found, Hint, ParseError, Position, ValidationError};
pub use matcher::{matches, MatchError, Matcher, Observations};
pub use observables::{observables, Observable};
pub use parser::MAX_NESTING;

/// The patterning language version: the grammar differs (2.1 adds `EXISTS`) and so do
/// the reference validator's checks (2.1 adds the repeated-qualifier check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    V20,
    V21,
}

impl Version {
    /// The version the reference validator uses for a version string: `run_validator`
    /// takes the 2.1 grammar only for exactly `"2.1"` and the 2.0 grammar for anything
    /// else. For an indicator, the string is its `pattern_version`, else its
    /// `spec_version`, else `"2.1"` (stix2-validator's `patterns` check); a STIX 2.0
    /// indicator is always checked as 2.0.
    pub fn from_reference_str(s: &str) -> Version {
        if s == "2.1" {
            Version::V21
        } else {
            Version::V20
        }
    }
}

/// Parses a pattern: `Ok` exactly when the grammar accepts it. None of the
/// [`validate`]-only checks are applied.
pub fn parse(pattern: &str, version: Version) -> Result<Pattern, ParseError> {
    parser::Parser::new(pattern, version, false).pattern().map(|expr| Pattern { expr }).map_err(|e| *e)
}

/// Validates a pattern as the reference validator does, returning its tree when valid
/// and every problem found otherwise. After a syntax error nothing else is checked but
/// the leading bracket (as in the reference).
pub fn validate(pattern: &str, version: Version) -> Result<Pattern, Vec<ValidationError>> {
    let mut errors = Vec::new();
    if !checks::brackets_ok(pattern) {
        errors.push(ValidationError::MissingBrackets);
    }
    let mut p = parser::Parser::new(pattern, version, true);
    match p.pattern() {
        Err(e) => errors.push(ValidationError::Syntax(*e)),
        Ok(expr) if errors.is_empty() && p.issues.is_empty() => return Ok(Pattern { expr }),
        Ok(_) => errors.append(&mut p.issues),
    }
    Err(errors)
}

#[cfg(test)]
mod tests;
