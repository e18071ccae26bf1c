//! Monthly climatology of a Zarr temperature field and the standard deviation of the monthly
//! anomaly, both written back to Zarr, computed out of core within a memory limit.
//!
//! The month of each time step comes from the store itself: the array's time coordinate
//! (the array named by its first dimension, else `time`) decoded with its CF `units` and
//! `calendar` by [`chunkwise::time::TimeCoder`]. Then, as xarray's
//! `clim = t2m.groupby("time.month").mean()` and `(t2m.groupby("time.month") - clim).std("time")`:
//!
//! ```text
//! cargo run --release --example climatology                       # data/sample.zarr, array t2m
//! cargo run --release --example climatology -- STORE ARRAY [--memory-limit 256MiB] [--out OUT.zarr]
//! ```
//!
//! The output store holds `t2m_monthly_clim` (month, lat, lon), `t2m_monthly_anomaly_std`
//! (lat, lon) and `month`, the month of each climatology slice.

use chunkwise::io::zarr::{ZarrSource, ZarrWriteOptions};
use chunkwise::prelude::*;
use chunkwise::time::TimeCoder;
use serde_json::{Value, json};

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

/// The month (1 to 12) of each step along axis 0 of `array`, from its CF time coordinate in
/// the same store.
fn month_labels(rt: &Runtime, store: &str, array: &str) -> Result<Vec<i64>> {
    let names = ZarrSource::open(store, array)?
        .info()
        .dimension_names
        .clone();
    let time = names
        .and_then(|n| n.into_iter().next().flatten())
        .unwrap_or_else(|| "time".into());
    let bad = |detail: String| Error::InvalidArgument {
        op: "climatology",
        detail,
    };
    let coord = ZarrSource::open(store, &time)?;
    let attr = |k: &str| coord.attributes().get(k).and_then(Value::as_str);
    let units = attr("units").ok_or_else(|| {
        bad(format!(
            "{store}:{time} has no CF `units` attribute (\"days since ...\"): its months are unknown"
        ))
    })?;
    let coder = TimeCoder::new(units, attr("calendar"))?;
    let values = ChunkedArray::<f64>::open_zarr_as(store, &time)?.compute(rt)?;
    let values: Vec<f64> = values.iter().copied().collect();
    Ok(coder
        .decode(&values)?
        .iter()
        .map(|t| i64::from(t.month))
        .collect())
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

    let by_month = t2m.groupby(0, month_labels(&rt, &store, &array)?)?;
    let clim = by_month.mean()?; // (month, lat, lon)
    let sd = by_month.anomaly(&clim)?.std_axis(0)?; // std over time of x - clim[month]
    println!(
        "{} time steps in months {:?}, grouped by {}",
        t2m.shape()[0],
        by_month.groups(),
        by_month.strategy()
    );

    let write = |dims: &[&str], attrs: Value| ZarrWriteOptions {
        overwrite: true,
        dimension_names: Some(dims.iter().map(|d| Some(d.to_string())).collect()),
        attributes: match attrs {
            Value::Object(m) => m,
            _ => Default::default(),
        },
        ..Default::default()
    };
    let months = ndarray::Array1::from(by_month.groups().to_vec()).into_dyn();
    ChunkedArray::from_ndarray(months, [-1])?.to_zarr_with(
        &rt,
        &out,
        "month",
        write(&["month"], json!({"long_name": "month of the year"})),
        None,
    )?;
    let r1 = clim.to_zarr_with(
        &rt,
        &out,
        "t2m_monthly_clim",
        write(
            &["month", "lat", "lon"],
            json!({"units": "K", "cell_methods": "time: mean within months"}),
        ),
        None,
    )?;
    println!("monthly climatology   -> {out}:t2m_monthly_clim  {r1}");
    let r2 = sd.to_zarr_with(
        &rt,
        &out,
        "t2m_monthly_anomaly_std",
        write(
            &["lat", "lon"],
            json!({"units": "K", "cell_methods": "time: standard_deviation of anomaly from monthly mean"}),
        ),
        None,
    )?;
    println!("monthly anomaly std   -> {out}:t2m_monthly_anomaly_std  {r2}");

    let m = ChunkedArray::<f32>::open_zarr(&out, "t2m_monthly_clim")?;
    let s = ChunkedArray::<f32>::open_zarr(&out, "t2m_monthly_anomaly_std")?;
    let range = (&m.max_axis(0)? - &m.min_axis(0)?)?; // the seasonal cycle's range
    println!(
        "grid means: climatology {:.3} K, seasonal range {:.3} K, monthly anomaly std {:.3} K",
        m.mean().compute_scalar(&rt)?,
        range.mean().compute_scalar(&rt)?,
        s.mean().compute_scalar(&rt)?
    );
    Ok(())
}
