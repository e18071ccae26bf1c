//! `--axis` by dimension name, and `--sel` / `--isel` (issue 9): resolved through the
//! input's dimension names and its group's coordinates, and applied through the library's
//! [`DataArray::sel`] / [`DataArray::isel`], lazily, before the command's operation, so only
//! the chunks the selection covers are read.

use crate::args::{AxisSpec, DimSelection, SelectArgs};
use crate::paths::{Location, Meta};
use crate::{Ctx, UsageError};
use anyhow::{Context, Result};
use chunkwise::dataset::{Coordinate, DataArray, Dataset, Label};
use chunkwise::{ChunkedArray, Element};
use ndarray::SliceInfoElem;

/// The input's dimension names, one per axis: the stored ones, `dim_<k>` for an axis
/// without a name.
pub(crate) fn dim_names(meta: &Meta) -> Vec<String> {
    (0..meta.shape.len())
        .map(|k| {
            meta.dimension_names
                .as_ref()
                .and_then(|n| n.get(k).cloned().flatten())
                .unwrap_or_else(|| format!("dim_{k}"))
        })
        .collect()
}

/// `(time, lat, lon)`.
fn shown(names: &[String]) -> String {
    format!("({})", names.join(", "))
}

/// The axis of `meta` that `flag` names: a number in range, or a dimension name.
fn axis_of(loc: &Location, meta: &Meta, flag: &str, a: &AxisSpec) -> Result<usize> {
    let ndim = meta.shape.len();
    match a {
        AxisSpec::Index(i) if *i < ndim => Ok(*i),
        AxisSpec::Index(i) => Err(UsageError(format!(
            "{flag} {i} is out of range: {} has {ndim} axes {} (axes are 0-based)",
            loc.display(),
            crate::commands::list(&meta.shape)
        ))
        .into()),
        AxisSpec::Name(n) => {
            let names = meta.dimension_names.as_deref().unwrap_or(&[]);
            if let Some(k) = names.iter().position(|d| d.as_deref() == Some(n.as_str())) {
                return Ok(k);
            }
            let known = if names.iter().any(Option::is_some) {
                format!("its dimensions are {}", shown(&dim_names(meta)))
            } else {
                "it has no dimension names: give axes by number (0-based)".to_string()
            };
            Err(UsageError(format!(
                "{flag} {n}: {} has no dimension named {n:?}; {known}",
                loc.display()
            ))
            .into())
        }
    }
}

/// The axes `--axis` names, as numbers of `meta`'s axes (those of the selection, when
/// `selected`).
pub(crate) fn resolve_axes(
    loc: &Location,
    meta: &Meta,
    axes: &[AxisSpec],
    selected: bool,
) -> Result<Vec<usize>> {
    axes.iter()
        .map(|a| {
            axis_of(loc, meta, "--axis", a).map_err(|e| {
                if selected {
                    UsageError(format!("{e} (after --sel/--isel)")).into()
                } else {
                    e
                }
            })
        })
        .collect()
}

/// A selection of the input, resolved to positions.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    /// The input's dimension names (`dim_<k>` for unnamed axes).
    dims: Vec<String>,
    /// The selection of each input axis (`..` for those not selected).
    elems: Vec<SliceInfoElem>,
    /// The input positions each input axis keeps.
    picked: Vec<Vec<usize>>,
    /// The input's metadata with the selection's shape and dimension names.
    pub meta: Meta,
    /// `--sel lat=60:30 --isel time=0:31`, for histories.
    pub what: String,
}

impl Selection {
    /// The selected part of `x` (the input, lazily): through [`DataArray::isel`].
    pub(crate) fn apply<T: Element>(&self, x: &ChunkedArray<T>) -> Result<ChunkedArray<T>> {
        let dims: Vec<&str> = self.dims.iter().map(String::as_str).collect();
        let by_pos: Vec<(&str, SliceInfoElem)> = dims
            .iter()
            .copied()
            .zip(self.elems.iter().copied())
            .collect();
        let da = DataArray::new(x.clone(), &dims)?.isel(&by_pos)?;
        Ok(da.data().clone())
    }

    /// The input axis of axis `axis` of the selection.
    pub(crate) fn input_axis(&self, axis: usize) -> usize {
        (0..self.elems.len())
            .filter(|&k| !matches!(self.elems[k], SliceInfoElem::Index(_)))
            .nth(axis)
            .expect("an axis of the selection")
    }

