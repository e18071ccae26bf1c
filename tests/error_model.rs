//! One error model for both storage backends (issue 14 item 12): the same failure through
//! Zarr and HDF5 is the same `Error::Store` kind naming the path; backend failures keep
//! their cause as `source()`; chunkwise's own bugs are `Error::Internal`.

#![cfg(feature = "zarr")]
// One-axis regions are `Region(vec![0..n])`.
#![allow(clippy::single_range_in_vec_init)]

use chunkwise::error::StoreErrorKind;
use chunkwise::io::BlockWriter;
use chunkwise::io::zarr::{INCOMPLETE_MARKER, ZarrSource, ZarrWriteOptions, ZarrWriter};
use chunkwise::{AnyArray, ChunkedArray, DType, Error, Region, Runtime};
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};

fn zarr_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zarr")
}

/// The kind and path of a store error, and its message with the causes; panics on anything
/// else.
fn store_err<T: std::fmt::Debug>(
    r: Result<T, Error>,
    what: &str,
) -> (StoreErrorKind, String, String) {
    match r {
        Err(e) => {
            let report = e.report().to_string();
            match e {
                Error::Store { kind, path, .. } => (kind, path, report),
                other => panic!("{what}: expected Error::Store, got {other:?}"),
            }
        }
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
    }
}

/// The causes of `e`, outermost first.
fn causes(e: &Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push(c);
        cause = c.source();
    }
    out
}

fn write_zarr(store: &Path, array: &str, overwrite: bool) -> chunkwise::Result<()> {
    let w = ZarrWriter::create(
        store,
        array,
        &[4],
        &[2],
        DType::F64,
        ZarrWriteOptions {
            overwrite,
            ..Default::default()
        },
    )?;
    let block =
        AnyArray::F64(ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 2.0, 3.0, 4.0]).unwrap());
    w.write(&Region(vec![0..4]), &block.view())?;
    w.commit()
}

/// The same failures, through Zarr: each is an `Error::Store` of the expected kind whose path
/// is the one given. (On the old model a missing store was `Error::Io`, a missing array, a
/// group and an incomplete array `Error::Storage` with a string, an unsupported type
/// `Error::UnsupportedDType`.)
fn zarr_failures(root: &Path) -> Vec<(&'static str, StoreErrorKind, String, String)> {
    let store = root.join("s.zarr");
    write_zarr(&store, "grp/x", false).unwrap();
    // An array an interrupted write left marked incomplete.
    std::fs::create_dir_all(store.join("half")).unwrap();
    std::fs::write(store.join("half").join(INCOMPLETE_MARKER), "").unwrap();
    let mut out = Vec::new();
    let mut push = |case, (kind, path, msg)| out.push((case, kind, path, msg));
    push(
        "missing store",
        store_err(
            ZarrSource::open(root.join("none.zarr"), "x"),
            "zarr missing store",
        ),
    );
    push(
        "missing array",
        store_err(ZarrSource::open(&store, "grp/nope"), "zarr missing array"),
    );
    push(
        "group",
        store_err(ZarrSource::open(&store, "grp"), "zarr group"),
    );
    push(
        "already exists",
        store_err(write_zarr(&store, "grp/x", false), "zarr exists"),
    );
    push(
        "incomplete",
        store_err(ZarrSource::open(&store, "half"), "zarr incomplete"),
    );
    push(
        "parent is an array",
        store_err(write_zarr(&store, "grp/x/inner", false), "zarr parent"),
    );
    push(
        "unsupported dtype",
        store_err(
            ZarrSource::open(zarr_fixtures().join("v3.zarr"), "c8_unsupported"),
            "zarr complex64",
        ),
    );
    let _held =
        ZarrWriter::create(&store, "busy", &[2], &[2], DType::I8, Default::default()).unwrap();
    push(
        "locked",
        store_err(write_zarr(&store, "busy", true), "zarr locked"),
    );
    out
}

