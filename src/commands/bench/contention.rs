//! How much the cores are shared with other work right now: a fixed compute loop timed on one
//! thread alone, then on every thread at once. On a virtual machine the "cores" may be hardware
//! threads of one physical core or be busy with a neighbour's work, for stretches of seconds to
//! minutes; thread speed-ups measured then are low whatever the engine does, and this check says
//! so next to them.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// How long each half of the check runs.
const SPAN: Duration = Duration::from_millis(150);

/// Floats each thread works on (16 KB: in the first-level cache, so the loop measures the core,
/// not memory).
const LEN: usize = 4096;

/// Passes per second of the check's loop on the calling thread for `span`.
fn passes_per_second(span: Duration) -> f64 {
    let mut a = vec![1.0f32; LEN];
    let b = vec![2.0f32; LEN];
    let start = Instant::now();
    let mut passes = 0u64;
    while passes == 0 || start.elapsed() < span {
        for _ in 0..16 {
            for (x, &y) in a.iter_mut().zip(&b) {
                *x = *x * 0.999 + y * 0.001;
            }
            black_box(&mut a);
        }
        passes += 16;
    }
    passes as f64 / start.elapsed().as_secs_f64()
}

/// The lowest share of its speed alone that any of `threads` threads keeps while all of them run
/// the loop at once (1.0 for one thread: nothing to share).
pub fn lowest_shared_speed(threads: usize) -> f64 {
    if threads < 2 {
        return 1.0;
    }
    let alone = passes_per_second(SPAN);
    let barrier = Barrier::new(threads);
    let together: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    passes_per_second(SPAN)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).collect()
    });
    together.iter().fold(f64::INFINITY, |m, &r| m.min(r / alone))
}
