//! Size classes, following jemalloc's table.
//!
//! jemalloc 5.3 rounds every request up to a size class: 8, 16, 32, 48, …, 128 (steps of
//! 16), then four classes per doubling (160, 192, 224, 256, 320, …) up to the largest small
//! class (14336 with 4 KiB pages, i.e. 3.5 pages); above that, with
//! `opt.disable_large_size_classes` (on by default in 5.3.1), a request is rounded to whole
//! pages. allocscope counts blocks per class of this table whatever the inner allocator is,
//! so the bytes lost to rounding are known per class.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Number of classes tracked: 9 up to 128 bytes, then 4 per doubling up to 2^40 bytes; larger
/// blocks share the last class.
pub const NUM_CLASSES: usize = 9 + 4 * (MAX_LG - 7);
const MAX_LG: usize = 40;

/// One size class of jemalloc's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SizeClass {
    index: usize,
}

impl SizeClass {
    /// The class a block of usable size `usable` belongs to (`usable` ≥ 1).
    #[inline]
    pub fn of_usable(usable: usize) -> SizeClass {
        SizeClass {
            index: class_index(usable),
        }
    }

    /// The class of a request, taking alignment into account as jemalloc does.
    #[inline]
    pub fn of_request(size: usize, align: usize) -> SizeClass {
        SizeClass::of_usable(usable_size(size, align))
    }

    /// Position in the table, from 0.
    #[inline]
    pub fn index(self) -> usize {
        self.index
    }

    /// The class at position `index`, if it exists.
    pub fn from_index(index: usize) -> Option<SizeClass> {
        (index < NUM_CLASSES).then_some(SizeClass { index })
    }

    /// The largest usable size of a block in this class.
    #[inline]
    pub fn size(self) -> u64 {
        class_size(self.index)
    }
}

/// Largest request size served by [`CLASS_OF_SMALL`].
const LOOKUP_MAX: usize = 4096;

/// Class index of every request size up to [`LOOKUP_MAX`], indexed by `(size + 7) / 8`,
/// as jemalloc's own `sz_size2index_tab`: one load on the hot path.
static CLASS_OF_SMALL: [u8; LOOKUP_MAX / 8 + 1] = {
    let mut t = [0u8; LOOKUP_MAX / 8 + 1];
    let mut i = 0;
    while i < t.len() {
        t[i] = class_index(i * 8) as u8;
        i += 1;
    }
    t
};

/// The class index of a request, and whether its usable size is a whole number of pages
/// (a large class, whose blocks are not all of the class's size). The hot path's entry.
#[inline(always)]
pub(crate) fn class_of_request(size: usize, align: usize) -> (usize, bool) {
    if let Some(c) = small_class_of_request(size, align) {
        return (c, false);
    }
    class_of_request_slow(size, align)
}

/// The class index of a small request (up to 4 KiB, alignment up to 16) from the lookup
/// table, whose blocks all fill their class; `None` for any other request. One load.
#[inline(always)]
pub(crate) fn small_class_of_request(size: usize, align: usize) -> Option<usize> {
    // Classes above 8 bytes are multiples of 16: an alignment up to 16 that the size already
    // reaches cannot change the class.
    if align <= 16 && size >= align && size <= LOOKUP_MAX {
        if let Some(&c) = CLASS_OF_SMALL.get((size + 7) >> 3) {
            return Some(c as usize);
        }
    }
    None
}

/// Largest request size the hot path counts per exact size (see [`class_of_small_size`]).
pub(crate) const BY_SIZE_MAX: usize = LOOKUP_MAX;

/// The class of a request of `size` ≤ [`BY_SIZE_MAX`] bytes aligned to at most 8: it depends
/// on the size alone, since every class is a multiple of 8 (an alignment up to 8 never
/// rounds a request past its class; a request of 0 bytes gets the smallest class, as
/// [`usable_size`] rounds it to 1). The hot path counts such requests per exact size and
/// readers fold the counts into classes with this.
#[inline]
pub(crate) fn class_of_small_size(size: usize) -> usize {
    class_index(size)
}

#[cold]
fn class_of_request_slow(size: usize, align: usize) -> (usize, bool) {
    let usable = usable_size(size, align);
    (
        class_index(usable),
        usable > small_max() || align >= page_size(),
    )
}

