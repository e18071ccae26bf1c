//! Reduction trees cut at a level, for engines that run a plan in stages (issue 11, item 6).
//!
//! A reduction's output block is computed by a fixed tree ([`super::lower`]): its input blocks
//! (row-major over the reduced axes) in groups of `group`, one partial per group, combined
//! `split_every` at a time, top down (the groups are split into at most `split_every`
//! contiguous runs of `ceil(len / split_every)`, recursively). Over 750,000 blocks that tree is
//! too much work for one batch of a cluster stage. A [`TreeCut`] is one level range of such a
//! tree: the subtrees at depth `d` (each a contiguous run of groups, or a leaf group reached
//! earlier), computed from the input or from the subtrees at a deeper depth, written as the
//! partials' byte form ([`crate::ops::reduce::Reducer::encode_partial`]), or at depth 0
//! finalized into the reduction's output. The combine order is the whole tree's, so the
//! result is bit-identical to the uncut reduction's.

use super::node::{Node, NodeRef, Op, ReduceSpec};
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::element::DType;
use std::ops::Range;

/// A part of a reduction's tree (see the module docs).
pub(crate) struct TreeCut {
    /// The reduction (its input is the tree's input, even when this part reads partials).
    pub reduce: ReduceSpec,
    /// The reduction's output grid and element type.
    pub out_grid: ChunkGrid,
    pub out_dtype: DType,
    /// Input blocks per partial task (as the local lowering groups them).
    pub group: usize,
    /// The partials this part starts from and their depth; `None`: from the input blocks.
    pub from: Option<(NodeRef, usize)>,
    /// The depth whose partials this part writes; `None`: the reduction's output (depth 0).
    pub to: Option<usize>,
}

impl TreeCut {
    /// The number of groups of one output block's tree.
    pub(crate) fn ngroups(&self) -> usize {
        let blocks: usize = self
            .reduce
            .axes
            .iter()
            .map(|&ax| self.reduce.input.grid.axis(ax).nblocks())
            .product();
        blocks.div_ceil(self.group.max(1))
    }

    /// The tree's fan-out.
    pub(crate) fn split(&self) -> usize {
        self.reduce.split_every.max(2)
    }

    /// The bytes of one state's byte form (`None` when the reduction has none).
    pub(crate) fn state_bytes(&self) -> Option<usize> {
        self.reduce.reducer.state_bytes()
    }

    /// The grid of the partials at depth `depth`: one block per (subtree, output block),
    /// `[subtrees, output axes..., state bytes]`.
    pub(crate) fn partials_grid(&self, depth: usize) -> ChunkGrid {
        let n = subtrees(self.ngroups(), self.split(), depth).len();
        let sb = self.state_bytes().unwrap_or(1);
        let mut axes = vec![AxisChunks::regular(n, 1)];
        axes.extend(self.out_grid.axes().iter().cloned());
        axes.push(AxisChunks::regular(sb, sb));
        ChunkGrid::new(axes)
    }

    /// The node of this part: partials (`u8`) at depth `to`, or the reduction's output.
    pub(crate) fn into_node(self) -> NodeRef {
        let (grid, dtype) = match self.to {
            Some(d) => (self.partials_grid(d), DType::U8),
            None => (self.out_grid.clone(), self.out_dtype),
        };
        Node::new(grid, dtype, Op::TreeCut(self))
    }

    /// This part reading `input` instead (the partials, or the reduction's input).
    pub(crate) fn with_input(&self, input: NodeRef) -> TreeCut {
        let (reduce_input, from) = match &self.from {
            Some((_, d)) => (self.reduce.input.clone(), Some((input, *d))),
            None => (input, None),
        };
        TreeCut {
            reduce: ReduceSpec {
                input: reduce_input,
                ..self.reduce.clone()
            },
            out_grid: self.out_grid.clone(),
            out_dtype: self.out_dtype,
            group: self.group,
            from,
            to: self.to,
        }
    }

    /// The node this part reads.
    pub(crate) fn input(&self) -> &NodeRef {
        match &self.from {
            Some((p, _)) => p,
            None => &self.reduce.input,
        }
    }

    /// A description, with everything the tree's shape depends on (the plan hash covers it).
    pub(crate) fn describe(&self) -> String {
        let from = match &self.from {
            Some((_, d)) => format!("partials at depth {d}"),
            None => "input".to_string(),
        };
        let to = match self.to {
            Some(d) => format!("partials at depth {d}"),
            None => "result".to_string(),
        };
        format!(
            "reduce-cut[{} axes={:?}{} split_every={} group={} input grid {}: {from} to {to}]",
            self.reduce.reducer.name(),
            self.reduce.axes,
            if self.reduce.keepdims {
                " keepdims"
            } else {
                ""
            },
            self.split(),
            self.group,
            self.reduce.input.grid,
        )
    }
}

/// How many groups each child of a tree node over `len` groups takes (the last fewer): the
/// node's groups in at most `split` contiguous runs.
pub(crate) fn per_child(len: usize, split: usize) -> usize {
    len.div_ceil(len.min(split.max(2)).max(1))
}

