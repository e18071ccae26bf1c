//! Zarr I/O: the fixtures written by zarr-python (`tests/data/zarr/make_fixtures.py`) read back
//! equal to the values it recorded; round trips through `ZarrWriter`; failure semantics; bad
//! input gives typed errors.
#![cfg(feature = "zarr")]
// One-axis regions are `Region(vec![a..b])`, which is what this lint misreads.
#![allow(clippy::single_range_in_vec_init)]

use chunkwise::error::StoreErrorKind;
use chunkwise::io::zarr::{
    INCOMPLETE_MARKER, ZarrCompression, ZarrFormat, ZarrSource, ZarrWriteOptions, ZarrWriter,
};
use chunkwise::io::{BlockSource, BlockWriter};
use chunkwise::{AnyArray, DType, Error, Region};
use ndarray::{ArrayD, IxDyn};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zarr")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One element of a block, widened for comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Elem {
    Bool(bool),
    Int(i128),
    Float(f64),
}

fn elems(a: &AnyArray) -> Vec<Elem> {
    macro_rules! ints {
        ($a:expr) => {
            $a.iter().map(|&x| Elem::Int(x as i128)).collect()
        };
    }
    match a {
        AnyArray::Bool(a) => a.iter().map(|&x| Elem::Bool(x)).collect(),
        AnyArray::I8(a) => ints!(a),
        AnyArray::I16(a) => ints!(a),
        AnyArray::I32(a) => ints!(a),
        AnyArray::I64(a) => ints!(a),
        AnyArray::U8(a) => ints!(a),
        AnyArray::U16(a) => ints!(a),
        AnyArray::U32(a) => ints!(a),
        AnyArray::U64(a) => ints!(a),
        AnyArray::F32(a) => a.iter().map(|&x| Elem::Float(x as f64)).collect(),
        AnyArray::F64(a) => a.iter().map(|&x| Elem::Float(x)).collect(),
    }
}

fn json_elem(v: &Value, dtype: DType) -> Elem {
    match dtype {
        DType::Bool => Elem::Bool(v.as_bool().unwrap()),
        DType::F32 | DType::F64 => Elem::Float(v.as_f64().unwrap_or(f64::NAN)),
        _ => Elem::Int(
            v.as_i64()
                .map(i128::from)
                .or(v.as_u64().map(i128::from))
                .unwrap(),
        ),
    }
}

fn same(a: Elem, b: Elem, dtype: DType) -> bool {
    match (a, b) {
        (Elem::Float(x), Elem::Float(y)) => {
            if x.is_nan() || y.is_nan() {
                x.is_nan() && y.is_nan()
            } else if dtype == DType::F32 {
                x as f32 == y as f32
            } else {
                // JSON parsing may be off by an ulp.
                (x - y).abs() <= 1e-15 * x.abs().max(y.abs())
            }
        }
        (a, b) => a == b,
    }
}

/// The expected contents of `region` of an array recorded in `expected.json`.
fn expected_region(entry: &Value, dtype: DType, region: &Region) -> Vec<Elem> {
    let shape: Vec<usize> = serde_json::from_value(entry["shape"].clone()).unwrap();
    let data: Vec<Elem> = entry["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json_elem(v, dtype))
        .collect();
    let full = ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap();
    let mut v = full.view();
    for (a, r) in region.0.iter().enumerate() {
        v.slice_axis_inplace(ndarray::Axis(a), ndarray::Slice::from(r.clone()));
    }
    v.iter().copied().collect()
}

fn assert_block_eq(got: &AnyArray, want: &[Elem], dtype: DType, what: &str) {
    let got = elems(got);
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            same(*g, *w, dtype),
            "{what}: element {i}: got {g:?}, want {w:?}"
        );
    }
}

/// A deterministic pseudo-random generator (no dev-dependency needed).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
    fn range(&mut self, n: usize) -> std::ops::Range<usize> {
        let a = self.below(n + 1);
        let b = self.below(n + 1);
        a.min(b)..a.max(b)
    }
}

fn full_region(shape: &[usize]) -> Region {
    Region(shape.iter().map(|&n| 0..n).collect())
}

