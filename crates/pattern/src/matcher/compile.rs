//! The pattern tree turned into what evaluation needs: literals coerced as the
//! reference coerces them, regexes translated and compiled, qualifiers checked. Every
//! error the reference raises whatever the data is raised here, once per pattern.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock};

use unicode_normalization::UnicodeNormalization;

use super::pyre::{self, Dollar, Mode, ReError, Translated};
use super::time::{self, Micros};
use super::value::{self, Lit, LitSet, Num};
use super::MatchError;
use crate::ast::{Comparison, ComparisonExpr, ComparisonOp, Literal, ObservationExpr, PathStep, Pattern, Qualifier};

/// The observation expression, as the reference's binary parse tree: `a AND b AND c` is
/// `(a AND b) AND c`, each qualifier wraps what precedes it.
pub(crate) enum ONode {
    /// An observation `[…]`: index into [`Program::leaves`].
    Leaf(usize),
    And(Box<ONode>, Box<ONode>),
    Or(Box<ONode>, Box<ONode>),
    FollowedBy(Box<ONode>, Box<ONode>),
    /// The duration in microseconds; `None` where adding it always fails.
    Within(Box<ONode>, Option<i128>),
    StartStop(Box<ONode>, Micros, Micros),
    Repeats(Box<ONode>, u64),
}

/// A comparison expression, binary and left-nested as in the reference.
pub(crate) enum CExpr {
    Test(Box<Test>),
    /// Whether the right side can fail on some data (then it must be evaluated even when
    /// the left side selects nothing, as the reference evaluates everything).
    And(Box<CExpr>, Box<CExpr>, bool),
    Or(Box<CExpr>, Box<CExpr>),
}

impl CExpr {
    fn fallible(&self) -> bool {
        match self {
            CExpr::Test(t) => t.fallible,
            CExpr::And(a, b, _) | CExpr::Or(a, b) => a.fallible() || b.fallible(),
        }
    }
}

pub(crate) struct Test {
    pub(crate) object_type: String,
    /// A STIX 2.1 SDO/SRO type: the 2.1 reference finds no objects of these types.
    pub(crate) sdo_type: bool,
    /// The first property is the first step.
    pub(crate) steps: Vec<Step>,
    /// Whether selecting values can fail (a `_hex`/`_bin`/`_ref`/`_refs` step); then all
    /// values are selected before any is tested, as in the reference.
    pub(crate) path_fallible: bool,
    pub(crate) pred: Pred,
    /// Whether evaluating the test can fail on some data.
    pub(crate) fallible: bool,
}

