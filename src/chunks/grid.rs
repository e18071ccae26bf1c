use super::AxisChunks;
use std::fmt;
use std::ops::Range;

/// A rectangular region of an array: one element range per axis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region(pub Vec<Range<usize>>);

impl Region {
    /// The region's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.0.iter().map(|r| r.end - r.start).collect()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.iter().map(|r| r.end - r.start).product()
    }

    /// Whether the region holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ranges, one per axis.
    pub fn ranges(&self) -> &[Range<usize>] {
        &self.0
    }

    /// This region relative to `origin` (which must contain it).
    pub fn relative_to(&self, origin: &Region) -> Region {
        Region(
            self.0
                .iter()
                .zip(&origin.0)
                .map(|(r, o)| r.start - o.start..r.end - o.start)
                .collect(),
        )
    }

    /// The intersection with `other`, or `None` if they do not overlap.
    pub fn intersect(&self, other: &Region) -> Option<Region> {
        let mut out = Vec::with_capacity(self.0.len());
        for (a, b) in self.0.iter().zip(&other.0) {
            let s = a.start.max(b.start);
            let e = a.end.min(b.end);
            if s > e || (s == e && a.start != a.end && b.start != b.end) {
                return None;
            }
            out.push(s..e);
        }
        Some(Region(out))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}..{}", r.start, r.end)?;
        }
        f.write_str("]")
    }
}

/// How an array is cut into blocks: one [`AxisChunks`] per axis.
///
/// Blocks are numbered row-major (the last axis fastest), both as a multi-index and as a
/// linear index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChunkGrid {
    axes: Vec<AxisChunks>,
}

impl ChunkGrid {
    /// A grid from per-axis chunks.
    pub fn new(axes: Vec<AxisChunks>) -> ChunkGrid {
        ChunkGrid { axes }
    }

    /// Regular chunks of `chunk[i]` along each axis `i` (each >= 1).
    pub fn regular(shape: &[usize], chunk: &[usize]) -> ChunkGrid {
        ChunkGrid::new(
            shape
                .iter()
                .zip(chunk)
                .map(|(&l, &c)| AxisChunks::regular(l, c))
                .collect(),
        )
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.axes.len()
    }

    /// The array shape.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.len()).collect()
    }

    /// The chunks along `axis`.
    pub fn axis(&self, axis: usize) -> &AxisChunks {
        &self.axes[axis]
    }

    /// All axes.
    pub fn axes(&self) -> &[AxisChunks] {
        &self.axes
    }

    /// Number of blocks along each axis.
    pub fn blocks_shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.nblocks()).collect()
    }

    /// Total number of blocks.
    pub fn nblocks(&self) -> usize {
        self.axes.iter().map(|a| a.nblocks()).product()
    }

    /// The region of the block at multi-index `idx`.
    pub fn block_region(&self, idx: &[usize]) -> Region {
        Region(
            self.axes
                .iter()
                .zip(idx)
                .map(|(a, &i)| a.range(i))
                .collect(),
        )
    }

    /// The shape of the block at `idx`.
    pub fn block_shape(&self, idx: &[usize]) -> Vec<usize> {
        self.axes.iter().zip(idx).map(|(a, &i)| a.size(i)).collect()
    }

    /// The largest block's shape (the maximum chunk along every axis).
    pub fn max_block_shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.max_size()).collect()
    }

    /// Elements in the largest block.
    pub fn max_block_len(&self) -> usize {
        self.axes.iter().map(|a| a.max_size()).product()
    }

    /// The multi-index of linear block number `linear`.
    pub fn unravel(&self, mut linear: usize) -> Vec<usize> {
        let mut idx = vec![0; self.axes.len()];
        for (ax, a) in self.axes.iter().enumerate().rev() {
            let n = a.nblocks();
            idx[ax] = linear % n;
            linear /= n;
        }
        idx
    }

    /// The linear block number of multi-index `idx`.
    pub fn ravel(&self, idx: &[usize]) -> usize {
        let mut lin = 0;
        for (a, &i) in self.axes.iter().zip(idx) {
            lin = lin * a.nblocks() + i;
        }
        lin
    }

    /// The blocks that overlap `region`, as a range of block indices per axis.
    pub fn blocks_overlapping(&self, region: &Region) -> Vec<Range<usize>> {
        self.axes
            .iter()
            .zip(&region.0)
            .map(|(a, r)| {
                if a.is_empty() {
                    0..1
                } else {
                    a.blocks_overlapping(r.clone())
                }
            })
            .collect()
    }

    /// The chunk sizes per axis, as a list of lists (for display and metadata).
    pub fn chunk_sizes(&self) -> Vec<Vec<usize>> {
        self.axes.iter().map(|a| a.sizes()).collect()
    }

    /// The first chunk size along each axis (the "chunk shape" of a regular grid).
    pub fn chunk_shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.size(0)).collect()
    }

    /// Whether every axis is regular (all blocks equal but a ragged last one).
    pub fn is_regular(&self) -> bool {
        self.axes
            .iter()
            .all(|a| matches!(a, AxisChunks::Regular { .. }))
    }
}

