use super::{AxisChunks, ChunkGrid};
use crate::error::{Error, Result};

/// The default target block size of [`ChunkSpec::Auto`]: 128 MiB, as dask's `auto`.
pub const DEFAULT_AUTO_BYTES: usize = 128 << 20;

/// How to chunk one axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AxisSpec {
    /// Blocks of this many elements (the last may be shorter).
    Size(usize),
    /// One block spanning the whole axis (dask's `-1`).
    Whole,
    /// These exact sizes, which must add up to the axis length.
    Explicit(Vec<usize>),
    /// Chosen by the `auto` rule together with the other `Auto` axes.
    Auto,
    /// A negative size other than `-1` (from `ChunkSpec::from([-2])`); resolving it is an
    /// [`Error::InvalidArgument`] naming the axis and the value.
    Negative(i64),
}

/// A requested chunking, resolved against a shape into a [`ChunkGrid`].
///
/// Converts from a chunk shape (`[1024, 1024]`, `vec![..]`; `-1` in an `i32`/`i64` array means
/// the whole axis), a single size for every axis (`100usize`), a [`ChunkGrid`], or
/// [`ChunkSpec::auto`].
///
/// # Example
/// ```
/// use chunkwise::chunks::{ChunkSpec, AxisSpec};
/// let g = ChunkSpec::from([4, -1]).resolve(&[10, 6], 8, None, "example").unwrap();
/// assert_eq!(g.chunk_sizes(), vec![vec![4, 4, 2], vec![6]]);
/// let g = ChunkSpec::PerAxis(vec![AxisSpec::Explicit(vec![3, 7]), AxisSpec::Size(5)])
///     .resolve(&[10, 6], 8, None, "example").unwrap();
/// assert_eq!(g.chunk_sizes(), vec![vec![3, 7], vec![5, 1]]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkSpec {
    /// One spec per axis.
    PerAxis(Vec<AxisSpec>),
    /// The same block size on every axis.
    Uniform(usize),
    /// Blocks of about this many bytes, as square as the shape allows, respecting a source's
    /// own chunks where it has them (blocks are whole multiples of them).
    Auto(usize),
    /// An exact grid (its shape must match the array's).
    Grid(ChunkGrid),
}

impl ChunkSpec {
    /// `auto` chunking with the default target of [`DEFAULT_AUTO_BYTES`].
    pub fn auto() -> ChunkSpec {
        ChunkSpec::Auto(DEFAULT_AUTO_BYTES)
    }

