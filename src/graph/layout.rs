//! Memory-order blocks for results computed into memory from arrays already in memory.
//!
//! An in-memory array chunked across its last axis (an 8192² f64 array in 1024² chunks) gives
//! each task a block whose rows are short runs far apart (8 KiB every 64 KiB). Walking such a
//! block costs 2–4× a contiguous walk of the same bytes on the machines we measure (a TLB miss
//! and a restarted prefetch stream every row), and the in-place reads then lose to a plain
//! `ndarray` loop over the same data by that much.
//!
//! When the result goes straight into memory (`compute`, `compute_all`), no one sees its
//! blocks, so the work is run with blocks merged along the last axis: runs of whole rows,
//! read and written in memory order. This applies only where it is free: elementwise
//! expressions and reductions whose leaves are all row-major in-memory arrays (their blocks
//! are views; nothing is copied or held), and merged blocks stay under [`MAX_MERGED_BYTES`]
//! and a small fraction of the memory limit. Streaming consumers (`for_each_block`, `store`)
//! keep the chunks the user chose.

use super::node::{Node, NodeRef, Op, ReduceSpec};
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::dispatch;
use crate::element::AnyArray;

/// The largest merged block (bytes, at 8 bytes an element).
const MAX_MERGED_BYTES: usize = 64 << 20;

/// About how large the tasks over merged blocks are kept (bytes, at 8 bytes an element).
const TASK_BYTES: usize = 16 << 20;

/// `root` with blocks merged along the last axis where that is free (see the module docs);
/// `root` itself otherwise. The result has the same shape, dtype and values.
pub(crate) fn memory_order(root: &NodeRef, memory_limit: usize) -> NodeRef {
    let cap = MAX_MERGED_BYTES.min(memory_limit / 8);
    match &root.op {
        Op::Source(_) | Op::Elementwise { .. } if reads_memory_only(root) => {
            match merged_grid(&root.grid, cap) {
                Some(grid) => rechunked(root, grid),
                None => root.clone(),
            }
        }
        Op::Reduce(r) if reads_memory_only(&r.input) => {
            let Some(grid) = merged_grid(&r.input.grid, cap) else {
                return root.clone();
            };
            let spec = ReduceSpec {
                input: rechunked(&r.input, grid),
                axes: r.axes.clone(),
                keepdims: r.keepdims,
                split_every: r.split_every,
                reducer: r.reducer.clone(),
            };
            Node::new(spec.out_grid(), root.dtype, Op::Reduce(spec))
        }
        _ => root.clone(),
    }
}

fn rechunked(n: &NodeRef, grid: ChunkGrid) -> NodeRef {
    Node::new(grid, n.dtype, Op::Rechunk { input: n.clone() })
}

/// Whether `n` reads at least one in-memory array and every leaf under it (through
/// elementwise operations and rechunks) is a row-major in-memory array, so that any regrid of
/// `n` is read in place. (Constants alone, such as `ones`, have no memory order to follow.)
fn reads_memory_only(n: &NodeRef) -> bool {
    memory_leaves(n).is_some_and(|k| k > 0)
}

/// The number of in-memory leaves under `n`, or `None` if some leaf is anything else.
fn memory_leaves(n: &NodeRef) -> Option<usize> {
    match &n.op {
        Op::Source(s) => s.as_memory().filter(|a| is_row_major(a)).map(|_| 1),
        Op::Elementwise { inputs, .. } => inputs.iter().map(memory_leaves).sum(),
        Op::Rechunk { input } => memory_leaves(input),
        _ => None,
    }
}

fn is_row_major(a: &AnyArray) -> bool {
    dispatch!(AnyArray, a, v => v.is_standard_layout())
}