#[test]
fn every_fixture_reads_as_recorded() {
    let exp = expected();
    let arrays = exp["arrays"].as_array().unwrap();
    assert!(arrays.len() >= 15);
    let mut rng = Lcg(42);
    for entry in arrays {
        let store = fixtures_dir().join(entry["store"].as_str().unwrap());
        let path = entry["path"].as_str().unwrap();
        let what = format!("{}/{path}", entry["store"].as_str().unwrap());
        let src = ZarrSource::open(&store, path).unwrap_or_else(|e| panic!("{what}: {e}"));
        let info = src.info().clone();
        let dtype = DType::from_numpy_name(entry["dtype"].as_str().unwrap()).unwrap();
        let shape: Vec<usize> = serde_json::from_value(entry["shape"].clone()).unwrap();
        let chunks: Vec<usize> = serde_json::from_value(entry["chunks"].clone()).unwrap();
        assert_eq!(src.dtype(), dtype, "{what}");
        assert_eq!(src.shape(), shape.as_slice(), "{what}");
        assert_eq!(
            info.format.number() as u64,
            entry["zarr_format"].as_u64().unwrap()
        );
        // For sharded arrays, the recorded chunks are the inner chunks.
        assert_eq!(src.natural_chunks(), Some(chunks.clone()), "{what}");
        if path == "i8_sharded" {
            assert_eq!(info.chunk_shape, vec![20, 18]);
            assert_eq!(info.inner_chunk_shape, Some(vec![10, 9]));
            assert!(
                info.codecs[0].contains("sharding_indexed"),
                "{:?}",
                info.codecs
            );
        } else {
            assert_eq!(info.chunk_shape, chunks, "{what}");
            assert_eq!(info.inner_chunk_shape, None, "{what}");
        }
        let want_names: Option<Vec<Option<String>>> =
            serde_json::from_value(entry["dimension_names"].clone()).unwrap();
        assert_eq!(info.dimension_names, want_names, "{what}");
        for (k, v) in entry["attributes"].as_object().unwrap() {
            assert_eq!(src.attributes().get(k), Some(v), "{what}: attribute {k}");
        }
        // Fill value as recorded (NaN is null in the JSON, "NaN" in Zarr metadata).
        let fill = &entry["fill_value"];
        if fill.is_null() {
            assert_eq!(info.fill_value, json!("NaN"), "{what}");
        } else if let (Some(a), Some(b)) = (fill.as_f64(), info.fill_value.as_f64()) {
            assert_eq!(a, b, "{what}");
        } else {
            assert_eq!(&info.fill_value, fill, "{what}");
        }
        assert!(src.describe().contains(path), "{}", src.describe());

        // The whole array.
        let whole = full_region(&shape);
        let block = src.read(&whole).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(block.shape(), shape.as_slice());
        assert_block_eq(&block, &expected_region(entry, dtype, &whole), dtype, &what);

        // Unaligned regions, including empty ones and single elements.
        for _ in 0..12 {
            let region = Region(shape.iter().map(|&n| rng.range(n)).collect());
            let block = src
                .read(&region)
                .unwrap_or_else(|e| panic!("{what} {region}: {e}"));
            assert_eq!(block.shape(), region.shape().as_slice());
            assert_block_eq(
                &block,
                &expected_region(entry, dtype, &region),
                dtype,
                &format!("{what} {region}"),
            );
            assert!(src.read_scratch_bytes(&region) >= region.len() * dtype.size());
        }
    }
}

#[test]
fn missing_chunks_read_as_fill_value() {
    let store = fixtures_dir().join("v3.zarr");
    let src = ZarrSource::open(&store, "u1_missing").unwrap();
    // Chunk (3, 0) was never written.
    assert!(!store.join("u1_missing/c/3/0").exists());
    let block = src.read(&Region(vec![24..30, 0..8])).unwrap();
    assert!(elems(&block).iter().all(|&e| e == Elem::Int(7)));
    let src = ZarrSource::open(&store, "f4_nan_missing").unwrap();
    let block = src.read(&Region(vec![4..8, 0..10])).unwrap();
    assert!(
        elems(&block)
            .iter()
            .all(|e| matches!(e, Elem::Float(x) if x.is_nan()))
    );
}

#[test]
fn unsupported_dtypes_are_typed_errors() {
    let exp = expected();
    let unsupported = exp["unsupported"].as_array().unwrap();
    assert!(unsupported.len() >= 3);
    for entry in unsupported {
        let store = fixtures_dir().join(entry["store"].as_str().unwrap());
        let path = entry["path"].as_str().unwrap();
        match ZarrSource::open(&store, path) {
            Err(
                e @ Error::Store {
                    kind: StoreErrorKind::UnsupportedDType { .. },
                    ..
                },
            ) => {
                let msg = e.to_string();
                let Error::Store {
                    path: p,
                    kind: StoreErrorKind::UnsupportedDType { dtype },
                    ..
                } = e
                else {
                    unreachable!()
                };
                assert!(p.ends_with(path), "{p}");
                assert!(!dtype.is_empty());
                assert!(msg.contains(path) && msg.contains(&dtype), "{msg}");
            }
            other => panic!("{path}: expected UnsupportedDType, got {other:?}"),
        }
    }
}

