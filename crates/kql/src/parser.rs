//! A recursive-descent parser for KQL: statements and tabular operators by keyword,
//! scalar expressions by precedence climbing. Keywords are not reserved (a column may be
//! called `count`); each is recognised only where it can stand.

use crate::ast::*;
use crate::error::{did_you_mean, KqlError, Span};
use crate::lexer::{lex, Tok, Token};

/// Tabular operators this engine runs.
const OPERATORS: &[&str] = &[
    "where", "filter", "project", "project-away", "project-keep", "project-rename", "project-reorder", "extend",
    "summarize", "count", "take", "limit", "top", "sort", "order", "distinct", "mv-expand", "mvexpand", "join",
    "lookup", "union", "make-series", "render", "parse", "as", "serialize", "invoke", "getschema", "sample",
];

/// Operators of Kusto that are rejected by name (never silently mis-run).
const UNSUPPORTED: &[&str] = &[
    "mv-apply", "top-nested", "top-hitters", "parse-where", "parse-kv", "evaluate", "facet", "fork", "partition",
    "scan", "find", "search", "reduce", "sample-distinct", "externaldata", "lookup-kind",
];

pub fn parse(src: &str) -> Result<Query, KqlError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, i: 0 };
    let q = p.query()?;
    Ok(q)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.toks[self.i].span
    }

    fn prev_span(&self) -> Span {
        self.toks[self.i.saturating_sub(1)].span
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(w))
    }

    fn word_at(&self, n: usize, w: &str) -> bool {
        matches!(self.peek_at(n), Tok::Ident(s) if s.eq_ignore_ascii_case(w))
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expected(&self, what: &str) -> KqlError {
        let found = match self.peek() {
            Tok::Eof => "the end of the query".to_string(),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("['{s}']"),
            Tok::Str(s) => format!("the string \"{s}\""),
            Tok::Long(n) => format!("the number {n}"),
            Tok::Real(n) => format!("the number {n}"),
            Tok::Timespan(_) => "a timespan".to_string(),
            Tok::DateTime(_) => "a datetime".to_string(),
            Tok::Punct(p) => format!("'{p}'"),
        };
        KqlError::at(self.span(), format!("expected {what}, found {found}"))
    }

    fn expect_punct(&mut self, p: &str) -> Result<Span, KqlError> {
        if self.is_punct(p) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("'{p}'")))
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<Span, KqlError> {
        if self.is_word(w) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("'{w}'")))
        }
    }

    /// A name: an identifier or `['quoted']`.
    fn name(&mut self, what: &str) -> Result<(String, Span), KqlError> {
        match self.peek().clone() {
            Tok::Ident(s) => Ok((s, self.bump().span)),
            Tok::Quoted(s) => Ok((s, self.bump().span)),
            _ => Err(self.expected(what)),
        }
    }

    // ---- statements ----

    fn query(&mut self) -> Result<Query, KqlError> {
        let mut lets = Vec::new();
        let mut body = None;
        loop {
            while self.eat_punct(";") {}
            if matches!(self.peek(), Tok::Eof) {
                break;
            }
            if self.is_word("set") {
                // Query options (`set query_now = …;`) do not change results here.
                while !self.is_punct(";") && !matches!(self.peek(), Tok::Eof) {
                    self.bump();
                }
                continue;
            }
            if self.is_word("let") {
                lets.push(self.let_stmt()?);
                if !self.eat_punct(";") && !matches!(self.peek(), Tok::Eof) {
                    return Err(self.expected("';' after the let statement"));
                }
                continue;
            }
            if body.is_some() {
                return Err(KqlError::at(self.span(), "only one tabular expression can follow the let statements"));
            }
            let start = self.span();
            let e = self.expr_or_tabular()?;
            body = Some(into_tabular(e, start)?);
        }
        let body = body.ok_or_else(|| KqlError::at(self.span(), "the query has no tabular expression to run"))?;
        Ok(Query { lets, body })
    }

    fn let_stmt(&mut self) -> Result<Let, KqlError> {
        let start = self.expect_word("let")?;
        let (name, _) = self.name("a name after 'let'")?;
        self.expect_punct("=")?;
        let value = self.let_value()?;
        Ok(Let { name, span: start.to(self.prev_span()), value })
    }

    fn let_value(&mut self) -> Result<LetValue, KqlError> {
        let view = self.is_word("view") && matches!(self.peek_at(1), Tok::Punct("("));
        if view {
            self.bump();
        }
        if self.is_punct("(") && (view || self.is_function_header()) {
            let params = self.params()?;
            self.expect_punct("{")?;
            let body = self.function_body()?;
            self.expect_punct("}")?;
            return Ok(LetValue::Function(Box::new(Function { params, body, view })));
        }
        let start = self.span();
        let e = self.expr_or_tabular()?;
        Ok(match e.kind {
            ExprKind::Tabular(t) => LetValue::Tabular(t),
            _ => {
                let _ = start;
                LetValue::Expr(e)
            }
        })
    }

    /// `(` starts a function header when its parenthesis is followed by `{`.
    fn is_function_header(&self) -> bool {
        let mut depth = 0;
        let mut j = self.i;
        while j < self.toks.len() {
            match &self.toks[j].tok {
                Tok::Punct("(") => depth += 1,
                Tok::Punct(")") => {
                    depth -= 1;
                    if depth == 0 {
                        return matches!(self.toks.get(j + 1).map(|t| &t.tok), Some(Tok::Punct("{")));
                    }
                }
                Tok::Eof => return false,
                _ => {}
            }
            j += 1;
        }
        false
    }

    fn params(&mut self) -> Result<Vec<Param>, KqlError> {
        self.expect_punct("(")?;
        let mut out = Vec::new();
        while !self.is_punct(")") {
            let (name, _) = self.name("a parameter name")?;
            self.expect_punct(":")?;
            let ty = if self.is_punct("(") {
                // Tabular parameter: `T:(*)` or `T:(a:string, …)`.
                let mut depth = 0;
                let mut text = String::new();
                loop {
                    match self.bump().tok {
                        Tok::Punct("(") => depth += 1,
                        Tok::Punct(")") => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Tok::Eof => return Err(self.expected("')'")),
                        Tok::Punct(p) => text.push_str(p),
                        Tok::Ident(s) => text.push_str(&s),
                        _ => {}
                    }
                }
                format!("({text})")
            } else {
                self.name("a parameter type")?.0.to_ascii_lowercase()
            };
            let default = if self.eat_punct("=") { Some(self.expr()?) } else { None };
            out.push(Param { name, ty, default });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(out)
    }

    fn function_body(&mut self) -> Result<FunctionBody, KqlError> {
        let mut lets = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.is_word("let") {
                lets.push(self.let_stmt()?);
                continue;
            }
            break;
        }
        let e = self.expr_or_tabular()?;
        while self.eat_punct(";") {}
        let result = match e.kind {
            ExprKind::Tabular(t) => LetValue::Tabular(t),
            _ => LetValue::Expr(e),
        };
        Ok(FunctionBody { lets, result: Box::new(result) })
    }

    // ---- tabular ----

    /// An expression, or a tabular expression when a `|` follows it (or it starts with a
    /// tabular-only keyword): returned as [`ExprKind::Tabular`].
    fn expr_or_tabular(&mut self) -> Result<Expr, KqlError> {
        let start = self.span();
        let source = if let Some(s) = self.special_source()? {
            Some(s)
        } else {
            let e = self.expr()?;
            if !self.is_punct("|") {
                return Ok(e);
            }
            Some(source_of(e)?)
        };
        let source = source.expect("set above");
        let mut ops = Vec::new();
        while self.eat_punct("|") {
            ops.push(self.op()?);
        }
        let span = start.to(self.prev_span());
        Ok(Expr::new(ExprKind::Tabular(Box::new(Tabular { source, ops, span })), span))
    }

    /// Sources that are not expressions: `union`, `datatable`, `print`, `range`.
    fn special_source(&mut self) -> Result<Option<Source>, KqlError> {
        if self.is_word("union") && !matches!(self.peek_at(1), Tok::Punct("(" | "|" | "=" | ")" | "," | ";")) {
            self.bump();
            return Ok(Some(Source::Union(self.union_body()?)));
        }
        if self.is_word("union") && matches!(self.peek_at(1), Tok::Punct("(")) {
            self.bump();
            return Ok(Some(Source::Union(self.union_body()?)));
        }
        if self.is_word("datatable") && matches!(self.peek_at(1), Tok::Punct("(")) {
            let start = self.bump().span;
            self.expect_punct("(")?;
            let mut columns = Vec::new();
            while !self.is_punct(")") {
                let (n, _) = self.name("a column name")?;
                self.expect_punct(":")?;
                let (t, _) = self.name("a column type")?;
                columns.push((n, t.to_ascii_lowercase()));
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")")?;
            let mut values = Vec::new();
            if let Tok::Quoted(one) = self.peek().clone() {
                // `["a"]`, lexed as a quoted name: one string value.
                let s = self.bump().span;
                values.push(Expr::new(ExprKind::Lit(Lit::Str(one)), s));
            } else {
                self.expect_punct("[")?;
                while !self.is_punct("]") {
                    values.push(self.expr()?);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct("]")?;
            }
            if !columns.is_empty() && values.len() % columns.len() != 0 {
                return Err(KqlError::at(
                    start.to(self.prev_span()),
                    format!(
                        "datatable has {} columns but {} values, not a whole number of rows",
                        columns.len(),
                        values.len()
                    ),
                ));
            }
            return Ok(Some(Source::Datatable { columns, values, span: start.to(self.prev_span()) }));
        }
        if self.is_word("print") && !matches!(self.peek_at(1), Tok::Punct("(" | "|" | ";")) {
            self.bump();
            return Ok(Some(Source::Print(self.assigns()?)));
        }
        if self.is_word("range") && matches!(self.peek_at(1), Tok::Ident(_)) && self.word_at(2, "from") {
            self.bump();
            let (column, _) = self.name("a column name")?;
            self.expect_word("from")?;
            let from = self.expr()?;
            self.expect_word("to")?;
            let to = self.expr()?;
            self.expect_word("step")?;
            let step = self.expr()?;
            return Ok(Some(Source::Range { column, from: Box::new(from), to: Box::new(to), step: Box::new(step) }));
        }
        Ok(None)
    }

    fn union_body(&mut self) -> Result<Union, KqlError> {
        let mut u = Union { kind_outer: true, with_source: None, is_fuzzy: false, tables: Vec::new() };
        loop {
            if self.is_word("kind") && matches!(self.peek_at(1), Tok::Punct("=")) {
                self.bump();
                self.bump();
                let (k, s) = self.name("inner or outer")?;
                u.kind_outer = match k.to_ascii_lowercase().as_str() {
                    "outer" => true,
                    "inner" => false,
                    _ => return Err(KqlError::at(s, format!("union kind '{k}': use inner or outer"))),
                };
            } else if self.is_word("withsource") && matches!(self.peek_at(1), Tok::Punct("=")) {
                self.bump();
                self.bump();
                u.with_source = Some(self.name("a column name")?.0);
            } else if self.is_word("isfuzzy") && matches!(self.peek_at(1), Tok::Punct("=")) {
                self.bump();
                self.bump();
                let (v, s) = self.name("true or false")?;
                u.is_fuzzy = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(KqlError::at(s, "isfuzzy takes true or false")),
                };
            } else {
                break;
            }
        }
        loop {
            let start = self.span();
            let t = if self.is_punct("(") {
                self.bump();
                let e = self.expr_or_tabular()?;
                self.expect_punct(")")?;
                into_tabular(e, start)?
            } else if self.is_punct("*") {
                let s = self.bump().span;
                Tabular { source: Source::Name("*".into(), s), ops: Vec::new(), span: s }
            } else {
                let (n, s) = self.name("a table to union")?;
                let source = if self.is_punct("(") {
                    Source::Call(n, self.args()?, s.to(self.prev_span()))
                } else {
                    Source::Name(n, s)
                };
                Tabular { source, ops: Vec::new(), span: start.to(self.prev_span()) }
            };
            u.tables.push(t);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(u)
    }

    fn op(&mut self) -> Result<Op, KqlError> {
        let start = self.span();
        let (word, wspan) = match self.peek().clone() {
            Tok::Ident(w) => (w.to_ascii_lowercase(), self.bump().span),
            _ => return Err(self.expected("a tabular operator after '|'")),
        };
        let kind = match word.as_str() {
            "where" | "filter" => OpKind::Where(self.expr()?),
            "project" => OpKind::Project(self.assigns()?),
            "project-away" => OpKind::ProjectAway(self.name_patterns()?),
            "project-keep" => OpKind::ProjectKeep(self.name_patterns()?),
            "project-reorder" => {
                let names = self.name_patterns_with_order()?;
                OpKind::ProjectReorder(names)
            }
            "project-rename" => {
                let mut out = Vec::new();
                loop {
                    let (new, s) = self.name("the new column name")?;
                    self.expect_punct("=")?;
                    let (old, s2) = self.name("the column to rename")?;
                    out.push((new, old, s.to(s2)));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                OpKind::ProjectRename(out)
            }
            "extend" => OpKind::Extend(self.assigns()?),
            "summarize" => {
                self.hints();
                let aggs = if self.is_word("by") { Vec::new() } else { self.assigns()? };
                let by = if self.eat_word("by") { self.assigns()? } else { Vec::new() };
                if aggs.is_empty() && by.is_empty() {
                    return Err(self.expected("aggregates or 'by' after summarize"));
                }
                OpKind::Summarize { aggs, by }
            }
            "count" => {
                let name = if self.eat_word("as") { Some(self.name("a column name")?.0) } else { None };
                OpKind::Count { name }
            }
            "take" | "limit" => OpKind::Take(self.expr()?),
            "sample" => OpKind::Sample(self.expr()?),
            "top" => {
                let n = self.expr()?;
                self.expect_word("by")?;
                let by = self.sort_key()?;
                OpKind::Top { n, by: Box::new(by) }
            }
            "sort" | "order" => {
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_punct(",") {
                    keys.push(self.sort_key()?);
                }
                OpKind::Sort(keys)
            }
            "order-by" => {
                let mut keys = vec![self.sort_key()?];
                while self.eat_punct(",") {
                    keys.push(self.sort_key()?);
                }
                OpKind::Sort(keys)
            }
            "distinct" => {
                if self.eat_punct("*") {
                    OpKind::Distinct(Vec::new())
                } else {
                    let mut cols = vec![self.expr()?];
                    while self.eat_punct(",") {
                        cols.push(self.expr()?);
                    }
                    OpKind::Distinct(cols)
                }
            }
            "mv-expand" | "mvexpand" => self.mv_expand()?,
            "join" | "lookup" => {
                let mut kind = if word == "join" { JoinKind::InnerUnique } else { JoinKind::LeftOuter };
                loop {
                    if self.is_word("kind") && matches!(self.peek_at(1), Tok::Punct("=")) {
                        self.bump();
                        self.bump();
                        let (k, s) = self.name("a join kind")?;
                        let lower = k.to_ascii_lowercase();
                        kind = JoinKind::ALL.iter().find(|(n, _)| *n == lower).map(|(_, k)| *k).ok_or_else(|| {
                            let hint = did_you_mean(&k, JoinKind::ALL.iter().map(|(n, _)| *n))
                                .map(|m| format!("; did you mean '{m}'?"))
                                .unwrap_or_default();
                            KqlError::at(s, format!("unknown join kind '{k}'{hint}"))
                        })?;
                    } else if matches!(self.peek(), Tok::Ident(h) if h.starts_with("hint.") || h == "hint")
                        || self.is_word("withsource")
                    {
                        self.hints();
                    } else if matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::Punct(".")) {
                        // hint.strategy=… lexes as hint . strategy = …
                        self.hints();
                    } else {
                        break;
                    }
                }
                let rstart = self.span();
                let right = if self.is_punct("(") {
                    self.bump();
                    let e = self.expr_or_tabular()?;
                    self.expect_punct(")")?;
                    into_tabular(e, rstart)?
                } else {
                    let (n, s) = self.name("the right side of the join")?;
                    let source = if self.is_punct("(") { Source::Call(n, self.args()?, s) } else { Source::Name(n, s) };
                    Tabular { source, ops: Vec::new(), span: rstart.to(self.prev_span()) }
                };
                self.expect_word("on")?;
                let on = self.join_on()?;
                if word == "join" {
                    OpKind::Join { kind, right: Box::new(right), on }
                } else {
                    if !matches!(kind, JoinKind::LeftOuter | JoinKind::Inner) {
                        return Err(KqlError::at(wspan, "lookup kind must be leftouter or inner"));
                    }
                    OpKind::Lookup { kind, right: Box::new(right), on }
                }
            }
            "union" => OpKind::Union(self.union_body()?),
            "make-series" => self.make_series()?,
            "render" => {
                let (chart, _) = self.name("a chart type (timechart, barchart, piechart, table, …)")?;
                let mut props = Vec::new();
                if self.eat_word("with") {
                    self.expect_punct("(")?;
                    while !self.is_punct(")") {
                        let (k, _) = self.name("a render property")?;
                        self.expect_punct("=")?;
                        let v = if self.is_punct("(") {
                            // ycolumns=(a, b)
                            let s = self.bump().span;
                            let mut items = vec![self.expr()?];
                            while self.eat_punct(",") {
                                items.push(self.expr()?);
                            }
                            self.expect_punct(")")?;
                            Expr::new(ExprKind::Call("pack_array".into(), items), s.to(self.prev_span()))
                        } else {
                            self.expr()?
                        };
                        props.push((k, v));
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                    self.expect_punct(")")?;
                } else {
                    // The older form without `with`: `render barchart kind=stacked title="x"`.
                    while matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::Punct(q) if *q == "=")
                    {
                        let (k, _) = self.name("a render property")?;
                        self.expect_punct("=")?;
                        props.push((k, self.expr()?));
                    }
                }
                OpKind::Render { chart: chart.to_ascii_lowercase(), props }
            }
            "parse" => self.parse_op()?,
            "as" => {
                self.hints();
                OpKind::As(self.name("a name")?.0)
            }
            "serialize" => OpKind::Serialize(if self.starts_expr() { self.assigns()? } else { Vec::new() }),
            "invoke" => {
                let (n, _) = self.name("a function to invoke")?;
                OpKind::Invoke(n, self.args()?)
            }
            "getschema" => OpKind::GetSchema,
            other => {
                if UNSUPPORTED.contains(&other) {
                    return Err(KqlError::at(wspan, format!("the '{other}' operator is not supported")));
                }
                let hint = did_you_mean(other, OPERATORS.iter().copied())
                    .map(|m| format!("; did you mean '{m}'?"))
                    .unwrap_or_default();
                return Err(KqlError::at(wspan, format!("unknown tabular operator '{other}'{hint}")));
            }
        };
        Ok(Op { kind, span: start.to(self.prev_span()) })
    }

    /// Skips `hint.x = y` / `kind=…`-style options that do not change results.
    fn hints(&mut self) {
        loop {
            let hint = matches!(self.peek(), Tok::Ident(h) if h.eq_ignore_ascii_case("hint"))
                && matches!(self.peek_at(1), Tok::Punct("."));
            if hint {
                self.bump();
                self.bump();
                self.bump();
                if self.eat_punct("=") {
                    self.bump();
                }
                continue;
            }
            break;
        }
    }

    fn starts_expr(&self) -> bool {
        !matches!(self.peek(), Tok::Eof | Tok::Punct("|" | ";" | ")" | "}"))
    }

    fn name_patterns(&mut self) -> Result<Vec<(String, Span)>, KqlError> {
        let mut out = Vec::new();
        loop {
            out.push(self.name_pattern()?);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(out)
    }

    fn name_patterns_with_order(&mut self) -> Result<Vec<(String, Span)>, KqlError> {
        let mut out = Vec::new();
        loop {
            out.push(self.name_pattern()?);
            // `asc`/`desc` (and granny-asc…) order the wildcard's columns by name; ignored.
            if matches!(self.peek(), Tok::Ident(w) if ["asc", "desc", "granny-asc", "granny-desc"].contains(&w.as_str()))
            {
                self.bump();
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(out)
    }

    /// A column name, possibly with `*` wildcards (`Tags*`, `*Ip*`).
    fn name_pattern(&mut self) -> Result<(String, Span), KqlError> {
        let start = self.span();
        let mut text = String::new();
        loop {
            match self.peek().clone() {
                Tok::Punct("*") => {
                    text.push('*');
                    self.bump();
                }
                Tok::Ident(s) if text.is_empty() || text.ends_with('*') => {
                    text.push_str(&s);
                    self.bump();
                }
                Tok::Quoted(s) if text.is_empty() => {
                    text.push_str(&s);
                    self.bump();
                }
                _ => break,
            }
            // Adjacent only: `A *` is two things.
            if self.span().start != self.prev_span().end {
                break;
            }
        }
        if text.is_empty() {
            return Err(self.expected("a column name"));
        }
        Ok((text, start.to(self.prev_span())))
    }

    fn sort_key(&mut self) -> Result<SortKey, KqlError> {
        let expr = self.expr()?;
        // Kusto sorts descending unless told otherwise.
        let descending = if self.eat_word("asc") {
            false
        } else {
            self.eat_word("desc");
            true
        };
        let nulls_first = if self.eat_word("nulls") {
            if self.eat_word("first") {
                Some(true)
            } else {
                self.expect_word("last")?;
                Some(false)
            }
        } else {
            None
        };
        Ok(SortKey { expr, descending, nulls_first })
    }

    fn join_on(&mut self) -> Result<Vec<JoinOn>, KqlError> {
        let mut out = Vec::new();
        loop {
            let start = self.span();
            let e = self.expr()?;
            let side = |e: &Expr| -> Option<(Option<bool>, String)> {
                match &e.kind {
                    ExprKind::Name(n) => Some((None, n.clone())),
                    ExprKind::Member(b, n) => match &b.kind {
                        ExprKind::Name(s) if s.eq_ignore_ascii_case("$left") => Some((Some(true), n.clone())),
                        ExprKind::Name(s) if s.eq_ignore_ascii_case("$right") => Some((Some(false), n.clone())),
                        _ => None,
                    },
                    _ => None,
                }
            };
            let bad = || KqlError::at(e.span, "a join condition is a column name or $left.Column == $right.Column");
            match &e.kind {
                ExprKind::Binary(BinOp::Eq, l, r) => {
                    let (l, r) = (side(l).ok_or_else(bad)?, side(r).ok_or_else(bad)?);
                    let (left, right) = match (l.0, r.0) {
                        (Some(true), Some(false)) | (None, None) => (l.1, r.1),
                        (Some(false), Some(true)) => (r.1, l.1),
                        _ => return Err(bad()),
                    };
                    out.push(JoinOn { left, right, span: start.to(self.prev_span()) });
                }
                _ => match side(&e) {
                    Some((None, n)) => out.push(JoinOn { left: n.clone(), right: n, span: e.span }),
                    _ => return Err(bad()),
                },
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(out)
    }

    fn mv_expand(&mut self) -> Result<OpKind, KqlError> {
        let mut item_index = None;
        loop {
            if self.is_word("bagexpansion") || self.is_word("kind") {
                self.bump();
                self.expect_punct("=")?;
                self.bump();
            } else if self.is_word("with_itemindex") {
                self.bump();
                self.expect_punct("=")?;
                item_index = Some(self.name("a column name")?.0);
            } else {
                break;
            }
        }
        let mut columns = Vec::new();
        let mut to_types = Vec::new();
        loop {
            columns.push(self.assign()?);
            if self.eat_word("to") {
                self.expect_word("typeof")?;
                self.expect_punct("(")?;
                to_types.push(Some(self.name("a type")?.0.to_ascii_lowercase()));
                self.expect_punct(")")?;
            } else {
                to_types.push(None);
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        let limit = if self.eat_word("limit") { Some(Box::new(self.expr()?)) } else { None };
        Ok(OpKind::MvExpand { columns, item_index, limit, to_types })
    }

    fn make_series(&mut self) -> Result<OpKind, KqlError> {
        let mut aggs = Vec::new();
        loop {
            let a = self.assign()?;
            let default = if self.eat_word("default") {
                self.expect_punct("=")?;
                Some(self.expr()?)
            } else {
                None
            };
            aggs.push((a, default));
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_word("on")?;
        let on = self.expr()?;
        let (mut from, mut to, step);
        if self.eat_word("in") {
            self.expect_word("range")?;
            self.expect_punct("(")?;
            from = Some(self.expr()?);
            self.expect_punct(",")?;
            to = Some(self.expr()?);
            self.expect_punct(",")?;
            step = self.expr()?;
            self.expect_punct(")")?;
        } else {
            from = None;
            to = None;
            if self.eat_word("from") {
                from = Some(self.expr()?);
            }
            if self.eat_word("to") {
                to = Some(self.expr()?);
            }
            self.expect_word("step")?;
            step = self.expr()?;
        }
        let by = if self.eat_word("by") { self.assigns()? } else { Vec::new() };
        Ok(OpKind::MakeSeries(Box::new(MakeSeries { aggs, on, from, to, step, by })))
    }

    fn parse_op(&mut self) -> Result<OpKind, KqlError> {
        let mut kind = ParseKind::Simple;
        if self.is_word("kind") {
            self.bump();
            self.expect_punct("=")?;
            let (k, s) = self.name("simple, regex or relaxed")?;
            kind = match k.to_ascii_lowercase().as_str() {
                "simple" => ParseKind::Simple,
                "regex" => ParseKind::Regex,
                "relaxed" => ParseKind::Relaxed,
                _ => return Err(KqlError::at(s, format!("parse kind '{k}': use simple, regex or relaxed"))),
            };
            if self.eat_word("flags") {
                self.expect_punct("=")?;
                self.bump();
            }
        }
        let expr = self.expr()?;
        self.expect_word("with")?;
        let mut pattern = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Str(s) => {
                    self.bump();
                    pattern.push(ParsePart::Literal(s));
                }
                Tok::Punct("*") => {
                    self.bump();
                    pattern.push(ParsePart::Any);
                }
                Tok::Ident(_) | Tok::Quoted(_) => {
                    let (n, _) = self.name("a column")?;
                    let ty =
                        if self.eat_punct(":") { self.name("a type")?.0.to_ascii_lowercase() } else { "string".into() };
                    pattern.push(ParsePart::Column(n, ty));
                }
                _ => break,
            }
        }
        if pattern.is_empty() {
            return Err(self.expected("a parse pattern (\"text\" Column:type …)"));
        }
        Ok(OpKind::Parse { expr, kind, pattern })
    }

    fn assigns(&mut self) -> Result<Vec<Assign>, KqlError> {
        let mut out = vec![self.assign()?];
        while self.eat_punct(",") {
            out.push(self.assign()?);
        }
        Ok(out)
    }

    fn assign(&mut self) -> Result<Assign, KqlError> {
        let named = matches!(self.peek(), Tok::Ident(_) | Tok::Quoted(_)) && matches!(self.peek_at(1), Tok::Punct("="));
        if named {
            let (name, _) = self.name("a column name")?;
            self.bump();
            return Ok(Assign { name: Some(name), expr: self.expr()? });
        }
        Ok(Assign { name: None, expr: self.expr()? })
    }

    fn args(&mut self) -> Result<Vec<Expr>, KqlError> {
        self.expect_punct("(")?;
        let mut out = Vec::new();
        while !self.is_punct(")") {
            if self.is_punct("*") && matches!(self.peek_at(1), Tok::Punct(")" | ",")) {
                let s = self.bump().span;
                out.push(Expr::new(ExprKind::Star, s));
            } else {
                out.push(self.expr_or_tabular()?);
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(out)
    }

    // ---- scalar expressions ----

    pub(crate) fn expr(&mut self) -> Result<Expr, KqlError> {
        self.or()
    }

    fn or(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.and()?;
        while self.is_word("or") {
            self.bump();
            let r = self.and()?;
            let span = l.span.to(r.span);
            l = Expr::new(ExprKind::Binary(BinOp::Or, Box::new(l), Box::new(r)), span);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.comparison()?;
        while self.is_word("and") {
            self.bump();
            let r = self.comparison()?;
            let span = l.span.to(r.span);
            l = Expr::new(ExprKind::Binary(BinOp::And, Box::new(l), Box::new(r)), span);
        }
        Ok(l)
    }

    fn comparison(&mut self) -> Result<Expr, KqlError> {
        let l = self.additive()?;
        // `!` then a word: a negated string/set operator.
        let negated = self.is_punct("!") && matches!(self.peek_at(1), Tok::Ident(_));
        let word_at = if negated { 1 } else { 0 };
        let word = match self.peek_at(word_at) {
            Tok::Ident(w) => Some(w.to_ascii_lowercase()),
            _ => None,
        };
        if let Some(w) = word {
            if let Some((_, op)) = StrOp::ALL.iter().find(|(n, _)| *n == w) {
                if negated {
                    self.bump();
                }
                self.bump();
                let r = self.additive()?;
                let span = l.span.to(r.span);
                return Ok(Expr::new(
                    ExprKind::StrOp { op: *op, negated, left: Box::new(l), right: Box::new(r) },
                    span,
                ));
            }
            if w == "matches" && !negated && self.word_at(1, "regex") {
                self.bump();
                self.bump();
                let r = self.additive()?;
                let span = l.span.to(r.span);
                return Ok(Expr::new(
                    ExprKind::StrOp { op: StrOp::MatchesRegex, negated: false, left: Box::new(l), right: Box::new(r) },
                    span,
                ));
            }
            let in_op = match w.as_str() {
                "in" => Some(if matches!(self.peek_at(word_at + 1), Tok::Punct("~")) { InOp::InCi } else { InOp::In }),
                "has_any" => Some(InOp::HasAny),
                "has_all" => Some(InOp::HasAll),
                _ => None,
            };
            if let Some(op) = in_op {
                if negated {
                    self.bump();
                }
                self.bump();
                if op == InOp::InCi {
                    self.bump();
                }
                let list = self.args()?;
                let span = l.span.to(self.prev_span());
                return Ok(Expr::new(ExprKind::In { op, negated, left: Box::new(l), list }, span));
            }
            if w == "between" {
                if negated {
                    self.bump();
                }
                self.bump();
                self.expect_punct("(")?;
                let low = self.additive()?;
                self.expect_punct("..")?;
                let high = self.additive()?;
                self.expect_punct(")")?;
                let span = l.span.to(self.prev_span());
                return Ok(Expr::new(
                    ExprKind::Between { negated, expr: Box::new(l), low: Box::new(low), high: Box::new(high) },
                    span,
                ));
            }
            if negated {
                return Err(KqlError::at(
                    self.toks[self.i + 1].span,
                    format!(
                        "'!{w}' is not an operator (negatable: has, contains, startswith, endswith, in, between, …)"
                    ),
                ));
            }
        }
        let op = match self.peek() {
            Tok::Punct("==") => BinOp::Eq,
            Tok::Punct("!=") | Tok::Punct("<>") => BinOp::Ne,
            Tok::Punct("<") => BinOp::Lt,
            Tok::Punct("<=") => BinOp::Le,
            Tok::Punct(">") => BinOp::Gt,
            Tok::Punct(">=") => BinOp::Ge,
            Tok::Punct("=~") => BinOp::EqCi,
            Tok::Punct("!~") => BinOp::NeCi,
            Tok::Punct("=") => {
                return Err(KqlError::at(self.span(), "'=' assigns; compare with '=='"));
            }
            _ => return Ok(l),
        };
        self.bump();
        let r = self.additive()?;
        let span = l.span.to(r.span);
        Ok(Expr::new(ExprKind::Binary(op, Box::new(l), Box::new(r)), span))
    }

    fn additive(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("+") => BinOp::Add,
                Tok::Punct("-") => BinOp::Sub,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.multiplicative()?;
            let span = l.span.to(r.span);
            l = Expr::new(ExprKind::Binary(op, Box::new(l), Box::new(r)), span);
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("*") => BinOp::Mul,
                Tok::Punct("/") => BinOp::Div,
                Tok::Punct("%") => BinOp::Mod,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.unary()?;
            let span = l.span.to(r.span);
            l = Expr::new(ExprKind::Binary(op, Box::new(l), Box::new(r)), span);
        }
    }

    fn unary(&mut self) -> Result<Expr, KqlError> {
        if self.is_punct("-") {
            let s = self.bump().span;
            let e = self.unary()?;
            let span = s.to(e.span);
            return Ok(match e.kind {
                ExprKind::Lit(Lit::Long(n)) => Expr::new(ExprKind::Lit(Lit::Long(-n)), span),
                ExprKind::Lit(Lit::Real(n)) => Expr::new(ExprKind::Lit(Lit::Real(-n)), span),
                ExprKind::Lit(Lit::Timespan(n)) => Expr::new(ExprKind::Lit(Lit::Timespan(-n)), span),
                _ => Expr::new(ExprKind::Neg(Box::new(e)), span),
            });
        }
        if self.is_punct("+") {
            self.bump();
            return self.unary();
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, KqlError> {
        let mut e = self.primary()?;
        loop {
            if self.is_punct(".") && matches!(self.peek_at(1), Tok::Ident(_) | Tok::Quoted(_)) {
                self.bump();
                let (n, s) = self.name("a property name")?;
                let span = e.span.to(s);
                e = Expr::new(ExprKind::Member(Box::new(e), n), span);
            } else if let Tok::Quoted(n) = self.peek().clone() {
                // x['name'] (lexed as a quoted name)
                let s = self.bump().span;
                let span = e.span.to(s);
                e = Expr::new(ExprKind::Member(Box::new(e), n), span);
            } else if self.is_punct("[") {
                self.bump();
                let idx = self.expr()?;
                let s = self.expect_punct("]")?;
                let span = e.span.to(s);
                e = match idx.kind {
                    ExprKind::Lit(Lit::Str(k)) => Expr::new(ExprKind::Member(Box::new(e), k), span),
                    _ => Expr::new(ExprKind::Index(Box::new(e), Box::new(idx)), span),
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, KqlError> {
        let t = self.peek().clone();
        let span = self.span();
        match t {
            Tok::Long(n) => {
                self.bump();
                Ok(Expr::new(ExprKind::Lit(Lit::Long(n)), span))
            }
            Tok::Real(n) => {
                self.bump();
                Ok(Expr::new(ExprKind::Lit(Lit::Real(n)), span))
            }
            Tok::Str(s) => {
                self.bump();
                // Adjacent string literals concatenate.
                let mut s = s;
                let mut end = span;
                while let Tok::Str(more) = self.peek().clone() {
                    end = self.bump().span;
                    s.push_str(&more);
                }
                Ok(Expr::new(ExprKind::Lit(Lit::Str(s)), span.to(end)))
            }
            Tok::Timespan(n) => {
                self.bump();
                Ok(Expr::new(ExprKind::Lit(Lit::Timespan(n)), span))
            }
            Tok::DateTime(raw) => {
                self.bump();
                if raw.eq_ignore_ascii_case("null") || raw.is_empty() {
                    return Ok(Expr::new(ExprKind::Call("datetime".into(), vec![]), span));
                }
                let t = parse_datetime(&raw).ok_or_else(|| {
                    KqlError::at(
                        span,
                        format!("datetime({raw}): not a date (use e.g. 2024-01-31 or 2024-01-31T10:00:00Z)"),
                    )
                })?;
                Ok(Expr::new(ExprKind::Lit(Lit::DateTime(t)), span))
            }
            Tok::Quoted(n) => {
                self.bump();
                Ok(Expr::new(ExprKind::Name(n), span))
            }
            Tok::Punct("(") => {
                self.bump();
                let e = self.expr_or_tabular()?;
                let end = self.expect_punct(")")?;
                Ok(Expr { span: span.to(end), ..e })
            }
            Tok::Punct("*") => {
                self.bump();
                Ok(Expr::new(ExprKind::Star, span))
            }
            Tok::Ident(w) => {
                let lower = w.to_ascii_lowercase();
                let call = matches!(self.peek_at(1), Tok::Punct("("));
                match lower.as_str() {
                    "true" if !call => {
                        self.bump();
                        Ok(Expr::new(ExprKind::Lit(Lit::Bool(true)), span))
                    }
                    "false" if !call => {
                        self.bump();
                        Ok(Expr::new(ExprKind::Lit(Lit::Bool(false)), span))
                    }
                    "dynamic" if call => {
                        self.bump();
                        self.bump();
                        let v = self.dynamic_value()?;
                        let end = self.expect_punct(")")?;
                        Ok(Expr::new(ExprKind::Lit(Lit::Dynamic(v)), span.to(end)))
                    }
                    "typeof" if call => {
                        self.bump();
                        self.bump();
                        let (t, _) = self.name("a type name")?;
                        let end = self.expect_punct(")")?;
                        Ok(Expr::new(ExprKind::Lit(Lit::Type(t.to_ascii_lowercase())), span.to(end)))
                    }
                    "time" | "timespan" if call => {
                        self.bump();
                        self.bump();
                        let v = match self.bump().tok {
                            Tok::Timespan(n) => Lit::Timespan(n),
                            // A bare number of days.
                            Tok::Long(n) => Lit::Timespan(n * 86_400_000_000),
                            Tok::Ident(s) if s == "null" => Lit::Null,
                            _ => return Err(KqlError::at(self.prev_span(), "expected a timespan such as 1d or 30m")),
                        };
                        let end = self.expect_punct(")")?;
                        Ok(Expr::new(ExprKind::Lit(v), span.to(end)))
                    }
                    _ if call => {
                        self.bump();
                        let args = self.args()?;
                        Ok(Expr::new(ExprKind::Call(w, args), span.to(self.prev_span())))
                    }
                    _ => {
                        self.bump();
                        Ok(Expr::new(ExprKind::Name(w), span))
                    }
                }
            }
            _ => Err(self.expected("an expression")),
        }
    }

    /// The inside of `dynamic(…)`: JSON, with KQL literals (single quotes, datetime(…),
    /// timespans) allowed.
    fn dynamic_value(&mut self) -> Result<serde_json::Value, KqlError> {
        use serde_json::Value;
        let t = self.bump();
        Ok(match t.tok {
            Tok::Punct("[") => {
                let mut a = Vec::new();
                while !self.is_punct("]") {
                    a.push(self.dynamic_value()?);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct("]")?;
                Value::Array(a)
            }
            // `['a']` lexed as a quoted name: a one-element array.
            Tok::Quoted(s) => Value::Array(vec![Value::String(s)]),
            Tok::Punct("{") => {
                let mut m = serde_json::Map::new();
                while !self.is_punct("}") {
                    let k = match self.bump().tok {
                        Tok::Str(s) | Tok::Ident(s) => s,
                        _ => return Err(KqlError::at(self.prev_span(), "expected a property name")),
                    };
                    self.expect_punct(":")?;
                    m.insert(k, self.dynamic_value()?);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct("}")?;
                Value::Object(m)
            }
            Tok::Str(s) => Value::String(s),
            Tok::Long(n) => Value::from(n),
            Tok::Real(n) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            Tok::Punct("-") => match self.dynamic_value()? {
                Value::Number(n) if n.is_i64() => Value::from(-n.as_i64().unwrap_or(0)),
                Value::Number(n) => {
                    serde_json::Number::from_f64(-n.as_f64().unwrap_or(0.0)).map_or(Value::Null, Value::Number)
                }
                _ => return Err(KqlError::at(t.span, "'-' needs a number")),
            },
            Tok::Ident(w) if w == "true" => Value::Bool(true),
            Tok::Ident(w) if w == "false" => Value::Bool(false),
            Tok::Ident(w) if w == "null" => Value::Null,
            Tok::DateTime(raw) => match parse_datetime(&raw) {
                Some(t) => Value::String(crate::format_datetime(t)),
                None => return Err(KqlError::at(t.span, format!("datetime({raw}): not a date"))),
            },
            Tok::Timespan(n) => Value::String(crate::format_timespan(n)),
            _ => return Err(KqlError::at(t.span, "expected a value inside dynamic(…)")),
        })
    }
}

/// The tabular expression an expression names: a table or tabular `let` by name, a
/// function call, or a parenthesised pipeline.
fn source_of(e: Expr) -> Result<Source, KqlError> {
    match e.kind {
        ExprKind::Name(n) => Ok(Source::Name(n, e.span)),
        ExprKind::Call(n, args) => Ok(Source::Call(n, args, e.span)),
        ExprKind::Tabular(t) => Ok(Source::Paren(t)),
        _ => Err(KqlError::at(e.span, "a tabular expression starts with a table, a function or a let name")),
    }
}

fn into_tabular(e: Expr, start: Span) -> Result<Tabular, KqlError> {
    match e.kind {
        ExprKind::Tabular(t) => Ok(*t),
        _ => {
            let span = start.to(e.span);
            Ok(Tabular { source: source_of(e)?, ops: Vec::new(), span })
        }
    }
}

/// A `datetime(…)` literal's inside, as microseconds since the epoch (UTC).
pub fn parse_datetime(raw: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.timestamp_micros());
    }
    let s = raw.trim_end_matches('Z');
    for f in
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M:%S%.f"]
    {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    for f in ["%Y-%m-%d", "%m/%d/%Y", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
        }
    }
    None
}