pub(crate) enum Step {
    Key { name: String, suffix: Suffix, deref: Deref },
    Index(i64),
    Any,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suffix {
    None,
    /// `…_hex`: the value is decoded from hex.
    Hex,
    /// `…_bin`: the value is decoded from base64.
    Bin,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deref {
    None,
    /// `…_ref`
    One,
    /// `…_refs`
    List,
}

pub(crate) enum Pred {
    /// `=`/`!=`, with `invert` = `!=` xor `NOT`.
    Eq {
        lit: Lit,
        invert: bool,
    },
    Order {
        lit: Lit,
        test: fn(Ordering) -> bool,
        negated: bool,
    },
    In {
        set: LitSet,
        negated: bool,
    },
    /// `binary`: bytes values are decoded as UTF-8 and tested (every code point of the
    /// pattern is below 256).
    Like {
        re: regex::Regex,
        binary: bool,
        negated: bool,
    },
    /// Boxed: the compiled variants are large and most predicates are not `MATCHES`.
    Matches {
        text: Box<Variants<regex::Regex>>,
        bytes: Option<Box<Variants<regex::bytes::Regex>>>,
        negated: bool,
    },
    /// The literal subnet; `None` if it is no subnet (the reference fails when it first
    /// tests a string value).
    Subset {
        container: Option<(u32, u32)>,
        negated: bool,
    },
    /// The literal address or subnet; `None` likewise.
    Superset {
        containee: Option<(u32, u32)>,
        negated: bool,
    },
    Exists {
        negated: bool,
    },
}

pub(crate) struct Program {
    pub(crate) root: ONode,
    /// In the reference's walk order (source order).
    pub(crate) leaves: Vec<CExpr>,
}

/// STIX 2.1 object types the 2.1 reference never treats as observable objects
/// (`stix2matcher.enums.TYPES_V21`).
const TYPES_V21: &[&str] = &[
    "attack-pattern", "bundle", "campaign", "course-of-action", "extension-definition", "grouping", "identity",
    "incident", "indicator", "infrastructure", "intrusion-set", "language-content", "location", "malware",
    "malware-analysis", "marking-definition", "note", "observed-data", "opinion", "relationship", "report",
    "threat-actor", "tool", "sighting", "vulnerability",
];

pub(crate) fn compile(p: &Pattern) -> Result<Program, MatchError> {
    let mut leaves = Vec::new();
    let root = observation(&p.expr, &mut leaves)?;
    Ok(Program { root, leaves })
}

fn fold<T>(
    items: &[T],
    mut f: impl FnMut(&T) -> Result<ONode, MatchError>,
    node: fn(Box<ONode>, Box<ONode>) -> ONode,
) -> Result<ONode, MatchError> {
    let mut acc = f(&items[0])?;
    for item in &items[1..] {
        acc = node(Box::new(acc), Box::new(f(item)?));
    }
    Ok(acc)
}

fn observation(e: &ObservationExpr, leaves: &mut Vec<CExpr>) -> Result<ONode, MatchError> {
    Ok(match e {
        ObservationExpr::Observation(c) => {
            let c = comparison_expr(c)?;
            leaves.push(c);
            ONode::Leaf(leaves.len() - 1)
        }
        ObservationExpr::And(v) => fold(v, |x| observation(x, leaves), ONode::And)?,
        ObservationExpr::Or(v) => fold(v, |x| observation(x, leaves), ONode::Or)?,
        ObservationExpr::FollowedBy(v) => fold(v, |x| observation(x, leaves), ONode::FollowedBy)?,
        ObservationExpr::Qualified { expr, qualifiers } => {
            let mut node = observation(expr, leaves)?;
            for q in qualifiers {
                node = match q {
                    Qualifier::Within(secs) => {
                        if *secs <= 0.0 {
                            return Err(MatchError::Pattern(format!(
                                "Invalid WITHIN value (must be positive): {secs}"
                            )));
                        }
                        ONode::Within(Box::new(node), time::within_micros(*secs))
                    }
                    Qualifier::Repeats(n) => {
                        if *n < 1 {
                            return Err(MatchError::Pattern(format!("Invalid repetition count: {n}")));
                        }
                        ONode::Repeats(Box::new(node), *n)
                    }
                    Qualifier::StartStop { start, stop } => {
                        let t = |ts| {
                            time::literal(ts)
                                .ok_or_else(|| MatchError::Pattern(format!("Invalid TimestampLiteral: t'{ts}'")))
                        };
                        ONode::StartStop(Box::new(node), t(start)?, t(stop)?)
                    }
                };
            }
            node
        }
    })
}

fn comparison_expr(c: &ComparisonExpr) -> Result<CExpr, MatchError> {
    let fold = |v: &[ComparisonExpr], and: bool| -> Result<CExpr, MatchError> {
        let mut acc = comparison_expr(&v[0])?;
        for item in &v[1..] {
            let rhs = comparison_expr(item)?;
            acc = if and {
                let fallible = rhs.fallible();
                CExpr::And(Box::new(acc), Box::new(rhs), fallible)
            } else {
                CExpr::Or(Box::new(acc), Box::new(rhs))
            };
        }
        Ok(acc)
    };
    match c {
        ComparisonExpr::Comparison(c) => Ok(CExpr::Test(Box::new(test(c)?))),
        ComparisonExpr::And(v) => fold(v, true),
        ComparisonExpr::Or(v) => fold(v, false),
    }
}

fn key_step(name: &str) -> Step {
    let suffix = if name.ends_with("_hex") {
        Suffix::Hex
    } else if name.ends_with("_bin") {
        Suffix::Bin
    } else {
        Suffix::None
    };
    let deref = if name.ends_with("_ref") {
        Deref::One
    } else if name.ends_with("_refs") {
        Deref::List
    } else {
        Deref::None
    };
    Step::Key { name: name.to_owned(), suffix, deref }
}

fn test(c: &Comparison) -> Result<Test, MatchError> {
    let mut steps = vec![key_step(&c.path.property)];
    for s in &c.path.steps {
        steps.push(match s {
            PathStep::Key(k) => key_step(k),
            PathStep::Index(i) => Step::Index(*i),
            PathStep::AnyIndex => Step::Any,
        });
    }
    let path_fallible = steps
        .iter()
        .any(|s| matches!(s, Step::Key { suffix, deref, .. } if *suffix != Suffix::None || *deref != Deref::None));
    let negated = c.negated;
    let has_bytes = steps.iter().any(|s| matches!(s, Step::Key { suffix, .. } if *suffix != Suffix::None));
    let (pred, pred_fallible) = match &c.op {
        ComparisonOp::Equal(l) | ComparisonOp::NotEqual(l) => {
            let lit = literal(l)?;
            let fallible = matches!(lit, Lit::Time(_));
            (Pred::Eq { lit, invert: matches!(c.op, ComparisonOp::NotEqual(_)) != negated }, fallible)
        }
        ComparisonOp::Less(l)
        | ComparisonOp::LessOrEqual(l)
        | ComparisonOp::Greater(l)
        | ComparisonOp::GreaterOrEqual(l) => {
            let lit = literal(l)?;
            let test: fn(Ordering) -> bool = match c.op {
                ComparisonOp::Less(_) => Ordering::is_lt,
                ComparisonOp::LessOrEqual(_) => Ordering::is_le,
                ComparisonOp::Greater(_) => Ordering::is_gt,
                _ => Ordering::is_ge,
            };
            let fallible = matches!(lit, Lit::Time(_));
            (Pred::Order { lit, test, negated }, fallible)
        }
        ComparisonOp::In(items) => {
            let set = set(items)?;
            let fallible = set.of_times();
            (Pred::In { set, negated }, fallible)
        }
        ComparisonOp::Like(s) => {
            let s: String = s.nfc().collect();
            let re = build(&like_regex(&s)).map_err(|e| MatchError::Pattern(format!("LIKE '{s}': {e}")))?;
            let binary = s.chars().all(|c| u32::from(c) < 256);
            (Pred::Like { re, binary, negated }, has_bytes && binary)
        }
        ComparisonOp::Matches(s) => {
            let s: String = s.nfc().collect();
            let text = Box::new(Variants::new(&s, Mode::Str)?);
            let binary = s.chars().all(|c| u32::from(c) < 256);
            let bytes = if binary { Some(Box::new(Variants::new(&s, Mode::Bytes)?)) } else { None };
            (Pred::Matches { text, bytes, negated }, false)
        }
        ComparisonOp::IsSubset(s) => (Pred::Subset { container: value::cidr(s), negated }, true),
        ComparisonOp::IsSuperset(s) => (Pred::Superset { containee: value::ip_or_cidr(s), negated }, true),
        ComparisonOp::Exists => (Pred::Exists { negated }, false),
    };
    Ok(Test {
        sdo_type: TYPES_V21.contains(&c.path.object_type.as_str()),
        object_type: c.path.object_type.clone(),
        steps,
        path_fallible,
        pred,
        fallible: path_fallible || pred_fallible,
    })
}

fn literal(l: &Literal) -> Result<Lit, MatchError> {
    Ok(match l {
        Literal::Int(i) => Lit::Num(Num::Int(*i)),
        Literal::BigInt(s) => {
            let (negative, digits) = match s.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, &s[..]),
            };
            Lit::Num(Num::Big { negative, digits: digits.into() })
        }
        Literal::Float(f) => Lit::Num(Num::Float(*f)),
        Literal::String(s) => Lit::Str(s.clone()),
        Literal::Bool(b) => Lit::Bool(*b),
        Literal::Hex(b) | Literal::Binary(b) => Lit::Bytes(b.clone()),
        Literal::Timestamp(t) => {
            Lit::Time(time::literal(t).ok_or_else(|| MatchError::Pattern(format!("Invalid TimestampLiteral: t'{t}'")))?)
        }
    })
}

