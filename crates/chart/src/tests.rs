use serde_json::{json, Value};

use crate::*;

fn cols(spec: &[(&str, &str)]) -> Vec<(String, String)> {
    spec.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
}

fn rows(v: Value) -> Vec<Vec<Value>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().clone()).collect()
}

const T0: i64 = 1_704_067_200_000_000; // 2024-01-01T00:00:00Z
const H: i64 = 3_600_000_000;

#[test]
fn results_take_the_shape_kusto_draws() {
    // (columns, rows, visualization) → (x name, y name, categories, series as (name, points)).
    type Case = (
        Vec<(String, String)>,
        Value,
        Visualization,
        &'static str,
        &'static str,
        Vec<&'static str>,
        Vec<(&'static str, Vec<(XValue, f64)>)>,
    );
    let cat = |s: &str| XValue::Category(s.into());
    let table: Vec<Case> = vec![
        // One string and one count: categories, one series named after the count.
        (
            cols(&[("SourceSystem", "string"), ("Count", "long")]),
            json!([["feed-a", 3], ["feed-b", 1]]),
            Visualization::Bar,
            "SourceSystem",
            "Count",
            vec!["feed-a", "feed-b"],
            vec![("Count", vec![(cat("feed-a"), 3.0), (cat("feed-b"), 1.0)])],
        ),
        // A second string column splits the series (stacked columns by type).
        (
            cols(&[("Type", "string"), ("Source", "string"), ("n", "long")]),
            json!([["ipv4", "a", 2], ["url", "a", 1], ["ipv4", "b", 5]]),
            Visualization::StackedColumn,
            "Type",
            "n",
            vec!["ipv4", "url"],
            vec![("a", vec![(cat("ipv4"), 2.0), (cat("url"), 1.0)]), ("b", vec![(cat("ipv4"), 5.0)])],
        ),
        // Time chart: the datetime column is the axis wherever it is; points sorted by time.
        (
            cols(&[("Type", "string"), ("TimeGenerated", "datetime"), ("count_", "long")]),
            json!([
                ["url", "2024-01-01T01:00:00Z", 4],
                ["url", "2024-01-01T00:00:00Z", 2],
                ["ip", "2024-01-01T00:00:00Z", 7]
            ]),
            Visualization::TimeChart,
            "TimeGenerated",
            "count_",
            vec![],
            vec![
                ("url", vec![(XValue::Time(T0), 2.0), (XValue::Time(T0 + H), 4.0)]),
                ("ip", vec![(XValue::Time(T0), 7.0)]),
            ],
        ),
        // Columns over time buckets: the first column is the axis, in time order, split by type.
        (
            cols(&[("TimeGenerated", "datetime"), ("Type", "string"), ("n", "long")]),
            json!([
                ["2024-01-02T00:00:00Z", "ip", 1],
                ["2024-01-01T10:00:00Z", "ip", 2],
                ["2024-01-01T10:00:00Z", "url", 3]
            ]),
            Visualization::StackedColumn,
            "TimeGenerated",
            "n",
            vec!["2024-01-01 10:00", "2024-01-02"],
            vec![
                ("ip", vec![(cat("2024-01-02"), 1.0), (cat("2024-01-01 10:00"), 2.0)]),
                ("url", vec![(cat("2024-01-01 10:00"), 3.0)]),
            ],
        ),
        // Two numeric columns: one series each, named by the column.
        (
            cols(&[("k", "string"), ("a", "long"), ("b", "real")]),
            json!([["x", 1, 0.5]]),
            Visualization::Column,
            "k",
            "value",
            vec!["x"],
            vec![("a", vec![(cat("x"), 1.0)]), ("b", vec![(cat("x"), 0.5)])],
        ),
        // make-series: arrays unrolled along the datetime array.
        (
            cols(&[("Type", "string"), ("n", "dynamic"), ("TimeGenerated", "dynamic")]),
            json!([["ip", [1, 0], ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"]]]),
            Visualization::TimeChart,
            "TimeGenerated",
            "n",
            vec![],
            vec![("ip", vec![(XValue::Time(T0), 1.0), (XValue::Time(T0 + H), 0.0)])],
        ),
    ];
    for (i, (c, r, viz, x, y, cats, series)) in table.into_iter().enumerate() {
        let r = rows(r);
        let p = shape(Frame { columns: &c, rows: &r }, viz).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(p.x_name, x, "case {i}");
        assert_eq!(p.y_name, y, "case {i}");
        assert_eq!(p.categories, cats, "case {i}");
        let got: Vec<(String, Vec<(XValue, f64)>)> = p.series.into_iter().map(|s| (s.name, s.points)).collect();
        let want: Vec<(String, Vec<(XValue, f64)>)> = series.into_iter().map(|(n, p)| (n.to_string(), p)).collect();
        assert_eq!(got, want, "case {i}");
    }
}

#[test]
fn a_result_without_numbers_is_refused_by_name() {
    let c = cols(&[("Id", "string"), ("Value", "string")]);
    let r = rows(json!([["a", "b"]]));
    let e = shape(Frame { columns: &c, rows: &r }, Visualization::Pie).unwrap_err();
    assert!(e.0.contains("needs a numeric column") && e.0.contains("Id:string, Value:string"), "{e}");
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

/// The backend writes each text on its own line inside `<text>`.
fn has_text(svg: &str, t: &str) -> bool {
    svg.contains(&format!(">\n{t}\n</text>"))
}

#[test]
fn charts_are_svg_with_their_labels() {
    let c = cols(&[("SourceSystem", "string"), ("Count", "long")]);
    let r = rows(json!([["feed-a", 3], ["feed-b", 1], ["feed-c", 2]]));
    let f = Frame { columns: &c, rows: &r };
    for viz in [Visualization::Bar, Visualization::Column, Visualization::StackedBar, Visualization::Pie] {
        let svg = render(f, viz, &Options { title: "By source".into(), ..Options::default() }).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{viz:?}");
        assert!(has_text(&svg, "By source"), "{viz:?}: title");
        for name in ["feed-a", "feed-b", "feed-c"] {
            assert!(svg.contains(name), "{viz:?}: label {name}");
        }
    }
    // Bars: one filled rectangle per category, in the first palette colour.
    let svg = render(f, Visualization::Column, &Options::default()).unwrap();
    assert_eq!(count(&svg, "fill=\"#4E79A7\""), 3, "{svg}");
    // Pie: shares in the legend.
    let svg = render(f, Visualization::Pie, &Options::default()).unwrap();
    assert!(has_text(&svg, "feed-a — 3 (50.0%)"), "{svg}");
    assert!(has_text(&svg, "feed-b — 1 (16.7%)"), "{svg}");
}

#[test]
fn time_charts_have_a_line_per_series_and_a_legend() {
    let c = cols(&[("Type", "string"), ("TimeGenerated", "datetime"), ("n", "long")]);
    let r = rows(json!([
        ["url", "2024-01-01T00:00:00Z", 2],
        ["url", "2024-01-01T01:00:00Z", 4],
        ["ip", "2024-01-01T00:00:00Z", 7],
        ["ip", "2024-01-01T01:00:00Z", 1]
    ]));
    let svg = render(Frame { columns: &c, rows: &r }, Visualization::TimeChart, &Options::default()).unwrap();
    // Two lines and two legend marks, in the first two palette colours.
    assert_eq!(count(&svg, "stroke=\"#4E79A7\" stroke-width=\"2\""), 2, "{svg}");
    assert_eq!(count(&svg, "stroke=\"#F28E2B\" stroke-width=\"2\""), 2, "{svg}");
    assert!(has_text(&svg, "url") && has_text(&svg, "ip"), "legend");
    assert!(svg.contains("01-01 00:00") || svg.contains("01-01 01:00"), "time labels: {svg}");
}

#[test]
fn numbers_tables_and_empty_results() {
    let c = cols(&[("Active", "long")]);
    let r = rows(json!([[1234567]]));
    let svg = render(
        Frame { columns: &c, rows: &r },
        Visualization::Number,
        &Options { title: "Active".into(), ..Options::default() },
    )
    .unwrap();
    assert!(has_text(&svg, "1,234,567"), "{svg}");
    let c = cols(&[("Name", "string"), ("n", "long")]);
    let r = rows(json!([["<script>alert(1)</script>", 1]]));
    for viz in [Visualization::Table, Visualization::Bar] {
        let svg = render(Frame { columns: &c, rows: &r }, viz, &Options::default()).unwrap();
        assert!(!svg.contains("<script>"), "{viz:?}: {svg}");
        assert!(svg.contains("&lt;script&gt;"), "{viz:?}: escaped as text: {svg}");
    }
    let r: Vec<Vec<Value>> = Vec::new();
    let svg = render(Frame { columns: &c, rows: &r }, Visualization::Column, &Options::default()).unwrap();
    assert!(has_text(&svg, "No data"), "{svg}");
    // An empty make-series (dynamic columns only) is "No data" too, not an error.
    let c = cols(&[("n", "dynamic"), ("TimeGenerated", "dynamic")]);
    let svg = render(Frame { columns: &c, rows: &r }, Visualization::TimeChart, &Options::default()).unwrap();
    assert!(has_text(&svg, "No data"), "{svg}");
}
