//! The profile's `sites` and `addresses` written as JSON by hand, for the exit write.
//!
//! serde_json's generic serializer was half of the exit's instructions (a call per key and
//! per number; docs/symbolization.md). These tables are numbers under fixed keys, so they are
//! written here with `itoa`, byte for byte what serde_json writes for a [`CallSite`] (field
//! order, `skip_serializing_if`, `null` for `None`; the tests below compare the two). Frames
//! (strings that may need escaping) still go through serde_json; at exit only the rare
//! `[unknown]` sites have any.

use crate::model::profile::CallSite;

/// Appends the decimal digits of `v`.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, v: u64) {
    // A single digit (most figures of a site are 0 or 1) without the copy of a
    // variable-length string.
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `key` (the literal bytes `,"name":`) and `v`.
#[inline]
fn field(out: &mut Vec<u8>, key: &[u8], v: u64) {
    out.extend_from_slice(key);
    push_u64(out, v);
}

/// Appends `site` as serde_json writes it (compact).
pub(crate) fn push_site(out: &mut Vec<u8>, site: &CallSite) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"frames\":");
    if site.frames.is_empty() {
        out.extend_from_slice(b"[]");
    } else {
        serde_json::to_writer(&mut *out, &site.frames)?;
    }
    // `#[serde(skip_serializing_if = "Vec::is_empty")]`.
    if !site.stack.is_empty() {
        out.extend_from_slice(b",\"stack\":[");
        push_u32s(out, &site.stack);
        out.push(b']');
    }
    field(out, b",\"allocs\":", site.allocs);
    field(out, b",\"bytes\":", site.bytes);
    field(out, b",\"live_blocks\":", site.live_blocks);
    field(out, b",\"live_bytes\":", site.live_bytes);
    field(out, b",\"peak_bytes\":", site.peak_bytes);
    field(out, b",\"slack_bytes\":", site.slack_bytes);
    field(out, b",\"samples\":", site.samples);
    out.extend_from_slice(b",\"size_classes\":[");
    for (i, c) in site.size_classes.iter().enumerate() {
        if i != 0 {
            out.push(b',');
        }
        field(out, b"{\"size\":", c.size);
        field(out, b",\"allocs\":", c.allocs);
        out.push(b'}');
    }
    let l = &site.lifetimes;
    field(out, b"],\"lifetimes\":{\"freed\":", l.freed);
    field(out, b",\"under_1us\":", l.under_1us);
    field(out, b",\"under_1ms\":", l.under_1ms);
    field(out, b",\"under_1s\":", l.under_1s);
    out.extend_from_slice(b",\"median_ns\":");
    match l.median_ns {
        Some(m) => push_u64(out, m),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    // `#[serde(skip_serializing_if = "Option::is_none")]`; a path may need escaping.
    if let Some(span) = &site.span {
        out.extend_from_slice(b",\"span\":");
        serde_json::to_writer(&mut *out, span)?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends `vs` separated by commas.
fn push_u32s(out: &mut Vec<u8>, vs: &[u32]) {
    for (i, &v) in vs.iter().enumerate() {
        if i != 0 {
            out.push(b',');
        }
        push_u64(out, u64::from(v));
    }
}

/// Writes `[a,b,...]` of `addresses` to `w` through `buf` (reused; flushed every 64 KiB).
pub(crate) fn write_u64_array(
    w: &mut impl std::io::Write,
    buf: &mut Vec<u8>,
    addresses: &[u64],
) -> std::io::Result<()> {
    buf.clear();
    buf.push(b'[');
    for (i, &a) in addresses.iter().enumerate() {
        if i != 0 {
            buf.push(b',');
        }
        push_u64(buf, a);
        if buf.len() >= 64 * 1024 {
            w.write_all(buf)?;
            buf.clear();
        }
    }
    buf.push(b']');
    w.write_all(buf)?;
    buf.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{Frame, Lifetimes, SiteSizeClass};

    fn site(frames: Vec<Frame>, stack: Vec<u32>, median: Option<u64>, classes: usize) -> CallSite {
        CallSite {
            frames,
            stack,
            allocs: 3,
            bytes: u64::MAX,
            live_blocks: 0,
            live_bytes: 12_345_678_901,
            peak_bytes: 7,
            slack_bytes: 10,
            samples: 1,
            size_classes: (0..classes as u64)
                .map(|i| SiteSizeClass {
                    size: 8 << i,
                    allocs: i * 1000 + 1,
                })
                .collect(),
            lifetimes: Lifetimes {
                freed: 5,
                under_1us: 1,
                under_1ms: 2,
                under_1s: 4,
                median_ns: median,
            },
            span: None,
        }
    }

    /// The hand-written JSON is serde_json's, byte for byte (readers, golden files).
    #[test]
    fn sites_are_written_as_serde_writes_them() {
        let frame = Frame {
            function: "a \"quoted\" \\ name\n\u{1}é".to_string(),
            file: Some("src/x.rs".to_string()),
            line: Some(3),
            addr: 0x55_0000_1234,
            inlined: true,
        };
        let unknown = Frame {
            function: "[unknown]".to_string(),
            file: None,
            line: None,
            addr: 0,
            inlined: false,
        };
        let cases = [
            site(Vec::new(), vec![0, 1, 4_000_000_000], Some(1500), 3),
            site(Vec::new(), vec![7], None, 0),
            site(vec![unknown], Vec::new(), None, 1),
            site(vec![frame.clone(), frame], vec![2, 3], Some(0), 2),
            CallSite {
                span: Some("request{route=\"/a\"} > parse".to_string()),
                ..site(Vec::new(), vec![5], Some(9), 1)
            },
        ];
        for s in &cases {
            let mut out = Vec::new();
            push_site(&mut out, s).unwrap();
            let want = serde_json::to_vec(s).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&want)
            );
        }
    }

    #[test]
    fn addresses_are_written_as_serde_writes_them() {
        for n in [0usize, 1, 2, 11, 20_000] {
            let a: Vec<u64> = (0..n as u64)
                .map(|i| {
                    if i < 11 {
                        i
                    } else {
                        0x5555_0000_0000 + i * 977
                    }
                })
                .chain((n > 0).then_some(u64::MAX))
                .collect();
            let mut out = Vec::new();
            let mut buf = Vec::new();
            write_u64_array(&mut out, &mut buf, &a).unwrap();
            assert_eq!(out, serde_json::to_vec(&a).unwrap());
        }
    }
}
