//! GeoIP: country, region, city, coordinates and autonomous system for an address, from
//! any combination of MaxMind-format databases (GeoIP2/GeoLite2 Country, City and ASN,
//! DB-IP and ip-location-db layouts), memory-mapped, reloaded when a file is replaced.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use maxminddb::{Mmap, Reader};
use serde::{Deserialize, Serialize};

/// What the databases say about one address. Absent fields: no database knew.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    pub ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_iso: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
}

impl Geo {
    fn is_empty(&self) -> bool {
        *self == Geo { ip: self.ip.clone(), ..Geo::default() }
    }
}

/// The fields this reader takes from a record, in the layouts it knows: GeoIP2/GeoLite2
/// and DB-IP (`country.iso_code`, `city.names`, `subdivisions`, `location`,
/// `autonomous_system_*`) and ip-location-db (`country_code`).
#[derive(Deserialize, Default)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Place<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<Place<'a>>,
    #[serde(borrow, default)]
    city: Option<Place<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Place<'a>>>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Place<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    names: Option<BTreeMap<&'a str, &'a str>>,
}

impl<'a> Place<'a> {
    fn english(&self) -> Option<&'a str> {
        self.names.as_ref().and_then(|n| n.get("en").copied())
    }
}

#[derive(Deserialize, Default)]
struct Location {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot open GeoIP database {path}: {reason}")]
    Open { path: String, reason: String },
}

/// Identifies the file behind a path, so a replaced file is noticed.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

struct Loaded {
    reader: Arc<Reader<Mmap>>,
    stamp: Option<(SystemTime, u64)>,
}

/// One database file.
struct Database {
    path: PathBuf,
    loaded: RwLock<Loaded>,
    /// When the file was last looked at (seconds since the epoch).
    checked: AtomicU64,
}

fn open(path: &Path) -> Result<Loaded, GeoError> {
    let stamp = stamp(path);
    // SAFETY: the file is mapped read-only. Databases are replaced by writing a new file
    // and renaming it over the old one (geoipupdate does this); the old mapping keeps the
    // old inode alive, and the change of modification time makes this reader reopen the
    // path. A file rewritten in place while mapped is not supported (documented).
    let reader = unsafe { Reader::open_mmap(path) }
        .map_err(|e| GeoError::Open { path: path.display().to_string(), reason: e.to_string() })?;
    Ok(Loaded { reader: Arc::new(reader), stamp })
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Database {
    /// The current reader, reopening the file at most once a second when it changed. A
    /// replacement that cannot be opened keeps the old database in service.
    fn reader(&self) -> Arc<Reader<Mmap>> {
        let now = now_secs();
        if self.checked.swap(now, Ordering::Relaxed) != now {
            let current = self.loaded.read().expect("geoip lock").stamp;
            let on_disk = stamp(&self.path);
            if on_disk.is_some() && on_disk != current {
                if let Ok(fresh) = open(&self.path) {
                    *self.loaded.write().expect("geoip lock") = fresh;
                }
            }
        }
        self.loaded.read().expect("geoip lock").reader.clone()
    }
}

/// Several databases, asked in the order given; the first that knows a field answers it.
pub struct GeoIp {
    dbs: Vec<Database>,
}

impl GeoIp {
    pub fn open(paths: &[PathBuf]) -> Result<GeoIp, GeoError> {
        let mut dbs = Vec::with_capacity(paths.len());
        for p in paths {
            dbs.push(Database { path: p.clone(), loaded: RwLock::new(open(p)?), checked: AtomicU64::new(now_secs()) });
        }
        Ok(GeoIp { dbs })
    }

    /// The databases' types (their metadata's `database_type`), for status displays.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.dbs.iter().map(|d| (d.path.display().to_string(), d.reader().metadata.database_type.clone())).collect()
    }

    /// What the databases know of `ip`; `None` when none has anything.
    pub fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        let mut g = Geo { ip: ip.to_string(), ..Geo::default() };
        for db in &self.dbs {
            let reader = db.reader();
            // An IPv6 address in an IPv4-only database is simply unknown there.
            let Ok(found) = reader.lookup(ip) else { continue };
            let Ok(Some(r)) = found.decode::<Record<'_>>() else { continue };
            let country = r.country.as_ref().or(r.registered_country.as_ref());
            fill(&mut g.country_iso, country.and_then(|c| c.iso_code).or(r.country_code));
            fill(&mut g.country_name, country.and_then(Place::english));
            fill(&mut g.region, r.subdivisions.as_ref().and_then(|s| s.first()).and_then(Place::english));
            fill(&mut g.city, r.city.as_ref().and_then(Place::english));
            if g.latitude.is_none() {
                if let Some(l) = &r.location {
                    g.latitude = l.latitude;
                    g.longitude = l.longitude;
                }
            }
            if g.asn.is_none() {
                g.asn = r.autonomous_system_number;
            }
            fill(&mut g.as_org, r.autonomous_system_organization);
        }
        // Databases with codes only (ip-location-db) still give a name.
        if g.country_name.is_none() {
            g.country_name = g.country_iso.as_deref().and_then(crate::countries::country_name).map(str::to_string);
        }
        (!g.is_empty()).then_some(g)
    }
}

fn fill(slot: &mut Option<String>, v: Option<&str>) {
    if slot.is_none() {
        *slot = v.map(str::to_string);
    }
}
