//! Read noise drawn ahead of the steps that use it.
//!
//! An analog tile's output noise comes from the chip's one noise generator, drawn conversion by
//! conversion and example by example. The drawing is sequential, but it does not depend on any
//! value the steps compute, so a run draws all its conversions first, in the order a step-by-step
//! run would. What it keeps of each example is small: the lane generator's state before the
//! example's random words and the rare exact tail samples. The thread that computes the example
//! makes the words again from that state, in its own cache, and turns them into numbers. The
//! numbers are the same as drawing inside the steps, for any number of threads.

use std::sync::OnceLock;

use rand::Rng;

use crate::gaussian::{TailSamples, draw_normal_tails, normals_from_words};
use crate::lane_rng::LaneRng;

/// The noise of one population's tile conversion in one step: for each example, the lane
/// generator's state before its `n.div_ceil(2)` random words; tails as (example, position, value)
/// in drawing order.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConversionNoise {
    rows: Vec<LaneRng>,
    n: usize,
    tails: Vec<(u32, u32, f32)>,
}

impl ConversionNoise {
    /// Draws the noise of `rows` examples of `n` outputs from `lanes` (tails from `tail_rng`).
    /// The words are made here only to find the tail samples (whose draws move `tail_rng`), then
    /// dropped: keeping them (200 KB a step at 50 × 2,000 outputs) cost more in memory traffic, on
    /// the drawing thread and on the threads that read them back, than making them twice.
    pub fn draw<R: Rng + ?Sized>(rows: usize, n: usize, lanes: &mut LaneRng, tail_rng: &mut R) -> Self {
        let mut states = Vec::with_capacity(rows);
        let mut words = vec![0u32; n.div_ceil(2)];
        let (mut tails, mut row_tails) = (Vec::new(), TailSamples::new());
        for b in 0..rows {
            states.push(lanes.clone());
            row_tails.clear();
            draw_normal_tails(n, lanes, &mut words, &mut row_tails, tail_rng);
            tails.extend(row_tails.iter().map(|&(i, x)| (b as u32, i, x)));
        }
        Self { rows: states, n, tails }
    }

    /// The standard normal numbers of example `row` (of the whole batch) into `out` (`n` long),
    /// with `words` as scratch space.
    pub fn normals(&self, row: usize, out: &mut [f32], words: &mut Vec<u32>) {
        let mut lanes = self.rows[row].clone();
        words.clear();
        words.resize(self.n.div_ceil(2), 0);
        lanes.fill_u32(words);
        normals_from_words(out, words, crate::gaussian::tails_of_row(&self.tails, row));
    }
}

/// The read noise of one step: per population, its conversion's noise (`None` where nothing is
/// drawn).
pub(crate) type StepNoise = Vec<Option<ConversionNoise>>;

/// The read noise of a run's steps, drawn by one thread step after step while the row shards that
/// use it run: a shard waits for a step's noise only when it gets there before the drawing thread
/// (which then has drawn every step before it, in the one stream's order).
#[derive(Debug, Default)]
pub(crate) struct NoiseSlots {
    steps: Vec<OnceLock<Option<StepNoise>>>,
}

impl NoiseSlots {
    /// Slots for `steps` steps, none drawn yet.
    pub fn new(steps: usize) -> Self {
        Self { steps: (0..steps).map(|_| OnceLock::new()).collect() }
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Publishes the noise of step `k` (a step is published once; later calls change nothing).
    pub fn publish(&self, k: usize, noise: Option<StepNoise>) {
        if let Some(slot) = self.steps.get(k) {
            let _ = slot.set(noise);
        }
    }

    /// The noise of step `k`, waiting (busy: steps are tens of microseconds) until it is published.
    pub fn wait(&self, k: usize) -> Option<&StepNoise> {
        let slot = self.steps.get(k)?;
        loop {
            if let Some(noise) = slot.get() {
                return noise.as_ref();
            }
            std::hint::spin_loop();
        }
    }

    /// Publishes "no noise" for every step not yet published, so that no shard waits for ever when
    /// the drawing thread stops early (it panicked: the panic then reaches the caller).
    pub fn publish_rest(&self) {
        for slot in &self.steps {
            let _ = slot.set(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    /// A step's noise is waited for until published; publishing twice keeps the first; the rest
    /// are released as "no noise".
    #[test]
    fn noise_slots_wait_for_the_drawing_thread() {
        let slots = NoiseSlots::new(3);
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| slots.wait(0).map(Vec::len));
            std::thread::sleep(std::time::Duration::from_millis(20));
            slots.publish(0, Some(vec![None, None]));
            assert_eq!(reader.join().ok(), Some(Some(2)));
        });
        slots.publish(0, None);
        assert_eq!(slots.wait(0).map(Vec::len), Some(2));
        slots.publish_rest();
        assert!(slots.wait(1).is_none() && slots.wait(2).is_none() && slots.wait(3).is_none());
    }

    /// Drawn ahead, row by row on any thread, the numbers equal drawing each row in place with
    /// `fill_standard_normal_lanes`, tails included, and the generator ends in the same state.
    #[test]
    fn drawn_ahead_equals_drawn_in_place() {
        let (rows, n) = (40, 333);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut twin = rng.clone();
        let mut lanes = LaneRng::from_rng(&mut rng);
        let ahead = ConversionNoise::draw(rows, n, &mut lanes, &mut rng);
        assert!(!ahead.tails.is_empty(), "40 × 333 numbers should hold a tail sample or more");
        let mut twin_lanes = LaneRng::from_rng(&mut twin);
        let (mut z, mut bits, mut expected) = (vec![0.0f32; n], Vec::new(), vec![0.0f32; n]);
        let mut rows_expected = Vec::new();
        for _ in 0..rows {
            crate::gaussian::fill_standard_normal_lanes(&mut expected, &mut twin_lanes, &mut bits, &mut twin);
            rows_expected.push(expected.clone());
        }
        // Rows in any order, as shards of any split take them.
        let mut words = Vec::new();
        for b in (0..rows).rev().chain(0..rows) {
            ahead.normals(b, &mut z, &mut words);
            assert_eq!(z, rows_expected[b], "row {b}");
        }
        assert_eq!(rng.next_u64(), twin.next_u64());
    }
}
