//! Human-readable figures for reports: bytes in binary units, counts with separators,
//! durations, relative changes.

/// `+71%`, `-18%`, `+0.4%`, `±0%`.
pub(crate) fn format_percent(change: f64) -> String {
    let pct = change * 100.0;
    if pct.abs() < 0.05 {
        "±0%".into()
    } else if pct.abs() < 9.95 {
        format!("{pct:+.1}%")
    } else {
        format!("{pct:+.0}%")
    }
}

/// `812 B`, `3.2 KiB`, `45.0 MiB`, `1.25 GiB` (binary units, three significant digits from
/// KiB up); negative values keep their sign.
pub(crate) fn format_bytes(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let sign = if bytes < 0 { "-" } else { "" };
    let abs = bytes.unsigned_abs();
    if abs < 1024 {
        return format!("{sign}{abs} B");
    }
    let mut v = abs as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{sign}{v:.digits$} {}", UNITS[unit])
}

/// `3,000,012`.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `1.23 s`, `45.6 ms`, `120 µs`.
pub(crate) fn format_seconds(s: f64) -> String {
    let a = s.abs();
    if a >= 1.0 {
        format!("{s:.2} s")
    } else if a >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.00 KiB");
        assert_eq!(format_bytes(45 * 1024 * 1024), "45.0 MiB");
        assert_eq!(format_bytes(-3 * 1024 * 1024 / 2), "-1.50 MiB");
        assert_eq!(format_bytes(300 << 30), "300 GiB");
        assert_eq!(format_bytes(i64::MIN), "-8.00 EiB");
    }

    #[test]
    fn counts() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(3_000_012), "3,000,012");
        assert_eq!(format_count(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn seconds_and_percent() {
        assert_eq!(format_seconds(1.234), "1.23 s");
        assert_eq!(format_seconds(0.0456), "45.6 ms");
        assert_eq!(format_seconds(0.00012), "120 µs");
        assert_eq!(format_percent(0.71), "+71%");
        assert_eq!(format_percent(-0.183), "-18%");
        assert_eq!(format_percent(0.004), "+0.4%");
        assert_eq!(format_percent(0.0), "±0%");
    }
}
