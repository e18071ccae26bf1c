//! The stage cut (issue 11, item 1): an optimized plan as stages, each of which materializes
//! one node into a Zarr array of the work directory, in batches of whole blocks.
//!
//! Stages are, in order: the intermediate passes of staged rechunks (the cut of
//! [`crate::graph::stage`]), reductions whose result later nodes consume (so that a batch of
//! the consumer reads the reduced value instead of reducing again), and the final results.
//! A batch is a rectangle of its node's block grid; a worker computes it as the node sliced to
//! that region, which reads only what the region needs. Every output block is computed whole
//! inside one batch by the same kernels and reduction trees as on the local engine, so results
//! are bit-identical. A reduction cut into tree levels ([`crate::graph::treecut`]) follows the
//! default tree; where the local plan folds that reduction in place instead (one output block
//! whose state is as large as an input block, or a plan that fits only as chains), the two
//! agree to rounding.

use super::hash::Fnv128;
use super::stage_source::StageSource;
use crate::chunks::{ChunkGrid, Region, for_each_index};
use crate::element::AnyArray;
use crate::error::{Error, Result};
use crate::graph::lower::reduce_group_size;
use crate::graph::node::{Node, NodeRef, Op};
use crate::graph::optimize::{optimize, slice_node};
use crate::graph::slice::{SliceAxis, SliceSpec};
use crate::graph::treecut::{TreeCut, cut_depths};
use crate::io::BlockSource;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One stage: a node written into the work directory's array `array`, batch by batch.
pub(crate) struct Stage {
    /// A short name (`"rechunk pass 1"`, `"reduce[mean axes=[0]]"`, `"result 0"`).
    pub name: String,
    /// The array's name in the work directory's store of this computation.
    pub array: String,
    /// What the stage computes: an optimized node that reads only sources and the arrays of
    /// earlier stages.
    pub node: NodeRef,
    /// The batches: chunk-aligned regions of `node`, covering it.
    pub batches: Vec<Region>,
}

impl Stage {
    /// The chunk shape of the stage's array.
    pub(crate) fn chunk_shape(&self) -> Vec<usize> {
        self.node
            .grid
            .chunk_shape()
            .iter()
            .map(|&c| c.max(1))
            .collect()
    }

    /// Batch `b`: the stage's node sliced to the batch's region.
    pub(crate) fn batch_node(&self, b: usize) -> NodeRef {
        let spec = SliceSpec {
            elems: self.batches[b]
                .0
                .iter()
                .map(|r| SliceAxis::Range {
                    start: r.start,
                    len: r.len(),
                    step: 1,
                })
                .collect(),
        };
        slice_node(&self.node, &spec)
    }
}

/// One computation's stages, in the order they must run.
pub(crate) struct StagePlan {
    /// The computation's number on its runtime (0 for the first).
    pub compute: usize,
    pub stages: Vec<Stage>,
    /// For each root of the computation, the stage that writes it.
    pub finals: Vec<usize>,
    /// The plan hash (32 hex digits).
    pub hash: String,
}

impl StagePlan {
    /// Cuts the computation of `roots` (number `compute` on a runtime with memory limit
    /// `limit`) into stages whose arrays live in the store `store`, in batches of about
    /// `batch_bytes` of work. Nothing is read or written.
    ///
    /// # Errors
    /// [`Error::Engine`] when a node to materialize has irregular chunks (a Zarr array's grid
    /// is regular): rechunk it to a regular grid first.
    pub(crate) fn cut(
        engine: &'static str,
        roots: &[NodeRef],
        compute: usize,
        limit: usize,
        batch_bytes: usize,
        store: &Path,
    ) -> Result<StagePlan> {
        let mut cutter = Cutter {
            engine,
            store: store.to_path_buf(),
            stages: Vec::new(),
            limit,
            batch_bytes,
        };
        let opt = optimize(roots);
        let opt = crate::graph::stage::stage_rechunks(&opt, limit, &mut |pass| {
            let name = format!("rechunk pass to {}", pass.grid);
            cutter.materialize(pass, name)
        })?;
        let opt = cut_reductions(&opt, &mut cutter)?;
        let mut finals = Vec::with_capacity(opt.len());
        for (r, node) in opt.iter().enumerate() {
            cutter.materialize(node, format!("result {r}"))?;
            // The last stage: a reduction cut into stages writes its result last.
            finals.push(cutter.stages.len() - 1);
        }
        let stages: Vec<Stage> = cutter
            .stages
            .into_iter()
            .map(|(name, array, node)| Stage {
                batches: layout(&node, batch_bytes),
                name,
                array,
                node,
            })
            .collect();
        let hash = plan_hash(compute, &stages);
        Ok(StagePlan {
            compute,
            stages,
            finals,
            hash,
        })
    }