impl fmt::Display for ChunkGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, a) in self.axes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match a {
                AxisChunks::Regular { len, chunk } => {
                    let c = (*chunk).min(*len);
                    if *len > 0 && len % chunk != 0 && *len > *chunk {
                        write!(f, "{c}+ragged {}", len % chunk)?;
                    } else {
                        write!(f, "{c}")?;
                    }
                }
                AxisChunks::Irregular { .. } => {
                    let s = a.sizes();
                    if s.len() <= 6 {
                        write!(f, "{s:?}")?;
                    } else {
                        write!(f, "[{}, {}, ..{} blocks]", s[0], s[1], s.len())?;
                    }
                }
            }
        }
        if self.axes.len() == 1 {
            f.write_str(",")?;
        }
        write!(f, ") × {} blocks", self.nblocks())
    }
}

/// Calls `f` on every multi-index in the product of `ranges`, row-major (once for no axes,
/// never when a range is empty).
pub(crate) fn for_each_index(ranges: &[Range<usize>], mut f: impl FnMut(&[usize])) {
    if ranges.iter().any(|r| r.is_empty()) {
        return;
    }
    let mut idx: Vec<usize> = ranges.iter().map(|r| r.start).collect();
    loop {
        f(&idx);
        let mut ax = ranges.len();
        loop {
            if ax == 0 {
                return;
            }
            ax -= 1;
            idx[ax] += 1;
            if idx[ax] < ranges[ax].end {
                break;
            }
            idx[ax] = ranges[ax].start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn grid_strategy() -> impl Strategy<Value = ChunkGrid> {
        prop::collection::vec(prop::collection::vec(0usize..5, 0..5), 0..4).prop_map(|axes| {
            ChunkGrid::new(axes.iter().map(|s| AxisChunks::from_sizes(s)).collect())
        })
    }

    proptest! {
        #[test]
        fn blocks_tile_the_array(g in grid_strategy()) {
            let shape = g.shape();
            let total: usize = shape.iter().product();
            let mut covered = 0;
            for lin in 0..g.nblocks() {
                let idx = g.unravel(lin);
                prop_assert_eq!(g.ravel(&idx), lin);
                let r = g.block_region(&idx);
                prop_assert_eq!(r.shape(), g.block_shape(&idx));
                covered += r.len();
                let over = g.blocks_overlapping(&r);
                for (ax, o) in over.iter().enumerate() {
                    if !r.0[ax].is_empty() {
                        prop_assert_eq!(o.clone(), idx[ax]..idx[ax] + 1);
                    }
                }
            }
            prop_assert_eq!(covered, total);
        }
    }

    #[test]
    fn million_block_grid_is_cheap() {
        let g = ChunkGrid::regular(&[1_000_000], &[1]);
        assert_eq!(g.nblocks(), 1_000_000);
        assert_eq!(g.block_region(&[999_999]).0, vec![999_999..1_000_000]);
    }
}
