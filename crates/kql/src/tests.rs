//! Parser tests: real Sentinel content parses; mistakes are reported at their place.

use crate::ast::*;
use crate::parse;

/// Queries from Sentinel's threat-intelligence content (analytic rules, hunting queries,
/// the workbook, the ThreatIntelIndicatorsv2 parser), trimmed to their KQL.
const SENTINEL: &[&str] = &[
    r#"let dt_lookBack = 1h;
let ioc_lookBack = 14d;
ThreatIntelIndicators
| extend IndicatorType = replace(@"\[|\]|\""", "", tostring(split(ObservableKey, ":", 0)))
| where IndicatorType in ("ipv4-addr", "ipv6-addr", "network-traffic")
| extend NetworkSourceIP = toupper(ObservableValue)
| extend TrafficLightProtocolLevel = tostring(parse_json(AdditionalFields).TLPLevel)
| where TimeGenerated >= ago(ioc_lookBack)
| summarize LatestIndicatorTime = arg_max(TimeGenerated, *) by Id, ObservableValue
| where IsActive and (ValidUntil > now() or isempty(ValidUntil))
| where Description !contains_cs "State: inactive;" and Description !contains_cs "State: falsepos;"
| join kind=innerunique (
    DnsEvents
    | where TimeGenerated >= ago(dt_lookBack)
    | where SubType =~ "LookupQuery" and isnotempty(IPAddresses)
    | extend SingleIP = split(IPAddresses, ",")
    | mv-expand SingleIP to typeof(string)
    | extend DNS_TimeGenerated = TimeGenerated
  ) on $left.NetworkSourceIP == $right.SingleIP
| where DNS_TimeGenerated < ValidUntil
| summarize DNS_TimeGenerated = arg_max(DNS_TimeGenerated, *) by Id, SingleIP
| extend Description = tostring(parse_json(Data).description)
| extend ActivityGroupNames = extract(@"ActivityGroup:(\S+)", 1, tostring(parse_json(Data).labels))
| project DNS_TimeGenerated, Description, ActivityGroupNames, Id, ValidUntil, Confidence, ObservableKey, Computer, SingleIP
| extend Name = tostring(split(Computer, '.', 0)[0]), DnsDomain = tostring(strcat_array(array_slice(split(Computer, '.'), 1, -1), '.'))"#,
    r#"let ThreatIntelIndicatorsv2 = () {
ThreatIntelIndicators
| extend NetworkIP = iff(ObservableKey == 'ipv4-addr:value', ObservableValue, '')
| extend FileHashType = case(ObservableKey has 'MD5', 'MD5', ObservableKey has 'SHA-1', 'SHA-1', ObservableKey has 'SHA-256', 'SHA-256', '')
| extend ThreatType = tostring(Data.indicator_types[0]), Severity = toint(Data.extensions["sentinel-ext"].severity)
| project-rename ExpirationDateTime = ValidUntil
| project-away Data
};
ThreatIntelIndicatorsv2
| summarize count() by ThreatType, bin(TimeGenerated, 1h)
| render timechart"#,
    r#"ThreatIntelIndicators
| where TimeGenerated {TimeRange}
| summarize arg_max(TimeGenerated, *) by Id
| where IsActive == true
| summarize Count = count() by SourceSystem
| top 10 by Count desc nulls last"#,
    r#"let indicator = "198.51.100.7";
union withsource= Table_Name isfuzzy=true *
| where column_ifexists("SourceIP", "") has indicator or column_ifexists("DestinationIP", "") has_any (indicator, "x")
| summarize count() by Table_Name"#,
    r#"let list = materialize(ThreatIntelIndicators | where ObservableKey == "domain-name:value" | summarize make_set(ObservableValue, 100000));
let tlds = toscalar(list | mv-expand d = set_ObservableValue | extend tld = tostring(split(d, ".")[-1]) | summarize make_set(tld));
Syslog
| where SyslogMessage matches regex @"\b(\w+\.)+\w+\b" and not(SyslogMessage startswith_cs "x")
| lookup kind=leftouter (ThreatIntelIndicators | project ObservableValue, Id) on $left.Host == $right.ObservableValue
| project-reorder Id, Host*
| make-series n = count() default = 0 on TimeGenerated from ago(7d) to now() step 1d by Host
| parse SyslogMessage with * "user=" User:string " " Rest
| where TimeGenerated between (ago(1d) .. now()) and Host !in~ ("a", "b") and Host in (tlds)
| distinct Host, User
| sort by Host asc, User desc nulls first
| take 10"#,
    r#"datatable(Name:string, Count:long, When:datetime) ["a", 1, datetime(2024-01-01), "b", 2, datetime(2024-01-02T10:00:00Z)]
| extend D = dynamic({"a": [1, 2.5, "x", true, null], 'b': {"c": -1}}), T = timespan(1d), Z = 0x1f
| extend P = parse_url("https://x.example/a?b=c").Host, Q = D['a'][1], R = D.b.c * -2
| count"#,
    "print x = 1, y = 'a' | extend z = x + 1",
    "print x = 1 | render barchart kind=stacked title='t'",
    "range i from 1 to 10 step 1 | summarize avg(i), percentile(i, 95) by bin(i, 2)",
];

