//! Lowering: from optimized array-level nodes to block tasks, numbered in depth-first
//! post-order from the outputs (the static "finish first" priority of DESIGN §3.2).
//!
//! Tasks are created only for blocks some output needs (culling is implicit). In-memory
//! sources produce no tasks: kernels read views of them in place.

use super::blockfn::BlockFnKernel;
use super::group::GroupSpec;
use super::node::{Node, NodeRef, Op, ReduceSpec};
use super::treecut::TreeCut;
use crate::chunks::{ChunkGrid, Region, for_each_index};
use crate::error::{Error, Result};
use crate::exec::check_plan;
use crate::exec::task::{Kernel, LOWERING_BYTES_PER_TASK, PLAN_ALLOWANCE, Plan, Task, TaskId};
use crate::io::{BlockSource, IoLane};
use crate::ops::expr::ExprNode;
use crate::ops::fused::Program;
use crate::ops::group::{GroupPartialKernel, Slots};
use crate::ops::kernels::{EvalKernel, GatherKernel, Leaf, ReadKernel};
use crate::ops::rechunk_plan::{RechunkPlan, Strategy, plan_rechunk};
use crate::ops::reduce::{
    CombineKernel, DecodeKernel, EncodeKernel, PartialInput, PartialKernel, state_shape,
};
use crate::ops::scan::ScanKernel;
use std::collections::HashMap;
use std::sync::Arc;

/// How a consumer gets one block of a node.
#[derive(Clone)]
enum BlockInput {
    Task(TaskId),
    Memory(Arc<dyn BlockSource>, Region),
}

/// A requested output: its node and whether its sink can take blocks written in place.
pub(crate) struct Root {
    pub node: NodeRef,
    pub direct: bool,
    /// The order in which its blocks are planned (linear block numbers), row-major if `None`.
    pub order: Option<Vec<usize>>,
}

/// For a rechunk `n`: its blocks group by group of the pass from its input's chunks (row-major
/// within a group), so each group's input blocks are released before the next group starts.
pub(crate) fn group_order(n: &Node) -> Option<Vec<usize>> {
    let Op::Rechunk { input } = &n.op else {
        return None;
    };
    let groups = crate::ops::rechunk_plan::group_grid(&input.grid, &n.grid);
    let mut order = Vec::with_capacity(n.grid.nblocks());
    for g in 0..groups.nblocks() {
        let region = groups.block_region(&groups.unravel(g));
        for_each_index(&n.grid.blocks_overlapping(&region), |b| {
            order.push(n.grid.ravel(b));
        });
    }
    Some(order)
}

struct Lowerer {
    tasks: Vec<Task>,
    /// Each block's provider, with the value of `produced` when it was created.
    memo: HashMap<(*const Node, usize), (BlockInput, usize)>,
    /// Bytes of all task outputs created so far: a clock for how long a block would be held.
    produced: usize,
    /// Blocks of immutable stores are read again instead of shared when sharing would hold
    /// them across more than this many bytes of other work (DESIGN §3.5).
    remat_after: usize,
    /// The memory limit the plan is for.
    limit: usize,
    /// The most tasks whose bookkeeping fits the limit; lowering stops (`overflow`) beyond.
    max_tasks: usize,
    overflow: bool,
    /// Reductions fold their groups in a chain (one partial held per output block) instead
    /// of combining a tree of partials.
    chains: bool,
    /// With `chains`: a reduction to one output block folds in two chains (see
    /// [`Lowering::FrugalPaired`]).
    paired: bool,
    programs: HashMap<*const Node, Arc<Program>>,
    labels: HashMap<*const Node, Arc<str>>,
    /// For each tree cut, its reduction as a node (the label and type of its tasks).
    cut_reductions: HashMap<*const Node, NodeRef>,
    /// Subtrees of cut trees, by (groups, split, depth).
    subtrees: HashMap<(usize, usize, usize), Subtrees>,
}

/// How [`lower`] trades parallelism for memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lowering {
    /// Tree reductions, store blocks shared unless held across a quarter of the limit.
    Default,
    /// For plans that would not fit otherwise: reductions fold their input groups in a chain
    /// into one partial per output block, updated in place (a tree holds a partial per level
    /// and combines several at once), and store blocks are read again by every consumer that
    /// is not right next to the first.
    Frugal,
    /// [`Lowering::Frugal`], but a reduction to a single output block folds its groups in
    /// two chains (groups taken alternately) combined at the end: two partials held instead
    /// of one, so the folds of both run at once (one chain serializes every fold: W8's mean
    /// over time waited on it).
    FrugalPaired,
}

