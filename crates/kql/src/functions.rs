//! Scalar expressions and Kusto's scalar functions.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, LargeStringBuilder, ListBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr as DfExpr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use crate::ast::*;
use crate::error::{did_you_mean, KqlError};
use crate::plan::{col, lit, null_of, Planner, Typed};
use crate::udf::{call, RowFn};
use crate::value::{KType, KVal};

fn row(name: &str, ret: KType, args: Vec<Typed>, f: impl Fn(&[KVal]) -> KVal + Send + Sync + 'static) -> Typed {
    Typed::new(call(name, "", ret, args.into_iter().map(|a| a.e).collect(), Arc::new(f) as RowFn), ret)
}

fn row_keyed(
    name: &str,
    key: &str,
    ret: KType,
    args: Vec<Typed>,
    f: impl Fn(&[KVal]) -> KVal + Send + Sync + 'static,
) -> Typed {
    Typed::new(call(name, key, ret, args.into_iter().map(|a| a.e).collect(), Arc::new(f) as RowFn), ret)
}

pub(crate) fn cast_to(t: Typed, ty: KType) -> Typed {
    if t.t == ty {
        return t;
    }
    row(&format!("to{}", ty.name()), ty, vec![t], move |v| v[0].convert(ty))
}

pub(crate) fn to_string(t: Typed) -> Typed {
    cast_to(t, KType::String)
}

pub(crate) fn to_dynamic(t: Typed) -> Typed {
    cast_to(t, KType::Dynamic)
}

/// A predicate: booleans as they are, dynamic/strings read as booleans (null: false).
pub(crate) fn to_bool(t: Typed) -> Typed {
    cast_to(t, KType::Bool)
}

/// The elements of a dynamic array as a list column (for mv-expand): a non-array value
/// is one element; `limit` caps the count.
pub(crate) fn elements(t: Typed, limit: Option<i64>) -> DfExpr {
    ScalarUDF::from(Elements { sig: Signature::variadic_any(Volatility::Immutable), limit }).call(vec![to_dynamic(t).e])
}

/// Several columns' elements side by side (mv-expand of several columns): per row, a
/// dynamic array of `[index, a_i, b_i, …]`, as long as the longest, nulls padding the rest.
pub(crate) fn zipped(targets: Vec<Typed>) -> Typed {
    let args = targets.into_iter().map(to_dynamic).collect();
    row("kql_zip", KType::Dynamic, args, |v| {
        let lists: Vec<Vec<Value>> = v
            .iter()
            .map(|x| match x {
                KVal::Dyn(Value::Array(items)) => items.clone(),
                KVal::Dyn(Value::Null) | KVal::Null => Vec::new(),
                other => vec![other.to_json()],
            })
            .collect();
        let n = lists.iter().map(Vec::len).max().unwrap_or(0);
        let rows = (0..n)
            .map(|i| {
                let mut t = vec![Value::from(i as i64)];
                t.extend(lists.iter().map(|l| l.get(i).cloned().unwrap_or(Value::Null)));
                Value::Array(t)
            })
            .collect();
        KVal::Dyn(Value::Array(rows))
    })
}

