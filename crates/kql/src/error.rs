//! Errors with the place in the query they are about.

use std::fmt;

/// A byte range of the query text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// A query that cannot run: what is wrong and where.
#[derive(Clone, Debug, PartialEq)]
pub struct KqlError {
    pub span: Span,
    pub message: String,
}

impl KqlError {
    pub fn at(span: Span, message: impl Into<String>) -> KqlError {
        KqlError { span, message: message.into() }
    }

    /// 1-based line and column of the start, in characters.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        let before = &src[..self.span.start.min(src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (line, col)
    }

    /// The message with its position and the line it is on, marked:
    ///
    /// ```text
    /// line 1, column 18: unknown column 'Confidnce'; did you mean 'Confidence'?
    ///   ThreatIntelIndicators | where Confidnce > 50
    ///                                 ^^^^^^^^^
    /// ```
    pub fn render(&self, src: &str) -> String {
        let (line, col) = self.line_col(src);
        let text = src.lines().nth(line - 1).unwrap_or("");
        let width = src[self.span.start.min(src.len())..self.span.end.min(src.len())]
            .lines()
            .next()
            .map_or(1, |s| s.chars().count().max(1));
        format!("line {line}, column {col}: {}\n  {text}\n  {}{}", self.message, " ".repeat(col - 1), "^".repeat(width))
    }
}

impl fmt::Display for KqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.span.start, self.message)
    }
}

impl std::error::Error for KqlError {}

/// The closest of `candidates` to `name` (case-insensitive edit distance), when close
/// enough to be a likely typo: the "did you mean" of errors.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(cur) };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_typos_only() {
        let cols = ["Confidence", "Created", "ObservableKey", "ObservableValue", "Tags"];
        assert_eq!(did_you_mean("Confidnce", cols), Some("Confidence"));
        assert_eq!(did_you_mean("observablevalu", cols), Some("ObservableValue"));
        assert_eq!(did_you_mean("tag", cols), Some("Tags"));
        assert_eq!(did_you_mean("Severity", cols), None);
    }

    #[test]
    fn rendering_marks_the_place() {
        let src = "T\n| where Confidnce > 50";
        let e = KqlError::at(Span::new(10, 19), "unknown column 'Confidnce'");
        assert_eq!(e.line_col(src), (2, 9));
        assert_eq!(
            e.render(src),
            "line 2, column 9: unknown column 'Confidnce'\n  | where Confidnce > 50\n          ^^^^^^^^^"
        );
    }
}
