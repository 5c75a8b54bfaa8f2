//! Tokens of KQL, each with its byte span, so every error can point at its place.

use crate::error::{KqlError, Span};

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A name: a column, table, function or keyword (keywords are not reserved in KQL;
    /// the parser decides by place). Dashed operator names (`project-away`) are one token.
    Ident(String),
    /// `['name with spaces']`: a name that is never a keyword.
    Quoted(String),
    Str(String),
    Long(i64),
    Real(f64),
    /// A timespan, in microseconds (`1d`, `30m`, `100ms`).
    Timespan(i64),
    /// `datetime(…)`: the raw text between the parentheses.
    DateTime(String),
    Punct(&'static str),
    Eof,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Operator names written with a dash; lexed as one identifier.
const DASHED: &[&str] = &[
    "project-away", "project-keep", "project-rename", "project-reorder", "mv-expand", "mv-apply", "make-series",
    "top-nested", "top-hitters", "parse-where", "parse-kv", "order-by",
];

/// Longest first, so `==` wins over `=`.
const PUNCT: &[&str] = &[
    "!~", "=~", "==", "!=", "<>", "<=", ">=", "..", "|", "(", ")", "[", "]", "{", "}", ",", ";", ".", "=", "<", ">",
    "+", "-", "*", "/", "%", ":", "!", "@", "~", "$",
];

const MICROS: &[(&str, f64)] = &[
    ("microseconds", 1.0),
    ("microsecond", 1.0),
    ("milliseconds", 1e3),
    ("millisecond", 1e3),
    ("seconds", 1e6),
    ("second", 1e6),
    ("minutes", 6e7),
    ("minute", 6e7),
    ("hours", 3.6e9),
    ("hour", 3.6e9),
    ("days", 8.64e10),
    ("day", 8.64e10),
    ("ticks", 0.1),
    ("tick", 0.1),
    ("ms", 1e3),
    ("d", 8.64e10),
    ("h", 3.6e9),
    ("m", 6e7),
    ("s", 1e6),
];

pub fn lex(src: &str) -> Result<Vec<Token>, KqlError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        // Strings: '…', "…", verbatim @'…', obfuscated h'…', multi-line ```…```.
        let (verbatim, skip) = match (c, b.get(i + 1), b.get(i + 2)) {
            (b'@', Some(b'\'' | b'"'), _) => (true, 1),
            (b'h' | b'H', Some(b'\'' | b'"'), _) => (false, 1),
            (b'h' | b'H', Some(b'@'), Some(b'\'' | b'"')) => (true, 2),
            _ => (false, 0),
        };
        if src[i..].starts_with("```") {
            let end = src[i + 3..]
                .find("```")
                .ok_or_else(|| KqlError::at(Span::new(start, b.len()), "unterminated ``` string"))?;
            out.push(Token { tok: Tok::Str(src[i + 3..i + 3 + end].to_string()), span: Span::new(start, i + 6 + end) });
            i += end + 6;
            continue;
        }
        if matches!(b.get(i + skip), Some(b'\'' | b'"')) && (skip > 0 || c == b'\'' || c == b'"') {
            let q = b[i + skip];
            let (s, next) = string(src, i + skip + 1, q, verbatim).map_err(|(at, m)| {
                // An unterminated string is shown at its opening quote; a bad escape at itself.
                let span =
                    if m.starts_with("unterminated") { Span::new(start, start + 1) } else { Span::new(at, at + 2) };
                KqlError::at(span, m)
            })?;
            out.push(Token { tok: Tok::Str(s), span: Span::new(start, next) });
            i = next;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (tok, next) = number(src, i)?;
            out.push(Token { tok, span: Span::new(start, next) });
            i = next;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            // `project-away` and friends.
            if b.get(j) == Some(&b'-') {
                let mut k = j + 1;
                while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                    k += 1;
                }
                let dashed = src[i..k].to_ascii_lowercase();
                if DASHED.contains(&dashed.as_str()) {
                    j = k;
                }
            }
            let word = &src[i..j];
            // `datetime(2024-01-01 10:00)`: the inside is not KQL tokens.
            if word == "datetime" {
                let mut k = j;
                while k < b.len() && b[k].is_ascii_whitespace() {
                    k += 1;
                }
                if b.get(k) == Some(&b'(') {
                    let close = src[k..]
                        .find(')')
                        .ok_or_else(|| KqlError::at(Span::new(start, b.len()), "datetime( is not closed"))?;
                    let raw = src[k + 1..k + close].trim().to_string();
                    out.push(Token { tok: Tok::DateTime(raw), span: Span::new(start, k + close + 1) });
                    i = k + close + 1;
                    continue;
                }
            }
            out.push(Token { tok: Tok::Ident(word.to_string()), span: Span::new(start, j) });
            i = j;
            continue;
        }
        // ['name'] / ["name"]
        if c == b'[' {
            let mut k = i + 1;
            while k < b.len() && b[k].is_ascii_whitespace() {
                k += 1;
            }
            if matches!(b.get(k), Some(b'\'' | b'"')) {
                let q = b[k];
                if let Ok((s, next)) = string(src, k + 1, q, false) {
                    let mut m = next;
                    while m < b.len() && b[m].is_ascii_whitespace() {
                        m += 1;
                    }
                    if b.get(m) == Some(&b']') {
                        // Only a name when not an index: `x['a']` is member access, which the
                        // parser also accepts from a Quoted token after an expression.
                        out.push(Token { tok: Tok::Quoted(s), span: Span::new(start, m + 1) });
                        i = m + 1;
                        continue;
                    }
                }
            }
        }
        match PUNCT.iter().find(|p| src[i..].starts_with(**p)) {
            Some(p) => {
                out.push(Token { tok: Tok::Punct(p), span: Span::new(start, i + p.len()) });
                i += p.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(KqlError::at(Span::new(i, i + ch.len_utf8()), format!("unexpected character '{ch}'")));
            }
        }
    }
    out.push(Token { tok: Tok::Eof, span: Span::new(b.len(), b.len()) });
    Ok(out)
}

