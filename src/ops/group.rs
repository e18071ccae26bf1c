//! Grouped reductions along one axis (xarray's `groupby(...).reduce`, flox's strategies): the
//! choice of *cohorts* (runs of groups reduced together, each an output block along the group
//! axis, reading only the input blocks that hold them), and the partial kernel that folds a
//! block's positions into the states of their groups.
//!
//! Every strategy is one shape of the same plan: each output block along the group axis is a
//! [`Cohort`] (a contiguous run of groups in sorted label order) with the input blocks along
//! the axis that hold any of its positions; its partials (one per group of input blocks, the
//! axis `|cohort|` long) are combined in a fixed tree and finalized.
//!
//! - *blockwise*: every group lies inside one input block, and the blocks' groups follow each
//!   other in sorted order: each cohort is one input block's groups, one task, no combine.
//! - *cohorts*: consecutive groups that occupy the same input blocks form one cohort (months
//!   of daily data in 1-step chunks: each month's output block reads only its own days).
//! - *map-reduce*: one cohort of all groups; every input block emits partials for all of them.

use crate::chunks::AxisChunks;
use crate::element::{AnyArray, AnyView, DType};
use crate::error::{Error, Result};
use crate::exec::heap::HeapBytes;
use crate::exec::task::{Kernel, TaskCtx, Value};
use crate::ops::kernels::Leaf;
use crate::ops::reduce::{PartialInput, Reducer};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The code of a position that belongs to no group (outside every resample bin).
pub(crate) const NO_GROUP: u32 = u32::MAX;

/// How a grouped reduction is planned (flox's `method`); see
/// [`GroupBy`](crate::GroupBy) for when each is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupMethod {
    /// Each group inside one block along the axis, the blocks' groups in sorted order: one
    /// task per output block, nothing combined (yearly groups of yearly chunks).
    Blockwise,
    /// Groups that occupy the same blocks reduced together, each output block reading only
    /// its own input blocks (months of daily data in 1-day chunks).
    Cohorts,
    /// Every block emits partials for all the groups, combined in one tree (groups spread
    /// over every block: random labels).
    MapReduce,
}

impl fmt::Display for GroupMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupMethod::Blockwise => "blockwise",
            GroupMethod::Cohorts => "cohorts",
            GroupMethod::MapReduce => "map-reduce",
        })
    }
}

/// One output block along the group axis: a contiguous run of groups (sorted order) and the
/// input blocks along the axis that hold its positions (sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cohort {
    pub groups: Range<usize>,
    pub blocks: Vec<usize>,
}

/// Which slot of a partial each position along the axis folds into: the positions whose code
/// lies in `first..first + n`.
#[derive(Clone, Debug)]
pub(crate) struct Slots {
    /// The grouped axis.
    pub axis: usize,
    /// The group code of every position along the axis ([`NO_GROUP`] for none).
    pub codes: Arc<[u32]>,
    /// The first group of the cohort.
    pub first: u32,
    /// The number of groups of the cohort.
    pub n: usize,
}

impl Slots {
    /// The slot of global position `pos` along the axis, if its group is in the cohort.
    #[inline]
    pub(crate) fn slot(&self, pos: usize) -> Option<usize> {
        let c = self.codes[pos];
        (c != NO_GROUP && c >= self.first && ((c - self.first) as usize) < self.n)
            .then(|| (c - self.first) as usize)
    }
}

/// The input blocks along the axis (`chunks`) that hold each of `ngroups` groups, sorted.
fn blocks_of_groups(codes: &[u32], ngroups: usize, chunks: &AxisChunks) -> Vec<Vec<usize>> {
    let mut sets: Vec<Vec<usize>> = vec![Vec::new(); ngroups];
    for b in 0..chunks.nblocks() {
        for p in chunks.range(b) {
            let c = codes[p];
            if c != NO_GROUP {
                let set = &mut sets[c as usize];
                if set.last() != Some(&b) {
                    set.push(b);
                }
            }
        }
    }
    sets
}

