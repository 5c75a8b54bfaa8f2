//! Values as the reference's Python sees them, and its comparison tables.
//!
//! JSON gives `str`, `int` (a number without fraction or exponent), `float`, `bool`,
//! `None`, `list` and `dict`; properties named `…_hex`/`…_bin` become `bytes`; a
//! dereferenced `…_refs` list is a `list` of objects. The reference compares a value with
//! a literal through tables keyed by the two Python types (`_COMPARE_EQ_FUNCS`,
//! `_COMPARE_ORDER_FUNCS`): a pair without an entry is "not equal" and "not ordered".
//! `IN` instead uses Python set membership, where `True == 1 == 1.0`.

use std::cmp::Ordering;

use serde_json::Value;

use super::time::Micros;

/// `map.get(key)`, scanning small maps: the map hashes the key with SipHash, which costs
/// more than comparing a few short keys, and STIX objects are small.
pub(crate) fn get<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if m.len() <= 12 {
        m.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    } else {
        m.get(key)
    }
}

/// [`get`] on any value (`None` unless it is an object).
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => get(m, key),
        _ => None,
    }
}

/// A value selected by an object path.
#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Json(&'a Value),
    /// The decoded value of a `…_hex` or `…_bin` property.
    Bytes(Vec<u8>),
    /// A dereferenced `…_refs` list: the objects its references resolved to, in order.
    Objects(Vec<&'a Value>),
}

/// A pattern literal as the reference coerces it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Num(Num),
    Str(String),
    Bool(bool),
    /// `h'…'` and `b'…'` alike (both are `bytes` in Python).
    Bytes(Vec<u8>),
    Time(Micros),
}

/// A Python `int` or `float`, compared exactly (Python compares `int` with `float`
/// without rounding either).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    /// An integer outside `i128`: sign and decimal digits without leading zeros.
    Big {
        negative: bool,
        digits: Box<str>,
    },
    /// Never NaN (neither JSON nor the grammar has one).
    Float(f64),
}

impl Num {
    pub(crate) fn from_json(n: &serde_json::Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Num::Int(i128::from(u))
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    fn sign(&self) -> Ordering {
        match self {
            Num::Int(i) => i.cmp(&0),
            Num::Big { negative: true, .. } => Ordering::Less,
            Num::Big { .. } => Ordering::Greater,
            Num::Float(f) => f.partial_cmp(&0.0).unwrap_or(Ordering::Equal),
        }
    }

    /// Exact comparison. `None` only for a NaN, which no input produces.
    pub(crate) fn cmp(&self, other: &Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(b)),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(b),
            (Num::Int(i), Num::Float(f)) => cmp_int_float(*i, *f),
            (Num::Float(f), Num::Int(i)) => cmp_int_float(*i, *f).map(Ordering::reverse),
            (Num::Big { negative, digits }, Num::Big { negative: n2, digits: d2 }) => Some(match (negative, n2) {
                (false, true) => Ordering::Greater,
                (true, false) => Ordering::Less,
                (false, false) => cmp_digits(digits, d2),
                (true, true) => cmp_digits(d2, digits),
            }),
            // Every `Big` lies outside the `i128` range.
            (Num::Big { .. }, Num::Int(_)) => Some(self.sign()),
            (Num::Int(_), Num::Big { .. }) => Some(other.sign().reverse()),
            (Num::Big { negative, digits }, Num::Float(f)) => cmp_big_float(*negative, digits, *f),
            (Num::Float(f), Num::Big { negative, digits }) => {
                cmp_big_float(*negative, digits, *f).map(Ordering::reverse)
            }
        }
    }
}

fn cmp_digits(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^127: beyond it every f64 is outside the i128 range.
    if f >= 1.7014118346046923e38 {
        return Some(Ordering::Less);
    }
    if f < -1.7014118346046923e38 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    Some(i.cmp(&(t as i128)).then_with(|| 0.0f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal)))
}

fn cmp_big_float(negative: bool, digits: &str, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 { Ordering::Less } else { Ordering::Greater });
    }
    // A finite f64 beyond i128 is a whole number; Rust prints it exactly.
    let t = f.trunc();
    let f_negative = t < 0.0;
    let f_digits = format!("{:.0}", t.abs());
    let by_magnitude = match (negative, f_negative) {
        (false, true) => return Some(Ordering::Greater),
        (true, false) => return Some(Ordering::Less),
        (false, false) => cmp_digits(digits, &f_digits),
        (true, true) => cmp_digits(&f_digits, digits),
    };
    // A whole `Big` never equals a float with a fraction; those differ below the point.
    Some(by_magnitude.then_with(|| {
        if f - t > 0.0 {
            Ordering::Less
        } else if f - t < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }))
}

