//! Times after programming at which a deployed network is evaluated: `0`, `90s`, `15min`, `1h`,
//! `1d`, `30d`, `1y`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{EpError, Result};

/// Seconds per unit of a drift time.
const UNITS: [(&str, f64); 6] =
    [("s", 1.0), ("min", 60.0), ("h", 3600.0), ("d", 86_400.0), ("w", 604_800.0), ("y", 31_557_600.0)];

/// One time after programming, as written and in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftTime {
    /// As given (`1d`).
    pub label: String,
    /// In seconds (a year is 365.25 days).
    pub seconds: f64,
}

impl FromStr for DriftTime {
    type Err = EpError;

    fn from_str(text: &str) -> Result<Self> {
        let t = text.trim();
        let bad = || EpError::InvalidParameter {
            field: "drift".into(),
            value: text.into(),
            allowed: "times after programming: a number with a unit s, min, h, d, w or y (0, 90s, 1h, 1d, \
                      30d, 1y), up to 100 years"
                .into(),
        };
        let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        let scale = if unit.is_empty() {
            1.0
        } else {
            UNITS.iter().find(|(u, _)| *u == unit).map(|(_, s)| *s).ok_or_else(bad)?
        };
        let seconds = value * scale;
        if !(seconds.is_finite() && (0.0..=100.0 * 31_557_600.0).contains(&seconds)) {
            return Err(bad());
        }
        Ok(Self { label: t.to_string(), seconds })
    }
}

impl fmt::Display for DriftTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// Parses a comma-separated list of drift times.
pub fn parse_drift_times(text: &str) -> Result<Vec<DriftTime>> {
    text.split(',').filter(|p| !p.trim().is_empty()).map(str::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_to_seconds_and_bad_times_are_refused() {
        let times = parse_drift_times("0,90s,15min,1h,1d,30d,1y").unwrap_or_else(|e| panic!("{e}"));
        let seconds: Vec<f64> = times.iter().map(|t| t.seconds).collect();
        assert_eq!(seconds, vec![0.0, 90.0, 900.0, 3600.0, 86_400.0, 2_592_000.0, 31_557_600.0]);
        assert_eq!(times[4].label, "1d");
        for bad in ["-1h", "1 fortnight", "h", "1e9y", "nan"] {
            let e = bad.parse::<DriftTime>().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("min, h, d"), "{bad}: {e}");
        }
    }
}