/// The path, the kind and the whole message (with the causes) of a store error.
fn store_error<T: std::fmt::Debug>(r: Result<T, Error>) -> (String, StoreErrorKind, String) {
    match r {
        Err(e @ Error::Store { .. }) => {
            let report = e.report().to_string();
            let Error::Store { path, kind, .. } = e else {
                unreachable!()
            };
            (path, kind, report)
        }
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[test]
fn bad_paths_are_typed_errors() {
    // A store that does not exist.
    let (path, kind, _) = store_error(ZarrSource::open("/nonexistent/chunkwise/store.zarr", "x"));
    assert_eq!(kind, StoreErrorKind::NotFound);
    assert!(path.ends_with("store.zarr/x"), "{path}");
    // A file where a store (a directory) is expected.
    let (_, kind, msg) = store_error(ZarrSource::open(fixtures_dir().join("expected.json"), "x"));
    assert_eq!(
        kind,
        StoreErrorKind::NotRecognized { format: "Zarr" },
        "{msg}"
    );
    // An array that does not exist.
    let store = fixtures_dir().join("v3.zarr");
    let (path, kind, msg) = store_error(ZarrSource::open(&store, "no_such_array"));
    assert!(path.ends_with("no_such_array"), "{path}");
    assert_eq!(kind, StoreErrorKind::ArrayNotFound, "{msg}");
    assert!(msg.contains("no array"), "{msg}");
    // Groups where an array is expected, v3 and v2, root and nested.
    for (store, path, child) in [
        (store.clone(), "nested", "inner"),
        (store.clone(), "", "f4_zstd"),
        (fixtures_dir().join("v2.zarr"), "grp/sub", "arr"),
    ] {
        let (p, kind, msg) = store_error(ZarrSource::open(&store, path));
        assert!(p.ends_with(path), "{p}");
        assert!(matches!(&kind, StoreErrorKind::NotAnArray { found } if found.contains("group")));
        assert!(msg.contains("group") && msg.contains(child), "{msg}");
    }
    let v2 = fixtures_dir().join("v2.zarr");
    // Leading and trailing slashes are accepted.
    assert!(ZarrSource::open(&v2, "/grp/sub/arr/").is_ok());
}

/// Copies a directory tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

#[test]
fn corrupt_metadata_is_a_storage_error() {
    let tmp = tempfile::tempdir().unwrap();
    for (store, path, meta) in [
        ("v3.zarr", "f4_zstd", "zarr.json"),
        ("v2.zarr", "f4_blosc", ".zarray"),
    ] {
        let copy = tmp.path().join(store);
        copy_dir(&fixtures_dir().join(store), &copy);
        std::fs::write(
            copy.join(path).join(meta),
            b"{\"zarr_format\": 3, \"shape\": [1,",
        )
        .unwrap();
        let (p, kind, msg) = store_error(ZarrSource::open(&copy, path));
        assert!(p.ends_with(path), "{p}");
        assert!(msg.contains("metadata"), "{msg}");
        if meta == "zarr.json" {
            // chunkwise parses v3 metadata itself first; the JSON error is the source.
            assert!(
                matches!(kind, StoreErrorKind::InvalidMetadata { .. }),
                "{kind:?}"
            );
        }
        // Valid JSON but not valid array metadata.
        std::fs::write(
            copy.join(path).join(meta),
            b"{\"zarr_format\": 3, \"node_type\": \"array\"}",
        )
        .unwrap();
        let (_, _, msg) = store_error(ZarrSource::open(&copy, path));
        assert!(msg.contains(path), "{msg}");
    }
    // An unknown codec.
    let copy = tmp.path().join("codec.zarr");
    copy_dir(&fixtures_dir().join("v3.zarr"), &copy);
    let meta_path = copy.join("f4_zstd/zarr.json");
    let text = std::fs::read_to_string(&meta_path)
        .unwrap()
        .replace("\"zstd\"", "\"no_such_codec\"");
    std::fs::write(&meta_path, text).unwrap();
    let (_, kind, msg) = store_error(ZarrSource::open(&copy, "f4_zstd"));
    assert!(
        matches!(&kind, StoreErrorKind::FilterUnavailable { filter, .. } if filter == "no_such_codec"),
        "{msg}"
    );
    assert!(
        msg.contains("codec") && msg.contains("no_such_codec"),
        "{msg}"
    );
}

/// A truncated chunk file is an error naming the chunk's grid index, its file and that it is
/// truncated: never a codec's bare "failed to fill whole buffer" (the message zarrs gives for
/// an uncompressed chunk or a shard whose bytes end early).
#[test]
fn truncated_chunks_are_errors_naming_the_chunk_and_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("v3.zarr");
    copy_dir(&fixtures_dir().join("v3.zarr"), &copy);
    for (path, chunk, index, region, fine) in [
        // zstd-compressed.
        (
            "f4_zstd",
            "c/1/1",
            [1, 1],
            Region(vec![12..14, 9..11]),
            Region(vec![0..10, 0..8]),
        ),
        // Uncompressed: zarrs reads only the bytes a region needs, so the region reaches
        // into the lost half of the chunk.
        (
            "f4_nan_missing",
            "c/0/0",
            [0, 0],
            Region(vec![2..4, 0..5]),
            Region(vec![0..4, 5..10]),
        ),
        // A shard.
        (
            "i8_sharded",
            "c/1/0",
            [1, 0],
            Region(vec![25..26, 3..4]),
            Region(vec![0..20, 0..18]),
        ),
    ] {
        let file = copy.join(path).join(chunk);
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        let src = ZarrSource::open(&copy, path).unwrap();
        let err = src.read(&region).unwrap_err();
        let msg = err.to_string();
        match err {
            Error::BadChunk {
                path: p,
                chunk: c,
                file: f,
                detail,
                ..
            } => {
                assert!(p.ends_with(path), "{p}");
                assert_eq!(c, index, "{msg}");
                assert_eq!(f, file, "{msg}");
                assert!(detail.contains("truncated"), "{msg}");
                assert!(
                    detail.contains(&format!("{} bytes", bytes.len() / 2)),
                    "{msg}"
                );
            }
            other => panic!("{path}: expected a bad-chunk error, got {other:?}"),
        }
        // Other chunks still read.
        src.read(&fine).unwrap();
    }
}

/// A directory where a chunk file belongs (a damaged store) is named as such, with the chunk
/// index, for plain v2 and v3 chunks and for a shard.
#[test]
fn a_chunk_that_is_a_directory_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("v3.zarr");
    copy_dir(&fixtures_dir().join("v3.zarr"), &copy);
    for (path, chunk, index, region) in [
        ("f4_zstd", "c/1/1", [1, 1], Region(vec![12..14, 9..11])),
        ("i8_sharded", "c/1/0", [1, 0], Region(vec![25..26, 3..4])),
    ] {
        let file = copy.join(path).join(chunk);
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let src = ZarrSource::open(&copy, path).unwrap();
        let err = src.read(&region).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, Error::BadChunk { chunk, file: f, .. } if chunk == &index && f == &file),
            "{path}: {err:?}"
        );
        assert!(msg.contains("is a directory"), "{msg}");
        assert!(msg.contains(&file.display().to_string()), "{msg}");
    }
    // Zarr v2 keys (`1.0`), written here.
    let store = tmp.path().join("v2.zarr");
    let w = ZarrWriter::create(
        &store,
        "a",
        &[4, 4],
        &[2, 2],
        DType::F64,
        ZarrWriteOptions {
            format: ZarrFormat::V2,
            compression: ZarrCompression::None,
            ..Default::default()
        },
    )
    .unwrap();
    let data = ArrayD::from_shape_fn(IxDyn(&[4, 4]), |i| (i[0] * 4 + i[1]) as f64 + 1.0);
    w.write(&Region(vec![0..4, 0..4]), &AnyArray::F64(data).view())
        .unwrap();
    w.commit().unwrap();
    let file = store.join("a/1.0");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let err = ZarrSource::open(&store, "a")
        .unwrap()
        .read(&Region(vec![0..4, 0..4]))
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadChunk { chunk, .. } if chunk == &[1, 0]),
        "{err:?}"
    );
    assert!(err.to_string().contains("a/1.0"), "{err}");
}

