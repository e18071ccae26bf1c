//! The labelled layer: DataArray operations by dimension name, isel/sel against ndarray
//! slicing (proptests), reads of a selection, and the errors for bad input.

use chunkwise::dataset::{Coordinate, DataArray, Dataset, DatasetWriteOptions, Label};
use chunkwise::io::zarr::{ZarrFormat, ZarrWriteOptions};
use chunkwise::prelude::*;
use chunkwise::time::{Calendar, CfDateTime, TimeCoder};
use ndarray::{ArrayD, IxDyn, SliceInfoElem};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

const LIMIT: usize = 16 << 20;

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit(LIMIT)
        .build()
        .unwrap()
}

fn compute<T: Element>(rt: &Runtime, da: &DataArray<T>) -> ArrayD<T> {
    let a = da.data().compute(rt).unwrap();
    assert!(rt.last_report().peak_tracked_bytes <= LIMIT);
    a
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("chunkwise-dataset-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dataset")
        .join(name)
}

/// (time 6, lat 3, lon 4) with values 100 t + 10 y + x, coords on lat and lon.
fn cube() -> (ArrayD<f64>, DataArray<f64>) {
    let a = ArrayD::from_shape_fn(IxDyn(&[6, 3, 4]), |ix| {
        (100 * ix[0] + 10 * ix[1] + ix[2]) as f64
    });
    let da = DataArray::new(
        ChunkedArray::from_ndarray(a.clone(), [4, 2, 3]).unwrap(),
        &["time", "lat", "lon"],
    )
    .unwrap()
    .with_coord("lat", Coordinate::numbers(vec![60.0, 45.0, 30.0]))
    .unwrap()
    .with_coord("lon", Coordinate::numbers(vec![0.0, 10.0, 20.0, 30.0]))
    .unwrap()
    .with_name("t2m");
    (a, da)
}

#[test]
fn reductions_by_name_keep_surviving_coords() {
    let rt = rt();
    let (a, da) = cube();
    let m = da.mean("time").unwrap();
    assert_eq!(m.dims(), &["lat", "lon"]);
    assert_eq!(m.coords().keys().collect::<Vec<_>>(), vec!["lat", "lon"]);
    assert_eq!(compute(&rt, &m), a.mean_axis(ndarray::Axis(0)).unwrap());
    let s = da.std_dims(&["lat", "lon"]).unwrap();
    assert_eq!(s.dims(), &["time"]);
    assert!(s.coords().is_empty());
    let want = a
        .to_shape((6, 12))
        .unwrap()
        .std_axis(ndarray::Axis(1), 0.0)
        .into_dyn();
    let got = compute(&rt, &s);
    assert!(
        got.iter()
            .zip(want.iter())
            .all(|(g, w)| (g - w).abs() < 1e-12)
    );
    // Order of names does not matter; a repeated or unknown name is refused.
    let s2 = da.sum_dims(&["lon", "time"]).unwrap();
    assert_eq!(s2.dims(), &["lat"]);
    assert_eq!(
        compute(&rt, &s2),
        a.sum_axis(ndarray::Axis(2)).sum_axis(ndarray::Axis(0))
    );
}

#[test]
fn binary_ops_broadcast_by_name_whatever_the_axis_order() {
    let rt = rt();
    let (a, da) = cube();
    // clim with dims (lon, lat): the reverse of da's order.
    let clim = da.mean("time").unwrap().transpose(&["lon", "lat"]).unwrap();
    assert_eq!(clim.dims(), &["lon", "lat"]);
    let anom = (&da - &clim).unwrap();
    assert_eq!(anom.dims(), &["time", "lat", "lon"]);
    let want = &a - &a.mean_axis(ndarray::Axis(0)).unwrap();
    let got = compute(&rt, &anom);
    assert!(
        got.iter()
            .zip(want.iter())
            .all(|(g, w)| (g - w).abs() < 1e-9)
    );
    // A dimension only the right operand has is appended.
    let lev = DataArray::new(ChunkedArray::<f64>::ones(&[2], [2]).unwrap(), &["level"]).unwrap();
    let b = (&da * &lev).unwrap();
    assert_eq!(b.dims(), &["time", "lat", "lon", "level"]);
    assert_eq!(b.shape(), &[6, 3, 4, 2]);
    // Scalars keep dims and coords.
    let c = &da * 2.0;
    assert_eq!(c.coords(), da.coords());
    assert_eq!(compute(&rt, &c), &a * 2.0);
}