    /// The input positions input axis `axis` keeps.
    pub(crate) fn picked(&self, axis: usize) -> &[usize] {
        &self.picked[axis]
    }

    /// The input axes the selection drops (`--isel time=0`), with the position each
    /// keeps.
    pub(crate) fn dropped(&self) -> Vec<(usize, usize)> {
        (0..self.elems.len())
            .filter(|&k| matches!(self.elems[k], SliceInfoElem::Index(_)))
            .map(|k| (k, self.picked[k][0]))
            .collect()
    }
}

/// Where the group of the array at `loc` is: the directory (Zarr) or file (HDF5) holding the
/// arrays beside it. An array named by its directory (`store.zarr/t2m`) is looked for in the
/// directory above it; `None` for the root array of a store with no group above it.
pub(crate) fn group_path(loc: &Location) -> Option<std::path::PathBuf> {
    match loc {
        Location::Zarr { store, array } => {
            let rel = array.trim_matches('/');
            match rel.rsplit_once('/') {
                Some((g, _)) => Some(store.join(g)),
                None if rel.is_empty() => store
                    .parent()
                    .filter(|p| p.join(".zgroup").is_file() || p.join("zarr.json").is_file())
                    .map(std::path::Path::to_path_buf),
                None => Some(store.clone()),
            }
        }
        Location::Hdf5 { file, .. } => Some(file.clone()),
    }
}

/// The coordinates of the input's group (its dimension coordinates), opened as a
/// [`Dataset`] (see [`group_path`]).
fn group_coords(loc: &Location) -> Result<Dataset> {
    let Some(group) = group_path(loc) else {
        return Err(UsageError(format!(
            "--sel: {} is the root of its store, with no coordinates beside it; select by \
             position with --isel",
            loc.display()
        ))
        .into());
    };
    Dataset::open(&group).with_context(|| {
        format!(
            "--sel: cannot read the coordinates of {} (its group {})",
            loc.display(),
            group.display()
        )
    })
}

/// The label `s` asks for on coordinate `coord` of `dim`.
fn label_of(s: &DimSelection, dim: &str, coord: &Coordinate) -> Result<Label> {
    let part = spelled(s);
    if s.step.is_some() {
        return Err(UsageError(format!(
            "--sel {part}: a label range has no step (--isel takes one)"
        ))
        .into());
    }
    if coord.as_numbers().is_none() {
        // Times (date strings) or names.
        return Ok(match &s.to {
            None => Label::time(&s.from),
            Some(to) => Label::time_range(&s.from, to),
        });
    }
    let num = |v: &str| -> Result<f64> {
        v.parse::<f64>().map_err(|_| {
            UsageError(format!(
                "--sel {part}: {v:?} is not a number, and the coordinate {dim:?} holds numbers"
            ))
            .into()
        })
    };
    Ok(match &s.to {
        None => Label::from(num(&s.from)?),
        Some(to) => Label::range(num(&s.from)?, num(to)?),
    })
}

/// The position selection `s` asks for (`--isel`).
fn position_of(s: &DimSelection) -> Result<SliceInfoElem> {
    let part = spelled(s);
    let int = |v: &str| -> Result<Option<isize>> {
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<isize>().map(Some).map_err(|_| {
            UsageError(format!("--isel {part}: {v:?} is not an integer position")).into()
        })
    };
    let Some(to) = &s.to else {
        return match int(&s.from)? {
            Some(i) => Ok(SliceInfoElem::Index(i)),
            None => unreachable!("the parser refuses an empty value"),
        };
    };
    let step = match &s.step {
        None => 1,
        Some(st) => match int(st)? {
            None => 1,
            Some(k) if k >= 1 => k,
            Some(k) => {
                return Err(
                    UsageError(format!("--isel {part}: the step must be >= 1, not {k}")).into(),
                );
            }
        },
    };
    Ok(SliceInfoElem::Slice {
        start: int(&s.from)?.unwrap_or(0),
        end: int(to)?,
        step,
    })
}

/// `lat=60:30`, as the user gave it.
fn spelled(s: &DimSelection) -> String {
    let mut t = format!("{}={}", s.dim, s.from);
    if let Some(to) = &s.to {
        t.push(':');
        t.push_str(to);
    }
    if let Some(st) = &s.step {
        t.push(':');
        t.push_str(st);
    }
    t
}

