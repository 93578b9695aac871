//! Number and text formatting shared by the plots and the HTML page: the placeholder for missing
//! values, axis numbers, truncation and HTML escaping.

/// Placeholder for a missing or non-finite value.
pub(super) const MISSING: &str = "—";

/// A number for axis labels and headings: at most 4 decimals, trailing zeros removed.
pub(super) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let s = format!("{v:.4}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// Shortens `s` to at most `max_chars` characters, ending with "…" if it was cut.
pub(super) fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let keep = max_chars.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

/// HTML-escapes text for element content and attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
