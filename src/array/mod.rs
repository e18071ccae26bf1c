//! [`ChunkedArray`]: the lazy, typed handle users hold.

mod blocks;
mod create;
mod elementwise;
pub(crate) mod execute;
mod group;
mod histogram;
mod persist;
mod quantile;
mod reduce;
mod store;
mod structure;
mod weighted;
mod window;

pub use blocks::{BlockInfo, Boundary};
pub use elementwise::{IntoOperand, Operand, where_};
pub use execute::compute_all;
pub use group::{Bins, GroupBy, GroupMethod, GroupOpts, Labels};
pub use histogram::HistogramBins;
pub use reduce::ReduceOpts;
pub use store::OpenOptions;
pub use structure::{concatenate, stack};
pub use weighted::Weighted;
pub use window::{Coarsen, CoarsenBoundary, Rolling};

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
/// # Contents
///
/// Every operation but the compute and store family is lazy: it returns a new handle.
///
/// - **Creation**: [`from_ndarray`](Self::from_ndarray), [`from_source`](Self::from_source),
///   [`full`](Self::full), [`zeros`](Self::zeros), [`ones`](Self::ones),
///   [`from_fn`](Self::from_fn), [`from_shape_fn`](Self::from_shape_fn),
///   [`arange`](Self::arange), [`linspace`](Self::linspace),
///   [`random_uniform`](Self::random_uniform), [`random_normal`](Self::random_normal).
/// - **Properties**: [`shape`](Self::shape), [`ndim`](Self::ndim), [`len`](Self::len),
///   [`is_empty`](Self::is_empty), [`chunks`](Self::chunks), [`nblocks`](Self::nblocks),
///   [`dtype`](Self::dtype).
/// - **Elementwise** (fused into one pass per block, NumPy broadcasting): the operators
///   `+ - * / %` and unary `-` between arrays, references and scalars;
///   [`abs`](Self::abs), [`powi`](Self::powi), [`powf`](Self::powf), [`sqrt`](Self::sqrt),
///   [`exp`](Self::exp), [`ln`](Self::ln), [`clip`](Self::clip),
///   [`fill_nan`](Self::fill_nan), [`is_nan`](Self::is_nan), [`astype`](Self::astype),
///   [`mapv`](Self::mapv), [`zip_with`](Self::zip_with); comparisons [`gt`](Self::gt),
///   [`ge`](Self::ge), [`lt`](Self::lt), [`le`](Self::le), [`eq_elem`](Self::eq_elem),
///   [`ne_elem`](Self::ne_elem); logic [`not`](Self::not), [`and`](Self::and),
///   [`or`](Self::or), [`select`](Self::select) and [`where_`](crate::where_).
/// - **Reductions**, each as `op()` over all axes, `op_axis(axis)` and
///   `op_axes(axes, opts)` with [`ReduceOpts`](crate::ReduceOpts) (`keepdims`, `ddof`):
///   sums [`sum`](Self::sum), [`nansum`](Self::nansum), [`prod`](Self::prod); means
///   [`mean`](Self::mean), [`nanmean`](Self::nanmean); extremes [`min`](Self::min),
///   [`max`](Self::max), [`nanmin`](Self::nanmin), [`nanmax`](Self::nanmax); moments
///   [`var`](Self::var), [`std`](Self::std), [`nanvar`](Self::nanvar),
///   [`nanstd`](Self::nanstd) (`ddof = 0` unless `opts` says otherwise); positions
///   [`argmin`](Self::argmin), [`argmax`](Self::argmax), [`nanargmin`](Self::nanargmin),
///   [`nanargmax`](Self::nanargmax) (all axes or one); truth tests
///   [`count_nonzero`](Self::count_nonzero), [`any`](Self::any), [`all`](Self::all); and
///   xarray's [`count`](Self::count) of non-NaN values. Each family's section below has an
///   example.
/// - **Scans** along one axis: [`cumsum`](Self::cumsum), [`cumprod`](Self::cumprod),
///   [`nancumsum`](Self::nancumsum).
/// - **Structure**: [`slice`](Self::slice), [`insert_axis`](Self::insert_axis),
///   [`remove_axis`](Self::remove_axis), [`permuted_axes`](Self::permuted_axes),
///   [`t`](Self::t), [`into_shape`](Self::into_shape), [`concatenate`](crate::concatenate),
///   [`stack`](crate::stack).
/// - **Block functions**: [`map_blocks`](Self::map_blocks),
///   [`map_blocks_to`](Self::map_blocks_to), [`blockwise`](Self::blockwise),
///   [`map_overlap`](Self::map_overlap).
/// - **Rechunk**: [`rechunk`](Self::rechunk) (planned within the memory limit).
/// - **Compute and store** (these run the graph): [`compute`](Self::compute),
///   [`compute_scalar`](Self::compute_scalar), [`compute_all`](crate::compute_all),
///   [`for_each_block`](Self::for_each_block), [`store`](Self::store); to compute once and
///   reuse, [`persist`](Self::persist) (kept in memory within the limit, or spilled to
///   scratch); and to look before
///   running, [`explain`](Self::explain), [`explain_for`](Self::explain_for),
///   [`to_dot`](Self::to_dot).
#[cfg_attr(
    feature = "zarr",
    doc = "- **I/O**: Zarr [`open_zarr`](Self::open_zarr), [`open_zarr_with`](Self::open_zarr_with),"
)]
#[cfg_attr(
    feature = "zarr",
    doc = "  [`to_zarr`](Self::to_zarr), [`to_zarr_with`](Self::to_zarr_with);"
)]
#[cfg_attr(
    not(feature = "zarr"),
    doc = "- **I/O**: Zarr `open_zarr`, `open_zarr_with`, `to_zarr`, `to_zarr_with` (feature `zarr`);"
)]
#[cfg_attr(
    feature = "hdf5",
    doc = "  HDF5 and NetCDF4 [`open_hdf5`](Self::open_hdf5), [`open_hdf5_with`](Self::open_hdf5_with)"
)]
#[cfg_attr(
    not(feature = "hdf5"),
    doc = "  HDF5 and NetCDF4 `open_hdf5`, `open_hdf5_with` (feature `hdf5`)"
)]
///   (writing through [`store`](Self::store) with an HDF5 writer); any other format through
///   [`from_source`](Self::from_source) and [`store`](Self::store) with the
///   [`io`](crate::io) traits.
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
