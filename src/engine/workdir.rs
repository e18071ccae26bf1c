//! The work directory: per computation, its plan, the stages' arrays, the batches'
//! done-markers and logs.
//!
//! ```text
//! WORK_DIR/compute-N/plan.json          the plan hash and stages, written last when preparing
//! WORK_DIR/compute-N/arrays/sK          stage K's Zarr array (the last ones: the results)
//! WORK_DIR/compute-N/done/sK-bJ.json    batch J of stage K is complete (written last, atomically)
//! WORK_DIR/compute-N/logs/sK-bJ.log     the batch's worker output (appended on retries)
//! WORK_DIR/discard/                     outputs that workers' programs created (never used)
//! ```

use super::stages::StagePlan;
use crate::error::{Error, Result};
use crate::io::zarr::{ZarrCompression, ZarrWriteOptions, ZarrWriter};
use serde_json::json;
use std::path::{Path, PathBuf};

/// One computation's part of a work directory.
#[derive(Clone, Debug)]
pub(crate) struct WorkDir {
    root: PathBuf,
    dir: PathBuf,
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

impl WorkDir {
    pub(crate) fn new(root: &Path, compute: usize) -> WorkDir {
        WorkDir {
            root: root.to_path_buf(),
            dir: root.join(format!("compute-{compute}")),
        }
    }

    /// The work directory (absolute when the driver made it).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The work directory, as shown in messages.
    pub(crate) fn shown(&self) -> String {
        self.root.display().to_string()
    }

    /// The store holding the stages' arrays.
    pub(crate) fn store(&self) -> PathBuf {
        self.dir.join("arrays")
    }

    pub(crate) fn plan_file(&self) -> PathBuf {
        self.dir.join("plan.json")
    }

    pub(crate) fn done_file(&self, stage: usize, batch: usize) -> PathBuf {
        self.dir
            .join("done")
            .join(format!("s{stage}-b{batch}.json"))
    }

    pub(crate) fn log_file(&self, stage: usize, batch: usize) -> PathBuf {
        self.dir.join("logs").join(format!("s{stage}-b{batch}.log"))
    }

    pub(crate) fn fault_marker(&self, stage: usize, batch: usize) -> PathBuf {
        self.dir.join("faults").join(format!("s{stage}-b{batch}"))
    }

    /// A directory for the launcher's own files.
    pub(crate) fn scratch(&self) -> PathBuf {
        self.dir.join("engine")
    }

    /// The plan hash recorded in `plan.json`, `None` when there is none yet.
    ///
    /// # Errors
    /// [`Error::Io`] when it exists but cannot be read, [`Error::Engine`] when it is not a
    /// plan.
    pub(crate) fn recorded_hash(&self) -> Result<Option<String>> {
        let file = self.plan_file();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read the plan", &file)(e)),
        };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Engine {
            engine: "driver",
            detail: format!("{} is not a plan: {e}", file.display()),
        })?;
        v["hash"]
            .as_str()
            .map(|h| Some(h.to_string()))
            .ok_or_else(|| Error::Engine {
                engine: "driver",
                detail: format!("{} has no plan hash", file.display()),
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
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(io("clear", &self.dir))?;
        }
        for d in [self.dir.join("done"), self.dir.join("logs"), self.scratch()] {
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
        write_atomic(&self.plan_file(), &text)?;
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
        write_atomic(&self.done_file(stage, batch), &text)
    }

    /// The done-marker of batch `batch` of `stage`, if it is there and of plan `hash`.
    pub(crate) fn read_done(&self, hash: &str, stage: usize, batch: usize) -> Option<DoneMarker> {
        let text = std::fs::read_to_string(self.done_file(stage, batch)).ok()?;
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
