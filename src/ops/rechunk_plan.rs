//! Planning a rechunk under a per-task memory budget. Pure code: no threads, files or I/O.
//!
//! # The model
//!
//! A rechunk moves the array through a chain of chunkings `source → I₁ → … → Iₖ → target`.
//! Each step of the chain is a [`RechunkPass`] from chunking `A` to chunking `B`. The tasks of a
//! pass are its *groups*: the smallest regions whose boundaries are block boundaries of both `A`
//! and `B` (along each axis, the segments between the boundaries the two chunkings share; see
//! [`group_grid`]). A task takes every `A` block of its group as input, reads each exactly once,
//! scatters it into the `B` blocks of the group ([`sources_for_target`] gives the copy list of a
//! `B` block) and emits those `B` blocks. No block of `A` is read twice and no block of `B` is
//! written twice, so a pass moves the array exactly once.
//!
//! **What a task holds**: all its input blocks and all its output blocks at once, so
//! `task bytes = 2 × group elements × element size` (inputs and outputs each tile the group).
//! That is the figure checked against the budget and reported as `max_task_bytes`; an
//! executor that drops inputs as it scatters them stays below it.
//!
//! # Strategies
//!
//! - [`Strategy::Direct`]: one pass `source → target`, chosen when its largest group fits.
//!   This is rechunker's intermediate-free case (read chunks = consolidated source chunks that
//!   are also whole target chunks).
//! - [`Strategy::MultiStage`]: regular intermediate chunkings, written to temporary storage
//!   between passes, with every pass's largest group within the budget. Where two neighbouring
//!   chunkings *nest* along an axis (one size divides the other, or one spans the axis) their
//!   groups are just the larger chunk, which is how the planner keeps groups small:
//!   intermediates are searched among sizes that nest with the source and target chunks,
//!   starting from rechunker's geometric interpolation between source and target chunk shapes
//!   (`calculate_stage_chunks`) scaled down until every pass fits, then consolidated axis by
//!   axis while everything still fits (rechunker's `consolidate_chunks`).
//!
//! One intermediate always suffices when anything does: the regular chunking whose size along
//! each axis divides every source and target block boundary refines both, so its two passes
//! hold exactly one source block twice and one target block twice. More intermediates only pay
//! off when that single intermediate would be cut into many tiny chunks; the planner weighs the
//! extra full-array write and read of each intermediate against a per-chunk overhead
//! ([`RechunkOptions::chunk_op_bytes`]), as rechunker's `multistage_rechunking_plan` adds
//! stages until intermediate chunks reach `min_mem`.
//!
//! If `2 × element size × max(largest source block, largest target block)` exceeds the budget,
//! no plan exists (every pass that reads the source holds a whole source block as input and the
//! same bytes as output, likewise for the target) and planning fails with
//! [`Error::TaskTooLarge`].
//!
//! # The benchmark case
//!
//! Shape `(730, 361, 720)` of `f32` (759 MB), source chunks `(1, 361, 720)` (one map per
//! time step), target chunks `(730, 19, 40)` (full time series per tile):
//!
//! - Direct is impossible under any realistic budget: every source block spans all of lat × lon
//!   and every target block all of time, so the only common boundaries are the array's edges
//!   and the single group is the whole array (1.5 GB of task).
//! - With a 256 MiB budget the plan is multi-stage with one intermediate chunked
//!   `(122, 361, 120)` (36 chunks of 21 MB): pass 1 gathers 122 time steps of whole maps
//!   (6 tasks of at most 242 MiB), pass 2 gathers the full time axis for strips of 120
//!   longitudes (6 tasks of 241 MiB). The data crosses storage twice, in large chunks.
//! - With 64 MiB, one intermediate still suffices: `(32, 95, 120)`, 552 chunks of 1.5 MB,
//!   passes of 23 and 24 tasks of at most 63.5 MiB. A second intermediate could save at most a
//!   few hundred chunk operations but would cost another 1.5 GB of writing and reading.
//!
//! (The exact figures are asserted in this module's tests.)

use crate::chunks::{AxisChunks, ChunkGrid, Region, for_each_index};
use crate::error::{Error, Result};
use std::fmt;

/// Default [`RechunkOptions::chunk_op_bytes`]: 1 MiB, about the time to read or write one
/// chunk of a local store measured in bytes of throughput.
pub(crate) const DEFAULT_CHUNK_OP_BYTES: usize = 1 << 20;

/// Default [`RechunkOptions::max_intermediates`].
pub(crate) const DEFAULT_MAX_INTERMEDIATES: usize = 6;

/// Tuning of the multi-stage search. The defaults suit local Zarr stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RechunkOptions {
    /// The fixed cost of writing or reading one intermediate chunk, in bytes of throughput.
    /// A plan's cost is the bytes it writes and reads through intermediates plus this much per
    /// intermediate chunk operation; larger values favour more stages with larger chunks.
    pub chunk_op_bytes: usize,
    /// The most intermediate chunkings the search considers (at least one is always allowed).
    pub max_intermediates: usize,
}

impl Default for RechunkOptions {
    fn default() -> Self {
        RechunkOptions {
            chunk_op_bytes: DEFAULT_CHUNK_OP_BYTES,
            max_intermediates: DEFAULT_MAX_INTERMEDIATES,
        }
    }
}

