//! The parser: recursive descent over the grammar's rules, one token of lookahead.
//!
//! `STIXPattern.g4` is LL(1) once its left recursion is read as loops: the observation
//! operators FOLLOWEDBY < OR < AND and the comparison operators OR < AND are left
//! associative chains, qualifiers are a postfix loop, and object path steps a loop. Each
//! chain is collected into one `Vec` node (see [`crate::ast`]).
//!
//! While parsing, the parser also notes the reference validator's semantic findings
//! (they need source facts the tree drops: whether qualifiers sit directly on `[…]`, the
//! literal text a hash value was written with). [`crate::parse`] ignores them,
//! [`crate::validate`] reports them.

use crate::ast::{
    decode_base64, Comparison, ComparisonExpr, ComparisonOp, Literal, ObjectPath, ObservationExpr, PathStep, Qualifier,
    QualifierKind, Timestamp,
};
use crate::error::{Expected, Found, Hint, ParseError, Position, ValidationError};
use crate::lexer::{Lexer, Tok, Token};
use crate::{checks, Version};

/// Deepest nesting of `(` and `[` accepted. The reference (Python's recursion limit)
/// gives up at about 245 levels of observation parentheses or 325 levels of comparison
/// parentheses, so every pattern it accepts is within this bound; the bound keeps hostile
/// input from exhausting the stack (a level costs under 1 KiB of stack in release builds,
/// about 3 KiB in debug builds).
pub const MAX_NESTING: usize = 400;

pub(crate) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    tok: Token,
    version: Version,
    /// The token before `tok`.
    prev: Token,
    depth: usize,
    /// Whether to make the validate-only checks (off for [`crate::parse`], which would
    /// discard them).
    checks: bool,
    /// Semantic findings, in source order.
    pub issues: Vec<ValidationError>,
}

