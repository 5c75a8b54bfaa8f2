//! Time as the reference computes it: Python `datetime` values (microsecond resolution,
//! years 1–9999), timestamps read with `strptime`, `WITHIN` durations built with
//! `dateutil.relativedelta`, and the interval tests of `stix2matcher.matcher`
//! (`_overlap`, `_timestamp_intervals_within`).

use crate::ast::Timestamp;

/// A UTC instant as microseconds since 0001-01-01T00:00:00, the proleptic Gregorian
/// calendar Python's `datetime` uses. Invariant (for values this module makes): within
/// `0..=MAX`.
pub(crate) type Micros = i64;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// 9999-12-31T23:59:59.999999, `datetime.max`.
pub(crate) const MAX: Micros = 3_652_059 * MICROS_PER_DAY - 1;

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 0001-01-01 to `y-m-d` (Python's `toordinal() - 1`).
fn days_before(y: i64, m: i64, d: i64) -> i64 {
    let py = y - 1;
    let mut days = py * 365 + py / 4 - py / 100 + py / 400;
    for month in 1..m {
        days += days_in_month(y, month);
    }
    days + d - 1
}

/// `datetime(year, month, day, hour, minute, second, microsecond)`, or `None` where
/// Python raises `ValueError` (no such date, a leap second, year 0).
pub(crate) fn from_fields(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micro: i64,
) -> Option<Micros> {
    let ok = (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..60).contains(&second)
        && (0..1_000_000).contains(&micro);
    ok.then(|| {
        days_before(year, month, day) * MICROS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro
    })
}

/// A `t'…'` literal as the reference converts it (`_str_to_datetime`): fraction digits
/// past the sixth are dropped; `None` where Python raises (no such date, second 60).
pub(crate) fn literal(t: &Timestamp) -> Option<Micros> {
    let digits = t.fraction().as_bytes();
    let micro = (0..6).fold(0i64, |n, i| n * 10 + digits.get(i).map_or(0, |c| i64::from(c - b'0')));
    from_fields(
        i64::from(t.year()),
        i64::from(t.month()),
        i64::from(t.day()),
        i64::from(t.hour()),
        i64::from(t.minute()),
        i64::from(t.second()),
        micro,
    )
}

/// A timestamp string from the observed data, as `_str_to_datetime` reads it: no
/// lower-case character at all, then `strptime` with `%Y-%m-%dT%H:%M:%S[.%f]Z` (the
/// fractional form when the text has a `.`; more than six fraction digits before a
/// final `Z` cut to six first). `None` where Python raises.
///
/// `strptime`'s fields are regular-expression alternatives tried in order, so it also
/// accepts one-digit months, days, hours, minutes and seconds and a day written
/// `' 5'`; the match need not be the only one, but it must reach the end of the text.
/// Known difference: Python's `\d` there also takes non-ASCII decimal digits, which
/// this reads as non-digits (`DISAGREEMENTS.md`).
pub(crate) fn parse_observed(s: &str) -> Option<Micros> {
    if let Some(t) = parse_canonical(s.as_bytes()) {
        return t;
    }
    if s.chars().any(char::is_lowercase) {
        return None;
    }
    let mut chars: Vec<char> = s.chars().collect();
    let fractional = s.contains('.');
    if fractional {
        // `parts = s.split("."); if len(parts[1]) > 7 and parts[1].endswith("Z"): cut`.
        let dot = chars.iter().position(|&c| c == '.').expect("has a dot");
        let end = chars[dot + 1..].iter().position(|&c| c == '.').map_or(chars.len(), |i| dot + 1 + i);
        let part = &chars[dot + 1..end];
        if part.len() > 7 && part.last() == Some(&'Z') {
            chars.splice(dot + 7..end - 1, std::iter::empty());
        }
    }
    let fields = strptime(&chars, fractional)?;
    let [year, month, day, hour, minute, second, micro] = fields;
    from_fields(year, month, day, hour, minute, second, micro)
}

/// The common shape `YYYY-MM-DDTHH:MM:SS[.f{1,}]Z`, read without the general matcher.
/// `None` when the text has another shape; `Some(None)` when it has this shape but
/// `strptime` or `datetime` would reject it (the two-digit alternatives of every field
/// accept exactly the in-range values, so range checks decide it).
fn parse_canonical(b: &[u8]) -> Option<Option<Micros>> {
    if b.len() < 20 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
    };
    let shape = b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if !shape || *b.last()? != b'Z' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let micro = match b.len() {
        20 => 0,
        n if b[19] == b'.' && n > 21 => {
            let frac = &b[20..n - 1];
            if !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            (0..6).fold(0i64, |acc, i| acc * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0')))
        }
        _ => return None,
    };
    Some(from_fields(year, month, day, hour, minute, second, micro))
}

/// One `strptime` field: its regex alternatives, in order, each a run of character
/// tests (`D` a digit, `r(lo, hi)` a digit range, a literal otherwise).
#[derive(Clone, Copy)]
enum C {
    D,
    R(u8, u8),
    L(char),
}

const YEAR: &[&[C]] = &[&[C::D, C::D, C::D, C::D]];
const MONTH: &[&[C]] = &[&[C::L('1'), C::R(b'0', b'2')], &[C::L('0'), C::R(b'1', b'9')], &[C::R(b'1', b'9')]];
const DAY: &[&[C]] = &[
    &[C::L('3'), C::R(b'0', b'1')],
    &[C::R(b'1', b'2'), C::D],
    &[C::L('0'), C::R(b'1', b'9')],
    &[C::R(b'1', b'9')],
    &[C::L(' '), C::R(b'1', b'9')],
];
const HOUR: &[&[C]] = &[&[C::L('2'), C::R(b'0', b'3')], &[C::R(b'0', b'1'), C::D], &[C::D]];
const MINUTE: &[&[C]] = &[&[C::R(b'0', b'5'), C::D], &[C::D]];
const SECOND: &[&[C]] = &[&[C::L('6'), C::R(b'0', b'1')], &[C::R(b'0', b'5'), C::D], &[C::D]];
/// `[0-9]{1,6}`, greedy: the longest run is tried first.
const FRACTION: &[&[C]] = &[
    &[C::D, C::D, C::D, C::D, C::D, C::D],
    &[C::D, C::D, C::D, C::D, C::D],
    &[C::D, C::D, C::D, C::D],
    &[C::D, C::D, C::D],
    &[C::D, C::D],
    &[C::D],
];

enum Item {
    Field(&'static [&'static [C]]),
    Lit(char),
}

