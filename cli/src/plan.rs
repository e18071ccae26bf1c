//! `chunkwise plan --dry-run`: how an engine would run a reduction, from metadata only.

use crate::args::{AxisSpec, ReduceOp};
use crate::commands::open_f64;
use crate::paths;
use crate::{Ctx, UsageError};
use anyhow::Result;
use chunkwise::ReduceOpts;

/// What `chunkwise plan` plans.
pub(crate) struct PlanArgs<'a> {
    pub op: ReduceOp,
    pub axes: &'a [AxisSpec],
    pub ddof: f64,
    pub anomaly: bool,
    pub max_array_size: usize,
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
    let vo = ReduceOpts::from(false).ddof(a.ddof);
    let r = match a.op {
        ReduceOp::Sum => x.sum_axes(&axes, false),
        ReduceOp::Nansum => x.nansum_axes(&axes, false),
        ReduceOp::Mean => x.mean_axes(&axes, false),
        ReduceOp::Nanmean => x.nanmean_axes(&axes, false),
        ReduceOp::Min => x.min_axes(&axes, false),
        ReduceOp::Nanmin => x.nanmin_axes(&axes, false),
        ReduceOp::Max => x.max_axes(&axes, false),
        ReduceOp::Nanmax => x.nanmax_axes(&axes, false),
        ReduceOp::Var => x.var_axes(&axes, vo),
        ReduceOp::Nanvar => x.nanvar_axes(&axes, vo),
        ReduceOp::Std => x.std_axes(&axes, vo),
        ReduceOp::Nanstd => x.nanstd_axes(&axes, vo),
    }?;
    let mut plan = chunkwise::engine::dry_run(&ctx.rt, &[&r])?;
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
