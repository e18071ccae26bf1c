//! `info`, `stats`, `reduce`, `rechunk` and `convert`, and what the commands that write a
//! derived array share (see also `grouped`).

use crate::args::{AxisSpec, ReduceOp, SelectArgs, ZarrOutOpts};
use crate::paths::{self, Location, Meta};
use crate::select::{self, Selection};
use crate::{Ctx, UsageError};
use anyhow::{Context, Result, anyhow, bail};
use chunkwise::io::cf::CfDecode;
use chunkwise::io::zarr::{ZarrCompression, ZarrFormat, ZarrWriteOptions};
use chunkwise::{ChunkedArray, Element, Numeric, OpenOptions, RunReport};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Attributes that describe an encoding (CF packing); dropped when the values written are
/// decoded ones.
const CF_ENCODING_ATTRS: &[&str] = &[
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "valid_range",
    "valid_min",
    "valid_max",
    "_Unsigned",
];

/// Open options that keep the stored values (no CF decoding).
pub(crate) fn raw() -> OpenOptions {
    OpenOptions {
        decode_cf: false,
        ..OpenOptions::default()
    }
}

pub(crate) fn unsupported(meta: &Meta, what: &str) -> anyhow::Error {
    anyhow!("{what}: element type {} is not supported", meta.dtype)
}

pub(crate) fn list(v: &[usize]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("({})", parts.join(", "))
}

// ---------------------------------------------------------------------------------------
// info

pub(crate) fn info(_ctx: &Ctx, path: &str, as_json: bool) -> Result<()> {
    let loc = paths::parse_input(path)?;
    let m = paths::probe(&loc)?;
    let nbytes = m.shape.iter().product::<usize>() * m.dtype.size();
    if as_json {
        let (fmt, version) = match &loc {
            Location::Zarr { .. } => ("zarr", m.format.trim_start_matches("Zarr v").to_string()),
            Location::Hdf5 { .. } => ("hdf5", String::new()),
        };
        let mut o = Map::new();
        o.insert("path".into(), json!(loc.display()));
        o.insert("format".into(), json!(m.format));
        o.insert("container".into(), json!(fmt));
        if let Ok(v) = version.parse::<u8>() {
            o.insert("zarr_format".into(), json!(v));
        }
        o.insert("shape".into(), json!(m.shape));
        o.insert("dtype".into(), json!(m.dtype.numpy_name()));
        o.insert("chunks".into(), json!(m.chunks));
        if let Some(inner) = &m.inner_chunks {
            o.insert("inner_chunks".into(), json!(inner));
        }
        o.insert("codecs".into(), json!(m.codecs));
        o.insert("fill_value".into(), m.fill_value.clone());
        o.insert("dimension_names".into(), json!(m.dimension_names));
        o.insert("attributes".into(), Value::Object(m.attributes.clone()));
        o.insert("nbytes".into(), json!(nbytes));
        println!("{}", serde_json::to_string_pretty(&Value::Object(o))?);
        return Ok(());
    }
    println!("path:        {}", loc.display());
    println!("format:      {}", m.format);
    println!("shape:       {}", list(&m.shape));
    println!("dtype:       {}", m.dtype.numpy_name());
    println!(
        "chunks:      {}",
        match &m.chunks {
            Some(c) => list(c),
            None => "contiguous".into(),
        }
    );
    if let Some(inner) = &m.inner_chunks {
        println!("inner:       {} (sharded)", list(inner));
    }
    println!("size:        {} ({nbytes} bytes)", human_bytes(nbytes),);
    if m.codecs.is_empty() {
        println!("codecs:      none");
    } else {
        let label = if loc.is_hdf5() { "filters:" } else { "codecs:" };
        for (i, c) in m.codecs.iter().enumerate() {
            println!("{:<13}{c}", if i == 0 { label } else { "" });
        }
    }
    println!("fill value:  {}", m.fill_value);
    if let Some(names) = &m.dimension_names {
        let names: Vec<&str> = names.iter().map(|n| n.as_deref().unwrap_or("-")).collect();
        println!("dimensions:  {}", names.join(", "));
    }
    if m.attributes.is_empty() {
        println!("attributes:  none");
    } else {
        println!("attributes:");
        for (k, v) in &m.attributes {
            println!("  {k}: {v}");
        }
    }
    Ok(())
}

