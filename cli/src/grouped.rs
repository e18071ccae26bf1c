//! `reduce --group-by/--labels/--period` (xarray's `groupby(...).OP()`), `resample` and
//! `rolling`: reductions along one axis that keep it, by groups, bins or moving windows.

use crate::args::{AxisSpec, GroupArgs, ReduceOp, RollingOp, SelectArgs, TimeField, ZarrOutOpts};
use crate::commands::{Derived, NumericJob, Target, Written, list, open_f64, raw};
use crate::paths::{self, Location, Meta};
use crate::{Ctx, UsageError};
use anyhow::{Context, Result};
use chunkwise::time::{CfDateTime, Season, TimeCoder};
use chunkwise::{Bins, ChunkedArray, GroupBy, Numeric};
use serde_json::{Value, json};
use std::path::Path;

/// The seasons in xarray's order (sorted by name): season labels are their positions here.
const SEASONS: [&str; 4] = ["DJF", "JJA", "MAM", "SON"];

pub(crate) struct GroupedArgs<'a> {
    pub op: ReduceOp,
    pub axes: &'a [AxisSpec],
    pub ddof: f64,
    pub group: &'a GroupArgs,
    pub select: &'a SelectArgs,
}

pub(crate) struct ResampleArgs<'a> {
    pub op: ReduceOp,
    pub axis: &'a AxisSpec,
    pub size: Option<usize>,
    pub edges: Option<&'a [usize]>,
    pub ddof: f64,
    pub select: &'a SelectArgs,
}

pub(crate) struct RollingArgs<'a> {
    pub op: RollingOp,
    pub axis: &'a AxisSpec,
    pub select: &'a SelectArgs,
    pub window: usize,
    pub center: bool,
    pub min_periods: Option<usize>,
}

/// The labels of a grouping along one axis, and how its groups are named in the output.
struct Grouping {
    labels: Vec<i64>,
    /// The name of the grouped axis in the output (`month`, ..., `group`).
    dim: String,
    /// What the groups are, for the history attribute.
    what: String,
    /// Season labels are written by name.
    seasons: bool,
}

impl Grouping {
    /// The output's `chunkwise_groups` attribute: the group of each position along the
    /// grouped axis.
    fn groups_json(&self, groups: &[i64]) -> Value {
        if self.seasons {
            json!(
                groups
                    .iter()
                    .map(|&g| SEASONS[g as usize])
                    .collect::<Vec<_>>()
            )
        } else {
            json!(groups)
        }
    }
}

fn only_var_std_take_ddof(op: ReduceOp, ddof: f64) -> Result<()> {
    let var_std = matches!(
        op,
        ReduceOp::Var | ReduceOp::Std | ReduceOp::Nanvar | ReduceOp::Nanstd
    );
    if ddof != 0.0 && !var_std {
        return Err(UsageError(format!(
            "--ddof {ddof} applies to var and std only, not to {}",
            op.name()
        ))
        .into());
    }
    Ok(())
}

/// The reduction `op` of every group of `gb`, written to `t`.
fn reduce_groups<T: Numeric>(
    gb: &GroupBy<T>,
    op: ReduceOp,
    ddof: f64,
    t: &Target<'_>,
) -> Result<Written> {
    match op {
        ReduceOp::Sum => t.write(gb.sum()),
        ReduceOp::Nansum => t.write(gb.nansum()),
        ReduceOp::Mean => t.write(gb.mean()),
        ReduceOp::Nanmean => t.write(gb.nanmean()),
        ReduceOp::Min => t.write(gb.min()),
        ReduceOp::Nanmin => t.write(gb.nanmin()),
        ReduceOp::Max => t.write(gb.max()),
        ReduceOp::Nanmax => t.write(gb.nanmax()),
        ReduceOp::Var => t.write(gb.var_ddof(ddof)),
        ReduceOp::Nanvar => t.write(gb.nanvar_ddof(ddof)),
        ReduceOp::Std => t.write(gb.std_ddof(ddof)),
        ReduceOp::Nanstd => t.write(gb.nanstd_ddof(ddof)),
    }
}