/// Bytes of the largest single-pass gather task of rechunking `input` to `target` (an upper
/// bound: per axis, the most input elements any target block overlaps), inputs plus output.
pub(crate) fn gather_task_bytes(input: &ChunkGrid, target: &ChunkGrid, itemsize: usize) -> usize {
    let mut elems = 1usize;
    for ax in 0..target.ndim() {
        let (a, t) = (input.axis(ax), target.axis(ax));
        let most = (0..t.nblocks())
            .map(|b| {
                a.blocks_overlapping(t.range(b))
                    .map(|i| a.size(i))
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        elems = elems.saturating_mul(most);
    }
    elems
        .saturating_add(target.max_block_len())
        .saturating_mul(itemsize)
}

/// The multi-stage plan for rechunk node `n` when a single pass would not fit `limit`; `None`
/// when one pass fits (see [`direct_rechunk`]) or no plan fits (the plan-time check then
/// reports the task that is too large). See [`super::stage`] for how the stages run.
///
/// A single pass runs group by group ([`group_order`]): each group's source blocks are read
/// once and held until the group's target blocks are written, so the whole group (inputs and
/// outputs, `2 × group bytes`) must fit half the limit (blocks of other work may be held at
/// the same time). When it does not, the rechunk is staged rather than run as one pass that
/// reads its source blocks again and again: with more memory a rechunk must never read more
/// (a single pass that re-read each of 36 chunks 684 times took 60× longer than the staged
/// plan at a quarter of the memory).
pub(crate) fn rechunk_stages(n: &Node, limit: usize) -> Option<RechunkPlan> {
    let Op::Rechunk { input } = &n.op else {
        return None;
    };
    // Each pass's groups get half the limit: blocks of the pass before and after may be held
    // at the same time as a group is gathered.
    let plan = plan_rechunk(&n.shape, &input.grid, &n.grid, n.dtype.size(), limit / 2).ok()?;
    match plan.strategy() {
        Strategy::MultiStage { .. } => Some(plan),
        Strategy::Direct => None,
    }
}

/// Whether rechunk node `n` runs as one pass, group by group, at `limit`: its groups fit half
/// the limit (each source block is then read exactly once).
pub(crate) fn direct_rechunk(n: &Node, limit: usize) -> bool {
    let Op::Rechunk { input } = &n.op else {
        return false;
    };
    plan_rechunk(&n.shape, &input.grid, &n.grid, n.dtype.size(), limit / 2)
        .is_ok_and(|p| matches!(p.strategy(), Strategy::Direct))
}

/// The plan for `roots` within `limit`: the default lowering when it fits, else the frugal
/// one (see [`Lowering`]), else the frugal one with large reductions computed in pieces. With
/// the check's result: when none fits, the error of the one (default or frugal) that needs
/// less, or [`Error::PlanTooManyTasks`] when lowering stopped.
pub(crate) fn plan_within(roots: &[Root], limit: usize) -> (Plan, Result<()>) {
    let mut best: Option<(Plan, Error)> = None;
    for how in [Lowering::Default, Lowering::FrugalPaired, Lowering::Frugal] {
        let plan = match lower(roots, limit, how) {
            Ok(plan) => plan,
            // The default plan's tasks alone outgrow the limit (a frugal one has more).
            Err(e) if how == Lowering::Default => return (Plan::new(Vec::new()), Err(e)),
            Err(_) => continue,
        };
        match check_plan(&plan, limit) {
            Ok(()) => return (plan, Ok(())),
            Err(e) => {
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| plan.projected_peak() <= b.projected_peak())
                {
                    best = Some((plan, e));
                }
            }
        }
    }
    // Reductions whose partials are large next to the limit: computed in pieces.
    let mut memo = HashMap::new();
    let split: Vec<Root> = roots
        .iter()
        .map(|r| Root {
            node: crate::graph::optimize::split_reductions(&r.node, limit, &mut memo),
            direct: r.direct,
            order: r.order.clone(),
        })
        .collect();
    if split
        .iter()
        .zip(roots)
        .any(|(a, b)| !Arc::ptr_eq(&a.node, &b.node))
        && let Ok(pieces) = lower(&split, limit, Lowering::Frugal)
        && check_plan(&pieces, limit).is_ok()
    {
        return (pieces, Ok(()));
    }
    // None fits: report the plan that needs less, and for a plan-wide peak, a limit that does
    // work (planning again there: the plan's shape depends on the limit).
    let (plan, err) = best.expect("the default plan was lowered");
    (plan, Err(with_working_limit(roots, err)))
}

/// `err`, a [`Error::PlanTooLarge`], with `needed` raised until planning at `needed` fits
/// (a few tries); other errors as they are.
fn with_working_limit(roots: &[Root], err: Error) -> Error {
    let Error::PlanTooLarge {
        op,
        holder,
        held,
        mut needed,
        limit,
    } = err
    else {
        return err;
    };
    for _ in 0..4 {
        let next = [Lowering::Default, Lowering::Frugal]
            .iter()
            .map(|&how| match lower(roots, needed, how) {
                Ok(p) => match check_plan(&p, needed) {
                    Ok(()) => None,
                    Err(_) => Some(p.projected_peak().max(needed + 1)),
                },
                // Its tasks outgrew `needed`: more room lets lowering go further.
                Err(_) => Some(needed.saturating_mul(2)),
            })
            .collect::<Option<Vec<usize>>>();
        match next {
            // One of the two fits at `needed`.
            None => break,
            Some(v) => needed = v.into_iter().min().unwrap_or(needed + 1),
        }
    }
    Error::PlanTooLarge {
        op,
        holder,
        held,
        needed,
        limit,
    }
}

/// Lowers the (optimized) roots to a plan for a run with memory limit `limit`.
///
/// # Errors
/// [`Error::PlanTooManyTasks`] when the tasks alone would outgrow the limit (lowering stops
/// there, before building more).
pub(crate) fn lower(roots: &[Root], limit: usize, how: Lowering) -> Result<Plan> {
    let frugal = how != Lowering::Default;
    let mut l = Lowerer {
        tasks: Vec::new(),
        memo: HashMap::new(),
        produced: 0,
        // Planned group by group (a staged rechunk pass), each group's input blocks were sized
        // by the rechunk planner to be held together while the group's outputs are written:
        // reading them again would only repeat the decoding (W4 decoded each source chunk
        // twelve times).
        remat_after: if roots.iter().any(|r| r.order.is_some()) {
            usize::MAX
        } else if frugal {
            0
        } else {
            limit / 4
        },
        limit,
        max_tasks: limit.saturating_add(PLAN_ALLOWANCE) / LOWERING_BYTES_PER_TASK,
        overflow: false,
        chains: frugal,
        paired: how == Lowering::FrugalPaired,
        programs: HashMap::new(),
        labels: HashMap::new(),
        cut_reductions: HashMap::new(),
        subtrees: HashMap::new(),
    };
    let mut outputs = Vec::new();
    for (r, root) in roots.iter().enumerate() {
        let n = &root.node;
        let row_major = 0..n.grid.nblocks();
        let order: Box<dyn Iterator<Item = usize>> = match &root.order {
            Some(o) => Box::new(o.iter().copied()),
            None => Box::new(row_major),
        };
        for k in order {
            if l.overflow {
                break;
            }
            let idx = n.grid.unravel(k);
            let t = match l.block(n, &idx) {
                BlockInput::Task(t) if l.tasks[t as usize].output.is_none() => t,
                other => l.copy_task(n, &idx, other),
            };
            l.tasks[t as usize].output = Some((r, k));
            outputs.push((t, root.direct));
        }
    }
    if l.overflow {
        let tasks = l.tasks.len();
        return Err(Error::PlanTooManyTasks {
            tasks,
            bytes: tasks * LOWERING_BYTES_PER_TASK,
            limit,
        });
    }
    let mut has_consumer = vec![false; l.tasks.len()];
    for t in &l.tasks {
        for &d in &t.deps {
            has_consumer[d as usize] = true;
        }
    }
    for (t, direct) in outputs {
        let task = &mut l.tasks[t as usize];
        if direct && task.in_place && !has_consumer[t as usize] {
            // The block goes straight into the caller's array: nothing to hold.
            task.out_bytes = 0;
        }
    }
    Ok(Plan::new(l.tasks))
}

/// Bytes of a reduction's partial over input block `block` (its states for the kept
/// elements) and of output block `out_shape`.
fn reduce_sizes(
    n: &NodeRef,
    spec: &ReduceSpec,
    input: &NodeRef,
    block: &[usize],
    out_shape: &[usize],
) -> (usize, usize) {
    let partial_elems: usize = state_shape(&input.grid.block_shape(block), &spec.axes)
        .iter()
        .product();
    (
        spec.reducer.partial_bytes(partial_elems),
        out_shape.iter().product::<usize>() * n.dtype.size(),
    )
}

/// The input blocks of output block `idx` of a reduction, row-major: every block along
/// reduced axes, the output's block elsewhere.
fn reduce_input_blocks(spec: &ReduceSpec, idx: &[usize]) -> Vec<Vec<usize>> {
    let input = &spec.input;
    let mut out_axis = 0;
    let mut ranges = Vec::with_capacity(input.grid.ndim());
    for ax in 0..input.grid.ndim() {
        if spec.axes.contains(&ax) {
            ranges.push(0..input.grid.axis(ax).nblocks());
            if spec.keepdims {
                out_axis += 1;
            }
        } else {
            ranges.push(idx[out_axis]..idx[out_axis] + 1);
            out_axis += 1;
        }
    }
    let mut blocks = Vec::new();
    for_each_index(&ranges, |b| blocks.push(b.to_vec()));
    blocks
}

/// Input blocks per partial task of a reduction's tree (or chain, with `chains`): see
/// [`Lowerer::reduce_block`]. With `chains == false` and `remat_after == limit / 4`, the
/// default lowering's.
pub(crate) fn reduce_group_size(
    spec: &ReduceSpec,
    chains: bool,
    remat_after: usize,
    limit: usize,
) -> usize {
    let input = &spec.input;
    let nblocks: usize = spec
        .axes
        .iter()
        .map(|&ax| input.grid.axis(ax).nblocks())
        .product();
    // Fold several input blocks into one partial when a partial is large next to a block
    // (nanmean of f32 over a pancake-chunked time axis: 16 bytes of state per 4-byte element):
    // enough blocks that the state traffic is at most a quarter of the input's, so far
    // fewer partials are held and merged. Capped so the group's inputs stay a small part
    // of the limit.
    let (in_block, partial) = block_and_partial_bytes(spec);
    let by_size = (4 * partial).div_ceil(in_block.max(1)).clamp(1, 32);
    // Small blocks are grouped too, so each partial task handles about 1 MiB of input and
    // the per-task cost is amortized over many blocks (10,000 blocks of 100² become ~800
    // tasks).
    let by_grain = (1usize << 20).div_ceil(in_block.max(1)).clamp(1, 64);
    let by_memory = if chains {
        // A chain holds one partial and one group's inputs per output block: an eighth of
        // the limit (a quarter for paired chains). Larger groups fold fewer times: each fold
        // rewrites the partial, which for a mean of f32 is four times the block's bytes (W8's
        // mean over time: groups of 4 blocks instead of 2 took 0.6 s instead of 0.93 s).
        (limit / 8 / in_block.max(1)).max(1)
    } else {
        (remat_after / in_block.max(1)).max(1)
    };
    by_size.max(by_grain).min(by_memory).min(nblocks.max(1))
}

/// Bytes of a reduction's largest input block and of the partial state over it.
fn block_and_partial_bytes(spec: &ReduceSpec) -> (usize, usize) {
    let input = &spec.input;
    let in_block = input.grid.max_block_len() * input.dtype.size();
    let partial_elems: usize = state_shape(&input.grid.max_block_shape(), &spec.axes)
        .iter()
        .product();
    (in_block, spec.reducer.partial_bytes(partial_elems))
}

/// The subtrees at one depth of a cut tree (ranges of its groups).
type Subtrees = Arc<Vec<std::ops::Range<usize>>>;

/// What the upper levels of a cut tree share ([`Lowerer::cut_upper`]).
struct CutUpper<'a> {
    rn: &'a NodeRef,
    reducer: &'a Arc<dyn crate::ops::reduce::Reducer>,
    partials: &'a NodeRef,
    leaves: &'a [std::ops::Range<usize>],
    out_idx: &'a [usize],
    state_shape: &'a [usize],
    out_shape: &'a [usize],
    partial_bytes: usize,
    out_bytes: usize,
    split: usize,
}

