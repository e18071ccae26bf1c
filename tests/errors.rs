//! Bad input gives a typed error (the variant is matched), never a panic or an abort.

use chunkwise::prelude::*;
use chunkwise::{parse_memory_size, where_};
use ndarray::{Array2, ArrayD, Dimension, IxDyn};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

fn arr(shape: &[usize], chunks: impl Into<ChunkSpec>) -> ChunkedArray<f64> {
    let a = ArrayD::from_shape_fn(IxDyn(shape), |i| i.slice().iter().sum::<usize>() as f64);
    ChunkedArray::from_ndarray(a, chunks).unwrap()
}

/// The runtime still works after a failed run.
fn still_works(rt: &Runtime) {
    let x = arr(&[5, 3], [2, 2]);
    assert_eq!(x.sum().compute_scalar(rt).unwrap(), 45.0);
}

#[test]
fn zero_chunk_size() {
    let r = ChunkedArray::from_ndarray(Array2::<f64>::zeros((4, 4)), [2usize, 0]);
    assert!(
        matches!(r, Err(Error::ZeroChunk { axis: 1, ref shape, .. }) if shape == &[4, 4]),
        "{r:?}"
    );
    let r = ChunkedArray::<f32>::zeros(&[3, 5], [0, 1]);
    assert!(matches!(r, Err(Error::ZeroChunk { axis: 0, .. })), "{r:?}");
    let r = ChunkedArray::<i32>::from_shape_fn(
        &[4],
        ChunkSpec::PerAxis(vec![AxisSpec::Explicit(vec![2, 0, 2])]),
        |_| 0,
    );
    assert!(matches!(r, Err(Error::ZeroChunk { axis: 0, .. })), "{r:?}");
    let r = ChunkedArray::<f64>::ones(&[7], ChunkSpec::Uniform(0));
    assert!(matches!(r, Err(Error::ZeroChunk { .. })), "{r:?}");
}

#[test]
fn chunk_rank_mismatch() {
    let r = ChunkedArray::from_ndarray(Array2::<f64>::zeros((4, 4)), [2usize]);
    assert!(
        matches!(
            r,
            Err(Error::ChunkRankMismatch {
                chunk_rank: 1,
                rank: 2,
                ..
            })
        ),
        "{r:?}"
    );
    let r = ChunkedArray::<f64>::zeros(&[4], [2, 2, 2]);
    assert!(
        matches!(
            r,
            Err(Error::ChunkRankMismatch {
                chunk_rank: 3,
                rank: 1,
                ..
            })
        ),
        "{r:?}"
    );
    let r = ChunkedArray::<f64>::random_uniform(&[], [1], 0, 0.0, 1.0);
    assert!(matches!(r, Err(Error::ChunkRankMismatch { .. })), "{r:?}");
    let grid = ChunkGrid::regular(&[4, 4], &[2, 2]);
    let r = ChunkedArray::<f64>::zeros(&[4], grid);
    assert!(matches!(r, Err(Error::ChunkRankMismatch { .. })), "{r:?}");
}

