use std::net::IpAddr;

use serde_json::json;

use super::*;
use crate::mmdb_writer::MmdbWriter;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A GeoIP2-City-shaped fixture, an ASN fixture and an ip-location-db country fixture.
fn fixtures(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut city = MmdbWriter::new("GeoIP2-City");
    city.insert(
        ip("81.2.69.0"),
        24,
        &json!({
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom", "de": "Vereinigtes Königreich"}},
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
            "city": {"names": {"en": "London"}},
            "location": {"latitude": 51.5142, "longitude": -0.0931},
        }),
    );
    city.insert(
        ip("81.2.69.160"),
        27,
        &json!({
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "city": {"names": {"en": "Islington"}},
            "location": {"latitude": 51.5333, "longitude": -0.1},
        }),
    );
    city.insert(ip("2001:db8::"), 32, &json!({"country": {"iso_code": "DE", "names": {"en": "Germany"}}}));
    let mut asn = MmdbWriter::new("GeoLite2-ASN");
    asn.insert(
        ip("81.2.64.0"),
        19,
        &json!({"autonomous_system_number": 20712, "autonomous_system_organization": "Andrews & Arnold Ltd"}),
    );
    asn.insert(
        ip("1.1.1.0"),
        24,
        &json!({"autonomous_system_number": 13335, "autonomous_system_organization": "CLOUDFLARENET"}),
    );
    let mut country = MmdbWriter::new("geo-whois-asn-country");
    country.insert(ip("1.1.1.0"), 24, &json!({"country_code": "AU"}));
    let paths = vec![dir.join("city.mmdb"), dir.join("asn.mmdb"), dir.join("country.mmdb")];
    for (p, w) in paths.iter().zip([city, asn, country]) {
        std::fs::write(p, w.build()).unwrap();
    }
    paths
}

#[test]
fn databases_combine_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let g = GeoIp::open(&fixtures(dir.path())).unwrap();
    let london = g.lookup(ip("81.2.69.142")).unwrap();
    assert_eq!(
        london,
        Geo {
            ip: "81.2.69.142".into(),
            country_iso: Some("GB".into()),
            country_name: Some("United Kingdom".into()),
            region: Some("England".into()),
            city: Some("London".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            asn: Some(20712),
            as_org: Some("Andrews & Arnold Ltd".into()),
        }
    );
    // The narrower network wins inside the wider one.
    assert_eq!(g.lookup(ip("81.2.69.170")).unwrap().city.as_deref(), Some("Islington"));
    // ASN from one file, the country code from another layout.
    let one = g.lookup(ip("1.1.1.1")).unwrap();
    assert_eq!((one.country_iso.as_deref(), one.asn), (Some("AU"), Some(13335)));
    assert_eq!(one.country_name.as_deref(), Some("Australia"), "from the ISO 3166 table: the database has codes only");
    assert_eq!(g.lookup(ip("2001:db8::1")).unwrap().country_iso.as_deref(), Some("DE"));
    assert_eq!(g.lookup(ip("192.0.2.1")), None);
    assert_eq!(g.describe()[0].1, "GeoIP2-City");
}

