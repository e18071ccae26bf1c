//! `chunkwise plot`: a quick-look map of a 2-D slice (issue 10), and the small pictures of
//! 2-D results in the HTML report.
//!
//! The slice is selected lazily (`--isel` / `--sel`), then downsampled to about the pixel
//! grid by NaN-skipping block means ([`ChunkedArray::coarsen`]) inside the runtime, so only
//! the chunks the slice covers are read, within the memory limit, and only the small grid
//! comes back to draw.

mod field;
mod render;
mod viridis;

use crate::args::SelectArgs;
use crate::commands::{list, open_f64};
use crate::paths::{self, Location, Meta};
use crate::select::{self, Selection};
use crate::{Ctx, UsageError};
use anyhow::{Context, Result};
use chunkwise::dataset::{CoordValues, Dataset};
use chunkwise::{ChunkedArray, CoarsenBoundary, DType};
use field::{Field, MapAxis};
use ndarray::SliceInfoElem;
use render::Layout;
use std::path::{Path, PathBuf};

/// The size of the report's pictures.
pub(crate) const THUMBNAIL_SIZE: (u32, u32) = (360, 225);

/// What `chunkwise plot` was asked.
pub(crate) struct PlotArgs<'a> {
    pub path: &'a str,
    pub var: Option<&'a str>,
    pub select: &'a SelectArgs,
    pub out: &'a Path,
    pub size: (u32, u32),
}

/// `chunkwise plot PATH [--var NAME] [--isel ...|--sel ...] --out map.png [--size WxH]`.
pub(crate) fn plot(ctx: &Ctx, a: &PlotArgs) -> Result<()> {
    let loc = locate(a.path, a.var)?;
    let meta = probe_variable(&loc, a.path)?;
    let name = variable_name(&loc);
    if meta.dtype == DType::Bool {
        return Err(UsageError(format!(
            "{name} holds bool values, not numbers: plot draws numeric variables"
        ))
        .into());
    }
    // Refuse an unwritable --out before reading anything.
    let out = PictureFile::create(a.out)?;
    let mut x = open_f64(&loc, &meta)?;
    let sel = select::resolve(ctx, &loc, &meta, a.select)?;
    if let Some(s) = &sel {
        x = s.apply(&x).map_err(|e| UsageError(e.to_string()))?;
    }
    let (x, axes) = squeezed(x)?;
    if axes == [0, 1] {
        check_2d(&name, &meta, sel.as_ref())?;
    }
    let (w, h) = a.size;
    let pixels = Layout::new(w, h).map_pixels();
    let field = field_of(ctx, &loc, &meta, &x, sel.as_ref(), axes, pixels)
        .with_context(|| format!("computing the slice of {} to draw", loc.display()))?;
    let png = render::render_png(&field, w, h)?;
    out.finish(&png)?;
    if field.range.is_none() {
        eprintln!("warning: every value of the slice is NaN; the map is all NaN grey");
    }
    let shape = x.shape();
    println!(
        "wrote {} ({w}x{h}): {}, {} x {} cells{}",
        a.out.display(),
        field.title,
        shape[0],
        shape[1],
        match field.values.dim() {
            (r, c) if (r, c) != (shape[0], shape[1]) => format!(", drawn as {r} x {c} block means"),
            _ => String::new(),
        }
    );
    Ok(())
}

/// A small PNG picture of the 2-D array at `loc` (a command's output), for the report;
/// `None` when it is not a 2-D numeric array.
///
/// # Errors
/// Reading or computing it fails.
pub(crate) fn thumbnail(ctx: &Ctx, loc: &Location) -> Result<Option<Vec<u8>>> {
    let meta = paths::probe(loc)?;
    if meta.shape.len() != 2 || meta.shape.contains(&0) || meta.dtype == DType::Bool {
        return Ok(None);
    }
    let x = open_f64(loc, &meta)?;
    let (w, h) = THUMBNAIL_SIZE;
    let field = field_of(
        ctx,
        loc,
        &meta,
        &x,
        None,
        [0, 1],
        Layout::new(w, h).map_pixels(),
    )?;
    Ok(Some(render::render_png(&field, w, h)?))
}

/// The array `path` names, or its variable `var` (`--var`): `store.zarr --var t2m` is
/// `store.zarr:/t2m`, `file.nc --var t2m` is `file.nc:/t2m`.
fn locate(path: &str, var: Option<&str>) -> Result<Location> {
    let Some(var) = var else {
        return paths::parse_input(path);
    };
    let var = var.trim_matches('/');
    if var.is_empty() {
        return Err(UsageError("--var: an empty variable name".into()).into());
    }
    let joined = if Path::new(path).exists() {
        format!("{path}:/{var}")
    } else {
        format!("{}/{var}", path.trim_end_matches('/'))
    };
    paths::parse_input(&joined)
}