#[test]
fn sentinel_content_parses() {
    for q in SENTINEL {
        // The workbook's `{TimeRange}` parameter is substituted before the query runs.
        let q = q.replace("{TimeRange}", ">= ago(1d)");
        if let Err(e) = parse(&q) {
            panic!("{}\n{q}", e.render(&q));
        }
    }
}

#[test]
fn structure_of_a_rule_query() {
    let q = parse(SENTINEL[0]).unwrap();
    assert_eq!(q.lets.len(), 2);
    assert_eq!(q.lets[0].name, "dt_lookBack");
    assert!(matches!(q.lets[0].value, LetValue::Expr(Expr { kind: ExprKind::Lit(Lit::Timespan(3_600_000_000)), .. })));
    assert!(matches!(&q.body.source, Source::Name(n, _) if n == "ThreatIntelIndicators"));
    let ops: Vec<&str> = q
        .body
        .ops
        .iter()
        .map(|o| match &o.kind {
            OpKind::Where(_) => "where",
            OpKind::Extend(_) => "extend",
            OpKind::Summarize { .. } => "summarize",
            OpKind::Join { .. } => "join",
            OpKind::Project(_) => "project",
            _ => "other",
        })
        .collect();
    assert_eq!(
        ops,
        [
            "extend", "where", "extend", "extend", "where", "summarize", "where", "where", "join", "where",
            "summarize", "extend", "extend", "project", "extend"
        ]
    );
    let join = q.body.ops.iter().find_map(|o| match &o.kind {
        OpKind::Join { kind, on, right } => Some((*kind, on.clone(), right.ops.len())),
        _ => None,
    });
    let (kind, on, right_ops) = join.unwrap();
    assert_eq!(kind, JoinKind::InnerUnique);
    assert_eq!((on[0].left.as_str(), on[0].right.as_str()), ("NetworkSourceIP", "SingleIP"));
    assert_eq!(right_ops, 5);
    // `summarize … = arg_max(TimeGenerated, *) by Id, ObservableValue`
    let OpKind::Summarize { aggs, by } = &q.body.ops[5].kind else { panic!() };
    assert_eq!(aggs[0].name.as_deref(), Some("LatestIndicatorTime"));
    assert!(matches!(&aggs[0].expr.kind, ExprKind::Call(f, a) if f == "arg_max" && a[1].kind == ExprKind::Star));
    assert_eq!(by.len(), 2);
    // `Description !contains_cs "…"`
    let OpKind::Where(w) = &q.body.ops[7].kind else { panic!() };
    let ExprKind::Binary(BinOp::And, l, _) = &w.kind else { panic!() };
    assert!(matches!(&l.kind, ExprKind::StrOp { op: StrOp::ContainsCs, negated: true, .. }));
}

