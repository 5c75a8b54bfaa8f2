//! Field mappings: which fields of a log event are which STIX observables.
//!
//! A mapping lists rules `field → target`. Fields are dotted paths into the event
//! (`source.ip` reads `{"source":{"ip":…}}` and `{"source.ip":…}` alike; arrays give
//! each element). Targets are object paths (`network-traffic:dst_ref.value`,
//! `file:hashes.'SHA-256'`), or `ip` (an `ipv4-addr` or `ipv6-addr` value, by the
//! value's syntax) or `hash` (a `file` hash, the algorithm told by the length: MD5,
//! SHA-1, SHA-256, SHA-512). A rule can `split` a field on a separator (DnsEvents'
//! `IPAddresses`), `extract` addresses or URLs from free text (Syslog's message), and
//! `lower`-case it.
//!
//! Built in: `ecs` (Elastic Common Schema), `cef` (Sentinel's `CommonSecurityLog`),
//! `dns` (`DnsEvents`), `syslog` (`Syslog`) and `asim` (the ASIM normalised schemas).
//! A user mapping is a JSON file of the same shape ([`MappingFile`]).
//!
//! Reading an event walks its JSON once ([`super::scan`]), following only mapped keys
//! (everything else is only checked) and borrowing strings from the line.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use cairn_pattern::index::{Event, FieldValue, Target};
use regex::Regex;
use serde::Deserialize;

/// A user mapping file (JSON).
///
/// ```json
/// {"timestamp": ["ts", "@timestamp"],
///  "fields": [
///    {"field": "src", "target": "network-traffic:src_ref.value"},
///    {"field": "dst", "target": "ip"},
///    {"field": "sha", "target": "hash"},
///    {"field": "msg", "target": "ip", "extract": "ip"},
///    {"field": "answers", "target": "ip", "split": ","}]}
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// Fields holding the event's time, tried in order: RFC 3339 text, or a number of
    /// seconds (or milliseconds, if above 10^11) since the epoch. Without one, the
    /// time the event is read.
    #[serde(default)]
    pub timestamp: Vec<String>,
    pub fields: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub field: String,
    pub target: String,
    #[serde(default)]
    pub split: Option<String>,
    #[serde(default)]
    pub extract: Option<Extract>,
    #[serde(default)]
    pub lower: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Extract {
    /// IPv4 and IPv6 addresses in text.
    Ip,
    /// `http(s)://…` URLs in text.
    Url,
}

/// Where a rule's values go.
enum Sink {
    Path(Target),
    Ip { v4: Target, v6: Target },
    Hash(Box<[Target; 4]>),
}

struct Rule {
    sink: Sink,
    split: Option<String>,
    extract: Option<Extract>,
    lower: bool,
}

#[derive(Default)]
struct Node {
    /// A list, not a map: a node has a few dozen children at most, and comparing each
    /// one's length and first eight bytes (as a number) settles nearly every key
    /// without hashing it or calling `memcmp`.
    children: Vec<Child>,
    rules: Vec<usize>,
    /// Priority among the timestamp fields (lower first).
    timestamp: Option<usize>,
}

struct Child {
    len: usize,
    head: u64,
    name: Box<str>,
    node: usize,
}

/// The first eight bytes of a key, zero-padded, as a number.
fn head(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_le_bytes(b)
}

impl Node {
    fn child(&self, key: &str) -> Option<usize> {
        let (k, h) = (key.as_bytes(), head(key.as_bytes()));
        self.children
            .iter()
            .find(|c| c.len == k.len() && c.head == h && (k.len() <= 8 || c.name.as_bytes()[8..] == k[8..]))
            .map(|c| c.node)
    }
}

/// A compiled mapping.
pub struct Mapping {
    pub name: String,
    rules: Vec<Rule>,
    nodes: Vec<Node>,
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping").field("name", &self.name).field("rules", &self.rules.len()).finish()
    }
}

/// The built-in mappings' names.
pub const BUILT_IN: &[&str] = &["ecs", "cef", "dns", "syslog", "asim"];

type RuleRow = (&'static str, &'static str);

