//! Labelled image datasets: the in-memory [`Dataset`], train/test [`DatasetSplit`]s and
//! [`load_dataset`], which resolves a dataset spec such as `mnist10k` or `idx:DIR`.

use std::path::{Path, PathBuf};

use ndarray::ArrayViewMut2;

use crate::error::{EpError, Result};
use crate::idx::{IdxKind, dataset_from_idx, parse_idx_as, read_idx_file_as};
use crate::synthetic::synthetic_split;

/// One set of labelled examples. Pixels are kept as bytes (0..=255), row-major, one row per example.
///
/// A dataset built by [`Dataset::new`] always has at least one example, and every label is
/// below [`Dataset::classes`].
#[derive(Clone, PartialEq, Eq)]
pub struct Dataset {
    name: String,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
    classes: usize,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("len", &self.labels.len())
            .field("image_shape", &(self.rows, self.cols))
            .field("classes", &self.classes)
            .finish()
    }
}

impl Dataset {
    /// Builds a dataset from `labels.len()` examples of `rows × cols` bytes each, stored
    /// back to back in `pixels`.
    ///
    /// Errors: [`EpError::InvalidParameter`] when `rows`, `cols` or `classes` is 0, when there
    /// are no labels, when `rows × cols` overflows, or when a label is `>= classes`;
    /// [`EpError::DatasetMismatch`] when `pixels.len()` is not `labels.len() × rows × cols`.
    pub fn new(
        name: impl Into<String>,
        pixels: Vec<u8>,
        labels: Vec<u8>,
        rows: usize,
        cols: usize,
        classes: usize,
    ) -> Result<Dataset> {
        let name = name.into();
        let invalid = |field: &str, value: String, allowed: &str| EpError::InvalidParameter {
            field: field.to_string(),
            value,
            allowed: format!("{allowed} (dataset `{name}`)"),
        };
        if rows == 0 || cols == 0 {
            return Err(invalid("image shape", format!("{rows}x{cols}"), "both sides at least 1"));
        }
        if classes == 0 {
            return Err(invalid("classes", "0".to_string(), "at least 1"));
        }
        if labels.is_empty() {
            return Err(invalid("examples", "0".to_string(), "at least one labelled example"));
        }
        let input_size = rows.checked_mul(cols).ok_or_else(|| {
            invalid("image shape", format!("{rows}x{cols}"), "a pixel count that fits in memory")
        })?;
        let expected = labels.len().checked_mul(input_size);
        if expected != Some(pixels.len()) {
            return Err(EpError::DatasetMismatch(format!(
                "dataset `{name}`: {} labels of {rows}x{cols} images need {} pixel bytes, got {}",
                labels.len(),
                expected.map_or_else(|| "too many".to_string(), |e| e.to_string()),
                pixels.len()
            )));
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|&(_, &l)| usize::from(l) >= classes) {
            return Err(invalid(
                "label",
                format!("{label} (example {index})"),
                &format!("a label below the {classes} classes"),
            ));
        }
        Ok(Dataset { name, pixels, labels, rows, cols, classes })
    }

    /// The dataset's name, e.g. `mnist10k/train`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the dataset holds no example (only possible through [`Dataset::truncated`]`(0)`).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of inputs of one example: `rows × cols`.
    pub fn input_size(&self) -> usize {
        self.rows * self.cols
    }

    /// `(rows, cols)` of one image.
    pub fn image_shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Number of classes; every label is below it.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The label of every example, in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of example `index` (`input_size()` bytes, row-major); an index `>= len()`
    /// gives an empty slice.
    pub fn pixels(&self, index: usize) -> &[u8] {
        let size = self.input_size();
        index
            .checked_mul(size)
            .and_then(|start| self.pixels.get(start..start.checked_add(size)?))
            .unwrap_or(&[])
    }