#[test]
fn expressions_bind_as_kusto_does() {
    let e = |s: &str| {
        let q = parse(&format!("print {s}")).unwrap();
        let Source::Print(a) = q.body.source else { panic!() };
        a[0].expr.clone()
    };
    // and binds tighter than or; comparison tighter than and; * tighter than +.
    let ExprKind::Binary(BinOp::Or, _, r) = e("a or b and c").kind else { panic!() };
    assert!(matches!(r.kind, ExprKind::Binary(BinOp::And, ..)));
    let ExprKind::Binary(BinOp::Eq, l, _) = e("1 + 2 * 3 == 7").kind else { panic!() };
    let ExprKind::Binary(BinOp::Add, _, m) = l.kind else { panic!() };
    assert!(matches!(m.kind, ExprKind::Binary(BinOp::Mul, ..)));
    assert!(matches!(e("x !in~ ('a')").kind, ExprKind::In { op: InOp::InCi, negated: true, .. }));
    assert!(matches!(e("x !between (1 .. 5)").kind, ExprKind::Between { negated: true, .. }));
    assert!(matches!(e("Data.a['b'][0]").kind, ExprKind::Index(..)));
    assert_eq!(e("Data.indicator_types").derived_name().as_deref(), Some("Data_indicator_types"));
    assert_eq!(e("datetime(2024-01-31)").kind, ExprKind::Lit(Lit::DateTime(1_706_659_200_000_000)));
    assert_eq!(e("-1d").kind, ExprKind::Lit(Lit::Timespan(-86_400_000_000)));
    assert_eq!(e("dynamic(['a'])").kind, ExprKind::Lit(Lit::Dynamic(serde_json::json!(["a"]))));
}

#[test]
fn errors_name_the_place_and_what_was_expected() {
    let table: &[(&str, &str, &str)] = &[
        ("T | wher x > 1", "wher", "unknown tabular operator 'wher'; did you mean 'where'?"),
        ("T | summarise count()", "summarise", "did you mean 'summarize'?"),
        ("T | where x = 1", "=", "'=' assigns; compare with '=='"),
        ("T | where x > ", "", "expected an expression, found the end of the query"),
        ("T | evaluate bag_unpack(x)", "evaluate", "the 'evaluate' operator is not supported"),
        ("T | join kind=innr (U) on x", "innr", "unknown join kind 'innr'; did you mean 'inner'?"),
        ("T | where x !foo 'a'", "foo", "'!foo' is not an operator"),
        ("T | project a, | take 1", "|", "expected an expression"),
        ("let x = 1", "", "the query has no tabular expression"),
        ("print datetime(31/31/2024)", "datetime(31/31/2024)", "not a date"),
        ("T | top 5 x", "x", "expected 'by'"),
        ("datatable(a:long) [1, 2, 3] | take 1\n| union (U", "", "expected ')'"),
    ];
    for (src, at, msg) in table {
        let e = match parse(src) {
            Err(e) => e,
            Ok(q) => panic!("{src}: parsed as {q:?}"),
        };
        assert!(e.message.contains(msg), "{src}: got '{}'", e.message);
        let text = &src[e.span.start..e.span.end];
        assert_eq!(text, *at, "{src}: {}", e.render(src));
    }
}

mod run {
    use serde_json::{json, Value};

    use crate::Engine;

    /// 2024-01-02T00:00:00Z: what now() is in these tests.
    const NOW: i64 = 1_704_153_600_000_000;

    const T: &str = r#"let T = datatable(Id:string, Key:string, Value:string, Confidence:long, Created:datetime, Data:dynamic, Tags:string)
[
  "a", "ipv4-addr:value", "198.51.100.7", 80, datetime(2024-01-01T10:00:00Z), dynamic({"indicator_types": ["malicious-activity"], "labels": ["ActivityGroup:APT29", "c2"], "extensions": {"sentinel-ext": {"severity": 5}}}), "apt29",
  "a", "domain-name:value", "Evil.Example", 80, datetime(2024-01-01T11:00:00Z), dynamic({"indicator_types": ["malicious-activity"]}), "",
  "b", "file:hashes.'SHA-256'", "AA11", 40, datetime(2023-12-20T00:00:00Z), dynamic({"indicator_types": ["anomalous-activity"]}), "x",
  "c", "url:value", "https://evil.example/login?u=1", 95, datetime(2024-01-01T23:00:00Z), dynamic(null), "phishing, c2"
];
"#;