#[test]
fn explicit_chunks_must_sum_to_the_axis() {
    let spec = ChunkSpec::PerAxis(vec![AxisSpec::Whole, AxisSpec::Explicit(vec![3, 3])]);
    let r = ChunkedArray::from_ndarray(Array2::<i64>::zeros((2, 7)), spec);
    assert!(
        matches!(
            r,
            Err(Error::ChunkSumMismatch {
                axis: 1,
                sum: 6,
                len: 7,
                ..
            })
        ),
        "{r:?}"
    );
    let spec = ChunkSpec::PerAxis(vec![AxisSpec::Explicit(vec![5, 5])]);
    let r = ChunkedArray::<u8>::zeros(&[9], spec);
    assert!(
        matches!(
            r,
            Err(Error::ChunkSumMismatch {
                sum: 10,
                len: 9,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn incompatible_broadcast_names_shapes_and_op() {
    let a = arr(&[3, 4], [2, 2]);
    let b = arr(&[5], [5]);
    let check = |r: Result<ChunkedArray<f64>>, op: &str| {
        let e = r.expect_err("broadcast must fail");
        assert!(matches!(e, Error::Broadcast { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("[3, 4]") && msg.contains("[5]"),
            "message should name both shapes: {msg}"
        );
        assert!(msg.contains(op), "message should name the op {op}: {msg}");
    };
    check(&a + &b, "add");
    check(&b - &a, "sub");
    check(&a * &b, "mul");
    check(&a / &b, "div");
    check(a.zip_with(&b, |x, y| x + y), "zip_with");
    let mask = a.gt(1.0).unwrap();
    check(where_(&mask, &b, 0.0), "where");
    let e = a.lt(&b).expect_err("comparison must fail");
    assert!(matches!(e, Error::Broadcast { .. }), "{e:?}");
    // (2, 3, 4) against (2, 4): the middle axes differ after aligning on the right.
    let c = arr(&[2, 3, 4], [1, 3, 2]);
    let d = arr(&[2, 4], [2, 2]);
    let e = (&c + &d).expect_err("broadcast must fail");
    assert!(
        matches!(e, Error::Broadcast { ref lhs, ref rhs, .. } if lhs == &[2, 3, 4] && rhs == &[2, 4]),
        "{e:?}"
    );
}

#[test]
fn task_too_large_before_anything_runs() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let x = ChunkedArray::<f64>::from_fn(&[4096, 4096], [4096, 4096], move |r: &Region| {
        c.fetch_add(1, Ordering::SeqCst);
        ArrayD::zeros(IxDyn(&r.shape()))
    })
    .unwrap();
    let small = Runtime::builder()
        .threads(2)
        .memory_limit("1 MiB")
        .build()
        .unwrap();
    let r = (&x + 1.0).compute(&small);
    assert!(
        matches!(r, Err(Error::TaskTooLarge { needed, limit, .. }) if needed > limit && limit == 1 << 20),
        "{:?}",
        r.map(|a| a.shape().to_vec())
    );
    let r = x.sum().compute(&small);
    assert!(
        matches!(r, Err(Error::TaskTooLarge { .. })),
        "{:?}",
        r.map(|a| a.shape().to_vec())
    );
    let mut seen = 0;
    let r = x.for_each_block(&small, |_, _| {
        seen += 1;
        Ok(())
    });
    assert!(matches!(r, Err(Error::TaskTooLarge { .. })), "{r:?}");
    assert_eq!(seen, 0);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no block may be read");
    still_works(&small);
}

#[test]
fn axis_out_of_range() {
    let x = arr(&[3, 4], [2, 2]);
    assert!(matches!(x.sum_axis(2), Err(Error::Axis { .. })));
    assert!(matches!(
        x.mean_axes(&[0, 7], false),
        Err(Error::Axis { .. })
    ));
    assert!(matches!(x.max_axis(2), Err(Error::Axis { .. })));
    assert!(matches!(x.count_nonzero_axis(9), Err(Error::Axis { .. })));
    assert!(matches!(x.argmin_axis(2), Err(Error::Axis { .. })));
    assert!(matches!(x.nanargmax_axis(3), Err(Error::Axis { .. })));
    let r = x.var_axis(2);
    assert!(matches!(r, Err(Error::Axis { .. })), "{r:?}");
    let r = x.std_axes(&[5], false);
    assert!(matches!(r, Err(Error::Axis { .. })), "{r:?}");
    let s = ChunkedArray::<f64>::full(&[], 1.0, Vec::<usize>::new()).unwrap();
    assert!(matches!(s.sum_axis(0), Err(Error::Axis { .. })));
}

#[test]
fn duplicated_axes() {
    let x = arr(&[3, 4, 2], [2, 2, 2]);
    let r = x.sum_axes(&[0, 0], false);
    assert!(matches!(r, Err(Error::Axis { .. })), "{r:?}");
    let r = x.min_axes(&[2, 1, 2], true);
    assert!(matches!(r, Err(Error::Axis { .. })), "{r:?}");
    let r = x.var_axes(&[1, 1], false);
    assert!(matches!(r, Err(Error::Axis { .. })), "{r:?}");
    let r = x.any_axes(&[0, 1, 0], false);
    assert!(matches!(r, Err(Error::Axis { .. })), "{r:?}");
}

#[test]
fn ddof_not_smaller_than_n() {
    let x = arr(&[3, 4], [2, 2]);
    let d = |ddof: f64| ReduceOpts::default().ddof(ddof);
    let bad = |r: Result<ChunkedArray<f64>>| matches!(r, Err(Error::InvalidArgument { .. }));
    assert!(bad(x.var_axes(&[0], d(3.0))));
    assert!(bad(x.std_axes(&[1], d(4.0))));
    assert!(bad(x.var_axes(&[0, 1], d(12.0))));
    assert!(bad(x.std_axes(&[1, 0], d(20.0))));
    assert!(bad(x.var_axes(&[0, 1], d(12.0).keepdims(true))));
    assert!(bad(x.var_axes(&[0, 1], d(-1.0))));
    assert!(bad(x.std_axes(&[0], d(f64::NAN))));
    assert!(bad(x.nanvar_axes(&[0, 1], d(-0.5))));
    // Just below n is fine.
    let rt = rt();
    let v = x.var_axes(&[0], d(2.0)).unwrap().compute(&rt).unwrap();
    assert_eq!(v.shape(), &[4]);
}

/// `std()`, `std_axis(axis)` and the other `var`/`std` forms without options use NumPy's
/// default `ddof = 0`, like `mean()`; `ReduceOpts::ddof` gives another.
#[test]
fn var_and_std_default_to_ddof_zero() {
    let rt = rt();
    let x = ChunkedArray::from_ndarray(
        ndarray::array![[1.0f64, 3.0], [2.0, 6.0]].into_dyn(),
        [1, 1],
    )
    .unwrap();
    // np.var([1, 3, 2, 6]) == 3.5, np.var(..., ddof=1) == 14 / 3
    assert_eq!(x.var().compute_scalar(&rt).unwrap(), 3.5);
    assert_eq!(x.std().compute_scalar(&rt).unwrap(), 3.5f64.sqrt());
    assert_eq!(x.nanvar().compute_scalar(&rt).unwrap(), 3.5);
    assert_eq!(x.nanstd().compute_scalar(&rt).unwrap(), 3.5f64.sqrt());
    let sample = x
        .var_axes(&[0, 1], ReduceOpts::default().ddof(1.0))
        .unwrap();
    assert!((sample.compute_scalar(&rt).unwrap() - 14.0 / 3.0).abs() < 1e-12);
    // np.std(x, axis=0) == [0.5, 1.5]; with ddof=1, sqrt([0.5, 4.5])
    let s0 = x.std_axis(0).unwrap().compute(&rt).unwrap();
    assert_eq!(s0, ndarray::array![0.5, 1.5].into_dyn());
    let s1 = x.std_axes(&[0], ReduceOpts::default().ddof(1.0)).unwrap();
    let s1 = s1.compute(&rt).unwrap();
    assert_eq!(s1, ndarray::array![0.5f64.sqrt(), 4.5f64.sqrt()].into_dyn());
}

/// A `ddof` given to a reduction that has none is refused, not silently ignored.
#[test]
fn ddof_is_refused_where_it_means_nothing() {
    let x = arr(&[3, 4], [2, 2]);
    let o = ReduceOpts::default().ddof(1.0);
    let results = [
        ("sum", x.sum_axes(&[0], o)),
        ("nansum", x.nansum_axes(&[0], o)),
        ("prod", x.prod_axes(&[0], o)),
        ("mean", x.mean_axes(&[0], o)),
        ("nanmean", x.nanmean_axes(&[1], o)),
        ("min", x.min_axes(&[0], o)),
        ("nanmax", x.nanmax_axes(&[0, 1], o)),
    ];
    for (name, r) in results {
        match r {
            Err(e @ Error::InvalidArgument { .. }) => {
                let m = e.to_string();
                assert!(m.starts_with(&format!("{name}: ddof 1 ")), "{m}");
            }
            other => panic!("{name} with ddof 1: {other:?}"),
        }
    }
    for r in [x.count_nonzero_axes(&[0], o), x.count_axes(&[1], o)] {
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    }
    assert!(matches!(
        x.any_axes(&[0], o),
        Err(Error::InvalidArgument { .. })
    ));
    // Zero is every reduction's default and fine everywhere.
    assert!(x.sum_axes(&[0], ReduceOpts::default().ddof(0.0)).is_ok());
}

#[test]
fn extremes_of_an_empty_axis() {
    let x = arr(&[3, 0, 2], [2, 1, 2]);
    assert!(matches!(x.min_axis(1), Err(Error::InvalidArgument { .. })));
    assert!(matches!(x.max_axis(1), Err(Error::InvalidArgument { .. })));
    assert!(matches!(
        x.nanmin_axis(1),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.nanmax_axes(&[0, 1], true),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.argmin_axis(1),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.argmax_axis(1),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.nanargmin_axis(1),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(x.argmin(), Err(Error::InvalidArgument { .. })));
    assert!(matches!(x.nanargmax(), Err(Error::InvalidArgument { .. })));
    // Reducing a nonempty axis of an empty array is fine: the result is empty.
    let rt = rt();
    let m = x.min_axis(0).unwrap().compute(&rt).unwrap();
    assert_eq!(m.shape(), &[0, 2]);
    let a = x.argmax_axis(2).unwrap().compute(&rt).unwrap();
    assert_eq!(a.shape(), &[3, 0]);
    // Sums of empty reductions have an identity.
    assert_eq!(x.sum().compute_scalar(&rt).unwrap(), 0.0);
}

#[test]
fn nanargmin_of_an_all_nan_slice_fails_at_compute() {
    let a = ndarray::arr2(&[[1.0, f64::NAN, 2.0], [f64::NAN, f64::NAN, f64::NAN]]);
    let x = ChunkedArray::from_ndarray(a, [1, 2]).unwrap();
    let rt = rt();
    let lazy = x.nanargmin_axis(1).expect("building succeeds");
    let r = lazy.compute(&rt);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    let r = x.nanargmax_axis(1).unwrap().compute(&rt);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    // Where every slice has a number, nanargmin works.
    let b = ndarray::arr2(&[[1.0, f64::NAN, 2.0], [f64::NAN, 0.5, f64::NAN]]);
    let y = ChunkedArray::from_ndarray(b, [1, 2]).unwrap();
    let r = y.nanargmin_axis(0).unwrap().compute(&rt).unwrap();
    assert_eq!(r.into_raw_vec_and_offset().0, vec![0, 1, 0]);
    let all_nan = ChunkedArray::<f32>::full(&[4, 3], f32::NAN, [2, 2]).unwrap();
    let r = all_nan.nanargmax().unwrap().compute(&rt);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    still_works(&rt);
}

#[test]
fn from_fn_with_the_wrong_block_shape() {
    let x = ChunkedArray::<i32>::from_fn(&[6, 4], [3, 2], |r: &Region| {
        let mut s = r.shape();
        s[0] += 1;
        ArrayD::zeros(IxDyn(&s))
    })
    .expect("building succeeds");
    let rt = rt();
    let r = x.compute(&rt);
    assert!(
        matches!(r, Err(Error::UserFunction { .. })),
        "{:?}",
        r.map(|a| a.shape().to_vec())
    );
    let r = (&x * 2).sum().compute(&rt);
    assert!(
        matches!(r, Err(Error::UserFunction { .. })),
        "{:?}",
        r.map(|a| a.shape().to_vec())
    );
    // Wrong rank too.
    let y = ChunkedArray::<f64>::from_fn(&[4], [2], |_| ArrayD::zeros(IxDyn(&[2, 1]))).unwrap();
    let r = y.compute(&rt);
    assert!(
        matches!(r, Err(Error::UserFunction { .. })),
        "{:?}",
        r.map(|a| a.shape().to_vec())
    );
    still_works(&rt);
}

#[test]
fn panicking_closures_become_errors() {
    let rt = rt();
    let x = arr(&[8, 8], [4, 4]);
    let y = x.mapv(|v| {
        if v > 10.0 {
            panic!("deliberate panic in mapv");
        }
        v
    });
    let r = y.compute(&rt);
    match r {
        Err(Error::TaskPanicked { message, .. }) => {
            assert!(message.contains("deliberate panic"), "{message}")
        }
        other => panic!("expected TaskPanicked, got {:?}", other.map(|a| a.len())),
    }
    let one = Runtime::builder().threads(1).build().unwrap();
    let r = y.compute(&one);
    assert!(
        matches!(r, Err(Error::TaskPanicked { .. })),
        "{:?}",
        r.map(|a| a.len())
    );
    still_works(&one);
    let r = y.sum().compute(&rt);
    assert!(
        matches!(r, Err(Error::TaskPanicked { .. })),
        "{:?}",
        r.map(|a| a.len())
    );
    let z = ChunkedArray::<u8>::from_fn(&[4], [2], |r: &Region| {
        if r.ranges()[0].start == 2 {
            panic!("deliberate panic in from_fn");
        }
        ArrayD::zeros(IxDyn(&r.shape()))
    })
    .unwrap();
    let r = z.compute(&rt);
    assert!(
        matches!(r, Err(Error::TaskPanicked { .. })),
        "{:?}",
        r.map(|a| a.len())
    );
    let r = x.zip_with(&x, |a: f64, b: f64| -> f64 {
        if a + b > 20.0 {
            panic!("deliberate panic in zip_with");
        }
        a
    });
    let r = r.unwrap().compute(&rt);
    assert!(
        matches!(r, Err(Error::TaskPanicked { .. })),
        "{:?}",
        r.map(|a| a.len())
    );
    still_works(&rt);
}

#[test]
fn unparsable_memory_limits() {
    for s in [
        "",
        "lots",
        "12 parsecs",
        "-5 MiB",
        "1.2.3 GB",
        "MiB",
        "5 MiBs",
        "0x10",
        "NaN",
        "inf",
        "1e400",
    ] {
        let r = Runtime::builder().memory_limit(s).build();
        assert!(
            matches!(r, Err(Error::ParseMemory(ref t)) if t == s),
            "{s:?}: {r:?}"
        );
        assert!(
            matches!(parse_memory_size(s), Err(Error::ParseMemory(_))),
            "{s:?}: {:?}",
            parse_memory_size(s)
        );
    }
    let r = Runtime::builder().memory_limit(String::from("big")).build();
    assert!(matches!(r, Err(Error::ParseMemory(_))), "{r:?}");
    // A zero limit parses but is invalid.
    let r = Runtime::builder().memory_limit("0 MiB").build();
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    let r = Runtime::builder().memory_limit(0usize).build();
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
}

#[test]
fn zero_threads() {
    let r = Runtime::builder().threads(0).build();
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
}

#[test]
fn invalid_arange() {
    let r = ChunkedArray::<f64>::arange(0.0, 10.0, 0.0, [4]);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    let r = ChunkedArray::<f64>::arange(0.0, f64::INFINITY, 1.0, [4]);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    let r = ChunkedArray::<i32>::arange(0, 10, 0, [4]);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
}

#[test]
fn source_of_another_element_type() {
    use chunkwise::io::memory::MemorySource;
    let src = Arc::new(MemorySource::new(chunkwise::AnyArray::I32(ArrayD::zeros(
        IxDyn(&[4, 4]),
    ))));
    let r = ChunkedArray::<f64>::from_source(src.clone(), [2, 2]);
    assert!(
        matches!(
            r,
            Err(Error::DTypeMismatch {
                requested: DType::F64,
                actual: DType::I32,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(ChunkedArray::<i32>::from_source(src, [2, 2]).is_ok());
}

#[test]
fn compute_scalar_of_an_empty_array() {
    let x = arr(&[0, 3], [1, 2]);
    let r = x.compute_scalar(&rt());
    assert!(matches!(r, Err(Error::Shape { .. })), "{r:?}");
}

#[test]
fn a_panicking_for_each_block_closure_is_an_error_not_a_crash() {
    let rt = rt();
    let x = arr(&[8, 8], [4, 4]);
    let r = (&x + 1.0).for_each_block(&rt, |_, _| -> chunkwise::Result<()> {
        panic!("closure bug");
    });
    match r {
        Err(Error::TaskPanicked { message, .. }) => assert!(message.contains("closure bug")),
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    still_works(&rt);
}

#[test]
fn a_panicking_progress_callback_is_an_error_not_a_crash() {
    let rt = Runtime::builder()
        .threads(2)
        .on_progress(|done, _| {
            if done == 1 {
                panic!("progress bug")
            }
        })
        .build()
        .unwrap();
    let x = arr(&[8, 8], [2, 2]);
    match (&x * 2.0).sum().compute(&rt) {
        Err(Error::TaskPanicked { op, message }) => {
            assert!(message.contains("progress bug"), "{message}");
            assert!(op.contains("on_progress"), "{op}");
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
}

#[test]
fn a_result_that_cannot_be_allocated_is_refused_before_running() {
    let rt = rt();
    // Overflows usize, and 1 PiB (beyond any address space here).
    for shape in [vec![1usize << 40, 1 << 40], vec![1 << 47]] {
        let x = ChunkedArray::<f64>::zeros(&shape, 1usize << 30).unwrap();
        match x.compute(&rt) {
            Err(Error::ResultTooLarge { shape: s, bytes }) => {
                assert_eq!(s, shape);
                assert!(bytes >= 1 << 50, "{bytes}");
            }
            other => panic!("expected ResultTooLarge, got {:?}", other.map(|a| a.len())),
        }
    }
    still_works(&rt);
}

#[test]
fn absurd_thread_counts_are_refused_at_once() {
    let t = std::time::Instant::now();
    let r = Runtime::builder().threads(100_000).build();
    assert!(
        matches!(&r, Err(Error::InvalidArgument { detail, .. }) if detail.contains("1024")),
        "{r:?}"
    );
    assert!(t.elapsed().as_secs() < 1);
}
