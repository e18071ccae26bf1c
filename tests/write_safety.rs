//! A user's data is never lost on write (issue 15): overwrites that are killed, run out of disk
//! or fail before running keep the old array; an output that is also the input is refused;
//! two writers of one output exclude each other; reading an array that is replaced fails;
//! leftovers of killed runs are cleaned; names are validated before the disk is touched; the
//! scratch directory of staged rechunks can be chosen and is removed.
//!
//! The kill tests re-execute this test binary with `CHUNKWISE_WRITES_CHILD` set: the child
//! starts the write and blocks inside it; the parent SIGKILLs it.
#![cfg(feature = "zarr")]
#![allow(clippy::single_range_in_vec_init)]

use chunkwise::AnyArray;
use chunkwise::io::zarr::{ZarrCompression, ZarrSource, ZarrWriteOptions, ZarrWriter};
use chunkwise::io::{BlockSource, BlockWriter};
use chunkwise::prelude::*;
use ndarray::ArrayD;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHILD: &str = "CHUNKWISE_WRITES_CHILD";

/// The tests of this file run one at a time (they take well under a second together): the HDF5 library
/// opens files without `O_CLOEXEC`, so a child (the kill tests' re-run, `mount`, `true`) spawned while another test holds an HDF5 file
/// open inherits that descriptor and its file lock, and the other test's next `H5Fopen` fails
/// with "unable to lock file" until the child is killed.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

fn opts(overwrite: bool) -> ZarrWriteOptions {
    ZarrWriteOptions {
        overwrite,
        compression: ZarrCompression::None,
        ..Default::default()
    }
}

/// `n` values `start, start+1, ...` as f64, chunked by `chunk`.
fn ramp(n: usize, chunk: usize, start: f64) -> ChunkedArray<f64> {
    ChunkedArray::<f64>::from_shape_fn(&[n], [chunk], move |i| start + i[0] as f64).unwrap()
}

fn read_all(store: &Path, name: &str) -> Vec<f64> {
    let a = ChunkedArray::<f64>::open_zarr(store, name).unwrap();
    a.compute(&rt()).unwrap().iter().copied().collect()
}

fn want_ramp(n: usize, start: f64) -> Vec<f64> {
    (0..n).map(|i| start + i as f64).collect()
}

/// Entries of `dir` (names), sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The PID of a process that has exited (so no process has it, barring reuse).
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn hostname() -> String {
    chunkwise::io::guard::hostname()
}

/// Re-runs this binary's test `name` as a child with `CHILD=value`, waits for `ready` to
/// appear, SIGKILLs it and waits for it.
fn run_child_and_kill(name: &str, value: &str, ready: &Path) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD, value)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ready.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended ({status}) before it was inside the write");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the child never got ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
}

/// The child side: an array whose block `>= 1` signals `ready` and then blocks for a minute,
/// so the write is killed in the middle.
fn blocking_array(n: usize, chunk: usize, ready: PathBuf) -> ChunkedArray<f64> {
    ChunkedArray::<f64>::from_fn(&[n], [chunk], move |r| {
        if r.0[0].start >= chunk {
            std::fs::write(&ready, "").unwrap();
            std::thread::sleep(Duration::from_secs(60));
        }
        ArrayD::from_shape_fn(r.shape(), |i| 100.0 + (r.0[0].start + i[0]) as f64)
    })
    .unwrap()
}