#[test]
fn out_of_bounds_regions_are_shape_errors() {
    let src = ZarrSource::open(fixtures_dir().join("v3.zarr"), "f4_zstd").unwrap();
    assert!(matches!(
        src.read(&Region(vec![0..38, 0..1])),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        src.read(&Region(vec![0..1])),
        Err(Error::Shape { .. })
    ));
}

fn test_block(dtype: DType, shape: &[usize], seed: u64) -> AnyArray {
    let n: usize = shape.iter().product();
    let mut rng = Lcg(seed);
    let vals: Vec<usize> = (0..n).map(|_| rng.below(1000)).collect();
    let sh = IxDyn(shape);
    macro_rules! mk {
        ($v:ident, $t:ty, $f:expr) => {
            AnyArray::$v(
                ArrayD::from_shape_vec(sh, vals.iter().map($f).collect::<Vec<$t>>()).unwrap(),
            )
        };
    }
    match dtype {
        DType::Bool => mk!(Bool, bool, |&x| x % 3 == 0),
        DType::I8 => mk!(I8, i8, |&x| (x % 256) as u8 as i8),
        DType::I16 => mk!(I16, i16, |&x| x as i16 - 500),
        DType::I32 => mk!(I32, i32, |&x| x as i32 * -7919),
        DType::I64 => mk!(I64, i64, |&x| x as i64 * 1_000_000_007),
        DType::U8 => mk!(U8, u8, |&x| (x % 256) as u8),
        DType::U16 => mk!(U16, u16, |&x| x as u16 * 61),
        DType::U32 => mk!(U32, u32, |&x| x as u32 * 4_000_000),
        DType::U64 => mk!(U64, u64, |&x| u64::MAX / 1000 * x as u64),
        DType::F32 => mk!(F32, f32, |&x| x as f32 / 7.0 - 50.0),
        DType::F64 => mk!(F64, f64, |&x| (x as f64).sqrt() * -3.3),
        _ => unreachable!(),
    }
}

