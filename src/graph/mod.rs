//! The lazy plan: array-level nodes (never one object per block), the optimizer that rewrites
//! them, and the lowering to block tasks.
//!
//! A [`crate::ChunkedArray`] holds an `Arc<Node>`; operations build new nodes that point at
//! their inputs, so building an expression costs the same for ten blocks as for a million.
//! At `compute` the DAG reachable from the requested outputs is optimized
//! ([`optimize::optimize`]), then lowered to tasks ([`lower`]).

pub(crate) mod blockfn;
pub(crate) mod explain;
pub(crate) mod group;
pub(crate) mod layout;
pub(crate) mod lower;
pub(crate) mod node;
pub(crate) mod optimize;
pub(crate) mod slice;
#[cfg(feature = "zarr")]
pub(crate) mod stage;
pub(crate) mod structure;
// Cut only by the engines' stages (which need Zarr for their intermediates).
#[cfg_attr(not(feature = "zarr"), allow(dead_code))]
pub(crate) mod treecut;

pub(crate) use node::{Node, NodeRef, Op};
