//! Unit tests of the public API as tables: canonical printing, tree shapes, error
//! messages, the validate-only checks, limits. The reference's own cases are in
//! `tests/reference.rs`.

use crate::*;

fn p21(s: &str) -> Pattern {
    parse(s, Version::V21).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// (input, version, canonical form). Each canonical form must also parse back to the
/// same tree and be its own canonical form.
const CANONICAL: &[(&str, Version, &str)] = &[
    ("[file:size == 1280]", Version::V21, "[file:size = 1280]"),
    ("[a:b <> 1]", Version::V21, "[a:b != 1]"),
    ("[a:b NOT != 1]", Version::V21, "[a:b NOT != 1]"),
    ("[a:'b'.'c'.'d-e'[+1][*] = +5]", Version::V21, "[a:b.c.'d-e'[1][*] = 5]"),
    ("[a:'AND'.'true'.'' = 1]", Version::V21, "[a:'AND'.'true'.'' = 1]"),
    ("[a:EXISTS.x = 1]", Version::V20, "[a:'EXISTS'.x = 1]"),
    ("[x-y_z:_a1 = 1]", Version::V21, "[x-y_z:_a1 = 1]"),
    ("[x:y = 7.0]", Version::V21, "[x:y = 7.0]"),
    ("[x:y = .5]", Version::V21, "[x:y = 0.5]"),
    ("[x:y = -.5]", Version::V21, "[x:y = -0.5]"),
    ("[x:y = +01.50]", Version::V21, "[x:y = 1.5]"),
    ("[x:y = -0]", Version::V21, "[x:y = 0]"),
    ("[x:y = -0.0]", Version::V21, "[x:y = -0.0]"),
    (
        "[x:y = 99999999999999999999999999999999999999999]",
        Version::V21,
        "[x:y = 99999999999999999999999999999999999999999]",
    ),
    (
        "[x:y = -170141183460469231731687303715884105729]",
        Version::V21,
        "[x:y = -170141183460469231731687303715884105729]",
    ),
    (
        "[x:y = -170141183460469231731687303715884105728]",
        Version::V21,
        "[x:y = -170141183460469231731687303715884105728]",
    ),
    (r"[x:y = 'a\'b\\c']", Version::V21, r"[x:y = 'a\'b\\c']"),
    ("[x:y = 'line\nbreak']", Version::V21, "[x:y = 'line\nbreak']"),
    ("[x:y = h'AbCd'] AND [x:y = h'']", Version::V21, "[x:y = h'abcd'] AND [x:y = h'']"),
    (
        "[x:y = b'AB=='] OR [x:y = b'ABC='] OR [x:y = b'ABCD']",
        Version::V21,
        "[x:y = b'AA=='] OR [x:y = b'ABA='] OR [x:y = b'ABCD']",
    ),
    ("[x:y > t'2016-02-30T23:59:60.1230Z']", Version::V21, "[x:y > t'2016-02-30T23:59:60.1230Z']"),
    ("[x:y IN(1,'a' , true,h'00')]", Version::V21, "[x:y IN (1, 'a', true, h'00')]"),
    ("[x:y NOT IN ()]", Version::V21, "[x:y NOT IN ()]"),
    ("[x:y NOT LIKE 'a%' AND x:y MATCHES '^a\\\\d$']", Version::V21, "[x:y NOT LIKE 'a%' AND x:y MATCHES '^a\\\\d$']"),
    (
        "[x:y ISSUBSET '10.0.0.0/8' OR x:y NOT ISSUPERSET '10.0.0.1']",
        Version::V21,
        "[x:y ISSUBSET '10.0.0.0/8' OR x:y NOT ISSUPERSET '10.0.0.1']",
    ),
    ("[NOT EXISTS x:y[*] AND EXISTS x:z]", Version::V21, "[NOT EXISTS x:y[*] AND EXISTS x:z]"),
    ("(([a:b = 1]))", Version::V21, "[a:b = 1]"),
    ("[((a:b = 1))]", Version::V21, "[a:b = 1]"),
    ("([a:b = 1] OR [a:b = 2]) AND [a:b = 3]", Version::V21, "([a:b = 1] OR [a:b = 2]) AND [a:b = 3]"),
    ("[a:b = 1] OR [a:b = 2] AND [a:b = 3]", Version::V21, "[a:b = 1] OR [a:b = 2] AND [a:b = 3]"),
    ("[a:b = 1] AND ([a:b = 2] AND [a:b = 3])", Version::V21, "[a:b = 1] AND ([a:b = 2] AND [a:b = 3])"),
    (
        "[a:b = 1] FOLLOWEDBY [a:b = 2] OR [a:b = 3] FOLLOWEDBY [a:b = 4]",
        Version::V21,
        "[a:b = 1] FOLLOWEDBY [a:b = 2] OR [a:b = 3] FOLLOWEDBY [a:b = 4]",
    ),
    ("[(a:b = 1 OR a:b = 2) AND a:b = 3]", Version::V21, "[(a:b = 1 OR a:b = 2) AND a:b = 3]"),
    ("[a:b = 1 OR (a:b = 2 OR a:b = 3)]", Version::V21, "[a:b = 1 OR (a:b = 2 OR a:b = 3)]"),
    ("[a:b = 1]WITHIN +5 SECONDS REPEATS 2 TIMES", Version::V21, "[a:b = 1] WITHIN 5 SECONDS REPEATS 2 TIMES"),
    ("([a:b = 1] OR [a:b = 2]) WITHIN 5.0 SECONDS", Version::V21, "([a:b = 1] OR [a:b = 2]) WITHIN 5 SECONDS"),
    ("[a:b = 1] WITHIN .5 SECONDS", Version::V21, "[a:b = 1] WITHIN 0.5 SECONDS"),
    // A repeated qualifier kind is printed behind parentheses, where 2.1 allows it.
    ("([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS", Version::V21, "([a:b = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS"),
    (
        "(([a:b = 1] REPEATS 2 TIMES) WITHIN 1 SECONDS) REPEATS 3 TIMES REPEATS 4 TIMES",
        Version::V21,
        "([a:b = 1] REPEATS 2 TIMES WITHIN 1 SECONDS) REPEATS 3 TIMES REPEATS 4 TIMES",
    ),
    ("[a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES", Version::V20, "([a:b = 1] REPEATS 2 TIMES) REPEATS 3 TIMES"),
    (
        "[a:b = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T01:30:00.000Z'",
        Version::V21,
        "[a:b = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T01:30:00.000Z'",
    ),
    ("\u{3000}[ a:b\n=/*x*/1 ] // end", Version::V21, "[a:b = 1]"),
];

#[test]
fn canonical_form() {
    for (input, version, canonical) in CANONICAL {
        let tree = parse(input, *version).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(tree.to_string(), *canonical, "{input}");
        assert_eq!(parse(canonical, *version).as_ref(), Ok(&tree), "{canonical}");
        assert!(validate(canonical, *version).is_ok(), "{canonical}");
    }
}

#[test]
fn huge_numbers_print_as_literals_that_read_back() {
    let big = format!("[x:y = 1{}.0] WITHIN 1{} SECONDS", "0".repeat(400), "0".repeat(400));
    let tree = p21(&big);
    let ObservationExpr::Qualified { expr, qualifiers } = &tree.expr else { panic!() };
    assert_eq!(qualifiers[0], Qualifier::Within(f64::INFINITY));
    let ObservationExpr::Observation(ComparisonExpr::Comparison(c)) = &**expr else { panic!() };
    assert_eq!(c.op, ComparisonOp::Equal(Literal::Float(f64::INFINITY)));
    assert_eq!(p21(&tree.to_string()), tree);
    let t = p21("[x:y = 1] REPEATS 99999999999999999999999 TIMES");
    assert!(t.to_string().ends_with(&format!("REPEATS {} TIMES", u64::MAX)));
}

fn cmp(path: ObjectPath, negated: bool, op: ComparisonOp) -> ComparisonExpr {
    ComparisonExpr::Comparison(Comparison { path, negated, op })
}

fn path(ty: &str, prop: &str, steps: Vec<PathStep>) -> ObjectPath {
    ObjectPath { object_type: ty.into(), property: prop.into(), steps }
}

#[test]
fn tree_shapes() {
    let t = p21("[file:hashes.'SHA-256' = 'ab' AND file:size > 10 OR NOT EXISTS file:x[0]] AND [a:b IN (1.5, b'AQ==')] REPEATS 2 TIMES FOLLOWEDBY [a:c = t'2020-01-01T00:00:00Z'] WITHIN 60 SECONDS");
    let first = ObservationExpr::Observation(ComparisonExpr::Or(vec![
        ComparisonExpr::And(vec![
            cmp(
                path("file", "hashes", vec![PathStep::Key("SHA-256".into())]),
                false,
                ComparisonOp::Equal(Literal::String("ab".into())),
            ),
            cmp(path("file", "size", vec![]), false, ComparisonOp::Greater(Literal::Int(10))),
        ]),
        cmp(path("file", "x", vec![PathStep::Index(0)]), true, ComparisonOp::Exists),
    ]));
    let second = ObservationExpr::Qualified {
        expr: Box::new(ObservationExpr::Observation(cmp(
            path("a", "b", vec![]),
            false,
            ComparisonOp::In(vec![Literal::Float(1.5), Literal::Binary(vec![1])]),
        ))),
        qualifiers: vec![Qualifier::Repeats(2)],
    };
    let ts = Timestamp::parse("2020-01-01T00:00:00Z").unwrap();
    let third = ObservationExpr::Qualified {
        expr: Box::new(ObservationExpr::Observation(cmp(
            path("a", "c", vec![]),
            false,
            ComparisonOp::Equal(Literal::Timestamp(ts)),
        ))),
        qualifiers: vec![Qualifier::Within(60.0)],
    };
    assert_eq!(t.expr, ObservationExpr::FollowedBy(vec![ObservationExpr::And(vec![first, second]), third]));

    let names: Vec<String> = t.comparisons().map(|c| c.path.to_string()).collect();
    assert_eq!(names, ["file:hashes.'SHA-256'", "file:size", "file:x[0]", "a:b", "a:c"]);
}

#[test]
fn qualifier_stacks_are_one_list() {
    let a = p21(
        "(([a:b = 1] WITHIN 1 SECONDS) REPEATS 2 TIMES) START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
    );
    let b =
        p21("[a:b = 1] WITHIN 1 SECONDS REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'");
    assert_eq!(a, b);
    let ObservationExpr::Qualified { qualifiers, .. } = &a.expr else { panic!() };
    let kinds: Vec<QualifierKind> = qualifiers.iter().map(Qualifier::kind).collect();
    assert_eq!(kinds, [QualifierKind::Within, QualifierKind::Repeats, QualifierKind::StartStop]);
}

#[test]
fn timestamps() {
    let t = Timestamp::parse("2016-02-30T23:59:60.1234567891Z").unwrap();
    assert_eq!((t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second()), (2016, 2, 30, 23, 59, 60));
    assert_eq!((t.fraction(), t.nanosecond()), ("1234567891", 123_456_789));
    assert_eq!(t.to_string(), "2016-02-30T23:59:60.1234567891Z");
    assert_eq!(Timestamp::parse("2016-01-01T00:00:00.5Z").unwrap().nanosecond(), 500_000_000);
    for bad in [
        "2016-13-01T00:00:00Z", "2016-01-01T00:00:00", "2016-01-01T00:00:00.Z", "2016-01-01T24:00:00Z",
        "2016-01-01T00:00:00Zx", "2016-1-01T00:00:00Z",
    ] {
        assert_eq!(Timestamp::parse(bad), None, "{bad}");
    }
}

/// (pattern, version, `Display` of the parse error).
const PARSE_ERRORS: &[(&str, Version, &str)] = &[
    ("[file:size ]", Version::V21, "at column 12: expected a comparison operator, found ']'"),
    ("[file:size = ]", Version::V21, "at column 14: expected a literal, found ']'"),
    ("", Version::V21, "at column 1: expected '[' or '(' starting an observation expression, found the end of the pattern"),
    (
        "[foo:bar=1] within 2 seconds",
        Version::V21,
        "at column 13: expected AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern, found 'within' (keywords are upper case)",
    ),
    ("[foo:bar=1 and foo:baz=2]", Version::V21, "at column 12: expected AND, OR or ']', found 'and' (keywords are upper case)"),
    (
        "[x:y = t'2024-13-01T00:00:00Z']",
        Version::V21,
        "at column 8: expected a literal, found 't' (not a valid timestamp literal t'YYYY-MM-DDTHH:MM:SS[.s]Z')",
    ),
    ("[x:y = h'abc']", Version::V21, "at column 8: expected a literal, found 'h' (not a valid hex literal: h'' with an even number of hex digits)"),
    ("[x:y = b'A===']", Version::V21, "at column 8: expected a literal, found 'b' (not a valid binary literal: b'' with padded base64)"),
    (r"[x:y = 'a\d']", Version::V21, r"at column 8: expected a literal, found ''' (unterminated string, or a backslash other than \' and \\)"),
    ("[x:y = 1]\n AND [x:y", Version::V21, "at line 2, column 10: expected a comparison operator, found the end of the pattern"),
    ("[EXISTS x:y]", Version::V20, "at column 9: expected ':' after the object type, found 'x'"),
    ("[NOT x:y = 1]", Version::V21, "at column 6: expected EXISTS, found 'x'"),
    ("[NOT x:y = 1]", Version::V20, "at column 2: expected an object path or '(', found 'NOT'"),
    ("[1 = 1]", Version::V21, "at column 2: expected an object path, '(' or EXISTS, found '1'"),
    ("[x:y > true]", Version::V21, "at column 8: expected a number, string, binary, hex or timestamp literal, found 'true'"),
    ("[x:y IN 1]", Version::V21, "at column 9: expected '(' starting a set, found '1'"),
    ("[x:y IN (1 2)]", Version::V21, "at column 12: expected ',' or ')', found '2'"),
    ("[x:y LIKE 1]", Version::V21, "at column 11: expected a string literal, found '1'"),
    ("[x:y-z = 1]", Version::V21, "at column 4: expected a property name, found 'y-z'"),
    ("[x:y[a] = 1]", Version::V21, "at column 6: expected a list index or '*', found 'a'"),
    ("[x:y[1 = 1]", Version::V21, "at column 8: expected ']' closing the list index, found '='"),
    (":y = 1]", Version::V21, "at column 1: expected '[' or '(' starting an observation expression, found ':'"),
    ("[x:y = 1] WITHIN -5 SECONDS", Version::V21, "at column 18: expected a non-negative number of seconds, found '-5'"),
    ("[x:y = 1] WITHIN 5 HOURS", Version::V21, "at column 20: expected SECONDS, found 'HOURS'"),
    ("[x:y = 1] REPEATS 2.0 TIMES", Version::V21, "at column 19: expected a non-negative integer, found '2.0'"),
    ("[x:y = 1] REPEATS 2 TIME", Version::V21, "at column 21: expected TIMES, found 'TIME'"),
    ("[x:y = 1] START '2020' STOP '2021'", Version::V21, "at column 17: expected a timestamp literal t'YYYY-MM-DDTHH:MM:SS[.s]Z', found ''2020''"),
    ("[x:y = 1] START t'2020-01-01T00:00:00Z' END", Version::V21, "at column 41: expected STOP, found 'END'"),
    ("([x:y = 1]", Version::V21, "at column 11: expected AND, OR, FOLLOWEDBY, a qualifier or ')', found the end of the pattern"),
    ("[(x:y = 1]", Version::V21, "at column 10: expected AND, OR or ')', found ']'"),
    ("[x:y = 'é'] é", Version::V21, "at column 13: expected AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern, found 'é'"),
];

#[test]
fn parse_error_messages() {
    for (pattern, version, message) in PARSE_ERRORS {
        let e = parse(pattern, *version).expect_err(pattern);
        assert_eq!(e.to_string(), *message, "{pattern}");
        assert_eq!(validate(pattern, *version).unwrap_err().last(), Some(&ValidationError::Syntax(e)), "{pattern}");
    }
}

#[test]
fn error_positions() {
    let e = parse("[x:y = 'é' AND é]", Version::V21).unwrap_err();
    assert_eq!(e.position, Position { offset: 16, line: 1, column: 16 });
    assert_eq!(e.found, Found::Token("é".into()));
    let long = format!("[x:y = 1] '{}'", "a".repeat(100));
    let e = parse(&long, Version::V21).unwrap_err();
    assert_eq!(e.found.to_string(), format!("''{}…'", "a".repeat(39)));
}

/// (pattern, version, `Display` of each validation error).
const VALIDATION_ERRORS: &[(&str, Version, &[&str])] = &[
    (
        "file:size = 1280",
        Version::V21,
        &[
            "at column 1: the pattern must start with '[' (after any '(')",
            "at column 1: expected '[' or '(' starting an observation expression, found 'file'",
        ],
    ),
    ("/* c */ [a:b = 1]", Version::V21, &["at column 1: the pattern must start with '[' (after any '(')"]),
    ("[file:hashes.'SHA-256' = 'f00']", Version::V21, &["at column 2: 'f00' is not a valid SHA-256 hash"]),
    ("[file:hashes.MD5 IN ('x', 'y')]", Version::V20, &["at column 2: '(x,y)' is not a valid MD5 hash"]),
    (
        r"[a:x.hashes.'md-5' = 'ab\'c'] OR [a:hashes.ssdeep = h'00']",
        Version::V21,
        &[r"at column 2: 'ab\c' is not a valid md-5 hash"],
    ),
    (
        "[a:b = 1] REPEATS 1 TIMES WITHIN 1 SECONDS REPEATS 2 TIMES",
        Version::V21,
        &["at column 44: a second REPEATS qualifier on the same observation (put parentheses around the first)"],
    ),
    (
        "[x:y[-0] = 1 AND EXISTS x:z[-2]]",
        Version::V21,
        &["at column 6: negative list index -0", "at column 29: negative list index -2"],
    ),
    ("[file:hashes[0] = 'x']", Version::V20, &["at column 2: a hashes path must end in a hash name, not a list index"]),
];

#[test]
fn validation_error_messages() {
    for (pattern, version, messages) in VALIDATION_ERRORS {
        let errors = validate(pattern, *version).expect_err(pattern);
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(got, *messages, "{pattern}");
    }
}

/// (pattern, valid?): the hash checks, including the reference's regex quirks.
const HASH_CHECKS: &[(&str, bool)] = &[
    ("[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']", true),
    ("[file:hashes.md5 = 'CEAD3F77F6CDA6EC00F57D76C9A6879F']", true),
    ("[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879']", false),
    ("[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f\n']", true),
    ("[file:hashes.MD5 = 12345678901234567890123456789012]", true),
    ("[file:hashes.MD5 = +12345678901234567890123456789012]", false),
    ("[file:hashes.MD5 NOT != 'x']", false),
    ("[file:hashes.MD5 MATCHES '^[a-f]+$']", false),
    ("[file:hashes.MD5 IN ('cead3f77f6cda6ec00f57d76c9a6879f')]", false),
    ("[file:hashes.'SHA-1' = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3']", true),
    ("[file:hashes.'SHA-1' = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd']", false),
    ("[file:hashes.'RIPEMD-160' = 'x']", false),
    ("[file:hashes.'SHA3-512' = 'x']", false),
    ("[file:hashes.WHIRLPOOL = 'x']", false),
    ("[file:hashes.'SHA-224' = 'x'] OR [file:hashes.'SHA-384' = 'x']", false),
    ("[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']", true),
    ("[file:hashes.ssdeep = true]", true),
    ("[file:hashes.ssdeep = 'a b']", false),
    ("[file:hashes.MD6 = 'cead3f77f6cda6ec00f57d76c9a6879f and anything']", true),
    ("[file:hashes.TLSH = 'anything']", true),
    ("[file:hashes.'SHA_256' = 'anything']", true),
    ("[file:hashes[*] = 'anything']", true),
    ("[file:hashes.MD5[*] = 'anything']", true),
    ("[file:extensions.'x'.hashes.'sha-256' = 'x']", false),
    ("[file:'hashes'.MD5 = 'x']", false),
    ("[file:Hashes.MD5 = 'x']", true),
    ("[file:hashes = 'x']", true),
    ("[EXISTS file:hashes.MD5]", true),
];

#[test]
fn hash_checks() {
    for (pattern, valid) in HASH_CHECKS {
        assert_eq!(validate(pattern, Version::V21).is_ok(), *valid, "{pattern}");
        assert!(parse(pattern, Version::V21).is_ok(), "{pattern}");
    }
}

#[test]
fn nesting_limit() {
    let obs = |n: usize| format!("{}[x:y = 1]{}", "(".repeat(n - 1), ")".repeat(n - 1));
    let cmp = |n: usize| format!("[{}x:y = 1{}]", "(".repeat(n - 1), ")".repeat(n - 1));
    for deep in [obs, cmp] {
        assert!(parse(&deep(MAX_NESTING), Version::V21).is_ok());
        let e = parse(&deep(MAX_NESTING + 1), Version::V21).unwrap_err();
        assert_eq!(e.expected, Expected::ShallowerNesting { max: MAX_NESTING });
    }
    // Nesting that alternates operators builds a deep tree; it prints and compares fine.
    let mut s = String::from("[a:b = 0]");
    for i in 1..MAX_NESTING {
        s = format!("([a:b = {i}] {} {s})", if i % 2 == 0 { "AND" } else { "OR" });
    }
    let tree = p21(&s);
    assert_eq!(p21(&tree.to_string()), tree);
}

#[test]
fn long_chains_are_flat() {
    let n = 20_000;
    let ands = vec!["[x:y = 1]"; n].join(" AND ");
    let ObservationExpr::And(members) = p21(&ands).expr else { panic!() };
    assert_eq!(members.len(), n);
    let ors = format!("[{}]", vec!["x:y = 'a'"; n].join(" OR "));
    assert_eq!(p21(&ors).comparisons().count(), n);
    let quals = format!("([x:y = 1]){}", " WITHIN 1 SECONDS".repeat(n));
    let ObservationExpr::Qualified { qualifiers, .. } = p21(&quals).expr else { panic!() };
    assert_eq!(qualifiers.len(), n);
}

#[test]
fn reference_version_strings() {
    assert_eq!(Version::from_reference_str("2.1"), Version::V21);
    for other in ["2.0", "2.2", "2.1.0", "", "stix"] {
        assert_eq!(Version::from_reference_str(other), Version::V20, "{other}");
    }
}
