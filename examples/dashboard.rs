//! Watch computations in the live dashboard (feature `dashboard`):
//!
//! ```text
//! cargo run --release --features dashboard --example dashboard -- [ADDR] [SECONDS]
//! ```
//!
//! Serves the dashboard at ADDR (default `127.0.0.1:8787`), prints its link, then computes
//! standard deviations of anomalies of random data on two workers, one run after another, for
//! about SECONDS (default 20), and exits. `.ci/dashboard_check.sh` watches it in headless
//! Chromium.

use chunkwise::prelude::*;
use std::io::Write;
use std::time::{Duration, Instant};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8787".into());
    let secs: f64 = match args.next() {
        Some(s) => s.parse().map_err(|_| Error::InvalidArgument {
            op: "dashboard example",
            detail: format!("SECONDS must be a number, not {s:?}"),
        })?,
        None => 20.0,
    };
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .dashboard(addr)
        .build()?;
    println!("dashboard: {}", rt.dashboard_url().unwrap_or_default());
    std::io::stdout().flush().ok();
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut seed = 0;
    while Instant::now() < until {
        let x = ChunkedArray::<f64>::random_normal(&[4000, 4000], [200, 200], seed, 10.0, 2.0)?;
        let sd = (&x - &x.mean_axis(0)?)?.std_axis(0)?.compute(&rt)?;
        let r = rt.last_report();
        println!(
            "run {seed}: mean sd {:.3}; {r}",
            sd.mean().unwrap_or(f64::NAN)
        );
        seed += 1;
    }
    Ok(())
}