/// How a rechunk runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// A single pass: each task gathers the source blocks of one group and emits the target
    /// blocks of that group.
    Direct,
    /// Passes through regular intermediate chunkings (in temporary storage), in order from the
    /// source towards the target; `stages` holds only the intermediates.
    MultiStage {
        /// The intermediate chunkings (never empty).
        stages: Vec<ChunkGrid>,
    },
}

/// One pass of a plan: copy the array from chunking `from` to chunking `to`, one task per group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RechunkPass {
    from: ChunkGrid,
    to: ChunkGrid,
    groups: ChunkGrid,
    max_group_shape: Vec<usize>,
    max_task_bytes: usize,
}

// The plan's read-only accessors (for explain output and the unit tests below): the module
// is crate-private since issue 14, and not every accessor is read yet.
#[allow(dead_code)]
impl RechunkPass {
    /// The pass from `from` to `to` (same shape) for elements of `itemsize` bytes.
    pub(crate) fn new(from: ChunkGrid, to: ChunkGrid, itemsize: usize) -> RechunkPass {
        let groups = group_grid(&from, &to);
        let max_group_shape = groups.max_block_shape();
        let elems = max_group_shape
            .iter()
            .fold(1u128, |acc, &s| acc.saturating_mul(s as u128));
        let max_task_bytes = to_usize(elems.saturating_mul(2 * itemsize as u128));
        RechunkPass {
            from,
            to,
            groups,
            max_group_shape,
            max_task_bytes,
        }
    }

    /// The chunking read.
    pub(crate) fn from(&self) -> &ChunkGrid {
        &self.from
    }

    /// The chunking written.
    pub(crate) fn to(&self) -> &ChunkGrid {
        &self.to
    }

    /// The groups, one task each: block `i` of this grid is the region of task `i`. The input
    /// blocks of a task are `from().blocks_overlapping(region)`, its outputs
    /// `to().blocks_overlapping(region)`.
    pub(crate) fn groups(&self) -> &ChunkGrid {
        &self.groups
    }

    /// Number of tasks (groups).
    pub(crate) fn tasks(&self) -> usize {
        self.groups.nblocks()
    }

    /// The shape of the largest group.
    pub(crate) fn max_group_shape(&self) -> &[usize] {
        &self.max_group_shape
    }

    /// Projected bytes of the largest task: its inputs plus its outputs, `2 × group bytes`.
    pub(crate) fn max_task_bytes(&self) -> usize {
        self.max_task_bytes
    }
}

/// A rechunk plan: the strategy, its passes and the projected peak bytes of one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RechunkPlan {
    shape: Vec<usize>,
    itemsize: usize,
    budget: usize,
    strategy: Strategy,
    passes: Vec<RechunkPass>,
}

// The plan's read-only accessors (for explain output and the unit tests below): the module
// is crate-private since issue 14, and not every accessor is read yet.
#[allow(dead_code)]
impl RechunkPlan {
    /// The strategy.
    pub(crate) fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// The passes, from the source to the target (one for [`Strategy::Direct`]).
    pub(crate) fn passes(&self) -> &[RechunkPass] {
        &self.passes
    }

    /// The intermediate chunkings (empty for [`Strategy::Direct`]).
    pub(crate) fn stages(&self) -> &[ChunkGrid] {
        match &self.strategy {
            Strategy::Direct => &[],
            Strategy::MultiStage { stages } => stages,
        }
    }

    /// The array shape.
    pub(crate) fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Bytes per element.
    pub(crate) fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// The per-task memory budget the plan was made for.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// The source chunking.
    pub(crate) fn source(&self) -> &ChunkGrid {
        &self.passes[0].from
    }

    /// The target chunking.
    pub(crate) fn target(&self) -> &ChunkGrid {
        &self.passes[self.passes.len() - 1].to
    }

    /// Projected bytes of the largest task over all passes (never above [`Self::budget`]).
    pub(crate) fn max_task_bytes(&self) -> usize {
        self.passes
            .iter()
            .map(|p| p.max_task_bytes)
            .max()
            .unwrap_or(0)
    }

    /// Total number of tasks over all passes.
    pub(crate) fn tasks(&self) -> usize {
        self.passes.iter().map(|p| p.tasks()).sum()
    }
}

impl fmt::Display for RechunkPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rechunk {:?} of {}-byte elements, task budget {}: ",
            self.shape,
            self.itemsize,
            Bytes(self.budget)
        )?;
        match &self.strategy {
            Strategy::Direct => writeln!(f, "direct (one pass)")?,
            Strategy::MultiStage { stages } => writeln!(
                f,
                "multi-stage, {} intermediate{} ({} passes)",
                stages.len(),
                if stages.len() == 1 { "" } else { "s" },
                self.passes.len()
            )?,
        }
        for (i, p) in self.passes.iter().enumerate() {
            writeln!(
                f,
                "  pass {}: {} → {}: {} tasks, largest group {:?}, max task {}",
                i + 1,
                p.from,
                p.to,
                p.tasks(),
                p.max_group_shape,
                Bytes(p.max_task_bytes)
            )?;
        }
        write!(
            f,
            "  projected max task bytes: {} ({} of {})",
            self.max_task_bytes(),
            Bytes(self.max_task_bytes()),
            Bytes(self.budget)
        )
    }
}

/// Human-readable bytes.
struct Bytes(usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = self.0 as f64;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        if u == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{v:.1} {}", UNITS[u])
        }
    }
}

