//! Integration tests of dataset loading: the embedded MNIST subset, the IDX reader and its
//! error handling, `idx:DIR`, the synthetic task and batch filling.

use std::io::Write;
use std::path::{Path, PathBuf};

use ep_runtime::data::dataset::{Dataset, DatasetSplit};
use ep_runtime::data::idx::{IdxArray, dataset_from_idx, parse_idx, read_idx_file};
use ep_runtime::data::loading::{DATASET_HELP, load_dataset};
use ep_runtime::data::synthetic::synthetic_split;
use ep_runtime::error::EpError;
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Raw IDX bytes: unsigned-byte magic with `dims.len()` dims, then the data.
fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("write to Vec");
    enc.finish().expect("finish gzip")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

/// The reason of a `DatasetFormat` error, after checking that it names `path` both in the
/// variant and in the displayed message.
fn format_reason<T: std::fmt::Debug>(result: Result<T, EpError>, path: &Path) -> String {
    let err = result.expect_err("expected an error");
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()), "message does not name {}: {shown}", path.display());
    match err {
        EpError::DatasetFormat { path: p, reason } => {
            assert_eq!(p, path);
            reason
        }
        other => panic!("expected DatasetFormat, got {other:?}"),
    }
}

/// A small, valid images / labels pair: `n` images of 2×3, labels `i % 10`.
fn small_pair(n: u32) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * 6).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    (idx_bytes(&[n, 2, 3], &pixels), idx_bytes(&[n], &labels))
}

// ---------------------------------------------------------------------------------------
// Embedded mnist10k

#[test]
fn mnist10k_loads_with_expected_shape_and_balance() {
    let split = load_dataset("mnist10k").expect("embedded mnist10k loads");
    let DatasetSplit { train, test } = &split;
    assert_eq!(train.len(), 8004);
    assert_eq!(test.len(), 1996);
    for set in [train, test] {
        assert_eq!(set.image_shape(), (28, 28));
        assert_eq!(set.input_size(), 784);
        assert_eq!(set.classes(), 10);
        assert!(!set.is_empty());
        assert_eq!(set.labels().len(), set.len());
        assert!(set.labels().iter().all(|&l| l < 10));
    }
    assert_eq!(train.name(), "mnist10k/train");
    assert_eq!(test.name(), "mnist10k/test");

    let train_counts = train.class_counts();
    assert_eq!(train_counts.iter().sum::<usize>(), 8004);
    for (class, &c) in train_counts.iter().enumerate() {
        assert!((600..=1000).contains(&c), "class {class}: {c} train examples");
    }
    let test_counts = test.class_counts();
    for (class, &c) in test_counts.iter().enumerate() {
        assert!((150..=250).contains(&c), "class {class}: {c} test examples");
    }
    // The split keeps every fifth sample of each class for test: about 4:1 per class.
    for (tr, te) in train_counts.iter().zip(&test_counts) {
        let ratio = *tr as f64 / *te as f64;
        assert!((3.8..=4.2).contains(&ratio), "train/test ratio {ratio}");
    }
}

#[test]
fn mnist10k_pixel_statistics_are_sane() {
    let split = load_dataset("mnist10k").expect("embedded mnist10k loads");
    for set in [&split.train, &split.test] {
        let all = set.all_pixels();
        assert_eq!(all.len(), set.len() * 784);
        let mean = all.iter().map(|&p| f64::from(p)).sum::<f64>() / all.len() as f64;
        // MNIST's mean intensity is about 0.13 × 255 ≈ 33.
        assert!((25.0..45.0).contains(&mean), "mean pixel {mean}");
        assert_eq!(all.iter().max(), Some(&255));
        assert_eq!(all.iter().min(), Some(&0));
        let ink = all.iter().filter(|&&p| p > 0).count() as f64 / all.len() as f64;
        assert!((0.12..0.30).contains(&ink), "fraction of non-zero pixels {ink}");
        for i in 0..set.len() {
            let px = set.pixels(i);
            assert_eq!(px.len(), 784);
            let lit = px.iter().filter(|&&p| p > 0).count();
            assert!((20..=500).contains(&lit), "example {i} has {lit} lit pixels");
            // Digits are centred: the outermost ring of pixels is nearly always blank.
            let border: u32 =
                (0..28).flat_map(|k| [k, 27 * 28 + k, k * 28, k * 28 + 27]).map(|j| u32::from(px[j])).sum();
            assert!(border < 255 * 8, "example {i} has a bright border");
        }
    }
}

