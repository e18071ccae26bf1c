//! Writing a [`Dataset`] or a [`DataArray`] to a Zarr group that xarray opens as its own.

use super::coord::{Coordinate, in_variable};
use super::dataarray::DataArray;
use super::open::Dataset;
use crate::chunks::Region;
use crate::element::{CastFrom, DType, Element, Float};
use crate::error::{Error, Result};
use crate::exec::Runtime;
use crate::io::BlockWriter;
use crate::io::cf::CfDecode;
use crate::io::zarr::{ZarrCompression, ZarrFormat, ZarrWriteOptions, ZarrWriter};
use serde_json::{Map, Value, json};
use std::path::Path;

/// How [`Dataset::to_zarr`] and [`DataArray::to_zarr`] write.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DatasetWriteOptions {
    /// Zarr v3 (default) or v2 (with consolidated `.zmetadata`).
    pub format: ZarrFormat,
    /// zstd level 3 (default) or none.
    pub compression: ZarrCompression,
    /// Whether arrays already in the store under the same names are replaced (default
    /// `false`: it is an error).
    pub overwrite: bool,
}

impl DatasetWriteOptions {
    fn array(&self, dims: &[String], attributes: Map<String, Value>) -> ZarrWriteOptions {
        ZarrWriteOptions {
            format: self.format,
            compression: self.compression,
            overwrite: self.overwrite,
            dimension_names: Some(dims.iter().map(|d| Some(d.clone())).collect()),
            attributes,
        }
    }
}

/// Writes coordinate `dim` as a 1-D array, CF-encoded.
fn write_coord(store: &Path, dim: &str, c: &Coordinate, opts: &DatasetWriteOptions) -> Result<()> {
    let (values, attrs) = c.encode(dim)?;
    let n = values.len();
    let w = ZarrWriter::create(
        store,
        dim,
        &[n],
        &[n.max(1)],
        values.dtype(),
        opts.array(&[dim.to_string()], attrs),
    )?;
    if n > 0 {
        w.write(&Region(std::iter::once(0..n).collect()), &values.view())?;
    }
    w.commit()
}

fn write_variable<T: Element>(
    rt: &Runtime,
    store: &Path,
    name: &str,
    da: &DataArray<T>,
    opts: &DatasetWriteOptions,
) -> Result<()> {
    if da.coords().contains_key(name) || da.dims().iter().any(|d| d == name) {
        return Err(Error::InvalidArgument {
            op: "to_zarr",
            detail: format!(
                "variable {name:?} has the name of a dimension of its own ({:?}); only a \
                 dimension's coordinate may",
                da.dims()
            ),
        });
    }
    da.data().to_zarr_with(
        rt,
        store,
        name,
        opts.array(da.dims(), da.attrs().clone()),
        None,
    )?;
    Ok(())
}

/// The group's metadata with `attrs`, and its consolidated metadata listing every array in
/// the group (v2 `.zmetadata`; v3 `consolidated_metadata` inside `zarr.json`, as
/// zarr-python writes them).
fn write_group(store: &Path, attrs: &Map<String, Value>, format: ZarrFormat) -> Result<()> {
    const OP: &str = "to_zarr";
    let store = super::group_store::GroupStore::new(OP, store)?;
    let children = store.children(OP)?;
    match format {
        ZarrFormat::V2 => {
            let group = json!({"zarr_format": 2});
            store.write_json(OP, ".zgroup", &group)?;
            store.write_json(OP, ".zattrs", &Value::Object(attrs.clone()))?;
            let mut meta = Map::new();
            meta.insert(".zgroup".into(), group);
            meta.insert(".zattrs".into(), Value::Object(attrs.clone()));
            for c in &children {
                let Some(arr) = store.read_json(OP, &format!("{c}/.zarray"))? else {
                    continue;
                };
                meta.insert(format!("{c}/.zarray"), arr);
                let za = store
                    .read_json(OP, &format!("{c}/.zattrs"))?
                    .unwrap_or(json!({}));
                meta.insert(format!("{c}/.zattrs"), za);
            }
            store.write_json(
                OP,
                ".zmetadata",
                &json!({"metadata": meta, "zarr_consolidated_format": 1}),
            )
        }
        ZarrFormat::V3 => {
            let mut meta = Map::new();
            for c in &children {
                if let Some(arr) = store.read_json(OP, &format!("{c}/zarr.json"))?
                    && arr.get("node_type").and_then(Value::as_str) == Some("array")
                {
                    meta.insert(c.clone(), arr);
                }
            }
            store.write_json(
                OP,
                "zarr.json",
                &json!({
                    "zarr_format": 3,
                    "node_type": "group",
                    "attributes": attrs,
                    "consolidated_metadata": {
                        "kind": "inline",
                        "must_understand": false,
                        "metadata": meta,
                    },
                }),
            )
        }
    }
}

