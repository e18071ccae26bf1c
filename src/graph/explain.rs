//! Looking at plans: a structured [`PlanSummary`] (what `explain()` prints, as data tests and
//! tools can assert on) and Graphviz DOT.

use super::lower::{
    Root, direct_rechunk, gather_task_bytes, group_order, plan_within, rechunk_stages,
};
use super::node::{NodeRef, Op};
use super::optimize::optimize;
use crate::chunks::ChunkGrid;
use crate::element::DType;
use crate::exec::report::human_bytes;
use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write};
use std::sync::Arc;

/// Nodes reachable from `roots`, each once, consumers before inputs.
fn topo(roots: &[NodeRef]) -> Vec<NodeRef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<NodeRef> = roots.iter().rev().cloned().collect();
    while let Some(n) = stack.pop() {
        if !seen.insert(Arc::as_ptr(&n)) {
            continue;
        }
        for i in n.inputs().into_iter().rev() {
            stack.push(i.clone());
        }
        out.push(n);
    }
    out
}

/// The kind of operation of a plan node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// Blocks read from a source: memory, a generator or a store.
    Source,
    /// A (fused) elementwise expression.
    Elementwise,
    /// A change of chunking.
    Rechunk,
    /// A tree reduction.
    Reduce,
    /// A scan (`cumsum`, ...) along one axis.
    Scan,
    /// A grouped reduction along one axis (groupby, resample); its `op` names the strategy
    /// (blockwise, cohorts or map-reduce).
    GroupReduce,
    /// Blocks computed by a block function: slices of computed arrays, transposes, reshapes,
    /// concatenation, `map_blocks`, `map_overlap`.
    Blocks,
}

/// One node of a plan's graph.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanNode {
    /// The node's id, unique for the life of the process (as `#id` in `explain()` and DOT).
    pub id: u64,
    /// The kind of operation.
    pub kind: OpKind,
    /// The operation's label, as in `explain()` and in task labels: `elementwise[(x * 2)]`,
    /// `source[zarr data/sample.zarr/t2m]`, `slice[..]`, `reduce[sum axes=[0]]`, ...
    /// Its wording may change between versions; match on [`PlanNode::kind`] where you can.
    pub op: String,
    /// The element type.
    pub dtype: DType,
    /// The shape.
    pub shape: Vec<usize>,
    /// The chunk grid.
    pub chunks: ChunkGrid,
    /// The ids of its inputs, in order.
    pub inputs: Vec<u64>,
}

/// How a rechunk of the optimized graph runs at the plan's memory limit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RechunkRun {
    /// One gather pass, group by group (each source block read once) or, when the groups do
    /// not fit, one task per target block.
    Direct {
        /// Bytes of the largest gather task (inputs plus output).
        max_task_bytes: usize,
    },
    /// Passes through intermediate chunkings written to temporary Zarr arrays, one run per
    /// pass.
    Staged {
        /// The intermediate chunkings, from the source towards the target (never empty).
        stages: Vec<ChunkGrid>,
        /// The number of passes (`stages.len() + 1`).
        passes: usize,
        /// Bytes of the largest task of any pass.
        max_task_bytes: usize,
    },
}

/// A rechunk of the optimized graph and how it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RechunkSummary {
    /// The rechunk node's id.
    pub node: u64,
    /// The input's chunk grid.
    pub from: ChunkGrid,
    /// The target chunk grid.
    pub to: ChunkGrid,
    /// How it runs.
    pub run: RechunkRun,
    /// The planner's description (rendered by `explain()`).
    detail: String,
}

impl RechunkSummary {
    /// Whether the rechunk runs in passes through temporary arrays.
    pub fn is_staged(&self) -> bool {
        matches!(self.run, RechunkRun::Staged { .. })
    }
}