/// `exitSetLiteral`: the members must share one Python type, or all be numbers.
fn set(items: &[Literal]) -> Result<LitSet, MatchError> {
    let lits = items.iter().map(literal).collect::<Result<Vec<_>, _>>()?;
    #[derive(PartialEq)]
    enum Ty {
        Int,
        Float,
        Str,
        Bool,
        Bytes,
        Time,
    }
    let ty = |l: &Lit| match l {
        Lit::Num(Num::Float(_)) => Ty::Float,
        Lit::Num(_) => Ty::Int,
        Lit::Str(_) => Ty::Str,
        Lit::Bool(_) => Ty::Bool,
        Lit::Bytes(_) => Ty::Bytes,
        Lit::Time(_) => Ty::Time,
    };
    if let Some(first) = lits.first() {
        let homogeneous = lits.iter().all(|l| ty(l) == ty(first));
        let numbers = lits.iter().all(|l| matches!(ty(l), Ty::Int | Ty::Float));
        if !homogeneous && !numbers {
            let text: Vec<String> = items.iter().map(ToString::to_string).collect();
            return Err(MatchError::Pattern(format!("Nonhomogenous set: ({})", text.join(","))));
        }
    }
    Ok(LitSet::new(lits))
}

/// The `regex` crate's default size limit is below what some valid Python patterns
/// need (large counted repeats of Unicode classes).
const REGEX_SIZE_LIMIT: usize = 64 << 20;