    /// Batches of all stages.
    pub(crate) fn batch_count(&self) -> usize {
        self.stages.iter().map(|s| s.batches.len()).sum()
    }
}

/// Collects stages as the cut finds them.
struct Cutter {
    engine: &'static str,
    store: PathBuf,
    /// `(name, array, node)`.
    stages: Vec<(String, String, NodeRef)>,
    /// The runtime's memory limit (reduction trees are grouped as the local engine's).
    limit: usize,
    /// The work of one batch.
    batch_bytes: usize,
}

impl Cutter {
    /// Registers the stages that write `node` and returns a source over the last one's array:
    /// one stage, or for a reduction whose output block is far more work than a batch, the
    /// stages of its cut tree ([`crate::graph::treecut`]), the result last.
    fn materialize(&mut self, node: &NodeRef, name: String) -> Result<Arc<dyn BlockSource>> {
        self.check_regular(node, &name)?;
        let node = self.cut_tree(node, &name)?;
        self.push_stage(&node, name)
    }

    /// `node` as the last part of its cut tree when it is a reduction worth cutting (the
    /// parts before it registered as stages), else `node`.
    fn cut_tree(&mut self, node: &NodeRef, name: &str) -> Result<NodeRef> {
        let Op::Reduce(spec) = &node.op else {
            return Ok(node.clone());
        };
        let Some(sb) = spec.reducer.state_bytes() else {
            return Ok(node.clone());
        };
        let group = reduce_group_size(spec, false, self.limit / 4, self.limit);
        let part = |from: Option<(NodeRef, usize)>, to: Option<usize>| TreeCut {
            reduce: spec.clone(),
            out_grid: node.grid.clone(),
            out_dtype: node.dtype,
            group,
            from,
            to,
        };
        let whole = part(None, None);
        let (ngroups, split) = (whole.ngroups(), whole.split());
        let out_bytes = node.shape.iter().product::<usize>() * node.dtype.size();
        let per_in_block =
            work_bytes(node).saturating_sub(out_bytes) / spec.input.grid.nblocks().max(1);
        let partial = node.grid.max_block_len().max(1) * sb;
        let depths = cut_depths(
            ngroups,
            split,
            self.batch_bytes,
            &|k| k.saturating_mul(group).saturating_mul(per_in_block),
            partial,
        );
        let mut from = None;
        for d in depths {
            let pn = part(from.take(), Some(d)).into_node();
            let stage = format!(
                "{name}: partials at tree depth {d} ({} subtrees)",
                pn.shape[0]
            );
            let src = self.push_stage(&pn, stage)?;
            from = Some((Node::new(pn.grid.clone(), pn.dtype, Op::Source(src)), d));
        }
        Ok(match from {
            Some(f) => part(Some(f), None).into_node(),
            None => node.clone(),
        })
    }

    fn check_regular(&self, node: &NodeRef, name: &str) -> Result<()> {
        if !node.grid.is_regular() {
            return Err(Error::Engine {
                engine: self.engine,
                detail: format!(
                    "{name} has irregular chunks {} (an array of shape {:?}); a work \
                     directory's Zarr arrays need a regular grid: rechunk it to regular \
                     chunks first",
                    node.grid, node.shape
                ),
            });
        }
        Ok(())
    }

