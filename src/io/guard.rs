//! Keeping users' data safe while writing: exclusive output locks, staging names beside an
//! output, swapping a finished output into place, cleaning what killed runs left behind, and
//! the canonical identity of a stored array (to refuse writing over what a computation reads).
//!
//! # The write protocol
//! Every writer ([`super::zarr::ZarrWriter`], the HDF5 writer, the CLI's root-array form):
//! 1. validates names before it touches the disk;
//! 2. takes an [`OutputLock`] on the output for the whole write (a `flock` on a lock file
//!    beside it, `.NAME.chunkwise-lock`), so a second writer fails at once instead of mixing
//!    its chunks with the first one's;
//! 3. writes into a staging location beside the output (same directory, hence same
//!    filesystem) named by [`staging_name`] (`.NAME.chunkwise-tmp-HOST-PID-N`);
//! 4. only when data and metadata are complete, swaps the staging location into place
//!    ([`swap_into_place`]: an atomic `renameat2(RENAME_EXCHANGE)` on Linux), and only then
//!    removes the old array.
//!
//! So a kill, a full disk or an error before the swap leaves the old array as it was. Staging
//! locations of processes that no longer run (on this host) are removed by the next writer of
//! the same output ([`clean_stale`]).

use crate::error::{Error, Result, StoreErrorKind};
use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The part of staging names after the output's name.
pub const STAGING_TAG: &str = "chunkwise-tmp";

/// Where a stored array lives, canonically: two spellings of one array (`s.zarr:/t2m`,
/// `./s.zarr:/t2m`, a symlink to `s.zarr`) have equal locations.
#[derive(Clone, Debug)]
pub struct StoredLocation {
    /// The canonical path of the array: a Zarr array's directory, or an HDF5 file.
    pub path: PathBuf,
    /// The array's path inside `path`: `""` for Zarr, the normalized dataset path for HDF5.
    pub inner: String,
    /// The array as it was named, for messages.
    pub shown: String,
}

impl StoredLocation {
    /// The location of `path` (existing or not; see [`canonical_path`]) and `inner`.
    pub fn new(path: &Path, inner: &str, shown: impl Into<String>) -> StoredLocation {
        StoredLocation {
            path: canonical_path(path),
            inner: inner
                .split('/')
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join("/"),
            shown: shown.into(),
        }
    }

    /// The location of an array in an object store, named by its URL.
    pub fn remote(url: &str) -> StoredLocation {
        StoredLocation {
            path: PathBuf::from(url.trim_end_matches('/')),
            inner: String::new(),
            shown: url.to_string(),
        }
    }

    /// Whether both name the same array.
    pub fn same_array(&self, other: &StoredLocation) -> bool {
        self.path == other.path && self.inner == other.inner
    }
}

/// The canonical form of `path`, which need not exist: the longest existing ancestor is
/// canonicalized (symlinks resolved) and the rest appended with `.` and `..` resolved
/// lexically.
pub fn canonical_path(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    let mut head = abs.as_path();
    loop {
        if let Ok(c) = head.canonicalize() {
            let mut out = c;
            for part in tail.iter().rev() {
                if part == ".." {
                    out.pop();
                } else if part != "." {
                    out.push(part);
                }
            }
            return out;
        }
        match (head.parent(), head.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                head = parent;
            }
            _ => {
                // Nothing exists (or `..` at the end): normalize lexically.
                let mut out = PathBuf::new();
                for c in abs.components() {
                    match c {
                        Component::ParentDir => {
                            out.pop();
                        }
                        Component::CurDir => {}
                        other => out.push(other),
                    }
                }
                return out;
            }
        }
    }
}

/// This machine's host name (`"localhost"` if it cannot be read).
pub fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !name.is_empty() {
                return name.replace(['/', '\\'], "_");
            }
        }
    }
    "localhost".into()
}