#[test]
fn mismatched_coordinates_are_an_error_unless_aligned() {
    let rt = rt();
    let (a, da) = cube();
    let other = da
        .isel(&[("lon", SliceInfoElem::from(1..4))])
        .unwrap()
        .mean("time")
        .unwrap();
    // Different lengths of lon: named.
    let e = (&da - &other).unwrap_err();
    assert!(
        matches!(&e, Error::DimensionLengthMismatch { dim, .. } if dim == "lon"),
        "{e}"
    );
    // Same length, other labels.
    let shifted = da
        .clone()
        .with_coord("lon", Coordinate::numbers(vec![10.0, 20.0, 30.0, 40.0]))
        .unwrap();
    let e = (&da - &shifted).unwrap_err();
    assert!(
        matches!(&e, Error::CoordinateMismatch { dim, .. } if dim == "lon"),
        "{e}"
    );
    assert!(e.to_string().contains("position 0: 0 and 10"), "{e}");
    // Aligned: the shared labels 10, 20, 30.
    let (x, y) = DataArray::align(&da, &shifted).unwrap();
    assert_eq!(
        x.coord("lon").unwrap().as_numbers(),
        Some(&[10.0, 20.0, 30.0][..])
    );
    let d = (&x - &y).unwrap();
    let got = compute(&rt, &d);
    for t in 0..6 {
        for j in 0..3 {
            for k in 0..3 {
                assert_eq!(got[[t, j, k]], a[[t, j, k + 1]] - a[[t, j, k]]);
            }
        }
    }
}

