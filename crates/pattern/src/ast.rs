//! The typed syntax tree of a STIX pattern, and its canonical printer.
//!
//! The tree keeps what a pattern *means* and drops what is only spelling: redundant
//! parentheses, `==` versus `=`, `<>` versus `!=`, a `+` sign, quoting of a property name
//! that needs none, whitespace and comments. [`Display`](std::fmt::Display) prints the
//! canonical spelling, and parsing that text gives back an equal tree
//! (`parse(&p.to_string()) == Ok(p)` for every tree the parser produces).
//!
//! Chains of one operator are kept flat (`a AND b AND c` is one `And` with three
//! members) so that long machine-generated patterns do not become deep trees; only
//! parentheses in the source nest one chain inside another of the same operator.

use std::fmt::{self, Write as _};

/// A parsed STIX pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub expr: ObservationExpr,
}

/// An observation expression: what must be observed, and how observations relate.
///
/// Invariants (the parser guarantees them; [`Display`](fmt::Display) relies on them only
/// for the round trip, not for safety): `And`, `Or` and `FollowedBy` have at least two
/// members; `Qualified` has at least one qualifier and its `expr` is not itself
/// `Qualified` (stacked qualifiers, with or without parentheses between them, form one list).
#[derive(Clone, Debug, PartialEq)]
pub enum ObservationExpr {
    /// `[ … ]`: one observation whose objects satisfy the comparison expression.
    Observation(ComparisonExpr),
    /// `A AND B …`: every member matches, each in its own observation.
    And(Vec<ObservationExpr>),
    /// `A OR B …`: at least one member matches.
    Or(Vec<ObservationExpr>),
    /// `A FOLLOWEDBY B …`: the members match in strictly increasing time order.
    FollowedBy(Vec<ObservationExpr>),
    /// `A WITHIN … REPEATS … START … STOP …`: qualifiers in source order, each applying
    /// to the expression with the qualifiers before it.
    Qualified { expr: Box<ObservationExpr>, qualifiers: Vec<Qualifier> },
}

/// A qualifier on an observation expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`. Invariant: non-negative, not NaN; infinite only when the
    /// literal's digits exceed `f64` (the grammar has no upper bound).
    Within(f64),
    /// `REPEATS n TIMES`. Counts beyond `u64` saturate: no observation set reaches them.
    Repeats(u64),
    /// `START t'…' STOP t'…'`. Not checked for `start < stop` (the reference does not).
    StartStop { start: Timestamp, stop: Timestamp },
}

/// The kind of a [`Qualifier`], for reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QualifierKind {
    Within,
    Repeats,
    StartStop,
}

impl Qualifier {
    pub fn kind(&self) -> QualifierKind {
        match self {
            Qualifier::Within(_) => QualifierKind::Within,
            Qualifier::Repeats(_) => QualifierKind::Repeats,
            Qualifier::StartStop { .. } => QualifierKind::StartStop,
        }
    }
}

impl fmt::Display for QualifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QualifierKind::Within => "WITHIN",
            QualifierKind::Repeats => "REPEATS",
            QualifierKind::StartStop => "START/STOP",
        })
    }
}

/// A comparison expression: the boolean combination inside `[ … ]`, over the objects of
/// one observation. Invariant: `And` and `Or` have at least two members.
#[derive(Clone, Debug, PartialEq)]
pub enum ComparisonExpr {
    Comparison(Comparison),
    And(Vec<ComparisonExpr>),
    Or(Vec<ComparisonExpr>),
}

/// One property test: `path [NOT] op operand`, or `[NOT] EXISTS path` (2.1).
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub path: ObjectPath,
    /// `NOT` before the operator: the comparison is inverted.
    pub negated: bool,
    pub op: ComparisonOp,
}

