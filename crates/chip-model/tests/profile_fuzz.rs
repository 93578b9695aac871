//! Property tests of the profile parser and validator: no input may panic, and errors point inside
//! the text. The seed inputs live in fuzz/corpus/profile/ (every built-in profile and a few broken
//! ones); proptest mutates them.

use chip_model::{Chip, ChipError, HardwareProfile};
use proptest::prelude::*;

fn corpus() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/profile");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

/// Parses, and when the profile is valid, builds a chip from it: neither may panic.
fn exercise(text: &str) {
    match HardwareProfile::from_ron_str(text, "fuzz.ron") {
        Ok(profile) => {
            if profile.chip.cores <= 4096 {
                let _ = Chip::new(&profile, 1);
            }
        }
        Err(ChipError::ProfileSyntax { line, column, .. }) => {
            let lines = text.lines().count().max(1);
            assert!(line >= 1 && line <= lines + 1, "line {line} of {lines}");
            assert!(column >= 1, "column {column}");
        }
        Err(_) => {}
    }
}

/// The seeds named after built-in profiles are those profiles: they parse, validate, equal the
/// built-in profile and build a chip, so the mutations start from real profiles (and not only
/// from text the parser rejects). The truncated seed is rejected.
#[test]
fn valid_corpus_seeds_parse_into_their_built_in_profiles() -> Result<(), ChipError> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/profile");
    for name in chip_model::BUILTIN_PROFILE_NAMES {
        let path = format!("{dir}/{name}.ron");
        let text =
            std::fs::read_to_string(&path).map_err(|e| ChipError::InvalidConfig(format!("{path}: {e}")))?;
        let parsed = HardwareProfile::from_ron_str(&text, &path)?;
        parsed.validate()?;
        assert_eq!(parsed, HardwareProfile::load(name)?, "{path} differs from the built-in profile");
        Chip::new(&parsed, 1)?;
    }
    let truncated = std::fs::read_to_string(format!("{dir}/truncated.ron")).unwrap_or_default();
    assert!(!truncated.is_empty(), "truncated.ron missing from the corpus");
    assert!(HardwareProfile::from_ron_str(&truncated, "truncated.ron").is_err());
    Ok(())
}

#[test]
fn corpus_seeds_never_panic() {
    let seeds = corpus();
    assert!(seeds.len() >= 6, "corpus missing: {} files", seeds.len());
    for s in &seeds {
        exercise(s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        exercise(&text);
    }

    #[test]
    fn mutated_profiles_never_panic(
        seed in 0usize..16,
        at in 0.0f64..1.0,
        len in 0usize..40,
        replacement in "[ -~\\n]{0,40}",
    ) {
        let seeds = corpus();
        let base = &seeds[seed % seeds.len()];
        let bytes = base.as_bytes();
        let start = ((bytes.len() as f64) * at) as usize;
        let end = (start + len).min(bytes.len());
        let mut mutated = bytes[..start].to_vec();
        mutated.extend_from_slice(replacement.as_bytes());
        mutated.extend_from_slice(&bytes[end..]);
        exercise(&String::from_utf8_lossy(&mutated));
    }

    #[test]
    fn every_number_replaced_by_any_number_never_panics(
        seed in 0usize..16,
        which in 0usize..200,
        value in prop_oneof![any::<i64>().prop_map(|v| v.to_string()), any::<f64>().prop_map(|v| format!("{v:?}"))],
    ) {
        let seeds = corpus();
        let base = &seeds[seed % seeds.len()];
        // Find the `which`-th numeric literal and replace it.
        let bytes = base.as_bytes();
        let mut starts = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) {
                let s = i;
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_') {
                    i += 1;
                }
                starts.push((s, i));
            } else {
                i += 1;
            }
        }
        if starts.is_empty() {
            return Ok(());
        }
        let (s, e) = starts[which % starts.len()];
        let mutated = format!("{}{}{}", &base[..s], value, &base[e..]);
        exercise(&mutated);
    }
}
