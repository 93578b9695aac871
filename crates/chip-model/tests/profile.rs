//! Hardware profiles: the built-in and on-disk profiles load and validate, round-trip through RON,
//! and every kind of bad input is refused with a precise error.

use chip_model::builtin_profiles::builtin_profile_text;
use chip_model::{Arithmetic, BUILTIN_PROFILE_NAMES, ChipError, HardwareProfile};

/// Path of a file in the workspace's `hardware-profiles/` directory.
fn profile_path(file: &str) -> String {
    format!("{}/../../hardware-profiles/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// The RON text of the built-in loihi2 profile.
fn loihi2_text() -> &'static str {
    builtin_profile_text("loihi2").expect("loihi2 is a built-in profile")
}

/// The RON text of the built-in ideal profile.
fn ideal_text() -> &'static str {
    builtin_profile_text("ideal").expect("ideal is a built-in profile")
}

/// `text` with the single occurrence of `from` replaced by `to` (panics if `from` is not there
/// exactly once, so a change to the shipped profile cannot silently make a test vacuous).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur exactly once in the profile text");
    text.replacen(from, to, 1)
}

/// 1-based line number of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` not found in the text"))
}

/// 1-based column of the first occurrence of `needle` on its line.
fn column_of(text: &str, needle: &str) -> usize {
    let line = text.lines().find(|l| l.contains(needle)).expect("needle present");
    line.find(needle).expect("needle on this line") + 1
}

/// Parses `text` and expects a syntax error; returns (line, column, message, display).
fn syntax_error(text: &str) -> (usize, usize, String, String) {
    match HardwareProfile::from_ron_str(text, "test.ron") {
        Err(e @ ChipError::ProfileSyntax { .. }) => {
            let display = e.to_string();
            let ChipError::ProfileSyntax { origin, line, column, message } = e else { unreachable!() };
            assert_eq!(origin, "test.ron");
            assert!(line >= 1 && column >= 1, "line and column are 1-based: {display}");
            assert!(
                display.starts_with(&format!("test.ron:{line}:{column}: ")),
                "Display is `origin:line:column: message`: {display}"
            );
            (line, column, message, display)
        }
        Err(other) => panic!("expected ProfileSyntax, got {other:?}"),
        Ok(p) => panic!("expected a syntax error, the text parsed as {p:?}"),
    }
}

/// Parses `text` and expects a value error; returns (field, value, allowed, display).
fn value_error(text: &str) -> (String, String, String, String) {
    match HardwareProfile::from_ron_str(text, "test.ron") {
        Err(e @ ChipError::ProfileValue { .. }) => {
            let display = e.to_string();
            let ChipError::ProfileValue { origin, field, value, allowed } = e else { unreachable!() };
            assert_eq!(origin, "test.ron");
            assert!(display.contains(&format!("`{field}`")), "Display names the field: {display}");
            assert!(display.contains(&allowed), "Display names the allowed range: {display}");
            (field, value, allowed, display)
        }
        Err(other) => panic!("expected ProfileValue, got {other:?}"),
        Ok(p) => panic!("expected a value error, the text parsed as {p:?}"),
    }
}

/// Asserts that editing the loihi2 text from `from` to `to` gives a value error on `field`
/// whose allowed range (and Display) mentions `allowed`.
fn assert_loihi2_value_error(from: &str, to: &str, field: &str, allowed: &str) {
    let (f, _value, a, display) = value_error(&edit(loihi2_text(), from, to));
    assert_eq!(f, field, "{display}");
    assert!(a.contains(allowed), "allowed range of {field} should mention `{allowed}`: {display}");
    assert!(display.contains(allowed), "{display}");
}

// ---------------------------------------------------------------------------------------------
// Built-in and on-disk profiles
// ---------------------------------------------------------------------------------------------

#[test]
fn every_builtin_profile_loads_and_validates() {
    assert!(BUILTIN_PROFILE_NAMES.contains(&"ideal"));
    assert!(BUILTIN_PROFILE_NAMES.contains(&"loihi2"));
    for name in BUILTIN_PROFILE_NAMES {
        let p = HardwareProfile::load(name).unwrap_or_else(|e| panic!("built-in `{name}`: {e}"));
        assert_eq!(&p.name, name, "a built-in profile's name is its lookup name");
        assert!(!p.description.is_empty(), "`{name}` has a description");
        p.validate().unwrap_or_else(|e| panic!("built-in `{name}` does not validate: {e}"));
        assert!(builtin_profile_text(name).is_some());
    }
}