/// Element `k` of a dynamic array (null past the end or for a non-array).
pub(crate) fn item(t: Typed, k: usize) -> Typed {
    // Keyed by k: functions with one name and no key are taken for one another.
    row_keyed("kql_item", &k.to_string(), KType::Dynamic, vec![t], move |v| match &v[0] {
        KVal::Dyn(Value::Array(a)) => KVal::Dyn(a.get(k).cloned().unwrap_or(Value::Null)),
        _ => KVal::Null,
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Elements {
    sig: Signature,
    limit: Option<i64>,
}

impl ScalarUDFImpl for Elements {
    fn name(&self) -> &str {
        "kql_elements"
    }
    fn signature(&self) -> &Signature {
        &self.sig
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::List(Arc::new(Field::new("item", DataType::LargeUtf8, true))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let a: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let mut b = ListBuilder::new(LargeStringBuilder::new());
        for r in 0..a.len() {
            let v = crate::value::get(a.as_ref(), r);
            let items: Vec<Value> = match v {
                KVal::Dyn(Value::Array(items)) => items,
                KVal::Dyn(Value::Null) | KVal::Null => Vec::new(),
                other => vec![other.to_json()],
            };
            let cap = self.limit.map_or(usize::MAX, |l| l.max(0) as usize);
            for item in items.into_iter().take(cap) {
                match item {
                    Value::Null => b.values().append_null(),
                    j => b.values().append_value(j.to_string()),
                }
            }
            b.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(b.finish())))
    }
}

/// The nearest-rank `p` percentile of a gathered list: the smallest value with at least
/// p % of the values at or below it.
pub(crate) fn nearest_rank(list: Typed, p: f64) -> Typed {
    row_keyed("kql_nearest_rank", &p.to_string(), KType::Real, vec![list], move |v| {
        let KVal::Dyn(Value::Array(items)) = &v[0] else { return KVal::Null };
        let mut xs: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
        if xs.is_empty() {
            return KVal::Null;
        }
        xs.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * xs.len() as f64).ceil().max(1.0) as usize;
        KVal::Real(xs[rank.min(xs.len()) - 1])
    })
}

/// A dynamic array cut to `n` elements.
pub(crate) fn cap(list: Typed, n: usize) -> Typed {
    row_keyed("kql_cap", &n.to_string(), KType::Dynamic, vec![list], move |v| match &v[0] {
        KVal::Dyn(Value::Array(items)) => KVal::Dyn(Value::Array(items.iter().take(n).cloned().collect())),
        other => other.clone(),
    })
}

/// Group `group` of `re` over `src`, as `ty` (`parse` operator, `extract`).
pub(crate) fn capture(src: Typed, re: regex::Regex, group: usize, ty: KType) -> Typed {
    let key = format!("{}#{group}", re.as_str());
    row_keyed("kql_capture", &key, ty, vec![src], move |v| match re.captures(&v[0].to_text()) {
        Some(c) => c.get(group).map_or(KVal::Null, |m| KVal::Str(m.as_str().to_string()).convert(ty)),
        None => KVal::Null,
    })
}

/// Types two operands are compared or combined in: dynamic gives way to the other side,
/// long to real.
fn unify(l: Typed, r: Typed) -> (Typed, Typed) {
    match (l.t, r.t) {
        (a, b) if a == b => (l, r),
        (KType::Dynamic, t) => (cast_to(l, t), r),
        (t, KType::Dynamic) => (l, cast_to(r, t)),
        (KType::Long, KType::Real) => (cast_to(l, KType::Real), r),
        (KType::Real, KType::Long) => (l, cast_to(r, KType::Real)),
        (KType::DateTime, KType::String) => (l, cast_to(r, KType::DateTime)),
        (KType::String, KType::DateTime) => (cast_to(l, KType::DateTime), r),
        (KType::Bool, KType::String) => (l, cast_to(r, KType::Bool)),
        (KType::String, _) => (l.clone(), cast_to(r, KType::String)),
        (_, KType::String) => (cast_to(l, KType::String), r),
        _ => (l, r),
    }
}

/// Kusto's `has`: `needle` occurs in `hay` as whole terms (ignoring case); terms are runs
/// of letters and digits.
pub fn has_term(hay: &str, needle: &str, case_sensitive: bool, prefix: bool, suffix: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n) = if case_sensitive {
        (hay.to_string(), needle.to_string())
    } else {
        (hay.to_lowercase(), needle.to_lowercase())
    };
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let (first, last) = (n.chars().next(), n.chars().last());
    let mut from = 0;
    while let Some(at) = h[from..].find(&n) {
        let i = from + at;
        let end = i + n.len();
        let before = h[..i].chars().last();
        let after = h[end..].chars().next();
        let start_ok = suffix || !word(first) || !word(before);
        let end_ok = prefix || !word(last) || !word(after);
        if start_ok && end_ok {
            return true;
        }
        from = i + h[i..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// The vectorised test for `op` with a constant needle (see [`StrMatch`]).
fn str_match(op: StrOp, needle: &str, neg: bool) -> Result<StrMatch, String> {
    let re = regex::Regex::new(&needle_regex(op, needle))
        .map_err(|e| format!("bad regular expression: {}", first_line_of(&e.to_string())))?;
    let empty = if op == StrOp::MatchesRegex { re.is_match("") } else { str_test(op, "", needle) };
    // LIKE patterns run as Arrow's vectorised kernels: the whole test for
    // contains/startswith/endswith, a prefilter for has (a term occurs only
    // where the needle does), then the term test on the few rows that pass.
    let escaped: String =
        needle.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    let (like, exact) = match op {
        StrOp::Contains | StrOp::ContainsCs => (Some(format!("%{escaped}%")), false),
        StrOp::StartsWith | StrOp::StartsWithCs => (Some(format!("{escaped}%")), false),
        StrOp::EndsWith | StrOp::EndsWithCs => (Some(format!("%{escaped}")), false),
        StrOp::MatchesRegex => (None, true),
        _ => (Some(format!("%{escaped}%")), true),
    };
    let ci = op != StrOp::MatchesRegex && !case_sensitive(op);
    Ok(StrMatch {
        sig: Signature::any(1, Volatility::Immutable),
        key: format!("{op:?}{neg}{needle}"),
        like: like.map(|p| (p, ci)),
        re: exact.then_some(re),
        negated: neg,
        empty: empty != neg,
    })
}

/// The `_cs` operators.
fn case_sensitive(op: StrOp) -> bool {
    matches!(
        op,
        StrOp::HasCs
            | StrOp::HasPrefixCs
            | StrOp::HasSuffixCs
            | StrOp::ContainsCs
            | StrOp::StartsWithCs
            | StrOp::EndsWithCs
    )
}

/// The regular expression that answers `op` for a constant needle, with Kusto's rules:
/// case-insensitive unless `_cs`; `has` matches whole terms, a term's edge being a
/// character that is not alphanumeric (as `has_term`), and only where the needle's own
/// edge is alphanumeric; `hasprefix`/`hassuffix` check one edge.
fn needle_regex(op: StrOp, needle: &str) -> String {
    if op == StrOp::MatchesRegex {
        return needle.to_string();
    }
    let lit = regex::escape(needle);
    let ci = !case_sensitive(op);
    let flag = if ci { "(?i)" } else { "" };
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let edge_before = r"(?:^|[^\p{Alphabetic}\p{N}])";
    let edge_after = r"(?:$|[^\p{Alphabetic}\p{N}])";
    let (start, end) = (word(needle.chars().next()), word(needle.chars().last()));
    match op {
        StrOp::Has | StrOp::HasCs if needle.is_empty() => String::new(),
        StrOp::Has | StrOp::HasCs | StrOp::HasPrefix | StrOp::HasPrefixCs | StrOp::HasSuffix | StrOp::HasSuffixCs => {
            let prefix = matches!(op, StrOp::HasPrefix | StrOp::HasPrefixCs);
            let suffix = matches!(op, StrOp::HasSuffix | StrOp::HasSuffixCs);
            let before = if start && !suffix { edge_before } else { "" };
            let after = if end && !prefix { edge_after } else { "" };
            format!("{flag}{before}{lit}{after}")
        }
        StrOp::Contains | StrOp::ContainsCs => format!("{flag}{lit}"),
        StrOp::StartsWith | StrOp::StartsWithCs => format!("{flag}^{lit}"),
        StrOp::EndsWith | StrOp::EndsWithCs => format!("{flag}{lit}$"),
        StrOp::MatchesRegex => unreachable!("handled above"),
    }
}

fn first_line_of(s: &str) -> String {
    s.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or(s).to_string()
}

/// A string test with a constant needle over a whole array at once: a LIKE pattern
/// (Arrow's kernel; `true` = case-insensitive) and/or a regular expression that decides
/// among the rows the pattern lets through. A null string reads as "" (Kusto's empty
/// string), whose answer is `empty` (negation applied).
#[derive(Debug)]
struct StrMatch {
    sig: Signature,
    key: String,
    like: Option<(String, bool)>,
    re: Option<regex::Regex>,
    negated: bool,
    empty: bool,
}

impl PartialEq for StrMatch {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}

impl Eq for StrMatch {}

impl std::hash::Hash for StrMatch {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key.hash(h);
    }
}

impl ScalarUDFImpl for StrMatch {
    fn name(&self) -> &str {
        "kql_str_match"
    }
    fn signature(&self) -> &Signature {
        &self.sig
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::array::AsArray;
        let a: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let a =
            if a.data_type() == &DataType::Utf8 { a } else { datafusion::arrow::compute::cast(&a, &DataType::Utf8)? };
        Ok(ColumnarValue::Array(Arc::new(self.eval(a.as_string::<i32>())?)))
    }
}

impl StrMatch {
    fn eval(
        &self,
        strings: &datafusion::arrow::array::StringArray,
    ) -> DfResult<datafusion::arrow::array::BooleanArray> {
        use datafusion::arrow::array::{BooleanArray, Scalar, StringArray};
        use datafusion::arrow::compute::kernels::comparison::{ilike, like};
        // Some(true) where the pattern matched, Some(false) where not, None for nulls.
        let passed: Option<BooleanArray> = match &self.like {
            Some((p, ci)) => {
                let pattern = Scalar::new(StringArray::from(vec![p.as_str()]));
                Some(if *ci { ilike(strings, &pattern)? } else { like(strings, &pattern)? })
            }
            None => None,
        };
        // LIKE alone (contains, startswith, endswith) on strings without nulls: the
        // kernel's answer is the answer.
        if let (Some(p), None, 0) = (&passed, &self.re, strings.null_count()) {
            return Ok(if self.negated { datafusion::arrow::compute::kernels::boolean::not(p)? } else { p.clone() });
        }
        let out: BooleanArray = (0..strings.len())
            .map(|i| {
                if strings.is_null(i) {
                    return Some(self.empty);
                }
                let through = passed.as_ref().is_none_or(|p| p.value(i));
                let hit = through && self.re.as_ref().is_none_or(|re| re.is_match(strings.value(i)));
                Some(hit != self.negated)
            })
            .collect();
        Ok(out)
    }
}

fn str_test(op: StrOp, hay: &str, needle: &str) -> bool {
    let ci = |a: &str, b: &str| (a.to_lowercase(), b.to_lowercase());
    match op {
        StrOp::Has => has_term(hay, needle, false, false, false),
        StrOp::HasCs => has_term(hay, needle, true, false, false),
        StrOp::HasPrefix => has_term(hay, needle, false, true, false),
        StrOp::HasPrefixCs => has_term(hay, needle, true, true, false),
        StrOp::HasSuffix => has_term(hay, needle, false, false, true),
        StrOp::HasSuffixCs => has_term(hay, needle, true, false, true),
        StrOp::Contains => {
            let (h, n) = ci(hay, needle);
            h.contains(&n)
        }
        StrOp::ContainsCs => hay.contains(needle),
        StrOp::StartsWith => {
            let (h, n) = ci(hay, needle);
            h.starts_with(&n)
        }
        StrOp::StartsWithCs => hay.starts_with(needle),
        StrOp::EndsWith => {
            let (h, n) = ci(hay, needle);
            h.ends_with(&n)
        }
        StrOp::EndsWithCs => hay.ends_with(needle),
        StrOp::MatchesRegex => regex::Regex::new(needle).is_ok_and(|r| r.is_match(hay)),
    }
}

fn arith(op: BinOp, a: &KVal, b: &KVal) -> KVal {
    use KVal::*;
    if a.is_null() || b.is_null() {
        return Null;
    }
    match (op, a, b) {
        (BinOp::Sub, DateTime(x), DateTime(y)) => Timespan(x - y),
        (BinOp::Add, DateTime(x), Timespan(y)) | (BinOp::Add, Timespan(y), DateTime(x)) => DateTime(x + y),
        (BinOp::Sub, DateTime(x), Timespan(y)) => DateTime(x - y),
        (BinOp::Add, Timespan(x), Timespan(y)) => Timespan(x + y),
        (BinOp::Sub, Timespan(x), Timespan(y)) => Timespan(x - y),
        (BinOp::Div, Timespan(x), Timespan(y)) if *y != 0 => Real(*x as f64 / *y as f64),
        (BinOp::Mul, Timespan(x), n) | (BinOp::Mul, n, Timespan(x)) => {
            n.as_real().map_or(Null, |n| Timespan((*x as f64 * n) as i64))
        }
        (BinOp::Div, Timespan(x), n) => match n.as_real() {
            Some(n) if n != 0.0 => Timespan((*x as f64 / n) as i64),
            _ => Null,
        },
        (_, Long(x), Long(y)) => match op {
            BinOp::Add => Long(x.wrapping_add(*y)),
            BinOp::Sub => Long(x.wrapping_sub(*y)),
            BinOp::Mul => Long(x.wrapping_mul(*y)),
            BinOp::Div if *y != 0 => Long(x / y),
            BinOp::Mod if *y != 0 => Long(x % y),
            _ => Null,
        },
        _ => match (a.as_real(), b.as_real()) {
            (Some(x), Some(y)) => match op {
                BinOp::Add => Real(x + y),
                BinOp::Sub => Real(x - y),
                BinOp::Mul => Real(x * y),
                BinOp::Div => Real(x / y),
                BinOp::Mod => Real(x % y),
                _ => Null,
            },
            _ => Null,
        },
    }
}

fn arith_type(op: BinOp, a: KType, b: KType) -> Option<KType> {
    use KType::*;
    Some(match (op, a, b) {
        (BinOp::Sub, DateTime, DateTime) => Timespan,
        (BinOp::Add, DateTime, Timespan) | (BinOp::Add, Timespan, DateTime) | (BinOp::Sub, DateTime, Timespan) => {
            DateTime
        }
        (BinOp::Add | BinOp::Sub, Timespan, Timespan) => Timespan,
        (BinOp::Div, Timespan, Timespan) => Real,
        (BinOp::Mul, Timespan, Long | Real)
        | (BinOp::Mul, Long | Real, Timespan)
        | (BinOp::Div, Timespan, Long | Real) => Timespan,
        (_, Long, Long) => Long,
        (_, Long | Real | Dynamic, Long | Real | Dynamic) => Real,
        _ => return None,
    })
}

fn cmp(a: &KVal, b: &KVal) -> Option<std::cmp::Ordering> {
    use KVal::*;
    match (a, b) {
        (Long(x), Long(y)) => Some(x.cmp(y)),
        (DateTime(x), DateTime(y)) | (Timespan(x), Timespan(y)) => Some(x.cmp(y)),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        _ => a.as_real()?.partial_cmp(&b.as_real()?),
    }
}

/// An expression's values when it is a constant list (for `in`, `has_any`).
fn list_values(p: &mut Planner<'_>, items: &[Expr], cols: &[(String, KType)]) -> Result<Option<Vec<KVal>>, KqlError> {
    let mut out = Vec::new();
    // A subquery's first column; arrays in it (`summarize make_list(x)`) are flattened,
    // as Kusto does, so `where tld in~ (list_tlds)` reads the list's elements.
    let flatten = |vals: Vec<KVal>, out: &mut Vec<KVal>| {
        for v in vals {
            match v {
                KVal::Dyn(Value::Array(a)) => out.extend(a.into_iter().map(KVal::Dyn)),
                v => out.push(v),
            }
        }
    };
    for i in items {
        let v = match &i.kind {
            ExprKind::Tabular(t) => {
                flatten(p.first_column(t)?, &mut out);
                continue;
            }
            ExprKind::Name(n) if !cols.iter().any(|(c, _)| c == n) && p.scalar_binding(n).is_none() => {
                // A tabular let: its first column.
                let t = Tabular { source: Source::Name(n.clone(), i.span), ops: Vec::new(), span: i.span };
                flatten(p.first_column(&t)?, &mut out);
                continue;
            }
            _ => {
                let t = p.expr(i, cols)?;
                if !is_constant(&t.e) {
                    return Ok(None);
                }
                p.constant(i)?
            }
        };
        match v {
            KVal::Dyn(Value::Array(a)) => out.extend(a.into_iter().map(KVal::Dyn)),
            v => out.push(v),
        }
    }
    Ok(Some(out))
}

fn is_constant(e: &DfExpr) -> bool {
    let mut constant = true;
    let _ = e.apply(|x| {
        if matches!(x, DfExpr::Column(_)) {
            constant = false;
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    constant
}

use datafusion::common::tree_node::TreeNode;

pub(crate) fn expr(p: &mut Planner<'_>, x: &Expr, cols: &[(String, KType)]) -> Result<Typed, KqlError> {
    match &x.kind {
        ExprKind::Lit(l) => Ok(match l {
            Lit::Null => lit(&KVal::Null),
            Lit::Bool(b) => lit(&KVal::Bool(*b)),
            Lit::Long(n) => lit(&KVal::Long(*n)),
            Lit::Real(f) => lit(&KVal::Real(*f)),
            Lit::Str(s) => lit(&KVal::Str(s.clone())),
            Lit::DateTime(t) => lit(&KVal::DateTime(*t)),
            Lit::Timespan(t) => lit(&KVal::Timespan(*t)),
            Lit::Dynamic(v) => lit(&KVal::Dyn(v.clone())),
            Lit::Type(t) => lit(&KVal::Str(t.clone())),
        }),
        ExprKind::Name(n) => {
            if let Some((_, t)) = cols.iter().find(|(c, _)| c == n) {
                return Ok(Typed::new(col(n), *t));
            }
            if let Some(v) = p.scalar_binding(n) {
                return Ok(lit(&v));
            }
            // A zero-argument function called without parentheses.
            if let Some(f) = p.function_binding(n) {
                if f.params.is_empty() {
                    if let LetValue::Expr(e) = f.body.result.as_ref() {
                        return expr(p, e, cols);
                    }
                }
            }
            let mut names: Vec<String> = cols.iter().map(|(c, _)| c.clone()).collect();
            names.extend(p.scope_names());
            let hint = did_you_mean(n, names.iter().map(String::as_str))
                .map(|m| format!("; did you mean '{m}'?"))
                .unwrap_or_default();
            Err(KqlError::at(x.span, format!("unknown column '{n}'{hint}")))
        }
        ExprKind::Neg(e) => {
            let t = expr(p, e, cols)?;
            Ok(row("kql_neg", t.t, vec![t.clone()], |v| match &v[0] {
                KVal::Long(n) => KVal::Long(-n),
                KVal::Real(f) => KVal::Real(-f),
                KVal::Timespan(t) => KVal::Timespan(-t),
                _ => KVal::Null,
            }))
        }
        ExprKind::Binary(op, l, r) => {
            let (l, r) = (expr(p, l, cols)?, expr(p, r, cols)?);
            Ok(match op {
                BinOp::And => Typed::new(to_bool(l).e.and(to_bool(r).e), KType::Bool),
                BinOp::Or => Typed::new(to_bool(l).e.or(to_bool(r).e), KType::Bool),
                BinOp::EqCi | BinOp::NeCi => {
                    let eq = *op == BinOp::EqCi;
                    row("kql_eq_ci", KType::Bool, vec![to_string(l), to_string(r)], move |v| {
                        KVal::Bool((v[0].to_text().to_lowercase() == v[1].to_text().to_lowercase()) == eq)
                    })
                }
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    let (l, r) = unify(l, r);
                    let op = *op;
                    if l.t == r.t && !matches!(l.t, KType::Dynamic) {
                        let e = match op {
                            BinOp::Eq => l.e.eq(r.e),
                            BinOp::Ne => l.e.not_eq(r.e),
                            BinOp::Lt => l.e.lt(r.e),
                            BinOp::Le => l.e.lt_eq(r.e),
                            BinOp::Gt => l.e.gt(r.e),
                            _ => l.e.gt_eq(r.e),
                        };
                        Typed::new(e, KType::Bool)
                    } else {
                        row("kql_cmp", KType::Bool, vec![l, r], move |v| {
                            use std::cmp::Ordering::*;
                            if v[0].is_null() || v[1].is_null() {
                                return KVal::Null;
                            }
                            let o = cmp(&v[0], &v[1]);
                            let b = match op {
                                BinOp::Eq => o == Some(Equal) || v[0].to_json() == v[1].to_json(),
                                BinOp::Ne => !(o == Some(Equal) || v[0].to_json() == v[1].to_json()),
                                BinOp::Lt => o == Some(Less),
                                BinOp::Le => matches!(o, Some(Less | Equal)),
                                BinOp::Gt => o == Some(Greater),
                                _ => matches!(o, Some(Greater | Equal)),
                            };
                            KVal::Bool(b)
                        })
                    }
                }
                op => {
                    let op = *op;
                    let t = arith_type(op, l.t, r.t).ok_or_else(|| {
                        KqlError::at(x.span, format!("cannot apply {op:?} to {} and {}", l.t.name(), r.t.name()))
                    })?;
                    if matches!((l.t, r.t), (KType::Long, KType::Long) | (KType::Real, KType::Real))
                        && !matches!(op, BinOp::Div | BinOp::Mod)
                    {
                        let e = match op {
                            BinOp::Add => l.e + r.e,
                            BinOp::Sub => l.e - r.e,
                            _ => l.e * r.e,
                        };
                        Typed::new(e, t)
                    } else {
                        row("kql_arith", t, vec![l, r], move |v| arith(op, &v[0], &v[1]).convert(t))
                    }
                }
            })
        }
        ExprKind::StrOp { op, negated, left, right } => {
            let l = to_string(expr(p, left, cols)?);
            let (op, neg) = (*op, *negated);
            // A constant needle (the usual case) is prepared once.
            if let ExprKind::Lit(Lit::Str(needle)) = &right.kind {
                let m = str_match(op, needle, neg).map_err(|e| KqlError::at(right.span, e))?;
                return Ok(Typed::new(ScalarUDF::from(m).call(vec![l.e]), KType::Bool));
            }
            let r = to_string(expr(p, right, cols)?);
            Ok(row(op.name(), KType::Bool, vec![l, r], move |v| {
                KVal::Bool(str_test(op, &v[0].to_text(), &v[1].to_text()) != neg)
            }))
        }
        ExprKind::In { op, negated, left, list } => {
            let l = expr(p, left, cols)?;
            let neg = *negated;
            let Some(values) = list_values(p, list, cols)? else {
                return Err(KqlError::at(x.span, "the list of 'in' must be constants or a subquery"));
            };
            let op = *op;
            let key = format!("{op:?}{values:?}");
            match op {
                InOp::In => {
                    let l = if l.t == KType::Dynamic { to_string(l) } else { l };
                    let t = l.t;
                    let set: Vec<KVal> = values.iter().map(|v| v.convert(t)).collect();
                    Ok(row_keyed("kql_in", &key, KType::Bool, vec![l], move |v| {
                        KVal::Bool(set.iter().any(|s| cmp(s, &v[0]) == Some(std::cmp::Ordering::Equal)) != neg)
                    }))
                }
                InOp::InCi => {
                    let set: std::collections::HashSet<String> =
                        values.iter().map(|v| v.to_text().to_lowercase()).collect();
                    Ok(row_keyed("kql_in_ci", &key, KType::Bool, vec![to_string(l)], move |v| {
                        KVal::Bool(set.contains(&v[0].to_text().to_lowercase()) != neg)
                    }))
                }
                InOp::HasAny | InOp::HasAll => {
                    let terms: Vec<String> = values.iter().map(KVal::to_text).collect();
                    let all = op == InOp::HasAll;
                    Ok(row_keyed("kql_has_any", &key, KType::Bool, vec![to_string(l)], move |v| {
                        let h = v[0].to_text();
                        let hit = |t: &String| has_term(&h, t, false, false, false);
                        let b = if all { terms.iter().all(hit) } else { terms.iter().any(hit) };
                        KVal::Bool(b != neg)
                    }))
                }
            }
        }
        ExprKind::Between { negated, expr: e, low, high } => {
            let (v, lo, hi) = (expr(p, e, cols)?, expr(p, low, cols)?, expr(p, high, cols)?);
            let neg = *negated;
            Ok(row("kql_between", KType::Bool, vec![v, lo, hi], move |a| {
                if a[0].is_null() {
                    return KVal::Null;
                }
                let inside = matches!(cmp(&a[0], &a[1]), Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal))
                    && matches!(cmp(&a[0], &a[2]), Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal));
                KVal::Bool(inside != neg)
            }))
        }
        ExprKind::Member(base, name) => {
            let b = to_dynamic(expr(p, base, cols)?);
            let name = name.clone();
            Ok(row_keyed("kql_member", &name.clone(), KType::Dynamic, vec![b], move |v| match &v[0] {
                KVal::Dyn(Value::Object(m)) => KVal::Dyn(m.get(&name).cloned().unwrap_or(Value::Null)),
                // A string holding JSON (a `string` column read as dynamic).
                KVal::Dyn(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Object(m)) => KVal::Dyn(m.get(&name).cloned().unwrap_or(Value::Null)),
                    _ => KVal::Dyn(Value::Null),
                },
                _ => KVal::Dyn(Value::Null),
            }))
        }
        ExprKind::Index(base, idx) => {
            let b = to_dynamic(expr(p, base, cols)?);
            let i = expr(p, idx, cols)?;
            Ok(row("kql_index", KType::Dynamic, vec![b, i], |v| match (&v[0], &v[1]) {
                (KVal::Dyn(Value::Array(a)), i) => {
                    let Some(i) = i.as_long() else { return KVal::Dyn(Value::Null) };
                    let i = if i < 0 { a.len() as i64 + i } else { i };
                    KVal::Dyn(a.get(i.max(0) as usize).filter(|_| i >= 0).cloned().unwrap_or(Value::Null))
                }
                (KVal::Dyn(Value::Object(m)), k) => KVal::Dyn(m.get(&k.to_text()).cloned().unwrap_or(Value::Null)),
                _ => KVal::Dyn(Value::Null),
            }))
        }
        ExprKind::Star => Err(KqlError::at(x.span, "'*' is only allowed as an argument of some functions")),
        ExprKind::Tabular(t) => {
            Err(KqlError::at(t.span, "a tabular expression cannot stand where a value is expected; use toscalar()"))
        }
        ExprKind::Call(name, args) => call_fn(p, x, name, args, cols),
    }
}

/// Scalar functions this engine knows (for "did you mean").
const FUNCTIONS: &[&str] = &[
    "tostring", "toupper", "tolower", "strlen", "strcat", "strcat_delim", "substring", "indexof", "split", "replace",
    "replace_regex", "replace_string", "extract", "extract_all", "trim", "trim_start", "trim_end", "strcat_array",
    "base64_decode_tostring", "base64_encode_tostring", "parse_url", "parse_json", "todynamic", "isempty",
    "isnotempty", "isnull", "isnotnull", "iff", "iif", "case", "coalesce", "not", "toint", "tolong", "todouble",
    "toreal", "tobool", "toboolean", "todatetime", "totimespan", "ago", "now", "bin", "floor", "startofday",
    "startofweek", "startofmonth", "array_length", "array_slice", "pack_array", "pack", "bag_pack", "bag_keys",
    "ipv4_is_private", "ipv4_is_match", "ipv4_is_in_range", "column_ifexists", "toscalar", "countof", "abs", "round",
    "datetime_diff", "format_datetime", "dayofweek", "gettype", "array_concat", "set_union", "min_of", "max_of",
    "log10", "exp", "sqrt", "pow", "strrep", "reverse",
];

fn call_fn(
    p: &mut Planner<'_>,
    x: &Expr,
    name: &str,
    args: &[Expr],
    cols: &[(String, KType)],
) -> Result<Typed, KqlError> {
    let lower = name.to_ascii_lowercase();
    let n = args.len();
    let need = |lo: usize, hi: usize| -> Result<(), KqlError> {
        if n < lo || n > hi {
            let want = if lo == hi { format!("{lo}") } else { format!("{lo} to {hi}") };
            return Err(KqlError::at(x.span, format!("{name}() takes {want} arguments, {n} given")));
        }
        Ok(())
    };
    let a = |p: &mut Planner<'_>, i: usize| expr(p, &args[i], cols);
    macro_rules! args {
        ($($i:expr),*) => { vec![$(a(p, $i)?),*] };
    }
    let s = |v: &KVal| v.to_text();
    Ok(match lower.as_str() {
        // Conversions.
        "tostring" => {
            need(1, 1)?;
            to_string(a(p, 0)?)
        }
        "todynamic" | "parse_json" => {
            need(1, 1)?;
            let t = a(p, 0)?;
            row("parse_json", KType::Dynamic, vec![t], |v| match &v[0] {
                KVal::Str(s) => KVal::Dyn(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))),
                KVal::Dyn(Value::String(s)) => {
                    KVal::Dyn(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())))
                }
                other => KVal::Dyn(other.to_json()),
            })
        }
        "toint" | "tolong" => {
            need(1, 1)?;
            cast_to(a(p, 0)?, KType::Long)
        }
        "todouble" | "toreal" | "todecimal" => {
            need(1, 1)?;
            cast_to(a(p, 0)?, KType::Real)
        }
        "tobool" | "toboolean" => {
            need(1, 1)?;
            cast_to(a(p, 0)?, KType::Bool)
        }
        "todatetime" => {
            need(1, 1)?;
            cast_to(a(p, 0)?, KType::DateTime)
        }
        "totimespan" | "time" | "timespan" => {
            need(1, 1)?;
            cast_to(a(p, 0)?, KType::Timespan)
        }
        "datetime" if n == 0 => null_of(KType::DateTime),
        "long" | "int" | "real" | "double" | "bool" | "string" | "guid" => {
            need(1, 1)?;
            let ty = KType::parse(&lower).expect("a type name");
            match &args[0].kind {
                ExprKind::Name(n) if n == "null" => null_of(ty),
                _ => cast_to(a(p, 0)?, ty),
            }
        }
        // Strings.
        "toupper" => {
            need(1, 1)?;
            row("toupper", KType::String, args!(0), |v| KVal::Str(v[0].to_text().to_uppercase()))
        }
        "tolower" => {
            need(1, 1)?;
            row("tolower", KType::String, args!(0), |v| KVal::Str(v[0].to_text().to_lowercase()))
        }
        "strlen" => {
            need(1, 1)?;
            row("strlen", KType::Long, args!(0), |v| KVal::Long(v[0].to_text().chars().count() as i64))
        }
        "strcat" => {
            need(1, 64)?;
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("strcat", KType::String, all, |v| KVal::Str(v.iter().map(KVal::to_text).collect()))
        }
        "strcat_delim" => {
            need(3, 64)?;
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("strcat_delim", KType::String, all, |v| {
                KVal::Str(v[1..].iter().map(KVal::to_text).collect::<Vec<_>>().join(&v[0].to_text()))
            })
        }
        "substring" => {
            need(2, 3)?;
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("substring", KType::String, all, |v| {
                let chars: Vec<char> = v[0].to_text().chars().collect();
                let start = v[1].as_long().unwrap_or(0).clamp(0, chars.len() as i64) as usize;
                let len = v.get(2).and_then(KVal::as_long).unwrap_or(chars.len() as i64).max(0) as usize;
                KVal::Str(chars[start..].iter().take(len).collect())
            })
        }
        "indexof" => {
            need(2, 5)?;
            let all = (0..n.min(3)).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("indexof", KType::Long, all, |v| {
                let h = v[0].to_text();
                let start = v.get(2).and_then(KVal::as_long).unwrap_or(0).max(0) as usize;
                let chars: Vec<char> = h.chars().collect();
                if start > chars.len() {
                    return KVal::Long(-1);
                }
                let tail: String = chars[start..].iter().collect();
                match tail.find(&v[1].to_text()) {
                    Some(b) => KVal::Long((start + tail[..b].chars().count()) as i64),
                    None => KVal::Long(-1),
                }
            })
        }
        "split" => {
            need(2, 3)?;
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("split", KType::Dynamic, all, |v| {
                let parts: Vec<Value> =
                    v[0].to_text().split(&v[1].to_text()).map(|x| Value::String(x.to_string())).collect();
                match v.get(2).and_then(KVal::as_long) {
                    // With an index: a one-element array (Kusto's own shape).
                    Some(i) => KVal::Dyn(Value::Array(parts.get(i.max(0) as usize).cloned().into_iter().collect())),
                    None => KVal::Dyn(Value::Array(parts)),
                }
            })
        }
        "replace" | "replace_regex" => {
            need(3, 3)?;
            // replace(regex, rewrite, text); replace_regex(text, regex, rewrite).
            let (ti, ri, wi) = if lower == "replace" { (2, 0, 1) } else { (0, 1, 2) };
            let (re_text, re) = const_regex(p, &args[ri], |t| t.to_string())?;
            let (t, w) = (to_string(a(p, ti)?), to_string(a(p, wi)?));
            row_keyed("replace_regex", &re_text, KType::String, vec![t, w], move |v| {
                // Kusto writes groups as \1; the regex crate as ${1}.
                let rewrite = kusto_rewrite(&v[1].to_text());
                KVal::Str(re.replace_all(&v[0].to_text(), rewrite.as_str()).into_owned())
            })
        }
        "replace_string" => {
            need(3, 3)?;
            row("replace_string", KType::String, args!(0, 1, 2), |v| {
                let l = v[1].to_text();
                if l.is_empty() {
                    return KVal::Str(v[0].to_text());
                }
                KVal::Str(v[0].to_text().replace(&l, &v[2].to_text()))
            })
        }
        "extract" => {
            need(3, 4)?;
            let (_, re) = const_regex(p, &args[0], |t| t.to_string())?;
            let group = p.constant(&args[1])?.as_long().unwrap_or(0).max(0) as usize;
            let ty = match args.get(3).map(|t| &t.kind) {
                Some(ExprKind::Lit(Lit::Type(t))) => KType::parse(t).unwrap_or(KType::String),
                _ => KType::String,
            };
            let src = to_string(a(p, 2)?);
            let out = capture(src, re, group, ty);
            if ty == KType::String {
                row("coalesce_empty", KType::String, vec![out], |v| KVal::Str(v[0].to_text()))
            } else {
                out
            }
        }
        "extract_all" => {
            need(2, 3)?;
            let (re_text, re) = const_regex(p, &args[0], |t| t.to_string())?;
            let src = to_string(a(p, n - 1)?);
            row_keyed("extract_all", &re_text, KType::Dynamic, vec![src], move |v| {
                let t = v[0].to_text();
                let all: Vec<Value> = re
                    .captures_iter(&t)
                    .map(|c| {
                        if c.len() == 1 {
                            Value::String(c[0].to_string())
                        } else if c.len() == 2 {
                            Value::String(c.get(1).map_or("", |m| m.as_str()).to_string())
                        } else {
                            Value::Array(
                                (1..c.len())
                                    .map(|i| Value::String(c.get(i).map_or("", |m| m.as_str()).to_string()))
                                    .collect(),
                            )
                        }
                    })
                    .collect();
                if all.is_empty() {
                    KVal::Dyn(Value::Null)
                } else {
                    KVal::Dyn(Value::Array(all))
                }
            })
        }
        "trim" | "trim_start" | "trim_end" => {
            need(2, 2)?;
            let which = lower.clone();
            let (pat, re) = const_regex(p, &args[0], move |t| match which.as_str() {
                "trim" => format!("^(?:{t})+|(?:{t})+$"),
                "trim_start" => format!("^(?:{t})+"),
                _ => format!("(?:{t})+$"),
            })?;
            row_keyed("trim", &pat, KType::String, args!(1), move |v| {
                KVal::Str(re.replace_all(&v[0].to_text(), "").into_owned())
            })
        }
        "strcat_array" => {
            need(2, 2)?;
            row("strcat_array", KType::String, vec![to_dynamic(a(p, 0)?), a(p, 1)?], |v| match &v[0] {
                KVal::Dyn(Value::Array(items)) => KVal::Str(
                    items.iter().map(|i| KVal::Dyn(i.clone()).to_text()).collect::<Vec<_>>().join(&v[1].to_text()),
                ),
                _ => KVal::Str(String::new()),
            })
        }
        "base64_decode_tostring" => {
            need(1, 1)?;
            row("base64_decode_tostring", KType::String, args!(0), |v| {
                use base64::Engine;
                match base64::engine::general_purpose::STANDARD.decode(v[0].to_text().trim()) {
                    Ok(b) => String::from_utf8(b).map_or(KVal::Str(String::new()), KVal::Str),
                    Err(_) => KVal::Str(String::new()),
                }
            })
        }
        "base64_encode_tostring" => {
            need(1, 1)?;
            row("base64_encode_tostring", KType::String, args!(0), |v| {
                use base64::Engine;
                KVal::Str(base64::engine::general_purpose::STANDARD.encode(v[0].to_text()))
            })
        }
        "parse_url" => {
            need(1, 1)?;
            row("parse_url", KType::Dynamic, args!(0), |v| KVal::Dyn(parse_url(&v[0].to_text())))
        }
        "countof" => {
            need(2, 3)?;
            row("countof", KType::Long, args!(0, 1), |v| {
                let (t, s) = (v[0].to_text(), v[1].to_text());
                KVal::Long(if s.is_empty() { 0 } else { t.matches(&s).count() as i64 })
            })
        }
        "reverse" => {
            need(1, 1)?;
            row("reverse", KType::String, args!(0), |v| KVal::Str(v[0].to_text().chars().rev().collect()))
        }
        "strrep" => {
            need(2, 3)?;
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("strrep", KType::String, all, |v| {
                let times = v[1].as_long().unwrap_or(0).clamp(0, 1 << 20) as usize;
                let d = v.get(2).map(KVal::to_text).unwrap_or_default();
                KVal::Str(vec![v[0].to_text(); times].join(&d))
            })
        }
        // Emptiness.
        "isempty" | "isnotempty" => {
            need(1, 1)?;
            let want = lower == "isempty";
            row(&lower, KType::Bool, args!(0), move |v| KVal::Bool((v[0].is_null() || s(&v[0]).is_empty()) == want))
        }
        "isnull" | "isnotnull" => {
            need(1, 1)?;
            let want = lower == "isnull";
            let t = a(p, 0)?;
            // Strings are never null in Kusto.
            if t.t == KType::String {
                return Ok(lit(&KVal::Bool(!want)));
            }
            row(&lower, KType::Bool, vec![t], move |v| KVal::Bool(v[0].is_null() == want))
        }
        // Logic.
        "not" => {
            need(1, 1)?;
            let t = to_bool(a(p, 0)?);
            Typed::new(DfExpr::Not(Box::new(t.e)), KType::Bool)
        }
        "iff" | "iif" => {
            need(3, 3)?;
            let c = to_bool(a(p, 0)?);
            let (t, f) = unify(a(p, 1)?, a(p, 2)?);
            let ty = t.t;
            row(
                "iff",
                ty,
                vec![c, t, f],
                move |v| if v[0].as_bool() == Some(true) { v[1].clone() } else { v[2].clone() },
            )
        }
        "case" => {
            if n < 3 || n.is_multiple_of(2) {
                return Err(KqlError::at(x.span, "case() takes pairs of (predicate, value) and a final else value"));
            }
            let mut all = Vec::new();
            let mut ty = None;
            for i in 0..n {
                let t = a(p, i)?;
                if i % 2 == 0 && i != n - 1 {
                    all.push(to_bool(t));
                } else {
                    ty.get_or_insert(t.t);
                    all.push(t);
                }
            }
            let ty = ty.unwrap_or(KType::String);
            let all: Vec<Typed> = all
                .into_iter()
                .enumerate()
                .map(|(i, t)| if i % 2 == 1 || i == n - 1 { cast_to(t, ty) } else { t })
                .collect();
            row("case", ty, all, move |v| {
                for pair in v[..v.len() - 1].chunks(2) {
                    if pair[0].as_bool() == Some(true) {
                        return pair[1].clone();
                    }
                }
                v[v.len() - 1].clone()
            })
        }
        "coalesce" => {
            need(1, 64)?;
            let all = args_as_first(p, args, cols)?;
            let ty = all[0].t;
            row("coalesce", ty, all, move |v| {
                v.iter()
                    .find(|x| !(x.is_null() || ty == KType::String && x.to_text().is_empty()))
                    .cloned()
                    .unwrap_or(KVal::Null)
            })
        }
        "column_ifexists" => {
            need(2, 2)?;
            match &args[0].kind {
                ExprKind::Lit(Lit::Str(c)) => match cols.iter().find(|(m, _)| m == c) {
                    Some((m, t)) => Typed::new(col(m), *t),
                    None => a(p, 1)?,
                },
                _ => return Err(KqlError::at(args[0].span, "column_ifexists takes a column name as a string")),
            }
        }
        "toscalar" => {
            need(1, 1)?;
            let v = match &args[0].kind {
                ExprKind::Tabular(t) => p.first_column(t)?.into_iter().next().unwrap_or(KVal::Null),
                ExprKind::Name(nm) => {
                    let t = Tabular { source: Source::Name(nm.clone(), args[0].span), ops: vec![], span: args[0].span };
                    p.first_column(&t)?.into_iter().next().unwrap_or(KVal::Null)
                }
                _ => p.constant(&args[0])?,
            };
            lit(&v)
        }
        // Time.
        "now" => {
            need(0, 1)?;
            let off = if n == 1 { p.constant(&args[0])?.as_timespan().unwrap_or(0) } else { 0 };
            lit(&KVal::DateTime(p.now + off))
        }
        "ago" => {
            need(1, 1)?;
            let t = a(p, 0)?;
            let now = p.now;
            if t.t == KType::Timespan {
                if let DfExpr::Literal(ScalarValue::DurationMicrosecond(Some(d)), _) = &t.e {
                    return Ok(lit(&KVal::DateTime(now - d)));
                }
            }
            row("ago", KType::DateTime, vec![t], move |v| {
                v[0].as_timespan().map_or(KVal::Null, |d| KVal::DateTime(now - d))
            })
        }
        "bin" | "floor" => {
            need(2, 2)?;
            let (v, b) = (a(p, 0)?, a(p, 1)?);
            let ty = v.t;
            row("bin", ty, vec![v, b], move |x| match (&x[0], &x[1]) {
                (KVal::DateTime(t), KVal::Timespan(s)) if *s > 0 => KVal::DateTime(t.div_euclid(*s) * s),
                (KVal::Timespan(t), KVal::Timespan(s)) if *s > 0 => KVal::Timespan(t.div_euclid(*s) * s),
                (KVal::Long(t), b) => match b.as_long() {
                    Some(s) if s > 0 => KVal::Long(t.div_euclid(s) * s),
                    _ => KVal::Null,
                },
                (a, b) => match (a.as_real(), b.as_real()) {
                    (Some(t), Some(s)) if s > 0.0 => KVal::Real((t / s).floor() * s),
                    _ => KVal::Null,
                },
            })
        }
        "bin_at" => {
            need(3, 3)?;
            let (v, b, at) = (a(p, 0)?, a(p, 1)?, a(p, 2)?);
            let ty = v.t;
            row("bin_at", ty, vec![v, b, at], move |x| match (&x[0], &x[1], &x[2]) {
                (KVal::DateTime(t), KVal::Timespan(s), KVal::DateTime(at)) if *s > 0 => {
                    KVal::DateTime(at + (t - at).div_euclid(*s) * s)
                }
                (KVal::Timespan(t), KVal::Timespan(s), KVal::Timespan(at)) if *s > 0 => {
                    KVal::Timespan(at + (t - at).div_euclid(*s) * s)
                }
                (KVal::Long(t), b, at) => match (b.as_long(), at.as_long()) {
                    (Some(s), Some(at)) if s > 0 => KVal::Long(at + (t - at).div_euclid(s) * s),
                    _ => KVal::Null,
                },
                (a, b, at) => match (a.as_real(), b.as_real(), at.as_real()) {
                    (Some(t), Some(s), Some(at)) if s > 0.0 => KVal::Real(at + ((t - at) / s).floor() * s),
                    _ => KVal::Null,
                },
            })
        }
        "startofday" | "startofweek" | "startofmonth" => {
            need(1, 2)?;
            let which = lower.clone();
            row(&lower, KType::DateTime, vec![cast_to(a(p, 0)?, KType::DateTime)], move |v| {
                use chrono::{Datelike, NaiveDate};
                let Some(t) = v[0].as_datetime() else { return KVal::Null };
                let d = chrono::DateTime::from_timestamp_micros(t).unwrap_or_default().date_naive();
                let d = match which.as_str() {
                    "startofday" => d,
                    "startofweek" => d - chrono::Days::new(u64::from(d.weekday().num_days_from_sunday())),
                    _ => NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d),
                };
                KVal::DateTime(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_micros())
            })
        }
        "dayofweek" => {
            need(1, 1)?;
            row("dayofweek", KType::Timespan, vec![cast_to(a(p, 0)?, KType::DateTime)], |v| {
                use chrono::Datelike;
                let Some(t) = v[0].as_datetime() else { return KVal::Null };
                let d = chrono::DateTime::from_timestamp_micros(t).unwrap_or_default();
                KVal::Timespan(i64::from(d.weekday().num_days_from_sunday()) * 86_400_000_000)
            })
        }
        "datetime_diff" => {
            need(3, 3)?;
            let part = match p.constant(&args[0])? {
                KVal::Str(s) => s.to_lowercase(),
                _ => return Err(KqlError::at(args[0].span, "datetime_diff takes a unit name first")),
            };
            let unit: i64 = match part.as_str() {
                "day" => 86_400_000_000,
                "hour" => 3_600_000_000,
                "minute" => 60_000_000,
                "second" => 1_000_000,
                "millisecond" => 1_000,
                "microsecond" => 1,
                "week" => 7 * 86_400_000_000,
                _ => return Err(KqlError::at(args[0].span, format!("datetime_diff unit '{part}' is not supported"))),
            };
            row(
                "datetime_diff",
                KType::Long,
                vec![cast_to(a(p, 1)?, KType::DateTime), cast_to(a(p, 2)?, KType::DateTime)],
                move |v| match (v[0].as_datetime(), v[1].as_datetime()) {
                    (Some(x), Some(y)) => KVal::Long(x.div_euclid(unit) - y.div_euclid(unit)),
                    _ => KVal::Null,
                },
            )
        }
        "format_datetime" => {
            need(2, 2)?;
            row("format_datetime", KType::String, vec![cast_to(a(p, 0)?, KType::DateTime), a(p, 1)?], |v| {
                let Some(t) = v[0].as_datetime() else { return KVal::Str(String::new()) };
                let f = v[1]
                    .to_text()
                    .replace("yyyy", "%Y")
                    .replace("MM", "%m")
                    .replace("dd", "%d")
                    .replace("HH", "%H")
                    .replace("mm", "%M")
                    .replace("ss", "%S");
                KVal::Str(chrono::DateTime::from_timestamp_micros(t).unwrap_or_default().format(&f).to_string())
            })
        }
        // Numbers.
        "abs" => {
            need(1, 1)?;
            let t = a(p, 0)?;
            let ty = t.t;
            row("abs", ty, vec![t], |v| match &v[0] {
                KVal::Long(n) => KVal::Long(n.abs()),
                KVal::Real(f) => KVal::Real(f.abs()),
                KVal::Timespan(t) => KVal::Timespan(t.abs()),
                _ => KVal::Null,
            })
        }
        "round" => {
            need(1, 2)?;
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("round", KType::Real, all, |v| {
                let digits = v.get(1).and_then(KVal::as_long).unwrap_or(0) as i32;
                let m = 10f64.powi(digits);
                v[0].as_real().map_or(KVal::Null, |f| KVal::Real((f * m).round() / m))
            })
        }
        "sqrt" | "log10" | "exp" => {
            need(1, 1)?;
            let which = lower.clone();
            row(&lower, KType::Real, args!(0), move |v| {
                v[0].as_real().map_or(KVal::Null, |f| {
                    KVal::Real(match which.as_str() {
                        "sqrt" => f.sqrt(),
                        "log10" => f.log10(),
                        _ => f.exp(),
                    })
                })
            })
        }
        "pow" => {
            need(2, 2)?;
            row("pow", KType::Real, args!(0, 1), |v| match (v[0].as_real(), v[1].as_real()) {
                (Some(a), Some(b)) => KVal::Real(a.powf(b)),
                _ => KVal::Null,
            })
        }
        "min_of" | "max_of" => {
            need(1, 64)?;
            let all = args_as_first(p, args, cols)?;
            let ty = all[0].t;
            let max = lower == "max_of";
            row(&lower, ty, all, move |v| {
                v.iter()
                    .filter(|x| !x.is_null())
                    .cloned()
                    .reduce(|a, b| match cmp(&a, &b) {
                        Some(std::cmp::Ordering::Less) => {
                            if max {
                                b
                            } else {
                                a
                            }
                        }
                        _ => {
                            if max {
                                a
                            } else {
                                b
                            }
                        }
                    })
                    .unwrap_or(KVal::Null)
            })
        }
        // Dynamic values.
        "array_length" => {
            need(1, 1)?;
            row("array_length", KType::Long, vec![to_dynamic(a(p, 0)?)], |v| match &v[0] {
                KVal::Dyn(Value::Array(a)) => KVal::Long(a.len() as i64),
                _ => KVal::Null,
            })
        }
        "array_slice" => {
            need(3, 3)?;
            row("array_slice", KType::Dynamic, vec![to_dynamic(a(p, 0)?), a(p, 1)?, a(p, 2)?], |v| match &v[0] {
                KVal::Dyn(Value::Array(arr)) => {
                    let len = arr.len() as i64;
                    let fix = |i: i64| if i < 0 { len + i } else { i };
                    let (s, e) =
                        (fix(v[1].as_long().unwrap_or(0)).max(0), fix(v[2].as_long().unwrap_or(len - 1)).min(len - 1));
                    if s > e || s >= len {
                        return KVal::Dyn(Value::Array(Vec::new()));
                    }
                    KVal::Dyn(Value::Array(arr[s as usize..=e as usize].to_vec()))
                }
                _ => KVal::Dyn(Value::Null),
            })
        }
        "array_concat" | "set_union" => {
            need(1, 64)?;
            let all = (0..n).map(|i| a(p, i).map(to_dynamic)).collect::<Result<Vec<_>, _>>()?;
            let set = lower == "set_union";
            row(&lower, KType::Dynamic, all, move |v| {
                let mut out: Vec<Value> = Vec::new();
                for x in v {
                    if let KVal::Dyn(Value::Array(items)) = x {
                        for i in items {
                            if !set || !out.contains(i) {
                                out.push(i.clone());
                            }
                        }
                    }
                }
                KVal::Dyn(Value::Array(out))
            })
        }
        "pack_array" => {
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("pack_array", KType::Dynamic, all, |v| KVal::Dyn(Value::Array(v.iter().map(KVal::to_json).collect())))
        }
        "pack" | "bag_pack" => {
            if n % 2 == 1 {
                return Err(KqlError::at(x.span, format!("{name}() takes key, value pairs")));
            }
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            row("bag_pack", KType::Dynamic, all, |v| {
                KVal::Dyn(Value::Object(v.chunks(2).map(|kv| (kv[0].to_text(), kv[1].to_json())).collect()))
            })
        }
        "bag_keys" => {
            need(1, 1)?;
            row("bag_keys", KType::Dynamic, vec![to_dynamic(a(p, 0)?)], |v| match &v[0] {
                KVal::Dyn(Value::Object(m)) => {
                    KVal::Dyn(Value::Array(m.keys().map(|k| Value::String(k.clone())).collect()))
                }
                _ => KVal::Dyn(Value::Null),
            })
        }
        "gettype" => {
            need(1, 1)?;
            let t = a(p, 0)?;
            let static_type = t.t;
            row("gettype", KType::String, vec![t], move |v| {
                KVal::Str(
                    match &v[0] {
                        KVal::Dyn(Value::Array(_)) => "array",
                        KVal::Dyn(Value::Object(_)) => "dictionary",
                        KVal::Dyn(Value::String(_)) => "string",
                        KVal::Dyn(Value::Number(n)) if n.is_i64() => "long",
                        KVal::Dyn(Value::Number(_)) => "real",
                        KVal::Dyn(Value::Bool(_)) => "bool",
                        KVal::Dyn(Value::Null) | KVal::Null => "null",
                        _ => static_type.name(),
                    }
                    .to_string(),
                )
            })
        }
        // Addresses.
        "ipv4_is_private" => {
            need(1, 1)?;
            row("ipv4_is_private", KType::Bool, args!(0), |v| match ipv4(&v[0].to_text()) {
                Some((ip, _)) => KVal::Bool(ip.is_private()),
                None => KVal::Null,
            })
        }
        "ipv4_is_match" | "ipv4_is_in_range" => {
            need(2, 3)?;
            let all = (0..n).map(|i| a(p, i)).collect::<Result<Vec<_>, _>>()?;
            let in_range = lower == "ipv4_is_in_range";
            row(&lower, KType::Bool, all, move |v| {
                let (Some((a, pa)), Some((b, pb))) = (ipv4(&v[0].to_text()), ipv4(&v[1].to_text())) else {
                    return KVal::Null;
                };
                let prefix = v.get(2).and_then(KVal::as_long).map(|p| p.clamp(0, 32) as u32).unwrap_or(if in_range {
                    pb
                } else {
                    pa.min(pb)
                });
                let prefix = if in_range { pb.min(prefix) } else { prefix };
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                KVal::Bool(u32::from(a) & mask == u32::from(b) & mask)
            })
        }
        _ => {
            // A user function (let or saved) returning a scalar.
            if let Some(f) = p.function_binding(name) {
                if let LetValue::Expr(body) = f.body.result.as_ref() {
                    let mut scope = std::collections::HashMap::new();
                    for (i, par) in f.params.iter().enumerate() {
                        let v = match (args.get(i), &par.default) {
                            (Some(e), _) => p.constant(e)?,
                            (None, Some(d)) => p.constant(d)?,
                            (None, None) => {
                                return Err(KqlError::at(x.span, format!("{name}() needs its parameter {}", par.name)))
                            }
                        };
                        scope.insert(par.name.clone(), crate::plan::Binding::Scalar(v));
                    }
                    p.scopes.push(scope);
                    let out = expr(p, body, cols);
                    p.scopes.pop();
                    return out;
                }
                return Err(KqlError::at(x.span, format!("{name}() is tabular; use it as a table")));
            }
            let aggregates =
                ["count", "dcount", "sum", "avg", "make_set", "make_list", "arg_max", "arg_min", "countif", "take_any"];
            if aggregates.contains(&lower.as_str()) {
                return Err(KqlError::at(x.span, format!("{name}() is an aggregation; use it in summarize")));
            }
            let hint = did_you_mean(name, FUNCTIONS.iter().copied())
                .map(|m| format!("; did you mean '{m}'?"))
                .unwrap_or_default();
            return Err(KqlError::at(x.span, format!("unknown function '{name}'{hint}")));
        }
    })
}

