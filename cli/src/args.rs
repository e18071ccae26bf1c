//! Command-line arguments (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The default memory limit of every command.
pub(crate) const DEFAULT_MEMORY_LIMIT: &str = "1GiB";

const PATHS_HELP: &str = "\
PATHS:
  A Zarr array directory (dir.zarr/t2m, or a store whose root is an array), or a store and
  the array inside it: store.zarr:/group/array.
  An HDF5 or NetCDF4 file and the dataset inside it: file.nc:/group/var or file.nc:var
  (recognized by the extension .h5/.hdf5/.nc/.nc4/.he5 or by the HDF5 signature; needs a
  binary built with --features hdf5).

EXIT CODES:
  0 success, 1 runtime error (I/O, bad data, memory limit, ...), 2 usage error.";

/// Lazy chunked n-d arrays on Zarr and HDF5/NetCDF4 files, computed out of core within a
/// memory limit.
#[derive(Debug, Parser)]
#[command(name = "chunkwise", version, after_help = PATHS_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalOpts {
    /// Memory limit for blocks in flight (e.g. 512MiB, 2GB, 1.5GiB).
    #[arg(long, global = true, value_name = "SIZE", default_value = DEFAULT_MEMORY_LIMIT,
          value_parser = parse_memory)]
    pub memory_limit: usize,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Show a progress bar (the default when stderr is a terminal; plain percentage lines
    /// otherwise).
    #[arg(long, global = true, overrides_with = "no_progress")]
    pub progress: bool,
    /// Never show progress.
    #[arg(long, global = true, overrides_with = "progress")]
    pub no_progress: bool,
    /// Write an HTML report of the run (task stream per worker, tracked memory over time).
    #[arg(long, global = true, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Write the plan as Graphviz DOT.
    #[arg(long, global = true, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Where staged rechunks keep their intermediate arrays (default: the system temp
    /// directory, $TMPDIR or /tmp). Each run uses its own directory inside it and removes it
    /// when done; those of killed runs are removed by the next run.
    #[arg(long, global = true, value_name = "DIR")]
    pub scratch_dir: Option<PathBuf>,
    /// Where the computation runs: `local` (this process's threads), `processes` (worker
    /// subprocesses of this program, the same path as a cluster), `slurm` or `hyperqueue`.
    /// Any engine but local needs --work-dir.
    #[arg(long, global = true, value_name = "ENGINE", default_value = "local")]
    pub engine: String,
    /// The work directory of a non-local engine: plans, intermediate arrays, workers' logs
    /// and done-markers; a directory, or s3://BUCKET/PREFIX (a build with the `object-store`
    /// feature). Running the same command again with it resumes an interrupted run.
    #[arg(long, global = true, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// The local directory of the workers' logs and job scripts (default: inside --work-dir,
    /// or $TMPDIR/chunkwise-logs/HASH when --work-dir is an s3:// or gs:// URL). On a cluster
    /// it must be on storage the nodes share.
    #[arg(long, global = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Worker processes at a time (--engine processes; default: the number of CPUs).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// Tries of a failing batch before the run fails (non-local engines).
    #[arg(long, global = true, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub tries: u16,
    /// The work of one batch of a non-local engine (bytes read and written, e.g. 256MiB).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_memory)]
    pub batch_size: Option<usize>,
    /// Serve a live dashboard of the run (task stream, progress, memory, plan) at ADDR
    /// (default 127.0.0.1:8787, loopback; a bare port listens on loopback too) and print its
    /// link. After the run it stays up until Ctrl-C, unless --dashboard-exit is given. Needs a
    /// build with the `dashboard` feature.
    #[arg(long, global = true, value_name = "ADDR", num_args = 0..=1, require_equals = true,
          default_missing_value = "127.0.0.1:8787")]
    pub dashboard: Option<String>,
    /// With --dashboard: exit as soon as the run ends instead of waiting for Ctrl-C.
    #[arg(long, global = true, requires = "dashboard")]
    pub dashboard_exit: bool,
}

fn parse_memory(s: &str) -> Result<usize, String> {
    match chunkwise::parse_memory_size(s) {
        Ok(0) => Err("the memory limit must be > 0".into()),
        Ok(b) => Ok(b),
        Err(_) => Err(format!(
            "cannot parse {s:?} as a memory size; use e.g. 512MiB, 2GB, 1.5GiB or a byte count"
        )),
    }
}

/// A comma-separated list of sizes or axes (an alias, so clap does not read `Vec` as "many
/// occurrences").
pub(crate) type List = Vec<usize>;

