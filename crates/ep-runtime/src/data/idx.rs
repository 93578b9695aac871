//! Reader for the IDX format used by MNIST, raw or gzip-compressed.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, a data-type byte and a
//! dimension count), one big-endian `u32` per dimension, then the data. Only the
//! unsigned-byte data type (`0x08`) is supported, with 1 to 4 dimensions.
//!
//! The reader never trusts the header: the number of data bytes it announces is
//! computed with checked arithmetic and compared with what the file really holds
//! before anything of that size is allocated, and gzip input is decompressed with
//! a hard cap ([`MAX_DECOMPRESSED_BYTES`]).

use std::io::Read;
use std::path::Path;

use crate::data::dataset::Dataset;
use crate::error::{EpError, Result};

/// Magic number of an IDX file holding images: unsigned bytes, 3 dimensions.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;

/// Magic number of an IDX file holding labels: unsigned bytes, 1 dimension.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Largest number of bytes a gzip-compressed IDX file may decompress to (1 GiB),
/// and the largest IDX file [`read_idx_file`] will read.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// Largest number of dimensions accepted in an IDX header.
pub const MAX_IDX_DIMS: usize = 4;

/// Number of classes of the MNIST-style datasets built by [`dataset_from_idx`].
pub const IDX_CLASSES: usize = 10;

/// The only supported IDX data type: unsigned byte.
const DTYPE_U8: u8 = 0x08;

/// An IDX tensor of unsigned bytes: dims and data.
#[derive(Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first (e.g. `[count, rows, cols]`).
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The magic number this array would have in an IDX file (`0x0000_08NN`, NN = number of dims).
    pub fn magic(&self) -> u32 {
        0x0800 | (self.dims.len() as u32 & 0xff)
    }

    /// Serialises the array as raw (uncompressed) IDX bytes.
    ///
    /// Fails with [`EpError::InvalidParameter`] when the dims are not 1 to 4 values that fit in
    /// a `u32`, or when `data.len()` is not their product.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let invalid = |allowed: &str| EpError::InvalidParameter {
            field: "dims".to_string(),
            value: format!("{:?} with {} data bytes", self.dims, self.data.len()),
            allowed: allowed.to_string(),
        };
        if self.dims.is_empty() || self.dims.len() > MAX_IDX_DIMS {
            return Err(invalid("1 to 4 dimensions"));
        }
        let expected =
            element_count(&self.dims).ok_or_else(|| invalid("dimensions whose product fits in memory"))?;
        if expected != self.data.len() {
            return Err(invalid("data length equal to the product of the dimensions"));
        }
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        out.extend_from_slice(&self.magic().to_be_bytes());
        for &d in &self.dims {
            let d = u32::try_from(d).map_err(|_| invalid("dimensions below 2^32"))?;
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

impl std::fmt::Debug for IdxArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxArray").field("dims", &self.dims).field("data_len", &self.data.len()).finish()
    }
}

/// What an IDX file is expected to hold, when the caller knows it; used for the
/// magic check and for clearer error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdxKind {
    /// An images file: magic 0x00000803.
    Images,
    /// A labels file: magic 0x00000801.
    Labels,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            IdxKind::Images => IDX_IMAGES_MAGIC,
            IdxKind::Labels => IDX_LABELS_MAGIC,
        }
    }

    fn dims(self) -> usize {
        match self {
            IdxKind::Images => 3,
            IdxKind::Labels => 1,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        }
    }
}

fn format_err(origin: &Path, reason: impl Into<String>) -> EpError {
    EpError::DatasetFormat { path: origin.to_path_buf(), reason: reason.into() }
}

fn plural_dims(n: usize) -> String {
    if n == 1 { "1 dim".to_string() } else { format!("{n} dims") }
}

/// The message for a file of the expected type whose dimension count does not fit `kind`.
fn wrong_kind_reason(kind: IdxKind, ndims: usize) -> String {
    let found = 0x0800 | (ndims as u32 & 0xff);
    let hint = match ndims {
        1 => " (this looks like a labels file)",
        3 => " (this looks like an images file)",
        _ => "",
    };
    format!(
        "wrong magic in {} file: expected 0x{:08x} ({}), found 0x{found:08x} ({}){hint}",
        kind.noun(),
        kind.magic(),
        plural_dims(kind.dims()),
        plural_dims(ndims)
    )
}