/// A plan as data: what [`ChunkedArray::explain`](crate::ChunkedArray::explain) prints, for
/// tests and tools to assert on without parsing text. Made by
/// [`ChunkedArray::plan_summary`](crate::ChunkedArray::plan_summary); its `Display` is the
/// `explain()` text.
///
/// Task counts are those of the run that writes the result: when a rechunk is staged, the
/// passes into temporary arrays run first as runs of their own and are not counted here
/// (see [`PlanSummary::rechunks`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanSummary {
    /// The optimized graph, consumers before inputs (the root first).
    pub optimized: Vec<PlanNode>,
    /// The graph as written, before optimization, consumers before inputs.
    pub as_written: Vec<PlanNode>,
    /// Each rechunk of the optimized graph and how it runs, in the order of
    /// [`PlanSummary::optimized`].
    pub rechunks: Vec<RechunkSummary>,
    /// The number of tasks.
    pub tasks: usize,
    /// Tasks per operation label ([`PlanNode::op`] of the node each task computes a block of).
    pub tasks_by_op: BTreeMap<String, usize>,
    /// Block reads per source that is not in memory (stores, generators), keyed by the
    /// source's description (the text inside `source[...]`; sources described alike are
    /// counted together). In-memory sources are read in place, without tasks, and are absent.
    pub reads_by_source: BTreeMap<String, usize>,
    /// The number of output blocks (of all roots together).
    pub output_blocks: usize,
    /// Projected bytes of the largest task: its inputs, output and scratch.
    pub largest_task_bytes: usize,
    /// Projected peak of held and running bytes of a one-thread run into memory.
    pub projected_peak_bytes: usize,
    /// Estimated heap of the plan itself while it runs: its tasks (their kernels' vectors of
    /// leaves, regions and shapes) and the scheduler's state for them. Beyond the first MiB
    /// it counts against the memory limit like any block.
    pub plan_bytes: usize,
    /// The memory limit the plan was made for.
    pub memory_limit: usize,
    /// Why a run would be refused before it starts (the error's message: the plan, lowered
    /// frugally if need be, does not fit the limit), or `None`. A plan with staged rechunks
    /// has its passes checked one by one when they run, so it is `None` there.
    pub refusal: Option<String>,
}

impl PlanSummary {
    /// The nodes of the optimized graph of kind `kind`.
    pub fn optimized_of(&self, kind: OpKind) -> impl Iterator<Item = &PlanNode> {
        self.optimized.iter().filter(move |n| n.kind == kind)
    }

    /// The number of rechunks that run in passes through temporary arrays.
    pub fn staged_rechunks(&self) -> usize {
        self.rechunks.iter().filter(|r| r.is_staged()).count()
    }

    /// The total number of block reads of stores and generators.
    pub fn reads(&self) -> usize {
        self.reads_by_source.values().sum()
    }

    /// Whether the plan fits the memory limit: no [`PlanSummary::refusal`] (a plan with
    /// staged rechunks is checked pass by pass as it runs).
    pub fn fits(&self) -> bool {
        self.refusal.is_none()
    }
}

fn plan_node(n: &NodeRef) -> PlanNode {
    PlanNode {
        id: n.id,
        kind: match n.op {
            Op::Source(_) => OpKind::Source,
            Op::Elementwise { .. } => OpKind::Elementwise,
            Op::Rechunk { .. } => OpKind::Rechunk,
            Op::Reduce(_) | Op::TreeCut(_) => OpKind::Reduce,
            Op::Scan { .. } => OpKind::Scan,
            Op::Blocks { .. } => OpKind::Blocks,
            Op::GroupReduce(_) => OpKind::GroupReduce,
        },
        op: n.op_name(),
        dtype: n.dtype,
        shape: n.shape.clone(),
        chunks: n.grid.clone(),
        inputs: n.inputs().iter().map(|i| i.id).collect(),
    }
}

fn rechunk_summary(n: &NodeRef, limit: usize) -> Option<RechunkSummary> {
    let Op::Rechunk { input } = &n.op else {
        return None;
    };
    let (run, detail) = match rechunk_stages(n, limit) {
        Some(plan) => (
            RechunkRun::Staged {
                stages: plan.stages().to_vec(),
                passes: plan.passes().len(),
                max_task_bytes: plan.max_task_bytes(),
            },
            format!(
                "{plan}\n  (intermediates are written to temporary Zarr arrays, one run per \
                 pass; the tasks below are the last pass's reads before staging)"
            ),
        ),
        None => {
            let bytes = gather_task_bytes(&input.grid, &n.grid, n.dtype.size());
            (
                RechunkRun::Direct {
                    max_task_bytes: bytes,
                },
                format!(
                    "rechunk {} → {}: direct (one gather pass), max task {}",
                    input.grid,
                    n.grid,
                    human_bytes(bytes)
                ),
            )
        }
    };
    Some(RechunkSummary {
        node: n.id,
        from: input.grid.clone(),
        to: n.grid.clone(),
        run,
        detail,
    })
}

