//! How a sharded run cuts the batch among its threads: rows in proportion to the speed each part
//! showed in the runs before, so that all parts end together.
//!
//! A part's speed is its rows over the time from the run's start to the end of its rows, less the
//! time its thread spent drawing the read noise or waiting for it (a part that waits for the noise
//! could compute more rows in the same time): a thread whose core is shared with other work, or
//! that started late, shows a lower speed and gets fewer rows next time. An even cut left the
//! faster thread waiting for the slower one at every run; on a virtual machine whose cores are
//! shared, one core often runs at 70–90 % of the other's speed for seconds at a time (the
//! `cores t2` column of `epchip bench`). The cut is a speed setting only: examples do not interact,
//! so every number is the same whichever part computes it.

use std::ops::Range;

/// The smallest share of an even split a part that does not draw the noise keeps, so that its
/// speed is still measured when its core was slow for a while.
const LEAST_SHARE: f32 = 0.25;

/// Weight of the last run in the running estimates.
const LAST_RUN_WEIGHT: f32 = 0.5;

/// What one part of a sharded run did: its rows, how long its thread drew the read noise and
/// waited for another thread's noise, and when its rows were done, in seconds from the run's
/// start.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PartTiming {
    pub rows: usize,
    pub drawing: f32,
    pub waited: f32,
    pub done: f32,
}

/// Running estimates of each part's speed (rows per second per step) and of the first part's
/// drawing time per step, and the cut they give.
#[derive(Debug, Clone, Default)]
pub(super) struct ShardBalance {
    speeds: Vec<f32>,
    drawing: f32,
}

impl ShardBalance {
    /// The rows of `parts` parts of a batch of `batch` examples: contiguous, from row 0, in
    /// proportion to the parts' speeds (less the first part's drawing time); an even cut until a
    /// run was timed.
    pub fn ranges(&self, batch: usize, parts: usize) -> Vec<Range<usize>> {
        let shares = self.shares(batch, parts);
        let mut start = 0;
        let mut sum = 0.0f32;
        (0..parts)
            .map(|p| {
                sum += shares[p];
                let end = if p + 1 == parts { batch } else { (sum.round() as usize).clamp(start, batch) };
                let range = start..end;
                start = end;
                range
            })
            .collect()
    }

