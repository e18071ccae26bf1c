use super::blockfn::BlockFn;
use super::group::GroupSpec;
use super::treecut::TreeCut;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::element::DType;
use crate::io::BlockSource;
use crate::ops::expr::Expr;
use crate::ops::reduce::Reducer;
use crate::ops::scan::ScanOp;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A shared node of the expression graph.
pub(crate) type NodeRef = Arc<Node>;

/// One array of the lazy expression graph: its shape, chunking, element type and how it is
/// computed from its inputs.
pub(crate) struct Node {
    /// Unique id, stable for the life of the node (used in plans and DOT output).
    pub id: u64,
    pub shape: Vec<usize>,
    pub grid: ChunkGrid,
    pub dtype: DType,
    pub op: Op,
}

/// How a node is computed.
pub(crate) enum Op {
    /// Blocks read from a source (memory, generator, store); any region can be read.
    Source(Arc<dyn BlockSource>),
    /// An elementwise expression over inputs broadcast to this node's shape. Every input's
    /// chunks equal this node's chunks on each axis where the input is not broadcast.
    Elementwise { expr: Expr, inputs: Vec<NodeRef> },
    /// The input with this node's chunk grid.
    Rechunk { input: NodeRef },
    /// A tree reduction of the input over `axes`.
    Reduce(ReduceSpec),
    /// A scan (`cumsum`, ...) of the input along `axis`, chained block to block.
    Scan {
        input: NodeRef,
        axis: usize,
        op: Arc<dyn ScanOp>,
    },
    /// A grouped reduction along one axis (groupby, resample).
    GroupReduce(GroupSpec),
    /// Each block computed by a block function from a few input blocks (slices of computed
    /// arrays, transposes, reshapes, concatenation, `map_blocks`, `map_overlap`).
    Blocks {
        f: Arc<dyn BlockFn>,
        inputs: Vec<NodeRef>,
    },
    /// Part of a reduction's tree, for an engine's stages ([`super::treecut`]).
    #[cfg_attr(not(feature = "zarr"), allow(dead_code))]
    TreeCut(TreeCut),
}

/// A reduction: per-block partials, combined `split_every` at a time, then finalised.
#[derive(Clone)]
pub(crate) struct ReduceSpec {
    pub input: NodeRef,
    /// Reduced axes of the input, sorted and unique.
    pub axes: Vec<usize>,
    pub keepdims: bool,
    pub split_every: usize,
    pub reducer: Arc<dyn Reducer>,
}

impl ReduceSpec {
    /// The grid of the reduction's output: the input's chunks on kept axes, one length-1
    /// block on reduced axes with `keepdims`.
    pub(crate) fn out_grid(&self) -> ChunkGrid {
        let axes = self.input.grid.axes().iter().enumerate();
        ChunkGrid::new(
            axes.filter_map(|(ax, a)| match self.axes.contains(&ax) {
                true if self.keepdims => Some(AxisChunks::regular(1, 1)),
                true => None,
                false => Some(a.clone()),
            })
            .collect(),
        )
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Node {
    pub(crate) fn new(grid: ChunkGrid, dtype: DType, op: Op) -> NodeRef {
        Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape: grid.shape(),
            grid,
            dtype,
            op,
        })
    }

    /// This node with other inputs (same operation, grid and type).
    pub(crate) fn with_inputs(&self, mut inputs: Vec<NodeRef>) -> NodeRef {
        let op = match &self.op {
            Op::Source(s) => Op::Source(s.clone()),
            Op::Elementwise { expr, .. } => Op::Elementwise {
                expr: expr.clone(),
                inputs,
            },
            Op::Rechunk { .. } => Op::Rechunk {
                input: inputs.remove(0),
            },
            Op::Reduce(r) => Op::Reduce(ReduceSpec {
                input: inputs.remove(0),
                axes: r.axes.clone(),
                keepdims: r.keepdims,
                split_every: r.split_every,
                reducer: r.reducer.clone(),
            }),
            Op::Blocks { f, .. } => Op::Blocks {
                f: f.clone(),
                inputs,
            },
            Op::GroupReduce(g) => Op::GroupReduce(g.with_input(inputs.remove(0))),
            Op::Scan { axis, op, .. } => Op::Scan {
                input: inputs.remove(0),
                axis: *axis,
                op: op.clone(),
            },
            Op::TreeCut(c) => Op::TreeCut(c.with_input(inputs.remove(0))),
        };
        Node::new(self.grid.clone(), self.dtype, op)
    }

    /// The node's inputs.
    pub(crate) fn inputs(&self) -> Vec<&NodeRef> {
        match &self.op {
            Op::Source(_) => vec![],
            Op::Elementwise { inputs, .. } => inputs.iter().collect(),
            Op::Rechunk { input } => vec![input],
            Op::Reduce(r) => vec![&r.input],
            Op::Scan { input, .. } => vec![input],
            Op::GroupReduce(g) => vec![&g.input],
            Op::Blocks { inputs, .. } => inputs.iter().collect(),
            Op::TreeCut(c) => vec![c.input()],
        }
    }

    /// A short name of the operation.
    pub(crate) fn op_name(&self) -> String {
        match &self.op {
            Op::Source(s) => format!("source[{}]", s.describe()),
            Op::Elementwise { expr, .. } => format!("elementwise[{expr}]"),
            Op::Rechunk { .. } => "rechunk".to_string(),
            Op::Scan { op, axis, .. } => format!("scan[{} axis={axis}]", op.name()),
            Op::Reduce(r) => format!(
                "reduce[{} axes={:?}{}]",
                r.reducer.name(),
                r.axes,
                if r.keepdims { " keepdims" } else { "" }
            ),
            Op::Blocks { f, .. } => f.name(),
            Op::GroupReduce(g) => g.describe(),
            Op::TreeCut(c) => c.describe(),
        }
    }
}