/// Product of the dims, or `None` on overflow.
fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

fn dtype_name(dtype: u8) -> &'static str {
    match dtype {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => "unknown type",
    }
}

/// Reads as many bytes as possible into `buf`; returns how many were read (less than
/// `buf.len()` only at end of stream).
fn fill<R: Read>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Where the bytes come from, for messages and for mapping read errors.
struct Source<'a> {
    origin: &'a Path,
    kind: Option<IdxKind>,
    gzip: bool,
}

impl Source<'_> {
    fn err(&self, reason: impl Into<String>) -> EpError {
        format_err(self.origin, reason)
    }

    /// A read error: with gzip input it means the compressed stream is corrupt.
    fn read_err(&self, e: &std::io::Error) -> EpError {
        if self.gzip {
            self.err(format!("gzip stream is corrupt: {e}"))
        } else {
            self.err(format!("read error: {e}"))
        }
    }

    fn what(&self) -> &'static str {
        if self.gzip { "decompressed file" } else { "file" }
    }

    /// Checks the 4 magic bytes, returns the number of dims.
    fn check_magic(&self, magic: [u8; 4]) -> Result<usize> {
        let found = u32::from_be_bytes(magic);
        let [z0, z1, dtype, ndims] = magic;
        let expected = match self.kind {
            Some(kind) => format!("0x{:08x} ({})", kind.magic(), kind.noun()),
            None => format!(
                "0x{IDX_IMAGES_MAGIC:08x} (images) or 0x{IDX_LABELS_MAGIC:08x} (labels), \
                 or another 0x000008NN"
            ),
        };
        let whose = self.kind.map(|k| format!("{} file", k.noun())).unwrap_or_else(|| "file".to_string());
        if z0 != 0 || z1 != 0 {
            return Err(self.err(format!(
                "wrong magic in {whose}: expected {expected}, found 0x{found:08x} \
                 (an IDX file starts with two zero bytes); is this an IDX file?"
            )));
        }
        if dtype != DTYPE_U8 {
            return Err(self.err(format!(
                "unsupported IDX data type 0x{dtype:02x} ({}) in {whose} (magic 0x{found:08x}): \
                 only 0x08 (unsigned byte) is supported; expected magic {expected}",
                dtype_name(dtype)
            )));
        }
        let ndims = usize::from(ndims);
        if ndims == 0 || ndims > MAX_IDX_DIMS {
            return Err(self.err(format!(
                "IDX header of {whose} declares {ndims} dimensions (magic 0x{found:08x}); \
                 1 to {MAX_IDX_DIMS} are supported"
            )));
        }
        if let Some(kind) = self.kind.filter(|k| ndims != k.dims()) {
            return Err(self.err(wrong_kind_reason(kind, ndims)));
        }
        Ok(ndims)
    }

    /// Reads and validates the header: returns the dims and the number of data bytes they
    /// announce.
    fn read_header<R: Read>(&self, reader: &mut R) -> Result<(Vec<usize>, usize)> {
        let mut magic = [0u8; 4];
        let got = fill(reader, &mut magic).map_err(|e| self.read_err(&e))?;
        if got < magic.len() {
            return Err(self.err(format!(
                "truncated header: the {} has {got} bytes, an IDX header needs at least 4",
                self.what()
            )));
        }
        let ndims = self.check_magic(magic)?;
        let mut raw_dims = [0u8; 4 * MAX_IDX_DIMS];
        let dims_bytes = raw_dims.get_mut(..4 * ndims).unwrap_or_default();
        let got = fill(reader, dims_bytes).map_err(|e| self.read_err(&e))?;
        if got < dims_bytes.len() {
            return Err(self.err(format!(
                "truncated header: {ndims} dimensions need {} header bytes, the {} has {}",
                4 + 4 * ndims,
                self.what(),
                4 + got
            )));
        }
        let dims: Vec<usize> = dims_bytes
            .chunks_exact(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b.copy_from_slice(c);
                // u32 always fits in usize on the 32- and 64-bit targets Rust supports here;
                // saturate instead of failing on anything smaller.
                usize::try_from(u32::from_be_bytes(b)).unwrap_or(usize::MAX)
            })
            .collect();
        let len = element_count(&dims).ok_or_else(|| {
            self.err(format!("header dims {dims:?} describe more bytes of data than can be addressed"))
        })?;
        Ok((dims, len))
    }
}

