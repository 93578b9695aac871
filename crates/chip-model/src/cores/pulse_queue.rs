//! The hand-over of a parallel pulsed update's random words: one thread draws them chunk of rows
//! after chunk of rows, in the order a one-thread update draws them, while every thread claims and
//! applies drawn chunks (rows are independent, so any thread may apply any chunk).

/// One chunk of rows' random words (row after row) and tail samples (row in the chunk, position,
/// value), as drawn for a parallel pulsed update.
pub(crate) struct DrawnRows {
    pub words: Vec<u32>,
    pub tails: Vec<(u32, u32, f32)>,
}

/// The chunks of a parallel pulsed update: drawn in order by one thread, applied by any thread in
/// the order they are claimed.
pub(crate) struct PulseQueue {
    drawn: Vec<std::sync::Mutex<Option<DrawnRows>>>,
    /// Chunks published so far (a chunk below this count is drawn).
    published: std::sync::atomic::AtomicUsize,
    /// Next chunk to claim for applying.
    claimed: std::sync::atomic::AtomicUsize,
    /// Chunks the drawing thread may be ahead of the claimed ones.
    ahead: usize,
}

impl PulseQueue {
    /// A queue of `chunks` chunks, drawn at most `ahead` chunks ahead of the claimed ones.
    pub fn new(chunks: usize, ahead: usize) -> Self {
        Self {
            drawn: (0..chunks).map(|_| std::sync::Mutex::new(None)).collect(),
            published: std::sync::atomic::AtomicUsize::new(0),
            claimed: std::sync::atomic::AtomicUsize::new(0),
            ahead,
        }
    }

    /// Publishes chunk `c` (chunks are published in order).
    pub fn publish(&self, c: usize, rows: DrawnRows) {
        if let Some(slot) = self.drawn.get(c) {
            *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(rows);
        }
        self.published.store(c + 1, std::sync::atomic::Ordering::Release);
    }

    /// Whether drawing chunk `c` now would run more than `ahead` chunks ahead of the applying.
    pub fn far_ahead(&self, c: usize) -> bool {
        c >= self.claimed.load(std::sync::atomic::Ordering::Acquire) + self.ahead
    }

    /// Claims the next chunk to apply, once it is drawn (waiting for it), or `None` when every
    /// chunk is claimed.
    pub fn next(&self) -> Option<usize> {
        let c = self.claimed.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if c >= self.drawn.len() {
            return None;
        }
        while self.published.load(std::sync::atomic::Ordering::Acquire) <= c {
            std::hint::spin_loop();
        }
        Some(c)
    }

    /// The words of chunk `c` (taken: each chunk is applied once), `None` if it was never drawn.
    pub fn take(&self, c: usize) -> Option<DrawnRows> {
        self.drawn.get(c)?.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// A guard that marks every chunk published when dropped, so that no thread waits for ever if
    /// the drawing thread stops early (its panic then reaches the caller; undrawn chunks are not
    /// applied).
    pub fn finish_drawing_on_drop(&self) -> FinishDrawing<'_> {
        FinishDrawing(self)
    }
}

/// See [`PulseQueue::finish_drawing_on_drop`].
pub(crate) struct FinishDrawing<'a>(&'a PulseQueue);

impl Drop for FinishDrawing<'_> {
    fn drop(&mut self) {
        self.0.published.store(self.0.drawn.len(), std::sync::atomic::Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(first: u32) -> DrawnRows {
        DrawnRows { words: vec![first], tails: Vec::new() }
    }

    /// Chunks are claimed once each and in order, only after they are drawn; the drawing thread
    /// learns when it is too far ahead; a stopped drawer releases every waiting thread.
    #[test]
    fn pulse_queue_hands_out_each_drawn_chunk_once() {
        let queue = PulseQueue::new(4, 2);
        assert!(!queue.far_ahead(1));
        assert!(queue.far_ahead(2), "two chunks ahead of none claimed");
        queue.publish(0, rows(10));
        queue.publish(1, rows(11));
        assert_eq!(queue.next(), Some(0));
        assert!(!queue.far_ahead(2));
        assert_eq!(queue.take(0).map(|r| r.words), Some(vec![10]));
        assert!(queue.take(0).is_none(), "a chunk is applied once");
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| (queue.next(), queue.next()));
            std::thread::sleep(std::time::Duration::from_millis(20));
            queue.publish(2, rows(12));
            drop(queue.finish_drawing_on_drop());
            assert_eq!(waiter.join().ok(), Some((Some(1), Some(2))));
        });
        assert_eq!(queue.next(), Some(3), "released by the guard although never drawn");
        assert!(queue.take(3).is_none());
        assert_eq!(queue.next(), None);
    }
}
