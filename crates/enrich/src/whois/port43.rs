//! Port-43 WHOIS (RFC 3912), for registries without RDAP: ask IANA's WHOIS server which
//! server holds the TLD or address, ask that one, and read the common `key: value`
//! layouts (gTLD, RIPE-style, ARIN-style). Free text, so only well-known keys are read.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use super::{Target, Whois, WhoisError, WhoisRecord};

/// Answers longer than this are cut: enough for any real record.
const MAX_ANSWER: u64 = 1 << 20;

pub(super) fn lookup(w: &Whois, iana: &str, target: &Target) -> Result<WhoisRecord, WhoisError> {
    let first = match target {
        Target::Domain(d) => d.rsplit('.').next().unwrap_or(d).to_string(),
        Target::Ip(ip) => ip.to_string(),
    };
    let referral = ask(w, iana, &first)?;
    let server = value_of(&referral, &["whois", "refer"]).ok_or_else(|| WhoisError::NoService(target.to_string()))?;
    let host = format!("{server}:{}", w.config.whois_port);
    let answer = ask(w, &host, &target.to_string())?;
    let mut r = parse(&answer, target, &host);
    if r == (WhoisRecord {
        query: r.query.clone(),
        protocol: r.protocol.clone(),
        server: r.server.clone(),
        ..Default::default()
    }) {
        let lower = answer.to_ascii_lowercase();
        let absent = ["no match", "not found", "no entries found", "no data found", "no object found"];
        if absent.iter().any(|a| lower.contains(a)) {
            return Err(WhoisError::NotFound { server: host });
        }
        return Err(WhoisError::Invalid { server: host, reason: "no known WHOIS fields in the answer".into() });
    }
    r.query = target.to_string();
    Ok(r)
}

fn ask(w: &Whois, host: &str, query: &str) -> Result<String, WhoisError> {
    w.acquire(host)?;
    let timeout = w.config.timeout;
    let addr = host
        .to_socket_addrs()
        .map_err(|e| w.unreachable(host, host, format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| w.unreachable(host, host, "no address".into()))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| w.unreachable(host, host, io(&e)))?;
    s.set_read_timeout(Some(timeout)).and_then(|_| s.set_write_timeout(Some(timeout))).ok();
    s.write_all(format!("{query}\r\n").as_bytes()).map_err(|e| w.unreachable(host, host, io(&e)))?;
    let mut buf = Vec::new();
    s.take(MAX_ANSWER).read_to_end(&mut buf).map_err(|e| w.unreachable(host, host, io(&e)))?;
    w.succeeded(host);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".into(),
        _ => e.to_string(),
    }
}

/// `key: value` pairs, keys lower-cased; comment lines (`%`, `#`, `>>>`) skipped.
fn pairs(text: &str) -> impl Iterator<Item = (String, &str)> {
    text.lines().filter_map(|l| {
        let l = l.trim();
        if l.starts_with(['%', '#']) || l.starts_with(">>>") {
            return None;
        }
        let (k, v) = l.split_once(':')?;
        let v = v.trim();
        (!v.is_empty()).then(|| (k.trim().to_ascii_lowercase(), v))
    })
}

fn value_of(text: &str, keys: &[&str]) -> Option<String> {
    pairs(text).find(|(k, _)| keys.contains(&k.as_str())).map(|(_, v)| v.to_string())
}

fn parse(text: &str, target: &Target, server: &str) -> WhoisRecord {
    let get = |keys: &[&str]| value_of(text, keys);
    let mut r = WhoisRecord {
        query: target.to_string(),
        protocol: "whois".into(),
        server: server.into(),
        ..Default::default()
    };
    r.created =
        get(&["creation date", "created", "registered", "registered on", "domain registration date", "regdate"]);
    r.expires = get(&[
        "registry expiry date", "registrar registration expiration date", "expiration date", "expiry date", "expires",
        "paid-till", "expire date",
    ]);
    r.updated = get(&["updated date", "last updated", "last-modified", "changed", "last modified", "updated"]);
    r.abuse_email = get(&["registrar abuse contact email", "abuse-mailbox", "orgabuseemail"]);
    match target {
        Target::Domain(_) => {
            r.domain = get(&["domain name", "domain"]).map(|d| d.to_ascii_lowercase());
            r.registrar = get(&["registrar", "registrar name", "sponsoring registrar"]);
            r.registrant_org = get(&["registrant organization", "registrant organisation", "registrant", "org"]);
            r.registrant_country = get(&["registrant country"]);
            let mut ns: Vec<String> = pairs(text)
                .filter(|(k, _)| matches!(k.as_str(), "name server" | "nserver" | "nameserver"))
                .filter_map(|(_, v)| v.split_whitespace().next().map(|s| s.trim_end_matches('.').to_ascii_lowercase()))
                .collect();
            ns.dedup();
            r.name_servers = ns;
        }
        Target::Ip(_) => {
            r.network_name = get(&["netname", "network-name"]);
            r.network_range = get(&["inetnum", "inet6num", "netrange"]);
            r.network_cidrs = get(&["cidr", "route"]).into_iter().collect();
            r.allocation_org = get(&["orgname", "org-name", "organization", "descr"]);
            r.network_country = get(&["country"]);
        }
    }
    r
}
