//! A tiny synthetic classification task, learnable in seconds, for fast tests.
//!
//! Each example is a 4×4 grey image holding one bright bar on a dim, noisy background:
//!
//! | class | bar |
//! | --- | --- |
//! | 0 | horizontal, in row 0 or 1 |
//! | 1 | horizontal, in row 2 or 3 |
//! | 2 | vertical, in column 0 or 1 |
//! | 3 | vertical, in column 2 or 3 |
//!
//! Bar pixels are drawn uniformly from [`BAR_MIN`]`..=255`, background pixels from
//! `0..=`[`BACKGROUND_MAX`]. The classes are balanced (100 of each in train, 50 in test) and
//! the examples shuffled. Everything comes from one ChaCha8 stream seeded by the seed, so a
//! seed always gives the same bytes on every platform.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::dataset::{Dataset, DatasetSplit};
use crate::error::Result;

/// Side of the square synthetic images.
pub const SYNTHETIC_SIDE: usize = 4;
/// Number of classes of the synthetic task.
pub const SYNTHETIC_CLASSES: usize = 4;
/// Number of training examples of the synthetic task.
pub const SYNTHETIC_TRAIN: usize = 400;
/// Number of test examples of the synthetic task.
pub const SYNTHETIC_TEST: usize = 200;
/// Smallest value of a bar pixel.
pub const BAR_MIN: u8 = 160;
/// Largest value of a background pixel.
pub const BACKGROUND_MAX: u8 = 70;

/// A tiny, learnable, deterministic task for fast tests: e.g. 4 classes of 4x4 "bar" patterns (or gaussian blobs) with noise;
/// train 400 / test 200 examples by default; bytes 0..=255.
///
/// Here: 4 classes of 4×4 bar patterns (see the module documentation), 400 train and 200 test
/// examples, the same bytes for the same `seed`.
pub fn synthetic_split(seed: u64) -> Result<DatasetSplit> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let train = generate(&mut rng, SYNTHETIC_TRAIN, &format!("synthetic:seed={seed}/train"))?;
    let test = generate(&mut rng, SYNTHETIC_TEST, &format!("synthetic:seed={seed}/test"))?;
    DatasetSplit::new(train, test)
}

fn generate(rng: &mut ChaCha8Rng, count: usize, name: &str) -> Result<Dataset> {
    let mut labels: Vec<u8> = (0..count).map(|i| (i % SYNTHETIC_CLASSES) as u8).collect();
    labels.shuffle(rng);
    let size = SYNTHETIC_SIDE * SYNTHETIC_SIDE;
    let mut pixels = Vec::with_capacity(count * size);
    for &label in &labels {
        // Which of the two rows / columns of its half the bar sits in.
        let line = usize::from(label % 2) * 2 + rng.random_range(0..2usize);
        let horizontal = label < 2;
        for r in 0..SYNTHETIC_SIDE {
            for c in 0..SYNTHETIC_SIDE {
                let on_bar = if horizontal { r == line } else { c == line };
                let value = if on_bar {
                    rng.random_range(BAR_MIN..=u8::MAX)
                } else {
                    rng.random_range(0..=BACKGROUND_MAX)
                };
                pixels.push(value);
            }
        }
    }
    Dataset::new(name, pixels, labels, SYNTHETIC_SIDE, SYNTHETIC_SIDE, SYNTHETIC_CLASSES)
}
