//! Enrichment of IP intelligence: where an address is (country, region, city,
//! coordinates) and who announces it (autonomous system), from MaxMind-format databases.
//!
//! Key design decision: offline first. Lookups read memory-mapped database files the
//! admin provides (any mix of country, city and ASN databases, from MaxMind, DB-IP or
//! ip-location-db), so enrichment needs no network, costs microseconds, and a database
//! replaced on disk is picked up without a restart. Enrichment describes an object; it
//! never changes the STIX object or its `modified`.

pub mod countries;
pub mod geoip;
#[doc(hidden)]
pub mod mmdb_writer;

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
            let stix = obj.get("pattern_type").and_then(Value::as_str).is_none_or(|t| t == "stix");
            if let (true, Some(p)) = (stix, obj.get("pattern").and_then(Value::as_str)) {
                let version = obj.get("pattern_version").or_else(|| obj.get("spec_version")).and_then(Value::as_str);
                if let Ok(p) =
                    cairn_pattern::parse(p, cairn_pattern::Version::from_reference_str(version.unwrap_or("2.0")))
                {
                    for o in cairn_pattern::observables(&p) {
                        let addr_key = o.key.starts_with("ipv4-addr:")
                            || o.key.starts_with("ipv6-addr:")
                            || (o.key.starts_with("network-traffic:") && o.key.ends_with("_ref.value"));
                        if addr_key {
                            out.extend(address(&o.value));
                        }
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
