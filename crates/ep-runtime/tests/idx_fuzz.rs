//! Property tests of the IDX reader: no input may panic, hang or allocate without bound. The seed
//! inputs live in fuzz/corpus/idx/; proptest mutates them and generates headers with any sizes.

use std::path::Path;

use ep_runtime::data::idx::parse_idx;
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/idx");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn origin() -> &'static Path {
    Path::new("fuzz.idx")
}

#[test]
fn corpus_seeds_parse_or_fail_cleanly() {
    let seeds = corpus();
    assert!(seeds.len() >= 4, "corpus missing");
    let ok = seeds.iter().filter(|s| parse_idx(s, origin()).is_ok()).count();
    assert_eq!(ok, 2, "the two valid seeds parse, the two broken ones do not");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_idx(&bytes, origin());
    }

    #[test]
    fn mutated_seeds_never_panic(seed in 0usize..8, at in 0usize..64, value in any::<u8>(), cut in 0usize..64) {
        let seeds = corpus();
        let mut bytes = seeds[seed % seeds.len()].clone();
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = value;
            bytes.truncate(bytes.len().saturating_sub(cut % 4));
        }
        let _ = parse_idx(&bytes, origin());
    }

    #[test]
    fn headers_claiming_any_size_are_checked_before_allocating(
        dims in proptest::collection::vec(any::<u32>(), 1..=4),
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
        for d in &dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(&data);
        let claimed = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)));
        match parse_idx(&bytes, origin()) {
            Ok(array) => prop_assert_eq!(Some(array.data.len() as u64), claimed),
            Err(e) => prop_assert!(e.to_string().contains("fuzz.idx"), "error does not name the file: {}", e),
        }
    }
}
