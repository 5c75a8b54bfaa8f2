//! KQL, the Kusto Query Language that Microsoft Sentinel's threat-intelligence content is
//! written in, over Cairn's tables (`ThreatIntelIndicators`, `ThreatIntelObjects`, …):
//! a parser with positions in every error, a planner and an executor.
//!
//! Key design decision: real Sentinel queries must run unchanged, and a query this
//! engine cannot run exactly must fail by name rather than return something else. So the
//! parser reads the whole statement and operator grammar that public Sentinel content
//! uses, and anything it does not know (an operator, a function, a column) is an error
//! pointing at its place, with a "did you mean" where a near name exists.

pub mod ast;
mod engine;
mod error;
pub mod files;
mod functions;
mod lexer;
mod parser;
mod plan;
pub mod tables;
mod udf;
pub mod value;

pub use engine::{parse_function, Column, Engine, Limits, QueryResult};
pub use error::{did_you_mean, KqlError, Span};
pub use parser::{parse, parse_datetime};

/// A datetime as Kusto prints it: `2024-01-31T10:00:00Z`, with seven fraction digits
/// when there is a fraction.
pub fn format_datetime(micros: i64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default();
    let frac = micros.rem_euclid(1_000_000);
    if frac == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), frac * 10)
    }
}

/// A timespan as Kusto prints it: `[-][d.]hh:mm:ss[.fffffff]`.
pub fn format_timespan(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let (days, rest) = (m / 86_400_000_000, m % 86_400_000_000);
    let (h, rest) = (rest / 3_600_000_000, rest % 3_600_000_000);
    let (min, rest) = (rest / 60_000_000, rest % 60_000_000);
    let (s, frac) = (rest / 1_000_000, rest % 1_000_000);
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{min:02}:{s:02}"));
    if frac > 0 {
        out.push_str(&format!(".{:07}", frac * 10));
    }
    out
}

#[cfg(test)]
mod tests;
