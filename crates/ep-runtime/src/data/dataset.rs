//! Labelled image datasets: the in-memory [`Dataset`] and train/test [`DatasetSplit`]s.

use ndarray::ArrayViewMut2;

use crate::error::{EpError, Result};

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
            let pixels = self.pixels(index);
            // Zipped slices (not an iterator polled per value), so that the division vectorises.
            match row.as_slice_mut() {
                Some(r) => {
                    for (o, &b) in r.iter_mut().zip(pixels) {
                        *o = f32::from(b) / 255.0;
                    }
                    r.iter_mut().skip(pixels.len()).for_each(|o| *o = 0.0);
                }
                None => {
                    let mut pixels = pixels.iter();
                    for o in row.iter_mut() {
                        *o = pixels.next().map_or(0.0, |&b| f32::from(b) / 255.0);
                    }
                }
            }
        }
    }

    /// Like [`Dataset::fill_batch`], but first checks that `out` is `indices.len() ×
    /// input_size()` ([`EpError::DatasetMismatch`] otherwise) and that every index is below
    /// `len()` ([`EpError::InvalidParameter`] otherwise); `out` is untouched on error.
    pub fn try_fill_batch(&self, indices: &[usize], out: &mut ArrayViewMut2<f32>) -> Result<()> {
        self.try_fill_batch_threads(indices, out, 1)
    }

    /// [`Dataset::try_fill_batch`] with blocks of rows on `threads` threads when the batch is large
    /// enough to pay (the same numbers: each row on its own). Rows are read from scattered places
    /// of the dataset, about 0.6 µs each, serial work between two training steps otherwise.
    pub fn try_fill_batch_threads(
        &self,
        indices: &[usize],
        out: &mut ArrayViewMut2<f32>,
        threads: usize,
    ) -> Result<()> {
        self.check_batch(indices, out.dim(), self.input_size(), "input batch")?;
        let min = chip_model::parallel::PARALLEL_MIN_ELEMENTS;
        chip_model::parallel::for_each_row_block(threads, min, out.view_mut(), |rows, mut block| {
            self.fill_batch(&indices[rows], &mut block)
        });
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

#[cfg(test)]
mod tests {
    use super::*;

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