/// Parses `4,5,6` (with optional spaces) into numbers.
fn parse_list(s: &str) -> Result<Vec<usize>, String> {
    s.split(',')
        .map(|p| {
            let p = p.trim();
            p.parse::<usize>()
                .map_err(|_| format!("{p:?} is not a non-negative integer (in {s:?})"))
        })
        .collect()
}

fn parse_chunks(s: &str) -> Result<Vec<usize>, String> {
    let v = parse_list(s)?;
    if v.contains(&0) {
        return Err(format!("chunk sizes must be >= 1 (got {s:?})"));
    }
    Ok(v)
}

/// An axis, by its 0-based number or by its dimension name (`time`), resolved through the
/// input's dimension names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AxisSpec {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for AxisSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AxisSpec::Index(i) => write!(f, "{i}"),
            AxisSpec::Name(n) => f.write_str(n),
        }
    }
}

/// A comma-separated list of axes (an alias, as [`List`]).
pub(crate) type Axes = Vec<AxisSpec>;

/// `2` or `time`.
fn parse_axis(s: &str) -> Result<AxisSpec, String> {
    let p = s.trim();
    if p.is_empty() {
        return Err("an empty axis: give a 0-based number or a dimension name".into());
    }
    if p.starts_with('-') || p.starts_with('+') {
        return Err(format!(
            "{p:?} is not an axis: give a 0-based number or a dimension name"
        ));
    }
    if p.bytes().all(|b| b.is_ascii_digit()) {
        return p
            .parse::<usize>()
            .map(AxisSpec::Index)
            .map_err(|_| format!("axis {p:?} is too large"));
    }
    Ok(AxisSpec::Name(p.to_string()))
}

/// `0,2` or `lat,lon` (numbers and names may mix).
fn parse_axes(s: &str) -> Result<Vec<AxisSpec>, String> {
    s.split(',')
        .map(|p| parse_axis(p).map_err(|e| format!("{e} (in {s:?})")))
        .collect()
}

/// One dimension's part of `--sel` / `--isel`: `DIM=A:B` (a range, both ends given) or
/// `DIM=A` (one value or position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DimSelection {
    pub dim: String,
    pub from: String,
    /// The end of a range; `None` for one value.
    pub to: Option<String>,
    /// The step of an `--isel` range (`DIM=A:B:S`).
    pub step: Option<String>,
}

/// A `--sel` / `--isel` argument: `DIM=SPEC` parts separated by commas.
pub(crate) type Selections = Vec<DimSelection>;

/// `lat=60:30,lon=0:40`, `time=2001-03:2001-05`, `time=2001-03-01T06:00..2001-03-02` (`..`
/// between the ends of times with hours), `lat=45`, `time=0:31`, `time=::7`.
fn parse_selections(s: &str) -> Result<Vec<DimSelection>, String> {
    let mut out: Vec<DimSelection> = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let Some((dim, spec)) = part.split_once('=') else {
            return Err(format!(
                "{part:?} is not DIM=VALUE or DIM=FROM:TO (in {s:?}), e.g. lat=60:30,time=2001-03"
            ));
        };
        let (dim, spec) = (dim.trim(), spec.trim());
        if dim.is_empty() || spec.is_empty() {
            return Err(format!(
                "{part:?} lacks a dimension name or a value (in {s:?}), e.g. lat=60:30"
            ));
        }
        if out.iter().any(|d| d.dim == dim) {
            return Err(format!("dimension {dim:?} is selected twice (in {s:?})"));
        }
        let pieces: Vec<&str> = if spec.contains("..") {
            spec.split("..").collect()
        } else {
            spec.split(':').collect()
        };
        let pieces: Vec<String> = pieces.iter().map(|p| p.trim().to_string()).collect();
        let (from, to, step) = match pieces.as_slice() {
            [one] => (one.clone(), None, None),
            [a, b] => (a.clone(), Some(b.clone()), None),
            [a, b, c] if !spec.contains("..") => (a.clone(), Some(b.clone()), Some(c.clone())),
            _ => {
                return Err(format!(
                    "{part:?}: too many `:` (in {s:?}); give DIM=FROM:TO (for times with hours, \
                     DIM=FROM..TO)"
                ));
            }
        };
        out.push(DimSelection {
            dim: dim.to_string(),
            from,
            to,
            step,
        });
    }
    Ok(out)
}