/// `re.match` of the `strptime` regex, then the "unconverted data remains" check:
/// backtracking over the alternatives in order, the first complete match wins.
/// Returns year, month, day, hour, minute, second, microsecond.
fn strptime(s: &[char], fractional: bool) -> Option<[i64; 7]> {
    let mut items = vec![
        Item::Field(YEAR),
        Item::Lit('-'),
        Item::Field(MONTH),
        Item::Lit('-'),
        Item::Field(DAY),
        Item::Lit('T'),
        Item::Field(HOUR),
        Item::Lit(':'),
        Item::Field(MINUTE),
        Item::Lit(':'),
        Item::Field(SECOND),
    ];
    if fractional {
        items.push(Item::Lit('.'));
        items.push(Item::Field(FRACTION));
    }
    items.push(Item::Lit('Z'));
    let mut spans = Vec::new();
    let end = match_items(s, 0, &items, &mut spans)?;
    if end != s.len() {
        return None;
    }
    let value = |(a, b): (usize, usize)| {
        s[a..b].iter().filter(|c| **c != ' ').fold(0i64, |n, c| n * 10 + i64::from(*c as u8 - b'0'))
    };
    let mut out = [0i64; 7];
    for (i, span) in spans.iter().take(6).enumerate() {
        out[i] = value(*span);
    }
    if fractional {
        let (a, b) = spans[6];
        out[6] = value((a, b)) * 10i64.pow(6 - (b - a) as u32);
    }
    Some(out)
}

