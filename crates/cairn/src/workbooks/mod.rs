//! Workbooks: saved sets of KQL tiles with a shared time range, drawn as SVG charts.
//!
//! A workbook is a JSON document (`{"id", "name", "time_range", "tiles": [...]}`) kept
//! in the store; the same JSON is what `cairn workbook export` writes and `import`
//! reads. The default "Threat Intelligence" workbook ships in the binary
//! (`threat-intelligence.json`); saving a workbook with its id stores an edited copy,
//! and deleting that copy brings the shipped one back.
//!
//! Tiles name the time range as Azure workbooks do: `{TimeRange}` (a whole condition,
//! as in `where TimeGenerated {TimeRange}`), `{TimeRange:start}`, `{TimeRange:end}`
//! and `{TimeRange:grain}` (a bin size giving a readable number of buckets).

use std::sync::Arc;

use cairn_chart::{Frame, Options, Visualization};
use cairn_kql::QueryResult;
use serde::{Deserialize, Serialize};

use crate::hunting::Hunting;

const KIND: &str = "workbook";
/// The shipped default workbook.
pub const DEFAULT_ID: &str = "threat-intelligence";
const DEFAULT_JSON: &str = include_str!("threat-intelligence.json");

/// A saved workbook.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Workbook {
    /// Letters, digits and `-`; the workbook's address (`/workbooks/{id}`).
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub time_range: TimeRangeParam,
    /// Text parameters (`{Indicator}` in a query), filled in when the workbook is viewed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    pub tiles: Vec<Tile>,
}

/// A text parameter: `{Name}` in tile queries becomes its value, with `\`, `"` and `'`
/// escaped (values land inside string literals; KQL is read-only either way).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default)]
    pub default: String,
}

/// Values of a workbook's text parameters, by name.
pub type ParamValues = std::collections::BTreeMap<String, String>;

impl Workbook {
    /// The parameters' values: the defaults, overridden by `given`; a name the workbook
    /// does not have is an error that lists the ones it has.
    pub fn parameter_values(&self, given: &ParamValues) -> Result<ParamValues, String> {
        let mut out: ParamValues = self.parameters.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
        for (k, v) in given {
            match out.get_mut(k) {
                Some(slot) => *slot = v.clone(),
                None => {
                    let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                    return Err(format!(
                        "workbook {} has no parameter '{k}' (it has: {})",
                        self.id,
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ));
                }
            }
        }
        Ok(out)
    }
}

fn fill_parameters(query: &str, values: &ParamValues) -> String {
    let mut q = query.to_string();
    for (k, v) in values {
        let escaped = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\'', "\\'");
        q = q.replace(&format!("{{{k}}}"), &escaped);
    }
    q
}

/// The shared time-range parameter: its default and the choices offered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeParam {
    pub default: String,
    #[serde(default)]
    pub options: Vec<String>,
}

impl Default for TimeRangeParam {
    fn default() -> Self {
        TimeRangeParam { default: "30d".into(), options: ["1d", "7d", "30d", "90d"].map(String::from).to_vec() }
    }
}

/// One tile: a query and how to show it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tile {
    pub title: String,
    pub query: String,
    /// bar, stackedbar, column, stackedcolumn, pie, line, timechart, area, table or
    /// number. Absent: the query's `render`, else a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visualization: Option<Visualization>,
    /// Columns of the grid the tile spans (1 or 2).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub width: u8,
}

fn one() -> u8 {
    1
}

fn is_one(w: &u8) -> bool {
    *w == 1
}

/// A resolved time range: `[start, end)` in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
    /// Relative ranges say `ago(…)`, so a query reads as its author wrote it.
    relative: Option<i64>,
}

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

