//! STIX timestamps: RFC 3339, UTC only, `YYYY-MM-DDTHH:MM:SS[.s+]Z`.
//!
//! STIX is stricter than RFC 3339 (no offsets, upper-case `T` and `Z`), so we parse by hand
//! instead of accepting everything chrono accepts. A [`Timestamp`] remembers how many
//! fractional digits were written, because the precision rules are about the *text*
//! (`created` and `modified` must carry at least milliseconds in STIX 2.1).

use std::cmp::Ordering;
use std::fmt;

/// A parsed STIX timestamp.
///
/// Invariant: `nanos < 1_000_000_000`; the calendar date and time were valid when parsed
/// (no February 30th, no hour 24; a leap second `60` is accepted and folded into `59.999…`).
///
/// Equality, hashing and ordering are by instant: `frac_digits` records how the text was
/// written, not which instant it names.
#[derive(Clone, Copy, Debug)]
pub struct Timestamp {
    /// Seconds since the Unix epoch (negative before 1970).
    pub secs: i64,
    /// Sub-second part, in nanoseconds.
    pub nanos: u32,
    /// How many fractional digits the text carried (0 when there was no `.`).
    pub frac_digits: u8,
}

/// Why a string is not a STIX timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampError(pub String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimestampError {}

const FORMAT_HINT: &str = "expected RFC 3339 in UTC, e.g. 2024-05-01T12:00:00.000Z";

fn digits(b: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// Parses the STIX timestamp format.
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        let b = s.as_bytes();
        let bad = |what: &str| TimestampError(format!("{what} in '{s}': {FORMAT_HINT}"));
        if b.len() < 20 {
            return Err(bad("too short"));
        }
        if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(bad("not in YYYY-MM-DDTHH:MM:SS form"));
        }
        if *b.last().unwrap() != b'Z' {
            return Err(bad("must end in 'Z' (UTC)"));
        }
        let year = digits(&b[0..4]).ok_or_else(|| bad("bad year"))? as i64;
        let month = digits(&b[5..7]).ok_or_else(|| bad("bad month"))?;
        let day = digits(&b[8..10]).ok_or_else(|| bad("bad day"))?;
        let hour = digits(&b[11..13]).ok_or_else(|| bad("bad hour"))?;
        let minute = digits(&b[14..16]).ok_or_else(|| bad("bad minute"))?;
        let second = digits(&b[17..19]).ok_or_else(|| bad("bad second"))?;
        if !(1..=12).contains(&month) {
            return Err(bad("month out of range"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(bad("day out of range"));
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err(bad("time out of range"));
        }
        let rest = &b[19..b.len() - 1];
        let (nanos, frac_digits) = if rest.is_empty() {
            (0u32, 0u8)
        } else {
            if rest[0] != b'.' || rest.len() < 2 {
                return Err(bad("bad fractional seconds"));
            }
            let frac = &rest[1..];
            if !frac.iter().all(u8::is_ascii_digit) {
                return Err(bad("bad fractional seconds"));
            }
            if frac.len() > 255 {
                return Err(bad("too many fractional digits"));
            }
            let mut n = 0u32;
            for i in 0..9 {
                n = n * 10 + frac.get(i).map_or(0, |c| u32::from(c - b'0'));
            }
            (n, frac.len() as u8)
        };
        // A leap second is representable in STIX text but not in Unix time; it sorts just
        // before the next second, which is what ordering comparisons need.
        let (second, nanos) = if second == 60 { (59, 999_999_999) } else { (second, nanos) };
        let secs = days_from_civil(year, month, day) * 86_400
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second);
        Ok(Timestamp { secs, nanos, frac_digits })
    }

    /// Microseconds since the Unix epoch (sub-microsecond digits are truncated).
    pub fn unix_micros(&self) -> i64 {
        self.secs * 1_000_000 + i64::from(self.nanos / 1000)
    }

    /// A timestamp from microseconds since the epoch, printed with 6 fractional digits.
    pub fn from_unix_micros(micros: i64) -> Timestamp {
        Timestamp {
            secs: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) * 1000) as u32,
            frac_digits: 6,
        }
    }

    /// The fixed-width form `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
    ///
    /// Two timestamps compare the same way as their keys compare as strings, which is
    /// why the store keeps versions under this key: `2020-01-01T00:00:00Z` and
    /// `2020-01-01T00:00:00.000Z` name the same instant and therefore the same version.
    pub fn key(&self) -> String {
        self.format_digits(9)
    }

    /// Prints with exactly `digits` fractional digits (0–9).
    pub fn format_digits(&self, digits: u8) -> String {
        // Hand-rolled: this runs once per ingested object (the version key), where
        // `format!` showed up in profiles.
        fn push_num(out: &mut Vec<u8>, n: u64, width: usize) {
            let mut buf = [b'0'; 20];
            let mut i = buf.len();
            let mut n = n;
            while n > 0 {
                i -= 1;
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
            let start = (buf.len() - width).min(i);
            out.extend_from_slice(&buf[start..]);
        }
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400) as u64;
        let (y, m, d) = civil_from_days(days);
        let mut out = Vec::with_capacity(31);
        if y < 0 {
            out.push(b'-');
        }
        push_num(&mut out, y.unsigned_abs(), 4);
        out.push(b'-');
        push_num(&mut out, u64::from(m), 2);
        out.push(b'-');
        push_num(&mut out, u64::from(d), 2);
        out.push(b'T');
        push_num(&mut out, rem / 3600, 2);
        out.push(b':');
        push_num(&mut out, (rem % 3600) / 60, 2);
        out.push(b':');
        push_num(&mut out, rem % 60, 2);
        if digits > 0 {
            out.push(b'.');
            let mut frac = Vec::with_capacity(9);
            push_num(&mut frac, u64::from(self.nanos), 9);
            out.extend_from_slice(&frac[..usize::from(digits.min(9))]);
        }
        out.push(b'Z');
        String::from_utf8(out).expect("ASCII digits and separators")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_digits(self.frac_digits.min(9)))
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        (self.secs, self.nanos) == (other.secs, other.nanos)
    }
}

