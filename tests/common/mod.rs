//! A counting global allocator for the memory tests. Each memory test lives in its own test
//! binary (one test per binary) so no other test's allocations mix into the counts.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Counts live heap bytes and their peak.
pub(crate) struct Counting;

fn grow(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call forwards to the system allocator unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new > l.size() {
                grow(new - l.size());
            } else {
                CURRENT.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

/// Live heap bytes now; also restarts the peak from here.
pub(crate) fn reset_peak() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// The peak of live heap bytes since the last [`reset_peak`].
pub(crate) fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

pub(crate) const MIB: usize = 1 << 20;

/// A two-thread runtime with memory limit `limit` (bytes).
pub(crate) fn runtime(limit: usize) -> chunkwise::Runtime {
    chunkwise::Runtime::builder()
        .threads(2)
        .memory_limit(limit)
        .build()
        .expect("runtime")
}

/// Asserts the run kept tracked bytes within `limit` and the heap within `limit + slack`
/// above `baseline`.
pub(crate) fn assert_within(
    what: &str,
    report: &chunkwise::RunReport,
    limit: usize,
    baseline: usize,
    slack: usize,
) {
    let heap = peak().saturating_sub(baseline);
    eprintln!(
        "{what}: {} tasks, peak tracked {:.1} MiB, heap peak {:.1} MiB above baseline, limit {:.1} MiB, heap allowed {:.2} MiB ({:.0}% used)",
        report.tasks,
        report.peak_tracked_bytes as f64 / MIB as f64,
        heap as f64 / MIB as f64,
        limit as f64 / MIB as f64,
        (limit + slack) as f64 / MIB as f64,
        100.0 * heap as f64 / (limit + slack) as f64
    );
    assert!(
        report.peak_tracked_bytes <= limit,
        "{what}: tracked peak {} > limit {limit}",
        report.peak_tracked_bytes
    );
    assert!(
        heap <= limit + slack,
        "{what}: heap peak {heap} > limit {limit} + {slack}"
    );
}

/// Live heap bytes now.
pub(crate) fn current() -> usize {
    CURRENT.load(Ordering::Relaxed)
}
