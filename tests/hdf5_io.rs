//! HDF5 / NetCDF4 back-end: fixture reads against values recorded by
//! `tests/data/hdf5/make_fixtures.py` (h5py, netCDF4-python), writer round trips, and typed
//! errors for bad input.
#![cfg(feature = "hdf5")]
// One-axis regions are `vec![a..b]` by design, and one test passes a reversed range on purpose.
#![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)]

use chunkwise::error::StoreErrorKind;
use chunkwise::io::hdf5::{Hdf5Source, Hdf5WriteOptions, Hdf5Writer};
use chunkwise::io::{BlockSource, BlockWriter, IoLane};
use chunkwise::{AnyArray, DType, Error, Region};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use std::ops::Range;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hdf5")
}

fn fixtures() -> PathBuf {
    data_dir().join("fixtures.h5")
}

fn packed_nc() -> PathBuf {
    data_dir().join("packed.nc")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(data_dir().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A recorded dataset as (dtype name, f64 array); `null` (NaN) as NaN.
fn recorded(key: &str) -> (String, ArrayD<f64>) {
    let e = expected();
    let rec = &e[key];
    let shape: Vec<usize> = rec["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = rec["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect();
    let dtype = rec["dtype"].as_str().unwrap().to_owned();
    (dtype, ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap())
}

fn as_f64(a: &AnyArray) -> ArrayD<f64> {
    match a {
        AnyArray::Bool(x) => x.mapv(|v| f64::from(u8::from(v))),
        AnyArray::I8(x) => x.mapv(f64::from),
        AnyArray::I16(x) => x.mapv(f64::from),
        AnyArray::I32(x) => x.mapv(f64::from),
        AnyArray::I64(x) => x.mapv(|v| v as f64),
        AnyArray::U8(x) => x.mapv(f64::from),
        AnyArray::U16(x) => x.mapv(f64::from),
        AnyArray::U32(x) => x.mapv(f64::from),
        AnyArray::U64(x) => x.mapv(|v| v as f64),
        AnyArray::F32(x) => x.mapv(f64::from),
        AnyArray::F64(x) => x.clone(),
    }
}

fn slice(a: &ArrayD<f64>, region: &[Range<usize>]) -> ArrayD<f64> {
    let mut v = a.view();
    for (ax, r) in region.iter().enumerate() {
        v.slice_axis_inplace(ndarray::Axis(ax), ndarray::Slice::from(r.clone()));
    }
    v.to_owned()
}

fn assert_same(got: &ArrayD<f64>, want: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(
            g == w || (g.is_nan() && w.is_nan()),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

/// Reads `region` through the raw-chunk path (when the source allows it) and through the
/// library's hyperslab path, and checks both against the recorded values.
fn check_region(file: &Path, path: &str, key: &str, region: &[Range<usize>]) {
    let (_, want) = recorded(key);
    let want = slice(&want, region);
    for raw in [true, false] {
        let src = Hdf5Source::open(file, path)
            .unwrap()
            .with_raw_chunk_reads(raw);
        let got = src.read(&Region(region.to_vec())).unwrap();
        assert_eq!(got.shape(), want.shape());
        assert_same(
            &as_f64(&got),
            &want,
            &format!("{path} {region:?} raw={raw}"),
        );
    }
}

fn whole(src: &Hdf5Source) -> Vec<Range<usize>> {
    src.shape().iter().map(|&n| 0..n).collect()
}

#[test]
fn chunked_gzip_shuffle_f32_metadata() {
    let src = Hdf5Source::open(fixtures(), "/chunked_f4").unwrap();
    assert_eq!(src.dtype(), DType::F32);
    assert_eq!(src.shape(), &[37, 23]);
    assert_eq!(src.natural_chunks(), Some(vec![10, 8]));
    let info = src.info();
    assert_eq!(info.path, "chunked_f4");
    assert_eq!(
        info.filters,
        vec!["shuffle".to_owned(), "deflate(4)".to_owned()]
    );
    assert_eq!(info.fill_value, Some(serde_json::json!(0.0)));
    assert!(src.uses_raw_chunk_reads());
    assert_eq!(src.io_lane(), IoLane::Parallel);
    let a = src.attributes();
    assert_eq!(a["units"], "K");
    assert_eq!(a["scale"], 0.5);
    assert_eq!(a["count"], 7);
    assert_eq!(a["valid_range"], serde_json::json!([-10.0, 300.0]));
    assert_eq!(a["flags"], serde_json::json!([1, 2, 4]));
    assert!(src.describe().contains("chunked_f4"));
    // Metadata of the dataset with no NetCDF dimensions.
    assert_eq!(src.dimension_names(), None);
    let hyperslab_only = Hdf5Source::open(fixtures(), "chunked_f4")
        .unwrap()
        .with_raw_chunk_reads(false);
    assert!(!hyperslab_only.uses_raw_chunk_reads());
    assert_eq!(hyperslab_only.io_lane(), IoLane::Serial);
}

#[test]
fn chunked_gzip_shuffle_f32_regions() {
    let f = fixtures();
    let p = "chunked_f4";
    // Whole array (aligned: ends at the array's end), one interior chunk, an edge chunk, a block
    // of several chunks, unaligned regions and a single element.
    for region in [
        vec![0..37, 0..23],
        vec![10..20, 8..16],
        vec![30..37, 16..23],
        vec![0..20, 0..16],
        vec![10..37, 8..23],
        vec![3..29, 5..22],
        vec![9..11, 7..9],
        vec![36..37, 22..23],
        vec![0..37, 3..4],
    ] {
        check_region(&f, p, p, &region);
    }
    // Every aligned start/end combination on a coarse lattice.
    let (_, want) = recorded(p);
    let src = Hdf5Source::open(&f, p).unwrap();
    for r0 in [(0, 10), (0, 30), (10, 37), (20, 37), (5, 12)] {
        for r1 in [(0, 8), (8, 23), (16, 23), (0, 23), (1, 22)] {
            let region = vec![r0.0..r0.1, r1.0..r1.1];
            let got = src.read(&Region(region.clone())).unwrap();
            assert_same(
                &as_f64(&got),
                &slice(&want, &region),
                &format!("{region:?}"),
            );
        }
    }
}

#[test]
fn concurrent_reads_from_one_source() {
    // One shared source read from several threads at once, raw and library paths mixed.
    let (_, want) = recorded("chunked_f4");
    let src = Hdf5Source::open(fixtures(), "chunked_f4").unwrap();
    let mut regions = Vec::new();
    for i in (0..37).step_by(10) {
        for j in (0..23).step_by(8) {
            regions.push(vec![i..(i + 10).min(37), j..(j + 8).min(23)]);
            regions.push(vec![i..(i + 7).min(37), j..(j + 5).min(23)]);
        }
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            let (src, want, regions) = (&src, &want, &regions);
            s.spawn(move || {
                for _ in 0..5 {
                    for r in regions.iter().skip(t) {
                        let got = src.read(&Region(r.clone())).unwrap();
                        assert_same(&as_f64(&got), &slice(want, r), &format!("{r:?}"));
                    }
                }
            });
        }
    });
}

#[test]
fn empty_region_reads_empty_block() {
    let src = Hdf5Source::open(fixtures(), "chunked_f4").unwrap();
    let got = src.read(&Region(vec![5..5, 0..23])).unwrap();
    assert_eq!(got.shape(), &[0, 23]);
    assert_eq!(got.dtype(), DType::F32);
}

#[test]
fn contiguous_f64() {
    let src = Hdf5Source::open(fixtures(), "contiguous_f8").unwrap();
    assert_eq!(src.dtype(), DType::F64);
    assert_eq!(src.shape(), &[4, 5, 6]);
    assert_eq!(src.natural_chunks(), None);
    assert!(src.info().filters.is_empty());
    assert!(!src.uses_raw_chunk_reads());
    assert_eq!(src.io_lane(), IoLane::Serial);
    let f = fixtures();
    check_region(&f, "contiguous_f8", "contiguous_f8", &whole(&src));
    check_region(&f, "contiguous_f8", "contiguous_f8", &[1..3, 0..5, 2..5]);
}

#[test]
fn integer_types() {
    let f = fixtures();
    for (path, dtype, raw) in [
        ("ints/i2", DType::I16, true),
        ("/ints/u1", DType::U8, true),
        ("ints/i8", DType::I64, true),
    ] {
        let src = Hdf5Source::open(&f, path).unwrap();
        assert_eq!(src.dtype(), dtype, "{path}");
        assert_eq!(src.uses_raw_chunk_reads(), raw, "{path}");
        let key = path.trim_start_matches('/');
        let (np, _) = recorded(key);
        assert_eq!(np, dtype.numpy_name());
        check_region(&f, path, key, &whole(&src));
        let unaligned: Vec<Range<usize>> = src.shape().iter().map(|&n| 1..n - 1).collect();
        check_region(&f, path, key, &unaligned);
    }
    // u1 is gzip without shuffle.
    let u1 = Hdf5Source::open(&f, "ints/u1").unwrap();
    assert_eq!(u1.info().filters, vec!["deflate(4)".to_owned()]);
    check_region(&f, "ints/u1", "ints/u1", &[16..48]);
    check_region(&f, "ints/u1", "ints/u1", &[48..50]);
}

#[test]
fn library_path_for_big_endian_fletcher32_and_bool() {
    let f = fixtures();
    // Stored big-endian: converted by the library, never read raw.
    let be = Hdf5Source::open(&f, "be_f4").unwrap();
    assert_eq!(be.dtype(), DType::F32);
    assert!(!be.uses_raw_chunk_reads());
    assert_eq!(be.io_lane(), IoLane::Serial);
    check_region(&f, "be_f4", "be_f4", &whole(&be));
    check_region(&f, "be_f4", "be_f4", &[5..10, 0..5]);
    // A checksum filter the raw path does not undo.
    let fl = Hdf5Source::open(&f, "fletcher_i4").unwrap();
    assert_eq!(fl.dtype(), DType::I32);
    assert!(fl.info().filters.contains(&"fletcher32".to_owned()));
    assert!(!fl.uses_raw_chunk_reads());
    check_region(&f, "fletcher_i4", "fletcher_i4", &whole(&fl));
    check_region(&f, "fletcher_i4", "fletcher_i4", &[4..8, 3..6]);
    // h5py booleans.
    let mask = Hdf5Source::open(&f, "mask").unwrap();
    assert_eq!(mask.dtype(), DType::Bool);
    assert!(!mask.uses_raw_chunk_reads());
    check_region(&f, "mask", "mask", &whole(&mask));
    check_region(&f, "mask", "mask", &[1..3, 2..5]);
}

#[test]
fn fill_value_of_unwritten_chunks() {
    let src = Hdf5Source::open(fixtures(), "fill_f4").unwrap();
    assert_eq!(src.info().fill_value, Some(serde_json::json!(-999.0)));
    let f = fixtures();
    check_region(&f, "fill_f4", "fill_f4", &[0..6, 0..6]);
    // Only unwritten chunks.
    check_region(&f, "fill_f4", "fill_f4", &[3..6, 3..6]);
    check_region(&f, "fill_f4", "fill_f4", &[2..5, 1..4]);
}

#[test]
fn nested_groups() {
    let f = fixtures();
    for path in ["/group/sub/var", "group/sub/var", "group//sub/var/"] {
        let src = Hdf5Source::open(&f, path).unwrap();
        assert_eq!(src.info().path, "group/sub/var");
        assert_eq!(src.shape(), &[3, 4, 5]);
        assert_eq!(src.attributes()["long_name"], "nested variable");
        check_region(&f, path, "group/sub/var", &whole(&src));
        check_region(&f, path, "group/sub/var", &[1..3, 1..3, 0..5]);
    }
}

#[test]
fn netcdf4_packed_variable() {
    let e = expected();
    let src = Hdf5Source::open(packed_nc(), "t").unwrap();
    assert_eq!(src.dtype(), DType::I16);
    assert_eq!(src.shape(), &[4, 5, 6]);
    assert_eq!(src.natural_chunks(), Some(vec![2, 5, 3]));
    assert_eq!(
        src.dimension_names(),
        Some(&["time".to_owned(), "lat".to_owned(), "lon".to_owned()][..])
    );
    let attrs = src.attributes();
    for (k, v) in e["nc:t_attrs"].as_object().unwrap() {
        assert_eq!(&attrs[k], v, "attribute {k}");
    }
    // Dimension-scale plumbing is not user metadata.
    assert!(!attrs.contains_key("DIMENSION_LIST"));
    assert_eq!(src.info().fill_value, Some(serde_json::json!(-32767)));
    check_region(&packed_nc(), "t", "nc:t", &whole(&src));
    check_region(&packed_nc(), "/t", "nc:t", &[1..4, 2..5, 1..6]);

    // The attributes are enough to CF-decode (what the array layer does).
    let raw = as_f64(&src.read(&Region(whole(&src))).unwrap());
    let scale = attrs["scale_factor"].as_f64().unwrap();
    let offset = attrs["add_offset"].as_f64().unwrap();
    let fill = attrs["_FillValue"].as_f64().unwrap();
    let decoded = raw.mapv(|v| {
        if v == fill {
            f64::NAN
        } else {
            v * scale + offset
        }
    });
    let (_, want) = recorded("nc:t_decoded");
    for (g, w) in decoded.iter().zip(want.iter()) {
        assert!(
            (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-9,
            "{g} vs {w}"
        );
    }

    // A coordinate variable, contiguous float32.
    let lat = Hdf5Source::open(packed_nc(), "lat").unwrap();
    assert_eq!(lat.dtype(), DType::F32);
    assert_eq!(lat.dimension_names(), Some(&["lat".to_owned()][..]));
    check_region(&packed_nc(), "lat", "nc:lat", &[0..5]);
}

fn kind(e: Error) -> StoreErrorKind {
    match e {
        Error::Store { kind, .. } => kind,
        other => panic!("expected Error::Store, got {other:?}"),
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let missing = data_dir().join("does_not_exist.h5");
    assert_eq!(
        kind(Hdf5Source::open(&missing, "x").unwrap_err()),
        StoreErrorKind::NotFound
    );
    assert_eq!(
        kind(Hdf5Source::open(data_dir().join("not_hdf5.h5"), "x").unwrap_err()),
        StoreErrorKind::NotRecognized { format: "HDF5" }
    );
    assert_eq!(
        kind(Hdf5Source::open(data_dir(), "x").unwrap_err()),
        StoreErrorKind::NotRecognized { format: "HDF5" }
    );
    for path in ["nope", "/group/nope", "group/nope/var", "chunked_f4/inside"] {
        let err = Hdf5Source::open(fixtures(), path).unwrap_err();
        let msg = err.to_string();
        assert_eq!(kind(err), StoreErrorKind::ArrayNotFound, "{path}: {msg}");
    }
    for path in ["group", "/group/sub", "/"] {
        match kind(Hdf5Source::open(fixtures(), path).unwrap_err()) {
            StoreErrorKind::NotAnArray { found } => assert!(found.contains("group"), "{found}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    let err = Hdf5Source::open(fixtures(), "strings").unwrap_err();
    let msg = err.to_string();
    match kind(err) {
        StoreErrorKind::UnsupportedDType { dtype } => assert!(dtype.contains("string"), "{dtype}"),
        other => panic!("{other:?}"),
    }
    assert!(msg.contains("strings"), "{msg}");
    match kind(Hdf5Source::open(fixtures(), "compound").unwrap_err()) {
        StoreErrorKind::UnsupportedDType { dtype } => {
            assert!(dtype.contains("compound"), "{dtype}")
        }
        other => panic!("{other:?}"),
    }
    // A region outside the array.
    let src = Hdf5Source::open(fixtures(), "chunked_f4").unwrap();
    for region in [vec![0..38, 0..23], vec![0..1], vec![5..4, 0..1]] {
        assert!(matches!(
            src.read(&Region(region)).unwrap_err(),
            Error::Shape { .. }
        ));
    }
}

/// A fresh path in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        let p =
            std::env::temp_dir().join(format!("chunkwise-hdf5-{}-{name}.h5", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn writer_round_trip_gzip_f32() {
    let tmp = TempFile::new("roundtrip");
    let shape = [45usize, 30];
    let data = ArrayD::from_shape_fn(IxDyn(&shape), |ix| (ix[0] * 100 + ix[1]) as f32 * 0.5 - 7.0);
    let opts = Hdf5WriteOptions::default().gzip(5);
    let w = Hdf5Writer::create(&tmp.0, "/out/sub/x", &shape, &[10, 12], DType::F32, &opts).unwrap();
    // Blocks aligned to the chunks, written from several threads at once.
    let mut regions = Vec::new();
    for i in (0..45).step_by(10) {
        for j in (0..30).step_by(12) {
            regions.push(Region(vec![i..(i + 10).min(45), j..(j + 12).min(30)]));
        }
    }
    std::thread::scope(|s| {
        for part in regions.chunks(3) {
            let (w, data) = (&w, &data);
            s.spawn(move || {
                for r in part {
                    let block = AnyArray::F32(data.clone())
                        .view()
                        .slice_region(r.ranges())
                        .to_owned();
                    w.write(r, &block.view()).unwrap();
                }
            });
        }
    });
    // Not committed yet: written under a staging name, not visible under its own.
    assert_eq!(
        kind(Hdf5Source::open(&tmp.0, "out/sub/x").unwrap_err()),
        StoreErrorKind::ArrayNotFound
    );
    w.commit().unwrap();
    w.commit().unwrap();
    drop(w);
    let src = Hdf5Source::open(&tmp.0, "out/sub/x").unwrap();
    assert_eq!(src.shape(), &shape);
    assert_eq!(src.natural_chunks(), Some(vec![10, 12]));
    assert_eq!(
        src.info().filters,
        vec!["shuffle".to_owned(), "deflate(5)".to_owned()]
    );
    assert!(!src.attributes().contains_key("chunkwise_incomplete"));
    assert!(src.uses_raw_chunk_reads());
    for raw in [true, false] {
        let src = Hdf5Source::open(&tmp.0, "out/sub/x")
            .unwrap()
            .with_raw_chunk_reads(raw);
        let got = src.read(&Region(vec![0..45, 0..30])).unwrap();
        assert_eq!(got, AnyArray::F32(data.clone()));
        let got = src.read(&Region(vec![10..20, 12..24])).unwrap();
        assert_eq!(
            got,
            AnyArray::F32(
                data.slice(ndarray::s![10..20, 12..24])
                    .to_owned()
                    .into_dyn()
            )
        );
    }
}

#[test]
fn writer_round_trip_other_types_and_unaligned_blocks() {
    let tmp = TempFile::new("types");
    // i64 without compression, written in unaligned blocks.
    let shape = [7usize, 9];
    let data = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        ix[0] as i64 * 1_000_000_007 - ix[1] as i64
    });
    let w = Hdf5Writer::create(
        &tmp.0,
        "i",
        &shape,
        &[4, 4],
        DType::I64,
        &Hdf5WriteOptions::default(),
    )
    .unwrap();
    for r in [vec![0..3, 0..9], vec![3..7, 0..5], vec![3..7, 5..9]] {
        let block = data
            .slice(ndarray::s![r[0].clone(), r[1].clone()])
            .to_owned()
            .into_dyn();
        w.write(&Region(r), &AnyArray::I64(block).view()).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    // bool and u16 in the same file, gzip without shuffle.
    let b = ArrayD::from_shape_fn(IxDyn(&[5]), |ix| ix[0] % 2 == 0);
    let opts = Hdf5WriteOptions::default().gzip(1).shuffle(false);
    let w = Hdf5Writer::create(&tmp.0, "g/b", &[5], &[2], DType::Bool, &opts).unwrap();
    w.write(&Region(vec![0..5]), &AnyArray::Bool(b.clone()).view())
        .unwrap();
    w.commit().unwrap();
    drop(w);
    let u = ArrayD::from_shape_fn(IxDyn(&[3, 4, 5]), |ix| {
        (ix[0] * 20 + ix[1] * 5 + ix[2]) as u16
    });
    let w = Hdf5Writer::create(&tmp.0, "g/u", &[3, 4, 5], &[3, 4, 5], DType::U16, &opts).unwrap();
    w.write(
        &Region(vec![0..3, 0..4, 0..5]),
        &AnyArray::U16(u.clone()).view(),
    )
    .unwrap();
    w.commit().unwrap();
    drop(w);

    let src = Hdf5Source::open(&tmp.0, "/i").unwrap();
    assert_eq!(
        src.read(&Region(vec![0..7, 0..9])).unwrap(),
        AnyArray::I64(data)
    );
    let src = Hdf5Source::open(&tmp.0, "g/b").unwrap();
    assert_eq!(src.dtype(), DType::Bool);
    assert!(!src.uses_raw_chunk_reads());
    assert_eq!(src.read(&Region(vec![0..5])).unwrap(), AnyArray::Bool(b));
    let src = Hdf5Source::open(&tmp.0, "g/u").unwrap();
    assert_eq!(src.info().filters, vec!["deflate(1)".to_owned()]);
    assert!(src.uses_raw_chunk_reads());
    assert_eq!(
        src.read(&Region(vec![0..3, 0..4, 0..5])).unwrap(),
        AnyArray::U16(u)
    );
}

#[test]
fn writer_refuses_overwrite_unless_asked() {
    let tmp = TempFile::new("overwrite");
    let opts = Hdf5WriteOptions::default();
    let w = Hdf5Writer::create(&tmp.0, "a/x", &[4], &[2], DType::F64, &opts).unwrap();
    w.write(
        &Region(vec![0..4]),
        &AnyArray::F64(ArrayD::from_elem(IxDyn(&[4]), 1.0)).view(),
    )
    .unwrap();
    w.commit().unwrap();
    drop(w);
    let err = Hdf5Writer::create(&tmp.0, "/a/x", &[4], &[2], DType::F64, &opts).unwrap_err();
    assert!(err.to_string().contains("a/x"), "{err}");
    assert_eq!(kind(err), StoreErrorKind::AlreadyExists);
    // A group is never replaced.
    let err = Hdf5Writer::create(
        &tmp.0,
        "a",
        &[4],
        &[2],
        DType::F64,
        &opts.clone().overwrite(true),
    )
    .unwrap_err();
    assert!(matches!(kind(err), StoreErrorKind::NotAnArray { .. }));
    // With overwrite, a new dataset of another type replaces it.
    let w = Hdf5Writer::create(
        &tmp.0,
        "a/x",
        &[3],
        &[3],
        DType::I32,
        &opts.clone().overwrite(true),
    )
    .unwrap();
    w.write(
        &Region(vec![0..3]),
        &AnyArray::I32(ArrayD::from_elem(IxDyn(&[3]), 5)).view(),
    )
    .unwrap();
    w.commit().unwrap();
    drop(w);
    let src = Hdf5Source::open(&tmp.0, "a/x").unwrap();
    assert_eq!(src.dtype(), DType::I32);
    assert_eq!(src.shape(), &[3]);
}

#[test]
fn uncommitted_write_never_looks_complete() {
    let tmp = TempFile::new("uncommitted");
    let w = Hdf5Writer::create(
        &tmp.0,
        "x",
        &[4, 4],
        &[2, 2],
        DType::F32,
        &Hdf5WriteOptions::default().gzip(3),
    )
    .unwrap();
    let block = AnyArray::F32(ArrayD::from_elem(IxDyn(&[2, 4]), 1.5));
    w.write(&Region(vec![0..2, 0..4]), &block.view()).unwrap();
    drop(w); // a failed run: no commit
    // The staging dataset is gone and nothing has the name: no partial dataset looks complete.
    let err = Hdf5Source::open(&tmp.0, "x").unwrap_err();
    assert_eq!(kind(err), StoreErrorKind::ArrayNotFound);
    let f = hdf5::File::open(&tmp.0).unwrap();
    assert_eq!(f.member_names().unwrap(), Vec::<String>::new());
    drop(f);
    // So a new write needs no overwrite.
    let w = Hdf5Writer::create(
        &tmp.0,
        "x",
        &[4, 4],
        &[2, 2],
        DType::F32,
        &Hdf5WriteOptions::default(),
    )
    .unwrap();
    w.commit().unwrap();
}

#[test]
fn writer_rejects_bad_blocks_and_arguments() {
    let tmp = TempFile::new("badblocks");
    let opts = Hdf5WriteOptions::default();
    let w = Hdf5Writer::create(&tmp.0, "x", &[4, 4], &[2, 2], DType::F32, &opts).unwrap();
    let f64_block = AnyArray::F64(ArrayD::zeros(IxDyn(&[2, 2])));
    assert!(matches!(
        w.write(&Region(vec![0..2, 0..2]), &f64_block.view())
            .unwrap_err(),
        Error::DTypeMismatch { .. }
    ));
    let block = AnyArray::F32(ArrayD::zeros(IxDyn(&[2, 2])));
    assert!(matches!(
        w.write(&Region(vec![0..2, 0..3]), &block.view())
            .unwrap_err(),
        Error::Shape { .. }
    ));
    assert!(matches!(
        w.write(&Region(vec![3..5, 0..2]), &block.view())
            .unwrap_err(),
        Error::Shape { .. }
    ));
    w.commit().unwrap();
    drop(w);
    assert!(matches!(
        Hdf5Writer::create(&tmp.0, "y", &[4, 4], &[2], DType::F32, &opts).unwrap_err(),
        Error::ChunkRankMismatch { .. }
    ));
    assert!(matches!(
        Hdf5Writer::create(&tmp.0, "y", &[4, 4], &[2, 0], DType::F32, &opts).unwrap_err(),
        Error::ZeroChunk { .. }
    ));
    assert!(matches!(
        Hdf5Writer::create(&tmp.0, "/", &[4], &[2], DType::F32, &opts).unwrap_err(),
        Error::InvalidArgument { .. }
    ));
    // A dataset in the way of a group: named as the parent that cannot hold the dataset.
    let err = Hdf5Writer::create(&tmp.0, "x/y", &[4], &[2], DType::F32, &opts).unwrap_err();
    let msg = err.to_string();
    assert_eq!(
        kind(err),
        StoreErrorKind::ParentNotAGroup {
            parent: "/x".into()
        },
        "{msg}"
    );
    // Not an HDF5 file.
    assert_eq!(
        kind(
            Hdf5Writer::create(
                data_dir().join("not_hdf5.h5"),
                "x",
                &[4],
                &[2],
                DType::F32,
                &opts
            )
            .unwrap_err()
        ),
        StoreErrorKind::NotRecognized { format: "HDF5" }
    );
}

/// Writes an `i16` dataset `name` of `shape` (values 0, 1, ...) with `options`.
fn write_i16(
    file: &Path,
    name: &str,
    shape: &[usize],
    options: &Hdf5WriteOptions,
) -> Result<(), Error> {
    let w = Hdf5Writer::create(file, name, shape, shape, DType::I16, options)?;
    let n: usize = shape.iter().product();
    let data = ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as i16).collect()).unwrap();
    let region = Region(shape.iter().map(|&s| 0..s).collect());
    w.write(&region, &AnyArray::I16(data).view())?;
    w.commit()
}

/// NetCDF4 metadata of written datasets: attributes with netCDF4 types (`_FillValue` of the
/// variable's own type, and the dataset's fill value to match), dimension scales named after
/// the dimensions (netCDF4's "dimension without a variable" where no coordinate is given, a
/// coordinate variable where one is), shared by a second variable of the same dimensions.
#[test]
fn writer_writes_netcdf4_attributes_and_dimensions() {
    use chunkwise::io::hdf5::Hdf5Dimension;
    use chunkwise::io::hdf5::netcdf::DIM_WITHOUT_VARIABLE;
    let tmp = TempFile::new("netcdf4");
    let attrs = serde_json::json!({
        "units": "m", "scale_factor": 0.5, "add_offset": 10, "_FillValue": -32767,
        "valid_range": [-100, 100], "flags": [1.5, "NaN"], "_ARRAY_DIMENSIONS": ["y", "x"],
    });
    let lat = AnyArray::F32(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0f32, 2.0, 3.0]).unwrap());
    let dims = vec![
        Hdf5Dimension::new("y").with_coordinate(
            lat,
            serde_json::json!({"units": "deg"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        Hdf5Dimension::new("x"),
    ];
    let opts = Hdf5WriteOptions::default()
        .attributes(attrs.as_object().unwrap().clone())
        .dimensions(dims.clone());
    write_i16(&tmp.0, "v", &[3, 4], &opts).unwrap();
    write_i16(
        &tmp.0,
        "w",
        &[3, 4],
        &Hdf5WriteOptions::default().dimensions(dims.clone()),
    )
    .unwrap();

    let src = Hdf5Source::open(&tmp.0, "v").unwrap();
    assert_eq!(
        src.dimension_names(),
        Some(&["y".to_string(), "x".to_string()][..])
    );
    let a = src.attributes();
    assert_eq!(a["units"], "m");
    assert_eq!(a["scale_factor"], 0.5);
    assert_eq!(a["add_offset"], 10);
    assert_eq!(a["_FillValue"], -32767);
    assert_eq!(a["valid_range"], serde_json::json!([-100, 100]));
    assert_eq!(a["flags"][0], 1.5);
    assert!(!a.contains_key("_ARRAY_DIMENSIONS"));
    assert_eq!(src.info().fill_value, Some(serde_json::json!(-32767)));
    let w = Hdf5Source::open(&tmp.0, "w").unwrap();
    assert_eq!(w.dimension_names(), src.dimension_names());

    let f = hdf5::File::open(&tmp.0).unwrap();
    let v = f.dataset("v").unwrap();
    for name in ["_FillValue", "valid_range"] {
        assert!(
            v.attr(name).unwrap().dtype().unwrap().is::<i16>(),
            "{name} is typed int16"
        );
    }
    let name_of = |ds: &str| -> String {
        f.dataset(ds)
            .unwrap()
            .attr("NAME")
            .unwrap()
            .read_scalar::<hdf5::types::FixedAscii<64>>()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|_| "?".into())
    };
    let x = name_of("x");
    assert!(
        x.starts_with(DIM_WITHOUT_VARIABLE) && x.trim_end().ends_with(" 4"),
        "{x:?}"
    );
    assert_eq!(name_of("y"), "y");
    let y = Hdf5Source::open(&tmp.0, "y").unwrap();
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(y.attributes()["units"], "deg");
    assert_eq!(
        as_f64(&y.read(&Region(vec![0..3])).unwrap())
            .into_raw_vec_and_offset()
            .0,
        vec![1.0, 2.0, 3.0]
    );
}

/// Dimensions that cannot be written are refused before anything is: a length that differs
/// from a dataset of that name in the file, the wrong number, a fill value the type cannot
/// hold.
#[test]
fn writer_refuses_inconsistent_dimensions_and_fill_values() {
    use chunkwise::io::hdf5::Hdf5Dimension;
    let tmp = TempFile::new("netcdf4-bad");
    let dims = |names: &[&str]| {
        names
            .iter()
            .map(|n| Hdf5Dimension::new(*n))
            .collect::<Vec<_>>()
    };
    write_i16(
        &tmp.0,
        "v",
        &[3, 4],
        &Hdf5WriteOptions::default().dimensions(dims(&["y", "x"])),
    )
    .unwrap();
    let e = write_i16(
        &tmp.0,
        "w",
        &[5, 4],
        &Hdf5WriteOptions::default().dimensions(dims(&["y", "x"])),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert!(
        msg.contains("\"y\"") && msg.contains("length 5") && msg.contains("[3]"),
        "{msg}"
    );
    let e = write_i16(
        &tmp.0,
        "w",
        &[5, 4],
        &Hdf5WriteOptions::default().dimensions(dims(&["y"])),
    )
    .unwrap_err();
    assert!(e.to_string().contains("1 dimensions"), "{e}");
    let attrs = serde_json::json!({"_FillValue": 1e9});
    let e = write_i16(
        &tmp.0,
        "w",
        &[5, 4],
        &Hdf5WriteOptions::default().attributes(attrs.as_object().unwrap().clone()),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::BadAttribute { attribute, .. } if attribute == "_FillValue"),
        "{e:?}"
    );
    // Nothing was left behind by the refused writes.
    assert!(Hdf5Source::open(&tmp.0, "w").is_err());
}

#[test]
fn a_contiguous_dataset_is_split_into_blocks_sized_from_the_limit() {
    // 32 MiB stored without chunks, reduced at a 32 MiB limit: auto blocks of 128 MiB would
    // make one task of the whole dataset (refused); blocks of a sixteenth of the limit fit.
    use chunkwise::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contiguous.h5");
    let (a, b, c) = (256usize, 256usize, 128usize);
    let data = ndarray::Array3::<f32>::from_shape_fn((a, b, c), |(i, j, k)| {
        (i % 10) as f32 + j as f32 * 0.01 + k as f32 * 1e-4
    });
    {
        let f = hdf5::File::create(&path).unwrap();
        let ds = f.new_dataset::<f32>().shape([a, b, c]).create("x").unwrap();
        ds.write(&data).unwrap();
        assert!(!ds.is_chunked(), "the fixture must be stored contiguously");
    }
    let limit = 32usize << 20;
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit(limit)
        .build()
        .unwrap();

    let default = ChunkedArray::<f32>::open_hdf5(&path, "x").unwrap();
    assert_eq!(default.nblocks(), 1, "{:?}", default.chunks());
    assert!(matches!(
        default.mean_axis(0).unwrap().compute(&rt),
        Err(Error::TaskTooLarge { .. } | Error::PlanTooLarge { .. })
    ));

    let x =
        ChunkedArray::<f32>::open_hdf5_with(&path, "x", &OpenOptions::for_runtime(&rt)).unwrap();
    let block_bytes = x.chunks().chunk_shape().iter().product::<usize>() * 4;
    assert!(block_bytes <= limit / 16, "{block_bytes}");
    let got = x.mean_axis(0).unwrap().compute(&rt).unwrap();
    let report = rt.last_report();
    assert!(report.peak_tracked_bytes <= limit, "{report}");
    let want = data.mapv(f64::from).mean_axis(ndarray::Axis(0)).unwrap();
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((f64::from(*g) - w).abs() < 1e-4, "{g} vs {w}");
    }
}