/// Plans rechunking an array of `shape` from chunking `source` to `target`, for elements of
/// `itemsize` bytes, with at most `budget` bytes per task, using the default
/// [`RechunkOptions`]. See the [module docs](self) for the model.
///
/// # Errors
/// [`Error::Shape`] when a grid does not match `shape`, [`Error::InvalidArgument`] for an
/// `itemsize` of 0, and [`Error::TaskTooLarge`] (op `"rechunk"`) when even the cheapest plan
/// cannot fit: a pass holds a whole source or target block as input and as output, so
/// `2 × itemsize × max(largest source block, largest target block)` must be at most `budget`.
pub(crate) fn plan_rechunk(
    shape: &[usize],
    source: &ChunkGrid,
    target: &ChunkGrid,
    itemsize: usize,
    budget: usize,
) -> Result<RechunkPlan> {
    plan_rechunk_with(
        shape,
        source,
        target,
        itemsize,
        budget,
        &RechunkOptions::default(),
    )
}

/// [`plan_rechunk`] with explicit [`RechunkOptions`].
///
/// # Errors
/// As [`plan_rechunk`].
pub(crate) fn plan_rechunk_with(
    shape: &[usize],
    source: &ChunkGrid,
    target: &ChunkGrid,
    itemsize: usize,
    budget: usize,
    options: &RechunkOptions,
) -> Result<RechunkPlan> {
    for (name, g) in [("source", source), ("target", target)] {
        if g.shape() != shape {
            return Err(Error::Shape {
                op: "rechunk",
                detail: format!(
                    "the {name} chunking covers shape {:?} but the array has shape {shape:?}",
                    g.shape()
                ),
            });
        }
    }
    if itemsize == 0 {
        return Err(Error::InvalidArgument {
            op: "rechunk",
            detail: "element size must be at least 1 byte".into(),
        });
    }
    let plan = |strategy: Strategy, passes: Vec<RechunkPass>| RechunkPlan {
        shape: shape.to_vec(),
        itemsize,
        budget,
        strategy,
        passes,
    };

    // Feasibility: a pass reading the source holds at least one whole source block twice
    // (as input and, re-cut, as output); likewise for the target.
    let block_bytes = |g: &ChunkGrid| (g.max_block_len() as u128) * 2 * itemsize as u128;
    let (sb, tb) = (block_bytes(source), block_bytes(target));
    let (worst, worst_grid) = if sb >= tb { (sb, source) } else { (tb, target) };
    if worst > budget as u128 {
        return Err(Error::TaskTooLarge {
            op: "rechunk".into(),
            block_shape: worst_grid.max_block_shape(),
            needed: to_usize(worst),
            limit: budget,
        });
    }

    let direct = RechunkPass::new(source.clone(), target.clone(), itemsize);
    if direct.max_task_bytes <= budget {
        return Ok(plan(Strategy::Direct, vec![direct]));
    }

    let search = Search::new(shape, source, target, itemsize, budget, options);
    let chunks = search.best();
    let stages: Vec<ChunkGrid> = chunks
        .iter()
        .map(|c| ChunkGrid::regular(shape, c))
        .collect();
    let mut passes = Vec::with_capacity(stages.len() + 1);
    let mut prev = source.clone();
    for s in stages.iter().chain(std::iter::once(target)) {
        passes.push(RechunkPass::new(prev, s.clone(), itemsize));
        prev = s.clone();
    }
    if let Some(bad) = passes.iter().find(|p| p.max_task_bytes > budget) {
        // The search only keeps fitting plans; this guards the invariant in release builds.
        return Err(Error::TaskTooLarge {
            op: "rechunk".into(),
            block_shape: bad.max_group_shape.clone(),
            needed: bad.max_task_bytes,
            limit: budget,
        });
    }
    Ok(plan(Strategy::MultiStage { stages }, passes))
}

/// The groups of a pass from chunking `a` to chunking `b` (same shape), as a grid: along each
/// axis, the blocks between consecutive boundaries that `a` and `b` share. Every block of `a`
/// and of `b` lies inside exactly one group.
pub(crate) fn group_grid(a: &ChunkGrid, b: &ChunkGrid) -> ChunkGrid {
    ChunkGrid::new(
        a.axes()
            .iter()
            .zip(b.axes())
            .map(|(x, y)| join_axis(x, y))
            .collect(),
    )
}

// Used by the unit tests only.
#[cfg_attr(not(test), allow(dead_code))]
/// The copy list that assembles the block at `target_region` from the blocks of `source`: for
/// each source block that overlaps it, `(source block index, the overlap relative to that
/// block, the overlap relative to the target region)`. The target-relative pieces tile the
/// target region exactly once; an empty region needs no copies.
pub(crate) fn sources_for_target(
    source: &ChunkGrid,
    target_region: &Region,
) -> Vec<(Vec<usize>, Region, Region)> {
    if target_region.is_empty() {
        return Vec::new();
    }
    let ranges = source.blocks_overlapping(target_region);
    let mut out = Vec::new();
    for_each_index(&ranges, |idx| {
        let block = source.block_region(idx);
        let overlap = match block.intersect(target_region) {
            Some(o) if !o.is_empty() => o,
            _ => return,
        };
        out.push((
            idx.to_vec(),
            overlap.relative_to(&block),
            overlap.relative_to(target_region),
        ));
    });
    out
}