    /// Registers a stage that writes `node` and returns a source over its array.
    fn push_stage(&mut self, node: &NodeRef, name: String) -> Result<Arc<dyn BlockSource>> {
        let array = format!("s{}", self.stages.len());
        let chunks = node.grid.chunk_shape().iter().map(|&c| c.max(1)).collect();
        let src = StageSource::new(
            self.store.clone(),
            array.clone(),
            node.shape.clone(),
            chunks,
            node.dtype,
        );
        self.stages.push((name, array, node.clone()));
        Ok(Arc::new(src))
    }
}

/// Replaces every reduction that another node consumes by a read of its stage's array.
fn cut_reductions(roots: &[NodeRef], cutter: &mut Cutter) -> Result<Vec<NodeRef>> {
    let mut memo = HashMap::new();
    let mut cut = HashMap::new();
    roots
        .iter()
        .map(|r| walk(r, cutter, &mut memo, &mut cut))
        .collect()
}

fn walk(
    n: &NodeRef,
    cutter: &mut Cutter,
    memo: &mut HashMap<*const Node, NodeRef>,
    cut: &mut HashMap<*const Node, NodeRef>,
) -> Result<NodeRef> {
    if let Some(r) = memo.get(&Arc::as_ptr(n)) {
        return Ok(r.clone());
    }
    let old: Vec<NodeRef> = n.inputs().into_iter().cloned().collect();
    let mut new = Vec::with_capacity(old.len());
    for i in &old {
        let w = walk(i, cutter, memo, cut)?;
        let consumed_reduction =
            matches!(w.op, Op::Reduce(_)) && w.grid.is_regular() && !w.shape.is_empty();
        if consumed_reduction {
            let key = Arc::as_ptr(&w);
            let src = match cut.get(&key) {
                Some(s) => s.clone(),
                None => {
                    let name = w.op_name();
                    let s = Node::new(
                        w.grid.clone(),
                        w.dtype,
                        Op::Source(cutter.materialize(&w, name)?),
                    );
                    cut.insert(key, s.clone());
                    s
                }
            };
            new.push(src);
        } else {
            new.push(w);
        }
    }
    let out = if new.iter().zip(&old).all(|(a, b)| Arc::ptr_eq(a, b)) {
        n.clone()
    } else {
        n.with_inputs(new)
    };
    memo.insert(Arc::as_ptr(n), out.clone());
    Ok(out)
}

/// Bytes a stage reads and writes: its sources' and its own.
pub(crate) fn work_bytes(node: &NodeRef) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![node];
    let mut bytes = node.shape.iter().product::<usize>() * node.dtype.size();
    while let Some(n) = stack.pop() {
        if !seen.insert(Arc::as_ptr(n)) {
            continue;
        }
        if let Op::Source(_) = n.op {
            bytes = bytes.saturating_add(n.shape.iter().product::<usize>() * n.dtype.size());
        }
        stack.extend(n.inputs());
    }
    bytes
}

/// The most batches of one stage (a bigger batch size is used beyond it). The driver keeps a
/// few hundred bytes per batch and Slurm runs them as arrays of `MaxArraySize`: an ERA5-sized
/// reduction (750,000 chunks, 3 TB) in batches of 256 MiB needs about 16,000.
const MAX_BATCHES: usize = 100_000;

/// The batches of `node`: rectangles of its block grid of about `batch_bytes` of work each
/// (at least one block), found by halving the longest side of the whole grid until a batch
/// is small enough.
fn layout(node: &NodeRef, batch_bytes: usize) -> Vec<Region> {
    let grid: &ChunkGrid = &node.grid;
    let blocks = grid.blocks_shape();
    let nblocks = grid.nblocks().max(1);
    let per_block = (work_bytes(node) / nblocks).max(1);
    let want = (batch_bytes / per_block)
        .max(1)
        .max(nblocks.div_ceil(MAX_BATCHES));
    let mut per: Vec<usize> = blocks.iter().map(|&b| b.max(1)).collect();
    while per.iter().product::<usize>() > want {
        let (a, _) = per
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|&(_, &p)| p)
            .expect("a grid with more than one block has an axis");
        per[a] = per[a].div_ceil(2);
    }
    let counts: Vec<std::ops::Range<usize>> = blocks
        .iter()
        .zip(&per)
        .map(|(&b, &p)| 0..b.div_ceil(p))
        .collect();
    let mut out = Vec::new();
    for_each_index(&counts, |idx| {
        let ranges = idx
            .iter()
            .enumerate()
            .map(|(a, &i)| {
                let ax = grid.axis(a);
                let (b0, b1) = (i * per[a], ((i + 1) * per[a]).min(blocks[a]));
                ax.range(b0).start..ax.range(b1 - 1).end
            })
            .collect();
        out.push(Region(ranges));
    });
    out
}

