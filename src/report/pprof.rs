//! Export as a gzipped pprof heap profile (`profile.proto`), readable by `go tool pprof`.
//!
//! The encoder is defined once, beside the profile, because the HTTP endpoints (feature
//! `http`) serve it without the CLI; see its documentation there for the sample types, the
//! period and the mappings.

pub use crate::analysis::pprof::{proto, to_pprof_gz, to_proto};