    /// All pixels, example after example (`len() × input_size()` bytes).
    pub fn all_pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Writes examples `indices` into `out` (indices.len() × input_size) as f32 in [0, 1] (byte / 255).
    ///
    /// This never panics. With a correctly shaped `out` and valid indices, row `i` of `out`
    /// receives example `indices[i]`. Otherwise it is lenient: only the first
    /// `min(indices.len(), out.nrows())` rows are written, columns past `input_size()` are set
    /// to 0, extra pixels that do not fit in `out` are dropped, and an index `>= len()` gives a
    /// row of zeros. Use [`Dataset::try_fill_batch`] to have such mistakes reported instead.
    pub fn fill_batch(&self, indices: &[usize], out: &mut ArrayViewMut2<f32>) {
        for (mut row, &index) in out.rows_mut().into_iter().zip(indices) {
            let mut pixels = self.pixels(index).iter();
            for o in row.iter_mut() {
                *o = pixels.next().map_or(0.0, |&b| f32::from(b) / 255.0);
            }
        }
    }

    /// Like [`Dataset::fill_batch`], but first checks that `out` is `indices.len() ×
    /// input_size()` ([`EpError::DatasetMismatch`] otherwise) and that every index is below
    /// `len()` ([`EpError::InvalidParameter`] otherwise); `out` is untouched on error.
    pub fn try_fill_batch(&self, indices: &[usize], out: &mut ArrayViewMut2<f32>) -> Result<()> {
        self.check_batch(indices, out.dim(), self.input_size(), "input batch")?;
        self.fill_batch(indices, out);
        Ok(())
    }

    /// Writes one-hot targets (indices.len() × classes) into `out`.
    ///
    /// This never panics. Row `i` of `out` is set to 0 except a 1 in column
    /// `labels()[indices[i]]`. Like [`Dataset::fill_batch`] it is lenient with a badly shaped
    /// `out` (only rows and columns that exist are written) and gives a row of zeros for an
    /// index `>= len()`; [`Dataset::try_fill_targets`] reports such mistakes instead.
    pub fn fill_targets(&self, indices: &[usize], out: &mut ArrayViewMut2<f32>) {
        for (mut row, &index) in out.rows_mut().into_iter().zip(indices) {
            row.fill(0.0);
            let label = self.labels.get(index).map(|&l| usize::from(l));
            if let Some(cell) = label.and_then(|l| row.get_mut(l)) {
                *cell = 1.0;
            }
        }
    }

    /// Like [`Dataset::fill_targets`], but first checks that `out` is `indices.len() ×
    /// classes()` ([`EpError::DatasetMismatch`] otherwise) and that every index is below
    /// `len()` ([`EpError::InvalidParameter`] otherwise); `out` is untouched on error.
    pub fn try_fill_targets(&self, indices: &[usize], out: &mut ArrayViewMut2<f32>) -> Result<()> {
        self.check_batch(indices, out.dim(), self.classes, "target batch")?;
        self.fill_targets(indices, out);
        Ok(())
    }

    fn check_batch(&self, indices: &[usize], dim: (usize, usize), width: usize, what: &str) -> Result<()> {
        if dim != (indices.len(), width) {
            return Err(EpError::DatasetMismatch(format!(
                "{what} for dataset `{}` is {}x{}, expected {}x{width} ({} indices)",
                self.name,
                dim.0,
                dim.1,
                indices.len(),
                indices.len()
            )));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(EpError::InvalidParameter {
                field: "example index".to_string(),
                value: bad.to_string(),
                allowed: format!("below the {} examples of dataset `{}`", self.len(), self.name),
            });
        }
        Ok(())
    }

    /// The images shrunk by `factor × factor` average pooling (rounded to the nearest byte); the
    /// image sides must be multiples of `factor`.
    pub fn pooled(&self, factor: usize) -> Result<Dataset> {
        let (rows, cols) = self.image_shape();
        if factor == 0 || rows % factor != 0 || cols % factor != 0 {
            return Err(EpError::InvalidParameter {
                field: "pool".to_string(),
                value: factor.to_string(),
                allowed: format!("a factor that divides the image sides {rows}×{cols}"),
            });
        }
        let (pr, pc) = (rows / factor, cols / factor);
        let area = (factor * factor) as u32;
        let mut pixels = Vec::with_capacity(self.len() * pr * pc);
        for k in 0..self.len() {
            let image = self.pixels(k);
            for r in 0..pr {
                for c in 0..pc {
                    let mut sum = 0u32;
                    for dr in 0..factor {
                        for dc in 0..factor {
                            sum += u32::from(image[(r * factor + dr) * cols + c * factor + dc]);
                        }
                    }
                    pixels.push(((sum + area / 2) / area) as u8);
                }
            }
        }
        Dataset::new(
            format!("{}:pool={factor}", self.name()),
            pixels,
            self.labels().to_vec(),
            pr,
            pc,
            self.classes(),
        )
    }

