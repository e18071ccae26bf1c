//! Optimizer rules, applied bottom-up to a fixed point in one memoized pass:
//!
//! 1. `Rechunk(x)` where `x` already has the target grid → `x`.
//! 2. `Rechunk(Source)` → the source read with the target grid (regions are read directly).
//! 3. `Rechunk(Rechunk(x))` → `Rechunk(x)`.
//! 4. `Rechunk(Elementwise(inputs))` → `Elementwise(Rechunk(inputs))`: the rechunk is pushed to
//!    the leaves, where rules 1–3 usually make it free.
//! 5. `Elementwise(.., Elementwise(..), ..)` → one `Elementwise` with the inner expression
//!    inlined: chains of elementwise operations become one kernel per block.
//! 6. `Slice(Source)` → the source read through the slice (only the sliced regions are read);
//!    `Slice(Elementwise(inputs))` → `Elementwise(Slice(inputs))`, each input sliced on its own
//!    axes (broadcast axes kept whole); any other slice stays a block slice of its input.
//!
//! 7. `Reduce(x)` over many small blocks (more than 4096, under 512 KiB): `x` is read in
//!    blocks of whole multiples along the reduced axes, about 1 MiB each, when that pushes down
//!    to its sources for free (rules 1, 2, 4). The output's blocks are unchanged; the plan has
//!    a task per read block instead of per stored block (a sum over 10⁶ blocks of 4 KiB is
//!    about 4,000 reads, not 10⁶), which keeps the plan small and per-task costs amortized.
//!
//! Rechunks whose single-pass gathers would not fit the memory limit are staged at run time
//! ([`super::stage`]), not here: the plan depends on the limit.

use super::node::{Node, NodeRef, Op, ReduceSpec};
use super::slice::{SliceFn, SliceSpec, SlicedSource};
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::ops::expr::{Expr, ExprNode};
use std::collections::HashMap;
use std::sync::Arc;

/// Rewrites the graph under `roots`; returns the new roots in the same order.
pub(crate) fn optimize(roots: &[NodeRef]) -> Vec<NodeRef> {
    let mut memo = HashMap::new();
    roots.iter().map(|r| opt(r, &mut memo)).collect()
}

fn opt(n: &NodeRef, memo: &mut HashMap<*const Node, NodeRef>) -> NodeRef {
    if let Some(r) = memo.get(&Arc::as_ptr(n)) {
        return r.clone();
    }
    let out = match &n.op {
        // Cuts are made of optimized reductions (by the engine's stage cut).
        Op::Source(_) | Op::TreeCut(_) => n.clone(),
        Op::Rechunk { input } => {
            let input = opt(input, memo);
            rechunk_to(&input, &n.grid)
        }
        Op::Elementwise { expr, inputs } => {
            let inputs: Vec<NodeRef> = inputs.iter().map(|i| opt(i, memo)).collect();
            fuse(n, expr, &inputs)
        }
        Op::Scan { input, axis, op } => {
            let new = opt(input, memo);
            if Arc::ptr_eq(&new, input) {
                n.clone()
            } else {
                Node::new(
                    n.grid.clone(),
                    n.dtype,
                    Op::Scan {
                        input: new,
                        axis: *axis,
                        op: op.clone(),
                    },
                )
            }
        }
        Op::Reduce(r) => {
            let input = coarsen_for_reduce(&opt(&r.input, memo), &r.axes);
            if Arc::ptr_eq(&input, &r.input) {
                n.clone()
            } else {
                Node::new(
                    n.grid.clone(),
                    n.dtype,
                    Op::Reduce(ReduceSpec {
                        input,
                        axes: r.axes.clone(),
                        keepdims: r.keepdims,
                        split_every: r.split_every,
                        reducer: r.reducer.clone(),
                    }),
                )
            }
        }
        Op::GroupReduce(g) => {
            let input = opt(&g.input, memo);
            if Arc::ptr_eq(&input, &g.input) {
                n.clone()
            } else {
                Node::new(
                    n.grid.clone(),
                    n.dtype,
                    Op::GroupReduce(g.with_input(input)),
                )
            }
        }
        Op::Blocks { f, inputs } => {
            let new: Vec<NodeRef> = inputs.iter().map(|i| opt(i, memo)).collect();
            if let Some(spec) = f.as_slice() {
                slice_node(&new[0], spec)
            } else if new.iter().zip(inputs).all(|(a, b)| Arc::ptr_eq(a, b)) {
                n.clone()
            } else {
                Node::new(
                    n.grid.clone(),
                    n.dtype,
                    Op::Blocks {
                        f: f.clone(),
                        inputs: new,
                    },
                )
            }
        }
    };
    memo.insert(Arc::as_ptr(n), out.clone());
    out
}