/// The output's dimension names: the input's, with the grouped axis named `dim` (when given).
fn renamed_dims(meta: &Meta, axis: usize, dim: Option<&str>) -> Option<Vec<Option<String>>> {
    let mut names = meta
        .dimension_names
        .clone()
        .unwrap_or_else(|| vec![None; meta.shape.len()]);
    if let Some(dim) = dim {
        names[axis] = Some(dim.to_string());
    }
    names.iter().any(Option::is_some).then_some(names)
}

/// Groups along `axis` and reduces: what `reduce` and `resample` share. `group` makes the
/// grouping of the typed input (labels or bins); the groups go into the output's attributes.
struct GroupJob<'a, G> {
    op: ReduceOp,
    ddof: f64,
    t: Target<'a>,
    group: G,
    /// The output's `chunkwise_groups` from the grouping's sorted groups.
    groups_json: &'a dyn Fn(&[i64]) -> Value,
}

/// How a [`GroupJob`] groups the typed input.
trait MakeGroups {
    fn make<T: Numeric>(&self, x: &ChunkedArray<T>) -> chunkwise::Result<GroupBy<T>>;
}

struct ByLabels<'a> {
    axis: usize,
    labels: &'a [i64],
}

impl MakeGroups for ByLabels<'_> {
    fn make<T: Numeric>(&self, x: &ChunkedArray<T>) -> chunkwise::Result<GroupBy<T>> {
        x.groupby(self.axis, self.labels)
    }
}

struct ByBins {
    axis: usize,
    bins: Bins,
}

impl MakeGroups for ByBins {
    fn make<T: Numeric>(&self, x: &ChunkedArray<T>) -> chunkwise::Result<GroupBy<T>> {
        x.resample(self.axis, self.bins.clone())
    }
}

impl<G: MakeGroups> NumericJob for GroupJob<'_, G> {
    fn run<T: Numeric>(&self, x: &ChunkedArray<T>) -> Result<Written> {
        let gb = self.group.make(x).map_err(|e| UsageError(e.to_string()))?;
        let mut t = self.t.clone();
        t.desc
            .attributes
            .insert("chunkwise_groups".into(), (self.groups_json)(gb.groups()));
        let written = reduce_groups(&gb, self.op, self.ddof, &t)?;
        println!(
            "{} groups along axis {} ({})",
            gb.ngroups(),
            gb.axis(),
            gb.strategy()
        );
        Ok(written)
    }
}

pub(crate) fn reduce(
    ctx: &Ctx,
    a: &GroupedArgs<'_>,
    input: &str,
    output: &str,
    o: &ZarrOutOpts,
) -> Result<()> {
    let d = Derived::open(ctx, "reduce", input, output, a.axes, a.select)?;
    let &[axis] = d.axes.as_slice() else {
        return Err(UsageError(format!(
            "a grouped reduction takes one --axis (the axis whose positions are grouped), not {}",
            list(&d.axes)
        ))
        .into());
    };
    only_var_std_take_ddof(a.op, a.ddof)?;
    // The labels of the stored positions, then of those the selection keeps.
    let (in_axis, kept) = match &d.selection {
        Some(s) => {
            let k = s.input_axis(axis);
            (k, Some(s.picked(k)))
        }
        None => (axis, None),
    };
    let mut grouping = grouping(ctx, &d.loc, &d.input_meta, in_axis, a.group)?;
    if let Some(kept) = kept {
        grouping.labels = kept.iter().map(|&p| grouping.labels[p]).collect();
    }
    let history = d.history(format!(
        "{} over axis {axis} of {} grouped by {}",
        a.op.name(),
        d.loc.display(),
        grouping.what
    ));
    let dims = renamed_dims(&d.meta, axis, Some(&grouping.dim));
    let groups_json = |g: &[i64]| grouping.groups_json(g);
    let job = GroupJob {
        op: a.op,
        ddof: a.ddof,
        t: d.target(ctx, o, dims, history)?,
        group: ByLabels {
            axis,
            labels: &grouping.labels,
        },
        groups_json: &groups_json,
    };
    d.run("reduce", &job)
}