/// The plan hash: the computation's number, then every stage's name, array, batches and
/// graph (operations, shapes, chunk grids, element types, sources).
fn plan_hash(compute: usize, stages: &[Stage]) -> String {
    let mut h = Fnv128::default();
    h.str("chunkwise stage plan v1").u64(compute as u64);
    let mut memo = HashMap::new();
    for s in stages {
        h.str(&s.name).str(&s.array);
        hash_node(&s.node, &mut memo, &mut h);
        h.u64(s.batches.len() as u64);
        for b in &s.batches {
            for r in &b.0 {
                h.u64(r.start as u64).u64(r.end as u64);
            }
        }
    }
    h.hex()
}

/// Hashes `n` after its inputs; returns its number in the walk.
fn hash_node(n: &NodeRef, memo: &mut HashMap<*const Node, u64>, h: &mut Fnv128) -> u64 {
    if let Some(&k) = memo.get(&Arc::as_ptr(n)) {
        return k;
    }
    let inputs: Vec<u64> = n.inputs().iter().map(|i| hash_node(i, memo, h)).collect();
    let what = match &n.op {
        Op::Blocks { f, .. } => f.identity(),
        _ => n.op_name(),
    };
    h.str(&what).str(n.dtype.numpy_name());
    h.u64(n.shape.len() as u64);
    for sizes in n.grid.chunk_sizes() {
        h.u64(sizes.len() as u64);
        for s in sizes {
            h.u64(s as u64);
        }
    }
    for i in &inputs {
        h.u64(*i);
    }
    if let Op::Source(s) = &n.op
        && let Some(a) = s.as_memory()
    {
        hash_memory(a, h);
    }
    let k = memo.len() as u64;
    memo.insert(Arc::as_ptr(n), k);
    h.u64(k);
    k
}

