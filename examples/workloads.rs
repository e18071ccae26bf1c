//! The climate workloads of `benches/workloads/README.md` on the peer benchmark data (written
//! by `benches/workloads/make_data.py`), one per run, printing one JSON line:
//!
//! ```text
//! cargo run --release --example workloads -- W2 --data /tmp/peerdata [--memory-limit 256MiB]
//! cargo run --release --example workloads -- W3 --data /tmp/peerdata
//! cargo run --release --example workloads -- W3 --data DIR --engine processes --work-dir WORK
//! cargo run --release --example workloads -- make-W3 --data DIR  # W3's input, by chunkwise
//! cargo run --release --features hdf5 --example workloads -- W7 --data /tmp/peerdata
//! ```
//! W2: mean over time from Zarr v3; W3: `std(x - mean(x, 0), 0)` from Zarr v3 (W3-dataset:
//! the same through `Dataset` and dimension names); W7: mean over
//! time from HDF5 (gzip chunks). `rss_peak_mb` is the process's peak resident set (VmHWM).
//!
//! Issue 12's climatologies, as `peer_dask.py`'s G arms compute them with xarray + flox (the
//! time axis is 730 days of a `noleap` calendar from 2001-01-01, decoded to months with
//! [`chunkwise::time::TimeCoder`]; xarray's `skipna` default makes them the `nan*` reductions):
//! G1 the monthly climatology `groupby(month).nanmean()`; G2 `nanstd(x - clim[month], 0)` in
//! one graph; G3 the trailing 30-day rolling mean written to Zarr (chunks of 30 days, as the
//! peer), its checksum the sum of days 29..=59 read back; G4 the 90th percentile over time.
//! `strategy` and `plan` name what the plan chose for the grouped, rolling and quantile ops
//! (`--explain` prints the whole plan to stderr, `--events` the busy time per operation of the
//! last run).

use chunkwise::prelude::*;
use chunkwise::time::TimeCoder;
use chunkwise::{OpKind, PlanSummary, RechunkRun};
use serde_json::{Value, json};
use std::time::Instant;

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Reads (decodes) every block of `x` and does nothing with it: the floor of a workload over it.
fn decode_only(x: &ChunkedArray<f32>, rt: &Runtime) -> Result<f64> {
    let mut n = 0usize;
    x.for_each_block(rt, |_, b| {
        n += b.len();
        Ok(())
    })?;
    Ok(n as f64)
}

/// The month (1..=12) of each of `n` daily steps of a `noleap` calendar from 2001-01-01: the
/// peer's `xr.date_range("2001-01-01", periods=n, freq="D", calendar="noleap")`.
fn month_labels(n: usize) -> Result<Vec<i64>> {
    let coder = TimeCoder::new("days since 2001-01-01", Some("noleap"))?;
    let days: Vec<f64> = (0..n).map(|d| d as f64).collect();
    Ok(coder
        .decode(&days)?
        .iter()
        .map(|t| i64::from(t.month))
        .collect())
}

/// The labels of the plan's grouped reductions, block functions (rolling, quantile) and
/// rechunks: what the strategy choice shows in `explain()`.
fn plan_ops(plan: &PlanSummary) -> String {
    let mut ops: Vec<String> = plan
        .optimized
        .iter()
        .filter(|n| {
            matches!(
                n.kind,
                OpKind::GroupReduce | OpKind::Blocks | OpKind::Rechunk
            )
        })
        .map(|n| format!("{} {:?}", n.op, n.chunks.chunk_shape()))
        .collect();
    ops.dedup();
    let rechunks: Vec<String> = plan
        .rechunks
        .iter()
        .map(|r| match &r.run {
            RechunkRun::Direct { .. } => format!("{:?} direct", r.to.chunk_shape()),
            RechunkRun::Staged { stages, .. } => format!(
                "{:?} staged through {:?}",
                r.to.chunk_shape(),
                stages.iter().map(|g| g.chunk_shape()).collect::<Vec<_>>()
            ),
            _ => format!("{:?}", r.to.chunk_shape()),
        })
        .collect();
    if !rechunks.is_empty() {
        ops.push(format!("rechunk runs: {}", rechunks.join(", ")));
    }
    ops.join("; ")
}

fn sum_f64<T: Copy + Into<f64>>(a: &ndarray::ArrayD<T>) -> f64 {
    a.iter().map(|&v| v.into()).filter(|v| !v.is_nan()).sum()
}

