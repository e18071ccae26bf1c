//! Property tests of structural operations (slicing, transposes, axes, concatenation,
//! stacking, reshaping) and `map_overlap` against ndarray on random shapes, chunkings and
//! memory layouts of the inputs (C, F, negative strides, strided; broadcast operands), plus
//! read culling and typed errors.

mod strategies;

use chunkwise::prelude::*;
use chunkwise::{OpKind, RechunkRun};
use ndarray::{ArrayD, Axis, Dimension, IxDyn, SliceInfo, SliceInfoElem, s};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use strategies::{layout, with_layout};

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::builder()
            .threads(2)
            .memory_limit("64 MiB")
            .build()
            .unwrap()
    })
}

fn data(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut k = seed;
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((k >> 40) % 1000) as f64
    })
}

fn shape_chunks(max_nd: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(0usize..8, 1..=max_nd).prop_flat_map(|shape| {
        let chunks: Vec<_> = shape.iter().map(|&l| 1usize..=l.max(1)).collect();
        (Just(shape), chunks)
    })
}

fn slice_elem(len: usize) -> BoxedStrategy<SliceInfoElem> {
    let l = len as isize;
    let range = (
        -l..=l,
        prop::option::of(-l..=l),
        prop_oneof![-3isize..=-1, 1isize..=3],
    )
        .prop_map(|(start, end, step)| SliceInfoElem::Slice { start, end, step });
    if len == 0 {
        range.boxed()
    } else {
        prop_oneof![3 => range, 1 => (-l..l).prop_map(SliceInfoElem::Index)].boxed()
    }
}

type SliceCase = (Vec<usize>, Vec<usize>, Vec<SliceInfoElem>);

fn slice_case() -> impl Strategy<Value = SliceCase> {
    shape_chunks(3).prop_flat_map(|(shape, chunks)| {
        let elems: Vec<_> = shape.iter().map(|&l| slice_elem(l)).collect();
        let n = shape.len();
        (Just(shape), Just(chunks), elems, prop::option::of(0..=n)).prop_map(
            |(shape, chunks, mut elems, newaxis)| {
                if let Some(p) = newaxis {
                    elems.insert(p, SliceInfoElem::NewAxis);
                }
                (shape, chunks, elems)
            },
        )
    })
}

fn nd_slice(a: &ArrayD<f64>, elems: &[SliceInfoElem]) -> ArrayD<f64> {
    let info = SliceInfo::<Vec<SliceInfoElem>, IxDyn, IxDyn>::try_from(elems.to_vec()).unwrap();
    a.slice(info).to_owned()
}