impl Eq for Timestamp {}

impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.secs, self.nanos).hash(state);
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    /// Orders by instant only: the number of digits written does not matter.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects_as_table() {
        let cases: &[(&str, bool)] = &[
            ("2016-05-12T08:17:27.000Z", true),
            ("2016-05-12T08:17:27Z", true),
            ("2016-05-12T08:17:27.123456789123Z", true),
            ("2016-02-29T00:00:00Z", true),
            ("2015-02-29T00:00:00Z", false),
            ("2016-05-12T08:17:27.000+00:00", false),
            ("2016-05-12 08:17:27.000Z", false),
            ("2016-05-12T08:17:27.Z", false),
            ("2016-05-12T24:00:00Z", false),
            ("2016-13-12T08:17:27Z", false),
            ("2016-05-12T08:17:27.000z", false),
            ("2016-5-12T08:17:27.000Z", false),
            ("", false),
        ];
        for (s, ok) in cases {
            assert_eq!(Timestamp::parse(s).is_ok(), *ok, "{s}");
        }
    }

    #[test]
    fn key_orders_instants_and_ignores_written_precision() {
        let a = Timestamp::parse("2020-01-01T00:00:00Z").unwrap();
        let b = Timestamp::parse("2020-01-01T00:00:00.000Z").unwrap();
        let c = Timestamp::parse("2020-01-01T00:00:00.001Z").unwrap();
        assert_eq!(a.key(), b.key());
        assert!(b.key() < c.key());
        assert_eq!(a, b);
        assert!(b < c);
        assert_eq!(c.key(), "2020-01-01T00:00:00.001000000Z");
    }

    #[test]
    fn round_trips_through_unix_micros() {
        let t = Timestamp::parse("1969-12-31T23:59:59.999999Z").unwrap();
        assert_eq!(t.unix_micros(), -1);
        assert_eq!(Timestamp::from_unix_micros(-1).to_string(), "1969-12-31T23:59:59.999999Z");
        let t = Timestamp::parse("2024-02-29T13:14:15.5Z").unwrap();
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()).to_string(), "2024-02-29T13:14:15.500000Z");
    }
}
