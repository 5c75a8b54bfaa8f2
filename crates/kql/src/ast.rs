//! The syntax tree of a KQL query. Every node keeps its span, so the planner's errors
//! (unknown column, wrong type) point at the text too.

use crate::error::Span;

/// A whole query: `let` statements, then the tabular expression whose result is returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub lets: Vec<Let>,
    pub body: Tabular,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Let {
    pub name: String,
    pub span: Span,
    pub value: LetValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LetValue {
    /// A scalar, or a bare name/call that may turn out to be tabular (`let T = Table;`):
    /// the planner decides.
    Expr(Expr),
    Tabular(Box<Tabular>),
    /// `(a:string, b:long = 5) { … }`; `view` marks `view () { … }`.
    Function(Box<Function>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub params: Vec<Param>,
    pub body: FunctionBody,
    pub view: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FunctionBody {
    pub lets: Vec<Let>,
    pub result: Box<LetValue>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    /// `string`, `long`, …; `(*)` for a tabular parameter of any schema.
    pub ty: String,
    pub default: Option<Expr>,
}

/// A source and the operators piped after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tabular {
    pub source: Source,
    pub ops: Vec<Op>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A table, a tabular `let`, or a function called without arguments.
    Name(String, Span),
    /// A function call (`ThreatIntelIndicatorsv2()`, `view`s, `materialize(…)`,
    /// `table("name")`).
    Call(String, Vec<Expr>, Span),
    Union(Union),
    Datatable {
        columns: Vec<(String, String)>,
        values: Vec<Expr>,
        span: Span,
    },
    Print(Vec<Assign>),
    Range {
        column: String,
        from: Box<Expr>,
        to: Box<Expr>,
        step: Box<Expr>,
    },
    Paren(Box<Tabular>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Union {
    pub kind_outer: bool,
    pub with_source: Option<String>,
    pub is_fuzzy: bool,
    pub tables: Vec<Tabular>,
}

/// `Name = expr`, or an expression whose column name is derived.
#[derive(Clone, Debug, PartialEq)]
pub struct Assign {
    pub name: Option<String>,
    pub expr: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Copy)]
pub enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftAnti,
    RightAnti,
    LeftSemi,
    RightSemi,
}

impl JoinKind {
    pub const ALL: &'static [(&'static str, JoinKind)] = &[
        ("innerunique", JoinKind::InnerUnique),
        ("inner", JoinKind::Inner),
        ("leftouter", JoinKind::LeftOuter),
        ("rightouter", JoinKind::RightOuter),
        ("fullouter", JoinKind::FullOuter),
        ("leftanti", JoinKind::LeftAnti),
        ("anti", JoinKind::LeftAnti),
        ("leftantisemi", JoinKind::LeftAnti),
        ("rightanti", JoinKind::RightAnti),
        ("rightantisemi", JoinKind::RightAnti),
        ("leftsemi", JoinKind::LeftSemi),
        ("rightsemi", JoinKind::RightSemi),
    ];
}