#[test]
fn mnist10k_is_the_same_on_every_load() {
    let a = load_dataset("mnist10k").expect("load");
    let b = load_dataset(" mnist10k ").expect("load with whitespace");
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------
// IDX round trips

#[test]
fn raw_and_gz_idx_round_trip_through_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..=255u8).cycle().take(3 * 5 * 7).collect();
    let raw = idx_bytes(&[3, 5, 7], &data);
    let raw_path = write(dir.path(), "x-idx3-ubyte", &raw);
    let gz_path = write(dir.path(), "x-idx3-ubyte.gz", &gzip(&raw));
    for path in [&raw_path, &gz_path] {
        let a = read_idx_file(path).expect("valid IDX");
        assert_eq!(a.dims, [3, 5, 7]);
        assert_eq!(a.data, data);
        assert_eq!(a.magic(), 0x0000_0803);
        assert_eq!(a.to_bytes().expect("serialise"), raw);
    }
    // 1, 2 and 4 dims are valid IDX too.
    for dims in [&[4u32][..], &[2, 2], &[1, 2, 1, 2]] {
        let n = dims.iter().product::<u32>() as usize;
        let bytes = idx_bytes(dims, &vec![9; n]);
        let a = parse_idx(&bytes, Path::new("mem")).expect("valid");
        assert_eq!(a.dims.len(), dims.len());
        assert_eq!(a.data.len(), n);
    }
}

#[test]
fn dataset_from_idx_builds_a_dataset() {
    let (images, labels) = small_pair(12);
    let ip = Path::new("images");
    let lp = Path::new("labels");
    let ds = dataset_from_idx(
        "small",
        parse_idx(&images, ip).expect("images"),
        parse_idx(&labels, lp).expect("labels"),
        ip,
        lp,
    )
    .expect("dataset");
    assert_eq!(ds.len(), 12);
    assert_eq!(ds.image_shape(), (2, 3));
    assert_eq!(ds.classes(), 10);
    assert_eq!(ds.labels()[11], 1);
    assert_eq!(ds.pixels(1), &images[16 + 6..16 + 12]);
}

// ---------------------------------------------------------------------------------------
// Corrupt IDX files

#[test]
fn wrong_magic_names_expected_and_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = idx_bytes(&[1], &[0]);
    bytes[0] = 0x12;
    bytes[1] = 0x34;
    let path = write(dir.path(), "bad-magic", &bytes);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("wrong magic"), "{reason}");
    assert!(reason.contains("0x12340801"), "{reason}");
    assert!(reason.contains("0x00000803"), "{reason}");
}

#[test]
fn labels_given_as_images_is_a_wrong_magic() {
    let (images, labels) = small_pair(4);
    let ip = Path::new("/data/train-images-idx3-ubyte");
    let lp = Path::new("/data/train-labels-idx1-ubyte");
    let labels_arr = parse_idx(&labels, lp).expect("labels");
    let images_arr = parse_idx(&images, ip).expect("images");
    // Swapped: the labels array where images are expected.
    let r = dataset_from_idx("x", labels_arr.clone(), labels_arr, ip, lp);
    let reason = format_reason(r, ip);
    assert!(reason.contains("images") && reason.contains("0x00000803"), "{reason}");
    assert!(reason.contains("0x00000801"), "{reason}");
    let r = dataset_from_idx("x", images_arr.clone(), images_arr, ip, lp);
    let reason = format_reason(r, lp);
    assert!(reason.contains("labels") && reason.contains("0x00000801"), "{reason}");
}