/// The block index of a broadcast input for output block `idx`.
fn broadcast_index(idx: &[usize], out_shape: &[usize], in_shape: &[usize]) -> Vec<usize> {
    let off = out_shape.len() - in_shape.len();
    in_shape
        .iter()
        .enumerate()
        .map(|(k, &len)| {
            if len == out_shape[k + off] {
                idx[k + off]
            } else {
                0
            }
        })
        .collect()
}

impl Lowerer {
    fn label(&mut self, n: &NodeRef) -> Arc<str> {
        self.labels
            .entry(Arc::as_ptr(n))
            .or_insert_with(|| n.op_name().into())
            .clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        n: &NodeRef,
        kernel: Arc<dyn Kernel>,
        deps: Vec<TaskId>,
        out_bytes: usize,
        scratch_bytes: usize,
        block_shape: Vec<usize>,
        in_place: bool,
        serial_io: bool,
    ) -> TaskId {
        if self.tasks.len() >= self.max_tasks {
            self.overflow = true;
        }
        let label = self.label(n);
        let block_bytes = block_shape.iter().product::<usize>() * n.dtype.size();
        let id = self.tasks.len() as TaskId;
        self.produced += out_bytes;
        self.tasks.push(Task {
            deps,
            kernel,
            out_bytes,
            scratch_bytes,
            label,
            block_shape,
            block_bytes,
            output: None,
            serial_io,
            in_place,
            takes_last_dep: false,
            reuses_last_dep: false,
        });
        id
    }