/// The Python type of a value, as far as the comparison tables care.
enum Ty<'v> {
    Int(Num),
    Float(f64),
    Str(&'v str),
    Bool(bool),
    Bytes(&'v [u8]),
    /// `None`, `list`, `dict`: in no table.
    Other,
}

fn ty<'v>(v: &'v Val<'_>) -> Ty<'v> {
    match v {
        Val::Json(Value::String(s)) => Ty::Str(s),
        Val::Json(Value::Bool(b)) => Ty::Bool(*b),
        Val::Json(Value::Number(n)) => match Num::from_json(n) {
            Num::Float(f) => Ty::Float(f),
            i => Ty::Int(i),
        },
        Val::Bytes(b) => Ty::Bytes(b),
        _ => Ty::Other,
    }
}

/// A `str` as `bytes` for the string/binary comparisons: only when every code point is
/// below 256, each becoming one byte.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// `_COMPARE_EQ_FUNCS`: `=` of a value (already converted to a timestamp where the
/// literal is one, see [`observed_time`]) and a literal. Pairs without an entry are
/// unequal.
pub(crate) fn equal(value: &Val<'_>, time: Option<Micros>, lit: &Lit) -> bool {
    if let (Lit::Time(t), Some(v)) = (lit, time) {
        return *t == v;
    }
    match (ty(value), lit) {
        (Ty::Int(a), Lit::Num(b)) => a.cmp(b) == Some(Ordering::Equal),
        (Ty::Float(a), Lit::Num(b)) => {
            matches!(b, Num::Int(_) | Num::Big { .. } | Num::Float(_)) && Num::Float(a).cmp(b) == Some(Ordering::Equal)
        }
        (Ty::Str(a), Lit::Str(b)) => a == b,
        (Ty::Bool(a), Lit::Bool(b)) => a == *b,
        (Ty::Bytes(a), Lit::Bytes(b)) => a == &b[..],
        (Ty::Bytes(a), Lit::Str(s)) => latin1(s).is_some_and(|s| s == a),
        (Ty::Str(s), Lit::Bytes(b)) => latin1(s).is_some_and(|s| s == *b),
        _ => false,
    }
}

/// The outcome of an order comparison through `_COMPARE_ORDER_FUNCS`.
pub(crate) enum Order {
    /// No entry for the two types: the comparison is false, `NOT` included.
    Unordered,
    /// The string/binary comparison raised (a code point above 255): false before `NOT`.
    Invalid,
    Ordered(Ordering),
}

/// Order of a value against a literal (value first).
pub(crate) fn order(value: &Val<'_>, time: Option<Micros>, lit: &Lit) -> Order {
    if let (Lit::Time(t), Some(v)) = (lit, time) {
        return Order::Ordered(v.cmp(t));
    }
    let known = |o: Option<Ordering>| o.map_or(Order::Ordered(Ordering::Equal), Order::Ordered);
    match (ty(value), lit) {
        (Ty::Int(a), Lit::Num(b)) => known(a.cmp(b)),
        (Ty::Float(a), Lit::Num(b)) => known(Num::Float(a).cmp(b)),
        (Ty::Str(a), Lit::Str(b)) => Order::Ordered(a.cmp(b.as_str())),
        (Ty::Bytes(a), Lit::Bytes(b)) => Order::Ordered(a.cmp(&b[..])),
        (Ty::Bytes(a), Lit::Str(s)) => latin1(s).map_or(Order::Invalid, |s| Order::Ordered(a.cmp(&s[..]))),
        (Ty::Str(s), Lit::Bytes(b)) => latin1(s).map_or(Order::Invalid, |s| Order::Ordered(s[..].cmp(&b[..]))),
        _ => Order::Unordered,
    }
}

/// The value as an observed timestamp, for comparisons with a timestamp literal: the
/// reference converts every `str` value then and fails the whole match on a bad one.
/// `Ok(None)` for values that are not strings (they compare as their own type).
pub(crate) fn observed_time(value: &Val<'_>) -> Result<Option<Micros>, String> {
    match value {
        Val::Json(Value::String(s)) => super::time::parse_observed(s).map(Some).ok_or_else(|| s.clone()),
        _ => Ok(None),
    }
}

/// The literal set of an `IN`, indexed for Python's `value in set`. Invariant: the
/// reference's homogeneity rule holds (one type, or only `int`s and `float`s).
#[derive(Debug, Default)]
pub(crate) struct LitSet {
    strings: std::collections::HashSet<String>,
    /// Numbers, `bool`s included as 0 and 1 (`True in {1}` is true in Python).
    numbers: Vec<Num>,
    bytes: Vec<Vec<u8>>,
    times: Vec<Micros>,
}

impl LitSet {
    pub(crate) fn new(items: Vec<Lit>) -> LitSet {
        let mut set = LitSet::default();
        for item in items {
            match item {
                Lit::Num(n) => set.numbers.push(n),
                Lit::Bool(b) => set.numbers.push(Num::Int(i128::from(b))),
                Lit::Str(s) => {
                    set.strings.insert(s);
                }
                Lit::Bytes(b) => set.bytes.push(b),
                Lit::Time(t) => set.times.push(t),
            }
        }
        set
    }

    /// Whether the set holds timestamps (the reference then reads `str` values as
    /// timestamps).
    pub(crate) fn of_times(&self) -> bool {
        !self.times.is_empty()
    }

    pub(crate) fn contains(&self, value: &Val<'_>, time: Option<Micros>) -> bool {
        if let Some(t) = time {
            return self.times.contains(&t);
        }
        let num = |n: Num| self.numbers.iter().any(|m| n.cmp(m) == Some(Ordering::Equal));
        match ty(value) {
            Ty::Str(s) => self.strings.contains(s),
            Ty::Int(n) => num(n),
            Ty::Float(f) => num(Num::Float(f)),
            Ty::Bool(b) => num(Num::Int(i128::from(b))),
            Ty::Bytes(b) => self.bytes.iter().any(|x| x == b),
            Ty::Other => false,
        }
    }
}

/// `binascii.a2b_hex` of a `…_hex` property's value; `None` where Python raises (not a
/// string, not ASCII, odd length, not hex).
pub(crate) fn decode_hex(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?.as_bytes();
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? << 4 | d(p[1])?) as u8)
        })
        .collect()
}