/// Parses IDX bytes (raw, or gzip — detect by the 0x1f 0x8b magic). `origin` is used only in error messages (file path).
///
/// Errors are [`EpError::DatasetFormat`] naming `origin`: wrong magic, a data type other than
/// unsigned byte, 0 or more than 4 dimensions, a truncated header or data, trailing bytes after
/// the data, a corrupt gzip stream, or more than [`MAX_DECOMPRESSED_BYTES`] once decompressed.
pub fn parse_idx(bytes: &[u8], origin: &Path) -> Result<IdxArray> {
    parse_idx_as(bytes, origin, None)
}

/// [`parse_idx`] with an optional expectation of what the file holds.
pub(crate) fn parse_idx_as(bytes: &[u8], origin: &Path, kind: Option<IdxKind>) -> Result<IdxArray> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse_gzip(bytes, origin, kind)
    } else {
        parse_raw(bytes, origin, kind)
    }
}

fn parse_raw(bytes: &[u8], origin: &Path, kind: Option<IdxKind>) -> Result<IdxArray> {
    let src = Source { origin, kind, gzip: false };
    let mut rest = bytes;
    let (dims, expected) = src.read_header(&mut rest)?;
    let header_len = bytes.len() - rest.len();
    if rest.len() < expected {
        return Err(src.err(format!(
            "truncated data: header (dims {dims:?}) says {expected} bytes of data, \
             file has {} ({} bytes in all, {header_len} of header)",
            rest.len(),
            bytes.len()
        )));
    }
    if rest.len() > expected {
        return Err(src.err(format!(
            "trailing bytes: header (dims {dims:?}) says {expected} bytes of data, \
             file has {} ({} unexpected bytes at the end)",
            rest.len(),
            rest.len() - expected
        )));
    }
    Ok(IdxArray { dims, data: rest.to_vec() })
}

fn parse_gzip(bytes: &[u8], origin: &Path, kind: Option<IdxKind>) -> Result<IdxArray> {
    let src = Source { origin, kind, gzip: true };
    // Concatenated gzip members are valid gzip; anything else after a member is an error.
    let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(MAX_DECOMPRESSED_BYTES);
    let (dims, expected) = src.read_header(&mut reader)?;
    let header_len = 4 + 4 * dims.len();
    let budget = MAX_DECOMPRESSED_BYTES.saturating_sub(header_len as u64);
    let expected_u64 = u64::try_from(expected).unwrap_or(u64::MAX);
    if expected_u64 > budget {
        return Err(src.err(format!(
            "header (dims {dims:?}) says {expected} bytes of data; with the {header_len}-byte \
             header that is more than the limit of {MAX_DECOMPRESSED_BYTES} decompressed bytes"
        )));
    }
    // Never reserve more than the compressed input could plausibly expand to up front; the
    // vector grows as real data arrives.
    let reserve = expected.min(bytes.len().saturating_mul(8));
    let mut data = Vec::with_capacity(reserve);
    let mut limited = reader.by_ref().take(expected_u64.saturating_add(1));
    limited.read_to_end(&mut data).map_err(|e| src.read_err(&e))?;
    if data.len() < expected {
        return Err(src.err(format!(
            "truncated data: header (dims {dims:?}) says {expected} bytes of data, \
             decompressed file has {}",
            data.len()
        )));
    }
    if data.len() > expected {
        // Count what follows (bounded by the overall cap) to report it.
        let extra = std::io::copy(&mut reader, &mut std::io::sink())
            .map(|n| (n + 1).to_string())
            .unwrap_or_else(|_| "at least 1".to_string());
        return Err(src.err(format!(
            "trailing bytes: header (dims {dims:?}) says {expected} bytes of data, \
             decompressed file has {extra} more"
        )));
    }
    Ok(IdxArray { dims, data })
}