    /// The task (or in-memory region) that provides block `idx` of `n`.
    fn block(&mut self, n: &NodeRef, idx: &[usize]) -> BlockInput {
        if self.overflow {
            // The plan is refused (see `plan_within`): build nothing more.
            return BlockInput::Task(0);
        }
        let key = (Arc::as_ptr(n), n.grid.ravel(idx));
        if let Some((b, at)) = self.memo.get(&key) {
            let reread = match (&n.op, b) {
                // Rematerialize: a store block shared with a consumer this far away would be
                // held while everything in between runs; reading it again is cheaper than
                // running out of memory (x - x.mean(0) is the classic case).
                (Op::Source(src), BlockInput::Task(_)) => {
                    src.is_rematerializable() && self.produced - at > self.remat_after
                }
                _ => false,
            };
            if !reread {
                return b.clone();
            }
        }
        let region = n.grid.block_region(idx);
        let shape = region.shape();
        let bytes = region.len() * n.dtype.size();
        let input = match &n.op {
            Op::Source(src) => {
                if src.as_memory().is_some() {
                    BlockInput::Memory(src.clone(), region)
                } else {
                    let scratch = src.read_scratch_bytes(&region);
                    let serial = src.io_lane() == IoLane::Serial;
                    let k = Arc::new(ReadKernel {
                        src: src.clone(),
                        region,
                    });
                    BlockInput::Task(self.push(n, k, vec![], bytes, scratch, shape, false, serial))
                }
            }
            Op::Elementwise { .. } => {
                let (program, leaves, deps) = self.fused(n, idx);
                let scratch = program.scratch_bytes();
                let k = Arc::new(EvalKernel {
                    program,
                    leaves,
                    shape: shape.clone(),
                    dtype: n.dtype,
                });
                BlockInput::Task(self.push(n, k, deps, bytes, scratch, shape, true, false))
            }
            Op::Rechunk { input } => {
                let input = input.clone();
                let mut deps = Vec::new();
                let mut pieces = Vec::new();
                let over = input.grid.blocks_overlapping(&region);
                let mut srcs = Vec::new();
                for_each_index(&over, |s| srcs.push(s.to_vec()));
                for s in srcs {
                    let sreg = input.grid.block_region(&s);
                    if let Some(inter) = region.intersect(&sreg) {
                        let leaf = self.leaf(&input, &s, &mut deps);
                        pieces.push((leaf, inter.relative_to(&sreg), inter.relative_to(&region)));
                    }
                }
                let k = Arc::new(GatherKernel {
                    pieces,
                    shape: shape.clone(),
                    dtype: n.dtype,
                });
                BlockInput::Task(self.push(n, k, deps, bytes, 0, shape, true, false))
            }
            Op::Reduce(spec) => BlockInput::Task(self.reduce_block(n, spec, idx)),
            Op::TreeCut(c) => self.cut_block(n, c, idx),
            Op::GroupReduce(spec) => BlockInput::Task(self.group_block(n, spec, idx)),
            Op::Scan { input, axis, op } => {
                let (input, axis, op) = (input.clone(), *axis, op.clone());
                // The chain of earlier blocks, built iteratively (no deep recursion).
                let mut prev_task = None;
                for j in 0..idx[axis] {
                    let mut p = idx.to_vec();
                    p[axis] = j;
                    if let BlockInput::Task(t) = self.block(n, &p) {
                        prev_task = Some(t);
                    }
                }
                let mut deps = Vec::new();
                let (program, leaves) = self.fused_into(&input, idx, &mut deps);
                let prev = prev_task.map(|t| {
                    deps.push(t);
                    deps.len() - 1
                });
                let scratch = if matches!(input.op, Op::Elementwise { .. }) {
                    region.len() * input.dtype.size() + program.scratch_bytes()
                } else {
                    0
                } + region.len() * n.dtype.size();
                let k = Arc::new(ScanKernel {
                    program,
                    leaves,
                    block_shape: shape.clone(),
                    in_dtype: input.dtype,
                    axis,
                    op,
                    prev,
                });
                BlockInput::Task(self.push(n, k, deps, bytes, scratch, shape, false, false))
            }
            Op::Blocks { f, inputs } => {
                if let Some((k, b)) = f.alias(inputs, idx) {
                    // The block is an input block: no task (and no memo entry, so the input's
                    // own rematerialization rules apply).
                    let input = inputs[k].clone();
                    return self.block(&input, &b);
                }
                let (f, inputs) = (f.clone(), inputs.clone());
                let mut deps = Vec::new();
                let mut leaves = Vec::new();
                let mut dep_regions = Vec::new();
                for (k, b) in f.deps(&inputs, &n.grid, idx) {
                    leaves.push(self.leaf(&inputs[k], &b, &mut deps));
                    dep_regions.push(inputs[k].grid.block_region(&b));
                }
                let scratch = f.scratch_bytes(&inputs, &n.grid, idx);
                let k = Arc::new(BlockFnKernel {
                    f,
                    leaves,
                    dep_regions,
                    idx: idx.to_vec(),
                    region,
                    dtype: n.dtype,
                });
                BlockInput::Task(self.push(n, k, deps, bytes, scratch, shape, false, false))
            }
        };
        self.memo.insert(key, (input.clone(), self.produced));
        input
    }