/// The operator of a [`Comparison`] together with its operand, typed as the grammar
/// types it, so an operator cannot carry an operand it does not take.
#[derive(Clone, Debug, PartialEq)]
pub enum ComparisonOp {
    /// `=` or `==`: any literal.
    Equal(Literal),
    /// `!=` or `<>`: any literal.
    NotEqual(Literal),
    /// `<`. Invariant (all four orderings): the literal is not a [`Literal::Bool`].
    Less(Literal),
    /// `<=`
    LessOrEqual(Literal),
    /// `>`
    Greater(Literal),
    /// `>=`
    GreaterOrEqual(Literal),
    /// `IN (…)`: a set of literals, possibly empty, types possibly mixed.
    In(Vec<Literal>),
    /// `LIKE 'pattern'` (SQL `%` and `_` wildcards).
    Like(String),
    /// `MATCHES 'regex'` (PCRE; not compiled here, as the reference does not).
    Matches(String),
    /// `ISSUBSET 'cidr'`
    IsSubset(String),
    /// `ISSUPERSET 'cidr'`
    IsSuperset(String),
    /// `EXISTS path` (2.1 only).
    Exists,
}

impl ComparisonOp {
    /// The canonical operator symbol.
    pub fn symbol(&self) -> &'static str {
        match self {
            ComparisonOp::Equal(_) => "=",
            ComparisonOp::NotEqual(_) => "!=",
            ComparisonOp::Less(_) => "<",
            ComparisonOp::LessOrEqual(_) => "<=",
            ComparisonOp::Greater(_) => ">",
            ComparisonOp::GreaterOrEqual(_) => ">=",
            ComparisonOp::In(_) => "IN",
            ComparisonOp::Like(_) => "LIKE",
            ComparisonOp::Matches(_) => "MATCHES",
            ComparisonOp::IsSubset(_) => "ISSUBSET",
            ComparisonOp::IsSuperset(_) => "ISSUPERSET",
            ComparisonOp::Exists => "EXISTS",
        }
    }
}

/// An object path: `type:property(.key | [n] | [*])*`.
///
/// Invariant: `object_type` matches `[a-zA-Z_][a-zA-Z0-9_-]*` and is not a keyword (the
/// grammar has no quoted form for it). Property names and keys are the unescaped text,
/// whether they were written bare or quoted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    pub object_type: String,
    pub property: String,
    pub steps: Vec<PathStep>,
}

/// One step after the first property of an [`ObjectPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// `.key` or `.'quoted key'`: a dictionary key or property of the value so far.
    Key(String),
    /// `[n]`: a list element. The grammar allows negative indexes (the reference
    /// validator crashes on them; [`crate::validate`] rejects them). Values beyond `i64`
    /// saturate, which addresses no element either way.
    Index(i64),
    /// `[*]`: any list element.
    AnyIndex,
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// An integer. `i128` holds every integer a JSON value can carry (`i64` and `u64`).
    Int(i128),
    /// An integer literal beyond `i128` (the grammar has no bound). Invariant: decimal
    /// digits without leading zeros, optionally preceded by `-`, outside the `i128` range.
    BigInt(Box<str>),
    /// A float: `[+-]?[0-9]*.[0-9]+`. Never NaN; infinite only when the literal's digits
    /// exceed `f64`.
    Float(f64),
    /// A string, unescaped.
    String(String),
    Bool(bool),
    /// `h'…'`: bytes written in hex.
    Hex(Vec<u8>),
    /// `b'…'`: bytes written in base64. Invariant: not empty (`b''` is not a literal).
    Binary(Vec<u8>),
    /// `t'…'`
    Timestamp(Timestamp),
}

/// A timestamp literal as the grammar accepts it: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
///
/// Invariants (enforced by [`Timestamp::parse`], the only constructor): month 1–12,
/// day 1–31, hour 0–23, minute 0–59, second 0–60, fraction all ASCII digits. The
/// calendar is not checked (`2023-02-30` is accepted), as in the reference validator;
/// the fraction keeps every digit written, so printing is lossless.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    fraction: Box<str>,
}

