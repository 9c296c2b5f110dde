//! A dependency of the `namecheck` fixture: an out-of-line function that allocates, and small
//! functions that get inlined into it (their DWARF names are short in line-tables-only builds).

pub mod version {
    /// A parsed version.
    pub struct Version {
        pub parts: Vec<u64>,
        pub label: String,
    }

    impl Version {
        /// Not inlined: named from the symbol table.
        #[inline(never)]
        pub fn parse(s: &str) -> Version {
            let parts = s.split('.').filter_map(|p| p.parse().ok()).collect();
            Version {
                parts,
                label: make_label(s),
            }
        }
    }

    /// Inlined into `parse`: DWARF gives it only its short name.
    #[inline(always)]
    fn make_label(s: &str) -> String {
        let mut l = String::with_capacity(s.len() + 8);
        l.push('v');
        l.push_str(s);
        l
    }
}