pub(crate) fn human_bytes(b: usize) -> String {
    let f = b as f64;
    if f >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", f / (1u64 << 30) as f64)
    } else if f >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", f / (1u64 << 20) as f64)
    } else if f >= 1024.0 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        format!("{b} B")
    }
}

// ---------------------------------------------------------------------------------------
// stats

/// Opens the array as `f64`: CF-decoded when it has CF attributes (packed integers, fill
/// values become NaN), else the stored values converted.
pub(crate) fn open_f64(loc: &Location, meta: &Meta) -> Result<ChunkedArray<f64>> {
    // A NaN-only fill value changes nothing: read the stored values as they are.
    if cf_of(loc, meta)?.is_some_and(|c| !c.is_identity()) {
        return paths::open::<f64>(loc, &OpenOptions::default());
    }
    chunkwise::__cli::dispatch_dtype!(meta.dtype, Ok(paths::open::<T>(loc, &raw())?.astype::<f64>()),
        else Err(unsupported(meta, "stats")))
}

/// The CF decoding of the array at `loc`, if it has CF attributes.
fn cf_of(loc: &Location, meta: &Meta) -> Result<Option<CfDecode>> {
    CfDecode::from_attributes(&meta.cf_attributes)
        .with_context(|| format!("{}: malformed CF attribute", loc.display()))
}

/// The attributes to copy to an output: `_ARRAY_DIMENSIONS` is the input's dimension names,
/// which travel separately (and may change, as in `reduce`).
fn output_attributes(attributes: &Map<String, Value>) -> Map<String, Value> {
    let mut out = attributes.clone();
    out.remove("_ARRAY_DIMENSIONS");
    out
}

/// A JSON number, `null` for NaN and infinities.
fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

