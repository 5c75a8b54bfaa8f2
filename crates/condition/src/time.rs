//! Times and durations in condition values.

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

/// An absolute time in a value: an RFC 3339 / STIX timestamp (`2025-01-01T00:00:00Z`,
/// offsets allowed) or a date (`2025-01-01`, midnight UTC). Microseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = cairn_stix::Timestamp::parse(s) {
        return Ok(t.unix_micros());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_micros());
    }
    Err(format!("'{s}' is not a time; write 2025-01-31 or 2025-01-31T12:00:00Z"))
}

/// The time a property's text holds (a STIX timestamp), if it is one.
pub fn str_time(s: &str) -> Option<i64> {
    cairn_stix::Timestamp::parse(s)
        .map(|t| t.unix_micros())
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_micros()))
}

/// A relative time: a duration back from now (`30d`, `6 months`, `12h`, ISO 8601 `P30D`),
/// or forward with a leading `+` (`+7d`: a week from now). Returns the signed offset
/// from now in microseconds (negative = in the past).
pub fn parse_offset(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let bad = || {
        format!("'{s}' is not a duration; write e.g. 30d, 12h, 6 months or P30D (back from now), or +7d (ahead of now)")
    };
    let (sign, rest) = match t.strip_prefix('+') {
        Some(r) => (1, r.trim_start()),
        None => (-1, t.strip_prefix('-').unwrap_or(t).trim_start()),
    };
    let micros = if rest.starts_with(['P', 'p']) { iso_duration(rest) } else { plain_duration(rest) };
    micros.map(|m| sign * m).ok_or_else(bad)
}

fn unit(u: &str) -> Option<i64> {
    Some(match u.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => SECOND,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * SECOND,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600 * SECOND,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => 7 * DAY,
        // Calendar months and years vary; 30 and 365 days are what "older than 6 months"
        // means in practice, and they keep a rule's reach predictable.
        "mo" | "month" | "months" => 30 * DAY,
        "y" | "year" | "years" => 365 * DAY,
        _ => return None,
    })
}

/// `30d`, `30 days`, `1w2d`, `6 months`.
fn plain_duration(s: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let letters = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let u = unit(&rest[..letters])?;
        total = total.checked_add(n.checked_mul(u)?)?;
        rest = rest[letters..].trim_start();
    }
    Some(total)
}

/// ISO 8601 durations: `P30D`, `PT12H`, `P1Y2M3DT4H5M6S`, `P2W`.
fn iso_duration(s: &str) -> Option<i64> {
    let body = &s[1..];
    let mut total = 0i64;
    let mut in_time = false;
    let mut num = String::new();
    if body.is_empty() {
        return None;
    }
    for c in body.chars() {
        match c.to_ascii_uppercase() {
            'T' if num.is_empty() && !in_time => in_time = true,
            d if d.is_ascii_digit() => num.push(d),
            u => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                let per = match (u, in_time) {
                    ('Y', false) => 365 * DAY,
                    ('M', false) => 30 * DAY,
                    ('W', false) => 7 * DAY,
                    ('D', false) => DAY,
                    ('H', true) => 3600 * SECOND,
                    ('M', true) => 60 * SECOND,
                    ('S', true) => SECOND,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(per)?)?;
            }
        }
    }
    num.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let table: &[(&str, Option<i64>)] = &[
            ("30d", Some(-30 * DAY)),
            ("30 days", Some(-30 * DAY)),
            ("6 months", Some(-180 * DAY)),
            ("1w2d", Some(-9 * DAY)),
            ("12h", Some(-12 * 3600 * SECOND)),
            ("+7d", Some(7 * DAY)),
            ("-7d", Some(-7 * DAY)),
            ("P30D", Some(-30 * DAY)),
            ("PT12H", Some(-12 * 3600 * SECOND)),
            ("P1DT1M", Some(-(DAY + 60 * SECOND))),
            ("P", None),
            ("P1H", None),
            ("30", None),
            ("d", None),
            ("30 fortnights", None),
            ("", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_offset(text).ok(), *want, "{text}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-02").unwrap(), DAY);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), SECOND);
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert!(parse_time("yesterday").unwrap_err().contains("not a time"));
    }
}