impl TimeRange {
    /// `24h`, `7d`, `30d`… (ending now), or `START..END` (RFC 3339 datetimes).
    pub fn parse(s: &str, now: i64) -> Result<TimeRange, String> {
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..") {
            let t = |x: &str| {
                chrono::DateTime::parse_from_rfc3339(x.trim())
                    .map(|t| t.timestamp_micros())
                    .map_err(|e| format!("time range '{s}': '{x}' is not an RFC 3339 datetime ({e})"))
            };
            let (start, end) = (t(a)?, t(b)?);
            if end <= start {
                return Err(format!("time range '{s}': the end is not after the start"));
            }
            return Ok(TimeRange { start, end, relative: None });
        }
        let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: i64 = num.parse().map_err(|_| format!("time range '{s}': use 24h, 7d, 30d… or START..END"))?;
        let unit = match unit {
            "m" => 60_000_000,
            "h" => HOUR,
            "d" => DAY,
            _ => return Err(format!("time range '{s}': the unit is m, h or d")),
        };
        let span = n.checked_mul(unit).filter(|s| *s > 0).ok_or_else(|| format!("time range '{s}' is not positive"))?;
        Ok(TimeRange { start: now - span, end: now, relative: Some(span) })
    }

    /// A bin size for about 24 to 100 buckets over the range.
    pub fn grain(&self) -> &'static str {
        let span = self.end - self.start;
        const STEPS: [(i64, &str); 8] = [
            (5 * 60_000_000, "5m"),
            (15 * 60_000_000, "15m"),
            (HOUR, "1h"),
            (3 * HOUR, "3h"),
            (6 * HOUR, "6h"),
            (12 * HOUR, "12h"),
            (DAY, "1d"),
            (7 * DAY, "7d"),
        ];
        STEPS.iter().find(|(d, _)| span / d <= 100).map_or("30d", |(_, n)| n)
    }

    /// The query with the parameter filled in.
    pub fn substitute(&self, query: &str) -> String {
        let dt = |t: i64| format!("datetime({})", cairn_kql::format_datetime(t));
        let whole = match self.relative {
            Some(span) => format!(">= ago({})", timespan_literal(span)),
            None => format!("between ({} .. {})", dt(self.start), dt(self.end - 1)),
        };
        query
            .replace("{TimeRange:start}", &dt(self.start))
            .replace("{TimeRange:end}", &dt(self.end))
            .replace("{TimeRange:grain}", self.grain())
            .replace("{TimeRange}", &whole)
    }
}

/// A timespan as KQL writes it: `7d`, `12h`, `90m`.
fn timespan_literal(us: i64) -> String {
    if us % DAY == 0 {
        format!("{}d", us / DAY)
    } else if us % HOUR == 0 {
        format!("{}h", us / HOUR)
    } else {
        format!("{}m", us / 60_000_000)
    }
}

/// A tile as run: its result and picture, or why it could not be drawn.
#[derive(Clone, Debug, Serialize)]
pub struct RenderedTile {
    pub title: String,
    pub visualization: Visualization,
    pub width: u8,
    /// The query as run (parameters filled in).
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<QueryResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Workbooks over one store.
pub struct Workbooks {
    hunting: Arc<Hunting>,
}

impl Workbooks {
    pub fn new(hunting: Arc<Hunting>) -> Workbooks {
        Workbooks { hunting }
    }

    pub fn default_workbook() -> Workbook {
        serde_json::from_str(DEFAULT_JSON).expect("the shipped workbook is valid JSON")
    }

