//! Raw chunk reads: fetch a chunk's stored bytes under the library lock (`H5Dread_chunk`) and
//! undo its filters (shuffle, deflate) outside it.
//!
//! Only datasets whose stored type is exactly the native little-endian type and whose filters
//! are all shuffle or deflate take this path; [`RawPlan::new`] says `None` otherwise and the
//! caller reads through the library.

use crate::error::{Error, Result};
use ::hdf5::filters::Filter;
use ndarray::{ArrayD, ArrayViewMutD, IxDyn, SliceInfoElem};
use std::ops::Range;

/// One stage of a chunk's filter pipeline that this module can undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Shuffle,
    Deflate,
}

/// How to read a dataset chunk by chunk without the library's filter pipeline.
#[derive(Clone, Debug)]
pub(super) struct RawPlan {
    /// The chunk shape.
    pub chunk: Vec<usize>,
    /// Bytes per element.
    elem_size: usize,
    /// The filter pipeline in encoding order.
    stages: Vec<Stage>,
}

impl RawPlan {
    /// The plan for a dataset, or `None` when raw reads cannot be used: not chunked, not stored
    /// as the native type `T`, a filter other than shuffle or deflate, or `bool`.
    pub(super) fn new<T: ::hdf5::H5Type>(
        dataset: &::hdf5::Dataset,
        chunk: Option<&[usize]>,
    ) -> Option<RawPlan> {
        let chunk = chunk?.to_vec();
        if !cfg!(target_endian = "little") || chunk.contains(&0) {
            return None;
        }
        // `is` compares with the native type, byte order included.
        if !dataset.dtype().ok()?.is::<T>() {
            return None;
        }
        let mut stages = Vec::new();
        for f in dataset.filters() {
            match f {
                Filter::Shuffle => stages.push(Stage::Shuffle),
                Filter::Deflate(_) => stages.push(Stage::Deflate),
                _ => return None,
            }
        }
        Some(RawPlan {
            chunk,
            elem_size: std::mem::size_of::<T>(),
            stages,
        })
    }

    /// Whether every range of `region` starts on a chunk boundary and ends on one or at the end
    /// of the array.
    pub(super) fn is_aligned(&self, region: &[Range<usize>], shape: &[usize]) -> bool {
        region.len() == self.chunk.len()
            && region
                .iter()
                .zip(&self.chunk)
                .zip(shape)
                .all(|((r, &c), &n)| {
                    r.start < r.end && r.start % c == 0 && (r.end % c == 0 || r.end == n)
                })
    }

    /// Bytes of one decoded chunk.
    pub(super) fn chunk_bytes(&self) -> usize {
        self.chunk.iter().product::<usize>() * self.elem_size
    }