pub(crate) fn stats(ctx: &Ctx, path: &str, as_json: bool, select: &SelectArgs) -> Result<()> {
    let loc = paths::parse_input(path)?;
    let mut meta = paths::probe(&loc)?;
    let mut x = open_f64(&loc, &meta)?;
    if let Some(sel) = select::resolve(ctx, &loc, &meta, select)? {
        x = sel.apply(&x).map_err(|e| UsageError(e.to_string()))?;
        meta = sel.meta;
    }
    let chunks = x.chunks().chunk_shape();
    let (count, sum, min, max, mean, std);
    let mut report: Option<RunReport> = None;
    if x.is_empty() {
        (count, sum, min, max, mean, std) = (0.0, 0.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    } else {
        // One run over the input: six reductions sharing every block read.
        let valid = x.is_nan().not().astype::<f64>();
        let r_count = valid.sum();
        let r_sum = x.nansum();
        let r_min = x.nanmin()?;
        let r_max = x.nanmax()?;
        let r_mean = x.nanmean();
        let r_std = x.nanstd();
        let all = [&r_count, &r_sum, &r_min, &r_max, &r_mean, &r_std];
        ctx.write_dot(|| chunkwise::to_dot_all(&all))?;
        let outs = chunkwise::compute_all(&ctx.rt, &all)
            .with_context(|| format!("computing statistics of {}", loc.display()))?;
        let v: Vec<f64> = outs
            .iter()
            .map(|a| a.iter().next().copied().unwrap_or(f64::NAN))
            .collect();
        (count, sum, min, max, mean, std) = (v[0], v[1], v[2], v[3], v[4], v[5]);
        report = Some(ctx.rt.last_report());
    }
    // With nothing counted, min/max/mean/std are undefined.
    let undefined = count == 0.0;
    let pick = |v: f64| if undefined { f64::NAN } else { v };
    if as_json {
        let o = json!({
            "shape": meta.shape,
            "dtype": meta.dtype.numpy_name(),
            "chunks": chunks,
            "count": count as u64,
            "sum": num(sum),
            "min": num(pick(min)),
            "max": num(pick(max)),
            "mean": num(pick(mean)),
            "std": num(pick(std)),
        });
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    let show = |v: f64| {
        if v.is_nan() {
            "undefined".to_string()
        } else {
            format!("{v}")
        }
    };
    println!("path:    {}", loc.display());
    println!(
        "shape:   {}  dtype: {}  chunks: {}",
        list(&meta.shape),
        meta.dtype.numpy_name(),
        list(&chunks)
    );
    println!("count:   {}", count as u64);
    println!("sum:     {}", show(sum));
    println!("min:     {}", show(pick(min)));
    println!("max:     {}", show(pick(max)));
    println!("mean:    {}", show(pick(mean)));
    println!("std:     {}", show(pick(std)));
    if let Some(r) = report {
        println!(
            "run:     {} blocks, {} tasks in one run (the six reductions share each block read) \
             on {} threads in {:.3} s; peak tracked {} of {} limit",
            x.nblocks(),
            r.tasks,
            r.threads,
            r.wall_time.as_secs_f64(),
            human_bytes(r.peak_tracked_bytes),
            human_bytes(r.memory_limit)
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// writing outputs

/// How an output array is described.
#[derive(Clone)]
pub(crate) struct OutDesc {
    pub dimension_names: Option<Vec<Option<String>>>,
    pub attributes: Map<String, Value>,
    /// Output chunks (`None`: the array's own).
    pub chunks: Option<Vec<usize>>,
    /// The input, where an HDF5 output's coordinate variables are looked for (1-D arrays
    /// beside it named like its dimensions). Only HDF5 outputs read it.
    #[cfg_attr(not(feature = "hdf5"), allow(dead_code))]
    pub input: Option<Location>,
}

fn zarr_options(o: &ZarrOutOpts, desc: &OutDesc) -> ZarrWriteOptions {
    ZarrWriteOptions {
        format: if o.zarr_format == 2 {
            ZarrFormat::V2
        } else {
            ZarrFormat::V3
        },
        compression: if o.compression_level == 0 {
            ZarrCompression::None
        } else {
            ZarrCompression::Zstd {
                level: i32::from(o.compression_level),
            }
        },
        overwrite: o.overwrite,
        dimension_names: desc.dimension_names.clone(),
        attributes: desc.attributes.clone(),
    }
}

/// Whether `dir` holds Zarr array metadata (v2 `.zarray`, or a v3 `zarr.json` of an array).
fn is_zarr_array_dir(dir: &Path) -> bool {
    if dir.join(".zarray").is_file() || dir.join(chunkwise::io::zarr::INCOMPLETE_MARKER).is_file() {
        return true;
    }
    std::fs::read_to_string(dir.join("zarr.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .is_some_and(|v| v.get("node_type").and_then(Value::as_str) == Some("array"))
}

/// The library's "already exists" error says what to pass on the command line.
fn overwrite_hint(e: chunkwise::Error) -> anyhow::Error {
    match e {
        chunkwise::Error::Store {
            path,
            kind: chunkwise::error::StoreErrorKind::AlreadyExists,
            ..
        } => anyhow!("{path}: an array already exists there; pass --overwrite to replace it"),
        e => anyhow::Error::new(e),
    }
}

/// Writes `arr` to the output location.
fn write_out<T: Element>(
    ctx: &Ctx,
    arr: &ChunkedArray<T>,
    out: &Location,
    o: &ZarrOutOpts,
    desc: &OutDesc,
) -> Result<RunReport> {
    ctx.write_dot(|| arr.to_dot())?;
    let chunks: Option<Vec<usize>> = desc.chunks.as_ref().map(|c| {
        c.iter()
            .zip(arr.shape())
            .map(|(&c, &n)| c.min(n).max(1))
            .collect()
    });
    let written = match out {
        Location::Zarr { store, array } if !array.trim_matches('/').is_empty() => arr
            .to_zarr_with(
                &ctx.rt,
                store,
                array,
                zarr_options(o, desc),
                chunks.as_deref(),
            )
            .map_err(overwrite_hint)
            .with_context(|| format!("writing {}", out.display())),
        Location::Zarr { store: dir, .. } => write_root_array(ctx, arr, dir, o, desc, chunks),
        #[cfg(feature = "hdf5")]
        Location::Hdf5 { file, dataset } => write_hdf5(ctx, arr, file, dataset, o, desc, chunks)
            .with_context(|| format!("writing {}", out.display())),
        #[cfg(not(feature = "hdf5"))]
        Location::Hdf5 { .. } => Err(paths::no_hdf5(out)),
    };
    if written.is_ok() {
        ctx.note_written(out);
    }
    written
}

/// Writes a Zarr array whose directory is `dir` itself (the store root is the array): into a
/// temporary store next to it, then moved into place once complete.
fn write_root_array<T: Element>(
    ctx: &Ctx,
    arr: &ChunkedArray<T>,
    dir: &Path,
    o: &ZarrOutOpts,
    desc: &OutDesc,
    chunks: Option<Vec<usize>>,
) -> Result<RunReport> {
    let shown = dir.display();
    if dir.exists() {
        let empty_dir = dir.is_dir()
            && std::fs::read_dir(dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !empty_dir {
            if !dir.is_dir() || !is_zarr_array_dir(dir) {
                bail!(
                    "{shown} exists and is not a Zarr array; refusing to write over it (to \
                     write an array inside a store, name it: {shown}:/ARRAY)"
                );
            }
            if !o.overwrite {
                bail!("{shown}: a Zarr array already exists there; pass --overwrite to replace it");
            }
        }
    }
    use chunkwise::io::guard;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| UsageError(format!("{shown}: not a usable output directory name")))?
        .to_string_lossy()
        .to_string();
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    // One writer at a time; what killed runs left beside the output goes first.
    let _lock = guard::OutputLock::acquire("write zarr", dir, &shown.to_string())?;
    guard::clean_stale(&parent, &guard::staging_prefix(&name));
    let tmp = parent.join(guard::staging_name(&name));
    let result = arr
        .to_zarr_with(
            &ctx.rt,
            &tmp,
            "array",
            zarr_options(o, desc),
            chunks.as_deref(),
        )
        .with_context(|| format!("writing {shown}"));
    // The old array is replaced only by a complete new one, in one step.
    let result = result.and_then(|r| {
        guard::swap_into_place(&tmp.join("array"), dir)
            .with_context(|| format!("cannot move the new array into {shown}"))?;
        Ok(r)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

#[cfg(feature = "hdf5")]
fn write_hdf5<T: Element>(
    ctx: &Ctx,
    arr: &ChunkedArray<T>,
    file: &Path,
    dataset: &str,
    o: &ZarrOutOpts,
    desc: &OutDesc,
    chunks: Option<Vec<usize>>,
) -> Result<RunReport> {
    use chunkwise::io::hdf5::{Hdf5Dimension, Hdf5WriteOptions, Hdf5Writer};
    let chunk_shape: Vec<usize> = match chunks {
        Some(c) => c,
        None => arr
            .chunks()
            .chunk_shape()
            .iter()
            .map(|&c| c.max(1))
            .collect(),
    };
    let arr = if arr.chunks().chunk_shape() == chunk_shape {
        arr.clone()
    } else {
        arr.rechunk(chunk_shape.clone())?
    };
    let mut opts = Hdf5WriteOptions::default()
        .overwrite(o.overwrite)
        .attributes(desc.attributes.clone());
    if o.compression_level > 0 && !arr.shape().is_empty() {
        opts = opts.gzip(o.compression_level.min(9));
    }
    // NetCDF4 dimensions when every axis has a name, with the input's coordinate variables.
    let names: Option<Vec<String>> = desc
        .dimension_names
        .as_ref()
        .and_then(|n| n.iter().cloned().collect());
    if let Some(names) = names.filter(|n| n.len() == arr.ndim()) {
        let mut dims = Vec::with_capacity(names.len());
        for (name, &len) in names.iter().zip(arr.shape()) {
            let dim = Hdf5Dimension::new(name.clone());
            let coordinate = match &desc.input {
                Some(input) if name.as_str() != dataset_name(dataset) => {
                    paths::coordinate(input, name, len)?
                }
                _ => None,
            };
            dims.push(match coordinate {
                Some((values, attributes)) => dim.with_coordinate(values, attributes),
                None => dim,
            });
        }
        opts = opts.dimensions(dims);
    }
    let writer = Hdf5Writer::create(file, dataset, arr.shape(), &chunk_shape, T::DTYPE, &opts)?;
    Ok(arr.store(&ctx.rt, &writer)?)
}

/// The last component of an HDF5 dataset path.
#[cfg(feature = "hdf5")]
fn dataset_name(dataset: &str) -> &str {
    dataset
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

fn print_written(out: &Location, shape: &[usize], dtype: chunkwise::DType, r: &RunReport) {
    println!(
        "wrote {} {} {}: {} tasks on {} threads in {:.3} s, peak tracked {} of {} limit",
        out.display(),
        dtype.numpy_name(),
        list(shape),
        r.tasks,
        r.threads,
        r.wall_time.as_secs_f64(),
        human_bytes(r.peak_tracked_bytes),
        human_bytes(r.memory_limit)
    );
}

/// The input and output locations of a command that writes a new array; `zarr_only` names
/// what to do instead when the output is HDF5 and the command writes only Zarr.
fn in_and_out(input: &str, output: &str, zarr_only: Option<&str>) -> Result<(Location, Location)> {
    let loc = paths::parse_input(input)?;
    let out = paths::parse_output(output)?;
    let (a, b) = (loc.stored(), out.stored());
    if a.same_array(&b) {
        let spelled = if input == output {
            String::new()
        } else {
            format!(" (`{input}` and `{output}` are both {})", a.path.display())
        };
        return Err(UsageError(format!(
            "the output {} is the input {}{spelled}; writing it would destroy the input while \
             it is read. Write to another array, then move it",
            out.display(),
            loc.display()
        ))
        .into());
    }
    if let (true, Some(instead)) = (out.is_hdf5(), zarr_only) {
        return Err(UsageError(format!("{}: {instead}", out.display())).into());
    }
    Ok((loc, out))
}

// ---------------------------------------------------------------------------------------
// reduce

pub(crate) struct ReduceArgs<'a> {
    pub op: ReduceOp,
    pub axes: &'a [AxisSpec],
    pub select: &'a SelectArgs,
    pub ddof: f64,
    pub keepdims: bool,
}

/// What a command that writes one derived array returns: its shape, element type and run.
pub(crate) type Written = (Vec<usize>, chunkwise::DType, RunReport);

/// A computation on the input array, whatever its numeric element type.
pub(crate) trait NumericJob {
    /// Builds the result from `x` and writes it.
    fn run<T: Numeric>(&self, x: &ChunkedArray<T>) -> Result<Written>;
}

/// Where and how a command's derived array is written.
#[derive(Clone)]
pub(crate) struct Target<'a> {
    pub ctx: &'a Ctx,
    pub out: Location,
    pub o: &'a ZarrOutOpts,
    pub desc: OutDesc,
}

impl Target<'_> {
    /// Writes the array a library call built; the library's refusal of the arguments (a bad
    /// window, ddof or bin) is a usage error.
    pub(crate) fn write<U: Element>(
        &self,
        r: chunkwise::Result<ChunkedArray<U>>,
    ) -> Result<Written> {
        let r = r.map_err(|e| UsageError(e.to_string()))?;
        let report = write_out(self.ctx, &r, &self.out, self.o, &self.desc)?;
        Ok((r.shape().to_vec(), U::DTYPE, report))
    }
}

/// The input of a command that derives one Zarr array from it, its metadata and the output.
pub(crate) struct Derived {
    pub loc: Location,
    /// The metadata of what the command works on: the input's, or its selection's.
    pub meta: Meta,
    /// The stored input's metadata (before `--sel` / `--isel`).
    pub input_meta: Meta,
    pub out: Location,
    /// `--axis`, as axes of `meta`.
    pub axes: Vec<usize>,
    /// `--sel` / `--isel`, applied to the input before the command's operation.
    pub selection: Option<Selection>,
}

impl Derived {
    /// The locations of `command`'s input and output, with the input's metadata and the
    /// selection `select` asks for; `axes` (numbers or dimension names) must be axes of the
    /// selection.
    pub(crate) fn open(
        ctx: &Ctx,
        command: &str,
        input: &str,
        output: &str,
        axes: &[AxisSpec],
        select: &SelectArgs,
    ) -> Result<Self> {
        let zarr_only =
            format!("{command} writes Zarr; write a Zarr array and `chunkwise convert` it");
        let (loc, out) = in_and_out(input, output, Some(&zarr_only))?;
        let input_meta = paths::probe(&loc)?;
        let selection = select::resolve(ctx, &loc, &input_meta, select)?;
        let meta = selection
            .as_ref()
            .map_or_else(|| input_meta.clone(), |s| s.meta.clone());
        let axes = select::resolve_axes(&loc, &meta, axes, selection.is_some())?;
        Ok(Derived {
            loc,
            meta,
            input_meta,
            out,
            axes,
            selection,
        })
    }

    /// `history` with the selection it was computed on.
    pub(crate) fn history(&self, history: String) -> String {
        match &self.selection {
            Some(s) => format!("{history} ({})", s.what),
            None => history,
        }
    }

    /// Where the output goes: named `dimension_names`, with the input's attributes and
    /// `history` (see [`derived_attributes`]).
    pub(crate) fn target<'a>(
        &self,
        ctx: &'a Ctx,
        o: &'a ZarrOutOpts,
        dimension_names: Option<Vec<Option<String>>>,
        history: String,
    ) -> Result<Target<'a>> {
        Ok(Target {
            ctx,
            out: self.out.clone(),
            o,
            desc: OutDesc {
                dimension_names,
                attributes: derived_attributes(&self.loc, &self.meta, history)?,
                chunks: None,
                input: None,
            },
        })
    }

    /// Runs `job` on the input as numbers ([`with_numeric_input`]) and prints what it wrote.
    pub(crate) fn run(&self, what: &str, job: &impl NumericJob) -> Result<()> {
        let (shape, dtype, report) = match &self.selection {
            Some(sel) => {
                with_numeric_input(&self.loc, &self.input_meta, what, &Selected { sel, job })?
            }
            None => with_numeric_input(&self.loc, &self.input_meta, what, job)?,
        };
        print_written(&self.out, &shape, dtype, &report);
        Ok(())
    }
}

/// A job run on the selection of its input.
struct Selected<'a, J> {
    sel: &'a Selection,
    job: &'a J,
}

impl<J: NumericJob> NumericJob for Selected<'_, J> {
    fn run<T: Numeric>(&self, x: &ChunkedArray<T>) -> Result<Written> {
        let x = self.sel.apply(x).map_err(|e| UsageError(e.to_string()))?;
        self.job.run(&x)
    }
}

/// Runs `job` on the input as numbers: CF-decoded to the type xarray gives (a float32
/// variable stays float32, packed integers become float64) when it has CF attributes,
/// booleans as 0 and 1 (as NumPy's sum/mean of a mask), else the stored type.
fn with_numeric_input(
    loc: &Location,
    meta: &Meta,
    what: &str,
    job: &impl NumericJob,
) -> Result<Written> {
    if let Some(cf) = cf_of(loc, meta)? {
        if cf.decoded_dtype(meta.dtype) == chunkwise::DType::F32 {
            job.run(&paths::open::<f32>(loc, &OpenOptions::default())?)
        } else {
            job.run(&paths::open::<f64>(loc, &OpenOptions::default())?)
        }
    } else if meta.dtype == chunkwise::DType::Bool {
        job.run(&paths::open::<bool>(loc, &raw())?.astype::<i64>())
    } else {
        chunkwise::__cli::dispatch_numeric!(meta.dtype, job.run(&paths::open::<T>(loc, &raw())?),
            bool => Err(unsupported(meta, what)),
            else Err(unsupported(meta, what)))
    }
}

/// The attributes of an array derived from the input: the input's, less those of a CF
/// encoding when the values are decoded ones, with `chunkwise_history` saying what was done.
fn derived_attributes(loc: &Location, meta: &Meta, history: String) -> Result<Map<String, Value>> {
    let mut attributes = output_attributes(&meta.attributes);
    if cf_of(loc, meta)?.is_some() {
        for k in CF_ENCODING_ATTRS {
            attributes.remove(*k);
        }
    }
    attributes.insert("chunkwise_history".into(), json!(history));
    Ok(attributes)
}

/// What is done with the array a [`ReduceOp`] builds (its element type depends on the
/// operation: a sum of `i32` is `i64`, a mean `f64`).
pub(crate) trait ReducedSink {
    type Out;
    fn take<U: Element>(self, r: chunkwise::Result<ChunkedArray<U>>) -> Self::Out;
}

impl ReducedSink for &Target<'_> {
    type Out = Result<Written>;
    fn take<U: Element>(self, r: chunkwise::Result<ChunkedArray<U>>) -> Result<Written> {
        self.write(r)
    }
}

impl ReduceOp {
    /// Builds this reduction of `x` over `axes` and hands it to `sink`. `ddof` goes only to
    /// var/std: the other reductions refuse a nonzero one.
    pub(crate) fn build<T: Numeric, S: ReducedSink>(
        self,
        x: &ChunkedArray<T>,
        axes: &[usize],
        keepdims: bool,
        ddof: f64,
        sink: S,
    ) -> S::Out {
        let k = keepdims;
        let vo = chunkwise::ReduceOpts::from(k).ddof(ddof);
        match self {
            ReduceOp::Sum => sink.take(x.sum_axes(axes, k)),
            ReduceOp::Nansum => sink.take(x.nansum_axes(axes, k)),
            ReduceOp::Mean => sink.take(x.mean_axes(axes, k)),
            ReduceOp::Nanmean => sink.take(x.nanmean_axes(axes, k)),
            ReduceOp::Min => sink.take(x.min_axes(axes, k)),
            ReduceOp::Nanmin => sink.take(x.nanmin_axes(axes, k)),
            ReduceOp::Max => sink.take(x.max_axes(axes, k)),
            ReduceOp::Nanmax => sink.take(x.nanmax_axes(axes, k)),
            ReduceOp::Var => sink.take(x.var_axes(axes, vo)),
            ReduceOp::Nanvar => sink.take(x.nanvar_axes(axes, vo)),
            ReduceOp::Std => sink.take(x.std_axes(axes, vo)),
            ReduceOp::Nanstd => sink.take(x.nanstd_axes(axes, vo)),
        }
    }
}

struct ReduceJob<'a> {
    a: &'a ReduceArgs<'a>,
    axes: &'a [usize],
    t: Target<'a>,
}

impl NumericJob for ReduceJob<'_> {
    fn run<T: Numeric>(&self, x: &ChunkedArray<T>) -> Result<Written> {
        self.a
            .op
            .build(x, self.axes, self.a.keepdims, self.a.ddof, &self.t)
    }
}

pub(crate) fn reduce(
    ctx: &Ctx,
    a: &ReduceArgs<'_>,
    input: &str,
    output: &str,
    o: &ZarrOutOpts,
) -> Result<()> {
    let d = Derived::open(ctx, "reduce", input, output, a.axes, a.select)?;
    let history = d.history(format!(
        "{} over axes {:?} of {}",
        a.op.name(),
        d.axes,
        d.loc.display()
    ));
    let dimension_names = d.meta.dimension_names.as_ref().map(|names| {
        names
            .iter()
            .enumerate()
            .filter(|(i, _)| a.keepdims || !d.axes.contains(i))
            .map(|(_, n)| n.clone())
            .collect()
    });
    let t = d.target(ctx, o, dimension_names, history)?;
    d.run(
        "reduce",
        &ReduceJob {
            a,
            axes: &d.axes,
            t,
        },
    )
}

// ---------------------------------------------------------------------------------------
// rechunk and convert

fn copy_desc(meta: &Meta, chunks: Option<&[usize]>) -> OutDesc {
    OutDesc {
        dimension_names: meta.dimension_names.clone(),
        // With a Zarr v2 input's fill value as `_FillValue`, so its CF meaning travels.
        attributes: output_attributes(&meta.cf_attributes),
        chunks: chunks.map(<[usize]>::to_vec),
        input: None,
    }
}

/// Copies the stored values of `loc` to `out`, chunked by `chunks`.
fn copy(
    ctx: &Ctx,
    loc: &Location,
    out: &Location,
    meta: &Meta,
    chunks: Option<&[usize]>,
    o: &ZarrOutOpts,
) -> Result<()> {
    if let Some(c) = chunks
        && c.len() != meta.shape.len()
    {
        return Err(UsageError(format!(
            "--chunks has {} sizes but {} has {} axes {}",
            c.len(),
            loc.display(),
            meta.shape.len(),
            list(&meta.shape)
        ))
        .into());
    }
    let desc = OutDesc {
        input: Some(loc.clone()),
        ..copy_desc(meta, chunks)
    };
    let report = chunkwise::__cli::dispatch_dtype!(meta.dtype, {
        let x = paths::open::<T>(loc, &raw())?;
        write_out(ctx, &x, out, o, &desc)?
    }, else return Err(unsupported(meta, "copy")));
    print_written(out, &meta.shape, meta.dtype, &report);
    Ok(())
}

pub(crate) fn rechunk(
    ctx: &Ctx,
    chunks: &[usize],
    input: &str,
    output: &str,
    o: &ZarrOutOpts,
) -> Result<()> {
    let (loc, out) = in_and_out(
        input,
        output,
        Some("rechunk writes Zarr; use `chunkwise convert --chunks ...` for HDF5 output"),
    )?;
    let meta = paths::probe(&loc)?;
    copy(ctx, &loc, &out, &meta, Some(chunks), o)
}

pub(crate) fn convert(
    ctx: &Ctx,
    input: &str,
    output: &str,
    chunks: Option<&[usize]>,
    o: &ZarrOutOpts,
) -> Result<()> {
    let (loc, out) = in_and_out(input, output, None)?;
    let meta = paths::probe(&loc)?;
    copy(ctx, &loc, &out, &meta, chunks, o)
}
