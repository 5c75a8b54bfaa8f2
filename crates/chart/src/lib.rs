//! Charts of query results, rendered to SVG on the server.
//!
//! A result (named, typed columns and rows of JSON values, as the KQL engine returns
//! them) becomes a chart by Kusto's `render` rules: the x axis is the first datetime
//! column (time and line charts) or the first string column (bar, column, pie); every
//! numeric column is a y series; the remaining string columns split rows into series.
//! `make-series` results (arrays per row) are unrolled the same way.
//!
//! Key decision: the data is shaped here (`shape`), separately from drawing (`draw`,
//! with `plotters`' SVG backend), so what a chart shows is tested as data and the
//! drawing stays a thin layer. Text is escaped by the backend, so a title or label
//! taken from intelligence (`<script>…`) is shown as text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod draw;
mod shape;

pub use shape::{shape, Plot, Series, XValue};

/// How a tile or a query's result is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visualization {
    /// Horizontal bars, one per category (Kusto's `barchart`).
    Bar,
    /// Horizontal bars with the series stacked.
    StackedBar,
    /// Vertical columns (Kusto's `columnchart`).
    Column,
    /// Vertical columns with the series stacked.
    StackedColumn,
    Pie,
    /// Lines over a numeric or time axis (`linechart`).
    Line,
    /// Lines over time (`timechart`).
    TimeChart,
    /// Filled areas over time (`areachart`).
    Area,
    Table,
    /// One number: the first numeric value of the first row (Kusto's `card`).
    Number,
}

impl Visualization {
    /// From a `render` operator: its chart name and `kind` property.
    pub fn from_render(chart: &str, kind: Option<&str>) -> Option<Visualization> {
        let stacked = matches!(kind, Some("stacked" | "stacked100"));
        Some(match chart.to_ascii_lowercase().as_str() {
            "barchart" if stacked => Visualization::StackedBar,
            "barchart" => Visualization::Bar,
            "columnchart" if stacked => Visualization::StackedColumn,
            "columnchart" => Visualization::Column,
            "piechart" => Visualization::Pie,
            "linechart" | "scatterchart" => Visualization::Line,
            "timechart" | "timepivot" => Visualization::TimeChart,
            "areachart" | "stackedareachart" => Visualization::Area,
            "table" => Visualization::Table,
            "card" => Visualization::Number,
            _ => return None,
        })
    }

    /// The name used in workbook files and URLs.
    pub fn name(self) -> &'static str {
        match self {
            Visualization::Bar => "bar",
            Visualization::StackedBar => "stackedbar",
            Visualization::Column => "column",
            Visualization::StackedColumn => "stackedcolumn",
            Visualization::Pie => "pie",
            Visualization::Line => "line",
            Visualization::TimeChart => "timechart",
            Visualization::Area => "area",
            Visualization::Table => "table",
            Visualization::Number => "number",
        }
    }

    pub const ALL: [Visualization; 10] = [
        Visualization::Bar,
        Visualization::StackedBar,
        Visualization::Column,
        Visualization::StackedColumn,
        Visualization::Pie,
        Visualization::Line,
        Visualization::TimeChart,
        Visualization::Area,
        Visualization::Table,
        Visualization::Number,
    ];

    pub fn parse(s: &str) -> Option<Visualization> {
        Visualization::ALL.into_iter().find(|v| v.name() == s.to_ascii_lowercase())
    }

    fn over_time(self) -> bool {
        matches!(self, Visualization::Line | Visualization::TimeChart | Visualization::Area)
    }
}

/// A query result to draw: column names with their Kusto types, and rows.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub columns: &'a [(String, String)],
    pub rows: &'a [Vec<Value>],
}

/// Size and text of a chart.
#[derive(Clone, Debug)]
pub struct Options {
    pub title: String,
    pub width: u32,
    pub height: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { title: String::new(), width: 640, height: 320 }
    }
}

/// Why a result could not be drawn as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChartError {}

/// Draws `frame` as `viz` into an SVG document.
pub fn render(frame: Frame<'_>, viz: Visualization, opts: &Options) -> Result<String, ChartError> {
    match viz {
        Visualization::Table => draw::table(frame, opts),
        Visualization::Number => draw::number(frame, opts),
        _ => {
            let plot = shape(frame, viz)?;
            draw::chart(&plot, viz, opts)
        }
    }
}

#[cfg(test)]
mod tests;