/// Length of a timestamp body (`YYYY-MM-DDTHH:MM:SS[.d+]Z`) at the start of `b`.
pub(crate) fn timestamp_body_len(b: &[u8]) -> Option<usize> {
    if b.len() < 20 {
        return None;
    }
    let d = |i: usize| b[i].is_ascii_digit();
    let two = |i: usize, lo: u8, hi: u8| -> bool {
        d(i) && d(i + 1) && (lo..=hi).contains(&((b[i] - b'0') * 10 + (b[i + 1] - b'0')))
    };
    let shape = d(0)
        && d(1)
        && d(2)
        && d(3)
        && b[4] == b'-'
        && two(5, 1, 12)
        && b[7] == b'-'
        && two(8, 1, 31)
        && b[10] == b'T'
        && two(11, 0, 23)
        && b[13] == b':'
        && two(14, 0, 59)
        && b[16] == b':'
        && two(17, 0, 60);
    if !shape {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    (b.get(i) == Some(&b'Z')).then_some(i + 1)
}

impl Timestamp {
    /// Parses the text between the quotes of `t'…'`; `None` unless the grammar accepts it.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if timestamp_body_len(b)? != b.len() {
            return None;
        }
        let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u16, |n, c| n * 10 + u16::from(c - b'0'));
        let frac = if b[19] == b'.' { &s[20..s.len() - 1] } else { "" };
        Some(Timestamp {
            year: num(0..4),
            month: num(5..7) as u8,
            day: num(8..10) as u8,
            hour: num(11..13) as u8,
            minute: num(14..16) as u8,
            second: num(17..19) as u8,
            fraction: frac.into(),
        })
    }

    pub fn year(&self) -> u16 {
        self.year
    }
    pub fn month(&self) -> u8 {
        self.month
    }
    pub fn day(&self) -> u8 {
        self.day
    }
    pub fn hour(&self) -> u8 {
        self.hour
    }
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// 0–60 (60 is a leap second).
    pub fn second(&self) -> u8 {
        self.second
    }
    /// The fractional-second digits as written (empty when there are none).
    pub fn fraction(&self) -> &str {
        &self.fraction
    }
    /// The fraction as nanoseconds (digits past the ninth are dropped).
    pub fn nanosecond(&self) -> u32 {
        let mut n = 0u32;
        for i in 0..9 {
            n = n * 10 + self.fraction.as_bytes().get(i).map_or(0, |c| u32::from(c - b'0'));
        }
        n
    }
}

impl fmt::Display for Timestamp {
    /// The literal's body (without `t'…'`), exactly as it was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if !self.fraction.is_empty() {
            write!(f, ".{}", self.fraction)?;
        }
        f.write_char('Z')
    }
}

impl Pattern {
    /// Every comparison of the pattern, in source order.
    pub fn comparisons(&self) -> Comparisons<'_> {
        Comparisons { stack: vec![Node::Obs(&self.expr)] }
    }
}

/// Iterator over a pattern's [`Comparison`]s, depth-first in source order (an explicit
/// stack, so arbitrarily wide patterns cost no recursion).
pub struct Comparisons<'a> {
    stack: Vec<Node<'a>>,
}

