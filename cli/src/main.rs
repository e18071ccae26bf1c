//! `chunkwise`: the command-line tool. See `chunkwise --help` and the README's "Command line" section.
//!
//! Exit codes: 0 success, 1 runtime error, 2 usage error (clap's own, and ours such as an
//! axis out of range or a chunk shape of the wrong length). Errors print as one line plus
//! their causes; panics print one line too, never a backtrace.

mod args;
mod bench;
mod commands;
mod dataset_info;
mod grouped;
mod paths;
mod plan;
mod plot;
mod progress;
mod report_html;
mod select;

use args::{Cli, Command};
use clap::Parser;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

/// A usage error found after parsing (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What every command gets: the runtime and where to put the plan.
pub struct Ctx {
    pub rt: chunkwise::Runtime,
    /// `--dot FILE`.
    pub dot: Option<PathBuf>,
    /// The command line, for reports.
    pub command_line: String,
    /// The arrays the command wrote, in order (the report shows the 2-D ones).
    pub(crate) written: std::sync::Mutex<Vec<paths::Location>>,
}

impl Ctx {
    /// Notes that the command wrote the array at `loc`.
    pub(crate) fn note_written(&self, loc: &paths::Location) {
        if let Ok(mut w) = self.written.lock() {
            w.push(loc.clone());
        }
    }

    /// Writes `dot` to the `--dot` file, if one was asked for.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_dot(&self, dot: impl FnOnce() -> String) -> anyhow::Result<()> {
        use anyhow::Context;
        if let Some(path) = &self.dot {
            std::fs::write(path, dot())
                .with_context(|| format!("cannot write the DOT file {}", path.display()))?;
        }
        Ok(())
    }
}

