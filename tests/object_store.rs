//! Zarr in object stores (feature `object-store`, issue 11 item 5).
//!
//! - S3, against the S3 API at `AWS_ENDPOINT` (moto on 127.0.0.1, started by `.ci/s3_up.sh`)
//!   in the bucket `CHUNKWISE_S3_BUCKET`: write and read back, a reduction read from and
//!   written to S3 within the memory limit, a `Dataset` round trip, a failed write that leaves
//!   nothing that looks like an array, a missing bucket. Without that environment these tests
//!   print a note and pass; with `CHUNKWISE_REQUIRE_S3=1` (as `.ci/run` sets) they fail.
//! - Refused credentials, against a stub S3 endpoint that answers every request with
//!   `403 InvalidAccessKeyId` as AWS does (moto accepts any credentials unless its IAM mode is
//!   set up): a child run of this binary with `AWS_ENDPOINT` pointing at it.
//! - HTTP, a directory store written here and served read-only by `python3 -m http.server`
//!   (python3 from `CHUNKWISE_PYTHON` or `PATH`): reads equal the original; writing there is a
//!   clear error.
#![cfg(feature = "object-store")]
#![allow(clippy::single_range_in_vec_init)]

use chunkwise::dataset::{Dataset, DatasetWriteOptions};
use chunkwise::error::StoreErrorKind;
use chunkwise::io::zarr::{ZarrFormat, ZarrSource, ZarrWriteOptions, ZarrWriter};
use chunkwise::io::{BlockSource, BlockWriter};
use chunkwise::prelude::*;
use chunkwise::{AnyArray, Region};
use ndarray::{ArrayD, Dimension, IxDyn};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zarrs_object_store::object_store::{ObjectStore, aws::AmazonS3Builder, path::Path as Key};

/// Set in the child run of the credentials test.
const CHILD: &str = "CHUNKWISE_OBJSTORE_CHILD";

/// `s3://BUCKET/RUN/name`, unique per test and run; `None` (after a note) when no S3 endpoint
/// is configured and none is required.
fn s3_url(name: &str) -> Option<String> {
    let bucket = std::env::var("CHUNKWISE_S3_BUCKET").ok();
    let endpoint = std::env::var("AWS_ENDPOINT").ok();
    match (bucket, endpoint) {
        (Some(b), Some(_)) if !b.is_empty() => Some(format!(
            "s3://{b}/run-{}-{}/{name}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )),
        _ => {
            assert!(
                std::env::var("CHUNKWISE_REQUIRE_S3").as_deref() != Ok("1"),
                "CHUNKWISE_REQUIRE_S3=1 but AWS_ENDPOINT / CHUNKWISE_S3_BUCKET are not set: \
                 start moto with `. .ci/s3_up.sh`"
            );
            eprintln!(
                "note: skipped, no S3 endpoint (set AWS_ENDPOINT and CHUNKWISE_S3_BUCKET, e.g. \
                 with `. .ci/s3_up.sh`)"
            );
            None
        }
    }
}

/// The keys stored under `url` (`s3://bucket/prefix`), listed straight from the store.
fn s3_keys(url: &str) -> Vec<String> {
    let rest = url.strip_prefix("s3://").unwrap();
    let (bucket, prefix) = rest.split_once('/').unwrap();
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures::TryStreamExt;
        let mut keys: Vec<String> = store
            .list(Some(&Key::from(prefix)))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        keys
    })
}

fn rt(limit: &str) -> Runtime {
    Runtime::builder()
        .threads(4)
        .memory_limit(limit)
        .build()
        .unwrap()
}

fn field(i: &[usize]) -> f64 {
    (i[0] * 1000 + i[1]) as f64 * 0.5 - 7.0
}

fn field_nd(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| field(i.slice()))
}

fn store_kind(e: &Error) -> Option<&StoreErrorKind> {
    match e {
        Error::Store { kind, .. } => Some(kind),
        _ => None,
    }
}