#[test]
fn truncated_header_and_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = idx_bytes(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);

    let path = write(dir.path(), "short-data", &full[..full.len() - 3]);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("says 8 bytes of data, file has 5"), "{reason}");

    let path = write(dir.path(), "short-header", &full[..9]);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("truncated header"), "{reason}");

    let path = write(dir.path(), "empty", &[]);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("truncated header"), "{reason}");

    // gzip: the decompressed content is short.
    let path = write(dir.path(), "short-data.gz", &gzip(&full[..full.len() - 3]));
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("says 8 bytes of data") && reason.contains("has 5"), "{reason}");

    // gzip: the compressed stream itself is cut.
    let zipped = gzip(&full);
    let path = write(dir.path(), "cut.gz", &zipped[..zipped.len() / 2]);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("gzip") || reason.contains("truncated"), "{reason}");
}

#[test]
fn huge_claimed_size_is_rejected_without_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 10^9 images of 28×28 = 784 GB announced, 3 bytes present.
    let bytes = idx_bytes(&[1_000_000_000, 28, 28], &[1, 2, 3]);
    let path = write(dir.path(), "huge", &bytes);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("784000000000") && reason.contains("has 3"), "{reason}");

    let path = write(dir.path(), "huge.gz", &gzip(&bytes));
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("784000000000") && reason.contains("limit"), "{reason}");

    // A product that overflows usize.
    let bytes = idx_bytes(&[u32::MAX; 4], &[]);
    let path = write(dir.path(), "overflow", &bytes);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("addressed"), "{reason}");

    // 10^9 labels claimed with 3 present.
    let bytes = idx_bytes(&[1_000_000_000], &[1, 2, 3]);
    let path = write(dir.path(), "huge-labels.gz", &gzip(&bytes));
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("1000000000") && reason.contains("has 3"), "{reason}");
}

#[test]
fn trailing_bytes_are_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = idx_bytes(&[2], &[1, 2, 3, 4]);
    let path = write(dir.path(), "trailing", &bytes);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("trailing") && reason.contains("2 unexpected"), "{reason}");
    let path = write(dir.path(), "trailing.gz", &gzip(&bytes));
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("trailing") && reason.contains("2 more"), "{reason}");
    // Junk after a complete gzip member.
    let mut zipped = gzip(&idx_bytes(&[2], &[1, 2]));
    zipped.extend_from_slice(b"junk after the stream");
    let path = write(dir.path(), "junk.gz", &zipped);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("gzip"), "{reason}");
}

#[test]
fn unsupported_data_type_and_dimension_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = idx_bytes(&[1], &[0, 0, 0, 0]);
    bytes[2] = 0x0D; // float
    let path = write(dir.path(), "float", &bytes);
    let reason = format_reason(read_idx_file(&path), &path);
    assert!(reason.contains("0x0d") && reason.contains("0x08"), "{reason}");

    for ndims in [0u8, 5, 255] {
        let path = write(dir.path(), "dims", &[0, 0, 0x08, ndims, 0, 0, 0, 1, 7]);
        let reason = format_reason(read_idx_file(&path), &path);
        assert!(reason.contains(&format!("{ndims} dimensions")), "{reason}");
    }
}

#[test]
fn label_out_of_range_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (images, _) = small_pair(3);
    let ip = write(dir.path(), "i", &images);
    let lp = write(dir.path(), "l", &idx_bytes(&[3], &[1, 10, 2]));
    let r = dataset_from_idx(
        "x",
        read_idx_file(&ip).expect("images"),
        read_idx_file(&lp).expect("labels"),
        &ip,
        &lp,
    );
    let reason = format_reason(r, &lp);
    assert!(reason.contains("label 10 at index 1"), "{reason}");

    // Dataset::new itself checks labels against classes.
    let r = Dataset::new("y", vec![0; 8], vec![0, 4], 2, 2, 4);
    assert!(matches!(r, Err(EpError::InvalidParameter { .. })), "{r:?}");
}