/// Writes `data` through a ZarrWriter in blocks of `block` chunks per axis, from several
/// threads, then commits.
fn write_blocks(w: &ZarrWriter, data: &AnyArray, chunk: &[usize], per_block: &[usize]) {
    let shape = data.shape().to_vec();
    let step: Vec<usize> = chunk.iter().zip(per_block).map(|(c, b)| c * b).collect();
    let mut regions = vec![Vec::new()];
    for (a, &n) in shape.iter().enumerate() {
        let mut next = Vec::new();
        for r in &regions {
            let mut s = 0;
            while s < n {
                let mut r2: Vec<std::ops::Range<usize>> = r.clone();
                r2.push(s..(s + step[a]).min(n));
                next.push(r2);
                s += step[a];
            }
        }
        regions = next;
    }
    std::thread::scope(|scope| {
        for part in regions.chunks(regions.len().div_ceil(3)) {
            scope.spawn(move || {
                for r in part {
                    let region = Region(r.clone());
                    let view = data.view().slice_region(&region.0);
                    w.write(&region, &view).unwrap();
                }
            });
        }
    });
}

#[test]
fn round_trips_v3_and_v2_every_dtype() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("out.zarr");
    let shape = [7, 10, 5];
    let chunk = [3, 4, 5];
    for format in [ZarrFormat::V3, ZarrFormat::V2] {
        for (i, dtype) in DType::ALL.iter().copied().enumerate() {
            let compression = if i % 2 == 0 {
                ZarrCompression::default()
            } else {
                ZarrCompression::None
            };
            let name = format!("g/{}_{}", dtype, format.number());
            let mut attributes = serde_json::Map::new();
            attributes.insert("units".into(), json!("m s-1"));
            attributes.insert("n".into(), json!(i));
            let opts = ZarrWriteOptions {
                format,
                compression,
                dimension_names: Some(vec![Some("t".into()), None, Some("x".into())]),
                attributes,
                ..Default::default()
            };
            let data = test_block(dtype, &shape, i as u64 + 1);
            let w = ZarrWriter::create(&store, &name, &shape, &chunk, dtype, opts).unwrap();
            assert_eq!(w.chunk_shape(), &chunk);
            write_blocks(&w, &data, &chunk, &[1 + i % 2, 2, 1]);
            w.commit().unwrap();
            w.commit().unwrap();
            assert!(!store.join(&name).join(INCOMPLETE_MARKER).exists());

            let src = ZarrSource::open(&store, &name).unwrap();
            let info = src.info();
            assert_eq!(info.format, format);
            assert_eq!(info.dtype, dtype);
            assert_eq!(info.shape, shape.to_vec());
            assert_eq!(info.chunk_shape, chunk.to_vec());
            assert_eq!(
                info.dimension_names,
                Some(vec![Some("t".into()), None, Some("x".into())])
            );
            assert_eq!(src.attributes()["units"], json!("m s-1"));
            assert_eq!(
                info.codecs.iter().any(|c| c.contains("zstd")),
                compression != ZarrCompression::None,
                "{:?}",
                info.codecs
            );
            assert_eq!(src.read(&full_region(&shape)).unwrap(), data, "{name}");
            let region = Region(vec![2..7, 3..9, 1..4]);
            let want = data.view().slice_region(&region.0).to_owned();
            assert_eq!(src.read(&region).unwrap(), want, "{name}");
        }
    }
    // The parent group is a group to readers.
    let (_, kind, msg) = store_error(ZarrSource::open(&store, "g"));
    assert!(matches!(kind, StoreErrorKind::NotAnArray { .. }), "{msg}");
    assert!(msg.contains("group"), "{msg}");
}

