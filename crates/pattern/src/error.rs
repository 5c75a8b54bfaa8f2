//! Errors: [`ParseError`] for the grammar, [`ValidationError`] for everything
//! [`crate::validate`] reports.

use std::fmt;

use crate::ast::QualifierKind;

/// A place in the pattern text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the pattern.
    pub offset: usize,
    /// 1-based line (lines end at `\n`).
    pub line: usize,
    /// 1-based column within the line, in characters.
    pub column: usize,
}

impl Position {
    /// Computed only when an error is built, so the hot path never counts lines.
    pub(crate) fn at(src: &str, offset: usize) -> Position {
        let before = &src[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position { offset, line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 1 {
            write!(f, "column {}", self.column)
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// What the parser expected where it stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Start of an observation expression.
    Observation,
    /// After a complete observation expression at the top level.
    ObservationOperatorOrEnd,
    /// After an observation expression inside parentheses.
    ObservationOperatorOrParen,
    /// Start of a comparison; `exists` when the version has `EXISTS`.
    Comparison {
        exists: bool,
    },
    /// After a comparison expression inside `[…]`.
    ComparisonOperatorOrBracket,
    /// After a comparison expression inside parentheses.
    ComparisonOperatorOrParen,
    ObjectType,
    Colon,
    PropertyName,
    ListIndex,
    CloseIndex,
    ComparisonOperator,
    /// `NOT` at the start of a comparison is only `NOT EXISTS`.
    Exists,
    Literal,
    OrderableLiteral,
    StringLiteral,
    SetStart,
    SetContinuation,
    Timestamp,
    Stop,
    WithinSeconds,
    SecondsKeyword,
    RepeatCount,
    TimesKeyword,
    /// Parentheses and brackets nest deeper than the parser allows.
    ShallowerNesting {
        max: usize,
    },
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Observation => f.write_str("'[' or '(' starting an observation expression"),
            Expected::ObservationOperatorOrEnd => {
                f.write_str("AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern")
            }
            Expected::ObservationOperatorOrParen => f.write_str("AND, OR, FOLLOWEDBY, a qualifier or ')'"),
            Expected::Comparison { exists: true } => f.write_str("an object path, '(' or EXISTS"),
            Expected::Comparison { exists: false } => f.write_str("an object path or '('"),
            Expected::ComparisonOperatorOrBracket => f.write_str("AND, OR or ']'"),
            Expected::ComparisonOperatorOrParen => f.write_str("AND, OR or ')'"),
            Expected::ObjectType => f.write_str("an object type"),
            Expected::Colon => f.write_str("':' after the object type"),
            Expected::PropertyName => f.write_str("a property name"),
            Expected::ListIndex => f.write_str("a list index or '*'"),
            Expected::CloseIndex => f.write_str("']' closing the list index"),
            Expected::ComparisonOperator => f.write_str("a comparison operator"),
            Expected::Exists => f.write_str("EXISTS"),
            Expected::Literal => f.write_str("a literal"),
            Expected::OrderableLiteral => f.write_str("a number, string, binary, hex or timestamp literal"),
            Expected::StringLiteral => f.write_str("a string literal"),
            Expected::SetStart => f.write_str("'(' starting a set"),
            Expected::SetContinuation => f.write_str("',' or ')'"),
            Expected::Timestamp => f.write_str("a timestamp literal t'YYYY-MM-DDTHH:MM:SS[.s]Z'"),
            Expected::Stop => f.write_str("STOP"),
            Expected::WithinSeconds => f.write_str("a non-negative number of seconds"),
            Expected::SecondsKeyword => f.write_str("SECONDS"),
            Expected::RepeatCount => f.write_str("a non-negative integer"),
            Expected::TimesKeyword => f.write_str("TIMES"),
            Expected::ShallowerNesting { max } => write!(f, "at most {max} nested parentheses and brackets"),
        }
    }
}

/// What the parser found where it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    EndOfInput,
    /// The offending token's text.
    Token(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::EndOfInput => f.write_str("the end of the pattern"),
            Found::Token(t) => {
                // Long tokens (a whole string literal) are cut: the column says where.
                // Control characters (a newline inside a string) are escaped so the
                // message stays on one line.
                let mut shown = String::new();
                for c in t.chars().take(40) {
                    if c.is_control() {
                        shown.extend(c.escape_debug());
                    } else {
                        shown.push(c);
                    }
                }
                if t.chars().count() > 40 {
                    shown.push('…');
                }
                write!(f, "'{shown}'")
            }
        }
    }
}

