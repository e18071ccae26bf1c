//! Climatology of a Zarr temperature field: the mean over time and the standard deviation of
//! the anomaly, both written back to Zarr, computed out of core within a memory limit.
//!
//! ```text
//! cargo run --release --example climatology                       # data/sample.zarr, array t2m
//! cargo run --release --example climatology -- STORE ARRAY [--memory-limit 256MiB] [--out OUT.zarr]
//! ```

use chunkwise::io::zarr::ZarrWriteOptions;
use chunkwise::prelude::*;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            eprintln!("  caused by: {s}");
            src = s.source();
        }
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = Vec::new();
    let mut limit = "256MiB".to_string();
    let mut out = std::env::temp_dir()
        .join("chunkwise-climatology.zarr")
        .display()
        .to_string();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--memory-limit" => limit = it.next().unwrap_or_default(),
            "--out" => out = it.next().unwrap_or_default(),
            _ => positional.push(a),
        }
    }
    let store = positional
        .first()
        .cloned()
        .unwrap_or_else(|| "data/sample.zarr".into());
    let array = positional.get(1).cloned().unwrap_or_else(|| "t2m".into());
    let rt = Runtime::builder().memory_limit(limit.as_str()).build()?;

    let t2m = ChunkedArray::<f32>::open_zarr(&store, &array)?;
    println!("{store}:{array} {:?} chunks {}", t2m.shape(), t2m.chunks());

    let clim = t2m.mean_axis(0)?;
    let anom = (&t2m - &clim)?;
    let sd = anom.std_axis(0)?;

    let overwrite = ZarrWriteOptions {
        overwrite: true,
        ..Default::default()
    };
    let r1 = clim.to_zarr_with(&rt, &out, "t2m_mean", overwrite.clone(), None)?;
    println!("mean over time   -> {out}:t2m_mean  {r1}");
    let r2 = sd.to_zarr_with(&rt, &out, "t2m_anomaly_std", overwrite, None)?;
    println!("std of anomaly   -> {out}:t2m_anomaly_std  {r2}");

    let m = ChunkedArray::<f32>::open_zarr(&out, "t2m_mean")?;
    let s = ChunkedArray::<f32>::open_zarr(&out, "t2m_anomaly_std")?;
    println!(
        "spatial means: climatology {:.3} K, anomaly std {:.3} K",
        m.mean().compute_scalar(&rt)?,
        s.mean().compute_scalar(&rt)?
    );
    Ok(())
}
