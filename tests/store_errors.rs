//! Broken stores give errors that name the path and what is wrong with it: an HDF5 filter
//! whose plugin is absent (by name), a NetCDF3 file (by format), and unreadable directories
//! and chunk files (permission denied, not "no Zarr array here"). Truncated chunks and chunks
//! that are directories are covered in `zarr_io.rs`; the command line in `cli.rs`.
//!
//! Permission tests: root reads regardless of permissions, so when the tests run as root the
//! check runs in a child process (this test binary again, filtered to the one test) as the
//! unprivileged user `nobody` through `setpriv`; without `setpriv` it is skipped with a
//! printed message. As any other user it runs in-process.
#![cfg(feature = "zarr")]

use chunkwise::io::BlockSource;
use chunkwise::io::zarr::{ZarrCompression, ZarrSource, ZarrWriteOptions, ZarrWriter};
use chunkwise::{AnyArray, ChunkedArray, DType, Error, Region};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the child that runs a permission check as `nobody`.
const CHILD_ENV: &str = "CHUNKWISE_TEST_UNPRIVILEGED_DIR";

#[cfg(feature = "hdf5")]
fn xarray_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xarray")
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A 4×4 `f64` Zarr v3 array `a` of 2×2 uncompressed chunks in `store`.
fn small_store(store: &Path) {
    let w = ZarrWriter::create(
        store,
        "a",
        &[4, 4],
        &[2, 2],
        DType::F64,
        ZarrWriteOptions {
            compression: ZarrCompression::None,
            ..Default::default()
        },
    )
    .unwrap();
    let data =
        ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[4, 4]), |i| (i[0] * 4 + i[1]) as f64 + 1.0);
    use chunkwise::io::BlockWriter;
    w.write(&Region(vec![0..4, 0..4]), &AnyArray::F64(data).view())
        .unwrap();
    w.commit().unwrap();
}

/// Runs `check(dir)` where permissions are enforced: in-process for a normal user; as root,
/// in a child run of `test` as `nobody` (returns without checking, printing why, when that is
/// impossible). `dir` must be readable by everyone down to what `check` is meant to fail on.
fn unprivileged(test: &str, dir: &Path, check: fn(&Path)) {
    if let Some(d) = std::env::var_os(CHILD_ENV) {
        check(Path::new(&d));
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        check(dir);
        return;
    }
    let Ok(setpriv) = which("setpriv") else {
        println!(
            "skipped {test}: running as root, which reads regardless of permissions, and setpriv is not available to drop to an unprivileged user"
        );
        return;
    };
    // The checkout may sit below a directory `nobody` cannot enter (e.g. /root): then this
    // binary cannot be run as `nobody` at all, and the check is skipped.
    let probe = Command::new(&setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .arg("--list")
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("skipped {test}: the user nobody cannot run this test binary from this checkout");
        return;
    }
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} as nobody failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// A directory for permission tests that everyone may enter (tempdirs are private).
fn open_tempdir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    tmp
}

/// Whether this process is the child [`unprivileged`] started (which only runs the check).
fn in_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// A store error of kind permission denied whose source is the I/O error saying so.
fn is_permission_denied(e: &Error) -> bool {
    matches!(
        e,
        Error::Store {
            kind: chunkwise::error::StoreErrorKind::PermissionDenied { .. },
            source: Some(source),
            ..
        } if source
            .downcast_ref::<std::io::Error>()
            .is_some_and(|s| s.kind() == std::io::ErrorKind::PermissionDenied)
    )
}

#[test]
fn an_unreadable_store_says_permission_denied() {
    let tmp = open_tempdir();
    if !in_child() {
        small_store(&tmp.path().join("s.zarr"));
        chmod(&tmp.path().join("s.zarr/a"), 0o000);
        // A store inside a directory nobody may enter.
        std::fs::create_dir(tmp.path().join("locked")).unwrap();
        small_store(&tmp.path().join("locked/s.zarr"));
        chmod(&tmp.path().join("locked"), 0o000);
    }
    unprivileged(
        "an_unreadable_store_says_permission_denied",
        tmp.path(),
        |dir| {
            // The array's directory is unreadable.
            let e = ZarrSource::open(dir.join("s.zarr"), "a").unwrap_err();
            let msg = e.to_string();
            assert!(is_permission_denied(&e), "{e:?}");
            assert!(msg.contains("permission denied"), "{msg}");
            // The OS's own words follow as the cause.
            assert!(
                e.report().to_string().contains("Permission denied"),
                "{msg}"
            );
            assert!(
                msg.contains(&dir.join("s.zarr/a").display().to_string()),
                "{msg}"
            );
            assert!(!msg.contains("no Zarr array"), "{msg}");
            // A directory above the store is.
            let store = dir.join("locked/s.zarr");
            let e = ChunkedArray::<f64>::open_zarr(&store, "a").unwrap_err();
            assert!(is_permission_denied(&e), "{e:?}");
            assert!(e.to_string().contains(&store.display().to_string()), "{e}");
        },
    );
    if !in_child() {
        chmod(&tmp.path().join("s.zarr/a"), 0o755);
        chmod(&tmp.path().join("locked"), 0o755);
    }
}