/// Reads a string body after its opening quote; returns the text and the index after the
/// closing quote.
fn string(src: &str, mut i: usize, q: u8, verbatim: bool) -> Result<(String, usize), (usize, String)> {
    let b = src.as_bytes();
    let mut s = String::new();
    loop {
        let Some(&c) = b.get(i) else { return Err((b.len(), "unterminated string".into())) };
        if c == q {
            if verbatim && b.get(i + 1) == Some(&q) {
                s.push(q as char);
                i += 2;
                continue;
            }
            return Ok((s, i + 1));
        }
        if c == b'\n' && !verbatim {
            return Err((i, "unterminated string (a string cannot span lines; use ``` for that)".into()));
        }
        if c == b'\\' && !verbatim {
            let e = *b.get(i + 1).ok_or((i, "unterminated string".to_string()))?;
            let ch = match e {
                b'n' => '\n',
                b't' => '\t',
                b'r' => '\r',
                b'0' => '\0',
                b'\\' => '\\',
                b'\'' => '\'',
                b'"' => '"',
                b'u' => {
                    let hex = src.get(i + 2..i + 6).ok_or((i, "\\u needs four hex digits".to_string()))?;
                    let n = u32::from_str_radix(hex, 16).map_err(|_| (i, "\\u needs four hex digits".to_string()))?;
                    s.push(char::from_u32(n).unwrap_or('\u{fffd}'));
                    i += 6;
                    continue;
                }
                other => return Err((i, format!("unknown escape '\\{}'", other as char))),
            };
            s.push(ch);
            i += 2;
            continue;
        }
        let ch = src[i..].chars().next().expect("in bounds");
        s.push(ch);
        i += ch.len_utf8();
    }
}