/// `--sel` and `--isel`: a selection applied, lazily, before the command's operation.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct SelectArgs {
    /// Select by coordinate label first (xarray's sel): DIM=FROM:TO, both ends included, in
    /// the coordinate's order (lat=60:30 on a descending latitude), or DIM=VALUE (an exact
    /// label; the dimension is dropped). Times by date strings: time=2001-03:2001-05 is March
    /// 1st to May 31st, time=2001-03 all of March (use `..` between times with hours:
    /// time=2001-03-01T06:00..2001-03-02). The coordinate is the 1-D array named like the
    /// dimension in the input's group. Only the chunks the selection covers are read.
    #[arg(long, value_name = "DIM=FROM:TO[,...]", value_parser = parse_selections)]
    pub sel: Option<Selections>,
    /// Select by position first (xarray's isel): DIM=START:STOP[:STEP] (0-based, STOP
    /// excluded, ends may be left out or negative, as Python's) or DIM=INDEX (the dimension is
    /// dropped). Axes given by number count the dimensions left after the selection.
    #[arg(long, value_name = "DIM=START:STOP[,...]", value_parser = parse_selections)]
    pub isel: Option<Selections>,
}

impl SelectArgs {
    /// Whether a selection was asked for.
    pub(crate) fn is_some(&self) -> bool {
        self.sel.is_some() || self.isel.is_some()
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Describe an array: format, shape, dtype, chunks, codecs/filters, fill value,
    /// dimension names and attributes.
    Info {
        /// The array.
        path: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Statistics over the whole array, computed out of core and skipping NaN: count,
    /// sum, min, max, mean, std (ddof 0).
    Stats {
        /// The array.
        path: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Reduce over axes and write the result to a Zarr array; with --group-by, --labels or
    /// --period, reduce each group of positions along one axis (xarray's groupby).
    Reduce {
        /// The reduction.
        #[arg(value_enum)]
        op: ReduceOp,
        /// Axes to reduce, comma-separated: 0-based numbers or dimension names (`time`,
        /// `lat,lon`); a grouped reduction takes one.
        #[arg(long, value_name = "A[,B...]", value_parser = parse_axes, required = true)]
        axis: Axes,
        /// Delta degrees of freedom of var/std.
        #[arg(long, default_value_t = 0.0)]
        ddof: f64,
        /// Keep reduced axes as length-1 axes.
        #[arg(long, conflicts_with_all = ["group_by", "labels", "period"])]
        keepdims: bool,
        #[command(flatten)]
        group: GroupArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// The input array.
        input: String,
        /// The output Zarr array: out.zarr:/name, or a directory that becomes the array.
        output: String,
        #[command(flatten)]
        zarr: ZarrOutOpts,
    },
    /// Reduce contiguous bins of positions along one axis (xarray's resample on positions:
    /// daily to weekly with --size 7) and write the result to a Zarr array.
    Resample {
        /// The reduction of each bin.
        #[arg(value_enum)]
        op: ReduceOp,
        /// The axis to bin: a 0-based number or a dimension name.
        #[arg(long, value_name = "A", value_parser = parse_axis)]
        axis: AxisSpec,
        /// Bins of N positions (the last may be shorter).
        #[arg(long, value_name = "N", value_parser = parse_positive,
              required_unless_present = "edges", conflicts_with = "edges")]
        size: Option<usize>,
        /// Bin k holds positions E[k]..E[k+1]: strictly increasing positions, comma-separated;
        /// positions before the first edge or from the last one on are left out.
        #[arg(long, value_name = "E0,E1,...", value_parser = parse_list)]
        edges: Option<List>,
        /// Delta degrees of freedom of var/std.
        #[arg(long, default_value_t = 0.0)]
        ddof: f64,
        #[command(flatten)]
        select: SelectArgs,
        /// The input array.
        input: String,
        /// The output Zarr array: out.zarr:/name, or a directory that becomes the array.
        output: String,
        #[command(flatten)]
        zarr: ZarrOutOpts,
    },
    /// A moving-window reduction along one axis (xarray's rolling: NaN skipped, NaN where a
    /// window has fewer than --min-periods values), written to a Zarr array of the input's
    /// shape.
    Rolling {
        /// The reduction of each window.
        #[arg(value_enum)]
        op: RollingOp,
        /// The axis the window moves along: a 0-based number or a dimension name.
        #[arg(long, value_name = "A", value_parser = parse_axis)]
        axis: AxisSpec,
        /// Window length in positions (1 to the axis length).
        #[arg(long, value_name = "N")]
        window: usize,
        /// Label each window at its centre instead of its end.
        #[arg(long)]
        center: bool,
        /// Non-NaN values a window needs for a result (1 to the window; default: the window).
        #[arg(long, value_name = "M")]
        min_periods: Option<usize>,
        #[command(flatten)]
        select: SelectArgs,
        /// The input array.
        input: String,
        /// The output Zarr array: out.zarr:/name, or a directory that becomes the array.
        output: String,
        #[command(flatten)]
        zarr: ZarrOutOpts,
    },
    /// Write the array with new chunks (Zarr or HDF5 in, Zarr out).
    Rechunk {
        /// The new chunk shape, one size per axis.
        #[arg(long, value_name = "C1,C2,...", value_parser = parse_chunks)]
        chunks: List,
        /// The input array.
        input: String,
        /// The output Zarr array: out.zarr:/name, or a directory that becomes the array.
        output: String,
        #[command(flatten)]
        zarr: ZarrOutOpts,
    },
    /// Convert between HDF5/NetCDF4 and Zarr (either way; also Zarr to Zarr). Values,
    /// dtype, chunks, dimension names and (to Zarr) attributes are kept.
    Convert {
        /// The input array.
        input: String,
        /// The output: a Zarr array (out.zarr:/name or a directory) or an HDF5 dataset
        /// (out.h5:/name).
        output: String,
        /// Chunk shape of the output (default: the input's).
        #[arg(long, value_name = "C1,C2,...", value_parser = parse_chunks)]
        chunks: Option<List>,
        #[command(flatten)]
        zarr: ZarrOutOpts,
    },
    /// Draw a 2-D slice as a PNG map (viridis, a colour bar with the units, coordinates on
    /// the axes, NaN in light grey). Larger arrays are downsampled lazily to the pixel grid by
    /// NaN-skipping block means, within the memory limit.
    Plot {
        /// The array, or a store / NetCDF4 file with --var.
        path: String,
        /// The variable to draw, inside PATH (a Zarr group or a NetCDF4 file).
        #[arg(long, value_name = "NAME")]
        var: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
        /// The PNG file to write.
        #[arg(long, value_name = "FILE.png")]
        out: PathBuf,
        /// The picture's size in pixels, WIDTHxHEIGHT (200x150 to 8000x8000).
        #[arg(long, value_name = "WxH", default_value = "800x500", value_parser = parse_size)]
        size: (u32, u32),
    },
    /// Print how --engine would run a reduction over axes (with --anomaly, the reduction of
    /// `x - mean(x, axes)`): per stage its tasks, batches, bytes read and intermediate bytes
    /// written, and for --engine slurm the `sbatch --array` submissions and `--mem`; totals
    /// last. Reads only metadata and submits nothing (--dry-run; `chunkwise reduce` runs it).
    Plan {
        /// The reduction.
        #[arg(value_enum)]
        op: ReduceOp,
        /// Axes to reduce, comma-separated: 0-based numbers or dimension names.
        #[arg(long, value_name = "A[,B...]", value_parser = parse_axes, required = true)]
        axis: Axes,
        /// Delta degrees of freedom of var/std.
        #[arg(long, default_value_t = 0.0)]
        ddof: f64,
        /// Reduce the anomaly `x - mean(x, axes)` instead of `x`.
        #[arg(long)]
        anomaly: bool,
        /// Only print the plan: the one mode of `plan`, accepted for clarity.
        #[arg(long)]
        dry_run: bool,
        /// Elements per Slurm array (the cluster's MaxArraySize).
        #[arg(long, value_name = "N", default_value_t = 1001,
              value_parser = clap::value_parser!(u32).range(1..))]
        max_array_size: u32,
        /// The input array.
        input: String,
    },
    /// Run standard in-memory workloads with chunkwise, ndarray and ndarray + rayon, and
    /// print times, ratios and peak tracked bytes.
    Bench {
        /// Print JSON (a list of objects).
        #[arg(long)]
        json: bool,
        /// Smaller sizes (2048² instead of 8192²), for tests and a quick look.
        #[arg(long)]
        quick: bool,
    },
}

