//! Property tests of grouped reductions, resampling and grouped binary operations: random
//! shapes, chunkings, grouped axes, label patterns (sorted, unsorted, repeated, missing
//! groups, one group, as many groups as positions), dtypes (f32, f64, i32), NaN and every
//! strategy, against a hand-written in-memory reference (each group's values gathered in
//! position order, reduced as NumPy would).

use chunkwise::prelude::*;
use chunkwise::{Bins, GroupMethod, GroupOpts};
use ndarray::{ArrayD, Axis, Dimension, IxDyn};
use num_traits::ToPrimitive;
use proptest::prelude::*;
use std::sync::OnceLock;
mod strategies;
use strategies::*;

type TestResult = std::result::Result<(), TestCaseError>;

fn rt(threads: usize) -> &'static Runtime {
    static RT: [OnceLock<Runtime>; 2] = [OnceLock::new(), OnceLock::new()];
    RT[threads - 1].get_or_init(|| {
        Runtime::builder()
            .threads(threads)
            .memory_limit("64 MiB")
            .build()
            .unwrap()
    })
}

/// Label patterns along an axis of length `len`.
fn labels(len: usize) -> BoxedStrategy<Vec<i64>> {
    let raw = (1..=len).prop_flat_map(move |k| prop::collection::vec(0..k as i64, len));
    prop_oneof![
        // Repeated, unsorted, with gaps (missing groups) and negative labels.
        3 => (raw.clone(), 1i64..4, -5i64..5)
            .prop_map(|(v, gap, off)| v.iter().map(|l| l * gap + off).collect()),
        // Sorted (contiguous groups).
        2 => raw.prop_map(|mut v| { v.sort(); v }),
        // One group.
        1 => (-3i64..3).prop_map(move |l| vec![l * 1000; len]),
        // As many groups as positions, shuffled.
        1 => Just((0..len as i64).collect::<Vec<_>>()).prop_shuffle(),
    ]
    .boxed()
}

fn method() -> impl Strategy<Value = Option<GroupMethod>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(GroupMethod::Cohorts)),
        1 => Just(Some(GroupMethod::MapReduce)),
    ]
}

#[derive(Clone, Debug)]
struct Case<T> {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    data: Vec<T>,
    axis: usize,
    labels: Vec<i64>,
    method: Option<GroupMethod>,
    split_every: usize,
}

fn case<T: Element>(
    elem: impl Strategy<Value = T> + Clone + 'static,
) -> impl Strategy<Value = Case<T>> {
    prop::collection::vec(1usize..=5, 1..=3)
        .prop_flat_map(|shape| {
            let nd = shape.len();
            (Just(shape.clone()), 0..nd, 1usize..=9).prop_map(move |(s, a, l)| {
                let mut s = s;
                s[a] = l;
                (s, a)
            })
        })
        .prop_flat_map(move |(shape, axis)| {
            let n: usize = shape.iter().product();
            (
                Just(shape.clone()),
                chunks_for(&shape),
                prop::collection::vec(elem.clone(), n),
                Just(axis),
                labels(shape[axis]),
                method(),
                2usize..5,
            )
        })
        .prop_map(
            |(shape, chunks, data, axis, labels, method, split_every)| Case {
                shape,
                chunks,
                data,
                axis,
                labels,
                method,
                split_every,
            },
        )
}

fn f64_elem() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![6 => (-6i32..6).prop_map(|v| v as f64 * 0.5), 1 => Just(f64::NAN)]
}

fn f32_elem() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![6 => (-6i32..6).prop_map(|v| v as f32 * 0.5), 1 => Just(f32::NAN)]
}

fn i32_elem() -> impl Strategy<Value = i32> + Clone {
    -20i32..20
}

/// The reference of a grouped reduction: for each group (sorted) and each position of the
/// other axes, `f` of the group's values (as f64, in position order) and their positions.
fn reference(
    a: &ArrayD<f64>,
    axis: usize,
    labels: &[Option<i64>],
    groups: &[i64],
    f: &dyn Fn(&[f64], &[usize]) -> f64,
) -> ArrayD<f64> {
    let mut shape = a.shape().to_vec();
    shape[axis] = groups.len();
    ArrayD::from_shape_fn(IxDyn(&shape), |idx| {
        let g = groups[idx[axis]];
        let pos: Vec<usize> = (0..labels.len())
            .filter(|&p| labels[p] == Some(g))
            .collect();
        let mut i = idx.slice().to_vec();
        let vals: Vec<f64> = pos
            .iter()
            .map(|&p| {
                i[axis] = p;
                a[IxDyn(&i)]
            })
            .collect();
        f(&vals, &pos)
    })
}