    /// Resolves the spec for an array of `shape` whose elements take `elem_size` bytes.
    /// `natural` is the source's own chunk shape (a store's chunks), which `auto` respects.
    ///
    /// # Errors
    /// [`Error::ChunkRankMismatch`] when the spec has another number of axes than `shape`,
    /// [`Error::ZeroChunk`] for a zero size on a nonempty axis, [`Error::ChunkSumMismatch`]
    /// when explicit sizes do not add up to the axis length.
    pub fn resolve(
        &self,
        shape: &[usize],
        elem_size: usize,
        natural: Option<&[usize]>,
        op: &'static str,
    ) -> Result<ChunkGrid> {
        let specs: Vec<AxisSpec> = match self {
            ChunkSpec::PerAxis(v) => v.clone(),
            ChunkSpec::Uniform(c) => vec![AxisSpec::Size(*c); shape.len()],
            ChunkSpec::Auto(_) => vec![AxisSpec::Auto; shape.len()],
            ChunkSpec::Grid(g) => {
                if g.shape() != shape {
                    if g.ndim() != shape.len() {
                        return Err(Error::ChunkRankMismatch {
                            op,
                            chunk_rank: g.ndim(),
                            rank: shape.len(),
                            shape: shape.to_vec(),
                        });
                    }
                    return Err(Error::Shape {
                        op,
                        detail: format!(
                            "chunk grid of shape {:?} given for an array of shape {shape:?}",
                            g.shape()
                        ),
                    });
                }
                return Ok(g.clone());
            }
        };
        if specs.len() != shape.len() {
            return Err(Error::ChunkRankMismatch {
                op,
                chunk_rank: specs.len(),
                rank: shape.len(),
                shape: shape.to_vec(),
            });
        }
        let target = match self {
            ChunkSpec::Auto(b) => *b,
            _ => DEFAULT_AUTO_BYTES,
        };
        let mut axes: Vec<Option<AxisChunks>> = Vec::with_capacity(shape.len());
        for (axis, (spec, &len)) in specs.iter().zip(shape).enumerate() {
            axes.push(match spec {
                AxisSpec::Size(0) if len > 0 => {
                    return Err(Error::ZeroChunk {
                        op,
                        axis,
                        shape: shape.to_vec(),
                    });
                }
                AxisSpec::Negative(c) => {
                    return Err(Error::InvalidArgument {
                        op,
                        detail: format!(
                            "chunk size {c} on axis {axis} of shape {shape:?}: sizes are >= 1, \
                             or -1 for the whole axis"
                        ),
                    });
                }
                AxisSpec::Size(c) => Some(AxisChunks::regular(len, (*c).max(1))),
                AxisSpec::Whole => Some(AxisChunks::regular(len, len.max(1))),
                AxisSpec::Explicit(sizes) => {
                    let sum: usize = sizes.iter().sum();
                    if sum != len {
                        return Err(Error::ChunkSumMismatch {
                            op,
                            axis,
                            chunks: sizes.clone(),
                            sum,
                            len,
                        });
                    }
                    if len > 0 && sizes.contains(&0) {
                        return Err(Error::ZeroChunk {
                            op,
                            axis,
                            shape: shape.to_vec(),
                        });
                    }
                    Some(AxisChunks::from_sizes(sizes))
                }
                AxisSpec::Auto => None,
            });
        }
        // Bytes of one block over the fixed axes, then grow the auto axes.
        let fixed: usize = axes
            .iter()
            .flatten()
            .map(|a| a.max_size().max(1))
            .product::<usize>()
            .max(1)
            * elem_size.max(1);
        let auto_axes: Vec<usize> = (0..shape.len()).filter(|&i| axes[i].is_none()).collect();
        let sizes = auto_sizes(shape, &auto_axes, natural, (target / fixed).max(1));
        for (k, &ax) in auto_axes.iter().enumerate() {
            axes[ax] = Some(AxisChunks::regular(shape[ax], sizes[k]));
        }
        Ok(ChunkGrid::new(
            axes.into_iter()
                .map(|a| a.expect("all axes resolved"))
                .collect(),
        ))
    }
}

/// Chooses block sizes for the `auto` axes so a block holds about `target_elems` elements:
/// start from the natural chunks (or 1), then repeatedly double the axis whose block is
/// smallest relative to its length, keeping multiples of the natural chunks.
fn auto_sizes(
    shape: &[usize],
    auto_axes: &[usize],
    natural: Option<&[usize]>,
    target_elems: usize,
) -> Vec<usize> {
    let base: Vec<usize> = auto_axes
        .iter()
        .map(|&ax| {
            natural
                .and_then(|n| n.get(ax).copied())
                .unwrap_or(1)
                .clamp(1, shape[ax].max(1))
        })
        .collect();
    let mut sizes = base.clone();
    let elems = |s: &[usize]| s.iter().product::<usize>();
    if elems(&sizes) >= target_elems {
        return sizes;
    }
    // Whole axis where everything fits.
    let whole: usize = auto_axes.iter().map(|&ax| shape[ax].max(1)).product();
    if whole <= target_elems {
        return auto_axes.iter().map(|&ax| shape[ax].max(1)).collect();
    }
    loop {
        // Grow the axis with the most blocks left, in steps of its natural chunk.
        let mut best: Option<usize> = None;
        for k in 0..sizes.len() {
            let len = shape[auto_axes[k]].max(1);
            if sizes[k] >= len {
                continue;
            }
            let nb = len.div_ceil(sizes[k]);
            if best.is_none_or(|b| nb > shape[auto_axes[b]].max(1).div_ceil(sizes[b])) {
                best = Some(k);
            }
        }
        let Some(k) = best else { return sizes };
        let len = shape[auto_axes[k]].max(1);
        let grown = (sizes[k] * 2).min(len);
        let grown = if grown < len {
            (grown / base[k]).max(1) * base[k]
        } else {
            len
        };
        let old = sizes[k];
        sizes[k] = grown;
        if elems(&sizes) > target_elems {
            // Take the largest multiple that still fits, then stop.
            let others = elems(&sizes) / grown;
            let fit = (target_elems / others.max(1)) / base[k] * base[k];
            sizes[k] = fit.max(old);
            return sizes;
        }
    }
}

impl From<usize> for ChunkSpec {
    fn from(c: usize) -> Self {
        ChunkSpec::Uniform(c)
    }
}

