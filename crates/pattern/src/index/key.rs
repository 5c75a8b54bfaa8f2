//! How values are compared in the index: each object path has a [`KeyKind`], and a value
//! on that path is encoded into bytes so that values analysts consider the same are the
//! same bytes. Indicator literals and event values go through the same encoding, so an
//! equality test is one hash probe.
//!
//! - IP addresses (`ipv4-addr:value`, `ipv6-addr:value`, and the `value` of a `…_ref`
//!   or `…_refs[*]`): the address's bytes, so `2001:db8::1` and `2001:0db8:0:0::1` are
//!   one key; a CIDR literal is a network, found by prefix length.
//! - Domain names, e-mail addresses and hashes: case-insensitive (DNS names and hex
//!   digits are); hashes are kept as their decoded bytes (half the memory of the text).
//! - Everything else: the exact text, as STIX equality is.
//!
//! The first byte of every key is a tag, so a string `"443"` and the integer `443` never
//! collide (STIX and the reference matcher tell them apart).

use std::net::IpAddr;

use crate::ast::{ObjectPath, PathStep};

pub(crate) const TAG_TEXT: u8 = b's';
pub(crate) const TAG_IP4: u8 = b'4';
pub(crate) const TAG_IP6: u8 = b'6';
pub(crate) const TAG_HEX: u8 = b'h';
pub(crate) const TAG_INT: u8 = b'i';
pub(crate) const TAG_BOOL: u8 = b'b';
/// A network: tag, prefix length, then the masked address (4 or 16 bytes).
pub(crate) const TAG_NET4: u8 = b'n';
pub(crate) const TAG_NET6: u8 = b'N';

/// How values on a path are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// An address (or, for references, a host name: compared case-insensitively).
    Ip,
    /// Case-insensitive text: domain names, e-mail addresses.
    Lower,
    /// Hex digits, case-insensitive (a `hashes` value).
    Hash,
    /// Exact.
    Exact,
}

impl KeyKind {
    /// The kind of a path in pattern syntax terms.
    pub fn of(path: &ObjectPath) -> KeyKind {
        let is_ref = |p: &str| p.ends_with("_ref") || p.ends_with("_refs");
        match (path.object_type.as_str(), path.property.as_str(), path.steps.as_slice()) {
            ("ipv4-addr" | "ipv6-addr", "value", []) => KeyKind::Ip,
            ("domain-name" | "email-addr", "value", []) => KeyKind::Lower,
            (_, "hashes", [PathStep::Key(_)]) => KeyKind::Hash,
            (_, p, [PathStep::Key(k)]) if is_ref(p) && k == "value" => KeyKind::Ip,
            (_, p, [PathStep::AnyIndex | PathStep::Index(_), PathStep::Key(k)]) if is_ref(p) && k == "value" => {
                KeyKind::Ip
            }
            _ => KeyKind::Exact,
        }
    }
}