/// Hashes the elements of an in-memory source (a worker must hold the same data).
fn hash_memory(a: &AnyArray, h: &mut Fnv128) {
    macro_rules! elements {
        ($($v:ident),*) => {
            match a {
                $(AnyArray::$v(x) => match x.as_slice() {
                    Some(s) => { h.bytes(bytemuck::cast_slice(s)); }
                    None => for e in x.iter() { h.bytes(bytemuck::cast_slice(std::slice::from_ref(e))); },
                }),*
            }
        };
    }
    elements!(Bool, I8, I16, I32, I64, U8, U16, U32, U64, F32, F64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChunkedArray;

    fn plan_of(a: &ChunkedArray<f64>, compute: usize) -> StagePlan {
        let store = Path::new("/nonexistent/work/arrays");
        StagePlan::cut(
            "processes",
            std::slice::from_ref(&a.node),
            compute,
            1 << 20,
            16 << 10,
            store,
        )
        .unwrap()
    }

    fn anomaly_std(seed: u64, shape: &[usize]) -> ChunkedArray<f64> {
        let x = ChunkedArray::<f64>::random_normal(shape, [4, 8, 8], seed, 0.0, 1.0).unwrap();
        let m = x.mean_axis(0).unwrap();
        (&x - &m).unwrap().std_axis(0).unwrap()
    }

    #[test]
    fn the_plan_hash_is_the_same_for_the_same_plan_and_differs_with_its_input() {
        let a = plan_of(&anomaly_std(1, &[32, 16, 16]), 0);
        let b = plan_of(&anomaly_std(1, &[32, 16, 16]), 0);
        assert_eq!(a.hash, b.hash, "two builds of the same plan");
        assert_eq!(a.hash.len(), 32);
        // The mean is consumed by a later node: a stage of its own, before the result.
        assert_eq!(a.stages.len(), 2);
        assert!(a.stages[0].name.contains("reduce"), "{}", a.stages[0].name);
        assert_eq!(a.finals, vec![1]);
        for other in [
            plan_of(&anomaly_std(2, &[32, 16, 16]), 0),
            plan_of(&anomaly_std(1, &[32, 16, 24]), 0),
            plan_of(&anomaly_std(1, &[32, 16, 16]), 1),
        ] {
            assert_ne!(a.hash, other.hash);
        }
        // In-memory inputs are hashed by their data.
        let mem = |v: f64| {
            let arr = ndarray::Array2::<f64>::from_elem((8, 8), v);
            ChunkedArray::from_ndarray(arr, [4, 4])
                .unwrap()
                .sum_axis(0)
                .unwrap()
        };
        assert_eq!(plan_of(&mem(1.0), 0).hash, plan_of(&mem(1.0), 0).hash);
        assert_ne!(plan_of(&mem(1.0), 0).hash, plan_of(&mem(2.0), 0).hash);
    }

    #[test]
    fn batches_are_chunk_aligned_and_cover_the_stage_once() {
        let p = plan_of(&anomaly_std(1, &[32, 16, 24]), 0);
        for s in &p.stages {
            assert!(
                s.batches.len() >= 2,
                "{}: {} batches",
                s.name,
                s.batches.len()
            );
            let grid = &s.node.grid;
            let mut covered = 0;
            for b in &s.batches {
                covered += b.len();
                for (a, r) in b.0.iter().enumerate() {
                    let offs = grid.axis(a).offsets();
                    assert!(offs.contains(&r.start), "{b} starts off the grid");
                    assert!(r.end == grid.axis(a).len() || offs.contains(&r.end));
                }
            }
            assert_eq!(covered, s.node.shape.iter().product::<usize>());
        }
    }

    #[test]
    fn a_reduction_far_larger_than_a_batch_is_cut_into_tree_levels_and_the_hash_covers_it() {
        // 1,024 blocks of 512 B along axis 0: 16 groups of 64 per output block.
        let x = ChunkedArray::<f64>::random_normal(&[1024, 8, 8], [1, 8, 8], 3, 0.0, 1.0).unwrap();
        let m = x.mean_axis(0).unwrap();
        let cut = |batch: usize| {
            StagePlan::cut(
                "processes",
                std::slice::from_ref(&m.node),
                0,
                64 << 20,
                batch,
                Path::new("/nonexistent/work/arrays"),
            )
            .unwrap()
        };
        let whole = cut(16 << 20);
        assert_eq!(whole.stages.len(), 1, "fits one batch: not cut");
        let p = cut(2 << 10);
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "result 0: partials at tree depth 2 (16 subtrees)",
                "result 0: partials at tree depth 1 (4 subtrees)",
                "result 0"
            ]
        );
        assert_eq!(p.finals, vec![2]);
        // Partials: (subtrees, output, 16 bytes of mean state), a block per subtree.
        assert_eq!(p.stages[0].node.shape, vec![16, 8, 8, 16]);
        assert_eq!(p.stages[0].chunk_shape(), vec![1, 8, 8, 16]);
        assert_eq!(p.stages[0].batches.len(), 16);
        assert_eq!(p.stages[2].node.shape, vec![8, 8]);
        assert_eq!(p.stages[2].node.dtype, crate::DType::F64);
        // Another cut is another plan.
        assert_ne!(p.hash, whole.hash);
        let other = cut(40 << 10);
        assert_eq!(
            other.stages.len(),
            2,
            "the 16 partials of 1 KiB are combined at once"
        );
        assert_ne!(p.hash, other.hash);
        assert_eq!(p.hash, cut(2 << 10).hash);
    }
}