/// Whether process `pid` runs on this host (a process we may not signal counts as running).
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if p <= 0 {
            return false;
        }
        // SAFETY: signal 0 only checks whether the process exists.
        let rc = unsafe { libc::kill(p, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// `HOST-PID-N`: who made a staging or scratch location (`N` tells apart several of one
/// process).
pub fn owner_tag() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}-{}",
        hostname(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The staging name of an output named `name`: `.NAME.chunkwise-tmp-HOST-PID-N`.
pub fn staging_name(name: &str) -> String {
    format!(".{name}.{STAGING_TAG}-{}", owner_tag())
}

/// The prefix every staging name of `name` starts with.
pub fn staging_prefix(name: &str) -> String {
    format!(".{name}.{STAGING_TAG}-")
}

/// The host and PID in an owner tag `HOST-PID-N`; the older forms `PID` and `PID-N` (written
/// before host names were recorded) count as this host's.
pub fn parse_owner(tag: &str) -> Option<(String, u32)> {
    let parts: Vec<&str> = tag.split('-').collect();
    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [pid] if num(pid) => Some((hostname(), pid.parse().ok()?)),
        [pid, n] if num(pid) && num(n) => Some((hostname(), pid.parse().ok()?)),
        [host @ .., pid, n] if !host.is_empty() && num(pid) && num(n) => {
            Some((host.join("-"), pid.parse().ok()?))
        }
        _ => None,
    }
}

/// Whether an owner tag names a process of this host that no longer runs.
pub fn owner_is_dead(tag: &str) -> bool {
    parse_owner(tag).is_some_and(|(host, pid)| host == hostname() && !pid_alive(pid))
}

/// Removes the entries of `dir` named `PREFIX` + an owner tag whose process no longer runs on
/// this host (staging directories and files that a killed run left). Entries of other hosts
/// and of running processes are kept. Returns what was removed.
pub fn clean_stale(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(tag) = name.strip_prefix(prefix) else {
            continue;
        };
        if !owner_is_dead(tag) {
            continue;
        }
        let p = e.path();
        let ok = if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p).is_ok()
        } else {
            std::fs::remove_file(&p).is_ok()
        };
        if ok {
            removed.push(p);
        }
    }
    removed
}

/// An exclusive lock on an output, held for the whole write and released on drop.
///
/// It is a `flock(LOCK_EX)` on the file `.NAME.chunkwise-lock` beside the output, which holds
/// the PID and host of the writer. The kernel releases it when the process dies, so a killed
/// writer never leaves a lock that blocks the next one.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    _file: File,
}

impl OutputLock {
    /// The lock file of `output`.
    pub fn lock_path(output: &Path) -> PathBuf {
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let parent = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        parent.join(format!(".{name}.chunkwise-lock"))
    }

