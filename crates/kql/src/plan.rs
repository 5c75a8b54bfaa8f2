//! KQL syntax tree → DataFusion DataFrames. Each tabular operator becomes DataFrame
//! operations; each scalar expression a DataFusion expression, with Kusto's own
//! semantics supplied by row functions (see `functions.rs`) wherever DataFusion's differ.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{JoinType, ScalarValue};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{Expr as DfExpr, ExprFunctionExt, SortExpr};
use datafusion::prelude::{DataFrame, SessionContext};

use crate::ast::*;
use crate::error::{did_you_mean, KqlError, Span};
use crate::functions;
use crate::value::{KType, KVal};

mod series;

/// What a name in scope stands for.
#[derive(Clone)]
pub(crate) enum Binding {
    Scalar(KVal),
    Tabular(DataFrame),
    Function(Arc<Function>),
}

/// How a query is planned: the session, the tables, the names in scope, and "now".
pub(crate) struct Planner<'a> {
    pub ctx: &'a SessionContext,
    pub tables: &'a dyn Fn(&str) -> Option<DataFrame>,
    /// A history table's rows that are each Id's latest (see `Engine::add_history_table`).
    pub latest: &'a dyn Fn(&str) -> Option<DataFrame>,
    pub table_names: Vec<String>,
    pub saved_functions: &'a HashMap<String, Arc<Function>>,
    pub scopes: Vec<HashMap<String, Binding>>,
    pub now: i64,
    pub render: Option<(String, Vec<(String, KVal)>)>,
    /// Runs a plan now (for `toscalar`, `in (subquery)`, `materialize`).
    pub collect: &'a dyn Fn(DataFrame) -> Result<Vec<Vec<KVal>>, String>,
    /// What the aggregate being planned needs done to its result (set by `aggregate`).
    pub post: Option<Post>,
}

/// A step after aggregation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Post {
    /// The nearest-rank percentile of the gathered values.
    NearestRank(f64),
    /// At most this many elements (make_set/make_list's size argument).
    Cap(usize),
}

pub(crate) fn df_err(span: Span) -> impl Fn(datafusion::error::DataFusionError) -> KqlError {
    move |e| KqlError::at(span, first_line(&e.to_string()))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim_start_matches("Error during planning: ").to_string()
}

/// The column marking each Id's latest row in a history table's marked twin.
pub(crate) const LATEST_MARK: &str = "__kql_latest";

/// A column by its exact name (never parsed as `table.column`).
pub(crate) fn col(name: &str) -> DfExpr {
    DfExpr::Column(datafusion::common::Column::new_unqualified(name))
}

/// A planned scalar: the DataFusion expression and its Kusto type.
#[derive(Clone, Debug)]
pub(crate) struct Typed {
    pub e: DfExpr,
    pub t: KType,
}

impl Typed {
    pub fn new(e: DfExpr, t: KType) -> Typed {
        Typed { e, t }
    }
}

pub(crate) fn lit(v: &KVal) -> Typed {
    let (s, t) = match v {
        KVal::Null => (ScalarValue::Null, KType::Dynamic),
        KVal::Bool(b) => (ScalarValue::Boolean(Some(*b)), KType::Bool),
        KVal::Long(n) => (ScalarValue::Int64(Some(*n)), KType::Long),
        KVal::Real(f) => (ScalarValue::Float64(Some(*f)), KType::Real),
        KVal::Str(s) => (ScalarValue::Utf8(Some(s.clone())), KType::String),
        KVal::DateTime(t) => (ScalarValue::TimestampMicrosecond(Some(*t), Some("UTC".into())), KType::DateTime),
        KVal::Timespan(t) => (ScalarValue::DurationMicrosecond(Some(*t)), KType::Timespan),
        KVal::Dyn(serde_json::Value::Null) => (ScalarValue::LargeUtf8(None), KType::Dynamic),
        KVal::Dyn(v) => (ScalarValue::LargeUtf8(Some(v.to_string())), KType::Dynamic),
    };
    Typed::new(DfExpr::Literal(s, None), t)
}

/// A typed null.
pub(crate) fn null_of(t: KType) -> Typed {
    let s = ScalarValue::try_from(&t.arrow()).unwrap_or(ScalarValue::Null);
    let s = if t == KType::String { ScalarValue::Utf8(Some(String::new())) } else { s };
    Typed::new(DfExpr::Literal(s, None), t)
}

/// The Kusto types of a DataFrame's columns, by name, in order.
pub(crate) fn columns(df: &DataFrame) -> Vec<(String, KType)> {
    df.schema().fields().iter().map(|f| (f.name().clone(), KType::of(f.data_type()))).collect()
}

