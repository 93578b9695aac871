//! The hardware profiles shipped inside the binary, so `--profile loihi2` works from any directory.

/// Names of the built-in profiles.
pub const BUILTIN_PROFILE_NAMES: &[&str] = &["ideal", "loihi2", "loihi1", "analog-rram", "mixed-signal"];

/// The RON text of a built-in profile, by name.
pub fn builtin_profile_text(name: &str) -> Option<&'static str> {
    match name {
        "ideal" => Some(include_str!("../../../hardware-profiles/ideal.ron")),
        "loihi2" => Some(include_str!("../../../hardware-profiles/loihi2.ron")),
        "loihi1" => Some(include_str!("../../../hardware-profiles/loihi1.ron")),
        "analog-rram" => Some(include_str!("../../../hardware-profiles/analog-rram.ron")),
        "mixed-signal" => Some(include_str!("../../../hardware-profiles/mixed-signal.ron")),
        _ => None,
    }
}
