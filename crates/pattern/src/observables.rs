//! Observable extraction: the equality comparisons of a pattern as the (key, value)
//! pairs of Microsoft Sentinel's `ThreatIntelIndicators` table (`ObservableKey`, "the
//! entire left-hand side of an equality comparison", and `ObservableValue`, its
//! right-hand side).
//!
//! Sentinel splits compound patterns wrongly (Azure-Sentinel issue 12075); here every
//! comparison is taken from the tree, so `AND`, `OR`, parentheses and several
//! observations make no difference to what is found. Only plain equality counts: `=`
//! (or `==`) without `NOT`; `!=`, `NOT =`, `IN` and the other operators give nothing.

use crate::ast::{ComparisonExpr, ComparisonOp, Literal, ObservationExpr, Pattern};

/// One equality comparison of a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Observable {
    /// The object path in pattern syntax, canonically spelled (quoted only where the
    /// grammar needs quotes): `ipv4-addr:value`, `file:hashes.'SHA-256'`,
    /// `network-traffic:src_ref.value`, `x:list[0].y`, `x:list[*]`.
    pub key: String,
    /// The literal's value as text: a string unescaped, a number in decimal (a float
    /// always with a fractional part, `7.0`), `true`/`false`, `h'…'` as its lower-case
    /// hex digits, `b'…'` as its base64 text, `t'…'` as the timestamp written.
    pub value: String,
    /// Which observation (`[…]`) it is in, counting from 0 in source order.
    pub observation: usize,
}

/// Every equality comparison of the pattern, in source order.
pub fn observables(pattern: &Pattern) -> Vec<Observable> {
    let mut out = Vec::new();
    let mut observation = 0;
    // Explicit stacks: machine-made patterns can be wide (they are flat lists) or deep.
    let mut stack = vec![&pattern.expr];
    while let Some(e) = stack.pop() {
        match e {
            ObservationExpr::Observation(c) => {
                let mut cmps = vec![c];
                while let Some(c) = cmps.pop() {
                    match c {
                        ComparisonExpr::Comparison(cmp) => {
                            if let (ComparisonOp::Equal(lit), false) = (&cmp.op, cmp.negated) {
                                out.push(Observable {
                                    key: cmp.path.to_string(),
                                    value: literal_text(lit),
                                    observation,
                                });
                            }
                        }
                        ComparisonExpr::And(v) | ComparisonExpr::Or(v) => cmps.extend(v.iter().rev()),
                    }
                }
                observation += 1;
            }
            ObservationExpr::And(v) | ObservationExpr::Or(v) | ObservationExpr::FollowedBy(v) => {
                stack.extend(v.iter().rev())
            }
            ObservationExpr::Qualified { expr, .. } => stack.push(expr),
        }
    }
    out
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::String(s) => s.clone(),
        Literal::Timestamp(t) => t.to_string(),
        Literal::Hex(_) | Literal::Binary(_) => {
            // The canonical literal without its `h'`/`b'` and closing quote.
            let text = l.to_string();
            text[2..text.len() - 1].to_owned()
        }
        other => other.to_string(),
    }
}
