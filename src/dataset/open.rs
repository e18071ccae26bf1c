//! [`Dataset`]: the variables of a Zarr group or a NetCDF4 file, opened lazily.

use super::coord::{Coordinate, decoded_attrs};
use super::dataarray::DataArray;
use crate::array::{ChunkedArray, OpenOptions};
use crate::element::{CastFrom, DType, Float};
use crate::error::{Error, Result, StoreErrorKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a variable's data come from.
#[derive(Clone)]
pub(crate) enum Source {
    /// An array of a Zarr store.
    #[cfg(feature = "zarr")]
    Zarr { store: PathBuf, path: String },
    /// A dataset of an HDF5 / NetCDF4 file.
    #[cfg(feature = "hdf5")]
    Hdf5 { file: PathBuf, path: String },
    /// Data held by the program (decoded values).
    Memory(ChunkedArray<f64>),
}

/// One variable of a [`Dataset`]: its dimensions, shape, stored type and attributes (as
/// stored, CF encoding keys included), its data still unread.
#[derive(Clone)]
pub struct Variable {
    /// The variable name.
    pub name: String,
    /// Its dimension names, one per axis.
    pub dims: Vec<String>,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The stored element type.
    pub dtype: DType,
    /// The attributes as stored (CF packing, `_FillValue`, `units`, ...).
    pub attrs: Map<String, Value>,
    pub(crate) source: Source,
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variable")
            .field("name", &self.name)
            .field("dims", &self.dims)
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .field("attrs", &self.attrs)
            .finish()
    }
}

/// A labelled collection of variables sharing dimensions, as xarray's `Dataset`: data
/// variables (lazy), dimension coordinates (read when opened: they are small) and global
/// attributes.
///
/// [`Dataset::open`] reads a Zarr v2 group (its consolidated `.zmetadata` when present,
/// otherwise the group's directory listing), a Zarr v3 group, or a NetCDF4/HDF5 file (cargo
/// feature `hdf5`). Dimension names come from `_ARRAY_DIMENSIONS` (v2, as xarray writes
/// them), `dimension_names` (v3) or the NetCDF dimension scales; a variable without names
/// gets `dim_0`, `dim_1`, ... (a 1-D one, a dimension of its own name). A 1-D variable named like its dimension is that dimension's
/// coordinate, CF-decoded (packing, fill values) and, when its `units` are
/// `"<unit> since <date>"`, decoded to [`CfDateTime`](crate::time::CfDateTime)s in its
/// `calendar`.
///
/// ```
/// # #[cfg(feature = "zarr")] {
/// use chunkwise::dataset::{Dataset, Label};
/// use chunkwise::prelude::*;
///
/// let ds = Dataset::open("data/sample.zarr")?;
/// let t2m = ds.var::<f32>("t2m")?;                    // lazy, with dims and coords
/// println!("{:?}", t2m.dims());
/// let clim = t2m.mean(&t2m.dims()[0])?;               // by dimension name
/// assert_eq!(clim.dims().len(), 2);
/// # }
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub(crate) path: Option<PathBuf>,
    /// Dimension lengths, in order of first appearance.
    pub(crate) dims: Vec<(String, usize)>,
    pub(crate) coords: BTreeMap<String, Coordinate>,
    pub(crate) vars: BTreeMap<String, Variable>,
    pub(crate) attrs: Map<String, Value>,
}

impl Dataset {
    /// An empty dataset, to fill with [`Dataset::insert`] and write.
    pub fn new() -> Dataset {
        Dataset::default()
    }