    fn run(q: &str) -> Result<(Vec<String>, Vec<Vec<Value>>), String> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _g = rt.enter();
        let e = Engine::new();
        let text = format!("{T}{q}");
        match e.run(&text, NOW) {
            Ok(r) => Ok((r.columns.into_iter().map(|c| format!("{}:{}", c.name, c.ty)).collect(), r.rows)),
            Err(err) => Err(err.render(&text)),
        }
    }

    /// Query → expected rows (as JSON), in order.
    #[test]
    fn queries_as_a_table() {
        let table: Vec<(&str, Value)> = vec![
            ("T | where Confidence > 50 | project Id, Value | order by Value asc",
             // Ordinal order: digits, then upper case, then lower case.
             json!([["a", "198.51.100.7"], ["a", "Evil.Example"], ["c", "https://evil.example/login?u=1"]])),
            // String operators: case rules and term matching.
            ("T | where Value has 'evil' | project Value", json!([["Evil.Example"], ["https://evil.example/login?u=1"]])),
            ("T | where Value has 'evi' | count", json!([[0]])),
            ("T | where Value contains 'EVIL' | count", json!([[2]])),
            ("T | where Value contains_cs 'EVIL' | count", json!([[0]])),
            ("T | where Value == 'evil.example' | count", json!([[0]])),
            ("T | where Value =~ 'evil.example' | project Id", json!([["a"]])),
            ("T | where Value !startswith 'http' and Key !has 'file' | project Value", json!([["198.51.100.7"], ["Evil.Example"]])),
            ("T | where Value matches regex @'^\\d+\\.\\d+' | project Value", json!([["198.51.100.7"]])),
            ("T | where Key in ('url:value', 'file:hashes.\\'SHA-256\\'') | project Id | order by Id asc", json!([["b"], ["c"]])),
            ("T | where Key in~ ('URL:VALUE') | project Id", json!([["c"]])),
            ("T | where Tags has_any ('c2', 'zzz') | project Id | order by Id asc", json!([["c"]])),
            ("T | where Value between (1 .. 2) | count", json!([[0]])),
            ("T | where Confidence between (40 .. 80) | count", json!([[3]])),
            // Dynamic access and the content's idioms.
            ("T | extend ThreatType = tostring(Data.indicator_types[0]), Sev = toint(Data.extensions['sentinel-ext'].severity) | where Id == 'a' and Key has 'ipv4' | project ThreatType, Sev",
             json!([["malicious-activity", 5]])),
            (r#"T | extend IndicatorType = replace(@"\[|\]|\""", "", tostring(split(Key, ":", 0))) | distinct IndicatorType | order by IndicatorType asc"#,
             json!([["domain-name"], ["file"], ["ipv4-addr"], ["url"]])),
            (r#"T | where Id == 'a' and Key has 'ipv4' | extend G = extract(@"ActivityGroup:(\S+)", 1, tostring(Data.labels)) | project G"#,
             json!([["APT29\",\"c2\"]"]])),
            ("T | extend H = parse_url(Value).Host | where isnotempty(H) | project H", json!([["evil.example"]])),
            ("T | where isnull(Data.indicator_types) | project Id", json!([["c"]])),
            ("T | extend n = array_length(Data.indicator_types) | where n > 0 | count", json!([[3]])),
            // Aggregation.
            ("T | summarize count() by Id | order by Id asc", json!([["a", 2], ["b", 1], ["c", 1]])),
            ("T | summarize Total = count(), Distinct = dcount(Id), High = countif(Confidence >= 80), Avg = avg(Confidence), Max = max(Created)",
             json!([[4, 3, 3, 73.75, "2024-01-01T23:00:00Z"]])),
            ("T | summarize arg_max(Created, *) by Id | project Id, Key | order by Id asc",
             json!([["a", "domain-name:value"], ["b", "file:hashes.'SHA-256'"], ["c", "url:value"]])),
            ("T | summarize Latest = arg_max(Created, Value) by Id | where Id == 'a' | project Id, Latest, Value",
             json!([["a", "2024-01-01T11:00:00Z", "Evil.Example"]])),
            ("T | summarize n = count() by bin(Created, 1d) | order by Created asc",
             json!([["2023-12-20T00:00:00Z", 1], ["2024-01-01T00:00:00Z", 3]])),
            ("T | summarize Keys = make_set(Key) by Id | where Id == 'a' | extend k = array_length(Keys) | project k", json!([[2]])),
            ("T | summarize Keys = make_list(Key, 1) | extend k = array_length(Keys) | project k", json!([[1]])),
            ("T | top 2 by Confidence | project Id, Confidence", json!([["c", 95], ["a", 80]])),
            ("T | where Created > ago(1d) | count", json!([[3]])),
            ("T | where Created >= datetime(2024-01-01) and Created < now() | count", json!([[3]])),
            ("T | extend Age = now() - Created | where Age < 1d | count", json!([[3]])),
            // Shaping.
            ("T | take 1 | project-away Data, Tags, Created | project-rename Observable = Value | project-reorder Observable",
             json!([["198.51.100.7", "a", "ipv4-addr:value", 80]])),
            ("T | extend Tag = split(Tags, ', ') | mv-expand Tag to typeof(string) | where Id == 'c' | project Tag", json!([["phishing"], ["c2"]])),
            ("T | parse Value with 'https://' Host '/' Path | where isnotempty(Host) | project Host, Path", json!([["evil.example", "login?u=1"]])),
            ("T | where Id == 'b' | extend x = iff(Confidence > 50, 'high', 'low'), y = case(Confidence > 90, 1, Confidence > 30, 2, 3), z = coalesce('', 'fallback')| project x, y, z",
             json!([["low", 2, "fallback"]])),
            ("T | where Id == 'a' | take 1 | extend s = strcat(Id, '-', Confidence), u = toupper(Id), l = strlen(Value), i = indexof(Value, '.'), sub = substring(Value, 4, 2) | project s, u, l, i, sub",
             json!([["a-80", "A", 12, 3, "51"]])),
            ("T | where Id == 'a' | take 1 | project p = ipv4_is_private('10.1.2.3'), q = ipv4_is_private(Value), r = ipv4_is_in_range(Value, '198.51.100.0/24')",
             json!([[true, false, true]])),
            // Joins, union, lookup.
            (r#"T | join kind=inner (datatable(Id:string, Owner:string) ["a", "ann", "c", "cid"]) on Id | project Id, Owner, Id1 | order by Id asc"#,
             json!([["a", "ann", "a"], ["a", "ann", "a"], ["c", "cid", "c"]])),
            (r#"T | join (datatable(Id:string, Owner:string) ["a", "ann"]) on Id | project Id, Owner"#, json!([["a", "ann"]])),
            (r#"T | join kind=leftanti (datatable(I:string) ["a"]) on $left.Id == $right.I | distinct Id | order by Id asc"#, json!([["b"], ["c"]])),
            (r#"T | lookup (datatable(Id:string, Owner:string) ["b", "bob"]) on Id | where Id in ('b', 'c') | project Id, Owner | order by Id asc"#,
             json!([["b", "bob"], ["c", ""]])),
            (r#"union withsource=Src (T | take 1 | project Id), (print Id = 'z') | order by Id asc | project Src, Id"#,
             json!([["union_arg0", "a"], ["union_arg1", "z"]])),
            ("let ids = T | where Confidence > 90 | project Id; T | where Id in (ids) | project Value", json!([["https://evil.example/login?u=1"]])),
            ("let top = toscalar(T | summarize max(Confidence)); T | where Confidence == top | project Id", json!([["c"]])),
            ("let f = (n:long) { T | where Confidence > n | count }; f(85)", json!([[1]])),
            ("let g = (x:string) { strcat('<', x, '>') }; print v = g('a')", json!([["<a>"]])),
            ("range i from 1 to 5 step 2 | summarize sum(i)", json!([[9]])),
            // Nearest rank, never an interpolation.
            ("range i from 1 to 4 step 1 | summarize percentile(i, 50), percentile(i, 90), p = percentile(i, 0)", json!([[2.0, 4.0, 1.0]])),
            ("print a = 1 + 2 * 3, b = 7 / 2, c = 7.0 / 2, d = 1d / 1h, e = -5 % 3", json!([[7, 3, 3.5, 24.0, -2]])),
            ("T | summarize n = count() by tostring(Data.indicator_types[0]) | order by Data_indicator_types_0 asc | project Data_indicator_types_0, n",
             json!([["", 1], ["anomalous-activity", 1], ["malicious-activity", 2]])),
            // The rest of the operators and functions the content uses, one case each.
            ("T | summarize arg_min(Created, Value) by Id | order by Id asc | project Id, Value",
             json!([["a", "198.51.100.7"], ["b", "AA11"], ["c", "https://evil.example/login?u=1"]])),
            ("T | where Id == 'b' | summarize take_any(Value)", json!([["AA11"]])),
            ("T | where Id == 'a' | distinct Id | join kind=rightouter (datatable(Id:string, Owner:string) ['a', 'ann', 'z', 'zed']) on Id | project Id1, Owner | order by Id1 asc",
             json!([["a", "ann"], ["z", "zed"]])),
            ("datatable(k:string, x:long) ['a', 1, 'b', 2] | join kind=fullouter (datatable(k:string, y:long) ['b', 20, 'c', 30]) on k | extend kk = coalesce(k, k1) | project kk, x, y | order by kk asc",
             json!([["a", 1, null], ["b", 2, 20], ["c", null, 30]])),
            ("T | join kind=leftsemi (datatable(Id:string) ['c', 'c']) on Id | project Value", json!([["https://evil.example/login?u=1"]])),
            (r#"print r = replace_regex('a1b22c', @'\d+', '#'), s = base64_decode_tostring('RmVlZCBB'), v = iif(1 > 2, 'y', 'n')"#,
             json!([["a#b#c", "Feed A", "n"]])),
            ("print m = ipv4_is_match('192.168.1.7', '192.168.1.0/24'), n = ipv4_is_match('192.168.2.7', '192.168.1.0', 24)", json!([[true, false]])),
            ("T | where Tags has_all ('phishing', 'c2') | project Id", json!([["c"]])),
            ("T | where Tags has_all ('phishing', 'zzz') | count", json!([[0]])),
            ("T | where Value endswith '.EXAMPLE' | project Id", json!([["a"]])),
            ("T | where Value endswith_cs '.EXAMPLE' | count", json!([[0]])),
            ("T | where Id !~ 'A' | distinct Id | order by Id asc", json!([["b"], ["c"]])),
            ("T | limit 2 | count", json!([[2]])),
            ("print d = todatetime('2024-01-01T10:00:00Z') + 1h, n = tolong('42') + 1, x = tolong('x')", json!([["2024-01-01T11:00:00Z", 43, null]])),
            ("T | summarize s = sumif(Confidence, Id == 'a'), d = dcountif(Id, Confidence > 50)", json!([[160, 2]])),
            ("T | where Value hasprefix 'logi' | project Id", json!([["c"]])),
            ("T | where Value has_cs 'Evil' | project Id", json!([["a"]])),
            ("T | where Id !in ('a', 'b') | project Id", json!([["c"]])),
            ("let v = view() { T | where Id == 'b' }; v | project Value", json!([["AA11"]])),
            ("print a = dynamic([1, 2]) | mvexpand a | count", json!([[2]])),
            // A subquery of arrays (make_list) is read as its elements.
            ("let l = T | where Confidence > 90 | summarize make_list(Id); T | where Id in~ (l) | project Value",
             json!([["https://evil.example/login?u=1"]])),
            // mv-expand of several columns: side by side, the longest sets the rows.
            ("print a = dynamic([1, 2, 3]), b = dynamic(['x', 'y']) | mv-expand a to typeof(long), b to typeof(string)",
             json!([[1, "x"], [2, "y"], [3, ""]])),
            ("print a = dynamic(['p', 'q']) | mv-expand with_itemindex=i a to typeof(string)", json!([["p", 0], ["q", 1]])),
            ("range i from 1 to 10 step 1 | summarize percentiles(i, 50, 90)", json!([[5.0, 9.0]])),
            // make-series: one row per group, arrays over the steps, the default where empty.
            ("T | make-series n = count() default = 0 on Created from datetime(2024-01-01) to datetime(2024-01-02) step 6h by Id | order by Id asc",
             json!([["a", [0, 2, 0, 0], ["2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z", "2024-01-01T18:00:00Z"]],
                    ["c", [0, 0, 0, 1], ["2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z", "2024-01-01T18:00:00Z"]]])),
            ("T | where Id != 'b' | make-series avg(Confidence) default = -1 on Created step 12h",
             json!([[[80.0, 95.0], ["2024-01-01T00:00:00Z", "2024-01-01T12:00:00Z"]]])),
            ("T | make-series count() on Created from datetime(2024-01-01 05:00) to datetime(2024-01-01 12:00) step 4h | project count_",
             json!([[[0, 2]]])),
            ("T | where Id == 'zzz' | make-series count() on Created step 1d", json!([])),
            ("print b = bin_at(datetime(2024-01-01 10:35), 1h, datetime(2024-01-01 00:15)), n = bin_at(17, 5, 3)",
             json!([["2024-01-01T10:15:00Z", 13]])),
            ("print t = datetime(2024-01-31) + 1d, s = 90m, b = bin(datetime(2024-01-31 10:35), 1h)",
             json!([["2024-02-01T00:00:00Z", "01:30:00", "2024-01-31T10:00:00Z"]])),
        ];
        let mut failures = Vec::new();
        for (q, want) in &table {
            match run(q) {
                Ok((_, rows)) => {
                    if Value::from(rows.clone()) != *want {
                        failures.push(format!("{q}\n  want {want}\n  got  {}", Value::from(rows)));
                    }
                }
                Err(e) => failures.push(format!("{q}\n  error: {e}")),
            }
        }
        assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), table.len(), failures.join("\n"));
    }

    #[test]
    fn result_columns_are_typed_and_named_as_kusto_names_them() {
        let (cols, _) =
            run("T | summarize count(), dcount(Key), make_set(Value), avg(Confidence) by Id, bin(Created, 1d)")
                .unwrap();
        assert_eq!(
            cols,
            [
                "Id:string", "Created:datetime", "count_:long", "dcount_Key:long", "set_Value:dynamic",
                "avg_Confidence:real"
            ]
        );
    }

    #[test]
    fn render_properties_in_both_forms() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _g = rt.enter();
        let e = Engine::new();
        for q in ["print x = 1 | render barchart kind=stacked", "print x = 1 | render barchart with (kind=stacked)"] {
            let r = e.run(q, NOW).unwrap();
            assert_eq!(r.render, Some(json!({"chart": "barchart", "kind": "stacked"})), "{q}");
        }
    }

    #[test]
    fn unknown_names_are_errors_with_suggestions() {
        let table = [
            ("T | where Confidnce > 5", "unknown column 'Confidnce'; did you mean 'Confidence'?"),
            ("T | extend x = tolowr(Value)", "unknown function 'tolowr'; did you mean 'tolower'?"),
            ("ThreatIntelIndicator | take 1", "unknown table or function 'ThreatIntelIndicator'"),
            ("T | summarize dcont(Id)", "unknown aggregation function 'dcont'; did you mean 'dcount'?"),
            ("T | join (T) on Idd", "the left side has no column 'Idd'; did you mean 'Id'?"),
            ("T | where count() > 1", "count() is an aggregation; use it in summarize"),
        ];
        for (q, want) in table {
            let e = run(q).unwrap_err();
            assert!(e.contains(want), "{q}: {e}");
        }
    }
}

