//! Opening a NetCDF4 / HDF5 file as a [`Dataset`] (cargo feature `hdf5`).

use super::open::{Dataset, Source, Variable, default_dims};
use crate::error::Result;
use crate::io::BlockSource;
use crate::io::hdf5::{Hdf5Source, root_variables};
use std::collections::BTreeMap;
use std::path::Path;

/// The root group's variables, dimensions from the dimension scales, global attributes.
pub(super) fn open(path: &Path) -> Result<Dataset> {
    let (names, attrs) = root_variables(path)?;
    let mut found = Vec::with_capacity(names.len());
    let mut sources = BTreeMap::new();
    for name in names {
        let src = Hdf5Source::open(path, &name)?;
        let info = src.info();
        let dims = default_dims(
            &name,
            src.dimension_names()
                .map(|d| d.iter().map(|n| Some(n.clone())).collect()),
            info.shape.len(),
        );
        found.push(Variable {
            name: name.clone(),
            dims,
            shape: info.shape.clone(),
            dtype: info.dtype,
            attrs: src.attributes().clone(),
            source: Source::Hdf5 {
                file: path.to_path_buf(),
                path: name.clone(),
            },
        });
        sources.insert(name, src);
    }
    Dataset::assemble(path, attrs, found, |v| {
        sources[&v.name].read(&crate::chunks::Region(
            std::iter::once(0..v.shape[0]).collect(),
        ))
    })
}
