//! Running graphs: `compute` into memory, streaming to a closure, storing to a writer, and
//! `explain` / `to_dot` for looking at plans.

use super::ChunkedArray;
use crate::chunks::{ChunkGrid, Region};
use crate::element::{AnyViewMut, Element};
use crate::error::Result;
use crate::exec::task::Value;
use crate::exec::{OutputSink, RunReport, Runtime, run_plan};
use crate::graph::layout::memory_order;
use crate::graph::lower::{Root, plan_within};
use crate::graph::optimize::optimize;
use crate::graph::{NodeRef, explain};
use crate::io::BlockWriter;
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, IxDyn};
use std::sync::Mutex;

/// Optimizes, lowers and runs `roots`, storing the report on the runtime. Rechunks that need
/// stages run their intermediate passes first, through temporary Zarr arrays
/// ([`crate::graph::stage`]); the report then covers every pass (peak: the largest).
///
/// Plans use [`Runtime::available_memory`]: the limit less what persisted arrays hold.
fn run(rt: &Runtime, roots: &[(NodeRef, bool)], sinks: &[&dyn OutputSink]) -> Result<RunReport> {
    // On worker processes (issue 11): the driver cuts the plan into stages and batches.
    #[cfg(feature = "zarr")]
    if !rt.engine.engine.is_local() {
        let report = crate::engine::driver::run(rt, roots, sinks)?;
        if let Ok(mut last) = rt.last.lock() {
            *last = Some(report.clone());
        }
        return Ok(report);
    }
    let nodes: Vec<NodeRef> = roots.iter().map(|(n, _)| n.clone()).collect();
    let opt = optimize(&nodes);
    #[cfg(feature = "zarr")]
    let mut staging = staging::Staging::default();
    #[cfg(feature = "zarr")]
    let opt = crate::graph::stage::stage_rechunks(&opt, rt.available_memory(), &mut |pass| {
        staging.materialize(rt, pass)
    })?;
    #[allow(unused_mut)]
    let mut report = run_optimized(rt, opt, roots, sinks, false)?;
    #[cfg(feature = "zarr")]
    staging.merge_into(&mut report);
    if let Ok(mut last) = rt.last.lock() {
        *last = Some(report.clone());
    }
    Ok(report)
}

/// Lowers and runs already optimized roots.
pub(crate) fn run_optimized(
    rt: &Runtime,
    opt: Vec<NodeRef>,
    roots: &[(NodeRef, bool)],
    sinks: &[&dyn OutputSink],
    group_major: bool,
) -> Result<RunReport> {
    let (plan, fits) = plan_within(
        &opt.into_iter()
            .zip(roots)
            .map(|(node, (_, direct))| Root {
                // Passes of staged rechunks, and rechunks whose groups fit, run group by group
                // so each source block is read once.
                order: if group_major
                    || crate::graph::lower::direct_rechunk(&node, rt.available_memory())
                {
                    crate::graph::lower::group_order(&node)
                } else {
                    None
                },
                node,
                direct: *direct,
            })
            .collect::<Vec<_>>(),
        rt.available_memory(),
    );
    fits?;
    run_plan(rt, &plan, sinks)
}

#[cfg(feature = "zarr")]
pub(super) mod staging {
    use super::{WriterSink, run_optimized};
    use crate::error::Result;
    use crate::exec::{RunReport, Runtime};
    use crate::graph::NodeRef;
    use crate::io::BlockSource;
    use crate::io::zarr::{ZarrCompression, ZarrSource, ZarrWriteOptions, ZarrWriter};
    use std::path::PathBuf;
    use std::sync::Arc;

    /// The prefix of per-run scratch directories.
    pub(crate) const SCRATCH_PREFIX: &str = "chunkwise-rechunk-";

