//! The climate workloads of `benches/workloads/README.md` on the peer benchmark data (written
//! by `benches/workloads/make_data.py`), one per run, printing one JSON line:
//!
//! ```text
//! cargo run --release --example workloads -- W2 --data /tmp/peerdata [--memory-limit 256MiB]
//! cargo run --release --example workloads -- W3 --data /tmp/peerdata
//! cargo run --release --features hdf5 --example workloads -- W7 --data /tmp/peerdata
//! ```
//! W2: mean over time from Zarr v3; W3: `std(x - mean(x, 0), 0)` from Zarr v3 (W3-dataset:
//! the same through `Dataset` and dimension names); W7: mean over
//! time from HDF5 (gzip chunks). `rss_peak_mb` is the process's peak resident set (VmHWM).

use chunkwise::prelude::*;
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

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "W2".into());
    let (mut data, mut limit, mut threads) =
        ("/tmp/peerdata".to_string(), "256MiB".to_string(), None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().unwrap_or_default(),
            "--memory-limit" => limit = args.next().unwrap_or_default(),
            "--threads" => threads = args.next().and_then(|t| t.parse::<usize>().ok()),
            other => eprintln!("ignoring argument {other}"),
        }
    }
    let mut b = Runtime::builder().memory_limit(limit.as_str());
    if let Some(t) = threads {
        b = b.threads(t);
    }
    let rt = b.build()?;
    let zarr = format!("{data}/climate_v3.zarr");
    let t = Instant::now();
    let checksum: f64 = match workload.as_str() {
        "W2" => {
            let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
            x.mean_axis(0)?
                .compute(&rt)?
                .iter()
                .map(|&v| v as f64)
                .sum()
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
                "unknown workload {other} (W2, W3, W3-dataset, W8, W9, W8-decode; W7, W10, W10-decode \
                 with --features hdf5)"
            );
            std::process::exit(2);
        }
    };
    let secs = t.elapsed().as_secs_f64();
    let r = rt.last_report();
    println!(
        "{{\"workload\": \"{workload}\", \"engine\": \"chunkwise\", \"seconds\": {secs:.3}, \"threads\": {}, \"memory_limit_mb\": {:.0}, \"peak_tracked_mb\": {:.1}, \"rss_peak_mb\": {:.1}, \"tasks\": {}, \"checksum\": {checksum}}}",
        r.threads,
        r.memory_limit as f64 / 1048576.0,
        r.peak_tracked_bytes as f64 / 1048576.0,
        vm_hwm_mb(),
        r.tasks
    );
    Ok(())
}