/// The groups of a grouped `reduce`: at most one of the three.
#[derive(Debug, Args, Clone, Default)]
#[group(multiple = false)]
pub(crate) struct GroupArgs {
    /// Group by a calendar field of the axis' CF time coordinate: the 1-D array beside the
    /// input named by the axis' dimension name, else `time`, decoded with its `units` and
    /// `calendar` attributes. Seasons are DJF, JJA, MAM, SON (xarray's order).
    #[arg(long, value_enum, value_name = "FIELD")]
    pub group_by: Option<TimeField>,
    /// Group by the labels in FILE: one integer per position along the axis, as text (one
    /// per line; blank lines and lines starting with # are skipped) or a .npy file of a 1-D
    /// integer array.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Group position i by i % N (e.g. 12 for the months of monthly data from January).
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub period: Option<usize>,
}

impl GroupArgs {
    /// Whether a grouping was asked for.
    pub(crate) fn is_some(&self) -> bool {
        self.group_by.is_some() || self.labels.is_some() || self.period.is_some()
    }
}

/// A calendar field of a CF time coordinate, as xarray's `time.month`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TimeField {
    Month,
    Season,
    Year,
    Dayofyear,
}

impl TimeField {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimeField::Month => "month",
            TimeField::Season => "season",
            TimeField::Year => "year",
            TimeField::Dayofyear => "dayofyear",
        }
    }
}