impl Planner<'_> {
    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    pub fn bind(&mut self, name: &str, b: Binding) {
        self.scopes.last_mut().expect("a scope").insert(name.to_string(), b);
    }

    pub fn lets(&mut self, lets: &[Let]) -> Result<(), KqlError> {
        for l in lets {
            let b = match &l.value {
                LetValue::Function(f) => Binding::Function(Arc::new((**f).clone())),
                LetValue::Tabular(t) => Binding::Tabular(self.tabular(t)?),
                LetValue::Expr(e) => self.let_expr(e)?,
            };
            self.bind(&l.name, b);
        }
        Ok(())
    }

    /// `let x = …` with an expression: a table or tabular name/call stays tabular,
    /// anything else is evaluated now to a constant.
    fn let_expr(&mut self, e: &Expr) -> Result<Binding, KqlError> {
        let tabular = match &e.kind {
            ExprKind::Name(n) => {
                matches!(self.lookup(n), Some(Binding::Tabular(_) | Binding::Function(_))) || (self.tables)(n).is_some()
            }
            ExprKind::Call(n, _) => {
                matches!(self.lookup(n), Some(Binding::Function(_)))
                    || self.saved_functions.contains_key(n)
                    || n == "materialize"
                    || n == "view"
            }
            _ => false,
        };
        if tabular {
            let t = Tabular {
                source: match &e.kind {
                    ExprKind::Name(n) => Source::Name(n.clone(), e.span),
                    ExprKind::Call(n, a) => Source::Call(n.clone(), a.clone(), e.span),
                    _ => unreachable!("checked above"),
                },
                ops: Vec::new(),
                span: e.span,
            };
            return Ok(Binding::Tabular(self.tabular(&t)?));
        }
        Ok(Binding::Scalar(self.constant(e)?))
    }

    /// Evaluates an expression that needs no row.
    pub fn constant(&mut self, e: &Expr) -> Result<KVal, KqlError> {
        let t = self.expr(e, &[])?;
        let df = self.ctx.read_empty().map_err(df_err(e.span))?;
        let df = df.select(vec![t.e.alias("v")]).map_err(df_err(e.span))?;
        let rows = (self.collect)(df).map_err(|m| KqlError::at(e.span, m))?;
        Ok(rows.into_iter().next().and_then(|r| r.into_iter().next()).unwrap_or(KVal::Null).convert(t.t))
    }

    // ---- tabular ----

    pub fn tabular(&mut self, t: &Tabular) -> Result<DataFrame, KqlError> {
        let (mut df, planned) = match self.latest_rows(t)? {
            Some(x) => x,
            None => (self.source(&t.source)?, 0),
        };
        for op in &t.ops[planned..] {
            df = self.op(df, op)?;
        }
        Ok(df)
    }

    /// `T [| where TimeGenerated > x]… | summarize [N =] arg_max(TimeGenerated, *) by Id`
    /// straight over a history table — the way Sentinel content reads current state —
    /// answered from the rows the table marks as each Id's latest, a filter instead of an
    /// aggregate over every version. Returns the plan and how many operators it covers.
    ///
    /// Only lower bounds on TimeGenerated may come first: they commute with taking the
    /// latest row (if an Id's latest row is older than the bound, so are all its rows).
    /// Any other filter could remove an Id's latest row and leave an older one to win.
    fn latest_rows(&mut self, t: &Tabular) -> Result<Option<(DataFrame, usize)>, KqlError> {
        let Source::Name(n, _) = &t.source else { return Ok(None) };
        if self.lookup(n).is_some() {
            return Ok(None);
        }
        let name = |e: &Expr, want: &str| matches!(&e.kind, ExprKind::Name(x) if x == want);
        for (i, op) in t.ops.iter().enumerate() {
            match &op.kind {
                OpKind::Where(e) if self.lower_bound_on_time(e) => continue,
                OpKind::Summarize { aggs, by } => {
                    let ([a], [g]) = (aggs.as_slice(), by.as_slice()) else { return Ok(None) };
                    let ExprKind::Call(f, args) = &a.expr.kind else { return Ok(None) };
                    let whole_rows =
                        matches!(args.as_slice(), [k, s] if name(k, "TimeGenerated") && s.kind == ExprKind::Star);
                    if f != "arg_max" || !whole_rows || g.name.is_some() || !name(&g.expr, "Id") {
                        return Ok(None);
                    }
                    let Some(mut df) = (self.latest)(n) else { return Ok(None) };
                    for w in &t.ops[..i] {
                        df = self.op(df, w)?;
                    }
                    // The columns in arg_extreme's order: the group, the maximum, the rest.
                    let key = a.name.clone().unwrap_or_else(|| "TimeGenerated".into());
                    let mut outs = vec![col("Id"), col("TimeGenerated").alias(key.clone())];
                    outs.extend(columns(&df).iter().filter(|(c, _)| c != "Id" && *c != key).map(|(c, _)| col(c)));
                    return Ok(Some((df.select(outs).map_err(df_err(op.span))?, i + 1)));
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// `TimeGenerated > x`, `>=`, `x < TimeGenerated`, … and their conjunctions, where
    /// `x` is the same for every row.
    fn lower_bound_on_time(&self, e: &Expr) -> bool {
        let time = |e: &Expr| matches!(&e.kind, ExprKind::Name(x) if x == "TimeGenerated");
        match &e.kind {
            ExprKind::Binary(BinOp::And, l, r) => self.lower_bound_on_time(l) && self.lower_bound_on_time(r),
            ExprKind::Binary(BinOp::Gt | BinOp::Ge, l, r) if time(l) => self.same_for_every_row(r),
            ExprKind::Binary(BinOp::Lt | BinOp::Le, l, r) if time(r) => self.same_for_every_row(l),
            _ => false,
        }
    }

    /// An expression of literals, scalar `let`s, subqueries and functions of those: no
    /// column, nothing random.
    fn same_for_every_row(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Lit(_) | ExprKind::Tabular(_) => true,
            ExprKind::Name(n) => matches!(self.lookup(n), Some(Binding::Scalar(_))),
            ExprKind::Call(f, args) => f != "rand" && args.iter().all(|a| self.same_for_every_row(a)),
            ExprKind::Neg(x) => self.same_for_every_row(x),
            ExprKind::Binary(_, l, r) => self.same_for_every_row(l) && self.same_for_every_row(r),
            _ => false,
        }
    }

    fn source(&mut self, s: &Source) -> Result<DataFrame, KqlError> {
        match s {
            Source::Name(n, span) => self.named(n, &[], *span),
            Source::Call(n, args, span) => self.named(n, args, *span),
            Source::Paren(t) => self.tabular(t),
            Source::Union(u) => self.union(None, u),
            Source::Print(assigns) => {
                let df = self.ctx.read_empty().map_err(df_err(Span::default()))?;
                let mut exprs = Vec::new();
                for (i, a) in assigns.iter().enumerate() {
                    let t = self.expr(&a.expr, &[])?;
                    let name = a.name.clone().unwrap_or_else(|| format!("print_{i}"));
                    exprs.push(t.e.alias(name));
                }
                df.select(exprs).map_err(df_err(Span::default()))
            }
            Source::Datatable { columns, values, span } => {
                let mut types = Vec::new();
                for (n, t) in columns {
                    let k = KType::parse(t)
                        .ok_or_else(|| KqlError::at(*span, format!("unknown type '{t}' of column {n}")))?;
                    types.push(k);
                }
                let mut cols: Vec<Vec<KVal>> = vec![Vec::new(); columns.len()];
                for (i, v) in values.iter().enumerate() {
                    let val = self.constant(v)?;
                    cols[i % columns.len()].push(val);
                }
                let fields: Vec<_> = columns
                    .iter()
                    .zip(&types)
                    .map(|((n, _), t)| datafusion::arrow::datatypes::Field::new(n, t.arrow(), true))
                    .collect();
                let arrays = cols.into_iter().zip(&types).map(|(c, t)| crate::value::build(*t, c)).collect();
                let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
                let batch = datafusion::arrow::record_batch::RecordBatch::try_new(schema, arrays)
                    .map_err(|e| KqlError::at(*span, e.to_string()))?;
                self.ctx.read_batch(batch).map_err(df_err(*span))
            }
            Source::Range { column, from, to, step } => {
                let (a, b, st) = (self.constant(from)?, self.constant(to)?, self.constant(step)?);
                let span = from.span.to(step.span);
                let vals: Vec<KVal> = match (&a, &b, &st) {
                    (KVal::Long(a), KVal::Long(b), KVal::Long(s)) if *s > 0 => {
                        (0..).map(|i| a + i * s).take_while(|v| v <= b).take(10_000_000).map(KVal::Long).collect()
                    }
                    (KVal::DateTime(a), KVal::DateTime(b), KVal::Timespan(s)) if *s > 0 => {
                        (0..).map(|i| a + i * s).take_while(|v| v <= b).take(10_000_000).map(KVal::DateTime).collect()
                    }
                    (KVal::Real(_) | KVal::Long(_), KVal::Real(_) | KVal::Long(_), KVal::Real(_) | KVal::Long(_)) => {
                        let (a, b, s) =
                            (a.as_real().unwrap_or(0.0), b.as_real().unwrap_or(0.0), st.as_real().unwrap_or(0.0));
                        if s <= 0.0 {
                            return Err(KqlError::at(step.span, "range step must be positive"));
                        }
                        (0..)
                            .map(|i| a + i as f64 * s)
                            .take_while(|v| *v <= b)
                            .take(10_000_000)
                            .map(KVal::Real)
                            .collect()
                    }
                    _ => return Err(KqlError::at(span, "range needs numbers, or datetimes with a timespan step")),
                };
                let t = match vals.first() {
                    Some(KVal::DateTime(_)) => KType::DateTime,
                    Some(KVal::Real(_)) => KType::Real,
                    _ => KType::Long,
                };
                let field = datafusion::arrow::datatypes::Field::new(column, t.arrow(), true);
                let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![field]));
                let batch =
                    datafusion::arrow::record_batch::RecordBatch::try_new(schema, vec![crate::value::build(t, vals)])
                        .map_err(|e| KqlError::at(span, e.to_string()))?;
                self.ctx.read_batch(batch).map_err(df_err(span))
            }
        }
    }

    /// A table, a tabular let, or a function (saved or let) called with `args`.
    fn named(&mut self, n: &str, args: &[Expr], span: Span) -> Result<DataFrame, KqlError> {
        if n == "materialize" || n == "view" {
            let [a] = args else { return Err(KqlError::at(span, format!("{n}() takes one tabular expression"))) };
            return match &a.kind {
                ExprKind::Tabular(t) => self.tabular(t),
                ExprKind::Name(x) => self.named(x, &[], a.span),
                _ => Err(KqlError::at(a.span, format!("{n}() takes a tabular expression"))),
            };
        }
        if n == "table" {
            if let [a] = args {
                if let KVal::Str(name) = self.constant(a)? {
                    return self.named(&name, &[], a.span);
                }
            }
            return Err(KqlError::at(span, "table() takes a table name as a string"));
        }
        match self.lookup(n).cloned() {
            Some(Binding::Tabular(df)) => {
                if !args.is_empty() {
                    return Err(KqlError::at(span, format!("'{n}' is a table, not a function")));
                }
                return Ok(df);
            }
            Some(Binding::Function(f)) => return self.invoke(n, &f, args, span),
            Some(Binding::Scalar(_)) => {
                return Err(KqlError::at(span, format!("'{n}' is a scalar, not a table")));
            }
            None => {}
        }
        if let Some(df) = (self.tables)(n) {
            return Ok(df);
        }
        if let Some(f) = self.saved_functions.get(n).cloned() {
            return self.invoke(n, &f, args, span);
        }
        let mut names: Vec<&str> = self.table_names.iter().map(String::as_str).collect();
        names.extend(self.saved_functions.keys().map(String::as_str));
        let scoped: Vec<String> = self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        names.extend(scoped.iter().map(String::as_str));
        let hint = did_you_mean(n, names).map(|m| format!("; did you mean '{m}'?")).unwrap_or_default();
        Err(KqlError::at(span, format!("unknown table or function '{n}'{hint}")))
    }

    fn invoke(&mut self, n: &str, f: &Function, args: &[Expr], span: Span) -> Result<DataFrame, KqlError> {
        if args.len() > f.params.len() {
            return Err(KqlError::at(span, format!("{n}() takes {} arguments, {} given", f.params.len(), args.len())));
        }
        let mut scope = HashMap::new();
        for (i, p) in f.params.iter().enumerate() {
            let b = match (args.get(i), &p.default) {
                (Some(a), _) if p.ty.starts_with('(') => match &a.kind {
                    ExprKind::Tabular(t) => Binding::Tabular(self.tabular(t)?),
                    ExprKind::Name(x) => Binding::Tabular(self.named(x, &[], a.span)?),
                    _ => return Err(KqlError::at(a.span, format!("parameter {} takes a table", p.name))),
                },
                (Some(a), _) => Binding::Scalar(self.constant(a)?),
                (None, Some(d)) => Binding::Scalar(self.constant(d)?),
                (None, None) => return Err(KqlError::at(span, format!("{n}() needs its parameter {}", p.name))),
            };
            scope.insert(p.name.clone(), b);
        }
        self.scopes.push(scope);
        let out = (|| {
            self.lets(&f.body.lets)?;
            match f.body.result.as_ref() {
                LetValue::Tabular(t) => self.tabular(t),
                LetValue::Expr(e) => match &e.kind {
                    ExprKind::Name(x) => self.named(x, &[], e.span),
                    ExprKind::Call(x, a) => self.named(x, a, e.span),
                    _ => Err(KqlError::at(e.span, format!("{n}() returns a scalar; call it in an expression"))),
                },
                LetValue::Function(_) => Err(KqlError::at(span, "a function cannot return a function")),
            }
        })();
        self.scopes.pop();
        out
    }

    fn union(&mut self, first: Option<DataFrame>, u: &Union) -> Result<DataFrame, KqlError> {
        let mut parts: Vec<(String, DataFrame)> = Vec::new();
        if let Some(df) = first {
            parts.push(("".into(), df));
        }
        for t in &u.tables {
            // `union *`: every table.
            if matches!(&t.source, Source::Name(n, _) if n == "*") && t.ops.is_empty() {
                for n in self.table_names.clone() {
                    if let Some(df) = (self.tables)(&n) {
                        parts.push((n, df));
                    }
                }
                continue;
            }
            let name = match &t.source {
                Source::Name(n, _) | Source::Call(n, _, _) if t.ops.is_empty() => n.clone(),
                _ => format!("union_arg{}", parts.len()),
            };
            match self.tabular(t) {
                Ok(df) => parts.push((name, df)),
                Err(_) if u.is_fuzzy => {}
                Err(e) => return Err(e),
            }
        }
        let mut out: Option<DataFrame> = None;
        for (name, df) in parts {
            let df = match &u.with_source {
                Some(c) => {
                    let mut exprs = vec![lit(&KVal::Str(name)).e.alias(c.clone())];
                    exprs.extend(columns(&df).iter().map(|(n, _)| col(n)));
                    df.select(exprs).map_err(df_err(Span::default()))?
                }
                None => df,
            };
            out = Some(match out {
                None => df,
                Some(acc) => union_outer(acc, df, u.kind_outer)?,
            });
        }
        out.ok_or_else(|| KqlError::at(Span::default(), "union has no tables to read"))
    }

    // ---- operators ----

    fn op(&mut self, df: DataFrame, op: &Op) -> Result<DataFrame, KqlError> {
        let span = op.span;
        let cols = columns(&df);
        let e = df_err(span);
        match &op.kind {
            OpKind::Where(x) => {
                let t = self.expr(x, &cols)?;
                let pred = functions::to_bool(t);
                df.filter(pred.e).map_err(e)
            }
            OpKind::Project(assigns) => {
                let mut exprs = Vec::new();
                let mut names = Vec::new();
                for (i, a) in assigns.iter().enumerate() {
                    let t = self.expr(&a.expr, &cols)?;
                    let name = self.name_of(a, i + 1);
                    if names.contains(&name) {
                        return Err(KqlError::at(a.expr.span, format!("column '{name}' is projected twice")));
                    }
                    names.push(name.clone());
                    exprs.push(t.e.alias(name));
                }
                df.select(exprs).map_err(e)
            }
            OpKind::ProjectAway(pats) => {
                let drop = self.matching(&cols, pats)?;
                let keep: Vec<DfExpr> = cols.iter().filter(|(n, _)| !drop.contains(n)).map(|(n, _)| col(n)).collect();
                df.select(keep).map_err(e)
            }
            OpKind::ProjectKeep(pats) => {
                let keep = self.matching(&cols, pats)?;
                let sel: Vec<DfExpr> = cols.iter().filter(|(n, _)| keep.contains(n)).map(|(n, _)| col(n)).collect();
                df.select(sel).map_err(e)
            }
            OpKind::ProjectRename(pairs) => {
                let mut exprs = Vec::new();
                for (n, _) in &cols {
                    match pairs.iter().find(|(_, old, _)| old == n) {
                        Some((new, _, _)) => exprs.push(col(n).alias(new.clone())),
                        None => exprs.push(col(n)),
                    }
                }
                for (_, old, s) in pairs {
                    self.check_column(&cols, old, *s)?;
                }
                df.select(exprs).map_err(e)
            }
            OpKind::ProjectReorder(pats) => {
                let first = self.matching(&cols, pats)?;
                let mut exprs: Vec<DfExpr> = first.iter().map(|n| col(n)).collect();
                exprs.extend(cols.iter().filter(|(n, _)| !first.contains(n)).map(|(n, _)| col(n)));
                df.select(exprs).map_err(e)
            }
            OpKind::Extend(assigns) => {
                let mut df = df;
                for (i, a) in assigns.iter().enumerate() {
                    let cols = columns(&df);
                    let t = self.expr(&a.expr, &cols)?;
                    let name = self.name_of(a, cols.len() + i + 1);
                    df = df.with_column(&name, t.e).map_err(df_err(a.expr.span))?;
                }
                Ok(df)
            }
            OpKind::Summarize { aggs, by } => self.summarize(df, &cols, aggs, by, span),
            OpKind::Count { name } => df
                .aggregate(
                    vec![],
                    vec![agg::count(DfExpr::Literal(ScalarValue::Int64(Some(1)), None))
                        .alias(name.clone().unwrap_or_else(|| "Count".into()))],
                )
                .map_err(e),
            OpKind::Take(n) | OpKind::Sample(n) => {
                let n = self
                    .constant(n)?
                    .as_long()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| KqlError::at(span, "take needs a non-negative whole number of rows"))?;
                df.limit(0, Some(n as usize)).map_err(e)
            }
            OpKind::Top { n, by } => {
                let count = self
                    .constant(n)?
                    .as_long()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| KqlError::at(n.span, "top needs a non-negative whole number of rows"))?;
                let key = self.sort_expr(by, &cols)?;
                df.sort(vec![key]).and_then(|d| d.limit(0, Some(count as usize))).map_err(e)
            }
            OpKind::Sort(keys) => {
                let keys = keys.iter().map(|k| self.sort_expr(k, &cols)).collect::<Result<Vec<_>, _>>()?;
                df.sort(keys).map_err(e)
            }
            OpKind::Distinct(exprs) => {
                if exprs.is_empty() {
                    return df.distinct().map_err(e);
                }
                let mut sel = Vec::new();
                for (i, x) in exprs.iter().enumerate() {
                    let t = self.expr(x, &cols)?;
                    sel.push(t.e.alias(x.derived_name().unwrap_or_else(|| format!("Column{}", i + 1))));
                }
                df.select(sel).and_then(|d| d.distinct()).map_err(e)
            }
            OpKind::MvExpand { columns: targets, item_index, limit, to_types } => {
                self.mv_expand(df, &cols, targets, item_index.as_deref(), limit.as_deref(), to_types, span)
            }
            OpKind::Join { kind, right, on } => {
                let r = self.tabular(right)?;
                join(df, r, *kind, on, false, span)
            }
            OpKind::Lookup { kind, right, on } => {
                let r = self.tabular(right)?;
                join(df, r, *kind, on, true, span)
            }
            OpKind::Union(u) => self.union(Some(df), u),
            OpKind::Render { chart, props } => {
                let mut ps = Vec::new();
                for (k, v) in props {
                    ps.push((k.clone(), self.render_prop(v)?));
                }
                self.render = Some((chart.clone(), ps));
                Ok(df)
            }
            OpKind::As(name) => {
                self.bind(name, Binding::Tabular(df.clone()));
                Ok(df)
            }
            OpKind::Serialize(assigns) => {
                let mut df = df;
                for (i, a) in assigns.iter().enumerate() {
                    let cols = columns(&df);
                    let t = self.expr(&a.expr, &cols)?;
                    df = df.with_column(&self.name_of(a, i + 1), t.e).map_err(df_err(a.expr.span))?;
                }
                Ok(df)
            }
            OpKind::Invoke(n, args) => {
                let f = match self.lookup(n) {
                    Some(Binding::Function(f)) => f.clone(),
                    _ => self
                        .saved_functions
                        .get(n)
                        .cloned()
                        .ok_or_else(|| KqlError::at(span, format!("unknown function '{n}' to invoke")))?,
                };
                let (Some(p0), true) = (f.params.first(), f.params.first().is_some_and(|p| p.ty.starts_with('(')))
                else {
                    return Err(KqlError::at(span, format!("{n}() does not take a table as its first parameter")));
                };
                let mut scope = HashMap::new();
                scope.insert(p0.name.clone(), Binding::Tabular(df));
                self.scopes.push(scope);
                let rest = Function { params: f.params[1..].to_vec(), body: f.body.clone(), view: false };
                let out = self.invoke(n, &rest, args, span);
                self.scopes.pop();
                out
            }
            OpKind::GetSchema => {
                let rows: Vec<(String, KType)> = cols;
                let mut names = Vec::new();
                let mut ords = Vec::new();
                let mut types = Vec::new();
                for (i, (n, t)) in rows.iter().enumerate() {
                    names.push(KVal::Str(n.clone()));
                    ords.push(KVal::Long(i as i64));
                    types.push(KVal::Str(t.name().to_string()));
                }
                let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
                    datafusion::arrow::datatypes::Field::new("ColumnName", DataType::Utf8, true),
                    datafusion::arrow::datatypes::Field::new("ColumnOrdinal", DataType::Int64, true),
                    datafusion::arrow::datatypes::Field::new("ColumnType", DataType::Utf8, true),
                ]));
                let batch = datafusion::arrow::record_batch::RecordBatch::try_new(
                    schema,
                    vec![
                        crate::value::build(KType::String, names),
                        crate::value::build(KType::Long, ords),
                        crate::value::build(KType::String, types),
                    ],
                )
                .map_err(|x| KqlError::at(span, x.to_string()))?;
                self.ctx.read_batch(batch).map_err(e)
            }
            OpKind::MakeSeries(m) => self.make_series(df, &cols, m, span),
            OpKind::Parse { expr, kind, pattern } => self.parse_op(df, &cols, expr, *kind, pattern, span),
        }
    }

    fn render_prop(&mut self, v: &Expr) -> Result<KVal, KqlError> {
        // `ycolumns=a, b` style names are column names, not values.
        Ok(match &v.kind {
            ExprKind::Name(n) => KVal::Str(n.clone()),
            ExprKind::Call(f, items) if f == "pack_array" => KVal::Dyn(serde_json::Value::Array(
                items.iter().map(|i| serde_json::Value::String(i.derived_name().unwrap_or_default())).collect(),
            )),
            _ => self.constant(v)?,
        })
    }

    /// The name of an assigned or derived column (`Column{n}` when nothing better).
    fn name_of(&self, a: &Assign, n: usize) -> String {
        a.name.clone().or_else(|| a.expr.derived_name()).unwrap_or_else(|| format!("Column{n}"))
    }

    fn check_column(&self, cols: &[(String, KType)], name: &str, span: Span) -> Result<(), KqlError> {
        if cols.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        let hint = did_you_mean(name, cols.iter().map(|(n, _)| n.as_str()))
            .map(|m| format!("; did you mean '{m}'?"))
            .unwrap_or_default();
        Err(KqlError::at(span, format!("unknown column '{name}'{hint}")))
    }

    /// Columns matching name patterns (`*` wildcards), in the patterns' order.
    fn matching(&self, cols: &[(String, KType)], pats: &[(String, Span)]) -> Result<Vec<String>, KqlError> {
        let mut out = Vec::new();
        for (p, span) in pats {
            if !p.contains('*') {
                self.check_column(cols, p, *span)?;
                if !out.contains(p) {
                    out.push(p.clone());
                }
                continue;
            }
            for (n, _) in cols {
                if wildcard(p, n) && !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
        Ok(out)
    }

    fn sort_expr(&mut self, k: &SortKey, cols: &[(String, KType)]) -> Result<SortExpr, KqlError> {
        let t = self.expr(&k.expr, cols)?;
        let asc = !k.descending;
        // Kusto: nulls last when descending, first when ascending, unless told.
        let nulls_first = k.nulls_first.unwrap_or(asc);
        let e = if t.t == KType::Dynamic { functions::to_string(t).e } else { t.e };
        Ok(e.sort(asc, nulls_first))
    }

    // ---- summarize ----

    fn summarize(
        &mut self,
        df: DataFrame,
        cols: &[(String, KType)],
        aggs: &[Assign],
        by: &[Assign],
        span: Span,
    ) -> Result<DataFrame, KqlError> {
        let mut group = Vec::new();
        let mut group_names = Vec::new();
        for (i, b) in by.iter().enumerate() {
            let t = self.expr(&b.expr, cols)?;
            // `bin(TimeGenerated, 1h)` is named after its column.
            let name = b.name.clone().or_else(|| b.expr.derived_name()).or_else(|| match &b.expr.kind {
                ExprKind::Call(f, a) if matches!(f.as_str(), "bin" | "floor" | "bin_at") => {
                    a.first().and_then(Expr::derived_name)
                }
                _ => None,
            });
            let name = name.unwrap_or_else(|| format!("Column{}", i + 1));
            group_names.push(name.clone());
            group.push(t.e.alias(name));
        }
        // arg_max/arg_min: the rows where the expression is largest/smallest per group.
        if let [a] = aggs {
            if let ExprKind::Call(f, args) = &a.expr.kind {
                let f = f.to_ascii_lowercase();
                if f == "arg_max" || f == "arg_min" {
                    return self.arg_extreme(df, cols, &group, &group_names, a, args, f == "arg_max", span);
                }
            }
        }
        // percentiles(x, 50, 90): one percentile column per percentage, named as Kusto does.
        let mut expanded = Vec::new();
        for a in aggs {
            match &a.expr.kind {
                ExprKind::Call(f, args) if f.eq_ignore_ascii_case("percentiles") && n_args(args) > 2 => {
                    if a.name.is_some() {
                        return Err(KqlError::at(
                            a.expr.span,
                            "percentiles() with several percentages makes several columns: leave it unnamed, or use percentile() per name",
                        ));
                    }
                    for p in &args[1..] {
                        let call = ExprKind::Call("percentile".into(), vec![args[0].clone(), p.clone()]);
                        expanded.push(Assign { name: None, expr: Expr::new(call, a.expr.span) });
                    }
                }
                _ => expanded.push(a.clone()),
            }
        }
        let aggs = &expanded[..];
        let mut aggr = Vec::new();
        let mut post: Vec<(String, KType, Option<Post>)> = Vec::new();
        for a in aggs {
            self.post = None;
            let (e, name, t) = self.aggregate(&a.expr, cols)?;
            let rank = self.post.take();
            let name = a.name.clone().unwrap_or(name);
            aggr.push(e.alias(name.clone()));
            post.push((name, t, rank));
        }
        let out = df.aggregate(group, aggr).map_err(df_err(span))?;
        // Lists from make_set/make_list become dynamic; counts stay long.
        let mut sel: Vec<DfExpr> = group_names.iter().map(|n| col(n)).collect();
        for (n, t, rank) in &post {
            let actual =
                out.schema().field_with_unqualified_name(n).map(|f| f.data_type().clone()).unwrap_or(DataType::Null);
            let c = Typed::new(col(n), KType::of(&actual));
            let c = match rank {
                Some(Post::NearestRank(p)) => functions::nearest_rank(c, *p),
                Some(Post::Cap(n)) => functions::cap(functions::cast_to(c, *t), *n),
                None => functions::cast_to(c, *t),
            };
            sel.push(c.e.alias(n.clone()));
        }
        out.select(sel).map_err(df_err(span))
    }

    /// One aggregate: its expression, default name and result type.
    fn aggregate(&mut self, x: &Expr, cols: &[(String, KType)]) -> Result<(DfExpr, String, KType), KqlError> {
        let ExprKind::Call(f, args) = &x.kind else {
            return Err(KqlError::at(x.span, "summarize needs an aggregation function such as count() or dcount(x)"));
        };
        let lower = f.to_ascii_lowercase();
        let arg = |p: &mut Self, i: usize| -> Result<Typed, KqlError> {
            let a = args.get(i).ok_or_else(|| KqlError::at(x.span, format!("{f}() needs argument {}", i + 1)))?;
            p.expr(a, cols)
        };
        let suffix = |i: usize| args.get(i).and_then(Expr::derived_name).unwrap_or_default();
        Ok(match lower.as_str() {
            "count" => (agg::count(DfExpr::Literal(ScalarValue::Int64(Some(1)), None)), "count_".into(), KType::Long),
            "countif" => {
                let p = functions::to_bool(arg(self, 0)?);
                (agg::count(p.e.clone()).filter(p.e).build().map_err(df_err(x.span))?, "countif_".into(), KType::Long)
            }
            "dcount" => {
                let a = arg(self, 0)?;
                (agg::count_distinct(a.e), format!("dcount_{}", suffix(0)), KType::Long)
            }
            "dcountif" => {
                let a = arg(self, 0)?;
                let p = functions::to_bool(arg(self, 1)?);
                // As a count of distinct `case when p then a end` (nulls are not counted):
                // a FILTER on a distinct count is dropped when DataFusion rewrites a lone
                // distinct aggregate into a grouping.
                let only = datafusion::logical_expr::when(p.e, a.e).end().map_err(df_err(x.span))?;
                (agg::count_distinct(only), format!("dcountif_{}", suffix(0)), KType::Long)
            }
            "sum" => {
                let a = arg(self, 0)?;
                let t = if a.t == KType::Real { KType::Real } else { KType::Long };
                (agg::sum(functions::cast_to(a, t).e), format!("sum_{}", suffix(0)), t)
            }
            "sumif" => {
                let a = arg(self, 0)?;
                let p = functions::to_bool(arg(self, 1)?);
                let t = if a.t == KType::Real { KType::Real } else { KType::Long };
                (
                    agg::sum(functions::cast_to(a, t).e).filter(p.e).build().map_err(df_err(x.span))?,
                    format!("sumif_{}", suffix(0)),
                    t,
                )
            }
            "avg" => {
                (agg::avg(functions::cast_to(arg(self, 0)?, KType::Real).e), format!("avg_{}", suffix(0)), KType::Real)
            }
            "min" | "max" => {
                let a = arg(self, 0)?;
                let t = a.t;
                let e = if t == KType::Dynamic { functions::to_string(a).e } else { a.e };
                let e = if lower == "min" { agg::min(e) } else { agg::max(e) };
                (e, format!("{lower}_{}", suffix(0)), if t == KType::Dynamic { KType::String } else { t })
            }
            "make_set" | "make_list" | "make_set_if" | "make_list_if" => {
                let a = arg(self, 0)?;
                let e = functions::to_dynamic(a).e;
                let mut b = agg::array_agg(e.clone());
                if lower.starts_with("make_set") {
                    b = b.distinct().build().map_err(df_err(x.span))?;
                }
                if lower.ends_with("_if") {
                    let p = functions::to_bool(arg(self, 1)?);
                    b = b.filter(p.e).build().map_err(df_err(x.span))?;
                }
                let prefix = if lower.starts_with("make_set") { "set" } else { "list" };
                // The size cap: make_set(x, n) / make_set_if(x, p, n).
                let cap_at = if lower.ends_with("_if") { 2 } else { 1 };
                if let Some(c) = args.get(cap_at) {
                    let n = self.constant(c)?.as_long().filter(|n| *n >= 0).ok_or_else(|| {
                        KqlError::at(c.span, format!("{f}(): the size limit must be a non-negative number"))
                    })?;
                    self.post = Some(Post::Cap(n as usize));
                }
                (b, format!("{prefix}_{}", suffix(0)), KType::Dynamic)
            }
            "take_any" | "any" => {
                let a = arg(self, 0)?;
                let t = a.t;
                (agg::first_value(a.e, vec![]), suffix(0), t)
            }
            "percentile" | "percentiles" => {
                let a = functions::cast_to(arg(self, 0)?, KType::Real);
                let p = match args.get(1).map(|p| self.constant(p)).transpose()? {
                    Some(v) => v.as_real().unwrap_or(50.0),
                    None => 50.0,
                };
                // Kusto's percentile is nearest-rank (a value of the set, never an
                // interpolation): the values are gathered, and the rank picked after.
                let e = agg::array_agg(a.e);
                self.post = Some(Post::NearestRank(p));
                (e, format!("percentile_{}_{}", suffix(0), crate::value::real_text(p)), KType::Real)
            }
            "stdev" => (
                agg::stddev(functions::cast_to(arg(self, 0)?, KType::Real).e),
                format!("stdev_{}", suffix(0)),
                KType::Real,
            ),
            "variance" => (
                agg::var_sample(functions::cast_to(arg(self, 0)?, KType::Real).e),
                format!("variance_{}", suffix(0)),
                KType::Real,
            ),
            _ => {
                let known = [
                    "count", "countif", "dcount", "dcountif", "sum", "sumif", "avg", "min", "max", "make_set",
                    "make_list", "make_set_if", "make_list_if", "take_any", "any", "percentile", "arg_max", "arg_min",
                    "stdev", "variance",
                ];
                let hint = did_you_mean(f, known).map(|m| format!("; did you mean '{m}'?")).unwrap_or_default();
                return Err(KqlError::at(x.span, format!("unknown aggregation function '{f}'{hint}")));
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn arg_extreme(
        &mut self,
        df: DataFrame,
        cols: &[(String, KType)],
        group: &[DfExpr],
        group_names: &[String],
        a: &Assign,
        args: &[Expr],
        max: bool,
        span: Span,
    ) -> Result<DataFrame, KqlError> {
        let Some(key) = args.first() else { return Err(KqlError::at(a.expr.span, "arg_max needs an expression")) };
        let k = self.expr(key, cols)?;
        let key_name = a.name.clone().or_else(|| key.derived_name()).unwrap_or_else(|| "max".into());
        // Group keys and the extreme first, then the requested columns (all others for `*`).
        let mut extra: Vec<(String, Typed)> = Vec::new();
        for (i, x) in args.iter().enumerate().skip(1) {
            if x.kind == ExprKind::Star {
                for (n, t) in cols {
                    if !group_names.contains(n) && *n != key_name && !extra.iter().any(|(m, _)| m == n) {
                        extra.push((n.clone(), Typed::new(col(n), *t)));
                    }
                }
            } else {
                let t = self.expr(x, cols)?;
                let n = x.derived_name().unwrap_or_else(|| format!("Column{i}"));
                extra.push((n, t));
            }
        }
        // A hash aggregate, not a window sort: each group keeps its best row as the input
        // streams by, which at a million groups is several times cheaper than sorting
        // every row by the group key. Every column is a `first_value` under the same
        // ordering, and the accumulators see the same rows in the same order and keep the
        // earlier row on ties, so all columns of a group come from one input row.
        // Booleans ride as integers because only the typed (grouped) accumulators share
        // that tie rule.
        let order = vec![k.e.clone().sort(!max, false)];
        let mut aggs: Vec<DfExpr> =
            vec![if max { agg::max(k.e.clone()) } else { agg::min(k.e.clone()) }.alias(key_name.clone())];
        let mut outs: Vec<DfExpr> = group_names.iter().map(|n| col(n)).collect();
        outs.push(col(&key_name));
        for (i, (n, t)) in extra.iter().enumerate() {
            let tmp = format!("__kql_x{i}");
            if t.t == KType::Bool {
                aggs.push(
                    agg::first_value(datafusion::logical_expr::cast(t.e.clone(), DataType::Int8), order.clone())
                        .alias(tmp.clone()),
                );
                outs.push(datafusion::logical_expr::cast(col(&tmp), DataType::Boolean).alias(n.clone()));
            } else {
                aggs.push(agg::first_value(t.e.clone(), order.clone()).alias(tmp.clone()));
                outs.push(col(&tmp).alias(n.clone()));
            }
        }
        // Rows whose key is null do not take part (Kusto ignores them).
        let df = df.filter(k_not_null(&k)).map_err(df_err(span))?;
        let df = df.aggregate(group.to_vec(), aggs).map_err(df_err(span))?;
        df.select(outs).map_err(df_err(span))
    }

    // ---- mv-expand, parse ----

    #[allow(clippy::too_many_arguments)]
    fn mv_expand(
        &mut self,
        df: DataFrame,
        cols: &[(String, KType)],
        targets: &[Assign],
        item_index: Option<&str>,
        limit: Option<&Expr>,
        to_types: &[Option<String>],
        span: Span,
    ) -> Result<DataFrame, KqlError> {
        let limit = match limit {
            Some(l) => self.constant(l)?.as_long(),
            None => None,
        };
        let ty_of = |i: usize| -> Result<KType, KqlError> {
            match to_types.get(i).cloned().flatten() {
                Some(t) => KType::parse(&t).ok_or_else(|| KqlError::at(span, format!("unknown type '{t}'"))),
                None => Ok(KType::Dynamic),
            }
        };
        if item_index.is_some() || targets.len() > 1 {
            // Several columns expand side by side (the longest sets the row count); the
            // row's tuple is [index, a, b, …], taken apart after the unnest.
            let mut vals = Vec::new();
            let mut names = Vec::new();
            for (i, a) in targets.iter().enumerate() {
                vals.push(self.expr(&a.expr, cols)?);
                names.push(self.name_of(a, i + 1));
            }
            let tuple = "__mv_tuple";
            let list = functions::elements(functions::zipped(vals), limit);
            let df = df.with_column(tuple, list).map_err(df_err(span))?;
            let (state, plan) = df.into_parts();
            let plan = datafusion::logical_expr::LogicalPlanBuilder::from(plan)
                .unnest_columns_with_options(
                    vec![datafusion::common::Column::new_unqualified(tuple)],
                    datafusion::common::UnnestOptions::new(),
                )
                .and_then(|b| b.build())
                .map_err(df_err(span))?;
            let mut df = DataFrame::new(state, plan);
            let t = Typed::new(col(tuple), KType::Dynamic);
            for (i, name) in names.iter().enumerate() {
                let v = functions::cast_to(functions::item(t.clone(), i + 1), ty_of(i)?);
                df = df.with_column(name, v.e).map_err(df_err(span))?;
            }
            if let Some(ix) = item_index {
                let v = functions::cast_to(functions::item(t, 0), KType::Long);
                df = df.with_column(ix, v.e).map_err(df_err(span))?;
            }
            return df.drop_columns(&[tuple]).map_err(df_err(span));
        }
        let a = &targets[0];
        let t = self.expr(&a.expr, cols)?;
        let name = self.name_of(a, 1);
        let list = functions::elements(t, limit);
        let mut df = df.with_column(&name, list).map_err(df_err(span))?;
        // By an exact column (DataFrame::unnest_columns would parse and fold the name).
        let (state, plan) = df.into_parts();
        let plan = datafusion::logical_expr::LogicalPlanBuilder::from(plan)
            .unnest_columns_with_options(
                vec![datafusion::common::Column::new_unqualified(name.clone())],
                datafusion::common::UnnestOptions::new(),
            )
            .and_then(|b| b.build())
            .map_err(df_err(span))?;
        df = DataFrame::new(state, plan);
        let c = functions::cast_to(Typed::new(col(&name), KType::Dynamic), ty_of(0)?);
        df.with_column(&name, c.e).map_err(df_err(span))
    }

    #[allow(clippy::too_many_arguments)]
    fn parse_op(
        &mut self,
        df: DataFrame,
        cols: &[(String, KType)],
        x: &Expr,
        kind: ParseKind,
        pattern: &[ParsePart],
        span: Span,
    ) -> Result<DataFrame, KqlError> {
        let src = functions::to_string(self.expr(x, cols)?);
        let mut re = String::from("(?s)");
        let mut outs = Vec::new();
        for (i, p) in pattern.iter().enumerate() {
            let last = i == pattern.len() - 1;
            match p {
                ParsePart::Literal(s) if kind == ParseKind::Regex => re.push_str(s),
                ParsePart::Literal(s) => re.push_str(&regex::escape(s)),
                ParsePart::Any => re.push_str(if last { ".*" } else { ".*?" }),
                ParsePart::Column(n, t) => {
                    let ty = KType::parse(t).ok_or_else(|| KqlError::at(span, format!("unknown type '{t}'")))?;
                    re.push_str(if last { "(.*)" } else { "(.*?)" });
                    outs.push((n.clone(), ty));
                }
            }
        }
        let compiled = regex::Regex::new(&re).map_err(|e| KqlError::at(span, format!("parse pattern: {e}")))?;
        let mut df = df;
        for (i, (n, ty)) in outs.iter().enumerate() {
            let e = functions::capture(src.clone(), compiled.clone(), i + 1, *ty);
            df = df.with_column(n, e.e).map_err(df_err(span))?;
        }
        Ok(df)
    }

    // ---- scalar expressions ----

    pub fn expr(&mut self, x: &Expr, cols: &[(String, KType)]) -> Result<Typed, KqlError> {
        functions::expr(self, x, cols)
    }

    pub(crate) fn scalar_binding(&self, n: &str) -> Option<KVal> {
        match self.lookup(n) {
            Some(Binding::Scalar(v)) => Some(v.clone()),
            _ => None,
        }
    }

    pub(crate) fn function_binding(&self, n: &str) -> Option<Arc<Function>> {
        match self.lookup(n) {
            Some(Binding::Function(f)) => Some(f.clone()),
            _ => self.saved_functions.get(n).cloned(),
        }
    }

    pub(crate) fn scope_names(&self) -> Vec<String> {
        self.scopes.iter().flat_map(|s| s.keys().cloned()).collect()
    }

    /// Runs a tabular expression now and returns its first column.
    pub(crate) fn first_column(&mut self, t: &Tabular) -> Result<Vec<KVal>, KqlError> {
        let df = self.tabular(t)?;
        let rows = (self.collect)(df).map_err(|m| KqlError::at(t.span, m))?;
        Ok(rows.into_iter().filter_map(|r| r.into_iter().next()).collect())
    }
}

fn k_not_null(k: &Typed) -> DfExpr {
    k.e.clone().is_not_null()
}

fn n_args(a: &[Expr]) -> usize {
    a.len()
}

/// Kusto's wildcard: `*` matches any run of characters.
fn wildcard(p: &str, s: &str) -> bool {
    let parts: Vec<&str> = p.split('*').collect();
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !rest.starts_with(part) {
                return false;
            }
            rest = &rest[part.len()..];
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty() || p.ends_with('*')
}

/// `union` of two frames by column name; missing columns are null (kind=outer) or the
/// common columns only (kind=inner).
fn union_outer(a: DataFrame, b: DataFrame, outer: bool) -> Result<DataFrame, KqlError> {
    let (ca, cb) = (columns(&a), columns(&b));
    let mut names: Vec<(String, KType)> = Vec::new();
    for (n, t) in ca.iter().chain(cb.iter()) {
        let in_both = ca.iter().any(|(m, _)| m == n) && cb.iter().any(|(m, _)| m == n);
        if (outer || in_both) && !names.iter().any(|(m, _)| m == n) {
            names.push((n.clone(), *t));
        }
    }
    let side = |df: DataFrame, cs: &[(String, KType)]| -> Result<DataFrame, KqlError> {
        let sel: Vec<DfExpr> = names
            .iter()
            .map(|(n, t)| match cs.iter().find(|(m, _)| m == n) {
                Some((_, u)) if u == t => col(n),
                Some((_, u)) => functions::cast_to(Typed::new(col(n), *u), *t).e.alias(n.clone()),
                None => null_of(*t).e.alias(n.clone()),
            })
            .collect();
        df.select(sel).map_err(df_err(Span::default()))
    };
    let (a, b) = (side(a, &ca)?, side(b, &cb)?);
    a.union(b).map_err(df_err(Span::default()))
}

/// Kusto joins: the right side's columns that clash with the left's get a `1` suffix
/// (`Id1`); `innerunique` keeps one left row per key first; `lookup` drops the right's
/// key columns.
fn join(
    left: DataFrame,
    right: DataFrame,
    kind: JoinKind,
    on: &[JoinOn],
    lookup: bool,
    span: Span,
) -> Result<DataFrame, KqlError> {
    let (lc, rc) = (columns(&left), columns(&right));
    for j in on {
        if !lc.iter().any(|(n, _)| *n == j.left) {
            let hint = did_you_mean(&j.left, lc.iter().map(|(n, _)| n.as_str()))
                .map(|m| format!("; did you mean '{m}'?"))
                .unwrap_or_default();
            return Err(KqlError::at(j.span, format!("join: the left side has no column '{}'{hint}", j.left)));
        }
        if !rc.iter().any(|(n, _)| *n == j.right) {
            let hint = did_you_mean(&j.right, rc.iter().map(|(n, _)| n.as_str()))
                .map(|m| format!("; did you mean '{m}'?"))
                .unwrap_or_default();
            return Err(KqlError::at(j.span, format!("join: the right side has no column '{}'{hint}", j.right)));
        }
    }
    let left = if kind == JoinKind::InnerUnique {
        let rn = "__kql_rn";
        let w = datafusion::functions_window::expr_fn::row_number()
            .partition_by(on.iter().map(|j| col(&j.left)).collect())
            .build()
            .map_err(df_err(span))?
            .alias(rn);
        let mut sel: Vec<DfExpr> = lc.iter().map(|(n, _)| col(n)).collect();
        sel.push(w);
        let d = left.select(sel).map_err(df_err(span))?;
        let d = d.filter(col(rn).eq(DfExpr::Literal(ScalarValue::UInt64(Some(1)), None))).map_err(df_err(span))?;
        let sel: Vec<DfExpr> = lc.iter().map(|(n, _)| col(n)).collect();
        d.select(sel).map_err(df_err(span))?
    } else {
        left
    };
    // Rename the right side's columns: clashing ones get a suffix; keys get a private name.
    let mut right_sel = Vec::new();
    let mut right_names = Vec::new();
    for (n, _) in &rc {
        let is_key = on.iter().any(|j| j.right == *n);
        let new = if lookup && is_key {
            format!("__kql_r_{n}")
        } else if lc.iter().any(|(m, _)| m == n) {
            let mut k = 1;
            loop {
                let c = format!("{n}{k}");
                if !lc.iter().any(|(m, _)| *m == c) && !rc.iter().any(|(m, _)| *m == c) {
                    break c;
                }
                k += 1;
            }
        } else {
            n.clone()
        };
        right_sel.push(col(n).alias(new.clone()));
        right_names.push((n.clone(), new));
    }
    let right = right.select(right_sel).map_err(df_err(span))?;
    let rkey = |j: &JoinOn| right_names.iter().find(|(o, _)| *o == j.right).map(|(_, n)| n.clone()).expect("checked");
    let lkeys: Vec<String> = on.iter().map(|j| j.left.clone()).collect();
    let rkeys: Vec<String> = on.iter().map(rkey).collect();
    let jt = match kind {
        JoinKind::InnerUnique | JoinKind::Inner => JoinType::Inner,
        JoinKind::LeftOuter => JoinType::Left,
        JoinKind::RightOuter => JoinType::Right,
        JoinKind::FullOuter => JoinType::Full,
        JoinKind::LeftAnti => JoinType::LeftAnti,
        JoinKind::RightAnti => JoinType::RightAnti,
        JoinKind::LeftSemi => JoinType::LeftSemi,
        JoinKind::RightSemi => JoinType::RightSemi,
    };
    let on_exprs: Vec<DfExpr> = lkeys.iter().zip(&rkeys).map(|(l, r)| col(l).eq(col(r))).collect();
    let out = left.join_on(right, jt, on_exprs).map_err(df_err(span))?;
    if lookup {
        let keep: Vec<DfExpr> =
            columns(&out).iter().filter(|(n, _)| !n.starts_with("__kql_r_")).map(|(n, _)| col(n)).collect();
        return out.select(keep).map_err(df_err(span));
    }
    Ok(out)
}