    /// Adds block `idx` of `n` to a consumer's dependencies and returns its leaf.
    fn leaf(&mut self, n: &NodeRef, idx: &[usize], deps: &mut Vec<TaskId>) -> Leaf {
        match self.block(n, idx) {
            BlockInput::Memory(src, region) => Leaf::Memory(src, region),
            BlockInput::Task(t) => {
                let k = deps.iter().position(|&d| d == t).unwrap_or_else(|| {
                    deps.push(t);
                    deps.len() - 1
                });
                Leaf::Dep(k)
            }
        }
    }

    /// The fused program that computes block `idx` of `n`, with its leaves: the expression of
    /// an elementwise node, or the identity over the node's own block.
    fn fused(&mut self, n: &NodeRef, idx: &[usize]) -> (Arc<Program>, Vec<Leaf>, Vec<TaskId>) {
        let mut deps = Vec::new();
        let (program, leaves) = self.fused_into(n, idx, &mut deps);
        (program, leaves, deps)
    }

    /// [`Lowerer::fused`], adding the dependencies to `deps`.
    fn fused_into(
        &mut self,
        n: &NodeRef,
        idx: &[usize],
        deps: &mut Vec<TaskId>,
    ) -> (Arc<Program>, Vec<Leaf>) {
        let (program, leaves) = match &n.op {
            Op::Elementwise { expr, inputs } => {
                let program = self
                    .programs
                    .entry(Arc::as_ptr(n))
                    .or_insert_with(|| Arc::new(Program::compile(expr)))
                    .clone();
                let leaves = inputs
                    .iter()
                    .map(|i| {
                        let bi = broadcast_index(idx, &n.shape, &i.shape);
                        self.leaf(i, &bi, deps)
                    })
                    .collect();
                (program, leaves)
            }
            _ => {
                let program = self
                    .programs
                    .entry(Arc::as_ptr(n))
                    .or_insert_with(|| {
                        Arc::new(Program::compile(&Arc::new(ExprNode::Input(0, n.dtype))))
                    })
                    .clone();
                (program, vec![self.leaf(n, idx, deps)])
            }
        };
        (program, leaves)
    }

    /// A task that copies a block that has no task of its own (an in-memory region) or that
    /// already serves another output.
    fn copy_task(&mut self, n: &NodeRef, idx: &[usize], input: BlockInput) -> TaskId {
        let mut deps = Vec::new();
        let leaf = match input {
            BlockInput::Memory(src, region) => Leaf::Memory(src, region),
            BlockInput::Task(t) => {
                deps.push(t);
                Leaf::Dep(0)
            }
        };
        let shape = n.grid.block_shape(idx);
        let bytes = shape.iter().product::<usize>() * n.dtype.size();
        let full = Region(shape.iter().map(|&s| 0..s).collect());
        let k = Arc::new(GatherKernel {
            pieces: vec![(leaf, full.clone(), full)],
            shape: shape.clone(),
            dtype: n.dtype,
        });
        self.push(n, k, deps, bytes, 0, shape, true, false)
    }

    /// The tree of tasks that computes output block `idx` of a reduction.
    fn reduce_block(&mut self, n: &NodeRef, spec: &ReduceSpec, idx: &[usize]) -> TaskId {
        let input = spec.input.clone();
        let blocks = reduce_input_blocks(spec, idx);
        let out_shape = n.grid.block_shape(idx);
        let (in_block, partial) = block_and_partial_bytes(spec);
        // One output block whose state is as large as an input block (a mean over time of
        // whole maps) folds in place in any lowering: a tree writes a new partial per group
        // and again per combine, and holds several, where a chain rewrites one (W8: 0.70 s
        // as a tree, 0.55 s as two chains).
        let in_place = self.chains || (n.grid.nblocks() == 1 && partial >= in_block);
        let group = reduce_group_size(spec, in_place, self.remat_after, self.limit);
        let groups: Vec<&[Vec<usize>]> = blocks.chunks(group).collect();
        // Two chains hold two partials and two groups' inputs: only while those take at most
        // half the limit (the rest is for blocks in flight and untracked scratch).
        let pair_bytes = 2 * (partial + group * in_block);
        if in_place
            && (self.paired || !self.chains)
            && n.grid.nblocks() == 1
            && groups.len() >= 4
            && pair_bytes <= self.limit / 2
        {
            return self.reduce_chains(n, spec, &input, &groups, &out_shape, 2);
        }
        if in_place {
            return self.reduce_chain(n, spec, &input, &groups, &out_shape);
        }
        self.reduce_tree(n, spec, &input, &groups, &out_shape, true)
    }

