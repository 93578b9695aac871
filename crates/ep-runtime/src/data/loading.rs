//! [`load_dataset`], which resolves a dataset spec such as `mnist10k` or `idx:DIR` into a
//! [`DatasetSplit`]: the embedded MNIST subset, the synthetic task or a directory of IDX files.

use std::path::{Path, PathBuf};

use crate::data::dataset::{Dataset, DatasetSplit};
use crate::data::idx::{IdxKind, dataset_from_idx, parse_idx_as, read_idx_file_as};
use crate::data::synthetic::synthetic_split;
use crate::error::{EpError, Result};

/// Names accepted by load_dataset, for help text.
pub const DATASET_HELP: &str = "\
mnist10k: 10,000 real MNIST digits built into the program (8,004 train / 1,996 test, 28x28, 10 classes); \
mnist10k:pool=N: the same digits shrunk by NxN average pooling (N divides 28; pool=4 gives 7x7 = 49 inputs); \
synthetic or synthetic:seed=N: a tiny task of 4x4 bar patterns (4 classes, 400 train / 200 test; seed 0 by default); \
idx:DIR: MNIST-style IDX files in DIR (train-images-idx3-ubyte, train-labels-idx1-ubyte, \
t10k-images-idx3-ubyte or test-images-idx3-ubyte, t10k-labels-idx1-ubyte or test-labels-idx1-ubyte; \
each raw or with a .gz suffix)";

const EMBEDDED_ORIGIN: &str = "<embedded mnist10k>";

const MNIST10K_TRAIN_IMAGES: &[u8] = include_bytes!("../../data/mnist-10k/train-images-idx3-ubyte.gz");
const MNIST10K_TRAIN_LABELS: &[u8] = include_bytes!("../../data/mnist-10k/train-labels-idx1-ubyte.gz");
const MNIST10K_TEST_IMAGES: &[u8] = include_bytes!("../../data/mnist-10k/test-images-idx3-ubyte.gz");
const MNIST10K_TEST_LABELS: &[u8] = include_bytes!("../../data/mnist-10k/test-labels-idx1-ubyte.gz");

/// Resolves a dataset spec: "mnist10k" (embedded: include_bytes! of the 4 gz files under crates/ep-runtime/data/mnist-10k, so it works from any directory), "synthetic" (the tiny task below, default seed 0), "synthetic:seed=N", or "idx:DIR" (a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte / test-images-idx3-ubyte, and the labels likewise, each either raw or with .gz suffix). Unknown spec -> EpError::UnknownDataset. Missing file -> error naming the path and which file names were looked for.
///
/// See [`DATASET_HELP`] for the accepted specs. Leading and trailing whitespace is ignored.
/// For `idx:DIR` the dot-separated names used by some mirrors (`train-images.idx3-ubyte`) are
/// accepted too. A bad `synthetic:` option or an empty `idx:` directory gives
/// [`EpError::InvalidParameter`]; a missing file gives [`EpError::DatasetIo`] with the path
/// of the first name tried and a message listing every name looked for.
pub fn load_dataset(spec: &str) -> Result<DatasetSplit> {
    let trimmed = spec.trim();
    if trimmed == "mnist10k" {
        return load_mnist10k();
    }
    if let Some(options) = trimmed.strip_prefix("mnist10k:") {
        let factor = options
            .trim()
            .strip_prefix("pool=")
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&f| f >= 1 && 28 % f == 0)
            .ok_or_else(|| EpError::InvalidParameter {
                field: "dataset".to_string(),
                value: spec.to_string(),
                allowed: "`mnist10k:pool=N` with N dividing 28 (1, 2, 4, 7, 14, 28): N×N average pooling"
                    .to_string(),
            })?;
        let split = load_mnist10k()?;
        return DatasetSplit::new(split.train.pooled(factor)?, split.test.pooled(factor)?);
    }
    if trimmed == "synthetic" {
        return synthetic_split(0);
    }
    if let Some(options) = trimmed.strip_prefix("synthetic:") {
        let seed = options
            .trim()
            .strip_prefix("seed=")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| EpError::InvalidParameter {
                field: "dataset".to_string(),
                value: spec.to_string(),
                allowed: "`synthetic` or `synthetic:seed=N` with N an unsigned 64-bit integer".to_string(),
            })?;
        return synthetic_split(seed);
    }
    if let Some(dir) = trimmed.strip_prefix("idx:") {
        if dir.is_empty() {
            return Err(EpError::InvalidParameter {
                field: "dataset".to_string(),
                value: spec.to_string(),
                allowed: "`idx:DIR` with DIR a directory of IDX files".to_string(),
            });
        }
        return load_idx_dir(Path::new(dir));
    }
    Err(EpError::UnknownDataset(spec.to_string()))
}

