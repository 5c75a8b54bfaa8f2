//! WhoIs: who registered a domain or holds an address block, over RDAP (found through
//! the IANA bootstrap registries), with port-43 WHOIS as the fallback for registries
//! that have no RDAP service.
//!
//! Key design decision: registries are other people's servers with rate limits, so every
//! request goes through a per-registry limiter that never queues callers for long: a
//! registry that is busy, answered 429, or could not be reached makes further lookups for
//! it return [`WhoisError::Deferred`] at once (no network) until its time is up. Callers
//! (the background enricher) record that and come back later, so an unreachable server is
//! never retried in a tight loop and ingestion never waits for one.
//!
//! The HTTP work uses the workspace's rustls `reqwest`; the bootstrap matching and the
//! jCard reading are ICANN's `icann-rdap-common` (its sibling `icann-rdap-client` 1.x
//! needs a newer rustc than ours, and 0.0.x brings a second HTTP stack with two C TLS
//! libraries).

mod parse;
mod port43;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use icann_rdap_common::iana::{get_preferred_url, BootstrapRegistry, IanaRegistry};
use serde::{Deserialize, Serialize};

/// What to look up.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A registrable domain, lower case (see [`Target::domain`]).
    Domain(String),
    Ip(IpAddr),
}

impl Target {
    /// The registrable domain of a host name (`www.evil.example.co.uk` →
    /// `example.co.uk`), by the public suffix list: registries only know those.
    /// `None` for a public suffix itself or something that is not a domain name.
    pub fn domain(name: &str) -> Option<Target> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.parse::<IpAddr>().is_ok() || !name.contains('.') {
            return None;
        }
        let d = psl::domain(name.as_bytes())?;
        if !d.suffix().is_known() {
            return None;
        }
        Some(Target::Domain(std::str::from_utf8(d.as_bytes()).ok()?.to_string()))
    }

    /// The cache key: `domain:example.com`, `ip:192.0.2.1`.
    pub fn key(&self) -> String {
        match self {
            Target::Domain(d) => format!("domain:{d}"),
            Target::Ip(ip) => format!("ip:{ip}"),
        }
    }

    /// The inverse of [`Target::key`].
    pub fn from_key(key: &str) -> Option<Target> {
        match key.split_once(':')? {
            ("domain", d) => Some(Target::Domain(d.to_string())),
            ("ip", ip) => ip.parse().ok().map(Target::Ip),
            _ => None,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Domain(d) => f.write_str(d),
            Target::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// What a registry says about a domain or an address block. Absent fields: not public,
/// or not given by that registry. Dates are as the registry wrote them (RFC 3339 for RDAP).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WhoisRecord {
    /// What was asked (`example.com`, `192.0.2.1`).
    pub query: String,
    /// `rdap` or `whois`.
    pub protocol: String,
    /// The URL or WHOIS host that answered.
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrant_org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrant_country: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abuse_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_name: Option<String>,
    /// `start - end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_range: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_cidrs: Vec<String>,
    /// The organisation the block is allocated or assigned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation_org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_country: Option<String>,
}

/// Why a lookup gave no record.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WhoisError {
    /// The registry answered that it has no such domain or network.
    #[error("{server} has no record of it")]
    NotFound { server: String },
    /// The registry answered 429; come back after `retry_after`.
    #[error("{server} limits the request rate (429); retry after {retry_after:?}")]
    RateLimited { server: String, retry_after: Duration },
    /// Timeout, refused connection or a 5xx answer.
    #[error("{server} could not be reached: {reason}")]
    Unreachable { server: String, reason: String },
    /// An answer that is not RDAP JSON (or WHOIS text) we can read.
    #[error("{server} answered with something unreadable: {reason}")]
    Invalid { server: String, reason: String },
    /// Neither RDAP bootstrap nor WHOIS knows a server for it.
    #[error("no RDAP or WHOIS service is known for {0}")]
    NoService(String),
    /// Not sent: the registry is rate-limited or backing off for `wait` more.
    #[error("not asked: {registry} is backing off for {wait:?}")]
    Deferred { registry: String, wait: Duration },
}

impl WhoisError {
    /// How long until asking again makes sense; `None` for a definite answer.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WhoisError::RateLimited { retry_after, .. } => Some(*retry_after),
            WhoisError::Deferred { wait, .. } => Some(*wait),
            WhoisError::Unreachable { .. } => Some(UNREACHABLE_BACKOFF),
            _ => None,
        }
    }
}