/// The grouping `g` asks for along `axis` of the input.
fn grouping(
    ctx: &Ctx,
    loc: &Location,
    meta: &Meta,
    axis: usize,
    g: &GroupArgs,
) -> Result<Grouping> {
    let len = meta.shape[axis];
    if let Some(field) = g.group_by {
        let (labels, coord) = time_labels(ctx, loc, meta, axis, field)?;
        return Ok(Grouping {
            labels,
            dim: field.name().to_string(),
            what: format!("{}.{} (from {coord})", coord_name(&coord), field.name()),
            seasons: field == TimeField::Season,
        });
    }
    if let Some(file) = &g.labels {
        return Ok(Grouping {
            labels: file_labels(file, len, axis, loc)?,
            dim: "group".into(),
            what: format!("the labels of {}", file.display()),
            seasons: false,
        });
    }
    let n = g.period.expect("clap requires one of the grouping flags");
    Ok(Grouping {
        labels: (0..len).map(|i| (i % n) as i64).collect(),
        dim: "group".into(),
        what: format!("position % {n}"),
        seasons: false,
    })
}

/// The last component of a location's display (`store:/time` → `time`).
fn coord_name(display: &str) -> &str {
    display.rsplit(['/', ':']).next().unwrap_or(display)
}

/// The `field` of every step along `axis`, from the input's CF time coordinate: the 1-D
/// array of the axis' length beside the input named by the axis' dimension name, else
/// `time`. Also returns where the coordinate was found.
fn time_labels(
    ctx: &Ctx,
    loc: &Location,
    meta: &Meta,
    axis: usize,
    field: TimeField,
) -> Result<(Vec<i64>, String)> {
    let len = meta.shape[axis];
    let dim = meta
        .dimension_names
        .as_ref()
        .and_then(|n| n.get(axis).cloned().flatten());
    let mut names: Vec<String> = dim.into_iter().collect();
    if !names.iter().any(|n| n == "time") {
        names.push("time".into());
    }
    let found = names.iter().find_map(|name| {
        let c = loc.sibling(name)?;
        let m = paths::probe(&c).ok()?;
        (m.shape == [len]).then_some((c, m))
    });
    let flag = format!("--group-by {}", field.name());
    let Some((cloc, cmeta)) = found else {
        let beside = if loc.sibling("time").is_none() {
            " (it is the root of its store, with nothing beside it)".to_string()
        } else {
            String::new()
        };
        return Err(UsageError(format!(
            "{flag}: {} has no time coordinate for axis {axis}: no 1-D array of length {len} \
             named {} beside it{beside}; give the groups with --labels FILE or --period N",
            loc.display(),
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ))
        .into());
    };
    let shown = cloc.display();
    let attr = |k: &str| cmeta.attributes.get(k).and_then(Value::as_str);
    let Some(units) = attr("units") else {
        return Err(UsageError(format!(
            "{flag}: {shown} has no `units` attribute (such as \"days since 2000-01-01\"), so \
             it is not a CF time coordinate; give the groups with --labels FILE or --period N"
        ))
        .into());
    };
    let coder = TimeCoder::new(units, attr("calendar"))
        .with_context(|| format!("{flag}: cannot decode the time coordinate {shown}"))?;
    let decoded = if cmeta.dtype == chunkwise::DType::I64 {
        let v = paths::open::<i64>(&cloc, &raw())?.compute(&ctx.rt)?;
        coder.decode_i64(&v.iter().copied().collect::<Vec<_>>())
    } else {
        let v = open_f64(&cloc, &cmeta)?.compute(&ctx.rt)?;
        coder.decode(&v.iter().copied().collect::<Vec<_>>())
    };
    let times = decoded.with_context(|| format!("{flag}: cannot decode the times of {shown}"))?;
    let labels = times.iter().map(|t| field_of(t, field, coder)).collect();
    Ok((labels, shown))
}