fn check_kind(case: &str, kind: &StoreErrorKind, backend: &str, msg: &str) {
    let ok = match case {
        "missing store" => *kind == StoreErrorKind::NotFound,
        "missing array" => *kind == StoreErrorKind::ArrayNotFound,
        "group" => matches!(kind, StoreErrorKind::NotAnArray { found } if found.contains("group")),
        "already exists" => *kind == StoreErrorKind::AlreadyExists,
        "incomplete" => *kind == StoreErrorKind::Incomplete,
        "parent is an array" => matches!(kind, StoreErrorKind::ParentNotAGroup { .. }),
        "unsupported dtype" => matches!(kind, StoreErrorKind::UnsupportedDType { .. }),
        "locked" => matches!(kind, StoreErrorKind::Locked { .. }),
        other => panic!("unknown case {other}"),
    };
    assert!(ok, "{backend} {case}: got {kind:?}: {msg}");
}

#[test]
fn zarr_failures_are_store_errors_of_the_right_kind_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = zarr_failures(tmp.path());
    assert_eq!(cases.len(), 8);
    for (case, kind, path, msg) in &cases {
        check_kind(case, kind, "zarr", msg);
        assert!(msg.contains(path.as_str()), "zarr {case}: {msg}");
    }
    let by_case = |c: &str| cases.iter().find(|x| x.0 == c).unwrap();
    assert!(by_case("missing array").2.ends_with("grp/nope"));
    assert!(by_case("missing store").2.ends_with("none.zarr/x"));
    // The unsupported type is named, with where it came from and what is supported.
    let (_, kind, path, msg) = by_case("unsupported dtype");
    assert!(path.ends_with("c8_unsupported"), "{path}");
    assert!(
        matches!(kind, StoreErrorKind::UnsupportedDType { dtype } if dtype.contains("complex64")),
        "{kind:?}"
    );
    assert!(msg.contains("float64"), "{msg}");
}

/// A Zarr failure of the library underneath keeps that library's error as the source, not
/// flattened into the message.
#[test]
fn zarr_backend_failures_keep_their_cause() {
    let tmp = tempfile::tempdir().unwrap();
    // Metadata that is not JSON: the JSON parser's error is the cause.
    let store = tmp.path().join("bad.zarr");
    write_zarr(&store, "x", false).unwrap();
    std::fs::write(
        store.join("x/zarr.json"),
        b"{\"zarr_format\": 3, \"shape\": [1,",
    )
    .unwrap();
    let e = ZarrSource::open(&store, "x").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Store {
                kind: StoreErrorKind::InvalidMetadata { .. },
                ..
            }
        ),
        "{e:?}"
    );
    let chain = causes(&e);
    assert!(
        chain
            .iter()
            .any(|c| c.downcast_ref::<serde_json::Error>().is_some()),
        "{}",
        e.report()
    );
    // The message names the file and the problem; the parser's words come only as the cause.
    let parser = chain[0].to_string();
    assert!(!e.to_string().contains(&parser), "{e}");
    assert!(e.report().to_string().ends_with(&parser), "{}", e.report());

    // Valid JSON that zarrs refuses as array metadata: zarrs' error is the cause.
    std::fs::write(
        store.join("x/zarr.json"),
        b"{\"zarr_format\": 3, \"node_type\": \"array\"}",
    )
    .unwrap();
    let e = ZarrSource::open(&store, "x").unwrap_err();
    assert!(matches!(e, Error::Store { .. }), "{e:?}");
    assert!(!causes(&e).is_empty(), "{e:?}");

    // A store that cannot be created (its parent is a file): the I/O error is the cause.
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let e = write_zarr(&file.join("s.zarr"), "x", false).unwrap_err();
    let (kind, path, msg) = store_err(Err::<(), _>(e), "store under a file");
    assert!(matches!(kind, StoreErrorKind::Backend { .. }), "{kind:?}");
    assert!(path.contains("plain-file/s.zarr"), "{path}");
    let e = write_zarr(&file.join("s.zarr"), "x", false).unwrap_err();
    assert!(
        causes(&e)
            .iter()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some()),
        "{msg}"
    );

    // A truncated chunk: BadChunk names it, and the codec's error is the cause.
    let store = tmp.path().join("trunc.zarr");
    write_zarr(&store, "x", false).unwrap();
    let chunk = store.join("x/c/1");
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() / 2]).unwrap();
    let e = ZarrSource::open(&store, "x")
        .unwrap()
        .read_region(&Region(vec![0..4]))
        .unwrap_err();
    assert!(
        matches!(&e, Error::BadChunk { chunk, .. } if chunk == &[1]),
        "{e:?}"
    );
    assert!(!causes(&e).is_empty(), "{e:?}");
}

