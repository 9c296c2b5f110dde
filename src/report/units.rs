//! Number formatting shared by the text reports: counts with thousands separators, bytes
//! in binary units, durations in the unit that fits.

/// `1234567` → `"1,234,567"`.
pub fn count(n: u64) -> String {
    crate::model::units::format_count(n)
}

/// A signed count with an explicit sign: `"+1,234"`, `"-5"`, `"0"`.
pub fn signed_count(n: i128) -> String {
    let magnitude = count(u64::try_from(n.unsigned_abs()).unwrap_or(u64::MAX));
    match n.signum() {
        1 => format!("+{magnitude}"),
        -1 => format!("-{magnitude}"),
        _ => magnitude,
    }
}

/// Bytes in binary units: `"512 B"`, `"1.5 KiB"`, `"12.3 MiB"`, `"1.20 GiB"`.
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let x = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if x < KIB * KIB {
        format!("{:.1} KiB", x / KIB)
    } else if x < KIB * KIB * KIB {
        format!("{:.1} MiB", x / (KIB * KIB))
    } else {
        format!("{:.2} GiB", x / (KIB * KIB * KIB))
    }
}

/// Signed bytes in binary units with an explicit sign.
pub fn signed_bytes(n: i128) -> String {
    let magnitude = bytes(u64::try_from(n.unsigned_abs()).unwrap_or(u64::MAX));
    match n.signum() {
        1 => format!("+{magnitude}"),
        -1 => format!("-{magnitude}"),
        _ => magnitude,
    }
}

/// Bytes as MiB with two decimals (may be negative).
pub fn mib(n: i64) -> String {
    format!("{:.2}", n as f64 / (1024.0 * 1024.0))
}

/// A duration in nanoseconds in the unit that fits: `"850 ns"`, `"12.0 µs"`, `"3.4 ms"`,
/// `"1.2 s"`.
pub fn duration_ns(ns: u64) -> String {
    let x = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", x / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", x / 1e6)
    } else {
        format!("{:.1} s", x / 1e9)
    }
}

/// `part / whole` as a percentage with one decimal, or `"-"` when `whole` is zero.
pub fn percent(part: f64, whole: f64) -> String {
    if whole == 0.0 {
        "-".to_string()
    } else {
        format!("{:.1}%", 100.0 * part / whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(signed_count(-1234), "-1,234");
        assert_eq!(signed_count(5), "+5");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(signed_bytes(-2048), "-2.0 KiB");
        assert_eq!(mib(-1024 * 1024), "-1.00");
        assert_eq!(duration_ns(850), "850 ns");
        assert_eq!(duration_ns(3_400_000), "3.4 ms");
        assert_eq!(percent(1.0, 4.0), "25.0%");
        assert_eq!(percent(1.0, 0.0), "-");
    }
}