/// `base64.standard_b64decode` of a `…_bin` property's value, as CPython 3.11's
/// non-strict `a2b_base64` reads it: characters outside the alphabet are skipped, `=`
/// ends the data once it completes a quartet, and a dangling partial quartet is an
/// error. `None` where Python raises (also for a non-string or non-ASCII value).
pub(crate) fn decode_base64(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    if !s.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut quad_pos, mut left, mut pads) = (0u8, 0u8, 0u8);
    for c in s.bytes() {
        if c == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Some(out);
                }
            }
            continue;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        pads = 0;
        match quad_pos {
            0 => {
                quad_pos = 1;
                left = v;
            }
            1 => {
                quad_pos = 2;
                out.push(left << 2 | v >> 4);
                left = v & 0x0f;
            }
            2 => {
                quad_pos = 3;
                out.push(left << 4 | v >> 2);
                left = v & 0x03;
            }
            _ => {
                quad_pos = 0;
                out.push(left << 6 | v);
                left = 0;
            }
        }
    }
    (quad_pos == 0).then_some(out)
}

/// `socket.inet_aton` (glibc's): dotted parts in C notation (decimal, `0` octal, `0x`
/// hex), the last part filling the remaining bytes (`10.1` is 10.0.0.1), and anything
/// after ASCII whitespace ignored. `None` where Python raises (an embedded NUL is a
/// `ValueError` there).
pub(crate) fn inet_aton(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.contains(&0) {
        return None;
    }
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut parts: Vec<u32> = Vec::with_capacity(4);
    let value;
    loop {
        if !at(i).is_ascii_digit() {
            return None;
        }
        // `strtoul(cp, &end, 0)`.
        let (base, mut j) = if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' && at(i + 2).is_ascii_hexdigit() {
            (16, i + 2)
        } else if at(i) == b'0' {
            (8, i)
        } else {
            (10, i)
        };
        let mut v: u64 = 0;
        while let Some(d) = (at(j) as char).to_digit(base) {
            v = v.saturating_mul(u64::from(base)).saturating_add(u64::from(d));
            j += 1;
        }
        if v > 0xffff_ffff {
            return None;
        }
        i = j;
        if at(i) == b'.' {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(v as u32);
            i += 1;
        } else {
            value = v as u32;
            break;
        }
    }
    let c = at(i);
    if c != 0 && !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let max = [0xffff_ffffu32, 0xff_ffff, 0xffff, 0xff][parts.len()];
    if value > max {
        return None;
    }
    Some(parts.iter().enumerate().fold(value, |acc, (k, p)| acc | p << (24 - 8 * k)))
}

/// `_cidr_subnet_to_ints`: `ip/prefix` with a prefix of 1 to 32 (`str.isdigit` digits).
/// `None` where the reference raises. Known difference: a prefix in non-ASCII digits,
/// which Python's `int` reads, is rejected here.
pub(crate) fn cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, prefix) = s.split_once('/')?;
    let ip = inet_aton(ip)?;
    if prefix.is_empty() || !prefix.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let prefix: u32 =
        prefix.trim_start_matches('0').parse().unwrap_or(if prefix.bytes().all(|c| c == b'0') { 0 } else { 99 });
    (1..=32).contains(&prefix).then_some((ip, prefix))
}