/// The metadata of the array at `loc`; a group of variables given without `--var` is a
/// usage error that lists them.
fn probe_variable(loc: &Location, path: &str) -> Result<Meta> {
    let err = match paths::probe(loc) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    if let Location::Zarr { store, array } = loc {
        let dir = store.join(array.trim_matches('/'));
        if let Ok(ds) = Dataset::open(&dir) {
            let names = ds.names();
            if !names.is_empty() {
                return Err(UsageError(format!(
                    "{path} is a group: name the variable to draw with --var (its variables: \
                     {})",
                    names.join(", ")
                ))
                .into());
            }
        }
    }
    Err(err)
}

/// `t2m` for `store.zarr:/t2m`, `store.zarr/t2m` or `file.nc:/grp/t2m`.
fn variable_name(loc: &Location) -> String {
    let inner = match loc {
        Location::Zarr { store, array } if array.trim_matches('/').is_empty() => {
            return store
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| store.display().to_string());
        }
        Location::Zarr { array, .. } => array,
        Location::Hdf5 { dataset, .. } => dataset,
    };
    inner
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Refuses anything but a non-empty 2-D slice, naming its dimensions and shape and the
/// selection that would make it 2-D.
fn check_2d(name: &str, meta: &Meta, sel: Option<&Selection>) -> Result<()> {
    let m = sel.map_or(meta, |s| &s.meta);
    let dims = select::dim_names(m);
    let what = match sel {
        Some(s) => format!("{name} after {}", s.what),
        None => name.to_string(),
    };
    let n = dims.len();
    let described = format!(
        "{what} has {n} dimension{} ({}) of shape {}",
        if n == 1 { "" } else { "s" },
        dims.join(", "),
        list(&m.shape)
    );
    let msg = match n {
        2 if m.shape.contains(&0) => format!("{described}: there is nothing to draw"),
        2 => return Ok(()),
        0 => format!("{what} is a single value: plot draws a 2-D slice"),
        1 if sel.is_some() => format!(
            "{described}: plot draws a 2-D slice (a map); select fewer dimensions, keeping two"
        ),
        1 => format!(
            "{described}: plot draws 2-D slices (maps) of variables with 2 or more dimensions"
        ),
        _ => {
            let extra = &dims[..n - 2];
            let count = match extra.len() {
                1 => "one".to_string(),
                k => k.to_string(),
            };
            let isel: Vec<String> = extra.iter().map(|d| format!("{d}=0")).collect();
            format!(
                "{described}: plot draws a 2-D slice; select {count} with --isel {}",
                isel.join(",")
            )
        }
    };
    Err(UsageError(msg).into())
}

/// A slice of more than 2 dimensions of which all but two have length 1 (`--sel
/// time=2001-03-01` keeps its dimension), without them; and which axes of the slice the two
/// kept are (`[0, 1]` for a slice returned as it is).
fn squeezed(x: ChunkedArray<f64>) -> Result<(ChunkedArray<f64>, [usize; 2])> {
    let shape = x.shape().to_vec();
    let kept: Vec<usize> = (0..shape.len()).filter(|&k| shape[k] != 1).collect();
    if shape.len() <= 2 || kept.len() != 2 {
        return Ok((x, [0, 1]));
    }
    let elems: Vec<SliceInfoElem> = shape
        .iter()
        .map(|&n| {
            if n == 1 {
                SliceInfoElem::Index(0)
            } else {
                SliceInfoElem::from(..)
            }
        })
        .collect();
    Ok((x.slice(elems)?, [kept[0], kept[1]]))
}

/// The coordinates beside the array at `loc`, if its group can be read.
fn group_coords(loc: &Location) -> Option<Dataset> {
    Dataset::open(select::group_path(loc)?).ok()
}

/// `2001-01-01` (a time at midnight), `2001-01-01T06:00:00`, or a number.
fn label_at(values: &CoordValues, pos: usize) -> Option<String> {
    match values {
        CoordValues::Numbers(v) => v.get(pos).map(|x| format!("{x}")),
        CoordValues::Times { times, .. } => times.get(pos).map(|t| {
            let s = t.to_string();
            s.strip_suffix("T00:00:00").map(str::to_string).unwrap_or(s)
        }),
        CoordValues::Labels(v) => v.get(pos).cloned(),
    }
}

