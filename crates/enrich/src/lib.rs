//! Enrichment of IP and domain intelligence: where an address is (country, region,
//! city, coordinates) and who announces it (autonomous system), from MaxMind-format
//! databases; who registered a domain or holds an address block, over RDAP/WHOIS.
//!
//! Key design decision: offline first. Lookups read memory-mapped database files the
//! admin provides (any mix of country, city and ASN databases, from MaxMind, DB-IP or
//! ip-location-db), so enrichment needs no network, costs microseconds, and a database
//! replaced on disk is picked up without a restart. Enrichment describes an object; it
//! never changes the STIX object or its `modified`. WhoIs is the one part that needs
//! the network; it is opt-in, rate-limited per registry and never on the ingest path.

pub mod countries;
pub mod geoip;
#[doc(hidden)]
pub mod mmdb_writer;
pub mod whois;

use std::net::IpAddr;

use serde_json::Value;

pub use geoip::{Geo, GeoError, GeoIp};

/// The addresses an object is about: an `ipv4-addr`/`ipv6-addr` SCO's value, or the
/// address values a STIX pattern compares with (`ipv4-addr:value`, `ipv6-addr:value`,
/// `network-traffic:src_ref.value`, …). A CIDR counts by its network address.
pub fn addresses(obj: &Value) -> Vec<IpAddr> {
    let mut out = Vec::new();
    match obj.get("type").and_then(Value::as_str) {
        Some("ipv4-addr" | "ipv6-addr") => out.extend(obj.get("value").and_then(Value::as_str).and_then(address)),
        Some("indicator") => {
            for o in indicator_observables(obj) {
                let addr_key = o.key.starts_with("ipv4-addr:")
                    || o.key.starts_with("ipv6-addr:")
                    || (o.key.starts_with("network-traffic:") && o.key.ends_with("_ref.value"));
                if addr_key {
                    out.extend(address(&o.value));
                }
            }
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// The host names an object is about: a `domain-name` SCO's value, the host of a `url`,
/// the domain of an `email-addr`, and the same values in a STIX pattern's comparisons.
pub fn domains(obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let value = |o: &Value| o.get("value").and_then(Value::as_str).map(str::to_string);
    match obj.get("type").and_then(Value::as_str) {
        Some(t @ ("domain-name" | "url" | "email-addr")) => out.extend(value(obj).and_then(|v| host_of(t, &v))),
        Some("indicator") => {
            for o in indicator_observables(obj) {
                for t in ["domain-name", "url", "email-addr"] {
                    if o.key == format!("{t}:value") {
                        out.extend(host_of(t, &o.value));
                    }
                }
            }
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// The equality comparisons of an indicator's STIX pattern (none for other pattern types
/// or a pattern that does not parse).
fn indicator_observables(obj: &Value) -> Vec<cairn_pattern::Observable> {
    let stix = obj.get("pattern_type").and_then(Value::as_str).is_none_or(|t| t == "stix");
    let Some(p) = obj.get("pattern").and_then(Value::as_str).filter(|_| stix) else { return Vec::new() };
    let version = obj.get("pattern_version").or_else(|| obj.get("spec_version")).and_then(Value::as_str);
    cairn_pattern::parse(p, cairn_pattern::Version::from_reference_str(version.unwrap_or("2.0")))
        .map(|p| cairn_pattern::observables(&p))
        .unwrap_or_default()
}

/// The host name in a value of SCO type `t`, lower case; `None` for an address.
fn host_of(t: &str, v: &str) -> Option<String> {
    let host = match t {
        "url" => {
            let rest = v.split_once("://").map_or(v, |(_, r)| r);
            let authority = rest.split(['/', '?', '#']).next()?;
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if host.starts_with('[') {
                return None;
            }
            host.split(':').next()?
        }
        "email-addr" => v.rsplit_once('@')?.1,
        _ => v,
    };
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.parse::<IpAddr>().is_err()).then_some(host)
}

/// An address, or a CIDR's network address.
fn address(s: &str) -> Option<IpAddr> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = ip.trim().parse().ok()?;
    Some(match (ip, prefix) {
        (IpAddr::V4(a), Some(p)) if p <= 32 => {
            IpAddr::V4((u32::from(a) & u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0)).into())
        }
        (IpAddr::V6(a), Some(p)) if p <= 128 => {
            IpAddr::V6((u128::from(a) & u128::MAX.checked_shl(128 - u32::from(p)).unwrap_or(0)).into())
        }
        (_, Some(_)) => return None,
        (ip, None) => ip,
    })
}

#[cfg(test)]
mod tests;
