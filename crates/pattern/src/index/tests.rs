use super::*;
use crate::parse;

const DAY: i64 = 86_400_000_000;
const T0: i64 = 1_795_000_000_000_000;

fn pat(p: &str) -> Pattern {
    parse(p, Version::V21).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn index(patterns: &[&str]) -> IndicatorIndex<usize> {
    let mut ix = IndicatorIndex::new();
    for (i, p) in patterns.iter().enumerate() {
        ix.insert(i as u128 + 1, &pat(p), T0 - DAY, T0 + DAY, i).unwrap();
    }
    ix.refresh();
    ix
}

/// The `meta` (pattern numbers) of what an event with these fields matches, sorted.
fn found(ix: &IndicatorIndex<usize>, time: i64, fields: &[(&str, FieldValue<'_>)]) -> Vec<usize> {
    let targets: Vec<Target> = fields.iter().map(|(t, _)| Target::parse(t).unwrap()).collect();
    let event = Event { time, fields: targets.iter().zip(fields).map(|(t, (_, v))| (t, v.clone())).collect() };
    let mut out = Vec::new();
    ix.find(&event, &mut out);
    let mut metas: Vec<usize> = out.iter().map(|f| ix.get(f.slot).unwrap().meta).collect();
    metas.sort_unstable();
    let n = metas.len();
    metas.dedup();
    assert_eq!(n, metas.len(), "an indicator is reported once per event");
    metas
}

fn s(v: &str) -> FieldValue<'_> {
    FieldValue::Str(v.into())
}

const PATTERNS: &[&str] = &[
    /* 0 */ "[ipv4-addr:value = '198.51.100.7']",
    /* 1 */ "[ipv4-addr:value = '198.51.100.0/24']",
    /* 2 */ "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
    /* 3 */ "[domain-name:value = 'Evil.Example']",
    /* 4 */ "[url:value = 'http://evil.example/a']",
    /* 5 */ "[file:hashes.'SHA-256' = 'AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899']",
    /* 6 */ "[network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443]",
    /* 7 */ "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
    /* 8 */ "[url:value LIKE 'http://phish.%/login']",
    /* 9 */ "[url:value MATCHES '^https?://[a-z]+\\\\.bad/']",
    /* 10 */ "[network-traffic:dst_port > 60000]",
    /* 11 */ "[ipv6-addr:value = '2001:DB8::1']",
    /* 12 */ "[ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'c.example']",
    /* 13 */ "[ipv4-addr:value = '198.51.100.7' AND ipv4-addr:value NOT = '198.51.100.7']",
    /* 14 */ "[ipv6-addr:value ISSUBSET '2001:db8:ff::/48']",
    /* 15 */ "[network-traffic:dst_ref.value = '198.51.100.7']",
];

#[test]
fn events_find_their_indicators() {
    let ix = index(PATTERNS);
    type Case<'a> = (&'a [(&'a str, FieldValue<'a>)], &'a [usize]);
    let table: &[Case<'_>] = &[
        (&[("ipv4-addr:value", s("198.51.100.7"))], &[0, 1]),
        (&[("network-traffic:dst_ref.value", s("198.51.100.7"))], &[0, 1, 15]),
        (&[("ipv4-addr:value", s("198.51.100.200"))], &[1]),
        (&[("ipv4-addr:value", s("10.200.3.4"))], &[2]),
        (&[("ipv4-addr:value", s("11.0.0.1"))], &[]),
        (&[("domain-name:value", s("EVIL.example"))], &[3]),
        (&[("url:value", s("http://evil.example/a"))], &[4]),
        (&[("url:value", s("http://evil.example/A"))], &[]),
        (&[("file:hashes.'SHA-256'", s("aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"))], &[5]),
        (
            &[("network-traffic:dst_ref.value", s("203.0.113.5")), ("network-traffic:dst_port", FieldValue::Int(443))],
            &[6],
        ),
        (
            &[("network-traffic:dst_ref.value", s("203.0.113.5")), ("network-traffic:dst_port", FieldValue::Int(80))],
            &[],
        ),
        (&[("domain-name:value", s("b.example"))], &[7]),
        (&[("domain-name:value", s("a.example")), ("domain-name:value", s("b.example"))], &[7]),
        (&[("url:value", s("http://phish.example/login"))], &[8]),
        (&[("url:value", s("http://phish.example/login/x"))], &[]),
        (&[("url:value", s("https://abc.bad/x"))], &[9]),
        (&[("url:value", s("https://ABC.bad/x"))], &[]),
        (&[("network-traffic:dst_port", FieldValue::Int(61000))], &[10]),
        (&[("network-traffic:dst_port", FieldValue::Int(6000))], &[]),
        (&[("ipv6-addr:value", s("2001:db8:0::0:1"))], &[11]),
        (&[("ipv6-addr:value", s("2001:db8:ff:1::9"))], &[14]),
        // Two observation expressions need two observations; an event is one.
        (&[("ipv4-addr:value", s("198.51.100.7")), ("domain-name:value", s("c.example"))], &[0, 1]),
    ];
    for (fields, want) in table {
        assert_eq!(found(&ix, T0, fields), *want, "{fields:?}");
    }
}

#[test]
fn the_event_time_must_lie_in_the_validity() {
    let ix = index(PATTERNS);
    let ev = [("ipv4-addr:value", s("198.51.100.7"))];
    assert_eq!(found(&ix, T0 - DAY, &ev), [0, 1], "valid_from is inclusive");
    assert!(found(&ix, T0 - DAY - 1, &ev).is_empty());
    assert!(found(&ix, T0 + DAY, &ev).is_empty(), "valid_until is exclusive");
    let ev = [("network-traffic:dst_port", FieldValue::Int(61000))];
    assert!(found(&ix, T0 + DAY, &ev).is_empty(), "scanned patterns too");
}

#[test]
fn changes_are_incremental() {
    let mut ix = index(PATTERNS);
    let ev = [("ipv4-addr:value", s("198.51.100.7"))];
    // Replacing indicator 1 (meta 0) with another value.
    ix.insert(1, &pat("[ipv4-addr:value = '192.0.2.1']"), T0 - DAY, T0 + DAY, 100).unwrap();
    assert_eq!(found(&ix, T0, &ev), [1]);
    assert_eq!(found(&ix, T0, &[("ipv4-addr:value", s("192.0.2.1"))]), [100]);
    // Two indicators on one key, then one of them removed.
    ix.insert(500, &pat("[ipv4-addr:value = '192.0.2.1']"), T0 - DAY, T0 + DAY, 101).unwrap();
    ix.insert(501, &pat("[ipv4-addr:value = '192.0.2.1']"), T0 - DAY, T0 + DAY, 102).unwrap();
    assert_eq!(found(&ix, T0, &[("ipv4-addr:value", s("192.0.2.1"))]), [100, 101, 102]);
    assert!(ix.remove(500));
    assert!(!ix.remove(500));
    assert_eq!(found(&ix, T0, &[("ipv4-addr:value", s("192.0.2.1"))]), [100, 102]);
    // Removing the network indicators removes their prefix lengths.
    assert!(ix.remove(2) && ix.remove(3));
    assert!(found(&ix, T0, &[("ipv4-addr:value", s("10.1.1.1"))]).is_empty());
    assert!(found(&ix, T0, &[("ipv4-addr:value", s("198.51.100.200"))]).is_empty());
    ix.insert(3, &pat("[ipv4-addr:value ISSUBSET '198.51.100.128/25']"), T0 - DAY, T0 + DAY, 103).unwrap();
    assert_eq!(found(&ix, T0, &[("ipv4-addr:value", s("198.51.100.200"))]), [103]);
    assert!(found(&ix, T0, &[("ipv4-addr:value", s("198.51.100.20"))]).is_empty());
    // A regex indicator removed and re-added, before and after a refresh.
    assert!(ix.remove(9));
    assert!(found(&ix, T0, &[("url:value", s("http://phish.example/login"))]).is_empty());
    ix.insert(9, &pat("[url:value LIKE 'http://phish.%/login']"), T0 - DAY, T0 + DAY, 8).unwrap();
    assert_eq!(found(&ix, T0, &[("url:value", s("http://phish.example/login"))]), [8]);
    ix.refresh();
    assert_eq!(found(&ix, T0, &[("url:value", s("http://phish.example/login"))]), [8]);
    // Expiry.
    let before = ix.len();
    ix.insert(900, &pat("[ipv4-addr:value = '192.0.2.99']"), T0 - DAY, T0, 900).unwrap();
    assert_eq!(ix.expire(T0), 1);
    assert_eq!(ix.len(), before);
    assert!(ix.slot_of(900).is_none());
    // Slots are reused.
    let slots = ix.slots.len();
    ix.insert(901, &pat("[ipv4-addr:value = '192.0.2.98']"), T0 - DAY, T0 + DAY, 901).unwrap();
    assert_eq!(ix.slots.len(), slots);
    assert_eq!(found(&ix, T0, &[("ipv4-addr:value", s("192.0.2.98"))]), [901]);
}

#[test]
fn reports_name_the_comparison() {
    let ix = index(PATTERNS);
    let t = Target::parse("network-traffic:dst_ref.value").unwrap();
    let p = Target::parse("network-traffic:dst_port").unwrap();
    let event = Event { time: T0, fields: vec![(&t, s("203.0.113.5")), (&p, FieldValue::Int(443))] };
    let mut out = Vec::new();
    ix.find(&event, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].key(), &*out[0].value()), ("network-traffic:dst_ref.value", "203.0.113.5"));
    let t = Target::parse("ipv4-addr:value").unwrap();
    let event = Event { time: T0, fields: vec![(&t, s("198.51.100.9"))] };
    out.clear();
    ix.find(&event, &mut out);
    assert_eq!((out[0].key(), &*out[0].value()), ("ipv4-addr:value", "198.51.100.0/24"));
}

