//! Operators: the vocabulary of Sentinel's threat-intelligence query API
//! (`ConditionClause.operator`), plus regular expressions.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    NotEquals,
    LessThan,
    LessThanEqual,
    GreaterThan,
    GreaterThanEqual,
    StringContains,
    StringNotContains,
    StringStartsWith,
    StringNotStartsWith,
    StringEndsWith,
    StringNotEndsWith,
    StringIsEmpty,
    IsNull,
    IsTrue,
    IsFalse,
    ArrayContains,
    ArrayNotContains,
    OnOrAfterRelative,
    AfterRelative,
    OnOrBeforeRelative,
    BeforeRelative,
    OnOrAfterAbsolute,
    AfterAbsolute,
    OnOrBeforeAbsolute,
    BeforeAbsolute,
    MatchesRegex,
    NotMatchesRegex,
}

use Operator::*;

pub const ALL: &[Operator] = &[
    Equals, NotEquals, LessThan, LessThanEqual, GreaterThan, GreaterThanEqual, StringContains, StringNotContains,
    StringStartsWith, StringNotStartsWith, StringEndsWith, StringNotEndsWith, StringIsEmpty, IsNull, IsTrue, IsFalse,
    ArrayContains, ArrayNotContains, OnOrAfterRelative, AfterRelative, OnOrBeforeRelative, BeforeRelative,
    OnOrAfterAbsolute, AfterAbsolute, OnOrBeforeAbsolute, BeforeAbsolute, MatchesRegex, NotMatchesRegex,
];

/// How many values an operator takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    None,
    AtLeastOne,
}

impl Operator {
    pub fn name(self) -> &'static str {
        match self {
            Equals => "Equals",
            NotEquals => "NotEquals",
            LessThan => "LessThan",
            LessThanEqual => "LessThanEqual",
            GreaterThan => "GreaterThan",
            GreaterThanEqual => "GreaterThanEqual",
            StringContains => "StringContains",
            StringNotContains => "StringNotContains",
            StringStartsWith => "StringStartsWith",
            StringNotStartsWith => "StringNotStartsWith",
            StringEndsWith => "StringEndsWith",
            StringNotEndsWith => "StringNotEndsWith",
            StringIsEmpty => "StringIsEmpty",
            IsNull => "IsNull",
            IsTrue => "IsTrue",
            IsFalse => "IsFalse",
            ArrayContains => "ArrayContains",
            ArrayNotContains => "ArrayNotContains",
            OnOrAfterRelative => "OnOrAfterRelative",
            AfterRelative => "AfterRelative",
            OnOrBeforeRelative => "OnOrBeforeRelative",
            BeforeRelative => "BeforeRelative",
            OnOrAfterAbsolute => "OnOrAfterAbsolute",
            AfterAbsolute => "AfterAbsolute",
            OnOrBeforeAbsolute => "OnOrBeforeAbsolute",
            BeforeAbsolute => "BeforeAbsolute",
            MatchesRegex => "MatchesRegex",
            NotMatchesRegex => "NotMatchesRegex",
        }
    }

    /// Reads an operator name, in any case; `=`, `!=`, `<`, `<=`, `>`, `>=` and `~` (regex)
    /// are accepted as shorthands.
    pub fn parse(s: &str) -> Result<Operator, String> {
        let short = match s {
            "=" | "==" => Some(Equals),
            "!=" => Some(NotEquals),
            "<" => Some(LessThan),
            "<=" => Some(LessThanEqual),
            ">" => Some(GreaterThan),
            ">=" => Some(GreaterThanEqual),
            "~" => Some(MatchesRegex),
            "!~" => Some(NotMatchesRegex),
            _ => None,
        };
        if let Some(op) = short {
            return Ok(op);
        }
        ALL.iter().copied().find(|op| op.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|o| o.name()).collect();
            format!("unknown operator '{s}'; use one of {}", names.join(", "))
        })
    }

    pub fn arity(self) -> Arity {
        match self {
            StringIsEmpty | IsNull | IsTrue | IsFalse => Arity::None,
            _ => Arity::AtLeastOne,
        }
    }

    /// For the negated operators, the positive operator they negate: a negated clause
    /// holds exactly where its positive form (same values, same connective) does not.
    pub fn positive(self) -> Option<Operator> {
        Some(match self {
            NotEquals => Equals,
            StringNotContains => StringContains,
            StringNotStartsWith => StringStartsWith,
            StringNotEndsWith => StringEndsWith,
            ArrayNotContains => ArrayContains,
            NotMatchesRegex => MatchesRegex,
            _ => return None,
        })
    }

    pub fn is_relative(self) -> bool {
        matches!(self, OnOrAfterRelative | AfterRelative | OnOrBeforeRelative | BeforeRelative)
    }

    pub fn is_absolute(self) -> bool {
        matches!(self, OnOrAfterAbsolute | AfterAbsolute | OnOrBeforeAbsolute | BeforeAbsolute)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