fn load_mnist10k() -> Result<DatasetSplit> {
    let part = |name: &str, images: &[u8], labels: &[u8], stem: &str| -> Result<Dataset> {
        let images_origin = PathBuf::from(format!("{EMBEDDED_ORIGIN}/{stem}-images-idx3-ubyte.gz"));
        let labels_origin = PathBuf::from(format!("{EMBEDDED_ORIGIN}/{stem}-labels-idx1-ubyte.gz"));
        let images = parse_idx_as(images, &images_origin, Some(IdxKind::Images))?;
        let labels = parse_idx_as(labels, &labels_origin, Some(IdxKind::Labels))?;
        dataset_from_idx(name, images, labels, &images_origin, &labels_origin)
    };
    let train = part("mnist10k/train", MNIST10K_TRAIN_IMAGES, MNIST10K_TRAIN_LABELS, "train")?;
    let test = part("mnist10k/test", MNIST10K_TEST_IMAGES, MNIST10K_TEST_LABELS, "test")?;
    DatasetSplit::new(train, test)
}

/// The file names tried, in order, for one of the four IDX files.
fn candidate_names(prefixes: &[&str], what: &str) -> Vec<String> {
    let mut names = Vec::new();
    for prefix in prefixes {
        for base in [format!("{prefix}-{what}"), format!("{prefix}-{}", what.replacen('-', ".", 1))] {
            names.push(base.clone());
            names.push(format!("{base}.gz"));
        }
    }
    names
}

/// Finds the first existing file among `names` in `dir`.
fn find_file(dir: &Path, names: &[String]) -> Result<PathBuf> {
    for name in names {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    let first = names.first().map_or_else(|| dir.to_path_buf(), |n| dir.join(n));
    Err(EpError::DatasetIo {
        path: first,
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no such file; looked in {} for {}", dir.display(), names.join(", ")),
        ),
    })
}

fn load_idx_dir(dir: &Path) -> Result<DatasetSplit> {
    if !dir.is_dir() {
        let (kind, what) = if dir.exists() {
            (std::io::ErrorKind::InvalidInput, "not a directory")
        } else {
            (std::io::ErrorKind::NotFound, "no such directory")
        };
        return Err(EpError::DatasetIo {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                kind,
                format!("{what} (idx:DIR needs a directory holding the IDX files)"),
            ),
        });
    }
    let part = |prefixes: &[&str], set: &str| -> Result<Dataset> {
        let images_path = find_file(dir, &candidate_names(prefixes, "images-idx3-ubyte"))?;
        let labels_path = find_file(dir, &candidate_names(prefixes, "labels-idx1-ubyte"))?;
        let images = read_idx_file_as(&images_path, Some(IdxKind::Images))?;
        let labels = read_idx_file_as(&labels_path, Some(IdxKind::Labels))?;
        let name = format!("idx:{}/{set}", dir.display());
        dataset_from_idx(&name, images, labels, &images_path, &labels_path)
    };
    let train = part(&["train"], "train")?;
    let test = part(&["t10k", "test"], "test")?;
    DatasetSplit::new(train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_names_cover_raw_gz_and_dotted() {
        let names = candidate_names(&["t10k", "test"], "labels-idx1-ubyte");
        assert_eq!(
            names,
            [
                "t10k-labels-idx1-ubyte",
                "t10k-labels-idx1-ubyte.gz",
                "t10k-labels.idx1-ubyte",
                "t10k-labels.idx1-ubyte.gz",
                "test-labels-idx1-ubyte",
                "test-labels-idx1-ubyte.gz",
                "test-labels.idx1-ubyte",
                "test-labels.idx1-ubyte.gz",
            ]
        );
    }
}