/// The index against brute force: every indicator evaluated by the matcher (on the same
/// normalised pattern) for every event. Agreement on all pairs.
#[test]
fn agrees_with_evaluating_every_indicator() {
    let values = ["198.51.100.7", "10.1.2.3", "203.0.113.5", "a.example", "Evil.Example", "http://phish.x/login"];
    let paths = ["ipv4-addr:value", "domain-name:value", "url:value", "network-traffic:dst_ref.value"];
    let mut patterns: Vec<String> = PATTERNS.iter().map(|s| s.to_string()).collect();
    for (i, v) in values.iter().enumerate() {
        for p in &paths {
            patterns.push(format!("[{p} = '{v}']"));
            patterns.push(format!("[{p} = '{v}' AND {p} != 'zz{i}']"));
            patterns.push(format!("[{p} = '{v}'] OR [network-traffic:dst_port = {}]", 440 + i));
            patterns.push(format!("[{p} LIKE '{}%']", &v[..3]));
        }
    }
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let ix = index(&refs);
    let matchers: Vec<Matcher> = refs.iter().map(|p| Matcher::new(&normalise(&pat(p))).unwrap()).collect();
    let targets: Vec<Target> = paths.iter().map(|p| Target::parse(p).unwrap()).collect();
    let port = Target::parse("network-traffic:dst_port").unwrap();
    let mut checked = 0;
    for (a, va) in values.iter().enumerate() {
        for (b, vb) in values.iter().enumerate() {
            let event = Event {
                time: T0,
                fields: vec![
                    (&targets[a % targets.len()], s(va)),
                    (&targets[b % targets.len()], s(vb)),
                    (&port, FieldValue::Int(440 + (a as i64))),
                ],
            };
            let mut out = Vec::new();
            ix.find(&event, &mut out);
            let mut got: Vec<usize> = out.iter().map(|f| ix.get(f.slot).unwrap().meta).collect();
            got.sort_unstable();
            let bundle = [event.to_bundle()];
            let obs = Observations::new(&bundle, Version::V21).unwrap();
            // Where the matcher fails (an ISSUBSET meeting a value that is no address, as
            // the reference raises), the index's verdict is its own: leave those out.
            let verdicts: Vec<Result<bool, MatchError>> = matchers.iter().map(|m| m.matches(&obs)).collect();
            let want: Vec<usize> = (0..matchers.len()).filter(|&i| verdicts[i] == Ok(true)).collect();
            got.retain(|&i| verdicts[i].is_ok());
            assert_eq!(got, want, "event {:?}", event.fields);
            checked += verdicts.iter().filter(|v| v.is_ok()).count();
        }
    }
    assert!(checked > 3000, "{checked} pairs checked");
}