/// How long a registry that could not be reached is left alone (doubling per further
/// failure, up to [`MAX_BACKOFF`]).
pub const UNREACHABLE_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Where and how to ask.
#[derive(Clone, Debug)]
pub struct WhoisConfig {
    /// Base URL of the IANA RDAP bootstrap files (`dns.json`, `ipv4.json`, `ipv6.json`).
    pub bootstrap_base: String,
    /// Per request, connect and read together.
    pub timeout: Duration,
    /// At most one request per registry per this interval.
    pub min_interval: Duration,
    /// How long a lookup may wait for its registry's next slot before it is deferred.
    pub max_wait: Duration,
    /// Bootstrap files are fetched again after this.
    pub bootstrap_ttl: Duration,
    /// Ask port-43 WHOIS when RDAP has no service: `host:port` of the IANA WHOIS server,
    /// which refers to the registry's. `None` turns the fallback off.
    pub iana_whois: Option<String>,
    /// The port referred WHOIS servers are asked on (43; tests change it).
    pub whois_port: u16,
}

impl Default for WhoisConfig {
    fn default() -> Self {
        WhoisConfig {
            bootstrap_base: "https://data.iana.org/rdap/".into(),
            timeout: Duration::from_secs(10),
            min_interval: Duration::from_secs(1),
            max_wait: Duration::from_secs(5),
            bootstrap_ttl: Duration::from_secs(24 * 3600),
            iana_whois: Some("whois.iana.org:43".into()),
            whois_port: 43,
        }
    }
}

/// Which bootstrap registry a target is found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Registry {
    Dns,
    Ipv4,
    Ipv6,
}

impl Registry {
    fn file(self) -> &'static str {
        match self {
            Registry::Dns => "dns.json",
            Registry::Ipv4 => "ipv4.json",
            Registry::Ipv6 => "ipv6.json",
        }
    }
}

/// The limiter's view of one registry (by host).
#[derive(Default)]
struct HostState {
    next_slot: Option<Instant>,
    blocked_until: Option<Instant>,
    failures: u32,
}

/// An RDAP/WHOIS client. Cheap to share; every method takes `&self`.
pub struct Whois {
    config: WhoisConfig,
    // Built on first use: reqwest's blocking client must not be built inside an async
    // runtime, and the server builds this before it knows where it will be used.
    http: OnceLock<reqwest::blocking::Client>,
    bootstrap: Mutex<HashMap<Registry, (IanaRegistry, Instant)>>,
    hosts: Mutex<HashMap<String, HostState>>,
}

impl Whois {
    pub fn new(config: WhoisConfig) -> Whois {
        Whois { config, http: OnceLock::new(), bootstrap: Mutex::default(), hosts: Mutex::default() }
    }

    pub fn config(&self) -> &WhoisConfig {
        &self.config
    }

    fn http(&self) -> &reqwest::blocking::Client {
        self.http.get_or_init(|| {
            reqwest::blocking::Client::builder()
                .timeout(self.config.timeout)
                .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("an HTTP client with default TLS settings builds")
        })
    }

    /// Looks `target` up: RDAP where the bootstrap names a server, else port-43 WHOIS.
    pub fn lookup(&self, target: &Target) -> Result<WhoisRecord, WhoisError> {
        let (registry, query) = match target {
            Target::Domain(d) => (Registry::Dns, d.clone()),
            Target::Ip(ip @ IpAddr::V4(_)) => (Registry::Ipv4, ip.to_string()),
            Target::Ip(ip @ IpAddr::V6(_)) => (Registry::Ipv6, ip.to_string()),
        };
        let urls = self.with_bootstrap(registry, |b| match registry {
            Registry::Dns => b.get_dns_bootstrap_urls(&query),
            // The registry matches networks: an address is its host-length prefix.
            Registry::Ipv4 => b.get_ipv4_bootstrap_urls(&format!("{query}/32")),
            Registry::Ipv6 => b.get_ipv6_bootstrap_urls(&format!("{query}/128")),
        })?;
        // HTTPS where offered; other schemes than HTTP(S) are not RDAP transports.
        let urls =
            urls.map(|u| u.into_iter().filter(|u| u.starts_with("http://") || u.starts_with("https://")).collect());
        match urls.and_then(|u: Vec<String>| get_preferred_url(u).ok()) {
            Some(base) => {
                let path = if registry == Registry::Dns { "domain" } else { "ip" };
                let url = format!("{}/{path}/{query}", base.trim_end_matches('/'));
                self.rdap(&url, target)
            }
            None => match &self.config.iana_whois {
                Some(iana) => port43::lookup(self, iana, target),
                None => Err(WhoisError::NoService(target.to_string())),
            },
        }
    }

