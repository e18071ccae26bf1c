use chunkwise::prelude::*;
use ndarray::parallel::prelude::*;
use ndarray::{Array2, Zip};
use std::time::Instant;
fn main() {
    if std::env::var("MALLOPT").is_ok() {
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        }
    }
    let n = 8192;
    let c = n / 8;
    let mut x = Array2::<f64>::zeros((n, n));
    Zip::indexed(&mut x).par_for_each(|(i, j), v| *v = ((i * 31 + j) % 1000) as f64 / 1000.0);
    let rt = Runtime::builder()
        .threads(2)
        .record_events(true)
        .build()
        .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let cx = ChunkedArray::from_ndarray(x.clone(), [c, c]).unwrap();
    let expr = (&cx * 2.0 + 1.0).powi(2).sum();
    let f = |v: &f64| (v * 2.0 + 1.0).powi(2);
    let mode = std::env::args().nth(1).unwrap_or_default();
    for r in 0..12 {
        let s = Instant::now();
        let v = expr.compute_scalar(&rt).unwrap();
        let t_cw = s.elapsed().as_secs_f64();
        let rep = rt.last_report();
        let mut per = [0usize; 4];
        let mut busy = [0f64; 4];
        for e in &rep.events {
            per[e.worker.min(3)] += 1;
            busy[e.worker.min(3)] += (e.end - e.start).as_secs_f64();
        }
        let first = rep
            .events
            .iter()
            .map(|e| e.start.as_secs_f64())
            .fold(f64::MAX, f64::min);
        let s = Instant::now();
        let q = if mode == "noser" {
            0.0
        } else {
            std::hint::black_box(&x).iter().map(f).sum::<f64>()
        };
        let t_ser = s.elapsed().as_secs_f64();
        let s = Instant::now();
        let p = if mode == "nopar" {
            0.0
        } else {
            pool.install(|| std::hint::black_box(&x).par_iter().map(f).sum::<f64>())
        };
        let t_par = s.elapsed().as_secs_f64();
        println!("ser {:.4} {}", t_ser, q > 0.0);
        println!(
            "run {r}: cw {:.4} (tasks {} per worker {:?} busy {:.4?} first start {:.5}) par {:.4} {}",
            t_cw,
            rep.tasks,
            &per[..2],
            &busy[..2],
            first,
            t_par,
            (v - p).abs() < 1e-3 * v.abs()
        );
    }
}