/// Several events matched together: per case, a pattern and a stream of events (seconds
/// after T0, a domain name); the matches, each as the numbers of its events.
#[test]
fn patterns_of_several_observations_match_across_events() {
    type Case<'a> = (&'a str, &'a [(i64, &'a str)], &'a [&'a [usize]]);
    let table: &[Case<'_>] = &[
        // Both sides, in either order; unrelated events in between take no part.
        (
            "[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']",
            &[(0, "b.example"), (1, "x.example"), (2, "a.example")],
            &[&[0, 2]],
        ),
        // One side alone never matches; a match consumes its events, so the third
        // event starts over instead of matching again with the first.
        (
            "[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']",
            &[(0, "a.example"), (1, "a.example"), (2, "b.example"), (3, "b.example")],
            &[&[0, 2], &[1, 3]],
        ),
        // FOLLOWEDBY: order in time matters.
        (
            "[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']",
            &[(0, "b.example"), (5, "a.example"), (9, "b.example")],
            &[&[1, 2]],
        ),
        // WITHIN: the events must lie close enough together.
        (
            "([domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']) WITHIN 60 SECONDS",
            &[(0, "a.example"), (120, "b.example"), (150, "a.example")],
            &[&[1, 2]],
        ),
        // REPEATS: three distinct events.
        (
            "[domain-name:value = 'a.example'] REPEATS 3 TIMES",
            &[(0, "a.example"), (1, "a.example"), (2, "b.example"), (3, "a.example"), (4, "a.example")],
            &[&[0, 1, 3]],
        ),
        // An OR with a one-observation side: that side matches alone (the index reports
        // it), the other side needs both events.
        (
            "[domain-name:value = 'c.example'] OR ([domain-name:value = 'a.example'] AND [domain-name:value = 'b.example'])",
            &[(0, "c.example"), (1, "a.example"), (2, "b.example")],
            &[&[0], &[1, 2]],
        ),
    ];
    for (pattern, events, want) in table {
        let ix = index(&[*pattern]);
        let target = Target::parse("domain-name:value").unwrap();
        let mut corr: Correlator<usize> = Correlator::new();
        let mut got: Vec<Vec<usize>> = Vec::new();
        for (n, (secs, domain)) in events.iter().enumerate() {
            let event = Event { time: T0 + secs * 1_000_000, fields: vec![(&target, s(domain))] };
            let (mut alone, mut pending, mut together) = (Vec::new(), Vec::new(), Vec::new());
            ix.find_with_pending(&event, &mut alone, &mut pending);
            got.extend(alone.iter().map(|_| vec![n]));
            if !pending.is_empty() {
                corr.push(&ix, &pending, event.time, &event.to_bundle_as(n as u32), &n, &mut together);
            }
            for c in together {
                assert_eq!(c.events.last(), Some(&n), "{pattern}: the last event completes a match");
                assert_eq!(ix.get(c.found.slot).unwrap().meta, 0);
                got.push(c.events);
            }
        }
        let want: Vec<Vec<usize>> = want.iter().map(|m| m.to_vec()).collect();
        assert_eq!(got, want, "{pattern} over {events:?}");
    }
}