    /// Each part's rows as a real number (they add up to `batch`).
    fn shares(&self, batch: usize, parts: usize) -> Vec<f32> {
        let even = batch as f32 / parts as f32;
        if self.speeds.len() != parts || self.speeds.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return vec![even; parts];
        }
        // All parts end at time t: Σ_p s_p · (t − d_p) = batch, with d_p the drawing time.
        let total: f32 = self.speeds.iter().sum();
        let t = (batch as f32 + self.speeds[0] * self.drawing) / total;
        let raw: Vec<f32> = self
            .speeds
            .iter()
            .enumerate()
            .map(|(p, &s)| (s * (t - if p == 0 { self.drawing } else { 0.0 })).max(0.0))
            .collect();
        // Parts other than the first keep at least their least share; the others share the rest.
        let least = LEAST_SHARE * even;
        let kept = |p: usize| p > 0 && raw[p] < least;
        let fixed: f32 = (0..parts).filter(|&p| kept(p)).map(|_| least).sum();
        let free: f32 = (0..parts).filter(|&p| !kept(p)).map(|p| raw[p]).sum();
        let scale = if free > 0.0 { (batch as f32 - fixed).max(0.0) / free } else { 0.0 };
        (0..parts).map(|p| if kept(p) { least } else { raw[p] * scale }).collect()
    }

    /// Updates the estimates from the timings of a run of `steps` steps.
    pub fn learn(&mut self, parts: &[PartTiming], steps: usize) {
        if parts.len() < 2 || steps == 0 {
            return;
        }
        if self.speeds.len() != parts.len() {
            self.speeds = vec![0.0; parts.len()];
        }
        let per_step = |x: f32| x / steps as f32;
        let blend = |old: f32, new: f32| if old > 0.0 { old + LAST_RUN_WEIGHT * (new - old) } else { new };
        self.drawing = blend(self.drawing, per_step(parts[0].drawing)).max(0.0);
        for (speed, part) in self.speeds.iter_mut().zip(parts) {
            let computing = per_step(part.done - part.drawing - part.waited);
            if part.rows > 0 && computing > 0.0 {
                *speed = blend(*speed, part.rows as f32 / computing);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(rows: usize, drawing: f32, waited: f32, done: f32) -> PartTiming {
        PartTiming { rows, drawing, waited, done }
    }

    fn covers(ranges: &[Range<usize>], batch: usize) -> bool {
        ranges.first().is_some_and(|r| r.start == 0)
            && ranges.last().is_some_and(|r| r.end == batch)
            && ranges.windows(2).all(|w| w[0].end == w[1].start)
    }

    #[test]
    fn even_until_a_run_was_timed() {
        let b = ShardBalance::default();
        assert_eq!(b.ranges(50, 2), vec![0..25, 25..50]);
        assert_eq!(b.ranges(10, 3), vec![0..3, 3..7, 7..10]);
    }

    /// A part whose thread ran at half speed gets a third of the rows (both then end together),
    /// and the cut follows when the speeds come back.
    #[test]
    fn slower_part_gets_fewer_rows_and_recovers() {
        let mut b = ShardBalance::default();
        // 25 rows each; part 1 took twice as long.
        for _ in 0..20 {
            let r = b.ranges(60, 2);
            let (n0, n1) = (r[0].len(), r[1].len());
            b.learn(&[part(n0, 0.0, 0.0, n0 as f32), part(n1, 0.0, 0.0, 2.0 * n1 as f32)], 1);
        }
        assert_eq!(b.ranges(60, 2), vec![0..40, 40..60]);
        for _ in 0..20 {
            let r = b.ranges(60, 2);
            let (n0, n1) = (r[0].len(), r[1].len());
            b.learn(&[part(n0, 0.0, 0.0, n0 as f32), part(n1, 0.0, 0.0, n1 as f32)], 1);
        }
        assert_eq!(b.ranges(60, 2), vec![0..30, 30..60]);
    }

    /// The drawing part takes fewer rows, by the rows the others compute while it draws; never
    /// fewer than none, and the others keep a quarter of an even share when one is very slow.
    #[test]
    fn drawing_time_and_least_shares() {
        let mut b = ShardBalance::default();
        // Equal speeds of 1 row per second per step; drawing 10 s of each step.
        b.learn(&[part(20, 10.0, 0.0, 30.0), part(20, 0.0, 0.0, 20.0)], 1);
        // t = (40 + 10) / 2 = 25: 15 rows and 25 rows.
        assert_eq!(b.ranges(40, 2), vec![0..15, 15..40]);
        let mut b = ShardBalance::default();
        b.learn(&[part(20, 100.0, 0.0, 120.0), part(20, 0.0, 0.0, 20.0)], 1);
        assert_eq!(b.ranges(40, 2), vec![0..0, 0..40]);
        let mut b = ShardBalance::default();
        b.learn(&[part(20, 0.0, 0.0, 20.0), part(20, 0.0, 0.0, 2000.0)], 1);
        let r = b.ranges(40, 2);
        assert!(covers(&r, 40));
        assert_eq!(r[1].len(), 5, "a quarter of an even share: {r:?}");
    }

    /// Time spent waiting for the noise is not slowness: a part that ended 10 s later than the
    /// other, all of it waiting, keeps an even share; one that ended as late computing gets less.
    #[test]
    fn waiting_for_the_noise_is_not_slowness() {
        let mut b = ShardBalance::default();
        b.learn(&[part(20, 0.0, 0.0, 20.0), part(20, 0.0, 10.0, 30.0)], 1);
        assert_eq!(b.ranges(40, 2), vec![0..20, 20..40]);
        let mut b = ShardBalance::default();
        b.learn(&[part(20, 0.0, 0.0, 20.0), part(20, 0.0, 0.0, 30.0)], 1);
        assert!(b.ranges(40, 2)[1].len() < 20);
    }

    /// Any speeds and batches give contiguous ranges that cover the batch.
    #[test]
    fn ranges_always_cover_the_batch() {
        for parts in 2..5 {
            for batch in [1usize, 4, 7, 50, 199] {
                let mut b = ShardBalance::default();
                let timings: Vec<PartTiming> = (0..parts)
                    .map(|p| part(p + 1, if p == 0 { 0.3 } else { 0.0 }, 0.0, 1.0 + p as f32))
                    .collect();
                b.learn(&timings, 3);
                let r = b.ranges(batch, parts);
                assert_eq!(r.len(), parts);
                assert!(covers(&r, batch), "{r:?}");
            }
        }
    }
}