/// The field to draw from the 2-D array `x`: axes `axes` of the slice `sel` made of the
/// stored array at `loc` (described by `meta`; the slice's other axes have length 1): block
/// means sized to about `pixels` (across, down) computed in the runtime, with the slice's
/// range and its axes' coordinates.
fn field_of(
    ctx: &Ctx,
    loc: &Location,
    meta: &Meta,
    x: &ChunkedArray<f64>,
    sel: Option<&Selection>,
    axes: [usize; 2],
    pixels: (usize, usize),
) -> Result<Field> {
    let (ny, nx) = (x.shape()[0], x.shape()[1]);
    let fy = ny.div_ceil(pixels.1.max(1)).max(1);
    let fx = nx.div_ceil(pixels.0.max(1)).max(1);
    let coarse = if fy * fx > 1 {
        x.coarsen(&[fy, fx])
            .boundary(CoarsenBoundary::Pad)
            .nanmean()?
    } else {
        x.clone()
    };
    let (lo, hi) = (x.nanmin()?, x.nanmax()?);
    let outs = chunkwise::compute_all(&ctx.rt, &[&coarse, &lo, &hi])?;
    let values = outs[0].clone().into_dimensionality::<ndarray::Ix2>()?;
    let first = |a: &ndarray::ArrayD<f64>| a.iter().next().copied().unwrap_or(f64::NAN);
    let (lo, hi) = (first(&outs[1]), first(&outs[2]));
    let range = (!lo.is_nan() && !hi.is_nan()).then_some((lo, hi));

    // The axes: the coordinate of each kept input dimension at the positions kept.
    let ds = group_coords(loc);
    let coords = ds.as_ref().map(Dataset::coords);
    let input_dims = select::dim_names(meta);
    let input_axis = |a: usize| sel.map_or(a, |s| s.input_axis(a));
    let axis = |k: usize, factor: usize| {
        let ia = input_axis(axes[k]);
        let dim = &input_dims[ia];
        let n = x.shape()[k];
        let positions: Vec<usize> = match sel {
            Some(s) => s.picked(ia).to_vec(),
            None => (0..n).collect(),
        };
        let coord = coords
            .and_then(|c| c.get(dim))
            .filter(|c| c.len() == meta.shape[ia]);
        let values = coord
            .and_then(|c| c.as_numbers())
            .map(|v| positions.iter().map(|&p| v[p]).collect());
        let units = coord.and_then(|c| c.attrs.get("units").and_then(|u| u.as_str()));
        MapAxis::new(dim, units, values, n).coarsened(factor)
    };
    let y = axis(0, fy).downwards();
    let x_axis = axis(1, fx);

    // The words: the variable, what was selected, how it was downsampled.
    let name = variable_name(loc);
    let attr = |k: &str| meta.attributes.get(k).and_then(|v| v.as_str());
    let title = match attr("long_name").filter(|s| !s.is_empty()) {
        Some(long) if long != name => format!("{long} ({name})"),
        _ => name.clone(),
    };
    // The coordinate labels of the dimensions not drawn: those the selection dropped, and
    // those of length 1.
    let mut single: Vec<(usize, usize)> = sel.map_or_else(Vec::new, |s| s.dropped());
    let slice_ndim = sel.map_or(meta.shape.len(), |s| s.meta.shape.len());
    for a in (0..slice_ndim).filter(|a| !axes.contains(a)) {
        let ia = input_axis(a);
        let pos = sel.map_or(0, |s| s.picked(ia)[0]);
        single.push((ia, pos));
    }
    single.sort_unstable();
    let at: Vec<String> = single
        .iter()
        .filter_map(|&(ia, pos)| {
            let dim = &input_dims[ia];
            let c = coords?.get(dim).filter(|c| c.len() == meta.shape[ia])?;
            Some(format!("{dim} = {}", label_at(&c.values, pos)?))
        })
        .collect();
    let mut notes: Vec<String> = Vec::new();
    match (sel, at.is_empty()) {
        (Some(s), true) => notes.push(s.what.clone()),
        (Some(s), false) => notes.push(format!("{} ({})", at.join(", "), s.what)),
        (None, false) => notes.push(at.join(", ")),
        (None, true) => {}
    }
    if fy * fx > 1 {
        notes.push(format!("block means of {fy} x {fx} cells"));
    }
    if range.is_none() {
        notes.push("all values are NaN".into());
    }
    Ok(Field {
        values,
        y,
        x: x_axis,
        title,
        subtitle: notes.join("   "),
        units: attr("units").map(str::to_string),
        range,
    })
}

/// The `--out` picture: a hidden temporary file beside it, created before any work (so an
/// unwritable place is refused at once) and renamed into place only once complete.
struct PictureFile {
    path: PathBuf,
    tmp: PathBuf,
    done: bool,
}

impl PictureFile {
    fn create(path: &Path) -> Result<PictureFile> {
        let shown = path.display();
        if path.is_dir() {
            return Err(
                UsageError(format!("--out {shown} is a directory; name a .png file")).into(),
            );
        }
        let Some(file_name) = path.file_name() else {
            return Err(UsageError(format!("--out {shown}: name a .png file")).into());
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(UsageError(format!(
                "--out {shown}: the directory {} does not exist",
                dir.display()
            ))
            .into());
        }
        let tmp = dir.join(format!(
            ".{}.partial-{}",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        std::fs::File::create(&tmp)
            .map_err(|e| UsageError(format!("--out {shown}: cannot write there: {e}")))?;
        Ok(PictureFile {
            path: path.to_path_buf(),
            tmp,
            done: false,
        })
    }

    fn finish(mut self, bytes: &[u8]) -> Result<()> {
        let shown = self.path.display().to_string();
        std::fs::write(&self.tmp, bytes).with_context(|| format!("cannot write {shown}"))?;
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("cannot move the picture into {shown}"))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for PictureFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