fn number(src: &str, start: usize) -> Result<(Tok, usize), KqlError> {
    let b = src.as_bytes();
    let mut i = start;
    if src[i..].starts_with("0x") || src[i..].starts_with("0X") {
        let mut j = i + 2;
        while j < b.len() && b[j].is_ascii_hexdigit() {
            j += 1;
        }
        let n = i64::from_str_radix(&src[i + 2..j], 16)
            .map_err(|e| KqlError::at(Span::new(start, j), format!("bad hex number: {e}")))?;
        return Ok((Tok::Long(n), j));
    }
    let mut real = false;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    // `1..5` is a range, not `1.` then `.5`.
    if b.get(i) == Some(&b'.') && b.get(i + 1) != Some(&b'.') {
        real = true;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E'))
        && (b.get(i + 1).is_some_and(u8::is_ascii_digit)
            || (matches!(b.get(i + 1), Some(b'+' | b'-')) && b.get(i + 2).is_some_and(u8::is_ascii_digit)))
    {
        real = true;
        i += 2;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    let text = &src[start..i];
    // A unit makes it a timespan.
    let mut j = i;
    while j < b.len() && b[j].is_ascii_alphabetic() {
        j += 1;
    }
    if j > i {
        let unit = src[i..j].to_ascii_lowercase();
        let Some((_, m)) = MICROS.iter().find(|(u, _)| *u == unit) else {
            return Err(KqlError::at(
                Span::new(start, j),
                format!("'{}' is not a number or timespan (units: d, h, m, s, ms, microsecond, tick)", &src[start..j]),
            ));
        };
        let v: f64 = text.parse().map_err(|_| KqlError::at(Span::new(start, j), "bad number"))?;
        return Ok((Tok::Timespan((v * m).round() as i64), j));
    }
    if real {
        let v = text.parse().map_err(|_| KqlError::at(Span::new(start, i), format!("bad number '{text}'")))?;
        Ok((Tok::Real(v), i))
    } else {
        match text.parse::<i64>() {
            Ok(n) => Ok((Tok::Long(n), i)),
            Err(_) => Ok((Tok::Real(text.parse().unwrap_or(f64::INFINITY)), i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).filter(|t| *t != Tok::Eof).collect()
    }

    #[test]
    fn tokens_as_a_table() {
        use Tok::*;
        let p = Punct;
        let id = |s: &str| Ident(s.to_string());
        let st = |s: &str| Str(s.to_string());
        let table: Vec<(&str, Vec<Tok>)> = vec![
            ("T | project-away A", vec![id("T"), p("|"), id("project-away"), id("A")]),
            ("a-b", vec![id("a"), p("-"), id("b")]),
            ("x >= 1.5e3", vec![id("x"), p(">="), Real(1500.0)]),
            (
                "ago(14d) 1h 30m 10s 100ms 2.5h",
                vec![
                    id("ago"),
                    p("("),
                    Timespan(14 * 86_400_000_000),
                    p(")"),
                    Timespan(3_600_000_000),
                    Timespan(1_800_000_000),
                    Timespan(10_000_000),
                    Timespan(100_000),
                    Timespan(9_000_000_000),
                ],
            ),
            (
                r#"'a\'b' "c\"d" @'e\f' @"g""h" h'secret'"#,
                vec![st("a'b"), st("c\"d"), st("e\\f"), st("g\"h"), st("secret")],
            ),
            ("datetime(2024-01-01 10:00) ", vec![DateTime("2024-01-01 10:00".into())]),
            ("['my col'] x['k']", vec![Quoted("my col".into()), id("x"), Quoted("k".into())]),
            (
                "a =~ b !~ c != d <> e == f",
                vec![id("a"), p("=~"), id("b"), p("!~"), id("c"), p("!="), id("d"), p("<>"), id("e"), p("=="), id("f")],
            ),
            ("x // comment\n| take 0x10", vec![id("x"), p("|"), id("take"), Long(16)]),
            (
                "range x from 1 to 5 step 1",
                vec![id("range"), id("x"), id("from"), Long(1), id("to"), Long(5), id("step"), Long(1)],
            ),
            ("```multi\nline```", vec![st("multi\nline")]),
            ("1..5", vec![Long(1), p(".."), Long(5)]),
        ];
        for (src, want) in table {
            assert_eq!(toks(src), want, "{src}");
        }
    }

    #[test]
    fn errors_point_at_the_place() {
        let table = [
            ("T | where x == 'abc", 15, "unterminated string"),
            ("T | take 10q", 9, "'10q' is not a number or timespan"),
            ("T # x", 2, "unexpected character '#'"),
            ("print '\\q'", 7, "unknown escape"),
        ];
        for (src, at, msg) in table {
            let e = lex(src).unwrap_err();
            assert_eq!(e.span.start, at, "{src}: {e}");
            assert!(e.message.contains(msg), "{src}: {e}");
        }
    }
}