/// The cohorts of `method` (chosen when `None`: blockwise when eligible, else cohorts unless
/// they would read the input blocks more than 1.5 times over in all, else map-reduce), with
/// the method used.
///
/// # Errors
/// [`Error::InvalidArgument`] when `Blockwise` is asked for but a group spans several blocks
/// or the blocks' groups are not in sorted order.
pub(crate) fn plan_cohorts(
    codes: &[u32],
    ngroups: usize,
    chunks: &AxisChunks,
    method: Option<GroupMethod>,
) -> Result<(GroupMethod, Vec<Cohort>)> {
    debug_assert!(ngroups > 0);
    let sets = blocks_of_groups(codes, ngroups, chunks);
    // Consecutive groups with the same blocks merge (groups with no position, which only
    // resampling has, join their neighbour).
    let mut runs: Vec<Cohort> = Vec::new();
    for (g, set) in sets.iter().enumerate() {
        match runs.last_mut() {
            Some(last) if set.is_empty() || *set == last.blocks => last.groups.end = g + 1,
            _ => runs.push(Cohort {
                groups: g..g + 1,
                blocks: set.clone(),
            }),
        }
    }
    if runs[0].blocks.is_empty() {
        // Leading groups with no position: they join the first run that has some.
        if runs.len() > 1 {
            let first = runs.remove(0);
            runs[0].groups.start = first.groups.start;
        } else {
            runs[0].blocks.push(0);
        }
    }
    let blockwise_ok = runs.iter().all(|c| c.blocks.len() == 1)
        && runs.windows(2).all(|w| w[0].blocks[0] < w[1].blocks[0]);
    let reads: usize = runs.iter().map(|c| c.blocks.len()).sum();
    let used: Vec<usize> = {
        let mut all: Vec<usize> = runs.iter().flat_map(|c| c.blocks.clone()).collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    let method = match method {
        Some(m) => m,
        None if blockwise_ok => GroupMethod::Blockwise,
        // One cohort of every group over several blocks is the map-reduce plan: say so.
        None if runs.len() == 1 => GroupMethod::MapReduce,
        None if 2 * reads <= 3 * used.len() => GroupMethod::Cohorts,
        None => GroupMethod::MapReduce,
    };
    match method {
        GroupMethod::Blockwise if !blockwise_ok => {
            let spread = sets.iter().position(|s| s.len() > 1);
            Err(Error::InvalidArgument {
                op: "groupby",
                detail: match spread {
                    Some(g) => format!(
                        "method blockwise needs every group inside one block along the axis, \
                         but group {g} (in sorted order) spans blocks {:?}; rechunk the axis \
                         or use cohorts or map-reduce",
                        sets[g]
                    ),
                    None => "method blockwise needs the blocks' groups in sorted label order \
                             along the axis; sort the labels or use cohorts or map-reduce"
                        .into(),
                },
            })
        }
        GroupMethod::Blockwise | GroupMethod::Cohorts => Ok((method, runs)),
        GroupMethod::MapReduce => Ok((
            method,
            vec![Cohort {
                groups: 0..ngroups,
                blocks: used,
            }],
        )),
    }
}

/// Computes the grouped partial of a group of input blocks (evaluating a fused elementwise
/// input into a block first), and with `finalize`, the output block.
pub(crate) struct GroupPartialKernel {
    pub inputs: Vec<PartialInput>,
    pub in_dtype: DType,
    pub slots: Slots,
    pub reducer: Arc<dyn Reducer>,
    pub finalize: Option<Vec<usize>>,
}

impl Kernel for GroupPartialKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        let mut acc: Option<Value> = None;
        for inp in &self.inputs {
            let views: Vec<AnyView<'_>> = inp.leaves.iter().map(|l: &Leaf| l.view(ctx)).collect();
            acc = Some(if inp.program.is_identity_over(&views, &inp.block_shape) {
                self.reducer
                    .partial_grouped(&views[0], &inp.origin, &self.slots, acc)?
            } else {
                let mut block = AnyArray::zeros(self.in_dtype, &inp.block_shape);
                inp.program.eval_into(&views, &mut block.view_mut());
                self.reducer
                    .partial_grouped(&block.view(), &inp.origin, &self.slots, acc)?
            });
        }
        let part = acc.expect("internal: grouped partial task without input");
        Ok(Some(match &self.finalize {
            Some(shape) => Value::Block(self.reducer.finalize(&part, shape)?),
            None => part,
        }))
    }

    fn heap_bytes(&self) -> usize {
        self.inputs.heap_bytes() + self.finalize.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(
        codes: &[u32],
        g: usize,
        chunk: usize,
        m: Option<GroupMethod>,
    ) -> (GroupMethod, Vec<Cohort>) {
        plan_cohorts(codes, g, &AxisChunks::regular(codes.len(), chunk), m).unwrap()
    }

    #[test]
    fn yearly_groups_of_yearly_chunks_are_blockwise() {
        let codes: Vec<u32> = (0..12).map(|p| p / 4).collect();
        let (m, c) = plan(&codes, 3, 4, None);
        assert_eq!(m, GroupMethod::Blockwise);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[1],
            Cohort {
                groups: 1..2,
                blocks: vec![1]
            }
        );
    }

    #[test]
    fn months_of_daily_steps_in_one_step_chunks_are_cohorts() {
        // Two "years" of 6 months of 3 days: month m holds days 3m..3m+3 and 18+3m...
        let codes: Vec<u32> = (0..36).map(|d| (d % 18) / 3).collect();
        let (m, c) = plan(&codes, 6, 1, None);
        assert_eq!(m, GroupMethod::Cohorts);
        assert_eq!(c.len(), 6);
        assert_eq!(c[0].blocks, vec![0, 1, 2, 18, 19, 20]);
    }

    #[test]
    fn groups_spread_over_every_block_are_map_reduce() {
        let codes: Vec<u32> = (0..40).map(|p| p % 4).collect();
        let (m, c) = plan(&codes, 4, 5, None);
        assert_eq!(m, GroupMethod::MapReduce);
        assert_eq!(
            c,
            vec![Cohort {
                groups: 0..4,
                blocks: (0..8).collect()
            }]
        );
        // Forced: blockwise refused, cohorts allowed.
        assert!(
            plan_cohorts(
                &codes,
                4,
                &AxisChunks::regular(40, 5),
                Some(GroupMethod::Blockwise)
            )
            .is_err()
        );
        let (m, c) = plan(&codes, 4, 5, Some(GroupMethod::Cohorts));
        assert_eq!(m, GroupMethod::Cohorts);
        // All groups occupy the same blocks: one cohort.
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn unsorted_groups_in_one_block_are_one_cohort() {
        let codes = [3u32, 1, 0, 2, 1];
        let (m, c) = plan(&codes, 4, 5, None);
        assert_eq!(m, GroupMethod::Blockwise);
        assert_eq!(
            c,
            vec![Cohort {
                groups: 0..4,
                blocks: vec![0]
            }]
        );
    }

    #[test]
    fn positions_of_no_group_are_skipped() {
        let codes = [NO_GROUP, 0, 1, 1, NO_GROUP, NO_GROUP];
        let (m, c) = plan(&codes, 2, 2, None);
        assert_eq!(m, GroupMethod::Blockwise);
        assert_eq!(c[0].blocks, vec![0]);
        assert_eq!(c[1].blocks, vec![1]);
    }
}