    /// First `n` examples (for quick runs); n larger than len keeps all.
    ///
    /// `truncated(0)` gives an empty dataset (see [`Dataset::is_empty`]).
    pub fn truncated(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        let bytes = n.saturating_mul(self.input_size());
        Dataset {
            name: self.name.clone(),
            pixels: self.pixels.get(..bytes).unwrap_or(&self.pixels).to_vec(),
            labels: self.labels.get(..n).unwrap_or(&self.labels).to_vec(),
            rows: self.rows,
            cols: self.cols,
            classes: self.classes,
        }
    }

    /// How many examples carry each label (`classes()` counts).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }
}

/// A train and a test set with the same input shape and classes (validated in `new`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSplit {
    /// The examples to train on.
    pub train: Dataset,
    /// The held-out examples to evaluate on.
    pub test: Dataset,
}

impl DatasetSplit {
    /// Pairs a train and a test set; [`EpError::DatasetMismatch`] when their image shapes or
    /// class counts differ.
    pub fn new(train: Dataset, test: Dataset) -> Result<Self> {
        if train.image_shape() != test.image_shape() || train.classes() != test.classes() {
            let (tr, tc) = train.image_shape();
            let (er, ec) = test.image_shape();
            return Err(EpError::DatasetMismatch(format!(
                "train set `{}` has {tr}x{tc} images and {} classes, test set `{}` has \
                 {er}x{ec} images and {} classes",
                train.name(),
                train.classes(),
                test.name(),
                test.classes()
            )));
        }
        Ok(DatasetSplit { train, test })
    }
}

/// Names accepted by load_dataset, for help text.
pub const DATASET_HELP: &str = "\
mnist10k: 10,000 real MNIST digits built into the program (8,004 train / 1,996 test, 28x28, 10 classes); \
mnist10k:pool=N: the same digits shrunk by NxN average pooling (N divides 28; pool=4 gives 7x7 = 49 inputs); \
synthetic or synthetic:seed=N: a tiny task of 4x4 bar patterns (4 classes, 400 train / 200 test; seed 0 by default); \
idx:DIR: MNIST-style IDX files in DIR (train-images-idx3-ubyte, train-labels-idx1-ubyte, \
t10k-images-idx3-ubyte or test-images-idx3-ubyte, t10k-labels-idx1-ubyte or test-labels-idx1-ubyte; \
each raw or with a .gz suffix)";

const EMBEDDED_ORIGIN: &str = "<embedded mnist10k>";

const MNIST10K_TRAIN_IMAGES: &[u8] = include_bytes!("../data/mnist-10k/train-images-idx3-ubyte.gz");
const MNIST10K_TRAIN_LABELS: &[u8] = include_bytes!("../data/mnist-10k/train-labels-idx1-ubyte.gz");
const MNIST10K_TEST_IMAGES: &[u8] = include_bytes!("../data/mnist-10k/test-images-idx3-ubyte.gz");
const MNIST10K_TEST_LABELS: &[u8] = include_bytes!("../data/mnist-10k/test-labels-idx1-ubyte.gz");

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

    #[test]
    fn new_validates() {
        assert!(Dataset::new("a", vec![0; 4], vec![0], 2, 2, 2).is_ok());
        assert!(matches!(Dataset::new("a", vec![0; 3], vec![0], 2, 2, 2), Err(EpError::DatasetMismatch(_))));
        assert!(matches!(
            Dataset::new("a", vec![0; 4], vec![2], 2, 2, 2),
            Err(EpError::InvalidParameter { .. })
        ));
        assert!(matches!(Dataset::new("a", vec![], vec![], 2, 2, 2), Err(EpError::InvalidParameter { .. })));
        assert!(matches!(Dataset::new("a", vec![], vec![0], 0, 2, 2), Err(EpError::InvalidParameter { .. })));
        assert!(matches!(
            Dataset::new("a", vec![0; 4], vec![0], 2, 2, 0),
            Err(EpError::InvalidParameter { .. })
        ));
        assert!(matches!(
            Dataset::new("a", vec![], vec![0], usize::MAX, 2, 2),
            Err(EpError::InvalidParameter { .. })
        ));
    }
}