    /// Opens the Zarr group (a directory) or NetCDF4/HDF5 file (feature `hdf5`) at `path`,
    /// reading metadata and coordinates only.
    ///
    /// # Errors
    /// [`Error::Store`] naming the path when it does not exist, is not a Zarr group or an
    /// HDF5 file, or a variable's metadata cannot be read (the kinds of
    /// [`crate::io::zarr::ZarrSource::open`]); [`Error::DimensionLengthMismatch`] naming
    /// both variables when two disagree on a dimension's length; for a coordinate,
    /// [`Error::TimeUnits`] / [`Error::UnsupportedCalendar`] naming the variable when its
    /// time units or calendar cannot be decoded.
    pub fn open(path: impl AsRef<Path>) -> Result<Dataset> {
        let path = path.as_ref();
        if crate::io::store_url::path_url(path).is_some() {
            return open_zarr_group(path);
        }
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::store(
                "open dataset",
                path.display().to_string(),
                StoreErrorKind::NotFound,
            )),
            Err(source) => Err(Error::store_io(
                "open dataset",
                path.display().to_string(),
                "look at",
                path,
                source,
            )),
            Ok(m) if m.is_dir() => open_zarr_group(path),
            Ok(_) => open_file(path),
        }
    }

    /// The path it was opened from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The dimensions and their lengths, in order of first appearance.
    pub fn dims(&self) -> &[(String, usize)] {
        &self.dims
    }

    /// The length of dimension `dim`.
    pub fn dim_len(&self, dim: &str) -> Option<usize> {
        self.dims.iter().find(|(d, _)| d == dim).map(|(_, n)| *n)
    }

    /// The dimension coordinates, by dimension.
    pub fn coords(&self) -> &BTreeMap<String, Coordinate> {
        &self.coords
    }

    /// The data variables (coordinates excluded), by name.
    pub fn variables(&self) -> &BTreeMap<String, Variable> {
        &self.vars
    }

    /// The data variable names.
    pub fn names(&self) -> Vec<&str> {
        self.vars.keys().map(String::as_str).collect()
    }

    /// The global attributes.
    pub fn attrs(&self) -> &Map<String, Value> {
        &self.attrs
    }

    /// The dataset with global attributes `attrs`.
    pub fn with_attrs(mut self, attrs: Map<String, Value>) -> Dataset {
        self.attrs = attrs;
        self
    }

    fn what(&self) -> String {
        match &self.path {
            Some(p) => format!("dataset {}", p.display()),
            None => "the dataset".to_string(),
        }
    }

    /// The variable `name` (lazy), read as `T` (`f64` or `f32`) whatever its stored type,
    /// CF-decoded (packing, fill values → NaN), with its dimensions, their coordinates and
    /// its decoded attributes (without CF encoding keys), as xarray's `ds[name]`.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] naming the dataset's variables; store errors opening it.
    pub fn var<T: Float + CastFrom<f64>>(&self, name: &str) -> Result<DataArray<T>> {
        self.var_with(name, &OpenOptions::default())
    }

    /// [`Dataset::var`] with options (chunks, CF decoding, memory limit).
    ///
    /// # Errors
    /// As [`Dataset::var`].
    pub fn var_with<T: Float + CastFrom<f64>>(
        &self,
        name: &str,
        opts: &OpenOptions,
    ) -> Result<DataArray<T>> {
        let v = self.vars.get(name).ok_or_else(|| Error::UnknownVariable {
            op: "var",
            what: self.what(),
            name: name.to_string(),
            available: self.vars.keys().cloned().collect(),
        })?;
        let data: ChunkedArray<T> = match &v.source {
            #[cfg(feature = "zarr")]
            Source::Zarr { store, path } => ChunkedArray::open_zarr_as_with(store, path, opts)?,
            #[cfg(feature = "hdf5")]
            Source::Hdf5 { file, path } => ChunkedArray::open_hdf5_as_with(file, path, opts)?,
            Source::Memory(x) => {
                let y = x.astype::<T>();
                match &opts.chunks {
                    Some(c) => y.rechunk(c.clone())?,
                    None => y,
                }
            }
        };
        let coords = v
            .dims
            .iter()
            .filter_map(|d| self.coords.get(d).map(|c| (d.clone(), c.clone())))
            .collect();
        let attrs = if opts.decode_cf {
            decoded_attrs(&v.attrs, false)
        } else {
            v.attrs.clone()
        };
        DataArray::from_parts(Some(name.to_string()), data, v.dims.clone(), coords, attrs)
    }

    /// Adds `da` as variable `name` (replacing one of that name), with its coordinates.
    ///
    /// # Errors
    /// [`Error::DimensionLengthMismatch`] when a dimension's length differs from the
    /// dataset's; [`Error::CoordinateMismatch`] when a coordinate differs from the dataset's.
    pub fn insert<T: Float>(&mut self, name: &str, da: &DataArray<T>) -> Result<()>
    where
        f64: CastFrom<T>,
    {
        for (d, &n) in da.dims().iter().zip(da.shape()) {
            self.add_dim(d, n, &format!("variable {name}"))?;
            if let (Some(a), Some(b)) = (self.coords.get(d), da.coord(d))
                && let Some(detail) = a.first_difference(b)
            {
                return Err(Error::CoordinateMismatch {
                    op: "insert",
                    dim: d.clone(),
                    detail,
                });
            }
        }
        for (d, c) in da.coords() {
            self.coords.entry(d.clone()).or_insert_with(|| c.clone());
        }
        self.vars.insert(
            name.to_string(),
            Variable {
                name: name.to_string(),
                dims: da.dims().to_vec(),
                shape: da.shape().to_vec(),
                // The array's own type, which writing keeps (the data are held as f64,
                // exactly for f32).
                dtype: T::DTYPE,
                attrs: da.attrs().clone(),
                source: Source::Memory(da.data().astype::<f64>()),
            },
        );
        Ok(())
    }

    /// Records dimension `dim` of length `n`, seen in `what`.
    pub(crate) fn add_dim(&mut self, dim: &str, n: usize, what: &str) -> Result<()> {
        match self.dims.iter().find(|(d, _)| d == dim) {
            Some((_, m)) if *m != n => {
                let first = self
                    .vars
                    .values()
                    .find(|v| v.dims.iter().any(|x| x == dim))
                    .map(|v| format!("variable {}", v.name))
                    .unwrap_or_else(|| format!("coordinate {dim}"));
                Err(Error::DimensionLengthMismatch {
                    op: "dataset",
                    dim: dim.to_string(),
                    what_a: first,
                    len_a: *m,
                    what_b: what.to_string(),
                    len_b: n,
                })
            }
            Some(_) => Ok(()),
            None => {
                self.dims.push((dim.to_string(), n));
                Ok(())
            }
        }
    }

    /// Builds a dataset from the variables found in a store: coordinates decoded, the others
    /// kept as data variables.
    pub(crate) fn assemble(
        path: &Path,
        attrs: Map<String, Value>,
        found: Vec<Variable>,
        mut read_coord: impl FnMut(&Variable) -> Result<crate::element::AnyArray>,
    ) -> Result<Dataset> {
        let mut ds = Dataset {
            path: Some(path.to_path_buf()),
            attrs,
            ..Dataset::default()
        };
        for v in found {
            for (d, &n) in v.dims.iter().zip(&v.shape) {
                let what = format!("variable {}", v.name);
                ds.add_dim(d, n, &what)?;
            }
            if v.dims.len() == 1 && v.dims[0] == v.name {
                let raw = read_coord(&v)?;
                let c = Coordinate::decode(&v.name, &raw, &v.attrs)?;
                ds.coords.insert(v.name.clone(), c);
            } else {
                ds.vars.insert(v.name.clone(), v);
            }
        }
        Ok(ds)
    }
}