    /// Takes the lock on `output` (its parent directory must exist); `shown` names the output
    /// in errors.
    ///
    /// # Errors
    /// [`Error::Store`] of kind [`StoreErrorKind::Locked`] naming the other writer's PID and
    /// host when another writer (in this process or another) holds the lock;
    /// [`StoreErrorKind::PermissionDenied`] or [`StoreErrorKind::Backend`] (the I/O error as
    /// the source) when the lock file cannot be created or locked.
    pub fn acquire(op: &'static str, output: &Path, shown: &str) -> Result<OutputLock> {
        let mut path = Self::lock_path(output);
        // A worker process of an engine (issue 11) never writes the user's outputs (the
        // driver does, and holds their locks): its program's locks are its own.
        if let Some(dir) = crate::engine::worker::redirected_output()? {
            std::fs::create_dir_all(&dir)
                .map_err(|source| Error::store_io(op, shown, "lock the output in", &dir, source))?;
            path = dir.join(path.file_name().unwrap_or_default());
        }
        let io = |source| Error::store_io(op, shown, "lock the output with", &path, source);
        loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            if !try_flock(&file).map_err(io)? {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(Error::store(
                    op,
                    shown,
                    StoreErrorKind::Locked {
                        holder: if holder.is_empty() {
                            "its process is unknown".to_string()
                        } else {
                            holder.to_string()
                        },
                        lock_file: path,
                    },
                ));
            }
            // The file may have been removed by the previous holder between our open and our
            // lock: then the lock is on a file nobody else sees. Retry on the current one.
            if !same_file(&file, &path) {
                continue;
            }
            use std::io::Write;
            let _ = file.set_len(0);
            let _ = (&file).write_all(
                format!("pid {} on host {}\n", std::process::id(), hostname()).as_bytes(),
            );
            return Ok(OutputLock { path, _file: file });
        }
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked: a writer that opened it meanwhile sees it is stale
        // (`same_file` fails) and retries on a new file.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn try_flock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(not(unix))]
fn try_flock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Moves the finished `staging` to `target`. When `target` exists, the two are exchanged
/// atomically (Linux `renameat2(RENAME_EXCHANGE)`; where the filesystem cannot, `target` is
/// first renamed aside to `.NAME.chunkwise-old-TAG`, never deleted before the new one is in
/// place) and the old contents, now at `staging` (or aside), are removed.
///
/// # Errors
/// [`Error::Store`] naming `target`, of kind [`StoreErrorKind::PermissionDenied`] or
/// [`StoreErrorKind::Backend`] (the I/O error as the source), when a rename fails; the old
/// array is then still at `target` (or, if only the second rename of the fallback failed, at
/// the `chunkwise-old` path named in the error).
pub fn swap_into_place(staging: &Path, target: &Path) -> Result<()> {
    const OP: &str = "move into place";
    let shown = target.display().to_string();
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        let shown = shown.clone();
        move |source| Error::store_io(OP, shown, action, &p, source)
    };
    if std::fs::symlink_metadata(target).is_err() {
        return std::fs::rename(staging, target).map_err(io("move the new array to", target));
    }
    if exchange(staging, target).map_err(io("swap the new array into", target))? {
        remove_path(staging).map_err(io("remove the replaced array", staging))?;
        return Ok(());
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = target.with_file_name(format!(".{name}.chunkwise-old-{}", owner_tag()));
    std::fs::rename(target, &aside).map_err(io("move the old array aside to", &aside))?;
    if let Err(source) = std::fs::rename(staging, target) {
        // Put the old one back; if even that fails, the error names where it is.
        if std::fs::rename(&aside, target).is_ok() {
            return Err(io("move the new array to", target)(source));
        }
        return Err(io(
            "move the new array into place; the old array is now at",
            &aside,
        )(source));
    }
    remove_path(&aside).map_err(io("remove the replaced array", &aside))
}

fn remove_path(p: &Path) -> std::io::Result<()> {
    if p.is_dir() && !p.is_symlink() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    }
}

/// Atomically exchanges `a` and `b`; `Ok(false)` when the platform or filesystem cannot.
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let ca = std::ffi::CString::new(a.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let cb = std::ffi::CString::new(b.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: both are valid NUL-terminated paths for the duration of the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::ENOTSUP) => Ok(false),
            _ => Err(e),
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// Checks the components of an array path inside a store (`a/b/c`) before anything is
/// written: `.` and `..` (which would leave the store or alias another node), and names
/// with NUL or backslash, are refused.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the component.
pub fn validate_array_path(op: &'static str, shown: &str, array_path: &str) -> Result<()> {
    for comp in array_path.split('/').filter(|c| !c.is_empty()) {
        let bad = match comp {
            "." | ".." => Some("refers to a directory outside the node's own name"),
            c if c.contains('\0') => Some("contains a NUL byte"),
            c if c.contains('\\') => Some("contains a backslash"),
            _ => None,
        };
        if let Some(why) = bad {
            return Err(Error::InvalidArgument {
                op,
                detail: format!(
                    "{shown}: the array path {array_path:?} has the component {comp:?}, which \
                     {why}; name the array with plain names inside the store"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_parse_old_and_new_forms() {
        let me = hostname();
        assert_eq!(parse_owner("12"), Some((me.clone(), 12)));
        assert_eq!(parse_owner("12-3"), Some((me, 12)));
        assert_eq!(parse_owner("node-a-7-0"), Some(("node-a".into(), 7)));
        assert_eq!(parse_owner("x"), None);
        assert!(!owner_is_dead(&format!(
            "{}-{}-0",
            hostname(),
            std::process::id()
        )));
        assert!(!owner_is_dead("some-other-host-1-0"));
    }

    #[test]
    fn canonical_paths_of_missing_files() {
        let d = tempfile::tempdir().unwrap();
        let a = canonical_path(&d.path().join("x/./y/../z"));
        assert_eq!(a, d.path().canonicalize().unwrap().join("x/z"));
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_array_path("t", "s", "a/b").is_ok());
        assert!(validate_array_path("t", "s", "../escaped").is_err());
        assert!(validate_array_path("t", "s", "a/./b").is_err());
    }
}
