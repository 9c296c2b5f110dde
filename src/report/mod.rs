//! The report side of allocscope (`alloc-report`).

pub mod compare;