fn match_items(s: &[char], at: usize, items: &[Item], spans: &mut Vec<(usize, usize)>) -> Option<usize> {
    let Some((first, rest)) = items.split_first() else { return Some(at) };
    match first {
        Item::Lit(c) => (s.get(at) == Some(c)).then_some(())?,
        Item::Field(alternatives) => {
            for alt in *alternatives {
                let fits = alt.len() <= s.len() - at
                    && alt.iter().zip(&s[at..]).all(|(t, &ch)| match *t {
                        C::D => ch.is_ascii_digit(),
                        C::R(lo, hi) => (lo as char..=hi as char).contains(&ch),
                        C::L(l) => ch == l,
                    });
                if fits {
                    spans.push((at, at + alt.len()));
                    if let Some(end) = match_items(s, at + alt.len(), rest, spans) {
                        return Some(end);
                    }
                    spans.pop();
                }
            }
            return None;
        }
    }
    match_items(s, at + 1, rest, spans)
}

/// The length of `WITHIN n SECONDS` in microseconds, as `datetime + relativedelta(seconds=n)`
/// adds it: `relativedelta` splits `n` with float `divmod` into days, hours, minutes and
/// seconds, and `timedelta` sums those exactly except for the seconds' fraction, which it
/// rounds half to even. `None` where that addition raises whatever the instant
/// (`NaN`, infinity, more than `timedelta.max`); the caller still checks the sum
/// against [`MAX`].
pub(crate) fn within_micros(n: f64) -> Option<i128> {
    if !n.is_finite() || n > 1e15 {
        return None;
    }
    let (mut days, mut hours, mut minutes, mut seconds) = (0.0f64, 0.0f64, 0.0f64, n);
    if seconds.abs() > 59.0 {
        let (div, rem) = py_divmod(seconds, 60.0);
        seconds = rem;
        minutes += div;
    }
    if minutes.abs() > 59.0 {
        let (div, rem) = py_divmod(minutes, 60.0);
        minutes = rem;
        hours += div;
    }
    if hours.abs() > 23.0 {
        let (div, rem) = py_divmod(hours, 24.0);
        hours = rem;
        days += div;
    }
    // `timedelta(days=…, hours=…, minutes=…, seconds=…)`: `accum` adds each integral part
    // exactly and keeps the fractional microseconds aside.
    let mut total: i128 = 0;
    let mut leftover = 0.0f64;
    for (value, factor) in [(seconds, 1_000_000.0), (minutes, 60e6), (hours, 3600e6), (days, 86400e6)] {
        let int = value.trunc();
        let frac = value - int;
        total += int as i128 * factor as i128;
        if frac != 0.0 {
            let scaled = factor * frac;
            let whole = scaled.trunc();
            total += whole as i128;
            leftover += scaled - whole;
        }
    }
    if leftover != 0.0 {
        let mut whole = leftover.round();
        if (whole - leftover).abs() == 0.5 {
            let odd = (total & 1) as f64;
            whole = 2.0 * ((leftover + odd) * 0.5).round() - odd;
        }
        total += whole as i128;
    }
    // `timedelta` allows at most 999999999 days.
    (total < 1_000_000_000 * i128::from(MICROS_PER_DAY)).then_some(total)
}

/// Python's float `divmod` (`Objects/floatobject.c`), for a positive divisor.
fn py_divmod(x: f64, y: f64) -> (f64, f64) {
    let mut rem = x % y;
    let mut div = (x - rem) / y;
    if rem != 0.0 {
        if (y < 0.0) != (rem < 0.0) {
            rem += y;
            div -= 1.0;
        }
    } else {
        rem = 0.0f64.copysign(y);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(x / y)
    };
    (floordiv, rem)
}

/// The result of `_overlap(min1, max1, min2, max2)` (its `_OVERLAP*` constants, with the
/// numbering the reference's own tests use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relation {
    None = 0,
    Overlap = 1,
    TouchInner = 2,
    TouchOuter = 3,
    TouchPoint = 4,
}

