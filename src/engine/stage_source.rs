//! A stage's array in the work directory as a source for later stages: its shape, type and
//! chunks are known from the plan, and the Zarr array is opened only at the first read, so
//! the plan can be cut (and its hash checked) before the array exists.

use crate::chunks::Region;
use crate::element::{AnyArray, DType};
use crate::error::Result;
use crate::io::BlockSource;
use crate::io::zarr::ZarrSource;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The array `name` of the work directory's store `store`, once a stage has written it.
#[derive(Debug)]
pub(crate) struct StageSource {
    store: PathBuf,
    name: String,
    shape: Vec<usize>,
    chunks: Vec<usize>,
    dtype: DType,
    opened: Mutex<Option<Arc<ZarrSource>>>,
}

impl StageSource {
    pub(crate) fn new(
        store: PathBuf,
        name: String,
        shape: Vec<usize>,
        chunks: Vec<usize>,
        dtype: DType,
    ) -> StageSource {
        StageSource {
            store,
            name,
            shape,
            chunks,
            dtype,
            opened: Mutex::new(None),
        }
    }

    fn inner(&self) -> Result<Arc<ZarrSource>> {
        let mut g = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = g.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(ZarrSource::open(&self.store, &self.name)?);
        *g = Some(s.clone());
        Ok(s)
    }
}

impl BlockSource for StageSource {
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.chunks.clone())
    }
    fn read(&self, region: &Region) -> Result<AnyArray> {
        self.inner()?.read(region)
    }
    fn read_scratch_bytes(&self, region: &Region) -> usize {
        // As a ZarrSource of these chunks: the region plus a chunk's encoded and decoded bytes.
        let dsize = self.dtype.size();
        region.len() * dsize + 2 * self.chunks.iter().product::<usize>() * dsize
    }
    fn describe(&self) -> String {
        // No path: the plan hash is the same for any work directory.
        format!("stage array {} {:?} {}", self.name, self.shape, self.dtype)
    }
}