fn to_usize(v: u128) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `lcm(a, b)` capped at `cap` (no overflow).
fn lcm_capped(a: usize, b: usize, cap: usize) -> usize {
    let g = gcd(a, b).max(1);
    let l = (a / g) as u128 * b as u128;
    to_usize(l.min(cap as u128))
}

/// The effective regular chunk of an axis: `Some(c)` with `c <= len` for a regular axis.
fn regular_chunk(a: &AxisChunks) -> Option<usize> {
    match a {
        AxisChunks::Regular { len, chunk } => Some((*chunk).min(*len).max(1)),
        AxisChunks::Irregular { .. } => None,
    }
}

/// Calls `f` on every interior boundary (strictly between 0 and the length) shared by `a` and
/// `b`, in increasing order. Not used for two regular axes (that case is closed-form).
fn common_interior(a: &AxisChunks, b: &AxisChunks, mut f: impl FnMut(usize)) {
    let n = a.len();
    match (a, b) {
        (AxisChunks::Irregular { offsets }, other) | (other, AxisChunks::Irregular { offsets })
            if regular_chunk(other).is_some() =>
        {
            let c = regular_chunk(other).unwrap_or(1);
            for &o in &offsets[1..offsets.len() - 1] {
                if o % c == 0 && o < n {
                    f(o);
                }
            }
        }
        (AxisChunks::Irregular { offsets: oa }, AxisChunks::Irregular { offsets: ob }) => {
            let (mut i, mut j) = (1, 1);
            while i + 1 < oa.len() && j + 1 < ob.len() {
                match oa[i].cmp(&ob[j]) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        f(oa[i]);
                        i += 1;
                        j += 1;
                    }
                }
            }
        }
        _ => {
            // Two regular axes: shared boundaries are the multiples of the lcm below n.
            let (ca, cb) = (regular_chunk(a).unwrap_or(1), regular_chunk(b).unwrap_or(1));
            let l = lcm_capped(ca, cb, n.max(1));
            let mut o = l;
            while o < n {
                f(o);
                o += l;
            }
        }
    }
}

/// The group chunks along one axis (see [`group_grid`]).
fn join_axis(a: &AxisChunks, b: &AxisChunks) -> AxisChunks {
    let n = a.len();
    if n == 0 {
        return AxisChunks::regular(0, 1);
    }
    if let (Some(ca), Some(cb)) = (regular_chunk(a), regular_chunk(b)) {
        return AxisChunks::regular(n, lcm_capped(ca, cb, n));
    }
    let mut sizes = Vec::new();
    let mut last = 0;
    common_interior(a, b, |o| {
        sizes.push(o - last);
        last = o;
    });
    sizes.push(n - last);
    AxisChunks::from_sizes(&sizes)
}

/// The largest group extent along one axis between `a` and `b`.
fn max_segment(a: &AxisChunks, b: &AxisChunks) -> usize {
    let n = a.len();
    if n == 0 {
        return 0;
    }
    if let (Some(ca), Some(cb)) = (regular_chunk(a), regular_chunk(b)) {
        return lcm_capped(ca, cb, n);
    }
    let (mut last, mut best) = (0, 0);
    common_interior(a, b, |o| {
        best = best.max(o - last);
        last = o;
    });
    best.max(n - last)
}

/// gcd of the interior block boundaries of an axis (0 when it has none).
fn boundary_gcd(a: &AxisChunks) -> usize {
    match a {
        AxisChunks::Regular { len, chunk } => {
            if chunk < len {
                *chunk
            } else {
                0
            }
        }
        AxisChunks::Irregular { offsets } => offsets[1..offsets.len() - 1]
            .iter()
            .fold(0, |g, &o| gcd(g, o)),
    }
}

fn divisors(x: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut d = 1;
    while d * d <= x {
        if x.is_multiple_of(d) {
            out.push(d);
            out.push(x / d);
        }
        d += 1;
    }
    out
}

/// Numbers `2^a 3^b 5^c <= limit` (at least `[1]`).
fn smooth_numbers(limit: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut p2 = 1usize;
    while p2 <= limit {
        let mut p3 = p2;
        while p3 <= limit {
            let mut p5 = p3;
            while p5 <= limit {
                out.push(p5);
                p5 = match p5.checked_mul(5) {
                    Some(v) => v,
                    None => break,
                };
            }
            p3 = match p3.checked_mul(3) {
                Some(v) => v,
                None => break,
            };
        }
        p2 = match p2.checked_mul(2) {
            Some(v) => v,
            None => break,
        };
    }
    if out.is_empty() {
        out.push(1);
    }
    out
}

/// How [`Search::climb`] ranks a move: chunks removed, axis, `usize::MAX - candidate index`.
type MoveKey = (u128, usize, usize);

/// The multi-stage search over regular intermediate chunk shapes.
///
/// Intermediates are represented as indices into per-axis candidate chunk sizes; the group
/// extents of passes touching the source or target are precomputed per candidate, so every
/// evaluation is O(ndim).
struct Search<'a> {
    shape: &'a [usize],
    /// Largest group elements a pass may have: `budget / (2 × itemsize)`.
    max_group: u128,
    options: &'a RechunkOptions,
    itemsize: usize,
    /// Sorted candidate chunk sizes per axis.
    cands: Vec<Vec<usize>>,
    /// Group extent between the source and each candidate, per axis.
    seg_src: Vec<Vec<usize>>,
    /// Group extent between each candidate and the target, per axis.
    seg_tgt: Vec<Vec<usize>>,
    /// Index of the always-feasible refining size (divides every source and target boundary).
    refine: Vec<usize>,
    /// Source and target largest chunk per axis (the ends of the geometric interpolation).
    src_size: Vec<f64>,
    tgt_size: Vec<f64>,
}

