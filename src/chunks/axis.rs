use std::ops::Range;
use std::sync::Arc;

/// The chunk sizes along one axis.
///
/// Regular chunking is stored as two numbers, so a grid of a million blocks costs nothing to
/// build; irregular chunking stores the block offsets once, shared by every clone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AxisChunks {
    /// Blocks of `chunk` elements; the last may be shorter (ragged).
    Regular {
        /// Axis length.
        len: usize,
        /// Chunk size (>= 1).
        chunk: usize,
    },
    /// Explicit block boundaries: `offsets[0] == 0`, `offsets[n] == len`, strictly increasing
    /// (an empty axis has the single block of size 0: offsets `[0, 0]`).
    Irregular {
        /// Cumulative offsets, one more than the number of blocks.
        offsets: Arc<[usize]>,
    },
}

impl AxisChunks {
    /// Regular chunks of `chunk` elements (`chunk >= 1`) over an axis of length `len`.
    pub fn regular(len: usize, chunk: usize) -> AxisChunks {
        debug_assert!(chunk >= 1);
        AxisChunks::Regular {
            len,
            chunk: chunk.max(1),
        }
    }

    /// Chunks of the given sizes. Zero sizes are dropped (an all-zero or empty list gives the
    /// single empty block of an empty axis). Collapses to [`AxisChunks::Regular`] when the
    /// sizes are regular.
    pub fn from_sizes(sizes: &[usize]) -> AxisChunks {
        let sizes: Vec<usize> = sizes.iter().copied().filter(|&s| s > 0).collect();
        let len: usize = sizes.iter().sum();
        if sizes.is_empty() {
            return AxisChunks::Regular { len: 0, chunk: 1 };
        }
        let first = sizes[0];
        let n = sizes.len();
        if sizes[..n - 1].iter().all(|&s| s == first) && sizes[n - 1] <= first {
            return AxisChunks::Regular { len, chunk: first };
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut acc = 0;
        offsets.push(0);
        for s in sizes {
            acc += s;
            offsets.push(acc);
        }
        AxisChunks::Irregular {
            offsets: offsets.into(),
        }
    }

    /// The axis length.
    pub fn len(&self) -> usize {
        match self {
            AxisChunks::Regular { len, .. } => *len,
            AxisChunks::Irregular { offsets } => offsets[offsets.len() - 1],
        }
    }

    /// Whether the axis has length 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of blocks (an empty axis has one empty block).
    pub fn nblocks(&self) -> usize {
        match self {
            AxisChunks::Regular { len, chunk } => len.div_ceil(*chunk).max(1),
            AxisChunks::Irregular { offsets } => offsets.len() - 1,
        }
    }

    /// The element range of block `i`.
    ///
    /// # Panics
    /// If `i >= self.nblocks()`.
    pub fn range(&self, i: usize) -> Range<usize> {
        match self {
            AxisChunks::Regular { len, chunk } => {
                assert!(i < self.nblocks(), "block {i} out of {}", self.nblocks());
                let start = (i * chunk).min(*len);
                start..(start + chunk).min(*len)
            }
            AxisChunks::Irregular { offsets } => offsets[i]..offsets[i + 1],
        }
    }

    /// Size of block `i`.
    pub fn size(&self, i: usize) -> usize {
        let r = self.range(i);
        r.end - r.start
    }

    /// The largest block size.
    pub fn max_size(&self) -> usize {
        match self {
            AxisChunks::Regular { len, chunk } => (*chunk).min(*len),
            AxisChunks::Irregular { offsets } => {
                offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
            }
        }
    }

    /// The block that holds element `pos` (`pos < len`; `0` for an empty axis).
    pub fn block_of(&self, pos: usize) -> usize {
        match self {
            AxisChunks::Regular { chunk, .. } => (pos / chunk).min(self.nblocks() - 1),
            AxisChunks::Irregular { offsets } => {
                // Last offset <= pos, among block starts.
                let starts = &offsets[..offsets.len() - 1];
                starts.partition_point(|&o| o <= pos).saturating_sub(1)
            }
        }
    }

    /// The blocks that overlap the element range `r` (an empty range overlaps none).
    pub fn blocks_overlapping(&self, r: Range<usize>) -> Range<usize> {
        if r.start >= r.end {
            return 0..0;
        }
        self.block_of(r.start)..self.block_of(r.end - 1) + 1
    }

    /// All block sizes, in order.
    pub fn sizes(&self) -> Vec<usize> {
        (0..self.nblocks()).map(|i| self.size(i)).collect()
    }

    /// All block boundaries (`nblocks + 1` offsets).
    pub fn offsets(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.nblocks()).map(|i| self.range(i).start).collect();
        v.push(self.len());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn regular_with_ragged_last() {
        let a = AxisChunks::regular(10, 4);
        assert_eq!(a.nblocks(), 3);
        assert_eq!(a.sizes(), vec![4, 4, 2]);
        assert_eq!(a.block_of(9), 2);
        assert_eq!(a.blocks_overlapping(3..9), 0..3);
        assert_eq!(AxisChunks::from_sizes(&[4, 4, 2]), a);
    }

    #[test]
    fn empty_axis_has_one_empty_block() {
        let a = AxisChunks::regular(0, 5);
        assert_eq!(a.nblocks(), 1);
        assert_eq!(a.range(0), 0..0);
        assert_eq!(AxisChunks::from_sizes(&[]).nblocks(), 1);
    }

    proptest! {
        #[test]
        fn block_of_inverts_range(sizes in prop::collection::vec(1usize..7, 1..9)) {
            let a = AxisChunks::from_sizes(&sizes);
            prop_assert_eq!(a.sizes(), sizes.clone());
            for b in 0..a.nblocks() {
                for p in a.range(b) {
                    prop_assert_eq!(a.block_of(p), b);
                }
            }
        }
    }
}