/// Compiled regexes by source, shared by all patterns (up to 512, as many as Python's
/// `re` keeps; when full it starts over): compiling costs far more than matching, and
/// indicators repeat expressions. A compiled regex is a cheap handle to shared,
/// immutable automata.
struct Cache<R> {
    map: Mutex<HashMap<String, R>>,
}

const CACHE_SIZE: usize = 512;

impl<R: Clone> Cache<R> {
    fn get_or_build(&self, src: &str, build: impl FnOnce(&str) -> Result<R, regex::Error>) -> Result<R, regex::Error> {
        if let Some(r) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(src) {
            return Ok(r.clone());
        }
        let r = build(src)?;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_SIZE {
            map.clear();
        }
        map.insert(src.to_owned(), r.clone());
        Ok(r)
    }
}

static TEXT_CACHE: LazyLock<Cache<regex::Regex>> = LazyLock::new(|| Cache { map: Mutex::new(HashMap::new()) });
static BYTES_CACHE: LazyLock<Cache<regex::bytes::Regex>> = LazyLock::new(|| Cache { map: Mutex::new(HashMap::new()) });

fn build(src: &str) -> Result<regex::Regex, regex::Error> {
    TEXT_CACHE.get_or_build(src, |s| regex::RegexBuilder::new(s).size_limit(REGEX_SIZE_LIMIT).build())
}

/// A compiled regex in each of its spellings of Python's `$` (see [`pyre::Dollar`]).
/// The first is compiled up front, so a pattern the `regex` crate rejects fails at
/// [`compile`]; the others, which differ only in that assertion, when a subject needs
/// them.
pub(crate) struct Variants<R> {
    translated: Translated,
    plain: R,
    only_final_newline: OnceLock<R>,
    final_newline: OnceLock<R>,
    /// For the empty subject, where Python's `\B` never matches.
    empty: OnceLock<R>,
}

