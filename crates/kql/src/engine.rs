//! Running queries: tables and saved functions by name, limits, results as JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use serde::Serialize;
use serde_json::Value;

use crate::ast::{Function, LetValue};
use crate::error::{KqlError, Span};
use crate::plan::{columns, Planner};
use crate::value::{get, KType, KVal};

/// How much a query may take.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Rows returned at most; the result says when more were cut.
    pub max_rows: usize,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_rows: 10_000, timeout: Duration::from_secs(60) }
    }
}

/// A column of a result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: &'static str,
}

/// A query's result: `{"columns": [...], "rows": [[...]], "render": {...}|null}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryResult {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// The `render` operator's chart and properties, if the query has one.
    pub render: Option<Value>,
    /// More rows than the limit: the rest were not returned.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Tables (Arrow batches) and saved functions, queried with KQL.
pub struct Engine {
    ctx: SessionContext,
    tables: HashMap<String, Arc<MemTable>>,
    /// History tables' batches with a `LATEST_MARK` column (see `add_history_table`).
    latest: HashMap<String, Arc<MemTable>>,
    /// Tables over files (see `files.rs`).
    files: HashMap<String, DataFrame>,
    functions: HashMap<String, Arc<Function>>,
    pub limits: Limits,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    pub fn new() -> Engine {
        // Table and column names keep their case, as in Kusto.
        let config = SessionConfig::new().with_information_schema(false);
        Engine {
            ctx: SessionContext::new_with_config(config),
            tables: HashMap::new(),
            latest: HashMap::new(),
            files: HashMap::new(),
            functions: HashMap::new(),
            limits: Limits::default(),
        }
    }

