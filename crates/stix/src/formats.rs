//! Value formats the spec names (URIs, domain names, addresses, language tags, …), checked
//! byte by byte so that validation never compiles a regex or allocates in the common case.
//! Each function answers "is `s` well-formed?"; callers word the error.

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::spec::{HashAlphabet, HASH_FORMATS};

fn lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// IANA media types (Template column), lower-cased: media types are case-insensitive.
static MEDIA_TYPES: LazyLock<HashSet<String>> =
    LazyLock::new(|| lines(include_str!("../data/iana-media-types.txt")).map(str::to_ascii_lowercase).collect());

/// IANA character sets (preferred MIME name, else name), lower-cased.
static CHARSETS: LazyLock<HashSet<String>> =
    LazyLock::new(|| lines(include_str!("../data/iana-charsets.txt")).map(str::to_ascii_lowercase).collect());

/// ISO 639-2 language codes.
static ISO_639_2: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| lines(include_str!("../data/iso-639-2.txt")).collect());

/// A STIX 2.1 property name (“Property Names”, “Custom Properties”): 3–250 characters of `a-z`, `0-9`, `_`, the
/// first a letter.
pub fn is_property_name(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase) && is_property_name_20(s)
}

/// A STIX 2.0 property name: 3–250 characters of `a-z`, `0-9`, `_`.
pub fn is_property_name_20(s: &str) -> bool {
    (3..=250).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// A dictionary key (common data type “dictionary”): at most 250 characters of `a-z`, `A-Z`, `0-9`, `-`, `_`.
pub fn is_dictionary_key(s: &str) -> bool {
    s.len() <= 250 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// A hashes key (common data type “hashes”): 3–250 characters of `a-z`, `A-Z`, `0-9`, `-`, `_`.
pub fn is_hash_key(s: &str) -> bool {
    s.len() >= 3 && is_dictionary_key(s)
}

/// Checks a hash value for the algorithms whose format the spec fixes. `None` when the
/// algorithm is not one of those; otherwise whether the value is well-formed, plus a
/// description of the expected form.
pub fn check_hash_value(alg: &str, value: &str) -> Option<(bool, String)> {
    let (_, min, max, alphabet) = HASH_FORMATS.iter().find(|(a, ..)| *a == alg)?;
    let len_ok = (*min..=*max).contains(&value.len());
    let chars_ok = value.bytes().all(|c| match alphabet {
        HashAlphabet::Hex => c.is_ascii_hexdigit(),
        HashAlphabet::Alnum => c.is_ascii_alphanumeric(),
        HashAlphabet::Ssdeep => c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+' | b':' | b'.'),
    });
    let expected = match alphabet {
        HashAlphabet::Hex => format!("{min} hexadecimal digits"),
        HashAlphabet::Alnum => format!("{min} letters or digits"),
        HashAlphabet::Ssdeep => format!("an ssdeep digest of at most {max} characters"),
    };
    Some((len_ok && chars_ok, expected))
}

/// base64 as the `binary` type uses it: whole 4-character groups, `=` padding only at
/// the end, at least one group.
pub fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let body = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let n = b.len();
    let pad = if b[n - 1] == b'=' {
        if b[n - 2] == b'=' {
            2
        } else {
            1
        }
    } else {
        0
    };
    b[..n - pad].iter().all(|&c| body(c))
}

/// The `hex` type: an even number (at least two) of hex digits.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(c: u8) -> bool {
    matches!(c, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
}

/// All bytes are `allowed` or a valid percent-encoding.
fn uri_chars(b: &[u8], allowed: impl Fn(u8) -> bool) -> bool {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else if allowed(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn pchar(c: u8) -> bool {
    is_unreserved(c) || is_sub_delim(c) || c == b':' || c == b'@'
}

/// An absolute URI per RFC 3986 §3 (`scheme ":" hier-part ["?" query] ["#" fragment]`).
pub fn is_uri(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return false;
    };
    let scheme = &b[..colon];
    if scheme.is_empty()
        || !scheme[0].is_ascii_alphabetic()
        || !scheme.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return false;
    }
    let mut rest = &b[colon + 1..];
    if let Some(h) = rest.iter().position(|&c| c == b'#') {
        if !uri_chars(&rest[h + 1..], |c| pchar(c) || c == b'/' || c == b'?') {
            return false;
        }
        rest = &rest[..h];
    }
    if let Some(q) = rest.iter().position(|&c| c == b'?') {
        if !uri_chars(&rest[q + 1..], |c| pchar(c) || c == b'/' || c == b'?') {
            return false;
        }
        rest = &rest[..q];
    }
    let path = if let Some(after) = rest.strip_prefix(b"//") {
        let end = after.iter().position(|&c| c == b'/').unwrap_or(after.len());
        if !is_authority(&after[..end]) {
            return false;
        }
        &after[end..]
    } else {
        rest
    };
    uri_chars(path, |c| pchar(c) || c == b'/')
}

fn is_authority(a: &[u8]) -> bool {
    let (userinfo, hostport) = match a.iter().position(|&c| c == b'@') {
        Some(at) => (Some(&a[..at]), &a[at + 1..]),
        None => (None, a),
    };
    if let Some(u) = userinfo {
        if !uri_chars(u, |c| is_unreserved(c) || is_sub_delim(c) || c == b':') {
            return false;
        }
    }
    let (host, port) = if hostport.first() == Some(&b'[') {
        let Some(close) = hostport.iter().position(|&c| c == b']') else {
            return false;
        };
        let literal = &hostport[1..close];
        let ok = if literal.first().is_some_and(|c| *c == b'v' || *c == b'V') {
            literal.len() > 1 && literal.iter().all(|&c| is_unreserved(c) || is_sub_delim(c) || c == b':')
        } else {
            !literal.is_empty() && std::str::from_utf8(literal).is_ok_and(|l| l.parse::<std::net::Ipv6Addr>().is_ok())
        };
        if !ok {
            return false;
        }
        let after = &hostport[close + 1..];
        match after.split_first() {
            None => (&[][..], None),
            Some((b':', port)) => (&[][..], Some(port)),
            Some(_) => return false,
        }
    } else {
        match hostport.iter().position(|&c| c == b':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    if !uri_chars(host, |c| is_unreserved(c) || is_sub_delim(c)) {
        return false;
    }
    port.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

/// A domain name per RFC 1034 with IDNA2008 labels (RFC 5890), as the IDNA codec checks
/// it: non-empty labels of at most 63 letters, digits and hyphens (or lower-case
/// non-ASCII letters), not starting or ending with a hyphen, no `--` in positions 3–4
/// except in `xn--` A-labels; an optional trailing dot.
pub fn is_domain_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    s.split('.').all(|label| {
        if label.is_empty() || label.starts_with('-') || label.ends_with('-') {
            return false;
        }
        if label.is_ascii() {
            let b = label.as_bytes();
            if b.len() > 63 || !b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-') {
                return false;
            }
            !(b.len() >= 4 && &b[2..4] == b"--") || label[..2].eq_ignore_ascii_case("xn")
        } else {
            label.chars().count() <= 63
                && label.chars().all(|c| {
                    c == '-'
                        || c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || (!c.is_ascii() && c.is_alphanumeric() && !c.is_uppercase())
                })
        }
    })
}

fn decimal_in(b: &[u8], max: u32) -> bool {
    if b.is_empty() || b.len() > 3 || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return false;
    }
    b.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0')) <= max
}