#[test]
fn builtin_profiles_have_the_expected_kind() {
    let ideal = HardwareProfile::load("ideal").expect("ideal");
    assert_eq!(ideal.arithmetic, Arithmetic::Float);
    assert!(ideal.digital().is_none());
    assert_eq!(ideal.core_limits.max_neurons, None);

    let loihi2 = HardwareProfile::load("loihi2").expect("loihi2");
    let d = loihi2.digital().expect("loihi2 is digital");
    assert_eq!(loihi2.chip.cores, 128);
    assert_eq!(d.weight_bits, 8);
    assert_eq!(d.state_bits, 24);
    assert_eq!(d.decay_bits, 12);
    assert_eq!(loihi2.core_limits.synapse_memory_bits, Some(1_048_576));
}

#[test]
fn round_trip_through_ron_text_gives_an_equal_profile() {
    for name in BUILTIN_PROFILE_NAMES {
        let p = HardwareProfile::load(name).expect("built-in profile");
        let text = p.to_ron_string();
        assert!(!text.starts_with("/*"), "serialisation failed: {text}");
        let back = HardwareProfile::from_ron_str(&text, "round-trip")
            .unwrap_or_else(|e| panic!("`{name}` does not re-parse: {e}\n{text}"));
        assert_eq!(back, p, "`{name}` changed in the round trip");
        // And a second trip is byte-identical.
        assert_eq!(back.to_ron_string(), text);
    }
}

#[test]
fn profile_files_parse_from_disk_by_path() {
    for name in BUILTIN_PROFILE_NAMES {
        let path = profile_path(&format!("{name}.ron"));
        let from_disk = HardwareProfile::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let builtin = HardwareProfile::load(name).expect("built-in profile");
        assert_eq!(from_disk, builtin, "{path} differs from the embedded `{name}`");
    }
}