#[test]
fn killed_zarr_overwrite_keeps_the_old_array() {
    let _serial = serial();
    if let Ok(v) = std::env::var(CHILD) {
        let Some(rest) = v.strip_prefix("zarr:") else {
            return;
        };
        let store = PathBuf::from(rest);
        let a = blocking_array(64, 8, store.with_extension("ready"));
        let _ = a.to_zarr_with(&rt(), &store, "grp/a", opts(true), None);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("k.zarr");
    ramp(64, 8, 1.0)
        .to_zarr_with(&rt(), &store, "grp/a", opts(false), None)
        .unwrap();
    let ready = store.with_extension("ready");
    run_child_and_kill(
        "killed_zarr_overwrite_keeps_the_old_array",
        &format!("zarr:{}", store.display()),
        &ready,
    );
    // The old array is whole, and opens as an array.
    assert_eq!(read_all(&store, "grp/a"), want_ramp(64, 1.0));
    // The killed writer's staging directory is there, until the next write of the array.
    let grp = store.join("grp");
    assert!(
        entries(&grp)
            .iter()
            .any(|e| e.starts_with(".a.chunkwise-tmp-")),
        "{:?}",
        entries(&grp)
    );
    ramp(64, 8, 7.0)
        .to_zarr_with(&rt(), &store, "grp/a", opts(true), None)
        .unwrap();
    assert_eq!(read_all(&store, "grp/a"), want_ramp(64, 7.0));
    assert_eq!(
        entries(&grp),
        vec!["a".to_string(), "zarr.json".to_string()]
    );
}

#[test]
fn failing_overwrite_before_running_keeps_the_old_array() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("t.zarr");
    ramp(4096, 4096, 1.0)
        .to_zarr_with(&rt(), &store, "a", opts(false), None)
        .unwrap();
    // One 32 KiB block cannot fit 4 KiB: TaskTooLarge, found before anything runs.
    let small = Runtime::builder().memory_limit(4096).build().unwrap();
    let err = ramp(4096, 4096, 5.0)
        .to_zarr_with(&small, &store, "a", opts(true), None)
        .unwrap_err();
    assert!(matches!(err, Error::TaskTooLarge { .. }), "{err}");
    assert_eq!(read_all(&store, "a"), want_ramp(4096, 1.0));
    assert_eq!(
        entries(&store),
        vec!["a".to_string(), "zarr.json".to_string()]
    );
}

/// A small tmpfs mounted for the test (as root), unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            println!(
                "SKIPPED: cannot mount a tmpfs at {} (needs root); the full-disk case is \
                 not tested here",
                dir.display()
            );
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_overwrite_keeps_the_old_array() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "1m") else {
        return;
    };
    let store = disk.0.join("f.zarr");
    // 64 KiB old, 4 MiB new (uncompressed, no chunk is all zeros): the disk fills up.
    ramp(8192, 1024, 1.0)
        .to_zarr_with(&rt(), &store, "a", opts(false), None)
        .unwrap();
    let err = ramp(1 << 19, 1 << 14, 3.0)
        .to_zarr_with(&rt(), &store, "a", opts(true), None)
        .unwrap_err();
    // "No space left on device" is the cause (the I/O error), after what was being written.
    assert!(
        err.report().to_string().contains("space"),
        "{}",
        err.report()
    );
    assert!(err.to_string().contains("cannot write chunk"), "{err}");
    assert_eq!(read_all(&store, "a"), want_ramp(8192, 1.0));
    // Neither the staging directory nor the lock is left behind.
    assert_eq!(
        entries(&store),
        vec!["a".to_string(), "zarr.json".to_string()]
    );
}

#[test]
fn writing_over_the_arrays_own_source_is_refused() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s.zarr");
    ramp(100, 10, 1.0)
        .to_zarr_with(&rt(), &store, "t2m", opts(false), None)
        .unwrap();
    let link = tmp.path().join("link.zarr");
    std::os::unix::fs::symlink(&store, &link).unwrap();
    let x = ChunkedArray::<f64>::open_zarr(&store, "t2m").unwrap();
    let y = (&x * 2.0).rechunk([25]).unwrap();
    // The same array through a symlink and with a differently spelled path.
    for (s, a) in [
        (link.clone(), "/t2m/"),
        (tmp.path().join("./s.zarr"), "t2m"),
    ] {
        let err = y.to_zarr_with(&rt(), &s, a, opts(true), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("this computation reads"), "{msg}");
        assert!(
            msg.contains(&store.join("t2m").display().to_string()),
            "{msg}"
        );
    }
    assert_eq!(read_all(&store, "t2m"), want_ramp(100, 1.0));
    // Another array of the same store is fine.
    y.to_zarr_with(&rt(), &link, "doubled", opts(false), None)
        .unwrap();
    let want: Vec<f64> = want_ramp(100, 1.0).iter().map(|v| v * 2.0).collect();
    assert_eq!(read_all(&store, "doubled"), want);
}