mod files {
    use serde_json::json;

    use crate::files::FileFormat;
    use crate::Engine;

    /// arg_max(T, *) keeps whole rows: with many rows tied on the maximum, every column of
    /// a group's answer comes from the same input row (booleans included).
    #[test]
    fn arg_max_star_never_mixes_tied_rows() {
        let q = "range x from 1 to 20000 step 1 | extend G = x % 7, T = x % 3, A = tostring(x), B = x % 2 == 0, D = x * 10 \
                 | summarize arg_max(T, *) by G | order by G asc";
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _g = rt.enter();
        let r = Engine::new().run(q, 1_704_153_600_000_000).unwrap();
        let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["G", "T", "x", "A", "B", "D"]);
        assert_eq!(r.rows.len(), 7);
        for row in &r.rows {
            let x = row[2].as_i64().unwrap();
            assert_eq!(row[0].as_i64(), Some(x % 7), "{row:?}");
            assert_eq!(row[1].as_i64(), Some(2), "the maximum: {row:?}");
            assert_eq!(x % 3, 2, "{row:?}");
            assert_eq!(row[3], json!(x.to_string()), "{row:?}");
            assert_eq!(row[4], json!(x % 2 == 0), "{row:?}");
            assert_eq!(row[5].as_i64(), Some(x * 10), "{row:?}");
        }
    }

    #[test]
    fn event_tables_from_jsonl_csv_and_parquet_join_with_intelligence() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _g = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("dns")).unwrap();
        std::fs::write(
            d.join("dns/1.jsonl"),
            concat!(
                r#"{"TimeGenerated": "2024-01-01T10:00:00Z", "Name": "evil.example", "ClientIP": "10.0.0.5", "Bytes": 120, "Tags": ["a"]}"#, "\n",
                r#"{"TimeGenerated": "2024-01-01T11:00:00Z", "Name": "good.example", "ClientIP": "10.0.0.6", "Bytes": 80}"#, "\n",
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("dns/2.jsonl"),
            r#"{"TimeGenerated": "2024-01-01T12:00:00Z", "Name": "Evil.Example", "ClientIP": "10.0.0.7"}"#,
        )
        .unwrap();
        std::fs::write(d.join("fw.csv"), "SrcIP,DstIP,Port\n10.0.0.5,198.51.100.7,443\n10.0.0.6,203.0.113.1,80\n")
            .unwrap();
        let mut e = Engine::new();
        e.add_file_table("DnsEvents", &format!("{}/dns/*.jsonl", d.display()), FileFormat::Jsonl).unwrap();
        e.add_file_table("Firewall", &format!("{}/fw.csv", d.display()), FileFormat::Csv).unwrap();
        // Parquet, written by DataFusion from the CSV table.
        let pq = d.join("fw.parquet").display().to_string();
        let df = futures::executor::block_on(e.run_frame("Firewall | where Port == 443")).unwrap();
        futures::executor::block_on(df.write_parquet(&pq, Default::default(), None)).unwrap();
        e.add_file_table("FirewallPq", &pq, FileFormat::Parquet).unwrap();
        let run = |q: &str| e.run(q, 0).unwrap_or_else(|err| panic!("{}", err.render(q)));

        let r = run("DnsEvents | getschema | project ColumnName, ColumnType");
        assert_eq!(
            serde_json::Value::from(r.rows),
            json!([
                ["TimeGenerated", "datetime"],
                ["Name", "string"],
                ["ClientIP", "string"],
                ["Bytes", "long"],
                ["Tags", "dynamic"],
                ["Type", "string"]
            ])
        );
        // `Type` is the table's name, as in Log Analytics: content groups by it.
        let r = run("union withsource=T DnsEvents, Firewall | summarize n = count() by Type, T | order by Type asc");
        assert_eq!(
            serde_json::Value::from(r.rows),
            json!([["DnsEvents", "DnsEvents", 3], ["Firewall", "Firewall", 2]])
        );
        // A TI-map style join: intelligence × DNS events, case-folded as the rules do.
        let q = r#"let TI = datatable(ObservableValue:string, Id:string) ["evil.example", "ind-1", "198.51.100.7", "ind-2"];
TI | join kind=inner (DnsEvents | extend Domain = tolower(Name)) on $left.ObservableValue == $right.Domain
| project Id, ClientIP, TimeGenerated | order by TimeGenerated asc"#;
        let r = run(q);
        assert_eq!(
            serde_json::Value::from(r.rows),
            json!([["ind-1", "10.0.0.5", "2024-01-01T10:00:00Z"], ["ind-1", "10.0.0.7", "2024-01-01T12:00:00Z"]])
        );
        let r = run(
            r#"let TI = datatable(ObservableValue:string) ["198.51.100.7"]; Firewall | where DstIP in (TI) | project SrcIP, Port"#,
        );
        assert_eq!(serde_json::Value::from(r.rows), json!([["10.0.0.5", 443]]));
        let r = run("FirewallPq | project DstIP, Port");
        assert_eq!(serde_json::Value::from(r.rows), json!([["198.51.100.7", 443]]));
        assert_eq!(r.columns[1].ty, "long");
        // Bad input names the file and line.
        std::fs::write(d.join("bad.jsonl"), "{\"a\": 1}\nnot json\n").unwrap();
        let err = e.add_file_table("Bad", &format!("{}/bad.jsonl", d.display()), FileFormat::Jsonl).unwrap_err();
        assert!(err.contains("bad.jsonl:2:"), "{err}");
    }
}