#[test]
fn image_and_label_counts_must_match() {
    let (images, _) = small_pair(5);
    let (_, labels) = small_pair(4);
    let ip = Path::new("/x/imgs.idx");
    let lp = Path::new("/x/lbls.idx");
    let r = dataset_from_idx(
        "x",
        parse_idx(&images, ip).expect("images"),
        parse_idx(&labels, lp).expect("labels"),
        ip,
        lp,
    );
    match r {
        Err(EpError::DatasetMismatch(msg)) => {
            for needle in ["5 images", "4 labels", "/x/imgs.idx", "/x/lbls.idx"] {
                assert!(msg.contains(needle), "{msg} lacks {needle}");
            }
        }
        other => panic!("expected DatasetMismatch, got {other:?}"),
    }
}

#[test]
fn inconsistent_idx_array_fields_are_rejected() {
    let ip = Path::new("i");
    let lp = Path::new("l");
    let images = IdxArray { dims: vec![2, 2, 2], data: vec![0; 7] };
    let labels = IdxArray { dims: vec![2], data: vec![0, 1] };
    let reason = format_reason(dataset_from_idx("x", images, labels.clone(), ip, lp), ip);
    assert!(reason.contains("do not match"), "{reason}");
    let empty = IdxArray { dims: vec![0, 2, 2], data: vec![] };
    let none = IdxArray { dims: vec![0], data: vec![] };
    assert!(dataset_from_idx("x", empty, none, ip, lp).is_err());
    assert!(IdxArray { dims: vec![], data: vec![] }.to_bytes().is_err());
}