#[test]
fn two_writers_of_one_output_exclude_each_other() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("w.zarr");
    let create =
        |overwrite| ZarrWriter::create(&store, "a", &[4], &[2], DType::F64, opts(overwrite));
    let first = create(false).unwrap();
    for overwrite in [false, true] {
        let err = create(overwrite).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("another writer"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
    }
    let data = AnyArray::F64(ArrayD::from_shape_vec(vec![4], vec![1.0, 2.0, 3.0, 4.0]).unwrap());
    first.write(&Region(vec![0..4]), &data.view()).unwrap();
    first.commit().unwrap();
    assert_eq!(read_all(&store, "a"), vec![1.0, 2.0, 3.0, 4.0]);
    // Once committed, the lock is free again.
    let again = create(true).unwrap();
    drop(again);
    assert_eq!(read_all(&store, "a"), vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn reading_an_array_that_is_replaced_fails() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("r.zarr");
    ramp(40, 10, 1.0)
        .to_zarr_with(&rt(), &store, "a", opts(false), None)
        .unwrap();
    let src = ZarrSource::open(&store, "a").unwrap();
    let lazy = ChunkedArray::<f64>::open_zarr(&store, "a").unwrap();
    assert!(src.read(&Region(vec![0..10])).is_ok());
    // Another writer replaces it (same shape, chunks and metadata bytes).
    ramp(40, 10, 9.0)
        .to_zarr_with(&rt(), &store, "a", opts(true), None)
        .unwrap();
    let err = src.read(&Region(vec![10..20])).unwrap_err();
    assert!(err.to_string().contains("changed on disk"), "{err}");
    let err = lazy.sum().compute(&rt()).unwrap_err();
    assert!(err.to_string().contains("changed on disk"), "{err}");
    // A writer marking it incomplete in place (an older chunkwise, another tool).
    let src = ZarrSource::open(&store, "a").unwrap();
    std::fs::write(
        store.join("a").join(chunkwise::io::zarr::INCOMPLETE_MARKER),
        "",
    )
    .unwrap();
    let err = src.read(&Region(vec![0..10])).unwrap_err();
    assert!(err.to_string().contains("incomplete marker"), "{err}");
}

#[test]
fn stale_leftovers_of_dead_processes_are_cleaned() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("c.zarr");
    ramp(10, 5, 1.0)
        .to_zarr_with(&rt(), &store, "a", opts(false), None)
        .unwrap();
    let dead = dead_pid();
    let host = hostname();
    let stale = [
        format!(".a.chunkwise-tmp-{host}-{dead}-0"),
        format!(".a.chunkwise-tmp-{dead}"), // the CLI's older form
    ];
    let kept = [
        format!(".a.chunkwise-tmp-{host}-{}-99", std::process::id()), // alive
        format!(".a.chunkwise-tmp-other-host-{dead}-0"),              // another host's
        ".b.chunkwise-tmp-1-0".to_string(),                           // another array's
    ];
    for d in stale.iter().chain(&kept) {
        std::fs::create_dir_all(store.join(d).join("c")).unwrap();
    }
    ramp(10, 5, 2.0)
        .to_zarr_with(&rt(), &store, "a", opts(true), None)
        .unwrap();
    let left = entries(&store);
    for d in &stale {
        assert!(!left.contains(d), "{d} was not removed: {left:?}");
    }
    for d in &kept {
        assert!(left.contains(d), "{d} was removed: {left:?}");
    }
}

#[test]
fn names_are_validated_before_touching_the_disk() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("n.zarr");
    for name in ["../escaped", "a/../../escaped", "./x", "a/./b"] {
        let err = ramp(4, 2, 0.0).to_zarr(&rt(), &store, name).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    assert!(!tmp.path().join("escaped").exists());
    assert!(!store.exists(), "the store was created for a refused name");
}

/// A computed array whose rechunk to `[64, 8, 8]` needs staging under a 1 MiB limit.
fn staged(fail: bool) -> ChunkedArray<f32> {
    let x = ChunkedArray::<f32>::from_fn(&[64, 64, 64], [1, 64, 64], move |r| {
        if fail && r.0[0].start == 63 {
            panic!("the input failed");
        }
        ArrayD::from_elem(r.shape(), 1.0)
    })
    .unwrap();
    x.t().t().rechunk([64, 8, 8]).unwrap()
}

#[test]
fn scratch_dir_is_chosen_exclusive_and_removed() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("scratch/here");
    let rt = Runtime::builder()
        .threads(2)
        .memory_limit("1 MiB")
        .scratch_dir(&scratch)
        .build()
        .unwrap();
    assert_eq!(rt.scratch_dir(), Some(scratch.as_path()));
    assert_eq!(staged(false).plan_summary(&rt).staged_rechunks(), 1);
    // What killed runs left (a dead PID on this host) goes; others' stays.
    std::fs::create_dir_all(&scratch).unwrap();
    let dead = format!("chunkwise-rechunk-{}-{}-0", hostname(), dead_pid());
    let other = "chunkwise-rechunk-other-host-1-0".to_string();
    for d in [&dead, &other] {
        std::fs::create_dir_all(scratch.join(d).join("stage0")).unwrap();
    }
    // A run uses the scratch directory while it runs...
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (s2, seen2) = (scratch.clone(), seen.clone());
    let probe = staged(false).map_blocks(move |b: ndarray::ArrayViewD<'_, f32>, _: &BlockInfo| {
        if let Ok(mut v) = seen2.lock()
            && v.is_empty()
        {
            *v = entries(&s2);
        }
        b.to_owned()
    });
    let total = probe.sum().compute(&rt).unwrap();
    assert_eq!(total[[]], 64.0 * 64.0 * 64.0);
    let during = seen.lock().unwrap().clone();
    assert!(
        during
            .iter()
            .any(|e| e.starts_with("chunkwise-rechunk-") && *e != other),
        "{during:?}"
    );
    // ... and removes its own afterwards, on success and on failure.
    assert_eq!(entries(&scratch), vec![other.clone()]);
    assert!(staged(true).sum().compute(&rt).is_err());
    assert_eq!(entries(&scratch), vec![other]);
}