#[test]
fn every_file_in_hardware_profiles_is_valid() {
    let dir = profile_path("");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("hardware-profiles/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "ron") {
            let p = path.to_string_lossy().into_owned();
            HardwareProfile::load(&p).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert!(count >= BUILTIN_PROFILE_NAMES.len(), "found only {count} .ron files in {dir}");
}

#[test]
fn description_is_optional() {
    let text = edit(
        ideal_text(),
        "    description: \"floating-point reference twin: no limits, no mismatch\",\n",
        "",
    );
    let p = HardwareProfile::from_ron_str(&text, "test.ron").expect("description defaults to empty");
    assert_eq!(p.description, "");
}

// ---------------------------------------------------------------------------------------------
// Loading by name or path
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_name_lists_the_builtin_profiles() {
    match HardwareProfile::load("no-such-profile") {
        Err(e @ ChipError::UnknownProfile { .. }) => {
            let display = e.to_string();
            let ChipError::UnknownProfile { name, known } = e else { unreachable!() };
            assert_eq!(name, "no-such-profile");
            for builtin in BUILTIN_PROFILE_NAMES {
                assert!(known.contains(builtin), "`{known}` should list `{builtin}`");
                assert!(display.contains(builtin), "{display}");
            }
            assert!(display.contains("no-such-profile"), "{display}");
        }
        other => panic!("expected UnknownProfile, got {other:?}"),
    }
}

#[test]
fn missing_ron_file_is_an_io_error() {
    match HardwareProfile::load("missing.ron") {
        Err(e @ ChipError::ProfileIo { .. }) => {
            let display = e.to_string();
            let ChipError::ProfileIo { path, source } = e else { unreachable!() };
            assert_eq!(path, "missing.ron");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert!(display.contains("missing.ron"), "{display}");
        }
        other => panic!("expected ProfileIo, got {other:?}"),
    }
}

#[test]
fn errors_from_a_file_name_the_file() {
    // chip-model has no tempfile dev-dependency: use a unique name in the system temp directory.
    let path = std::env::temp_dir().join(format!("chip-model-test-{}-cores0.ron", std::process::id()));
    std::fs::write(&path, edit(loihi2_text(), "cores: 128", "cores: 0")).expect("write");
    let p = path.to_string_lossy().into_owned();
    let result = HardwareProfile::load(&p);
    let _ = std::fs::remove_file(&path);
    match result {
        Err(ChipError::ProfileValue { origin, field, .. }) => {
            assert_eq!(origin, p);
            assert_eq!(field, "chip.cores");
        }
        other => panic!("expected ProfileValue, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed RON: ProfileSyntax with a 1-based line and column
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_text_missing_closing_paren_reports_end_of_input() {
    // Drop the final `)`: the error is at the very end of the text.
    let text = loihi2_text().trim_end();
    let text = text.strip_suffix(')').expect("profile ends with `)`");
    let (line, column, message, display) = syntax_error(text);
    let last_line = text.lines().count();
    assert_eq!(line, last_line, "{display}");
    let last_len = text.lines().last().expect("non-empty").chars().count();
    assert_eq!(column, last_len + 1, "{display}");
    assert!(message.to_lowercase().contains("end"), "{display}");
}

#[test]
fn missing_inner_closing_paren_is_reported_on_its_line() {
    // `Digital(DigitalArithmetic( ... ))` loses its outer `)`: the parser notices right after the
    // inner `)` on the same line.
    let text = edit(loihi2_text(), "    )),\n    learning", "    ),\n    learning");
    let (line, column, message, display) = syntax_error(&text);
    let expected_line = line_of(&text, "    learning: LearningEngineSpec(") - 1;
    assert_eq!(line, expected_line, "{display}");
    // ron points just after `),` (where it looked for the missing `)`), before the line break.
    assert_eq!(column, "    ),".len() + 1, "{display}");
    assert!(message.contains(')'), "{display}");
}

#[test]
fn small_text_with_missing_paren() {
    // Hand-made text: line 3 opens `ChipSpec(` and never closes it; `core_limits` on line 4
    // is then an unknown field of ChipSpec at column 5.
    let text = "HardwareProfile(\n    name: \"x\",\n    chip: ChipSpec(cores: 1,\n    core_limits: CoreLimits(),\n)\n";
    let (line, column, _message, display) = syntax_error(text);
    assert_eq!((line, column), (4, 5), "{display}");
}

#[test]
fn wrong_type_is_reported_at_the_value() {
    let text = edit(loihi2_text(), "cores: 128", "cores: \"many\"");
    let (line, column, message, display) = syntax_error(&text);
    assert_eq!(line, line_of(&text, "cores: \"many\""), "{display}");
    // ron reports the position right after `cores:` (before the blank that precedes the value).
    let value_col = column_of(&text, "\"many\"");
    assert!(
        column == value_col || column == value_col - 1,
        "column {column}, value at {value_col}: {display}"
    );
    assert!(message.contains("integer"), "{display}");
}

#[test]
fn wrong_type_for_a_float_field() {
    let text = edit(loihi2_text(), "tau_spread: 0.0", "tau_spread: true");
    let (line, _column, message, display) = syntax_error(&text);
    assert_eq!(line, line_of(&text, "tau_spread: true"), "{display}");
    assert!(message.contains("float"), "{display}");
}

#[test]
fn unknown_field_is_reported_at_its_name() {
    let text = edit(loihi2_text(), "weight_bits: 8,", "weight_bitz: 8,");
    let (line, column, message, display) = syntax_error(&text);
    assert_eq!(line, line_of(&text, "weight_bitz"), "{display}");
    assert_eq!(column, column_of(&text, "weight_bitz"), "{display}");
    assert!(message.contains("weight_bitz"), "{display}");
    assert!(message.contains("weight_bits"), "the message lists the expected fields: {display}");
}

#[test]
fn unknown_top_level_field() {
    let text = edit(
        loihi2_text(),
        "    mismatch: MismatchSpec(",
        "    colour: \"blue\",\n    mismatch: MismatchSpec(",
    );
    let (line, column, message, display) = syntax_error(&text);
    assert_eq!(line, line_of(&text, "colour:"), "{display}");
    assert_eq!(column, 5, "{display}");
    assert!(message.contains("colour"), "{display}");
}

#[test]
fn missing_field_is_reported_at_the_end_of_its_struct() {
    let bias_line = loihi2_text().lines().find(|l| l.contains("bias_bits:")).expect("loihi2 has bias_bits");
    let text = edit(loihi2_text(), &format!("{bias_line}\n"), "");
    let (line, column, message, display) = syntax_error(&text);
    // The parser notices when the DigitalArithmetic struct closes: the `))` line.
    assert_eq!(line, line_of(&text, "    )),"), "{display}");
    assert_eq!(column, 5, "{display}");
    assert!(message.contains("bias_bits"), "{display}");
}

#[test]
fn missing_section_is_a_syntax_error() {
    let text = "HardwareProfile(\n    name: \"x\",\n    chip: ChipSpec(cores: 1),\n)\n";
    let (line, _column, message, display) = syntax_error(text);
    assert_eq!(line, 4, "{display}");
    assert!(message.contains("core_limits"), "{display}");
}

#[test]
fn empty_text_is_a_syntax_error() {
    let (line, column, _message, display) = syntax_error("");
    assert_eq!((line, column), (1, 1), "{display}");
}

// ---------------------------------------------------------------------------------------------
// Out-of-range values: ProfileValue naming the field
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_cores() {
    assert_loihi2_value_error("cores: 128", "cores: 0", "chip.cores", "1..=1048576");
}

#[test]
fn too_many_cores() {
    assert_loihi2_value_error("cores: 128", "cores: 1048577", "chip.cores", "1..=1048576");
}

#[test]
fn weight_bits_zero_and_one() {
    for bits in ["0", "1"] {
        let (field, value, allowed, display) =
            value_error(&edit(loihi2_text(), "weight_bits: 8,", &format!("weight_bits: {bits},")));
        assert_eq!(field, "arithmetic.weight_bits", "{display}");
        assert_eq!(value, bits, "{display}");
        assert!(allowed.contains("2..=16"), "{display}");
    }
}

#[test]
fn negative_tau_spread() {
    assert_loihi2_value_error("tau_spread: 0.0", "tau_spread: -0.1", "mismatch.tau_spread", "[0, 2]");
}

#[test]
fn huge_tau_spread() {
    assert_loihi2_value_error("tau_spread: 0.0", "tau_spread: 5.0", "mismatch.tau_spread", "[0, 2]");
}

#[test]
fn non_finite_tau_spread() {
    // RON does accept `NaN` and `inf` float literals; validation refuses them.
    for literal in ["NaN", "inf"] {
        assert_loihi2_value_error(
            "tau_spread: 0.0",
            &format!("tau_spread: {literal}"),
            "mismatch.tau_spread",
            "a finite number",
        );
    }
}

#[test]
fn nan_set_in_code_is_refused_by_validate() {
    let mut p = HardwareProfile::load("ideal").expect("ideal");
    p.mismatch.tau_spread = f64::NAN;
    match p.validate() {
        Err(ChipError::ProfileValue { origin, field, .. }) => {
            assert_eq!(field, "mismatch.tau_spread");
            assert_eq!(origin, "profile `ideal`");
        }
        other => panic!("expected ProfileValue, got {other:?}"),
    }
}

#[test]
fn state_fraction_bits_larger_than_state_bits_minus_two() {
    // state_bits is 24 and activation_bits 8, so 8..=22 is allowed.
    let ok = edit(loihi2_text(), "state_fraction_bits: 14,", "state_fraction_bits: 22,");
    HardwareProfile::from_ron_str(&ok, "test.ron").expect("22 = state_bits - 2 is allowed");
    assert_loihi2_value_error(
        "state_fraction_bits: 14,",
        "state_fraction_bits: 23,",
        "arithmetic.state_fraction_bits",
        "8..=22",
    );
}

#[test]
fn state_fraction_bits_below_activation_bits() {
    assert_loihi2_value_error(
        "state_fraction_bits: 14,",
        "state_fraction_bits: 7,",
        "arithmetic.state_fraction_bits",
        "8..=22",
    );
}

#[test]
fn trace_bits_larger_than_activation_bits() {
    let ok = edit(loihi2_text(), "trace_bits: 7,", "trace_bits: 8,");
    HardwareProfile::from_ron_str(&ok, "test.ron").expect("trace_bits = activation_bits is allowed");
    assert_loihi2_value_error("trace_bits: 7,", "trace_bits: 9,", "learning.trace_bits", "1..=8");
}

#[test]
fn trace_bits_is_not_checked_on_a_float_profile() {
    // ideal carries `trace_bits: 32`, which is only meaningful for digital cores.
    let p = HardwareProfile::load("ideal").expect("ideal");
    assert_eq!(p.learning.trace_bits, 32);
}

#[test]
fn synapse_gain_spread_on_a_digital_profile() {
    assert_loihi2_value_error(
        "synapse_gain_spread: 0.0",
        "synapse_gain_spread: 0.1",
        "mismatch.synapse_gain_spread",
        "digital",
    );
}

#[test]
fn synapse_gain_spread_is_allowed_on_a_float_profile() {
    let text = edit(ideal_text(), "synapse_gain_spread: 0.0", "synapse_gain_spread: 0.1");
    let p =
        HardwareProfile::from_ron_str(&text, "test.ron").expect("gain mismatch is allowed on float cores");
    assert_eq!(p.mismatch.synapse_gain_spread, 0.1);
    let (field, _, allowed, display) =
        value_error(&edit(ideal_text(), "synapse_gain_spread: 0.0", "synapse_gain_spread: 5.0"));
    assert_eq!(field, "mismatch.synapse_gain_spread", "{display}");
    assert!(allowed.contains("[0, 2]"), "{display}");
}

#[test]
fn weight_exponent_max_below_min() {
    // weight_exponent_min is -8 in loihi2.
    assert_loihi2_value_error(
        "weight_exponent_max: 7,",
        "weight_exponent_max: -9,",
        "arithmetic.weight_exponent_max",
        "-8..=16",
    );
}

#[test]
fn weight_exponent_min_out_of_range() {
    assert_loihi2_value_error(
        "weight_exponent_min: -8,",
        "weight_exponent_min: -17,",
        "arithmetic.weight_exponent_min",
        "-16..=16",
    );
}

#[test]
fn negative_energy() {
    for field in
        ["synaptic_op_pj: 23.6", "synaptic_update_pj: 120.0", "neuron_update_pj: 52.0", "spike_pj: 1.7"]
    {
        let name = field.split(':').next().expect("field name");
        assert_loihi2_value_error(
            field,
            &format!("{name}: -1.0"),
            &format!("energy.{name}"),
            "[0, 1000000000]",
        );
    }
}

#[test]
fn empty_name() {
    for empty in ["\"\"", "\"   \""] {
        let (field, _, allowed, display) =
            value_error(&edit(loihi2_text(), "name: \"loihi2\"", &format!("name: {empty}")));
        assert_eq!(field, "name", "{display}");
        assert!(allowed.contains("non-empty"), "{display}");
    }
}

#[test]
fn zero_core_limits() {
    for (from, to, field) in [
        ("max_neurons: Some(8192)", "max_neurons: Some(0)", "core_limits.max_neurons"),
        ("max_input_axons: Some(4096)", "max_input_axons: Some(0)", "core_limits.max_input_axons"),
        ("max_output_axons: Some(4096)", "max_output_axons: Some(0)", "core_limits.max_output_axons"),
        (
            "synapse_memory_bits: Some(1048576)",
            "synapse_memory_bits: Some(0)",
            "core_limits.synapse_memory_bits",
        ),
    ] {
        assert_loihi2_value_error(from, to, field, "1..=");
    }
}

#[test]
fn synapse_encoding_ranges() {
    assert_loihi2_value_error(
        "group_size: 64,",
        "group_size: 0,",
        "synapse_encoding.group_size",
        "1..=65536",
    );
    assert_loihi2_value_error("word_bits: 64,", "word_bits: 0,", "synapse_encoding.word_bits", "1..=4096");
    assert_loihi2_value_error("delay_bits: 0,", "delay_bits: 17,", "synapse_encoding.delay_bits", "0..=16");
}

#[test]
fn other_digital_widths() {
    for (from, to, field, allowed) in [
        ("state_bits: 24,", "state_bits: 33,", "arithmetic.state_bits", "8..=32"),
        ("activation_bits: 8,", "activation_bits: 0,", "arithmetic.activation_bits", "1..=16"),
        ("input_bits: 8,", "input_bits: 17,", "arithmetic.input_bits", "1..=16"),
        ("accumulator_bits: 22,", "accumulator_bits: 41,", "arithmetic.accumulator_bits", "8..=40"),
        ("decay_bits: 12,", "decay_bits: 0,", "arithmetic.decay_bits", "1..=16"),
        ("bias_bits: 13,", "bias_bits: 1,", "arithmetic.bias_bits", "2..=24"),
        ("nudge_fraction_bits: 12,", "nudge_fraction_bits: 0,", "arithmetic.nudge_fraction_bits", "1..=16"),
        (
            "synaptic_input_shift: 6,",
            "synaptic_input_shift: -1,",
            "arithmetic.synaptic_input_shift",
            "0..=16",
        ),
    ] {
        assert_loihi2_value_error(from, to, field, allowed);
    }
}

#[test]
fn validate_names_the_profile_when_built_in_code() {
    let mut p = HardwareProfile::load("loihi2").expect("loihi2");
    p.chip.cores = 0;
    let err = p.validate().expect_err("0 cores is invalid");
    let display = err.to_string();
    assert!(display.starts_with("profile `loihi2`: field `chip.cores` = 0"), "{display}");
}