impl From<ChunkGrid> for ChunkSpec {
    fn from(g: ChunkGrid) -> Self {
        ChunkSpec::Grid(g)
    }
}

impl From<&ChunkGrid> for ChunkSpec {
    fn from(g: &ChunkGrid) -> Self {
        ChunkSpec::Grid(g.clone())
    }
}

impl From<Vec<AxisSpec>> for ChunkSpec {
    fn from(v: Vec<AxisSpec>) -> Self {
        ChunkSpec::PerAxis(v)
    }
}

fn signed_axis(c: i64) -> AxisSpec {
    match usize::try_from(c) {
        Ok(n) => AxisSpec::Size(n),
        Err(_) if c == -1 => AxisSpec::Whole,
        Err(_) => AxisSpec::Negative(c),
    }
}

macro_rules! from_sizes {
    ($($t:ty => $f:expr),*) => {$(
        impl From<&[$t]> for ChunkSpec {
            fn from(v: &[$t]) -> Self { ChunkSpec::PerAxis(v.iter().map(|&c| $f(c)).collect()) }
        }
        impl From<Vec<$t>> for ChunkSpec {
            fn from(v: Vec<$t>) -> Self { ChunkSpec::from(v.as_slice()) }
        }
        impl From<&Vec<$t>> for ChunkSpec {
            fn from(v: &Vec<$t>) -> Self { ChunkSpec::from(v.as_slice()) }
        }
        impl<const N: usize> From<[$t; N]> for ChunkSpec {
            fn from(v: [$t; N]) -> Self { ChunkSpec::from(&v[..]) }
        }
        impl<const N: usize> From<&[$t; N]> for ChunkSpec {
            fn from(v: &[$t; N]) -> Self { ChunkSpec::from(&v[..]) }
        }
    )*};
}
from_sizes!(
    usize => AxisSpec::Size,
    i32 => |c: i32| signed_axis(c as i64),
    i64 => signed_axis
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_sizes_other_than_minus_one_are_errors() {
        let e = ChunkSpec::from([4, -2])
            .resolve(&[8, 8], 8, None, "t")
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
        assert!(
            e.to_string().contains("-2") && e.to_string().contains("axis 1"),
            "{e}"
        );
        let g = ChunkSpec::from([4i64, -1])
            .resolve(&[8, 8], 8, None, "t")
            .unwrap();
        assert_eq!(g.chunk_shape(), vec![4, 8]);
    }

    #[test]
    fn rank_and_zero_errors() {
        assert!(matches!(
            ChunkSpec::from([2, 2]).resolve(&[4], 8, None, "t"),
            Err(Error::ChunkRankMismatch { .. })
        ));
        assert!(matches!(
            ChunkSpec::from([0usize]).resolve(&[4], 8, None, "t"),
            Err(Error::ZeroChunk { axis: 0, .. })
        ));
        // A zero chunk on an empty axis is fine.
        assert!(
            ChunkSpec::from([0usize])
                .resolve(&[0], 8, None, "t")
                .is_ok()
        );
        assert!(matches!(
            ChunkSpec::PerAxis(vec![AxisSpec::Explicit(vec![1, 2])]).resolve(&[4], 8, None, "t"),
            Err(Error::ChunkSumMismatch { sum: 3, len: 4, .. })
        ));
    }

    #[test]
    fn auto_targets_bytes_and_respects_natural_chunks() {
        let g = ChunkSpec::Auto(1 << 20)
            .resolve(&[730, 361, 720], 4, Some(&[1, 361, 720]), "t")
            .unwrap();
        let cs = g.chunk_shape();
        assert_eq!(cs[1..], [361, 720]);
        assert_eq!(cs[0], 1, "one natural chunk is already ~1 MiB");
        let g = ChunkSpec::Auto(128 << 20)
            .resolve(&[730, 361, 720], 4, Some(&[1, 361, 720]), "t")
            .unwrap();
        let bytes = g.max_block_len() * 4;
        assert!(bytes <= 128 << 20 && bytes > 64 << 20, "{bytes}");
        let g = ChunkSpec::auto()
            .resolve(&[8192, 8192], 8, None, "t")
            .unwrap();
        assert!(g.max_block_len() * 8 <= 128 << 20);
        assert!(g.max_block_len() * 8 > 32 << 20);
        let g = ChunkSpec::auto().resolve(&[10, 10], 8, None, "t").unwrap();
        assert_eq!(g.nblocks(), 1);
    }
}
