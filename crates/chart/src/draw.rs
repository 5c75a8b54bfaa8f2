//! Drawing shaped data with `plotters`' SVG backend.

use chrono::{DateTime, TimeZone, Utc};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

use crate::shape::{Plot, XValue};
use crate::{ChartError, Frame, Options, Visualization};

/// plotters' SVG backend writes text at 1/1.24 of the size asked, so sizes here are
/// chosen for what is drawn: 15 → 12 px labels, 20 → 16 px titles.
const LABEL: u32 = 15;
const TITLE: u32 = 20;

/// Tableau's ten: distinct in colour, and still apart for the common colour blindnesses.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];
const INK: RGBColor = RGBColor(0x33, 0x33, 0x33);
const FONT: &str = "sans-serif";
/// Series beyond this are folded into "other" so the legend stays readable.
const MAX_SERIES: usize = 10;
/// Categories beyond this are cut (bars become unreadable first).
const MAX_CATEGORIES: usize = 30;

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError(format!("drawing the chart failed: {e}"))
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn to_time(t: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(t).single().unwrap_or_default()
}

/// A plot with the tail of many series folded into "other" (summed per x).
fn folded(plot: &Plot) -> Plot {
    let mut p = plot.clone();
    if p.series.len() > MAX_SERIES {
        let rest = p.series.split_off(MAX_SERIES - 1);
        let mut other = crate::Series { name: "other".into(), points: Vec::new() };
        for s in rest {
            for (x, y) in s.points {
                match other.points.iter_mut().find(|(ox, _)| *ox == x) {
                    Some((_, oy)) => *oy += y,
                    None => other.points.push((x, y)),
                }
            }
        }
        p.series.push(other);
    }
    p.categories.truncate(MAX_CATEGORIES);
    p
}