/// Reads and parses an IDX file (gz or raw).
///
/// A file that cannot be opened or read gives [`EpError::DatasetIo`]; a file larger than
/// [`MAX_DECOMPRESSED_BYTES`] or with invalid content gives [`EpError::DatasetFormat`].
pub fn read_idx_file(path: &Path) -> Result<IdxArray> {
    read_idx_file_as(path, None)
}

/// [`read_idx_file`] with an optional expectation of what the file holds.
pub(crate) fn read_idx_file_as(path: &Path, kind: Option<IdxKind>) -> Result<IdxArray> {
    let io_err = |source| EpError::DatasetIo { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    if size > MAX_DECOMPRESSED_BYTES {
        return Err(format_err(
            path,
            format!("file has {size} bytes, more than the limit of {MAX_DECOMPRESSED_BYTES}"),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_DECOMPRESSED_BYTES + 1).read_to_end(&mut bytes).map_err(io_err)?;
    if bytes.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(format_err(
            path,
            format!("file has more than the limit of {MAX_DECOMPRESSED_BYTES} bytes"),
        ));
    }
    parse_idx_as(&bytes, path, kind)
}

/// Combines an images IDX (3 dims, magic 0x00000803) and a labels IDX (1 dim, 0x00000801) into a Dataset with `classes` = 10 unless labels exceed it (then error).
///
/// Errors: [`EpError::DatasetFormat`] when an array has the wrong number of dims (wrong magic),
/// data that does not match its dims, zero-sized images, or a label of 10 or more (naming the
/// file); [`EpError::DatasetMismatch`] when the image and label counts differ (naming both
/// counts and both files).
pub fn dataset_from_idx(
    name: &str,
    images: IdxArray,
    labels: IdxArray,
    images_origin: &Path,
    labels_origin: &Path,
) -> Result<Dataset> {
    let (count, rows, cols) = match images.dims.as_slice() {
        &[n, r, c] => (n, r, c),
        dims => {
            return Err(format_err(images_origin, wrong_kind_reason(IdxKind::Images, dims.len())));
        }
    };
    let label_count = match labels.dims.as_slice() {
        &[n] => n,
        dims => {
            return Err(format_err(labels_origin, wrong_kind_reason(IdxKind::Labels, dims.len())));
        }
    };
    if element_count(&images.dims) != Some(images.data.len()) {
        return Err(format_err(
            images_origin,
            format!("dims {:?} do not match the {} bytes of data", images.dims, images.data.len()),
        ));
    }
    if labels.data.len() != label_count {
        return Err(format_err(
            labels_origin,
            format!("dims {:?} do not match the {} bytes of data", labels.dims, labels.data.len()),
        ));
    }
    if count != label_count {
        return Err(EpError::DatasetMismatch(format!(
            "{count} images in {} but {label_count} labels in {}",
            images_origin.display(),
            labels_origin.display()
        )));
    }
    if rows == 0 || cols == 0 {
        return Err(format_err(
            images_origin,
            format!("images are {rows}x{cols}: both sides must be at least 1"),
        ));
    }
    if count == 0 {
        return Err(format_err(images_origin, "the file holds no images"));
    }
    if let Some((index, &label)) =
        labels.data.iter().enumerate().find(|&(_, &l)| usize::from(l) >= IDX_CLASSES)
    {
        return Err(format_err(
            labels_origin,
            format!("label {label} at index {index} is out of range: classes are 0..={}", IDX_CLASSES - 1),
        ));
    }
    Dataset::new(name, images.data, labels.data, rows, cols, IDX_CLASSES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn origin() -> &'static Path {
        Path::new("/tmp/test.idx")
    }

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).expect("write to Vec");
        enc.finish().expect("finish gzip")
    }

    fn reason(r: Result<IdxArray>) -> String {
        match r {
            Err(EpError::DatasetFormat { path, reason }) => {
                assert_eq!(path, origin());
                reason
            }
            other => format!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn raw_and_gzip_round_trip() {
        let bytes = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        for b in [bytes.clone(), gz(&bytes)] {
            let a = parse_idx(&b, origin());
            assert!(matches!(&a, Ok(a) if a.dims == [2, 3] && a.data == [1, 2, 3, 4, 5, 6]));
        }
        let a = IdxArray { dims: vec![2, 3], data: vec![1, 2, 3, 4, 5, 6] };
        assert_eq!(a.to_bytes().ok(), Some(bytes));
    }

    #[test]
    fn empty_and_short_inputs() {
        for len in 0..4 {
            let r = reason(parse_idx(&[0u8; 4][..len], origin()));
            assert!(r.contains("truncated header"), "{r}");
        }
        let r = reason(parse_idx(&[0, 0, 8, 3, 0, 0, 0, 1], origin()));
        assert!(r.contains("truncated header"), "{r}");
        // Only the gzip magic: a corrupt stream.
        let r = reason(parse_idx(&[0x1f, 0x8b], origin()));
        assert!(r.contains("gzip"), "{r}");
    }

    #[test]
    fn bad_headers() {
        let r = reason(parse_idx(&[1, 2, 8, 1, 0, 0, 0, 0], origin()));
        assert!(r.contains("wrong magic") && r.contains("0x01020801"), "{r}");
        let r = reason(parse_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 0], origin()));
        assert!(r.contains("unsupported") && r.contains("0x0d"), "{r}");
        let r = reason(parse_idx(&[0, 0, 8, 0], origin()));
        assert!(r.contains("0 dimensions"), "{r}");
        let r = reason(parse_idx(&[0, 0, 8, 5], origin()));
        assert!(r.contains("5 dimensions"), "{r}");
        let r = reason(parse_idx_as(&idx(&[1], &[0]), origin(), Some(IdxKind::Images)));
        assert!(r.contains("0x00000803") && r.contains("0x00000801"), "{r}");
    }

    #[test]
    fn huge_claims_do_not_allocate() {
        let b = idx(&[1_000_000_000, 28, 28], &[1, 2, 3]);
        let r = reason(parse_idx(&b, origin()));
        assert!(r.contains("784000000000") && r.contains("has 3"), "{r}");
        let r = reason(parse_idx(&gz(&b), origin()));
        assert!(r.contains("limit"), "{r}");
        let b = idx(&[u32::MAX, u32::MAX, u32::MAX, u32::MAX], &[]);
        let r = reason(parse_idx(&b, origin()));
        assert!(r.contains("addressed"), "{r}");
        // Just under the cap but with tiny data: truncated, no 1 GiB buffer.
        let b = gz(&idx(&[1 << 29], &[7; 10]));
        let r = reason(parse_idx(&b, origin()));
        assert!(r.contains("has 10"), "{r}");
    }

    #[test]
    fn trailing_bytes() {
        let r = reason(parse_idx(&idx(&[2], &[1, 2, 3]), origin()));
        assert!(r.contains("trailing") && r.contains("1 unexpected"), "{r}");
        let r = reason(parse_idx(&gz(&idx(&[2], &[1, 2, 3, 4, 5])), origin()));
        assert!(r.contains("trailing") && r.contains("3 more"), "{r}");
        // Garbage after a complete gzip member.
        let mut b = gz(&idx(&[2], &[1, 2]));
        b.extend_from_slice(b"garbage");
        let r = reason(parse_idx(&b, origin()));
        assert!(r.contains("gzip"), "{r}");
    }

    #[test]
    fn arbitrary_prefixes_never_panic() {
        let full = idx(&[3, 2, 2], &[9; 12]);
        let zipped = gz(&full);
        for b in [&full, &zipped] {
            for len in 0..b.len() {
                assert!(parse_idx(&b[..len], origin()).is_err());
            }
            for i in 0..b.len() {
                let mut c = b.clone();
                c[i] ^= 0xff;
                let _ = parse_idx(&c, origin());
            }
        }
    }
}
