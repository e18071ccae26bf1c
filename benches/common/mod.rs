//! Shared helpers for the benches: test data, a two-thread rayon pool for the ndarray+rayon
//! baselines, and a quick side-by-side timer used to print ratios next to criterion's output.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Worker threads for chunkwise and for the rayon baselines (the machine has 2 cores).
pub(crate) const THREADS: usize = 2;

/// A rayon pool with [`THREADS`] threads, for `pool.install(|| ...)` baselines.
pub(crate) fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .expect("rayon pool")
}

/// A chunkwise runtime with [`THREADS`] threads and memory limit `limit`.
pub(crate) fn runtime(limit: &str) -> chunkwise::Runtime {
    chunkwise::Runtime::builder()
        .threads(THREADS)
        .memory_limit(limit)
        .build()
        .expect("runtime")
}

/// Deterministic pseudo-random value in [0, 1) for index `k` (splitmix64).
#[inline]
pub(crate) fn hash01(k: u64) -> f64 {
    let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// An `n × n` f64 array of random-ish values in [-1, 1).
pub(crate) fn random_square(n: usize) -> ndarray::Array2<f64> {
    let v: Vec<f64> = (0..(n * n) as u64).map(|k| 2.0 * hash01(k) - 1.0).collect();
    ndarray::Array2::from_shape_vec((n, n), v).expect("shape")
}

/// Median wall time of `reps` runs of `f` (after one warm-up run).
pub(crate) fn median_time<R>(reps: usize, mut f: impl FnMut() -> R) -> Duration {
    std::hint::black_box(f());
    let mut t: Vec<Duration> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            std::hint::black_box(f());
            s.elapsed()
        })
        .collect();
    t.sort();
    t[t.len() / 2]
}

/// Milliseconds, for printing.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Whether to print the side-by-side summaries: only under `cargo bench` (which passes
/// `--bench`), not under `cargo test --benches` (criterion's quick test mode) or `--list`, and
/// not with `CW_NO_SUMMARY=1`.
pub(crate) fn summaries_enabled() -> bool {
    let args: Vec<String> = std::env::args().collect();
    std::env::var_os("CW_NO_SUMMARY").is_none()
        && args.iter().any(|a| a == "--bench")
        && !args.iter().any(|a| a == "--list")
}