fn chunk_spec(c: &[usize]) -> ChunkSpec {
    ChunkSpec::from(c.iter().map(|&x| x as i64).collect::<Vec<i64>>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn slice_matches_ndarray((shape, chunks, elems) in slice_case(), seed in 0u64..1000, lay in layout()) {
        let a = data(&shape, seed);
        let want = nd_slice(&a, &elems);
        let spec = chunk_spec(&chunks);
        // Of an in-memory source (sliced reads).
        let x = ChunkedArray::from_ndarray(with_layout(&a, &lay), spec.clone()).unwrap();
        let y = x.slice(&elems).unwrap();
        prop_assert_eq!(y.shape(), want.shape());
        prop_assert_eq!(y.compute(rt()).unwrap(), want.clone());
        // Of elementwise work with a broadcast operand (pushed through to the inputs).
        let b = data(&shape[shape.len() - 1..], seed + 1);
        let xb = ChunkedArray::from_ndarray(b.clone(), chunk_spec(&chunks[chunks.len() - 1..])).unwrap();
        let e = (&(&x * 2.0) + &xb).unwrap();
        let want_e = nd_slice(&(&a * 2.0 + &b), &elems);
        prop_assert_eq!(e.slice(&elems).unwrap().compute(rt()).unwrap(), want_e);
        // With an operand broadcast along every axis but the first (length-1 axes).
        let mut cshape = vec![1; shape.len()];
        cshape[0] = shape[0];
        let c = data(&cshape, seed + 2);
        let mut cchunks = vec![1; shape.len()];
        cchunks[0] = chunks[0];
        let xc = ChunkedArray::from_ndarray(c.clone(), chunk_spec(&cchunks)).unwrap();
        let f = (&e - &xc).unwrap();
        let want_f = nd_slice(&(&a * 2.0 + &b - &c), &elems);
        prop_assert_eq!(f.slice(&elems).unwrap().compute(rt()).unwrap(), want_f);
        // Of a computed array (a reduction over a new axis: a block slice).
        let r = x.insert_axis(0).unwrap().sum_axis(0).unwrap();
        prop_assert_eq!(r.slice(&elems).unwrap().compute(rt()).unwrap(), want.clone());
        // Slices of slices.
        let z = y.slice(vec![SliceInfoElem::Slice { start: 0, end: None, step: -1 }; y.ndim()]).unwrap();
        let want_z = nd_slice(&want, &vec![SliceInfoElem::Slice { start: 0, end: None, step: -1 }; want.ndim()]);
        prop_assert_eq!(z.compute(rt()).unwrap(), want_z);
    }

    #[test]
    fn permute_matches_ndarray((shape, chunks) in shape_chunks(4), seed in 0u64..1000, rot in 0usize..4, swap in any::<bool>(), lay in layout()) {
        let a = data(&shape, seed);
        let n = shape.len();
        let mut perm: Vec<usize> = (0..n).map(|k| (k + rot) % n).collect();
        if swap && n >= 2 {
            perm.swap(0, 1);
        }
        let x = ChunkedArray::from_ndarray(with_layout(&a, &lay), chunk_spec(&chunks)).unwrap();
        let want = a.clone().permuted_axes(perm.clone());
        let y = x.permuted_axes(&perm).unwrap();
        prop_assert_eq!(y.compute(rt()).unwrap(), want);
        prop_assert_eq!(x.t().compute(rt()).unwrap(), a.t().to_owned());
        // Elementwise work on a transpose.
        let z = (&y + 1.0).compute(rt()).unwrap();
        prop_assert_eq!(z, a.clone().permuted_axes(perm) + 1.0);
    }

    #[test]
    fn axes_concat_stack_match_ndarray((shape, chunks) in shape_chunks(3), seed in 0u64..1000, c2 in 1usize..5, ax in 0usize..4, lay in layout(), lay2 in layout()) {
        let a = data(&shape, seed);
        let b = data(&shape, seed + 7);
        let x = ChunkedArray::from_ndarray(with_layout(&a, &lay), chunk_spec(&chunks)).unwrap();
        let other: Vec<usize> = shape.iter().map(|&l| c2.min(l.max(1))).collect();
        let y = ChunkedArray::from_ndarray(with_layout(&b, &lay2), chunk_spec(&other)).unwrap();
        let n = shape.len();
        let ia = ax % (n + 1);
        let xi = x.insert_axis(ia).unwrap();
        prop_assert_eq!(xi.compute(rt()).unwrap(), a.clone().insert_axis(Axis(ia)));
        prop_assert_eq!(xi.remove_axis(ia).unwrap().compute(rt()).unwrap(), a.clone());
        // The new axis sliced empty, then elementwise work and a reduction on it.
        let mut empty = vec![SliceInfoElem::Slice { start: 0, end: None, step: 1 }; n + 1];
        empty[ia] = SliceInfoElem::Slice { start: 1, end: None, step: 1 };
        let xe = xi.slice(&empty).unwrap();
        let want_e = nd_slice(&a.clone().insert_axis(Axis(ia)), &empty);
        prop_assert_eq!(xe.compute(rt()).unwrap(), want_e.clone());
        prop_assert_eq!((&xe + 1.0).sum().compute_scalar(rt()).unwrap(), 0.0);
        let ca = ax % n;
        let got = concatenate(ca, &[&x, &y, &x]).unwrap().compute(rt()).unwrap();
        let want = ndarray::concatenate(Axis(ca), &[a.view(), b.view(), a.view()]).unwrap();
        prop_assert_eq!(got, want);
        let got = stack(ia, &[&x, &y]).unwrap().compute(rt()).unwrap();
        let want = ndarray::stack(Axis(ia), &[a.view(), b.view()]).unwrap();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn into_shape_matches_ndarray((shape, chunks) in shape_chunks(3), seed in 0u64..1000, pick in 0usize..64, lay in layout()) {
        let a = data(&shape, seed);
        let total: usize = shape.iter().product();
        // A random factorization of the total into up to 3 axes.
        let divs: Vec<usize> = (1..=total.max(1)).filter(|d| total.max(1).is_multiple_of(*d)).collect();
        let d1 = divs[pick % divs.len()];
        let rest = total.max(1) / d1;
        let divs2: Vec<usize> = (1..=rest).filter(|d| rest.is_multiple_of(*d)).collect();
        let d2 = divs2[(pick / 3) % divs2.len()];
        let mut new = vec![d1, d2, rest / d2];
        if total == 0 {
            new = vec![0, pick % 3 + 1];
        }
        if pick % 2 == 0 && total != 0 {
            new.insert(1, 1);
        }
        let x = ChunkedArray::from_ndarray(with_layout(&a, &lay), chunk_spec(&chunks)).unwrap();
        let y = x.into_shape(&new).unwrap();
        let want = a.to_shape(IxDyn(&new)).unwrap().to_owned();
        prop_assert_eq!(y.compute(rt()).unwrap(), want);
    }
}

#[test]
fn sliced_elementwise_reads_only_needed_blocks() {
    let reads = Arc::new(AtomicUsize::new(0));
    let elems = Arc::new(AtomicUsize::new(0));
    let counter = |reads: &Arc<AtomicUsize>, elems: &Arc<AtomicUsize>| {
        let (r, e) = (reads.clone(), elems.clone());
        move |reg: &Region| {
            r.fetch_add(1, Ordering::SeqCst);
            e.fetch_add(reg.len(), Ordering::SeqCst);
            ArrayD::from_shape_fn(reg.shape(), |i| {
                i.slice()
                    .iter()
                    .zip(&reg.0)
                    .map(|(x, r)| (x + r.start) as f64)
                    .sum::<f64>()
            })
        }
    };
    let a = ChunkedArray::<f64>::from_fn(&[100, 100], [10, 10], counter(&reads, &elems)).unwrap();
    let (rb, eb) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let b = ChunkedArray::<f64>::from_fn(&[100], [10], counter(&rb, &eb)).unwrap();
    let y = (&a + &b).unwrap().slice(s![20..30, 5..15]).unwrap();
    assert_eq!(y.chunks().chunk_sizes(), vec![vec![10], vec![5, 5]]);
    let got = y.compute(rt()).unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[10, 10]), |i| {
        (i[0] + 20 + i[1] + 5) as f64 + (i[1] + 5) as f64
    });
    assert_eq!(got, want);
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    assert_eq!(elems.load(Ordering::SeqCst), 100);
    assert_eq!(rb.load(Ordering::SeqCst), 2);
    assert_eq!(eb.load(Ordering::SeqCst), 10);
    // A strided, reversed slice with an index reads only the covering blocks.
    reads.store(0, Ordering::SeqCst);
    let z = a.slice(s![7, 0..51;-20]).unwrap();
    assert_eq!(z.shape(), &[3]);
    let got = z.compute(rt()).unwrap();
    assert_eq!(got.as_slice().unwrap(), &[57.0, 37.0, 17.0]);
    assert_eq!(reads.load(Ordering::SeqCst), 3);
}

