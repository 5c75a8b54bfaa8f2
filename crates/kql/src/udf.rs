//! Kusto functions as DataFusion scalar functions, written per row over [`KVal`]s.
//!
//! Per-row functions keep each Kusto function's semantics in one small Rust function
//! (nulls, case rules, dynamic values) instead of a tangle of Arrow kernels; DataFusion
//! still runs them over batches on every core. Hot paths can get vectorised versions
//! later without changing the planner.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr as DfExpr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::value::{build, get, KType, KVal};

/// The body of a row function: the argument values of one row, and its result.
pub type RowFn = Arc<dyn Fn(&[KVal]) -> KVal + Send + Sync>;

/// A scalar function evaluated row by row; `ret` is fixed when the plan is made.
pub struct RowUdf {
    name: String,
    /// Tells apart instances with other captured constants (a compiled regex, …).
    key: String,
    ret: KType,
    sig: Signature,
    f: RowFn,
}

impl fmt::Debug for RowUdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowUdf({}:{})", self.name, self.ret.name())
    }
}

impl PartialEq for RowUdf {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.key == o.key && self.ret == o.ret
    }
}

impl Eq for RowUdf {}

impl Hash for RowUdf {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name.hash(h);
        self.key.hash(h);
        self.ret.hash(h);
    }
}

impl ScalarUDFImpl for RowUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.sig
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(self.ret.arrow())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays: Vec<_> =
            args.args.iter().map(|a| a.to_array(if all_scalar { 1 } else { n })).collect::<DfResult<_>>()?;
        let rows = if all_scalar { 1 } else { n };
        let mut vals = Vec::with_capacity(arrays.len());
        let out = build(
            self.ret,
            (0..rows).map(|r| {
                vals.clear();
                vals.extend(arrays.iter().map(|a| get(a.as_ref(), r)));
                (self.f)(&vals)
            }),
        );
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// A call of a row function over `args`.
pub fn call(name: &str, key: &str, ret: KType, args: Vec<DfExpr>, f: RowFn) -> DfExpr {
    let udf = RowUdf {
        name: name.to_string(),
        key: key.to_string(),
        ret,
        sig: Signature::variadic_any(Volatility::Immutable),
        f,
    };
    ScalarUDF::from(udf).call(args)
}
