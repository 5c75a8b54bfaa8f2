//! JSON Canonicalization Scheme (RFC 8785) output for `serde_json::Value`.
//!
//! Used for two things that must not depend on how a producer ordered keys or spaced its
//! JSON: deterministic SCO ids (the STIX spec names JCS) and the content hash that decides
//! whether a re-ingested version is identical to the stored one.

use serde_json::Value;

/// Writes `v` in RFC 8785 form: no whitespace, object keys sorted by their UTF-16 code
/// units, strings with the minimal JSON escapes, numbers in ECMAScript form.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_canonical(v, &mut out).expect("writing to a String cannot fail");
    out
}

/// Writes the canonical form of `v` into any `fmt::Write` sink: a hasher adapter can
/// consume it without the intermediate String.
pub fn write_canonical<W: std::fmt::Write>(v: &Value, out: &mut W) -> std::fmt::Result {
    write_value(v, out)
}

fn write_value<W: std::fmt::Write>(v: &Value, out: &mut W) -> std::fmt::Result {
    match v {
        Value::Null => out.write_str("null"),
        Value::Bool(b) => out.write_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.write_char('[')?;
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write_value(x, out)?;
            }
            out.write_char(']')
        }
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            // RFC 8785 sorts by UTF-16 code units. That differs from byte order only when
            // a key holds characters above U+FFFF, so take the cheap path when none does.
            if entries.iter().all(|(k, _)| k.is_ascii()) {
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            } else {
                entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            }
            out.write_char('{')?;
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write_string(k, out)?;
                out.write_char(':')?;
                write_value(v, out)?;
            }
            out.write_char('}')
        }
    }
}

fn write_number<W: std::fmt::Write>(n: &serde_json::Number, out: &mut W) -> std::fmt::Result {
    if let Some(i) = n.as_i64() {
        write!(out, "{i}")
    } else if let Some(u) = n.as_u64() {
        write!(out, "{u}")
    } else if let Some(f) = n.as_f64() {
        let mut s = String::new();
        write_f64(f, &mut s);
        out.write_str(&s)
    } else {
        Ok(())
    }
}

/// ECMAScript `Number.prototype.toString` for finite doubles.
fn write_f64(f: f64, out: &mut String) {
    if f == 0.0 {
        out.push('0');
        return;
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        out.push_str(&format!("{f:.0}"));
        return;
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as ECMAScript requires.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("scientific format");
    let exp: i32 = exp.parse().expect("exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

fn write_string<W: std::fmt::Write>(s: &str, out: &mut W) -> std::fmt::Result {
    out.write_char('"')?;
    // Copy runs that need no escaping in one call; most STIX strings are all one run.
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{:04x}", b)?;
        } else {
            out.write_str(escape)?;
        }
        start = i + 1;
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_strips_space() {
        let v = json!({"b": [1, {"z": null, "a": true}], "a": "x\ny\u{1}"});
        assert_eq!(canonical_json(&v), r#"{"a":"x\ny\u0001","b":[1,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn numbers_follow_ecmascript() {
        // Cases from RFC 8785 appendix B.
        for (f, s) in [
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (333333333.3333333, "333333333.3333333"),
            (-1.5, "-1.5"),
            (4.5, "4.5"),
        ] {
            let mut out = String::new();
            write_f64(f, &mut out);
            assert_eq!(out, s, "{f}");
        }
    }
}
