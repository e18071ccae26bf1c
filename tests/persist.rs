//! `persist` (issue 10 item 2): an intermediate computed once and reused. Its blocks are kept
//! in memory within the runtime's limit (counted as resident bytes by every later run) or
//! spilled to a scratch Zarr array when they do not fit; later computations read them instead
//! of the input; dropping the last handle frees the memory and removes the spilled store.

use chunkwise::io::BlockSource;
use chunkwise::prelude::*;
use chunkwise::{AnyArray, Region};
use ndarray::{ArrayD, Axis, Dimension, IxDyn};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A store-like source (natural chunks, rematerializable) that counts its reads and the
/// elements they return.
#[derive(Debug)]
struct Counting {
    shape: Vec<usize>,
    chunks: Vec<usize>,
    reads: AtomicUsize,
    elements: AtomicUsize,
}

fn value(i: &[usize]) -> f64 {
    i.iter().fold(0.0, |acc, &k| acc * 10.0 + k as f64 * 0.5)
}

impl Counting {
    fn new(shape: &[usize], chunks: &[usize]) -> Arc<Counting> {
        Arc::new(Counting {
            shape: shape.to_vec(),
            chunks: chunks.to_vec(),
            reads: AtomicUsize::new(0),
            elements: AtomicUsize::new(0),
        })
    }
    fn expected(&self) -> ArrayD<f64> {
        ArrayD::from_shape_fn(IxDyn(&self.shape), |i| value(i.slice()))
    }
    fn reads(&self) -> (usize, usize) {
        (
            self.reads.load(Ordering::Relaxed),
            self.elements.load(Ordering::Relaxed),
        )
    }
}

impl BlockSource for Counting {
    fn dtype(&self) -> DType {
        DType::F64
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        Some(self.chunks.clone())
    }
    fn read(&self, region: &Region) -> chunkwise::Result<AnyArray> {
        let r = region.ranges().to_vec();
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.elements.fetch_add(region.len(), Ordering::Relaxed);
        let shape: Vec<usize> = r.iter().map(|x| x.len()).collect();
        Ok(AnyArray::F64(ArrayD::from_shape_fn(IxDyn(&shape), |i| {
            let g: Vec<usize> = i.slice().iter().zip(&r).map(|(k, x)| k + x.start).collect();
            value(&g)
        })))
    }
    fn describe(&self) -> String {
        "counting source".into()
    }
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())))
}

/// Every run's tracked peak plus the persisted bytes it saw stays within the limit.
fn assert_within_limit(rt: &Runtime, what: &str) -> RunReport {
    let r = rt.last_report();
    assert!(
        r.peak_tracked_bytes + r.persisted_bytes <= r.memory_limit,
        "{what}: peak {} + persisted {} over the limit {}",
        r.peak_tracked_bytes,
        r.persisted_bytes,
        r.memory_limit
    );
    r
}

#[test]
fn two_computations_over_a_persisted_intermediate_read_the_input_once() {
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit("2 MiB")
        .build()
        .unwrap();
    let src = Counting::new(&[60, 40], &[16, 16]);
    let x = ChunkedArray::<f64>::from_source(src.clone(), vec![16, 16]).unwrap();
    let want = src.expected().mapv(|v| v * 2.0 + 1.0);
    let y = (&x * 2.0 + 1.0).persist(&rt).unwrap();
    let bytes = 60 * 40 * 8;
    assert_eq!(src.reads(), (12, 60 * 40), "persist reads every chunk once");
    assert_eq!(rt.persisted_bytes(), bytes);
    let r = assert_within_limit(&rt, "persist");
    assert_eq!(
        r.persisted_bytes, bytes,
        "the persist run counts what it keeps"
    );
    assert!(
        y.explain().contains("persisted in memory"),
        "{}",
        y.explain()
    );
    assert_eq!(y.chunks(), x.chunks());

    let total = y.sum().compute_scalar(&rt).unwrap();
    assert_within_limit(&rt, "sum");
    let mean0 = y.mean_axis(0).unwrap().compute(&rt).unwrap();
    let r = assert_within_limit(&rt, "mean_axis");
    assert_eq!(r.persisted_bytes, bytes);
    assert!(r.to_string().contains("persisted in memory"), "{r}");
    assert_eq!(
        src.reads(),
        (12, 60 * 40),
        "later computations read no input"
    );
    assert!((total - want.sum()).abs() <= 1e-9 * want.sum().abs());
    assert!(close(&mean0, &want.mean_axis(Axis(0)).unwrap()));
    // The same values as without persist, bit for bit (same grid, same reduction order).
    assert_eq!(y.compute(&rt).unwrap(), want);

    // Derived graphs keep the blocks alive; the last one to go frees them.
    let z = (&y - 1.0).abs();
    drop(y);
    assert_eq!(rt.persisted_bytes(), bytes);
    assert_eq!(
        z.compute(&rt).unwrap(),
        want.mapv(|v| (v - 1.0).abs()),
        "z still reads the kept blocks"
    );
    assert_eq!(src.reads(), (12, 60 * 40));
    drop(z);
    assert_eq!(rt.persisted_bytes(), 0, "resident bytes released on drop");
    ChunkedArray::<f64>::ones(&[10], [5])
        .unwrap()
        .sum()
        .compute(&rt)
        .unwrap();
    assert_eq!(rt.last_report().persisted_bytes, 0);
}