pub fn chart(plot: &Plot, viz: Visualization, opts: &Options) -> Result<String, ChartError> {
    let plot = folded(plot);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (opts.width, opts.height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let area = if opts.title.is_empty() {
            root.clone()
        } else {
            root.titled(&short(&opts.title, 80), (FONT, TITLE).into_font().color(&INK)).map_err(err)?
        };
        if plot.series.iter().all(|s| s.points.is_empty()) {
            area.draw(&Text::new(
                "No data",
                (opts.width as i32 / 2, opts.height as i32 / 3),
                (FONT, 17).into_font().color(&INK).pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(err)?;
        } else {
            match viz {
                Visualization::Pie => pie(&area, &plot)?,
                Visualization::Bar | Visualization::StackedBar => bars(&area, &plot, viz, true)?,
                Visualization::Column | Visualization::StackedColumn => bars(&area, &plot, viz, false)?,
                _ => lines(&area, &plot, viz)?,
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// The value range of the y axis: from 0 (or the lowest negative) to a little over the top.
fn y_range(plot: &Plot, stacked: bool) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (0f64, 0f64);
    if stacked {
        for c in &plot.categories {
            let sum: f64 = plot
                .series
                .iter()
                .flat_map(|s| s.points.iter().filter(|(x, _)| matches!(x, XValue::Category(k) if k == c)))
                .map(|(_, y)| y.max(0.0))
                .sum();
            hi = hi.max(sum);
        }
    }
    for s in &plot.series {
        for (_, y) in &s.points {
            lo = lo.min(*y);
            hi = hi.max(*y);
        }
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    lo * 1.05..hi * 1.08
}

fn bars(area: &Area<'_>, plot: &Plot, viz: Visualization, horizontal: bool) -> Result<(), ChartError> {
    let n = plot.categories.len() as u32;
    let stacked = matches!(viz, Visualization::StackedBar | Visualization::StackedColumn);
    let yr = y_range(plot, stacked);
    let cats = plot.categories.clone();
    let k = plot.series.len().max(1) as u32;
    let label = move |v: &SegmentValue<u32>, reverse: bool| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            let i = if reverse { n.saturating_sub(1).saturating_sub(*i) } else { *i };
            cats.get(i as usize).map(|c| short(c, 18)).unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    let mut b = ChartBuilder::on(area);
    b.margin(10);
    // Each bar: its category's segment, a slice of it per series unless stacked.
    let value_at = |s: &crate::Series, c: &str| {
        s.points.iter().filter(|(x, _)| matches!(x, XValue::Category(k) if k == c)).map(|(_, y)| *y).sum::<f64>()
    };
    if horizontal {
        let longest = plot.categories.iter().map(|c| c.chars().count().min(18)).max().unwrap_or(4) as u32;
        b.x_label_area_size(30).y_label_area_size(16 + 7 * longest);
        let mut chart = b.build_cartesian_2d(yr, (0..n).into_segmented()).map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&|v| label(v, true))
            .x_desc(&plot.y_name)
            .label_style((FONT, LABEL).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        let seg = chart.plotting_area().dim_in_pixel().1 as f64 / f64::from(n.max(1));
        let mut base = vec![0f64; n as usize];
        for (si, s) in plot.series.iter().enumerate() {
            let c = colour(si);
            let mut rects = Vec::new();
            for (ci, cat) in plot.categories.iter().enumerate() {
                let v = value_at(s, cat);
                let slot = n - 1 - ci as u32;
                let (x0, x1) = if stacked { (base[ci], base[ci] + v) } else { (0.0, v) };
                base[ci] += v.max(0.0);
                let (top, bottom) = slice(seg, si as u32, if stacked { 1 } else { k }, stacked);
                let mut r =
                    Rectangle::new([(x0, SegmentValue::Exact(slot)), (x1, SegmentValue::Exact(slot + 1))], c.filled());
                r.set_margin(bottom, top, 0, 0);
                rects.push(r);
            }
            let series = chart.draw_series(rects).map_err(err)?;
            if plot.series.len() > 1 {
                series
                    .label(short(&s.name, 30))
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
            }
        }
        legend(&mut chart, plot)?;
    } else {
        b.x_label_area_size(40).y_label_area_size(56);
        let mut chart = b.build_cartesian_2d((0..n).into_segmented(), yr).map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n as usize)
            .x_label_formatter(&|v| label(v, false))
            .x_desc(&plot.x_name)
            .y_desc(&plot.y_name)
            .label_style((FONT, LABEL).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        let seg = chart.plotting_area().dim_in_pixel().0 as f64 / f64::from(n.max(1));
        let mut base = vec![0f64; n as usize];
        for (si, s) in plot.series.iter().enumerate() {
            let c = colour(si);
            let mut rects = Vec::new();
            for (ci, cat) in plot.categories.iter().enumerate() {
                let v = value_at(s, cat);
                let (y0, y1) = if stacked { (base[ci], base[ci] + v) } else { (0.0, v) };
                base[ci] += v.max(0.0);
                let (left, right) = slice(seg, si as u32, if stacked { 1 } else { k }, stacked);
                let mut r = Rectangle::new(
                    [(SegmentValue::Exact(ci as u32), y0), (SegmentValue::Exact(ci as u32 + 1), y1)],
                    c.filled(),
                );
                r.set_margin(0, 0, left, right);
                rects.push(r);
            }
            let series = chart.draw_series(rects).map_err(err)?;
            if plot.series.len() > 1 {
                series
                    .label(short(&s.name, 30))
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
            }
        }
        legend(&mut chart, plot)?;
    }
    Ok(())
}

/// The margins (before, after) in pixels that leave bar `i` of `k` side by side in a
/// segment `seg` pixels wide, with a gap around the group.
fn slice(seg: f64, i: u32, k: u32, stacked: bool) -> (u32, u32) {
    let gap = (seg * 0.15).max(1.0);
    let inner = (seg - 2.0 * gap).max(1.0);
    let w = inner / f64::from(if stacked { 1 } else { k });
    let i = if stacked { 0 } else { i };
    let before = gap + w * f64::from(i);
    let after = seg - before - w;
    (before.max(0.0) as u32, after.max(0.0) as u32)
}

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    plot: &Plot,
) -> Result<(), ChartError> {
    if plot.series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(0xcc, 0xcc, 0xcc))
            .label_font((FONT, LABEL).into_font().color(&INK))
            .draw()
            .map_err(|e| ChartError(format!("drawing the legend failed: {e}")))?;
    }
    Ok(())
}

fn lines(area: &Area<'_>, plot: &Plot, viz: Visualization) -> Result<(), ChartError> {
    let yr = y_range(plot, false);
    let mut b = ChartBuilder::on(area);
    b.margin(10).x_label_area_size(40).y_label_area_size(56);
    let times: Vec<i64> = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|(x, _)| if let XValue::Time(t) = x { Some(*t) } else { None }))
        .collect();
    let fill = viz == Visualization::Area;
    if !times.is_empty() {
        let (lo, hi) = (*times.iter().min().unwrap_or(&0), *times.iter().max().unwrap_or(&0));
        let hi = if hi <= lo { lo + 3_600_000_000 } else { hi };
        let fmt = if hi - lo <= 2 * 86_400_000_000 { "%m-%d %H:%M" } else { "%Y-%m-%d" };
        let mut chart = b.build_cartesian_2d(to_time(lo)..to_time(hi), yr.clone()).map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|t| t.format(fmt).to_string())
            .x_desc(&plot.x_name)
            .y_desc(&plot.y_name)
            .label_style((FONT, LABEL).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        for (si, s) in plot.series.iter().enumerate() {
            let c = colour(si);
            let pts: Vec<(DateTime<Utc>, f64)> = s
                .points
                .iter()
                .filter_map(|(x, y)| if let XValue::Time(t) = x { Some((to_time(*t), *y)) } else { None })
                .collect();
            let drawn = if fill {
                chart.draw_series(AreaSeries::new(pts, yr.start.min(0.0), c.mix(0.25)).border_style(c.stroke_width(2)))
            } else {
                chart.draw_series(LineSeries::new(pts, c.stroke_width(2)))
            }
            .map_err(err)?;
            if plot.series.len() > 1 {
                drawn
                    .label(short(&s.name, 30))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
            }
        }
        legend(&mut chart, plot)?;
        return Ok(());
    }
    // A numeric axis, or categories drawn at their positions in order.
    let xs = |s: &crate::Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .map(|(x, y)| match x {
                XValue::Number(n) => (*n, *y),
                XValue::Category(c) => (plot.categories.iter().position(|k| k == c).unwrap_or(0) as f64, *y),
                XValue::Time(t) => (*t as f64, *y),
            })
            .collect()
    };
    let all: Vec<f64> = plot.series.iter().flat_map(|s| xs(s).into_iter().map(|p| p.0)).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    let cats = plot.categories.clone();
    let mut chart = b.build_cartesian_2d(lo..hi, yr.clone()).map_err(err)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| {
            if cats.is_empty() {
                format!("{v}")
            } else if (v - v.round()).abs() < 1e-9 {
                cats.get(v.round() as usize).map(|c| short(c, 12)).unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(&plot.x_name)
        .y_desc(&plot.y_name)
        .label_style((FONT, LABEL).into_font().color(&INK))
        .draw()
        .map_err(err)?;
    for (si, s) in plot.series.iter().enumerate() {
        let c = colour(si);
        let drawn = if fill {
            chart.draw_series(AreaSeries::new(xs(s), yr.start.min(0.0), c.mix(0.25)).border_style(c.stroke_width(2)))
        } else {
            chart.draw_series(LineSeries::new(xs(s), c.stroke_width(2)))
        }
        .map_err(err)?;
        if plot.series.len() > 1 {
            drawn
                .label(short(&s.name, 30))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
        }
    }
    legend(&mut chart, plot)
}

fn pie(area: &Area<'_>, plot: &Plot) -> Result<(), ChartError> {
    let s = &plot.series[0];
    let mut labels = Vec::new();
    let mut sizes = Vec::new();
    for c in &plot.categories {
        let v: f64 = s.points.iter().filter(|(x, _)| matches!(x, XValue::Category(k) if k == c)).map(|(_, y)| *y).sum();
        if v > 0.0 {
            labels.push(c.clone());
            sizes.push(v);
        }
    }
    let total: f64 = sizes.iter().sum();
    let (w, h) = area.dim_in_pixel();
    let r = (f64::from(h.min(w)) / 2.0 - 24.0).max(10.0);
    let center = ((r + 24.0) as i32, h as i32 / 2);
    let colours: Vec<RGBColor> = (0..sizes.len()).map(colour).collect();
    let empty: Vec<String> = vec![String::new(); sizes.len()];
    let mut p = Pie::new(&center, &r, &sizes, &colours, &empty);
    p.start_angle(-90.0);
    area.draw(&p).map_err(err)?;
    // The legend: colour, name, value and share, beside the pie.
    let x = center.0 + r as i32 + 24;
    for (i, (l, v)) in labels.iter().zip(&sizes).enumerate().take(14) {
        let y = 16 + i as i32 * 18;
        area.draw(&Rectangle::new([(x, y - 5), (x + 10, y + 5)], colours[i].filled())).map_err(err)?;
        let pct = if total > 0.0 { v / total * 100.0 } else { 0.0 };
        let text = format!("{} — {} ({pct:.1}%)", short(l, 28), fmt_number(*v));
        area.draw(&Text::new(
            text,
            (x + 16, y),
            (FONT, LABEL).into_font().color(&INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let n = v as i64;
        let s = n.abs().to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        if n < 0 {
            format!("-{out}")
        } else {
            out
        }
    } else {
        format!("{v:.2}")
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => n.as_f64().map(fmt_number).unwrap_or_else(|| n.to_string()),
        v => v.to_string(),
    }
}

/// One number, large, under the title (the first numeric value of the first row).
pub fn number(frame: Frame<'_>, opts: &Options) -> Result<String, ChartError> {
    let first = frame.rows.first();
    let idx = frame.columns.iter().position(|(_, t)| matches!(t.as_str(), "long" | "int" | "real" | "decimal"));
    let (value, label) = match (first, idx) {
        (Some(r), Some(i)) => (cell(&r[i]), frame.columns[i].0.clone()),
        (Some(r), None) if !r.is_empty() => (cell(&r[0]), frame.columns[0].0.clone()),
        _ => ("—".to_string(), "no rows".to_string()),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (opts.width, opts.height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (w, h) = (opts.width as i32, opts.height as i32);
        let centre = Pos::new(HPos::Center, VPos::Center);
        root.draw(&Text::new(short(&opts.title, 60), (w / 2, 20), (FONT, TITLE).into_font().color(&INK).pos(centre)))
            .map_err(err)?;
        root.draw(&Text::new(value, (w / 2, h / 2), (FONT, (h / 4).max(18)).into_font().color(&colour(0)).pos(centre)))
            .map_err(err)?;
        root.draw(&Text::new(label, (w / 2, h / 2 + h / 5), (FONT, 16).into_font().color(&INK).pos(centre)))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The first rows as a table (the UI shows the full, paged table; this is the picture).
pub fn table(frame: Frame<'_>, opts: &Options) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (opts.width, opts.height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let style = |size: i32| (FONT, size).into_font().color(&INK).pos(Pos::new(HPos::Left, VPos::Center));
        let mut y = 16;
        if !opts.title.is_empty() {
            root.draw(&Text::new(short(&opts.title, 80), (8, y), style(TITLE as i32))).map_err(err)?;
            y += 24;
        }
        let n = frame.columns.len().max(1);
        let col_w = (opts.width as i32 - 16) / n as i32;
        let chars = (col_w / 7).max(4) as usize;
        for (i, (name, _)) in frame.columns.iter().enumerate() {
            root.draw(&Text::new(
                short(name, chars),
                (8 + i as i32 * col_w, y),
                (FONT, LABEL).into_font().style(FontStyle::Bold).color(&INK).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
        }
        y += 6;
        root.draw(&PathElement::new(vec![(8, y), (opts.width as i32 - 8, y)], RGBColor(0xcc, 0xcc, 0xcc)))
            .map_err(err)?;
        let fits = ((opts.height as i32 - y - 8) / 18).max(0) as usize;
        for row in frame.rows.iter().take(fits) {
            y += 18;
            for (i, v) in row.iter().enumerate() {
                root.draw(&Text::new(short(&cell(v), chars), (8 + i as i32 * col_w, y), style(LABEL as i32)))
                    .map_err(err)?;
            }
        }
        if frame.rows.len() > fits {
            root.draw(&Text::new(
                format!("… {} more rows", frame.rows.len() - fits),
                (8, opts.height as i32 - 8),
                style(LABEL as i32 - 1),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}