/// A calendar field of one time, as an integer label (seasons: their position in
/// [`SEASONS`]).
fn field_of(t: &CfDateTime, field: TimeField, coder: TimeCoder) -> i64 {
    match field {
        TimeField::Month => i64::from(t.month),
        TimeField::Year => i64::from(t.year),
        TimeField::Dayofyear => i64::from(t.dayofyear(coder.calendar)),
        TimeField::Season => {
            let name = Season::from_month(t.month).as_str();
            SEASONS.iter().position(|s| *s == name).unwrap_or_default() as i64
        }
    }
}

/// The integer labels in `file` (a `.npy` of integers, else text with one per line), which
/// must be one per position along `axis`.
fn file_labels(file: &Path, len: usize, axis: usize, loc: &Location) -> Result<Vec<i64>> {
    let shown = file.display();
    let bytes =
        std::fs::read(file).with_context(|| format!("cannot read the labels file {shown}"))?;
    let labels = if bytes.starts_with(NPY_MAGIC) {
        npy_labels(&bytes, &shown.to_string())?
    } else {
        text_labels(&bytes, &shown.to_string())?
    };
    if labels.len() != len {
        return Err(UsageError(format!(
            "{shown} holds {} labels, but axis {axis} of {} has {len} positions: give one \
             label per position",
            labels.len(),
            loc.display()
        ))
        .into());
    }
    Ok(labels)
}

/// The start of every `.npy` file.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// The labels of a `.npy` file (NumPy's format 1.0 to 3.0) holding a 1-D array of integers.
fn npy_labels(bytes: &[u8], shown: &str) -> Result<Vec<i64>> {
    let bad = |why: String| -> anyhow::Error { UsageError(format!("{shown}: {why}")).into() };
    let (header_len, start) = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        Some(2 | 3) if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => {
            return Err(bad(
                "not a .npy file of a version this reads (1.0 to 3.0)".into()
            ));
        }
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("its .npy header is cut short or not text".into()))?;
    // The header is a Python dict literal: {'descr': '<i8', 'fortran_order': False, 'shape': (60,), }
    let field = |key: &str| -> Option<&str> {
        let rest = &header[header.find(&format!("'{key}':"))? + key.len() + 3..];
        Some(rest.trim_start())
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\'')?.split('\'').next())
        .ok_or_else(|| bad(format!("no dtype ('descr') in its .npy header {header:?}")))?;
    let shape = field("shape")
        .and_then(|r| r.strip_prefix('(')?.split(')').next())
        .ok_or_else(|| bad(format!("no 'shape' in its .npy header {header:?}")))?;
    let dims: Vec<&str> = shape
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let n = match dims.as_slice() {
        [n] => n.parse::<usize>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        bad(format!(
            "the labels must be a 1-D array, not of shape ({shape})"
        ))
    })?;
    let (size, signed) = match descr.trim_start_matches(['<', '|', '=']) {
        "i1" => (1, true),
        "i2" => (2, true),
        "i4" => (4, true),
        "i8" => (8, true),
        "u1" => (1, false),
        "u2" => (2, false),
        "u4" => (4, false),
        "u8" => (8, false),
        _ => {
            return Err(bad(format!(
                "the labels must be little-endian integers, not dtype {descr:?}"
            )));
        }
    };
    let data = &bytes[start + header_len..];
    if data.len() != n * size {
        return Err(bad(format!(
            "{} data bytes for {n} values of {descr:?}",
            data.len()
        )));
    }
    data.chunks_exact(size)
        .map(|b| {
            let mut w = [0u8; 8];
            w[..size].copy_from_slice(b);
            let v = u64::from_le_bytes(w);
            if signed {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * size as u32;
                Ok(((v << shift) as i64) >> shift)
            } else {
                i64::try_from(v).map_err(|_| bad(format!("label {v} does not fit in an i64")))
            }
        })
        .collect()
}

