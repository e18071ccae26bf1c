//! `std(x - mean(x, 0), 0)` over a Zarr array, out of core: prints the result's sum and the
//! run report.
//!
//! ```text
//! cargo run --release --example anomaly -- STORE ARRAY [--memory-limit 256MiB] [--threads N]
//! ```

use chunkwise::prelude::*;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut positional = Vec::new();
    let mut limit = "256MiB".to_string();
    let mut threads = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--memory-limit" => limit = it.next().unwrap_or_default(),
            "--threads" => threads = it.next().and_then(|t| t.parse().ok()),
            _ => positional.push(a),
        }
    }
    let store = positional
        .first()
        .cloned()
        .unwrap_or_else(|| "data/sample.zarr".into());
    let array = positional.get(1).cloned().unwrap_or_else(|| "t2m".into());
    let mut b = Runtime::builder().memory_limit(limit.as_str());
    if let Some(t) = threads {
        b = b.threads(t);
    }
    let rt = b.build()?;
    let x = ChunkedArray::<f32>::open_zarr(&store, &array)?;
    let sd = (&x - &x.mean_axis(0)?)?.std_axis(0)?;
    let t = std::time::Instant::now();
    let total = sd.sum().compute_scalar(&rt)?;
    println!("sum of std(x - mean(x, 0), 0) = {total}");
    println!(
        "{} ({:.3} s wall)",
        rt.last_report(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