/// `800x500`.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?} is not WIDTHxHEIGHT in pixels, e.g. 800x500");
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (
        w.trim().parse().map_err(|_| bad())?,
        h.trim().parse().map_err(|_| bad())?,
    );
    if !(200..=8000).contains(&w) || !(150..=8000).contains(&h) {
        return Err(format!(
            "{w}x{h} is out of range: width 200 to 8000, height 150 to 8000 pixels"
        ));
    }
    Ok((w, h))
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be >= 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a positive integer")),
    }
}

/// How outputs are written.
#[derive(Debug, Args, Clone)]
pub(crate) struct ZarrOutOpts {
    /// Replace an existing output array.
    #[arg(long)]
    pub overwrite: bool,
    /// Zarr format of Zarr outputs.
    #[arg(long, value_name = "2|3", default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub zarr_format: u8,
    /// Compression of outputs: zstd level (1..=22) for Zarr, gzip level (0..=9) for HDF5; 0
    /// for none.
    #[arg(long, value_name = "LEVEL", default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=22))]
    pub compression_level: u8,
}

/// A reduction of `chunkwise reduce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReduceOp {
    Sum,
    Mean,
    Min,
    Max,
    Std,
    Var,
    Nansum,
    Nanmean,
    Nanmin,
    Nanmax,
    Nanstd,
    Nanvar,
}

impl ReduceOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
            ReduceOp::Std => "std",
            ReduceOp::Var => "var",
            ReduceOp::Nansum => "nansum",
            ReduceOp::Nanmean => "nanmean",
            ReduceOp::Nanmin => "nanmin",
            ReduceOp::Nanmax => "nanmax",
            ReduceOp::Nanstd => "nanstd",
            ReduceOp::Nanvar => "nanvar",
        }
    }
}

/// A moving-window reduction of `chunkwise rolling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RollingOp {
    Mean,
    Sum,
    Min,
    Max,
    Std,
    Var,
}

impl RollingOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RollingOp::Mean => "mean",
            RollingOp::Sum => "sum",
            RollingOp::Min => "min",
            RollingOp::Max => "max",
            RollingOp::Std => "std",
            RollingOp::Var => "var",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lists() {
        assert_eq!(parse_chunks("4, 5,6").unwrap(), vec![4, 5, 6]);
        assert!(parse_chunks("4,0").is_err());
        assert!(parse_chunks("4,x").is_err());
        assert_eq!(parse_memory("512MiB").unwrap(), 512 << 20);
        assert!(parse_memory("lots").is_err());
        assert_eq!(parse_positive("12").unwrap(), 12);
        assert!(parse_positive("0").is_err());
        assert!(parse_positive("-3").is_err());
        assert_eq!(parse_size("800x500").unwrap(), (800, 500));
        assert_eq!(parse_size(" 1024X768 ").unwrap(), (1024, 768));
        for bad in [
            "800", "x500", "800x", "100x500", "800x100", "9000x500", "axb",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn axes_and_selections() {
        assert_eq!(
            parse_axes("0, lat").unwrap(),
            vec![AxisSpec::Index(0), AxisSpec::Name("lat".into())]
        );
        assert!(parse_axes("-1").is_err());
        assert!(parse_axes("time,").is_err());
        let s = parse_selections("lat=60:30, time=2001-03").unwrap();
        assert_eq!(
            (s[0].dim.as_str(), s[0].from.as_str(), s[0].to.as_deref()),
            ("lat", "60", Some("30"))
        );
        assert_eq!((s[1].from.as_str(), s[1].to.as_deref()), ("2001-03", None));
        let t = parse_selections("time=2001-03-01T06:00..2001-03-02").unwrap();
        assert_eq!(t[0].to.as_deref(), Some("2001-03-02"));
        let i = parse_selections("time=::7").unwrap();
        assert_eq!(i[0].step.as_deref(), Some("7"));
        for bad in ["lat", "=3", "lat=", "lat=1:2,lat=3", "a=1:2:3:4"] {
            assert!(parse_selections(bad).is_err(), "{bad}");
        }
    }
}