/// An address or a subnet (`_ip_or_cidr_in_subnet`'s first argument): an address is a
/// /32.
pub(crate) fn ip_or_cidr(s: &str) -> Option<(u32, u32)> {
    if s.contains('/') {
        cidr(s)
    } else {
        inet_aton(s).map(|ip| (ip, 32))
    }
}

/// Whether `inner` (address, prefix) lies within the subnet `outer`.
pub(crate) fn in_subnet(inner: (u32, u32), outer: (u32, u32)) -> bool {
    if outer.1 > inner.1 {
        return false;
    }
    let mask = if outer.1 == 0 { 0 } else { u32::MAX << (32 - outer.1) };
    inner.0 & mask == outer.0 & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_exactly() {
        let i = |n| Num::Int(n);
        let f = |x| Num::Float(x);
        assert_eq!(i(12).cmp(&f(12.0)), Some(Ordering::Equal));
        assert_eq!(i(9_007_199_254_740_993).cmp(&f(9_007_199_254_740_992.0)), Some(Ordering::Greater));
        assert_eq!(i(5).cmp(&f(5.1)), Some(Ordering::Less));
        assert_eq!(i(-5).cmp(&f(-5.1)), Some(Ordering::Greater));
        assert_eq!(f(1e300).cmp(&i(i128::MAX)), Some(Ordering::Greater));
        let big = Num::Big { negative: false, digits: "1".repeat(40).into() };
        assert_eq!(big.cmp(&i(i128::MAX)), Some(Ordering::Greater));
        assert_eq!(big.cmp(&f(f64::INFINITY)), Some(Ordering::Less));
        assert_eq!(big.cmp(&f(1e39)), Some(Ordering::Greater));
        assert_eq!(big.cmp(&f(1e40)), Some(Ordering::Less));
        let exact = Num::Big { negative: false, digits: format!("{:.0}", 1e40).into() };
        assert_eq!(exact.cmp(&f(1e40)), Some(Ordering::Equal));
    }

    #[test]
    fn base64_like_cpython() {
        let d = |s: &str| decode_base64(&Value::from(s));
        assert_eq!(d("YWxpY2U=").as_deref(), Some(&b"alice"[..]));
        assert_eq!(d("YW=xpY2U=").as_deref(), Some(&b"alice"[..]));
        assert_eq!(d("YW xp Y2U=").as_deref(), Some(&b"alice"[..]));
        assert_eq!(d("YQ===").as_deref(), Some(&b"a"[..]));
        assert_eq!(d("YQ==YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(d("=YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(d("Y=Q==").as_deref(), Some(&b"a"[..]));
        assert_eq!(d("YWJj=").as_deref(), Some(&b"abc"[..]));
        assert_eq!(d("").as_deref(), Some(&b""[..]));
        for bad in ["YWxpY2U", "Y", "YQ", "YQ=", "YWJjZA=", "é"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn inet_aton_like_glibc() {
        let a = |s| inet_aton(s);
        assert_eq!(a("1.2.3.4"), Some(0x01020304));
        assert_eq!(a("1.2.3.4 junk"), Some(0x01020304));
        assert_eq!(a("10.1"), Some(0x0a000001));
        assert_eq!(a("1.2.3"), Some(0x01020003));
        assert_eq!(a("16909060"), Some(0x01020304));
        assert_eq!(a("0x7f.1"), Some(0x7f000001));
        assert_eq!(a("017.0.0.1"), Some(0x0f000001));
        for bad in [
            "", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "08.1.1.1", "1.2.3.4x", "a.b.c.d", "1..2", "1.2.3.", "::1",
            "1.2.3.4\0",
        ] {
            assert_eq!(a(bad), None, "{bad:?}");
        }
        assert_eq!(cidr("11.22.33.44/20"), Some((0x0b16212c, 20)));
        assert_eq!(cidr("1.2.3.4/0"), None);
        assert_eq!(cidr("1.2.3.4/33"), None);
        assert_eq!(cidr("1.2.3.4/"), None);
        assert_eq!(cidr("1.2.3.4"), None);
        assert!(in_subnet(ip_or_cidr("11.22.33.44").unwrap(), cidr("11.22.41.123/20").unwrap()));
        assert!(!in_subnet(ip_or_cidr("11.22.33.44").unwrap(), cidr("11.22.123.41/20").unwrap()));
    }
}
