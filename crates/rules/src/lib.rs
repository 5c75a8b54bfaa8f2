//! Syntax checks for indicator patterns that are not STIX patterns.
//!
//! A STIX 2.1 indicator's `pattern_type` names its pattern language: `stix` (checked by
//! `cairn-pattern`), `sigma`, `yara`, `snort`, `suricata`, `pcre` or a custom one. This
//! crate checks the languages for which a well-kept Rust parser exists, so a rule that
//! could never load into a SIEM or scanner is refused at ingest with the parser's own
//! message, instead of being stored and shared:
//!
//! - `sigma`: `rsigma-parser` (the YAML document(s), the detection/correlation/filter
//!   structure, the condition expression).
//! - `yara`: `yara-x-parser`, the parser of VirusTotal's YARA-X (syntax only: module
//!   imports and identifiers are not resolved, as they depend on the scanner).
//! - Everything else passes untouched: no maintained Rust parser exists for Snort or
//!   Suricata rules, and `pcre` flavours differ too much to judge.
//!
//! Key design decision: a separate crate behind one function ([`check`]), so the STIX
//! validator depends on "is this rule well-formed?" and not on two parsers' APIs; a
//! parser can be replaced (or a language added) here alone.

/// Checks `pattern` as a rule of `pattern_type`. `Ok(true)` when it was checked and is
/// well-formed, `Ok(false)` when the language is not checked here, `Err` with the
/// parser's message (and position, where it gives one) otherwise.
pub fn check(pattern_type: &str, pattern: &str) -> Result<bool, String> {
    match pattern_type {
        "sigma" => sigma(pattern).map(|()| true),
        "yara" => yara(pattern).map(|()| true),
        _ => Ok(false),
    }
}

fn sigma(text: &str) -> Result<(), String> {
    let collection = rsigma_parser::parse_sigma_yaml(text).map_err(|e| e.to_string())?;
    let collection = collection.into_result().map_err(|errors| errors.join("; "))?;
    if collection.rules.is_empty() && collection.correlations.is_empty() && collection.filters.is_empty() {
        return Err("no Sigma rule in the pattern".into());
    }
    Ok(())
}

fn yara(text: &str) -> Result<(), String> {
    use yara_x_parser::ast::{Error, AST};
    let ast = AST::from(text);
    let Some(e) = ast.errors().first() else {
        if ast.rules().next().is_none() {
            return Err("no YARA rule in the pattern".into());
        }
        return Ok(());
    };
    let (what, span) = match e {
        Error::SyntaxError { message, span }
        | Error::InvalidInteger { message, span }
        | Error::InvalidFloat { message, span }
        | Error::InvalidRegexpModifier { message, span }
        | Error::InvalidEscapeSequence { message, span } => (message.clone(), span),
        Error::InvalidUTF8(span) => ("invalid UTF-8".to_string(), span),
        Error::UnexpectedEscapeSequence(span) => ("unexpected escape sequence".to_string(), span),
    };
    let (line, col) = line_col(text, span.start());
    Err(format!("{what} at line {line}, column {col}"))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGMA_OK: &str = "title: Whoami
id: 5f2f6e5a-4d62-4b4e-9f0e-3f0b0c8f2f10
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
level: low
";

    const YARA_OK: &str = r#"rule silent_banker : banker {
    meta:
        description = "This is just an example"
    strings:
        $a = {6A 40 68 00 30 00 00 6A 14 8D 91}
        $b = "UVODFRYSIHLNWPEJXQZAKCBGMT"
    condition:
        $a or $b
}"#;

    #[test]
    fn well_formed_rules_pass() {
        assert_eq!(check("sigma", SIGMA_OK), Ok(true));
        assert_eq!(check("yara", YARA_OK), Ok(true));
        assert_eq!(check("yara", "import \"pe\"\nrule a { condition: pe.is_dll() }"), Ok(true));
    }

    #[test]
    fn other_languages_pass_untouched() {
        for t in ["snort", "suricata", "pcre", "x-custom", "stix"] {
            assert_eq!(check(t, "anything at all {"), Ok(false), "{t}");
        }
    }

    #[test]
    fn broken_rules_are_refused_with_the_parsers_message() {
        let table = [
            ("yara", "rule a { condition: }", "line 1"),
            ("yara", "rule a {\n  strings:\n    $a = \"x\n  condition: $a\n}", "line"),
            ("yara", "rule a { condition: true", "line 1"),
            ("yara", "", "no YARA rule"),
            ("sigma", "title: x\ndetection:\n  sel:\n    a: 1\n  condition: sel and\n", ""),
            ("sigma", "title: [unclosed\n", ""),
            ("sigma", "", ""),
            ("sigma", "title: no detection\nlogsource:\n  product: windows\n", ""),
        ];
        for (t, text, needle) in table {
            let e = check(t, text).expect_err(text);
            assert!(e.contains(needle), "{t}: {text:?}: {e}");
            assert!(!e.is_empty());
        }
    }

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(line_col("ab\ncdé\nf", 7), (2, 4));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
