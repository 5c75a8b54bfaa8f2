//! Observable extraction as a table: (pattern, expected (key, value, observation)
//! triples in source order). Sentinel's `ThreatIntelIndicators` mis-splits compound
//! patterns (Azure-Sentinel issue 12075); the compound rows are the point.

use cairn_pattern::{observables, parse, Observable, Version};

/// (key, value, observation)
type Expected = &'static [(&'static str, &'static str, usize)];

#[rustfmt::skip]
const CASES: &[(&str, Expected)] = &[
    ("[ipv4-addr:value = '198.51.100.3']", &[("ipv4-addr:value", "198.51.100.3", 0)]),
    ("[ipv4-addr:value == '198.51.100.3']", &[("ipv4-addr:value", "198.51.100.3", 0)]),
    (
        "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        &[("file:hashes.'SHA-256'", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", 0)],
    ),
    // Keys are printed canonically: quotes only where the grammar needs them.
    ("[file:hashes.'MD5' = '79054025255fb1a26e4bc422aef54eb4']", &[("file:hashes.MD5", "79054025255fb1a26e4bc422aef54eb4", 0)]),
    ("[file:'name' = 'x.exe']", &[("file:name", "x.exe", 0)]),
    ("[network-traffic:src_ref.value = '10.0.0.1' AND network-traffic:dst_port = 443]",
        &[("network-traffic:src_ref.value", "10.0.0.1", 0), ("network-traffic:dst_port", "443", 0)]),
    ("[x509-certificate:serial_number = '36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06']",
        &[("x509-certificate:serial_number", "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06", 0)]),
    // Sentinel's failure case: AND inside one observation, OR between observations.
    ("[file:hashes.'SHA-256' = 'abc' AND file:name = 'evil.exe'] OR [ipv4-addr:value = '1.2.3.4']",
        &[("file:hashes.'SHA-256'", "abc", 0), ("file:name", "evil.exe", 0), ("ipv4-addr:value", "1.2.3.4", 1)]),
    ("[file:hashes.MD5 = 'a' OR file:hashes.'SHA-1' = 'b']", &[("file:hashes.MD5", "a", 0), ("file:hashes.'SHA-1'", "b", 0)]),
    ("[(a:b = 'x' OR (a:c = 'y' AND a:d = 'z'))]", &[("a:b", "x", 0), ("a:c", "y", 0), ("a:d", "z", 0)]),
    ("[domain-name:value = 'example.com'] AND [url:value = 'http://example.com/x']",
        &[("domain-name:value", "example.com", 0), ("url:value", "http://example.com/x", 1)]),
    ("([ipv4-addr:value = '1.1.1.1'] OR [ipv4-addr:value = '2.2.2.2']) FOLLOWEDBY [domain-name:value = 'x.org'] WITHIN 10 SECONDS",
        &[("ipv4-addr:value", "1.1.1.1", 0), ("ipv4-addr:value", "2.2.2.2", 1), ("domain-name:value", "x.org", 2)]),
    ("[a:b = '1'] AND ([a:b = '2'] OR ([a:b = '3'] FOLLOWEDBY [a:b = '4']))",
        &[("a:b", "1", 0), ("a:b", "2", 1), ("a:b", "3", 2), ("a:b", "4", 3)]),
    // An observation without equality still counts in the numbering.
    ("[a:b > 5] AND [a:c = 'x']", &[("a:c", "x", 1)]),
    ("[x509-certificate:serial_number = '01'] REPEATS 2 TIMES", &[("x509-certificate:serial_number", "01", 0)]),
    ("[email-addr:value = 'a@example.com'] START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'",
        &[("email-addr:value", "a@example.com", 0)]),
    // Only `=` without NOT.
    ("[a:b != 'x' AND a:c NOT = 'y' AND a:d IN ('z') AND a:e LIKE 'w%' AND a:f MATCHES '^v' AND a:g ISSUBSET '10.0.0.0/8' AND a:h = 'kept']",
        &[("a:h", "kept", 0)]),
    ("[a:b NOT != 'x']", &[]),
    ("[a:b > 5]", &[]),
    // Every literal kind, as text.
    (r"[x:i = -5 AND x:f = 2.50 AND x:w = 7.0 AND x:t = true AND x:h = h'AbCd' AND x:b = b'AQIDBA==' AND x:ts = t'2016-01-01T00:00:00.10Z' AND x:s = 'it\'s \\ fine']",
        &[("x:i", "-5", 0), ("x:f", "2.5", 0), ("x:w", "7.0", 0), ("x:t", "true", 0), ("x:h", "abcd", 0), ("x:b", "AQIDBA==", 0),
          ("x:ts", "2016-01-01T00:00:00.10Z", 0), ("x:s", r"it's \ fine", 0)]),
    (r"[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\x']", &[("windows-registry-key:key", r"HKEY_LOCAL_MACHINE\SOFTWARE\x", 0)]),
    ("[x:list[0].y = 'v' AND x:list[*] = 'w' AND x:'a b'.'c-d' = 'z']",
        &[("x:list[0].y", "v", 0), ("x:list[*]", "w", 0), ("x:'a b'.'c-d'", "z", 0)]),
    ("[file:name = 'a'\n   AND /* comment */ file:size = 10]", &[("file:name", "a", 0), ("file:size", "10", 0)]),
];

#[test]
fn observable_table() {
    for (pattern, want) in CASES {
        for version in [Version::V21, Version::V20] {
            let p = parse(pattern, version).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            let got = observables(&p);
            let want: Vec<Observable> = want
                .iter()
                .map(|(k, v, o)| Observable { key: (*k).into(), value: (*v).into(), observation: *o })
                .collect();
            assert_eq!(got, want, "{pattern}");
        }
    }
}

/// Every key parses back as the object path it came from.
#[test]
fn keys_are_pattern_syntax() {
    for (pattern, _) in CASES {
        let p = parse(pattern, Version::V21).expect("parses");
        for o in observables(&p) {
            let again = format!("[{} = 1]", o.key);
            let q = parse(&again, Version::V21).unwrap_or_else(|e| panic!("{again}: {e}"));
            assert_eq!(observables(&q)[0].key, o.key);
        }
    }
}