#[test]
fn persisted_bytes_leave_later_runs_the_rest_of_the_limit() {
    // Eight workers over 128 KiB blocks would hold well over 1 MiB at once; next to 1 MiB
    // persisted, admission must keep the run within the other 1 MiB of the 2 MiB limit.
    let limit = 2 << 20;
    let rt = Runtime::builder()
        .threads(8)
        .memory_limit(limit)
        .build()
        .unwrap();
    let x = ChunkedArray::<f64>::random_uniform(&[256, 512], [64, 64], 3, 0.0, 1.0).unwrap();
    let y = (&x * 3.0).persist(&rt).unwrap();
    assert_eq!(rt.persisted_bytes(), 1 << 20);
    assert_within_limit(&rt, "persist");
    let w = ChunkedArray::<f64>::random_uniform(&[1024, 1024], [128, 128], 4, 0.0, 1.0).unwrap();
    let want = (&w * 2.0).sum_axis(1).unwrap().compute(&rt).unwrap();
    let r = assert_within_limit(&rt, "unrelated reduction next to the persisted array");
    assert_eq!(r.persisted_bytes, 1 << 20);
    let got = (&(&w * 2.0) + &y.sum_axis(0).unwrap().sum())
        .unwrap()
        .sum_axis(1)
        .unwrap()
        .compute(&rt)
        .unwrap();
    assert_within_limit(&rt, "reduction over the persisted array");
    let ysum = (x.compute(&rt).unwrap() * 3.0).sum();
    assert!(close(&got, &(want + 1024.0 * ysum)));
    drop(y);
    assert_eq!(rt.persisted_bytes(), 0);
}

#[test]
fn persisting_an_in_memory_array_keeps_it_as_it_is() {
    let rt = Runtime::builder().threads(1).build().unwrap();
    let a = ArrayD::from_shape_fn(IxDyn(&[5, 4]), |i| (i[0] * 4 + i[1]) as i32);
    let x = ChunkedArray::from_ndarray(a.clone(), [2, 2]).unwrap();
    let y = x.persist(&rt).unwrap();
    assert_eq!(rt.persisted_bytes(), 0, "the caller owns in-memory inputs");
    assert_eq!(y.compute(&rt).unwrap(), a);
    // Persisting a persisted array keeps it (no second copy).
    let p = (&x + 1).persist(&rt).unwrap();
    let again = p.persist(&rt).unwrap();
    assert_eq!(rt.persisted_bytes(), 5 * 4 * 4);
    assert_eq!(again.compute(&rt).unwrap(), a.mapv(|v| v + 1));
}

#[test]
fn persisting_a_source_caches_its_reads() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    let src = Counting::new(&[30, 7], &[8, 7]);
    let x = ChunkedArray::<f64>::from_source(src.clone(), vec![8, 7]).unwrap();
    let y = x.persist(&rt).unwrap();
    let once = src.reads();
    assert_eq!(once.1, 30 * 7);
    assert_eq!(y.compute(&rt).unwrap(), src.expected());
    assert_eq!(
        y.max().unwrap().compute_scalar(&rt).unwrap(),
        value(&[29, 6])
    );
    assert_eq!(src.reads(), once);
}

#[cfg(feature = "zarr")]
mod spill {
    use super::*;