enum Node<'a> {
    Obs(&'a ObservationExpr),
    Cmp(&'a ComparisonExpr),
}

impl<'a> Iterator for Comparisons<'a> {
    type Item = &'a Comparison;

    fn next(&mut self) -> Option<&'a Comparison> {
        while let Some(node) = self.stack.pop() {
            match node {
                Node::Obs(ObservationExpr::Observation(c)) => self.stack.push(Node::Cmp(c)),
                Node::Obs(ObservationExpr::And(v) | ObservationExpr::Or(v) | ObservationExpr::FollowedBy(v)) => {
                    self.stack.extend(v.iter().rev().map(Node::Obs))
                }
                Node::Obs(ObservationExpr::Qualified { expr, .. }) => self.stack.push(Node::Obs(expr)),
                Node::Cmp(ComparisonExpr::Comparison(c)) => return Some(c),
                Node::Cmp(ComparisonExpr::And(v) | ComparisonExpr::Or(v)) => {
                    self.stack.extend(v.iter().rev().map(Node::Cmp))
                }
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// Canonical printing
// ---------------------------------------------------------------------------------------

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl ObservationExpr {
    /// Binding strength: a member printed inside an operator of the same or higher
    /// strength needs parentheses.
    fn strength(&self) -> u8 {
        match self {
            ObservationExpr::FollowedBy(_) => 1,
            ObservationExpr::Or(_) => 2,
            ObservationExpr::And(_) => 3,
            ObservationExpr::Qualified { .. } | ObservationExpr::Observation(_) => 4,
        }
    }
}

fn join_obs(f: &mut fmt::Formatter<'_>, members: &[ObservationExpr], op: &str, strength: u8) -> fmt::Result {
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            write!(f, " {op} ")?;
        }
        if m.strength() <= strength {
            write!(f, "({m})")?;
        } else {
            write!(f, "{m}")?;
        }
    }
    Ok(())
}

impl fmt::Display for ObservationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObservationExpr::Observation(c) => write!(f, "[{c}]"),
            ObservationExpr::And(v) => join_obs(f, v, "AND", 3),
            ObservationExpr::Or(v) => join_obs(f, v, "OR", 2),
            ObservationExpr::FollowedBy(v) => join_obs(f, v, "FOLLOWEDBY", 1),
            ObservationExpr::Qualified { expr, qualifiers } => {
                // The 2.1 validator rejects a repeated qualifier kind directly on a `[…]`
                // but not on a parenthesised group, so a repeat is printed behind a
                // parenthesis: `([a] WITHIN 1 SECONDS) WITHIN 2 SECONDS`. After that
                // parenthesis the base is a group and no further repeat matters.
                let mut text = String::new();
                let mut seen: Option<Vec<QualifierKind>> = match **expr {
                    ObservationExpr::Observation(_) => Some(Vec::new()),
                    _ => None,
                };
                if expr.strength() < 4 {
                    write!(text, "({expr})")?;
                } else {
                    write!(text, "{expr}")?;
                }
                for q in qualifiers {
                    if let Some(kinds) = &mut seen {
                        if kinds.contains(&q.kind()) {
                            text = format!("({text})");
                            seen = None;
                        } else {
                            kinds.push(q.kind());
                        }
                    }
                    write!(text, " {q}")?;
                }
                f.write_str(&text)
            }
        }
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within(s) => {
                f.write_str("WITHIN ")?;
                // A whole number prints as an integer literal, anything else as a float;
                // both read back as the same f64.
                write_decimal(f, *s, false)?;
                f.write_str(" SECONDS")
            }
            Qualifier::Repeats(n) => write!(f, "REPEATS {n} TIMES"),
            Qualifier::StartStop { start, stop } => write!(f, "START t'{start}' STOP t'{stop}'"),
        }
    }
}

/// Writes a finite or infinite non-NaN float as a grammar number literal: never with an
/// exponent (Rust's `Display` for `f64` never uses one), with `.0` appended when
/// `force_point` and the number is whole, and infinity as a literal too long for `f64`.
fn write_decimal(f: &mut fmt::Formatter<'_>, x: f64, force_point: bool) -> fmt::Result {
    if x.is_infinite() {
        let sign = if x < 0.0 { "-" } else { "" };
        return write!(f, "{sign}1{:0<400}{}", "", if force_point { ".0" } else { "" });
    }
    let s = x.to_string();
    f.write_str(&s)?;
    if force_point && !s.contains('.') {
        f.write_str(".0")?;
    }
    Ok(())
}