    /// Every workbook: the stored ones, and the shipped default unless a stored copy
    /// replaces it; by name.
    pub fn list(&self) -> Result<Vec<Workbook>, String> {
        let docs = self.hunting.store().docs(KIND).map_err(|e| e.to_string())?;
        let mut out: Vec<Workbook> = docs.iter().filter_map(|(_, d)| serde_json::from_str(d).ok()).collect();
        if !out.iter().any(|w| w.id == DEFAULT_ID) {
            out.push(Workbooks::default_workbook());
        }
        out.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    pub fn get(&self, id: &str) -> Result<Option<Workbook>, String> {
        let stored = self.hunting.store().doc(KIND, id).map_err(|e| e.to_string())?;
        match stored {
            Some(d) => {
                serde_json::from_str(&d).map(Some).map_err(|e| format!("stored workbook {id} is unreadable: {e}"))
            }
            None if id == DEFAULT_ID => Ok(Some(Workbooks::default_workbook())),
            None => Ok(None),
        }
    }

    /// Saves (creates or replaces) a workbook after checking it: every tile's query
    /// parses (with the parameters filled in) and the time range reads.
    pub fn save(&self, w: &Workbook) -> Result<(), String> {
        check(w)?;
        let doc = serde_json::to_string(w).map_err(|e| e.to_string())?;
        self.hunting.store().put_doc(KIND, &w.id, &doc).map_err(|e| e.to_string())
    }

    /// Deletes a stored workbook; for the default, this restores the shipped one.
    pub fn delete(&self, id: &str) -> Result<bool, String> {
        self.hunting.store().delete_doc(KIND, id).map_err(|e| e.to_string())
    }

    /// Runs every tile over `range` and draws it. A tile that fails carries its error;
    /// the others are still drawn. Needs a tokio runtime context.
    pub fn render(&self, w: &Workbook, range: &TimeRange, params: &ParamValues, now: i64) -> Vec<RenderedTile> {
        w.tiles.iter().map(|t| self.render_tile(t, range, params, now)).collect()
    }

    /// One tile; `params` are the workbook's parameter values (see
    /// [`Workbook::parameter_values`]).
    pub fn render_tile(&self, t: &Tile, range: &TimeRange, params: &ParamValues, now: i64) -> RenderedTile {
        let query = fill_parameters(&range.substitute(&t.query), params);
        let mut out = RenderedTile {
            title: t.title.clone(),
            visualization: t.visualization.unwrap_or(Visualization::Table),
            width: t.width,
            query: query.clone(),
            result: None,
            svg: None,
            error: None,
        };
        match self.hunting.query(&query, now) {
            Ok(r) => {
                let viz = t.visualization.or_else(|| visualization_of(&r)).unwrap_or(Visualization::Table);
                out.visualization = viz;
                match chart(&r, viz, &t.title) {
                    Ok(svg) => out.svg = Some(svg),
                    Err(e) => out.error = Some(e),
                }
                out.result = Some(r);
            }
            Err(e) => out.error = Some(e.render(&query)),
        }
        out
    }
}

/// The chart a query's own `render` asks for.
pub fn visualization_of(r: &QueryResult) -> Option<Visualization> {
    let render = r.render.as_ref()?;
    let chart = render.get("chart")?.as_str()?;
    Visualization::from_render(chart, render.get("kind").and_then(|k| k.as_str()))
}

/// A result drawn as `viz`, titled.
pub fn chart(r: &QueryResult, viz: Visualization, title: &str) -> Result<String, String> {
    let columns: Vec<(String, String)> = r.columns.iter().map(|c| (c.name.clone(), c.ty.to_string())).collect();
    let opts = Options { title: title.to_string(), ..Options::default() };
    cairn_chart::render(Frame { columns: &columns, rows: &r.rows }, viz, &opts).map_err(|e| e.to_string())
}

fn check(w: &Workbook) -> Result<(), String> {
    let ok =
        !w.id.is_empty() && w.id.len() <= 64 && w.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!("workbook id '{}': use 1 to 64 letters, digits, - and _", w.id));
    }
    if w.name.trim().is_empty() {
        return Err(format!("workbook {}: the name is empty", w.id));
    }
    let now = cairn_store::now_micros();
    TimeRange::parse(&w.time_range.default, now).map_err(|e| format!("workbook {}: default {e}", w.id))?;
    for o in &w.time_range.options {
        TimeRange::parse(o, now).map_err(|e| format!("workbook {}: option {e}", w.id))?;
    }
    for p in &w.parameters {
        let ok = p.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && p.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !p.name.starts_with("TimeRange");
        if !ok {
            return Err(format!(
                "workbook {}: parameter name '{}': use letters, digits and _ (not TimeRange)",
                w.id, p.name
            ));
        }
    }
    let probe = TimeRange::parse("1d", now).expect("1d reads");
    let defaults = w.parameter_values(&ParamValues::new())?;
    for (i, t) in w.tiles.iter().enumerate() {
        if t.title.trim().is_empty() {
            return Err(format!("workbook {}: tile {} has no title", w.id, i + 1));
        }
        if !(1..=2).contains(&t.width) {
            return Err(format!("workbook {}: tile '{}': width is 1 or 2", w.id, t.title));
        }
        let q = fill_parameters(&probe.substitute(&t.query), &defaults);
        cairn_kql::parse(&q).map_err(|e| format!("workbook {}: tile '{}': {}", w.id, t.title, e.render(&q)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