    /// Creates a scratch directory named `prefix` + owner tag, exclusively, under the
    /// runtime's scratch root (default: the system temp directory), after removing those of
    /// dead processes there with the same prefix.
    pub(crate) fn scratch_dir(rt: &Runtime, prefix: &str, op: &'static str) -> Result<PathBuf> {
        let root = rt.scratch_dir.clone().unwrap_or_else(std::env::temp_dir);
        let io = |p: &std::path::Path, source| crate::Error::Io {
            op,
            path: p.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
        crate::io::guard::clean_stale(&root, prefix);
        loop {
            let dir = root.join(format!("{prefix}{}", crate::io::guard::owner_tag()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(dir),
                // Someone else's (or ours from a forgotten run): never reuse it.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(&dir, e)),
            }
        }
    }

    /// A temporary directory removed (with everything in it) on drop.
    #[derive(Debug)]
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The intermediate arrays of one run's staged rechunks and the reports of their passes.
    #[derive(Default)]
    pub(super) struct Staging {
        dir: Option<TempDir>,
        passes: usize,
        reports: Vec<RunReport>,
    }

    impl Staging {
        /// Runs `pass` (an intermediate chunking) into a temporary Zarr array and opens it.
        pub(super) fn materialize(
            &mut self,
            rt: &Runtime,
            pass: &NodeRef,
        ) -> Result<Arc<dyn BlockSource>> {
            if self.dir.is_none() {
                self.dir = Some(TempDir(scratch_dir(
                    rt,
                    SCRATCH_PREFIX,
                    "create rechunk scratch directory",
                )?));
            }
            let dir = &self.dir.as_ref().expect("created above").0;
            let name = format!("stage{}", self.passes);
            self.passes += 1;
            let chunk_shape: Vec<usize> =
                pass.grid.chunk_shape().iter().map(|&c| c.max(1)).collect();
            let writer = ZarrWriter::create(
                dir,
                &name,
                &pass.shape,
                &chunk_shape,
                pass.dtype,
                ZarrWriteOptions {
                    compression: ZarrCompression::None,
                    overwrite: true,
                    ..Default::default()
                },
            )?;
            let sink = WriterSink {
                grid: pass.grid.clone(),
                writer: &writer,
            };
            let report = run_optimized(
                rt,
                vec![pass.clone()],
                &[(pass.clone(), false)],
                &[&sink],
                true,
            )?;
            crate::io::BlockWriter::commit(&writer)?;
            self.reports.push(report);
            Ok(Arc::new(ZarrSource::open(dir, &name)?))
        }

        /// Folds the passes' reports into the final one: tasks and bytes add up, the peak is
        /// the largest.
        pub(super) fn merge_into(&self, report: &mut RunReport) {
            for r in &self.reports {
                report.tasks += r.tasks;
                report.bytes_produced += r.bytes_produced;
                report.wall_time += r.wall_time;
                report.peak_tracked_bytes = report.peak_tracked_bytes.max(r.peak_tracked_bytes);
            }
        }
    }
}

/// Refuses to write `writer`'s array when the graph of `root` reads that same array (however
/// it was spelled): the output would replace the input while it is read.
fn refuse_own_source(root: &NodeRef, writer: &dyn BlockWriter) -> Result<()> {
    let Some(out) = writer.location() else {
        return Ok(());
    };
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if !seen.insert(n.id) {
            continue;
        }
        if let crate::graph::Op::Source(src) = &n.op
            && let Some(input) = src.location()
            && input.same_array(&out)
        {
            return Err(crate::Error::InvalidArgument {
                op: "store",
                detail: format!(
                    "the output {} is the array {} that this computation reads (the same \
                     array: {}); writing it would replace the input while it is read. \
                     Write to another array, then move it",
                    out.shown,
                    input.shown,
                    out.path.display()
                ),
            });
        }
        stack.extend(n.inputs());
    }
    Ok(())
}

/// A zeroed result array for the tasks to write into. `from_elem` of zero is a calloc: pages
/// are faulted in by the tasks that write them, in parallel, instead of by one thread up front.
///
/// # Errors
/// [`crate::Error::ResultTooLarge`] when the result cannot be allocated: its size overflows,
/// or the allocator refuses it (checked with a fallible reservation first, because a failed
/// infallible allocation aborts the process).
fn new_result<T: Element>(shape: &[usize]) -> Result<ArrayD<T>> {
    let too_large = || crate::Error::ResultTooLarge {
        shape: shape.to_vec(),
        bytes: shape
            .iter()
            .fold(std::mem::size_of::<T>() as u128, |acc, &s| {
                acc.saturating_mul(s as u128)
            }),
    };
    let len = shape
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .filter(|&n| {
            n.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .ok_or_else(too_large)?;
    // Probe: an untouched reservation costs no pages; freed at once, the calloc below then
    // gets the same room.
    Vec::<T>::new()
        .try_reserve_exact(len)
        .map_err(|_| too_large())?;
    let mut out = ArrayD::<T>::from_elem(IxDyn(shape), T::default());
    advise_huge_pages(&mut out);
    Ok(out)
}

/// Asks the kernel to back a large, not yet touched result with huge pages: the tasks that
/// write it then take one page fault per 2 MiB instead of per 4 KiB (a fresh 512 MiB result
/// costs ~0.2 s of 4 KiB faults on two cores), and walk it with fewer TLB misses. Advisory:
/// where transparent huge pages are off, nothing changes.
fn advise_huge_pages<T>(a: &mut ArrayD<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = a.len() * std::mem::size_of::<T>();
        if bytes < 4 * HUGE {
            return;
        }
        let start = a.as_mut_ptr() as usize;
        let (lo, hi) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
        if hi > lo {
            // SAFETY: [lo, hi) lies inside the array's own allocation, and MADV_HUGEPAGE only
            // changes how the kernel backs those pages, never their contents.
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// Receives blocks into a preallocated array: each task writes its own disjoint region.
struct ArraySink<'a, T> {
    slots: Vec<Mutex<Option<ArrayViewMutD<'a, T>>>>,
}

fn split_blocks<'a, T>(
    v: ArrayViewMutD<'a, T>,
    grid: &ChunkGrid,
    axis: usize,
    out: &mut Vec<Mutex<Option<ArrayViewMutD<'a, T>>>>,
) {
    if axis == grid.ndim() {
        out.push(Mutex::new(Some(v)));
        return;
    }
    let a = grid.axis(axis);
    let mut rest = v;
    for b in 0..a.nblocks() {
        let (head, tail) = rest.split_at(Axis(axis), a.size(b));
        split_blocks(head, grid, axis + 1, out);
        rest = tail;
    }
}

impl<'a, T: Element> ArraySink<'a, T> {
    fn new(out: &'a mut ArrayD<T>, grid: &ChunkGrid) -> Self {
        let mut slots = Vec::with_capacity(grid.nblocks());
        split_blocks(out.view_mut(), grid, 0, &mut slots);
        ArraySink { slots }
    }
}

impl<T: Element> OutputSink for ArraySink<'_, T> {
    fn slot(&self, k: usize) -> Option<AnyViewMut<'_>> {
        let v = self.slots[k].lock().ok()?.take()?;
        Some(T::wrap_view_mut(v))
    }
    fn accept(&self, k: usize, value: &Value) -> Result<()> {
        let mut guard = self.slots[k].lock().unwrap_or_else(|p| p.into_inner());
        let slot = guard
            .as_mut()
            .expect("internal: output block written twice");
        let src = T::array_ref(value.block()).expect("internal: output block of another type");
        slot.assign(src);
        Ok(())
    }
}

/// Hands blocks to a user closure, one at a time.
struct CallbackSink<'f, T, F> {
    grid: ChunkGrid,
    f: Mutex<&'f mut F>,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T: Element, F> OutputSink for CallbackSink<'_, T, F>
where
    F: FnMut(&Region, ArrayViewD<'_, T>) -> Result<()> + Send,
{
    fn slot(&self, _k: usize) -> Option<AnyViewMut<'_>> {
        None
    }
    fn accept(&self, k: usize, value: &Value) -> Result<()> {
        let region = self.grid.block_region(&self.grid.unravel(k));
        let block = T::array_ref(value.block()).expect("internal: output block of another type");
        let mut f = self.f.lock().unwrap_or_else(|p| p.into_inner());
        (f)(&region, block.view())
    }
}

/// Hands blocks to a [`BlockWriter`].
struct WriterSink<'w> {
    grid: ChunkGrid,
    writer: &'w dyn BlockWriter,
}