/// `grid` with consecutive blocks of the last axis merged (all of them, or as many as fit
/// `cap` bytes per block); `None` when nothing would merge.
fn merged_grid(grid: &ChunkGrid, cap: usize) -> Option<ChunkGrid> {
    let nd = grid.ndim();
    if nd < 2 || grid.axis(nd - 1).nblocks() < 2 {
        return None;
    }
    let block_bytes: usize = grid.axes().iter().map(|a| a.max_size()).product::<usize>() * 8;
    if block_bytes == 0 {
        return None;
    }
    let k = (cap / block_bytes).min(grid.axis(nd - 1).nblocks());
    if k < 2 {
        return None;
    }
    let sizes: Vec<usize> = grid
        .axis(nd - 1)
        .sizes()
        .chunks(k)
        .map(|c| c.iter().sum())
        .collect();
    let mut axes = grid.axes().to_vec();
    axes[nd - 1] = AxisChunks::from_sizes(&sizes);
    // Whole rows make large blocks (64 MiB for 1024 rows of 8192 f64): split the first axis
    // so tasks stay near TASK_BYTES, or the slowest of a few large tasks sets the end of the
    // run while the other threads wait.
    let merged: usize = axes.iter().map(|a| a.max_size()).product::<usize>() * 8;
    if merged > TASK_BYTES {
        let f = merged.div_ceil(TASK_BYTES);
        let split: Vec<usize> = axes[0]
            .sizes()
            .iter()
            .flat_map(|&s| {
                let piece = s.div_ceil(f).max(1);
                (0..s).step_by(piece).map(move |o| piece.min(s - o))
            })
            .collect();
        axes[0] = AxisChunks::from_sizes(&split);
    }
    Some(ChunkGrid::new(axes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_the_last_axis_within_the_cap() {
        let g = ChunkGrid::regular(&[8192, 8192], &[1024, 1024]);
        let m = merged_grid(&g, 64 << 20).expect("merges");
        assert_eq!(m.axis(1).sizes(), vec![8192]);
        // Whole rows, in bands of 256 rows (16 MiB) rather than 1024 (64 MiB).
        assert_eq!(m.axis(0).sizes(), vec![256; 32]);
        // Only two blocks of 8 MiB fit 16 MiB: pairs.
        let m = merged_grid(&g, 16 << 20).expect("merges");
        assert_eq!(m.axis(1).sizes(), vec![2048; 4]);
        // Nothing to merge: one block along the last axis, a 1-d array, or a cap too small.
        assert!(merged_grid(&ChunkGrid::regular(&[100, 10], &[10, 10]), 1 << 30).is_none());
        assert!(merged_grid(&ChunkGrid::regular(&[100], &[10]), 1 << 30).is_none());
        assert!(merged_grid(&g, 8 << 20).is_none());
    }

    #[test]
    fn ragged_last_blocks_merge_in_order() {
        let g = ChunkGrid::regular(&[4, 10], &[2, 3]);
        let m = merged_grid(&g, 2 * 3 * 8 * 2).expect("merges");
        assert_eq!(m.axis(1).sizes(), vec![6, 4]);
    }

    fn runtime() -> crate::Runtime {
        crate::Runtime::builder()
            .threads(2)
            .build()
            .expect("runtime")
    }

    #[test]
    fn results_in_memory_run_in_row_bands_with_the_same_values() {
        let data = ndarray::Array2::from_shape_fn((40, 36), |(i, j)| (i * 36 + j) as f64 * 0.5);
        let x = crate::ChunkedArray::from_ndarray(data.clone(), [10, 7]).expect("chunks");
        let rt = runtime();
        let y = (&x * 2.0 + 1.0).powi(2);
        let got = y.compute(&rt).expect("compute");
        // 4 row bands instead of 4 × 6 blocks: one task per band.
        assert_eq!(rt.last_report().tasks, 4);
        let want = data.mapv(|v| (v * 2.0 + 1.0).powi(2)).into_dyn();
        assert_eq!(got, want);
        // Streaming consumers keep the chunks the user chose.
        let mut blocks = 0;
        y.for_each_block(&rt, |_, _| {
            blocks += 1;
            Ok(())
        })
        .expect("stream");
        assert_eq!(blocks, 24);
        // Reductions over row bands keep their output shape and values.
        let m = x.mean_axis(0).expect("axis").compute(&rt).expect("compute");
        let want = data.mean_axis(ndarray::Axis(0)).expect("rows").into_dyn();
        assert!(
            m.iter()
                .zip(&want)
                .all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs())
        );
    }

    #[test]
    fn other_leaves_keep_their_chunks() {
        let rt = runtime();
        // Constants have no memory order; transposed arrays are not row-major.
        let ones = crate::ChunkedArray::<f64>::ones(&[40, 36], [10, 7]).expect("chunks");
        (&ones + 1.0).compute(&rt).expect("compute");
        assert_eq!(rt.last_report().tasks, 24);
        let t = ndarray::Array2::<f64>::zeros((36, 40)).reversed_axes();
        let x = crate::ChunkedArray::from_ndarray(t, [10, 7]).expect("chunks");
        (&x + 1.0).compute(&rt).expect("compute");
        assert_eq!(rt.last_report().tasks, 24);
    }
}
