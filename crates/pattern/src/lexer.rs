//! The lexer: the token rules of `STIXPattern.g4` as ANTLR applies them.
//!
//! ANTLR's lexer takes, at each position, the longest match over all token rules, and on
//! a tie the rule declared first. That is why `true` is a boolean and not an identifier,
//! `and` is an identifier (keywords are case-sensitive upper case), `AND-x` is one
//! hyphenated identifier, and `t'2024-13-01T00:00:00Z'` is the identifier `t` followed by
//! a string. The functions below compute the same longest match without a DFA: each token
//! class is decided by its first byte, and within a class the candidates' lengths are
//! compared in the grammar's rule order.
//!
//! The grammar ends with a catch-all `InvalidCharacter` rule, so lexing never fails: an
//! unusable character or an unterminated string becomes a token the parser rejects.

use crate::Version;

/// Token kinds, one per lexer rule of the grammar that the parser can see (whitespace and
/// comments are skipped). Kinds the parser never accepts (`Quote`, `Plus`, `Last`, …) are
/// kept distinct so error messages can name what was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    IntNeg,
    IntPos,
    FloatNeg,
    FloatPos,
    Hex,
    Binary,
    Str,
    Bool,
    Timestamp,
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
    /// `[a-zA-Z_][a-zA-Z0-9_]*` that is not a keyword: object types and property names.
    Ident,
    /// `[a-zA-Z_][a-zA-Z0-9_-]*` containing a hyphen: object types only.
    IdentHyphen,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Quote,
    Colon,
    Dot,
    Comma,
    RParen,
    LParen,
    RBrack,
    LBrack,
    Plus,
    Hyphen,
    Power,
    Divide,
    Asterisk,
    Invalid,
    Eof,
}

/// A token: its kind and its byte range in the source (the text is `&src[start..end]`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    version: Version,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, version: Version) -> Self {
        Lexer { src, pos: 0, version }
    }

    /// Never inlined: the scanner's locals would otherwise sit in every parser frame,
    /// and parser frames are what nesting multiplies.
    #[inline(never)]
    pub fn next_token(&mut self) -> Token {
        self.skip_trivia();
        let start = self.pos;
        let (kind, len) = self.scan(start);
        self.pos = start + len;
        Token { kind, start, end: self.pos }
    }

    /// Skips the grammar's `WS`, `COMMENT` (`/* … */`, first `*/` closes) and
    /// `LINE_COMMENT` (`//` up to a line break) rules.
    fn skip_trivia(&mut self) {
        let b = self.src.as_bytes();
        loop {
            match b.get(self.pos) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | b'\x0B' | b'\x0C') => self.pos += 1,
                Some(b'/') if b.get(self.pos + 1) == Some(&b'*') => {
                    match self.src[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        // Unterminated: not a comment; `/` lexes as DIVIDE.
                        None => return,
                    }
                }
                Some(b'/') if b.get(self.pos + 1) == Some(&b'/') => {
                    let rest = &b[self.pos..];
                    self.pos += rest.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(rest.len());
                }
                Some(&c) if c >= 0x80 => {
                    let ch = self.src[self.pos..].chars().next().expect("in bounds");
                    if !is_unicode_ws(ch) {
                        return;
                    }
                    self.pos += ch.len_utf8();
                }
                _ => return,
            }
        }
    }

    /// The longest-match token at `at` (after trivia): its kind and byte length.
    fn scan(&self, at: usize) -> (Tok, usize) {
        let b = &self.src.as_bytes()[at..];
        let Some(&c) = b.first() else { return (Tok::Eof, 0) };
        match c {
            b'0'..=b'9' | b'.' | b'+' | b'-' => number(b),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.word(b),
            b'\'' => match string_len(b) {
                Some(n) => (Tok::Str, n),
                None => (Tok::Quote, 1),
            },
            b'=' => (Tok::Eq, if b.get(1) == Some(&b'=') { 2 } else { 1 }),
            b'!' if b.get(1) == Some(&b'=') => (Tok::Neq, 2),
            b'<' => match b.get(1) {
                Some(b'=') => (Tok::Le, 2),
                Some(b'>') => (Tok::Neq, 2),
                _ => (Tok::Lt, 1),
            },
            b'>' => match b.get(1) {
                Some(b'=') => (Tok::Ge, 2),
                _ => (Tok::Gt, 1),
            },
            b':' => (Tok::Colon, 1),
            b',' => (Tok::Comma, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'[' => (Tok::LBrack, 1),
            b']' => (Tok::RBrack, 1),
            b'^' => (Tok::Power, 1),
            b'/' => (Tok::Divide, 1),
            b'*' => (Tok::Asterisk, 1),
            _ => {
                let ch = self.src[at..].chars().next().expect("in bounds");
                (Tok::Invalid, ch.len_utf8())
            }
        }
    }

    /// Words: the `h'…'`, `b'…'` and `t'…'` literals (declared before the identifiers, and
    /// always longer than the one-letter identifier they start with), booleans, keywords
    /// and identifiers.
    fn word(&self, b: &[u8]) -> (Tok, usize) {
        let literal = match b[0] {
            b'h' => hex_len(b).map(|n| (Tok::Hex, n)),
            b'b' => binary_len(b).map(|n| (Tok::Binary, n)),
            b't' => timestamp_len(b).map(|n| (Tok::Timestamp, n)),
            _ => None,
        };
        if let Some(found) = literal {
            return found;
        }
        let plain = b.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
        let hyphenated =
            plain + b[plain..].iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-')).count();
        if hyphenated > plain {
            return (Tok::IdentHyphen, hyphenated);
        }
        (keyword(&b[..plain], self.version).unwrap_or(Tok::Ident), plain)
    }
}

