//! Block kernels and the pure planners behind them: fused elementwise evaluation, tree
//! reductions, rechunk planning and assembly.

pub(crate) mod arith;
pub(crate) mod expr;
pub(crate) mod fused;
pub(crate) mod group;
pub(crate) mod kernels;
pub(crate) mod mean;
pub(crate) mod quantile;
pub(crate) mod rechunk_plan;
pub(crate) mod reduce;
pub(crate) mod scan;
pub(crate) mod window;