/// The engine options (`--engine`, `--work-dir`, `--log-dir`, `--workers`, `--tries`,
/// `--batch-size`).
fn with_engine(
    mut builder: chunkwise::RuntimeBuilder,
    g: &args::GlobalOpts,
) -> anyhow::Result<chunkwise::RuntimeBuilder> {
    let workers = g.workers.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let engine = chunkwise::engine::Engine::from_name(&g.engine, workers)
        .map_err(|e| anyhow::Error::new(UsageError(e.to_string())))?;
    builder = builder.engine(engine).tries(usize::from(g.tries));
    if let Some(dir) = &g.work_dir {
        builder = builder.work_dir(dir);
    }
    if let Some(dir) = &g.log_dir {
        builder = builder.log_dir(dir);
    }
    if let Some(b) = g.batch_size {
        builder = builder.batch_bytes(b);
    }
    Ok(builder)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    use anyhow::Context;
    let g = &cli.global;
    let bar = progress::Progress::new(g.progress, g.no_progress);
    let mut builder = chunkwise::Runtime::builder()
        .memory_limit(g.memory_limit)
        .record_events(g.report.is_some());
    if let Some(t) = g.threads {
        builder = builder.threads(usize::from(t));
    }
    if let Some(dir) = &g.scratch_dir {
        builder = builder.scratch_dir(dir);
    }
    builder = with_engine(builder, g)?;
    if matches!(cli.command, Command::Plan { .. }) && g.work_dir.is_none() {
        // A dry run writes nothing: the plan's arrays are only named after a work directory.
        builder = builder.work_dir("WORK_DIR");
    }
    if let Some(cb) = bar.callback() {
        builder = builder.on_progress(cb);
    }
    if let Some(addr) = &g.dashboard {
        builder = with_dashboard(builder, addr)?;
    }
    let rt = builder.build().context("cannot start the runtime")?;
    #[cfg(feature = "dashboard")]
    if let Some(url) = rt.dashboard_url() {
        eprintln!("dashboard: {url}");
    }
    // Inputs stored without chunks are split into blocks sized from the limit.
    paths::set_memory_limit(rt.memory_limit());
    let ctx = Ctx {
        rt,
        dot: g.dot.clone(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        written: std::sync::Mutex::new(Vec::new()),
    };
    let result = match &cli.command {
        // A whole Zarr group or NetCDF4 file: its variables, dims and coords (issue 9).
        Command::Info { path, json } => dataset_info::group_info(path, *json)
            .unwrap_or_else(|| commands::info(&ctx, path, *json)),
        Command::Stats { path, json, select } => commands::stats(&ctx, path, *json, select),
        Command::Reduce {
            op,
            axis,
            ddof,
            keepdims: _, // clap refuses it with a grouping
            group,
            select,
            input,
            output,
            zarr,
        } if group.is_some() => grouped::reduce(
            &ctx,
            &grouped::GroupedArgs {
                op: *op,
                axes: axis,
                ddof: *ddof,
                group,
                select,
            },
            input,
            output,
            zarr,
        ),
        Command::Reduce {
            op,
            axis,
            ddof,
            keepdims,
            group: _,
            select,
            input,
            output,
            zarr,
        } => commands::reduce(
            &ctx,
            &commands::ReduceArgs {
                op: *op,
                axes: axis,
                select,
                ddof: *ddof,
                keepdims: *keepdims,
            },
            input,
            output,
            zarr,
        ),
        Command::Resample {
            op,
            axis,
            size,
            edges,
            ddof,
            select,
            input,
            output,
            zarr,
        } => grouped::resample(
            &ctx,
            &grouped::ResampleArgs {
                op: *op,
                axis,
                size: *size,
                edges: edges.as_deref(),
                ddof: *ddof,
                select,
            },
            input,
            output,
            zarr,
        ),
        Command::Rolling {
            op,
            axis,
            window,
            center,
            min_periods,
            select,
            input,
            output,
            zarr,
        } => grouped::rolling(
            &ctx,
            &grouped::RollingArgs {
                op: *op,
                axis,
                select,
                window: *window,
                center: *center,
                min_periods: *min_periods,
            },
            input,
            output,
            zarr,
        ),
        Command::Rechunk {
            chunks,
            input,
            output,
            zarr,
        } => commands::rechunk(&ctx, chunks, input, output, zarr),
        Command::Convert {
            input,
            output,
            chunks,
            zarr,
        } => commands::convert(&ctx, input, output, chunks.as_deref(), zarr),
        Command::Plot {
            path,
            var,
            select,
            out,
            size,
        } => plot::plot(
            &ctx,
            &plot::PlotArgs {
                path,
                var: var.as_deref(),
                select,
                out,
                size: *size,
            },
        ),
        Command::Plan {
            op,
            axis,
            ddof,
            anomaly,
            dry_run: _,
            max_array_size,
            input,
        } => plan::plan(
            &ctx,
            &plan::PlanArgs {
                op: *op,
                axes: axis,
                ddof: *ddof,
                anomaly: *anomaly,
                max_array_size: *max_array_size as usize,
            },
            input,
        ),
        Command::Bench { json, quick } => bench::bench(&ctx, *json, *quick),
    };
    bar.finish();
    result?;
    if let Some(path) = &g.report {
        // The report is the command's run; the pictures' runs come after it.
        let report = ctx.rt.last_report();
        let pictures = report_pictures(&ctx);
        let html = report_html::render(&report, &ctx.command_line, &pictures);
        std::fs::write(path, html)
            .with_context(|| format!("cannot write the report {}", path.display()))?;
    }
    if g.dashboard.is_some() && !g.dashboard_exit {
        eprintln!("the run is done; the dashboard stays up until Ctrl-C");
        loop {
            std::thread::park();
        }
    }
    Ok(())
}

/// A small picture of each 2-D array the command wrote, for the report (a failure to draw
/// one is shown in its place, not an error of the command).
fn report_pictures(ctx: &Ctx) -> Vec<report_html::Picture> {
    let written = ctx.written.lock().map(|w| w.clone()).unwrap_or_default();
    written
        .iter()
        .filter_map(|loc| {
            let png = match plot::thumbnail(ctx, loc) {
                Ok(None) => return None,
                Ok(Some(png)) => Ok(png),
                Err(e) => Err(format!("{e:#}")),
            };
            Some(report_html::Picture {
                what: loc.display(),
                png,
            })
        })
        .collect()
}

/// Asks the runtime for a dashboard at `addr`.
#[cfg(feature = "dashboard")]
fn with_dashboard(
    b: chunkwise::RuntimeBuilder,
    addr: &str,
) -> anyhow::Result<chunkwise::RuntimeBuilder> {
    Ok(b.dashboard(addr))
}

/// Without the `dashboard` feature, `--dashboard` is a usage error.
#[cfg(not(feature = "dashboard"))]
fn with_dashboard(
    _: chunkwise::RuntimeBuilder,
    _: &str,
) -> anyhow::Result<chunkwise::RuntimeBuilder> {
    Err(UsageError(
        "--dashboard needs a build with the `dashboard` feature \
         (cargo build --release --features dashboard)"
            .into(),
    )
    .into())
}

/// Prints `error: ...` and the cause chain, one per line.
fn print_error(e: &anyhow::Error) {
    eprintln!("error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

fn main() -> ExitCode {
    // A Zarr→Zarr rechunk of 760 MB took ~900,000 page faults and 3 s of system time
    // without it.
    chunkwise::keep_freed_blocks();
    // A panic prints one line (no backtrace) and exits 1.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal failure{at}: {msg}");
    }));
    let cli = Cli::parse();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            print_error(&e);
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
        Err(_) => ExitCode::from(1),
    }
}