    fn scratch_entries(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_persisted_array_larger_than_the_limit_spills_and_reads_back_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let limit = 1 << 20;
        let rt = Runtime::builder()
            .threads(2)
            .memory_limit(limit)
            .scratch_dir(tmp.path())
            .build()
            .unwrap();
        // 4 MiB of f64, four times the limit, in 64 KiB chunks; every 7th value NaN.
        let src = Counting::new(&[512, 1024], &[64, 128]);
        let x = ChunkedArray::<f64>::from_source(src.clone(), vec![64, 128]).unwrap();
        let lazy = (&x * 2.0 + 1.0)
            .zip_with(&x, |a, b| {
                if (b * 2.0) as i64 % 7 == 0 {
                    f64::NAN
                } else {
                    a
                }
            })
            .unwrap();
        let want = src.expected().mapv(|b| {
            if (b * 2.0) as i64 % 7 == 0 {
                f64::NAN
            } else {
                b * 2.0 + 1.0
            }
        });
        let y = lazy.persist(&rt).unwrap();
        let r = assert_within_limit(&rt, "spilling persist");
        assert!(r.peak_tracked_bytes <= limit);
        assert_eq!(rt.persisted_bytes(), 0, "a spilled array holds no memory");
        assert_eq!(src.reads().1, 512 * 1024, "the input is read once");
        let entries = scratch_entries(tmp.path());
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert!(entries[0].starts_with("chunkwise-persist-"), "{entries:?}");
        let plan = y.explain();
        assert!(plan.contains("persisted, spilled to zarr"), "{plan}");
        assert_eq!(y.chunks(), lazy.chunks());

        let nansum = y.nansum().compute_scalar(&rt).unwrap();
        assert_within_limit(&rt, "nansum over the spilled array");
        let mean0 = y.mean_axis(0).unwrap().compute(&rt).unwrap();
        assert_within_limit(&rt, "mean_axis over the spilled array");
        assert_eq!(src.reads().1, 512 * 1024, "later runs read the spill");
        let want_nansum: f64 = want.iter().filter(|v| !v.is_nan()).sum();
        assert!((nansum - want_nansum).abs() <= 1e-9 * want_nansum.abs());
        let want_mean0 = want.mean_axis(Axis(0)).unwrap();
        assert!(
            mean0
                .iter()
                .zip(&want_mean0)
                .all(|(a, b)| (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * b.abs()),
            "NaN preserved through the spill"
        );
        // Identical to computing without persist (the same grid, so the same sums).
        let direct = lazy.nansum().compute_scalar(&rt).unwrap();
        assert_eq!(nansum.to_bits(), direct.to_bits());
        let block = y
            .slice([(100..130).into(), (1000..1024).into()])
            .unwrap()
            .compute(&rt)
            .unwrap();
        let want_block = want.slice(ndarray::s![100..130, 1000..1024]).to_owned();
        assert!(
            block
                .iter()
                .zip(&want_block)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );

        let z = &y + 1.0;
        drop(y);
        assert_eq!(
            scratch_entries(tmp.path()).len(),
            1,
            "z still reads the spill"
        );
        drop(z);
        assert!(
            scratch_entries(tmp.path()).is_empty(),
            "the spilled store is removed on drop: {:?}",
            scratch_entries(tmp.path())
        );
    }

    #[test]
    fn persisted_arrays_share_half_the_limit_and_the_rest_spill() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = Runtime::builder()
            .threads(2)
            .memory_limit("1 MiB")
            .scratch_dir(tmp.path())
            .build()
            .unwrap();
        // 300 KiB each: the first fits in half the limit, the second no longer does.
        let x = ChunkedArray::<f64>::random_normal(&[300, 128], [50, 64], 1, 0.0, 1.0).unwrap();
        let a = (&x + 1.0).persist(&rt).unwrap();
        assert_eq!(rt.persisted_bytes(), 300 * 128 * 8);
        let b = (&x * 2.0).persist(&rt).unwrap();
        assert_eq!(rt.persisted_bytes(), 300 * 128 * 8, "b spilled");
        assert_within_limit(&rt, "spilling next to a resident array");
        assert!(a.explain().contains("persisted in memory"));
        assert!(b.explain().contains("spilled"));
        assert_eq!(scratch_entries(tmp.path()).len(), 1);
        let d = (&b - &a).unwrap().sum().compute_scalar(&rt).unwrap();
        assert_within_limit(&rt, "a run over both");
        let xs = x.compute(&rt).unwrap();
        let want = (&xs * 2.0 - (&xs + 1.0)).sum();
        assert!((d - want).abs() < 1e-9 * (1.0 + want.abs()));
        drop(a);
        assert_eq!(rt.persisted_bytes(), 0);
        drop(b);
        assert!(scratch_entries(tmp.path()).is_empty());
    }