fn nonnan(v: &[f64]) -> Vec<f64> {
    v.iter().copied().filter(|x| !x.is_nan()).collect()
}

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        sum(v) / v.len() as f64
    }
}

fn var(v: &[f64], ddof: f64) -> f64 {
    let n = v.len() as f64;
    if n - ddof <= 0.0 {
        return f64::NAN;
    }
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - ddof)
}

fn extreme(v: &[f64], max: bool) -> f64 {
    if v.iter().any(|x| x.is_nan()) || v.is_empty() {
        return f64::NAN;
    }
    v.iter()
        .copied()
        .fold(v[0], |a, b| if max { a.max(b) } else { a.min(b) })
}

fn arg(v: &[f64], pos: &[usize], max: bool) -> f64 {
    if let Some(k) = v.iter().position(|x| x.is_nan()) {
        return pos[k] as f64;
    }
    let mut best = 0;
    for k in 1..v.len() {
        if (max && v[k] > v[best]) || (!max && v[k] < v[best]) {
            best = k;
        }
    }
    pos[best] as f64
}

fn nanarg(v: &[f64], pos: &[usize], max: bool) -> f64 {
    let keep: Vec<usize> = (0..v.len()).filter(|&k| !v[k].is_nan()).collect();
    let vv: Vec<f64> = keep.iter().map(|&k| v[k]).collect();
    let pp: Vec<usize> = keep.iter().map(|&k| pos[k]).collect();
    arg(&vv, &pp, max)
}

