//! Against a local RDAP server (axum) that serves IANA-shaped bootstrap files and
//! recorded-shape RDAP answers, and a local port-43 WHOIS server.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::*;

#[derive(Default)]
struct Counts {
    bootstrap: AtomicUsize,
    rdap: AtomicUsize,
}

struct Server {
    base: String,
    counts: Arc<Counts>,
}

fn domain_answer() -> Value {
    // The shape of a gTLD registry answer (Verisign-style), trimmed.
    json!({
      "objectClassName": "domain", "handle": "2336799_DOMAIN_COM-VRSN", "ldhName": "EXAMPLE.TEST",
      "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_0"],
      "status": ["client transfer prohibited"],
      "entities": [
        {"objectClassName": "entity", "handle": "376", "roles": ["registrar"],
         "publicIds": [{"type": "IANA Registrar ID", "identifier": "376"}],
         "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"]]],
         "entities": [{"objectClassName": "entity", "roles": ["abuse"],
           "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", ""],
                                    ["email", {}, "text", "abuse@registrar.test"]]]}]},
        {"objectClassName": "entity", "roles": ["registrant"],
         "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", ""],
                                  ["org", {}, "text", "Example Holdings"],
                                  ["adr", {"cc": "RU"}, "text", ["", "", "", "", "", "", ""]]]]}
      ],
      "events": [
        {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
        {"eventAction": "expiration", "eventDate": "2027-08-13T04:00:00Z"},
        {"eventAction": "last changed", "eventDate": "2026-08-14T07:01:39Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-11-22T10:00:00Z"}
      ],
      "nameservers": [
        {"objectClassName": "nameserver", "ldhName": "A.IANA-SERVERS.NET"},
        {"objectClassName": "nameserver", "ldhName": "B.IANA-SERVERS.NET"}
      ]
    })
}

fn network_answer() -> Value {
    // The shape of a RIR answer (ARIN-style), trimmed.
    json!({
      "objectClassName": "ip network", "handle": "NET-192-0-2-0-1", "startAddress": "192.0.2.0",
      "endAddress": "192.0.2.255", "ipVersion": "v4", "name": "TEST-NET-1", "type": "IANA Special Use",
      "country": "US",
      "cidr0_cidrs": [{"v4prefix": "192.0.2.0", "length": 24}],
      "events": [{"eventAction": "registration", "eventDate": "2010-01-01T00:00:00-05:00"}],
      "entities": [
        {"objectClassName": "entity", "handle": "IANA", "roles": ["registrant"],
         "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Internet Assigned Numbers Authority"],
                                  ["kind", {}, "text", "org"]]],
         "entities": [{"objectClassName": "entity", "handle": "IANA-IP-ARIN", "roles": ["abuse"],
           "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "ICANN"],
                                    ["email", {}, "text", "abuse@iana.test"]]]}]}
      ]
    })
}

