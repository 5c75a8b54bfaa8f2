//! STIX identifiers (`type--uuid`) and type names.

use uuid::Uuid;

/// Checks the STIX type-name rules: 3–250 characters of `[a-z0-9-]`, no leading or
/// trailing hyphen, no `--` (which would make ids ambiguous).
pub fn check_type_name(t: &str) -> Result<(), String> {
    if t.len() < 3 || t.len() > 250 {
        return Err(format!("type '{t}' must be 3 to 250 characters long"));
    }
    if !t.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
        return Err(format!("type '{t}' may contain only a-z, 0-9 and '-'"));
    }
    if t.starts_with('-') || t.ends_with('-') || t.contains("--") {
        return Err(format!("type '{t}' must not start or end with '-' or contain '--'"));
    }
    Ok(())
}

/// Splits `type--uuid` and checks that the UUID is an RFC 4122 UUID.
///
/// Returns the type part and the UUID. The type part is *not* checked against the type
/// name rules here; callers compare it with the object's `type`.
pub fn parse_id(id: &str) -> Result<(&str, Uuid), String> {
    let Some((t, u)) = id.split_once("--") else {
        return Err(format!("'{id}' is not of the form <type>--<UUID>"));
    };
    // Type names cannot contain "--", so the first "--" is the separator.
    if u.len() != 36 {
        return Err(format!("'{id}': '{u}' is not a UUID in 8-4-4-4-12 form"));
    }
    let uuid = Uuid::try_parse(u).map_err(|_| format!("'{id}': '{u}' is not a UUID"))?;
    if u.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("'{id}': the UUID must be written in lower case"));
    }
    if uuid.get_variant() != uuid::Variant::RFC4122 {
        return Err(format!("'{id}': '{u}' is not an RFC 4122 UUID (wrong variant bits)"));
    }
    Ok((t, uuid))
}

/// The type part of an id, or the whole string when it has no `--`.
pub fn id_type(id: &str) -> &str {
    id.split_once("--").map_or(id, |(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        for (t, ok) in [
            ("indicator", true),
            ("x-acme-widget", true),
            ("ab", false),
            ("Indicator", false),
            ("-abc", false),
            ("abc-", false),
            ("a--b", false),
            ("a_b_c", false),
        ] {
            assert_eq!(check_type_name(t).is_ok(), ok, "{t}");
        }
    }

    #[test]
    fn ids() {
        assert!(parse_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_ok());
        assert!(parse_id("indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f").is_err());
        assert!(parse_id("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_err());
        assert!(parse_id("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f").is_err());
        // variant bits 0b0xxx (NCS) are not RFC 4122
        assert!(parse_id("indicator--8e2e2d2b-17d4-4cbf-138f-98ee46b3cd3f").is_err());
        assert_eq!(id_type("file--x"), "file");
    }
}
