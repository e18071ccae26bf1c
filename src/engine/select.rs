//! Choosing a cluster engine by the name the CLI spells (`--engine slurm|hyperqueue`).

use crate::engine::hyperqueue::{HyperQueueLauncher, HyperQueueOptions};
use crate::engine::launch::Launcher;
use crate::engine::slurm::{SlurmLauncher, SlurmOptions};
use crate::error::{Error, Result};
use std::sync::Arc;

/// The options of every cluster engine; [`launcher_by_name`] uses those of the one it builds.
#[derive(Clone, Debug, Default)]
pub struct LauncherOptions {
    /// For `slurm`.
    pub slurm: SlurmOptions,
    /// For `hyperqueue`.
    pub hyperqueue: HyperQueueOptions,
}

/// The launcher of the cluster engine `name`: `"slurm"` or `"hyperqueue"`; `None` for
/// `"local"` and `"processes"`, which run on this machine without a cluster engine.
///
/// # Errors
/// [`Error::InvalidArgument`] for any other name, listing the engines there are.
///
/// # Example
/// ```
/// use chunkwise::engine::select::{LauncherOptions, launcher_by_name};
///
/// let opts = LauncherOptions::default();
/// assert_eq!(launcher_by_name("slurm", &opts)?.unwrap().name(), "slurm");
/// assert!(launcher_by_name("processes", &opts)?.is_none());
/// assert!(launcher_by_name("kubernetes", &opts).is_err());
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn launcher_by_name(name: &str, opts: &LauncherOptions) -> Result<Option<Arc<dyn Launcher>>> {
    match name {
        "slurm" => Ok(Some(Arc::new(SlurmLauncher::new(opts.slurm.clone())))),
        "hyperqueue" => Ok(Some(Arc::new(HyperQueueLauncher::new(
            opts.hyperqueue.clone(),
        )))),
        "local" | "processes" => Ok(None),
        other => Err(Error::InvalidArgument {
            op: "engine",
            detail: format!(
                "unknown engine {other:?}: expected local, processes, slurm or hyperqueue"
            ),
        }),
    }
}