#[test]
fn zarr_python_layout_of_written_arrays() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("layout.zarr");
    let w = ZarrWriter::create(
        &store,
        "a",
        &[4],
        &[2],
        DType::F32,
        ZarrWriteOptions::default(),
    )
    .unwrap();
    let data = test_block(DType::F32, &[4], 3);
    w.write(&Region(vec![0..4]), &data.view()).unwrap();
    w.commit().unwrap();
    assert!(store.join("zarr.json").is_file());
    assert!(store.join("a/zarr.json").is_file());
    assert!(store.join("a/c/0").is_file() && store.join("a/c/1").is_file());
    // zarr-python 3 rejects codecs written as bare strings; no zarrs attribute is added.
    let w = ZarrWriter::create(
        &store,
        "b",
        &[4],
        &[2],
        DType::Bool,
        ZarrWriteOptions::default(),
    )
    .unwrap();
    w.commit().unwrap();
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("b/zarr.json")).unwrap()).unwrap();
    for codec in meta["codecs"].as_array().unwrap() {
        assert!(codec.is_object(), "{codec}");
    }
    assert!(meta["attributes"].get("_zarrs").is_none(), "{meta}");

    let w = ZarrWriter::create(
        store.join("v2"),
        "a",
        &[4],
        &[2],
        DType::F32,
        ZarrWriteOptions {
            format: ZarrFormat::V2,
            ..Default::default()
        },
    )
    .unwrap();
    w.write(&Region(vec![0..4]), &data.view()).unwrap();
    w.commit().unwrap();
    assert!(store.join("v2/.zgroup").is_file());
    assert!(store.join("v2/a/.zarray").is_file());
    assert!(store.join("v2/a/0").is_file() && store.join("v2/a/1").is_file());
}

#[test]
fn overwrite_needs_the_option_and_never_removes_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("o.zarr");
    let create = |overwrite: bool| {
        ZarrWriter::create(
            &store,
            "grp/arr",
            &[3],
            &[2],
            DType::I32,
            ZarrWriteOptions {
                overwrite,
                ..Default::default()
            },
        )
    };
    let w = create(false).unwrap();
    w.write(
        &Region(vec![0..3]),
        &AnyArray::I32(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, 2, 3]).unwrap()).view(),
    )
    .unwrap();
    w.commit().unwrap();
    drop(w);
    match create(false) {
        Err(e @ Error::Store { .. }) => {
            assert!(e.to_string().contains("overwrite"), "{e}");
            let Error::Store { path, kind, .. } = e else {
                unreachable!()
            };
            assert!(path.ends_with("arr"), "{path}");
            assert_eq!(kind, chunkwise::error::StoreErrorKind::AlreadyExists);
        }
        other => panic!("{other:?}"),
    }
    // The refused create left the array as it was.
    let src = ZarrSource::open(&store, "grp/arr").unwrap();
    assert_eq!(
        elems(&src.read(&Region(vec![0..3])).unwrap()),
        vec![Elem::Int(1), Elem::Int(2), Elem::Int(3)]
    );
    // With overwrite: the old array stays readable until the new one commits, then is gone.
    let w = create(true).unwrap();
    assert!(store.join("grp/arr/c/0").exists());
    w.commit().unwrap();
    assert!(!store.join("grp/arr/c/0").exists());
    let src = ZarrSource::open(&store, "grp/arr").unwrap();
    assert_eq!(
        elems(&src.read(&Region(vec![0..3])).unwrap()),
        vec![Elem::Int(0); 3]
    );
    // A group is never replaced.
    let r = ZarrWriter::create(
        &store,
        "grp",
        &[3],
        &[2],
        DType::I32,
        ZarrWriteOptions {
            overwrite: true,
            ..Default::default()
        },
    );
    let (_, kind, msg) = store_error(r);
    assert!(
        matches!(&kind, StoreErrorKind::NotAnArray { found } if found.contains("group")),
        "{msg}"
    );
    assert!(store.join("grp/arr/zarr.json").exists());
    // Nor a directory that is not Zarr.
    std::fs::create_dir_all(store.join("plain")).unwrap();
    std::fs::write(store.join("plain/notes.txt"), "keep").unwrap();
    let r = ZarrWriter::create(
        &store,
        "plain",
        &[3],
        &[2],
        DType::I32,
        ZarrWriteOptions {
            overwrite: true,
            ..Default::default()
        },
    );
    let (_, kind, msg) = store_error(r);
    assert!(matches!(kind, StoreErrorKind::NotAnArray { .. }), "{msg}");
    assert!(store.join("plain/notes.txt").exists());
}

