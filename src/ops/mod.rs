//! Block kernels: fused elementwise evaluation, reductions, rechunk assembly.

pub(crate) mod fused;
pub(crate) mod kernels;
pub(crate) mod reduce;
