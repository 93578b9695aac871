//! Deterministic parallel work on a persistent rayon pool that the calling thread belongs to:
//! matrix products cut into column blocks, and any work cut into a fixed number of parts
//! ([`for_each_part`]).
//!
//! Work is always cut by the number of threads asked for, never by what the pool happens to have
//! free, and each part is computed by the same single-threaded code with the same summation order
//! whatever the number of parts, so results are bit-identical for any thread count.

use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul, s};

/// Products smaller than this many multiply-adds run on the calling thread.
pub const PARALLEL_MIN_MACS: usize = 1 << 17;

/// Products [`column_gemm`] has shared among several threads in this process.
static SPLIT_PRODUCTS: AtomicU64 = AtomicU64::new(0);

/// Runs whose batch was cut into row shards in this process.
static SHARDED_RUNS: AtomicU64 = AtomicU64::new(0);

/// How many runs of steps have shared their batch's examples among threads since the process
/// started (a diagnostic, like [`split_products`]).
pub fn sharded_runs() -> u64 {
    SHARDED_RUNS.load(Ordering::Relaxed)
}

/// Counts one run whose batch was cut into row shards.
pub(crate) fn count_sharded_run() {
    SHARDED_RUNS.fetch_add(1, Ordering::Relaxed);
}

/// Sharded runs that carried on with the shards of the run before them.
static KEPT_SHARD_RUNS: AtomicU64 = AtomicU64::new(0);

/// How many sharded runs since the process started carried on with the row shards of the run
/// before them, nothing having changed the populations in between (a diagnostic, like
/// [`sharded_runs`]).
pub fn kept_shard_runs() -> u64 {
    KEPT_SHARD_RUNS.load(Ordering::Relaxed)
}

/// Counts one sharded run that kept the shards of the run before it.
pub(crate) fn count_kept_shard_run() {
    KEPT_SHARD_RUNS.fetch_add(1, Ordering::Relaxed);
}

/// How many products [`column_gemm`] has shared among several threads since the process started
/// (a diagnostic: tests of thread-count independence check with it that the parallel path ran).
pub fn split_products() -> u64 {
    SPLIT_PRODUCTS.load(Ordering::Relaxed)
}

/// Columns (or rows) are shared among threads in whole multiples of this width, so that every part
/// starts and (but for the last) ends on the full product's kernel-tile grid: parts of other widths
/// gave the float learning engine's scaled updates (`alpha` not a power of two) slightly different
/// roundings than one thread did (found by `tests/threads.rs`, 400 columns in 3 parts), because
/// matrixmultiply computes edge tiles otherwise. 16 is a multiple of its tiles (8 × 8 with AVX2,
/// 16 × 16 with AVX-512) and 16 floats fill a 64-byte cache line, so two threads never write to one
/// line of a row. (Until 2026-12 the grid was 64 columns: the first of two threads then took 1,024
/// of 2,000 columns, and the other thread waited for it at every large product.)
pub const COLUMN_BLOCK: usize = 16;

/// `out = alpha · a · b + beta · out`, with the rows or columns of `out` shared among `threads`
/// threads in blocks of [`COLUMN_BLOCK`] (see [`column_parts`]).
pub fn column_gemm(
    threads: usize,
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    out: ArrayViewMut2<f32>,
) {
    column_parts(threads, a, b, out, |a, b, part| general_mat_mul(alpha, &a, &b, beta, part));
}

/// `out = 0 + alpha · a · b` (the numbers of [`column_gemm`] with `beta = 1` on zeros), each
/// thread zeroing its own part first: a separate fill of a large update array on the calling
/// thread was a serial pass of its own.
pub fn column_gemm_zeroed(
    threads: usize,
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    out: ArrayViewMut2<f32>,
) {
    column_parts(threads, a, b, out, |a, b, part| {
        // Row by row: a block of columns is not contiguous, and ndarray fills such a view one
        // element at a time.
        for mut row in part.rows_mut() {
            match row.as_slice_mut() {
                Some(r) => r.fill(0.0),
                None => row.fill(0.0),
            }
        }
        general_mat_mul(alpha, &a, &b, 1.0, part);
    });
}

