//! Synapse groups: dense blocks of synapses from one population to another.

use ndarray::Array2;

use crate::core_resources::FanInSegment;
use crate::population::PopulationId;
use crate::shared_array::SharedArray;

/// Handle of a synapse group on a [`crate::Chip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub(crate) usize);

impl GroupId {
    /// Position of the group in creation order.
    pub fn index(self) -> usize {
        self.0
    }
}

/// Options for [`crate::Chip::connect`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectOptions {
    /// Largest weight magnitude the group must represent (digital cores choose the weight exponent
    /// from it). `None` uses the largest magnitude of the initial weights.
    pub weight_range: Option<f32>,
    /// This group holds the feedback copies of another group's synapses (its transpose): separate
    /// physical synapses that the learning engine updates with the same rule.
    pub mirror_of: Option<GroupId>,
    /// Fan-in splitting: post blocks whose synapses from this group live on relay cores (empty: every
    /// block holds all of its synapses on its own core).
    pub fan_in: Vec<FanInSegment>,
}

/// The chip's record of a synapse group. Its pre × post arrays are shared between clones of the
/// chip until one writes them ([`SharedArray`]).
#[derive(Debug, Clone)]
pub(crate) struct SynapseGroup {
    pub pre: PopulationId,
    pub post: PopulationId,
    /// Float: real weights; digital: integer mantissas (exact in f32). pre × post.
    pub weights: SharedArray,
    /// Float only: per-synapse gain mismatch, if any.
    pub gain: Option<SharedArray>,
    /// Float only: weights × gain, used by the dynamics when `gain` is present.
    pub effective: Option<SharedArray>,
    /// Digital: weight exponent.
    pub exponent: i32,
    /// Digital: real value of one mantissa step.
    pub lsb: f64,
    /// Analog: conductance range R (weights lie in [−R, R]).
    pub range: f32,
    /// Analog: each device's up-pulse size in real units (device-to-device spread and asymmetry).
    pub step_up: Option<SharedArray>,
    /// Analog: each device's down-pulse size in real units.
    pub step_down: Option<SharedArray>,
    /// Analog: stuck devices as (pre, post, value), in increasing (pre, post) order; they keep
    /// this weight whatever is written.
    pub stuck: Vec<(usize, usize, f32)>,
    /// Synapses into a CUBA LIF population: Loihi's dense format (see `Chip::connect_lif`).
    pub dense: Option<crate::cuba_lif::LoihiDense>,
    /// Forward group whose transpose this is.
    pub mirror_of: Option<GroupId>,
    /// Learning updates applied so far (rounding-noise counter).
    pub updates: u64,
    /// Fan-in splitting of this group (see [`FanInSegment`]).
    pub fan_in: Vec<FanInSegment>,
}

impl SynapseGroup {
    /// A `np × nq` group from `pre` to `post` with zero weights, no mismatch, no device state and
    /// conductance range `range`; `Chip::connect` and `Chip::connect_lif` fill in the rest.
    pub fn new(pre: PopulationId, post: PopulationId, (np, nq): (usize, usize), range: f32) -> Self {
        SynapseGroup {
            pre,
            post,
            weights: Array2::zeros((np, nq)).into(),
            gain: None,
            effective: None,
            exponent: 0,
            lsb: 0.0,
            range,
            step_up: None,
            step_down: None,
            stuck: Vec::new(),
            dense: None,
            mirror_of: None,
            updates: 0,
            fan_in: Vec::new(),
        }
    }

    /// Re-applies stuck devices and recomputes the effective weights (stored weights × gains).
    pub fn refresh_effective(&mut self) {
        self.refresh_effective_threads(1);
    }

    /// [`SynapseGroup::refresh_effective`] with the rows shared among `threads` threads.
    pub fn refresh_effective_threads(&mut self, threads: usize) {
        let all: Vec<usize> = (0..self.weights.nrows()).collect();
        self.refresh_effective_rows(&all, threads);
    }