/// `input` (already optimized) sliced by `spec`: a sliced read of a source, a slice pushed
/// through an elementwise node to its inputs (respecting broadcasting), or else a slice node.
pub(crate) fn slice_node(input: &NodeRef, spec: &SliceSpec) -> NodeRef {
    if spec.is_identity(&input.shape) {
        return input.clone();
    }
    let grid = spec.out_grid(&input.grid);
    match &input.op {
        Op::Source(s) => Node::new(
            grid,
            input.dtype,
            Op::Source(Arc::new(SlicedSource::new(s.clone(), spec.clone()))),
        ),
        Op::Elementwise { expr, inputs } => {
            let inputs: Vec<NodeRef> = inputs
                .iter()
                .map(|i| slice_node(i, &spec.for_broadcast_input(&i.shape, &input.shape)))
                .collect();
            let shell = Node::new(
                grid,
                input.dtype,
                Op::Elementwise {
                    expr: expr.clone(),
                    inputs: inputs.clone(),
                },
            );
            fuse(&shell, expr, &inputs)
        }
        _ => Node::new(
            grid,
            input.dtype,
            Op::Blocks {
                f: Arc::new(SliceFn { spec: spec.clone() }),
                inputs: vec![input.clone()],
            },
        ),
    }
}

/// `input` (already optimized) with grid `target`, applying rules 1–4.
/// Rule 7: `input` of a reduction over `axes`, read in blocks of about 1 MiB merged along the
/// reduced axes when it has many small blocks and the coarser grid pushes down to its sources
/// (no rechunk task appears); else `input` itself.
fn coarsen_for_reduce(input: &NodeRef, axes: &[usize]) -> NodeRef {
    const MANY: usize = 4096;
    const TARGET: usize = 1 << 20;
    let g = &input.grid;
    let block = g.max_block_len() * input.dtype.size();
    if g.nblocks() <= MANY || block == 0 || block >= TARGET / 2 {
        return input.clone();
    }
    if !reads_only_sources(input) {
        return input.clone();
    }
    // Merge blocks along the reduced axes, innermost first, until a block is about TARGET.
    let mut factor = TARGET / block;
    let mut new_axes: Vec<AxisChunks> = g.axes().to_vec();
    for &ax in axes.iter().rev() {
        if factor < 2 {
            break;
        }
        let sizes = g.axis(ax).sizes();
        let m = factor.min(sizes.len()).max(1);
        if m < 2 {
            continue;
        }
        let merged: Vec<usize> = sizes.chunks(m).map(|c| c.iter().sum()).collect();
        new_axes[ax] = AxisChunks::from_sizes(&merged);
        factor /= m;
    }
    let target = ChunkGrid::new(new_axes);
    if &target == g {
        return input.clone();
    }
    let out = rechunk_to(input, &target);
    if reads_only_sources(&out) {
        out
    } else {
        input.clone()
    }
}

/// Whether `n` is a source, or an elementwise expression whose inputs are all sources (so it
/// can be read in any blocks without a rechunk task).
fn reads_only_sources(n: &Node) -> bool {
    match &n.op {
        Op::Source(_) => true,
        Op::Elementwise { inputs, .. } => inputs.iter().all(|i| matches!(i.op, Op::Source(_))),
        _ => false,
    }
}

/// For plans that do not fit even frugally: each reduction whose partial for one output block
/// would take more than an eighth of `limit` computes its output blocks in pieces, split along
/// kept axes (each piece's partial then fits), and gathers the pieces into the output blocks
/// (`Rechunk(Reduce(x'))`, with `x'` the input read in the finer blocks). Store chunks are
/// then decoded once per piece: slower, but bounded. Applies where the reduction's input is a
/// source or an elementwise expression of sources; other reductions are kept.
pub(crate) fn split_reductions(
    n: &NodeRef,
    limit: usize,
    memo: &mut HashMap<*const Node, NodeRef>,
) -> NodeRef {
    if let Some(r) = memo.get(&Arc::as_ptr(n)) {
        return r.clone();
    }
    let inputs: Vec<&NodeRef> = n.inputs();
    let new_inputs: Vec<NodeRef> = inputs
        .iter()
        .map(|i| split_reductions(i, limit, memo))
        .collect();
    let changed = inputs
        .iter()
        .zip(&new_inputs)
        .any(|(a, b)| !Arc::ptr_eq(a, b));
    let rebuilt = if changed {
        n.with_inputs(new_inputs)
    } else {
        n.clone()
    };
    let out = match &rebuilt.op {
        Op::Reduce(r) => split_reduce(&rebuilt, r, limit / 8).unwrap_or_else(|| rebuilt.clone()),
        _ => rebuilt,
    };
    memo.insert(Arc::as_ptr(n), out.clone());
    out
}