/// Calls `product(a_part, b_part, out_part)` for the parts of `out` one thread each computes, or
/// once for the whole product when it is small or `threads` is 1. Outputs of at least
/// [`ROW_SPLIT_MIN_ROWS`] rows are cut into blocks of rows (and `a` with them), others into blocks
/// of columns (and `b`), both at multiples of [`COLUMN_BLOCK`]: an element's sum is then computed
/// by the same kernel steps as in the whole product. Rows, because two threads writing the two
/// sides of a column boundary share a cache line in every row of a row-major array (784 lines
/// for a 784 × 500 update), which made an online update three times slower on two threads.
fn column_parts(
    threads: usize,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    out: ArrayViewMut2<f32>,
    product: impl Fn(ArrayView2<f32>, ArrayView2<f32>, &mut ArrayViewMut2<f32>) + Sync,
) {
    let macs = a.nrows() * a.ncols() * out.ncols();
    if out.nrows() >= ROW_SPLIT_MIN_ROWS {
        let ranges = column_ranges(threads, out.nrows(), macs);
        for_each_block(Axis(0), &ranges, out, |rows, mut part| {
            product(a.slice(s![rows, ..]), b, &mut part);
        });
    } else {
        let ranges = column_ranges(threads, out.ncols(), macs);
        for_each_block(Axis(1), &ranges, out, |columns, mut part| {
            product(a, b.slice(s![.., columns]), &mut part);
        });
    }
}

/// Outputs with at least this many rows are shared among threads by rows (see [`column_parts`]).
pub const ROW_SPLIT_MIN_ROWS: usize = 128;

/// Whether a product of `macs` multiply-adds into `n` columns is large and wide enough to share
/// among `threads` threads with [`column_gemm`]; callers keep their faster single-thread kernels
/// for the others (narrow outputs, which `column_gemm` would run as one part of the general
/// product).
pub fn splits_columns(threads: usize, macs: usize, n: usize) -> bool {
    threads > 1 && macs >= PARALLEL_MIN_MACS && n >= 2 * COLUMN_BLOCK
}

/// The ranges of a product's `n` output columns (or rows) for `threads` threads, for a product of
/// `macs` multiply-adds: one range if the product is small, else boundaries at the multiples of
/// [`COLUMN_BLOCK`] nearest to an even split. Exact products (whose sums are the same numbers
/// however they are cut) take the same cut, so a pass over their output finds each block in the
/// cache of the thread that wrote it.
pub fn column_ranges(threads: usize, n: usize, macs: usize) -> Vec<std::ops::Range<usize>> {
    if macs < PARALLEL_MIN_MACS {
        return std::iter::once(0..n).collect();
    }
    let ranges = block_ranges(threads, n);
    if ranges.len() > 1 {
        SPLIT_PRODUCTS.fetch_add(1, Ordering::Relaxed);
    }
    ranges
}

