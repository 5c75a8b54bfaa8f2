//! From rows to series: which column is the x axis, which are values, which split series.

use serde_json::Value;

use crate::{ChartError, Frame, Visualization};

/// A point's position on the x axis.
#[derive(Clone, Debug, PartialEq)]
pub enum XValue {
    /// Microseconds since the epoch.
    Time(i64),
    Number(f64),
    Category(String),
}

/// One line, bar set or pie.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(XValue, f64)>,
}

/// What a chart shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    pub x_name: String,
    /// The y column's name when there is one, else "value".
    pub y_name: String,
    /// Categories in the order they first appear (category axes only).
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

fn is_numeric(t: &str) -> bool {
    matches!(t, "long" | "int" | "real" | "decimal")
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn time(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_micros())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// Shapes a result for `viz` (not `Table`/`Number`, which draw rows as they are).
pub fn shape(frame: Frame<'_>, viz: Visualization) -> Result<Plot, ChartError> {
    let cols = frame.columns;
    if cols.is_empty() {
        return Err(ChartError("the result has no columns to draw".into()));
    }
    // Nothing to draw is a chart saying so, whatever the columns.
    if frame.rows.is_empty() {
        return Ok(Plot {
            x_name: cols[0].0.clone(),
            y_name: String::new(),
            categories: Vec::new(),
            series: Vec::new(),
        });
    }
    // make-series: arrays per row, with the axis as an array of datetimes or numbers.
    if cols.iter().any(|(_, t)| t == "dynamic") && frame.rows.iter().any(|r| r.iter().any(Value::is_array)) {
        if let Some(p) = series_of_arrays(frame) {
            return Ok(p);
        }
    }
    let x = if viz.over_time() {
        cols.iter()
            .position(|(_, t)| t == "datetime")
            .or_else(|| cols.iter().position(|(_, t)| is_numeric(t)))
            .unwrap_or(0)
    } else {
        // Bars, columns and pies: the first column, whatever its type (as Kusto draws).
        0
    };
    let ys: Vec<usize> = (0..cols.len()).filter(|&i| i != x && is_numeric(&cols[i].1)).collect();
    if ys.is_empty() {
        return Err(ChartError(format!(
            "a {} chart needs a numeric column to draw, and the result has none (columns: {})",
            viz.name(),
            cols.iter().map(|(n, t)| format!("{n}:{t}")).collect::<Vec<_>>().join(", ")
        )));
    }
    let splits: Vec<usize> =
        (0..cols.len()).filter(|&i| i != x && !ys.contains(&i) && cols[i].1 != "dynamic").collect();
    let x_kind = &cols[x].1;
    let mut categories: Vec<String> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    for row in frame.rows {
        let xv = match x_kind.as_str() {
            "datetime" if viz.over_time() => match time(&row[x]) {
                Some(t) => XValue::Time(t),
                None => continue,
            },
            t if is_numeric(t) && viz.over_time() => match number(&row[x]) {
                Some(n) => XValue::Number(n),
                None => continue,
            },
            _ => {
                let c = if x_kind == "datetime" { time_label(&row[x]) } else { text(&row[x]) };
                if !categories.contains(&c) {
                    categories.push(c.clone());
                }
                XValue::Category(c)
            }
        };
        let split: Vec<String> = splits.iter().map(|&i| text(&row[i])).collect();
        for &y in &ys {
            let Some(v) = number(&row[y]) else { continue };
            let mut name = split.join(", ");
            if ys.len() > 1 || name.is_empty() {
                if !name.is_empty() {
                    name.push_str(" / ");
                }
                name.push_str(&cols[y].0);
            }
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push((xv.clone(), v)),
                None => series.push(Series { name, points: vec![(xv.clone(), v)] }),
            }
        }
    }
    // Time buckets as categories read left to right in time order.
    if x_kind == "datetime" && !viz.over_time() {
        categories.sort();
    }
    for s in &mut series {
        s.points.sort_by(|a, b| match (&a.0, &b.0) {
            (XValue::Time(a), XValue::Time(b)) => a.cmp(b),
            (XValue::Number(a), XValue::Number(b)) => a.total_cmp(b),
            _ => std::cmp::Ordering::Equal,
        });
    }
    Ok(Plot {
        x_name: cols[x].0.clone(),
        y_name: if ys.len() == 1 { cols[ys[0]].0.clone() } else { "value".into() },
        categories,
        series,
    })
}

/// A datetime as a category label: `2024-01-01 10:00`, or the date alone at midnight
/// (labels sort in time order).
fn time_label(v: &Value) -> String {
    match time(v).and_then(chrono::DateTime::from_timestamp_micros) {
        Some(t) if t.format("%H:%M:%S").to_string() == "00:00:00" => t.format("%Y-%m-%d").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => text(v),
    }
}

/// A make-series result: string columns name the series, numeric arrays are the values,
/// and the array of datetimes (or numbers) whose every element parses is the axis.
fn series_of_arrays(frame: Frame<'_>) -> Option<Plot> {
    let cols = frame.columns;
    let first = frame.rows.first()?;
    let arrays: Vec<usize> = (0..cols.len()).filter(|&i| first[i].is_array()).collect();
    let axis = arrays
        .iter()
        .copied()
        .find(|&i| first[i].as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|v| time(v).is_some())))?;
    let names: Vec<usize> = (0..cols.len()).filter(|i| !arrays.contains(i)).collect();
    let values: Vec<usize> = arrays.iter().copied().filter(|&i| i != axis).collect();
    let mut series = Vec::new();
    for row in frame.rows {
        let xs: Vec<i64> = row[axis].as_array()?.iter().filter_map(time).collect();
        let label: Vec<String> = names.iter().map(|&i| text(&row[i])).collect();
        for &v in &values {
            let ys = row[v].as_array()?;
            let mut name = label.join(", ");
            if values.len() > 1 || name.is_empty() {
                if !name.is_empty() {
                    name.push_str(" / ");
                }
                name.push_str(&cols[v].0);
            }
            let points = xs.iter().zip(ys).filter_map(|(x, y)| Some((XValue::Time(*x), number(y)?))).collect();
            series.push(Series { name, points });
        }
    }
    Some(Plot {
        x_name: cols[axis].0.clone(),
        y_name: if values.len() == 1 { cols[values[0]].0.clone() } else { "value".into() },
        categories: Vec::new(),
        series,
    })
}