#[test]
fn uncommitted_writes_never_look_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("u.zarr");
    let data = test_block(DType::F64, &[6, 4], 9);
    {
        let w = ZarrWriter::create(
            &store,
            "t",
            &[6, 4],
            &[3, 4],
            DType::F64,
            Default::default(),
        )
        .unwrap();
        // Half the blocks, then the writer is dropped (a failed run).
        let region = Region(vec![0..3, 0..4]);
        w.write(&region, &data.view().slice_region(&region.0))
            .unwrap();
    }
    // Nothing was moved into place, and the staging directory went with the writer.
    let (path, kind, _) = store_error(ZarrSource::open(&store, "t"));
    assert!(path.ends_with('t'), "{path}");
    assert_eq!(kind, StoreErrorKind::ArrayNotFound);
    let left: Vec<_> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["zarr.json".to_string()]);
    // An array that an older writer left marked incomplete is refused by readers, and
    // replaced only with overwrite.
    std::fs::create_dir_all(store.join("t")).unwrap();
    std::fs::write(store.join("t").join(INCOMPLETE_MARKER), "").unwrap();
    let (_, kind, msg) = store_error(ZarrSource::open(&store, "t"));
    assert_eq!(kind, StoreErrorKind::Incomplete);
    assert!(msg.contains("incomplete"), "{msg}");
    assert!(
        ZarrWriter::create(
            &store,
            "t",
            &[6, 4],
            &[3, 4],
            DType::F64,
            Default::default()
        )
        .is_err()
    );
    let w = ZarrWriter::create(
        &store,
        "t",
        &[6, 4],
        &[3, 4],
        DType::F64,
        ZarrWriteOptions {
            overwrite: true,
            ..Default::default()
        },
    )
    .unwrap();
    write_blocks(&w, &data, &[3, 4], &[1, 1]);
    w.commit().unwrap();
    assert_eq!(
        ZarrSource::open(&store, "t")
            .unwrap()
            .read(&full_region(&[6, 4]))
            .unwrap(),
        data
    );
}

#[test]
fn bad_writes_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("b.zarr");
    let w = ZarrWriter::create(
        &store,
        "a",
        &[5, 5],
        &[2, 2],
        DType::I16,
        Default::default(),
    )
    .unwrap();
    let block = test_block(DType::I16, &[2, 3], 1);
    // Not aligned to the chunks.
    let r = w.write(&Region(vec![0..2, 1..4]), &block.view());
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    // Wrong shape for the region.
    let r = w.write(&Region(vec![0..2, 0..2]), &block.view());
    assert!(matches!(r, Err(Error::Shape { .. })), "{r:?}");
    // Wrong dtype.
    let f = test_block(DType::F32, &[2, 2], 1);
    let r = w.write(&Region(vec![0..2, 0..2]), &f.view());
    assert!(matches!(r, Err(Error::DTypeMismatch { .. })), "{r:?}");
    // Out of bounds.
    let e = test_block(DType::I16, &[2, 2], 1);
    let r = w.write(&Region(vec![4..6, 0..2]), &e.view());
    assert!(matches!(r, Err(Error::Shape { .. })), "{r:?}");
    // Bad create arguments.
    let opts = ZarrWriteOptions::default;
    assert!(matches!(
        ZarrWriter::create(&store, "z", &[5], &[0], DType::I8, opts()),
        Err(Error::ZeroChunk { .. })
    ));
    assert!(matches!(
        ZarrWriter::create(&store, "z", &[5], &[1, 1], DType::I8, opts()),
        Err(Error::ChunkRankMismatch { .. })
    ));
    assert!(matches!(
        ZarrWriter::create(&store, "", &[5], &[1], DType::I8, opts()),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        ZarrWriter::create(
            &store,
            "z",
            &[5],
            &[1],
            DType::I8,
            ZarrWriteOptions {
                dimension_names: Some(vec![None, None]),
                ..Default::default()
            }
        ),
        Err(Error::InvalidArgument { .. })
    ));
    // An array inside an array.
    w.commit().unwrap();
    assert!(matches!(
        ZarrWriter::create(&store, "a/inner", &[5], &[1], DType::I8, opts()),
        Err(Error::Store {
            kind: StoreErrorKind::ParentNotAGroup { .. },
            ..
        })
    ));
}

