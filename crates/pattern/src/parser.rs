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

/// Deepest nesting of `(` and `[` accepted. The reference (Python recursion) gives up
/// at about 240 nested observation groups or 320 comparison groups, so every pattern it
/// accepts is within this; the bound keeps hostile input from exhausting the stack
/// (about 0.3 KiB of stack per level in release builds).
pub const MAX_NESTING: usize = 512;

pub(crate) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    tok: Token,
    version: Version,
    depth: usize,
    /// Semantic findings, in source order.
    pub issues: Vec<ValidationError>,
}

type Result<T> = std::result::Result<T, ParseError>;

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, version: Version) -> Self {
        let mut lexer = Lexer::new(src, version);
        let tok = lexer.next_token();
        Parser { src, lexer, tok, version, depth: 0, issues: Vec::new() }
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

    fn error(&self, expected: Expected) -> ParseError {
        let found = match self.tok.kind {
            Tok::Eof => Found::EndOfInput,
            _ => Found::Token(self.text().to_owned()),
        };
        ParseError { position: self.position(self.tok.start), expected, found, hint: self.hint() }
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

    fn followed_by(&mut self) -> Result<ObservationExpr> {
        let first = self.obs_or()?;
        if self.tok.kind != Tok::FollowedBy {
            return Ok(first);
        }
        let mut members = vec![first];
        while self.tok.kind == Tok::FollowedBy {
            self.advance();
            members.push(self.obs_or()?);
        }
        Ok(ObservationExpr::FollowedBy(members))
    }

    fn obs_or(&mut self) -> Result<ObservationExpr> {
        let first = self.obs_and()?;
        if self.tok.kind != Tok::Or {
            return Ok(first);
        }
        let mut members = vec![first];
        while self.tok.kind == Tok::Or {
            self.advance();
            members.push(self.obs_and()?);
        }
        Ok(ObservationExpr::Or(members))
    }

    fn obs_and(&mut self) -> Result<ObservationExpr> {
        let first = self.observation()?;
        if self.tok.kind != Tok::And {
            return Ok(first);
        }
        let mut members = vec![first];
        while self.tok.kind == Tok::And {
            self.advance();
            members.push(self.observation()?);
        }
        Ok(ObservationExpr::And(members))
    }

    /// `[ comparisonExpression ]` or `( observationExpressions )`, then qualifiers.
    fn observation(&mut self) -> Result<ObservationExpr> {
        let (base, bracketed) = match self.tok.kind {
            Tok::LBrack => {
                self.enter()?;
                self.advance();
                let c = self.cmp_or()?;
                self.expect(Tok::RBrack, Expected::ComparisonOperatorOrBracket)?;
                self.depth -= 1;
                (ObservationExpr::Observation(c), true)
            }
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
        if !matches!(self.tok.kind, Tok::Start | Tok::Within | Tok::Repeats) {
            return Ok(base);
        }
        let mut qualifiers = Vec::new();
        // The 2.1 reference checks for a repeated kind only on qualifiers applied directly
        // to `[…]`; on a parenthesised group any stack is accepted.
        let check_repeats = bracketed && self.version == Version::V21;
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

    fn cmp_or(&mut self) -> Result<ComparisonExpr> {
        let first = self.cmp_and()?;
        if self.tok.kind != Tok::Or {
            return Ok(first);
        }
        let mut members = vec![first];
        while self.tok.kind == Tok::Or {
            self.advance();
            members.push(self.cmp_and()?);
        }
        Ok(ComparisonExpr::Or(members))
    }

    fn cmp_and(&mut self) -> Result<ComparisonExpr> {
        let first = self.prop_test()?;
        if self.tok.kind != Tok::And {
            return Ok(first);
        }
        let mut members = vec![first];
        while self.tok.kind == Tok::And {
            self.advance();
            members.push(self.prop_test()?);
        }
        Ok(ComparisonExpr::And(members))
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
            Tok::Not | Tok::Exists if v21 => {
                let negated = self.tok.kind == Tok::Not;
                if negated {
                    self.advance();
                }
                self.expect(Tok::Exists, Expected::Exists)?;
                let path = self.object_path()?;
                Ok(ComparisonExpr::Comparison(Comparison { path, negated, op: ComparisonOp::Exists }))
            }
            Tok::Ident | Tok::IdentHyphen => self.comparison().map(ComparisonExpr::Comparison),
            _ => Err(self.error(Expected::Comparison { exists: v21 })),
        }
    }

    fn comparison(&mut self) -> Result<Comparison> {
        let start = self.tok.start;
        let path = self.object_path()?;
        let negated = self.tok.kind == Tok::Not;
        if negated {
            self.advance();
        }
        // The reference checks hash values against the literal's source text, so that
        // text is kept, only for the paths it checks.
        let mut hash_text = checks::is_hash_path(&path).then(String::new);
        let op = match self.tok.kind {
            Tok::Eq | Tok::Neq => {
                let eq = self.tok.kind == Tok::Eq;
                self.advance();
                let l = self.literal(true, &mut hash_text)?;
                if eq {
                    ComparisonOp::Equal(l)
                } else {
                    ComparisonOp::NotEqual(l)
                }
            }
            Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => {
                let kind = self.tok.kind;
                self.advance();
                let l = self.literal(false, &mut hash_text)?;
                match kind {
                    Tok::Lt => ComparisonOp::Less(l),
                    Tok::Le => ComparisonOp::LessOrEqual(l),
                    Tok::Gt => ComparisonOp::Greater(l),
                    _ => ComparisonOp::GreaterOrEqual(l),
                }
            }
            Tok::In => {
                self.advance();
                ComparisonOp::In(self.set(&mut hash_text)?)
            }
            Tok::Like | Tok::Matches | Tok::IsSubset | Tok::IsSuperset => {
                let kind = self.tok.kind;
                self.advance();
                if self.tok.kind != Tok::Str {
                    return Err(self.error(Expected::StringLiteral));
                }
                if let Some(t) = &mut hash_text {
                    t.push_str(self.text());
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
        if let Some(text) = hash_text {
            if let Some(issue) = checks::check_hash(&path, &text, || self.position(start)) {
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
            items.push(self.literal(true, text)?);
            while self.tok.kind == Tok::Comma {
                self.advance();
                push(text, ",");
                items.push(self.literal(true, text)?);
            }
        }
        self.expect(Tok::RParen, Expected::SetContinuation)?;
        push(text, ")");
        Ok(items)
    }

    /// `primitiveLiteral` (`boolean` true) or `orderableLiteral` (no booleans).
    fn literal(&mut self, boolean: bool, text: &mut Option<String>) -> Result<Literal> {
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
        push(text, raw);
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
                            if self.tok.kind == Tok::IntNeg {
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
