//! Kusto's scalar types, as Arrow types and as row values.
//!
//! Kusto `dynamic` has no Arrow type; it travels as `LargeUtf8` holding JSON, which keeps
//! it apart from `string` (`Utf8`) in every schema, so a plan always knows which of the
//! two a column is. Kusto strings are never null (an absent string is empty).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, DurationMicrosecondArray, DurationMicrosecondBuilder, Float64Array,
    Float64Builder, Int32Array, Int64Array, Int64Builder, LargeStringArray, LargeStringBuilder, ListArray, StringArray,
    StringBuilder, TimestampMicrosecondArray, TimestampMicrosecondBuilder, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use serde_json::Value;

/// A Kusto scalar type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KType {
    String,
    Long,
    Real,
    Bool,
    DateTime,
    Timespan,
    Dynamic,
}

impl KType {
    pub fn arrow(self) -> DataType {
        match self {
            KType::String => DataType::Utf8,
            KType::Long => DataType::Int64,
            KType::Real => DataType::Float64,
            KType::Bool => DataType::Boolean,
            KType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            KType::Timespan => DataType::Duration(TimeUnit::Microsecond),
            KType::Dynamic => DataType::LargeUtf8,
        }
    }

    /// The Kusto type of an Arrow type (anything unknown reads as dynamic).
    pub fn of(t: &DataType) -> KType {
        match t {
            DataType::Utf8 | DataType::Utf8View => KType::String,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => KType::Long,
            DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => KType::Real,
            DataType::Boolean => KType::Bool,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => KType::DateTime,
            DataType::Duration(_) => KType::Timespan,
            _ => KType::Dynamic,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KType::String => "string",
            KType::Long => "long",
            KType::Real => "real",
            KType::Bool => "bool",
            KType::DateTime => "datetime",
            KType::Timespan => "timespan",
            KType::Dynamic => "dynamic",
        }
    }

    /// A type name as queries write it (`string`, `int`, `double`, `date`, …).
    pub fn parse(s: &str) -> Option<KType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "string" | "guid" => KType::String,
            "long" | "int" | "int64" | "int32" => KType::Long,
            "real" | "double" | "decimal" | "float" => KType::Real,
            "bool" | "boolean" => KType::Bool,
            "datetime" | "date" => KType::DateTime,
            "timespan" | "time" => KType::Timespan,
            "dynamic" => KType::Dynamic,
            _ => return None,
        })
    }
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum KVal {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(String),
    /// Microseconds since the epoch.
    DateTime(i64),
    /// Microseconds.
    Timespan(i64),
    Dyn(Value),
}

impl KVal {
    pub fn is_null(&self) -> bool {
        matches!(self, KVal::Null | KVal::Dyn(Value::Null))
    }

    /// `tostring()`: strings as they are, dynamic strings unquoted, other dynamic as
    /// JSON, null as empty.
    pub fn to_text(&self) -> String {
        match self {
            KVal::Null => String::new(),
            KVal::Bool(b) => b.to_string(),
            KVal::Long(n) => n.to_string(),
            KVal::Real(f) => real_text(*f),
            KVal::Str(s) => s.clone(),
            KVal::DateTime(t) => crate::format_datetime(*t),
            KVal::Timespan(t) => crate::format_timespan(*t),
            KVal::Dyn(Value::String(s)) => s.clone(),
            KVal::Dyn(Value::Null) => String::new(),
            KVal::Dyn(v) => v.to_string(),
        }
    }

    /// As `dynamic`.
    pub fn to_json(&self) -> Value {
        match self {
            KVal::Null => Value::Null,
            KVal::Bool(b) => Value::Bool(*b),
            KVal::Long(n) => Value::from(*n),
            KVal::Real(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            KVal::Str(s) => Value::String(s.clone()),
            KVal::DateTime(t) => Value::String(crate::format_datetime(*t)),
            KVal::Timespan(t) => Value::String(crate::format_timespan(*t)),
            KVal::Dyn(v) => v.clone(),
        }
    }

    pub fn as_long(&self) -> Option<i64> {
        match self {
            KVal::Long(n) => Some(*n),
            KVal::Real(f) if f.is_finite() => Some(f.trunc() as i64),
            KVal::Bool(b) => Some(i64::from(*b)),
            KVal::DateTime(t) | KVal::Timespan(t) => Some(*t * 10),
            KVal::Str(s) => s.trim().parse().ok().or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64)),
            KVal::Dyn(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            KVal::Dyn(Value::String(s)) => s.trim().parse().ok(),
            KVal::Dyn(Value::Bool(b)) => Some(i64::from(*b)),
            _ => None,
        }
    }