const ECS: (&[&str], &[RuleRow]) = (
    &["@timestamp", "event.created"],
    &[
        ("source.ip", "network-traffic:src_ref.value"),
        ("destination.ip", "network-traffic:dst_ref.value"),
        ("source.port", "network-traffic:src_port"),
        ("destination.port", "network-traffic:dst_port"),
        ("client.ip", "ip"),
        ("server.ip", "ip"),
        ("host.ip", "ip"),
        ("related.ip", "ip"),
        ("source.domain", "domain-name:value"),
        ("destination.domain", "domain-name:value"),
        ("client.domain", "domain-name:value"),
        ("server.domain", "domain-name:value"),
        ("url.domain", "domain-name:value"),
        ("dns.question.name", "domain-name:value"),
        ("url.full", "url:value"),
        ("url.original", "url:value"),
        ("file.hash.md5", "file:hashes.MD5"),
        ("file.hash.sha1", "file:hashes.'SHA-1'"),
        ("file.hash.sha256", "file:hashes.'SHA-256'"),
        ("file.hash.sha512", "file:hashes.'SHA-512'"),
        ("process.hash.md5", "file:hashes.MD5"),
        ("process.hash.sha1", "file:hashes.'SHA-1'"),
        ("process.hash.sha256", "file:hashes.'SHA-256'"),
        ("process.hash.sha512", "file:hashes.'SHA-512'"),
        ("file.name", "file:name"),
        ("process.command_line", "process:command_line"),
        ("email.from.address", "email-message:from_ref.value"),
        ("email.to.address", "email-message:to_refs[*].value"),
        ("email.subject", "email-message:subject"),
        ("user.name", "user-account:account_login"),
        ("registry.path", "windows-registry-key:key"),
        ("user_agent.original", "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"),
    ],
);

const CEF: (&[&str], &[RuleRow]) = (
    &["TimeGenerated", "ReceiptTime"],
    &[
        ("SourceIP", "network-traffic:src_ref.value"),
        ("DestinationIP", "network-traffic:dst_ref.value"),
        ("SourcePort", "network-traffic:src_port"),
        ("DestinationPort", "network-traffic:dst_port"),
        ("DeviceAddress", "ip"),
        ("SourceTranslatedAddress", "ip"),
        ("DestinationTranslatedAddress", "ip"),
        ("DestinationHostName", "domain-name:value"),
        ("SourceHostName", "domain-name:value"),
        ("RequestURL", "url:value"),
        ("FileHash", "hash"),
        ("FileName", "file:name"),
        ("SourceUserName", "user-account:account_login"),
        ("DestinationUserName", "user-account:account_login"),
        ("RequestClientApplication", "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"),
    ],
);

const DNS: (&[&str], &[RuleRow]) =
    (&["TimeGenerated"], &[("Name", "domain-name:value"), ("ClientIP", "ip"), ("IPAddresses", "ip")]);

const SYSLOG: (&[&str], &[RuleRow]) = (
    &["TimeGenerated", "EventTime"],
    &[("HostIP", "ip"), ("Computer", "domain-name:value"), ("SyslogMessage", "ip"), ("SyslogMessage", "url:value")],
);

const ASIM: (&[&str], &[RuleRow]) = (
    &["TimeGenerated", "EventStartTime"],
    &[
        ("SrcIpAddr", "network-traffic:src_ref.value"),
        ("DstIpAddr", "network-traffic:dst_ref.value"),
        ("SrcPortNumber", "network-traffic:src_port"),
        ("DstPortNumber", "network-traffic:dst_port"),
        ("DvcIpAddr", "ip"),
        ("SrcNatIpAddr", "ip"),
        ("DstNatIpAddr", "ip"),
        ("DnsQuery", "domain-name:value"),
        ("DstDomain", "domain-name:value"),
        ("SrcDomain", "domain-name:value"),
        ("DnsResponseName", "ip"),
        ("Url", "url:value"),
        ("TargetFileMD5", "file:hashes.MD5"),
        ("TargetFileSHA1", "file:hashes.'SHA-1'"),
        ("TargetFileSHA256", "file:hashes.'SHA-256'"),
        ("TargetFileSHA512", "file:hashes.'SHA-512'"),
        ("SrcFileMD5", "file:hashes.MD5"),
        ("SrcFileSHA1", "file:hashes.'SHA-1'"),
        ("SrcFileSHA256", "file:hashes.'SHA-256'"),
        ("SrcFileSHA512", "file:hashes.'SHA-512'"),
        ("TargetFileName", "file:name"),
        ("SrcUsername", "user-account:account_login"),
        ("TargetUsername", "user-account:account_login"),
        ("HttpUserAgent", "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"),
    ],
);

