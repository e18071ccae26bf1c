//! Multi-stage rechunks through temporary storage (DESIGN §4, "Rechunk" (3)).
//!
//! A rechunk whose single-pass gather tasks would not fit the memory limit (a "pancake" to
//! "pencil" rechunk, where every target block needs every source block) cannot be bounded
//! with intermediates held in memory: every pass is all-to-all along some axis, so either the
//! whole input or the whole intermediate array would be held between passes. Instead, each
//! intermediate chunking of the [`plan_rechunk`](crate::ops::rechunk_plan::plan_rechunk) plan
//! is written to temporary storage by a run of its own (a barrier), and the next pass reads
//! its regions back from there; every pass's tasks fit the limit.

use super::lower::rechunk_stages;
use super::node::{Node, NodeRef, Op};
use super::optimize::optimize;
use crate::error::Result;
use crate::io::BlockSource;
use std::collections::HashMap;
use std::sync::Arc;

/// Writes `node` (whose grid is an intermediate chunking) to temporary storage and returns a
/// source over it.
pub(crate) type Materialize<'a> = dyn FnMut(&NodeRef) -> Result<Arc<dyn BlockSource>> + 'a;

/// Rewrites the optimized `roots`, running the intermediate passes of every rechunk that needs
/// stages (through `materialize`) and replacing it by reads of its last intermediate.
pub(crate) fn stage_rechunks(
    roots: &[NodeRef],
    limit: usize,
    materialize: &mut Materialize<'_>,
) -> Result<Vec<NodeRef>> {
    let mut memo = HashMap::new();
    roots
        .iter()
        .map(|r| rewrite(r, limit, materialize, &mut memo))
        .collect()
}

fn rewrite(
    n: &NodeRef,
    limit: usize,
    materialize: &mut Materialize<'_>,
    memo: &mut HashMap<*const Node, NodeRef>,
) -> Result<NodeRef> {
    if let Some(r) = memo.get(&Arc::as_ptr(n)) {
        return Ok(r.clone());
    }
    let old: Vec<NodeRef> = n.inputs().into_iter().cloned().collect();
    let mut new = Vec::with_capacity(old.len());
    for i in &old {
        new.push(rewrite(i, limit, materialize, memo)?);
    }
    let node = if new.iter().zip(&old).all(|(a, b)| Arc::ptr_eq(a, b)) {
        n.clone()
    } else {
        n.with_inputs(new)
    };
    let out = match rechunk_stages(&node, limit) {
        Some(plan) => {
            let Op::Rechunk { input } = &node.op else {
                unreachable!("rechunk_stages only plans rechunks")
            };
            let mut cur = input.clone();
            for g in plan.stages() {
                let pass = Node::new(g.clone(), node.dtype, Op::Rechunk { input: cur });
                let pass = optimize(&[pass]).remove(0);
                let src = materialize(&pass)?;
                cur = Node::new(g.clone(), node.dtype, Op::Source(src));
            }
            let last = Node::new(node.grid.clone(), node.dtype, Op::Rechunk { input: cur });
            optimize(&[last]).remove(0)
        }
        None => node,
    };
    memo.insert(Arc::as_ptr(n), out.clone());
    Ok(out)
}