    /// [`SynapseGroup::refresh_effective`] after a change confined to presynaptic `rows` (listed in
    /// increasing order): stuck devices are re-applied everywhere, effective weights recomputed in
    /// place for those rows (and the stuck devices), so an update costs work in proportion to the
    /// rows it changed and no allocation; the rows are shared among `threads` threads.
    pub fn refresh_effective_rows(&mut self, rows: &[usize], threads: usize) {
        if !self.refresh_stuck() {
            if let Some(gain) = &self.gain {
                self.effective = Some((&*self.weights * &**gain).into());
            }
            return;
        }
        if let (Some(gain), Some(e)) = (&self.gain, &mut self.effective) {
            let weights = &self.weights;
            crate::parallel::for_each_row_block(
                threads,
                crate::parallel::PARALLEL_MIN_ELEMENTS,
                e.view_mut(),
                |block, mut e| {
                    let lo = rows.partition_point(|&j| j < block.start);
                    let hi = rows.partition_point(|&j| j < block.end);
                    for &j in &rows[lo..hi] {
                        ndarray::Zip::from(e.row_mut(j - block.start))
                            .and(weights.row(j))
                            .and(gain.row(j))
                            .for_each(|e, &w, &k| *e = w * k);
                    }
                },
            );
        }
    }

    /// Puts stuck devices back to their stuck values, and their effective weights with them (the
    /// part of [`SynapseGroup::refresh_effective_rows`] that does not depend on the rows); returns
    /// [`SynapseGroup::effective_in_place`].
    pub fn refresh_stuck(&mut self) -> bool {
        // A mutable borrow of a shared array copies it: none without stuck devices.
        if !self.stuck.is_empty() {
            let weights: &mut Array2<f32> = &mut self.weights;
            for &(j, i, value) in &self.stuck {
                weights[[j, i]] = value;
            }
        }
        if !self.effective_in_place() {
            return false;
        }
        if let (Some(gain), Some(e)) = (&self.gain, &mut self.effective)
            && !self.stuck.is_empty()
        {
            let e: &mut Array2<f32> = e;
            for &(j, i, value) in &self.stuck {
                e[[j, i]] = value * gain[[j, i]];
            }
        }
        true
    }

    /// Whether the effective weights, if the group has device gains, exist in the weights' shape
    /// (so that refreshing changed rows in place is enough).
    pub fn effective_in_place(&self) -> bool {
        match (&self.gain, &self.effective) {
            (Some(_), Some(e)) => e.dim() == self.weights.dim(),
            (Some(_), None) => false,
            (None, _) => true,
        }
    }
}

/// The stuck devices of presynaptic row `row` in a group's list of stuck devices (which is in
/// increasing (pre, post) order).
pub(crate) fn stuck_in_row(stuck: &[(usize, usize, f32)], row: usize) -> &[(usize, usize, f32)] {
    let start = stuck.partition_point(|&(j, _, _)| j < row);
    let end = start + stuck[start..].partition_point(|&(j, _, _)| j == row);
    &stuck[start..end]
}

#[cfg(test)]
mod tests {
    use super::stuck_in_row;

    /// A row's stuck devices are exactly the list's entries with that row, empty for rows without
    /// any (before, between and after the listed rows).
    #[test]
    fn stuck_in_row_finds_each_rows_devices() {
        let stuck = [(1, 0, 0.5), (1, 7, -0.5), (3, 2, 0.0), (6, 0, 1.0), (6, 1, 1.0), (6, 9, 0.0)];
        for row in 0..8 {
            let expected: Vec<_> = stuck.iter().copied().filter(|&(j, _, _)| j == row).collect();
            assert_eq!(stuck_in_row(&stuck, row), &expected[..], "row {row}");
        }
        assert_eq!(stuck_in_row(&stuck, 6).len(), 3);
        assert!(stuck_in_row(&[], 0).is_empty());
    }
}