#[cfg(feature = "hdf5")]
mod hdf5 {
    use super::*;
    use chunkwise::io::hdf5::{Hdf5Source, Hdf5WriteOptions, Hdf5Writer};

    fn write(
        file: &Path,
        name: &str,
        a: &ChunkedArray<f64>,
        rt: &Runtime,
        overwrite: bool,
    ) -> Result<RunReport> {
        let w = Hdf5Writer::create(
            file,
            name,
            a.shape(),
            a.chunks().chunk_shape().as_slice(),
            DType::F64,
            &Hdf5WriteOptions::default().overwrite(overwrite),
        )?;
        a.store(rt, &w)
    }

    fn read(file: &Path, name: &str) -> Vec<f64> {
        let src = Hdf5Source::open(file, name).unwrap();
        match src.read(&Region(vec![0..src.shape()[0]])).unwrap() {
            AnyArray::F64(a) => a.iter().copied().collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn killed_hdf5_overwrite_keeps_the_old_dataset() {
        let _serial = serial();
        if let Ok(v) = std::env::var(CHILD) {
            let Some(rest) = v.strip_prefix("hdf5:") else {
                return;
            };
            let file = PathBuf::from(rest);
            let a = blocking_array(64, 8, file.with_extension("ready"));
            let _ = write(&file, "g/x", &a, &rt(), true);
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("k.h5");
        write(&file, "g/x", &ramp(64, 8, 1.0), &rt(), false).unwrap();
        run_child_and_kill(
            "hdf5::killed_hdf5_overwrite_keeps_the_old_dataset",
            &format!("hdf5:{}", file.display()),
            &file.with_extension("ready"),
        );
        assert_eq!(read(&file, "g/x"), want_ramp(64, 1.0));
        // The next write replaces it and removes the killed one's staging dataset.
        write(&file, "g/x", &ramp(64, 8, 4.0), &rt(), true).unwrap();
        assert_eq!(read(&file, "g/x"), want_ramp(64, 4.0));
        let f = ::hdf5::File::open(&file).unwrap();
        assert_eq!(
            f.group("g").unwrap().member_names().unwrap(),
            vec!["x".to_string()]
        );
    }

    #[test]
    fn failing_hdf5_overwrite_keeps_the_old_dataset() {
        let _serial = serial();
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("t.h5");
        write(&file, "x", &ramp(4096, 4096, 1.0), &rt(), false).unwrap();
        let small = Runtime::builder().memory_limit(4096).build().unwrap();
        let err = write(&file, "x", &ramp(4096, 4096, 5.0), &small, true).unwrap_err();
        assert!(matches!(err, Error::TaskTooLarge { .. }), "{err}");
        assert_eq!(read(&file, "x"), want_ramp(4096, 1.0));
        // And an output that is the input is refused (by the library, which will not open
        // for writing a file this process reads, or by the check of the graph's sources).
        let x = ChunkedArray::<f64>::open_hdf5(&file, "/x").unwrap();
        assert!(write(&file, "x", &(&x + 1.0), &rt(), true).is_err());
        drop(x);
        assert_eq!(read(&file, "x"), want_ramp(4096, 1.0));
        // Two writers of one file exclude each other. (A fresh file: HDF5 may close the
        // reader's handle on `t.h5` lazily, and its own file lock would then answer first.)
        let file = tmp.path().join("w.h5");
        let w =
            Hdf5Writer::create(&file, "y", &[2], &[2], DType::F64, &Default::default()).unwrap();
        let err = Hdf5Writer::create(&file, "z", &[2], &[2], DType::F64, &Default::default())
            .unwrap_err();
        assert!(err.to_string().contains("another writer"), "{err}");
        drop(w);
    }
}
