//! What the live dashboard costs (issue 10): W2 (mean over time of the peer data's Zarr v3
//! t2m) and W5 (`ones((10000, 10000))` in 100² chunks, `.sum()`, 10,000 source tasks) on two
//! runtimes of the same size, one without a dashboard and one with a dashboard whose state is
//! polled as an open page polls it (every 400 ms). The runs alternate between the two, so load
//! from elsewhere falls on both alike; one JSON line per workload gives the median, fastest
//! and slowest run of each and the ratio of the medians.
//!
//! ```text
//! cargo run --release --features dashboard --example dashboard_overhead -- --data /tmp/peerdata [--reps 15]
//! ```
//! Without `--data` (or without the store there), only W5 runs.

use chunkwise::prelude::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// GETs `/state.json` from `addr` every 400 ms until `stop`, counting the answers.
fn poll(addr: SocketAddr, stop: Arc<AtomicBool>, answers: Arc<AtomicUsize>) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.write_all(b"GET /state.json HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut body = Vec::new();
            if s.read_to_end(&mut body).is_ok() && body.starts_with(b"HTTP/1.") {
                answers.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(400));
    }
}

/// One workload: its result on a runtime.
type Workload = dyn Fn(&Runtime) -> Result<f64>;

/// Median, fastest and slowest of `t` (seconds).
fn stats(mut t: Vec<f64>) -> (f64, f64, f64) {
    t.sort_by(f64::total_cmp);
    let n = t.len();
    ((t[(n - 1) / 2] + t[n / 2]) / 2.0, t[0], t[n - 1])
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut data, mut reps) = (None, 15usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next(),
            "--reps" => reps = args.next().and_then(|r| r.parse().ok()).unwrap_or(reps),
            other => eprintln!("ignoring argument {other}"),
        }
    }
    let build = |dash: bool| {
        let b = Runtime::builder().threads(2).memory_limit("256 MiB");
        if dash {
            b.dashboard("127.0.0.1:0").build()
        } else {
            b.build()
        }
    };
    let (plain, dash) = (build(false)?, build(true)?);
    let addr = dash.dashboard_addr().expect("asked for a dashboard");
    let (stop, answers) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let poller = {
        let (stop, answers) = (stop.clone(), answers.clone());
        std::thread::spawn(move || poll(addr, stop, answers))
    };

    let mut workloads: Vec<(&str, Box<Workload>)> = vec![(
        "W5",
        Box::new(|rt: &Runtime| {
            ChunkedArray::<f64>::ones(&[10_000, 10_000], [100, 100])?
                .sum()
                .compute_scalar(rt)
        }),
    )];
    if let Some(dir) = data {
        let zarr = format!("{dir}/climate_v3.zarr");
        if std::path::Path::new(&zarr).exists() {
            workloads.insert(
                0,
                (
                    "W2",
                    Box::new(move |rt: &Runtime| {
                        let x = ChunkedArray::<f32>::open_zarr(&zarr, "t2m")?;
                        Ok(x.mean_axis(0)?.compute(rt)?.iter().map(|&v| v as f64).sum())
                    }),
                ),
            );
        } else {
            eprintln!("no {zarr}: W2 skipped");
        }
    }
    for (name, f) in &workloads {
        // One warm-up run each (page cache, allocator), then alternate.
        let (a, b) = (f(&plain)?, f(&dash)?);
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{name}: the dashboard changed the result"
        );
        let (mut tp, mut td) = (Vec::new(), Vec::new());
        for i in 0..reps {
            // Alternate which goes first, so neither always follows the other.
            let order: [(&Runtime, bool); 2] = if i % 2 == 0 {
                [(&plain, false), (&dash, true)]
            } else {
                [(&dash, true), (&plain, false)]
            };
            for (rt, is_dash) in order {
                let t = Instant::now();
                std::hint::black_box(f(rt)?);
                let s = t.elapsed().as_secs_f64();
                if is_dash { td.push(s) } else { tp.push(s) }
            }
        }
        let tasks = dash.last_report().tasks;
        let ((mp, lp, hp), (md, ld, hd)) = (stats(tp), stats(td));
        println!(
            "{}",
            json!({
                "workload": name, "reps": reps, "tasks": tasks,
                "without_s": {"median": mp, "min": lp, "max": hp},
                "with_dashboard_s": {"median": md, "min": ld, "max": hd},
                "ratio_of_medians": md / mp,
            })
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = poller.join();
    eprintln!("dashboard polled {} times", answers.load(Ordering::Relaxed));
    Ok(())
}
