//! The one number formatter of every report (summary, diff, flamegraph titles, compare,
//! convergence): bytes in binary units, counts with separators, durations, relative changes
//! and shares.

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

/// An unsigned byte figure, as [`format_bytes`] (beyond `i64::MAX`: as `i64::MAX`).
pub(crate) fn format_size(bytes: u64) -> String {
    format_bytes(i64::try_from(bytes).unwrap_or(i64::MAX))
}

/// A count with an explicit sign: `+5`, `-1,234`, `0`.
pub(crate) fn format_signed_count(n: i128) -> String {
    let magnitude = format_count(u64::try_from(n.unsigned_abs()).unwrap_or(u64::MAX));
    match n.signum() {
        1 => format!("+{magnitude}"),
        -1 => format!("-{magnitude}"),
        _ => magnitude,
    }
}

/// Bytes with an explicit sign: `+1.50 KiB`, `-2.00 KiB`, `0 B`.
pub(crate) fn format_signed_bytes(n: i128) -> String {
    let b = format_bytes(i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX }));
    if n > 0 {
        format!("+{b}")
    } else {
        b
    }
}

/// Mebibytes with two decimals, no unit (the gap table's column): `-1.00`.
pub(crate) fn format_mib(n: i64) -> String {
    format!("{:.2}", to_mib(n))
}

/// Bytes as MiB, for tables that set their own width and precision.
pub(crate) fn to_mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A duration given in nanoseconds: `850 ns`, then as [`format_seconds`].
pub(crate) fn format_duration_ns(ns: u64) -> String {
    if ns < 1_000 {
        format!("{ns} ns")
    } else {
        format_seconds(ns as f64 / 1e9)
    }
}

/// `part` as a share of `whole`: `25.0%`; `-` when `whole` is 0.
pub(crate) fn format_share(part: f64, whole: f64) -> String {
    if whole == 0.0 {
        "-".to_string()
    } else {
        format!("{:.1}%", 100.0 * part / whole)
    }
}

/// A moment in milliseconds since the Unix epoch, in UTC to the second:
/// `2026-11-30 19:05:07 UTC`.
pub(crate) fn format_unix_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
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
        assert_eq!(format_size(1536), "1.50 KiB");
        assert_eq!(format_signed_bytes(-2048), "-2.00 KiB");
        assert_eq!(format_signed_bytes(1536), "+1.50 KiB");
        assert_eq!(format_mib(-1024 * 1024), "-1.00");
    }

    #[test]
    fn counts() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(3_000_012), "3,000,012");
        assert_eq!(format_count(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(format_signed_count(-1234), "-1,234");
        assert_eq!(format_signed_count(5), "+5");
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
        assert_eq!(format_duration_ns(850), "850 ns");
        assert_eq!(format_duration_ns(3_400_000), "3.4 ms");
        assert_eq!(format_share(1.0, 4.0), "25.0%");
        assert_eq!(format_share(1.0, 0.0), "-");
        assert_eq!(format_unix_ms(0), "1970-01-01 00:00:00 UTC");
        // `date -u -d @1796065507` says Mon Nov 30 19:05:07 UTC 2026.
        assert_eq!(format_unix_ms(1_796_065_507_999), "2026-11-30 19:05:07 UTC");
        assert_eq!(format_unix_ms(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