    #[test]
    fn an_irregular_grid_spills_and_keeps_its_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = Runtime::builder()
            .threads(2)
            .memory_limit(40 << 10)
            .scratch_dir(tmp.path())
            .build()
            .unwrap();
        let a = ArrayD::from_shape_fn(IxDyn(&[100, 60]), |i| (i[0] * 60 + i[1]) as i32);
        let x = ChunkedArray::from_ndarray(a.clone(), [20, 60])
            .unwrap()
            .rechunk(ChunkSpec::PerAxis(vec![
                AxisSpec::Explicit(vec![30, 25, 45]),
                AxisSpec::Explicit(vec![10, 50]),
            ]))
            .unwrap();
        let y = (&x * 3).persist(&rt).unwrap();
        assert!(y.explain().contains("spilled"), "{}", y.explain());
        assert_eq!(y.chunks(), x.chunks());
        assert_eq!(y.compute(&rt).unwrap(), a.mapv(|v| v * 3));
        assert_within_limit(&rt, "reading an irregular spill");
        drop(y);
        assert!(scratch_entries(tmp.path()).is_empty());
    }
}

/// A source whose reads fail past row `fail_from`, as a store with a corrupt chunk.
#[derive(Debug)]
struct Failing {
    shape: Vec<usize>,
    fail_from: usize,
}

