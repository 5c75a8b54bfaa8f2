//! `make-series`: aggregates per group and per step of an axis, as arrays.
//!
//! Planned as a `summarize … by groups, bin_at(axis, step, from)` that DataFusion runs,
//! then the (small: one row per group and step) result is laid out into arrays here,
//! with the default value in the steps that had no rows, as Kusto does.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::DataFrame;
use serde_json::Value;

use super::{df_err, Planner};
use crate::ast::{Assign, Expr, ExprKind, MakeSeries};
use crate::error::{KqlError, Span};
use crate::value::{KType, KVal};

/// More steps than this is a mistake (a 1s step over a year), not a series to draw.
const MAX_STEPS: i64 = 100_000;

impl Planner<'_> {
    pub(super) fn make_series(
        &mut self,
        df: DataFrame,
        cols: &[(String, KType)],
        m: &MakeSeries,
        span: Span,
    ) -> Result<DataFrame, KqlError> {
        let axis_name = m.on.derived_name().unwrap_or_else(|| "Column1".into());
        let axis = self.expr(&m.on, cols)?;
        let step = self.constant(&m.step)?;
        let from = m.from.as_ref().map(|e| self.constant(e)).transpose()?;
        let to = m.to.as_ref().map(|e| self.constant(e)).transpose()?;
        // Everything along the axis is counted in one unit: microseconds for datetimes
        // and timespans, the number itself otherwise.
        let unit = |v: &KVal| -> Option<f64> {
            match v {
                KVal::DateTime(t) | KVal::Timespan(t) => Some(*t as f64),
                v => v.as_real(),
            }
        };
        let step_n = unit(&step).filter(|s| *s > 0.0).ok_or_else(|| {
            KqlError::at(m.step.span, "make-series needs a positive step (a timespan for a datetime axis)")
        })?;
        if axis.t == KType::DateTime && !matches!(step, KVal::Timespan(_)) {
            return Err(KqlError::at(m.step.span, "the step of a datetime axis is a timespan, such as 1d"));
        }
        let mut df = df;
        let mut lo = None;
        if let Some(f) = &from {
            lo =
                Some(unit(f).ok_or_else(|| KqlError::at(span, "make-series 'from' must be a value of the axis type"))?);
            let e = super::lit(f);
            df = df.filter(axis.e.clone().gt_eq(super::functions::cast_to(e, axis.t).e)).map_err(df_err(span))?;
        }
        let mut hi = None;
        if let Some(t) = &to {
            hi = Some(unit(t).ok_or_else(|| KqlError::at(span, "make-series 'to' must be a value of the axis type"))?);
            let e = super::lit(t);
            df = df.filter(axis.e.clone().lt(super::functions::cast_to(e, axis.t).e)).map_err(df_err(span))?;
        }
        // Steps are counted from `from` when given (bin_at), else from the axis' zero (bin).
        let bin_expr = {
            let mut args = vec![m.on.clone(), m.step.clone()];
            let f = match &m.from {
                Some(f) => {
                    args.push(f.clone());
                    "bin_at"
                }
                None => "bin",
            };
            Expr::new(ExprKind::Call(f.into(), args), m.on.span)
        };
        let mut by: Vec<Assign> = m.by.clone();
        for (i, b) in by.iter_mut().enumerate() {
            if b.name.is_none() {
                b.name = Some(b.expr.derived_name().unwrap_or_else(|| format!("Column{}", i + 1)));
            }
        }
        let groups: Vec<String> = by.iter().filter_map(|b| b.name.clone()).collect();
        by.push(Assign { name: Some("__series_step".into()), expr: bin_expr });
        let aggs: Vec<Assign> = m.aggs.iter().map(|(a, _)| a.clone()).collect();
        let summed = self.summarize(df, cols, &aggs, &by, span)?;
        let out_cols = super::columns(&summed);
        let rows = (self.collect)(summed).map_err(|e| KqlError::at(span, e))?;

        let n_groups = groups.len();
        let step_col = n_groups;
        let starts: Vec<f64> = rows.iter().filter_map(|r| unit(&r[step_col])).collect();
        let lo = match lo {
            Some(l) => l,
            None => starts.iter().copied().reduce(f64::min).unwrap_or(0.0),
        };
        let hi = match hi {
            Some(h) => h,
            None => starts.iter().copied().reduce(f64::max).map_or(lo, |h| h + step_n),
        };
        let n_steps = ((hi - lo) / step_n).ceil().max(0.0) as i64;
        if n_steps > MAX_STEPS {
            return Err(KqlError::at(
                m.step.span,
                format!("make-series would make {n_steps} steps (at most {MAX_STEPS}): use a larger step"),
            ));
        }
        let n_steps = n_steps as usize;

        // The defaults, one per aggregate: `default = x`, else 0 (Kusto's default).
        let mut defaults = Vec::new();
        for (_, d) in &m.aggs {
            defaults.push(match d {
                Some(d) => self.constant(d)?.to_json(),
                None => Value::from(0),
            });
        }
        // Groups in order of first appearance, each with its arrays.
        let mut order: Vec<Vec<KVal>> = Vec::new();
        let mut series: HashMap<String, Vec<Vec<Value>>> = HashMap::new();
        for r in &rows {
            let key_vals = r[..n_groups].to_vec();
            let key =
                serde_json::to_string(&key_vals.iter().map(KVal::to_json).collect::<Vec<_>>()).unwrap_or_default();
            let arrays = series.entry(key).or_insert_with(|| {
                order.push(key_vals);
                defaults.iter().map(|d| vec![d.clone(); n_steps]).collect()
            });
            let Some(at) = unit(&r[step_col]) else { continue };
            let i = ((at - lo) / step_n).round();
            if i < 0.0 || i as usize >= n_steps {
                continue;
            }
            for (a, arr) in arrays.iter_mut().enumerate() {
                let v = &r[step_col + 1 + a];
                if *v != KVal::Null {
                    arr[i as usize] = v.to_json();
                }
            }
        }
        let axis_values: Vec<Value> = (0..n_steps)
            .map(|i| {
                let x = lo + i as f64 * step_n;
                match axis.t {
                    KType::DateTime => KVal::DateTime(x as i64).to_json(),
                    KType::Timespan => KVal::Timespan(x as i64).to_json(),
                    KType::Long => Value::from(x as i64),
                    _ => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
                }
            })
            .collect();

        // Output: the groups, one array per aggregate, then the axis.
        let mut fields = Vec::new();
        let mut columns: Vec<Vec<KVal>> = Vec::new();
        let mut types = Vec::new();
        for (g, (_, t)) in groups.iter().zip(&out_cols) {
            fields.push(Field::new(g, t.arrow(), true));
            types.push(*t);
            columns.push(Vec::new());
        }
        for (name, _) in out_cols.iter().skip(n_groups + 1) {
            fields.push(Field::new(name, KType::Dynamic.arrow(), true));
            types.push(KType::Dynamic);
            columns.push(Vec::new());
        }
        fields.push(Field::new(&axis_name, KType::Dynamic.arrow(), true));
        types.push(KType::Dynamic);
        columns.push(Vec::new());
        for key in &order {
            let k = serde_json::to_string(&key.iter().map(KVal::to_json).collect::<Vec<_>>()).unwrap_or_default();
            for (i, v) in key.iter().enumerate() {
                columns[i].push(v.clone());
            }
            for (a, arr) in series[&k].iter().enumerate() {
                columns[n_groups + a].push(KVal::Dyn(Value::Array(arr.clone())));
            }
            columns[n_groups + defaults.len()].push(KVal::Dyn(Value::Array(axis_values.clone())));
        }
        let arrays = columns.into_iter().zip(&types).map(|(c, t)| crate::value::build(*t, c)).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| KqlError::at(span, e.to_string()))?;
        self.ctx.read_batch(batch).map_err(df_err(span))
    }
}