#[test]
fn sel_by_label_exact_nearest_and_descending_ranges() {
    let rt = rt();
    let (a, da) = cube();
    let x = da.sel(&[("lat", Label::from(45.0))]).unwrap();
    assert_eq!(x.dims(), &["time", "lon"]);
    assert_eq!(
        compute(&rt, &x),
        a.slice(ndarray::s![.., 1, ..]).into_owned().into_dyn()
    );
    let n = da.sel(&[("lon", Label::nearest(14.0))]).unwrap();
    assert_eq!(
        compute(&rt, &n),
        a.slice(ndarray::s![.., .., 1]).into_owned().into_dyn()
    );
    // Descending latitude: from 50 down to 25 is 45 and 30, as xarray's slice(50, 25).
    let r = da.sel(&[("lat", Label::range(50.0, 25.0))]).unwrap();
    assert_eq!(
        r.coord("lat").unwrap().as_numbers(),
        Some(&[45.0, 30.0][..])
    );
    assert_eq!(
        compute(&rt, &r),
        a.slice(ndarray::s![.., 1..3, ..]).into_owned().into_dyn()
    );
    // The range in the ascending order on a descending coordinate matches nothing: an error
    // that says so.
    let e = da.sel(&[("lat", Label::range(25.0, 50.0))]).unwrap_err();
    assert!(
        matches!(&e, Error::SelectionNotFound { dim, .. } if dim == "lat"),
        "{e}"
    );
    assert!(e.to_string().contains("reverse"), "{e}");
    // A value that is no label, outside the range: named with the coordinate's range.
    let e = da.sel(&[("lat", Label::from(75.0))]).unwrap_err();
    assert!(e.to_string().contains("runs from 60 to 30"), "{e}");
    // ... but nearest takes the closest end.
    let n = da.sel(&[("lat", Label::nearest(75.0))]).unwrap();
    assert_eq!(
        compute(&rt, &n),
        a.slice(ndarray::s![.., 0, ..]).into_owned().into_dyn()
    );
    // No coordinate to select by.
    assert!(matches!(
        da.sel(&[("time", Label::from(0.0))]),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn sel_by_time_strings_in_a_noleap_calendar() {
    let rt = rt();
    let coder = TimeCoder::new("days since 2001-01-01", Some("noleap")).unwrap();
    let times = coder
        .decode(&(0..365).map(f64::from).collect::<Vec<_>>())
        .unwrap();
    let x = ChunkedArray::<f64>::arange(0.0, 365.0, 1.0, 30).unwrap();
    let da = DataArray::new(x, &["time"])
        .unwrap()
        .with_coord("time", Coordinate::times(times, Calendar::NoLeap))
        .unwrap();
    let feb = da.sel(&[("time", Label::time("2001-02"))]).unwrap();
    assert_eq!(feb.shape(), &[28]);
    assert_eq!(feb.times("time").unwrap()[27], CfDateTime::ymd(2001, 2, 28));
    let spring = da
        .sel(&[("time", Label::time_range("2001-03", "2001-05"))])
        .unwrap();
    assert_eq!(spring.shape(), &[92]);
    assert_eq!(compute(&rt, &spring)[[0]], 59.0);
    assert_eq!(
        spring.time_field("time", "season").unwrap(),
        vec![1; 92],
        "MAM"
    );
    let e = da.sel(&[("time", Label::time("2003"))]).unwrap_err();
    assert!(matches!(e, Error::SelectionNotFound { .. }), "{e}");
    let e = da.sel(&[("time", Label::time("2001-02-30"))]).unwrap_err();
    assert!(matches!(e, Error::InvalidDate { .. }), "{e}");
    assert!(da.sel(&[("time", Label::from(3.0))]).is_err());
}

#[test]
fn sel_reads_only_the_chunks_it_needs() {
    let rt = rt();
    let ds = Dataset::open(fixture("v2.zarr")).unwrap();
    let t2m = ds.var::<f64>("t2m").unwrap(); // chunks of 16 times, 60 times
    let reads = |da: &DataArray<f64>| -> usize {
        da.data().plan_summary(&rt).reads_by_source.values().sum()
    };
    assert_eq!(reads(&t2m), 4);
    let week = t2m
        .sel(&[("time", Label::time_range("2001-01-05", "2001-01-10"))])
        .unwrap();
    assert_eq!(week.shape(), &[6, 5, 4]);
    assert_eq!(reads(&week), 1);
    let feb = t2m.sel(&[("time", Label::time("2001-02"))]).unwrap(); // positions 31..59
    assert_eq!(reads(&feb), 3);
    // The same values as the full array sliced.
    let full = compute(&rt, &t2m);
    assert_eq!(
        compute(&rt, &week),
        full.slice(ndarray::s![4..10, .., ..])
            .into_owned()
            .into_dyn()
    );
}

#[test]
fn write_a_dataarray_and_read_it_back() {
    let rt = rt();
    let (a, da) = cube();
    let coder = TimeCoder::new("hours since 2000-02-28", Some("360_day")).unwrap();
    let times = coder.decode(&[0.0, 6.0, 12.0, 18.0, 24.0, 30.0]).unwrap();
    let mut attrs = Map::new();
    attrs.insert("units".into(), json!("K"));
    let da = da
        .with_coord("time", Coordinate::times(times.clone(), Calendar::Day360))
        .unwrap()
        .with_attrs(attrs.clone());
    for format in [ZarrFormat::V2, ZarrFormat::V3] {
        let out = tmp(&format!("write-{}", format.number()));
        da.to_zarr(
            &rt,
            &out,
            DatasetWriteOptions {
                format,
                ..Default::default()
            },
        )
        .unwrap();
        let ds = Dataset::open(&out).unwrap();
        assert_eq!(ds.names(), vec!["t2m"]);
        let back = ds.var::<f64>("t2m").unwrap();
        assert_eq!(back.dims(), da.dims());
        assert_eq!(back.attrs(), &attrs);
        assert_eq!(back.times("time").unwrap(), &times[..]);
        assert_eq!(back.coord("lat"), da.coord("lat"));
        assert_eq!(compute(&rt, &back), a);
        // Written again without overwrite: refused, naming the array.
        let e = da
            .to_zarr(
                &rt,
                &out,
                DatasetWriteOptions {
                    format,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        std::fs::remove_dir_all(&out).unwrap();
    }
    let unnamed = DataArray::new(ChunkedArray::<f64>::ones(&[2], [2]).unwrap(), &["x"]).unwrap();
    assert!(matches!(
        unnamed.to_zarr(&rt, tmp("unnamed"), DatasetWriteOptions::default()),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn unknown_names_are_errors_naming_what_exists() {
    let (_, da) = cube();
    let e = da.mean("tiem").unwrap_err();
    match &e {
        Error::UnknownDimension {
            dim,
            available,
            what,
            ..
        } => {
            assert_eq!(dim, "tiem");
            assert_eq!(available, &["time", "lat", "lon"]);
            assert!(what.contains("t2m"));
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        da.isel(&[("x", SliceInfoElem::Index(0))]),
        Err(Error::UnknownDimension { .. })
    ));
    assert!(matches!(
        da.sel(&[("x", Label::from(0.0))]),
        Err(Error::UnknownDimension { .. })
    ));
    let ds = Dataset::open(fixture("v3.zarr")).unwrap();
    let e = ds.var::<f64>("t2").unwrap_err();
    assert!(
        matches!(&e, Error::UnknownVariable { name, available, .. }
        if name == "t2" && available.contains(&"t2m".to_string())),
        "{e}"
    );
    // A coordinate of the wrong length, and a repeated dimension name.
    let e = da
        .clone()
        .with_coord("lat", Coordinate::numbers(vec![1.0, 2.0]))
        .unwrap_err();
    assert!(
        matches!(&e, Error::DimensionLengthMismatch { dim, len_a: 3, len_b: 2, .. }
        if dim == "lat"),
        "{e}"
    );
    assert!(
        DataArray::new(
            ChunkedArray::<f64>::ones(&[2, 2], [2, 2]).unwrap(),
            &["x", "x"]
        )
        .is_err()
    );
    assert!(DataArray::new(ChunkedArray::<f64>::ones(&[2, 2], [2, 2]).unwrap(), &["x"]).is_err());
    // No such store.
    let e = Dataset::open(tmp("missing")).unwrap_err();
    assert!(
        matches!(
            e.store_kind(),
            Some(chunkwise::error::StoreErrorKind::NotFound)
        ),
        "{e}"
    );
}

/// A Zarr group with a 1-D `x` variable per entry: (name, dim, length, attributes).
fn store_of(name: &str, arrays: &[(&str, &str, usize, Value)]) -> PathBuf {
    let rt = rt();
    let out = tmp(name);
    for (var, dim, n, attrs) in arrays {
        ChunkedArray::<f64>::arange(0.0, *n as f64, 1.0, 4)
            .unwrap()
            .to_zarr_with(
                &rt,
                &out,
                var,
                ZarrWriteOptions {
                    format: ZarrFormat::V2,
                    dimension_names: Some(vec![Some(dim.to_string())]),
                    attributes: attrs.as_object().unwrap().clone(),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
    }
    out
}

#[test]
fn bad_stores_give_errors_naming_the_variable() {
    // Two variables disagreeing on the length of x.
    let p = store_of(
        "lengths",
        &[("a", "x", 3, json!({})), ("b", "x", 4, json!({}))],
    );
    let e = Dataset::open(&p).unwrap_err();
    match &e {
        Error::DimensionLengthMismatch {
            dim,
            what_a,
            what_b,
            ..
        } => {
            assert_eq!(dim, "x");
            assert!(what_a.contains('a') && what_b.contains('b'), "{e}");
        }
        other => panic!("{other}"),
    }
    // Unparseable time units on a coordinate.
    let p = store_of(
        "units",
        &[("time", "time", 3, json!({"units": "days since banana"}))],
    );
    let e = Dataset::open(&p).unwrap_err();
    assert!(matches!(e, Error::TimeUnits { .. }), "{e}");
    assert!(e.to_string().contains("variable time"), "{e}");
    // An unsupported calendar.
    let p = store_of(
        "calendar",
        &[(
            "time",
            "time",
            3,
            json!({"units": "days since 2000-01-01", "calendar": "martian"}),
        )],
    );
    let e = Dataset::open(&p).unwrap_err();
    assert!(matches!(e, Error::UnsupportedCalendar { .. }), "{e}");
    assert!(
        e.to_string().contains("martian") && e.to_string().contains("variable time"),
        "{e}"
    );
    // A single array is not a group.
    let e = Dataset::open(p.join("time")).unwrap_err();
    assert!(e.to_string().contains("not a group"), "{e}");
    for d in ["lengths", "units", "calendar"] {
        let _ = std::fs::remove_dir_all(tmp(d));
    }
}

#[test]
fn a_hundred_variables_open_from_metadata_alone() {
    let rt = rt();
    let out = tmp("hundred");
    let mut ds = Dataset::new();
    let base = DataArray::new(
        ChunkedArray::<f64>::zeros(&[4, 4], [2, 2]).unwrap(),
        &["y", "x"],
    )
    .unwrap()
    .with_coord("x", Coordinate::numbers(vec![0.0, 1.0, 2.0, 3.0]))
    .unwrap();
    for i in 0..100 {
        ds.insert(&format!("v{i:03}"), &base).unwrap();
    }
    ds.to_zarr(
        &rt,
        &out,
        DatasetWriteOptions {
            format: ZarrFormat::V2,
            ..Default::default()
        },
    )
    .unwrap();
    let t = std::time::Instant::now();
    let back = Dataset::open(&out).unwrap();
    let took = t.elapsed();
    assert_eq!(back.names().len(), 100);
    assert_eq!(
        back.dims(),
        &[("y".to_string(), 4), ("x".to_string(), 4)][..]
    );
    eprintln!("opened 100 variables in {took:?}");
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    std::fs::remove_dir_all(&out).unwrap();
}

/// A strictly monotonic coordinate of length `n` (ascending or descending).
fn coord_strategy(n: usize) -> impl Strategy<Value = Vec<f64>> {
    (prop::collection::vec(1u8..5, n), any::<bool>(), -50i32..50).prop_map(
        move |(steps, desc, start)| {
            let mut v = Vec::with_capacity(steps.len());
            let mut x = f64::from(start);
            for s in steps {
                v.push(x);
                x += f64::from(s);
            }
            if desc {
                v.reverse();
            }
            v
        },
    )
}

fn slice_strategy(n: usize) -> impl Strategy<Value = SliceInfoElem> {
    let n = n as isize;
    prop_oneof![
        (0..n).prop_map(SliceInfoElem::Index),
        (
            0..=n,
            0..=n,
            prop_oneof![Just(1isize), Just(2), Just(-1), Just(-3)]
        )
            .prop_map(|(a, b, step)| SliceInfoElem::Slice {
                start: a.min(b),
                end: Some(a.max(b)),
                step,
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// isel equals ndarray's slicing of the data and of each coordinate.
    #[test]
    fn isel_matches_ndarray(
        (shape, chunks, coords, sels) in (1usize..7, 1usize..6)
            .prop_flat_map(|(n0, n1)| (
                Just(vec![n0, n1]),
                (1..=n0, 1..=n1),
                (coord_strategy(n0), coord_strategy(n1)),
                (slice_strategy(n0), slice_strategy(n1)),
            ))
    ) {
        let rt = rt();
        let a = ArrayD::from_shape_fn(IxDyn(&shape), |ix| (ix[0] * 10 + ix[1]) as f64);
        let da = DataArray::new(
            ChunkedArray::from_ndarray(a.clone(), [chunks.0, chunks.1]).unwrap(),
            &["y", "x"],
        )
        .unwrap()
        .with_coord("y", Coordinate::numbers(coords.0.clone()))
        .unwrap()
        .with_coord("x", Coordinate::numbers(coords.1.clone()))
        .unwrap();
        let got = da.isel(&[("y", sels.0), ("x", sels.1)]).unwrap();
        let want = a.slice(&[sels.0, sels.1][..]).to_owned();
        prop_assert_eq!(compute(&rt, &got), want);
        for (dim, sel, c) in [("y", sels.0, &coords.0), ("x", sels.1, &coords.1)] {
            let cy = ndarray::Array1::from(c.clone()).into_dyn();
            let want = cy.slice(&[sel][..]).to_owned();
            match sel {
                SliceInfoElem::Index(_) => prop_assert!(got.coord(dim).is_none()),
                _ => prop_assert_eq!(
                    got.coord(dim).unwrap().as_numbers().unwrap(),
                    &want.iter().copied().collect::<Vec<_>>()[..]
                ),
            }
        }
    }

    /// sel of a range equals the positions whose labels lie in it (both ends included),
    /// ascending or descending; exact and nearest equal the brute-force position.
    #[test]
    fn sel_matches_brute_force(
        (c, lo, hi, v, chunk) in (1usize..12).prop_flat_map(|n| (
            coord_strategy(n), -60.0f64..70.0, -60.0f64..70.0, -60.0f64..70.0, 1..=n,
        ))
    ) {
        let rt = rt();
        let n = c.len();
        let a = ArrayD::from_shape_fn(IxDyn(&[n]), |ix| ix[0] as f64);
        let da = DataArray::new(ChunkedArray::from_ndarray(a, [chunk]).unwrap(), &["x"])
            .unwrap()
            .with_coord("x", Coordinate::numbers(c.clone()))
            .unwrap();
        let desc = n > 1 && c[0] > c[1];
        // xarray's slice(lo, hi) in the coordinate's order.
        let (from, to) = if desc { (hi.max(lo), hi.min(lo)) } else { (lo.min(hi), lo.max(hi)) };
        let want: Vec<f64> = (0..n)
            .filter(|&i| c[i] >= from.min(to) && c[i] <= from.max(to))
            .map(|i| i as f64)
            .collect();
        match da.sel(&[("x", Label::range(from, to))]) {
            Ok(r) => prop_assert_eq!(compute(&rt, &r).into_raw_vec_and_offset().0, want),
            Err(e) => {
                prop_assert!(want.is_empty());
                prop_assert!(matches!(e, Error::SelectionNotFound { .. }), "{}", e);
            }
        }
        let nearest = (0..n)
            .min_by(|&i, &j| (c[i] - v).abs().partial_cmp(&(c[j] - v).abs()).unwrap())
            .unwrap();
        let r = da.sel(&[("x", Label::nearest(v))]).unwrap();
        prop_assert_eq!(r.data().compute_scalar(&rt).unwrap(), nearest as f64);
        let exact = da.sel(&[("x", Label::from(c[nearest]))]).unwrap();
        prop_assert_eq!(exact.data().compute_scalar(&rt).unwrap(), nearest as f64);
    }
}

/// The labelled layer adds nothing per block: W3 (`std(x - mean(x, time), time)`) through a
/// Dataset plans the same tasks and reads as through ChunkedArray, and computes the same bits.
#[test]
fn w3_through_dataset_plans_as_through_chunkedarray() {
    let rt = rt();
    let ds = Dataset::open(fixture("v3.zarr")).unwrap();
    let t2m = ds.var::<f32>("t2m").unwrap();
    let labelled = (&t2m - &t2m.mean("time").unwrap())
        .unwrap()
        .std("time")
        .unwrap();
    let x = ChunkedArray::<f32>::open_zarr(fixture("v3.zarr"), "t2m").unwrap();
    let plain = (&x - &x.mean_axis(0).unwrap())
        .unwrap()
        .std_axis(0)
        .unwrap();
    let (a, b) = (labelled.data().plan_summary(&rt), plain.plan_summary(&rt));
    assert_eq!(a.tasks, b.tasks);
    assert_eq!(a.tasks_by_op, b.tasks_by_op);
    assert_eq!(
        a.reads_by_source.values().sum::<usize>(),
        b.reads_by_source.values().sum::<usize>()
    );
    assert_eq!(compute(&rt, &labelled), plain.compute(&rt).unwrap());
}

#[test]
fn groupby_and_resample_by_time_labels() {
    let rt = rt();
    // Daily 2001-01-01 .. 2001-12-31 in noleap; value = day of year - 1.
    let coder = TimeCoder::new("days since 2001-01-01", Some("noleap")).unwrap();
    let times = coder
        .decode(&(0..365).map(f64::from).collect::<Vec<_>>())
        .unwrap();
    let x = ChunkedArray::<f64>::from_shape_fn(&[365, 2], [40, 2], |ix| ix[0] as f64).unwrap();
    let da = DataArray::new(x, &["time", "lat"])
        .unwrap()
        .with_coord("time", Coordinate::times(times, Calendar::NoLeap))
        .unwrap()
        .with_coord("lat", Coordinate::numbers(vec![10.0, 20.0]))
        .unwrap();
    let m = da.groupby("time.month").unwrap().mean().unwrap();
    assert_eq!(m.dims(), &["month", "lat"]);
    assert_eq!(m.coord("lat"), da.coord("lat"));
    let got = compute(&rt, &m);
    assert_eq!(got[[0, 0]], 15.0); // January: 0..=30
    assert_eq!(got[[1, 1]], 31.0 + 13.5); // February: 31..=58
    // Seasons in xarray's order DJF, JJA, MAM, SON; DJF is Jan, Feb and Dec.
    let s = da.groupby("time.season").unwrap();
    assert_eq!(s.group_dim(), "season");
    let sm = s.max().unwrap();
    assert_eq!(
        compute(&rt, &sm)
            .index_axis(ndarray::Axis(1), 0)
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![364.0, 242.0, 150.0, 333.0]
    );
    let djf = sm.sel(&[("season", Label::from("DJF"))]).unwrap();
    assert_eq!(djf.dims(), &["lat"]);
    // Quarterly bins starting with the first month; labelled by their starts.
    let q = da.resample("time", "3MS").unwrap().sum().unwrap();
    assert_eq!(q.dims(), &["time", "lat"]);
    let starts: Vec<String> = q
        .times("time")
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(starts[1], "2001-04-01T00:00:00");
    assert_eq!(starts.len(), 4);
    let total: f64 = compute(&rt, &q).index_axis(ndarray::Axis(1), 0).sum();
    assert_eq!(total, (0..365).sum::<i32>() as f64);
    let w = da.resample("time", "7D").unwrap().mean().unwrap();
    assert_eq!(w.shape(), &[53, 2]);
    // Anomaly against the monthly climatology, whatever its dim order.
    let clim = m.transpose(&["lat", "month"]).unwrap();
    let anom = da.groupby("time.month").unwrap().anomaly(&clim).unwrap();
    assert_eq!(anom.dims(), da.dims());
    assert_eq!(compute(&rt, &anom)[[0, 0]], -15.0);
    // Bad keys and frequencies.
    for bad in ["month", "time.week", "lat.month"] {
        assert!(da.groupby(bad).is_err(), "{bad}");
    }
    assert!(matches!(
        da.groupby("tim.month"),
        Err(Error::UnknownDimension { .. })
    ));
    for bad in ["1Q", "0MS", "xD"] {
        assert!(
            matches!(da.resample("time", bad), Err(Error::InvalidArgument { .. })),
            "{bad}"
        );
    }
    let other = da.groupby("time.season").unwrap().mean().unwrap();
    assert!(da.groupby("time.month").unwrap().anomaly(&other).is_err());
}

/// A store written without dimension names (zarr-python alone): 1-D arrays are coordinates
/// of dimensions of their own name, others get `dim_0`, `dim_1`, ... (no false conflict).
#[test]
fn stores_without_dimension_names_still_open() {
    let rt = rt();
    let out = tmp("nonames");
    for (name, shape) in [("lat", vec![3]), ("lon", vec![4]), ("t2m", vec![2, 3, 4])] {
        let n: usize = shape.iter().product();
        ChunkedArray::<f64>::arange(0.0, n as f64, 1.0, n)
            .unwrap()
            .into_shape(&shape)
            .unwrap()
            .to_zarr_with(&rt, &out, name, ZarrWriteOptions::default(), None)
            .unwrap();
    }
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.names(), vec!["t2m"]);
    assert_eq!(ds.coords().keys().collect::<Vec<_>>(), vec!["lat", "lon"]);
    assert_eq!(
        ds.var::<f64>("t2m").unwrap().dims(),
        &["dim_0", "dim_1", "dim_2"]
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// Bins that hold no time are kept with NaN, as xarray's `resample` gives them: the numbers
/// below are xarray 2025's for this series (noleap days 0..=30, 90..=100 and 200, the last
/// value NaN), computed once with
/// `xr.DataArray(v, dims="time", coords={"time": t}).resample(time="1MS").mean()` etc.
#[test]
fn resample_keeps_empty_bins_as_xarray() {
    let rt = rt();
    let days: Vec<f64> = (0..31).chain(90..101).chain([200]).map(f64::from).collect();
    let n = days.len();
    let coder = TimeCoder::new("days since 2001-01-01", Some("noleap")).unwrap();
    let times = coder.decode(&days).unwrap();
    let x = ChunkedArray::<f64>::from_shape_fn(&[n, 2], [10, 1], move |ix| {
        if ix[0] == n - 1 {
            f64::NAN
        } else {
            (ix[0] * (ix[1] + 1)) as f64
        }
    })
    .unwrap();
    let da = DataArray::new(x, &["time", "lat"])
        .unwrap()
        .with_coord("time", Coordinate::times(times.clone(), Calendar::NoLeap))
        .unwrap()
        .with_coord("lat", Coordinate::numbers(vec![10.0, 20.0]))
        .unwrap();
    let r = da.resample("time", "1MS").unwrap();
    let nan = f64::NAN;
    let col = |a: &DataArray<f64>, j: usize| -> Vec<f64> {
        compute(&rt, a)
            .index_axis(ndarray::Axis(1), j)
            .iter()
            .copied()
            .collect()
    };
    let same = |got: Vec<f64>, want: &[f64], what: &str| {
        assert_eq!(got.len(), want.len(), "{what}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-12,
                "{what}: {got:?} != {want:?}"
            );
        }
    };
    let mean = r.mean().unwrap();
    let starts: Vec<String> = mean
        .times("time")
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    let want_starts: Vec<String> = (1..=7)
        .map(|m| format!("2001-{m:02}-01T00:00:00"))
        .collect();
    assert_eq!(starts, want_starts);
    same(
        col(&mean, 0),
        &[15.0, nan, nan, 36.0, nan, nan, nan],
        "mean",
    );
    same(
        col(&mean, 1),
        &[30.0, nan, nan, 72.0, nan, nan, nan],
        "mean lat 20",
    );
    // xarray's sum skips NaN (a bin of NaN only sums to 0) and gives NaN for empty bins.
    same(
        col(&r.nansum().unwrap(), 0),
        &[465.0, nan, nan, 396.0, nan, nan, 0.0],
        "nansum",
    );
    same(
        col(&r.nanmax().unwrap(), 0),
        &[30.0, nan, nan, 41.0, nan, nan, nan],
        "nanmax",
    );
    same(
        col(&r.nanstd().unwrap(), 0),
        &[
            8.94427190999916,
            nan,
            nan,
            3.1622776601683795,
            nan,
            nan,
            nan,
        ],
        "nanstd",
    );
    // Without NaN skipping the NaN-only bin is NaN too.
    same(
        col(&r.sum().unwrap(), 0),
        &[465.0, nan, nan, 396.0, nan, nan, nan],
        "sum",
    );
    // The anomaly against the bins' means subtracts from the times that are there.
    let anom = r.anomaly(&mean).unwrap();
    assert_eq!(anom.shape(), &[n, 2]);
    assert_eq!(compute(&rt, &anom)[[0, 0]], -15.0);
    // Integers: the mean is a float (NaN for empty bins); an integer sum cannot hold NaN.
    let xi = ChunkedArray::<i64>::from_shape_fn(&[n], [10], |ix| ix[0] as i64).unwrap();
    let di = DataArray::new(xi, &["time"])
        .unwrap()
        .with_coord("time", Coordinate::times(times, Calendar::NoLeap))
        .unwrap();
    let ri = di.resample("time", "1MS").unwrap();
    let m = ri.mean().unwrap().data().compute(&rt).unwrap();
    same(
        m.iter().copied().collect(),
        &[15.0, nan, nan, 36.0, nan, nan, 42.0],
        "int mean",
    );
    match ri.sum() {
        Err(Error::InvalidArgument { detail, .. }) => {
            assert!(detail.contains("2001-02-01"), "{detail}")
        }
        other => panic!("an integer sum with empty bins: {:?}", other.map(|_| ())),
    }
}

/// `Dataset::to_zarr` keeps each variable's decoded type, as xarray writes back what it
/// opened: float32 stays float32 (bit for bit), packed int16 becomes float64.
#[test]
fn to_zarr_keeps_the_variables_types() {
    let rt = rt();
    let ds = Dataset::open(fixture("v3.zarr")).unwrap();
    let out = tmp("types");
    ds.to_zarr(&rt, &out, DatasetWriteOptions::default())
        .unwrap();
    let back = Dataset::open(&out).unwrap();
    assert_eq!(back.variables()["t2m"].dtype, DType::F32);
    assert_eq!(back.variables()["tp"].dtype, DType::F64);
    assert_eq!(
        compute(&rt, &back.var::<f32>("t2m").unwrap()),
        compute(&rt, &ds.var::<f32>("t2m").unwrap())
    );
    // A float32 array inserted into a new dataset is written as float32 too.
    let mut made = Dataset::new();
    made.insert("t2m", &ds.var::<f32>("t2m").unwrap()).unwrap();
    let out2 = tmp("types-made");
    made.to_zarr(&rt, &out2, DatasetWriteOptions::default())
        .unwrap();
    assert_eq!(
        Dataset::open(&out2).unwrap().variables()["t2m"].dtype,
        DType::F32
    );
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&out2).unwrap();
}
