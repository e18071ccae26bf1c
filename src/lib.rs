//! # chunkwise
//!
//! Lazy, chunked n-dimensional arrays for [`ndarray`], with bounded-memory execution: what
//! dask.array is to NumPy.
//!
//! A [`ChunkedArray`] wraps a grid of blocks. Operations on it (elementwise arithmetic with
//! broadcasting, reductions, ...) build a graph without computing anything; `compute` runs
//! the graph on a [`Runtime`]'s own thread pool and never holds more tracked memory than the
//! runtime's limit.
//!
//! ```
//! use chunkwise::prelude::*;
//!
//! let rt = Runtime::builder().threads(2).memory_limit("64 MiB").build()?;
//! let x = ChunkedArray::<f64>::random_normal(&[1000, 500], [250, 250], 42, 10.0, 2.0)?;
//! let clim = x.mean_axis(0)?;                        // (500,)
//! let anom = (&x - &clim)?;                          // broadcasting
//! let sd = anom.std_axis(0)?.compute(&rt)?;     // (500,)
//! assert!((sd[[0]] - 2.0).abs() < 0.3);
//! println!("{}", rt.last_report());
//! # Ok::<(), chunkwise::Error>(())
//! ```
//!
//! ## Layers
//! Modules depend one way, bottom up; each may import only those below it:
//!
//! ```text
//! array    the user's handle (ChunkedArray): builds graph nodes, runs them
//!   ↓
//! graph    lazy plan, optimizer, lowering of nodes to exec tasks
//!   ↓
//! ops      block kernels (reads, fused elementwise expressions, reductions, scans),
//!   ↓      rechunk planning
//! exec     a generic task runner: pool, scheduler, memory limit; knows no arrays or plans
//! io       block sources and sinks (memory, Zarr, HDF5): geometry and element types only
//!   ↓      (exec and io do not import each other)
//! chunks   pure geometry  →  error  →  element (sealed element types, DType)
//!
//! time     CF calendars, time units and their decoding (imports only error)
//!
//! dataset  labelled arrays (Dataset, DataArray) above array: dimension names, coordinates,
//!          CF time, selection by label (imports array, time, io, chunks, exec, element, error)
//! ```
//!
//! `tests/layering.rs` holds the table of allowed imports and fails on any import against it.
//!
//! ## Cargo features
//!
//! | feature | default | needs | gives |
//! |---|---|---|---|
//! | `zarr` | yes | nothing (pure Rust codecs) | `ChunkedArray::open_zarr`, `to_zarr`, `io::zarr` |
//! | `hdf5` | no | the system libhdf5 (`libhdf5-dev`, `pkg-config`) | `ChunkedArray::open_hdf5`, `to_hdf5`, `io::hdf5` (HDF5 and NetCDF4) |
//! | `dashboard` | no | nothing (pulls in tiny_http) | `RuntimeBuilder::dashboard`: a live view of runs in a browser |
//!
//! Items that need a feature say so in their documentation (and carry a badge on docs.rs).
//! The `chunkwise` command-line tool is a separate package of the workspace
//! (`chunkwise-cli`, in `cli/`): depending on this library brings none of its dependencies
//! (clap, indicatif, anyhow).
//!
//! ## ndarray
//! Blocks and results are [`ndarray`] arrays. The matching version is re-exported as
//! [`chunkwise::ndarray`](ndarray), so programs need not pin their own:
//!
//! ```
//! use chunkwise::ndarray::ArrayD;
//! use chunkwise::prelude::*;
//!
//! let rt = Runtime::builder().threads(1).build()?;
//! let x: ArrayD<f64> = ChunkedArray::<f64>::ones(&[4, 4], [2, 2])?.compute(&rt)?;
//! assert_eq!(x.sum(), 16.0);
//! # Ok::<(), chunkwise::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub use ndarray;

mod array;
pub mod chunks;
pub mod dataset;
pub mod element;
pub mod engine;
pub mod error;
pub mod exec;
pub(crate) mod graph;
pub mod io;
pub(crate) mod ops;
pub mod time;

pub use array::{
    BlockInfo, Boundary, ChunkedArray, IntoOperand, OpenOptions, Operand, ReduceOpts, compute_all,
    concatenate, stack, where_,
};
// Quantiles and histograms (issue 12).
pub use array::HistogramBins;
// Grouped reductions, resampling and `take` (issue 12).
pub use array::{Bins, GroupBy, GroupMethod, GroupOpts, Labels};
// Rolling, coarsen, weighted (issue 12).
pub use array::{Coarsen, CoarsenBoundary, Rolling, Weighted};
pub use chunks::{ChunkGrid, ChunkSpec, Region};
// Labelled arrays (issue 9).
pub use dataset::{DataArray, DataGroupBy, Dataset, Label};
pub use element::{AnyArray, CastFrom, DType, Element, Float, Numeric};
pub use error::{Error, Result};
pub use exec::{RunReport, Runtime, RuntimeBuilder, keep_freed_blocks, parse_memory_size};
pub use graph::explain::{OpKind, PlanNode, PlanSummary, RechunkRun, RechunkSummary};

// The dispatch macros, crate-local (`crate::dispatch!`); the two the CLI needs are exported
// under hidden names (see `__cli`).
#[cfg_attr(not(feature = "hdf5"), allow(unused_imports))]
pub(crate) use crate::{
    __dispatch_dtype as dispatch_dtype, __dispatch_numeric as dispatch_numeric,
};
pub(crate) use element::dispatch;

/// What the `chunkwise` command-line tool (a separate crate target) needs beyond the public
/// API. Not part of the public API: hidden, and free to change in any release.
#[doc(hidden)]
pub mod __cli {
    pub use crate::{__dispatch_dtype as dispatch_dtype, __dispatch_numeric as dispatch_numeric};
}

/// The optimized graph of several arrays computed together (as by [`compute_all`]), in
/// Graphviz DOT: one plan with their shared inputs, as [`ChunkedArray::to_dot`] draws one array.
pub fn to_dot_all<T: Element>(arrays: &[&ChunkedArray<T>]) -> String {
    let nodes: Vec<graph::NodeRef> = arrays.iter().map(|a| a.node.clone()).collect();
    graph::explain::to_dot(&nodes)
}

/// The names most programs need: `use chunkwise::prelude::*;`.
pub mod prelude {
    pub use crate::array::HistogramBins;
    pub use crate::array::{Bins, GroupBy, GroupMethod, GroupOpts};
    pub use crate::array::{
        BlockInfo, Boundary, ChunkedArray, OpenOptions, ReduceOpts, compute_all, concatenate,
        stack, where_,
    };
    pub use crate::array::{Coarsen, CoarsenBoundary, Rolling, Weighted};
    pub use crate::chunks::{AxisSpec, ChunkGrid, ChunkSpec, Region};
    pub use crate::element::{DType, Element, Float, Numeric};
    pub use crate::error::{Error, Result};
    pub use crate::exec::{RunReport, Runtime};
}