/// One `on` condition: `A` (same name both sides) or `$left.A == $right.B`.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinOn {
    pub left: String,
    pub right: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    Where(Expr),
    Project(Vec<Assign>),
    /// Column names, `*` wildcards allowed.
    ProjectAway(Vec<(String, Span)>),
    ProjectKeep(Vec<(String, Span)>),
    /// (new, old)
    ProjectRename(Vec<(String, String, Span)>),
    ProjectReorder(Vec<(String, Span)>),
    Extend(Vec<Assign>),
    Summarize {
        aggs: Vec<Assign>,
        by: Vec<Assign>,
    },
    Count {
        name: Option<String>,
    },
    Take(Expr),
    Top {
        n: Expr,
        by: Box<SortKey>,
    },
    Sort(Vec<SortKey>),
    /// Empty: `distinct *`.
    Distinct(Vec<Expr>),
    MvExpand {
        columns: Vec<Assign>,
        item_index: Option<String>,
        limit: Option<Box<Expr>>,
        to_types: Vec<Option<String>>,
    },
    Join {
        kind: JoinKind,
        right: Box<Tabular>,
        on: Vec<JoinOn>,
    },
    Lookup {
        kind: JoinKind,
        right: Box<Tabular>,
        on: Vec<JoinOn>,
    },
    Union(Union),
    MakeSeries(Box<MakeSeries>),
    Render {
        chart: String,
        props: Vec<(String, Expr)>,
    },
    Parse {
        expr: Expr,
        kind: ParseKind,
        pattern: Vec<ParsePart>,
    },
    As(String),
    Serialize(Vec<Assign>),
    Invoke(String, Vec<Expr>),
    GetSchema,
    Sample(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MakeSeries {
    pub aggs: Vec<(Assign, Option<Expr>)>,
    pub on: Expr,
    pub from: Option<Expr>,
    pub to: Option<Expr>,
    pub step: Expr,
    pub by: Vec<Assign>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseKind {
    Simple,
    Regex,
    Relaxed,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParsePart {
    Literal(String),
    /// A column to fill, with its type (`string` when not given).
    Column(String, String),
    /// `*`: any text.
    Any,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Lit(Lit),
    /// A column, a scalar `let`, or `$left`/`$right` in join conditions.
    Name(String),
    Call(String, Vec<Expr>),
    /// `-x`, `not` is a function.
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// String operators (`has`, `contains_cs`, `matches regex`, …), negated with `!`.
    StrOp {
        op: StrOp,
        negated: bool,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `x in (…)`, `x !in~ (…)`, `has_any`, `has_all`; the list may be a subquery.
    In {
        op: InOp,
        negated: bool,
        left: Box<Expr>,
        list: Vec<Expr>,
    },
    Between {
        negated: bool,
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    /// `x.name`, `x["name"]`
    Member(Box<Expr>, String),
    /// `x[0]`, `x[-1]`, `x[expr]`
    Index(Box<Expr>, Box<Expr>),
    /// `*` as an argument (`arg_max(T, *)`, `count(*)`).
    Star,
    /// A tabular expression in a scalar place: `toscalar(…)`, `in (T | project x)`.
    Tabular(Box<Tabular>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(String),
    /// Microseconds since the epoch.
    DateTime(i64),
    /// Microseconds.
    Timespan(i64),
    Dynamic(serde_json::Value),
    /// `typeof(string)`: a type name where functions take one.
    Type(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`: equal ignoring case.
    EqCi,
    /// `!~`
    NeCi,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    Has,
    HasCs,
    HasPrefix,
    HasPrefixCs,
    HasSuffix,
    HasSuffixCs,
    Contains,
    ContainsCs,
    StartsWith,
    StartsWithCs,
    EndsWith,
    EndsWithCs,
    MatchesRegex,
}

impl StrOp {
    pub const ALL: &'static [(&'static str, StrOp)] = &[
        ("has", StrOp::Has),
        ("has_cs", StrOp::HasCs),
        ("hasprefix", StrOp::HasPrefix),
        ("hasprefix_cs", StrOp::HasPrefixCs),
        ("hassuffix", StrOp::HasSuffix),
        ("hassuffix_cs", StrOp::HasSuffixCs),
        ("contains", StrOp::Contains),
        ("contains_cs", StrOp::ContainsCs),
        ("startswith", StrOp::StartsWith),
        ("startswith_cs", StrOp::StartsWithCs),
        ("endswith", StrOp::EndsWith),
        ("endswith_cs", StrOp::EndsWithCs),
    ];

    pub fn name(self) -> &'static str {
        match self {
            StrOp::MatchesRegex => "matches regex",
            op => StrOp::ALL.iter().find(|(_, o)| *o == op).map(|(n, _)| *n).expect("named"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InOp {
    In,
    /// `in~`: ignoring case.
    InCi,
    HasAny,
    HasAll,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// The column name Kusto gives an unnamed expression: a column's own name, a member
    /// path joined with `_` (`Data.name` → `Data_name`); `None` for anything else, which
    /// the caller names `Column1`, `Column2`, … or after its aggregate (`count_`).
    pub fn derived_name(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Name(n) => Some(n.clone()),
            ExprKind::Member(base, m) => Some(match base.derived_name() {
                Some(b) => format!("{b}_{m}"),
                None => m.clone(),
            }),
            // Kusto names a converted column after what it converts:
            // `summarize count() by tostring(Data.name)` gives `Data_name`.
            ExprKind::Call(f, args)
                if args.len() == 1
                    && matches!(
                        f.to_ascii_lowercase().as_str(),
                        "tostring"
                            | "toint"
                            | "tolong"
                            | "todouble"
                            | "toreal"
                            | "tobool"
                            | "toboolean"
                            | "todatetime"
                            | "totimespan"
                            | "todynamic"
                            | "todecimal"
                            | "toguid"
                    ) =>
            {
                args[0].derived_name()
            }
            ExprKind::Index(base, i) => match (&base.derived_name(), &i.kind) {
                (Some(b), ExprKind::Lit(Lit::Long(n))) => Some(format!("{b}_{n}")),
                (Some(b), ExprKind::Lit(Lit::Str(s))) => Some(format!("{b}_{s}")),
                _ => None,
            },
            _ => None,
        }
    }
}
