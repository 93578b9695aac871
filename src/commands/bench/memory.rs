//! Peak resident memory of this process (Linux: `VmHWM` in /proc/self/status).

/// The process's peak resident set size in KiB so far, if the system reports it.
pub fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// The `VmHWM:` line of a /proc status text, in KiB.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
}

/// A peak in KiB as MiB for tables (`n/a` when unknown).
pub fn format_mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".to_string(), |k| format!("{:.0}", k as f64 / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark() {
        let text = "Name:\tepchip\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm(text), Some(12345));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
        assert_eq!(format_mib(Some(2048)), "2");
        assert_eq!(format_mib(None), "n/a");
    }
}
