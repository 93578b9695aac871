//! Programming weights from outside and what time does to them: the write error of
//! program-and-verify, and conductance drift after programming (analog cores; digital and
//! floating-point synapses hold their values).

use ndarray::ArrayView2;

use super::Chip;
use crate::cores::DeviceSampler;
use crate::error::Result;
use crate::synapse_group::GroupId;

impl Chip {
    /// Programs a group's weights from outside, as a toolchain would: written like
    /// [`Chip::write_weights`] (conductance levels, range), then each device lands off its target
    /// by the core's programming error. Each call draws a new error.
    pub fn program_weights(&mut self, group: GroupId, weights: ArrayView2<f32>) -> Result<()> {
        self.write_weights(group, weights)?;
        self.programmings += 1;
        let programming = self.programmings;
        let g = &mut self.groups[group.0];
        let devices = DeviceSampler {
            mismatch: &self.mismatch,
            post: &self.populations[g.post.0],
            group: group.0 as u64,
        };
        self.kind.arithmetic().programming_error(g, &devices, programming);
        g.refresh_effective();
        self.static_dirty = true;
        Ok(())
    }

    /// True if this chip's synapses change with time (analog profiles with a drift model).
    pub fn drifts(&self) -> bool {
        self.kind.arithmetic().drifts()
    }

    /// True if the profile lets conductances drift between training epochs too.
    pub fn drifts_while_training(&self) -> bool {
        self.kind.arithmetic().drifts_while_training()
    }

    /// Lets every synapse age by `seconds` since its weights were programmed: each device follows
    /// the profile's drift model. Within one retention `episode` a device drifts the same way on
    /// every call (aging the programmed weights by 1 h and by 1 day gives two points of one
    /// trajectory); another episode (weights reprogrammed, e.g. by learning) draws new random
    /// directions, while a device's drift exponent is its own in every episode. Stuck devices stay
    /// where they are. No-op on cores without drift.
    pub fn age_weights(&mut self, seconds: f64, episode: u64) {
        if !self.drifts() || seconds <= 0.0 {
            return;
        }
        for (gid, g) in self.groups.iter_mut().enumerate() {
            let devices = DeviceSampler {
                mismatch: &self.mismatch,
                post: &self.populations[g.post.0],
                group: gid as u64,
            };
            self.kind.arithmetic().drift(g, &devices, seconds, episode);
            g.refresh_effective();
        }
        self.static_dirty = true;
    }
}
