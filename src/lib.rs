//! # chunkwise
//!
//! Lazy, chunked n-dimensional arrays for [`ndarray`], with bounded-memory execution: what
//! dask.array is to NumPy.
#![warn(missing_docs)]

pub mod chunks;
pub mod element;
pub mod error;
pub mod io;
pub mod ops;

pub use chunks::{ChunkGrid, ChunkSpec, Region};
pub use element::{AnyArray, DType, Element, Float, Numeric};
pub use error::{Error, Result};