impl Dataset {
    /// Writes every variable and coordinate to the Zarr group `store` (created if missing),
    /// as xarray's `ds.to_zarr`: dimension names (`_ARRAY_DIMENSIONS` in v2,
    /// `dimension_names` in v3), coordinates (times CF-encoded with their units and
    /// calendar), variable and global attributes, and consolidated metadata. Data variables
    /// are written decoded (CF packing is not applied again) in the type xarray decodes them
    /// to, which `xr.open_zarr(...).to_zarr(...)` would write back: a `float32` variable stays
    /// `float32`, packed integers become `float64`, as do integers without CF attributes
    /// (where xarray keeps the integers); each streams within the runtime's memory limit.
    ///
    /// # Errors
    /// Store errors (an existing array without `overwrite`, ...), task errors, time encoding
    /// errors naming the coordinate.
    ///
    /// ```
    /// use chunkwise::dataset::{Dataset, DatasetWriteOptions};
    /// use chunkwise::io::zarr::ZarrFormat;
    /// use chunkwise::prelude::*;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// let ds = Dataset::open("data/sample.zarr")?;
    /// let out = std::env::temp_dir().join(format!("chunkwise-ds-doc-{}.zarr", std::process::id()));
    /// ds.to_zarr(&rt, &out, DatasetWriteOptions { format: ZarrFormat::V2, ..Default::default() })?;
    /// let back = Dataset::open(&out)?;
    /// assert_eq!(back.names(), ds.names());
    /// assert_eq!(back.coords(), ds.coords());
    /// # std::fs::remove_dir_all(&out).unwrap();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn to_zarr(
        &self,
        rt: &Runtime,
        store: impl AsRef<Path>,
        opts: DatasetWriteOptions,
    ) -> Result<()> {
        let store = store.as_ref();
        for (dim, c) in &self.coords {
            write_coord(store, dim, c, &opts)?;
        }
        for (name, v) in &self.vars {
            let cf = CfDecode::from_attributes(&v.attrs).map_err(|e| in_variable(e, name))?;
            let decoded = match cf {
                Some(c) => c.decoded_dtype(v.dtype),
                None => v.dtype,
            };
            if decoded == DType::F32 {
                write_variable(rt, store, name, &self.var::<f32>(name)?, &opts)?;
            } else {
                write_variable(rt, store, name, &self.var::<f64>(name)?, &opts)?;
            }
        }
        write_group(store, &self.attrs, opts.format)
    }
}

impl<T: Element> DataArray<T> {
    /// Writes the array as variable [`DataArray::name`] of the Zarr group `store`, with its
    /// coordinates, as [`Dataset::to_zarr`] does (in the array's own element type).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the array has no name; as [`Dataset::to_zarr`].
    pub fn to_zarr(
        &self,
        rt: &Runtime,
        store: impl AsRef<Path>,
        opts: DatasetWriteOptions,
    ) -> Result<()> {
        let store = store.as_ref();
        let name = self.name().ok_or_else(|| Error::InvalidArgument {
            op: "to_zarr",
            detail: "the DataArray has no name to write it under; give it one with with_name"
                .into(),
        })?;
        for (dim, c) in self.coords() {
            write_coord(store, dim, c, &opts)?;
        }
        write_variable(rt, store, name, self, &opts)?;
        write_group(store, &Map::new(), opts.format)
    }
}

/// A dataset of the given arrays, each under its name (for writing several at once).
///
/// # Errors
/// As [`Dataset::insert`]; [`Error::InvalidArgument`] for an array without a name.
pub fn dataset_of<T: Float + CastFrom<f64>>(arrays: &[&DataArray<T>]) -> Result<Dataset>
where
    f64: CastFrom<T>,
{
    let mut ds = Dataset::new();
    for da in arrays {
        let name = da.name().ok_or_else(|| Error::InvalidArgument {
            op: "dataset_of",
            detail: format!("an array of dims {:?} has no name", da.dims()),
        })?;
        ds.insert(name, da)?;
    }
    Ok(ds)
}