#[test]
fn s3_write_then_read_back_equals_ndarray() {
    let Some(url) = s3_url("x.zarr") else { return };
    let rt = rt("8 MiB");
    let shape = [60, 45];
    let x = ChunkedArray::<f64>::from_shape_fn(&shape, [16, 12], field).unwrap();
    for (name, format) in [("v3", ZarrFormat::V3), ("v2", ZarrFormat::V2)] {
        x.to_zarr_with(
            &rt,
            &url,
            name,
            ZarrWriteOptions {
                format,
                ..Default::default()
            },
            None,
        )
        .unwrap();
        let src = ZarrSource::open(&url, name).unwrap();
        assert_eq!(src.info().format, format);
        assert_eq!(src.info().shape, shape);
        assert_eq!(src.info().chunk_shape, vec![16, 12]);
        // An unaligned region, across chunks.
        let part = src.read(&Region(vec![5..37, 3..40])).unwrap();
        let want = field_nd(&shape);
        let AnyArray::F64(part) = part else {
            panic!("not f64")
        };
        assert_eq!(
            part,
            want.slice(ndarray::s![5..37, 3..40]).into_dyn().to_owned()
        );
        let back = ChunkedArray::<f64>::open_zarr(&url, name)
            .unwrap()
            .compute(&rt)
            .unwrap();
        assert_eq!(back, want, "{name}");
    }
    // No leftovers: the markers went at commit.
    assert!(
        !s3_keys(&url).iter().any(|k| k.contains(".chunkwise")),
        "{:?}",
        s3_keys(&url)
    );
    // Overwrite semantics as on a filesystem: refused without overwrite, replaced with it.
    let e = x.to_zarr(&rt, &url, "v3").unwrap_err();
    assert_eq!(store_kind(&e), Some(&StoreErrorKind::AlreadyExists), "{e}");
    let y = x.map_blocks(|b, _| b.mapv(|v| -v));
    y.to_zarr_with(
        &rt,
        &url,
        "v3",
        ZarrWriteOptions {
            overwrite: true,
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let back = ChunkedArray::<f64>::open_zarr(&url, "v3")
        .unwrap()
        .compute(&rt)
        .unwrap();
    assert_eq!(back, field_nd(&shape).mapv(|v| -v));
    // A group is never replaced, nor used as an array.
    let e = ZarrSource::open(&url, "").unwrap_err();
    assert!(
        matches!(store_kind(&e), Some(StoreErrorKind::NotAnArray { .. })),
        "{e}"
    );
    let e = ZarrSource::open(&url, "nothing-here").unwrap_err();
    assert_eq!(store_kind(&e), Some(&StoreErrorKind::ArrayNotFound), "{e}");
    assert!(e.to_string().contains(&url), "{e}");
}

#[test]
fn s3_reduction_reads_and_writes_s3_within_the_memory_limit() {
    let Some(url) = s3_url("reduce.zarr") else {
        return;
    };
    // 4 MiB of f64 under a 1 MiB limit: 512 x 1024, chunks of 16 rows (128 KiB).
    let shape = [512, 1024];
    let rt_write = rt("1 MiB");
    let x = ChunkedArray::<f64>::from_shape_fn(&shape, [16, 1024], field).unwrap();
    let report = x.to_zarr(&rt_write, &url, "x").unwrap();
    assert!(
        report.peak_tracked_bytes <= rt_write.memory_limit(),
        "{} > {}",
        report.peak_tracked_bytes,
        rt_write.memory_limit()
    );
    let rt = rt("1 MiB");
    let input = ChunkedArray::<f64>::open_zarr(&url, "x").unwrap();
    let mean = input.mean_axis(0).unwrap();
    let report = mean.to_zarr(&rt, &url, "mean").unwrap();
    assert!(
        report.peak_tracked_bytes <= rt.memory_limit(),
        "peak {} > limit {}",
        report.peak_tracked_bytes,
        rt.memory_limit()
    );
    let got = ChunkedArray::<f64>::open_zarr(&url, "mean")
        .unwrap()
        .compute(&rt)
        .unwrap();
    let want = field_nd(&shape).mean_axis(ndarray::Axis(0)).unwrap();
    assert_eq!(got.shape(), want.shape());
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{g} vs {w}");
    }
}

#[test]
fn s3_dataset_round_trip() {
    let Some(url) = s3_url("ds.zarr") else { return };
    let rt = rt("16 MiB");
    let ds = Dataset::open("data/sample.zarr").unwrap();
    for format in [ZarrFormat::V3, ZarrFormat::V2] {
        let out = format!("{url}/v{}", format.number());
        ds.to_zarr(
            &rt,
            &out,
            DatasetWriteOptions {
                format,
                ..Default::default()
            },
        )
        .unwrap();
        let back = Dataset::open(&out).unwrap();
        assert_eq!(back.names(), ds.names());
        assert_eq!(back.coords(), ds.coords());
        for name in ds.names() {
            let a = ds.var::<f64>(name).unwrap().data().compute(&rt).unwrap();
            let b = back.var::<f64>(name).unwrap().data().compute(&rt).unwrap();
            assert!(
                a.iter()
                    .zip(b.iter())
                    .all(|(x, y)| x == y || (x.is_nan() && y.is_nan())),
                "{name}"
            );
        }
    }
    let e = Dataset::open(format!("{url}/none")).unwrap_err();
    assert_eq!(store_kind(&e), Some(&StoreErrorKind::NotFound), "{e}");
}

#[test]
fn s3_failed_write_leaves_no_array() {
    let Some(url) = s3_url("fail.zarr") else {
        return;
    };
    let rt = rt("8 MiB");
    let x = ChunkedArray::<f64>::from_shape_fn(&[64, 10], [8, 10], field).unwrap();
    // Block 5 of 8 comes out the wrong shape: a task error in the middle of the write.
    let bad = x.map_blocks(|b, info| {
        if info.index[0] == 5 {
            ArrayD::zeros(IxDyn(&[1, 1]))
        } else {
            b.to_owned()
        }
    });
    let e = bad.to_zarr(&rt, &url, "a").unwrap_err();
    assert!(
        store_kind(&e).is_none(),
        "the task's error, not a store one: {e}"
    );
    let left = s3_keys(&format!("{url}/a"));
    assert!(left.is_empty(), "objects left behind: {left:?}");
    let e = ZarrSource::open(&url, "a").unwrap_err();
    assert_eq!(store_kind(&e), Some(&StoreErrorKind::ArrayNotFound), "{e}");

    // While a write is under way the array is "incomplete", not readable.
    let w = ZarrWriter::create(
        &url,
        "b",
        &[4, 4],
        &[2, 2],
        DType::F64,
        ZarrWriteOptions::default(),
    )
    .unwrap();
    let block = ArrayD::<f64>::ones(IxDyn(&[2, 2]));
    w.write(&Region(vec![0..2, 0..2]), &AnyArray::F64(block).view())
        .unwrap();
    let e = ZarrSource::open(&url, "b").unwrap_err();
    assert_eq!(store_kind(&e), Some(&StoreErrorKind::Incomplete), "{e}");
    let keys = s3_keys(&format!("{url}/b"));
    assert!(
        !keys.iter().any(|k| k.ends_with("zarr.json")),
        "metadata before commit: {keys:?}"
    );
    drop(w);
    assert!(s3_keys(&format!("{url}/b")).is_empty());

    // A failed overwrite leaves no array either (an object store has no rename to keep the
    // old one until the new one is whole): never the old chunks mixed with new ones.
    x.to_zarr(&rt, &url, "c").unwrap();
    let e = bad
        .to_zarr_with(
            &rt,
            &url,
            "c",
            ZarrWriteOptions {
                overwrite: true,
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
    assert!(store_kind(&e).is_none(), "{e}");
    assert!(s3_keys(&format!("{url}/c")).is_empty());
}

#[test]
fn s3_missing_bucket_is_named() {
    let Some(_) = s3_url("unused") else { return };
    let url = format!(
        "s3://chunkwise-no-such-bucket-{}/x.zarr",
        std::process::id()
    );
    let e = ZarrSource::open(&url, "t2m").unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(store_kind(&e), Some(StoreErrorKind::ObjectStore { .. })),
        "{text}"
    );
    assert!(
        text.contains(&url) && text.contains("bucket") && text.contains("does not exist"),
        "{text}"
    );
    let rt = rt("8 MiB");
    let x = ChunkedArray::<f64>::from_shape_fn(&[4], [2], |i| i[0] as f64).unwrap();
    let e = x.to_zarr(&rt, &url, "x").unwrap_err().to_string();
    assert!(e.contains("does not exist") && e.contains(&url), "{e}");
}

/// A stub S3 endpoint: every request gets AWS's answer to an unknown access key.
fn forbidding_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = s.read(&mut buf);
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\
                            InvalidAccessKeyId</Code><Message>The AWS Access Key Id you \
                            provided does not exist in our records.</Message></Error>";
                let _ = write!(
                    s,
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn s3_refused_credentials_are_named() {
    let endpoint = forbidding_endpoint();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "refused_credentials_child", "--nocapture"])
        .env(CHILD, "1")
        .env("AWS_ENDPOINT", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "wrong")
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child did not run: {text}");
}

#[test]
fn refused_credentials_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let url = "s3://some-bucket/x.zarr";
    let e = ZarrSource::open(url, "t2m").unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(store_kind(&e), Some(StoreErrorKind::ObjectStore { .. })),
        "{text}"
    );
    assert!(
        text.contains(url) && text.contains("403") && text.contains("AWS_ACCESS_KEY_ID"),
        "{text}"
    );
    let e = Dataset::open(url).unwrap_err().to_string();
    assert!(e.contains("403") && e.contains(url), "{e}");
}