/// The labels of a text file: one integer per line; blank lines and `#` comments skipped.
fn text_labels(bytes: &[u8], shown: &str) -> Result<Vec<i64>> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        UsageError(format!(
            "{shown}: neither text (one integer per line) nor a .npy file"
        ))
    })?;
    let mut labels = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let label = line.parse::<i64>().map_err(|_| {
            UsageError(format!(
                "{shown}:{}: {line:?} is not an integer label (one integer per line)",
                n + 1
            ))
        })?;
        labels.push(label);
    }
    Ok(labels)
}

// ---------------------------------------------------------------------------------------
// resample

pub(crate) fn resample(
    ctx: &Ctx,
    a: &ResampleArgs<'_>,
    input: &str,
    output: &str,
    o: &ZarrOutOpts,
) -> Result<()> {
    let d = Derived::open(
        ctx,
        "resample",
        input,
        output,
        std::slice::from_ref(a.axis),
        a.select,
    )?;
    let axis = d.axes[0];
    only_var_std_take_ddof(a.op, a.ddof)?;
    let (bins, what) = match (a.size, a.edges) {
        (Some(n), _) => (Bins::Size(n), format!("bins of {n} positions")),
        (None, Some(e)) => (Bins::Edges(e.to_vec()), format!("bins with edges {e:?}")),
        (None, None) => unreachable!("clap requires --size or --edges"),
    };
    let history = d.history(format!(
        "{} over {what} along axis {axis} of {}",
        a.op.name(),
        d.loc.display()
    ));
    let dims = renamed_dims(&d.meta, axis, None);
    let groups_json = |g: &[i64]| json!(g);
    let job = GroupJob {
        op: a.op,
        ddof: a.ddof,
        t: d.target(ctx, o, dims, history)?,
        group: ByBins { axis, bins },
        groups_json: &groups_json,
    };
    d.run("resample", &job)
}

// ---------------------------------------------------------------------------------------
// rolling

struct RollingJob<'a> {
    a: &'a RollingArgs<'a>,
    axis: usize,
    t: Target<'a>,
}

impl NumericJob for RollingJob<'_> {
    fn run<T: Numeric>(&self, x: &ChunkedArray<T>) -> Result<Written> {
        let a = self.a;
        let mut r = x.rolling(self.axis, a.window).center(a.center);
        if let Some(m) = a.min_periods {
            r = r.min_periods(m);
        }
        self.t.write(match a.op {
            RollingOp::Mean => r.mean(),
            RollingOp::Sum => r.sum(),
            RollingOp::Min => r.min(),
            RollingOp::Max => r.max(),
            RollingOp::Std => r.std(),
            RollingOp::Var => r.var(),
        })
    }
}

pub(crate) fn rolling(
    ctx: &Ctx,
    a: &RollingArgs<'_>,
    input: &str,
    output: &str,
    o: &ZarrOutOpts,
) -> Result<()> {
    let d = Derived::open(
        ctx,
        "rolling",
        input,
        output,
        std::slice::from_ref(a.axis),
        a.select,
    )?;
    let axis = d.axes[0];
    let history = d.history(format!(
        "rolling {} over windows of {}{}{} along axis {} of {}",
        a.op.name(),
        a.window,
        if a.center { ", centred" } else { "" },
        a.min_periods
            .map(|m| format!(", min_periods {m}"))
            .unwrap_or_default(),
        axis,
        d.loc.display()
    ));
    let t = d.target(ctx, o, d.meta.dimension_names.clone(), history)?;
    d.run("rolling", &RollingJob { a, axis, t })
}