    pub fn as_real(&self) -> Option<f64> {
        match self {
            KVal::Long(n) => Some(*n as f64),
            KVal::Real(f) => Some(*f),
            KVal::Bool(b) => Some(f64::from(u8::from(*b))),
            KVal::Str(s) => s.trim().parse().ok(),
            KVal::Dyn(Value::Number(n)) => n.as_f64(),
            KVal::Dyn(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            KVal::Bool(b) => Some(*b),
            KVal::Long(n) => Some(*n != 0),
            KVal::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            KVal::Dyn(Value::Bool(b)) => Some(*b),
            KVal::Dyn(Value::String(s)) => KVal::Str(s.clone()).as_bool(),
            KVal::Dyn(Value::Number(n)) => n.as_i64().map(|n| n != 0),
            _ => None,
        }
    }

    pub fn as_datetime(&self) -> Option<i64> {
        match self {
            KVal::DateTime(t) => Some(*t),
            KVal::Str(s) | KVal::Dyn(Value::String(s)) => crate::parse_datetime(s),
            _ => None,
        }
    }

    pub fn as_timespan(&self) -> Option<i64> {
        match self {
            KVal::Timespan(t) => Some(*t),
            KVal::Long(n) => Some(*n / 10),
            KVal::Str(s) | KVal::Dyn(Value::String(s)) => parse_timespan(s),
            _ => None,
        }
    }

    /// As a value of `ty` (Kusto's `to…` conversions); null when it does not convert.
    pub fn convert(&self, ty: KType) -> KVal {
        let v = match ty {
            KType::String => return KVal::Str(self.to_text()),
            KType::Dynamic => return KVal::Dyn(self.to_json()),
            KType::Long => self.as_long().map(KVal::Long),
            KType::Real => self.as_real().map(KVal::Real),
            KType::Bool => self.as_bool().map(KVal::Bool),
            KType::DateTime => self.as_datetime().map(KVal::DateTime),
            KType::Timespan => self.as_timespan().map(KVal::Timespan),
        };
        v.unwrap_or(KVal::Null)
    }
}

/// A real as Kusto prints it: integers without a fraction.
pub fn real_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// `1.02:03:04.5`, `02:03:04`, or `1d`/`30m`-style text.
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(toks) = crate::lexer::lex(s) {
        if let [t, end] = &toks[..] {
            if matches!(end.tok, crate::lexer::Tok::Eof) {
                if let crate::lexer::Tok::Timespan(n) = t.tok {
                    return Some(n);
                }
            }
        }
    }
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (days, clock) = match s.split_once('.') {
        Some((d, rest)) if rest.contains(':') && !d.contains(':') => (d.parse::<i64>().ok()?, rest),
        _ => (0, s),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() != 3 {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let sec: f64 = parts[2].parse().ok()?;
    let micros = ((days * 86_400 + h * 3_600 + m * 60) as f64 * 1e6 + sec * 1e6).round() as i64;
    Some(if neg { -micros } else { micros })
}

/// The value at `row` of an Arrow array.
pub fn get(a: &dyn Array, row: usize) -> KVal {
    if a.is_null(row) {
        return match a.data_type() {
            DataType::Utf8 | DataType::Utf8View => KVal::Str(String::new()),
            DataType::LargeUtf8 => KVal::Dyn(Value::Null),
            _ => KVal::Null,
        };
    }
    let any = a.as_any();
    match a.data_type() {
        DataType::Utf8 => KVal::Str(any.downcast_ref::<StringArray>().expect("utf8").value(row).to_string()),
        DataType::LargeUtf8 => {
            let s = any.downcast_ref::<LargeStringArray>().expect("large utf8").value(row);
            KVal::Dyn(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string())))
        }
        DataType::Int64 => KVal::Long(any.downcast_ref::<Int64Array>().expect("i64").value(row)),
        DataType::Int32 => KVal::Long(any.downcast_ref::<Int32Array>().expect("i32").value(row).into()),
        DataType::UInt64 => KVal::Long(any.downcast_ref::<UInt64Array>().expect("u64").value(row) as i64),
        DataType::Float64 => KVal::Real(any.downcast_ref::<Float64Array>().expect("f64").value(row)),
        DataType::Boolean => KVal::Bool(any.downcast_ref::<BooleanArray>().expect("bool").value(row)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            KVal::DateTime(any.downcast_ref::<TimestampMicrosecondArray>().expect("ts").value(row))
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            KVal::Timespan(any.downcast_ref::<DurationMicrosecondArray>().expect("duration").value(row))
        }
        DataType::List(_) => {
            let l = any.downcast_ref::<ListArray>().expect("list");
            let items = l.value(row);
            KVal::Dyn(Value::Array((0..items.len()).map(|i| get(items.as_ref(), i).to_json()).collect()))
        }
        DataType::Null => KVal::Null,
        _ => {
            // Anything else: through Arrow's own cast to text.
            match datafusion::arrow::compute::cast(&a.slice(row, 1), &DataType::Utf8) {
                Ok(s) => get(s.as_ref(), 0),
                Err(_) => KVal::Null,
            }
        }
    }
}

/// Builds an array of `ty` from values (converted to `ty` where they are not already).
pub fn build(ty: KType, vals: impl IntoIterator<Item = KVal>) -> ArrayRef {
    let vals = vals.into_iter();
    match ty {
        KType::String => {
            let mut b = StringBuilder::new();
            for v in vals {
                b.append_value(v.to_text());
            }
            Arc::new(b.finish())
        }
        KType::Dynamic => {
            let mut b = LargeStringBuilder::new();
            for v in vals {
                match v.to_json() {
                    Value::Null => b.append_null(),
                    j => b.append_value(j.to_string()),
                }
            }
            Arc::new(b.finish())
        }
        KType::Long => {
            let mut b = Int64Builder::new();
            for v in vals {
                b.append_option(v.as_long().filter(|_| !v.is_null()));
            }
            Arc::new(b.finish())
        }
        KType::Real => {
            let mut b = Float64Builder::new();
            for v in vals {
                b.append_option(v.as_real());
            }
            Arc::new(b.finish())
        }
        KType::Bool => {
            let mut b = BooleanBuilder::new();
            for v in vals {
                b.append_option(v.as_bool());
            }
            Arc::new(b.finish())
        }
        KType::DateTime => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
            for v in vals {
                b.append_option(v.as_datetime());
            }
            Arc::new(b.finish())
        }
        KType::Timespan => {
            let mut b = DurationMicrosecondBuilder::new();
            for v in vals {
                b.append_option(v.as_timespan());
            }
            Arc::new(b.finish())
        }
    }
}
