//! Creating arrays: from `ndarray`, constants, closures, ranges and seeded random numbers.

use super::ChunkedArray;
use crate::chunks::{ChunkSpec, Region};
use crate::element::{Element, Float, Numeric};
use crate::error::{Error, Result};
use crate::graph::{Node, Op};
use crate::io::BlockSource;
use crate::io::generate::{FnSource, fill_region, normal01, uniform01};
use crate::io::memory::MemorySource;
use crate::ops::expr::{ExprNode, Fill};
use ndarray::{Array, ArrayD, Dimension, IxDyn};
use std::sync::Arc;

impl<T: Element> ChunkedArray<T> {
    /// A chunked array over an in-memory `ndarray` array (moved, not copied). Tasks read views
    /// of it in place; its bytes are not counted against the memory limit.
    ///
    /// # Errors
    /// Invalid chunks for the shape ([`Error::ChunkRankMismatch`], [`Error::ZeroChunk`], ...).
    ///
    /// # Example
    /// ```
    /// use chunkwise::ChunkedArray;
    /// let x = ChunkedArray::from_ndarray(ndarray::Array2::<f32>::zeros((10, 7)), [4, -1]).unwrap();
    /// assert_eq!(x.chunks().chunk_sizes(), vec![vec![4, 4, 2], vec![7]]);
    /// ```
    pub fn from_ndarray<D: Dimension>(
        a: Array<T, D>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Self> {
        let a = a.into_dyn();
        let grid = chunks
            .into()
            .resolve(a.shape(), T::DTYPE.size(), None, "from_ndarray")?;
        Ok(Self::from_source_with_grid(
            Arc::new(MemorySource::new(T::wrap(a))),
            grid,
        ))
    }

    /// A chunked array over any [`BlockSource`], chunked by `chunks` (`auto` respects the
    /// source's own chunks).
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] if the source holds another element type; invalid chunks.
    pub fn from_source(src: Arc<dyn BlockSource>, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        if src.dtype() != T::DTYPE {
            return Err(Error::DTypeMismatch {
                op: "from_source",
                what: src.describe(),
                requested: T::DTYPE,
                actual: src.dtype(),
            });
        }
        let natural = src.natural_chunks();
        let grid = chunks.into().resolve(
            src.shape(),
            T::DTYPE.size(),
            natural.as_deref(),
            "from_source",
        )?;
        Ok(Self::from_source_with_grid(src, grid))
    }

    pub(crate) fn from_source_with_grid(src: Arc<dyn BlockSource>, grid: crate::ChunkGrid) -> Self {
        ChunkedArray::from_node(Node::new(grid, T::DTYPE, Op::Source(src)))
    }

    /// An array of `shape` filled with `value`.
    ///
    /// # Errors
    /// Invalid chunks for the shape.
    pub fn full(shape: &[usize], value: T, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        let grid = chunks
            .into()
            .resolve(shape, T::DTYPE.size(), None, "full")?;
        let expr = Arc::new(ExprNode::Call(Arc::new(Fill(value)), vec![]));
        Ok(ChunkedArray::from_node(Node::new(
            grid,
            T::DTYPE,
            Op::Elementwise {
                expr,
                inputs: vec![],
            },
        )))
    }

    /// An array whose block over region `r` is `f(r)`. `f` must return exactly the region's
    /// shape, for any region (rechunking asks for other regions), and the same values for the
    /// same region (blocks may be computed more than once).
    ///
    /// # Errors
    /// Invalid chunks. At run time, a block of the wrong shape is [`Error::UserFunction`].
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// let x = ChunkedArray::<i64>::from_fn(&[4, 6], [2, 3], |r: &Region| {
    ///     ndarray::ArrayD::from_shape_fn(r.shape(), |i| ((i[0] + r.0[0].start) * 10 + i[1] + r.0[1].start) as i64)
    /// })?;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// assert_eq!(x.compute(&rt)?[[3, 5]], 35);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn from_fn<F>(shape: &[usize], chunks: impl Into<ChunkSpec>, f: F) -> Result<Self>
    where
        F: Fn(&Region) -> ArrayD<T> + Send + Sync + 'static,
    {
        let grid = chunks
            .into()
            .resolve(shape, T::DTYPE.size(), None, "from_fn")?;
        let src = FnSource::new(shape.to_vec(), "from_fn", move |r: &Region| Ok(f(r)));
        Ok(Self::from_source_with_grid(Arc::new(src), grid))
    }

    /// An array whose element at index `i` is `f(i)` (ndarray's `from_shape_fn`).
    ///
    /// # Errors
    /// Invalid chunks.
    pub fn from_shape_fn<F>(shape: &[usize], chunks: impl Into<ChunkSpec>, f: F) -> Result<Self>
    where
        F: Fn(&[usize]) -> T + Send + Sync + 'static,
    {
        let grid = chunks
            .into()
            .resolve(shape, T::DTYPE.size(), None, "from_shape_fn")?;
        let full = shape.to_vec();
        let src = FnSource::new(shape.to_vec(), "from_shape_fn", move |r: &Region| {
            Ok(fill_region(r, &full, |g, _| f(g)))
        });
        Ok(Self::from_source_with_grid(Arc::new(src), grid))
    }
}