/// A window keeps at most `capacity` events and forgets what is older than the horizon.
#[test]
fn correlation_windows_are_bounded() {
    let ix = index(&["[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']"]);
    let target = Target::parse("domain-name:value").unwrap();
    let mut corr: Correlator<usize> = Correlator::new();
    corr.capacity = 3;
    corr.horizon = 10_000_000;
    let mut out = Vec::new();
    for n in 0..10usize {
        let event = Event { time: T0 + n as i64, fields: vec![(&target, s("a.example"))] };
        let mut pending = Vec::new();
        ix.find_with_pending(&event, &mut Vec::new(), &mut pending);
        corr.push(&ix, &pending, event.time, &event.to_bundle_as(n as u32), &n, &mut out);
    }
    assert!(out.is_empty());
    assert_eq!(corr.held(), 3);
    // Twenty seconds later the a-events are gone: a b-event alone matches nothing.
    let event = Event { time: T0 + 20_000_000, fields: vec![(&target, s("b.example"))] };
    let mut pending = Vec::new();
    ix.find_with_pending(&event, &mut Vec::new(), &mut pending);
    corr.push(&ix, &pending, event.time, &event.to_bundle_as(10), &10, &mut out);
    assert!(out.is_empty(), "{:?}", out.iter().map(|c| &c.events).collect::<Vec<_>>());
    corr.sweep(T0 + 40_000_000);
    assert_eq!(corr.held(), 0);
}