/// An IPv4 address or CIDR block: dotted quad without leading zeros, optional `/0`–`/32`.
pub fn is_ipv4(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let mut n = 0;
    for part in addr.split('.') {
        n += 1;
        if n > 4 || !decimal_in(part.as_bytes(), 255) {
            return false;
        }
    }
    n == 4 && prefix.is_none_or(|p| decimal_in(p.as_bytes(), 32))
}

/// An IPv6 address (RFC 4291 text forms, optional `%zone`) or CIDR block (`/0`–`/128`).
pub fn is_ipv6(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = match addr.split_once('%') {
        Some((a, zone)) if !zone.is_empty() => a,
        Some(_) => return false,
        None => addr,
    };
    addr.parse::<std::net::Ipv6Addr>().is_ok() && prefix.is_none_or(|p| decimal_in(p.as_bytes(), 128))
}

/// A MAC-48 address: six lower-case hex pairs separated by colons.
pub fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, &c)| {
            if i % 3 == 2 {
                c == b':'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
            }
        })
}

/// An email address. Like the reference validator, only the `@` is required.
pub fn is_email(s: &str) -> bool {
    s.contains('@')
}

/// A media type registered with IANA (`type/subtype`, compared case-insensitively).
pub fn is_media_type(s: &str) -> bool {
    MEDIA_TYPES.contains(&s.to_ascii_lowercase())
}