    /// The subtrees at `depth` of a tree over `ngroups` groups (cached).
    fn subtrees_at(&mut self, ngroups: usize, split: usize, depth: usize) -> Subtrees {
        self.subtrees
            .entry((ngroups, split, depth))
            .or_insert_with(|| Arc::new(super::treecut::subtrees(ngroups, split, depth)))
            .clone()
    }

    /// Block `idx` of a part of a cut reduction tree ([`super::treecut`]): the byte form of
    /// subtree `idx[0]`'s partial for output block `idx[1..]`, or the output block.
    fn cut_block(&mut self, n: &NodeRef, c: &TreeCut, idx: &[usize]) -> BlockInput {
        let rn = self
            .cut_reductions
            .entry(Arc::as_ptr(n))
            .or_insert_with(|| {
                Node::new(
                    c.out_grid.clone(),
                    c.out_dtype,
                    Op::Reduce(c.reduce.clone()),
                )
            })
            .clone();
        let Op::Reduce(spec) = &rn.op else {
            unreachable!("a cut's reduction is a reduction")
        };
        let (out_idx, sub) = match c.to {
            Some(_) => (&idx[1..idx.len() - 1], Some(idx[0])),
            None => (idx, None),
        };
        let blocks = reduce_input_blocks(spec, out_idx);
        let groups: Vec<&[Vec<usize>]> = blocks.chunks(c.group.max(1)).collect();
        let out_shape = c.out_grid.block_shape(out_idx);
        let split = c.split();
        let range = match (c.to, sub) {
            (Some(d), Some(j)) => self.subtrees_at(groups.len(), split, d)[j].clone(),
            _ => 0..groups.len(),
        };
        let top = c.to.is_none();
        let t = match &c.from {
            None => self.reduce_tree(&rn, spec, &spec.input, &groups[range], &out_shape, top),
            Some((partials, d_in)) => {
                let leaves = self.subtrees_at(groups.len(), split, *d_in);
                let (partial_bytes, out_bytes) =
                    reduce_sizes(&rn, spec, &spec.input, &groups[0][0], &out_shape);
                let state_shape =
                    state_shape(&spec.input.grid.block_shape(&groups[0][0]), &spec.axes);
                let up = CutUpper {
                    rn: &rn,
                    reducer: &spec.reducer,
                    partials,
                    leaves: &leaves,
                    out_idx,
                    state_shape: &state_shape,
                    out_shape: &out_shape,
                    partial_bytes,
                    out_bytes,
                    split,
                };
                let depth = *d_in - c.to.unwrap_or(0);
                self.cut_upper(&up, range, depth, top)
            }
        };
        if top {
            return BlockInput::Task(t);
        }
        let shape = n.grid.block_shape(idx);
        let bytes = shape.iter().product::<usize>();
        let k = Arc::new(EncodeKernel {
            reducer: spec.reducer.clone(),
            shape: shape.clone(),
        });
        BlockInput::Task(self.push(n, k, vec![t], bytes, 0, shape, false, false))
    }

    /// The tree over groups `range` down to `depth` levels, whose leaves are partials read
    /// back from their byte form; with `top`, finalized into the output block.
    fn cut_upper(
        &mut self,
        up: &CutUpper<'_>,
        range: std::ops::Range<usize>,
        depth: usize,
        top: bool,
    ) -> TaskId {
        let children = super::treecut::children(&range, up.split);
        if depth == 0 || children.is_empty() {
            let j = up
                .leaves
                .binary_search_by_key(&range.start, |r| r.start)
                .expect("internal: a cut tree's leaf is a subtree of the partials");
            let mut pidx = vec![j];
            pidx.extend_from_slice(up.out_idx);
            pidx.push(0);
            let read = match self.block(up.partials, &pidx) {
                BlockInput::Task(t) => t,
                other => self.copy_task(up.partials, &pidx, other),
            };
            let k = Arc::new(DecodeKernel {
                reducer: up.reducer.clone(),
                shape: up.state_shape.to_vec(),
            });
            let t = self.push(
                up.rn,
                k,
                vec![read],
                up.partial_bytes,
                0,
                up.out_shape.to_vec(),
                false,
                false,
            );
            if !top {
                return t;
            }
            // A tree of one leaf: its partial, finalized.
            let k = Arc::new(CombineKernel {
                reducer: up.reducer.clone(),
                finalize: Some(up.out_shape.to_vec()),
            });
            return self.push(
                up.rn,
                k,
                vec![t],
                up.out_bytes,
                up.partial_bytes,
                up.out_shape.to_vec(),
                false,
                false,
            );
        }
        let deps: Vec<TaskId> = children
            .into_iter()
            .map(|r| self.cut_upper(up, r, depth - 1, false))
            .collect();
        let k = Arc::new(CombineKernel {
            reducer: up.reducer.clone(),
            finalize: top.then(|| up.out_shape.to_vec()),
        });
        let (ob, sc) = if top {
            (up.out_bytes, up.partial_bytes)
        } else {
            (up.partial_bytes, 0)
        };
        self.push(up.rn, k, deps, ob, sc, up.out_shape.to_vec(), false, false)
    }