/// `Rechunk(Reduce(finer input))` for reduction node `n` when its partial per output block
/// exceeds `budget` and its input is read from sources; `None` otherwise.
fn split_reduce(n: &NodeRef, r: &ReduceSpec, budget: usize) -> Option<NodeRef> {
    let g = &r.input.grid;
    let kept: Vec<usize> = (0..g.ndim()).filter(|ax| !r.axes.contains(ax)).collect();
    let elems: usize = kept.iter().map(|&ax| g.axis(ax).max_size()).product();
    let partial = r.reducer.partial_bytes(elems);
    if partial <= budget.max(1) || kept.is_empty() {
        return None;
    }
    let mut need = partial.div_ceil(budget.max(1));
    let mut axes: Vec<AxisChunks> = g.axes().to_vec();
    // Split the kept axes with the longest blocks first.
    let mut order = kept.clone();
    order.sort_by_key(|&ax| std::cmp::Reverse(g.axis(ax).max_size()));
    for ax in order {
        if need <= 1 {
            break;
        }
        let longest = g.axis(ax).max_size();
        let pieces = need.min(longest).max(1);
        if pieces < 2 {
            continue;
        }
        let piece = longest.div_ceil(pieces);
        let sizes: Vec<usize> = g
            .axis(ax)
            .sizes()
            .iter()
            .flat_map(|&c| {
                let k = c.div_ceil(piece).max(1);
                let base = c / k;
                let extra = c % k;
                (0..k).map(move |i| base + usize::from(i < extra))
            })
            .collect();
        axes[ax] = AxisChunks::from_sizes(&sizes);
        need = need.div_ceil(pieces);
    }
    let finer = ChunkGrid::new(axes);
    // The sources read in the finer blocks, even where that decodes a store chunk once per
    // piece (what makes the pieces fit).
    let regrid = |n: &NodeRef, g: &ChunkGrid| match &n.op {
        Op::Source(src) => Some(Node::new(g.clone(), n.dtype, Op::Source(src.clone()))),
        _ => None,
    };
    let input = match &r.input.op {
        Op::Source(_) => regrid(&r.input, &finer)?,
        Op::Elementwise { expr, inputs } => {
            let inputs = inputs
                .iter()
                .map(|i| regrid(i, &input_grid_for(&i.shape, &finer)))
                .collect::<Option<Vec<NodeRef>>>()?;
            Node::new(
                finer.clone(),
                r.input.dtype,
                Op::Elementwise {
                    expr: expr.clone(),
                    inputs,
                },
            )
        }
        _ => return None,
    };
    let spec = ReduceSpec {
        input,
        axes: r.axes.clone(),
        keepdims: r.keepdims,
        split_every: r.split_every,
        reducer: r.reducer.clone(),
    };
    let reduced = Node::new(spec.out_grid(), n.dtype, Op::Reduce(spec));
    Some(Node::new(
        n.grid.clone(),
        n.dtype,
        Op::Rechunk { input: reduced },
    ))
}

fn rechunk_to(input: &NodeRef, target: &ChunkGrid) -> NodeRef {
    if &input.grid == target {
        return input.clone();
    }
    match &input.op {
        Op::Source(s) if regrid_is_cheap(s.as_ref(), target) => {
            Node::new(target.clone(), input.dtype, Op::Source(s.clone()))
        }
        Op::Rechunk { input: inner } => rechunk_to(inner, target),
        Op::Elementwise { expr, inputs } => {
            let inputs: Vec<NodeRef> = inputs
                .iter()
                .map(|i| {
                    let g = input_grid_for(&i.shape, target);
                    rechunk_to(i, &g)
                })
                .collect();
            let shell = Node::new(
                target.clone(),
                input.dtype,
                Op::Elementwise {
                    expr: expr.clone(),
                    inputs: inputs.clone(),
                },
            );
            fuse(&shell, expr, &inputs)
        }
        _ => Node::new(
            target.clone(),
            input.dtype,
            Op::Rechunk {
                input: input.clone(),
            },
        ),
    }
}

