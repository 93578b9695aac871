//! Scoped worker threads for work shared out by index (evaluation batches, emulated examples): a
//! worker that panics becomes an error, not a crash.

use crate::error::{EpError, Result};

/// Runs `work(worker)` for workers `0..threads`, on the calling thread when there is one worker and
/// on scoped threads otherwise; returns the results in worker order. `what` names the work in the
/// error of a worker that panicked.
pub(crate) fn run_workers<T: Send>(
    threads: usize,
    what: &str,
    work: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    if threads <= 1 {
        return Ok(vec![work(0)?]);
    }
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|w| s.spawn(move || work(w))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(EpError::Worker(format!("{what} worker panicked")))))
            .collect()
    })
}