/// `_overlap` of the closed intervals `[min1, max1]` and `[min2, max2]`. `None` where the
/// reference's assertions fail (an interval whose end precedes its start, which only
/// observed data with `last_observed` before `first_observed` produces).
pub(crate) fn overlap(min1: Micros, max1: Micros, min2: Micros, max2: Micros) -> Option<Relation> {
    if min1 > max1 || min2 > max2 {
        return None;
    }
    Some(if min1 == max1 && max1 == min2 && min2 == max2 {
        Relation::TouchPoint
    } else if max1 == min2 {
        Relation::TouchInner
    } else if max2 == min1 {
        Relation::TouchOuter
    } else if min2 <= max1 && min1 <= max2 {
        Relation::Overlap
    } else {
        Relation::None
    })
}

/// `_timestamp_intervals_within`: whether one instant can be chosen in each interval so
/// that all lie within `duration` of each other. The reference tries the window that
/// starts at the earliest `last_observed` and stops at the first interval it misses.
/// `Err` where the reference raises (the window's end is past `datetime.max`, or an
/// inverted interval is reached).
pub(crate) fn intervals_within(
    intervals: impl Iterator<Item = (Micros, Micros)> + Clone,
    duration: Option<i128>,
) -> Result<bool, WithinError> {
    let Some(earliest_last) = intervals.clone().map(|i| i.1).min() else { return Ok(true) };
    let end = duration
        .map(|d| i128::from(earliest_last) + d)
        .filter(|&e| e <= i128::from(MAX))
        .ok_or(WithinError::Overflow)?;
    let end = end as Micros;
    for (first, last) in intervals {
        match overlap(first, last, earliest_last, end) {
            None => return Err(WithinError::InvertedInterval),
            Some(Relation::None) => return Ok(false),
            Some(_) => {}
        }
    }
    Ok(true)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WithinError {
    Overflow,
    InvertedInterval,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(from_fields(1, 1, 1, 0, 0, 0, 0), Some(0));
        assert_eq!(from_fields(9999, 12, 31, 23, 59, 59, 999_999), Some(MAX));
        assert_eq!(from_fields(2000, 2, 29, 0, 0, 0, 0).map(|t| t / MICROS_PER_DAY), Some(730_178));
        assert_eq!(from_fields(1900, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(from_fields(2023, 1, 1, 23, 59, 60, 0), None);
        assert_eq!(from_fields(0, 1, 1, 0, 0, 0, 0), None);
    }

    #[test]
    fn observed_timestamps() {
        let t = |s| parse_observed(s);
        let base = from_fields(2010, 5, 21, 13, 21, 43, 0).unwrap();
        assert_eq!(t("2010-05-21T13:21:43Z"), Some(base));
        assert_eq!(t("2010-05-21T13:21:43.1234Z"), Some(base + 123_400));
        assert_eq!(t("2010-05-21T13:21:43.123456789Z"), Some(base + 123_456));
        assert_eq!(t("2010-5-21T13:21:43Z"), Some(base));
        assert_eq!(t("2010-05-21T13:21:43.1234567Z"), Some(base + 123_456));
        assert_eq!(t("2010-05-21T13:21:43.12345678Z"), Some(base + 123_456));
        assert_eq!(from_fields(2010, 5, 1, 0, 0, 0, 0), t("2010-05- 1T00:00:00Z"));
        for bad in [
            "2010-05-21T13:21:43", "2010-05-21T13:21:43z", "2010-05-21t13:21:43Z", "2010/05/21T13:21:43Z",
            "2010-05-21T13:21:99Z", "2010-05-21T13:21Z", "2010-05-21T13:21:60Z", "2010-02-30T00:00:00Z",
            "2010-05-21T13:21:43.Z", "2010-05-21T13:21:43ZZ", "", "0000-01-01T00:00:00Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn within_durations() {
        assert_eq!(within_micros(1.0), Some(1_000_000));
        assert_eq!(within_micros(0.0001), Some(100));
        assert_eq!(within_micros(4.9999), Some(4_999_900));
        assert_eq!(within_micros(86_400.5), Some(86_400_500_000));
        assert_eq!(within_micros(f64::INFINITY), None);
    }
}