/// The reference's regular expression for `LIKE` (of an NFC-normalised pattern), in
/// `regex` syntax; it is exact for NFC-normalised subjects.
pub(crate) fn like_regex(s: &str) -> String {
    let mut re = String::from(r"\A");
    for ch in s.chars() {
        match ch {
            '%' => re.push_str(r"[^\n]*"),
            '_' => re.push_str(r"[^\n]"),
            // A lone surrogate cannot be in a Rust string; everything else is a literal.
            ch => re.push_str(&format!("\\x{{{:X}}}", u32::from(ch))),
        }
    }
    // `$` ends the reference's LIKE regex: the end, or before a final newline.
    re.push_str(r"\n?\z");
    re
}

/// The regular expression (in `regex` syntax) that `LIKE` (`like`) or `MATCHES` with
/// pattern `s` applies to a text subject; exact for NFC-normalised subjects that are not
/// empty and do not end in a newline. `None` when the pattern cannot be matched here.
pub(crate) fn text_regex(like: bool, s: &str) -> Option<String> {
    let s: String = s.nfc().collect();
    if like {
        return Some(like_regex(&s));
    }
    pyre::translate(&s, Mode::Str).ok().map(|t| t.variant(Dollar::Plain, false))
}

pub(crate) trait CompiledRegex: Sized {
    fn build(src: &str) -> Result<Self, regex::Error>;
}

impl CompiledRegex for regex::Regex {
    fn build(src: &str) -> Result<Self, regex::Error> {
        build(src)
    }
}

impl CompiledRegex for regex::bytes::Regex {
    fn build(src: &str) -> Result<Self, regex::Error> {
        BYTES_CACHE.get_or_build(src, |s| regex::bytes::RegexBuilder::new(s).size_limit(REGEX_SIZE_LIMIT).build())
    }
}

impl<R: CompiledRegex> Variants<R> {
    fn new(pattern: &str, mode: Mode) -> Result<Variants<R>, MatchError> {
        let translated = pyre::translate(pattern, mode).map_err(|e| match e {
            ReError::Invalid(msg) => MatchError::Pattern(format!("MATCHES '{pattern}': {msg}")),
            ReError::Unsupported(construct) => MatchError::UnsupportedRegex { regex: pattern.to_owned(), construct },
        })?;
        let plain = R::build(&translated.variant(Dollar::Plain, false))
            .map_err(|e| MatchError::UnsupportedRegex { regex: pattern.to_owned(), construct: regex_error_kind(&e) })?;
        Ok(Variants {
            translated,
            plain,
            only_final_newline: OnceLock::new(),
            final_newline: OnceLock::new(),
            empty: OnceLock::new(),
        })
    }

    /// The regex for a subject (its bytes decide which `$` and `\B` apply).
    pub(crate) fn get(&self, subject: &[u8]) -> &R {
        let (d, empty) = (Dollar::of(subject), subject.is_empty());
        let cell = if empty && self.translated.has_non_boundary {
            &self.empty
        } else if !self.translated.has_dollar {
            return &self.plain;
        } else {
            match d {
                Dollar::Plain => return &self.plain,
                Dollar::OneNewline => &self.only_final_newline,
                Dollar::ManyNewlines => &self.final_newline,
            }
        };
        // It differs from `plain`, which compiled, only in assertions.
        cell.get_or_init(|| R::build(&self.translated.variant(d, empty)).expect("a variant of a regex that compiled"))
    }
}

fn regex_error_kind(e: &regex::Error) -> &'static str {
    match e {
        regex::Error::CompiledTooBig(_) => "a pattern larger than the regex size limit",
        _ => "a construct the regex crate rejects",
    }
}
