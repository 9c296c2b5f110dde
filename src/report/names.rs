//! Frame names as users know them: demangled, without hash suffixes, safe in folded stacks;
//! and the one definition of the frames reports leave out ([`trim_frames`]).
//!
//! The profiler already stores demangled names without the `::h0123…` hash, but a profile
//! written by another tool or by hand may not, so every name goes through [`display_name`].

use std::borrow::Cow;

// The one definition of names and of trimming lives beside the profile (the call-site
// tests, trimming and the pprof encoder use them without the CLI); reports reach it here.
pub use crate::analysis::names::{display_name, function_name};
pub use crate::analysis::trim::{
    is_call_shim, is_entry, is_plumbing, is_plumbing_file, trim_frames, trim_profile,
};

/// Makes a frame name safe inside a folded-stacks line (`root;…;leaf COUNT`): a `;` would
/// split the frame in two (`[u8; 8]`), so it becomes `:`; control characters (line breaks,
/// tabs) become spaces.
pub fn sanitize_for_folded(name: &str) -> Cow<'_, str> {
    if !name.chars().any(|c| c == ';' || c.is_control()) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(
        name.chars()
            .map(|c| match c {
                ';' => ':',
                c if c.is_control() => ' ',
                c => c,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_legacy_and_strips_hash() {
        assert_eq!(
            function_name("_ZN7kvstore5cache5Cache3get17h0123456789abcdefE"),
            "kvstore::cache::Cache::get"
        );
        assert_eq!(
            function_name("kvstore::log::Logger::write::h0123456789abcdef"),
            "kvstore::log::Logger::write"
        );
        // Not a hash: too short, or not hex.
        assert_eq!(function_name("a::h0123"), "a::h0123");
        assert_eq!(
            function_name("a::hxyz3456789abcdef0"),
            "a::hxyz3456789abcdef0"
        );
        assert_eq!(function_name("  "), "?");
    }

    #[test]
    fn sanitizes_semicolons_and_line_breaks() {
        assert_eq!(
            sanitize_for_folded("<smallvec::SmallVec<[u8; 8]>>::push"),
            "<smallvec::SmallVec<[u8: 8]>>::push"
        );
        assert_eq!(sanitize_for_folded("a\nb\tc"), "a b c");
        assert!(matches!(sanitize_for_folded("plain"), Cow::Borrowed(_)));
    }
}