fn main() -> Result<()> {
    // As the `chunkwise` CLI does: W8's decode alone took 538,700 page faults and 2.05 s of
    // CPU on one thread without it, 9,100 faults and 0.66 s with it (zarr-python: 1.1-1.3 s).
    chunkwise::keep_freed_blocks();
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "W2".into());
    let (mut data, mut limit, mut threads, mut explain, mut events) = (
        "/tmp/peerdata".to_string(),
        "256MiB".to_string(),
        None,
        false,
        false,
    );
    // Issue 11: the engine (`--engine processes|slurm|hyperqueue --work-dir DIR`).
    let (mut engine, mut work_dir, mut workers) = ("local".to_string(), None::<String>, 2);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().unwrap_or_default(),
            "--memory-limit" => limit = args.next().unwrap_or_default(),
            "--threads" => threads = args.next().and_then(|t| t.parse::<usize>().ok()),
            "--explain" => explain = true,
            "--events" => events = true,
            "--engine" => engine = args.next().unwrap_or_default(),
            "--work-dir" => work_dir = args.next(),
            "--workers" => workers = args.next().and_then(|t| t.parse().ok()).unwrap_or(2),
            other => eprintln!("ignoring argument {other}"),
        }
    }
    let mut b = Runtime::builder()
        .memory_limit(limit.as_str())
        .record_events(events);
    if let Some(t) = threads {
        b = b.threads(t);
    }
    b = b.engine(chunkwise::engine::Engine::from_name(&engine, workers)?);
    if let Some(d) = &work_dir {
        b = b.work_dir(d);
    }
    let rt = b.build()?;
    let zarr = format!("{data}/climate_v3.zarr");
    // Fields of the JSON line besides the common ones; `timed` is the wall time and run
    // report of the timed region when an arm does untimed work after it (G3's read-back).
    let mut extra = serde_json::Map::new();
    let mut timed: Option<(f64, RunReport)> = None;
    let show = |plan: PlanSummary, extra: &mut serde_json::Map<String, Value>| {
        if explain {
            eprintln!("{plan}");
        }
        extra.insert("plan".into(), json!(plan_ops(&plan)));
        extra.insert("planned_tasks".into(), json!(plan.tasks));
    };
    let t = Instant::now();
    let checksum: f64 = match workload.as_str() {
        // Issue 12's climatologies (peer_dask.py's G1-G4, engine xarray + flox).
        "G1" => {
            let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
            let gb = x.groupby(0, month_labels(x.shape()[0])?)?;
            extra.insert("strategy".into(), json!(gb.strategy().to_string()));
            let clim = gb.nanmean()?;
            show(clim.plan_summary(&rt), &mut extra);
            sum_f64(&clim.compute(&rt)?)
        }
        "G2" => {
            let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
            let gb = x.groupby(0, month_labels(x.shape()[0])?)?;
            extra.insert("strategy".into(), json!(gb.strategy().to_string()));
            let sd = gb.anomaly(&gb.nanmean()?)?.nanstd_axis(0)?;
            show(sd.plan_summary(&rt), &mut extra);
            sum_f64(&sd.compute(&rt)?)
        }
        "G3" => {
            let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
            let (ny, nx) = (x.shape()[1], x.shape()[2]);
            let out = format!("{data}/g3_out_chunkwise.zarr");
            let _ = std::fs::remove_dir_all(&out);
            // The peer writes chunks of 30 days: read the store in those blocks, so each
            // rolling block needs only its predecessor for the 29-day halo.
            let roll = x.rechunk([30, ny, nx])?.rolling(0, 30).mean()?;
            show(roll.plan_summary(&rt), &mut extra);
            let opts = chunkwise::io::zarr::ZarrWriteOptions {
                overwrite: true,
                ..Default::default()
            };
            let report = roll.to_zarr_with(&rt, &out, "t2m_roll30", opts, Some(&[30, ny, nx]))?;
            timed = Some((t.elapsed().as_secs_f64(), report));
            let back = ChunkedArray::<f32>::open_zarr(&out, "t2m_roll30")?;
            extra.insert("checksum_is".into(), json!("sum of days 29..=59"));
            sum_f64(&back.slice(ndarray::s![29..60, .., ..])?.compute(&rt)?)
        }
        "G4" => {
            let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
            let p90 = x.nanquantile_axis(0.9, 0)?;
            show(p90.plan_summary(&rt), &mut extra);
            sum_f64(&p90.compute(&rt)?)
        }
        "W2" => {
            let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
            x.mean_axis(0)?
                .compute(&rt)?
                .iter()
                .map(|&v| v as f64)
                .sum()
        }
        // Writes W3's input with chunkwise itself: t2m (730, 361, 720) f32 in (1, 361, 720)
        // chunks, zstd 3, normal noise around 280 K (noise compresses less than a real field).
        "make-W3" => {
            let x =
                ChunkedArray::<f32>::random_normal(&[730, 361, 720], [1, 361, 720], 3, 280.0, 5.0)?;
            x.to_zarr(&rt, &zarr, "t2m")?;
            0.0
        }
        "W3" => {
            let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
            let sd = (&x - &x.mean_axis(0)?)?.std_axis(0)?;
            sd.compute(&rt)?.iter().map(|&v| v as f64).sum()
        }
        // W3 through the labelled layer (issue 9): the same graph, reached by dimension name.
        "W3-dataset" => {
            let ds = chunkwise::Dataset::open(&zarr)?;
            let x = ds.var::<f32>("t2m")?;
            let time = x.dims()[0].clone();
            let sd = (&x - &x.mean(&time)?)?.std(&time)?;
            sd.data().compute(&rt)?.iter().map(|&v| v as f64).sum()
        }
        #[cfg(feature = "hdf5")]
        "W7" => {
            let x = ChunkedArray::<f32>::open_hdf5(format!("{data}/climate.h5"), "t2m")?;
            x.mean_axis(0)?
                .compute(&rt)?
                .iter()
                .map(|&v| v as f64)
                .sum()
        }
        // Issue 13's shapes (benches/workloads/make_data_4d.py): a 4-D Zarr v2 blosc-lz4 store
        // and an int16-packed NetCDF4 with zlib. `*-decode` arms read every block and do
        // nothing else: the decode floor of the same bytes, measured the same way.
        "W8" => {
            let x = ChunkedArray::<f32>::open_zarr(format!("{data}/climate4d_v2.zarr"), "t")?;
            x.mean_axis(0)?
                .compute(&rt)?
                .iter()
                .map(|&v| v as f64)
                .sum()
        }
        "W9" => {
            let x = ChunkedArray::<f32>::open_zarr(format!("{data}/climate4d_v2.zarr"), "t")?;
            let (ny, nx) = (x.shape()[2], x.shape()[3]);
            let w = ndarray::Array2::from_shape_fn((ny, 1), |(i, _)| {
                (90.0 - 180.0 * i as f64 / (ny - 1) as f64)
                    .to_radians()
                    .cos() as f32
            });
            let norm = w.iter().map(|&v| v as f64).sum::<f64>() * nx as f64;
            let w = ChunkedArray::from_ndarray(w, ChunkSpec::auto())?;
            let series = (&x * &w)?.sum_axes(&[2, 3], false)? / norm as f32;
            series.compute(&rt)?.iter().map(|&v| v as f64).sum()
        }
        "W8-decode" | "W9-decode" => {
            let x = ChunkedArray::<f32>::open_zarr(format!("{data}/climate4d_v2.zarr"), "t")?;
            decode_only(&x, &rt)?
        }
        #[cfg(feature = "hdf5")]
        "W10" => {
            let x = ChunkedArray::<f32>::open_hdf5_as(format!("{data}/packed.nc"), "t2m")?;
            x.nanmean_axis(0)?
                .compute(&rt)?
                .iter()
                .map(|&v| v as f64)
                .filter(|v| !v.is_nan())
                .sum()
        }
        #[cfg(feature = "hdf5")]
        "W10-decode" => {
            let x = ChunkedArray::<f32>::open_hdf5_as(format!("{data}/packed.nc"), "t2m")?;
            decode_only(&x, &rt)?
        }
        other => {
            eprintln!(
                "unknown workload {other} (W2, W3, W3-dataset, W8, W9, W8-decode, G1, G2, G3, G4; W7, \
                 W10, W10-decode with --features hdf5)"
            );
            std::process::exit(2);
        }
    };
    let (secs, r) = timed.unwrap_or_else(|| (t.elapsed().as_secs_f64(), rt.last_report()));
    if events {
        // Busy time per operation (summed over workers) of the last run.
        let mut by_op: std::collections::BTreeMap<&str, (usize, f64)> = Default::default();
        for e in &r.events {
            let op = e.label.split('[').next().unwrap_or(&e.label);
            let s = by_op.entry(op).or_default();
            s.0 += 1;
            s.1 += (e.end - e.start).as_secs_f64();
        }
        for (op, (n, busy)) in by_op {
            eprintln!("{n:>7} tasks {busy:>8.3} s busy  {op}");
        }
    }
    let mut line = serde_json::Map::new();
    line.insert("workload".into(), json!(workload));
    line.insert("engine".into(), json!("chunkwise"));
    line.insert("seconds".into(), json!((secs * 1000.0).round() / 1000.0));
    line.insert("threads".into(), json!(r.threads));
    let mb = |b: usize| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
    line.insert("memory_limit_mb".into(), json!(mb(r.memory_limit)));
    line.insert("peak_tracked_mb".into(), json!(mb(r.peak_tracked_bytes)));
    line.insert(
        "rss_peak_mb".into(),
        json!((vm_hwm_mb() * 10.0).round() / 10.0),
    );
    line.insert("tasks".into(), json!(r.tasks));
    if let Some(e) = &r.engine {
        line.insert("chunkwise_engine".into(), json!(e.engine));
        line.insert("stages".into(), json!(e.stages));
        line.insert("batches".into(), json!(e.batches));
        line.insert("batches_run".into(), json!(e.batches_run));
    }
    line.insert("checksum".into(), json!(checksum));
    line.extend(extra);
    println!("{}", Value::Object(line));
    Ok(())
}
