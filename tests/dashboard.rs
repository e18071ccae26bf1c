//! The live dashboard's server (feature `dashboard`), tested over raw HTTP: its JSON state
//! during and after runs (progress advances, memory stays under the limit, both workers
//! appear, several runs follow one another), and what it refuses (other methods, other
//! paths, a port in use).

use chunkwise::prelude::*;
use serde_json::Value as Json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One HTTP/1.1 request over a fresh connection: the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the dashboard");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |b| b.1).to_string();
    (status, body)
}

fn state(addr: SocketAddr) -> Json {
    let (status, body) = request(addr, "GET", "/state.json");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("the state is JSON")
}

fn u(v: &Json) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

const LIMIT: usize = 32 << 20;

/// A runtime of two workers with a dashboard on a free loopback port; each task's progress
/// callback sleeps, so a run lasts long enough to be watched.
fn runtime(sleep: Duration) -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit(LIMIT)
        .dashboard("127.0.0.1:0")
        .on_progress(move |_, _| std::thread::sleep(sleep))
        .build()
        .expect("runtime with a dashboard")
}

/// Anomaly and its standard deviation of 1000x1000 values in 100x100 blocks.
fn workload() -> ChunkedArray<f64> {
    let x = ChunkedArray::<f64>::random_normal(&[1000, 1000], [100, 100], 7, 1.0, 2.0).unwrap();
    let m = x.mean_axis(0).unwrap();
    (&x - &m).unwrap().std_axis(0).unwrap()
}

fn last_run(s: &Json) -> &Json {
    s["runs"].as_array().unwrap().last().expect("a run")
}