#[test]
fn sample_climate_data_matches_its_statistics() {
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.join("sample_expected.json")).unwrap(),
    )
    .unwrap();
    let src = ZarrSource::open(data_dir.join("sample.zarr"), "t2m").unwrap();
    let info = src.info();
    let shape: Vec<usize> = serde_json::from_value(exp["shape"].clone()).unwrap();
    assert_eq!(info.shape, shape);
    assert_eq!(info.dtype, DType::F32);
    assert_eq!(
        info.chunk_shape,
        serde_json::from_value::<Vec<usize>>(exp["chunks"].clone()).unwrap()
    );
    let names: Vec<String> = serde_json::from_value(exp["dimension_names"].clone()).unwrap();
    assert_eq!(
        info.dimension_names,
        Some(names.into_iter().map(Some).collect())
    );
    assert_eq!(src.attributes()["units"], json!("K"));

    // Whole-array statistics.
    let AnyArray::F32(t2m) = src.read(&full_region(&shape)).unwrap() else {
        panic!("not f32")
    };
    let n = t2m.len() as f64;
    let mean = t2m.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = t2m.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(mean, exp["global_mean"].as_f64().unwrap()), "{mean}");
    assert!(close(var.sqrt(), exp["global_std"].as_f64().unwrap()));
    let min = t2m.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    assert_eq!(min, exp["global_min"].as_f64().unwrap());
    for p in exp["time_mean_at"].as_array().unwrap() {
        let (i, j) = (
            p["lat_index"].as_u64().unwrap() as usize,
            p["lon_index"].as_u64().unwrap() as usize,
        );
        // Read the column alone: an unaligned region across all time chunks.
        let AnyArray::F32(col) = src
            .read(&Region(vec![0..shape[0], i..i + 1, j..j + 1]))
            .unwrap()
        else {
            panic!()
        };
        let m = col.iter().map(|&x| x as f64).sum::<f64>() / col.len() as f64;
        assert!(close(m, p["mean"].as_f64().unwrap()), "{m} at {i},{j}");
    }
    for s in exp["samples"].as_array().unwrap() {
        let idx: Vec<usize> = serde_json::from_value(s["index"].clone()).unwrap();
        assert_eq!(t2m[IxDyn(&idx)] as f64, s["value"].as_f64().unwrap());
    }
    // Coordinates.
    let lat = ZarrSource::open(data_dir.join("sample.zarr"), "lat").unwrap();
    let AnyArray::F64(lat_v) = lat.read(&full_region(&[shape[1]])).unwrap() else {
        panic!()
    };
    assert_eq!(lat_v[0], exp["lat_first_last"][0].as_f64().unwrap());
    assert_eq!(lat.info().dimension_names, Some(vec![Some("lat".into())]));
}

/// A URL in a build without the feature `object-store` says which feature to enable, for
/// reads, writes and datasets alike (never "no such file").
#[cfg(not(feature = "object-store"))]
#[test]
fn url_without_the_object_store_feature_names_the_feature() {
    let kind = |e: &Error| match e {
        Error::Store { kind, .. } => Some(kind.clone()),
        _ => None,
    };
    let e = chunkwise::io::zarr::ZarrSource::open("s3://bucket/x.zarr", "t2m").unwrap_err();
    assert!(
        matches!(kind(&e), Some(StoreErrorKind::FeatureMissing { .. })),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("s3://bucket/x.zarr") && text.contains("object-store"),
        "{text}"
    );
    let rt = chunkwise::Runtime::builder().threads(1).build().unwrap();
    let x = chunkwise::ChunkedArray::<f64>::from_shape_fn(&[4], [2], |i| i[0] as f64).unwrap();
    let e = x.to_zarr(&rt, "gs://bucket/out.zarr", "x").unwrap_err();
    assert!(e.to_string().contains("object-store"), "{e}");
    let e = chunkwise::dataset::Dataset::open("https://host/ds.zarr").unwrap_err();
    assert!(e.to_string().contains("object-store"), "{e}");
    let e = chunkwise::io::zarr::ZarrSource::open("ftp://host/x.zarr", "t").unwrap_err();
    assert!(
        matches!(kind(&e), Some(StoreErrorKind::UnknownScheme { .. })),
        "{e}"
    );
}
