//! What went wrong when a Zarr read failed: which stored chunk, its file, and the cause in
//! words (a truncated or corrupt file, a directory where a chunk file belongs, a file that
//! cannot be read), instead of a codec's bare message such as "failed to fill whole buffer".
//!
//! Only runs after a read has failed, so its cost (checking and decoding the region's chunks
//! one at a time, each within the read's scratch allowance) is paid on the error path only.

use crate::error::{BoxError, Error};
use std::path::Path;
use zarrs::array::{Array, ArrayBytes, ArraySubset, CodecOptions};
use zarrs::storage::ReadableStorageTraits;

/// Chunks of one failed region examined at most (a region of more chunks is rare; the first
/// bad one among these is reported).
const MAX_EXAMINED: usize = 1 << 16;

/// The first chunk of `subset` that cannot be read, as [`Error::BadChunk`]; `None` when every
/// chunk reads on its own (the failure lies elsewhere).
pub(super) fn bad_chunk(
    array: &Array<dyn ReadableStorageTraits>,
    store_root: &Path,
    path: &str,
    subset: &ArraySubset,
    options: &CodecOptions,
) -> Option<Error> {
    let chunks = array.chunks_in_array_subset(subset).ok()??;
    for idx in chunks.indices().into_iter().take(MAX_EXAMINED) {
        let file = store_root.join(array.chunk_key(&idx).as_str());
        let bad = |detail: String, source: Option<BoxError>| Error::BadChunk {
            op: "read zarr",
            path: path.into(),
            chunk: idx.to_vec(),
            file: file.clone(),
            detail: detail.into(),
            source,
        };
        let len = match std::fs::metadata(&file) {
            // A missing chunk reads as the fill value.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Some(bad(unreadable(&e), Some(e.into()))),
            Ok(m) if m.is_dir() => {
                return Some(bad(
                    "is a directory, not a chunk file; the store is damaged (remove the \
                     directory to read the chunk as the fill value, or write the array again)"
                        .into(),
                    None,
                ));
            }
            Ok(m) => m.len(),
        };
        if let Err(e) = std::fs::File::open(&file) {
            return Some(bad(unreadable(&e), Some(e.into())));
        }
        if let Err(e) = array.retrieve_chunk_if_exists_opt::<ArrayBytes<'static>>(&idx, options) {
            return Some(bad(corrupt(&e.to_string(), len), Some(e.into())));
        }
    }
    None
}

fn unreadable(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        "cannot be read: permission denied".into()
    } else {
        "cannot be read".into()
    }
}

/// A decoding failure of a chunk file of `len` bytes, in words (the codec's message stays the
/// error's source).
fn corrupt(msg: &str, len: u64) -> String {
    let lower = msg.to_lowercase();
    let short = [
        "failed to fill whole buffer",
        "out-of-bounds",
        "out of bounds",
        "smaller than",
    ];
    if short.iter().any(|s| lower.contains(s)) {
        format!(
            "the file has {len} bytes, fewer than its contents say it holds: it is truncated; \
             write the array again"
        )
    } else {
        format!("cannot be decoded; the file ({len} bytes) is truncated or corrupt")
    }
}
