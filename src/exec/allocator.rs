//! [`keep_freed_blocks`]: glibc allocator settings for programs that stream large blocks.

/// Makes the process's allocator keep freed blocks for reuse instead of handing them back to
/// the kernel. Call it once, first thing in `main`, before any other thread starts; it
/// changes the whole process's allocator, which is why the library never calls it itself.
///
/// glibc returns large frees (a decoded 8 MiB chunk) to the kernel, and the next block of the
/// same size is faulted in again page by page, zeroed: a streamed reduction then spends a
/// good part of its time in page faults. With glibc on Linux this sets:
/// - `M_MMAP_THRESHOLD` to 32 MiB (glibc's largest): blocks up to that size come from the
///   heap, not from fresh mappings;
/// - `M_TRIM_THRESHOLD` to 1 GiB: the heap is not shrunk after each free;
/// - `M_ARENA_MAX` to 1: every thread allocates from the main heap. A worker thread's own
///   arena is made of 64 MiB heaps that are unmapped whenever they empty, so blocks freed on
///   a worker came back as fresh pages all the same (W8's mean over a blosc store: 170,000
///   page faults and 0.65 s with per-thread arenas, 47,000 and 0.51 s with one).
///
/// Held blocks are bounded by the memory limit, so the heap stays bounded too: it is kept at
/// its peak rather than given back. Elsewhere (other C libraries, other systems) this does
/// nothing. The `chunkwise` command calls it.
///
/// # Example
/// ```
/// // First thing in `main`:
/// chunkwise::keep_freed_blocks();
/// let rt = chunkwise::Runtime::builder().memory_limit("256 MiB").build()?;
/// # let _ = rt;
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn keep_freed_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it takes the allocator's own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