/// A character set registered with IANA.
pub fn is_charset(s: &str) -> bool {
    CHARSETS.contains(&s.to_ascii_lowercase())
}

/// An ISO 639-2 language code.
pub fn is_iso_639_2(s: &str) -> bool {
    ISO_639_2.contains(s)
}

/// A Windows registry key whose hive is spelled out (`HKEY_LOCAL_MACHINE`, not `HKLM`).
pub fn is_full_registry_key(s: &str) -> bool {
    let hive = s.split('\\').next().unwrap_or(s);
    !["HKLM", "HKCC", "HKCR", "HKCU", "HKU"].iter().any(|a| hive.eq_ignore_ascii_case(a))
}

/// A relationship type (Relationship, `relationship_type`): ASCII `a-z`, `0-9` and `-`.
pub fn is_relationship_type(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// A well-formed RFC 5646 language tag (case-insensitive).
pub fn is_language_tag(s: &str) -> bool {
    const IRREGULAR: &[&str] = &[
        "en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux", "i-mingo", "i-navajo",
        "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-be-fr", "sgn-be-nl", "sgn-ch-de",
    ];
    if !s.is_ascii() || s.is_empty() {
        return false;
    }
    if IRREGULAR.iter().any(|g| g.eq_ignore_ascii_case(s)) {
        return true;
    }
    let alpha =
        |t: &str, min: usize, max: usize| (min..=max).contains(&t.len()) && t.bytes().all(|c| c.is_ascii_alphabetic());
    let alnum = |t: &str, min: usize, max: usize| {
        (min..=max).contains(&t.len()) && t.bytes().all(|c| c.is_ascii_alphanumeric())
    };
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|c| c.is_ascii_digit());
    let mut it = s.split('-').peekable();
    let first = it.next().unwrap_or("");
    let private = |it: &mut std::iter::Peekable<std::str::Split<'_, char>>| {
        let mut n = 0;
        for t in it.by_ref() {
            if !alnum(t, 1, 8) {
                return false;
            }
            n += 1;
        }
        n > 0
    };
    if first.eq_ignore_ascii_case("x") {
        return private(&mut it);
    }
    // The primary language subtag: ISO 639 (2–3 letters). 4 letters are reserved and no
    // 5–8 letter subtag is registered, so those tags are well-formed but never valid.
    if !alpha(first, 2, 3) {
        return false;
    }
    let mut ext = 0;
    while ext < 3 && it.peek().is_some_and(|t| alpha(t, 3, 3)) {
        it.next(); // extlang
        ext += 1;
    }
    if it.peek().is_some_and(|t| alpha(t, 4, 4)) {
        it.next(); // script
    }
    if it.peek().is_some_and(|t| alpha(t, 2, 2) || digits(t, 3)) {
        it.next(); // region
    }
    while it
        .peek()
        .is_some_and(|t| alnum(t, 5, 8) || (t.len() == 4 && t.as_bytes()[0].is_ascii_digit() && alnum(t, 4, 4)))
    {
        it.next(); // variants
    }
    while let Some(t) = it.next() {
        if t.eq_ignore_ascii_case("x") {
            return private(&mut it);
        }
        // extension: a singleton then one or more 2–8 character subtags
        if !(t.len() == 1 && t.as_bytes()[0].is_ascii_alphanumeric()) {
            return false;
        }
        let mut n = 0;
        while it.peek().is_some_and(|t| alnum(t, 2, 8)) {
            it.next();
            n += 1;
        }
        if n == 0 {
            return false;
        }
    }
    true
}

