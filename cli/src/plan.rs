//! `chunkwise plan --dry-run`: how an engine would run a reduction, from metadata only.

use crate::args::{AxisSpec, ReduceOp};
use crate::commands::{ReducedSink, open_f64};
use crate::paths;
use crate::{Ctx, UsageError};
use anyhow::Result;
use chunkwise::engine::DryRun;
use chunkwise::{ChunkedArray, Element, ReduceOpts, Runtime};

/// What `chunkwise plan` plans.
pub(crate) struct PlanArgs<'a> {
    pub op: ReduceOp,
    pub axes: &'a [AxisSpec],
    pub ddof: f64,
    pub anomaly: bool,
    pub max_array_size: usize,
}

/// The engine's plan for the reduction built.
struct DryRunOf<'a>(&'a Runtime);

impl ReducedSink for DryRunOf<'_> {
    type Out = Result<DryRun>;
    fn take<U: Element>(self, r: chunkwise::Result<ChunkedArray<U>>) -> Result<DryRun> {
        Ok(chunkwise::engine::dry_run(self.0, &[&r?])?)
    }
}

/// Prints the stages of the reduction `a` of `input` on the runtime's engine.
pub(crate) fn plan(ctx: &Ctx, a: &PlanArgs<'_>, input: &str) -> Result<()> {
    if ctx.rt.engine().is_local() {
        return Err(UsageError(
            "plan shows the stages of an engine that runs batches: pass --engine slurm, \
             hyperqueue or processes (the local engine has no stages)"
                .into(),
        )
        .into());
    }
    let loc = paths::parse_input(input)?;
    let meta = paths::probe(&loc)?;
    let axes = crate::select::resolve_axes(&loc, &meta, a.axes, false)?;
    let mut x = open_f64(&loc, &meta)?;
    if a.anomaly {
        let m = x.mean_axes(&axes, ReduceOpts::from(true))?;
        x = (&x - &m)?;
    }
    let mut plan = a.op.build(&x, &axes, false, a.ddof, DryRunOf(&ctx.rt))?;
    plan.max_array_size = a.max_array_size;
    println!(
        "{} over axes {axes:?} of {}{}",
        a.op.name(),
        loc.display(),
        if a.anomaly { " - its mean" } else { "" }
    );
    println!("{plan}");
    Ok(())
}
