//! The reference validator's checks beyond the grammar, reproduced to the letter
//! (stix2patterns 2.1.2: `helpers.brackets_check`, `v2x/object_validator.verify_object`).
//! Where the reference's behaviour is accidental (regex quirks), the accident is kept,
//! because the point is to give the same verdict; each such place says so.

use std::borrow::Cow;

use crate::ast::{ObjectPath, PathStep};
use crate::error::{Position, ValidationError};

/// `brackets_check`: skipping `(` and whitespace, the first character must be `[`.
/// Only the raw text is looked at, so a leading comment fails it.
pub(crate) fn brackets_ok(pattern: &str) -> bool {
    // Python's `str.isspace` also counts U+001C..U+001F (information separators).
    pattern.chars().find(|&c| c != '(' && !(c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c))) == Some('[')
}

/// The reference checks a comparison when any component of its path (property or key,
/// after unquoting) is exactly `hashes`.
pub(crate) fn is_hash_path(path: &ObjectPath) -> bool {
    path.property == "hashes" || path.steps.iter().any(|s| matches!(s, PathStep::Key(k) if k == "hashes"))
}

/// Checks the value text (the literal as written, or a set's tokens joined without
/// spaces) of a comparison on a hash path. The selector is the path's last component;
/// its name is upper-cased with `-` and `'` removed and looked up in the reference's
/// table; the value is checked with the quotes removed.
pub(crate) fn check_hash(
    path: &ObjectPath,
    value_text: &str,
    position: impl FnOnce() -> Position,
) -> Option<ValidationError> {
    let selector = match path.steps.last() {
        None => &path.property,
        Some(PathStep::Key(k)) => k,
        Some(PathStep::AnyIndex) => return None,
        Some(PathStep::Index(_)) => return Some(ValidationError::IndexedHashes { position: position() }),
    };
    let check = algorithm_check(selector)?;
    let value = unquoted(value_text);
    (!check(&value)).then(|| ValidationError::InvalidHash {
        position: position(),
        algorithm: selector.clone(),
        value: value.into_owned(),
    })
}

/// The check for a hash selector: the name upper-cased (Unicode rules, as Python's
/// `str.upper`), `-` and `'` removed, looked up in the reference's `HASHES_REGEX`.
fn algorithm_check(selector: &str) -> Option<fn(&str) -> bool> {
    let mut ascii = [0u8; 16];
    let mut len = 0;
    let owned: String;
    let name = if selector.is_ascii() {
        // The common case, without allocating: no known name is longer than 9 bytes.
        for c in selector.bytes().filter(|&c| c != b'-' && c != b'\'') {
            *ascii.get_mut(len)? = c.to_ascii_uppercase();
            len += 1;
        }
        std::str::from_utf8(&ascii[..len]).expect("ASCII")
    } else {
        owned = selector.to_uppercase().chars().filter(|&c| c != '-' && c != '\'').collect();
        &owned
    };
    Some(match name {
        "MD5" => |s| hex_exactly(s, 32),
        "MD6" => md6,
        "RIPEMD160" | "SHA1" => |s| hex_exactly(s, 40),
        "SHA224" | "SHA3224" => |s| hex_exactly(s, 56),
        "SHA256" | "SHA3256" => |s| hex_exactly(s, 64),
        "SHA384" | "SHA3384" => |s| hex_exactly(s, 96),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => |s| hex_exactly(s, 128),
        "SSDEEP" => ssdeep,
        _ => return None,
    })
}

/// The value text with every `'` removed (the reference's `value.replace("'", "")`),
/// borrowed when the quotes are only the string literal's own.
fn unquoted(text: &str) -> Cow<'_, str> {
    let inner = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).unwrap_or(text);
    if inner.contains('\'') {
        Cow::Owned(text.chars().filter(|&c| c != '\'').collect())
    } else {
        Cow::Borrowed(inner)
    }
}

/// Python's `re.match('^…$', s)`: `$` also matches before one final `\n`.
fn full_match(s: &str, ok: impl Fn(&str) -> bool) -> bool {
    ok(s) || s.strip_suffix('\n').is_some_and(ok)
}

fn hex_exactly(s: &str, n: usize) -> bool {
    full_match(s, |s| s.len() == n && s.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// `^[a-zA-Z0-9/+:.]{1,128}$`
fn ssdeep(s: &str) -> bool {
    full_match(s, |s| {
        (1..=128).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"/+:.".contains(&c))
    })
}

/// The reference's MD6 expression is `^h{32}|h{40}|h{56}|\⏎    h{64}|h{96}|h{128}$`
/// (a raw string continued over a line break, so one alternative is a newline and four
/// spaces before 64 hex digits), applied with `re.match`. Every alternative but that one
/// starts with 32 hex digits, so the whole test reduces to the two prefixes below.
fn md6(s: &str) -> bool {
    let hex_prefix = |s: &str, n: usize| s.len() >= n && s.as_bytes()[..n].iter().all(u8::is_ascii_hexdigit);
    hex_prefix(s, 32) || s.strip_prefix("\n    ").is_some_and(|rest| hex_prefix(rest, 64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// stix2patterns/test/test_helpers.py (its failing cases assert on `None` by
    /// mistake; here they are checked as meant).
    #[test]
    fn brackets_check_cases() {
        for ok in [
            "[file:size = 1280]", " [file:size = 1280]", "( [file:size = 1280])", "( ( [file:size = 1280]) )",
            "(( ( ( [file:size = 1280])) ))", "[",
        ] {
            assert!(brackets_ok(ok), "{ok}");
        }
        for bad in [
            "file:size = 1280", "(file:size = 1280)", " ( file:size = 1280 ) ", " (( (( file:size = 1280 ) )) ) ", "",
            "  ", "((", "/* c */ [a:b = 1]",
        ] {
            assert!(!brackets_ok(bad), "{bad}");
        }
        assert!(brackets_ok("\u{1C}\u{3000}(["));
    }

    #[test]
    fn regex_quirks() {
        let h32 = "a".repeat(32);
        assert!(hex_exactly(&h32, 32));
        assert!(hex_exactly(&format!("{h32}\n"), 32));
        assert!(!hex_exactly(&format!("{h32}\n\n"), 32));
        assert!(!hex_exactly(&format!("\n{h32}"), 32));
        assert!(md6(&format!("{h32}zz")));
        assert!(md6(&format!("\n    {}", "b".repeat(64))));
        assert!(!md6(&"c".repeat(31)));
        assert!(ssdeep("3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"));
        assert!(!ssdeep(""));
        assert!(!ssdeep(&"a".repeat(129)));
        assert!(ssdeep(&format!("{}\n", "a".repeat(128))));
    }
}