/// Appends the key of a text value (a hash that is not hex is still a key: its
/// lower-case text; a reference's value that is no address, its lower-case text).
pub(crate) fn text_key(kind: KeyKind, s: &str, out: &mut Vec<u8>) {
    match kind {
        KeyKind::Ip => match s.parse::<IpAddr>() {
            Ok(a) => ip_key(a, out),
            Err(_) => lower(s, out),
        },
        KeyKind::Lower => lower(s, out),
        KeyKind::Hash => {
            if s.len().is_multiple_of(2) && !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push(TAG_HEX);
                out.extend(s.as_bytes().chunks(2).map(|p| (hex_digit(p[0]) << 4) | hex_digit(p[1])));
            } else {
                lower(s, out)
            }
        }
        KeyKind::Exact => {
            out.push(TAG_TEXT);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// A value as the index compares it, as text: addresses canonical, other non-exact
/// kinds in lower case. Used where values are compared as text (the matcher).
pub(crate) fn normalised(kind: KeyKind, s: &str) -> String {
    match kind {
        KeyKind::Exact => s.to_owned(),
        KeyKind::Ip => match s.parse::<IpAddr>() {
            Ok(a) => a.to_string(),
            Err(_) => s.to_lowercase(),
        },
        KeyKind::Lower | KeyKind::Hash => s.to_lowercase(),
    }
}

fn lower(s: &str, out: &mut Vec<u8>) {
    out.push(TAG_TEXT);
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        out.extend_from_slice(s.to_lowercase().as_bytes());
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn hex_digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// The key of an address (what [`text_key`] makes of its text on an `Ip` path).
pub(crate) fn ip_key(a: IpAddr, out: &mut Vec<u8>) {
    match a {
        IpAddr::V4(a) => {
            out.push(TAG_IP4);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.push(TAG_IP6);
            out.extend_from_slice(&a.octets());
        }
    }
}

pub(crate) fn int_key(i: i128, out: &mut Vec<u8>) {
    out.push(TAG_INT);
    out.extend_from_slice(i.to_string().as_bytes());
}

pub(crate) fn bool_key(b: bool, out: &mut Vec<u8>) {
    out.push(TAG_BOOL);
    out.push(u8::from(b));
}

/// A network literal (`a.b.c.d/n`, `x::/n`); a host prefix (`/32`, `/128`) is `None`:
/// it is the address itself.
pub(crate) fn network(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len < max).then_some((addr, len))
}

/// The key of the network of `addr` with prefix `len`.
pub(crate) fn net_key(addr: IpAddr, len: u8, out: &mut Vec<u8>) {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a) & mask32(len);
            out.push(TAG_NET4);
            out.push(len);
            out.extend_from_slice(&bits.to_be_bytes());
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a) & mask128(len);
            out.push(TAG_NET6);
            out.push(len);
            out.extend_from_slice(&bits.to_be_bytes());
        }
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// [`key_text`] as a JSON string, written directly: addresses and hex need no escaping
/// and no intermediate string.
pub(crate) fn write_key_json(key: &[u8], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let (tag, rest) = key.split_first().expect("keys are never empty");
    match *tag {
        TAG_IP4 => {
            // `"255.255.255.255"` at most; formatted by hand, this runs per match.
            let mut buf = [0u8; 17];
            let mut n = 0;
            let mut put = |b: u8| {
                buf[n] = b;
                n += 1;
            };
            put(b'"');
            for (i, &o) in rest[..4].iter().enumerate() {
                if i > 0 {
                    put(b'.');
                }
                if o >= 100 {
                    put(b'0' + o / 100);
                }
                if o >= 10 {
                    put(b'0' + o / 10 % 10);
                }
                put(b'0' + o % 10);
            }
            put(b'"');
            w.write_all(&buf[..n])
        }
        TAG_HEX => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut buf = Vec::with_capacity(rest.len() * 2 + 2);
            buf.push(b'"');
            for b in rest {
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 15)]);
            }
            buf.push(b'"');
            w.write_all(&buf)
        }
        TAG_TEXT => {
            serde_json::to_writer(w, std::str::from_utf8(rest).unwrap_or_default()).map_err(std::io::Error::from)
        }
        _ => serde_json::to_writer(w, &key_text(key)).map_err(std::io::Error::from),
    }
}