    /// The kernel of one partial task over `group` (adding its inputs' tasks to `deps`),
    /// finalizing into an output block of shape `finalize` when given; with the most scratch
    /// any input needs and the shape of the group's first block.
    fn partial_kernel(
        &mut self,
        spec: &ReduceSpec,
        input: &NodeRef,
        group: &[Vec<usize>],
        finalize: Option<Vec<usize>>,
        deps: &mut Vec<TaskId>,
    ) -> (Arc<PartialKernel>, usize, Vec<usize>) {
        let mut inputs = Vec::new();
        let mut scratch = 0;
        for b in group {
            let (program, leaves) = self.fused_into(input, b, deps);
            let region = input.grid.block_region(b);
            let block_shape = region.shape();
            let materialize = if !matches!(input.op, Op::Elementwise { .. })
                || spec.reducer.streams(&spec.axes, block_shape.len())
            {
                0
            } else {
                block_shape.iter().product::<usize>() * input.dtype.size()
            };
            scratch = scratch.max(
                program.scratch_bytes()
                    + materialize
                    + spec.reducer.scratch_bytes(&block_shape, &spec.axes),
            );
            inputs.push(PartialInput {
                program,
                leaves,
                block_shape,
                origin: region.ranges().iter().map(|r| r.start).collect(),
            });
        }
        let block_shape = inputs[0].block_shape.clone();
        let kernel = Arc::new(PartialKernel {
            inputs,
            in_dtype: input.dtype,
            axes: spec.axes.clone(),
            reducer: spec.reducer.clone(),
            finalize,
        });
        (kernel, scratch, block_shape)
    }

    /// Output block `out_shape` of a reduction as a chain: the first group's partial task,
    /// then one task per group that takes the partial so far and folds its blocks into it in
    /// place; the last also finalizes the output block. One partial per output block is held.
    fn reduce_chain(
        &mut self,
        n: &NodeRef,
        spec: &ReduceSpec,
        input: &NodeRef,
        groups: &[&[Vec<usize>]],
        out_shape: &[usize],
    ) -> TaskId {
        let (partial_bytes, out_bytes) = reduce_sizes(n, spec, input, &groups[0][0], out_shape);
        let mut prev: Option<TaskId> = None;
        for (k, group) in groups.iter().enumerate() {
            let last = k + 1 == groups.len();
            let mut deps = Vec::new();
            let finalize = last.then(|| out_shape.to_vec());
            let (kernel, scratch, block_shape) =
                self.partial_kernel(spec, input, group, finalize, &mut deps);
            let (ob, sc, shape) = match (last, prev) {
                // The output block, from the partial taken (already held).
                (true, Some(_)) => (out_bytes, scratch, out_shape.to_vec()),
                // A chain of one group: its partial is built, then the output block.
                (true, None) => (out_bytes, scratch + partial_bytes, out_shape.to_vec()),
                (false, _) => (partial_bytes, scratch, block_shape),
            };
            if let Some(p) = prev {
                deps.push(p);
            }
            let t = self.push(n, kernel, deps, ob, sc, shape, false, false);
            if prev.is_some() {
                let task = &mut self.tasks[t as usize];
                task.takes_last_dep = true;
                task.reuses_last_dep = !last;
            }
            prev = Some(t);
        }
        prev.expect("internal: a reduction over no blocks")
    }

    /// Output block `out_shape` of a reduction as `k` chains (see [`Lowerer::reduce_chain`]):
    /// group `g` is folded by chain `g % k`, tasks are made in group order (so the input is
    /// read in order while every chain advances), and one task combines the chains' partials
    /// into the output block. The plan depends only on the groups, never on the thread
    /// count, so results stay bit-identical for any number of threads.
    fn reduce_chains(
        &mut self,
        n: &NodeRef,
        spec: &ReduceSpec,
        input: &NodeRef,
        groups: &[&[Vec<usize>]],
        out_shape: &[usize],
        k: usize,
    ) -> TaskId {
        let (partial_bytes, out_bytes) = reduce_sizes(n, spec, input, &groups[0][0], out_shape);
        let mut prev: Vec<Option<TaskId>> = vec![None; k];
        for (g, group) in groups.iter().enumerate() {
            let c = g % k;
            let mut deps = Vec::new();
            let (kernel, scratch, block_shape) =
                self.partial_kernel(spec, input, group, None, &mut deps);
            if let Some(p) = prev[c] {
                deps.push(p);
            }
            let t = self.push(
                n,
                kernel,
                deps,
                partial_bytes,
                scratch,
                block_shape,
                false,
                false,
            );
            if prev[c].is_some() {
                let task = &mut self.tasks[t as usize];
                task.takes_last_dep = true;
                task.reuses_last_dep = true;
            }
            prev[c] = Some(t);
        }
        let children: Vec<TaskId> = prev.into_iter().flatten().collect();
        let kernel = Arc::new(CombineKernel {
            reducer: spec.reducer.clone(),
            finalize: Some(out_shape.to_vec()),
        });
        self.push(
            n,
            kernel,
            children,
            out_bytes,
            partial_bytes,
            out_shape.to_vec(),
            false,
            false,
        )
    }