/// Errors are boxed inside the parser: a small `Result` keeps the frame of each nesting
/// level small.
type Result<T> = std::result::Result<T, Box<ParseError>>;

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, version: Version, checks: bool) -> Self {
        let mut lexer = Lexer::new(src, version);
        let tok = lexer.next_token();
        Parser { src, lexer, tok, version, prev: tok, depth: 0, checks, issues: Vec::new() }
    }

    /// `pattern : observationExpressions EOF`
    pub fn pattern(&mut self) -> Result<ObservationExpr> {
        let e = self.followed_by()?;
        if self.tok.kind != Tok::Eof {
            return Err(self.error(Expected::ObservationOperatorOrEnd));
        }
        Ok(e)
    }

    fn advance(&mut self) {
        self.prev = self.tok;
        self.tok = self.lexer.next_token();
    }

    fn text(&self) -> &'a str {
        &self.src[self.tok.start..self.tok.end]
    }

    fn expect(&mut self, kind: Tok, expected: Expected) -> Result<Token> {
        if self.tok.kind != kind {
            return Err(self.error(expected));
        }
        let t = self.tok;
        self.advance();
        Ok(t)
    }

    #[cold]
    #[inline(never)]
    fn error(&self, expected: Expected) -> Box<ParseError> {
        let found = match self.tok.kind {
            Tok::Eof => Found::EndOfInput,
            _ => Found::Token(self.text().to_owned()),
        };
        Box::new(ParseError { position: self.position(self.tok.start), expected, found, hint: self.hint() })
    }

    fn position(&self, offset: usize) -> Position {
        Position::at(self.src, offset)
    }

    fn hint(&self) -> Option<Hint> {
        let text = self.text();
        let quote_follows = self.src.as_bytes().get(self.tok.end) == Some(&b'\'');
        match self.tok.kind {
            Tok::Quote => Some(Hint::BadString),
            Tok::Ident if quote_follows && text == "t" => Some(Hint::BadTimestamp),
            Tok::Ident if quote_follows && text == "h" => Some(Hint::BadHex),
            Tok::Ident if quote_follows && text == "b" => Some(Hint::BadBase64),
            Tok::Ident if text.len() <= 10 => {
                let upper = text.to_ascii_uppercase();
                crate::lexer::keyword(upper.as_bytes(), self.version)
                    .filter(|k| *k != Tok::Bool)
                    .map(|_| Hint::KeywordCase)
            }
            _ => None,
        }
    }

    /// Counts one level of `(` or `[` nesting (the caller undoes it on the way out).
    fn enter(&mut self) -> Result<()> {
        if self.depth == MAX_NESTING {
            return Err(self.error(Expected::ShallowerNesting { max: MAX_NESTING }));
        }
        self.depth += 1;
        Ok(())
    }

    // ---- observation expressions ----------------------------------------------------

    /// `observationExpressions`: FOLLOWEDBY over OR over AND, all left associative.
    /// The three levels are built in one loop rather than three mutually recursive rules,
    /// so that each level of parentheses costs two stack frames, not four.
    fn followed_by(&mut self) -> Result<ObservationExpr> {
        let mut followed_by = Vec::new();
        let mut or = Vec::new();
        let mut and = Vec::new();
        loop {
            and.push(self.observation()?);
            let op = self.tok.kind;
            if op == Tok::And {
                self.advance();
                continue;
            }
            or.push(chain(std::mem::take(&mut and), ObservationExpr::And));
            if op == Tok::Or {
                self.advance();
                continue;
            }
            followed_by.push(chain(std::mem::take(&mut or), ObservationExpr::Or));
            if op == Tok::FollowedBy {
                self.advance();
                continue;
            }
            return Ok(chain(followed_by, ObservationExpr::FollowedBy));
        }
    }

    /// `[ comparisonExpression ]` or `( observationExpressions )`, then qualifiers.
    fn observation(&mut self) -> Result<ObservationExpr> {
        let (base, bracketed) = match self.tok.kind {
            Tok::LBrack => (self.bracketed()?, true),
            Tok::LParen => {
                self.enter()?;
                self.advance();
                let e = self.followed_by()?;
                self.expect(Tok::RParen, Expected::ObservationOperatorOrParen)?;
                self.depth -= 1;
                (e, false)
            }
            _ => return Err(self.error(Expected::Observation)),
        };
        if matches!(self.tok.kind, Tok::Start | Tok::Within | Tok::Repeats) {
            self.qualified(base, bracketed)
        } else {
            Ok(base)
        }
    }

    /// `[ comparisonExpression ]` (out of line, like the other rules below that do not
    /// recurse into observation expressions: only what a nesting level needs stays in
    /// its frame).
    #[inline(never)]
    fn bracketed(&mut self) -> Result<ObservationExpr> {
        self.enter()?;
        self.advance();
        let c = self.cmp_or()?;
        self.expect(Tok::RBrack, Expected::ComparisonOperatorOrBracket)?;
        self.depth -= 1;
        Ok(ObservationExpr::Observation(c))
    }

    /// The qualifier loop after an observation (kept out of line: its locals would
    /// otherwise enlarge every nesting level's frame).
    #[inline(never)]
    fn qualified(&mut self, base: ObservationExpr, bracketed: bool) -> Result<ObservationExpr> {
        let mut qualifiers = Vec::new();
        // The 2.1 reference checks for a repeated kind only on qualifiers applied directly
        // to `[…]`; on a parenthesised group any stack is accepted.
        let check_repeats = self.checks && bracketed && self.version == Version::V21;
        let mut seen: Vec<QualifierKind> = Vec::new();
        while matches!(self.tok.kind, Tok::Start | Tok::Within | Tok::Repeats) {
            let at = self.tok.start;
            let q = self.qualifier()?;
            if check_repeats {
                if seen.contains(&q.kind()) {
                    self.issues
                        .push(ValidationError::DuplicateQualifier { position: self.position(at), kind: q.kind() });
                } else {
                    seen.push(q.kind());
                }
            }
            qualifiers.push(q);
        }
        Ok(match base {
            ObservationExpr::Qualified { expr, qualifiers: mut inner } => {
                inner.append(&mut qualifiers);
                ObservationExpr::Qualified { expr, qualifiers: inner }
            }
            other => ObservationExpr::Qualified { expr: Box::new(other), qualifiers },
        })
    }

    #[inline(never)]
    fn qualifier(&mut self) -> Result<Qualifier> {
        match self.tok.kind {
            Tok::Start => {
                self.advance();
                let start = self.timestamp()?;
                self.expect(Tok::Stop, Expected::Stop)?;
                let stop = self.timestamp()?;
                Ok(Qualifier::StartStop { start, stop })
            }
            Tok::Within => {
                self.advance();
                if !matches!(self.tok.kind, Tok::IntPos | Tok::FloatPos) {
                    return Err(self.error(Expected::WithinSeconds));
                }
                let secs: f64 = self.text().parse().expect("the lexer accepted a decimal number");
                self.advance();
                self.expect(Tok::Seconds, Expected::SecondsKeyword)?;
                Ok(Qualifier::Within(secs))
            }
            _ => {
                self.advance();
                if self.tok.kind != Tok::IntPos {
                    return Err(self.error(Expected::RepeatCount));
                }
                let digits = self.text().trim_start_matches('+');
                let n = digits.parse::<u64>().unwrap_or(u64::MAX);
                self.advance();
                self.expect(Tok::Times, Expected::TimesKeyword)?;
                Ok(Qualifier::Repeats(n))
            }
        }
    }

    fn timestamp(&mut self) -> Result<Timestamp> {
        if self.tok.kind != Tok::Timestamp {
            return Err(self.error(Expected::Timestamp));
        }
        let text = self.text();
        let t = Timestamp::parse(&text[2..text.len() - 1]).expect("the lexer accepted a timestamp");
        self.advance();
        Ok(t)
    }

    // ---- comparison expressions -----------------------------------------------------

    /// `comparisonExpression`: OR over AND, left associative, in one loop (see
    /// [`Parser::followed_by`]).
    fn cmp_or(&mut self) -> Result<ComparisonExpr> {
        let mut or = Vec::new();
        let mut and = Vec::new();
        loop {
            and.push(self.prop_test()?);
            let op = self.tok.kind;
            if op == Tok::And {
                self.advance();
                continue;
            }
            or.push(chain(std::mem::take(&mut and), ComparisonExpr::And));
            if op == Tok::Or {
                self.advance();
                continue;
            }
            return Ok(chain(or, ComparisonExpr::Or));
        }
    }

    /// `propTest`: a parenthesised comparison expression, `[NOT] EXISTS path` (2.1), or
    /// `path [NOT] op operand`.
    fn prop_test(&mut self) -> Result<ComparisonExpr> {
        let v21 = self.version == Version::V21;
        match self.tok.kind {
            Tok::LParen => {
                self.enter()?;
                self.advance();
                let e = self.cmp_or()?;
                self.expect(Tok::RParen, Expected::ComparisonOperatorOrParen)?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Not | Tok::Exists if v21 => self.exists().map(ComparisonExpr::Comparison),
            Tok::Ident | Tok::IdentHyphen => self.comparison().map(ComparisonExpr::Comparison),
            _ => Err(self.error(Expected::Comparison { exists: v21 })),
        }
    }

    /// `NOT? EXISTS objectPath`
    #[inline(never)]
    fn exists(&mut self) -> Result<Comparison> {
        let negated = self.tok.kind == Tok::Not;
        if negated {
            self.advance();
        }
        self.expect(Tok::Exists, Expected::Exists)?;
        let path = self.object_path()?;
        Ok(Comparison { path, negated, op: ComparisonOp::Exists })
    }

    #[inline(never)]
    fn comparison(&mut self) -> Result<Comparison> {
        let start = self.tok.start;
        let path = self.object_path()?;
        let negated = self.tok.kind == Tok::Not;
        if negated {
            self.advance();
        }
        // The reference checks hash values against the operand's source text (for a set,
        // its tokens joined without spacing, which only a set needs built).
        let check_hash = self.checks && checks::is_hash_path(&path);
        let mut set_text = None;
        let op = match self.tok.kind {
            Tok::Eq | Tok::Neq => {
                let eq = self.tok.kind == Tok::Eq;
                self.advance();
                let l = self.literal(true)?;
                if eq {
                    ComparisonOp::Equal(l)
                } else {
                    ComparisonOp::NotEqual(l)
                }
            }
            Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => {
                let kind = self.tok.kind;
                self.advance();
                let l = self.literal(false)?;
                match kind {
                    Tok::Lt => ComparisonOp::Less(l),
                    Tok::Le => ComparisonOp::LessOrEqual(l),
                    Tok::Gt => ComparisonOp::Greater(l),
                    _ => ComparisonOp::GreaterOrEqual(l),
                }
            }
            Tok::In => {
                self.advance();
                set_text = check_hash.then(String::new);
                ComparisonOp::In(self.set(&mut set_text)?)
            }
            Tok::Like | Tok::Matches | Tok::IsSubset | Tok::IsSuperset => {
                let kind = self.tok.kind;
                self.advance();
                if self.tok.kind != Tok::Str {
                    return Err(self.error(Expected::StringLiteral));
                }
                let s = unescape(self.text());
                self.advance();
                match kind {
                    Tok::Like => ComparisonOp::Like(s),
                    Tok::Matches => ComparisonOp::Matches(s),
                    Tok::IsSubset => ComparisonOp::IsSubset(s),
                    _ => ComparisonOp::IsSuperset(s),
                }
            }
            _ => return Err(self.error(Expected::ComparisonOperator)),
        };
        if check_hash {
            // Every operand but a set is one token, the last one read.
            let text = set_text.as_deref().unwrap_or(&self.src[self.prev.start..self.prev.end]);
            if let Some(issue) = checks::check_hash(&path, text, || self.position(start)) {
                self.issues.push(issue);
            }
        }
        Ok(Comparison { path, negated, op })
    }

    /// `IN`'s `( )` or `( literal (, literal)* )`.
    fn set(&mut self, text: &mut Option<String>) -> Result<Vec<Literal>> {
        self.expect(Tok::LParen, Expected::SetStart)?;
        // The reference's text of a set is its tokens concatenated without spacing.
        push(text, "(");
        let mut items = Vec::new();
        if self.tok.kind != Tok::RParen {
            push(text, self.text());
            items.push(self.literal(true)?);
            while self.tok.kind == Tok::Comma {
                self.advance();
                push(text, ",");
                push(text, self.text());
                items.push(self.literal(true)?);
            }
        }
        self.expect(Tok::RParen, Expected::SetContinuation)?;
        push(text, ")");
        Ok(items)
    }

    /// `primitiveLiteral` (`boolean` true) or `orderableLiteral` (no booleans).
    fn literal(&mut self, boolean: bool) -> Result<Literal> {
        let raw = self.text();
        let lit = match self.tok.kind {
            Tok::IntPos | Tok::IntNeg => {
                let digits = raw.trim_start_matches('+');
                match digits.parse::<i128>() {
                    Ok(i) => Literal::Int(i),
                    Err(_) => Literal::BigInt(digits.into()),
                }
            }
            Tok::FloatPos | Tok::FloatNeg => Literal::Float(raw.parse().expect("the lexer accepted a decimal number")),
            Tok::Str => Literal::String(unescape(raw)),
            Tok::Bool if boolean => Literal::Bool(raw == "true"),
            Tok::Hex => Literal::Hex(
                raw.as_bytes()[2..raw.len() - 1].chunks(2).map(|p| hex_val(p[0]) << 4 | hex_val(p[1])).collect(),
            ),
            Tok::Binary => Literal::Binary(decode_base64(&raw.as_bytes()[2..raw.len() - 1])),
            Tok::Timestamp => {
                Literal::Timestamp(Timestamp::parse(&raw[2..raw.len() - 1]).expect("the lexer accepted a timestamp"))
            }
            _ => return Err(self.error(if boolean { Expected::Literal } else { Expected::OrderableLiteral })),
        };
        self.advance();
        Ok(lit)
    }

    // ---- object paths -----------------------------------------------------------------

    /// `objectType : firstPathComponent objectPathComponent*`
    fn object_path(&mut self) -> Result<ObjectPath> {
        if !matches!(self.tok.kind, Tok::Ident | Tok::IdentHyphen) {
            return Err(self.error(Expected::ObjectType));
        }
        let object_type = self.text().to_owned();
        self.advance();
        self.expect(Tok::Colon, Expected::Colon)?;
        let property = self.key()?;
        let mut steps = Vec::new();
        loop {
            match self.tok.kind {
                Tok::Dot => {
                    self.advance();
                    steps.push(PathStep::Key(self.key()?));
                }
                Tok::LBrack => {
                    self.advance();
                    let step = match self.tok.kind {
                        Tok::Asterisk => PathStep::AnyIndex,
                        Tok::IntPos | Tok::IntNeg => {
                            let digits = self.text().trim_start_matches('+');
                            let saturated = if self.tok.kind == Tok::IntNeg { i64::MIN } else { i64::MAX };
                            if self.checks && self.tok.kind == Tok::IntNeg {
                                let position = self.position(self.tok.start);
                                self.issues.push(ValidationError::NegativeIndex { position, index: digits.to_owned() });
                            }
                            PathStep::Index(digits.parse().unwrap_or(saturated))
                        }
                        _ => return Err(self.error(Expected::ListIndex)),
                    };
                    self.advance();
                    self.expect(Tok::RBrack, Expected::CloseIndex)?;
                    steps.push(step);
                }
                _ => return Ok(ObjectPath { object_type, property, steps }),
            }
        }
    }

    /// A property name or key: an identifier without hyphens, or a quoted string.
    fn key(&mut self) -> Result<String> {
        let k = match self.tok.kind {
            Tok::Ident => self.text().to_owned(),
            Tok::Str => unescape(self.text()),
            _ => return Err(self.error(Expected::PropertyName)),
        };
        self.advance();
        Ok(k)
    }
}

/// One member stands alone; more form the operator's node.
fn chain<T>(mut members: Vec<T>, node: fn(Vec<T>) -> T) -> T {
    if members.len() == 1 {
        members.pop().expect("one member")
    } else {
        node(members)
    }
}

fn push(text: &mut Option<String>, s: &str) {
    if let Some(t) = text {
        t.push_str(s);
    }
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// The value of a `StringLiteral` token (quotes included): `\'` and `\\` are the only
/// escapes the lexer lets through.
fn unescape(raw: &str) -> String {
    let body = &raw[1..raw.len() - 1];
    if !body.contains('\\') {
        return body.to_owned();
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().expect("the lexer pairs every backslash") } else { c });
    }
    out
}