/// The positions of `dim` (of length `n`) that `pick` keeps, through the library's
/// `sel`/`isel` on those positions: the selection, and whether it drops the dimension.
fn positions(
    ctx: &Ctx,
    dim: &str,
    n: usize,
    coord: Option<&Coordinate>,
    pick: impl FnOnce(&DataArray<i64>) -> chunkwise::Result<DataArray<i64>>,
) -> Result<(Vec<usize>, bool)> {
    let pos = ChunkedArray::<i64>::arange(0, n as i64, 1, n.max(1))?;
    let mut da = DataArray::new(pos, &[dim])?;
    if let Some(c) = coord {
        da = da.with_coord(dim, c.clone())?;
    }
    let r = pick(&da).map_err(|e| UsageError(e.to_string()))?;
    let dropped = r.dims().is_empty();
    let v = r.data().compute(&ctx.rt)?;
    Ok((v.iter().map(|&p| p as usize).collect(), dropped))
}

/// The selection `--sel` / `--isel` ask for on the input at `loc`; `None` when neither is
/// given.
pub(crate) fn resolve(
    ctx: &Ctx,
    loc: &Location,
    meta: &Meta,
    a: &SelectArgs,
) -> Result<Option<Selection>> {
    if !a.is_some() {
        return Ok(None);
    }
    let ndim = meta.shape.len();
    let dims = dim_names(meta);
    let mut elems = vec![SliceInfoElem::from(..); ndim];
    let mut picked: Vec<Vec<usize>> = meta.shape.iter().map(|&n| (0..n).collect()).collect();
    let mut seen = vec![false; ndim];
    let mut what = Vec::new();
    let ds = match &a.sel {
        Some(_) => Some(group_coords(loc)?),
        None => None,
    };
    let flagged = a
        .sel
        .iter()
        .flatten()
        .map(|s| ("--sel", s))
        .chain(a.isel.iter().flatten().map(|s| ("--isel", s)));
    for (flag, s) in flagged {
        let axis = axis_of(loc, meta, flag, &AxisSpec::Name(s.dim.clone()))?;
        if seen[axis] {
            return Err(UsageError(format!(
                "dimension {:?} is selected by both --sel and --isel",
                s.dim
            ))
            .into());
        }
        seen[axis] = true;
        let n = meta.shape[axis];
        let (p, dropped) = if flag == "--sel" {
            let coord = ds
                .as_ref()
                .and_then(|d| d.coords().get(&s.dim))
                .filter(|c| c.len() == n)
                .ok_or_else(|| {
                    UsageError(format!(
                        "--sel {}: {} has no coordinate for dimension {:?} (no 1-D array of \
                         length {n} named {:?} beside it); select by position with --isel",
                        spelled(s),
                        loc.display(),
                        s.dim,
                        s.dim
                    ))
                })?;
            let label = label_of(s, &s.dim, coord)?;
            positions(ctx, &s.dim, n, Some(coord), |da| {
                da.sel(&[(s.dim.as_str(), label)])
            })
            .with_context(|| format!("--sel {}", spelled(s)))?
        } else {
            let e = position_of(s)?;
            positions(ctx, &s.dim, n, None, |da| da.isel(&[(s.dim.as_str(), e)]))
                .with_context(|| format!("--isel {}", spelled(s)))?
        };
        if p.is_empty() {
            return Err(UsageError(format!(
                "{flag} {}: selects no position of dimension {:?} (of length {n})",
                spelled(s),
                s.dim
            ))
            .into());
        }
        elems[axis] = if dropped {
            SliceInfoElem::Index(p[0] as isize)
        } else {
            // `sel` gives a contiguous range; `isel` a stepped one.
            let step = if p.len() > 1 { p[1] - p[0] } else { 1 };
            SliceInfoElem::Slice {
                start: p[0] as isize,
                end: Some((p[p.len() - 1] + 1) as isize),
                step: step as isize,
            }
        };
        picked[axis] = p;
        what.push(format!("{flag} {}", spelled(s)));
    }
    let kept: Vec<usize> = (0..ndim)
        .filter(|&k| !matches!(elems[k], SliceInfoElem::Index(_)))
        .collect();
    let mut selected = meta.clone();
    selected.shape = kept.iter().map(|&k| picked[k].len()).collect();
    selected.dimension_names = meta
        .dimension_names
        .as_ref()
        .map(|names| kept.iter().map(|&k| names[k].clone()).collect());
    selected.chunks = meta
        .chunks
        .as_ref()
        .map(|c| kept.iter().map(|&k| c[k]).collect());
    selected.inner_chunks = None;
    Ok(Some(Selection {
        dims,
        elems,
        picked,
        meta: selected,
        what: what.join(" "),
    }))
}