impl OutputSink for WriterSink<'_> {
    fn slot(&self, _k: usize) -> Option<AnyViewMut<'_>> {
        None
    }
    fn accept(&self, k: usize, value: &Value) -> Result<()> {
        let region = self.grid.block_region(&self.grid.unravel(k));
        self.writer.write(&region, &value.block().view())
    }
}

impl<T: Element> ChunkedArray<T> {
    /// Computes the array into memory. Each block is written straight into the result (no
    /// second full-size copy).
    ///
    /// # Errors
    /// [`crate::Error::ResultTooLarge`] before anything runs if the result cannot be
    /// allocated; [`crate::Error::TaskTooLarge`] before anything runs if one task cannot fit
    /// the memory limit; any error of a task (I/O, a user closure, a deferred shape error).
    pub fn compute(&self, rt: &Runtime) -> Result<ArrayD<T>> {
        let mut out = new_result::<T>(self.shape())?;
        {
            // Nobody sees the blocks of a result in memory: run in memory order where free.
            let node = memory_order(&self.node, rt.available_memory());
            let sink = ArraySink::new(&mut out, &node.grid);
            run(rt, &[(node, true)], &[&sink])?;
        }
        Ok(out)
    }

    /// Computes a 0-d array (the result of a full reduction) and returns its element.
    ///
    /// # Errors
    /// [`crate::Error::Shape`] before anything runs when the array is not 0-d (a 1-element
    /// array included: reduce it, or `compute` and index it); otherwise as
    /// [`ChunkedArray::compute`].
    pub fn compute_scalar(&self, rt: &Runtime) -> Result<T> {
        if self.ndim() != 0 {
            return Err(crate::Error::Shape {
                op: "compute_scalar",
                detail: format!(
                    "array of shape {:?} is not 0-d; compute_scalar takes the result of a full \
                     reduction (use compute for arrays)",
                    self.shape()
                ),
            });
        }
        let a = self.compute(rt)?;
        a.iter().next().copied().ok_or_else(|| crate::Error::Shape {
            op: "compute_scalar",
            detail: format!("array of shape {:?} has no element", self.shape()),
        })
    }