/// Reads a region through the `BlockSource` trait.
trait ReadRegion {
    fn read_region(&self, r: &Region) -> chunkwise::Result<AnyArray>;
}

impl ReadRegion for ZarrSource {
    fn read_region(&self, r: &Region) -> chunkwise::Result<AnyArray> {
        chunkwise::io::BlockSource::read(self, r)
    }
}

/// A panic of one of chunkwise's consistency checks (`internal: ...`) inside a task is an
/// `Error::Internal` that says it is a bug and asks for a report; any other panic stays
/// `Error::TaskPanicked`.
#[test]
fn internal_errors_say_they_are_chunkwise_bugs() {
    let rt = Runtime::builder().threads(1).build().unwrap();
    let x = ChunkedArray::<f64>::from_fn(&[4], [2], |r| {
        if r.0[0].start == 2 {
            panic!("internal: block {r} of another type");
        }
        ArrayD::zeros(IxDyn(&r.shape()))
    })
    .unwrap();
    let e = x.compute(&rt).unwrap_err();
    match &e {
        Error::Internal { op, message } => {
            assert!(!op.is_empty());
            assert_eq!(message, "block [2..4] of another type");
        }
        other => panic!("expected Error::Internal, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("bug in chunkwise"), "{msg}");
    assert!(msg.contains("report"), "{msg}");
    assert!(msg.contains("block [2..4] of another type"), "{msg}");

    let y = ChunkedArray::<f64>::from_fn(&[4], [2], |_: &Region| -> ArrayD<f64> {
        panic!("a user bug")
    })
    .unwrap();
    assert!(
        matches!(y.compute(&rt), Err(Error::TaskPanicked { message, .. }) if message == "a user bug")
    );

    // Its display names the operation.
    let e = Error::Internal {
        op: "scheduler".into(),
        message: "no task is ready".into(),
    };
    let msg = e.to_string();
    assert!(
        msg.starts_with("internal error in chunkwise (scheduler): no task is ready"),
        "{msg}"
    );
}

#[cfg(feature = "hdf5")]
mod hdf5 {
    use super::*;
    use chunkwise::io::hdf5::{Hdf5Source, Hdf5WriteOptions, Hdf5Writer};

    fn write_h5(file: &Path, dataset: &str, overwrite: bool) -> chunkwise::Result<()> {
        let w = Hdf5Writer::create(
            file,
            dataset,
            &[4],
            &[2],
            DType::F64,
            &Hdf5WriteOptions::default().overwrite(overwrite),
        )?;
        let block =
            AnyArray::F64(ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 2.0, 3.0, 4.0]).unwrap());
        w.write(&Region(vec![0..4]), &block.view())?;
        w.commit()
    }

    /// The failures of `zarr_failures`, through HDF5.
    fn hdf5_failures(root: &Path) -> Vec<(&'static str, StoreErrorKind, String, String)> {
        let file = root.join("f.h5");
        write_h5(&file, "grp/x", false).unwrap();
        // A dataset an interrupted write left marked incomplete (as an older chunkwise did).
        {
            let h5 = ::hdf5::File::open_rw(&file).unwrap();
            let ds = h5.new_dataset::<f64>().shape([3]).create("half").unwrap();
            ds.new_attr::<u8>()
                .create(chunkwise::io::hdf5::INCOMPLETE_ATTR)
                .unwrap()
                .write_scalar(&1u8)
                .unwrap();
        }
        let strings = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hdf5/fixtures.h5");
        let mut out = Vec::new();
        let mut push = |case, (kind, path, msg)| out.push((case, kind, path, msg));
        push(
            "missing store",
            store_err(
                Hdf5Source::open(root.join("none.h5"), "x"),
                "hdf5 missing file",
            ),
        );
        push(
            "missing array",
            store_err(Hdf5Source::open(&file, "grp/nope"), "hdf5 missing dataset"),
        );
        push(
            "group",
            store_err(Hdf5Source::open(&file, "grp"), "hdf5 group"),
        );
        push(
            "already exists",
            store_err(write_h5(&file, "grp/x", false), "hdf5 exists"),
        );
        push(
            "incomplete",
            store_err(Hdf5Source::open(&file, "half"), "hdf5 incomplete"),
        );
        push(
            "parent is an array",
            store_err(write_h5(&file, "grp/x/inner", false), "hdf5 parent"),
        );
        push(
            "unsupported dtype",
            store_err(Hdf5Source::open(&strings, "strings"), "hdf5 strings"),
        );
        let busy = root.join("busy.h5");
        let _held = Hdf5Writer::create(
            &busy,
            "x",
            &[2],
            &[2],
            DType::I8,
            &Hdf5WriteOptions::default(),
        )
        .unwrap();
        push(
            "locked",
            store_err(write_h5(&busy, "y", false), "hdf5 locked"),
        );
        out
    }

    #[test]
    fn the_same_failure_is_the_same_kind_through_zarr_and_hdf5() {
        let tmp = tempfile::tempdir().unwrap();
        let zarr = zarr_failures(tmp.path());
        let hdf5 = hdf5_failures(tmp.path());
        assert_eq!(zarr.len(), hdf5.len());
        for ((case, zk, _, zmsg), (hcase, hk, hpath, hmsg)) in zarr.iter().zip(&hdf5) {
            assert_eq!(case, hcase);
            check_kind(case, hk, "hdf5", hmsg);
            assert!(hmsg.contains(hpath.as_str()), "hdf5 {case}: {hmsg}");
            // Same variant of the kind (the details, a group's children or a type's name,
            // are the backend's own).
            assert_eq!(
                std::mem::discriminant(zk),
                std::mem::discriminant(hk),
                "{case}: zarr {zmsg} / hdf5 {hmsg}"
            );
        }
        let by_case = |c: &str| hdf5.iter().find(|x| x.0 == c).unwrap();
        assert!(by_case("missing array").2.ends_with("grp/nope"));
        assert!(by_case("missing store").2.contains("none.h5"));
    }

    /// A failure inside libhdf5 keeps the library's error as the source.
    #[test]
    fn hdf5_backend_failures_keep_their_cause() {
        let tmp = tempfile::tempdir().unwrap();
        // The HDF5 signature followed by garbage: recognised, but the library cannot open it.
        let file = tmp.path().join("broken.h5");
        let mut bytes = vec![0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];
        bytes.extend(std::iter::repeat_n(0xA5u8, 600));
        std::fs::write(&file, bytes).unwrap();
        let e = Hdf5Source::open(&file, "x").unwrap_err();
        let report = e.report().to_string();
        match &e {
            Error::Store {
                kind: StoreErrorKind::Backend { action },
                path,
                ..
            } => {
                assert!(action.contains("open"), "{report}");
                assert!(path.contains("broken.h5"), "{report}");
            }
            other => panic!("expected a backend store error, got {other:?}"),
        }
        let chain = causes(&e);
        assert!(
            chain
                .iter()
                .any(|c| c.downcast_ref::<::hdf5::Error>().is_some()),
            "{report}"
        );
    }
}