/// A batch gives each event what it gives alone: the same matches in the same order,
/// the same pending indicators, whatever the batch's size.
#[test]
fn batches_find_what_single_events_find() {
    let ix = index(PATTERNS);
    let values = ["198.51.100.7", "10.1.2.3", "203.0.113.5", "a.example", "Evil.Example", "c.example", "2001:db8::1"];
    let paths = ["ipv4-addr:value", "domain-name:value", "url:value", "network-traffic:dst_ref.value"];
    let targets: Vec<Target> = paths.iter().map(|p| Target::parse(p).unwrap()).collect();
    let port = Target::parse("network-traffic:dst_port").unwrap();
    let mut events = Vec::new();
    for (a, va) in values.iter().enumerate() {
        for (b, vb) in values.iter().enumerate() {
            events.push(Event {
                time: if (a + b) % 5 == 0 { T0 + 2 * DAY } else { T0 },
                fields: vec![
                    (&targets[a % targets.len()], s(va)),
                    (&targets[b % targets.len()], s(vb)),
                    (&port, FieldValue::Int(if b % 2 == 0 { 443 } else { 61000 })),
                ],
            });
        }
    }
    let single: Vec<(Vec<Found<'_>>, Vec<u32>)> = events
        .iter()
        .map(|e| {
            let (mut out, mut pending) = (Vec::new(), Vec::new());
            ix.find_with_pending(e, &mut out, &mut pending);
            (out, pending)
        })
        .collect();
    assert!(single.iter().filter(|(o, _)| !o.is_empty()).count() > 10);
    assert!(single.iter().any(|(_, p)| !p.is_empty()));
    let mut scratch = Scratch::default();
    for size in [1, 3, BATCH, events.len()] {
        let mut got = Vec::new();
        for batch in events.chunks(size) {
            let (mut out, mut pending, mut ends) = (Vec::new(), Vec::new(), Vec::new());
            ix.find_batch(batch, &mut scratch, &mut out, &mut pending, &mut ends);
            assert_eq!(ends.len(), batch.len());
            let (mut f0, mut p0) = (0, 0);
            for (f1, p1) in ends {
                got.push((out[f0..f1].to_vec(), pending[p0..p1].to_vec()));
                (f0, p0) = (f1, p1);
            }
        }
        assert!(got == single, "batches of {size}");
    }
}