    /// Computes the array block by block, handing each finished block and its region to `f`
    /// (one call at a time, in completion order), so results need not fit in memory.
    ///
    /// # Errors
    /// As [`ChunkedArray::compute`], plus the first error `f` returns (the run then stops).
    pub fn for_each_block<F>(&self, rt: &Runtime, mut f: F) -> Result<RunReport>
    where
        F: FnMut(&Region, ArrayViewD<'_, T>) -> Result<()> + Send,
    {
        let sink = CallbackSink::<T, F> {
            grid: self.chunks().clone(),
            f: Mutex::new(&mut f),
            _t: std::marker::PhantomData,
        };
        run(rt, &[(self.node.clone(), false)], &[&sink])
    }

    /// Streams the blocks to `writer`, then commits it. The writer is not committed if any
    /// block fails.
    ///
    /// # Errors
    /// As [`ChunkedArray::compute`], plus the writer's errors.
    pub fn store(&self, rt: &Runtime, writer: &dyn BlockWriter) -> Result<RunReport> {
        refuse_own_source(&self.node, writer)?;
        let sink = WriterSink {
            grid: self.chunks().clone(),
            writer,
        };
        let report = run(rt, &[(self.node.clone(), false)], &[&sink])?;
        writer.commit()?;
        Ok(report)
    }

    /// A readable plan: the graph before and after optimization (nodes, shapes, chunk grids),
    /// how each rechunk runs, the number of tasks by operation, and the projected peak memory
    /// of a one-thread run, for the default memory limit. The text of
    /// [`ChunkedArray::plan_summary`]; its wording may change, so assert on the summary.
    pub fn explain(&self) -> String {
        explain::summarize(
            std::slice::from_ref(&self.node),
            crate::exec::DEFAULT_MEMORY_LIMIT,
        )
        .to_string()
    }

    /// [`ChunkedArray::explain`] for a run on `rt` (the plan depends on the memory limit:
    /// store blocks are read again rather than held when holding them would not fit, and
    /// rechunks whose groups do not fit run in stages).
    pub fn explain_for(&self, rt: &Runtime) -> String {
        self.plan_summary(rt).to_string()
    }

    /// The plan of a run on `rt` as data: the optimized and written graphs, how each rechunk
    /// runs (direct or staged), tasks in all and by operation, block reads per source, output
    /// blocks, the largest task and the projected one-thread peak against the memory limit.
    /// Nothing is run. Its `Display` is [`ChunkedArray::explain_for`]'s text.
    ///
    /// # Example: check that a chain fuses and stays in memory
    /// ```
    /// use chunkwise::prelude::*;
    /// use chunkwise::OpKind;
    ///
    /// let rt = Runtime::builder().threads(1).memory_limit("16 MiB").build()?;
    /// let x = ChunkedArray::<f64>::ones(&[100, 100], [50, 50])?;
    /// let y = (&x * 2.0 + 1.0).powi(2);
    /// let plan = y.plan_summary(&rt);
    /// assert_eq!(plan.optimized_of(OpKind::Elementwise).count(), 1);
    /// assert_eq!(plan.tasks, 4);
    /// assert_eq!(plan.output_blocks, 4);
    /// assert!(plan.fits());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn plan_summary(&self, rt: &Runtime) -> explain::PlanSummary {
        explain::summarize(std::slice::from_ref(&self.node), rt.available_memory())
    }

    /// The optimized graph in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        explain::to_dot(std::slice::from_ref(&self.node))
    }
}

/// Computes several arrays of the same element type in one run, sharing their common inputs
/// (each input block is read once for all of them).
///
/// # Errors
/// As [`ChunkedArray::compute`].
pub fn compute_all<T: Element>(
    rt: &Runtime,
    arrays: &[&ChunkedArray<T>],
) -> Result<Vec<ArrayD<T>>> {
    let mut outs: Vec<ArrayD<T>> = arrays
        .iter()
        .map(|a| new_result::<T>(a.shape()))
        .collect::<Result<_>>()?;
    {
        let nodes: Vec<NodeRef> = arrays
            .iter()
            .map(|a| memory_order(&a.node, rt.available_memory()))
            .collect();
        let sinks: Vec<ArraySink<'_, T>> = outs
            .iter_mut()
            .zip(&nodes)
            .map(|(o, n)| ArraySink::new(o, &n.grid))
            .collect();
        let sink_refs: Vec<&dyn OutputSink> = sinks.iter().map(|s| s as &dyn OutputSink).collect();
        let roots: Vec<(NodeRef, bool)> = nodes.into_iter().map(|n| (n, true)).collect();
        run(rt, &roots, &sink_refs)?;
    }
    Ok(outs)
}
