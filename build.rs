//! Detects whether this build has frame pointers (`-C force-frame-pointers=yes` in the
//! rustflags), so call-site capture can default to the fast frame-pointer walk.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(allocscope_frame_pointers)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut on = false;
    for flag in flags.split('\x1f') {
        let flag = flag.trim_start_matches("-C").trim();
        if let Some(rest) = flag.strip_prefix("force-frame-pointers") {
            on = matches!(rest, "" | "=yes" | "=y" | "=on" | "=true");
        }
    }
    if on {
        println!("cargo::rustc-cfg=allocscope_frame_pointers");
    }
}
