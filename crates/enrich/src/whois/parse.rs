//! RDAP answers (RFC 9083) to [`WhoisRecord`]s. Lenient by design: registries differ
//! in what they fill in, so a missing part is left out rather than failing the lookup;
//! only an answer that is not a domain or IP network object is refused.

use icann_rdap_common::contact::Contact;
use serde_json::Value;

use super::{Target, WhoisRecord};

pub(super) fn rdap(v: &Value, server: &str, target: &Target) -> Result<WhoisRecord, String> {
    let class = v.get("objectClassName").and_then(Value::as_str).unwrap_or("");
    let mut r = WhoisRecord {
        query: target.to_string(),
        protocol: "rdap".into(),
        server: server.into(),
        ..WhoisRecord::default()
    };
    match (class, target) {
        ("domain", Target::Domain(_)) => {
            r.domain = text(v, "ldhName").or_else(|| text(v, "unicodeName")).map(|d| d.to_ascii_lowercase());
            r.registrar = entities(v, "registrar").find_map(name);
            let registrant = entities(v, "registrant").find_map(contact);
            r.registrant_org =
                registrant.as_ref().and_then(|c| c.organization_name().or(c.full_name()).map(str::to_string));
            r.registrant_country = registrant.as_ref().and_then(country);
            r.name_servers = v
                .get("nameservers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|n| text(n, "ldhName").map(|s| s.to_ascii_lowercase()))
                .collect();
        }
        ("ip network", Target::Ip(_)) => {
            r.network_name = text(v, "name");
            if let (Some(s), Some(e)) = (text(v, "startAddress"), text(v, "endAddress")) {
                r.network_range = Some(format!("{s} - {e}"));
            }
            r.network_cidrs = v
                .get("cidr0_cidrs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let prefix = text(c, "v4prefix").or_else(|| text(c, "v6prefix"))?;
                    Some(format!("{prefix}/{}", c.get("length")?.as_u64()?))
                })
                .collect();
            r.network_country = text(v, "country");
            r.allocation_org = entities(v, "registrant").find_map(name);
        }
        ("", _) => return Err("no objectClassName: not an RDAP object".into()),
        (other, _) => return Err(format!("expected a {} object, got '{other}'", kind(target))),
    }
    r.created = event(v, "registration");
    r.expires = event(v, "expiration");
    r.updated = event(v, "last changed");
    r.abuse_email = entities(v, "abuse").find_map(|e| contact(e)?.email().map(|m| m.email.clone()));
    Ok(r)
}

fn kind(t: &Target) -> &'static str {
    match t {
        Target::Domain(_) => "domain",
        Target::Ip(_) => "ip network",
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn event(v: &Value, action: &str) -> Option<String> {
    v.get("events")?
        .as_array()?
        .iter()
        .find(|e| e.get("eventAction").and_then(Value::as_str) == Some(action))
        .and_then(|e| text(e, "eventDate"))
}

/// Entities holding `role`, depth first (an abuse contact usually sits inside the
/// registrar's entity).
fn entities<'a>(v: &'a Value, role: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    let mut stack: Vec<&Value> = children(v).collect();
    stack.reverse();
    std::iter::from_fn(move || {
        while let Some(e) = stack.pop() {
            let mut kids: Vec<&Value> = children(e).collect();
            kids.reverse();
            stack.extend(kids);
            let has = e
                .get("roles")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(role))));
            if has {
                return Some(e);
            }
        }
        None
    })
}

fn children(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("entities").and_then(Value::as_array).into_iter().flatten()
}

fn contact(e: &Value) -> Option<Contact> {
    let card = e.get("vcardArray")?.as_array()?;
    Contact::from_vcard(card)
}

/// An entity's name: its vCard organisation, else its full name, else its handle.
fn name(e: &Value) -> Option<String> {
    contact(e)
        .and_then(|c| c.organization_name().or(c.full_name()).map(str::to_string))
        .filter(|s| !s.trim().is_empty())
        .or_else(|| text(e, "handle"))
}

fn country(c: &Contact) -> Option<String> {
    let a = c.postal_address()?;
    a.country_code.clone().or_else(|| a.country_name.clone())
}