fn built_in(name: &str) -> Option<MappingFile> {
    let (ts, rows) = match name {
        "ecs" => ECS,
        "cef" => CEF,
        "dns" => DNS,
        "syslog" => SYSLOG,
        "asim" => ASIM,
        _ => return None,
    };
    let fields = rows
        .iter()
        .map(|&(field, target)| {
            let mut r =
                RuleFile { field: field.into(), target: target.into(), split: None, extract: None, lower: false };
            match (name, field, target) {
                ("dns", "IPAddresses", _) => r.split = Some(",".into()),
                ("asim", "DnsResponseName", _) => r.extract = Some(Extract::Ip),
                ("syslog", "SyslogMessage", "ip") => r.extract = Some(Extract::Ip),
                ("syslog", "SyslogMessage", _) => r.extract = Some(Extract::Url),
                _ => {}
            }
            r
        })
        .collect();
    Some(MappingFile { timestamp: ts.iter().map(|s| s.to_string()).collect(), fields })
}

impl Mapping {
    /// A built-in mapping by name, or a mapping file by path.
    pub fn load(name_or_path: &str) -> anyhow::Result<Mapping> {
        if let Some(file) = built_in(name_or_path) {
            return Mapping::compile(name_or_path, file);
        }
        let text = std::fs::read_to_string(name_or_path).map_err(|e| {
            anyhow::anyhow!(
                "mapping '{name_or_path}' is neither a built-in mapping ({}) nor a readable file: {e}",
                BUILT_IN.join(", ")
            )
        })?;
        let file: MappingFile = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("mapping file {name_or_path}: {e} (see `cairn match --help` for the format)")
        })?;
        Mapping::compile(name_or_path, file)
    }

    pub fn compile(name: &str, file: MappingFile) -> anyhow::Result<Mapping> {
        let mut m = Mapping { name: name.to_owned(), rules: Vec::new(), nodes: vec![Node::default()] };
        for (i, ts) in file.timestamp.iter().enumerate() {
            let n = m.node(ts);
            m.nodes[n].timestamp.get_or_insert(i);
        }
        for (i, r) in file.fields.iter().enumerate() {
            let t =
                |p: &str| Target::parse(p).map_err(|e| anyhow::anyhow!("mapping {name}, rule {i} ({}): {e}", r.field));
            let sink = match r.target.as_str() {
                "ip" => Sink::Ip { v4: t("ipv4-addr:value")?, v6: t("ipv6-addr:value")? },
                "hash" => Sink::Hash(Box::new([
                    t("file:hashes.MD5")?,
                    t("file:hashes.'SHA-1'")?,
                    t("file:hashes.'SHA-256'")?,
                    t("file:hashes.'SHA-512'")?,
                ])),
                other => Sink::Path(t(other)?),
            };
            let n = m.node(&r.field);
            m.nodes[n].rules.push(m.rules.len());
            m.rules.push(Rule { sink, split: r.split.clone(), extract: r.extract, lower: r.lower });
        }
        Ok(m)
    }

    fn node(&mut self, dotted: &str) -> usize {
        let mut cur = 0;
        for seg in dotted.split('.') {
            cur = match self.nodes[cur].child(seg) {
                Some(n) => n,
                None => {
                    self.nodes.push(Node::default());
                    let n = self.nodes.len() - 1;
                    let child = Child { len: seg.len(), head: head(seg.as_bytes()), name: seg.into(), node: n };
                    self.nodes[cur].children.push(child);
                    n
                }
            };
        }
        cur
    }

    /// Reads one event (a JSON object) into `event`, borrowing from `line`. `now` is
    /// the time used when the event has none.
    pub fn read<'m, 'l>(&'m self, line: &'l str, now: i64, event: &mut Event<'m>) -> Result<(), String>
    where
        'l: 'm,
    {
        event.fields.clear();
        let mut walk = Walk { m: self, fields: &mut event.fields, time: None };
        super::scan::read(line, &mut walk)?;
        event.time = walk.time.and_then(|(_, t)| t).unwrap_or(now);
        Ok(())
    }

    fn emit<'m>(&'m self, rule: &'m Rule, value: FieldValue<'m>, out: &mut Vec<(&'m Target, FieldValue<'m>)>) {
        let FieldValue::Str(s) = value else {
            if let Sink::Path(t) = &rule.sink {
                out.push((t, value));
            }
            return;
        };
        let s = if rule.lower { Cow::Owned(s.to_lowercase()) } else { s };
        if rule.split.is_none() && rule.extract.is_none() {
            // The common case, without a list of pieces.
            return self.sink(rule, s, out);
        }
        let mut pieces: Vec<Cow<'m, str>> = Vec::new();
        match &rule.split {
            Some(sep) => pieces.extend(s.split(sep.as_str()).map(|p| Cow::Owned(p.trim().to_owned()))),
            None => pieces.push(s),
        }
        for piece in pieces {
            match rule.extract {
                Some(Extract::Ip) => {
                    for m in IP_IN_TEXT.find_iter(&piece) {
                        if m.as_str().parse::<std::net::IpAddr>().is_ok() {
                            self.sink(rule, Cow::Owned(m.as_str().to_owned()), out);
                        }
                    }
                }
                Some(Extract::Url) => {
                    for m in URL_IN_TEXT.find_iter(&piece) {
                        self.sink(rule, Cow::Owned(m.as_str().to_owned()), out);
                    }
                }
                None => self.sink(rule, piece, out),
            }
        }
    }

    fn sink<'m>(&'m self, rule: &'m Rule, s: Cow<'m, str>, out: &mut Vec<(&'m Target, FieldValue<'m>)>) {
        if s.is_empty() {
            return;
        }
        let target = match &rule.sink {
            Sink::Path(t) => t,
            Sink::Ip { v4, v6 } => match s.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(_)) => v4,
                Ok(std::net::IpAddr::V6(_)) => v6,
                Err(_) => return,
            },
            // MD5, SHA-1, SHA-256, SHA-512 by length.
            Sink::Hash(targets) => match s.len() {
                32 => &targets[0],
                40 => &targets[1],
                64 => &targets[2],
                128 => &targets[3],
                _ => return,
            },
        };
        out.push((target, FieldValue::Str(s)));
    }
}