/// `got` equals `want` elementwise (NaN where NaN, else within `tol` relative to 1 + |w|).
fn close<O: ToPrimitive + Copy>(
    what: &str,
    got: &ArrayD<O>,
    want: &ArrayD<f64>,
    tol: f64,
) -> TestResult {
    prop_assert_eq!(got.shape(), want.shape(), "{}: shape", what);
    for (g, w) in got.iter().zip(want.iter()) {
        let g = g.to_f64().unwrap();
        let ok = g == *w || (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * (1.0 + w.abs());
        prop_assert!(
            ok,
            "{}: got {} want {}\ngot {:?}\nwant {:?}",
            what,
            g,
            w,
            got.mapv(|x| x.to_f64().unwrap()),
            want
        );
    }
    Ok(())
}

type Ref = fn(&[f64], &[usize]) -> f64;

/// Every grouped reduction of `c` against the reference.
fn check_all<T: Numeric + ToPrimitive>(c: &Case<T>, tol: f64) -> TestResult
where
    T::Sum: ToPrimitive,
    T::Mean: ToPrimitive,
{
    let a = ArrayD::from_shape_vec(IxDyn(&c.shape), c.data.clone()).unwrap();
    let af = a.mapv(|x| x.to_f64().unwrap());
    let x = ChunkedArray::from_ndarray(a, ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
    let mut opts = GroupOpts::default().split_every(c.split_every);
    if let Some(m) = c.method {
        opts = opts.method(m);
    }
    let gb = x.groupby_with(c.axis, c.labels.as_slice(), opts).unwrap();
    let mut groups = c.labels.clone();
    groups.sort();
    groups.dedup();
    prop_assert_eq!(gb.groups(), groups.as_slice());
    let labels: Vec<Option<i64>> = c.labels.iter().map(|&l| Some(l)).collect();
    check_grouped(&gb, &af, c.axis, &labels, &groups, tol)?;
    // Bit-identical for any thread count.
    let m1 = gb.mean().unwrap().compute(rt(1)).unwrap();
    let m2 = gb.mean().unwrap().compute(rt(2)).unwrap();
    prop_assert!(
        m1.iter()
            .zip(m2.iter())
            .all(|(a, b)| a.to_f64().unwrap().to_bits() == b.to_f64().unwrap().to_bits())
    );
    Ok(())
}

fn check_grouped<T: Numeric + ToPrimitive>(
    gb: &GroupBy<T>,
    af: &ArrayD<f64>,
    axis: usize,
    labels: &[Option<i64>],
    groups: &[i64],
    tol: f64,
) -> TestResult
where
    T::Sum: ToPrimitive,
    T::Mean: ToPrimitive,
{
    let r = rt(2);
    let want = |f: &dyn Fn(&[f64], &[usize]) -> f64| reference(af, axis, labels, groups, f);
    let sums: [(&str, ChunkedArray<T::Sum>, Ref); 3] = [
        ("sum", gb.sum().unwrap(), |v, _| sum(v)),
        ("nansum", gb.nansum().unwrap(), |v, _| sum(&nonnan(v))),
        ("prod", gb.prod().unwrap(), |v, _| v.iter().product()),
    ];
    for (name, got, f) in sums {
        close(name, &got.compute(r).unwrap(), &want(&f), tol)?;
    }
    let means: [(&str, ChunkedArray<T::Mean>, Ref); 10] = [
        ("mean", gb.mean().unwrap(), |v, _| mean(v)),
        ("nanmean", gb.nanmean().unwrap(), |v, _| mean(&nonnan(v))),
        ("var", gb.var().unwrap(), |v, _| var(v, 0.0)),
        ("std", gb.std().unwrap(), |v, _| var(v, 0.0).sqrt()),
        ("nanvar", gb.nanvar().unwrap(), |v, _| var(&nonnan(v), 0.0)),
        ("nanstd", gb.nanstd().unwrap(), |v, _| {
            var(&nonnan(v), 0.0).sqrt()
        }),
        ("var ddof 1", gb.var_ddof(1.0).unwrap(), |v, _| var(v, 1.0)),
        ("std ddof 1", gb.std_ddof(1.0).unwrap(), |v, _| {
            var(v, 1.0).sqrt()
        }),
        ("nanvar ddof 1", gb.nanvar_ddof(1.0).unwrap(), |v, _| {
            var(&nonnan(v), 1.0)
        }),
        ("nanstd ddof 1", gb.nanstd_ddof(1.0).unwrap(), |v, _| {
            var(&nonnan(v), 1.0).sqrt()
        }),
    ];
    for (name, got, f) in means {
        close(name, &got.compute(r).unwrap(), &want(&f), tol)?;
    }
    let same: [(&str, ChunkedArray<T>, Ref); 8] = [
        ("min", gb.min().unwrap(), |v, _| extreme(v, false)),
        ("max", gb.max().unwrap(), |v, _| extreme(v, true)),
        ("nanmin", gb.nanmin().unwrap(), |v, _| {
            extreme(&nonnan(v), false)
        }),
        ("nanmax", gb.nanmax().unwrap(), |v, _| {
            extreme(&nonnan(v), true)
        }),
        ("first", gb.first().unwrap(), |v, _| v[0]),
        ("last", gb.last().unwrap(), |v, _| v[v.len() - 1]),
        ("nanfirst", gb.nanfirst().unwrap(), |v, _| {
            nonnan(v).first().copied().unwrap_or(f64::NAN)
        }),
        ("nanlast", gb.nanlast().unwrap(), |v, _| {
            nonnan(v).last().copied().unwrap_or(f64::NAN)
        }),
    ];
    for (name, got, f) in same {
        close(name, &got.compute(r).unwrap(), &want(&f), 0.0)?;
    }
    let ints: [(&str, ChunkedArray<i64>, Ref); 3] = [
        ("argmin", gb.argmin().unwrap(), |v, p| arg(v, p, false)),
        ("argmax", gb.argmax().unwrap(), |v, p| arg(v, p, true)),
        ("count", gb.count().unwrap(), |v, _| nonnan(v).len() as f64),
    ];
    for (name, got, f) in ints {
        close(name, &got.compute(r).unwrap(), &want(&f), 0.0)?;
    }
    // nanargmin/nanargmax: an all-NaN group fails when computed, as NumPy's.
    let all_nan = want(&|v, _| v.iter().all(|x| x.is_nan()) as u8 as f64);
    let any_all_nan = all_nan.iter().any(|&b| b == 1.0);
    let nanargs: [(&str, ChunkedArray<i64>, Ref); 2] = [
        ("nanargmin", gb.nanargmin().unwrap(), |v, p| {
            nanarg(v, p, false)
        }),
        ("nanargmax", gb.nanargmax().unwrap(), |v, p| {
            nanarg(v, p, true)
        }),
    ];
    for (name, got, f) in nanargs {
        match got.compute(r) {
            Ok(g) => {
                prop_assert!(!any_all_nan, "{}: an all-NaN group gave {:?}", name, g);
                close(name, &g, &want(&f), 0.0)?;
            }
            Err(e) => prop_assert!(any_all_nan, "{}: {}", name, e),
        }
    }
    let bools: [(&str, ChunkedArray<bool>, Ref); 2] = [
        ("any", gb.any().unwrap(), |v, _| {
            v.iter().any(|&x| x != 0.0) as u8 as f64
        }),
        ("all", gb.all().unwrap(), |v, _| {
            v.iter().all(|&x| x != 0.0) as u8 as f64
        }),
    ];
    for (name, got, f) in bools {
        close(
            name,
            &got.compute(r).unwrap().mapv(|b| b as u8),
            &want(&f),
            0.0,
        )?;
    }
    Ok(())
}

/// The anomaly `x - clim[group]` and the standardized anomaly against the reference.
fn check_anomaly(c: &Case<f64>) -> TestResult {
    let a = ArrayD::from_shape_vec(IxDyn(&c.shape), c.data.clone()).unwrap();
    let x = ChunkedArray::from_ndarray(a.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
    let gb = x.groupby(c.axis, c.labels.as_slice()).unwrap();
    let clim = gb.mean().unwrap();
    let sd = gb.std().unwrap();
    let anom = gb.anomaly(&clim).unwrap();
    let z = (&anom / &gb.expand(&sd).unwrap()).unwrap();
    let clim_v = clim.compute(rt(1)).unwrap();
    let sd_v = sd.compute(rt(1)).unwrap();
    let groups = gb.groups().to_vec();
    let mut want_a = a.clone();
    let mut want_z = a.clone();
    for p in 0..c.shape[c.axis] {
        let g = groups.binary_search(&c.labels[p]).unwrap();
        let cm = clim_v.index_axis(Axis(c.axis), g);
        let cs = sd_v.index_axis(Axis(c.axis), g);
        let mut wa = want_a.index_axis_mut(Axis(c.axis), p);
        wa -= &cm;
        let mut wz = want_z.index_axis_mut(Axis(c.axis), p);
        wz -= &cm;
        wz /= &cs;
    }
    close("anomaly", &anom.compute(rt(2)).unwrap(), &want_a, 0.0)?;
    close(
        "standardized anomaly",
        &z.compute(rt(2)).unwrap(),
        &want_z,
        0.0,
    )?;
    // Reduced in the same graph: the anomaly's std over the axis.
    let sd_anom = anom.std_axis(c.axis).unwrap().compute(rt(2)).unwrap();
    let want_sd = ChunkedArray::from_ndarray(want_a, c.shape.as_slice())
        .unwrap()
        .std_axis(c.axis)
        .unwrap()
        .compute(rt(1))
        .unwrap();
    close("std of the anomaly", &sd_anom, &want_sd, 1e-12)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn grouped_reductions_f64(c in case(f64_elem())) {
        check_all(&c, 1e-12)?;
    }

    #[test]
    fn grouped_reductions_f32(c in case(f32_elem())) {
        check_all(&c, 1e-5)?;
    }

    #[test]
    fn grouped_reductions_i32(c in case(i32_elem())) {
        check_all(&c, 1e-12)?;
    }

    #[test]
    fn grouped_anomalies(c in case(f64_elem())) {
        check_anomaly(&c)?;
    }

    #[test]
    fn take_along_an_axis(
        c in case(i32_elem()),
        idx in prop::collection::vec(0usize..64, 0..12),
    ) {
        let a = ArrayD::from_shape_vec(IxDyn(&c.shape), c.data.clone()).unwrap();
        let x = ChunkedArray::from_ndarray(a.clone(), ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
        let len = c.shape[c.axis];
        let idx: Vec<usize> = idx.iter().map(|i| i % len).collect();
        let got = x.take(c.axis, &idx).unwrap().compute(rt(2)).unwrap();
        prop_assert_eq!(got, a.select(Axis(c.axis), &idx));
    }

    #[test]
    fn resample_by_size_and_edges(
        c in case(f64_elem()),
        size in 1usize..5,
        cuts in prop::collection::vec(any::<bool>(), 10),
    ) {
        let a = ArrayD::from_shape_vec(IxDyn(&c.shape), c.data.clone()).unwrap();
        let af = a.clone();
        let x = ChunkedArray::from_ndarray(a, ChunkSpec::PerAxis(c.chunks.clone())).unwrap();
        let len = c.shape[c.axis];
        // Bins of `size`.
        let gb = x.resample(c.axis, Bins::Size(size)).unwrap();
        let labels: Vec<Option<i64>> = (0..len).map(|p| Some((p / size * size) as i64)).collect();
        let groups: Vec<i64> = (0..len).step_by(size).map(|p| p as i64).collect();
        prop_assert_eq!(gb.groups(), groups.as_slice());
        check_grouped(&gb, &af, c.axis, &labels, &groups, 1e-12)?;
        // Edges: the positions where `cuts` says, positions outside the bins dropped.
        let edges: Vec<usize> = (0..=len).filter(|&p| cuts[p % cuts.len()]).collect();
        if edges.len() >= 2 {
            let gb = x.resample(c.axis, Bins::Edges(edges.clone())).unwrap();
            let mut labels = vec![None; len];
            for w in edges.windows(2) {
                for l in labels.iter_mut().take(w[1]).skip(w[0]) {
                    *l = Some(w[0] as i64);
                }
            }
            let groups: Vec<i64> = edges[..edges.len() - 1].iter().map(|&e| e as i64).collect();
            prop_assert_eq!(gb.groups(), groups.as_slice());
            check_grouped(&gb, &af, c.axis, &labels, &groups, 1e-12)?;
        }
    }
}