/// `n` columns (or rows) cut for `threads` threads at the multiples of [`COLUMN_BLOCK`] nearest to
/// an even split (one range if `n` is narrower than two blocks): the cut of [`column_ranges`] for a
/// large product, for a pass over a product's output that reads what each thread wrote.
pub fn block_ranges(threads: usize, n: usize) -> Vec<std::ops::Range<usize>> {
    let threads = threads.min(n / COLUMN_BLOCK).max(1);
    let mut start = 0;
    (0..threads)
        .map(|t| {
            let end = if t + 1 == threads {
                n
            } else {
                let even = (t + 1) * n / threads;
                ((even + COLUMN_BLOCK / 2) / COLUMN_BLOCK * COLUMN_BLOCK).max(start + COLUMN_BLOCK).min(n)
            };
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// Calls `work(columns, block)` for the blocks of `out`'s columns given by `ranges` (contiguous,
/// from column 0), one per thread.
pub fn for_each_column_block<A: Send>(
    ranges: &[std::ops::Range<usize>],
    out: ArrayViewMut2<A>,
    work: impl Fn(std::ops::Range<usize>, ArrayViewMut2<A>) + Sync,
) {
    for_each_block(Axis(1), ranges, out, work);
}

/// Calls `work(range, block)` for the blocks of `out` along `axis` given by `ranges` (contiguous,
/// from 0), one per thread.
fn for_each_block<A: Send>(
    axis: Axis,
    ranges: &[std::ops::Range<usize>],
    out: ArrayViewMut2<A>,
    work: impl Fn(std::ops::Range<usize>, ArrayViewMut2<A>) + Sync,
) {
    let mut blocks = Vec::with_capacity(ranges.len());
    let mut rest = out;
    for range in ranges {
        let (head, tail) = rest.split_at(axis, range.len());
        blocks.push((range.clone(), head));
        rest = tail;
    }
    for_each_part(&mut blocks, |_, (range, block)| work(range.clone(), block.view_mut()));
}

/// Runs `work(index, part)` for every part in parallel: the calling thread takes the first part and
/// the other workers of its pool the others (one task each); returns when all are done. The calling
/// thread is a worker of a pool of its own ([`join_own_pool`]), so that a part no other worker has
/// started by the time the caller is done with its own is run by the caller: a worker whose core is
/// busy elsewhere does not hold the caller up (on a shared machine it often is).
pub fn for_each_part<T: Send>(parts: &mut [T], work: impl Fn(usize, &mut T) + Sync) {
    let Some((first, rest)) = parts.split_first_mut() else { return };
    if rest.is_empty() {
        return work(0, first);
    }
    join_own_pool();
    let work = &work;
    let pending = std::sync::atomic::AtomicUsize::new(rest.len());
    let pending = &pending;
    rayon::in_place_scope(|scope| {
        for (i, part) in rest.iter_mut().enumerate() {
            scope.spawn(move |_| {
                work(i + 1, part);
                pending.fetch_sub(1, Ordering::Release);
            });
        }
        work(0, first);
        // Wait busy for the other parts, running those still queued here: the scope's own wait
        // puts the thread to sleep, and waking it takes 100–200 µs on a virtual machine.
        let start = std::time::Instant::now();
        while pending.load(Ordering::Acquire) > 0 {
            match rayon::yield_local() {
                Some(rayon::Yield::Executed) => {}
                Some(rayon::Yield::Idle) => std::hint::spin_loop(),
                // Not a pool worker (its pool could not be built): rayon's wait after a while.
                None if start.elapsed() < WARM_FOR => std::hint::spin_loop(),
                None => break,
            }
        }
    });
    keep_warm(rest.len());
}

thread_local! {
    /// Whether this thread joined a pool of its own ([`join_own_pool`]) and drives its parts.
    static DRIVER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// This thread's own pool, built at its first parallel part (none on rayon's workers).
    static OWN_POOL: std::cell::OnceCell<Option<rayon::ThreadPool>> = const { std::cell::OnceCell::new() };
}

/// Makes the calling thread worker 0 of a pool of its own, with one more worker per further core,
/// unless it is a pool's worker already (a part that splits again). Built once per thread: rayon
/// keeps a pool that contains the thread that built it for the rest of the process, so a program
/// that trains from many short-lived threads keeps one idle pool per thread.
fn join_own_pool() {
    if rayon::current_thread_index().is_some() {
        return;
    }
    OWN_POOL.with(|pool| {
        pool.get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
            let built = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("epchip-worker-{i}"))
                .use_current_thread()
                .build()
                .ok();
            DRIVER.with(|d| d.set(built.is_some()));
            built
        });
    });
}

/// How long a warm worker waits for the next task before it lets its thread sleep.
const WARM_FOR: std::time::Duration = std::time::Duration::from_millis(3);

/// Workers kept warm now.
static WARM_WORKERS: AtomicU64 = AtomicU64::new(0);

