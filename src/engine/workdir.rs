//! The work directory: per computation, its plan, the stages' arrays, the batches'
//! done-markers and logs. It is a directory, or (with the feature `object-store`) a prefix of
//! an object store (`s3://bucket/prefix`, `gs://...`): then the plan, arrays and done-markers
//! are objects, and what a launcher writes as files (workers' logs, job scripts) goes to a
//! local directory, the *log directory* (see [`log_root`]).
//!
//! ```text
//! WORK_DIR/compute-N/plan.json          the plan hash and stages, written last when preparing
//! WORK_DIR/compute-N/arrays/sK          stage K's Zarr array (the last ones: the results)
//! WORK_DIR/compute-N/done/sK-bJ.json    batch J of stage K is complete (written last, atomically)
//! LOGS/compute-N/logs/sK-bJ.log         the batch's worker output (appended on retries)
//! LOGS/compute-N/engine/                the launcher's files (job scripts, HyperQueue's server)
//! WORK_DIR/discard/                     outputs that workers' programs created (never used)
//! ```
//!
//! `LOGS` is `WORK_DIR` itself for a local work directory, unless a log directory is set
//! ([`RuntimeBuilder::log_dir`](crate::RuntimeBuilder::log_dir)).

use super::stages::StagePlan;
use crate::error::{Error, Result};
use crate::io::zarr::{ZarrCompression, ZarrWriteOptions, ZarrWriter};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Where a computation's plan, arrays and done-markers are.
#[derive(Clone, Debug)]
enum Place {
    /// A directory (`WORK_DIR/compute-N`).
    Local(PathBuf),
    /// An object store prefix (`WORK_DIR/compute-N`).
    #[cfg(feature = "object-store")]
    Remote(crate::io::remote::Remote),
}

/// One computation's part of a work directory.
#[derive(Clone, Debug)]
pub(crate) struct WorkDir {
    /// The work directory as given (a path, absolute when the driver made it, or a URL).
    root: PathBuf,
    place: Place,
    /// The local directory of this computation's logs and launcher files.
    local: PathBuf,
}

/// What a worker recorded of its batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DoneMarker {
    pub tasks: usize,
    pub peak_tracked_bytes: usize,
    pub bytes_produced: usize,
    pub wall_s: f64,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

/// Writes `text` to `path` through a temporary file and a rename, so that a reader sees the
/// whole file or none.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("rename into place", path))
}

/// The local directory of the logs of work directory `root`: `log_dir` when one is set; else
/// `root` itself when it is a directory; else (an object store URL)
/// `$TMPDIR/chunkwise-logs/HASH`, `HASH` 16 hex digits of the URL (so a rerun of the same
/// work directory finds the logs of the run before).
pub(crate) fn log_root(root: &Path, log_dir: Option<&Path>) -> PathBuf {
    match (log_dir, crate::io::store_url::path_url(root)) {
        (Some(d), _) => d.to_path_buf(),
        (None, None) => root.to_path_buf(),
        (None, Some(url)) => {
            let hash = super::hash::Fnv128::default().str(url).hex();
            std::env::temp_dir()
                .join("chunkwise-logs")
                .join(&hash[..16])
        }
    }
}

impl WorkDir {
    /// Computation `compute`'s part of the work directory `root` (a path or an object store
    /// URL), its logs under [`log_root`]`(root, log_dir)`.
    ///
    /// # Errors
    /// A URL this build cannot open (without the feature `object-store`, the error names it),
    /// or a read-only one (`http(s)://`).
    pub(crate) fn open(root: &Path, compute: usize, log_dir: Option<&Path>) -> Result<WorkDir> {
        let name = format!("compute-{compute}");
        let local = log_root(root, log_dir).join(&name);
        let place = match crate::io::store_url::path_url(root) {
            None => Place::Local(root.join(&name)),
            Some(url) => Self::remote(url, &name)?,
        };
        Ok(WorkDir {
            root: root.to_path_buf(),
            place,
            local,
        })
    }