/// The children of a tree node over groups `r` (none for a leaf: one group).
pub(crate) fn children(r: &Range<usize>, split: usize) -> Vec<Range<usize>> {
    if r.len() <= 1 {
        return Vec::new();
    }
    let per = per_child(r.len(), split);
    (r.start..r.end)
        .step_by(per)
        .map(|s| s..(s + per).min(r.end))
        .collect()
}

/// The subtrees at depth `depth` of the tree over `ngroups` groups, left to right: its nodes
/// at that depth, and the leaves reached above it.
pub(crate) fn subtrees(ngroups: usize, split: usize, depth: usize) -> Vec<Range<usize>> {
    let mut level: Vec<Range<usize>> = std::iter::once(0..ngroups).collect();
    for _ in 0..depth {
        let mut next = Vec::with_capacity(level.len() * split);
        for r in level {
            let c = children(&r, split);
            if c.is_empty() {
                next.push(r);
            } else {
                next.extend(c);
            }
        }
        level = next;
    }
    level
}

/// The depth below which the tree over `ngroups` groups has only leaves (0 for one group).
pub(crate) fn tree_depth(ngroups: usize, split: usize) -> usize {
    let mut d = 0;
    let mut widest = ngroups;
    while widest > 1 {
        widest = per_child(widest, split);
        d += 1;
    }
    d
}

/// The depths of a cut of a tree over `ngroups` groups into stages of about `budget` bytes of
/// work each: first the depth whose subtrees' inputs fit (`input_bytes(groups)` for a run of
/// groups), then each next, shallower depth whose subtrees read at most `budget` of the deeper
/// partials (`partial_bytes` each; at least one level up per stage). Empty when the whole tree
/// fits one stage or has one group.
pub(crate) fn cut_depths(
    ngroups: usize,
    split: usize,
    budget: usize,
    input_bytes: &dyn Fn(usize) -> usize,
    partial_bytes: usize,
) -> Vec<usize> {
    if ngroups <= 1 || input_bytes(ngroups) <= budget {
        return Vec::new();
    }
    let max = tree_depth(ngroups, split);
    let widest = |d: usize| {
        subtrees(ngroups, split, d)
            .iter()
            .map(Range::len)
            .max()
            .unwrap_or(0)
    };
    let first = (1..=max)
        .find(|&d| input_bytes(widest(d)) <= budget)
        .unwrap_or(max);
    let mut depths = vec![first];
    let mut cur = first;
    while cur > 1 {
        let leaves = subtrees(ngroups, split, cur);
        let fan_in = |d: usize| {
            let mut k = 0;
            subtrees(ngroups, split, d)
                .iter()
                .map(|r| {
                    let start = k;
                    while k < leaves.len() && leaves[k].start < r.end {
                        k += 1;
                    }
                    k - start
                })
                .max()
                .unwrap_or(0)
        };
        let next = (0..cur)
            .find(|&d| fan_in(d).saturating_mul(partial_bytes) <= budget)
            .unwrap_or(cur - 1);
        if next == 0 {
            break;
        }
        depths.push(next);
        cur = next;
    }
    depths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtrees_cover_the_groups_in_order_at_every_depth() {
        for (n, split) in [(1, 4), (2, 4), (7, 4), (46_875, 4), (100, 8), (17, 2)] {
            let max = tree_depth(n, split);
            for d in 0..=max + 1 {
                let s = subtrees(n, split, d);
                assert_eq!(s.first().map(|r| r.start), Some(0));
                assert!(s.windows(2).all(|w| w[0].end == w[1].start));
                assert_eq!(s.last().map(|r| r.end), Some(n));
            }
            assert!(subtrees(n, split, max).iter().all(|r| r.len() == 1));
            if max > 0 {
                assert!(subtrees(n, split, max - 1).iter().any(|r| r.len() > 1));
            }
        }
        // 10 groups by 4: runs of 3, 3, 3, 1; then leaves.
        assert_eq!(subtrees(10, 4, 1), vec![0..3, 3..6, 6..9, 9..10]);
        assert_eq!(subtrees(10, 4, 2).len(), 10);
    }

    #[test]
    fn cut_depths_fit_the_budget_and_climb_to_the_root() {
        // 46,875 groups of 64 MiB (ERA5 mean over time): leaves first, then levels.
        let g = 64usize << 20;
        let d = cut_depths(46_875, 4, 256 << 20, &|k| k * g, 16 << 20);
        assert!(!d.is_empty());
        assert!(d.windows(2).all(|w| w[0] > w[1]), "{d:?}");
        let widest = subtrees(46_875, 4, d[0]).iter().map(Range::len).max();
        assert!(widest.unwrap() * g <= 256 << 20);
        // A tree that fits is not cut; nor is a single group.
        assert!(cut_depths(10, 4, 1 << 30, &|k| k * g, 16 << 20).is_empty());
        assert!(cut_depths(1, 4, 1, &|k| k * g, 16 << 20).is_empty());
    }
}
