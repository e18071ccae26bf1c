//! A first look at chunkwise: build a lazy expression, look at its plan, compute it, and
//! compare with in-memory ndarray.
//!
//! `cargo run --release --example quickstart`

use chunkwise::prelude::*;
use ndarray::Array2;

fn main() -> Result<()> {
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit("256 MiB")
        .build()?;

    // A 4096 × 4096 f64 array in memory (128 MiB), cut into 512² blocks.
    let data = Array2::from_shape_fn((4096, 4096), |(i, j)| {
        ((i * 31 + j * 17) % 1000) as f64 / 1000.0
    });
    let x = ChunkedArray::from_ndarray(data.clone(), [512, 512])?;

    // Lazy: nothing runs yet. The chain is fused into one pass per block.
    let y = (&x * 2.0 + 1.0).powi(2);
    let total = y.sum();
    println!("{}", total.explain());

    let t = std::time::Instant::now();
    let got = total.compute_scalar(&rt)?;
    let chunked = t.elapsed();
    println!(
        "chunkwise: sum = {got:.6e} in {:.1} ms",
        chunked.as_secs_f64() * 1e3
    );
    println!("  {}", rt.last_report());

    let t = std::time::Instant::now();
    let want: f64 = data.mapv(|v| (v * 2.0 + 1.0).powi(2)).sum();
    println!(
        "ndarray:   sum = {want:.6e} in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    // Broadcasting and reductions: the anomaly's standard deviation per column.
    let clim = x.mean_axis(0)?;
    let anom = (&x - &clim)?;
    let sd = anom.std_axis(0)?.compute(&rt)?;
    println!(
        "std of the anomaly, first columns: {:?}",
        &sd.as_slice().unwrap_or(&[])[..4]
    );
    println!("  {}", rt.last_report());
    Ok(())
}