/// Keeps `workers` of the pool busy-waiting for the next task for [`WARM_FOR`] after their last
/// one. A training step's parallel parts come every few hundred microseconds with serial work in
/// between; a sleeping worker thread takes 100–200 µs to wake on a virtual machine (measured here),
/// which ate most of the speed-up, while a warm one starts the next task at once. The thread that
/// drives the parts never waits this way (it would run the waiting task itself when it looks for
/// its queued parts).
fn keep_warm(workers: usize) {
    while WARM_WORKERS.load(Ordering::Acquire) < workers as u64 {
        WARM_WORKERS.fetch_add(1, Ordering::AcqRel);
        rayon::spawn(|| {
            if DRIVER.with(std::cell::Cell::get) {
                WARM_WORKERS.fetch_sub(1, Ordering::AcqRel);
                return;
            }
            let mut last = std::time::Instant::now();
            while last.elapsed() < WARM_FOR {
                match rayon::yield_now() {
                    Some(rayon::Yield::Executed) => last = std::time::Instant::now(),
                    Some(rayon::Yield::Idle) => std::hint::spin_loop(),
                    None => break,
                }
            }
            WARM_WORKERS.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// Arrays with fewer elements than this are updated on the calling thread (for cheap passes of a
/// few operations per element).
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// The same for passes that spend several nanoseconds per element (stochastic rounding with a
/// hash per synapse): these pay from a few thousand elements.
pub const PARALLEL_MIN_COSTLY_ELEMENTS: usize = 1 << 14;

/// Calls `work(rows, block)` for contiguous blocks of `array`'s rows (`rows`: the block's rows in
/// the whole array), one block per thread; arrays of fewer than `min_elements` elements are one
/// block. The caller's results must not depend on the blocks (each row on its own).
pub fn for_each_row_block<A: Send>(
    threads: usize,
    min_elements: usize,
    array: ArrayViewMut2<A>,
    work: impl Fn(std::ops::Range<usize>, ArrayViewMut2<A>) + Sync,
) {
    let parts = if array.len() < min_elements { 1 } else { threads };
    let ranges = row_ranges(array.nrows(), parts);
    for_each_block(Axis(0), &ranges, array, work);
}

/// Calls `work(rows, block, scratch)` for blocks of `block_rows` rows of `array` (the last one
/// shorter), shared among `threads` threads that each take the next block not yet taken until none
/// is left, each with its own `scratch()`: for row work whose cost depends on the data (rows with
/// nothing to do are skipped), where an even cut left one thread waiting for the other. Arrays of
/// fewer than `min_elements` elements run on the calling thread. The caller's results must not
/// depend on the blocks or on which thread takes them (each row on its own).
pub fn for_each_row_block_taken<A: Send, S>(
    threads: usize,
    min_elements: usize,
    block_rows: usize,
    array: ArrayViewMut2<A>,
    scratch: impl Fn() -> S + Sync,
    work: impl Fn(std::ops::Range<usize>, ArrayViewMut2<A>, &mut S) + Sync,
) {
    let rows = array.nrows();
    let block_rows = block_rows.max(1);
    if threads <= 1 || array.len() < min_elements || rows <= block_rows {
        let mut s = scratch();
        return work(0..rows, array, &mut s);
    }
    let mut blocks = Vec::with_capacity(rows.div_ceil(block_rows));
    let mut rest = array;
    let mut start = 0;
    while start < rows {
        let len = block_rows.min(rows - start);
        let (head, tail) = rest.split_at(Axis(0), len);
        blocks.push(std::sync::Mutex::new(Some((start..start + len, head))));
        rest = tail;
        start += len;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut parts = vec![(); threads.min(blocks.len())];
    for_each_part(&mut parts, |_, _| {
        let mut s = scratch();
        while let Some(slot) = blocks.get(next.fetch_add(1, Ordering::Relaxed)) {
            let taken = slot.lock().ok().and_then(|mut b| b.take());
            if let Some((range, block)) = taken {
                work(range, block, &mut s);
            }
        }
    });
}

/// `rows` rows cut into `parts` contiguous ranges of nearly equal length (the first ones one longer).
pub fn row_ranges(rows: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.clamp(1, rows.max(1));
    let mut start = 0;
    (0..parts)
        .map(|p| {
            let len = (rows - start) / (parts - p);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// With every other worker of its pool busy elsewhere, the calling thread runs all the parts
    /// itself and returns (waiting for a worker, as rayon's scope does, would not return until the
    /// workers are free).
    #[test]
    fn the_caller_runs_parts_no_worker_takes() {
        std::thread::spawn(|| {
            let caller = std::thread::current().id();
            // Build this thread's pool, then keep each of its other workers blocked.
            for_each_part(&mut [0, 0], |_, x| *x += 1);
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2) - 1;
            let (started_tx, started) = std::sync::mpsc::channel();
            let mut releases = Vec::new();
            for _ in 0..workers {
                let (release, wait) = std::sync::mpsc::channel::<()>();
                let started_tx = started_tx.clone();
                releases.push(release);
                rayon::spawn(move || {
                    let _ = started_tx.send(());
                    let _ = wait.recv();
                });
                // Until a worker has taken the blocking task, this thread could take it itself.
                started.recv_timeout(std::time::Duration::from_secs(30)).expect("a worker took the task");
            }
            let mut ran_on = vec![None; 4];
            for_each_part(&mut ran_on, |_, t| *t = Some(std::thread::current().id()));
            drop(releases);
            assert!(ran_on.iter().all(|&t| t == Some(caller)), "{ran_on:?}");
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn threads_give_bit_identical_results() {
        let a = Array2::from_shape_fn((50, 300), |(i, j)| ((i * 7 + j * 13) % 17) as f32 * 0.013 - 0.1);
        let b = Array2::from_shape_fn((300, 203), |(i, j)| ((i * 3 + j * 5) % 11) as f32 * 0.07 - 0.3);
        let mut one = Array2::<f32>::ones((50, 203));
        let mut three = one.clone();
        column_gemm(1, 0.5, a.view(), b.view(), 1.0, one.view_mut());
        column_gemm(3, 0.5, a.view(), b.view(), 1.0, three.view_mut());
        assert_eq!(one, three);
        let expected = 1.0 + 0.5 * (0..300).map(|k| a[[4, k]] * b[[k, 9]]).sum::<f32>();
        assert!((one[[4, 9]] - expected).abs() < 1e-4);
    }

    /// Whatever the output held and however many threads, the zeroing product gives the numbers of
    /// a product added onto zeros (the learning engine's sums depend on it).
    #[test]
    fn zeroed_product_equals_a_product_added_onto_zeros() {
        let a = Array2::from_shape_fn((300, 50), |(i, j)| ((i * 7 + j * 13) % 17) as f32 * 0.013 - 0.1);
        let b = Array2::from_shape_fn((50, 333), |(i, j)| ((i * 3 + j * 5) % 11) as f32 * 0.07 - 0.3);
        let mut expected = Array2::<f32>::zeros((300, 333));
        column_gemm(1, 0.37, a.view(), b.view(), 1.0, expected.view_mut());
        for threads in [1, 2, 3] {
            let mut out = Array2::<f32>::from_elem((300, 333), f32::NAN);
            column_gemm_zeroed(threads, 0.37, a.view(), b.view(), out.view_mut());
            assert_eq!(out, expected, "{threads} threads");
        }
    }

    /// Outputs of many rows are cut into row blocks; a scaled product added onto other numbers
    /// (the float learning engine's update) is bit-identical for any thread count, also with a
    /// row count that is not a multiple of the blocks.
    #[test]
    fn row_split_products_are_bit_identical() {
        let a = Array2::from_shape_fn((787, 50), |(i, j)| ((i * 7 + j * 13) % 17) as f32 * 0.013 - 0.1);
        let b = Array2::from_shape_fn((50, 500), |(i, j)| ((i * 3 + j * 5) % 11) as f32 * 0.07 - 0.3);
        let start = Array2::from_shape_fn((787, 500), |(i, j)| ((i + 2 * j) % 19) as f32 * 0.01 - 0.09);
        let mut one = start.clone();
        column_gemm(1, 0.0137, a.view(), b.view(), 1.0, one.view_mut());
        let splits = split_products();
        for threads in [2, 3] {
            let mut many = start.clone();
            column_gemm(threads, 0.0137, a.view(), b.view(), 1.0, many.view_mut());
            assert_eq!(many, one, "{threads} threads");
        }
        assert!(split_products() > splits);
    }

    #[test]
    fn row_ranges_cover_every_row_once_in_order() {
        for (rows, parts) in [(50, 2), (7, 3), (1, 4), (0, 2), (200, 7)] {
            let r = row_ranges(rows, parts);
            assert_eq!(r.len(), parts.clamp(1, rows.max(1)));
            assert_eq!(r.first().map(|x| x.start), Some(0));
            assert_eq!(r.last().map(|x| x.end), Some(rows));
            assert!(r.windows(2).all(|w| w[0].end == w[1].start));
            let lens: Vec<usize> = r.iter().map(|x| x.len()).collect();
            assert!(lens.iter().max().unwrap_or(&0) - lens.iter().min().unwrap_or(&0) <= 1);
        }
    }

    /// A product's column cut: contiguous, in order, every inner boundary on a multiple of 16
    /// columns and within 8 of the even split (2,000 on two threads: 1,008 and 992, where the old
    /// 64-column grid gave 1,024 and 976); one range for small products or narrow outputs.
    #[test]
    fn column_ranges_cut_near_even_on_cache_lines() {
        let big = PARALLEL_MIN_MACS;
        assert_eq!(column_ranges(2, 2000, big), vec![0..1008, 1008..2000]);
        assert_eq!(column_ranges(2, 500, big), vec![0..256, 256..500]);
        assert_eq!(column_ranges(2, 2000, big - 1), vec![0..2000]);
        assert_eq!(column_ranges(4, 20, big), vec![0..20]);
        for (threads, n) in [(2, 2000), (3, 1000), (4, 777), (2, 33), (7, 4096)] {
            let r = column_ranges(threads, n, big);
            assert_eq!(r.first().map(|x| x.start), Some(0));
            assert_eq!(r.last().map(|x| x.end), Some(n));
            assert!(r.windows(2).all(|w| w[0].end == w[1].start && w[0].end % 16 == 0));
            for (t, range) in r.iter().enumerate().take(r.len() - 1) {
                let even = (t + 1) * n / r.len();
                assert!(range.end.abs_diff(even) <= 8, "{threads} threads, {n} columns: {r:?}");
            }
        }
    }

    /// Blocks taken in turn cover every row once, each block seeing its own rows, on any number
    /// of threads (a small array on the calling thread in one block).
    #[test]
    fn taken_row_blocks_cover_every_row_once() {
        for (threads, rows, block_rows) in [(1, 300, 32), (2, 300, 32), (3, 784, 32), (2, 20, 32), (2, 65, 1)]
        {
            let mut a = Array2::<u32>::zeros((rows, 50));
            let calls = std::sync::atomic::AtomicUsize::new(0);
            for_each_row_block_taken(
                threads,
                1000,
                block_rows,
                a.view_mut(),
                || 7u32,
                |range, mut block, scratch| {
                    assert_eq!((range.len(), *scratch), (block.nrows(), 7));
                    calls.fetch_add(1, Ordering::Relaxed);
                    for (k, mut row) in block.rows_mut().into_iter().enumerate() {
                        row.mapv_inplace(|x| x + (range.start + k) as u32 + 1);
                    }
                },
            );
            let blocks = if threads == 1 || rows * 50 < 1000 { 1 } else { rows.div_ceil(block_rows) };
            assert_eq!(calls.load(Ordering::Relaxed), blocks, "{threads} threads, {rows} rows");
            assert!(a.rows().into_iter().enumerate().all(|(j, r)| r.iter().all(|&x| x == j as u32 + 1)));
        }
    }

    #[test]
    fn row_blocks_see_their_own_rows() {
        let mut a = Array2::<u32>::zeros((300, 200));
        for threads in [1, 2, 3] {
            for_each_row_block(threads, PARALLEL_MIN_ELEMENTS, a.view_mut(), |rows, mut block| {
                assert_eq!(rows.len(), block.nrows());
                for (k, mut row) in block.rows_mut().into_iter().enumerate() {
                    row.fill((rows.start + k) as u32);
                }
            });
            assert!(a.rows().into_iter().enumerate().all(|(j, r)| r.iter().all(|&x| x == j as u32)));
        }
    }

    #[test]
    fn every_part_runs_once_with_its_index() {
        let mut parts: Vec<(usize, u32)> = (0..5).map(|i| (i, 0)).collect();
        for_each_part(&mut parts, |i, p| {
            assert_eq!(i, p.0);
            p.1 += 1;
        });
        assert!(parts.iter().all(|p| p.1 == 1));
    }
}
