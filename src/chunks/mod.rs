//! Chunk geometry: how an array's shape is cut into blocks. Pure code: no threads, files or
//! memory accounting.
//!
//! - [`AxisChunks`]: the chunk sizes along one axis (regular with a ragged last chunk, or an
//!   explicit irregular list).
//! - [`ChunkGrid`]: one [`AxisChunks`] per axis, with block-index ↔ region maths.
//! - [`ChunkSpec`]: what a user asks for (per-axis sizes, whole axes, explicit lists, `auto`),
//!   resolved against a shape into a grid.
//! - [`unify_axis`] / [`broadcast_shapes`]: combining the chunks of two operands.

mod axis;
mod grid;
mod spec;
mod unify;

pub use axis::AxisChunks;
pub(crate) use grid::for_each_index;
pub use grid::{ChunkGrid, Region};
pub use spec::{AxisSpec, ChunkSpec, DEFAULT_AUTO_BYTES};
pub use unify::{broadcast_shapes, unify_axis};