/// The dimension names of variable `var`: the stored ones; for axes without, `dim_0`,
/// `dim_1`, ... as xarray names a bare array's, except that a 1-D variable without any is
/// taken as the coordinate of a dimension of its own name (a `lat` array written without
/// xarray's `_ARRAY_DIMENSIONS`), so that two such coordinates do not claim one `dim_0`.
pub(crate) fn default_dims(
    var: &str,
    names: Option<Vec<Option<String>>>,
    ndim: usize,
) -> Vec<String> {
    if ndim == 1
        && names
            .as_ref()
            .is_none_or(|n| n.first().cloned().flatten().is_none())
    {
        return vec![var.to_string()];
    }
    (0..ndim)
        .map(|i| {
            names
                .as_ref()
                .and_then(|n| n.get(i).cloned().flatten())
                .unwrap_or_else(|| format!("dim_{i}"))
        })
        .collect()
}

#[cfg(feature = "zarr")]
fn open_zarr_group(path: &Path) -> Result<Dataset> {
    use crate::io::BlockSource;
    use crate::io::zarr::ZarrSource;
    const OP: &str = "open dataset";
    let shown = path.display().to_string();
    let bad = |detail: String| {
        Error::store(
            OP,
            shown.clone(),
            StoreErrorKind::InvalidMetadata { detail },
        )
    };
    let store = super::group_store::GroupStore::new(OP, path)?;
    let (names, attrs): (Vec<String>, Map<String, Value>) =
        if let Some(root) = store.read_json(OP, "zarr.json")? {
            if root.get("node_type").and_then(Value::as_str) != Some("group") {
                return Err(array_not_group(&shown));
            }
            let attrs = root
                .get("attributes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let consolidated = root
                .pointer("/consolidated_metadata/metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, v)| {
                            !k.contains('/')
                                && v.get("node_type").and_then(Value::as_str) == Some("array")
                        })
                        .map(|(k, _)| k.clone())
                        .collect::<Vec<_>>()
                });
            let names = match consolidated {
                Some(n) => n,
                None => {
                    let mut arrays = Vec::new();
                    for c in store.children(OP)? {
                        if store
                            .read_json(OP, &format!("{c}/zarr.json"))?
                            .is_some_and(|j| {
                                j.get("node_type").and_then(Value::as_str) == Some("array")
                            })
                        {
                            arrays.push(c);
                        }
                    }
                    arrays
                }
            };
            (names, attrs)
        } else if store.has(OP, ".zgroup")? {
            match store.read_json(OP, ".zmetadata")? {
                Some(z) => {
                    let meta = z
                        .get("metadata")
                        .and_then(Value::as_object)
                        .ok_or_else(|| bad(".zmetadata has no \"metadata\" object".into()))?;
                    let names = meta
                        .keys()
                        .filter_map(|k| k.strip_suffix("/.zarray"))
                        .filter(|n| !n.contains('/'))
                        .map(str::to_string)
                        .collect();
                    let attrs = meta
                        .get(".zattrs")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    (names, attrs)
                }
                None => {
                    let mut arrays = Vec::new();
                    for c in store.children(OP)? {
                        if store.has(OP, &format!("{c}/.zarray"))? {
                            arrays.push(c);
                        }
                    }
                    (
                        arrays,
                        store
                            .read_json(OP, ".zattrs")?
                            .and_then(|v| v.as_object().cloned())
                            .unwrap_or_default(),
                    )
                }
            }
        } else if store.has(OP, ".zarray")? {
            return Err(array_not_group(&shown));
        } else if !store.exists(OP)? {
            return Err(Error::store(OP, shown, StoreErrorKind::NotFound));
        } else {
            return Err(Error::store(
                OP,
                shown,
                StoreErrorKind::NotRecognized { format: "Zarr" },
            ));
        };
    let mut found = Vec::with_capacity(names.len());
    let mut sources = BTreeMap::new();
    for name in names {
        let src = ZarrSource::open(path, &name)?;
        let info = src.info();
        found.push(Variable {
            name: name.clone(),
            dims: default_dims(&name, info.dimension_names.clone(), info.shape.len()),
            shape: info.shape.clone(),
            dtype: info.dtype,
            attrs: src
                .cf_attributes()
                .into_iter()
                .filter(|(k, _)| k != "_ARRAY_DIMENSIONS")
                .collect(),
            source: Source::Zarr {
                store: path.to_path_buf(),
                path: name.clone(),
            },
        });
        sources.insert(name, src);
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Dataset::assemble(path, attrs, found, |v| {
        let src = &sources[&v.name];
        src.read(&crate::chunks::Region(
            std::iter::once(0..v.shape[0]).collect(),
        ))
    })
}

#[cfg(not(feature = "zarr"))]
fn open_zarr_group(path: &Path) -> Result<Dataset> {
    Err(Error::store(
        "open dataset",
        path.display().to_string(),
        StoreErrorKind::UnsupportedFormat {
            format: "a Zarr",
            hint: "this build of chunkwise lacks the cargo feature `zarr`",
        },
    ))
}

#[cfg(feature = "hdf5")]
fn open_file(path: &Path) -> Result<Dataset> {
    super::netcdf::open(path)
}

#[cfg(not(feature = "hdf5"))]
fn open_file(path: &Path) -> Result<Dataset> {
    Err(Error::store(
        "open dataset",
        path.display().to_string(),
        StoreErrorKind::UnsupportedFormat {
            format: "a NetCDF4/HDF5 (or other)",
            hint: "NetCDF4/HDF5 needs the cargo feature `hdf5`; a Zarr store is a directory",
        },
    ))
}

#[cfg(feature = "zarr")]
fn array_not_group(shown: &str) -> Error {
    Error::InvalidArgument {
        op: "open dataset",
        detail: format!(
            "{shown} is a Zarr array, not a group; open it with ChunkedArray::open_zarr"
        ),
    }
}