    /// Adds (or replaces) a table. The batches are dealt into one partition per core, so
    /// scans, filters and partial aggregates run on every core.
    pub fn add_table(&mut self, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<(), String> {
        let t = self.mem_table(schema, batches)?;
        self.tables.insert(name.to_string(), t);
        Ok(())
    }

    fn mem_table(&self, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Arc<MemTable>, String> {
        let n = self.ctx.copied_config().target_partitions().clamp(1, batches.len().max(1));
        let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
        for (i, b) in batches.into_iter().enumerate() {
            parts[i % n].push(b);
        }
        Ok(Arc::new(MemTable::try_new(schema, parts).map_err(|e| e.to_string())?))
    }

    /// Adds a version-history table (an `Id` and a `TimeGenerated` per row), with one
    /// boolean column per batch marking each Id's latest row: the row
    /// `summarize arg_max(TimeGenerated, *) by Id` keeps. Queries that ask exactly that of
    /// the whole table read the marked rows instead of aggregating every row (see
    /// `Planner::latest_rows`). The marks share the batches' columns; nothing is copied.
    pub fn add_history_table(
        &mut self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        marks: Vec<datafusion::arrow::array::ArrayRef>,
    ) -> Result<(), String> {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        if marks.len() != batches.len() {
            return Err(format!("{name}: {} mark columns for {} batches", marks.len(), batches.len()));
        }
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(crate::plan::LATEST_MARK, DataType::Boolean, false));
        let marked = Arc::new(Schema::new(fields));
        let with_marks = batches
            .iter()
            .zip(marks)
            .map(|(b, m)| {
                let mut cols = b.columns().to_vec();
                cols.push(m);
                RecordBatch::try_new(marked.clone(), cols).map_err(|e| format!("{name}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let t = self.mem_table(marked, with_marks)?;
        self.latest.insert(name.to_string(), t);
        self.add_table(name, schema, batches)
    }

    /// Adds a table over files (JSON lines, CSV or Parquet; a file, a directory or a `*`
    /// pattern). Needs a tokio runtime context.
    pub fn add_file_table(&mut self, name: &str, path: &str, format: crate::files::FileFormat) -> Result<(), String> {
        let mut df = futures::executor::block_on(crate::files::read(&self.ctx, path, format))?;
        // Every Log Analytics table has `Type`, its own name; content groups by it
        // (`union * | summarize count() by Type`), so a file table gets it if it lacks it.
        if df.schema().field_with_unqualified_name("Type").is_err() {
            df = df.with_column("Type", datafusion::prelude::lit(name.to_string())).map_err(|e| e.to_string())?;
        }
        self.files.insert(name.to_string(), df);
        Ok(())
    }

    pub fn table_names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.tables.keys().chain(self.files.keys()).cloned().collect();
        n.sort();
        n
    }

    /// Saves a function: `(a:string, b:long = 5) { body }` or just a body, as Sentinel's
    /// saved functions (`ThreatIntelIndicatorsv2`) are written.
    pub fn add_function(&mut self, name: &str, text: &str) -> Result<(), KqlError> {
        self.functions.insert(name.to_string(), Arc::new(parse_function(text)?));
        Ok(())
    }

    /// Runs a query at `now` (microseconds since the epoch: what `now()` and `ago()`
    /// count from). Needs a tokio runtime context (DataFusion runs its tasks there).
    pub fn run(&self, text: &str, now: i64) -> Result<QueryResult, KqlError> {
        let q = crate::parse(text)?;
        let deadline = std::time::Instant::now() + self.limits.timeout;
        let timeout = self.limits.timeout;
        let collect = move |df: DataFrame| -> Result<Vec<Vec<KVal>>, String> {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let batches = run_with_timeout(df, left).map_err(|e| e.replace("{timeout}", &format!("{timeout:?}")))?;
            Ok(rows_of(&batches))
        };
        let (df, render) = self.plan(&q, now, &collect)?;
        let cols = columns(&df);
        let df = df.limit(0, Some(self.limits.max_rows + 1)).map_err(crate::plan::df_err(q.body.span))?;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let batches = run_with_timeout(df, left)
            .map_err(|m| KqlError::at(q.body.span, m.replace("{timeout}", &format!("{timeout:?}"))))?;
        let mut rows = Vec::new();
        for b in &batches {
            for r in 0..b.num_rows() {
                rows.push(
                    b.columns()
                        .iter()
                        .map(|c| json_of(get(c.as_ref(), r), KType::of(c.data_type())))
                        .collect::<Vec<_>>(),
                );
            }
        }
        let truncated = rows.len() > self.limits.max_rows;
        rows.truncate(self.limits.max_rows);
        let render = render.map(|(chart, props)| {
            let mut m = serde_json::Map::new();
            m.insert("chart".into(), Value::String(chart));
            for (k, v) in props {
                m.insert(k, v.to_json());
            }
            Value::Object(m)
        });
        Ok(QueryResult {
            columns: cols.into_iter().map(|(name, t)| Column { name, ty: t.name() }).collect(),
            rows,
            render,
            truncated,
        })
    }
}

impl Engine {
    /// Runs SQL over the same tables, with DataFusion alone: the yardstick the KQL
    /// benchmarks are measured against (users query in KQL). Needs a tokio runtime context.
    pub fn run_sql(&self, sql: &str) -> Result<Vec<Vec<Value>>, String> {
        let ctx = SessionContext::new_with_config(self.ctx.copied_config());
        // Bare references keep the names' case (a &str would be parsed and lower-cased).
        use datafusion::common::TableReference;
        for (n, t) in &self.tables {
            ctx.register_table(TableReference::bare(n.as_str()), t.clone()).map_err(|e| e.to_string())?;
        }
        for (n, df) in &self.files {
            ctx.register_table(TableReference::bare(n.as_str()), df.clone().into_view()).map_err(|e| e.to_string())?;
        }
        let batches = futures::executor::block_on(async {
            let df = ctx.sql(sql).await?;
            df.collect().await
        })
        .map_err(|e| e.to_string())?;
        Ok(rows_of(&batches).into_iter().map(|r| r.into_iter().map(|v| json_of(v, KType::Dynamic)).collect()).collect())
    }

    /// A query's plan as a DataFrame (for writing results elsewhere, and tests);
    /// subqueries that must run while planning (`toscalar`, `in (…)`) are refused.
    pub async fn run_frame(&self, text: &str) -> Result<DataFrame, KqlError> {
        let q = crate::parse(text)?;
        let collect = |_df: DataFrame| -> Result<Vec<Vec<KVal>>, String> { Err("subqueries are not run here".into()) };
        Ok(self.plan(&q, 0, &collect)?.0)
    }

    /// Plans a parsed query: its DataFrame and its `render`, if any.
    #[allow(clippy::type_complexity)]
    fn plan(
        &self,
        q: &crate::ast::Query,
        now: i64,
        collect: &dyn Fn(DataFrame) -> Result<Vec<Vec<KVal>>, String>,
    ) -> Result<(DataFrame, Option<(String, Vec<(String, KVal)>)>), KqlError> {
        let tables = |n: &str| {
            self.tables.get(n).and_then(|t| self.ctx.read_table(t.clone()).ok()).or_else(|| self.files.get(n).cloned())
        };
        let latest = |n: &str| {
            let df = self.ctx.read_table(self.latest.get(n)?.clone()).ok()?;
            let keep: Vec<_> = columns(&df)
                .into_iter()
                .filter(|(c, _)| c != crate::plan::LATEST_MARK)
                .map(|(c, _)| crate::plan::col(&c))
                .collect();
            df.filter(crate::plan::col(crate::plan::LATEST_MARK)).ok()?.select(keep).ok()
        };
        let mut p = Planner {
            ctx: &self.ctx,
            tables: &tables,
            latest: &latest,
            table_names: self.table_names(),
            saved_functions: &self.functions,
            scopes: vec![HashMap::new()],
            now,
            render: None,
            collect,
            post: None,
        };
        p.lets(&q.lets)?;
        let df = p.tabular(&q.body)?;
        Ok((df, p.render))
    }
}

fn run_with_timeout(df: DataFrame, left: Duration) -> Result<Vec<RecordBatch>, String> {
    futures::executor::block_on(async move {
        match tokio::time::timeout(left, df.collect()).await {
            Ok(r) => r.map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string()),
            Err(_) => Err("the query ran longer than its time limit ({timeout})".to_string()),
        }
    })
}

fn rows_of(batches: &[RecordBatch]) -> Vec<Vec<KVal>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(b.columns().iter().map(|c| get(c.as_ref(), r)).collect());
        }
    }
    out
}

/// A result value as JSON: datetimes and timespans as Kusto prints them.
fn json_of(v: KVal, t: KType) -> Value {
    match (v, t) {
        (KVal::Null, _) => Value::Null,
        (KVal::Str(s), _) => Value::String(s),
        (v, _) => v.to_json(),
    }
}

/// A saved function's text: `(params) { body }`, or a body alone.
pub fn parse_function(text: &str) -> Result<Function, KqlError> {
    let t = text.trim();
    let q = crate::parse(&format!(
        "let __f = {}; __f",
        if t.starts_with('(') { t.to_string() } else { format!("() {{ {t} }}") }
    ))
    .map_err(|e| KqlError::at(Span::new(e.span.start.saturating_sub(11), e.span.end.saturating_sub(11)), e.message))?;
    match q.lets.into_iter().next().map(|l| l.value) {
        Some(LetValue::Function(f)) => Ok(*f),
        _ => Err(KqlError::at(Span::default(), "not a function: write (params) { body } or a query")),
    }
}