/// Index of the class whose upper bound is the smallest one ≥ `s`.
#[inline]
const fn class_index(s: usize) -> usize {
    if s <= 8 {
        return 0;
    }
    if s <= 128 {
        return s.div_ceil(16);
    }
    // `s - 1 >= 128`: `lg >= 7` below.
    let x = s - 1;
    let lg = (usize::BITS - 1 - x.leading_zeros()) as usize; // 2^lg <= x < 2^(lg+1), lg >= 7
    if lg >= MAX_LG {
        return NUM_CLASSES - 1;
    }
    let within = (x >> (lg - 2)) & 3;
    9 + (lg - 7) * 4 + within
}

/// Upper bound of class `index`.
#[inline]
fn class_size(index: usize) -> u64 {
    match index {
        0 => 8,
        1..=8 => 16 * index as u64,
        _ => {
            let g = ((index - 9) / 4) as u32;
            let k = ((index - 9) % 4) as u64;
            (1u64 << (7 + g)) + (k + 1) * (1u64 << (5 + g))
        }
    }
}

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The system page size (read once with `sysconf`, which does not allocate).
#[inline]
pub fn page_size() -> usize {
    let p = PAGE_SIZE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: sysconf has no preconditions and does not allocate.
    let raw = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let p = if raw > 0 { raw as usize } else { 4096 };
    PAGE_SIZE.store(p, Ordering::Relaxed);
    p
}

/// The largest small class: 3.5 pages (14336 bytes with 4 KiB pages).
#[inline]
pub fn small_max() -> usize {
    page_size() / 2 * 7
}

/// The usable size jemalloc gives a request of `size` bytes aligned to `align`:
/// small requests are rounded to their class (after rounding up to the alignment); larger
/// ones to whole pages.
#[inline]
pub fn usable_size(size: usize, align: usize) -> usize {
    let size = size.max(1);
    let page = page_size();
    let aligned = if align > 8 {
        size.saturating_add(align - 1) & !(align - 1)
    } else {
        size
    };
    if align < page && aligned <= small_max() {
        class_size(class_index(aligned)) as usize
    } else {
        let s = aligned.max(size);
        s.saturating_add(page - 1) & !(page - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as jemalloc 5.3 documents it, written out by hand.
    const JEMALLOC_SMALL: &[u64] = &[
        8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896,
        1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288,
        14336,
    ];

    #[test]
    fn class_sizes_match_jemalloc_table() {
        for (i, &want) in JEMALLOC_SMALL.iter().enumerate() {
            assert_eq!(class_size(i), want, "class {i}");
        }
    }

    #[test]
    fn every_size_maps_to_smallest_class_that_fits() {
        // Naive reference: walk the table.
        for s in 1..=20000usize {
            let idx = class_index(s);
            assert!(class_size(idx) >= s as u64, "size {s}");
            if idx > 0 {
                assert!(class_size(idx - 1) < s as u64, "size {s} not smallest");
            }
        }
    }

    #[test]
    fn lookup_agrees_with_usable_size() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in 1..=20000usize {
                let (idx, large) = class_of_request(size, align);
                let usable = usable_size(size, align);
                assert_eq!(idx, class_index(usable), "size {size} align {align}");
                assert_eq!(
                    large,
                    usable > small_max() || align >= page_size(),
                    "size {size} align {align}"
                );
                if !large {
                    assert_eq!(
                        usable as u64,
                        class_size(idx),
                        "small blocks fill their class"
                    );
                }
            }
        }
    }

    #[test]
    fn class_of_small_size_ignores_alignment_up_to_8() {
        for align in [1, 2, 4, 8] {
            for size in 0..=BY_SIZE_MAX {
                let want = class_index(usable_size(size, align));
                assert_eq!(class_of_small_size(size), want, "size {size} align {align}");
                assert_eq!(
                    usable_size(size, align) as u64,
                    class_size(want),
                    "size {size} align {align}: small blocks fill their class"
                );
            }
        }
    }

    #[test]
    fn usable_follows_jemalloc_rounding() {
        if page_size() != 4096 {
            return; // the hand-written figures below assume 4 KiB pages
        }
        assert_eq!(usable_size(1, 1), 8);
        assert_eq!(usable_size(17, 8), 32);
        assert_eq!(usable_size(100, 8), 112);
        assert_eq!(usable_size(14336, 8), 14336);
        assert_eq!(usable_size(14337, 8), 16384);
        assert_eq!(usable_size(20000, 8), 20480);
        assert_eq!(usable_size(48, 32), 64);
        assert_eq!(usable_size(16, 4096), 4096);
    }
}
