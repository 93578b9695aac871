//! The one error type of chip-model.

/// Everything the emulated chip can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    /// A profile file could not be read from disk.
    #[error("cannot read profile {path}")]
    ProfileIo {
        /// Path as given.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },

    /// A profile is not valid RON or does not match the schema.
    #[error("{origin}:{line}:{column}: {message}")]
    ProfileSyntax {
        /// File path or embedded profile name.
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser expected.
        message: String,
    },

    /// A profile field has a value outside its allowed range.
    #[error("{origin}: field `{field}` = {value} is not allowed: {allowed}")]
    ProfileValue {
        /// File path or embedded profile name.
        origin: String,
        /// Dotted path of the field, e.g. `arithmetic.weight_bits`.
        field: String,
        /// The value found.
        value: String,
        /// What is allowed.
        allowed: String,
    },

    /// No embedded profile has this name and no file exists at this path.
    #[error("unknown profile `{name}`: not a file and not one of the built-in profiles ({known})")]
    UnknownProfile {
        /// The name that was asked for.
        name: String,
        /// Comma-separated built-in names.
        known: String,
    },

    /// A resource limit of a core or of the chip would be exceeded.
    #[error("{what} on core {core}: needs {needed}, the profile allows {limit}")]
    CoreLimit {
        /// Which limit (neurons, input axons, synapse memory bits, ...).
        what: String,
        /// The core index.
        core: usize,
        /// How much would be needed.
        needed: u64,
        /// The profile's limit.
        limit: u64,
    },

    /// A request to the chip does not make sense (wrong shape, unknown id, bad value).
    #[error("invalid chip configuration: {0}")]
    InvalidConfig(String),
}

/// Result alias for chip-model.
pub type Result<T> = std::result::Result<T, ChipError>;