impl<T: Numeric> ChunkedArray<T> {
    /// An array of zeros.
    ///
    /// # Errors
    /// Invalid chunks for the shape.
    pub fn zeros(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Self> {
        Self::full(shape, T::zero(), chunks)
    }

    /// An array of ones.
    ///
    /// # Errors
    /// Invalid chunks for the shape.
    pub fn ones(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Self> {
        Self::full(shape, T::one(), chunks)
    }

    /// `start, start + step, ...` up to (not including) `stop`, as NumPy's `arange`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero or non-finite step; invalid chunks.
    pub fn arange(start: T, stop: T, step: T, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        let (a, b, s) = (start.to_f64_(), stop.to_f64_(), step.to_f64_());
        if s == 0.0 || !s.is_finite() || !a.is_finite() || !b.is_finite() {
            return Err(Error::InvalidArgument {
                op: "arange",
                detail: format!(
                    "start {a}, stop {b} and step {s} must be finite with a nonzero step"
                ),
            });
        }
        let n = ((b - a) / s).ceil().max(0.0) as usize;
        let grid = chunks
            .into()
            .resolve(&[n], T::DTYPE.size(), None, "arange")?;
        let src = FnSource::new(
            vec![n],
            format!("arange({a}, {b}, {s})"),
            move |r: &Region| {
                Ok(ArrayD::from_shape_fn(IxDyn(&r.shape()), |i| {
                    let k = (r.0[0].start + i[0]) as f64;
                    if T::IS_FLOAT {
                        T::from_f64_(a + k * s)
                    } else {
                        start.add_(T::from_f64_(k).mul_(step))
                    }
                }))
            },
        );
        Ok(Self::from_source_with_grid(Arc::new(src), grid))
    }
}

impl<T: Float> ChunkedArray<T> {
    /// `num` evenly spaced values from `start` to `stop` inclusive, as NumPy's `linspace`.
    ///
    /// # Errors
    /// Invalid chunks.
    pub fn linspace(start: T, stop: T, num: usize, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        let (a, b) = (start.to_f64_(), stop.to_f64_());
        let grid = chunks
            .into()
            .resolve(&[num], T::DTYPE.size(), None, "linspace")?;
        let step = if num > 1 {
            (b - a) / (num - 1) as f64
        } else {
            0.0
        };
        let src = FnSource::new(
            vec![num],
            format!("linspace({a}, {b}, {num})"),
            move |r: &Region| {
                Ok(ArrayD::from_shape_fn(IxDyn(&r.shape()), |i| {
                    let k = r.0[0].start + i[0];
                    T::from_f64_(if num > 1 && k == num - 1 {
                        b
                    } else {
                        a + k as f64 * step
                    })
                }))
            },
        );
        Ok(Self::from_source_with_grid(Arc::new(src), grid))
    }

    /// Uniform random values in `[low, high)` (never `high`, also after rounding to `f32`).
    /// Element `i` depends only on `seed` and `i`, so the values do not change with chunking or
    /// thread count.
    ///
    /// # Errors
    /// Invalid chunks.
    pub fn random_uniform(
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        seed: u64,
        low: T,
        high: T,
    ) -> Result<Self> {
        let (lo, hi) = (low.to_f64_(), high.to_f64_());
        let label = format!("random_uniform(seed {seed}, {lo}, {hi})");
        Self::random_with(shape, chunks, "random_uniform", label, move |i| {
            let v = T::from_f64_(lo + (hi - lo) * uniform01(seed, i));
            // Rounding (of the f64 draw to `f32`, or of `lo + (hi - lo) * u`) can reach `high`:
            // the interval is half-open, so step back to the largest value below it.
            if v >= high && low < high {
                high.next_below().max(low)
            } else {
                v
            }
        })
    }

    /// Normally distributed random values. Element `i` depends only on `seed` and `i`.
    ///
    /// # Errors
    /// Invalid chunks.
    pub fn random_normal(
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        seed: u64,
        mean: T,
        std: T,
    ) -> Result<Self> {
        let (m, s) = (mean.to_f64_(), std.to_f64_());
        let label = format!("random_normal(seed {seed}, {m}, {s})");
        Self::random_with(shape, chunks, "random_normal", label, move |i| {
            T::from_f64_(m + s * normal01(seed, i))
        })
    }

    fn random_with(
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        name: &'static str,
        label: String,
        generate: impl Fn(u64) -> T + Send + Sync + 'static,
    ) -> Result<Self> {
        let grid = chunks.into().resolve(shape, T::DTYPE.size(), None, name)?;
        let full = shape.to_vec();
        // The label (with the seed and parameters) shows in plans and tells plan hashes apart.
        let src = FnSource::new(shape.to_vec(), label, move |r: &Region| {
            Ok(fill_region(r, &full, |_, lin| generate(lin)))
        });
        Ok(Self::from_source_with_grid(Arc::new(src), grid))
    }
}