/// The text of a key, for reports: what the indicator said, normalised.
pub(crate) fn key_text(key: &[u8]) -> String {
    let (tag, rest) = key.split_first().expect("keys are never empty");
    match *tag {
        TAG_IP4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(rest).expect("4 bytes")).to_string(),
        TAG_IP6 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(rest).expect("16 bytes")).to_string(),
        TAG_NET4 => {
            let a = std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&rest[1..]).expect("4 bytes"));
            format!("{a}/{}", rest[0])
        }
        TAG_NET6 => {
            let a = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&rest[1..]).expect("16 bytes"));
            format!("{a}/{}", rest[0])
        }
        TAG_HEX => rest.iter().map(|b| format!("{b:02x}")).collect(),
        TAG_BOOL => (rest == [1]).to_string(),
        _ => String::from_utf8_lossy(rest).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, ComparisonExpr, ObservationExpr, Version};

    fn path(p: &str) -> ObjectPath {
        let pat = parse(&format!("[EXISTS {p}]"), Version::V21).unwrap();
        match pat.expr {
            ObservationExpr::Observation(ComparisonExpr::Comparison(c)) => c.path,
            _ => unreachable!(),
        }
    }

    fn key(p: &str, v: &str) -> Vec<u8> {
        let mut out = Vec::new();
        text_key(KeyKind::of(&path(p)), v, &mut out);
        out
    }

    #[test]
    fn kinds_follow_the_path() {
        let table = [
            ("ipv4-addr:value", KeyKind::Ip),
            ("ipv6-addr:value", KeyKind::Ip),
            ("network-traffic:dst_ref.value", KeyKind::Ip),
            ("email-message:to_refs[*].value", KeyKind::Ip),
            ("domain-name:value", KeyKind::Lower),
            ("email-addr:value", KeyKind::Lower),
            ("file:hashes.'SHA-256'", KeyKind::Hash),
            ("artifact:hashes.MD5", KeyKind::Hash),
            ("url:value", KeyKind::Exact),
            ("file:name", KeyKind::Exact),
            ("ipv4-addr:resolves_to_refs[*]", KeyKind::Exact),
        ];
        for (p, want) in table {
            assert_eq!(KeyKind::of(&path(p)), want, "{p}");
        }
    }

    #[test]
    fn equal_values_share_a_key() {
        let same = [
            ("ipv6-addr:value", "2001:db8::1", "2001:0DB8:0:0::1"),
            ("domain-name:value", "Example.COM", "example.com"),
            ("file:hashes.'SHA-256'", "ABCDEF01", "abcdef01"),
            ("network-traffic:dst_ref.value", "Evil.example", "evil.example"),
            ("network-traffic:dst_ref.value", "10.0.0.1", "10.0.0.1"),
        ];
        for (p, a, b) in same {
            assert_eq!(key(p, a), key(p, b), "{p}: {a} vs {b}");
        }
        let differ = [
            ("url:value", "http://a/X", "http://a/x"),
            ("file:name", "A.exe", "a.exe"),
            ("ipv4-addr:value", "10.0.0.1", "10.0.0.2"),
        ];
        for (p, a, b) in differ {
            assert_ne!(key(p, a), key(p, b), "{p}: {a} vs {b}");
        }
        // Hashes are stored as bytes, half their text.
        assert_eq!(key("file:hashes.'SHA-256'", &"ab".repeat(32)).len(), 33);
    }

    #[test]
    fn networks_are_masked_and_printable() {
        assert_eq!(network("10.1.2.3/8"), Some(("10.1.2.3".parse().unwrap(), 8)));
        assert_eq!(network("10.1.2.3/32"), None);
        assert_eq!(network("10.1.2.3/33"), None);
        assert_eq!(network("10.1.2.3"), None);
        let mut a = Vec::new();
        net_key("10.1.2.3".parse().unwrap(), 8, &mut a);
        let mut b = Vec::new();
        net_key("10.9.9.9".parse().unwrap(), 8, &mut b);
        assert_eq!(a, b);
        assert_eq!(key_text(&a), "10.0.0.0/8");
        let mut c = Vec::new();
        net_key("2001:db8:ffff::1".parse().unwrap(), 32, &mut c);
        assert_eq!(key_text(&c), "2001:db8::/32");
        assert_eq!(key_text(&key("file:hashes.MD5", "ABCD")), "abcd");
        assert_eq!(key_text(&key("ipv6-addr:value", "2001:0db8::0001")), "2001:db8::1");
        // The direct JSON writer says the same as the text.
        let keys = [
            key("ipv4-addr:value", "198.51.100.7"),
            key("ipv4-addr:value", "0.0.0.0"),
            key("ipv4-addr:value", "10.99.100.255"),
            key("ipv6-addr:value", "2001:db8::1"),
            key("file:hashes.MD5", "ABCD"),
            key("url:value", "http://a/\"q\"\u{e9}"),
            key("domain-name:value", "Évil.example"),
            c,
        ];
        for k in keys {
            let mut out = Vec::new();
            write_key_json(&k, &mut out).unwrap();
            assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), key_text(&k));
        }
    }
}
