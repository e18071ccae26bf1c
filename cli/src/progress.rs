//! Progress on stderr: an `indicatif` bar when stderr is a terminal (unless `--no-progress`),
//! plain percentage lines when `--progress` is given and stderr is not a terminal, nothing
//! otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How progress is shown.
pub(crate) enum Progress {
    Off,
    Bar(ProgressBar),
    /// Lines at every 10%: the last decile printed (`usize::MAX`: none yet).
    Lines(Arc<AtomicUsize>),
}

/// Runs shorter than this show no bar.
const SHOW_AFTER: Duration = Duration::from_millis(500);

type Callback = Box<dyn Fn(usize, usize) + Send + Sync>;

impl Progress {
    pub(crate) fn new(force: bool, never: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        if never || !(force || tty) {
            return Progress::Off;
        }
        if !tty {
            return Progress::Lines(Arc::new(AtomicUsize::new(usize::MAX)));
        }
        // Hidden until a run has gone on for a while: short runs stay quiet.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} tasks ({eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress::Bar(bar)
    }

    /// The runtime's callback, `(finished, total)` per task.
    pub(crate) fn callback(&self) -> Option<Callback> {
        match self {
            Progress::Off => None,
            Progress::Bar(bar) => {
                let bar = bar.clone();
                let shown = Arc::new(std::sync::atomic::AtomicBool::new(false));
                Some(Box::new(move |done, total| {
                    if !shown.load(Ordering::Relaxed)
                        && bar.elapsed() >= SHOW_AFTER
                        && !shown.swap(true, Ordering::Relaxed)
                    {
                        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
                        bar.enable_steady_tick(Duration::from_millis(200));
                    }
                    if bar.length() != Some(total as u64) {
                        bar.set_length(total as u64);
                    }
                    bar.set_position(done as u64);
                }))
            }
            Progress::Lines(last) => {
                let last = last.clone();
                Some(Box::new(move |done, total| {
                    let decile = done * 10 / total.max(1);
                    let prev = last.load(Ordering::Relaxed);
                    if (prev == usize::MAX || decile > prev || (done <= 1 && prev == 10))
                        && last
                            .compare_exchange(prev, decile, Ordering::Relaxed, Ordering::Relaxed)
                            .is_ok()
                    {
                        eprintln!("progress: {done}/{total} tasks ({}%)", decile * 10);
                    }
                }))
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