/// The grammar's `WS` characters beyond ASCII (the same set as Unicode `White_Space`
/// minus the ASCII ones).
fn is_unicode_ws(c: char) -> bool {
    matches!(
        c,
        '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Keywords are whole words (a longer identifier wins by longest match), case-sensitive.
/// `EXISTS` is a keyword only in 2.1: in 2.0 it is an ordinary property name.
pub(crate) fn keyword(w: &[u8], version: Version) -> Option<Tok> {
    Some(match w {
        b"AND" => Tok::And,
        b"OR" => Tok::Or,
        b"NOT" => Tok::Not,
        b"FOLLOWEDBY" => Tok::FollowedBy,
        b"LIKE" => Tok::Like,
        b"MATCHES" => Tok::Matches,
        b"ISSUPERSET" => Tok::IsSuperset,
        b"ISSUBSET" => Tok::IsSubset,
        b"EXISTS" if version == Version::V21 => Tok::Exists,
        b"LAST" => Tok::Last,
        b"IN" => Tok::In,
        b"START" => Tok::Start,
        b"STOP" => Tok::Stop,
        b"SECONDS" => Tok::Seconds,
        b"WITHIN" => Tok::Within,
        b"REPEATS" => Tok::Repeats,
        b"TIMES" => Tok::Times,
        b"true" | b"false" => Tok::Bool,
        _ => return None,
    })
}

fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// `IntNegLiteral`/`IntPosLiteral` (`[+-]? ('0' | [1-9][0-9]*)`) against
/// `FloatNegLiteral`/`FloatPosLiteral` (`[+-]? [0-9]* '.' [0-9]+`); a float match is
/// always the longer one. A sign or dot that starts neither is `PLUS`, `HYPHEN` or `DOT`.
fn number(b: &[u8]) -> (Tok, usize) {
    let sign = usize::from(matches!(b[0], b'+' | b'-'));
    let neg = b[0] == b'-';
    let body = &b[sign..];
    let int_digits = digits(body);
    if body.get(int_digits) == Some(&b'.') {
        let frac = digits(&body[int_digits + 1..]);
        if frac > 0 {
            let kind = if neg { Tok::FloatNeg } else { Tok::FloatPos };
            return (kind, sign + int_digits + 1 + frac);
        }
    }
    if int_digits > 0 {
        // A leading zero ends the literal: `012` is `0` then `12`.
        let len = if body[0] == b'0' { 1 } else { int_digits };
        let kind = if neg { Tok::IntNeg } else { Tok::IntPos };
        return (kind, sign + len);
    }
    match b[0] {
        b'+' => (Tok::Plus, 1),
        b'-' => (Tok::Hyphen, 1),
        _ => (Tok::Dot, 1),
    }
}

/// `StringLiteral`: `'` ( any char but `'` and `\` | `\'` | `\\` )* `'`. Any other
/// backslash, or a missing closing quote, means no string starts here.
fn string_len(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        match b.get(i)? {
            b'\'' => return Some(i + 1),
            b'\\' => match b.get(i + 1)? {
                b'\'' | b'\\' => i += 2,
                _ => return None,
            },
            _ => i += 1,
        }
    }
}

/// `HexLiteral`: `h'` (two hex digits)* `'`.
fn hex_len(b: &[u8]) -> Option<usize> {
    if b.get(1) != Some(&b'\'') {
        return None;
    }
    let n = b[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
    (n % 2 == 0 && b.get(2 + n) == Some(&b'\'')).then_some(n + 3)
}

fn is_base64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// `BinaryLiteral`: `b'` then whole base64 quartets, the last possibly padded
/// (`xxx=` or `xx==`), then `'`; at least one quartet, so `b''` is not a literal.
fn binary_len(b: &[u8]) -> Option<usize> {
    if b.get(1) != Some(&b'\'') {
        return None;
    }
    let n = b[2..].iter().take_while(|c| is_base64(**c)).count();
    let pad = match n % 4 {
        0 if n > 0 => 0,
        3 => 1,
        2 => 2,
        _ => return None,
    };
    let after = &b[2 + n..];
    (after.len() > pad && after[..pad].iter().all(|&c| c == b'=') && after[pad] == b'\'').then_some(2 + n + pad + 1)
}

/// `TimestampLiteral`: `t'` then the grammar's fixed shape (field ranges checked, the
/// calendar not: `02-30` passes, as in the reference).
fn timestamp_len(b: &[u8]) -> Option<usize> {
    if b.get(1) != Some(&b'\'') {
        return None;
    }
    let n = crate::ast::timestamp_body_len(&b[2..])?;
    (b.get(2 + n) == Some(&b'\'')).then_some(n + 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str, v: Version) -> Vec<(Tok, &str)> {
        let mut lx = Lexer::new(src, v);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            if t.kind == Tok::Eof {
                return out;
            }
            out.push((t.kind, &src[t.start..t.end]));
        }
    }

    #[test]
    fn longest_match_and_rule_order() {
        use Tok::*;
        let cases: &[(&str, &[(Tok, &str)])] = &[
            ("true truex true-x", &[(Bool, "true"), (Ident, "truex"), (IdentHyphen, "true-x")]),
            ("AND and ANDY AND-x", &[(And, "AND"), (Ident, "and"), (Ident, "ANDY"), (IdentHyphen, "AND-x")]),
            ("0123", &[(IntPos, "0"), (IntPos, "123")]),
            (
                "01.5 -0 +7 -.5 .5 5.",
                &[
                    (FloatPos, "01.5"),
                    (IntNeg, "-0"),
                    (IntPos, "+7"),
                    (FloatNeg, "-.5"),
                    (FloatPos, ".5"),
                    (IntPos, "5"),
                    (Dot, "."),
                ],
            ),
            ("1.5.3", &[(FloatPos, "1.5"), (FloatPos, ".3")]),
            ("- + .", &[(Hyphen, "-"), (Plus, "+"), (Dot, ".")]),
            ("h'' h'a' h'0aFF'", &[(Hex, "h''"), (Ident, "h"), (Str, "'a'"), (Hex, "h'0aFF'")]),
            (
                "b'AQ==' b'ABC=' b'ABCD' b''",
                &[(Binary, "b'AQ=='"), (Binary, "b'ABC='"), (Binary, "b'ABCD'"), (Ident, "b"), (Str, "''")],
            ),
            ("b'A===' b'AB'", &[(Ident, "b"), (Str, "'A==='"), (Ident, "b"), (Str, "'AB'")]),
            (
                "t'2016-02-30T23:59:60.123Z' t'2016-13-01T00:00:00Z'",
                &[(Timestamp, "t'2016-02-30T23:59:60.123Z'"), (Ident, "t"), (Str, "'2016-13-01T00:00:00Z'")],
            ),
            (
                r"'a\'b' 'c\\' 'd\e'",
                &[
                    (Str, r"'a\'b'"),
                    (Str, r"'c\\'"),
                    (Quote, "'"),
                    (Ident, "d"),
                    (Invalid, "\\"),
                    (Ident, "e"),
                    (Quote, "'"),
                ],
            ),
            (
                "= == != <> < <= > >= <=>",
                &[
                    (Eq, "="),
                    (Eq, "=="),
                    (Neq, "!="),
                    (Neq, "<>"),
                    (Lt, "<"),
                    (Le, "<="),
                    (Gt, ">"),
                    (Ge, ">="),
                    (Le, "<="),
                    (Gt, ">"),
                ],
            ),
            (
                "a/* x */b // c\nd /* open",
                &[(Ident, "a"), (Ident, "b"), (Ident, "d"), (Divide, "/"), (Asterisk, "*"), (Ident, "open")],
            ),
            ("x\u{3000}y\u{85}z é ?", &[(Ident, "x"), (Ident, "y"), (Ident, "z"), (Invalid, "é"), (Invalid, "?")]),
            ("EXISTS LAST", &[(Exists, "EXISTS"), (Last, "LAST")]),
        ];
        for (src, want) in cases {
            assert_eq!(kinds(src, Version::V21), *want, "{src}");
        }
        assert_eq!(kinds("EXISTS", Version::V20), [(Ident, "EXISTS")]);
    }
}
