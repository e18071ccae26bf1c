//! The in-memory source: an owned `ndarray` array shared by every task, read without copies.

use super::BlockSource;
use crate::chunks::Region;
use crate::element::{AnyArray, DType};
use crate::error::Result;

/// An array already in memory. Tasks read views of it directly (no read task, no copy, and no
/// bytes counted against the memory limit: the caller owns the data).
#[derive(Debug)]
pub struct MemorySource {
    data: AnyArray,
}

impl MemorySource {
    /// Wraps an owned array.
    pub fn new(data: AnyArray) -> MemorySource {
        MemorySource { data }
    }
}

impl BlockSource for MemorySource {
    fn dtype(&self) -> DType {
        self.data.dtype()
    }
    fn shape(&self) -> &[usize] {
        self.data.shape()
    }
    fn read(&self, region: &Region) -> Result<AnyArray> {
        Ok(self.data.view().slice_region(region.ranges()).to_owned())
    }
    fn as_memory(&self) -> Option<&AnyArray> {
        Some(&self.data)
    }
    fn describe(&self) -> String {
        format!("memory {:?} {}", self.data.shape(), self.data.dtype())
    }
}