#[test]
fn an_unreadable_chunk_names_the_chunk_and_says_permission_denied() {
    let tmp = open_tempdir();
    if !in_child() {
        small_store(&tmp.path().join("s.zarr"));
        chmod(&tmp.path().join("s.zarr/a/c/1/0"), 0o000);
    }
    unprivileged(
        "an_unreadable_chunk_names_the_chunk_and_says_permission_denied",
        tmp.path(),
        |dir| {
            let src = ZarrSource::open(dir.join("s.zarr"), "a").unwrap();
            // Chunks that can be read still are.
            src.read(&Region(vec![0..2, 0..4])).unwrap();
            let e = src.read(&Region(vec![0..4, 0..4])).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(&e, Error::BadChunk { chunk, .. } if chunk == &[1, 0]),
                "{e:?}"
            );
            assert!(msg.contains("permission denied"), "{msg}");
            let source = std::error::Error::source(&e).expect("the I/O error is the source");
            assert!(source.to_string().contains("Permission denied"), "{source}");
            assert!(msg.contains("s.zarr/a/c/1/0"), "{msg}");
        },
    );
    if !in_child() {
        chmod(&tmp.path().join("s.zarr/a/c/1/0"), 0o644);
    }
}

#[cfg(feature = "hdf5")]
mod hdf5 {
    use super::*;
    use chunkwise::Runtime;
    use chunkwise::error::StoreErrorKind;
    use chunkwise::io::hdf5::Hdf5Source;

    /// A dataset compressed with LZF (h5py's filter, absent from libhdf5): it opens and
    /// `info` lists the filter, but a read fails naming LZF and the dataset, not with the
    /// library's stack of internal calls.
    #[test]
    fn an_absent_filter_plugin_is_named() {
        let file = xarray_fixtures().join("empty.h5");
        let src = Hdf5Source::open(&file, "lzf").unwrap();
        assert_eq!(src.info().filters, vec!["lzf (filter 32000)".to_string()]);
        let e = src.read(&Region(vec![0..8, 0..32])).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(&e, Error::Store { kind: StoreErrorKind::FilterUnavailable { filter, .. }, .. }
                if filter == "LZF (id 32000)"),
            "{e:?}"
        );
        assert!(msg.contains(&format!("{}:/lzf", file.display())), "{msg}");
        assert!(msg.contains("HDF5_PLUGIN_PATH"), "{msg}");
        // Through the array layer, at compute.
        let rt = Runtime::builder().threads(1).build().unwrap();
        let x = ChunkedArray::<f32>::open_hdf5(&file, "lzf").unwrap();
        let e = x.sum().compute_scalar(&rt).unwrap_err();
        assert!(e.to_string().contains("LZF (id 32000)"), "{e}");
    }

    /// A NetCDF3 classic file (xarray's `format="NETCDF3_CLASSIC"`) is named as such, with
    /// how to convert it, not "not a HDF5 file".
    #[test]
    fn a_netcdf3_file_is_named_as_such() {
        let file = xarray_fixtures().join("classic.nc");
        let e = Hdf5Source::open(&file, "x").unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(
                &e,
                Error::Store {
                    kind: StoreErrorKind::UnsupportedFormat { .. },
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(msg.contains("NetCDF3 classic (CDF-1)"), "{msg}");
        assert!(msg.contains(&file.display().to_string()), "{msg}");
        assert!(msg.contains("nccopy"), "{msg}");
        let e = ChunkedArray::<f32>::open_hdf5(&file, "x").unwrap_err();
        assert!(e.to_string().contains("NetCDF3"), "{e}");
    }

    #[test]
    fn an_hdf5_file_in_an_unreadable_directory_says_permission_denied() {
        let tmp = open_tempdir();
        if !in_child() {
            std::fs::create_dir(tmp.path().join("locked")).unwrap();
            std::fs::copy(
                xarray_fixtures().join("packed.nc"),
                tmp.path().join("locked/p.nc"),
            )
            .unwrap();
            chmod(&tmp.path().join("locked"), 0o000);
        }
        unprivileged(
            "hdf5::an_hdf5_file_in_an_unreadable_directory_says_permission_denied",
            tmp.path(),
            |dir| {
                let e = Hdf5Source::open(dir.join("locked/p.nc"), "t2m").unwrap_err();
                assert!(is_permission_denied(&e), "{e:?}");
                assert!(e.to_string().contains("locked/p.nc"), "{e}");
            },
        );
        if !in_child() {
            chmod(&tmp.path().join("locked"), 0o755);
        }
    }
}