/// The summary of the plan of `roots` for a run with memory limit `limit`.
pub(crate) fn summarize(roots: &[NodeRef], limit: usize) -> PlanSummary {
    let opt = optimize(roots);
    let opt_nodes = topo(&opt);
    let rechunks = opt_nodes
        .iter()
        .filter_map(|n| rechunk_summary(n, limit))
        .collect::<Vec<RechunkSummary>>();
    let staged = rechunks.iter().any(RechunkSummary::is_staged);
    let (plan, fits) = plan_within(
        &opt.iter()
            .map(|n| Root {
                node: n.clone(),
                direct: true,
                order: if direct_rechunk(n, limit) {
                    group_order(n)
                } else {
                    None
                },
            })
            .collect::<Vec<_>>(),
        limit,
    );
    let mut tasks_by_op: BTreeMap<String, usize> = BTreeMap::new();
    for t in &plan.tasks {
        *tasks_by_op.entry(t.label.to_string()).or_default() += 1;
    }
    // Read tasks carry their source node's label; in-memory sources have no read tasks (the
    // copies of their blocks into an output carry the label too, so they are left out).
    let mut reads_by_source: BTreeMap<String, usize> = BTreeMap::new();
    for n in &opt_nodes {
        if let Op::Source(src) = &n.op
            && src.as_memory().is_none()
        {
            let reads = tasks_by_op.get(&n.op_name()).copied().unwrap_or(0);
            reads_by_source.insert(src.describe(), reads);
        }
    }
    let largest_task_bytes = (0..plan.tasks.len())
        .map(|t| plan.task_bytes(t))
        .max()
        .unwrap_or(0);
    PlanSummary {
        optimized: opt_nodes.iter().map(plan_node).collect(),
        as_written: topo(roots).iter().map(plan_node).collect(),
        rechunks,
        tasks: plan.tasks.len(),
        tasks_by_op,
        reads_by_source,
        output_blocks: opt.iter().map(|n| n.grid.nblocks()).sum(),
        largest_task_bytes,
        projected_peak_bytes: plan.projected_peak(),
        plan_bytes: plan.heap_bytes,
        memory_limit: limit,
        refusal: match fits {
            Err(e) if !staged => Some(e.to_string()),
            _ => None,
        },
    }
}

fn write_graph(f: &mut fmt::Formatter<'_>, title: &str, nodes: &[PlanNode]) -> fmt::Result {
    writeln!(f, "{title} ({} nodes):", nodes.len())?;
    for n in nodes {
        let inputs: Vec<String> = n.inputs.iter().map(|i| format!("#{i}")).collect();
        writeln!(
            f,
            "  #{} {} {} {:?} chunks {}{}",
            n.id,
            n.op,
            n.dtype,
            n.shape,
            n.chunks,
            if inputs.is_empty() {
                String::new()
            } else {
                format!(" <- {}", inputs.join(", "))
            }
        )?;
    }
    Ok(())
}

/// The `explain()` text: the optimized graph, how each rechunk runs, the graph as written,
/// the tasks by operation and the projected memory.
impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_graph(f, "optimized graph", &self.optimized)?;
        for r in &self.rechunks {
            writeln!(f, "#{} {}", r.node, r.detail)?;
        }
        write_graph(f, "as written", &self.as_written)?;
        writeln!(f, "tasks: {}", self.tasks)?;
        for (op, n) in &self.tasks_by_op {
            writeln!(f, "  {n:>8} × {op}")?;
        }
        writeln!(
            f,
            "largest task: {}; projected peak (one thread, into memory): {}; plan: {}",
            human_bytes(self.largest_task_bytes),
            human_bytes(self.projected_peak_bytes),
            human_bytes(self.plan_bytes)
        )?;
        if let Some(why) = &self.refusal {
            writeln!(
                f,
                "does not fit the memory limit of {}: {why}",
                human_bytes(self.memory_limit)
            )?;
        }
        Ok(())
    }
}

pub(crate) fn to_dot(roots: &[NodeRef]) -> String {
    let opt = optimize(roots);
    let mut s = String::from(
        "digraph chunkwise {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for n in topo(&opt) {
        let label = format!(
            "#{} {}\\n{} {:?}\\nchunks {}",
            n.id,
            n.op_name(),
            n.dtype,
            n.shape,
            n.grid
        )
        .replace('"', "\\\"");
        let shape = match n.op {
            Op::Source(_) => "cylinder",
            Op::Reduce(_) | Op::GroupReduce(_) | Op::TreeCut(_) => "invtrapezium",
            Op::Scan { .. } => "cds",
            _ => "box",
        };
        let _ = writeln!(s, "  n{} [label=\"{}\", shape={}];", n.id, label, shape);
        for i in n.inputs() {
            let _ = writeln!(s, "  n{} -> n{};", i.id, n.id);
        }
    }
    s.push_str("}\n");
    s
}