static IP_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4})*\b")
        .expect("a valid regex")
});
static URL_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"https?://[^\s"'<>]+"#).expect("a valid regex"));

/// What reading an event gathers: its fields, as the mapping's rules make them from
/// values in the order they come, and its time.
struct Walk<'m, 'f> {
    m: &'m Mapping,
    fields: &'f mut Vec<(&'m Target, FieldValue<'m>)>,
    /// (priority, parsed time) of the best timestamp field seen.
    time: Option<(usize, Option<i64>)>,
}

impl<'m> super::scan::Visit<'m> for Walk<'m, '_> {
    /// A key with dots is a path (`{"source.ip": …}` reads as `{"source": {"ip": …}}`).
    fn child(&self, node: usize, key: &str) -> Option<usize> {
        let nodes = &self.m.nodes;
        if !key.as_bytes().contains(&b'.') {
            return nodes[node].child(key);
        }
        key.split('.').try_fold(node, |n, seg| nodes[n].child(seg))
    }

    fn scalar(&mut self, node: usize, v: FieldValue<'m>) {
        let node = &self.m.nodes[node];
        if let Some(p) = node.timestamp {
            if self.time.is_none_or(|(q, t)| p < q || t.is_none()) {
                if let Some(t) = parse_time(&v) {
                    self.time = Some((p, Some(t)));
                }
            }
        }
        for &r in &node.rules {
            self.m.emit(&self.m.rules[r], v.clone(), self.fields);
        }
    }
}