/// A likely cause, when the found token is a common mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// A lower- or mixed-case keyword (`and`, `within`).
    KeywordCase,
    /// `t'…'` that is not a valid timestamp.
    BadTimestamp,
    /// `h'…'` with an odd number of digits or a non-hex digit.
    BadHex,
    /// `b'…'` that is not padded base64.
    BadBase64,
    /// A quote that starts no string: unterminated, or a backslash other than `\'`, `\\`.
    BadString,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hint::KeywordCase => "keywords are upper case",
            Hint::BadTimestamp => "not a valid timestamp literal t'YYYY-MM-DDTHH:MM:SS[.s]Z'",
            Hint::BadHex => "not a valid hex literal: h'' with an even number of hex digits",
            Hint::BadBase64 => "not a valid binary literal: b'' with padded base64",
            Hint::BadString => r"unterminated string, or a backslash other than \' and \\",
        })
    }
}

/// The pattern is not in the grammar. The parser stops at the first error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub position: Position,
    pub expected: Expected,
    pub found: Found,
    pub hint: Option<Hint>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: expected {}, found {}", self.position, self.expected, self.found)?;
        if let Some(h) = self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// One reason [`crate::validate`] rejects a pattern. Each mirrors a check of the
/// reference validator (`stix2patterns.validator.run_validator`), except the two marked
/// as standing in for a crash of the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidationError {
    /// The grammar rejects the pattern.
    Syntax(ParseError),
    /// The first character that is neither whitespace nor `(` is not `[`
    /// (`helpers.brackets_check`; a leading comment counts as missing brackets).
    MissingBrackets,
    /// A comparison on a `hashes` path whose last key names a known hash algorithm has a
    /// value that does not look like such a hash (`object_validator.verify_object`).
    InvalidHash { position: Position, algorithm: String, value: String },
    /// 2.1: the same qualifier kind twice directly on one `[…]` (not on a parenthesised group).
    DuplicateQualifier { position: Position, kind: QualifierKind },
    /// A negative list index. The reference validator crashes on these (its inspector
    /// reads only non-negative indexes); here the pattern is rejected.
    /// `index` is the literal as written (the reference rejects `-0` too: it goes by the
    /// token, not the value).
    NegativeIndex { position: Position, index: String },
    /// A comparison on a `hashes` path that ends in a list index. The reference
    /// validator crashes on these (it upper-cases the last step as a hash name); here the
    /// pattern is rejected.
    IndexedHashes { position: Position },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationError::Syntax(e) => e.fmt(f),
            ValidationError::MissingBrackets => {
                f.write_str("at column 1: the pattern must start with '[' (after any '(')")
            }
            ValidationError::InvalidHash { position, algorithm, value } => {
                write!(f, "at {position}: '{value}' is not a valid {algorithm} hash")
            }
            ValidationError::DuplicateQualifier { position, kind } => {
                write!(f, "at {position}: a second {kind} qualifier on the same observation (put parentheses around the first)")
            }
            ValidationError::NegativeIndex { position, index } => {
                write!(f, "at {position}: negative list index {index}")
            }
            ValidationError::IndexedHashes { position } => {
                write!(f, "at {position}: a hashes path must end in a hash name, not a list index")
            }
        }
    }
}

impl std::error::Error for ValidationError {}

impl From<ParseError> for ValidationError {
    fn from(e: ParseError) -> Self {
        ValidationError::Syntax(e)
    }
}