impl ComparisonExpr {
    fn strength(&self) -> u8 {
        match self {
            ComparisonExpr::Or(_) => 1,
            ComparisonExpr::And(_) => 2,
            ComparisonExpr::Comparison(_) => 3,
        }
    }
}

fn join_cmp(f: &mut fmt::Formatter<'_>, members: &[ComparisonExpr], op: &str, strength: u8) -> fmt::Result {
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            write!(f, " {op} ")?;
        }
        if m.strength() <= strength {
            write!(f, "({m})")?;
        } else {
            write!(f, "{m}")?;
        }
    }
    Ok(())
}

impl fmt::Display for ComparisonExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComparisonExpr::Comparison(c) => c.fmt(f),
            ComparisonExpr::And(v) => join_cmp(f, v, "AND", 2),
            ComparisonExpr::Or(v) => join_cmp(f, v, "OR", 1),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        let sym = self.op.symbol();
        match &self.op {
            ComparisonOp::Exists => write!(f, "{not}EXISTS {}", self.path),
            ComparisonOp::Equal(l)
            | ComparisonOp::NotEqual(l)
            | ComparisonOp::Less(l)
            | ComparisonOp::LessOrEqual(l)
            | ComparisonOp::Greater(l)
            | ComparisonOp::GreaterOrEqual(l) => write!(f, "{} {not}{sym} {l}", self.path),
            ComparisonOp::In(set) => {
                write!(f, "{} {not}IN (", self.path)?;
                for (i, l) in set.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{l}")?;
                }
                f.write_char(')')
            }
            ComparisonOp::Like(s)
            | ComparisonOp::Matches(s)
            | ComparisonOp::IsSubset(s)
            | ComparisonOp::IsSuperset(s) => {
                write!(f, "{} {not}{sym} ", self.path)?;
                write_string(f, s)
            }
        }
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        write_key(f, &self.property)?;
        for step in &self.steps {
            match step {
                PathStep::Key(k) => {
                    f.write_char('.')?;
                    write_key(f, k)?;
                }
                PathStep::Index(i) => write!(f, "[{i}]")?,
                PathStep::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

/// A property name or key: bare when the grammar reads it back as the same identifier
/// in both versions (so not a keyword, `EXISTS` included), quoted otherwise.
fn write_key(f: &mut fmt::Formatter<'_>, k: &str) -> fmt::Result {
    let b = k.as_bytes();
    let bare = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && crate::lexer::keyword(b, crate::Version::V21).is_none();
    if bare {
        f.write_str(k)
    } else {
        write_string(f, k)
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('\'')
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(i) => write!(f, "{i}"),
            Literal::BigInt(s) => f.write_str(s),
            Literal::Float(x) => write_decimal(f, *x, true),
            Literal::String(s) => write_string(f, s),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Hex(bytes) => {
                f.write_str("h'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_char('\'')
            }
            Literal::Binary(bytes) => {
                f.write_str("b'")?;
                for chunk in bytes.chunks(3) {
                    let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
                    for i in 0..4 {
                        if i <= chunk.len() {
                            f.write_char(B64[(n >> (18 - 6 * i) & 63) as usize] as char)?;
                        } else {
                            f.write_char('=')?;
                        }
                    }
                }
                f.write_char('\'')
            }
            Literal::Timestamp(t) => write!(f, "t'{t}'"),
        }
    }
}

/// Decodes the base64 text of a `b'…'` literal the lexer accepted (whole quartets, `=`
/// padding only at the end). Unused low bits of the last character are ignored, as the
/// grammar does not constrain them.
pub(crate) fn decode_base64(text: &[u8]) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for quad in text.chunks(4) {
        let data = quad.iter().take_while(|&&c| c != b'=').count();
        let n = quad[..data].iter().enumerate().fold(0u32, |n, (i, &c)| n | val(c) << (18 - 6 * i));
        for i in 0..data - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}
