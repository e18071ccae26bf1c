//! [`ChunkedArray`]: the lazy, typed handle users hold.

mod blocks;
mod create;
mod elementwise;
mod execute;
mod reduce;
mod store;
mod structure;

pub use blocks::{BlockInfo, Boundary};
pub use elementwise::{IntoOperand, Operand, where_};
pub use execute::compute_all;
pub use reduce::ReduceOpts;
pub use store::OpenOptions;
pub use structure::{concatenate, stack};

use crate::chunks::ChunkGrid;
use crate::element::{DType, Element};
use crate::graph::NodeRef;
use std::fmt;
use std::marker::PhantomData;

/// A lazy chunked n-dimensional array of `T`.
///
/// A handle on a node of an expression graph: cloning is cheap, and every operation returns a
/// new handle without computing anything. [`ChunkedArray::compute`] (or a streamed form) runs
/// the graph on a [`crate::Runtime`] within its memory limit.
///
/// # Example
/// ```
/// use chunkwise::prelude::*;
/// let rt = Runtime::builder().threads(2).memory_limit("64 MiB").build()?;
/// let x = ChunkedArray::from_ndarray(ndarray::Array::linspace(0.0, 1.0, 1000), [100])?;
/// let y = (&x * 2.0 + 1.0).powi(2);                  // lazy, fused into one pass per block
/// let total: f64 = y.sum().compute_scalar(&rt)?;
/// let expected: f64 = ndarray::Array::linspace(0.0, 1.0, 1000).mapv(|v: f64| (v * 2.0 + 1.0).powi(2)).sum();
/// assert!((total - expected).abs() < 1e-9 * expected);
/// # Ok::<(), chunkwise::Error>(())
/// ```
///
/// The handle is `#[must_use]`: a lazy operation whose result is dropped did nothing, so the
/// compiler warns about it.
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let x = chunkwise::ChunkedArray::from_ndarray(ndarray::arr1(&[-1.0, 2.0]).into_dyn(), [2])?;
/// x.abs(); // error: unused `ChunkedArray` that must be used
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[must_use = "a ChunkedArray is lazy: nothing is computed until it is computed or stored"]
pub struct ChunkedArray<T: Element> {
    pub(crate) node: NodeRef,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for ChunkedArray<T> {
    fn clone(&self) -> Self {
        ChunkedArray::from_node(self.node.clone())
    }
}

impl<T: Element> ChunkedArray<T> {
    pub(crate) fn from_node(node: NodeRef) -> Self {
        debug_assert_eq!(node.dtype, T::DTYPE);
        ChunkedArray {
            node,
            _t: PhantomData,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.node.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.node.shape.len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.node.shape.iter().product()
    }

    /// Whether the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunk grid.
    pub fn chunks(&self) -> &ChunkGrid {
        &self.node.grid
    }

    /// Number of blocks.
    pub fn nblocks(&self) -> usize {
        self.node.grid.nblocks()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }
}

impl<T: Element> fmt::Debug for ChunkedArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChunkedArray<{}>(shape {:?}, chunks {})",
            T::DTYPE,
            self.shape(),
            self.chunks()
        )
    }
}