/// A constant regular-expression argument (shaped by `wrap`), compiled once.
fn const_regex(
    p: &mut Planner<'_>,
    arg: &Expr,
    wrap: impl FnOnce(&str) -> String,
) -> Result<(String, regex::Regex), KqlError> {
    let KVal::Str(text) = p.constant(arg)? else {
        return Err(KqlError::at(arg.span, "the regular expression must be a constant string"));
    };
    let text = wrap(&text);
    let re = regex::Regex::new(&text).map_err(|e| KqlError::at(arg.span, format!("bad regular expression: {e}")))?;
    Ok((text, re))
}

/// Every argument, converted to the first one's type (`coalesce`, `min_of`, …).
fn args_as_first(p: &mut Planner<'_>, args: &[Expr], cols: &[(String, KType)]) -> Result<Vec<Typed>, KqlError> {
    let first = expr(p, &args[0], cols)?;
    let ty = first.t;
    let mut all = vec![first];
    for a in &args[1..] {
        all.push(cast_to(expr(p, a, cols)?, ty));
    }
    Ok(all)
}

/// Kusto's `\1` group references as the regex crate's `${1}`.
fn kusto_rewrite(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                out.push_str(&format!("${{{d}}}"));
                chars.next();
            }
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

/// An IPv4 address or CIDR: the address and prefix length (32 without one).
fn ipv4(s: &str) -> Option<(std::net::Ipv4Addr, u32)> {
    let s = s.trim();
    match s.split_once('/') {
        Some((a, p)) => Some((a.parse().ok()?, p.parse::<u32>().ok().filter(|p| *p <= 32)?)),
        None => Some((s.parse().ok()?, 32)),
    }
}