async fn bootstrap(State((base, counts)): State<(String, Arc<Counts>)>, Path(file): Path<String>) -> Response {
    counts.bootstrap.fetch_add(1, Ordering::SeqCst);
    let rdap = format!("{base}/rdap/");
    let services = match file.as_str() {
        "dns.json" => json!([[["test", "example"], [rdap]]]),
        "ipv4.json" => json!([[["192.0.2.0/24", "198.51.100.0/24"], ["ftp://ignored.test/", rdap]]]),
        "ipv6.json" => json!([[["2001:db8::/32"], [rdap]]]),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    axum::Json(
        json!({"version": "1.0", "publication": "2026-11-01T00:00:00Z", "description": "test", "services": services}),
    )
    .into_response()
}

async fn domain(State((_, counts)): State<(String, Arc<Counts>)>, Path(name): Path<String>) -> Response {
    counts.rdap.fetch_add(1, Ordering::SeqCst);
    let rdap_json = [(header::CONTENT_TYPE, "application/rdap+json")];
    match name.as_str() {
        "example.test" => (rdap_json, domain_answer().to_string()).into_response(),
        "missing.test" => (
            StatusCode::NOT_FOUND,
            rdap_json,
            json!({"errorCode": 404, "title": "Not Found", "description": ["no such domain"]}).to_string(),
        )
            .into_response(),
        "busy.test" => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "120")], "slow down").into_response(),
        "slow.test" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (rdap_json, domain_answer().to_string()).into_response()
        }
        "down.test" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "broken.test" => (rdap_json, "<html>maintenance</html>").into_response(),
        "wrongclass.test" => (rdap_json, network_answer().to_string()).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn ip(State((_, counts)): State<(String, Arc<Counts>)>, Path(addr): Path<String>) -> Response {
    counts.rdap.fetch_add(1, Ordering::SeqCst);
    match addr.as_str() {
        "192.0.2.1" | "2001:db8::1" => {
            ([(header::CONTENT_TYPE, "application/rdap+json")], network_answer().to_string()).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn serve() -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let counts = Arc::new(Counts::default());
    let state = (base.clone(), counts.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/bootstrap/{file}", get(bootstrap))
                .route("/rdap/domain/{name}", get(domain))
                .route("/rdap/ip/{addr}", get(ip))
                .with_state(state);
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    Server { base, counts }
}

fn client(s: &Server) -> Whois {
    Whois::new(WhoisConfig {
        bootstrap_base: format!("{}/bootstrap/", s.base),
        timeout: Duration::from_millis(500),
        min_interval: Duration::ZERO,
        max_wait: Duration::ZERO,
        iana_whois: None,
        ..WhoisConfig::default()
    })
}

fn domain_target(d: &str) -> Target {
    Target::Domain(d.into())
}

#[test]
fn domain_over_rdap_through_the_bootstrap() {
    let s = serve();
    let w = client(&s);
    let r = w.lookup(&domain_target("example.test")).unwrap();
    assert_eq!(r.protocol, "rdap");
    assert_eq!(r.server, format!("{}/rdap/domain/example.test", s.base));
    assert_eq!(r.domain.as_deref(), Some("example.test"));
    assert_eq!(r.registrar.as_deref(), Some("RESERVED-Internet Assigned Numbers Authority"));
    assert_eq!(r.registrant_org.as_deref(), Some("Example Holdings"));
    assert_eq!(r.registrant_country.as_deref(), Some("RU"));
    assert_eq!(r.created.as_deref(), Some("1995-08-14T04:00:00Z"));
    assert_eq!(r.expires.as_deref(), Some("2027-08-13T04:00:00Z"));
    assert_eq!(r.updated.as_deref(), Some("2026-08-14T07:01:39Z"));
    assert_eq!(r.name_servers, ["a.iana-servers.net", "b.iana-servers.net"]);
    assert_eq!(r.abuse_email.as_deref(), Some("abuse@registrar.test"));
    // The bootstrap file is fetched once and reused.
    w.lookup(&domain_target("missing.test")).unwrap_err();
    assert_eq!(s.counts.bootstrap.load(Ordering::SeqCst), 1);
    assert_eq!(s.counts.rdap.load(Ordering::SeqCst), 2);
}

#[test]
fn ip_networks_over_rdap_v4_and_v6() {
    let s = serve();
    let w = client(&s);
    for addr in ["192.0.2.1", "2001:db8::1"] {
        let r = w.lookup(&Target::Ip(addr.parse().unwrap())).unwrap();
        assert_eq!(r.query, addr);
        assert_eq!(r.network_name.as_deref(), Some("TEST-NET-1"));
        assert_eq!(r.network_range.as_deref(), Some("192.0.2.0 - 192.0.2.255"));
        assert_eq!(r.network_cidrs, ["192.0.2.0/24"]);
        assert_eq!(r.allocation_org.as_deref(), Some("Internet Assigned Numbers Authority"));
        assert_eq!(r.network_country.as_deref(), Some("US"));
        assert_eq!(r.abuse_email.as_deref(), Some("abuse@iana.test"));
        assert_eq!(r.created.as_deref(), Some("2010-01-01T00:00:00-05:00"));
    }
    // An address no bootstrap entry covers, with the WHOIS fallback off.
    assert_eq!(
        w.lookup(&Target::Ip("203.0.113.1".parse().unwrap())).unwrap_err(),
        WhoisError::NoService("203.0.113.1".into())
    );
}

#[test]
fn answers_that_are_not_records() {
    let s = serve();
    let w = client(&s);
    assert!(matches!(w.lookup(&domain_target("missing.test")), Err(WhoisError::NotFound { .. })));
    let e = w.lookup(&domain_target("broken.test")).unwrap_err();
    assert!(matches!(&e, WhoisError::Invalid { reason, .. } if reason.starts_with("not JSON")), "{e:?}");
    let e = w.lookup(&domain_target("wrongclass.test")).unwrap_err();
    assert!(matches!(&e, WhoisError::Invalid { reason, .. } if reason == "expected a domain object, got 'ip network'"));
    assert_eq!(w.lookup(&domain_target("other.invalid")).unwrap_err(), WhoisError::NoService("other.invalid".into()));
}

#[test]
fn a_429_blocks_the_registry_for_its_retry_after() {
    let s = serve();
    let w = client(&s);
    let e = w.lookup(&domain_target("busy.test")).unwrap_err();
    assert!(matches!(e, WhoisError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(120)));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    // Further lookups for that registry are not sent.
    let e = w.lookup(&domain_target("example.test")).unwrap_err();
    assert!(matches!(e, WhoisError::Deferred { wait, .. } if wait > Duration::from_secs(110)), "{e:?}");
    assert_eq!(s.counts.rdap.load(Ordering::SeqCst), 1);
}

#[test]
fn timeouts_and_5xx_back_off_instead_of_retrying() {
    let s = serve();
    let w = client(&s);
    let e = w.lookup(&domain_target("slow.test")).unwrap_err();
    assert!(matches!(&e, WhoisError::Unreachable { reason, .. } if reason == "timed out"), "{e:?}");
    let e = w.lookup(&domain_target("example.test")).unwrap_err();
    assert!(matches!(e, WhoisError::Deferred { wait, .. } if wait > Duration::from_secs(50)), "{e:?}");
    assert_eq!(s.counts.rdap.load(Ordering::SeqCst), 1);

    let s = serve();
    let w = client(&s);
    let e = w.lookup(&domain_target("down.test")).unwrap_err();
    assert!(matches!(&e, WhoisError::Unreachable { reason, .. } if reason.contains("503")), "{e:?}");
    assert!(matches!(w.lookup(&domain_target("example.test")), Err(WhoisError::Deferred { .. })));

    // Nothing listening at all.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let w = Whois::new(WhoisConfig { bootstrap_base: format!("http://127.0.0.1:{port}/"), ..WhoisConfig::default() });
    assert!(matches!(w.lookup(&domain_target("example.test")), Err(WhoisError::Unreachable { .. })));
}

#[test]
fn requests_per_registry_are_spaced() {
    let s = serve();
    let w = Whois::new(WhoisConfig { min_interval: Duration::from_secs(30), ..client(&s).config.clone() });
    // The bootstrap host and the RDAP host are one server here: the bootstrap takes the
    // first slot, the domain the second would need 30 s later.
    let e = w.lookup(&domain_target("example.test")).unwrap_err();
    assert!(matches!(e, WhoisError::Deferred { wait, .. } if wait > Duration::from_secs(25)), "{e:?}");
    assert_eq!(s.counts.rdap.load(Ordering::SeqCst), 0);
    // A short interval waits for the slot instead.
    let s = serve();
    let w = Whois::new(WhoisConfig {
        min_interval: Duration::from_millis(50),
        max_wait: Duration::from_secs(1),
        ..client(&s).config.clone()
    });
    w.lookup(&domain_target("example.test")).unwrap();
    w.lookup(&domain_target("example.test")).unwrap();
    assert_eq!(s.counts.rdap.load(Ordering::SeqCst), 2);
}

/// A port-43 server: the IANA role for TLD `xyz` (referring to itself) and the
/// registry role for domains.
fn whois_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let mut c = conn.unwrap();
            let mut q = String::new();
            BufReader::new(&c).read_line(&mut q).unwrap();
            let answer = match q.trim() {
                "xyz" => "% IANA WHOIS server\r\ndomain:       XYZ\r\nwhois:        127.0.0.1\r\n".to_string(),
                "nic.xyz" => "Domain Name: NIC.XYZ\r\nRegistrar: Example Registrar, Inc.\r\n\
                              Creation Date: 2014-03-20T15:52:43Z\r\nRegistry Expiry Date: 2027-03-20T23:59:59Z\r\n\
                              Updated Date: 2026-01-01T00:00:00Z\r\nRegistrant Organization: XYZ.COM LLC\r\n\
                              Registrant Country: US\r\nName Server: NS1.NIC.XYZ\r\nName Server: NS2.NIC.XYZ\r\n\
                              Registrar Abuse Contact Email: abuse@registrar.xyz\r\n\
                              >>> Last update of WHOIS database: 2026-11-22T00:00:00Z <<<\r\n"
                    .to_string(),
                _ => "No match for domain.\r\n".to_string(),
            };
            c.write_all(answer.as_bytes()).unwrap();
        }
    });
    port
}