/// A CPE 2.3 formatted string (NISTIR 7695 §6.2): `cpe:2.3:` and eleven components.
pub fn is_cpe23(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("cpe:2.3:") else {
        return false;
    };
    let b = rest.as_bytes();
    let mut comps: [&[u8]; 11] = [&[]; 11];
    let (mut n, mut start, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b':' => {
                if n >= 10 {
                    return false;
                }
                comps[n] = &b[start..i];
                n += 1;
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if n != 10 || i > b.len() {
        return false;
    }
    comps[10] = &b[start..];
    if !matches!(comps[0], b"a" | b"o" | b"h" | b"*" | b"-") {
        return false;
    }
    comps[1..].iter().enumerate().all(|(k, c)| {
        if matches!(*c, b"*" | b"-") {
            return true;
        }
        if k + 1 == 6 {
            // language: RFC 5646 language[-region] as CPE restricts it
            let (lang, region) = match c.iter().position(|&x| x == b'-') {
                Some(d) => (&c[..d], Some(&c[d + 1..])),
                None => (*c, None),
            };
            return (2..=3).contains(&lang.len())
                && lang.iter().all(u8::is_ascii_alphabetic)
                && region.is_none_or(|r| {
                    (r.len() == 2 && r.iter().all(u8::is_ascii_alphabetic))
                        || (r.len() == 3 && r.iter().all(u8::is_ascii_digit))
                });
        }
        is_cpe_avstring(c)
    })
}

fn is_cpe_avstring(c: &[u8]) -> bool {
    const QUOTABLE: &[u8] = b"\\*?!\"#$%&'()+,/:;<=>@[]^`{|}~";
    let mut i = 0;
    // leading wildcard: a single '*' or any number of '?'
    if c.first() == Some(&b'*') {
        i = 1;
    } else {
        while c.get(i) == Some(&b'?') {
            i += 1;
        }
    }
    let mut body = 0;
    while i < c.len() {
        match c[i] {
            b'\\' => {
                if !c.get(i + 1).is_some_and(|q| QUOTABLE.contains(q)) {
                    return false;
                }
                i += 2;
            }
            x if x.is_ascii_alphanumeric() || matches!(x, b'-' | b'.' | b'_') => i += 1,
            _ => break,
        }
        body += 1;
    }
    if body == 0 {
        return false;
    }
    // trailing wildcard
    if c.get(i) == Some(&b'*') {
        i += 1;
    } else {
        while c.get(i) == Some(&b'?') {
            i += 1;
        }
    }
    i == c.len()
}

/// A granular-marking selector (Granular Markings): `prop(.key|.[n])*`, or `id`.
pub fn is_selector_syntax(s: &str) -> bool {
    if s == "id" {
        return true;
    }
    let seg_ok = |t: &str, min: usize| {
        (min..=250).contains(&t.len())
            && t.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
    };
    let mut parts = s.split('.');
    let first = parts.next().unwrap_or("");
    if !(seg_ok(first, 3) && first.len() <= 249) {
        return false;
    }
    parts.all(|t| {
        t.strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .map_or_else(|| seg_ok(t, 1), |n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(f: fn(&str) -> bool, cases: &[(&str, bool)]) {
        for (s, ok) in cases {
            assert_eq!(f(s), *ok, "{s:?}");
        }
    }

    #[test]
    fn uris() {
        table(
            is_uri,
            &[
                ("http://example.com", true),
                ("https://example.com/a/b?c=d&e#frag", true),
                ("http://user:pw@example.com:8080/", true),
                ("http://[2001:db8::1]:80/x", true),
                ("mailto:someone@example.com", true),
                ("urn:isbn:0451450523", true),
                ("http://exa_mple.com/%20", true),
                ("http://x", true),
                ("example.com", false),
                ("http://example.com/a b", false),
                ("http://exa mple.com", false),
                ("http://a:b/", false),
                ("http://example.com/%zz", false),
                ("http://example.com/ü", false),
                ("1http://x", false),
                ("", false),
            ],
        );
    }

    #[test]
    fn domain_names() {
        table(
            is_domain_name,
            &[
                ("example.com", true),
                ("Example.COM", true),
                ("example.com.", true),
                ("xn--bcher-kva.com", true),
                ("bücher.com", true),
                ("localhost", true),
                ("1.2.3.4", true),
                ("exa_mple.com", false),
                ("a..b", false),
                (".a", false),
                ("*.example.com", false),
                ("-a.com", false),
                ("a-.com", false),
                ("ab--cd.com", false),
                ("ÉCOLE.fr", false),
                ("ex ample.com", false),
                ("", false),
            ],
        );
        assert!(!is_domain_name(&format!("{}.com", "a".repeat(64))));
    }

    #[test]
    fn addresses() {
        table(
            is_ipv4,
            &[
                ("198.51.100.3", true),
                ("10.0.0.0/8", true),
                ("0.0.0.0/0", true),
                ("255.255.255.255/32", true),
                ("256.1.1.1", false),
                ("01.1.1.1", false),
                ("1.1.1", false),
                ("1.1.1.1.1", false),
                ("1.1.1.1/33", false),
                ("1.1.1.1/", false),
                ("::1", false),
            ],
        );
        table(
            is_ipv6,
            &[
                ("2001:db8::1", true),
                ("::", true),
                ("2001:db8::/32", true),
                ("fe80::1%eth0", true),
                ("::ffff:192.0.2.1", true),
                ("2001:db8::/129", false),
                ("2001:db8:::1", false),
                ("1.2.3.4", false),
            ],
        );
        table(
            is_mac,
            &[
                ("d2:fb:49:24:37:18", true),
                ("D2:FB:49:24:37:18", false),
                ("d2-fb-49-24-37-18", false),
                ("d2:fb:49:24:37", false),
            ],
        );
    }

    #[test]
    fn encodings() {
        table(
            is_base64,
            &[
                ("iVBORw0KGgoAAAANSUhEUgAAADI=", true),
                ("VBORw0KGgoAAAANSUhEUgAAADI=", false),
                ("YQ==", true),
                ("YWJj", true),
                ("", false),
                ("YQ=", false),
                ("Y=Q=", false),
                ("a b=", false),
            ],
        );
        table(is_hex, &[("00ff", true), ("AbCd", true), ("abc", false), ("", false), ("zz", false)]);
    }

    #[test]
    fn language_tags() {
        table(
            is_language_tag,
            &[
                ("en", true),
                ("en-US", true),
                ("en-gb", true),
                ("zh-Hans-CN", true),
                ("sr-Latn-RS", true),
                ("es-419", true),
                ("de-CH-1901", true),
                ("en-a-bbb-x-private", true),
                ("x-whatever", true),
                ("i-klingon", true),
                ("english", false), // 5–8 letter primary subtags: none registered
                ("e", false),
                ("en_US", false),
                ("en-", false),
                ("123", false),
                ("en-a", false),
            ],
        );
    }

    #[test]
    fn cpes() {
        table(
            is_cpe23,
            &[
                ("cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", true),
                ("cpe:2.3:a:micro\\:soft:word:*:*:*:*:*:*:*:*", true),
                ("cpe:2.3:a:ms:w:1.0:*:*:en-us:*:*:*:*", true),
                ("cpe:2.3:a:ms:w:1.?:*:*:*:*:*:*:*", true),
                ("cpe:2.3:a:ms:w:1.0*:*:*:*:*:*:*:*", true),
                ("cpe:2.3:a:microsoft:word:2000", false),
                ("cpe:/a:microsoft:word:2000", false),
                ("cpe:2.3:a:micro soft:word:*:*:*:*:*:*:*:*", false),
                ("cpe:2.3:x:microsoft:word:*:*:*:*:*:*:*:*", false),
                ("cpe:2.3:a:microsoft:word:*:*:*:*:*:*:*:*:extra", false),
                ("cpe:2.3:a:ms:w:1.0:*:*:english:*:*:*:*", false),
                ("cpe:2.3:a:ms:w:1.0!:*:*:*:*:*:*:*", false),
            ],
        );
    }

    #[test]
    fn registries_and_names() {
        assert!(is_media_type("application/json"));
        assert!(is_media_type("Application/JSON"));
        assert!(!is_media_type("application/x-dosexec"));
        assert!(is_charset("UTF-8"));
        assert!(is_charset("utf-8"));
        assert!(!is_charset("utf-99"));
        assert!(is_iso_639_2("eng"));
        assert!(!is_iso_639_2("en"));
        assert!(is_full_registry_key("HKEY_LOCAL_MACHINE\\System"));
        assert!(!is_full_registry_key("HKLM\\System"));
        assert!(!is_full_registry_key("hkcu"));
        assert!(is_property_name("x_acme_score"));
        assert!(!is_property_name("xy"));
        assert!(!is_property_name("x-acme"));
        assert!(!is_property_name("xAcme"));
        assert!(!is_property_name("1x_acme"));
        assert!(is_property_name_20("1x_acme"));
        assert!(is_selector_syntax("description"));
        assert!(is_selector_syntax("external_references.[1].url"));
        assert!(!is_selector_syntax("external_references[1]"));
        assert_eq!(check_hash_value("MD5", "1717b7fff97d37a1e1a0029d83492de1").map(|r| r.0), Some(true));
        assert_eq!(check_hash_value("SHA-256", "abc").map(|r| r.0), Some(false));
        assert_eq!(check_hash_value("x_foo", "abc"), None);
    }
}