    /// Reads an aligned region chunk by chunk. Unallocated chunks read as `fill`.
    pub(super) fn read<T: bytemuck::Pod + ::hdf5::H5Type>(
        &self,
        dataset: &::hdf5::Dataset,
        region: &[Range<usize>],
        fill: T,
        shown: &str,
    ) -> Result<ArrayD<T>> {
        let out_shape: Vec<usize> = region.iter().map(|r| r.end - r.start).collect();
        let chunk_elems: usize = self.chunk.iter().product();
        // A region that is exactly one whole chunk decodes straight into the output buffer.
        if out_shape == self.chunk {
            let offset: Vec<u64> = region.iter().map(|r| r.start as u64).collect();
            let mut buf = vec![fill; chunk_elems];
            self.read_chunk_into(dataset, &offset, &mut buf, fill, shown)?;
            return ArrayD::from_shape_vec(IxDyn(&out_shape), buf).map_err(|e| {
                crate::Error::internal("hdf5 read", format!("{shown}: chunk buffer: {e}"))
            });
        }
        let mut out = ArrayD::from_elem(IxDyn(&out_shape), fill);
        let mut scratch = vec![fill; chunk_elems];
        // Iterate over the chunk grid of the region.
        let counts: Vec<usize> = region
            .iter()
            .zip(&self.chunk)
            .map(|(r, &c)| (r.end - r.start).div_ceil(c))
            .collect();
        let total: usize = counts.iter().product();
        let mut idx = vec![0usize; region.len()];
        for _ in 0..total {
            let offset: Vec<u64> = region
                .iter()
                .zip(&self.chunk)
                .zip(&idx)
                .map(|((r, &c), &i)| (r.start + i * c) as u64)
                .collect();
            self.read_chunk_into(dataset, &offset, &mut scratch, fill, shown)?;
            let chunk_view =
                ndarray::ArrayView::from_shape(IxDyn(&self.chunk), &scratch).map_err(|e| {
                    crate::Error::internal("hdf5 read", format!("{shown}: chunk buffer: {e}"))
                })?;
            // Clip the chunk at the region's end (edge chunks are stored at full size).
            let mut src_slice = Vec::with_capacity(region.len());
            let mut dst_slice = Vec::with_capacity(region.len());
            for ((r, &c), &i) in region.iter().zip(&self.chunk).zip(&idx) {
                let start = i * c;
                let len = c.min(r.end - r.start - start);
                src_slice.push(SliceInfoElem::from(0..len));
                dst_slice.push(SliceInfoElem::from(start..start + len));
            }
            let src = chunk_view.slice(src_slice.as_slice());
            let mut dst: ArrayViewMutD<'_, T> = out.slice_mut(dst_slice.as_slice());
            dst.assign(&src);
            // Next chunk index, last axis fastest.
            for ax in (0..idx.len()).rev() {
                idx[ax] += 1;
                if idx[ax] < counts[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
        Ok(out)
    }

    /// Reads the chunk at element offset `offset` into `out` (one whole chunk of elements).
    fn read_chunk_into<T: bytemuck::Pod>(
        &self,
        dataset: &::hdf5::Dataset,
        offset: &[u64],
        out: &mut [T],
        fill: T,
        shown: &str,
    ) -> Result<()> {
        let Some((mask, stored)) = fetch_chunk(dataset, offset, shown)? else {
            out.fill(fill);
            return Ok(());
        };
        let out_bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
        self.decode(mask, stored, out_bytes)
            .map_err(|detail| bad_chunk(dataset, &self.chunk, offset, shown, detail))
    }

    /// Undoes the pipeline stages not skipped by `mask` (bit `i` set: stage `i` was not applied).
    fn decode(
        &self,
        mask: u32,
        stored: Vec<u8>,
        out: &mut [u8],
    ) -> std::result::Result<(), String> {
        let active: Vec<Stage> = self
            .stages
            .iter()
            .enumerate()
            .filter(|(i, _)| *i >= 32 || mask & (1 << i) == 0)
            .map(|(_, s)| *s)
            .collect();
        let mut data = stored;
        let n = active.len();
        for (k, stage) in active.iter().rev().enumerate() {
            let last = k + 1 == n;
            match stage {
                Stage::Deflate => {
                    if last {
                        inflate_into(&data, out)?;
                        return Ok(());
                    }
                    let mut next = vec![0u8; out.len()];
                    inflate_into(&data, &mut next)?;
                    data = next;
                }
                Stage::Shuffle => {
                    if data.len() != out.len() {
                        return Err(format!(
                            "shuffled chunk has {} bytes, expected {}",
                            data.len(),
                            out.len()
                        ));
                    }
                    if last {
                        unshuffle(&data, out, self.elem_size);
                        return Ok(());
                    }
                    let mut next = vec![0u8; out.len()];
                    unshuffle(&data, &mut next, self.elem_size);
                    data = next;
                }
            }
        }
        if data.len() != out.len() {
            return Err(format!(
                "stored chunk has {} bytes, expected {}",
                data.len(),
                out.len()
            ));
        }
        out.copy_from_slice(&data);
        Ok(())
    }
}

/// [`Error::BadChunk`] for the stored chunk at element `offset` of `dataset` (chunks of
/// shape `chunk`).
fn bad_chunk(
    dataset: &::hdf5::Dataset,
    chunk: &[usize],
    offset: &[u64],
    shown: &str,
    detail: String,
) -> Error {
    Error::BadChunk {
        op: "hdf5 read chunk",
        path: shown.into(),
        chunk: offset
            .iter()
            .zip(chunk)
            .map(|(&o, &c)| o / (c as u64).max(1))
            .collect(),
        file: std::path::PathBuf::from(dataset.filename()),
        detail: format!("{detail}; the file is truncated or corrupt").into(),
        source: None,
    }
}

/// The stored bytes and filter mask of one chunk, or `None` when the chunk was never written.
/// Holds the library lock only for the lookup and the copy.
fn fetch_chunk(
    dataset: &::hdf5::Dataset,
    offset: &[u64],
    shown: &str,
) -> Result<Option<(u32, Vec<u8>)>> {
    use hdf5_sys::h5::{HADDR_UNDEF, haddr_t, hsize_t};
    use hdf5_sys::h5d::{H5Dget_chunk_info_by_coord, H5Dread_chunk1};
    use hdf5_sys::h5p::H5P_DEFAULT;
    let id = dataset.id();
    let offset: Vec<hsize_t> = offset.to_vec();
    let err = |e: ::hdf5::Error| {
        Error::backend(
            "hdf5 read chunk",
            shown,
            format!("read the chunk at element offset {offset:?}"),
            e,
        )
    };
    ::hdf5::sync::sync(|| {
        let mut mask: u32 = 0;
        let mut addr: haddr_t = 0;
        let mut size: hsize_t = 0;
        // SAFETY: `id` is a live dataset handle (held by `dataset`); `offset` has one entry per
        // dataset dimension (the caller builds it from a region of the dataset's rank); the
        // out-pointers are valid locals. The global library lock is held.
        ::hdf5::h5check(unsafe {
            H5Dget_chunk_info_by_coord(id, offset.as_ptr(), &mut mask, &mut addr, &mut size)
        })
        .map_err(err)?;
        if addr == HADDR_UNDEF || size == 0 {
            return Ok(None);
        }
        let len = usize::try_from(size).map_err(|_| {
            let chunk = dataset.chunk().unwrap_or_default();
            bad_chunk(
                dataset,
                &chunk,
                &offset,
                shown,
                format!("has an impossible stored size of {size} bytes"),
            )
        })?;
        let mut buf = vec![0u8; len];
        // SAFETY: as above; `buf` holds the chunk's stored size as just reported by the library
        // under the same lock, which is what `H5Dread_chunk` writes.
        ::hdf5::h5check(unsafe {
            H5Dread_chunk1(
                id,
                H5P_DEFAULT,
                offset.as_ptr(),
                &mut mask,
                buf.as_mut_ptr().cast(),
            )
        })
        .map_err(err)?;
        Ok(Some((mask, buf)))
    })
}

/// Inflates a zlib stream into exactly `out`.
fn inflate_into(input: &[u8], out: &mut [u8]) -> std::result::Result<(), String> {
    let mut d = flate2::Decompress::new(true);
    let status = d
        .decompress(input, out, flate2::FlushDecompress::Finish)
        .map_err(|e| format!("deflate: {e}"))?;
    let written = usize::try_from(d.total_out()).unwrap_or(usize::MAX);
    if status != flate2::Status::StreamEnd || written != out.len() {
        return Err(format!(
            "deflate stream gave {written} bytes (status {status:?}), expected {}",
            out.len()
        ));
    }
    Ok(())
}

/// Undoes HDF5's byte shuffle: the stored bytes are all first bytes of every element, then all
/// second bytes, and so on; trailing bytes that do not fill an element are left in place.
fn unshuffle(input: &[u8], out: &mut [u8], elem_size: usize) {
    if elem_size <= 1 {
        out.copy_from_slice(input);
        return;
    }
    let n = input.len() / elem_size;
    for b in 0..elem_size {
        let plane = &input[b * n..(b + 1) * n];
        for (i, &byte) in plane.iter().enumerate() {
            out[i * elem_size + b] = byte;
        }
    }
    let tail = n * elem_size;
    out[tail..].copy_from_slice(&input[tail..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_inverts_shuffle() {
        let elems: Vec<u8> = (0..23).collect(); // 5 elements of 4 bytes + 3 trailing
        let es = 4;
        let n = elems.len() / es;
        let mut shuffled = vec![0u8; elems.len()];
        for i in 0..n {
            for b in 0..es {
                shuffled[b * n + i] = elems[i * es + b];
            }
        }
        shuffled[n * es..].copy_from_slice(&elems[n * es..]);
        let mut out = vec![0u8; elems.len()];
        unshuffle(&shuffled, &mut out, es);
        assert_eq!(out, elems);
    }

    #[test]
    fn inflate_rejects_short_streams() {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&[7u8; 100]).unwrap();
        let z = e.finish().unwrap();
        let mut out = vec![0u8; 100];
        inflate_into(&z, &mut out).unwrap();
        assert_eq!(out, vec![7u8; 100]);
        let mut big = vec![0u8; 101];
        assert!(inflate_into(&z, &mut big).is_err());
        assert!(inflate_into(&z[..z.len() / 2], &mut out).is_err());
    }
}