    #[cfg(feature = "object-store")]
    fn remote(url: &str, name: &str) -> Result<Place> {
        const OP: &str = "open the work directory";
        let store = crate::io::remote::Remote::open(OP, url)?;
        store.check_writable(OP)?;
        Ok(Place::Remote(store.child(name)))
    }

    #[cfg(not(feature = "object-store"))]
    fn remote(url: &str, _name: &str) -> Result<Place> {
        Err(crate::io::store_url::unsupported(
            "open the work directory",
            url,
        ))
    }

    /// The work directory as the driver hands it to its workers.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The work directory, as shown in messages.
    pub(crate) fn shown(&self) -> String {
        self.root.display().to_string()
    }

    /// The object or file `rel` of this computation, as shown in messages.
    fn shown_key(&self, rel: &str) -> String {
        match &self.place {
            Place::Local(d) => d.join(rel).display().to_string(),
            #[cfg(feature = "object-store")]
            Place::Remote(r) => crate::io::store_url::join_url(r.url(), rel),
        }
    }

    /// The text of `rel`, `None` when there is none.
    fn read_text(&self, rel: &str) -> Result<Option<String>> {
        match &self.place {
            Place::Local(d) => match std::fs::read_to_string(d.join(rel)) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io("read the work directory", &d.join(rel))(e)),
            },
            #[cfg(feature = "object-store")]
            Place::Remote(r) => Ok(r
                .get("read the work directory", rel)?
                .map(|b| String::from_utf8_lossy(&b).into_owned())),
        }
    }

    /// Writes `rel` whole (a reader sees all of it or nothing).
    fn write_text(&self, rel: &str, text: &str) -> Result<()> {
        match &self.place {
            Place::Local(d) => write_atomic(&d.join(rel), text),
            #[cfg(feature = "object-store")]
            Place::Remote(r) => r.put("write the work directory", rel, text.as_bytes().to_vec()),
        }
    }

    /// The store holding the stages' arrays (a path, or a URL held in a path).
    pub(crate) fn store(&self) -> PathBuf {
        match &self.place {
            Place::Local(d) => d.join("arrays"),
            #[cfg(feature = "object-store")]
            Place::Remote(r) => PathBuf::from(crate::io::store_url::join_url(r.url(), "arrays")),
        }
    }

    fn done_key(stage: usize, batch: usize) -> String {
        format!("done/s{stage}-b{batch}.json")
    }

    pub(crate) fn log_file(&self, stage: usize, batch: usize) -> PathBuf {
        self.local
            .join("logs")
            .join(format!("s{stage}-b{batch}.log"))
    }

    pub(crate) fn fault_marker(&self, stage: usize, batch: usize) -> PathBuf {
        self.local.join("faults").join(format!("s{stage}-b{batch}"))
    }

    /// A directory for the launcher's own files.
    pub(crate) fn scratch(&self) -> PathBuf {
        self.local.join("engine")
    }

    /// The plan hash recorded in `plan.json`, `None` when there is none yet.
    ///
    /// # Errors
    /// [`Error::Io`] when it exists but cannot be read, [`Error::Engine`] when it is not a
    /// plan.
    pub(crate) fn recorded_hash(&self) -> Result<Option<String>> {
        let Some(text) = self.read_text("plan.json")? else {
            return Ok(None);
        };
        let file = self.shown_key("plan.json");
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Engine {
            engine: "driver",
            detail: format!("{file} is not a plan: {e}"),
        })?;
        v["hash"]
            .as_str()
            .map(|h| Some(h.to_string()))
            .ok_or_else(|| Error::Engine {
                engine: "driver",
                detail: format!("{file} has no plan hash"),
            })
    }

    /// Checks that the recorded plan (if any) is `plan`.
    ///
    /// # Errors
    /// [`Error::PlanMismatch`] when the work directory holds another plan for this
    /// computation; as [`WorkDir::recorded_hash`].
    pub(crate) fn check_plan(&self, plan: &StagePlan) -> Result<bool> {
        match self.recorded_hash()? {
            None => Ok(false),
            Some(h) if h == plan.hash => Ok(true),
            Some(h) => Err(Error::PlanMismatch {
                work_dir: self.shown(),
                expected: h,
                found: plan.hash.clone(),
            }),
        }
    }

    /// Makes the directory ready for `plan`: resumes when it already holds it (returns
    /// `true`), else clears what an interrupted preparation left, creates the stages' empty
    /// arrays and records the plan, last.
    ///
    /// # Errors
    /// [`Error::PlanMismatch`] when it holds another plan; I/O and store errors.
    pub(crate) fn prepare(&self, plan: &StagePlan) -> Result<bool> {
        if self.check_plan(plan)? {
            return Ok(true);
        }
        // The logs first: they may be in the computation's directory itself.
        if self.local.exists() {
            std::fs::remove_dir_all(&self.local).map_err(io("clear", &self.local))?;
        }
        match &self.place {
            Place::Local(d) => {
                if d.exists() {
                    std::fs::remove_dir_all(d).map_err(io("clear", d))?;
                }
                let done = d.join("done");
                std::fs::create_dir_all(&done).map_err(io("create", &done))?;
            }
            #[cfg(feature = "object-store")]
            Place::Remote(r) => r.delete_all("clear the work directory", None)?,
        }
        for d in [self.local.join("logs"), self.scratch()] {
            std::fs::create_dir_all(&d).map_err(io("create", &d))?;
        }
        let store = self.store();
        let mut stages = Vec::new();
        let mut intermediate = 0usize;
        for (k, s) in plan.stages.iter().enumerate() {
            let chunks = s.chunk_shape();
            let w = ZarrWriter::create(
                &store,
                &s.array,
                &s.node.shape,
                &chunks,
                s.node.dtype,
                ZarrWriteOptions {
                    compression: ZarrCompression::None,
                    overwrite: true,
                    ..Default::default()
                },
            )?;
            crate::io::BlockWriter::commit(&w)?;
            let bytes = s.node.shape.iter().product::<usize>() * s.node.dtype.size();
            if !plan.finals.contains(&k) {
                intermediate += bytes;
            }
            stages.push(json!({
                "name": s.name,
                "array": s.array,
                "shape": s.node.shape,
                "chunks": chunks,
                "dtype": s.node.dtype.numpy_name(),
                "batches": s.batches.len(),
                "bytes": bytes,
            }));
        }
        let text = serde_json::to_string_pretty(&json!({
            "hash": plan.hash,
            "compute": plan.compute,
            "stages": stages,
            "batches": plan.batch_count(),
            "intermediate_bytes": intermediate,
        }))
        .unwrap_or_default();
        self.write_text("plan.json", &text)?;
        Ok(false)
    }

    /// Records that batch `batch` of `stage` of plan `hash` is complete.
    ///
    /// # Errors
    /// The marker cannot be written.
    pub(crate) fn write_done(
        &self,
        hash: &str,
        stage: usize,
        batch: usize,
        m: &DoneMarker,
    ) -> Result<()> {
        let text = json!({
            "hash": hash,
            "tasks": m.tasks,
            "peak_tracked_bytes": m.peak_tracked_bytes,
            "bytes_produced": m.bytes_produced,
            "wall_s": m.wall_s,
        })
        .to_string();
        self.write_text(&Self::done_key(stage, batch), &text)
    }

    /// The done-marker of batch `batch` of `stage`, if it is there and of plan `hash`.
    pub(crate) fn read_done(&self, hash: &str, stage: usize, batch: usize) -> Option<DoneMarker> {
        let text = self.read_text(&Self::done_key(stage, batch)).ok()??;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        if v["hash"].as_str()? != hash {
            return None;
        }
        let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
        Some(DoneMarker {
            tasks: n("tasks"),
            peak_tracked_bytes: n("peak_tracked_bytes"),
            bytes_produced: n("bytes_produced"),
            wall_s: v["wall_s"].as_f64().unwrap_or(0.0),
        })
    }

    /// The last `n` lines of batch `batch`'s log.
    pub(crate) fn log_tail(&self, stage: usize, batch: usize, n: usize) -> String {
        let text = std::fs::read(self.log_file(stage, batch)).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}