    /// Runs `f` on the bootstrap registry, fetching it first when it is missing or old.
    fn with_bootstrap<T>(
        &self,
        registry: Registry,
        f: impl FnOnce(&IanaRegistry) -> Result<Option<T>, icann_rdap_common::iana::BootstrapRegistryError>,
    ) -> Result<Option<T>, WhoisError> {
        let fresh = |at: &Instant| at.elapsed() < self.config.bootstrap_ttl;
        {
            let cache = self.bootstrap.lock().unwrap();
            if let Some((b, _)) = cache.get(&registry).filter(|(_, at)| fresh(at)) {
                return f(b)
                    .map_err(|e| WhoisError::Invalid { server: "IANA bootstrap".into(), reason: e.to_string() });
            }
        }
        let url = format!("{}/{}", self.config.bootstrap_base.trim_end_matches('/'), registry.file());
        let body = self.get(&url)?;
        let reg: IanaRegistry = serde_json::from_slice(&body)
            .map_err(|e| WhoisError::Invalid { server: url.clone(), reason: format!("bootstrap file: {e}") })?;
        let out = f(&reg).map_err(|e| WhoisError::Invalid { server: url.clone(), reason: e.to_string() });
        self.bootstrap.lock().unwrap().insert(registry, (reg, Instant::now()));
        out
    }

    fn rdap(&self, url: &str, target: &Target) -> Result<WhoisRecord, WhoisError> {
        let body = self.get(url)?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| WhoisError::Invalid { server: url.into(), reason: format!("not JSON: {e}") })?;
        parse::rdap(&v, url, target).map_err(|reason| WhoisError::Invalid { server: url.into(), reason })
    }

    /// One rate-limited GET; maps the answer's status to the errors above.
    fn get(&self, url: &str) -> Result<Vec<u8>, WhoisError> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0))))
            .ok_or_else(|| WhoisError::Invalid { server: url.into(), reason: "not a URL".into() })?;
        self.acquire(&host)?;
        let resp = self.http().get(url).header("accept", "application/rdap+json, application/json").send();
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Err(self.unreachable(&host, url, describe(&e))),
        };
        let status = resp.status();
        if status.as_u16() == 429 {
            let retry_after = retry_after(resp.headers()).unwrap_or(Duration::from_secs(60));
            self.block(&host, retry_after);
            return Err(WhoisError::RateLimited { server: url.into(), retry_after });
        }
        if status.is_server_error() {
            return Err(self.unreachable(&host, url, format!("HTTP {status}")));
        }
        if status.as_u16() == 404 {
            self.succeeded(&host);
            return Err(WhoisError::NotFound { server: url.into() });
        }
        if !status.is_success() {
            return Err(WhoisError::Invalid { server: url.into(), reason: format!("HTTP {status}") });
        }
        match resp.bytes() {
            Ok(b) => {
                self.succeeded(&host);
                Ok(b.to_vec())
            }
            Err(e) => Err(self.unreachable(&host, url, describe(&e))),
        }
    }

    /// Waits for the registry's next slot, or defers when that is too far off.
    fn acquire(&self, host: &str) -> Result<(), WhoisError> {
        let now = Instant::now();
        let slot = {
            let mut hosts = self.hosts.lock().unwrap();
            let h = hosts.entry(host.to_string()).or_default();
            if let Some(until) = h.blocked_until.filter(|u| *u > now) {
                return Err(WhoisError::Deferred { registry: host.into(), wait: until - now });
            }
            let slot = h.next_slot.map_or(now, |s| s.max(now));
            if slot - now > self.config.max_wait {
                return Err(WhoisError::Deferred { registry: host.into(), wait: slot - now });
            }
            h.next_slot = Some(slot + self.config.min_interval);
            slot
        };
        std::thread::sleep(slot.saturating_duration_since(Instant::now()));
        Ok(())
    }

    fn block(&self, host: &str, d: Duration) {
        let mut hosts = self.hosts.lock().unwrap();
        hosts.entry(host.to_string()).or_default().blocked_until = Some(Instant::now() + d);
    }

    fn unreachable(&self, host: &str, server: &str, reason: String) -> WhoisError {
        let mut hosts = self.hosts.lock().unwrap();
        let h = hosts.entry(host.to_string()).or_default();
        let backoff = UNREACHABLE_BACKOFF.saturating_mul(1 << h.failures.min(6)).min(MAX_BACKOFF);
        h.failures += 1;
        h.blocked_until = Some(Instant::now() + backoff);
        WhoisError::Unreachable { server: server.into(), reason }
    }

    fn succeeded(&self, host: &str) {
        if let Some(h) = self.hosts.lock().unwrap().get_mut(host) {
            h.failures = 0;
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        // The chain says more than the top ("error sending request").
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(c) = src {
            s = format!("{s}: {c}");
            src = c.source();
        }
        s
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = at.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(secs.max(1) as u64))
}

#[cfg(test)]
mod tests;