impl<'a> Search<'a> {
    fn new(
        shape: &'a [usize],
        source: &ChunkGrid,
        target: &ChunkGrid,
        itemsize: usize,
        budget: usize,
        options: &'a RechunkOptions,
    ) -> Search<'a> {
        let max_group = budget as u128 / (2 * itemsize as u128);
        let mut cands = Vec::new();
        let mut seg_src = Vec::new();
        let mut seg_tgt = Vec::new();
        let mut refine = Vec::new();
        for (ax, &n) in shape.iter().enumerate() {
            let n = n.max(1);
            let (sa, ta) = (source.axis(ax), target.axis(ax));
            let (sg, tg) = (boundary_gcd(sa), boundary_gcd(ta));
            let g = match gcd(sg, tg) {
                0 => n,
                g => g,
            };
            let mut c = vec![1, g, n];
            for base in [sg, tg, g, n] {
                if base == 0 {
                    continue;
                }
                c.extend(divisors(base));
                c.extend(smooth_numbers(n / base).into_iter().map(|m| m * base));
            }
            // Balanced sizes: the smallest chunk that cuts the axis into m blocks.
            c.extend(smooth_numbers(n).into_iter().map(|m| n.div_ceil(m)));
            for a in [sa, ta] {
                c.push(a.max_size());
                if let Some(rc) = regular_chunk(a) {
                    c.push(rc);
                }
            }
            c.retain(|&v| v >= 1 && v <= n);
            c.sort_unstable();
            c.dedup();
            let grid = |v: usize| AxisChunks::regular(shape[ax], v);
            seg_src.push(c.iter().map(|&v| max_segment(sa, &grid(v))).collect());
            seg_tgt.push(c.iter().map(|&v| max_segment(&grid(v), ta)).collect());
            refine.push(c.binary_search(&g).unwrap_or(0));
            cands.push(c);
        }
        Search {
            shape,
            max_group,
            options,
            itemsize,
            cands,
            seg_src,
            seg_tgt,
            refine,
            src_size: source
                .axes()
                .iter()
                .map(|a| a.max_size().max(1) as f64)
                .collect(),
            tgt_size: target
                .axes()
                .iter()
                .map(|a| a.max_size().max(1) as f64)
                .collect(),
        }
    }

    fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Largest group elements of pass `p` of the chain `idx` (pass 0 reads the source, pass
    /// `idx.len()` writes the target).
    fn pass_group(&self, idx: &[Vec<usize>], p: usize) -> u128 {
        let k = idx.len();
        (0..self.ndim())
            .map(|ax| {
                let n = self.shape[ax].max(1);
                let seg = match (p, p == k) {
                    (0, true) => unreachable!("the direct pass is not searched"),
                    (0, false) => self.seg_src[ax][idx[0][ax]],
                    (_, true) => self.seg_tgt[ax][idx[k - 1][ax]],
                    _ => lcm_capped(
                        self.cands[ax][idx[p - 1][ax]],
                        self.cands[ax][idx[p][ax]],
                        n,
                    ),
                };
                seg as u128
            })
            .fold(1u128, |acc, s| acc.saturating_mul(s))
    }

    fn fits(&self, idx: &[Vec<usize>]) -> bool {
        (0..=idx.len()).all(|p| self.pass_group(idx, p) <= self.max_group)
    }

    fn axis_blocks(&self, ax: usize, ci: usize) -> u128 {
        self.shape[ax].max(1).div_ceil(self.cands[ax][ci]) as u128
    }

    fn stage_blocks(&self, stage: &[usize]) -> u128 {
        stage
            .iter()
            .enumerate()
            .map(|(ax, &ci)| self.axis_blocks(ax, ci))
            .fold(1u128, |a, b| a.saturating_mul(b))
    }

    /// Intermediate chunks written and read, summed over stages.
    fn objective(&self, idx: &[Vec<usize>]) -> u128 {
        idx.iter().map(|s| self.stage_blocks(s)).sum()
    }

    /// The plan cost: every intermediate is written and read once in full, plus a fixed cost
    /// per chunk operation.
    fn cost(&self, idx: &[Vec<usize>]) -> u128 {
        let bytes: u128 = self
            .shape
            .iter()
            .fold(self.itemsize as u128, |a, &n| a.saturating_mul(n as u128));
        idx.iter()
            .map(|s| {
                2 * bytes
                    + 2u128
                        .saturating_mul(self.stage_blocks(s))
                        .saturating_mul(self.options.chunk_op_bytes as u128)
            })
            .fold(0u128, |a, b| a.saturating_add(b))
    }

    /// Largest candidate index whose size is at most `v` (the smallest candidate if none).
    fn snap_down(&self, ax: usize, v: f64) -> usize {
        let c = &self.cands[ax];
        // The tolerance keeps exact interpolants (1000^(2/3) = 99.999…) on their value.
        let v = v * (1.0 + 1e-9);
        c.partition_point(|&x| (x as f64) <= v).saturating_sub(1)
    }

    /// Consolidation: repeatedly enlarge the axis of the intermediate that removes the most
    /// chunks while every pass still fits (ties go to later axes, as rechunker consolidates
    /// from the last axis).
    fn climb(&self, idx: &mut [Vec<usize>]) {
        loop {
            // Key: most chunks removed, then later axes, then the smaller size.
            let mut best: Option<(MoveKey, usize, usize, usize)> = None;
            for j in 0..idx.len() {
                let before = self.stage_blocks(&idx[j]);
                for ax in 0..self.ndim() {
                    let cur = idx[j][ax];
                    for ci in cur + 1..self.cands[ax].len() {
                        if self.axis_blocks(ax, ci) >= self.axis_blocks(ax, cur) {
                            continue;
                        }
                        idx[j][ax] = ci;
                        let ok = self.pass_group(idx, j) <= self.max_group
                            && self.pass_group(idx, j + 1) <= self.max_group;
                        let gain = before - self.stage_blocks(&idx[j]);
                        idx[j][ax] = cur;
                        let key = (gain, ax, usize::MAX - ci);
                        if ok && best.is_none_or(|(b, ..)| key > b) {
                            best = Some((key, j, ax, ci));
                        }
                    }
                }
            }
            match best {
                Some(((gain, ..), j, ax, ci)) if gain > 0 => idx[j][ax] = ci,
                _ => return,
            }
        }
    }

    /// The best fitting chain of `k` intermediates found from several starting points.
    fn best_with(&self, k: usize) -> Vec<Vec<usize>> {
        // Always feasible: every intermediate refines both the source and the target.
        let mut start = vec![self.refine.clone(); k];
        self.climb(&mut start);
        let mut best = (self.objective(&start), start);
        // Geometric interpolation between source and target chunk shapes, scaled down by
        // `lambda` along every axis until the chain fits.
        let mut lambda = 1.0f64;
        let mut starts = 0;
        while starts < 6 && lambda > 1e-9 {
            let idx: Vec<Vec<usize>> = (1..=k)
                .map(|j| {
                    let t = j as f64 / (k + 1) as f64;
                    (0..self.ndim())
                        .map(|ax| {
                            let v = self.src_size[ax].powf(1.0 - t) * self.tgt_size[ax].powf(t);
                            self.snap_down(ax, v * lambda)
                        })
                        .collect()
                })
                .collect();
            if self.fits(&idx) {
                starts += 1;
                let mut idx = idx;
                self.climb(&mut idx);
                let obj = self.objective(&idx);
                if obj < best.0 {
                    best = (obj, idx);
                }
            }
            lambda *= 0.7;
        }
        best.1
    }

    /// The lowest-cost chain over 1..=max_intermediates intermediates (fewer on ties), with
    /// unnecessary intermediates removed.
    fn best(&self) -> Vec<Vec<usize>> {
        let mut best: Option<(u128, Vec<Vec<usize>>)> = None;
        for k in 1..=self.options.max_intermediates.max(1) {
            let idx = self.prune(self.best_with(k));
            debug_assert!(self.fits(&idx));
            let cost = self.cost(&idx);
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, idx));
            }
        }
        let idx = best.map(|b| b.1).unwrap_or_default();
        idx.iter()
            .map(|s| {
                s.iter()
                    .enumerate()
                    .map(|(ax, &ci)| self.cands[ax][ci])
                    .collect()
            })
            .collect()
    }

    /// Drops intermediates whose removal keeps every pass within the budget (a stage equal to
    /// its predecessor, to the source or to the target is such a stage): each removed stage
    /// saves a full write and read of the array.
    fn prune(&self, mut idx: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
        'outer: while idx.len() > 1 {
            for j in 0..idx.len() {
                let mut shorter = idx.clone();
                shorter.remove(j);
                if self.fits(&shorter) {
                    idx = shorter;
                    continue 'outer;
                }
            }
            break;
        }
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{
        Just, ProptestConfig, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
    };
    use proptest::strategy::Strategy as Gen;
    use std::collections::BTreeSet;

    const MIB: usize = 1 << 20;

    /// Independent check of a pass's largest group, through explicit boundary sets.
    fn brute_max_group(a: &ChunkGrid, b: &ChunkGrid) -> usize {
        a.axes()
            .iter()
            .zip(b.axes())
            .map(|(x, y)| {
                let sx: BTreeSet<usize> = x.offsets().into_iter().collect();
                let sy: BTreeSet<usize> = y.offsets().into_iter().collect();
                let common: Vec<usize> = sx.intersection(&sy).copied().collect();
                common.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
            })
            .product()
    }

    fn check_plan(plan: &RechunkPlan, source: &ChunkGrid, target: &ChunkGrid, budget: usize) {
        let passes = plan.passes();
        assert!(!passes.is_empty());
        assert_eq!(passes[0].from(), source);
        assert_eq!(passes[passes.len() - 1].to(), target);
        for w in passes.windows(2) {
            assert_eq!(w[0].to(), w[1].from());
        }
        for p in passes {
            let g = brute_max_group(p.from(), p.to());
            assert_eq!(p.max_task_bytes(), 2 * g * plan.itemsize(), "{plan}");
            assert!(p.max_task_bytes() <= budget, "{plan}");
            assert_eq!(p.groups().shape(), source.shape());
        }
        for s in plan.stages() {
            assert!(s.is_regular());
        }
        assert!(plan.max_task_bytes() <= budget);
        match plan.strategy() {
            Strategy::Direct => assert_eq!(passes.len(), 1),
            Strategy::MultiStage { stages } => assert_eq!(passes.len(), stages.len() + 1),
        }
    }

    #[test]
    fn benchmark_case_256_mib() {
        let shape = [730, 361, 720];
        let source = ChunkGrid::regular(&shape, &[1, 361, 720]);
        let target = ChunkGrid::regular(&shape, &[730, 19, 40]);
        let plan = plan_rechunk(&shape, &source, &target, 4, 256 * MIB).unwrap();
        println!("{plan}");
        check_plan(&plan, &source, &target, 256 * MIB);
        assert_eq!(plan.stages().len(), 1);
        assert_eq!(plan.stages()[0].chunk_shape(), vec![122, 361, 120]);
        assert_eq!(plan.stages()[0].nblocks(), 36);
        assert_eq!(plan.passes()[0].tasks(), 6);
        assert_eq!(plan.passes()[1].tasks(), 6);
        // Direct would hold the whole array twice.
        let direct = RechunkPass::new(source, target, 4);
        assert_eq!(direct.tasks(), 1);
        assert_eq!(direct.max_task_bytes(), 2 * 4 * 730 * 361 * 720);
    }

    #[test]
    fn benchmark_case_64_mib() {
        let shape = [730, 361, 720];
        let source = ChunkGrid::regular(&shape, &[1, 361, 720]);
        let target = ChunkGrid::regular(&shape, &[730, 19, 40]);
        let plan = plan_rechunk(&shape, &source, &target, 4, 64 * MIB).unwrap();
        println!("{plan}");
        check_plan(&plan, &source, &target, 64 * MIB);
        assert_eq!(plan.stages().len(), 1);
        assert_eq!(plan.stages()[0].chunk_shape(), vec![32, 95, 120]);
        assert_eq!(plan.stages()[0].nblocks(), 552);
    }

    #[test]
    fn benchmark_case_tiny_budget_fails_with_advice() {
        let shape = [730, 361, 720];
        let source = ChunkGrid::regular(&shape, &[1, 361, 720]);
        let target = ChunkGrid::regular(&shape, &[730, 19, 40]);
        let err = plan_rechunk(&shape, &source, &target, 4, 4 * MIB).unwrap_err();
        match &err {
            Error::TaskTooLarge {
                op,
                block_shape,
                needed,
                limit,
            } => {
                assert_eq!(op, "rechunk");
                assert_eq!(block_shape, &vec![730, 19, 40]);
                assert_eq!(*needed, 2 * 4 * 730 * 19 * 40);
                assert_eq!(*limit, 4 * MIB);
            }
            e => panic!("unexpected {e}"),
        }
        assert!(err.to_string().contains("a memory limit of at least"));
    }

    #[test]
    fn transpose_like_rechunk_uses_several_stages_when_chunks_get_tiny() {
        // (1000, 1) chunks to (1, 1000) with room for 10 000 elements per group: one
        // intermediate would be cut into 10 000 chunks of 100 elements.
        let shape = [1000, 1000];
        let source = ChunkGrid::regular(&shape, &[1000, 1]);
        let target = ChunkGrid::regular(&shape, &[1, 1000]);
        let budget = 2 * 8 * 10_000;
        let plan = plan_rechunk(&shape, &source, &target, 8, budget).unwrap();
        println!("{plan}");
        check_plan(&plan, &source, &target, budget);
        assert!(plan.stages().len() >= 2, "{plan}");
        let one = plan_rechunk_with(
            &shape,
            &source,
            &target,
            8,
            budget,
            &RechunkOptions {
                max_intermediates: 1,
                ..RechunkOptions::default()
            },
        )
        .unwrap();
        check_plan(&one, &source, &target, budget);
        assert_eq!(one.stages().len(), 1);
        assert!(
            plan.stages().iter().map(|s| s.nblocks()).sum::<usize>() < one.stages()[0].nblocks()
        );
    }

    #[test]
    fn large_and_irregular_grids_plan_quickly() {
        let shape = [100_000, 2_000, 7];
        let source = ChunkGrid::new(vec![
            AxisChunks::from_sizes(&(0..20_000).map(|i| 3 + 4 * (i % 2)).collect::<Vec<_>>()),
            AxisChunks::regular(2_000, 2_000),
            AxisChunks::regular(7, 7),
        ]);
        let target = ChunkGrid::regular(&shape, &[100_000, 10, 1]);
        let start = std::time::Instant::now();
        let plan = plan_rechunk(&shape, &source, &target, 8, 256 * MIB).unwrap();
        println!("{plan}\nplanned in {:?}", start.elapsed());
        check_plan(&plan, &source, &target, 256 * MIB);
    }

    #[test]
    fn direct_when_it_fits_and_display() {
        let shape = [100, 60];
        let source = ChunkGrid::regular(&shape, &[10, 60]);
        let target = ChunkGrid::regular(&shape, &[20, 30]);
        let plan = plan_rechunk(&shape, &source, &target, 8, MIB).unwrap();
        assert_eq!(plan.strategy(), &Strategy::Direct);
        assert_eq!(plan.passes()[0].tasks(), 5);
        assert_eq!(plan.max_task_bytes(), 2 * 8 * 20 * 60);
        let text = plan.to_string();
        assert!(text.contains("direct"), "{text}");
        assert!(text.contains("5 tasks"), "{text}");
    }

    #[test]
    fn bad_inputs() {
        let g = ChunkGrid::regular(&[4, 4], &[2, 2]);
        assert!(matches!(
            plan_rechunk(&[4, 5], &g, &g, 4, MIB),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            plan_rechunk(&[4, 4], &g, &g, 0, MIB),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn empty_and_scalar_arrays_are_direct() {
        let g = ChunkGrid::regular(&[0, 5], &[3, 2]);
        let t = ChunkGrid::regular(&[0, 5], &[1, 5]);
        let plan = plan_rechunk(&[0, 5], &g, &t, 4, 0).unwrap();
        assert_eq!(plan.strategy(), &Strategy::Direct);
        assert_eq!(plan.max_task_bytes(), 0);
        let s = ChunkGrid::new(vec![]);
        let plan = plan_rechunk(&[], &s, &s, 4, 8).unwrap();
        assert_eq!(plan.strategy(), &Strategy::Direct);
        assert_eq!(plan.max_task_bytes(), 8);
        assert_eq!(sources_for_target(&s, &Region(vec![])).len(), 1);
    }

    #[test]
    fn irregular_group_grid() {
        let a = ChunkGrid::new(vec![AxisChunks::from_sizes(&[3, 5, 2, 6])]);
        let b = ChunkGrid::regular(&[16], &[4]);
        assert_eq!(group_grid(&a, &b).chunk_sizes(), vec![vec![8, 8]]);
        let c = ChunkGrid::new(vec![AxisChunks::from_sizes(&[8, 1, 7])]);
        assert_eq!(group_grid(&a, &c).chunk_sizes(), vec![vec![8, 8]]);
        assert_eq!(group_grid(&c, &b).chunk_sizes(), vec![vec![8, 8]]);
    }

    fn axis_strategy(len: usize) -> impl Gen<Value = AxisChunks> {
        prop_oneof![
            (1..=len.max(1)).prop_map(move |c| AxisChunks::regular(len, c)),
            prop::collection::vec(1usize..=4, 1..=len.max(1)).prop_map(move |mut sizes| {
                // Trim or pad the random sizes to add up to `len`.
                let mut out = Vec::new();
                let mut left = len;
                for s in sizes.drain(..) {
                    if left == 0 {
                        break;
                    }
                    let s = s.min(left);
                    out.push(s);
                    left -= s;
                }
                if left > 0 {
                    out.push(left);
                }
                AxisChunks::from_sizes(&out)
            }),
        ]
    }

    fn grids() -> impl Gen<Value = (Vec<usize>, ChunkGrid, ChunkGrid)> {
        prop::collection::vec(0usize..=12, 1..=4).prop_flat_map(|shape| {
            let a: Vec<_> = shape.iter().map(|&n| axis_strategy(n)).collect();
            let b: Vec<_> = shape.iter().map(|&n| axis_strategy(n)).collect();
            (Just(shape), a, b)
                .prop_map(|(shape, a, b)| (shape, ChunkGrid::new(a), ChunkGrid::new(b)))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn copy_list_tiles_every_target_block((shape, source, target) in grids()) {
            let total: usize = shape.iter().product();
            let mut covered_all = 0;
            for lin in 0..target.nblocks() {
                let tidx = target.unravel(lin);
                let treg = target.block_region(&tidx);
                let tshape = treg.shape();
                let mut count = vec![0u8; treg.len()];
                for (sidx, in_src, in_tgt) in sources_for_target(&source, &treg) {
                    let sreg = source.block_region(&sidx);
                    prop_assert_eq!(in_src.shape(), in_tgt.shape());
                    for (ax, &len) in tshape.iter().enumerate() {
                        // Inside the blocks, and the same global coordinates.
                        prop_assert!(in_src.0[ax].end <= sreg.0[ax].end - sreg.0[ax].start);
                        prop_assert!(in_tgt.0[ax].end <= len);
                        prop_assert_eq!(
                            sreg.0[ax].start + in_src.0[ax].start,
                            treg.0[ax].start + in_tgt.0[ax].start
                        );
                    }
                    let ranges = in_tgt.ranges().to_vec();
                    for_each_index(&ranges, |i| {
                        let flat = i.iter().zip(&tshape).fold(0, |f, (&x, &len)| f * len + x);
                        count[flat] += 1;
                    });
                }
                prop_assert!(count.iter().all(|&c| c == 1), "block {:?}: {:?}", tidx, count);
                covered_all += count.len();
            }
            prop_assert_eq!(covered_all, total);
        }

        #[test]
        fn plans_fit_the_budget(
            (shape, source, target) in grids(),
            itemsize in prop::sample::select(vec![1usize, 4, 8]),
            budget_elems in 1usize..6000,
        ) {
            let budget = budget_elems * itemsize;
            let total: usize = shape.iter().product();
            match plan_rechunk(&shape, &source, &target, itemsize, budget) {
                Ok(plan) => {
                    check_plan(&plan, &source, &target, budget);
                    if 2 * total * itemsize <= budget {
                        prop_assert_eq!(plan.strategy(), &Strategy::Direct);
                    }
                    if brute_max_group(&source, &target) * 2 * itemsize <= budget {
                        prop_assert_eq!(plan.strategy(), &Strategy::Direct);
                    }
                }
                Err(Error::TaskTooLarge { needed, limit, .. }) => {
                    let need = 2 * itemsize * source.max_block_len().max(target.max_block_len());
                    prop_assert_eq!(needed, need);
                    prop_assert_eq!(limit, budget);
                    prop_assert!(need > budget);
                }
                Err(e) => prop_assert!(false, "unexpected error {}", e),
            }
        }
    }
}