/// Whether reading `target`-shaped regions straight from `src` is cheap: always for in-memory
/// and generated sources, and for stores when the chunks each region overlaps hold at most
/// twice the region's bytes. Otherwise (pancake to pencil: every pencil touches every pancake)
/// the rechunk reads whole store chunks and reassembles them instead.
fn regrid_is_cheap(src: &dyn crate::io::BlockSource, target: &ChunkGrid) -> bool {
    if src.as_memory().is_some() {
        return true;
    }
    let Some(natural) = src.natural_chunks() else {
        return true;
    };
    let mut amplification = 1.0f64;
    for (ax, a) in target.axes().iter().enumerate() {
        let (len, c) = (a.len(), natural.get(ax).copied().unwrap_or(1).max(1));
        if len == 0 {
            continue;
        }
        let decoded: usize = (0..a.nblocks())
            .map(|b| {
                let r = a.range(b);
                let lo = r.start / c * c;
                let hi = (r.end.div_ceil(c) * c).min(len);
                hi - lo
            })
            .sum();
        amplification *= decoded as f64 / len as f64;
    }
    amplification <= 2.0
}

/// The grid an input of shape `shape` needs to be broadcast against an output with grid `out`:
/// the output's chunks on the input's non-broadcast axes, one block on broadcast ones.
pub(crate) fn input_grid_for(shape: &[usize], out: &ChunkGrid) -> ChunkGrid {
    let off = out.ndim() - shape.len();
    ChunkGrid::new(
        shape
            .iter()
            .enumerate()
            .map(|(k, &len)| {
                let o = out.axis(k + off);
                if len == o.len() {
                    o.clone()
                } else {
                    AxisChunks::regular(len, len.max(1))
                }
            })
            .collect(),
    )
}

/// Inlines elementwise inputs of `n` (with optimized `inputs`) into one node.
fn fuse(n: &NodeRef, expr: &Expr, inputs: &[NodeRef]) -> NodeRef {
    let mut new_inputs: Vec<NodeRef> = Vec::new();
    let slot = |node: &NodeRef, new_inputs: &mut Vec<NodeRef>| -> usize {
        if let Some(k) = new_inputs.iter().position(|x| Arc::ptr_eq(x, node)) {
            k
        } else {
            new_inputs.push(node.clone());
            new_inputs.len() - 1
        }
    };
    // The replacement expression for each of the old inputs.
    let mut replacement: Vec<Expr> = Vec::with_capacity(inputs.len());
    for inp in inputs {
        match &inp.op {
            Op::Elementwise {
                expr: inner,
                inputs: inner_inputs,
            } => {
                let map: Vec<usize> = inner_inputs
                    .iter()
                    .map(|ii| slot(ii, &mut new_inputs))
                    .collect();
                let mut memo = HashMap::new();
                replacement.push(remap(
                    inner,
                    &|k| Arc::new(ExprNode::Input(map[k], inner_inputs[k].dtype)),
                    &mut memo,
                ));
            }
            _ => {
                let k = slot(inp, &mut new_inputs);
                replacement.push(Arc::new(ExprNode::Input(k, inp.dtype)));
            }
        }
    }
    let mut memo = HashMap::new();
    let new_expr = remap(expr, &|k| replacement[k].clone(), &mut memo);
    let unchanged = new_inputs.len() == inputs.len()
        && new_inputs
            .iter()
            .zip(inputs)
            .all(|(a, b)| Arc::ptr_eq(a, b))
        && matches!(&n.op, Op::Elementwise { inputs: orig, .. } if orig.iter().zip(inputs).all(|(a, b)| Arc::ptr_eq(a, b)));
    if unchanged {
        return n.clone();
    }
    Node::new(
        n.grid.clone(),
        n.dtype,
        Op::Elementwise {
            expr: new_expr,
            inputs: new_inputs,
        },
    )
}

/// `e` with every `Input(k)` replaced by `leaf(k)`; shared sub-expressions stay shared.
fn remap(
    e: &Expr,
    leaf: &dyn Fn(usize) -> Expr,
    memo: &mut HashMap<*const ExprNode, Expr>,
) -> Expr {
    if let Some(r) = memo.get(&Arc::as_ptr(e)) {
        return r.clone();
    }
    let r = match &**e {
        ExprNode::Input(k, _) => leaf(*k),
        ExprNode::Call(f, args) => Arc::new(ExprNode::Call(
            f.clone(),
            args.iter().map(|a| remap(a, leaf, memo)).collect(),
        )),
    };
    memo.insert(Arc::as_ptr(e), r.clone());
    r
}