/// An event time: RFC 3339 text (`Z` or an offset; `T` or a space; any fraction), or
/// seconds since the epoch (milliseconds when above 10^11).
pub fn parse_time(v: &FieldValue<'_>) -> Option<i64> {
    match v {
        FieldValue::Str(s) => parse_rfc3339(s),
        FieldValue::Int(i) if i.abs() > 100_000_000_000 => i.checked_mul(1_000),
        FieldValue::Int(i) => i.checked_mul(1_000_000),
        FieldValue::Float(f) if f.abs() > 1e11 => Some((f * 1_000.0) as i64),
        FieldValue::Float(f) => Some((f * 1_000_000.0) as i64),
        FieldValue::Bool(_) => None,
    }
}

// Hand-rolled rather than chrono's `parse_from_rfc3339`: it runs once per event on
// `cairn match`'s hot path, needs no allocation or calendar validation beyond field
// ranges, and also takes the space-separated form many log shippers write.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')))
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start).min(6)..6 {
            micros *= 10;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        None => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec - offset) * 1_000_000) + micros)
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'m>(m: &'m Mapping, line: &'m str) -> Vec<(String, String)> {
        let mut ev = Event { time: 0, fields: Vec::new() };
        m.read(line, 7, &mut ev).unwrap();
        ev.fields
            .iter()
            .map(|(t, v)| {
                let v = match v {
                    FieldValue::Str(s) => s.to_string(),
                    FieldValue::Int(i) => i.to_string(),
                    other => format!("{other:?}"),
                };
                (t.text.clone(), v)
            })
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn built_in_mappings_read_their_schemas() {
        let sha = "a".repeat(64);
        let sha1 = "b".repeat(40);
        type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);
        let table: Vec<Case<'_>> = vec![
            (
                "ecs",
                r#"{"@timestamp":"2026-11-22T10:00:00Z","source":{"ip":"10.0.0.1","port":5555},"destination.ip":"198.51.100.7","destination":{"port":443},"host":{"ip":["192.0.2.1","2001:db8::1"],"name":"x"},"message":"ignored"}"#.to_string(),
                vec![
                    ("network-traffic:src_ref.value", "10.0.0.1"),
                    ("network-traffic:src_port", "5555"),
                    ("network-traffic:dst_ref.value", "198.51.100.7"),
                    ("network-traffic:dst_port", "443"),
                    ("ipv4-addr:value", "192.0.2.1"),
                    ("ipv6-addr:value", "2001:db8::1"),
                ],
            ),
            (
                "ecs",
                format!(r#"{{"url":{{"full":"http://evil.example/a","domain":"evil.example"}},"file":{{"hash":{{"sha256":"{sha}"}}}}}}"#),
                vec![("url:value", "http://evil.example/a"), ("domain-name:value", "evil.example"), ("file:hashes.'SHA-256'", &sha)],
            ),
            (
                "cef",
                format!(r#"{{"TimeGenerated":"2026-11-22T10:00:00.5Z","SourceIP":"10.0.0.1","DestinationIP":"203.0.113.9","RequestURL":"http://a/b","FileHash":"{}","DestinationHostName":"evil.example"}}"#, "b".repeat(40)),
                vec![
                    ("network-traffic:src_ref.value", "10.0.0.1"),
                    ("network-traffic:dst_ref.value", "203.0.113.9"),
                    ("url:value", "http://a/b"),
                    ("file:hashes.'SHA-1'", &sha1),
                    ("domain-name:value", "evil.example"),
                ],
            ),
            (
                "dns",
                r#"{"TimeGenerated":"2026-11-22T10:00:00Z","Name":"evil.example","ClientIP":"10.0.0.9","IPAddresses":"198.51.100.1, 198.51.100.2"}"#.into(),
                vec![
                    ("domain-name:value", "evil.example"),
                    ("ipv4-addr:value", "10.0.0.9"),
                    ("ipv4-addr:value", "198.51.100.1"),
                    ("ipv4-addr:value", "198.51.100.2"),
                ],
            ),
            (
                "syslog",
                r#"{"TimeGenerated":"2026-11-22T10:00:00Z","HostIP":"10.0.0.2","SyslogMessage":"Failed password from 203.0.113.77 port 22, see https://x.example/p?q=1 or 999.1.1.1"}"#.into(),
                vec![
                    ("ipv4-addr:value", "10.0.0.2"),
                    ("ipv4-addr:value", "203.0.113.77"),
                    ("url:value", "https://x.example/p?q=1"),
                ],
            ),
            (
                "asim",
                r#"{"TimeGenerated":"2026-11-22T10:00:00Z","SrcIpAddr":"10.0.0.1","DstIpAddr":"198.51.100.7","DstPortNumber":443,"DnsQuery":"evil.example","Url":"http://evil.example/x"}"#.into(),
                vec![
                    ("network-traffic:src_ref.value", "10.0.0.1"),
                    ("network-traffic:dst_ref.value", "198.51.100.7"),
                    ("network-traffic:dst_port", "443"),
                    ("domain-name:value", "evil.example"),
                    ("url:value", "http://evil.example/x"),
                ],
            ),
        ];
        for (name, line, want) in table {
            let m = Mapping::load(name).unwrap();
            assert_eq!(read(&m, &line), pairs(&want), "{name}: {line}");
        }
    }

    #[test]
    fn times_are_read_in_every_common_form() {
        let m = Mapping::load("ecs").unwrap();
        let table = [
            (r#"{"@timestamp":"2026-11-22T10:00:00Z"}"#, 1_795_341_600_000_000),
            (r#"{"@timestamp":"2026-11-22T10:00:00.123456789Z"}"#, 1_795_341_600_123_456),
            (r#"{"@timestamp":"2026-11-22 11:00:00+01:00"}"#, 1_795_341_600_000_000),
            (r#"{"@timestamp":"2026-11-22T10:00:00.5-00:30"}"#, 1_795_343_400_500_000),
            (r#"{"@timestamp":1795341600}"#, 1_795_341_600_000_000),
            (r#"{"@timestamp":1795341600123}"#, 1_795_341_600_123_000),
            (r#"{"event":{"created":"2026-11-22T10:00:00Z"}}"#, 1_795_341_600_000_000),
            (r#"{"@timestamp":"yesterday"}"#, 7),
            (r#"{}"#, 7),
        ];
        for (line, want) in table {
            let mut ev = Event { time: 0, fields: Vec::new() };
            m.read(line, 7, &mut ev).unwrap();
            assert_eq!(ev.time, want, "{line}");
        }
    }

    #[test]
    fn bad_lines_and_bad_files_say_what_is_wrong() {
        let m = Mapping::load("ecs").unwrap();
        let mut ev = Event { time: 0, fields: Vec::new() };
        for bad in ["[1,2]", "\"x\"", "{\"a\":", "{} {}", "nope"] {
            assert!(m.read(bad, 0, &mut ev).is_err(), "{bad}");
        }
        let e = Mapping::load("no-such-mapping").unwrap_err().to_string();
        assert!(e.contains("ecs, cef, dns, syslog, asim"), "{e}");
        let file = MappingFile {
            timestamp: vec![],
            fields: vec![RuleFile {
                field: "a".into(),
                target: "not a path".into(),
                split: None,
                extract: None,
                lower: false,
            }],
        };
        let e = Mapping::compile("mine", file).unwrap_err().to_string();
        assert!(e.contains("mapping mine, rule 0 (a)"), "{e}");
    }

    #[test]
    fn user_mappings_are_json_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.json");
        std::fs::write(
            &path,
            r#"{"timestamp":["ts"],"fields":[
                {"field":"src","target":"ip"},
                {"field":"h","target":"hash"},
                {"field":"host","target":"domain-name:value","lower":true},
                {"field":"list","target":"ip","split":";"}]}"#,
        )
        .unwrap();
        let m = Mapping::load(path.to_str().unwrap()).unwrap();
        let line = format!(
            r#"{{"ts":1795341600,"src":"2001:db8::5","h":"{}","host":"EVIL.example","list":"10.0.0.1;bogus;10.0.0.2"}}"#,
            "c".repeat(32)
        );
        assert_eq!(
            read(&m, &line),
            pairs(&[
                ("ipv6-addr:value", "2001:db8::5"),
                ("file:hashes.MD5", &"c".repeat(32)),
                ("domain-name:value", "evil.example"),
                ("ipv4-addr:value", "10.0.0.1"),
                ("ipv4-addr:value", "10.0.0.2"),
            ])
        );
        std::fs::write(&path, r#"{"fields":[{"field":"a","target":"ip","bogus":1}]}"#).unwrap();
        let e = Mapping::load(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("unknown field `bogus`"), "{e}");
    }
}
