//! Synapse arrays that copies of a chip share until one of them writes (copy on write).
//!
//! Evaluation runs on copies of the network (one per worker, so that its states, counters and
//! noise generator leave the trained network untouched); the weights and device arrays are most of
//! a chip's memory (538 MB for 784-8000-8000-10) and evaluation only reads them. A
//! [`SharedArray`] reads like the array it holds; any mutable access first copies the array if
//! another chip still holds it (`Arc::make_mut`), so every chip sees only its own writes.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use ndarray::Array2;

/// A pre × post array of a synapse group, shared between clones of a chip until written.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SharedArray(Arc<Array2<f32>>);

impl SharedArray {
    /// Holds `array` (not shared yet).
    pub fn new(array: Array2<f32>) -> Self {
        SharedArray(Arc::new(array))
    }

    /// Whether another chip holds this same array (tests and memory accounting).
    #[cfg(test)]
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}

impl From<Array2<f32>> for SharedArray {
    fn from(array: Array2<f32>) -> Self {
        SharedArray::new(array)
    }
}

impl Deref for SharedArray {
    type Target = Array2<f32>;

    fn deref(&self) -> &Array2<f32> {
        &self.0
    }
}

impl DerefMut for SharedArray {
    /// The array to write, copied first if another chip holds it.
    fn deref_mut(&mut self) -> &mut Array2<f32> {
        Arc::make_mut(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learning_rule::{SumOfProducts, TraceSlot};
    use crate::{Chip, ConnectOptions, CoreBlock, HardwareProfile, Nudge, PopulationSpec};

    /// Every pre × post array of every group of `chip`, and whether each is shared.
    fn arrays(chip: &Chip) -> Vec<bool> {
        let mut shared = Vec::new();
        for g in &chip.groups {
            shared.push(g.weights.is_shared());
            for a in [&g.gain, &g.effective, &g.step_up, &g.step_down].into_iter().flatten() {
                shared.push(a.is_shared());
            }
        }
        shared
    }

    /// A copy of an analog chip (weights, gains, effective weights and pulse sizes) that runs free
    /// and nudged steps, as evaluation does, keeps sharing every synapse array with the original;
    /// a learning update on the original copies the arrays it writes, and the copy keeps the old
    /// weights.
    #[test]
    fn clones_share_synapse_arrays_until_one_learns() -> Result<(), Box<dyn std::error::Error>> {
        let profile = HardwareProfile::load("analog-rram")?;
        let mut chip = Chip::new(&profile, 7)?;
        let (ni, nh, no, batch) = (12, 16, 3, 4);
        let block = |n: usize, core: usize| vec![CoreBlock { core, start: 0, len: n }];
        let input = chip.add_population(PopulationSpec::input("in", ni))?;
        let neurons = |name: &str, n: usize, bias: f32, core: usize| {
            PopulationSpec::rate_neurons(name, vec![0.5; n], vec![bias; n], block(n, core))
        };
        let hidden = chip.add_population(neurons("h", nh, 0.1, 0))?;
        let output = chip.add_population(neurons("o", no, 0.0, 1))?;
        let w1 = Array2::from_shape_fn((ni, nh), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 20.0 - 0.25);
        let w2 = Array2::from_shape_fn((nh, no), |(i, j)| ((i * 5 + j) % 7) as f32 / 14.0 - 0.25);
        let options = ConnectOptions { weight_range: Some(0.5), ..Default::default() };
        let g1 = chip.connect(input, hidden, w1.view(), options.clone())?;
        chip.connect(hidden, output, w2.view(), options)?;
        chip.set_batch_size(batch)?;
        let x = Array2::from_shape_fn((batch, ni), |(b, i)| ((b + i) % 3) as f32 / 2.0);
        let y = Array2::from_shape_fn((batch, no), |(b, i)| f32::from(u8::from(b % no == i)));
        chip.apply_input(input, x.view())?;
        let mut copy = chip.clone();
        assert!(arrays(&chip).len() > 2 && arrays(&chip).iter().all(|&s| s), "a clone shares every array");
        copy.run(5, None)?;
        copy.run(3, Some(&Nudge { population: output, target: y.view(), beta: 0.5 }))?;
        assert!(arrays(&chip).iter().all(|&s| s), "steps on the copy write no synapse array");
        let before = copy.read_weights(g1)?;
        let (free, nudged) = (TraceSlot::new(0)?, TraceSlot::new(1)?);
        chip.run(5, None)?;
        chip.latch_traces(free);
        chip.run(3, Some(&Nudge { population: output, target: y.view(), beta: 0.5 }))?;
        chip.latch_traces(nudged);
        chip.learn(g1, &SumOfProducts::contrastive(nudged, free), 2.0)?;
        assert!(!chip.groups[0].weights.is_shared(), "learning copies the weights it writes");
        assert_eq!(copy.read_weights(g1)?, before, "the copy keeps its weights");
        assert_ne!(chip.read_weights(g1)?, before, "the update changed the original");
        Ok(())
    }

    #[test]
    fn a_write_copies_only_a_shared_array() {
        let mut a = SharedArray::new(Array2::zeros((2, 3)));
        let b = a.clone();
        assert!(a.is_shared() && b.is_shared());
        a[[1, 2]] = 5.0;
        assert!(!a.is_shared() && !b.is_shared());
        assert_eq!((a[[1, 2]], b[[1, 2]]), (5.0, 0.0));
        let before = a.as_ptr();
        a[[0, 0]] = 1.0;
        assert_eq!(a.as_ptr(), before, "an array held once is written in place");
    }
}