/// `python3 -m http.server` serving `dir` on a free port of 127.0.0.1, killed on drop.
struct HttpServer {
    child: Child,
    url: String,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Option<HttpServer> {
    let python = std::env::var("CHUNKWISE_PYTHON").unwrap_or_else(|_| "python3".into());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&python)
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .arg("--directory")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            let required = std::env::var("CHUNKWISE_REQUIRE_S3").as_deref() == Ok("1")
                || std::env::var("CHUNKWISE_REQUIRE_PYTHON").as_deref() == Ok("1");
            assert!(!required, "cannot start {python} -m http.server: {e}");
            eprintln!("note: skipped, cannot start {python} -m http.server: {e}");
            return None;
        }
    };
    let server = HttpServer {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "http.server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(server)
}

#[test]
fn http_store_reads_equal_the_original_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt("8 MiB");
    let shape = [60, 45];
    let x = ChunkedArray::<f64>::from_shape_fn(&shape, [16, 12], field).unwrap();
    let local = dir.path().join("x.zarr");
    x.to_zarr(&rt, &local, "x").unwrap();
    let ds = Dataset::open("data/sample.zarr").unwrap();
    ds.to_zarr(
        &rt,
        dir.path().join("ds.zarr"),
        DatasetWriteOptions::default(),
    )
    .unwrap();
    let Some(server) = serve(dir.path()) else {
        return;
    };
    let url = format!("{}/x.zarr", server.url);

    let back = ChunkedArray::<f64>::open_zarr(&url, "x")
        .unwrap()
        .compute(&rt)
        .unwrap();
    assert_eq!(back, field_nd(&shape));
    // A Dataset over HTTP, through its consolidated metadata (HTTP cannot list).
    let remote = Dataset::open(format!("{}/ds.zarr", server.url)).unwrap();
    assert_eq!(remote.names(), ds.names());
    assert_eq!(remote.coords(), ds.coords());

    let e = ZarrSource::open(&url, "nothing").unwrap_err();
    assert_eq!(store_kind(&e), Some(&StoreErrorKind::ArrayNotFound), "{e}");

    let e = x.to_zarr(&rt, &url, "y").unwrap_err();
    assert!(
        matches!(store_kind(&e), Some(StoreErrorKind::ReadOnly { .. })),
        "{e}"
    );
    let text = e.to_string();
    assert!(text.contains(&url) && text.contains("read-only"), "{text}");
    assert!(!local.join("y").exists());
}