#[test]
fn port_43_whois_when_rdap_has_no_service() {
    let s = serve();
    let port = whois_server();
    let w = Whois::new(WhoisConfig {
        iana_whois: Some(format!("127.0.0.1:{port}")),
        whois_port: port,
        ..client(&s).config.clone()
    });
    let r = w.lookup(&domain_target("nic.xyz")).unwrap();
    assert_eq!(r.protocol, "whois");
    assert_eq!(r.server, format!("127.0.0.1:{port}"));
    assert_eq!(r.domain.as_deref(), Some("nic.xyz"));
    assert_eq!(r.registrar.as_deref(), Some("Example Registrar, Inc."));
    assert_eq!(r.created.as_deref(), Some("2014-03-20T15:52:43Z"));
    assert_eq!(r.expires.as_deref(), Some("2027-03-20T23:59:59Z"));
    assert_eq!(r.registrant_org.as_deref(), Some("XYZ.COM LLC"));
    assert_eq!(r.registrant_country.as_deref(), Some("US"));
    assert_eq!(r.name_servers, ["ns1.nic.xyz", "ns2.nic.xyz"]);
    assert_eq!(r.abuse_email.as_deref(), Some("abuse@registrar.xyz"));
    assert!(matches!(w.lookup(&domain_target("absent.xyz")), Err(WhoisError::NotFound { .. })));
    // RDAP still wins where the bootstrap has a service.
    assert_eq!(w.lookup(&domain_target("example.test")).unwrap().protocol, "rdap");
}

#[test]
fn registrable_domains_by_the_public_suffix_list() {
    let t = |s: &str| Target::domain(s).map(|t| t.to_string());
    assert_eq!(t("www.Evil.Example.co.uk.").as_deref(), Some("example.co.uk"));
    assert_eq!(t("a.b.example.com").as_deref(), Some("example.com"));
    assert_eq!(t("co.uk"), None);
    assert_eq!(t("localhost"), None);
    assert_eq!(t("192.0.2.1"), None);
    assert_eq!(t("x.notarealtld"), None);
    assert_eq!(Target::from_key("domain:example.com"), Some(Target::Domain("example.com".into())));
    assert_eq!(
        Target::from_key(&Target::Ip("2001:db8::1".parse().unwrap()).key()),
        Some(Target::Ip("2001:db8::1".parse().unwrap()))
    );
}