#[test]
fn missing_file_is_a_dataset_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope");
    match read_idx_file(&path) {
        Err(EpError::DatasetIo { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected DatasetIo, got {other:?}"),
    }
}

#[test]
fn random_corruptions_never_panic() {
    let (images, labels) = small_pair(3);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let origin = Path::new("fuzz");
    for base in [images.clone(), labels.clone(), gzip(&images), gzip(&labels)] {
        for _ in 0..2000 {
            let mut b = base.clone();
            match rng.random_range(0..4u8) {
                0 => {
                    let i = rng.random_range(0..b.len());
                    b[i] = rng.random();
                }
                1 => b.truncate(rng.random_range(0..b.len())),
                2 => b.push(rng.random()),
                _ => {
                    let i = rng.random_range(0..b.len().min(16));
                    b[i] = rng.random();
                }
            }
            if let Ok(a) = parse_idx(&b, origin) {
                let n: usize = a.dims.iter().product();
                assert_eq!(a.data.len(), n);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// idx:DIR

fn write_mnist_like(dir: &Path, test_prefix: &str, gz: bool) {
    let (train_i, train_l) = small_pair(20);
    let (test_i, test_l) = small_pair(10);
    let enc = |b: &[u8]| if gz { gzip(b) } else { b.to_vec() };
    let sfx = if gz { ".gz" } else { "" };
    write(dir, &format!("train-images-idx3-ubyte{sfx}"), &enc(&train_i));
    write(dir, &format!("train-labels-idx1-ubyte{sfx}"), &enc(&train_l));
    write(dir, &format!("{test_prefix}-images-idx3-ubyte{sfx}"), &enc(&test_i));
    write(dir, &format!("{test_prefix}-labels-idx1-ubyte{sfx}"), &enc(&test_l));
}

#[test]
fn idx_dir_loads_raw_and_gz_with_either_test_prefix() {
    for (prefix, gz) in [("t10k", false), ("test", true), ("t10k", true), ("test", false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        write_mnist_like(dir.path(), prefix, gz);
        let spec = format!("idx:{}", dir.path().display());
        let split = load_dataset(&spec).expect("idx dir loads");
        assert_eq!(split.train.len(), 20);
        assert_eq!(split.test.len(), 10);
        assert_eq!(split.train.image_shape(), (2, 3));
        assert_eq!(split.test.classes(), 10);
    }
}

#[test]
fn idx_dir_missing_file_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_mnist_like(dir.path(), "t10k", true);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).expect("remove");
    let err = load_dataset(&format!("idx:{}", dir.path().display())).expect_err("missing file");
    // The message and its cause, as the command line prints them.
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        msg.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(matches!(err, EpError::DatasetIo { .. }), "{err:?}");
    for needle in [
        "t10k-labels-idx1-ubyte",
        "t10k-labels-idx1-ubyte.gz",
        "test-labels-idx1-ubyte",
        "test-labels-idx1-ubyte.gz",
    ] {
        assert!(msg.contains(needle), "{msg} lacks {needle}");
    }
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");

    let err = load_dataset("idx:/definitely/not/here").expect_err("no dir");
    assert!(err.to_string().contains("/definitely/not/here"), "{err}");
}

#[test]
fn idx_dir_with_swapped_files_names_images_or_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_mnist_like(dir.path(), "t10k", false);
    let (_, labels) = small_pair(20);
    let images_path = write(dir.path(), "train-images-idx3-ubyte", &labels);
    let err = load_dataset(&format!("idx:{}", dir.path().display())).expect_err("swapped");
    let reason = format_reason::<()>(Err(err), &images_path);
    assert!(reason.contains("images file") && reason.contains("labels"), "{reason}");
}

#[test]
fn idx_dir_with_mismatched_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_mnist_like(dir.path(), "t10k", false);
    let pixels = vec![0u8; 10 * 4];
    write(dir.path(), "t10k-images-idx3-ubyte", &idx_bytes(&[10, 2, 2], &pixels));
    let err = load_dataset(&format!("idx:{}", dir.path().display())).expect_err("mismatch");
    assert!(matches!(err, EpError::DatasetMismatch(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// Specs and the synthetic task

#[test]
fn unknown_and_malformed_specs() {
    for spec in ["", "mnist", "cifar10", "MNIST10K", "idx", "synthetic:"] {
        let r = load_dataset(spec);
        assert!(
            matches!(r, Err(EpError::UnknownDataset(_)) | Err(EpError::InvalidParameter { .. })),
            "{spec}: {r:?}"
        );
    }
    assert!(matches!(load_dataset("cifar10"), Err(EpError::UnknownDataset(s)) if s == "cifar10"));
    for spec in ["synthetic:seed=", "synthetic:seed=-1", "synthetic:seed=x", "synthetic:foo=1", "idx:"] {
        assert!(matches!(load_dataset(spec), Err(EpError::InvalidParameter { .. })), "{spec}");
    }
    for name in ["mnist10k", "synthetic", "seed=", "idx:"] {
        assert!(DATASET_HELP.contains(name), "help lacks {name}");
    }
}

#[test]
fn synthetic_is_deterministic_and_seed_dependent() {
    let a = synthetic_split(3).expect("synthetic");
    let b = synthetic_split(3).expect("synthetic");
    let c = synthetic_split(4).expect("synthetic");
    assert_eq!(a, b);
    assert_ne!(a.train.all_pixels(), c.train.all_pixels());
    assert_ne!(a.train.labels(), c.train.labels());
    assert_eq!(load_dataset("synthetic").expect("default"), synthetic_split(0).expect("seed 0"));
    assert_eq!(load_dataset("synthetic:seed=3").expect("seed 3"), a);
    assert_eq!(a.train.len(), 400);
    assert_eq!(a.test.len(), 200);
    assert_eq!(a.train.image_shape(), (4, 4));
    assert_eq!(a.train.classes(), 4);
    assert_eq!(a.train.class_counts(), [100; 4]);
    assert_eq!(a.test.class_counts(), [50; 4]);
}

#[test]
fn synthetic_is_learnable() {
    // A nearest-centroid classifier fitted on train must do well on test.
    let split = synthetic_split(11).expect("synthetic");
    let (train, test) = (&split.train, &split.test);
    let size = train.input_size();
    let mut centroids = vec![vec![0f64; size]; train.classes()];
    for (i, &l) in train.labels().iter().enumerate() {
        for (c, &p) in centroids[usize::from(l)].iter_mut().zip(train.pixels(i)) {
            *c += f64::from(p) / 100.0;
        }
    }
    let correct = (0..test.len())
        .filter(|&i| {
            let px = test.pixels(i);
            let best = centroids
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    let d: f64 = c.iter().zip(px).map(|(a, &b)| (a - f64::from(b)).powi(2)).sum();
                    (k, d)
                })
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(k, _)| k);
            best == Some(usize::from(test.labels()[i]))
        })
        .count();
    assert!(correct * 100 >= 90 * test.len(), "{correct}/{} correct", test.len());
}

// ---------------------------------------------------------------------------------------
// Dataset API

fn tiny() -> Dataset {
    // 3 examples of 1×2 pixels, 3 classes.
    Dataset::new("tiny", vec![0, 255, 51, 102, 204, 153], vec![2, 0, 1], 1, 2, 3).expect("tiny")
}

#[test]
fn fill_batch_and_targets_values() {
    let ds = tiny();
    let mut x = Array2::<f32>::from_elem((3, 2), -1.0);
    ds.fill_batch(&[2, 0, 2], &mut x.view_mut());
    assert_eq!(x, ndarray::array![[0.8, 0.6], [0.0, 1.0], [0.8, 0.6]]);
    let mut t = Array2::<f32>::from_elem((3, 3), -1.0);
    ds.fill_targets(&[2, 0, 1], &mut t.view_mut());
    assert_eq!(t, ndarray::array![[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]);

    // Into a column slice of a larger, non-contiguous array.
    let mut big = Array2::<f32>::zeros((2, 5));
    let mut view = big.slice_mut(ndarray::s![.., 1..3]);
    ds.try_fill_batch(&[1, 0], &mut view).expect("shape fits");
    assert_eq!(big, ndarray::array![[0.0, 0.2, 0.4, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]]);

    // Every byte maps to byte / 255 exactly.
    let all = Dataset::new("all", (0..=255u8).collect(), vec![0], 16, 16, 1).expect("all");
    let mut x = Array2::<f32>::zeros((1, 256));
    all.fill_batch(&[0], &mut x.view_mut());
    for (b, v) in x.iter().enumerate() {
        assert_eq!(*v, b as f32 / 255.0);
    }
}

/// A batch large enough to be filled by two threads (rows in blocks) gets the numbers of one
/// thread, and its errors leave it untouched the same way.
#[test]
fn fill_batch_on_threads_equals_one_thread() {
    let (w, rows) = (28 * 28, 64);
    let pixels: Vec<u8> = (0..100 * w).map(|i| (i * 7919 % 256) as u8).collect();
    let labels: Vec<u8> = (0..100).map(|i| (i % 10) as u8).collect();
    let ds = Dataset::new("big", pixels, labels, 28, 28, 10).expect("big");
    let indices: Vec<usize> = (0..rows).map(|i| (i * 37) % 100).collect();
    let mut one = Array2::<f32>::from_elem((rows, w), -1.0);
    ds.try_fill_batch_threads(&indices, &mut one.view_mut(), 1).expect("fits");
    let mut two = Array2::<f32>::from_elem((rows, w), -1.0);
    ds.try_fill_batch_threads(&indices, &mut two.view_mut(), 2).expect("fits");
    assert_eq!(one, two);
    let example = 37 * 5 % 100;
    assert_eq!(one[[5, 3]], f32::from(((example * w + 3) * 7919 % 256) as u8) / 255.0);
    let bad: Vec<usize> = indices.iter().map(|&i| if i == 74 { 100 } else { i }).collect();
    let mut x = Array2::<f32>::from_elem((rows, w), -1.0);
    assert!(matches!(
        ds.try_fill_batch_threads(&bad, &mut x.view_mut(), 2),
        Err(EpError::InvalidParameter { .. })
    ));
    assert!(x.iter().all(|&v| v == -1.0), "untouched on error");
}

#[test]
fn fill_is_lenient_and_try_fill_reports() {
    let ds = tiny();
    // Bad index: zero row, no panic.
    let mut x = Array2::<f32>::from_elem((2, 2), -1.0);
    ds.fill_batch(&[1, 99], &mut x.view_mut());
    assert_eq!(x, ndarray::array![[0.2, 0.4], [0.0, 0.0]]);
    let mut t = Array2::<f32>::from_elem((2, 3), -1.0);
    ds.fill_targets(&[99, 0], &mut t.view_mut());
    assert_eq!(t, ndarray::array![[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    // Wrong shapes: partial writes, no panic.
    let mut x = Array2::<f32>::from_elem((1, 3), -1.0);
    ds.fill_batch(&[0, 1, 2], &mut x.view_mut());
    assert_eq!(x, ndarray::array![[0.0, 1.0, 0.0]]);
    let mut t = Array2::<f32>::from_elem((1, 1), -1.0);
    ds.fill_targets(&[0], &mut t.view_mut());
    assert_eq!(t, ndarray::array![[0.0]]);
    ds.fill_batch(&[], &mut Array2::<f32>::zeros((0, 2)).view_mut());

    let mut x = Array2::<f32>::from_elem((2, 2), -1.0);
    assert!(matches!(ds.try_fill_batch(&[0, 3], &mut x.view_mut()), Err(EpError::InvalidParameter { .. })));
    assert!(x.iter().all(|&v| v == -1.0), "untouched on error");
    assert!(matches!(ds.try_fill_batch(&[0], &mut x.view_mut()), Err(EpError::DatasetMismatch(_))));
    let mut t = Array2::<f32>::zeros((2, 2));
    assert!(matches!(ds.try_fill_targets(&[0, 1], &mut t.view_mut()), Err(EpError::DatasetMismatch(_))));
    let mut t = Array2::<f32>::zeros((2, 3));
    ds.try_fill_targets(&[0, 1], &mut t.view_mut()).expect("fits");
    assert_eq!(t, ndarray::array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]);
}

#[test]
fn accessors_and_truncation() {
    let ds = tiny();
    assert_eq!(ds.name(), "tiny");
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.input_size(), 2);
    assert_eq!(ds.image_shape(), (1, 2));
    assert_eq!(ds.pixels(1), &[51, 102]);
    assert!(ds.pixels(3).is_empty());
    assert!(ds.pixels(usize::MAX).is_empty());
    let t = ds.truncated(2);
    assert_eq!(t.len(), 2);
    assert_eq!(t.labels(), &[2, 0]);
    assert_eq!(t.pixels(1), &[51, 102]);
    assert!(t.pixels(2).is_empty());
    assert_eq!(ds.truncated(100), ds);
    let empty = ds.truncated(0);
    assert!(empty.is_empty());
    assert_eq!(empty.classes(), 3);
    assert!(format!("{ds:?}").contains("tiny"));
}

#[test]
fn split_requires_matching_shapes_and_classes() {
    let a = tiny();
    let b = Dataset::new("b", vec![0; 4], vec![0, 1], 2, 1, 3).expect("b");
    let c = Dataset::new("c", vec![0; 2], vec![0], 1, 2, 4).expect("c");
    assert!(matches!(DatasetSplit::new(a.clone(), b), Err(EpError::DatasetMismatch(_))));
    assert!(matches!(DatasetSplit::new(a.clone(), c), Err(EpError::DatasetMismatch(_))));
    assert!(DatasetSplit::new(a.clone(), a.truncated(1)).is_ok());
}