#[test]
fn structural_errors_are_typed() {
    let x = ChunkedArray::from_ndarray(ArrayD::<f64>::zeros(IxDyn(&[4, 5])), [2, 2]).unwrap();
    assert!(matches!(
        x.slice(s![4, ..]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.slice(s![-5, ..]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.slice(s![0..6, ..]),
        Err(Error::InvalidArgument { .. })
    ));
    let zero_step = [
        SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 0,
        },
        SliceInfoElem::Index(0),
    ];
    assert!(matches!(
        x.slice(zero_step),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(x.slice(s![.., .., ..]), Err(Error::Axis { .. })));
    assert!(matches!(x.slice(s![..]), Err(Error::Axis { .. })));
    assert!(matches!(x.permuted_axes(&[0, 0]), Err(Error::Axis { .. })));
    assert!(matches!(x.permuted_axes(&[1]), Err(Error::Axis { .. })));
    assert!(matches!(x.insert_axis(3), Err(Error::Axis { .. })));
    assert!(matches!(x.remove_axis(0), Err(Error::Shape { .. })));
    assert!(matches!(x.remove_axis(2), Err(Error::Axis { .. })));
    assert!(matches!(x.into_shape(&[3, 7]), Err(Error::Shape { .. })));
    let y = ChunkedArray::from_ndarray(ArrayD::<f64>::zeros(IxDyn(&[4, 6])), [2, 2]).unwrap();
    assert!(matches!(
        concatenate(0, &[&x, &y]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(concatenate(2, &[&x, &x]), Err(Error::Axis { .. })));
    assert!(matches!(
        concatenate::<f64>(0, &[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(stack(0, &[&x, &y]), Err(Error::Shape { .. })));
    assert!(matches!(stack(3, &[&x, &x]), Err(Error::Axis { .. })));
}

/// Mean of the 3 × 3 neighbourhood of every element, over the neighbours inside the array.
fn mean3(a: ndarray::ArrayView2<'_, f64>) -> ndarray::Array2<f64> {
    let (n, m) = a.dim();
    ndarray::Array2::from_shape_fn((n, m), |(i, j)| {
        let (mut s, mut c) = (0.0, 0.0);
        for ii in i.saturating_sub(1)..(i + 2).min(n) {
            for jj in j.saturating_sub(1)..(j + 2).min(m) {
                s += a[[ii, jj]];
                c += 1.0;
            }
        }
        s / c
    })
}

/// `a` padded by `d` on every side, following the boundary mode.
fn pad(a: &ndarray::Array2<f64>, d: usize, b: Boundary<f64>) -> ndarray::Array2<f64> {
    let (n, m) = a.dim();
    let src = |i: isize, len: usize| -> Option<usize> {
        let l = len as isize;
        if (0..l).contains(&i) {
            return Some(i as usize);
        }
        match b {
            Boundary::Constant(_) | Boundary::None => None,
            Boundary::Nearest => Some(i.clamp(0, l - 1) as usize),
            Boundary::Periodic => Some(i.rem_euclid(l) as usize),
            Boundary::Reflect => Some(if i < 0 { -i - 1 } else { 2 * l - 1 - i } as usize),
        }
    };
    let fill = if let Boundary::Constant(v) = b {
        v
    } else {
        0.0
    };
    ndarray::Array2::from_shape_fn((n + 2 * d, m + 2 * d), |(i, j)| {
        match (
            src(i as isize - d as isize, n),
            src(j as isize - d as isize, m),
        ) {
            (Some(x), Some(y)) => a[[x, y]],
            _ => fill,
        }
    })
}

fn mean_filter(b: ndarray::ArrayViewD<'_, f64>, _: &BlockInfo) -> ArrayD<f64> {
    mean3(b.into_dimensionality().unwrap()).into_dyn()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn map_overlap_mean_filter_matches_direct(n in 0usize..14, m in 0usize..14, cn in 1usize..6, cm in 1usize..6, seed in 0u64..100, mode in 0usize..5, lay in layout()) {
        let a = data(&[n, m], seed).into_dimensionality::<ndarray::Ix2>().unwrap();
        let boundary = [Boundary::None, Boundary::Constant(-3.5), Boundary::Reflect, Boundary::Periodic, Boundary::Nearest][mode];
        let want = if n == 0 || m == 0 {
            ndarray::Array2::zeros((n, m))
        } else if boundary == Boundary::None {
            mean3(a.view())
        } else {
            let p = pad(&a, 1, boundary);
            mean3(p.view()).slice(s![1..n + 1, 1..m + 1]).to_owned()
        };
        let stored = with_layout(&a.clone().into_dyn(), &lay);
        let x = ChunkedArray::from_ndarray(stored, [cn.min(n).max(1), cm.min(m).max(1)]).unwrap();
        let y = x.map_overlap(&[1, 1], boundary, mean_filter).unwrap();
        let got = y.compute(rt()).unwrap();
        prop_assert_eq!(got.shape(), want.shape());
        prop_assert!(got.iter().zip(want.iter()).all(|(p, q)| (p - q).abs() < 1e-9), "{} vs {}", got, want);
    }
}

#[test]
fn map_overlap_deeper_than_a_chunk_gathers_more_blocks() {
    let a = data(&[10, 9], 5)
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let x = ChunkedArray::from_ndarray(a.clone(), [2, 3]).unwrap();
    // Sum over a 7 × 7 window (depth 3, deeper than the 2-row chunks).
    let f = |b: ndarray::ArrayViewD<'_, f64>, _: &BlockInfo| {
        let b = b.into_dimensionality::<ndarray::Ix2>().unwrap();
        let (n, m) = b.dim();
        ndarray::Array2::from_shape_fn((n, m), |(i, j)| {
            if i < 3 || j < 3 || i + 3 >= n || j + 3 >= m {
                return 0.0;
            }
            b.slice(s![i - 3..i + 4, j - 3..j + 4]).sum()
        })
        .into_dyn()
    };
    for boundary in [
        Boundary::Periodic,
        Boundary::Reflect,
        Boundary::Nearest,
        Boundary::Constant(2.5),
    ] {
        let got = x
            .map_overlap(&[3, 3], boundary, f)
            .unwrap()
            .compute(rt())
            .unwrap();
        let p = pad(&a, 3, boundary);
        let want =
            ndarray::Array2::from_shape_fn((10, 9), |(i, j)| p.slice(s![i..i + 7, j..j + 7]).sum());
        assert!(
            got.iter()
                .zip(want.iter())
                .all(|(p, q)| (p - q).abs() < 1e-9),
            "{boundary:?}"
        );
    }
    // Typed errors.
    assert!(matches!(
        x.map_overlap(&[1], Boundary::None, f),
        Err(Error::Axis { .. })
    ));
    let bad = x.map_overlap(
        &[1, 1],
        Boundary::None,
        |b: ndarray::ArrayViewD<'_, f64>, _: &BlockInfo| b.slice(s![1.., ..]).to_owned().into_dyn(),
    );
    assert!(matches!(
        bad.unwrap().compute(rt()),
        Err(Error::UserFunction { .. })
    ));
}

#[test]
fn map_blocks_and_blockwise() {
    let a = data(&[7, 5], 9);
    let x = ChunkedArray::from_ndarray(a.clone(), [3, 2]).unwrap();
    let y = x.map_blocks(|b, info| {
        b.mapv(|v| v as i64 + info.region.0[0].start as i64 * 10_000 + info.index[1] as i64)
    });
    let got = y.compute(rt()).unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[7, 5]), |i| {
        a[&i] as i64 + (i[0] / 3 * 3) as i64 * 10_000 + (i[1] / 2) as i64
    });
    assert_eq!(got, want);
    // Declared output chunks: each block becomes its column sums.
    let sums = x
        .map_blocks_to(
            ChunkGrid::new(vec![
                chunkwise::chunks::AxisChunks::regular(3, 1),
                x.chunks().axis(1).clone(),
            ]),
            |b, _| b.sum_axis(Axis(0)).insert_axis(Axis(0)),
        )
        .unwrap();
    assert_eq!(sums.shape(), &[3, 5]);
    let got = sums.compute(rt()).unwrap();
    assert!((got[[0, 0]] - a.slice(s![0..3, 0]).sum()).abs() < 1e-9);
    assert!((got[[2, 4]] - a.slice(s![6..7, 4]).sum()).abs() < 1e-9);
    assert!(matches!(
        x.map_blocks_to(ChunkGrid::regular(&[7, 5], &[7, 5]), |b, _| b.to_owned()),
        Err(Error::Shape { .. })
    ));
    // Blockwise over differently chunked inputs (unified first), with a transposed result
    // layout from the closure.
    let b = data(&[7, 5], 10);
    let z = ChunkedArray::from_ndarray(b.clone(), [2, 5]).unwrap();
    let w = x
        .blockwise(&z, |p, q, _| {
            let s = (&p - &q).reversed_axes().to_owned();
            s.reversed_axes()
        })
        .unwrap();
    assert_eq!(w.compute(rt()).unwrap(), &a - &b);
    let bad = ChunkedArray::from_ndarray(data(&[5, 7], 1), [2, 2]).unwrap();
    assert!(matches!(
        x.blockwise(&bad, |p, _q: ndarray::ArrayViewD<'_, f64>, _| p.to_owned()),
        Err(Error::Shape { .. })
    ));
}

#[cfg(feature = "zarr")]
#[test]
fn rechunk_round_trips_are_bit_identical() {
    let a = data(&[13, 17, 5], 3);
    let x = ChunkedArray::from_ndarray(a.clone(), [4, 17, 2]).unwrap();
    // A computed array (a transpose of a transpose), so the rechunks gather blocks.
    let y = x.t().t();
    let b = y.rechunk([13, 3, 5]).unwrap();
    let back = b.t().t().rechunk([4, 17, 2]).unwrap();
    assert_eq!(back.chunks(), x.chunks());
    let got = back.compute(rt()).unwrap();
    assert_eq!(got.as_slice().unwrap().len(), a.len());
    assert!(
        got.iter()
            .zip(a.iter())
            .all(|(p, q)| p.to_bits() == q.to_bits())
    );
    // Also under a limit that forces staged rechunks (through temporary Zarr arrays), with
    // room for the plan itself (about 100 KiB of tasks).
    let limit = 256 * 1024;
    let small = Runtime::builder()
        .threads(2)
        .memory_limit(limit)
        .build()
        .unwrap();
    let z = ChunkedArray::<f32>::from_shape_fn(&[64, 32, 32], [1, 32, 32], |i| {
        (i[0] * 1000 + i[1] * 40 + i[2]) as f32 * 0.37
    })
    .unwrap();
    let p = z.t().t().rechunk([64, 8, 8]).unwrap();
    assert_eq!(p.plan_summary(&small).staged_rechunks(), 1);
    let q = p.t().t().rechunk([1, 32, 32]).unwrap();
    let want = z.compute(rt()).unwrap();
    let got = q.compute(&small).unwrap();
    assert!(
        got.iter()
            .zip(want.iter())
            .all(|(p, q)| p.to_bits() == q.to_bits())
    );
    assert!(small.last_report().peak_tracked_bytes <= limit);
}

#[cfg(feature = "zarr")]
#[test]
fn pancake_to_pencil_rechunk_stays_within_the_limit() {
    // 64 × 128 × 256 f32 = 8 MiB of input, limit 1 MiB: one time step per source block
    // (128 KiB), the full time series of 16 × 16 pixels per target block (64 KiB).
    let limit = 1 << 20;
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit(limit)
        .build()
        .unwrap();
    let x = ChunkedArray::<f32>::from_shape_fn(&[64, 128, 256], [1, 128, 256], |i| {
        (i[0] * 100_000 + i[1] * 300 + i[2]) as f32
    })
    .unwrap();
    // A computed array (the source's blocks transposed twice), so nothing reads target
    // regions straight from the source.
    let y = x.t().t().rechunk([64, 16, 16]).unwrap();
    let plan = y.plan_summary(&rt);
    assert_eq!(plan.staged_rechunks(), 1, "{plan}");
    let mut seen = 0usize;
    let report = y
        .for_each_block(&rt, |r, b| {
            for (k, v) in b.indexed_iter() {
                let (t, i, j) = (
                    k[0] + r.0[0].start,
                    k[1] + r.0[1].start,
                    k[2] + r.0[2].start,
                );
                assert_eq!(*v, (t * 100_000 + i * 300 + j) as f32);
            }
            seen += b.len();
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, 64 * 128 * 256);
    assert!(
        report.peak_tracked_bytes <= limit,
        "peak {} > limit {limit}\n{plan}",
        report.peak_tracked_bytes
    );
}

#[test]
fn explain_shows_slice_pushdown_and_rechunk_strategy() {
    let a =
        ChunkedArray::<f64>::from_fn(&[40, 40], [10, 10], |r: &Region| ArrayD::zeros(r.shape()))
            .unwrap();
    let y = (&a + 1.0).slice(s![5..15, ..;2]).unwrap();
    let e = y.plan_summary(rt());
    // The slice is a read of the sliced regions: no slice node in the optimized graph, only
    // the elementwise node over the generator's reads.
    let kinds: Vec<OpKind> = e.optimized.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [OpKind::Elementwise, OpKind::Source], "{e}");
    assert!(
        e.as_written.iter().any(|n| n.op.starts_with("slice[")),
        "{e}"
    );
    assert!(e.optimized[1].op.starts_with("source[from_fn"), "{e}");
    // Only the sliced rows of the generator are read: blocks 0 and 1 of its 4 row blocks,
    // for each of the 4 column blocks.
    assert_eq!(e.reads(), 8, "{e}");
    // A rechunk of a computed array that fits the limit gathers in one pass.
    let r = a.t().rechunk([40, 5]).unwrap().plan_summary(rt());
    assert_eq!(r.rechunks.len(), 1, "{r}");
    assert!(
        matches!(r.rechunks[0].run, RechunkRun::Direct { .. }),
        "{r}"
    );
}