/// `parse_url`: Kusto's property names.
fn parse_url(s: &str) -> Value {
    let Ok(u) = reqwest_free_url(s) else { return serde_json::json!({}) };
    u
}

fn reqwest_free_url(s: &str) -> Result<Value, ()> {
    let (scheme, rest) = s.split_once("://").ok_or(())?;
    let (before_frag, fragment) = rest.split_once('#').map_or((rest, ""), |(a, b)| (a, b));
    let (before_q, query) = before_frag.split_once('?').map_or((before_frag, ""), |(a, b)| (a, b));
    let (authority, path) = match before_q.find('/') {
        Some(i) => (&before_q[..i], &before_q[i..]),
        None => (before_q, ""),
    };
    let (userinfo, hostport) = authority.rsplit_once('@').map_or(("", authority), |(a, b)| (a, b));
    let (user, pass) = userinfo.split_once(':').map_or((userinfo, ""), |(a, b)| (a, b));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p))
            if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(']')
                || hostport.starts_with('[') && hostport.contains("]:") =>
        {
            let (h, p) = hostport.rsplit_once(':').unwrap_or((hostport, ""));
            (h, p)
        }
        _ => (hostport, ""),
    };
    let params: serde_json::Map<String, Value> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), Value::String(v.to_string()))
        })
        .collect();
    Ok(serde_json::json!({
        "Scheme": scheme, "Host": host, "Port": port, "Path": path, "Username": user, "Password": pass,
        "Query Parameters": params, "Fragment": fragment,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorised string operators (LIKE kernels, regular expressions) agree with
    /// the per-value definitions (`has_term`, `str_test`) on every operator, over terms
    /// at the edges, inside words, with punctuation, case and non-ASCII letters.
    #[test]
    fn needle_expressions_agree_with_the_definitions() {
        let hays = [
            "", "evil", "Evil.Example", "notevil.example", "evil-corp", "host77.example.com", "host777.example.com",
            "https://evil.example/login?u=1", "a.b", "ÉVIL été", "x_evil", "evil_x", "(evil)", "1.2.3.4",
            "c2 phishing", "sub.evil.example.com", "EVILevil",
        ];
        let needles =
            ["", "evil", "EVIL", "evil.example", ".example", "host77", "1.2", "été", "évil", "(evil)", "_x", "e"];
        let array = datafusion::arrow::array::StringArray::from(
            hays.iter().map(|h| Some(*h)).chain([None]).collect::<Vec<Option<&str>>>(),
        );
        let no_nulls = datafusion::arrow::array::StringArray::from(hays.to_vec());
        for &(_, op) in StrOp::ALL {
            if op == StrOp::MatchesRegex {
                continue;
            }
            for n in needles {
                for neg in [false, true] {
                    let m = str_match(op, n, neg).unwrap();
                    let got = m.eval(&array).unwrap();
                    // The last value is null, which reads as "".
                    for (i, h) in hays.iter().chain([&""]).enumerate() {
                        assert_eq!(got.value(i), str_test(op, h, n) != neg, "{op:?} {n:?} negated {neg} on {h:?}");
                    }
                    // Without nulls (the kernel-only path where it applies).
                    let got = m.eval(&no_nulls).unwrap();
                    for (i, h) in hays.iter().enumerate() {
                        assert_eq!(got.value(i), str_test(op, h, n) != neg, "{op:?} {n:?} negated {neg} on {h:?}");
                    }
                }
            }
        }
    }
}