#[test]
fn a_replaced_file_is_reloaded_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let paths = fixtures(dir.path());
    let g = GeoIp::open(&paths).unwrap();
    assert_eq!(g.lookup(ip("1.1.1.1")).unwrap().asn, Some(13335));
    let mut asn = MmdbWriter::new("GeoLite2-ASN");
    asn.insert(
        ip("1.1.1.0"),
        24,
        &json!({"autonomous_system_number": 64500, "autonomous_system_organization": "Example"}),
    );
    // Replaced by rename, as geoipupdate does; the check runs at most once a second.
    let tmp = dir.path().join("asn.mmdb.new");
    std::fs::write(&tmp, asn.build()).unwrap();
    std::fs::rename(&tmp, &paths[1]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while g.lookup(ip("1.1.1.1")).unwrap().asn != Some(64500) {
        assert!(std::time::Instant::now() < deadline, "the new database was not picked up");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A broken replacement keeps the last good database in service.
    std::fs::write(&tmp, b"not a database").unwrap();
    std::fs::rename(&tmp, &paths[1]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(g.lookup(ip("1.1.1.1")).unwrap().asn, Some(64500));
}

#[test]
fn a_missing_or_broken_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = GeoIp::open(&[dir.path().join("nope.mmdb")]).err().unwrap().to_string();
    assert!(e.contains("nope.mmdb"), "{e}");
    std::fs::write(dir.path().join("bad.mmdb"), b"garbage").unwrap();
    let e = GeoIp::open(&[dir.path().join("bad.mmdb")]).err().unwrap().to_string();
    assert!(e.contains("bad.mmdb"), "{e}");
}

#[test]
fn addresses_of_objects() {
    let table = [
        (json!({"type": "ipv4-addr", "value": "198.51.100.7"}), vec!["198.51.100.7"]),
        (json!({"type": "ipv4-addr", "value": "198.51.100.0/24"}), vec!["198.51.100.0"]),
        (json!({"type": "ipv6-addr", "value": "2001:db8::1/32"}), vec!["2001:db8::"]),
        (
            json!({"type": "indicator", "spec_version": "2.1", "pattern_type": "stix",
                   "pattern": "[ipv4-addr:value = '203.0.113.5' OR ipv4-addr:value = '10.1.2.3/8'] AND [network-traffic:dst_ref.value = '2001:db8::9'] AND [domain-name:value = 'x.example']"}),
            vec!["10.0.0.0", "203.0.113.5", "2001:db8::9"],
        ),
        (json!({"type": "indicator", "pattern_type": "sigma", "pattern": "[ipv4-addr:value = '1.2.3.4']"}), vec![]),
        (json!({"type": "ipv4-addr", "value": "not an address"}), vec![]),
        (json!({"type": "malware", "name": "1.2.3.4"}), vec![]),
    ];
    for (obj, want) in table {
        let got: Vec<String> = addresses(&obj).iter().map(ToString::to_string).collect();
        assert_eq!(got, want, "{obj}");
    }
}

#[test]
fn domains_of_objects() {
    let table = [
        (json!({"type": "domain-name", "value": "WWW.Example.COM."}), vec!["www.example.com"]),
        (json!({"type": "url", "value": "https://user@cdn.evil.example:8443/a?b#c"}), vec!["cdn.evil.example"]),
        (json!({"type": "url", "value": "http://198.51.100.7/x"}), vec![]),
        (json!({"type": "url", "value": "http://[2001:db8::1]/x"}), vec![]),
        (json!({"type": "email-addr", "value": "ceo@Phish.example"}), vec!["phish.example"]),
        (
            json!({"type": "indicator", "spec_version": "2.1", "pattern_type": "stix",
                   "pattern": "[domain-name:value = 'a.example' OR url:value = 'http://b.example/x'] AND [email-addr:value = 'x@c.example'] AND [ipv4-addr:value = '1.2.3.4']"}),
            vec!["a.example", "b.example", "c.example"],
        ),
        (json!({"type": "malware", "name": "a.example"}), vec![]),
    ];
    for (obj, want) in table {
        assert_eq!(domains(&obj), want, "{obj}");
    }
}

/// libmaxminddb's `mmdblookup`, and a real database, when the test command provides them
/// (`scripts/test` does); with `CI` set their absence is a failure, not a skip.
fn oracle() -> Option<(String, Option<std::path::PathBuf>)> {
    let tool = std::env::var("MMDBLOOKUP").ok().filter(|t| std::path::Path::new(t).exists());
    let db = std::env::var_os("CAIRN_TEST_MMDB").map(std::path::PathBuf::from).filter(|p| p.exists());
    match tool {
        Some(t) => Some((t, db)),
        None if std::env::var_os("CI").is_some() => panic!("MMDBLOOKUP is not set: run the tests through scripts/test"),
        None => {
            eprintln!("skipped: MMDBLOOKUP not set (scripts/test sets it)");
            None
        }
    }
}

/// What `mmdblookup --file DB --ip IP PATH…` prints as a string value, if anything.
fn mmdblookup(tool: &str, db: &std::path::Path, addr: &str, path: &[&str]) -> Option<String> {
    let out = std::process::Command::new(tool).arg("--file").arg(db).arg("--ip").arg(addr).args(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find('"')?;
    let end = text[start + 1..].find('"')? + start + 1;
    Some(text[start + 1..end].to_string())
}

#[test]
fn our_fixtures_read_the_same_in_libmaxminddb() {
    let Some((tool, _)) = oracle() else { return };
    let dir = tempfile::tempdir().unwrap();
    let paths = fixtures(dir.path());
    let table: &[(&str, &[&str], Option<&str>)] = &[
        ("81.2.69.142", &["city", "names", "en"], Some("London")),
        ("81.2.69.170", &["city", "names", "en"], Some("Islington")),
        ("81.2.69.142", &["subdivisions", "0", "names", "en"], Some("England")),
        ("2001:db8::1", &["country", "iso_code"], Some("DE")),
        ("192.0.2.1", &["country", "iso_code"], None),
    ];
    for (addr, path, want) in table {
        assert_eq!(mmdblookup(&tool, &paths[0], addr, path).as_deref(), *want, "{addr} {path:?}");
    }
    assert_eq!(
        mmdblookup(&tool, &paths[1], "1.1.1.9", &["autonomous_system_organization"]).as_deref(),
        Some("CLOUDFLARENET")
    );
}

#[test]
fn a_real_database_agrees_with_libmaxminddb() {
    let Some((tool, db)) = oracle() else { return };
    let Some(db) = db else {
        assert!(std::env::var_os("CI").is_none(), "CAIRN_TEST_MMDB is not set: run the tests through scripts/test");
        eprintln!("skipped: CAIRN_TEST_MMDB not set");
        return;
    };
    let g = GeoIp::open(std::slice::from_ref(&db)).unwrap();
    // Spread over the address space: 200 IPv4 and 40 IPv6 addresses.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut addrs: Vec<IpAddr> = (0..200).map(|_| IpAddr::V4((next() as u32).into())).collect();
    addrs.extend(
        (0..40).map(|_| IpAddr::V6(((0x2000u128 << 112) | u128::from(next()) << 64 | u128::from(next())).into())),
    );
    let mut known = 0;
    for a in addrs {
        let ours = g.lookup(a).and_then(|geo| geo.country_iso);
        let theirs = mmdblookup(&tool, &db, &a.to_string(), &["country_code"]);
        known += usize::from(theirs.is_some());
        assert_eq!(ours, theirs, "{a}");
    }
    assert!(known > 100, "most sampled addresses have a country ({known})");
}