impl BlockSource for Failing {
    fn dtype(&self) -> DType {
        DType::F64
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn read(&self, region: &Region) -> chunkwise::Result<AnyArray> {
        if region.ranges()[0].end > self.fail_from {
            return Err(Error::InvalidArgument {
                op: "read failing source",
                detail: format!("region {region} is corrupt"),
            });
        }
        Ok(AnyArray::F64(ArrayD::zeros(IxDyn(&region.shape()))))
    }
    fn describe(&self) -> String {
        "failing source".into()
    }
}

#[test]
fn a_failed_persist_holds_nothing_and_leaves_no_scratch() {
    let tmp = tempfile::tempdir().unwrap();
    // 2 MiB: in memory under 64 MiB, spilled under 1 MiB (with the zarr feature).
    for limit in [64usize << 20, 1 << 20] {
        let rt = Runtime::builder()
            .threads(2)
            .memory_limit(limit)
            .scratch_dir(tmp.path())
            .build()
            .unwrap();
        let src = Arc::new(Failing {
            shape: vec![512, 512],
            fail_from: 400,
        });
        let x = ChunkedArray::<f64>::from_source(src, vec![64, 64]).unwrap();
        let e = (&x + 1.0).persist(&rt).unwrap_err().to_string();
        let spills = limit < 4 << 20;
        let expected = if spills && cfg!(not(feature = "zarr")) {
            "needs the `zarr` feature"
        } else {
            "corrupt"
        };
        assert!(e.contains(expected), "limit {limit}: {e}");
        assert_eq!(rt.persisted_bytes(), 0, "limit {limit}");
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(left.is_empty(), "limit {limit}: {left:?}");
    }
}

#[cfg(not(feature = "zarr"))]
#[test]
fn without_zarr_a_persist_that_does_not_fit_is_a_clear_error() {
    let rt = Runtime::builder()
        .threads(1)
        .memory_limit("1 MiB")
        .build()
        .unwrap();
    let x = ChunkedArray::<f64>::ones(&[512, 512], [64, 64]).unwrap();
    let e = (&x * 2.0).persist(&rt).unwrap_err().to_string();
    assert!(e.contains("persist") && e.contains("[512, 512]"), "{e}");
    assert!(e.contains("zarr"), "{e}");
    assert_eq!(rt.persisted_bytes(), 0);
}

/// What to compute over an array, with and without persisting it first.
#[derive(Clone, Copy, Debug)]
enum Step {
    Sum0,
    Max,
    Slice,
    AddSelf,
    Transpose,
    Cumsum,
}

/// `step` over `x`, computed, as text: `Debug` prints every value exactly (shortest
/// round-trip digits, `NaN`, the sign of zero), so equal texts mean equal arrays, NaN included.
fn apply<T: chunkwise::Numeric>(x: &ChunkedArray<T>, step: Step, rt: &Runtime) -> Result<String> {
    let text = |a: &dyn std::fmt::Debug| format!("{a:?}");
    Ok(match step {
        Step::Sum0 => text(&x.sum_axis(0)?.compute(rt)?),
        Step::Max => text(&x.max()?.compute(rt)?),
        Step::Slice => {
            let r: Vec<ndarray::SliceInfoElem> = x
                .shape()
                .iter()
                .map(|&n| ndarray::Slice::from(n / 3..n).into())
                .collect();
            text(&x.slice(&r)?.compute(rt)?)
        }
        Step::AddSelf => text(&(x + x)?.compute(rt)?),
        Step::Transpose => text(&x.t().compute(rt)?),
        Step::Cumsum => text(&x.cumsum(x.ndim() - 1)?.compute(rt)?),
    })
}

/// `step` over `lazy` without and with persisting it first, and the last run's report;
/// `None` when a tiny limit refuses the plan (with and without persist alike).
fn both<T: chunkwise::Numeric>(
    lazy: &ChunkedArray<T>,
    step: Step,
    rt: &Runtime,
) -> Result<Option<(String, String, RunReport)>> {
    let run = || -> Result<(String, String, RunReport)> {
        let want = apply(lazy, step, rt)?;
        let y = lazy.persist(rt)?;
        let got = apply(&y, step, rt)?;
        Ok((want, got, rt.last_report()))
    };
    match run() {
        Ok(r) => Ok(Some(r)),
        Err(Error::PlanTooLarge { .. } | Error::TaskTooLarge { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Memory limits: one where most arrays spill (32 KiB: persist may keep 16 KiB), with the
/// `zarr` feature, and one where they stay in memory.
fn limits() -> impl Strategy<Value = usize> {
    let spilling = if cfg!(feature = "zarr") {
        32 << 10
    } else {
        4 << 20
    };
    prop_oneof![Just(spilling), Just(4usize << 20)]
}

/// Shapes of a few KiB to ~100 KiB in blocks of 1-13 KiB, a step, and a limit.
fn case() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, u64, Step, usize)> {
    let dims = |rank: usize| match rank {
        1 => (2000usize..=8000, 50usize..=800),
        2 => (40..=100, 5..=40),
        _ => (12..=24, 3..=12),
    };
    (1usize..=3)
        .prop_flat_map(move |rank| {
            let (n, c) = dims(rank);
            (
                proptest::collection::vec(n, rank),
                proptest::collection::vec(c, rank),
            )
        })
        .prop_flat_map(|(shape, chunks)| {
            (
                Just(shape),
                Just(chunks),
                any::<u64>(),
                prop_oneof![
                    Just(Step::Sum0),
                    Just(Step::Max),
                    Just(Step::Slice),
                    Just(Step::AddSelf),
                    Just(Step::Transpose),
                    Just(Step::Cumsum),
                ],
                limits(),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn persist_then_an_op_equals_the_op(
        (shape, chunks, seed, step, limit) in case(), as_int in any::<bool>()
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let rt = Runtime::builder()
            .threads(2)
            .memory_limit(limit)
            .scratch_dir(tmp.path())
            .build()
            .unwrap();
        let raw = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
            let k = i.slice().iter().fold(seed % 97, |acc, &v| acc * 31 + v as u64);
            k % 23
        });
        let chunks: Vec<usize> = chunks.iter().zip(&shape).map(|(&c, &n)| c.min(n)).collect();
        let outcome = if as_int {
            let x = ChunkedArray::from_ndarray(raw.mapv(|k| k as i32 - 11), chunks.clone())
                .unwrap();
            both(&(&x * 3 - 1), step, &rt)
        } else {
            let x = ChunkedArray::from_ndarray(
                raw.mapv(|k| if k == 5 { f64::NAN } else { k as f64 * 0.25 - 2.0 }),
                chunks.clone(),
            )
            .unwrap();
            both(&(&x * 1.5).sqrt(), step, &rt)
        };
        let outcome = outcome.map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some((want, got, r)) = outcome {
            prop_assert_eq!(got, want);
            prop_assert!(r.peak_tracked_bytes + r.persisted_bytes <= limit);
        }
        prop_assert_eq!(rt.persisted_bytes(), 0);
        prop_assert!(std::fs::read_dir(tmp.path()).map(|d| d.count()).unwrap_or(0) == 0);
    }
}
