//! What a long call shows and listens to while it runs without the GIL: a progress bar on Python's
//! `sys.stderr` (so it appears in a notebook's output as well as a terminal), per-epoch lines as
//! `epchip train` prints them, and Ctrl-C, checked a few times a second.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// How often a running computation takes the GIL to check for Ctrl-C and redraw the bar.
const POLL: Duration = Duration::from_millis(100);

/// Width of the bar, in characters.
const BAR: usize = 30;

/// The progress display and signal check of one long call.
pub struct Progress {
    quiet: bool,
    /// Draw the bar (a terminal or a notebook); otherwise only whole lines are written.
    bar: bool,
    last: Instant,
    started: Instant,
    drawn: usize,
    /// The exception raised by a signal handler (normally `KeyboardInterrupt`).
    pub interrupted: Option<PyErr>,
}

impl Progress {
    /// A display that writes nothing when `quiet`.
    pub fn new(py: Python<'_>, quiet: bool) -> Self {
        let bar = !quiet && interactive(py);
        Self { quiet, bar, last: Instant::now(), started: Instant::now(), drawn: 0, interrupted: None }
    }

    /// Restarts the clock of the rate shown in the bar.
    pub fn restart(&mut self) {
        self.started = Instant::now();
    }

    /// Called often from a computation running without the GIL: at most every [`POLL`], takes the
    /// GIL, runs Python's signal handlers and redraws `label [bar] done/total unit rate`. Returns
    /// `false` once a handler raised (the computation should stop; the exception is kept in
    /// `interrupted`).
    pub fn poll(&mut self, label: &str, done: usize, total: usize, unit: &str) -> bool {
        if self.interrupted.is_some() {
            return false;
        }
        if self.last.elapsed() < POLL {
            return true;
        }
        self.last = Instant::now();
        Python::attach(|py| {
            if let Err(e) = py.check_signals() {
                self.interrupted = Some(e);
                return;
            }
            if self.bar {
                let filled = (BAR * done).checked_div(total).unwrap_or(0).min(BAR);
                let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                let head = if filled < BAR { ">" } else { "" };
                let text = format!(
                    "\r{label} [{}{head}{}] {done}/{total} {rate:.0} {unit}/s",
                    "=".repeat(filled),
                    " ".repeat(BAR - filled - head.len()),
                );
                self.drawn = text.len();
                write(py, &text);
            }
        });
        self.interrupted.is_none()
    }

    /// Runs Python's signal handlers now (between epochs); the exception of a handler that raised.
    pub fn check(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(e) = self.interrupted.take() {
            return Err(e);
        }
        py.check_signals()
    }

    /// Clears the bar.
    pub fn clear(&mut self, py: Python<'_>) {
        if self.drawn > 0 {
            write(py, &format!("\r{}\r", " ".repeat(self.drawn)));
            self.drawn = 0;
        }
    }

    /// Writes one line (after clearing the bar), unless quiet.
    pub fn line(&mut self, py: Python<'_>, text: &str) {
        if !self.quiet {
            self.clear(py);
            write(py, &format!("{text}\n"));
        }
    }
}

/// True when `sys.stderr` is a terminal or the code runs in a Jupyter kernel.
fn interactive(py: Python<'_>) -> bool {
    let tty = || -> PyResult<bool> { py.import("sys")?.getattr("stderr")?.call_method0("isatty")?.extract() };
    let jupyter = || -> PyResult<bool> { py.import("sys")?.getattr("modules")?.contains("ipykernel") };
    tty().unwrap_or(false) || jupyter().unwrap_or(false)
}

/// Writes to `sys.stderr` and flushes; a closed or missing stream is ignored.
fn write(py: Python<'_>, text: &str) {
    let result = (|| -> PyResult<()> {
        let stderr = py.import("sys")?.getattr("stderr")?;
        if stderr.is_none() {
            return Ok(());
        }
        stderr.call_method1("write", (text,))?;
        stderr.call_method0("flush")?;
        Ok(())
    })();
    drop(result);
}