#[test]
fn state_advances_during_a_run_and_is_complete_after_it() {
    let rt = runtime(Duration::from_millis(8));
    let addr = rt.dashboard_addr().expect("an address");
    assert!(addr.ip().is_loopback());
    assert_eq!(rt.dashboard_url().unwrap(), format!("http://{addr}/"));
    // Before any run: no runs, no tasks.
    let s = state(addr);
    assert_eq!(s["runs"].as_array().unwrap().len(), 0);
    assert_eq!(s["stream"].as_array().unwrap().len(), 0);

    let mut during: Vec<u64> = Vec::new();
    let result = std::thread::scope(|sc| {
        let h = sc.spawn(|| workload().compute(&rt));
        while !h.is_finished() {
            let s = state(addr);
            if let Some(r) = s["runs"].as_array().unwrap().last()
                && r["end_us"].is_null()
            {
                during.push(u(&r["done"]));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        h.join().unwrap()
    });
    let sd = result.expect("the run");
    assert_eq!(sd.shape(), &[1000]);
    assert!(
        during.len() >= 2,
        "too few looks during the run: {during:?}"
    );
    assert!(during.windows(2).all(|w| w[0] <= w[1]), "{during:?}");
    assert!(
        during.last() > during.first(),
        "progress did not advance: {during:?}"
    );

    let report = rt.last_report();
    assert!(report.peak_tracked_bytes <= LIMIT, "{report}");
    let s = state(addr);
    let r = last_run(&s);
    assert_eq!(u(&r["tasks"]), report.tasks as u64);
    assert_eq!(u(&r["done"]), report.tasks as u64);
    assert!(!r["end_us"].is_null());
    assert!(r["error"].is_null());
    assert_eq!(u(&r["limit"]), LIMIT as u64);
    assert_eq!(u(&r["threads"]), 2);
    assert!(u(&r["peak"]) <= LIMIT as u64);
    assert_eq!(u(&r["peak"]), report.peak_tracked_bytes as u64);
    // Progress per operation adds up, and nothing runs or is held after the run.
    let ops = r["ops"].as_array().unwrap();
    assert!(ops.len() >= 3, "{ops:?}");
    let total: u64 = ops.iter().map(|o| u(&o["tasks"])).sum();
    assert_eq!(total, report.tasks as u64);
    for o in ops {
        assert_eq!(u(&o["done"]), u(&o["tasks"]), "{o}");
        assert_eq!(
            (u(&o["running"]), u(&o["waiting"]), u(&o["held"])),
            (0, 0, 0)
        );
    }
    // The graph's edges join operations of the run.
    let edges = r["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        assert!(u(&e[0]) < ops.len() as u64 && u(&e[1]) < ops.len() as u64);
    }
    // The task stream: every task, on both workers, each with its op, block and times.
    let stream = s["stream"].as_array().unwrap();
    assert_eq!(stream.len(), report.tasks);
    let mut workers = std::collections::BTreeSet::new();
    for t in stream {
        let t: Vec<u64> = t.as_array().unwrap().iter().map(u).collect();
        assert!(t[1] < ops.len() as u64);
        assert!(t[4] <= t[5], "start after end: {t:?}");
        workers.insert(t[3]);
    }
    assert_eq!(workers, [0, 1].into_iter().collect());
    // Memory samples stay under the limit; something was read and written.
    let samples = s["samples"].as_array().unwrap();
    assert!(samples.len() >= 2);
    for m in samples {
        assert!(u(&m[1]) <= LIMIT as u64, "{m}");
    }
    assert!(u(&s["read_total"]) > 0);
    assert!(u(&s["written_total"]) > 0);
}

#[test]
fn several_runs_appear_one_after_another() {
    let rt = runtime(Duration::ZERO);
    let addr = rt.dashboard_addr().unwrap();
    let a = ChunkedArray::<f64>::ones(&[40, 40], [10, 10]).unwrap();
    assert_eq!(a.sum().compute(&rt).unwrap().sum(), 1600.0);
    assert_eq!(workload().compute(&rt).unwrap().len(), 1000);
    let s = state(addr);
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(u(&runs[0]["id"]) < u(&runs[1]["id"]));
    assert!(u(&runs[0]["end_us"]) <= u(&runs[1]["start_us"]));
    let stream = s["stream"].as_array().unwrap();
    let of = |id: u64| stream.iter().filter(|t| u(&t[0]) == id).count() as u64;
    assert_eq!(of(u(&runs[0]["id"])), u(&runs[0]["tasks"]));
    assert_eq!(of(u(&runs[1]["id"])), u(&runs[1]["tasks"]));
    assert!(rt.last_report().peak_tracked_bytes <= LIMIT);
}

#[test]
fn the_page_is_self_contained_and_only_get_of_its_paths_is_served() {
    let rt = runtime(Duration::ZERO);
    let addr = rt.dashboard_addr().unwrap();
    let (status, page) = request(addr, "GET", "/");
    assert_eq!(status, 200);
    assert!(
        page.contains("<script>") && page.contains("state.json"),
        "{page}"
    );
    for external in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "@import",
        "url(http",
    ] {
        assert!(!page.contains(external), "the page loads {external}...");
    }
    assert_eq!(request(addr, "GET", "/state.json?t=1").0, 200);
    for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD"] {
        for path in ["/", "/state.json"] {
            let (status, body) = request(addr, method, path);
            assert_eq!(status, 405, "{method} {path}: {body}");
        }
    }
    for path in ["/nope", "/state", "/../etc/passwd", "/state.json/x", "//"] {
        assert_eq!(request(addr, "GET", path).0, 404, "{path}");
        assert_eq!(request(addr, "POST", path).0, 404, "{path}");
    }
    // Refused requests change nothing: still no runs.
    assert_eq!(state(addr)["runs"].as_array().unwrap().len(), 0);
}

#[test]
fn a_port_in_use_or_a_bad_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = Runtime::builder()
        .dashboard(addr.as_str())
        .build()
        .expect_err("the port is taken");
    match &err {
        Error::Dashboard { addr: a, .. } => assert_eq!(a, &addr),
        other => panic!("expected Error::Dashboard, got {other:?}"),
    }
    assert!(err.to_string().contains(&addr), "{err}");
    // A runtime's own dashboard holds its port, and frees it when dropped.
    let rt = runtime(Duration::ZERO);
    let held = rt.dashboard_addr().unwrap().to_string();
    let again = Runtime::builder().dashboard(held.as_str()).build();
    assert!(matches!(again, Err(Error::Dashboard { .. })));
    drop(rt);
    // The listener closes on its own thread just after: allow it a moment.
    let closed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        TcpStream::connect(held.as_str()).is_err()
    });
    assert!(closed, "still served after the runtime was dropped");
    for bad in ["not an address", "127.0.0.1", "127.0.0.1:99999", ""] {
        match Runtime::builder().dashboard(bad).build() {
            Err(Error::Dashboard { addr, detail }) => {
                assert_eq!(addr, bad);
                assert!(!detail.is_empty());
            }
            other => panic!("{bad:?}: expected Error::Dashboard, got {:?}", other.err()),
        }
    }
}