#[test]
fn unknown_scheme_is_named() {
    let e = ZarrSource::open("ftp://host/x.zarr", "t").unwrap_err();
    assert!(
        matches!(store_kind(&e), Some(StoreErrorKind::UnknownScheme { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("ftp://"), "{e}");
}

/// Read throughput of a 64 MiB store (uncompressed, 64 chunks of 1 MiB) from S3 against the
/// same store on the filesystem, with 1 and 4 worker threads, interleaved: more workers read
/// S3 faster when their requests are in flight at once. Run by hand:
/// `cargo test --features object-store --test object_store -- --ignored --nocapture measure`.
#[test]
#[ignore = "a measurement, not a check: run by hand"]
fn measure_read_throughput_s3_vs_filesystem() {
    let Some(url) = s3_url("throughput.zarr") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("throughput.zarr");
    let shape = [2048, 4096];
    let x = ChunkedArray::<f64>::from_shape_fn(&shape, [32, 4096], field).unwrap();
    let opts = || ZarrWriteOptions {
        compression: chunkwise::io::zarr::ZarrCompression::None,
        ..Default::default()
    };
    let rt_w = rt("64 MiB");
    let t = Instant::now();
    x.to_zarr_with(&rt_w, &url, "x", opts(), None).unwrap();
    eprintln!("write to S3: {:.2} s", t.elapsed().as_secs_f64());
    x.to_zarr_with(&rt_w, &local, "x", opts(), None).unwrap();
    let mib = (shape[0] * shape[1] * 8) as f64 / (1 << 20) as f64;
    let want: f64 = field_nd(&shape).sum();
    for rep in 0..3 {
        for threads in [1, 4] {
            for (what, store) in [("fs", local.to_str().unwrap()), ("s3", url.as_str())] {
                let rt = Runtime::builder()
                    .threads(threads)
                    .memory_limit("32 MiB")
                    .build()
                    .unwrap();
                let a = ChunkedArray::<f64>::open_zarr(store, "x").unwrap();
                let t = Instant::now();
                let s = a.sum().compute(&rt).unwrap().sum();
                let secs = t.elapsed().as_secs_f64();
                assert!((s - want).abs() <= 1e-6 * want.abs());
                eprintln!(
                    "rep {rep} {what} threads {threads}: {:.0} MiB/s ({secs:.3} s)",
                    mib / secs
                );
            }
        }
    }
}
