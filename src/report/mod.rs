//! The report side of allocscope: what `alloc-report` makes of a profile file.

pub mod compare;
pub mod html;