    /// Builds the subtree over `groups` of input blocks (one partial task per group, then
    /// combines `split_every` at a time), depth first so each subtree closes before the next
    /// starts. With `top`, the last task also finalizes into the output block.
    fn reduce_tree(
        &mut self,
        n: &NodeRef,
        spec: &ReduceSpec,
        input: &NodeRef,
        groups: &[&[Vec<usize>]],
        out_shape: &[usize],
        top: bool,
    ) -> TaskId {
        let split = spec.split_every.max(2);
        let (partial_bytes, out_bytes) = reduce_sizes(n, spec, input, &groups[0][0], out_shape);
        if groups.len() == 1 {
            let mut deps = Vec::new();
            let finalize = top.then(|| out_shape.to_vec());
            let (k, scratch, block_shape) =
                self.partial_kernel(spec, input, groups[0], finalize, &mut deps);
            // A finalizing task holds its partial while it builds the output block.
            let (ob, sc, shape) = if top {
                (out_bytes, scratch + partial_bytes, out_shape.to_vec())
            } else {
                (partial_bytes, scratch, block_shape)
            };
            return self.push(n, k, deps, ob, sc, shape, false, false);
        }
        // The same runs as a cut tree's (`treecut::children`).
        let per = super::treecut::per_child(groups.len(), split);
        let children: Vec<TaskId> = groups
            .chunks(per)
            .map(|g| self.reduce_tree(n, spec, input, g, out_shape, false))
            .collect();
        let k = Arc::new(CombineKernel {
            reducer: spec.reducer.clone(),
            finalize: top.then(|| out_shape.to_vec()),
        });
        // A combine builds a new partial (and with `top`, the output block from it).
        let (ob, sc) = if top {
            (out_bytes, partial_bytes)
        } else {
            (partial_bytes, 0)
        };
        self.push(n, k, children, ob, sc, out_shape.to_vec(), false, false)
    }

    /// The tree of tasks that computes output block `idx` of a grouped reduction: the
    /// cohort's input blocks along the axis (the output's block elsewhere), folded a few per
    /// partial task into states for the cohort's groups, combined `split_every` at a time in a
    /// fixed tree (so results do not depend on the thread count), then finalized.
    fn group_block(&mut self, n: &NodeRef, spec: &GroupSpec, idx: &[usize]) -> TaskId {
        let input = spec.input.clone();
        let cohort = &spec.cohorts[idx[spec.axis]];
        let slots = Slots {
            axis: spec.axis,
            codes: spec.codes.clone(),
            first: cohort.groups.start as u32,
            n: cohort.groups.len(),
        };
        let blocks: Vec<Vec<usize>> = cohort
            .blocks
            .iter()
            .map(|&b| {
                let mut i = idx.to_vec();
                i[spec.axis] = b;
                i
            })
            .collect();
        let out_shape = n.grid.block_shape(idx);
        // Blocks per partial task, as a plain reduction's (`reduce_block`): enough that the
        // states' traffic is a small part of the input's, and about 1 MiB of input per task,
        // capped so the group's inputs stay a small part of the limit.
        let in_block = input.grid.max_block_len() * input.dtype.size();
        let partial = spec
            .reducer
            .partial_bytes(out_shape.iter().product::<usize>().max(1));
        let by_size = (4 * partial).div_ceil(in_block.max(1)).clamp(1, 32);
        let by_grain = (1usize << 20).div_ceil(in_block.max(1)).clamp(1, 64);
        let by_memory = (self.limit / 16 / in_block.max(1)).max(1);
        let group = by_size
            .max(by_grain)
            .min(by_memory)
            .min(blocks.len().max(1));
        let groups: Vec<&[Vec<usize>]> = blocks.chunks(group).collect();
        self.group_tree(n, spec, &input, &slots, &groups, &out_shape, true)
    }

    /// [`Lowerer::reduce_tree`] for a grouped reduction.
    #[allow(clippy::too_many_arguments)]
    fn group_tree(
        &mut self,
        n: &NodeRef,
        spec: &GroupSpec,
        input: &NodeRef,
        slots: &Slots,
        groups: &[&[Vec<usize>]],
        out_shape: &[usize],
        top: bool,
    ) -> TaskId {
        let partial_bytes = spec
            .reducer
            .partial_bytes(out_shape.iter().product::<usize>());
        let out_bytes = out_shape.iter().product::<usize>() * n.dtype.size();
        if groups.len() == 1 {
            let mut deps = Vec::new();
            let mut inputs = Vec::new();
            let mut scratch = 0;
            for b in groups[0] {
                let (program, leaves) = self.fused_into(input, b, &mut deps);
                let region = input.grid.block_region(b);
                let block_shape = region.shape();
                let materialize = if matches!(input.op, Op::Elementwise { .. }) {
                    block_shape.iter().product::<usize>() * input.dtype.size()
                } else {
                    0
                };
                scratch = scratch.max(program.scratch_bytes() + materialize);
                inputs.push(PartialInput {
                    program,
                    leaves,
                    block_shape,
                    origin: region.ranges().iter().map(|r| r.start).collect(),
                });
            }
            let k = Arc::new(GroupPartialKernel {
                inputs,
                in_dtype: input.dtype,
                slots: slots.clone(),
                reducer: spec.reducer.clone(),
                finalize: top.then(|| out_shape.to_vec()),
            });
            // A finalizing task holds its partial while it builds the output block.
            let (ob, sc) = if top {
                (out_bytes, scratch + partial_bytes)
            } else {
                (partial_bytes, scratch)
            };
            return self.push(n, k, deps, ob, sc, out_shape.to_vec(), false, false);
        }
        let split = spec.split_every.max(2);
        let parts = groups.len().min(split);
        let per = groups.len().div_ceil(parts);
        let children: Vec<TaskId> = groups
            .chunks(per)
            .map(|g| self.group_tree(n, spec, input, slots, g, out_shape, false))
            .collect();
        let k = Arc::new(CombineKernel {
            reducer: spec.reducer.clone(),
            finalize: top.then(|| out_shape.to_vec()),
        });
        let (ob, sc) = if top {
            (out_bytes, partial_bytes)
        } else {
            (partial_bytes, 0)
        };
        self.push(n, k, children, ob, sc, out_shape.to_vec(), false, false)
    }
}
